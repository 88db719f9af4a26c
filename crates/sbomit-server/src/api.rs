//! The JSON API (`/v1`): in-toto evidence (DSSE envelopes), entry metadata, proofs, the
//! checkpoint, and administration (issuers, registration policy, tokens). Errors are RFC 9457
//! problem details.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use sbomit_crypto::PublicKey;
use sbomit_store::admission::EntryKind;
use sbomit_store::backend::{EntryRecord, Scope};
use sbomit_store::policy::Role;
use sbomit_store::{EntryId, StoreError};

use crate::graph_api::millis_to_rfc3339;
use crate::problem::{ApiError, JsonProblem};
use crate::state::{content_type_is, parse_operation_id, AppState, OpState, Registered};

type ApiResult = Result<Response, JsonProblem>;

/// Admin request bodies are small documents; this bounds them whatever the statement limit.
const MAX_ADMIN_BODY: usize = 1 << 20;

const JSON_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.dsse.envelope.v1+json",
    "application/vnd.dsse+json",
    "application/vnd.in-toto+json",
];

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response()
}

fn with_location(mut r: Response, path: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(path) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn parse_index(s: &str) -> Result<u64, ApiError> {
    // Either a plain index or the SCRAPI id `1.N`.
    let parsed = if s.contains('.') {
        s.parse::<EntryId>().ok().map(|id| id.0)
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    };
    parsed.ok_or_else(|| ApiError::bad_request(format!("{s:?} is not an entry index")))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body: {e}")))
}

/// `POST /v1/entries`: registers a DSSE envelope carrying an in-toto Statement.
pub async fn post_entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let limit = state.require_submit(&headers).await?;
    if !content_type_is(&headers, JSON_TYPES) {
        return Err(ApiError::unsupported_media_type("a DSSE envelope (application/json)").into());
    }
    let bytes = state.read_body(&headers, body, limit).await?;
    match state.register(EntryKind::Dsse, bytes).await? {
        Registered::Durable(reg) => {
            let body = json!({
                "entryId": reg.id.to_string(),
                "index": reg.index,
                "treeSize": reg.tree_size,
                "duplicate": reg.duplicate,
            });
            Ok(with_location(
                json_response(StatusCode::CREATED, &body),
                &format!("/v1/entries/{}", reg.index),
            ))
        }
        Registered::Pending(id) => {
            let id = hex::encode(id);
            let mut r = with_location(
                json_response(
                    StatusCode::ACCEPTED,
                    &json!({ "operationId": id, "status": "running" }),
                ),
                &format!("/v1/operations/{id}"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            Ok(r)
        }
    }
}

/// `GET /v1/operations/{id}`: a pending registration's status, as JSON.
pub async fn get_operation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    state.require_read(&headers).await?;
    let hash = parse_operation_id(&id).ok_or_else(|| {
        ApiError::bad_request("an operation id is the statement's SHA-256 in hex")
    })?;
    let id = hex::encode(hash);
    let body = match state.operation(hash).await? {
        None => return Err(ApiError::not_found("no registration with this id").into()),
        Some(OpState::Running) => json!({ "operationId": id, "status": "running" }),
        Some(OpState::Failed) => json!({ "operationId": id, "status": "failed" }),
        Some(OpState::Done(index)) => json!({
            "operationId": id, "status": "succeeded",
            "entryId": EntryId(index).to_string(), "index": index,
        }),
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn entry_json(e: &EntryRecord, statement: &[u8]) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "entryId": EntryId(e.index).to_string(),
        "index": e.index,
        "kind": e.kind.name(),
        "iss": e.iss,
        "sub": e.sub,
        "type": e.statement_type,
        "subjects": serde_json::from_str::<Value>(&e.subjects).unwrap_or(Value::Null),
        "registeredAt": millis_to_rfc3339(e.registered_ms),
        "policyVersion": e.policy_version,
        "leafHash": hex::encode(e.leaf_hash),
        "statementHash": hex::encode(e.statement_hash),
        "statement": b64.encode(statement),
    })
}

