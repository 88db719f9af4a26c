//! sbomit-fs against the in-toto reference (when SBOMIT_INTOTO_REF_BIN names the bin directory
//! of its virtualenv) and the behaviours that need no peer: recording, exclude patterns,
//! running commands, file IO and link name safety.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup
#![allow(clippy::field_reassign_with_default)] // options are built as the CLI builds them

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sbomit_fs::exclude::ExcludeSpec;
use sbomit_fs::record::{record_artifacts, NoProgress, RecordError, RecordOptions};
use sbomit_fs::run::{
    run_command, run_command_with, truncation_marker, RunError, RunOptions, Streams,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Fixtures

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// Nesting, excluded names, awkward names, and symlinks to a file, to a directory, dangling,
/// and to themselves. No cycle through a directory: with symlinked directories followed, a
/// cycle plus a second way into it makes the walk exponential (in the reference too).
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for f in [
        "a.txt",
        "src/main.rs",
        "src/deep/er/x.c",
        "src/skip.pyc",
        "backup.txt~",
        "step.abcd1234.link",
        "x.link.tmp",
        ".git/HEAD",
        ".gitignore",
        "vendor/.git",
        "ünïcödé/e\u{301}.txt",
        "ünïcödé/\u{e9}.txt",
        "sp ace/tab\tname",
        "sp ace/trailing ",
        "ctrl/\u{1}x",
        "ctrl/new\nline",
        "quote\"back\\slash",
        "build/out.o",
        "build/keep/k.o",
        "[br]acket",
        "#hash",
        "!bang",
    ] {
        write(p, f, f.as_bytes());
    }
    write(p, "crlf.txt", b"one\r\ntwo\rthree\n");
    // An OSTree repository's ref and the commit object it names.
    write(p, "refs/heads/main", b"abcdef\r\n");
    write(p, "objects/ab/cdef.commit", b"commit");
    std::fs::create_dir_all(p.join("empty")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("a.txt", p.join("link-to-file")).unwrap();
        symlink("src", p.join("link-to-dir")).unwrap();
        symlink("nowhere", p.join("dangling")).unwrap();
        symlink("self-loop", p.join("self-loop")).unwrap();
        symlink("../a.txt", p.join("src/up-file")).unwrap();
    }
    d
}

/// A directory cycle: `src/cycle` → `..`.
fn cycle_tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.txt", b"a");
    write(d.path(), "src/m", b"m");
    #[cfg(unix)]
    std::os::unix::fs::symlink("..", d.path().join("src/cycle")).unwrap();
    d
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// One recording, described as the reference's `record_artifacts_as_dict` arguments.
#[derive(Clone, Debug, Default)]
struct Case {
    paths: Vec<&'static str>,
    excludes: Option<Vec<&'static str>>,
    lstrip: Vec<&'static str>,
    base_path: bool,
    follow: bool,
    normalize: bool,
}

