//! The end-to-end scenarios of the issue "End-to-end": the real `apilink controller`,
//! started as the Helm chart starts it and authenticated as the chart's ServiceAccount,
//! against a real kube-apiserver, with `apilink emulator` as Azure.
//!
//! Run them one at a time (they share one cluster per test process):
//!
//! ```text
//! cargo test -p apilink-e2e -- --test-threads=1
//! ```
//!
//! See tests/e2e/README.md for what each scenario proves and how to run the cluster by hand.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use apilink_e2e::link::{self, api_counts, condition_message, condition_reason, condition_status};
use apilink_e2e::snapshot::{deployments, property, versions};
use apilink_e2e::{
    EmulatorOptions, InstallOptions, LinkManifest, OwnedCounts, Probe, Result, Scenario, ensure,
    eventually, run, throughout,
};
use serde_json::{Value, json};

/// A small APIM: a plain REST API, a version set with two versions, a SOAP API, and an
/// internal API the links exclude.
const SMALL_APIM: &str = r#"
services:
  - name: contoso-apim
    versionSets:
      - {id: orders, displayName: Orders, versioningScheme: Segment}
    apis:
      - id: echo
        displayName: Echo
        description: Echoes requests back.
        path: echo
        operations:
          - GET /echo Echo a request
      - id: orders-v1
        displayName: Orders
        path: orders
        versionSet: orders
        version: v1
        operations:
          - GET /orders List orders
      - id: orders-v2
        displayName: Orders
        path: orders
        versionSet: orders
        version: v2
        operations:
          - GET /orders List orders
          - POST /orders Place an order
      - id: weather-soap
        displayName: Weather Service
        path: weather
        type: soap
        operations:
          - GetForecast Get the forecast for a city
      - id: internal-admin
        displayName: Internal Admin
        path: internal/admin
        operations:
          - GET /health Health
"#;

/// What SMALL_APIM becomes in API Center (with `internal-*` excluded).
const SMALL_OWNED: OwnedCounts = OwnedCounts {
    apis: 3,
    versions: 4,
    definitions: 4,
    deployments: 4,
    environments: 1,
};

/// A first sync of SMALL_APIM takes about 4 s; this is the bound for "becomes Ready".
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The convergence promise (README, "How it works"): a change in APIM is visible within one interval plus a few seconds.
const CONVERGENCE_SLACK: Duration = Duration::from_secs(5);

fn small() -> EmulatorOptions {
    EmulatorOptions::seed(SMALL_APIM)
}

/// The scenarios' usual link: SMALL_APIM without `internal-*`, polled every 5 s.
fn small_link(s: &Scenario, name: &str, emulator: &apilink_e2e::Emulator) -> LinkManifest {
    LinkManifest::new(&s.ns, name, emulator).with("/filter", json!({"exclude": ["internal-*"]}))
}

fn unique_token(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos}")
}

async fn expect_small_api_center(
    emulator: &apilink_e2e::Emulator,
    link: &LinkManifest,
) -> Result<()> {
    let snap = emulator.snapshot().await?;
    let id = link.id();
    let counts = snap.owned_counts(&id);
    ensure(counts == SMALL_OWNED, || {
        format!("API Center holds {counts:?} for {id}, expected {SMALL_OWNED:?}")
    })?;
    let (_, echo) = snap
        .owned_api_for(&id, "apis/echo")
        .ok_or_else(|| apilink_e2e::Error::Check("no API for APIM API echo".into()))?;
    ensure(property(echo, "title") == Some(&json!("Echo")), || {
        format!("echo's title: {:?}", property(echo, "title"))
    })?;
    let (_, orders) = snap
        .owned_api_for(&id, "apiVersionSets/orders")
        .ok_or_else(|| apilink_e2e::Error::Check("no API for version set orders".into()))?;
    ensure(
        versions(orders).len() == 2 && deployments(orders).len() == 2,
        || {
            format!(
                "orders has versions {:?} and deployments {:?}, expected two of each",
                versions(orders).iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                deployments(orders)
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
            )
        },
    )?;
    let (_, weather) = snap
        .owned_api_for(&id, "apis/weather-soap")
        .ok_or_else(|| apilink_e2e::Error::Check("no API for APIM API weather-soap".into()))?;
    ensure(property(weather, "kind") == Some(&json!("soap")), || {
        format!("weather-soap's kind: {:?}", property(weather, "kind"))
    })?;
    ensure(
        snap.owned_api_for(&id, "apis/internal-admin").is_none(),
        || "internal-admin was synced although the filter excludes it".to_string(),
    )?;
    let environments = snap.owned_environments(&id);
    let (env_name, env) = environments
        .first()
        .ok_or_else(|| apilink_e2e::Error::Check("no environment for the link".into()))?;
    ensure(
        env.pointer("/properties/server/type") == Some(&json!("Azure API Management")),
        || format!("environment {env_name}: {env}"),
    )?;
    for (api_name, api) in snap.owned_apis(&id) {
        for (dep_name, dep) in deployments(api) {
            let env_ref = property(dep, "environmentId")
                .and_then(Value::as_str)
                .unwrap_or("");
            ensure(
                env_ref.ends_with(&format!("/environments/{env_name}")),
                || {
                    format!(
                        "deployment {api_name}/{dep_name} points at {env_ref:?}, not {env_name}"
                    )
                },
            )?;
        }
    }
    Ok(())
}

