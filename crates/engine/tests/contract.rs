//! The engine under the strictest reading of API Center's 2024-03-01 contract, and under
//! the lax one: the ownership record declared by a metadata schema, metadata the
//! organisation requires, imports that fail on their `Location` poll, conditional headers
//! honoured / ignored / refused, records of earlier versions upgraded in place, and
//! APIM values clipped to API Center's limits.

#![allow(clippy::unwrap_used)]
mod support;

use std::collections::BTreeMap;

use apilink_azure::ErrorClass;
use apilink_core::marker::{ApiMarker, RECORD_KEY};
use apilink_core::operation::Action;
use apilink_core::ownership::EntityKind;
use apilink_core::plan::Warning;
use apilink_emulator::apim::model::Contact;
use apilink_emulator::apim::{ApiPatch, ApiSeed};
use apilink_emulator::{
    ApicContract, ConditionalHeaders, Emulator, FaultKind, FaultRule, UndeclaredCustomProperties,
};
use apilink_engine::{PassMode, PassPhase};
use serde_json::{Value, json};
use support::*;

const LINK: &str = "tests/contract";

fn metadata_writes(emulator: &Emulator) -> Vec<String> {
    writes(emulator)
        .into_iter()
        .filter(|w| w.contains("/metadataSchemas/"))
        .collect()
}

fn schema_of(emulator: &Emulator, name: &str) -> Value {
    emulator.api_center().snapshot(APIC).unwrap()["metadataSchemas"][name].clone()
}

#[tokio::test]
async fn the_first_pass_declares_the_record_and_later_passes_only_read_the_schema() {
    let emulator = start(config()).await;
    assert_eq!(
        emulator.apic_contract().undeclared_custom_properties,
        UndeclaredCustomProperties::Refused
    );
    let settings = settings(&emulator, LINK, json!({}));
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.created_metadata_schema.as_deref(), Some(RECORD_KEY));
    assert_eq!(
        metadata_writes(&emulator).len(),
        1,
        "{:?}",
        writes(&emulator)
    );
    assert_converged(&emulator, &settings).await;
    for (name, api) in apis(&emulator) {
        let record = api["customProperties"][RECORD_KEY].as_str().unwrap();
        let marker = ApiMarker::decode(record).unwrap();
        assert_eq!(marker.link, LINK, "{name}");
        assert!(api["customProperties"].get("apilink").is_none());
    }
    // A person edits the schema compatibly (a title of their own): kept as it is.
    let mut schema = schema_of(&emulator, RECORD_KEY)["properties"].clone();
    schema["schema"] = json!(r#"{"type":"string","title":"Owned by the platform team's apilink"}"#);
    put_raw_metadata_schema(&emulator, RECORD_KEY, &schema).await;
    emulator.clear_calls();
    // A new API makes the next pass write: the schema is read, not written again.
    emulator
        .apim()
        .upsert_api(APIM, None, &ApiSeed::new("orders", "Orders"))
        .unwrap();
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.created_metadata_schema, None);
    assert!(metadata_writes(&emulator).is_empty());
    assert_eq!(
        schema_of(&emulator, RECORD_KEY)["properties"]["schema"],
        schema["schema"]
    );
    // Cleanup leaves the schema: other links use it.
    engine(&emulator).cleanup(&settings, false).await.unwrap();
    assert!(apis(&emulator).is_empty());
    assert!(schema_of(&emulator, RECORD_KEY).is_object());
}

