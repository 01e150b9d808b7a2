//! Property tests: idempotence, one-pass convergence from arbitrary API Center states
//! (empty, crashed mid-pass, drifted, holding foreign entities), ownership and
//! field-ownership invariants, and name validity/uniqueness.

#![allow(clippy::unwrap_used)]
mod support;

use std::collections::BTreeSet;

use apilink_core::ids::{ApimApiRef, LinkId, SourceKey};
use apilink_core::mapping::desired_state;
use apilink_core::marker::read_api_marker;
use apilink_core::naming::{
    api_name, deployment_name, environment_name, is_valid_name, version_name,
};
use apilink_core::observed::{ApimApi, ApimHostname, ApimService};
use apilink_core::resync_window::Coverage;
use apilink_core::spec::{FilterSpec, ImportSpecification, LinkSettings};
use proptest::prelude::*;
use serde_json::json;
use support::apim::{ApimModel, set, version_set_id};
use support::sim::{Sim, SimApi, SimVersion, check_converged, run_pass, run_pass_prefix};
use support::{settings_for, spec};

/// A light pass without a resync window, and a full resync.
const LIGHT: Coverage = Coverage::Changed;
const FULL: Coverage = Coverage::Everything;

const IDS: &[&str] = &[
    "echo-api", "my_api", "v1.0", "a", "Echo-Api", "petstore", "ünï", "b-c", "x.y_z",
];
const VERSIONS: &[&str] = &[
    "",
    "v1",
    "v2",
    "1.0",
    "1-0",
    "2024-01-01",
    "V2",
    "v1.0",
    "beta",
];
const TYPES: &[Option<&str>] = &[
    None,
    Some("http"),
    Some("soap"),
    Some("graphql"),
    Some("websocket"),
    Some("grpc"),
    Some("odata"),
];

fn arb_title() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z ]{1,20}", "[a-zé日本]{45,70}", Just(String::new()),]
}

fn arb_path() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z]{0,12}", 1 => "[a-z]{185,195}"]
}

#[derive(Debug, Clone)]
struct ApiSeed {
    id: usize,
    title: String,
    path: String,
    api_type: usize,
    revision: u8,
    extra_revision: bool,
    workspace: u8,
    description: Option<String>,
}

fn arb_api_seed() -> impl Strategy<Value = ApiSeed> {
    (
        0..IDS.len(),
        arb_title(),
        arb_path(),
        0..TYPES.len(),
        1u8..3,
        any::<bool>(),
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        proptest::option::of("[a-z ]{0,30}"),
    )
        .prop_map(
            |(id, title, path, api_type, revision, extra_revision, workspace, description)| {
                ApiSeed {
                    id,
                    title,
                    path,
                    api_type,
                    revision,
                    extra_revision,
                    workspace,
                    description,
                }
            },
        )
}

fn to_api(seed: &ApiSeed, id: String, version: Option<(&str, &str)>) -> Vec<ApimApi> {
    let workspace = match seed.workspace {
        1 => Some("w1".to_string()),
        2 => Some("w2".to_string()),
        _ => None,
    };
    let current = ApimApi {
        workspace,
        name: id.clone(),
        display_name: seed.title.clone(),
        description: seed.description.clone(),
        path: seed.path.clone(),
        api_type: TYPES[seed.api_type].map(str::to_string),
        api_revision: Some(seed.revision.to_string()),
        is_current: true,
        api_version: version.map(|(_, v)| v.to_string()),
        api_version_set_id: version.map(|(set, _)| version_set_id(set)),
        ..ApimApi::default()
    };
    let mut out = vec![current.clone()];
    if seed.extra_revision {
        out.push(ApimApi {
            name: format!("{id};rev=9"),
            display_name: "draft".into(),
            api_revision: Some("9".into()),
            is_current: false,
            ..current
        });
    }
    out
}

