//! The Store: admission, sequencing, and receipts and proofs derived on demand.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::oneshot;

use sbomit_crypto::PublicKey;
use sbomit_intoto::digest::Sha256;
use sbomit_scitt::cose::{self, CoseKey, SignedStatement, StatementHeader};
use sbomit_scitt::receipt::{build_receipt_for_leaf, InclusionProof, ReceiptHeader};
use sbomit_tlog::checkpoint::Checkpoint;
use sbomit_tlog::merkle::{self, Hash, HashReader, NodeId};

use crate::admission::{self, EntryKind, IssuerKey, NewEntry, Refusal, Registry, TrustAnchor};
use crate::backend::{
    self, Backend, CheckpointRecord, EntryRecord, IssuerRecord, Scope, TokenRecord,
};
use crate::policy::{RegistrationPolicy, Role};
use crate::sequencer::{self, BatchConfig, Job, Sequenced};
use crate::service_key::ServiceKey;
use crate::tokens::{token_hash, TokenCache, TokenInfo, TokenStatus};
use crate::StoreError;

/// Content type of the service's own statements recording identity changes.
pub const IDENTITY_CHANGE_TYPE: &str = "application/vnd.sbomit.identity-change+json";
/// Content type of the service's own statements recording registration policy changes.
pub const REGISTRATION_POLICY_TYPE: &str = "application/vnd.sbomit.registration-policy+json";

/// How long a registry snapshot (issuers, policy) is trusted before it is re-read: other
/// processes on the same PostgreSQL may have changed it.
const REGISTRY_TTL: Duration = Duration::from_secs(1);

/// The least time between two registry reads caused by refused submissions (an unknown
/// issuer, or a policy refusal, which a registration made by another process a moment ago
/// could turn around). Without it, every statement from an unknown issuer cost a database
/// read: a flood of junk would hammer the database. A registration made elsewhere is still
/// seen within this interval, or [`REGISTRY_TTL`] at most.
pub const MIN_REFUSAL_RELOAD_INTERVAL: Duration = Duration::from_millis(250);

/// Configuration of a store.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub database: String,
    /// The service's Ed25519 key (the binary keeps it, in a file of mode 0600).
    pub service_key: Arc<ServiceKey>,
    /// The log's origin (checkpoint first line, receipt `iss`) for a new log; a stored one wins.
    pub origin: Option<String>,
    pub batch: BatchConfig,
    /// Submissions over this many bytes are refused.
    pub max_statement_bytes: usize,
}

impl StoreConfig {
    /// Large enough for a DSSE-wrapped SBOM of 100,000 components (about 31 MB).
    pub const DEFAULT_MAX_STATEMENT_BYTES: usize = 64 << 20;

    pub fn new(database: impl Into<String>, service_key: impl Into<Arc<ServiceKey>>) -> Self {
        StoreConfig {
            database: database.into(),
            service_key: service_key.into(),
            origin: None,
            batch: BatchConfig::default(),
            max_statement_bytes: Self::DEFAULT_MAX_STATEMENT_BYTES,
        }
    }
}

/// An entry id as SCRAPI shows it: `EPOCH.INDEX` (`1.42`). The epoch is always 1; the form
/// follows the ids earlier SCITT services (CCF's `view.seqno`) gave clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId(pub u64);

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

impl FromStr for EntryId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::BadRequest(format!("{s:?} is not an entry id (1.N)"));
        let (epoch, index) = s.split_once('.').ok_or_else(bad)?;
        if epoch != "1" || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        index.parse().map(EntryId).map_err(|_| bad())
    }
}

/// A pending registration: resolves once the entry's batch is durable.
pub struct Ticket {
    rx: oneshot::Receiver<Result<Sequenced, StoreError>>,
    /// SHA-256 of the statement as submitted (the operation id of the compatibility API).
    pub statement_hash: Hash,
}

impl Ticket {
    /// Waits on this thread (not from async code).
    pub fn wait(self) -> Result<Registration, StoreError> {
        let hash = self.statement_hash;
        Registration::from(self.rx.blocking_recv(), hash)
    }

    /// Waits without blocking the thread.
    pub async fn recv(self) -> Result<Registration, StoreError> {
        let hash = self.statement_hash;
        Registration::from(self.rx.await, hash)
    }
}

/// An acknowledged (durable) registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    pub id: EntryId,
    pub index: u64,
    pub tree_size: u64,
    pub duplicate: bool,
    pub statement_hash: Hash,
}

