//! Reconcile against a fake API server (tower-test mock transport): finalizer add and
//! release, status applies, Delete vs Orphan, suspend, Secrets, errors and the schedule.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use apilink_controller::finalizer::FINALIZER;
use apilink_controller::runner::{
    CleanupOutcome, Coverage, Credentials, ErrorClass, PassMode, RunError, SyncOutcome,
};
use common::*;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

fn requeue_secs(action: &Action) -> Option<f64> {
    let text = format!("{action:?}");
    let inner = text.split("Some(").nth(1)?.split(')').next()?;
    if let Some(ms) = inner.strip_suffix("ms") {
        return ms.parse::<f64>().ok().map(|v| v / 1000.0);
    }
    inner.strip_suffix('s')?.parse().ok()
}

fn status_patches(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter()
        .filter(|s| s.method == "PATCH" && s.path.ends_with("/status"))
        .collect()
}

fn events(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .filter(|s| s.method == "POST" && s.path.contains("/events"))
        .map(|s| s.body["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

const LINK_PATH: &str = "/apis/apilink.dev/v1alpha1/namespaces/platform/apisourcelinks/payments";

#[tokio::test]
async fn adds_the_finalizer_before_anything_else() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());

    let action = reconcile_once(&link(&[], None), &ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let seen = api.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].is("PATCH", LINK_PATH));
    assert_eq!(seen[0].content_type, "application/json-patch+json");
    assert_eq!(
        seen[0].body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    );
    assert!(
        runner.calls().is_empty(),
        "no Azure call before the finalizer is in place"
    );
}

#[tokio::test]
async fn first_pass_reports_progress_then_ready_and_is_not_repeated_by_its_own_write() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let mut outcome = SyncOutcome {
        discovered: 3,
        synced: 3,
        ..Default::default()
    };
    outcome.applied.insert(("api".into(), "create".into()), 3);
    runner.then_sync(Ok(outcome));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);

    let action = reconcile_once(&live, &ctx).await.unwrap();
    let secs = requeue_secs(&action).unwrap();
    assert!(
        (54.0..=66.0).contains(&secs),
        "light poll about every 60s: {secs}"
    );

    let seen = api.take();
    let patches = status_patches(&seen);
    assert_eq!(patches.len(), 2, "progress, then result: {seen:?}");
    for p in &patches {
        assert_eq!(p.content_type, "application/apply-patch+yaml");
        assert!(
            p.query.contains("fieldManager=apilink-controller") && p.query.contains("force=true"),
            "{}",
            p.query
        );
        assert_eq!(p.body["kind"], "ApiSourceLink");
    }
    let progress = &patches[0].body["status"];
    assert_eq!(
        condition(progress, "Reconciling").unwrap()["status"],
        "True"
    );
    assert_eq!(condition(progress, "Ready").unwrap()["status"], "Unknown");
    let done = &patches[1].body["status"];
    assert_eq!(done["observedGeneration"], 1);
    assert_eq!(
        done["apis"],
        json!({"discovered": 3, "synced": 3, "skipped": 0})
    );
    assert_eq!(done["lastPass"]["mode"], "Full");
    assert!(done["lastSyncTime"].is_string() && done["lastFullResyncTime"].is_string());
    let ready = condition(done, "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("True"), Some("Succeeded"))
    );
    assert!(
        condition(done, "Reconciling").is_none(),
        "Reconciling only while True"
    );
    // The first pass of a link is preceded by its preflight.
    assert_eq!(events(&seen), vec!["PreflightPassed", "Synced"]);

    let calls = runner.calls();
    assert_eq!(calls.len(), 1);
    let Call::Sync(req) = &calls[0] else {
        panic!("sync expected")
    };
    assert_eq!(req.settings.link.as_str(), "platform/payments");
    assert_eq!(req.mode, PassMode::Full, "first pass reads everything");
    assert_eq!(req.credentials, Credentials::Default);

    // The watch delivers our own status write: no new pass, no write.
    let echoed = with_applied_status(&live, &seen);
    clock.advance(Duration::from_secs(5));
    let action = reconcile_once(&echoed, &ctx).await.unwrap();
    assert!(requeue_secs(&action).unwrap() > 40.0);
    assert!(api.take().is_empty());
    assert_eq!(runner.calls().len(), 1);

    // When the interval has passed: a light pass, no progress report, no event (nothing changed).
    clock.advance(Duration::from_secs(70));
    reconcile_once(&echoed, &ctx).await.unwrap();
    let calls = runner.calls();
    assert_eq!(calls.len(), 2);
    let Call::Sync(req) = &calls[1] else {
        panic!("sync expected")
    };
    assert_eq!(req.mode, PassMode::Light);
    // It re-checks the owned APIs whose turn came since the first pass started.
    let window = req
        .window
        .expect("a scheduled light poll carries its window");
    assert_eq!(
        (window.start(), window.end()),
        (
            UNIX_EPOCH + Duration::from_secs(1_750_000_000),
            UNIX_EPOCH + Duration::from_secs(1_750_000_075)
        )
    );
    assert_eq!(window.period(), Duration::from_secs(6 * 3600));
    assert_eq!(req.coverage(), Coverage::Window(window));
    let seen = api.take();
    assert_eq!(status_patches(&seen).len(), 1, "{seen:?}");
    let status = &status_patches(&seen)[0].body["status"];
    assert_eq!(
        status["lastSyncTime"], "2025-06-15T15:07:55Z",
        "where its window ended"
    );
    assert_eq!(status["lastFullResyncTime"], "2025-06-15T15:06:40Z");
    assert!(
        events(&seen).is_empty(),
        "steady state emits nothing: {seen:?}"
    );
}

