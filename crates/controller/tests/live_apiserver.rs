//! The controller against a real kube-apiserver (not run by default: it needs one).
//!
//!   . "$(tests/e2e/control-plane/up.sh)"
//!   APILINK_LIVE_KUBECONFIG=$KUBECONFIG cargo test -p apilink-controller --test live_apiserver -- --ignored
//!
//! Covers what the mock transport cannot: watches, server-side apply of status against
//! the real schema, a Secret read with `get` only (no watch: a link stalled on its Secret
//! looks at it again), events, the Lease and finalizer handling.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use apilink_controller::run::{LeaderElection, Shutdown};
use apilink_controller::{ApiSourceLink, ControllerConfig, Metrics};
use common::{Call, ScriptedRunner};
use futures::FutureExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::json;

async fn connect(impersonate: Option<&str>) -> Client {
    let path = std::env::var("APILINK_LIVE_KUBECONFIG")
        .expect("set APILINK_LIVE_KUBECONFIG to a kubeconfig of a disposable cluster");
    let kubeconfig = Kubeconfig::read_from(path).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    config.auth_info.impersonate = impersonate.map(str::to_string);
    Client::try_from(config).unwrap()
}

/// With `APILINK_LIVE_AS_CHART=1` the controller runs as the chart's ServiceAccount
/// (`kubectl apply --server-side -f deploy/install.yaml` first), proving its RBAC is
/// enough; the lease is then the chart's.
fn as_chart() -> bool {
    std::env::var_os("APILINK_LIVE_AS_CHART").is_some()
}

/// Polls `check` every 200 ms for at most `secs` seconds.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..(secs * 5) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

fn ready_reason(link: &ApiSourceLink) -> Option<(String, String)> {
    link.condition("Ready")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test]
#[ignore = "needs a kube-apiserver: set APILINK_LIVE_KUBECONFIG"]
async fn controller_against_a_real_apiserver() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = connect(None).await;
    let controller_client = if as_chart() {
        connect(Some("system:serviceaccount:apilink-system:apilink")).await
    } else {
        client.clone()
    };
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "apisourcelinks.apilink.dev",
        &PatchParams::apply("apilink-live-test").force(),
        &Patch::Apply(apilink_controller::crd().unwrap()),
    )
    .await
    .unwrap();
    let ns = format!("live-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    // The CRD must be served before the controller starts its watch.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let runner = Arc::new(ScriptedRunner::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown: Shutdown = async move {
        let _ = stop_rx.await;
    }
    .boxed()
    .shared();
    let config = ControllerConfig {
        namespaces: vec![ns.clone()],
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        leader_election: Some(LeaderElection {
            lease_name: if as_chart() {
                "apilink-controller"
            } else {
                "apilink-live-test"
            }
            .into(),
            lease_namespace: if as_chart() {
                "apilink-system".into()
            } else {
                ns.clone()
            },
            identity: "live-test-pod".into(),
            lease_duration_secs: 15,
            renew_grace_secs: 5,
        }),
        ..ControllerConfig::default()
    };
    let controller = tokio::spawn(apilink_controller::run_with_client(
        controller_client,
        config,
        Metrics::new().unwrap(),
        runner.clone(),
        shutdown,
    ));

    let links: Api<ApiSourceLink> = Api::namespaced(client.clone(), &ns);
    let link: ApiSourceLink = serde_json::from_value(json!({
        "apiVersion": "apilink.dev/v1alpha1", "kind": "ApiSourceLink",
        "metadata": {"name": "payments"},
        "spec": {
            "source": {"apimResourceId": common::APIM},
            "target": {"apiCenterResourceId": common::APIC},
        },
    }))
    .unwrap();
    links.create(&PostParams::default(), &link).await.unwrap();
    eventually(30, "Ready=True", || async {
        let l = links.get("payments").await.unwrap();
        ready_reason(&l) == Some(("True".into(), "Succeeded".into()))
            && l.metadata.finalizers.as_deref() == Some(&["apilink.dev/cleanup".to_string()][..])
            && l.status.as_ref().and_then(|s| s.observed_generation) == Some(1)
    })
    .await;
    assert_eq!(
        runner.calls().len(),
        1,
        "one pass, not one per status write"
    );

    // `flux reconcile`-style request: an annotation-only change.
    links
        .patch(
            "payments",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now-1"}}}),
            ),
        )
        .await
        .unwrap();
    eventually(30, "lastHandledReconcileAt", || async {
        let l = links.get("payments").await.unwrap();
        l.status
            .and_then(|s| s.last_handled_reconcile_at)
            .as_deref()
            == Some("now-1")
    })
    .await;
    assert_eq!(runner.calls().len(), 2);

    // A link whose Secret is missing stalls, and recovers when the Secret appears.
    let with_secret: ApiSourceLink = serde_json::from_value(json!({
        "apiVersion": "apilink.dev/v1alpha1", "kind": "ApiSourceLink",
        "metadata": {"name": "with-secret"},
        "spec": {
            "source": {"apimResourceId": common::APIM},
            "target": {"apiCenterResourceId": common::APIC},
            "credentials": {"secretRef": {"name": "azure-creds"}},
            "deletionPolicy": "Orphan",
        },
    }))
    .unwrap();
    links
        .create(&PostParams::default(), &with_secret)
        .await
        .unwrap();
    eventually(30, "SecretNotFound", || async {
        let l = links.get("with-secret").await.unwrap();
        ready_reason(&l) == Some(("False".into(), "SecretNotFound".into()))
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "azure-creds"},
        "stringData": {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    // Without a Secret watch the stalled link looks again within 30 s (its 60 s interval,
    // capped).
    eventually(45, "recovery after the Secret appeared", || async {
        let l = links.get("with-secret").await.unwrap();
        ready_reason(&l) == Some(("True".into(), "Succeeded".into()))
    })
    .await;

    // Delete runs the cleanup and releases; Orphan releases without it.
    links
        .delete("payments", &DeleteParams::default())
        .await
        .unwrap();
    links
        .delete("with-secret", &DeleteParams::default())
        .await
        .unwrap();
    eventually(30, "both links gone", || async {
        links.get_opt("payments").await.unwrap().is_none()
            && links.get_opt("with-secret").await.unwrap().is_none()
    })
    .await;
    let cleanups = runner
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Cleanup(_)))
        .count();
    assert_eq!(cleanups, 1, "only the Delete link is cleaned up");

    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    let reasons: Vec<String> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    for expected in ["SecretNotFound", "CleanupSucceeded", "Orphaned"] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "{expected} missing in {reasons:?}"
        );
    }

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(40), controller)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}

