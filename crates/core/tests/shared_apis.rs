//! Property tests of shared APIs (`spec.apiIdentity.scope: Shared`): links of several
//! stages converge on one API per logical API with a deployment per stage, whatever
//! order their passes and operations run in and wherever a pass dies; no API, version or
//! definition is ever made twice; the API's own fields come from the stage that comes
//! first and stay put; removing one link leaves every other link's entities intact.

#![allow(clippy::unwrap_used)]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use apilink_core::mapping::desired_state;
use apilink_core::marker::{Ownership, read_entity_marker};
use apilink_core::naming::{shared_api_name, version_name};
use apilink_core::operation::Operation;
use apilink_core::planner::{cleanup_plan, owned_api_names};
use apilink_core::resync_window::Coverage;
use apilink_core::shared::{api_ownership, shared_definition_name, shares};
use apilink_core::spec::{
    ApiIdentityScope, ApiIdentitySpec, EnvironmentKind, FilterSpec, ImportSpecification,
    LinkSettings,
};
use proptest::prelude::*;
use support::apim::{ApimModel, api, member, service, set};
use support::sim::{Sim, run_pass, run_pass_prefix};
use support::{settings_for, spec};

const LIGHT: Coverage = Coverage::Changed;
const LOGICAL: &[&str] = &["orders", "payments", "echo", "users"];
const VERSIONS: &[&str] = &["v1", "v2", "v3"];

/// A link of one stage, sharing its APIs by name.
fn stage(link: &str, kind: EnvironmentKind) -> LinkSettings {
    let mut spec = spec(ImportSpecification::Always, None, FilterSpec::default());
    spec.source.workspaces = Vec::new();
    spec.environment.kind = kind;
    spec.api_identity = ApiIdentitySpec {
        scope: ApiIdentityScope::Shared,
        ..ApiIdentitySpec::default()
    };
    settings_for(link, &spec)
}

/// One logical API as one stage's APIM holds it.
#[derive(Debug, Clone)]
struct StageApi {
    logical: usize,
    title: String,
    /// Indices into [`VERSIONS`]; empty: a plain, unversioned API.
    versions: BTreeSet<usize>,
    /// Changes the exported content of this API in this stage only.
    description: Option<String>,
}

fn arb_stage_api() -> impl Strategy<Value = StageApi> {
    (
        0..LOGICAL.len(),
        "[A-Z][a-z]{2,8}",
        proptest::collection::btree_set(0..VERSIONS.len(), 0..3),
        proptest::option::of(prop_oneof![Just("a".to_string()), Just("b".to_string())]),
    )
        .prop_map(|(logical, title, versions, description)| StageApi {
            logical,
            title,
            versions,
            description,
        })
}

fn apim_of(apis: &[StageApi], salt: u8) -> ApimModel {
    let mut model = ApimModel {
        service: service(),
        content_salt: salt,
        ..ApimModel::default()
    };
    let mut seen = BTreeSet::new();
    for stage_api in apis {
        if !seen.insert(stage_api.logical) {
            continue;
        }
        let id = LOGICAL[stage_api.logical];
        if stage_api.versions.is_empty() {
            let mut plain = api(id, &stage_api.title, id, None);
            plain.description = stage_api.description.clone();
            model.apis.push(plain);
            continue;
        }
        model.version_sets.push(set(id, &stage_api.title, None));
        for v in &stage_api.versions {
            let mut m = member(
                &format!("{id}-{}", VERSIONS[*v]),
                id,
                Some(VERSIONS[*v]),
                None,
            );
            m.description = stage_api.description.clone();
            model.apis.push(m);
        }
    }
    model
}

fn arb_apim() -> impl Strategy<Value = ApimModel> {
    (proptest::collection::vec(arb_stage_api(), 0..4), 0u8..2)
        .prop_map(|(apis, salt)| apim_of(&apis, salt))
}

