//! Scenario tests of the planner against the simulator.

#![allow(clippy::unwrap_used)]
mod support;

use apilink_core::mapping::desired_state;
use apilink_core::operation::{Action, Intent, Operation};
use apilink_core::ownership::EntityKind;
use apilink_core::plan::{DriftKind, Warning};
use apilink_core::planner::cleanup_plan;
use apilink_core::resync_window::Coverage;
use apilink_core::spec::{DeletionPolicy, FilterSpec, ImportSpecification};
use serde_json::json;
use support::apim::{ApimModel, api, member, service, set};
use support::sim::{Sim, check_converged, run_pass, run_pass_prefix};
use support::{settings, settings_for, spec};

/// A light pass without a resync window, and a full resync.
const LIGHT: Coverage = Coverage::Changed;
const FULL: Coverage = Coverage::Everything;

fn model() -> ApimModel {
    let mut m = ApimModel {
        service: service(),
        apis: vec![
            api("echo-api", "Echo API", "echo", None),
            member("pets", "pets-vs", None, None),
            member("pets-v2", "pets-vs", Some("v2"), None),
            api("chat", "Chat", "chat", Some("websocket")),
        ],
        ..ApimModel::default()
    };
    m.version_sets = vec![set("pets-vs", "Pets", Some("Segment"))];
    m
}

fn converged(s: &apilink_core::LinkSettings, m: &ApimModel) -> Sim {
    let mut sim = Sim::default();
    run_pass(&mut sim, s, m, LIGHT).unwrap();
    check_converged(&sim, s, m).unwrap();
    sim
}

fn api_name(s: &apilink_core::LinkSettings, m: &ApimModel, source: &str) -> String {
    desired_state(s, &m.observed())
        .apis
        .iter()
        .find(|a| a.source.to_string() == source)
        .unwrap()
        .name
        .clone()
}

#[test]
fn first_pass_orders_writes_parents_first_and_writes_each_entity_once() {
    let s = settings("ns/a");
    let mut sim = Sim::default();
    let out = run_pass(&mut sim, &s, &model(), LIGHT).unwrap();
    let ops = &out.plan.operations;
    let rank = |op: &Operation| match op {
        Operation::EnsureEnvironment { .. } => 0,
        Operation::UpsertApi { .. } => 1,
        Operation::UpsertVersion { .. } => 2,
        Operation::UpsertDefinition { .. } => 3,
        Operation::ImportSpecification { .. } => 4,
        Operation::UpsertDeployment { .. } => 5,
        Operation::WriteEnvironmentRecord { .. } => 6,
        _ => 7,
    };
    assert!(
        ops.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "{}",
        out.plan
    );
    let summary = out.plan.summary();
    assert_eq!(summary.get(EntityKind::Environment, Action::Create), 1);
    assert_eq!(summary.get(EntityKind::Api, Action::Create), 3);
    assert_eq!(summary.get(EntityKind::Version, Action::Create), 4);
    assert_eq!(
        summary.get(EntityKind::Definition, Action::Create),
        3,
        "websocket has none"
    );
    assert_eq!(summary.get(EntityKind::Definition, Action::Import), 3);
    assert_eq!(summary.get(EntityKind::Deployment, Action::Create), 3);
    assert_eq!(
        summary.get(EntityKind::Api, Action::WriteMarker),
        0,
        "each API's record travels with its create"
    );
    assert_eq!(
        summary.get(EntityKind::Environment, Action::WriteMarker),
        1,
        "the creating pass's token is cleared once at the end"
    );
    assert_eq!(ops.len(), 1 + 3 + 4 + 3 + 3 + 3 + 1);
    assert_eq!(out.plan.counts.discovered, 3);
    assert_eq!(out.plan.counts.synced, 3);
    assert_eq!(out.exports, 3);
    // The environment carries the pass's token while it runs; each API is created with
    // its whole ledger under the same token.
    let Operation::EnsureEnvironment { upsert, .. } = &ops[0] else {
        panic!("{}", ops[0])
    };
    let env_body = upsert.create_properties();
    let env_record = env_body["customProperties"]["apilink-ownership"]
        .as_str()
        .unwrap();
    let token = env_record
        .strip_prefix("apilink/2 link=ns/a c=")
        .unwrap_or_else(|| panic!("{env_record}"));
    assert_eq!(token.len(), 10);
    let records: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            Operation::UpsertApi { upsert, .. } => upsert
                .record_on_create()
                .and_then(|r| r.as_str().map(str::to_string)),
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), 3);
    let record = records
        .iter()
        .find(|r| r.contains("src=apis/echo-api "))
        .unwrap();
    assert!(
        record.starts_with("apilink/2 link=ns/a src=apis/"),
        "{record}"
    );
    assert!(record.contains(" sh="), "{record}");
    assert!(record.contains(&format!(" c={token} ")), "{record}");
    assert!(record.contains('@') && record.ends_with('+'), "{record}");
    let Some(Operation::WriteEnvironmentRecord { record, .. }) = ops.last() else {
        panic!("{}", out.plan)
    };
    assert_eq!(record, "apilink/2 link=ns/a");
    check_converged(&sim, &s, &model()).unwrap();
    let env = &sim.environments[&s.environment_name];
    assert_eq!(
        env["customProperties"]["apilink-ownership"],
        "apilink/2 link=ns/a"
    );
}

