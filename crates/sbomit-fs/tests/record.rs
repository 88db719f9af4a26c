//! Recording artifacts: our walker against the reference's `record_artifacts_as_dict` on the
//! same tree (when SBOMIT_INTOTO_REF_BIN is set), and the behaviours that do not need a peer.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::path::{Path, PathBuf};
use std::process::Command;

use sbomit_fs::record::{record_artifacts, NoProgress, RecordError, RecordOptions};
use serde_json::Value;

/// A tree with nesting, excluded names, symlinks (to a file, to a directory, dangling, a
/// cycle) and awkward names.
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let files = [
        "a.txt",
        "src/main.rs",
        "src/deep/er/x.c",
        "src/skip.pyc",
        "backup.txt~",
        "step.abcd1234.link",
        ".git/HEAD",
        "vendor/.git",
        "ünïcödé/e\u{301}.txt",
        "sp ace/tab\tname",
        "ctrl/\u{1}x",
        "quote\"back\\slash",
        "build/out.o",
    ];
    for f in files {
        let path = p.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, f.as_bytes()).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("a.txt", p.join("link-to-file")).unwrap();
        symlink("src", p.join("link-to-dir")).unwrap();
        symlink("nowhere", p.join("dangling")).unwrap();
        symlink("..", p.join("src/cycle")).unwrap();
    }
    d
}

fn ours(dir: &Path, paths: &[&str], options: &RecordOptions) -> Value {
    let cwd = std::env::current_dir().unwrap();
    // Paths are resolved from base_path; run with base_path = the tree unless one is given.
    let mut o = options.clone();
    if o.base_path.is_none() {
        o.base_path = Some(dir.to_owned());
    }
    let paths: Vec<String> = paths.iter().map(|s| (*s).to_owned()).collect();
    let a = record_artifacts(&paths, &o, &NoProgress).unwrap();
    assert_eq!(std::env::current_dir().unwrap(), cwd);
    serde_json::to_value(a).unwrap()
}

