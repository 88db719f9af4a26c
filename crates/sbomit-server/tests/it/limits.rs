//! Issue 12, finding 6: what one internet client can take from the Store, over real HTTP. The
//! event-stream caps, the request and header-read timeouts (slow clients are cut off), the
//! rate limit on requests without a valid token, random tokens refused without hammering the
//! database, and token expiry and revocation.
//!
//! The timeouts are checked against bounds a few seconds wider than configured: the test
//! asserts that a slow client is cut off, not how promptly the machine schedules it.
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;
use sbomit_server::ServerConfig;
use sbomit_store::backend::Scope;

/// Slack over a configured timeout before a test calls the client "not cut off".
const SLACK: Duration = Duration::from_secs(4);

fn connect(srv: &TestServer) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

/// What the server sent until now (without waiting long), and whether it closed.
fn read_available(s: &mut TcpStream, into: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Sends `head` at once, then `drip` one byte every `pause`, over and over, until the server
/// answers or closes or `give_up` passes. Returns what it answered, whether it closed, and
/// when that happened.
fn drip(
    srv: &TestServer,
    head: &[u8],
    drip: &[u8],
    pause: Duration,
    give_up: Duration,
) -> (Vec<u8>, bool, Duration) {
    let mut s = connect(srv);
    s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    s.write_all(head).unwrap();
    for b in drip.iter().cycle() {
        if start.elapsed() > give_up {
            return (answer, false, start.elapsed());
        }
        if s.write_all(&[*b]).is_err() {
            return (answer, true, start.elapsed());
        }
        let closed = read_available(&mut s, &mut answer);
        if closed || !answer.is_empty() {
            // Whatever else comes: the rest of the answer, then the close.
            let until = Instant::now() + Duration::from_secs(2);
            let mut closed = closed;
            while !closed && Instant::now() < until {
                closed = read_available(&mut s, &mut answer);
            }
            return (answer, closed, start.elapsed());
        }
        std::thread::sleep(pause);
    }
    unreachable!("cycle never ends")
}

fn status_of(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    text.lines()
        .next()?
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
}

/// An event stream opened over a raw connection: the status line and headers read; dropping
/// it closes the connection.
struct RawStream {
    conn: TcpStream,
    head: String,
}

fn open_stream(srv: &TestServer) -> RawStream {
    let mut conn = connect(srv);
    conn.write_all(
        b"GET /v1/events?heartbeatMs=100 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
    )
    .unwrap();
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && Instant::now() < until {
        if read_available(&mut conn, &mut got) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let end = text.find("\r\n\r\n").map_or(text.len(), |i| i + 4);
    RawStream {
        conn,
        head: text[..end].to_owned(),
    }
}

impl RawStream {
    fn status(&self) -> Option<u16> {
        status_of(self.head.as_bytes())
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// Whether heartbeats keep coming for `span`.
    fn alive_for(&mut self, span: Duration) -> bool {
        let until = Instant::now() + span;
        let mut seen = Vec::new();
        while Instant::now() < until {
            if read_available(&mut self.conn, &mut seen) {
                return false;
            }
        }
        String::from_utf8_lossy(&seen).contains(": heartbeat")
    }
}

#[test]
fn event_streams_past_the_cap_get_503_with_retry_after_and_a_closed_stream_frees_its_slot() {
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            max_event_streams: 2,
            ..config()
        },
    );
    let first = open_stream(&srv);
    let mut second = open_stream(&srv);
    assert_eq!((first.status(), second.status()), (Some(200), Some(200)));
    let r = get(&srv.url("/v1/events"), &[]);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json_problem_title(), "Service Unavailable");
    assert!(r.header("retry-after").is_some());
    // Other requests are not affected by the cap.
    assert_eq!(get(&srv.url("/v1/registration-policy"), &[]).status, 200);
    // Closing a stream frees its slot (the server notices when the connection goes).
    drop(first);
    let until = Instant::now() + Duration::from_secs(10);
    let third = loop {
        let s = open_stream(&srv);
        if s.status() == Some(200) || Instant::now() > until {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(third.status(), Some(200), "{}", third.head);
    assert!(second.alive_for(Duration::from_millis(300)));
}

#[test]
fn one_client_past_its_event_stream_cap_gets_429() {
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            max_event_streams: 10,
            max_event_streams_per_client: 2,
            ..config()
        },
    );
    let a = open_stream(&srv);
    let b = open_stream(&srv);
    assert_eq!((a.status(), b.status()), (Some(200), Some(200)));
    let c = open_stream(&srv);
    assert_eq!(c.status(), Some(429), "{}", c.head);
    assert!(c.header("retry-after").is_some());
    assert_eq!(
        c.header("content-type").as_deref(),
        Some("application/problem+json")
    );
}

