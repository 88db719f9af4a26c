//! X.509 certificate chains for COSE `x5chain` (RFC 9360): a SCITT issuer may be registered
//! with trust anchors instead of keys; its statements then carry their certificate chain,
//! which must lead to one of those anchors and name the issuer. Pure: the caller passes the
//! time.
//!
//! ### Path validation: rustls-webpki
//! The path is built and checked by `rustls-webpki` ([`webpki::EndEntityCert::verify_for_usage`])
//! with the signature algorithms of [`sbomit_crypto::webpki_algorithms`] (aws-lc-rs; ECDSA P-256
//! and P-384 with SHA-256/384, Ed25519, RSA PKCS#1 v1.5 with SHA-256/384/512). That covers:
//! signatures over the TBS bytes as received, validity of every certificate at `now`,
//! basicConstraints (cA on every issuer, pathLenConstraint), unknown critical extensions
//! (refused), name constraints, and the extended key usage below (on the leaf, and on any
//! intermediate that restricts its EKUs). At most [`MAX_CHAIN`] certificates are accepted.
//!
//! On top of webpki, because it does not check them:
//! * **keyUsage of issuers**: a CA certificate on the path (intermediate or registered anchor)
//!   that has a keyUsage extension must assert keyCertSign (RFC 5280 §4.2.1.3). A CA without
//!   the extension is accepted, as webpki and most validators do.
//! * **The registered anchor itself** must be a CA certificate (basicConstraints cA) valid at
//!   `now`; webpki treats an anchor as a bare name and key. Anchors that are not are skipped.
//!
//! ### Extended key usage
//! The leaf must carry id-kp-codeSigning (1.3.6.1.5.5.7.3.3, [`EKU_CODE_SIGNING`]): a Signed
//! Statement is a signed software artefact claim, the purpose codeSigning names, and it is the
//! EKU Sigstore's Fulcio issues for artefact signing, so existing signing PKIs can be used.
//! Server or client TLS certificates (serverAuth, clientAuth) of the same PKI cannot sign
//! statements.
//!
//! ### Binding the leaf to the issuer
//! Without it, any certificate under a registered anchor could sign as that issuer. The
//! statement's `iss` must be named by the leaf's subjectAltName:
//! * a URI name equal to `iss`, byte for byte (any `iss`: `https://…`, `did:…`, `urn:…`); or
//! * when `iss` is exactly `https://HOST` or `https://HOST/` (no port, path, query, fragment
//!   or user info), a DNS name equal to `HOST`, ignoring ASCII case. Wildcard DNS names never
//!   match: an issuer identity is one name.
//!
//! The subject's common name is not consulted.
//!
//! ### Not evaluated
//! Certificate policies and revocation (CRLs, OCSP): anchors are per issuer, registered by the
//! store's administrator, who removes an anchor to revoke it.

use std::cell::RefCell;
use std::time::Duration;

use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage as KeyUsageExt, KeyUsages,
};
use x509_cert::Certificate;

use sbomit_crypto::PublicKey;

/// Chains longer than this are refused before any signature is checked.
pub const MAX_CHAIN: usize = 8;

/// id-kp-codeSigning (RFC 5280 §4.2.1.12, 1.3.6.1.5.5.7.3.3) as DER OID contents: the
/// extended key usage a leaf needs to sign statements (see the module doc).
pub const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    #[error("certificate {index}: not a DER X.509 certificate: {reason}")]
    Malformed { index: usize, reason: String },
    #[error("the certificate chain is empty")]
    Empty,
    #[error("the certificate chain has {0} certificates (at most {MAX_CHAIN})")]
    TooLong(usize),
    #[error("the chain does not lead to a registered trust anchor (last issuer: {0})")]
    Untrusted(String),
    /// rustls-webpki refused the path: a signature, a validity period, basicConstraints or
    /// pathLen, an extended key usage, an unknown critical extension, …
    #[error("the certificate chain does not validate: {0}")]
    Path(#[source] webpki::Error),
    #[error(
        "the leaf certificate's extended key usages {present:?} do not include id-kp-codeSigning"
    )]
    LeafEku { present: Vec<String> },
    #[error("CA certificate {subject} has a key usage without keyCertSign")]
    NotCertSigner { subject: String },
    #[error(
        "the leaf certificate does not name the issuer {iss} (its URI and DNS names: {names:?})"
    )]
    IssuerMismatch { iss: String, names: Vec<String> },
    /// The leaf's key, encoded again as SPKI for `sbomit-crypto`, could not be encoded.
    #[error("the leaf's public key: {0}")]
    LeafKeyEncoding(String),
    #[error("the leaf's public key: {0}")]
    LeafKey(#[source] sbomit_crypto::KeyError),
}

