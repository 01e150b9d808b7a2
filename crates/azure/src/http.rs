//! `ArmClient`: every ARM call goes through here. It adds the bearer token and a
//! `x-ms-client-request-id`, lets each request leave when ARM's budget allows (an
//! adaptive in-flight limit per request class and a model of the principal's buckets,
//! see [`crate::admission`]), retries what is worth retrying (honouring `Retry-After`),
//! counts calls and reports to an observer.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::admission::{Admission, Outcome, clock_now};

use azure_core::credentials::TokenCredential;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{CloudConfig, ENV_STORAGE_HOST_SUFFIX, host_within};
use crate::error::{ArmErrorBody, AzureError, HttpError};
use crate::lro::LroOptions;
use crate::metrics::{ArmCallCounts, ArmObserver, Counters};
use crate::retry::{AttemptOutcome, RetryDecision, RetryPolicy, RetryState, parse_retry_after};
use crate::throttle::{Bucket, RemainingQuota, ThrottleOptions};
use crate::tls::{self, error_chain, transport_kind};
use crate::token_cache::TokenCache;

const CLIENT_REQUEST_ID: &str = "x-ms-client-request-id";
const REQUEST_ID: &str = "x-ms-request-id";
/// Export documents larger than this are refused rather than held in memory.
const MAX_LINK_BYTES: usize = 64 * 1024 * 1024;
/// Starts the message of an export link that is not followed, so logs and status
/// messages can be searched for it.
pub const EXPORT_LINK_REFUSED: &str = "ExportLinkRefused";

#[derive(Clone)]
pub struct ArmClientOptions {
    /// Timeout of one HTTP attempt (connect + answer + body).
    pub request_timeout: Duration,
    /// Requests of one class (reads, writes, deletes) in flight at once, across all
    /// callers of this client: the most the adaptive in-flight limit grows to. Each
    /// class has its own limit, so reads (e.g. a long-running operation's polls) never
    /// hold a write's place. Export-link downloads share one more limit of this size.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    pub throttle: ThrottleOptions,
    pub lro: LroOptions,
    pub observer: Option<Arc<dyn ArmObserver>>,
}

impl Default for ArmClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_concurrency: 32,
            retry: RetryPolicy::default(),
            throttle: ThrottleOptions::default(),
            lro: LroOptions::default(),
            observer: None,
        }
    }
}

impl std::fmt::Debug for ArmClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClientOptions")
            .field("request_timeout", &self.request_timeout)
            .field("max_concurrency", &self.max_concurrency)
            .field("retry", &self.retry)
            .field("lro", &self.lro)
            .finish_non_exhaustive()
    }
}

/// One logical ARM request (retried as a whole).
#[derive(Debug, Clone)]
pub struct ArmRequest {
    pub method: Method,
    pub url: Url,
    pub body: Option<serde_json::Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Safe to resend after an ambiguous failure (timeout, 5xx).
    pub idempotent: bool,
}

impl ArmRequest {
    pub fn new(method: Method, url: Url) -> Self {
        let idempotent = method != Method::POST && method != Method::PATCH;
        Self {
            method,
            url,
            body: None,
            headers: Vec::new(),
            idempotent,
        }
    }

    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    pub fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
}

/// How a request reaches ARM: the [`ArmClient`] in production, a script in unit tests
/// (so the code that reads answers is tested without a server).
pub(crate) trait ArmTransport: Sync {
    fn send(
        &self,
        request: ArmRequest,
    ) -> impl std::future::Future<Output = Result<ArmResponse, AzureError>> + Send;
}

impl ArmTransport for ArmClient {
    fn send(
        &self,
        request: ArmRequest,
    ) -> impl std::future::Future<Output = Result<ArmResponse, AzureError>> + Send {
        ArmClient::send(self, request)
    }
}

/// A successful (status < 400) ARM answer.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub method: Method,
    pub path: String,
}

impl ArmResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(&self) -> Option<String> {
        self.header("etag").map(str::to_string)
    }

    pub fn request_id(&self) -> Option<&str> {
        self.header(REQUEST_ID)
    }

    /// The body as `T`; an empty body reads as JSON `null`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AzureError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| AzureError::InvalidResponse {
            method: self.method.to_string(),
            path: self.path.clone(),
            message: e.to_string(),
        })
    }
}

