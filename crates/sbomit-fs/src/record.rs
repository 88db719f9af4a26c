//! Recording artifacts: which paths the in-toto reference records, hashed in parallel.
//!
//! Semantics follow the reference's `FileResolver` / `DirectoryResolver` (in-toto 3.1.0):
//! * each given path is `normpath`ed; excluded or missing paths are skipped silently;
//! * directories are walked without following symlinked directories; symlinked files are
//!   recorded under the link's name; dangling symlinks are skipped;
//! * exclude patterns are gitignore-style (`gitwildmatch`), matched against the path as
//!   recorded before stripping (a pattern without `/` matches any component), and an excluded
//!   directory is not descended into; default `*.link*`, `.git`, `*.pyc`, `*~`;
//! * `--base-path` resolves relative paths from another directory, which is not recorded;
//! * `--lstrip-paths` strips the first matching prefix; prefixes must not be prefixes of each
//!   other, and stripping must not make two paths equal;
//! * `file:PATH` records `file:`-prefixed names; `dir:PATH` records one digest for a whole
//!   tree: sha256 over the lines `<sha256>  <relative path>\n` sorted by bytes (what
//!   `find . -type f | cut -c3- | LC_ALL=C sort | xargs sha256sum | sha256sum` gives).
//!
//! Walking comes first (cheap, sequential), then hashing runs on all cores, each file read
//! exactly once, streamed through a reusable buffer.

use std::io::Read;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;
use sbomit_core::digest::{ArtifactPath, Artifacts, DigestSet, Sha256};

/// The reference's default exclude patterns.
pub const DEFAULT_EXCLUDES: [&str; 4] = ["*.link*", ".git", "*.pyc", "*~"];

/// How to record.
#[derive(Clone, Debug, Default)]
pub struct RecordOptions {
    /// Exclude patterns; `None` (or empty, as in the reference) uses [`DEFAULT_EXCLUDES`].
    pub exclude_patterns: Option<Vec<String>>,
    /// Resolve relative paths from here instead of the current directory.
    pub base_path: Option<PathBuf>,
    /// Prefixes to strip from recorded names.
    pub lstrip_paths: Vec<String>,
}

