//! What `apilink check` asks of the client, over HTTPS against the emulator: who the
//! token is for, the services as ARM describes them, the remaining quota, and the
//! write probes against each reading of the contract the emulator offers.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use apilink_azure::apic::{
    ApiDefinitionProperties, ApiProperties, ApiVersionProperties, ApicClient, ApicPath,
    ConditionalBehaviour, ConditionalHeader, CustomPropertyBehaviour, ImportFormat,
    ImportSpecification, Precondition, SpecificationRef,
};
use apilink_azure::{
    ArmClient, ArmClientOptions, Permission, PrincipalType, RemainingQuota, token_identity,
};
use apilink_emulator::{
    ApicContract, BucketConfig, CallKind, ConditionalHeaders, EmulatorConfig, ImportAnswer,
    Principal, Role, RoleAssignment, ThrottleConfig, UndeclaredCustomProperties,
};

const WS: &str = "default";

fn contract(edit: impl FnOnce(&mut ApicContract)) -> EmulatorConfig {
    let mut apic_contract = ApicContract::strict();
    edit(&mut apic_contract);
    EmulatorConfig {
        apic_contract,
        ..EmulatorConfig::default()
    }
}

fn api() -> ApiProperties {
    ApiProperties {
        title: "Probe".into(),
        kind: "rest".into(),
        ..Default::default()
    }
}

/// An API that exists, as a probe needs it.
async fn existing_api(apic: &ApicClient) -> ApicPath<ApiProperties> {
    let path = ApicPath::api(WS, "apilink-probe").unwrap();
    apic.put(&path, &api(), Precondition::None).await.unwrap();
    path
}

#[tokio::test]
async fn the_token_names_the_emulated_principal() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let credential = common::secret_credential(
        &emulator,
        apilink_emulator::DEFAULT_CLIENT_ID,
        apilink_emulator::DEFAULT_CLIENT_SECRET,
    );
    let identity = token_identity(&credential, &common::cloud(&emulator))
        .await
        .unwrap();
    let principal = &EmulatorConfig::default().principals[0];
    assert_eq!(identity.tenant_id.as_deref(), Some(emulator.tenant_id()));
    assert_eq!(
        identity.app_id.as_deref(),
        Some(apilink_emulator::DEFAULT_CLIENT_ID)
    );
    assert_eq!(identity.object_id, Some(principal.object_id()));
    assert_eq!(identity.principal_type, PrincipalType::ServicePrincipal);
    assert!(identity.expires_on.is_some());
}

#[tokio::test]
async fn permissions_are_read_for_each_service() {
    const READER: &str = "00000000-0000-0000-0000-0000000000d1";
    let config = EmulatorConfig::default();
    let group = format!(
        "/subscriptions/{}/resourceGroups/{}",
        config.subscription_id, config.resource_group
    );
    let mut principals = config.principals.clone();
    principals.push(Principal::with_secret(
        READER,
        "reader-secret",
        vec![
            RoleAssignment::new(Role::Reader, &group),
            RoleAssignment::new(Role::ApiCenterServiceContributor, &group),
        ],
    ));
    let emulator = common::start(EmulatorConfig {
        principals,
        ..config
    })
    .await;
    let arm = common::client_as(&emulator, READER, "reader-secret");
    emulator.clear_calls();
    let on_apic = common::apic(&emulator, arm.clone())
        .permissions()
        .await
        .unwrap();
    // Every assignment covering the scope, as ARM lists them: both roles, at the group.
    let expected = [
        Permission {
            actions: vec!["*/read".into()],
            not_actions: vec![],
        },
        Permission {
            actions: vec![
                "Microsoft.ApiCenter/services/*".into(),
                "Microsoft.Resources/subscriptions/resourceGroups/read".into(),
            ],
            not_actions: vec![],
        },
    ];
    assert_eq!(on_apic, expected);
    let on_apim = common::apim(&emulator, arm).permissions().await.unwrap();
    assert_eq!(on_apim, expected);
    let paths: Vec<String> = common::calls_of(&emulator, CallKind::Arm)
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(
        paths[0].ends_with(&format!(
            "/providers/Microsoft.ApiCenter/services/{}/providers/Microsoft.Authorization/permissions",
            common::APIC_SERVICE
        )),
        "{paths:?}"
    );
    assert!(
        paths[1].ends_with(&format!(
            "/providers/Microsoft.ApiManagement/service/{}/providers/Microsoft.Authorization/permissions",
            common::APIM_SERVICE
        )),
        "{paths:?}"
    );
}

