//! Long-running operations: a 201/202 answer is followed to its end through
//! `Azure-AsyncOperation` (a status body) or `Location` (202 while running, then
//! 200/204), waiting `Retry-After` between polls, always under a deadline.
//!
//! Actions (POST, e.g. importSpecification) have their own, stricter follower,
//! [`wait_for_action`]: every final answer is read, and a failure the service reports
//! — an error answer to a `Location` poll, a `Failed` status, an error-shaped body —
//! comes back as [`ActionOutcome::Failed`] rather than as a transport-level error.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
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

/// How an action ended, when the service reported an end.
#[derive(Debug, Clone)]
pub enum ActionOutcome {
    /// Done: the final answer (200/201/204), read and found not to be a failure.
    Done(ArmResponse),
    /// The service reported that the action failed.
    Failed {
        /// HTTP status of the answer that reported it (the error status of a poll, or
        /// the 2xx of a status body or synchronous answer).
        status: u16,
        error: ArmErrorBody,
        request_id: Option<String>,
    },
}

/// How an action ended, with what the follower saw on the way there.
#[derive(Debug, Clone)]
pub struct ActionReport {
    pub outcome: ActionOutcome,
    /// Requests sent after the first answer: status polls and the read of the result.
    pub polls: u32,
    /// The first `Retry-After` the service sent (on the first answer, else a poll), as
    /// it was sent, before the client's bounds.
    pub retry_after: Option<Duration>,
}

/// Follows an action's first answer (`initial`, the answer to the POST) the way the
/// contract declares it: 200/201/204 mean done (the body, if any, is still read);
/// 202 is polled through `Azure-AsyncOperation` when given, else `Location`, waiting
/// `Retry-After` between polls, within `budget`. Transient failures of a poll stay
/// errors (their class decides about retrying); failures the service reports about
/// the action are [`ActionOutcome::Failed`].
pub async fn wait_for_action(
    client: &ArmClient,
    initial: ArmResponse,
    operation: &str,
    budget: Duration,
) -> Result<ActionReport, AzureError> {
    let options = client.lro_options().clone();
    follow_action(client, &options, initial, operation, budget).await
}

/// [`wait_for_action`] over any transport.
pub(crate) async fn follow_action<T: PollTransport>(
    transport: &T,
    options: &LroOptions,
    initial: ArmResponse,
    operation: &str,
    budget: Duration,
) -> Result<ActionReport, AzureError> {
    let watched = Watched {
        inner: transport,
        polls: AtomicU32::new(0),
        retry_after: Mutex::new(parse_retry_after(&initial.headers, SystemTime::now())),
    };
    let outcome = drive_action(&watched, options, initial, operation, budget).await?;
    Ok(ActionReport {
        outcome,
        polls: watched.polls.load(Ordering::Relaxed),
        retry_after: *watched
            .retry_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    })
}

/// A transport that counts the polls sent through it and keeps the first
/// `Retry-After` it sees.
struct Watched<'a, T> {
    inner: &'a T,
    polls: AtomicU32,
    retry_after: Mutex<Option<Duration>>,
}

impl<T: PollTransport> PollTransport for Watched<'_, T> {
    fn poll(&self, url: Url) -> impl Future<Output = Result<ArmResponse, AzureError>> + Send {
        self.polls.fetch_add(1, Ordering::Relaxed);
        let answer = self.inner.poll(url);
        async move {
            let answer = answer.await;
            if let Ok(answer) = &answer {
                let mut first = self
                    .retry_after
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if first.is_none() {
                    *first = parse_retry_after(&answer.headers, SystemTime::now());
                }
            }
            answer
        }
    }

    fn resolve_link(&self, value: &str) -> Result<Url, AzureError> {
        self.inner.resolve_link(value)
    }
}

fn invalid(answer: &ArmResponse, message: String) -> AzureError {
    AzureError::InvalidResponse {
        method: answer.method.to_string(),
        path: answer.path.clone(),
        message,
    }
}

fn failed(answer: &ArmResponse, error: ArmErrorBody) -> ActionOutcome {
    ActionOutcome::Failed {
        status: answer.status,
        error,
        request_id: answer.request_id().map(str::to_string),
    }
}

/// The error a status body reports, or one made up when it names none.
fn reported_error(
    error: Option<ArmErrorBody>,
    status: OperationStatus,
    operation: &str,
) -> ArmErrorBody {
    error
        .filter(|e| !e.code.is_empty())
        .unwrap_or_else(|| ArmErrorBody {
            code: format!("Operation{status:?}"),
            message: format!("{operation} ended {status:?} without an error body"),
            ..Default::default()
        })
}