/// `GET /v1/entries/{index}`: an entry's metadata and its statement (base64).
pub async fn get_entry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> ApiResult {
    state.require_read(&headers).await?;
    let index = parse_index(&index)?;
    let found = state
        .blocking("reading an entry", move |s| s.statement(index))
        .await?;
    let (entry, statement) =
        found.ok_or_else(|| ApiError::not_found(format!("no entry {index}")))?;
    Ok(json_response(
        StatusCode::OK,
        &entry_json(&entry, &statement),
    ))
}

/// `GET /v1/entries/{index}/receipt`: a fresh COSE receipt.
pub async fn get_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> ApiResult {
    state.require_read(&headers).await?;
    let index = parse_index(&index)?;
    let receipt = state
        .blocking("making a receipt", move |s| s.receipt(index))
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::scrapi::COSE),
        )],
        receipt,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionQuery {
    index: u64,
    tree_size: Option<u64>,
}

/// `GET /v1/proofs/inclusion?index=N[&treeSize=M]`.
pub async fn get_inclusion(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> ApiResult {
    state.require_read(&headers).await?;
    let q = query(q)?;
    let proof = state
        .blocking("making an inclusion proof", move |s| {
            s.inclusion_proof(q.index, q.tree_size)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &json!(proof)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    first: u64,
    second: u64,
}

/// `GET /v1/proofs/consistency?first=A&second=B`.
pub async fn get_consistency(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> ApiResult {
    state.require_read(&headers).await?;
    let q = query(q)?;
    let proof = state
        .blocking("making a consistency proof", move |s| {
            s.consistency_proof(q.first, q.second)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &json!(proof)))
}

/// `GET /checkpoint`: the newest signed checkpoint (a C2SP signed note).
pub async fn get_checkpoint(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    state.require_read(&headers).await?;
    let cp = state
        .blocking("reading the checkpoint", |s| s.checkpoint())
        .await?
        .ok_or_else(|| ApiError::not_found("the log has no checkpoint yet"))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        cp.note,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewIssuer {
    iss: String,
    role: String,
    /// An issuer key (SPKI PEM)…
    public_key_pem: Option<String>,
    /// …or an X.509 trust anchor (CA certificate PEM) its COSE `x5chain`s must lead to (leaf:
    /// EKU codeSigning, a subjectAltName naming `iss`; see `sbomit_scitt::x509`).
    trust_anchor_pem: Option<String>,
}

/// The JSON body of an admin call, after the admin token and the content type are checked.
async fn admin_json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, JsonProblem> {
    state.require(headers, Scope::Admin).await?;
    if !content_type_is(headers, &["application/json"]) {
        return Err(ApiError::unsupported_media_type("application/json").into());
    }
    Ok(state.read_body(headers, body, MAX_ADMIN_BODY).await?)
}

/// `POST /v1/admin/issuers`: registers an issuer key (or trust anchor) with a role; the
/// change is logged.
pub async fn post_issuer(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let bytes = admin_json_body(&state, &headers, body).await?;
    let req: NewIssuer = parse_json(&bytes)?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role {:?}: expected \"attester\" or \"policy-manager\"",
            req.role
        ))
    })?;
    let pem = match (req.public_key_pem, req.trust_anchor_pem) {
        (Some(pem), None) => pem,
        (None, Some(anchor)) => {
            let iss = req.iss.clone();
            let reg = state
                .blocking("adding a trust anchor", move |s| {
                    s.add_trust_anchor(&iss, role, anchor.as_bytes())
                })
                .await?;
            let body = json!({ "iss": req.iss, "role": role.name(), "trustAnchor": true });
            return Ok(identity_change_response(body, reg));
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of publicKeyPem and trustAnchorPem",
            )
            .into())
        }
    };
    let key = PublicKey::from_pem(pem.as_bytes(), None)
        .map_err(|e| ApiError::bad_request(format!("publicKeyPem: {e}")))?;
    let keyid = key.keyid().as_str().to_owned();
    let iss = req.iss.clone();
    let reg = state
        .blocking("adding an issuer", move |s| s.add_issuer(&iss, role, &key))
        .await?;
    let body = json!({ "iss": req.iss, "role": role.name(), "keyid": keyid });
    Ok(identity_change_response(body, reg))
}