fn arb_service() -> impl Strategy<Value = ApimService> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![6 => Just(true), 1 => Just(false)],
        "[a-z]{3,8}",
    )
        .prop_map(|(custom, portal, gateway, host)| ApimService {
            gateway_url: gateway.then(|| format!("https://{host}.azure-api.net")),
            developer_portal_url: portal.then(|| format!("https://{host}.developer.azure-api.net")),
            management_portal_url: Some(format!("https://portal.azure.com/#resource/{host}")),
            hostnames: if custom {
                vec![ApimHostname {
                    kind: "Proxy".into(),
                    host_name: format!("api.{host}.example"),
                    default_ssl_binding: true,
                }]
            } else {
                Vec::new()
            },
            workspace_gateways: Default::default(),
        })
}

fn arb_apim() -> impl Strategy<Value = ApimModel> {
    let plain = proptest::collection::vec(arb_api_seed(), 0..5);
    let sets = proptest::collection::vec(
        (
            0..IDS.len(),
            arb_title(),
            proptest::collection::vec((arb_api_seed(), 0..VERSIONS.len()), 1..4),
            any::<bool>(),
        ),
        0..3,
    );
    (arb_service(), plain, sets, 0u8..2).prop_map(|(service, plain, sets, content_salt)| {
        let mut apis = Vec::new();
        for seed in &plain {
            apis.extend(to_api(seed, IDS[seed.id].to_string(), None));
        }
        let mut version_sets = Vec::new();
        for (i, (set_id, title, members, segment)) in sets.iter().enumerate() {
            let set_name = format!("{}-vs{i}", IDS[*set_id]);
            version_sets.push(set(&set_name, title, segment.then_some("Segment")));
            for (j, (seed, version)) in members.iter().enumerate() {
                let mut seed = seed.clone();
                seed.workspace = 0;
                apis.extend(to_api(
                    &seed,
                    format!("{set_name}-m{j}"),
                    Some((&set_name, VERSIONS[*version])),
                ));
            }
        }
        ApimModel {
            service,
            apis,
            version_sets,
            content_salt,
        }
    })
}

fn arb_settings() -> impl Strategy<Value = LinkSettings> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(never, named_env, filtered)| {
        let filter = if filtered {
            FilterSpec {
                include: vec!["*".into()],
                exclude: vec!["*_api".into(), "x*".into()],
            }
        } else {
            FilterSpec::default()
        };
        let import = if never {
            ImportSpecification::Never
        } else {
            ImportSpecification::Always
        };
        settings_for(
            "ns/a",
            &spec(import, named_env.then_some("payments-env"), filter),
        )
    })
}

/// Things that happen to API Center between passes.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteApi(usize),
    DeleteVersion(usize, usize),
    DeleteDefinition(usize, usize),
    DeleteDeployment(usize, usize),
    RemoveSpecification(usize, usize),
    EditApiTitle(usize),
    EditVersionTitle(usize, usize),
    EditRuntimeUri(usize, usize),
    CurateApi(usize),
    CurateVersionStage(usize, usize),
    CurateEnvironment,
    UnknownMember(usize),
    AddUserVersion(usize),
    AddUserDeployment(usize),
    AddForeignApi(usize),
    AddOtherLinkApi(usize),
    /// A person copies an owned API's custom properties (record included) onto an API
    /// of their own.
    CopyRecord(usize),
    StealDesiredName(usize),
    OtherLinkHoldsDesiredName(usize),
    ForeignEnvironment,
    StaleMarkerEntry(usize),
    DeleteEnvironment,
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let i = 0usize..16;
    prop_oneof![
        i.clone().prop_map(Mutation::DeleteApi),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::DeleteVersion(a, b)),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::DeleteDefinition(a, b)),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::DeleteDeployment(a, b)),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::RemoveSpecification(a, b)),
        i.clone().prop_map(Mutation::EditApiTitle),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::EditVersionTitle(a, b)),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::EditRuntimeUri(a, b)),
        i.clone().prop_map(Mutation::CurateApi),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::CurateVersionStage(a, b)),
        Just(Mutation::CurateEnvironment),
        i.clone().prop_map(Mutation::UnknownMember),
        i.clone().prop_map(Mutation::AddUserVersion),
        i.clone().prop_map(Mutation::AddUserDeployment),
        i.clone().prop_map(Mutation::AddForeignApi),
        i.clone().prop_map(Mutation::AddOtherLinkApi),
        i.clone().prop_map(Mutation::CopyRecord),
        i.clone().prop_map(Mutation::StealDesiredName),
        i.clone().prop_map(Mutation::OtherLinkHoldsDesiredName),
        Just(Mutation::ForeignEnvironment),
        i.clone().prop_map(Mutation::StaleMarkerEntry),
        Just(Mutation::DeleteEnvironment),
    ]
}

