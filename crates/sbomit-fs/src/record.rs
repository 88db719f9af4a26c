//! Recording artifacts: the paths and digests the in-toto reference (3.1.0) records, hashed in
//! parallel.
//!
//! Semantics follow `record_artifacts_as_dict` and its resolvers (`in_toto/resolver`):
//! * URIs go to a resolver by scheme: `dir:` and `ostree:` have their own, anything else
//!   (including `file:`) is a file path; each resolver handles its URIs as one batch, batches
//!   in the order their first URI appears.
//! * A file path is `normpath`ed (`./a` → `a`, `a/../b` → `b`), then skipped if excluded or
//!   missing; a file is recorded, a directory walked as `os.walk` does: names are
//!   `normpath(join(dir, name))`, an excluded directory is not entered, entries that are not
//!   (symlinks to) regular files are skipped, dangling symlinks too, and a directory that
//!   cannot be listed is skipped silently. Symlinked files are recorded under the link's name.
//!   Symlinked directories are entered only with `follow_symlink_dirs`, which `in-toto-run`
//!   and `in-toto-record` set.
//!
//! Where this differs from the reference, on purpose, because packages may be hostile:
//! * A directory already on the path being walked (same device and inode: a symlink cycle
//!   such as `a -> .`, or a bind mount of an ancestor) is not entered again; the reference
//!   follows cycles until the OS refuses the path (ELOOP), which for two links `a -> .` and
//!   `b -> .` is about 2^40 paths. What is left out is only the names that go round the cycle:
//!   the result is the reference's for the tree without the looping links. Each such directory
//!   is reported to [`Progress::directory_cycle`].
//! * At most [`RecordOptions::max_entries`] directory entries are walked in one recording
//!   (symlinks to directories without a cycle can still fan out exponentially), past which
//!   recording fails with [`RecordError::TooManyEntries`].
//! * A directory nested too deep for the OS to name by path (ENAMETOOLONG) is an error,
//!   [`RecordError::TooDeep`], not skipped silently as `os.walk` does: files hidden below it
//!   would otherwise be left out of the record without a word. The walk itself is iterative,
//!   so depth never costs stack.
//! * Exclude patterns are pathspec's gitwildmatch patterns ([`crate::exclude`]), matched
//!   against each path as named before stripping; none given (or an empty list) means the
//!   reference's defaults `*.link*`, `.git`, `*.pyc`, `*~`.
//! * `base_path` resolves file paths from another directory; it is not part of the names.
//!   `dir:` paths are resolved from the current directory, `ostree:` ones from `base_path`.
//! * `lstrip_paths`: the first matching prefix is stripped; prefixes must not be prefixes of
//!   each other; when stripping is on, a name met twice is an error.
//! * `file:PATH` names keep their `file:` prefix. `dir:PATH` records one digest for the tree:
//!   sha256 over `<sha256>  <path>\n` lines sorted by bytes, paths relative to the tree (the
//!   output of `find . -type f | cut -c3- | LC_ALL=C sort | xargs sha256sum | sha256sum`).
//!   `ostree:REF` records the digest of the commit object `refs/heads/REF` points at.
//!
//! Walking comes first (cheap, sequential); hashing then runs on all cores, each file read once
//! through a reusable per-thread buffer.

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sbomit_intoto::digest::{posix_join, ArtifactPath, Artifacts, DigestSet, Sha256};

use crate::exclude::{ExcludeSpec, PatternError};

/// The reference's default exclude patterns (`in_toto.settings.ARTIFACT_EXCLUDE_PATTERNS`).
pub const DEFAULT_EXCLUDES: [&str; 4] = ["*.link*", ".git", "*.pyc", "*~"];

