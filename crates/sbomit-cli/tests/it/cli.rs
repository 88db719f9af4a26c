//! End-to-end tests of the `sbomit` binary: the peers' fixtures, round trips with the in-toto
//! reference, exit codes and error messages (shared helpers in `common/`).
//!
//! Tests that need the in-toto reference run when SBOMIT_INTOTO_REF_BIN names its virtualenv's
//! bin directory (`../shared/tools/intoto_reference.sh` prints it; CI always sets it).

#![allow(clippy::unwrap_used)] // tests fail loudly on broken fixtures

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A fixture from another implementation, vendored under `testdata/` (see its README).
fn interop(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
}

/// Replaces `tarball` with a valid archive holding a different `file`: a tampered delivery
/// that still unpacks, so the failure comes from the rules, not from tar.
fn tamper_tarball(dir: &Path, tarball: &str, file: &str) {
    let evil = tempdir();
    std::fs::write(evil.path().join(file), "print('all your base')\n").unwrap();
    let status = Command::new("tar")
        .arg("czf")
        .arg(dir.join(tarball))
        .arg(file)
        .current_dir(evil.path())
        .status()
        .unwrap();
    assert!(status.success());
}

fn ref_bin() -> Option<PathBuf> {
    peer_bin("SBOMIT_INTOTO_REF_BIN")
}

fn peer(bin: &Path, dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(bin.join(program))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run the reference")
}

// ---------------------------------------------------------------------------------------------
// a. The peers' fixtures.

/// The Python reference's demo: alice (PKCS#1 RSA key) signs the layout template, bob and carl's
/// links are the reference's. The inspection ran `python ./scripts/tar`, which the fixtures do
/// not ship, so it runs plain `tar` here.
fn python_demo(dir: &Path, fixtures: &str) {
    let src = interop(&format!("in-toto-python/{fixtures}"));
    for entry in std::fs::read_dir(&src).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".link") {
            copy(&p, &dir.join(&name));
        }
    }
    // Both demos deliver the same package; only demo_files ships it.
    copy(
        &interop("in-toto-python/demo_files/foo.tar.gz"),
        &dir.join("foo.tar.gz"),
    );
    copy(
        &interop("in-toto-python/demo_files/alice"),
        &dir.join("alice"),
    );
    copy(
        &interop("in-toto-python/demo_files/alice.pub"),
        &dir.join("alice.pub"),
    );
    let template: Value =
        serde_json::from_slice(&std::fs::read(src.join("demo.layout.template")).unwrap()).unwrap();
    let mut layout = match template.get("signed") {
        Some(s) => s.clone(),
        None => {
            let payload = template["payload"].as_str().unwrap();
            serde_json::from_slice(&base64_decode(payload)).unwrap()
        }
    };
    layout["expires"] = Value::String("2099-01-01T00:00:00Z".into());
    layout["inspect"][0]["run"] = serde_json::json!(["tar", "xfz", "foo.tar.gz"]);
    // The template's inspection has no DISALLOW, so (in the reference too) a swapped package
    // would pass: require that what MATCH did not consume is refused.
    layout["inspect"][0]["expected_materials"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(["DISALLOW", "foo.tar.gz"]));
    layout["inspect"][0]["expected_products"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(["DISALLOW", "foo.py"]));
    let unsigned = serde_json::json!({"signed": layout, "signatures": []});
    std::fs::write(
        dir.join("demo.layout"),
        serde_json::to_vec_pretty(&unsigned).unwrap(),
    )
    .unwrap();
    ok(sbomit(
        dir,
        &["sign", "-f", "demo.layout", "--signing-key", "alice"],
    ));
}

