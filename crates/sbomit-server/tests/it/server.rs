//! The HTTP service end to end: a real server on 127.0.0.1, real requests, on SQLite and (when
//! `SBOMIT_TEST_POSTGRES` is set) PostgreSQL. Peer tests (pycose/scitt-cose, pyscitt) run when
//! `SBOMIT_SCITT_PEER_BIN` / `SBOMIT_SCITT_CLIENT_BIN` are set.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use ciborium::value::Value;
use serde_json::json;

use crate::common::*;
use sbomit_crypto::KeyKind;
use sbomit_scitt::cose::{decode_key_set, CoseSign1};
use sbomit_scitt::receipt::{verify_receipt_for_leaf, verify_receipt_with_keys};
use sbomit_server::ServerConfig;
use sbomit_store::policy::Role;
use sbomit_store::IDENTITY_CHANGE_TYPE;
use sbomit_tlog::merkle::{self, Hash};

const ACCEPT_COSE: (&str, &str) = ("Accept", "application/cose");

fn service_keys(srv: &TestServer) -> (Vec<u8>, Vec<sbomit_scitt::cose::CoseKey>) {
    let r = get(
        &srv.url("/.well-known/scitt-keys"),
        &[("Accept", "application/cbor")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/cbor"));
    let keys = decode_key_set(&r.body).unwrap();
    (r.body, keys)
}

fn hash_of(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

#[test]
fn scrapi_registration_answers_201_with_a_receipt_that_verifies() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let issuer = key(KeyKind::EcdsaP256);
        srv.add_issuer("https://vendor.example", Role::Attester, &issuer);
        let stmt = cose_statement(
            &issuer,
            "https://vendor.example",
            "pkg:npm/app@1",
            "application/json",
            br#"{"sbom":1}"#,
        );
        let r = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &stmt,
            &[ACCEPT_COSE],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/cose"));
        let location = r.header("location").unwrap().to_owned();
        assert!(location.starts_with("/entries/1."), "{location}");
        let (_, keys) = service_keys(&srv);
        let v = verify_receipt_with_keys(&stmt, &r.body, &keys).unwrap();
        assert_eq!(format!("/entries/1.{}", v.leaf_index), location);

        // A fresh receipt from the locator verifies too.
        let again = get(&srv.url(&location), &[ACCEPT_COSE]);
        assert_eq!(again.status, 200);
        verify_receipt_with_keys(&stmt, &again.body, &keys).unwrap();

        // The same bytes twice: the same entry.
        let twice = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &stmt,
            &[ACCEPT_COSE],
        );
        assert_eq!(twice.status, 201);
        assert_eq!(twice.header("location"), Some(location.as_str()));

        // The transparent statement carries the receipt in header 394.
        let ts = get(&srv.url(&format!("{location}/statement")), &[]);
        assert_eq!(ts.status, 200);
        let msg = CoseSign1::decode(&ts.body).unwrap();
        let Some(Value::Array(receipts)) = msg.unprotected().get_int(394) else {
            panic!("no receipts in the transparent statement");
        };
        let Value::Bytes(embedded) = &receipts[0] else {
            panic!("receipt is not a byte string")
        };
        verify_receipt_with_keys(&ts.body, embedded, &keys).unwrap();

        // One key by its kid (hex), and 404 for an unknown kid.
        let kid = hex::encode(keys[0].kid().unwrap());
        assert_eq!(srv.client().service_key(&kid).unwrap(), keys[0]);
        let none = get(&srv.url("/.well-known/scitt-keys/00ff"), &[]);
        assert_eq!(none.status, 404);
        assert_eq!(none.concise_problem().0, "No such key");
        let none = srv.client().service_key("00ff").unwrap_err();
        assert_eq!(
            (none.status(), none.title()),
            (Some(404), Some("No such key"))
        );

        // Unknown and malformed entry ids.
        let r = get(&srv.url("/entries/1.999999"), &[]);
        assert_eq!(r.status, 404);
        assert_eq!(r.concise_problem().0, "Not Found");
        let r = get(&srv.url("/entries/abc"), &[]);
        assert_eq!(r.status, 400);
        assert_eq!(r.concise_problem().0, "Invalid Entry Id");

        // The transparency configuration, CBOR when asked for.
        let c = get(
            &srv.url("/.well-known/transparency-configuration"),
            &[("Accept", "application/cbor")],
        );
        assert_eq!(c.status, 200);
        let v: Value = ciborium::de::from_reader(&c.body[..]).unwrap();
        assert!(v
            .as_map()
            .unwrap()
            .iter()
            .any(|(k, _)| k.as_text() == Some("issuer")));
        let j = srv.client().transparency_configuration().unwrap();
        assert_eq!(j.issuer, srv.store.origin());
        assert_eq!(srv.client().jwks().unwrap()["keys"][0]["kty"], "OKP");
    });
}