#[tokio::test]
async fn an_incompatible_schema_or_a_refused_schema_write_stops_the_pass_before_any_write() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    emulator.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 403,
            code: "AuthorizationFailed".into(),
            retry_after_secs: None,
        })
        .method("PUT")
        .path_contains("/metadataSchemas/"),
    );
    let error = engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await
        .unwrap_err();
    assert_eq!(error.phase, PassPhase::Metadata);
    assert_eq!(error.class, ErrorClass::NeedsUser);
    assert!(error.message.contains(RECORD_KEY), "{}", error.message);
    assert_eq!(writes(&emulator).len(), 1, "only the refused schema write");
    emulator.clear_faults();

    // A schema someone narrowed so that records would be refused is reported, not fixed.
    put_raw_metadata_schema(
        &emulator,
        RECORD_KEY,
        &json!({"schema": r#"{"type":"string"}"#, "assignedTo": [{"entity": "api"}]}),
    )
    .await;
    emulator.clear_calls();
    let error = engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await
        .unwrap_err();
    assert_eq!(error.reason, "OwnershipSchemaIncompatible");
    assert!(
        error.message.contains("not assigned to environment"),
        "{}",
        error.message
    );
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
}

#[tokio::test]
async fn metadata_the_organisation_requires_is_checked_before_writing_and_filled_by_the_spec() {
    let emulator = start(config()).await;
    declare_metadata(
        &emulator,
        "owner",
        json!({"type": "string", "minLength": 3}),
        &[("api", true)],
    )
    .await;
    emulator.clear_calls();
    let bare = settings(&emulator, LINK, json!({}));
    let error = engine(&emulator)
        .sync_pass(&bare, PassMode::Light)
        .await
        .unwrap_err();
    assert_eq!(error.phase, PassPhase::Metadata);
    assert_eq!(error.reason, "CustomPropertiesInvalid");
    assert!(
        error.message.contains("metadata schema 'owner' requires"),
        "{}",
        error.message
    );
    assert!(
        writes(&emulator)
            .iter()
            .all(|w| w.contains("/metadataSchemas/")),
        "nothing but the link's own schema is written: {:?}",
        writes(&emulator)
    );
    let wrong = settings(
        &emulator,
        LINK,
        json!({"customProperties": {"api": {"owner": 42}}}),
    );
    let error = engine(&emulator)
        .sync_pass(&wrong, PassMode::Light)
        .await
        .unwrap_err();
    assert!(
        error.message.contains("must be of type string"),
        "{}",
        error.message
    );

    let filled = settings(
        &emulator,
        LINK,
        json!({"customProperties": {"api": {"owner": "platform-team"}}}),
    );
    sync(&engine(&emulator), &filled, PassMode::Light).await;
    assert_converged(&emulator, &filled).await;
    assert!(
        apis(&emulator)
            .values()
            .all(|api| api["customProperties"]["owner"] == "platform-team")
    );
}

#[tokio::test]
async fn an_import_failing_on_its_poll_fails_that_definition_only_and_is_retried() {
    let emulator = start(config()).await;
    let settings = settings(&emulator, LINK, json!({}));
    emulator.add_fault(
        FaultRule::new(FaultKind::ImportFails {
            code: "InvalidApiSpecification".into(),
            message: "The document is not a valid OpenAPI document.".into(),
        })
        .path_contains("/importSpecification")
        .times(1),
    );
    let report = engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await
        .expect("a failed import is that API's failure, not the pass's");
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    assert!(report.failures[0].is_confined_to_its_api());
    let failure = &report.failures[0];
    assert!(
        failure.operation.starts_with("import definition"),
        "{failure}"
    );
    assert!(
        failure.to_string().contains("InvalidApiSpecification"),
        "{failure}"
    );
    assert!(
        failure.to_string().contains("not a valid OpenAPI document"),
        "{failure}"
    );
    let failed_api = failure.api.clone().unwrap();
    // Every API was created with its whole ledger, so none needed a record write; the
    // failed one was marked unconfirmed (no source hash), the others are complete.
    assert_eq!(
        report.counts(EntityKind::Api, Action::WriteMarker).planned,
        0
    );
    let records: BTreeMap<String, String> = apis(&emulator)
        .into_iter()
        .map(|(name, api)| {
            let record = api["customProperties"][RECORD_KEY]
                .as_str()
                .unwrap()
                .to_string();
            (name, record)
        })
        .collect();
    for (name, record) in &records {
        assert_eq!(
            record.contains(" sh="),
            name != &failed_api,
            "{name}: {record}"
        );
    }
    // The environment keeps no token: every API the pass created is complete or marked.
    assert_eq!(
        environment_record(&emulator, &settings),
        format!("apilink/2 link={LINK}")
    );
    // The next pass reads that API's children alone and imports its definition.
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.imports, 1);
    assert_eq!(report.details_read, 1);
    assert_converged(&emulator, &settings).await;
}

