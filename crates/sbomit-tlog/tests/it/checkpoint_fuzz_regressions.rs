//! Checkpoint texts the `checkpoint` fuzz target found (testdata/fuzz-regressions/checkpoint).
#![allow(clippy::unwrap_used)]

use sbomit_tlog::checkpoint::{Checkpoint, NoteError};

const ROOT_B64: &str = "wxoLZqHmTwqFK4tZniZnIQkxhZbFVTCZxBw224fHdpI=";

#[test]
fn checkpoint_parse_refuses_control_characters_that_to_text_refuses() {
    // The fuzzer's input: a NUL and a tab in an extension line, which `parse` used to accept
    // although `to_text` (and so signing) refuses it.
    let found = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fuzz-regressions/checkpoint/control-characters-in-extension"
    ))
    .unwrap();
    let text = std::str::from_utf8(&found).unwrap();
    assert_eq!(
        Checkpoint::parse(text),
        Err(NoteError::Malformed("control characters in the text"))
    );
    let tab = format!("log.example\t1\n5\n{ROOT_B64}\n");
    assert_eq!(
        Checkpoint::parse(&tab),
        Err(NoteError::Malformed("control characters in the text"))
    );
}

#[test]
fn checkpoint_parse_reads_what_to_text_writes() {
    // The negative of the above: a clean checkpoint reads and is written back byte for byte.
    let text = format!("log.example/1\n5\n{ROOT_B64}\next line\n");
    let checkpoint = Checkpoint::parse(&text).unwrap();
    assert_eq!(checkpoint.size, 5);
    assert_eq!(checkpoint.to_text().unwrap(), text);
}