#[test]
fn slow_registration_answers_303_and_the_operation_resolves_to_the_entry() {
    each_backend(|b| {
        // No wait at all: the registration is (almost) never durable before the answer.
        let srv = TestServer::start(
            b,
            ServerConfig {
                registration_wait_ms: 0,
                ..config()
            },
        );
        let issuer = key(KeyKind::Ed25519);
        srv.add_issuer("iss", Role::Attester, &issuer);
        let mut saw_303 = false;
        for i in 0..4 {
            let stmt = cose_statement(&issuer, "iss", &format!("s{i}"), "text/plain", b"x");
            let r = post(
                &srv.url("/entries"),
                Some("application/cose"),
                &stmt,
                &[ACCEPT_COSE],
            );
            if r.status == 201 {
                continue;
            }
            assert_eq!(r.status, 303, "{}", r.text());
            saw_303 = true;
            assert!(r.header("retry-after").is_some());
            let op = r.header("location").unwrap().to_owned();
            assert_eq!(
                op,
                format!(
                    "/operations/{}",
                    hex::encode(sbomit_intoto::digest::Sha256::digest(&stmt).as_bytes())
                )
            );
            // Poll as a CBOR client until it succeeds, then as a COSE client.
            let mut entry = None;
            for _ in 0..200 {
                let p = get(&srv.url(&op), &[]);
                if p.status == 202 {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                assert_eq!(p.status, 200, "{}", p.text());
                let doc: Value = ciborium::de::from_reader(&p.body[..]).unwrap();
                let map = doc.as_map().unwrap();
                let field = |k: &str| {
                    map.iter()
                        .find(|(key, _)| key.as_text() == Some(k))
                        .and_then(|(_, v)| v.as_text())
                        .map(str::to_owned)
                };
                assert_eq!(field("Status").as_deref(), Some("succeeded"));
                entry = field("EntryId");
                break;
            }
            let entry = entry.expect("the operation never succeeded");
            let receipt = get(&srv.url(&op), &[ACCEPT_COSE]);
            assert_eq!(receipt.status, 200);
            assert_eq!(
                receipt.header("location"),
                Some(format!("/entries/{entry}").as_str())
            );
            let (_, keys) = service_keys(&srv);
            verify_receipt_with_keys(&stmt, &receipt.body, &keys).unwrap();
        }
        assert!(saw_303, "no registration took the 303 path");
        let r = get(&srv.url(&format!("/operations/{}", "ab".repeat(32))), &[]);
        assert_eq!(r.status, 404);
        assert_eq!(r.concise_problem().0, "Operation Not Found");
        let r = get(&srv.url("/operations/nothex"), &[]);
        assert_eq!(r.status, 400);
        assert_eq!(r.concise_problem().0, "Invalid locator");
    });
}

#[test]
fn refused_submissions_answer_problem_details_and_leave_the_log_unchanged() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let attester = key(KeyKind::EcdsaP256);
        let manager = key(KeyKind::Ed25519);
        srv.add_issuer("https://attester.example", Role::Attester, &attester);
        srv.add_issuer("https://policy.example", Role::PolicyManager, &manager);
        let size = srv.checkpoint_size();
        let good = cose_statement(
            &attester,
            "https://attester.example",
            "pkg:x",
            "application/json",
            b"{}",
        );
        let submit =
            |bytes: &[u8]| post(&srv.url("/entries"), Some("application/cose"), bytes, &[]);

        // Unsigned: the signature emptied.
        let mut v: Value = ciborium::de::from_reader(&good[..]).unwrap();
        if let Value::Tag(_, inner) = &mut v {
            if let Value::Array(items) = &mut **inner {
                items[3] = Value::Bytes(Vec::new());
            }
        }
        let mut unsigned = Vec::new();
        ciborium::ser::into_writer(&v, &mut unsigned).unwrap();
        let r = submit(&unsigned);
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.concise_problem().0, "Bad Signature");

        // Badly signed: one signature byte flipped.
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let r = submit(&bad);
        assert_eq!(r.status, 400);
        assert_eq!(r.concise_problem().0, "Bad Signature");

        // Signed by the registered key under another identity: unknown issuer.
        let stranger = cose_statement(&attester, "https://stranger.example", "s", "a/b", b"x");
        let r = submit(&stranger);
        assert_eq!(r.status, 403);
        assert_eq!(r.concise_problem().0, "Unknown Issuer");

        // An attester registering a policy: wrong role, in both envelopes.
        let policy = cose_statement(
            &attester,
            "https://attester.example",
            "policy/1",
            "application/vnd.sbomit.policy+json",
            b"{}",
        );
        let r = submit(&policy);
        assert_eq!(r.status, 403);
        assert_eq!(r.concise_problem().0, "Not Allowed");
        let dsse_policy =
            dsse_statement(&attester, "policy.json", "https://sbomit.dev/policy/v0.1");
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &dsse_policy,
            &[],
        );
        assert_eq!(r.status, 403);
        assert_eq!(r.json_problem_title(), "Not Allowed");
        // …which a policy manager may register.
        let by_manager = dsse_statement(&manager, "policy.json", "https://sbomit.dev/policy/v0.1");
        let admin = bearer(&srv.admin_token);

        // A registration policy that admits only SLSA provenance from attesters.
        let p = put(
            &srv.url("/v1/admin/registration-policy"),
            "application/json",
            br#"{"rules":[{"roles":["attester"],"types":["https://slsa.dev/provenance/*"]},{"roles":["policy-manager"],"types":["*"]}]}"#,
            &[("Authorization", &admin)],
        );
        assert_eq!(p.status, 200, "{}", p.text());
        assert_eq!(p.json()["version"], 2);
        let size = size + 1; // the policy change is itself an entry
        assert_eq!(srv.checkpoint_size(), size);
        let r = submit(&good);
        assert_eq!(r.status, 403);
        assert_eq!(r.concise_problem().0, "Not Allowed");
        let sbom = dsse_statement(&attester, "app.tar.gz", "https://cyclonedx.org/bom");
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &sbom,
            &[],
        );
        assert_eq!(r.status, 403);
        assert_eq!(r.json_problem_title(), "Not Allowed");

        // A DSSE envelope signed by nobody registered.
        let nobody = dsse_statement(
            &key(KeyKind::Ed25519),
            "x",
            "https://slsa.dev/provenance/v1",
        );
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &nobody,
            &[],
        );
        assert_eq!(r.status, 403);
        assert_eq!(r.json_problem_title(), "Unknown Issuer");

        assert_eq!(srv.checkpoint_size(), size, "a refusal changed the log");

        // What the policy admits still goes in.
        let prov = dsse_statement(&attester, "app.tar.gz", "https://slsa.dev/provenance/v1");
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &prov,
            &[],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &by_manager,
            &[],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(srv.checkpoint_size(), size + 2);
        // The old policy version stays readable.
        let client = srv.client();
        assert_eq!(client.registration_policy(Some(1)).unwrap().version, 1);
        assert_eq!(client.registration_policy(None).unwrap().version, 2);
        assert_eq!(
            client.registration_policy(Some(99)).unwrap_err().status(),
            Some(404)
        );
    });
}

