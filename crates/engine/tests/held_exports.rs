//! A pass keeps exported documents for its imports only up to
//! `EngineOptions::held_export_bytes`: the others are exported again right before their
//! import, and one whose content changed meanwhile is not imported under the old hash.
//! A failed export is reported under the API Center API it is for.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use apilink_core::operation::Action;
use apilink_core::ownership::EntityKind;
use apilink_emulator::{ApimHandle, Emulator, FaultKind, FaultRule};
use apilink_engine::{EngineOptions, PassMode, Phase, Progress, ProgressEvent};
use serde_json::json;
use support::*;

fn options(held_export_bytes: usize) -> EngineOptions {
    EngineOptions {
        held_export_bytes,
        ..engine_options()
    }
}

/// The API Center workspace without what differs from one emulator to the next.
fn catalogue(emulator: &Emulator) -> serde_json::Value {
    let mut workspace = normalized(workspace(emulator));
    let text = workspace.to_string();
    // Each emulator has its own host in the runtime URIs it serves.
    let host = emulator
        .arm_endpoint()
        .host_str()
        .unwrap_or_default()
        .to_string();
    if !host.is_empty() {
        workspace = serde_json::from_str(&text.replace(&host, "emulator")).unwrap();
    }
    workspace
}

#[tokio::test]
async fn documents_beyond_the_bound_are_exported_again_and_import_the_same_content() {
    let held = start(config()).await;
    let again = start(config()).await;
    let held_settings = settings(&held, "tests/held", json!({}));
    let again_settings = settings(&again, "tests/held", json!({}));

    let kept = sync(&engine(&held), &held_settings, PassMode::Light).await;
    let reexported = sync(
        &engine_with(&again, options(0)),
        &again_settings,
        PassMode::Light,
    )
    .await;

    for report in [&kept, &reexported] {
        assert!(report.is_complete(), "{:?}", report.failures);
        assert_eq!(report.imports, 5);
        assert_eq!(
            report
                .counts(EntityKind::Definition, Action::Import)
                .written,
            5
        );
    }
    // Each import read its document once more.
    assert!(
        reexported.arm.reads >= kept.arm.reads + 5,
        "{} reads with every document held, {} with none",
        kept.arm.reads,
        reexported.arm.reads
    );
    assert_eq!(catalogue(&held), catalogue(&again));
    assert_converged(&again, &again_settings).await;
}

/// Changes an APIM definition when the apply phase starts: after the pass hashed it,
/// before the import exports it again.
struct ChangeOnApply {
    apim: ApimHandle,
    done: Mutex<bool>,
}

impl Progress for ChangeOnApply {
    fn event(&self, event: ProgressEvent) {
        let ProgressEvent::PhaseStarted(Phase::Apply { .. }) = event else {
            return;
        };
        let mut done = self.done.lock().unwrap();
        if !*done {
            *done = true;
            add_weather_warnings(&self.apim);
        }
    }
}

#[tokio::test]
async fn a_document_changed_before_its_import_waits_for_the_next_pass() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/changed", json!({}));
    let progress = Arc::new(ChangeOnApply {
        apim: emulator.apim(),
        done: Mutex::new(false),
    });
    let engine = engine_with(
        &emulator,
        EngineOptions {
            progress: Some(progress),
            ..options(0)
        },
    );
    let first = engine.sync_pass(&settings, PassMode::Light).await;
    let report = match first {
        Ok(report) => report,
        Err(e) => *e.report.expect("a report of the apply phase"),
    };
    assert_eq!(report.imports, 4, "{:?}", report.failures);
    let refused: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.reason == "ContentChanged")
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", report.failures);
    let weather = api_named(&emulator, "Weather Service");
    assert!(definition_content(&emulator, &weather, "original").is_none());

    // The next pass imports the document as it is now.
    let second = sync(
        &engine_with(&emulator, options(0)),
        &settings,
        PassMode::Light,
    )
    .await;
    assert!(second.is_complete(), "{:?}", second.failures);
    let content = definition_content(&emulator, &weather, "original").unwrap();
    assert!(content.contains("GetWarnings"), "{content}");
    assert_converged(&emulator, &settings).await;
}

#[tokio::test]
async fn a_failed_export_is_reported_under_its_api_center_api() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/export-fails", json!({}));
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 403,
            code: "AuthorizationFailed".into(),
            retry_after_secs: None,
        })
        .method("GET")
        .path_contains(&format!("/service/{APIM}/apis/weather-soap")),
    );
    let report = match engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await
    {
        Ok(report) => report,
        Err(e) => *e.report.expect("a report of the apply phase"),
    };
    let weather = api_named(&emulator, "Weather Service");
    let failed: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.operation.starts_with("export "))
        .map(|f| (f.operation.as_str(), f.api.as_deref()))
        .collect();
    assert_eq!(
        failed,
        [("export apis/weather-soap", Some(weather.as_str()))],
        "{:?}",
        report.failures
    );
}
