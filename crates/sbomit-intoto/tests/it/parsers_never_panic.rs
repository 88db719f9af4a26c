//! No parser panics, whatever it is fed: arbitrary bytes through the envelope and metadata
//! parsers, arbitrary JSON into the models, and valid metadata with arbitrary parts replaced
//! (which reaches much deeper than random bytes do).

#![allow(clippy::unwrap_used)] // generators, not inputs

use proptest::prelude::*;
use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::metadata::Metadata;
use sbomit_intoto::model::{Layout, Link};
use sbomit_intoto::rules::ArtifactRule;
use sbomit_intoto::statement::Statement;
use serde_json::{json, Value};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("layout"),
            Just("link"),
            Just("step"),
            Just("inspection"),
            Just("MATCH"),
            Just("WITH"),
            Just("PRODUCTS"),
            Just("FROM"),
            Just("IN"),
            Just("CREATE"),
            Just("DISALLOW"),
            Just("*"),
            Just("2030-01-01T00:00:00Z"),
            Just("sha256"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    "\\PC{0,8}",
                    Just("_type".to_owned()),
                    Just("name".to_owned()),
                    Just("steps".to_owned()),
                    Just("keys".to_owned()),
                    Just("expires".to_owned()),
                    Just("materials".to_owned()),
                    Just("products".to_owned()),
                    Just("pubkeys".to_owned()),
                    Just("threshold".to_owned()),
                    Just("expected_materials".to_owned()),
                    Just("expected_products".to_owned()),
                    Just("inspect".to_owned()),
                    Just("run".to_owned()),
                    Just("byproducts".to_owned()),
                    Just("subject".to_owned()),
                    Just("predicate".to_owned()),
                    Just("predicateType".to_owned()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid_layout() -> Value {
    json!({
        "_type": "layout",
        "expires": "2030-01-01T00:00:00Z",
        "readme": "",
        "keys": {"abcd": {"keyid": "abcd", "keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "00".repeat(32)}}},
        "steps": [{"_type": "step", "name": "a", "pubkeys": ["abcd"], "threshold": 1, "expected_command": [],
                   "expected_materials": [["MATCH", "*", "WITH", "PRODUCTS", "FROM", "b"]],
                   "expected_products": [["CREATE", "x"], ["DISALLOW", "*"]]}],
        "inspect": [{"_type": "inspection", "name": "i", "run": ["true"],
                     "expected_materials": [], "expected_products": [["REQUIRE", "x"]]}]
    })
}

fn valid_link() -> Value {
    json!({
        "_type": "link", "name": "a", "command": ["make"],
        "materials": {"x": {"sha256": "00".repeat(32)}}, "products": {},
        "byproducts": {"return-value": 0}, "environment": {}
    })
}

/// Replaces the value at a random position of `base` (walking `path` choices) by `with`.
fn replace_somewhere(base: &mut Value, path: &[usize], with: Value) {
    let Some((&i, rest)) = path.split_first() else {
        *base = with;
        return;
    };
    match base {
        Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(i % m.len()).unwrap().clone();
            replace_somewhere(m.get_mut(&k).unwrap(), rest, with);
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            replace_somewhere(&mut a[i % n], rest, with);
        }
        _ => *base = with,
    }
}

fn parse_everything(v: &Value) {
    let _ = Layout::from_value(v);
    let _ = Link::from_value(v);
    let _ = Metadata::from_payload(v);
    let _ = Statement::from_value(v);
    let _ = ArtifactRule::from_value(v);
    let _ = sbomit_intoto::canonical::encode(v);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(env) = Envelope::parse(&bytes) {
            parse_everything(env.payload());
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            parse_everything(&v);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(v in any_json()) {
        parse_everything(&v);
        let wrapped = json!({"signed": v.clone(), "signatures": [{"keyid": "k", "sig": "00"}]});
        if let Ok(env) = Envelope::parse(wrapped.to_string().as_bytes()) {
            parse_everything(env.payload());
        }
    }

    #[test]
    fn mutated_metadata_never_panics(
        path in proptest::collection::vec(any::<usize>(), 0..6),
        with in any_json(),
        which in any::<bool>(),
    ) {
        let mut v = if which { valid_layout() } else { valid_link() };
        replace_somewhere(&mut v, &path, with);
        parse_everything(&v);
        if let Ok(mut layout) = Layout::from_value(&v) {
            let mut params = std::collections::BTreeMap::new();
            params.insert("X".to_owned(), "y".to_owned());
            let _ = layout.substitute_parameters(&params);
        }
    }
}

#[test]
fn valid_fixtures_of_this_file_parse() {
    // Guards the generators: if these stop parsing, the mutation test tests nothing.
    Layout::from_value(&valid_layout()).unwrap();
    Link::from_value(&valid_link()).unwrap();
}
