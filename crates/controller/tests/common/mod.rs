//! Test doubles for the controller: a fake API server behind kube's `Client` (a
//! tower-test mock service answering from a script and recording every request) and a
//! scripted `LinkRunner`.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apilink_controller::reconcile::{Context, ReconcileSettings};
use apilink_controller::runner::{
    CheckReport, CleanupOutcome, CleanupRequest, LinkRunner, PreflightRequest, RunError,
    SyncOutcome, SyncRequest,
};
use apilink_controller::{ApiSourceLink, ApiSourceLinkSpec, Metrics};
use http::{Request, Response};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use serde_json::{Value, json};

pub const NS: &str = "platform";
pub const NAME: &str = "payments";
pub const APIM: &str =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiManagement/service/payments";
pub const APIC: &str =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiCenter/services/catalog";

/// One request the fake API server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

impl Seen {
    pub fn is(&self, method: &str, path_suffix: &str) -> bool {
        self.method == method && self.path.ends_with(path_suffix)
    }
}

pub type Responder = Arc<dyn Fn(&Seen) -> (u16, Value) + Send + Sync>;

/// A fake API server: answers with `respond`, records everything.
pub struct FakeApi {
    pub client: Client,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeApi {
    pub fn new(respond: Responder) -> Self {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap();
                let entry = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().unwrap_or_default().to_string(),
                    content_type: parts
                        .headers
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string(),
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                };
                let (status, answer) = respond(&entry);
                log.lock().unwrap().push(entry);
                let response = Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                    .unwrap();
                send.send_response(response);
            }
        });
        Self {
            client: Client::new(service, "default"),
            seen,
        }
    }

    /// A server that accepts every write and answers 404 to Secret reads.
    pub fn accepting() -> Self {
        Self::new(Arc::new(default_answer))
    }

    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn not_found(what: &str) -> (u16, Value) {
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
               "code": 404, "message": format!("{what} not found")}),
    )
}

/// Echoes writes back (enough for kube to decode), 404 for Secrets.
pub fn default_answer(seen: &Seen) -> (u16, Value) {
    if seen.path.contains("/secrets/") {
        return not_found("secret");
    }
    match seen.method.as_str() {
        "POST" => (201, seen.body.clone()),
        _ => (200, link_json(&[], None)),
    }
}

pub fn secret_json(values: &[(&str, &str)]) -> Value {
    use base64::Engine;
    let data: serde_json::Map<String, Value> = values
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "azure-creds", "namespace": NS}, "data": data})
}

pub fn link_json(finalizers: &[&str], extra_spec: Option<Value>) -> Value {
    let mut spec = json!({
        "source": {"apimResourceId": APIM},
        "target": {"apiCenterResourceId": APIC},
    });
    if let Some(Value::Object(extra)) = extra_spec {
        for (k, v) in extra {
            spec[k] = v;
        }
    }
    let mut link = json!({
        "apiVersion": "apilink.dev/v1alpha1",
        "kind": "ApiSourceLink",
        "metadata": {
            "name": NAME, "namespace": NS, "uid": "6d1c3b1e-0000-4000-8000-000000000001",
            "generation": 1, "resourceVersion": "100",
            // Shortly before the test clock's start.
            "creationTimestamp": "2025-06-15T15:00:00Z",
        },
        "spec": spec,
    });
    // The API server omits an empty list.
    if !finalizers.is_empty() {
        link["metadata"]["finalizers"] = json!(finalizers);
    }
    link
}

pub fn link(finalizers: &[&str], extra_spec: Option<Value>) -> ApiSourceLink {
    serde_json::from_value(link_json(finalizers, extra_spec)).unwrap()
}

pub fn spec_only(link: &ApiSourceLink) -> ApiSourceLinkSpec {
    link.spec.clone()
}

#[derive(Debug, Clone)]
pub enum Call {
    Sync(SyncRequest),
    Cleanup(CleanupRequest),
}

