//! Error responses. SCRAPI routes answer RFC 9290 concise problem details (a CBOR map, `-1`
//! title, `-2` detail); the JSON API answers RFC 9457 `application/problem+json`. Both are
//! built from one [`ApiError`], so a refusal reads the same whichever route produced it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ciborium::value::Value;

use sbomit_store::admission::Refusal;
use sbomit_store::StoreError;

pub const CONCISE_PROBLEM: &str = "application/concise-problem-details+cbor";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: status, a short stable title, and a detail for the human.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    /// Seconds, for 503 and 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            title,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad Request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "this request needs an API token (Authorization: Bearer TOKEN)",
        )
    }

    /// A token that is not (or no longer) valid: 401, as RFC 6750 `invalid_token`.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            format!("the request body must be {expected}"),
        )
    }

    /// The server's own trouble: the detail is generic (internals stay in the server's log).
    pub fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        eprintln!("sbomit-server: {context}: {error}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "the service could not complete the request",
        )
    }

    /// The storage is unreachable or busy: worth retrying.
    pub fn unavailable(context: &str, error: &dyn std::fmt::Display) -> Self {
        eprintln!("sbomit-server: {context}: {error}");
        ApiError {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "the service is temporarily unable to complete the request",
            )
        }
    }

    /// A submission's refusal by admission. Things wrong with the bytes are 400; an issuer
    /// the registration policy does not let register this statement is 403.
    pub fn refusal(r: &Refusal) -> Self {
        let (status, title) = match r {
            Refusal::Malformed(_) => (StatusCode::BAD_REQUEST, "Malformed Statement"),
            Refusal::Unsigned | Refusal::BadSignature(_) => {
                (StatusCode::BAD_REQUEST, "Bad Signature")
            }
            Refusal::UnknownIssuer(_) => (StatusCode::FORBIDDEN, "Unknown Issuer"),
            Refusal::NotAllowed(_) => (StatusCode::FORBIDDEN, "Not Allowed"),
            Refusal::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"),
            // Refusal is non-exhaustive: a new kind is still the client's statement's fault.
            _ => (StatusCode::BAD_REQUEST, "Rejected"),
        };
        Self::new(status, title, r.to_string())
    }

    /// Maps a store error; `context` names the operation for the server's log.
    pub fn store(context: &str, e: StoreError) -> Self {
        match e {
            StoreError::Refused(r) => Self::refusal(&r),
            StoreError::NoEntry(id) => Self::not_found(format!("no entry {id}")),
            StoreError::BadRequest(detail) => Self::bad_request(detail),
            e @ (StoreError::Sqlite(_)
            | StoreError::Postgres(_)
            | StoreError::PostgresPool(_)
            | StoreError::SequencerStopped
            | StoreError::Append(_)) => Self::unavailable(context, &e),
            e => Self::internal(context, &e),
        }
    }

    fn with_headers(&self, mut response: Response, content_type: &'static str) -> Response {
        *response.status_mut() = self.status;
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }

    /// The RFC 9290 CBOR body.
    pub fn to_cbor(&self) -> Vec<u8> {
        let map = Value::Map(vec![
            (Value::from(-1), Value::Text(self.title.to_owned())),
            (Value::from(-2), Value::Text(self.detail.clone())),
        ]);
        let mut out = Vec::new();
        // Writing a map of two strings into a Vec cannot fail.
        let _ = ciborium::ser::into_writer(&map, &mut out);
        out
    }

    /// The RFC 9457 JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
        .to_string()
        .into_bytes()
    }
}

/// An [`ApiError`] answered as concise problem details (SCRAPI routes).
#[derive(Debug)]
pub struct CborProblem(pub ApiError);

/// An [`ApiError`] answered as `application/problem+json` (the JSON API).
#[derive(Debug)]
pub struct JsonProblem(pub ApiError);

impl From<ApiError> for CborProblem {
    fn from(e: ApiError) -> Self {
        CborProblem(e)
    }
}

impl From<ApiError> for JsonProblem {
    fn from(e: ApiError) -> Self {
        JsonProblem(e)
    }
}

impl IntoResponse for CborProblem {
    fn into_response(self) -> Response {
        let r = self.0.to_cbor().into_response();
        self.0.with_headers(r, CONCISE_PROBLEM)
    }
}

impl IntoResponse for JsonProblem {
    fn into_response(self) -> Response {
        let r = self.0.to_json().into_response();
        self.0.with_headers(r, PROBLEM_JSON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_trouble_never_leaks_internals() {
        let e = ApiError::store(
            "test",
            StoreError::Corrupt("secret table layout detail".into()),
        );
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.detail.contains("secret"));
        let e = ApiError::store("test", StoreError::SequencerStopped);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn refusals_map_to_scrapi_titles() {
        let t = |r: Refusal| {
            let e = ApiError::refusal(&r);
            (e.status.as_u16(), e.title)
        };
        assert_eq!(t(Refusal::Unsigned), (400, "Bad Signature"));
        assert_eq!(
            t(Refusal::UnknownIssuer("x".into())),
            (403, "Unknown Issuer")
        );
        assert_eq!(t(Refusal::NotAllowed("x".into())), (403, "Not Allowed"));
        assert_eq!(
            t(Refusal::Malformed("x".into())),
            (400, "Malformed Statement")
        );
        assert_eq!(
            t(Refusal::TooLarge { size: 2, limit: 1 }),
            (413, "Payload Too Large")
        );
    }
}