struct Inner {
    endpoint: Url,
    /// Export links are followed only to this host or its subdomains.
    storage_host_suffix: String,
    http: reqwest::Client,
    tokens: TokenCache,
    /// When an ARM request may leave.
    admission: Admission,
    /// Export-link downloads in flight (storage, not ARM's budget).
    links: Semaphore,
    retry: RetryPolicy,
    counters: Counters,
    observer: Option<Arc<dyn ArmObserver>>,
    lro: LroOptions,
    /// What has been learned about a service's behaviour (see [`ArmClient::learned`]).
    learned: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

/// Cheap to clone; clones share the token, the limits and the counters.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.inner.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

/// Which service a path belongs to, for metrics labels.
fn service_of(path: &str) -> &'static str {
    let lower = path.to_ascii_lowercase();
    if lower.contains("/providers/microsoft.apimanagement/") {
        "apim"
    } else if lower.contains("/providers/microsoft.apicenter/") {
        "apicenter"
    } else {
        "arm"
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Percent-encodes one path segment (keeps RFC 3986 `pchar`s such as `;` and `=`,
/// which APIM revision ids like `echo-api;rev=2` use).
pub fn encode_segment(segment: &str) -> String {
    encode(segment, "-._~!$&'()*+,;=:@")
}

/// Percent-encodes a query value (spaces as `%20`, `$` kept for OData names).
pub fn encode_query(value: &str) -> String {
    encode(value, "-._~$,:@/'()")
}

fn encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        let c = byte as char;
        if c.is_ascii_alphanumeric() || (byte.is_ascii() && keep.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl ArmClient {
    pub fn new(
        cloud: &CloudConfig,
        credential: Arc<dyn TokenCredential>,
        options: ArmClientOptions,
    ) -> Result<Self, AzureError> {
        cloud.validate()?;
        let http = tls::http_client(cloud.ca_file.as_deref(), options.request_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                endpoint: cloud.arm_endpoint.clone(),
                storage_host_suffix: cloud.storage_host_suffix.clone(),
                http,
                tokens: TokenCache::new(credential, cloud.scope()),
                admission: Admission::new(options.throttle, options.max_concurrency.max(1)),
                links: Semaphore::new(options.max_concurrency.max(1)),
                retry: options.retry,
                counters: Counters::default(),
                observer: options.observer,
                lro: options.lro,
                learned: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    pub fn lro_options(&self) -> &LroOptions {
        &self.inner.lro
    }

    /// Shared state of type `T` for `key`, created on first use and kept for this
    /// client's life. Service clients are cheap and callers may build one per call, so
    /// what they learn about a service (e.g. whether it accepts conditional headers)
    /// lives here, where every service client built on this ARM client finds it.
    pub(crate) fn learned<T: Any + Send + Sync + Default>(&self, key: &str) -> Arc<T> {
        let key = format!("{}:{key}", std::any::type_name::<T>());
        let mut map = self
            .inner
            .learned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = map
            .entry(key)
            .or_insert_with(|| Arc::new(T::default()) as Arc<dyn Any + Send + Sync>);
        match Arc::clone(entry).downcast::<T>() {
            Ok(state) => state,
            // The key carries the type name, so this only guards the impossible.
            Err(_) => {
                let fresh = Arc::new(T::default());
                *entry = fresh.clone();
                fresh
            }
        }
    }

    /// The last `x-ms-ratelimit-remaining-subscription-*` values ARM answered with
    /// (`None` for a class no answer reported yet).
    pub fn remaining_quota(&self) -> RemainingQuota {
        self.inner.admission.throttle().remaining_quota()
    }

    /// Requests of class `bucket` that may be in flight now (the adaptive limit).
    pub fn in_flight_limit(&self, bucket: Bucket) -> usize {
        self.inner.admission.in_flight_limit(bucket)
    }

    /// The refill rate per second of the principal's `bucket` the client works with:
    /// measured from ARM's answers once they span long enough, else the documented one.
    pub fn refill_rate(&self, bucket: Bucket) -> f64 {
        self.inner.admission.throttle().refill_rate(bucket)
    }

    /// Counters since creation.
    pub fn counts(&self) -> ArmCallCounts {
        let mut counts = self.inner.counters.snapshot();
        counts.token_fetches = self.inner.tokens.fetches();
        counts
    }

    /// `{endpoint}{path}?api-version={v}&{query...}`; `path` is an ARM path starting
    /// with `/` whose segments are already encoded (see [`encode_segment`]).
    pub fn url(
        &self,
        path: &str,
        api_version: &str,
        query: &[(&str, &str)],
    ) -> Result<Url, AzureError> {
        let base = self.inner.endpoint.as_str().trim_end_matches('/');
        let mut url = Url::parse(&format!("{base}{path}"))
            .map_err(|e| AzureError::InvalidInput(format!("bad ARM path {path:?}: {e}")))?;
        let mut pairs = vec![format!("api-version={}", encode_query(api_version))];
        pairs.extend(
            query
                .iter()
                .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v))),
        );
        url.set_query(Some(&pairs.join("&")));
        Ok(url)
    }

    /// Refuses any URL outside the configured ARM endpoint: links in answers
    /// (`nextLink`, LRO URLs) must never receive the bearer token elsewhere.
    pub fn check_arm_url(&self, url: &Url) -> Result<(), AzureError> {
        if same_origin(url, &self.inner.endpoint) {
            Ok(())
        } else {
            Err(AzureError::InvalidResponse {
                method: "GET".into(),
                path: url.path().to_string(),
                message: format!(
                    "refusing to follow a link to {} outside the ARM endpoint {}",
                    url.origin().ascii_serialization(),
                    self.inner.endpoint.origin().ascii_serialization()
                ),
            })
        }
    }

    pub async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, AzureError> {
        self.send(ArmRequest::get(url)).await?.json()
    }

    /// Sends with retries. Any status >= 400 that is not retried (or still fails after
    /// retries) becomes [`AzureError::Http`] carrying the ARM error and request ids.
    pub async fn send(&self, request: ArmRequest) -> Result<ArmResponse, AzureError> {
        self.check_arm_url(&request.url)?;
        let mut call = Call::new(&request);
        loop {
            let token = self.inner.tokens.token().await?;
            let admitted = self.inner.admission.admit(call.bucket).await?;
            if !admitted.waited.is_zero() {
                self.note_wait(admitted.waited);
            }
            let (result, elapsed) = self.attempt(&call, token.secret()).await;
            let outcome = match &result {
                Ok((status, headers, _)) => Outcome::Answer {
                    status: *status,
                    headers,
                    latency: elapsed,
                },
                Err(_) => Outcome::NoAnswer,
            };
            // The place in flight is freed before any retry waits.
            self.inner.admission.settle(admitted, outcome);
            let answer = match result {
                Ok(answer) => answer,
                Err(err) => {
                    self.after_transport_error(&mut call, &err, elapsed).await?;
                    continue;
                }
            };
            if let Some(response) = self.after_answer(&mut call, answer, elapsed).await? {
                return Ok(response);
            }
        }
    }

    /// After an attempt that got no answer: `Ok` once it is time to try again, or the
    /// error when the policy gives up.
    async fn after_transport_error(
        &self,
        call: &mut Call<'_>,
        err: &reqwest::Error,
        elapsed: Duration,
    ) -> Result<(), AzureError> {
        let inner = &self.inner;
        let method = call.request.method.as_str();
        let path = &call.path;
        let kind = transport_kind(err);
        if let Some(observer) = &inner.observer {
            observer.on_response(call.service, method, 0, elapsed);
        }
        let message = error_chain(err);
        match inner.retry.decide(
            AttemptOutcome::Transport(kind),
            call.request.idempotent,
            &mut call.retry,
        ) {
            RetryDecision::Retry { delay, .. } => {
                tracing::warn!(%method, %path, ?kind, error = %message, client_request_id = %call.client_request_id, ?delay, "ARM transport error, retrying");
                Counters::bump(&inner.counters.retries);
                tokio::time::sleep(delay).await;
                Ok(())
            }
            RetryDecision::GiveUp => Err(AzureError::Transport {
                method: method.to_string(),
                path: path.clone(),
                kind,
                message,
            }),
        }
    }

    /// After an answer: the response when it succeeded, `None` once it is time to try
    /// again, or the error when the policy gives up.
    async fn after_answer(
        &self,
        call: &mut Call<'_>,
        (status, headers, body): (u16, HeaderMap, Bytes),
        elapsed: Duration,
    ) -> Result<Option<ArmResponse>, AzureError> {
        let inner = &self.inner;
        let method = call.request.method.as_str();
        let path = &call.path;
        if let Some(observer) = &inner.observer {
            observer.on_response(call.service, method, status, elapsed);
        }
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        tracing::debug!(%method, %path, status, elapsed_ms = elapsed.as_millis() as u64, request_id = request_id.as_deref().unwrap_or(""), "ARM call");
        if status < 400 {
            return Ok(Some(ArmResponse {
                status,
                headers,
                body,
                method: call.request.method.clone(),
                path: path.clone(),
            }));
        }
        let failed = FailedAnswer {
            status,
            error: error_body(&body),
            retry_after: parse_retry_after(&headers, SystemTime::now()),
            request_id,
        };
        self.after_failed_answer(call, failed).await.map(|()| None)
    }

    /// After an answer >= 400: `Ok` once it is time to try again, or the error when the
    /// policy gives up.
    async fn after_failed_answer(
        &self,
        call: &mut Call<'_>,
        failed: FailedAnswer,
    ) -> Result<(), AzureError> {
        let inner = &self.inner;
        let method = call.request.method.as_str();
        let path = &call.path;
        let FailedAnswer {
            status,
            error,
            retry_after,
            request_id,
        } = &failed;
        let request_id = request_id.as_deref().unwrap_or("");
        if *status == 429 {
            self.note_throttled(*retry_after);
        }
        if *status == 401 && !call.refreshed_token {
            // An expired or revoked token: fetch a new one once, then give up.
            call.refreshed_token = true;
            inner.tokens.invalidate().await;
            Counters::bump(&inner.counters.retries);
            tracing::warn!(%method, %path, code = %error.code, request_id, "ARM rejected the token, fetching a new one");
            return Ok(());
        }
        let outcome = AttemptOutcome::Status {
            status: *status,
            retry_after: *retry_after,
        };
        match inner
            .retry
            .decide(outcome, call.request.idempotent, &mut call.retry)
        {
            RetryDecision::Retry { delay, throttled } => {
                Counters::bump(&inner.counters.retries);
                if throttled {
                    self.note_wait(delay);
                }
                tracing::warn!(%method, %path, status, code = %error.code, request_id, client_request_id = %call.client_request_id, ?delay, "ARM call failed, retrying");
                tokio::time::sleep(delay).await;
                Ok(())
            }
            RetryDecision::GiveUp => {
                tracing::debug!(%method, %path, status, code = %error.code, request_id, "ARM call failed");
                Err(failed.into_error(call))
            }
        }
    }

    /// Counts a 429 and holds this client's requests for the wait ARM asked for.
    fn note_throttled(&self, retry_after: Option<Duration>) {
        let inner = &self.inner;
        Counters::bump(&inner.counters.throttled);
        // A wait longer than the policy allows is handed back to the caller
        // (who requeues); holding every other request on this client that long
        // would stall unrelated links sharing the identity.
        if let Some(after) = retry_after.filter(|a| *a <= inner.retry.max_retry_after) {
            inner.admission.throttle().block_until(clock_now() + after);
        }
    }

    /// One HTTP exchange of an admitted call: the answer (status, headers, body) or the
    /// transport error, and how long it took.
    async fn attempt(
        &self,
        call: &Call<'_>,
        token: &str,
    ) -> (Result<(u16, HeaderMap, Bytes), reqwest::Error>, Duration) {
        let inner = &self.inner;
        let request = call.request;
        let mut builder = inner
            .http
            .request(request.method.clone(), request.url.clone())
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CLIENT_REQUEST_ID, call.client_request_id.as_str())
            .header(ACCEPT, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &call.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        } else if request.method == Method::POST || request.method == Method::PUT {
            // ARM answers 411 to a bodiless POST without Content-Length.
            builder = builder.body(Vec::<u8>::new());
        }
        Counters::bump(match call.bucket {
            Bucket::Reads => &inner.counters.reads,
            Bucket::Writes => &inner.counters.writes,
            Bucket::Deletes => &inner.counters.deletes,
        });
        let started = Instant::now();
        let result = match builder.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                resp.bytes().await.map(|body| (status, headers, body))
            }
            Err(e) => Err(e),
        };
        (result, started.elapsed())
    }

