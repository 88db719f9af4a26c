//! Inputs the fuzz targets found (docs/fuzzing.md), kept in testdata/fuzz-regressions/.
#![allow(clippy::unwrap_used)]

use sbomit_intoto::model::{CompactLink, Link};

fn regression(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../testdata/fuzz-regressions/{target}/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn fast_link_reader_refuses_invalid_utf8_in_members_it_does_not_read() {
    // A link whose unknown member `co*mand` holds a string that is not UTF-8: not JSON, so the
    // model's reader refuses it; the fast reader skipped the member unchecked and accepted it.
    let found = regression("metadata", "invalid-utf8-in-unknown-member");
    assert!(serde_json::from_slice::<serde_json::Value>(&found).is_err());
    assert_eq!(CompactLink::from_payload_text(&found), None);
    let metablock = [br#"{"signatures": [], "signed": "#.as_slice(), &found, b"}"].concat();
    assert_eq!(CompactLink::from_metablock_text(&metablock), None);
    let bad_signatures = br#"{"signatures": ["\xff"], "signed": {"_type": "link"}}"#;
    assert_eq!(CompactLink::from_metablock_text(bad_signatures), None);
}

#[test]
fn fast_link_reader_reads_unknown_members_that_are_json() {
    // The negative: the same unknown member with valid strings (escapes, nesting, every JSON
    // type) is skipped, and the fast reader agrees with the model.
    let text = br#"{"_type": "link", "name": "clone", "x": ["\u00e9t\u00e9", {"a": [1, -2, 3.5, true, null]}], "command": ["git"]}"#;
    let compact = CompactLink::from_payload_text(text).unwrap();
    let value: serde_json::Value = serde_json::from_slice(text).unwrap();
    assert_eq!(
        compact,
        CompactLink::from_link(&Link::from_value(&value).unwrap())
    );
    let metablock = [
        br#"{"signatures": [{"keyid": "k", "sig": "00"}], "signed": "#.as_slice(),
        text,
        b"}",
    ]
    .concat();
    assert_eq!(CompactLink::from_metablock_text(&metablock), Some(compact));
}

#[test]
fn json_floats_are_read_exactly_so_pyjson_writes_what_python_writes() {
    // `1122E25` is 1.122e+28 to Python; serde_json's default parser read it 1 ulp off, so
    // pyjson wrote 1.1220000000000001e+28 where the reference writes 1.122e+28.
    let found = regression("pyjson", "float-one-ulp-off");
    let value: serde_json::Value = serde_json::from_slice(&found).unwrap();
    assert_eq!(sbomit_intoto::pyjson::dumps(&value, None), "1.122e+28");
    // The negative: a float that needs 17 digits keeps them (Python: 0.1 + 0.2).
    let value: serde_json::Value = serde_json::from_str("0.30000000000000004").unwrap();
    assert_eq!(
        sbomit_intoto::pyjson::dumps(&value, None),
        "0.30000000000000004"
    );
}