fn base64_decode(s: &str) -> Vec<u8> {
    // A tiny decoder keeps the test free of extra dependencies.
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The Python demo verifies, and a package swapped after the fact is caught.
fn python_demo_verifies_and_catches_tampering(fixtures: &str) {
    let d = tempdir();
    python_demo(d.path(), fixtures);
    let verify = [
        "verify",
        "--layout",
        "demo.layout",
        "--verification-keys",
        "alice.pub",
    ];
    ok(sbomit(d.path(), &verify));
    tamper_tarball(d.path(), "foo.tar.gz", "foo.py");
    fails_with(sbomit(d.path(), &verify), 1, &["foo.tar.gz"]);
}

#[test]
fn verifies_python_reference_demo_classic() {
    python_demo_verifies_and_catches_tampering("demo_files");
}

#[test]
fn verifies_python_reference_demo_dsse_links() {
    python_demo_verifies_and_catches_tampering("demo_dsse_files");
}

fn go_fixtures(dir: &Path, files: &[&str]) {
    for f in files {
        copy(&interop(&format!("in-toto-golang/{f}")), &dir.join(f));
    }
}

#[test]
fn verifies_go_demo_layout_classic_and_dsse() {
    for layout in ["demo.layout", "demo.dsse.layout"] {
        let d = tempdir();
        go_fixtures(
            d.path(),
            &[
                layout,
                "alice.pub",
                "foo.tar.gz",
                "write-code.b7d643de.link",
                "package.d3ffd108.link",
            ],
        );
        ok(sbomit(
            d.path(),
            &[
                "verify",
                "--layout",
                layout,
                "--verification-keys",
                "alice.pub",
            ],
        ));
        tamper_tarball(d.path(), "foo.tar.gz", "foo.py");
        fails_with(
            sbomit(
                d.path(),
                &[
                    "verify",
                    "--layout",
                    layout,
                    "--verification-keys",
                    "alice.pub",
                ],
            ),
            1,
            &["foo.tar.gz"],
        );
    }
}

#[test]
fn verifies_go_super_layout_with_sublayout() {
    let d = tempdir();
    go_fixtures(
        d.path(),
        &[
            "super.layout",
            "alice",
            "alice.pub",
            "foo.tar.gz",
            "sub_layout.70ca5750.link",
        ],
    );
    // in-toto-golang's fixture is unsigned: its test signs it with alice's key, so do we.
    ok(sbomit(
        d.path(),
        &["sign", "-f", "super.layout", "--signing-key", "alice"],
    ));
    let sub = d.path().join("sub_layout.70ca5750");
    std::fs::create_dir(&sub).unwrap();
    go_fixtures(&sub, &["write-code.b7d643de.link", "package.d3ffd108.link"]);
    // super.layout expired in 2021: verify as of a time when it was valid.
    let args = [
        "verify",
        "--layout",
        "super.layout",
        "--verification-keys",
        "alice.pub",
        "--at",
        "2021-01-01T00:00:00Z",
    ];
    ok(sbomit(d.path(), &args));
    fails_with(
        sbomit(
            d.path(),
            &[
                "verify",
                "--layout",
                "super.layout",
                "--verification-keys",
                "alice.pub",
            ],
        ),
        1,
        &["expired"],
    );
    tamper_tarball(d.path(), "foo.tar.gz", "foo.py");
    fails_with(sbomit(d.path(), &args), 1, &["sub_layout", "foo.tar.gz"]);
}

// ---------------------------------------------------------------------------------------------
// b. Round trips with the reference, for ed25519, ecdsa-p256 and rsa keys, classic and DSSE.

fn write_layout_source(dir: &Path) {
    std::fs::write(
        dir.join("layout.toml"),
        r#"expires = "2099-01-01T00:00:00Z"
[keys]
dev = "dev.pub"
[[steps]]
name = "write-code"
functionaries = ["dev"]
expected_products = ["CREATE foo.py", "DISALLOW *"]
[[steps]]
name = "package"
functionaries = ["dev"]
expected_materials = ["MATCH foo.py WITH PRODUCTS FROM write-code", "DISALLOW *"]
expected_products = ["CREATE foo.tar.gz", "DISALLOW *"]
[[inspect]]
name = "untar"
run = ["tar", "xzf", "foo.tar.gz"]
expected_materials = ["MATCH foo.tar.gz WITH PRODUCTS FROM package", "DISALLOW foo.tar.gz"]
expected_products = ["MATCH foo.py WITH PRODUCTS FROM write-code", "DISALLOW foo.py"]
"#,
    )
    .unwrap();
}

/// The two steps of the round-trip chain, run by `runner` ("sbomit run" or "in-toto-run").
fn run_steps(dir: &Path, run: &dyn Fn(&[&str]) -> Output, dsse: bool) {
    let mut a: Vec<&str> = vec!["-n", "write-code", "--signing-key", "dev", "-p", "foo.py"];
    if dsse {
        a.push("--use-dsse");
    }
    std::fs::write(dir.join("foo.py"), "print('hello')\n").unwrap();
    a.extend(["--", "true"]);
    ok(run(&a));
    let mut b: Vec<&str> = vec![
        "-n",
        "package",
        "--signing-key",
        "dev",
        "-m",
        "foo.py",
        "-p",
        "foo.tar.gz",
    ];
    if dsse {
        b.push("--use-dsse");
    }
    b.extend(["--", "tar", "czf", "foo.tar.gz", "foo.py"]);
    ok(run(&b));
}

/// Moves the delivery (layout, links, package, owner key) into a fresh directory.
fn deliver(from: &Path, layout: &str) -> tempfile::TempDir {
    let to = tempdir();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let n = p.file_name().unwrap().to_str().unwrap().to_owned();
        if n.ends_with(".link") || n == layout || n == "foo.tar.gz" || n == "owner.pub" {
            copy(&p, &to.path().join(n));
        }
    }
    to
}

