//! The Store through the `sbomit` binary: `store serve` as a real process, the CLI's client
//! and operator commands against it, durability across SIGKILL, and (with PostgreSQL) two
//! servers on one database.
//!
//! PostgreSQL tests run when SBOMIT_TEST_POSTGRES is a URL such as
//! postgres://postgres@127.0.0.1:5432/test (CI sets it); each test uses a fresh schema.

#![allow(clippy::unwrap_used)] // tests fail loudly

use crate::common::*;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use sbomit_client::Client;
use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{pae, INTOTO_PAYLOAD_TYPE};
use sbomit_scitt::cose::{self, CoseKey};
use sbomit_scitt::receipt;
use sbomit_tlog::checkpoint::{Checkpoint, NoteVerifier};
use sbomit_tlog::merkle::{self, Hash};

// ---- a `sbomit store serve` process ----

struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `sbomit store serve` on a free port and waits for its `listening on` line.
    ///
    /// The tests drive one server from one address with hundreds of requests without a token
    /// (bursts, polling, verifying every entry), so its anonymous rate limit is off (through
    /// `--config`); the limit has its own tests in sbomit-server.
    fn start(dir: &Path, database: &str, service_key: &Path, log: &str) -> Server {
        let config = dir.join(format!("{log}.toml"));
        std::fs::write(&config, "anonymous_rate_per_sec = 0\n").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sbomit"))
            .args(["store", "serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--database")
            .arg(database)
            .arg("--service-key")
            .arg(service_key)
            .env("SBOMIT_DATA_DIR", dir.join("data"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join(log)).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        return Server {
                            child,
                            url: addr.trim().to_owned(),
                        };
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the server did not start:\n{}",
                        std::fs::read_to_string(dir.join(log)).unwrap_or_default()
                    );
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the server exited ({status}):\n{}",
                    std::fs::read_to_string(dir.join(log)).unwrap_or_default()
                );
            }
        }
    }

    /// SIGKILL: no shutdown, no flush, nothing the process could still do.
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

// ---- HTTP ----

fn client(url: &str) -> Client {
    Client::new(url)
        .unwrap()
        .with_timeout(Duration::from_secs(60))
}

fn hashes(v: &[String]) -> Vec<Hash> {
    v.iter().map(|h| hash(h)).collect()
}

fn hash(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

// ---- evidence ----

/// A DSSE envelope around an in-toto Statement about one (made-up) artifact.
fn dsse(key: &PrivateKey, n: usize) -> Vec<u8> {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{
            "name": format!("artifact-{n}"),
            "digest": { "sha256": hex::encode(sbomit_crypto::sha256(&n.to_be_bytes())) },
        }],
        "predicateType": "https://example.com/test/v1",
        "predicate": { "n": n },
    });
    let payload = serde_json::to_vec(&statement).unwrap();
    let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload)).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    serde_json::to_vec(&json!({
        "payload": b64.encode(&payload),
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{ "keyid": key.public_key().keyid().as_str(), "sig": b64.encode(sig) }],
    }))
    .unwrap()
}

/// A fresh Ed25519 issuer key, its public half written to `dir/NAME.pub`.
fn issuer_key(dir: &Path, name: &str) -> (PrivateKey, PathBuf) {
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let path = dir.join(format!("{name}.pub"));
    std::fs::write(&path, key.public_key().to_pem()).unwrap();
    (key, path)
}

fn add_issuer(dir: &Path, database: &str, service_key: &Path, iss: &str, key: &Path) {
    ok(sbomit_env(
        dir,
        &[
            "store",
            "issuer",
            "add",
            "--database",
            database,
            "--service-key",
            service_key.to_str().unwrap(),
            "--iss",
            iss,
            "--key",
            key.to_str().unwrap(),
            "--role",
            "attester",
            // The test's store may not exist yet (the server starts after).
            "--create",
        ],
        &[("SBOMIT_DATA_DIR", dir.join("data").to_str().unwrap())],
    ));
}

fn service_keys(url: &str) -> Vec<CoseKey> {
    client(url).service_keys().unwrap()
}

