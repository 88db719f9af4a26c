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

/// Canonical JSON written while `serde_json` parses the text: no `Value` tree is built, so a
/// link of 100,000 artifacts costs one pass and one output buffer. The parser is serde_json's
/// own (same string, number and depth rules as `serde_json::from_slice::<Value>`), so the
/// result is byte-identical to [`encode`] of the parsed value; `text_matches_value_encoding`
/// checks that.
#[derive(Default)]
pub struct Canonicalizer {
    out: Vec<u8>,
    /// Raw (unescaped) keys of the objects being written, to order them.
    keys: Vec<u8>,
    /// Members of the objects being written: key range in `keys`, member range in `out`.
    members: Vec<Member>,
    /// The first float seen: canonical JSON refuses it, but only after the whole text has
    /// parsed, as [`encode`] after `from_slice` would.
    float: Option<CanonicalError>,
}

struct Member {
    key: (usize, usize),
    span: (usize, usize),
}

impl Canonicalizer {
    pub fn with_capacity(bytes: usize) -> Self {
        Canonicalizer {
            out: Vec::with_capacity(bytes),
            ..Canonicalizer::default()
        }
    }

    /// A seed that parses one JSON value and appends its canonical form.
    pub fn seed(&mut self) -> CanonSeed<'_> {
        CanonSeed(self)
    }

    /// The canonical bytes written so far, or the float that makes them invalid.
    pub fn finish(self) -> Result<Vec<u8>, CanonicalError> {
        match self.float {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
}

/// Canonical JSON of the JSON text `json` (as [`encode`] of `serde_json::from_slice`).
pub fn encode_text(json: &[u8]) -> Result<Result<Vec<u8>, CanonicalError>, serde_json::Error> {
    let mut c = Canonicalizer::with_capacity(json.len());
    let mut de = serde_json::Deserializer::from_slice(json);
    serde::de::DeserializeSeed::deserialize(c.seed(), &mut de)?;
    de.end()?;
    Ok(c.finish())
}

/// See [`Canonicalizer::seed`].
pub struct CanonSeed<'c>(&'c mut Canonicalizer);

impl<'de> serde::de::DeserializeSeed<'de> for CanonSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CanonSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0
            .out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        use std::io::Write as _;
        let _ = write!(self.0.out, "{v}");
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        use std::io::Write as _;
        let _ = write!(self.0.out, "{v}");
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        if self.0.float.is_none() {
            let text =
                serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string());
            self.0.float = Some(CanonicalError::Float(text));
        }
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        write_string(v, &mut self.0.out);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let c = self.0;
        c.out.push(b'[');
        let mut first = true;
        loop {
            let at = c.out.len();
            if !first {
                c.out.push(b',');
            }
            if seq.next_element_seed(CanonSeed(&mut *c))?.is_none() {
                c.out.truncate(at);
                break;
            }
            first = false;
        }
        c.out.push(b']');
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let c = self.0;
        let body = c.out.len() + 1;
        c.out.push(b'{');
        let base = c.members.len();
        let key_base = c.keys.len();
        let mut ordered = true;
        loop {
            let k0 = c.keys.len();
            if map.next_key_seed(KeySeed(&mut c.keys))?.is_none() {
                break;
            }
            let k1 = c.keys.len();
            if c.members.len() > base {
                c.out.push(b',');
                if let Some(prev) = c.members.last() {
                    if c.keys[prev.key.0..prev.key.1] >= c.keys[k0..k1] {
                        ordered = false;
                    }
                }
            }
            let s0 = c.out.len();
            let key = std::str::from_utf8(&c.keys[k0..k1]).unwrap_or_default();
            write_string(key, &mut c.out);
            c.out.push(b':');
            map.next_value_seed(CanonSeed(&mut *c))?;
            let s1 = c.out.len();
            c.members.push(Member {
                key: (k0, k1),
                span: (s0, s1),
            });
        }
        if !ordered {
            // Rare (files are written with sorted keys): sort the members by raw key, keeping
            // the last of a repeated key as Python's json and serde_json's Map do.
            let written = c.out[body..].to_vec();
            let members = &mut c.members[base..];
            members.sort_by(|a, b| c.keys[a.key.0..a.key.1].cmp(&c.keys[b.key.0..b.key.1]));
            c.out.truncate(body);
            let mut i = 0;
            let mut first = true;
            while i < members.len() {
                let mut j = i;
                while j + 1 < members.len()
                    && c.keys[members[j + 1].key.0..members[j + 1].key.1]
                        == c.keys[members[i].key.0..members[i].key.1]
                {
                    j += 1;
                }
                if !first {
                    c.out.push(b',');
                }
                first = false;
                let (s0, s1) = members[j].span;
                c.out.extend_from_slice(&written[s0 - body..s1 - body]);
                i = j + 1;
            }
        }
        c.out.push(b'}');
        c.members.truncate(base);
        c.keys.truncate(key_base);
        Ok(())
    }
}