const KEY_TYPES: [(&str, &str); 3] = [
    ("ed25519", "ed25519"),
    ("ecdsa-p256", "ecdsa"),
    ("rsa", "rsa"),
];

#[test]
fn sbomit_made_chain_verifies_with_in_toto_verify() {
    let Some(bin) = ref_bin() else { return };
    for (ours, _) in KEY_TYPES {
        for dsse in [false, true] {
            let d = tempdir();
            let p = d.path();
            ok(sbomit(
                p,
                &["key", "generate", "--type", ours, "--out", "owner"],
            ));
            ok(sbomit(
                p,
                &["key", "generate", "--type", ours, "--out", "dev"],
            ));
            write_layout_source(p);
            let mut create = vec![
                "layout",
                "create",
                "--from",
                "layout.toml",
                "--out",
                "root.layout",
                "--signing-key",
                "owner",
            ];
            if dsse {
                create.push("--use-dsse");
            }
            ok(sbomit(p, &create));
            run_steps(p, &|a| sbomit(p, &[&["run"], a].concat()), dsse);
            let out = deliver(p, "root.layout");
            let verify = [
                "--layout",
                "root.layout",
                "--verification-keys",
                "owner.pub",
            ];
            let r = peer(&bin, out.path(), "in-toto-verify", &verify);
            assert_eq!(
                code(&r),
                0,
                "{ours} dsse={dsse}: in-toto-verify failed:\n{}",
                text(&r)
            );
            ok(sbomit(out.path(), &[&["verify"], &verify[..]].concat()));
            tamper_tarball(out.path(), "foo.tar.gz", "foo.py");
            let r = peer(&bin, out.path(), "in-toto-verify", &verify);
            assert_eq!(
                code(&r),
                1,
                "{ours} dsse={dsse}: in-toto-verify accepted a tampered package:\n{}",
                text(&r)
            );
            fails_with(
                sbomit(out.path(), &[&["verify"], &verify[..]].concat()),
                1,
                &["foo.tar.gz"],
            );
        }
    }
}

#[test]
fn reference_made_chain_verifies_with_sbomit() {
    let Some(bin) = ref_bin() else { return };
    let driver = shared_tool("intoto_ref.py");
    let driver = driver.to_str().unwrap();
    for (_, theirs) in KEY_TYPES {
        for dsse in [false, true] {
            let d = tempdir();
            let p = d.path();
            for who in ["owner", "dev"] {
                ok(peer(
                    &bin,
                    p,
                    "python",
                    &[driver, "keygen", "--type", theirs, "--out", who],
                ));
            }
            let layout = serde_json::json!({
                "_type": "layout",
                "expires": "2099-01-01T00:00:00Z",
                "readme": "",
                "keys": {"dev": "dev.pub"},
                "steps": [
                    {"_type": "step", "name": "write-code", "pubkeys": ["dev"], "threshold": 1, "expected_command": [],
                     "expected_materials": [], "expected_products": [["CREATE", "foo.py"], ["DISALLOW", "*"]]},
                    {"_type": "step", "name": "package", "pubkeys": ["dev"], "threshold": 1, "expected_command": [],
                     "expected_materials": [["MATCH", "foo.py", "WITH", "PRODUCTS", "FROM", "write-code"], ["DISALLOW", "*"]],
                     "expected_products": [["CREATE", "foo.tar.gz"], ["DISALLOW", "*"]]}
                ],
                "inspect": [
                    {"_type": "inspection", "name": "untar", "run": ["tar", "xzf", "foo.tar.gz"],
                     "expected_materials": [["MATCH", "foo.tar.gz", "WITH", "PRODUCTS", "FROM", "package"], ["DISALLOW", "foo.tar.gz"]],
                     "expected_products": [["MATCH", "foo.py", "WITH", "PRODUCTS", "FROM", "write-code"], ["DISALLOW", "foo.py"]]}
                ]
            });
            std::fs::write(p.join("layout.json"), serde_json::to_vec(&layout).unwrap()).unwrap();
            let mut sign = vec![
                driver,
                "sign-layout",
                "--key",
                "owner",
                "--in",
                "layout.json",
                "--out",
                "root.layout",
            ];
            if dsse {
                sign.push("--dsse");
            }
            ok(peer(&bin, p, "python", &sign));
            run_steps(p, &|a| peer(&bin, p, "in-toto-run", a), dsse);
            let out = deliver(p, "root.layout");
            let verify = [
                "verify",
                "--layout",
                "root.layout",
                "--verification-keys",
                "owner.pub",
            ];
            ok(sbomit(out.path(), &verify));
            tamper_tarball(out.path(), "foo.tar.gz", "foo.py");
            fails_with(sbomit(out.path(), &verify), 1, &["foo.tar.gz"]);
        }
    }
}