impl Registration {
    fn from(
        r: Result<Result<Sequenced, StoreError>, oneshot::error::RecvError>,
        statement_hash: Hash,
    ) -> Result<Self, StoreError> {
        let s = r.map_err(|_| StoreError::SequencerStopped)??;
        Ok(Registration {
            id: EntryId(s.index),
            index: s.index,
            tree_size: s.tree_size,
            duplicate: s.duplicate,
            statement_hash,
        })
    }
}

/// An RFC 9162 inclusion proof, for JSON clients.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct InclusionProofJson {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Hex.
    pub leaf_hash: String,
    pub root: String,
    pub path: Vec<String>,
}

/// An RFC 9162 consistency proof, for JSON clients.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub first_root: String,
    pub second_root: String,
    pub path: Vec<String>,
}

struct Inner {
    bell: Arc<crate::tail::Bell>,
    size_rx: tokio::sync::watch::Receiver<u64>,
    backend: Arc<dyn Backend>,
    key: Arc<ServiceKey>,
    origin: String,
    jobs: mpsc::Sender<Job>,
    registry: RwLock<(Instant, Arc<Registry>)>,
    /// Held while the registry is read for a submission (so concurrent requests wait for one
    /// read instead of each making their own); holds when a refused submission last caused one.
    reload: Mutex<Option<Instant>>,
    /// How many times the registry was read from the database.
    registry_loads: AtomicU64,
    max_statement_bytes: usize,
    /// The API tokens, in memory.
    tokens: TokenCache,
    /// The sequencer and tail threads still running.
    running: Arc<crate::tail::Running>,
}

/// What [`Store::try_submit_cached`] found.
pub enum CachedAdmission {
    /// Admitted and queued, or refused for good.
    Done(Result<Ticket, StoreError>),
    /// The database may change the answer: hand this to [`Store::submit_deferred`].
    Deferred(Deferred),
}

/// A submission [`Store::try_submit_cached`] could not decide: the snapshot that refused it
/// and why (or nothing, when the snapshot was stale: the default).
#[derive(Default)]
pub struct Deferred {
    refused: Option<(Arc<Registry>, Refusal)>,
}

/// A registered identity: an issuer key or an X.509 trust anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The key's id (securesystemslib key id), or the trust anchor certificate's SHA-256.
    pub id: String,
    pub trust_anchor: bool,
    /// For a trust anchor, `spki` holds the certificate DER.
    pub record: IssuerRecord,
}

/// What opening a store found or made, for the operator.
#[derive(Clone, Debug)]
pub struct Opened {
    pub backend: &'static str,
    pub origin: String,
}

/// A handle on the store; cheap to clone. The sequencer stops when the last handle drops.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Reader<'a>(&'a dyn Backend);

impl HashReader for Reader<'_> {
    type Error = StoreError;
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.0.read_hashes(ids)
    }
}

fn proof_err(e: merkle::ProofError<StoreError>) -> StoreError {
    match e {
        merkle::ProofError::Read(e) => e,
        other => StoreError::BadRequest(other.to_string()),
    }
}

