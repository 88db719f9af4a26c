//! What every handler shares: the store, the settings, the registrations in flight, and the
//! helpers that run store calls off the runtime threads, read bodies within the limit and
//! check tokens.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use sbomit_store::admission::EntryKind;
use sbomit_store::backend::Scope;
use sbomit_store::tokens::TokenStatus;
use sbomit_store::{CachedAdmission, Deferred, Registration, Store, StoreError};
use sbomit_tlog::merkle::Hash;

use crate::limits::{RateLimiter, StreamSlots};
use crate::problem::ApiError;
use crate::ServerConfig;

/// The registrations this process remembers for `GET /operations/{id}`: enough for clients
/// polling after a 303/202, bounded so a flood of submissions cannot grow memory without end.
const MAX_OPERATIONS: usize = 65_536;

/// Submissions up to this size are admitted on the async runtime's threads (tens of
/// microseconds of parsing); larger ones, whose parsing grows with them, on the blocking pool.
const MAX_INLINE_ADMISSION: usize = 16 << 10;

/// Where a registration is, as this process saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpState {
    Running,
    Done(u64),
    Failed,
}

#[derive(Default)]
pub struct Operations {
    inner: Mutex<(HashMap<Hash, OpState>, VecDeque<Hash>)>,
}

impl Operations {
    pub fn set(&self, id: Hash, state: OpState) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *g;
        if map.insert(id, state).is_none() {
            order.push_back(id);
        }
        // Forget the oldest finished operations first; a running one is kept (its id moves to
        // the back), and at most one pass is made, so this stays O(len) in the worst case.
        let mut budget = order.len();
        while map.len() > MAX_OPERATIONS && budget > 0 {
            budget -= 1;
            let Some(old) = order.pop_front() else { break };
            if map.get(&old) == Some(&OpState::Running) {
                order.push_back(old);
            } else {
                map.remove(&old);
            }
        }
    }

    pub fn get(&self, id: &Hash) -> Option<OpState> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0.get(id).copied()
    }
}

/// Settings the handlers read.
#[derive(Clone, Debug)]
pub struct Settings {
    pub max_body_bytes: usize,
    /// The body limit of a registration without a valid submit token (at most
    /// `max_body_bytes`).
    pub max_anonymous_body_bytes: usize,
    pub read_public: bool,
    pub submit_token_required: bool,
    pub registration_wait: Duration,
    pub compat_pyscitt: bool,
    pub request_timeout: Duration,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub ops: Arc<Operations>,
    /// Admissions running at once. Admission is CPU work (parsing, a signature check):
    /// running more at once than there are cores gains nothing, and each one beyond takes a
    /// blocking-pool thread — 512 connections made ~260 threads, each with its own allocator
    /// heap faulting in fresh memory, a fifth of the server's CPU.
    admissions: Arc<tokio::sync::Semaphore>,
    /// Requests without a valid token, per client address (`None`: no limit).
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// The event streams open.
    pub streams: Arc<StreamSlots>,
}

/// The outcome of a registration request.
pub enum Registered {
    /// Durable: it has a receipt.
    Durable(Registration),
    /// Admitted but not yet durable after the configured wait; poll the operation.
    Pending(Hash),
}

impl AppState {
    pub fn new(store: Store, config: &ServerConfig) -> Self {
        AppState {
            store,
            settings: Arc::new(Settings {
                max_body_bytes: config.max_body_bytes,
                max_anonymous_body_bytes: config
                    .max_anonymous_body_bytes
                    .min(config.max_body_bytes),
                read_public: config.read_public,
                submit_token_required: config.submit_token_required,
                registration_wait: Duration::from_millis(config.registration_wait_ms),
                compat_pyscitt: config.compat_pyscitt,
                request_timeout: Duration::from_millis(config.request_timeout_ms),
            }),
            ops: Arc::new(Operations::default()),
            admissions: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            rate_limiter: (config.anonymous_rate_per_sec > 0).then(|| {
                Arc::new(RateLimiter::new(
                    config.anonymous_rate_per_sec,
                    config.anonymous_burst,
                ))
            }),
            streams: StreamSlots::new(
                config.max_event_streams,
                config.max_event_streams_per_client,
            ),
        }
    }

