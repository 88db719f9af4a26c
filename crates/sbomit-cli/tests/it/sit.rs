//! Acceptance tests of SITs (issue #3): `sbomit sit generate` (signed, with JSF) and
//! `sbomit sit verify` (light and full) over four real chains: the quickstart (`sbomit
//! demo`), the in-toto reference demo, a build of this repository with its Cargo.lock, and
//! an npm project with a package-lock.json.
//!
//! When SBOMIT_VALIDATE_SBOM names `validate_sbom.sh`, every SIT is validated by the
//! third-party validators (CI always sets it). Addenda history and trust are covered by
//! `tests/document.rs` (`addenda_history_and_trust`).

#![allow(clippy::unwrap_used)] // tests fail loudly on broken fixtures

use crate::common::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// The default CycloneDX, the oldest ones (§4.2.2.1.1: "1.2 – latest"; 1.2 without
/// properties, 1.2 to 1.4 without formulation), and both SPDX.
const FORMATS: [&str; 6] = [
    "cyclonedx-1.6",
    "cyclonedx-1.2",
    "cyclonedx-1.3",
    "cyclonedx-1.4",
    "spdx-2.3",
    "spdx-3.0.1",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixture from another implementation, vendored under `testdata/` (see its README).
fn interop(rel: &str) -> PathBuf {
    repo().join("testdata").join(rel)
}

fn copy(from: &Path, to: &Path) {
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// Standard or URL-safe base64, padded or not (a tiny decoder keeps the test free of extra
/// dependencies).
fn b64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => panic!("not base64: {s}"),
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A chain ready for SITs: the document `doc.json` in `dir`, the owner's public key and the
/// final product's directory (relative to `dir`).
struct Chain {
    dir: PathBuf,
    layout_key: String,
    artifacts: String,
    /// Files the artifacts directory is made of afresh before each use, because inspections
    /// unpack into it and their rules refuse what an earlier run left there.
    delivered: Vec<PathBuf>,
    /// The private key of the SIT generator the layout names (relative to `dir`).
    signer: String,
    /// The mutator's private key, when the layout names one (documents are sealed with it).
    mutator: Option<String>,
    /// The layout and link directory the document is made of.
    layout: String,
    link_dir: String,
}

impl Chain {
    /// Generates a SIT and verifies it fully with nothing but the document (created with
    /// `--embed`) and the keys: no `--artifacts`.
    fn self_contained(&self, format: &str) {
        self.fresh_artifacts();
        let layout = self.layout.clone();
        let link_dir = self.link_dir.clone();
        self.create_document(&["--embed", &self.artifacts], &layout, &link_dir);
        let gone = self.dir.join(&self.artifacts).with_extension("moved");
        std::fs::rename(self.dir.join(&self.artifacts), &gone).unwrap();
        let out = format!("embedded.{format}.json");
        ok(sbomit_env(
            &self.dir,
            &[
                "sit",
                "generate",
                "--document",
                "doc.json",
                "--format",
                format,
                "--layout-keys",
                &self.layout_key,
                "--out",
                &out,
                "--signing-key",
                &self.signer,
            ],
            &[("SOURCE_DATE_EPOCH", "1700000000")],
        ));
        let o = ok(sbomit(
            &self.dir,
            &[
                "sit",
                "verify",
                "--sit",
                &out,
                "--document",
                "doc.json",
                "--layout-keys",
                &self.layout_key,
            ],
        ));
        assert!(
            text(&o).contains("verification passed (full)"),
            "{}",
            text(&o)
        );
        ok(sbomit(
            &self.dir,
            &[
                "document",
                "verify",
                "--document",
                "doc.json",
                "--layout-keys",
                &self.layout_key,
            ],
        ));
        std::fs::rename(&gone, self.dir.join(&self.artifacts)).unwrap();
    }

    fn fresh_artifacts(&self) {
        if self.delivered.is_empty() {
            return;
        }
        let art = self.dir.join(&self.artifacts);
        let _ = std::fs::remove_dir_all(&art);
        for f in &self.delivered {
            copy(f, &art.join(f.file_name().unwrap()));
        }
    }

    fn generate(&self, format: &str, out: &str, extra: &[&str]) -> Output {
        self.fresh_artifacts();
        let mut a = vec![
            "sit",
            "generate",
            "--document",
            "doc.json",
            "--format",
            format,
            "--layout-keys",
            &self.layout_key,
            "--artifacts",
            &self.artifacts,
            "--out",
            out,
        ];
        a.extend(extra);
        sbomit_env(&self.dir, &a, &[("SOURCE_DATE_EPOCH", "1700000000")])
    }

    /// Full verification of `sit` against the document.
    fn verify_full(&self, sit: &str, extra: &[&str]) -> Output {
        self.fresh_artifacts();
        let mut a = vec![
            "sit",
            "verify",
            "--sit",
            sit,
            "--document",
            "doc.json",
            "--layout-keys",
            &self.layout_key,
            "--artifacts",
            &self.artifacts,
        ];
        a.extend(extra);
        sbomit(&self.dir, &a)
    }

    fn create_document(&self, extra: &[&str], layout: &str, link_dir: &str) {
        let mut a = vec![
            "document",
            "create",
            "--layout",
            layout,
            "--link-dir",
            link_dir,
            "--out",
            "doc.json",
        ];
        if let Some(m) = &self.mutator {
            a.extend(["--signing-key", m.as_str()]);
        }
        a.extend(extra);
        ok(sbomit(&self.dir, &a));
    }
}

/// A SIT checked against a document it was not generated from (issue 17): the report says
/// which document the SIT names and which it was given, instead of a first JSON difference.
#[test]
fn a_sit_checked_against_another_document_says_which_it_names() {
    let d = tempdir();
    let c = quickstart(d.path());
    ok(c.generate("cyclonedx-1.6", "sit.json", &["--signing-key", &c.signer]));
    // Another document: the same chain with its final product embedded (another digest,
    // and not a version of the first).
    let (layout, link_dir) = (c.layout.clone(), c.link_dir.clone());
    c.fresh_artifacts();
    c.create_document(&["--embed", &c.artifacts], &layout, &link_dir);
    let o = c.verify_full("sit.json", &[]);
    let t = text(&o);
    assert_eq!(code(&o), 1, "{t}");
    assert!(
        t.contains("verification FAILED: the SIT was generated from document sha256:")
            && t.contains("which is not this document (sha256:")
            && t.contains("nor one of its versions"),
        "{t}"
    );
    assert_eq!(t.matches("verification FAILED").count(), 1, "{t}");
}

// ---- the chains

/// The quickstart: `sbomit demo` builds write-code → build → package; the customer's
/// artifacts directory holds the delivered package (the inspection unpacks it there).
fn quickstart(p: &Path) -> Chain {
    quickstart_with(p, true)
}

/// [`quickstart`]; `generator`: whether the layout names carl (the packager) as the SIT
/// generator (the demo's own layout names none).
fn quickstart_with(p: &Path, generator: bool) -> Chain {
    ok(sbomit(p, &["-q", "demo", "--dir", "demo"]));
    let w = p.join("demo/work");
    let mut source = std::fs::read_to_string(w.join("layout.toml")).unwrap();
    if !generator {
        source.push_str("\n# no generator\n");
    } else {
        source.push_str("\n[[steps]]\nname = \"sbomit-sit\"\nfunctionaries = [\"carl\"]\n");
    }
    std::fs::write(w.join("layout.toml"), source).unwrap();
    sign_layout(&w, "layout.toml", "root.layout", "owner");
    let c = Chain {
        dir: p.to_owned(),
        layout_key: "demo/work/owner.pub".into(),
        artifacts: "art".into(),
        delivered: vec![p.join("demo/work/hello.tar.gz")],
        signer: "demo/work/carl".into(),
        mutator: None,
        layout: "demo/work/root.layout".into(),
        link_dir: "demo/work".into(),
    };
    c.create_document(&[], "demo/work/root.layout", "demo/work");
    c
}

/// The in-toto reference demo (Python `tests/demo_files`): the reference's links, its layout
/// template signed by alice (expiry moved out, the inspection running plain `tar`).
fn intoto_demo(p: &Path) -> Chain {
    let src = interop("in-toto-python/demo_files");
    let d = p.join("intoto");
    for f in [
        "write-code.776a00e2.link",
        "package.2f89b927.link",
        "alice",
        "alice.pub",
        "bob",
    ] {
        copy(&src.join(f), &d.join(f));
    }
    let template = read_json(&src.join("demo.layout.template"));
    let mut layout = template["signed"].clone();
    layout["expires"] = json!("2099-01-01T00:00:00Z");
    // bob (who writes the code) is also named as the SIT generator.
    let bob = layout["steps"][0]["pubkeys"].clone();
    layout["steps"].as_array_mut().unwrap().push(json!({
        "_type": "step", "name": "sbomit-sit", "pubkeys": bob, "threshold": 1,
        "expected_command": [], "expected_materials": [], "expected_products": []
    }));
    layout["inspect"][0]["run"] = json!(["tar", "xfz", "foo.tar.gz"]);
    write_json(
        &d.join("demo.layout"),
        &json!({"signed": layout, "signatures": []}),
    );
    ok(sbomit(
        &d,
        &["sign", "-f", "demo.layout", "--signing-key", "alice"],
    ));
    let c = Chain {
        dir: p.to_owned(),
        layout_key: "intoto/alice.pub".into(),
        artifacts: "art".into(),
        delivered: vec![src.join("foo.tar.gz")],
        signer: "intoto/bob".into(),
        mutator: None,
        layout: "intoto/demo.layout".into(),
        link_dir: "intoto".into(),
    };
    c.create_document(&[], "intoto/demo.layout", "intoto");
    c
}

/// A one-step chain in `p` whose build step records `materials` (already in `p/work`) and
/// packs them into `product` with tar. The layout authorizes `signer` (not `dev`, who signs
/// the build) to sign SITs, by its `sbomit-sit` step.
fn one_step_chain(p: &Path, materials: &[&str], product: &str, extra_layout: &str) -> Chain {
    for k in ["owner", "dev", "signer", "mutator"] {
        ok(sbomit(p, &["key", "generate", "--out", k]));
    }
    let mut command = vec!["tar", "czf", product];
    command.extend(materials);
    let allow: Vec<String> = materials
        .iter()
        .flat_map(|m| [format!("\"ALLOW {m}\""), format!("\"ALLOW {m}/*\"")])
        .collect();
    std::fs::write(
        p.join("layout.toml"),
        format!(
            r#"expires = "2099-01-01T00:00:00Z"
[keys]
dev = "dev.pub"
signer = "signer.pub"
mutator = "mutator.pub"
[[steps]]
name = "build"
functionaries = ["dev"]
expected_command = {command:?}
expected_materials = [{}, "DISALLOW *"]
expected_products = ["CREATE {product}", "DISALLOW *"]
# Who signs the document's parts, and who generates SITs (docs/formats/sbomit-document.md).
[[steps]]
name = "sbomit-mutate"
functionaries = ["mutator"]
[[steps]]
name = "sbomit-sit"
functionaries = ["signer"]
{extra_layout}"#,
            allow.join(", ")
        ),
    )
    .unwrap();
    sign_layout(p, "layout.toml", "root.layout", "owner");
    std::fs::create_dir_all(p.join("links")).unwrap();
    let mut run = vec![
        "run",
        "-n",
        "build",
        "--signing-key",
        "../dev",
        "-d",
        "../links",
        "-m",
    ];
    run.extend(materials);
    run.extend(["-p", product, "--"]);
    run.extend(&command);
    ok(sbomit(&p.join("work"), &run));
    let c = Chain {
        dir: p.to_owned(),
        layout_key: "owner.pub".into(),
        artifacts: "work".into(),
        delivered: Vec::new(),
        signer: "signer".into(),
        mutator: Some("mutator".into()),
        layout: "root.layout".into(),
        link_dir: "links".into(),
    };
    c.create_document(&[], "root.layout", "links");
    c
}

/// This repository built from its sources: Cargo.toml, Cargo.lock and every crate's
/// manifest and `src/` are the materials.
fn repository(p: &Path) -> Chain {
    let w = p.join("work");
    copy(&repo().join("Cargo.toml"), &w.join("Cargo.toml"));
    copy(&repo().join("Cargo.lock"), &w.join("Cargo.lock"));
    for krate in std::fs::read_dir(repo().join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        let name = krate.file_name().unwrap().to_owned();
        let to = w.join("crates").join(&name);
        if krate.join("Cargo.toml").is_file() {
            copy(&krate.join("Cargo.toml"), &to.join("Cargo.toml"));
        }
        if krate.join("src").is_dir() {
            let st = Command::new("cp")
                .arg("-r")
                .arg(krate.join("src"))
                .arg(to.join("src"))
                .status()
                .unwrap();
            assert!(st.success());
        }
    }
    one_step_chain(
        p,
        &["Cargo.toml", "Cargo.lock", "crates"],
        "sbomit-src.tar.gz",
        "",
    )
}

/// An npm project (`tests/data/npm-app`) with its package-lock.json.
fn npm(p: &Path) -> Chain {
    npm_with(p, "")
}

/// [`npm`] with more layout source (inspections).
fn npm_with(p: &Path, extra_layout: &str) -> Chain {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/npm-app");
    for f in ["package.json", "package-lock.json", "index.js"] {
        copy(&src.join(f), &p.join("work").join(f));
    }
    // The packages' tarballs as `npm ci` fetched them into its cache, recorded as materials:
    // npm's lockfile records only their sha512, and the SIT gives every package the sha256
    // of its attested tarball (issue 11). Stand-ins, as the fixture's README says: each
    // holds its own file name, whose sha512 is the lockfile's `integrity`.
    let lock = read_json(&src.join("package-lock.json"));
    let cache = p.join("work/npm-cache");
    std::fs::create_dir_all(&cache).unwrap();
    for v in lock["packages"].as_object().unwrap().values() {
        if let Some(url) = v["resolved"].as_str() {
            let file = url.rsplit('/').next().unwrap();
            std::fs::write(cache.join(file), file).unwrap();
        }
    }
    one_step_chain(
        p,
        &["package.json", "package-lock.json", "index.js", "npm-cache"],
        "greeter.tgz",
        extra_layout,
    )
}

/// A Python project pinned by pip-compile (`requirements.txt` with `--hash=sha256:` of the
/// wheels PyPI serves: their sha256 is what every Python component carries).
fn python(p: &Path) -> Chain {
    let w = p.join("work");
    std::fs::create_dir_all(&w).unwrap();
    std::fs::write(
        w.join("requirements.txt"),
        "#\n# This file is autogenerated by pip-compile with Python 3.11\n#\n\
         certifi==2024.7.4 \\\n    --hash=sha256:c198e21b1289c2ab85ee4e67bb4b4ef3ead0892059901a8d5b622f24a1101e90\n    # via -r requirements.in\n\
         idna==3.7 \\\n    --hash=sha256:82fee1fc78add43492d3a1898bfa6d8a904cc97d8427f683ed8e798d07761aa0\n    # via -r requirements.in\n\
         six==1.16.0 \\\n    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n    # via -r requirements.in\n",
    )
    .unwrap();
    std::fs::write(w.join("app.py"), "import six\nprint(six.PY3)\n").unwrap();
    one_step_chain(p, &["requirements.txt", "app.py"], "app.tar.gz", "")
}

/// A Go module: `go.sum` records `h1:` hashes (of file lists, not files), so every Go
/// component carries the sha256 of its module archive as the module cache holds it
/// (`cache/download/<escaped module>/@v/<version>.zip`), recorded as a material.
fn go(p: &Path) -> Chain {
    go_with(p, true)
}

/// [`go`]; `archives`: whether the module archives are in the build's materials.
fn go_with(p: &Path, archives: bool) -> Chain {
    let w = p.join("work");
    std::fs::create_dir_all(&w).unwrap();
    std::fs::write(
        w.join("go.mod"),
        "module example.com/hello\n\ngo 1.21\n\nrequire (\n\tgithub.com/BurntSushi/toml v1.3.2\n\tgolang.org/x/text v0.14.0\n)\n",
    )
    .unwrap();
    std::fs::write(
        w.join("go.sum"),
        "github.com/BurntSushi/toml v1.3.2 h1:o7IhLm0Msx3BaB+n3Ag7L8EVlByGnpq14C4YWiu/gL8=\n\
         github.com/BurntSushi/toml v1.3.2/go.mod h1:CxXYINrC8qIiEnFrOxCa7Jy5BFHlXnUU2pbicEuybxQ=\n\
         golang.org/x/text v0.14.0 h1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\n\
         golang.org/x/text v0.14.0/go.mod h1:18ZOQIKpY8NJVqYksKHtTdi31H5itFRjB5/qKTNYzSU=\n",
    )
    .unwrap();
    std::fs::write(w.join("main.go"), "package main\n\nfunc main() {}\n").unwrap();
    let mut materials = vec!["go.mod", "go.sum", "main.go"];
    if !archives {
        return one_step_chain(p, &materials, "hello.tar.gz", "");
    }
    materials.push("gomodcache");
    for (module, version) in [
        ("github.com/!burnt!sushi/toml", "v1.3.2"),
        ("golang.org/x/text", "v0.14.0"),
    ] {
        let dir = w.join("gomodcache/cache/download").join(module).join("@v");
        std::fs::create_dir_all(&dir).unwrap();
        // Stand-ins for the archives `go mod download` fetches (no test downloads).
        std::fs::write(
            dir.join(format!("{version}.zip")),
            format!("{module}@{version}"),
        )
        .unwrap();
    }
    one_step_chain(p, &materials, "hello.tar.gz", "")
}

// ---- checks

fn validate(path: &Path, format: &str) {
    let Some(script) = std::env::var_os("SBOMIT_VALIDATE_SBOM") else {
        eprintln!("not validated: SBOMIT_VALIDATE_SBOM is not set");
        return;
    };
    let o = Command::new("bash")
        .arg(script)
        .arg(path)
        .arg(match format {
            f if f.starts_with("cyclonedx") => "cyclonedx",
            f => f,
        })
        .env("SBOM_QUIET", "1")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} ({format}) does not validate:\n{}",
        path.display(),
        text(&o)
    );
}

