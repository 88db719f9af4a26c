//! The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so a commit
//! is on disk before the sequencer acknowledges it. One writer connection (the sequencer and
//! the admin calls) and a pool of readers, which WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

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

/// How many idle reader connections are kept.
const MAX_IDLE_READERS: usize = 8;

/// The page cache of the whole backend, in KiB. SQLite keeps a cache per connection and per
/// attached file, each filling up to its `cache_size` as the database grows, so each gets a
/// share of this budget: with 64 MiB each (as before), the writer, the indexer and eight
/// readers could hold 1.2 GiB, and a soak's RSS rose by 150 MiB in ten minutes (issue 12 h).
/// Pages beyond the caches are read from the operating system's file cache.
const PAGE_CACHE_KIB: i64 = 32 * 1024;

/// The shares of [`PAGE_CACHE_KIB`] (with at most [`MAX_IDLE_READERS`] readers they add up to
/// it): the sequencer's writes go to random places of the `leaf_hash` index, so it gets the
/// most; the indexer writes to the graph file's hash-keyed indexes and reads new entries in
/// order; readers look up few pages per request, mostly the B-trees' upper levels.
struct CacheShare {
    log_kib: i64,
    graph_kib: i64,
}

const WRITER_CACHE: CacheShare = CacheShare {
    log_kib: PAGE_CACHE_KIB * 15 / 32,
    graph_kib: 0,
};
const INDEXER_CACHE: CacheShare = CacheShare {
    log_kib: PAGE_CACHE_KIB / 32,
    graph_kib: PAGE_CACHE_KIB / 4,
};
const READER_CACHE: CacheShare = CacheShare {
    log_kib: PAGE_CACHE_KIB / 8 / MAX_IDLE_READERS as i64,
    graph_kib: PAGE_CACHE_KIB / 8 / MAX_IDLE_READERS as i64,
};

/// The log (`PATH`) and its graph index (`PATH.graph`) are separate files: the index is
/// derived data, rebuilt from the log if lost, so it commits without fsync
/// (`synchronous = NORMAL`) and — being another file, with its own write lock — its
/// transactions never wait for, or hold up, the sequencer's. The sequencer's connection does
/// not attach the index at all (`BEGIN IMMEDIATE` would lock every attached file); readers
/// and the indexer attach it as schema `g`.
pub struct SqliteBackend {
    path: PathBuf,
    graph_path: PathBuf,
    writer: Mutex<Connection>,
    graph_writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn connect_with_graph(
    path: &Path,
    graph: &Path,
    cache: &CacheShare,
) -> Result<Connection, StoreError> {
    let conn = connect(path, cache)?;
    conn.execute(
        "ATTACH DATABASE ?1 AS g",
        params![graph.to_string_lossy().as_ref()],
    )?;
    conn.pragma_update(Some("g"), "journal_mode", "WAL")?;
    conn.pragma_update(Some("g"), "synchronous", "NORMAL")?;
    // Negative: KiB.
    conn.pragma_update(Some("g"), "cache_size", -cache.graph_kib)?;
    Ok(conn)
}

fn connect(path: &Path, cache: &CacheShare) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a committed batch survives power loss, not only a crash of this process.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Upserts with RETURNING use a statement journal; on disk that is a write per page.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // This connection's share of the page cache (negative: KiB).
    conn.pragma_update(None, "cache_size", -cache.log_kib)?;
    // Checkpoint the WAL into the database less often than every 1,000 pages, which made
    // nearly every batch commit run a checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    Ok(conn)
}

fn entry_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        idx: row.get(0)?,
        kind: row.get(1)?,
        leaf_hash: row.get(2)?,
        statement_hash: row.get(3)?,
        iss: row.get(4)?,
        sub: row.get(5)?,
        statement_type: row.get(6)?,
        subjects: row.get(7)?,
        policy_version: row.get(8)?,
        registered_ms: row.get(9)?,
    })
}