    fn note_wait(&self, wait: Duration) {
        self.inner.counters.add_wait(wait);
        if let Some(observer) = &self.inner.observer {
            observer.on_throttle_wait(wait);
        }
    }

    /// Refuses an export link that is not https or whose host is outside the cloud's
    /// storage ([`CloudConfig::storage_host_suffix`]). The link comes from a service's
    /// answer: followed anywhere, it could make the controller fetch from internal
    /// endpoints (instance metadata, cluster services) and hand what it read to API
    /// Center. The error names the host only, never the path or the signed query.
    pub fn check_export_link(&self, url: &Url) -> Result<(), AzureError> {
        let host = url.host_str().unwrap_or_default();
        let shown = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let suffix = &self.inner.storage_host_suffix;
        let why = if url.scheme() != "https" {
            format!("it is {}, not https", url.scheme())
        } else if !host_within(host, suffix) {
            format!(
                "the host is outside the cloud's storage ({suffix} and its subdomains; \
                 {ENV_STORAGE_HOST_SUFFIX} names another)"
            )
        } else {
            return Ok(());
        };
        Err(AzureError::ExportLinkRefused { host: shown, why })
    }

    /// Downloads an export link (a short-lived SAS URL) with a plain GET: no
    /// Authorization header — the ARM token never leaves ARM — and the URL, which
    /// carries a signature, is never logged or put into an error. Only links into the
    /// cloud's storage are followed (see [`ArmClient::check_export_link`]).
    pub async fn download_link(&self, link: &str) -> Result<String, AzureError> {
        let url = Url::parse(link).map_err(|_| AzureError::InvalidResponse {
            method: "GET".into(),
            path: "<export link>".into(),
            message: "the export link is not a URL".into(),
        })?;
        self.check_export_link(&url)?;
        let shown = format!("https://{}/<export link>", url.host_str().unwrap_or(""));
        let inner = &self.inner;
        let mut state = RetryState::default();
        let limited = RetryPolicy {
            max_retries: inner.retry.max_retries.min(2),
            ..inner.retry.clone()
        };
        loop {
            let (result, elapsed) = self.download_attempt(&url).await?;
            let outcome = match &result {
                Ok((status, _)) => AttemptOutcome::Status {
                    status: *status,
                    retry_after: None,
                },
                Err(e) => AttemptOutcome::Transport(transport_kind(e)),
            };
            if let Some(observer) = &inner.observer {
                let status = result.as_ref().map(|(s, _)| *s).unwrap_or(0);
                observer.on_response("link", "GET", status, elapsed);
            }
            let failure = match result {
                Ok((status, body)) if status < 300 => return export_text(body, shown),
                Ok((status, _)) => link_status_error(&shown, status),
                Err(e) => link_transport_error(&shown, e),
            };
            match limited.decide(outcome, true, &mut state) {
                RetryDecision::Retry { delay, .. } => {
                    Counters::bump(&inner.counters.retries);
                    tokio::time::sleep(delay).await;
                }
                RetryDecision::GiveUp => return Err(failure),
            }
        }
    }