/// Checks that everything `settings`' link wants is in place: its share of each API,
/// each version, the definition holding its APIM's content, and its own deployment
/// pointing at that definition.
fn check_link(sim: &Sim, settings: &LinkSettings, apim: &ApimModel) -> Result<(), String> {
    let desired = desired_state(settings, &apim.observed());
    for d in &desired.apis {
        let api = sim
            .apis
            .get(&d.name)
            .ok_or(format!("api {} missing", d.name))?;
        if !api_ownership(settings, &d.name, &api.props).is_owned() {
            return Err(format!("{}: no share of {}", settings.link, d.name));
        }
        for v in &d.versions {
            let ver = api
                .versions
                .get(&v.name)
                .ok_or(format!("version {}/{} missing", d.name, v.name))?;
            let Some(def) = &v.definition else { continue };
            let content = apim.content_of(&v.source).map(|c| c.content_hash);
            let name = shared_definition_name(def.kind, content.as_deref());
            let held = ver
                .definitions
                .get(&name)
                .ok_or(format!("definition {}/{}/{name} missing", d.name, v.name))?;
            if held.imported != content {
                return Err(format!("{}/{}/{name} holds other content", d.name, v.name));
            }
            let dep = api.deployments.get(&def.deployment.name).ok_or(format!(
                "{}: deployment {} missing",
                settings.link, def.deployment.name
            ))?;
            if !read_entity_marker(dep, &settings.link).is_owned() {
                return Err(format!(
                    "deployment {} is not {}'s",
                    def.deployment.name, settings.link
                ));
            }
            let points_at = dep["definitionId"].as_str().unwrap_or_default();
            if !points_at.ends_with(&format!("/versions/{}/definitions/{name}", v.name)) {
                return Err(format!(
                    "deployment {} points at {points_at}",
                    def.deployment.name
                ));
            }
        }
    }
    Ok(())
}