/// Every digest the document's verified links record, and every digest the attested
/// lockfiles in the artifacts directory pin (Cargo `checksum`, npm `integrity`), as
/// lowercase hex.
fn attested_hashes(c: &Chain) -> BTreeSet<String> {
    let doc = read_json(&c.dir.join("doc.json"));
    let mut out = BTreeSet::new();
    let mut lockfiles = BTreeSet::new();
    for env in doc["metadata"].as_object().unwrap().values() {
        let signed = match env.get("signed") {
            Some(s) => s.clone(),
            None => serde_json::from_slice(&b64(env["payload"].as_str().unwrap())).unwrap(),
        };
        for kind in ["materials", "products"] {
            for (path, digests) in signed[kind].as_object().into_iter().flatten() {
                for h in digests.as_object().unwrap().values() {
                    out.insert(h.as_str().unwrap().to_ascii_lowercase());
                }
                if path.ends_with("Cargo.lock")
                    || path.ends_with("package-lock.json")
                    || path.ends_with("requirements.txt")
                {
                    lockfiles.insert(path.clone());
                }
            }
        }
    }
    for l in lockfiles {
        let Ok(text) = std::fs::read_to_string(c.dir.join(&c.artifacts).join(&l)) else {
            continue;
        };
        for line in text.lines() {
            for h in line.split_whitespace() {
                if let Some(sum) = h.strip_prefix("--hash=sha256:") {
                    out.insert(sum.to_owned());
                }
            }
            if let Some(sum) = line.trim().strip_prefix("checksum = \"") {
                out.insert(sum.trim_end_matches('"').to_owned());
            }
            if let Some(i) = line.trim().strip_prefix("\"integrity\": \"") {
                let (alg, value) = i.trim_end_matches(['"', ',']).split_once('-').unwrap();
                assert_eq!(alg, "sha512");
                out.insert(hex(&b64(value)));
            }
        }
    }
    out
}

