//! Issue 5, live events: `GET /v1/events` over real HTTP. A client subscribed before a
//! registration receives its event; a client that reconnects with `Last-Event-ID` gets
//! exactly the entries it missed; filters by subject, purl and type; heartbeats; and, on
//! PostgreSQL, two servers on one schema deliver what the other registered.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_store::policy::Role;

const CI: &str = "https://ci.example";
const SLSA: &str = "https://slsa.dev/provenance/v1";
const CDX: &str = "https://cyclonedx.org/bom";
const SENTINEL_TYPE: &str = "https://example.com/sentinel";
/// How long a test waits for one event before it fails.
const EVENT_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug)]
struct Event {
    id: u64,
    event: String,
    data: Value,
}

/// A Server-Sent Events client reading the stream line by line. Streams are opened with a
/// short heartbeat, so a read never blocks for long and a deadline can be kept.
struct Sse {
    reader: BufReader<ureq::BodyReader<'static>>,
    heartbeats: usize,
}

impl Sse {
    fn open(srv: &TestServer, query: &str, last_event_id: Option<&str>) -> Sse {
        let sep = if query.is_empty() { "" } else { "&" };
        let url = srv.url(&format!("/v1/events?heartbeatMs=100{sep}{query}"));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = agent.get(&url).header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.call().unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        Sse {
            reader: BufReader::new(resp.into_body().into_reader()),
            heartbeats: 0,
        }
    }

    /// The next event, or `None` when `wait` passes without one.
    fn next_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = Instant::now() + wait;
        let (mut id, mut event, mut data) = (None, String::new(), String::new());
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "the server ended the stream");
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                if !data.is_empty() {
                    return Some(Event {
                        id: id.expect("every event has an id"),
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
                continue;
            }
            if let Some(comment) = l.strip_prefix(':') {
                if comment.trim() == "heartbeat" {
                    self.heartbeats += 1;
                }
                continue;
            }
            let (field, value) = l.split_once(':').unwrap_or((l, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = Some(value.parse().unwrap()),
                "event" => event = value.to_owned(),
                "data" => data.push_str(value),
                _ => {}
            }
        }
        None
    }

    fn next(&mut self) -> Event {
        self.next_within(EVENT_WAIT)
            .unwrap_or_else(|| panic!("no event within {EVENT_WAIT:?}"))
    }

    /// Every event up to and including the one with index `last`.
    fn until(&mut self, last: u64) -> Vec<u64> {
        let mut seen = Vec::new();
        loop {
            let e = self.next();
            seen.push(e.id);
            if e.id >= last {
                return seen;
            }
        }
    }
}

fn register(srv: &TestServer, bytes: &[u8]) -> u64 {
    let r = post(
        &srv.url("/v1/entries"),
        Some("application/json"),
        bytes,
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["index"].as_u64().unwrap()
}

fn issuer(srv: &TestServer) -> PrivateKey {
    let k = key(KeyKind::Ed25519);
    srv.add_issuer(CI, Role::Attester, &k);
    k
}

#[test]
fn a_client_connected_before_a_registration_receives_its_event() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let k = issuer(&srv);
        let mut sse = Sse::open(&srv, "", None);
        let index = register(&srv, &dsse_statement(&k, "app.tar.gz", SLSA));
        let e = sse.next();
        assert_eq!(e.id, index);
        assert_eq!(e.event, "entry");
        assert_eq!(e.data["index"], index);
        assert_eq!(e.data["entryId"], format!("1.{index}"));
        assert_eq!(e.data["type"], SLSA);
        assert_eq!(e.data["iss"], CI);
        assert_eq!(e.data["sub"], "app.tar.gz");
        assert_eq!(e.data["subjects"][0]["name"], "app.tar.gz");
        assert_eq!(
            e.data["subjects"][0]["digest"]["sha256"],
            hex::encode(sbomit_intoto::digest::Sha256::digest(b"app.tar.gz").as_bytes())
        );
    });
}

