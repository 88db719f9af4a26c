//! PostgreSQL query plans that must not depend on the size the log had when a connection
//! first ran a query (issue 12 h: the ten-minute soak). Run against the server
//! `SBOMIT_TEST_POSTGRES` names (skipped without it).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sbomit_store::backend::{self, EvidenceFilter, EvidenceSelector};
use sbomit_testkit::{Pg, PgSchema};

fn subject_key(i: u64) -> String {
    let name = format!("pkg:generic/plan/artifact@{i}");
    format!(
        "sha256:{}",
        hex::encode(sbomit_crypto::sha256(name.as_bytes()))
    )
}

/// Entries `from..=to` with one subject each, written straight into the log and graph tables
/// (the store would take minutes to register as many).
fn fill(pg: &Pg, from: u64, to: u64) {
    pg.batch_execute(&format!(
        "INSERT INTO entries (idx, kind, leaf_hash, statement_hash, iss, sub, statement_type, \
         subjects, statement, policy_version, registered_ms) \
         SELECT i, 1, sha256(('leaf' || i)::bytea), sha256(('st' || i)::bytea), 'https://ci', \
         'pkg:generic/plan/artifact@' || i, 'https://slsa.dev/provenance/v1', '[]', \
         convert_to(repeat('x', 600), 'UTF8'), 1, i FROM generate_series({from}, {to}) i;
         INSERT INTO graph_nodes (key) SELECT 'sha256:' || \
         encode(sha256(('pkg:generic/plan/artifact@' || i)::bytea), 'hex') \
         FROM generate_series({from}, {to}) i;
         INSERT INTO graph_subjects (node, entry) SELECT n.id, i FROM generate_series({from}, {to}) i \
         JOIN graph_nodes n ON n.key = 'sha256:' || \
         encode(sha256(('pkg:generic/plan/artifact@' || i)::bytea), 'hex');"
    ))
    .unwrap();
}

/// The soak's evidence queries took 1.5 s each at 17,000 entries and kept slowing: the plan
/// PostgreSQL cached on a connection while the log was nearly empty (and never analysed,
/// with autovacuum off) read every entry and scanned the subjects index for each.
#[test]
fn evidence_queries_stay_fast_after_the_log_outgrows_their_first_plan() {
    let Some(schema) = PgSchema::from_env("plans") else {
        return;
    };
    // One connection, so the queries below all meet the plans the first ones left.
    let backend = backend::open(&format!("{}&pool_size=1", schema.url())).unwrap();
    backend.init("plans.example", "{}").unwrap();
    let pg = Pg::connect(&schema.url()).unwrap();
    let filter = EvidenceFilter {
        limit: 100,
        ..EvidenceFilter::default()
    };
    let evidence = |i: u64| {
        backend
            .evidence(&EvidenceSelector::Nodes(vec![subject_key(i)]), &filter)
            .unwrap()
    };
    fill(&pg, 0, 9);
    for i in 0..20 {
        assert_eq!(evidence(i % 10).len(), 1);
    }
    fill(&pg, 10, 20_000);
    let start = Instant::now();
    for i in 0..5 {
        let found = evidence(19_000 - i * 97);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].index, 19_000 - i * 97);
    }
    // Index lookups take about a millisecond each; the plan of the nearly empty log took
    // 20 s a query at 40,000 entries (before the fix).
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "5 evidence queries took {took:?}"
    );
}
