//! CycloneDX 1.2 to 1.7 JSON.
//!
//! Final product → `metadata.component` (more than one: the others are `application`
//! components); materials and products → `file` components; lockfile packages → `library`
//! components with purls; steps → `formulation` tasks with their inputs, outputs and
//! commands. `sbomit:*` evidence goes in component `properties`, each link also as an
//! `externalReferences` entry of type `attestation` carrying the link file's SHA-256.
//!
//! Older versions say less, each within its own schema (strict variants included; see
//! [`Version`] and "CycloneDX versions" in `docs/formats/sbomit-document.md`): before 1.5
//! there is no `formulation` (the steps are left out; each component still names its links)
//! and no `attestation` reference type (`other` is used); `metadata.tools` is an array of
//! tools; 1.2 and 1.3 require a component `version` (the schema's default, `""`, when there is
//! none); 1.2 has no `properties` at all, so the `sbomit:*` pairs become `externalReferences`
//! of type `other` (named in `comment`) and the document reference a BOM-level external
//! reference, and its references carry no hashes.

use serde_json::{json, Map, Value};

use super::stream::{Arrays, Lazy};
use super::{
    derived_uuid, evidence_url, sbomit_properties, timestamp, url_path, Component, ComponentKind,
    HashAlg, Inventory, SitOptions,
};
use crate::document::Party;

fn alg(a: HashAlg) -> &'static str {
    match a {
        HashAlg::Sha256 => "SHA-256",
        HashAlg::Sha384 => "SHA-384",
        HashAlg::Sha512 => "SHA-512",
    }
}

fn contact(p: &Party) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name));
    if let Some(e) = &p.email {
        m.insert("email".into(), json!(e));
    }
    Value::Object(m)
}

fn supplier(p: &Party, contacts: &[Party]) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name));
    if let Some(u) = &p.url {
        m.insert("url".into(), json!([u]));
    }
    let c: Vec<Value> = contacts.iter().map(contact).collect();
    if !c.is_empty() {
        m.insert("contact".into(), Value::Array(c));
    }
    Value::Object(m)
}

/// A CycloneDX specification version, and what it can express.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V1_2,
    V1_3,
    V1_4,
    V1_5,
    V1_6,
    V1_7,
}

impl Version {
    /// `specVersion`.
    pub fn spec_version(self) -> &'static str {
        match self {
            Version::V1_2 => "1.2",
            Version::V1_3 => "1.3",
            Version::V1_4 => "1.4",
            Version::V1_5 => "1.5",
            Version::V1_6 => "1.6",
            Version::V1_7 => "1.7",
        }
    }

    /// `properties` on components and metadata exist from 1.3 on.
    fn has_properties(self) -> bool {
        self >= Version::V1_3
    }

    /// `formulation`, the `attestation` reference type and `metadata.tools` as an object
    /// (`{"components": [...]}`) come with 1.5.
    fn has_formulation(self) -> bool {
        self >= Version::V1_5
    }

    /// External references carry `hashes` from 1.3 on.
    fn reference_hashes(self) -> bool {
        self >= Version::V1_3
    }

    /// 1.2 and 1.3 require a component `version`.
    fn requires_component_version(self) -> bool {
        self <= Version::V1_3
    }

    /// The `$schema` to write. The strict 1.2 and 1.3 schemas pin `$schema` to one revision's
    /// URL (`bom-1.2a`, `bom-1.3`) that the schemas bundled by validators do not agree on, and
    /// `$schema` is optional: it is left out there.
    fn schema_url(self) -> Option<String> {
        (self >= Version::V1_4).then(|| {
            format!(
                "http://cyclonedx.org/schema/bom-{}.schema.json",
                self.spec_version()
            )
        })
    }
}

/// The reference type of a link: `attestation` from 1.5, `other` before.
fn attestation_type(v: Version) -> &'static str {
    if v.has_formulation() {
        "attestation"
    } else {
        "other"
    }
}

/// A `sbomit:*` pair as CycloneDX 1.2 can carry it (it has no `properties`): external
/// references of type `other` whose `comment` is the pair's name and whose `url` is its value
/// as a URL: one per listed URL (`…:urls`), one `data:` URL per embedded attestation or layout
/// (`…:contents`), and prose (`sbomit:unhashed`) as a `data:text/plain` URL.
fn legacy_property_refs(name: &str, value: &str) -> Vec<Value> {
    let urls: Vec<String> = if name.ends_with(":urls") {
        value.split(',').map(str::to_owned).collect()
    } else if name.ends_with(":contents") {
        value
            .split(',')
            .map(|b| format!("data:application/json;base64,{b}"))
            .collect()
    } else {
        vec![format!("data:text/plain;charset=utf-8,{}", url_path(value))]
    };
    urls.into_iter()
        .map(|url| json!({"type": "other", "url": url, "comment": name}))
        .collect()
}

