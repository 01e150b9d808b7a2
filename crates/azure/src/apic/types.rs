//! API Center shapes (api-version 2024-03-01). Reads are lenient: optional members,
//! `kind` an open string, unknown members kept in `extra` so a merge sends back
//! what someone else wrote. Read-only members are stripped before any PUT (see
//! [`super::ApicKind::read_only_members`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiProperties {
    /// 1-50 characters.
    #[serde(default)]
    pub title: String,
    /// rest, graphql, grpc, soap, webhook, websocket — read as an open string
    /// (later versions add e.g. `mcp`).
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Read-only on the API (derived from its versions): never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<TermsOfService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_documentation: Option<Vec<ExternalDocumentation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TermsOfService {
    #[serde(default)]
    pub url: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalDocumentation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub url: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersionProperties {
    #[serde(default)]
    pub title: String,
    /// design, development, testing, preview, production, deprecated, retired.
    #[serde(default)]
    pub lifecycle_stage: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiDefinitionProperties {
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Read-only: set only by importSpecification; absent until an import completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<SpecificationDetails>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecificationDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentProperties {
    #[serde(default)]
    pub title: String,
    /// development, testing, staging, production.
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<EnvironmentServer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<Onboarding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The documented server type label for APIM.
pub const SERVER_TYPE_APIM: &str = "Azure API Management";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentServer {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub server_type: Option<String>,
    /// At most one entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_portal_uri: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EnvironmentServer {
    /// Compares server types ignoring case and punctuation: the service has been seen
    /// to answer `azure-api-management` for the documented `Azure API Management`.
    pub fn type_matches(&self, expected: &str) -> bool {
        let norm = |s: &str| -> String {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        self.server_type
            .as_deref()
            .is_some_and(|t| norm(t) == norm(expected))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Onboarding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// At most one entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_portal_uri: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Service-relative: `/workspaces/{ws}/environments/{env}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// Service-relative: `/workspaces/{ws}/apis/{api}/versions/{ver}/definitions/{def}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition_id: Option<String>,
    /// active | inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<DeploymentServer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentServer {
    /// Each at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_uri: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataSchemaProperties {
    #[serde(default)]
    pub schema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<Vec<MetadataAssignment>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataAssignment {
    /// api, environment, deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where importSpecification reads the document from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImportFormat {
    /// The document itself (up to about 3 MB).
    Inline,
    /// A URL API Center fetches (e.g. an APIM export SAS link).
    Link,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecificationRef {
    /// openapi, wsdl, graphql, wadl, grpc, ...
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The importSpecification body: `{format, value, specification: {name, version}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSpecification {
    pub format: ImportFormat,
    pub value: String,
    pub specification: SpecificationRef,
}

/// Above this, a document should travel as a link rather than inline.
pub const MAX_INLINE_IMPORT_BYTES: usize = 3 * 1024 * 1024;

/// The exportSpecification answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecificationExport {
    /// inline | link.
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_members_survive_a_round_trip() {
        let body = json!({
            "title": "Echo",
            "kind": "mcp",
            "summary": "user summary",
            "lifecycleStage": "design",
            "contacts": [{"name": "A", "pager": "123"}],
            "newServiceField": {"x": 1}
        });
        let props: ApiProperties = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(props.kind, "mcp");
        assert_eq!(props.extra.get("newServiceField"), Some(&json!({"x": 1})));
        assert_eq!(serde_json::to_value(&props).unwrap(), body);
    }

    #[test]
    fn server_type_is_compared_leniently() {
        let server = EnvironmentServer {
            server_type: Some("azure-api-management".into()),
            ..Default::default()
        };
        assert!(server.type_matches(SERVER_TYPE_APIM));
        assert!(!server.type_matches("Kubernetes"));
    }

    #[test]
    fn import_body_shape() {
        let body = ImportSpecification {
            format: ImportFormat::Inline,
            value: "{}".into(),
            specification: SpecificationRef {
                name: "openapi".into(),
                version: Some("3.0.1".into()),
            },
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"format": "inline", "value": "{}", "specification": {"name": "openapi", "version": "3.0.1"}})
        );
    }
}