#[test]
fn concurrent_registrations_get_distinct_entries_and_receipts() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let issuer = key(KeyKind::Ed25519);
        srv.add_issuer("iss", Role::Attester, &issuer);
        let size = srv.checkpoint_size();
        let (_, keys) = service_keys(&srv);
        let results: Vec<(Vec<u8>, Resp)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let stmt = cose_statement(&issuer, "iss", &format!("s{i}"), "text/plain", b"x");
                    let url = srv.url("/entries");
                    scope.spawn(move || {
                        let r = post(&url, Some("application/cose"), &stmt, &[ACCEPT_COSE]);
                        (stmt, r)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut locations: Vec<String> = Vec::new();
        for (stmt, r) in &results {
            assert_eq!(r.status, 201, "{}", r.text());
            verify_receipt_with_keys(stmt, &r.body, &keys).unwrap();
            locations.push(r.header("location").unwrap().to_owned());
        }
        locations.sort();
        locations.dedup();
        assert_eq!(locations.len(), 16);
        assert_eq!(srv.checkpoint_size(), size + 16);
    });
}

#[test]
fn two_servers_on_one_postgres_serve_one_log() {
    let Some(Backend::Postgres(url)) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!("SBOMIT_TEST_POSTGRES is not set: skipped (scale-out needs PostgreSQL)");
        return;
    };
    let a = TestServer::start(&Backend::Postgres(url), config());
    let b = a.second(ServerConfig {
        registration_wait_ms: 0,
        ..config()
    });
    let issuer = key(KeyKind::EcdsaP256);
    // Registered through one process, known to the other (its registry is re-read).
    let r = post(
        &a.url("/v1/admin/issuers"),
        Some("application/json"),
        json!({"iss": "iss", "role": "attester", "publicKeyPem": issuer.public_key().to_pem()})
            .to_string()
            .as_bytes(),
        &[("Authorization", &bearer(&a.admin_token))],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (_, keys) = service_keys(&a);
    for i in 0..6 {
        let srv = if i % 2 == 0 { &a } else { &b };
        let other = if i % 2 == 0 { &b } else { &a };
        let stmt = cose_statement(&issuer, "iss", &format!("s{i}"), "text/plain", b"x");
        let r = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &stmt,
            &[ACCEPT_COSE],
        );
        let location = match r.status {
            201 => r.header("location").unwrap().to_owned(),
            303 => {
                // The operation resolves on the other process too, from the shared log.
                let op = r.header("location").unwrap().to_owned();
                let mut found = None;
                for _ in 0..200 {
                    let p = get(&other.url(&op), &[ACCEPT_COSE]);
                    if p.status == 200 {
                        found = p.header("location").map(str::to_owned);
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                found.expect("the operation never resolved on the other server")
            }
            s => panic!("{s}: {}", r.text()),
        };
        let receipt = get(&other.url(&location), &[]);
        assert_eq!(receipt.status, 200);
        verify_receipt_with_keys(&stmt, &receipt.body, &keys).unwrap();
    }
    assert_eq!(a.checkpoint_size(), b.checkpoint_size());
}

#[test]
fn more_concurrent_requests_than_pooled_connections_all_succeed_within_the_pool_bound() {
    let Some(Backend::Postgres(url)) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!("SBOMIT_TEST_POSTGRES is not set: skipped (the pool is PostgreSQL's)");
        return;
    };
    const POOL: i64 = 2;
    const CLIENTS: usize = 24;
    // Our sessions are told apart from everyone else's by their application_name.
    let app = format!("sbomit_pool_{}", unique_suffix());
    let srv = TestServer::start_postgres_with(
        &url,
        &format!("pool_size={POOL}&application_name={app}"),
        config(),
    );
    let issuer = key(KeyKind::Ed25519);
    srv.add_issuer("iss", Role::Attester, &issuer);
    let size = srv.checkpoint_size();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (stop, url, app) = (stop.clone(), url.clone(), app.clone());
        std::thread::spawn(move || {
            let c = Pg::connect(&url).unwrap();
            let mut most = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                        &[&app],
                    )
                    .unwrap()
                    .get(0);
                most = most.max(n);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            most
        })
    };
    let base = srv.base.clone();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let stmt = cose_statement(&issuer, "iss", &format!("s{i}"), "text/plain", b"x");
            let base = base.clone();
            std::thread::spawn(move || {
                let r = post(
                    &format!("{base}/entries"),
                    Some("application/cose"),
                    &stmt,
                    &[ACCEPT_COSE],
                );
                assert_eq!(r.status, 201, "{}", r.text());
                let location = r.header("location").unwrap().to_owned();
                for path in [location.as_str(), "/checkpoint", "/.well-known/scitt-keys"] {
                    let r = get(&format!("{base}{path}"), &[]);
                    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let most = sampler.join().unwrap();
    assert!(
        (1..=POOL).contains(&most),
        "{most} connections open at once; the pool holds at most {POOL}"
    );
    assert_eq!(srv.checkpoint_size(), size + CLIENTS as u64);
}

#[test]
fn malformed_bodies_and_wrong_content_types_are_4xx_never_5xx() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let issuer = key(KeyKind::Ed25519);
        srv.add_issuer("iss", Role::Attester, &issuer);
        let size = srv.checkpoint_size();
        for body in [
            &b""[..],
            b"\xff\xff",
            b"not cbor at all",
            b"\xd2\x84\x40\xa0\xf6\x40",
        ] {
            let r = post(&srv.url("/entries"), Some("application/cose"), body, &[]);
            assert_eq!(r.status, 400, "{body:?}: {}", r.text());
            assert_eq!(r.concise_problem().0, "Malformed Statement");
        }
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"{\"payload\":1}",
            b"{\"payloadType\":\"x\",\"payload\":\"\",\"signatures\":[]}",
        ] {
            let r = post(&srv.url("/v1/entries"), Some("application/json"), body, &[]);
            assert_eq!(r.status, 400, "{body:?}: {}", r.text());
            assert_eq!(r.json_problem_title(), "Malformed Statement");
        }
        let stmt = cose_statement(&issuer, "iss", "s", "text/plain", b"x");
        let r = post(&srv.url("/entries"), Some("application/json"), &stmt, &[]);
        assert_eq!(r.status, 415);
        assert_eq!(r.concise_problem().0, "Unsupported Media Type");
        let r = post(&srv.url("/entries"), None, &stmt, &[]);
        assert_eq!(r.status, 415);
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/cose"),
            b"{}",
            &[],
        );
        assert_eq!(r.status, 415);
        assert_eq!(r.json_problem_title(), "Unsupported Media Type");
        // Bad ids and queries.
        assert_eq!(get(&srv.url("/v1/entries/x1"), &[]).status, 400);
        assert_eq!(get(&srv.url("/v1/entries/424242"), &[]).status, 404);
        let r = get(&srv.url("/v1/proofs/inclusion?index=abc"), &[]);
        assert_eq!(r.status, 400);
        assert_eq!(r.json_problem_title(), "Bad Request");
        assert_eq!(
            get(&srv.url("/v1/proofs/inclusion?index=0&treeSize=999"), &[]).status,
            400
        );
        assert_eq!(
            get(&srv.url("/v1/proofs/consistency?first=5&second=2"), &[]).status,
            400
        );
        let r = get(&srv.url("/v1/nothing"), &[]);
        assert_eq!(r.status, 404);
        assert_eq!(r.json_problem_title(), "Not Found");
        let r = get(&srv.url("/entries"), &[]);
        assert_eq!(r.status, 405);
        assert_eq!(r.concise_problem().0, "Method Not Allowed");
        let r = put(&srv.url("/v1/entries"), "application/json", b"{}", &[]);
        assert_eq!(r.status, 405);
        assert_eq!(r.json_problem_title(), "Method Not Allowed");
        let r = get(&srv.url("/nothing"), &[]);
        assert_eq!(r.status, 404);
        assert_eq!(r.concise_problem().0, "Not Found");
        // Malformed admin JSON.
        let admin = bearer(&srv.admin_token);
        let r = post(
            &srv.url("/v1/admin/issuers"),
            Some("application/json"),
            b"{",
            &[("Authorization", &admin)],
        );
        assert_eq!(r.status, 400);
        let r = post(
            &srv.url("/v1/admin/issuers"),
            Some("application/json"),
            br#"{"iss":"a","role":"king","publicKeyPem":"x"}"#,
            &[("Authorization", &admin)],
        );
        assert_eq!(r.status, 400);
        let r = put(
            &srv.url("/v1/admin/registration-policy"),
            "application/json",
            br#"{"rules":[{"types":[]}]}"#,
            &[("Authorization", &admin)],
        );
        assert_eq!(r.status, 400);
        assert_eq!(srv.checkpoint_size(), size);
    });
}

