//! Strict validation of request bodies against the declared schemas.
//!
//! Wrong JSON types are `InvalidRequestContent` (the service cannot deserialize them);
//! broken constraints (unknown member, enum, length, required) are `ValidationError`.
//! Both name the offending member in `target` and in the message.

use serde_json::{Map, Value};

use super::kind::Kind;
use super::schema::{ObjectSchema, Schema, Text, TextFormat, properties_schema};
use crate::arm::ArmError;

/// Parses a request body that must be one JSON object.
pub(crate) fn parse_object_body(body: &[u8]) -> Result<Map<String, Value>, ArmError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ArmError::invalid_content(
            "The request content was empty: a JSON object is required.",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ArmError::invalid_content(format!("The request content was invalid JSON: {err}."))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ArmError::invalid_content(
            "The request content must be a JSON object.",
        )),
    }
}

/// Validates the `properties` of a PUT body for `kind` and returns them normalized
/// (read-only and null members dropped). Envelope members (`id`, `name`, `type`,
/// `systemData`, ...) are ignored, as ARM ignores them on PUT.
pub(crate) fn properties(
    kind: Kind,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, ArmError> {
    let empty = Value::Object(Map::new());
    let properties = match body.get("properties") {
        None | Some(Value::Null) => &empty,
        Some(value) => value,
    };
    match validate_object(properties_schema(kind), properties, "properties")? {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

fn type_error(path: &str, expected: &str) -> ArmError {
    ArmError::invalid_content(format!("The member '{path}' must be {expected}.")).with_target(path)
}

pub(crate) fn validate(schema: &Schema, value: &Value, path: &str) -> Result<Value, ArmError> {
    match schema {
        Schema::Text(rule) => validate_text(rule, value, path),
        Schema::Enum(allowed) => {
            let text = value.as_str().ok_or_else(|| type_error(path, "a string"))?;
            if allowed.contains(&text) {
                Ok(value.clone())
            } else {
                Err(ArmError::validation(
                    path,
                    format!(
                        "The value '{text}' of '{path}' is not allowed; expected one of: {}.",
                        allowed.join(", ")
                    ),
                ))
            }
        }
        Schema::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(type_error(path, "a boolean")),
        },
        Schema::FreeObject => match value {
            Value::Object(_) => Ok(value.clone()),
            _ => Err(type_error(path, "a JSON object")),
        },
        Schema::Object(object) => validate_object(object, value, path),
        Schema::Array { items, max_items } => {
            let list = value
                .as_array()
                .ok_or_else(|| type_error(path, "an array"))?;
            if let Some(max) = max_items
                && list.len() > *max
            {
                return Err(ArmError::validation(
                    path,
                    format!(
                        "The member '{path}' has {} items; at most {max} are allowed.",
                        list.len()
                    ),
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, item)| validate(items, item, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
    }
}

fn validate_text(rule: &Text, value: &Value, path: &str) -> Result<Value, ArmError> {
    let text = value.as_str().ok_or_else(|| type_error(path, "a string"))?;
    let length = text.chars().count();
    if length < rule.min {
        return Err(ArmError::validation(
            path,
            format!(
                "The member '{path}' must be at least {} characters long.",
                rule.min
            ),
        ));
    }
    if let Some(max) = rule.max
        && length > max
    {
        return Err(ArmError::validation(
            path,
            format!("The member '{path}' must be at most {max} characters long (it has {length})."),
        ));
    }
    match rule.format {
        TextFormat::Plain => {}
        TextFormat::Uri if url::Url::parse(text).is_err() => {
            return Err(ArmError::validation(
                path,
                format!("The member '{path}' must be an absolute URI; '{text}' is not."),
            ));
        }
        TextFormat::Email if !is_email(text) => {
            return Err(ArmError::validation(
                path,
                format!("The member '{path}' must be an e-mail address; '{text}' is not."),
            ));
        }
        TextFormat::Uri | TextFormat::Email => {}
    }
    Ok(value.clone())
}

/// `local@domain`: one `@`, no whitespace, a non-empty local part and a domain of
/// non-empty dot-separated labels. Deliberately no stricter than that.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !text.chars().any(char::is_whitespace)
        && domain.split('.').all(|label| !label.is_empty())
}

fn validate_object(schema: &ObjectSchema, value: &Value, path: &str) -> Result<Value, ArmError> {
    let input = value
        .as_object()
        .ok_or_else(|| type_error(path, "a JSON object"))?;
    let mut output = Map::new();
    for (member, member_value) in input {
        let member_path = format!("{path}.{member}");
        if member_value.is_null() || schema.read_only.contains(&member.as_str()) {
            continue;
        }
        let Some((_, member_schema)) = schema.fields.iter().find(|(name, _)| name == member) else {
            return Err(ArmError::validation(
                &member_path,
                format!("The member '{member_path}' is not a known member of the resource."),
            ));
        };
        output.insert(
            member.clone(),
            validate(member_schema, member_value, &member_path)?,
        );
    }
    for required in schema.required {
        if !output.contains_key(*required) {
            let member_path = format!("{path}.{required}");
            return Err(ArmError::validation(
                &member_path,
                format!("The member '{member_path}' is required."),
            ));
        }
    }
    for (first, second) in schema.exclusive {
        if output.contains_key(*first) && output.contains_key(*second) {
            return Err(ArmError::validation(
                &format!("{path}.{second}"),
                format!(
                    "The members '{path}.{first}' and '{path}.{second}' are mutually exclusive."
                ),
            ));
        }
    }
    Ok(Value::Object(output))
}
