//! Least privilege and tenant scopes against the fake API server: a link's Secret is read
//! with `get` only (no watch), so rotation is noticed by reading it again; a link outside
//! its namespace's tenant scope stalls before any Secret read or Azure call.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apilink_controller::finalizer::FINALIZER;
use apilink_controller::reconcile::ReconcileSettings;
use apilink_controller::runner::{Credentials, ErrorClass, RunError};
use apilink_controller::scope::TenantScopes;
use common::*;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

const SECRET_PATH: &str = "/api/v1/namespaces/platform/secrets/azure-creds";

/// The Secret the fake API server holds: `None` is missing, `Some((resourceVersion,
/// client secret))` present; `forbidden` answers 403 as RBAC would.
#[derive(Default)]
struct SecretStore {
    current: Option<(String, String)>,
    forbidden: bool,
}

fn secret_answer(store: &Mutex<SecretStore>, seen: &Seen) -> Option<(u16, Value)> {
    if !seen.path.ends_with(SECRET_PATH) {
        return None;
    }
    let store = store.lock().unwrap();
    if store.forbidden {
        return Some((
            403,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                   "message": "secrets \"azure-creds\" is forbidden: User \"system:serviceaccount:apilink-system:apilink\" cannot get resource \"secrets\" in API group \"\" in the namespace \"platform\""}),
        ));
    }
    let (version, client_secret) = store.current.clone()?;
    let mut secret = secret_json(&[
        ("AZURE_TENANT_ID", "tenant"),
        ("AZURE_CLIENT_ID", "client"),
        ("AZURE_CLIENT_SECRET", &client_secret),
    ]);
    secret["metadata"]["resourceVersion"] = json!(version);
    Some((200, secret))
}

fn api_with_secret(store: &Arc<Mutex<SecretStore>>) -> FakeApi {
    let store = store.clone();
    FakeApi::new(Arc::new(move |seen: &Seen| {
        secret_answer(&store, seen).unwrap_or_else(|| default_answer(seen))
    }))
}

fn with_secret() -> apilink_controller::ApiSourceLink {
    link(
        &[FINALIZER],
        Some(json!({"credentials": {"secretRef": {"name": "azure-creds"}}, "interval": "10s"})),
    )
}

fn status_patches(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter()
        .filter(|s| s.method == "PATCH" && s.path.ends_with("/status"))
        .collect()
}

fn secret_reads(seen: &[Seen]) -> usize {
    seen.iter().filter(|s| s.is("GET", SECRET_PATH)).count()
}

fn client_secret_of(call: &Call) -> String {
    let Call::Sync(req) = call else {
        panic!("expected a pass, got {call:?}")
    };
    match &req.credentials {
        Credentials::ClientSecret { client_secret, .. } => client_secret.clone(),
        Credentials::Default => panic!("expected Secret credentials"),
    }
}

fn requeue(action: &Action) -> String {
    format!("{action:?}")
}

#[tokio::test]
async fn every_pass_reads_the_secret_so_a_rotation_reaches_the_next_pass() {
    let store = Arc::new(Mutex::new(SecretStore {
        current: Some(("1".into(), "first-secret".into())),
        forbidden: false,
    }));
    let api = api_with_secret(&store);
    let runner = Arc::new(ScriptedRunner::default());
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);

    reconcile_once(&with_secret(), &ctx).await.unwrap();
    let seen = api.take();
    assert_eq!(secret_reads(&seen), 1);
    let ready = with_applied_status(&with_secret(), &seen);

    store.lock().unwrap().current = Some(("2".into(), "second-secret".into()));
    clock.advance(Duration::from_secs(12));
    reconcile_once(&ready, &ctx).await.unwrap();
    let seen = api.take();
    assert_eq!(secret_reads(&seen), 1, "{seen:?}");
    let calls = runner.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(client_secret_of(&calls[0]), "first-secret");
    assert_eq!(client_secret_of(&calls[1]), "second-secret");
    let text = serde_json::to_string(&seen.iter().map(|s| &s.body).collect::<Vec<_>>()).unwrap();
    assert!(
        !text.contains("second-secret"),
        "values never reach the API"
    );
}

