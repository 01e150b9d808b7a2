//! `importSpecification` (a long-running operation), `exportSpecification`, and the
//! operation status (`Azure-AsyncOperation`) and result (`Location`) URLs.
//!
//! The result URL answers 202 while the operation runs, 200 without a body once it
//! succeeded, and the operation's ARM error (status and `{"error": {code, message}}`) once
//! it failed. The status URL always answers 200 with `{status, error?}`; it is advertised
//! only under [`ImportAnswer::LocationAndAsyncOperation`]. Under
//! [`ImportAnswer::Synchronous`] no operation starts: the POST itself applies the import
//! and answers 200 without a body, or the import's ARM error.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::json;

use super::ApiCenter;
use super::items::{missing, service_not_found};
use super::lro::{self, Operation, Phase};
use super::path::{ItemPath, SpecAction};
use super::routes::{RequestContext, empty_response, json_response};
use super::spec::{ImportRequest, SourceFormat, check_document};
use super::store::{ImportedSpec, State, resolve};
use super::validate;
use crate::arm::{APIC_API_VERSION, ArmError};
use crate::config::ImportAnswer;

const AZURE_ASYNC_OPERATION: &str = "azure-asyncoperation";

fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn operation_not_found(id: &str) -> ArmError {
    ArmError::not_found("Microsoft.ApiCenter/locations/operationStatuses", id)
}

impl ApiCenter {
    pub(crate) fn run_action(
        &self,
        context: &RequestContext,
        path: &ItemPath,
        action: SpecAction,
        body: &[u8],
    ) -> Result<Response, ArmError> {
        match action {
            SpecAction::Import => self.import_specification(context, path, body),
            SpecAction::Export => self.export_specification(path),
        }
    }

    fn check_definition_exists(&self, state: &State, path: &ItemPath) -> Result<(), ArmError> {
        let root = state
            .service(&path.service)
            .ok_or_else(|| service_not_found(&path.service))?;
        resolve(root, &path.chain)
            .map(|_| ())
            .map_err(|depth| missing(path, depth))
    }

    fn import_specification(
        &self,
        context: &RequestContext,
        path: &ItemPath,
        body: &[u8],
    ) -> Result<Response, ArmError> {
        let body = validate::parse_object_body(body)?;
        let request =
            ImportRequest::parse(&body, self.options.limits.max_inline_specification_bytes)?;
        self.check_definition_exists(&self.lock(), path)?;

        // The link is fetched outside the lock: the fetcher belongs to another module.
        let result = match request.format {
            SourceFormat::Inline => {
                check_document(&request.name, request.version.as_deref(), &request.value)
            }
            SourceFormat::Link => match (self.fetch_link)(&request.value) {
                Some(content) => {
                    check_document(&request.name, request.version.as_deref(), &content)
                }
                None => Err(ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "SpecificationLinkNotAccessible",
                    "The specification link could not be downloaded.",
                )),
            },
        };

        // An injected failure replaces whatever the content would have given: the request
        // itself was acceptable, the operation fails later.
        let result = match &context.fault.failure {
            Some(failure) => Err(failure.clone()),
            None => result,
        };

        let mut state = self.lock();
        self.check_definition_exists(&state, path)?;
        if context.contract.import_answer == ImportAnswer::Synchronous {
            // No operation starts, so pending slow-operation faults wait for one that does.
            lro::apply(&mut state.services, path, result?)?;
            return Ok(empty_response(StatusCode::OK, None));
        }
        Ok(self.start_operation(&mut state, context, path, result))
    }

    /// Records a running import operation and answers its 202 with the polling headers the
    /// contract advertises.
    fn start_operation(
        &self,
        state: &mut State,
        context: &RequestContext,
        path: &ItemPath,
        result: Result<ImportedSpec, ArmError>,
    ) -> Response {
        let polls = self.options.lro_polls_before_done.max(1);
        let extra =
            std::mem::take(&mut state.extra_polls).saturating_add(context.fault.extra_polls);
        let operation = Operation {
            id: uuid::Uuid::new_v4().to_string(),
            subscription_id: self.options.subscription_id.clone(),
            definition: path.clone(),
            started_at: Timestamp::now(),
            ended_at: None,
            phase: Phase::Running {
                polls_left: polls.saturating_add(extra),
                result,
            },
        };
        let mut response = StatusCode::ACCEPTED.into_response();
        let query = format!("?api-version={APIC_API_VERSION}");
        set_header(
            &mut response,
            "location",
            &format!("{}{}{query}", context.origin, operation.result_path()),
        );
        if context.contract.import_answer == ImportAnswer::LocationAndAsyncOperation {
            set_header(
                &mut response,
                AZURE_ASYNC_OPERATION,
                &format!("{}{}{query}", context.origin, operation.status_id()),
            );
        }
        set_header(
            &mut response,
            "retry-after",
            &self.options.lro_retry_after_secs.to_string(),
        );
        state.operations.insert(operation);
        response
    }

    fn export_specification(&self, path: &ItemPath) -> Result<Response, ArmError> {
        let state = self.lock();
        let root = state
            .service(&path.service)
            .ok_or_else(|| service_not_found(&path.service))?;
        let node = resolve(root, &path.chain).map_err(|depth| missing(path, depth))?;
        let spec = node.spec.as_ref().ok_or_else(|| {
            ArmError::new(
                StatusCode::BAD_REQUEST,
                "SpecificationNotFound",
                format!(
                    "The API definition '{}' has no imported specification to export.",
                    path.display_name()
                ),
            )
        })?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "format": "inline", "value": spec.content }),
            None,
        ))
    }

    /// Polls operation `id` once and returns a snapshot of it.
    fn poll_operation(&self, id: &str) -> Result<Operation, ArmError> {
        let mut state = self.lock();
        let State {
            services,
            operations,
            ..
        } = &mut *state;
        let operation = operations
            .get_mut(id)
            .ok_or_else(|| operation_not_found(id))?;
        lro::poll(operation, services);
        Ok(operation.clone())
    }

    pub(crate) fn operation_status(
        &self,
        _context: &RequestContext,
        id: &str,
    ) -> Result<Response, ArmError> {
        let operation = self.poll_operation(id)?;
        let mut response = json_response(StatusCode::OK, &operation.status_body(), None);
        if matches!(operation.phase, Phase::Running { .. }) {
            set_header(
                &mut response,
                "retry-after",
                &self.options.lro_retry_after_secs.to_string(),
            );
        }
        Ok(response)
    }

    pub(crate) fn operation_result(
        &self,
        context: &RequestContext,
        id: &str,
    ) -> Result<Response, ArmError> {
        let operation = self.poll_operation(id)?;
        match operation.phase {
            Phase::Running { .. } => {
                let mut response = StatusCode::ACCEPTED.into_response();
                set_header(
                    &mut response,
                    "location",
                    &format!("{}?api-version={APIC_API_VERSION}", context.absolute_path()),
                );
                set_header(
                    &mut response,
                    "retry-after",
                    &self.options.lro_retry_after_secs.to_string(),
                );
                Ok(response)
            }
            // The specification's 200 for importSpecification has no body.
            Phase::Succeeded => Ok(empty_response(StatusCode::OK, None)),
            Phase::Failed(error) => Err(error),
        }
    }
}
