//! Full SIT verification helpers: recognise a SIT's format, recover the options it was
//! generated with (timestamp, tool, attestation URL base), and compare a regenerated SIT
//! with the one received without regard to array order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Format, SitOptions, LAYOUT_FILE_NAME};

/// Why a SIT's generation parameters could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SitReadError {
    #[error("not a SIT this tool writes (CycloneDX 1.5-1.7, SPDX 2.3 or SPDX 3.0.1 JSON)")]
    UnknownFormat,
    #[error("the SIT has no creation time at {0}")]
    NoTimestamp(&'static str),
    #[error("the SIT's creation time {0:?} is not RFC 3339")]
    BadTimestamp(String),
}

/// The format of a SIT, from its own fields.
pub fn detect_format(sbom: &Value) -> Option<Format> {
    if sbom.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return match sbom.get("specVersion").and_then(Value::as_str)? {
            "1.5" => Some(Format::CycloneDx15),
            "1.6" => Some(Format::CycloneDx16),
            "1.7" => Some(Format::CycloneDx17),
            _ => None,
        };
    }
    if sbom.get("spdxVersion").and_then(Value::as_str) == Some("SPDX-2.3") {
        return Some(Format::Spdx23);
    }
    let graph = sbom.get("@graph")?.as_array()?;
    graph
        .iter()
        .any(|e| {
            e.get("type").and_then(Value::as_str) == Some("CreationInfo")
                && e.get("specVersion").and_then(Value::as_str) == Some("3.0.1")
        })
        .then_some(Format::Spdx301)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, SitReadError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SitReadError::BadTimestamp(s.to_owned()))
}

/// The first `sbomit:layout:urls` value found anywhere in the SIT (component properties,
/// SPDX annotations), which tells the attestation URL base it was generated with.
fn layout_url(v: &Value) -> Option<String> {
    const KEY: &str = "sbomit:layout:urls";
    match v {
        Value::Object(m) => {
            if m.get("name").and_then(Value::as_str) == Some(KEY) {
                if let Some(u) = m.get("value").and_then(Value::as_str) {
                    return Some(u.to_owned());
                }
            }
            for field in ["comment", "statement"] {
                if let Some(rest) = m
                    .get(field)
                    .and_then(Value::as_str)
                    .and_then(|c| c.strip_prefix(KEY))
                    .and_then(|c| c.strip_prefix('='))
                {
                    return Some(rest.to_owned());
                }
            }
            m.values().find_map(layout_url)
        }
        Value::Array(a) => a.iter().find_map(layout_url),
        _ => None,
    }
}

/// The options `sit` was generated with: its creation time, tool name and version, and the
/// attestation URL base when it references attestations by URL.
pub fn options_from_sit(format: Format, sbom: &Value) -> Result<SitOptions, SitReadError> {
    let mut o = SitOptions::at(DateTime::<Utc>::UNIX_EPOCH);
    match format {
        Format::CycloneDx15 | Format::CycloneDx16 | Format::CycloneDx17 => {
            let t = sbom
                .pointer("/metadata/timestamp")
                .and_then(Value::as_str)
                .ok_or(SitReadError::NoTimestamp("/metadata/timestamp"))?;
            o.timestamp = parse_time(t)?;
            if let Some(tool) = sbom.pointer("/metadata/tools/components/0") {
                if let Some(n) = tool.get("name").and_then(Value::as_str) {
                    o.tool_name = n.to_owned();
                }
                if let Some(v) = tool.get("version").and_then(Value::as_str) {
                    o.tool_version = v.to_owned();
                }
            }
        }
        Format::Spdx23 => {
            let t = sbom
                .pointer("/creationInfo/created")
                .and_then(Value::as_str)
                .ok_or(SitReadError::NoTimestamp("/creationInfo/created"))?;
            o.timestamp = parse_time(t)?;
            // `Tool: <name>-<version>`: the name is ours, the version whatever follows it.
            let prefix = format!("Tool: {}-", o.tool_name);
            if let Some(v) = sbom
                .pointer("/creationInfo/creators/0")
                .and_then(Value::as_str)
                .and_then(|c| c.strip_prefix(&prefix))
            {
                o.tool_version = v.to_owned();
            }
        }
        Format::Spdx301 => {
            let graph = sbom.get("@graph").and_then(Value::as_array);
            let info = graph
                .and_then(|g| {
                    g.iter()
                        .find(|e| e.get("type").and_then(Value::as_str) == Some("CreationInfo"))
                })
                .ok_or(SitReadError::NoTimestamp("CreationInfo"))?;
            let t = info
                .get("created")
                .and_then(Value::as_str)
                .ok_or(SitReadError::NoTimestamp("CreationInfo.created"))?;
            o.timestamp = parse_time(t)?;
            let elem = |ty: &str| {
                graph.and_then(|g| {
                    g.iter()
                        .find(|e| e.get("type").and_then(Value::as_str) == Some(ty))
                        .and_then(|e| e.get("name"))
                        .and_then(Value::as_str)
                })
            };
            if let Some(n) = elem("SoftwareAgent") {
                o.tool_name = n.to_owned();
            }
            if let Some(v) = elem("Tool").and_then(|t| t.strip_prefix(&format!("{} ", o.tool_name)))
            {
                o.tool_version = v.to_owned();
            }
        }
    }
    if let Some(url) = layout_url(sbom) {
        let suffix = format!("/{LAYOUT_FILE_NAME}");
        if let Some(base) = url.strip_suffix(&suffix) {
            o.attestation_url_base = Some(base.to_owned());
        }
    }
    Ok(o)
}

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