fn component(inv: &Inventory, c: &Component, options: &SitOptions, v: Version) -> Value {
    let mut m = Map::new();
    let kind = match c.kind {
        ComponentKind::Application => "application",
        ComponentKind::File => "file",
        ComponentKind::Library => "library",
    };
    m.insert("type".into(), json!(kind));
    m.insert("bom-ref".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    match &c.version {
        Some(version) => {
            m.insert("version".into(), json!(version));
        }
        None if v.requires_component_version() => {
            m.insert("version".into(), json!(""));
        }
        None => {}
    }
    if c.kind == ComponentKind::Application {
        if let Some(s) = &inv.supplier {
            m.insert("supplier".into(), supplier(s, &inv.contacts));
        }
        if let Some(l) = &inv.license {
            m.insert("licenses".into(), json!([{"expression": l}]));
        }
    }
    if !c.hashes.is_empty() {
        m.insert(
            "hashes".into(),
            Value::Array(
                c.hashes
                    .iter()
                    .map(|h| json!({"alg": alg(h.alg), "content": h.hex}))
                    .collect(),
            ),
        );
    }
    if let Some(p) = &c.purl {
        m.insert("purl".into(), json!(p));
    }
    let pairs = sbomit_properties(inv, c, options);
    let mut refs: Vec<Value> = c
        .evidence
        .iter()
        .filter_map(|i| inv.attestations.get(*i))
        .map(|e| {
            let mut r = Map::new();
            r.insert("type".into(), json!(attestation_type(v)));
            r.insert("url".into(), json!(evidence_url(inv, options, &e.name)));
            r.insert(
                "comment".into(),
                json!(format!("in-toto link metadata for step {}", e.step)),
            );
            if v.reference_hashes() {
                r.insert(
                    "hashes".into(),
                    json!([{"alg": "SHA-256", "content": e.sha256.to_hex()}]),
                );
            }
            Value::Object(r)
        })
        .collect();
    if v.has_properties() {
        let props: Vec<Value> = pairs
            .into_iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        if !props.is_empty() {
            m.insert("properties".into(), Value::Array(props));
        }
    } else {
        for (n, value) in &pairs {
            refs.extend(legacy_property_refs(n, value));
        }
    }
    if !refs.is_empty() {
        m.insert("externalReferences".into(), Value::Array(refs));
    }
    Value::Object(m)
}

fn formulation<'a>(inv: &'a Inventory, arrays: &mut Arrays<'a>) -> Value {
    let tasks: Vec<Value> = inv
        .steps
        .iter()
        .map(|s| {
            let mut t = Map::new();
            t.insert("bom-ref".into(), json!(format!("task:{}", s.name)));
            t.insert("uid".into(), json!(s.name));
            t.insert("name".into(), json!(s.name));
            t.insert("taskTypes".into(), json!(["build"]));
            if !s.command.is_empty() {
                t.insert(
                    "steps".into(),
                    json!([{"name": s.name, "commands": [{"executed": s.command.join(" ")}]}]),
                );
            }
            // A build step of 100,000 files has 100,000 inputs: made while writing.
            let mut resources = |ids: &'a [String]| {
                arrays.array(ids.len(), move |i| json!({"resource": {"ref": ids[i]}}))
            };
            if !s.materials.is_empty() {
                t.insert("inputs".into(), resources(&s.materials));
            }
            if !s.products.is_empty() {
                t.insert("outputs".into(), resources(&s.products));
            }
            let names: Vec<&str> = s
                .links
                .iter()
                .filter_map(|i| inv.attestations.get(*i))
                .map(|e| e.name.as_str())
                .collect();
            if !names.is_empty() {
                t.insert(
                    "properties".into(),
                    json!([{"name": "sbomit:attestation:names", "value": names.join(",")}]),
                );
            }
            Value::Object(t)
        })
        .collect();
    let mut workflow = Map::new();
    workflow.insert("bom-ref".into(), json!("workflow:in-toto"));
    workflow.insert(
        "uid".into(),
        json!(format!("sha256:{}", inv.layout.sha256.to_hex())),
    );
    workflow.insert("name".into(), json!("in-toto supply chain"));
    workflow.insert("taskTypes".into(), json!(["build"]));
    if !tasks.is_empty() {
        workflow.insert("tasks".into(), Value::Array(tasks));
    }
    json!([{"bom-ref": "formula:in-toto", "workflows": [Value::Object(workflow)]}])
}

