//! SPDX 3.0.1 JSON-LD (profiles core, software, build, simpleLicensing).
//!
//! Final products and lockfile packages are `software_Package`s, other artifacts
//! `software_File`s, each with `verifiedUsing` hashes from the links or lockfiles. Each step is
//! a `build_Build` with `hasInput`/`hasOutput` relationships. `sbomit:*` evidence is in
//! `Annotation`s (`statement` `name=value`) whose subject is the component.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{json, Map, Value};

use super::stream::{Arrays, Lazy};
use super::{
    derived_uuid, has_evidence, sbomit_properties, sbomit_property_count, timestamp, Component,
    ComponentKind, HashAlg, Inventory, SitOptions,
};
use sbomit_intoto::digest::Sha256;

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

/// Elements made ahead of the components (agents) or after them (relationships, builds,
/// the SBOM), numbered per kind in graph order.
struct Graph {
    base: String,
    elements: Vec<Value>,
    /// Ids of the elements listed in the document (everything but the document itself).
    ids: Vec<String>,
    next: BTreeMap<&'static str, usize>,
}

/// The id of the `n`th element of `kind` (counted from 1 in graph order).
fn numbered_id(base: &str, kind: &str, n: usize) -> String {
    format!("{base}{kind}/{n}")
}

impl Graph {
    /// An empty graph whose numbering continues from `next`.
    fn new(base: &str, next: BTreeMap<&'static str, usize>) -> Self {
        Graph {
            base: base.to_owned(),
            elements: Vec::new(),
            ids: Vec::new(),
            next,
        }
    }

    fn id(&mut self, kind: &'static str) -> String {
        let n = self.next.entry(kind).or_insert(0);
        *n += 1;
        numbered_id(&self.base, kind, *n)
    }

    fn push(&mut self, id: String, v: Value) {
        self.ids.push(id.clone());
        self.elements.push(element(id, v));
    }

    fn relationship(&mut self, from: &str, kind: &str, to: Value) {
        let id = self.id("Relationship");
        self.push(
            id,
            json!({"type": "Relationship", "from": from, "relationshipType": kind, "to": to}),
        );
    }

    fn annotate(&mut self, subject: &str, statement: String) {
        let id = self.id("Annotation");
        self.push(id, annotation(subject, statement));
    }
}

fn element(id: String, mut v: Value) -> Value {
    v["spdxId"] = json!(id);
    v["creationInfo"] = json!(CREATION_INFO);
    v
}

