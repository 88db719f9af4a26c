//! Python-style `json.dumps` (one-line and indented): whatever JSON value comes in, the text
//! written is JSON that reads back as the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_intoto::pyjson::dumps;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let indent = data.first().map(|b| usize::from(b % 4));
    for indent in [None, indent] {
        let text = dumps(&value, indent);
        assert!(
            text.is_ascii(),
            "ensure_ascii output has non-ASCII: {text:?}"
        );
        let back: Value = serde_json::from_str(&text).expect("dumps writes JSON");
        assert_eq!(back, value, "dumps({indent:?}) does not read back: {text}");
    }
});