#[test]
fn a_client_that_reconnects_with_last_event_id_gets_exactly_the_missed_events() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let k = issuer(&srv);
        let mut first = Sse::open(&srv, "", None);
        let before: Vec<u64> = (0..3)
            .map(|i| register(&srv, &dsse_statement(&k, &format!("a{i}"), SLSA)))
            .collect();
        assert_eq!(first.until(before[2]), before);
        drop(first);

        let missed: Vec<u64> = (0..5)
            .map(|i| register(&srv, &dsse_statement(&k, &format!("b{i}"), SLSA)))
            .collect();
        let last_seen = before[2].to_string();
        let mut again = Sse::open(&srv, "", Some(&last_seen));
        let live: Vec<u64> = (0..2)
            .map(|i| register(&srv, &dsse_statement(&k, &format!("c{i}"), SLSA)))
            .collect();
        let expected: Vec<u64> = missed.iter().chain(&live).copied().collect();
        assert_eq!(again.until(live[1]), expected, "a gap or a duplicate");
        // Nothing more: no duplicate after the last one.
        assert!(again.next_within(Duration::from_millis(500)).is_none());

        // `?after=N` does the same for clients that cannot set headers, and the header
        // (which EventSource sends on its own reconnections) wins over it; `1.N` is taken.
        let mut by_query = Sse::open(&srv, &format!("after={}", missed[2]), None);
        assert_eq!(by_query.until(live[1]), expected[3..].to_vec());
        let header = format!("1.{}", missed[3]);
        let mut both = Sse::open(&srv, "after=0", Some(&header));
        assert_eq!(both.until(live[1]), expected[4..].to_vec());
        // `from=0`: every entry from the very first (0 is the issuer's logged registration).
        let mut everything = Sse::open(&srv, "from=0", None);
        assert_eq!(everything.until(live[1]), (0..=live[1]).collect::<Vec<_>>());
    });
}

#[test]
fn events_are_filtered_by_subject_purl_and_type() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let k = issuer(&srv);
        let sentinel_name = "pkg:npm/sentinel@1";
        let other_digest = hex::encode(sbomit_intoto::digest::Sha256::digest(b"other").as_bytes());
        let mut by_name = Sse::open(
            &srv,
            &format!("subject=app.tar.gz&subject={sentinel_name}"),
            None,
        );
        let mut by_digest = Sse::open(
            &srv,
            &format!("subject=sha256:{other_digest}&subject={sentinel_name}"),
            None,
        );
        let mut by_purl = Sse::open(&srv, "purl=pkg:npm/lodash&purl=pkg:npm/sentinel", None);
        let mut by_exact_purl = Sse::open(
            &srv,
            "purl=pkg:npm/lodash@4.17.21&purl=pkg:npm/sentinel",
            None,
        );
        let mut by_type = Sse::open(
            &srv,
            &format!("type={SLSA}&type={}", SENTINEL_TYPE.replace(':', "%3A")),
            None,
        );
        let app = register(&srv, &dsse_statement(&k, "app.tar.gz", SLSA));
        let lodash21 = register(&srv, &dsse_statement(&k, "pkg:npm/lodash@4.17.21", CDX));
        let lodash20 = register(&srv, &dsse_statement(&k, "pkg:npm/lodash@4.17.20", SLSA));
        let other = register(
            &srv,
            &dsse_statement(&k, "other", "https://in-toto.io/attestation/vulns/v0.1"),
        );
        // A COSE statement matches by its `sub`.
        let vendor = key(KeyKind::EcdsaP256);
        srv.add_issuer("https://vendor.example", Role::Attester, &vendor);
        let r = post(
            &srv.url("/entries"),
            Some("application/cose"),
            &cose_statement(
                &vendor,
                "https://vendor.example",
                "pkg:npm/lodash@5.0.0",
                "application/json",
                b"{}",
            ),
            &[("Accept", "application/cose")],
        );
        assert_eq!(r.status, 201);
        let cose: u64 = r
            .header("location")
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let sentinel = register(&srv, &dsse_statement(&k, sentinel_name, SENTINEL_TYPE));
        assert_eq!(by_name.until(sentinel), vec![app, sentinel]);
        assert_eq!(by_digest.until(sentinel), vec![other, sentinel]);
        assert_eq!(
            by_purl.until(sentinel),
            vec![lodash21, lodash20, cose, sentinel]
        );
        assert_eq!(by_exact_purl.until(sentinel), vec![lodash21, sentinel]);
        assert_eq!(by_type.until(sentinel), vec![app, lodash20, sentinel]);
    });
}

#[test]
fn heartbeats_arrive_while_the_log_is_idle() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let mut sse = Sse::open(&srv, "", None);
        assert!(sse.next_within(Duration::from_millis(1000)).is_none());
        assert!(sse.heartbeats >= 3, "{} heartbeats", sse.heartbeats);
    });
}

