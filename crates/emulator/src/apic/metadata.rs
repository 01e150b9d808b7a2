//! Metadata schemas: custom properties they require and the values they allow.
//!
//! A metadata schema named `n` describes the custom property `customProperties.n` of the
//! entities it is assigned to. Values are checked against a subset of JSON Schema
//! (`type`, `enum`, `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`, `items`,
//! `minItems`, `maxItems`, `properties`, `required`), which covers what the portal's
//! metadata designer produces. Depending on the contract, custom properties no schema
//! declares for the entity kind are refused, dropped or kept, and the plan's
//! custom-property limits hold.

use serde_json::{Map, Value};

use super::ApicLimits;
use super::kind::Kind;
use super::store::Node;
use crate::arm::ArmError;
use crate::config::{ApicContract, UndeclaredCustomProperties};

/// Checks the `schema` member of a metadata schema: a JSON Schema document as a string.
pub(crate) fn check_schema_document(properties: &Map<String, Value>) -> Result<(), ArmError> {
    let text = properties
        .get("schema")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let document: Value = serde_json::from_str(text).map_err(|err| {
        ArmError::validation(
            "properties.schema",
            format!("The member 'properties.schema' must be a JSON Schema document: {err}."),
        )
    })?;
    if !document.is_object() {
        return Err(ArmError::validation(
            "properties.schema",
            "The member 'properties.schema' must be a JSON object (a JSON Schema document).",
        ));
    }
    check_patterns(&document)
}

fn check_patterns(document: &Value) -> Result<(), ArmError> {
    match document {
        Value::Object(map) => {
            if let Some(Value::String(pattern)) = map.get("pattern")
                && let Err(err) = regex::Regex::new(pattern)
            {
                return Err(ArmError::validation(
                    "properties.schema",
                    format!(
                        "The pattern '{pattern}' in 'properties.schema' is not a valid regular expression: {err}."
                    ),
                ));
            }
            map.values().try_for_each(check_patterns)
        }
        Value::Array(items) => items.iter().try_for_each(check_patterns),
        _ => Ok(()),
    }
}

/// How a metadata schema applies to one entity kind.
struct Assignment {
    required: bool,
}

fn assignment(schema: &Node, entity: &str) -> Option<Assignment> {
    let assignments = schema.properties.get("assignedTo")?.as_array()?;
    let matching: Vec<&Value> = assignments
        .iter()
        .filter(|a| a.get("entity").and_then(Value::as_str) == Some(entity))
        .collect();
    if matching.is_empty() {
        return None;
    }
    // A deprecated assignment no longer forces new writes to carry the property.
    let required = matching.iter().any(|a| {
        a.get("required").and_then(Value::as_bool) == Some(true)
            && a.get("deprecated").and_then(Value::as_bool) != Some(true)
    });
    Some(Assignment { required })
}

