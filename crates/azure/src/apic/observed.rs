//! API Center answers in the shapes the planner reads ([`apilink_core::observed`] and
//! [`apilink_core::metadata`]), converted from the answers directly.

use apilink_core::metadata::{Assignment, MetadataSchema};
use apilink_core::observed::{ApicEntity, planned_members};
use apilink_core::ownership::EntityKind;
use serde_json::Value;

use super::ApicKind;
use super::types::MetadataSchemaProperties;
use crate::resource::ArmResource;

/// The ownership table's entity for a kind the link writes.
fn entity_kind(kind: ApicKind) -> Option<EntityKind> {
    match kind {
        ApicKind::Api => Some(EntityKind::Api),
        ApicKind::Version => Some(EntityKind::Version),
        ApicKind::Definition => Some(EntityKind::Definition),
        ApicKind::Environment => Some(EntityKind::Environment),
        ApicKind::Deployment => Some(EntityKind::Deployment),
        ApicKind::MetadataSchema => None,
    }
}

/// One item of a list as planning reads it: only the members [`planned_members`] keeps
/// (all of them for a kind outside the ownership table).
pub(super) fn listed_entity(kind: ApicKind, mut resource: ArmResource<Value>) -> ApicEntity {
    if let Some(kind) = entity_kind(kind) {
        resource.properties = planned_members(kind, resource.properties);
    }
    ApicEntity::from(resource)
}

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
            properties: properties.into(),
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
                properties: json!({"title": "A", "unknown": null}).into(),
                etag: Some("\"1\"".into()),
            }
        );
        let bare: ArmResource<Value> = serde_json::from_value(json!({"name": "b"})).unwrap();
        assert_eq!(
            ApicEntity::from(bare),
            ApicEntity {
                name: "b".into(),
                properties: json!({}).into(),
                etag: None,
            }
        );
    }

    #[test]
    fn a_listed_entity_keeps_what_planning_reads() {
        let record = "apilink/1 link=ns/a src=api:echo";
        let resource: ArmResource<Value> = serde_json::from_value(json!({
            "name": "echo", "etag": "\"7\"", "systemData": {"createdBy": "x"},
            "properties": {
                "title": "Echo", "description": null, "kind": "rest", "summary": "curated",
                "contacts": [{"name": "Team"}], "license": {"name": "MIT"},
                "termsOfService": {"url": "https://t"}, "lifecycleStage": "design",
                "externalDocumentation": [{"url": "https://d"}], "newMember": 1,
                "customProperties": {"apilink-ownership": record, "apilink": {"link": "old"}, "owner": "me"}
            }
        }))
        .unwrap();
        assert_eq!(
            listed_entity(ApicKind::Api, resource),
            ApicEntity {
                name: "echo".into(),
                properties: json!({
                    "title": "Echo", "description": null, "kind": "rest",
                    "lifecycleStage": "design",
                    "customProperties": {"apilink-ownership": record, "apilink": {"link": "old"}, "owner": "me"}
                }).into(),
                etag: Some("\"7\"".into()),
            }
        );
        let definition: ArmResource<Value> = serde_json::from_value(json!({
            "name": "openapi",
            "properties": {"title": "T", "specification": {"name": "openapi", "version": "3.0.1"}, "x": 2}
        }))
        .unwrap();
        assert_eq!(
            listed_entity(ApicKind::Definition, definition)
                .properties
                .value(),
            json!({"title": "T", "specification": {"name": "openapi", "version": "3.0.1"}})
        );
        let deployment: ArmResource<Value> = serde_json::from_value(json!({
            "name": "d", "properties": {
                "title": "D", "state": "active", "environmentId": "/e", "definitionId": "/d",
                "server": {"runtimeUri": ["https://g/echo"], "other": 1},
                "customProperties": {"apilink-ownership": record}
            }
        }))
        .unwrap();
        assert_eq!(
            listed_entity(ApicKind::Deployment, deployment)
                .properties
                .value(),
            json!({
                "state": "active", "environmentId": "/e", "definitionId": "/d",
                "server": {"runtimeUri": ["https://g/echo"]},
                "customProperties": {"apilink-ownership": record}
            })
        );
        let bare: ArmResource<Value> = serde_json::from_value(json!({"name": "b"})).unwrap();
        assert_eq!(
            listed_entity(ApicKind::Version, bare).properties.value(),
            json!({})
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
