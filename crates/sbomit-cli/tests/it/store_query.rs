//! `sbomit store query` and `sbomit store watch` against a real `sbomit store serve`
//! process: graph answers as tables (paths `a > b > c`, evidence indexes) and JSON, and a
//! watch that prints every entry once across a server restart (it resumes with
//! `Last-Event-ID`). On SQLite and, when SBOMIT_TEST_POSTGRES is set, PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly

use crate::common::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};

const CVE: &str = "CVE-2026-0001";

// ---- a `sbomit store serve` process ----

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path, database: &str, listen: &str, log: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sbomit"))
            .args(["store", "serve", "--listen", listen, "--database", database])
            .arg("--service-key")
            .arg(dir.join("service.pem"))
            .env("SBOMIT_DATA_DIR", dir.join("data"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join(log)).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    return Server {
                        child,
                        url: addr.trim().to_owned(),
                    };
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the server exited ({status}):\n{}",
                    std::fs::read_to_string(dir.join(log)).unwrap_or_default()
                );
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not start");
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database for one test: an SQLite file, or a fresh PostgreSQL schema (dropped after).
struct Db {
    url: String,
    /// Held for its drop, which removes the schema.
    _pg: Option<PgSchema>,
}

impl Db {
    fn all(dir: &Path, tag: &str) -> Vec<Db> {
        let mut v = vec![Db {
            url: format!("sqlite://{}", dir.join("store.db").display()),
            _pg: None,
        }];
        if let Some(schema) = PgSchema::from_env(&format!("sbomit_cli_q_{tag}")) {
            v.push(Db {
                url: schema.url(),
                _pg: Some(schema),
            });
        }
        v
    }
}

// ---- evidence files ----

fn sha(name: &str) -> String {
    hex::encode(sbomit_intoto::digest::Sha256::digest(name.as_bytes()).as_bytes())
}

fn purl(name: &str) -> String {
    format!("pkg:npm/{name}@1.0.0")
}

fn dsse(key: &PrivateKey, subject: &str, predicate_type: &str, predicate: Value) -> Vec<u8> {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": subject, "digest": {"sha256": sha(subject)}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).unwrap();
    env.sign(key).unwrap();
    env.to_file_bytes()
}

fn sbom(key: &PrivateKey, subject: &str, children: &[&str]) -> Vec<u8> {
    let components: Vec<Value> = children
        .iter()
        .map(|c| {
            json!({"type": "library", "bom-ref": c, "name": c, "version": "1.0.0",
                   "purl": purl(c), "hashes": [{"alg": "SHA-256", "content": sha(c)}]})
        })
        .collect();
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "application", "bom-ref": subject, "name": subject,
                     "hashes": [{"alg": "SHA-256", "content": sha(subject)}]}},
        "components": components,
    });
    dsse(key, subject, "https://cyclonedx.org/bom", bom)
}

fn vex(key: &PrivateKey, product: &str, status: &str) -> Vec<u8> {
    dsse(
        key,
        product,
        "https://openvex.dev/ns/v0.2.0",
        json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "vex-1",
               "author": "vendor", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
               "statements": [{"vulnerability": {"name": CVE},
                               "products": [{"@id": format!("sha256:{}", sha(product))}],
                               "status": status,
                               "justification": "vulnerable_code_not_in_execute_path"}]}),
    )
}

/// Writes `bytes` to `dir/NAME` and registers it with `sbomit store submit`; the entry index.
fn submit(dir: &Path, url: &str, name: &str, bytes: &[u8]) -> u64 {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let o = ok(sbomit(
        dir,
        &["store", "submit", path.to_str().unwrap(), "--url", url],
    ));
    let id = String::from_utf8(o.stdout).unwrap();
    id.trim().strip_prefix("1.").unwrap().parse().unwrap()
}