#[test]
fn a_creating_pass_cut_short_is_finished_by_the_next_light_pass() {
    let s = settings("ns/a");
    let m = model();
    // Each cut point after the first API's create and before the token is cleared.
    let total = {
        let mut probe = Sim::default();
        run_pass(&mut probe, &s, &m, LIGHT)
            .unwrap()
            .plan
            .operations
            .len()
    };
    for cut in 2..total {
        let mut sim = Sim::default();
        run_pass_prefix(&mut sim, &s, &m, LIGHT, cut).unwrap();
        let env = sim.environments[&s.environment_name]["customProperties"]["apilink-ownership"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(env.contains(" c="), "cut {cut}: {env}");
        let created = sim.apis.len();
        let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
        assert_eq!(
            out.details_read.len(),
            created,
            "cut {cut}: the unfinished pass's APIs are read, and only they"
        );
        assert!(
            out.plan.drift.is_empty(),
            "cut {cut}: unconfirmed records are not drift: {:?}",
            out.plan.drift
        );
        check_converged(&sim, &s, &m).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let before = sim.writes;
        let steady = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
        assert!(steady.plan.is_empty(), "cut {cut}: {}", steady.plan);
        assert!(steady.details_read.is_empty(), "cut {cut}");
        assert_eq!(sim.writes, before);
    }
}

#[test]
fn a_later_creating_pass_marks_and_clears_the_environment_once() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let mut grown = m.clone();
    grown.apis.push(api("extra-api", "Extra", "extra", None));
    let out = run_pass(&mut sim, &s, &grown, LIGHT).unwrap();
    let summary = out.plan.summary();
    assert_eq!(summary.get(EntityKind::Environment, Action::Update), 1);
    assert_eq!(summary.get(EntityKind::Environment, Action::WriteMarker), 1);
    assert_eq!(summary.get(EntityKind::Api, Action::Create), 1);
    assert_eq!(summary.get(EntityKind::Api, Action::WriteMarker), 0);
    assert!(out.details_read.is_empty());
    check_converged(&sim, &s, &grown).unwrap();
}

#[test]
fn without_the_environment_new_apis_get_their_ledger_in_a_separate_write() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = Sim::default();
    sim.environments.insert(
        s.environment_name.clone(),
        json!({"title": "someone else's", "kind": "production"}),
    );
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    let summary = out.plan.summary();
    assert_eq!(summary.get(EntityKind::Api, Action::Create), 3);
    assert_eq!(summary.get(EntityKind::Api, Action::WriteMarker), 3);
    assert_eq!(summary.get(EntityKind::Environment, Action::WriteMarker), 0);
    let Operation::UpsertApi { upsert, .. } = &out.plan.operations[0] else {
        panic!("{}", out.plan)
    };
    let body = upsert.create_properties();
    let record = body["customProperties"]["apilink-ownership"]
        .as_str()
        .unwrap();
    assert!(
        !record.contains(" c=") && !record.contains(" sh="),
        "{record}"
    );
    check_converged(&sim, &s, &m).unwrap();
}