/// Links recorded by sbomit over awkward file names carry exactly the bytes the reference
/// signs: the reference verifies their signatures (classic signatures cover canonical JSON).
#[test]
fn awkward_file_names_link_verifies_with_reference() {
    let Some(bin) = ref_bin() else { return };
    let d = tempdir();
    let p = d.path();
    let tree = p.join("tree");
    std::fs::create_dir(&tree).unwrap();
    for name in [
        "ünïcödé.txt",
        "e\u{301}-accent",
        "\u{e9}-precomposed",
        "tab\tname",
        "ctrl-\u{1}-\u{1f}",
        "quote\"back\\slash",
        "emoji-\u{1f600}",
        "space name",
    ] {
        std::fs::write(tree.join(name), name).unwrap();
    }
    ok(sbomit(
        p,
        &["key", "generate", "--type", "ed25519", "--out", "owner"],
    ));
    ok(sbomit(
        p,
        &["key", "generate", "--type", "ed25519", "--out", "dev"],
    ));
    std::fs::write(
        p.join("layout.toml"),
        "expires = \"2099-01-01T00:00:00Z\"\n[keys]\ndev = \"dev.pub\"\n[[steps]]\nname = \"record\"\nfunctionaries = [\"dev\"]\nexpected_products = [\"ALLOW tree/*\", \"DISALLOW *\"]\n",
    )
    .unwrap();
    sign_layout(p, "layout.toml", "root.layout", "owner");
    ok(sbomit(
        p,
        &[
            "run",
            "-n",
            "record",
            "--signing-key",
            "dev",
            "-p",
            "tree",
            "-x",
        ],
    ));
    let r = peer(
        &bin,
        p,
        "in-toto-verify",
        &[
            "--layout",
            "root.layout",
            "--verification-keys",
            "owner.pub",
        ],
    );
    assert_eq!(code(&r), 0, "in-toto-verify:\n{}", text(&r));
    // And the reference records the same artifacts we did.
    std::fs::create_dir(p.join("peer")).unwrap();
    ok(peer(
        &bin,
        p,
        "in-toto-run",
        &[
            "-n",
            "peer",
            "--signing-key",
            "dev",
            "-p",
            "tree",
            "-x",
            "-d",
            "peer",
        ],
    ));
    let load = |dir: &str, step: &str| -> Value {
        let f = std::fs::read_dir(p.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|f| f.file_name().unwrap().to_str().unwrap().starts_with(step))
            .unwrap();
        serde_json::from_slice::<Value>(&std::fs::read(f).unwrap()).unwrap()["signed"]["products"]
            .clone()
    };
    assert_eq!(load(".", "record."), load("peer", "peer."));
}

// ---------------------------------------------------------------------------------------------
// Exit codes and errors.

