//! End-to-end scenarios of the issue "Safe to point at a production catalogue": the
//! controller may only `get` Secrets (in the namespaces the chart says), notices a rotated
//! Secret by reading it again, and keeps each namespace's links inside the Azure scopes
//! its operator configured. The real controller, started as the chart starts it and
//! authenticated as the chart's ServiceAccount, on a real kube-apiserver with
//! `apilink emulator` as Azure (see tests/e2e/README.md).
//!
//! ```text
//! flock /tmp/apilink-e2e.lock tests/e2e/run.sh secret
//! flock /tmp/apilink-e2e.lock tests/e2e/run.sh scope
//! ```

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use apilink_e2e::chart::HelmValue;
use apilink_e2e::link::{self, condition_message, condition_reason, condition_status};
use apilink_e2e::{
    Emulator, EmulatorOptions, Install, InstallOptions, LinkManifest, Result, Scenario, ensure,
    run, throughout,
};
use serde_json::{Value, json};

const APIM: &str = r#"
services:
  - name: contoso-apim
    apis:
      - id: echo
        displayName: Echo
        path: echo
        operations:
          - GET /echo Echo a request
      - id: orders
        displayName: Orders
        path: orders
        operations:
          - GET /orders List orders
"#;

const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The links poll every 5 s; a rotation must show within that plus the pass and slack.
const INTERVAL: Duration = Duration::from_secs(5);
const ROTATION_BOUND: Duration = Duration::from_secs(20);
/// A client secret the emulator's Entra ID refuses: a revoked or expired one.
const REVOKED: &str = "revoked-client-secret-e2e";

fn emulator_options() -> EmulatorOptions {
    EmulatorOptions::seed(APIM)
}

fn sa_user(install: &Install) -> String {
    format!(
        "system:serviceaccount:{}:{}",
        install.namespace, install.service_account
    )
}

/// `kubectl auth can-i VERB secrets` as the controller's ServiceAccount (impersonated by
/// the admin): "yes" or "no". `None` asks about every namespace at once.
async fn can_i(s: &Scenario, user: &str, verb: &str, namespace: Option<&str>) -> Result<String> {
    let mut cmd = s
        .kubectl()
        .args(["auth", "can-i", verb, "secrets", &format!("--as={user}")]);
    cmd = match namespace {
        Some(ns) => cmd.args(["-n", ns]),
        None => cmd.arg("--all-namespaces"),
    };
    let output = cmd.run().await?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// list and watch are refused everywhere: cluster-wide and in each of `namespaces`.
async fn never_lists_or_watches(
    s: &Scenario,
    install: &Install,
    namespaces: &[&str],
) -> Result<()> {
    let user = sa_user(install);
    let mut answers = Vec::new();
    for verb in ["list", "watch"] {
        let mut places: Vec<Option<&str>> = vec![None];
        places.extend(namespaces.iter().map(|n| Some(*n)));
        for place in places {
            let answer = can_i(s, &user, verb, place).await?;
            let label = place.unwrap_or("--all-namespaces");
            ensure(answer == "no", || {
                format!("kubectl auth can-i {verb} secrets ({label}) as {user}: {answer:?}")
            })?;
            answers.push(format!("{verb}@{label}={answer}"));
        }
    }
    eprintln!(
        "[e2e] {}: kubectl auth can-i as {user}: {}",
        s.name,
        answers.join(" ")
    );
    Ok(())
}

/// The link's credentials Secret with `client_secret`, replaced as a person rotating it
/// would (`kubectl replace`, the value on stdin, never on a command line).
async fn put_secret(
    s: &Scenario,
    namespace: &str,
    emulator: &Emulator,
    client_secret: &str,
    create: bool,
) -> Result<()> {
    let manifest = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": link::SECRET, "namespace": namespace},
        "stringData": {
            "AZURE_TENANT_ID": emulator.tenant_id,
            "AZURE_CLIENT_ID": emulator.client_id,
            "AZURE_CLIENT_SECRET": client_secret,
        },
    });
    s.kubectl()
        .args([if create { "create" } else { "replace" }, "-f", "-"])
        .stdin(manifest.to_string())
        .run_ok()
        .await
        .map(|_| ())
}

fn ready_reason(l: &Value) -> Option<&str> {
    condition_reason(l, "Ready")
}

