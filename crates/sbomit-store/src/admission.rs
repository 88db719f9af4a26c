//! Certifying a submission before it enters the log: parse, identify the issuer, check the
//! signature and the registration policy. Pure: the caller passes the registry snapshot.

use serde_json::{json, Value};

use sbomit_crypto::PublicKey;
use sbomit_intoto::digest::Sha256;
use sbomit_intoto::envelope::{Envelope, EnvelopeKind, INTOTO_PAYLOAD_TYPE};
use sbomit_intoto::statement::Statement;
use sbomit_scitt::cose::{ContentType, SignedStatement};
use sbomit_tlog::merkle::{self, Hash};

use crate::policy::{RegistrationPolicy, Role};

/// How a statement is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A COSE_Sign1 SCITT Signed Statement (`application/cose`).
    Cose,
    /// A DSSE envelope carrying an in-toto Statement.
    Dsse,
}

impl EntryKind {
    pub fn code(self) -> i64 {
        match self {
            EntryKind::Cose => 1,
            EntryKind::Dsse => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(EntryKind::Cose),
            2 => Some(EntryKind::Dsse),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Cose => "cose",
            EntryKind::Dsse => "dsse",
        }
    }
}

/// A registered issuer key.
#[derive(Clone, Debug)]
pub struct IssuerKey {
    pub iss: String,
    pub role: Role,
    pub key: PublicKey,
}

/// A registered X.509 trust anchor: statements of `iss` carrying an `x5chain` that leads to
/// it, whose leaf has the EKU codeSigning and names `iss` in its subjectAltName
/// ([`sbomit_scitt::x509`]), are signed by `iss`.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    pub iss: String,
    pub role: Role,
    /// The anchor certificate, DER.
    pub der: Vec<u8>,
}

/// What admission knows about identities and policy, as of one moment.
#[derive(Clone, Debug)]
pub struct Registry {
    pub issuers: Vec<IssuerKey>,
    pub anchors: Vec<TrustAnchor>,
    pub policy_version: i64,
    pub policy: RegistrationPolicy,
    /// Unix seconds: certificate validity is judged at this time.
    pub now: i64,
}

