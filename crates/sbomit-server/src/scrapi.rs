//! SCRAPI (draft-ietf-scitt-scrapi): registration of COSE Signed Statements, receipts, the
//! service's keys, and the operation-style API of the CCF SCITT ledger that pyscitt 0.10
//! speaks. Errors are concise problem details.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ciborium::value::Value;

use sbomit_scitt::cose::CoseSign1;
use sbomit_store::admission::EntryKind;
use sbomit_store::{EntryId, StoreError};

use crate::problem::{ApiError, CborProblem};
use crate::state::{accepts, content_type_is, parse_operation_id, AppState, OpState, Registered};

pub const COSE: &str = "application/cose";
pub const CBOR: &str = "application/cbor";
const DSSE_JSON: &str = "application/vnd.dsse.envelope.v1+json";
/// Unprotected header label of the receipts of a Transparent Statement (RFC 9943).
const RECEIPTS_LABEL: i64 = 394;

type ScrapiResult = Result<Response, CborProblem>;

fn cbor_bytes(value: &Value) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out)
        .map_err(|e| ApiError::internal("encoding CBOR", &e))?;
    Ok(out)
}

fn with_type(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

fn location(response: &mut Response, path: &str) {
    if let Ok(v) = HeaderValue::from_str(path) {
        response.headers_mut().insert(header::LOCATION, v);
    }
}

fn parse_entry_id(s: &str) -> Result<EntryId, ApiError> {
    s.parse::<EntryId>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid Entry Id",
            format!("{s:?} is not an entry id (1.N)"),
        )
    })
}

async fn receipt(state: &AppState, index: u64) -> Result<Vec<u8>, ApiError> {
    state
        .blocking("making a receipt", move |s| s.receipt(index))
        .await
}

/// The CBOR operation document the CCF ledger's clients poll.
fn operation_doc(id: &str, op: OpState) -> Value {
    let mut pairs = vec![(
        Value::Text("OperationId".into()),
        Value::Text(id.to_owned()),
    )];
    let status = match op {
        OpState::Running => "running",
        OpState::Done(_) => "succeeded",
        OpState::Failed => "failed",
    };
    pairs.push((Value::Text("Status".into()), Value::Text(status.into())));
    match op {
        OpState::Done(index) => pairs.push((
            Value::Text("EntryId".into()),
            Value::Text(EntryId(index).to_string()),
        )),
        OpState::Failed => pairs.push((
            Value::Text("Error".into()),
            Value::Map(vec![
                (Value::from(-1), Value::Text("Registration Failed".into())),
                (
                    Value::from(-2),
                    Value::Text("the service could not make the entry durable".into()),
                ),
            ]),
        )),
        OpState::Running => {}
    }
    Value::Map(pairs)
}

/// `POST /entries`: registers a COSE Signed Statement. 201 with the receipt once durable;
/// 303 to the operation when that takes longer than the configured wait. In pyscitt
/// compatibility mode, a request not asking for `application/cose` gets 202 and a CBOR
/// operation document instead.
pub async fn post_entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ScrapiResult {
    let limit = state.require_submit(&headers).await?;
    if !content_type_is(&headers, &[COSE]) {
        return Err(ApiError::unsupported_media_type(COSE).into());
    }
    let bytes = state.read_body(&headers, body, limit).await?;
    let registered = state.register(EntryKind::Cose, bytes).await?;
    let operation_style = state.settings.compat_pyscitt && !accepts(&headers, COSE);
    match registered {
        Registered::Durable(reg) if !operation_style => {
            let receipt = receipt(&state, reg.index).await?;
            let mut r = with_type(StatusCode::CREATED, COSE, receipt);
            location(&mut r, &format!("/entries/{}", reg.id));
            Ok(r)
        }
        Registered::Pending(id) if !operation_style => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            location(&mut r, &format!("/operations/{}", hex::encode(id)));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            Ok(r)
        }
        reg => {
            let (id, op) = match reg {
                Registered::Durable(reg) => (reg.statement_hash, OpState::Done(reg.index)),
                Registered::Pending(id) => (id, OpState::Running),
            };
            let id = hex::encode(id);
            let doc = cbor_bytes(&operation_doc(&id, op))?;
            let mut r = with_type(StatusCode::ACCEPTED, CBOR, doc);
            location(&mut r, &format!("/operations/{id}"));
            Ok(r)
        }
    }
}