/// How to record.
///
/// `Default` is what `in-toto-run`, `in-toto-record` and inspections use: symlinked
/// directories are followed. [`RecordOptions::as_dict_defaults`] is the default of
/// `record_artifacts_as_dict` itself (and of `in-toto-match-products`), which does not follow.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Exclude patterns; `None` (or empty, as in the reference) uses [`DEFAULT_EXCLUDES`].
    pub exclude_patterns: Option<Vec<String>>,
    /// Resolve relative file paths from here instead of the current directory.
    pub base_path: Option<PathBuf>,
    /// Prefixes to strip from recorded names.
    pub lstrip_paths: Vec<String>,
    /// Enter symlinked directories while walking.
    pub follow_symlink_dirs: bool,
    /// Hash files with CRLF and CR line endings turned into LF.
    pub normalize_line_endings: bool,
    /// How many directory entries one recording may walk before it fails with
    /// [`RecordError::TooManyEntries`]; [`DEFAULT_MAX_ENTRIES`] by default.
    pub max_entries: u64,
}

/// The default [`RecordOptions::max_entries`]: far beyond any real source or build tree (a
/// Linux kernel checkout has under 100,000 files), well below what exhausts memory.
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000_000;

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            exclude_patterns: None,
            base_path: None,
            lstrip_paths: Vec::new(),
            follow_symlink_dirs: true,
            normalize_line_endings: false,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl RecordOptions {
    /// `record_artifacts_as_dict`'s own defaults: symlinked directories are not followed.
    pub fn as_dict_defaults() -> Self {
        Self {
            follow_symlink_dirs: false,
            ..Self::default()
        }
    }
}