#[test]
fn malformed_layout_is_a_one_line_error_with_exit_2() {
    let d = tempdir();
    std::fs::write(d.path().join("bad.layout"), b"{not json").unwrap();
    copy(
        &interop("in-toto-golang/alice.pub"),
        &d.path().join("alice.pub"),
    );
    let o = sbomit(
        d.path(),
        &[
            "verify",
            "--layout",
            "bad.layout",
            "--verification-keys",
            "alice.pub",
        ],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.layout"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn missing_file_and_bad_usage_exit_2() {
    let d = tempdir();
    let o = sbomit(
        d.path(),
        &[
            "verify",
            "--layout",
            "nope.layout",
            "--verification-keys",
            "nope.pub",
        ],
    );
    fails_with(o, 2, &["nope"]);
    let o = sbomit(d.path(), &["verify", "--no-such-flag"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn gpg_is_refused_with_a_clear_error() {
    let d = tempdir();
    let o = sbomit(d.path(), &["run", "-n", "x", "--gpg", "ABCDEF", "-x"]);
    fails_with(o, 2, &["GPG"]);
}

#[test]
fn demo_builds_verifies_and_catches_tampering() {
    let d = tempdir();
    ok(sbomit(d.path(), &["demo", "--dir", "demo"]));
}

// ---------------------------------------------------------------------------------------------
// The other commands.

fn one_step_layout(dir: &Path, step: &str, rules: &str) {
    std::fs::write(
        dir.join("layout.toml"),
        format!(
            "expires = \"2099-01-01T00:00:00Z\"\n[keys]\ndev = \"dev.pub\"\n[[steps]]\nname = \"{step}\"\nfunctionaries = [\"dev\"]\n{rules}\n"
        ),
    )
    .unwrap();
    sign_layout(dir, "layout.toml", "root.layout", "owner");
}

fn keys(dir: &Path) {
    ok(sbomit(dir, &["key", "generate", "--out", "owner"]));
    ok(sbomit(dir, &["key", "generate", "--out", "dev"]));
}

#[test]
fn record_start_stop_makes_a_verifiable_link() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    std::fs::write(p.join("in.txt"), "source").unwrap();
    ok(sbomit(
        p,
        &[
            "record",
            "start",
            "-n",
            "edit",
            "--signing-key",
            "dev",
            "-m",
            "in.txt",
        ],
    ));
    let unfinished: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".link-unfinished"))
        .collect();
    assert_eq!(unfinished.len(), 1);
    assert!(unfinished[0].starts_with(".edit."), "{unfinished:?}");
    std::fs::write(p.join("out.txt"), "result").unwrap();
    // Someone else's key cannot finish the recording.
    ok(sbomit(p, &["key", "generate", "--out", "mallory"]));
    fails_with(
        sbomit(
            p,
            &[
                "record",
                "stop",
                "-n",
                "edit",
                "--signing-key",
                "mallory",
                "-p",
                "out.txt",
            ],
        ),
        2,
        &["record start"],
    );
    ok(sbomit(
        p,
        &[
            "record",
            "stop",
            "-n",
            "edit",
            "--signing-key",
            "dev",
            "-p",
            "out.txt",
        ],
    ));
    assert!(
        !p.join(&unfinished[0]).exists(),
        "the unfinished link is removed"
    );
    one_step_layout(p, "edit", "expected_materials = [\"ALLOW in.txt\", \"DISALLOW *\"]\nexpected_products = [\"CREATE out.txt\", \"DISALLOW *\"]");
    ok(sbomit(
        p,
        &[
            "verify",
            "--layout",
            "root.layout",
            "--verification-keys",
            "owner.pub",
        ],
    ));
}

#[test]
fn sign_verify_and_append() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    ok(sbomit(
        p,
        &["key", "generate", "--type", "ecdsa-p256", "--out", "second"],
    ));
    one_step_layout(p, "s", "");
    ok(sbomit(
        p,
        &["sign", "-f", "root.layout", "--verify", "-k", "owner.pub"],
    ));
    fails_with(
        sbomit(
            p,
            &["sign", "-f", "root.layout", "--verify", "-k", "second.pub"],
        ),
        1,
        &["root.layout"],
    );
    ok(sbomit(
        p,
        &["sign", "-f", "root.layout", "-a", "-k", "second"],
    ));
    ok(sbomit(
        p,
        &[
            "sign",
            "-f",
            "root.layout",
            "--verify",
            "-k",
            "owner.pub",
            "second.pub",
        ],
    ));
    // Both owners' keys are now required by verify, and both signed.
    ok(sbomit(p, &["run", "-n", "s", "--signing-key", "dev", "-x"]));
    ok(sbomit(
        p,
        &[
            "verify",
            "--layout",
            "root.layout",
            "--verification-keys",
            "owner.pub",
            "second.pub",
        ],
    ));
    // Re-signing without -a replaces the signatures: the first owner's is gone.
    ok(sbomit(p, &["sign", "-f", "root.layout", "-k", "second"]));
    fails_with(
        sbomit(
            p,
            &[
                "verify",
                "--layout",
                "root.layout",
                "--verification-keys",
                "owner.pub",
                "second.pub",
            ],
        ),
        1,
        &["signature"],
    );
}

