//! securesystemslib canonical JSON ("OLPC canonical JSON" as securesystemslib writes it).
//!
//! Byte-for-byte what `securesystemslib.formats.encode_canonical` produces:
//! * object keys sorted as Python sorts `str` (by code point, which is the order of their
//!   UTF-8 bytes, so we sort bytes);
//! * no whitespace;
//! * strings escape only `"` and `\`; everything else (control characters, non-ASCII) is
//!   written raw as UTF-8, with no Unicode normalisation;
//! * integers as decimal; floats are an error (securesystemslib raises on them).

use serde_json::Value;

/// Why a value cannot be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// securesystemslib refuses floats; so do we, naming the offending number.
    #[error("canonical JSON cannot encode the non-integer number {0}")]
    Float(String),
}

/// Encodes `value` as securesystemslib canonical JSON.
pub fn encode(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

/// Encodes any serialisable value (via `serde_json::Value`) as canonical JSON.
pub fn encode_serialize<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    // Serialising our own model types to a Value cannot fail: they have string keys only.
    let v = serde_json::to_value(value).map_err(|e| CanonicalError::Float(e.to_string()))?;
    encode(&v)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(CanonicalError::Float(n.to_string()));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // serde_json's Map is a BTreeMap<String, _> here: it iterates in byte order, the
            // order canonical JSON needs (`map_iterates_in_byte_order` guards this).
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_value(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            start = i;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_only_quote_and_backslash() {
        let v = json!({"b": "a\"b\\c\n\u{1}é", "a": [1, -2, true, null]});
        let got = encode(&v).unwrap();
        assert_eq!(
            got,
            "{\"a\":[1,-2,true,null],\"b\":\"a\\\"b\\\\c\n\u{1}é\"}".as_bytes()
        );
    }

    #[test]
    fn map_iterates_in_byte_order() {
        // If a dependency ever enables serde_json's `preserve_order`, Map iteration becomes
        // insertion order and canonical JSON (and every signature) would silently break.
        let v = json!({"b": 1, "a": 2, "\u{e9}": 3, "Z": 4});
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Z", "a", "b", "\u{e9}"]);
    }

    #[test]
    fn rejects_floats() {
        assert_eq!(
            encode(&json!({"x": 1.5})),
            Err(CanonicalError::Float("1.5".into()))
        );
    }

    #[test]
    fn sorts_keys_by_code_point() {
        let v = json!({"é": 1, "z": 2, "Z": 3, "\u{10000}": 4, "\u{ffff}": 5});
        let s = String::from_utf8(encode(&v).unwrap()).unwrap();
        assert_eq!(
            s,
            "{\"Z\":3,\"z\":2,\"é\":1,\"\u{ffff}\":5,\"\u{10000}\":4}"
        );
    }

    proptest::proptest! {
        #[test]
        fn canonical_round_trips(s in "\\PC*", k in "\\PC*", n in proptest::num::i64::ANY) {
            let v = json!({k.clone(): [s.clone(), n]});
            let bytes = encode(&v).unwrap();
            let back: Value = serde_json::from_slice(&bytes).unwrap();
            // Re-parsing is only possible when no raw control characters were written; the
            // canonical form is still stable under re-encoding of what it decodes to.
            proptest::prop_assert_eq!(encode(&back).unwrap(), bytes);
        }
    }
}
