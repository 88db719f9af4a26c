//! The filesystem [`LinkSource`]: `<step>.<keyid8>.link` files in a directory, and a
//! sublayout's links in `<step>.<keyid8>/` beside them.

use std::path::{Path, PathBuf};

use sbomit_core::crypto::KeyId;
use sbomit_core::envelope::Envelope;
use sbomit_core::verify::{LinkSource, SourceError};

use crate::io::{link_file_name, read_file, sublayout_dir_name};

/// Why a link file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkFileError {
    #[error("{path}: {source}")]
    Envelope {
        path: PathBuf,
        source: sbomit_core::envelope::EnvelopeError,
    },
}

/// Links in one directory.
pub struct DirLinkSource {
    dir: PathBuf,
}

impl DirLinkSource {
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_owned(),
        }
    }
}

impl LinkSource for DirLinkSource {
    fn load(&self, step: &str, keyid: &KeyId) -> Result<Option<Envelope>, SourceError> {
        let path = self.dir.join(link_file_name(step, keyid)?);
        // A missing link is not an error here: the threshold check decides.
        if !path.is_file() {
            return Ok(None);
        }
        let bytes = read_file(&path)?;
        let envelope =
            Envelope::parse(&bytes).map_err(|source| LinkFileError::Envelope { path, source })?;
        Ok(Some(envelope))
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
