//! The sbomit Store over HTTP: an `axum::Router` over an open [`sbomit_store::Store`].
//!
//! * SCRAPI (draft-ietf-scitt-scrapi): `POST /entries` (COSE Signed Statements), receipts,
//!   `/.well-known/scitt-keys`, and the operation-style API the CCF SCITT ledger's pyscitt
//!   client speaks. Errors are RFC 9290 concise problem details.
//! * The JSON API under `/v1`: in-toto evidence (DSSE envelopes), entry metadata, inclusion
//!   and consistency proofs, and administration. Errors are RFC 9457 problem details.
//! * Graph queries under `/v1/query` (one request per question, walked server-side) and the
//!   live event stream `/v1/events` (Server-Sent Events, resumable by log index).
//!
//! This crate does not open stores, parse command lines or install signal handlers: the
//! binary does, and hands [`serve`] a listener and a shutdown future. Every store call runs on
//! the blocking pool. `docs/store-api.md` lists the endpoints, status codes and titles.
#![forbid(unsafe_code, unused_must_use)]

mod api;
mod config;
mod events;
mod graph_api;
mod guard;
mod limits;
mod problem;
mod scrapi;
mod state;

use std::future::Future;

use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;

use sbomit_store::Store;

pub use config::{ConfigError, ServerConfig};
use problem::ApiError;
pub use problem::{CONCISE_PROBLEM, PROBLEM_JSON};

/// The service's routes over `store`.
pub fn router(store: Store, config: &ServerConfig) -> Router {
    let state = state::AppState::new(store, config);
    Router::new()
        .route("/entries", post(scrapi::post_entries))
        .route("/entries/{id}", get(scrapi::get_entry))
        .route("/entries/{id}/statement", get(scrapi::get_entry_statement))
        .route("/operations/{id}", get(scrapi::get_operation))
        .route("/.well-known/scitt-keys", get(scrapi::get_keys))
        .route("/.well-known/scitt-keys/{kid}", get(scrapi::get_key))
        .route(
            "/.well-known/transparency-configuration",
            get(scrapi::get_configuration),
        )
        .route("/jwks", get(scrapi::get_jwks))
        .route("/checkpoint", get(api::get_checkpoint))
        .route("/v1/entries", post(api::post_entries))
        .route("/v1/entries/{index}", get(api::get_entry))
        .route("/v1/entries/{index}/receipt", get(api::get_receipt))
        .route("/v1/operations/{id}", get(api::get_operation))
        .route("/v1/proofs/inclusion", get(api::get_inclusion))
        .route("/v1/proofs/consistency", get(api::get_consistency))
        .route("/v1/registration-policy", get(api::get_policy))
        .route(
            "/v1/admin/issuers",
            post(api::post_issuer).get(api::get_issuers),
        )
        .route("/v1/admin/registration-policy", put(api::put_policy))
        .route("/v1/admin/tokens", post(api::post_token))
        .route("/v1/query/evidence", get(graph_api::get_evidence))
        .route("/v1/query/components", get(graph_api::get_components))
        .route("/v1/query/dependents", get(graph_api::get_dependents))
        .route("/v1/query/affected", get(graph_api::get_affected))
        .route("/v1/events", get(events::get_events))
        .route("/v1/openapi.json", get(graph_api::get_openapi))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

/// Unknown paths answer problem details of the family the path belongs to.
async fn fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/v1/") {
        api::not_found().await.into_response()
    } else {
        scrapi::not_found().await.into_response()
    }
}

/// A known path with another method: 405 as problem details of the path's family.
async fn method_not_allowed(uri: Uri) -> Response {
    let e = ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "this resource does not support this method",
    );
    if uri.path().starts_with("/v1/") {
        problem::JsonProblem(e).into_response()
    } else {
        problem::CborProblem(e).into_response()
    }
}

/// Serves [`router`] on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
///
/// Each connection is HTTP/1.1 with a header-read timeout (`header_read_timeout_ms`): a client
/// that does not send a request's head in time, or sits idle between requests that long, is
/// disconnected. Each request carries its peer address (`ConnectInfo<SocketAddr>`) for the
/// per-client limits.
pub async fn serve(
    store: Store,
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    // One reader of the log feeds every event stream; streams never end on their own, so
    // they are told to when shutdown begins.
    let hub = events::Hub::start(store.clone());
    let app = router(store, &config).layer(axum::Extension(hub.clone()));
    let header_timeout = std::time::Duration::from_millis(config.header_read_timeout_ms);
    // Connections hold a receiver of `closing` (told to finish) and of `done` (dropped when
    // they end): shutdown waits for the last.
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let (done_tx, done_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    eprintln!("sbomit-server: accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers go out at once.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                hyper::service::Service::call(&TowerToHyperService::new(app.clone()), req)
            },
        );
        let mut closing = closing_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                // A client that goes away or times out is no error of the server's.
                _ = conn.as_mut() => {}
                () = async { let _ = closing.wait_for(|c| *c).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(done);
        });
    }
    drop(listener);
    hub.close();
    closing_tx.send_replace(true);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}
