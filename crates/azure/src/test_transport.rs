//! A scripted ARM for unit tests: answers requests from a list, in order, and records
//! what was sent, so the code that reads answers is tested without a server.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use url::Url;

use crate::error::{ArmErrorBody, AzureError, HttpError};
use crate::http::{ArmRequest, ArmResponse, ArmTransport};
use crate::lro::PollTransport;

/// The base every scripted URL hangs off.
pub(crate) const BASE: &str = "https://arm.test";

/// One request as the script received it.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Value>,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// `METHOD /path?query`.
    pub fn line(&self) -> String {
        match self.url.query() {
            Some(query) => format!("{} {}?{query}", self.method, self.url.path()),
            None => format!("{} {}", self.method, self.url.path()),
        }
    }
}

#[derive(Default)]
pub(crate) struct Scripted {
    answers: Mutex<VecDeque<Result<ArmResponse, AzureError>>>,
    sent: Mutex<Vec<Sent>>,
}

impl Scripted {
    pub fn new(answers: Vec<Result<ArmResponse, AzureError>>) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            sent: Mutex::new(Vec::new()),
        }
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// `METHOD /path?query` of every request, in order.
    pub fn lines(&self) -> Vec<String> {
        self.sent().iter().map(Sent::line).collect()
    }

    fn answer(&self, sent: Sent) -> Result<ArmResponse, AzureError> {
        let method = sent.method.clone();
        let path = sent.url.path().to_string();
        self.sent.lock().unwrap().push(sent);
        let next = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("the script ran out at {method} {path}"));
        next.map(|mut answer| {
            answer.method = method;
            answer.path = path;
            answer
        })
    }
}

impl ArmTransport for Scripted {
    fn send(
        &self,
        request: ArmRequest,
    ) -> impl Future<Output = Result<ArmResponse, AzureError>> + Send {
        let result = self.answer(Sent {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        });
        async move { result }
    }
}

impl PollTransport for Scripted {
    fn poll(&self, url: Url) -> impl Future<Output = Result<ArmResponse, AzureError>> + Send {
        self.send(ArmRequest::get(url))
    }

    fn resolve_link(&self, value: &str) -> Result<Url, AzureError> {
        Url::parse(BASE)
            .unwrap()
            .join(value)
            .map_err(|e| AzureError::InvalidInput(e.to_string()))
    }
}

/// `{BASE}{path_and_query}`.
pub(crate) fn url(path_and_query: &str) -> Url {
    Url::parse(BASE).unwrap().join(path_and_query).unwrap()
}

/// An answer with these headers and body (method and path are the request's).
pub(crate) fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> ArmResponse {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    ArmResponse {
        status,
        headers: map,
        body: bytes::Bytes::from(body.to_string()),
        method: Method::GET,
        path: String::new(),
    }
}

/// An answer whose body is `body` as JSON.
pub(crate) fn json(status: u16, body: &Value) -> Result<ArmResponse, AzureError> {
    Ok(answer(status, &[], &body.to_string()))
}

/// An ARM error answer, as the client returns it after its own retries.
pub(crate) fn http_error(status: u16, code: &str) -> AzureError {
    AzureError::Http(Box::new(HttpError {
        method: "PUT".into(),
        path: "/scripted".into(),
        status,
        error: ArmErrorBody {
            code: code.into(),
            message: format!("{code} message"),
            ..Default::default()
        },
        request_id: Some("rid".into()),
        client_request_id: "cid".into(),
        retry_after: None,
    }))
}