#[test]
fn link_becomes_ready_with_counts_and_fills_api_center() {
    run("ready", async |s: &mut Scenario| {
        // The chart's defaults: a ClusterRole, and leader election with a 15 s lease.
        let (emulator, _install, _controller) = s
            .standard(
                small(),
                InstallOptions::cluster_wide(&[&s.ns]).with_leader_election(15, 5),
            )
            .await?;
        let link = small_link(s, "payments", &emulator);
        s.apply_link(&link).await?;
        let ready = s.kubectl_wait_ready("payments", READY_TIMEOUT).await?;
        ensure(api_counts(&ready) == Some((3, 3, 0)), || {
            format!(
                "status.apis should be 3 discovered, 3 synced, 0 skipped: {}",
                link::describe(&ready)
            )
        })?;
        ensure(!link::finalizers(&ready).is_empty(), || {
            "no finalizer on a synced link".to_string()
        })?;
        for field in ["lastSyncTime", "lastFullResyncTime"] {
            ensure(ready["status"][field].is_string(), || {
                format!("status.{field} is missing: {}", ready["status"])
            })?;
        }
        expect_small_api_center(&emulator, &link).await?;

        // What `kubectl get` shows people (the printer columns).
        let table = s
            .kubectl()
            .args(["get", "-n", &s.ns, "apisourcelinks"])
            .run_ok()
            .await?;
        let row = table
            .lines()
            .find(|l| l.starts_with("payments"))
            .unwrap_or_default();
        let columns: Vec<&str> = row.split_whitespace().collect();
        ensure(
            columns.get(1..4) == Some(&["True", "Succeeded", "3"][..]),
            || format!("kubectl get apisourcelinks shows:\n{table}"),
        )
    });
}

#[test]
fn apim_changes_converge_within_one_interval_and_requested_at_triggers_a_pass() {
    run("converge", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(small(), InstallOptions::namespaced(&[&s.ns]))
            .await?;
        let link = small_link(s, "catalog", &emulator);
        s.apply_link(&link).await?;
        s.kubectl_wait_ready("catalog", READY_TIMEOUT).await?;
        let id = link.id();

        // Someone changes APIM: an update, a new API and a deleted one.
        let changed = Instant::now();
        emulator
            .patch_api(
                "echo",
                json!({"description": "Echoes requests back, headers included."}),
            )
            .await?;
        emulator
            .put_api(
                "returns",
                json!({"displayName": "Returns", "path": "returns", "operations": ["GET /returns List returns"]}),
            )
            .await?;
        emulator.delete_api("weather-soap").await?;
        let interval = Duration::from_secs(5);
        eventually("the three APIM changes in API Center", interval * 6, || async {
            let snap = emulator.snapshot().await?;
            let echo = snap
                .owned_api_for(&id, "apis/echo")
                .and_then(|(_, api)| property(api, "description").cloned());
            let returns = snap.owned_api_for(&id, "apis/returns").is_some();
            let weather = snap.owned_api_for(&id, "apis/weather-soap").is_some();
            Ok(
                if echo == Some(json!("Echoes requests back, headers included.")) && returns && !weather {
                    Probe::Done(())
                } else {
                    Probe::NotYet(format!("echo description {echo:?}, returns synced {returns}, weather-soap still there {weather}"))
                },
            )
        })
        .await?;
        let took = changed.elapsed();
        eprintln!(
            "[e2e] APIM changes visible in API Center after {:.1}s (interval 5s)",
            took.as_secs_f64()
        );
        ensure(took <= interval + CONVERGENCE_SLACK, || {
            format!(
                "converged after {:.1}s, more than one interval (5s) plus {}s",
                took.as_secs_f64(),
                CONVERGENCE_SLACK.as_secs()
            )
        })?;
        s.wait_link(
            "catalog",
            "status.apis to follow APIM (3 APIs)",
            Duration::from_secs(30),
            |l| api_counts(l) == Some((3, 3, 0)) && link::is_ready(l),
        )
        .await?;

        // A long interval: only the annotation can explain a prompt pass now.
        s.patch_spec("catalog", json!({"interval": "10m"})).await?;
        s.wait_link(
            "catalog",
            "Ready for the new generation",
            READY_TIMEOUT,
            link::is_ready,
        )
        .await?;
        emulator
            .patch_api("echo", json!({"description": "Asked for by Flux."}))
            .await?;
        let token = unique_token("e2e");
        let asked = Instant::now();
        s.request_reconcile("catalog", &token).await?;
        let handled = s
            .wait_link(
                "catalog",
                "lastHandledReconcileAt to echo the request",
                Duration::from_secs(30),
                |l| {
                    l.pointer("/status/lastHandledReconcileAt") == Some(&json!(token))
                        && link::is_ready(l)
                },
            )
            .await?;
        let snap = emulator.snapshot().await?;
        let echo = snap
            .owned_api_for(&id, "apis/echo")
            .and_then(|(_, api)| property(api, "description").cloned());
        ensure(echo == Some(json!("Asked for by Flux.")), || {
            format!(
                "the requested pass did not bring the APIM change: echo description {echo:?}; {}",
                link::describe(&handled)
            )
        })?;
        eprintln!(
            "[e2e] requestedAt handled after {:.1}s (interval 10m)",
            asked.elapsed().as_secs_f64()
        );
        ensure(asked.elapsed() < Duration::from_secs(30), || {
            "the requested pass was not immediate".to_string()
        })
    });
}

