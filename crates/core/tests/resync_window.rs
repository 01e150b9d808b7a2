//! Light polls with resync windows against the simulator: over one `resyncInterval` the
//! windows re-read every owned API's children and re-export every definition once, a
//! slice per poll, and repair what a full resync repairs.

#![allow(clippy::unwrap_used)]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apilink_core::LinkSettings;
use apilink_core::mapping::desired_state;
use apilink_core::plan::DriftKind;
use apilink_core::resync_window::{Coverage, ResyncWindow};
use support::apim::{ApimModel, api, member, service, set};
use support::settings;
use support::sim::{Sim, check_converged, run_pass};

const POLL: Duration = Duration::from_secs(300);

/// Fourteen plain APIs and a version set of three: enough that windows split them.
fn model() -> ApimModel {
    let mut apis: Vec<_> = (0..14)
        .map(|i| {
            api(
                &format!("api-{i}"),
                &format!("API {i}"),
                &format!("p{i}"),
                None,
            )
        })
        .collect();
    apis.push(member("pets", "pets-vs", None, None));
    apis.push(member("pets-v2", "pets-vs", Some("v2"), None));
    apis.push(member("pets-v3", "pets-vs", Some("v3"), None));
    ApimModel {
        service: service(),
        apis,
        version_sets: vec![set("pets-vs", "Pets", Some("Segment"))],
        ..ApimModel::default()
    }
}

fn converged(s: &LinkSettings, m: &ApimModel) -> Sim {
    let mut sim = Sim::default();
    run_pass(&mut sim, s, m, Coverage::Changed).unwrap();
    check_converged(&sim, s, m).unwrap();
    sim
}

/// The polls of one cycle starting at `start`: consecutive windows of `POLL`.
fn cycle(s: &LinkSettings, start: SystemTime) -> Vec<ResyncWindow> {
    let polls = s.resync_interval.as_secs() / POLL.as_secs();
    (0..polls as u32)
        .map(|i| ResyncWindow::new(start + POLL * i, start + POLL * (i + 1), s.resync_interval))
        .collect()
}

fn day(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + n * 86_400)
}

/// How many definitions the link syncs.
fn definitions(s: &LinkSettings, m: &ApimModel) -> usize {
    desired_state(s, &m.observed())
        .apis
        .iter()
        .flat_map(|a| &a.versions)
        .filter(|v| v.definition.is_some())
        .count()
}

#[test]
fn a_cycle_of_windows_rechecks_every_api_once_a_slice_at_a_time() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let mut read: BTreeMap<String, usize> = BTreeMap::new();
    let mut exports = 0;
    let mut busiest = 0;
    for window in cycle(&s, day(3)) {
        let out = run_pass(&mut sim, &s, &m, Coverage::Window(window)).unwrap();
        assert!(
            out.plan.is_empty(),
            "steady state writes nothing:\n{}",
            out.plan
        );
        for api in &out.details_read {
            assert!(
                window.covers_api(&s.link, api),
                "{api} read outside its window"
            );
            *read.entry(api.clone()).or_default() += 1;
        }
        exports += out.exports;
        busiest = busiest.max(out.details_read.len());
    }
    let owned = desired_state(&s, &m.observed()).apis.len();
    assert_eq!(read.len(), owned, "every owned API's children read");
    assert!(read.values().all(|n| *n == 1), "once each: {read:?}");
    assert_eq!(
        exports,
        definitions(&s, &m),
        "every definition exported once"
    );
    assert!(
        busiest < owned,
        "a slice per poll, not a burst: {busiest} of {owned}"
    );
}

#[test]
fn content_only_changes_reach_api_center_when_their_api_comes_round() {
    let s = settings("ns/a");
    let mut m = model();
    let mut sim = converged(&s, &m);
    // Content changes without a trace in the API list: a light poll without a window
    // cannot see it.
    m.content_salt = 1;
    assert!(
        run_pass(&mut sim.clone(), &s, &m, Coverage::Changed)
            .unwrap()
            .plan
            .is_empty()
    );
    let mut imported = 0;
    for window in cycle(&s, day(5)) {
        let out = run_pass(&mut sim, &s, &m, Coverage::Window(window)).unwrap();
        for op in &out.plan.operations {
            let api = op.api().unwrap();
            assert!(window.covers_api(&s.link, api), "{op} outside its window");
        }
        imported += out.plan.summary().get(
            apilink_core::ownership::EntityKind::Definition,
            apilink_core::operation::Action::Import,
        );
    }
    assert_eq!(imported, definitions(&s, &m));
    check_converged(&sim, &s, &m).unwrap();
}

#[test]
fn a_definition_deleted_by_hand_is_repaired_within_one_cycle() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let desired = desired_state(&s, &m.observed());
    let victim = desired
        .apis
        .iter()
        .find(|a| a.source.to_string() == "apis/api-3")
        .unwrap();
    sim.apis
        .get_mut(&victim.name)
        .unwrap()
        .versions
        .get_mut("original")
        .unwrap()
        .definitions
        .clear();
    let mut repaired_by = Vec::new();
    for window in cycle(&s, day(8)) {
        let out = run_pass(&mut sim, &s, &m, Coverage::Window(window)).unwrap();
        if !out.plan.is_empty() {
            assert!(
                out.plan.drift.iter().any(|d| d.kind == DriftKind::Missing),
                "{:?}",
                out.plan.drift
            );
            repaired_by.push(window);
        }
    }
    assert_eq!(repaired_by.len(), 1, "repaired once, by its API's window");
    assert!(repaired_by[0].covers_api(&s.link, &victim.name));
    check_converged(&sim, &s, &m).unwrap();
}

#[test]
fn windows_after_failed_polls_miss_nothing() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let mut read: BTreeMap<String, usize> = BTreeMap::new();
    let start = day(11);
    let mut last_success = start;
    let polls = s.resync_interval.as_secs() / POLL.as_secs();
    for i in 1..=polls as u32 {
        // Two polls in three fail: their windows are not passes, the start stays.
        if i % 3 != 0 && i != polls as u32 {
            continue;
        }
        let now = start + POLL * i;
        let window = ResyncWindow::new(last_success, now, s.resync_interval);
        let out = run_pass(&mut sim, &s, &m, Coverage::Window(window)).unwrap();
        for api in out.details_read {
            *read.entry(api).or_default() += 1;
        }
        last_success = now;
    }
    assert_eq!(read.len(), desired_state(&s, &m.observed()).apis.len());
    assert!(read.values().all(|n| *n == 1), "{read:?}");
}
