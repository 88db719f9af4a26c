//! What a received SIT says about itself: its format, from its own fields, and the options it
//! was generated with (timestamp, tool, attestation URL base), so that full verification can
//! regenerate it from its document.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Format, SitOptions, LAYOUT_FILE_NAME};

/// Why a SIT's generation parameters could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SitReadError {
    #[error("not a SIT this tool writes (CycloneDX 1.2-1.7, SPDX 2.3 or SPDX 3.0.1 JSON)")]
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
            "1.2" => Some(Format::CycloneDx12),
            "1.3" => Some(Format::CycloneDx13),
            "1.4" => Some(Format::CycloneDx14),
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
            // CycloneDX 1.2 has no properties: an external reference named by its comment.
            if m.get("comment").and_then(Value::as_str) == Some(KEY) {
                if let Some(u) = m.get("url").and_then(Value::as_str) {
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
        Format::CycloneDx12
        | Format::CycloneDx13
        | Format::CycloneDx14
        | Format::CycloneDx15
        | Format::CycloneDx16
        | Format::CycloneDx17 => {
            let t = sbom
                .pointer("/metadata/timestamp")
                .and_then(Value::as_str)
                .ok_or(SitReadError::NoTimestamp("/metadata/timestamp"))?;
            o.timestamp = parse_time(t)?;
            // `metadata.tools` is an object from 1.5 on, an array of tools before.
            let tool = sbom
                .pointer("/metadata/tools/components/0")
                .or_else(|| sbom.pointer("/metadata/tools/0"));
            if let Some(tool) = tool {
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
    // A SIT made with --allow-unhashed says so on each such component.
    o.allow_unhashed = mentions(sbom, "sbomit:unhashed");
    if let Some(url) = layout_url(sbom) {
        let suffix = format!("/{LAYOUT_FILE_NAME}");
        if let Some(base) = url.strip_suffix(&suffix) {
            o.attestation_url_base = Some(base.to_owned());
        }
    }
    Ok(o)
}

/// The digest of the document version `sbom` says it was generated from
/// (`sbomit:document:sha256`: a CycloneDX metadata property, or `sbomit:document:sha256=HEX`
/// in an SPDX comment or annotation).
pub fn document_digest_from_sit(sbom: &Value) -> Option<sbomit_intoto::digest::Sha256> {
    use sbomit_intoto::digest::Sha256;
    const NAME: &str = "sbomit:document:sha256";
    if let Some(props) = sbom
        .pointer("/metadata/properties")
        .and_then(Value::as_array)
    {
        if let Some(d) = props
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(NAME))
            .and_then(|p| p.get("value"))
            .and_then(Value::as_str)
            .and_then(Sha256::from_hex)
        {
            return Some(d);
        }
    }
    let marker = format!("{NAME}=");
    let mut stack = vec![sbom];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Some(i) = s.find(&marker) {
                    let rest = &s[i + marker.len()..];
                    if let Some(d) = rest.get(..64).and_then(Sha256::from_hex) {
                        return Some(d);
                    }
                }
            }
            Value::Array(a) => stack.extend(a.iter().rev()),
            Value::Object(m) => stack.extend(m.values().rev()),
            _ => {}
        }
    }
    None
}

/// Whether any string of `sbom` starts with `prefix` (property names, SPDX annotations).
fn mentions(sbom: &Value, prefix: &str) -> bool {
    let mut stack = vec![sbom];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.starts_with(prefix) => return true,
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    false
}