/// The stage that comes first among the links serving an API decides its title.
fn check_titles(sim: &Sim, links: &[(&LinkSettings, &ApimModel)]) -> Result<(), String> {
    for (name, api) in &sim.apis {
        let mut serving: Vec<(u8, &str, String)> = Vec::new();
        for (settings, apim) in links {
            let desired = desired_state(settings, &apim.observed());
            if let Some(d) = desired.apis.iter().find(|d| &d.name == name) {
                let rank = apilink_core::shared::kind_rank(settings.environment_kind.as_str());
                let title = d.properties.value()["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                serving.push((rank, settings.link.as_str(), title));
            }
        }
        serving.sort();
        if let Some((_, link, title)) = serving.first()
            && api.props["title"].as_str() != Some(title.as_str())
        {
            return Err(format!(
                "{name}: title {} is not {link}'s {title}",
                api.props["title"]
            ));
        }
    }
    Ok(())
}

/// Nothing duplicated or left over: every API is one some link wants, every API and
/// deployment belongs to a link that serves it, every version and definition is one
/// some link's APIM serves. `empty_versions_allowed`: a version with nothing under it
/// may stay behind (see `racing_removals_may_leave_an_empty_version`).
fn check_no_strays(
    sim: &Sim,
    links: &[(&LinkSettings, &ApimModel)],
    empty_versions_allowed: bool,
) -> Result<(), String> {
    let mut wanted_apis = BTreeSet::new();
    let mut wanted_children = BTreeSet::new();
    for (settings, apim) in links {
        for d in desired_state(settings, &apim.observed()).apis {
            for v in &d.versions {
                wanted_children.insert(format!("{}/{}", d.name, v.name));
                if let Some(def) = &v.definition {
                    let content = apim.content_of(&v.source).map(|c| c.content_hash);
                    let name = shared_definition_name(def.kind, content.as_deref());
                    wanted_children.insert(format!("{}/{}/{name}", d.name, v.name));
                    wanted_children.insert(format!("{}/{}", d.name, def.deployment.name));
                }
            }
            wanted_apis.insert(d.name);
        }
    }
    for (name, api) in &sim.apis {
        if !wanted_apis.contains(name) {
            return Err(format!("api {name} left over"));
        }
        for (v, ver) in &api.versions {
            let tolerated = empty_versions_allowed && ver.definitions.is_empty();
            if !tolerated && !wanted_children.contains(&format!("{name}/{v}")) {
                return Err(format!("version {name}/{v} left over"));
            }
            for def in ver.definitions.keys() {
                if !wanted_children.contains(&format!("{name}/{v}/{def}")) {
                    return Err(format!("definition {name}/{v}/{def} left over"));
                }
            }
        }
        for dep in api.deployments.keys() {
            if !wanted_children.contains(&format!("{name}/{dep}")) {
                return Err(format!("deployment {name}/{dep} left over"));
            }
        }
    }
    Ok(())
}

/// Light passes of each link in turn until none writes (at most `rounds` rounds).
fn settle(
    sim: &mut Sim,
    links: &[(&LinkSettings, &ApimModel)],
    rounds: usize,
) -> Result<(), String> {
    for _ in 0..rounds {
        let before = sim.writes;
        for (settings, apim) in links {
            run_pass(sim, settings, apim, LIGHT)?;
        }
        if sim.writes == before {
            return Ok(());
        }
    }
    Err(format!("still writing after {rounds} rounds"))
}

fn check_all(sim: &Sim, links: &[(&LinkSettings, &ApimModel)]) -> Result<(), String> {
    for (settings, apim) in links {
        check_link(sim, settings, apim)?;
    }
    check_titles(sim, links)?;
    check_no_strays(sim, links, false)
}

/// Removes a link as its finalizer would: read its shares' children, apply the plan.
fn remove_link(sim: &mut Sim, settings: &LinkSettings) -> Result<(), String> {
    let listed = sim.observe(settings, &[]);
    let owned = owned_api_names(settings, &listed);
    let observed = sim.observe(settings, &owned);
    let plan = cleanup_plan(settings, &observed);
    for op in &plan.operations {
        sim.apply(op, &Default::default())?;
    }
    Ok(())
}

/// Plans both links on the same API Center, then applies their operations in the order
/// `turns` picks (true: the first link's next operation), each cut after its limit.
/// `conditions_ignored`: a service that ignores `If-Match`, at its worst: every write of
/// an API replaces it as the writing link saw it when it planned, losing whatever the
/// other link wrote meanwhile.
fn interleave(
    sim: &mut Sim,
    (a, apim_a): (&LinkSettings, &ApimModel),
    (b, apim_b): (&LinkSettings, &ApimModel),
    turns: &[bool],
    limits: (usize, usize),
    conditions_ignored: bool,
) -> Result<(), String> {
    let seen: BTreeMap<String, serde_json::Value> = sim
        .apis
        .iter()
        .map(|(n, api)| (n.clone(), api.props.clone()))
        .collect();
    let prepare = |sim: &Sim, settings: &LinkSettings, apim: &ApimModel| {
        let desired = desired_state(settings, &apim.observed());
        let listed = sim.observe(settings, &[]);
        let details = apilink_core::details_needed(settings, &desired, &listed, LIGHT);
        let observed = sim.observe(settings, &details);
        let requests = apilink_core::exports_needed(settings, &desired, &observed, LIGHT);
        let exports = apim.export(&requests);
        let plan = apilink_core::plan(settings, &desired, &exports, &observed);
        (plan.operations, exports)
    };
    let (ops_a, exports_a) = prepare(sim, a, apim_a);
    let (ops_b, exports_b) = prepare(sim, b, apim_b);
    let mut queue_a = ops_a.iter().take(limits.0);
    let mut queue_b = ops_b.iter().take(limits.1);
    let mut turns = turns.iter().cycle();
    // An operation the service refuses (its parent was deleted meanwhile) fails that
    // link's pass from there on, as a failed write does.
    let (mut a_failed, mut b_failed) = (false, false);
    loop {
        let first = *turns.next().unwrap_or(&true);
        let next: Option<(&Operation, bool)> = if first {
            queue_a
                .next()
                .map(|op| (op, true))
                .or_else(|| queue_b.next().map(|op| (op, false)))
        } else {
            queue_b
                .next()
                .map(|op| (op, false))
                .or_else(|| queue_a.next().map(|op| (op, true)))
        };
        let Some((op, of_a)) = next else { break };
        let (failed, exports) = if of_a {
            (&mut a_failed, &exports_a)
        } else {
            (&mut b_failed, &exports_b)
        };
        if *failed {
            continue;
        }
        let api_write = matches!(
            op,
            Operation::UpsertApi { .. }
                | Operation::WriteApiMarker { .. }
                | Operation::LeaveSharedApi { .. }
        );
        if conditions_ignored
            && api_write
            && let Some(api) = op.api().and_then(|name| sim.apis.get_mut(name))
        {
            api.props = seen
                .get(op.api().unwrap_or_default())
                .cloned()
                .unwrap_or(serde_json::Value::Null);
        }
        if sim.apply(op, exports).is_err() {
            *failed = true;
        }
    }
    Ok(())
}

#[test]
fn two_stages_share_one_api_with_a_deployment_each_and_prod_decides_its_title() {
    let dev = stage("stages/dev", EnvironmentKind::Development);
    let prod = stage("stages/prod", EnvironmentKind::Production);
    let dev_apim = apim_of(
        &[StageApi {
            logical: 0,
            title: "Orders (dev)".into(),
            versions: [0, 1].into(),
            description: None,
        }],
        0,
    );
    let prod_apim = apim_of(
        &[StageApi {
            logical: 0,
            title: "Orders".into(),
            versions: [0].into(),
            description: None,
        }],
        0,
    );
    let mut sim = Sim::default();
    run_pass(&mut sim, &dev, &dev_apim, LIGHT).unwrap();
    run_pass(&mut sim, &prod, &prod_apim, LIGHT).unwrap();
    let links = [(&dev, &dev_apim), (&prod, &prod_apim)];
    check_all(&sim, &links).unwrap();
    let orders = &sim.apis[&shared_api_name("orders")];
    assert_eq!(sim.apis.len(), 1, "one API for both stages");
    assert_eq!(
        orders.props["title"], "Orders",
        "production decides the title"
    );
    assert_eq!(shares(&orders.props).len(), 2);
    assert_eq!(
        orders.versions.len(),
        2,
        "versions are the union of the stages'"
    );
    assert_eq!(
        orders.versions[&version_name(Some("v1"))].definitions.len(),
        1,
        "the same content from two stages is one definition"
    );
    assert_eq!(
        orders.deployments.len(),
        3,
        "dev deploys v1 and v2, prod v1"
    );
    for (settings, apim) in links {
        let steady = run_pass(&mut sim, settings, apim, LIGHT).unwrap();
        assert!(
            steady.plan.operations.is_empty(),
            "{:?}",
            steady.plan.operations
        );
        assert!(steady.details_read.is_empty());
    }

    // Dev's content changes: its own definition, prod's stays where it is.
    let dev_changed = ApimModel {
        content_salt: 1,
        ..dev_apim.clone()
    };
    run_pass(&mut sim, &dev, &dev_changed, Coverage::Everything).unwrap();
    let links = [(&dev, &dev_changed), (&prod, &prod_apim)];
    check_all(&sim, &links).unwrap();
    assert_eq!(
        sim.apis[&shared_api_name("orders")].versions[&version_name(Some("v1"))]
            .definitions
            .len(),
        2
    );

    // Dev goes: prod keeps its version, definition and deployment; dev's are gone.
    remove_link(&mut sim, &dev).unwrap();
    check_link(&sim, &prod, &prod_apim).unwrap();
    let orders = &sim.apis[&shared_api_name("orders")];
    assert_eq!(orders.deployments.len(), 1);
    assert_eq!(orders.versions.len(), 1, "v2 only dev served");
    assert_eq!(
        orders.versions[&version_name(Some("v1"))].definitions.len(),
        1
    );
    assert_eq!(shares(&orders.props).len(), 1);
    settle(&mut sim, &[(&prod, &prod_apim)], 3).unwrap();
    check_all(&sim, &[(&prod, &prod_apim)]).unwrap();

    // Prod goes too: the API goes with its last link.
    remove_link(&mut sim, &prod).unwrap();
    assert!(sim.apis.is_empty());
}

#[test]
fn a_link_scoped_api_of_the_same_name_is_never_joined() {
    let prod = stage("stages/prod", EnvironmentKind::Production);
    let apim = apim_of(
        &[StageApi {
            logical: 1,
            title: "Payments".into(),
            versions: BTreeSet::new(),
            description: None,
        }],
        0,
    );
    let mut sim = Sim::default();
    let name = shared_api_name("payments");
    sim.apis.insert(
        name.clone(),
        support::sim::SimApi {
            props: serde_json::json!({"title": "Curated by hand", "kind": "rest"}),
            ..Default::default()
        },
    );
    let pass = run_pass(&mut sim, &prod, &apim, LIGHT).unwrap();
    assert!(
        pass.plan
            .warnings
            .iter()
            .any(|w| format!("{w:?}").contains("Conflict"))
    );
    assert_eq!(sim.apis[&name].props["title"], "Curated by hand");
    assert!(matches!(
        api_ownership(&prod, &name, &sim.apis[&name].props),
        Ownership::Unmarked
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Passes one after the other, in any order of stages: one pass each converges,
    /// the next writes nothing, and removing either link keeps the other's intact.
    #[test]
    fn stages_converge_in_turn_and_leave_each_other_intact(
        dev_apim in arb_apim(),
        prod_apim in arb_apim(),
        prod_first in any::<bool>(),
        remove_dev in any::<bool>(),
    ) {
        let dev = stage("stages/dev", EnvironmentKind::Development);
        let prod = stage("stages/prod", EnvironmentKind::Production);
        let mut links = vec![(&dev, &dev_apim), (&prod, &prod_apim)];
        if prod_first {
            links.reverse();
        }
        let mut sim = Sim::default();
        for (settings, apim) in &links {
            run_pass(&mut sim, settings, apim, LIGHT).map_err(TestCaseError::fail)?;
        }
        check_all(&sim, &links).map_err(TestCaseError::fail)?;
        let before = sim.writes;
        for (settings, apim) in &links {
            run_pass(&mut sim, settings, apim, LIGHT).map_err(TestCaseError::fail)?;
        }
        prop_assert_eq!(sim.writes, before, "a steady pass writes nothing");

        let (gone, kept) = if remove_dev == prod_first { (links[1], links[0]) } else { (links[0], links[1]) };
        remove_link(&mut sim, gone.0).map_err(TestCaseError::fail)?;
        check_link(&sim, kept.0, kept.1).map_err(TestCaseError::fail)?;
        settle(&mut sim, &[kept], 3).map_err(TestCaseError::fail)?;
        check_all(&sim, &[kept]).map_err(TestCaseError::fail)?;
    }

    /// Both stages plan on the same API Center and their operations run interleaved in
    /// any order, each pass possibly dying part-way: the next passes converge with
    /// nothing duplicated and nothing left over.
    #[test]
    fn concurrent_passes_cut_anywhere_converge_without_duplicates(
        dev_apim in arb_apim(),
        test_apim in arb_apim(),
        turns in proptest::collection::vec(any::<bool>(), 1..24),
        limits in (0usize..40, 0usize..40),
        crash_first in any::<bool>(),
        conditions_ignored in any::<bool>(),
    ) {
        let dev = stage("stages/dev", EnvironmentKind::Development);
        let test = stage("stages/test", EnvironmentKind::Testing);
        let mut sim = Sim::default();
        if crash_first {
            // A pass of each that died earlier leaves half-made shares behind.
            run_pass_prefix(&mut sim, &dev, &dev_apim, LIGHT, limits.1 / 2).map_err(TestCaseError::fail)?;
        }
        interleave(&mut sim, (&dev, &dev_apim), (&test, &test_apim), &turns, limits, conditions_ignored)
            .map_err(TestCaseError::fail)?;
        let links = [(&dev, &dev_apim), (&test, &test_apim)];
        settle(&mut sim, &links, 4).map_err(TestCaseError::fail)?;
        check_all(&sim, &links).map_err(TestCaseError::fail)?;
    }

    /// Removal of one link racing a pass of the other: whatever the order, the other
    /// link's next pass brings back anything it lost and nothing of the removed link
    /// stays.
    #[test]
    fn removal_racing_a_pass_of_the_other_link_settles(
        dev_apim in arb_apim(),
        prod_apim in arb_apim(),
        changed_prod in arb_apim(),
        turns in proptest::collection::vec(any::<bool>(), 1..24),
    ) {
        let dev = stage("stages/dev", EnvironmentKind::Development);
        let prod = stage("stages/prod", EnvironmentKind::Production);
        let mut sim = Sim::default();
        let links = [(&dev, &dev_apim), (&prod, &prod_apim)];
        settle(&mut sim, &links, 3).map_err(TestCaseError::fail)?;
        // Dev's cleanup and prod's pass over a changed APIM, planned on the same state.
        let listed = sim.observe(&dev, &[]);
        let owned = owned_api_names(&dev, &listed);
        let cleanup = cleanup_plan(&dev, &sim.observe(&dev, &owned)).operations;
        let desired = desired_state(&prod, &changed_prod.observed());
        let listed = sim.observe(&prod, &[]);
        let details = apilink_core::details_needed(&prod, &desired, &listed, LIGHT);
        let observed = sim.observe(&prod, &details);
        let requests = apilink_core::exports_needed(&prod, &desired, &observed, LIGHT);
        let exports = changed_prod.export(&requests);
        let pass = apilink_core::plan(&prod, &desired, &exports, &observed).operations;
        let (mut c, mut p) = (cleanup.iter(), pass.iter());
        let mut turns = turns.iter().cycle();
        let mut prod_failed = false;
        loop {
            let next = if *turns.next().unwrap_or(&true) { c.next().map(|o| (o, true)) } else { None }
                .or_else(|| p.next().map(|o| (o, false)))
                .or_else(|| c.next().map(|o| (o, true)));
            let Some((op, cleanup_op)) = next else { break };
            if cleanup_op {
                let _ = sim.apply(op, &Default::default());
            } else if !prod_failed && sim.apply(op, &exports).is_err() {
                prod_failed = true;
            }
        }
        // The finalizer runs until it finds nothing left, as the controller's does.
        remove_link(&mut sim, &dev).map_err(TestCaseError::fail)?;
        // Content changes show at the next resync of each API.
        run_pass(&mut sim, &prod, &changed_prod, Coverage::Everything).map_err(TestCaseError::fail)?;
        let kept = [(&prod, &changed_prod)];
        settle(&mut sim, &kept, 4).map_err(TestCaseError::fail)?;
        check_link(&sim, &prod, &changed_prod).map_err(TestCaseError::fail)?;
        check_titles(&sim, &kept).map_err(TestCaseError::fail)?;
        // A version both links stopped serving while planning on the same state each
        // left to the other; with nothing under it, nothing tells it from a version a
        // person made (versions carry no record), so it stays.
        check_no_strays(&sim, &kept, true).map_err(TestCaseError::fail)?;
        let dev_env = sim.environments.contains_key(&dev.environment_name);
        prop_assert!(!dev_env, "the removed link's environment is gone");
        let names: BTreeMap<&String, usize> = sim.apis.iter().map(|(n, a)| (n, shares(&a.props).len())).collect();
        prop_assert!(names.values().all(|n| *n == 1), "only prod's shares remain: {names:?}");
    }
}