impl Registry {
    fn roles_of(&self, iss: &str) -> Vec<Role> {
        let mut roles: Vec<Role> = self
            .issuers
            .iter()
            .filter(|k| k.iss == iss)
            .map(|k| k.role)
            .chain(self.anchors.iter().filter(|a| a.iss == iss).map(|a| a.role))
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

/// Why a submission was refused. The log is unchanged by a refusal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("malformed statement: {0}")]
    Malformed(String),
    #[error("the statement is not signed")]
    Unsigned,
    #[error("unknown issuer {0:?}")]
    UnknownIssuer(String),
    #[error("the signature does not verify with any key registered for {0:?}")]
    BadSignature(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("the statement is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
}

/// A certified submission, ready to be sequenced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    pub kind: EntryKind,
    /// The RFC 9162 leaf hash (what the log commits to; entries with the same leaf are one).
    pub leaf_hash: Hash,
    /// The statement as received, and its SHA-256 (the blob's address).
    pub statement: Vec<u8>,
    pub statement_hash: Hash,
    pub iss: String,
    pub sub: String,
    /// The predicate type (DSSE) or the content type (COSE).
    pub statement_type: String,
    /// JSON array of `{name, digest?}`: what the statement is about.
    pub subjects: String,
    pub policy_version: i64,
}

/// At most this many registered keys are tried for a DSSE signature whose key id matches none
/// (a bound on the work a bad submission can cause).
const MAX_KEYS_TRIED: usize = 64;

/// Certifies a COSE Signed Statement.
pub fn admit_cose(bytes: &[u8], registry: &Registry) -> Result<NewEntry, Refusal> {
    let st = SignedStatement::parse(bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if st.payload().is_none() {
        return Err(Refusal::Malformed(
            "the payload is detached; register statements with their payload attached".into(),
        ));
    }
    if st.message().signature().is_empty() {
        return Err(Refusal::Unsigned);
    }
    let iss = st.iss().to_owned();
    let keys: Vec<&IssuerKey> = registry.issuers.iter().filter(|k| k.iss == iss).collect();
    let anchors: Vec<Vec<u8>> = registry
        .anchors
        .iter()
        .filter(|a| a.iss == iss)
        .map(|a| a.der.clone())
        .collect();
    let chain = x5chain(&st)?;
    match chain {
        // An issuer registered by trust anchor signs with the key its certificate names.
        Some(chain) if !anchors.is_empty() => {
            let leaf = sbomit_scitt::x509::validate_chain(&chain, &anchors, &iss, registry.now)
                .map_err(|e| Refusal::BadSignature(format!("{iss}: x5chain: {e}")))?;
            if st.verify(&leaf).is_err() {
                return Err(Refusal::BadSignature(iss));
            }
        }
        _ => {
            if keys.is_empty() {
                return Err(if anchors.is_empty() {
                    Refusal::UnknownIssuer(iss)
                } else {
                    Refusal::BadSignature(format!(
                        "{iss} is registered by trust anchor: the statement needs an x5chain"
                    ))
                });
            }
            if !keys.iter().any(|k| st.verify(&k.key).is_ok()) {
                return Err(Refusal::BadSignature(iss));
            }
        }
    }
    let statement_type = match st.content_type() {
        Some(ContentType::Text(t)) => t.clone(),
        Some(ContentType::CoapFormat(n)) => format!("coap-content-format:{n}"),
        None => "application/octet-stream".into(),
    };
    registry
        .policy
        .admits(&iss, &registry.roles_of(&iss), &statement_type)
        .map_err(Refusal::NotAllowed)?;
    let leaf = st
        .leaf_entry()
        .map_err(|e| Refusal::Malformed(e.to_string()))?;
    let subjects = json!([{ "name": st.sub() }]).to_string();
    Ok(NewEntry {
        kind: EntryKind::Cose,
        leaf_hash: merkle::leaf_hash(&leaf),
        statement: bytes.to_vec(),
        statement_hash: *Sha256::digest(bytes).as_bytes(),
        sub: st.sub().to_owned(),
        iss,
        statement_type,
        subjects,
        policy_version: registry.policy_version,
    })
}

/// COSE header `x5chain` (RFC 9360): one certificate or an array, leaf first. Only the
/// protected header counts: an unprotected chain could be swapped by anyone.
const X5CHAIN: i64 = 33;

fn x5chain(st: &SignedStatement) -> Result<Option<Vec<Vec<u8>>>, Refusal> {
    use ciborium::value::Value as Cbor;
    let bad = || Refusal::Malformed("x5chain must be a certificate or an array of them".into());
    match st.message().protected().get_int(X5CHAIN) {
        None => Ok(None),
        Some(Cbor::Bytes(b)) => Ok(Some(vec![b.clone()])),
        Some(Cbor::Array(items)) => items
            .iter()
            .map(|i| match i {
                Cbor::Bytes(b) => Ok(b.clone()),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// Certifies a DSSE envelope carrying an in-toto Statement. The issuer is the registered
/// identity whose key made a signature; the leaf is the envelope exactly as received.
pub fn admit_dsse(bytes: &[u8], registry: &Registry) -> Result<NewEntry, Refusal> {
    let env = Envelope::parse(bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if env.kind() != EnvelopeKind::Dsse {
        return Err(Refusal::Malformed(
            "expected a DSSE envelope ({payloadType, payload, signatures})".into(),
        ));
    }
    if env.payload_type() != Some(INTOTO_PAYLOAD_TYPE) {
        return Err(Refusal::Malformed(format!(
            "payloadType is {:?}, expected {INTOTO_PAYLOAD_TYPE}",
            env.payload_type().unwrap_or_default()
        )));
    }
    let statement =
        Statement::from_value(env.payload()).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if statement.subject.is_empty() {
        return Err(Refusal::Malformed("the statement has no subject".into()));
    }
    if env.signatures().is_empty() {
        return Err(Refusal::Unsigned);
    }
    // Keys whose id a signature names first, then a bounded number of the others.
    let named = |k: &&IssuerKey| env.signatures().iter().any(|s| &s.keyid == k.key.keyid());
    let candidates = registry.issuers.iter().filter(named).chain(
        registry
            .issuers
            .iter()
            .filter(|k| !named(k))
            .take(MAX_KEYS_TRIED),
    );
    let mut signer = None;
    for k in candidates {
        if env.verify(&k.key).is_ok() {
            signer = Some(k);
            break;
        }
    }
    let Some(signer) = signer else {
        return Err(if registry.issuers.iter().any(|k| named(&k)) {
            Refusal::BadSignature(
                env.signatures()
                    .iter()
                    .map(|s| s.keyid.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        } else {
            Refusal::UnknownIssuer(format!(
                "keyid {}",
                env.signatures()
                    .iter()
                    .map(|s| s.keyid.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ))
        });
    };
    let iss = signer.iss.clone();
    registry
        .policy
        .admits(&iss, &registry.roles_of(&iss), &statement.predicate_type)
        .map_err(Refusal::NotAllowed)?;
    let subjects = Value::Array(
        statement
            .subject
            .iter()
            .map(|d| json!({ "name": d.name, "digest": d.digest }))
            .collect(),
    )
    .to_string();
    Ok(NewEntry {
        kind: EntryKind::Dsse,
        leaf_hash: merkle::leaf_hash(bytes),
        statement: bytes.to_vec(),
        statement_hash: *Sha256::digest(bytes).as_bytes(),
        sub: statement.subject[0].name.clone(),
        iss,
        statement_type: statement.predicate_type,
        subjects,
        policy_version: registry.policy_version,
    })
}

/// Certifies a submission of either kind, refusing it over `limit` bytes first.
pub fn admit(
    kind: EntryKind,
    bytes: &[u8],
    registry: &Registry,
    limit: usize,
) -> Result<NewEntry, Refusal> {
    if bytes.len() > limit {
        return Err(Refusal::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    match kind {
        EntryKind::Cose => admit_cose(bytes, registry),
        EntryKind::Dsse => admit_dsse(bytes, registry),
    }
}