fn shutdown_pair() -> (tokio::sync::oneshot::Sender<()>, Shutdown) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown: Shutdown = async move {
        let _ = rx.await;
    }
    .boxed()
    .shared();
    (tx, shutdown)
}

fn elected(ns: &str, identity: &str) -> ControllerConfig {
    ControllerConfig {
        namespaces: vec![ns.to_string()],
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        leader_election: Some(LeaderElection {
            lease_name: "apilink-handover-test".into(),
            lease_namespace: ns.to_string(),
            identity: identity.into(),
            lease_duration_secs: 6,
            renew_grace_secs: 2,
        }),
        ..ControllerConfig::default()
    }
}

fn synced_links(runner: &ScriptedRunner) -> Vec<String> {
    runner
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::Sync(req) => Some(req.settings.link.as_str().to_string()),
            Call::Cleanup(_) => None,
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs a kube-apiserver: set APILINK_LIVE_KUBECONFIG"]
async fn only_the_leader_works_and_a_standby_takes_over() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = connect(None).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "apisourcelinks.apilink.dev",
        &PatchParams::apply("apilink-live-test").force(),
        &Patch::Apply(apilink_controller::crd().unwrap()),
    )
    .await
    .unwrap();
    let ns = format!("handover-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    let links: Api<ApiSourceLink> = Api::namespaced(client.clone(), &ns);
    let new_link = |name: &str| -> ApiSourceLink {
        serde_json::from_value(json!({
            "apiVersion": "apilink.dev/v1alpha1", "kind": "ApiSourceLink",
            "metadata": {"name": name},
            "spec": {
                "source": {"apimResourceId": common::APIM},
                "target": {"apiCenterResourceId": common::APIC},
                "deletionPolicy": "Orphan",
            },
        }))
        .unwrap()
    };

    let runner_a = Arc::new(ScriptedRunner::default());
    let (stop_a, shutdown_a) = shutdown_pair();
    let a = tokio::spawn(apilink_controller::run_with_client(
        client.clone(),
        elected(&ns, "replica-a"),
        Metrics::new().unwrap(),
        runner_a.clone(),
        shutdown_a,
    ));
    links
        .create(&PostParams::default(), &new_link("first"))
        .await
        .unwrap();
    eventually(30, "the first link Ready through replica a", || async {
        ready_reason(&links.get("first").await.unwrap()).is_some_and(|(s, _)| s == "True")
    })
    .await;

    let runner_b = Arc::new(ScriptedRunner::default());
    let (stop_b, shutdown_b) = shutdown_pair();
    let b = tokio::spawn(apilink_controller::run_with_client(
        client.clone(),
        elected(&ns, "replica-b"),
        Metrics::new().unwrap(),
        runner_b.clone(),
        shutdown_b,
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(runner_b.calls().is_empty(), "a standby never syncs");

    // The leader leaves (a rollout): it releases the lease and the standby takes over.
    stop_a.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(40), a)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    links
        .create(&PostParams::default(), &new_link("second"))
        .await
        .unwrap();
    eventually(30, "the second link Ready through replica b", || async {
        ready_reason(&links.get("second").await.unwrap()).is_some_and(|(s, _)| s == "True")
    })
    .await;
    let second = format!("{ns}/second");
    assert!(
        synced_links(&runner_b).contains(&second),
        "{:?}",
        runner_b.calls()
    );
    assert!(
        !synced_links(&runner_a).contains(&second),
        "the old leader stopped"
    );

    stop_b.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(40), b)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let _ = links.delete("first", &DeleteParams::default()).await;
    let _ = links.delete("second", &DeleteParams::default()).await;
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
