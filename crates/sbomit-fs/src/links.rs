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