#[test]
fn a_client_dripping_its_request_head_is_disconnected_within_the_header_timeout() {
    let timeout = Duration::from_millis(1000);
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            header_read_timeout_ms: 1000,
            ..config()
        },
    );
    // A head that never ends: one header line after another, a byte every 200 ms.
    let (answer, closed, after) = drip(
        &srv,
        b"GET /v1/registration-policy HTTP/1.1\r\nHost: x\r\n",
        b"X-Slow: yes\r\n",
        Duration::from_millis(200),
        timeout + SLACK + SLACK,
    );
    assert!(closed, "still connected after {after:?}");
    assert!(after < timeout + SLACK, "cut off only after {after:?}");
    assert!(status_of(&answer) != Some(200), "{answer:?}");
    // A head sent in pieces but whole within the timeout is answered.
    let mut s = connect(&srv);
    let request = b"GET /v1/registration-policy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for piece in request.chunks(12) {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut answer = Vec::new();
    let until = Instant::now() + SLACK;
    while !read_available(&mut s, &mut answer) && Instant::now() < until {}
    assert_eq!(
        status_of(&answer),
        Some(200),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn an_idle_connection_is_closed_after_the_header_timeout() {
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            header_read_timeout_ms: 500,
            ..config()
        },
    );
    let mut s = connect(&srv);
    let start = Instant::now();
    let mut got = Vec::new();
    while !read_available(&mut s, &mut got) {
        assert!(start.elapsed() < Duration::from_millis(500) + SLACK);
    }
    assert!(got.is_empty() || status_of(&got) != Some(200));
}

#[test]
fn a_body_dripped_slowly_gets_408_within_the_request_timeout() {
    let timeout = Duration::from_millis(1000);
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            request_timeout_ms: 1000,
            ..config()
        },
    );
    let (answer, closed, after) = drip(
        &srv,
        b"POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100000\r\n\r\n",
        b"{\"payload\": \"",
        Duration::from_millis(200),
        timeout + SLACK + SLACK,
    );
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), Some(408), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert!(closed, "the connection stays open after a 408: {text}");
    assert!(after < timeout + SLACK, "answered only after {after:?}");
    // The same on a SCRAPI route, as concise problem details.
    let (answer, _, _) = drip(
        &srv,
        b"POST /entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/cose\r\n\
          Content-Length: 100000\r\n\r\n",
        b"\xd2",
        Duration::from_millis(200),
        timeout + SLACK + SLACK,
    );
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), Some(408), "{text}");
    assert!(
        text.contains("application/concise-problem-details+cbor"),
        "{text}"
    );
    // A body sent whole in time is not cut off: refused for what it is, not for its pace.
    let r = post(
        &srv.url("/v1/entries"),
        Some("application/json"),
        b"{}",
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn event_streams_outlive_the_request_timeout() {
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            request_timeout_ms: 300,
            ..config()
        },
    );
    let mut stream = open_stream(&srv);
    assert_eq!(stream.status(), Some(200), "{}", stream.head);
    assert!(stream.alive_for(Duration::from_millis(1500)));
}

