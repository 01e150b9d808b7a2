//! The preflight over the fake API server: a failing check holds the link (Ready=False
//! with the check's reason and remedy, no pass, checked again in 5 minutes), a passing
//! one lets the pass run in the same reconcile and is not repeated for the generation.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use apilink_controller::finalizer::FINALIZER;
use apilink_controller::reconcile::ReconcileSettings;
use apilink_controller::runner::{CheckReport, Credentials, ErrorClass, RunError};
use apilink_core::preflight::CheckLine;
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

/// Events published: created, or patched when kube's recorder counts a repeat of the
/// same event in its series.
fn events(seen: &[Seen]) -> Vec<&Value> {
    seen.iter()
        .filter(|s| (s.method == "POST" || s.method == "PATCH") && s.path.contains("/events"))
        .map(|s| &s.body)
        .collect()
}

fn reasons(seen: &[Seen]) -> Vec<&str> {
    events(seen)
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default())
        .collect()
}

const REMEDY: &str =
    "grant the identity \"Azure API Center Data Contributor\" on the API Center service";

fn role_missing() -> CheckReport {
    CheckReport {
        lines: vec![
            CheckLine::pass("credential", "a token for the pod's identity"),
            CheckLine::fail(
                "apic.permissions",
                "AuthorizationFailed",
                "the identity cannot write API Center APIs",
                REMEDY,
            ),
        ],
    }
}

fn passing_with_a_warning() -> CheckReport {
    CheckReport {
        lines: vec![
            CheckLine::pass("credential", "a token for the pod's identity"),
            CheckLine::warn(
                "apim.inventory",
                "NoApisSelected",
                "the filter selects no API",
                "widen spec.filter",
            ),
        ],
    }
}

fn failed_checks_metric(
    ctx: &Arc<apilink_controller::reconcile::Context<ScriptedRunner>>,
) -> String {
    let text = ctx.metrics.render().unwrap();
    text.lines()
        .find(|l| l.starts_with("apilink_preflight_failed_checks{"))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_failing_check_holds_the_link_and_is_checked_again_in_five_minutes() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner
        .then_preflight(Ok(role_missing()))
        .then_preflight(Ok(role_missing()))
        .then_preflight(Ok(CheckReport::default()));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);

    let action = reconcile_once(&live, &ctx).await.unwrap();
    assert_eq!(requeue_secs(&action), Some(300.0), "checked again in 5 min");
    assert!(runner.calls().is_empty(), "no pass: {:?}", runner.calls());
    assert_eq!(runner.preflights().len(), 1);
    let seen = api.take();
    let patches = status_patches(&seen);
    assert_eq!(patches.len(), 1, "one status write: {seen:?}");
    let status = &patches[0].body["status"];
    let ready = condition(status, "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("AuthorizationFailed"))
    );
    assert_eq!(
        ready["message"].as_str(),
        role_missing().failure_message().as_deref()
    );
    assert!(
        ready["message"].as_str().unwrap().contains(REMEDY),
        "the remedy is in the message: {ready}"
    );
    // Like a permission refusal during a pass: nothing progresses until someone acts
    // outside the cluster (the checks still run again every 5 minutes).
    assert_eq!(
        condition(status, "Stalled").unwrap()["reason"],
        "AuthorizationFailed"
    );
    assert!(condition(status, "Reconciling").is_none(), "{status}");
    assert_eq!(status["observedGeneration"], 1);
    let preflight = &status["preflight"];
    assert_eq!(preflight["result"], "Failed");
    assert_eq!(preflight["time"], "2025-06-15T15:06:40Z");
    assert_eq!(
        preflight["checks"],
        json!([
            {"check": "credential", "status": "pass", "reason": "Ok",
             "summary": "a token for the pod's identity"},
            {"check": "apic.permissions", "status": "fail", "reason": "AuthorizationFailed",
             "summary": "the identity cannot write API Center APIs", "remedy": REMEDY},
        ])
    );
    assert_eq!(reasons(&seen), vec!["PreflightFailed"]);
    let event = events(&seen)[0];
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["action"], "Preflight");
    assert_eq!(
        event["note"].as_str(),
        Some(role_missing().event_note(1000).as_str())
    );
    assert_eq!(
        failed_checks_metric(&ctx),
        r#"apilink_preflight_failed_checks{name="payments",namespace="platform"} 1"#
    );

    // Its own status write, and any wake-up before the five minutes, do nothing.
    let held = with_applied_status(&live, &seen);
    clock.advance(Duration::from_secs(60));
    let action = reconcile_once(&held, &ctx).await.unwrap();
    assert_eq!(requeue_secs(&action), Some(240.0));
    assert_eq!(runner.preflights().len(), 1);
    assert!(runner.calls().is_empty());
    assert!(api.take().is_empty());

    // Five minutes on, the same failure: checked again, the status says when, no event.
    clock.advance(Duration::from_secs(240));
    let action = reconcile_once(&held, &ctx).await.unwrap();
    assert_eq!(requeue_secs(&action), Some(300.0));
    assert_eq!(runner.preflights().len(), 2);
    assert!(runner.calls().is_empty());
    let seen = api.take();
    assert!(reasons(&seen).is_empty(), "the same failure is not news");
    let status = &status_patches(&seen)[0].body["status"];
    assert_eq!(status["preflight"]["time"], "2025-06-15T15:11:40Z");
    assert_eq!(
        condition(status, "Ready").unwrap()["reason"],
        "AuthorizationFailed"
    );

    // The role was granted: the checks pass and the pass runs in the same reconcile.
    let held = with_applied_status(&held, &seen);
    clock.advance(Duration::from_secs(300));
    reconcile_once(&held, &ctx).await.unwrap();
    assert_eq!(runner.preflights().len(), 3);
    assert_eq!(runner.calls().len(), 1, "the pass ran");
    let seen = api.take();
    assert_eq!(reasons(&seen), vec!["PreflightPassed", "Ready"]);
    let status = &status_patches(&seen).last().unwrap().body["status"];
    assert_eq!(status["preflight"]["result"], "Passed");
    assert_eq!(condition(status, "Ready").unwrap()["status"], "True");
    assert_eq!(
        failed_checks_metric(&ctx),
        r#"apilink_preflight_failed_checks{name="payments",namespace="platform"} 0"#
    );
}

