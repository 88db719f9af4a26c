//! `GET /v1/events`: the log as Server-Sent Events, one `entry` event per registered entry,
//! keyed by its log index.
//!
//! Each process tails the log itself: one reader per served router (the [`Hub`]) reads
//! committed entries in index order (`Store::entries_from`) as the committed tree size
//! (`Store::watch_size`) grows, which follows this process's commits at once and other
//! processes' commits (PostgreSQL) within the store's poll interval, and broadcasts them to
//! the streams. So any `serve` process delivers every entry, whichever process registered
//! it. A stream catches up from the database from its resume point, then follows the
//! broadcast, skipping what it already sent and reading any gap from the database; its
//! cursor only ever moves to the index after the entry it has just handled, so a client
//! resuming with `Last-Event-ID: N` gets every entry after N exactly once.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http_body_util::channel::{Channel, Sender};
use http_body_util::BodyExt;
use serde_json::{json, Value};

use sbomit_store::backend::EntryRecord;
use sbomit_store::{EntryId, Store};

use crate::graph_api::{millis_to_rfc3339, Params};
use crate::problem::{ApiError, JsonProblem};
use crate::state::AppState;

/// Idle time after which a comment line keeps proxies and clients from timing out.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Bounds of `heartbeatMs` (tests and impatient proxies want it short).
const MIN_HEARTBEAT_MS: u64 = 50;
const MAX_HEARTBEAT_MS: u64 = 300_000;
/// Entries read per database round trip while catching up.
const PAGE: usize = 256;
/// Frames buffered towards a slow client before the stream waits for it.
const BUFFER: usize = 64;
/// How long a failing read waits before it is tried again.
const RETRY: Duration = Duration::from_millis(500);

/// Broadcast capacity: entries a stream may fall behind the hub before it reads the
/// difference from the database instead.
const HUB_CAPACITY: usize = 4096;

/// One reader of the log per served router: it follows the committed size and broadcasts
/// each new entry to every stream, so a thousand subscribers cost one database read per
/// batch rather than a thousand. Streams still read the database themselves to catch up (a
/// resume point in the past) and to fill any gap (a stream that fell more than
/// [`HUB_CAPACITY`] behind). It also tells the streams that the server is shutting down:
/// graceful shutdown waits for every connection to end, and an event stream never ends on
/// its own.
#[derive(Clone)]
pub struct Hub {
    closing: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    entries: tokio::sync::broadcast::Sender<std::sync::Arc<EntryRecord>>,
}

impl Hub {
    /// Starts the hub's reader on the current runtime.
    pub fn start(store: Store) -> Hub {
        Self::with_capacity(store, HUB_CAPACITY)
    }

    fn with_capacity(store: Store, capacity: usize) -> Hub {
        let hub = Hub {
            closing: std::sync::Arc::new(tokio::sync::watch::channel(false).0),
            entries: tokio::sync::broadcast::channel(capacity).0,
        };
        tokio::spawn(follow(
            store,
            hub.entries.clone(),
            Some(hub.closing.subscribe()),
        ));
        hub
    }

    /// Ends every stream (they end at their next wait; a client resumes elsewhere) and the
    /// hub's reader.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// The hub's reader: broadcasts every entry from the log's size at start onwards, in order.
async fn follow(
    store: Store,
    entries: tokio::sync::broadcast::Sender<std::sync::Arc<EntryRecord>>,
    mut closing: Option<tokio::sync::watch::Receiver<bool>>,
) {
    let mut sizes = store.watch_size();
    let start = loop {
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.checkpoint()).await {
            Ok(Ok(c)) => break c.map_or(0, |c| c.size),
            Ok(Err(e)) => eprintln!("sbomit-server: events: reading the log's size: {e}"),
            Err(e) => eprintln!("sbomit-server: events: reading the log's size: {e}"),
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            () = closed(&mut closing) => return,
        }
    };
    let mut next = start;
    loop {
        let size = *sizes.borrow_and_update();
        while next < size {
            let page = match read_page(&store, next).await {
                Ok(page) => page,
                Err(e) => {
                    eprintln!("sbomit-server: events: reading entries from {next}: {e}");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => continue,
                        () = closed(&mut closing) => return,
                    }
                }
            };
            let before = next;
            for e in page {
                if e.index != next {
                    break;
                }
                next += 1;
                // No subscriber is not an error: the entry is in the log for later ones.
                let _ = entries.send(std::sync::Arc::new(e));
            }
            if next == before {
                break;
            }
        }
        tokio::select! {
            changed = sizes.changed() => if changed.is_err() { return },
            () = closed(&mut closing) => return,
        }
    }
}