#[test]
fn bodies_over_the_limit_are_refused_with_413() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                max_body_bytes: 64 << 10,
                ..config()
            },
        );
        let issuer = key(KeyKind::Ed25519);
        srv.add_issuer("iss", Role::Attester, &issuer);
        let size = srv.checkpoint_size();
        let big = cose_statement(&issuer, "iss", "s", "text/plain", &vec![b'a'; 100 << 10]);
        let r = post(&srv.url("/entries"), Some("application/cose"), &big, &[]);
        assert_eq!(r.status, 413);
        assert_eq!(r.concise_problem().0, "Payload Too Large");
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &vec![b' '; 100 << 10],
            &[],
        );
        assert_eq!(r.status, 413);
        assert_eq!(r.json_problem_title(), "Payload Too Large");
        // Streamed without a declared length: cut off at the limit all the same.
        let r = post_chunked(&srv.url("/entries"), "application/cose", big.clone());
        assert_eq!(r.status, 413);
        assert_eq!(r.concise_problem().0, "Payload Too Large");
        // Just under the limit is fine, streamed or not.
        let ok = cose_statement(&issuer, "iss", "t", "text/plain", &vec![b'a'; 60 << 10]);
        let r = post_chunked(&srv.url("/entries"), "application/cose", ok);
        assert_eq!(r.status, 201, "{}", r.text());
        let ok = cose_statement(&issuer, "iss", "s", "text/plain", &vec![b'a'; 60 << 10]);
        let r = post(&srv.url("/entries"), Some("application/cose"), &ok, &[]);
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(srv.checkpoint_size(), size + 2);
    });
}

