//! The store's answers, typed. Answers a caller may want to print as the store sent them
//! (graph queries, evidence, events) also keep the JSON they were read from, in `raw`.

use serde::Deserialize;
use serde_json::Value;

/// A COSE Signed Statement registered through SCRAPI (`POST /entries`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoseRegistration {
    /// `1.N`.
    pub entry_id: String,
    /// The receipt (COSE, RFC 9942).
    pub receipt: Vec<u8>,
}

/// A DSSE envelope registered through `POST /v1/entries`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsseRegistration {
    /// `1.N`.
    pub entry_id: String,
    pub index: u64,
    /// The same bytes were registered before (known only when the store answered at once).
    pub duplicate: bool,
}

/// `GET /v1/operations/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub operation_id: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub entry_id: Option<String>,
    pub index: Option<u64>,
}

/// A subject of a statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Subject {
    pub name: Option<String>,
    #[serde(default)]
    pub digest: Option<std::collections::BTreeMap<String, String>>,
}

/// `GET /v1/entries/{N}`: an entry's metadata and statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub entry_id: String,
    pub index: u64,
    /// `cose` or `dsse`.
    pub kind: String,
    pub iss: Option<String>,
    pub sub: Option<String>,
    #[serde(rename = "type")]
    pub statement_type: Option<String>,
    #[serde(default)]
    pub subjects: Option<Vec<Subject>>,
    pub registered_at: String,
    pub policy_version: Option<i64>,
    /// Hex.
    pub leaf_hash: String,
    /// Hex.
    pub statement_hash: String,
    /// Base64.
    pub statement: String,
}

/// `GET /v1/proofs/inclusion` (RFC 9162; hashes in hex).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub path: Vec<String>,
}

/// `GET /v1/proofs/consistency` (RFC 9162; hashes in hex).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub first_root: String,
    pub second_root: String,
    pub path: Vec<String>,
}

/// `GET /.well-known/transparency-configuration`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TransparencyConfiguration {
    pub issuer: String,
    pub registration_endpoint: String,
    pub scitt_keys_uri: String,
    pub jwks_uri: String,
    pub checkpoint_uri: String,
}

/// A version of the registration policy (`GET /v1/registration-policy`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PolicyVersion {
    pub version: i64,
    pub policy: Value,
}

/// A logged change: a new policy version (`PUT /v1/admin/registration-policy`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChange {
    pub version: i64,
    pub entry_id: String,
    pub index: u64,
}

/// The role of an issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Attester,
    PolicyManager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Attester => "attester",
            Role::PolicyManager => "policy-manager",
        }
    }
}

/// The scope of an API token; scopes nest (admin ⊇ submit ⊇ read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Submit,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Submit => "submit",
            Scope::Admin => "admin",
        }
    }
}

/// `POST /v1/admin/issuers`: an issuer key or trust anchor registered (`entry_id` set; the
/// change is logged) or already there (`unchanged`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerChange {
    pub iss: String,
    pub role: String,
    /// Set for a key, absent for a trust anchor.
    pub keyid: Option<String>,
    #[serde(default)]
    pub trust_anchor: bool,
    pub entry_id: Option<String>,
    pub index: Option<u64>,
    #[serde(default)]
    pub unchanged: bool,
}

/// One registered issuer key (`GET /v1/admin/issuers`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issuer {
    pub iss: String,
    pub role: String,
    pub keyid: Option<String>,
    pub public_key_pem: Option<String>,
    pub added_at: String,
}

#[derive(Deserialize)]
pub(crate) struct Issuers {
    pub issuers: Vec<Issuer>,
}

/// A new API token (`POST /v1/admin/tokens`); the store shows it once.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct NewToken {
    pub token: String,
    pub scope: String,
    pub label: String,
}

// ---- graph queries ----

