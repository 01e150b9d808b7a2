//! Errors of the ARM client and their classes (retry fast, retry slow, needs the user,
//! not found, conflict), in the manner of ASO v2's classification: the
//! inner ARM error code decides first, the HTTP status second.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// The classes live in `apilink-core` so the engine and the controller share them;
/// this crate decides which class an answer falls in.
pub use apilink_core::ErrorClass;

/// The ARM error object: `{"error": {code, message, target?, details?, additionalInfo?}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmErrorBody {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `details` may be absent, `null` or an array: all three read as a (possibly empty) list.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub details: Vec<ArmErrorBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<serde_json::Value>,
}

fn null_as_empty<'de, D>(deserializer: D) -> Result<Vec<ArmErrorBody>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<Vec<ArmErrorBody>>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ArmErrorBody>,
}

impl ArmErrorBody {
    /// Reads an ARM error body. Some resource providers answer with the inner object
    /// at the top level, so that shape is accepted too. `None` when the body carries
    /// no error code at all (e.g. an HTML page from a proxy).
    pub fn parse(body: &[u8]) -> Option<Self> {
        if let Ok(ErrorEnvelope { error: Some(error) }) = serde_json::from_slice(body)
            && !error.code.is_empty()
        {
            return Some(error);
        }
        match serde_json::from_slice::<ArmErrorBody>(body) {
            Ok(error) if !error.code.is_empty() => Some(error),
            _ => None,
        }
    }
}

/// The kind of a transport failure (no HTTP answer was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Connect,
    Timeout,
    /// The server's certificate could not be verified (unknown CA, wrong host, expired).
    Tls,
    Other,
}

/// An ARM error answer, with what is needed to report it and open a support case.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{method} {path}: HTTP {status} {code}: {message} (x-ms-request-id: {request_id})",
    code = error.code,
    message = error.message,
    request_id = request_id.as_deref().unwrap_or("none"),
)]
pub struct HttpError {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub error: ArmErrorBody,
    pub request_id: Option<String>,
    pub client_request_id: String,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// No HTTP answer: connection, timeout, TLS or body read failure.
    #[error("{method} {path}: transport error ({kind:?}): {message}")]
    Transport {
        method: String,
        path: String,
        kind: TransportKind,
        message: String,
    },

    /// ARM answered with an error status.
    #[error("{0}")]
    Http(Box<HttpError>),

    /// A token could not be acquired.
    #[error("token acquisition failed: {message}")]
    Auth {
        message: String,
        /// The token endpoint answered with this status (None: no answer).
        status: Option<u16>,
        /// The failure was an untrusted certificate on the token endpoint.
        tls: bool,
    },

    /// An operation did not finish within its deadline.
    #[error("{operation} did not finish within {after:?}")]
    Deadline { operation: String, after: Duration },

    /// A long-running operation ended in `Failed` or `Canceled`.
    #[error("long-running operation {status}: {code}: {message}", code = error.code, message = error.message)]
    OperationFailed {
        status: String,
        error: Box<ArmErrorBody>,
        request_id: Option<String>,
    },

    /// ARM answered 2xx with a body we could not read.
    #[error("{method} {path}: unreadable response: {message}")]
    InvalidResponse {
        method: String,
        path: String,
        message: String,
    },

    /// The caller passed something unusable (bad resource id, bad name, bad config).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// An export link pointing outside the cloud's storage: never followed. `host` is
    /// shown, never the path or its signature.
    #[error("ExportLinkRefused: not following the export link to {host}: {why}")]
    ExportLinkRefused { host: String, why: String },

    /// API Center accepted an importSpecification and then reported that the import
    /// failed (the document, or the link to it, is the problem). Fixing it is up to
    /// whoever owns the document, so it is not retried like a transient failure.
    #[error("{0}")]
    ImportFailed(Box<ImportFailure>),