/// Opens a signed checkpoint with the service's keys.
fn open_checkpoint(note: &str, keys: &[CoseKey]) -> Checkpoint {
    let origin = note.lines().next().unwrap();
    let verifiers: Vec<NoteVerifier> = keys
        .iter()
        .map(|k| NoteVerifier::new(origin, k.public_key().clone()).unwrap())
        .collect();
    Checkpoint::open(note, &verifiers, None).unwrap().0
}

fn latest_checkpoint(url: &str) -> String {
    client(url).checkpoint().unwrap()
}

/// Checks that `new` extends `old` with the consistency proof the server gives.
fn assert_consistent(url: &str, old: &Checkpoint, new: &Checkpoint) {
    let proof = client(url).consistency_proof(old.size, new.size).unwrap();
    merkle::verify_consistency(
        old.size,
        new.size,
        &hashes(&proof.path),
        &old.root,
        &new.root,
    )
    .unwrap_or_else(|e| panic!("checkpoint {} -> {}: {e}", old.size, new.size));
}

// ---- PostgreSQL ----

/// A schema of its own for one test, dropped afterwards; `None` (skipped) without a server.
fn pg_schema(tag: &str) -> Option<PgSchema> {
    PgSchema::from_env(&format!("sbomit_cli_{tag}"))
}

// ---- the CLI, end to end ----

fn run_ok(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(ok(sbomit(dir, args)).stdout).unwrap()
}