fn nth_key<V>(map: &std::collections::BTreeMap<String, V>, i: usize) -> Option<String> {
    (!map.is_empty())
        .then(|| map.keys().nth(i % map.len()).cloned())
        .flatten()
}

/// Applies a mutation; user-owned facts it creates are what later checks rely on.
fn mutate(sim: &mut Sim, settings: &LinkSettings, apim: &ApimModel, m: &Mutation) {
    let desired = desired_state(settings, &apim.observed());
    match m {
        Mutation::DeleteApi(i) => {
            if let Some(k) = nth_key(&sim.apis, *i) {
                sim.apis.remove(&k);
            }
        }
        Mutation::DeleteVersion(i, j)
        | Mutation::DeleteDefinition(i, j)
        | Mutation::RemoveSpecification(i, j)
        | Mutation::EditVersionTitle(i, j)
        | Mutation::CurateVersionStage(i, j) => {
            let Some(k) = nth_key(&sim.apis, *i) else {
                return;
            };
            let api = sim.apis.get_mut(&k).expect("key");
            let Some(v) = nth_key(&api.versions, *j) else {
                return;
            };
            let version = api.versions.get_mut(&v).expect("key");
            match m {
                Mutation::DeleteVersion(..) => {
                    api.versions.remove(&v);
                }
                Mutation::EditVersionTitle(..) => version.props["title"] = json!("edited"),
                Mutation::CurateVersionStage(..) => {
                    version.props["lifecycleStage"] = json!("deprecated")
                }
                _ => {
                    let Some(d) = nth_key(&version.definitions, 0) else {
                        return;
                    };
                    if matches!(m, Mutation::DeleteDefinition(..)) {
                        version.definitions.remove(&d);
                    } else if let Some(def) = version.definitions.get_mut(&d) {
                        if let Some(o) = def.props.as_object_mut() {
                            o.remove("specification");
                        }
                        def.imported = None;
                    }
                }
            }
        }
        Mutation::DeleteDeployment(i, j) | Mutation::EditRuntimeUri(i, j) => {
            let Some(k) = nth_key(&sim.apis, *i) else {
                return;
            };
            let api = sim.apis.get_mut(&k).expect("key");
            let Some(d) = nth_key(&api.deployments, *j) else {
                return;
            };
            if matches!(m, Mutation::DeleteDeployment(..)) {
                api.deployments.remove(&d);
            } else if let Some(dep) = api.deployments.get_mut(&d) {
                dep["server"] = json!({"runtimeUri": ["https://elsewhere.example/x"]});
                dep["description"] = json!("user note");
            }
        }
        Mutation::EditApiTitle(i)
        | Mutation::CurateApi(i)
        | Mutation::UnknownMember(i)
        | Mutation::StaleMarkerEntry(i) => {
            let Some(k) = nth_key(&sim.apis, *i) else {
                return;
            };
            let props = &mut sim.apis.get_mut(&k).expect("key").props;
            match m {
                Mutation::EditApiTitle(_) => props["title"] = json!("edited in API Center"),
                Mutation::CurateApi(_) => {
                    props["summary"] = json!("curated summary");
                    props["externalDocumentation"] =
                        json!([{"title": "docs", "url": "https://docs.example"}]);
                    if let Some(cp) = props
                        .get_mut("customProperties")
                        .and_then(|c| c.as_object_mut())
                    {
                        cp.insert("team".into(), json!("payments"));
                    } else {
                        props["customProperties"] = json!({"team": "payments"});
                    }
                }
                Mutation::UnknownMember(_) => props["serviceAddedField"] = json!({"x": 1}),
                _ => {
                    if let Some(record) = props
                        .pointer("/customProperties/apilink-ownership")
                        .and_then(|r| r.as_str())
                        .map(str::to_string)
                    {
                        props["customProperties"]["apilink-ownership"] =
                            json!(format!("{record} gone-v/openapi@0000000000000000+"));
                    }
                }
            }
        }
        Mutation::CurateEnvironment => {
            if let Some(env) = sim.environments.get_mut(&settings.environment_name) {
                env["title"] = json!("Curated title");
                env["onboarding"]["instructions"] = json!("ask the team");
            }
        }
        Mutation::AddUserVersion(i) | Mutation::AddUserDeployment(i) => {
            let Some(k) = nth_key(&sim.apis, *i) else {
                return;
            };
            let api = sim.apis.get_mut(&k).expect("key");
            if matches!(m, Mutation::AddUserVersion(_)) {
                api.versions.insert(
                    "user-v".into(),
                    SimVersion {
                        props: json!({"title": "user", "lifecycleStage": "testing"}),
                        ..Default::default()
                    },
                );
            } else {
                api.deployments
                    .insert("user-dep".into(), json!({"title": "user deployment"}));
            }
        }
        Mutation::AddForeignApi(i) => {
            sim.apis.insert(
                format!("hand-made-{i}"),
                SimApi {
                    props: json!({"title": "hand made", "kind": "rest"}),
                    ..Default::default()
                },
            );
        }
        Mutation::AddOtherLinkApi(i) => {
            sim.apis.insert(format!("other-link-{i}"), SimApi {
                props: json!({"title": "other", "kind": "rest", "customProperties": {"apilink": {"link": "ns/b", "source": "apis/echo-api", "versions": {}}}}),
                ..Default::default()
            });
        }
        Mutation::CopyRecord(i) => {
            let owned: Vec<serde_json::Value> = sim
                .apis
                .values()
                .filter_map(|a| a.props.get("customProperties").cloned())
                .collect();
            if !owned.is_empty() {
                sim.apis.insert(
                    format!("copy-{i}"),
                    SimApi {
                        props: json!({"title": "my copy", "kind": "rest",
                        "customProperties": owned[i % owned.len()].clone()}),
                        ..Default::default()
                    },
                );
            }
        }
        Mutation::StealDesiredName(i) | Mutation::OtherLinkHoldsDesiredName(i) => {
            if !desired.apis.is_empty() {
                let name = desired.apis[i % desired.apis.len()].name.clone();
                let mut props = json!({"title": "squatter", "kind": "rest"});
                if matches!(m, Mutation::OtherLinkHoldsDesiredName(_)) {
                    props["customProperties"] =
                        json!({"apilink-ownership": "apilink/2 link=ns/b src=apis/x"});
                }
                sim.apis.insert(
                    name,
                    SimApi {
                        props,
                        ..Default::default()
                    },
                );
            }
        }
        Mutation::ForeignEnvironment => {
            sim.environments.insert(
                settings.environment_name.clone(),
                json!({"title": "theirs", "kind": "testing"}),
            );
        }
        Mutation::DeleteEnvironment => {
            sim.environments.remove(&settings.environment_name);
        }
    }
}

