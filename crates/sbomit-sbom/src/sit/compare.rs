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
                .map(|k| format!("{path}/{k} is not in the regenerated SIT"))
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
        assert!(
            d.starts_with("/components: 2 elements expected, 2 found"),
            "{d}"
        );
        let e = json!({"components": [{"name": "a", "hashes": [1, 2]}]});
        assert!(difference(&a, &e)
            .unwrap()
            .contains("missing {\"name\":\"b\"}"));
    }
}
