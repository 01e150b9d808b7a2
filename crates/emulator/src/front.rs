//! What happens to every request before and after its route: classification, faults,
//! ARM's request ids, authentication, api-version, RBAC, throttling, and the call log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri, header};
use axum::response::IntoResponse;
use serde_json::json;
use tower::ServiceExt;

use crate::apic::{ApiCenter, OperationFault};
use crate::arm::{APIC_API_VERSION, APIM_API_VERSION, ArmError};
use crate::arm_path::{
    APIC_NAMESPACE, APIM_NAMESPACE, AUTHORIZATION_NAMESPACE, ArmPath, canonicalize,
};
use crate::calls::{CallKind, CallLog, CallRecord};
use crate::config::Principal;
use crate::faults::{FaultKind, FaultSet};
use crate::identity::{
    AccessTokenError, Identity, LoggedPrincipal, MANAGED_IDENTITY_PATH, TokenClaims,
};
use crate::permissions::{self, AUTHORIZATION_API_VERSIONS};
use crate::rbac;
use crate::throttle::{Category, Throttle, Verdict, throttled_message};

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// State every request may touch.
pub(crate) struct Shared {
    pub subscription_id: String,
    pub resource_group: String,
    /// `host:port` of the listener, for requests that carry no Host header.
    pub authority: String,
    /// `https://host:port/`.
    pub origin: String,
    pub identity: Arc<Identity>,
    pub faults: FaultSet,
    pub calls: CallLog,
    pub throttle: Throttle,
    pub apic: Arc<ApiCenter>,
}

pub(crate) struct Routers {
    pub identity: Router,
    pub blobs: Router,
    pub apim: Router,
    pub apic: Router,
    pub admin: Router,
}

pub(crate) struct Front {
    pub shared: Arc<Shared>,
    pub routers: Routers,
}

fn classify(path: &str) -> CallKind {
    if path.starts_with("/_emulator/") || path == "/_emulator" {
        CallKind::Admin
    } else if path.starts_with(crate::links::PREFIX) {
        CallKind::ExportLink
    } else if path == MANAGED_IDENTITY_PATH {
        CallKind::ManagedIdentity
    } else if path.contains("/oauth2/") {
        CallKind::Token
    } else {
        CallKind::Arm
    }
}

fn epoch_ms() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn set_header(response: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), v);
    }
}