/// Where a user-owned value lives.
#[derive(Debug, Clone)]
enum Holder {
    /// An API the link does not own (whole properties and child counts).
    ForeignApi(String),
    /// A member of an owned API's properties.
    OwnedApi(String, &'static str),
    /// `customProperties.team` of an owned API.
    OwnedApiTeam(String),
    /// The lifecycle stage of a version of an owned API.
    VersionStage(String, String),
    UserVersion(String),
    UserDeployment(String),
    Environment(&'static str),
    EnvironmentInstructions,
}

impl Holder {
    fn read(&self, sim: &Sim, settings: &LinkSettings) -> Option<serde_json::Value> {
        let env = || sim.environments.get(&settings.environment_name);
        match self {
            Holder::ForeignApi(n) => sim.apis.get(n).map(|a| {
                json!({"props": a.props, "versions": a.versions.len(), "deployments": a.deployments.len()})
            }),
            Holder::OwnedApi(n, key) => sim.apis.get(n)?.props.get(*key).cloned(),
            Holder::OwnedApiTeam(n) => sim.apis.get(n)?.props.pointer("/customProperties/team").cloned(),
            Holder::VersionStage(n, v) => sim.apis.get(n)?.versions.get(v)?.props.get("lifecycleStage").cloned(),
            Holder::UserVersion(n) => sim.apis.get(n)?.versions.get("user-v").map(|v| v.props.clone()),
            Holder::UserDeployment(n) => sim.apis.get(n)?.deployments.get("user-dep").cloned(),
            Holder::Environment(key) => env()?.get(*key).cloned(),
            Holder::EnvironmentInstructions => env()?.pointer("/onboarding/instructions").cloned(),
        }
    }

    /// Whether the link may legitimately have removed the holder: an owned API no longer
    /// wanted goes with everything under it; an owned version APIM dropped goes too.
    fn may_vanish(&self, sim: &Sim, wanted: &BTreeSet<String>) -> bool {
        let api_gone = |n: &String| !sim.apis.contains_key(n) && !wanted.contains(n);
        match self {
            Holder::ForeignApi(_) | Holder::Environment(_) | Holder::EnvironmentInstructions => {
                false
            }
            Holder::OwnedApi(n, _)
            | Holder::OwnedApiTeam(n)
            | Holder::UserVersion(n)
            | Holder::UserDeployment(n) => api_gone(n),
            Holder::VersionStage(n, v) => {
                api_gone(n) || sim.apis.get(n).is_some_and(|a| !a.versions.contains_key(v))
            }
        }
    }
}

/// Snapshot of everything the link must never change: foreign APIs, and user-added /
/// curated content of owned entities.
fn user_facts(sim: &Sim, settings: &LinkSettings) -> Vec<(Holder, serde_json::Value)> {
    let mut holders = Vec::new();
    for (name, api) in &sim.apis {
        if read_api_marker(name, &api.props, &settings.link).is_owned() {
            for key in ["summary", "externalDocumentation", "serviceAddedField"] {
                holders.push(Holder::OwnedApi(name.clone(), key));
            }
            holders.push(Holder::OwnedApiTeam(name.clone()));
            holders.push(Holder::UserVersion(name.clone()));
            holders.push(Holder::UserDeployment(name.clone()));
            for v in api.versions.keys() {
                holders.push(Holder::VersionStage(name.clone(), v.clone()));
            }
        } else {
            holders.push(Holder::ForeignApi(name.clone()));
        }
    }
    for key in ["title", "kind", "description"] {
        holders.push(Holder::Environment(key));
    }
    holders.push(Holder::EnvironmentInstructions);
    holders
        .into_iter()
        .filter_map(|h| h.read(sim, settings).map(|v| (h, v)))
        .collect()
}

fn check_user_facts_kept(
    before: &[(Holder, serde_json::Value)],
    sim: &Sim,
    settings: &LinkSettings,
    apim: &ApimModel,
) -> Result<(), String> {
    let wanted: BTreeSet<String> = desired_state(settings, &apim.observed())
        .apis
        .into_iter()
        .map(|a| a.name)
        .collect();
    for (holder, value) in before {
        match holder.read(sim, settings) {
            Some(v) if v == *value => {}
            Some(v) => return Err(format!("user-owned {holder:?} changed: {value} -> {v}")),
            None if holder.may_vanish(sim, &wanted) => {}
            None => return Err(format!("user-owned {holder:?} disappeared")),
        }
    }
    Ok(())
}

/// One full-resync pass from `sim` must converge; a second pass (light or full) is empty.
fn assert_converges(
    sim: &mut Sim,
    settings: &LinkSettings,
    apim: &ApimModel,
) -> Result<(), TestCaseError> {
    let facts = user_facts(sim, settings);
    run_pass(sim, settings, apim, FULL).map_err(TestCaseError::fail)?;
    check_converged(sim, settings, apim).map_err(TestCaseError::fail)?;
    check_user_facts_kept(&facts, sim, settings, apim).map_err(TestCaseError::fail)?;
    let light = run_pass(sim, settings, apim, LIGHT).map_err(TestCaseError::fail)?;
    prop_assert!(
        light.plan.is_empty(),
        "light pass after convergence:\n{}",
        light.plan
    );
    prop_assert!(
        light.details_read.is_empty(),
        "steady state read details: {:?}",
        light.details_read
    );
    prop_assert_eq!(light.exports, 0, "steady state exported");
    let full = run_pass(sim, settings, apim, FULL).map_err(TestCaseError::fail)?;
    prop_assert!(
        full.plan.is_empty(),
        "full pass after convergence:\n{}",
        full.plan
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// (a) applying a plan then planning again yields nothing, from empty, light passes only.
    #[test]
    fn idempotent_from_empty(apim in arb_apim(), settings in arb_settings()) {
        let mut sim = Sim::default();
        run_pass(&mut sim, &settings, &apim, LIGHT).map_err(TestCaseError::fail)?;
        check_converged(&sim, &settings, &apim).map_err(TestCaseError::fail)?;
        let again = run_pass(&mut sim, &settings, &apim, LIGHT).map_err(TestCaseError::fail)?;
        prop_assert!(again.plan.is_empty(), "{}", again.plan);
        prop_assert!(again.details_read.is_empty());
        prop_assert_eq!(again.exports, 0);
    }

    /// (b) APIM changed (list-visible changes): one light pass converges.
    #[test]
    fn light_pass_converges_after_apim_changes(
        before in arb_apim(), after in arb_apim(), settings in arb_settings(),
    ) {
        let mut sim = Sim::default();
        run_pass(&mut sim, &settings, &before, LIGHT).map_err(TestCaseError::fail)?;
        // Content changes without a list change are the full resync's job.
        let after = ApimModel { content_salt: before.content_salt, ..after };
        run_pass(&mut sim, &settings, &after, LIGHT).map_err(TestCaseError::fail)?;
        check_converged(&sim, &settings, &after).map_err(TestCaseError::fail)?;
        let again = run_pass(&mut sim, &settings, &after, LIGHT).map_err(TestCaseError::fail)?;
        prop_assert!(again.plan.is_empty(), "{}", again.plan);
    }

    /// (b) a pass that died after any prefix is repaired by the next light pass.
    #[test]
    fn crash_at_any_point_is_repaired(
        before in arb_apim(), after in arb_apim(), settings in arb_settings(), cut in 0.0f64..1.0,
    ) {
        let mut sim = Sim::default();
        run_pass(&mut sim, &settings, &before, LIGHT).map_err(TestCaseError::fail)?;
        let after = ApimModel { content_salt: before.content_salt, ..after };
        let total = run_pass(&mut sim.clone(), &settings, &after, LIGHT).map_err(TestCaseError::fail)?.plan.operations.len();
        let k = (total as f64 * cut) as usize;
        run_pass_prefix(&mut sim, &settings, &after, LIGHT, k).map_err(TestCaseError::fail)?;
        run_pass(&mut sim, &settings, &after, LIGHT).map_err(TestCaseError::fail)?;
        check_converged(&sim, &settings, &after).map_err(|e| TestCaseError::fail(format!("cut at {k}/{total}: {e}")))?;
        let again = run_pass(&mut sim, &settings, &after, LIGHT).map_err(TestCaseError::fail)?;
        prop_assert!(again.plan.is_empty(), "cut at {}/{}:\n{}", k, total, again.plan);
    }

    /// (b)(c)(d) from a drifted state with foreign entities, user curation and a crashed
    /// pass, one full resync converges, never touches what the link does not own and
    /// never changes an API Center-owned field (checked by the simulator on every write).
    #[test]
    fn full_resync_converges_from_arbitrary_states(
        before in arb_apim(), after in arb_apim(), settings in arb_settings(),
        mutations in proptest::collection::vec(arb_mutation(), 0..8),
        cut in proptest::option::of(0.0f64..1.0),
        normalise in any::<bool>(),
    ) {
        let mut sim = Sim { normalise_server_type: normalise, ..Sim::default() };
        run_pass(&mut sim, &settings, &before, LIGHT).map_err(TestCaseError::fail)?;
        if let Some(cut) = cut {
            let total = run_pass(&mut sim.clone(), &settings, &after, FULL).map_err(TestCaseError::fail)?.plan.operations.len();
            run_pass_prefix(&mut sim, &settings, &after, FULL, (total as f64 * cut) as usize).map_err(TestCaseError::fail)?;
        }
        for m in &mutations {
            mutate(&mut sim, &settings, &after, m);
        }
        assert_converges(&mut sim, &settings, &after)?;
    }

    /// Two links on one API Center never touch each other's entities.
    #[test]
    fn two_links_share_an_api_center(apim in arb_apim(), other in arb_apim()) {
        let a = settings_for("ns/a", &spec(ImportSpecification::Always, None, FilterSpec::default()));
        let b = settings_for("ns/b", &spec(ImportSpecification::Always, None, FilterSpec::default()));
        let mut sim = Sim::default();
        run_pass(&mut sim, &a, &apim, LIGHT).map_err(TestCaseError::fail)?;
        run_pass(&mut sim, &b, &other, LIGHT).map_err(TestCaseError::fail)?;
        check_converged(&sim, &a, &apim).map_err(TestCaseError::fail)?;
        check_converged(&sim, &b, &other).map_err(TestCaseError::fail)?;
        prop_assert!(run_pass(&mut sim, &a, &apim, FULL).map_err(TestCaseError::fail)?.plan.is_empty());
        let cleanup = apilink_core::cleanup_plan(&a, &sim.observe(&a, &[]));
        for op in &cleanup.operations {
            sim.apply(op, &Default::default()).map_err(TestCaseError::fail)?;
        }
        prop_assert!(sim.apis.iter().all(|(n, x)| !read_api_marker(n, &x.props, &a.link).is_owned()));
        check_converged(&sim, &b, &other).map_err(TestCaseError::fail)?;
    }

    /// (e) names are valid and stable.
    #[test]
    fn names_are_valid(link in "[a-z0-9/_.-]{1,60}", id in "\\PC{1,300}", ws in proptest::option::of("[a-z0-9_-]{1,20}"), v in proptest::option::of("\\PC{0,120}")) {
        let link = LinkId::new(link.replace(char::is_whitespace, "x")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let id = id.replace('/', "_");
        let source = SourceKey::Api(ApimApiRef { workspace: ws.clone(), api_id: id.clone() });
        let name = api_name(&link, &source);
        prop_assert!(is_valid_name(&name), "{}", name);
        prop_assert_eq!(&name, &api_name(&link, &source));
        let vs = SourceKey::VersionSet { workspace: ws, id };
        prop_assert!(is_valid_name(&api_name(&link, &vs)));
        let version = version_name(v.as_deref());
        prop_assert!(is_valid_name(&version), "{}", version);
        for def in ["openapi", "wsdl", "graphql", "grpc"] {
            prop_assert!(is_valid_name(&deployment_name(&version, def)));
        }
        prop_assert!(is_valid_name(&environment_name(&link, None)));
    }

    /// (e) distinct inputs give distinct names: versions within an API, APIs across links
    /// and sources.
    #[test]
    fn names_do_not_collide(
        versions in proptest::collection::btree_set("[a-zA-Z0-9._-]{1,12}", 1..30),
        ids in proptest::collection::btree_set("[a-zA-Z0-9._]{1,20}", 1..20),
    ) {
        let names: BTreeSet<String> = versions.iter().map(|v| version_name(Some(v))).collect();
        prop_assert_eq!(names.len(), versions.len());
        let deployments: BTreeSet<String> = names.iter().flat_map(|v| ["openapi", "wsdl"].map(|d| deployment_name(v, d))).collect();
        prop_assert_eq!(deployments.len(), names.len() * 2);
        let links = [LinkId::new("ns/a").expect("id"), LinkId::new("ns/b").expect("id")];
        let mut api_names = BTreeSet::new();
        for link in &links {
            for id in &ids {
                api_names.insert(api_name(link, &SourceKey::Api(ApimApiRef { workspace: None, api_id: id.clone() })));
                api_names.insert(api_name(link, &SourceKey::VersionSet { workspace: None, id: id.clone() }));
                api_names.insert(api_name(link, &SourceKey::Api(ApimApiRef { workspace: Some("w1".into()), api_id: id.clone() })));
            }
        }
        prop_assert_eq!(api_names.len(), ids.len() * 6);
        prop_assert_ne!(environment_name(&links[0], None), environment_name(&links[1], None));
    }
}