#[test]
fn suspended_link_makes_no_azure_calls() {
    run("suspend", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(small(), InstallOptions::namespaced(&[&s.ns]))
            .await?;
        let link = small_link(s, "suspended", &emulator);
        s.apply_link(&link).await?;
        s.kubectl_wait_ready("suspended", READY_TIMEOUT).await?;

        s.patch_spec("suspended", json!({"suspend": true})).await?;
        s.wait_link(
            "suspended",
            "the Suspended reason for the new generation",
            Duration::from_secs(60),
            |l| link::status_current(l) && condition_reason(l, "Ready") == Some("Suspended"),
        )
        .await?;
        // The status is written for the suspending generation, so no pass is in flight.
        let mark = emulator.last_seq().await?;
        emulator
            .patch_api("echo", json!({"description": "Changed while suspended."}))
            .await?;
        s.request_reconcile("suspended", &unique_token("while-suspended"))
            .await?;
        let probes = throughout(
            "no Azure call while suspended, status current",
            Duration::from_secs(15),
            || async {
                let calls = emulator.azure_calls_since(mark).await?;
                if let Some(call) = calls.first() {
                    return Ok(Some(format!(
                        "{} Azure call(s), the first: {} {} ({})",
                        calls.len(),
                        call.method,
                        call.path,
                        call.kind
                    )));
                }
                let l = s.link("suspended").await?;
                if !link::status_current(&l) {
                    return Ok(Some(format!(
                        "observedGeneration fell behind: {}",
                        link::describe(&l)
                    )));
                }
                Ok(None)
            },
        )
        .await?;
        eprintln!(
            "[e2e] {probes} probes over 15 s (three intervals): zero Azure calls while suspended"
        );

        // Resuming brings the change made meanwhile.
        s.patch_spec("suspended", json!({"suspend": false})).await?;
        let id = link.id();
        eventually(
            "the change made while suspended to arrive after resuming",
            Duration::from_secs(60),
            || async {
                let snap = emulator.snapshot().await?;
                let echo = snap
                    .owned_api_for(&id, "apis/echo")
                    .and_then(|(_, api)| property(api, "description").cloned());
                Ok(if echo == Some(json!("Changed while suspended.")) {
                    Probe::Done(())
                } else {
                    Probe::NotYet(format!("echo description {echo:?}"))
                })
            },
        )
        .await?;
        s.wait_link(
            "suspended",
            "Ready after resuming",
            READY_TIMEOUT,
            link::is_ready,
        )
        .await
        .map(|_| ())
    });
}