#[test]
fn anonymous_requests_past_the_burst_get_429_with_retry_after_and_valid_tokens_do_not() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                anonymous_rate_per_sec: 1,
                anonymous_burst: 5,
                ..config()
            },
        );
        let read = srv.store.create_token(Scope::Read, "reader").unwrap();
        let url = srv.url("/v1/registration-policy");
        for _ in 0..5 {
            assert_eq!(get(&url, &[]).status, 200);
        }
        let r = get(&url, &[]);
        assert_eq!(r.status, 429, "{}", r.text());
        assert_eq!(r.json_problem_title(), "Too Many Requests");
        let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&wait), "Retry-After: {wait}");
        // SCRAPI routes answer concise problem details.
        let r = get(&srv.url("/checkpoint"), &[]);
        assert_eq!(r.status, 429);
        assert_eq!(r.concise_problem().0, "Too Many Requests");
        // A token that is not valid does not lift the limit…
        let r = get(&url, &[("Authorization", "Bearer sbomit_made_up")]);
        assert_eq!(r.status, 429);
        // …a valid one does, whatever its scope.
        for _ in 0..20 {
            let r = get(&url, &[("Authorization", &bearer(&read))]);
            assert_eq!(r.status, 200, "{}", r.text());
        }
    });
}

#[test]
fn the_rate_limit_can_be_turned_off() {
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            anonymous_rate_per_sec: 0,
            anonymous_burst: 1,
            ..config()
        },
    );
    for _ in 0..50 {
        assert_eq!(get(&srv.url("/v1/registration-policy"), &[]).status, 200);
    }
}

#[test]
fn a_flood_of_random_tokens_gets_401_and_reads_the_token_table_a_bounded_number_of_times() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                read_public: false,
                anonymous_rate_per_sec: 0,
                ..config()
            },
        );
        let url = srv.url("/v1/registration-policy");
        let tokens_before = srv.store.tokens().unwrap();
        let loads_before = srv.store.token_loads();
        let start = Instant::now();
        let n = 300;
        for i in 0..n {
            let token = format!("sbomit_{:064x}", u128::MAX - i);
            let r = get(&url, &[("Authorization", &bearer(&token))]);
            assert_eq!(r.status, 401, "{}", r.text());
            assert_eq!(r.json_problem_title(), "Unauthorized");
        }
        let elapsed = start.elapsed();
        let loads = srv.store.token_loads() - loads_before;
        // At most one read per miss interval (250 ms), and one when the snapshot expires.
        let bound = elapsed.as_millis() as u64 / 250 + 2;
        eprintln!("{n} random tokens in {elapsed:?}: {loads} reads of the token table");
        assert!(loads <= bound, "{loads} reads in {elapsed:?}");
        assert!(loads < n as u64 / 4, "{loads} reads for {n} tokens");
        // Nothing a client sent was kept.
        assert_eq!(srv.store.tokens().unwrap(), tokens_before);
        // The admin token still works.
        let r = get(&url, &[("Authorization", &bearer(&srv.admin_token))]);
        assert_eq!(r.status, 200);
    });
}

#[test]
fn an_expired_token_gets_401_and_one_not_yet_expired_works() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                read_public: false,
                ..config()
            },
        );
        let now = chrono::Utc::now().timestamp_millis();
        let expired = srv
            .store
            .create_token_expiring(Scope::Read, "old", Some(now - 1))
            .unwrap();
        let current = srv
            .store
            .create_token_expiring(Scope::Read, "new", Some(now + 3_600_000))
            .unwrap();
        let url = srv.url("/v1/registration-policy");
        let r = get(&url, &[("Authorization", &bearer(&expired))]);
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(r.text().contains("expired"), "{}", r.text());
        let r = get(&url, &[("Authorization", &bearer(&current))]);
        assert_eq!(r.status, 200, "{}", r.text());
        // An expired admin token does not administer either.
        let admin = srv
            .store
            .create_token_expiring(Scope::Admin, "old admin", Some(now - 1))
            .unwrap();
        let r = get(
            &srv.url("/v1/admin/issuers"),
            &[("Authorization", &bearer(&admin))],
        );
        assert_eq!(r.status, 401);
    });
}

