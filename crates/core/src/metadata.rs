//! Metadata schemas: the one that declares the link's ownership record, and the ones an
//! organisation declares (an owner, a data classification) that the link's creates must
//! satisfy. Checked before a pass writes anything, so a missing or invalid value is one
//! clear message naming the schema instead of a 400 on every create.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::ids::LinkId;
use crate::marker::{ApiMarker, RECORD_ENTITIES, RECORD_KEY, entity_marker};
use crate::operation::{Intent, Operation};
use crate::plan::Plan;
use crate::spec::LinkSettings;

/// One assignment of a metadata schema to an entity kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// `api`, `environment` or `deployment`.
    pub entity: String,
    pub required: bool,
    pub deprecated: bool,
}

/// A metadata schema as read from API Center.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataSchema {
    pub name: String,
    /// The JSON Schema document (`properties.schema`, a string), parsed; `None` when it
    /// is not JSON.
    pub document: Option<Value>,
    pub assigned_to: Vec<Assignment>,
}

impl MetadataSchema {
    fn assignment(&self, entity: &str) -> Option<&Assignment> {
        self.assigned_to.iter().find(|a| a.entity == entity)
    }

    /// Whether a value is required on every new entity of kind `entity`.
    pub fn requires(&self, entity: &str) -> bool {
        self.assignment(entity)
            .is_some_and(|a| a.required && !a.deprecated)
    }
}

/// Where the ownership schema stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnershipSchema {
    /// Present and able to hold the link's records.
    Compatible,
    /// Absent: the link creates it.
    Missing,
    /// Present but changed so that records would be refused: the user must restore or
    /// delete it (the link never overwrites what someone edited).
    Incompatible(String),
}

/// Judges the ownership schema among `schemas`.
pub fn ownership_schema_state(schemas: &[MetadataSchema]) -> OwnershipSchema {
    let Some(schema) = schemas.iter().find(|s| s.name == RECORD_KEY) else {
        return OwnershipSchema::Missing;
    };
    let mut problems = Vec::new();
    for entity in RECORD_ENTITIES {
        match schema.assignment(entity) {
            None => problems.push(format!("it is not assigned to {entity}")),
            Some(a) if a.deprecated => {
                problems.push(format!("its {entity} assignment is deprecated"))
            }
            Some(_) => {}
        }
    }
    match &schema.document {
        None => problems.push("its schema is not a JSON document".to_string()),
        Some(document) => {
            let link = LinkId::new("namespace/name").ok();
            let samples = link.map(|link| {
                let mut api = ApiMarker::new(&link, "apis/sample");
                api.source_hash = Some("0".repeat(64));
                vec![api.to_value(), entity_marker(&link)]
            });
            for sample in samples.unwrap_or_default() {
                if let Err(why) = check_value(document, &sample, RECORD_KEY) {
                    problems.push(format!("it refuses the link's records ({why})"));
                    break;
                }
            }
        }
    }
    if problems.is_empty() {
        OwnershipSchema::Compatible
    } else {
        OwnershipSchema::Incompatible(format!(
            "metadata schema '{RECORD_KEY}' was changed so that apilink's ownership records would be refused: {}; restore it, or delete it so apilink creates it again",
            problems.join(", ")
        ))
    }
}

/// Judges the schema declaring a link's own ledger on shared APIs (see
/// [`crate::shared::shared_record_schema`]): missing, or present and able to hold the
/// link's ledger on APIs.
pub fn shared_record_schema_state(schemas: &[MetadataSchema], link: &LinkId) -> MappedSchema {
    let key = crate::shared::shared_record_key(link);
    let Some(schema) = schemas.iter().find(|s| s.name.eq_ignore_ascii_case(&key)) else {
        return MappedSchema::Missing;
    };
    let mut problems = api_assignment_problems(schema);
    let mut sample = ApiMarker::new(link, "apis/sample");
    sample.source_hash = Some("0".repeat(64));
    sample.shared = Some(crate::marker::SharedShare {
        environment_kind: "production".to_string(),
        identity: "sample/api".to_string(),
    });
    match &schema.document {
        None => problems.push("its schema is not a JSON document".to_string()),
        Some(document) => {
            if let Err(why) = check_value(document, &sample.to_value(), &key) {
                problems.push(format!("it refuses the link's ledger ({why})"));
            }
        }
    }
    if problems.is_empty() {
        MappedSchema::Compatible
    } else {
        MappedSchema::Incompatible(format!(
            "metadata schema '{key}' was changed so that this link's ledger on shared APIs would be refused: {}; restore it, or delete it so apilink creates it again",
            problems.join(", ")
        ))
    }
}