#[tokio::test]
async fn requested_at_triggers_an_immediate_full_pass_and_is_echoed() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);
    reconcile_once(&live, &ctx).await.unwrap();
    let synced = with_applied_status(&live, &api.take());

    let mut requested = synced.clone();
    requested.metadata.annotations = Some(
        [(
            "reconcile.fluxcd.io/requestedAt".to_string(),
            "2024-05-01T10:00:00Z".to_string(),
        )]
        .into(),
    );
    clock.advance(Duration::from_secs(2));
    reconcile_once(&requested, &ctx).await.unwrap();
    let calls = runner.calls();
    assert_eq!(
        calls.len(),
        2,
        "annotation-only change starts a pass at once"
    );
    let Call::Sync(req) = &calls[1] else { panic!() };
    assert_eq!(req.mode, PassMode::Full);
    assert_eq!(req.window, None);
    let seen = api.take();
    let last = status_patches(&seen).last().unwrap().body["status"].clone();
    assert_eq!(last["lastHandledReconcileAt"], "2024-05-01T10:00:00Z");

    // Handled: the same token does not start another pass.
    let handled = with_applied_status(&requested, &seen);
    reconcile_once(&handled, &ctx).await.unwrap();
    assert_eq!(runner.calls().len(), 2);
}

#[tokio::test]
async fn suspended_link_makes_no_azure_call_but_reports() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let suspended = link(&[FINALIZER], Some(json!({"suspend": true})));
    let action = reconcile_once(&suspended, &ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    assert!(runner.calls().is_empty());
    let seen = api.take();
    let status = &status_patches(&seen)[0].body["status"];
    assert_eq!(
        status["observedGeneration"], 1,
        "kstatus must not see InProgress forever"
    );
    assert_eq!(condition(status, "Ready").unwrap()["reason"], "Suspended");
    assert_eq!(events(&seen), vec!["Suspended"]);
}

#[tokio::test]
async fn invalid_spec_stalls_without_retrying() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let bad = link(
        &[FINALIZER],
        Some(json!({"filter": {"include": ["[unclosed"]}})),
    );
    let action = reconcile_once(&bad, &ctx).await.unwrap();
    assert_eq!(action, Action::await_change(), "no retry storm");
    assert!(runner.calls().is_empty());
    let seen = api.take();
    let status = &status_patches(&seen)[0].body["status"];
    assert_eq!(
        condition(status, "Stalled").unwrap()["reason"],
        "InvalidSpec"
    );
    assert_eq!(condition(status, "Ready").unwrap()["status"], "False");
    assert!(condition(status, "Reconciling").is_none());
    assert!(
        condition(status, "Stalled").unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("spec.filter.include[0]")
    );
    let stalled = with_applied_status(&bad, &seen);
    reconcile_once(&stalled, &ctx).await.unwrap();
    assert!(
        api.take().is_empty(),
        "stalled links stay quiet until the spec changes"
    );
}

