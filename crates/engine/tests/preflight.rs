//! The preflight and the write probe over HTTPS against the emulator: every read-only
//! check for a caller with every role, missing roles on either service, missing
//! services and workspaces, a caller without a token, the organisation's metadata,
//! API Center's plan limits, the probe against each reading of the contract, scratch
//! APIs of killed probes removed by the next check or full pass, and the run-time
//! detection of a dropped ownership record.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, SystemTime};

use apilink_azure::apic::{ApiProperties, ApicClient, ApicPath, Precondition};
use apilink_azure::{
    ArmClient, CloudConfig, CredentialConfig, build_credential, resolved_credential_kind,
    token_identity,
};
use apilink_core::marker::RECORD_KEY;
use apilink_core::preflight::{CheckLine, CheckReport, CheckStatus, PERMISSION_MISSING, checks};
use apilink_emulator::apim::{ApiPatch, ApiSeed};
use apilink_emulator::{
    ApicContract, ApicSku, BucketConfig, ConditionalHeaders, DEFAULT_CLIENT_ID,
    DEFAULT_SUBSCRIPTION_ID, Emulator, EmulatorConfig, FaultKind, FaultRule, ImportAnswer,
    Principal, Role, RoleAssignment, ThrottleConfig, UndeclaredCustomProperties,
};
use apilink_engine::{
    AzureClients, Caller, Engine, OperationFailure, PROBE_API_PREFIX, PROBE_DESCRIPTION, PassMode,
    PreflightOutcome,
};
use azure_core::credentials::Secret;
use serde_json::json;
use support::*;

const LINK: &str = "tests/preflight";

const APIM_READER: &str = "00000000-0000-0000-0000-0000000000d1";
const APIC_CONTRIBUTOR: &str = "00000000-0000-0000-0000-0000000000d2";
const SECRET: &str = "a-secret-of-its-own";

/// The read-only checks of a caller who may do everything, in the order a preflight
/// reports them: each service's lines together, then what needs both.
const EVERY_READ_ONLY_CHECK: &[&str] = &[
    checks::SPEC,
    checks::CREDENTIAL,
    checks::APIM_SERVICE,
    checks::APIM_PERMISSIONS,
    checks::APIM_INVENTORY,
    checks::APIC_SERVICE,
    checks::APIC_PERMISSIONS,
    checks::APIC_WORKSPACE,
    checks::APIC_METADATA,
    checks::APIM_EXPORT,
    checks::APIC_LIMITS,
    checks::ARM_QUOTA,
];

fn cloud(emulator: &Emulator) -> CloudConfig {
    CloudConfig::custom(emulator.arm_endpoint(), emulator.authority_host())
        .with_ca_file(emulator.ca_file())
}

/// An engine and a caller signed in as `client_id` with `secret`, as `apilink check`
/// builds them; the caller holds the token's identity or why there is none.
async fn signed_in(
    emulator: &Emulator,
    client_id: &str,
    secret: &str,
) -> (Engine<AzureClients>, Caller) {
    let cloud = cloud(emulator);
    let config = CredentialConfig::ClientSecret {
        tenant_id: emulator.tenant_id().to_string(),
        client_id: client_id.to_string(),
        secret: Secret::new(secret.to_string()),
    };
    let credential = build_credential(&config, &cloud).expect("a credential");
    let caller = Caller {
        credential: resolved_credential_kind(&config).to_string(),
        identity: token_identity(&credential, &cloud).await,
    };
    let arm = ArmClient::new(&cloud, credential, client_options()).expect("an ARM client");
    let engine = Engine::new(
        AzureClients::new(arm).with_apim_page_size(4),
        engine_options(),
    );
    (engine, caller)
}

async fn default_caller(emulator: &Emulator) -> (Engine<AzureClients>, Caller) {
    signed_in(
        emulator,
        DEFAULT_CLIENT_ID,
        apilink_emulator::DEFAULT_CLIENT_SECRET,
    )
    .await
}

fn check_ids(report: &CheckReport) -> Vec<&str> {
    report.lines.iter().map(|l| l.check.as_str()).collect()
}

/// The one line of `check`.
fn line<'a>(report: &'a CheckReport, check: &str) -> &'a CheckLine {
    let found: Vec<&CheckLine> = report.lines.iter().filter(|l| l.check == check).collect();
    assert_eq!(found.len(), 1, "lines of {check}: {:#?}", report.lines);
    found[0]
}