#[tokio::test]
async fn a_stalled_link_looks_at_its_secret_and_passes_only_when_it_changed() {
    let store = Arc::new(Mutex::new(SecretStore {
        current: Some(("1".into(), "expired-secret".into())),
        forbidden: false,
    }));
    let api = api_with_secret(&store);
    let runner = Arc::new(ScriptedRunner::default());
    runner.then_sync(Err(RunError::new(
        ErrorClass::NeedsUser,
        "InvalidClientSecret",
        "AADSTS7000222: the client secret expired",
    )));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);

    let action = reconcile_once(&with_secret(), &ctx).await.unwrap();
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(10)),
        "stalled, back after its interval (10 s) to look at the Secret: {}",
        requeue(&action)
    );
    let seen = api.take();
    let stalled = with_applied_status(&with_secret(), &seen);
    let status = &status_patches(&seen).last().unwrap().body["status"];
    assert_eq!(
        condition(status, "Stalled").unwrap()["reason"],
        "InvalidClientSecret"
    );

    // Same Secret: one metadata read, no pass, no status write.
    clock.advance(Duration::from_secs(10));
    let action = reconcile_once(&stalled, &ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let seen = api.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].is("GET", SECRET_PATH));
    assert_eq!(runner.calls().len(), 1);

    // Rotated: the next look runs a pass with the new value.
    store.lock().unwrap().current = Some(("2".into(), "fresh-secret".into()));
    clock.advance(Duration::from_secs(10));
    let action = reconcile_once(&stalled, &ctx).await.unwrap();
    let calls = runner.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(client_secret_of(&calls[1]), "fresh-secret");
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    assert_eq!(condition(status, "Ready").unwrap()["status"], "True");
    assert!(condition(status, "Stalled").is_none());
    assert_ne!(action, Action::await_change(), "back on its interval");
}

#[tokio::test]
async fn an_authentication_failure_backing_off_for_minutes_notices_a_rotation() {
    let store = Arc::new(Mutex::new(SecretStore {
        current: Some(("1".into(), "revoked-secret".into())),
        forbidden: false,
    }));
    let api = api_with_secret(&store);
    let runner = Arc::new(ScriptedRunner::default());
    // What the Azure client reports for a token refused by Entra ID: user error, probed
    // again after 3 minutes.
    runner.then_sync(Err(RunError::new(
        ErrorClass::NeedsUser,
        "AuthenticationFailed",
        "token acquisition failed: AADSTS7000215: Invalid client secret provided",
    )
    .with_retry_after(Duration::from_secs(180))));
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);

    let action = reconcile_once(&with_secret(), &ctx).await.unwrap();
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(10)),
        "the Secret is looked at every interval, not after the 3-minute backoff: {}",
        requeue(&action)
    );
    let failed = with_applied_status(&with_secret(), &api.take());

    clock.advance(Duration::from_secs(10));
    let action = reconcile_once(&failed, &ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let seen = api.take();
    assert_eq!(seen.len(), 1, "one metadata read: {seen:?}");
    assert_eq!(runner.calls().len(), 1);

    store.lock().unwrap().current = Some(("2".into(), "new-secret".into()));
    clock.advance(Duration::from_secs(10));
    reconcile_once(&failed, &ctx).await.unwrap();
    let calls = runner.calls();
    assert_eq!(
        calls.len(),
        2,
        "the rotation ran a pass before the backoff ended"
    );
    assert_eq!(client_secret_of(&calls[1]), "new-secret");
}

#[tokio::test]
async fn a_stalled_link_without_a_secret_waits_for_a_change_of_its_own() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    runner.then_sync(Err(RunError::new(
        ErrorClass::NeedsUser,
        "InvalidRequest",
        "PropertyChangeNotAllowed",
    )));
    let ctx = context(&api, runner.clone(), &TestClock::new());
    let live = link(&[FINALIZER], None);
    let action = reconcile_once(&live, &ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let stalled = with_applied_status(&live, &api.take());
    assert_eq!(
        reconcile_once(&stalled, &ctx).await.unwrap(),
        Action::await_change()
    );
    assert!(api.take().is_empty());
}