/// Told about hashing progress (the CLI draws a bar).
pub trait Progress: Sync {
    fn files_total(&self, _n: u64) {}
    fn file_done(&self, _bytes: u64) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("invalid exclude pattern {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("lstrip prefixes {a:?} and {b:?} overlap: one is a prefix of the other")]
    PrefixOverlap { a: String, b: String },
    #[error("stripping prefixes makes two artifacts named {name:?}")]
    PrefixCollision { name: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a directory (dir: records a directory)")]
    NotADirectory { path: String },
    #[error("{path}: the path is not valid UTF-8, which in-toto metadata cannot name")]
    NotUtf8 { path: PathBuf },
    #[error("{uri}: ostree: artifacts are not supported")]
    Ostree { uri: String },
}

/// A file to hash: the name it is recorded under and where it is.
struct Entry {
    name: String,
    fs_path: PathBuf,
}

/// Records `paths` as the reference's `record_artifacts_as_dict` would.
pub fn record_artifacts(
    paths: &[String],
    options: &RecordOptions,
    progress: &dyn Progress,
) -> Result<Artifacts, RecordError> {
    let mut out = Artifacts::new();
    if paths.is_empty() {
        return Ok(out);
    }
    for (i, a) in options.lstrip_paths.iter().enumerate() {
        for b in &options.lstrip_paths[i + 1..] {
            if a.starts_with(b.as_str()) || b.starts_with(a.as_str()) {
                return Err(RecordError::PrefixOverlap {
                    a: a.clone(),
                    b: b.clone(),
                });
            }
        }
    }
    let patterns: Vec<String> = match &options.exclude_patterns {
        Some(p) if !p.is_empty() => p.clone(),
        _ => DEFAULT_EXCLUDES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let excludes = build_excludes(&patterns)?;
    let base = options.base_path.clone().unwrap_or_default();

    // Files first (in the order the reference meets them, which decides lstrip collisions),
    // then each dir: tree.
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for uri in paths {
        if let Some(rest) = uri.strip_prefix("dir:") {
            dirs.push(rest.to_owned());
        } else if uri.starts_with("ostree:") {
            return Err(RecordError::Ostree { uri: uri.clone() });
        } else {
            let (path, prefix) = match uri.strip_prefix("file:") {
                Some(rest) => (rest, "file:"),
                None => (uri.as_str(), ""),
            };
            collect(&base, &normpath(path), prefix, &excludes, &mut files)?;
        }
    }
    progress.files_total(files.len() as u64);
    let digests = hash_all(&files, progress)?;
    for (entry, digest) in files.iter().zip(digests) {
        let name = mangle(&entry.name, &options.lstrip_paths, &out)?;
        out.insert(ArtifactPath(name), DigestSet::sha256(digest));
    }
    for dir in dirs {
        let digest = dir_hash(Path::new(&dir), &excludes, progress)?;
        let name = format!(
            "dir:{}",
            strip_prefix(&dir.replace('\\', "/"), &options.lstrip_paths)
        );
        if !options.lstrip_paths.is_empty() && out.contains_key(&ArtifactPath(name.clone())) {
            return Err(RecordError::PrefixCollision { name });
        }
        out.insert(ArtifactPath(name), DigestSet::sha256(digest));
    }
    Ok(out)
}

fn build_excludes(patterns: &[String]) -> Result<Gitignore, RecordError> {
    let mut b = GitignoreBuilder::new("");
    for p in patterns {
        b.add_line(None, p).map_err(|e| RecordError::Pattern {
            pattern: p.clone(),
            reason: e.to_string(),
        })?;
    }
    b.build().map_err(|e| RecordError::Pattern {
        pattern: patterns.join(" "),
        reason: e.to_string(),
    })
}

fn excluded(excludes: &Gitignore, name: &str, is_dir: bool) -> bool {
    // Patterns match relative names; an absolute artifact path is matched without its root.
    let rel = name.trim_start_matches('/');
    if rel.is_empty() || rel == "." {
        return false;
    }
    excludes
        .matched_path_or_any_parents(rel, is_dir)
        .is_ignore()
}

/// Whether an entry met while walking is excluded. Its parents were checked on the way down
/// (an excluded directory is not entered), so only the entry itself is matched.
fn excluded_entry(excludes: &Gitignore, name: &str, is_dir: bool) -> bool {
    let rel = name.trim_start_matches('/');
    !rel.is_empty() && rel != "." && excludes.matched(rel, is_dir).is_ignore()
}

/// Python's `posixpath.normpath`.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if initial == 0 && (parts.is_empty() || parts.last() == Some(&"..")) {
                    parts.push("..");
                } else if !parts.is_empty() {
                    parts.pop();
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    let out = format!("{}{joined}", "/".repeat(initial));
    if out.is_empty() {
        ".".to_owned()
    } else {
        out
    }
}

fn join(base: &str, name: &str) -> String {
    if base == "." {
        name.to_owned()
    } else if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Collects the files under one given path (recorded `name`, resolved against `base`).
fn collect(
    base: &Path,
    name: &str,
    prefix: &str,
    excludes: &Gitignore,
    out: &mut Vec<Entry>,
) -> Result<(), RecordError> {
    let fs_path = base.join(name);
    // `exists`/`isfile`/`isdir` follow symlinks, as Python's do.
    let Ok(meta) = std::fs::metadata(&fs_path) else {
        return Ok(());
    };
    if excluded(excludes, name, meta.is_dir()) {
        return Ok(());
    }
    if meta.is_file() {
        out.push(Entry {
            name: format!("{prefix}{name}"),
            fs_path,
        });
    } else if meta.is_dir() {
        walk(&fs_path, name, prefix, excludes, out)?;
    }
    Ok(())
}

/// `os.walk(followlinks=False)`: descends into real directories only; symlinks to files are
/// recorded, symlinks to directories and dangling symlinks are not.
fn walk(
    dir: &Path,
    name: &str,
    prefix: &str,
    excludes: &Gitignore,
    out: &mut Vec<Entry>,
) -> Result<(), RecordError> {
    let mut entries: Vec<(String, std::fs::FileType)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            return Err(RecordError::NotUtf8 { path: entry.path() });
        };
        entries.push((
            file_name.to_owned(),
            entry.file_type().map_err(io_err(&entry.path()))?,
        ));
    }
    // Sorted for a deterministic order (the reference's order is the OS's; it only matters
    // for which of two colliding lstrip names is reported).
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (file_name, file_type) in entries {
        let child_name = normpath(&join(name, &file_name));
        let child_path = dir.join(&file_name);
        if file_type.is_dir() {
            if !excluded_entry(excludes, &child_name, true) {
                walk(&child_path, &child_name, prefix, excludes, out)?;
            }
        } else if file_type.is_symlink() {
            // A symlink to a directory is listed among os.walk's dirs and not followed; a
            // dangling one is skipped; a symlink to a file is recorded under the link's name.
            let to_file = std::fs::metadata(&child_path).is_ok_and(|m| m.is_file());
            if to_file && !excluded_entry(excludes, &child_name, false) {
                out.push(Entry {
                    name: format!("{prefix}{child_name}"),
                    fs_path: child_path,
                });
            }
        } else if file_type.is_file() && !excluded_entry(excludes, &child_name, false) {
            out.push(Entry {
                name: format!("{prefix}{child_name}"),
                fs_path: child_path,
            });
        }
    }
    Ok(())
}

fn strip_prefix<'a>(name: &'a str, lstrip: &[String]) -> &'a str {
    for p in lstrip {
        if let Some(rest) = name.strip_prefix(p.as_str()) {
            return rest;
        }
    }
    name
}