#[test]
fn invalid_manifests_are_rejected_by_the_api_server() {
    run("invalid", async |s: &mut Scenario| {
        const APIM: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-apilink/providers/Microsoft.ApiManagement/service/contoso-apim";
        const APIC: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-apilink/providers/Microsoft.ApiCenter/services/contoso-catalog";
        let base = |name: &str| LinkManifest::with_ids(&s.ns, name, APIM, APIC);
        let cases: Vec<(LinkManifest, &[&str])> = vec![
            (
                base("bad-id").with("/source/apimResourceId", json!("contoso-apim")),
                &["spec.source.apimResourceId", "should match"],
            ),
            (
                base("long-resync").with("/resyncInterval", json!("48h")),
                &["resyncInterval must be at most 24h"],
            ),
            (
                base("short-resync")
                    .with("/interval", json!("10m"))
                    .with("/resyncInterval", json!("5m")),
                &["resyncInterval must not be shorter than interval"],
            ),
            (
                base("bad-policy").with("/deletionPolicy", json!("Sometimes")),
                &["spec.deletionPolicy", "Unsupported value: \"Sometimes\""],
            ),
            (
                base("no-target").without("/target"),
                &["spec.target", "Required value"],
            ),
            (
                base("typo").with("/intervall", json!("5s")),
                &["unknown field \"spec.intervall\""],
            ),
            (
                base("bad-secret").with("/credentials/secretRef/name", json!("Not_A_Name")),
                &["spec.credentials.secretRef.name", "should match"],
            ),
        ];
        for (manifest, expected) in cases {
            let out = s
                .kubectl()
                .args(["apply", "-f", "-"])
                .stdin(manifest.yaml())
                .run_fails()
                .await?;
            for fragment in expected {
                ensure(out.contains(fragment), || {
                    format!(
                        "applying {} was rejected, but the message lacks {fragment:?}:\n{out}",
                        manifest.name
                    )
                })?;
            }
            ensure(s.link_in(&s.ns, &manifest.name).await?.is_none(), || {
                format!("{} was stored", manifest.name)
            })?;
            eprintln!("[e2e] rejected {}: {}", manifest.name, out.trim());
        }

        // Immutable resource ids: a valid link, then an update that moves it.
        let valid = base("valid");
        s.apply_link(&valid).await?;
        let moved = valid.clone().with(
            "/source/apimResourceId",
            json!(APIM.replace("contoso-apim", "other-apim")),
        );
        let out = s
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(moved.yaml())
            .run_fails()
            .await?;
        ensure(out.contains("apimResourceId is immutable"), || {
            format!("the move was rejected without the CEL message:\n{out}")
        })?;
        let stored = s.link("valid").await?;
        ensure(
            stored.pointer("/spec/source/apimResourceId") == Some(&json!(APIM)),
            || format!("the stored link changed: {}", stored["spec"]),
        )
    });
}

#[test]
fn apim_the_identity_may_not_read_stalls_naming_the_role() {
    run("forbidden", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(small(), InstallOptions::namespaced(&[&s.ns]))
            .await?;
        // The emulator's principal holds "API Management Service Reader" on its own
        // subscription only; this APIM is in another one (the standalone emulator cannot
        // define a second principal without the role: see the README).
        let forbidden = emulator.apim_id_in_foreign_subscription();
        let link =
            small_link(s, "forbidden", &emulator).with("/source/apimResourceId", json!(forbidden));
        let mark = emulator.last_seq().await?;
        s.apply_link(&link).await?;
        let stalled = s
            .wait_link("forbidden", "Stalled=True", Duration::from_secs(60), |l| {
                link::status_current(l) && condition_status(l, "Stalled") == Some("True")
            })
            .await?;
        ensure(condition_status(&stalled, "Ready") == Some("False"), || {
            link::describe(&stalled)
        })?;
        ensure(
            condition_reason(&stalled, "Stalled") == Some("AuthorizationFailed"),
            || {
                format!(
                    "the Stalled reason should be AuthorizationFailed: {}",
                    link::describe(&stalled)
                )
            },
        )?;
        let message = condition_message(&stalled, "Stalled");
        ensure(message.contains("API Management Service Reader"), || {
            format!(
                "the message should name the missing role (API Management Service Reader): {message}"
            )
        })?;
        ensure(
            message.contains(&forbidden) || message.contains("Microsoft.ApiManagement"),
            || format!("the message should say what could not be read: {message}"),
        )?;
        // Stalled means: nothing written, and no retry storm.
        let writes: Vec<String> = emulator
            .azure_calls_since(mark)
            .await?
            .into_iter()
            .filter(|c| c.is_write())
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        ensure(writes.is_empty(), || {
            format!("writes although APIM could not be read: {writes:?}")
        })?;
        let quiet = emulator.last_seq().await?;
        throughout(
            "no retry storm while stalled",
            Duration::from_secs(10),
            || async {
                let calls = emulator.azure_calls_since(quiet).await?;
                Ok((calls.len() > 2)
                    .then(|| format!("{} Azure calls in the quiet period", calls.len())))
            },
        )
        .await
        .map(|_| ())
    });
}

#[test]
fn missing_credentials_secret_stalls_then_recovers_when_it_appears() {
    run("missing-secret", async |s: &mut Scenario| {
        let emulator = s.start_emulator(&small()).await?;
        let install = s
            .install(&emulator, &InstallOptions::namespaced(&[&s.ns]))
            .await?;
        let _controller = s.start_controller(&install, &emulator, "apilink-0").await?;
        let link = small_link(s, "no-secret", &emulator);
        s.apply_link(&link).await?;
        let stalled = s
            .wait_link(
                "no-secret",
                "Stalled=True for the missing Secret",
                Duration::from_secs(60),
                |l| link::status_current(l) && condition_status(l, "Stalled") == Some("True"),
            )
            .await?;
        ensure(
            condition_reason(&stalled, "Ready") == Some("SecretNotFound"),
            || link::describe(&stalled),
        )?;
        let message = condition_message(&stalled, "Ready");
        ensure(message.contains(&format!("{}/azure-creds", s.ns)), || {
            format!(
                "the message should name the Secret {}/azure-creds: {message}",
                s.ns
            )
        })?;
        let calls = emulator.azure_calls_since(0).await?;
        ensure(calls.is_empty(), || {
            format!("{} Azure calls without credentials", calls.len())
        })?;

        s.create_credentials(&s.ns, &emulator).await?;
        s.wait_link(
            "no-secret",
            "Ready once the Secret exists",
            READY_TIMEOUT,
            link::is_ready,
        )
        .await?;
        expect_small_api_center(&emulator, &link).await
    });
}

