//! Hostile submissions: what they cost the server and what they get back. The CPU figures
//! are printed (run with `--nocapture`), never asserted: the machine's load decides them.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::*;
use sbomit_crypto::KeyKind;
use sbomit_server::ServerConfig;
use sbomit_store::backend::Scope;
use sbomit_store::policy::Role;

/// User plus system CPU time of this process (server and client threads alike), from
/// `/proc/self/stat`, in milliseconds (clock ticks of 10 ms).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of proc(5) (utime, stime): 11 and 12 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 10
}

/// The CPU milliseconds per request of posting `body` `times` times, each answered `status`.
fn cpu_per_request(srv: &TestServer, path: &str, ct: &str, body: &[u8], status: u16) -> f64 {
    let times = 20;
    let start = cpu_ms();
    for _ in 0..times {
        let r = post(&srv.url(path), Some(ct), body, &[]);
        assert_eq!(r.status, status, "{}", r.text());
    }
    (cpu_ms() - start) as f64 / f64::from(times)
}

/// A DSSE statement by `signer` (unregistered) carrying `extra` more signatures: real ECDSA
/// signatures over other bytes, so that each one tried is a full verification.
fn envelope_with_signatures(extra: usize) -> Vec<u8> {
    let signer = key(KeyKind::EcdsaP256);
    let mut env: Value =
        serde_json::from_slice(&dsse_statement(&signer, "a", "https://example/t")).unwrap();
    let other = key(KeyKind::EcdsaP256);
    let b64 = base64::engine::general_purpose::STANDARD;
    let junk = b64.encode(other.sign(b"something else").unwrap());
    let sigs = env["signatures"].as_array_mut().unwrap();
    for i in 0..extra {
        sigs.push(json!({"keyid": format!("{i:064x}"), "sig": junk}));
    }
    serde_json::to_vec(&env).unwrap()
}

#[test]
fn dsse_with_10000_signatures_is_refused_at_parse_with_400() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        // Registered keys are what an unknown signature is tried against.
        for i in 0..16 {
            srv.add_issuer(&format!("iss{i}"), Role::Attester, &key(KeyKind::EcdsaP256));
        }
        let size = srv.checkpoint_size();
        let body = envelope_with_signatures(9_999);
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &body,
            &[],
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json_problem_title(), "Malformed Statement");
        assert!(
            r.text()
                .contains("the envelope carries 10000 signatures, over the limit of 32"),
            "{}",
            r.text()
        );
        let refused = cpu_per_request(&srv, "/v1/entries", "application/json", &body, 400);
        // The most signatures still admitted to verification, none by a registered key.
        let most = envelope_with_signatures(31);
        let unknown = cpu_per_request(&srv, "/v1/entries", "application/json", &most, 403);
        eprintln!(
            "{} bytes, 10,000 signatures: {refused:.1} ms CPU per request; \
             32 signatures by unknown keys, 16 registered keys: {unknown:.1} ms",
            body.len()
        );
        assert_eq!(srv.checkpoint_size(), size);
    });
}

#[test]
fn deeply_nested_junk_gets_400() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let deep = 100_000;
        let json_junk = [vec![b'['; deep], vec![b']'; deep]].concat();
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &json_junk,
            &[],
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json_problem_title(), "Malformed Statement");
        // Nested inside a DSSE payload, which is parsed on its own.
        let b64 = base64::engine::general_purpose::STANDARD;
        let env = json!({
            "payloadType": "application/vnd.in-toto+json",
            "payload": b64.encode(&json_junk),
            "signatures": [{"keyid": "k", "sig": b64.encode([0u8; 64])}],
        });
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &serde_json::to_vec(&env).unwrap(),
            &[],
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json_problem_title(), "Malformed Statement");
        // CBOR: arrays of one element, nested.
        let cbor_junk = [vec![0x81u8; deep], vec![0x00]].concat();
        let r = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &cbor_junk,
            &[],
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.concise_problem().0, "Malformed Statement");
        let cpu = cpu_per_request(&srv, "/v1/entries", "application/json", &json_junk, 400);
        eprintln!("JSON nested {deep} deep: {cpu:.1} ms CPU per request");
    });
}

#[test]
fn registrations_without_a_token_get_the_smaller_body_limit() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                max_body_bytes: 256 << 10,
                max_anonymous_body_bytes: 64 << 10,
                ..config()
            },
        );
        let issuer = key(KeyKind::Ed25519);
        srv.add_issuer("iss", Role::Attester, &issuer);
        let big = cose_statement(&issuer, "iss", "s", "text/plain", &vec![b'a'; 100 << 10]);
        let r = post(&srv.url("/entries"), Some("application/cose"), &big, &[]);
        assert_eq!(r.status, 413);
        assert_eq!(r.concise_problem().0, "Payload Too Large");
        // A token that is not valid does not raise the limit.
        let bad = bearer("not-a-token");
        let r = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &big,
            &[("Authorization", &bad)],
        );
        assert_eq!(r.status, 413);
        let token = srv.store.create_token(Scope::Submit, "ci").unwrap();
        let good = bearer(&token);
        let r = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &big,
            &[("Authorization", &good), ("Accept", "application/cose")],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        // The JSON API alike.
        let dsse = crate::common::dsse_statement(&issuer, &"x".repeat(70 << 10), "https://e/t");
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &dsse,
            &[],
        );
        assert_eq!(r.status, 413);
        let r = post(
            &srv.url("/v1/entries"),
            Some("application/json"),
            &dsse,
            &[("Authorization", &good)],
        );
        assert!(r.status == 201 || r.status == 202, "{}", r.text());
    });
}
