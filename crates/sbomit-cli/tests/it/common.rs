//! Helpers shared by the CLI's test binaries: run `sbomit`, check exit codes and output (and,
//! from `sbomit-testkit`, temp dirs, PostgreSQL schemas and the peer tools).

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub use sbomit_testkit::{peer_bin, shared_tool, tempdir, PgSchema};

/// Runs `sbomit ARGS` in `dir`, without the environment variables that change its behaviour.
pub fn sbomit(dir: &Path, args: &[&str]) -> Output {
    sbomit_env(dir, args, &[])
}

/// [`sbomit`] with extra environment variables.
pub fn sbomit_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sbomit"));
    c.args(args)
        .current_dir(dir)
        .env_remove("SBOMIT_KEY_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run sbomit")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
pub fn ok(o: Output) -> Output {
    assert_eq!(code(&o), 0, "expected success:\n{}", text(&o));
    o
}

#[track_caller]
pub fn fails_with(o: Output, exit: i32, needles: &[&str]) {
    let t = text(&o);
    assert_eq!(code(&o), exit, "expected exit {exit}:\n{t}");
    for n in needles {
        assert!(t.contains(n), "expected {n:?} in:\n{t}");
    }
}

/// `sbomit layout create --from TOML --out OUT --signing-key KEY` in `dir`, which must succeed.
pub fn sign_layout(dir: &Path, toml: &str, out: &str, key: &str) {
    ok(sbomit(
        dir,
        &[
            "layout",
            "create",
            "--from",
            toml,
            "--out",
            out,
            "--signing-key",
            key,
        ],
    ));
}
