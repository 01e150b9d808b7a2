//! Admin routes under `/_emulator` (no authentication; loopback clients only): the call
//! log, fault rules, throttling and its report, API Center's contract, seeding and
//! changing APIM, and API Center snapshots.
//! Bodies are YAML or JSON.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::apim::{
    ApiPatch, ApiSeed, ApimError, ApimHandle, DefinitionUpdate, NewRevision, Seed, VersionSetSeed,
};
use crate::calls::{CallFilter, CallKind};
use crate::config::{ApicContract, BucketConfig, object_id_for};
use crate::faults::FaultRule;
use crate::front::Shared;
use crate::throttle::{Arrival, ThrottleUpdate};

pub(crate) struct AdminState {
    pub shared: Arc<Shared>,
    pub apim: ApimHandle,
    /// What `GET /_emulator/info` answers.
    pub info: Value,
}

type Admin = State<Arc<AdminState>>;

#[derive(Debug, Deserialize)]
struct WorkspaceQuery {
    workspace: Option<String>,
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn apim_error(e: ApimError) -> Response {
    let status = match e {
        ApimError::NotFound(_) => StatusCode::NOT_FOUND,
        ApimError::Conflict(_) => StatusCode::CONFLICT,
        ApimError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    fail(status, e.to_string())
}

fn bad_request(message: String) -> Response {
    fail(StatusCode::BAD_REQUEST, message)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_yaml::from_slice(body).map_err(|e| format!("invalid body: {e}"))
}

/// Parses a body describing the entity named `id` in the URL; `id` may be left out of the
/// body but must match when given.
fn parse_with_id<T: DeserializeOwned>(body: &[u8], id: &str) -> Result<T, String> {
    let mut value: serde_yaml::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_yaml::Value::Mapping(serde_yaml::Mapping::new())
    } else {
        parse(body)?
    };
    let serde_yaml::Value::Mapping(map) = &mut value else {
        return Err("the body must be a mapping".to_string());
    };
    let key = serde_yaml::Value::String("id".into());
    match map.get(&key).and_then(serde_yaml::Value::as_str) {
        Some(given) if !given.eq_ignore_ascii_case(id) => {
            return Err(format!(
                "the body's id '{given}' differs from the URL's '{id}'"
            ));
        }
        _ => {
            map.insert(key, serde_yaml::Value::String(id.to_string()));
        }
    }
    serde_yaml::from_value(value).map_err(|e| format!("invalid body: {e}"))
}

fn created_or_replaced(created: bool) -> Response {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(json!({ "created": created }))).into_response()
}

pub(crate) fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/_emulator/info", get(info))
        .route("/_emulator/calls", get(calls).delete(clear_calls))
        .route(
            "/_emulator/faults",
            get(faults).post(add_faults).delete(clear_faults),
        )
        .route("/_emulator/throttle", get(throttle).put(set_throttle))
        .route(
            "/_emulator/throttle/report",
            get(throttle_report).delete(clear_throttle_report),
        )
        .route(
            "/_emulator/apic-contract",
            get(apic_contract).put(set_apic_contract),
        )
        .route("/_emulator/seed", post(seed))
        .route("/_emulator/apim", get(apim_state))
        .route(
            "/_emulator/apim/{svc}/apis/{api}",
            put(put_api).patch(patch_api).delete(delete_api),
        )
        .route(
            "/_emulator/apim/{svc}/apis/{api}/revisions",
            post(add_revision),
        )
        .route(
            "/_emulator/apim/{svc}/apis/{api}/revisions/{rev}/make-current",
            post(make_current),
        )
        .route(
            "/_emulator/apim/{svc}/apis/{api}/definition",
            put(put_definition),
        )
        .route(
            "/_emulator/apim/{svc}/apiVersionSets/{vs}",
            put(put_version_set).delete(delete_version_set),
        )
        .route("/_emulator/apic/{service}", get(apic_snapshot))
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "no such admin route") })
        .with_state(state)
}

async fn info(State(state): Admin) -> Response {
    Json(state.info.clone()).into_response()
}

