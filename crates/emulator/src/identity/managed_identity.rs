//! The App Service managed-identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`), as
//! `azure_identity`'s `ManagedIdentityCredential` calls it: `GET ?api-version=2019-08-01&
//! resource=…[&client_id=…|&object_id=…]` with `X-IDENTITY-HEADER`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Identity, LoggedPrincipal};

pub(crate) const PATH: &str = "/msi/token";
const API_VERSION: &str = "2019-08-01";

fn failure(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({
            "statusCode": status.as_u16(),
            "message": message,
            "correlationId": uuid::Uuid::new_v4().to_string(),
        })),
    )
        .into_response()
}

pub(super) async fn token(
    State(identity): State<Arc<Identity>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let presented = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if presented != Some(identity.identity_header.as_str()) {
        return failure(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if query.get("api-version").map(String::as_str) != Some(API_VERSION) {
        return failure(
            StatusCode::BAD_REQUEST,
            "The api-version parameter is missing or not supported; use 2019-08-01.",
        );
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return failure(
            StatusCode::BAD_REQUEST,
            "The resource parameter is required.",
        );
    };
    if !identity.is_arm_resource(resource) {
        return failure(
            StatusCode::BAD_REQUEST,
            &format!("The resource '{resource}' is not known to this tenant."),
        );
    }
    let candidates = identity.principals().iter().filter(|p| p.managed_identity);
    let chosen = if let Some(client_id) = query.get("client_id") {
        candidates
            .clone()
            .find(|p| p.client_id.eq_ignore_ascii_case(client_id))
    } else if let Some(object_id) = query.get("object_id") {
        candidates
            .clone()
            .find(|p| p.object_id().eq_ignore_ascii_case(object_id))
    } else {
        candidates.clone().next()
    };
    let Some(principal) = chosen else {
        return failure(
            StatusCode::BAD_REQUEST,
            "No managed identity matching the request is assigned to this resource.",
        );
    };
    let (access_token, expires_on) = identity.issue_access_token(principal, resource);
    let mut response = Json(json!({
        "access_token": access_token,
        // App Service answers a string here; a number fails azure_identity's parser.
        "expires_on": expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": principal.client_id,
    }))
    .into_response();
    response
        .extensions_mut()
        .insert(LoggedPrincipal(principal.client_id.clone()));
    response
}
