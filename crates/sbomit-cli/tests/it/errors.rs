//! How errors read (issue 17): one line, one prefix, each cause said once, exit code 2.
#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use crate::common::{code, sbomit, tempdir};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The whole of stderr is one line starting `sbomit: error: `, and no part of it repeats.
fn assert_one_line_error(o: &std::process::Output, expected: &str) {
    assert_eq!(code(o), 2, "{}", stderr(o));
    assert_eq!(stderr(o), format!("sbomit: error: {expected}\n"));
}

#[test]
fn a_missing_input_file_is_named_once_with_its_cause_once() {
    let dir = tempdir();
    sbomit(
        dir.path(),
        &["key", "generate", "--type", "ed25519", "--out", "owner"],
    );
    let o = sbomit(
        dir.path(),
        &["verify", "--layout", "nope.layout", "-k", "owner.pub"],
    );
    assert_one_line_error(&o, "nope.layout: No such file or directory (os error 2)");
    let o = sbomit(
        dir.path(),
        &[
            "document",
            "verify",
            "--document",
            "nodoc.json",
            "--layout-keys",
            "owner.pub",
        ],
    );
    assert_one_line_error(&o, "nodoc.json: No such file or directory (os error 2)");
}

#[test]
fn a_truncated_link_says_its_parse_error_once() {
    let dir = tempdir();
    let d = dir.path();
    for k in ["owner", "dev"] {
        sbomit(d, &["key", "generate", "--type", "ed25519", "--out", k]);
    }
    std::fs::write(
        d.join("layout.toml"),
        "expires = \"2099-01-01T00:00:00Z\"\n[keys]\ndev = \"dev.pub\"\n\
         [[steps]]\nname = \"build\"\nfunctionaries = [\"dev\"]\n",
    )
    .unwrap();
    let o = sbomit(
        d,
        &[
            "layout",
            "create",
            "--from",
            "layout.toml",
            "--out",
            "root.layout",
            "--signing-key",
            "owner",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = sbomit(
        d,
        &["run", "-n", "build", "--signing-key", "dev", "--", "true"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let link = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "link"))
        .unwrap();
    let bytes = std::fs::read(&link).unwrap();
    std::fs::write(&link, &bytes[..bytes.len() / 2]).unwrap();

    let o = sbomit(d, &["verify", "--layout", "root.layout", "-k", "owner.pub"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("sbomit: error: ") && err.ends_with('\n'),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("not JSON").count(), 1, "{err}");
    let name = link.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name), "the link at fault is named: {err}");
}

/// `run` says when a `-m`/`-p` path does not exist (it records nothing for it) and when the
/// wrapped command fails, even with `-q`; the link is still written, as in-toto's is.
#[test]
fn run_warns_of_a_missing_path_and_a_failing_command() {
    let dir = tempdir();
    let d = dir.path();
    sbomit(d, &["key", "generate", "--type", "ed25519", "--out", "dev"]);
    std::fs::write(d.join("here.txt"), b"x").unwrap();
    let o = sbomit(
        d,
        &[
            "-q",
            "run",
            "-n",
            "build",
            "--signing-key",
            "dev",
            "-m",
            "here.txt",
            "nothere",
            "-p",
            "out.bin",
            "--",
            "false",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "warning: -m nothere: no such file or directory, so nothing is recorded for it\n\
         warning: \"false\" exited with code 1; the link records that\n\
         warning: -p out.bin: no such file or directory, so nothing is recorded for it\n"
    );
    // Paths that exist and a command that succeeds: nothing to say.
    let o = sbomit(
        d,
        &[
            "-q",
            "run",
            "-n",
            "build",
            "--signing-key",
            "dev",
            "-m",
            "here.txt",
            "--",
            "true",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

/// A step without a link is explained by what the link directory holds (issue 17 c): a link
/// for the step by a key that is not its functionary, a link whose step name differs only in
/// case, or no directory at all. In text and in JSON.
#[test]
fn a_missing_link_is_explained_by_what_the_link_directory_holds() {
    use crate::common::{ok, text};
    let d = tempdir();
    let p = d.path();
    for k in ["owner", "dev", "other"] {
        ok(sbomit(p, &["key", "generate", "--out", k]));
    }
    std::fs::write(
        p.join("layout.toml"),
        "expires = \"2030-01-01T00:00:00Z\"\n[keys]\ndev = \"dev.pub\"\n\
         [[steps]]\nname = \"build\"\nfunctionaries = [\"dev\"]\n",
    )
    .unwrap();
    ok(sbomit(
        p,
        &[
            "layout",
            "create",
            "--from",
            "layout.toml",
            "--out",
            "root.layout",
            "--signing-key",
            "owner",
        ],
    ));
    let verify = |extra: &[&str]| {
        let mut a = vec!["verify", "--layout", "root.layout", "-k", "owner.pub"];
        a.extend(extra);
        sbomit(p, &a)
    };
    // Nothing there: no hint to give.
    let o = verify(&[]);
    assert_eq!(code(&o), 1);
    assert!(!text(&o).contains("hint:"), "{}", text(&o));
    // The right name, the wrong key.
    ok(sbomit(
        p,
        &["run", "-n", "build", "--signing-key", "other", "--", "true"],
    ));
    let other = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("build.") && n.ends_with(".link"))
        .unwrap();
    let o = verify(&[]);
    assert_eq!(code(&o), 1);
    let t = text(&o);
    assert!(
        t.contains("requires 1 link metadata file(s), found 0"),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "hint: {other} is there, signed by key {}…, which is not a functionary of this step",
            &other[6..14]
        )),
        "{t}"
    );
    // The right key, the step name in another case.
    std::fs::remove_file(p.join(&other)).unwrap();
    ok(sbomit(
        p,
        &["run", "-n", "Build", "--signing-key", "dev", "--", "true"],
    ));
    let t = text(&verify(&[]));
    assert!(t.contains("hint: Build."), "{t}");
    assert!(
        t.contains("for step \"Build\": step names are case-sensitive"),
        "{t}"
    );
    // No directory at all, in JSON.
    let o = verify(&["--link-dir", "nodir", "--output", "json"]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["failure"]["hints"],
        serde_json::json!(["the link directory nodir does not exist"])
    );
}

/// `attest --subject-name` names subjects as given, one per `--subject`; a count that does
/// not match is a usage error (issue 17, the Store client).
#[test]
fn attest_names_subjects_by_subject_name_or_by_a_path_that_does_not_climb() {
    use crate::common::ok;
    use base64::Engine as _;
    let d = tempdir();
    let p = d.path();
    std::fs::create_dir_all(p.join("work")).unwrap();
    std::fs::create_dir_all(p.join("delivered")).unwrap();
    std::fs::write(p.join("delivered/app.tar.gz"), b"app").unwrap();
    std::fs::write(p.join("work/pred.json"), b"{}").unwrap();
    let w = p.join("work");
    ok(sbomit(&w, &["key", "generate", "--out", "issuer"]));
    let names = |o: std::process::Output| -> Vec<String> {
        let env: serde_json::Value = serde_json::from_slice(&ok(o).stdout).unwrap();
        let payload = base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap();
        let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        st["subject"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = [
        "attest",
        "--predicate-type",
        "https://example.com/p",
        "--predicate",
        "pred.json",
        "--signing-key",
        "issuer",
    ];
    let with = |extra: &[&str]| sbomit(&w, &[&base[..], extra].concat());
    assert_eq!(
        names(with(&["--subject", "../delivered/app.tar.gz"])),
        ["app.tar.gz"]
    );
    assert_eq!(
        names(with(&[
            "--subject",
            "../delivered/app.tar.gz",
            "--subject-name",
            "dist/app.tar.gz"
        ])),
        ["dist/app.tar.gz"]
    );
    let o = with(&[
        "--subject",
        "../delivered/app.tar.gz",
        "pred.json",
        "--subject-name",
        "only-one",
    ]);
    assert_one_line_error(
        &o,
        "--subject-name: 1 name(s) for 2 subject(s); give one per --subject, in order",
    );
}

/// The demo (issue 17 f): it passes twice in a row in the same directory, refuses a directory
/// it did not make, and the commands it prints (`$ ` lines), pasted into `sh` in another
/// place, do the same thing: the untampered chain verifies and the tampered one fails.
#[test]
fn the_demo_runs_twice_and_its_printed_commands_do_the_same_in_sh() {
    use crate::common::{ok, text};
    let d = tempdir();
    let a = d.path().join("a");
    let first = ok(sbomit(d.path(), &["demo", "--dir", "a"]));
    let again = ok(sbomit(d.path(), &["demo", "--dir", "a"]));
    assert!(
        text(&again).contains("the tampered package was caught"),
        "{}",
        text(&again)
    );
    // Not the demo's directory: refused, nothing written.
    std::fs::create_dir(d.path().join("mine")).unwrap();
    std::fs::write(d.path().join("mine/notes.txt"), "mine").unwrap();
    let o = sbomit(d.path(), &["demo", "--dir", "mine"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert_eq!(std::fs::read_dir(d.path().join("mine")).unwrap().count(), 1);
    // The printed commands, moved to another directory, as a user would paste them.
    let stdout = String::from_utf8(first.stdout).unwrap();
    let a = a.canonicalize().unwrap();
    let b = d.path().canonicalize().unwrap().join("b");
    std::fs::create_dir(&b).unwrap();
    let script: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .map(|l| l.replace(&a.to_string_lossy().into_owned(), &b.to_string_lossy()))
        .collect();
    assert!(script.len() > 15, "{stdout}");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_sbomit"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &script.join("\n")])
        .current_dir(&b)
        .env("PATH", path)
        .env_remove("SBOMIT_KEY_PASSWORD")
        .output()
        .unwrap();
    let t = text(&o);
    // The last command verifies the tampered package: exit 1, after one verification passed.
    assert_eq!(code(&o), 1, "{t}");
    assert_eq!(t.matches("verification passed").count(), 1, "{t}");
    assert!(t.contains("verification FAILED"), "{t}");
    assert!(b.join("verify-1/dist/hello").exists());
    // The failure report carries both digests (issue 17 c), in text ...
    assert!(t.contains("  digest: sha256:"), "{t}");
    assert!(
        t.contains("  expected: sha256:") && t.contains("(hello.tar.gz in the \"package\" link)"),
        "{t}"
    );
    // ... and in JSON, on a fresh copy of the tampered delivery.
    let c = b.join("verify-3");
    std::fs::create_dir(&c).unwrap();
    for e in std::fs::read_dir(b.join("delivered")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), c.join(e.file_name())).unwrap();
    }
    let o = sbomit(
        &c,
        &[
            "verify",
            "--layout",
            "root.layout",
            "-k",
            "owner.pub",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let g = &v["failure"]["digests"];
    assert!(g["found"].as_str().unwrap().starts_with("sha256:"), "{v}");
    assert!(
        g["expected"].as_str().unwrap().starts_with("sha256:"),
        "{v}"
    );
    assert_ne!(g["found"], g["expected"]);
}

/// Usage errors are one line with the same prefix as every other error, the usage in it
/// (issue 17: clap's own `error:` and its multi-line output were a second style).
#[test]
fn usage_errors_are_one_line_with_the_one_prefix() {
    let d = tempdir();
    let o = sbomit(d.path(), &["store", "issuer", "add", "--iss", "x"]);
    assert_one_line_error(
        &o,
        "the following required arguments were not provided: --role <ROLE> --key <KEY> \
         (usage: sbomit store issuer add --iss <ISS> --role <ROLE> --key <KEY>)",
    );
    let o = sbomit(d.path(), &["frobnicate"]);
    assert_one_line_error(
        &o,
        "unrecognized subcommand 'frobnicate' (usage: sbomit [OPTIONS] <COMMAND>)",
    );
    // Help is not an error.
    let o = sbomit(d.path(), &["verify", "--help"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Verify a supply chain"));
}
