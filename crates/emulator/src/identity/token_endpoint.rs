//! `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant with a client secret or
//! a federated client assertion, as `azure_identity`'s `ClientSecretCredential`,
//! `ClientAssertionCredential` and `WorkloadIdentityCredential` send it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AadError, Identity, LoggedPrincipal};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(super) async fn token(
    State(identity): State<Arc<Identity>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let client = form.get("client_id").cloned();
    let mut response = match grant(&identity, &tenant, &headers, &form) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    if let Some(client) = client {
        response.extensions_mut().insert(LoggedPrincipal(client));
    }
    response
}

fn grant(
    identity: &Identity,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Response, AadError> {
    if !tenant.eq_ignore_ascii_case(&identity.tenant_id) {
        return Err(AadError::tenant_not_found(tenant));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(AadError::missing_parameter("grant_type"));
    }
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(AadError::unsupported_grant(grant_type));
    }
    let client_id = form
        .get("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing_parameter("client_id"))?;
    let scope = form
        .get("scope")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AadError::missing_parameter("scope"))?;
    let principal = identity
        .principal(client_id)
        .ok_or_else(|| AadError::unknown_client(client_id, tenant))?;

    if let Some(secret) = form.get("client_secret") {
        if principal.secret.as_deref() != Some(secret.as_str()) {
            return Err(AadError::bad_secret(client_id));
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        let kind = form
            .get("client_assertion_type")
            .map(String::as_str)
            .unwrap_or("");
        if kind != ASSERTION_TYPE {
            return Err(AadError::bad_assertion_type(kind));
        }
        if principal.federated_subject.is_none() {
            return Err(AadError::no_federated_credential(client_id));
        }
        identity.verify_assertion(assertion, principal)?;
    } else {
        return Err(AadError::no_credential());
    }

    let resource = resource_of(identity, scope, tenant)?;
    let (access_token, _) = identity.issue_access_token(principal, &resource);
    let lifetime = identity.token_lifetime_secs();
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store, no-cache")],
        Json(body),
    )
        .into_response())
}

/// The one ARM resource a client-credentials scope names (`{resource}/.default`).
fn resource_of(identity: &Identity, scope: &str, tenant: &str) -> Result<String, AadError> {
    let mut resources = scope
        .split_whitespace()
        .filter(|s| !matches!(*s, "offline_access" | "openid" | "profile"));
    let (Some(first), None) = (resources.next(), resources.next()) else {
        return Err(AadError::invalid_scope(scope));
    };
    let resource = first
        .strip_suffix("/.default")
        .ok_or_else(|| AadError::invalid_scope(first))?;
    if !identity.is_arm_resource(resource) {
        return Err(AadError::unknown_resource(resource, tenant));
    }
    Ok(resource.trim_end_matches('/').to_string())
}
