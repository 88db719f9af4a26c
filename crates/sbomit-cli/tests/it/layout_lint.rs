//! `layout lint`, and the same checks in `layout create` (issue 17): errors refuse a layout,
//! warnings name the rule that lets a swapped artifact through; `layout show` marks expiry.
#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::path::Path;

use crate::common::{code, sbomit, tempdir};

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn source(dir: &Path, inspection_rules: &str, build_materials: &str) {
    sbomit(
        dir,
        &["key", "generate", "--type", "ed25519", "--out", "dev"],
    );
    std::fs::write(
        dir.join("layout.toml"),
        format!(
            "expires = \"2099-01-01T00:00:00Z\"\n[keys]\ndev = \"dev.pub\"\n\
             [[steps]]\nname = \"write-code\"\nfunctionaries = [\"dev\"]\n\
             expected_products = [\"CREATE src/*\", \"DISALLOW *\"]\n\
             [[steps]]\nname = \"package\"\nfunctionaries = [\"dev\"]\n\
             expected_materials = [{build_materials}]\n\
             expected_products = [\"CREATE app.tar.gz\", \"DISALLOW *\"]\n\
             [[inspect]]\nname = \"untar\"\nrun = [\"tar\", \"xzf\", \"app.tar.gz\"]\n\
             expected_materials = [{inspection_rules}]\n"
        ),
    )
    .unwrap();
}

#[test]
fn match_then_allow_everything_is_a_warning_naming_the_rule() {
    let dir = tempdir();
    let d = dir.path();
    source(
        d,
        "\"MATCH app.tar.gz WITH PRODUCTS FROM package\", \"ALLOW *\"",
        "\"MATCH src/* WITH PRODUCTS FROM write-code\", \"DISALLOW *\"",
    );
    let o = sbomit(d, &["layout", "lint", "layout.toml"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        err(&o).contains(
            "warning: inspection \"untar\", expected_materials rule 1 `MATCH app.tar.gz WITH PRODUCTS FROM package`: does not protect \"app.tar.gz\""
        ),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("add `DISALLOW app.tar.gz`"), "{}", err(&o));
    assert!(out(&o).contains("0 error(s), 1 warning(s)"), "{}", out(&o));
    // `layout create` writes it, with the same warning.
    let o = sbomit(
        d,
        &[
            "layout",
            "create",
            "--from",
            "layout.toml",
            "--out",
            "root.layout",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        err(&o).contains("does not protect \"app.tar.gz\""),
        "{}",
        err(&o)
    );
    assert!(d.join("root.layout").is_file());
    // And the layout file lints as its source did.
    let o = sbomit(d, &["layout", "lint", "root.layout"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("does not protect"), "{}", err(&o));
}

#[test]
fn match_from_no_step_refuses_the_layout_and_writes_nothing() {
    let dir = tempdir();
    let d = dir.path();
    source(
        d,
        "\"MATCH app.tar.gz WITH PRODUCTS FROM package\", \"DISALLOW app.tar.gz\"",
        "\"MATCH src/* WITH PRODUCTS FROM writecode\", \"DISALLOW *\"",
    );
    let o = sbomit(
        d,
        &[
            "layout",
            "create",
            "--from",
            "layout.toml",
            "--out",
            "root.layout",
        ],
    );
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(
        err(&o).contains("error: step \"package\", expected_materials rule 1 `MATCH src/* WITH PRODUCTS FROM writecode`: no step or inspection is named \"writecode\""),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).ends_with("sbomit: error: layout.toml: 1 error(s) in the layout (listed above); nothing written\n"),
        "{}",
        err(&o)
    );
    assert!(!d.join("root.layout").exists());
    let o = sbomit(d, &["layout", "lint", "layout.toml"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
}

#[test]
fn layout_show_marks_an_expired_layout() {
    let dir = tempdir();
    let d = dir.path();
    let layout = serde_json::json!({
        "signed": {"_type": "layout", "expires": "2020-01-01T00:00:00Z", "readme": "",
                   "keys": {}, "steps": [], "inspect": []},
        "signatures": []
    });
    std::fs::write(d.join("old.layout"), layout.to_string()).unwrap();
    let o = sbomit(d, &["layout", "show", "old.layout"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        out(&o).contains("expires 2020-01-01T00:00:00Z (expired)"),
        "{}",
        out(&o)
    );
    let o = sbomit(d, &["layout", "lint", "old.layout"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(
        err(&o).contains("error: layout: expired at 2020-01-01T00:00:00Z"),
        "{}",
        err(&o)
    );
}

/// A layout source without an expiry is refused (issue 17): it used to default to a year.
#[test]
fn a_layout_source_without_an_expiry_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    sbomit(d, &["key", "generate", "--out", "owner"]);
    std::fs::write(d.join("l.toml"), "[keys]\n").unwrap();
    let o = sbomit(
        d,
        &[
            "layout",
            "create",
            "--from",
            "l.toml",
            "--out",
            "l.layout",
            "--signing-key",
            "owner",
        ],
    );
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(
        err(&o)
            .contains("the layout has no expiry: give `expires` (RFC 3339) or `expires_in_days`"),
        "{}",
        err(&o)
    );
    assert!(!d.join("l.layout").exists());
    std::fs::write(d.join("l.toml"), "expires_in_days = 30\n[keys]\n").unwrap();
    let o = sbomit(
        d,
        &[
            "layout",
            "create",
            "--from",
            "l.toml",
            "--out",
            "l.layout",
            "--signing-key",
            "owner",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
}
