//! The SBOMit trust model (issue 11): the layout names a mutator (`sbomit-mutate`) that signs
//! every part of the document, and a SIT generator (`sbomit-sit`) that signs each SIT; document
//! verification does all of SBOMit §5.2.1; standard in-toto verifiers still accept the layout
//! with its links. See `docs/formats/sbomit-document.md`, "Roles".

#![allow(clippy::unwrap_used)] // tests fail loudly on broken fixtures

use crate::common::*;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// Keys, a layout with a build step, a mutator and a generator, and one build of `src/` with
/// content `version` into `links` (relative to `p`).
fn setup(p: &Path, roles: &str) {
    for k in ["owner", "dev", "mut", "gen", "other"] {
        ok(sbomit(p, &["key", "generate", "--out", k]));
    }
    std::fs::write(
        p.join("layout.toml"),
        format!(
            r#"expires = "2099-01-01T00:00:00Z"
[keys]
dev = "dev.pub"
mut = "mut.pub"
gen = "gen.pub"
[[steps]]
name = "build"
functionaries = ["dev"]
expected_command = ["tar", "czf", "app.tgz", "src"]
expected_materials = ["ALLOW src/*", "DISALLOW *"]
expected_products = ["CREATE app.tgz", "DISALLOW *"]
{roles}"#
        ),
    )
    .unwrap();
    sign_layout(p, "layout.toml", "root.layout", "owner");
}

const ROLES: &str = r#"
[[steps]]
name = "sbomit-mutate"
functionaries = ["mut"]
[[steps]]
name = "sbomit-sit"
functionaries = ["gen"]
"#;

/// Runs the build step in `p/<work>` (its `src/main.c` holding `version`), link into `links`.
fn build(p: &Path, work: &str, links: &str, version: &str) {
    let w = p.join(work);
    std::fs::create_dir_all(w.join("src")).unwrap();
    std::fs::create_dir_all(p.join(links)).unwrap();
    std::fs::write(w.join("src/main.c"), format!("int v = {version};\n")).unwrap();
    let key = "../dev".to_owned();
    let dir = format!("../{links}");
    ok(sbomit(
        &w,
        &[
            "run",
            "-n",
            "build",
            "--signing-key",
            &key,
            "-d",
            &dir,
            "-m",
            "src",
            "-p",
            "app.tgz",
            "--",
            "tar",
            "czf",
            "app.tgz",
            "src",
        ],
    ));
}

/// A sealed document `doc.json` with a supplement and a CycloneDX mutation.
pub(crate) fn chain(p: &Path) {
    setup(p, ROLES);
    build(p, "work", "links", "1");
    std::fs::write(
        p.join("supplement.toml"),
        "name = \"app\"\nversion = \"1.0\"\nlicense = \"MIT\"\n[supplier]\nname = \"ACME\"\n",
    )
    .unwrap();
    write_json(
        &p.join("mutation.json"),
        &json!([{"op": "add", "path": "/metadata/component/description", "value": "the app"}]),
    );
    ok(sbomit(
        p,
        &[
            "document",
            "create",
            "--layout",
            "root.layout",
            "--link-dir",
            "links",
            "--supplement",
            "supplement.toml",
            "--mutation",
            "cyclonedx=mutation.json",
            "--signing-key",
            "mut",
            "--out",
            "doc.json",
        ],
    ));
}

fn verify_doc(p: &Path, doc: &str, extra: &[&str]) -> std::process::Output {
    let mut a = vec![
        "document",
        "verify",
        "--document",
        doc,
        "--layout-keys",
        "owner.pub",
    ];
    a.extend(extra);
    sbomit(p, &a)
}

fn edit(p: &Path, from: &str, to: &str, f: impl FnOnce(&mut Value)) {
    let mut v = read_json(&p.join(from));
    f(&mut v);
    write_json(&p.join(to), &v);
}

fn metadata_name(v: &Value, step: &str) -> String {
    v["metadata"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.starts_with(&format!("{step}.")))
        .unwrap()
        .clone()
}

// ---- a. tampering with any part of the document is caught and named