#[test]
fn encrypted_key_needs_its_password() {
    let d = tempdir();
    let p = d.path();
    let gen = Command::new(env!("CARGO_BIN_EXE_sbomit"))
        .args(["key", "generate", "--out", "k"])
        .env("SBOMIT_KEY_PASSWORD", "s3cret")
        .current_dir(p)
        .output()
        .unwrap();
    ok(gen);
    let pem = std::fs::read_to_string(p.join("k")).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(p.join("k")).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // No password and no terminal: a clear error, exit 2.
    fails_with(
        sbomit(p, &["run", "-n", "x", "--signing-key", "k", "-x"]),
        2,
        &["encrypted"],
    );
    fails_with(
        sbomit(
            p,
            &["run", "-n", "x", "--signing-key", "k", "-P", "wrong", "-x"],
        ),
        2,
        &["password"],
    );
    ok(sbomit(
        p,
        &["run", "-n", "x", "--signing-key", "k", "-P", "s3cret", "-x"],
    ));
}

#[test]
fn key_ids_match_the_reference() {
    let Some(bin) = ref_bin() else { return };
    let d = tempdir();
    let p = d.path();
    let driver = shared_tool("intoto_ref.py");
    for t in ["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa"] {
        let o = ok(sbomit(p, &["key", "generate", "--type", t, "--out", t]));
        let ours = String::from_utf8(o.stdout).unwrap().trim().to_owned();
        let id = ok(sbomit(p, &["key", "id", &format!("{t}.pub")]));
        assert_eq!(String::from_utf8(id.stdout).unwrap().trim(), ours);
        let theirs = ok(peer(
            &bin,
            p,
            "python",
            &[
                driver.to_str().unwrap(),
                "keyid",
                "--pub",
                &format!("{t}.pub"),
            ],
        ));
        assert_eq!(
            String::from_utf8(theirs.stdout).unwrap().trim(),
            ours,
            "{t}"
        );
    }
}

#[test]
fn verify_json_report_names_step_rule_and_artifact() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    std::fs::write(p.join("evil.sh"), "rm -rf /").unwrap();
    ok(sbomit(
        p,
        &[
            "run",
            "-n",
            "build",
            "--signing-key",
            "dev",
            "-p",
            "evil.sh",
            "-x",
        ],
    ));
    one_step_layout(p, "build", "expected_products = [\"DISALLOW evil.*\"]");
    let o = sbomit(
        p,
        &[
            "verify",
            "--layout",
            "root.layout",
            "--verification-keys",
            "owner.pub",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verified"], false);
    assert_eq!(report["failure"]["step"], "build");
    assert_eq!(
        report["failure"]["rule"],
        "expected_products: DISALLOW evil.*"
    );
    assert_eq!(
        report["failure"]["artifacts"],
        serde_json::json!(["evil.sh"])
    );
}

#[test]
fn parameters_are_substituted_and_required() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    std::fs::write(p.join("app-1.2.tar"), "x").unwrap();
    ok(sbomit(
        p,
        &[
            "run",
            "-n",
            "package",
            "--signing-key",
            "dev",
            "-p",
            "app-1.2.tar",
            "-x",
        ],
    ));
    one_step_layout(
        p,
        "package",
        "expected_products = [\"CREATE app-{VERSION}.tar\", \"DISALLOW *\"]",
    );
    let v = [
        "verify",
        "--layout",
        "root.layout",
        "--verification-keys",
        "owner.pub",
    ];
    ok(sbomit(p, &[&v[..], &["--param", "VERSION=1.2"]].concat()));
    fails_with(
        sbomit(p, &[&v[..], &["--param", "VERSION=9.9"]].concat()),
        1,
        &["app-1.2.tar"],
    );
    fails_with(sbomit(p, &v), 1, &["app-1.2.tar"]);
}

