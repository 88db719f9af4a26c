//! `GET /v1/events`: the store's Server-Sent Events, as an iterator.
//!
//! The response body is read line by line on a reader thread, so the iterator can notice a
//! connection that went silent (no event and no heartbeat for [`EventQuery::silence`]) and
//! say so instead of blocking forever. Reconnecting is the caller's choice: every item
//! carries the index to resume after (`Last-Event-ID`).

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ClientError, Malformed};
use crate::types::Subject;

/// Which events to receive, and from where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventQuery {
    /// Subject names or `sha256:<hex>` digests; any matches.
    pub subjects: Vec<String>,
    /// Package URLs (without `@version`: any version); any matches.
    pub purls: Vec<String>,
    /// Statement types; any matches.
    pub types: Vec<String>,
    /// Resume after this index (sent as `Last-Event-ID`).
    pub after: Option<u64>,
    /// Start with the first entry of the log (`from=0`), when `after` is unset.
    pub from_start: bool,
    /// The heartbeat to ask the store for.
    pub heartbeat: Duration,
    /// How long the stream may send nothing before it is taken for dead.
    pub silence: Duration,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            subjects: Vec::new(),
            purls: Vec::new(),
            types: Vec::new(),
            after: None,
            from_start: false,
            heartbeat: Duration::from_secs(15),
            silence: Duration::from_secs(45),
        }
    }
}

impl EventQuery {
    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("heartbeatMs", self.heartbeat.as_millis().to_string())];
        params.extend(self.subjects.iter().map(|s| ("subject", s.clone())));
        params.extend(self.purls.iter().map(|p| ("purl", p.clone())));
        params.extend(self.types.iter().map(|t| ("type", t.clone())));
        if self.after.is_none() && self.from_start {
            params.push(("from", "0".to_owned()));
        }
        params
    }
}

/// One registered entry, as the stream announces it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub index: u64,
    pub entry_id: String,
    #[serde(rename = "type")]
    pub statement_type: Option<String>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    #[serde(default)]
    pub subjects: Option<Vec<Subject>>,
    pub registered_at: String,
    /// The event's data as the store sent it.
    #[serde(skip)]
    pub raw: Value,
}

/// What one frame of the stream said.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem {
    /// A registered entry.
    Event(Event),
    /// A frame without data: the stream's first frame (`id` is the index before its start,
    /// absent when the log was empty) or a heartbeat (no `id`).
    Marker { id: Option<u64> },
}

enum Line {
    Text(String),
    End(Option<std::io::Error>),
}

/// An open event stream. Yields frames until the store closes it (`None`); a broken or
/// silent connection is an error item, after which the stream ends.
pub struct EventStream {
    rx: mpsc::Receiver<Line>,
    silence: Duration,
    done: bool,
}

impl EventStream {
    pub(crate) fn new(body: ureq::Body, silence: Duration) -> EventStream {
        let (tx, rx) = mpsc::sync_channel::<Line>(256);
        let reader = body.into_reader();
        // The reader blocks on the socket; the iterator waits on it with a deadline. When the
        // stream is dropped the next send fails and the thread ends (with its connection).
        std::thread::spawn(move || {
            let mut lines = BufReader::new(reader);
            loop {
                let mut line = String::new();
                let msg = match lines.read_line(&mut line) {
                    Ok(0) => Line::End(None),
                    Ok(_) => Line::Text(line),
                    Err(e) => Line::End(Some(e)),
                };
                let end = matches!(msg, Line::End(_));
                if tx.send(msg).is_err() || end {
                    return;
                }
            }
        });
        EventStream {
            rx,
            silence,
            done: false,
        }
    }

    fn next_frame(&mut self) -> Option<Result<StreamItem, ClientError>> {
        let (mut id, mut data) = (None::<u64>, String::new());
        loop {
            let line = match self.rx.recv_timeout(self.silence) {
                Ok(Line::Text(l)) => l,
                Ok(Line::End(None)) => return None,
                Ok(Line::End(Some(e))) => return Some(Err(ClientError::Stream(e))),
                Err(_) => {
                    return Some(Err(ClientError::Silent {
                        after: self.silence,
                    }))
                }
            };
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_empty() {
                    return Some(Ok(StreamItem::Marker { id }));
                }
                return Some(parse_event(&data));
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = value.trim().parse().ok(),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                _ => {}
            }
        }
    }
}

fn parse_event(data: &str) -> Result<StreamItem, ClientError> {
    let malformed = |source| ClientError::Malformed {
        url: "/v1/events".to_owned(),
        reason: Malformed::EventNotJson {
            data: data.to_owned(),
            source,
        },
    };
    let raw: Value = serde_json::from_str(data).map_err(malformed)?;
    let mut event: Event = serde_json::from_value(raw.clone()).map_err(malformed)?;
    event.raw = raw;
    Ok(StreamItem::Event(event))
}

impl Iterator for EventStream {
    type Item = Result<StreamItem, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_frame();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}
