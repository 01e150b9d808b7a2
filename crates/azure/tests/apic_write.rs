//! The API Center client over HTTPS against the emulator: CRUD, create-if-absent,
//! importSpecification as a long-running operation (checked against what the emulator
//! stored), merge with a concurrent change, error classes of bad input.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use apilink_azure::apic::{
    ApiDefinitionProperties, ApiProperties, ApiVersionProperties, ApicClient, ApicPath,
    CreateOutcome, DeploymentProperties, DeploymentServer, EnvironmentProperties,
    EnvironmentServer, ImportFormat, ImportSpecification, MergeOutcome, Precondition,
    SpecificationRef,
};
use apilink_azure::error::ErrorClass;
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::{SERVER_TYPE, SpecKind};
use apilink_emulator::{ApicContract, CallKind, ConditionalHeaders, Emulator, EmulatorConfig};

const WS: &str = "default";

/// The strict contract, except that `If-Match` / `If-None-Match` are honoured: these
/// tests show what the client does with a service that honours them (the other modes
/// are in `apic_contract.rs`).
fn honouring_conditions() -> EmulatorConfig {
    EmulatorConfig {
        apic_contract: ApicContract {
            conditional_headers: ConditionalHeaders::Honoured,
            ..ApicContract::strict()
        },
        ..EmulatorConfig::default()
    }
}

/// The document the emulator stored for a definition through importSpecification.
fn imported_content(emulator: &Emulator, api: &str, version: &str, definition: &str) -> String {
    let snapshot = emulator
        .api_center()
        .snapshot(common::APIC_SERVICE)
        .unwrap();
    snapshot["workspaces"][WS]["apis"][api]["versions"][version]["definitions"][definition]
        ["content"]
        .as_str()
        .unwrap()
        .to_string()
}

fn service_api(api_id: &str) -> ApimApiRef {
    ApimApiRef {
        workspace: None,
        api_id: api_id.into(),
    }
}

fn api(title: &str) -> ApiProperties {
    ApiProperties {
        title: title.into(),
        kind: "rest".into(),
        ..Default::default()
    }
}