/// `GET /operations/{id}`: the status of a registration, `id` being the statement's SHA-256.
/// Running: 202 with `Retry-After`. Done: the CBOR operation document with the entry id (and
/// `Location` of the entry), or, when the client asks for `application/cose`, the receipt.
pub async fn get_operation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScrapiResult {
    state.require_read(&headers).await?;
    let Some(hash) = parse_operation_id(&id) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid locator",
            "an operation id is the statement's SHA-256 in hex",
        )
        .into());
    };
    let id = hex::encode(hash);
    let Some(op) = state.operation(hash).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Operation Not Found",
            "no registration with this id is known to this service",
        )
        .into());
    };
    match op {
        OpState::Done(index) if accepts(&headers, COSE) && !accepts(&headers, CBOR) => {
            let receipt = receipt(&state, index).await?;
            let mut r = with_type(StatusCode::OK, COSE, receipt);
            location(&mut r, &format!("/entries/{}", EntryId(index)));
            Ok(r)
        }
        OpState::Running => {
            let mut r = with_type(
                StatusCode::ACCEPTED,
                CBOR,
                cbor_bytes(&operation_doc(&id, op))?,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            Ok(r)
        }
        op => {
            let mut r = with_type(StatusCode::OK, CBOR, cbor_bytes(&operation_doc(&id, op))?);
            if let OpState::Done(index) = op {
                location(&mut r, &format!("/entries/{}", EntryId(index)));
            }
            Ok(r)
        }
    }
}

/// `GET /entries/{id}`: a fresh receipt for entry `1.N`.
pub async fn get_entry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScrapiResult {
    state.require_read(&headers).await?;
    let id = parse_entry_id(&id)?;
    let receipt = receipt(&state, id.0)
        .await
        .map_err(|e| not_found_entry(e, id))?;
    Ok(with_type(StatusCode::OK, COSE, receipt))
}

fn not_found_entry(e: ApiError, id: EntryId) -> ApiError {
    if e.status == StatusCode::NOT_FOUND {
        ApiError::not_found(format!(
            "receipt with entry id {id} not known to this transparency service"
        ))
    } else {
        e
    }
}

/// `GET /entries/{id}/statement`: the registered statement as a Transparent Statement (the
/// receipt in its unprotected header, label 394), as the CCF ledger's clients expect. DSSE
/// entries are returned as registered.
pub async fn get_entry_statement(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScrapiResult {
    state.require_read(&headers).await?;
    let id = parse_entry_id(&id)?;
    let index = id.0;
    let (entry, blob, receipt) = state
        .blocking("reading a statement", move |s| {
            let (entry, blob) = s
                .statement(index)?
                .ok_or_else(|| StoreError::NoEntry(EntryId(index).to_string()))?;
            let receipt = s.receipt(index)?;
            Ok((entry, blob, receipt))
        })
        .await
        .map_err(|e| not_found_entry(e, id))?;
    if entry.kind != EntryKind::Cose {
        return Ok(with_type(StatusCode::OK, DSSE_JSON, blob));
    }
    let mut message = CoseSign1::decode(&blob)
        .map_err(|e| ApiError::internal("decoding a stored statement", &e))?;
    message
        .unprotected_mut()
        .insert(RECEIPTS_LABEL, Value::Array(vec![Value::Bytes(receipt)]));
    let bytes = message
        .encode()
        .map_err(|e| ApiError::internal("encoding a transparent statement", &e))?;
    Ok(with_type(StatusCode::OK, COSE, bytes))
}

/// `GET /.well-known/scitt-keys`: every published service key (retired ones kept), as a
/// COSE_KeySet.
pub async fn get_keys(State(state): State<AppState>, headers: HeaderMap) -> ScrapiResult {
    state.require_read(&headers).await?;
    let set = state
        .blocking("reading the service keys", |s| {
            sbomit_store::encode_key_set(&s.service_keys()?)
        })
        .await?;
    Ok(with_type(StatusCode::OK, CBOR, set))
}

/// Decodes a kid from a URL: hex (how sbomit prints kids) or, as SCRAPI requires for kids that
/// are not URL-safe, unpadded base64url.
fn parse_kid(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        if let Ok(k) = hex::decode(s) {
            return Some(k);
        }
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

/// `GET /.well-known/scitt-keys/{kid}`: one service key as a COSE_Key.
pub async fn get_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(kid): Path<String>,
) -> ScrapiResult {
    state.require_read(&headers).await?;
    let no_key = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "No such key",
            "no key could be found for this kid value",
        )
    };
    let kid = parse_kid(&kid).ok_or_else(no_key)?;
    let keys = state
        .blocking("reading the service keys", |s| s.service_keys())
        .await?;
    let key = keys
        .into_iter()
        .find(|k| k.kid() == Some(kid.as_slice()))
        .ok_or_else(no_key)?;
    let bytes = key
        .encode()
        .map_err(|e| ApiError::internal("encoding a service key", &e))?;
    Ok(with_type(StatusCode::OK, CBOR, bytes))
}

