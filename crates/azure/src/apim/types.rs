//! APIM shapes (api-version 2024-05-01), read leniently: every member optional,
//! unknown members kept in `extra`, `type` absent on plain REST APIs.

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
#[serde(rename_all = "camelCase")]
pub struct ServiceProperties {
    #[serde(default)]
    pub gateway_url: Option<String>,
    #[serde(default)]
    pub developer_portal_url: Option<String>,
    #[serde(default)]
    pub portal_url: Option<String>,
    #[serde(default)]
    pub management_api_url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub hostname_configurations: Vec<HostnameConfiguration>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostnameConfiguration {
    /// `Proxy`, `DeveloperPortal`, `Management`, `Portal`, `Scm`, ...
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub host_name: String,
    #[serde(default)]
    pub default_ssl_binding: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimService = ArmResource<ServiceProperties>;

impl ServiceProperties {
    /// The custom gateway domain: the `Proxy` hostname with `defaultSslBinding: true`.
    pub fn custom_proxy_hostname(&self) -> Option<&str> {
        self.hostname_configurations
            .iter()
            .find(|h| {
                h.kind.eq_ignore_ascii_case("Proxy")
                    && h.default_ssl_binding == Some(true)
                    && !h.host_name.is_empty()
            })
            .map(|h| h.host_name.as_str())
    }

    /// The base URL clients call: the custom Proxy domain when there is one, else
    /// `gatewayUrl`. No trailing slash.
    pub fn runtime_base_url(&self) -> Option<String> {
        if let Some(host) = self.custom_proxy_hostname() {
            return Some(format!("https://{host}"));
        }
        self.gateway_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_string())
    }

    pub fn developer_portal(&self) -> Option<&str> {
        self.developer_portal_url
            .as_deref()
            .filter(|u| !u.is_empty())
    }
}

/// APIM API type; absent means http.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiType {
    Http,
    Soap,
    WebSocket,
    GraphQl,
    OData,
    Grpc,
    Other(String),
}

impl ApiType {
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("http") => Self::Http,
            Some("soap") => Self::Soap,
            Some("websocket") => Self::WebSocket,
            Some("graphql") => Self::GraphQl,
            Some("odata") => Self::OData,
            Some("grpc") => Self::Grpc,
            Some(_) => Self::Other(value.unwrap_or_default().to_string()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiProperties {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub service_url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub protocols: Vec<String>,
    #[serde(default, rename = "type")]
    pub api_type: Option<String>,
    #[serde(default)]
    pub api_revision: Option<String>,
    #[serde(default)]
    pub is_current: Option<bool>,
    #[serde(default)]
    pub is_online: Option<bool>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub api_version_description: Option<String>,
    #[serde(default)]
    pub api_version_set_id: Option<String>,
    /// Filled with `expandApiVersionSet=true`.
    #[serde(default)]
    pub api_version_set: Option<VersionSetDetails>,
    #[serde(default)]
    pub api_revision_description: Option<String>,
    #[serde(default)]
    pub contact: Option<Value>,
    #[serde(default)]
    pub license: Option<Value>,
    #[serde(default)]
    pub terms_of_service_url: Option<String>,
    #[serde(default)]
    pub subscription_required: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSetDetails {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub versioning_scheme: Option<String>,
    #[serde(default)]
    pub version_query_name: Option<String>,
    #[serde(default)]
    pub version_header_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimApi = ArmResource<ApiProperties>;

/// `echo-api;rev=3` → `echo-api`.
pub fn strip_revision(api_id: &str) -> &str {
    api_id.split_once(";rev=").map_or(api_id, |(base, _)| base)
}

impl ApimApi {
    pub fn api_type(&self) -> ApiType {
        ApiType::parse(self.properties.api_type.as_deref())
    }

    /// Only the current revision is the API. `isCurrent` absent counts as current
    /// unless the id names a revision.
    pub fn is_current(&self) -> bool {
        self.properties
            .is_current
            .unwrap_or_else(|| !self.name.contains(";rev="))
    }

    /// The API id without any `;rev=N` suffix.
    pub fn api_id(&self) -> &str {
        strip_revision(&self.name)
    }

    /// The version-set name from `apiVersionSetId`, if the API is versioned.
    pub fn version_set_name(&self) -> Option<&str> {
        self.properties
            .api_version_set_id
            .as_deref()
            .and_then(crate::ids::last_segment)
    }
}

/// An item of `/apis/{id}/revisions` (flat, no `properties`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiRevision {
    #[serde(default)]
    pub api_id: Option<String>,
    #[serde(default)]
    pub api_revision: Option<String>,
    #[serde(default)]
    pub is_current: Option<bool>,
    #[serde(default)]
    pub is_online: Option<bool>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub updated_date_time: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub private_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSetProperties {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub versioning_scheme: Option<String>,
    #[serde(default)]
    pub version_query_name: Option<String>,
    #[serde(default)]
    pub version_header_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimVersionSet = ArmResource<VersionSetProperties>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceProperties {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimWorkspace = ArmResource<WorkspaceProperties>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaProperties {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub document: Option<SchemaDocument>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDocument {
    #[serde(default)]
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
                let doc: Value = serde_json::from_str(&self.content).ok()?;
                doc.get("openapi")
                    .or_else(|| doc.get("swagger"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
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
    use serde_json::json;

    #[test]
    fn absent_type_is_http_and_unknown_members_are_kept() {
        let api: ApimApi = serde_json::from_value(json!({
            "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/a/apis/echo-api",
            "name": "echo-api",
            "type": "Microsoft.ApiManagement/service/apis",
            "properties": {"displayName": "Echo", "path": "", "isCurrent": true, "brandNewField": 7}
        }))
        .unwrap();
        assert_eq!(api.api_type(), ApiType::Http);
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
        assert_eq!(rev.api_id(), "echo-api");
        assert_eq!(rev.api_type(), ApiType::Soap);
        assert_eq!(rev.version_set_name(), Some("vs1"));
        assert_eq!(ApiType::parse(Some("GraphQL")), ApiType::GraphQl);
        assert_eq!(ApiType::parse(Some("mcp")), ApiType::Other("mcp".into()));
    }

    #[test]
    fn custom_proxy_hostname_wins() {
        let service: ApimService = serde_json::from_value(json!({
            "name": "contoso",
            "properties": {
                "gatewayUrl": "https://contoso.azure-api.net",
                "developerPortalUrl": null,
                "hostnameConfigurations": [
                    {"type": "Proxy", "hostName": "contoso.azure-api.net", "defaultSslBinding": false},
                    {"type": "Proxy", "hostName": "api.contoso.com", "defaultSslBinding": true},
                    {"type": "DeveloperPortal", "hostName": "dev.contoso.com", "defaultSslBinding": true}
                ]
            }
        }))
        .unwrap();
        assert_eq!(
            service.properties.runtime_base_url().as_deref(),
            Some("https://api.contoso.com")
        );
        assert_eq!(service.properties.developer_portal(), None);
        let plain: ApimService = serde_json::from_value(json!({
            "properties": {"gatewayUrl": "https://c.azure-api.net/", "hostnameConfigurations": null}
        }))
        .unwrap();
        assert_eq!(
            plain.properties.runtime_base_url().as_deref(),
            Some("https://c.azure-api.net")
        );
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
        let wsdl = ExportedDefinition {
            format: DefinitionFormat::Wsdl,
            content: r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>"#.into(),
        };
        assert_eq!(wsdl.specification_version().as_deref(), Some("1.1"));
        assert_eq!(strip_revision("a;rev=12"), "a");
        assert_eq!(strip_revision("a"), "a");
    }
}
