//! PostgreSQL: several `serve` processes on one database. Appends run under a
//! transaction-scoped advisory lock, so exactly one process sequences at a time and each
//! batch sees the head the previous one committed. Batches go in with one statement per table
//! (`unnest` over arrays), not one round trip per row.
//!
//! Tests isolate themselves with the standard `options=-csearch_path%3DNAME` URL parameter.

use std::sync::Mutex;

use postgres::{Client, NoTls};

use sbomit_tlog::merkle::{Hash, NodeId};

use super::{
    check_schema, clean, frontier, graph_schema, hash_from, kind_from, log_schema, plan_batch,
    role_from, Appended, Backend, CheckpointRecord, EntryRecord, EvidenceFilter, EvidenceSelector,
    IssuerRecord, NodeField, Scope, Seal, ServiceKeyRecord, INLINE_STATEMENT_MAX, SCHEMA_VERSION,
};
use crate::admission::NewEntry;
use crate::graph::{Facts, Node, VulnStatus};
use crate::StoreError;

/// The advisory lock key of the sequencer (and of schema creation): "sbomit" in ASCII.
const SEQUENCER_LOCK: i64 = 0x73626f6d6974;

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

fn bare_node(key: &str) -> Node {
    Node {
        key: key.to_owned(),
        purl: None,
        name: None,
        version: None,
        sha256: None,
    }
}

