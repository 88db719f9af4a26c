//! PostgreSQL: several `serve` processes on one database. Appends run under a
//! transaction-scoped advisory lock, so exactly one process sequences at a time and each
//! batch sees the head the previous one committed. Batches go in with one statement per table
//! (`unnest` over arrays), not one round trip per row.
//!
//! Connections: a bounded pool (`deadpool-postgres`) of asynchronous `tokio-postgres`
//! connections, driven by one small runtime per backend (not one per connection). The
//! [`Backend`] methods stay blocking: each runs its queries on the calling thread with
//! `Handle::block_on` (the sequencer and tail threads, the server's `spawn_blocking` threads),
//! so, as before, they must not be called from an async task. Statements are prepared once
//! per connection and cached, so a query is one round trip.
//!
//! The URL is libpq's, plus two parameters of ours, removed before it is parsed:
//! * `pool_size=N`: at most N connections (default [`DEFAULT_POOL_SIZE`]); callers beyond
//!   that wait for a free one.
//! * `sslrootcert=PATH`: PEM certificates to verify the server with instead of the
//!   webpki (Mozilla) roots.
//!
//! TLS follows `sslmode` (rustls, aws-lc-rs): `disable`; `prefer` (the default) encrypts
//! when the server offers TLS, without checking its certificate unless `sslrootcert` is given
//! (libpq's behaviour: a server with a self-signed certificate keeps working); `require`
//! refuses a server without TLS and verifies its certificate and host name against the
//! roots (what libpq calls `verify-full`).
//!
//! Tests isolate themselves with the standard `options=-csearch_path%3DNAME` URL parameter.

use std::sync::Arc;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use sbomit_tlog::merkle::{Hash, NodeId};

use super::{
    check_schema, clean, frontier, graph_schema, hash_from, kind_from, log_schema,
    migrate_v1_to_v2, plan_batch, role_from, scope_from, Appended, Backend, CheckpointRecord,
    EntryRecord, EvidenceFilter, EvidenceSelector, IssuerRecord, NodeField, SchemaState, Seal,
    ServiceKeyRecord, TokenRecord, INLINE_STATEMENT_MAX, SCHEMA_VERSION,
};
use crate::admission::NewEntry;
use crate::graph::{Facts, Node, VulnStatus};
use crate::StoreError;

/// The advisory lock key of the sequencer (and of schema creation): "sbomit" in ASCII.
const SEQUENCER_LOCK: i64 = 0x73626f6d6974;

const ENTRY_COLUMNS: &str = "idx, kind, leaf_hash, statement_hash, iss, sub, statement_type, \
                             subjects, policy_version, registered_ms";

/// Connections per process unless the URL's `pool_size` says otherwise: the sequencer, the
/// tail and the server's blocking requests share them.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// `application_name` of our sessions unless the URL names one (seen in `pg_stat_activity`).
const APPLICATION_NAME: &str = "sbomit-store";

type Params<'a> = [&'a (dyn ToSql + Sync)];

pub struct PostgresBackend {
    pool: Pool,
    handle: tokio::runtime::Handle,
    /// Drives every pooled connection; shut down when the backend drops, waiting for the
    /// connections to close unless that happens on an async thread (where it would panic).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                // On an async thread a blocking shutdown would panic.
                rt.shutdown_background();
            } else {
                // Elsewhere, let the connections close before the process may exit.
                rt.shutdown_timeout(std::time::Duration::from_secs(2));
            }
        }
    }
}

fn as_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::BadRequest(format!("{n} is out of range")))
}

fn param_error(name: &str, reason: impl Into<String>) -> StoreError {
    StoreError::DatabaseParameter {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// Our parameters of a `postgres://` URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlOptions {
    /// The URL without them, for `tokio-postgres`.
    pub url: String,
    pub pool_size: usize,
    pub root_cert: Option<std::path::PathBuf>,
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Splits our parameters off the URL's query string.
pub(crate) fn url_options(url: &str) -> Result<UrlOptions, StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut pool_size = DEFAULT_POOL_SIZE;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key {
            "pool_size" => {
                pool_size = value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| param_error(key, format!("{value:?} is not a count ≥ 1")))?;
            }
            "sslrootcert" => {
                let path = percent_decode(value)
                    .ok_or_else(|| param_error(key, "not a percent-encoded UTF-8 path"))?;
                root_cert = Some(path.into());
            }
            _ => kept.push(part),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(UrlOptions {
        url,
        pool_size,
        root_cert,
    })
}

/// Accepts the server's certificate unchecked (`sslmode=prefer` without `sslrootcert`, as
/// libpq): encryption against passive listeners only. The handshake signatures are still
/// verified, so the server holds the key of the certificate it sent.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls configuration `sslmode` and `sslrootcert` call for.
fn tls_config(
    mode: SslMode,
    root_cert: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, StoreError> {
    use rustls::pki_types::pem::PemObject;
    let provider = sbomit_crypto::tls_provider();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(StoreError::PostgresTls)?;
    let verify = root_cert.is_some() || matches!(mode, SslMode::Require);
    if !verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let bad = |reason: String| param_error("sslrootcert", reason);
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(format!("{}: no certificate", path.display())));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn entry_from(row: &Row) -> Result<EntryRecord, StoreError> {
    let idx: i64 = row.try_get(0)?;
    let kind: i32 = row.try_get(1)?;
    Ok(EntryRecord {
        index: u64::try_from(idx).map_err(|_| StoreError::corrupt("negative index"))?,
        kind: kind_from(i64::from(kind))?,
        leaf_hash: hash_from(row.try_get::<_, &[u8]>(2)?, "leaf hash")?,
        statement_hash: hash_from(row.try_get::<_, &[u8]>(3)?, "statement hash")?,
        iss: row.try_get(4)?,
        sub: row.try_get(5)?,
        statement_type: row.try_get(6)?,
        subjects: row.try_get(7)?,
        policy_version: row.try_get(8)?,
        registered_ms: row.try_get(9)?,
    })
}

fn checkpoint_from(row: &Row) -> Result<CheckpointRecord, StoreError> {
    let size: i64 = row.try_get(0)?;
    Ok(CheckpointRecord {
        size: u64::try_from(size).map_err(|_| StoreError::corrupt("negative tree size"))?,
        root: hash_from(row.try_get::<_, &[u8]>(1)?, "checkpoint root")?,
        note: row.try_get(2)?,
        created_ms: row.try_get(3)?,
    })
}

// One round trip per query: the statement is prepared once per connection and cached.

async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query(&st, params).await?)
}