async fn create_api_version_definition(apic: &ApicClient, api_name: &str) {
    apic.put(
        &ApicPath::api(WS, api_name).unwrap(),
        &api("Echo"),
        Precondition::None,
    )
    .await
    .unwrap();
    apic.put(
        &ApicPath::version(WS, api_name, "v1-0").unwrap(),
        &ApiVersionProperties {
            title: "v1.0".into(),
            lifecycle_stage: "design".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    apic.put(
        &ApicPath::definition(WS, api_name, "v1-0", "openapi").unwrap(),
        &ApiDefinitionProperties {
            title: "OpenAPI".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn crud_lists_and_service_relative_deployments() {
    let emulator = common::start(honouring_conditions()).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let path = ApicPath::api(WS, "echo-api").unwrap();

    assert!(apic.get(&path).await.unwrap().is_none());
    let created = match apic.create_if_absent(&path, &api("Echo")).await.unwrap() {
        CreateOutcome::Created(resource) => resource,
        other => panic!("the API did not exist: {other:?}"),
    };
    assert_eq!(created.name, "echo-api");
    assert!(created.etag.is_some());
    assert!(matches!(
        apic.create_if_absent(&path, &api("Other")).await.unwrap(),
        CreateOutcome::AlreadyExists
    ));
    let read = apic.get(&path).await.unwrap().unwrap();
    assert_eq!(
        read.properties.title, "Echo",
        "create_if_absent must not replace"
    );

    // The merge helper also works on untyped properties.
    let merged = apic
        .update_merged(&path.untyped(), |props: &mut serde_json::Value| {
            props["description"] = serde_json::json!("Echoes requests.");
        })
        .await
        .unwrap();
    assert!(merged.was_written());
    let read = apic.fetch(&path).await.unwrap();
    assert_eq!(
        read.properties.description.as_deref(),
        Some("Echoes requests.")
    );
    assert_eq!(read.properties.title, "Echo");

    let env_path = ApicPath::environment(WS, "contoso-prod").unwrap();
    apic.put(
        &env_path,
        &EnvironmentProperties {
            title: "Contoso (prod)".into(),
            kind: "production".into(),
            server: Some(EnvironmentServer {
                server_type: Some(SERVER_TYPE.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    create_api_version_definition(&apic, "orders-api").await;
    let def_path = ApicPath::definition(WS, "orders-api", "v1-0", "openapi").unwrap();
    let dep_path = ApicPath::deployment(WS, "orders-api", "contoso-prod").unwrap();
    let deployment = apic
        .put(
            &dep_path,
            &DeploymentProperties {
                title: Some("prod".into()),
                environment_id: Some(env_path.relative().to_string()),
                definition_id: Some(def_path.relative().to_string()),
                state: Some("active".into()),
                server: Some(DeploymentServer {
                    runtime_uri: Some(vec!["https://contoso.azure-api.net/orders".into()]),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Precondition::None,
        )
        .await
        .unwrap();
    assert_eq!(
        deployment.properties.environment_id.as_deref(),
        Some("/workspaces/default/environments/contoso-prod")
    );

    let apis = apic.list_apis(WS).await.unwrap();
    let names: Vec<&str> = apis.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["echo-api", "orders-api"]);
    assert_eq!(apis[0].properties.value()["title"], "Echo");
    assert_eq!(apic.list_versions(WS, "orders-api").await.unwrap().len(), 1);
    assert_eq!(
        apic.list_definitions(WS, "orders-api", "v1-0")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        apic.list_deployments(WS, "orders-api").await.unwrap().len(),
        1
    );
    assert!(apic.list_metadata_schemas().await.unwrap().is_empty());

    assert!(apic.delete(&dep_path).await.unwrap());
    assert!(!apic.delete(&dep_path).await.unwrap(), "already absent");
    assert!(apic.delete(&path).await.unwrap());
    assert!(apic.get(&path).await.unwrap().is_none());
}

#[tokio::test]
async fn lists_page_through_small_pages() {
    let emulator = common::start(EmulatorConfig {
        apic_page_size: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let apic = common::apic(&emulator, common::client(&emulator));
    for i in 0..7 {
        apic.put(
            &ApicPath::api(WS, &format!("api-{i:02}")).unwrap(),
            &api(&format!("API {i}")),
            Precondition::None,
        )
        .await
        .unwrap();
    }
    emulator.clear_calls();
    let apis = apic.list_apis(WS).await.unwrap();
    assert_eq!(apis.len(), 7);
    let pages = common::arm_calls_to(&emulator, "/workspaces/default/apis");
    assert_eq!(pages.len(), 4, "{pages:?}");
}

#[tokio::test]
async fn import_through_the_lro_then_export() {
    let emulator = common::start(EmulatorConfig {
        lro_polls_before_done: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let arm = common::client(&emulator);
    let apim = common::apim(&emulator, arm.clone());
    let apic = common::apic(&emulator, arm);

    let exported = apim
        .export_definition(&service_api("echo-api"), SpecKind::OpenApi)
        .await
        .unwrap()
        .unwrap();

    create_api_version_definition(&apic, "echo-api").await;
    let def_path = ApicPath::definition(WS, "echo-api", "v1-0", "openapi").unwrap();
    assert!(
        apic.fetch(&def_path)
            .await
            .unwrap()
            .properties
            .specification
            .is_none(),
        "no specification before an import"
    );
    emulator.clear_calls();
    apic.import_specification(
        &def_path,
        &ImportSpecification {
            format: ImportFormat::Inline,
            value: exported.content.clone(),
            specification: SpecificationRef {
                name: exported.specification_name().into(),
                version: exported.specification_version(),
            },
        },
        None,
    )
    .await
    .unwrap();
    let arm_calls = common::calls_of(&emulator, CallKind::Arm);
    assert!(
        arm_calls
            .iter()
            .any(|c| c.method == "POST" && c.status == 202),
        "the import ran as a long-running operation: {arm_calls:?}"
    );
    let polls = arm_calls.iter().filter(|c| c.method == "GET").count();
    assert!(polls >= 2, "polled until done: {arm_calls:?}");

    let definition = apic.fetch(&def_path).await.unwrap();
    let spec = definition.properties.specification.unwrap();
    assert_eq!(spec.name.as_deref(), Some("openapi"));

    let stored = imported_content(&emulator, "echo-api", "v1-0", "openapi");
    let ours: serde_json::Value = serde_json::from_str(&exported.content).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(ours, theirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_survives_a_concurrent_change() {
    let emulator = common::start(honouring_conditions()).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let user = common::apic(&emulator, common::client(&emulator));
    let path = ApicPath::api(WS, "echo-api").unwrap();
    apic.put(
        &path,
        &ApiProperties {
            summary: Some("original summary".into()),
            ..api("Old title")
        },
        Precondition::None,
    )
    .await
    .unwrap();

    let rounds = AtomicU32::new(0);
    let handle = tokio::runtime::Handle::current();
    let outcome = apic
        .update_merged(&path, |props: &mut ApiProperties| {
            if rounds.fetch_add(1, Ordering::SeqCst) == 0 {
                // Between our read and our write, a person edits the summary.
                tokio::task::block_in_place(|| {
                    handle.block_on(async {
                        let mut theirs = user.fetch(&path).await.unwrap().properties;
                        theirs.summary = Some("edited by a person".into());
                        user.put(&path, &theirs, Precondition::None).await.unwrap();
                    })
                });
            }
            props.title = "New title".into();
        })
        .await
        .unwrap();

    match &outcome {
        MergeOutcome::Updated { attempts, .. } => assert_eq!(*attempts, 2),
        MergeOutcome::Unchanged(_) => panic!("the title changed"),
    }
    assert_eq!(rounds.load(Ordering::SeqCst), 2);
    let stored = apic.fetch(&path).await.unwrap().properties;
    assert_eq!(stored.title, "New title");
    assert_eq!(stored.summary.as_deref(), Some("edited by a person"));
    let stale_writes = common::arm_calls_to(&emulator, "/apis/echo-api")
        .into_iter()
        .filter(|c| c.method == "PUT" && c.status == 412)
        .count();
    assert_eq!(stale_writes, 1);

    // Nothing to change: no write at all.
    emulator.clear_calls();
    let again = apic
        .update_merged(&path, |props: &mut ApiProperties| {
            props.title = "New title".into();
        })
        .await
        .unwrap();
    assert!(!again.was_written());
    assert!(
        common::calls_of(&emulator, CallKind::Arm)
            .iter()
            .all(|c| c.method == "GET")
    );
}

#[tokio::test]
async fn bad_input_is_classified() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apic = common::apic(&emulator, common::client(&emulator));

    let too_long = ApiProperties {
        title: "x".repeat(51),
        kind: "rest".into(),
        ..Default::default()
    };
    let err = apic
        .put(
            &ApicPath::api(WS, "bad-api").unwrap(),
            &too_long,
            Precondition::None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert_eq!(err.class(), ErrorClass::NeedsUser, "{err}");
    assert_eq!(err.reason(), "InvalidRequest");
    assert!(err.request_id().is_some(), "x-ms-request-id kept: {err:?}");
    assert_eq!(
        common::arm_calls_to(&emulator, "/apis/bad-api").len(),
        1,
        "a validation error is not retried"
    );

    let err = apic
        .fetch(&ApicPath::api(WS, "missing-api").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound, "{err}");
    assert!(err.is_not_found());

    let err = apic
        .update_merged(&ApicPath::api(WS, "missing-api").unwrap(), |_p| {})
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound);
}

#[tokio::test]
async fn import_by_link_from_an_apim_export() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let arm = common::client(&emulator);
    let apim = common::apim(&emulator, arm.clone());
    let apic = common::apic(&emulator, arm);
    create_api_version_definition(&apic, "weather-api").await;
    let def_path = ApicPath::definition(WS, "weather-api", "v1-0", "openapi").unwrap();

    let link = apim
        .export_link(&service_api("weather-soap"), SpecKind::Wsdl)
        .await
        .unwrap()
        .unwrap();
    apic.import_specification(
        &def_path,
        &ImportSpecification {
            format: ImportFormat::Link,
            value: link,
            specification: SpecificationRef {
                name: "wsdl".into(),
                version: Some("1.1".into()),
            },
        },
        None,
    )
    .await
    .unwrap();
    let spec = apic
        .fetch(&def_path)
        .await
        .unwrap()
        .properties
        .specification
        .unwrap();
    assert_eq!(spec.name.as_deref(), Some("wsdl"));
    let wsdl = imported_content(&emulator, "weather-api", "v1-0", "openapi");
    assert!(wsdl.contains("definitions"), "{wsdl}");
}