/// Every (algorithm, hex) hash of every component in a SIT.
fn sit_hashes(format: &str, sit: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if format.starts_with("cyclonedx") {
        let mut comps: Vec<&Value> = sit["components"].as_array().unwrap().iter().collect();
        comps.extend(sit["metadata"].get("component"));
        for c in comps {
            for h in c["hashes"].as_array().into_iter().flatten() {
                out.push(h["content"].as_str().unwrap().to_owned());
            }
        }
    } else if format == "spdx-2.3" {
        for p in sit["packages"].as_array().unwrap() {
            for h in p["checksums"].as_array().into_iter().flatten() {
                out.push(h["checksumValue"].as_str().unwrap().to_owned());
            }
        }
    } else {
        for e in sit["@graph"].as_array().unwrap() {
            for h in e["verifiedUsing"].as_array().into_iter().flatten() {
                out.push(h["hashValue"].as_str().unwrap().to_owned());
            }
        }
    }
    out
}

/// The sha256 (lowercase hex) of every component of a SIT, `None` for a component without one
/// (SBOMit §4.2.2.1: "all components have hashes").
fn component_sha256s(format: &str, sit: &Value) -> Vec<(String, Option<String>)> {
    let find = |list: Option<&Vec<Value>>, alg_key: &str, val_key: &str| {
        list.into_iter()
            .flatten()
            .find(|h| {
                h[alg_key].as_str().is_some_and(|a| {
                    a.eq_ignore_ascii_case("sha-256") || a.eq_ignore_ascii_case("sha256")
                })
            })
            .and_then(|h| h[val_key].as_str())
            .map(str::to_ascii_lowercase)
    };
    let mut out = Vec::new();
    if format.starts_with("cyclonedx") {
        let mut comps: Vec<&Value> = sit["components"].as_array().unwrap().iter().collect();
        comps.extend(sit["metadata"].get("component"));
        for c in comps {
            let id = c["bom-ref"].as_str().unwrap_or("?").to_owned();
            out.push((id, find(c["hashes"].as_array(), "alg", "content")));
        }
    } else if format == "spdx-2.3" {
        for p in sit["packages"].as_array().unwrap() {
            let id = p["SPDXID"].as_str().unwrap_or("?").to_owned();
            out.push((
                id,
                find(p["checksums"].as_array(), "algorithm", "checksumValue"),
            ));
        }
    } else {
        for e in sit["@graph"].as_array().unwrap() {
            let t = e["type"].as_str().unwrap_or("");
            if t == "software_Package" || t == "software_File" {
                let id = e["spdxId"].as_str().unwrap_or("?").to_owned();
                out.push((
                    id,
                    find(e["verifiedUsing"].as_array(), "algorithm", "hashValue"),
                ));
            }
        }
    }
    out
}

