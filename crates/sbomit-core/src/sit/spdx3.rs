//! SPDX 3.0.1 JSON-LD (profiles core, software, build, simpleLicensing).
//!
//! Final products and lockfile packages are `software_Package`s, other artifacts
//! `software_File`s, each with `verifiedUsing` hashes from the links or lockfiles. Each step is
//! a `build_Build` with `hasInput`/`hasOutput` relationships. `sbomit:*` evidence is in
//! `Annotation`s (`statement` `name=value`) whose subject is the component.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{
    derived_uuid, sbomit_properties, timestamp, Component, ComponentKind, HashAlg, Inventory,
    SitOptions,
};
use crate::digest::Sha256;

/// The `build_buildType` of a build recorded by an in-toto link.
pub const BUILD_TYPE: &str = "https://sbomit.dev/spdx/build/in-toto-step/v0.1";

const CREATION_INFO: &str = "_:creationinfo";

fn alg(a: HashAlg) -> &'static str {
    match a {
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        HashAlg::Sha512 => "sha512",
    }
}

struct Graph {
    base: String,
    elements: Vec<Value>,
    /// Ids of the elements listed in the document (everything but the document itself).
    ids: Vec<String>,
    next: BTreeMap<&'static str, usize>,
}

impl Graph {
    fn id(&mut self, kind: &'static str) -> String {
        let n = self.next.entry(kind).or_insert(0);
        *n += 1;
        format!("{}{kind}/{n}", self.base)
    }

    fn push(&mut self, id: String, mut v: Value) {
        v["spdxId"] = json!(id);
        v["creationInfo"] = json!(CREATION_INFO);
        self.ids.push(id);
        self.elements.push(v);
    }

    fn relationship(&mut self, from: &str, kind: &str, to: Vec<String>) {
        if to.is_empty() {
            return;
        }
        let id = self.id("Relationship");
        self.push(
            id,
            json!({"type": "Relationship", "from": from, "relationshipType": kind, "to": to}),
        );
    }

    fn annotate(&mut self, subject: &str, statement: String) {
        let id = self.id("Annotation");
        self.push(
            id,
            json!({"type": "Annotation", "annotationType": "other", "subject": subject,
                   "statement": statement}),
        );
    }
}

fn component_id(base: &str, c: &Component) -> String {
    let kind = match c.kind {
        ComponentKind::Application | ComponentKind::Library => "Package",
        ComponentKind::File => "File",
    };
    format!(
        "{base}{kind}/{}",
        &Sha256::digest(c.id.as_bytes()).to_hex()[..24]
    )
}

