//! APIM shapes (api-version 2024-05-01), read leniently: every member optional,
//! unknown members kept in `extra`, `type` absent on plain REST APIs. These shapes
//! are only read, never sent, so a `None` member is simply written as `null`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::resource::ArmResource;

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceProperties {
    pub gateway_url: Option<String>,
    pub developer_portal_url: Option<String>,
    pub portal_url: Option<String>,
    pub management_api_url: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub hostname_configurations: Vec<HostnameConfiguration>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostnameConfiguration {
    /// `Proxy`, `DeveloperPortal`, `Management`, `Portal`, `Scm`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub host_name: String,
    pub default_ssl_binding: Option<bool>,
    /// `BuiltIn` for the hosts APIM gives out, else `Managed`, `KeyVault` or `Custom`.
    pub certificate_source: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimService = ArmResource<ServiceProperties>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiProperties {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub path: Option<String>,
    pub service_url: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub protocols: Vec<String>,
    #[serde(rename = "type")]
    pub api_type: Option<String>,
    pub api_revision: Option<String>,
    pub is_current: Option<bool>,
    pub is_online: Option<bool>,
    pub api_version: Option<String>,
    pub api_version_description: Option<String>,
    pub api_version_set_id: Option<String>,
    /// Filled with `expandApiVersionSet=true`.
    pub api_version_set: Option<VersionSetDetails>,
    pub api_revision_description: Option<String>,
    pub contact: Option<Value>,
    pub license: Option<Value>,
    pub terms_of_service_url: Option<String>,
    pub subscription_required: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VersionSetDetails {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub versioning_scheme: Option<String>,
    pub version_query_name: Option<String>,
    pub version_header_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimApi = ArmResource<ApiProperties>;

impl ApimApi {
    /// Only the current revision is the API. `isCurrent` absent counts as current
    /// unless the id names a revision.
    pub fn is_current(&self) -> bool {
        self.properties
            .is_current
            .unwrap_or_else(|| !self.name.contains(";rev="))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VersionSetProperties {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub versioning_scheme: Option<String>,
    pub version_query_name: Option<String>,
    pub version_header_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimVersionSet = ArmResource<VersionSetProperties>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkspaceProperties {
    pub display_name: Option<String>,
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimWorkspace = ArmResource<WorkspaceProperties>;

/// `GET {service}/workspaceLinks` item: the gateways serving one workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkspaceLinkProperties {
    /// The workspace's ARM id.
    pub workspace_id: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub gateways: Vec<WorkspaceLinkGateway>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkspaceLinkGateway {
    /// ARM id of a `Microsoft.ApiManagement/gateways/{name}` resource.
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimWorkspaceLink = ArmResource<WorkspaceLinkProperties>;

impl ApimWorkspaceLink {
    /// The workspace's name: the last segment of `workspaceId`, else the link's name
    /// (links are named after their workspace).
    pub fn workspace(&self) -> &str {
        self.properties
            .workspace_id
            .as_deref()
            .and_then(|id| id.trim_end_matches('/').rsplit('/').next())
            .filter(|ws| !ws.is_empty())
            .unwrap_or(&self.name)
    }
}

/// `GET {gateway}/configConnections` item: one workspace a gateway serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewayConfigConnectionProperties {
    pub provisioning_state: Option<String>,
    /// The ARM id of the workspace served.
    pub source_id: Option<String>,
    /// Set by APIM: `{connection}-{hash}.{gateway}.gateway.{region}.azure-api.net`.
    pub default_hostname: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub hostnames: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimGatewayConfigConnection = ArmResource<GatewayConfigConnectionProperties>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SchemaProperties {
    pub content_type: Option<String>,
    pub document: Option<SchemaDocument>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SchemaDocument {
    pub value: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimSchema = ArmResource<SchemaProperties>;

/// The format of a downloaded definition; decides the API Center specification name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionFormat {
    /// OpenAPI 3 JSON (`openapi+json-link`).
    OpenApiJson,
    /// OpenAPI 2 JSON (`swagger-link`).
    SwaggerJson,
    Wsdl,
    GraphQl,
    Grpc,
}

impl DefinitionFormat {
    /// API Center's `specification.name`.
    pub fn specification_name(self) -> &'static str {
        match self {
            Self::OpenApiJson | Self::SwaggerJson => "openapi",
            Self::Wsdl => "wsdl",
            Self::GraphQl => "graphql",
            Self::Grpc => "grpc",
        }
    }
}

/// The members of an OpenAPI or Swagger document that say its version; the rest of
/// the document is skipped as it is read, not built into a tree.
#[derive(Deserialize)]
struct OpenApiVersion {
    #[serde(default, deserialize_with = "present")]
    openapi: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    swagger: Option<Value>,
}

/// A member that is present, `null` included (`None` only when absent).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A definition exported from APIM, ready to import into API Center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedDefinition {
    pub format: DefinitionFormat,
    pub content: String,
}

impl ExportedDefinition {
    pub fn specification_name(&self) -> &'static str {
        self.format.specification_name()
    }

    /// The specification version read from the document where it says so
    /// (`openapi: 3.0.1`, `swagger: 2.0`, WSDL 1.1 vs 2.0, proto syntax).
    pub fn specification_version(&self) -> Option<String> {
        match self.format {
            DefinitionFormat::OpenApiJson | DefinitionFormat::SwaggerJson => {
                let doc: OpenApiVersion = serde_json::from_str(&self.content).ok()?;
                match doc.openapi.or(doc.swagger)? {
                    Value::String(version) => Some(version),
                    _ => None,
                }
            }
            DefinitionFormat::Wsdl => Some(
                if self.content.contains("http://www.w3.org/ns/wsdl") {
                    "2.0"
                } else {
                    "1.1"
                }
                .to_string(),
            ),
            DefinitionFormat::Grpc => {
                if self.content.contains("syntax = \"proto3\"") {
                    Some("proto3".into())
                } else if self.content.contains("syntax = \"proto2\"") {
                    Some("proto2".into())
                } else {
                    None
                }
            }
            DefinitionFormat::GraphQl => None,
        }
    }
}

/// Reads an export answer: `{value: {link}}` (service level) or
/// `{properties: {value: {link}}}` (workspace level). The echoed `format` is ignored:
/// APIM answers `swagger-link-json` to `swagger-link` and the like.
pub fn export_link(answer: &Value) -> Option<&str> {
    let value = answer
        .get("value")
        .or_else(|| answer.get("properties").and_then(|p| p.get("value")))?;
    value
        .get("link")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_wire_form::assert_wire_form;
    use serde_json::json;

    // `None` members are written as `null`; missing members take their defaults;
    // unknown members are kept and written after the known ones, in key order.
    #[test]
    fn service_properties_wire_form() {
        assert_wire_form::<ServiceProperties>(&[
            (
                r#"{"zNew":1,"gatewayUrl":"https://g","developerPortalUrl":"https://d","portalUrl":"https://p","managementApiUrl":"https://m","hostnameConfigurations":[{"type":"Proxy","hostName":"h","defaultSslBinding":true,"certificate":null}],"aNew":"a"}"#,
                r#"{"gatewayUrl":"https://g","developerPortalUrl":"https://d","portalUrl":"https://p","managementApiUrl":"https://m","hostnameConfigurations":[{"type":"Proxy","hostName":"h","defaultSslBinding":true,"certificateSource":null,"certificate":null}],"aNew":"a","zNew":1}"#,
            ),
            (
                r#"{"gatewayUrl":null,"hostnameConfigurations":null}"#,
                r#"{"gatewayUrl":null,"developerPortalUrl":null,"portalUrl":null,"managementApiUrl":null,"hostnameConfigurations":[]}"#,
            ),
            (
                r#"{}"#,
                r#"{"gatewayUrl":null,"developerPortalUrl":null,"portalUrl":null,"managementApiUrl":null,"hostnameConfigurations":[]}"#,
            ),
        ]);
        assert_wire_form::<HostnameConfiguration>(&[
            (
                r#"{"hostName":"h","type":"Scm","kind":"not the member","certificateSource":"BuiltIn"}"#,
                r#"{"type":"Scm","hostName":"h","defaultSslBinding":null,"certificateSource":"BuiltIn","kind":"not the member"}"#,
            ),
            (
                r#"{}"#,
                r#"{"type":"","hostName":"","defaultSslBinding":null,"certificateSource":null}"#,
            ),
        ]);
        assert!(serde_json::from_str::<HostnameConfiguration>(r#"{"type":null}"#).is_err());
    }

    #[test]
    fn api_properties_wire_form() {
        assert_wire_form::<ApiProperties>(&[
            (
                r#"{"displayName":"Echo","description":"d","path":"echo","serviceUrl":"https://b","protocols":["https"],"type":"soap","apiRevision":"2","isCurrent":false,"isOnline":true,"apiVersion":"v1","apiVersionDescription":"vd","apiVersionSetId":"/x/apiVersionSets/vs","apiVersionSet":{"id":"/x/apiVersionSets/vs","name":"vs","description":"d","versioningScheme":"Segment","versionQueryName":"q","versionHeaderName":"h","x":2},"apiRevisionDescription":"rd","contact":{"name":"A"},"license":{"name":"MIT"},"termsOfServiceUrl":"https://t","subscriptionRequired":true,"authenticationSettings":{}}"#,
                r#"{"displayName":"Echo","description":"d","path":"echo","serviceUrl":"https://b","protocols":["https"],"type":"soap","apiRevision":"2","isCurrent":false,"isOnline":true,"apiVersion":"v1","apiVersionDescription":"vd","apiVersionSetId":"/x/apiVersionSets/vs","apiVersionSet":{"id":"/x/apiVersionSets/vs","name":"vs","description":"d","versioningScheme":"Segment","versionQueryName":"q","versionHeaderName":"h","x":2},"apiRevisionDescription":"rd","contact":{"name":"A"},"license":{"name":"MIT"},"termsOfServiceUrl":"https://t","subscriptionRequired":true,"authenticationSettings":{}}"#,
            ),
            (
                r#"{"protocols":null,"contact":null,"apiVersionSet":{}}"#,
                r#"{"displayName":null,"description":null,"path":null,"serviceUrl":null,"protocols":[],"type":null,"apiRevision":null,"isCurrent":null,"isOnline":null,"apiVersion":null,"apiVersionDescription":null,"apiVersionSetId":null,"apiVersionSet":{"id":null,"name":null,"description":null,"versioningScheme":null,"versionQueryName":null,"versionHeaderName":null},"apiRevisionDescription":null,"contact":null,"license":null,"termsOfServiceUrl":null,"subscriptionRequired":null}"#,
            ),
            (
                r#"{}"#,
                r#"{"displayName":null,"description":null,"path":null,"serviceUrl":null,"protocols":[],"type":null,"apiRevision":null,"isCurrent":null,"isOnline":null,"apiVersion":null,"apiVersionDescription":null,"apiVersionSetId":null,"apiVersionSet":null,"apiRevisionDescription":null,"contact":null,"license":null,"termsOfServiceUrl":null,"subscriptionRequired":null}"#,
            ),
        ]);
        assert_wire_form::<VersionSetDetails>(&[(
            r#"{"name":"vs","x":1}"#,
            r#"{"id":null,"name":"vs","description":null,"versioningScheme":null,"versionQueryName":null,"versionHeaderName":null,"x":1}"#,
        )]);
    }

    #[test]
    fn version_set_wire_form() {
        assert_wire_form::<VersionSetProperties>(&[
            (
                r#"{"versioningScheme":"Header","displayName":"VS","versionHeaderName":"v","x":1}"#,
                r#"{"displayName":"VS","description":null,"versioningScheme":"Header","versionQueryName":null,"versionHeaderName":"v","x":1}"#,
            ),
            (
                r#"{}"#,
                r#"{"displayName":null,"description":null,"versioningScheme":null,"versionQueryName":null,"versionHeaderName":null}"#,
            ),
        ]);
    }

    #[test]
    fn workspace_and_schema_wire_form() {
        assert_wire_form::<WorkspaceProperties>(&[
            (
                r#"{"description":"d","displayName":"W","x":1}"#,
                r#"{"displayName":"W","description":"d","x":1}"#,
            ),
            (r#"{}"#, r#"{"displayName":null,"description":null}"#),
        ]);
        assert_wire_form::<SchemaProperties>(&[
            (
                r#"{"contentType":"application/vnd.ms-azure-apim.swagger.definitions+json","document":{"value":"{}","definitions":{}},"x":1}"#,
                r#"{"contentType":"application/vnd.ms-azure-apim.swagger.definitions+json","document":{"value":"{}","definitions":{}},"x":1}"#,
            ),
            (
                r#"{"document":{}}"#,
                r#"{"contentType":null,"document":{"value":null}}"#,
            ),
            (r#"{}"#, r#"{"contentType":null,"document":null}"#),
        ]);
        assert_wire_form::<SchemaDocument>(&[(r#"{"value":null}"#, r#"{"value":null}"#)]);
    }

    #[test]
    fn unknown_members_are_kept() {
        let api: ApimApi = serde_json::from_value(json!({
            "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/a/apis/echo-api",
            "name": "echo-api",
            "type": "Microsoft.ApiManagement/service/apis",
            "properties": {"displayName": "Echo", "path": "", "isCurrent": true, "brandNewField": 7}
        }))
        .unwrap();
        assert_eq!(api.properties.api_type, None);
        assert!(api.is_current());
        assert_eq!(api.properties.extra.get("brandNewField"), Some(&json!(7)));
        assert_eq!(api.properties.path.as_deref(), Some(""));
    }

    #[test]
    fn revisions_are_not_current() {
        let rev: ApimApi = serde_json::from_value(json!({
            "name": "echo-api;rev=2",
            "properties": {"type": "soap", "apiVersionSetId": "/x/apiVersionSets/vs1"}
        }))
        .unwrap();
        assert!(!rev.is_current());
        let flagged: ApimApi = serde_json::from_value(json!({
            "name": "echo-api",
            "properties": {"isCurrent": false}
        }))
        .unwrap();
        assert!(!flagged.is_current(), "the flag wins over the name");
    }

    #[test]
    fn workspace_link_and_config_connection_wire_form() {
        assert_wire_form::<WorkspaceLinkProperties>(&[
            (
                r#"{"workspaceId":"/s/workspaces/wk-1","gateways":[{"id":"/g/gateway-1","x":1}],"y":2}"#,
                r#"{"workspaceId":"/s/workspaces/wk-1","gateways":[{"id":"/g/gateway-1","x":1}],"y":2}"#,
            ),
            (
                r#"{"gateways":null}"#,
                r#"{"workspaceId":null,"gateways":[]}"#,
            ),
        ]);
        assert_wire_form::<GatewayConfigConnectionProperties>(&[
            (
                r#"{"provisioningState":"Succeeded","sourceId":"/s/workspaces/ws-001","defaultHostname":"gcc-1-a.gw.gateway.eastus.azure-api.net","hostnames":["gcc1gw.gateway.eastus.azure-api.net"],"x":1}"#,
                r#"{"provisioningState":"Succeeded","sourceId":"/s/workspaces/ws-001","defaultHostname":"gcc-1-a.gw.gateway.eastus.azure-api.net","hostnames":["gcc1gw.gateway.eastus.azure-api.net"],"x":1}"#,
            ),
            (
                r#"{"hostnames":null}"#,
                r#"{"provisioningState":null,"sourceId":null,"defaultHostname":null,"hostnames":[]}"#,
            ),
        ]);
        let link: ApimWorkspaceLink = serde_json::from_value(json!({
            "name": "wk-1",
            "properties": {"workspaceId": "/x/services/s/workspaces/Team-A"}
        }))
        .unwrap();
        assert_eq!(link.workspace(), "Team-A");
        let unnamed: ApimWorkspaceLink =
            serde_json::from_value(json!({"name": "wk-2", "properties": {}})).unwrap();
        assert_eq!(unnamed.workspace(), "wk-2");
    }

    #[test]
    fn export_link_shapes() {
        assert_eq!(
            export_link(
                &json!({"id": "x", "format": "swagger-link-json", "value": {"link": "https://b/x?sig=1"}})
            ),
            Some("https://b/x?sig=1")
        );
        assert_eq!(
            export_link(
                &json!({"properties": {"format": "openapi+json-link", "value": {"link": "https://b/y"}}})
            ),
            Some("https://b/y")
        );
        assert_eq!(export_link(&json!({"value": "inline document"})), None);
    }

    #[test]
    fn specification_versions() {
        let openapi = ExportedDefinition {
            format: DefinitionFormat::OpenApiJson,
            content: r#"{"openapi":"3.0.1","info":{}}"#.into(),
        };
        assert_eq!(openapi.specification_version().as_deref(), Some("3.0.1"));
        assert_eq!(openapi.specification_name(), "openapi");
        let swagger = ExportedDefinition {
            format: DefinitionFormat::SwaggerJson,
            content: r#"{"swagger":"2.0"}"#.into(),
        };
        assert_eq!(swagger.specification_version().as_deref(), Some("2.0"));
        let unversioned = |content: &str| ExportedDefinition {
            format: DefinitionFormat::OpenApiJson,
            content: content.into(),
        };
        for content in [
            r#"{"openapi":3,"swagger":"2.0"}"#,
            r#"{"info":{}}"#,
            "[1]",
            "not json",
        ] {
            assert_eq!(
                unversioned(content).specification_version(),
                None,
                "{content}"
            );
        }
        let wsdl = ExportedDefinition {
            format: DefinitionFormat::Wsdl,
            content: r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>"#.into(),
        };
        assert_eq!(wsdl.specification_version().as_deref(), Some("1.1"));
    }
}