/// Resolves when the server closes (never, for a router served without a [`Hub`]).
async fn closed(rx: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match rx {
        // A dropped sender means the server is gone too.
        Some(rx) => {
            let _ = rx.wait_for(|closing| *closing).await;
        }
        None => std::future::pending().await,
    }
}

const EVENT_PARAMS: &[&str] = &["subject", "purl", "type", "after", "from", "heartbeatMs"];

/// Which entries a stream delivers. Within one kind of filter any value matches; across
/// kinds all must.
#[derive(Clone, Debug, Default)]
struct Filter {
    subjects: Vec<String>,
    purls: Vec<String>,
    types: Vec<String>,
}

/// The version of a purl follows the last `@` of its name part (before `?` and `#`).
fn purl_without_version(purl: &str) -> Option<&str> {
    let end = purl.find(['?', '#']).unwrap_or(purl.len());
    let name_part = &purl[..end];
    let slash = name_part.rfind('/').map_or(0, |i| i + 1);
    name_part[slash..]
        .rfind('@')
        .map(|at| &name_part[..slash + at])
}

fn purl_matches(filter: &str, candidate: &str) -> bool {
    if candidate == filter {
        return true;
    }
    // A filter without a version matches every version of the package.
    purl_without_version(filter).is_none()
        && purl_without_version(candidate).is_some_and(|base| base == filter)
}

impl Filter {
    fn matches(&self, e: &EntryRecord, subjects: &Value) -> bool {
        if !self.types.is_empty() && !self.types.contains(&e.statement_type) {
            return false;
        }
        let items = subjects.as_array().map(Vec::as_slice).unwrap_or_default();
        let names = || {
            items
                .iter()
                .filter_map(|s| s.get("name").and_then(Value::as_str))
                .chain(std::iter::once(e.sub.as_str()))
        };
        if !self.subjects.is_empty() {
            let hit = self.subjects.iter().any(|want| {
                if let Some(hex) = want.strip_prefix("sha256:") {
                    let hex = hex.to_ascii_lowercase();
                    if items.iter().any(|s| {
                        s.pointer("/digest/sha256")
                            .and_then(Value::as_str)
                            .is_some_and(|d| d.eq_ignore_ascii_case(&hex))
                    }) {
                        return true;
                    }
                }
                names().any(|n| n == want)
            });
            if !hit {
                return false;
            }
        }
        if !self.purls.is_empty()
            && !self
                .purls
                .iter()
                .any(|want| names().any(|n| purl_matches(want, n)))
        {
            return false;
        }
        true
    }
}

fn parse_index(what: &str, v: &str) -> Result<u64, ApiError> {
    let v = v.trim();
    let parsed = if v.contains('.') {
        v.parse::<EntryId>().ok().map(|id| id.0)
    } else {
        v.parse::<u64>().ok()
    };
    parsed.ok_or_else(|| ApiError::bad_request(format!("{what} {v:?} is not a log index")))
}

/// One `entry` event.
fn event(e: &EntryRecord, subjects: Value) -> Bytes {
    let data = json!({
        "index": e.index,
        "entryId": EntryId(e.index).to_string(),
        "type": e.statement_type,
        "iss": e.iss,
        "sub": e.sub,
        "subjects": subjects,
        "registeredAt": millis_to_rfc3339(e.registered_ms),
    });
    // serde_json writes no raw newlines, so the data is one `data:` line.
    Bytes::from(format!("id: {}\nevent: entry\ndata: {data}\n\n", e.index))
}

