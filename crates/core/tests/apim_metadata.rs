//! APIM tags and products as API Center custom properties (`spec.apimMetadata`): the
//! spec's checks, the values the mapping gives, who owns them once the API exists, the
//! source hash, the planner's passes, the metadata schemas and the slim API list.

#![allow(clippy::unwrap_used)]
mod support;

use apilink_core::Coverage;
use apilink_core::desired::{DesiredApi, DesiredState};
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::desired_state_with_metadata;
use apilink_core::metadata::{
    Assignment, MappedSchema, MetadataSchema, apim_metadata_schema, check_custom_properties,
    mapped_schema_state,
};
use apilink_core::observed::{ApimApiTag, ApimMetadata, ApimProduct, planned_members};
use apilink_core::operation::{Intent, Operation};
use apilink_core::ownership::{
    APIM_OWNED_CUSTOM_PROPERTIES, EntityKind, apim_owned_properties, merge_for_update,
    properties_for_create,
};
use apilink_core::plan::Plan;
use apilink_core::planner::{details_needed, exports_needed, plan};
use apilink_core::spec::{
    ApimMetadataSpec, FilterSpec, ImportSpecification, LinkSettings, LinkSpec, MetadataMappingSpec,
    MetadataOwner,
};
use serde_json::{Value, json};
use support::apim::{ApimModel, api, member, service, set};
use support::sim::Sim;
use support::{settings_for, spec};

fn mapping(property: &str, owner: MetadataOwner) -> Option<MetadataMappingSpec> {
    Some(MetadataMappingSpec {
        custom_property: property.into(),
        owner,
    })
}

fn spec_with(metadata: ApimMetadataSpec) -> LinkSpec {
    let mut s = spec(ImportSpecification::Always, None, FilterSpec::default());
    s.apim_metadata = metadata;
    s
}

/// A link mapping tags to `apim-tags` and products to `apim-products`, both owned by
/// `owner`.
fn linked(owner: MetadataOwner) -> LinkSettings {
    settings_for(
        "ns/a",
        &spec_with(ApimMetadataSpec {
            tags: mapping("apim-tags", owner),
            products: mapping("apim-products", owner),
        }),
    )
}

fn echo_ref() -> ApimApiRef {
    ApimApiRef {
        workspace: None,
        api_id: "echo-api".into(),
    }
}

fn tag(api_id: &str, tag: &str) -> ApimApiTag {
    ApimApiTag {
        api: ApimApiRef {
            workspace: None,
            api_id: api_id.into(),
        },
        tag: tag.into(),
    }
}

fn product(id: &str, name: &str, apis: &[&str]) -> (ApimProduct, Vec<ApimApiRef>) {
    (
        ApimProduct {
            id: id.into(),
            display_name: name.into(),
        },
        apis.iter()
            .map(|a| ApimApiRef {
                workspace: None,
                api_id: (*a).into(),
            })
            .collect(),
    )
}

fn model(apis: Vec<apilink_core::observed::ApimApi>) -> ApimModel {
    ApimModel {
        service: service(),
        apis,
        version_sets: vec![set("petstore", "Petstore", None)],
        ..ApimModel::default()
    }
}

fn echo_and_petstore() -> ApimModel {
    model(vec![
        api("echo-api", "Echo API", "echo", None),
        member("petstore-v1", "petstore", Some("v1"), None),
        member("petstore-v2", "petstore", Some("v2"), None),
    ])
}

fn desired(settings: &LinkSettings, apim: &ApimModel, metadata: &ApimMetadata) -> DesiredState {
    desired_state_with_metadata(settings, &apim.observed(), metadata)
}

fn api_titled<'a>(state: &'a DesiredState, title: &str) -> &'a DesiredApi {
    state
        .apis
        .iter()
        .find(|a| a.properties.value()["title"] == title)
        .unwrap()
}

fn problem_fields(spec: &LinkSpec) -> Vec<String> {
    spec.validate()
        .err()
        .map(|e| e.problems.into_iter().map(|p| p.field).collect())
        .unwrap_or_default()
}