#[test]
fn steady_state_reads_nothing_extra_and_writes_nothing() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let before = sim.writes;
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    assert!(out.plan.is_empty(), "{}", out.plan);
    assert!(out.details_read.is_empty());
    assert_eq!(out.exports, 0);
    assert_eq!(sim.writes, before);
    // A full resync reads and exports everything but still writes nothing.
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    assert!(out.plan.is_empty(), "{}", out.plan);
    assert_eq!(out.details_read.len(), 3);
    assert_eq!(out.exports, 3);
    assert_eq!(out.plan.summary().to_string(), "no changes");
}

#[test]
fn foreign_api_with_the_wanted_name_is_a_conflict_and_left_alone() {
    let s = settings("ns/a");
    let m = model();
    let name = api_name(&s, &m, "apis/echo-api");
    let mut sim = Sim::default();
    sim.apis.insert(
        name.clone(),
        support::sim::SimApi {
            props: json!({"title": "Hand made", "kind": "rest"}),
            ..Default::default()
        },
    );
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    assert!(
        out.plan
            .operations
            .iter()
            .all(|op| op.api() != Some(name.as_str()))
    );
    assert!(
        out.plan
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::Conflict { name: n, .. } if *n == name))
    );
    assert_eq!(out.plan.counts.skipped, 1);
    assert_eq!(out.plan.counts.synced, 2);
    assert_eq!(
        sim.apis[&name].props,
        json!({"title": "Hand made", "kind": "rest"})
    );
    // Another link's marker is just as foreign.
    sim.apis.get_mut(&name).unwrap().props["customProperties"] =
        json!({"apilink": {"link": "ns/b"}});
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    assert!(out.plan.is_empty(), "{}", out.plan);
    assert!(
        cleanup_plan(&s, &sim.observe(&s, &[]))
            .operations
            .iter()
            .all(|op| op.api() != Some(name.as_str()))
    );
}

#[test]
fn foreign_environment_is_left_alone_and_gets_no_deployments() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = Sim::default();
    sim.environments.insert(
        s.environment_name.clone(),
        json!({"title": "Theirs", "kind": "staging"}),
    );
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    assert!(
        out.plan
            .operations
            .iter()
            .all(|op| op.entity() != EntityKind::Environment)
    );
    assert!(
        out.plan
            .operations
            .iter()
            .all(|op| op.entity() != EntityKind::Deployment)
    );
    assert!(out.plan.warnings.iter().any(|w| matches!(
        w,
        Warning::Conflict {
            entity: EntityKind::Environment,
            ..
        }
    )));
    assert!(run_pass(&mut sim, &s, &m, LIGHT).unwrap().plan.is_empty());
    assert_eq!(
        sim.environments[&s.environment_name],
        json!({"title": "Theirs", "kind": "staging"})
    );
    let cleanup = cleanup_plan(&s, &sim.observe(&s, &[]));
    assert!(
        cleanup
            .operations
            .iter()
            .all(|op| op.entity() == EntityKind::Api)
    );
}

#[test]
fn removed_or_filtered_apis_are_deleted() {
    let s = settings("ns/a");
    let mut m = model();
    let mut sim = converged(&s, &m);
    let echo = api_name(&s, &m, "apis/echo-api");
    m.apis.retain(|a| a.name != "echo-api");
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    assert_eq!(
        out.plan.operations,
        vec![Operation::DeleteApi { api: echo.clone() }]
    );
    assert!(!sim.apis.contains_key(&echo));
    let filtered = settings_for(
        "ns/a",
        &spec(
            ImportSpecification::Always,
            None,
            FilterSpec {
                include: vec!["*".into()],
                exclude: vec!["pets-vs".into()],
            },
        ),
    );
    let out = run_pass(&mut sim, &filtered, &m, LIGHT).unwrap();
    assert_eq!(
        out.plan.summary().get(EntityKind::Api, Action::Delete),
        1,
        "{}",
        out.plan
    );
    check_converged(&sim, &filtered, &m).unwrap();
}