impl Case {
    fn paths(paths: &[&'static str]) -> Self {
        Self {
            paths: paths.to_vec(),
            ..Self::default()
        }
    }
    fn excludes(mut self, e: &[&'static str]) -> Self {
        self.excludes = Some(e.to_vec());
        self
    }
    fn lstrip(mut self, l: &[&'static str]) -> Self {
        self.lstrip = l.to_vec();
        self
    }
    fn base_path(mut self) -> Self {
        self.base_path = true;
        self
    }
    fn follow(mut self) -> Self {
        self.follow = true;
        self
    }
    fn normalize(mut self) -> Self {
        self.normalize = true;
        self
    }

    fn options(&self, tree: &Path) -> RecordOptions {
        let mut o = RecordOptions::as_dict_defaults();
        o.exclude_patterns = self.excludes.as_ref().map(|e| strings(e));
        o.lstrip_paths = strings(&self.lstrip);
        o.base_path = self.base_path.then(|| tree.to_owned());
        o.follow_symlink_dirs = self.follow;
        o.normalize_line_endings = self.normalize;
        o
    }

    /// The directory both run in: the tree itself, or its parent when base_path points at the
    /// tree (so that a wrong resolution shows).
    fn cwd(&self, tree: &Path) -> PathBuf {
        if self.base_path {
            tree.parent().unwrap().to_owned()
        } else {
            tree.to_owned()
        }
    }

    /// Our result as JSON, or `{"error": <kind>}`.
    fn ours(&self, tree: &Path) -> Value {
        let _cwd = CwdGuard::enter(&self.cwd(tree));
        match record_artifacts(&strings(&self.paths), &self.options(tree), &NoProgress) {
            Ok(a) => serde_json::to_value(a).unwrap(),
            Err(e) => json!({ "error": error_kind(&e) }),
        }
    }

    fn reference(&self, bin: &Path, tree: &Path) -> Value {
        let script = r#"
import json, sys
from in_toto.runlib import record_artifacts_as_dict
from in_toto.exceptions import PrefixError
a = json.loads(sys.argv[1])
try:
    r = record_artifacts_as_dict(a["paths"], exclude_patterns=a["excludes"],
        base_path=a["base_path"], follow_symlink_dirs=a["follow"],
        normalize_line_endings=a["normalize"], lstrip_paths=a["lstrip"])
except PrefixError:
    r = {"error": "prefix"}
except Exception:
    r = {"error": "value"}
print(json.dumps(r))
"#;
        let arg = json!({
            "paths": self.paths,
            "excludes": self.excludes,
            "lstrip": self.lstrip,
            "base_path": self.base_path.then(|| tree.to_str().unwrap()),
            "follow": self.follow,
            "normalize": self.normalize,
        });
        python(bin, &self.cwd(tree), script, &arg)
    }
}

fn error_kind(e: &RecordError) -> &'static str {
    match e {
        RecordError::PrefixOverlap { .. } | RecordError::PrefixCollision { .. } => "prefix",
        RecordError::NotADirectory { .. } | RecordError::Pattern(_) => "value",
        _ => "other",
    }
}

fn python(bin: &Path, cwd: &Path, script: &str, arg: &Value) -> Value {
    let out = Command::new(bin.join("python"))
        .args(["-W", "ignore", "-c", script, &arg.to_string()])
        .current_dir(cwd)
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

/// Changes the process's directory and restores it. Every test that records relative paths
/// takes the lock inside, so tests in this binary do not race on the directory.
struct CwdGuard {
    old: PathBuf,
    _lock: std::sync::MutexGuard<'static, ()>,
}
static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());
impl CwdGuard {
    fn enter(dir: &Path) -> Self {
        let lock = CWD.lock().unwrap_or_else(|e| e.into_inner());
        let old = std::env::current_dir().unwrap();
        std::env::set_current_dir(dir).unwrap();
        CwdGuard { old, _lock: lock }
    }
}
impl Drop for CwdGuard {
    fn drop(&mut self) {
        std::env::set_current_dir(&self.old).unwrap();
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

// ---------------------------------------------------------------------------------------------
// Against the reference

fn reference_cases() -> Vec<Case> {
    vec![
        // Default excludes, symlinks not followed, then followed.
        Case::paths(&["."]),
        Case::paths(&["."]).follow(),
        Case::paths(&["src", "a.txt", "missing", "dangling", "self-loop", "empty"]),
        Case::paths(&["./src/../a.txt", "link-to-dir", "link-to-file", "src/", "/"])
            .excludes(&["*"]),
        Case::paths(&["./src/../a.txt", "link-to-dir", "link-to-file"]),
        // Custom excludes, including where pathspec differs from Git and from `ignore`.
        Case::paths(&["."]).excludes(&["build", "*.c", "!x.c"]),
        Case::paths(&["."]).excludes(&["src/deep"]),
        Case::paths(&["."]).excludes(&["src/", "!src/main.rs"]),
        Case::paths(&["."]).excludes(&["build/", "!build/keep/"]),
        Case::paths(&["."]).excludes(&["*"]),
        Case::paths(&["."]).excludes(&["?"]),
        Case::paths(&["."]).excludes(&[".*"]),
        Case::paths(&["src", "a.txt"]).excludes(&[".*"]),
        Case::paths(&["."]).excludes(&["**/er/**", "/a.txt", "[ab].txt~"]),
        Case::paths(&["."]).excludes(&["sp ace/", "ünïcödé/e\u{301}.txt", "ctrl/?x"]),
        Case::paths(&["."]).excludes(&["\\[br]acket", "\\#hash", "\\!bang", "trailing\\ "]),
        Case::paths(&["."]).excludes(&["#hash", "!bang", "", "  ", "*.TXT"]),
        Case::paths(&["."]).excludes(&["new\nline", "*line", "[!a-z]*"]),
        Case::paths(&["."]).excludes(&["*/", "a.txt"]),
        Case::paths(&["."]).excludes(&["**", "!**/*.rs"]),
        Case::paths(&["."]).excludes(&["[z-a]"]),
        Case::paths(&["."]).excludes(&["[unclosed", "*.o"]),
        // base_path, lstrip_paths and their errors.
        Case::paths(&["."]).base_path(),
        Case::paths(&["src", "build/out.o", "file:a.txt"]).base_path(),
        Case::paths(&["src", "build"]).lstrip(&["src/", "build/"]),
        Case::paths(&["src", "build"]).lstrip(&["src/", "src/deep/"]),
        Case::paths(&["src", "src/main.rs"]).lstrip(&["nothing/"]),
        Case::paths(&["file:src", "src"]).lstrip(&["src/"]),
        Case::paths(&["src", "file:src"]).lstrip(&["src/"]),
        Case::paths(&["src"]).lstrip(&["src/"]).base_path(),
        // Schemes.
        Case::paths(&["file:a.txt", "file:src", "FILE:a.txt", "other:x"]),
        Case::paths(&["dir:src", "a.txt", "dir:empty", "dir:."]),
        Case::paths(&["dir:src"]).excludes(&["*.rs"]),
        Case::paths(&["dir:src"]).excludes(&["*"]),
        Case::paths(&["dir:src", "dir:./src"]).lstrip(&["./"]),
        Case::paths(&["dir:link-to-dir"]).follow(),
        Case::paths(&["dir:a.txt"]),
        Case::paths(&["ostree:main", "a.txt"]),
        Case::paths(&["ostree:main", "a.txt"]).base_path(),
        // Line endings.
        Case::paths(&["crlf.txt", "a.txt", "dir:."]).normalize(),
    ]
}

#[test]
fn records_the_same_artifacts_as_the_reference() {
    let Some(bin) = ref_bin() else { return };
    let d = tree();
    for case in reference_cases() {
        let ours = case.ours(d.path());
        let theirs = case.reference(&bin, d.path());
        assert_eq!(ours, theirs, "{case:?}");
    }
}

/// A cycle is where we differ from the reference on purpose (it follows `src/cycle -> ..`
/// until the OS refuses the path; with two such links that is 2^40 paths): we record what the
/// reference records for the same tree without the looping link.
#[test]
fn a_directory_cycle_records_what_the_reference_records_without_it() {
    let Some(bin) = ref_bin() else { return };
    let d = cycle_tree();
    let without = tempfile::tempdir().unwrap();
    write(without.path(), "a.txt", b"a");
    write(without.path(), "src/m", b"m");
    for case in [
        Case::paths(&["."]).follow(),
        Case::paths(&["."]),
        Case::paths(&["dir:."]).follow(),
    ] {
        let ours = case.ours(d.path());
        assert_eq!(ours, case.reference(&bin, without.path()), "{case:?}");
    }
    // Not followed, the link is not a cycle: the reference agrees on the tree itself.
    let plain = Case::paths(&["."]);
    assert_eq!(plain.ours(d.path()), plain.reference(&bin, d.path()));
}

/// Exclude patterns against pathspec's own `match_file`, on handwritten and random patterns.
#[test]
fn exclude_patterns_match_pathspec() {
    let Some(bin) = ref_bin() else { return };
    let mut patterns: Vec<String> = strings(&[
        "*.link*",
        ".git",
        "*.pyc",
        "*~",
        "a",
        "/a",
        "a/",
        "/a/",
        "a/b",
        "a/**",
        "**/a",
        "a/**/b",
        "**",
        "**/",
        "*",
        "*/",
        "?",
        "!a",
        "\\!a",
        "#a",
        "\\#a",
        "a ",
        "a\\ ",
        " a",
        "[ab]",
        "[!ab]",
        "[^ab]",
        "[]a]",
        "[!]a]",
        "[a-]",
        "[-a]",
        "[\\]",
        "[[:alpha:]]",
        "[a&&b]",
        "[a--b]",
        "a/*/b",
        "a/**/**/b",
        "**/**",
        "***",
        "a**b",
        "**a",
        "\\*",
        "a\\b",
        "é",
        "e\u{301}",
        ".",
        "..",
        "./a",
        "a/./b",
        "*.",
        "a\tb",
        "\u{1c}a\u{1c}",
        "a\u{a0}",
    ]);
    let mut seed = 0x5eed_u64;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let alphabet: Vec<char> = "ab*?[]!^-/\\. #é".chars().collect();
    for _ in 0..1500 {
        let len = 1 + next(6);
        patterns.push(
            (0..len)
                .map(|_| alphabet[next(alphabet.len() as u64) as usize])
                .collect(),
        );
    }
    let path_alphabet: Vec<char> = "ab/.-]é\n ".chars().collect();
    let mut paths: Vec<String> = strings(&[
        ".", "a", "b", "a/b", "b/a", "a/b/c", "x/a/y/b", "/a", "./a", "a/", ".git", "x/.git/y",
        "f.pyc", "f.link", "f~", "é", "e\u{301}", "a\n", "a.\n", "!a", "#a", "a ", " a", "[ab]",
        "-", "]", "\\", "*", "a\tb", "ab", "aXb", "a/x/b",
    ]);
    for _ in 0..40 {
        let len = 1 + next(7);
        paths.push(
            (0..len)
                .map(|_| path_alphabet[next(path_alphabet.len() as u64) as usize])
                .collect(),
        );
    }
    // Sets of several patterns, to exercise the verdict between them.
    let mut sets: Vec<Vec<String>> = patterns.iter().map(|p| vec![p.clone()]).collect();
    for _ in 0..300 {
        let n = 2 + next(3);
        sets.push(
            (0..n)
                .map(|_| patterns[next(patterns.len() as u64) as usize].clone())
                .collect(),
        );
    }
    let script = r#"
import json, sys
from pathspec import GitIgnoreSpec
a = json.loads(sys.stdin.read())
out = []
for s in a["sets"]:
    try:
        spec = GitIgnoreSpec.from_lines("gitwildmatch", s)
    except Exception:
        out.append(None)
        continue
    out.append([bool(spec.match_file(p)) for p in a["paths"]])
print(json.dumps(out))
"#;
    let input = json!({ "sets": sets, "paths": paths }).to_string();
    let mut child = Command::new(bin.join("python"))
        .args(["-W", "ignore", "-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let theirs: Vec<Option<Vec<bool>>> = serde_json::from_slice(&out.stdout).unwrap();
    let mut checked = 0;
    for (set, theirs) in sets.iter().zip(theirs) {
        let ours = ExcludeSpec::new(set).ok().map(|spec| {
            paths
                .iter()
                .map(|p| spec.is_excluded(p))
                .collect::<Vec<_>>()
        });
        assert_eq!(ours, theirs, "patterns {set:?} over paths {paths:?}");
        checked += 1;
    }
    assert!(checked > 1500);
}

// ---------------------------------------------------------------------------------------------
// Recording without a peer

fn record_in(dir: &Path, paths: &[&str], o: RecordOptions) -> Result<Value, RecordError> {
    let mut o = o;
    o.base_path = Some(dir.to_owned());
    record_artifacts(&strings(paths), &o, &NoProgress).map(|a| serde_json::to_value(a).unwrap())
}

#[test]
fn default_excludes_skip_links_git_pyc_and_backups() {
    let d = tree();
    let v = record_in(d.path(), &["."], RecordOptions::as_dict_defaults()).unwrap();
    let names = names(&v);
    for n in &names {
        assert!(
            !n.contains(".link")
                && !n.starts_with(".git/")
                && !n.contains("/.git")
                && !n.ends_with(".pyc")
                && !n.ends_with('~'),
            "{n}"
        );
    }
    assert!(names.contains(&".gitignore".to_owned()));
    assert!(names.contains(&"a.txt".to_owned()));
}

#[test]
fn custom_excludes_replace_the_defaults() {
    let d = tree();
    let mut o = RecordOptions::as_dict_defaults();
    o.exclude_patterns = Some(strings(&["src/", "!src/main.rs", "build"]));
    let kept = names(&record_in(d.path(), &["."], o).unwrap());
    assert!(kept.contains(&"src/main.rs".to_owned()), "pathspec verdict");
    assert!(!kept.iter().any(|n| n.starts_with("src/deep")));
    assert!(!kept.iter().any(|n| n.starts_with("build")));
    assert!(
        kept.contains(&"backup.txt~".to_owned()),
        "defaults replaced"
    );
    // An empty list means the defaults, as in the reference.
    let mut o = RecordOptions::as_dict_defaults();
    o.exclude_patterns = Some(Vec::new());
    let defaults = names(&record_in(d.path(), &["."], o).unwrap());
    assert!(!defaults.contains(&"backup.txt~".to_owned()));
}

#[cfg(unix)]
#[test]
fn symlinks_as_the_reference() {
    let d = tree();
    let plain = names(&record_in(d.path(), &["."], RecordOptions::as_dict_defaults()).unwrap());
    assert!(
        plain.contains(&"link-to-file".to_owned()),
        "file links recorded"
    );
    assert!(plain.contains(&"src/up-file".to_owned()));
    assert!(!plain.iter().any(|n| n.starts_with("link-to-dir")));
    assert!(!plain.contains(&"dangling".to_owned()));
    assert!(!plain.contains(&"self-loop".to_owned()));
    let followed = names(&record_in(d.path(), &["."], RecordOptions::default()).unwrap());
    assert!(followed.contains(&"link-to-dir/main.rs".to_owned()));
    // Given explicitly, a symlinked directory is walked either way.
    let given = record_in(
        d.path(),
        &["link-to-dir"],
        RecordOptions::as_dict_defaults(),
    )
    .unwrap();
    assert!(given.get("link-to-dir/main.rs").is_some());
}

/// Collects the directories the walk refused to enter again.
#[derive(Default)]
struct Cycles(std::sync::Mutex<Vec<PathBuf>>);
impl sbomit_fs::record::Progress for Cycles {
    fn directory_cycle(&self, path: &Path) {
        self.0.lock().unwrap().push(path.to_owned());
    }
}

#[cfg(unix)]
#[test]
fn a_directory_cycle_is_not_entered_again() {
    let d = cycle_tree();
    let mut o = RecordOptions::default();
    o.base_path = Some(d.path().to_owned());
    let cycles = Cycles::default();
    let v = record_artifacts(&strings(&["."]), &o, &cycles).unwrap();
    let v = serde_json::to_value(v).unwrap();
    assert_eq!(names(&v), ["a.txt", "src/m"]);
    let cycles = cycles.0.into_inner().unwrap();
    assert_eq!(cycles, [d.path().join("src/cycle")]);
}

/// Two self-links make the reference walk about 2^40 paths; we record the one file once.
#[cfg(unix)]
#[test]
fn two_self_links_give_a_bounded_record() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "f", b"f");
    std::os::unix::fs::symlink(".", d.path().join("a")).unwrap();
    std::os::unix::fs::symlink(".", d.path().join("b")).unwrap();
    for paths in [&["."][..], &["a"], &["dir:."]] {
        let _cwd = CwdGuard::enter(d.path());
        let v = record_artifacts(&strings(paths), &RecordOptions::default(), &NoProgress);
        let v = serde_json::to_value(v.unwrap()).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 1, "{paths:?}: {v}");
    }
    let v = record_in(d.path(), &["."], RecordOptions::default()).unwrap();
    assert_eq!(names(&v), ["f"]);
}

/// The same through an inspection, which records its directory before and after.
#[cfg(unix)]
#[test]
fn an_inspection_of_a_tree_with_self_links_ends() {
    use sbomit_fs::inspect::CommandInspectionRunner;
    use sbomit_intoto::verify::InspectionRunner;
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "f", b"f");
    std::os::unix::fs::symlink(".", d.path().join("a")).unwrap();
    std::os::unix::fs::symlink(".", d.path().join("b")).unwrap();
    let runner = CommandInspectionRunner::in_dir(d.path(), Some(Duration::from_secs(60)));
    let link = runner.run(&inspection("loops", sh("true"))).unwrap();
    assert_eq!(
        names(&serde_json::to_value(&link.materials).unwrap()),
        ["f"]
    );
    assert_eq!(names(&serde_json::to_value(&link.products).unwrap()), ["f"]);
}

/// Symlinks without a cycle can still fan out: `l5` holds four links to `l4`, which holds
/// four to `l3`, ...: 4^5 paths to the files of `l0`. The entry limit stops that.
#[cfg(unix)]
#[test]
fn a_symlink_fan_out_past_the_entry_limit_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "l0/f", b"f");
    for level in 1..=5 {
        std::fs::create_dir(d.path().join(format!("l{level}"))).unwrap();
        for i in 0..4 {
            let target = format!("../l{}", level - 1);
            let link = d.path().join(format!("l{level}/s{i}"));
            std::os::unix::fs::symlink(target, link).unwrap();
        }
    }
    let mut o = RecordOptions::default();
    o.max_entries = 2000;
    let e = record_in(d.path(), &["l5"], o.clone()).unwrap_err();
    assert!(
        matches!(e, RecordError::TooManyEntries { limit: 2000 }),
        "{e}"
    );
    assert!(e.to_string().contains("2000"), "{e}");
    // Under a limit that fits (4 + 16 + ... + 1024 links, 1024 files), all is recorded.
    o.max_entries = 3000;
    let v = record_in(d.path(), &["l5"], o).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1024);
}

