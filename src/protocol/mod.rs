//! In-vitro protocols: the published table ([`table`]); the protocol runner
//! (stimulus timing, EPSP measures) lives beside it.

pub mod table;

pub use table::{
    embedded_protocols, load_protocols, load_protocols_checked, parse_protocols,
    parse_protocols_checked, InVitroProtocol, Manipulation, Measure, PROTOCOL_COLUMNS,
};