async fn route(router: &Router, request: Request<Body>) -> Response<Body> {
    let result: Result<Response<Body>, Infallible> = router.clone().oneshot(request).await;
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

impl Front {
    pub async fn handle(
        &self,
        request: Request<hyper::body::Incoming>,
        peer: SocketAddr,
    ) -> Result<Response<Body>, DropConnection> {
        let started = Instant::now();
        let mut record = CallRecord {
            seq: self.shared.calls.next_seq(),
            at_ms: epoch_ms(),
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or("").to_string(),
            status: 0,
            principal: None,
            kind: classify(request.uri().path()),
            fault: None,
            duration_ms: 0,
            request_id: None,
        };
        let mut request = request.map(Body::new);
        if !request.headers().contains_key(header::HOST)
            && let Ok(v) = HeaderValue::from_str(&self.shared.authority)
        {
            request.headers_mut().insert(header::HOST, v);
        }

        let response = if record.kind == CallKind::Admin {
            if peer.ip().is_loopback() {
                route(&self.routers.admin, request).await
            } else {
                (
                    StatusCode::FORBIDDEN,
                    "admin routes answer loopback clients only",
                )
                    .into_response()
            }
        } else {
            if record.kind == CallKind::Arm {
                record.principal = self
                    .shared
                    .identity
                    .verify_authorization(header_text(request.headers(), "authorization"))
                    .ok()
                    .map(|c| c.client_id);
            }
            let decision = self.shared.faults.decide(&record.method, &record.path);
            record.fault = decision.label();
            if decision.latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
            }
            match decision.action {
                Some(FaultKind::DropConnection) => {
                    record.duration_ms = elapsed_ms(started);
                    self.shared.calls.push(record);
                    return Err(DropConnection);
                }
                Some(FaultKind::Status {
                    status,
                    code,
                    retry_after_secs,
                }) => {
                    let mut response = injected(record.kind, status, &code, retry_after_secs);
                    if record.kind == CallKind::Arm {
                        record.request_id = Some(arm_ids(request.headers(), &mut response));
                    }
                    response
                }
                other => {
                    let operation_fault = other.and_then(operation_fault);
                    match record.kind {
                        CallKind::Arm => self.arm(request, &mut record, operation_fault).await,
                        CallKind::Token | CallKind::ManagedIdentity => {
                            route(&self.routers.identity, request).await
                        }
                        CallKind::ExportLink => route(&self.routers.blobs, request).await,
                        CallKind::Admin => route(&self.routers.admin, request).await,
                    }
                }
            }
        };
        record.status = response.status().as_u16();
        if let Some(p) = response.extensions().get::<LoggedPrincipal>() {
            record.principal = Some(p.0.clone());
        }
        record.duration_ms = elapsed_ms(started);
        self.shared.calls.push(record);
        Ok(response)
    }

    async fn arm(
        &self,
        request: Request<Body>,
        record: &mut CallRecord,
        operation_fault: Option<OperationFault>,
    ) -> Response<Body> {
        let headers = request.headers().clone();
        let mut response = self.arm_checked(request, operation_fault).await;
        record.request_id = Some(arm_ids(&headers, &mut response));
        response
    }

    async fn arm_checked(
        &self,
        mut request: Request<Body>,
        operation_fault: Option<OperationFault>,
    ) -> Response<Body> {
        let shared = &self.shared;
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let parsed = ArmPath::parse(&path);

        let claims = match shared
            .identity
            .verify_authorization(header_text(request.headers(), "authorization"))
        {
            Ok(claims) => claims,
            Err(e) => return unauthorized(&e, &shared.origin, &shared.identity.tenant_id),
        };
        let api_version = match check_api_version(&parsed, request.uri().query().unwrap_or("")) {
            Ok(version) => version,
            Err(e) => return e.into_response(),
        };
        let Some(principal) = shared.identity.principal(&claims.client_id) else {
            return unauthorized(
                &AccessTokenError::Invalid("the client no longer exists".into()),
                &shared.origin,
                &shared.identity.tenant_id,
            );
        };
        if let Err(e) = authorize(principal, &claims, &parsed, &path, &method)
            .and_then(|()| self.check_scope_exists(&parsed))
        {
            return e.into_response();
        }
        let category = Category::of(&method);
        let remaining = match shared.throttle.take(&claims.object_id, category) {
            Verdict::Allowed { remaining } => remaining,
            Verdict::Throttled { retry_after_secs } => {
                return self.throttled(&claims.object_id, category, retry_after_secs);
            }
        };
        // Only a request that gets this far can start an operation; the fault travels
        // with it so that it touches that operation and no other.
        if let Some(fault) = operation_fault {
            request.extensions_mut().insert(fault);
        }
        let mut response = if parsed.is_namespace(AUTHORIZATION_NAMESPACE) {
            match permissions::answer(&parsed, &method, principal, &api_version) {
                Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
                Err(e) => e.into_response(),
            }
        } else {
            self.route_to_provider(request, &parsed, &path).await
        };
        set_ratelimit(&mut response, category, remaining);
        response
    }

    /// 404 for a subscription or resource group the emulator does not have.
    fn check_scope_exists(&self, parsed: &ArmPath) -> Result<(), ArmError> {
        if let Some(sub) = &parsed.subscription
            && !sub.eq_ignore_ascii_case(&self.shared.subscription_id)
        {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                format!("The subscription '{sub}' could not be found."),
            ));
        }
        if let Some(rg) = &parsed.resource_group
            && !rg.eq_ignore_ascii_case(&self.shared.resource_group)
        {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "ResourceGroupNotFound",
                format!("Resource group '{rg}' could not be found."),
            ));
        }
        Ok(())
    }

    /// ARM's 429 for a principal whose `category` bucket is empty.
    fn throttled(
        &self,
        object_id: &str,
        category: Category,
        retry_after_secs: u64,
    ) -> Response<Body> {
        let mut response = ArmError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "SubscriptionRequestsThrottled",
            throttled_message(
                category,
                &self.shared.subscription_id,
                object_id,
                retry_after_secs,
            ),
        )
        .into_response();
        set_header(&mut response, "retry-after", &retry_after_secs.to_string());
        set_ratelimit(&mut response, category, 0);
        response
    }

    /// Hands the request, with its path in canonical spelling, to the provider's router.
    async fn route_to_provider(
        &self,
        mut request: Request<Body>,
        parsed: &ArmPath,
        path: &str,
    ) -> Response<Body> {
        let canonical = canonicalize(
            path,
            &self.shared.subscription_id,
            &self.shared.resource_group,
        );
        if canonical != path {
            let rebuilt = match request.uri().query() {
                Some(q) => format!("{canonical}?{q}"),
                None => canonical,
            };
            if let Ok(uri) = rebuilt.parse::<Uri>() {
                *request.uri_mut() = uri;
            }
        }
        if parsed.is_namespace(APIC_NAMESPACE) {
            route(&self.routers.apic, request).await
        } else {
            route(&self.routers.apim, request).await
        }
    }
}