/// Reads a final (non-202) answer: an error-shaped body or a terminal failure status
/// is a failure even under a 2xx status.
fn judge_final(answer: ArmResponse, operation: &str) -> Result<ActionOutcome, AzureError> {
    if !matches!(answer.status, 200 | 201 | 204) {
        return Err(invalid(
            &answer,
            format!(
                "{operation} answered HTTP {}; the contract has 200, 202 or an error",
                answer.status
            ),
        ));
    }
    if answer.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionOutcome::Done(answer));
    }
    let body: serde_json::Value = match serde_json::from_slice(&answer.body) {
        Ok(body) => body,
        Err(e) => {
            return Err(invalid(
                &answer,
                format!(
                    "{operation} answered HTTP {} with a body that is not JSON: {e}",
                    answer.status
                ),
            ));
        }
    };
    let Some(object) = body.as_object() else {
        return Ok(ActionOutcome::Done(answer));
    };
    if let Some(error) = object
        .get("error")
        .filter(|e| e.is_object())
        .and_then(|e| serde_json::from_value::<ArmErrorBody>(e.clone()).ok())
        .filter(|e| !e.code.is_empty())
    {
        return Ok(failed(&answer, error));
    }
    // Some providers put the error object at the top level.
    if object
        .get("code")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|c| !c.is_empty())
        && object
            .get("message")
            .is_some_and(serde_json::Value::is_string)
        && let Ok(error) = serde_json::from_value::<ArmErrorBody>(body.clone())
    {
        return Ok(failed(&answer, error));
    }
    if let Some(status) = object.get("status").and_then(serde_json::Value::as_str) {
        match OperationStatus::parse(status) {
            OperationStatus::Succeeded => {}
            terminal @ (OperationStatus::Failed | OperationStatus::Canceled) => {
                let error = object
                    .get("error")
                    .and_then(|e| serde_json::from_value::<ArmErrorBody>(e.clone()).ok());
                return Ok(failed(&answer, reported_error(error, terminal, operation)));
            }
            OperationStatus::InProgress => {
                return Err(invalid(
                    &answer,
                    format!(
                        "{operation} answered HTTP {} with status {status:?} and nothing to poll",
                        answer.status
                    ),
                ));
            }
        }
    }
    Ok(ActionOutcome::Done(answer))
}

/// A poll answered with an error status: a definite 4xx is the service reporting the
/// action's failure; anything else (5xx, throttling, auth, a vanished operation) is
/// left to the error's own class.
fn poll_error(error: AzureError) -> Result<ActionOutcome, AzureError> {
    match error {
        AzureError::Http(http)
            if (400..500).contains(&http.status)
                && !matches!(http.status, 401 | 403 | 404 | 408 | 429) =>
        {
            Ok(ActionOutcome::Failed {
                status: http.status,
                error: http.error,
                request_id: http.request_id,
            })
        }
        other => Err(other),
    }
}