fn assert_line(line: &CheckLine, status: CheckStatus, reason: &str) {
    assert_eq!(
        (line.status, line.reason.as_str()),
        (status, reason),
        "{line:#?}"
    );
}

fn assert_contains(text: &str, phrase: &str) {
    assert!(text.contains(phrase), "{phrase:?} not in {text:?}");
}

fn probe_apis(emulator: &Emulator) -> Vec<String> {
    apis(emulator)
        .into_keys()
        .filter(|name| name.starts_with(PROBE_API_PREFIX))
        .collect()
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// The config of an emulator that also knows principal `client_id`, holding only `role`
/// over `scope`.
fn with_principal(client_id: &str, role: Role, scope: &str) -> EmulatorConfig {
    let mut config = config();
    config.principals.push(Principal::with_secret(
        client_id,
        SECRET,
        vec![RoleAssignment::new(role, scope)],
    ));
    config
}

fn resource_group() -> String {
    format!(
        "/subscriptions/{DEFAULT_SUBSCRIPTION_ID}/resourceGroups/{}",
        apilink_emulator::DEFAULT_RESOURCE_GROUP
    )
}

#[tokio::test]
async fn a_caller_with_every_role_passes_every_check_without_writing() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    let (engine, caller) = default_caller(&emulator).await;
    emulator.clear_calls();
    let outcome = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    let report = &outcome.report;
    assert_eq!(check_ids(report), EVERY_READ_ONLY_CHECK);
    for line in &report.lines {
        assert_line(line, CheckStatus::Pass, "Ok");
    }
    assert!(report.can_sync());
    assert!(outcome.transient.is_none(), "{:?}", outcome.transient);

    let principal = Principal::default_for(DEFAULT_SUBSCRIPTION_ID);
    let credential = &line(report, checks::CREDENTIAL).summary;
    assert_eq!(
        credential,
        &format!(
            "the ClientSecret credential gave a token for application {DEFAULT_CLIENT_ID} (object id {}) in tenant {}",
            principal.object_id(),
            emulator.tenant_id()
        )
    );
    assert_contains(
        &line(report, checks::APIC_SERVICE).summary,
        "(Standard plan)",
    );
    assert_contains(
        &line(report, checks::APIC_METADATA).summary,
        &format!("the first pass creates the ownership schema {RECORD_KEY}"),
    );
    // A read-only check learns the reads left; the four APIs cost five writes each.
    let quota = &line(report, checks::ARM_QUOTA).summary;
    assert!(
        quota.starts_with("ARM reports ")
            && quota.ends_with(
                " reads left (writes left are reported on the first write) for this principal; a first sync makes about 20 writes"
            ),
        "{quota}"
    );
    assert!(!arm_calls(&emulator).is_empty());
    assert_eq!(writes(&emulator), Vec::<String>::new());
}

#[tokio::test]
async fn a_low_write_quota_warns_that_the_first_sync_will_be_paced() {
    let emulator = start(EmulatorConfig {
        throttle: ThrottleConfig {
            enabled: true,
            writes: BucketConfig {
                capacity: 12.0,
                refill_per_sec: 0.001,
            },
            ..ThrottleConfig::default()
        },
        ..config()
    })
    .await;
    let arm = arm_client(&emulator);
    // ARM reports the writes left only on a write: this client's own shows them.
    ApicClient::new(
        arm.clone(),
        emulator.api_center_resource_id(APIC).parse().unwrap(),
    )
    .put(
        &ApicPath::api("default", "partner-a").unwrap(),
        &ApiProperties {
            title: "Partner A".into(),
            kind: "rest".into(),
            ..ApiProperties::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    let engine = Engine::new(
        AzureClients::new(arm).with_apim_page_size(4),
        engine_options(),
    );
    let (_, caller) = default_caller(&emulator).await;
    let settings = settings(&emulator, LINK, json!({}));
    let outcome = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    let quota = line(&outcome.report, checks::ARM_QUOTA);
    assert_line(quota, CheckStatus::Warn, "WriteQuotaLow");
    assert_contains(
        &quota.summary,
        " reads and 11 writes left for this principal; a first sync makes about 20 writes",
    );
    assert!(outcome.report.can_sync(), "{:#?}", outcome.report.lines);
}

#[tokio::test]
async fn a_service_that_does_not_answer_makes_the_checks_run_again() {
    let emulator = start(config()).await;
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 503,
            code: "ServiceUnavailable".into(),
            retry_after_secs: None,
        })
        .method("GET")
        .path_contains(&format!("/services/{APIC}")),
    );
    let settings = settings(&emulator, LINK, json!({}));
    let (engine, caller) = default_caller(&emulator).await;
    let outcome = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    let report = &outcome.report;
    let service = line(report, checks::APIC_SERVICE);
    assert_line(service, CheckStatus::Fail, "AzureUnavailable");
    assert_eq!(
        service.remedy.as_deref(),
        Some("Azure did not answer usefully; this usually passes by itself: run the check again")
    );
    assert_line(
        line(report, checks::APIC_PERMISSIONS),
        CheckStatus::Warn,
        "PermissionsUnreadable",
    );
    assert_line(line(report, checks::APIM_SERVICE), CheckStatus::Pass, "Ok");
    let transient = outcome.transient.expect("a check to run again");
    assert_eq!(transient.reason, "AzureUnavailable");
    assert_contains(&transient.message, "reading the API Center service");
    assert!(!report.can_sync());
}

