//! API Center answers in the shapes the planner reads ([`apilink_core::observed`] and
//! [`apilink_core::metadata`]), converted from the answers directly.

use apilink_core::metadata::{Assignment, MetadataSchema};
use apilink_core::observed::ApicEntity;
use serde_json::Value;

use super::types::MetadataSchemaProperties;
use crate::resource::ArmResource;

impl From<ArmResource<Value>> for ApicEntity {
    /// Properties exactly as read (an entity without any reads as `{}`), so the planner
    /// sees every member, those it does not know included.
    fn from(resource: ArmResource<Value>) -> Self {
        let properties = match resource.properties {
            Value::Null => Value::Object(Default::default()),
            other => other,
        };
        Self {
            name: resource.name,
            properties,
            etag: resource.etag,
        }
    }
}

impl From<ArmResource<MetadataSchemaProperties>> for MetadataSchema {
    /// Read leniently: a schema that is not JSON has no document, and an assignment
    /// without an entity is left out.
    fn from(resource: ArmResource<MetadataSchemaProperties>) -> Self {
        let properties = resource.properties;
        let assigned_to = properties
            .assigned_to
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| {
                Some(Assignment {
                    entity: a.entity?.to_ascii_lowercase(),
                    required: a.required == Some(true),
                    deprecated: a.deprecated == Some(true),
                })
            })
            .collect();
        Self {
            name: resource.name,
            document: serde_json::from_str(&properties.schema).ok(),
            assigned_to,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entity_keeps_its_properties_and_etag() {
        let resource: ArmResource<Value> = serde_json::from_value(json!({
            "name": "a", "properties": {"title": "A", "unknown": null}, "etag": "\"1\""
        }))
        .unwrap();
        assert_eq!(
            ApicEntity::from(resource),
            ApicEntity {
                name: "a".into(),
                properties: json!({"title": "A", "unknown": null}),
                etag: Some("\"1\"".into()),
            }
        );
        let bare: ArmResource<Value> = serde_json::from_value(json!({"name": "b"})).unwrap();
        assert_eq!(
            ApicEntity::from(bare),
            ApicEntity {
                name: "b".into(),
                properties: json!({}),
                etag: None,
            }
        );
    }

    #[test]
    fn a_metadata_schema_is_read_leniently() {
        let resource: ArmResource<MetadataSchemaProperties> = serde_json::from_value(json!({
            "name": "owner",
            "properties": {
                "schema": "{\"type\":\"string\"}",
                "assignedTo": [
                    {"entity": "API", "required": true},
                    {"required": true},
                    {"entity": "deployment", "deprecated": true}
                ]
            }
        }))
        .unwrap();
        assert_eq!(
            MetadataSchema::from(resource),
            MetadataSchema {
                name: "owner".into(),
                document: Some(json!({"type": "string"})),
                assigned_to: vec![
                    Assignment {
                        entity: "api".into(),
                        required: true,
                        deprecated: false,
                    },
                    Assignment {
                        entity: "deployment".into(),
                        required: false,
                        deprecated: true,
                    },
                ],
            }
        );
        let not_json: ArmResource<MetadataSchemaProperties> =
            serde_json::from_value(json!({"name": "x", "properties": {"schema": "not json"}}))
                .unwrap();
        let schema = MetadataSchema::from(not_json);
        assert_eq!(schema.document, None);
        assert!(schema.assigned_to.is_empty());
    }
}
