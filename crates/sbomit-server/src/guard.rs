//! The middleware every request passes: the anonymous rate limit of [`crate::limits`], then
//! the handler within the request timeout (event streams without it). Above both the limits
//! and the service state it reads them from.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use sbomit_store::tokens::TokenStatus;

use crate::limits::{client_key, EVENTS_PATH};
use crate::problem::{ApiError, CborProblem, JsonProblem};
use crate::state::{bearer_token, AppState};

/// The client address of a request served by `serve` (`None` for a router called directly).
pub fn client_of(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| client_key(a.ip()))
}

/// An error in the family of the request's path: JSON under `/v1/`, CBOR elsewhere.
fn problem_for(path: &str, e: ApiError) -> Response {
    if path.starts_with("/v1/") {
        JsonProblem(e).into_response()
    } else {
        CborProblem(e).into_response()
    }
}

/// Whether a request carries a body (a declared length above 0, or a chunked one).
fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// Every request passes here: the anonymous rate limit, then the handler within the request
/// timeout (event streams: without it).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if let (Some(limiter), Some(client)) = (&state.rate_limiter, client_of(&req)) {
        let token = bearer_token(req.headers());
        if !has_valid_token(&state, token).await {
            if let Err(wait) = limiter.check(client, Instant::now()) {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                return problem_for(
                    &path,
                    ApiError {
                        retry_after: Some(secs),
                        ..ApiError::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            "Too Many Requests",
                            "too many requests without a valid API token from this address; \
                             slow down, or send a token",
                        )
                    },
                );
            }
        }
    }
    if path == EVENTS_PATH {
        return next.run(req).await;
    }
    let with_body = has_body(&req);
    match tokio::time::timeout(state.settings.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let timeout = state.settings.request_timeout;
            let e = if with_body {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "Request Timeout",
                    format!("the request was not complete within {timeout:?}"),
                )
            } else {
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Service Unavailable",
                        format!("the request could not be answered within {timeout:?}"),
                    )
                }
            };
            let mut r = problem_for(&path, e);
            // The rest of a slow body is not worth reading.
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
    }
}

/// Whether the request carries a token that is valid now (any scope). From memory; the
/// database only when the store's token snapshot must be read (see `sbomit_store::tokens`).
async fn has_valid_token(state: &AppState, token: Option<String>) -> bool {
    let Some(token) = token else {
        return false;
    };
    let status = match state.store.token_status_cached(&token) {
        Some(s) => s,
        None => match state
            .blocking("checking a token", move |s| s.token_status(&token))
            .await
        {
            Ok(s) => s,
            Err(_) => return false,
        },
    };
    matches!(status, TokenStatus::Valid(_))
}
