//! The preflight on a real API server: a link whose checks fail shows the failing check
//! as its status (and an event) without a single write to API Center, until the spec is
//! fixed; `apilink check` tells the same story from a terminal, with the write probe.
//!
//! ```text
//! cargo test -p apilink-e2e --test preflight -- --test-threads=1
//! ```

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use apilink_e2e::command::Cmd;
use apilink_e2e::link::{self, condition_message, condition_reason, condition_status};
use apilink_e2e::paths::apilink_bin;
use apilink_e2e::{
    Emulator, EmulatorOptions, InstallOptions, LinkManifest, Result, Scenario, ensure, run,
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
"#;

const WAIT: Duration = Duration::from_secs(60);

fn check_of<'a>(link: &'a Value, id: &str) -> Option<&'a Value> {
    link.pointer("/status/preflight/checks")?
        .as_array()?
        .iter()
        .find(|c| c["check"] == id)
}

/// The reasons of the events recorded for the link.
async fn event_reasons(s: &Scenario, name: &str) -> Result<Vec<String>> {
    let out = s
        .kubectl()
        .args([
            "get",
            "events",
            "-n",
            &s.ns,
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "json",
        ])
        .run_ok()
        .await?;
    let events: Value = serde_json::from_str(&out).unwrap_or_default();
    Ok(events["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|e| e["reason"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// `apilink check` as a person runs it, with the emulator's principal in the environment.
async fn apilink_check(
    emulator: &Emulator,
    link: &LinkManifest,
    probe: bool,
) -> Result<(i32, Value)> {
    let mut cmd = Cmd::new(apilink_bin()?)
        .args([
            "check",
            "-f",
            "-",
            "-o",
            "json",
            "--credential",
            "client-secret",
        ])
        .env("AZURE_RESOURCE_MANAGER_ENDPOINT", &emulator.endpoint)
        .env("AZURE_AUTHORITY_HOST", &emulator.authority_host)
        .env("SSL_CERT_FILE", &emulator.ca_file)
        .env("AZURE_TENANT_ID", &emulator.tenant_id)
        .env("AZURE_CLIENT_ID", &emulator.client_id)
        .env("AZURE_CLIENT_SECRET", &emulator.client_secret)
        .stdin(link.yaml())
        .timeout(Duration::from_secs(120));
    if probe {
        cmd = cmd.arg("--probe-writes");
    }
    let output = cmd.run().await?;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    ensure(!stdout.contains(&emulator.client_secret), || {
        format!("the check printed the client secret: {stdout}")
    })?;
    let report: Value = serde_json::from_str(&stdout).map_err(|e| {
        apilink_e2e::Error::Check(format!(
            "apilink check -o json printed no JSON ({e}): {stdout}"
        ))
    })?;
    Ok((output.status.code().unwrap_or(-1), report))
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .map(|c| {
                    (
                        c["check"].as_str().unwrap_or("").to_string(),
                        c["status"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_failing_preflight_is_the_status_until_the_spec_is_fixed() {
    run("preflight", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(
                EmulatorOptions::seed(APIM),
                InstallOptions::namespaced(&[&s.ns]),
            )
            .await?;
        let mark = emulator.last_seq().await?;
        let wrong = LinkManifest::new(&s.ns, "catalogue", &emulator)
            .with("/target/workspace", json!("no-such-workspace"));

        let (code, report) = apilink_check(&emulator, &wrong, false).await?;
        ensure(code == 1 && report["canSync"] == json!(false), || {
            format!("apilink check should fail (exit 1): exit {code}, {report}")
        })?;
        ensure(
            statuses(&report).contains(&("apic.workspace".into(), "fail".into())),
            || format!("the workspace check should fail: {report}"),
        )?;

        s.apply_link(&wrong).await?;
        let stalled = s
            .wait_link("catalogue", "Stalled by the preflight", WAIT, |l| {
                link::status_current(l) && condition_reason(l, "Ready") == Some("WorkspaceNotFound")
            })
            .await?;
        ensure(condition_status(&stalled, "Ready") == Some("False"), || {
            link::describe(&stalled)
        })?;
        ensure(
            condition_status(&stalled, "Stalled") == Some("True"),
            || link::describe(&stalled),
        )?;
        let message = condition_message(&stalled, "Ready");
        ensure(message.contains("spec.target.workspace"), || {
            format!("the message should give the remedy: {message}")
        })?;
        ensure(
            stalled.pointer("/status/preflight/result") == Some(&json!("Failed"))
                && check_of(&stalled, "apic.workspace").map(|c| &c["status"])
                    == Some(&json!("fail"))
                && check_of(&stalled, "apic.permissions").map(|c| &c["status"])
                    == Some(&json!("pass")),
            || format!("status.preflight: {}", stalled["status"]["preflight"]),
        )?;
        let writes: Vec<String> = emulator
            .azure_calls_since(mark)
            .await?
            .iter()
            .filter(|c| c.is_write())
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        ensure(writes.is_empty(), || {
            format!("nothing may be written while the preflight fails: {writes:?}")
        })?;
        let reasons = event_reasons(s, "catalogue").await?;
        ensure(reasons.iter().any(|r| r == "PreflightFailed"), || {
            format!("a PreflightFailed event should be recorded: {reasons:?}")
        })?;

        s.patch_spec("catalogue", json!({"target": {"workspace": "default"}}))
            .await?;
        let ready = s
            .wait_link("catalogue", "Ready after the fix", WAIT, link::is_ready)
            .await?;
        ensure(
            ready.pointer("/status/preflight/result") == Some(&json!("Passed")),
            || format!("status.preflight: {}", ready["status"]["preflight"]),
        )?;
        let reasons = event_reasons(s, "catalogue").await?;
        ensure(reasons.iter().any(|r| r == "PreflightPassed"), || {
            format!("a PreflightPassed event should be recorded: {reasons:?}")
        })?;

        let fixed = wrong.with("/target/workspace", json!("default"));
        let (code, report) = apilink_check(&emulator, &fixed, true).await?;
        ensure(code == 0 && report["canSync"] == json!(true), || {
            format!("apilink check --probe-writes should pass: exit {code}, {report}")
        })?;
        let learned = statuses(&report);
        for probe in [
            "probe.custom-properties",
            "probe.conditional-headers",
            "probe.import",
        ] {
            ensure(learned.iter().any(|(check, _)| check == probe), || {
                format!("the probe should report {probe}: {report}")
            })?;
        }
        let left: Vec<String> = emulator
            .snapshot()
            .await?
            .apis()
            .into_iter()
            .map(|(name, _)| name.to_string())
            .filter(|name| name.starts_with("apilink-probe-"))
            .collect();
        ensure(left.is_empty(), || {
            format!("the probe's scratch API should be gone: {left:?}")
        })?;
        eprintln!(
            "[e2e] {}: preflight failed with WorkspaceNotFound and no write, passed after the fix; apilink check --probe-writes: {learned:?}",
            s.name
        );
        Ok(())
    });
}