#[test]
fn the_spec_parses_with_apim_as_the_default_owner() {
    let yaml = format!(
        "source: {{apimResourceId: {}}}\ntarget: {{apiCenterResourceId: {}}}\n\
         apimMetadata:\n  tags: {{customProperty: apim-tags}}\n  products: {{customProperty: apim-products, owner: ApiCenter}}\n",
        support::APIM_ID,
        support::APIC_ID
    );
    let parsed: LinkSpec = serde_yaml::from_str(&yaml).unwrap();
    let settings = settings_for("ns/a", &parsed);
    assert_eq!(
        settings.apim_metadata.tags,
        mapping("apim-tags", MetadataOwner::Apim)
    );
    assert_eq!(
        settings.apim_metadata.apim_owned().collect::<Vec<_>>(),
        vec!["apim-tags"]
    );
    assert_eq!(
        settings
            .apim_metadata
            .custom_properties()
            .collect::<Vec<_>>(),
        vec!["apim-tags", "apim-products"]
    );
    let text = serde_json::to_string(&schemars::schema_for!(LinkSpec)).unwrap();
    assert!(text.contains("apimMetadata") && text.contains("customProperty"));
}

#[test]
fn mapped_custom_properties_are_checked() {
    let tags_only = |name: &str| ApimMetadataSpec {
        tags: mapping(name, MetadataOwner::Apim),
        products: None,
    };
    let field = "spec.apimMetadata.tags.customProperty".to_string();
    for bad in ["apilink-ownership", "APILINK", "no", "has space", "x_y"] {
        assert_eq!(
            problem_fields(&spec_with(tags_only(bad))),
            vec![field.clone()],
            "{bad}"
        );
    }
    assert!(problem_fields(&spec_with(tags_only("apim-tags"))).is_empty());

    let mut colliding = spec_with(tags_only("team"));
    colliding
        .custom_properties
        .api
        .insert("Team".into(), json!("x"));
    assert_eq!(problem_fields(&colliding), vec![field]);

    let same = ApimMetadataSpec {
        tags: mapping("labels", MetadataOwner::Apim),
        products: mapping("labels", MetadataOwner::ApiCenter),
    };
    assert_eq!(
        problem_fields(&spec_with(same)),
        vec!["spec.apimMetadata.products.customProperty"]
    );

    let mut crowded = spec_with(tags_only("apim-tags"));
    for i in 0..19 {
        crowded
            .custom_properties
            .api
            .insert(format!("prop-{i}"), json!(i));
    }
    assert_eq!(problem_fields(&crowded), vec!["spec.apimMetadata"]);
}

#[test]
fn values_are_the_sorted_display_names_and_a_version_set_takes_its_members_union() {
    let settings = linked(MetadataOwner::Apim);
    let metadata = ApimMetadata::from_reads(
        vec![
            tag("echo-api", "public"),
            tag("ECHO-API", "Beta"),
            tag("echo-api", "public"),
            tag("petstore-v1", "pets"),
            tag("petstore-v2", "Beta"),
            tag("petstore-v2", "pets"),
        ],
        vec![
            product("starter", "Starter", &["echo-api", "petstore-v2"]),
            product("gold", "Gold", &["petstore-v1"]),
            product("empty", "Empty", &[]),
        ],
    );
    let state = desired(&settings, &echo_and_petstore(), &metadata);
    let echo = api_titled(&state, "Echo API");
    assert_eq!(
        echo.properties.value()["customProperties"],
        json!({"apim-tags": ["Beta", "public"], "apim-products": ["Starter"]})
    );
    assert_eq!(
        echo.properties.value()[APIM_OWNED_CUSTOM_PROPERTIES],
        json!(["apim-tags", "apim-products"])
    );
    let petstore = api_titled(&state, "Petstore");
    assert_eq!(
        petstore.properties.value()["customProperties"],
        json!({"apim-tags": ["Beta", "pets"], "apim-products": ["Gold", "Starter"]})
    );

    let bare = desired(&settings, &echo_and_petstore(), &ApimMetadata::default());
    assert_eq!(
        api_titled(&bare, "Echo API").properties.value()["customProperties"],
        json!({"apim-tags": [], "apim-products": []})
    );
}

#[test]
fn without_a_mapping_nothing_changes() {
    let plain = settings_for(
        "ns/a",
        &spec(ImportSpecification::Always, None, FilterSpec::default()),
    );
    let metadata = ApimMetadata::from_reads(vec![tag("echo-api", "public")], Vec::new());
    let with = desired(&plain, &echo_and_petstore(), &metadata);
    let without = desired(&plain, &echo_and_petstore(), &ApimMetadata::default());
    assert_eq!(with.apis, without.apis);
    assert!(with.apis[0].properties.get("customProperties").is_none());
    assert!(
        with.apis[0]
            .properties
            .get(APIM_OWNED_CUSTOM_PROPERTIES)
            .is_none()
    );
}

