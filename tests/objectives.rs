//! The shipped objective files load and match the dataset.

use plastifit::objective::Objective;
use std::path::Path;

#[test]
fn shipped_objectives_load_and_name_dataset_protocols() {
    let table = plastifit::protocol::embedded_protocols().unwrap();
    for (file, n) in [("objectives/chindemi2022.json", 100), ("objectives/quick.json", 20)] {
        let o = Objective::load(Path::new(file)).unwrap();
        o.check_protocols(&table).unwrap();
        assert_eq!(o.connections_per_protocol, n);
        assert_eq!(
            o.protocol_ids(),
            ["mrk97_01", "mrk97_02", "mrk97_07", "mrk97_08", "sjh06_02"]
        );
        assert_eq!(o.weights(), [0.125, 0.125, 0.25, 0.25, 0.25]);
        assert_eq!(o.free_names().len(), 11);
        assert_eq!(o.heldout.len() + o.protocols.len(), table.len());
    }
}

#[test]
fn shipped_synthetic_objective_uses_the_synthetic_engine() {
    let table = plastifit::protocol::embedded_protocols().unwrap();
    let o = Objective::load(Path::new("objectives/synthetic.json")).unwrap();
    o.check_protocols(&table).unwrap();
    assert_eq!(o.engine, plastifit::objective::EngineKind::Synthetic);
    assert_eq!(o.free_names().len(), 11);
}