#[test]
fn removed_version_is_deleted_children_first_then_the_marker() {
    let s = settings("ns/a");
    let mut m = model();
    let mut sim = converged(&s, &m);
    m.apis.retain(|a| a.name != "pets-v2");
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    let kinds: Vec<String> = out
        .plan
        .operations
        .iter()
        .map(|op| format!("{:?} {:?}", op.action(), op.entity()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "Delete Deployment",
            "Delete Definition",
            "Delete Version",
            "WriteMarker Api"
        ]
    );
    check_converged(&sim, &s, &m).unwrap();
    assert!(run_pass(&mut sim, &s, &m, LIGHT).unwrap().plan.is_empty());
}

#[test]
fn drift_in_owned_children_is_repaired_on_full_resync() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let pets = api_name(&s, &m, "apiVersionSets/pets-vs");
    let echo = api_name(&s, &m, "apis/echo-api");
    sim.apis.get_mut(&pets).unwrap().versions.remove("original");
    let def = sim
        .apis
        .get_mut(&echo)
        .unwrap()
        .versions
        .get_mut("original")
        .unwrap()
        .definitions
        .get_mut("openapi")
        .unwrap();
    def.props.as_object_mut().unwrap().remove("specification");
    def.imported = None;
    // A light pass cannot see it.
    assert!(
        run_pass(&mut sim.clone(), &s, &m, LIGHT)
            .unwrap()
            .plan
            .is_empty()
    );
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    let kinds: Vec<DriftKind> = out.plan.drift.iter().map(|d| d.kind).collect();
    assert!(kinds.contains(&DriftKind::Missing), "{:?}", out.plan.drift);
    assert!(
        kinds.contains(&DriftKind::SpecificationMissing),
        "{:?}",
        out.plan.drift
    );
    check_converged(&sim, &s, &m).unwrap();
    assert!(run_pass(&mut sim, &s, &m, FULL).unwrap().plan.is_empty());
}

#[test]
fn apim_owned_edits_are_overwritten_and_api_center_owned_edits_kept() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let echo = api_name(&s, &m, "apis/echo-api");
    let props = &mut sim.apis.get_mut(&echo).unwrap().props;
    props["title"] = json!("Renamed in API Center");
    props["summary"] = json!("curated");
    props["customProperties"]["team"] = json!("payments");
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    assert_eq!(out.plan.operations.len(), 1, "{}", out.plan);
    let Operation::UpsertApi { upsert, .. } = &out.plan.operations[0] else {
        panic!()
    };
    assert_eq!(upsert.intent, Intent::Update);
    assert_eq!(upsert.changes().len(), 1);
    assert_eq!(upsert.changes()[0].path, "title");
    assert_eq!(out.plan.drift[0].kind, DriftKind::Modified);
    let props = &sim.apis[&echo].props;
    assert_eq!(props["title"], "Echo API");
    assert_eq!(props["summary"], "curated");
    assert_eq!(props["customProperties"]["team"], "payments");
    assert!(run_pass(&mut sim, &s, &m, LIGHT).unwrap().plan.is_empty());
}

#[test]
fn normalised_server_type_is_not_repaired_in_a_loop() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    sim.normalise_server_type = true;
    assert!(run_pass(&mut sim, &s, &m, FULL).unwrap().plan.is_empty());
}

