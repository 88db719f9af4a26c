//! The graph readers (issue #5): every supported format, as an in-toto Statement (what a DSSE
//! envelope carries) and as a typed payload (what a COSE Signed Statement carries), gives
//! exactly the expected nodes, edges and vulnerability facts; malformed content gives
//! `unparsed`, never a panic. Fixtures are in `testdata/graph/` (see the README there). The
//! envelopes themselves are opened by the Store, whose tests check that it hands these readers
//! what they carry.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use sbomit_intoto::envelope::Envelope;
use sbomit_sbom::read::{self, FactKind, Facts, Node, VulnStatus};
use serde_json::{json, Value};

use sbomit_testkit::{
    dsse_with_subjects as dsse_bytes, graph_fixture as fixture, hex64 as hex, sha256_of as sha,
};

/// What the Store does with a DSSE entry: open the envelope, read the Statement it carries.
fn open_dsse(predicate_type: &str, bytes: &[u8]) -> Facts {
    let env = Envelope::parse(bytes).unwrap();
    read::statement(env.payload(), predicate_type)
}

fn dsse(predicate_type: &str, subjects: &[(&str, Option<String>)], predicate: Value) -> Facts {
    let bytes = dsse_bytes(predicate_type, subjects, predicate);
    open_dsse(predicate_type, &bytes)
}

/// The usual subject: the artifact `app` (sha256 `aaaa…`).
fn app_subject() -> Vec<(&'static str, Option<String>)> {
    vec![("dist/app-1.0.tar.gz", Some(hex('a')))]
}

/// What the Store does with a COSE entry: its `sub` is the subject, its payload read by its
/// content type.
fn cose(sub: &str, content_type: &str, payload: &[u8]) -> Facts {
    read::payload(Node::from_identifier(sub), content_type, Some(payload))
}

fn cose_json(sub: &str, content_type: &str, payload: &Value) -> Facts {
    cose(sub, content_type, &serde_json::to_vec(payload).unwrap())
}

fn node_keys(f: &Facts) -> BTreeSet<String> {
    f.nodes.iter().map(|n| n.key.clone()).collect()
}

fn subject_keys(f: &Facts) -> Vec<String> {
    f.subjects.iter().map(|n| n.key.clone()).collect()
}

fn edges(f: &Facts) -> BTreeSet<(String, String)> {
    f.edges
        .iter()
        .map(|e| (e.parent.clone(), e.child.clone()))
        .collect()
}

fn vulns(f: &Facts) -> BTreeSet<(String, String, VulnStatus)> {
    f.vulns
        .iter()
        .map(|v| (v.vuln_id.clone(), v.node.clone(), v.status))
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn pairs<const N: usize>(items: [(&str, &str); N]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn node<'f>(f: &'f Facts, key: &str) -> &'f Node {
    f.nodes.iter().find(|n| n.key == key).unwrap()
}

/// The invariants every result keeps, whatever the input (`Facts::violations`).
fn well_formed(f: &Facts) {
    assert_eq!(f.violations(), Vec::<String>::new(), "{f:?}");
}

// --- The nested fixtures: one artifact, three levels of components, in every SBOM format ---

const LIB_A: &str = "purl:pkg:cargo/lib-a@1.0";
const INNER: &str = "purl:pkg:cargo/lib-a-inner@0.1?arch=x86_64";
const LIB_B: &str = "name:lib-b@2.0";

fn nested_nodes() -> BTreeSet<String> {
    let mut s = set([LIB_A, INNER, LIB_B]);
    s.extend([sha('a'), sha('d'), sha('e')]);
    s
}

fn nested_edges() -> BTreeSet<(String, String)> {
    let (a, d, e) = (sha('a'), sha('d'), sha('e'));
    pairs([
        (&a, LIB_A),
        (&a, LIB_B),
        (&a, &e),
        (LIB_A, INNER),
        (INNER, &d),
        (LIB_B, INNER),
    ])
}

/// The subject, merged with the document's description of it.
fn check_nested_subject(f: &Facts, subject_name: Option<&str>) {
    assert_eq!(subject_keys(f), vec![sha('a')]);
    let app = &f.subjects[0];
    assert_eq!(app.purl.as_deref(), Some("pkg:generic/app@1.0"));
    assert_eq!(app.version.as_deref(), Some("1.0"));
    assert_eq!(app.sha256.as_deref(), Some(hex('a').as_str()));
    if let Some(name) = subject_name {
        assert_eq!(app.name.as_deref(), Some(name));
    }
    assert_eq!(node(f, &sha('a')), app);
    let inner = node(f, INNER);
    assert_eq!(
        (inner.name.as_deref(), inner.version.as_deref()),
        (Some("lib-a-inner"), Some("0.1"))
    );
    assert_eq!(
        inner.purl.as_deref(),
        Some("pkg:cargo/lib-a-inner@0.1?arch=x86_64")
    );
    assert_eq!(inner.purl_base().as_deref(), Some("pkg:cargo/lib-a-inner"));
    // Uppercase hex in the document, lowercase here.
    assert_eq!(
        node(f, &sha('e')).sha256.as_deref(),
        Some(hex('e').as_str())
    );
    assert_eq!(node(f, &sha('d')).name.as_deref(), Some("src/deep.c"));
}

