//! The service's signing key: Ed25519 (checkpoints are C2SP signed notes, which are Ed25519),
//! also signing receipts (COSE EdDSA). Created on first start as PKCS#8 PEM, mode 0600,
//! written atomically so a crash never leaves half a key.

use std::path::Path;

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::digest::Sha256;
use sbomit_scitt::cose::CoseKey;

use crate::StoreError;

/// The service key and what is published of it.
pub struct ServiceKey {
    pub private: PrivateKey,
    /// SHA-256 of the SubjectPublicKeyInfo: the COSE `kid` of receipts and the path segment
    /// of `/.well-known/scitt-keys/{kid}` (hex).
    pub kid: Vec<u8>,
    pub cose_key: CoseKey,
}

impl ServiceKey {
    pub fn from_private(private: PrivateKey) -> Result<Self, StoreError> {
        if private.public_key().raw_public_key().map(<[u8]>::len) != Some(32) {
            return Err(StoreError::ServiceKey {
                path: String::new(),
                reason: "the service key must be Ed25519 (checkpoints are C2SP signed notes)"
                    .into(),
            });
        }
        let kid = Sha256::digest(private.public_key().spki_der())
            .as_bytes()
            .to_vec();
        let cose_key =
            CoseKey::new(private.public_key().clone(), Some(kid.clone())).map_err(|e| {
                StoreError::ServiceKey {
                    path: String::new(),
                    reason: e.to_string(),
                }
            })?;
        Ok(ServiceKey {
            private,
            kid,
            cose_key,
        })
    }

    /// Loads the key at `path`, creating it (mode 0600) when absent. Returns whether it was
    /// created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), StoreError> {
        let err = |reason: String| StoreError::ServiceKey {
            path: path.display().to_string(),
            reason,
        };
        if path.exists() {
            let pem = sbomit_fs::io::read_file(path).map_err(|e| err(e.to_string()))?;
            let key = PrivateKey::from_pem(&pem, None).map_err(|e| err(e.to_string()))?;
            return Ok((
                Self::from_private(key).map_err(|e| err(e.to_string()))?,
                false,
            ));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        let key = PrivateKey::generate(KeyKind::Ed25519).map_err(|e| err(e.to_string()))?;
        let pem = key.to_pkcs8_pem(None).map_err(|e| err(e.to_string()))?;
        sbomit_fs::io::write_atomic(path, pem.as_bytes(), Some(0o600))
            .map_err(|e| err(e.to_string()))?;
        Ok((Self::from_private(key)?, true))
    }
}