fn annotation(subject: &str, statement: String) -> Value {
    json!({"type": "Annotation", "annotationType": "other", "subject": subject,
           "statement": statement})
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

/// A component's element (without its id).
fn component(c: &Component, supplier: Option<&str>) -> Value {
    let mut v = Map::new();
    match c.kind {
        ComponentKind::File => {
            v.insert("type".into(), json!("software_File"));
        }
        ComponentKind::Application => {
            v.insert("type".into(), json!("software_Package"));
            v.insert("software_primaryPurpose".into(), json!("application"));
            if let Some(s) = supplier {
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
    Value::Object(v)
}

/// The statements of a component's annotations: its `sbomit:*` properties, then the SHA-256
/// of each link file evidencing it.
fn component_statements(inv: &Inventory, c: &Component, options: &SitOptions) -> Vec<String> {
    let mut out: Vec<String> = sbomit_properties(inv, c, options)
        .into_iter()
        .map(|(n, value)| format!("{n}={value}"))
        .collect();
    if has_evidence(inv, c) {
        let link_hashes: Vec<String> = c
            .evidence
            .iter()
            .filter_map(|i| inv.attestations.get(*i))
            .map(|e| e.sha256.to_hex())
            .collect();
        out.push(format!(
            "sbomit:attestation:sha256={}",
            link_hashes.join(",")
        ));
    }
    out
}

/// How many statements [`component_statements`] gives, without making them.
fn component_statement_count(inv: &Inventory, c: &Component, options: &SitOptions) -> usize {
    sbomit_property_count(inv, c, options) + usize::from(has_evidence(inv, c))
}

/// The SPDX 3 JSON-LD graph. Each component is a run of elements (the component, then its
/// annotations), made while writing ([`super::stream`]); annotations are numbered ahead from
/// the count each component has, so the numbers are those of making the graph in order.
pub fn emit_lazy<'a>(inv: &'a Inventory, options: &'a SitOptions) -> Lazy<'a> {
    let base = format!(
        "https://sbomit.dev/spdx/{}/",
        derived_uuid(inv, "spdx-3.0.1")
    );
    let mut arrays = Arrays::default();
    let comp_ids: Arc<Vec<String>> = Arc::new(
        inv.components
            .par_iter()
            .map(|c| component_id(&base, c))
            .collect(),
    );
    let index: BTreeMap<&str, usize> = inv
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let indices = |list: &[String]| -> Vec<usize> {
        list.iter()
            .filter_map(|c| index.get(c.as_str()).copied())
            .collect()
    };

    // Agents.
    let mut head = Graph::new(&base, BTreeMap::new());
    let tool = format!("{base}Tool/sbomit");
    head.push(
        tool.clone(),
        json!({"type": "Tool", "name": format!("{} {}", options.tool_name, options.tool_version)}),
    );
    let agent = format!("{base}SoftwareAgent/sbomit");
    head.push(
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
        head.push(id.clone(), v);
        id
    });
    for a in &inv.authors {
        let id = head.id("Person");
        let mut v = json!({"type": "Person", "name": a.name});
        if let Some(e) = &a.email {
            v["externalIdentifier"] = json!([{"type": "ExternalIdentifier",
                "externalIdentifierType": "email", "identifier": e}]);
        }
        head.push(id.clone(), v);
        created_by.push(id);
    }

    // Components: where each one's annotations start.
    let counts: Vec<usize> = inv
        .components
        .par_iter()
        .map(|c| component_statement_count(inv, c, options))
        .collect();
    let mut first_annotation = Vec::with_capacity(counts.len());
    let mut annotations = 0;
    for n in &counts {
        first_annotation.push(annotations + 1);
        annotations += n;
    }
    let first_annotation = Arc::new(first_annotation);
    let counts = Arc::new(counts);
    let component_run = {
        let (ids, first, base, supplier, counts) = (
            Arc::clone(&comp_ids),
            Arc::clone(&first_annotation),
            base.clone(),
            supplier.clone(),
            Arc::clone(&counts),
        );
        move |i: usize| -> Vec<Value> {
            let c = &inv.components[i];
            let mut run = vec![element(ids[i].clone(), component(c, supplier.as_deref()))];
            for (k, statement) in component_statements(inv, c, options)
                .into_iter()
                .enumerate()
            {
                let id = numbered_id(&base, "Annotation", first[i] + k);
                run.push(element(id, annotation(&ids[i], statement)));
            }
            // The numbering above relies on the count being exact (tests run with this on).
            debug_assert_eq!(run.len(), 1 + counts[i], "annotation count of {}", c.id);
            run
        }
    };
    let component_run_ids = {
        let (ids, first, base) = (
            Arc::clone(&comp_ids),
            Arc::clone(&first_annotation),
            base.clone(),
        );
        move |i: usize| -> Vec<Value> {
            let mut run = vec![json!(ids[i])];
            run.extend(
                (0..counts[i]).map(|k| json!(numbered_id(&base, "Annotation", first[i] + k))),
            );
            run
        }
    };

    // Relationships, builds and the SBOM, numbered after the components' annotations.
    let mut next = head.next.clone();
    next.insert("Annotation", annotations);
    let mut tail = Graph::new(&base, next);
    let primary: Vec<String> = inv
        .primary
        .iter()
        .filter_map(|p| index.get(p.as_str()).map(|i| comp_ids[*i].clone()))
        .collect();
    let packages: Vec<String> = inv
        .packages()
        .filter_map(|c| index.get(c.id.as_str()).map(|i| comp_ids[*i].clone()))
        .collect();
    let mut lockfiles: Vec<String> = inv
        .packages()
        .filter_map(|c| c.from_lockfile.as_deref())
        .filter_map(|l| index.get(l).map(|i| comp_ids[*i].clone()))
        .collect();
    lockfiles.sort();
    lockfiles.dedup();
    if let Some(l) = &inv.license {
        let id = tail.id("LicenseExpression");
        tail.push(
            id.clone(),
            json!({"type": "simplelicensing_LicenseExpression",
                   "simplelicensing_licenseExpression": l}),
        );
        for p in &primary {
            tail.relationship(p, "hasDeclaredLicense", json!([id]));
        }
    }
    for p in &primary {
        if !packages.is_empty() {
            tail.relationship(p, "dependsOn", json!(packages));
        }
        let manifests: Vec<&String> = lockfiles.iter().filter(|l| *l != p).collect();
        if !manifests.is_empty() {
            tail.relationship(p, "hasDependencyManifest", json!(manifests));
        }
    }
    for s in &inv.steps {
        let id = tail.id("Build");
        tail.push(
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
            tail.annotate(&id, format!("sbomit:attestation:names={}", names.join(",")));
        }
        // A step over 100,000 files has 100,000 inputs: listed while writing.
        for (kind, list) in [
            ("hasInput", indices(&s.materials)),
            ("hasOutput", indices(&s.products)),
        ] {
            if !list.is_empty() {
                let ids = Arc::clone(&comp_ids);
                let to = arrays.array(list.len(), move |i| json!(ids[list[i]]));
                tail.relationship(&id, kind, to);
            }
        }
    }

    // The document, the SBOM, and the reference to the originating SBOMit document.
    let sbom = format!("{base}Sbom");
    let sbom_elements = {
        let ids = Arc::clone(&comp_ids);
        arrays.array(ids.len(), move |i| json!(ids[i]))
    };
    tail.push(
        sbom.clone(),
        json!({"type": "software_Sbom", "rootElement": primary, "element": sbom_elements,
               "software_sbomType": ["build"]}),
    );
    let document = format!("{base}Document");
    tail.annotate(
        &document,
        format!("sbomit:document:sha256={}", inv.document_sha256.to_hex()),
    );

    // Everything but the document itself, in graph order: agents, component runs, the rest.
    let n = inv.components.len();
    let (head_len, tail_len) = (head.elements.len(), tail.elements.len());
    let (head_ids, tail_ids) = (head.ids, tail.ids);
    let listed = arrays.blocks(head_len + n + tail_len, move |b| {
        if b < head_len {
            vec![json!(head_ids[b])]
        } else if b < head_len + n {
            component_run_ids(b - head_len)
        } else {
            vec![json!(tail_ids[b - head_len - n])]
        }
    });
    let mut fixed = vec![
        json!({
            "type": "CreationInfo",
            "@id": CREATION_INFO,
            "specVersion": "3.0.1",
            "created": timestamp(inv),
            "createdBy": created_by,
            "createdUsing": [tool],
        }),
        json!({
            "type": "SpdxDocument",
            "spdxId": document,
            "creationInfo": CREATION_INFO,
            "name": format!("{}-sit", inv.name),
            "rootElement": [sbom],
            "element": listed,
            "profileConformance": ["core", "software", "build", "simpleLicensing"],
        }),
    ];
    fixed.extend(head.elements);
    let head_len = fixed.len();
    let tail_elements = tail.elements;
    let graph = arrays.blocks(head_len + n + tail_len, move |b| {
        if b < head_len {
            vec![fixed[b].clone()]
        } else if b < head_len + n {
            component_run(b - head_len)
        } else {
            vec![tail_elements[b - head_len - n].clone()]
        }
    });
    arrays.finish(json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": graph,
    }))
}
