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
//! * `soak`: mixed load for minutes at a set registration rate (`benches/soak.sh`): signed
//!   registrations, queries, event streams, junk, oversized and slow-drip requests; a line per
//!   minute (errors, p99, server RSS) and, at the end, a check that every acknowledged entry
//!   is in the log.
//!
//! * `junk`: issue 12 a: the server CPU each kind of junk costs (an envelope with 10,000
//!   signatures, one with 10,000 distinct key ids, JSON nested 100,000 deep), each refused on
//!   a fresh connection, and registration throughput quiet and under a concurrent junk flood.
//!
//! Results are printed as `name: value` lines (`soak`: a table, then such lines).
//!
//!   cargo run --release -p sbomit-cli --example store-load -- submit --url URL --database DB \
//!       --service-key K -n 20000 -c 32

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::{Parser, Subcommand};
use serde_json::json;

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{pae, INTOTO_PAYLOAD_TYPE};
use sbomit_store::admission::EntryKind;
use sbomit_store::policy::Role;
use sbomit_store::sequencer::BatchConfig;
use sbomit_store::service_key::ServiceKey;
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
    /// What junk costs the server (see `junk`): CPU per refused request of each kind, and
    /// registration throughput with and without a concurrent junk flood.
    Junk {
        #[arg(long)]
        url: String,
        #[command(flatten)]
        db: Db,
        /// The server's pid, for its CPU time (`/proc/PID/stat`).
        #[arg(long)]
        server_pid: u32,
        /// Requests of each junk kind for the CPU figure.
        #[arg(long, default_value_t = 200)]
        count: usize,
        /// Registrations in each throughput run.
        #[arg(short = 'n', default_value_t = 3000)]
        registrations: usize,
        /// Connections registering.
        #[arg(short = 'c', default_value_t = 16)]
        connections: usize,
        /// Connections sending junk during the flood run, each as fast as it is answered.
        #[arg(long, default_value_t = 16)]
        flood: usize,
    },
    /// Mixed load for `--minutes` at `--rate` registrations a second (see `soak`).
    Soak {
        #[arg(long)]
        url: String,
        #[command(flatten)]
        db: Db,
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Registrations a second; queries run at the same rate, junk at a tenth of it.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// The server's pid, for its RSS (`/proc/PID/status`).
        #[arg(long)]
        server_pid: u32,
        /// Slow-drip (slowloris) connections kept open.
        #[arg(long, default_value_t = 32)]
        slow: usize,
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
        Command::Junk {
            url,
            db,
            server_pid,
            count,
            registrations,
            connections,
            flood,
        } => junk::run(&junk::Options {
            url,
            db,
            server_pid,
            count,
            registrations,
            connections,
            flood,
        }),
        Command::Soak {
            url,
            db,
            minutes,
            rate,
            server_pid,
            slow,
        } => soak::run(&soak::Options {
            url,
            db,
            minutes,
            rate,
            server_pid,
            slow,
        }),
    }
}

