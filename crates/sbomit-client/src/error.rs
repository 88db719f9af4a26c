//! What can go wrong talking to a store, and the problem details it answers errors with.

use std::time::Duration;

/// A failed call. Every variant names the request, so the message explains itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The store's URL (or a `Location` it answered) is not an `http(s)://host[:port]` URL.
    #[error("{url:?} is not an http(s) URL: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    /// No answer: the connection failed, timed out or broke while the answer was read.
    #[error("{method} {url}")]
    Transport {
        method: &'static str,
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    /// The store answered with an error status; `problem` is what its body says.
    #[error("HTTP {status}{}", problem.summary().map(|s| format!(": {s}")).unwrap_or_default())]
    Status { status: u16, problem: Problem },
    /// The store answered something this client cannot read (not JSON, a missing field, a
    /// missing `Location`, an unexpected status).
    #[error("the answer of {url} {reason}")]
    Malformed { url: String, reason: Malformed },
    /// A registration the store accepted did not become durable in time.
    #[error("not durable after {after:?}")]
    NotDurable { after: Duration },
    /// The store's sequencer gave up on a registration.
    #[error("the store failed to sequence it")]
    RegistrationFailed,
    /// An event stream broke while it was being read.
    #[error("the stream broke")]
    Stream(#[source] std::io::Error),
    /// An event stream sent nothing (no event, no heartbeat) for this long.
    #[error("nothing from the store for {}s", after.as_secs())]
    Silent { after: Duration },
}

impl ClientError {
    /// The HTTP status of a [`ClientError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem-details title of a [`ClientError::Status`] (SCRAPI: act on it, not only on
    /// the status).
    pub fn title(&self) -> Option<&str> {
        match self {
            ClientError::Status { problem, .. } => problem.title.as_deref(),
            _ => None,
        }
    }
}

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    #[error("is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("is not UTF-8 text")]
    NotText(#[source] std::string::FromUtf8Error),
    #[error("is not a COSE key (set)")]
    NotCoseKey(#[source] sbomit_scitt::cose::CoseError),
    #[error("has no Location")]
    NoLocation,
    #[error("names a Location that is not a URL: {0:?}")]
    BadLocation(String),
    #[error("has the unexpected status {0}")]
    UnexpectedStatus(u16),
    #[error("has an event whose data is not JSON: {data}")]
    EventNotJson {
        data: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Which problem-details format an error body had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemFormat {
    /// RFC 9457 `application/problem+json` (the `/v1` routes).
    Json,
    /// RFC 9290 concise problem details, CBOR `{-1: title, -2: detail}` (SCRAPI).
    Cbor,
    /// Neither: `detail` holds the start of the body as text.
    Text,
}

/// The title and detail of an error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub format: ProblemFormat,
    pub title: Option<String>,
    pub detail: Option<String>,
}

/// How much of a body that is not problem details an error keeps.
const EXCERPT_CHARS: usize = 300;

impl Problem {
    /// Reads an error body: JSON problem details (or any JSON with `detail`/`error`/
    /// `message`/`title`), CBOR concise problem details, else the body's text.
    pub fn from_body(body: &[u8]) -> Problem {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_owned);
            return Problem {
                format: ProblemFormat::Json,
                title: text("title"),
                detail: text("detail")
                    .or_else(|| text("error"))
                    .or_else(|| text("message")),
            };
        }
        if let Ok(ciborium::value::Value::Map(map)) =
            ciborium::de::from_reader::<ciborium::value::Value, _>(body)
        {
            let field = |k: i64| {
                map.iter()
                    .find(|(key, _)| key.as_integer() == Some(k.into()))
                    .and_then(|(_, v)| v.as_text())
                    .map(str::to_owned)
            };
            let (title, detail) = (field(-1), field(-2));
            if title.is_some() || detail.is_some() {
                return Problem {
                    format: ProblemFormat::Cbor,
                    title,
                    detail,
                };
            }
        }
        let text = String::from_utf8_lossy(body);
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        Problem {
            format: ProblemFormat::Text,
            title: None,
            detail: Some(line.chars().take(EXCERPT_CHARS).collect())
                .filter(|s: &String| !s.is_empty()),
        }
    }

    /// One line for people. A `/v1` title is the status's reason phrase, which `HTTP 400`
    /// already says, so the detail is enough; a SCRAPI title names the error kind (`Unknown
    /// Issuer`, `Bad Signature`), so it is kept before the detail.
    pub fn summary(&self) -> Option<String> {
        match (self.format, &self.title, &self.detail) {
            (ProblemFormat::Cbor, Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (_, _, Some(d)) => Some(d.clone()),
            (_, Some(t), None) => Some(t.clone()),
            (_, None, None) => None,
        }
    }
}