/// Token requests the emulator answered since `mark`, as their HTTP statuses.
async fn token_statuses(emulator: &Emulator, mark: u64) -> Result<Vec<u16>> {
    Ok(emulator
        .azure_calls_since(mark)
        .await?
        .into_iter()
        .filter(|c| c.kind == "Token")
        .map(|c| c.status)
        .collect())
}

/// Nothing a person or a log collector can read holds a client secret.
async fn no_secret_value_anywhere(
    s: &Scenario,
    controller: &apilink_e2e::Controller,
    emulator: &Emulator,
    namespaces: &[&str],
) -> Result<()> {
    let secrets = [emulator.client_secret.as_str(), REVOKED];
    let log = controller.log_text();
    for ns in namespaces {
        for what in ["apisourcelinks", "events"] {
            let text = s
                .kubectl()
                .args(["get", "-n", ns, what, "-o", "json"])
                .run_ok()
                .await?;
            for secret in secrets {
                ensure(!text.contains(secret), || {
                    format!("a client secret appears in kubectl get {what} -n {ns}")
                })?;
            }
        }
    }
    for secret in secrets {
        ensure(!log.contains(secret), || {
            "a client secret appears in the controller's log".to_string()
        })?;
    }
    let metrics = controller.metrics().await?;
    for secret in secrets {
        ensure(!metrics.contains(secret), || {
            "a client secret appears in /metrics".to_string()
        })?;
    }
    Ok(())
}

#[test]
fn secrets_are_get_only_and_a_rotated_secret_is_read_by_the_next_pass() {
    run("secret-rotation", async |s: &mut Scenario| {
        let emulator = s.start_emulator(&emulator_options()).await?;
        // The chart's "any namespace" install: links everywhere, Secret `get` bound
        // cluster-wide (no rbac.secretNamespaces), nothing else on Secrets.
        let install = s
            .install(&emulator, &InstallOptions::cluster_wide(&[&s.ns]))
            .await?;
        never_lists_or_watches(s, &install, &[&s.ns, "default", "kube-system"]).await?;
        let user = sa_user(&install);
        let get = can_i(s, &user, "get", Some(&s.ns)).await?;
        ensure(get == "yes", || {
            format!("the controller may not get Secrets in its links' namespace: {get:?}")
        })?;
        let controller = s.start_controller(&install, &emulator, "apilink-0").await?;

        // An expired client secret first: the link cannot get a token.
        put_secret(s, &s.ns, &emulator, REVOKED, true).await?;
        let link = LinkManifest::new(&s.ns, "rotating", &emulator);
        s.apply_link(&link).await?;
        let failed = s
            .wait_link(
                "rotating",
                "AuthenticationFailed with the expired secret",
                Duration::from_secs(60),
                |l| link::status_current(l) && ready_reason(l) == Some("AuthenticationFailed"),
            )
            .await?;
        eprintln!(
            "[e2e] {}: with the expired secret: Ready={:?} Stalled={:?} ({})",
            s.name,
            condition_status(&failed, "Ready"),
            condition_status(&failed, "Stalled"),
            condition_message(&failed, "Ready")
        );

        // Rotation to the valid secret: the failing link looks at its Secret every
        // interval (not after its 3-minute backoff) and the next pass uses the new value.
        let mark = emulator.last_seq().await?;
        let rotated = Instant::now();
        put_secret(s, &s.ns, &emulator, &emulator.client_secret, false).await?;
        s.wait_link(
            "rotating",
            "Ready after the rotation",
            ROTATION_BOUND,
            link::is_ready,
        )
        .await?;
        let took = rotated.elapsed();
        let tokens = token_statuses(&emulator, mark).await?;
        ensure(tokens.contains(&200), || {
            format!("no token was issued for the new secret after the rotation: {tokens:?}")
        })?;
        eprintln!(
            "[e2e] {}: rotation to a valid secret picked up, Ready {:.1}s later (interval {}s; token requests since: {tokens:?})",
            s.name,
            took.as_secs_f64(),
            INTERVAL.as_secs()
        );

        // Rotation of a healthy link: the next pass reads the Secret again and asks for a
        // token with the new value, although the old value's token is still valid.
        let mark = emulator.last_seq().await?;
        let rotated = Instant::now();
        put_secret(s, &s.ns, &emulator, REVOKED, false).await?;
        s.wait_link(
            "rotating",
            "AuthenticationFailed after rotating to a revoked secret",
            ROTATION_BOUND,
            |l| link::status_current(l) && ready_reason(l) == Some("AuthenticationFailed"),
        )
        .await?;
        let took = rotated.elapsed();
        let tokens = token_statuses(&emulator, mark).await?;
        ensure(tokens.iter().any(|t| *t == 400 || *t == 401), || {
            format!("the next pass did not use the rotated secret (token requests: {tokens:?})")
        })?;
        eprintln!(
            "[e2e] {}: rotation of a healthy link picked up by the next pass {:.1}s later (token requests since: {tokens:?})",
            s.name,
            took.as_secs_f64()
        );

        put_secret(s, &s.ns, &emulator, &emulator.client_secret, false).await?;
        s.wait_link("rotating", "Ready again", ROTATION_BOUND, link::is_ready)
            .await?;
        no_secret_value_anywhere(s, &controller, &emulator, &[&s.ns]).await
    });
}

