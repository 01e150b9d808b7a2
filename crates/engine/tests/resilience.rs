//! Interrupted passes, faults and the cost of the steady state, against the emulator
//! over HTTPS, counted from its call log.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use apilink_azure::ErrorClass;
use apilink_core::ids::SourceKey;
use apilink_core::naming::api_name;
use apilink_core::operation::Action;
use apilink_core::ownership::EntityKind;
use apilink_emulator::{
    BucketConfig, CallKind, EmulatorConfig, FaultKind, FaultRule, Seed, ThrottleConfig,
};
use apilink_engine::{AzureClients, Engine, EngineOptions, PassMode, PassPhase, WriteBudget};
use futures::StreamExt;
use serde_json::{Value, json};
use support::*;

const LINK: &str = "tests/resilience";

/// API Center's state after one clean first pass over the default seed.
async fn baseline() -> (Value, usize) {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    (normalized(workspace(&emulator)), writes(&emulator).len())
}

/// Runs a pass allowed `k` writes, then an unlimited light pass with a fresh engine,
/// and returns the state reached.
async fn interrupted_after(k: u64) -> (Value, u64) {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    let limited = engine_with(
        &emulator,
        EngineOptions {
            write_budget: WriteBudget {
                max_writes_per_pass: Some(k),
                writes_per_second: None,
            },
            ..engine_options()
        },
    );
    let first = sync(&limited, &settings, PassMode::Light).await;
    assert!(first.arm.mutations() <= k, "the budget caps writes");
    let deferred = first.deferred() as u64;
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_converged(&emulator, &settings).await;
    (normalized(workspace(&emulator)), deferred)
}

#[tokio::test]
async fn a_pass_interrupted_after_any_number_of_writes_is_completed_by_the_next_without_duplicates()
{
    let (expected, total) = baseline().await;
    assert!(
        total > 20,
        "the scenario writes enough to be interesting: {total}"
    );
    let results: Vec<(u64, Value, u64)> = futures::stream::iter(0..total as u64)
        .map(|k| async move {
            let (state, deferred) = interrupted_after(k).await;
            (k, state, deferred)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    assert_eq!(results.len(), total);
    for (k, state, deferred) in results {
        assert!(
            deferred > 0,
            "k={k}: the first pass must have been cut short"
        );
        assert_eq!(state, expected, "k={k}: different state after recovery");
    }
}

#[tokio::test]
async fn dropped_connections_and_failed_writes_are_repaired_by_the_next_pass() {
    let (expected, _) = baseline().await;
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    // Half the writes lose their connection; imports fail outright for a while.
    emulator.add_fault(
        FaultRule::new(FaultKind::DropConnection)
            .method("PUT")
            .probability(0.5)
            .times(30),
    );
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 400,
            code: "InvalidRequestContent".into(),
            retry_after_secs: None,
        })
        .path_contains("/importSpecification")
        .times(2),
    );
    let first = engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await;
    // Which operations fail depends on where the drops land (the client retries them);
    // the refused imports are failures of their APIs whatever else happened (the pass
    // itself fails only when something beyond single APIs did).
    let failures = match first {
        Ok(report) => report.failures,
        Err(error) => {
            assert!(
                matches!(error.phase, PassPhase::Apply | PassPhase::Environment),
                "{error}"
            );
            error.report.map(|r| r.failures).unwrap_or_default()
        }
    };
    assert!(
        failures.iter().any(|f| f.operation.starts_with("import")),
        "{failures:#?}"
    );
    let dropped = emulator
        .calls()
        .iter()
        .filter(|c| c.fault.as_deref() == Some("drop"))
        .count();
    assert!(dropped > 0, "no connection was dropped");

    emulator.clear_faults();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_converged(&emulator, &settings).await;
    assert_eq!(
        without_creating_pass(normalized(workspace(&emulator))),
        without_creating_pass(expected)
    );
}

