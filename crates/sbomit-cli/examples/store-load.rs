//! Load generator for the Store (issue #4, acceptance e); `benches/store.sh` drives it.
//!
//! * `submit`: pre-signs N Ed25519 DSSE in-toto statements, registers their issuer, then POSTs
//!   them to a running `sbomit store serve` over C keep-alive connections and reports
//!   entries/s with durable acknowledgement (every 201 comes after its batch committed).
//! * `fill`: grows the log to a size through the Store library directly (admission and
//!   sequencing as the server does them, without HTTP), for the latency part.
//! * `latency`: receipt (`GET /entries/1.N`) and inclusion proof (`GET /v1/proofs/inclusion`)
//!   latency for random N, and storage bytes per entry.
//!
//! Results are printed as `name: value` lines.
//!
//!   cargo run --release -p sbomit-cli --example store-load -- submit --url URL --database DB \
//!       --service-key K -n 20000 -c 32

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::{Parser, Subcommand};
use serde_json::json;

use sbomit_core::crypto::{KeyKind, PrivateKey};
use sbomit_core::envelope::{pae, INTOTO_PAYLOAD_TYPE};
use sbomit_store::admission::EntryKind;
use sbomit_store::policy::Role;
use sbomit_store::sequencer::BatchConfig;
use sbomit_store::{Store, StoreConfig};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Db {
    /// `sqlite://PATH` or `postgres://…` (the server's).
    #[arg(long)]
    database: String,
    /// The server's service key (PKCS#8 PEM).
    #[arg(long)]
    service_key: std::path::PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Registration throughput over HTTP.
    Submit {
        #[arg(long)]
        url: String,
        #[command(flatten)]
        db: Db,
        /// Statements to register.
        #[arg(short = 'n', default_value_t = 20_000)]
        count: usize,
        /// Concurrent connections.
        #[arg(short = 'c', default_value_t = 32)]
        connections: usize,
    },
    /// Grow the log to `--to` entries through the library (no server running).
    Fill {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        to: u64,
    },
    /// Receipt and inclusion-proof latency for random entries; storage per entry.
    Latency {
        #[arg(long)]
        url: String,
        #[command(flatten)]
        db: Db,
        /// Requests of each kind.
        #[arg(long, default_value_t = 2000)]
        samples: usize,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Submit {
            url,
            db,
            count,
            connections,
        } => submit(&url, &db, count, connections),
        Command::Fill { db, to } => fill(&db, to),
        Command::Latency { url, db, samples } => latency(&url, &db, samples),
    }
}

fn open(db: &Db, batch: BatchConfig) -> Result<Store> {
    let mut config = StoreConfig::new(db.database.clone(), db.service_key.clone());
    config.batch = batch;
    Ok(Store::open(&config)
        .with_context(|| format!("opening {}", db.database))?
        .0)
}

/// A new issuer, registered as an attester.
fn issuer(store: &Store, name: &str) -> Result<PrivateKey> {
    let key = PrivateKey::generate(KeyKind::Ed25519)?;
    store.add_issuer(name, Role::Attester, key.public_key())?;
    Ok(key)
}

/// A DSSE envelope around an in-toto Statement about one made-up artifact, about as large as
/// a small provenance statement (~0.6 KiB).
fn statement(key: &PrivateKey, run: &str, n: u64) -> Result<Vec<u8>> {
    let name = format!("pkg:generic/load-{run}/artifact@{n}");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{
            "name": name,
            "digest": { "sha256": hex::encode(sbomit_core::crypto::sha256(name.as_bytes())) },
        }],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://example.com/load/v1",
                "externalParameters": { "run": run, "n": n },
            },
            "runDetails": { "builder": { "id": "https://ci.example/runner" } },
        },
    });
    let payload = serde_json::to_vec(&statement)?;
    let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(serde_json::to_vec(&json!({
        "payload": b64.encode(&payload),
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{ "keyid": key.public_key().keyid().as_str(), "sig": b64.encode(sig) }],
    }))?)
}

fn run_id() -> String {
    let mut raw = [0u8; 8];
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    raw.copy_from_slice(&(t as u64 ^ u64::from(std::process::id())).to_be_bytes());
    hex::encode(raw)
}

