//! X.509 certificate chains for COSE `x5chain` (RFC 9360): a SCITT issuer may be registered
//! with trust anchors instead of keys; its statements then carry their certificate chain,
//! which must lead to one of those anchors. Pure: the caller passes the time.
//!
//! What is checked: every certificate parses; each is within its validity period at `now`;
//! each is signed by the next (the last by an anchor, or is an anchor itself, byte for
//! byte); every signer is a CA (basicConstraints cA); path length is bounded. Signature
//! algorithms: ECDSA with SHA-256/384 (P-256, P-384), Ed25519, RSA PKCS#1 v1.5 with
//! SHA-256/384/512. Name constraints, policies and revocation are not evaluated: anchors are
//! per issuer, registered by the store's administrator.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use sbomit_crypto::PublicKey;

/// Chains longer than this are refused before any signature is checked.
pub const MAX_CHAIN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    #[error("certificate {index}: not a DER X.509 certificate: {reason}")]
    Malformed { index: usize, reason: String },
    #[error("the certificate chain is empty")]
    Empty,
    #[error("the certificate chain has {0} certificates (at most {MAX_CHAIN})")]
    TooLong(usize),
    #[error("certificate {index} ({subject}) is not valid at this time")]
    NotValidNow { index: usize, subject: String },
    #[error("certificate {index} ({subject}) is not signed by its issuer's key")]
    BadSignature { index: usize, subject: String },
    #[error("certificate {index} ({subject}) signs others but is not a CA")]
    NotCa { index: usize, subject: String },
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("the chain does not lead to a registered trust anchor (last issuer: {0})")]
    Untrusted(String),
    #[error("the leaf's public key: {0}")]
    LeafKey(String),
}

struct Cert {
    cert: Certificate,
    der: Vec<u8>,
}

impl Cert {
    fn parse(der: &[u8], index: usize) -> Result<Self, X509Error> {
        let cert = Certificate::from_der(der).map_err(|e| X509Error::Malformed {
            index,
            reason: e.to_string(),
        })?;
        Ok(Cert {
            cert,
            der: der.to_vec(),
        })
    }

    fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    fn valid_at(&self, now: i64) -> bool {
        let v = &self.cert.tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        secs(v.not_before) <= now && now <= secs(v.not_after)
    }

    fn is_ca(&self) -> bool {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == BASIC_CONSTRAINTS)
            .any(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).is_ok_and(|bc| bc.ca))
    }

    /// Whether `self` is signed by `issuer`'s key.
    fn signed_by(&self, issuer: &Cert) -> Result<bool, X509Error> {
        if self.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
            return Ok(false);
        }
        let spki = &issuer.cert.tbs_certificate.subject_public_key_info;
        let key = spki.subject_public_key.raw_bytes();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
        let alg = algorithm(&self.cert.signature_algorithm.oid, curve)?;
        let tbs = self
            .cert
            .tbs_certificate
            .to_der()
            .map_err(|e| X509Error::Malformed {
                index: 0,
                reason: e.to_string(),
            })?;
        let Some(sig) = self.cert.signature.as_bytes() else {
            return Ok(false);
        };
        Ok(UnparsedPublicKey::new(alg, key).verify(&tbs, sig).is_ok())
    }
}

const BASIC_CONSTRAINTS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19");

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ED25519: &str = "1.3.101.112";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";

fn algorithm(
    sig: &der::asn1::ObjectIdentifier,
    curve: Option<der::asn1::ObjectIdentifier>,
) -> Result<&'static dyn VerificationAlgorithm, X509Error> {
    let curve = curve.map(|c| c.to_string());
    Ok(match (sig.to_string().as_str(), curve.as_deref()) {
        (ECDSA_SHA256, Some(P256)) => &signature::ECDSA_P256_SHA256_ASN1,
        (ECDSA_SHA256, Some(P384)) => &signature::ECDSA_P384_SHA256_ASN1,
        (ECDSA_SHA384, Some(P256)) => &signature::ECDSA_P256_SHA384_ASN1,
        (ECDSA_SHA384, Some(P384)) => &signature::ECDSA_P384_SHA384_ASN1,
        (ED25519, _) => &signature::ED25519,
        (RSA_SHA256, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (RSA_SHA384, _) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (RSA_SHA512, _) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (other, curve) => {
            return Err(X509Error::UnsupportedAlgorithm(match curve {
                Some(c) => format!("{other} on curve {c}"),
                None => other.to_owned(),
            }))
        }
    })
}

/// Validates `chain` (leaf first, DER) against `anchors` (DER) at `now` (Unix seconds) and
/// returns the leaf's public key.
pub fn validate_chain(
    chain: &[Vec<u8>],
    anchors: &[Vec<u8>],
    now: i64,
) -> Result<PublicKey, X509Error> {
    if chain.is_empty() {
        return Err(X509Error::Empty);
    }
    if chain.len() > MAX_CHAIN {
        return Err(X509Error::TooLong(chain.len()));
    }
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| Cert::parse(der, i))
        .collect::<Result<Vec<_>, _>>()?;
    for (index, c) in certs.iter().enumerate() {
        if !c.valid_at(now) {
            return Err(X509Error::NotValidNow {
                index,
                subject: c.subject(),
            });
        }
    }
    for (index, pair) in certs.windows(2).enumerate() {
        let (child, parent) = (&pair[0], &pair[1]);
        if !parent.is_ca() {
            return Err(X509Error::NotCa {
                index: index + 1,
                subject: parent.subject(),
            });
        }
        if !child.signed_by(parent)? {
            return Err(X509Error::BadSignature {
                index,
                subject: child.subject(),
            });
        }
    }
    let last = certs.last().ok_or(X509Error::Empty)?;
    let anchored = anchors.iter().enumerate().any(|(i, der)| {
        if der == &last.der {
            return true;
        }
        Cert::parse(der, i).is_ok_and(|anchor| {
            anchor.is_ca() && anchor.valid_at(now) && last.signed_by(&anchor).unwrap_or(false)
        })
    });
    if !anchored {
        return Err(X509Error::Untrusted(
            last.cert.tbs_certificate.issuer.to_string(),
        ));
    }
    let spki = certs[0]
        .cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| X509Error::LeafKey(e.to_string()))?;
    PublicKey::from_spki(&spki).map_err(|e| X509Error::LeafKey(e.to_string()))
}