/// An edit of the document's JSON.
type Tamper = Box<dyn FnOnce(&mut Value)>;

#[test]
fn a_sealed_document_verifies_and_names_its_mutator() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    let o = ok(verify_doc(p, "doc.json", &[]));
    let t = text(&o);
    assert!(
        t.contains("signed by the layout's mutator (sbomit-mutate."),
        "{t}"
    );
    assert!(
        t.contains("SIT step sbomit-sit: no SIT recorded yet"),
        "{t}"
    );
}

#[test]
fn tampering_with_each_part_of_the_document_fails_and_names_the_part() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    // A second build by the same functionary, from other sources: a valid link of the same
    // step and key, which in-toto's rules accept.
    build(p, "work2", "links2", "2");
    let doc = read_json(&p.join("doc.json"));
    let build_name = metadata_name(&doc, "build");
    let other_link = read_json(&p.join("links2").join(&build_name));

    let cases: Vec<(&str, Tamper, String)> = vec![
        (
            "supplement",
            Box::new(|v: &mut Value| v["supplement"]["supplier"]["name"] = json!("Evil Corp")),
            "/supplement".into(),
        ),
        (
            "mutation",
            Box::new(|v: &mut Value| v["mutations"]["cyclonedx"][0]["value"] = json!("evil")),
            "/mutations/cyclonedx".into(),
        ),
        (
            "new mutation",
            Box::new(|v: &mut Value| {
                v["mutations"]["spdx-2.3"] =
                    json!([{"op": "add", "path": "/comment", "value": "x"}])
            }),
            "/mutations/spdx-2.3".into(),
        ),
        (
            "swapped link",
            {
                let n = build_name.clone();
                Box::new(move |v: &mut Value| v["metadata"][&n] = other_link)
            },
            format!("/metadata/{build_name}"),
        ),
        (
            "added metadata entry",
            {
                let n = build_name.clone();
                Box::new(move |v: &mut Value| {
                    let l = v["metadata"][&n].clone();
                    v["metadata"]["extra.12345678.link"] = l;
                })
            },
            "/metadata/extra.12345678.link".into(),
        ),
    ];
    for (what, tamper, part) in cases {
        edit(p, "doc.json", "tampered.json", tamper);
        let o = verify_doc(p, "tampered.json", &[]);
        let t = text(&o);
        assert_eq!(code(&o), 1, "{what}: expected exit 1:\n{t}");
        assert!(
            t.contains("verification FAILED") && t.contains(&format!("document part {part} ")),
            "{what}: expected the part {part} named:\n{t}"
        );
    }
}

#[test]
fn a_document_without_a_mutator_signs_no_supplement() {
    let d = tempdir();
    let p = d.path();
    setup(p, "");
    build(p, "work", "links", "1");
    std::fs::write(p.join("supplement.toml"), "name = \"app\"\n").unwrap();
    ok(sbomit(
        p,
        &[
            "document",
            "create",
            "--layout",
            "root.layout",
            "--link-dir",
            "links",
            "--out",
            "plain.json",
        ],
    ));
    // Plain in-toto: verifies, and says only the chain binds the metadata.
    let t = text(&ok(verify_doc(p, "plain.json", &[])));
    assert!(t.contains("names no mutator"), "{t}");
    // A supplement nobody signed is refused.
    edit(p, "plain.json", "supplemented.json", |v| {
        v["supplement"]["name"] = json!("app")
    });
    fails_with(
        verify_doc(p, "supplemented.json", &[]),
        1,
        &["document part /supplement is not signed by any mutator"],
    );
    // Sealing needs a mutator step listing the key.
    fails_with(
        sbomit(
            p,
            &[
                "document",
                "seal",
                "--document",
                "plain.json",
                "--signing-key",
                "mut",
            ],
        ),
        2,
        &["not a functionary of any mutator step"],
    );
}

#[test]
fn a_generator_may_only_add_its_own_links_by_addendum() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    write_json(
        &p.join("patch.json"),
        &json!([{"op": "replace", "path": "/supplement/license", "value": "GPL-3.0-only"}]),
    );
    ok(sbomit(
        p,
        &[
            "document",
            "amend",
            "--document",
            "doc.json",
            "--patch",
            "patch.json",
            "--signing-key",
            "gen",
        ],
    ));
    fails_with(
        verify_doc(p, "doc.json", &[]),
        1,
        &[
            "SIT generator",
            "its addenda may only add its own generator links",
        ],
    );
}

