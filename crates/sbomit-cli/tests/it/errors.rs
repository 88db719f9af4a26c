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