/// Generates and signs a SIT in every format; each validates, every component has a sha256
/// and each component hash is attested, and each passes full verification.
fn every_format(c: &Chain, min_hashes: usize) {
    every_format_validating(c, min_hashes, &FORMATS);
}

/// [`every_format`], the third-party validators run on the SITs of `validated` formats only.
fn every_format_validating(c: &Chain, min_hashes: usize, validated: &[&str]) {
    let attested = attested_hashes(c);
    for format in FORMATS {
        let out = format!("sit.{format}.json");
        ok(c.generate(format, &out, &["--signing-key", &c.signer]));
        let sit = read_json(&c.dir.join(&out));
        let shas = component_sha256s(format, &sit);
        assert!(!shas.is_empty(), "{format}: no components");
        for (id, sha) in &shas {
            let sha = sha
                .as_ref()
                .unwrap_or_else(|| panic!("{format}: component {id} has no sha256"));
            assert!(
                attested.contains(sha),
                "{format}: component {id}'s sha256 {sha} is in no verified link or attested lockfile"
            );
        }
        let hashes = sit_hashes(format, &sit);
        assert!(
            hashes.len() >= min_hashes,
            "{format}: {} hashes",
            hashes.len()
        );
        for h in &hashes {
            assert!(
                attested.contains(&h.to_ascii_lowercase()),
                "{format}: hash {h} is in no verified link or attested lockfile"
            );
        }
        let o = ok(c.verify_full(&out, &[]));
        assert!(
            text(&o).contains("verification passed (full)"),
            "{}",
            text(&o)
        );
        if validated.contains(&format) {
            validate(&c.dir.join(&out), format);
        }
    }
}