async fn calls(State(state): Admin, Query(filter): Query<CallFilter>) -> Response {
    let records: Vec<_> = state
        .shared
        .calls
        .all()
        .into_iter()
        .filter(|r| filter.matches(r))
        .collect();
    Json(json!({ "calls": records })).into_response()
}

async fn clear_calls(State(state): Admin) -> Response {
    state.shared.calls.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn faults(State(state): Admin) -> Response {
    Json(json!({ "faults": state.shared.faults.list() })).into_response()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultRule>),
    One(FaultRule),
}

async fn add_faults(State(state): Admin, body: Bytes) -> Response {
    let rules = match parse::<OneOrMany>(&body) {
        Ok(OneOrMany::One(rule)) => vec![rule],
        Ok(OneOrMany::Many(rules)) => rules,
        Err(e) => return bad_request(e),
    };
    for rule in &rules {
        if let Some(p) = rule.probability
            && !(0.0..=1.0).contains(&p)
        {
            return fail(StatusCode::BAD_REQUEST, "probability must be within [0, 1]");
        }
    }
    let added = rules.len();
    for rule in rules {
        state.shared.faults.add(rule);
    }
    (StatusCode::CREATED, Json(json!({ "added": added }))).into_response()
}

async fn clear_faults(State(state): Admin) -> Response {
    state.shared.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn throttle(State(state): Admin) -> Response {
    Json(json!(state.shared.throttle.config())).into_response()
}

/// `{enabled?, reads?, writes?, deletes?}`: what is named changes, the rest stays.
async fn set_throttle(State(state): Admin, body: Bytes) -> Response {
    let update = match parse::<ThrottleUpdate>(&body) {
        Ok(update) => update,
        Err(e) => return bad_request(e),
    };
    let buckets = [update.reads, update.writes, update.deletes];
    if !buckets.iter().flatten().all(valid_bucket) {
        return bad_request("capacity and refill_per_sec must be finite and >= 0".into());
    }
    state.shared.throttle.update(update);
    Json(json!(state.shared.throttle.config())).into_response()
}

fn valid_bucket(bucket: &BucketConfig) -> bool {
    [bucket.capacity, bucket.refill_per_sec]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0)
}

/// What the buckets did per principal (keyed by object id, with the client id the call
/// log knows it by), and the ARM requests that arrived inside a `Retry-After`.
async fn throttle_report(State(state): Admin) -> Response {
    let mut client_ids = std::collections::HashMap::new();
    let arrivals: Vec<Arrival> = state
        .shared
        .calls
        .all()
        .into_iter()
        .filter(|call| call.kind == CallKind::Arm)
        .filter_map(|call| {
            let client_id = call.principal?;
            let object_id = object_id_for(&client_id);
            client_ids.insert(object_id.clone(), client_id);
            Some(Arrival {
                object_id,
                at_ms: call.at_ms,
            })
        })
        .collect();
    let principals: serde_json::Map<String, Value> = state
        .shared
        .throttle
        .report(arrivals)
        .into_iter()
        .map(|(object_id, report)| {
            let mut report = json!(report);
            report["client_id"] = json!(client_ids.get(&object_id));
            (object_id, report)
        })
        .collect();
    Json(json!({ "principals": principals })).into_response()
}

async fn clear_throttle_report(State(state): Admin) -> Response {
    state.shared.throttle.clear_ledger();
    StatusCode::NO_CONTENT.into_response()
}

async fn apic_contract(State(state): Admin) -> Response {
    Json(json!(state.shared.apic.contract())).into_response()
}

async fn set_apic_contract(State(state): Admin, body: Bytes) -> Response {
    match parse::<ApicContract>(&body) {
        Ok(contract) => {
            state.shared.apic.set_contract(contract);
            Json(json!(state.shared.apic.contract())).into_response()
        }
        Err(e) => bad_request(e),
    }
}

async fn seed(State(state): Admin, body: Bytes) -> Response {
    let seed: Seed = match parse(&body) {
        Ok(seed) => seed,
        Err(e) => return bad_request(e),
    };
    match state.apim.replace_seed(&seed) {
        Ok(()) => {
            let services: Vec<Value> = seed
                .services
                .iter()
                .map(|s| json!({"name": s.name, "id": state.apim.resource_id(&s.name), "apis": s.apis.len()}))
                .collect();
            Json(json!({ "services": services })).into_response()
        }
        Err(e) => apim_error(e),
    }
}