#[test]
fn store_commands_register_fetch_and_verify_receipts_end_to_end() {
    let tmp = tempdir();
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let skey = dir.join("service-key.pem");
    let server = Server::start(dir, &db, &skey, "serve.log");
    let url = server.url.as_str();
    assert!(skey.exists(), "the service key is created on first start");

    run_ok(
        dir,
        &["key", "generate", "--type", "ed25519", "--out", "alice"],
    );
    run_ok(
        dir,
        &["key", "generate", "--type", "ed25519", "--out", "mallory"],
    );
    add_issuer(
        dir,
        &db,
        &skey,
        "https://alice.example",
        &dir.join("alice.pub"),
    );

    std::fs::write(dir.join("app.bin"), b"the artifact").unwrap();
    // A float in the predicate: attesters' documents have them (CVSS scores).
    std::fs::write(
        dir.join("predicate.json"),
        br#"{"builder": {"id": "https://ci.example"}, "score": 9.8}"#,
    )
    .unwrap();
    run_ok(
        dir,
        &[
            "attest",
            "--predicate-type",
            "https://slsa.dev/provenance/v1",
            "--predicate",
            "predicate.json",
            "--subject",
            "app.bin",
            "--signing-key",
            "alice",
            "--out",
            "app.dsse.json",
        ],
    );
    let envelope: Value =
        serde_json::from_slice(&std::fs::read(dir.join("app.dsse.json")).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["subject"][0]["name"], "app.bin");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        hex::encode(sbomit_crypto::sha256(b"the artifact"))
    );
    assert_eq!(statement["predicate"]["score"], 9.8);
    run_ok(
        dir,
        &[
            "attest",
            "--cose",
            "--iss",
            "https://alice.example",
            "--sub",
            "pkg:generic/app@1",
            "--predicate",
            "predicate.json",
            "--signing-key",
            "alice",
            "--out",
            "app.cose",
        ],
    );

    let dsse_id = run_ok(dir, &["store", "submit", "app.dsse.json", "--url", url]);
    let cose_id = run_ok(dir, &["store", "submit", "app.cose", "--url", url]);
    let (dsse_id, cose_id) = (dsse_id.trim(), cose_id.trim());
    assert!(dsse_id.starts_with("1.") && cose_id.starts_with("1."));
    assert_ne!(dsse_id, cose_id);
    assert!(dir.join("app.dsse.json.receipt.cose").exists());
    assert!(dir.join("app.cose.receipt.cose").exists());

    // The same statement again is the same entry.
    let again = run_ok(
        dir,
        &[
            "store",
            "submit",
            "app.cose",
            "--url",
            url,
            "--receipt",
            "again.cose",
        ],
    );
    assert_eq!(again.trim(), cose_id);
    // A DSSE statement again says so once (issue 17: it said "registered before", then
    // "registered").
    let o = ok(sbomit(
        dir,
        &["store", "submit", "app.dsse.json", "--url", url],
    ));
    let said = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("registered before: app.dsse.json as entry"),
        "{said}"
    );

    // The bare index names the same entry; what is not an index is refused, not sent on.
    // The receipt in what `get` returns is signed when asked for, its `iat` in whole seconds:
    // two fetches can straddle a second, so the pair is fetched again (three tries) before
    // they are called different.
    let index = cose_id.trim_start_matches("1.");
    let same_entry = (0..3).any(|_| {
        run_ok(
            dir,
            &["store", "get", cose_id, "--url", url, "--out", "got.cose"],
        );
        run_ok(
            dir,
            &[
                "store",
                "get",
                index,
                "--url",
                url,
                "--out",
                "got-by-index.cose",
            ],
        );
        std::fs::read(dir.join("got.cose")).unwrap()
            == std::fs::read(dir.join("got-by-index.cose")).unwrap()
    });
    assert!(
        same_entry,
        "the id and the bare index fetch different entries"
    );
    let o = sbomit(
        dir,
        &["store", "get", "abc", "--url", url, "--out", "x.cose"],
    );
    assert_eq!(code(&o), 2);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "sbomit: error: \"abc\" is not an entry id: give its log index N, or 1.N\n"
    );
    // A digest that is not one is a usage error, not an empty answer.
    let o = sbomit(
        dir,
        &[
            "store",
            "query",
            "components",
            "--digest",
            "nothex",
            "--url",
            url,
        ],
    );
    assert_eq!(code(&o), 2, "{}", String::from_utf8_lossy(&o.stderr));
    // `watch --from 0` starts with the log's first entry.
    let first = run_ok(
        dir,
        &[
            "store", "watch", "--from", "0", "--count", "1", "--url", url, "--output", "json",
        ],
    );
    assert_eq!(
        serde_json::from_str::<Value>(first.trim()).unwrap()["index"],
        0,
        "{first}"
    );
    let key_set = client(url).service_key_set_bytes().unwrap();
    std::fs::write(dir.join("scitt-keys.cbor"), key_set).unwrap();

    for (statement, receipt) in [
        ("app.dsse.json", "app.dsse.json.receipt.cose"),
        ("app.cose", "app.cose.receipt.cose"),
        ("app.cose", "got.cose"),
        ("app.cose", "again.cose"),
    ] {
        // The key as served, and the operator's own key file.
        for key in ["scitt-keys.cbor", "service-key.pem"] {
            let out = run_ok(
                dir,
                &[
                    "store",
                    "verify-receipt",
                    "--statement",
                    statement,
                    "--receipt",
                    receipt,
                    "--service-key",
                    key,
                ],
            );
            assert!(out.contains("receipt verified"), "{out}");
        }
    }

    // A tampered statement, or a key that is not the service's: exit 1.
    let mut dsse_tampered = std::fs::read(dir.join("app.dsse.json")).unwrap();
    let last_sig_char = dsse_tampered.len() - 5;
    dsse_tampered[last_sig_char] ^= 1;
    std::fs::write(dir.join("tampered.dsse.json"), dsse_tampered).unwrap();
    let mut cose_tampered = std::fs::read(dir.join("app.cose")).unwrap();
    let i = cose_tampered
        .windows(4)
        .position(|w| w == b"9.8}")
        .map_or(cose_tampered.len() - 70, |p| p + 2);
    cose_tampered[i] ^= 1;
    std::fs::write(dir.join("tampered.cose"), cose_tampered).unwrap();
    for (statement, receipt, key) in [
        (
            "tampered.dsse.json",
            "app.dsse.json.receipt.cose",
            "scitt-keys.cbor",
        ),
        ("tampered.cose", "app.cose.receipt.cose", "scitt-keys.cbor"),
        ("app.cose", "app.dsse.json.receipt.cose", "scitt-keys.cbor"),
        ("app.cose", "app.cose.receipt.cose", "mallory.pub"),
    ] {
        fails_with(
            sbomit(
                dir,
                &[
                    "store",
                    "verify-receipt",
                    "--statement",
                    statement,
                    "--receipt",
                    receipt,
                    "--service-key",
                    key,
                ],
            ),
            1,
            &["does not verify"],
        );
    }

    // An issuer the store does not know is refused, in one line, exit 2.
    run_ok(
        dir,
        &[
            "attest",
            "--predicate-type",
            "https://slsa.dev/provenance/v1",
            "--predicate",
            "predicate.json",
            "--subject",
            "app.bin",
            "--signing-key",
            "mallory",
            "--out",
            "mallory.dsse.json",
        ],
    );
    fails_with(
        sbomit(dir, &["store", "submit", "mallory.dsse.json", "--url", url]),
        2,
        &["registering mallory.dsse.json: HTTP 4"],
    );

    let note = run_ok(
        dir,
        &[
            "store",
            "checkpoint",
            "--url",
            url,
            "--verify-key",
            "scitt-keys.cbor",
        ],
    );
    let checkpoint = open_checkpoint(&note, &cose::decode_key_set(&key_set_of(dir)).unwrap());
    assert!(checkpoint.size >= 3, "{note}");
    fails_with(
        sbomit(
            dir,
            &[
                "store",
                "checkpoint",
                "--url",
                url,
                "--verify-key",
                "mallory.pub",
            ],
        ),
        1,
        &["does not verify"],
    );
    drop(server);
}