#[tokio::test]
async fn a_caller_without_the_api_center_role_is_told_which_role_to_grant() {
    let emulator = start(with_principal(
        APIM_READER,
        Role::ApiManagementServiceReader,
        &format!(
            "{}/providers/Microsoft.ApiManagement/service/{APIM}",
            resource_group()
        ),
    ))
    .await;
    let settings = settings(&emulator, LINK, json!({}));
    let (engine, caller) = signed_in(&emulator, APIM_READER, SECRET).await;
    let outcome = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    let report = &outcome.report;
    assert_eq!(
        check_ids(report),
        [
            checks::SPEC,
            checks::CREDENTIAL,
            checks::APIM_SERVICE,
            checks::APIM_PERMISSIONS,
            checks::APIM_INVENTORY,
            checks::APIC_SERVICE,
            checks::APIC_PERMISSIONS,
            checks::APIM_EXPORT,
            checks::ARM_QUOTA,
        ]
    );
    assert_line(
        line(report, checks::APIM_PERMISSIONS),
        CheckStatus::Pass,
        "Ok",
    );
    let service = line(report, checks::APIC_SERVICE);
    assert_line(service, CheckStatus::Fail, "AuthorizationFailed");
    assert_contains(&service.summary, "reading the API Center service");
    assert_contains(
        service.remedy.as_deref().unwrap(),
        "\"Azure API Center Service Contributor\"",
    );

    let permissions = line(report, checks::APIC_PERMISSIONS);
    assert_line(permissions, CheckStatus::Fail, PERMISSION_MISSING);
    let apic_id = emulator.api_center_resource_id(APIC);
    let object_id = Principal::with_secret(APIM_READER, SECRET, vec![]).object_id();
    assert_eq!(
        permissions.details,
        [format!(
            "az role assignment create --assignee-object-id {object_id} --assignee-principal-type ServicePrincipal --role \"Azure API Center Service Contributor\" --scope {apic_id}"
        )]
    );
    assert_contains(
        permissions.remedy.as_deref().unwrap(),
        "Azure API Center Service Contributor",
    );
    assert!(!report.can_sync());
    assert!(outcome.transient.is_none(), "{:?}", outcome.transient);
}

#[tokio::test]
async fn a_caller_without_the_apim_role_is_told_which_role_to_grant() {
    let emulator = start(with_principal(
        APIC_CONTRIBUTOR,
        Role::ApiCenterServiceContributor,
        &format!(
            "{}/providers/Microsoft.ApiCenter/services/{APIC}",
            resource_group()
        ),
    ))
    .await;
    let settings = settings(&emulator, LINK, json!({}));
    let (engine, caller) = signed_in(&emulator, APIC_CONTRIBUTOR, SECRET).await;
    emulator.clear_calls();
    let outcome = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    let report = &outcome.report;
    assert_eq!(
        check_ids(report),
        [
            checks::SPEC,
            checks::CREDENTIAL,
            checks::APIM_SERVICE,
            checks::APIM_PERMISSIONS,
            checks::APIC_SERVICE,
            checks::APIC_PERMISSIONS,
            checks::APIC_WORKSPACE,
            checks::APIC_METADATA,
            checks::ARM_QUOTA,
        ]
    );
    let service = line(report, checks::APIM_SERVICE);
    assert_line(service, CheckStatus::Fail, "AuthorizationFailed");
    assert_contains(&service.summary, "reading the APIM service");
    assert_contains(
        service.remedy.as_deref().unwrap(),
        "\"API Management Service Reader Role\"",
    );
    let permissions = line(report, checks::APIM_PERMISSIONS);
    assert_line(permissions, CheckStatus::Fail, PERMISSION_MISSING);
    let object_id = Principal::with_secret(APIC_CONTRIBUTOR, SECRET, vec![]).object_id();
    assert_eq!(
        permissions.details,
        [format!(
            "az role assignment create --assignee-object-id {object_id} --assignee-principal-type ServicePrincipal --role \"API Management Service Reader Role\" --scope {}",
            emulator.apim_resource_id(APIM)
        )]
    );
    for passed in [
        checks::APIC_SERVICE,
        checks::APIC_PERMISSIONS,
        checks::APIC_WORKSPACE,
        checks::APIC_METADATA,
    ] {
        assert_line(line(report, passed), CheckStatus::Pass, "Ok");
    }
    assert!(!report.can_sync());
    assert_eq!(report.counts().2, 2, "{:#?}", report.lines);
    assert_eq!(writes(&emulator), Vec::<String>::new());
}