#[test]
fn a_secret_in_another_namespace_is_never_used() {
    run("foreign-secret", async |s: &mut Scenario| {
        let other = format!("{}-other", s.ns);
        s.create_namespace(&other).await?;
        let emulator = s.start_emulator(&small()).await?;
        // Valid credentials exist, but only in the other namespace.
        s.create_credentials(&other, &emulator).await?;
        // Cluster-wide RBAC: the controller may read Secrets everywhere; only its own rule
        // keeps a link to its namespace.
        let install = s
            .install(&emulator, &InstallOptions::cluster_wide(&[&s.ns, &other]))
            .await?;
        let _controller = s.start_controller(&install, &emulator, "apilink-0").await?;

        let with_namespace = small_link(s, "borrower", &emulator)
            .with("/credentials/secretRef/namespace", json!(other));
        let out = s
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(with_namespace.yaml())
            .run_fails()
            .await?;
        ensure(
            out.contains("unknown field \"spec.credentials.secretRef.namespace\""),
            || format!("a secretRef with a namespace was not rejected for that: {out}"),
        )?;
        let qualified = small_link(s, "borrower", &emulator).with(
            "/credentials/secretRef/name",
            json!(format!("{other}/azure-creds")),
        );
        let out = s
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(qualified.yaml())
            .run_fails()
            .await?;
        ensure(out.contains("spec.credentials.secretRef.name"), || {
            format!("a namespace-qualified Secret name was not rejected: {out}")
        })?;

        // Without client-side validation the API server prunes the unknown field; the link
        // then names a Secret of its own namespace, which does not exist.
        s.kubectl()
            .args(["apply", "--validate=false", "-f", "-"])
            .stdin(with_namespace.yaml())
            .run_ok()
            .await?;
        let stored = s.link("borrower").await?;
        ensure(
            stored
                .pointer("/spec/credentials/secretRef/namespace")
                .is_none(),
            || format!("the namespace field was stored: {}", stored["spec"]),
        )?;
        let stalled = s
            .wait_link("borrower", "SecretNotFound", Duration::from_secs(60), |l| {
                link::status_current(l) && condition_reason(l, "Ready") == Some("SecretNotFound")
            })
            .await?;
        let message = condition_message(&stalled, "Ready");
        ensure(
            message.contains(&format!("{}/azure-creds", s.ns)) && !message.contains(&other),
            || format!("the link must look in its own namespace only: {message}"),
        )?;
        throughout(
            "no token request or ARM call with the other namespace's Secret",
            Duration::from_secs(5),
            || async {
                let calls = emulator.azure_calls_since(0).await?;
                Ok(calls
                    .first()
                    .map(|c| format!("{} {} ({})", c.method, c.path, c.kind)))
            },
        )
        .await?;

        // The same credentials in the link's own namespace work at once.
        s.create_credentials(&s.ns, &emulator).await?;
        s.wait_link(
            "borrower",
            "Ready with its own Secret",
            READY_TIMEOUT,
            link::is_ready,
        )
        .await
        .map(|_| ())
    });
}

#[test]
fn deleting_with_policy_delete_removes_what_the_link_owns() {
    run("delete", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(small(), InstallOptions::namespaced(&[&s.ns]))
            .await?;
        let link = small_link(s, "doomed", &emulator).with("/interval", json!("10m"));
        s.apply_link(&link).await?;
        s.kubectl_wait_ready("doomed", READY_TIMEOUT).await?;
        expect_small_api_center(&emulator, &link).await?;
        // Something a person made in the same API Center: not the link's to delete.
        let hand_made = format!("{}/workspaces/default/apis/hand-made", emulator.apic_id);
        emulator
            .arm_put(
                &hand_made,
                &json!({"properties": {"title": "Hand made", "kind": "rest"}}),
                None,
            )
            .await?;

        s.delete_link("doomed", Some(Duration::from_secs(120)))
            .await?;
        ensure(s.link_in(&s.ns, "doomed").await?.is_none(), || {
            "kubectl delete returned but the link exists".to_string()
        })?;
        let snap = emulator.snapshot().await?;
        let left = snap.owned_counts(&link.id());
        ensure(left == OwnedCounts::default(), || {
            format!("owned entities left after the cleanup: {left:?}")
        })?;
        ensure(snap.api("hand-made").is_some(), || {
            "the cleanup deleted an API the link does not own".to_string()
        })?;
        let names: BTreeSet<&str> = snap.apis().iter().map(|(n, _)| *n).collect();
        ensure(names.len() == 1, || format!("APIs left: {names:?}"))
    });
}