#[test]
fn apim_owned_values_are_kept_in_step_and_people_s_properties_are_not_touched() {
    let settings = linked(MetadataOwner::Apim);
    let metadata = ApimMetadata::from_reads(vec![tag("echo-api", "public")], Vec::new());
    let state = desired(
        &settings,
        &model(vec![api("echo-api", "Echo API", "echo", None)]),
        &metadata,
    );
    let properties = &state.apis[0].properties.value();

    let create = properties_for_create(EntityKind::Api, properties);
    assert_eq!(
        create["customProperties"],
        json!({"apim-tags": ["public"], "apim-products": []})
    );
    assert!(create.get(APIM_OWNED_CUSTOM_PROPERTIES).is_none());

    let owned = apim_owned_properties(EntityKind::Api, properties);
    let current = json!({
        "title": "Echo API", "kind": "rest", "summary": "curated",
        "customProperties": {"apim-tags": ["old"], "apim-products": [], "owner": "team-a",
                             "apilink-ownership": "apilink/2 link=ns/a"}
    });
    let merged = merge_for_update(EntityKind::Api, &current, &owned).unwrap();
    assert_eq!(
        merged["customProperties"],
        json!({"apim-tags": ["public"], "apim-products": [], "owner": "team-a",
               "apilink-ownership": "apilink/2 link=ns/a"})
    );
    assert_eq!(merged["summary"], "curated");
    assert!(merged.get(APIM_OWNED_CUSTOM_PROPERTIES).is_none());
    assert_eq!(merge_for_update(EntityKind::Api, &merged, &owned), None);

    // Tags removed in APIM: the property becomes an empty array, not absent.
    let untagged = desired(
        &settings,
        &model(vec![api("echo-api", "Echo API", "echo", None)]),
        &ApimMetadata::default(),
    );
    let owned = apim_owned_properties(EntityKind::Api, &untagged.apis[0].properties.value());
    let emptied = merge_for_update(EntityKind::Api, &merged, &owned).unwrap();
    assert_eq!(emptied["customProperties"]["apim-tags"], json!([]));
    // Absent and empty count the same, so an API without the property is left alone.
    let mut absent = emptied.clone();
    absent["customProperties"]
        .as_object_mut()
        .unwrap()
        .remove("apim-tags");
    assert_eq!(merge_for_update(EntityKind::Api, &absent, &owned), None);
}

#[test]
fn api_center_owned_values_are_set_on_create_only() {
    let settings = linked(MetadataOwner::ApiCenter);
    let metadata = ApimMetadata::from_reads(vec![tag("echo-api", "public")], Vec::new());
    let state = desired(
        &settings,
        &model(vec![api("echo-api", "Echo API", "echo", None)]),
        &metadata,
    );
    let properties = &state.apis[0].properties.value();
    assert!(properties.get(APIM_OWNED_CUSTOM_PROPERTIES).is_none());
    assert_eq!(
        properties_for_create(EntityKind::Api, properties)["customProperties"],
        json!({"apim-tags": ["public"], "apim-products": []})
    );
    let owned = apim_owned_properties(EntityKind::Api, properties);
    assert!(owned.get("customProperties").is_none(), "{owned}");
    let edited = json!({"title": "Echo API", "kind": "rest",
                        "customProperties": {"apim-tags": ["curated by hand"]}});
    assert_eq!(merge_for_update(EntityKind::Api, &edited, &owned), None);
}

#[test]
fn the_source_hash_covers_apim_owned_values_only() {
    let apim = model(vec![api("echo-api", "Echo API", "echo", None)]);
    let one = ApimMetadata::from_reads(vec![tag("echo-api", "public")], Vec::new());
    let two = ApimMetadata::from_reads(
        vec![tag("echo-api", "public"), tag("echo-api", "beta")],
        Vec::new(),
    );
    let hash = |settings: &LinkSettings, metadata: &ApimMetadata| {
        desired(settings, &apim, metadata).apis[0]
            .source_hash
            .clone()
    };
    let owned = linked(MetadataOwner::Apim);
    assert_ne!(hash(&owned, &one), hash(&owned, &two));
    assert_eq!(hash(&owned, &one), hash(&owned, &one.clone()));
    let curated = linked(MetadataOwner::ApiCenter);
    assert_eq!(hash(&curated, &one), hash(&curated, &two));
    let plain = settings_for(
        "ns/a",
        &spec(ImportSpecification::Always, None, FilterSpec::default()),
    );
    let unmapped =
        |metadata: &ApimMetadata| desired(&plain, &apim, metadata).apis[0].source_hash.clone();
    assert_eq!(unmapped(&one), unmapped(&ApimMetadata::default()));
}