/// The metadata schema the link creates for a custom property of `spec.apimMetadata`:
/// an array of strings on APIs, not required (`properties` of a `metadataSchemas/{name}`
/// resource).
pub fn apim_metadata_schema() -> Value {
    serde_json::json!({
        "schema": serde_json::json!({"type": "array", "items": {"type": "string"}}).to_string(),
        "assignedTo": [{"entity": "api", "required": false, "deprecated": false}],
    })
}

/// Where the metadata schema of a mapped custom property stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappedSchema {
    /// Present and able to hold arrays of display names on APIs: used as it is.
    Compatible,
    /// Absent: the link creates it.
    Missing,
    /// Present but unable to hold the values: the user must change or delete it (the
    /// link never overwrites a schema someone else made or edited).
    Incompatible(String),
}

/// What is wrong with a schema's assignment to APIs, if anything.
fn api_assignment_problems(schema: &MetadataSchema) -> Vec<String> {
    match schema.assignment("api") {
        None => vec!["it is not assigned to api".to_string()],
        Some(a) if a.deprecated => vec!["its api assignment is deprecated".to_string()],
        Some(_) => Vec::new(),
    }
}

/// Values a mapped custom property holds: none, and display names with spaces.
const MAPPED_SAMPLES: [&[&str]; 2] = [&[], &["Payments", "Partner APIs"]];

/// Judges the metadata schema `name` (a mapped custom property) among `schemas`.
pub fn mapped_schema_state(schemas: &[MetadataSchema], name: &str) -> MappedSchema {
    let Some(schema) = schemas.iter().find(|s| s.name.eq_ignore_ascii_case(name)) else {
        return MappedSchema::Missing;
    };
    let mut problems = api_assignment_problems(schema);
    match &schema.document {
        None => problems.push("its schema is not a JSON document".to_string()),
        Some(document) if document.get("type").and_then(Value::as_str) != Some("array") => {
            problems.push("it is not an array".to_string());
        }
        Some(document) => {
            for sample in MAPPED_SAMPLES {
                if let Err(why) = check_value(document, &serde_json::json!(sample), name) {
                    problems.push(format!("it refuses an array of names ({why})"));
                    break;
                }
            }
        }
    }
    if problems.is_empty() {
        MappedSchema::Compatible
    } else {
        MappedSchema::Incompatible(format!(
            "metadata schema '{name}' cannot hold the APIM metadata spec.apimMetadata maps to it (an array of strings on APIs): {}; change it, delete it so apilink creates it, or map to another custom property",
            problems.join(", ")
        ))
    }
}

/// A custom property the link's creates would lack or get wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataProblem {
    /// The metadata schema concerned (or the key without one).
    pub schema: String,
    pub entity: String,
    pub message: String,
}