    /// API Center accepted a write of `entity` but its answer lacks the custom property
    /// `property` the write carried: the service drops custom properties no metadata
    /// schema assigned to the entity kind declares.
    #[error(
        "CustomPropertyDropped: API Center did not keep customProperties.{property} written to {entity}: the metadata schema {property} must exist and be assigned to that entity kind"
    )]
    CustomPropertyDropped { entity: String, property: String },
}

/// Why API Center could not import a specification into one definition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "importSpecification into {definition} failed: {code}: {message} (x-ms-request-id: {request_id})",
    code = error.code,
    message = error.message,
    request_id = request_id.as_deref().unwrap_or("none"),
)]
pub struct ImportFailure {
    /// The service-relative definition path, e.g.
    /// `/workspaces/default/apis/echo/versions/v1/definitions/openapi`.
    pub definition: String,
    /// The HTTP status of the answer that reported the failure: the error status of a
    /// `Location` poll, or 200 for an operation status or a synchronous answer.
    pub status: u16,
    pub error: ArmErrorBody,
    pub request_id: Option<String>,
}

impl ImportFailure {
    /// The ARM error code the service gave (e.g. `InvalidApiSpecification`).
    pub fn code(&self) -> &str {
        &self.error.code
    }

    /// The service's explanation, for a status message.
    pub fn message(&self) -> &str {
        &self.error.message
    }

    /// `x-ms-request-id` of the answer that reported the failure.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    pub fn definition(&self) -> &str {
        &self.definition
    }

    /// Only a code that says "try again" (or "gone", "busy") keeps its class: whatever
    /// else makes an accepted import fail is in the document or its link, and retrying
    /// the same document every few seconds would only repeat the failure.
    pub fn class(&self) -> ErrorClass {
        let code = self.error.code.as_str();
        if code_is(code, THROTTLE_CODES) {
            return ErrorClass::RetrySlow;
        }
        if code_is(code, TRANSIENT_OPERATION_CODES) {
            return ErrorClass::RetryFast;
        }
        match classify(400, code) {
            class @ (ErrorClass::RetryFast | ErrorClass::NotFound | ErrorClass::Conflict) => class,
            _ => ErrorClass::NeedsUser,
        }
    }
}

/// Code given to a failed download of an APIM export link (not an ARM code: the
/// link points at blob storage, and a new export gives a new link).
pub const EXPORT_LINK_FAILED: &str = "ExportLinkFailed";

/// ARM codes that mean "the request itself is wrong": retrying cannot help.
const FATAL_CODES: &[&str] = &[
    "InvalidRequestContent",
    "ValidationError",
    "MissingRequiredParameter",
    "PropertyChangeNotAllowed",
    "InvalidRequestFormat",
    "InvalidApiVersionParameter",
    "MissingApiVersionParameter",
    "InvalidResourceName",
    "LinkedInvalidPropertyId",
    "UnsupportedMediaType",
];

/// ARM codes that are probably the user's problem but sometimes clear by themselves.
const VERY_SLOW_CODES: &[&str] = &[
    "BadRequest",
    "InvalidParameter",
    "ScopeLocked",
    "SubscriptionNotFound",
    "MissingSubscriptionRegistration",
    "RequestDisallowedByPolicy",
    "ResourceQuotaExceeded",
    "QuotaExceeded",
];

const THROTTLE_CODES: &[&str] = &[
    "SubscriptionRequestsThrottled",
    "TooManyRequests",
    "ResourceRequestsThrottled",
    "ResourceCollectionRequestsThrottled",
    "TenantRequestsThrottled",
];

/// Codes an operation reports when the service itself failed, not the request.
const TRANSIENT_OPERATION_CODES: &[&str] = &[
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "GatewayTimeout",
];

const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFound",
    "NotFound",
    "ParentResourceNotFound",
    "ResourceGroupNotFound",
];

fn code_is(code: &str, list: &[&str]) -> bool {
    list.iter().any(|c| c.eq_ignore_ascii_case(code))
}