/// A `LinkRunner` that records calls and returns scripted results (default: success
/// with nothing to do, a preflight without checks).
#[derive(Default)]
pub struct ScriptedRunner {
    pub calls: Mutex<Vec<Call>>,
    /// Preflights asked for, apart from `calls` so tests about passes see passes only.
    pub preflights: Mutex<Vec<PreflightRequest>>,
    pub preflight_results: Mutex<VecDeque<Result<CheckReport, RunError>>>,
    /// When set, passes never finish (to exercise the pass timeout).
    pub hang: std::sync::atomic::AtomicBool,
    pub sync_results: Mutex<VecDeque<Result<SyncOutcome, RunError>>>,
    pub cleanup_results: Mutex<VecDeque<Result<CleanupOutcome, RunError>>>,
}

impl ScriptedRunner {
    pub fn then_sync(&self, result: Result<SyncOutcome, RunError>) -> &Self {
        self.sync_results.lock().unwrap().push_back(result);
        self
    }

    pub fn then_preflight(&self, result: Result<CheckReport, RunError>) -> &Self {
        self.preflight_results.lock().unwrap().push_back(result);
        self
    }

    pub fn preflights(&self) -> Vec<PreflightRequest> {
        self.preflights.lock().unwrap().clone()
    }

    pub fn then_cleanup(&self, result: Result<CleanupOutcome, RunError>) -> &Self {
        self.cleanup_results.lock().unwrap().push_back(result);
        self
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl LinkRunner for ScriptedRunner {
    async fn sync(&self, req: SyncRequest) -> Result<SyncOutcome, RunError> {
        self.calls.lock().unwrap().push(Call::Sync(req));
        if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.sync_results
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(SyncOutcome::default()))
    }

    async fn preflight(&self, req: PreflightRequest) -> Result<CheckReport, RunError> {
        self.preflights.lock().unwrap().push(req);
        self.preflight_results
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(CheckReport::default()))
    }

    async fn cleanup(&self, req: CleanupRequest) -> Result<CleanupOutcome, RunError> {
        self.calls.lock().unwrap().push(Call::Cleanup(req));
        self.cleanup_results
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(CleanupOutcome::default()))
    }
}

/// A clock tests move by hand.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<Timestamp>>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(
            Timestamp::from_second(1_750_000_000).unwrap(),
        )))
    }

    pub fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap();
        *t = t
            .checked_add(k8s_openapi::jiff::SignedDuration::try_from(by).unwrap())
            .unwrap();
    }
}

pub fn context(
    api: &FakeApi,
    runner: Arc<ScriptedRunner>,
    clock: &TestClock,
) -> Arc<Context<ScriptedRunner>> {
    context_with(api, runner, clock, ReconcileSettings::default())
}

pub fn context_with(
    api: &FakeApi,
    runner: Arc<ScriptedRunner>,
    clock: &TestClock,
    settings: ReconcileSettings,
) -> Arc<Context<ScriptedRunner>> {
    let recorder = Recorder::new(
        api.client.clone(),
        Reporter {
            controller: "apilink-controller".into(),
            instance: Some("test-pod".into()),
        },
    );
    let clock = clock.clone();
    Arc::new(
        Context::new(
            api.client.clone(),
            runner,
            Metrics::new().unwrap(),
            recorder,
            settings,
        )
        .with_clock(Arc::new(move || clock.now())),
    )
}

/// Runs one reconcile, bounded in time (a request the fake cannot answer would hang).
pub async fn reconcile_once(
    link: &ApiSourceLink,
    ctx: &Arc<Context<ScriptedRunner>>,
) -> Result<kube::runtime::controller::Action, apilink_controller::reconcile::ReconcileError> {
    tokio::time::timeout(
        Duration::from_secs(10),
        apilink_controller::reconcile::reconcile(Arc::new(link.clone()), ctx.clone()),
    )
    .await
    .expect("reconcile finished in time")
}

/// The status a status apply in `seen` wrote, applied onto `link` (as the watch would
/// deliver it next).
pub fn with_applied_status(link: &ApiSourceLink, seen: &[Seen]) -> ApiSourceLink {
    let applied = seen
        .iter()
        .rev()
        .find(|s| s.method == "PATCH" && s.path.ends_with("/status"))
        .expect("a status apply");
    let mut next = link.clone();
    next.status = Some(serde_json::from_value(applied.body["status"].clone()).unwrap());
    next
}

pub fn condition<'a>(status: &'a Value, type_: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["type"] == type_))
}