impl fmt::Display for MetadataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks `spec.customProperties` against the service's metadata schemas for the entity
/// kinds the pass creates (`creates`: `api`, `environment`, `deployment`): every
/// required property is given, every given value is declared, assigned to that kind and
/// valid under its schema.
pub fn check_custom_properties(
    settings: &LinkSettings,
    schemas: &[MetadataSchema],
    creates: &BTreeSet<&str>,
) -> Vec<MetadataProblem> {
    let mut problems = Vec::new();
    for entity in creates {
        let Some(values) = settings.custom_properties.for_entity(entity) else {
            continue;
        };
        // The values of `spec.apimMetadata` are given to every API the link creates.
        let mapped = |name: &str| {
            *entity == "api"
                && settings
                    .apim_metadata
                    .custom_properties()
                    .any(|m| m.eq_ignore_ascii_case(name))
        };
        for schema in schemas.iter().filter(|s| s.name != RECORD_KEY) {
            if schema.requires(entity)
                && !values.contains_key(&schema.name)
                && !mapped(&schema.name)
            {
                problems.push(MetadataProblem {
                    schema: schema.name.clone(),
                    entity: entity.to_string(),
                    message: format!(
                        "metadata schema '{}' requires custom property '{}' on every new {entity}: set spec.customProperties.{entity}.{}",
                        schema.name, schema.name, schema.name
                    ),
                });
            }
        }
        for (key, value) in values {
            let field = format!("spec.customProperties.{entity}.{key}");
            let message = match schemas.iter().find(|s| &s.name == key) {
                None => Some(format!(
                    "{field}: no metadata schema named '{key}' declares it (API Center refuses undeclared custom properties)"
                )),
                Some(schema) if schema.assignment(entity).is_none() => Some(format!(
                    "{field}: metadata schema '{key}' is not assigned to {entity}"
                )),
                Some(schema) => schema.document.as_ref().and_then(|document| {
                    check_value(document, value, &field)
                        .err()
                        .map(|why| format!("{field} does not match metadata schema '{key}': {why}"))
                }),
            };
            if let Some(message) = message {
                problems.push(MetadataProblem {
                    schema: key.clone(),
                    entity: entity.to_string(),
                    message,
                });
            }
        }
    }
    problems
}

/// The metadata entity kinds (`api`, `environment`, `deployment`) the plan may create:
/// creates, and ensures of entities not read this pass.
pub fn entity_kinds_created(plan: &Plan) -> BTreeSet<&'static str> {
    plan.operations
        .iter()
        .filter_map(|op| {
            let (kind, upsert) = match op {
                Operation::EnsureEnvironment { upsert, .. } => ("environment", upsert),
                Operation::UpsertApi { upsert, .. } => ("api", upsert),
                Operation::UpsertDeployment { upsert, .. } => ("deployment", upsert),
                _ => return None,
            };
            (upsert.intent != Intent::Update).then_some(kind)
        })
        .collect()
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn count(schema: &Value, key: &str) -> Option<u64> {
    schema.get(key).and_then(Value::as_u64)
}

/// Checks `value` against the JSON Schema keywords API Center's metadata designer uses
/// (`type`, `enum`, `const`, lengths, `pattern`, bounds, `items`, `properties`,
/// `required`). Unknown keywords pass: the service is the judge of those.
pub fn check_value(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if !schema.is_object() {
        return Ok(());
    }
    check_type(schema, value, path)?;
    check_enum_and_const(schema, value, path)?;
    match value {
        Value::String(text) => check_string(schema, text, path),
        Value::Number(number) => check_number(schema, number, path),
        Value::Array(items) => check_array(schema, items, path),
        Value::Object(members) => check_object(schema, members, path),
        _ => Ok(()),
    }
}

/// `type`, a single name or a list of allowed names.
fn check_type(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, value) => {
            Err(format!("{path} must be of type {t}"))
        }
        Some(Value::Array(types))
            if !types
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, value)) =>
        {
            Err(format!("{path} has none of the allowed types"))
        }
        _ => Ok(()),
    }
}

