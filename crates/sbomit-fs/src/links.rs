//! The filesystem [`LinkSource`]: `<step>.<keyid8>.link` files in a directory, and a
//! sublayout's links in `<step>.<keyid8>/` beside them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use sbomit_crypto::KeyId;
use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::verify::{LinkSource, SignedLink, SourceError};

use crate::io::{link_file_name, read_file, sublayout_dir_name};

/// Why a link file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkFileError {
    #[error("{path}: {source}")]
    Envelope {
        path: PathBuf,
        source: sbomit_intoto::envelope::EnvelopeError,
    },
}

type Loaded = Result<Option<SignedLink>, SourceError>;

/// Links in one directory.
pub struct DirLinkSource {
    dir: PathBuf,
    /// Links read ahead of time, in parallel, by [`DirLinkSource::prefetch`].
    cache: Mutex<HashMap<String, Loaded>>,
}

impl DirLinkSource {
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_owned(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Reads and parses the links of the `wanted` (step, functionary) pairs on all cores, so
    /// that verification, which asks for them one at a time, finds them ready: parsing large
    /// links is most of a verification's time. Each link's compact model is built here too.
    pub fn prefetch(&self, wanted: &[(String, KeyId)]) {
        let loaded: Vec<(String, Loaded)> = wanted
            .par_iter()
            .filter_map(|(step, keyid)| {
                let name = link_file_name(step, keyid).ok()?;
                let result = self.read(&name);
                if let Ok(Some(link)) = &result {
                    // Warm the cached model, so verification finds it built.
                    let _ = link.compact_link();
                }
                Some((name, result))
            })
            .collect();
        if let Ok(mut cache) = self.cache.lock() {
            cache.extend(loaded);
        }
    }

    fn read(&self, name: &str) -> Loaded {
        let path = self.dir.join(name);
        // Opened straight away, without a stat first (a 500-step chain is 500 system calls
        // fewer). A missing link, or anything but a file, is not an error here: the
        // threshold check decides.
        let bytes = match read_file(&path) {
            Ok(bytes) => bytes,
            Err(_) if !path.is_file() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let envelope = Envelope::parse_owned(bytes)
            .map_err(|source| LinkFileError::Envelope { path, source })?;
        Ok(Some(SignedLink::new(envelope)))
    }
}

impl LinkSource for DirLinkSource {
    fn load(&self, step: &str, keyid: &KeyId) -> Result<Option<SignedLink>, SourceError> {
        let name = link_file_name(step, keyid)?;
        let cached = self.cache.lock().ok().and_then(|mut c| c.remove(&name));
        match cached {
            Some(result) => result,
            None => self.read(&name),
        }
    }

    fn sublayout_source(
        &self,
        step: &str,
        keyid: &KeyId,
    ) -> Result<Box<dyn LinkSource + '_>, SourceError> {
        Ok(Box::new(DirLinkSource::new(
            self.dir.join(sublayout_dir_name(step, keyid)?),
        )))
    }
}

/// Why a step may have no link in a directory, from what the directory holds: verification
/// only says "found 0", while the link the user meant is often right there.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingLinkHint {
    /// The link directory does not exist (or is not a directory).
    NoDirectory { dir: PathBuf },
    /// A link for the step, signed by a key that is not one of its functionaries.
    OtherKey { file: String, keyid8: String },
    /// A link whose step name differs from the step's only in case.
    CaseDiffers { file: String, step_in_file: String },
}

impl std::fmt::Display for MissingLinkHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MissingLinkHint::NoDirectory { dir } => {
                write!(f, "the link directory {} does not exist", dir.display())
            }
            MissingLinkHint::OtherKey { file, keyid8 } => write!(
                f,
                "{file} is there, signed by key {keyid8}…, which is not a functionary of this step"
            ),
            MissingLinkHint::CaseDiffers { file, step_in_file } => write!(
                f,
                "{file} is there, for step {step_in_file:?}: step names are case-sensitive"
            ),
        }
    }
}

/// At most this many hints per step: a directory of links for other keys says enough with a
/// few.
const MAX_HINTS: usize = 5;

/// What in `dir` could have been meant as `step`'s link, given the step's functionaries:
/// links by other keys, links whose step name differs only in case, or no directory at all.
pub fn missing_link_hints(dir: &Path, step: &str, functionaries: &[KeyId]) -> Vec<MissingLinkHint> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) if !dir.is_dir() => {
            return vec![MissingLinkHint::NoDirectory {
                dir: dir.to_owned(),
            }]
        }
        Err(_) => return Vec::new(),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut hints = Vec::new();
    for file in names {
        let Some((name, keyid8)) = file
            .strip_suffix(".link")
            .and_then(|s| s.rsplit_once('.'))
            .filter(|(_, k)| k.len() == 8 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            continue;
        };
        let hint = if name == step {
            if functionaries.iter().any(|k| k.short() == keyid8) {
                continue;
            }
            MissingLinkHint::OtherKey {
                keyid8: keyid8.to_owned(),
                file,
            }
        } else if name.eq_ignore_ascii_case(step) {
            MissingLinkHint::CaseDiffers {
                step_in_file: name.to_owned(),
                file,
            }
        } else {
            continue;
        };
        hints.push(hint);
        if hints.len() == MAX_HINTS {
            break;
        }
    }
    hints
}