/// One pass over the simulator with APIM metadata; updates of the API are applied the
/// way the service does (the simulator's own check would call a change of a custom
/// property a change of what people own, which an APIM-owned mapping is not).
fn pass(sim: &mut Sim, settings: &LinkSettings, apim: &ApimModel, metadata: &ApimMetadata) -> Plan {
    let desired = desired(settings, apim, metadata);
    let listed = sim.observe(settings, &[]);
    let details = details_needed(settings, &desired, &listed, Coverage::Changed);
    let observed = sim.observe(settings, &details);
    let requests = exports_needed(settings, &desired, &observed, Coverage::Changed);
    let exports = apim.export(&requests);
    let planned = plan(settings, &desired, &exports, &observed);
    for op in &planned.operations {
        match op {
            Operation::UpsertApi { api, upsert } if upsert.intent == Intent::Update => {
                let entry = sim.apis.get_mut(api).unwrap();
                if let Some(mut body) = upsert.body_for(Some(&entry.props)) {
                    body["lifecycleStage"] = entry.props["lifecycleStage"].clone();
                    entry.props = body;
                    sim.writes += 1;
                }
            }
            other => sim.apply(other, &exports).unwrap(),
        }
    }
    planned
}

fn api_writes(plan: &Plan) -> Vec<String> {
    plan.operations
        .iter()
        .filter(|op| op.entity() == EntityKind::Api)
        .map(|op| format!("{} {}", op.action().as_str(), op.target()))
        .collect()
}

#[test]
fn a_tag_added_in_apim_is_one_api_update_and_a_steady_state_writes_nothing() {
    let settings = linked(MetadataOwner::Apim);
    let apim = model(vec![api("echo-api", "Echo API", "echo", None)]);
    let mut sim = Sim::default();
    let before = ApimMetadata::from_reads(vec![tag("echo-api", "public")], Vec::new());
    pass(&mut sim, &settings, &apim, &before);
    let name = sim.apis.keys().next().unwrap().clone();
    assert_eq!(
        sim.apis[&name].props["customProperties"]["apim-tags"],
        json!(["public"])
    );
    assert!(
        pass(&mut sim, &settings, &apim, &before)
            .operations
            .is_empty()
    );

    let after = ApimMetadata::from_reads(
        vec![tag("echo-api", "public"), tag("echo-api", "beta")],
        Vec::new(),
    );
    let changed = pass(&mut sim, &settings, &apim, &after);
    assert_eq!(
        api_writes(&changed),
        vec![format!("update apis/{name}")],
        "the record with the new source hash travels with the update: {changed}"
    );
    let Operation::UpsertApi { upsert, .. } = &changed.operations[0] else {
        panic!("{changed}")
    };
    let changes = upsert.changes();
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["customProperties.apim-tags"]);
    assert_eq!(
        sim.apis[&name].props["customProperties"]["apim-tags"],
        json!(["beta", "public"])
    );
    assert!(
        pass(&mut sim, &settings, &apim, &after)
            .operations
            .is_empty()
    );

    // Someone edits the APIM-owned property in API Center: the next pass repairs it.
    sim.apis.get_mut(&name).unwrap().props["customProperties"]["apim-tags"] = json!(["mine"]);
    let repaired = pass(&mut sim, &settings, &apim, &after);
    assert_eq!(api_writes(&repaired), vec![format!("update apis/{name}")]);
    assert_eq!(
        sim.apis[&name].props["customProperties"]["apim-tags"],
        json!(["beta", "public"])
    );
}