#[tokio::test]
async fn a_missing_service_or_workspace_is_named_with_the_field_to_correct() {
    let emulator = start(config()).await;
    let (engine, caller) = default_caller(&emulator).await;
    let missing_apim = settings(
        &emulator,
        LINK,
        json!({"source": {"apimResourceId": emulator.apim_resource_id("no-such-apim")}}),
    );
    let outcome = engine
        .preflight(&missing_apim, &caller, SystemTime::now())
        .await;
    let report = &outcome.report;
    let service = line(report, checks::APIM_SERVICE);
    assert_line(service, CheckStatus::Fail, "NotFound");
    assert_contains(&service.summary, "no-such-apim");
    assert_eq!(
        service.remedy.as_deref(),
        Some(
            "check spec.source.apimResourceId: subscription, resource group and name must name an existing service the identity can see"
        )
    );
    // Nothing of APIM can be read, so neither the inventory nor the export is checked.
    assert!(!check_ids(report).contains(&checks::APIM_INVENTORY));
    assert!(!check_ids(report).contains(&checks::APIM_EXPORT));
    assert_line(
        line(report, checks::APIC_WORKSPACE),
        CheckStatus::Pass,
        "Ok",
    );
    assert_eq!(report.counts().2, 1, "{:#?}", report.lines);
    assert!(outcome.transient.is_none());

    let missing_workspace = settings(
        &emulator,
        LINK,
        json!({"target": {
            "apiCenterResourceId": emulator.api_center_resource_id(APIC),
            "workspace": "no-such-workspace",
        }}),
    );
    let outcome = engine
        .preflight(&missing_workspace, &caller, SystemTime::now())
        .await;
    let report = &outcome.report;
    let workspace = line(report, checks::APIC_WORKSPACE);
    assert_line(workspace, CheckStatus::Fail, "WorkspaceNotFound");
    assert_eq!(
        workspace.summary,
        "API Center has no workspace no-such-workspace"
    );
    // Without the workspace there is nothing to check the metadata or limits against.
    assert!(!check_ids(report).contains(&checks::APIC_METADATA));
    assert!(!check_ids(report).contains(&checks::APIC_LIMITS));
    assert_line(line(report, checks::APIM_SERVICE), CheckStatus::Pass, "Ok");
    assert_eq!(report.counts().2, 1, "{:#?}", report.lines);
}

#[tokio::test]
async fn a_caller_without_a_token_gets_only_the_spec_and_credential_lines() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    let (engine, caller) = signed_in(&emulator, DEFAULT_CLIENT_ID, "not-the-secret").await;
    assert!(caller.identity.is_err());
    emulator.clear_calls();
    let outcome = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    let report = &outcome.report;
    assert_eq!(check_ids(report), [checks::SPEC, checks::CREDENTIAL]);
    assert_line(line(report, checks::SPEC), CheckStatus::Pass, "Ok");
    let credential = line(report, checks::CREDENTIAL);
    assert_line(credential, CheckStatus::Fail, "AuthenticationFailed");
    assert_contains(
        &credential.summary,
        "getting an ARM token from ClientSecret",
    );
    assert_contains(
        credential.remedy.as_deref().unwrap(),
        "AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret",
    );
    assert!(!credential.summary.contains("not-the-secret"));
    assert!(!report.can_sync());
    assert!(
        arm_calls(&emulator).is_empty(),
        "{:?}",
        arm_calls(&emulator)
    );
}