/// What a graph query is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// `sha256:<hex>` or bare hex.
    Digest(&'a str),
    /// A package URL; without `@version`, every version.
    Purl(&'a str),
    Name(&'a str),
    /// A node key as the index stores it.
    Key(&'a str),
}

impl Target<'_> {
    pub(crate) fn param(&self) -> (&'static str, String) {
        match *self {
            Target::Digest(v) => ("digest", v.to_owned()),
            Target::Purl(v) => ("purl", v.to_owned()),
            Target::Name(v) => ("name", v.to_owned()),
            Target::Key(v) => ("key", v.to_owned()),
        }
    }
}

/// Depth and paging of a walk; `None`: the store's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    pub depth: Option<u32>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
    /// Wait (up to 10 s) until the index covers this many entries.
    pub min_indexed: Option<u64>,
}

impl Walk {
    pub(crate) fn params(&self, q: &mut Vec<(&'static str, String)>) {
        if let Some(d) = self.depth {
            q.push(("depth", d.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(m) = self.min_indexed {
            q.push(("minIndexed", m.to_string()));
        }
    }
}

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Node {
    pub key: String,
    pub purl: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub sha256: Option<String>,
}

/// One node a walk reached.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Reached {
    pub node: Node,
    pub depth: u64,
    /// Node keys from the artifact (first) to the component (last).
    pub path: Vec<String>,
    pub evidence: Vec<u64>,
    #[serde(default)]
    pub artifact: bool,
}

/// The answer of `components`, `dependents` and `affected`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphAnswer {
    #[serde(default)]
    pub roots: Vec<String>,
    pub results: Vec<Reached>,
    pub evidence: Vec<u64>,
    pub total: u64,
    pub next_offset: Option<u64>,
    pub db_round_trips: u64,
    pub tree_size: u64,
    pub min_indexed_reached: Option<bool>,
    /// `affected`: the vulnerability id.
    pub vulnerability: Option<String>,
    /// The answer as the store sent it.
    #[serde(skip)]
    pub raw: Value,
}

/// An evidence query (`GET /v1/query/evidence`): about a target, or by an issuer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvidenceQuery {
    /// `(parameter, value)`: one of `digest`, `purl`, `name`, `key`, `iss`.
    pub about: Option<(&'static str, String)>,
    /// With `iss`: only this subject.
    pub sub: Option<String>,
    pub types: Vec<String>,
    pub issuer: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub after: Option<u64>,
    pub limit: Option<usize>,
    pub status: bool,
    pub min_indexed: Option<u64>,
}

impl EvidenceQuery {
    pub fn about(target: Target<'_>) -> Self {
        let (k, v) = target.param();
        EvidenceQuery {
            about: Some((k, v)),
            ..Self::default()
        }
    }

    pub fn by_issuer(iss: &str) -> Self {
        EvidenceQuery {
            about: Some(("iss", iss.to_owned())),
            ..Self::default()
        }
    }

    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        let pairs = [
            self.about.as_ref().map(|(k, v)| (*k, v.clone())),
            self.sub.clone().map(|v| ("sub", v)),
            self.issuer.clone().map(|v| ("issuer", v)),
            self.since.clone().map(|v| ("since", v)),
            self.until.clone().map(|v| ("until", v)),
        ];
        q.extend(pairs.into_iter().flatten());
        q.extend(self.types.iter().map(|t| ("type", t.clone())));
        if let Some(a) = self.after {
            q.push(("after", a.to_string()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if self.status {
            q.push(("status", "true".to_owned()));
        }
        if let Some(m) = self.min_indexed {
            q.push(("minIndexed", m.to_string()));
        }
        q
    }
}

/// How an entry was indexed (`status=true`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct IndexStatus {
    pub kind: Option<String>,
    pub unparsed: Option<String>,
    #[serde(default)]
    pub pending: bool,
}

/// An entry as evidence answers and events show it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntrySummary {
    pub index: u64,
    pub entry_id: String,
    pub kind: Option<String>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    #[serde(rename = "type")]
    pub statement_type: Option<String>,
    #[serde(default)]
    pub subjects: Option<Vec<Subject>>,
    pub registered_at: String,
    pub policy_version: Option<i64>,
    pub index_status: Option<IndexStatus>,
}

/// The answer of an evidence query.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceAnswer {
    #[serde(default)]
    pub roots: Vec<String>,
    pub entries: Vec<EntrySummary>,
    pub evidence: Vec<u64>,
    pub db_round_trips: u64,
    pub tree_size: u64,
    pub next_after: Option<u64>,
    pub min_indexed_reached: Option<bool>,
    /// The answer as the store sent it.
    #[serde(skip)]
    pub raw: Value,
}