#[test]
fn cyclonedx_nested_components_dependencies_and_vex() {
    let bom = fixture("cyclonedx-nested-1.6.json");
    let f = dsse("https://cyclonedx.org/bom", &app_subject(), bom.clone());
    well_formed(&f);
    assert_eq!(f.kind, FactKind::Sbom);
    assert_eq!(f.unparsed, None);
    check_nested_subject(&f, Some("dist/app-1.0.tar.gz"));
    let mut expected = nested_nodes();
    expected.insert("purl:pkg:npm/left-pad@1.3.0".into());
    assert_eq!(node_keys(&f), expected);
    assert_eq!(edges(&f), nested_edges());
    let v = |id: &str, node: &str, s| (id.to_string(), node.to_string(), s);
    assert_eq!(
        vulns(&f),
        BTreeSet::from([
            v("CVE-2024-0001", INNER, VulnStatus::NotAffected),
            v("CVE-2024-0002", LIB_B, VulnStatus::Affected),
            v("CVE-2024-0003", LIB_A, VulnStatus::Fixed),
            v(
                "CVE-2024-0004",
                "purl:pkg:npm/left-pad@1.3.0",
                VulnStatus::UnderInvestigation
            ),
            v("CVE-2024-0005", &sha('d'), VulnStatus::Affected),
            v("CVE-2024-0006", &sha('a'), VulnStatus::NotAffected),
        ])
    );

    // The versioned predicate type, and the same BOM as a COSE statement about the purl.
    let g = dsse(
        "https://cyclonedx.org/bom/v1.6",
        &app_subject(),
        bom.clone(),
    );
    assert_eq!(g, f);
    let c = cose_json(
        "pkg:generic/app@1.0",
        "application/vnd.cyclonedx+json",
        &bom,
    );
    well_formed(&c);
    assert_eq!(c.unparsed, None);
    check_nested_subject(&c, Some("app"));
    assert_eq!(
        (node_keys(&c), edges(&c), vulns(&c)),
        (node_keys(&f), edges(&f), vulns(&f))
    );
}

#[test]
fn spdx_2_3_nested_packages_files_and_relationships() {
    let doc = fixture("spdx-2.3-nested.json");
    for t in [
        "https://spdx.dev/Document",
        "https://spdx.dev/Document/v2.3",
    ] {
        let f = dsse(t, &app_subject(), doc.clone());
        well_formed(&f);
        assert_eq!(f.kind, FactKind::Sbom);
        assert_eq!(f.unparsed, None);
        check_nested_subject(&f, Some("dist/app-1.0.tar.gz"));
        assert_eq!(node_keys(&f), nested_nodes());
        assert_eq!(edges(&f), nested_edges());
        assert!(f.vulns.is_empty());
    }
    let c = cose_json("pkg:generic/app@1.0", "application/spdx+json", &doc);
    well_formed(&c);
    check_nested_subject(&c, Some("app"));
    assert_eq!((node_keys(&c), edges(&c)), (nested_nodes(), nested_edges()));
}

#[test]
fn spdx_3_nested_packages_files_and_relationships() {
    let doc = fixture("spdx-3-nested.json");
    for t in [
        "https://spdx.dev/Document/v3",
        "https://spdx.dev/Document/v3.0.1",
    ] {
        let f = dsse(t, &app_subject(), doc.clone());
        well_formed(&f);
        assert_eq!(f.kind, FactKind::Sbom);
        assert_eq!(f.unparsed, None);
        check_nested_subject(&f, Some("dist/app-1.0.tar.gz"));
        assert_eq!(node_keys(&f), nested_nodes());
        assert_eq!(edges(&f), nested_edges());
    }
    let c = cose_json(&sha('a'), "application/spdx+json", &doc);
    well_formed(&c);
    check_nested_subject(&c, Some("app"));
    assert_eq!((node_keys(&c), edges(&c)), (nested_nodes(), nested_edges()));
}