// ---- a. every format validates, b. every hash is attested (four chains)

#[test]
fn quickstart_sits_validate_and_every_hash_is_attested() {
    let d = tempdir();
    let c = quickstart(d.path());
    every_format(&c, 3);
}

#[test]
fn intoto_demo_sits_validate_and_every_hash_is_attested() {
    let d = tempdir();
    let c = intoto_demo(d.path());
    every_format(&c, 2);
}

#[test]
fn repository_build_sits_validate_and_every_hash_is_attested() {
    let d = tempdir();
    let c = repository(d.path());
    // The crate sources plus the packages Cargo.lock pins. Its SPDX 3 SIT is not given to
    // the SHACL validator (pyshacl takes over five minutes on its thousand-odd elements): the
    // same emitter's output passes it on the five other chains, and sbomit-sbom's sit_schema
    // tests check SPDX 3 output against the JSON schema.
    every_format_validating(
        &c,
        100,
        &FORMATS
            .iter()
            .copied()
            .filter(|f| *f != "spdx-3.0.1")
            .collect::<Vec<_>>(),
    );
    let cdx = read_json(&c.dir.join("sit.cyclonedx-1.6.json"));
    assert!(cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["purl"]
            .as_str()
            .is_some_and(|p| p.starts_with("pkg:cargo/serde@"))));
}

#[test]
fn npm_sits_validate_and_every_hash_is_attested() {
    let d = tempdir();
    let c = npm(d.path());
    every_format(&c, 10);
    let cdx = read_json(&c.dir.join("sit.cyclonedx-1.6.json"));
    assert!(cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["purl"] == "pkg:npm/express@4.19.2"));
}

// ---- b. a changed link hash or lockfile fails full verification

#[test]
fn full_verification_fails_on_a_changed_link_hash_or_lockfile() {
    let d = tempdir();
    let c = npm(d.path());
    let p = &c.dir;
    ok(c.generate("cyclonedx-1.6", "sit.json", &["--signing-key", "signer"]));
    ok(c.verify_full("sit.json", &[]));

    // A changed lockfile is not the attested one: its packages are not in the regenerated
    // SIT, so the SIT (which has them) is not what the document yields.
    let lock = p.join("work/package-lock.json");
    let original = std::fs::read(&lock).unwrap();
    let changed = String::from_utf8(original.clone())
        .unwrap()
        .replace("4.17.21", "4.17.20");
    std::fs::write(&lock, changed).unwrap();
    fails_with(
        c.verify_full("sit.json", &[]),
        1,
        &["verification FAILED", "not what the document yields"],
    );
    std::fs::write(&lock, &original).unwrap();
    ok(c.verify_full("sit.json", &[]));

    // A changed hash in a link breaks the link's signature: the document does not verify.
    let mut doc = read_json(&p.join("doc.json"));
    let saved = doc.clone();
    let name = doc["metadata"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.starts_with("build."))
        .unwrap()
        .clone();
    doc["metadata"][&name]["signed"]["materials"]["index.js"]["sha256"] = json!("00".repeat(32));
    write_json(&p.join("doc.json"), &doc);
    let o = c.verify_full("sit.json", &[]);
    // One verdict line, with the document's reason in it (issue 17: it was printed twice).
    assert_eq!(
        text(&o).matches("verification FAILED").count(),
        1,
        "{}",
        text(&o)
    );
    fails_with(
        o,
        1,
        &["verification FAILED: the document did not verify: the link for step \"build\""],
    );
    write_json(&p.join("doc.json"), &saved);

    // A changed component hash in the SIT itself: neither the signature nor the
    // regeneration holds.
    let mut sit = read_json(&p.join("sit.json"));
    let comps = sit["components"].as_array_mut().unwrap();
    let c0 = comps.iter_mut().find(|c| c["type"] == "file").unwrap();
    c0["hashes"][0]["content"] = json!("ab".repeat(32));
    let mut bytes = serde_json::to_vec_pretty(&sit).unwrap();
    bytes.push(b'\n');
    std::fs::write(p.join("sit.json"), &bytes).unwrap();
    // The report goes down to the field that changed (issue 17).
    fails_with(
        c.verify_full("sit.json", &[]),
        1,
        &[
            "signature: the SIT's content differs from the signed predicate: /components/",
            "/hashes/0/content: expected \"",
            &format!("found \"{}\"", "ab".repeat(32)),
        ],
    );
    // Without its envelope, nobody vouches for it (issue 11: full verification needs the
    // named generator's signature).
    std::fs::remove_file(p.join("sit.json.intoto.json")).unwrap();
    fails_with(c.verify_full("sit.json", &[]), 1, &["nobody vouches"]);
}

/// Issue 11 e: one test per ecosystem with a real lockfile; Cargo and npm are above.
#[test]
fn python_sits_give_every_package_an_attested_sha256() {
    let d = tempdir();
    let c = python(d.path());
    every_format(&c, 4);
    let sit = read_json(&c.dir.join("sit.cyclonedx-1.6.json"));
    let six = sit["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"] == "pkg:pypi/six@1.16.0")
        .unwrap();
    assert_eq!(
        six["hashes"][0]["content"],
        "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"
    );
}

