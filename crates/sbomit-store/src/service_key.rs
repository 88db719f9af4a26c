//! The service's signing key: Ed25519 (checkpoints are C2SP signed notes, which are Ed25519),
//! also signing receipts (COSE EdDSA). The store takes the key itself; where it is kept (the
//! `serve` command's key file, mode 0600) is the binary's business.

use std::fmt;

use sbomit_crypto::{KeyError, KeyKind, PrivateKey};
use sbomit_intoto::digest::Sha256;
use sbomit_scitt::cose::{CoseError, CoseKey};

/// Why a service key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceKeyError {
    #[error("the service key must be Ed25519 (checkpoints are C2SP signed notes)")]
    NotEd25519,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("publishing it as a COSE key: {0}")]
    Cose(#[from] CoseError),
}

/// The service key and what is published of it.
pub struct ServiceKey {
    pub private: PrivateKey,
    /// SHA-256 of the SubjectPublicKeyInfo: the COSE `kid` of receipts and the path segment
    /// of `/.well-known/scitt-keys/{kid}` (hex).
    pub kid: Vec<u8>,
    pub cose_key: CoseKey,
}

impl fmt::Debug for ServiceKey {
    // Never the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceKey")
            .field("kid", &hex::encode(&self.kid))
            .finish_non_exhaustive()
    }
}

impl ServiceKey {
    pub fn from_private(private: PrivateKey) -> Result<Self, ServiceKeyError> {
        if private.public_key().raw_public_key().map(<[u8]>::len) != Some(32) {
            return Err(ServiceKeyError::NotEd25519);
        }
        let kid = Sha256::digest(private.public_key().spki_der())
            .as_bytes()
            .to_vec();
        let cose_key = CoseKey::new(private.public_key().clone(), Some(kid.clone()))?;
        Ok(ServiceKey {
            private,
            kid,
            cose_key,
        })
    }

    /// A new Ed25519 service key.
    pub fn generate() -> Result<Self, ServiceKeyError> {
        Self::from_private(PrivateKey::generate(KeyKind::Ed25519)?)
    }

    /// The key from its unencrypted PKCS#8 PEM (what [`ServiceKey::to_pem`] writes).
    pub fn from_pem(pem: &[u8]) -> Result<Self, ServiceKeyError> {
        Self::from_private(PrivateKey::from_pem(pem, None)?)
    }

    /// The private key as unencrypted PKCS#8 PEM, for the binary to keep (mode 0600).
    pub fn to_pem(&self) -> Result<String, ServiceKeyError> {
        Ok(self.private.to_pkcs8_pem(None)?)
    }
}