#[test]
fn cyclonedx_root_that_is_not_the_subject_hangs_below_it() {
    let bom = fixture("cyclonedx-nested-1.6.json");
    // A different digest: the BOM describes something else; it stays a node of its own.
    let f = dsse(
        "https://cyclonedx.org/bom",
        &[("other.tar", Some(hex('b')))],
        bom.clone(),
    );
    well_formed(&f);
    assert_eq!(subject_keys(&f), vec![sha('b')]);
    assert_eq!(node(&f, &sha('b')).purl, None);
    let mut expected = nested_edges();
    expected.insert((sha('b'), sha('a')));
    assert_eq!(edges(&f), expected);

    // Two subjects, one of them the root: the root merges into that one only.
    let f = dsse(
        "https://cyclonedx.org/bom",
        &[("other.tar", Some(hex('b'))), ("app.tar", Some(hex('a')))],
        bom.clone(),
    );
    assert_eq!(subject_keys(&f), vec![sha('b'), sha('a')]);
    assert_eq!(edges(&f), nested_edges());
    assert_eq!(
        node(&f, &sha('a')).purl.as_deref(),
        Some("pkg:generic/app@1.0")
    );
    assert_eq!(node(&f, &sha('b')).purl, None);

    // A subject named by a purl that contradicts the root's.
    let c = cose_json(
        "pkg:generic/other@1.0",
        "application/vnd.cyclonedx+json",
        &bom,
    );
    assert_eq!(
        subject_keys(&c),
        vec!["purl:pkg:generic/other@1.0".to_string()]
    );
    assert!(edges(&c).contains(&("purl:pkg:generic/other@1.0".into(), sha('a'))));

    // A subject without a sha256 becomes the root it describes (keyed by the root's sha256).
    let f = dsse("https://cyclonedx.org/bom", &[("app", None)], bom);
    assert_eq!(subject_keys(&f), vec![sha('a')]);
    assert_eq!(edges(&f), nested_edges());
}

#[test]
fn cyclonedx_without_metadata_component_hangs_from_every_subject() {
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [{"name": "x", "version": "1", "components": [{"name": "y"}]}],
    });
    let f = dsse(
        "https://cyclonedx.org/bom",
        &[("a", Some(hex('a'))), ("b", Some(hex('b')))],
        bom,
    );
    well_formed(&f);
    assert_eq!(
        edges(&f),
        pairs([
            (&sha('a'), "name:x@1"),
            (&sha('b'), "name:x@1"),
            ("name:x@1", "name:y"),
        ])
    );
}

#[test]
fn cyclonedx_vex_bom_is_vex() {
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {"component": {"bom-ref": "r", "name": "app", "purl": "pkg:generic/app@1.0"}},
        "vulnerabilities": [
            {"id": "CVE-1", "affects": [{"ref": "r"}], "analysis": {"state": "not_affected"}},
            {"id": "CVE-2", "affects": [{"ref": "r"}, {"ref": "pkg:cargo/z@1"}],
             "analysis": {"state": "resolved_with_pedigree"}},
        ],
    });
    let f = cose_json(
        "pkg:generic/app@1.0",
        "application/vnd.cyclonedx+json",
        &bom,
    );
    well_formed(&f);
    assert_eq!(f.kind, FactKind::Vex);
    let app = "purl:pkg:generic/app@1.0";
    assert_eq!(
        vulns(&f),
        BTreeSet::from([
            ("CVE-1".into(), app.into(), VulnStatus::NotAffected),
            ("CVE-2".into(), app.into(), VulnStatus::Fixed),
            (
                "CVE-2".into(),
                "purl:pkg:cargo/z@1".into(),
                VulnStatus::Fixed
            ),
        ])
    );
}

// --- SITs: the SBOMs this project produces index like any SBOM, the same in every format ---

#[test]
fn sit_examples_index_alike_in_every_format() {
    let demo = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string();
    let serde = "fcb2bd0ab6c1e5ac1bd0a1cdd0d9b8bc8a3b28b5f4b2c9e3a3f0e5b6c7d8e9f0";
    let subjects = [("demo-app", Some(demo.clone()))];
    for (file, t) in [
        ("sit-cyclonedx-1.6.json", "https://cyclonedx.org/bom"),
        ("sit-spdx-2.3.json", "https://spdx.dev/Document/v2.3"),
        ("sit-spdx-3.0.1.json", "https://spdx.dev/Document/v3"),
    ] {
        let f = dsse(t, &subjects, fixture(file));
        well_formed(&f);
        assert_eq!(
            (f.kind, f.unparsed.as_deref()),
            (FactKind::Sbom, None),
            "{file}"
        );
        assert_eq!(subject_keys(&f), vec![format!("sha256:{demo}")], "{file}");
        assert_eq!(f.subjects[0].version.as_deref(), Some("1.0.0"), "{file}");
        assert_eq!(
            node_keys(&f),
            BTreeSet::from([format!("sha256:{demo}"), format!("sha256:{serde}")]),
            "{file}"
        );
        // The CycloneDX SIT also lists the product as a file component: no self-edge.
        assert_eq!(
            edges(&f),
            BTreeSet::from([(format!("sha256:{demo}"), format!("sha256:{serde}"))]),
            "{file}"
        );
        let serde_node = node(&f, &format!("sha256:{serde}"));
        assert_eq!(
            (serde_node.name.as_deref(), serde_node.version.as_deref()),
            (Some("serde"), Some("1.0.210")),
            "{file}"
        );
        // SPDX 3's SIT gives serde's purl too, as do the others.
        assert_eq!(
            serde_node.purl_base().as_deref(),
            Some("pkg:cargo/serde"),
            "{file}"
        );
    }
}

