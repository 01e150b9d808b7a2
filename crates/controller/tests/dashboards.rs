//! The Grafana dashboard and the chart's alert rules only name metrics the controller
//! really exports (a rename would otherwise leave them silently empty).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use apilink_controller::metrics::ReconcileResult;
use apilink_controller::{Metrics, PassMode, SyncOutcome};
use regex::Regex;

fn repo(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every metric family name, with every labelled family touched once.
fn exported() -> BTreeSet<String> {
    let m = Metrics::new().unwrap();
    m.reconciled(ReconcileResult::Error, Duration::from_millis(1), true);
    m.set_max_concurrent_reconciles(1);
    m.set_leader(true);
    drop(m.worker());
    let mut outcome = SyncOutcome::default();
    outcome.applied.insert(("api".into(), "create".into()), 1);
    outcome.drift_repaired = 1;
    m.pass_succeeded(
        "ns",
        "l",
        PassMode::Full,
        Duration::from_secs(1),
        1.0,
        &outcome,
    );
    m.rechecked_since("ns", "l", 1.0);
    m.pass_failed(Some(PassMode::Light), Duration::from_secs(1), "X");
    m.link_state("ns", "l", true, false, Some(Duration::from_secs(60)));
    m.preflight_ran("ns", "l", 0);
    m.azure_response("apim", "GET", 200, Duration::from_millis(5));
    m.azure_throttle_wait(Duration::from_millis(5));
    let mut names = BTreeSet::new();
    for family in m.registry().gather() {
        let name = family.name().to_string();
        if family.get_field_type() == prometheus::proto::MetricType::HISTOGRAM {
            for suffix in ["_bucket", "_count", "_sum"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
        names.insert(name);
    }
    names
}

fn referenced(text: &str) -> BTreeSet<String> {
    let re =
        Regex::new(r"\b(apilink_[a-z_]+|controller_runtime_[a-z_]+|process_[a-z_]+)\b").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn dashboard_and_alerts_use_exported_metrics() {
    let exported = exported();
    let dashboard = repo("deploy/grafana/apilink-dashboard.json");
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard is JSON");
    let rules = repo("charts/apilink/templates/prometheusrule.yaml");
    for (source, text) in [("dashboard", &dashboard), ("alert rules", &rules)] {
        let names = referenced(text);
        assert!(names.len() > 3, "{source} references metrics");
        for name in names {
            assert!(
                exported.contains(&name),
                "{source} uses {name}, which is not exported"
            );
        }
    }
    assert!(referenced(&rules).contains("apilink_link_last_full_resync_timestamp_seconds"));
}
