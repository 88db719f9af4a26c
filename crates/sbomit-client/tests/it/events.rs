//! The event stream's framing, against a fake store whose stream is fixed bytes.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sbomit_client::{Client, ClientError, EventQuery, StreamItem};

use crate::fake::{reply, Fake};

const STREAM: &str = "retry: 1000\nid: 4\n: next 5\n\n: heartbeat\n\n\
id: 5\nevent: entry\ndata: {\"index\":5,\"entryId\":\"1.5\",\"type\":\"t\",\"iss\":\"i\",\
\"sub\":\"s\",\"subjects\":[{\"name\":\"a\",\"digest\":{\"sha256\":\"00\"}}],\
\"registeredAt\":\"2026-01-01T00:00:00.000Z\"}\n\n";

#[test]
fn frames_become_markers_and_events_and_a_closed_stream_ends() {
    let store = Fake::start(|_| {
        reply(
            200,
            &[("Content-Type", "text/event-stream")],
            STREAM.as_bytes(),
        )
    });
    let query = EventQuery {
        after: Some(4),
        subjects: vec!["a b".into()],
        ..EventQuery::default()
    };
    let items: Vec<StreamItem> = Client::new(&store.base)
        .unwrap()
        .events(&query)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0], StreamItem::Marker { id: Some(4) });
    assert_eq!(items[1], StreamItem::Marker { id: None });
    let StreamItem::Event(e) = &items[2] else {
        panic!("not an event: {:?}", items[2])
    };
    assert_eq!((e.index, e.entry_id.as_str()), (5, "1.5"));
    assert_eq!(e.statement_type.as_deref(), Some("t"));
    assert_eq!(e.raw["sub"], "s");

    let seen = &store.requests()[0];
    assert_eq!(seen.path, "/v1/events?heartbeatMs=15000&subject=a%20b");
    assert_eq!(seen.header("last-event-id"), Some("4"));
    assert_eq!(seen.header("accept"), Some("text/event-stream"));
}

#[test]
fn an_event_that_is_not_json_is_a_malformed_answer() {
    let store = Fake::start(|_| reply(200, &[], b"id: 1\ndata: {nope\n\n"));
    let mut stream = Client::new(&store.base)
        .unwrap()
        .events(&EventQuery::default())
        .unwrap();
    assert!(matches!(
        stream.next(),
        Some(Err(ClientError::Malformed { .. }))
    ));
    assert!(stream.next().is_none(), "the stream ends after an error");
}

#[test]
fn a_silent_stream_is_reported_after_the_silence_allowed() {
    // Headers only, then nothing: the body's length promises more than is sent.
    let store = Fake::start_raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1000\r\n\r\n",
    );
    let query = EventQuery {
        silence: Duration::from_millis(200),
        ..EventQuery::default()
    };
    let mut stream = Client::new(&store.base).unwrap().events(&query).unwrap();
    assert!(matches!(
        stream.next(),
        Some(Err(ClientError::Silent { .. }))
    ));
}