/// SITs as `sbomit sit generate --signing-key` writes them (the demo's supply chain: the
/// product hello.tar.gz, packaged from dist/hello, built from src/hello.sh): the DSSE envelope
/// bytes as registered. Each format states the chain its own way (CycloneDX lists the files
/// as components, SPDX 2.3 says GENERATED_FROM, SPDX 3 has Builds with inputs and outputs);
/// all give the same nodes and the same reachable components.
#[test]
fn signed_sits_from_sbomit_sit_generate() {
    let product = "sha256:54e45d4be9f0f45dd4a9971ef9ebbc5173db9bd783ee4b45f0a68ddd3747dee5";
    let binary = "sha256:2da0f201a3aff3d97a1b85a33bf8af64a1992b278e6e114ceba0513e5b2a666a";
    let source = "sha256:e073d29cef1e0a10a6d81bba2b327b9871bcf8dd4ec7aee0bbc39eade504692a";
    let chained = pairs([(product, binary), (binary, source)]);
    for (file, t, expected) in [
        (
            "sbomit-sit-cyclonedx-1.6.intoto.json",
            "https://cyclonedx.org/bom",
            pairs([(product, binary), (product, source)]),
        ),
        (
            "sbomit-sit-spdx-2.3.intoto.json",
            "https://spdx.dev/Document/v2.3",
            chained.clone(),
        ),
        (
            "sbomit-sit-spdx-3.0.1.intoto.json",
            "https://spdx.dev/Document/v3",
            chained.clone(),
        ),
    ] {
        let path = format!("{}/../../testdata/graph/{file}", env!("CARGO_MANIFEST_DIR"));
        let f = open_dsse(t, &std::fs::read(path).unwrap());
        well_formed(&f);
        assert_eq!(
            (f.kind, f.unparsed.as_deref()),
            (FactKind::Sbom, None),
            "{file}"
        );
        assert_eq!(subject_keys(&f), vec![product.to_string()], "{file}");
        assert_eq!(
            f.subjects[0].name.as_deref(),
            Some("hello.tar.gz"),
            "{file}"
        );
        // The SIT's document (`sbomit:document:sha256`) is a node too (issue 11).
        let documents: Vec<&Node> = f
            .nodes
            .iter()
            .filter(|n| n.name.as_deref() == Some("sbomit document"))
            .collect();
        assert_eq!(documents.len(), 1, "{file}");
        let mut keys = set([product, binary, source]);
        keys.insert(documents[0].key.clone());
        assert_eq!(node_keys(&f), keys, "{file}");
        assert_eq!(edges(&f), expected, "{file}");
        assert_eq!(
            node(&f, source).name.as_deref(),
            Some("src/hello.sh"),
            "{file}"
        );
    }
}

#[test]
fn upstream_examples_index() {
    let f = dsse(
        "https://cyclonedx.org/bom",
        &app_subject(),
        fixture("cyclonedx-valid-component-hashes-1.6.json"),
    );
    well_formed(&f);
    let acme = "sha256:d88bc4e70bfb34d18b5542136639acbb26a8ae2429aa1e47489332fb389cc964";
    assert_eq!(f.unparsed, None);
    assert_eq!(edges(&f), pairs([(&sha('a'), acme)]));

    let f = dsse(
        "https://spdx.dev/Document",
        &[("glibc", None)],
        fixture("SPDXJSONExample-v2.3.spdx.json"),
    );
    well_formed(&f);
    assert_eq!(f.unparsed, None);
    let glibc = "sha256:11b6d3ee554eedf79299905a98f9b9a04e498210b59f15094c916c91d150efcd";
    let foo_c = "name:./package/foo.c";
    let jena = "purl:pkg:maven/org.apache.jena/apache-jena@3.12.0";
    assert_eq!(node(&f, jena).name.as_deref(), Some("Jena"));
    // Two described elements: each hangs below the subject.
    assert_eq!(subject_keys(&f), vec!["name:glibc".to_string()]);
    assert_eq!(
        edges(&f),
        pairs([
            ("name:glibc", glibc),
            ("name:glibc", foo_c),
            (glibc, "name:./docs/myspec.pdf"),
            (glibc, "name:./lib-source/commons-lang3-3.1-sources.jar"),
            (glibc, "name:./lib-source/jena-2.6.3-sources.jar"),
            (glibc, "name:./src/org/spdx/parser/DOAPProject.java"),
            (glibc, "name:Saxon@8.8"),
            ("name:./lib-source/jena-2.6.3-sources.jar", glibc),
            // foo.c GENERATED_FROM Jena.
            (foo_c, jena),
        ])
    );

    let f = dsse(
        "https://spdx.dev/Document/v3",
        &[("my-package", None)],
        fixture("package_sbom-3.0.1.spdx.json"),
    );
    well_formed(&f);
    assert_eq!(f.unparsed, None);
    assert_eq!(subject_keys(&f), vec!["name:my-package@1.0".to_string()]);
    assert_eq!(
        edges(&f),
        pairs([("name:my-package@1.0", "name:myprogram")])
    );
}

