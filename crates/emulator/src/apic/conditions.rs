//! `If-Match` / `If-None-Match` preconditions on writes, when the contract honours them.

use axum::http::{HeaderMap, StatusCode, header};

use super::routes::RequestContext;
use crate::arm::ArmError;
use crate::config::ConditionalHeaders;

#[derive(Debug, Default)]
pub(crate) struct Preconditions {
    if_match: Option<Vec<String>>,
    if_none_match: Option<Vec<String>>,
}

/// Compares ETags by their opaque value: quotes and a weak `W/` prefix don't matter.
fn opaque(tag: &str) -> &str {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}

fn tags(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| opaque(tag).to_string())
        .filter(|tag| !tag.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

fn failed(message: String) -> ArmError {
    ArmError::new(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        message,
    )
}

impl Preconditions {
    /// The preconditions a request sets. Under `Ignored` there are none; `Refused` never
    /// gets here (the request was turned away on arrival).
    pub(crate) fn of(context: &RequestContext) -> Self {
        match context.contract.conditional_headers {
            ConditionalHeaders::Honoured => Self::from_headers(&context.headers),
            ConditionalHeaders::Ignored | ConditionalHeaders::Refused => Self::default(),
        }
    }

    fn from_headers(headers: &HeaderMap) -> Self {
        Preconditions {
            if_match: tags(headers, header::IF_MATCH),
            if_none_match: tags(headers, header::IF_NONE_MATCH),
        }
    }

    /// Checks the preconditions against the current ETag (`None` when the resource is absent).
    pub(crate) fn check(&self, resource: &str, current: Option<&str>) -> Result<(), ArmError> {
        if let Some(expected) = &self.if_match {
            let Some(current) = current else {
                return Err(failed(format!(
                    "The resource '{resource}' does not exist, so the If-Match precondition fails."
                )));
            };
            let current = opaque(current);
            if !expected.iter().any(|tag| tag == "*" || tag == current) {
                return Err(failed(format!(
                    "The ETag of '{resource}' does not match If-Match: it was changed since it was read."
                )));
            }
        }
        if let (Some(unwanted), Some(current)) = (&self.if_none_match, current) {
            let current = opaque(current);
            if unwanted.iter().any(|tag| tag == "*" || tag == current) {
                return Err(failed(format!(
                    "The resource '{resource}' already exists (If-None-Match)."
                )));
            }
        }
        Ok(())
    }
}
