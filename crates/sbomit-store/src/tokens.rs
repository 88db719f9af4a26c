//! API tokens in memory: every token check is answered from a snapshot of the `tokens` table,
//! never by a database round trip of its own, so a flood of made-up tokens costs the database
//! nothing but the bounded reloads below.
//!
//! * The snapshot is re-read when older than [`TOKEN_TTL`]: a token revoked (or created) by
//!   another process — `sbomit store token revoke`, another `serve` on the same PostgreSQL —
//!   takes effect here within that time. Changes made through this process's [`Store`]
//!   (create, revoke) take effect at once.
//! * A token not in the snapshot makes it re-read, unless a miss did less than
//!   [`MIN_MISS_RELOAD_INTERVAL`] ago: a token created a moment ago elsewhere is found, and
//!   random tokens cause at most a few reads a second, whatever their number.
//! * Memory is the size of the table: nothing a client sends is kept.
//!
//! [`Store`]: crate::Store

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sbomit_intoto::digest::Sha256;
use sbomit_tlog::merkle::Hash;

use crate::backend::{Backend, Scope, TokenRecord};
use crate::StoreError;

/// How long the snapshot of the tokens is trusted: the longest a revocation made by another
/// process goes unnoticed here.
pub const TOKEN_TTL: Duration = Duration::from_secs(1);

/// The least time between two reloads caused by unknown tokens.
pub const MIN_MISS_RELOAD_INTERVAL: Duration = Duration::from_millis(250);

/// Hex digits of a token's id: a prefix of its SHA-256, which is all the store keeps.
const ID_HEX: usize = 16;
/// The shortest id prefix `revoke` accepts.
const MIN_ID_PREFIX: usize = 8;

/// What a presented token is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStatus {
    Valid(Scope),
    Expired,
    Revoked,
    /// Not one of ours.
    Unknown,
}

/// A token as the operator sees it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// The first 16 hex digits of the token's SHA-256.
    pub id: String,
    pub scope: Scope,
    pub label: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

impl TokenInfo {
    pub(crate) fn of(r: &TokenRecord) -> Self {
        TokenInfo {
            id: token_id(&r.hash),
            scope: r.scope,
            label: r.label.clone(),
            created_ms: r.created_ms,
            expires_ms: r.expires_ms,
            revoked_ms: r.revoked_ms,
        }
    }
}

pub(crate) fn token_id(hash: &Hash) -> String {
    let mut id = hex::encode(hash);
    id.truncate(ID_HEX);
    id
}

pub(crate) fn token_hash(token: &str) -> Hash {
    *Sha256::digest(token.as_bytes()).as_bytes()
}

/// A token's status at `now_ms`.
fn status(r: &TokenRecord, now_ms: i64) -> TokenStatus {
    if r.revoked_ms.is_some() {
        TokenStatus::Revoked
    } else if r.expires_ms.is_some_and(|e| now_ms >= e) {
        TokenStatus::Expired
    } else {
        TokenStatus::Valid(r.scope)
    }
}

struct Snapshot {
    read_at: Instant,
    tokens: HashMap<Hash, TokenRecord>,
}

/// The snapshot and its reload bookkeeping.
pub(crate) struct TokenCache {
    /// `None` until first read.
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// Held while reloading: concurrent checks wait for one read.
    reload: Mutex<()>,
    /// When a miss last caused a reload (held only to read or set it).
    last_miss: Mutex<Option<Instant>>,
    loads: AtomicU64,
}

impl TokenCache {
    pub(crate) fn new() -> Self {
        TokenCache {
            snapshot: RwLock::new(None),
            reload: Mutex::new(()),
            last_miss: Mutex::new(None),
            loads: AtomicU64::new(0),
        }
    }

    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        self.current().filter(|s| s.read_at.elapsed() < TOKEN_TTL)
    }

    /// Reads the table; the caller holds `reload`.
    pub(crate) fn load(&self, backend: &dyn Backend) -> Result<(), StoreError> {
        let tokens = backend.tokens()?;
        self.loads.fetch_add(1, Ordering::Relaxed);
        let snapshot = Snapshot {
            read_at: Instant::now(),
            tokens: tokens.into_iter().map(|t| (t.hash, t)).collect(),
        };
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(snapshot));
        Ok(())
    }

    /// Reloads now (after a change made through this process).
    pub(crate) fn reload(&self, backend: &dyn Backend) -> Result<(), StoreError> {
        let _g = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        self.load(backend)
    }

    /// The status of `hash` from memory, or `None` when the snapshot must be read first.
    pub(crate) fn cached(&self, hash: &Hash, now_ms: i64) -> Option<TokenStatus> {
        let snap = self.fresh()?;
        if let Some(r) = snap.tokens.get(hash) {
            return Some(status(r, now_ms));
        }
        self.miss_reload_too_soon().then_some(TokenStatus::Unknown)
    }

    /// The status of `hash`, reading the table when the snapshot is stale or (at most every
    /// [`MIN_MISS_RELOAD_INTERVAL`]) when it does not hold the token.
    pub(crate) fn check(
        &self,
        backend: &dyn Backend,
        hash: &Hash,
        now_ms: i64,
    ) -> Result<TokenStatus, StoreError> {
        if let Some(s) = self.cached(hash, now_ms) {
            return Ok(s);
        }
        let _reading = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        // Another check may have reloaded while this one waited.
        let (snap, just_read) = match self.fresh() {
            Some(s) => (s, false),
            None => {
                self.load(backend)?;
                let s = self
                    .current()
                    .ok_or_else(|| StoreError::corrupt("the token snapshot"))?;
                (s, true)
            }
        };
        if let Some(r) = snap.tokens.get(hash) {
            return Ok(status(r, now_ms));
        }
        if just_read || self.miss_reload_too_soon() {
            return Ok(TokenStatus::Unknown);
        }
        *self.last_miss.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.load(backend)?;
        Ok(self
            .current()
            .and_then(|s| s.tokens.get(hash).map(|r| status(r, now_ms)))
            .unwrap_or(TokenStatus::Unknown))
    }

    fn miss_reload_too_soon(&self) -> bool {
        self.last_miss
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() < MIN_MISS_RELOAD_INTERVAL)
    }

    /// The hash of the one token whose id starts with `id` (at least 8 hex digits).
    pub(crate) fn resolve(&self, backend: &dyn Backend, id: &str) -> Result<Hash, StoreError> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < MIN_ID_PREFIX || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::BadRequest(format!(
                "{id:?} is not a token id (at least {MIN_ID_PREFIX} hex digits, as `token list` \
                 shows)"
            )));
        }
        let matching: Vec<Hash> = backend
            .tokens()?
            .into_iter()
            .map(|t| t.hash)
            .filter(|h| hex::encode(h).starts_with(&id))
            .collect();
        match matching.as_slice() {
            [one] => Ok(*one),
            [] => Err(StoreError::NoEntry(format!("token {id}"))),
            _ => Err(StoreError::BadRequest(format!(
                "token id {id} is ambiguous: give more of it"
            ))),
        }
    }
}