fn key_set_of(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("scitt-keys.cbor")).unwrap()
}

#[test]
fn operator_commands_default_to_the_data_directory_and_create_tokens() {
    let tmp = tempdir();
    let dir = tmp.path();
    let data = dir.join("data");
    let env = [("SBOMIT_DATA_DIR", data.to_str().unwrap())];
    // Issue 17 e: on an empty data directory, an operator command without --database
    // refuses (exit 2) and creates nothing; --create makes the store.
    for args in [
        &[
            "store", "issuer", "add", "--iss", "x", "--key", "k.pub", "--role", "attester",
        ][..],
        &["store", "token", "create", "--scope", "submit"][..],
        &["store", "token", "list"][..],
    ] {
        fails_with(sbomit_env(dir, args, &env), 2, &["no store at", "--create"]);
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }
    let o = ok(sbomit_env(
        dir,
        &[
            "store", "token", "create", "--scope", "submit", "--label", "ci", "--create",
        ],
        &env,
    ));
    let store = data.join("store.db");
    assert!(
        text(&o).contains(&format!("store: sqlite://{}", store.display())),
        "{}",
        text(&o)
    );
    let token = o;
    let token = String::from_utf8(token.stdout).unwrap();
    assert!(token.trim().starts_with("sbomit_"), "{token}");
    assert!(data.join("store.db").exists());
    let key = data.join("service-key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    fails_with(
        sbomit_env(
            dir,
            &["store", "token", "create", "--scope", "everything"],
            &env,
        ),
        2,
        &["everything"],
    );
    fails_with(
        sbomit(
            dir,
            &[
                "store",
                "verify-receipt",
                "--statement",
                "missing",
                "--receipt",
                "missing",
                "--service-key",
                "missing",
            ],
        ),
        2,
        &["missing"],
    );
}

// ---- durability: issue #4 acceptance (b) ----

/// What a burst of submissions got acknowledged, and the checkpoints seen meanwhile.
struct Burst {
    acked: Vec<(u64, Vec<u8>)>,
    notes: Vec<String>,
}

