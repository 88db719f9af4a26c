//! The RFC 6902 conformance suite (json-patch/json-patch-tests: `tests.json` and
//! `spec_tests.json`) run through [`Patch`]: every enabled case gives its expected document,
//! or fails when it expects an error (the error texts are the suite's, not ours: only the
//! failure is checked).
//!
//! The suite is third-party data and is not committed here: it is read from the directory
//! `SBOMIT_JSON_PATCH_TESTS` names, else from `../shared/json-patch-tests` beside the
//! repository; without either the test says so and passes. At the suite's commit
//! 2a928f9044aad35c74e2788d498bcf2c6b91adea, 108 cases run and 4 are `disabled` upstream
//! (skipped here, as the suite asks; counted in `Counts::disabled`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::Value;

use sbomit_sbom::jsonpatch::Patch;

fn suite_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SBOMIT_JSON_PATCH_TESTS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/json-patch-tests"),
    };
    dir.join("tests.json").is_file().then_some(dir)
}

#[derive(Default, Debug)]
struct Counts {
    passed: usize,
    disabled: usize,
    comments: usize,
}

fn run(file: &str, dir: &std::path::Path, counts: &mut Counts) -> Vec<String> {
    let cases: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = format!(
            "{file}[{i}] {}",
            case.get("comment").and_then(Value::as_str).unwrap_or("")
        );
        if case.get("disabled").and_then(Value::as_bool) == Some(true) {
            counts.disabled += 1;
            continue;
        }
        let (Some(doc), Some(patch)) = (case.get("doc"), case.get("patch")) else {
            counts.comments += 1;
            continue;
        };
        let result = Patch::from_value(patch).and_then(|p| p.apply(doc));
        let ok = match (case.get("error"), case.get("expected"), &result) {
            (Some(_), _, Err(_)) => true,
            (Some(_), _, Ok(got)) => {
                failures.push(format!("{name}: expected an error, got {got}"));
                false
            }
            (None, Some(want), Ok(got)) if got == want => true,
            (None, Some(want), Ok(got)) => {
                failures.push(format!("{name}: expected {want}, got {got}"));
                false
            }
            (None, None, Ok(_)) => true,
            (None, _, Err(e)) => {
                failures.push(format!("{name}: unexpected error {e}"));
                false
            }
        };
        if ok {
            counts.passed += 1;
        }
    }
    failures
}

#[test]
fn rfc6902_conformance_suite_passes() {
    let Some(dir) = suite_dir() else {
        eprintln!(
            "json-patch-tests not found (set SBOMIT_JSON_PATCH_TESTS or add \
             ../shared/json-patch-tests): skipped"
        );
        return;
    };
    let mut counts = Counts::default();
    let mut failures = run("tests.json", &dir, &mut counts);
    failures.extend(run("spec_tests.json", &dir, &mut counts));
    eprintln!("json-patch-tests: {counts:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(counts.passed > 100, "too few cases ran: {counts:?}");
}