fn setup_issuer(dir: &Path, database: &str) -> PrivateKey {
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let pub_path: PathBuf = dir.join("ci.pub");
    std::fs::write(&pub_path, key.public_key().to_pem()).unwrap();
    ok(sbomit_env(
        dir,
        &[
            "store",
            "issuer",
            "add",
            "--database",
            database,
            "--service-key",
            dir.join("service.pem").to_str().unwrap(),
            "--iss",
            "https://ci.example",
            "--key",
            pub_path.to_str().unwrap(),
            "--role",
            "attester",
            // The server starts after: its store is made here.
            "--create",
        ],
        &[("SBOMIT_DATA_DIR", dir.join("data").to_str().unwrap())],
    ));
    key
}

fn query(dir: &Path, args: &[&str]) -> (String, String) {
    let o = ok(sbomit(dir, args));
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

/// `store query … --output json`, retried until `ready` holds: the graph index trails the
/// log by a moment.
fn query_json_until(dir: &Path, args: &[&str], ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--output", "json"]);
    loop {
        let (out, _) = query(dir, &full);
        let v: Value = serde_json::from_str(&out).unwrap();
        if ready(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "not ready: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn store_query_prints_tables_with_paths_and_evidence_and_json() {
    let dir = tempdir();
    for (n, db) in Db::all(dir.path(), "tables").iter().enumerate() {
        let d = dir.path().join(format!("db{n}"));
        std::fs::create_dir_all(&d).unwrap();
        let key = setup_issuer(&d, &db.url);
        let srv = Server::start(&d, &db.url, "127.0.0.1:0", "serve.log");
        let url = srv.url.as_str();
        let chain = [
            submit(&d, url, "app.json", &sbom(&key, "app", &["lib-b", "lib-c"])),
            submit(&d, url, "lib-b.json", &sbom(&key, "lib-b", &["lib-d"])),
            submit(&d, url, "lib-d.json", &sbom(&key, "lib-d", &["lib-e"])),
        ];
        let scan = submit(
            &d,
            url,
            "scan.json",
            &dsse(
                &key,
                "lib-e",
                "https://in-toto.io/attestation/vulns/v0.1",
                json!({"scanner": {"result": [{"id": CVE}]}}),
            ),
        );
        let app = sha("app");
        let components = [
            "store",
            "query",
            "components",
            "--digest",
            &app,
            "--url",
            url,
        ];
        let v = query_json_until(&d, &components, |v| v["total"] == 4);
        assert_eq!(v["results"].as_array().unwrap().len(), 4);

        // The table: one row per component, the path as `a > b > c`, evidence indexes.
        let (table, summary) = query(&d, &components);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("DEPTH"), "{table}");
        assert_eq!(lines.len(), 5, "{table}");
        let lib_e = lines
            .iter()
            .find(|l| l.contains(&purl("lib-e")) && l.starts_with('3'))
            .unwrap_or_else(|| panic!("no lib-e row:\n{table}"));
        let path = format!(
            "sha256:{}… > {} > {} > {}",
            &app[..12],
            purl("lib-b"),
            purl("lib-d"),
            purl("lib-e")
        );
        assert!(lib_e.ends_with(&path), "{lib_e}");
        let evidence = format!("{},{},{}", chain[0], chain[1], chain[2]);
        assert!(lib_e.contains(&evidence), "{lib_e}");
        assert!(summary.contains("4 of 4 result(s)"), "{summary}");
        assert!(summary.contains("database round trip"), "{summary}");

        // Dependents by purl without version, and the impact of the CVE before and after a
        // VEX statement.
        let v = query_json_until(
            &d,
            &[
                "store",
                "query",
                "dependents",
                "--purl",
                "pkg:npm/lib-e",
                "--url",
                url,
            ],
            |v| v["total"] == 3,
        );
        assert!(v["dbRoundTrips"].as_u64().unwrap() <= 10 + 4);
        let (table, _) = query(
            &d,
            &[
                "store",
                "query",
                "dependents",
                "--purl",
                "pkg:npm/lib-e",
                "--url",
                url,
            ],
        );
        let want = format!(
            "app > {} > {} > pkg:npm/lib-e",
            purl("lib-b"),
            purl("lib-d")
        );
        assert!(table.lines().any(|l| l.ends_with(&want)), "{table}");
        let affected = ["store", "query", "affected", "--vuln", CVE, "--url", url];
        let v = query_json_until(&d, &affected, |v| v["total"] == 4);
        assert!(v["evidence"].as_array().unwrap().contains(&json!(scan)));
        submit(&d, url, "vex.json", &vex(&key, "app", "not_affected"));
        let v = query_json_until(&d, &affected, |v| v["total"] == 3);
        let app_key = format!("sha256:{app}");
        assert!(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["node"]["key"] != app_key.as_str()),
            "{v}"
        );
        let (table, _) = query(&d, &affected);
        assert_eq!(table.lines().count(), 1 + 3, "{table}");

        // Evidence, with the index status column.
        let (table, _) = query(
            &d,
            &[
                "store",
                "query",
                "evidence",
                "--digest",
                &sha("lib-e"),
                "--status",
                "--url",
                url,
            ],
        );
        let row = table.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with(&scan.to_string()), "{table}");
        assert!(
            row.contains("https://in-toto.io/attestation/vulns/v0.1"),
            "{row}"
        );
        assert!(row.trim_end().ends_with("vulnerabilities"), "{row}");

        // The store's refusals come back as one line, exit 2.
        fails_with(
            sbomit(
                &d,
                &[
                    "store",
                    "query",
                    "components",
                    "--digest",
                    &app,
                    "--depth",
                    "0",
                    "--url",
                    url,
                ],
            ),
            2,
            &["HTTP 400", "depth"],
        );
        drop(srv);
    }
}

