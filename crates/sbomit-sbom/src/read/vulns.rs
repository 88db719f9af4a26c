//! Vulnerability reports and VEX: in-toto vulns v0.1, cosign vuln v1, OSV, OpenVEX.

use serde_json::Value;

use super::{is_purl, normalize_sha256, text, Builder, FactKind, Node, VulnStatus};

/// in-toto vulns v0.1 (`scanner.result[].id`) and cosign vuln v1 (`scanner.result`, any
/// scanner output: a list of `{id}`, Grype `matches[].vulnerability.id` or Trivy
/// `Results[].Vulnerabilities[].VulnerabilityID`): each finding affects every subject.
pub(super) fn in_toto_vulns(b: &mut Builder, predicate: &Value) -> FactKind {
    let result = predicate.get("scanner").and_then(|s| s.get("result"));
    let mut ids: Vec<&str> = Vec::new();
    match result {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for r in items {
                match text(r, "id") {
                    Some(id) => ids.push(id),
                    None => b.skip("a scanner result has no id"),
                }
            }
        }
        Some(r @ Value::Object(_)) => {
            for m in b.list(r, "matches") {
                ids.extend(m.get("vulnerability").and_then(|v| text(v, "id")));
            }
            for res in b.list(r, "Results") {
                for v in b.list(res, "Vulnerabilities") {
                    ids.extend(text(v, "VulnerabilityID"));
                }
            }
        }
        Some(_) => b.fail("`scanner.result` is neither a list nor an object"),
    }
    let subjects = b.subjects();
    for id in ids {
        for &s in &subjects {
            if !b.vuln(id, s, VulnStatus::Affected) {
                break;
            }
        }
    }
    FactKind::Vulnerabilities
}

/// The purl type of an OSV ecosystem (`Debian:11` → `deb/debian`).
fn osv_purl(ecosystem: &str, name: &str) -> String {
    let eco = ecosystem.split(':').next().unwrap_or_default().trim();
    let eco = eco.to_ascii_lowercase();
    let (ty, name) = match eco.as_str() {
        "crates.io" => ("cargo".to_owned(), name.to_owned()),
        "go" => ("golang".to_owned(), name.to_owned()),
        "rubygems" => ("gem".to_owned(), name.to_owned()),
        "packagist" => ("composer".to_owned(), name.to_owned()),
        "maven" => ("maven".to_owned(), name.replacen(':', "/", 1)),
        "debian" | "ubuntu" => (format!("deb/{eco}"), name.to_owned()),
        "alpine" => ("apk/alpine".to_owned(), name.to_owned()),
        _ => (eco.replace(' ', "-"), name.to_owned()),
    };
    format!("pkg:{ty}/{name}")
}

/// An OSV record: `id` affects each `affected[].package`.
pub(super) fn osv(b: &mut Builder, record: &Value) -> FactKind {
    if !record.is_object() {
        b.fail("the OSV record is not a JSON object");
        return FactKind::Vulnerabilities;
    }
    let Some(id) = text(record, "id") else {
        b.fail("the OSV record has no id");
        return FactKind::Vulnerabilities;
    };
    for a in b.list(record, "affected") {
        let Some(package) = a.get("package").filter(|p| p.is_object()) else {
            b.skip("an `affected` entry has no package");
            continue;
        };
        let name = text(package, "name");
        let purl = match (text(package, "purl"), text(package, "ecosystem"), name) {
            (Some(purl), _, _) => purl.to_owned(),
            (None, Some(eco), Some(name)) => osv_purl(eco, name),
            _ => {
                b.skip("an affected package has neither a purl nor an ecosystem and name");
                continue;
            }
        };
        if let Some(node) = Node::new(Some(&purl), name, None, None) {
            let node = b.add(node);
            b.vuln(id, node, VulnStatus::Affected);
        }
    }
    FactKind::Vulnerabilities
}

/// An OpenVEX product: a string identifier, or `{@id, identifiers {purl, …}, hashes}`.
fn vex_product(p: &Value) -> Option<Node> {
    if let Some(s) = p.as_str() {
        return Node::from_identifier(s);
    }
    let id = text(p, "@id");
    let identifiers = p.get("identifiers");
    let hashes = p.get("hashes");
    let sha = ["sha-256", "sha256"]
        .iter()
        .find_map(|alg| hashes.and_then(|h| text(h, alg)))
        .or_else(|| identifiers.and_then(|i| text(i, "sha256")))
        .and_then(normalize_sha256)
        .or_else(|| {
            id.and_then(|i| i.strip_prefix("sha256:"))
                .and_then(normalize_sha256)
        });
    let purl = identifiers
        .and_then(|i| text(i, "purl"))
        .or_else(|| id.filter(|i| is_purl(i)));
    // The @id names the product only when nothing stronger does.
    let name = id.filter(|_| sha.is_none() && purl.is_none());
    Node::new(purl, name, None, sha.as_deref())
}

pub(super) fn openvex(b: &mut Builder, doc: &Value) -> FactKind {
    if !doc.is_object() {
        b.fail("the OpenVEX document is not a JSON object");
        return FactKind::Vex;
    }
    let subjects = b.subjects();
    for s in b.list(doc, "statements") {
        let vulnerability = s.get("vulnerability");
        let id = match vulnerability {
            Some(Value::String(id)) if !id.is_empty() => Some(id.as_str()),
            Some(v) => text(v, "name").or_else(|| text(v, "@id")),
            None => None,
        };
        let Some(id) = id else {
            b.skip("a VEX statement names no vulnerability");
            continue;
        };
        let Some(status) = text(s, "status").and_then(VulnStatus::parse) else {
            b.skip(format!("the VEX statement on {id} has no known status"));
            continue;
        };
        let products = b.list(s, "products");
        if products.is_empty() {
            // A statement without products is about what the envelope is about.
            for &node in &subjects {
                if !b.vuln(id, node, status) {
                    break;
                }
            }
        }
        for p in products {
            match vex_product(p) {
                Some(node) => {
                    let node = b.add(node);
                    b.vuln(id, node, status);
                }
                None => b.skip(format!("a product of the VEX statement on {id} has no id")),
            }
        }
    }
    FactKind::Vex
}