/// `root/top` nested `depth` levels of `d`, with a file `bottom` at the end. Built and torn
/// down by renames with short paths: a path to the bottom is far past PATH_MAX, and std's
/// recursive `remove_dir_all` would need one descriptor per level.
///
/// In `/dev/shm` where there is one: 100,000 directories cost about 400 MB of blocks and half
/// a minute of journaling on a disk, a few seconds and no disk in memory.
struct DeepTree {
    root: tempfile::TempDir,
}

impl DeepTree {
    fn new(depth: usize) -> Self {
        let root = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let (top, next) = (root.path().join("top"), root.path().join("next"));
        write(root.path(), "top/bottom", b"deep");
        for _ in 0..depth {
            std::fs::create_dir(&next).unwrap();
            std::fs::rename(&top, next.join("d")).unwrap();
            std::fs::rename(&next, &top).unwrap();
        }
        DeepTree { root }
    }
}

impl Drop for DeepTree {
    fn drop(&mut self) {
        let (top, next) = (self.root.path().join("top"), self.root.path().join("next"));
        while std::fs::rename(top.join("d"), &next).is_ok() {
            let _ = std::fs::remove_dir(&top);
            let _ = std::fs::rename(&next, &top);
        }
    }
}

/// A directory nested far past PATH_MAX: the walk is iterative, so depth costs no stack; past
/// PATH_MAX (about 2,000 levels of one-letter names) the OS cannot name a directory, and that
/// is an error, not a silent gap in the record. Recorded on a thread with a small stack, where
/// a recursive walk would overflow first.
///
/// 100,000 levels, as issue 12 d asks.
#[cfg(unix)]
#[test]
fn a_directory_nested_100_000_deep_is_a_clear_error_not_a_stack_overflow() {
    let deep = DeepTree::new(100_000);
    let root = deep.root.path().to_owned();
    let e = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || record_in(&root, &["top"], RecordOptions::default()))
        .unwrap()
        .join()
        .unwrap()
        .unwrap_err();
    let RecordError::TooDeep { depth, .. } = &e else {
        panic!("{e}")
    };
    assert!((1000..3000).contains(depth), "{e}");
}