/// Signs statements `range` on all cores.
fn sign_all(key: &PrivateKey, run: &str, range: std::ops::Range<u64>) -> Result<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let len = range.end - range.start;
    let chunk = len.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = range.start + t * chunk;
                let end = (start + chunk).min(range.end);
                s.spawn(move || (start..end).map(|n| statement(key, run, n)).collect())
            })
            .collect();
        let mut all = Vec::with_capacity(len as usize);
        for h in handles {
            let part: Result<Vec<Vec<u8>>> = h.join().map_err(|_| anyhow::anyhow!("panic"))?;
            all.extend(part?);
        }
        Ok(all)
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn submit(url: &str, db: &Db, count: usize, connections: usize) -> Result<()> {
    let url = url.trim_end_matches('/').to_owned();
    let run = run_id();
    let key = {
        let store = open(db, BatchConfig::default())?;
        issuer(&store, &format!("https://load.example/{run}"))?
    };
    let t = Instant::now();
    let statements = Arc::new(sign_all(&key, &run, 0..count as u64)?);
    eprintln!("signed {count} statements in {:.1?}", t.elapsed());
    // Warm up the connections and the server's registry cache.
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let failures = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (statements, next, latencies, failures, url) = (
                Arc::clone(&statements),
                Arc::clone(&next),
                Arc::clone(&latencies),
                Arc::clone(&failures),
                url.clone(),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= statements.len() {
                        break;
                    }
                    let t = Instant::now();
                    let ok = agent
                        .post(format!("{url}/v1/entries"))
                        .header("Content-Type", "application/json")
                        .send(&statements[i][..])
                        .ok()
                        .and_then(|mut r| {
                            let status = r.status().as_u16();
                            r.body_mut().read_to_vec().ok().map(|_| status == 201)
                        })
                        .unwrap_or(false);
                    if ok {
                        mine.push(t.elapsed());
                    } else {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if let Ok(mut l) = latencies.lock() {
                    l.extend(mine);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let elapsed = start.elapsed();
    let failures = failures.load(Ordering::Relaxed);
    if failures > 0 {
        bail!("{failures} of {count} submissions were not acknowledged with 201");
    }
    let mut l = std::mem::take(&mut *latencies.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    l.sort();
    println!("entries: {count}");
    println!("connections: {connections}");
    println!("seconds: {:.2}", elapsed.as_secs_f64());
    println!(
        "entries_per_second: {:.0}",
        count as f64 / elapsed.as_secs_f64()
    );
    println!("submit_p50_ms: {:.1}", percentile(&l, 0.50));
    println!("submit_p99_ms: {:.1}", percentile(&l, 0.99));
    Ok(())
}

fn fill(db: &Db, to: u64) -> Result<()> {
    // Large batches: the fill is about reaching the size, one commit per 16k entries.
    let store = open(
        db,
        BatchConfig {
            interval: Duration::from_millis(50),
            max_batch: 16_384,
        },
    )?;
    let size = store.checkpoint()?.map_or(0, |c| c.size);
    if size >= to {
        println!("size: {size}");
        return Ok(());
    }
    let run = run_id();
    let key = issuer(&store, &format!("https://fill.example/{run}"))?;
    let start = Instant::now();
    let mut n = 0u64;
    let mut current = store.checkpoint()?.map_or(0, |c| c.size);
    const CHUNK: u64 = 20_000;
    while current < to {
        let want = (to - current).min(CHUNK);
        let statements = sign_all(&key, &run, n..n + want)?;
        n += want;
        // Admission (parse, signature check) on all cores, as the server's handlers do.
        let tickets = std::thread::scope(|s| -> Result<Vec<_>> {
            let halves: Vec<_> = statements
                .chunks(statements.len().div_ceil(2).max(1))
                .map(|part| {
                    let store = &store;
                    s.spawn(move || {
                        part.iter()
                            .map(|b| store.submit(EntryKind::Dsse, b))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let mut all = Vec::new();
            for h in halves {
                all.extend(h.join().map_err(|_| anyhow::anyhow!("panic"))??);
            }
            Ok(all)
        })?;
        for t in tickets {
            t.wait()?;
        }
        current = store.checkpoint()?.map_or(0, |c| c.size);
        eprintln!(
            "filled to {current} ({:.0} entries/s)",
            n as f64 / start.elapsed().as_secs_f64()
        );
    }
    println!("size: {current}");
    println!(
        "fill_entries_per_second: {:.0}",
        n as f64 / start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn latency(url: &str, db: &Db, samples: usize) -> Result<()> {
    let url = url.trim_end_matches('/');
    let agent = agent();
    let mut r = agent.get(format!("{url}/checkpoint")).call()?;
    let note = r.body_mut().read_to_string()?;
    let size: u64 = note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("no tree size in the checkpoint")?;
    if size == 0 {
        bail!("the log is empty");
    }
    // A small xorshift: random entries without a dependency.
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ size;
    let mut random = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % size
    };
    let mut measure = |path: &dyn Fn(u64) -> String| -> Result<Vec<Duration>> {
        let mut l = Vec::with_capacity(samples);
        for _ in 0..samples {
            let n = random();
            let t = Instant::now();
            let mut r = agent.get(format!("{url}{}", path(n))).call()?;
            let status = r.status().as_u16();
            r.body_mut().read_to_vec()?;
            if status != 200 {
                bail!("{}: HTTP {status}", path(n));
            }
            l.push(t.elapsed());
        }
        l.sort();
        Ok(l)
    };
    let receipts = measure(&|n| format!("/entries/1.{n}"))?;
    let proofs = measure(&|n| format!("/v1/proofs/inclusion?index={n}"))?;
    let store = open(db, BatchConfig::default())?;
    let bytes = store.storage_bytes()?;
    println!("size: {size}");
    println!("receipt_p50_ms: {:.2}", percentile(&receipts, 0.50));
    println!("receipt_p99_ms: {:.2}", percentile(&receipts, 0.99));
    println!("inclusion_p50_ms: {:.2}", percentile(&proofs, 0.50));
    println!("inclusion_p99_ms: {:.2}", percentile(&proofs, 0.99));
    println!("storage_bytes: {bytes}");
    println!("bytes_per_entry: {:.0}", bytes as f64 / size as f64);
    Ok(())
}