#[tokio::test]
async fn missing_secret_stalls_then_recovers_when_it_appears() {
    let secret_exists = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = secret_exists.clone();
    let api = FakeApi::new(Arc::new(move |seen: &Seen| {
        let secret_path = seen
            .path
            .ends_with("/namespaces/platform/secrets/azure-creds");
        if secret_path && flag.load(std::sync::atomic::Ordering::SeqCst) {
            return (
                200,
                secret_json(&[
                    ("AZURE_TENANT_ID", "tenant"),
                    ("AZURE_CLIENT_ID", "client"),
                    ("AZURE_CLIENT_SECRET", "very-secret"),
                ]),
            );
        }
        default_answer(seen)
    }));
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let with_secret = link(
        &[FINALIZER],
        Some(json!({"credentials": {"secretRef": {"name": "azure-creds"}}})),
    );

    let action = reconcile_once(&with_secret, &ctx).await.unwrap();
    assert_eq!(
        requeue_secs(&action),
        Some(30.0),
        "no Secret watch: a link stalled on its Secret looks again"
    );
    let seen = api.take();
    assert!(
        seen[0].is("GET", "/api/v1/namespaces/platform/secrets/azure-creds"),
        "{seen:?}"
    );
    let status = &status_patches(&seen)[0].body["status"];
    assert_eq!(
        condition(status, "Ready").unwrap()["reason"],
        "SecretNotFound"
    );
    assert!(runner.calls().is_empty());

    // The requeued reconcile finds the Secret.
    secret_exists.store(true, std::sync::atomic::Ordering::SeqCst);
    let stalled = with_applied_status(&with_secret, &seen);
    reconcile_once(&stalled, &ctx).await.unwrap();
    let calls = runner.calls();
    assert_eq!(calls.len(), 1);
    let Call::Sync(req) = &calls[0] else { panic!() };
    assert!(
        matches!(&req.credentials, Credentials::ClientSecret { client_id, .. } if client_id == "client")
    );
    let seen = api.take();
    let text = serde_json::to_string(&seen.iter().map(|s| &s.body).collect::<Vec<_>>()).unwrap();
    assert!(
        !text.contains("very-secret"),
        "the secret never reaches status or events"
    );
    let status = &status_patches(&seen).last().unwrap().body["status"];
    assert_eq!(condition(status, "Ready").unwrap()["status"], "True");
}

#[tokio::test]
async fn retryable_error_backs_off_and_terminal_error_stalls() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner
        .then_sync(Err(RunError::new(
            ErrorClass::RetryFast,
            "AzureUnavailable",
            "503 from ARM",
        )))
        .then_sync(Err(RunError::new(
            ErrorClass::RetryFast,
            "AzureUnavailable",
            "503 from ARM",
        )))
        .then_sync(Err(RunError::new(
            ErrorClass::NeedsUser,
            "InvalidRequest",
            "PropertyChangeNotAllowed",
        )));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);

    let action = reconcile_once(&live, &ctx).await.unwrap();
    assert_eq!(requeue_secs(&action), Some(1.0));
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    let ready = condition(status, "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("AzureUnavailable"))
    );
    assert_eq!(
        condition(status, "Reconciling").unwrap()["reason"],
        "ProgressingWithRetry"
    );
    assert!(condition(status, "Stalled").is_none());
    assert_eq!(events(&seen), vec!["PreflightPassed", "AzureUnavailable"]);

    let failing = with_applied_status(&live, &seen);
    clock.advance(Duration::from_secs(1));
    let action = reconcile_once(&failing, &ctx).await.unwrap();
    assert_eq!(requeue_secs(&action), Some(2.0), "1 s × 2^failures");
    let seen = api.take();
    assert!(
        events(&seen).is_empty(),
        "the same error again is not a new event"
    );
    assert!(
        status_patches(&seen).is_empty(),
        "the same failure again changes no status (no progress flip, no write): {seen:?}"
    );

    clock.advance(Duration::from_secs(2));
    let action = reconcile_once(&failing, &ctx).await.unwrap();
    assert_eq!(
        action,
        Action::await_change(),
        "terminal errors wait for a change"
    );
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    assert_eq!(
        condition(status, "Stalled").unwrap()["reason"],
        "InvalidRequest"
    );
    assert!(condition(status, "Reconciling").is_none());
    assert_eq!(runner.calls().len(), 3);
}