#[test]
fn deleting_with_policy_orphan_leaves_azure_untouched() {
    run("orphan", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(small(), InstallOptions::namespaced(&[&s.ns]))
            .await?;
        let link = small_link(s, "orphan", &emulator)
            .with("/interval", json!("10m"))
            .with("/deletionPolicy", json!("Orphan"));
        s.apply_link(&link).await?;
        s.kubectl_wait_ready("orphan", READY_TIMEOUT).await?;
        let before = emulator.snapshot().await?;
        let mark = emulator.last_seq().await?;
        s.delete_link("orphan", Some(Duration::from_secs(60)))
            .await?;
        let calls = emulator.azure_calls_since(mark).await?;
        ensure(calls.is_empty(), || {
            format!(
                "Orphan deletion called Azure: {:?}",
                calls
                    .iter()
                    .map(|c| format!("{} {}", c.method, c.path))
                    .collect::<Vec<_>>()
            )
        })?;
        let after = emulator.snapshot().await?;
        ensure(before.fingerprint() == after.fingerprint(), || {
            "API Center changed after an Orphan deletion".to_string()
        })?;
        ensure(after.owned_counts(&link.id()) == SMALL_OWNED, || {
            "owned entities are gone".to_string()
        })
    });
}

#[test]
fn finalizer_holds_while_azure_is_down_and_deletion_finishes_when_it_returns() {
    run("azure-down", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(small(), InstallOptions::namespaced(&[&s.ns]))
            .await?;
        let link = small_link(s, "stuck", &emulator).with("/interval", json!("10m"));
        s.apply_link(&link).await?;
        s.kubectl_wait_ready("stuck", READY_TIMEOUT).await?;

        // "Down": every connection to Azure is closed unanswered. (The standalone emulator
        // keeps its state in memory only, so it is not restarted; fault injection on the
        // same process stands for the outage.)
        emulator.go_down().await?;
        let mark = emulator.last_seq().await?;
        s.delete_link("stuck", None).await?;
        let reported = s
            .wait_link(
                "stuck",
                "the failed cleanup in the status",
                Duration::from_secs(90),
                |l| {
                    link::is_deleting(l)
                        && !link::finalizers(l).is_empty()
                        && condition_status(l, "Ready") == Some("False")
                },
            )
            .await?;
        eprintln!("[e2e] while Azure is down: {}", link::describe(&reported));
        throughout(
            "the finalizer to hold while Azure is down",
            Duration::from_secs(10),
            || async {
                Ok(match s.link_in(&s.ns, "stuck").await? {
                    None => Some("the link was deleted while Azure was unreachable".to_string()),
                    Some(l) if link::finalizers(&l).is_empty() => {
                        Some("the finalizer was released".to_string())
                    }
                    Some(_) => None,
                })
            },
        )
        .await?;
        let attempts = emulator
            .azure_calls_since(mark)
            .await?
            .into_iter()
            .filter(|c| c.fault.as_deref() == Some("drop"))
            .count();
        ensure(attempts > 0, || {
            "the controller never tried to reach Azure for the cleanup".to_string()
        })?;
        ensure(
            emulator.snapshot().await?.owned_counts(&link.id()) == SMALL_OWNED,
            || "API Center changed while unreachable".to_string(),
        )?;

        emulator.clear_faults().await?;
        let back = Instant::now();
        // Failed cleanups back off up to the slow cap (3 min, as ASO); the next attempt
        // after the outage must succeed.
        s.wait_gone("stuck", Duration::from_secs(240)).await?;
        eprintln!(
            "[e2e] deletion finished {:.1}s after Azure came back ({attempts} dropped attempts before)",
            back.elapsed().as_secs_f64()
        );
        let left = emulator.snapshot().await?.owned_counts(&link.id());
        ensure(left == OwnedCounts::default(), || {
            format!("owned entities left: {left:?}")
        })
    });
}

/// Number of API Center APIs a seeded APIM maps to: one per version set, one per API
/// outside a version set.
fn expected_apis(apim: &Value) -> usize {
    let service = &apim["services"][0];
    let sets = service["versionSets"].as_array().map_or(0, Vec::len);
    let loose = service["apis"].as_array().map_or(0, |apis| {
        apis.iter().filter(|a| a["versionSet"].is_null()).count()
    });
    sets + loose
}

/// The first APIM API outside a version set: its description is its API's in API Center.
fn first_loose_api(apim: &Value) -> Option<String> {
    apim["services"][0]["apis"]
        .as_array()?
        .iter()
        .find(|a| a["versionSet"].is_null())
        .and_then(|a| a["id"].as_str())
        .map(str::to_string)
}

