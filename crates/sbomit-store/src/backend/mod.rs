//! Persistence of the log. Two backends with one schema: SQLite (embedded default, one
//! process) and PostgreSQL (several `serve` processes on one database).
//!
//! Tables: `entries` (one row per leaf, `idx` = leaf index, small statements inline),
//! `blobs` (large statements by SHA-256),
//! `nodes` (perfect-subtree hashes of level ≥ 1; leaves are `entries.leaf_hash`),
//! `checkpoints` (one signed note per batch), `issuers`, `tokens` (SHA-256 of the token only),
//! `policies` (every registration policy version), `service_keys` (public, retired kept),
//! `meta` (schema version, log origin).
//!
//! [`Backend::append`] is the sequencer's critical section: in one transaction it takes the
//! database's write lock (SQLite `BEGIN IMMEDIATE`; PostgreSQL a transaction-scoped advisory
//! lock, so exactly one process sequences at a time), reads the tree's frontier from the
//! latest checkpoint, skips leaves already present, inserts the rest with their new subtree
//! hashes, and stores the checkpoint the caller signs over the new head. Nothing is
//! acknowledged before that transaction commits.

use sbomit_tlog::merkle::{Hash, NodeId};

use crate::admission::{EntryKind, NewEntry};
use crate::graph::{Facts, Node, VulnStatus};
use crate::policy::Role;
use crate::StoreError;

pub mod postgres;
pub mod sqlite;

/// The schema version this build writes. Version 2 added `tokens.expires_ms` and
/// `tokens.revoked_ms`; a version-1 database is migrated when opened (and an older build then
/// refuses it, rather than accept its expired and revoked tokens).
pub const SCHEMA_VERSION: i64 = 2;

/// Statements that bring a version-1 database to version 2 (`if_not_exists`: PostgreSQL's
/// `IF NOT EXISTS`, empty for SQLite, whose caller checks the columns first).
pub(crate) fn migrate_v1_to_v2(if_not_exists: &str, int: &str) -> String {
    format!(
        "ALTER TABLE tokens ADD COLUMN {if_not_exists} expires_ms {int};
ALTER TABLE tokens ADD COLUMN {if_not_exists} revoked_ms {int};"
    )
}

/// A stored entry (the statement itself is a blob).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRecord {
    pub index: u64,
    pub kind: EntryKind,
    pub leaf_hash: Hash,
    pub statement_hash: Hash,
    pub iss: String,
    pub sub: String,
    pub statement_type: String,
    pub subjects: String,
    pub policy_version: i64,
    pub registered_ms: i64,
}

/// A published service key: `(kid, COSE_Key)`.
pub type ServiceKeyRecord = (Vec<u8>, Vec<u8>);

/// A signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRecord {
    pub size: u64,
    pub root: Hash,
    pub note: String,
    pub created_ms: i64,
}

/// A registered issuer key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerRecord {
    pub iss: String,
    pub role: Role,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    pub added_ms: i64,
}

/// A stored API token: its SHA-256 (the token itself is never stored), scope, label, and
/// lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: Hash,
    pub scope: Scope,
    pub label: String,
    pub created_ms: i64,
    /// After this instant the token is refused; `None`: it does not expire.
    pub expires_ms: Option<i64>,
    /// When it was revoked; a revoked token is refused.
    pub revoked_ms: Option<i64>,
}

/// What an API token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Submit,
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Submit => "submit",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "submit" => Some(Scope::Submit),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Whether a token of this scope may do what `needed` requires (admin ⊇ submit ⊇ read).
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

/// The outcome of appending one entry of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub index: u64,
    /// The leaf was already in the log (the same statement registered before).
    pub duplicate: bool,
}

/// Signs the checkpoint of a new tree head `(size, root)`; returns the note.
pub type Seal<'a> = &'a dyn Fn(u64, &Hash) -> Result<String, StoreError>;