// ---- b. SIT signatures

pub(crate) fn generate(p: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut a = vec![
        "sit",
        "generate",
        "--document",
        "doc.json",
        "--format",
        "cyclonedx-1.6",
        "--layout-keys",
        "owner.pub",
        "--out",
        out,
    ];
    a.extend(extra);
    sbomit_env(p, &a, &[("SOURCE_DATE_EPOCH", "1700000000")])
}

fn verify_sit(p: &Path, sit: &str) -> std::process::Output {
    sbomit(
        p,
        &[
            "sit",
            "verify",
            "--sit",
            sit,
            "--document",
            "doc.json",
            "--layout-keys",
            "owner.pub",
        ],
    )
}

#[test]
fn full_sit_verification_needs_the_named_generators_signature() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    std::fs::create_dir(p.join("out")).unwrap();
    // Unsigned: nobody vouches for it.
    ok(generate(p, "out/unsigned.json", &[]));
    fails_with(
        verify_sit(p, "out/unsigned.json"),
        1,
        &["verification FAILED", "nobody vouches for it"],
    );
    // Signed by a key the layout does not name for SITs.
    ok(generate(p, "out/other.json", &["--signing-key", "other"]));
    fails_with(
        verify_sit(p, "out/other.json"),
        1,
        &["verification FAILED", "signature"],
    );
    // Signed by the generator: passes.
    let o = ok(generate(p, "out/good.json", &["--signing-key", "gen"]));
    assert!(
        text(&o).contains("wrote the generator's link"),
        "{}",
        text(&o)
    );
    ok(verify_sit(p, "out/good.json"));
}

#[test]
fn a_recorded_sit_is_regenerated_by_document_verify_and_vouched_for_by_its_link() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    std::fs::create_dir(p.join("out")).unwrap();
    ok(generate(
        p,
        "out/sit.json",
        &["--signing-key", "gen", "--record"],
    ));
    let t = text(&ok(verify_doc(p, "doc.json", &[])));
    assert!(t.contains("SIT cyclonedx-1.6 (sbomit-sit."), "{t}");
    assert!(t.contains("regenerated byte for byte"), "{t}");
    // The SIT names the version before the generator's addendum, and still verifies fully;
    // without its envelope, the generator's link in the document vouches for it.
    ok(verify_sit(p, "out/sit.json"));
    std::fs::remove_file(p.join("out/sit.json.intoto.json")).unwrap();
    let t = text(&ok(verify_sit(p, "out/sit.json")));
    assert!(t.contains("recorded by the generator's link"), "{t}");
    // A SIT changed by one byte is vouched for by nobody.
    let mut bytes = std::fs::read(p.join("out/sit.json")).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(p.join("out/changed.json"), bytes).unwrap();
    fails_with(verify_sit(p, "out/changed.json"), 1, &["nobody vouches"]);
}

/// `--no-envelope`: the SIT is streamed to its file and hashed on the way, no envelope is
/// written, and the recorded link is its signature. It is the same SIT as with an envelope.
#[test]
fn a_sit_recorded_without_an_envelope_is_the_same_sit_and_verifies_by_its_link() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    std::fs::copy(p.join("doc.json"), p.join("doc-copy.json")).unwrap();
    std::fs::create_dir(p.join("out")).unwrap();
    let o = ok(generate(
        p,
        "out/sit.json",
        &["--signing-key", "gen", "--record", "--no-envelope"],
    ));
    assert!(text(&o).contains("without an envelope"), "{}", text(&o));
    assert!(!p.join("out/sit.json.intoto.json").exists());
    let t = text(&ok(verify_doc(p, "doc.json", &[])));
    assert!(t.contains("regenerated byte for byte"), "{t}");
    let t = text(&ok(verify_sit(p, "out/sit.json")));
    assert!(t.contains("recorded by the generator's link"), "{t}");
    // Byte for byte the SIT made with an envelope from the same document.
    ok(sbomit_env(
        p,
        &[
            "sit",
            "generate",
            "--document",
            "doc-copy.json",
            "--format",
            "cyclonedx-1.6",
            "--layout-keys",
            "owner.pub",
            "--out",
            "with-envelope.json",
            "--signing-key",
            "gen",
            "--record",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    ));
    assert_eq!(
        std::fs::read(p.join("out/sit.json")).unwrap(),
        std::fs::read(p.join("with-envelope.json")).unwrap()
    );
    // Without --record nothing would sign it: refused as usage.
    fails_with(
        generate(p, "out/x.json", &["--signing-key", "gen", "--no-envelope"]),
        2,
        &["--record"],
    );
    assert!(!p.join("out/x.json").exists());
}