#[test]
fn admin_calls_need_an_admin_token() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let issuer = key(KeyKind::EcdsaP256);
        let pem = issuer.public_key().to_pem();
        let body = json!({"iss": "https://ci.example", "role": "attester", "publicKeyPem": pem})
            .to_string();
        let url = srv.url("/v1/admin/issuers");
        let ct = Some("application/json");

        let r = post(&url, ct, body.as_bytes(), &[]);
        assert_eq!(r.status, 401);
        assert_eq!(r.json_problem_title(), "Unauthorized");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        let r = post(
            &url,
            ct,
            body.as_bytes(),
            &[("Authorization", "Bearer sbomit_wrong")],
        );
        assert_eq!(r.status, 401);
        assert_eq!(r.json_problem_title(), "Unauthorized");
        let submit_token = srv
            .store
            .create_token(sbomit_store::backend::Scope::Submit, "ci")
            .unwrap();
        let r = post(
            &url,
            ct,
            body.as_bytes(),
            &[("Authorization", &bearer(&submit_token))],
        );
        assert_eq!(r.status, 403);
        assert_eq!(get(&url, &[]).status, 401);
        let r = put(
            &srv.url("/v1/admin/registration-policy"),
            "application/json",
            b"{}",
            &[],
        );
        assert_eq!(r.status, 401);
        let r = post(
            &srv.url("/v1/admin/tokens"),
            ct,
            br#"{"scope":"admin"}"#,
            &[("Authorization", &bearer(&submit_token))],
        );
        assert_eq!(r.status, 403);

        // With the admin token: the issuer is added, its registration is a log entry.
        let admin = srv.admin_client();
        let attester = sbomit_client::Role::Attester;
        // 201: the change is logged (a 200 says unchanged and names no entry).
        let added = admin
            .add_issuer("https://ci.example", attester, &pem)
            .unwrap();
        assert!(!added.unchanged);
        assert_eq!(
            added.keyid.as_deref(),
            Some(issuer.public_key().keyid().as_str())
        );
        let index = added.index.unwrap();
        let entry = srv.client().entry(index).unwrap();
        assert_eq!(entry.statement_type.as_deref(), Some(IDENTITY_CHANGE_TYPE));
        assert_eq!(entry.sub.as_deref(), Some("https://ci.example"));
        assert_eq!(entry.entry_id, format!("1.{index}"));
        // Adding it again changes nothing.
        let again = admin
            .add_issuer("https://ci.example", attester, &pem)
            .unwrap();
        assert!(again.unchanged);
        assert_eq!(again.index, None);
        let list = admin.issuers().unwrap();
        assert_eq!(list[0].iss, "https://ci.example");
        assert_eq!(list[0].role, "attester");

        // A new token works for what its scope allows, and is shown once.
        let read = admin
            .create_token(sbomit_client::Scope::Read, "dashboard")
            .unwrap();
        assert_eq!(
            (read.scope.as_str(), read.label.as_str()),
            ("read", "dashboard")
        );
        let reader = srv.client().with_token(Some(&read.token));
        assert_eq!(reader.issuers().unwrap_err().status(), Some(403));
    });
}

