//! Issue 12, finding 3: the bearer token goes only to the origin the client was made with.
//! Two real HTTP servers on 127.0.0.1: the store, whose answer points elsewhere, and the
//! other one, which records the `Authorization` header it receives.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sbomit_client::Client;

use crate::fake::{reply, Fake};

const TOKEN: &str = "s3cret-token";

fn client(base: &str) -> Client {
    Client::new(base)
        .unwrap()
        .with_token(Some(TOKEN))
        .with_registration_polling(Duration::from_secs(10), Duration::from_millis(10))
}

#[test]
fn a_cose_registration_redirected_to_another_origin_does_not_carry_the_token() {
    let other = Fake::start(|_| {
        reply(
            200,
            &[
                ("Location", "/entries/1.7"),
                ("Content-Type", "application/cose"),
            ],
            b"receipt",
        )
    });
    let elsewhere = format!("{}/operations/{}", other.base, "ab".repeat(32));
    let store = Fake::start(move |_| reply(303, &[("Location", &elsewhere)], b""));

    let registered = client(&store.base).register_cose(b"statement").unwrap();
    assert_eq!(registered.entry_id, "1.7");
    assert_eq!(registered.receipt, b"receipt");

    let to_store = store.requests();
    assert_eq!(to_store.len(), 1);
    assert_eq!(
        to_store[0].header("authorization"),
        Some("Bearer s3cret-token")
    );
    let to_other = other.requests();
    assert_eq!(to_other.len(), 1, "the Location was followed");
    assert_eq!(to_other[0].method, "GET");
    assert_eq!(
        to_other[0].header("authorization"),
        None,
        "the token leaked"
    );
}

#[test]
fn a_dsse_registration_polled_at_another_origin_does_not_carry_the_token() {
    let other = Fake::start(|_| {
        reply(
            200,
            &[("Content-Type", "application/json")],
            br#"{"operationId":"x","status":"succeeded","entryId":"1.3","index":3}"#,
        )
    });
    let elsewhere = format!("{}/v1/operations/{}", other.base, "cd".repeat(32));
    let store = Fake::start(move |_| {
        reply(
            202,
            &[
                ("Location", &elsewhere),
                ("Content-Type", "application/json"),
            ],
            br#"{"operationId":"x","status":"running"}"#,
        )
    });

    let registered = client(&store.base).register_dsse(b"{}").unwrap();
    assert_eq!((registered.entry_id.as_str(), registered.index), ("1.3", 3));

    assert_eq!(
        store.requests()[0].header("authorization"),
        Some("Bearer s3cret-token")
    );
    let to_other = other.requests();
    assert!(!to_other.is_empty(), "the operation was polled");
    assert!(
        to_other.iter().all(|r| r.header("authorization").is_none()),
        "the token leaked: {to_other:?}"
    );
}

#[test]
fn a_location_on_the_same_origin_keeps_the_token() {
    let store = Fake::start(|r| match r.method.as_str() {
        "POST" => reply(303, &[("Location", "/operations/00")], b""),
        _ => reply(200, &[("Location", "/entries/1.1")], b"receipt"),
    });
    client(&store.base).register_cose(b"statement").unwrap();
    let seen = store.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/operations/00");
    assert!(seen
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer s3cret-token")));
}

#[test]
fn the_same_host_on_another_port_is_another_origin() {
    // Both fakes are on 127.0.0.1: only the port differs.
    let other = Fake::start(|_| reply(200, &[("Location", "/entries/1.0")], b"r"));
    let elsewhere = format!("{}/operations/00", other.base);
    let store = Fake::start(move |_| reply(303, &[("Location", &elsewhere)], b""));
    client(&store.base).register_cose(b"s").unwrap();
    assert_eq!(other.requests()[0].header("authorization"), None);
}

#[test]
fn error_answers_carry_the_problem_details() {
    let store = Fake::start(|_| {
        reply(
            400,
            &[("Content-Type", "application/problem+json")],
            br#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"depth must be 1-64"}"#,
        )
    });
    let err = client(&store.base)
        .checkpoint()
        .expect_err("a 400 is an error");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.title(), Some("Bad Request"));
    assert_eq!(err.to_string(), "HTTP 400: depth must be 1-64");
}

#[test]
fn https_uses_the_aws_lc_rs_provider_without_a_process_default() {
    // A plain-HTTP listener: the TLS handshake fails, as a transport error. Without a provider
    // of its own, ureq (built without ring) would panic here instead.
    let store = Fake::start(|_| reply(200, &[], b""));
    let https = store.base.replacen("http://", "https://", 1);
    let err = Client::new(&https).unwrap().checkpoint().unwrap_err();
    assert!(
        matches!(err, sbomit_client::ClientError::Transport { .. }),
        "{err:?}"
    );
}