    /// One GET of an export link under a download permit: the status and the body
    /// (`None` when larger than [`MAX_LINK_BYTES`]) or the transport error, and how
    /// long it took.
    async fn download_attempt(
        &self,
        url: &Url,
    ) -> Result<(Result<(u16, Option<Vec<u8>>), reqwest::Error>, Duration), AzureError> {
        let inner = &self.inner;
        let _permit = inner
            .links
            .acquire()
            .await
            .map_err(|_| AzureError::InvalidInput("the ARM client is shutting down".into()))?;
        Counters::bump(&inner.counters.link_downloads);
        let started = Instant::now();
        let result = match inner.http.get(url.clone()).send().await {
            Ok(resp) => read_capped(resp, MAX_LINK_BYTES).await,
            Err(e) => Err(e),
        };
        Ok((result, started.elapsed()))
    }
}

/// One logical ARM request across its attempts.
struct Call<'a> {
    request: &'a ArmRequest,
    path: String,
    /// For metrics labels.
    service: &'static str,
    bucket: Bucket,
    /// The same on every attempt, so ARM's logs tie the retries together.
    client_request_id: String,
    /// Serialised once: an inline import can carry megabytes, and retries resend it.
    body: Option<Bytes>,
    retry: RetryState,
    /// A 401 fetched a new token already.
    refreshed_token: bool,
}