/// The workspace with the creating pass's token left out of each API's record: an API
/// whose create was dropped every time it was retried is created by the next pass,
/// under that pass's token, depending on where the drops land.
fn without_creating_pass(mut workspace: Value) -> Value {
    let Some(apis) = workspace["apis"].as_object_mut() else {
        return workspace;
    };
    for api in apis.values_mut() {
        let record = &mut api["properties"]["customProperties"]["apilink-ownership"];
        if let Some(text) = record.as_str() {
            let kept: Vec<&str> = text
                .split(' ')
                .filter(|part| !part.starts_with("c="))
                .collect();
            *record = Value::String(kept.join(" "));
        }
    }
    workspace
}

#[tokio::test]
async fn a_failed_operation_stops_only_its_own_api() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    let petstore = api_name(
        &settings.link,
        &SourceKey::VersionSet {
            workspace: None,
            id: "petstore".into(),
        },
    );
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 400,
            code: "ValidationError".into(),
            retry_after_secs: None,
        })
        .method("PUT")
        .path_contains(&format!("/apis/{petstore}/versions/")),
    );
    // A refusal confined to one API does not fail the pass: it is that API's failure.
    let report = engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await
        .expect("the rest of the link syncs");
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].api.as_deref(), Some(petstore.as_str()));
    assert_eq!(report.failures[0].reason, "InvalidRequest");
    assert_eq!(report.failures[0].class, ErrorClass::NeedsUser);
    assert!(report.failures[0].is_confined_to_its_api());
    // Every API was created with its whole ledger; the three others are complete and
    // petstore's record lost its source hash, so the next light pass reads its children.
    assert_eq!(
        report.counts(EntityKind::Api, Action::WriteMarker).planned,
        0
    );
    let ws = workspace(&emulator);
    for (name, api) in ws["apis"].as_object().unwrap() {
        let marker = &api["properties"]["customProperties"]["apilink-ownership"];
        let record = apilink_core::marker::ApiMarker::decode(marker.as_str().unwrap()).unwrap();
        assert_eq!(record.source_hash.is_none(), name == &petstore, "{marker}");
    }
    assert_eq!(
        environment_record(&emulator, &settings),
        format!("apilink/2 link={LINK}"),
        "the creating pass's token is cleared: petstore is marked for repair"
    );
    assert!(
        writes(&emulator)
            .iter()
            .all(|w| !w.contains(&format!("/apis/{petstore}/deployments")))
    );

    // While it backs off, the caller leaves it alone: nothing of petstore is written.
    let mut paused = settings.clone();
    paused.paused_apis.insert(petstore.clone());
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &paused, PassMode::Light).await;
    assert_eq!(report.paused_apis, vec![petstore.clone()]);
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));

    emulator.clear_faults();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_converged(&emulator, &settings).await;
    assert_eq!(versions(&emulator, &petstore).len(), 2);
}

#[tokio::test]
async fn a_permission_refusal_on_one_api_still_fails_the_whole_pass() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 403,
            code: "AuthorizationFailed".into(),
            retry_after_secs: None,
        })
        .method("PUT")
        .path_contains("/versions/"),
    );
    let error = engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await
        .expect_err("a missing role is the link's problem");
    assert_eq!(error.reason, "AuthorizationFailed");
    assert_eq!(error.class, ErrorClass::NeedsUser);
}

#[tokio::test]
async fn throttling_server_errors_and_slow_operations_delay_but_never_corrupt() {
    let (expected, _) = baseline().await;
    let emulator = start(EmulatorConfig {
        // A small write bucket: the first pass runs into ARM's 429s.
        throttle: ThrottleConfig {
            enabled: true,
            writes: BucketConfig {
                capacity: 8.0,
                refill_per_sec: 20.0,
            },
            ..ThrottleConfig::default()
        },
        ..config()
    })
    .await;
    let settings = settings(&emulator, LINK, json!({}));
    emulator.add_fault(
        FaultRule::throttle(1)
            .method("GET")
            .path_contains("/apis")
            .times(3),
    );
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 503,
            code: "ServiceUnavailable".into(),
            retry_after_secs: None,
        })
        .method("PUT")
        .times(4),
    );
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 500,
            code: "InternalServerError".into(),
            retry_after_secs: None,
        })
        .method("GET")
        .path_contains("Microsoft.ApiCenter")
        .times(3),
    );
    emulator.add_fault(
        FaultRule::new(FaultKind::SlowLro { extra_polls: 3 })
            .path_contains("/importSpecification")
            .times(3),
    );
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert!(report.arm.retries >= 9, "{:?}", report.arm);
    assert!(report.arm.throttled >= 3, "{:?}", report.arm);
    let faults: Vec<String> = emulator
        .calls()
        .iter()
        .filter_map(|c| c.fault.clone())
        .collect();
    assert!(faults.iter().any(|f| f.contains("slow_lro")), "{faults:?}");
    assert_converged(&emulator, &settings).await;
    assert_eq!(normalized(workspace(&emulator)), expected);
}