#[test]
fn go_sits_give_every_module_the_sha256_of_its_attested_archive() {
    let d = tempdir();
    let c = go(d.path());
    every_format(&c, 4);
    let sit = read_json(&c.dir.join("sit.cyclonedx-1.6.json"));
    let toml = sit["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"] == "pkg:golang/github.com/BurntSushi/toml@v1.3.2")
        .unwrap_or_else(|| panic!("{sit:#}"));
    let zip =
        sbomit_intoto::digest::Sha256::digest(b"github.com/!burnt!sushi/toml@v1.3.2").to_hex();
    assert_eq!(toml["hashes"][0]["content"], zip.as_str());

    // Without the archives recorded, the modules have no attested sha256: refused, each
    // named, unless allowed; then each says why, and full verification lists them.
    let d2 = tempdir();
    let c2 = go_with(d2.path(), false);
    fails_with(
        c2.generate("cyclonedx-1.6", "x.json", &["--signing-key", &c2.signer]),
        1,
        &[
            "2 package(s) have no sha256 matching an attested artifact",
            "pkg:golang/github.com/BurntSushi/toml@v1.3.2",
            "--allow-unhashed",
        ],
    );
    ok(c2.generate(
        "cyclonedx-1.6",
        "x.json",
        &["--signing-key", &c2.signer, "--allow-unhashed"],
    ));
    let sit = read_json(&c2.dir.join("x.json"));
    assert_eq!(
        serde_json::to_string(&sit)
            .unwrap()
            .matches("sbomit:unhashed")
            .count(),
        2
    );
    let o = ok(c2.verify_full("x.json", &[]));
    assert!(
        text(&o).contains("unhashed: 2 component(s)"),
        "{}",
        text(&o)
    );
}

// ---- f. self-contained documents (issue 11): full verification needs only the document and
// the keys, for the four chains.

#[test]
fn every_chain_verifies_fully_from_a_document_with_embedded_files() {
    let d = tempdir();
    for sub in ["q", "i", "r", "n"] {
        std::fs::create_dir(d.path().join(sub)).unwrap();
    }
    quickstart(&d.path().join("q")).self_contained("cyclonedx-1.6");
    intoto_demo(&d.path().join("i")).self_contained("spdx-2.3");
    repository(&d.path().join("r")).self_contained("spdx-3.0.1");
    npm(&d.path().join("n")).self_contained("cyclonedx-1.6");
}

// ---- c. mutations

#[test]
fn mutation_overriding_in_toto_content_fails_full_verification_unless_allowed() {
    let d = tempdir();
    let c = npm(d.path());
    let p = &c.dir;
    ok(c.generate("cyclonedx-1.6", "plain.json", &[]));
    let plain = read_json(&p.join("plain.json"));
    let comps = plain["components"].as_array().unwrap();
    let i = comps.iter().position(|c| c["type"] == "library").unwrap();

    // Supplier and license data: supplemental, verifies.
    write_json(
        &p.join("supplemental.json"),
        &json!([
            {"op": "add", "path": "/metadata/supplier", "value": {"name": "ACME Corp", "url": ["https://acme.example"]}},
            {"op": "add", "path": "/metadata/component/licenses", "value": [{"license": {"id": "MIT"}}]},
            {"op": "add", "path": format!("/components/{i}/licenses"), "value": [{"expression": "MIT"}]},
            {"op": "add", "path": format!("/components/{i}/supplier"), "value": {"name": "OpenJS Foundation"}}
        ]),
    );
    c.create_document(
        &["--mutation", "cyclonedx=supplemental.json"],
        "root.layout",
        "links",
    );
    ok(c.generate("cyclonedx-1.6", "sup.json", &["--signing-key", "signer"]));
    let o = ok(c.verify_full("sup.json", &[]));
    assert!(!text(&o).contains("warning"), "{}", text(&o));
    validate(&p.join("sup.json"), "cyclonedx-1.6");
    assert_eq!(
        read_json(&p.join("sup.json"))["metadata"]["supplier"]["name"],
        "ACME Corp"
    );

    // A replaced component hash, and a removed component: each fails, naming the op.
    let cases = [
        (
            json!([{"op": "add", "path": "/metadata/supplier", "value": {"name": "ACME"}},
                   {"op": "replace", "path": format!("/components/{i}/hashes/0/content"),
                    "value": "ab".repeat(64)}]),
            format!("operation 1 (replace /components/{i}/hashes/0/content)"),
        ),
        (
            json!([{"op": "remove", "path": format!("/components/{i}")}]),
            format!("operation 0 (remove /components/{i})"),
        ),
    ];
    for (patch, op) in cases {
        write_json(&p.join("evil.json"), &patch);
        c.create_document(
            &["--mutation", "cyclonedx=evil.json"],
            "root.layout",
            "links",
        );
        ok(c.generate(
            "cyclonedx-1.6",
            "evil-sit.json",
            &["--signing-key", "signer"],
        ));
        fails_with(
            c.verify_full("evil-sit.json", &[]),
            1,
            &[
                "verification FAILED",
                "overrides in-toto-derived content",
                &op,
                "--insecure-allow-in-toto-override",
            ],
        );
        let o = ok(c.verify_full("evil-sit.json", &["--insecure-allow-in-toto-override"]));
        let t = text(&o);
        assert!(
            t.contains("warning: mutation ") && t.contains("verification passed (full)"),
            "{t}"
        );
    }
}

// ---- e. light verification, authorization by the layout, JSF

/// CycloneDX has a `signature` property from 1.4 on: `--jsf` for an older version (or SPDX)
/// is a usage error naming the limit, and nothing is written; 1.4 takes it.
#[test]
fn jsf_is_refused_before_cyclonedx_1_4() {
    let d = tempdir();
    let c = quickstart(d.path());
    for format in ["cyclonedx-1.2", "cyclonedx-1.3", "spdx-2.3"] {
        fails_with(
            c.generate(format, "sit.json", &["--signing-key", &c.signer, "--jsf"]),
            2,
            &["--jsf", "CycloneDX 1.4 and later only", format],
        );
        assert!(!c.dir.join("sit.json").exists());
    }
    ok(c.generate(
        "cyclonedx-1.4",
        "sit.json",
        &["--signing-key", &c.signer, "--jsf"],
    ));
    let o = ok(c.verify_full("sit.json", &[]));
    assert!(text(&o).contains("jsf: verified"), "{}", text(&o));
}