fn reference(
    bin: &Path,
    dir: &Path,
    paths: &[&str],
    excludes: Option<&[&str]>,
    lstrip: &[&str],
) -> Value {
    let script = "import json, sys\n\
        from in_toto.runlib import record_artifacts_as_dict\n\
        a = json.loads(sys.argv[1])\n\
        print(json.dumps(record_artifacts_as_dict(a['paths'], exclude_patterns=a['excludes'], lstrip_paths=a['lstrip'])))\n";
    let arg =
        serde_json::json!({"paths": paths, "excludes": excludes, "lstrip": lstrip}).to_string();
    let out = Command::new(bin.join("python"))
        .args(["-c", script, &arg])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ref_bin() -> Option<PathBuf> {
    let b = std::env::var_os("SBOMIT_INTOTO_REF_BIN").map(PathBuf::from);
    if b.is_none() {
        eprintln!("skipped: SBOMIT_INTOTO_REF_BIN is not set");
    }
    b
}

#[test]
fn records_the_same_artifacts_as_the_reference() {
    let Some(bin) = ref_bin() else { return };
    let d = tree();
    let p = d.path();
    let cases: Vec<(Vec<&str>, Option<Vec<&str>>, Vec<&str>)> = vec![
        (vec!["."], None, vec![]),
        (vec!["src", "a.txt", "missing"], None, vec![]),
        (
            vec!["./src/../a.txt", "link-to-dir", "link-to-file"],
            None,
            vec![],
        ),
        (vec!["."], Some(vec!["build", "*.c", "!x.c"]), vec![]),
        (vec!["."], Some(vec!["src/deep"]), vec![]),
        (vec!["src", "build"], None, vec!["src/", "build/"]),
        (vec!["dir:src", "a.txt"], None, vec![]),
        (vec!["dir:src"], Some(vec!["*.rs"]), vec![]),
        (vec!["file:a.txt", "file:src"], None, vec![]),
    ];
    for (paths, excludes, lstrip) in cases {
        let mut o = RecordOptions::default();
        o.exclude_patterns = excludes
            .as_ref()
            .map(|e| e.iter().map(|s| (*s).to_owned()).collect());
        o.lstrip_paths = lstrip.iter().map(|s| (*s).to_owned()).collect();
        // dir: is resolved from the current directory by the reference, not from base_path.
        let ours = if paths.iter().any(|p| p.starts_with("dir:")) {
            let _guard = CwdGuard::enter(p);
            let paths: Vec<String> = paths.iter().map(|s| (*s).to_owned()).collect();
            serde_json::to_value(record_artifacts(&paths, &o, &NoProgress).unwrap()).unwrap()
        } else {
            ours(p, &paths, &o)
        };
        let theirs = reference(&bin, p, &paths, excludes.as_deref(), &lstrip);
        assert_eq!(
            ours, theirs,
            "paths {paths:?} excludes {excludes:?} lstrip {lstrip:?}"
        );
    }
}

/// Changes the process's directory for one test and restores it (tests that use it run in
/// one test function, so they do not race each other).
struct CwdGuard(PathBuf);
impl CwdGuard {
    fn enter(dir: &Path) -> Self {
        let old = std::env::current_dir().unwrap();
        std::env::set_current_dir(dir).unwrap();
        CwdGuard(old)
    }
}
impl Drop for CwdGuard {
    fn drop(&mut self) {
        std::env::set_current_dir(&self.0).unwrap();
    }
}

#[test]
fn default_excludes_skip_links_git_pyc_and_backups() {
    let d = tree();
    let v = ours(d.path(), &["."], &RecordOptions::default());
    let names: Vec<&String> = v.as_object().unwrap().keys().collect();
    for n in &names {
        assert!(
            !n.contains(".link")
                && !n.contains(".git")
                && !n.ends_with(".pyc")
                && !n.ends_with('~'),
            "{n}"
        );
    }
    assert!(names.iter().any(|n| *n == "a.txt"));
    assert!(
        names.iter().any(|n| *n == "link-to-file"),
        "symlinked files are recorded"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("link-to-dir/")),
        "symlinked dirs are not followed"
    );
    assert!(!names.iter().any(|n| *n == "dangling"));
}

#[test]
fn digest_is_sha256_of_contents() {
    let d = tree();
    let v = ours(d.path(), &["a.txt"], &RecordOptions::default());
    assert_eq!(v["a.txt"]["sha256"], sha256_hex(b"a.txt"));
}

fn sha256_hex(data: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = out.unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), data).unwrap();
    let o = child.wait_with_output().unwrap();
    String::from_utf8(o.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn overlapping_lstrip_prefixes_are_refused() {
    let d = tree();
    let mut o = RecordOptions::default();
    o.lstrip_paths = vec!["src/".into(), "src/deep/".into()];
    o.base_path = Some(d.path().to_owned());
    let e = record_artifacts(&["src".to_owned()], &o, &NoProgress).unwrap_err();
    assert!(matches!(e, RecordError::PrefixOverlap { .. }), "{e}");
}

#[test]
fn lstrip_collisions_are_refused() {
    let d = tempfile::tempdir().unwrap();
    for f in ["x/same", "y/same"] {
        let p = d.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f).unwrap();
    }
    let mut o = RecordOptions::default();
    o.lstrip_paths = vec!["x/".into(), "y/".into()];
    o.base_path = Some(d.path().to_owned());
    let e = record_artifacts(&["x".to_owned(), "y".to_owned()], &o, &NoProgress).unwrap_err();
    assert!(matches!(e, RecordError::PrefixCollision { .. }), "{e}");
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    if nix_is_root() {
        eprintln!("skipped: root can read anything");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("secret");
    std::fs::write(&f, "x").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut o = RecordOptions::default();
    o.base_path = Some(d.path().to_owned());
    let e = record_artifacts(&["secret".to_owned()], &o, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("secret"), "{e}");
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}
