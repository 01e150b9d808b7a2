//! API Center shapes (api-version 2024-03-01). Reads are lenient: optional members,
//! `kind` an open string, unknown members kept in `extra` so nothing read is lost
//! in a serde round trip. A PUT body, though, is reduced to the members the contract
//! declares writable (see [`super::put_body`]): read-only members and members the
//! service added to its answers since 2024-03-01 are never sent back.
//!
//! Every shape here is also a PUT body, so a `None` member is left out rather than
//! written as `null`: the body carries only the members that are set.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiProperties {
    /// 1-50 characters.
    pub title: String,
    /// rest, graphql, grpc, soap, webhook, websocket — read as an open string
    /// (later versions add e.g. `mcp`).
    pub kind: String,
    pub description: Option<String>,
    pub summary: Option<String>,
    /// Read-only on the API (derived from its versions): never sent.
    pub lifecycle_stage: Option<String>,
    pub terms_of_service: Option<TermsOfService>,
    pub external_documentation: Option<Vec<ExternalDocumentation>>,
    pub contacts: Option<Vec<Contact>>,
    pub license: Option<License>,
    pub custom_properties: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TermsOfService {
    pub url: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalDocumentation {
    pub title: Option<String>,
    pub description: Option<String>,
    pub url: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    pub name: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct License {
    pub name: Option<String>,
    pub url: Option<String>,
    pub identifier: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiVersionProperties {
    pub title: String,
    /// design, development, testing, preview, production, deprecated, retired.
    pub lifecycle_stage: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiDefinitionProperties {
    pub title: String,
    pub description: Option<String>,
    /// Read-only: set only by importSpecification; absent until an import completed.
    pub specification: Option<SpecificationDetails>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SpecificationDetails {
    pub name: Option<String>,
    pub version: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvironmentProperties {
    pub title: String,
    /// development, testing, staging, production.
    pub kind: String,
    pub description: Option<String>,
    pub server: Option<EnvironmentServer>,
    pub onboarding: Option<Onboarding>,
    pub custom_properties: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvironmentServer {
    #[serde(rename = "type")]
    pub server_type: Option<String>,
    /// At most one entry.
    pub management_portal_uri: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Onboarding {
    pub instructions: Option<String>,
    /// At most one entry.
    pub developer_portal_uri: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentProperties {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Service-relative: `/workspaces/{ws}/environments/{env}`.
    pub environment_id: Option<String>,
    /// Service-relative: `/workspaces/{ws}/apis/{api}/versions/{ver}/definitions/{def}`.
    pub definition_id: Option<String>,
    /// active | inactive.
    pub state: Option<String>,
    pub server: Option<DeploymentServer>,
    pub custom_properties: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentServer {
    /// Each at most 200 characters.
    pub runtime_uri: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetadataSchemaProperties {
    pub schema: String,
    pub assigned_to: Option<Vec<MetadataAssignment>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetadataAssignment {
    /// api, environment, deployment.
    pub entity: Option<String>,
    pub required: Option<bool>,
    pub deprecated: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The API Center service's own properties (read only: apilink never writes the
/// service).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApicServiceProperties {
    /// The host of the service's data API, e.g. `c.data.westeurope.azure-apicenter.ms`.
    pub data_api_host_name: Option<String>,
    /// `Succeeded` once the service is ready.
    pub provisioning_state: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The API Center service: name, location, SKU (`Free`, `Standard`) and properties.
pub type ApicService = crate::resource::ArmResource<ApicServiceProperties>;

/// A workspace (every service has `default`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkspaceProperties {
    pub title: String,
    pub description: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_wire_form::assert_wire_form;
    use serde_json::json;

    // `None` members are left out of what is written; missing members take their
    // defaults; unknown members are kept and written after the known ones, in key order.
    #[test]
    fn api_properties_wire_form() {
        assert_wire_form::<ApiProperties>(&[
            (
                r#"{"zNew":1,"title":"Echo","kind":"rest","description":"d","summary":"s","lifecycleStage":"design","termsOfService":{"url":"https://t"},"externalDocumentation":[{"url":"https://e"}],"contacts":[{"name":"A","pager":"1"}],"license":{"name":"MIT"},"customProperties":{"b":2,"a":1},"aNew":null}"#,
                r#"{"title":"Echo","kind":"rest","description":"d","summary":"s","lifecycleStage":"design","termsOfService":{"url":"https://t"},"externalDocumentation":[{"url":"https://e"}],"contacts":[{"name":"A","pager":"1"}],"license":{"name":"MIT"},"customProperties":{"a":1,"b":2},"aNew":null,"zNew":1}"#,
            ),
            (
                r#"{"title":"Echo","kind":"mcp","description":null,"summary":null,"lifecycleStage":null,"termsOfService":null,"externalDocumentation":null,"contacts":null,"license":null,"customProperties":null}"#,
                r#"{"title":"Echo","kind":"mcp"}"#,
            ),
            (r#"{}"#, r#"{"title":"","kind":""}"#),
        ]);
        assert!(serde_json::from_str::<ApiProperties>(r#"{"title":null}"#).is_err());
    }

    #[test]
    fn api_property_parts_wire_form() {
        assert_wire_form::<TermsOfService>(&[
            (
                r#"{"url":"https://t","x":[1]}"#,
                r#"{"url":"https://t","x":[1]}"#,
            ),
            (r#"{}"#, r#"{"url":""}"#),
        ]);
        assert_wire_form::<ExternalDocumentation>(&[
            (
                r#"{"title":"T","description":"D","url":"https://e","x":true}"#,
                r#"{"title":"T","description":"D","url":"https://e","x":true}"#,
            ),
            (
                r#"{"url":"https://e","title":null,"description":null}"#,
                r#"{"url":"https://e"}"#,
            ),
            (r#"{}"#, r#"{"url":""}"#),
        ]);
        assert_wire_form::<Contact>(&[
            (
                r#"{"email":"a@b","url":"https://c","name":"A","x":{}}"#,
                r#"{"name":"A","url":"https://c","email":"a@b","x":{}}"#,
            ),
            (r#"{"name":null,"url":null,"email":null}"#, r#"{}"#),
            (r#"{}"#, r#"{}"#),
        ]);
        assert_wire_form::<License>(&[
            (
                r#"{"name":"MIT","url":"https://l","identifier":"MIT","x":"y"}"#,
                r#"{"name":"MIT","url":"https://l","identifier":"MIT","x":"y"}"#,
            ),
            (r#"{"name":null,"url":null,"identifier":null}"#, r#"{}"#),
        ]);
    }

    #[test]
    fn version_and_definition_wire_form() {
        assert_wire_form::<ApiVersionProperties>(&[
            (
                r#"{"lifecycleStage":"production","title":"v1","x":1}"#,
                r#"{"title":"v1","lifecycleStage":"production","x":1}"#,
            ),
            (r#"{}"#, r#"{"title":"","lifecycleStage":""}"#),
        ]);
        assert_wire_form::<ApiDefinitionProperties>(&[
            (
                r#"{"title":"OpenAPI","description":"d","specification":{"name":"openapi","version":"3.0.1","x":2},"x":1}"#,
                r#"{"title":"OpenAPI","description":"d","specification":{"name":"openapi","version":"3.0.1","x":2},"x":1}"#,
            ),
            (
                r#"{"title":"OpenAPI","description":null,"specification":null}"#,
                r#"{"title":"OpenAPI"}"#,
            ),
            (r#"{}"#, r#"{"title":""}"#),
        ]);
        assert_wire_form::<SpecificationDetails>(&[
            (r#"{"name":null,"version":null}"#, r#"{}"#),
            (
                r#"{"version":"2.0","name":"openapi"}"#,
                r#"{"name":"openapi","version":"2.0"}"#,
            ),
        ]);
    }

    #[test]
    fn environment_wire_form() {
        assert_wire_form::<EnvironmentProperties>(&[
            (
                r#"{"title":"APIM","kind":"production","description":"d","server":{"type":"Azure API Management","managementPortalUri":["https://m"],"x":3},"onboarding":{"instructions":"i","developerPortalUri":["https://p"]},"customProperties":{"k":"v"},"x":1}"#,
                r#"{"title":"APIM","kind":"production","description":"d","server":{"type":"Azure API Management","managementPortalUri":["https://m"],"x":3},"onboarding":{"instructions":"i","developerPortalUri":["https://p"]},"customProperties":{"k":"v"},"x":1}"#,
            ),
            (
                r#"{"title":"APIM","kind":"production","description":null,"server":{"type":null,"managementPortalUri":null},"onboarding":{},"customProperties":null}"#,
                r#"{"title":"APIM","kind":"production","server":{},"onboarding":{}}"#,
            ),
            (r#"{}"#, r#"{"title":"","kind":""}"#),
        ]);
        assert_wire_form::<EnvironmentServer>(&[(
            r#"{"type":"t","serverType":"not the member"}"#,
            r#"{"type":"t","serverType":"not the member"}"#,
        )]);
        assert_wire_form::<Onboarding>(&[(r#"{"instructions":null}"#, r#"{}"#)]);
    }

    #[test]
    fn deployment_wire_form() {
        assert_wire_form::<DeploymentProperties>(&[
            (
                r#"{"title":"D","description":"d","environmentId":"/workspaces/default/environments/e","definitionId":"/workspaces/default/apis/a/versions/v/definitions/d","state":"active","server":{"runtimeUri":["https://r"],"x":2},"customProperties":{},"x":1}"#,
                r#"{"title":"D","description":"d","environmentId":"/workspaces/default/environments/e","definitionId":"/workspaces/default/apis/a/versions/v/definitions/d","state":"active","server":{"runtimeUri":["https://r"],"x":2},"customProperties":{},"x":1}"#,
            ),
            (
                r#"{"title":null,"description":null,"environmentId":null,"definitionId":null,"state":null,"server":{"runtimeUri":null},"customProperties":null}"#,
                r#"{"server":{}}"#,
            ),
            (r#"{}"#, r#"{}"#),
        ]);
        assert_wire_form::<DeploymentServer>(&[(r#"{"runtimeUri":[]}"#, r#"{"runtimeUri":[]}"#)]);
    }

    #[test]
    fn metadata_schema_wire_form() {
        assert_wire_form::<MetadataSchemaProperties>(&[
            (
                r#"{"schema":"{}","assignedTo":[{"entity":"api","required":true,"deprecated":false,"x":2}],"x":1}"#,
                r#"{"schema":"{}","assignedTo":[{"entity":"api","required":true,"deprecated":false,"x":2}],"x":1}"#,
            ),
            (
                r#"{"schema":"{}","assignedTo":[{"entity":null,"required":null,"deprecated":null}]}"#,
                r#"{"schema":"{}","assignedTo":[{}]}"#,
            ),
            (r#"{"assignedTo":null}"#, r#"{"schema":""}"#),
        ]);
        assert_wire_form::<MetadataAssignment>(&[(r#"{}"#, r#"{}"#)]);
    }

    #[test]
    fn service_and_workspace_read() {
        let service: ApicService = serde_json::from_value(json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c",
            "name": "c",
            "type": "Microsoft.ApiCenter/services",
            "location": "westeurope",
            "sku": {"name": "Free"},
            "identity": {"type": "None"},
            "properties": {
                "dataApiHostName": "c.data.westeurope.azure-apicenter.ms",
                "provisioningState": "Succeeded",
                "restore": false
            }
        }))
        .unwrap();
        assert_eq!(service.name, "c");
        assert_eq!(service.location.as_deref(), Some("westeurope"));
        assert_eq!(service.sku_name(), Some("Free"));
        assert_eq!(
            service.properties.data_api_host_name.as_deref(),
            Some("c.data.westeurope.azure-apicenter.ms")
        );
        assert_eq!(
            service.properties.provisioning_state.as_deref(),
            Some("Succeeded")
        );
        assert_wire_form::<ApicServiceProperties>(&[(
            r#"{"provisioningState":"Failed","dataApiHostName":null,"x":1}"#,
            r#"{"provisioningState":"Failed","x":1}"#,
        )]);
        assert_wire_form::<WorkspaceProperties>(&[
            (
                r#"{"title":"Default workspace","description":"d","x":1}"#,
                r#"{"title":"Default workspace","description":"d","x":1}"#,
            ),
            (r#"{}"#, r#"{"title":""}"#),
        ]);
    }

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