/// APIM service + API list pages + version-set pages + API Center API list pages + the
/// environment: what a pass cannot do without.
fn minimum_reads(apim_apis: usize, apim_page: usize, apic_apis: usize, apic_page: usize) -> usize {
    1 + apim_apis.div_ceil(apim_page).max(1) + 1 + apic_apis.div_ceil(apic_page).max(1) + 1
}

#[tokio::test]
async fn the_steady_state_costs_no_write_and_the_minimum_reads_even_in_a_fresh_process() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    // 5 current APIM APIs in pages of 4, 4 API Center APIs in pages of 3.
    let minimum = minimum_reads(5, 4, 4, 3);
    for i in 0..3 {
        emulator.clear_calls();
        // A new engine and ARM client each time: nothing is remembered in memory.
        let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
        assert!(
            writes(&emulator).is_empty(),
            "pass {i}: {:?}",
            writes(&emulator)
        );
        assert_eq!(
            reads(&emulator).len(),
            minimum,
            "pass {i}: {:#?}",
            reads(&emulator)
        );
        assert_eq!(report.arm.reads as usize, minimum);
        assert_eq!(report.arm.mutations(), 0);
        assert_eq!((report.details_read, report.exports), (0, 0));
        let downloads = emulator
            .calls()
            .iter()
            .filter(|c| c.kind == CallKind::ExportLink)
            .count();
        assert_eq!(downloads, 0);
    }
    // A full resync reads everything but still writes nothing.
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &settings, PassMode::Full).await;
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
    assert_eq!((report.details_read, report.exports), (4, 5));
}

#[tokio::test]
async fn steady_state_reads_do_not_depend_on_the_number_of_definitions() {
    let mut costs = Vec::new();
    for apis in [20, 90] {
        let emulator = start(EmulatorConfig {
            seed: Seed::synthetic(apis),
            apim_page_size: 100,
            apic_page_size: 100,
            ..config()
        })
        .await;
        let settings = settings(&emulator, LINK, json!({}));
        let engine = |concurrency| {
            Engine::new(
                AzureClients::new(arm_client(&emulator)).with_apim_page_size(100),
                EngineOptions {
                    concurrency,
                    ..engine_options()
                },
            )
        };
        sync(&engine(16), &settings, PassMode::Light).await;
        let definitions: usize = workspace(&emulator)["apis"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|a| a["versions"].as_object().unwrap().values())
            .map(|v| v["definitions"].as_object().unwrap().len())
            .sum();
        emulator.clear_calls();
        let report = sync(&engine(4), &settings, PassMode::Light).await;
        assert_eq!(report.arm.mutations(), 0);
        costs.push((definitions, report.arm.reads));
    }
    assert!(costs[1].0 > 3 * costs[0].0, "{costs:?}");
    assert_eq!(costs[0].1, costs[1].1, "reads per steady pass: {costs:?}");
    assert_eq!(costs[0].1, 5);
}

#[tokio::test]
async fn paced_writes_respect_the_configured_rate() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    let paced = engine_with(
        &emulator,
        EngineOptions {
            write_budget: WriteBudget {
                max_writes_per_pass: None,
                writes_per_second: Some(40.0),
            },
            ..engine_options()
        },
    );
    let report = sync(&paced, &settings, PassMode::Light).await;
    let writes = report.arm.mutations();
    assert!(writes > 20);
    // n writes at 40/s take at least (n-1)/40 s.
    let floor = Duration::from_secs_f64((writes - 1) as f64 / 40.0);
    assert!(
        report.durations.apply >= floor,
        "{:?} < {floor:?}",
        report.durations.apply
    );
    assert!(report.write_rate() <= 41.0, "{}", report.write_rate());
}
