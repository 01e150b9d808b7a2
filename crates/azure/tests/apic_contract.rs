//! The API Center client against the emulator's readings of the 2024-03-01 contract:
//! conditional headers honoured, ignored or refused; imports that advertise only
//! `Location` and imports that fail on their poll; bodies with only declared members;
//! metadata schemas and the custom properties they declare.
#![allow(clippy::unwrap_used)]

mod common;

use apilink_azure::apic::{
    ApiDefinitionProperties, ApiProperties, ApiVersionProperties, ApicClient, ApicPath,
    ConditionalHeaderSupport, CreateOutcome, ImportFormat, ImportSpecification, MetadataAssignment,
    MetadataSchemaProperties, Precondition, SpecificationRef,
};
use apilink_azure::error::ErrorClass;
use apilink_azure::{ApiCenterServiceId, AzureError};
use apilink_core::metadata::{Assignment, MetadataSchema};
use apilink_emulator::{
    ApicContract, CallKind, CallRecord, ConditionalHeaders, Emulator, EmulatorConfig, FaultKind,
    FaultRule, ImportAnswer, Principal, Role, RoleAssignment,
};
use serde_json::json;

const WS: &str = "default";

fn with_headers(conditional_headers: ConditionalHeaders) -> EmulatorConfig {
    EmulatorConfig {
        apic_contract: ApicContract {
            conditional_headers,
            ..ApicContract::strict()
        },
        ..EmulatorConfig::default()
    }
}

fn api(title: &str) -> ApiProperties {
    ApiProperties {
        title: title.into(),
        kind: "rest".into(),
        ..Default::default()
    }
}

fn puts(emulator: &Emulator) -> Vec<CallRecord> {
    common::calls_of(emulator, CallKind::Arm)
        .into_iter()
        .filter(|c| c.method == "PUT")
        .collect()
}

#[tokio::test]
async fn honoured_conditions_protect_creates_and_merges() {
    let emulator = common::start(with_headers(ConditionalHeaders::Honoured)).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    assert_eq!(
        apic.conditional_header_support(),
        ConditionalHeaderSupport::Unknown
    );
    let path = ApicPath::api(WS, "echo-api").unwrap();
    assert!(matches!(
        apic.create_if_absent(&path, &api("Echo")).await.unwrap(),
        CreateOutcome::Created(_)
    ));
    assert_eq!(
        apic.conditional_header_support(),
        ConditionalHeaderSupport::Accepted
    );
    assert!(matches!(
        apic.create_if_absent(&path, &api("Other")).await.unwrap(),
        CreateOutcome::AlreadyExists
    ));
    assert_eq!(apic.fetch(&path).await.unwrap().properties.title, "Echo");

    let stale = apic.fetch(&path).await.unwrap();
    apic.put(&path, &api("Changed meanwhile"), Precondition::None)
        .await
        .unwrap();
    let err = apic
        .put(
            &path,
            &api("Stale write"),
            Precondition::IfMatch(stale.etag.unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(412));
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert_eq!(
        apic.conditional_header_support(),
        ConditionalHeaderSupport::Accepted
    );
    assert!(
        puts(&emulator).iter().all(|c| c.status != 400),
        "no probe against a service that honours the headers"
    );
}

#[tokio::test]
async fn ignored_conditions_are_accepted_and_a_create_may_replace() {
    let emulator = common::start(with_headers(ConditionalHeaders::Ignored)).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let path = ApicPath::api(WS, "echo-api").unwrap();
    assert!(matches!(
        apic.create_if_absent(&path, &api("Echo")).await.unwrap(),
        CreateOutcome::Created(_)
    ));
    assert_eq!(
        apic.conditional_header_support(),
        ConditionalHeaderSupport::Accepted
    );
    // Documented: a service ignoring If-None-Match replaces, and says so with a 200.
    match apic.create_if_absent(&path, &api("Other")).await.unwrap() {
        CreateOutcome::Replaced(resource) => assert_eq!(resource.properties.title, "Other"),
        other => panic!("expected a replacement: {other:?}"),
    }
    // A merge still works; it just cannot detect a concurrent change.
    let merged = apic
        .update_merged(&path, |p: &mut ApiProperties| {
            p.summary = Some("merged".into());
        })
        .await
        .unwrap();
    assert!(merged.was_written());
    assert_eq!(
        apic.conditional_header_support(),
        ConditionalHeaderSupport::Accepted
    );
    assert_eq!(puts(&emulator).len(), 3, "no extra call");
}

#[tokio::test]
async fn refused_conditions_cost_one_extra_call_per_client() {
    let emulator = common::start(with_headers(ConditionalHeaders::Refused)).await;
    let arm = common::client(&emulator);
    let apic = common::apic(&emulator, arm.clone());
    let path = ApicPath::api(WS, "echo-api").unwrap();

    match apic.create_if_absent(&path, &api("Echo")).await.unwrap() {
        CreateOutcome::Created(resource) => assert_eq!(resource.name, "echo-api"),
        other => panic!("the API did not exist: {other:?}"),
    }
    assert_eq!(
        apic.conditional_header_support(),
        ConditionalHeaderSupport::Refused
    );
    let first = puts(&emulator);
    assert_eq!(
        first.iter().map(|c| c.status).collect::<Vec<_>>(),
        [400, 201],
        "the conditional PUT, then the same PUT without its header: {first:?}"
    );

    // Clones, and clients built anew on the same ARM client, know it already.
    let again = common::apic(&emulator, arm.clone());
    assert_eq!(
        again.conditional_header_support(),
        ConditionalHeaderSupport::Refused
    );
    let merged = again
        .update_merged(&path, |p: &mut ApiProperties| {
            p.summary = Some("merged".into());
        })
        .await
        .unwrap();
    assert!(merged.was_written());
    let clone = apic.clone();
    assert!(matches!(
        clone.create_if_absent(&path, &api("Other")).await.unwrap(),
        CreateOutcome::Replaced(_)
    ));
    let all = puts(&emulator);
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all.iter().filter(|c| c.status == 400).count(), 1, "{all:?}");

    // Another ARM client learns for itself.
    let fresh = common::apic(&emulator, common::client(&emulator));
    assert_eq!(
        fresh.conditional_header_support(),
        ConditionalHeaderSupport::Unknown
    );
}

