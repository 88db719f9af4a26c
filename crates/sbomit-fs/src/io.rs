//! Reading and writing metadata and key files: size-capped reads with the path in every error,
//! atomic writes (a failure never leaves a partial file), and link file names that cannot
//! escape their directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use sbomit_crypto::KeyId;

/// Metadata and key files larger than this are refused rather than read into memory.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// SBOMs and their signature envelopes, which grow with the build (about 2.5 KB per
/// component, and a third more as a DSSE payload): a 100,000-artifact SIT is 250 MB, its
/// envelope 330 MB. Still a bound, so that a stray file is refused before it is read.
pub const MAX_SBOM_BYTES: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {max} bytes")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{name:?} cannot name a metadata file: it must not be empty, contain '/', '\\\\' or NUL, or be '.' or '..'")]
    UnsafeName { name: String },
    #[error("{path:?} names a file outside {dir} ({why}); refusing to read it")]
    OutsideDirectory {
        path: String,
        dir: PathBuf,
        why: &'static str,
    },
}

/// Reads a whole file, refusing files over [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, IoError> {
    read_file_max(path, MAX_FILE_BYTES)
}

/// Reads a whole file, refusing files over `max` bytes.
pub fn read_file_max(path: &Path, max: u64) -> Result<Vec<u8>, IoError> {
    let err = |source| IoError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    if len > max {
        return Err(IoError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes).map_err(err)?;
    if bytes.len() as u64 > max {
        return Err(IoError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over the target. `mode` (Unix permissions) is set before any byte is
/// written, so a private key is never readable by others, not even briefly.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), IoError> {
    let tmp = write_temp(path, bytes, mode)?;
    tmp.persist(path).map_err(|e| IoError::Write {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// As [`write_atomic`], but never replaces a file already at `path`: returns `false`, writing
/// nothing, when there is one. The check and the rename are one step (no-clobber rename), so
/// of several processes creating the same file at once exactly one wins and the others see
/// its complete file.
pub fn create_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<bool, IoError> {
    let tmp = write_temp(path, bytes, mode)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(IoError::Write {
            path: path.to_owned(),
            source: e.error,
        }),
    }
}

/// `bytes` in a temporary file beside `path`, with `mode`, flushed to disk.
fn write_temp(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
) -> Result<tempfile::NamedTempFile, IoError> {
    let err = |source| IoError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".sbomit-")
        .tempfile_in(&dir)
        .map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = mode.unwrap_or(0o644);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    Ok(tmp)
}

/// `dir/path` for a relative `path` that comes from metadata (an attacker's, maybe), refused
/// when it could name a file outside `dir`: an absolute path, a `..` component, or (when the
/// file exists) a symlink on the way that leads out. Whether the file exists is left to the
/// caller.
pub fn path_under(dir: &Path, path: &str) -> Result<PathBuf, IoError> {
    use std::path::Component;
    let refuse = |why| IoError::OutsideDirectory {
        path: path.to_owned(),
        dir: dir.to_owned(),
        why,
    };
    let rel = Path::new(path);
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(refuse("a '..' component")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse("an absolute path")),
        }
    }
    let joined = dir.join(rel);
    // Symlinks are judged by where they lead: both sides resolved, the file must stay inside.
    if let (Ok(real), Ok(real_dir)) = (std::fs::canonicalize(&joined), std::fs::canonicalize(dir)) {
        if !real.starts_with(&real_dir) {
            return Err(refuse("a symlink leads out of it"));
        }
    }
    Ok(joined)
}

/// Checks that `name` is a single path component we may use in a file name.
pub fn check_component(name: &str) -> Result<(), IoError> {
    let bad = name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']);
    if bad {
        return Err(IoError::UnsafeName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// `<step>.<first 8 of keyid>.link`, refusing names that would leave the link directory.
pub fn link_file_name(step: &str, keyid: &KeyId) -> Result<String, IoError> {
    check_component(step)?;
    check_component(keyid.short())?;
    Ok(format!("{step}.{}.link", keyid.short()))
}

/// `<step>.<first 8 of keyid>`: the directory holding a sublayout's links.
pub fn sublayout_dir_name(step: &str, keyid: &KeyId) -> Result<String, IoError> {
    check_component(step)?;
    check_component(keyid.short())?;
    Ok(format!("{step}.{}", keyid.short()))
}

/// Copies the tree under `from` into the existing directory `to`: files with their content
/// and permissions, directories, and symbolic links as links (never followed, so a link
/// cannot pull in files from outside, and link cycles cost nothing). Other file types are
/// skipped. Iterative, so depth costs no stack.
///
/// Verification runs a layout's inspections in a copy of the directory it is given: an
/// inspection unpacks the package where it runs, and the user's directory must be left as
/// it was, or a second verification would see the first one's products.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), IoError> {
    fn read(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
        move |source| IoError::Read {
            path: path.to_owned(),
            source,
        }
    }
    fn write(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
        move |source| IoError::Write {
            path: path.to_owned(),
            source,
        }
    }
    let mut pending = vec![(from.to_owned(), to.to_owned())];
    while let Some((src, dst)) = pending.pop() {
        for entry in std::fs::read_dir(&src).map_err(read(&src))? {
            let entry = entry.map_err(read(&src))?;
            let (s, d) = (entry.path(), dst.join(entry.file_name()));
            let kind = entry.file_type().map_err(read(&s))?;
            if kind.is_dir() {
                std::fs::create_dir(&d).map_err(write(&d))?;
                pending.push((s, d));
            } else if kind.is_file() {
                std::fs::copy(&s, &d).map_err(write(&d))?;
            } else if kind.is_symlink() {
                #[cfg(unix)]
                {
                    let target = std::fs::read_link(&s).map_err(read(&s))?;
                    std::os::unix::fs::symlink(target, &d).map_err(write(&d))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_cannot_escape_the_directory() {
        let k = KeyId::new("0123456789abcdef");
        assert_eq!(link_file_name("build", &k).unwrap(), "build.01234567.link");
        for bad in ["../x", "a/b", "..", ".", "", "a\0b", "a\\b"] {
            assert!(link_file_name(bad, &k).is_err(), "{bad:?}");
        }
        assert!(link_file_name("ok", &KeyId::new("../../etc")).is_err());
    }

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        write_atomic(&p, b"one", Some(0o600)).unwrap();
        write_atomic(&p, b"two", Some(0o600)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // Nothing else left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn metadata_paths_cannot_leave_their_directory() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/Cargo.lock"), b"x").unwrap();
        assert_eq!(
            path_under(d.path(), "sub/Cargo.lock").unwrap(),
            d.path().join("sub/Cargo.lock")
        );
        assert!(path_under(d.path(), "./missing.lock").is_ok());
        for bad in ["../../etc/passwd", "/etc/passwd", "sub/../../x", ".."] {
            let e = path_under(d.path(), bad).unwrap_err();
            assert!(matches!(e, IoError::OutsideDirectory { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("Cargo.lock"), b"secret").unwrap();
            std::os::unix::fs::symlink(outside.path(), d.path().join("out")).unwrap();
            let e = path_under(d.path(), "out/Cargo.lock").unwrap_err();
            assert!(matches!(e, IoError::OutsideDirectory { .. }), "{e}");
            // A symlink that stays inside is fine.
            std::os::unix::fs::symlink("sub", d.path().join("in")).unwrap();
            assert!(path_under(d.path(), "in/Cargo.lock").is_ok());
        }
    }

    #[test]
    fn create_atomic_never_replaces_a_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        assert!(create_atomic(&p, b"one", Some(0o600)).unwrap());
        assert!(!create_atomic(&p, b"two", Some(0o600)).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        // The loser's temporary file is gone too.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_leaves_no_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir/k");
        assert!(write_atomic(&p, b"x", None).is_err());
        assert!(!p.exists());
    }

    #[test]
    fn read_errors_name_the_file() {
        let e = read_file(Path::new("/nonexistent/sbomit.layout")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/sbomit.layout"), "{e}");
    }
}
