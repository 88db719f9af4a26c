//! Issue 5 benchmark of the graph index, on the store library (no HTTP):
//!
//! * fills a log with `--sboms N` CycloneDX SBOMs of `--components M` components each
//!   (default 1,000 × 1,000 = 1,000,000 component edges): SBOM k describes artifact k and
//!   contains artifact k+1 (so walks go deep) plus M-1 libraries drawn from a shared pool;
//! * times a depth-10 components query from random artifacts and a dependents query for
//!   random libraries (p50/p99 over `--queries` runs);
//! * times the ingestion (registration + indexing) of one SBOM of `--big` components.
//!
//! `cargo run --release -p sbomit-store --example graph_bench -- --database sqlite:///tmp/g.db`
//! (or a postgres:// URL). Prints one Markdown table row per figure.

use std::time::{Duration, Instant};

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_store::admission::EntryKind;
use sbomit_store::policy::Role;
use sbomit_store::query::{Target, Walk};
use sbomit_store::service_key::ServiceKey;
use sbomit_store::{Store, StoreConfig};
use serde_json::json;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn sha(name: &str) -> String {
    hex::encode(sbomit_intoto::digest::Sha256::digest(name.as_bytes()).as_bytes())
}

fn sbom(key: &PrivateKey, subject: &str, children: impl Iterator<Item = String>) -> Vec<u8> {
    let components: Vec<_> = children
        .map(|c| {
            json!({"type": "library", "bom-ref": c, "name": c, "version": "1.0.0",
                   "purl": format!("pkg:generic/{c}@1.0.0"),
                   "hashes": [{"alg": "SHA-256", "content": sha(&c)}]})
        })
        .collect();
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": subject, "digest": {"sha256": sha(subject)}}],
        "predicateType": "https://cyclonedx.org/bom",
        "predicate": {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                      "components": components},
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).expect("envelope");
    env.sign(key).expect("sign");
    env.to_file_bytes()
}

/// A small deterministic generator (no dependency): xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D) % n
    }
}

fn percentiles(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let at = |p: f64| d[((d.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

fn main() {
    let database = arg("--database", "sqlite:///tmp/sbomit-graph-bench.db");
    let sboms: u64 = arg("--sboms", "1000").parse().expect("--sboms");
    let per: u64 = arg("--components", "1000").parse().expect("--components");
    let pool: u64 = arg("--pool", "50000").parse().expect("--pool");
    let queries: usize = arg("--queries", "200").parse().expect("--queries");
    let big: u64 = arg("--big", "100000").parse().expect("--big");
    let config = StoreConfig::new(&database, ServiceKey::generate().expect("service key"));
    let (store, _) = Store::open(&config).expect("open store");
    let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
    store
        .add_issuer("https://bench.example", Role::Attester, key.public_key())
        .expect("issuer");

    let mut rng = Rng(0x9E3779B97F4A7C15);
    let start = Instant::now();
    let mut last = 0;
    for k in 0..sboms {
        let libs: Vec<String> = (0..per.saturating_sub(1))
            .map(|_| format!("lib-{}", rng.next(pool)))
            .collect();
        let children = std::iter::once(format!("artifact-{}", k + 1)).chain(libs);
        let bytes = sbom(&key, &format!("artifact-{k}"), children);
        last = store
            .register(EntryKind::Dsse, &bytes)
            .expect("register")
            .index;
    }
    store
        .wait_indexed(last + 1, Duration::from_secs(3600))
        .expect("index");
    let fill = start.elapsed();
    let edges = sboms * per;
    println!(
        "| fill: {sboms} SBOMs × {per} components = {edges} edges, registered and indexed | {:.1} s | {:.0} edges/s |",
        fill.as_secs_f64(),
        edges as f64 / fill.as_secs_f64()
    );

    let walk = Walk {
        max_depth: 10,
        offset: 0,
        limit: 1000,
    };
    let mut times = Vec::new();
    let mut reached = 0;
    for _ in 0..queries {
        let k = rng.next(sboms.saturating_sub(10).max(1));
        let t = Instant::now();
        let a = store
            .components(&Target::Digest(sha(&format!("artifact-{k}"))), &walk)
            .expect("components");
        times.push(t.elapsed());
        reached += a.total;
    }
    let (p50, p99) = percentiles(times);
    println!(
        "| components, depth 10 (mean {} nodes reached, first 1,000 returned) | p50 {p50:.1} ms | p99 {p99:.1} ms |",
        reached / queries.max(1)
    );
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..queries {
        let lib = format!("pkg:generic/lib-{}@1.0.0", rng.next(pool));
        let t = Instant::now();
        let a = store
            .dependents(&Target::Purl(lib), &walk)
            .expect("dependents");
        times.push(t.elapsed());
        found += a.total;
    }
    let (p50, p99) = percentiles(times);
    println!(
        "| dependents, depth 10 (mean {} artifacts) | p50 {p50:.1} ms | p99 {p99:.1} ms |",
        found / queries.max(1)
    );

    let children = (0..big).map(|i| format!("big-{i}"));
    let bytes = sbom(&key, "big-artifact", children);
    let t = Instant::now();
    let index = store
        .register(EntryKind::Dsse, &bytes)
        .expect("register big")
        .index;
    let acked = t.elapsed();
    store
        .wait_indexed(index + 1, Duration::from_secs(600))
        .expect("index big");
    let indexed = t.elapsed();
    println!(
        "| ingest one {big}-component SBOM ({:.1} MB) | acknowledged {:.2} s | indexed {:.2} s |",
        bytes.len() as f64 / 1e6,
        acked.as_secs_f64(),
        indexed.as_secs_f64()
    );
    println!(
        "| storage | {:.0} MB | {} bytes per edge |",
        store.storage_bytes().unwrap_or(0) as f64 / 1e6,
        store.storage_bytes().unwrap_or(0) / edges.max(1)
    );
}