/// Submits `statements` from `threads` threads (round-robin over `urls`) while polling the
/// checkpoints; calls `interrupt` once `interrupt_after` are acknowledged (and then stops
/// at the first failure, as a killed server answers nothing more).
fn burst(
    urls: &[String],
    statements: Vec<Vec<u8>>,
    threads: usize,
    interrupt_after: Option<usize>,
    interrupt: impl FnOnce(),
) -> Burst {
    let statements = Arc::new(statements);
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let notes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for t in 0..threads {
        let (statements, next, acked, stop) = (
            Arc::clone(&statements),
            Arc::clone(&next),
            Arc::clone(&acked),
            Arc::clone(&stop),
        );
        let url = urls[t % urls.len()].clone();
        workers.push(std::thread::spawn(move || {
            // No polling: only a 201 (durable at once) acknowledges an entry.
            let client = client(&url).with_registration_polling(Duration::ZERO, Duration::ZERO);
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= statements.len() || stop.load(Ordering::SeqCst) {
                    return;
                }
                let body = &statements[i];
                match client.register_dsse(body) {
                    Ok(reg) => {
                        assert!(!reg.duplicate);
                        acked.lock().unwrap().push((reg.index, body.clone()));
                    }
                    // The server is gone.
                    Err(_) if interrupt_after.is_some() => return,
                    Err(e) => panic!("POST /v1/entries: {e}"),
                }
            }
        }));
    }
    let poller = {
        let (notes, stop) = (Arc::clone(&notes), Arc::clone(&stop));
        let urls = urls.to_vec();
        std::thread::spawn(move || {
            let clients: Vec<Client> = urls.iter().map(|u| client(u)).collect();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                if let Ok(note) = clients[n % clients.len()].checkpoint() {
                    notes.lock().unwrap().push(note);
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut interrupt = Some(interrupt);
    if let Some(after) = interrupt_after {
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked.lock().unwrap().len() < after && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        (interrupt.take().unwrap())();
    }
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    poller.join().unwrap();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let notes = std::mem::take(&mut *notes.lock().unwrap());
    Burst { acked, notes }
}

fn acknowledged_entries_survive_sigkill(database: &str) {
    let tmp = tempdir();
    let dir = tmp.path();
    let skey = dir.join("service-key.pem");
    let (key, key_pub) = issuer_key(dir, "attester");
    add_issuer(dir, database, &skey, "https://ci.example", &key_pub);
    let statements: Vec<Vec<u8>> = (0..400).map(|n| dsse(&key, n)).collect();

    let mut server = Server::start(dir, database, &skey, "serve-1.log");
    let urls = [server.url.clone()];
    let result = burst(&urls, statements, 16, Some(150), || server.kill());
    eprintln!(
        "{} acknowledged and {} checkpoints fetched before SIGKILL",
        result.acked.len(),
        result.notes.len()
    );
    assert!(result.acked.len() >= 150, "{} acked", result.acked.len());
    assert!(result.acked.len() < 400, "the kill came after the burst");
    assert!(!result.notes.is_empty());

    let server = Server::start(dir, database, &skey, "serve-2.log");
    let url = server.url.as_str();
    let keys = service_keys(url);
    let head = open_checkpoint(&latest_checkpoint(url), &keys);
    let store = client(url);
    let mut indexes = HashSet::new();
    for (index, statement) in &result.acked {
        assert!(indexes.insert(*index), "index {index} acknowledged twice");
        assert!(*index < head.size, "entry {index} beyond the checkpoint");
        let receipt = store
            .entry_receipt(*index)
            .unwrap_or_else(|e| panic!("acknowledged entry {index} is gone: {e}"));
        let v = receipt::verify_receipt_for_leaf(&merkle::leaf_hash(statement), &receipt, &keys)
            .unwrap_or_else(|e| panic!("entry {index}: {e}"));
        assert_eq!(v.leaf_index, *index);
        store.receipt(&format!("1.{index}")).unwrap();
    }
    // Every checkpoint handed out before the crash is a prefix of the log after it.
    for note in &result.notes {
        let old = open_checkpoint(note, &keys);
        assert!(old.size <= head.size);
        assert_consistent(url, &old, &head);
    }
}

#[test]
fn acknowledged_entries_survive_sigkill_on_sqlite() {
    let tmp = tempdir();
    acknowledged_entries_survive_sigkill(&format!(
        "sqlite://{}",
        tmp.path().join("store.db").display()
    ));
}

#[test]
fn acknowledged_entries_survive_sigkill_on_postgres() {
    let Some(schema) = pg_schema("durability") else {
        return;
    };
    acknowledged_entries_survive_sigkill(&schema.url());
}

// ---- scale-out: issue #4 acceptance (d) ----

#[test]
fn two_servers_on_one_postgres_schema_build_one_consistent_tree() {
    let Some(schema) = pg_schema("two_servers") else {
        return;
    };
    let database = schema.url();
    let tmp = tempdir();
    let dir = tmp.path();
    let skey = dir.join("service-key.pem");
    let (key, key_pub) = issuer_key(dir, "attester");
    add_issuer(dir, &database, &skey, "https://ci.example", &key_pub);
    let statements: Vec<Vec<u8>> = (0..300).map(|n| dsse(&key, n)).collect();
    let leaves: HashSet<Hash> = statements.iter().map(|s| merkle::leaf_hash(s)).collect();

    let a = Server::start(dir, &database, &skey, "serve-a.log");
    let b = Server::start(dir, &database, &skey, "serve-b.log");
    let urls = [a.url.clone(), b.url.clone()];
    let result = burst(&urls, statements, 8, None, || {});
    assert_eq!(result.acked.len(), 300);
    let unique: HashSet<u64> = result.acked.iter().map(|(i, _)| *i).collect();
    assert_eq!(unique.len(), 300, "entry ids are unique across servers");

    let keys = service_keys(&a.url);
    let head_a = latest_checkpoint(&a.url);
    let head_b = latest_checkpoint(&b.url);
    assert_eq!(head_a, head_b, "both servers serve one log");
    let head = open_checkpoint(&head_a, &keys);

    // The root recomputed from every leaf is the checkpoint's, and every entry proves in it.
    let mut all_leaves = Vec::new();
    for index in 0..head.size {
        let url = &urls[index as usize % 2];
        let proof = client(url).inclusion_proof(index, Some(head.size)).unwrap();
        let leaf = hash(&proof.leaf_hash);
        merkle::verify_inclusion(index, head.size, &leaf, &hashes(&proof.path), &head.root)
            .unwrap_or_else(|e| panic!("entry {index}: {e}"));
        all_leaves.push(leaf);
    }
    assert_eq!(merkle::root_from_leaf_hashes(&all_leaves), head.root);
    for (index, statement) in &result.acked {
        assert_eq!(all_leaves[*index as usize], merkle::leaf_hash(statement));
    }
    assert!(leaves.iter().all(|l| all_leaves.contains(l)));

    // Checkpoints from either server are prefixes of the one log.
    assert!(!result.notes.is_empty());
    for note in &result.notes {
        let old = open_checkpoint(note, &keys);
        assert_consistent(&urls[old.size as usize % 2], &old, &head);
    }
}

/// `store key` prints the service's key as receipts name it (COSE kid) and as `key id` does,
/// with its PEM, which `verify-receipt --service-key` takes; `--url` may come from
/// `SBOMIT_STORE_URL`.
#[test]
fn store_key_prints_the_service_key_with_both_ids_and_its_pem() {
    let tmp = tempdir();
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let skey = dir.join("service-key.pem");
    let server = Server::start(dir, &db, &skey, "serve.log");
    let o = crate::common::sbomit_env(
        dir,
        &["store", "key", "--out", "service.pub"],
        &[("SBOMIT_STORE_URL", server.url.as_str())],
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    let pem = std::fs::read_to_string(dir.join("service.pub")).unwrap();
    let key = sbomit_crypto::PublicKey::from_pem(pem.as_bytes(), None).unwrap();
    let kid = service_keys(&server.url)[0].kid().map(hex::encode).unwrap();
    assert!(
        printed.starts_with(&format!("kid {kid} (key id {})\n", key.keyid())),
        "{printed}"
    );
    assert!(printed.ends_with(&pem), "{printed}");
    // The key id is the one `key id` prints for the service's own key file.
    let id = run_ok(dir, &["key", "id", "service.pub"]);
    assert_eq!(id.trim(), key.keyid().as_str());
}

/// `serve` on a port that is taken fails before it creates anything (issue 17).
#[test]
fn serve_on_a_busy_port_creates_no_key_and_no_database() {
    let tmp = tempdir();
    let dir = tmp.path();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let o = sbomit(
        dir,
        &[
            "store",
            "serve",
            "--listen",
            &addr,
            "--database",
            &db,
            "--service-key",
            "service-key.pem",
        ],
    );
    assert_eq!(code(&o), 2, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr)
        .starts_with(&format!("sbomit: error: cannot listen on {addr}")));
    assert!(!dir.join("store.db").exists());
    assert!(!dir.join("service-key.pem").exists());
}

// ---- issue 12: the operator's token and issuer commands ----

/// `sbomit store …` on `db`, with the data directory under `dir`.
fn operator(dir: &Path, db: &str, skey: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["store"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--database",
        db,
        "--service-key",
        skey.to_str().unwrap(),
        "--create",
    ]);
    sbomit_env(
        dir,
        &all,
        &[("SBOMIT_DATA_DIR", dir.join("data").to_str().unwrap())],
    )
}

fn stdout_of(o: std::process::Output) -> String {
    String::from_utf8(ok(o).stdout).unwrap()
}

/// The rows of a tab-separated listing (the header dropped).
fn rows(listing: &str) -> Vec<Vec<String>> {
    listing
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn issuer_list_shows_identities_and_issuer_remove_takes_one_out_and_logs_it() {
    let tmp = tempdir();
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let skey = dir.join("service-key.pem");
    let (key, pub_path) = issuer_key(dir, "ci");
    add_issuer(dir, &db, &skey, "https://ci.example", &pub_path);
    let keyid = key.public_key().keyid().as_str().to_owned();

    let listing = stdout_of(operator(dir, &db, &skey, &["issuer", "list"]));
    assert!(
        listing.starts_with("ID\tKIND\tROLE\tISS\tADDED"),
        "{listing}"
    );
    let list = rows(&listing);
    assert_eq!(list.len(), 1, "{listing}");
    assert_eq!(
        &list[0][..4],
        &[keyid.as_str(), "key", "attester", "https://ci.example"]
    );

    // Removed, narrowed to its issuer (without --iss, every issuer's use of the key goes).
    let removed = stdout_of(operator(
        dir,
        &db,
        &skey,
        &["issuer", "remove", &keyid, "--iss", "https://ci.example"],
    ));
    assert!(removed.trim().starts_with("1."), "{removed}");
    assert!(rows(&stdout_of(operator(dir, &db, &skey, &["issuer", "list"]))).is_empty());
    // Removing what is not there is a usage error, naming the id.
    fails_with(
        operator(dir, &db, &skey, &["issuer", "remove", &keyid]),
        2,
        &[&keyid],
    );

    // The removal is logged: a server on the database shows it as an entry.
    let server = Server::start(dir, &db, &skey, "serve.log");
    let index: u64 = removed.trim().strip_prefix("1.").unwrap().parse().unwrap();
    let entry = client(&server.url).entry(index).unwrap();
    assert_eq!(
        entry.statement_type.as_deref(),
        Some(sbomit_store::IDENTITY_CHANGE_TYPE)
    );
}

#[test]
fn token_list_revoke_and_expiry_reach_a_running_server() {
    let tmp = tempdir();
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let skey = dir.join("service-key.pem");
    let create = |args: &[&str]| {
        let mut all = vec!["token", "create"];
        all.extend_from_slice(args);
        operator(dir, &db, &skey, &all)
    };
    let admin = stdout_of(create(&["--scope", "admin", "--label", "ops"]));
    let admin = admin.trim().to_owned();
    let brief = stdout_of(create(&[
        "--scope",
        "admin",
        "--label",
        "brief",
        "--expires-in",
        "2s",
    ]));
    let brief = brief.trim().to_owned();
    let later = stdout_of(create(&[
        "--scope",
        "read",
        "--expires",
        "2099-01-01T00:00:00Z",
    ]));

    // Bad lifetimes are usage errors.
    fails_with(
        create(&["--scope", "read", "--expires", "2000-01-01T00:00:00Z"]),
        2,
        &["not in the future"],
    );
    fails_with(
        create(&["--scope", "read", "--expires-in", "0d"]),
        2,
        &["0d"],
    );
    fails_with(
        create(&["--scope", "read", "--expires-in", "5x"]),
        2,
        &["unit"],
    );
    fails_with(
        create(&["--scope", "read", "--expires", "tomorrow"]),
        2,
        &["RFC 3339"],
    );
    fails_with(
        create(&[
            "--scope",
            "read",
            "--expires-in",
            "1d",
            "--expires",
            "2099-01-01T00:00:00Z",
        ]),
        2,
        &["--expires"],
    );

    let listing = stdout_of(operator(dir, &db, &skey, &["token", "list"]));
    assert!(
        listing.starts_with("ID\tSCOPE\tCREATED\tEXPIRES\tREVOKED\tLABEL"),
        "{listing}"
    );
    for secret in [&admin, &brief, later.trim()] {
        assert!(!listing.contains(secret), "the list shows a token");
    }
    let list = rows(&listing);
    assert_eq!(list.len(), 3, "{listing}");
    let ops = list.iter().find(|r| r[5] == "ops").unwrap().clone();
    assert_eq!(
        (ops[1].as_str(), ops[3].as_str(), ops[4].as_str()),
        ("admin", "-", "-")
    );
    let read = list.iter().find(|r| r[1] == "read").unwrap();
    assert_eq!(read[3], "2099-01-01T00:00:00Z");

    let server = Server::start(dir, &db, &skey, "serve.log");
    let as_admin = client(&server.url).with_token(Some(&admin));
    as_admin.issuers().unwrap();
    // Revoked by the operator's command, another process: the server refuses it within
    // the store's token snapshot lifetime (a second).
    let revoked = operator(dir, &db, &skey, &["token", "revoke", &ops[0]]);
    assert!(text(&ok(revoked)).contains("revoked token"));
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match as_admin.issuers() {
            Err(e) if e.status() == Some(401) => break,
            other => assert!(Instant::now() < until, "still {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = rows(&stdout_of(operator(dir, &db, &skey, &["token", "list"])));
    let ops = list.iter().find(|r| r[5] == "ops").unwrap();
    assert_ne!(ops[4], "-", "the revocation time is listed");
    // Revoking again says so; an unknown id is a usage error.
    let again = operator(dir, &db, &skey, &["token", "revoke", &ops[0]]);
    assert!(text(&ok(again)).contains("revoked already"));
    fails_with(
        operator(dir, &db, &skey, &["token", "revoke", "ffffffffffffffff"]),
        2,
        &["ffffffffffffffff"],
    );

    // The brief token works until it expires, then gets 401.
    let as_brief = client(&server.url).with_token(Some(&brief));
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match as_brief.issuers() {
            Err(e) if e.status() == Some(401) => break,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < until, "the brief token never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Issue 11: the Store takes SBOMit documents as evidence and indexes them by their document
/// digest; `sit verify --document sha256:HEX --store URL` fetches the document a SIT names.
#[test]
fn sit_verify_fetches_its_document_from_the_store_by_digest() {
    let tmp = tempdir();
    let dir = tmp.path();
    crate::trust_model::chain(dir);
    std::fs::create_dir(dir.join("out")).unwrap();
    ok(crate::trust_model::generate(
        dir,
        "out/sit.json",
        &["--signing-key", "gen"],
    ));
    let sit: Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/sit.json")).unwrap()).unwrap();
    let digest = sit["metadata"]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sbomit:document:sha256")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();

    let db = format!("sqlite://{}", dir.join("store.db").display());
    let skey = dir.join("service-key.pem");
    let server = Server::start(dir, &db, &skey, "serve.log");
    let url = server.url.as_str();
    run_ok(
        dir,
        &["key", "generate", "--type", "ed25519", "--out", "alice"],
    );
    add_issuer(
        dir,
        &db,
        &skey,
        "https://alice.example",
        &dir.join("alice.pub"),
    );
    run_ok(
        dir,
        &[
            "attest",
            "--cose",
            "--iss",
            "https://alice.example",
            "--sub",
            "pkg:generic/app@1.0",
            "--content-type",
            "application/vnd.sbomit.document+json",
            "--predicate",
            "doc.json",
            "--signing-key",
            "alice",
            "--out",
            "doc.cose",
        ],
    );
    run_ok(dir, &["store", "submit", "doc.cose", "--url", url]);

    let by_digest = format!("sha256:{digest}");
    let verify = |d: &str| {
        sbomit(
            dir,
            &[
                "sit",
                "verify",
                "--sit",
                "out/sit.json",
                "--document",
                d,
                "--store",
                url,
                "--layout-keys",
                "owner.pub",
            ],
        )
    };
    // Indexing follows registration closely; give it a few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let o = loop {
        let o = verify(&by_digest);
        if code(&o) == 0 || Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let t = text(&ok(o));
    assert!(t.contains("verification passed (full)"), "{t}");
    // A digest the Store has no document for, and one that is not a digest.
    fails_with(
        verify(&format!("sha256:{}", "ab".repeat(32))),
        2,
        &["has no SBOMit document with digest"],
    );
    fails_with(
        verify("doc.json"),
        2,
        &["give the document's digest as sha256:HEX"],
    );
}