#[test]
fn controller_killed_mid_sync_converges_without_duplicates_or_lost_edits() {
    run("crash", async |s: &mut Scenario| {
        let emulator = s.start_emulator(&EmulatorOptions::synthetic(200)).await?;
        s.create_credentials(&s.ns, &emulator).await?;
        let install = s
            .install(
                &emulator,
                &InstallOptions::namespaced(&[&s.ns]).with_leader_election(8, 3),
            )
            .await?;
        let apim = emulator.apim_state().await?;
        let expected = expected_apis(&apim);
        let link = LinkManifest::new(&s.ns, "large", &emulator).with("/interval", json!("30s"));
        let id = link.id();

        let mut first = s.start_controller(&install, &emulator, "apilink-0").await?;
        s.apply_link(&link).await?;
        let partial = eventually("the first sync to be part-way", Duration::from_secs(180), || async {
            let snap = emulator.snapshot().await?;
            let owned = snap.owned_apis(&id).len();
            let current = s.link("large").await?;
            if link::is_ready(&current) {
                return Err(apilink_e2e::Error::Check(format!(
                    "the sync of {expected} APIs finished before the controller could be killed mid-way"
                )));
            }
            Ok(if owned >= (expected / 10).max(5) { Probe::Done(owned) } else { Probe::NotYet(format!("{owned} of {expected} APIs")) })
        })
        .await?;
        first.kill();
        eprintln!("[e2e] controller SIGKILLed with {partial} of {expected} APIs in API Center");

        // While it is down: a person curates a synced API, and APIM changes.
        let snap = emulator.snapshot().await?;
        let (curated, _) = snap
            .owned_apis(&id)
            .first()
            .map(|(n, v)| (n.to_string(), (*v).clone()))
            .ok_or_else(|| apilink_e2e::Error::Check("no owned API to curate".into()))?;
        let curated_id = format!("{}/workspaces/default/apis/{curated}", emulator.apic_id);
        let (mut body, etag) = emulator.arm_get(&curated_id).await?;
        body["properties"]["summary"] = json!("Curated in API Center by a person.");
        emulator
            .arm_put(&curated_id, &body, etag.as_deref())
            .await?;
        let changed = first_loose_api(&apim).ok_or_else(|| {
            apilink_e2e::Error::Check("the synthetic APIM has no plain API".into())
        })?;
        emulator
            .patch_api(
                &changed,
                json!({"description": "Changed while the controller was down."}),
            )
            .await?;

        // A new pod: it must wait for the dead one's lease to expire, then carry on.
        let _second = s.start_controller(&install, &emulator, "apilink-1").await?;
        let ready = s
            .wait_link(
                "large",
                "Ready after the restart",
                Duration::from_secs(420),
                |l| {
                    link::is_ready(l)
                        && api_counts(l).is_some_and(|(d, sy, _)| {
                            d as usize == expected && sy as usize == expected
                        })
                },
            )
            .await?;
        ensure(
            api_counts(&ready) == Some((expected as u64, expected as u64, 0)),
            || link::describe(&ready),
        )?;

        let snap = emulator.snapshot().await?;
        ensure(
            snap.apis().len() == expected && snap.owned_apis(&id).len() == expected,
            || {
                format!(
                    "API Center holds {} APIs ({} owned), expected {expected}",
                    snap.apis().len(),
                    snap.owned_apis(&id).len()
                )
            },
        )?;
        let duplicates: Vec<(String, usize)> = snap
            .sources_of(&id)
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        ensure(duplicates.is_empty(), || {
            format!("APIM entities synced twice: {duplicates:?}")
        })?;
        let versions_total = snap.owned_counts(&id).versions;
        let apim_apis = apim["services"][0]["apis"].as_array().map_or(0, Vec::len);
        ensure(versions_total == apim_apis, || {
            format!("{versions_total} versions for {apim_apis} APIM APIs")
        })?;
        let summary = snap
            .api(&curated)
            .and_then(|a| property(a, "summary").cloned());
        ensure(
            summary == Some(json!("Curated in API Center by a person.")),
            || format!("the person's summary on {curated} was lost: {summary:?}"),
        )?;
        let description = snap
            .owned_api_for(&id, &format!("apis/{changed}"))
            .and_then(|(_, api)| property(api, "description").cloned());
        ensure(
            description == Some(json!("Changed while the controller was down.")),
            || {
                format!(
                    "the APIM change made while the controller was down did not arrive: {changed} has {description:?}"
                )
            },
        )?;
        eprintln!(
            "[e2e] after the restart: {expected} APIs, no duplicates, the person's summary kept, the APIM change applied"
        );
        Ok(())
    });
}