// --- Vulnerabilities, VEX, end-of-life ---

#[test]
fn openvex_statuses_products_and_subjects() {
    let doc = fixture("openvex.json");
    let check = |f: &Facts, subject: &str| {
        well_formed(f);
        assert_eq!(f.kind, FactKind::Vex);
        assert_eq!(f.unparsed, None);
        let v = |id: &str, node: &str, s| (id.to_string(), node.to_string(), s);
        assert_eq!(
            vulns(f),
            BTreeSet::from([
                // The later statement on the same product wins.
                v("CVE-2024-0001", INNER, VulnStatus::NotAffected),
                v(
                    "https://nvd.nist.gov/vuln/detail/CVE-2024-0002",
                    &sha('a'),
                    VulnStatus::UnderInvestigation
                ),
                v("CVE-2024-0003", LIB_A, VulnStatus::Fixed),
                v("CVE-2024-0003", &sha('d'), VulnStatus::Fixed),
                // No products: the statement is about the subject.
                v("CVE-2024-0004", subject, VulnStatus::NotAffected),
            ])
        );
        assert!(f.edges.is_empty());
        assert_eq!(
            node(f, &sha('a')).purl.as_deref(),
            Some("pkg:generic/app@1.0")
        );
    };
    for t in ["https://openvex.dev/ns", "https://openvex.dev/ns/v0.2.0"] {
        check(&dsse(t, &app_subject(), doc.clone()), &sha('a'));
    }
    for ct in [
        "application/openvex+json",
        "application/vex+json",
        "application/json",
    ] {
        let f = cose_json("pkg:generic/app@1.0", ct, &doc);
        check(&f, "purl:pkg:generic/app@1.0");
    }
}

#[test]
fn osv_records() {
    let rec = fixture("osv.json");
    let id = "GHSA-aaaa-bbbb-cccc";
    let expected: BTreeSet<(String, String, VulnStatus)> = [
        "purl:pkg:cargo/lib-a",
        "purl:pkg:npm/left-pad",
        "purl:pkg:maven/org.example/lib-c",
        "purl:pkg:deb/debian/openssl",
    ]
    .iter()
    .map(|n| (id.to_string(), n.to_string(), VulnStatus::Affected))
    .collect();
    let check = |f: &Facts| {
        well_formed(f);
        assert_eq!(f.kind, FactKind::Vulnerabilities);
        assert_eq!(f.unparsed, None);
        assert_eq!(vulns(f), expected);
        assert_eq!(
            node(f, "purl:pkg:cargo/lib-a").name.as_deref(),
            Some("lib-a")
        );
    };
    check(&dsse(
        "https://ossf.github.io/osv-schema/v1.6.0",
        &app_subject(),
        rec.clone(),
    ));
    // Any predicate that looks like an OSV record.
    check(&dsse(
        "https://example.com/advisory/v1",
        &app_subject(),
        rec.clone(),
    ));
    for ct in [
        "application/vnd.osv+json",
        "application/osv+json",
        "application/json",
    ] {
        check(&cose_json("pkg:generic/app@1.0", ct, &rec));
    }
    // The subject is in the nodes but carries no fact.
    let f = dsse(
        "https://ossf.github.io/osv-schema/v1.6.0",
        &app_subject(),
        rec,
    );
    assert!(node_keys(&f).contains(&sha('a')));
}

#[test]
fn in_toto_and_cosign_vulnerability_scans() {
    let subjects = [("a", Some(hex('a'))), ("b", Some(hex('b')))];
    let f = dsse(
        "https://in-toto.io/attestation/vulns/v0.1",
        &subjects,
        fixture("intoto-vulns.json"),
    );
    well_formed(&f);
    assert_eq!(f.kind, FactKind::Vulnerabilities);
    assert_eq!(f.unparsed, None);
    let mut expected = BTreeSet::new();
    for id in ["CVE-2024-0001", "GHSA-aaaa-bbbb-cccc"] {
        for s in [sha('a'), sha('b')] {
            expected.insert((id.to_string(), s, VulnStatus::Affected));
        }
    }
    assert_eq!(vulns(&f), expected);

    // cosign's predicate carries the scanner's own output (Grype, Trivy).
    let scan = json!({"scanner": {"uri": "pkg:github/anchore/grype", "result": {
        "matches": [{"vulnerability": {"id": "CVE-1"}}, {"vulnerability": {"id": "CVE-2"}}],
        "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-3"}]}],
    }}});
    let f = dsse(
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        &[("a", Some(hex('a')))],
        scan,
    );
    well_formed(&f);
    let ids: BTreeSet<String> = f.vulns.iter().map(|v| v.vuln_id.clone()).collect();
    assert_eq!(ids, set(["CVE-1", "CVE-2", "CVE-3"]));
}