#[test]
fn light_verification_checks_bytes_authorized_keys_and_jsf() {
    let d = tempdir();
    let c = npm(d.path());
    let p = &c.dir;
    ok(c.generate(
        "cyclonedx-1.6",
        "sit.json",
        &["--signing-key", "signer", "--jsf"],
    ));
    let light = |keys: &str| sbomit(p, &["sit", "verify", "--sit", "sit.json", "--keys", keys]);
    let o = ok(light("signer.pub"));
    let t = text(&o);
    assert!(
        t.contains("jsf: verified") && t.contains("verification passed (light"),
        "{t}"
    );
    // The layout authorizes signer by its `sbomit-sit` step: full verification passes.
    ok(c.verify_full("sit.json", &[]));
    fails_with(
        light("dev.pub"),
        1,
        &["signature: signed by 0 authorized key(s)"],
    );

    // Signed by dev, whom the layout does not authorize to sign SITs: light verification
    // trusting dev passes; verification going by the layout fails.
    let o = ok(c.generate("cyclonedx-1.6", "dev-sit.json", &["--signing-key", "dev"]));
    assert!(
        text(&o).contains("not listed by the layout's \"sbomit-sit\" step"),
        "{}",
        text(&o)
    );
    ok(light_of(p, "dev-sit.json", "dev.pub"));
    fails_with(
        c.verify_full("dev-sit.json", &[]),
        1,
        &["signature: signed by 0 authorized key(s), 1 needed"],
    );

    // One changed byte of the SIT: in whitespace, or in content.
    let original = std::fs::read(p.join("sit.json")).unwrap();
    let mut spaced = original.clone();
    spaced.insert(1, b' ');
    std::fs::write(p.join("sit.json"), &spaced).unwrap();
    fails_with(light("signer.pub"), 1, &["not byte-identical"]);
    let text_sit = String::from_utf8(original.clone()).unwrap();
    let changed = text_sit.replacen("\"greeter", "\"Greeter", 1);
    assert_ne!(changed, text_sit);
    std::fs::write(p.join("sit.json"), changed.as_bytes()).unwrap();
    fails_with(
        light("signer.pub"),
        1,
        &["content differs from the signed predicate"],
    );

    // A tampered CycloneDX whose DSSE envelope was re-made by an authorized key: the JSF
    // signature still catches it.
    let mut tampered: Value = serde_json::from_slice(&original).unwrap();
    tampered["metadata"]["component"]["name"] = json!("evil");
    let mut bytes = serde_json::to_vec_pretty(&tampered).unwrap();
    bytes.push(b'\n');
    std::fs::write(p.join("sit.json"), &bytes).unwrap();
    let key = sbomit_crypto::PrivateKey::from_pem(&std::fs::read(p.join("signer")).unwrap(), None)
        .unwrap();
    let env =
        sbomit_sbom::sit::sign::sign(sbomit_sbom::sit::Format::CycloneDx16, &tampered, &[], &key)
            .unwrap();
    std::fs::write(p.join("sit.json.intoto.json"), env.to_file_bytes()).unwrap();
    fails_with(
        light("signer.pub"),
        1,
        &["JSF signature", "does not verify"],
    );

    // JSF is for CycloneDX (1.4 and later) only; a missing envelope is an input error.
    fails_with(
        c.generate("spdx-2.3", "x.json", &["--signing-key", "signer", "--jsf"]),
        2,
        &["CycloneDX 1.4 and later only"],
    );
    ok(c.generate("spdx-2.3", "unsigned.json", &[]));
    fails_with(
        light_of(p, "unsigned.json", "signer.pub"),
        2,
        &["unsigned.json.intoto.json"],
    );
    fails_with(
        sbomit(p, &["sit", "verify", "--sit", "unsigned.json"]),
        2,
        &["--keys"],
    );
}

fn light_of(p: &Path, sit: &str, keys: &str) -> Output {
    sbomit(p, &["sit", "verify", "--sit", sit, "--keys", keys])
}

/// Without --artifacts a layout's inspection cannot run: the document does not fully verify,
/// so `sit verify --document` fails as INCOMPLETE (exit 1, as `document verify` does) unless
/// `--light` accepts a check of the signature by the layout's SIT signers only, which it says;
/// with --artifacts it is full.
#[test]
fn sit_verify_with_an_incomplete_document_fails_unless_light_is_asked_for() {
    let d = tempdir();
    let c = npm_with(
        d.path(),
        r#"[[inspect]]
name = "unpack"
run = ["tar", "xzf", "greeter.tgz"]
expected_materials = ["MATCH greeter.tgz WITH PRODUCTS FROM build", "ALLOW *"]
"#,
    );
    ok(c.generate("spdx-3.0.1", "sit.json", &["--signing-key", "signer"]));
    let args = [
        "sit",
        "verify",
        "--sit",
        "sit.json",
        "--document",
        "doc.json",
        "--layout-keys",
        "owner.pub",
    ];
    fails_with(
        sbomit(&c.dir, &args),
        1,
        &[
            "verification INCOMPLETE",
            "--light to accept light verification",
        ],
    );
    let o = ok(sbomit(&c.dir, &[&args[..], &["--light"]].concat()));
    let t = text(&o);
    for n in [
        "verification INCOMPLETE",
        "light verification only (--light)",
        "signature: verified",
        "verification passed (light",
    ] {
        assert!(t.contains(n), "expected {n:?} in:\n{t}");
    }
    let o = ok(c.verify_full("sit.json", &[]));
    assert!(
        text(&o).contains("verification passed (full)"),
        "{}",
        text(&o)
    );
}

/// A layout without a `sbomit-sit` step authorizes nobody to sign SITs.
#[test]
fn a_layout_without_a_sit_step_authorizes_no_sit_signer() {
    let d = tempdir();
    let c = quickstart_with(d.path(), false);
    ok(c.generate(
        "spdx-2.3",
        "sit.json",
        &["--signing-key", "demo/work/owner"],
    ));
    fails_with(
        c.verify_full("sit.json", &[]),
        1,
        &["verification FAILED", "no \"sbomit-sit\" step"],
    );
    // Light verification with the verifier's own choice of key still works.
    ok(light_of(&c.dir, "sit.json", "demo/work/owner.pub"));
}

