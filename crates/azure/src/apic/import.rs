//! importSpecification: the POST, the long-running operation it may start, and how
//! the service answered on the way.

use std::time::Duration;

use http::Method;
use url::Url;

use super::{ApiDefinitionProperties, ApicClient, ApicPath, ImportFormat, ImportSpecification};
use crate::error::{ArmErrorBody, AzureError, ImportFailure};
use crate::http::{ArmRequest, ArmResponse, ArmTransport};
use crate::lro::{self, ActionOutcome, ActionReport, LroOptions, PollTransport};

/// How API Center answered a successful import: what its first answer advertised and
/// what following it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportAnswer {
    /// The status of the answer to the POST: 200 (done at once) or 202.
    pub initial_status: u16,
    /// The first answer carried `Location`.
    pub location: bool,
    /// The first answer carried `Azure-AsyncOperation`.
    pub azure_async_operation: bool,
    /// The first `Retry-After` the service sent (first answer, else a poll).
    pub retry_after: Option<Duration>,
    /// Requests sent after the POST (status polls and the read of the result).
    pub polls: u32,
    /// The status of the answer that ended it (the first answer's, when done at once).
    pub final_status: u16,
}

fn has_header(answer: &ArmResponse, name: &str) -> bool {
    answer.header(name).is_some_and(|v| !v.trim().is_empty())
}

/// Replaces a specification link (a SAS URL: a secret) wherever an error quotes it.
fn without_link(mut error: ArmErrorBody, link: &str) -> ArmErrorBody {
    const SHOWN: &str = "<specification link>";
    if link.is_empty() {
        return error;
    }
    error.message = error.message.replace(link, SHOWN);
    if let Some(target) = &mut error.target {
        *target = target.replace(link, SHOWN);
    }
    error.details = error
        .details
        .into_iter()
        .map(|detail| without_link(detail, link))
        .collect();
    error
}

/// Quotes of `link` taken out of an error's ARM body.
fn error_without_link(error: AzureError, link: &str) -> AzureError {
    match error {
        AzureError::Http(mut e) => {
            e.error = without_link(e.error, link);
            AzureError::Http(e)
        }
        other => other,
    }
}

/// The error for an import the service reports failed.
fn import_failed(
    definition: &str,
    status: u16,
    error: ArmErrorBody,
    request_id: Option<String>,
    link: &str,
) -> AzureError {
    let failure = ImportFailure {
        definition: definition.to_string(),
        status,
        error: without_link(error, link),
        request_id,
    };
    tracing::debug!(
        definition = %failure.definition,
        code = failure.code(),
        request_id = failure.request_id().unwrap_or(""),
        "importSpecification failed"
    );
    AzureError::ImportFailed(Box::new(failure))
}

/// One import, over any transport: POST `import` to `url`, follow the answer within
/// `budget`. `definition` is the service-relative definition path, for errors.
async fn import_via<T: ArmTransport + PollTransport>(
    transport: &T,
    options: &LroOptions,
    url: Url,
    definition: &str,
    import: &ImportSpecification,
    budget: Duration,
) -> Result<ImportAnswer, AzureError> {
    let body = serde_json::to_value(import)
        .map_err(|e| AzureError::InvalidInput(format!("import body: {e}")))?;
    // Re-importing the same document is harmless, so transient failures may retry.
    let request = ArmRequest::new(Method::POST, url)
        .with_body(body)
        .idempotent(true);
    // A link is a signed URL: it must not reach an error through the service's text.
    let link = match import.format {
        ImportFormat::Link => import.value.as_str(),
        ImportFormat::Inline => "",
    };
    let initial = ArmTransport::send(transport, request)
        .await
        .map_err(|e| error_without_link(e, link))?;
    let initial_status = initial.status;
    let location = has_header(&initial, "location");
    let azure_async_operation = has_header(&initial, "azure-asyncoperation");
    let report: ActionReport =
        lro::follow_action(transport, options, initial, "importSpecification", budget)
            .await
            .map_err(|e| error_without_link(e, link))?;
    match report.outcome {
        ActionOutcome::Done(last) => Ok(ImportAnswer {
            initial_status,
            location,
            azure_async_operation,
            retry_after: report.retry_after,
            polls: report.polls,
            final_status: last.status,
        }),
        ActionOutcome::Failed {
            status,
            error,
            request_id,
        } => Err(import_failed(definition, status, error, request_id, link)),
    }
}