#[test]
fn content_changes_reach_api_center_through_revisions_or_the_full_resync() {
    let s = settings("ns/a");
    let mut m = model();
    let mut sim = converged(&s, &m);
    m.content_salt = 1;
    assert!(
        run_pass(&mut sim, &s, &m, LIGHT).unwrap().plan.is_empty(),
        "invisible to a light pass"
    );
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    assert_eq!(
        out.plan
            .summary()
            .get(EntityKind::Definition, Action::Import),
        3,
        "{}",
        out.plan
    );
    check_converged(&sim, &s, &m).unwrap();
    m.apis[0].api_revision = Some("7".into());
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    assert_eq!(out.exports, 1);
    assert_eq!(out.details_read.len(), 1);
    assert_eq!(
        out.plan
            .summary()
            .get(EntityKind::Definition, Action::Import),
        1,
        "{}",
        out.plan
    );
    check_converged(&sim, &s, &m).unwrap();
}

#[test]
fn unchanged_content_is_never_reimported() {
    let s = settings("ns/a");
    let mut m = model();
    let mut sim = converged(&s, &m);
    m.apis[0].display_name = "Echo, renamed".into();
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    assert_eq!(out.exports, 1, "the changed API is re-exported");
    assert_eq!(
        out.plan
            .summary()
            .get(EntityKind::Definition, Action::Import),
        0,
        "{}",
        out.plan
    );
    check_converged(&sim, &s, &m).unwrap();
}

#[test]
fn user_added_children_of_owned_apis_are_never_touched() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let echo = api_name(&s, &m, "apis/echo-api");
    let a = sim.apis.get_mut(&echo).unwrap();
    a.versions.insert(
        "user-v9".into(),
        support::sim::SimVersion {
            props: json!({"title": "mine", "lifecycleStage": "testing"}),
            ..Default::default()
        },
    );
    a.deployments
        .insert("user-dep".into(), json!({"title": "mine"}));
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    assert!(out.plan.is_empty(), "{}", out.plan);
    assert!(sim.apis[&echo].versions.contains_key("user-v9"));
}

#[test]
fn import_never_skips_content() {
    let s = settings_for(
        "ns/a",
        &spec(
            ImportSpecification::Never,
            Some("payments-env"),
            FilterSpec::default(),
        ),
    );
    let mut sim = Sim::default();
    let out = run_pass(&mut sim, &s, &model(), FULL).unwrap();
    assert_eq!(out.exports, 0);
    assert_eq!(
        out.plan
            .summary()
            .get(EntityKind::Definition, Action::Import),
        0
    );
    assert!(out.plan.warnings.is_empty(), "{:?}", out.plan.warnings);
    assert!(sim.environments.contains_key("payments-env"));
    assert!(
        run_pass(&mut sim, &s, &model(), FULL)
            .unwrap()
            .plan
            .is_empty()
    );
}

#[test]
fn crash_after_any_prefix_is_repaired_by_a_light_pass() {
    let s = settings("ns/a");
    let m = model();
    let total = run_pass(&mut Sim::default(), &s, &m, LIGHT)
        .unwrap()
        .plan
        .operations
        .len();
    for k in 0..total {
        let mut sim = Sim::default();
        run_pass_prefix(&mut sim, &s, &m, LIGHT, k).unwrap();
        run_pass(&mut sim, &s, &m, LIGHT).unwrap();
        check_converged(&sim, &s, &m).unwrap_or_else(|e| panic!("prefix {k}: {e}"));
        let again = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
        assert!(again.plan.is_empty(), "prefix {k}: {}", again.plan);
    }
}

