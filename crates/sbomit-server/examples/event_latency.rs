//! Event delivery latency (issue 5, acceptance e): how long after a registration's 201
//! acknowledgement its `entry` event reaches a subscribed client.
//!
//! Starts a server in-process on 127.0.0.1 (an SQLite file in a temporary directory, or the
//! database given), subscribes to `/v1/events` over real HTTP, registers N DSSE statements one
//! by one and, for each, measures from the moment the client has the 201 to the moment the
//! client has read the event. An event that arrives before the acknowledgement counts as 0.
//! With `cross` (PostgreSQL), the subscriber is on a second server over the same database,
//! which learns of the other's commits by polling: the scale-out case.
//!
//! ```sh
//! cargo run --release -p sbomit-server --example event_latency -- [N] [DATABASE_URL [cross]]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_server::ServerConfig;
use sbomit_store::policy::Role;
use sbomit_store::service_key::ServiceKey;
use sbomit_store::{Store, StoreConfig};

fn statement(key: &PrivateKey, n: usize) -> Vec<u8> {
    let name = format!("artifact-{n}");
    let digest = hex::encode(sbomit_intoto::digest::Sha256::digest(name.as_bytes()).as_bytes());
    let st = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"n": n},
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, st).unwrap();
    env.sign(key).unwrap();
    env.to_file_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(1000, |a| a.parse().expect("N"));
    let dir = tempfile::tempdir().unwrap();
    let database = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("log.db").display()));
    let config = ServerConfig::default();
    let mut sc = StoreConfig::new(&database, ServiceKey::generate().unwrap());
    sc.batch = config.batch_config();
    let (store, opened) = Store::open(&sc).unwrap();
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    store
        .add_issuer("https://ci.example", Role::Attester, key.public_key())
        .unwrap();

    let (base, stop, server) = start_server(store.clone(), config.clone());
    let cross = args.next().as_deref() == Some("cross");
    // The subscriber's server: this one, or a second store and server on the same database.
    let second = cross.then(|| {
        let (other, _) = Store::open(&sc).unwrap();
        start_server(other, config.clone())
    });
    let events_base = second.as_ref().map_or(base.clone(), |s| s.0.clone());

    // The subscriber: a thread reading the stream, stamping each event as it is read.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .get(&format!("{events_base}/v1/events"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (tx, events) = mpsc::channel::<(u64, Instant)>();
    let mut reader = BufReader::new(resp.into_body().into_reader());
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut id = None;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if let Some(v) = line.strip_prefix("id: ") {
                id = v.trim().parse::<u64>().ok();
            } else if line.starts_with("data: ") {
                if let Some(i) = id.take() {
                    if tx.send((i, Instant::now())).is_err() {
                        return;
                    }
                }
            }
        }
    });

    let bodies: Vec<Vec<u8>> = (0..n).map(|i| statement(&key, i)).collect();
    let mut early: HashMap<u64, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for body in &bodies {
        let mut r = agent
            .post(&format!("{base}/v1/entries"))
            .header("Content-Type", "application/json")
            .send(&body[..])
            .unwrap();
        let acked = Instant::now();
        assert_eq!(r.status().as_u16(), 201);
        let answer: serde_json::Value =
            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        let index = answer["index"].as_u64().unwrap();
        let arrived = match early.remove(&index) {
            Some(t) => t,
            None => loop {
                let (i, t) = events
                    .recv_timeout(Duration::from_secs(30))
                    .expect("the event never arrived");
                if i == index {
                    break t;
                }
                early.insert(i, t);
            },
        };
        latencies.push(arrived.saturating_duration_since(acked));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    println!(
        "event delivery latency, 201 → event at the client ({} backend{}, {n} entries one by one, {:.1} s):",
        opened.backend,
        if cross { ", subscriber on a second server" } else { "" },
        elapsed.as_secs_f64()
    );
    println!(
        "  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  mean {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
    );
    for (_, stop, server) in second.into_iter().chain([(base, stop, server)]) {
        let _ = stop.send(());
        server.join().unwrap();
    }
}

type Running = (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
);

/// Serves `store` on 127.0.0.1 in a runtime thread: `(base URL, stop, thread)`.
fn start_server(store: Store, config: ServerConfig) -> Running {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        rt.block_on(sbomit_server::serve(store, config, listener, async {
            let _ = stopped.await;
        }))
        .unwrap();
    });
    (base, stop, server)
}