/// Told about hashing progress (the CLI draws a bar).
pub trait Progress: Sync {
    fn files_total(&self, _n: u64) {}
    fn file_done(&self, _bytes: u64) {}
    /// `path` was not entered: it is a directory the walk is already inside (a symlink cycle).
    fn directory_cycle(&self, _path: &Path) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("lstrip prefixes {a:?} and {b:?} overlap: one is a prefix of the other")]
    PrefixOverlap { a: String, b: String },
    #[error("stripping prefixes makes two artifacts named {name:?}")]
    PrefixCollision { name: String },
    #[error("base path {path}: {source}")]
    BasePath {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a directory (dir: records a directory)")]
    NotADirectory { path: String },
    #[error("{path}: the name is not valid UTF-8, which in-toto metadata cannot hold")]
    NotUtf8 { path: PathBuf },
    #[error(
        "more than {limit} directory entries to walk (symlinked directories fanning out?); \
         refusing to record more"
    )]
    TooManyEntries { limit: u64 },
    #[error(
        "{top}: a directory {depth} levels down is nested too deep for the OS to name \
         ({source}); its contents cannot be recorded"
    )]
    TooDeep {
        top: PathBuf,
        depth: usize,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A file to hash.
struct Entry {
    /// The name it is recorded under (before lstrip), with its scheme prefix if any.
    name: String,
    fs_path: PathBuf,
    /// False when the name had to be decoded lossily.
    utf8: bool,
    /// Met as a directory entry of type "regular file", not stat'ed: if it cannot be opened,
    /// the reference's `isfile` may have said no, so check before calling it an error.
    unverified: bool,
    /// Which batch it belongs to: the file batch, or the `dir:` tree with this index.
    owner: Owner,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Files,
    Dir(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    File,
    Dir,
    Ostree,
}

/// `Resolver.for_uri`: the scheme before the first `:` if it is a registered one.
fn scheme(uri: &str) -> Scheme {
    match uri.split_once(':').map(|(s, _)| s) {
        Some("dir") => Scheme::Dir,
        Some("ostree") => Scheme::Ostree,
        _ => Scheme::File,
    }
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
    let excludes = match &options.exclude_patterns {
        Some(p) if !p.is_empty() => ExcludeSpec::new(p)?,
        _ => ExcludeSpec::new(&DEFAULT_EXCLUDES)?,
    };
    let base = options
        .base_path
        .clone()
        .filter(|b| !b.as_os_str().is_empty());
    let walker = Walker {
        excludes: &excludes,
        follow: options.follow_symlink_dirs,
        max_entries: options.max_entries,
        walked: std::cell::Cell::new(0),
        progress,
    };

    let mut order: Vec<Scheme> = Vec::new();
    for uri in paths {
        let s = scheme(uri);
        if !order.contains(&s) {
            order.push(s);
        }
    }

    // Walk everything first, so one parallel pass hashes all files.
    let mut entries = Vec::new();
    let mut dirs: Vec<&str> = Vec::new();
    for s in &order {
        match s {
            Scheme::File => {
                // The reference changes into base_path; a missing one is an error.
                let root = match &base {
                    Some(b) => {
                        check_base(b)?;
                        b.clone()
                    }
                    None => PathBuf::new(),
                };
                for uri in paths.iter().filter(|u| scheme(u) == Scheme::File) {
                    let (path, prefix) = match uri.strip_prefix("file:") {
                        Some(rest) => (rest, "file:"),
                        None => (uri.as_str(), ""),
                    };
                    walker.top(&root, &normpath(path), prefix, Owner::Files, &mut entries)?;
                }
            }
            Scheme::Dir => {
                for uri in paths.iter().filter(|u| scheme(u) == Scheme::Dir) {
                    let dir = &uri["dir:".len()..];
                    if !Path::new(dir).is_dir() {
                        return Err(RecordError::NotADirectory {
                            path: dir.to_owned(),
                        });
                    }
                    let owner = Owner::Dir(dirs.len());
                    dirs.push(dir);
                    walker.top(Path::new(dir), ".", "", owner, &mut entries)?;
                }
            }
            Scheme::Ostree => {}
        }
    }

    progress.files_total(entries.len() as u64);
    let normalize = options.normalize_line_endings;
    let digests: Vec<Option<Sha256>> = entries
        .par_iter()
        .with_min_len(16)
        .map(|e| {
            let d = hash_entry(e, normalize, progress)?;
            if d.is_some() && !e.utf8 {
                return Err(RecordError::NotUtf8 {
                    path: e.fs_path.clone(),
                });
            }
            Ok(d)
        })
        .collect::<Result<_, _>>()?;
    let hashed = || {
        entries
            .iter()
            .zip(&digests)
            .filter_map(|(e, d)| d.map(|d| (e, d)))
    };

    for s in &order {
        match s {
            Scheme::File if options.lstrip_paths.is_empty() => {
                // Nothing to strip, so no collisions to report: one bulk build of the map
                // (the last of a path given twice wins, as with inserts).
                let batch: Artifacts = hashed()
                    .filter(|(e, _)| e.owner == Owner::Files)
                    .map(|(e, d)| {
                        let name = if e.name.contains('\\') {
                            e.name.replace('\\', "/")
                        } else {
                            e.name.clone()
                        };
                        (ArtifactPath::new(name), DigestSet::sha256(d))
                    })
                    .collect();
                if out.is_empty() {
                    out = batch;
                } else {
                    out.extend(batch);
                }
            }
            Scheme::File => {
                let mut batch = Artifacts::new();
                for (e, d) in hashed().filter(|(e, _)| e.owner == Owner::Files) {
                    let name = mangle_file(&e.name, &options.lstrip_paths, &batch)?;
                    batch.insert(ArtifactPath::new(name), DigestSet::sha256(d));
                }
                out.extend(batch);
            }
            Scheme::Dir => {
                let mut batch = Artifacts::new();
                for (i, dir) in dirs.iter().enumerate() {
                    let files = hashed().filter(|(e, _)| e.owner == Owner::Dir(i));
                    let digest = dir_digest(files.map(|(e, d)| (e.name.as_str(), d)));
                    let name = format!(
                        "dir:{}",
                        strip_prefix(&dir.replace('\\', "/"), &options.lstrip_paths)
                    );
                    // Only other dir: entries are checked, as in the reference.
                    if !options.lstrip_paths.is_empty()
                        && batch.contains_key(&ArtifactPath::new(name.clone()))
                    {
                        return Err(RecordError::PrefixCollision { name });
                    }
                    batch.insert(ArtifactPath::new(name), DigestSet::sha256(digest));
                }
                out.extend(batch);
            }
            Scheme::Ostree => {
                let root = base.clone().unwrap_or_default();
                for uri in paths.iter().filter(|u| scheme(u) == Scheme::Ostree) {
                    let reference = &uri["ostree:".len()..];
                    let digest = ostree_digest(&root, reference)?;
                    out.insert(
                        ArtifactPath::new(format!("ostree:{reference}")),
                        DigestSet::sha256(digest),
                    );
                }
            }
        }
    }
    Ok(out)
}

fn check_base(base: &Path) -> Result<(), RecordError> {
    let meta = std::fs::metadata(base).map_err(|source| RecordError::BasePath {
        path: base.to_owned(),
        source,
    })?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(RecordError::BasePath {
            path: base.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        })
    }
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

/// `os.path.join(base, name)` for a name without slashes, then `normpath`.
///
/// `base` is always already normalised (it comes from `normpath` or from this function), so
/// for a plain directory entry name the join is already normal: no second pass over the path
/// for each of 100,000 files.
fn child(base: &str, name: &str) -> String {
    let plain = !name.is_empty() && name != "." && name != ".." && !name.contains('/');
    if plain && !base.is_empty() {
        if base == "." {
            return name.to_owned();
        }
        let mut out = String::with_capacity(base.len() + 1 + name.len());
        out.push_str(base);
        if !base.ends_with('/') {
            out.push('/');
        }
        out.push_str(name);
        return out;
    }
    let joined = if base.is_empty() || base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    };
    normpath(&joined)
}

struct Walker<'a> {
    excludes: &'a ExcludeSpec,
    follow: bool,
    max_entries: u64,
    /// Directory entries listed so far, over every walk of this recording.
    walked: std::cell::Cell<u64>,
    progress: &'a dyn Progress,
}

