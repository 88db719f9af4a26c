//! Comparing a regenerated SIT with the one received, without regard to array order, and
//! describing the first difference.

use std::collections::BTreeMap;

use serde_json::Value;

/// The value with every array sorted (recursively), so that two SITs listing the same
/// components, relationships and hashes in different orders compare equal.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Array(a) => {
            let mut items: Vec<(String, Value)> = a
                .iter()
                .map(|x| {
                    let n = normalize(x);
                    (n.to_string(), n)
                })
                .collect();
            items.sort_by(|x, y| x.0.cmp(&y.0));
            Value::Array(items.into_iter().map(|(_, n)| n).collect())
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

/// A difference between two SITs, order-insensitively: `None` when they are equal.
///
/// The description names the JSON pointer of the first differing place and, for arrays
/// (components, relationships...), an element found on one side only.
pub fn difference(expected: &Value, found: &Value) -> Option<String> {
    diff_at("", &normalize(expected), &normalize(found))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

/// What identifies an array element across two SITs: its `bom-ref`, SPDX id or name.
fn identity(v: &Value) -> Option<(&'static str, &Value)> {
    ["bom-ref", "SPDXID", "spdxId", "@id", "ref", "name"]
        .into_iter()
        .find_map(|k| Some((k, v.get(k)?)))
}

fn diff_at(path: &str, a: &Value, b: &Value) -> Option<String> {
    if a == b {
        return None;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}/{k}");
                match y.get(k) {
                    None => return Some(format!("{p} is missing")),
                    Some(vb) => {
                        if let Some(d) = diff_at(&p, va, vb) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}/{k} is present but not expected"))
        }
        (Value::Array(x), Value::Array(y)) => {
            let mut count: BTreeMap<String, (i64, &Value)> = BTreeMap::new();
            for v in x {
                count.entry(v.to_string()).or_insert((0, v)).0 += 1;
            }
            for v in y {
                count.entry(v.to_string()).or_insert((0, v)).0 -= 1;
            }
            let missing = count.values().find(|(n, _)| *n > 0);
            let extra = count.values().find(|(n, _)| *n < 0);
            // One element changed: name it by its identity and go down to the field that
            // differs, instead of printing both (components are kilobytes long).
            if let (Some((_, m)), Some(_)) = (missing, extra) {
                let extras: Vec<&Value> = count
                    .values()
                    .filter(|(n, _)| *n < 0)
                    .map(|(_, v)| *v)
                    .collect();
                let partner = identity(m)
                    .and_then(|id| extras.iter().find(|e| identity(e) == Some(id)).copied())
                    .or(if extras.len() == 1 {
                        Some(extras[0])
                    } else {
                        None
                    });
                if let Some(found) = partner {
                    let i = x.iter().position(|v| v == *m).unwrap_or(0);
                    let at = match identity(m) {
                        Some((k, v)) => format!("{path}/{i} ({k} {v})"),
                        None => format!("{path}/{i}"),
                    };
                    if let Some(d) = diff_at(&at, m, found) {
                        return Some(d);
                    }
                }
            }
            let mut msg = format!("{path}: {} elements expected, {} found", x.len(), y.len());
            if let Some((_, v)) = missing {
                msg.push_str(&format!("; missing {}", short(v)));
            }
            if let Some((_, v)) = extra {
                msg.push_str(&format!("; not attested {}", short(v)));
            }
            Some(msg)
        }
        _ => Some(format!("{path}: expected {}, found {}", short(a), short(b))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn comparison_ignores_array_order_only() {
        let a = json!({"components": [{"name": "a", "hashes": [1, 2]}, {"name": "b"}]});
        let b = json!({"components": [{"name": "b"}, {"name": "a", "hashes": [2, 1]}]});
        assert_eq!(difference(&a, &b), None);
        let c = json!({"components": [{"name": "b"}, {"name": "a", "hashes": [2, 3]}]});
        let d = difference(&a, &c).unwrap();
        assert_eq!(
            d,
            "/components/0 (name \"a\")/hashes/0: expected 1, found 3"
        );
        // One element changed: the message goes down to its field, named by its identity.
        let f = json!({"components": [{"name": "b"}, {"name": "a", "hashes": [1, 2], "x": 1}]});
        assert_eq!(
            difference(&a, &f).unwrap(),
            "/components/0 (name \"a\")/x is present but not expected"
        );
        let g =
            json!({"components": [{"bom-ref": "r1", "name": "a"}, {"bom-ref": "r2", "name": "b"}]});
        let h = json!({"components": [{"bom-ref": "r2", "name": "b"}, {"bom-ref": "r1", "name": "a-evil"}]});
        assert_eq!(
            difference(&g, &h).unwrap(),
            "/components/0 (bom-ref \"r1\")/name: expected \"a\", found \"a-evil\""
        );
        let e = json!({"components": [{"name": "a", "hashes": [1, 2]}]});
        assert!(difference(&a, &e)
            .unwrap()
            .contains("missing {\"name\":\"b\"}"));
    }
}
