//! PostgreSQL: several `serve` processes on one database. Appends run under a
//! transaction-scoped advisory lock, so exactly one process sequences at a time and each
//! batch sees the head the previous one committed. Batches go in with one statement per table
//! (`unnest` over arrays), not one round trip per row.
//!
//! Tests isolate themselves with the standard `options=-csearch_path%3DNAME` URL parameter.

use std::sync::Mutex;

use postgres::{Client, NoTls};

use sbomit_core::merkle::{Hash, NodeId};

use super::{
    frontier, hash_from, kind_from, plan_batch, role_from, Appended, Backend, CheckpointRecord,
    EntryRecord, IssuerRecord, Scope, Seal, SCHEMA_VERSION,
};
use crate::admission::NewEntry;
use crate::StoreError;

/// The advisory lock key of the sequencer (and of schema creation): "sbomit" in ASCII.
const SEQUENCER_LOCK: i64 = 0x73626f6d6974;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (hash BYTEA PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
  idx BIGINT PRIMARY KEY,
  kind INTEGER NOT NULL,
  leaf_hash BYTEA NOT NULL UNIQUE,
  statement_hash BYTEA NOT NULL,
  iss TEXT NOT NULL,
  sub TEXT NOT NULL,
  statement_type TEXT NOT NULL,
  subjects TEXT NOT NULL,
  policy_version BIGINT NOT NULL,
  registered_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_statement ON entries (statement_hash);
CREATE TABLE IF NOT EXISTS nodes (
  level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  size BIGINT PRIMARY KEY, root BYTEA NOT NULL, note TEXT NOT NULL, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS issuers (
  iss TEXT NOT NULL, role TEXT NOT NULL, spki BYTEA NOT NULL, added_ms BIGINT NOT NULL,
  PRIMARY KEY (iss, spki, role)
);
CREATE TABLE IF NOT EXISTS tokens (
  hash BYTEA PRIMARY KEY, scope TEXT NOT NULL, label TEXT NOT NULL, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS policies (
  version BIGINT PRIMARY KEY, document TEXT NOT NULL, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS service_keys (
  kid BYTEA PRIMARY KEY, cose_key BYTEA NOT NULL, created_ms BIGINT NOT NULL
);
";

const ENTRY_COLUMNS: &str = "idx, kind, leaf_hash, statement_hash, iss, sub, statement_type, \
                             subjects, policy_version, registered_ms";

const MAX_IDLE: usize = 8;

pub struct PostgresBackend {
    url: String,
    idle: Mutex<Vec<Client>>,
}

fn as_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::BadRequest(format!("{n} is out of range")))
}

fn entry_from(row: &postgres::Row) -> Result<EntryRecord, StoreError> {
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

fn checkpoint_from(row: &postgres::Row) -> Result<CheckpointRecord, StoreError> {
    let size: i64 = row.try_get(0)?;
    Ok(CheckpointRecord {
        size: u64::try_from(size).map_err(|_| StoreError::corrupt("negative tree size"))?,
        root: hash_from(row.try_get::<_, &[u8]>(1)?, "checkpoint root")?,
        note: row.try_get(2)?,
        created_ms: row.try_get(3)?,
    })
}

fn read_hashes_on(
    c: &mut impl postgres::GenericClient,
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
    let rows = c.query(
        "SELECT q.ord, coalesce(n.hash, e.leaf_hash) FROM \
         unnest($1::int[], $2::bigint[]) WITH ORDINALITY AS q(level, idx, ord) \
         LEFT JOIN nodes n ON q.level > 0 AND n.level = q.level AND n.idx = q.idx \
         LEFT JOIN entries e ON q.level = 0 AND e.idx = q.idx ORDER BY q.ord",
        &[&levels, &idxs],
    )?;
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

impl PostgresBackend {
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let backend = PostgresBackend {
            url: url.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        // Fail early on a bad URL or an unreachable server.
        let c = backend.client()?;
        backend.put_back(c);
        Ok(backend)
    }

    fn client(&self) -> Result<Client, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(c) if !c.is_closed() => Ok(c),
            _ => Ok(Client::connect(&self.url, NoTls)?),
        }
    }

    fn put_back(&self, c: Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE && !c.is_closed() {
            idle.push(c);
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.client()?;
        let out = f(&mut c);
        self.put_back(c);
        out
    }
}

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn init(&self, origin: &str, default_policy: &str) -> Result<String, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            // Two processes starting together must not race on CREATE TABLE.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEQUENCER_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            let version = tx
                .query_opt("SELECT value FROM meta WHERE key = 'schema'", &[])?
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?;
            match version.map(|v| v.parse::<i64>()) {
                None => {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema', $1)",
                        &[&SCHEMA_VERSION.to_string()],
                    )?;
                }
                Some(Ok(v)) if v <= SCHEMA_VERSION => {}
                Some(Ok(v)) => {
                    return Err(StoreError::Schema {
                        found: v,
                        known: SCHEMA_VERSION,
                    })
                }
                Some(Err(_)) => return Err(StoreError::corrupt("schema version")),
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('origin', $1) ON CONFLICT DO NOTHING",
                &[&origin],
            )?;
            let stored: String = tx
                .query_one("SELECT value FROM meta WHERE key = 'origin'", &[])?
                .try_get(0)?;
            tx.execute(
                "INSERT INTO policies (version, document, created_ms) \
                 SELECT 1, $1, 0 WHERE NOT EXISTS (SELECT 1 FROM policies)",
                &[&default_policy],
            )?;
            tx.commit()?;
            Ok(stored)
        })
    }

    fn append(
        &self,
        batch: &[NewEntry],
        now_ms: i64,
        seal: Seal<'_>,
    ) -> Result<Vec<Appended>, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEQUENCER_LOCK])?;
            let size: i64 = tx
                .query_one("SELECT coalesce(max(size), 0)::bigint FROM checkpoints", &[])?
                .try_get(0)?;
            let size =
                u64::try_from(size).map_err(|_| StoreError::corrupt("negative tree size"))?;
            let leaves: Vec<&[u8]> = batch.iter().map(|e| &e.leaf_hash[..]).collect();
            let present: std::collections::HashMap<Vec<u8>, i64> = tx
                .query(
                    "SELECT leaf_hash, idx FROM entries WHERE leaf_hash = ANY($1)",
                    &[&leaves],
                )?
                .iter()
                .map(|r| Ok((r.try_get::<_, Vec<u8>>(0)?, r.try_get::<_, i64>(1)?)))
                .collect::<Result<_, postgres::Error>>()?;
            let front = frontier(size, |ids| read_hashes_on(&mut tx, ids))?;
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
            tx.execute(
                "INSERT INTO blobs (hash, data) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT DO NOTHING",
                &[&statement_hashes, &pick(&|e| e.statement.clone())],
            )?;
            tx.execute(
                "INSERT INTO entries (idx, kind, leaf_hash, statement_hash, iss, sub, \
                 statement_type, subjects, policy_version, registered_ms) \
                 SELECT i, k, l, s, iss, sub, t, subj, p, $10 FROM \
                 unnest($1::bigint[], $2::int[], $3::bytea[], $4::bytea[], $5::text[], \
                 $6::text[], $7::text[], $8::text[], $9::bigint[]) AS u(i, k, l, s, iss, sub, t, subj, p)",
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
                ],
            )?;
            if !plan.nodes.is_empty() {
                let levels: Vec<i32> = plan.nodes.iter().map(|(id, _)| i32::from(id.level)).collect();
                let nidx: Vec<i64> = plan
                    .nodes
                    .iter()
                    .map(|(id, _)| as_i64(id.index))
                    .collect::<Result<_, _>>()?;
                let hashes: Vec<&[u8]> = plan.nodes.iter().map(|(_, h)| &h[..]).collect();
                tx.execute(
                    "INSERT INTO nodes (level, idx, hash) \
                     SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[])",
                    &[&levels, &nidx, &hashes],
                )?;
            }
            let note = seal(plan.size, &plan.root)?;
            tx.execute(
                "INSERT INTO checkpoints (size, root, note, created_ms) VALUES ($1, $2, $3, $4)",
                &[&as_i64(plan.size)?, &&plan.root[..], &note, &now_ms],
            )?;
            tx.commit()?;
            Ok(plan.results)
        })
    }

    fn entry(&self, index: u64) -> Result<Option<EntryRecord>, StoreError> {
        let idx = as_i64(index)?;
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = $1"),
                &[&idx],
            )?
            .map(|r| entry_from(&r))
            .transpose()
        })
    }

    fn entry_by_leaf(&self, leaf_hash: &Hash) -> Result<Option<EntryRecord>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE leaf_hash = $1"),
                &[&&leaf_hash[..]],
            )?
            .map(|r| entry_from(&r))
            .transpose()
        })
    }

    fn entry_by_statement(&self, hash: &Hash) -> Result<Option<EntryRecord>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM entries WHERE statement_hash = $1 \
                     ORDER BY idx LIMIT 1"
                ),
                &[&&hash[..]],
            )?
            .map(|r| entry_from(&r))
            .transpose()
        })
    }

    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT data FROM blobs WHERE hash = $1", &[&&hash[..]])?
                    .map(|r| r.try_get(0))
                    .transpose()?,
            )
        })
    }

    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.with(|c| read_hashes_on(c, ids))
    }

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT size, root, note, created_ms FROM checkpoints ORDER BY size DESC LIMIT 1",
                &[],
            )?
            .map(|r| checkpoint_from(&r))
            .transpose()
        })
    }

    fn checkpoint_covering(&self, size: u64) -> Result<Option<CheckpointRecord>, StoreError> {
        let size = as_i64(size)?;
        self.with(|c| {
            c.query_opt(
                "SELECT size, root, note, created_ms FROM checkpoints WHERE size >= $1 \
                 ORDER BY size LIMIT 1",
                &[&size],
            )?
            .map(|r| checkpoint_from(&r))
            .transpose()
        })
    }

    fn issuers(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT iss, role, spki, added_ms FROM issuers ORDER BY added_ms",
                &[],
            )?
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

    fn add_issuer(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO issuers (iss, role, spki, added_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[
                    &issuer.iss,
                    &issuer.role.name(),
                    &issuer.spki,
                    &issuer.added_ms,
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn add_token(
        &self,
        hash: &Hash,
        scope: Scope,
        label: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tokens (hash, scope, label, created_ms) VALUES ($1, $2, $3, $4)",
                &[&&hash[..], &scope.name(), &label, &now_ms],
            )?;
            Ok(())
        })
    }

    fn token_scope(&self, hash: &Hash) -> Result<Option<Scope>, StoreError> {
        let scope: Option<String> = self.with(|c| {
            Ok(
                c.query_opt("SELECT scope FROM tokens WHERE hash = $1", &[&&hash[..]])?
                    .map(|r| r.try_get(0))
                    .transpose()?,
            )
        })?;
        scope
            .map(|s| Scope::parse(&s).ok_or_else(|| StoreError::corrupt(format!("scope {s:?}"))))
            .transpose()
    }

    fn latest_policy(&self) -> Result<(i64, String), StoreError> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT version, document FROM policies ORDER BY version DESC LIMIT 1",
                &[],
            )?;
            Ok((r.try_get(0)?, r.try_get(1)?))
        })
    }

    fn policy(&self, version: i64) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT document FROM policies WHERE version = $1",
                &[&version],
            )?
            .map(|r| r.try_get(0))
            .transpose()?)
        })
    }

    fn add_policy(&self, document: &str, now_ms: i64) -> Result<i64, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(SEQUENCER_LOCK + 1)])?;
            let version: i64 = tx
                .query_one("SELECT coalesce(max(version), 0) + 1 FROM policies", &[])?
                .try_get(0)?;
            tx.execute(
                "INSERT INTO policies (version, document, created_ms) VALUES ($1, $2, $3)",
                &[&version, &document, &now_ms],
            )?;
            tx.commit()?;
            Ok(version)
        })
    }

    fn add_service_key(&self, kid: &[u8], cose_key: &[u8], now_ms: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO service_keys (kid, cose_key, created_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&kid, &cose_key, &now_ms],
            )?;
            Ok(())
        })
    }

    fn service_keys(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT kid, cose_key FROM service_keys ORDER BY created_ms, kid",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    fn storage_bytes(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind = 'r' AND n.nspname = current_schema() \
                     AND c.relname IN ('meta','blobs','entries','nodes','checkpoints',\
                     'issuers','tokens','policies','service_keys')",
                    &[],
                )?
                .try_get(0)?;
            Ok(n.max(0) as u64)
        })
    }
}
