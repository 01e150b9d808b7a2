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

/// Host suffixes of the hosts APIM itself gives gateways (public cloud, Azure China,
/// Azure US Government, the retired Azure Germany). `foo.int-azure-api.net` is not under
/// `.azure-api.net`: the leading dot matters.
const PLATFORM_HOST_SUFFIXES: &[&str] = &[
    ".azure-api.net",
    ".azure-api.cn",
    ".azure-api.us",
    ".azure-api.de",
];

/// Whether `host` is a host APIM gave out rather than a custom domain.
pub fn is_platform_host(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    PLATFORM_HOST_SUFFIXES.iter().any(|s| host.ends_with(s))
}

fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

impl HostnameConfiguration {
    fn is_proxy(&self) -> bool {
        self.kind.eq_ignore_ascii_case("Proxy")
    }
}

impl ServiceProperties {
    /// The custom gateway domain: among the `Proxy` hostnames that are not APIM's own
    /// (`gatewayUrl`'s host, a platform host, or `certificateSource: BuiltIn`), the one
    /// with the default SSL binding, else the first. The binding alone is not enough: a
    /// single custom domain often leaves it on the default host.
    pub fn custom_proxy_hostname(&self) -> Option<&str> {
        let default_host = self.gateway_url.as_deref().map(url_host);
        let custom: Vec<&HostnameConfiguration> = self
            .hostname_configurations
            .iter()
            .filter(|h| h.is_proxy() && !h.host_name.trim().is_empty())
            .filter(|h| {
                !h.certificate_source
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case("BuiltIn"))
            })
            .filter(|h| !is_platform_host(&h.host_name))
            .filter(|h| default_host.as_deref() != Some(&*h.host_name.trim().to_ascii_lowercase()))
            .collect();
        custom
            .iter()
            .find(|h| h.default_ssl_binding == Some(true))
            .or(custom.first())
            .map(|h| h.host_name.trim())
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
#[serde(rename_all = "camelCase", default)]
pub struct ApiRevision {
    pub api_id: Option<String>,
    pub api_revision: Option<String>,
    pub is_current: Option<bool>,
    pub is_online: Option<bool>,
    pub created_date_time: Option<String>,
    pub updated_date_time: Option<String>,
    pub description: Option<String>,
    pub private_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
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

impl GatewayConfigConnectionProperties {
    /// The host clients call: a custom domain among `hostnames`, else `defaultHostname`,
    /// else any of `hostnames`.
    pub fn runtime_host(&self) -> Option<&str> {
        let custom = self.hostnames.iter().find(|h| !is_platform_host(h));
        custom
            .or(self.default_hostname.as_ref())
            .or(self.hostnames.first())
            .map(|h| h.trim())
            .filter(|h| !h.is_empty())
    }
}

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
    fn revision_and_version_set_wire_form() {
        assert_wire_form::<ApiRevision>(&[
            (
                r#"{"apiId":"/apis/echo;rev=2","apiRevision":"2","isCurrent":false,"isOnline":true,"createdDateTime":"2024-01-01T00:00:00Z","updatedDateTime":"2024-01-02T00:00:00Z","description":"d","privateUrl":"/echo;rev=2","x":1}"#,
                r#"{"apiId":"/apis/echo;rev=2","apiRevision":"2","isCurrent":false,"isOnline":true,"createdDateTime":"2024-01-01T00:00:00Z","updatedDateTime":"2024-01-02T00:00:00Z","description":"d","privateUrl":"/echo;rev=2","x":1}"#,
            ),
            (
                r#"{}"#,
                r#"{"apiId":null,"apiRevision":null,"isCurrent":null,"isOnline":null,"createdDateTime":null,"updatedDateTime":null,"description":null,"privateUrl":null}"#,
            ),
        ]);
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

    fn service_with(hostnames: Value) -> ServiceProperties {
        serde_json::from_value(json!({
            "gatewayUrl": "https://contoso.azure-api.net",
            "hostnameConfigurations": hostnames
        }))
        .unwrap()
    }

    #[test]
    fn a_custom_proxy_domain_wins_even_without_the_default_ssl_binding() {
        let default_only = service_with(json!([
            {"type": "Proxy", "hostName": "contoso.azure-api.net", "defaultSslBinding": true, "certificateSource": "BuiltIn"}
        ]));
        assert_eq!(default_only.custom_proxy_hostname(), None);
        assert_eq!(
            default_only.runtime_base_url().as_deref(),
            Some("https://contoso.azure-api.net")
        );
        let one_custom = service_with(json!([
            {"type": "Proxy", "hostName": "contoso.azure-api.net", "defaultSslBinding": true, "certificateSource": "BuiltIn"},
            {"type": "Proxy", "hostName": "api.contoso.example", "defaultSslBinding": false, "certificateSource": "KeyVault"}
        ]));
        assert_eq!(
            one_custom.runtime_base_url().as_deref(),
            Some("https://api.contoso.example")
        );
        let two_custom = service_with(json!([
            {"type": "Proxy", "hostName": "a.contoso.example", "defaultSslBinding": false},
            {"type": "Proxy", "hostName": "b.contoso.example", "defaultSslBinding": true},
            {"type": "Proxy", "hostName": "contoso.azure-api.net", "defaultSslBinding": false}
        ]));
        assert_eq!(
            two_custom.custom_proxy_hostname(),
            Some("b.contoso.example")
        );
        let others_ignored = service_with(json!([
            {"type": "Proxy", "hostName": "CONTOSO.azure-api.net", "defaultSslBinding": false},
            {"type": "Portal", "hostName": "portal.contoso.example", "defaultSslBinding": true},
            {"type": "Management", "hostName": "mgmt.contoso.example", "defaultSslBinding": true},
            {"type": "Proxy", "hostName": "odd.example", "certificateSource": "BuiltIn"}
        ]));
        assert_eq!(others_ignored.custom_proxy_hostname(), None);
        assert!(is_platform_host("x.azure-api.us"));
        assert!(!is_platform_host("gateway.current.int-azure-api.net"));
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
        let connection: GatewayConfigConnectionProperties = serde_json::from_value(json!({
            "defaultHostname": "gcc-1-a.gw.gateway.eastus.azure-api.net",
            "hostnames": ["gcc1gw.gateway.eastus.azure-api.net"]
        }))
        .unwrap();
        assert_eq!(
            connection.runtime_host(),
            Some("gcc-1-a.gw.gateway.eastus.azure-api.net")
        );
        let custom = GatewayConfigConnectionProperties {
            hostnames: vec!["team.contoso.example".into()],
            ..connection
        };
        assert_eq!(custom.runtime_host(), Some("team.contoso.example"));
        assert_eq!(
            GatewayConfigConnectionProperties::default().runtime_host(),
            None
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
