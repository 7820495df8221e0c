//! Helpers shared by the dataset and connection-file tests.

use plastifit::Error;

/// `text` with the cell of data row `row` (0-based) in `column` replaced.
pub fn edit(text: &str, row: usize, column: &str, value: &str) -> String {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let col = header.iter().position(|h| h == column).unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.unwrap();
        let fields: Vec<&str> = rec
            .iter()
            .enumerate()
            .map(|(j, f)| if i == row && j == col { value } else { f })
            .collect();
        w.write_record(&fields).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// Asserts a row error naming the file, row and column, with `words` in its message.
pub fn assert_data_error(
    result: Result<impl std::fmt::Debug, Error>,
    file: &str,
    row: usize,
    column: &str,
    words: &str,
) {
    let err = result.expect_err("the malformed input must be rejected");
    match &err {
        Error::Data {
            file: f,
            row: r,
            column: c,
            ..
        } => {
            assert_eq!(f.to_str().unwrap(), file, "{err}");
            assert_eq!(*r, row, "{err}");
            assert_eq!(c, column, "{err}");
        }
        other => panic!("expected a row error, got: {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(file), "{msg}");
    assert!(msg.contains(&format!("row {row}")), "{msg}");
    assert!(msg.contains(&format!("'{column}'")), "{msg}");
    assert!(msg.contains(words), "message lacks '{words}': {msg}");
}

/// Asserts a file-level error naming the file, with `words` in its message.
pub fn assert_file_error(result: Result<impl std::fmt::Debug, Error>, file: &str, words: &str) {
    let err = result.expect_err("the malformed input must be rejected");
    assert!(matches!(err, Error::File { .. }), "expected a file error: {err}");
    let msg = err.to_string();
    assert!(msg.contains(file) && msg.contains(words), "{msg}");
}