#[tokio::test]
async fn a_passing_preflight_runs_once_per_generation() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner
        .then_preflight(Ok(passing_with_a_warning()))
        .then_preflight(Ok(passing_with_a_warning()));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);

    reconcile_once(&live, &ctx).await.unwrap();
    let asked = runner.preflights();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].settings.link.to_string(), "platform/payments");
    assert_eq!(asked[0].credentials, Credentials::Default);
    assert_eq!(
        runner.calls().len(),
        1,
        "the pass ran in the same reconcile"
    );
    let seen = api.take();
    let patches = status_patches(&seen);
    assert_eq!(
        patches.len(),
        2,
        "the preflight rides on the progress write: {seen:?}"
    );
    let expected_checks = json!([
        {"check": "credential", "status": "pass", "reason": "Ok",
         "summary": "a token for the pod's identity"},
        {"check": "apim.inventory", "status": "warn", "reason": "NoApisSelected",
         "summary": "the filter selects no API", "remedy": "widen spec.filter"},
    ]);
    for patch in &patches {
        assert_eq!(patch.body["status"]["preflight"]["result"], "Passed");
        assert_eq!(patch.body["status"]["preflight"]["checks"], expected_checks);
    }
    assert_eq!(
        condition(&patches[1].body["status"], "Ready").unwrap()["status"],
        "True"
    );
    assert_eq!(reasons(&seen), vec!["PreflightPassed", "Ready"]);
    let event = events(&seen)[0];
    assert_eq!(event["type"], "Normal");
    assert_eq!(
        event["note"].as_str(),
        Some(passing_with_a_warning().event_note(1000).as_str())
    );
    assert_eq!(
        failed_checks_metric(&ctx),
        r#"apilink_preflight_failed_checks{name="payments",namespace="platform"} 0"#
    );

    // The next pass of the same generation goes without the checks.
    let synced = with_applied_status(&live, &seen);
    clock.advance(Duration::from_secs(70));
    reconcile_once(&synced, &ctx).await.unwrap();
    assert_eq!(runner.calls().len(), 2, "the next pass ran");
    assert_eq!(runner.preflights().len(), 1, "without the checks");
    let seen = api.take();
    assert!(reasons(&seen).is_empty(), "{seen:?}");

    // A new generation runs them again, and says so.
    let mut edited = with_applied_status(&synced, &seen);
    edited.metadata.generation = Some(2);
    reconcile_once(&edited, &ctx).await.unwrap();
    assert_eq!(runner.preflights().len(), 2);
    assert_eq!(runner.calls().len(), 3);
    let seen = api.take();
    assert_eq!(reasons(&seen), vec!["PreflightPassed", "Ready"]);
}

#[tokio::test]
async fn a_credentials_change_runs_the_checks_again() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);

    reconcile_once(&live, &ctx).await.unwrap();
    let synced = with_applied_status(&live, &api.take());
    ctx.credentials_changed("platform/payments".into());
    reconcile_once(&synced, &ctx).await.unwrap();
    assert_eq!(runner.preflights().len(), 2);
    assert_eq!(runner.calls().len(), 2);
}

#[tokio::test]
async fn checks_that_cannot_run_fail_like_a_pass() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner.then_preflight(Err(RunError::new(
        ErrorClass::RetryFast,
        "AzureUnavailable",
        "ARM answered 503",
    )));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);
    let live = link(&[FINALIZER], None);

    let action = reconcile_once(&live, &ctx).await.unwrap();
    assert_eq!(requeue_secs(&action), Some(1.0), "the usual backoff");
    assert!(runner.calls().is_empty(), "no pass");
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
    assert!(status.get("preflight").is_none(), "{status}");
    assert_eq!(reasons(&seen), vec!["AzureUnavailable"]);

    // The retry runs the checks again (they never passed), then the pass.
    let failing = with_applied_status(&live, &seen);
    clock.advance(Duration::from_secs(1));
    reconcile_once(&failing, &ctx).await.unwrap();
    assert_eq!(runner.preflights().len(), 2);
    assert_eq!(runner.calls().len(), 1);
}

#[tokio::test]
async fn the_preflight_can_be_switched_off() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner.then_preflight(Ok(role_missing()));
    let settings = ReconcileSettings {
        preflight: false,
        ..Default::default()
    };
    let ctx = context_with(&api, runner.clone(), &TestClock::new(), settings);
    reconcile_once(&link(&[FINALIZER], None), &ctx)
        .await
        .unwrap();
    assert!(runner.preflights().is_empty());
    assert_eq!(runner.calls().len(), 1, "the pass ran");
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    assert!(status.get("preflight").is_none(), "{status}");
    assert!(!reasons(&seen).iter().any(|r| r.starts_with("Preflight")));
    assert!(failed_checks_metric(&ctx).is_empty());
}
