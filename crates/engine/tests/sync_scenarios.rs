//! Sync scenarios against the emulator over HTTPS: creates, updates and deletes in APIM
//! converge in one pass; versions, revisions and definitions map as designed; drift is
//! repaired.
#![allow(clippy::unwrap_used)]

mod support;

use apilink_azure::apic::{ApicClient, ApicPath};
use apilink_core::operation::Action;
use apilink_core::ownership::EntityKind;
use apilink_core::plan::DriftKind;
use apilink_emulator::apim::model::ApiType;
use apilink_emulator::apim::{
    ApiPatch, ApiSeed, DefinitionUpdate, OperationSeed, ProxyHostnameSeed, WorkspaceGatewaySeed,
    WorkspaceSeed,
};
use apilink_emulator::{
    ApimHandle, DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION_ID, Emulator, EmulatorConfig,
    FaultKind, FaultRule, Principal, Role, RoleAssignment,
};
use apilink_engine::PassMode;
use serde_json::json;
use support::*;

fn apic_client(emulator: &Emulator) -> ApicClient {
    ApicClient::new(
        arm_client(emulator),
        emulator.api_center_resource_id(APIC).parse().unwrap(),
    )
}

fn apim(emulator: &Emulator) -> ApimHandle {
    emulator.apim()
}

#[tokio::test]
async fn first_pass_creates_everything_and_a_second_pass_writes_nothing() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/first", json!({}));
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert!(report.is_complete());
    // echo, petstore (a version set with two versions), weather (SOAP), catalog (GraphQL).
    assert_eq!(report.apis.discovered, 4);
    assert_eq!(report.counts(EntityKind::Api, Action::Create).written, 4);
    assert_eq!(
        report.counts(EntityKind::Version, Action::Create).written,
        5
    );
    assert_eq!(
        report
            .counts(EntityKind::Definition, Action::Import)
            .written,
        5
    );
    assert_eq!(
        report
            .counts(EntityKind::Deployment, Action::Create)
            .written,
        5
    );
    assert_eq!(report.imports, 5);
    assert_eq!(report.arm.mutations(), writes(&emulator).len() as u64);
    assert_converged(&emulator, &settings).await;

    let petstore = api_named(&emulator, "Petstore");
    assert_eq!(versions(&emulator, &petstore).len(), 2);
    assert_eq!(deployments(&emulator, &petstore).len(), 2);
    let soap = api_named(&emulator, "Weather Service");
    assert_eq!(apis(&emulator)[&soap]["kind"], "soap");
    let graphql = api_named(&emulator, "Product Catalog");
    assert_eq!(apis(&emulator)[&graphql]["kind"], "graphql");
    let sdl = definition_content(&emulator, &graphql, "original").unwrap();
    assert!(sdl.contains("type Product"), "{sdl}");
    let env = &workspace(&emulator)["environments"];
    assert_eq!(env.as_object().unwrap().len(), 1);

    emulator.clear_calls();
    let second = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(second.totals().planned, 0);
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
}

#[tokio::test]
async fn create_update_and_delete_in_apim_each_converge_in_one_pass() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/crud", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;

    // Create.
    let mut billing = ApiSeed::new("billing-api", "Billing");
    billing.path = Some("billing".into());
    billing.operations = vec![OperationSeed::Line("GET /invoices List invoices".into())];
    assert!(apim(&emulator).upsert_api(APIM, None, &billing).unwrap());
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.counts(EntityKind::Api, Action::Create).written, 1);
    assert_converged(&emulator, &settings).await;
    let name = api_named(&emulator, "Billing");
    let content = definition_content(&emulator, &name, "original").unwrap();
    assert!(content.contains("/invoices"), "{content}");
    assert_eq!(deployments(&emulator, &name).len(), 1);

    // Update (API-level fields and the definition, in one APIM change).
    apim(&emulator)
        .update_api(
            APIM,
            None,
            "billing-api",
            &ApiPatch {
                display_name: Some("Billing and invoicing".into()),
                description: Some("Invoices, credit notes.".into()),
                operations: Some(vec![
                    OperationSeed::Line("GET /invoices List invoices".into()),
                    OperationSeed::Line("GET /credit-notes List credit notes".into()),
                ]),
                ..ApiPatch::default()
            },
        )
        .unwrap();
    emulator.clear_calls();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(
        imports(&emulator).len(),
        1,
        "the changed definition is imported once"
    );
    assert_converged(&emulator, &settings).await;
    assert_eq!(api_named(&emulator, "Billing and invoicing"), name);
    assert_eq!(
        apis(&emulator)[&name]["description"],
        "Invoices, credit notes."
    );
    let content = definition_content(&emulator, &name, "original").unwrap();
    assert!(content.contains("/credit-notes"), "{content}");

    // Delete.
    apim(&emulator)
        .delete_api(APIM, None, "billing-api")
        .unwrap();
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.counts(EntityKind::Api, Action::Delete).written, 1);
    assert_converged(&emulator, &settings).await;
    assert!(!apis(&emulator).contains_key(&name));
    assert_eq!(apis(&emulator).len(), 4);
}