    /// Runs a blocking store call on the blocking pool: the store's database clients block
    /// (and the synchronous PostgreSQL client panics on a runtime thread).
    pub async fn blocking<T, F>(&self, context: &'static str, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r.map_err(|e| ApiError::store(context, e)),
            Err(e) => Err(ApiError::internal(context, &e)),
        }
    }

    /// Checks the bearer token against `needed`. No token, or one that is unknown, expired
    /// or revoked: 401; one of a lower scope: 403.
    pub async fn require(&self, headers: &HeaderMap, needed: Scope) -> Result<(), ApiError> {
        let token = bearer_token(headers).ok_or_else(ApiError::unauthorized)?;
        let status = match self.store.token_status_cached(&token) {
            Some(status) => status,
            None => {
                self.blocking("checking a token", move |s| s.token_status(&token))
                    .await?
            }
        };
        match status {
            TokenStatus::Valid(scope) if scope.allows(needed) => Ok(()),
            TokenStatus::Valid(scope) => Err(ApiError::forbidden(format!(
                "this token's scope is {}; this request needs {}",
                scope.name(),
                needed.name()
            ))),
            TokenStatus::Expired => Err(ApiError::invalid_token("the token has expired")),
            TokenStatus::Revoked => Err(ApiError::invalid_token("the token has been revoked")),
            TokenStatus::Unknown => Err(ApiError::invalid_token("the token is not valid here")),
        }
    }

    /// The check of a read request.
    pub async fn require_read(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.settings.read_public {
            return Ok(());
        }
        self.require(headers, Scope::Read).await
    }

    /// The check of a submission, giving its body limit: `max_body_bytes` with a valid submit
    /// token, `max_anonymous_body_bytes` without one (where tokens are optional). An optional
    /// token that is not valid is not an error: it only does not raise the limit.
    pub async fn require_submit(&self, headers: &HeaderMap) -> Result<usize, ApiError> {
        let full = self.settings.max_body_bytes;
        if self.settings.submit_token_required {
            self.require(headers, Scope::Submit).await?;
            return Ok(full);
        }
        let anonymous = self.settings.max_anonymous_body_bytes;
        if anonymous >= full || !headers.contains_key(header::AUTHORIZATION) {
            return Ok(anonymous);
        }
        Ok(match self.require(headers, Scope::Submit).await {
            Ok(()) => full,
            Err(_) => anonymous,
        })
    }

    /// Reads a request body of at most `limit` bytes. A declared length over the limit is
    /// refused before reading; a streamed body is cut off at the limit, never buffered whole.
    pub async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<Bytes, ApiError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::too_large(limit));
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err(ApiError::too_large(limit))
            }
            Err(e) => Err(ApiError::bad_request(format!(
                "the request body could not be read: {e}"
            ))),
        }
    }

    /// Admits and queues a submission, then waits up to the configured time for it to be
    /// durable. The wait continues in the background, so a later poll finds the outcome.
    pub async fn register(&self, kind: EntryKind, bytes: Bytes) -> Result<Registered, ApiError> {
        // A small statement is admitted right here when the registry snapshot allows: parsing
        // and one signature check cost less than handing the work to the blocking pool and
        // back (~15 % of the server's CPU per entry). Anything else waits for a blocking
        // thread: the database may be needed.
        // A deferred admission goes on from what the cached one found: one request admits
        // against one registry snapshot once.
        let cached = if bytes.len() <= MAX_INLINE_ADMISSION {
            self.store.try_submit_cached(kind, &bytes)
        } else {
            CachedAdmission::Deferred(Deferred::default())
        };
        let ticket = match cached {
            CachedAdmission::Done(ticket) => {
                ticket.map_err(|e| ApiError::store("admitting a submission", e))?
            }
            CachedAdmission::Deferred(deferred) => {
                let _permit = self
                    .admissions
                    .acquire()
                    .await
                    .map_err(|e| ApiError::internal("admitting a submission", &e))?;
                self.blocking("admitting a submission", move |s| {
                    s.submit_deferred(kind, &bytes, deferred)
                })
                .await?
            }
        };
        let id = ticket.statement_hash;
        self.ops.set(id, OpState::Running);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let ops = Arc::clone(&self.ops);
        tokio::spawn(async move {
            let r = ticket.recv().await;
            ops.set(
                id,
                match &r {
                    Ok(reg) => OpState::Done(reg.index),
                    Err(_) => OpState::Failed,
                },
            );
            // The requester may have stopped waiting; the outcome is in `ops` anyway.
            let _ = tx.send(r);
        });
        match tokio::time::timeout(self.settings.registration_wait, rx).await {
            Ok(Ok(Ok(reg))) => Ok(Registered::Durable(reg)),
            Ok(Ok(Err(e))) => Err(ApiError::store("registering an entry", e)),
            Ok(Err(e)) => Err(ApiError::internal("registering an entry", &e)),
            Err(_) => Ok(Registered::Pending(id)),
        }
    }

    /// Where the registration with statement hash `id` is: this process's memory first, then
    /// the log (another process, or an earlier run, may have registered it).
    pub async fn operation(&self, id: Hash) -> Result<Option<OpState>, ApiError> {
        match self.ops.get(&id) {
            Some(OpState::Running) | None => {}
            known => return Ok(known),
        }
        let found = self
            .blocking("looking up an operation", move |s| {
                s.entry_by_statement(&id)
            })
            .await?;
        Ok(match found {
            Some(e) => Some(OpState::Done(e.index)),
            None => self.ops.get(&id),
        })
    }
}

/// The bearer token of a request, if it carries a plausible one (at most 256 bytes).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .map(str::to_owned)
}

/// Whether the request's media type (parameters ignored) is one of `accepted`.
pub fn content_type_is(headers: &HeaderMap, accepted: &[&str]) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .is_some_and(|t| accepted.iter().any(|a| t.eq_ignore_ascii_case(a)))
}

/// Whether the request's `Accept` names `media_type` explicitly.
pub fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').any(|part| {
                part.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(media_type))
            })
        })
    })
}

/// Parses an operation id: the statement's SHA-256 in hex.
pub fn parse_operation_id(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    let bytes = hex::decode(s).ok()?;
    bytes.try_into().ok()
}