/// What identifies a directory however it is reached: device and inode.
#[cfg(unix)]
type DirId = (u64, u64);
/// Without inodes, the canonical path (symlinks resolved) identifies a directory.
#[cfg(not(unix))]
type DirId = PathBuf;

#[cfg(unix)]
fn dir_id(path: &Path) -> Option<DirId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(path: &Path) -> Option<DirId> {
    std::fs::canonicalize(path).ok()
}

#[cfg(unix)]
fn is_name_too_long(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::NAMETOOLONG.raw_os_error())
}

#[cfg(not(unix))]
fn is_name_too_long(_: &std::io::Error) -> bool {
    false
}

impl Walker<'_> {
    /// One path given to the file resolver: `name` is already normalised; it is resolved
    /// against `root`.
    fn top(
        &self,
        root: &Path,
        name: &str,
        prefix: &str,
        owner: Owner,
        out: &mut Vec<Entry>,
    ) -> Result<(), RecordError> {
        if self.excludes.is_excluded(name) {
            return Ok(());
        }
        let fs_path = root.join(name);
        // `exists`/`isfile`/`isdir` follow symlinks and say no on any error.
        let Ok(meta) = std::fs::metadata(&fs_path) else {
            return Ok(());
        };
        if meta.is_file() {
            out.push(Entry {
                name: format!("{prefix}{name}"),
                fs_path,
                utf8: true,
                unverified: false,
                owner,
            });
        } else if meta.is_dir() {
            self.walk(fs_path, name.to_owned(), true, prefix, owner, out)?;
        }
        Ok(())
    }

    /// `os.walk(top, followlinks=self.follow)`, top-down, with the reference's filtering, less
    /// cycles (see the module's documentation). Iterative: depth costs heap, not stack.
    fn walk(
        &self,
        top: PathBuf,
        name: String,
        utf8: bool,
        prefix: &str,
        owner: Owner,
        out: &mut Vec<Entry>,
    ) -> Result<(), RecordError> {
        // Depth-first, so the directories on the current path are the stack's ancestors:
        // `ancestors[..depth]` while a directory at `depth` is walked.
        let mut ancestors: Vec<Option<DirId>> = Vec::new();
        let mut stack = vec![(top.clone(), name, utf8, 0usize)];
        while let Some((dir, name, utf8, depth)) = stack.pop() {
            ancestors.truncate(depth);
            // Only a directory reached through a symlink (or a bind mount) can be its own
            // ancestor, but any ancestor can be the target, so every directory is identified.
            let id = dir_id(&dir);
            if id.is_some() && ancestors.contains(&id) {
                self.progress.directory_cycle(&dir);
                continue;
            }
            let listing = match list(&dir) {
                Ok(listing) => listing,
                Err(source) if is_name_too_long(&source) => {
                    return Err(RecordError::TooDeep {
                        top: top.clone(),
                        depth,
                        source,
                    });
                }
                // os.walk ignores directories it cannot list (no onerror is given).
                Err(_) => continue,
            };
            ancestors.push(id);
            let walked = self.walked.get() + listing.len() as u64;
            if walked > self.max_entries {
                return Err(RecordError::TooManyEntries {
                    limit: self.max_entries,
                });
            }
            self.walked.set(walked);
            let mut subdirs = Vec::new();
            for item in listing {
                let child_name = child(&name, &item.name);
                let child_utf8 = utf8 && item.utf8;
                let child_path = dir.join(&item.os_name);
                if item.is_dir {
                    if !self.excludes.is_excluded(&child_name) && (self.follow || !item.is_symlink)
                    {
                        subdirs.push((child_path, child_name, child_utf8, depth + 1));
                    }
                    continue;
                }
                if self.excludes.is_excluded(&child_name) {
                    continue;
                }
                // `isfile(filepath)`: a directory entry of type "regular file" is one unless
                // it cannot be stat'ed, which hashing checks only if opening fails.
                let unverified = item.is_regular;
                if !unverified && !std::fs::metadata(&child_path).is_ok_and(|m| m.is_file()) {
                    continue;
                }
                out.push(Entry {
                    name: format!("{prefix}{child_name}"),
                    fs_path: child_path,
                    utf8: child_utf8,
                    unverified,
                    owner,
                });
            }
            // Entered in listing order after this directory's files, as os.walk does.
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }
}