#[tokio::test]
async fn a_new_version_in_a_version_set_becomes_a_version_of_the_same_api() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/versions", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let petstore = api_named(&emulator, "Petstore");
    let before = versions(&emulator, &petstore);

    let mut v3 = ApiSeed::new("petstore-v3", "Petstore");
    v3.path = Some("petstore".into());
    v3.version_set = Some("petstore".into());
    v3.version = Some("v3".into());
    v3.operations = vec![OperationSeed::Line("GET /pets List pets".into())];
    apim(&emulator).upsert_api(APIM, None, &v3).unwrap();
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.counts(EntityKind::Api, Action::Create).planned, 0);
    assert_eq!(
        report.counts(EntityKind::Version, Action::Create).written,
        1
    );
    assert_converged(&emulator, &settings).await;

    assert_eq!(api_named(&emulator, "Petstore"), petstore, "still one API");
    let after = versions(&emulator, &petstore);
    assert_eq!(after.len(), 3);
    assert!(before.keys().all(|v| after.contains_key(v)));
    assert_eq!(deployments(&emulator, &petstore).len(), 3);
    // The Segment versioning scheme puts the version in the runtime URI.
    let ws = workspace(&emulator);
    let uris: Vec<String> = ws["apis"][&petstore]["deployments"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| {
            d["properties"]["server"]["runtimeUri"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(uris.iter().any(|u| u.ends_with("/petstore/v3")), "{uris:?}");
}

#[tokio::test]
async fn a_revision_made_current_replaces_the_old_content() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/revisions", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let echo = api_named(&emulator, "Echo API");
    let old = definition_content(&emulator, &echo, "original").unwrap();
    assert!(
        !old.contains("Remove one resource"),
        "revision 2 is not current yet"
    );

    apim(&emulator)
        .make_revision_current(APIM, None, "echo-api", 2)
        .unwrap();
    emulator.clear_calls();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(imports(&emulator).len(), 1);
    assert_converged(&emulator, &settings).await;
    let new = definition_content(&emulator, &echo, "original").unwrap();
    assert!(new.contains("Remove one resource"), "{new}");
    assert_eq!(
        versions(&emulator, &echo).len(),
        1,
        "a revision is not a version"
    );
}

#[tokio::test]
async fn a_changed_definition_is_reimported_exactly_once_and_an_unchanged_one_never() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/definitions", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let weather = api_named(&emulator, "Weather Service");

    // A content-only change leaves no trace in the API list: the full resync finds it.
    apim(&emulator)
        .set_definition(
            APIM,
            None,
            "weather-soap",
            &DefinitionUpdate {
                operations: Some(vec![
                    OperationSeed::Line("GetForecast Get the forecast for a city".into()),
                    OperationSeed::Line("GetWarnings List weather warnings".into()),
                ]),
                content: None,
            },
        )
        .unwrap();
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &settings, PassMode::Full).await;
    let imported = imports(&emulator);
    assert_eq!(imported.len(), 1, "{imported:?}");
    assert!(
        imported[0].contains(&format!("/apis/{weather}/")),
        "{imported:?}"
    );
    assert_eq!(report.exports, 5, "a full resync exports every definition");
    let content = definition_content(&emulator, &weather, "original").unwrap();
    assert!(content.contains("GetWarnings"), "{content}");

    for mode in [PassMode::Full, PassMode::Light, PassMode::Full] {
        emulator.clear_calls();
        let report = sync(&engine(&emulator), &settings, mode).await;
        assert!(
            imports(&emulator).is_empty(),
            "{mode:?}: {:?}",
            imports(&emulator)
        );
        assert!(
            writes(&emulator).is_empty(),
            "{mode:?}: {:?}",
            writes(&emulator)
        );
        assert_eq!(report.imports, 0);
    }
}

#[tokio::test]
async fn drift_in_owned_entities_is_repaired_and_reported() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, "tests/drift", json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let echo = api_named(&emulator, "Echo API");
    let deployment = deployments(&emulator, &echo).into_iter().next().unwrap();
    let apic = apic_client(&emulator);

    // Someone retitles the API (an APIM-owned field): the light pass sees it in the list.
    let path = ApicPath::api("default", &echo).unwrap();
    apic.update_merged(&path, |p| p.title = "Renamed by hand".into())
        .await
        .unwrap();
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert!(
        report
            .drift
            .iter()
            .any(|d| d.kind == DriftKind::Modified && d.path == format!("apis/{echo}")),
        "{:?}",
        report.drift
    );
    assert_eq!(apis(&emulator)[&echo]["title"], "Echo API");

    // Someone deletes a deployment: the full resync recreates it.
    apic.delete(&ApicPath::deployment("default", &echo, &deployment).unwrap())
        .await
        .unwrap();
    let report = sync(&engine(&emulator), &settings, PassMode::Full).await;
    assert!(
        report
            .drift
            .iter()
            .any(|d| d.kind == DriftKind::Missing && d.entity == EntityKind::Deployment),
        "{:?}",
        report.drift
    );
    assert!(deployments(&emulator, &echo).contains(&deployment));

    // Someone deletes the whole API: it comes back under the same name.
    apic.delete(&path).await.unwrap();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(api_named(&emulator, "Echo API"), echo);
    assert_converged(&emulator, &settings).await;
}