#[tokio::test]
async fn a_secret_the_controller_may_not_read_stalls_saying_what_to_change() {
    let store = Arc::new(Mutex::new(SecretStore {
        current: Some(("1".into(), "s".into())),
        forbidden: true,
    }));
    let api = api_with_secret(&store);
    let runner = Arc::new(ScriptedRunner::default());
    let clock = TestClock::new();
    let ctx = context(&api, runner.clone(), &clock);

    let action = reconcile_once(&with_secret(), &ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let seen = api.take();
    let status = &status_patches(&seen).last().unwrap().body["status"];
    let stalled_condition = condition(status, "Stalled").unwrap();
    assert_eq!(stalled_condition["reason"], "SecretForbidden");
    let message = stalled_condition["message"].as_str().unwrap();
    assert!(
        message.contains("platform/azure-creds") && message.contains("rbac.secretNamespaces"),
        "{message}"
    );
    assert!(
        !message.contains("is forbidden: User"),
        "the API server's text is not copied: {message}"
    );
    assert!(runner.calls().is_empty());

    // Access granted (a RoleBinding added): the next look passes.
    store.lock().unwrap().forbidden = false;
    clock.advance(Duration::from_secs(10));
    let stalled = with_applied_status(&with_secret(), &seen);
    reconcile_once(&stalled, &ctx).await.unwrap();
    assert_eq!(runner.calls().len(), 1);
}

const CATALOG: &str = APIC;

fn scoped(yaml: &str) -> ReconcileSettings {
    ReconcileSettings {
        tenant_scopes: TenantScopes::parse(yaml).unwrap(),
        ..ReconcileSettings::default()
    }
}

#[tokio::test]
async fn a_link_outside_its_tenant_scope_stalls_before_any_secret_read_or_azure_call() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let settings = scoped(
        r#"
- namespaces: [platform]
  source: ["/subscriptions/0000/*"]
  target: ["/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiCenter/services/other"]
"#,
    );
    let ctx = context_with(&api, runner.clone(), &TestClock::new(), settings);

    let action = reconcile_once(&with_secret(), &ctx).await.unwrap();
    assert_eq!(
        action,
        Action::await_change(),
        "scopes change only with a restart"
    );
    let seen = api.take();
    assert_eq!(secret_reads(&seen), 0, "{seen:?}");
    assert!(runner.calls().is_empty());
    let status = &status_patches(&seen)[0].body["status"];
    let stalled = condition(status, "Stalled").unwrap();
    assert_eq!(stalled["status"], "True");
    assert_eq!(stalled["reason"], "ScopeNotAllowed");
    assert_eq!(
        condition(status, "Ready").unwrap()["reason"],
        "ScopeNotAllowed"
    );
    let message = stalled["message"].as_str().unwrap();
    assert!(message.contains(CATALOG), "{message}");
    assert!(message.contains("services/other"), "{message}");

    // Its own status write wakes it: nothing is written again.
    let stalled_link = with_applied_status(&with_secret(), &seen);
    reconcile_once(&stalled_link, &ctx).await.unwrap();
    assert!(api.take().is_empty());
    assert!(runner.calls().is_empty());
}

#[tokio::test]
async fn a_link_inside_its_tenant_scope_syncs() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let settings = scoped(
        r#"
- namespaces: ["plat*"]
  source: ["/SUBSCRIPTIONS/0000/resourceGroups/rg/*"]
  target: ["/subscriptions/0000/resourcegroups/RG/providers/Microsoft.ApiCenter/services/catalog"]
"#,
    );
    let ctx = context_with(&api, runner.clone(), &TestClock::new(), settings);
    reconcile_once(&link(&[FINALIZER], None), &ctx)
        .await
        .unwrap();
    assert_eq!(runner.calls().len(), 1);
}

#[tokio::test]
async fn deleting_a_link_outside_its_scope_releases_it_without_the_cleanup() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let settings = scoped(
        r#"
- namespaces: [someone-else]
  source: ["*"]
  target: ["*"]
"#,
    );
    let ctx = context_with(&api, runner.clone(), &TestClock::new(), settings);
    let mut deleting = link(&[FINALIZER], None);
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_750_000_000).unwrap(),
        ));
    reconcile_once(&deleting, &ctx).await.unwrap();
    assert!(runner.calls().is_empty(), "no cleanup outside the scope");
    let seen = api.take();
    assert!(
        seen[0].is(
            "PATCH",
            "/apis/apilink.dev/v1alpha1/namespaces/platform/apisourcelinks/payments"
        ),
        "{seen:?}"
    );
    assert_eq!(
        seen[0].body[1],
        json!({"op": "remove", "path": "/metadata/finalizers/0"})
    );
    let note = seen
        .iter()
        .find(|s| s.method == "POST" && s.path.contains("/events"))
        .map(|s| s.body["note"].as_str().unwrap_or_default().to_string())
        .unwrap();
    assert!(
        note.contains("namespace platform has no tenant scope"),
        "{note}"
    );
}

#[tokio::test]
async fn a_suspended_link_outside_its_scope_reports_suspended() {
    let api = FakeApi::accepting();
    let runner = Arc::new(ScriptedRunner::default());
    let settings = scoped("- {namespaces: [x], source: [\"*\"], target: [\"*\"]}");
    let ctx = context_with(&api, runner.clone(), &TestClock::new(), settings);
    reconcile_once(&link(&[FINALIZER], Some(json!({"suspend": true}))), &ctx)
        .await
        .unwrap();
    let seen = api.take();
    let status = &status_patches(&seen)[0].body["status"];
    assert_eq!(condition(status, "Ready").unwrap()["reason"], "Suspended");
    assert!(runner.calls().is_empty());
}