#[test]
fn end_of_life_and_other_statements_give_subjects_only() {
    for (t, kind) in [
        ("https://example.com/end-of-life/v1", FactKind::EndOfLife),
        (
            "https://example.com/attestation/EOL/v1",
            FactKind::EndOfLife,
        ),
        ("https://example.com/lifecycle/v0.1", FactKind::EndOfLife),
        ("https://slsa.dev/provenance/v1", FactKind::Other),
        ("https://in-toto.io/attestation/link/v0.3", FactKind::Other),
    ] {
        let f = dsse(
            t,
            &app_subject(),
            json!({"components": [{"name": "x"}], "eol": "2025-01-01"}),
        );
        well_formed(&f);
        assert_eq!((f.kind, f.unparsed.as_deref()), (kind, None), "{t}");
        assert_eq!(node_keys(&f), BTreeSet::from([sha('a')]), "{t}");
        assert!(f.edges.is_empty() && f.vulns.is_empty());
    }
    let f = cose(
        "pkg:generic/app@1.0",
        "application/vnd.example.eol+json",
        b"{}",
    );
    assert_eq!(f.kind, FactKind::EndOfLife);
    let f = cose("demo", "text/plain", b"hello");
    assert_eq!((f.kind, f.unparsed.as_deref()), (FactKind::Other, None));
    assert_eq!(subject_keys(&f), vec!["name:demo".to_string()]);
}

#[test]
fn cose_subjects_and_sniffing() {
    let bom = fixture("cyclonedx-nested-1.6.json");
    // `application/json` is sniffed; a parameter does not matter.
    for ct in [
        "application/json",
        "application/vnd.cyclonedx+json; version=1.6",
    ] {
        let f = cose_json(&sha('a'), ct, &bom);
        assert_eq!(
            (f.kind, f.unparsed.as_deref()),
            (FactKind::Sbom, None),
            "{ct}"
        );
        assert_eq!(edges(&f), nested_edges(), "{ct}");
    }
    let f = cose_json(
        "pkg:generic/app@1.0",
        "application/json",
        &fixture("spdx-2.3-nested.json"),
    );
    assert_eq!(edges(&f), nested_edges());
    let f = cose_json(
        "pkg:generic/app@1.0",
        "application/json",
        &fixture("spdx-3-nested.json"),
    );
    assert_eq!(edges(&f), nested_edges());
    // JSON that is none of the formats.
    let f = cose_json("x", "application/json", &json!({"hello": "world"}));
    assert_eq!((f.kind, f.unparsed.as_deref()), (FactKind::Other, None));
    // An in-toto Statement as a COSE payload: its subjects and the sub.
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app.tar", "digest": {"sha256": hex('a')}}],
        "predicateType": "https://spdx.dev/Document/v2.3",
        "predicate": fixture("spdx-2.3-nested.json"),
    });
    let f = cose_json(
        "pkg:generic/app@1.0",
        "application/vnd.in-toto+json",
        &statement,
    );
    well_formed(&f);
    assert_eq!(f.kind, FactKind::Sbom);
    assert_eq!(edges(&f), nested_edges());
    assert!(subject_keys(&f).contains(&sha('a')));
    // XML SBOMs are known but not indexed.
    let f = cose(
        "pkg:generic/app@1.0",
        "application/vnd.cyclonedx+xml",
        b"<bom/>",
    );
    assert_eq!(f.kind, FactKind::Sbom);
    assert!(f.unparsed.is_some());
    assert_eq!(
        subject_keys(&f),
        vec!["purl:pkg:generic/app@1.0".to_string()]
    );
}

// --- Malformed content: unparsed, subjects kept, never a panic ---

