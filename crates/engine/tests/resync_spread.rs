//! Light polls with resync windows against the emulator over HTTPS: one
//! `resyncInterval` of polls re-exports every definition once, a content-only change
//! reaches API Center in the poll whose window holds its API's phase, and a deployment
//! deleted by hand comes back in the same way.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apilink_azure::apic::{ApicClient, ApicPath};
use apilink_core::plan::DriftKind;
use apilink_core::resync_window::{Coverage, ResyncWindow, api_phase};
use apilink_engine::PassMode;
use serde_json::json;
use support::*;

const POLL: Duration = Duration::from_secs(300);
const CYCLE: Duration = Duration::from_secs(3600);

/// The twelve windows of one cycle, starting at a cycle boundary.
fn cycle() -> Vec<ResyncWindow> {
    let start: SystemTime = UNIX_EPOCH + CYCLE * 480_000;
    (0..12)
        .map(|i| ResyncWindow::new(start + POLL * i, start + POLL * (i + 1), CYCLE))
        .collect()
}

/// The poll of the cycle whose window holds `api`'s phase.
fn turn_of(settings: &apilink_core::LinkSettings, api: &str) -> usize {
    let phase = Duration::from_millis(api_phase(&settings.link, api, CYCLE));
    (phase.as_millis() / POLL.as_millis()) as usize
}

fn spread_settings(emulator: &apilink_emulator::Emulator, id: &str) -> apilink_core::LinkSettings {
    settings(
        emulator,
        id,
        json!({"interval": "5m", "resyncInterval": "1h"}),
    )
}

/// One light poll covering `window`, by a fresh engine; it must succeed.
async fn poll(
    emulator: &apilink_emulator::Emulator,
    settings: &apilink_core::LinkSettings,
    window: ResyncWindow,
) -> apilink_engine::PassReport {
    match engine(emulator)
        .sync_pass(settings, Coverage::Window(window))
        .await
    {
        Ok(report) => report,
        Err(e) => panic!("poll failed: {e}"),
    }
}

#[tokio::test]
async fn a_cycle_of_windows_reexports_each_definition_once_and_finds_content_changes() {
    let emulator = start(config()).await;
    let settings = spread_settings(&emulator, "tests/spread");
    let first = sync(&engine(&emulator), &settings, PassMode::Light).await;
    let weather = api_named(&emulator, "Weather Service");
    add_weather_warnings(&emulator.apim());

    let (mut exports, mut details) = (0, 0);
    let turn = turn_of(&settings, &weather);
    for (i, window) in cycle().into_iter().enumerate() {
        emulator.clear_calls();
        let report = poll(&emulator, &settings, window).await;
        exports += report.exports;
        details += report.details_read;
        let imported = imports(&emulator);
        let content = definition_content(&emulator, &weather, "original").unwrap();
        if i < turn {
            assert!(imported.is_empty(), "poll {i}: {imported:?}");
            assert!(
                !content.contains("GetWarnings"),
                "poll {i}: not its turn yet"
            );
        } else if i == turn {
            assert_eq!(imported.len(), 1, "poll {i}: {imported:?}");
            assert!(imported[0].contains(&format!("/apis/{weather}/")));
            assert!(content.contains("GetWarnings"), "{content}");
        } else {
            assert!(
                writes(&emulator).is_empty(),
                "poll {i}: {:?}",
                writes(&emulator)
            );
        }
    }
    assert_eq!(exports, first.exports, "every definition re-exported once");
    assert_eq!(
        details,
        apis(&emulator).len(),
        "every API's children read once"
    );
    assert_converged(&emulator, &settings).await;
}

#[tokio::test]
async fn a_deployment_deleted_by_hand_is_restored_when_its_api_comes_round() {
    let emulator = start(config()).await;
    let settings = spread_settings(&emulator, "tests/spread-drift");
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let echo = api_named(&emulator, "Echo API");
    let deployment = deployments(&emulator, &echo).into_iter().next().unwrap();
    let apic = ApicClient::new(
        arm_client(&emulator),
        emulator.api_center_resource_id(APIC).parse().unwrap(),
    );
    apic.delete(&ApicPath::deployment("default", &echo, &deployment).unwrap())
        .await
        .unwrap();

    let turn = turn_of(&settings, &echo);
    for (i, window) in cycle().into_iter().enumerate() {
        let report = poll(&emulator, &settings, window).await;
        let restored = deployments(&emulator, &echo).contains(&deployment);
        assert_eq!(restored, i >= turn, "poll {i} (turn {turn})");
        if i == turn {
            assert!(
                report
                    .drift
                    .iter()
                    .any(|d| d.kind == DriftKind::Missing && d.path.contains(&deployment)),
                "{:?}",
                report.drift
            );
        }
    }
}
