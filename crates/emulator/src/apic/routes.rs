//! Request entry points: scope checks, target parsing and dispatch by method.

use std::sync::Arc;

use axum::body::{Bytes, to_bytes};
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::path::{SubscriptionTarget, Target, parse_resource_group_path, parse_subscription_path};
use super::{ApiCenter, OperationFault};
use crate::arm::{APIC_API_VERSION, ArmError};
use crate::config::{ApicContract, ConditionalHeaders};

/// Request bodies above this size are refused; it leaves room above the inline import limit
/// so that limit can answer with its own, clearer error.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What handlers need from a request besides its target and body.
#[derive(Debug)]
pub(crate) struct RequestContext {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: String,
    /// `https://{host}` as the client addressed us, for absolute links.
    pub origin: String,
    /// The request path as the client sent it.
    pub path: String,
    /// Read once per request, so one request never sees two contracts.
    pub contract: ApicContract,
    /// What fault injection asks of an operation this request starts.
    pub fault: OperationFault,
}

impl RequestContext {
    fn new(
        method: Method,
        headers: HeaderMap,
        original: &Uri,
        contract: ApicContract,
        fault: OperationFault,
    ) -> Self {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| original.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".to_string());
        RequestContext {
            method,
            headers,
            query: original.query().unwrap_or_default().to_string(),
            origin: format!("https://{host}"),
            path: original.path().to_string(),
            contract,
            fault,
        }
    }

    /// Under [`ConditionalHeaders::Refused`], a request carrying `If-Match` or
    /// `If-None-Match` is refused before anything is read or written.
    fn check_conditional_headers(&self) -> Result<(), ArmError> {
        if self.contract.conditional_headers != ConditionalHeaders::Refused {
            return Ok(());
        }
        for name in [header::IF_MATCH, header::IF_NONE_MATCH] {
            if self.headers.contains_key(&name) {
                let shown = if name == header::IF_MATCH {
                    "If-Match"
                } else {
                    "If-None-Match"
                };
                return Err(ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestHeader",
                    format!(
                        "The request header '{shown}' is not supported by Microsoft.ApiCenter api-version {APIC_API_VERSION}."
                    ),
                )
                .with_target(shown));
            }
        }
        Ok(())
    }

    /// The absolute URL of this request's path, without a query.
    pub(crate) fn absolute_path(&self) -> String {
        format!("{}{}", self.origin, self.path)
    }
}

/// A JSON answer with an optional `ETag` header.
pub(crate) fn json_response(status: StatusCode, body: &Value, etag: Option<&str>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// An answer without a body (HEAD, DELETE, 204).
pub(crate) fn empty_response(status: StatusCode, etag: Option<&str>) -> Response {
    let mut response = status.into_response();
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

pub(crate) fn method_not_allowed(method: &Method, what: &str) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("The method '{method}' is not supported on {what}."),
    )
}

async fn read_body(request: Request) -> Result<(axum::http::request::Parts, Bytes), ArmError> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ArmError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
        )
    })?;
    Ok((parts, bytes))
}

pub(crate) async fn resource_group_scope(
    State(apic): State<Arc<ApiCenter>>,
    Path((subscription, resource_group, rest)): Path<(String, String, String)>,
    OriginalUri(original): OriginalUri,
    request: Request,
) -> Response {
    let (parts, body) = match read_body(request).await {
        Ok(read) => read,
        Err(error) => return error.into_response(),
    };
    let fault = parts
        .extensions
        .get::<OperationFault>()
        .cloned()
        .unwrap_or_default();
    let context = RequestContext::new(
        parts.method,
        parts.headers,
        &original,
        apic.contract(),
        fault,
    );
    apic.resource_group_request(&context, &subscription, &resource_group, &rest, &body)
        .unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn subscription_scope(
    State(apic): State<Arc<ApiCenter>>,
    Path((subscription, rest)): Path<(String, String)>,
    OriginalUri(original): OriginalUri,
    request: Request,
) -> Response {
    let context = RequestContext::new(
        request.method().clone(),
        request.headers().clone(),
        &original,
        apic.contract(),
        OperationFault::default(),
    );
    apic.subscription_request(&context, &subscription, &rest)
        .unwrap_or_else(IntoResponse::into_response)
}

impl ApiCenter {
    fn check_subscription(&self, subscription: &str) -> Result<(), ArmError> {
        if subscription.eq_ignore_ascii_case(&self.options.subscription_id) {
            return Ok(());
        }
        Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{subscription}' could not be found."),
        ))
    }

    fn resource_group_request(
        &self,
        context: &RequestContext,
        subscription: &str,
        resource_group: &str,
        rest: &str,
        body: &[u8],
    ) -> Result<Response, ArmError> {
        self.check_subscription(subscription)?;
        context.check_conditional_headers()?;
        if !resource_group.eq_ignore_ascii_case(&self.options.resource_group) {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "ResourceGroupNotFound",
                format!("Resource group '{resource_group}' could not be found."),
            ));
        }
        let method = &context.method;
        match parse_resource_group_path(rest)? {
            Target::ServiceList if method == Method::GET => self.list_services(context),
            Target::ServiceList => Err(method_not_allowed(method, "the services collection")),
            Target::Service(name) if method == Method::GET || method == Method::HEAD => {
                self.get_service(context, &name)
            }
            Target::Service(_) => Err(method_not_allowed(
                method,
                "an emulated API Center service (services are configured, not created)",
            )),
            Target::Collection {
                service,
                parent,
                kind,
            } if method == Method::GET => self.list_items(context, &service, &parent, kind),
            Target::Collection { kind, .. } => Err(method_not_allowed(
                method,
                &format!("the {} collection", kind.label()),
            )),
            Target::Item(path) => match *method {
                Method::GET | Method::HEAD => self.get_item(context, &path),
                Method::PUT => self.put_item(context, &path, body),
                Method::DELETE => self.delete_item(context, &path),
                _ => Err(method_not_allowed(
                    method,
                    &format!("an {}", path.kind().label()),
                )),
            },
            Target::Action(path, action) if method == Method::POST => {
                self.run_action(context, &path, action, body)
            }
            Target::Action(..) => Err(method_not_allowed(method, "a definition action")),
        }
    }

    fn subscription_request(
        &self,
        context: &RequestContext,
        subscription: &str,
        rest: &str,
    ) -> Result<Response, ArmError> {
        self.check_subscription(subscription)?;
        context.check_conditional_headers()?;
        if context.method != Method::GET {
            return Err(method_not_allowed(&context.method, "this resource"));
        }
        match parse_subscription_path(rest)? {
            SubscriptionTarget::ServiceList => self.list_services(context),
            SubscriptionTarget::OperationStatus(id) => self.operation_status(context, &id),
            SubscriptionTarget::OperationResult(id) => self.operation_result(context, &id),
        }
    }
}