#[test]
fn tokens_gate_reads_and_submissions_when_configured() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                read_public: false,
                submit_token_required: true,
                ..config()
            },
        );
        let issuer = key(KeyKind::Ed25519);
        srv.add_issuer("iss", Role::Attester, &issuer);
        let read = srv
            .store
            .create_token(sbomit_store::backend::Scope::Read, "r")
            .unwrap();
        let submit = srv
            .store
            .create_token(sbomit_store::backend::Scope::Submit, "s")
            .unwrap();
        assert_eq!(get(&srv.url("/checkpoint"), &[]).status, 401);
        let r = get(&srv.url("/.well-known/scitt-keys"), &[]);
        assert_eq!(r.status, 401);
        assert_eq!(r.concise_problem().0, "Unauthorized");
        assert_eq!(
            get(
                &srv.url("/checkpoint"),
                &[("Authorization", &bearer(&read))]
            )
            .status,
            200
        );
        let stmt = cose_statement(&issuer, "iss", "s", "text/plain", b"x");
        let ct = Some("application/cose");
        assert_eq!(post(&srv.url("/entries"), ct, &stmt, &[]).status, 401);
        assert_eq!(
            post(
                &srv.url("/entries"),
                ct,
                &stmt,
                &[("Authorization", &bearer(&read))]
            )
            .status,
            403
        );
        let r = post(
            &srv.url("/entries"),
            ct,
            &stmt,
            &[("Authorization", &bearer(&submit))],
        );
        assert_eq!(r.status, 201);
        // A submit token reads too (admin ⊇ submit ⊇ read).
        let loc = r.header("location").unwrap().to_owned();
        assert_eq!(
            get(&srv.url(&loc), &[("Authorization", &bearer(&submit))]).status,
            200
        );
    });
}

#[test]
fn dsse_evidence_gets_a_receipt_and_proofs_that_verify() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let attester = key(KeyKind::EcdsaP256);
        srv.add_issuer("https://ci.example", Role::Attester, &attester);
        let first_size = srv.checkpoint_size();
        let first_root = hex::encode(srv.store.checkpoint().unwrap().unwrap().root);
        let env = dsse_statement(&attester, "app.tar.gz", "https://slsa.dev/provenance/v1");
        let r = post(&srv.url("/v1/entries"), Some("application/json"), &env, &[]);
        assert_eq!(r.status, 201, "{}", r.text());
        let reg = r.json();
        let index = reg["index"].as_u64().unwrap();
        assert_eq!(reg["entryId"], format!("1.{index}"));
        assert_eq!(reg["duplicate"], false);
        assert_eq!(
            r.header("location"),
            Some(format!("/v1/entries/{index}").as_str())
        );
        // Again: the same entry, marked duplicate.
        let client = srv.client();
        let again = client.register_dsse(&env).unwrap();
        assert_eq!(again.index, index);
        assert!(again.duplicate);
        // A few more entries so the proofs have some depth.
        for i in 0..5 {
            let e = dsse_statement(
                &attester,
                &format!("lib{i}.so"),
                "https://slsa.dev/provenance/v1",
            );
            client.register_dsse(&e).unwrap();
        }

        let meta = client.entry(index).unwrap();
        assert_eq!(meta.iss.as_deref(), Some("https://ci.example"));
        assert_eq!(
            meta.statement_type.as_deref(),
            Some("https://slsa.dev/provenance/v1")
        );
        assert_eq!(meta.kind, "dsse");
        assert_eq!(
            meta.subjects.unwrap()[0].name.as_deref(),
            Some("app.tar.gz")
        );
        assert!(meta.registered_at.ends_with('Z'));
        use base64::Engine;
        let stored = base64::engine::general_purpose::STANDARD
            .decode(&meta.statement)
            .unwrap();
        assert_eq!(stored, env);

        let leaf = merkle::leaf_hash(&env);
        let receipt = client.entry_receipt(index).unwrap();
        let (_, keys) = service_keys(&srv);
        assert_eq!(client.service_keys().unwrap(), keys);
        let v = verify_receipt_for_leaf(&leaf, &receipt, &keys).unwrap();
        assert_eq!(v.leaf_index, index);
        // The SCRAPI locator serves the same entry's receipt.
        let scrapi = client.receipt(&format!("1.{index}")).unwrap();
        verify_receipt_for_leaf(&leaf, &scrapi, &keys).unwrap();

        let size = srv.checkpoint_size();
        let p = client.inclusion_proof(index, None).unwrap();
        assert_eq!(p.tree_size, size);
        assert_eq!(p.leaf_hash, hex::encode(leaf));
        let path: Vec<Hash> = p.path.iter().map(|h| hash_of(h)).collect();
        merkle::verify_inclusion(index, size, &leaf, &path, &hash_of(&p.root)).unwrap();
        // At an older size containing it.
        let p = client.inclusion_proof(index, Some(index + 1)).unwrap();
        let path: Vec<Hash> = p.path.iter().map(|h| hash_of(h)).collect();
        merkle::verify_inclusion(index, index + 1, &leaf, &path, &hash_of(&p.root)).unwrap();

        let c = client.consistency_proof(first_size, size).unwrap();
        assert_eq!(c.first_root, first_root);
        let path: Vec<Hash> = c.path.iter().map(|h| hash_of(h)).collect();
        merkle::verify_consistency(
            first_size,
            size,
            &path,
            &hash_of(&c.first_root),
            &hash_of(&c.second_root),
        )
        .unwrap();

        // The checkpoint is a signed note whose root is the proofs' root.
        let note = get(&srv.url("/checkpoint"), &[]);
        assert_eq!(
            note.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let text = note.text();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(srv.store.origin()));
        assert_eq!(lines.next(), Some(size.to_string().as_str()));
        let root = base64::engine::general_purpose::STANDARD
            .decode(lines.next().unwrap())
            .unwrap();
        assert_eq!(hex::encode(root), c.second_root);
        assert_eq!(client.checkpoint().unwrap(), text);
    });
}