impl<'a> Call<'a> {
    fn new(request: &'a ArmRequest) -> Self {
        let path = request.url.path().to_string();
        Self {
            service: service_of(&path),
            path,
            bucket: Bucket::for_method(&request.method),
            client_request_id: uuid::Uuid::new_v4().to_string(),
            body: request.body.as_ref().map(|b| Bytes::from(b.to_string())),
            retry: RetryState::default(),
            refreshed_token: false,
            request,
        }
    }
}

/// What an answer >= 400 said.
struct FailedAnswer {
    status: u16,
    error: ArmErrorBody,
    retry_after: Option<Duration>,
    request_id: Option<String>,
}

impl FailedAnswer {
    fn into_error(self, call: &Call<'_>) -> AzureError {
        AzureError::Http(Box::new(HttpError {
            method: call.request.method.to_string(),
            path: call.path.clone(),
            status: self.status,
            error: self.error,
            request_id: self.request_id,
            client_request_id: call.client_request_id.clone(),
            retry_after: self.retry_after,
        }))
    }
}

/// The ARM error of a failed answer; any other body becomes its message, cut short.
fn error_body(body: &[u8]) -> ArmErrorBody {
    ArmErrorBody::parse(body).unwrap_or_else(|| ArmErrorBody {
        code: String::new(),
        message: String::from_utf8_lossy(body).chars().take(500).collect(),
        ..Default::default()
    })
}