const ENTRY_COLUMNS: &str = "idx, kind, leaf_hash, statement_hash, iss, sub, statement_type, \
                             subjects, policy_version, registered_ms";

pub(crate) struct RawEntry {
    pub idx: i64,
    pub kind: i64,
    pub leaf_hash: Vec<u8>,
    pub statement_hash: Vec<u8>,
    pub iss: String,
    pub sub: String,
    pub statement_type: String,
    pub subjects: String,
    pub policy_version: i64,
    pub registered_ms: i64,
}

impl RawEntry {
    pub(crate) fn into_record(self) -> Result<EntryRecord, StoreError> {
        Ok(EntryRecord {
            index: u64::try_from(self.idx).map_err(|_| StoreError::corrupt("negative index"))?,
            kind: kind_from(self.kind)?,
            leaf_hash: hash_from(&self.leaf_hash, "leaf hash")?,
            statement_hash: hash_from(&self.statement_hash, "statement hash")?,
            iss: self.iss,
            sub: self.sub,
            statement_type: self.statement_type,
            subjects: self.subjects,
            policy_version: self.policy_version,
            registered_ms: self.registered_ms,
        })
    }
}

fn as_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::BadRequest(format!("{n} is out of range")))
}

fn read_hashes_on(conn: &Connection, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
    let mut leaf = conn.prepare_cached("SELECT leaf_hash FROM entries WHERE idx = ?1")?;
    let mut node = conn.prepare_cached("SELECT hash FROM nodes WHERE level = ?1 AND idx = ?2")?;
    ids.iter()
        .map(|id| {
            let bytes: Option<Vec<u8>> = if id.level == 0 {
                leaf.query_row(params![as_i64(id.index)?], |r| r.get(0))
                    .optional()?
            } else {
                node.query_row(params![id.level, as_i64(id.index)?], |r| r.get(0))
                    .optional()?
            };
            let bytes =
                bytes.ok_or_else(|| StoreError::corrupt(format!("no hash for node {id}")))?;
            hash_from(&bytes, "node hash")
        })
        .collect()
}

fn checkpoint_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Vec<u8>, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn to_checkpoint(
    (size, root, note, created_ms): (i64, Vec<u8>, String, i64),
) -> Result<CheckpointRecord, StoreError> {
    Ok(CheckpointRecord {
        size: u64::try_from(size).map_err(|_| StoreError::corrupt("negative tree size"))?,
        root: hash_from(&root, "checkpoint root")?,
        note,
        created_ms,
    })
}

/// A list parameter: SQLite binds one JSON array and reads it with `json_each`, so no list
/// ever meets the bind-parameter limit.
fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// A node known only by its key (an edge or fact naming a node the facts did not list).
fn bare_node(key: &str) -> Node {
    Node {
        key: key.to_owned(),
        purl: None,
        name: None,
        version: None,
        sha256: None,
    }
}

fn graph_cursor_on(c: &Connection) -> Result<u64, StoreError> {
    let v: Option<String> = c
        .prepare_cached("SELECT value FROM graph_meta WHERE key = 'graph_cursor'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    v.map_or(Ok(0), |v| {
        v.parse()
            .map_err(|_| StoreError::corrupt(format!("graph cursor {v:?}")))
    })
}