impl AzureError {
    /// The class of this error: the inner ARM error code decides first, then the status.
    pub fn class(&self) -> ErrorClass {
        match self {
            AzureError::Transport { kind, .. } => match kind {
                TransportKind::Tls => ErrorClass::NeedsUser,
                _ => ErrorClass::RetryFast,
            },
            AzureError::Http(e) => classify(e.status, &e.error.code),
            AzureError::Auth { status, tls, .. } => match (status, tls) {
                (_, true) => ErrorClass::NeedsUser,
                (Some(s), _) if *s == 429 || *s >= 500 => ErrorClass::RetrySlow,
                (None, _) => ErrorClass::RetrySlow,
                _ => ErrorClass::NeedsUser,
            },
            AzureError::Deadline { .. } => ErrorClass::RetrySlow,
            // A failed operation without a recognised code is treated like an unknown 400.
            AzureError::OperationFailed { error, .. } => classify(400, &error.code),
            AzureError::InvalidResponse { .. } => ErrorClass::RetrySlow,
            AzureError::InvalidInput(_) | AzureError::ExportLinkRefused { .. } => {
                ErrorClass::NeedsUser
            }
            AzureError::ImportFailed(failure) => failure.class(),
            AzureError::CustomPropertyDropped { .. } => ErrorClass::NeedsUser,
        }
    }