#[test]
fn secret_namespaces_bound_where_secrets_may_be_read() {
    run("secret-namespaces", async |s: &mut Scenario| {
        let elsewhere = format!("{}-elsewhere", s.ns);
        s.create_namespace(&elsewhere).await?;
        let emulator = s.start_emulator(&emulator_options()).await?;
        // Links in every namespace, Secrets readable only where rbac.secretNamespaces says.
        let install = s
            .install(
                &emulator,
                &InstallOptions::cluster_wide(&[&s.ns, &elsewhere])
                    .with_value("rbac.secretNamespaces", HelmValue::List(vec![s.ns.clone()])),
            )
            .await?;
        never_lists_or_watches(s, &install, &[&s.ns, &elsewhere, "kube-system"]).await?;
        let user = sa_user(&install);
        let answers = (
            can_i(s, &user, "get", Some(&s.ns)).await?,
            can_i(s, &user, "get", Some(&elsewhere)).await?,
            can_i(s, &user, "get", Some("kube-system")).await?,
            can_i(s, &user, "get", None).await?,
        );
        ensure(
            answers == ("yes".into(), "no".into(), "no".into(), "no".into()),
            || {
                format!(
                    "get secrets in {}, {elsewhere}, kube-system, everywhere: {answers:?}",
                    s.ns
                )
            },
        )?;
        eprintln!(
            "[e2e] {}: get secrets: {}={} {elsewhere}={} kube-system={} --all-namespaces={}",
            s.name, s.ns, answers.0, answers.1, answers.2, answers.3
        );
        s.create_credentials(&s.ns, &emulator).await?;
        s.create_credentials(&elsewhere, &emulator).await?;
        let controller = s.start_controller(&install, &emulator, "apilink-0").await?;

        // A link where the controller may not read Secrets stalls saying what to change,
        // and never reaches Azure.
        let blocked = LinkManifest::new(&elsewhere, "blocked", &emulator);
        s.apply_link(&blocked).await?;
        let stalled = apilink_e2e::eventually(
            "the link without Secret access to stall",
            Duration::from_secs(60),
            || async {
                s.ensure_no_rbac_denial()?;
                Ok(match s.link_in(&elsewhere, "blocked").await? {
                    Some(l)
                        if link::status_current(&l)
                            && condition_reason(&l, "Stalled") == Some("SecretForbidden") =>
                    {
                        apilink_e2e::Probe::Done(l)
                    }
                    Some(l) => apilink_e2e::Probe::NotYet(link::describe(&l)),
                    None => apilink_e2e::Probe::NotYet("no link".into()),
                })
            },
        )
        .await?;
        let message = condition_message(&stalled, "Stalled");
        ensure(
            message.contains(&format!("{elsewhere}/{}", link::SECRET))
                && message.contains("rbac.secretNamespaces"),
            || format!("the message should name the Secret and the chart value: {message}"),
        )?;
        let calls = emulator.azure_calls_since(0).await?;
        ensure(calls.is_empty(), || {
            format!("{} Azure calls without readable credentials", calls.len())
        })?;

        let allowed = LinkManifest::new(&s.ns, "allowed", &emulator);
        s.apply_link(&allowed).await?;
        s.kubectl_wait_ready("allowed", READY_TIMEOUT).await?;
        let still = s.link_in(&elsewhere, "blocked").await?.unwrap_or_default();
        ensure(
            condition_reason(&still, "Stalled") == Some("SecretForbidden"),
            || link::describe(&still),
        )?;
        no_secret_value_anywhere(s, &controller, &emulator, &[&s.ns, &elsewhere]).await
    });
}