#[test]
fn cleanup_removes_owned_apis_then_the_environment() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    sim.apis.insert(
        "hand-made".into(),
        support::sim::SimApi {
            props: json!({"title": "x", "kind": "rest"}),
            ..Default::default()
        },
    );
    let cleanup = cleanup_plan(&s, &sim.observe(&s, &[]));
    assert_eq!(cleanup.summary().get(EntityKind::Api, Action::Delete), 3);
    assert!(matches!(
        cleanup.operations.last(),
        Some(Operation::DeleteEnvironment { .. })
    ));
    for op in cleanup.operations.iter().take(2) {
        sim.apply(op, &Default::default()).unwrap();
    }
    let rest = cleanup_plan(&s, &sim.observe(&s, &[]));
    assert_eq!(rest.operations.len(), 2, "resumes where it stopped");
    for op in &rest.operations {
        sim.apply(op, &Default::default()).unwrap();
    }
    assert_eq!(sim.apis.keys().collect::<Vec<_>>(), vec!["hand-made"]);
    assert!(sim.environments.is_empty());
    let mut orphan_spec = spec(ImportSpecification::Always, None, FilterSpec::default());
    orphan_spec.deletion_policy = DeletionPolicy::Orphan;
    assert!(
        cleanup_plan(
            &settings_for("ns/a", &orphan_spec),
            &converged(&s, &m).observe(&s, &[])
        )
        .is_empty()
    );
}

#[test]
fn plan_renders_field_changes() {
    let s = settings("ns/a");
    let mut m = model();
    let mut sim = converged(&s, &m);
    m.apis[0].display_name = "Echo v2".into();
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    let text = out.plan.to_string();
    assert!(text.contains("update api apis/"), "{text}");
    assert!(
        text.contains("title: \"Echo API\" -> \"Echo v2\""),
        "{text}"
    );
    assert!(text.contains("summary:"), "{text}");
    let json = serde_json::to_value(&out.plan).unwrap();
    assert!(json["operations"][0]["op"].is_string());
}

/// Turns every record of `link` in `sim` back into the undeclared JSON form of earlier
/// versions (full hashes, `{"link"}` on the environment and deployments).
fn downgrade_records(sim: &mut Sim, s: &apilink_core::LinkSettings) {
    use apilink_core::marker::{Ownership, read_api_marker};
    let full = |h: &str| format!("{h}{}", "0".repeat(64 - h.len()));
    for (name, api) in sim.apis.iter_mut() {
        let Ownership::Owned((marker, _)) = read_api_marker(name, &api.props, &s.link) else {
            continue;
        };
        let mut legacy = serde_json::to_value(&marker).unwrap();
        legacy["sourceHash"] = json!(marker.source_hash.as_deref().map(full));
        let custom = api.props["customProperties"].as_object_mut().unwrap();
        custom.remove("apilink-ownership");
        custom.insert("apilink".into(), legacy);
        for dep in api.deployments.values_mut() {
            let custom = dep["customProperties"].as_object_mut().unwrap();
            custom.remove("apilink-ownership");
            custom.insert("apilink".into(), json!({"link": s.link.as_str()}));
        }
    }
    let env = sim.environments.get_mut(&s.environment_name).unwrap();
    let custom = env["customProperties"].as_object_mut().unwrap();
    custom.remove("apilink-ownership");
    custom.insert("apilink".into(), json!({"link": s.link.as_str()}));
}

#[test]
fn legacy_records_are_rewritten_once_without_reimports_or_creates() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    downgrade_records(&mut sim, &s);
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    let summary = out.plan.summary();
    for kind in [
        EntityKind::Api,
        EntityKind::Version,
        EntityKind::Definition,
        EntityKind::Deployment,
        EntityKind::Environment,
    ] {
        assert_eq!(summary.get(kind, Action::Create), 0, "{}", out.plan);
        assert_eq!(summary.get(kind, Action::Delete), 0, "{}", out.plan);
    }
    assert_eq!(
        out.exports, 0,
        "content hashes of legacy records still count"
    );
    assert!(
        !out.plan
            .operations
            .iter()
            .any(|op| matches!(op, Operation::ImportSpecification { .. })),
        "{}",
        out.plan
    );
    assert_eq!(summary.get(EntityKind::Api, Action::WriteMarker), 3);
    assert_eq!(summary.get(EntityKind::Deployment, Action::Update), 3);
    assert_eq!(summary.get(EntityKind::Environment, Action::Update), 1);
    check_converged(&sim, &s, &m).unwrap();
    let dump = serde_json::to_string(&(
        &sim.environments,
        sim.apis
            .values()
            .map(|a| (&a.props, &a.deployments))
            .collect::<Vec<_>>(),
    ))
    .unwrap();
    assert!(
        !dump.contains("\"apilink\":"),
        "no legacy record left: {dump}"
    );
    // Once rewritten, the next passes are steady.
    let out = run_pass(&mut sim, &s, &m, LIGHT).unwrap();
    assert!(out.plan.is_empty(), "{}", out.plan);
    assert!(out.details_read.is_empty());
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    assert!(out.plan.is_empty(), "{}", out.plan);
}