#[tokio::test]
async fn a_bad_body_is_not_blamed_on_the_header() {
    let emulator = common::start(with_headers(ConditionalHeaders::Honoured)).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let err = apic
        .create_if_absent(
            &ApicPath::api(WS, "bad-api").unwrap(),
            &api(&"x".repeat(51)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.class(), ErrorClass::NeedsUser, "{err}");
    assert_eq!(
        apic.conditional_header_support(),
        ConditionalHeaderSupport::Unknown,
        "the same 400 without the header: the header was not the cause"
    );
    assert_eq!(puts(&emulator).len(), 2);
}

async fn definition(apic: &ApicClient, api_name: &str) -> ApicPath<ApiDefinitionProperties> {
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
    let path = ApicPath::definition(WS, api_name, "v1-0", "openapi").unwrap();
    apic.put(
        &path,
        &ApiDefinitionProperties {
            title: "OpenAPI".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    path
}

fn openapi(document: &str) -> ImportSpecification {
    ImportSpecification {
        format: ImportFormat::Inline,
        value: document.into(),
        specification: SpecificationRef {
            name: "openapi".into(),
            version: Some("3.0.1".into()),
        },
    }
}

const DOCUMENT: &str = r#"{"openapi":"3.0.1","info":{"title":"Echo","version":"1.0"},"paths":{}}"#;

#[tokio::test]
async fn an_import_advertising_only_location_is_followed_there() {
    let emulator = common::start(EmulatorConfig {
        lro_polls_before_done: 3,
        ..EmulatorConfig::default()
    })
    .await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let path = definition(&apic, "echo-api").await;
    emulator.clear_calls();
    apic.import_specification(&path, &openapi(DOCUMENT), None)
        .await
        .unwrap();
    let calls = common::calls_of(&emulator, CallKind::Arm);
    assert!(calls.iter().any(|c| c.method == "POST" && c.status == 202));
    let polls: Vec<_> = calls.iter().filter(|c| c.method == "GET").collect();
    assert!(polls.len() >= 3, "{calls:?}");
    assert!(
        polls.iter().all(|c| c.path.contains("/operationResults/")),
        "only Location is polled: {calls:?}"
    );
    assert_eq!(polls.last().unwrap().status, 200);
    let spec = apic
        .fetch(&path)
        .await
        .unwrap()
        .properties
        .specification
        .unwrap();
    assert_eq!(spec.name.as_deref(), Some("openapi"));
}

fn assert_import_failure(err: &AzureError, code: &str, status: u16) {
    let failure = err
        .import_failure()
        .unwrap_or_else(|| panic!("an import failure: {err:?}"));
    assert_eq!(failure.code(), code);
    assert_eq!(failure.status, status);
    assert!(!failure.message().is_empty());
    assert!(failure.request_id().is_some(), "{failure:?}");
    assert!(failure.definition().ends_with("/definitions/openapi"));
    assert_eq!(err.arm_code(), Some(code));
    assert_eq!(err.class(), ErrorClass::NeedsUser, "{err}");
    assert_eq!(err.reason(), "SpecificationImportFailed");
    assert_eq!(
        err.requeue_hint(),
        Some(std::time::Duration::from_secs(300)),
        "retried slowly: the document is fixed in APIM, not in the spec"
    );
}

#[tokio::test]
async fn an_import_failing_on_its_location_poll_needs_the_user() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let path = definition(&apic, "echo-api").await;
    emulator.add_fault(
        FaultRule::new(FaultKind::ImportFails {
            code: "InvalidApiSpecification".into(),
            message: "Line 1: not an OpenAPI document.".into(),
        })
        .path_contains("/importSpecification")
        .times(1),
    );
    emulator.clear_calls();
    let err = apic
        .import_specification(&path, &openapi(DOCUMENT), None)
        .await
        .unwrap_err();
    assert_import_failure(&err, "InvalidApiSpecification", 400);
    assert_eq!(err.arm_message(), Some("Line 1: not an OpenAPI document."));
    let failed_polls: Vec<_> = common::calls_of(&emulator, CallKind::Arm)
        .into_iter()
        .filter(|c| c.method == "GET" && c.status == 400)
        .collect();
    assert_eq!(failed_polls.len(), 1, "not retried: {failed_polls:?}");
    assert_eq!(
        err.request_id(),
        failed_polls[0].request_id.as_deref(),
        "the request id of the poll that reported it"
    );

    // A document the service cannot read fails the same way, without any fault.
    let err = apic
        .import_specification(&path, &openapi("this is not a document"), None)
        .await
        .unwrap_err();
    let failure = err.import_failure().unwrap();
    assert_eq!(failure.status, 400);
    assert_eq!(err.class(), ErrorClass::NeedsUser, "{err}");
}

#[tokio::test]
async fn an_import_failing_through_its_async_operation_needs_the_user() {
    let emulator = common::start(EmulatorConfig {
        apic_contract: ApicContract {
            import_answer: ImportAnswer::LocationAndAsyncOperation,
            ..ApicContract::strict()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let path = definition(&apic, "echo-api").await;
    emulator.add_fault(
        FaultRule::new(FaultKind::ImportFails {
            code: "InvalidApiSpecification".into(),
            message: String::new(),
        })
        .path_contains("/importSpecification")
        .times(1),
    );
    emulator.clear_calls();
    let err = apic
        .import_specification(&path, &openapi(DOCUMENT), None)
        .await
        .unwrap_err();
    assert_import_failure(&err, "InvalidApiSpecification", 200);
    assert!(
        common::calls_of(&emulator, CallKind::Arm)
            .iter()
            .any(|c| c.path.contains("/operationStatuses/")),
        "Azure-AsyncOperation is preferred when present"
    );
    // And a success through it.
    apic.import_specification(&path, &openapi(DOCUMENT), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failing_poll_server_stays_retryable() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let path = definition(&apic, "echo-api").await;
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 503,
            code: "ServiceUnavailable".into(),
            retry_after_secs: None,
        })
        .method("GET")
        .path_contains("/operationResults/"),
    );
    let err = apic
        .import_specification(&path, &openapi(DOCUMENT), None)
        .await
        .unwrap_err();
    assert!(err.import_failure().is_none(), "{err:?}");
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.class(), ErrorClass::RetryFast);
}

#[tokio::test]
async fn members_the_contract_does_not_declare_are_not_echoed() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let path = ApicPath::api(WS, "echo-api").unwrap();
    apic.put(&path, &api("Echo"), Precondition::None)
        .await
        .unwrap();
    // As if the service had started returning a member 2024-03-01 does not define:
    // the emulator refuses unknown members, so the write only succeeds if it is
    // not sent back.
    let merged = apic
        .update_merged(&path.untyped(), |p: &mut serde_json::Value| {
            p["newServiceField"] = json!({"x": 1});
            p["contacts"] = json!([{"name": "Team", "pager": "123"}]);
            p["summary"] = json!("merged");
        })
        .await
        .unwrap();
    assert!(merged.was_written());
    let stored = apic.fetch(&path).await.unwrap().properties;
    assert_eq!(stored.summary.as_deref(), Some("merged"));
    let contacts = stored.contacts.unwrap();
    assert_eq!(contacts[0].name.as_deref(), Some("Team"));
    assert!(contacts[0].extra.is_empty(), "{contacts:?}");
    assert!(!stored.extra.contains_key("newServiceField"));
}

fn owner_schema() -> MetadataSchemaProperties {
    MetadataSchemaProperties {
        schema: r#"{"type":"string","maxLength":64}"#.into(),
        assigned_to: Some(vec![MetadataAssignment {
            entity: Some("api".into()),
            required: Some(false),
            deprecated: Some(false),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

#[tokio::test]
async fn metadata_schemas_declare_custom_properties() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apic = common::apic(&emulator, common::client(&emulator));
    let owner = ApicPath::metadata_schema("owner").unwrap();
    assert!(apic.get(&owner).await.unwrap().is_none());
    let with_owner = ApiProperties {
        custom_properties: Some(json!({"owner": "team-a"}).as_object().unwrap().clone()),
        ..api("Echo")
    };
    let path = ApicPath::api(WS, "echo-api").unwrap();
    let err = apic
        .put(&path, &with_owner, Precondition::None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "undeclared custom property: {err}");

    let written = apic
        .put(&owner, &owner_schema(), Precondition::None)
        .await
        .unwrap();
    assert_eq!(written.name, "owner");
    let read = apic.get(&owner).await.unwrap().unwrap();
    assert_eq!(read.properties.schema, owner_schema().schema);
    assert_eq!(
        read.properties.assigned_to.unwrap()[0].entity.as_deref(),
        Some("api")
    );
    assert_eq!(
        apic.list_metadata_schemas().await.unwrap(),
        [MetadataSchema {
            name: "owner".into(),
            document: Some(json!({"type": "string", "maxLength": 64})),
            assigned_to: vec![Assignment {
                entity: "api".into(),
                required: false,
                deprecated: false,
            }],
        }]
    );

    apic.put(&path, &with_owner, Precondition::None)
        .await
        .unwrap();
    let stored = apic.fetch(&path).await.unwrap().properties;
    assert_eq!(stored.custom_properties.unwrap()["owner"], "team-a");
    assert!(ApicPath::metadata_schema("no").is_err());
}

#[tokio::test]
async fn a_metadata_schema_write_refused_names_the_role() {
    const READER: &str = "00000000-0000-0000-0000-0000000000d2";
    let mut config = EmulatorConfig::default();
    let scope = format!("/subscriptions/{}", config.subscription_id);
    config.principals.push(Principal::with_secret(
        READER,
        "reader-secret",
        vec![RoleAssignment::new(Role::ApiCenterServiceReader, &scope)],
    ));
    let emulator = common::start(config).await;
    let arm = common::client_as(&emulator, READER, "reader-secret");
    let id: ApiCenterServiceId = emulator
        .api_center_resource_id(common::APIC_SERVICE)
        .parse()
        .unwrap();
    let apic = ApicClient::new(arm, id);
    let owner = ApicPath::metadata_schema("owner").unwrap();
    assert!(apic.get(&owner).await.unwrap().is_none());
    let err = apic
        .put(&owner, &owner_schema(), Precondition::None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert_eq!(err.class(), ErrorClass::NeedsUser);
    assert_eq!(err.reason(), "AuthorizationFailed");
    let remedy = err.remedy().unwrap();
    assert!(
        remedy.contains("Azure API Center Service Contributor"),
        "{remedy}"
    );
    assert!(remedy.contains("metadataSchemas/write"), "{remedy}");
}