#[tokio::test]
async fn failing_past_the_convergence_bound_says_so() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner.then_sync(Err(RunError::new(
        ErrorClass::RetrySlow,
        "AzureThrottled",
        "429",
    )));
    let ctx = context(&api, runner.clone(), &TestClock::new());
    // Created two days ago, never synced: far past 6h + 60s.
    let mut old = link(&[FINALIZER], None);
    old.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(1_750_000_000 - 2 * 86_400).unwrap(),
    ));
    reconcile_once(&old, &ctx).await.unwrap();
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    let ready = condition(status, "Ready").unwrap();
    assert_eq!(ready["reason"], "ConvergenceBoundExceeded");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("AzureThrottled"),
        "{ready}"
    );
    assert_eq!(condition(status, "Reconciling").unwrap()["status"], "True");
    assert_eq!(
        events(&seen),
        vec!["PreflightPassed", "ConvergenceBoundExceeded"]
    );
}

#[tokio::test]
async fn deletion_with_delete_policy_cleans_up_then_releases() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let mut outcome = CleanupOutcome::default();
    outcome.applied.insert(("api".into(), "delete".into()), 2);
    runner.then_cleanup(Ok(outcome));
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let mut deleting = link(&["other.example/keep", FINALIZER], None);
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_750_000_000).unwrap(),
        ));

    let action = reconcile_once(&deleting, &ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = runner.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        matches!(&calls[0], Call::Cleanup(req) if req.settings.link.as_str() == "platform/payments")
    );
    let seen = api.take();
    assert_eq!(events(&seen), vec!["CleanupSucceeded"]);
    let release = seen
        .iter()
        .find(|s| s.is("PATCH", LINK_PATH))
        .expect("finalizer patch");
    assert_eq!(
        release.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers/1", "value": FINALIZER},
            {"op": "remove", "path": "/metadata/finalizers/1"},
        ])
    );
}

#[tokio::test]
async fn deletion_with_orphan_policy_releases_without_azure() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let mut deleting = link(&[FINALIZER], Some(json!({"deletionPolicy": "Orphan"})));
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_750_000_000).unwrap(),
        ));
    reconcile_once(&deleting, &ctx).await.unwrap();
    assert!(runner.calls().is_empty(), "Orphan never calls Azure");
    let seen = api.take();
    assert!(seen[0].is("PATCH", LINK_PATH));
    assert_eq!(
        seen[0].body[1],
        json!({"op": "remove", "path": "/metadata/finalizers/0"})
    );
    assert_eq!(events(&seen), vec!["Orphaned"]);
}

#[tokio::test]
async fn failed_cleanup_keeps_the_finalizer_and_says_why() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner
        .then_cleanup(Err(RunError::new(
            ErrorClass::NeedsUser,
            "AuthorizationFailed",
            "the identity lacks Microsoft.ApiCenter/services/workspaces/apis/delete",
        )
        .with_retry_after(Duration::from_secs(180))))
        .then_cleanup(Ok(CleanupOutcome::default()));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let mut deleting = link(&[FINALIZER], None);
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_750_000_000).unwrap(),
        ));

    let action = reconcile_once(&deleting, &ctx).await.unwrap();
    assert_eq!(requeue_secs(&action), Some(180.0), "Retry-After is a floor");
    let seen = api.take();
    assert!(
        !seen.iter().any(|s| s.is("PATCH", LINK_PATH)),
        "finalizer kept: {seen:?}"
    );
    let status = &status_patches(&seen)[0].body["status"];
    let ready = condition(status, "Ready").unwrap();
    assert_eq!(ready["reason"], "AuthorizationFailed");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("finalizer stays")
    );
    assert_eq!(events(&seen), vec!["AuthorizationFailed"]);

    // Its own status write does not retry early; the timer does.
    let echoed = with_applied_status(&deleting, &seen);
    reconcile_once(&echoed, &ctx).await.unwrap();
    assert_eq!(runner.calls().len(), 1);
    clock.advance(Duration::from_secs(181));
    reconcile_once(&echoed, &ctx).await.unwrap();
    assert_eq!(runner.calls().len(), 2);
    assert!(
        api.take().iter().any(|s| s.is("PATCH", LINK_PATH)),
        "released after success"
    );
}

#[tokio::test]
async fn deleting_a_link_whose_spec_is_invalid_keeps_the_finalizer_without_calling_azure() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let mut deleting = link(
        &[FINALIZER],
        Some(json!({"filter": {"include": ["[unclosed"]}})),
    );
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_750_000_000).unwrap(),
        ));

    let action = reconcile_once(&deleting, &ctx).await.unwrap();
    assert_eq!(
        requeue_secs(&action),
        Some(1.0),
        "retried slowly from the first backoff"
    );
    assert!(
        runner.calls().is_empty(),
        "the runner gets valid settings only"
    );
    let seen = api.take();
    assert!(
        !seen.iter().any(|s| s.is("PATCH", LINK_PATH)),
        "finalizer kept: {seen:?}"
    );
    let status = &status_patches(&seen)[0].body["status"];
    let ready = condition(status, "Ready").unwrap();
    assert_eq!(ready["reason"], "InvalidSpec");
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.starts_with("Deleting: invalid link spec: spec.filter.include[0]"),
        "{message}"
    );
    assert!(message.ends_with("(the finalizer stays until cleanup succeeds)"));
    assert_eq!(events(&seen), vec!["InvalidSpec"]);
}