struct Item {
    name: String,
    os_name: std::ffi::OsString,
    utf8: bool,
    /// `DirEntry.is_dir()`, which follows symlinks and says no on errors.
    is_dir: bool,
    is_symlink: bool,
    is_regular: bool,
}

/// A directory's entries, sorted by name so results do not depend on the filesystem's order
/// (the reference's order only decides which name an lstrip collision error mentions).
/// An error when the directory cannot be listed: `os.walk` then skips it entirely.
fn list(dir: &Path) -> std::io::Result<Vec<Item>> {
    let mut items = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let os_name = entry.file_name();
        let (name, utf8) = match os_name.to_str() {
            Some(s) => (s.to_owned(), true),
            // Matched against excludes lossily; recording such a name is an error later.
            None => (os_name.to_string_lossy().into_owned(), false),
        };
        let ft = entry.file_type().ok();
        let is_symlink = ft.is_some_and(|t| t.is_symlink());
        let is_dir = match ft {
            Some(t) if t.is_dir() => true,
            Some(t) if t.is_symlink() => std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()),
            _ => false,
        };
        items.push(Item {
            name,
            os_name,
            utf8,
            is_dir,
            is_symlink,
            is_regular: ft.is_some_and(|t| t.is_file()),
        });
    }
    items.sort_unstable_by(|a, b| a.os_name.cmp(&b.os_name));
    Ok(items)
}

fn strip_prefix<'a>(name: &'a str, lstrip: &[String]) -> &'a str {
    for p in lstrip {
        if let Some(rest) = name.strip_prefix(p.as_str()) {
            return rest;
        }
    }
    name
}

/// `FileResolver._mangle`.
fn mangle_file(name: &str, lstrip: &[String], existing: &Artifacts) -> Result<String, RecordError> {
    let (prefix, path) = match name.strip_prefix("file:") {
        Some(rest) => ("file:", rest),
        None => ("", name),
    };
    let path = path.replace('\\', "/");
    let stripped = strip_prefix(&path, lstrip);
    // As the reference: the collision check looks at the name without the scheme prefix.
    if !lstrip.is_empty() && existing.contains_key(&ArtifactPath::new(stripped.to_owned())) {
        return Err(RecordError::PrefixCollision {
            name: stripped.to_owned(),
        });
    }
    Ok(format!("{prefix}{stripped}"))
}

/// The `dir:` digest over (relative name, digest) pairs.
fn dir_digest<'a>(files: impl Iterator<Item = (&'a str, Sha256)>) -> Sha256 {
    let mut lines: Vec<(&str, Sha256)> = files.collect();
    // LC_ALL=C strcoll compares code points, which is UTF-8 byte order.
    lines.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    // The inner resolver keys by name, so a name met twice counts once.
    lines.dedup_by(|a, b| a.0 == b.0);
    let mut text = String::with_capacity(lines.len() * 80);
    for (name, d) in &lines {
        text.push_str(&d.to_hex());
        text.push_str("  ");
        text.push_str(&name.replace('\\', "/"));
        text.push('\n');
    }
    Sha256::digest(text.as_bytes())
}

