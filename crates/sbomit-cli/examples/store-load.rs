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

    async fn write_all(s: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
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
    async fn read_some(s: &TcpStream, buf: &mut Vec<u8>) -> Result<()> {
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
    fn parse_head(head: &[u8]) -> Result<(u16, usize)> {
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
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
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
        let mut streams = Vec::with_capacity(connections);
        for _ in 0..connections {
            let s = tokio::net::TcpStream::connect(&host)
                .await
                .with_context(|| format!("connecting to {host}"))?;
            s.set_nodelay(true)?;
            streams.push(s);
        }
        let next = Arc::new(AtomicUsize::new(0));
        let cpu_start = cpu_seconds();
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
        let mut all = Vec::with_capacity(count);
        for t in tasks {
            all.extend(t.await??);
        }
        let cpu = cpu_start.zip(cpu_seconds()).map(|(a, b)| b - a);
        anyhow::Ok((start.elapsed(), cpu, all))
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