async fn converge_and_count_refusals(headers: ConditionalHeaders) -> (usize, usize) {
    let emulator = start(config()).await;
    emulator.set_apic_contract(ApicContract {
        conditional_headers: headers,
        ..ApicContract::strict()
    });
    let settings = settings(&emulator, LINK, json!({}));
    let engine = engine(&emulator);
    sync(&engine, &settings, PassMode::Light).await;
    // An APIM change makes the next pass update through the read-merge-write path.
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
    sync(&engine, &settings, PassMode::Light).await;
    assert_converged(&emulator, &settings).await;
    let refused = arm_calls(&emulator)
        .iter()
        .filter(|c| c.status == 400)
        .count();
    emulator.clear_calls();
    let steady = sync(&support::engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(steady.arm.mutations(), 0);
    (refused, writes(&emulator).len())
}

#[tokio::test]
async fn conditional_headers_honoured_ignored_or_refused_all_converge() {
    for headers in [
        ConditionalHeaders::Honoured,
        ConditionalHeaders::Ignored,
        ConditionalHeaders::Refused,
    ] {
        let (refused, steady_writes) = converge_and_count_refusals(headers).await;
        let expected = usize::from(headers == ConditionalHeaders::Refused);
        assert_eq!(
            refused, expected,
            "{headers:?}: at most one refused request, then plain requests for the client's life"
        );
        assert_eq!(steady_writes, 0, "{headers:?}");
    }
}

/// Rewrites every record of the link into the undeclared JSON form earlier versions
/// wrote (only a lax service would have kept those).
async fn downgrade_records(emulator: &Emulator) {
    let snapshot = workspace(emulator);
    let legacy_entity = json!({"link": LINK});
    for (api, node) in snapshot["apis"].as_object().unwrap() {
        let mut properties = node["properties"].clone();
        let marker =
            ApiMarker::decode(properties["customProperties"][RECORD_KEY].as_str().unwrap())
                .unwrap();
        let mut legacy = serde_json::to_value(&marker).unwrap();
        // Earlier versions kept whole hashes; the short ones are their prefixes.
        legacy["sourceHash"] = json!(format!("{}{}", marker.source_hash.unwrap(), "0".repeat(48)));
        properties["customProperties"] = json!({"apilink": legacy});
        properties.as_object_mut().unwrap().remove("lifecycleStage");
        put_raw(emulator, &format!("apis/{api}"), &properties).await;
        for (dep, dep_node) in node["deployments"].as_object().unwrap() {
            let mut properties = dep_node["properties"].clone();
            properties["customProperties"] = json!({"apilink": legacy_entity});
            put_raw(
                emulator,
                &format!("apis/{api}/deployments/{dep}"),
                &properties,
            )
            .await;
        }
    }
    for (env, node) in snapshot["environments"].as_object().unwrap() {
        let mut properties = node["properties"].clone();
        properties["customProperties"] = json!({"apilink": legacy_entity});
        put_raw(emulator, &format!("environments/{env}"), &properties).await;
    }
}

#[tokio::test]
async fn records_of_earlier_versions_are_rewritten_once_without_reimports() {
    let emulator = start(config()).await;
    emulator.set_apic_contract(ApicContract::lax());
    let settings = settings(&emulator, LINK, json!({}));
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let apis_before = apis(&emulator).len();
    downgrade_records(&emulator).await;
    assert!(workspace(&emulator).to_string().contains("\"apilink\":{"));
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.imports, 0, "no re-import");
    assert_eq!(report.exports, 0, "no re-export");
    for kind in [
        EntityKind::Api,
        EntityKind::Version,
        EntityKind::Definition,
        EntityKind::Deployment,
    ] {
        assert_eq!(report.counts(kind, Action::Create).written, 0, "{kind:?}");
        assert_eq!(report.counts(kind, Action::Delete).written, 0, "{kind:?}");
    }
    assert_eq!(apis(&emulator).len(), apis_before, "no duplicates");
    assert!(!workspace(&emulator).to_string().contains("\"apilink\":{"));
    // Now a strict service accepts everything the link holds, and nothing is left to do.
    emulator.set_apic_contract(ApicContract::strict());
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &settings, PassMode::Full).await;
    assert_eq!(report.arm.mutations(), 0, "{:?}", writes(&emulator));
    assert_converged(&emulator, &settings).await;
}

#[tokio::test]
async fn apim_values_beyond_api_center_limits_are_clipped_with_warnings() {
    let emulator = start(config()).await;
    let mut api = ApiSeed::new(
        "partners",
        &"Partner onboarding and settlement API ".repeat(3),
    );
    api.contact = Some(Contact {
        name: Some("N".repeat(150)),
        url: Some("partners.example.com/contact".into()),
        email: Some("not an address".into()),
    });
    api.terms_of_service_url = Some(format!("https://example.com/{}", "t".repeat(200)));
    emulator.apim().upsert_api(APIM, None, &api).unwrap();
    let settings = settings(&emulator, LINK, json!({}));
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    let adjusted: Vec<String> = report
        .warnings
        .iter()
        .filter(|w| matches!(w, Warning::ValueAdjusted { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(adjusted.len(), 5, "{adjusted:#?}");
    let name = api_named(
        &emulator,
        &"Partner onboarding and settlement API ".repeat(3)[..50],
    );
    let synced = &apis(&emulator)[&name];
    assert_eq!(synced["title"].as_str().unwrap().chars().count(), 50);
    assert_eq!(
        synced["contacts"][0]["name"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        100
    );
    assert!(synced["contacts"][0].get("url").is_none());
    assert!(synced["contacts"][0].get("email").is_none());
    assert!(synced.get("termsOfService").is_none());
    assert_converged(&emulator, &settings).await;
}