/// The SBOM in CycloneDX `v`, its components and formulation resources made while writing
/// ([`super::stream`]).
pub fn emit_lazy<'a>(inv: &'a Inventory, v: Version, options: &'a SitOptions) -> Lazy<'a> {
    let spec_version = v.spec_version();
    let mut arrays = Arrays::default();
    let mut metadata = Map::new();
    metadata.insert("timestamp".into(), json!(timestamp(inv)));
    let tools = if v.has_formulation() {
        json!({"components": [{"type": "application", "name": options.tool_name,
                               "version": options.tool_version}]})
    } else {
        // Before 1.5 (and deprecated since), tools are an array of tool objects.
        json!([{"name": options.tool_name, "version": options.tool_version}])
    };
    metadata.insert("tools".into(), tools);
    // The first component is the metadata component when it is the final product.
    let first_is_primary = inv
        .components
        .first()
        .is_some_and(|c| c.kind == ComponentKind::Application);
    if first_is_primary {
        if let Some(c) = inv.components.first() {
            metadata.insert("component".into(), component(inv, c, options, v));
        }
    }
    let rest = &inv.components[usize::from(first_is_primary)..];
    let components = arrays.array(rest.len(), move |i| component(inv, &rest[i], options, v));
    if let Some(s) = &inv.supplier {
        metadata.insert("supplier".into(), supplier(s, &inv.contacts));
    }
    if !inv.authors.is_empty() {
        metadata.insert(
            "authors".into(),
            Value::Array(inv.authors.iter().map(contact).collect()),
        );
    }
    // 1.2 has no metadata properties: the document reference is a BOM-level external
    // reference whose comment reads as the pair (`document_digest_from_sit` finds it).
    let document_ref = (!v.has_properties()).then(|| {
        json!([{"type": "other",
                "url": format!("urn:sbomit:document:sha256:{}", inv.document_sha256.to_hex()),
                "comment": format!("sbomit:document:sha256={}", inv.document_sha256.to_hex())}])
    });
    if v.has_properties() {
        metadata.insert(
            "properties".into(),
            json!([{"name": "sbomit:document:sha256", "value": inv.document_sha256.to_hex()}]),
        );
    }

    // Relationships: each final product depends on every attested package; each lockfile
    // lists the packages read from it.
    let packages: Vec<&Component> = inv.packages().collect();
    let mut dependencies = Vec::new();
    let all_pkgs: Vec<&str> = packages.iter().map(|c| c.id.as_str()).collect();
    for p in &inv.primary {
        dependencies.push(json!({"ref": p, "dependsOn": all_pkgs}));
    }
    let mut by_lockfile: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for c in &packages {
        if let Some(l) = &c.from_lockfile {
            by_lockfile.entry(l.as_str()).or_default().push(&c.id);
        }
    }
    for (l, pkgs) in by_lockfile {
        if !inv.primary.iter().any(|p| p == l) {
            dependencies.push(json!({"ref": l, "dependsOn": pkgs}));
        }
    }
    for c in &packages {
        dependencies.push(json!({"ref": c.id}));
    }

    let mut bom = Map::new();
    if let Some(url) = v.schema_url() {
        bom.insert("$schema".into(), json!(url));
    }
    bom.insert("bomFormat".into(), json!("CycloneDX"));
    bom.insert("specVersion".into(), json!(spec_version));
    bom.insert(
        "serialNumber".into(),
        json!(format!(
            "urn:uuid:{}",
            derived_uuid(inv, &format!("cyclonedx-{spec_version}"))
        )),
    );
    bom.insert("version".into(), json!(1));
    bom.insert("metadata".into(), Value::Object(metadata));
    bom.insert("components".into(), components);
    if let Some(r) = document_ref {
        bom.insert("externalReferences".into(), r);
    }
    bom.insert("dependencies".into(), Value::Array(dependencies));
    if v.has_formulation() {
        bom.insert("formulation".into(), formulation(inv, &mut arrays));
    }
    arrays.finish(Value::Object(bom))
}