fn base_url(headers: &HeaderMap) -> String {
    // The Host header is the client's own name for this service; behind a TLS proxy the
    // forwarded scheme says https.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    host.map(|h| format!("{scheme}://{h}")).unwrap_or_default()
}

/// `GET /.well-known/transparency-configuration`: the service's issuer and endpoints, CBOR
/// when the client accepts it (as pyscitt asks), JSON otherwise.
pub async fn get_configuration(State(state): State<AppState>, headers: HeaderMap) -> ScrapiResult {
    state.require_read(&headers).await?;
    let base = base_url(&headers);
    let fields = [
        ("issuer", state.store.origin().to_owned()),
        ("registration_endpoint", format!("{base}/entries")),
        ("scitt_keys_uri", format!("{base}/.well-known/scitt-keys")),
        ("jwks_uri", format!("{base}/jwks")),
        ("checkpoint_uri", format!("{base}/checkpoint")),
    ];
    if accepts(&headers, CBOR) {
        let map = Value::Map(
            fields
                .iter()
                .map(|(k, v)| (Value::Text((*k).into()), Value::Text(v.clone())))
                .collect(),
        );
        return Ok(with_type(StatusCode::OK, CBOR, cbor_bytes(&map)?));
    }
    let json: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
        .collect();
    Ok(with_type(
        StatusCode::OK,
        "application/json",
        serde_json::Value::Object(json).to_string().into_bytes(),
    ))
}

/// `GET /jwks`: the service keys as a JWK set (kid in hex), for clients that discover keys
/// through `jwks_uri`.
pub async fn get_jwks(State(state): State<AppState>, headers: HeaderMap) -> ScrapiResult {
    state.require_read(&headers).await?;
    let keys = state
        .blocking("reading the service keys", |s| s.service_keys())
        .await?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks: Vec<serde_json::Value> = keys
        .iter()
        .filter_map(|k| {
            let raw = k.public_key().raw_public_key()?;
            let kid = k.kid().map(hex::encode);
            Some(match raw.len() {
                32 => serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "x": b64.encode(raw), "kid": kid,
                }),
                65 if raw[0] == 4 => serde_json::json!({
                    "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                    "x": b64.encode(&raw[1..33]), "y": b64.encode(&raw[33..]), "kid": kid,
                }),
                _ => return None,
            })
        })
        .collect();
    Ok(with_type(
        StatusCode::OK,
        "application/json",
        serde_json::json!({ "keys": jwks }).to_string().into_bytes(),
    ))
}

/// Unknown SCRAPI-side paths.
pub async fn not_found() -> CborProblem {
    ApiError::not_found("no such resource").into()
}