    /// A stable PascalCase reason, suitable for a Kubernetes condition.
    pub fn reason(&self) -> &'static str {
        match self {
            AzureError::Transport { kind, .. } => match kind {
                TransportKind::Tls => "TlsCertificateUntrusted",
                TransportKind::Timeout => "AzureTimeout",
                _ => "AzureUnavailable",
            },
            AzureError::Http(e) => reason_for(e.status, &e.error.code),
            AzureError::Auth { tls: true, .. } => "TlsCertificateUntrusted",
            AzureError::Auth { .. } => "AuthenticationFailed",
            AzureError::Deadline { .. } => "AzureTimeout",
            AzureError::OperationFailed { error, .. } => match reason_for(400, &error.code) {
                "AzureRequestFailed" => "OperationFailed",
                other => other,
            },
            AzureError::InvalidResponse { .. } => "AzureInvalidResponse",
            AzureError::InvalidInput(_) => "InvalidSpec",
            AzureError::ExportLinkRefused { .. } => "ExportLinkRefused",
            AzureError::ImportFailed(failure) => match reason_for(400, failure.code()) {
                "AzureRequestFailed" | "InvalidRequest" => "SpecificationImportFailed",
                other => other,
            },
            AzureError::CustomPropertyDropped { .. } => "CustomPropertyDropped",
        }
    }

    /// How long a controller should wait before trying again; `None` means "not until
    /// the spec changes". `AuthorizationFailed` is retried slowly because role
    /// assignments take minutes to propagate.
    pub fn requeue_hint(&self) -> Option<Duration> {
        if let AzureError::Http(e) = self
            && let Some(after) = e.retry_after
        {
            return Some(after);
        }
        let code = self.arm_code().unwrap_or_default();
        if code.eq_ignore_ascii_case("AuthorizationFailed") {
            return Some(Duration::from_secs(180));
        }
        match self.class() {
            ErrorClass::RetryFast => Some(Duration::from_secs(5)),
            ErrorClass::Conflict => Some(Duration::from_secs(1)),
            ErrorClass::RetrySlow => Some(Duration::from_secs(60)),
            ErrorClass::NotFound => Some(Duration::from_secs(30)),
            ErrorClass::NeedsUser => match self {
                AzureError::Auth { .. } => Some(Duration::from_secs(180)),
                // The document is fixed in APIM, not in the link's spec: try again slowly.
                AzureError::ImportFailed(_) => Some(Duration::from_secs(300)),
                // Fixed in API Center (a metadata schema), not in the link's spec.
                AzureError::CustomPropertyDropped { .. } => Some(Duration::from_secs(300)),
                _ => None,
            },
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.class() == ErrorClass::NotFound
    }

    pub fn is_throttled(&self) -> bool {
        self.reason() == "AzureThrottled"
    }

    /// HTTP status of an ARM answer, if this error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            AzureError::Http(e) => Some(e.status),
            AzureError::Auth { status, .. } => *status,
            _ => None,
        }
    }

    /// The inner ARM error code, if any.
    pub fn arm_code(&self) -> Option<&str> {
        match self {
            AzureError::Http(e) => Some(e.error.code.as_str()),
            AzureError::OperationFailed { error, .. } => Some(error.code.as_str()),
            AzureError::ImportFailed(failure) => Some(failure.code()),
            _ => None,
        }
    }

    /// The ARM error message (for `AuthorizationFailed` it names the missing action and
    /// scope, which is what a status message should tell the user).
    pub fn arm_message(&self) -> Option<&str> {
        match self {
            AzureError::Http(e) => Some(e.error.message.as_str()),
            AzureError::OperationFailed { error, .. } => Some(error.message.as_str()),
            AzureError::ImportFailed(failure) => Some(failure.message()),
            _ => None,
        }
    }

    /// The import failure, when this error is one.
    pub fn import_failure(&self) -> Option<&ImportFailure> {
        match self {
            AzureError::ImportFailed(failure) => Some(failure),
            _ => None,
        }
    }

    /// What the user has to do, when the error says it: for `AuthorizationFailed`, the
    /// built-in role that grants what apilink needs on the service that refused.
    pub fn remedy(&self) -> Option<&'static str> {
        if let AzureError::CustomPropertyDropped { .. } = self {
            return Some(
                "a metadata schema named like the custom property must exist in API Center and be assigned to this entity kind (api, environment or deployment); create or assign it (Azure API Center > Metadata), or grant the identity Microsoft.ApiCenter/services/metadataSchemas/write so apilink creates it",
            );
        }
        if self.reason() != "AuthorizationFailed" {
            return None;
        }
        let (path, message) = match self {
            AzureError::Http(e) => (e.path.as_str(), e.error.message.as_str()),
            _ => ("", self.arm_message().unwrap_or("")),
        };
        let names = |provider: &str| {
            contains_ignore_case(message, provider) || contains_ignore_case(path, provider)
        };
        if names("Microsoft.ApiManagement/gateways") || names("/configConnections") {
            // Workspace gateways are resources of their own, outside the APIM service:
            // the service-level reader role does not reach them.
            Some(
                "grant the identity Reader on the APIM workspace gateways (or their resource group): their config connections give the runtime host of workspace APIs",
            )
        } else if names("Microsoft.ApiManagement") {
            Some(
                "grant the identity the \"API Management Service Reader Role\" (or Reader) on the APIM service",
            )
        } else if names("Microsoft.ApiCenter/services/metadataSchemas")
            || (names("Microsoft.ApiCenter") && names("/metadataSchemas"))
        {
            // Metadata schemas live on the service, not in a workspace: a role assigned
            // on a workspace does not cover them.
            Some(
                "grant the identity the \"Azure API Center Service Contributor\" role (or Contributor) on the API Center service itself: metadata schemas are service-level, so Microsoft.ApiCenter/services/metadataSchemas/write needs an assignment on the service, not on a workspace",
            )
        } else if names("Microsoft.ApiCenter") {
            Some(
                "grant the identity the \"Azure API Center Service Contributor\" role (or Contributor) on the API Center service",
            )
        } else {
            None
        }
    }

    /// `x-ms-request-id` of the failing answer, for support cases.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            AzureError::Http(e) => e.request_id.as_deref(),
            AzureError::OperationFailed { request_id, .. } => request_id.as_deref(),
            AzureError::ImportFailed(failure) => failure.request_id(),
            _ => None,
        }
    }
}