async fn apim_state(State(state): Admin) -> Response {
    Json(json!(state.apim.seed())).into_response()
}

async fn put_api(
    State(state): Admin,
    Path((svc, api)): Path<(String, String)>,
    Query(ws): Query<WorkspaceQuery>,
    body: Bytes,
) -> Response {
    let seed: ApiSeed = match parse_with_id(&body, &api) {
        Ok(seed) => seed,
        Err(e) => return bad_request(e),
    };
    match state.apim.upsert_api(&svc, ws.workspace.as_deref(), &seed) {
        Ok(created) => created_or_replaced(created),
        Err(e) => apim_error(e),
    }
}

async fn patch_api(
    State(state): Admin,
    Path((svc, api)): Path<(String, String)>,
    Query(ws): Query<WorkspaceQuery>,
    body: Bytes,
) -> Response {
    let patch: ApiPatch = match parse(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    match state
        .apim
        .update_api(&svc, ws.workspace.as_deref(), &api, &patch)
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => apim_error(e),
    }
}

async fn delete_api(
    State(state): Admin,
    Path((svc, api)): Path<(String, String)>,
    Query(ws): Query<WorkspaceQuery>,
) -> Response {
    match state.apim.delete_api(&svc, ws.workspace.as_deref(), &api) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => apim_error(e),
    }
}

async fn add_revision(
    State(state): Admin,
    Path((svc, api)): Path<(String, String)>,
    Query(ws): Query<WorkspaceQuery>,
    body: Bytes,
) -> Response {
    let new: NewRevision = if body.iter().all(u8::is_ascii_whitespace) {
        NewRevision::default()
    } else {
        match parse(&body) {
            Ok(n) => n,
            Err(e) => return bad_request(e),
        }
    };
    match state
        .apim
        .add_revision(&svc, ws.workspace.as_deref(), &api, &new)
    {
        Ok(rev) => (StatusCode::CREATED, Json(json!({ "rev": rev }))).into_response(),
        Err(e) => apim_error(e),
    }
}

async fn make_current(
    State(state): Admin,
    Path((svc, api, rev)): Path<(String, String, u32)>,
    Query(ws): Query<WorkspaceQuery>,
) -> Response {
    match state
        .apim
        .make_revision_current(&svc, ws.workspace.as_deref(), &api, rev)
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => apim_error(e),
    }
}

async fn put_definition(
    State(state): Admin,
    Path((svc, api)): Path<(String, String)>,
    Query(ws): Query<WorkspaceQuery>,
    body: Bytes,
) -> Response {
    let definition: DefinitionUpdate = match parse(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(e),
    };
    match state
        .apim
        .set_definition(&svc, ws.workspace.as_deref(), &api, &definition)
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => apim_error(e),
    }
}

async fn put_version_set(
    State(state): Admin,
    Path((svc, vs)): Path<(String, String)>,
    Query(ws): Query<WorkspaceQuery>,
    body: Bytes,
) -> Response {
    let seed: VersionSetSeed = match parse_with_id(&body, &vs) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    match state
        .apim
        .upsert_version_set(&svc, ws.workspace.as_deref(), &seed)
    {
        Ok(created) => created_or_replaced(created),
        Err(e) => apim_error(e),
    }
}

async fn delete_version_set(
    State(state): Admin,
    Path((svc, vs)): Path<(String, String)>,
    Query(ws): Query<WorkspaceQuery>,
) -> Response {
    match state
        .apim
        .delete_version_set(&svc, ws.workspace.as_deref(), &vs)
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => apim_error(e),
    }
}

async fn apic_snapshot(State(state): Admin, Path(service): Path<String>) -> Response {
    match state.shared.apic.snapshot(&service) {
        Some(snapshot) => Json(snapshot).into_response(),
        None => fail(
            StatusCode::NOT_FOUND,
            format!("no API Center service '{service}'"),
        ),
    }
}