#[test]
fn bad_event_stream_requests_are_problem_details() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            sbomit_server::ServerConfig {
                read_public: false,
                ..config()
            },
        );
        let auth = bearer(&srv.admin_token);
        for (path, id) in [
            ("/v1/events", Some("yesterday")),
            ("/v1/events?after=x", None),
            ("/v1/events?subjct=a", None),
        ] {
            let mut h = vec![("Authorization", auth.as_str())];
            if let Some(id) = id {
                h.push(("Last-Event-ID", id));
            }
            let r = get(&srv.url(path), &h);
            assert_eq!(r.status, 400, "{path}: {}", r.text());
            assert_eq!(r.json_problem_title(), "Bad Request");
        }
        // read_public = false: the stream needs a read token like every GET.
        let r = get(&srv.url("/v1/events"), &[]);
        assert_eq!(r.status, 401);
        assert_eq!(r.json_problem_title(), "Unauthorized");
    });
}

#[test]
fn two_servers_on_one_postgresql_schema_deliver_each_others_entries() {
    for b in backends() {
        if !matches!(b, Backend::Postgres(_)) {
            continue;
        }
        let one = TestServer::start(&b, config());
        // Declared after `one`, so dropped before it (it shares one's schema).
        let two = one.second(config());
        let k = issuer(&one);
        let mut on_two = Sse::open(&two, "", None);
        let mut on_one = Sse::open(&one, "", None);
        let first: Vec<u64> = (0..3)
            .map(|i| register(&one, &dsse_statement(&k, &format!("a{i}"), SLSA)))
            .collect();
        assert_eq!(
            on_two.until(first[2]),
            first,
            "registered on one, read on two"
        );
        let from_two = register(&two, &dsse_statement(&k, "from-two", SLSA));
        assert_eq!(
            on_one.until(from_two),
            first.iter().copied().chain([from_two]).collect::<Vec<_>>()
        );
        assert_eq!(on_two.next().id, from_two);
        drop(on_two);

        // Disconnected from two; entries registered on one; resumed on two.
        let missed: Vec<u64> = (0..4)
            .map(|i| register(&one, &dsse_statement(&k, &format!("b{i}"), SLSA)))
            .collect();
        let mut resumed = Sse::open(&two, "", Some(&from_two.to_string()));
        assert_eq!(resumed.until(missed[3]), missed);
        assert!(resumed.next_within(Duration::from_millis(500)).is_none());
    }
}

#[test]
fn a_server_with_subscribers_still_shuts_down() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let mut sse = Sse::open(&srv, "", None);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(srv);
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("graceful shutdown waited for the event stream");
        // The stream ended cleanly, so the client knows to reconnect.
        let mut rest = String::new();
        let ended = loop {
            rest.clear();
            match sse.reader.read_line(&mut rest) {
                Ok(0) | Err(_) => break true,
                Ok(_) => continue,
            }
        };
        assert!(ended);
    });
}

#[test]
fn many_subscribers_each_receive_every_entry_once_under_concurrent_registrations() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let k = issuer(&srv);
        let early = register(&srv, &dsse_statement(&k, "early", SLSA));
        // Live subscribers, and subscribers resuming from the past (they catch up from the
        // database while the live entries are broadcast).
        let mut streams: Vec<Sse> = (0..6).map(|_| Sse::open(&srv, "", None)).collect();
        let resume = (early - 1).to_string();
        streams.extend((0..4).map(|_| Sse::open(&srv, "", Some(&resume))));
        let registered: Vec<u64> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (srv, k) = (&srv, &k);
                    s.spawn(move || {
                        (0..12)
                            .map(|i| register(srv, &dsse_statement(k, &format!("w{w}-{i}"), SLSA)))
                            .collect::<Vec<u64>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let mut all = registered.clone();
        all.sort_unstable();
        let last = *all.last().unwrap();
        for (i, sse) in streams.iter_mut().enumerate() {
            let expected: Vec<u64> = if i < 6 {
                all.clone()
            } else {
                std::iter::once(early).chain(all.iter().copied()).collect()
            };
            assert_eq!(sse.until(last), expected, "stream {i}");
            assert!(sse.next_within(Duration::from_millis(200)).is_none());
        }
    });
}