#[test]
fn a_link_outside_its_tenant_scope_stalls_and_makes_no_azure_call() {
    run("tenant-scope", async |s: &mut Scenario| {
        let team = format!("{}-team", s.ns);
        s.create_namespace(&team).await?;
        let emulator = s.start_emulator(&emulator_options()).await?;
        let subscription = format!("/subscriptions/{}", emulator.subscription_id);
        let other_catalog =
            emulator
                .apic_id
                .replacen(emulator.apic_service(), "someone-elses-catalog", 1);
        // The scenario's namespace may write another API Center only; the team's may write
        // the emulator's (patterns in another case: ARM ids are case-insensitive).
        let scopes = json!([
            {"namespaces": [s.ns], "source": [format!("{subscription}/*")], "target": [other_catalog]},
            {"namespaces": [team], "source": [format!("{}/*", subscription.to_uppercase())],
             "target": [emulator.apic_id.to_lowercase()]},
        ]);
        let install = s
            .install(
                &emulator,
                &InstallOptions::namespaced(&[&s.ns, &team])
                    .with_value("tenantScopes", HelmValue::Json(scopes)),
            )
            .await?;
        ensure(
            install.launch.env_value("APILINK_TENANT_SCOPES").is_some(),
            || "the chart did not pass tenantScopes to the controller".to_string(),
        )?;
        // Valid credentials: only the scope keeps the link out of Azure.
        s.create_credentials(&s.ns, &emulator).await?;
        s.create_credentials(&team, &emulator).await?;
        let _controller = s.start_controller(&install, &emulator, "apilink-0").await?;

        let link = LinkManifest::new(&s.ns, "outside", &emulator);
        s.apply_link(&link).await?;
        let stalled = s
            .wait_link(
                "outside",
                "Stalled=True, ScopeNotAllowed",
                Duration::from_secs(60),
                |l| {
                    link::status_current(l)
                        && condition_status(l, "Stalled") == Some("True")
                        && condition_reason(l, "Stalled") == Some("ScopeNotAllowed")
                },
            )
            .await?;
        ensure(condition_status(&stalled, "Ready") == Some("False"), || {
            link::describe(&stalled)
        })?;
        let message = condition_message(&stalled, "Stalled");
        ensure(
            message.contains(&emulator.apic_id) && message.contains(&other_catalog),
            || format!("the message should name the target and the allowed pattern: {message}"),
        )?;
        eprintln!("[e2e] {}: Stalled/ScopeNotAllowed: {message}", s.name);
        let probes = throughout(
            "zero Azure calls for the link outside its scope",
            3 * INTERVAL,
            || async {
                let calls = emulator.azure_calls_since(0).await?;
                Ok(calls.first().map(|c| {
                    format!(
                        "{} Azure call(s), the first: {} {} ({})",
                        calls.len(),
                        c.method,
                        c.path,
                        c.kind
                    )
                }))
            },
        )
        .await?;
        eprintln!(
            "[e2e] {}: {probes} probes over {}s (three intervals): the call log shows zero Azure calls",
            s.name,
            (3 * INTERVAL).as_secs()
        );

        // The same link in a namespace whose scope allows it syncs.
        let inside = LinkManifest::new(&team, "inside", &emulator);
        s.apply_link(&inside).await?;
        apilink_e2e::eventually(
            "the link inside its scope to become Ready",
            READY_TIMEOUT,
            || async {
                s.ensure_no_rbac_denial()?;
                Ok(match s.link_in(&team, "inside").await? {
                    Some(l) if link::is_ready(&l) => apilink_e2e::Probe::Done(()),
                    Some(l) => apilink_e2e::Probe::NotYet(link::describe(&l)),
                    None => apilink_e2e::Probe::NotYet("no link".into()),
                })
            },
        )
        .await?;
        let owned = emulator.snapshot().await?.owned_counts(&link.id());
        ensure(owned.apis == 0, || {
            format!("API Center holds entities of the link outside its scope: {owned:?}")
        })?;
        let still = s.link("outside").await?;
        ensure(
            condition_reason(&still, "Stalled") == Some("ScopeNotAllowed"),
            || link::describe(&still),
        )
    });
}