#[test]
fn tokens_made_over_the_admin_api_can_expire() {
    let srv = TestServer::start(
        &Backend::Sqlite,
        ServerConfig {
            read_public: false,
            ..config()
        },
    );
    let url = srv.url("/v1/admin/tokens");
    let admin = bearer(&srv.admin_token);
    let make = |body: &str| {
        post(
            &url,
            Some("application/json"),
            body.as_bytes(),
            &[("Authorization", &admin)],
        )
    };
    let r = make(r#"{"scope":"read","expiresAt":"2000-01-01T00:00:00Z"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = make(r#"{"scope":"read","expiresAt":"soon"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = make(r#"{"scope":"read","label":"q","expiresAt":"2099-01-01T00:00:00Z"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["expiresAt"], "2099-01-01T00:00:00.000Z");
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let listed = srv.store.tokens().unwrap();
    let q = listed.iter().find(|t| t.label == "q").unwrap();
    assert_eq!(q.expires_ms, Some(4_070_908_800_000));
    let r = get(
        &srv.url("/v1/registration-policy"),
        &[("Authorization", &bearer(&token))],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_revoked_token_gets_401_at_once() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            ServerConfig {
                read_public: false,
                ..config()
            },
        );
        let token = srv.store.create_token(Scope::Submit, "ci").unwrap();
        let other = srv.store.create_token(Scope::Read, "dashboard").unwrap();
        let url = srv.url("/v1/registration-policy");
        let auth = bearer(&token);
        assert_eq!(get(&url, &[("Authorization", &auth)]).status, 200);
        let id = srv
            .store
            .tokens()
            .unwrap()
            .into_iter()
            .find(|t| t.label == "ci")
            .unwrap()
            .id;
        let revoked = srv.store.revoke_token(&id).unwrap().unwrap();
        assert!(revoked.revoked_ms.is_some());
        // The very next request, no waiting.
        let r = get(&url, &[("Authorization", &auth)]);
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(r.text().contains("revoked"), "{}", r.text());
        // Revoking one token leaves the others alone; revoking twice changes nothing.
        assert_eq!(get(&url, &[("Authorization", &bearer(&other))]).status, 200);
        assert_eq!(srv.store.revoke_token(&id).unwrap(), None);
    });
}

#[test]
fn a_token_revoked_by_another_process_is_refused_within_the_token_ttl() {
    // Another process: another store on the same database (as `sbomit store token revoke`).
    let Some(base) = backends().into_iter().find_map(|b| match b {
        Backend::Postgres(url) => Some(url),
        Backend::Sqlite => None,
    }) else {
        eprintln!("skipped: SBOMIT_TEST_POSTGRES is not set");
        return;
    };
    let srv = TestServer::start(
        &Backend::Postgres(base),
        ServerConfig {
            read_public: false,
            ..config()
        },
    );
    let other = srv.second(ServerConfig {
        read_public: false,
        ..config()
    });
    let token = srv.store.create_token(Scope::Read, "r").unwrap();
    let auth = bearer(&token);
    let url = other.url("/v1/registration-policy");
    assert_eq!(get(&url, &[("Authorization", &auth)]).status, 200);
    let id = srv
        .store
        .tokens()
        .unwrap()
        .into_iter()
        .find(|t| t.label == "r")
        .unwrap()
        .id;
    srv.store.revoke_token(&id).unwrap().unwrap();
    let until = Instant::now() + sbomit_store::tokens::TOKEN_TTL + SLACK;
    loop {
        let status = get(&url, &[("Authorization", &auth)]).status;
        if status == 401 {
            break;
        }
        assert!(Instant::now() < until, "still {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(other);
}