/// `sbomit store watch` as a child process whose stdout lines arrive on a channel.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(dir: &Path, url: &str, after: u64, count: u64) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sbomit"))
            .args(["store", "watch", "--url", url, "--output", "json"])
            .args(["--after", &after.to_string(), "--count", &count.to_string()])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("watch.log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Watch { child, lines: rx }
    }

    fn next_index(&self) -> u64 {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("no event from the watch");
        let v: Value = serde_json::from_str(&line).unwrap();
        v["index"].as_u64().unwrap()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn store_watch_prints_each_entry_once_across_a_server_restart() {
    let dir = tempdir();
    for (n, db) in Db::all(dir.path(), "watch").iter().enumerate() {
        let d = dir.path().join(format!("db{n}"));
        std::fs::create_dir_all(&d).unwrap();
        let key = setup_issuer(&d, &db.url);
        // A fixed port, so the restarted server is at the same URL.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let mut srv = Server::start(&d, &db.url, &listen, "serve1.log");
        let url = srv.url.clone();
        let first = submit(
            &d,
            &url,
            "s0.json",
            &dsse(&key, "s0", "https://example.com/t", json!({})),
        );
        // From the entry after `first`: no race with the watch's connection.
        let watch = Watch::start(&d, &url, first, 5);
        let mut expected = Vec::new();
        for i in 1..3 {
            expected.push(submit(
                &d,
                &url,
                &format!("s{i}.json"),
                &dsse(&key, &format!("s{i}"), "https://example.com/t", json!({})),
            ));
        }
        let mut seen = vec![watch.next_index(), watch.next_index()];
        // SIGKILL: the connection drops without a goodbye; the watch retries with backoff.
        srv.kill();
        std::thread::sleep(Duration::from_millis(300));
        let srv = Server::start(&d, &db.url, &listen, "serve2.log");
        // Registered while the watch is (probably) still reconnecting: resumed, not lost.
        for i in 3..6 {
            expected.push(submit(
                &d,
                &srv.url,
                &format!("s{i}.json"),
                &dsse(&key, &format!("s{i}"), "https://example.com/t", json!({})),
            ));
        }
        for _ in 0..3 {
            seen.push(watch.next_index());
        }
        assert_eq!(seen, expected, "a gap or a duplicate");
        // `--count 5`: the watch ends by itself, successfully.
        let mut watch = watch;
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = watch.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the watch did not stop after --count"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success());
        let log = std::fs::read_to_string(d.join("watch.log")).unwrap();
        assert!(log.contains("reconnecting"), "{log}");
        drop(srv);
    }
}