fn mangle(name: &str, lstrip: &[String], existing: &Artifacts) -> Result<String, RecordError> {
    let (prefix, path) = match name.strip_prefix("file:") {
        Some(rest) => ("file:", rest),
        None => ("", name),
    };
    let path = path.replace('\\', "/");
    let stripped = strip_prefix(&path, lstrip);
    // As the reference: the collision check looks at the name without the scheme prefix.
    if !lstrip.is_empty() && existing.contains_key(&ArtifactPath(stripped.to_owned())) {
        return Err(RecordError::PrefixCollision {
            name: stripped.to_owned(),
        });
    }
    Ok(format!("{prefix}{stripped}"))
}

const BUF_SIZE: usize = 1 << 20;

thread_local! {
    static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; BUF_SIZE]);
}

/// Streams one file through SHA-256.
pub fn hash_file(path: &Path) -> Result<(Sha256, u64), RecordError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut total = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(path)(e)),
            };
            ctx.update(&buf[..n]);
            total += n as u64;
        }
        let mut d = [0u8; 32];
        d.copy_from_slice(ctx.finish().as_ref());
        Ok((Sha256::from_bytes(d), total))
    })
}

fn hash_all(files: &[Entry], progress: &dyn Progress) -> Result<Vec<Sha256>, RecordError> {
    files
        .par_iter()
        .with_min_len(16)
        .map(|e| {
            let (d, n) = hash_file(&e.fs_path)?;
            progress.file_done(n);
            Ok(d)
        })
        .collect()
}

fn dir_hash(
    dir: &Path,
    excludes: &Gitignore,
    progress: &dyn Progress,
) -> Result<Sha256, RecordError> {
    if !dir.is_dir() {
        return Err(RecordError::NotADirectory {
            path: dir.display().to_string(),
        });
    }
    let mut files = Vec::new();
    collect(dir, ".", "", excludes, &mut files)?;
    progress.files_total(files.len() as u64);
    let digests = hash_all(&files, progress)?;
    let mut lines: Vec<(String, Sha256)> = files.into_iter().map(|e| e.name).zip(digests).collect();
    // LC_ALL=C strcoll is byte order.
    lines.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut text = String::with_capacity(lines.len() * 80);
    for (name, d) in &lines {
        text.push_str(&d.to_hex());
        text.push_str("  ");
        text.push_str(name);
        text.push('\n');
    }
    Ok(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_matches_python() {
        for (i, o) in [
            ("", "."),
            (".", "."),
            ("./a", "a"),
            ("a/./b/", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("//a", "//a"),
            ("///a", "/a"),
            ("a//b", "a/b"),
            ("a/..", "."),
        ] {
            assert_eq!(normpath(i), o, "{i:?}");
        }
    }
}
