//! Every command's help (issue 17 a): each option says what it is for, and the whole of the
//! help text is a snapshot (`tests/snapshots/help.txt`), so a change to what users read is a
//! change someone reviewed. `SBOMIT_BLESS=1 cargo test -p sbomit-cli --test it help::`
//! rewrites the snapshot after an intended change.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::path::Path;
use std::process::Command;

/// `sbomit PATH… --help`, with none of the environment that shows up in help (`[env: …=value]`).
fn help_of(path: &[String]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_sbomit"))
        .args(path)
        .arg("--help")
        .env_remove("SBOMIT_STORE_URL")
        .env_remove("SBOMIT_STORE_TOKEN")
        .env_remove("SBOMIT_DATA_DIR")
        .env_remove("SBOMIT_KEY_PASSWORD")
        .output()
        .unwrap();
    assert!(o.status.success(), "sbomit {path:?} --help failed");
    String::from_utf8(o.stdout).unwrap()
}

/// The subcommands a help text lists (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The options of a help text that have no description: an option's first line is its
/// flags (single spaces), then two or more spaces and the description, or the description
/// on the lines after it.
fn undescribed(help: &str) -> Vec<String> {
    let lines: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Options:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('-') || line.len() - trimmed.len() > 6 {
            continue;
        }
        let described_here = trimmed
            .split_once("  ")
            .is_some_and(|(_, rest)| !rest.trim().is_empty());
        let described_below = lines
            .get(i + 1)
            .is_some_and(|next| next.len() - next.trim_start().len() > 6);
        if !described_here && !described_below {
            out.push(trimmed.to_owned());
        }
    }
    out
}

fn walk(path: Vec<String>, all: &mut Vec<(Vec<String>, String)>) {
    let help = help_of(&path);
    for sub in subcommands(&help) {
        let mut p = path.clone();
        p.push(sub);
        walk(p, all);
    }
    all.push((path, help));
}

#[test]
fn every_command_describes_every_option_and_its_help_matches_the_snapshot() {
    let mut all = Vec::new();
    walk(Vec::new(), &mut all);
    all.sort();
    assert!(all.len() > 40, "only {} commands found", all.len());
    let mut missing = Vec::new();
    let mut snapshot = String::new();
    for (path, help) in &all {
        for o in undescribed(help) {
            missing.push(format!("sbomit {}: {o}", path.join(" ")));
        }
        snapshot.push_str(&format!("===== sbomit {} --help\n{help}\n", path.join(" ")));
    }
    assert!(
        missing.is_empty(),
        "options without help:\n{}",
        missing.join("\n")
    );
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help.txt");
    if std::env::var_os("SBOMIT_BLESS").is_some() {
        std::fs::write(&file, &snapshot).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_default();
    if want != snapshot {
        let first = want
            .lines()
            .zip(snapshot.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(snapshot.lines().count()));
        panic!(
            "the help differs from {} at line {}:\n  snapshot: {:?}\n  now:      {:?}\n\
             review the change, then accept it with SBOMIT_BLESS=1",
            file.display(),
            first + 1,
            want.lines().nth(first),
            snapshot.lines().nth(first)
        );
    }
}

/// The check above can fail: an option alone on its line, with nothing under it, is caught.
#[test]
fn an_option_without_a_description_is_found() {
    let help = "Usage: x\n\nOptions:\n  -a, --alpha <A>  Described\n      --beta <B>\n  -c, --gamma\n          Described below\n  -h, --help  Print help\n";
    assert_eq!(undescribed(help), ["--beta <B>"]);
}
