//! Long-running operations: a 201/202 answer is followed to its end through
//! `Azure-AsyncOperation` (a status body) or `Location` (202 while running, then
//! 200/204), waiting `Retry-After` between polls, always under a deadline.

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use crate::error::{ArmErrorBody, AzureError};
use crate::http::{ArmClient, ArmRequest, ArmResponse};
use crate::retry::parse_retry_after;

#[derive(Debug, Clone)]
pub struct LroOptions {
    /// The whole operation, from the first answer to the last poll.
    pub deadline: Duration,
    /// Poll interval when the server sends no `Retry-After`.
    pub default_poll_interval: Duration,
    /// Bounds applied to any server-requested interval.
    pub min_poll_interval: Duration,
    pub max_poll_interval: Duration,
}

impl Default for LroOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(600),
            default_poll_interval: Duration::from_secs(5),
            min_poll_interval: Duration::from_millis(100),
            max_poll_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl OperationStatus {
    /// Terminal states are matched case-insensitively; anything else (`Running`,
    /// `Accepted`, `NotStarted`, ...) means "still running".
    pub fn parse(status: &str) -> Self {
        match status.trim().to_ascii_lowercase().as_str() {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            _ => Self::InProgress,
        }
    }
}

#[derive(Debug, Deserialize)]
struct StatusBody {
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<ArmErrorBody>,
}

fn poll_interval(response: &ArmResponse, options: &LroOptions) -> Duration {
    parse_retry_after(&response.headers, SystemTime::now())
        .unwrap_or(options.default_poll_interval)
        .clamp(options.min_poll_interval, options.max_poll_interval)
}

/// How the poll loop reaches the server: the ARM client in production, a script in
/// unit tests.
pub(crate) trait PollTransport: Sync {
    fn poll(&self, url: Url) -> impl Future<Output = Result<ArmResponse, AzureError>> + Send;
    /// Resolves a header value to a URL the bearer token may be sent to.
    fn resolve_link(&self, value: &str) -> Result<Url, AzureError>;
}

impl PollTransport for ArmClient {
    fn poll(&self, url: Url) -> impl Future<Output = Result<ArmResponse, AzureError>> + Send {
        self.send(ArmRequest::get(url))
    }

    fn resolve_link(&self, value: &str) -> Result<Url, AzureError> {
        let url = self
            .endpoint()
            .join(value)
            .map_err(|e| AzureError::InvalidResponse {
                method: "GET".into(),
                path: String::new(),
                message: format!("long-running operation link is not a URL: {e}"),
            })?;
        self.check_arm_url(&url)?;
        Ok(url)
    }
}

fn header_url<T: PollTransport>(
    transport: &T,
    response: &ArmResponse,
    name: &str,
) -> Result<Option<Url>, AzureError> {
    match response
        .header(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(value) => transport.resolve_link(value).map(Some),
        None => Ok(None),
    }
}

/// Sleeps `delay`, unless that would pass the deadline.
async fn wait_or_deadline(
    delay: Duration,
    deadline: Instant,
    operation: &str,
    budget: Duration,
) -> Result<(), AzureError> {
    if Instant::now() + delay > deadline {
        return Err(AzureError::Deadline {
            operation: operation.to_string(),
            after: budget,
        });
    }
    tokio::time::sleep(delay).await;
    Ok(())
}

/// Follows `initial` to completion with the client's default deadline.
pub async fn wait(
    client: &ArmClient,
    initial: ArmResponse,
    operation: &str,
) -> Result<ArmResponse, AzureError> {
    let deadline = client.lro_options().deadline;
    wait_with_deadline(client, initial, operation, deadline).await
}

/// Follows `initial` to completion. Returns the final answer: the `Location`
/// result when there is one, else the last status answer (or `initial` itself when
/// the operation finished synchronously).
pub async fn wait_with_deadline(
    client: &ArmClient,
    initial: ArmResponse,
    operation: &str,
    budget: Duration,
) -> Result<ArmResponse, AzureError> {
    let options = client.lro_options().clone();
    drive(client, &options, initial, operation, budget).await
}