/// The document of a successful export download.
fn export_text(body: Option<Vec<u8>>, shown: String) -> Result<String, AzureError> {
    let Some(body) = body else {
        return Err(AzureError::InvalidResponse {
            method: "GET".into(),
            path: shown,
            message: format!("export larger than {MAX_LINK_BYTES} bytes"),
        });
    };
    String::from_utf8(body).map_err(|_| AzureError::InvalidResponse {
        method: "GET".into(),
        path: shown,
        message: "export is not UTF-8".into(),
    })
}

fn link_status_error(shown: &str, status: u16) -> AzureError {
    AzureError::Http(Box::new(HttpError {
        method: "GET".into(),
        path: shown.to_string(),
        status,
        error: ArmErrorBody {
            code: crate::error::EXPORT_LINK_FAILED.into(),
            message: format!("downloading the export link answered HTTP {status}"),
            ..Default::default()
        },
        request_id: None,
        client_request_id: String::new(),
        retry_after: None,
    }))
}

fn link_transport_error(shown: &str, error: reqwest::Error) -> AzureError {
    AzureError::Transport {
        method: "GET".into(),
        path: shown.to_string(),
        kind: transport_kind(&error),
        // `without_url` keeps the signed URL out of the message.
        message: error_chain(&error.without_url()),
    }
}

/// Reads a body of at most `cap` bytes without buffering more than that: `None` when
/// the answer is larger (by its `Content-Length` or by what arrives).
async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<(u16, Option<Vec<u8>>), reqwest::Error> {
    let status = resp.status().as_u16();
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > cap))
    {
        return Ok((status, None));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok((status, None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, Some(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(encode_segment("echo-api;rev=2"), "echo-api;rev=2");
        assert_eq!(encode_segment("a b/c%"), "a%20b%2Fc%25");
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(encode_query("isCurrent eq true"), "isCurrent%20eq%20true");
        assert_eq!(encode_query("$filter"), "$filter");
        assert_eq!(encode_query("a&b=c"), "a%26b%3Dc");
    }

    #[test]
    fn services_by_path() {
        assert_eq!(
            service_of(
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/x/apis"
            ),
            "apim"
        );
        assert_eq!(
            service_of(
                "/subscriptions/s/resourceGroups/r/providers/microsoft.apicenter/services/x"
            ),
            "apicenter"
        );
        assert_eq!(service_of("/subscriptions/s"), "arm");
    }

    #[test]
    fn origins() {
        let a = Url::parse("https://127.0.0.1:8443/").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://127.0.0.1:8443/x?y=1").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://127.0.0.1:8444/").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://127.0.0.1:8443/").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://evil.example/").unwrap()
        ));
        let public = Url::parse("https://management.azure.com/").unwrap();
        assert!(same_origin(
            &public,
            &Url::parse("https://MANAGEMENT.azure.com:443/x").unwrap()
        ));
    }
}