pub fn emit(inv: &Inventory, options: &SitOptions) -> Value {
    let base = format!(
        "https://sbomit.dev/spdx/{}/",
        derived_uuid(inv, "spdx-3.0.1")
    );
    let mut g = Graph {
        base: base.clone(),
        elements: Vec::new(),
        ids: Vec::new(),
        next: BTreeMap::new(),
    };
    let ids: BTreeMap<&str, String> = inv
        .components
        .iter()
        .map(|c| (c.id.as_str(), component_id(&base, c)))
        .collect();

    // Agents.
    let tool = format!("{base}Tool/sbomit");
    g.push(
        tool.clone(),
        json!({"type": "Tool", "name": format!("{} {}", options.tool_name, options.tool_version)}),
    );
    let agent = format!("{base}SoftwareAgent/sbomit");
    g.push(
        agent.clone(),
        json!({"type": "SoftwareAgent", "name": options.tool_name}),
    );
    let mut created_by = vec![agent];
    let supplier = inv.supplier.as_ref().map(|s| {
        let id = format!("{base}Organization/supplier");
        let mut v = json!({"type": "Organization", "name": s.name});
        if let Some(e) = &s.email {
            v["externalIdentifier"] = json!([{"type": "ExternalIdentifier",
                "externalIdentifierType": "email", "identifier": e}]);
        }
        g.push(id.clone(), v);
        id
    });
    for a in &inv.authors {
        let id = g.id("Person");
        let mut v = json!({"type": "Person", "name": a.name});
        if let Some(e) = &a.email {
            v["externalIdentifier"] = json!([{"type": "ExternalIdentifier",
                "externalIdentifierType": "email", "identifier": e}]);
        }
        g.push(id.clone(), v);
        created_by.push(id);
    }

    // Components.
    let mut sbom_elements = Vec::new();
    for c in &inv.components {
        let Some(id) = ids.get(c.id.as_str()).cloned() else {
            continue;
        };
        let mut v = Map::new();
        match c.kind {
            ComponentKind::File => {
                v.insert("type".into(), json!("software_File"));
            }
            ComponentKind::Application => {
                v.insert("type".into(), json!("software_Package"));
                v.insert("software_primaryPurpose".into(), json!("application"));
                if let Some(s) = &supplier {
                    v.insert("suppliedBy".into(), json!(s));
                }
            }
            ComponentKind::Library => {
                v.insert("type".into(), json!("software_Package"));
                v.insert("software_primaryPurpose".into(), json!("library"));
            }
        }
        v.insert("name".into(), json!(c.name));
        if let Some(ver) = &c.version {
            v.insert("software_packageVersion".into(), json!(ver));
        }
        if let Some(p) = &c.purl {
            v.insert("software_packageUrl".into(), json!(p));
        }
        if !c.hashes.is_empty() {
            v.insert(
                "verifiedUsing".into(),
                Value::Array(
                    c.hashes
                        .iter()
                        .map(|h| json!({"type": "Hash", "algorithm": alg(h.alg), "hashValue": h.hex}))
                        .collect(),
                ),
            );
        }
        g.push(id.clone(), Value::Object(v));
        sbom_elements.push(id.clone());
        for (n, value) in sbomit_properties(inv, c, options) {
            g.annotate(&id, format!("{n}={value}"));
        }
        let link_hashes: Vec<String> = c
            .evidence
            .iter()
            .filter_map(|i| inv.attestations.get(*i))
            .map(|e| e.sha256.to_hex())
            .collect();
        if !link_hashes.is_empty() {
            g.annotate(
                &id,
                format!("sbomit:attestation:sha256={}", link_hashes.join(",")),
            );
        }
    }

    // Relationships.
    let primary: Vec<String> = inv
        .primary
        .iter()
        .filter_map(|p| ids.get(p.as_str()).cloned())
        .collect();
    let packages: Vec<String> = inv
        .packages()
        .filter_map(|c| ids.get(c.id.as_str()).cloned())
        .collect();
    let mut lockfiles: Vec<String> = inv
        .packages()
        .filter_map(|c| c.from_lockfile.as_deref())
        .filter_map(|l| ids.get(l).cloned())
        .collect();
    lockfiles.sort();
    lockfiles.dedup();
    if let Some(l) = &inv.license {
        let id = g.id("LicenseExpression");
        g.push(
            id.clone(),
            json!({"type": "simplelicensing_LicenseExpression",
                   "simplelicensing_licenseExpression": l}),
        );
        for p in &primary {
            g.relationship(p, "hasDeclaredLicense", vec![id.clone()]);
        }
    }
    for p in &primary {
        g.relationship(p, "dependsOn", packages.clone());
        let manifests: Vec<String> = lockfiles.iter().filter(|l| *l != p).cloned().collect();
        g.relationship(p, "hasDependencyManifest", manifests);
    }
    for s in &inv.steps {
        let id = g.id("Build");
        g.push(
            id.clone(),
            json!({"type": "build_Build", "build_buildType": BUILD_TYPE,
                   "build_buildId": s.name}),
        );
        let names: Vec<&str> = s
            .links
            .iter()
            .filter_map(|i| inv.attestations.get(*i))
            .map(|e| e.name.as_str())
            .collect();
        if !names.is_empty() {
            g.annotate(&id, format!("sbomit:attestation:names={}", names.join(",")));
        }
        let resolve = |list: &[String]| -> Vec<String> {
            list.iter()
                .filter_map(|c| ids.get(c.as_str()).cloned())
                .collect()
        };
        g.relationship(&id, "hasInput", resolve(&s.materials));
        g.relationship(&id, "hasOutput", resolve(&s.products));
    }

    // The document, the SBOM, and the reference to the originating SBOMit document.
    let sbom = format!("{base}Sbom");
    g.push(
        sbom.clone(),
        json!({"type": "software_Sbom", "rootElement": primary, "element": sbom_elements,
               "software_sbomType": ["build"]}),
    );
    let document = format!("{base}Document");
    g.annotate(
        &document,
        format!("sbomit:document:sha256={}", inv.document_sha256.to_hex()),
    );
    let mut graph = Vec::with_capacity(g.elements.len() + 2);
    graph.push(json!({
        "type": "CreationInfo",
        "@id": CREATION_INFO,
        "specVersion": "3.0.1",
        "created": timestamp(inv),
        "createdBy": created_by,
        "createdUsing": [tool],
    }));
    graph.push(json!({
        "type": "SpdxDocument",
        "spdxId": document,
        "creationInfo": CREATION_INFO,
        "name": format!("{}-sit", inv.name),
        "rootElement": [sbom],
        "element": g.ids,
        "profileConformance": ["core", "software", "build", "simpleLicensing"],
    }));
    graph.extend(g.elements);
    json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": graph,
    })
}