/// ARM's RBAC decision: 403 `AuthorizationFailed` unless a role of `principal` grants the
/// request's action over its scope. Operation-status URLs are authorized by the operation.
fn authorize(
    principal: &Principal,
    claims: &TokenClaims,
    parsed: &ArmPath,
    path: &str,
    method: &http::Method,
) -> Result<(), ArmError> {
    if parsed.is_operation_status() {
        return Ok(());
    }
    let action = parsed.action(method);
    let scope = parsed.scope(path, method);
    if rbac::is_allowed(principal, &action, &scope) {
        return Ok(());
    }
    Err(ArmError::new(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        rbac::denied_message(&principal.client_id, &claims.object_id, &action, &scope),
    ))
}

/// The part of a fault that concerns the operation a request starts, if any.
fn operation_fault(kind: FaultKind) -> Option<OperationFault> {
    match kind {
        FaultKind::SlowLro { extra_polls } => Some(OperationFault {
            extra_polls,
            failure: None,
        }),
        FaultKind::ImportFails { code, message } => {
            let message = if message.is_empty() {
                format!("Injected fault: the import failed with {code}.")
            } else {
                message
            };
            Some(OperationFault {
                extra_polls: 0,
                failure: Some(ArmError::new(StatusCode::BAD_REQUEST, &code, message)),
            })
        }
        FaultKind::Status { .. } | FaultKind::Latency { .. } | FaultKind::DropConnection => None,
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn set_ratelimit(response: &mut Response<Body>, category: Category, remaining: u64) {
    let name = match category {
        Category::Reads => "x-ms-ratelimit-remaining-subscription-reads",
        Category::Writes => "x-ms-ratelimit-remaining-subscription-writes",
        Category::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
    };
    set_header(response, name, &remaining.to_string());
}

/// Adds ARM's request-id headers; returns the request id.
fn arm_ids(request_headers: &HeaderMap, response: &mut Response<Body>) -> String {
    let request_id = uuid::Uuid::new_v4().to_string();
    let correlation = header_text(request_headers, "x-ms-correlation-request-id")
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    set_header(response, "x-ms-request-id", &request_id);
    set_header(response, "x-ms-correlation-request-id", &correlation);
    set_header(
        response,
        "x-ms-routing-request-id",
        &format!(
            "WESTEUROPE:{}:{request_id}",
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
        ),
    );
    if let Some(client) = header_text(request_headers, "x-ms-client-request-id") {
        set_header(response, "x-ms-client-request-id", client);
    }
    request_id
}

/// The api-versions a provider accepts; `None` for paths outside the emulated providers.
fn supported_api_versions(parsed: &ArmPath) -> Option<&'static [&'static str]> {
    if parsed.is_namespace(APIM_NAMESPACE) {
        Some(&[APIM_API_VERSION])
    } else if parsed.is_namespace(APIC_NAMESPACE) {
        Some(&[APIC_API_VERSION])
    } else if parsed.is_namespace(AUTHORIZATION_NAMESPACE) {
        Some(AUTHORIZATION_API_VERSIONS)
    } else {
        None
    }
}

/// The request's api-version when its provider supports it.
fn check_api_version(parsed: &ArmPath, query: &str) -> Result<String, ArmError> {
    let given: Option<String> = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.into_owned());
    let Some(version) = given.filter(|v| !v.is_empty()) else {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let Some(supported) = supported_api_versions(parsed) else {
        return Ok(version);
    };
    if !supported.contains(&version.as_str()) {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{version}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        ));
    }
    Ok(version)
}