async fn row_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&st, params).await?)
}

async fn row_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_one(&st, params).await?)
}

async fn exec<C: GenericClient>(c: &C, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.execute(&st, params).await?)
}

/// Runs a statement planned for the values of this call (PostgreSQL's unnamed statement:
/// parse, bind and execute in one round trip), where [`rows`] would plan it once per
/// connection and may keep that plan for good.
///
/// For statements that join through arrays (`unnest`, `= ANY`) or carry optional filters
/// (`$n IS NULL OR …`): only a plan made with the values can size the array or drop the
/// filter. After five runs of a prepared statement PostgreSQL may switch to a generic plan,
/// made from the statistics of that moment and kept: a new log's tables are nearly empty then
/// (and are never analysed where autovacuum is off), so the plans it kept read whole tables —
/// the evidence query every entry and, for each, the subjects index (1.5 s a query at 17,000
/// entries); the proof-path lookup and the sequencer's duplicate check `entries` and `nodes`
/// into hash tables (tens of milliseconds, growing with the log). Issue 12 h,
/// docs/BENCHMARKS.md "Soak". Planning anew costs a fraction of a millisecond.
async fn rows_planned_per_call<C: tokio_postgres::GenericClient + Sync>(
    c: &C,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<Row>, StoreError> {
    Ok(c.query_typed(sql, params).await?)
}

async fn read_hashes_on<C: tokio_postgres::GenericClient + Sync>(
    c: &C,
    ids: &[NodeId],
) -> Result<Vec<Hash>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let levels: Vec<i32> = ids.iter().map(|id| i32::from(id.level)).collect();
    let idxs: Vec<i64> = ids
        .iter()
        .map(|id| as_i64(id.index))
        .collect::<Result<_, _>>()?;
    // One round trip for the whole proof: leaves from entries, inner nodes from nodes.
    let rows = rows_planned_per_call(
        c,
        "SELECT q.ord, coalesce(n.hash, e.leaf_hash) FROM \
         unnest($1::int[], $2::bigint[]) WITH ORDINALITY AS q(level, idx, ord) \
         LEFT JOIN nodes n ON q.level > 0 AND n.level = q.level AND n.idx = q.idx \
         LEFT JOIN entries e ON q.level = 0 AND e.idx = q.idx ORDER BY q.ord",
        &[(&levels, Type::INT4_ARRAY), (&idxs, Type::INT8_ARRAY)],
    )
    .await?;
    if rows.len() != ids.len() {
        return Err(StoreError::corrupt(
            "node lookup returned the wrong number of rows",
        ));
    }
    rows.iter()
        .zip(ids)
        .map(|(row, id)| {
            let h: Option<&[u8]> = row.try_get(1)?;
            let h = h.ok_or_else(|| StoreError::corrupt(format!("no hash for node {id}")))?;
            hash_from(h, "node hash")
        })
        .collect()
}

fn bare_node(key: &str) -> Node {
    Node {
        key: key.to_owned(),
        purl: None,
        name: None,
        version: None,
        sha256: None,
    }
}

async fn graph_cursor_on<C: GenericClient>(c: &C) -> Result<u64, StoreError> {
    let v: Option<String> = row_opt(
        c,
        "SELECT value FROM graph_meta WHERE key = 'graph_cursor'",
        &[],
    )
    .await?
    .map(|r| r.try_get(0))
    .transpose()?;
    v.map_or(Ok(0), |v| {
        v.parse()
            .map_err(|_| StoreError::corrupt(format!("graph cursor {v:?}")))
    })
}

