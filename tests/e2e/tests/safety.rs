//! Safety with a production catalogue, end to end: a filter typo does not wipe what the
//! link owns (the deletion guard holds it until the number is confirmed by annotation),
//! and a copy of an ownership record never makes an API the link's.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use apilink_e2e::link::{condition_message, condition_reason, condition_status};
use apilink_e2e::{EmulatorOptions, InstallOptions, LinkManifest, Result, Scenario, ensure, run};
use serde_json::{Value, json};

const APIM: &str = r#"
services:
  - name: contoso-apim
    apis:
      - {id: echo, displayName: Echo, path: echo, operations: ["GET /echo Echo"]}
      - {id: orders, displayName: Orders, path: orders, operations: ["GET /orders List"]}
      - {id: billing, displayName: Billing, path: billing, operations: ["GET /bills List"]}
"#;

const TIMEOUT: Duration = Duration::from_secs(120);

async fn annotate(s: &Scenario, name: &str, value: &str) -> Result<()> {
    s.kubectl()
        .args([
            "annotate",
            "-n",
            &s.ns,
            "--overwrite",
            &format!("apisourcelink/{name}"),
            &format!("apilink.dev/confirm-deletions={value}"),
        ])
        .run_ok()
        .await
        .map(|_| ())
}

/// The APIs the link created: records naming it, less the person's copy (the snapshot
/// helper reads records only, not the names the link derives).
fn synced(snap: &apilink_e2e::snapshot::ApicSnapshot, link: &str) -> usize {
    snap.owned_apis(link)
        .iter()
        .filter(|(name, _)| *name != "my-echo-copy")
        .count()
}

fn held_count(link: &Value) -> Option<u64> {
    link.pointer("/status/heldDeletions/count")
        .and_then(Value::as_u64)
}

#[test]
fn a_filter_typo_is_held_until_confirmed_and_a_copied_record_stays_foreign() {
    run("guard", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(
                EmulatorOptions::seed(APIM),
                InstallOptions::namespaced(&[&s.ns]),
            )
            .await?;
        let link = LinkManifest::new(&s.ns, "catalog", &emulator);
        s.apply_link(&link).await?;
        s.kubectl_wait_ready("catalog", TIMEOUT).await?;
        let snap = emulator.snapshot().await?;
        ensure(synced(&snap, &link.id()) == 3, || {
            format!("APIs after the first sync: {}", synced(&snap, &link.id()))
        })?;

        // A person copies the echo API's custom properties onto an API of their own.
        let (_, echo) = snap
            .owned_api_for(&link.id(), "apis/echo")
            .ok_or_else(|| apilink_e2e::Error::Check("no API for echo".into()))?;
        let copied = echo["properties"]["customProperties"].clone();
        let copy_id = format!("{}/workspaces/default/apis/my-echo-copy", emulator.apic_id);
        let copy =
            json!({"properties": {"title": "My echo", "kind": "rest", "customProperties": copied}});
        emulator.arm_put(&copy_id, &copy, None).await?;

        // A typo in the filter: the pass would delete all three APIs. It holds them.
        s.patch_spec("catalog", json!({"filter": {"include": ["ech0"]}}))
            .await?;
        let held = s
            .wait_link("catalog", "Ready=False DeletionsHeld", TIMEOUT, |l| {
                condition_reason(l, "Ready") == Some("DeletionsHeld") && held_count(l) == Some(3)
            })
            .await?;
        ensure(condition_status(&held, "Stalled").is_none(), || {
            "held deletions are not a stall".to_string()
        })?;
        ensure(
            condition_message(&held, "Ready").contains("apilink.dev/confirm-deletions: \"3\""),
            || format!("message: {}", condition_message(&held, "Ready")),
        )?;
        let snap = emulator.snapshot().await?;
        ensure(synced(&snap, &link.id()) == 3, || {
            "the guard let deletions through".to_string()
        })?;

        // The wrong number releases nothing, even over several passes.
        annotate(s, "catalog", "2").await?;
        let seq = emulator.last_seq().await?;
        tokio::time::sleep(Duration::from_secs(12)).await;
        let passes = emulator.azure_calls_since(seq).await?;
        ensure(!passes.is_empty(), || {
            "no pass ran while waiting".to_string()
        })?;
        ensure(passes.iter().all(|c| c.method != "DELETE"), || {
            "a wrong confirmation released deletions".to_string()
        })?;

        // The right number does; the copy is never touched.
        annotate(s, "catalog", "3").await?;
        apilink_e2e::eventually("the three APIs deleted", TIMEOUT, || async {
            let snap = emulator.snapshot().await?;
            let owned = synced(&snap, &link.id());
            Ok(if owned == 0 {
                apilink_e2e::Probe::Done(())
            } else {
                apilink_e2e::Probe::NotYet(format!("{owned} owned APIs left"))
            })
        })
        .await?;
        let snap = emulator.snapshot().await?;
        let copy_now = snap
            .api("my-echo-copy")
            .ok_or_else(|| apilink_e2e::Error::Check("the copy was deleted".into()))?;
        ensure(copy_now["properties"]["title"] == json!("My echo"), || {
            format!("the copy changed: {copy_now}")
        })?;
        let after = s
            .wait_link("catalog", "the confirmation consumed", TIMEOUT, |l| {
                l.pointer("/metadata/annotations/apilink.dev~1confirm-deletions")
                    .is_none()
                    && held_count(l).is_none()
            })
            .await?;
        ensure(condition_status(&after, "Ready").is_some(), || {
            "no Ready condition".to_string()
        })
    });
}