fn load_registry(backend: &dyn Backend) -> Result<Registry, StoreError> {
    let issuers = backend
        .issuers()?
        .into_iter()
        .map(|r| {
            Ok(IssuerKey {
                key: PublicKey::from_spki(&r.spki)
                    .map_err(|e| StoreError::corrupt(format!("issuer {} key: {e}", r.iss)))?,
                iss: r.iss,
                role: r.role,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let (policy_version, document) = backend.latest_policy()?;
    let policy = RegistrationPolicy::parse(document.as_bytes())
        .map_err(|e| StoreError::corrupt(format!("policy {policy_version}: {e}")))?;
    let anchors = backend
        .trust_anchors()?
        .into_iter()
        .map(|r| TrustAnchor {
            iss: r.iss,
            role: r.role,
            der: r.spki,
        })
        .collect();
    Ok(Registry {
        issuers,
        anchors,
        policy_version,
        policy,
        now: now_ms() / 1000,
    })
}

impl Store {
    /// Opens (creating when new) the store's database and service key, and starts the
    /// sequencer.
    pub fn open(config: &StoreConfig) -> Result<(Store, Opened), StoreError> {
        let backend: Arc<dyn Backend> = Arc::from(backend::open(&config.database)?);
        let key = Arc::clone(&config.service_key);
        let default_origin = config
            .origin
            .clone()
            .unwrap_or_else(|| format!("sbomit.store/{}", hex::encode(&key.kid[..8])));
        let origin = backend.init(
            &default_origin,
            &RegistrationPolicy::default_policy().to_json(),
        )?;
        let cose_key = key.cose_key.encode()?;
        backend.add_service_key(&key.kid, &cose_key, now_ms())?;
        let seal_key = Arc::clone(&key);
        let seal_origin = origin.clone();
        let seal: sequencer::SealFn = Box::new(move |size, root| {
            Checkpoint {
                origin: seal_origin.clone(),
                size,
                root: *root,
                extensions: Vec::new(),
            }
            .sign(&seal_origin, &seal_key.private)
            .map_err(StoreError::from)
        });
        let bell = Arc::new(crate::tail::Bell::default());
        let ring = Arc::clone(&bell);
        let running = Arc::new(crate::tail::Running::default());
        let jobs = sequencer::spawn(
            Arc::clone(&backend),
            seal,
            Arc::new(now_ms),
            config.batch,
            Box::new(move || ring.ring()),
            running.enter(),
        )?;
        let initial = backend.latest_checkpoint()?.map_or(0, |c| c.size);
        let (size_tx, size_rx) = tokio::sync::watch::channel(initial);
        crate::tail::spawn(
            Arc::clone(&backend),
            Arc::clone(&bell),
            size_tx,
            running.enter(),
        )?;
        let registry = load_registry(&*backend)?;
        let opened = Opened {
            backend: backend.name(),
            origin: origin.clone(),
        };
        Ok((
            Store {
                inner: Arc::new(Inner {
                    bell,
                    size_rx,
                    backend,
                    key,
                    origin,
                    jobs,
                    registry: RwLock::new((Instant::now(), Arc::new(registry))),
                    reload: Mutex::new(None),
                    registry_loads: AtomicU64::new(1),
                    max_statement_bytes: config.max_statement_bytes,
                    tokens: TokenCache::new(),
                    running,
                }),
            },
            opened,
        ))
    }

    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    pub fn backend(&self) -> &dyn Backend {
        &*self.inner.backend
    }

    pub fn service_key(&self) -> &ServiceKey {
        &self.inner.key
    }

    /// Closes the store and waits (at most `timeout`) for its background threads to let go
    /// of the database: what a short-lived process does before it exits, so that no thread
    /// is in the middle of a query (and its TLS) while the process tears down. Other handles
    /// to this store keep it open; then this only waits out the timeout.
    pub fn close(self, timeout: std::time::Duration) -> bool {
        let running = Arc::clone(&self.inner.running);
        drop(self);
        running.wait_idle(timeout)
    }

    pub fn max_statement_bytes(&self) -> usize {
        self.inner.max_statement_bytes
    }

    /// The registry snapshot in memory, unless it is older than [`REGISTRY_TTL`].
    fn cached_registry(&self) -> Option<Arc<Registry>> {
        let r = self
            .inner
            .registry
            .read()
            .unwrap_or_else(|p| p.into_inner());
        (r.0.elapsed() < REGISTRY_TTL).then(|| Arc::clone(&r.1))
    }

    /// The registry snapshot in memory, whatever its age.
    fn current_registry(&self) -> Arc<Registry> {
        let r = self
            .inner
            .registry
            .read()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(&r.1)
    }

    /// Reads the registry from the database and makes it the snapshot.
    fn load_registry(&self) -> Result<Arc<Registry>, StoreError> {
        let fresh = Arc::new(load_registry(&*self.inner.backend)?);
        self.inner.registry_loads.fetch_add(1, Ordering::Relaxed);
        *self
            .inner
            .registry
            .write()
            .unwrap_or_else(|p| p.into_inner()) = (Instant::now(), Arc::clone(&fresh));
        Ok(fresh)
    }

    /// How many times the registry has been read from the database since the store was
    /// opened (the first read included): for monitoring, and for tests of the rate limit.
    pub fn registry_loads(&self) -> u64 {
        self.inner.registry_loads.load(Ordering::Relaxed)
    }

    fn registry(&self, force: bool) -> Result<Arc<Registry>, StoreError> {
        if !force {
            if let Some(r) = self.cached_registry() {
                return Ok(r);
            }
        }
        self.load_registry()
    }

    /// The snapshot for a submission, and whether it was read from the database for it (when
    /// the one in memory was stale). Concurrent requests finding it stale make one read.
    fn submission_registry(&self) -> Result<(Arc<Registry>, bool), StoreError> {
        if let Some(r) = self.cached_registry() {
            return Ok((r, false));
        }
        let _reading = self.inner.reload.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = self.cached_registry() {
            return Ok((r, false));
        }
        Ok((self.load_registry()?, true))
    }

    /// A registry newer than `used`, which refused a submission as from an unknown issuer (or
    /// by policy): the snapshot in memory if another request has replaced `used` since, else
    /// one read from the database, unless a refused submission caused a read less than
    /// [`MIN_REFUSAL_RELOAD_INTERVAL`] ago. `None`: nothing newer.
    fn registry_newer_than(
        &self,
        used: &Arc<Registry>,
    ) -> Result<Option<Arc<Registry>>, StoreError> {
        let mut last = self.inner.reload.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current_registry();
        if !Arc::ptr_eq(&current, used) {
            return Ok(Some(current));
        }
        if last.is_some_and(|t| t.elapsed() < MIN_REFUSAL_RELOAD_INTERVAL) {
            return Ok(None);
        }
        *last = Some(Instant::now());
        self.load_registry().map(Some)
    }

    /// Certifies a submission and queues it for sequencing. Refusals come back at once; the
    /// ticket resolves when the entry is durable.
    ///
    /// The registry is read from the database at most once per call, and a refusal causes a
    /// read at most once per [`MIN_REFUSAL_RELOAD_INTERVAL`] across calls.
    pub fn submit(&self, kind: EntryKind, bytes: &[u8]) -> Result<Ticket, StoreError> {
        self.submit_deferred(kind, bytes, Deferred::default())
    }

    /// [`Store::submit`] for a statement [`Store::try_submit_cached`] deferred: the snapshot
    /// that refused it is not tried again.
    pub fn submit_deferred(
        &self,
        kind: EntryKind,
        bytes: &[u8],
        deferred: Deferred,
    ) -> Result<Ticket, StoreError> {
        let limit = self.inner.max_statement_bytes;
        let (registry, just_read, refusal) = match deferred.refused {
            Some((registry, refusal)) => (registry, false, refusal),
            None => {
                let (registry, just_read) = self.submission_registry()?;
                match admission::admit(kind, bytes, &registry, limit) {
                    Err(refusal @ (Refusal::UnknownIssuer(_) | Refusal::NotAllowed(_))) => {
                        (registry, just_read, refusal)
                    }
                    other => return Ok(self.enqueue(other?)),
                }
            }
        };
        // Another process may have registered the issuer a moment ago.
        let newer = if just_read {
            None
        } else {
            self.registry_newer_than(&registry)?
        };
        match newer {
            Some(newer) => Ok(self.enqueue(admission::admit(kind, bytes, &newer, limit)?)),
            None => Err(refusal.into()),
        }
    }

    /// [`Store::submit`] without the database: admits with the registry snapshot in memory,
    /// or returns `None` when the database may be needed — the snapshot is stale, or the
    /// issuer is unknown to it or its policy refuses (a fresh snapshot might not). The caller
    /// then uses [`Store::submit`] where blocking is allowed. Never blocks: what it costs is
    /// parsing the statement and checking its signature, so an async task may call it for a
    /// small statement.
    pub fn submit_cached(
        &self,
        kind: EntryKind,
        bytes: &[u8],
    ) -> Option<Result<Ticket, StoreError>> {
        match self.try_submit_cached(kind, bytes) {
            CachedAdmission::Done(r) => Some(r),
            CachedAdmission::Deferred(_) => None,
        }
    }

    /// [`Store::submit_cached`], handing back what a deferred admission already found, for
    /// [`Store::submit_deferred`] (so that one request admits against one snapshot once).
    pub fn try_submit_cached(&self, kind: EntryKind, bytes: &[u8]) -> CachedAdmission {
        let Some(registry) = self.cached_registry() else {
            return CachedAdmission::Deferred(Deferred::default());
        };
        match admission::admit(kind, bytes, &registry, self.inner.max_statement_bytes) {
            Ok(entry) => CachedAdmission::Done(Ok(self.enqueue(entry))),
            Err(refusal @ (Refusal::UnknownIssuer(_) | Refusal::NotAllowed(_))) => {
                CachedAdmission::Deferred(Deferred {
                    refused: Some((registry, refusal)),
                })
            }
            Err(refusal) => CachedAdmission::Done(Err(refusal.into())),
        }
    }

    fn enqueue(&self, entry: NewEntry) -> Ticket {
        let (reply, rx) = oneshot::channel();
        let statement_hash = entry.statement_hash;
        // A send error means the sequencer is gone; the ticket then reports SequencerStopped.
        let _ = self.inner.jobs.send(Job { entry, reply });
        Ticket { rx, statement_hash }
    }

    /// [`Store::submit`] and wait (not from async code).
    pub fn register(&self, kind: EntryKind, bytes: &[u8]) -> Result<Registration, StoreError> {
        self.submit(kind, bytes)?.wait()
    }

    pub fn entry(&self, index: u64) -> Result<Option<EntryRecord>, StoreError> {
        self.inner.backend.entry(index)
    }

    /// The entry registered from a statement with this SHA-256 (the compatibility API's
    /// operation id).
    pub fn entry_by_statement(&self, hash: &Hash) -> Result<Option<EntryRecord>, StoreError> {
        self.inner.backend.entry_by_statement(hash)
    }

    /// The statement as registered.
    pub fn statement(&self, index: u64) -> Result<Option<(EntryRecord, Vec<u8>)>, StoreError> {
        let Some(entry) = self.entry(index)? else {
            return Ok(None);
        };
        let statement = self
            .inner
            .backend
            .statement(index)?
            .ok_or_else(|| StoreError::corrupt(format!("no statement for entry {index}")))?;
        Ok(Some((entry, statement)))
    }

    pub fn checkpoint(&self) -> Result<Option<CheckpointRecord>, StoreError> {
        self.inner.backend.latest_checkpoint()
    }

    /// The checkpoint a proof for `index` is made against: the newest.
    fn head_covering(&self, index: u64) -> Result<CheckpointRecord, StoreError> {
        match self.inner.backend.latest_checkpoint()? {
            Some(c) if c.size > index => Ok(c),
            _ => Err(StoreError::NoEntry(EntryId(index).to_string())),
        }
    }

    /// A COSE receipt (RFC 9942, vds 1) for entry `index` against the newest checkpoint,
    /// signed now.
    pub fn receipt(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        let entry = self
            .entry(index)?
            .ok_or_else(|| StoreError::NoEntry(EntryId(index).to_string()))?;
        let head = self.head_covering(index)?;
        let path = merkle::inclusion_proof(&Reader(&*self.inner.backend), index, head.size)
            .map_err(proof_err)?;
        let proof = InclusionProof {
            tree_size: head.size,
            leaf_index: index,
            path,
        };
        let header = ReceiptHeader {
            kid: self.inner.key.kid.clone(),
            iss: self.inner.origin.clone(),
            sub: None,
            iat: Some(now_ms() / 1000),
        };
        build_receipt_for_leaf(
            &entry.leaf_hash,
            &proof,
            &head.root,
            &header,
            &self.inner.key.private,
        )
        .map_err(|e| StoreError::corrupt(format!("receipt for entry {index}: {e}")))
    }

    /// An inclusion proof for `index` in the tree of `size` leaves (default: the newest).
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProofJson, StoreError> {
        let entry = self
            .entry(index)?
            .ok_or_else(|| StoreError::NoEntry(EntryId(index).to_string()))?;
        let head = self.head_covering(index)?;
        let size = size.unwrap_or(head.size);
        if size > head.size || size <= index {
            return Err(StoreError::BadRequest(format!(
                "tree size {size} does not contain entry {index} (the log has {})",
                head.size
            )));
        }
        let reader = Reader(&*self.inner.backend);
        let path = merkle::inclusion_proof(&reader, index, size).map_err(proof_err)?;
        let root = merkle::root_at(&reader, size).map_err(proof_err)?;
        Ok(InclusionProofJson {
            leaf_index: index,
            tree_size: size,
            leaf_hash: hex::encode(entry.leaf_hash),
            root: hex::encode(root),
            path: path.iter().map(hex::encode).collect(),
        })
    }

    /// A consistency proof between the trees of `first` and `second` leaves.
    pub fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, StoreError> {
        let size = self.checkpoint()?.map_or(0, |c| c.size);
        if first > second || second > size {
            return Err(StoreError::BadRequest(format!(
                "no consistency proof from {first} to {second} (the log has {size})"
            )));
        }
        let reader = Reader(&*self.inner.backend);
        let path = merkle::consistency_proof(&reader, first, second).map_err(proof_err)?;
        Ok(ConsistencyProof {
            first,
            second,
            first_root: hex::encode(merkle::root_at(&reader, first).map_err(proof_err)?),
            second_root: hex::encode(merkle::root_at(&reader, second).map_err(proof_err)?),
            path: path.iter().map(hex::encode).collect(),
        })
    }

    /// Every published service key, retired ones included.
    pub fn service_keys(&self) -> Result<Vec<CoseKey>, StoreError> {
        self.inner
            .backend
            .service_keys()?
            .into_iter()
            .map(|(_, k)| CoseKey::decode(&k).map_err(|e| StoreError::corrupt(e.to_string())))
            .collect()
    }

    /// Logs a change the service itself makes (identities, registration policy) as a
    /// statement it signs, so the log records who could register what, and when.
    fn log_own_statement(
        &self,
        content_type: &str,
        sub: &str,
        payload: &serde_json::Value,
    ) -> Result<Registration, StoreError> {
        let header = StatementHeader {
            iss: self.inner.origin.clone(),
            sub: sub.to_owned(),
            content_type: Some(content_type.to_owned()),
            kid: Some(self.inner.key.kid.clone()),
        };
        let bytes = SignedStatement::sign(
            &header,
            payload.to_string().as_bytes(),
            &self.inner.key.private,
        )?;
        let st = SignedStatement::parse(&bytes)?;
        let leaf = st.leaf_entry()?;
        let policy_version = self.registry(false)?.policy_version;
        let entry = NewEntry {
            kind: EntryKind::Cose,
            leaf_hash: merkle::leaf_hash(&leaf),
            statement_hash: *Sha256::digest(&bytes).as_bytes(),
            statement: bytes,
            iss: self.inner.origin.clone(),
            sub: sub.to_owned(),
            statement_type: content_type.to_owned(),
            subjects: serde_json::json!([{ "name": sub }]).to_string(),
            policy_version,
        };
        self.enqueue(entry).wait()
    }

    /// Registers an issuer key with a role, and logs the change. Returns the log entry, or
    /// `None` when that key already had that role.
    pub fn add_issuer(
        &self,
        iss: &str,
        role: Role,
        key: &PublicKey,
    ) -> Result<Option<Registration>, StoreError> {
        if iss.is_empty() {
            return Err(StoreError::BadRequest("the issuer (iss) is empty".into()));
        }
        let record = IssuerRecord {
            iss: iss.to_owned(),
            role,
            spki: key.spki_der().to_vec(),
            added_ms: now_ms(),
        };
        if !self.inner.backend.add_issuer(&record)? {
            return Ok(None);
        }
        self.registry(true)?;
        let payload = serde_json::json!({
            "action": "issuer-added",
            "iss": iss,
            "role": role.name(),
            "publicKey": base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                key.spki_der()
            ),
            "keyid": key.keyid().as_str(),
        });
        self.log_own_statement(IDENTITY_CHANGE_TYPE, iss, &payload)
            .map(Some)
    }

    /// Registers an X.509 trust anchor (a CA certificate, DER) for `iss`: its COSE statements
    /// carrying an `x5chain` that leads to the anchor are accepted as `iss`'s. Logged like
    /// every identity change; `None` when already registered.
    pub fn add_trust_anchor(
        &self,
        iss: &str,
        role: Role,
        certificate_der: &[u8],
    ) -> Result<Option<Registration>, StoreError> {
        if iss.is_empty() {
            return Err(StoreError::BadRequest("the issuer (iss) is empty".into()));
        }
        let der = sbomit_scitt::x509::certificate_der(certificate_der)
            .map_err(|e| StoreError::BadRequest(e.to_string()))?;
        let record = IssuerRecord {
            iss: iss.to_owned(),
            role,
            spki: der.clone(),
            added_ms: now_ms(),
        };
        if !self.inner.backend.add_trust_anchor(&record)? {
            return Ok(None);
        }
        self.registry(true)?;
        let payload = serde_json::json!({
            "action": "trust-anchor-added",
            "iss": iss,
            "role": role.name(),
            "certificate": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der),
            "sha256": hex::encode(Sha256::digest(&der).as_bytes()),
        });
        self.log_own_statement(IDENTITY_CHANGE_TYPE, iss, &payload)
            .map(Some)
    }

    pub fn trust_anchors(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.inner.backend.trust_anchors()
    }

    pub fn issuers(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.inner.backend.issuers()
    }

    /// Every registered identity, keys and trust anchors, with the id `issuer remove` takes.
    pub fn identities(&self) -> Result<Vec<Identity>, StoreError> {
        let mut out = Vec::new();
        for r in self.inner.backend.issuers()? {
            let id = PublicKey::from_spki(&r.spki)
                .map(|k| k.keyid().as_str().to_owned())
                .map_err(|e| StoreError::corrupt(format!("issuer {} key: {e}", r.iss)))?;
            out.push(Identity {
                id,
                trust_anchor: false,
                record: r,
            });
        }
        for r in self.inner.backend.trust_anchors()? {
            out.push(Identity {
                id: hex::encode(Sha256::digest(&r.spki).as_bytes()),
                trust_anchor: true,
                record: r,
            });
        }
        Ok(out)
    }

    /// Removes every identity whose id (a key id, or a trust anchor's SHA-256, as
    /// [`Store::identities`] lists them) is `id`, optionally only those of `iss`; each removal
    /// is logged. Returns the log entries, one per identity removed (none: nothing matched).
    pub fn remove_identity(
        &self,
        id: &str,
        iss: Option<&str>,
    ) -> Result<Vec<(Identity, Registration)>, StoreError> {
        let id = id.trim().to_ascii_lowercase();
        let matching: Vec<Identity> = self
            .identities()?
            .into_iter()
            .filter(|i| i.id == id && iss.is_none_or(|iss| i.record.iss == iss))
            .collect();
        let mut out = Vec::new();
        for identity in matching {
            let r = &identity.record;
            let removed = if identity.trust_anchor {
                self.inner.backend.remove_trust_anchor(r)?
            } else {
                self.inner.backend.remove_issuer(r)?
            };
            if !removed {
                continue;
            }
            self.registry(true)?;
            let payload = serde_json::json!({
                "action": if identity.trust_anchor { "trust-anchor-removed" } else { "issuer-removed" },
                "iss": r.iss,
                "role": r.role.name(),
                "id": identity.id,
            });
            let reg = self.log_own_statement(IDENTITY_CHANGE_TYPE, &r.iss, &payload)?;
            out.push((identity, reg));
        }
        Ok(out)
    }

    /// Replaces the registration policy; returns the new version and its log entry.
    pub fn set_registration_policy(
        &self,
        document: &[u8],
    ) -> Result<(i64, Registration), StoreError> {
        let policy = RegistrationPolicy::parse(document)
            .map_err(|e| StoreError::BadRequest(e.to_string()))?;
        let json = policy.to_json();
        let version = self.inner.backend.add_policy(&json, now_ms())?;
        self.registry(true)?;
        let payload = serde_json::json!({
            "action": "registration-policy",
            "version": version,
            "policy": serde_json::to_value(&policy).unwrap_or_default(),
        });
        let reg = self.log_own_statement(
            REGISTRATION_POLICY_TYPE,
            &format!("registration-policy/{version}"),
            &payload,
        )?;
        Ok((version, reg))
    }

    /// The registration policy of `version` (default: the current one).
    pub fn registration_policy(
        &self,
        version: Option<i64>,
    ) -> Result<Option<(i64, String)>, StoreError> {
        match version {
            None => self.inner.backend.latest_policy().map(Some),
            Some(v) => Ok(self.inner.backend.policy(v)?.map(|d| (v, d))),
        }
    }

    /// Creates an API token that does not expire; only its SHA-256 is stored. The token is
    /// returned once.
    pub fn create_token(&self, scope: Scope, label: &str) -> Result<String, StoreError> {
        self.create_token_expiring(scope, label, None)
    }

    /// Creates an API token refused from `expires_ms` (Unix milliseconds) on, if given.
    pub fn create_token_expiring(
        &self,
        scope: Scope,
        label: &str,
        expires_ms: Option<i64>,
    ) -> Result<String, StoreError> {
        let mut raw = [0u8; 32];
        sbomit_crypto::random_bytes(&mut raw).map_err(StoreError::Random)?;
        let token = format!("sbomit_{}", hex::encode(raw));
        self.inner.backend.add_token(&TokenRecord {
            hash: token_hash(&token),
            scope,
            label: label.to_owned(),
            created_ms: now_ms(),
            expires_ms,
            revoked_ms: None,
        })?;
        self.inner.tokens.reload(&*self.inner.backend)?;
        Ok(token)
    }

    /// Every token (id, scope, label, lifetime; never the secret), oldest first.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        Ok(self
            .inner
            .backend
            .tokens()?
            .iter()
            .map(TokenInfo::of)
            .collect())
    }

    /// Revokes the token whose id (as [`Store::tokens`] lists it) starts with `id`: refused
    /// at once by this process, and by other processes on the database within
    /// [`crate::tokens::TOKEN_TTL`]. Returns it, or `None` when it was revoked already.
    pub fn revoke_token(&self, id: &str) -> Result<Option<TokenInfo>, StoreError> {
        let hash = self.inner.tokens.resolve(&*self.inner.backend, id)?;
        let revoked = self.inner.backend.revoke_token(&hash, now_ms())?;
        self.inner.tokens.reload(&*self.inner.backend)?;
        if !revoked {
            return Ok(None);
        }
        Ok(self
            .inner
            .backend
            .tokens()?
            .iter()
            .find(|t| t.hash == hash)
            .map(TokenInfo::of))
    }

    /// What a presented token is worth now. Answered from memory; the table is read only
    /// when the snapshot is stale, or for an unknown token at most every
    /// [`crate::tokens::MIN_MISS_RELOAD_INTERVAL`] (see [`crate::tokens`]).
    pub fn token_status(&self, token: &str) -> Result<TokenStatus, StoreError> {
        self.inner
            .tokens
            .check(&*self.inner.backend, &token_hash(token), now_ms())
    }

    /// [`Store::token_status`] if it can be answered without the database (it never blocks);
    /// `None` when [`Store::token_status`] must read the table.
    pub fn token_status_cached(&self, token: &str) -> Option<TokenStatus> {
        self.inner.tokens.cached(&token_hash(token), now_ms())
    }

    /// The scope of a presented token, if it is one of ours and neither expired nor revoked.
    pub fn token_scope(&self, token: &str) -> Result<Option<Scope>, StoreError> {
        Ok(match self.token_status(token)? {
            TokenStatus::Valid(scope) => Some(scope),
            _ => None,
        })
    }

    /// How many times the tokens were read from the database since the store was opened: for
    /// monitoring, and for tests that random tokens cannot make many.
    pub fn token_loads(&self) -> u64 {
        self.inner.tokens.loads()
    }

    pub fn storage_bytes(&self) -> Result<u64, StoreError> {
        self.inner.backend.storage_bytes()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The sequencer ends with its channel; the tail needs telling.
        self.bell
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.bell.ring();
    }
}