fn open(db: &Db, batch: BatchConfig) -> Result<Store> {
    // The key file the server created (this harness runs against its `serve`).
    let pem = std::fs::read(&db.service_key)
        .with_context(|| format!("reading {}", db.service_key.display()))?;
    let key = ServiceKey::from_pem(&pem)
        .with_context(|| format!("the service key {}", db.service_key.display()))?;
    let mut config = StoreConfig::new(db.database.clone(), key);
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
            "digest": { "sha256": hex::encode(sbomit_crypto::sha256(name.as_bytes())) },
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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The submit phase's HTTP client: raw HTTP/1.1 over keep-alive TCP connections, all on one
/// thread, with every request pre-built. The load generator is measuring apparatus that
/// shares the two cores with the server; the general client it used before (a thread per
/// connection, a request builder and header map per request) cost the machine as much CPU
/// per entry as the server's own work, and what it took the server could not use.
mod wire {
    use std::io;

    use anyhow::{bail, Context, Result};
    use tokio::net::TcpStream;

    /// `host:port` of an `http://host:port[/…]` URL.
    pub fn authority(url: &str) -> Result<&str> {
        let rest = url
            .strip_prefix("http://")
            .context("the load generator speaks plain http:// only")?;
        Ok(rest.split('/').next().unwrap_or(rest))
    }

    /// A complete `POST /v1/entries` request carrying `body`.
    pub fn post_entries(host: &str, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "POST /v1/entries HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    pub async fn write_all(s: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            s.writable().await?;
            match s.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Appends what the socket has to `buf`; an error at end of stream.
    pub async fn read_some(s: &TcpStream, buf: &mut Vec<u8>) -> Result<()> {
        let mut chunk = [0u8; 4096];
        loop {
            s.readable().await?;
            match s.try_read(&mut chunk) {
                Ok(0) => bail!("the server closed the connection"),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The status and `Content-Length` of a response head (the bytes before the blank line).
    pub fn parse_head(head: &[u8]) -> Result<(u16, usize)> {
        let head = std::str::from_utf8(head).context("a response head that is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .context("no status line")?;
        let mut length = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse().context("a bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("a response with Transfer-Encoding (the server's always have a length)");
            }
        }
        Ok((status, length.context("a response without Content-Length")?))
    }

    /// [`exchange`], returning the body too.
    pub async fn exchange_body(
        s: &TcpStream,
        request: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(u16, Vec<u8>)> {
        write_all(s, request).await?;
        read_response(s, buf).await
    }

    /// Reads one response (with a `Content-Length`); returns its status and body.
    pub async fn read_response(s: &TcpStream, buf: &mut Vec<u8>) -> Result<(u16, Vec<u8>)> {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            read_some(s, buf).await?;
        };
        let (status, length) = parse_head(&buf[..head_end - 4])?;
        while buf.len() < head_end + length {
            read_some(s, buf).await?;
        }
        let body = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);
        Ok((status, body))
    }

    /// Sends one request and reads its response; returns the status. `buf` carries what was
    /// read past the response (nothing, with one request in flight) to the next call.
    pub async fn exchange(s: &TcpStream, request: &[u8], buf: &mut Vec<u8>) -> Result<u16> {
        write_all(s, request).await?;
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            read_some(s, buf).await?;
        };
        let (status, length) = parse_head(&buf[..head_end - 4])?;
        while buf.len() < head_end + length {
            read_some(s, buf).await?;
        }
        buf.drain(..head_end + length);
        Ok(status)
    }
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (Linux; `None`
/// elsewhere). Its clock ticks are USER_HZ, which the kernel ABI fixes at 100.
fn cpu_seconds() -> Option<f64> {
    cpu_seconds_at("/proc/self/stat")
}

/// [`cpu_seconds`] of another process (the server).
fn cpu_seconds_of(pid: u32) -> Option<f64> {
    cpu_seconds_at(&format!("/proc/{pid}/stat"))
}

fn cpu_seconds_at(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name (which may hold spaces); utime and stime
    // are fields 14 and 15 of the line, 12 and 13 after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn submit(url: &str, db: &Db, count: usize, connections: usize) -> Result<()> {
    let url = url.trim_end_matches('/').to_owned();
    let host = wire::authority(&url)?.to_owned();
    let run = run_id();
    let key = {
        let store = open(db, BatchConfig::default())?;
        issuer(&store, &format!("https://load.example/{run}"))?
    };
    let t = Instant::now();
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        sign_all(&key, &run, 0..count as u64)?
            .iter()
            .map(|body| wire::post_entries(&host, body))
            .collect(),
    );
    eprintln!("signed {count} statements in {:.1?}", t.elapsed());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let (elapsed, cpu, mut l) = runtime.block_on(async {
        let cpu_start = cpu_seconds();
        let (elapsed, all) = register_all(&host, requests, connections).await?;
        let cpu = cpu_start.zip(cpu_seconds()).map(|(a, b)| b - a);
        anyhow::Ok((elapsed, cpu, all))
    })?;
    if l.len() != count {
        bail!(
            "{} of {count} submissions were acknowledged with 201",
            l.len()
        );
    }
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
    if let Some(cpu) = cpu {
        println!("client_cpu_us_per_entry: {:.0}", cpu * 1e6 / count as f64);
    }
    Ok(())
}

/// POSTs every request over `connections` keep-alive connections, each expecting a 201;
/// returns the wall time from the first request and each request's latency.
async fn register_all(
    host: &str,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
) -> Result<(Duration, Vec<Duration>)> {
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let s = tokio::net::TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to {host}"))?;
        s.set_nodelay(true)?;
        streams.push(s);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|s| {
            let (requests, next) = (Arc::clone(&requests), Arc::clone(&next));
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(1024);
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        break;
                    };
                    let t = Instant::now();
                    let status = wire::exchange(&s, request, &mut buf).await?;
                    if status != 201 {
                        bail!("statement {i}: HTTP {status}, not 201");
                    }
                    mine.push(t.elapsed());
                }
                Ok(mine)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(requests.len());
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((start.elapsed(), all))
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
    let client = sbomit_client::Client::new(url)?.with_timeout(Duration::from_secs(60));
    let note = client.checkpoint()?;
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
    let mut measure = |fetch: &dyn Fn(u64) -> Result<()>| -> Result<Vec<Duration>> {
        let mut l = Vec::with_capacity(samples);
        for _ in 0..samples {
            let n = random();
            let t = Instant::now();
            fetch(n)?;
            l.push(t.elapsed());
        }
        l.sort();
        Ok(l)
    };
    let receipts = measure(&|n| {
        client
            .receipt(&format!("1.{n}"))
            .with_context(|| format!("/entries/1.{n}"))?;
        Ok(())
    })?;
    let proofs = measure(&|n| {
        client
            .inclusion_proof(n, None)
            .with_context(|| format!("/v1/proofs/inclusion?index={n}"))?;
        Ok(())
    })?;
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

/// The soak test (`benches/soak.sh`): mixed load at a fixed rate for minutes, a line per
/// minute, and at the end a check that nothing acknowledged was lost.
///
/// Load, all on one thread (raw HTTP/1.1, as `submit`):
/// * registrations: `rate` a second over 4 keep-alive connections, each a freshly signed DSSE
///   statement of a registered issuer; a 201 is an acknowledged entry (its index is kept);
/// * queries: `rate` a second over 2 connections, in turn a receipt and an inclusion proof of
///   an acknowledged entry, an evidence query for its subject, the checkpoint;
/// * events: one long-lived `GET /v1/events` stream, and a short-lived one every 5 s that
///   starts among the last `REPLAY_WINDOW` acknowledged entries (a bounded replay);
/// * junk: `rate / 10` a second on fresh connections, in turn random bytes as a DSSE envelope,
///   a body declared at 64 MiB, a request line that is not HTTP, a statement by an
///   unregistered key; each must be refused (a 4xx, or the connection closed for the non-HTTP
///   one);
/// * slow drip: `slow` connections sending a request header a byte a second, reopened when
///   the server closes them.
///
/// An error is anything else: a 5xx, an unexpected status, a dropped keep-alive connection.
mod soak {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use anyhow::{bail, Context, Result};
    use tokio::net::TcpStream;
    use tokio::time::{interval, sleep, MissedTickBehavior};

    use super::{issuer, open, percentile, run_id, statement, wire, Db};
    use sbomit_crypto::{KeyKind, PrivateKey};
    use sbomit_store::sequencer::BatchConfig;

    pub struct Options {
        pub url: String,
        pub db: Db,
        pub minutes: f64,
        pub rate: f64,
        pub server_pid: u32,
        pub slow: usize,
    }

    #[derive(Default)]
    struct Minute {
        registered: u64,
        register_latency: Vec<Duration>,
        queries: u64,
        query_latency: Vec<Duration>,
        refused: u64,
        errors: BTreeMap<String, u64>,
    }

    struct Shared {
        host: String,
        run: String,
        key: PrivateKey,
        stranger: PrivateKey,
        minute: Mutex<Minute>,
        /// Indexes of acknowledged (201) entries.
        acked: Mutex<Vec<u64>>,
        /// Operation ids of accepted-but-not-yet-durable (202) registrations.
        pending: Mutex<Vec<String>>,
        next: AtomicU64,
        events: AtomicU64,
        slow_open: AtomicUsize,
        slow_closed: AtomicU64,
        stop: AtomicBool,
    }

    impl Shared {
        fn error(&self, what: impl Into<String>) {
            let mut m = self.minute.lock().unwrap_or_else(|e| e.into_inner());
            *m.errors.entry(what.into()).or_default() += 1;
        }
        fn with_minute(&self, f: impl FnOnce(&mut Minute)) {
            f(&mut self.minute.lock().unwrap_or_else(|e| e.into_inner()));
        }
        fn random_acked(&self, salt: u64) -> Option<u64> {
            self.random_recent_acked(salt, usize::MAX)
        }

        /// One of the last `window` acknowledged entries.
        fn random_recent_acked(&self, salt: u64, window: usize) -> Option<u64> {
            let acked = self.acked.lock().unwrap_or_else(|e| e.into_inner());
            let from = acked.len().saturating_sub(window);
            let recent = &acked[from..];
            if recent.is_empty() {
                return None;
            }
            let x = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
            Some(recent[(x % recent.len() as u64) as usize])
        }
    }

    fn get(host: &str, path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
    }

    async fn connect(host: &str) -> Result<TcpStream> {
        let s = TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to {host}"))?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// The server's resident memory (VmRSS, kB) and open descriptors.
    fn server_rss_kb(pid: u32) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    fn server_fds(pid: u32) -> Option<usize> {
        Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
    }

    async fn registrations(sh: Arc<Shared>, period: Duration) {
        let mut tick = interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut conn: Option<TcpStream> = None;
        let mut buf = Vec::new();
        while !sh.stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let n = sh.next.fetch_add(1, Ordering::Relaxed);
            let body = match statement(&sh.key, &sh.run, n) {
                Ok(b) => b,
                Err(e) => return sh.error(format!("signing: {e}")),
            };
            let request = wire::post_entries(&sh.host, &body);
            if conn.is_none() {
                match connect(&sh.host).await {
                    Ok(s) => conn = Some(s),
                    Err(_) => {
                        sh.error("register: connect");
                        continue;
                    }
                }
            }
            let Some(s) = conn.as_ref() else { continue };
            let t = Instant::now();
            match wire::exchange_body(s, &request, &mut buf).await {
                Ok((201, body)) => {
                    let index = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v.get("index")?.as_u64());
                    match index {
                        Some(i) => {
                            sh.acked.lock().unwrap_or_else(|e| e.into_inner()).push(i);
                            sh.with_minute(|m| {
                                m.registered += 1;
                                m.register_latency.push(t.elapsed());
                            });
                        }
                        None => sh.error("register: 201 without an index"),
                    }
                }
                Ok((202, body)) => {
                    let id = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| Some(v.get("operationId")?.as_str()?.to_owned()));
                    match id {
                        Some(id) => sh
                            .pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(id),
                        None => sh.error("register: 202 without an operation"),
                    }
                }
                Ok((status, _)) => sh.error(format!("register: HTTP {status}")),
                Err(_) => {
                    sh.error("register: connection dropped");
                    conn = None;
                    buf.clear();
                }
            }
        }
    }

    async fn queries(sh: Arc<Shared>, period: Duration, seed: u64) {
        let mut tick = interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut conn: Option<TcpStream> = None;
        let mut buf = Vec::new();
        let mut k = seed;
        while !sh.stop.load(Ordering::Relaxed) {
            tick.tick().await;
            k += 1;
            let (what, path) = match (k % 4, sh.random_acked(k)) {
                (0, Some(i)) => ("receipt", format!("/v1/entries/{i}/receipt")),
                (1, Some(i)) => ("inclusion proof", format!("/v1/proofs/inclusion?index={i}")),
                (2, Some(_)) => {
                    let n = k % sh.next.load(Ordering::Relaxed).max(1);
                    let name = format!("pkg:generic/load-{}/artifact@{n}", sh.run);
                    let digest = hex::encode(sbomit_crypto::sha256(name.as_bytes()));
                    (
                        "evidence query",
                        format!("/v1/query/evidence?digest=sha256:{digest}"),
                    )
                }
                _ => ("checkpoint", "/checkpoint".to_owned()),
            };
            if conn.is_none() {
                match connect(&sh.host).await {
                    Ok(s) => conn = Some(s),
                    Err(_) => {
                        sh.error("query: connect");
                        continue;
                    }
                }
            }
            let Some(s) = conn.as_ref() else { continue };
            let t = Instant::now();
            match wire::exchange_body(s, &get(&sh.host, &path), &mut buf).await {
                Ok((200, _)) => sh.with_minute(|m| {
                    m.queries += 1;
                    m.query_latency.push(t.elapsed());
                }),
                Ok((status, _)) => sh.error(format!("{what}: HTTP {status}")),
                Err(_) => {
                    sh.error(format!("{what}: connection dropped"));
                    conn = None;
                    buf.clear();
                }
            }
        }
    }

    /// Reads an event stream until `until` (or the stop flag), counting `event: entry` lines.
    /// `Ok(false)` when the server ended the stream.
    async fn read_events(sh: &Shared, path: &str, until: Option<Instant>) -> Result<bool> {
        let s = connect(&sh.host).await?;
        wire::write_all(&s, &get(&sh.host, path)).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut head_checked = false;
        loop {
            if sh.stop.load(Ordering::Relaxed) || until.is_some_and(|u| Instant::now() >= u) {
                return Ok(true);
            }
            let readable = tokio::time::timeout(Duration::from_millis(500), s.readable()).await;
            if readable.is_err() {
                continue;
            }
            match s.try_read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e.into()),
            }
            if !head_checked {
                if buf.len() < 12 {
                    continue;
                }
                if !buf.starts_with(b"HTTP/1.1 200") {
                    bail!("HTTP {}", String::from_utf8_lossy(&buf[9..12]));
                }
                head_checked = true;
            }
            // Count whole lines only; keep the unfinished tail for the next read.
            let cut = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let n = buf[..cut]
                .windows(13)
                .filter(|w| w == b"event: entry\n")
                .count();
            sh.events.fetch_add(n as u64, Ordering::Relaxed);
            buf.drain(..cut);
        }
    }

    async fn events_long(sh: Arc<Shared>) {
        while !sh.stop.load(Ordering::Relaxed) {
            match read_events(&sh, "/v1/events", None).await {
                Ok(true) => {}
                Ok(false) => sh.error("events: the server ended the stream"),
                Err(e) => sh.error(format!("events: {e}")),
            }
        }
    }

    /// How far back a short-lived stream starts: one of the last this many acknowledged
    /// entries (about 10 s of registrations at the soak's rate). A start anywhere in the log
    /// would replay more each minute as the log grows (on average half of it), which makes
    /// the load grow instead of holding it steady; replaying the whole log is a benchmark of
    /// its own.
    const REPLAY_WINDOW: usize = 2_000;

    async fn events_churn(sh: Arc<Shared>) {
        let mut tick = interval(Duration::from_secs(5));
        while !sh.stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let after = sh
                .random_recent_acked(sh.next.load(Ordering::Relaxed), REPLAY_WINDOW)
                .unwrap_or(0);
            let until = Instant::now() + Duration::from_secs(2);
            match read_events(&sh, &format!("/v1/events?after={after}"), Some(until)).await {
                Ok(true) => {}
                Ok(false) => sh.error("events (short): the server ended the stream"),
                Err(e) => sh.error(format!("events (short): {e}")),
            }
        }
    }

    /// One junk request on a fresh connection; `Ok(true)` when it was refused as intended.
    async fn junk_one(sh: &Shared, kind: u64) -> Result<bool> {
        let s = connect(&sh.host).await?;
        let mut buf = Vec::new();
        let host = &sh.host;
        match kind % 4 {
            0 => {
                let mut body = vec![0u8; 512];
                sbomit_crypto::random_bytes(&mut body)?;
                let (status, _) =
                    wire::exchange_body(&s, &wire::post_entries(host, &body), &mut buf).await?;
                Ok(status == 400)
            }
            1 => {
                let head = format!(
                    "POST /v1/entries HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n",
                    64 << 20
                );
                wire::write_all(&s, head.as_bytes()).await?;
                // Some of the body, not all: the server answers from the declared length.
                let _ = wire::write_all(&s, &[b'{'; 16 * 1024]).await;
                let (status, _) = wire::read_response(&s, &mut buf).await?;
                Ok(status == 413)
            }
            2 => {
                wire::write_all(&s, b"\x16\x03\x01\x02\x00 NOT HTTP\r\n\r\n").await?;
                match wire::read_response(&s, &mut buf).await {
                    Ok((status, _)) => Ok((400..500).contains(&status)),
                    // Closing the connection is a refusal too.
                    Err(_) => Ok(true),
                }
            }
            _ => {
                let body = statement(&sh.stranger, &sh.run, kind)?;
                let (status, _) =
                    wire::exchange_body(&s, &wire::post_entries(host, &body), &mut buf).await?;
                Ok((400..500).contains(&status))
            }
        }
    }

    async fn junk(sh: Arc<Shared>, period: Duration) {
        let mut tick = interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut k = 0u64;
        const KINDS: [&str; 4] = ["random body", "oversized", "not HTTP", "unknown issuer"];
        while !sh.stop.load(Ordering::Relaxed) {
            tick.tick().await;
            k += 1;
            match junk_one(&sh, k).await {
                Ok(true) => sh.with_minute(|m| m.refused += 1),
                Ok(false) => sh.error(format!("junk ({}): not refused", KINDS[(k % 4) as usize])),
                Err(e) => sh.error(format!("junk ({}): {e}", KINDS[(k % 4) as usize])),
            }
        }
    }

    /// A connection that sends a request header a byte a second and never finishes it,
    /// reopened when the server closes it (or answers, which also ends the drip).
    async fn slow_drip(sh: Arc<Shared>) {
        let request = get(&sh.host, "/checkpoint");
        let head = &request[..request.len() - 2];
        while !sh.stop.load(Ordering::Relaxed) {
            let Ok(s) = connect(&sh.host).await else {
                sleep(Duration::from_secs(1)).await;
                continue;
            };
            sh.slow_open.fetch_add(1, Ordering::Relaxed);
            let mut closed = false;
            let bytes = head
                .iter()
                .chain(b"X-Slow: ")
                .chain(std::iter::repeat(&b'a'));
            for byte in bytes {
                if sh.stop.load(Ordering::Relaxed) {
                    break;
                }
                if wire::write_all(&s, std::slice::from_ref(byte))
                    .await
                    .is_err()
                {
                    closed = true;
                    break;
                }
                // Wait a second for the server to close or answer; either ends the drip.
                let mut probe = [0u8; 256];
                if tokio::time::timeout(Duration::from_secs(1), s.readable())
                    .await
                    .is_ok()
                    && !matches!(s.try_read(&mut probe), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
                {
                    closed = true;
                    break;
                }
            }
            sh.slow_open.fetch_sub(1, Ordering::Relaxed);
            if closed {
                sh.slow_closed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn report_minute(sh: &Shared, minute: usize, pid: u32) -> u64 {
        let m = std::mem::take(&mut *sh.minute.lock().unwrap_or_else(|e| e.into_inner()));
        let (mut rl, mut ql) = (m.register_latency, m.query_latency);
        rl.sort();
        ql.sort();
        let errors: u64 = m.errors.values().sum();
        let detail = if m.errors.is_empty() {
            String::new()
        } else {
            format!(
                " {}",
                m.errors
                    .iter()
                    .map(|(k, v)| format!("{k}×{v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        println!(
            "| {minute} | {} | {:.1} | {} | {:.1} | {} | {} | {} / {} | {errors}{detail} | {:.1} | {} |",
            m.registered,
            percentile(&rl, 0.99),
            m.queries,
            percentile(&ql, 0.99),
            sh.events.swap(0, Ordering::Relaxed),
            m.refused,
            sh.slow_open.load(Ordering::Relaxed),
            sh.slow_closed.swap(0, Ordering::Relaxed),
            server_rss_kb(pid).unwrap_or(0) as f64 / 1024.0,
            server_fds(pid).unwrap_or(0),
        );
        errors
    }

    pub fn run(o: &Options) -> Result<()> {
        let url = o.url.trim_end_matches('/').to_owned();
        let host = wire::authority(&url)?.to_owned();
        let run = run_id();
        let key = {
            let store = open(&o.db, BatchConfig::default())?;
            issuer(&store, &format!("https://soak.example/{run}"))?
        };
        let sh = Arc::new(Shared {
            host,
            run,
            key,
            stranger: PrivateKey::generate(KeyKind::Ed25519)?,
            minute: Mutex::default(),
            acked: Mutex::default(),
            pending: Mutex::default(),
            next: AtomicU64::new(0),
            events: AtomicU64::new(0),
            slow_open: AtomicUsize::new(0),
            slow_closed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let rss_start = server_rss_kb(o.server_pid).unwrap_or(0);
        let total = Duration::from_secs_f64(o.minutes * 60.0);
        let rate = o.rate.max(0.1);
        let (errors, rss_max) = runtime.block_on(async {
            let per = |connections: f64, r: f64| Duration::from_secs_f64(connections / r);
            let mut tasks = Vec::new();
            for _ in 0..4 {
                tasks.push(tokio::spawn(registrations(Arc::clone(&sh), per(4.0, rate))));
            }
            for i in 0..2 {
                tasks.push(tokio::spawn(queries(Arc::clone(&sh), per(2.0, rate), i * 7919)));
            }
            tasks.push(tokio::spawn(events_long(Arc::clone(&sh))));
            tasks.push(tokio::spawn(events_churn(Arc::clone(&sh))));
            tasks.push(tokio::spawn(junk(Arc::clone(&sh), per(1.0, rate / 10.0))));
            for _ in 0..o.slow {
                tasks.push(tokio::spawn(slow_drip(Arc::clone(&sh))));
            }
            println!("| minute | registered | register p99 ms | queries | query p99 ms | events received | junk refused | slow-drip open / closed by server | errors | server RSS MiB | server fds |");
            println!("|---|---|---|---|---|---|---|---|---|---|---|");
            let start = Instant::now();
            let (mut errors, mut rss_max, mut minute) = (0u64, rss_start, 0usize);
            while start.elapsed() < total {
                let next = Duration::from_secs(60 * (minute as u64 + 1)).min(total);
                sleep(next.saturating_sub(start.elapsed())).await;
                minute += 1;
                errors += report_minute(&sh, minute, o.server_pid);
                rss_max = rss_max.max(server_rss_kb(o.server_pid).unwrap_or(0));
            }
            sh.stop.store(true, Ordering::Relaxed);
            // Let in-flight registrations finish (they may still be acknowledged).
            sleep(Duration::from_secs(3)).await;
            for t in tasks {
                t.abort();
            }
            anyhow::Ok((errors + report_late(&sh), rss_max))
        })?;
        // Every acknowledged entry, and every pending one that has since completed, is in
        // the log: fetched back by index over one connection.
        let acked = std::mem::take(&mut *sh.acked.lock().unwrap_or_else(|e| e.into_inner()));
        let pending = std::mem::take(&mut *sh.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let (missing, pending_lost) = runtime.block_on(async {
            let s = connect(&sh.host).await?;
            let mut buf = Vec::new();
            let mut missing = 0u64;
            for i in &acked {
                let (status, body) =
                    wire::exchange_body(&s, &get(&sh.host, &format!("/v1/entries/{i}")), &mut buf)
                        .await?;
                let same = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("index")?.as_u64())
                    == Some(*i);
                if status != 200 || !same {
                    missing += 1;
                }
            }
            let mut lost = 0u64;
            for id in &pending {
                let (status, _) = wire::exchange_body(
                    &s,
                    &get(&sh.host, &format!("/v1/operations/{id}")),
                    &mut buf,
                )
                .await?;
                if status >= 400 {
                    lost += 1;
                }
            }
            anyhow::Ok((missing, lost))
        })?;
        let rss_end = server_rss_kb(o.server_pid).unwrap_or(0);
        println!();
        println!("registrations_acknowledged: {}", acked.len());
        println!("registrations_pending_202: {}", pending.len());
        println!("acknowledged_missing_from_log: {missing}");
        println!("pending_lost: {pending_lost}");
        println!("errors: {errors}");
        println!("server_rss_start_mib: {:.1}", rss_start as f64 / 1024.0);
        println!("server_rss_max_mib: {:.1}", rss_max as f64 / 1024.0);
        println!("server_rss_end_mib: {:.1}", rss_end as f64 / 1024.0);
        if missing > 0 || pending_lost > 0 || errors > 0 {
            bail!("soak failed: {missing} acknowledged entries missing, {pending_lost} pending lost, {errors} errors");
        }
        Ok(())
    }

    /// Errors recorded after the last minute's line (while stopping).
    fn report_late(sh: &Shared) -> u64 {
        let m = sh.minute.lock().unwrap_or_else(|e| e.into_inner());
        let late: u64 = m.errors.values().sum();
        if late > 0 {
            eprintln!("errors while stopping: {:?}", m.errors);
        }
        late
    }
}

mod junk {
    use super::*;

    pub struct Options {
        pub url: String,
        pub db: Db,
        pub server_pid: u32,
        pub count: usize,
        pub registrations: usize,
        pub connections: usize,
        pub flood: usize,
    }

    /// A DSSE envelope around a small Statement with `n` signatures, each under `keyid(i)`.
    fn envelope(n: usize, keyid: impl Fn(usize) -> String) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}],"predicateType":"https://example.com/junk","predicate":{}}"#;
        let sig = b64.encode([7u8; 64]);
        let sigs: Vec<serde_json::Value> = (0..n)
            .map(|i| json!({"keyid": keyid(i), "sig": sig}))
            .collect();
        serde_json::to_vec(&json!({
            "payload": b64.encode(payload),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": sigs,
        }))
        .unwrap_or_default()
    }

    /// The junk kinds: name and body.
    fn kinds() -> Vec<(&'static str, Vec<u8>)> {
        let depth = 100_000;
        let mut nested = Vec::with_capacity(2 * depth);
        nested.extend(std::iter::repeat_n(b'[', depth));
        nested.extend(std::iter::repeat_n(b']', depth));
        vec![
            ("signatures_10000", envelope(10_000, |_| String::new())),
            (
                "keyids_10000",
                envelope(10_000, |i| {
                    hex::encode(sbomit_crypto::sha256(&(i as u64).to_be_bytes()))
                }),
            ),
            ("nested_100000", nested),
        ]
    }

    /// Sends `request` on a fresh connection (as a flood would) and returns the status.
    async fn once(host: &str, request: &[u8]) -> Result<u16> {
        let s = tokio::net::TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to {host}"))?;
        s.set_nodelay(true)?;
        let mut buf = Vec::with_capacity(1024);
        // A server refusing a large body early may close before reading it all: the write
        // then fails, but the refusal is there to read.
        let written = wire::write_all(&s, request).await;
        match wire::read_response(&s, &mut buf).await {
            Ok((status, _)) => Ok(status),
            Err(e) => {
                written?;
                Err(e)
            }
        }
    }

    pub fn run(o: &Options) -> Result<()> {
        let url = o.url.trim_end_matches('/').to_owned();
        let host = wire::authority(&url)?.to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let kinds: Vec<(&str, Vec<u8>)> = kinds()
            .into_iter()
            .map(|(name, body)| (name, wire::post_entries(&host, &body)))
            .collect();
        let server_cpu =
            || cpu_seconds_of(o.server_pid).context("reading the server's CPU time from /proc");
        // 1. Each kind alone: the server's CPU per refusal, and the status it refuses with.
        for (name, request) in &kinds {
            let cpu0 = server_cpu()?;
            let t = Instant::now();
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            runtime.block_on(async {
                for _ in 0..o.count {
                    *statuses.entry(once(&host, request).await?).or_default() += 1;
                }
                anyhow::Ok(())
            })?;
            let wall = t.elapsed();
            let cpu = server_cpu()? - cpu0;
            if statuses.keys().any(|s| !(400..500).contains(s)) {
                bail!("{name}: statuses {statuses:?}, expected 4xx only");
            }
            println!("{name}_bytes: {}", request.len());
            let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
            println!("{name}_statuses: {}", statuses.join(", "));
            println!(
                "{name}_server_cpu_ms_each: {:.2}",
                cpu * 1e3 / o.count as f64
            );
            println!(
                "{name}_wall_ms_each: {:.2}",
                wall.as_secs_f64() * 1e3 / o.count as f64
            );
        }
        // 2. Registration throughput, quiet, then with `flood` connections sending junk.
        let run = run_id();
        let key = {
            let store = open(&o.db, BatchConfig::default())?;
            issuer(&store, &format!("https://junk.example/{run}"))?
        };
        let n = o.registrations as u64;
        let sign = |range| -> Result<Arc<Vec<Vec<u8>>>> {
            Ok(Arc::new(
                sign_all(&key, &run, range)?
                    .iter()
                    .map(|b| wire::post_entries(&host, b))
                    .collect(),
            ))
        };
        let (quiet, flooded) = (sign(0..n)?, sign(n..2 * n)?);
        let (quiet_time, _) = runtime.block_on(register_all(&host, quiet, o.connections))?;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let kinds = Arc::new(kinds);
        let (flood_time, junk_errors) = runtime.block_on(async {
            let flooders: Vec<_> = (0..o.flood)
                .map(|f| {
                    let (done, sent, kinds) = (done.clone(), sent.clone(), kinds.clone());
                    let host = host.clone();
                    tokio::spawn(async move {
                        let mut errors = 0usize;
                        let mut i = f;
                        while !done.load(Ordering::Relaxed) {
                            let (_, request) = &kinds[i % kinds.len()];
                            match once(&host, request).await {
                                Ok(s) if (400..500).contains(&s) => {}
                                _ => errors += 1,
                            }
                            sent.fetch_add(1, Ordering::Relaxed);
                            i += 1;
                        }
                        errors
                    })
                })
                .collect();
            let registered = register_all(&host, flooded, o.connections).await;
            done.store(true, Ordering::Relaxed);
            let mut errors = 0;
            for f in flooders {
                errors += f.await.unwrap_or(0);
            }
            anyhow::Ok((registered?.0, errors))
        })?;
        let rate = |t: Duration| n as f64 / t.as_secs_f64();
        println!("registrations: {n}");
        println!("quiet_entries_per_second: {:.0}", rate(quiet_time));
        println!("flooded_entries_per_second: {:.0}", rate(flood_time));
        println!(
            "flooded_share_of_quiet_percent: {:.0}",
            100.0 * rate(flood_time) / rate(quiet_time)
        );
        println!("junk_sent_during_flood: {}", sent.load(Ordering::Relaxed));
        println!("junk_not_refused_with_4xx: {junk_errors}");
        Ok(())
    }
}