#[tokio::test]
async fn services_and_quota_as_arm_reports_them() {
    let bucket = |capacity| BucketConfig {
        capacity,
        refill_per_sec: 10.0,
    };
    // Disabled, the emulator reports the full buckets: exact values to compare.
    let emulator = common::start(EmulatorConfig {
        throttle: ThrottleConfig {
            enabled: false,
            reads: bucket(11999.0),
            writes: bucket(1199.0),
            deletes: bucket(14999.0),
        },
        ..EmulatorConfig::default()
    })
    .await;
    let arm = common::client(&emulator);
    assert_eq!(arm.remaining_quota(), RemainingQuota::default());

    let apim = common::apim(&emulator, arm.clone())
        .get_service()
        .await
        .unwrap();
    assert_eq!(apim.sku_name(), Some("Developer"));
    assert_eq!(apim.sku.as_ref().and_then(|s| s.capacity), Some(1));
    assert_eq!(apim.location.as_deref(), Some("West Europe"));
    assert_eq!(
        arm.remaining_quota(),
        RemainingQuota {
            reads: Some(11999),
            writes: None,
            deletes: None,
        }
    );

    let apic = common::apic(&emulator, arm.clone());
    let service = apic.get_service().await.unwrap();
    assert_eq!(service.name, common::APIC_SERVICE);
    assert!(service.location.is_some());
    assert!(service.sku_name().is_some());
    assert_eq!(
        service.properties.provisioning_state.as_deref(),
        Some("Succeeded")
    );
    let host = service.properties.data_api_host_name.unwrap();
    assert!(host.contains(".data."), "{host}");
    assert!(apic.get_workspace(WS).await.unwrap().is_some());
    assert!(apic.get_workspace("no-such-ws").await.unwrap().is_none());

    existing_api(&apic).await;
    apic.delete(&ApicPath::api(WS, "apilink-probe").unwrap())
        .await
        .unwrap();
    assert_eq!(
        arm.remaining_quota(),
        RemainingQuota {
            reads: Some(11999),
            writes: Some(1199),
            deletes: Some(14999),
        }
    );
}

#[tokio::test]
async fn conditional_header_probes_tell_the_three_readings_apart() {
    for (mode, expected) in [
        (ConditionalHeaders::Honoured, ConditionalBehaviour::Honoured),
        (ConditionalHeaders::Ignored, ConditionalBehaviour::Ignored),
        (ConditionalHeaders::Refused, ConditionalBehaviour::Refused),
    ] {
        let emulator = common::start(contract(|c| c.conditional_headers = mode)).await;
        let arm = common::client(&emulator);
        let apic = common::apic(&emulator, arm.clone());
        let path = existing_api(&apic).await;
        assert_eq!(
            apic.probe_if_match(&path, &api()).await.unwrap(),
            expected,
            "If-Match, {mode:?}"
        );
        assert_eq!(
            apic.probe_if_none_match(&path, &api()).await.unwrap(),
            expected,
            "If-None-Match, {mode:?}"
        );
        for header in [ConditionalHeader::IfMatch, ConditionalHeader::IfNoneMatch] {
            assert_eq!(
                apic.observed_conditional_behaviour(header),
                Some(expected),
                "{mode:?}"
            );
        }
        // A client built afresh on the same ARM client shares what was learned.
        let again = common::apic(&emulator, arm);
        assert_eq!(
            again.probe_if_match(&path, &api()).await.unwrap(),
            expected,
            "{mode:?} a second time"
        );
    }
}