#[test]
fn an_api_center_owned_value_survives_a_person_s_edit_and_apim_changes() {
    let settings = linked(MetadataOwner::ApiCenter);
    let apim = model(vec![api("echo-api", "Echo API", "echo", None)]);
    let mut sim = Sim::default();
    let before = ApimMetadata::from_reads(vec![tag("echo-api", "public")], Vec::new());
    pass(&mut sim, &settings, &apim, &before);
    let name = sim.apis.keys().next().unwrap().clone();
    assert_eq!(
        sim.apis[&name].props["customProperties"]["apim-tags"],
        json!(["public"])
    );
    sim.apis.get_mut(&name).unwrap().props["customProperties"]["apim-tags"] = json!(["curated"]);
    let after = ApimMetadata::from_reads(vec![tag("echo-api", "beta")], Vec::new());
    assert!(
        pass(&mut sim, &settings, &apim, &after)
            .operations
            .is_empty()
    );
    assert_eq!(
        sim.apis[&name].props["customProperties"]["apim-tags"],
        json!(["curated"])
    );
}

fn schema(name: &str, document: Value, assigned: &[(&str, bool)]) -> MetadataSchema {
    MetadataSchema {
        name: name.into(),
        document: Some(document),
        assigned_to: assigned
            .iter()
            .map(|(entity, deprecated)| Assignment {
                entity: (*entity).into(),
                required: false,
                deprecated: *deprecated,
            })
            .collect(),
    }
}

#[test]
fn mapped_schemas_are_created_when_missing_used_when_compatible_and_refused_otherwise() {
    let created = apim_metadata_schema();
    let document: Value = serde_json::from_str(created["schema"].as_str().unwrap()).unwrap();
    assert_eq!(
        document,
        json!({"type": "array", "items": {"type": "string"}})
    );
    assert_eq!(
        created["assignedTo"],
        json!([{"entity": "api", "required": false, "deprecated": false}])
    );
    let ours = schema("apim-tags", document.clone(), &[("api", false)]);
    assert_eq!(mapped_schema_state(&[], "apim-tags"), MappedSchema::Missing);
    assert_eq!(
        mapped_schema_state(std::slice::from_ref(&ours), "APIM-TAGS"),
        MappedSchema::Compatible
    );
    let wider = schema(
        "apim-tags",
        json!({"type": "array", "title": "Tags"}),
        &[("api", false), ("environment", false)],
    );
    assert_eq!(
        mapped_schema_state(&[wider], "apim-tags"),
        MappedSchema::Compatible
    );
    for (document, assigned, why) in [
        (
            json!({"type": "string"}),
            vec![("api", false)],
            "not an array",
        ),
        (
            json!({"type": "array", "items": {"type": "integer"}}),
            vec![("api", false)],
            "refuses an array of names",
        ),
        (
            json!({"type": "array", "minItems": 1}),
            vec![("api", false)],
            "refuses an array of names",
        ),
        (
            document.clone(),
            vec![("environment", false)],
            "not assigned to api",
        ),
        (document.clone(), vec![("api", true)], "deprecated"),
    ] {
        let MappedSchema::Incompatible(message) =
            mapped_schema_state(&[schema("apim-tags", document, &assigned)], "apim-tags")
        else {
            panic!("{why}: judged compatible")
        };
        assert!(message.contains(why), "{message}");
        assert!(message.contains("metadata schema 'apim-tags'"), "{message}");
    }
}

#[test]
fn a_required_schema_a_mapping_fills_is_satisfied() {
    let settings = linked(MetadataOwner::Apim);
    let mut required = schema(
        "apim-tags",
        json!({"type": "array", "items": {"type": "string"}}),
        &[("api", false)],
    );
    required.assigned_to[0].required = true;
    let creates = ["api"].into();
    assert!(check_custom_properties(&settings, &[required.clone()], &creates).is_empty());
    let plain = settings_for(
        "ns/a",
        &spec(ImportSpecification::Always, None, FilterSpec::default()),
    );
    assert_eq!(
        check_custom_properties(&plain, &[required], &creates).len(),
        1
    );
}

#[test]
fn the_slim_api_list_keeps_what_the_link_keeps_in_step_and_apis_match_in_any_case() {
    let listed = json!({
        "title": "Echo", "summary": "curated", "kind": "rest",
        "customProperties": {"apim-tags": ["a"], "apilink-ownership": "apilink/2 link=ns/a"}
    });
    assert_eq!(
        planned_members(EntityKind::Api, listed)["customProperties"]["apim-tags"],
        json!(["a"])
    );
    assert_eq!(
        ApimMetadata::from_reads(vec![tag("Echo-API", "t")], Vec::new())
            .tags_of(&echo_ref())
            .collect::<Vec<_>>(),
        vec!["t"]
    );
}