/// A storage backend. Every method is a short blocking call; implementations keep their own
/// connections.
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`.
    fn name(&self) -> &'static str;

    /// Creates or checks the schema; stores `origin` as the log's origin unless one is
    /// stored already, and `default_policy` as policy version 1 unless a policy exists.
    /// Returns the stored origin.
    fn init(&self, origin: &str, default_policy: &str) -> Result<String, StoreError>;

    /// Appends a batch (see the module doc). Results are in batch order.
    fn append(
        &self,
        batch: &[NewEntry],
        now_ms: i64,
        seal: Seal<'_>,
    ) -> Result<Vec<Appended>, StoreError>;

    fn entry(&self, index: u64) -> Result<Option<EntryRecord>, StoreError>;
    fn entry_by_leaf(&self, leaf_hash: &Hash) -> Result<Option<EntryRecord>, StoreError>;
    fn entry_by_statement(&self, statement_hash: &Hash) -> Result<Option<EntryRecord>, StoreError>;
    /// The statement of entry `index`, as registered (inline, or from the blob store).
    fn statement(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stored hashes of complete subtrees, in the order asked.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError>;
    fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>, StoreError>;
    /// The first checkpoint of size ≥ `size`.
    fn checkpoint_covering(&self, size: u64) -> Result<Option<CheckpointRecord>, StoreError>;

    fn issuers(&self) -> Result<Vec<IssuerRecord>, StoreError>;
    /// Adds an issuer key; false when that (iss, key, role) is already registered.
    fn add_issuer(&self, issuer: &IssuerRecord) -> Result<bool, StoreError>;
    /// Registers an X.509 trust anchor for `issuer.iss` with `issuer.role` (the record's
    /// `spki` holds the certificate DER); false when already registered.
    fn add_trust_anchor(&self, issuer: &IssuerRecord) -> Result<bool, StoreError>;
    /// Every registered trust anchor (`spki` holds the certificate DER).
    fn trust_anchors(&self) -> Result<Vec<IssuerRecord>, StoreError>;
    /// Removes an issuer key (`(iss, role, spki)` as listed); false when it was not there.
    fn remove_issuer(&self, issuer: &IssuerRecord) -> Result<bool, StoreError>;
    /// Removes a trust anchor (`spki` holds the certificate DER); false when not there.
    fn remove_trust_anchor(&self, issuer: &IssuerRecord) -> Result<bool, StoreError>;
    fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Every token, oldest first (a handful: the store keeps them in memory).
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked at `now_ms`; false when there is no such token or it was revoked
    /// already.
    fn revoke_token(&self, hash: &Hash, now_ms: i64) -> Result<bool, StoreError>;
    /// The newest registration policy `(version, document)`.
    fn latest_policy(&self) -> Result<(i64, String), StoreError>;
    fn policy(&self, version: i64) -> Result<Option<String>, StoreError>;
    /// Stores a new policy version; returns its number.
    fn add_policy(&self, document: &str, now_ms: i64) -> Result<i64, StoreError>;
    /// Publishes a service key (a COSE_Key); kept after retirement.
    fn add_service_key(&self, kid: &[u8], cose_key: &[u8], now_ms: i64) -> Result<(), StoreError>;
    /// Every published service key `(kid, COSE_Key)`, oldest first.
    fn service_keys(&self) -> Result<Vec<ServiceKeyRecord>, StoreError>;
    /// Bytes the log occupies (database file or relations).
    fn storage_bytes(&self) -> Result<u64, StoreError>;

    // --- The graph index (issue 5): maintained by the indexer behind the sequencer. ---

    /// Entries with index ≥ `from`, in order, at most `limit`.
    fn entries_from(&self, from: u64, limit: usize) -> Result<Vec<EntryRecord>, StoreError>;
    /// How many entries (a prefix of the log) the graph index covers.
    fn graph_cursor(&self) -> Result<u64, StoreError>;
    /// Indexes the facts of entries `from..` (in order, contiguous) and advances the cursor,
    /// in one transaction; false (and nothing written) when the cursor is no longer `from`
    /// because another process indexed them first.
    fn index_facts(&self, from: u64, facts: &[(EntryRecord, Facts)]) -> Result<bool, StoreError>;
    /// Edges whose parent is one of `parents`: `(parent, child, entry)`.
    fn edges_from(&self, parents: &[String]) -> Result<Vec<(String, String, u64)>, StoreError>;
    /// Edges whose child is one of `children`: `(parent, child, entry)`.
    fn edges_to(&self, children: &[String]) -> Result<Vec<(String, String, u64)>, StoreError>;
    /// The stored nodes with these keys.
    fn nodes(&self, keys: &[String]) -> Result<Vec<Node>, StoreError>;
    /// Keys of the nodes whose `field` is `value`.
    fn node_keys(&self, field: NodeField, value: &str) -> Result<Vec<String>, StoreError>;
    /// Which of `keys` are the subject of some entry, with those entries.
    fn subject_entries(&self, keys: &[String]) -> Result<Vec<(String, u64)>, StoreError>;
    /// Entries about any of `keys` (or by iss/sub), filtered, by ascending index.
    fn evidence(
        &self,
        about: &EvidenceSelector,
        filter: &EvidenceFilter,
    ) -> Result<Vec<EntryRecord>, StoreError>;
    /// Every fact about `vuln_id`: `(node, status, entry)`.
    fn vuln_facts(&self, vuln_id: &str) -> Result<Vec<(String, VulnStatus, u64)>, StoreError>;
    /// How an entry was indexed: `(kind, unparsed reason)`; `None` before indexing.
    fn graph_entry(&self, index: u64) -> Result<Option<(String, Option<String>)>, StoreError>;
}

/// A node column to look nodes up by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeField {
    Purl,
    PurlBase,
    Name,
}

impl NodeField {
    pub fn column(self) -> &'static str {
        match self {
            NodeField::Purl => "purl",
            NodeField::PurlBase => "purl_base",
            NodeField::Name => "name",
        }
    }
}

/// What evidence is asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceSelector {
    /// Entries whose subjects include one of these node keys.
    Nodes(Vec<String>),
    /// Entries by issuer, optionally with this `sub`.
    Issuer { iss: String, sub: Option<String> },
}

/// Filters and paging of an evidence query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvidenceFilter {
    /// Statement types (predicate or content types) to keep; empty keeps all.
    pub types: Vec<String>,
    pub iss: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Only entries with a larger index (paging).
    pub after: Option<u64>,
    pub limit: usize,
}

/// Opens the backend a database URL names: `sqlite://PATH` (or a plain path ending in `.db`
/// / `.sqlite`) or `postgres://…` / `postgresql://…`.
pub fn open(url: &str) -> Result<Box<dyn Backend>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(postgres::PostgresBackend::connect(url)?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Box::new(sqlite::SqliteBackend::open(
            std::path::Path::new(path),
        )?))
    } else if !url.contains("://") && !url.is_empty() {
        Ok(Box::new(sqlite::SqliteBackend::open(
            std::path::Path::new(url),
        )?))
    } else {
        Err(StoreError::DatabaseUrl(url.to_owned()))
    }
}