/// A deep tree the OS can still name is recorded in full, its bottom file included.
#[cfg(unix)]
#[test]
fn a_deep_tree_within_path_max_is_recorded_in_full() {
    let deep = DeepTree::new(1000);
    let root = deep.root.path().to_owned();
    let v = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || record_in(&root, &["top"], RecordOptions::default()))
        .unwrap()
        .join()
        .unwrap()
        .unwrap();
    let want = format!("top/{}bottom", "d/".repeat(1000));
    assert_eq!(names(&v), [want]);
}

#[test]
fn weird_names_are_recorded_verbatim() {
    let d = tree();
    let v = record_in(d.path(), &["."], RecordOptions::as_dict_defaults()).unwrap();
    for n in [
        "ünïcödé/e\u{301}.txt",
        "ünïcödé/\u{e9}.txt",
        "sp ace/tab\tname",
        "sp ace/trailing ",
        "ctrl/\u{1}x",
        "ctrl/new\nline",
        "[br]acket",
    ] {
        assert_eq!(v[n]["sha256"], sha256_hex(n.as_bytes()), "{n:?}");
    }
    // As in the reference, backslashes are taken for Windows separators.
    assert_eq!(
        v["quote\"back/slash"]["sha256"],
        sha256_hex(b"quote\"back\\slash")
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_names_are_refused_unless_excluded() {
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"bad\xff.pyc");
    std::fs::write(d.path().join(bad), "x").unwrap();
    write(d.path(), "ok", b"ok");
    // Excluded by the default "*.pyc": fine.
    let v = record_in(d.path(), &["."], RecordOptions::as_dict_defaults()).unwrap();
    assert_eq!(names(&v), ["ok"]);
    let mut o = RecordOptions::as_dict_defaults();
    o.exclude_patterns = Some(strings(&["nothing"]));
    let e = record_in(d.path(), &["."], o).unwrap_err();
    assert!(matches!(e, RecordError::NotUtf8 { .. }), "{e}");
    assert!(e.to_string().contains("bad"), "{e}");
}

#[test]
fn base_path_is_not_part_of_the_names() {
    let d = tree();
    let v = record_in(
        d.path(),
        &["src/main.rs", "file:a.txt"],
        RecordOptions::default(),
    )
    .unwrap();
    assert_eq!(names(&v), ["file:a.txt", "src/main.rs"]);
    let mut o = RecordOptions::default();
    o.base_path = Some(d.path().join("missing"));
    let e = record_artifacts(&strings(&["."]), &o, &NoProgress).unwrap_err();
    assert!(matches!(e, RecordError::BasePath { .. }), "{e}");
    assert!(e.to_string().contains("missing"), "{e}");
}

#[test]
fn overlapping_lstrip_prefixes_are_refused() {
    let d = tree();
    let mut o = RecordOptions::default();
    o.lstrip_paths = strings(&["src/", "src/deep/"]);
    let e = record_in(d.path(), &["src"], o).unwrap_err();
    assert!(matches!(e, RecordError::PrefixOverlap { .. }), "{e}");
}

#[test]
fn lstrip_strips_and_collisions_are_refused() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "x/same", b"x");
    write(d.path(), "y/same", b"y");
    write(d.path(), "y/other", b"o");
    let mut o = RecordOptions::default();
    o.lstrip_paths = strings(&["y/"]);
    let v = record_in(d.path(), &["y"], o.clone()).unwrap();
    assert_eq!(names(&v), ["other", "same"]);
    o.lstrip_paths = strings(&["x/", "y/"]);
    let e = record_in(d.path(), &["x", "y"], o).unwrap_err();
    assert!(
        matches!(&e, RecordError::PrefixCollision { name } if name == "same"),
        "{e}"
    );
}

