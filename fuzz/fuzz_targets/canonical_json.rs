//! Canonical JSON: the streaming encoder (`encode_text`) agrees with `encode` of the parsed
//! value, and canonical output is a fixed point: encode(decode(encode(x))) == encode(x).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_intoto::canonical::{encode, encode_text, CanonicalError};
use serde_json::Value;

/// Canonical JSON writes control characters raw, which JSON does not allow; with no whitespace
/// outside strings, every byte below 0x20 is inside a string, so escaping them gives the JSON
/// text of the same value.
fn as_json(canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical.len());
    for &b in canonical {
        if b < 0x20 {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let streamed = encode_text(data);
    let parsed = serde_json::from_slice::<Value>(data);
    match (&streamed, &parsed) {
        (Ok(s), Ok(v)) => {
            let encoded = encode(v);
            match (s, &encoded) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "encode_text differs from encode(from_slice)"),
                // Both refuse (a float). With a repeated key they may name different numbers:
                // the streaming encoder meets the first occurrence, the parsed value keeps the
                // last (fuzz/artifacts crash-412d6a2d, a regression test in canonical.rs).
                (Err(_), Err(_)) => {}
                // The streaming encoder refuses a float that the parsed value does not hold:
                // it can only have been in a repeated key's earlier value, which from_slice
                // drops (last wins). Refusing is the safe side; kept in
                // testdata/fuzz-regressions/canonical_json (crash-9f743c60). Open: the two
                // encoders should agree on repeated keys.
                (Err(CanonicalError::Float(_)), Ok(_)) => {}
                _ => panic!("encode_text and encode(from_slice) disagree: {s:?} vs {encoded:?}"),
            }
            if let Ok(bytes) = encoded {
                let again: Value =
                    serde_json::from_slice(&as_json(&bytes)).expect("canonical output decodes");
                assert_eq!(&again, v, "canonical JSON does not read back as the value");
                assert_eq!(encode(&again).as_ref(), Ok(&bytes), "not a fixed point");
            }
        }
        (Err(_), Err(_)) => {}
        _ => panic!("encode_text and from_slice disagree on whether {data:?} is JSON"),
    }
});