impl PostgresBackend {
    /// Issuer keys or trust anchors: `(iss, role, key or certificate, added_ms)` rows.
    fn identity_rows(&self, sql: &str) -> Result<Vec<IssuerRecord>, StoreError> {
        self.with(async |c| {
            rows(&*c, sql, &[])
                .await?
                .iter()
                .map(|r| {
                    let role: String = r.try_get(1)?;
                    Ok(IssuerRecord {
                        iss: r.try_get(0)?,
                        role: role_from(&role)?,
                        spki: r.try_get(2)?,
                        added_ms: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn edges(&self, keys: &[String], sql: &str) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.with(async |c| {
            rows(&*c, sql, &[&keys])
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<_, i64>(2)? as u64)))
                .collect()
        })
    }

    /// Opens the pool a `postgres://` URL describes (see the module doc) and checks that a
    /// connection can be made.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let options = url_options(url)?;
        let mut config: tokio_postgres::Config = options.url.parse()?;
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(
            config.get_ssl_mode(),
            options.root_cert.as_deref(),
        )?);
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                // A closed connection is dropped on its way out of the pool; a broken one
                // fails its next query, as a fresh one would.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .build()
            .map_err(|e| param_error("pool_size", e.to_string()))?;
        // One worker is plenty: it only moves bytes between the sockets and the callers,
        // who decode and encode on their own threads.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sbomit-postgres")
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io {
                what: "starting the PostgreSQL runtime".into(),
                source,
            })?;
        let backend = PostgresBackend {
            pool,
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        };
        // Fail early on a bad URL or an unreachable server.
        backend.with(async |_| Ok(()))?;
        Ok(backend)
    }