#[test]
fn malformed_content_is_unparsed_with_subjects_kept() {
    let cases = [
        ("https://cyclonedx.org/bom", json!(42)),
        (
            "https://cyclonedx.org/bom",
            json!({"components": "not a list"}),
        ),
        (
            "https://cyclonedx.org/bom",
            json!({"components": [1, {"name": "ok"}]}),
        ),
        ("https://spdx.dev/Document", json!(["no"])),
        (
            "https://spdx.dev/Document/v3",
            json!({"@graph": {"not": "a list"}}),
        ),
        (
            "https://spdx.dev/Document",
            json!({"packages": [{"name": "no SPDXID"}]}),
        ),
        (
            "https://openvex.dev/ns/v0.2.0",
            json!({"statements": [{"vulnerability": "V", "status": "maybe"}]}),
        ),
        (
            "https://ossf.github.io/osv-schema/v1.6.0",
            json!({"affected": []}),
        ),
        (
            "https://in-toto.io/attestation/vulns/v0.1",
            json!({"scanner": {"result": "x"}}),
        ),
    ];
    for (t, predicate) in cases {
        let f = dsse(t, &app_subject(), predicate.clone());
        well_formed(&f);
        assert!(f.unparsed.is_some(), "{t} {predicate}");
        assert_eq!(subject_keys(&f), vec![sha('a')], "{t} {predicate}");
    }
    // What could be read still is.
    let f = dsse(
        "https://cyclonedx.org/bom",
        &app_subject(),
        json!({"components": [1, {"name": "ok"}]}),
    );
    assert_eq!(edges(&f), pairs([(&sha('a'), "name:ok")]));
    assert_eq!(
        f.unparsed.as_deref(),
        Some("one malformed entry skipped: a component is not an object")
    );

    // A COSE statement whose payload is not JSON: the sub is still the subject.
    let f = cose(
        "pkg:generic/app@1.0",
        "application/vnd.cyclonedx+json",
        b"{not json",
    );
    assert_eq!(f.kind, FactKind::Sbom);
    assert!(f.unparsed.as_deref().unwrap().contains("not JSON"));
    assert_eq!(
        subject_keys(&f),
        vec!["purl:pkg:generic/app@1.0".to_string()]
    );

    // A payload that is not an in-toto Statement.
    let f = read::statement(&json!({"hello": 1}), "x");
    assert!(f.unparsed.is_some());
    // A detached COSE payload: the sub is still the subject.
    let f = read::payload(
        Node::from_identifier("demo"),
        "application/vnd.cyclonedx+json",
        None,
    );
    assert_eq!(f.kind, FactKind::Sbom);
    assert_eq!(f.unparsed.as_deref(), Some("the payload is detached"));
    assert_eq!(subject_keys(&f), vec!["name:demo".to_string()]);
    // Content that could not be opened at all.
    let f = read::unreadable(
        FactKind::of_predicate_type("https://cyclonedx.org/bom"),
        "no",
    );
    assert_eq!(
        (f.kind, f.unparsed.as_deref()),
        (FactKind::Sbom, Some("no"))
    );
    assert!(f.subjects.is_empty() && f.nodes.is_empty());
}

#[test]
fn kind_names() {
    let names: Vec<&str> = [
        FactKind::Sbom,
        FactKind::Vulnerabilities,
        FactKind::Vex,
        FactKind::EndOfLife,
        FactKind::Other,
    ]
    .iter()
    .map(|k| k.name())
    .collect();
    assert_eq!(
        names,
        ["sbom", "vulnerabilities", "vex", "end_of_life", "other"]
    );
}

// --- Never a panic ---