fn graph_cursor_on(c: &mut impl postgres::GenericClient) -> Result<u64, StoreError> {
    let v: Option<String> = c
        .query_opt(
            "SELECT value FROM graph_meta WHERE key = 'graph_cursor'",
            &[],
        )?
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
        self.with(|c| {
            c.query(sql, &[])?
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
        self.with(|c| {
            c.query(sql, &[&keys])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<_, i64>(2)? as u64)))
                .collect()
        })
    }

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
            tx.batch_execute(&log_schema("BIGINT", "BYTEA", ""))?;
            tx.batch_execute(&graph_schema(
                "BIGSERIAL PRIMARY KEY",
                "BIGINT",
                "BYTEA",
                "",
            ))?;
            let version = tx
                .query_opt("SELECT value FROM meta WHERE key = 'schema'", &[])?
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?;
            if check_schema(version)? {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', $1)",
                    &[&SCHEMA_VERSION.to_string()],
                )?;
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
                .query_one(
                    "SELECT coalesce(max(size), 0)::bigint FROM checkpoints",
                    &[],
                )?
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
            let large: Vec<&NewEntry> = plan
                .inserts
                .iter()
                .map(|&(i, _)| &batch[i])
                .filter(|e| e.statement.len() > INLINE_STATEMENT_MAX)
                .collect();
            if !large.is_empty() {
                let hashes: Vec<&[u8]> = large.iter().map(|e| &e.statement_hash[..]).collect();
                let data: Vec<&[u8]> = large.iter().map(|e| &e.statement[..]).collect();
                tx.execute(
                    "INSERT INTO blobs (hash, data) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                     ON CONFLICT DO NOTHING",
                    &[&hashes, &data],
                )?;
            }
            let inline: Vec<Option<&[u8]>> = plan
                .inserts
                .iter()
                .map(|&(i, _)| {
                    let st = &batch[i].statement;
                    (st.len() <= INLINE_STATEMENT_MAX).then_some(&st[..])
                })
                .collect();
            tx.execute(
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
            )?;
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
        // Indexed by the graph tables; the entries the indexer has not reached yet are
        // scanned in log order.
        self.with(|c| {
            let indexed = c.query_opt(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = \
                     (SELECT min(entry) FROM graph_entries WHERE statement_hash = $1)"
                ),
                &[&&hash[..]],
            )?;
            let row = match indexed {
                Some(r) => Some(r),
                None => {
                    let cursor = as_i64(graph_cursor_on(c)?)?;
                    c.query_opt(
                        &format!(
                            "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx >= $1 \
                             AND statement_hash = $2 ORDER BY idx LIMIT 1"
                        ),
                        &[&cursor, &&hash[..]],
                    )?
                }
            };
            row.map(|r| entry_from(&r)).transpose()
        })
    }

    fn statement(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let index = as_i64(index)?;
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT coalesce(e.statement, b.data) FROM entries e LEFT JOIN blobs b \
                 ON e.statement IS NULL AND b.hash = e.statement_hash WHERE e.idx = $1",
                &[&index],
            )?
            .map(|r| r.try_get::<_, Option<Vec<u8>>>(0))
            .transpose()?
            .flatten())
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
        self.identity_rows("SELECT iss, role, spki, added_ms FROM issuers ORDER BY added_ms")
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

    fn add_trust_anchor(&self, issuer: &IssuerRecord) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO trust_anchors (iss, role, cert, added_ms) VALUES ($1, $2, $3, $4) \
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

    fn trust_anchors(&self) -> Result<Vec<IssuerRecord>, StoreError> {
        self.identity_rows("SELECT iss, role, cert, added_ms FROM trust_anchors ORDER BY added_ms")
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

    fn service_keys(&self) -> Result<Vec<ServiceKeyRecord>, StoreError> {
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
                     'issuers','tokens','policies','service_keys','trust_anchors','graph_meta',\
                     'graph_nodes','graph_subjects','graph_edges','graph_vulns','graph_entries')",
                    &[],
                )?
                .try_get(0)?;
            Ok(n.max(0) as u64)
        })
    }

    fn entries_from(&self, from: u64, limit: usize) -> Result<Vec<EntryRecord>, StoreError> {
        let from = as_i64(from)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx >= $1 ORDER BY idx LIMIT $2"
                ),
                &[&from, &limit],
            )?
            .iter()
            .map(entry_from)
            .collect()
        })
    }

    fn graph_cursor(&self) -> Result<u64, StoreError> {
        self.with(graph_cursor_on)
    }

    fn index_facts(&self, from: u64, facts: &[(EntryRecord, Facts)]) -> Result<bool, StoreError> {
        let Some(last) = facts.last().map(|(e, _)| e.index) else {
            return Ok(true);
        };
        self.with(|c| {
            let mut tx = c.transaction()?;
            // One indexer at a time across processes; the loser sees the cursor moved.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(SEQUENCER_LOCK + 2)])?;
            if graph_cursor_on(&mut tx)? != from {
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
            let rows = tx.query(
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
            )?;
            let ids: std::collections::HashMap<String, i64> = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, postgres::Error>>()?;
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
            tx.execute(
                "INSERT INTO graph_subjects (node, entry) SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
                 ON CONFLICT DO NOTHING",
                &[&s_node, &s_entry],
            )?;
            tx.execute(
                "INSERT INTO graph_edges (parent, child, entry) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING",
                &[&e_parent, &e_child, &e_entry],
            )?;
            tx.execute(
                "INSERT INTO graph_vulns (vuln_id, node, entry, status) \
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) ON CONFLICT DO NOTHING",
                &[&v_id, &v_node, &v_entry, &v_status],
            )?;
            tx.execute(
                "INSERT INTO graph_entries (entry, kind, unparsed, iss, sub, statement_hash) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::bytea[]) \
                 ON CONFLICT (entry) DO UPDATE SET kind = excluded.kind, unparsed = excluded.unparsed",
                &[&g_entry, &g_kind, &g_unparsed, &g_iss, &g_sub, &g_hash],
            )?;
            tx.execute(
                "INSERT INTO graph_meta (key, value) VALUES ('graph_cursor', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&(last + 1).to_string()],
            )?;
            tx.commit()?;
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
        self.with(|c| {
            c.query(
                "SELECT key, purl, name, version, sha256 FROM graph_nodes WHERE key = ANY($1)",
                &[&keys],
            )?
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
        self.with(|c| {
            c.query(
                &format!("SELECT key FROM graph_nodes WHERE {} = $1", field.column()),
                &[&value],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn subject_entries(&self, keys: &[String]) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT n.key, s.entry FROM graph_nodes n JOIN graph_subjects s ON s.node = n.id \
                 WHERE n.key = ANY($1) ORDER BY s.entry",
                &[&keys],
            )?
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
        let rest: [&(dyn postgres::types::ToSql + Sync); 6] = [
            &filter.types,
            &filter.iss,
            &filter.since_ms,
            &filter.until_ms,
            &after,
            &limit,
        ];
        self.with(|c| {
            let rows = match about {
                EvidenceSelector::Nodes(keys) => {
                    let sql = format!(
                        "SELECT {columns} FROM entries e WHERE e.idx IN (SELECT s.entry \
                         FROM graph_subjects s JOIN graph_nodes n ON n.id = s.node \
                         WHERE n.key = ANY($1)) {}",
                        filters(2)
                    );
                    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![keys];
                    params.extend(rest);
                    c.query(&sql, &params)?
                }
                EvidenceSelector::Issuer { iss, sub } => {
                    let sql = format!(
                        "SELECT {columns} FROM entries e WHERE e.idx IN (SELECT entry \
                         FROM graph_entries WHERE iss = $1 AND ($2::text IS NULL OR sub = $2)) {}",
                        filters(3)
                    );
                    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![iss, sub];
                    params.extend(rest);
                    c.query(&sql, &params)?
                }
            };
            rows.iter().map(entry_from).collect()
        })
    }

    fn vuln_facts(&self, vuln_id: &str) -> Result<Vec<(String, VulnStatus, u64)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT n.key, g.status, g.entry FROM graph_vulns g \
                 JOIN graph_nodes n ON n.id = g.node WHERE g.vuln_id = $1 ORDER BY g.entry",
                &[&vuln_id],
            )?
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
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT kind, unparsed FROM graph_entries WHERE entry = $1",
                &[&index],
            )?
            .map(|r| Ok::<_, postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()?)
        })
    }
}