/// `GET /v1/events[?subject=…][&purl=…][&type=…][&after=N|&from=N][&heartbeatMs=M]`,
/// resumable with `Last-Event-ID: N` (which wins over `after` and `from`). Without any, the
/// stream starts at the entries registered after it was opened. Streams are capped in all and
/// per client (`max_event_streams`, `max_event_streams_per_client`).
pub async fn get_events(
    State(state): State<AppState>,
    hub: Option<Extension<Hub>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, JsonProblem> {
    state.require_read(&headers).await?;
    let p = Params::parse(raw.as_deref(), EVENT_PARAMS)?;
    let filter = Filter {
        subjects: p.all("subject").map(str::to_owned).collect(),
        purls: p.all("purl").map(str::to_owned).collect(),
        types: p.all("type").map(str::to_owned).collect(),
    };
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request("Last-Event-ID is not text"))
                .and_then(|v| parse_index("Last-Event-ID", v))
        })
        .transpose()?;
    // The first entry to deliver: after the Last-Event-ID, else after `after`, else `from`
    // (which can also say "from the very first entry").
    let first = match last_event_id {
        Some(n) => Some(n.saturating_add(1)),
        None => match p.one("after")? {
            Some(v) => Some(parse_index("after", v)?.saturating_add(1)),
            None => p.one("from")?.map(|v| parse_index("from", v)).transpose()?,
        },
    };
    let heartbeat = match p.number::<u64>("heartbeatMs")? {
        Some(ms) => Duration::from_millis(ms.clamp(MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS)),
        None => DEFAULT_HEARTBEAT,
    };
    let client = peer.map(|Extension(ConnectInfo(a))| crate::limits::client_key(a.ip()));
    // Held by the response body: freed when the connection ends (the server notices a client
    // gone at the latest when the next heartbeat or event fails to go out).
    let slot = state.streams.acquire(client)?;
    let sizes = state.store.watch_size();
    // Fixed before the answer's head is sent: a client that has the head is subscribed.
    // Without a resume point the stream starts at the log's committed size, read from the
    // database: the watch may not have caught up with a commit of a moment ago, and an
    // entry registered before the client subscribed is not news to it.
    let next = match first {
        Some(n) => n,
        None => state
            .blocking("opening an event stream", |s| s.checkpoint())
            .await?
            .map_or(0, |c| c.size),
    };
    let (tx, body) = Channel::<Bytes>::new(BUFFER);
    // Subscribed to the hub before catching up, so nothing falls between the two.
    let feed = Feed {
        store: state.store.clone(),
        sizes,
        closing: hub.as_ref().map(|Extension(h)| h.closing.subscribe()),
        live: hub.as_ref().map(|Extension(h)| h.entries.subscribe()),
        tx,
        filter,
        heartbeat,
    };
    tokio::spawn(feed.run(next));
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // nginx would otherwise buffer the stream.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::new(body.map_frame(move |frame| {
            let _held = &slot;
            frame
        })),
    )
        .into_response())
}

