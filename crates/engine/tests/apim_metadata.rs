//! APIM tags and products as API Center custom properties (`spec.apimMetadata`) over
//! HTTPS against the emulator, read strictly: the first pass creates the schemas and the
//! values, a tag added in APIM is one API update in the next light pass, an API
//! Center-owned mapping keeps a person's edit, a schema that cannot hold the values stops
//! the pass before any write, and the steady state costs no write and only the minimum
//! reads (which now include the tag and product lists).

#![allow(clippy::unwrap_used)]
mod support;

use apilink_core::operation::Action;
use apilink_core::ownership::EntityKind;
use apilink_core::{ErrorClass, LinkSettings};
use apilink_emulator::Emulator;
use apilink_engine::{PassMode, PassPhase};
use serde_json::{Value, json};
use support::*;

const TAGS: &str = "apim-tags";
const PRODUCTS: &str = "apim-products";

/// A link mapping tags and products, each owned by `owner` (`Apim` or `ApiCenter`).
fn mapped(emulator: &Emulator, id: &str, owner: &str) -> LinkSettings {
    settings(
        emulator,
        id,
        json!({"apimMetadata": {
            "tags": {"customProperty": TAGS, "owner": owner},
            "products": {"customProperty": PRODUCTS, "owner": owner},
        }}),
    )
}

fn custom(emulator: &Emulator, title: &str) -> Value {
    apis(emulator)[&api_named(emulator, title)]["customProperties"].clone()
}

fn values(emulator: &Emulator, title: &str) -> (Value, Value) {
    let properties = custom(emulator, title);
    (properties[TAGS].clone(), properties[PRODUCTS].clone())
}

fn schema_writes(emulator: &Emulator) -> Vec<String> {
    writes(emulator)
        .into_iter()
        .filter(|w| w.contains("/metadataSchemas/"))
        .collect()
}

#[tokio::test]
async fn the_first_pass_creates_the_schemas_and_the_values() {
    let emulator = start(config()).await;
    let settings = mapped(&emulator, "tests/metadata", "Apim");
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let mut created: Vec<String> = schema_writes(&emulator)
        .iter()
        .map(|w| w.rsplit('/').next().unwrap().to_string())
        .collect();
    created.sort();
    assert_eq!(created, ["apilink-ownership", PRODUCTS, TAGS]);
    let snapshot = emulator.api_center().snapshot(APIC).unwrap();
    let schema = &snapshot["metadataSchemas"][TAGS]["properties"];
    assert_eq!(
        serde_json::from_str::<Value>(schema["schema"].as_str().unwrap()).unwrap(),
        json!({"type": "array", "items": {"type": "string"}})
    );
    assert_eq!(schema["assignedTo"][0]["entity"], "api");
    assert_eq!(schema["assignedTo"][0]["required"], false);

    assert_eq!(
        values(&emulator, "Echo API"),
        (json!(["Public"]), json!(["Starter"]))
    );
    assert_eq!(
        values(&emulator, "Petstore"),
        (json!(["Beta", "Pets"]), json!(["Starter", "Unlimited"]))
    );
    assert_eq!(
        values(&emulator, "Weather Service"),
        (json!([]), json!(["Unlimited"]))
    );
    assert_eq!(values(&emulator, "Product Catalog"), (json!([]), json!([])));
    assert!(
        custom(&emulator, "Echo API")
            .get("$apimOwnedCustomProperties")
            .is_none()
    );
    assert_converged(&emulator, &settings).await;

    emulator.clear_calls();
    let again = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(again.totals().planned, 0);
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
}

#[tokio::test]
async fn a_tag_added_in_apim_shows_after_the_next_light_pass_with_one_api_update() {
    let emulator = start(config()).await;
    let settings = mapped(&emulator, "tests/metadata", "Apim");
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let echo = api_named(&emulator, "Echo API");

    emulator
        .apim()
        .add_api_tag(APIM, "echo-api", "partner", Some("Partner"))
        .unwrap();
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(report.counts(EntityKind::Api, Action::Update).written, 1);
    // The new source hash goes into the API's record in the same request.
    assert_eq!(
        report.counts(EntityKind::Api, Action::WriteMarker).planned,
        0
    );
    let path = format!("/workspaces/default/apis/{echo}");
    let written = writes(&emulator);
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written
            .iter()
            .all(|w| w.starts_with("PUT ") && w.ends_with(&path))
    );
    assert!(imports(&emulator).is_empty());
    assert_eq!(
        values(&emulator, "Echo API").0,
        json!(["Partner", "Public"])
    );
    assert_converged(&emulator, &settings).await;

    // Every tag taken off: the property holds an empty array.
    for tag in ["partner", "public"] {
        emulator
            .apim()
            .remove_api_tag(APIM, "echo-api", tag)
            .unwrap();
    }
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(values(&emulator, "Echo API").0, json!([]));
    emulator.clear_calls();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
}

/// Replaces the value of `property` on the API titled `title`, as a person would in the
/// portal (the whole API is read and written back).
async fn edit_by_hand(emulator: &Emulator, title: &str, property: &str, value: Value) {
    let name = api_named(emulator, title);
    let mut properties = apis(emulator)[&name].clone();
    properties["customProperties"][property] = value;
    properties.as_object_mut().unwrap().remove("lifecycleStage");
    put_raw(emulator, &format!("apis/{name}"), &properties).await;
}

