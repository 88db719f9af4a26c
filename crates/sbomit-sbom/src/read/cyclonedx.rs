//! CycloneDX JSON (1.2 to 1.7): components, dependencies, vulnerabilities.

use std::collections::HashMap;

use serde_json::Value;

use super::{is_purl, normalize_sha256, text, Builder, FactKind, Id, Node, VulnStatus};

pub(super) fn cyclonedx(b: &mut Builder, bom: &Value) -> FactKind {
    if !bom.is_object() {
        b.fail("the CycloneDX BOM is not a JSON object");
        return FactKind::Sbom;
    }
    // bom-ref → node.
    let mut refs: HashMap<&str, Id> = HashMap::new();
    let root = bom
        .get("metadata")
        .and_then(|m| m.get("component"))
        .filter(|c| c.is_object());
    let roots = match root.and_then(cdx_node) {
        Some(node) => b.attach_roots(vec![node]),
        None => b.subjects(),
    };
    if let (Some(c), Some(&first)) = (root, roots.first()) {
        if let Some(r) = text(c, "bom-ref") {
            refs.insert(r, first);
        }
    }

    // Depth-first, without recursion: (the nearest identified ancestor, or the roots).
    let top = b.list(bom, "components");
    let under_root = match root {
        Some(c) => b.list(c, "components"),
        None => &[],
    };
    let mut components = top.len();
    let mut stack: Vec<(Option<Id>, &Value)> =
        top.iter().chain(under_root).map(|c| (None, c)).collect();
    while let Some((parent, c)) = stack.pop() {
        if !c.is_object() {
            b.skip("a component is not an object");
            continue;
        }
        let here = match cdx_node(c) {
            Some(node) => {
                let id = b.add(node);
                match parent {
                    Some(p) => {
                        b.edge(p, id);
                    }
                    None => {
                        for &r in &roots {
                            if !b.edge(r, id) {
                                break;
                            }
                        }
                    }
                }
                if let Some(r) = text(c, "bom-ref") {
                    refs.entry(r).or_insert(id);
                }
                Some(id)
            }
            None => {
                b.skip("a component has no name, purl or sha256");
                parent
            }
        };
        let nested = b.list(c, "components");
        components += nested.len();
        stack.extend(nested.iter().map(|n| (here, n)));
    }

    for d in b.list(bom, "dependencies") {
        // Refs to components this BOM does not list (other BOMs) are not edges here.
        let Some(&from) = text(d, "ref").and_then(|r| refs.get(r)) else {
            continue;
        };
        for to in b.list(d, "dependsOn") {
            if let Some(&to) = to.as_str().and_then(|r| refs.get(r)) {
                if !b.edge(from, to) {
                    break;
                }
            }
        }
    }

    let vulnerabilities = b.list(bom, "vulnerabilities");
    for v in vulnerabilities {
        let Some(id) = text(v, "id") else {
            b.skip("a vulnerability has no id");
            continue;
        };
        let status = match v.get("analysis").and_then(|a| text(a, "state")) {
            Some("not_affected" | "false_positive") => VulnStatus::NotAffected,
            Some("resolved" | "resolved_with_pedigree") => VulnStatus::Fixed,
            Some("in_triage") => VulnStatus::UnderInvestigation,
            // `exploitable`, no analysis, or a state this code does not know: do not hide it.
            _ => VulnStatus::Affected,
        };
        for a in b.list(v, "affects") {
            let Some(r) = text(a, "ref") else {
                continue;
            };
            if let Some(node) = cdx_ref(b, &refs, r) {
                b.vuln(id, node, status);
            }
        }
    }

    if components == 0 && !vulnerabilities.is_empty() {
        FactKind::Vex
    } else {
        FactKind::Sbom
    }
}

/// A component: purl, name, version, the first valid SHA-256 of `hashes[]`.
fn cdx_node(c: &Value) -> Option<Node> {
    let sha = c
        .get("hashes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|h| {
            text(h, "alg").is_some_and(|a| a.eq_ignore_ascii_case("SHA-256") || a == "SHA256")
        })
        .find_map(|h| text(h, "content").and_then(normalize_sha256));
    Node::new(
        text(c, "purl"),
        text(c, "name"),
        text(c, "version"),
        sha.as_deref(),
    )
}

/// A vulnerability's `affects[].ref`: a bom-ref here, a BOM-Link (`urn:cdx:…#bom-ref`) whose
/// fragment is one, or a purl.
fn cdx_ref(b: &mut Builder, refs: &HashMap<&str, Id>, r: &str) -> Option<Id> {
    if let Some(&id) = refs.get(r) {
        return Some(id);
    }
    let fragment = r.rsplit_once('#').map_or(r, |(_, f)| f);
    if let Some(&id) = refs.get(fragment) {
        return Some(id);
    }
    let node = is_purl(fragment).then(|| Node::new(Some(fragment), None, None, None))??;
    Some(b.add(node))
}