/// Enforces the metadata schemas of `service` on the custom properties of a `kind` entity:
/// the contract's rule for undeclared properties and its limits first (dropped properties
/// are removed from `properties` before the limits count them), then every assigned
/// schema's requirement and value.
pub(crate) fn check_custom_properties(
    service: &Node,
    kind: Kind,
    properties: &mut Map<String, Value>,
    contract: &ApicContract,
    limits: &ApicLimits,
) -> Result<(), ArmError> {
    let Some(entity) = kind.metadata_entity() else {
        return Ok(());
    };
    if contract.undeclared_custom_properties == UndeclaredCustomProperties::Dropped
        && let Some(Value::Object(custom)) = properties.get_mut("customProperties")
    {
        custom.retain(|name, _| is_declared(service, name, entity));
    }
    let custom = properties
        .get("customProperties")
        .and_then(Value::as_object);
    if let Some(custom) = custom {
        if contract.enforce_custom_property_limits {
            check_limits(custom, entity, limits)?;
        }
        if contract.undeclared_custom_properties == UndeclaredCustomProperties::Refused {
            check_declared(service, custom, entity)?;
        }
    }
    for schema in service.collection(Kind::MetadataSchema) {
        let Some(assignment) = assignment(schema, entity) else {
            continue;
        };
        let target = format!("properties.customProperties.{}", schema.name);
        match custom.and_then(|c| c.get(&schema.name)) {
            None | Some(Value::Null) => {
                if assignment.required {
                    return Err(ArmError::validation(
                        &target,
                        format!(
                            "The custom property '{}' is required for every {} by metadata schema '{}'.",
                            schema.name,
                            kind.label(),
                            schema.name
                        ),
                    ));
                }
            }
            Some(value) => {
                let document = schema
                    .properties
                    .get("schema")
                    .and_then(Value::as_str)
                    .and_then(|text| serde_json::from_str::<Value>(text).ok())
                    .unwrap_or(Value::Null);
                if let Err(reason) = check_value(&document, value, &target) {
                    return Err(ArmError::validation(
                        &target,
                        format!(
                            "The custom property '{}' does not match metadata schema '{}': {reason}",
                            schema.name, schema.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_limits(
    custom: &Map<String, Value>,
    entity: &str,
    limits: &ApicLimits,
) -> Result<(), ArmError> {
    let max = limits.custom_properties_per_entity;
    if custom.len() > max {
        return Err(ArmError::validation(
            "properties.customProperties",
            format!(
                "'properties.customProperties' has {} custom properties; the plan allows at most {max} per {entity}.",
                custom.len()
            ),
        ));
    }
    let max = limits.members_per_object_property;
    for (name, value) in custom {
        if let Value::Object(members) = value
            && members.len() > max
        {
            return Err(ArmError::validation(
                &format!("properties.customProperties.{name}"),
                format!(
                    "Custom property '{name}' has {} members; an object-valued custom property may have at most {max}.",
                    members.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether a metadata schema named `name` is assigned to `entity` (deprecated assignments
/// still declare the property; they only stop requiring it).
fn is_declared(service: &Node, name: &str, entity: &str) -> bool {
    service
        .collection(Kind::MetadataSchema)
        .any(|schema| schema.name == name && assignment(schema, entity).is_some())
}

/// Every key must be the name of a metadata schema assigned to `entity`.
fn check_declared(
    service: &Node,
    custom: &Map<String, Value>,
    entity: &str,
) -> Result<(), ArmError> {
    for name in custom.keys() {
        if !is_declared(service, name, entity) {
            return Err(ArmError::validation(
                &format!("properties.customProperties.{name}"),
                format!(
                    "Custom property '{name}' is not defined by any metadata schema assigned to '{entity}'"
                ),
            ));
        }
    }
    Ok(())
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// Checks `value` against the supported subset of JSON Schema; `Err` says why not.
fn check_value(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    match schema.get("type") {
        Some(Value::String(expected)) if !type_matches(expected, value) => {
            return Err(format!("'{path}' must be of type {expected}."));
        }
        Some(Value::Array(options))
            if !options
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, value)) =>
        {
            return Err(format!("'{path}' has none of the allowed types."));
        }
        _ => {}
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        return Err(format!(
            "'{path}' must be one of the values the schema enumerates."
        ));
    }
    match value {
        Value::String(text) => check_string(schema, text, path),
        Value::Number(number) => check_number(schema, number.as_f64().unwrap_or_default(), path),
        Value::Array(items) => check_array(schema, items, path),
        Value::Object(members) => check_members(schema, members, path),
        _ => Ok(()),
    }
}

fn limit(schema: &Map<String, Value>, name: &str) -> Option<u64> {
    schema.get(name).and_then(Value::as_u64)
}

fn check_string(schema: &Map<String, Value>, text: &str, path: &str) -> Result<(), String> {
    let length = text.chars().count() as u64;
    if limit(schema, "minLength").is_some_and(|min| length < min) {
        return Err(format!("'{path}' is shorter than the schema allows."));
    }
    if limit(schema, "maxLength").is_some_and(|max| length > max) {
        return Err(format!("'{path}' is longer than the schema allows."));
    }
    if let Some(Value::String(pattern)) = schema.get("pattern") {
        let matches = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text));
        if !matches {
            return Err(format!("'{path}' does not match the pattern '{pattern}'."));
        }
    }
    Ok(())
}

fn check_number(schema: &Map<String, Value>, number: f64, path: &str) -> Result<(), String> {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && number < min
    {
        return Err(format!("'{path}' is below the minimum {min}."));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && number > max
    {
        return Err(format!("'{path}' is above the maximum {max}."));
    }
    Ok(())
}

fn check_array(schema: &Map<String, Value>, items: &[Value], path: &str) -> Result<(), String> {
    let count = items.len() as u64;
    if limit(schema, "minItems").is_some_and(|min| count < min) {
        return Err(format!("'{path}' has fewer items than the schema allows."));
    }
    if limit(schema, "maxItems").is_some_and(|max| count > max) {
        return Err(format!("'{path}' has more items than the schema allows."));
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check_value(item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn check_members(
    schema: &Map<String, Value>,
    members: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !members.contains_key(name) {
                return Err(format!("'{path}.{name}' is required by the schema."));
            }
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