struct Cert {
    cert: Certificate,
}

impl Cert {
    fn parse(der: &[u8], index: usize) -> Result<Self, X509Error> {
        let cert = Certificate::from_der(der).map_err(|e| X509Error::Malformed {
            index,
            reason: e.to_string(),
        })?;
        Ok(Cert { cert })
    }

    fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    fn valid_at(&self, now: i64) -> bool {
        let v = &self.cert.tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        secs(v.not_before) <= now && now <= secs(v.not_after)
    }

    fn extension<'a, T: Decode<'a>>(&'a self, oid: der::asn1::ObjectIdentifier) -> Option<T> {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == oid)
            .and_then(|e| T::from_der(e.extn_value.as_bytes()).ok())
    }

    fn is_ca(&self) -> bool {
        self.extension::<BasicConstraints>(BASIC_CONSTRAINTS)
            .is_some_and(|bc| bc.ca)
    }

    /// RFC 5280 §4.2.1.3: a CA key usage, when present, must allow signing certificates.
    fn may_sign_certificates(&self) -> bool {
        let present = self
            .cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == KEY_USAGE);
        !present
            || self
                .extension::<KeyUsageExt>(KEY_USAGE)
                .is_some_and(|ku| ku.0.contains(KeyUsages::KeyCertSign))
    }
}

/// id-kp-codeSigning as an OID value, for reading the leaf's extension.
const CODE_SIGNING: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const EXTENDED_KEY_USAGE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37");
const BASIC_CONSTRAINTS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.15");

/// The leaf must assert codeSigning. webpki applies one EKU rule to every certificate of the
/// path, so it is given "codeSigning if an EKU is present" (which also holds intermediates
/// that restrict their EKUs to it) and the leaf's presence requirement is checked here.
fn leaf_has_code_signing(leaf: &Cert) -> Result<(), X509Error> {
    let present = leaf
        .extension::<ExtendedKeyUsage>(EXTENDED_KEY_USAGE)
        .map(|eku| eku.0)
        .unwrap_or_default();
    if present.contains(&CODE_SIGNING) {
        Ok(())
    } else {
        Err(X509Error::LeafEku {
            present: present.iter().map(ToString::to_string).collect(),
        })
    }
}

/// Whether the leaf's subjectAltName names `iss` (the rule of the module doc).
fn names_issuer(leaf: &EndEntityCert<'_>, iss: &str) -> Result<(), X509Error> {
    if leaf.valid_uri_names().any(|uri| uri == iss) {
        return Ok(());
    }
    let host = iss
        .strip_prefix("https://")
        .map(|rest| rest.strip_suffix('/').unwrap_or(rest))
        .filter(|host| {
            !host.is_empty()
                && !host.starts_with('*')
                && !host.contains(['/', ':', '?', '#', '@', '[', ']'])
        });
    if let Some(host) = host {
        if leaf
            .valid_dns_names()
            .any(|dns| !dns.starts_with('*') && dns.eq_ignore_ascii_case(host))
        {
            return Ok(());
        }
    }
    Err(X509Error::IssuerMismatch {
        iss: iss.to_owned(),
        names: leaf
            .valid_uri_names()
            .chain(leaf.valid_dns_names())
            .map(str::to_owned)
            .collect(),
    })
}