/// Appends a map key's (unescaped) text to the key buffer.
struct KeySeed<'k>(&'k mut Vec<u8>);

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_key_holding_floats_is_refused_by_both_encoders() {
        // Found by the canonical_json fuzz target: both refuse, naming the first or the last
        // occurrence's number.
        let data =
            br#"{"env": {"big": 123123456789012345260}, "env": {"big": 123456789012345267890}}"#;
        assert!(matches!(encode_text(data), Ok(Err(_))));
        let v: serde_json::Value = serde_json::from_slice(data).unwrap();
        assert!(encode(&v).is_err());
    }

    /// Arbitrary JSON without floats: escapes, control characters, non-ASCII (also outside
    /// the BMP) and JSON punctuation in strings and keys.
    pub(crate) fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            "\\PC{0,6}".prop_map(Value::String),
            "[\\x00-\\x7f\"\\\\é😀]{0,5}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c\"\\\\é,:{}]{0,3}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

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

    fn assert_text_matches(text: &str) {
        let via_value = serde_json::from_str::<Value>(text).map(|v| encode(&v));
        let streamed = encode_text(text.as_bytes());
        match (via_value, streamed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{text}: {a:?} vs {b:?}"),
        }
    }

    #[test]
    fn text_matches_value_encoding() {
        for text in [
            r#"{"b": 1, "a": [true, false, null, -3, 18446744073709551615], "c": {}}"#,
            r#"{"a": 1, "a": 2, "b": {"y": "\u00e9\"", "x": []}}"#,
            r#"{"z": {"b": 1, "a": 2}, "a": "x\u0001\\"}"#,
            r##"{"\"": 1, "#": 2, "\\": 3}"##,
            r#"[1.5]"#,
            r#"{"a": 1e3}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": 1,}"#,
            r#"{"é": 1, "z": 2, "Z": 3, "\ud800\udc00": 4, "\uffff": 5}"#,
            r#"{"a": -0}"#,
            r#"{"a": 123456789012345678901234567890}"#,
        ] {
            assert_text_matches(text);
        }
    }

    proptest::proptest! {
        #[test]
        fn streamed_matches_value(v in json_value()) {
            let text = serde_json::to_string(&v).unwrap();
            let via_value = encode(&serde_json::from_str::<Value>(&text).unwrap());
            proptest::prop_assert_eq!(encode_text(text.as_bytes()).unwrap(), via_value);
        }

        #[test]
        fn canonical_round_trips(s in "\\PC*", k in "\\PC*", n in proptest::num::i64::ANY) {
            let v = json!({k.clone(): [s.clone(), n]});
            let bytes = encode(&v).unwrap();
            let back: Value = serde_json::from_slice(&bytes).unwrap();
            // Re-parsing is only possible when no raw control characters were written; the
            // canonical form is still stable under re-encoding of what it decodes to.
            proptest::prop_assert_eq!(encode(&back).unwrap(), bytes);
        }

        /// sbomit-crypto writes a key id's canonical bytes itself (it cannot depend on this
        /// crate): they must be exactly this encoder's, for any strings, quotes and
        /// backslashes included.
        #[test]
        fn key_id_preimage_is_the_canonical_encoding(
            keytype in "[\\PC\"\\\\]*",
            scheme in "[\\PC\"\\\\]*",
            public in "[\\PC\"\\\\\n]*",
        ) {
            let v = json!({"keytype": keytype, "scheme": scheme, "keyval": {"public": public}});
            proptest::prop_assert_eq!(
                sbomit_crypto::keyid_preimage(&keytype, &scheme, &public),
                encode(&v).unwrap()
            );
        }
    }
}