/// Unsigned SITs are streamed while written, signed ones built whole: the bytes agree.
#[test]
fn streamed_and_whole_sits_are_byte_identical() {
    let d = tempdir();
    let c = npm(d.path());
    for format in ["cyclonedx-1.6", "cyclonedx-1.5", "spdx-2.3", "spdx-3.0.1"] {
        ok(c.generate(format, "streamed.json", &[]));
        ok(c.generate(format, "whole.json", &["--signing-key", "signer"]));
        let a = std::fs::read(c.dir.join("streamed.json")).unwrap();
        let b = std::fs::read(c.dir.join("whole.json")).unwrap();
        assert!(a == b, "{format}: streamed and whole SITs differ");
    }
}

/// Lockfile paths come from link metadata; one that leaves `--artifacts` (here the build
/// recorded `../Cargo.lock`, which is in the directory above `work`) is refused by name, not
/// read from outside.
#[test]
fn attested_lockfile_paths_outside_artifacts_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("work")).unwrap();
    copy(&repo().join("Cargo.lock"), &p.join("Cargo.lock"));
    let c = one_step_chain(p, &["../Cargo.lock"], "lock.tgz", "");
    let refused = ["\"../Cargo.lock\"", "outside"];
    fails_with(c.generate("cyclonedx-1.6", "sit.json", &[]), 2, &refused);
    assert!(!p.join("sit.json").exists());
    // Without --artifacts no lockfile is read: the SIT is made, and its full verification
    // (which reads lockfiles from --artifacts) refuses the path too.
    ok(sbomit_env(
        p,
        &[
            "sit",
            "generate",
            "--document",
            "doc.json",
            "--format",
            "cyclonedx-1.6",
            "--layout-keys",
            &c.layout_key,
            "--out",
            "sit.json",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    ));
    fails_with(c.verify_full("sit.json", &[]), 2, &refused);
}

// ---- g. diffs round-trip (issue 11)

/// The document digest a SIT names (a CycloneDX metadata property, or in 1.2 a BOM-level
/// external reference reading `sbomit:document:sha256=HEX`).
fn sit_document_digest(sit: &Value) -> String {
    sbomit_sbom::sit::received::document_digest_from_sit(sit)
        .unwrap()
        .to_hex()
}

/// Issue 11 acceptance g: `sit diff`, then the mutation in the document, then a regenerated
/// SIT equals the edited SIT, and it passes full verification (the edits override nothing
/// in-toto says). Only what names the document the SIT came from differs (its digest, the URNs
/// and serial number derived from it): the mutation is part of the document, so the document
/// is a new one. An edit of the generation's timestamp is left out of the mutation, with a
/// warning. (The property test over arbitrary edits is `diff::tests`.)
#[test]
fn sit_diff_then_the_mutation_regenerates_the_edited_sit() {
    let d = tempdir();
    let c = npm(d.path());
    let p = &c.dir;
    let (layout, link_dir) = (c.layout.clone(), c.link_dir.clone());
    for format in ["cyclonedx-1.6", "cyclonedx-1.2"] {
        c.create_document(&[], &layout, &link_dir);
        ok(c.generate(format, "gen.json", &[]));
        let generated = read_json(&p.join("gen.json"));
        let mut edited = generated.clone();
        edited["metadata"]["supplier"] = json!({"name": "ACME"});
        edited["metadata"]["component"]["description"] = json!("the app, edited");
        edited["components"].as_array_mut().unwrap().insert(
            1,
            json!({"type": "library", "name": "vendored", "version": "1", "bom-ref": "vendored"}),
        );
        edited["components"][3]["licenses"] = json!([{"expression": "MIT"}]);
        edited["metadata"]["timestamp"] = json!("2031-01-01T00:00:00Z");
        write_json(&p.join("edited.json"), &edited);

        let o = ok(sbomit(
            p,
            &[
                "sit",
                "diff",
                "--from",
                "gen.json",
                "--to",
                "edited.json",
                "--out",
                "mutation.json",
            ],
        ));
        let t = text(&o);
        assert!(
            t.contains("/metadata/timestamp names the SIT's generation"),
            "{t}"
        );
        assert!(!t.contains("in-toto"), "{t}");
        assert!(
            t.contains(&format!("--mutation {format}=mutation.json")),
            "{t}"
        );
        let mutation = read_json(&p.join("mutation.json"));
        assert_eq!(mutation.as_array().unwrap().len(), 4, "{mutation}");

        c.create_document(
            &["--mutation", &format!("{format}=mutation.json")],
            &layout,
            &link_dir,
        );
        ok(c.generate(format, "regen.json", &["--signing-key", &c.signer]));
        let o = ok(c.verify_full("regen.json", &[]));
        assert!(
            text(&o).contains("verification passed (full)") && !text(&o).contains("warning"),
            "{}",
            text(&o)
        );
        let regenerated = read_json(&p.join("regen.json"));
        let (old, new) = (
            sit_document_digest(&generated),
            sit_document_digest(&regenerated),
        );
        assert_ne!(old, new, "the mutation is part of the document");
        let expected = serde_json::to_string(&edited)
            .unwrap()
            .replace(&old, &new)
            .replace(
                generated["serialNumber"].as_str().unwrap(),
                regenerated["serialNumber"].as_str().unwrap(),
            );
        let mut expected: Value = serde_json::from_str(&expected).unwrap();
        expected["metadata"]["timestamp"] = generated["metadata"]["timestamp"].clone();
        assert_eq!(regenerated, expected, "{format}");
    }
    // SITs of two formats have no mutation between them; nothing is written.
    ok(c.generate("spdx-2.3", "spdx.json", &[]));
    fails_with(
        sbomit(
            p,
            &[
                "sit",
                "diff",
                "--from",
                "gen.json",
                "--to",
                "spdx.json",
                "--out",
                "m.json",
            ],
        ),
        2,
        &["different formats"],
    );
    assert!(!p.join("m.json").exists());
}