// ---- c. overrides of in-toto content

#[test]
fn a_mutation_overriding_in_toto_content_fails_document_verify_unless_allowed() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    // Find a component hash in the generated SIT to override.
    ok(generate(p, "plain.json", &[]));
    let sit = read_json(&p.join("plain.json"));
    let i = sit["components"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c.get("hashes").is_some())
        .unwrap();
    write_json(
        &p.join("evil.json"),
        &json!([
            {"op": "replace", "path": format!("/components/{i}/hashes/0/content"), "value": "0".repeat(64)}
        ]),
    );
    ok(sbomit(
        p,
        &[
            "document",
            "create",
            "--layout",
            "root.layout",
            "--link-dir",
            "links",
            "--mutation",
            "cyclonedx=evil.json",
            "--signing-key",
            "mut",
            "--out",
            "evil-doc.json",
        ],
    ));
    fails_with(
        verify_doc(p, "evil-doc.json", &[]),
        1,
        &["verification FAILED: mutation \"cyclonedx\" overrides in-toto-derived content"],
    );
    let o = ok(verify_doc(
        p,
        "evil-doc.json",
        &["--insecure-allow-in-toto-override"],
    ));
    assert!(
        text(&o).contains("warning: mutation \"cyclonedx\" overrides"),
        "{}",
        text(&o)
    );
}

// ---- d. standard verifiers accept the SBOMit layout and its links

#[test]
fn in_toto_verifiers_accept_the_layout_with_its_mutator_and_generator_links() {
    let d = tempdir();
    let p = d.path();
    chain(p);
    std::fs::create_dir(p.join("out")).unwrap();
    ok(generate(
        p,
        "out/sit.json",
        &["--signing-key", "gen", "--record"],
    ));
    // Every link of the document (build, mutator, generator) as files, as in-toto writes them.
    let doc = read_json(&p.join("doc.json"));
    let all = p.join("all-links");
    std::fs::create_dir(&all).unwrap();
    let mut names: Vec<String> = doc["metadata"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for a in doc["addenda"].as_array().unwrap() {
        for op in a["patch"].as_array().unwrap() {
            let path = op["path"].as_str().unwrap();
            let name = path.strip_prefix("/metadata/").unwrap().to_owned();
            std::fs::write(all.join(&name), serde_json::to_vec(&op["value"]).unwrap()).unwrap();
            names.push(name);
        }
    }
    for (name, v) in doc["metadata"].as_object().unwrap() {
        std::fs::write(all.join(name), serde_json::to_vec(v).unwrap()).unwrap();
    }
    assert!(
        names.iter().any(|n| n.starts_with("sbomit-mutate.")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("sbomit-sit.")),
        "{names:?}"
    );
    let args = [
        "--layout",
        "../root.layout",
        "--verification-keys",
        "../owner.pub",
        "--link-dir",
        ".",
    ];
    ok(sbomit(&all, &[&["verify"], &args[..]].concat()));
    if let Some(bin) = peer_bin("SBOMIT_INTOTO_REF_BIN") {
        let r = Command::new(bin.join("in-toto-verify"))
            .args(args)
            .current_dir(&all)
            .output()
            .unwrap();
        assert_eq!(code(&r), 0, "in-toto-verify 3.x:\n{}", text(&r));
    }
}