/// `OSTreeResolver._hash`: the commit object that `refs/heads/<reference>` names.
fn ostree_digest(root: &Path, reference: &str) -> Result<Sha256, RecordError> {
    let ref_path = root.join(posix_join("refs/heads", reference));
    let bytes = std::fs::read(&ref_path).map_err(io_err(&ref_path))?;
    let text = String::from_utf8(bytes).map_err(|e| RecordError::Io {
        path: ref_path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    // Read in text mode: universal newlines, then strip("\n").
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let commit: Vec<char> = text.trim_matches('\n').chars().collect();
    let head: String = commit.iter().take(2).collect();
    let tail: String = commit.iter().skip(2).collect();
    let object = root.join(posix_join(
        &posix_join("objects", &head),
        &format!("{tail}.commit"),
    ));
    Ok(hash_file(&object, false)?.0)
}

const BUF_SIZE: usize = 1 << 20;

thread_local! {
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn hash_entry(
    e: &Entry,
    normalize: bool,
    progress: &dyn Progress,
) -> Result<Option<Sha256>, RecordError> {
    match hash_file(&e.fs_path, normalize) {
        Ok((d, n)) => {
            progress.file_done(n);
            Ok(Some(d))
        }
        Err(err) => {
            // The reference's isfile() would have skipped what cannot be stat'ed as a file.
            if e.unverified && !std::fs::metadata(&e.fs_path).is_ok_and(|m| m.is_file()) {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Streams one file through SHA-256; with `normalize`, CRLF and lone CR are hashed as LF
/// (the reference's `normalize_line_endings`, which is the same transformation applied to
/// the whole file).
pub fn hash_file(path: &Path, normalize: bool) -> Result<(Sha256, u64), RecordError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        if buf.len() < BUF_SIZE {
            buf.resize(BUF_SIZE, 0);
        }
        let mut ctx = sbomit_crypto::Sha256Hasher::new();
        let mut total = 0u64;
        let mut pending_cr = false;
        let mut converted = Vec::new();
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(path)(e)),
            };
            total += n as u64;
            if normalize {
                converted.clear();
                for &b in &buf[..n] {
                    if std::mem::take(&mut pending_cr) && b == b'\n' {
                        continue;
                    }
                    if b == b'\r' {
                        converted.push(b'\n');
                        pending_cr = true;
                    } else {
                        converted.push(b);
                    }
                }
                ctx.update(&converted);
            } else {
                ctx.update(&buf[..n]);
            }
        }
        Ok((Sha256::from_bytes(ctx.finish()), total))
    })
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

    /// The shortcut for plain entry names gives what joining and normalising gives, for
    /// every kind of normalised base the walker produces.
    #[test]
    fn child_of_a_normalised_base_is_join_then_normpath() {
        for base in [
            ".", "a", "a/b", "/", "//", "/x", "//x", "..", "../a", "../..", "é/ü",
        ] {
            for name in ["f", "f g", "é", "a\\b", ".f", "..f", "f."] {
                let joined = if base.ends_with('/') {
                    format!("{base}{name}")
                } else {
                    format!("{base}/{name}")
                };
                assert_eq!(child(base, name), normpath(&joined), "{base:?} + {name:?}");
            }
        }
    }

    #[test]
    fn line_endings_are_normalised_across_buffers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let mut data = vec![b'x'; BUF_SIZE - 1];
        data.extend_from_slice(b"\r\na\rb\r\r\nc\r");
        std::fs::write(&p, &data).unwrap();
        let mut want = vec![b'x'; BUF_SIZE - 1];
        want.extend_from_slice(b"\na\nb\n\nc\n");
        assert_eq!(hash_file(&p, true).unwrap().0, Sha256::digest(&want));
        assert_eq!(hash_file(&p, false).unwrap().0, Sha256::digest(&data));
    }
}