#[tokio::test]
async fn deleting_a_link_whose_resource_ids_are_invalid_releases_it() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let mut deleting = link(
        &[FINALIZER],
        Some(json!({"source": {"apimResourceId": "/not/an/arm/id"}})),
    );
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_750_000_000).unwrap(),
        ));
    let action = reconcile_once(&deleting, &ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    assert!(runner.calls().is_empty());
    let seen = api.take();
    assert!(seen[0].is("PATCH", LINK_PATH), "{seen:?}");
    let orphaned = seen
        .iter()
        .find(|s| s.method == "POST" && s.path.contains("/events"))
        .unwrap();
    assert_eq!(orphaned.body["reason"], "Orphaned");
    assert!(
        orphaned.body["note"]
            .as_str()
            .unwrap()
            .contains("the resource ids are invalid, so nothing was ever synced"),
        "{}",
        orphaned.body
    );
}

#[tokio::test]
async fn kubernetes_errors_fail_the_reconcile() {
    let api = FakeApi::new(Arc::new(|seen: &Seen| {
        if seen.path.ends_with("/status") {
            return (
                500,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500, "message": "etcd down", "reason": "InternalError"}),
            );
        }
        default_answer(seen)
    }));
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let err = reconcile_once(&link(&[FINALIZER], None), &ctx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("writing status"), "{err}");
    let action = apilink_controller::reconcile::error_policy(
        Arc::new(link(&[FINALIZER], None)),
        &err,
        ctx.clone(),
    );
    assert_eq!(requeue_secs(&action), Some(1.0));
    let metrics = ctx.metrics.render().unwrap();
    assert!(
        metrics
            .contains(r#"controller_runtime_reconcile_errors_total{controller="apisourcelink"} 1"#),
        "{metrics}"
    );
    let _: Value = Value::Null;
}

#[tokio::test(start_paused = true)]
async fn a_hung_pass_is_abandoned_and_retried() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    let settings = apilink_controller::reconcile::ReconcileSettings {
        pass_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let ctx = context_with(&api, runner.clone(), &TestClock::new(), settings);
    let action = reconcile_once(&link(&[FINALIZER], None), &ctx)
        .await
        .unwrap();
    assert_eq!(requeue_secs(&action), Some(1.0), "retried with backoff");
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    assert_eq!(condition(status, "Ready").unwrap()["reason"], "PassTimeout");
    assert_eq!(condition(status, "Reconciling").unwrap()["status"], "True");
}

#[tokio::test]
async fn permission_problems_stall_but_are_probed_slowly() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let denied = || {
        RunError::new(
            ErrorClass::NeedsUser,
            "AuthorizationFailed",
            "reading APIM: 403 AuthorizationFailed; grant the identity the \"API Management Service Reader Role\"",
        )
        .with_retry_after(Duration::from_secs(180))
    };
    runner.then_sync(Err(denied())).then_sync(Err(denied()));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);

    let action = reconcile_once(&live, &ctx).await.unwrap();
    assert_eq!(
        requeue_secs(&action),
        Some(180.0),
        "role assignments propagate in minutes: probe again, slowly"
    );
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    let stalled = condition(status, "Stalled").expect("a permission problem stalls the link");
    assert_eq!(stalled["status"], "True");
    assert_eq!(stalled["reason"], "AuthorizationFailed");
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("API Management Service Reader")
    );
    assert!(condition(status, "Reconciling").is_none());
    let ready = condition(status, "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("AuthorizationFailed"))
    );

    // No retry storm: reconciles before the probe time do not call Azure.
    let stalled_link = with_applied_status(&live, &seen);
    clock.advance(Duration::from_secs(60));
    reconcile_once(&stalled_link, &ctx).await.unwrap();
    assert_eq!(runner.calls().len(), 1);
    clock.advance(Duration::from_secs(121));
    reconcile_once(&stalled_link, &ctx).await.unwrap();
    assert_eq!(
        runner.calls().len(),
        2,
        "the slow probe runs once the time comes"
    );
}