#[test]
fn layout_show_lists_steps_keys_thresholds_and_rules() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    one_step_layout(
        p,
        "build",
        "threshold = 1\nexpected_products = [\"CREATE app\", \"DISALLOW *\"]",
    );
    let o = ok(sbomit(p, &["layout", "show", "root.layout"]));
    let t = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "expires 2099-01-01T00:00:00Z",
        "Step \"build\": 1 of 1",
        "CREATE app",
        "DISALLOW *",
        "ed25519",
    ] {
        assert!(t.contains(needle), "{needle:?} in\n{t}");
    }
}

#[test]
fn attestation_format_links_verify() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    std::fs::write(p.join("out.bin"), "x").unwrap();
    ok(sbomit(
        p,
        &[
            "run",
            "-n",
            "build",
            "--signing-key",
            "dev",
            "-p",
            "out.bin",
            "--format",
            "attestation",
            "-x",
        ],
    ));
    let link = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|e| e == "link"))
        .unwrap();
    let env: Value = serde_json::from_slice(&std::fs::read(link).unwrap()).unwrap();
    let payload: Value =
        serde_json::from_slice(&base64_decode(env["payload"].as_str().unwrap())).unwrap();
    assert_eq!(payload["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        payload["predicateType"],
        "https://in-toto.io/attestation/link/v0.3"
    );
    assert_eq!(payload["subject"][0]["name"], "out.bin");
    one_step_layout(
        p,
        "build",
        "expected_products = [\"CREATE out.bin\", \"DISALLOW *\"]",
    );
    ok(sbomit(
        p,
        &[
            "verify",
            "--layout",
            "root.layout",
            "--verification-keys",
            "owner.pub",
        ],
    ));
}

#[test]
fn yaml_layout_source_is_accepted() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    std::fs::write(
        p.join("layout.yaml"),
        "expires: \"2099-01-01T00:00:00Z\"\nkeys:\n  dev: dev.pub\nsteps:\n  - name: build\n    functionaries: [dev]\n    expected_products:\n      - CREATE out.bin\n      - [DISALLOW, \"*\"]\n",
    )
    .unwrap();
    sign_layout(p, "layout.yaml", "root.layout", "owner");
    std::fs::write(p.join("out.bin"), "x").unwrap();
    ok(sbomit(
        p,
        &[
            "run",
            "-n",
            "build",
            "--signing-key",
            "dev",
            "-p",
            "out.bin",
            "-x",
        ],
    ));
    ok(sbomit(
        p,
        &[
            "verify",
            "--layout",
            "root.layout",
            "--verification-keys",
            "owner.pub",
        ],
    ));
    // A typo in the source is an error naming the file, not a silently ignored field.
    std::fs::write(
        p.join("bad.yaml"),
        "expires: \"2099-01-01T00:00:00Z\"\nstepz: []\n",
    )
    .unwrap();
    fails_with(
        sbomit(
            p,
            &[
                "layout", "create", "--from", "bad.yaml", "--out", "x.layout",
            ],
        ),
        2,
        &["bad.yaml"],
    );
    assert!(!p.join("x.layout").exists(), "no partial output");
}

#[test]
fn failing_command_is_recorded_with_its_return_value() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    ok(sbomit(
        p,
        &[
            "run",
            "-n",
            "fail",
            "--signing-key",
            "dev",
            "-s",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    ));
    let link = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|e| e == "link"))
        .unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(link).unwrap()).unwrap();
    assert_eq!(
        v["signed"]["byproducts"],
        serde_json::json!({"return-value": 3, "stdout": "out\n", "stderr": "err\n"})
    );
}

/// `--max-output-bytes` caps what a link records of each stream; the command still runs to
/// its end (its exit code is recorded) and the cut is marked.
#[test]
fn recorded_streams_are_capped_by_max_output_bytes() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    ok(sbomit(
        p,
        &[
            "-q",
            "run",
            "-n",
            "loud",
            "--signing-key",
            "dev",
            "-s",
            "--max-output-bytes",
            "10",
            "--",
            "sh",
            "-c",
            "head -c 100000 /dev/zero | tr '\\0' x; echo err >&2; exit 3",
        ],
    ));
    let link = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|e| e == "link"))
        .unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(link).unwrap()).unwrap();
    let b = &v["signed"]["byproducts"];
    assert_eq!(
        b["stdout"],
        format!(
            "{}{}",
            "x".repeat(10),
            sbomit_fs::run::truncation_marker(10, 100_000)
        )
    );
    assert_eq!(b["stderr"], "err\n");
    assert_eq!(b["return-value"], 3);
}