#[test]
fn identity_and_policy_changes_appear_as_log_entries() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let admin = srv.admin_client();
        let size = srv.store.checkpoint().unwrap().map_or(0, |c| c.size);
        let k = key(KeyKind::Ed25519);
        let added = admin
            .add_issuer(
                "https://pm.example",
                sbomit_client::Role::PolicyManager,
                &k.public_key().to_pem(),
            )
            .unwrap();
        assert!(!added.unchanged, "a 201: the change is logged");
        let issuer_entry = added.index.unwrap();
        let policy_entry = admin
            .set_registration_policy(br#"{"rules":[{"roles":["policy-manager"],"types":["*"]}]}"#)
            .unwrap()
            .index;
        assert_eq!(srv.checkpoint_size(), size + 2);
        let client = srv.client();
        let e = client.entry(issuer_entry).unwrap();
        assert_eq!(e.statement_type.as_deref(), Some(IDENTITY_CHANGE_TYPE));
        assert_eq!(e.iss.as_deref(), Some(srv.store.origin()));
        let e = client.entry(policy_entry).unwrap();
        assert_eq!(
            e.statement_type.as_deref(),
            Some(sbomit_store::REGISTRATION_POLICY_TYPE)
        );
        // They are statements signed by the service, with receipts like any other.
        let (_, keys) = service_keys(&srv);
        let ts = client
            .transparent_statement(&issuer_entry.to_string())
            .unwrap();
        let receipt = client.receipt(&issuer_entry.to_string()).unwrap();
        verify_receipt_with_keys(&ts, &receipt, &keys).unwrap();
    });
}