async fn drive_action<T: PollTransport>(
    transport: &T,
    options: &LroOptions,
    initial: ArmResponse,
    operation: &str,
    budget: Duration,
) -> Result<ActionOutcome, AzureError> {
    if initial.status != 202 {
        return judge_final(initial, operation);
    }
    let deadline = Instant::now() + budget;
    let async_operation = header_url(transport, &initial, "azure-asyncoperation")?;
    let location = header_url(transport, &initial, "location")?;
    let mut delay = poll_interval(&initial, options);

    if let Some(status_url) = async_operation {
        loop {
            wait_or_deadline(delay, deadline, operation, budget).await?;
            let answer = match transport.poll(status_url.clone()).await {
                Ok(answer) => answer,
                Err(e) => return poll_error(e),
            };
            let body: StatusBody = answer.json()?;
            match OperationStatus::parse(&body.status) {
                OperationStatus::InProgress => delay = poll_interval(&answer, options),
                OperationStatus::Succeeded => {
                    if location.is_none() {
                        return Ok(ActionOutcome::Done(answer));
                    }
                    // The result is at `Location`: read it at once.
                    delay = Duration::ZERO;
                    break;
                }
                terminal @ (OperationStatus::Failed | OperationStatus::Canceled) => {
                    return Ok(failed(
                        &answer,
                        reported_error(body.error, terminal, operation),
                    ));
                }
            }
        }
    }

    let Some(location) = location else {
        return Err(invalid(
            &initial,
            "202 Accepted without Azure-AsyncOperation or Location".into(),
        ));
    };
    loop {
        if !delay.is_zero() {
            wait_or_deadline(delay, deadline, operation, budget).await?;
        }
        let answer = match transport.poll(location.clone()).await {
            Ok(answer) => answer,
            Err(e) => return poll_error(e),
        };
        if answer.status != 202 {
            return judge_final(answer, operation);
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
        answers: Mutex<VecDeque<Result<ArmResponse, AzureError>>>,
        polled: Mutex<Vec<String>>,
        /// Once the script is exhausted, answer this forever (None: fail the test).
        forever: Option<ArmResponse>,
    }

    impl Script {
        fn new(answers: Vec<ArmResponse>) -> Self {
            Self::results(answers.into_iter().map(Ok).collect())
        }

        /// A script whose polls may also fail (an error status, after the client's
        /// own retries).
        fn results(answers: Vec<Result<ArmResponse, AzureError>>) -> Self {
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
                .or_else(|| self.forever.clone().map(Ok))
                .expect("the script ran out");
            async move { next }
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

    fn http_error(status: u16, code: &str, message: &str) -> AzureError {
        AzureError::Http(Box::new(crate::error::HttpError {
            method: "GET".into(),
            path: "/results/import1".into(),
            status,
            error: ArmErrorBody {
                code: code.into(),
                message: message.into(),
                ..Default::default()
            },
            request_id: Some("poll-request-id".into()),
            client_request_id: "cid".into(),
            retry_after: None,
        }))
    }

    async fn action(script: &Script, initial: ArmResponse) -> Result<ActionOutcome, AzureError> {
        drive_action(
            script,
            &options(),
            initial,
            "importSpecification",
            Duration::from_secs(60),
        )
        .await
    }

    fn failure(outcome: ActionOutcome) -> (u16, ArmErrorBody, Option<String>) {
        match outcome {
            ActionOutcome::Failed {
                status,
                error,
                request_id,
            } => (status, error, request_id),
            ActionOutcome::Done(answer) => panic!("expected a failure, got {}", answer.status),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn action_location_only_honours_retry_after_and_ends_on_200_or_204() {
        for last in [
            answer(204, &[], ""),
            answer(200, &[], ""),
            answer(200, &[], "{}"),
        ] {
            let script = Script::new(vec![
                answer(202, &[("retry-after", "7")], ""),
                answer(202, &[], ""),
                last,
            ]);
            let initial = answer(
                202,
                &[
                    ("location", "/results/import1?api-version=x"),
                    ("retry-after", "3"),
                ],
                "",
            );
            let started = Instant::now();
            let done = action(&script, initial).await.unwrap();
            assert!(matches!(done, ActionOutcome::Done(_)), "{done:?}");
            assert_eq!(script.polled(), ["/results/import1"; 3]);
            // 3 s asked by the POST, 7 s by the first poll, then the 5 s default.
            assert_eq!(started.elapsed(), Duration::from_secs(15));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn action_retry_after_is_bounded() {
        let script = Script::new(vec![answer(204, &[], "")]);
        let initial = answer(
            202,
            &[("location", "/results/import1"), ("retry-after", "86400")],
            "",
        );
        let started = Instant::now();
        action(&script, initial).await.unwrap();
        assert_eq!(started.elapsed(), LroOptions::default().max_poll_interval);
    }

    #[tokio::test(start_paused = true)]
    async fn action_failing_on_its_location_poll_is_reported_with_code_and_request_id() {
        let script = Script::results(vec![
            Ok(answer(202, &[], "")),
            Err(http_error(
                400,
                "InvalidApiSpecification",
                "line 3: not OpenAPI",
            )),
        ]);
        let initial = answer(202, &[("location", "/results/import1")], "");
        let (status, error, request_id) = failure(action(&script, initial).await.unwrap());
        assert_eq!(status, 400);
        assert_eq!(error.code, "InvalidApiSpecification");
        assert_eq!(error.message, "line 3: not OpenAPI");
        assert_eq!(request_id.as_deref(), Some("poll-request-id"));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_poll_failures_stay_errors() {
        for (status, code) in [
            (503, "ServiceUnavailable"),
            (500, ""),
            (429, "TooManyRequests"),
            (403, "AuthorizationFailed"),
            (404, "ResourceNotFound"),
        ] {
            let script = Script::results(vec![Err(http_error(status, code, "m"))]);
            let initial = answer(202, &[("location", "/results/import1")], "");
            let err = action(&script, initial).await.unwrap_err();
            assert_eq!(err.status(), Some(status), "{err:?}");
        }
        let script = Script::results(vec![Err(http_error(503, "", "busy"))]);
        let initial = answer(202, &[("azure-asyncoperation", "/operations/op1")], "");
        let err = action(&script, initial).await.unwrap_err();
        assert!(err.class().is_retryable(), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn action_async_operation_failed_or_canceled_is_reported() {
        let script = Script::new(vec![
            answer(200, &[], r#"{"status":"Running"}"#),
            answer(
                200,
                &[("x-ms-request-id", "status-rid")],
                r#"{"status":"Failed","error":{"code":"InvalidApiSpecification","message":"bad"}}"#,
            ),
        ]);
        let initial = answer(
            202,
            &[
                ("azure-asyncoperation", "/operations/op1"),
                ("location", "/results/op1"),
            ],
            "",
        );
        let (status, error, request_id) = failure(action(&script, initial).await.unwrap());
        assert_eq!(
            (status, error.code.as_str()),
            (200, "InvalidApiSpecification")
        );
        assert_eq!(request_id.as_deref(), Some("status-rid"));
        assert_eq!(script.polled(), ["/operations/op1", "/operations/op1"]);

        let script = Script::new(vec![answer(200, &[], r#"{"status":"Canceled"}"#)]);
        let initial = answer(202, &[("azure-asyncoperation", "/operations/op2")], "");
        let (_, error, _) = failure(action(&script, initial).await.unwrap());
        assert_eq!(error.code, "OperationCanceled");
    }

    #[tokio::test(start_paused = true)]
    async fn action_async_operation_success_reads_the_location_result() {
        let script = Script::new(vec![
            answer(200, &[], r#"{"status":"Succeeded"}"#),
            answer(
                200,
                &[],
                r#"{"error":{"code":"InvalidApiSpecification","message":"late"}}"#,
            ),
        ]);
        let initial = answer(
            202,
            &[
                ("azure-asyncoperation", "/operations/op1"),
                ("location", "/results/op1"),
            ],
            "",
        );
        let (_, error, _) = failure(action(&script, initial).await.unwrap());
        assert_eq!(error.message, "late");
        assert_eq!(script.polled(), ["/operations/op1", "/results/op1"]);

        let script = Script::new(vec![answer(200, &[], r#"{"status":"Succeeded"}"#)]);
        let initial = answer(202, &[("azure-asyncoperation", "/operations/op3")], "");
        assert!(matches!(
            action(&script, initial).await.unwrap(),
            ActionOutcome::Done(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn synchronous_action_answers_are_read() {
        let script = Script::new(Vec::new());
        for done in [
            answer(200, &[], ""),
            answer(200, &[], "{}"),
            answer(201, &[], "{}"),
            answer(204, &[], ""),
            answer(200, &[], r#"{"status":"Succeeded"}"#),
            answer(200, &[], "[]"),
        ] {
            let outcome = action(&script, done).await.unwrap();
            assert!(matches!(outcome, ActionOutcome::Done(_)), "{outcome:?}");
        }
        for (body, code) in [
            (
                r#"{"error":{"code":"InvalidApiSpecification","message":"m"}}"#,
                "InvalidApiSpecification",
            ),
            (r#"{"code":"Flat","message":"m"}"#, "Flat"),
            (
                r#"{"status":"Failed","error":{"code":"ImportFailed","message":"m"}}"#,
                "ImportFailed",
            ),
            (r#"{"status":"failed"}"#, "OperationFailed"),
        ] {
            let (status, error, _) =
                failure(action(&script, answer(200, &[], body)).await.unwrap());
            assert_eq!((status, error.code.as_str()), (200, code), "{body}");
        }
        for odd in [
            answer(200, &[], "<html>ok</html>"),
            answer(200, &[], r#"{"status":"Running"}"#),
            answer(203, &[], ""),
            answer(202, &[], ""),
        ] {
            let err = action(&script, odd).await.unwrap_err();
            assert!(matches!(err, AzureError::InvalidResponse { .. }), "{err:?}");
        }
        assert!(script.polled().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_never_ending_action_hits_the_deadline() {
        let mut script = Script::new(Vec::new());
        script.forever = Some(answer(202, &[("retry-after", "10")], ""));
        let initial = answer(202, &[("location", "/results/op4")], "");
        let err = action(&script, initial).await.unwrap_err();
        assert!(matches!(err, AzureError::Deadline { .. }), "{err:?}");
        assert!(script.polled().len() <= 6, "{}", script.polled().len());
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