/// 201 with the log entry of an identity change, or 200 `unchanged` when there was none.
fn identity_change_response(
    mut body: serde_json::Value,
    reg: Option<sbomit_store::Registration>,
) -> Response {
    let status = match reg {
        Some(reg) => {
            body["entryId"] = json!(reg.id.to_string());
            body["index"] = json!(reg.index);
            StatusCode::CREATED
        }
        None => {
            body["unchanged"] = json!(true);
            StatusCode::OK
        }
    };
    json_response(status, &body)
}

/// `GET /v1/admin/issuers`.
pub async fn get_issuers(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    state.require(&headers, Scope::Admin).await?;
    let issuers = state
        .blocking("reading the issuers", |s| s.issuers())
        .await?;
    let list: Vec<Value> = issuers
        .iter()
        .map(|i| {
            let key = PublicKey::from_spki(&i.spki).ok();
            json!({
                "iss": i.iss,
                "role": i.role.name(),
                "keyid": key.as_ref().map(|k| k.keyid().as_str().to_owned()),
                "publicKeyPem": key.as_ref().map(PublicKey::to_pem),
                "addedAt": millis_to_rfc3339(i.added_ms),
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "issuers": list })))
}

/// `PUT /v1/admin/registration-policy`: a new policy version; the change is logged.
pub async fn put_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let bytes = admin_json_body(&state, &headers, body).await?;
    let (version, reg) = state
        .blocking("setting the registration policy", move |s| {
            s.set_registration_policy(&bytes)
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "version": version, "entryId": reg.id.to_string(), "index": reg.index }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyQuery {
    version: Option<i64>,
}

/// `GET /v1/registration-policy[?version=N]`.
pub async fn get_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<PolicyQuery>, QueryRejection>,
) -> ApiResult {
    state.require_read(&headers).await?;
    let version = query(q)?.version;
    let found = state
        .blocking("reading the registration policy", move |s| {
            s.registration_policy(version)
        })
        .await?;
    let (version, document) =
        found.ok_or_else(|| ApiError::not_found("no such registration policy version"))?;
    let policy: Value = serde_json::from_str(&document).map_err(|e| {
        ApiError::store(
            "reading the registration policy",
            StoreError::Corrupt(e.to_string()),
        )
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "version": version, "policy": policy }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    scope: String,
    #[serde(default)]
    label: String,
    /// When the token stops working (RFC 3339); absent: never.
    #[serde(default, rename = "expiresAt")]
    expires_at: Option<String>,
}

/// `POST /v1/admin/tokens`: a new API token, shown once.
pub async fn post_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let bytes = admin_json_body(&state, &headers, body).await?;
    let req: NewToken = parse_json(&bytes)?;
    let scope = Scope::parse(&req.scope).ok_or_else(|| {
        ApiError::bad_request(format!(
            "scope {:?}: expected read, submit or admin",
            req.scope
        ))
    })?;
    let expires_ms = match &req.expires_at {
        None => None,
        Some(t) => {
            let at = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
                ApiError::bad_request(format!("expiresAt {t:?}: not an RFC 3339 time ({e})"))
            })?;
            if at <= chrono::Utc::now() {
                return Err(
                    ApiError::bad_request(format!("expiresAt {t:?} is not in the future")).into(),
                );
            }
            Some(at.timestamp_millis())
        }
    };
    let label = req.label.clone();
    let token = state
        .blocking("creating a token", move |s| {
            s.create_token_expiring(scope, &label, expires_ms)
        })
        .await?;
    let mut body = json!({ "token": token, "scope": scope.name(), "label": req.label });
    if let Some(ms) = expires_ms {
        body["expiresAt"] = json!(millis_to_rfc3339(ms));
    }
    Ok(json_response(StatusCode::CREATED, &body))
}

/// Unknown `/v1` paths.
pub async fn not_found() -> JsonProblem {
    ApiError::not_found("no such resource").into()
}