#[test]
fn dir_digest_is_the_shell_pipeline() {
    let d = tempfile::tempdir().unwrap();
    for f in ["b", "a/z", "a/y.txt", "A", "a-b", ".hidden"] {
        write(d.path(), &format!("t/{f}"), f.as_bytes());
    }
    let _cwd = CwdGuard::enter(d.path());
    let mut o = RecordOptions::default();
    o.exclude_patterns = Some(strings(&["nothing"]));
    let v = record_artifacts(&strings(&["dir:t"]), &o, &NoProgress).unwrap();
    let out = Command::new("sh")
        .args([
            "-c",
            "cd t && find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum",
        ])
        .output()
        .unwrap();
    let want = String::from_utf8(out.stdout).unwrap();
    let v = serde_json::to_value(v).unwrap();
    assert_eq!(
        v["dir:t"]["sha256"],
        want.split_whitespace().next().unwrap()
    );
    let e = record_artifacts(&strings(&["dir:t/b"]), &o, &NoProgress).unwrap_err();
    assert!(matches!(e, RecordError::NotADirectory { .. }), "{e}");
}

#[test]
fn progress_counts_every_file() {
    use std::sync::atomic::{AtomicU64, Ordering};
    #[derive(Default)]
    struct Count(AtomicU64, AtomicU64, AtomicU64);
    impl sbomit_fs::record::Progress for Count {
        fn files_total(&self, n: u64) {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
        fn file_done(&self, bytes: u64) {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.2.fetch_add(bytes, Ordering::Relaxed);
        }
    }
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a", b"123");
    write(d.path(), "s/b", b"45");
    let c = Count::default();
    let mut o = RecordOptions::default();
    o.base_path = Some(d.path().to_owned());
    record_artifacts(&strings(&["."]), &o, &c).unwrap();
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!((get(&c.0), get(&c.1), get(&c.2)), (2, 2, 5));
}

#[test]
fn digest_is_sha256_of_contents() {
    let d = tree();
    let v = record_in(d.path(), &["a.txt"], RecordOptions::default()).unwrap();
    assert_eq!(v["a.txt"]["sha256"], sha256_hex(b"a.txt"));
}

fn sha256_hex(data: &[u8]) -> String {
    sbomit_intoto::digest::Sha256::digest(data).to_hex()
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    if is_root() {
        eprintln!("skipped: root can read anything");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("secret");
    std::fs::write(&f, "x").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    let e = record_in(d.path(), &["."], RecordOptions::default()).unwrap_err();
    assert!(e.to_string().contains("secret"), "{e}");
}

#[cfg(unix)]
#[test]
fn unlistable_directory_is_skipped_as_os_walk_does() {
    use std::os::unix::fs::PermissionsExt;
    if is_root() {
        eprintln!("skipped: root can list anything");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "closed/f", b"f");
    write(d.path(), "open", b"o");
    let closed = d.path().join("closed");
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
    let v = record_in(d.path(), &["."], RecordOptions::default());
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(names(&v.unwrap()), ["open"]);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Running commands

fn sh(script: &str) -> Vec<String> {
    strings(&["sh", "-c", script])
}

#[cfg(unix)]
#[test]
fn byproducts_are_the_references() {
    let b = run_command(
        &sh("printf 'o\\r\\nx\\ry'; printf e >&2; exit 3"),
        Streams::Capture,
        None,
    )
    .unwrap();
    assert_eq!(
        Value::Object(b),
        json!({"stdout": "o\nx\ny", "stderr": "e", "return-value": 3})
    );
    let b = run_command(&sh("echo hidden; exit 0"), Streams::Discard, None).unwrap();
    assert_eq!(
        Value::Object(b),
        json!({"stdout": "", "stderr": "", "return-value": 0})
    );
    let b = run_command(&sh("kill -9 $$"), Streams::Discard, None).unwrap();
    assert_eq!(b["return-value"], -9);
}

#[cfg(unix)]
#[test]
fn a_missing_program_is_an_error_not_127() {
    let e = run_command(
        &strings(&["/nonexistent/sbomit-no-such-program"]),
        Streams::Discard,
        None,
    )
    .unwrap_err();
    assert!(matches!(e, RunError::Spawn { .. }), "{e}");
    assert!(e.to_string().contains("sbomit-no-such-program"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_slow_command_times_out() {
    let start = std::time::Instant::now();
    let e = run_command(
        &sh("sleep 5"),
        Streams::Capture,
        Some(Duration::from_millis(300)),
    )
    .unwrap_err();
    assert!(matches!(e, RunError::Timeout { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(4));
}

/// A command writing more than the cap: the first `cap` bytes are recorded, then the marker;
/// the rest is drained, so the command is not blocked on a full pipe and exits normally.
#[cfg(unix)]
#[test]
fn recorded_output_is_capped_and_the_rest_drained() {
    let options = RunOptions {
        max_output_bytes: 1000,
        ..RunOptions::new(Streams::Capture, Some(Duration::from_secs(60)))
    };
    let b = run_command_with(
        &sh("head -c 3000000 /dev/zero | tr '\\0' x; printf e >&2; exit 4"),
        &options,
    )
    .unwrap();
    let want = format!("{}{}", "x".repeat(1000), truncation_marker(1000, 3_000_000));
    assert_eq!(b["stdout"], want.as_str());
    assert!(want.ends_with("recorded the first 1000 of 3000000 bytes]\n"));
    assert_eq!(b["stderr"], "e");
    assert_eq!(b["return-value"], 4);
    // At the cap exactly, nothing is cut.
    let b = run_command_with(&sh("head -c 1000 /dev/zero | tr '\\0' y"), &options).unwrap();
    assert_eq!(b["stdout"], "y".repeat(1000).as_str());
}

/// A cut inside a multibyte character keeps only whole characters: the stream stays text.
#[cfg(unix)]
#[test]
fn capped_output_is_cut_between_characters() {
    let options = RunOptions {
        max_output_bytes: 5,
        ..RunOptions::new(Streams::Capture, None)
    };
    // "ééé" is six bytes; five would end inside the third "é".
    let b = run_command_with(&sh("printf 'ééé'"), &options).unwrap();
    assert_eq!(
        b["stdout"],
        format!("éé{}", truncation_marker(4, 6)).as_str()
    );
}

#[cfg(unix)]
#[test]
fn output_that_is_not_text_is_an_error() {
    let e = run_command(&sh("printf '\\377'"), Streams::Capture, None).unwrap_err();
    assert!(
        matches!(
            e,
            RunError::NotText {
                stream: "stdout",
                ..
            }
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Files and link names

#[test]
fn step_names_that_escape_the_link_directory_are_refused() {
    use sbomit_crypto::KeyId;
    use sbomit_fs::io::{link_file_name, sublayout_dir_name};
    let k = KeyId::new("0123456789abcdef");
    for bad in [
        "../x",
        "../../etc/passwd",
        "/abs",
        "a/b",
        "..",
        "",
        "a\0b",
        "a\\b",
    ] {
        assert!(link_file_name(bad, &k).is_err(), "{bad:?}");
        assert!(sublayout_dir_name(bad, &k).is_err(), "{bad:?}");
    }
    assert_eq!(link_file_name("build", &k).unwrap(), "build.01234567.link");
}

#[test]
fn a_failed_atomic_write_leaves_nothing_behind() {
    let d = tempfile::tempdir().unwrap();
    // The target is a directory, so the final rename fails after the data was written.
    let target = d.path().join("target");
    std::fs::create_dir(&target).unwrap();
    write(&target, "inside", b"keep");
    let e = sbomit_fs::io::write_atomic(&target, b"new contents", None).unwrap_err();
    assert!(e.to_string().contains("target"), "{e}");
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["target"]);
    assert_eq!(std::fs::read(target.join("inside")).unwrap(), b"keep");
}

#[test]
fn oversized_or_missing_files_are_errors_naming_them() {
    let e = sbomit_fs::io::read_file(Path::new("/nonexistent/x.layout")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.layout"), "{e}");
}

#[test]
fn a_missing_link_is_none() {
    use sbomit_crypto::KeyId;
    use sbomit_intoto::verify::LinkSource;
    let d = tempfile::tempdir().unwrap();
    let src = sbomit_fs::links::DirLinkSource::new(d.path());
    let k = KeyId::new("0123456789abcdef");
    assert!(src.load("build", &k).unwrap().is_none());
    assert!(src.load("../build", &k).is_err());
}

// ---------------------------------------------------------------------------------------------
// Running inspections

fn inspection(name: &str, run: Vec<String>) -> sbomit_intoto::model::Inspection {
    sbomit_intoto::model::Inspection {
        name: name.to_owned(),
        run,
        expected_materials: Vec::new(),
        expected_products: Vec::new(),
    }
}

#[cfg(unix)]
#[test]
fn an_inspection_runs_in_its_directory_without_changing_ours() {
    use sbomit_fs::inspect::CommandInspectionRunner;
    use sbomit_intoto::verify::InspectionRunner;
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "product/a.txt", b"a");
    let dir = d.path().join("product");
    // Held so that no CwdGuard test moves the directory while this one looks at it.
    let _lock = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let before = std::env::current_dir().unwrap();
    let runner = CommandInspectionRunner::in_dir(&dir, Some(Duration::from_secs(60)));
    let link = runner
        .run(&inspection("where", sh("pwd -P > where")))
        .unwrap();
    assert_eq!(std::env::current_dir().unwrap(), before);
    let materials = serde_json::to_value(&link.materials).unwrap();
    let products = serde_json::to_value(&link.products).unwrap();
    assert_eq!(names(&materials), ["a.txt"]);
    assert_eq!(names(&products), ["a.txt", "where"]);
    let ran_in = std::fs::read_to_string(dir.join("where")).unwrap();
    assert_eq!(
        Path::new(ran_in.trim()),
        dir.canonicalize().unwrap().as_path()
    );
    assert_eq!(link.return_value(), Some(&json!(0)));
}

#[cfg(unix)]
#[test]
fn an_inspection_past_its_timeout_is_killed_with_what_it_started() {
    use sbomit_fs::inspect::CommandInspectionRunner;
    use sbomit_intoto::verify::InspectionRunner;
    let d = tempfile::tempdir().unwrap();
    let runner = CommandInspectionRunner::in_dir(d.path(), Some(Duration::from_secs(1)));
    let start = std::time::Instant::now();
    // The shell starts a grandchild and waits for it: killing the shell alone would leave
    // the `sleep 30` running.
    let e = runner
        .run(&inspection(
            "slow",
            sh("sleep 30 & echo $! > grandchild; wait"),
        ))
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "{e}");
    let run = e.downcast_ref::<RunError>().unwrap();
    assert!(matches!(run, RunError::Timeout { seconds: 1, .. }), "{run}");
    assert_gone(&d.path().join("grandchild"));
}

/// Waits up to 5 s for the process whose pid is in `pid_file` to end, and fails if it does not.
#[cfg(unix)]
fn assert_gone(pid_file: &Path) {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let pid = pid.trim();
    // Gone, or a zombie waiting for an init that does not reap (as in some containers).
    let alive = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(), "process {pid} outlived the timeout");
}

/// A step runs as a foreground job: in a group of its own, so a timeout kills what it started
/// (the `sleep 30` its shell left behind), not only the shell.
#[cfg(unix)]
#[test]
fn a_step_past_its_timeout_is_killed_with_its_whole_process_group() {
    let d = tempfile::tempdir().unwrap();
    let options = RunOptions {
        current_dir: Some(d.path()),
        foreground_job: true,
        ..RunOptions::new(Streams::Capture, Some(Duration::from_secs(1)))
    };
    let start = std::time::Instant::now();
    let e = run_command_with(&sh("sleep 30 & echo $! > grandchild; wait"), &options).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "{e}");
    assert!(matches!(e, RunError::Timeout { seconds: 1, .. }), "{e}");
    assert_gone(&d.path().join("grandchild"));
}

/// A foreground job that ends by itself is recorded as any command is, and the grandchild it
/// left running is not touched (only a timeout kills the group).
#[cfg(unix)]
#[test]
fn a_step_that_finishes_is_recorded_as_before() {
    let options = RunOptions {
        foreground_job: true,
        ..RunOptions::new(Streams::Capture, Some(Duration::from_secs(30)))
    };
    let m = run_command_with(&sh("echo out; echo err >&2; exit 3"), &options).unwrap();
    assert_eq!(m["stdout"], "out\n");
    assert_eq!(m["stderr"], "err\n");
    assert_eq!(m["return-value"], 3);
}

/// `copy_tree` copies files, directories and links as links, and leaves the source as it was.
#[cfg(unix)]
#[test]
fn copy_tree_copies_files_dirs_and_links_as_links() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    write(&src, "a.txt", b"a");
    write(&src, "sub/deeper/b.bin", b"\x00\x01");
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("outside")).unwrap();
    std::os::unix::fs::symlink(".", src.join("loop")).unwrap();
    let dst = d.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    sbomit_fs::io::copy_tree(&src, &dst).unwrap();
    assert_eq!(std::fs::read(dst.join("a.txt")).unwrap(), b"a");
    assert_eq!(
        std::fs::read(dst.join("sub/deeper/b.bin")).unwrap(),
        b"\x00\x01"
    );
    for (link, target) in [("link", "a.txt"), ("outside", "/etc/passwd"), ("loop", ".")] {
        assert_eq!(
            std::fs::read_link(dst.join(link)).unwrap(),
            Path::new(target),
            "{link}"
        );
    }
    assert!(src.join("a.txt").exists() && !src.join("dst").exists());
}