/// Reads entries `next..` in pages on the blocking pool.
async fn read_page(store: &Store, next: u64) -> Result<Vec<EntryRecord>, String> {
    let s = store.clone();
    match tokio::task::spawn_blocking(move || s.entries_from(next, PAGE)).await {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// What one stream needs.
struct Feed {
    store: Store,
    sizes: tokio::sync::watch::Receiver<u64>,
    closing: Option<tokio::sync::watch::Receiver<bool>>,
    /// The hub's broadcast, when the router is served with one; else the stream tails the
    /// log itself.
    live: Option<tokio::sync::broadcast::Receiver<std::sync::Arc<EntryRecord>>>,
    tx: Sender<Bytes>,
    filter: Filter,
    heartbeat: Duration,
}

impl Feed {
    /// Feeds one client from index `next` until it goes away or the server closes.
    async fn run(mut self, next: u64) {
        // The first frame tells the client how long to wait before reconnecting, sets its
        // last event id to the entry before the stream's start (an EventSource that
        // reconnects before any event resumes without a gap) and flushes the head through
        // any proxy.
        let hello = match next.checked_sub(1) {
            Some(before) => format!("retry: 1000\nid: {before}\n: next {next}\n\n"),
            None => format!("retry: 1000\n: next {next}\n\n"),
        };
        if self.tx.send_data(Bytes::from(hello)).await.is_err() {
            return;
        }
        let mut next = next;
        if let Some(live) = self.live.take() {
            return self.run_live(next, live).await;
        }
        loop {
            next = match self.catch_up(next).await {
                Some(n) => n,
                None => return,
            };
            tokio::select! {
                changed = tokio::time::timeout(self.heartbeat, self.sizes.changed()) => {
                    match changed {
                        Ok(Ok(())) => {}
                        // The store is closing: end the stream; the client resumes
                        // elsewhere.
                        Ok(Err(_)) => return,
                        Err(_) => {
                            let beat = Bytes::from_static(b": heartbeat\n\n");
                            if self.tx.send_data(beat).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                () = closed(&mut self.closing) => return,
            }
        }
    }

    /// Follows the hub: entries it broadcasts below the cursor were sent already (from the
    /// database) and are skipped; a gap before one (the stream fell behind) is read from the
    /// database first, so every entry goes out once, in order.
    async fn run_live(
        mut self,
        next: u64,
        mut live: tokio::sync::broadcast::Receiver<std::sync::Arc<EntryRecord>>,
    ) {
        let Some(mut next) = self.catch_up(next).await else {
            return;
        };
        loop {
            let received = tokio::select! {
                r = tokio::time::timeout(self.heartbeat, live.recv()) => r,
                () = closed(&mut self.closing) => return,
            };
            let e = match received {
                Ok(Ok(e)) => e,
                // Too far behind: the next entry received shows the gap, filled from the
                // database.
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return,
                Err(_) => {
                    let beat = Bytes::from_static(b": heartbeat\n\n");
                    if self.tx.send_data(beat).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            if e.index < next {
                continue;
            }
            // Entries before this one are committed (the hub read them first): retry
            // until they are read, never skip them.
            while next < e.index {
                next = match self.send_range(next, e.index).await {
                    Some(n) => n,
                    None => return,
                };
                if next < e.index {
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => {}
                        () = closed(&mut self.closing) => return,
                    }
                }
            }
            // The fill reads whole pages: it may have sent this entry already.
            if e.index < next {
                continue;
            }
            let subjects: Value = serde_json::from_str(&e.subjects).unwrap_or(Value::Null);
            if self.filter.matches(&e, &subjects)
                && self.tx.send_data(event(&e, subjects)).await.is_err()
            {
                return;
            }
            next = e.index + 1;
        }
    }

    /// Sends the entries from `next` up to the committed size (and past it, when entries
    /// committed a moment ago are already readable). Returns the new cursor, or `None` when
    /// the client is gone or the server closes.
    async fn catch_up(&mut self, next: u64) -> Option<u64> {
        let size = *self.sizes.borrow_and_update();
        self.send_range(next, size).await
    }

    /// Sends the entries from `next` while the cursor is below `until` (whole pages: an
    /// entry past `until` that is already readable goes out too). Returns the new cursor, or
    /// `None` when the client is gone or the server closes.
    async fn send_range(&mut self, mut next: u64, until: u64) -> Option<u64> {
        while next < until {
            let entries = match read_page(&self.store, next).await {
                Ok(entries) => entries,
                Err(e) => {
                    eprintln!("sbomit-server: events: reading entries from {next}: {e}");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => continue,
                        () = closed(&mut self.closing) => return None,
                    }
                }
            };
            let mut progressed = false;
            for e in entries {
                // Entries come in order without holes; anything else is left for a later
                // read rather than skipped, so no entry is ever missed.
                if e.index != next {
                    break;
                }
                next = e.index + 1;
                progressed = true;
                let subjects: Value = serde_json::from_str(&e.subjects).unwrap_or(Value::Null);
                if self.filter.matches(&e, &subjects)
                    && self.tx.send_data(event(&e, subjects)).await.is_err()
                {
                    return None;
                }
            }
            if !progressed {
                break;
            }
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sbomit_store::admission::EntryKind;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_that_falls_behind_the_hub_fills_the_gap_from_the_database() {
        use http_body_util::BodyExt;
        use sbomit_crypto::{KeyKind, PrivateKey};
        use sbomit_intoto::envelope::{Envelope, EnvelopeKind};

        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = sbomit_store::StoreConfig::new(
            format!("sqlite://{}", dir.path().join("log.db").display()),
            sbomit_store::service_key::ServiceKey::generate().expect("service key"),
        );
        config.batch.interval = Duration::from_millis(1);
        let (store, _) = Store::open(&config).expect("store");
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let s = store.clone();
        let k = key.public_key().clone();
        tokio::task::spawn_blocking(move || {
            s.add_issuer(
                "https://ci.example",
                sbomit_store::policy::Role::Attester,
                &k,
            )
        })
        .await
        .expect("join")
        .expect("issuer");
        // A hub that keeps two entries: the stream below, whose client does not read, falls
        // far behind it.
        let hub = Hub::with_capacity(store.clone(), 2);
        let (tx, mut body) = Channel::<Bytes>::new(BUFFER);
        let feed = Feed {
            store: store.clone(),
            sizes: store.watch_size(),
            closing: Some(hub.closing.subscribe()),
            live: Some(hub.entries.subscribe()),
            tx,
            filter: Filter::default(),
            heartbeat: Duration::from_secs(60),
        };
        tokio::spawn(feed.run(1));
        let n = 3 * BUFFER as u64;
        let s = store.clone();
        tokio::task::spawn_blocking(move || {
            for i in 0..n {
                let statement = serde_json::json!({
                    "_type": "https://in-toto.io/Statement/v1",
                    "subject": [{"name": format!("a{i}"), "digest": {"sha256": "00".repeat(32)}}],
                    "predicateType": "https://example.com/t",
                    "predicate": {"i": i},
                });
                let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).expect("env");
                env.sign(&key).expect("sign");
                s.register(EntryKind::Dsse, &env.to_file_bytes())
                    .expect("register");
            }
        })
        .await
        .expect("join");
        // Now the client reads: every entry once, in order, the lost broadcasts read back.
        let mut ids = Vec::new();
        while ids.last() != Some(&n) {
            let frame = tokio::time::timeout(Duration::from_secs(20), body.frame())
                .await
                .expect("an event in time")
                .expect("a frame")
                .expect("no error");
            let data = frame.into_data().unwrap_or_default();
            let text = String::from_utf8_lossy(&data);
            if text.contains("event: entry") {
                let id = text
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .and_then(|v| v.parse::<u64>().ok())
                    .expect("an id");
                ids.push(id);
            }
        }
        assert_eq!(ids, (1..=n).collect::<Vec<u64>>());
        hub.close();
    }

    fn entry(sub: &str, subjects: &str, t: &str) -> EntryRecord {
        EntryRecord {
            index: 7,
            kind: EntryKind::Dsse,
            leaf_hash: [0; 32],
            statement_hash: [0; 32],
            iss: "iss".into(),
            sub: sub.into(),
            statement_type: t.into(),
            subjects: subjects.into(),
            policy_version: 1,
            registered_ms: 0,
        }
    }

    fn matches(f: &Filter, e: &EntryRecord) -> bool {
        f.matches(e, &serde_json::from_str(&e.subjects).unwrap_or(Value::Null))
    }

    #[test]
    fn purl_filters_without_a_version_match_every_version() {
        let e = entry(
            "pkg:npm/app@2.0.0",
            r#"[{"name":"pkg:npm/app@2.0.0","digest":{"sha256":"AB"}}]"#,
            "t",
        );
        let f = |p: &str| Filter {
            purls: vec![p.into()],
            ..Filter::default()
        };
        assert!(matches(&f("pkg:npm/app"), &e));
        assert!(matches(&f("pkg:npm/app@2.0.0"), &e));
        assert!(!matches(&f("pkg:npm/app@1.0.0"), &e));
        assert!(!matches(&f("pkg:npm/ap"), &e));
        assert!(!matches(&f("pkg:npm/app-extra"), &e));
    }

    #[test]
    fn subject_filters_take_names_and_digests_and_types_must_match() {
        let e = entry(
            "app.tar.gz",
            r#"[{"name":"app.tar.gz","digest":{"sha256":"abcd"}}]"#,
            "https://slsa.dev/provenance/v1",
        );
        let subject = |s: &str| Filter {
            subjects: vec![s.into()],
            ..Filter::default()
        };
        assert!(matches(&subject("app.tar.gz"), &e));
        assert!(matches(&subject("sha256:ABCD"), &e));
        assert!(!matches(&subject("sha256:abce"), &e));
        let typed = Filter {
            types: vec!["https://cyclonedx.org/bom".into()],
            ..subject("app.tar.gz")
        };
        assert!(!matches(&typed, &e));
        assert!(matches(&Filter::default(), &e));
    }
}