/// Runs the independent peer (pycose + scitt-cose) in `dir`.
fn scitt_peer(bin: &std::path::Path, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(bin.join("python"))
        .arg(scitt_peer_script())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn receipts_verify_with_the_independent_peer_and_peer_statements_are_accepted() {
    let Some(peer) = peer_bin("SBOMIT_SCITT_PEER_BIN") else {
        return;
    };
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = scitt_peer(&peer, d, &["keygen", "--out", "issuer.pem"]);
        assert!(out.status.success(), "{out:?}");
        // The issuer is registered over the admin API with the peer's public key.
        let pem = std::fs::read_to_string(d.join("issuer.pem.pub")).unwrap();
        let r = post(
            &srv.url("/v1/admin/issuers"),
            Some("application/json"),
            json!({"iss": "https://vendor.example", "role": "attester", "publicKeyPem": pem})
                .to_string()
                .as_bytes(),
            &[("Authorization", &bearer(&srv.admin_token))],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        std::fs::write(d.join("payload.json"), br#"{"bom":"cyclonedx"}"#).unwrap();
        let out = scitt_peer(
            &peer,
            d,
            &[
                "sign",
                "--key",
                "issuer.pem",
                "--iss",
                "https://vendor.example",
                "--sub",
                "pkg:npm/app@1",
                "--content-type",
                "application/json",
                "--payload",
                "payload.json",
                "--out",
                "stmt.cose",
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let stmt = std::fs::read(d.join("stmt.cose")).unwrap();
        let r = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &stmt,
            &[ACCEPT_COSE],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        std::fs::write(d.join("receipt.cose"), &r.body).unwrap();
        let (set, _) = service_keys(&srv);
        std::fs::write(d.join("keys.cbor"), &set).unwrap();
        let verify = |receipt: &str, keys: &str| {
            scitt_peer(
                &peer,
                d,
                &[
                    "verify-receipt",
                    "--statement",
                    "stmt.cose",
                    "--receipt",
                    receipt,
                    "--service-keys",
                    keys,
                ],
            )
        };
        let out = verify("receipt.cose", "keys.cbor");
        assert!(out.status.success(), "peer refused the receipt: {out:?}");
        // One key from its own resource verifies it too.
        let kid = hex::encode(service_keys(&srv).1[0].kid().unwrap());
        let one = get(&srv.url(&format!("/.well-known/scitt-keys/{kid}")), &[]);
        std::fs::write(d.join("key.cbor"), &one.body).unwrap();
        assert!(verify("receipt.cose", "key.cbor").status.success());
        // A tampered receipt is refused by the peer (the check has teeth).
        let mut bad = r.body.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(d.join("bad.cose"), &bad).unwrap();
        assert!(!verify("bad.cose", "keys.cbor").status.success());
    });
}

#[test]
fn pyscitt_client_submits_a_statement_and_gets_it_back_transparent() {
    let Some(client) = peer_bin("SBOMIT_SCITT_CLIENT_BIN") else {
        return;
    };
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                compat_pyscitt: true,
                ..config()
            },
        );
        let issuer = key(KeyKind::EcdsaP256);
        srv.add_issuer("https://vendor.example", Role::Attester, &issuer);
        let dir = tempfile::tempdir().unwrap();
        let stmt = cose_statement(
            &issuer,
            "https://vendor.example",
            "pkg:app",
            "application/json",
            b"{}",
        );
        std::fs::write(dir.path().join("stmt.cose"), &stmt).unwrap();
        let out = Command::new(client.join("scitt"))
            .args([
                "submit",
                "stmt.cose",
                "--url",
                &srv.base,
                "--transparent-statement",
                "ts.cose",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "scitt submit failed: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Registered stmt.cose as transaction 1."),
            "{stdout}"
        );
        let ts = std::fs::read(dir.path().join("ts.cose")).unwrap();
        let msg = CoseSign1::decode(&ts).unwrap();
        assert_eq!(msg.payload(), Some(&b"{}"[..]));
        let Some(Value::Array(receipts)) = msg.unprotected().get_int(394) else {
            panic!("the transparent statement has no receipt");
        };
        let Value::Bytes(receipt) = &receipts[0] else {
            panic!()
        };
        let (_, keys) = service_keys(&srv);
        verify_receipt_with_keys(&stmt, receipt, &keys).unwrap();
        // …and with the independent peer, when it is there.
        if let Ok(peer) = std::env::var("SBOMIT_SCITT_PEER_BIN") {
            let d = dir.path();
            std::fs::write(d.join("receipt.cose"), receipt).unwrap();
            std::fs::write(d.join("keys.cbor"), service_keys(&srv).0).unwrap();
            let out = scitt_peer(
                std::path::Path::new(&peer),
                d,
                &[
                    "verify-receipt",
                    "--statement",
                    "ts.cose",
                    "--receipt",
                    "receipt.cose",
                    "--service-keys",
                    "keys.cbor",
                ],
            );
            assert!(out.status.success(), "peer refused the receipt: {out:?}");
        }
        // The same submission without waiting: an operation id, then the same entry.
        let out = Command::new(client.join("scitt"))
            .args([
                "submit",
                "stmt.cose",
                "--url",
                &srv.base,
                "--skip-confirmation",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let op = hex::encode(sbomit_intoto::digest::Sha256::digest(&stmt).as_bytes());
        assert!(String::from_utf8_lossy(&out.stdout).contains(&op));
    });
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    /// Random bytes and mutations of valid statements at both registration endpoints: never a
    /// 5xx, and the server keeps answering.
    #[test]
    fn random_and_mutated_submissions_never_get_a_5xx() {
        each_backend(|b| {
            let srv = TestServer::start(b, config());
            let issuer = key(KeyKind::Ed25519);
            srv.add_issuer("iss", Role::Attester, &issuer);
            let cose = cose_statement(&issuer, "iss", "s", "application/json", br#"{"a":1}"#);
            let dsse = dsse_statement(&issuer, "a.bin", "https://slsa.dev/provenance/v1");
            let cases = if matches!(b, Backend::Postgres(_)) {
                48
            } else {
                96
            };
            let mut runner = TestRunner::new(Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            });
            let mutation = (
                any::<bool>(),
                prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                any::<Option<prop::sample::Index>>(),
            );
            let strategy = prop_oneof![
                prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| (None, b)),
                mutation.prop_map(|m| (Some(m), Vec::new())),
            ];
            runner
                .run(&strategy, |(mutation, random)| {
                    let bodies: Vec<(bool, Vec<u8>)> = match mutation {
                        None => vec![(true, random.clone()), (false, random)],
                        Some((use_cose, edits, cut)) => {
                            let mut body = if use_cose { cose.clone() } else { dsse.clone() };
                            for (at, byte) in edits {
                                let i = at.index(body.len());
                                body[i] = byte;
                            }
                            if let Some(cut) = cut {
                                body.truncate(cut.index(body.len()));
                            }
                            vec![(use_cose, body)]
                        }
                    };
                    for (is_cose, body) in bodies {
                        let (path, ct) = if is_cose {
                            ("/entries", "application/cose")
                        } else {
                            ("/v1/entries", "application/json")
                        };
                        let r = post(&srv.url(path), Some(ct), &body, &[]);
                        prop_assert!(r.status < 500, "{path} answered {}: {}", r.status, r.text());
                        // A 429 would mean the rate limit, not admission, answered.
                        prop_assert!(r.status != 429, "{path} was rate-limited");
                    }
                    Ok(())
                })
                .unwrap();
            assert_eq!(get(&srv.url("/checkpoint"), &[]).status, 200);
        });
    }
}