async fn drive<T: PollTransport>(
    transport: &T,
    options: &LroOptions,
    initial: ArmResponse,
    operation: &str,
    budget: Duration,
) -> Result<ArmResponse, AzureError> {
    if initial.status != 201 && initial.status != 202 {
        return Ok(initial);
    }
    let deadline = Instant::now() + budget;
    let async_operation = header_url(transport, &initial, "azure-asyncoperation")?;
    let location = header_url(transport, &initial, "location")?;
    let mut delay = poll_interval(&initial, options);

    if let Some(status_url) = async_operation {
        loop {
            wait_or_deadline(delay, deadline, operation, budget).await?;
            let answer = transport.poll(status_url.clone()).await?;
            let body: StatusBody = answer.json()?;
            match OperationStatus::parse(&body.status) {
                OperationStatus::InProgress => delay = poll_interval(&answer, options),
                OperationStatus::Succeeded => {
                    return match location {
                        Some(result_url) => transport.poll(result_url).await,
                        None => Ok(answer),
                    };
                }
                status @ (OperationStatus::Failed | OperationStatus::Canceled) => {
                    return Err(AzureError::OperationFailed {
                        status: format!("{status:?}"),
                        error: Box::new(body.error.unwrap_or_else(|| ArmErrorBody {
                            code: format!("Operation{status:?}"),
                            message: format!("{operation} ended {status:?} without an error body"),
                            ..Default::default()
                        })),
                        request_id: answer.request_id().map(str::to_string),
                    });
                }
            }
        }
    }

    let Some(location) = location else {
        if initial.status == 201 {
            // Created synchronously with the resource in the body.
            return Ok(initial);
        }
        return Err(AzureError::InvalidResponse {
            method: initial.method.to_string(),
            path: initial.path.clone(),
            message: "202 Accepted without Azure-AsyncOperation or Location".into(),
        });
    };
    loop {
        wait_or_deadline(delay, deadline, operation, budget).await?;
        let answer = transport.poll(location.clone()).await?;
        if answer.status != 202 {
            return Ok(answer);
        }
        delay = poll_interval(&answer, options);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use http::{HeaderMap, HeaderValue, Method};

    fn answer(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> ArmResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        ArmResponse {
            status,
            headers: map,
            body: bytes::Bytes::from(body.to_string()),
            method: Method::GET,
            path: "/op".into(),
        }
    }

    /// Answers polls from a script and records the URLs polled.
    struct Script {
        answers: Mutex<VecDeque<ArmResponse>>,
        polled: Mutex<Vec<String>>,
        /// Once the script is exhausted, answer this forever (None: fail the test).
        forever: Option<ArmResponse>,
    }

    impl Script {
        fn new(answers: Vec<ArmResponse>) -> Self {
            Self {
                answers: Mutex::new(answers.into()),
                polled: Mutex::new(Vec::new()),
                forever: None,
            }
        }

        fn polled(&self) -> Vec<String> {
            self.polled.lock().unwrap().clone()
        }
    }

    impl PollTransport for Script {
        fn poll(&self, url: Url) -> impl Future<Output = Result<ArmResponse, AzureError>> + Send {
            self.polled.lock().unwrap().push(url.path().to_string());
            let next = self.answers.lock().unwrap().pop_front();
            let next = next
                .or_else(|| self.forever.clone())
                .expect("the script ran out");
            async move { Ok(next) }
        }

        fn resolve_link(&self, value: &str) -> Result<Url, AzureError> {
            Url::parse("https://arm.test/")
                .unwrap()
                .join(value)
                .map_err(|e| AzureError::InvalidInput(e.to_string()))
        }
    }

    fn options() -> LroOptions {
        LroOptions {
            default_poll_interval: Duration::from_secs(5),
            ..LroOptions::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn async_operation_then_location_result() {
        let script = Script::new(vec![
            answer(200, &[("retry-after", "2")], r#"{"status":"InProgress"}"#),
            answer(200, &[], r#"{"status":"succeeded"}"#),
            answer(200, &[], r#"{"result":42}"#),
        ]);
        let initial = answer(
            202,
            &[
                (
                    "azure-asyncoperation",
                    "https://arm.test/operations/op1?api-version=x",
                ),
                ("location", "/results/op1?api-version=x"),
                ("retry-after", "1"),
            ],
            "",
        );
        let started = Instant::now();
        let done = drive(&script, &options(), initial, "op", Duration::from_secs(60))
            .await
            .unwrap();
        let body: serde_json::Value = done.json().unwrap();
        assert_eq!(body["result"], 42);
        assert_eq!(
            script.polled(),
            ["/operations/op1", "/operations/op1", "/results/op1"]
        );
        // Waited Retry-After 1 s, then the 2 s the in-progress answer asked for.
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_and_canceled_operations_are_errors() {
        for (body, code) in [
            (
                r#"{"status":"Failed","error":{"code":"ImportFailed","message":"bad document"}}"#,
                "ImportFailed",
            ),
            (r#"{"status":"CANCELED"}"#, "OperationCanceled"),
        ] {
            let script = Script::new(vec![answer(200, &[], body)]);
            let initial = answer(202, &[("azure-asyncoperation", "/operations/op2")], "");
            let err = drive(&script, &options(), initial, "op", Duration::from_secs(60))
                .await
                .unwrap_err();
            assert!(matches!(err, AzureError::OperationFailed { .. }), "{err:?}");
            assert_eq!(err.arm_code(), Some(code));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn location_polled_until_not_202_with_default_interval() {
        let script = Script::new(vec![
            answer(202, &[], ""),
            answer(202, &[], ""),
            answer(204, &[], ""),
        ]);
        let initial = answer(202, &[("location", "/results/op3")], "");
        let started = Instant::now();
        let done = drive(&script, &options(), initial, "op", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(done.status, 204);
        assert_eq!(script.polled().len(), 3);
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(15),
            "5 s default interval"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_never_ending_operation_hits_the_deadline() {
        let mut script = Script::new(Vec::new());
        script.forever = Some(answer(
            200,
            &[("retry-after", "10")],
            r#"{"status":"Running"}"#,
        ));
        let initial = answer(202, &[("azure-asyncoperation", "/operations/op4")], "");
        let err = drive(
            &script,
            &options(),
            initial,
            "importSpecification",
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, AzureError::Deadline { .. }), "{err:?}");
        assert!(err.to_string().contains("importSpecification"));
        assert!(script.polled().len() <= 6, "{}", script.polled().len());
    }

    #[tokio::test(start_paused = true)]
    async fn synchronous_answers_and_missing_headers() {
        let script = Script::new(Vec::new());
        let done = drive(
            &script,
            &options(),
            answer(200, &[], "{}"),
            "op",
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(done.status, 200);
        let created = drive(
            &script,
            &options(),
            answer(201, &[], "{}"),
            "op",
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(created.status, 201);
        assert!(script.polled().is_empty());
        let err = drive(
            &script,
            &options(),
            answer(202, &[], ""),
            "op",
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, AzureError::InvalidResponse { .. }), "{err:?}");
    }

    #[test]
    fn terminal_states_are_case_insensitive() {
        assert_eq!(
            OperationStatus::parse("Succeeded"),
            OperationStatus::Succeeded
        );
        assert_eq!(
            OperationStatus::parse("succeeded"),
            OperationStatus::Succeeded
        );
        assert_eq!(OperationStatus::parse("FAILED"), OperationStatus::Failed);
        assert_eq!(
            OperationStatus::parse("Canceled"),
            OperationStatus::Canceled
        );
        assert_eq!(
            OperationStatus::parse("cancelled"),
            OperationStatus::Canceled
        );
        assert_eq!(
            OperationStatus::parse("Running"),
            OperationStatus::InProgress
        );
        assert_eq!(
            OperationStatus::parse("InProgress"),
            OperationStatus::InProgress
        );
        assert_eq!(OperationStatus::parse(""), OperationStatus::InProgress);
    }

    #[test]
    fn status_body_tolerates_extra_and_missing_members() {
        let body: StatusBody = serde_json::from_str(
            r#"{"id":"x","status":"Failed","startTime":"t","error":{"code":"ImportFailed","message":"bad spec","details":null}}"#,
        )
        .unwrap();
        assert_eq!(
            OperationStatus::parse(&body.status),
            OperationStatus::Failed
        );
        assert_eq!(body.error.unwrap().code, "ImportFailed");
        let body: StatusBody = serde_json::from_str("{}").unwrap();
        assert_eq!(
            OperationStatus::parse(&body.status),
            OperationStatus::InProgress
        );
    }

    #[tokio::test]
    async fn deadline_is_enforced_before_sleeping() {
        let start = Instant::now();
        let err = wait_or_deadline(
            Duration::from_secs(30),
            start + Duration::from_secs(1),
            "importSpecification",
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, AzureError::Deadline { .. }));
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