fn held(count: u32) -> apilink_controller::runner::HeldDeletions {
    apilink_controller::runner::HeldDeletions {
        count,
        apis: (0..count).map(|i| format!("api-{i}")).collect(),
        message: format!(
            "{count} API deletions held; confirm with apilink.dev/confirm-deletions: \"{count}\""
        ),
    }
}

fn with_status_and_annotation(
    status: Value,
    annotation: Option<&str>,
) -> apilink_controller::crd::ApiSourceLink {
    let mut json = link_json(&[FINALIZER], None);
    json["status"] = status;
    if let Some(value) = annotation {
        json["metadata"]["annotations"] = json!({"apilink.dev/confirm-deletions": value});
    }
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn held_deletions_make_the_link_not_ready_until_their_number_is_confirmed() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner.then_sync(Ok(SyncOutcome {
        discovered: 0,
        held_deletions: Some(held(7)),
        ..Default::default()
    }));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    reconcile_once(&link(&[FINALIZER], None), &ctx)
        .await
        .unwrap();
    let seen = api.take();
    let done = &status_patches(&seen).last().unwrap().body["status"];
    let ready = condition(done, "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("DeletionsHeld"))
    );
    assert!(condition(done, "Stalled").is_none(), "held is not stalled");
    assert_eq!(done["heldDeletions"]["count"], 7);
    assert!(events(&seen).contains(&"DeletionsHeld".to_string()));

    // A different number confirms nothing; the number the status shows does.
    let status = json!({"observedGeneration": 1, "heldDeletions": {"count": 7, "apis": ["api-0"]}});
    for (annotation, expected) in [("6", None), ("7", Some(7))] {
        let api = FakeApi::accepting();
        let runner = Arc::new(ScriptedRunner::default());
        let ctx = context(&api, runner.clone(), &TestClock::new());
        reconcile_once(
            &with_status_and_annotation(status.clone(), Some(annotation)),
            &ctx,
        )
        .await
        .unwrap();
        let calls = runner.calls();
        let Some(Call::Sync(req)) = calls.first() else {
            panic!("a pass expected: {calls:?}")
        };
        assert_eq!(
            req.settings.confirmed_deletions, expected,
            "annotation {annotation}"
        );
        let seen = api.take();
        let removed = seen.iter().any(|s| {
            s.method == "PATCH"
                && s.path == LINK_PATH
                && s.body["metadata"]["annotations"]["apilink.dev/confirm-deletions"].is_null()
                && s.body["metadata"]["annotations"].is_object()
        });
        assert_eq!(
            removed,
            expected.is_some(),
            "a used confirmation is removed"
        );
    }
}

#[tokio::test]
async fn one_failing_api_backs_off_alone_and_the_link_is_not_stalled() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner.then_sync(Ok(SyncOutcome {
        discovered: 4,
        synced: 3,
        api_failures: vec![apilink_controller::runner::ApiFailure {
            api: "petstore-1a2b3c4d".into(),
            reason: "InvalidRequest".into(),
            message: "title too long".into(),
        }],
        ..Default::default()
    }));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let action = reconcile_once(&link(&[FINALIZER], None), &ctx)
        .await
        .unwrap();
    let secs = requeue_secs(&action).unwrap();
    assert!(
        (54.0..=66.0).contains(&secs),
        "the link polls as usual: {secs}"
    );
    let seen = api.take();
    let done = &status_patches(&seen).last().unwrap().body["status"];
    let ready = condition(done, "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("ApiFailures"))
    );
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("petstore-1a2b3c4d")
    );
    assert!(condition(done, "Stalled").is_none());
    let failing = &done["apiFailures"][0];
    assert_eq!(failing["api"], "petstore-1a2b3c4d");
    assert_eq!(failing["failures"], 1);

    // The next pass, a minute later and within the API's backoff, leaves it alone.
    clock.advance(Duration::from_secs(70));
    let mut json = link_json(&[FINALIZER], None);
    json["status"] = done.clone();
    let again: apilink_controller::crd::ApiSourceLink = serde_json::from_value(json).unwrap();
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let ctx = context(&api, runner.clone(), &clock);
    reconcile_once(&again, &ctx).await.unwrap();
    let calls = runner.calls();
    let Some(Call::Sync(req)) = calls.first() else {
        panic!("a pass expected: {calls:?}")
    };
    assert!(req.settings.paused_apis.contains("petstore-1a2b3c4d"));
}
