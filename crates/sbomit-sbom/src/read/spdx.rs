//! SPDX 2.3 JSON and SPDX 3 JSON-LD: packages, files and their relationships.

use std::collections::HashMap;

use serde_json::Value;

use super::{normalize_sha256, text, texts, Builder, FactKind, Id, Node};

/// Elements by SPDX id, in document order (first definition wins).
#[derive(Default)]
struct Elements<'v> {
    order: Vec<(&'v str, Node)>,
    by_id: HashMap<&'v str, usize>,
}

impl<'v> Elements<'v> {
    fn insert(&mut self, id: &'v str, node: Node) {
        if !self.by_id.contains_key(id) {
            self.by_id.insert(id, self.order.len());
            self.order.push((id, node));
        }
    }

    /// Places every element (the described ones first, in the order the document describes
    /// them, see [`Builder::attach_roots`]); returns the node standing for each SPDX id.
    fn place(self, b: &mut Builder, described: &[&'v str]) -> HashMap<&'v str, Id> {
        let Elements { order, by_id } = self;
        let mut slots: Vec<Option<(&'v str, Node)>> = order.into_iter().map(Some).collect();
        let mut root_ids = Vec::new();
        let mut root_nodes = Vec::new();
        for id in described {
            // Taking the element out of its slot also skips repeated descriptions.
            if let Some((id, node)) = by_id
                .get(id)
                .and_then(|&i| slots.get_mut(i))
                .and_then(Option::take)
            {
                root_ids.push(id);
                root_nodes.push(node);
            }
        }
        let mut keys: HashMap<&str, Id> = HashMap::with_capacity(slots.len());
        if root_nodes.is_empty() {
            b.subjects();
        } else {
            keys.extend(root_ids.into_iter().zip(b.attach_roots(root_nodes)));
        }
        for (id, node) in slots.into_iter().flatten() {
            keys.insert(id, b.add(node));
        }
        keys
    }
}

/// An edge between two SPDX ids (none when either is not an element here); `false` once the
/// bound is reached, which an unresolved link counts towards too.
fn link(b: &mut Builder, keys: &HashMap<&str, Id>, parent: &str, child: &str) -> bool {
    match (keys.get(parent), keys.get(child)) {
        (Some(&p), Some(&c)) => b.edge(p, c),
        _ => b.room(),
    }
}

pub(super) fn spdx2(b: &mut Builder, doc: &Value) -> FactKind {
    if !doc.is_object() {
        b.fail("the SPDX document is not a JSON object");
        return FactKind::Sbom;
    }
    let doc_id = text(doc, "SPDXID").unwrap_or("SPDXRef-DOCUMENT");
    let mut elements = Elements::default();
    let mut has_files: Vec<(&str, &str)> = Vec::new();
    for (list, name_field) in [("packages", "name"), ("files", "fileName")] {
        for e in b.list(doc, list) {
            let Some(id) = text(e, "SPDXID") else {
                b.skip(format!("an element of `{list}` has no SPDXID"));
                continue;
            };
            has_files.extend(texts(e.get("hasFiles")).into_iter().map(|f| (id, f)));
            let purl = e
                .get("externalRefs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| text(r, "referenceType") == Some("purl"))
                .find_map(|r| text(r, "referenceLocator"));
            let sha = e
                .get("checksums")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| text(c, "algorithm").is_some_and(|a| a.eq_ignore_ascii_case("SHA256")))
                .find_map(|c| text(c, "checksumValue").and_then(normalize_sha256));
            match Node::new(
                purl,
                text(e, name_field),
                text(e, "versionInfo"),
                sha.as_deref(),
            ) {
                Some(node) => elements.insert(id, node),
                None => b.skip(format!("{id} has no name, purl or sha256")),
            }
        }
    }

    let relationships = b.list(doc, "relationships");
    let mut described: Vec<&str> = texts(doc.get("documentDescribes"));
    for r in relationships {
        match (
            text(r, "spdxElementId"),
            text(r, "relationshipType"),
            text(r, "relatedSpdxElement"),
        ) {
            (Some(a), Some("DESCRIBES"), Some(x)) if a == doc_id => described.push(x),
            (Some(x), Some("DESCRIBED_BY"), Some(a)) if a == doc_id => described.push(x),
            _ => {}
        }
    }
    let keys = elements.place(b, &described);

    for (package, file) in has_files {
        link(b, &keys, package, file);
    }
    for r in relationships {
        let (Some(a), Some(t), Some(x)) = (
            text(r, "spdxElementId"),
            text(r, "relationshipType"),
            text(r, "relatedSpdxElement"),
        ) else {
            if !r.is_object() {
                b.skip("a relationship is not an object");
            }
            continue;
        };
        // What an artifact is made of: its contents, its dependencies, and what it was
        // generated from (SBOMit SITs record the supply chain's materials that way).
        match t {
            "CONTAINS" | "DEPENDS_ON" | "STATIC_LINK" | "DYNAMIC_LINK" | "GENERATED_FROM" => {
                link(b, &keys, a, x);
            }
            "CONTAINED_BY" | "DEPENDENCY_OF" | "RUNTIME_DEPENDENCY_OF" | "GENERATES" => {
                link(b, &keys, x, a);
            }
            _ => {}
        }
    }
    FactKind::Sbom
}

/// The local name of an SPDX 3 type or vocabulary IRI (`software_Package` → `Package`,
/// `…/RelationshipType/contains` → `contains`).
fn local_name(s: &str) -> &str {
    s.rsplit(['/', '#', ':', '_']).next().unwrap_or(s)
}

pub(super) fn spdx3(b: &mut Builder, doc: &Value) -> FactKind {
    let graph = match doc.get("@graph") {
        Some(Value::Array(items)) => items,
        _ => {
            b.fail("the SPDX 3 `@graph` is not a list");
            return FactKind::Sbom;
        }
    };
    let mut elements = Elements::default();
    let mut described: Vec<&str> = Vec::new();
    let mut relationships: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for e in graph {
        if !e.is_object() {
            b.skip("an element of `@graph` is not an object");
            continue;
        }
        let ty = text(e, "type")
            .or_else(|| text(e, "@type"))
            .unwrap_or_default();
        let id = text(e, "spdxId").or_else(|| text(e, "@id"));
        described.extend(texts(e.get("rootElement")));
        match (local_name(ty), id) {
            ("Package" | "File", Some(id)) => {
                let purl = text(e, "software_packageUrl")
                    .or_else(|| text(e, "packageUrl"))
                    .or_else(|| {
                        e.get("externalIdentifier")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter(|x| text(x, "externalIdentifierType") == Some("packageUrl"))
                            .find_map(|x| text(x, "identifier"))
                    });
                let version =
                    text(e, "software_packageVersion").or_else(|| text(e, "packageVersion"));
                let sha = e
                    .get("verifiedUsing")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|h| {
                        text(h, "algorithm").is_some_and(|a| {
                            let a = local_name(a);
                            a.eq_ignore_ascii_case("sha256") || a.eq_ignore_ascii_case("sha-256")
                        })
                    })
                    .find_map(|h| text(h, "hashValue").and_then(normalize_sha256));
                match Node::new(purl, text(e, "name"), version, sha.as_deref()) {
                    Some(node) => elements.insert(id, node),
                    None => b.skip(format!("{id} has no name, purl or sha256")),
                }
            }
            ("Relationship" | "LifecycleScopedRelationship", _) => {
                let (Some(from), Some(t)) = (text(e, "from"), text(e, "relationshipType")) else {
                    b.skip("a relationship has no `from` or `relationshipType`");
                    continue;
                };
                let t = local_name(t);
                let to = texts(e.get("to"));
                if t == "describes" {
                    described.extend(to.iter().copied());
                }
                relationships.push((from, t, to));
            }
            ("Package" | "File", None) => b.skip(format!("a {ty} has no spdxId")),
            _ => {}
        }
    }
    // `rootElement`s name the described packages directly or through an Sbom; only those
    // that are packages or files are placed as roots.
    let keys = elements.place(b, &described);
    // A build's outputs are made of its inputs (SBOMit SITs record each supply-chain step as
    // a Build with `hasInput` / `hasOutput`).
    let mut builds: HashMap<&str, (Vec<&str>, Vec<&str>)> = HashMap::new();
    for (from, t, to) in relationships {
        match t {
            "contains" | "dependsOn" | "hasStaticLink" | "hasDynamicLink" => {
                for x in to {
                    link(b, &keys, from, x);
                }
            }
            "generates" => {
                for x in to {
                    link(b, &keys, x, from);
                }
            }
            "hasInput" => builds.entry(from).or_default().0.extend(to),
            "hasOutput" => builds.entry(from).or_default().1.extend(to),
            _ => {}
        }
    }
    for (inputs, outputs) in builds.into_values() {
        for output in &outputs {
            for input in &inputs {
                if !link(b, &keys, output, input) {
                    break;
                }
            }
        }
    }
    FactKind::Sbom
}