impl SqliteBackend {
    /// Issuer keys or trust anchors: `(iss, role, key or certificate, added_ms)` rows.
    fn identity_rows(&self, sql: &str) -> Result<Vec<IssuerRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(sql)?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            rows.map(|row| {
                let (iss, role, spki, added_ms) = row?;
                Ok(IssuerRecord {
                    iss,
                    role: role_from(&role)?,
                    spki,
                    added_ms,
                })
            })
            .collect()
        })
    }

    fn edges(
        &self,
        keys: &[String],
        side: &str,
        join: &str,
    ) -> Result<Vec<(String, String, u64)>, StoreError> {
        let keys = json_list(keys);
        let (from_alias, other) = if side == "p.key" {
            ("p", "c")
        } else {
            ("c", "p")
        };
        let other_join = if other == "c" {
            "c.id = e.child"
        } else {
            "p.id = e.parent"
        };
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT p.key, c.key, e.entry FROM json_each(?1) j \
                 JOIN graph_nodes {from_alias} ON {side} = j.value \
                 JOIN graph_edges e ON {join} JOIN graph_nodes {other} ON {other_join}"
            ))?;
            let rows = st.query_map(params![keys], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                what: format!("creating {}", parent.display()),
                source,
            })?;
        }
        let mut graph_path = path.as_os_str().to_owned();
        graph_path.push(".graph");
        let graph_path = PathBuf::from(graph_path);
        let writer = connect(path, &WRITER_CACHE)?;
        let graph_writer = connect_with_graph(path, &graph_path, &INDEXER_CACHE)?;
        Ok(SqliteBackend {
            path: path.to_owned(),
            graph_path,
            writer: Mutex::new(writer),
            graph_writer: Mutex::new(graph_writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn graph_writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.graph_writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back
        // an unfinished transaction when the next one begins.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => connect_with_graph(&self.path, &self.graph_path, &READER_CACHE)?,
        };
        let out = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn init(&self, origin: &str, default_policy: &str) -> Result<String, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(&log_schema("INTEGER", "BLOB", " WITHOUT ROWID"))?;
        let version: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match check_schema(version)? {
            SchemaState::New => {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )?;
            }
            SchemaState::Current => {}
            SchemaState::Old(_) => {
                let has_expiry: i64 = tx.query_row(
                    "SELECT count(*) FROM pragma_table_info('tokens') WHERE name = 'expires_ms'",
                    [],
                    |r| r.get(0),
                )?;
                if has_expiry == 0 {
                    tx.execute_batch(&migrate_v1_to_v2("", "INTEGER"))?;
                }
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'schema'",
                    params![SCHEMA_VERSION.to_string()],
                )?;
            }
        }
        tx.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('origin', ?1)",
            params![origin],
        )?;
        let stored: String =
            tx.query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| {
                r.get(0)
            })?;
        let policies: i64 = tx.query_row("SELECT count(*) FROM policies", [], |r| r.get(0))?;
        if policies == 0 {
            tx.execute(
                "INSERT INTO policies (version, document, created_ms) VALUES (1, ?1, 0)",
                params![default_policy],
            )?;
        }
        tx.commit()?;
        drop(conn);
        self.graph_writer().execute_batch(&graph_schema(
            "INTEGER PRIMARY KEY",
            "INTEGER",
            "BLOB",
            "g.",
        ))?;
        Ok(stored)
    }

    fn append(
        &self,
        batch: &[NewEntry],
        now_ms: i64,
        seal: Seal<'_>,
    ) -> Result<Vec<Appended>, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let size: i64 =
            tx.query_row("SELECT coalesce(max(size), 0) FROM checkpoints", [], |r| {
                r.get(0)
            })?;
        let size = u64::try_from(size).map_err(|_| StoreError::corrupt("negative tree size"))?;
        let front = frontier(size, |ids| read_hashes_on(&tx, ids))?;
        let plan = {
            let mut find = tx.prepare_cached("SELECT idx FROM entries WHERE leaf_hash = ?1")?;
            plan_batch(batch, front, |leaf| {
                Ok(find
                    .query_row(params![&leaf[..]], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map(|i| i as u64))
            })?
        };
        if plan.inserts.is_empty() {
            drop(tx);
            return Ok(plan.results);
        }
        {
            let mut blob =
                tx.prepare_cached("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?1, ?2)")?;
            let mut entry = tx.prepare_cached(
                "INSERT INTO entries (idx, kind, leaf_hash, statement_hash, iss, sub, \
                 statement_type, subjects, policy_version, registered_ms, statement) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for &(i, index) in &plan.inserts {
                let e = &batch[i];
                let inline = e.statement.len() <= INLINE_STATEMENT_MAX;
                if !inline {
                    blob.execute(params![&e.statement_hash[..], &e.statement])?;
                }
                entry.execute(params![
                    as_i64(index)?,
                    e.kind.code(),
                    &e.leaf_hash[..],
                    &e.statement_hash[..],
                    e.iss,
                    e.sub,
                    e.statement_type,
                    e.subjects,
                    e.policy_version,
                    now_ms,
                    inline.then_some(&e.statement[..])
                ])?;
            }
            let mut node =
                tx.prepare_cached("INSERT INTO nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            for (id, hash) in &plan.nodes {
                node.execute(params![id.level, as_i64(id.index)?, &hash[..]])?;
            }
            let note = seal(plan.size, &plan.root)?;
            tx.execute(
                "INSERT INTO checkpoints (size, root, note, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![as_i64(plan.size)?, &plan.root[..], note, now_ms],
            )?;
        }
        tx.commit()?;
        Ok(plan.results)
    }

    fn entry(&self, index: u64) -> Result<Option<EntryRecord>, StoreError> {
        let idx = as_i64(index)?;
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = ?1"
            ))?
            .query_row(params![idx], entry_row)
            .optional()?
            .map(RawEntry::into_record)
            .transpose()
        })
    }

    fn entry_by_leaf(&self, leaf_hash: &Hash) -> Result<Option<EntryRecord>, StoreError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entries WHERE leaf_hash = ?1"
            ))?
            .query_row(params![&leaf_hash[..]], entry_row)
            .optional()?
            .map(RawEntry::into_record)
            .transpose()
        })
    }

    fn entry_by_statement(&self, hash: &Hash) -> Result<Option<EntryRecord>, StoreError> {
        // The lookup by statement hash is derived data (the graph file); entries the indexer
        // has not reached yet (a few milliseconds' worth) are scanned in log order.
        self.read(|c| {
            let indexed = c
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = \
                     (SELECT min(entry) FROM graph_entries WHERE statement_hash = ?1)"
                ))?
                .query_row(params![&hash[..]], entry_row)
                .optional()?;
            let found = match indexed {
                Some(e) => Some(e),
                None => {
                    let cursor = as_i64(graph_cursor_on(c)?)?;
                    c.prepare_cached(&format!(
                        "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx >= ?1 \
                         AND statement_hash = ?2 ORDER BY idx LIMIT 1"
                    ))?
                    .query_row(params![cursor, &hash[..]], entry_row)
                    .optional()?
                }
            };
            found.map(RawEntry::into_record).transpose()
        })
    }

    fn statement(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let index = as_i64(index)?;
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT coalesce(e.statement, b.data) FROM entries e LEFT JOIN blobs b \
                 ON e.statement IS NULL AND b.hash = e.statement_hash WHERE e.idx = ?1",
            )?
            .query_row(params![index], |r| r.get::<_, Option<Vec<u8>>>(0))
            .optional()?
            .flatten())
        })
    }

    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.read(|c| read_hashes_on(c, ids))
    }

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT size, root, note, created_ms FROM checkpoints ORDER BY size DESC LIMIT 1",
            )?
            .query_row([], checkpoint_row)
            .optional()?
            .map(to_checkpoint)
            .transpose()
        })
    }

    fn checkpoint_covering(&self, size: u64) -> Result<Option<CheckpointRecord>, StoreError> {
        let size = as_i64(size)?;
        self.read(|c| {
            c.prepare_cached(
                "SELECT size, root, note, created_ms FROM checkpoints WHERE size >= ?1 \
                 ORDER BY size LIMIT 1",
            )?
            .query_row(params![size], checkpoint_row)
            .optional()?
            .map(to_checkpoint)
            .transpose()
        })
    }

    fn issuers(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.identity_rows("SELECT iss, role, spki, added_ms FROM issuers ORDER BY added_ms")
    }

    fn add_issuer(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        let n = self.writer().execute(
            "INSERT OR IGNORE INTO issuers (iss, role, spki, added_ms) VALUES (?1, ?2, ?3, ?4)",
            params![issuer.iss, issuer.role.name(), issuer.spki, issuer.added_ms],
        )?;
        Ok(n == 1)
    }

    fn add_trust_anchor(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        let n = self.writer().execute(
            "INSERT OR IGNORE INTO trust_anchors (iss, role, cert, added_ms) VALUES (?1, ?2, ?3, ?4)",
            params![issuer.iss, issuer.role.name(), issuer.spki, issuer.added_ms],
        )?;
        Ok(n == 1)
    }

    fn trust_anchors(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.identity_rows("SELECT iss, role, cert, added_ms FROM trust_anchors ORDER BY added_ms")
    }

    fn remove_issuer(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        let n = self.writer().execute(
            "DELETE FROM issuers WHERE iss = ?1 AND role = ?2 AND spki = ?3",
            params![issuer.iss, issuer.role.name(), issuer.spki],
        )?;
        Ok(n > 0)
    }

    fn remove_trust_anchor(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        let n = self.writer().execute(
            "DELETE FROM trust_anchors WHERE iss = ?1 AND role = ?2 AND cert = ?3",
            params![issuer.iss, issuer.role.name(), issuer.spki],
        )?;
        Ok(n > 0)
    }

    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.writer().execute(
            "INSERT INTO tokens (hash, scope, label, created_ms, expires_ms, revoked_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                &t.hash[..],
                t.scope.name(),
                t.label,
                t.created_ms,
                t.expires_ms,
                t.revoked_ms
            ],
        )?;
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT hash, scope, label, created_ms, expires_ms, revoked_ms FROM tokens \
                 ORDER BY created_ms, hash",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?;
            rows.map(|row| {
                let (hash, scope, label, created_ms, expires_ms, revoked_ms) = row?;
                Ok(TokenRecord {
                    hash: hash_from(&hash, "token hash")?,
                    scope: scope_from(&scope)?,
                    label,
                    created_ms,
                    expires_ms,
                    revoked_ms,
                })
            })
            .collect()
        })
    }

    fn revoke_token(&self, hash: &Hash, now_ms: i64) -> Result<bool, StoreError> {
        let n = self.writer().execute(
            "UPDATE tokens SET revoked_ms = ?2 WHERE hash = ?1 AND revoked_ms IS NULL",
            params![&hash[..], now_ms],
        )?;
        Ok(n > 0)
    }

    fn latest_policy(&self) -> Result<(i64, String), StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT version, document FROM policies ORDER BY version DESC LIMIT 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })
    }

    fn policy(&self, version: i64) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT document FROM policies WHERE version = ?1")?
                    .query_row(params![version], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn add_policy(&self, document: &str, now_ms: i64) -> Result<i64, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM policies",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO policies (version, document, created_ms) VALUES (?1, ?2, ?3)",
            params![version, document, now_ms],
        )?;
        tx.commit()?;
        Ok(version)
    }

    fn add_service_key(&self, kid: &[u8], cose_key: &[u8], now_ms: i64) -> Result<(), StoreError> {
        self.writer().execute(
            "INSERT OR IGNORE INTO service_keys (kid, cose_key, created_ms) VALUES (?1, ?2, ?3)",
            params![kid, cose_key, now_ms],
        )?;
        Ok(())
    }

    fn service_keys(&self) -> Result<Vec<ServiceKeyRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT kid, cose_key FROM service_keys ORDER BY created_ms, kid",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn storage_bytes(&self) -> Result<u64, StoreError> {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let mut graph_wal = self.graph_path.clone().into_os_string();
        graph_wal.push("-wal");
        Ok(size(&self.path)
            + size(Path::new(&wal))
            + size(&self.graph_path)
            + size(Path::new(&graph_wal)))
    }

    fn entries_from(&self, from: u64, limit: usize) -> Result<Vec<EntryRecord>, StoreError> {
        let from = as_i64(from)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx >= ?1 ORDER BY idx LIMIT ?2"
            ))?;
            let rows = st.query_map(params![from, limit], entry_row)?;
            rows.map(|r| r?.into_record()).collect()
        })
    }

    fn graph_cursor(&self) -> Result<u64, StoreError> {
        self.read(graph_cursor_on)
    }

    fn index_facts(&self, from: u64, facts: &[(EntryRecord, Facts)]) -> Result<bool, StoreError> {
        let mut conn = self.graph_writer();
        // Deferred: only the graph file is written, so only it gets locked.
        let tx = conn.transaction()?;
        if graph_cursor_on(&tx)? != from {
            return Ok(false);
        }
        let Some(last) = facts.last().map(|(e, _)| e.index) else {
            return Ok(true);
        };
        {
            let mut node = tx.prepare_cached(
                "INSERT INTO graph_nodes (key, purl, purl_base, name, version, sha256) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key) DO UPDATE SET \
                 purl = coalesce(graph_nodes.purl, excluded.purl), \
                 purl_base = coalesce(graph_nodes.purl_base, excluded.purl_base), \
                 name = coalesce(graph_nodes.name, excluded.name), \
                 version = coalesce(graph_nodes.version, excluded.version), \
                 sha256 = coalesce(graph_nodes.sha256, excluded.sha256) RETURNING id",
            )?;
            let mut subject = tx.prepare_cached(
                "INSERT OR IGNORE INTO graph_subjects (node, entry) VALUES (?1, ?2)",
            )?;
            let mut edge = tx.prepare_cached(
                "INSERT OR IGNORE INTO graph_edges (parent, child, entry) VALUES (?1, ?2, ?3)",
            )?;
            let mut vuln = tx.prepare_cached(
                "INSERT OR IGNORE INTO graph_vulns (vuln_id, node, entry, status) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut entry_kind = tx.prepare_cached(
                "INSERT OR REPLACE INTO graph_entries (entry, kind, unparsed, iss, sub, statement_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (record, f) in facts {
                let entry = as_i64(record.index)?;
                let mut ids: std::collections::HashMap<String, i64> =
                    std::collections::HashMap::new();
                let mut intern = |n: &Node| -> Result<i64, StoreError> {
                    let key = clean(&n.key);
                    if let Some(&id) = ids.get(&key) {
                        return Ok(id);
                    }
                    let id: i64 = node.query_row(
                        params![
                            key,
                            n.purl.as_deref().map(clean),
                            n.purl_base().as_deref().map(clean),
                            n.name.as_deref().map(clean),
                            n.version.as_deref().map(clean),
                            n.sha256.as_deref().map(clean)
                        ],
                        |r| r.get(0),
                    )?;
                    ids.insert(key, id);
                    Ok(id)
                };
                for n in f.nodes.iter().chain(&f.subjects) {
                    intern(n)?;
                }
                let mut id_of = |key: &str| intern(&bare_node(key));
                for n in &f.subjects {
                    subject.execute(params![id_of(&n.key)?, entry])?;
                }
                for e in &f.edges {
                    edge.execute(params![id_of(&e.parent)?, id_of(&e.child)?, entry])?;
                }
                for v in &f.vulns {
                    vuln.execute(params![
                        clean(&v.vuln_id),
                        id_of(&v.node)?,
                        entry,
                        v.status.name()
                    ])?;
                }
                entry_kind.execute(params![
                    entry,
                    f.kind.name(),
                    f.unparsed,
                    clean(&record.iss),
                    clean(&record.sub),
                    &record.statement_hash[..]
                ])?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO graph_meta (key, value) VALUES ('graph_cursor', ?1)",
                params![(last + 1).to_string()],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn edges_from(&self, parents: &[String]) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.edges(parents, "p.key", "e.parent = p.id")
    }

    fn edges_to(&self, children: &[String]) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.edges(children, "c.key", "e.child = c.id")
    }

    fn nodes(&self, keys: &[String]) -> Result<Vec<Node>, StoreError> {
        let keys = json_list(keys);
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT key, purl, name, version, sha256 FROM graph_nodes \
                 WHERE key IN (SELECT value FROM json_each(?1))",
            )?;
            let rows = st.query_map(params![keys], |r| {
                Ok(Node {
                    key: r.get(0)?,
                    purl: r.get(1)?,
                    name: r.get(2)?,
                    version: r.get(3)?,
                    sha256: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn node_keys(&self, field: NodeField, value: &str) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT key FROM graph_nodes WHERE {} = ?1",
                field.column()
            ))?;
            let rows = st.query_map(params![value], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn subject_entries(&self, keys: &[String]) -> Result<Vec<(String, u64)>, StoreError> {
        let keys = json_list(keys);
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT n.key, s.entry FROM json_each(?1) j JOIN graph_nodes n ON n.key = j.value \
                 JOIN graph_subjects s ON s.node = n.id ORDER BY s.entry",
            )?;
            let rows = st.query_map(params![keys], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn evidence(
        &self,
        about: &EvidenceSelector,
        filter: &EvidenceFilter,
    ) -> Result<Vec<EntryRecord>, StoreError> {
        let (selector, a, b) = match about {
            EvidenceSelector::Nodes(keys) => (
                "e.idx IN (SELECT s.entry FROM graph_subjects s JOIN graph_nodes n ON n.id = s.node \
                 WHERE n.key IN (SELECT value FROM json_each(?1)))",
                json_list(keys),
                None,
            ),
            EvidenceSelector::Issuer { iss, sub } => (
                "e.idx IN (SELECT entry FROM graph_entries WHERE iss = ?1 \
                 AND (?2 IS NULL OR sub = ?2))",
                iss.clone(),
                sub.clone(),
            ),
        };
        let types = json_list(&filter.types);
        let after = filter.after.map(as_i64).transpose()?;
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let columns = ENTRY_COLUMNS
            .split(", ")
            .map(|c| format!("e.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {columns} FROM entries e WHERE {selector} \
                 AND (?3 = '[]' OR e.statement_type IN (SELECT value FROM json_each(?3))) \
                 AND (?4 IS NULL OR e.iss = ?4) AND (?5 IS NULL OR e.registered_ms >= ?5) \
                 AND (?6 IS NULL OR e.registered_ms <= ?6) AND (?7 IS NULL OR e.idx > ?7) \
                 ORDER BY e.idx LIMIT ?8"
            ))?;
            let rows = st.query_map(
                params![
                    a,
                    b,
                    types,
                    filter.iss,
                    filter.since_ms,
                    filter.until_ms,
                    after,
                    limit
                ],
                entry_row,
            )?;
            rows.map(|r| r?.into_record()).collect()
        })
    }

    fn vuln_facts(&self, vuln_id: &str) -> Result<Vec<(String, VulnStatus, u64)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT n.key, g.status, g.entry FROM graph_vulns g \
                 JOIN graph_nodes n ON n.id = g.node WHERE g.vuln_id = ?1 ORDER BY g.entry",
            )?;
            let rows = st.query_map(params![vuln_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            rows.map(|r| {
                let (key, status, entry) = r?;
                let status = VulnStatus::parse(&status).ok_or_else(|| {
                    StoreError::corrupt(format!("vulnerability status {status:?}"))
                })?;
                Ok((key, status, entry as u64))
            })
            .collect()
        })
    }

    fn graph_entry(&self, index: u64) -> Result<Option<(String, Option<String>)>, StoreError> {
        let index = as_i64(index)?;
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT kind, unparsed FROM graph_entries WHERE entry = ?1")?
                    .query_row(params![index], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
            )
        })
    }
}