/// Class of an ARM answer from its inner code, then its status.
pub fn classify(status: u16, code: &str) -> ErrorClass {
    if code_is(code, FATAL_CODES) {
        return ErrorClass::NeedsUser;
    }
    if code.eq_ignore_ascii_case("AuthorizationFailed")
        || code.eq_ignore_ascii_case("LinkedAuthorizationFailed")
        || code.eq_ignore_ascii_case("AuthenticationFailed")
        || code.eq_ignore_ascii_case("InvalidAuthenticationToken")
        || code.eq_ignore_ascii_case("InvalidAuthenticationTokenTenant")
    {
        return ErrorClass::NeedsUser;
    }
    if code.eq_ignore_ascii_case("ExpiredAuthenticationToken")
        || code.eq_ignore_ascii_case(EXPORT_LINK_FAILED)
    {
        // A fresh token, or a fresh export link, fixes it.
        return ErrorClass::RetryFast;
    }
    if code_is(code, THROTTLE_CODES) {
        return ErrorClass::RetrySlow;
    }
    if code.eq_ignore_ascii_case("AnotherOperationInProgress") {
        return ErrorClass::RetryFast;
    }
    if code.eq_ignore_ascii_case("PreconditionFailed") || code.eq_ignore_ascii_case("Conflict") {
        return ErrorClass::Conflict;
    }
    if code_is(code, NOT_FOUND_CODES) {
        return ErrorClass::NotFound;
    }
    if code_is(code, VERY_SLOW_CODES) {
        return ErrorClass::RetrySlow;
    }
    match status {
        404 => ErrorClass::NotFound,
        409 | 412 => ErrorClass::Conflict,
        429 => ErrorClass::RetrySlow,
        401 | 403 => ErrorClass::NeedsUser,
        408 => ErrorClass::RetryFast,
        s if s >= 500 => ErrorClass::RetryFast,
        _ => ErrorClass::RetrySlow,
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// Stable PascalCase reason of an ARM answer.
pub fn reason_for(status: u16, code: &str) -> &'static str {
    if code.eq_ignore_ascii_case(EXPORT_LINK_FAILED) {
        return EXPORT_LINK_FAILED;
    }
    if code_is(code, FATAL_CODES) {
        return "InvalidRequest";
    }
    if code.eq_ignore_ascii_case("AuthorizationFailed")
        || code.eq_ignore_ascii_case("LinkedAuthorizationFailed")
    {
        return "AuthorizationFailed";
    }
    if code.eq_ignore_ascii_case("AuthenticationFailed")
        || code.eq_ignore_ascii_case("InvalidAuthenticationToken")
        || code.eq_ignore_ascii_case("InvalidAuthenticationTokenTenant")
        || code.eq_ignore_ascii_case("ExpiredAuthenticationToken")
    {
        return "AuthenticationFailed";
    }
    if code_is(code, THROTTLE_CODES) || status == 429 {
        return "AzureThrottled";
    }
    if code.eq_ignore_ascii_case("AnotherOperationInProgress") {
        return "AnotherOperationInProgress";
    }
    if code.eq_ignore_ascii_case("PreconditionFailed") || status == 412 {
        return "PreconditionFailed";
    }
    if code.eq_ignore_ascii_case("Conflict") || status == 409 {
        return "Conflict";
    }
    if code_is(code, NOT_FOUND_CODES) || status == 404 {
        return "NotFound";
    }
    if code.eq_ignore_ascii_case("RequestDisallowedByPolicy") {
        return "PolicyDenied";
    }
    if code.eq_ignore_ascii_case("ResourceQuotaExceeded")
        || code.eq_ignore_ascii_case("QuotaExceeded")
    {
        return "QuotaExceeded";
    }
    if code.eq_ignore_ascii_case("ScopeLocked") {
        return "ScopeLocked";
    }
    if code.eq_ignore_ascii_case("MissingSubscriptionRegistration")
        || code.eq_ignore_ascii_case("SubscriptionNotFound")
    {
        return "SubscriptionNotReady";
    }
    if code_is(code, VERY_SLOW_CODES) {
        return "InvalidRequest";
    }
    match status {
        401 => "AuthenticationFailed",
        403 => "AuthorizationFailed",
        408 => "AzureTimeout",
        s if s >= 500 => "AzureUnavailable",
        _ => "AzureRequestFailed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, code: &str) -> AzureError {
        AzureError::Http(Box::new(HttpError {
            method: "GET".into(),
            path: "/x".into(),
            status,
            error: ArmErrorBody {
                code: code.into(),
                message: "m".into(),
                ..Default::default()
            },
            request_id: Some("rid".into()),
            client_request_id: "cid".into(),
            retry_after: None,
        }))
    }

    #[test]
    fn details_absent_null_or_array() {
        let absent = ArmErrorBody::parse(br#"{"error":{"code":"A","message":"m"}}"#).unwrap();
        assert!(absent.details.is_empty());
        let null =
            ArmErrorBody::parse(br#"{"error":{"code":"A","message":"m","details":null}}"#).unwrap();
        assert!(null.details.is_empty());
        let array = ArmErrorBody::parse(
            br#"{"error":{"code":"A","message":"m","target":"t","details":[{"code":"B","message":"n"}]}}"#,
        )
        .unwrap();
        assert_eq!(array.details.len(), 1);
        assert_eq!(array.details[0].code, "B");
        assert_eq!(array.target.as_deref(), Some("t"));
    }

    #[test]
    fn top_level_error_shape_and_garbage() {
        let flat = ArmErrorBody::parse(br#"{"code":"Flat","message":"m"}"#).unwrap();
        assert_eq!(flat.code, "Flat");
        assert!(ArmErrorBody::parse(b"<html>bad gateway</html>").is_none());
        assert!(ArmErrorBody::parse(br#"{"value":[]}"#).is_none());
    }

    #[test]
    fn code_decides_before_status() {
        assert_eq!(classify(400, "ValidationError"), ErrorClass::NeedsUser);
        assert_eq!(
            classify(400, "InvalidRequestContent"),
            ErrorClass::NeedsUser
        );
        assert_eq!(
            classify(400, "MissingRequiredParameter"),
            ErrorClass::NeedsUser
        );
        assert_eq!(classify(403, "AuthorizationFailed"), ErrorClass::NeedsUser);
        assert_eq!(
            classify(409, "AnotherOperationInProgress"),
            ErrorClass::RetryFast
        );
        assert_eq!(classify(409, "Conflict"), ErrorClass::Conflict);
        assert_eq!(classify(412, "PreconditionFailed"), ErrorClass::Conflict);
        assert_eq!(classify(404, "ResourceNotFound"), ErrorClass::NotFound);
        assert_eq!(classify(400, "ResourceGroupNotFound"), ErrorClass::NotFound);
        assert_eq!(
            classify(429, "SubscriptionRequestsThrottled"),
            ErrorClass::RetrySlow
        );
        assert_eq!(
            classify(400, "RequestDisallowedByPolicy"),
            ErrorClass::RetrySlow
        );
        // A fatal code wins even when the status alone would say "retry".
        assert_eq!(classify(500, "ValidationError"), ErrorClass::NeedsUser);
    }

    #[test]
    fn status_decides_for_unknown_codes() {
        assert_eq!(classify(503, ""), ErrorClass::RetryFast);
        assert_eq!(classify(500, "InternalServerError"), ErrorClass::RetryFast);
        assert_eq!(classify(404, ""), ErrorClass::NotFound);
        assert_eq!(classify(429, ""), ErrorClass::RetrySlow);
        assert_eq!(classify(400, "SomethingNew"), ErrorClass::RetrySlow);
        assert_eq!(classify(403, "Forbidden"), ErrorClass::NeedsUser);
        assert_eq!(classify(412, ""), ErrorClass::Conflict);
    }

    #[test]
    fn reasons_are_stable() {
        assert_eq!(
            http(429, "SubscriptionRequestsThrottled").reason(),
            "AzureThrottled"
        );
        assert!(http(429, "").is_throttled());
        assert_eq!(
            http(403, "AuthorizationFailed").reason(),
            "AuthorizationFailed"
        );
        assert_eq!(http(503, "").reason(), "AzureUnavailable");
        assert_eq!(http(400, "ValidationError").reason(), "InvalidRequest");
        assert_eq!(http(404, "ResourceNotFound").reason(), "NotFound");
        assert_eq!(
            http(412, "PreconditionFailed").reason(),
            "PreconditionFailed"
        );
        for reason in [
            http(400, "x").reason(),
            http(500, "x").reason(),
            http(401, "InvalidAuthenticationToken").reason(),
        ] {
            assert!(reason.chars().next().unwrap().is_ascii_uppercase());
            assert!(reason.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn requeue_hints() {
        assert_eq!(
            http(403, "AuthorizationFailed").requeue_hint(),
            Some(Duration::from_secs(180))
        );
        assert_eq!(http(400, "ValidationError").requeue_hint(), None);
        assert_eq!(http(503, "").requeue_hint(), Some(Duration::from_secs(5)));
        let mut throttled = http(429, "");
        if let AzureError::Http(e) = &mut throttled {
            e.retry_after = Some(Duration::from_secs(17));
        }
        assert_eq!(throttled.requeue_hint(), Some(Duration::from_secs(17)));
    }

    #[test]
    fn display_keeps_request_id_and_message() {
        let text = http(403, "AuthorizationFailed").to_string();
        assert!(text.contains("rid"), "{text}");
        assert!(text.contains("AuthorizationFailed"), "{text}");
        assert!(text.contains("403"), "{text}");
    }

    #[test]
    fn transport_classes() {
        let tls = AzureError::Transport {
            method: "GET".into(),
            path: "/".into(),
            kind: TransportKind::Tls,
            message: "unknown issuer".into(),
        };
        assert_eq!(tls.class(), ErrorClass::NeedsUser);
        assert_eq!(tls.reason(), "TlsCertificateUntrusted");
        let reset = AzureError::Transport {
            method: "GET".into(),
            path: "/".into(),
            kind: TransportKind::Connect,
            message: "reset".into(),
        };
        assert_eq!(reset.class(), ErrorClass::RetryFast);
        let auth = AzureError::Auth {
            message: "AADSTS7000215".into(),
            status: Some(401),
            tls: false,
        };
        assert_eq!(auth.class(), ErrorClass::NeedsUser);
        assert_eq!(auth.reason(), "AuthenticationFailed");
    }

    fn import_failure(code: &str) -> AzureError {
        AzureError::ImportFailed(Box::new(ImportFailure {
            definition: "/workspaces/default/apis/echo/versions/v1/definitions/openapi".into(),
            status: 400,
            error: ArmErrorBody {
                code: code.into(),
                message: "the document is not OpenAPI".into(),
                ..Default::default()
            },
            request_id: Some("poll-rid".into()),
        }))
    }

    #[test]
    fn import_failures_need_the_user_unless_transient() {
        let err = import_failure("InvalidApiSpecification");
        assert_eq!(err.class(), ErrorClass::NeedsUser);
        assert_eq!(err.reason(), "SpecificationImportFailed");
        assert_eq!(
            err.requeue_hint(),
            Some(Duration::from_secs(300)),
            "no retry storm, and no wait for a spec change either"
        );
        assert_eq!(err.arm_code(), Some("InvalidApiSpecification"));
        assert_eq!(err.arm_message(), Some("the document is not OpenAPI"));
        assert_eq!(err.request_id(), Some("poll-rid"));
        let failure = err.import_failure().unwrap();
        assert_eq!(failure.code(), "InvalidApiSpecification");
        assert_eq!(failure.message(), "the document is not OpenAPI");
        assert_eq!(failure.request_id(), Some("poll-rid"));
        assert!(failure.definition().ends_with("/definitions/openapi"));
        let text = err.to_string();
        for part in [
            "importSpecification",
            "/definitions/openapi",
            "InvalidApiSpecification",
            "the document is not OpenAPI",
            "poll-rid",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        for code in [
            "ValidationError",
            "BadRequest",
            "",
            "OperationFailed",
            "Whatever",
        ] {
            assert_eq!(
                import_failure(code).class(),
                ErrorClass::NeedsUser,
                "{code}"
            );
        }
        assert_eq!(
            import_failure("InternalServerError").class(),
            ErrorClass::RetryFast
        );
        assert_eq!(
            import_failure("AnotherOperationInProgress").class(),
            ErrorClass::RetryFast
        );
        assert_eq!(
            import_failure("TooManyRequests").class(),
            ErrorClass::RetrySlow
        );
        assert!(import_failure("TooManyRequests").is_throttled());
        assert_eq!(
            import_failure("ResourceNotFound").class(),
            ErrorClass::NotFound
        );
        assert!(http(400, "x").import_failure().is_none());
    }

    #[test]
    fn a_dropped_custom_property_needs_the_user() {
        let err = AzureError::CustomPropertyDropped {
            entity: "/workspaces/default/apis/echo".into(),
            property: "apilink-ownership".into(),
        };
        assert_eq!(err.class(), ErrorClass::NeedsUser);
        assert_eq!(err.reason(), "CustomPropertyDropped");
        assert_eq!(err.requeue_hint(), Some(Duration::from_secs(300)));
        let text = err.to_string();
        assert!(
            text.contains("customProperties.apilink-ownership"),
            "{text}"
        );
        assert!(text.contains("/workspaces/default/apis/echo"), "{text}");
        let remedy = err.remedy().unwrap();
        assert!(remedy.contains("metadata schema"), "{remedy}");
        assert!(remedy.contains("assigned to this entity kind"), "{remedy}");
        assert_eq!((err.status(), err.arm_code()), (None, None));
    }

    #[test]
    fn metadata_schema_writes_name_the_role_at_service_scope() {
        let denied = |path: &str, message: &str| {
            AzureError::Http(Box::new(HttpError {
                method: "PUT".into(),
                path: path.into(),
                status: 403,
                error: ArmErrorBody {
                    code: "AuthorizationFailed".into(),
                    message: message.into(),
                    ..Default::default()
                },
                request_id: None,
                client_request_id: "cid".into(),
                retry_after: None,
            }))
        };
        let by_message = denied(
            "/x",
            "does not have authorization to perform action 'Microsoft.ApiCenter/services/metadataSchemas/write' over scope '/s'",
        );
        let by_path = denied(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c/metadataSchemas/owner",
            "does not have authorization",
        );
        for err in [by_message, by_path] {
            assert_eq!(err.class(), ErrorClass::NeedsUser);
            let remedy = err.remedy().unwrap();
            assert!(
                remedy.contains("Azure API Center Service Contributor"),
                "{remedy}"
            );
            assert!(remedy.contains("metadataSchemas/write"), "{remedy}");
        }
    }

    #[test]
    fn authorization_failures_name_the_role_to_grant() {
        let on = |path: &str| {
            AzureError::Http(Box::new(HttpError {
                method: "GET".into(),
                path: path.into(),
                status: 403,
                error: ArmErrorBody {
                    code: "AuthorizationFailed".into(),
                    message: "does not have authorization to perform action".into(),
                    ..Default::default()
                },
                request_id: None,
                client_request_id: "cid".into(),
                retry_after: None,
            }))
        };
        let apim = on(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/x/apis",
        );
        assert!(
            apim.remedy()
                .unwrap()
                .contains("API Management Service Reader")
        );
        let apic = on(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c/workspaces/default/apis/a",
        );
        assert!(
            apic.remedy()
                .unwrap()
                .contains("Azure API Center Service Contributor")
        );
        assert_eq!(http(403, "AuthorizationFailed").remedy(), None);
        assert_eq!(http(429, "TooManyRequests").remedy(), None);
    }
}