#[tokio::test]
async fn metadata_the_organisation_requires_must_be_given_by_the_spec() {
    let emulator = start(config()).await;
    declare_metadata(
        &emulator,
        "owner",
        json!({"type": "string", "minLength": 3}),
        &[("api", true)],
    )
    .await;
    let (engine, caller) = default_caller(&emulator).await;
    let metadata_lines = |outcome: &PreflightOutcome| -> Vec<CheckLine> {
        outcome
            .report
            .lines
            .iter()
            .filter(|l| l.check == checks::APIC_METADATA)
            .cloned()
            .collect()
    };

    let bare = settings(&emulator, LINK, json!({}));
    let outcome = engine.preflight(&bare, &caller, SystemTime::now()).await;
    let lines = metadata_lines(&outcome);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_line(&lines[0], CheckStatus::Pass, "Ok");
    assert_contains(&lines[0].summary, "(one write; 1 schema(s) now)");
    assert_line(&lines[1], CheckStatus::Fail, "CustomPropertiesInvalid");
    assert_eq!(lines[1].details.len(), 1, "{:#?}", lines[1]);
    assert_contains(&lines[1].details[0], "metadata schema 'owner' requires");
    assert!(!outcome.report.can_sync());

    let filled = settings(
        &emulator,
        LINK,
        json!({"customProperties": {"api": {"owner": "platform-team"}}}),
    );
    let outcome = engine.preflight(&filled, &caller, SystemTime::now()).await;
    let lines = metadata_lines(&outcome);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_line(&lines[0], CheckStatus::Pass, "Ok");
    assert!(outcome.report.can_sync(), "{:#?}", outcome.report.lines);

    // An ownership schema narrowed so that records would be refused.
    put_raw_metadata_schema(
        &emulator,
        RECORD_KEY,
        &json!({"schema": r#"{"type":"string"}"#, "assignedTo": [{"entity": "api"}]}),
    )
    .await;
    let outcome = engine.preflight(&filled, &caller, SystemTime::now()).await;
    let lines = metadata_lines(&outcome);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_line(&lines[0], CheckStatus::Fail, "OwnershipSchemaIncompatible");
    assert_contains(&lines[0].summary, "not assigned to environment");
    assert_contains(
        lines[0].remedy.as_deref().unwrap(),
        "docs/ownership-record.md",
    );
}

/// Adds APIM APIs `bulk-{from}` up to (not including) `bulk-{to}`.
fn add_bulk_apis(emulator: &Emulator, from: usize, to: usize) {
    for i in from..to {
        let api = ApiSeed::new(&format!("bulk-{i:03}"), &format!("Bulk {i}"));
        emulator.apim().upsert_api(APIM, None, &api).unwrap();
    }
}

#[tokio::test]
async fn the_free_plan_limit_warns_at_eighty_percent_and_fails_beyond_it() {
    let emulator = start(EmulatorConfig {
        api_center_sku: ApicSku::Free,
        apim_page_size: 100,
        ..config()
    })
    .await;
    // Two APIs someone registered by hand count against the plan too.
    for name in ["partner-a", "partner-b"] {
        put_raw(
            &emulator,
            &format!("apis/{name}"),
            &json!({"title": name, "kind": "rest"}),
        )
        .await;
    }
    let settings = settings(&emulator, LINK, json!({"filter": {"include": ["bulk-*"]}}));
    let engine = Engine::new(AzureClients::new(arm_client(&emulator)), engine_options());
    let (_, caller) = default_caller(&emulator).await;
    let limits = async |engine: &Engine<AzureClients>| {
        let outcome = engine
            .preflight(&settings, &caller, SystemTime::now())
            .await;
        line(&outcome.report, checks::APIC_LIMITS).clone()
    };

    add_bulk_apis(&emulator, 0, 158);
    let at_eighty_percent = limits(&engine).await;
    assert_line(&at_eighty_percent, CheckStatus::Pass, "Ok");
    assert_eq!(
        at_eighty_percent.summary,
        "the workspace has 2 API(s); the link adds 158, 160 of the Free plan's 200"
    );

    add_bulk_apis(&emulator, 158, 159);
    let near = limits(&engine).await;
    assert_line(&near, CheckStatus::Warn, "ApiLimitNear");
    assert_contains(
        &near.summary,
        "the link adds 159, 161 of the Free plan's 200",
    );

    add_bulk_apis(&emulator, 159, 199);
    let beyond = limits(&engine).await;
    assert_line(&beyond, CheckStatus::Fail, "ApiLimitExceeded");
    assert_eq!(
        beyond.summary,
        "the workspace has 2 API(s); the link adds 199, 201 of the Free plan's 200"
    );
    assert_eq!(
        beyond.remedy.as_deref(),
        Some("narrow spec.filter or move API Center to the Standard plan")
    );
}

/// One probe against an API Center reading its contract as `contract`; returns the
/// probe's report after checking it cleaned up.
async fn probe_with(contract: ApicContract) -> CheckReport {
    let emulator = start(config()).await;
    emulator.set_apic_contract(contract);
    let settings = settings(&emulator, LINK, json!({}));
    let outcome = engine(&emulator)
        .probe_writes(&settings, SystemTime::now())
        .await;
    assert!(outcome.transient.is_none(), "{:?}", outcome.transient);
    let report = outcome.report;
    assert_eq!(
        check_ids(&report),
        [
            checks::PROBE_CUSTOM_PROPERTIES,
            checks::PROBE_CONDITIONAL_HEADERS,
            checks::PROBE_IMPORT,
            checks::PROBE_LEFTOVERS,
        ]
    );
    let cleanup = line(&report, checks::PROBE_LEFTOVERS);
    assert_line(cleanup, CheckStatus::Pass, "Ok");
    assert!(
        cleanup
            .summary
            .starts_with("the scratch API apilink-probe-")
            && cleanup.summary.ends_with(" was deleted"),
        "{cleanup:#?}"
    );
    assert_eq!(probe_apis(&emulator), Vec::<String>::new());
    assert_eq!(imports(&emulator).len(), 1, "{:?}", writes(&emulator));
    let scratch_prefix = format!("/workspaces/default/apis/{PROBE_API_PREFIX}");
    assert!(
        writes(&emulator)
            .iter()
            .all(|w| w.contains(&scratch_prefix)),
        "the probe writes only its scratch API: {:?}",
        writes(&emulator)
    );
    report
}

#[tokio::test]
async fn the_probe_learns_a_strict_api_center() {
    let report = probe_with(ApicContract::strict()).await;
    let custom = line(&report, checks::PROBE_CUSTOM_PROPERTIES);
    assert_line(custom, CheckStatus::Pass, "Ok");
    assert_contains(
        &custom.summary,
        "custom properties no metadata schema declares are refused (400)",
    );
    let conditional = line(&report, checks::PROBE_CONDITIONAL_HEADERS);
    assert_line(
        conditional,
        CheckStatus::Warn,
        "ConditionalHeadersNotHonoured",
    );
    assert_eq!(
        conditional.summary,
        "If-Match with a stale ETag is ignored (the write succeeds); If-None-Match: * on an existing entity is ignored (the write succeeds)"
    );
    let import = line(&report, checks::PROBE_IMPORT);
    assert_line(import, CheckStatus::Pass, "Ok");
    // The emulator finishes an operation on its second poll.
    assert_eq!(
        import.summary,
        "importSpecification answers 202 with Location, followed in 2 poll(s) to 200"
    );
}

#[tokio::test]
async fn the_probe_learns_an_api_center_that_drops_undeclared_properties() {
    let report = probe_with(ApicContract {
        undeclared_custom_properties: UndeclaredCustomProperties::Dropped,
        conditional_headers: ConditionalHeaders::Honoured,
        import_answer: ImportAnswer::LocationAndAsyncOperation,
        ..ApicContract::strict()
    })
    .await;
    let custom = line(&report, checks::PROBE_CUSTOM_PROPERTIES);
    assert_line(custom, CheckStatus::Warn, "UndeclaredPropertiesDropped");
    assert_contains(&custom.summary, "dropped silently");
    assert_contains(custom.remedy.as_deref().unwrap(), "CustomPropertyDropped");
    let conditional = line(&report, checks::PROBE_CONDITIONAL_HEADERS);
    assert_line(conditional, CheckStatus::Pass, "Ok");
    assert_eq!(
        conditional.summary,
        "If-Match with a stale ETag is honoured (412); If-None-Match: * on an existing entity is honoured (412)"
    );
    let import = line(&report, checks::PROBE_IMPORT);
    assert_line(import, CheckStatus::Pass, "Ok");
    // Two status polls, then the read of the result.
    assert_eq!(
        import.summary,
        "importSpecification answers 202 with Location and Azure-AsyncOperation, followed in 3 poll(s) to 200"
    );
}

#[tokio::test]
async fn the_probe_learns_a_lax_api_center_that_refuses_conditions() {
    let report = probe_with(ApicContract {
        undeclared_custom_properties: UndeclaredCustomProperties::Kept,
        conditional_headers: ConditionalHeaders::Refused,
        import_answer: ImportAnswer::Synchronous,
        ..ApicContract::strict()
    })
    .await;
    let custom = line(&report, checks::PROBE_CUSTOM_PROPERTIES);
    assert_line(custom, CheckStatus::Pass, "Ok");
    assert_contains(
        &custom.summary,
        "custom properties no metadata schema declares are kept",
    );
    let conditional = line(&report, checks::PROBE_CONDITIONAL_HEADERS);
    assert_line(
        conditional,
        CheckStatus::Warn,
        "ConditionalHeadersNotHonoured",
    );
    assert_eq!(
        conditional.summary,
        "If-Match with a stale ETag is refused (400; the link then writes without it); If-None-Match: * on an existing entity is refused (400; the link then writes without it)"
    );
    let import = line(&report, checks::PROBE_IMPORT);
    assert_line(import, CheckStatus::Pass, "Ok");
    assert_eq!(
        import.summary,
        "importSpecification completes at once (200)"
    );
}

/// Waits until a probe's scratch API has a definition (the probe's last step before
/// the import); returns its name.
async fn scratch_api_with_definition(emulator: &Emulator) -> String {
    for _ in 0..500 {
        let defined = probe_apis(emulator).into_iter().find(|name| {
            versions(emulator, name)
                .values()
                .any(|v| v["definitions"].as_object().is_some_and(|d| !d.is_empty()))
        });
        if let Some(name) = defined {
            return name;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no scratch API appeared: {:?}", apis(emulator).keys());
}

#[tokio::test]
async fn a_killed_probe_leaves_its_scratch_api_to_the_next_check_after_15_minutes() {
    let emulator = start(config()).await;
    emulator.add_fault(
        FaultRule::new(FaultKind::Latency { ms: 5_000 }).path_contains("/importSpecification"),
    );
    let settings = settings(&emulator, LINK, json!({}));
    let started = SystemTime::now();
    let probe = tokio::spawn({
        let engine = engine(&emulator);
        let settings = settings.clone();
        async move { engine.probe_writes(&settings, started).await }
    });
    let scratch = scratch_api_with_definition(&emulator).await;
    probe.abort();
    assert!(probe.await.unwrap_err().is_cancelled());
    emulator.clear_faults();
    assert_eq!(probe_apis(&emulator), [scratch.as_str()]);
    assert_eq!(
        apis(&emulator)[&scratch]["description"],
        json!(PROBE_DESCRIPTION)
    );

    let (engine, caller) = default_caller(&emulator).await;
    // A minute later the probe could still be running elsewhere: left alone.
    let outcome = engine
        .preflight(&settings, &caller, started + minutes(1))
        .await;
    assert!(!check_ids(&outcome.report).contains(&checks::PROBE_LEFTOVERS));
    assert_eq!(probe_apis(&emulator), [scratch.as_str()]);

    emulator.clear_calls();
    let outcome = engine
        .preflight(&settings, &caller, started + minutes(16))
        .await;
    let leftovers = line(&outcome.report, checks::PROBE_LEFTOVERS);
    assert_line(leftovers, CheckStatus::Pass, "Ok");
    assert_eq!(
        leftovers.summary,
        format!("removed 1 scratch API(s) of interrupted write probes: {scratch}")
    );
    assert_eq!(probe_apis(&emulator), Vec::<String>::new());
    assert!(outcome.report.can_sync(), "{:#?}", outcome.report.lines);
    // The removal is the only write a preflight makes (the killed probe's import may
    // still be answered late).
    let preflight_writes: Vec<String> = writes(&emulator)
        .into_iter()
        .filter(|w| !w.ends_with("/importSpecification"))
        .collect();
    assert_eq!(
        preflight_writes,
        [format!(
            "DELETE {}/workspaces/default/apis/{scratch}",
            emulator.api_center_resource_id(APIC)
        )]
    );
}

#[tokio::test]
async fn a_full_pass_removes_old_scratch_apis_and_nothing_that_only_looks_like_one() {
    let emulator = start(config()).await;
    let leftover = "apilink-probe-1000000000-0a1b2c";
    let lookalike = "apilink-probe-1000000000-d4e5f6";
    put_raw(
        &emulator,
        &format!("apis/{leftover}"),
        &json!({"title": "apilink write probe", "kind": "rest", "description": PROBE_DESCRIPTION}),
    )
    .await;
    put_raw(
        &emulator,
        &format!("apis/{lookalike}"),
        &json!({"title": "Gateway probe", "kind": "rest", "description": "The platform team's own probe"}),
    )
    .await;
    let settings = settings(&emulator, LINK, json!({}));
    let engine = engine(&emulator);
    sync(&engine, &settings, PassMode::Light).await;
    assert_eq!(probe_apis(&emulator), [leftover, lookalike]);
    sync(&engine, &settings, PassMode::Full).await;
    assert_eq!(probe_apis(&emulator), [lookalike]);
    sync(&engine, &settings, PassMode::Full).await;
    assert_eq!(probe_apis(&emulator), [lookalike]);
}

/// The failures of a pass, whether it ended well or not.
async fn pass_failures(
    engine: &Engine<AzureClients>,
    settings: &apilink_core::LinkSettings,
) -> Vec<OperationFailure> {
    match engine.sync_pass(settings, PassMode::Light).await {
        Ok(report) => report.failures,
        Err(e) => e.report.map(|r| r.failures).unwrap_or_else(|| {
            panic!(
                "the pass stopped before applying: {} {}",
                e.error.reason, e.error.message
            )
        }),
    }
}

#[tokio::test]
async fn a_dropped_ownership_record_is_caught_by_the_write_that_lost_it() {
    let emulator = start(config()).await;
    emulator.set_apic_contract(ApicContract {
        undeclared_custom_properties: UndeclaredCustomProperties::Dropped,
        ..ApicContract::strict()
    });
    let settings = settings(&emulator, LINK, json!({}));
    let engine = engine(&emulator);
    let first = sync(&engine, &settings, PassMode::Light).await;
    assert_eq!(first.created_metadata_schema.as_deref(), Some(RECORD_KEY));
    let echo = api_named(&emulator, "Echo API");
    assert!(apis(&emulator)[&echo]["customProperties"][RECORD_KEY].is_string());

    // Someone deletes the schema that declares the record.
    let apic = ApicClient::new(
        arm_client(&emulator),
        emulator.api_center_resource_id(APIC).parse().unwrap(),
    );
    assert!(
        apic.delete(&ApicPath::metadata_schema(RECORD_KEY).unwrap())
            .await
            .unwrap()
    );
    emulator
        .apim()
        .update_api(
            APIM,
            None,
            "echo-api",
            &ApiPatch {
                display_name: Some("Echo API (renamed)".into()),
                ..ApiPatch::default()
            },
        )
        .unwrap();
    emulator.clear_calls();
    // The same engine has seen the schema in place and does not read it again.
    let failures = pass_failures(&engine, &settings).await;
    assert!(
        !reads(&emulator)
            .iter()
            .any(|r| r.contains("/metadataSchemas")),
        "{:?}",
        reads(&emulator)
    );
    assert_eq!(failures.len(), 1, "{failures:#?}");
    let failure = &failures[0];
    assert_eq!(failure.reason, "CustomPropertyDropped", "{failure:#?}");
    assert_eq!(failure.api.as_deref(), Some(echo.as_str()));
    assert_contains(&failure.message, RECORD_KEY);
}

#[tokio::test]
async fn a_link_sharing_its_apis_is_told_about_the_schema_of_its_share() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({"apiIdentity": {"scope": "Shared"}}));
    let (engine, caller) = default_caller(&emulator).await;
    let key = apilink_core::shared::shared_record_key(&settings.link);
    let metadata = |report: &CheckReport| -> Vec<String> {
        report
            .lines
            .iter()
            .filter(|l| l.check == checks::APIC_METADATA)
            .map(|l| l.summary.clone())
            .collect()
    };
    let before = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    assert!(before.report.can_sync());
    assert!(
        metadata(&before.report).contains(&format!(
            "the first pass creates the schema {key} of this link's share of shared APIs (one write)"
        )),
        "{:?}",
        metadata(&before.report)
    );
    sync(&engine, &settings, PassMode::Light).await;
    let after = engine
        .preflight(&settings, &caller, SystemTime::now())
        .await;
    assert!(
        metadata(&after.report).contains(&format!(
            "the schema {key} of this link's share of shared APIs is in place"
        )),
        "{:?}",
        metadata(&after.report)
    );
}