#[test]
fn spec_custom_properties_are_set_on_create_only() {
    let mut link_spec = spec(ImportSpecification::Always, None, FilterSpec::default());
    link_spec
        .custom_properties
        .api
        .insert("owner".into(), json!("team-payments"));
    link_spec
        .custom_properties
        .environment
        .insert("region".into(), json!("westeurope"));
    link_spec
        .custom_properties
        .deployment
        .insert("tier".into(), json!(3));
    let s = settings_for("ns/a", &link_spec);
    let m = model();
    let mut sim = converged(&s, &m);
    let echo = api_name(&s, &m, "apis/echo-api");
    assert_eq!(
        sim.apis[&echo].props["customProperties"]["owner"],
        "team-payments"
    );
    assert_eq!(
        sim.environments[&s.environment_name]["customProperties"]["region"],
        "westeurope"
    );
    assert!(
        sim.apis[&echo]
            .deployments
            .values()
            .all(|d| d["customProperties"]["tier"] == 3)
    );
    // API Center owns them afterwards: a person's change is kept, even on a full resync.
    sim.apis.get_mut(&echo).unwrap().props["customProperties"]["owner"] = json!("team-b");
    let out = run_pass(&mut sim, &s, &m, FULL).unwrap();
    assert!(out.plan.is_empty(), "{}", out.plan);
    assert_eq!(sim.apis[&echo].props["customProperties"]["owner"], "team-b");
}

#[test]
fn spec_custom_properties_may_not_use_the_record_key() {
    let mut link_spec = spec(ImportSpecification::Always, None, FilterSpec::default());
    link_spec
        .custom_properties
        .api
        .insert("apilink-ownership".into(), json!("x"));
    link_spec
        .custom_properties
        .deployment
        .insert("x".into(), json!("too short a name"));
    let err = link_spec.validate().unwrap_err().to_string();
    assert!(
        err.contains("spec.customProperties.api.apilink-ownership"),
        "{err}"
    );
    assert!(err.contains("spec.customProperties.deployment.x"), "{err}");
}

#[test]
fn a_copied_record_makes_nothing_the_link_s() {
    let s = settings("ns/a");
    let m = model();
    let mut sim = converged(&s, &m);
    let echo = api_name(&s, &m, "apis/echo-api");
    let copied = sim.apis[&echo].props["customProperties"].clone();
    let copy = json!({"title": "My copy of Echo", "kind": "rest", "customProperties": copied});
    sim.apis.insert(
        "my-echo-copy".into(),
        support::sim::SimApi {
            props: copy.clone(),
            ..Default::default()
        },
    );
    for coverage in [LIGHT, FULL] {
        let out = run_pass(&mut sim, &s, &m, coverage).unwrap();
        assert!(
            out.plan
                .operations
                .iter()
                .all(|op| op.api() != Some("my-echo-copy"))
        );
        assert!(
            out.plan
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::CopiedRecord { api } if api == "my-echo-copy")),
            "{:?}",
            out.plan.warnings
        );
    }
    assert_eq!(sim.apis["my-echo-copy"].props, copy);
    let cleanup = cleanup_plan(&s, &sim.observe(&s, &[]));
    assert!(
        cleanup
            .operations
            .iter()
            .all(|op| op.api() != Some("my-echo-copy"))
    );
    assert!(
        cleanup
            .operations
            .iter()
            .any(|op| op.api() == Some(echo.as_str()))
    );
}