fn unauthorized(error: &AccessTokenError, origin: &str, tenant: &str) -> Response<Body> {
    let (code, message) = match error {
        AccessTokenError::Missing => (
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".to_string(),
        ),
        AccessTokenError::BadFormat => (
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format."
                .to_string(),
        ),
        AccessTokenError::Invalid(why) => (
            "InvalidAuthenticationToken",
            format!("The access token is invalid: {why}."),
        ),
        AccessTokenError::WrongAudience(aud) => (
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences '{origin}','https://management.azure.com/','https://management.core.windows.net/'."
            ),
        ),
        AccessTokenError::WrongTenant(issuer) => (
            "InvalidAuthenticationTokenTenant",
            format!(
                "The access token is from the wrong issuer '{issuer}'. It must match the tenant 'https://sts.windows.net/{tenant}/' associated with this subscription."
            ),
        ),
        AccessTokenError::Expired { expired_at, now } => (
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                crate::identity::rfc3339(*expired_at),
                crate::identity::rfc3339(*now)
            ),
        ),
    };
    let mut response = ArmError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    let description = match error {
        AccessTokenError::Missing => {
            "The authentication failed because of missing 'Authorization' header."
        }
        AccessTokenError::Expired { .. } => "The access token has expired.",
        _ => "The access token is invalid.",
    };
    let challenge = format!(
        "Bearer authorization_uri=\"{}{tenant}\", error=\"invalid_token\", error_description=\"{description}\"",
        origin
    );
    set_header(&mut response, "www-authenticate", &challenge);
    response
}

/// The answer of an injected status fault.
fn injected(
    kind: CallKind,
    status: u16,
    code: &str,
    retry_after_secs: Option<u64>,
) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if kind == CallKind::Token {
        (
            status,
            axum::Json(json!({
                "error": code,
                "error_description": format!("AADSTS90033: A transient error has occurred (injected {}). Please try again.", status.as_u16()),
                "error_codes": [90033],
            })),
        )
            .into_response()
    } else {
        ArmError::new(
            status,
            code,
            format!(
                "Injected fault: the request was answered with {}.",
                status.as_u16()
            ),
        )
        .into_response()
    };
    if let Some(secs) = retry_after_secs {
        set_header(&mut response, "retry-after", &secs.to_string());
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify("/_emulator/calls"), CallKind::Admin);
        assert_eq!(classify("/t/oauth2/v2.0/token"), CallKind::Token);
        assert_eq!(classify("/msi/token"), CallKind::ManagedIdentity);
        assert_eq!(classify("/_blob/api-export/x/y"), CallKind::ExportLink);
        assert_eq!(classify("/subscriptions/x"), CallKind::Arm);
        assert_eq!(classify("/"), CallKind::Arm);
    }

    #[test]
    fn api_versions_are_checked_per_provider() {
        let apim = ArmPath::parse(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/x",
        );
        let apic = ArmPath::parse(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiCenter/services/x",
        );
        assert!(check_api_version(&apim, "api-version=2024-05-01").is_ok());
        assert_eq!(
            check_api_version(&apim, "").unwrap_err().code,
            "MissingApiVersionParameter"
        );
        let wrong = check_api_version(&apim, "api-version=2024-03-01").unwrap_err();
        assert_eq!(wrong.code, "InvalidApiVersionParameter");
        assert!(wrong.message.contains("2024-05-01"));
        assert!(check_api_version(&apic, "api-version=2024-03-01").is_ok());
        assert!(check_api_version(&apic, "api-version=2024-05-01").is_err());
        let permissions = ArmPath::parse(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiCenter/services/x/providers/Microsoft.Authorization/permissions",
        );
        for version in ["2022-04-01", "2018-07-01", "2015-07-01"] {
            assert_eq!(
                check_api_version(&permissions, &format!("api-version={version}")).unwrap(),
                version
            );
        }
        let wrong = check_api_version(&permissions, "api-version=2024-03-01").unwrap_err();
        assert_eq!(
            wrong.message,
            "The api-version '2024-03-01' is invalid. The supported versions are '2022-04-01,2018-07-01,2015-07-01'."
        );
    }
}
