//! Ownership against the emulator over HTTPS: user edits of API Center-owned fields
//! survive every pass, foreign entities are never written, two links share an API
//! Center, narrowing the filter removes only what it excludes, cleanup removes only
//! what the link owns.
#![allow(clippy::unwrap_used)]

mod support;

use apilink_azure::apic::{
    ApiProperties, ApicClient, ApicPath, DeploymentProperties, EnvironmentProperties, Precondition,
};
use apilink_core::marker::ApiMarker;
use apilink_core::operation::Action;
use apilink_core::ownership::EntityKind;
use apilink_core::plan::Warning;
use apilink_emulator::Emulator;
use apilink_emulator::apim::{ApiPatch, OperationSeed};
use apilink_engine::PassMode;
use serde_json::{Map, Value, json};
use support::*;

const WS: &str = "default";

fn apic_client(emulator: &Emulator) -> ApicClient {
    ApicClient::new(
        arm_client(emulator),
        emulator.api_center_resource_id(APIC).parse().unwrap(),
    )
}

fn map(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// The user's curation of the echo API, its version, deployment and the environment.
async fn curate(emulator: &Emulator, echo: &str, env: &str) {
    declare_metadata(
        emulator,
        "team",
        json!({"type": "string"}),
        &[("api", false)],
    )
    .await;
    let apic = apic_client(emulator);
    apic.update_merged(&ApicPath::api(WS, echo).unwrap(), |p| {
        p.summary = Some("Curated summary".into());
        p.custom_properties
            .get_or_insert_with(Map::new)
            .insert("team".into(), json!("platform"));
    })
    .await
    .unwrap();
    apic.update_merged(&ApicPath::version(WS, echo, "original").unwrap(), |p| {
        p.lifecycle_stage = "production".into();
    })
    .await
    .unwrap();
    let deployment = deployments(emulator, echo).into_iter().next().unwrap();
    apic.update_merged(
        &ApicPath::deployment(WS, echo, &deployment).unwrap(),
        |p: &mut DeploymentProperties| {
            p.description = Some("Served from West Europe".into());
        },
    )
    .await
    .unwrap();
    apic.update_merged(&ApicPath::environment(WS, env).unwrap(), |p| {
        p.title = "Contoso production".into();
        p.kind = "staging".into();
    })
    .await
    .unwrap();
}

fn assert_curation_intact(emulator: &Emulator, echo: &str, env: &str, when: &str) {
    let ws = workspace(emulator);
    let api = &ws["apis"][echo]["properties"];
    assert_eq!(api["summary"], "Curated summary", "{when}");
    assert_eq!(api["customProperties"]["team"], "platform", "{when}");
    assert!(
        api["customProperties"]["apilink-ownership"]
            .as_str()
            .is_some_and(|r| r.starts_with("apilink/2 link=")),
        "{when}"
    );
    let version = &ws["apis"][echo]["versions"]["original"]["properties"];
    assert_eq!(version["lifecycleStage"], "production", "{when}");
    let deployment = ws["apis"][echo]["deployments"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["properties"]
        .clone();
    assert_eq!(
        deployment["description"], "Served from West Europe",
        "{when}"
    );
    let environment = &ws["environments"][env]["properties"];
    assert_eq!(environment["title"], "Contoso production", "{when}");
    assert_eq!(environment["kind"], "staging", "{when}");
}

#[tokio::test]
async fn user_edits_of_api_center_owned_fields_survive_every_pass() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/curation", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let echo = api_named(&emulator, "Echo API");
    let env = settings.environment_name.clone();
    curate(&emulator, &echo, &env).await;

    for (i, mode) in [PassMode::Light, PassMode::Full, PassMode::Light]
        .into_iter()
        .enumerate()
    {
        emulator.clear_calls();
        sync(&engine(&emulator), &settings, mode).await;
        assert!(
            writes(&emulator).is_empty(),
            "pass {i}: {:?}",
            writes(&emulator)
        );
        assert_curation_intact(
            &emulator,
            &echo,
            &env,
            &format!("steady pass {i} ({mode:?})"),
        );
    }

    // APIM changes the same API: its APIM-owned fields move, the user's stay.
    emulator
        .apim()
        .update_api(
            APIM,
            None,
            "echo-api",
            &ApiPatch {
                display_name: Some("Echo API (renamed)".into()),
                operations: Some(vec![OperationSeed::Line("GET /echo Echo".into())]),
                ..ApiPatch::default()
            },
        )
        .unwrap();
    for mode in [PassMode::Light, PassMode::Full] {
        sync(&engine(&emulator), &settings, mode).await;
        assert_curation_intact(
            &emulator,
            &echo,
            &env,
            &format!("after an APIM change ({mode:?})"),
        );
    }
    let ws = workspace(&emulator);
    assert_eq!(
        ws["apis"][&echo]["properties"]["title"],
        "Echo API (renamed)"
    );
    assert_eq!(
        ws["apis"][&echo]["versions"]["original"]["properties"]["title"],
        "Echo API (renamed)"
    );
    assert_converged(&emulator, &settings).await;
}

#[tokio::test]
async fn foreign_apis_and_environments_are_never_touched() {
    let emulator = start(config()).await;
    declare_ownership_schema(&emulator).await;
    let apic = apic_client(&emulator);
    // A user's own API, an API another link owns, a user's environment.
    apic.put(
        &ApicPath::api(WS, "partner-api").unwrap(),
        &ApiProperties {
            title: "Echo API".into(),
            kind: "rest".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    apic.put(
        &ApicPath::api(WS, "other-links-api").unwrap(),
        &ApiProperties {
            title: "Petstore".into(),
            kind: "rest".into(),
            custom_properties: Some(map(
                json!({"apilink-ownership": "apilink/2 link=tests/someone-else src=apiVersionSets/petstore"}),
            )),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    apic.put(
        &ApicPath::environment(WS, "staging").unwrap(),
        &EnvironmentProperties {
            title: "Staging".into(),
            kind: "staging".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    let foreign = |ws: &Value| {
        json!({
            "partner": normalized(ws["apis"]["partner-api"].clone()),
            "other": normalized(ws["apis"]["other-links-api"].clone()),
            "staging": normalized(ws["environments"]["staging"].clone()),
        })
    };
    let before = foreign(&workspace(&emulator));
    emulator.clear_calls();

    let settings = settings(&emulator, "tests/foreign", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    emulator
        .apim()
        .delete_api(APIM, None, "weather-soap")
        .unwrap();
    sync(&engine(&emulator), &settings, PassMode::Full).await;
    let narrowed = support::settings(
        &emulator,
        "tests/foreign",
        json!({"filter": {"include": ["*"], "exclude": ["catalog-*"]}}),
    );
    sync(&engine(&emulator), &narrowed, PassMode::Light).await;
    engine(&emulator).cleanup(&narrowed, false).await.unwrap();

    for write in writes(&emulator) {
        assert!(
            !write.contains("/apis/partner-api")
                && !write.contains("/apis/other-links-api")
                && !write.contains("/environments/staging"),
            "a foreign entity was written: {write}"
        );
    }
    let after = workspace(&emulator);
    assert_eq!(foreign(&after), before);
    assert_eq!(
        after["apis"].as_object().unwrap().len(),
        2,
        "only the foreign APIs are left: {:?}",
        after["apis"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_foreign_environment_with_the_links_name_is_left_alone() {
    let emulator = start(config()).await;
    apic_client(&emulator)
        .put(
            &ApicPath::environment(WS, "shared-env").unwrap(),
            &EnvironmentProperties {
                title: "Shared".into(),
                kind: "production".into(),
                ..Default::default()
            },
            Precondition::None,
        )
        .await
        .unwrap();
    emulator.clear_calls();
    let settings = settings(
        &emulator,
        "tests/env-conflict",
        json!({"environment": {"name": "shared-env"}}),
    );
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert!(
        report.warnings.iter().any(|w| matches!(
            w,
            Warning::Conflict {
                entity: EntityKind::Environment,
                ..
            }
        )),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        report
            .counts(EntityKind::Deployment, Action::Create)
            .planned,
        0
    );
    assert!(
        writes(&emulator)
            .iter()
            .all(|w| !w.contains("/environments/"))
    );
    engine(&emulator).cleanup(&settings, false).await.unwrap();
    assert!(workspace(&emulator)["environments"]["shared-env"].is_object());
    assert!(apis(&emulator).is_empty());
}

#[tokio::test]
async fn two_links_into_the_same_api_center_coexist() {
    let emulator = start(config()).await;
    let a = settings(&emulator, "team-a/all", json!({}));
    let b = settings(
        &emulator,
        "team-b/some",
        json!({"filter": {"include": ["echo-api", "petstore"]}}),
    );
    assert_ne!(a.environment_name, b.environment_name);
    sync(&engine(&emulator), &a, PassMode::Light).await;
    sync(&engine(&emulator), &b, PassMode::Light).await;
    sync(&engine(&emulator), &a, PassMode::Full).await;
    assert_converged(&emulator, &a).await;
    assert_converged(&emulator, &b).await;

    let all = apis(&emulator);
    assert_eq!(all.len(), 6, "4 APIs of link A, 2 of link B");
    let owners: Vec<String> = all
        .values()
        .map(|p| {
            let record = p["customProperties"]["apilink-ownership"].as_str().unwrap();
            ApiMarker::decode(record).unwrap().link
        })
        .collect();
    assert_eq!(owners.iter().filter(|o| *o == "team-a/all").count(), 4);
    assert_eq!(owners.iter().filter(|o| *o == "team-b/some").count(), 2);

    emulator.clear_calls();
    for (settings, mode) in [
        (&a, PassMode::Light),
        (&b, PassMode::Light),
        (&a, PassMode::Full),
        (&b, PassMode::Full),
    ] {
        sync(&engine(&emulator), settings, mode).await;
    }
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));

    // An APIM change reaches both copies; removing link A leaves link B whole.
    emulator
        .apim()
        .update_api(
            APIM,
            None,
            "echo-api",
            &ApiPatch {
                description: Some("Now with more echo.".into()),
                ..ApiPatch::default()
            },
        )
        .unwrap();
    sync(&engine(&emulator), &a, PassMode::Light).await;
    sync(&engine(&emulator), &b, PassMode::Light).await;
    let echoes: Vec<Value> = apis(&emulator)
        .into_values()
        .filter(|p| p["title"] == "Echo API")
        .collect();
    assert_eq!(echoes.len(), 2);
    assert!(
        echoes
            .iter()
            .all(|p| p["description"] == "Now with more echo.")
    );

    let before_b = normalized(workspace(&emulator));
    engine(&emulator).cleanup(&a, false).await.unwrap();
    let after = workspace(&emulator);
    assert_eq!(apis(&emulator).len(), 2);
    assert!(after["environments"][&b.environment_name].is_object());
    assert!(after["environments"][&a.environment_name].is_null());
    for (name, api) in after["apis"].as_object().unwrap() {
        assert_eq!(normalized(api.clone()), before_b["apis"][name]);
    }
    assert_converged(&emulator, &b).await;
}

#[tokio::test]
async fn narrowing_the_filter_removes_only_the_excluded_apis() {
    let emulator = start(config()).await;
    let wide = settings(&emulator, "tests/filter", json!({}));
    sync(&engine(&emulator), &wide, PassMode::Light).await;
    let weather = api_named(&emulator, "Weather Service");
    let catalog = api_named(&emulator, "Product Catalog");
    let kept_before: Vec<(String, Value)> = normalized(workspace(&emulator))["apis"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| **name != weather && **name != catalog)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let narrow = settings(
        &emulator,
        "tests/filter",
        json!({"filter": {"include": ["*"], "exclude": ["weather-*", "*-graphql"]}}),
    );
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &narrow, PassMode::Light).await;
    assert_eq!(report.counts(EntityKind::Api, Action::Delete).written, 2);
    let mut written = writes(&emulator);
    written.sort();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written.iter().all(|w| w.starts_with("DELETE ")));
    assert!(
        written
            .iter()
            .any(|w| w.ends_with(&format!("/apis/{weather}")))
    );
    assert!(
        written
            .iter()
            .any(|w| w.ends_with(&format!("/apis/{catalog}")))
    );

    let after = normalized(workspace(&emulator));
    assert_eq!(after["apis"].as_object().unwrap().len(), kept_before.len());
    for (name, api) in kept_before {
        assert_eq!(after["apis"][&name], api, "{name} changed");
    }
    assert_converged(&emulator, &narrow).await;
}

#[tokio::test]
async fn cleanup_dry_run_writes_nothing_and_cleanup_removes_everything_owned() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/cleanup", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    emulator.clear_calls();

    let dry = engine(&emulator).cleanup(&settings, true).await.unwrap();
    assert!(dry.dry_run);
    let plan = dry.plan.unwrap();
    assert_eq!(
        plan.operations.len(),
        5,
        "4 APIs, then the environment:\n{plan}"
    );
    assert!(writes(&emulator).is_empty());

    let report = engine(&emulator).cleanup(&settings, false).await.unwrap();
    assert_eq!(report.counts(EntityKind::Api, Action::Delete).written, 4);
    assert_eq!(
        report
            .counts(EntityKind::Environment, Action::Delete)
            .written,
        1
    );
    let ws = workspace(&emulator);
    assert!(apis(&emulator).is_empty());
    assert!(ws["environments"].as_object().unwrap().is_empty());
    // Deletes went API first, environment last.
    let written = writes(&emulator);
    assert!(
        written.last().unwrap().contains("/environments/"),
        "{written:?}"
    );

    let again = engine(&emulator).cleanup(&settings, false).await.unwrap();
    assert_eq!(again.totals().planned, 0);

    // Orphan leaves Azure as it is.
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let orphan = support::settings(
        &emulator,
        "tests/cleanup",
        json!({"deletionPolicy": "Orphan"}),
    );
    let report = engine(&emulator).cleanup(&orphan, false).await.unwrap();
    assert_eq!(report.totals().planned, 0);
    assert_eq!(apis(&emulator).len(), 4);
}