    /// Runs `f` with a pooled connection, blocking this (non-async) thread until it is done.
    fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Object) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.handle.block_on(async {
            let mut c = self.pool.get().await?;
            f(&mut c).await
        })
    }
}
impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn init(&self, origin: &str, default_policy: &str) -> Result<String, StoreError> {
        self.with(async |c| {
            let tx = c.transaction().await?;
            // Two processes starting together must not race on CREATE TABLE.
            exec(&tx, "SELECT pg_advisory_xact_lock($1)", &[&SEQUENCER_LOCK]).await?;
            tx.batch_execute(&log_schema("BIGINT", "BYTEA", "")).await?;
            tx.batch_execute(&graph_schema(
                "BIGSERIAL PRIMARY KEY",
                "BIGINT",
                "BYTEA",
                "",
            ))
            .await?;
            let version = row_opt(&tx, "SELECT value FROM meta WHERE key = 'schema'", &[])
                .await?
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?;
            match check_schema(version)? {
                SchemaState::New => {
                    exec(
                        &tx,
                        "INSERT INTO meta (key, value) VALUES ('schema', $1)",
                        &[&SCHEMA_VERSION.to_string()],
                    )
                    .await?;
                }
                SchemaState::Current => {}
                SchemaState::Old(_) => {
                    tx.batch_execute(&migrate_v1_to_v2("IF NOT EXISTS", "BIGINT"))
                        .await?;
                    exec(
                        &tx,
                        "UPDATE meta SET value = $1 WHERE key = 'schema'",
                        &[&SCHEMA_VERSION.to_string()],
                    )
                    .await?;
                }
            }
            exec(
                &tx,
                "INSERT INTO meta (key, value) VALUES ('origin', $1) ON CONFLICT DO NOTHING",
                &[&origin],
            )
            .await?;
            let stored: String = row_one(&tx, "SELECT value FROM meta WHERE key = 'origin'", &[])
                .await?
                .try_get(0)?;
            exec(
                &tx,
                "INSERT INTO policies (version, document, created_ms) \
                 SELECT 1, $1, 0 WHERE NOT EXISTS (SELECT 1 FROM policies)",
                &[&default_policy],
            )
            .await?;
            tx.commit().await?;
            Ok(stored)
        })
    }

    fn append(
        &self,
        batch: &[NewEntry],
        now_ms: i64,
        seal: Seal<'_>,
    ) -> Result<Vec<Appended>, StoreError> {
        self.with(async |c| {
            let tx = c.transaction().await?;
            exec(&tx, "SELECT pg_advisory_xact_lock($1)", &[&SEQUENCER_LOCK]).await?;
            let size: i64 = row_one(
                &tx,
                "SELECT coalesce(max(size), 0)::bigint FROM checkpoints",
                &[],
            )
            .await?
            .try_get(0)?;
            let size =
                u64::try_from(size).map_err(|_| StoreError::corrupt("negative tree size"))?;
            let leaves: Vec<&[u8]> = batch.iter().map(|e| &e.leaf_hash[..]).collect();
            let present: std::collections::HashMap<Vec<u8>, i64> = rows_planned_per_call(
                &*tx,
                "SELECT leaf_hash, idx FROM entries WHERE leaf_hash = ANY($1)",
                &[(&leaves, Type::BYTEA_ARRAY)],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<_, Vec<u8>>(0)?, r.try_get::<_, i64>(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?;
            // The frontier's node ids depend on the size only: learn them from the tree code
            // (a reader that answers nothing real), then read them in one round trip.
            let mut ids = Vec::new();
            frontier(size, |asked| {
                ids = asked.to_vec();
                Ok(vec![[0u8; 32]; asked.len()])
            })?;
            let hashes = read_hashes_on(&*tx, &ids).await?;
            let front = sbomit_tlog::merkle::CompactRange::from_parts(size, hashes)
                .map_err(|e| StoreError::corrupt(e.to_string()))?;
            let plan = plan_batch(batch, front, |leaf| {
                Ok(present.get(&leaf[..]).map(|&i| i as u64))
            })?;
            if plan.inserts.is_empty() {
                return Ok(plan.results);
            }
            let pick = |f: &dyn Fn(&NewEntry) -> Vec<u8>| -> Vec<Vec<u8>> {
                plan.inserts.iter().map(|&(i, _)| f(&batch[i])).collect()
            };
            let text = |f: &dyn Fn(&NewEntry) -> String| -> Vec<String> {
                plan.inserts.iter().map(|&(i, _)| f(&batch[i])).collect()
            };
            let idx: Vec<i64> = plan
                .inserts
                .iter()
                .map(|&(_, index)| as_i64(index))
                .collect::<Result<_, _>>()?;
            let kinds: Vec<i32> = plan
                .inserts
                .iter()
                .map(|&(i, _)| batch[i].kind.code() as i32)
                .collect();
            let policy: Vec<i64> = plan
                .inserts
                .iter()
                .map(|&(i, _)| batch[i].policy_version)
                .collect();
            let statement_hashes = pick(&|e| e.statement_hash.to_vec());
            let large: Vec<&NewEntry> = plan
                .inserts
                .iter()
                .map(|&(i, _)| &batch[i])
                .filter(|e| e.statement.len() > INLINE_STATEMENT_MAX)
                .collect();
            if !large.is_empty() {
                let hashes: Vec<&[u8]> = large.iter().map(|e| &e.statement_hash[..]).collect();
                let data: Vec<&[u8]> = large.iter().map(|e| &e.statement[..]).collect();
                exec(&tx,
                    "INSERT INTO blobs (hash, data) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                     ON CONFLICT DO NOTHING",
                    &[&hashes, &data],
                ).await?;
            }
            let inline: Vec<Option<&[u8]>> = plan
                .inserts
                .iter()
                .map(|&(i, _)| {
                    let st = &batch[i].statement;
                    (st.len() <= INLINE_STATEMENT_MAX).then_some(&st[..])
                })
                .collect();
            exec(
                &tx,
                "INSERT INTO entries (idx, kind, leaf_hash, statement_hash, iss, sub, \
                 statement_type, subjects, policy_version, registered_ms, statement) \
                 SELECT i, k, l, s, iss, sub, t, subj, p, $10, st FROM \
                 unnest($1::bigint[], $2::int[], $3::bytea[], $4::bytea[], $5::text[], \
                 $6::text[], $7::text[], $8::text[], $9::bigint[], $11::bytea[]) \
                 AS u(i, k, l, s, iss, sub, t, subj, p, st)",
                &[
                    &idx,
                    &kinds,
                    &pick(&|e| e.leaf_hash.to_vec()),
                    &statement_hashes,
                    &text(&|e| e.iss.clone()),
                    &text(&|e| e.sub.clone()),
                    &text(&|e| e.statement_type.clone()),
                    &text(&|e| e.subjects.clone()),
                    &policy,
                    &now_ms,
                    &inline,
                ],
            )
            .await?;
            if !plan.nodes.is_empty() {
                let levels: Vec<i32> = plan
                    .nodes
                    .iter()
                    .map(|(id, _)| i32::from(id.level))
                    .collect();
                let nidx: Vec<i64> = plan
                    .nodes
                    .iter()
                    .map(|(id, _)| as_i64(id.index))
                    .collect::<Result<_, _>>()?;
                let hashes: Vec<&[u8]> = plan.nodes.iter().map(|(_, h)| &h[..]).collect();
                exec(
                    &tx,
                    "INSERT INTO nodes (level, idx, hash) \
                     SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[])",
                    &[&levels, &nidx, &hashes],
                )
                .await?;
            }
            let note = seal(plan.size, &plan.root)?;
            exec(
                &tx,
                "INSERT INTO checkpoints (size, root, note, created_ms) VALUES ($1, $2, $3, $4)",
                &[&as_i64(plan.size)?, &&plan.root[..], &note, &now_ms],
            )
            .await?;
            tx.commit().await?;
            Ok(plan.results)
        })
    }

    fn entry(&self, index: u64) -> Result<Option<EntryRecord>, StoreError> {
        let idx = as_i64(index)?;
        self.with(async |c| {
            row_opt(
                &*c,
                &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = $1"),
                &[&idx],
            )
            .await?
            .map(|r| entry_from(&r))
            .transpose()
        })
    }

    fn entry_by_leaf(&self, leaf_hash: &Hash) -> Result<Option<EntryRecord>, StoreError> {
        self.with(async |c| {
            row_opt(
                &*c,
                &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE leaf_hash = $1"),
                &[&&leaf_hash[..]],
            )
            .await?
            .map(|r| entry_from(&r))
            .transpose()
        })
    }

    fn entry_by_statement(&self, hash: &Hash) -> Result<Option<EntryRecord>, StoreError> {
        // Indexed by the graph tables; the entries the indexer has not reached yet are
        // scanned in log order.
        self.with(async |c| {
            let indexed = row_opt(
                &*c,
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = \
                     (SELECT min(entry) FROM graph_entries WHERE statement_hash = $1)"
                ),
                &[&&hash[..]],
            )
            .await?;
            let row = match indexed {
                Some(r) => Some(r),
                None => {
                    let cursor = as_i64(graph_cursor_on(&*c).await?)?;
                    row_opt(
                        &*c,
                        &format!(
                            "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx >= $1 \
                             AND statement_hash = $2 ORDER BY idx LIMIT 1"
                        ),
                        &[&cursor, &&hash[..]],
                    )
                    .await?
                }
            };
            row.map(|r| entry_from(&r)).transpose()
        })
    }

    fn statement(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let index = as_i64(index)?;
        self.with(async |c| {
            Ok(row_opt(
                &*c,
                "SELECT coalesce(e.statement, b.data) FROM entries e LEFT JOIN blobs b \
                 ON e.statement IS NULL AND b.hash = e.statement_hash WHERE e.idx = $1",
                &[&index],
            )
            .await?
            .map(|r| r.try_get::<_, Option<Vec<u8>>>(0))
            .transpose()?
            .flatten())
        })
    }

    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.with(async |c| read_hashes_on(&***c, ids).await)
    }

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>, StoreError> {
        self.with(async |c| {
            row_opt(
                &*c,
                "SELECT size, root, note, created_ms FROM checkpoints ORDER BY size DESC LIMIT 1",
                &[],
            )
            .await?
            .map(|r| checkpoint_from(&r))
            .transpose()
        })
    }

    fn checkpoint_covering(&self, size: u64) -> Result<Option<CheckpointRecord>, StoreError> {
        let size = as_i64(size)?;
        self.with(async |c| {
            row_opt(
                &*c,
                "SELECT size, root, note, created_ms FROM checkpoints WHERE size >= $1 \
                 ORDER BY size LIMIT 1",
                &[&size],
            )
            .await?
            .map(|r| checkpoint_from(&r))
            .transpose()
        })
    }

    fn issuers(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.identity_rows("SELECT iss, role, spki, added_ms FROM issuers ORDER BY added_ms")
    }

    fn add_issuer(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        self.with(async |c| {
            let n = exec(
                &*c,
                "INSERT INTO issuers (iss, role, spki, added_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[
                    &issuer.iss,
                    &issuer.role.name(),
                    &issuer.spki,
                    &issuer.added_ms,
                ],
            )
            .await?;
            Ok(n == 1)
        })
    }

    fn add_trust_anchor(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        self.with(async |c| {
            let n = exec(
                &*c,
                "INSERT INTO trust_anchors (iss, role, cert, added_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[
                    &issuer.iss,
                    &issuer.role.name(),
                    &issuer.spki,
                    &issuer.added_ms,
                ],
            )
            .await?;
            Ok(n == 1)
        })
    }

    fn trust_anchors(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.identity_rows("SELECT iss, role, cert, added_ms FROM trust_anchors ORDER BY added_ms")
    }

    fn remove_issuer(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        self.with(async |c| {
            let n = exec(
                &*c,
                "DELETE FROM issuers WHERE iss = $1 AND role = $2 AND spki = $3",
                &[&issuer.iss, &issuer.role.name(), &issuer.spki],
            )
            .await?;
            Ok(n > 0)
        })
    }

    fn remove_trust_anchor(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        self.with(async |c| {
            let n = exec(
                &*c,
                "DELETE FROM trust_anchors WHERE iss = $1 AND role = $2 AND cert = $3",
                &[&issuer.iss, &issuer.role.name(), &issuer.spki],
            )
            .await?;
            Ok(n > 0)
        })
    }

    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.with(async |c| {
            exec(
                &*c,
                "INSERT INTO tokens (hash, scope, label, created_ms, expires_ms, revoked_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &&t.hash[..],
                    &t.scope.name(),
                    &t.label,
                    &t.created_ms,
                    &t.expires_ms,
                    &t.revoked_ms,
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.with(async |c| {
            rows(
                &*c,
                "SELECT hash, scope, label, created_ms, expires_ms, revoked_ms FROM tokens \
                 ORDER BY created_ms, hash",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                let hash: Vec<u8> = r.try_get(0)?;
                let scope: String = r.try_get(1)?;
                Ok(TokenRecord {
                    hash: hash_from(&hash, "token hash")?,
                    scope: scope_from(&scope)?,
                    label: r.try_get(2)?,
                    created_ms: r.try_get(3)?,
                    expires_ms: r.try_get(4)?,
                    revoked_ms: r.try_get(5)?,
                })
            })
            .collect()
        })
    }

    fn revoke_token(&self, hash: &Hash, now_ms: i64) -> Result<bool, StoreError> {
        self.with(async |c| {
            let n = exec(
                &*c,
                "UPDATE tokens SET revoked_ms = $2 WHERE hash = $1 AND revoked_ms IS NULL",
                &[&&hash[..], &now_ms],
            )
            .await?;
            Ok(n > 0)
        })
    }

    fn latest_policy(&self) -> Result<(i64, String), StoreError> {
        self.with(async |c| {
            let r = row_one(
                &*c,
                "SELECT version, document FROM policies ORDER BY version DESC LIMIT 1",
                &[],
            )
            .await?;
            Ok((r.try_get(0)?, r.try_get(1)?))
        })
    }

    fn policy(&self, version: i64) -> Result<Option<String>, StoreError> {
        self.with(async |c| {
            Ok(row_opt(
                &*c,
                "SELECT document FROM policies WHERE version = $1",
                &[&version],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
        })
    }

    fn add_policy(&self, document: &str, now_ms: i64) -> Result<i64, StoreError> {
        self.with(async |c| {
            let tx = c.transaction().await?;
            exec(
                &tx,
                "SELECT pg_advisory_xact_lock($1)",
                &[&(SEQUENCER_LOCK + 1)],
            )
            .await?;
            let version: i64 = row_one(
                &tx,
                "SELECT coalesce(max(version), 0) + 1 FROM policies",
                &[],
            )
            .await?
            .try_get(0)?;
            exec(
                &tx,
                "INSERT INTO policies (version, document, created_ms) VALUES ($1, $2, $3)",
                &[&version, &document, &now_ms],
            )
            .await?;
            tx.commit().await?;
            Ok(version)
        })
    }

    fn add_service_key(&self, kid: &[u8], cose_key: &[u8], now_ms: i64) -> Result<(), StoreError> {
        self.with(async |c| {
            exec(
                &*c,
                "INSERT INTO service_keys (kid, cose_key, created_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&kid, &cose_key, &now_ms],
            )
            .await?;
            Ok(())
        })
    }

    fn service_keys(&self) -> Result<Vec<ServiceKeyRecord>, StoreError> {
        self.with(async |c| {
            rows(
                &*c,
                "SELECT kid, cose_key FROM service_keys ORDER BY created_ms, kid",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    fn storage_bytes(&self) -> Result<u64, StoreError> {
        self.with(async |c| {
            let n: i64 = row_one(
                &*c,
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind = 'r' AND n.nspname = current_schema() \
                     AND c.relname IN ('meta','blobs','entries','nodes','checkpoints',\
                     'issuers','tokens','policies','service_keys','trust_anchors','graph_meta',\
                     'graph_nodes','graph_subjects','graph_edges','graph_vulns','graph_entries')",
                &[],
            )
            .await?
            .try_get(0)?;
            Ok(n.max(0) as u64)
        })
    }

    fn entries_from(&self, from: u64, limit: usize) -> Result<Vec<EntryRecord>, StoreError> {
        let from = as_i64(from)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(async |c| {
            rows(
                &*c,
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx >= $1 ORDER BY idx LIMIT $2"
                ),
                &[&from, &limit],
            )
            .await?
            .iter()
            .map(entry_from)
            .collect()
        })
    }

    fn graph_cursor(&self) -> Result<u64, StoreError> {
        self.with(async |c| graph_cursor_on(&*c).await)
    }

    fn index_facts(&self, from: u64, facts: &[(EntryRecord, Facts)]) -> Result<bool, StoreError> {
        let Some(last) = facts.last().map(|(e, _)| e.index) else {
            return Ok(true);
        };
        self.with(async |c| {
            let tx = c.transaction().await?;
            // One indexer at a time across processes; the loser sees the cursor moved.
            exec(&tx, "SELECT pg_advisory_xact_lock($1)", &[&(SEQUENCER_LOCK + 2)]).await?;
            if graph_cursor_on(&tx).await? != from {
                return Ok(false);
            }
            // Nodes first, merged across the batch (ON CONFLICT cannot touch a row twice in
            // one statement), then everything else by id.
            let mut merged: std::collections::BTreeMap<String, Node> = Default::default();
            let mut add = |n: &Node| {
                let key = clean(&n.key);
                let m = merged.entry(key.clone()).or_insert_with(|| bare_node(&key));
                m.purl = m.purl.take().or_else(|| n.purl.as_deref().map(clean));
                m.name = m.name.take().or_else(|| n.name.as_deref().map(clean));
                m.version = m.version.take().or_else(|| n.version.as_deref().map(clean));
                m.sha256 = m.sha256.take().or_else(|| n.sha256.as_deref().map(clean));
            };
            for (_, f) in facts {
                for n in f.nodes.iter().chain(&f.subjects) {
                    add(n);
                }
                for e in &f.edges {
                    add(&bare_node(&e.parent));
                    add(&bare_node(&e.child));
                }
                for v in &f.vulns {
                    add(&bare_node(&v.node));
                }
            }
            let nodes: Vec<&Node> = merged.values().collect();
            let col = |f: &dyn Fn(&Node) -> Option<String>| -> Vec<Option<String>> {
                nodes.iter().map(|n| f(n)).collect()
            };
            let keys: Vec<String> = nodes.iter().map(|n| n.key.clone()).collect();
            let rows = rows(&tx,
                "INSERT INTO graph_nodes (key, purl, purl_base, name, version, sha256) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
                 ON CONFLICT (key) DO UPDATE SET \
                 purl = coalesce(graph_nodes.purl, excluded.purl), \
                 purl_base = coalesce(graph_nodes.purl_base, excluded.purl_base), \
                 name = coalesce(graph_nodes.name, excluded.name), \
                 version = coalesce(graph_nodes.version, excluded.version), \
                 sha256 = coalesce(graph_nodes.sha256, excluded.sha256) RETURNING key, id",
                &[
                    &keys,
                    &col(&|n| n.purl.clone()),
                    &col(&|n| n.purl_base()),
                    &col(&|n| n.name.clone()),
                    &col(&|n| n.version.clone()),
                    &col(&|n| n.sha256.clone()),
                ],
            ).await?;
            let ids: std::collections::HashMap<String, i64> = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, tokio_postgres::Error>>()?;
            let id = |key: &str| {
                ids.get(&clean(key))
                    .copied()
                    .ok_or_else(|| StoreError::corrupt(format!("node {key:?} was not interned")))
            };
            let (mut s_node, mut s_entry) = (Vec::new(), Vec::new());
            let (mut e_parent, mut e_child, mut e_entry) = (Vec::new(), Vec::new(), Vec::new());
            let (mut v_id, mut v_node, mut v_entry, mut v_status) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut g_entry, mut g_kind, mut g_unparsed) = (Vec::new(), Vec::new(), Vec::new());
            let (mut g_iss, mut g_sub, mut g_hash) = (Vec::new(), Vec::new(), Vec::new());
            for (record, f) in facts {
                let entry = as_i64(record.index)?;
                g_iss.push(clean(&record.iss));
                g_sub.push(clean(&record.sub));
                g_hash.push(&record.statement_hash[..]);
                for n in &f.subjects {
                    s_node.push(id(&n.key)?);
                    s_entry.push(entry);
                }
                for e in &f.edges {
                    e_parent.push(id(&e.parent)?);
                    e_child.push(id(&e.child)?);
                    e_entry.push(entry);
                }
                for v in &f.vulns {
                    v_id.push(clean(&v.vuln_id));
                    v_node.push(id(&v.node)?);
                    v_entry.push(entry);
                    v_status.push(v.status.name().to_owned());
                }
                g_entry.push(entry);
                g_kind.push(f.kind.name().to_owned());
                g_unparsed.push(f.unparsed.as_deref().map(clean));
            }
            exec(&tx,
                "INSERT INTO graph_subjects (node, entry) SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
                 ON CONFLICT DO NOTHING",
                &[&s_node, &s_entry],
            ).await?;
            exec(&tx,
                "INSERT INTO graph_edges (parent, child, entry) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING",
                &[&e_parent, &e_child, &e_entry],
            ).await?;
            exec(&tx,
                "INSERT INTO graph_vulns (vuln_id, node, entry, status) \
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) ON CONFLICT DO NOTHING",
                &[&v_id, &v_node, &v_entry, &v_status],
            ).await?;
            exec(&tx,
                "INSERT INTO graph_entries (entry, kind, unparsed, iss, sub, statement_hash) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::bytea[]) \
                 ON CONFLICT (entry) DO UPDATE SET kind = excluded.kind, unparsed = excluded.unparsed",
                &[&g_entry, &g_kind, &g_unparsed, &g_iss, &g_sub, &g_hash],
            ).await?;
            exec(&tx,
                "INSERT INTO graph_meta (key, value) VALUES ('graph_cursor', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&(last + 1).to_string()],
            ).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn edges_from(&self, parents: &[String]) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.edges(
            parents,
            "SELECT p.key, c.key, e.entry FROM graph_nodes p JOIN graph_edges e ON e.parent = p.id \
             JOIN graph_nodes c ON c.id = e.child WHERE p.key = ANY($1)",
        )
    }

    fn edges_to(&self, children: &[String]) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.edges(
            children,
            "SELECT p.key, c.key, e.entry FROM graph_nodes c JOIN graph_edges e ON e.child = c.id \
             JOIN graph_nodes p ON p.id = e.parent WHERE c.key = ANY($1)",
        )
    }

    fn nodes(&self, keys: &[String]) -> Result<Vec<Node>, StoreError> {
        self.with(async |c| {
            rows(
                &*c,
                "SELECT key, purl, name, version, sha256 FROM graph_nodes WHERE key = ANY($1)",
                &[&keys],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Node {
                    key: r.try_get(0)?,
                    purl: r.try_get(1)?,
                    name: r.try_get(2)?,
                    version: r.try_get(3)?,
                    sha256: r.try_get(4)?,
                })
            })
            .collect()
        })
    }

    fn node_keys(&self, field: NodeField, value: &str) -> Result<Vec<String>, StoreError> {
        self.with(async |c| {
            rows(
                &*c,
                &format!("SELECT key FROM graph_nodes WHERE {} = $1", field.column()),
                &[&value],
            )
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn subject_entries(&self, keys: &[String]) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(async |c| {
            rows(
                &*c,
                "SELECT n.key, s.entry FROM graph_nodes n JOIN graph_subjects s ON s.node = n.id \
                 WHERE n.key = ANY($1) ORDER BY s.entry",
                &[&keys],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)? as u64)))
            .collect()
        })
    }

    fn evidence(
        &self,
        about: &EvidenceSelector,
        filter: &EvidenceFilter,
    ) -> Result<Vec<EntryRecord>, StoreError> {
        let columns = ENTRY_COLUMNS
            .split(", ")
            .map(|c| format!("e.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let after = filter.after.map(as_i64).transpose()?;
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        // Filters follow the selector's own parameters.
        let filters = |n: usize| {
            format!(
                "AND (cardinality(${a}::text[]) = 0 OR e.statement_type = ANY(${a})) \
                 AND (${b}::text IS NULL OR e.iss = ${b}) \
                 AND (${c}::bigint IS NULL OR e.registered_ms >= ${c}) \
                 AND (${d}::bigint IS NULL OR e.registered_ms <= ${d}) \
                 AND (${f}::bigint IS NULL OR e.idx > ${f}) ORDER BY e.idx LIMIT ${g}",
                a = n,
                b = n + 1,
                c = n + 2,
                d = n + 3,
                f = n + 4,
                g = n + 5
            )
        };
        let rest: [(&(dyn ToSql + Sync), Type); 6] = [
            (&filter.types, Type::TEXT_ARRAY),
            (&filter.iss, Type::TEXT),
            (&filter.since_ms, Type::INT8),
            (&filter.until_ms, Type::INT8),
            (&after, Type::INT8),
            (&limit, Type::INT8),
        ];
        self.with(async |c| {
            let rows = match about {
                EvidenceSelector::Nodes(keys) => {
                    let sql = format!(
                        "SELECT {columns} FROM entries e WHERE e.idx IN (SELECT s.entry \
                         FROM graph_subjects s JOIN graph_nodes n ON n.id = s.node \
                         WHERE n.key = ANY($1)) {}",
                        filters(2)
                    );
                    let mut params: Vec<(&(dyn ToSql + Sync), Type)> =
                        vec![(keys, Type::TEXT_ARRAY)];
                    params.extend(rest);
                    rows_planned_per_call(&***c, &sql, &params).await?
                }
                EvidenceSelector::Issuer { iss, sub } => {
                    let sql = format!(
                        "SELECT {columns} FROM entries e WHERE e.idx IN (SELECT entry \
                         FROM graph_entries WHERE iss = $1 AND ($2::text IS NULL OR sub = $2)) {}",
                        filters(3)
                    );
                    let mut params: Vec<(&(dyn ToSql + Sync), Type)> =
                        vec![(iss, Type::TEXT), (sub, Type::TEXT)];
                    params.extend(rest);
                    rows_planned_per_call(&***c, &sql, &params).await?
                }
            };
            rows.iter().map(entry_from).collect()
        })
    }

    fn vuln_facts(&self, vuln_id: &str) -> Result<Vec<(String, VulnStatus, u64)>, StoreError> {
        self.with(async |c| {
            rows(
                &*c,
                "SELECT n.key, g.status, g.entry FROM graph_vulns g \
                 JOIN graph_nodes n ON n.id = g.node WHERE g.vuln_id = $1 ORDER BY g.entry",
                &[&vuln_id],
            )
            .await?
            .iter()
            .map(|r| {
                let status: String = r.try_get(1)?;
                let status = VulnStatus::parse(&status).ok_or_else(|| {
                    StoreError::corrupt(format!("vulnerability status {status:?}"))
                })?;
                Ok((r.try_get(0)?, status, r.try_get::<_, i64>(2)? as u64))
            })
            .collect()
        })
    }

    fn graph_entry(&self, index: u64) -> Result<Option<(String, Option<String>)>, StoreError> {
        let index = as_i64(index)?;
        self.with(async |c| {
            Ok(row_opt(
                &*c,
                "SELECT kind, unparsed FROM graph_entries WHERE entry = $1",
                &[&index],
            )
            .await?
            .map(|r| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_url_parameters_are_taken_out_and_the_rest_kept_in_order() {
        let o = url_options(
            "postgres://u@h:5432/db?options=-csearch_path%3Dx&pool_size=3&sslmode=require\
             &sslrootcert=%2Fetc%2Fca.pem",
        )
        .expect("options");
        assert_eq!(
            o.url,
            "postgres://u@h:5432/db?options=-csearch_path%3Dx&sslmode=require"
        );
        assert_eq!(o.pool_size, 3);
        assert_eq!(
            o.root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        let o = url_options("postgres://h/db?pool_size=1").expect("options");
        assert_eq!((o.url.as_str(), o.pool_size), ("postgres://h/db", 1));
        let o = url_options("postgres://h/db").expect("options");
        assert_eq!((o.pool_size, o.root_cert), (DEFAULT_POOL_SIZE, None));
        assert!(url_options("postgres://h/db?pool_size=0").is_err());
        assert!(url_options("postgres://h/db?sslrootcert=%zz").is_err());
    }
}