/// Validates `chain` (leaf first, DER) against `anchors` (DER) at `now` (Unix seconds) for the
/// issuer `iss`, and returns the leaf's public key.
pub fn validate_chain(
    chain: &[Vec<u8>],
    anchors: &[Vec<u8>],
    iss: &str,
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
    // The anchors webpki may end a path at: CA certificates, valid now, allowed to sign
    // certificates (webpki looks at none of this for an anchor).
    let anchors: Vec<TrustAnchor<'_>> = anchors
        .iter()
        .enumerate()
        .filter(|(i, der)| {
            Cert::parse(der, *i)
                .is_ok_and(|a| a.is_ca() && a.valid_at(now) && a.may_sign_certificates())
        })
        .filter_map(|(_, der)| {
            webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice()))
                .ok()
                .map(|a| a.to_owned())
        })
        .collect();
    let leaf_der = CertificateDer::from(chain[0].as_slice());
    let leaf = EndEntityCert::try_from(&leaf_der).map_err(X509Error::Path)?;
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    // keyUsage of the intermediates on a candidate path; webpki tries another path when this
    // refuses one, and reports its own error at the end, so the reason is kept here.
    let not_signer: RefCell<Option<String>> = RefCell::new(None);
    let check_key_usage = |path: &webpki::VerifiedPath<'_>| {
        for cert in path.intermediate_certificates() {
            let parsed = Cert::parse(cert.der().as_ref(), 0).map_err(|_| webpki::Error::BadDer)?;
            if !parsed.may_sign_certificates() {
                *not_signer.borrow_mut() = Some(parsed.subject());
                return Err(webpki::Error::ExtensionValueInvalid);
            }
        }
        Ok(())
    };
    let verified = leaf.verify_for_usage(
        sbomit_crypto::webpki_algorithms(),
        &anchors,
        &intermediates,
        time,
        KeyUsage::required_if_present(EKU_CODE_SIGNING),
        None,
        Some(&check_key_usage),
    );
    if let Err(e) = verified {
        if let Some(subject) = not_signer.into_inner() {
            return Err(X509Error::NotCertSigner { subject });
        }
        return Err(match e {
            webpki::Error::UnknownIssuer => X509Error::Untrusted(
                certs
                    .last()
                    .map(|c| c.cert.tbs_certificate.issuer.to_string())
                    .unwrap_or_default(),
            ),
            other => X509Error::Path(other),
        });
    }
    leaf_has_code_signing(&certs[0])?;
    names_issuer(&leaf, iss)?;
    let spki = certs[0]
        .cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        // der's error is neither Clone nor PartialEq, which this enum promises.
        .map_err(|e| X509Error::LeafKeyEncoding(e.to_string()))?;
    PublicKey::from_spki(&spki).map_err(X509Error::LeafKey)
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
    use rcgen::{
        BasicConstraints as Bc, CertificateParams, CustomExtension, DnType,
        ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    };

    /// The issuer every leaf below signs for, and the DNS name that binds it.
    const ISS: &str = "https://issuer.example";

    struct Pki {
        root: Vec<u8>,
        intermediate: Vec<u8>,
        leaf: Vec<u8>,
        leaf_key: KeyPair,
        int_key: KeyPair,
    }

    fn ca(name: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(Bc::Unconstrained);
        p
    }

    /// A statement signer's certificate: codeSigning, named `issuer.example`.
    fn leaf_params() -> CertificateParams {
        let mut p = CertificateParams::new(vec!["issuer.example".to_string()]).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "statement signer");
        p.extended_key_usages = vec![Eku::CodeSigning];
        p
    }

    fn pki_with(leaf: CertificateParams) -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let root = ca("root").self_signed(&root_key).unwrap();
        let int_key = KeyPair::generate().unwrap();
        let intermediate = ca("intermediate")
            .signed_by(&int_key, &Issuer::new(ca("root"), &root_key))
            .unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf
            .signed_by(&leaf_key, &Issuer::new(ca("intermediate"), &int_key))
            .unwrap();
        Pki {
            root: root.der().to_vec(),
            intermediate: intermediate.der().to_vec(),
            leaf: leaf.der().to_vec(),
            leaf_key,
            int_key,
        }
    }

    fn pki() -> Pki {
        pki_with(leaf_params())
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn validate(p: &Pki, leaf: &[u8]) -> Result<PublicKey, X509Error> {
        validate_chain(
            &[leaf.to_vec(), p.intermediate.clone()],
            &[p.root.clone()],
            ISS,
            now(),
        )
    }

    #[test]
    fn a_chain_to_a_registered_anchor_yields_the_leaf_key() {
        let p = pki();
        let key = validate(&p, &p.leaf).unwrap();
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
            ISS,
            now(),
        )
        .unwrap();
        // An intermediate may be the registered anchor.
        validate_chain(&[p.leaf.clone()], &[p.intermediate.clone()], ISS, now()).unwrap();
    }

    #[test]
    fn chains_that_do_not_lead_to_an_anchor_are_refused() {
        let p = pki();
        let other = pki();
        // Another PKI's root by another name: no anchor issued the intermediate.
        let stranger_key = KeyPair::generate().unwrap();
        let stranger = ca("stranger").self_signed(&stranger_key).unwrap();
        assert!(matches!(
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[stranger.der().to_vec()],
                ISS,
                now()
            ),
            Err(X509Error::Untrusted(_))
        ));
        // Another PKI's root by the same name: its key did not sign the intermediate.
        assert_eq!(
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[other.root.clone()],
                ISS,
                now()
            ),
            Err(X509Error::Path(webpki::Error::InvalidSignatureForPublicKey))
        );
        // A missing intermediate.
        assert!(matches!(
            validate_chain(&[p.leaf.clone()], &[p.root.clone()], ISS, now()),
            Err(X509Error::Untrusted(_))
        ));
        // An intermediate from another PKI with the same name does not sign this leaf.
        assert_eq!(
            validate_chain(
                &[p.leaf.clone(), other.intermediate.clone()],
                &[other.root.clone()],
                ISS,
                now()
            ),
            Err(X509Error::Path(webpki::Error::InvalidSignatureForPublicKey))
        );
        // A CA certificate is not a statement signer.
        assert_eq!(
            validate_chain(
                &[p.intermediate.clone(), p.leaf.clone()],
                &[p.root.clone()],
                ISS,
                now()
            ),
            Err(X509Error::Path(webpki::Error::CaUsedAsEndEntity))
        );
        // Outside the validity period (rcgen's default starts in 1975).
        assert!(matches!(
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[p.root.clone()],
                ISS,
                0
            ),
            Err(X509Error::Path(webpki::Error::CertNotValidYet { .. }))
        ));
        let mut tampered = p.leaf.clone();
        let n = tampered.len();
        tampered[n - 3] ^= 1;
        assert!(validate_chain(
            &[tampered, p.intermediate.clone()],
            &[p.root.clone()],
            ISS,
            now()
        )
        .is_err());
        assert!(matches!(
            validate_chain(&[], &[p.root.clone()], ISS, now()),
            Err(X509Error::Empty)
        ));
        assert!(matches!(
            validate_chain(&[b"junk".to_vec()], &[p.root], ISS, now()),
            Err(X509Error::Malformed { .. })
        ));
    }

    #[test]
    fn a_leaf_cannot_sign_another_certificate() {
        let p = pki();
        let grandchild_key = KeyPair::generate().unwrap();
        let grandchild = leaf_params()
            .signed_by(&grandchild_key, &Issuer::new(leaf_params(), &p.leaf_key))
            .unwrap();
        assert_eq!(
            validate_chain(
                &[
                    grandchild.der().to_vec(),
                    p.leaf.clone(),
                    p.intermediate.clone()
                ],
                &[p.root.clone()],
                ISS,
                now()
            ),
            Err(X509Error::Path(webpki::Error::EndEntityUsedAsCa))
        );
    }

    #[test]
    fn path_len_zero_forbids_a_further_ca_below() {
        let root_key = KeyPair::generate().unwrap();
        let root = ca("root").self_signed(&root_key).unwrap();
        let constrained = || {
            let mut p = ca("constrained");
            p.is_ca = IsCa::Ca(Bc::Constrained(0));
            p
        };
        let k1 = KeyPair::generate().unwrap();
        let int1 = constrained()
            .signed_by(&k1, &Issuer::new(ca("root"), &root_key))
            .unwrap();
        let k2 = KeyPair::generate().unwrap();
        let int2 = ca("below")
            .signed_by(&k2, &Issuer::new(constrained(), &k1))
            .unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params()
            .signed_by(&leaf_key, &Issuer::new(ca("below"), &k2))
            .unwrap();
        assert_eq!(
            validate_chain(
                &[
                    leaf.der().to_vec(),
                    int2.der().to_vec(),
                    int1.der().to_vec()
                ],
                &[root.der().to_vec()],
                ISS,
                now()
            ),
            Err(X509Error::Path(webpki::Error::PathLenConstraintViolated))
        );
        // The same constrained CA may issue the leaf directly.
        let direct = leaf_params()
            .signed_by(&leaf_key, &Issuer::new(constrained(), &k1))
            .unwrap();
        validate_chain(
            &[direct.der().to_vec(), int1.der().to_vec()],
            &[root.der().to_vec()],
            ISS,
            now(),
        )
        .unwrap();
    }

    #[test]
    fn a_ca_whose_key_usage_lacks_key_cert_sign_cannot_issue() {
        let root_key = KeyPair::generate().unwrap();
        let root = ca("root").self_signed(&root_key).unwrap();
        let signing_only = || {
            let mut p = ca("signing only");
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p
        };
        let int_key = KeyPair::generate().unwrap();
        let int = signing_only()
            .signed_by(&int_key, &Issuer::new(ca("root"), &root_key))
            .unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params()
            .signed_by(&leaf_key, &Issuer::new(signing_only(), &int_key))
            .unwrap();
        assert_eq!(
            validate_chain(
                &[leaf.der().to_vec(), int.der().to_vec()],
                &[root.der().to_vec()],
                ISS,
                now()
            ),
            Err(X509Error::NotCertSigner {
                subject: "CN=signing only".into()
            })
        );
        // Registered as the anchor itself, such a CA is not used either.
        assert!(matches!(
            validate_chain(&[leaf.der().to_vec()], &[int.der().to_vec()], ISS, now()),
            Err(X509Error::Untrusted(_))
        ));
        // With keyCertSign asserted the same chain validates.
        let with_cert_sign = || {
            let mut p = ca("cert signer");
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
            p
        };
        let int = with_cert_sign()
            .signed_by(&int_key, &Issuer::new(ca("root"), &root_key))
            .unwrap();
        let leaf = leaf_params()
            .signed_by(&leaf_key, &Issuer::new(with_cert_sign(), &int_key))
            .unwrap();
        validate_chain(
            &[leaf.der().to_vec(), int.der().to_vec()],
            &[root.der().to_vec()],
            ISS,
            now(),
        )
        .unwrap();
    }

    #[test]
    fn a_leaf_without_the_code_signing_eku_cannot_sign_statements() {
        // Other purposes only: webpki refuses the leaf.
        let mut params = leaf_params();
        params.extended_key_usages = vec![Eku::ServerAuth, Eku::ClientAuth];
        let p = pki_with(params);
        assert!(matches!(
            validate(&p, &p.leaf),
            Err(X509Error::Path(webpki::Error::RequiredEkuNotFoundContext(
                _
            )))
        ));
        // No EKU extension at all: webpki would accept it on any certificate; we do not.
        let mut params = leaf_params();
        params.extended_key_usages = vec![];
        let p = pki_with(params);
        assert_eq!(
            validate(&p, &p.leaf),
            Err(X509Error::LeafEku { present: vec![] })
        );
        // An intermediate that restricts its EKUs must allow codeSigning too (webpki).
        let root_key = KeyPair::generate().unwrap();
        let root = ca("root").self_signed(&root_key).unwrap();
        let tls_only = || {
            let mut p = ca("tls only");
            p.extended_key_usages = vec![Eku::ServerAuth];
            p
        };
        let int_key = KeyPair::generate().unwrap();
        let int = tls_only()
            .signed_by(&int_key, &Issuer::new(ca("root"), &root_key))
            .unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params()
            .signed_by(&leaf_key, &Issuer::new(tls_only(), &int_key))
            .unwrap();
        assert!(matches!(
            validate_chain(
                &[leaf.der().to_vec(), int.der().to_vec()],
                &[root.der().to_vec()],
                ISS,
                now()
            ),
            Err(X509Error::Path(webpki::Error::RequiredEkuNotFoundContext(
                _
            )))
        ));
    }

    #[test]
    fn a_leaf_with_an_unknown_critical_extension_is_refused() {
        let mut params = leaf_params();
        let mut ext =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
        ext.set_criticality(true);
        params.custom_extensions = vec![ext];
        let p = pki_with(params);
        assert_eq!(
            validate(&p, &p.leaf),
            Err(X509Error::Path(webpki::Error::UnsupportedCriticalExtension))
        );
        // The same extension, not critical, is ignored.
        let mut params = leaf_params();
        params.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 1],
            vec![0x05, 0x00],
        )];
        let p = pki_with(params);
        validate(&p, &p.leaf).unwrap();
    }

    #[test]
    fn a_leaf_that_does_not_name_the_issuer_cannot_sign_for_it() {
        let p = pki();
        // Any certificate under the anchor is not enough: it must name the issuer.
        assert_eq!(
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[p.root.clone()],
                "https://other.example",
                now()
            ),
            Err(X509Error::IssuerMismatch {
                iss: "https://other.example".into(),
                names: vec!["issuer.example".into()],
            })
        );
        // A DNS name binds only an https origin: no path, port, other scheme or bare name.
        for iss in [
            "https://issuer.example/team",
            "https://issuer.example:8443",
            "http://issuer.example",
            "issuer.example",
        ] {
            assert!(
                matches!(
                    validate_chain(
                        &[p.leaf.clone(), p.intermediate.clone()],
                        &[p.root.clone()],
                        iss,
                        now()
                    ),
                    Err(X509Error::IssuerMismatch { .. })
                ),
                "{iss}"
            );
        }
        for iss in ["https://issuer.example/", "https://ISSUER.example"] {
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[p.root.clone()],
                iss,
                now(),
            )
            .unwrap();
        }
        // A wildcard DNS name binds no issuer.
        let mut params = leaf_params();
        params.subject_alt_names = vec![SanType::DnsName("*.example".try_into().unwrap())];
        let wild = pki_with(params);
        assert!(matches!(
            validate(&wild, &wild.leaf),
            Err(X509Error::IssuerMismatch { .. })
        ));
        // A URI name binds exactly that issuer, whatever its form.
        let mut params = leaf_params();
        params.subject_alt_names = vec![SanType::URI("did:web:issuer.example".try_into().unwrap())];
        let did = pki_with(params);
        validate_chain(
            &[did.leaf.clone(), did.intermediate.clone()],
            &[did.root.clone()],
            "did:web:issuer.example",
            now(),
        )
        .unwrap();
        assert!(matches!(
            validate(&did, &did.leaf),
            Err(X509Error::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn a_tampered_tbs_byte_fails_the_signature() {
        let p = pki();
        // One byte of the subject's common name, inside the signed TBSCertificate; the DER
        // stays well formed, so only the signature can catch it.
        let at = p
            .leaf
            .windows(16)
            .position(|w| w == b"statement signer")
            .unwrap();
        let mut tampered = p.leaf.clone();
        tampered[at] = b'S';
        assert_eq!(
            validate(&p, &tampered),
            Err(X509Error::Path(webpki::Error::InvalidSignatureForPublicKey))
        );
        // The same for an intermediate's TBS.
        let at = p
            .intermediate
            .windows(12)
            .position(|w| w == b"intermediate")
            .unwrap();
        let mut intermediate = p.intermediate.clone();
        intermediate[at + 11] = b'E';
        let _ = &p.int_key;
        assert!(validate_chain(
            &[p.leaf.clone(), intermediate],
            &[p.root.clone()],
            ISS,
            now()
        )
        .is_err());
    }

    #[test]
    fn an_expired_leaf_is_refused_at_the_time_passed_in() {
        let mut params = leaf_params();
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        let p = pki_with(params);
        // 2024-01-01: after the leaf's notAfter.
        assert!(matches!(
            validate_chain(
                &[p.leaf.clone(), p.intermediate.clone()],
                &[p.root.clone()],
                ISS,
                1_704_067_200
            ),
            Err(X509Error::Path(webpki::Error::CertExpired { .. }))
        ));
        // 2019-06-01: inside it. The crate has no clock; the caller's time decides.
        validate_chain(
            &[p.leaf.clone(), p.intermediate.clone()],
            &[p.root.clone()],
            ISS,
            1_559_347_200,
        )
        .unwrap();
    }

    #[test]
    fn a_leaf_outside_its_cas_name_constraints_is_refused() {
        // The intermediate may issue only under the DNS subtree `permitted`; the leaf names
        // issuer.example. Outside the subtree: refused; inside it: the same chain passes.
        let root_key = KeyPair::generate().unwrap();
        let root = ca("root").self_signed(&root_key).unwrap();
        let constrained = |permitted: &str| {
            let mut p = ca("intermediate");
            p.name_constraints = Some(rcgen::NameConstraints {
                permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName(permitted.into())],
                excluded_subtrees: Vec::new(),
            });
            p
        };
        for (permitted, allowed) in [("example.org", false), ("issuer.example", true)] {
            let int_key = KeyPair::generate().unwrap();
            let int = constrained(permitted)
                .signed_by(&int_key, &Issuer::new(ca("root"), &root_key))
                .unwrap();
            let leaf_key = KeyPair::generate().unwrap();
            let leaf = leaf_params()
                .signed_by(&leaf_key, &Issuer::new(constrained(permitted), &int_key))
                .unwrap();
            let r = validate_chain(
                &[leaf.der().to_vec(), int.der().to_vec()],
                &[root.der().to_vec()],
                ISS,
                now(),
            );
            match (allowed, r) {
                (true, Ok(_)) => {}
                (false, Err(X509Error::Path(webpki::Error::NameConstraintViolation))) => {}
                (allowed, r) => panic!("permitted {permitted}: allowed {allowed}, got {r:?}"),
            }
        }
    }

    #[test]
    fn a_valid_code_signing_chain_for_the_issuer_passes() {
        let p = pki();
        assert!(validate(&p, &p.leaf).is_ok());
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