impl Store {
    /// The committed tree size, updated as batches commit (here or, on PostgreSQL, in other
    /// processes): what live event streams wait on.
    pub fn watch_size(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.size_rx.clone()
    }

    /// Entries with index ≥ `from`, in order.
    pub fn entries_from(&self, from: u64, limit: usize) -> Result<Vec<EntryRecord>, StoreError> {
        self.inner.backend.entries_from(from, limit)
    }

    /// How many entries the graph index covers.
    pub fn indexed(&self) -> Result<u64, StoreError> {
        self.inner.backend.graph_cursor()
    }

    /// Waits (blocking) until the graph index covers the first `size` entries.
    pub fn wait_indexed(&self, size: u64, timeout: Duration) -> Result<bool, StoreError> {
        let until = Instant::now() + timeout;
        loop {
            if self.indexed()? >= size {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            self.inner.bell.ring();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// How an entry was indexed: its fact kind and, for content that could not be read, why.
    pub fn index_status(&self, index: u64) -> Result<Option<(String, Option<String>)>, StoreError> {
        self.inner.backend.graph_entry(index)
    }

    pub fn components(
        &self,
        target: &crate::query::Target,
        walk: &crate::query::Walk,
    ) -> Result<crate::query::GraphAnswer, StoreError> {
        crate::query::components(&*self.inner.backend, target, walk)
    }

    pub fn dependents(
        &self,
        target: &crate::query::Target,
        walk: &crate::query::Walk,
    ) -> Result<crate::query::GraphAnswer, StoreError> {
        crate::query::dependents(&*self.inner.backend, target, walk)
    }

    pub fn affected(
        &self,
        vuln_id: &str,
        walk: &crate::query::Walk,
    ) -> Result<crate::query::GraphAnswer, StoreError> {
        crate::query::affected(&*self.inner.backend, vuln_id, walk)
    }

    /// Evidence about `about` (a target, or `Err((iss, sub))` for an issuer's statements):
    /// `(resolved node keys, entries, database round trips)`.
    pub fn evidence(
        &self,
        about: Result<&crate::query::Target, (&str, Option<&str>)>,
        filter: &crate::backend::EvidenceFilter,
    ) -> Result<(Vec<String>, Vec<EntryRecord>, u32), StoreError> {
        crate::query::evidence(&*self.inner.backend, about, filter)
    }
}

/// Encodes the published service keys as a COSE_KeySet.
pub fn encode_key_set(keys: &[CoseKey]) -> Result<Vec<u8>, StoreError> {
    Ok(cose::encode_key_set(keys)?)
}