#[tokio::test]
async fn custom_property_probes_tell_the_three_readings_apart() {
    for (mode, expected) in [
        (
            UndeclaredCustomProperties::Kept,
            CustomPropertyBehaviour::Kept,
        ),
        (
            UndeclaredCustomProperties::Dropped,
            CustomPropertyBehaviour::Dropped,
        ),
        (
            UndeclaredCustomProperties::Refused,
            CustomPropertyBehaviour::Refused,
        ),
    ] {
        let emulator = common::start(contract(|c| c.undeclared_custom_properties = mode)).await;
        let apic = common::apic(&emulator, common::client(&emulator));
        let path = existing_api(&apic).await;
        let changed = ApiProperties {
            summary: Some("written by the probe".into()),
            ..api()
        };
        emulator.clear_calls();
        let found = apic
            .probe_undeclared_custom_property(&path, &changed, "apilink-undeclared-probe")
            .await
            .unwrap();
        assert_eq!(found, expected, "{mode:?}");
        let stored = apic.fetch(&path).await.unwrap().properties;
        assert_eq!(
            stored.summary.as_deref(),
            Some("written by the probe"),
            "{mode:?}: the API is written either way"
        );
        let kept = stored
            .custom_properties
            .is_some_and(|c| c.contains_key("apilink-undeclared-probe"));
        assert_eq!(kept, expected == CustomPropertyBehaviour::Kept, "{mode:?}");
        let puts = common::calls_of(&emulator, CallKind::Arm)
            .into_iter()
            .filter(|c| c.method == "PUT")
            .count();
        let expected_puts = if expected == CustomPropertyBehaviour::Refused {
            2
        } else {
            1
        };
        assert_eq!(puts, expected_puts, "{mode:?}");
    }
}

async fn definition(apic: &ApicClient) -> ApicPath<ApiDefinitionProperties> {
    existing_api(apic).await;
    apic.put(
        &ApicPath::version(WS, "apilink-probe", "v1-0").unwrap(),
        &ApiVersionProperties {
            title: "v1".into(),
            lifecycle_stage: "design".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    let path = ApicPath::definition(WS, "apilink-probe", "v1-0", "openapi").unwrap();
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

#[tokio::test]
async fn an_import_says_how_it_was_answered() {
    let document = ImportSpecification {
        format: ImportFormat::Inline,
        value: r#"{"openapi":"3.0.1","info":{"title":"Probe","version":"1"},"paths":{}}"#.into(),
        specification: SpecificationRef {
            name: "openapi".into(),
            version: Some("3.0.1".into()),
        },
    };
    for (mode, location, async_operation) in [
        (ImportAnswer::Synchronous, false, false),
        (ImportAnswer::LocationOnly, true, false),
        (ImportAnswer::LocationAndAsyncOperation, true, true),
    ] {
        let emulator = common::start(EmulatorConfig {
            lro_polls_before_done: 2,
            ..contract(|c| c.import_answer = mode)
        })
        .await;
        let arm = ArmClient::new(
            &common::cloud(&emulator),
            common::secret_credential(
                &emulator,
                apilink_emulator::DEFAULT_CLIENT_ID,
                apilink_emulator::DEFAULT_CLIENT_SECRET,
            ),
            ArmClientOptions {
                lro: apilink_azure::lro::LroOptions {
                    max_poll_interval: Duration::from_millis(200),
                    ..common::fast_options().lro
                },
                ..common::fast_options()
            },
        )
        .unwrap();
        let apic = common::apic(&emulator, arm);
        let path = definition(&apic).await;
        emulator.clear_calls();
        let answer = apic
            .import_specification(&path, &document, None)
            .await
            .unwrap();
        let calls = common::calls_of(&emulator, CallKind::Arm);
        let gets = calls.iter().filter(|c| c.method == "GET").count();
        assert_eq!(answer.initial_status, calls[0].status, "{mode:?}");
        assert_eq!(answer.location, location, "{mode:?}");
        assert_eq!(answer.azure_async_operation, async_operation, "{mode:?}");
        assert_eq!(answer.polls as usize, gets, "{mode:?}: {calls:?}");
        assert_eq!(
            answer.final_status,
            calls.last().unwrap().status,
            "{mode:?}"
        );
        if mode == ImportAnswer::Synchronous {
            assert_eq!((answer.initial_status, answer.polls), (200, 0));
            assert_eq!(answer.retry_after, None);
        } else {
            assert_eq!(answer.initial_status, 202, "{mode:?}");
            assert!(answer.polls >= 2, "{mode:?}: {answer:?}");
            assert!(answer.retry_after.is_some(), "{mode:?}");
        }
    }
}