fn check_enum_and_const(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        return Err(format!(
            "{path} must be one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        return Err(format!("{path} must be {expected}"));
    }
    Ok(())
}

fn check_string(schema: &Value, text: &str, path: &str) -> Result<(), String> {
    let length = text.chars().count() as u64;
    if count(schema, "minLength").is_some_and(|min| length < min)
        || count(schema, "maxLength").is_some_and(|max| length > max)
    {
        return Err(format!("{path} has a length the schema does not allow"));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(text))
    {
        return Err(format!("{path} does not match the pattern {pattern:?}"));
    }
    Ok(())
}

fn check_number(schema: &Value, number: &serde_json::Number, path: &str) -> Result<(), String> {
    let n = number.as_f64().unwrap_or_default();
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    if bound("minimum").is_some_and(|min| n < min) || bound("maximum").is_some_and(|max| n > max) {
        return Err(format!("{path} is out of the schema's range"));
    }
    Ok(())
}

fn check_array(schema: &Value, items: &[Value], path: &str) -> Result<(), String> {
    let n = items.len() as u64;
    if count(schema, "minItems").is_some_and(|min| n < min)
        || count(schema, "maxItems").is_some_and(|max| n > max)
    {
        return Err(format!(
            "{path} has a number of items the schema does not allow"
        ));
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check_value(item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn check_object(
    schema: &Value,
    members: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !members.contains_key(name) {
            return Err(format!("{path}.{name} is required"));
        }
    }
    if let Some(Value::Object(declared)) = schema.get("properties") {
        for (name, member_schema) in declared {
            if let Some(member) = members.get(name) {
                check_value(member_schema, member, &format!("{path}.{name}"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::marker::ownership_schema;
    use serde_json::json;

    /// A schema as ARM lists it (`properties` of a `metadataSchemas/{name}` resource).
    fn from_arm(name: &str, properties: &Value) -> MetadataSchema {
        let document = properties
            .get("schema")
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str(text).ok());
        let assigned_to = properties
            .get("assignedTo")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|a| {
                        Some(Assignment {
                            entity: a.get("entity")?.as_str()?.to_ascii_lowercase(),
                            required: a.get("required").and_then(Value::as_bool) == Some(true),
                            deprecated: a.get("deprecated").and_then(Value::as_bool) == Some(true),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        MetadataSchema {
            name: name.to_string(),
            document,
            assigned_to,
        }
    }

    fn schema(name: &str, document: Value, assigned: Value) -> MetadataSchema {
        from_arm(
            name,
            &json!({"schema": document.to_string(), "assignedTo": assigned}),
        )
    }

    #[test]
    fn the_link_s_own_schema_is_compatible_and_edits_are_judged() {
        assert_eq!(ownership_schema_state(&[]), OwnershipSchema::Missing);
        let ours = from_arm(RECORD_KEY, &ownership_schema());
        assert_eq!(
            ownership_schema_state(std::slice::from_ref(&ours)),
            OwnershipSchema::Compatible
        );
        // A compatible edit: a new title and no pattern.
        let edited = schema(
            RECORD_KEY,
            json!({"type": "string", "title": "Managed by apilink"}),
            ownership_schema()["assignedTo"].clone(),
        );
        assert_eq!(
            ownership_schema_state(&[edited]),
            OwnershipSchema::Compatible
        );
        let narrowed = schema(
            RECORD_KEY,
            json!({"type": "string", "maxLength": 5}),
            json!([{"entity": "api"}]),
        );
        let OwnershipSchema::Incompatible(why) = ownership_schema_state(&[narrowed]) else {
            panic!()
        };
        assert!(why.contains("not assigned to environment"), "{why}");
        assert!(why.contains("refuses the link's records"), "{why}");
    }

    #[test]
    fn required_organisation_metadata_must_be_given_and_valid() {
        use crate::spec::{CustomPropertiesSpec, LinkSpec};
        let spec: LinkSpec = serde_json::from_value(json!({
            "source": {"apimResourceId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/a"},
            "target": {"apiCenterResourceId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiCenter/services/c"},
        }))
        .unwrap();
        let mut settings = spec.settings(LinkId::new("ns/a").unwrap()).unwrap();
        let schemas = vec![
            schema(
                "owner",
                json!({"type": "string", "minLength": 3}),
                json!([{"entity": "api", "required": true}]),
            ),
            schema(
                "classification",
                json!({"type": "string", "enum": ["public", "internal"]}),
                json!([{"entity": "api", "required": true, "deprecated": true}]),
            ),
        ];
        let creates: BTreeSet<&str> = ["api", "environment"].into();
        let problems = check_custom_properties(&settings, &schemas, &creates);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .to_string()
                .contains("metadata schema 'owner' requires")
        );
        settings.custom_properties = CustomPropertiesSpec {
            api: serde_json::from_value(
                json!({"owner": 7, "classification": "secret", "team": "x"}),
            )
            .unwrap(),
            ..Default::default()
        };
        let problems: Vec<String> = check_custom_properties(&settings, &schemas, &creates)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("owner must be of type string"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("classification must be one of"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no metadata schema named 'team'"))
        );
        settings.custom_properties.api =
            serde_json::from_value(json!({"owner": "payments", "classification": "public"}))
                .unwrap();
        assert!(check_custom_properties(&settings, &schemas, &creates).is_empty());
        // Nothing is created: nothing to check.
        settings.custom_properties.api.clear();
        assert!(check_custom_properties(&settings, &schemas, &BTreeSet::new()).is_empty());
    }
}