/// JSON built from the words the extractors look for, so that arbitrary values reach deep.
fn arb_json() -> impl Strategy<Value = Value> {
    const WORDS: &[&str] = &[
        "components",
        "bom-ref",
        "ref",
        "dependsOn",
        "dependencies",
        "vulnerabilities",
        "affects",
        "analysis",
        "state",
        "hashes",
        "alg",
        "content",
        "purl",
        "name",
        "version",
        "metadata",
        "component",
        "bomFormat",
        "spdxVersion",
        "SPDXID",
        "packages",
        "files",
        "fileName",
        "hasFiles",
        "checksums",
        "algorithm",
        "checksumValue",
        "externalRefs",
        "referenceType",
        "referenceLocator",
        "relationships",
        "spdxElementId",
        "relationshipType",
        "relatedSpdxElement",
        "documentDescribes",
        "@graph",
        "@context",
        "type",
        "spdxId",
        "from",
        "to",
        "rootElement",
        "verifiedUsing",
        "hashValue",
        "software_packageUrl",
        "statements",
        "vulnerability",
        "products",
        "status",
        "@id",
        "identifiers",
        "id",
        "affected",
        "package",
        "ecosystem",
        "scanner",
        "result",
        "matches",
        "Results",
        "Vulnerabilities",
        "VulnerabilityID",
        "CycloneDX",
        "SHA-256",
        "SHA256",
        "sha256",
        "sha-256",
        "purl",
        "DESCRIBES",
        "CONTAINS",
        "CONTAINED_BY",
        "DEPENDS_ON",
        "SPDXRef-DOCUMENT",
        "software_Package",
        "software_File",
        "Relationship",
        "contains",
        "dependsOn",
        "describes",
        "not_affected",
        "resolved",
        "in_triage",
        "affected",
        "fixed",
        "pkg:npm/a@1",
        "pkg:",
        "a",
        "b",
        "#",
        "@",
        "urn:cdx:x/1#a",
        "https://openvex.dev/ns",
        "spdx",
        "crates.io",
        "Maven",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "sha256:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB",
    ];
    let word = prop::sample::select(WORDS).prop_map(str::to_owned);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        word.clone().prop_map(Value::String),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(word.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PREDICATE_TYPES: &[&str] = &[
    "https://cyclonedx.org/bom",
    "https://spdx.dev/Document",
    "https://spdx.dev/Document/v3",
    "https://openvex.dev/ns/v0.2.0",
    "https://ossf.github.io/osv-schema/v1.6.0",
    "https://in-toto.io/attestation/vulns/v0.1",
    "https://cosign.sigstore.dev/attestation/vuln/v1",
    "https://example.com/end-of-life/v1",
    "https://example.com/other",
];

const CONTENT_TYPES: &[&str] = &[
    "application/vnd.cyclonedx+json",
    "application/spdx+json",
    "application/openvex+json",
    "application/vnd.osv+json",
    "application/vnd.in-toto+json",
    "application/json",
    "application/octet-stream",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_predicates_never_panic(
        predicate in arb_json(),
        t in prop::sample::select(PREDICATE_TYPES),
    ) {
        let f = dsse(t, &app_subject(), predicate);
        well_formed(&f);
        prop_assert_eq!(subject_keys(&f).first().cloned(), Some(sha('a')));
    }

    #[test]
    fn arbitrary_payloads_never_panic(
        payload in arb_json(),
        ct in prop::sample::select(CONTENT_TYPES),
        sub in prop_oneof![Just("pkg:npm/a@1".to_string()), Just(sha('a')), ".{0,20}"],
    ) {
        let f = cose_json(&sub, ct, &payload);
        well_formed(&f);
        // Under a wrapper the statement is well-formed: the sub is known whatever the payload.
        if !sub.is_empty() {
            prop_assert!(!f.subjects.is_empty());
        }
    }

    #[test]
    fn arbitrary_components_inside_a_bom_never_panic(components in arb_json(), vulns in arb_json()) {
        let bom = json!({
            "bomFormat": "CycloneDX",
            "metadata": {"component": {"bom-ref": "a", "name": "app"}},
            "components": [components],
            "vulnerabilities": [vulns],
        });
        let f = dsse("https://cyclonedx.org/bom", &app_subject(), bom);
        well_formed(&f);
    }

    #[test]
    fn arbitrary_entries_inside_spdx_and_vex_never_panic(a in arb_json(), b in arb_json()) {
        for (t, doc) in [
            ("https://spdx.dev/Document", json!({
                "spdxVersion": "SPDX-2.3",
                "documentDescribes": ["SPDXRef-a"],
                "packages": [{"SPDXID": "SPDXRef-a", "name": "a"}, a.clone()],
                "relationships": [b.clone()],
            })),
            ("https://spdx.dev/Document/v3", json!({"@graph": [
                {"type": "software_Sbom", "spdxId": "s", "rootElement": ["p"]},
                {"type": "software_Package", "spdxId": "p", "name": "p"},
                a.clone(),
                b.clone(),
            ]})),
            ("https://openvex.dev/ns", json!({"statements": [a.clone(), b.clone()]})),
            ("https://ossf.github.io/osv-schema/v1.6.0", json!({"id": "X", "affected": [a.clone(), b.clone()]})),
        ] {
            let f = dsse(t, &app_subject(), doc);
            well_formed(&f);
            prop_assert_eq!(subject_keys(&f).first().cloned(), Some(sha('a')));
        }
    }
}

/// Issue 11: an SBOMit document registered as evidence is a node keyed by its document digest
/// (each earlier version too); a SIT names its document; a link's artifacts are nodes.
#[test]
fn sbomit_documents_sits_and_links_are_indexed_by_digest() {
    use sbomit_sbom::read::{INTOTO_LINK_CONTENT_TYPE, SBOMIT_DOCUMENT_CONTENT_TYPE};
    let c = crate::sit_validate::chain();
    let digest = c.doc.digest().unwrap().to_hex();
    let bytes = c.doc.to_bytes();
    for ct in [SBOMIT_DOCUMENT_CONTENT_TYPE, "application/json"] {
        let f = read::payload([], ct, Some(&bytes));
        assert_eq!(f.unparsed, None, "{ct}");
        assert!(
            f.nodes
                .iter()
                .any(|n| n.sha256.as_deref() == Some(digest.as_str())),
            "{ct}: {:?}",
            f.nodes
        );
    }
    let inv = crate::sit_validate::inventory(&c);
    for format in sbomit_sbom::sit::Format::ALL {
        let s = sbomit_sbom::sit::generate(&c.doc, &inv, format, &crate::sit_validate::options())
            .unwrap();
        let f = read::payload([], "application/json", Some(&s.to_bytes()));
        assert!(
            f.nodes
                .iter()
                .any(|n| n.sha256.as_deref() == Some(digest.as_str())),
            "{format:?}: the SIT's document is not a node"
        );
    }
    let link = serde_json::json!({"signed": {"_type": "link", "name": "build",
        "materials": {"src/a.c": {"sha256": "aa".repeat(32)}},
        "products": {"app": {"sha256": "bb".repeat(32)}}}, "signatures": []});
    let f = read::payload(
        [],
        INTOTO_LINK_CONTENT_TYPE,
        Some(&serde_json::to_vec(&link).unwrap()),
    );
    assert_eq!(f.nodes.len(), 2, "{:?}", f.nodes);
}