#[test]
fn two_replicas_elect_one_writer_and_the_other_takes_over() {
    run("failover", async |s: &mut Scenario| {
        const LEASE_SECS: u32 = 8;
        let emulator = s.start_emulator(&EmulatorOptions::synthetic(60)).await?;
        s.create_credentials(&s.ns, &emulator).await?;
        let install = s
            .install(
                &emulator,
                &InstallOptions::namespaced(&[&s.ns]).with_leader_election(LEASE_SECS, 3),
            )
            .await?;
        let lease = install.lease_name.clone().ok_or_else(|| {
            apilink_e2e::Error::Check("the chart sets no APILINK_LEASE_NAME".into())
        })?;
        let apim = emulator.apim_state().await?;
        let expected = expected_apis(&apim);

        let mut a = s.start_controller(&install, &emulator, "apilink-a").await?;
        eventually(
            "replica a to hold the lease",
            Duration::from_secs(30),
            || async {
                Ok(match s.lease_holder(&lease).await? {
                    Some(h) if h == "apilink-a" => Probe::Done(()),
                    other => Probe::NotYet(format!("holder {other:?}")),
                })
            },
        )
        .await?;
        let b = s.start_controller(&install, &emulator, "apilink-b").await?;

        let link = LinkManifest::new(&s.ns, "shared", &emulator).with("/interval", json!("30s"));
        let id = link.id();
        s.apply_link(&link).await?;
        eventually(
            "the sync to be part-way",
            Duration::from_secs(120),
            || async {
                let owned = emulator.snapshot().await?.owned_apis(&id).len();
                if link::is_ready(&s.link("shared").await?) {
                    return Err(apilink_e2e::Error::Check(
                        "the sync finished before the leader could be killed".into(),
                    ));
                }
                Ok(if owned >= 5 {
                    Probe::Done(())
                } else {
                    Probe::NotYet(format!("{owned} APIs"))
                })
            },
        )
        .await?;

        // Exactly one writer: the standby neither leads nor reconciles nor calls Azure.
        let leader_a = a.metric_sum("apilink_leader", &[]).await?;
        let leader_b = b.metric_sum("apilink_leader", &[]).await?;
        let reconciles_b = b
            .metric_sum("controller_runtime_reconcile_total", &[])
            .await?;
        let azure_b = b.metric_sum("apilink_azure_requests_total", &[]).await?;
        let ops_b = b.metric_sum("apilink_operations_total", &[]).await?;
        ensure(leader_a == 1.0 && leader_b == 0.0, || {
            format!("apilink_leader: a={leader_a}, b={leader_b}")
        })?;
        ensure(
            reconciles_b == 0.0 && azure_b == 0.0 && ops_b == 0.0,
            || {
                format!(
                    "the standby worked: {reconciles_b} reconciles, {azure_b} Azure requests, {ops_b} operations"
                )
            },
        )?;
        ensure(!b.log_text().contains("pass succeeded"), || {
            "the standby logged a pass".to_string()
        })?;

        a.kill();
        let killed = Instant::now();
        eventually(
            "replica b to take the lease",
            Duration::from_secs(u64::from(LEASE_SECS) * 3),
            || async {
                Ok(match s.lease_holder(&lease).await? {
                    Some(h) if h == "apilink-b" => Probe::Done(()),
                    other => Probe::NotYet(format!("holder {other:?}")),
                })
            },
        )
        .await?;
        let takeover = killed.elapsed();
        eprintln!(
            "[e2e] replica b took the lease {:.1}s after the leader was killed (lease {LEASE_SECS}s)",
            takeover.as_secs_f64()
        );
        ensure(
            takeover <= Duration::from_secs(u64::from(LEASE_SECS) + 4),
            || {
                format!(
                    "take-over took {:.1}s, longer than the lease duration ({LEASE_SECS}s) plus 4s",
                    takeover.as_secs_f64()
                )
            },
        )?;

        let ready = s
            .wait_link(
                "shared",
                "Ready, finished by replica b",
                Duration::from_secs(240),
                |l| {
                    link::is_ready(l)
                        && api_counts(l).is_some_and(|(d, sy, _)| {
                            d as usize == expected && sy as usize == expected
                        })
                },
            )
            .await?;
        let snap = emulator.snapshot().await?;
        let duplicates: Vec<(String, usize)> = snap
            .sources_of(&id)
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        ensure(
            snap.apis().len() == expected && duplicates.is_empty(),
            || {
                format!(
                    "{} APIs for {expected} expected, duplicates {duplicates:?}; {}",
                    snap.apis().len(),
                    link::describe(&ready)
                )
            },
        )?;
        let ops_b = b
            .metric_sum("apilink_operations_total", &["result=\"success\""])
            .await?;
        let leader_b = b.metric_sum("apilink_leader", &[]).await?;
        ensure(leader_b == 1.0 && ops_b > 0.0, || {
            format!("replica b: leader {leader_b}, successful operations {ops_b}")
        })?;
        Ok(())
    });
}