/// Node keys, names and purls become SQL text; control characters (which no identifier
/// needs, and PostgreSQL text cannot hold when NUL) are dropped.
pub(crate) fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

pub(crate) fn hash_from(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("{what}: {} bytes, not 32", bytes.len())))
}

/// Statements up to this size are kept in their entry's row, appended in log order; larger
/// ones go to the content-addressed blob store. Keeping small statements inline spares each
/// registration a write at a random place of a hash-keyed B-tree.
pub(crate) const INLINE_STATEMENT_MAX: usize = 64 << 10;

/// The log's tables, one text for both backends: `int` is the 64-bit integer type, `blob`
/// the byte string type, `without_rowid` SQLite's clause for tables keyed by something else.
pub(crate) fn log_schema(int: &str, blob: &str, without_rowid: &str) -> String {
    format!(
        "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (hash {blob} PRIMARY KEY, data {blob} NOT NULL){without_rowid};
CREATE TABLE IF NOT EXISTS entries (
  idx {int} PRIMARY KEY,
  kind INTEGER NOT NULL,
  leaf_hash {blob} NOT NULL UNIQUE,
  statement_hash {blob} NOT NULL,
  iss TEXT NOT NULL,
  sub TEXT NOT NULL,
  statement_type TEXT NOT NULL,
  subjects TEXT NOT NULL,
  statement {blob},
  policy_version {int} NOT NULL,
  registered_ms {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
  level INTEGER NOT NULL, idx {int} NOT NULL, hash {blob} NOT NULL,
  PRIMARY KEY (level, idx)
){without_rowid};
CREATE TABLE IF NOT EXISTS checkpoints (
  size {int} PRIMARY KEY, root {blob} NOT NULL, note TEXT NOT NULL, created_ms {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS issuers (
  iss TEXT NOT NULL, role TEXT NOT NULL, spki {blob} NOT NULL, added_ms {int} NOT NULL,
  PRIMARY KEY (iss, spki, role)
);
CREATE TABLE IF NOT EXISTS trust_anchors (
  iss TEXT NOT NULL, role TEXT NOT NULL, cert {blob} NOT NULL, added_ms {int} NOT NULL,
  PRIMARY KEY (iss, cert, role)
);
CREATE TABLE IF NOT EXISTS tokens (
  hash {blob} PRIMARY KEY, scope TEXT NOT NULL, label TEXT NOT NULL, created_ms {int} NOT NULL,
  expires_ms {int}, revoked_ms {int}
);
CREATE TABLE IF NOT EXISTS policies (
  version {int} PRIMARY KEY, document TEXT NOT NULL, created_ms {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS service_keys (
  kid {blob} PRIMARY KEY, cose_key {blob} NOT NULL, created_ms {int} NOT NULL
);
"
    )
}

/// The graph tables, shared by both backends (`id`: the interned key's DDL; `db`: the schema
/// they live in, `g.` for SQLite's separate graph file). Nodes are interned: edges, subjects
/// and facts hold 8-byte ids, not 70-byte keys. `graph_meta` holds the cursor, committed with
/// the facts it covers.
pub(crate) fn graph_schema(id: &str, int: &str, blob: &str, db: &str) -> String {
    format!(
        "
CREATE TABLE IF NOT EXISTS {db}graph_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {db}graph_nodes (
  id {id}, key TEXT NOT NULL UNIQUE, purl TEXT, purl_base TEXT, name TEXT, version TEXT,
  sha256 TEXT
);
CREATE INDEX IF NOT EXISTS {db}graph_nodes_purl ON graph_nodes (purl);
CREATE INDEX IF NOT EXISTS {db}graph_nodes_purl_base ON graph_nodes (purl_base);
CREATE INDEX IF NOT EXISTS {db}graph_nodes_name ON graph_nodes (name);
CREATE TABLE IF NOT EXISTS {db}graph_subjects (
  node {int} NOT NULL, entry {int} NOT NULL, PRIMARY KEY (node, entry)
);
CREATE TABLE IF NOT EXISTS {db}graph_edges (
  parent {int} NOT NULL, child {int} NOT NULL, entry {int} NOT NULL,
  PRIMARY KEY (parent, child, entry)
);
CREATE INDEX IF NOT EXISTS {db}graph_edges_child ON graph_edges (child, parent);
CREATE TABLE IF NOT EXISTS {db}graph_vulns (
  vuln_id TEXT NOT NULL, node {int} NOT NULL, entry {int} NOT NULL, status TEXT NOT NULL,
  PRIMARY KEY (vuln_id, node, entry)
);
CREATE TABLE IF NOT EXISTS {db}graph_entries (
  entry {int} PRIMARY KEY, kind TEXT NOT NULL, unparsed TEXT,
  iss TEXT NOT NULL, sub TEXT NOT NULL, statement_hash {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS {db}graph_entries_issuer ON graph_entries (iss, sub, entry);
CREATE INDEX IF NOT EXISTS {db}graph_entries_statement ON graph_entries (statement_hash);
"
    )
}

/// What a stored schema version asks of [`Backend::init`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchemaState {
    /// None stored: a new database, to be stamped with [`SCHEMA_VERSION`].
    New,
    Current,
    /// An older version, to be migrated (and stamped) in the same transaction.
    Old(i64),
}

/// Checks a stored schema version.
pub(crate) fn check_schema(stored: Option<String>) -> Result<SchemaState, StoreError> {
    match stored.map(|v| v.parse::<i64>()) {
        None => Ok(SchemaState::New),
        Some(Ok(v)) if v == SCHEMA_VERSION => Ok(SchemaState::Current),
        Some(Ok(v)) if v < SCHEMA_VERSION => Ok(SchemaState::Old(v)),
        Some(Ok(v)) => Err(StoreError::Schema {
            found: v,
            known: SCHEMA_VERSION,
        }),
        Some(Err(_)) => Err(StoreError::corrupt("schema version")),
    }
}

pub(crate) fn kind_from(code: i64) -> Result<EntryKind, StoreError> {
    EntryKind::from_code(code).ok_or_else(|| StoreError::corrupt(format!("entry kind {code}")))
}

pub(crate) fn scope_from(s: &str) -> Result<Scope, StoreError> {
    Scope::parse(s).ok_or_else(|| StoreError::corrupt(format!("token scope {s:?}")))
}

pub(crate) fn role_from(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::corrupt(format!("issuer role {s:?}")))
}

/// Computes what a batch adds to the tree: for each entry not already present (`existing`
/// says), its index and the new perfect-subtree nodes of level ≥ 1. Shared by both backends
/// so the tree logic lives in one place.
pub(crate) struct BatchPlan {
    pub results: Vec<Appended>,
    /// Indexes into the batch of the entries to insert, with their leaf index.
    pub inserts: Vec<(usize, u64)>,
    pub nodes: Vec<(NodeId, Hash)>,
    pub size: u64,
    pub root: Hash,
}

pub(crate) fn plan_batch(
    batch: &[NewEntry],
    mut frontier: sbomit_tlog::merkle::CompactRange,
    mut existing: impl FnMut(&Hash) -> Result<Option<u64>, StoreError>,
) -> Result<BatchPlan, StoreError> {
    use std::collections::HashMap;
    let mut in_batch: HashMap<Hash, u64> = HashMap::new();
    let mut results = Vec::with_capacity(batch.len());
    let mut inserts = Vec::new();
    let mut nodes = Vec::new();
    for (i, e) in batch.iter().enumerate() {
        if let Some(&index) = in_batch.get(&e.leaf_hash) {
            results.push(Appended {
                index,
                duplicate: true,
            });
            continue;
        }
        if let Some(index) = existing(&e.leaf_hash)? {
            results.push(Appended {
                index,
                duplicate: true,
            });
            continue;
        }
        let index = frontier.size();
        frontier
            .append(e.leaf_hash, |id, h| {
                if id.level > 0 {
                    nodes.push((id, *h));
                }
            })
            .map_err(|e| StoreError::corrupt(e.to_string()))?;
        in_batch.insert(e.leaf_hash, index);
        inserts.push((i, index));
        results.push(Appended {
            index,
            duplicate: false,
        });
    }
    Ok(BatchPlan {
        results,
        inserts,
        nodes,
        size: frontier.size(),
        root: frontier.root(),
    })
}

/// A frontier read through `read`, for the tree of `size` leaves.
pub(crate) fn frontier(
    size: u64,
    read: impl FnMut(&[NodeId]) -> Result<Vec<Hash>, StoreError>,
) -> Result<sbomit_tlog::merkle::CompactRange, StoreError> {
    // HashReader reads through `&self`; the transaction it reads from needs `&mut`.
    struct R<F>(std::cell::RefCell<F>);
    impl<F: FnMut(&[NodeId]) -> Result<Vec<Hash>, StoreError>> sbomit_tlog::merkle::HashReader
        for R<F>
    {
        type Error = StoreError;
        fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
            (self.0.borrow_mut())(ids)
        }
    }
    sbomit_tlog::merkle::CompactRange::from_reader(&R(std::cell::RefCell::new(read)), size).map_err(
        |e| match e {
            sbomit_tlog::merkle::ProofError::Read(e) => e,
            other => StoreError::corrupt(other.to_string()),
        },
    )
}