impl ApicClient {
    /// importSpecification, followed as the 2024-03-01 contract declares it (200 done,
    /// or 202 + `Location` polled until 200/204; `Azure-AsyncOperation` when a service
    /// sends it) within `deadline` (default: the client's LRO deadline). The answer says
    /// how the service answered.
    ///
    /// A failure the service reports about the import — an error answer to a poll, a
    /// `Failed`/`Canceled` status, an error body under a 2xx — is
    /// [`AzureError::ImportFailed`], carrying the ARM code, message, request id and the
    /// definition; it is a [`crate::ErrorClass::NeedsUser`] failure unless its code
    /// says "transient". A 5xx or throttled poll stays a retryable error.
    pub async fn import_specification(
        &self,
        definition: &ApicPath<ApiDefinitionProperties>,
        import: &ImportSpecification,
        deadline: Option<Duration>,
    ) -> Result<ImportAnswer, AzureError> {
        let url = self.url(&format!("{}/importSpecification", definition.relative))?;
        let options = self.arm.lro_options();
        let budget = deadline.unwrap_or(options.deadline);
        import_via(
            &self.arm,
            options,
            url,
            definition.relative(),
            import,
            budget,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apic::SpecificationRef;
    use crate::test_transport::{Scripted, answer, http_error, url};

    const DEFINITION: &str = "/workspaces/default/apis/echo/versions/v1/definitions/openapi";

    fn openapi(format: ImportFormat, value: &str) -> ImportSpecification {
        ImportSpecification {
            format,
            value: value.into(),
            specification: SpecificationRef {
                name: "openapi".into(),
                version: Some("3.0.1".into()),
            },
        }
    }

    fn options() -> LroOptions {
        LroOptions {
            default_poll_interval: Duration::from_secs(5),
            ..LroOptions::default()
        }
    }

    async fn import(
        script: &Scripted,
        spec: &ImportSpecification,
    ) -> Result<ImportAnswer, AzureError> {
        import_via(
            script,
            &options(),
            url(&format!(
                "{DEFINITION}/importSpecification?api-version=2024-03-01"
            )),
            DEFINITION,
            spec,
            Duration::from_secs(600),
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_synchronous_200() {
        let script = Scripted::new(vec![Ok(answer(200, &[], ""))]);
        let answer = import(&script, &openapi(ImportFormat::Inline, "{}"))
            .await
            .unwrap();
        assert_eq!(
            answer,
            ImportAnswer {
                initial_status: 200,
                location: false,
                azure_async_operation: false,
                retry_after: None,
                polls: 0,
                final_status: 200,
            }
        );
        let sent = script.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].line(),
            format!("POST {DEFINITION}/importSpecification?api-version=2024-03-01")
        );
        assert_eq!(
            sent[0].body.as_ref().unwrap()["specification"]["name"],
            "openapi"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_location_only_202_chain() {
        let script = Scripted::new(vec![
            Ok(answer(
                202,
                &[
                    ("location", "/operationResults/op1?api-version=2024-03-01"),
                    ("retry-after", "2"),
                ],
                "",
            )),
            Ok(answer(202, &[("retry-after", "9")], "")),
            Ok(answer(202, &[], "")),
            Ok(answer(204, &[], "")),
        ]);
        let started = tokio::time::Instant::now();
        let answer = import(&script, &openapi(ImportFormat::Inline, "{}"))
            .await
            .unwrap();
        assert_eq!(
            answer,
            ImportAnswer {
                initial_status: 202,
                location: true,
                azure_async_operation: false,
                retry_after: Some(Duration::from_secs(2)),
                polls: 3,
                final_status: 204,
            }
        );
        assert_eq!(
            script.lines()[1..],
            ["GET /operationResults/op1?api-version=2024-03-01"; 3]
        );
        // 2 s asked by the POST, 9 s by the first poll, then the 5 s default.
        assert_eq!(started.elapsed(), Duration::from_secs(16));
    }

    #[tokio::test(start_paused = true)]
    async fn an_azure_async_operation_chain() {
        let script = Scripted::new(vec![
            Ok(answer(
                202,
                &[
                    ("azure-asyncoperation", "/operationStatuses/op2"),
                    ("location", "/operationResults/op2"),
                ],
                "",
            )),
            Ok(answer(
                200,
                &[("retry-after", "1")],
                r#"{"status":"Running"}"#,
            )),
            Ok(answer(200, &[], r#"{"status":"Succeeded"}"#)),
            Ok(answer(200, &[], "")),
        ]);
        let answer = import(&script, &openapi(ImportFormat::Inline, "{}"))
            .await
            .unwrap();
        assert_eq!(
            answer,
            ImportAnswer {
                initial_status: 202,
                location: true,
                azure_async_operation: true,
                retry_after: Some(Duration::from_secs(1)),
                polls: 3,
                final_status: 200,
            }
        );
        assert_eq!(
            script.lines()[1..],
            [
                "GET /operationStatuses/op2",
                "GET /operationStatuses/op2",
                "GET /operationResults/op2"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reported_failure_names_the_definition_and_hides_the_link() {
        let link = "https://acct.blob.core.windows.net/x/export.json?sv=1&sig=SECRET";
        let script = Scripted::new(vec![
            Ok(answer(202, &[("location", "/operationResults/op3")], "")),
            Err(AzureError::Http(Box::new(crate::error::HttpError {
                method: "GET".into(),
                path: "/operationResults/op3".into(),
                status: 400,
                error: ArmErrorBody {
                    code: "SpecificationLinkNotAccessible".into(),
                    message: format!("could not download {link}"),
                    target: Some(link.into()),
                    details: vec![ArmErrorBody {
                        code: "Inner".into(),
                        message: format!("GET {link}: 403"),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                request_id: Some("poll-rid".into()),
                client_request_id: "cid".into(),
                retry_after: None,
            }))),
        ]);
        let err = import(&script, &openapi(ImportFormat::Link, link))
            .await
            .unwrap_err();
        let failure = err.import_failure().unwrap();
        assert_eq!(failure.definition(), DEFINITION);
        assert_eq!(failure.code(), "SpecificationLinkNotAccessible");
        assert_eq!(failure.request_id(), Some("poll-rid"));
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(failure.message().contains("<specification link>"));

        // A refused POST hides it too.
        let mut refused = http_error(400, "InvalidRequestContent");
        if let AzureError::Http(e) = &mut refused {
            e.error.message = format!("bad link {link}");
        }
        let script = Scripted::new(vec![Err(refused)]);
        let err = import(&script, &openapi(ImportFormat::Link, link))
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}