/// A certificate from PEM (`CERTIFICATE` block) or DER.
pub fn certificate_der(bytes: &[u8]) -> Result<Vec<u8>, X509Error> {
    let der = if bytes.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(bytes).map_err(|e| X509Error::Malformed {
            index: 0,
            reason: e.to_string(),
        })?;
        let (label, der) =
            der::pem::decode_vec(text.as_bytes()).map_err(|e| X509Error::Malformed {
                index: 0,
                reason: e.to_string(),
            })?;
        if label != "CERTIFICATE" {
            return Err(X509Error::Malformed {
                index: 0,
                reason: format!("a PEM {label} block, not CERTIFICATE"),
            });
        }
        der
    } else {
        bytes.to_vec()
    };
    Cert::parse(&der, 0)?;
    Ok(der)
}

#[cfg(test)]
// Chains written as literals read better than `slice::from_ref` in these tests.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints as Bc, CertificateParams, IsCa, KeyPair};

    struct Pki {
        root: Vec<u8>,
        intermediate: Vec<u8>,
        leaf: Vec<u8>,
        leaf_key: KeyPair,
    }

    fn ca(name: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.is_ca = IsCa::Ca(Bc::Unconstrained);
        p
    }

    fn pki() -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let root = ca("root").self_signed(&root_key).unwrap();
        let int_key = KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::new(ca("root"), &root_key);
        let intermediate = ca("intermediate").signed_by(&int_key, &issuer).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let mut lp = CertificateParams::new(vec!["issuer.example".to_string()]).unwrap();
        lp.distinguished_name
            .push(rcgen::DnType::CommonName, "issuer.example");
        let int_issuer = rcgen::Issuer::new(ca("intermediate"), &int_key);
        let leaf = lp.signed_by(&leaf_key, &int_issuer).unwrap();
        Pki {
            root: root.der().to_vec(),
            intermediate: intermediate.der().to_vec(),
            leaf: leaf.der().to_vec(),
            leaf_key,
        }
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn a_chain_to_a_registered_anchor_yields_the_leaf_key() {
        let p = pki();
        let key = validate_chain(
            &[p.leaf.clone(), p.intermediate.clone()],
            &[p.root.clone()],
            now(),
        )
        .unwrap();
        assert_eq!(
            key.spki_der(),
            PublicKey::from_pem(p.leaf_key.public_key_pem().as_bytes(), None)
                .unwrap()
                .spki_der()
        );
        // The anchor may also end the chain itself.
        validate_chain(
            &[p.leaf.clone(), p.intermediate.clone(), p.root.clone()],
            &[p.root.clone()],
            now(),
        )
        .unwrap();
        // An intermediate may be the registered anchor.
        validate_chain(&[p.leaf.clone()], &[p.intermediate.clone()], now()).unwrap();
    }

    #[test]
    fn chains_that_do_not_lead_to_an_anchor_are_refused() {
        let p = pki();
        let other = pki();
        assert!(matches!(
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[other.root.clone()],
                now()
            ),
            Err(X509Error::Untrusted(_))
        ));
        // A missing intermediate.
        assert!(matches!(
            validate_chain(&[p.leaf.clone()], &[p.root.clone()], now()),
            Err(X509Error::Untrusted(_))
        ));
        // An intermediate from another PKI with the same name does not sign this leaf.
        assert!(matches!(
            validate_chain(
                &[p.leaf.clone(), other.intermediate.clone()],
                &[other.root.clone()],
                now()
            ),
            Err(X509Error::BadSignature { index: 0, .. })
        ));
        // A leaf cannot sign another certificate.
        assert!(matches!(
            validate_chain(
                &[p.intermediate.clone(), p.leaf.clone()],
                &[p.root.clone()],
                now()
            ),
            Err(X509Error::NotCa { .. })
        ));
        // Outside the validity period (rcgen's default ends in 4096).
        assert!(matches!(
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[p.root.clone()],
                0
            ),
            Err(X509Error::NotValidNow { .. })
        ));
        let mut tampered = p.leaf.clone();
        let n = tampered.len();
        tampered[n - 3] ^= 1;
        assert!(validate_chain(
            &[tampered, p.intermediate.clone()],
            &[p.root.clone()],
            now()
        )
        .is_err());
        assert!(matches!(
            validate_chain(&[], &[p.root.clone()], now()),
            Err(X509Error::Empty)
        ));
        assert!(matches!(
            validate_chain(&[b"junk".to_vec()], &[p.root], now()),
            Err(X509Error::Malformed { .. })
        ));
    }

    #[test]
    fn certificates_read_from_pem_and_der() {
        let p = pki();
        let pem =
            der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &p.root).unwrap();
        assert_eq!(certificate_der(pem.as_bytes()).unwrap(), p.root);
        assert_eq!(certificate_der(&p.root).unwrap(), p.root);
        assert!(
            certificate_der(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
    }
}