#[tokio::test]
async fn an_api_center_owned_mapping_keeps_a_person_s_edit() {
    let emulator = start(config()).await;
    let settings = mapped(&emulator, "tests/curated", "ApiCenter");
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    assert_eq!(
        values(&emulator, "Echo API"),
        (json!(["Public"]), json!(["Starter"]))
    );
    edit_by_hand(&emulator, "Echo API", TAGS, json!(["Curated"])).await;
    emulator
        .apim()
        .add_api_tag(APIM, "echo-api", "partner", None)
        .unwrap();
    emulator.clear_calls();
    let report = sync(&engine(&emulator), &settings, PassMode::Full).await;
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
    assert_eq!(report.totals().planned, 0);
    assert_eq!(values(&emulator, "Echo API").0, json!(["Curated"]));

    // An APIM-owned mapping repairs the same edit in the next light pass.
    let emulator = start(config()).await;
    let owned = mapped(&emulator, "tests/owned", "Apim");
    sync(&engine(&emulator), &owned, PassMode::Light).await;
    edit_by_hand(&emulator, "Echo API", TAGS, json!(["Curated"])).await;
    let report = sync(&engine(&emulator), &owned, PassMode::Light).await;
    assert_eq!(report.counts(EntityKind::Api, Action::Update).written, 1);
    assert_eq!(values(&emulator, "Echo API").0, json!(["Public"]));
}

#[tokio::test]
async fn a_schema_that_cannot_hold_the_values_stops_the_pass_before_any_write() {
    let emulator = start(config()).await;
    put_raw_metadata_schema(
        &emulator,
        TAGS,
        &json!({"schema": r#"{"type":"string"}"#, "assignedTo": [{"entity": "api"}]}),
    )
    .await;
    let settings = mapped(&emulator, "tests/metadata", "Apim");
    emulator.clear_calls();
    let error = engine(&emulator)
        .sync_pass(&settings, PassMode::Light)
        .await
        .unwrap_err();
    assert_eq!(error.phase, PassPhase::Metadata);
    assert_eq!(error.class, ErrorClass::NeedsUser);
    assert_eq!(error.reason, "ApimMetadataSchemaIncompatible");
    assert!(error.message.contains(TAGS), "{}", error.message);
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));

    // A compatible schema someone made is used as it is.
    let theirs = json!({
        "schema": r#"{"type":"array","title":"APIM tags","items":{"type":"string","maxLength":100}}"#,
        "assignedTo": [{"entity": "api", "required": false}],
    });
    put_raw_metadata_schema(&emulator, TAGS, &theirs).await;
    emulator.clear_calls();
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    let created: Vec<String> = schema_writes(&emulator);
    assert_eq!(created.len(), 2, "{created:?}");
    assert!(!created.iter().any(|w| w.ends_with(&format!("/{TAGS}"))));
    assert_eq!(values(&emulator, "Echo API").0, json!(["Public"]));
}

/// Reads whose path ends with `suffix`.
fn reads_of(emulator: &Emulator, suffix: &str) -> usize {
    reads(emulator)
        .iter()
        .filter(|r| r.split('?').next().unwrap().ends_with(suffix))
        .count()
}

#[tokio::test]
async fn the_steady_state_costs_no_write_and_the_minimum_reads() {
    let emulator = start(config()).await;
    let settings = mapped(&emulator, "tests/steady", "Apim");
    sync(&engine(&emulator), &settings, PassMode::Light).await;
    // As without a mapping: the service, 5 current APIM APIs in pages of 4, the version
    // sets, 4 API Center APIs in pages of 3 and the environment; then 5 tag associations
    // in pages of 4, the 2 products and one API list per product.
    let minimum = (1 + 2 + 1 + 2 + 1) + (2 + 1 + 2);
    for i in 0..3 {
        emulator.clear_calls();
        let report = sync(&engine(&emulator), &settings, PassMode::Light).await;
        assert!(
            writes(&emulator).is_empty(),
            "pass {i}: {:?}",
            writes(&emulator)
        );
        assert_eq!(
            reads(&emulator).len(),
            minimum,
            "pass {i}: {:#?}",
            reads(&emulator)
        );
        assert_eq!(report.arm.reads as usize, minimum);
        assert_eq!((report.details_read, report.exports), (0, 0));
        assert_eq!(reads_of(&emulator, "/tagResources"), 2);
        assert_eq!(reads_of(&emulator, "/products"), 1);
        assert_eq!(reads_of(&emulator, "/products/starter/apis"), 1);
        assert_eq!(reads_of(&emulator, "/products/unlimited/apis"), 1);
    }
    // A link without the mapping reads none of it.
    let plain = settings_of_plain(&emulator);
    sync(&engine(&emulator), &plain, PassMode::Light).await;
    emulator.clear_calls();
    sync(&engine(&emulator), &plain, PassMode::Light).await;
    assert_eq!(reads_of(&emulator, "/tagResources"), 0);
    assert_eq!(reads_of(&emulator, "/products"), 0);
}

fn settings_of_plain(emulator: &Emulator) -> LinkSettings {
    settings(
        emulator,
        "tests/plain",
        json!({"filter": {"include": ["echo-*"]}}),
    )
}