#[tokio::test]
async fn types_without_definitions_and_workspaces_map_as_designed() {
    let emulator = start(config()).await;
    let mut seed = apim(&emulator).seed();
    let service = &mut seed.services[0];
    let mut live = ApiSeed::new("live-prices", "Live prices");
    live.api_type = ApiType::Websocket;
    live.path = Some("prices".into());
    service.apis.push(live);
    // A workspace API with the same id as a service-level one.
    let mut mobile_echo = ApiSeed::new("echo-api", "Mobile echo");
    mobile_echo.path = Some("mobile/echo".into());
    mobile_echo.operations = vec![OperationSeed::Line("GET /ping Ping".into())];
    service.workspaces.push(WorkspaceSeed {
        display_name: Some("Team Mobile".into()),
        apis: vec![mobile_echo],
        ..WorkspaceSeed::new("team-mobile")
    });
    apim(&emulator).replace_seed(&seed).unwrap();

    let settings = settings(
        &emulator,
        "tests/types",
        json!({"source": {
            "apimResourceId": emulator.apim_resource_id(APIM),
            "workspaces": ["team-mobile"],
        }}),
    );
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_converged(&emulator, &settings).await;

    let live = api_named(&emulator, "Live prices");
    assert_eq!(apis(&emulator)[&live]["kind"], "websocket");
    let versions_of_live = versions(&emulator, &live);
    assert_eq!(versions_of_live.len(), 1);
    assert!(
        versions_of_live["original"]["definitions"]
            .as_object()
            .unwrap()
            .is_empty(),
        "APIM exports no definition for WebSocket APIs"
    );

    let mobile = api_named(&emulator, "Mobile echo");
    let echo = api_named(&emulator, "Echo API");
    assert_ne!(
        mobile, echo,
        "workspace and service-level APIs never collide"
    );
    let content = definition_content(&emulator, &mobile, "original").unwrap();
    assert!(content.contains("/ping"), "{content}");
}

#[tokio::test]
async fn runtime_uris_use_the_custom_domain_and_the_workspace_gateway() {
    // Reading workspace gateways takes Reader on them: the APIM reader role stops at
    // the service.
    let mut principal = Principal::default_for(DEFAULT_SUBSCRIPTION_ID);
    principal.roles.push(RoleAssignment::new(
        Role::Reader,
        &format!(
            "/subscriptions/{DEFAULT_SUBSCRIPTION_ID}/resourceGroups/{DEFAULT_RESOURCE_GROUP}"
        ),
    ));
    let emulator = start(EmulatorConfig {
        principals: vec![principal],
        ..config()
    })
    .await;
    let mut seed = apim(&emulator).seed();
    let service = &mut seed.services[0];
    service.proxy_hostnames = vec![ProxyHostnameSeed::new("api.contoso.example", false)];
    let mut ping = ApiSeed::new("ping", "Mobile ping");
    ping.path = Some("mobile/ping".into());
    let gateway = |host: &str| WorkspaceGatewaySeed {
        hostnames: vec![host.to_string()],
        ..WorkspaceGatewaySeed::new("mobile-gw")
    };
    service.workspaces.push(WorkspaceSeed {
        gateways: vec![gateway("mobile.contoso.example")],
        apis: vec![ping],
        ..WorkspaceSeed::new("team-mobile")
    });
    apim(&emulator).replace_seed(&seed).unwrap();
    let settings = settings(
        &emulator,
        "tests/gateways",
        json!({"source": {
            "apimResourceId": emulator.apim_resource_id(APIM),
            "workspaces": ["team-mobile"],
        }}),
    );
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_converged(&emulator, &settings).await;
    let runtime = |title: &str| {
        workspace(&emulator)["apis"][api_named(&emulator, title)]["deployments"]["original-openapi"]
            ["properties"]["server"]["runtimeUri"]
            .clone()
    };
    assert_eq!(
        runtime("Mobile ping"),
        json!(["https://mobile.contoso.example/mobile/ping"])
    );
    assert_eq!(
        runtime("Echo API"),
        json!(["https://api.contoso.example/echo"])
    );

    // When the gateway cannot be read, the pass stops before writing anything, rather
    // than moving workspace APIs to the service gateway.
    let mut moved = apim(&emulator).seed();
    moved.services[0].workspaces[0].gateways = vec![gateway("m2.contoso.example")];
    apim(&emulator).replace_seed(&moved).unwrap();
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 403,
            code: "AuthorizationFailed".into(),
            retry_after_secs: None,
        })
        .path_contains("/configConnections"),
    );
    emulator.clear_calls();
    assert!(
        engine(&emulator)
            .sync_pass(&settings, PassMode::Light)
            .await
            .is_err()
    );
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
    emulator.clear_faults();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(
        runtime("Mobile ping"),
        json!(["https://m2.contoso.example/mobile/ping"])
    );
}
