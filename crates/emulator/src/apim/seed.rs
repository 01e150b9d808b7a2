//! The seed format: a YAML (or JSON) description of APIM instances that a person can write
//! by hand. See `fixtures/demo-apim.yaml` for a full example.
//!
//! ```yaml
//! services:
//!   - name: contoso-apim
//!     sku: Developer                  # Consumption has no developer portal
//!     proxyHostnames:                 # custom gateway domains, in the service's order
//!       - {hostName: api.contoso.example, defaultSslBinding: false}
//!     versionSets:
//!       - {id: orders, displayName: Orders, versioningScheme: Segment}
//!     apis:
//!       - id: orders-v1
//!         displayName: Orders
//!         path: orders
//!         versionSet: orders
//!         version: v1
//!         operations:
//!           - GET /orders/{orderId} Get an order
//!           - {method: POST, urlTemplate: /orders, displayName: Create an order}
//!         revisions:                  # other, non-current revisions
//!           - {rev: 2, description: Adds paging}
//!         tags: [payments]            # ids of service-level tags
//!     tags:                           # optional: display names (default: the id)
//!       - {id: payments, displayName: Payments}
//!     products:
//!       - {id: starter, displayName: Starter, apis: [orders-v1]}
//!     workspaces:
//!       - id: team-a
//!         displayName: Team A
//!         gateways: [{name: team-a-gw, hostnames: [team-a.contoso.example]}]
//!         apis: [...]
//! ```

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use super::model::{ApiType, CertificateSource, Contact, License, Operation, VersioningScheme};

/// APIM instances to start with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    pub services: Vec<ServiceSeed>,
}

/// Absent → `None`; `null` → `Some(None)`; a value → `Some(Some(v))`.
fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn default_location() -> String {
    "West Europe".to_string()
}

fn default_sku() -> String {
    "Developer".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSeed {
    pub name: String,
    #[serde(default = "default_location")]
    pub location: String,
    /// Developer, Basic, Standard, Premium, Consumption, BasicV2, StandardV2, PremiumV2.
    #[serde(default = "default_sku")]
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_email: Option<String>,
    /// Default `https://{name}.azure-api.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_url: Option<String>,
    /// Default `https://{name}.portal.azure-api.net`; `null` for none.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub portal_url: Option<Option<String>>,
    /// Default `https://{name}.developer.azure-api.net` (none on Consumption); `null`
    /// for none.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub developer_portal_url: Option<Option<String>>,
    /// A custom gateway domain bound as the default `Proxy` hostname (shorthand for a
    /// first `proxyHostnames` entry with `defaultSslBinding: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_proxy_hostname: Option<String>,
    /// Custom gateway domains (`Proxy` hostname configurations), in the service's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_hostnames: Vec<ProxyHostnameSeed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub version_sets: Vec<VersionSetSeed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<ApiSeed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceSeed>,
    /// Service-level tags; a tag an API names without it here is created with its id as
    /// display name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagSeed>,
    /// Service-level products with their APIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductSeed>,
}

/// A service-level tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagSeed {
    pub id: String,
    /// Default: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl TagSeed {
    pub fn new(id: &str, display_name: &str) -> Self {
        Self {
            id: id.to_string(),
            display_name: Some(display_name.to_string()),
        }
    }
}

/// A service-level product and the ids of its (service-level) APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductSeed {
    pub id: String,
    /// Default: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<String>,
    /// Ids of tags on the product itself (`tagResources` lists them as product tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl ProductSeed {
    pub fn new(id: &str, display_name: &str, apis: &[&str]) -> Self {
        Self {
            id: id.to_string(),
            display_name: Some(display_name.to_string()),
            apis: apis.iter().map(|a| a.to_string()).collect(),
            ..Self::default()
        }
    }
}

impl ServiceSeed {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            location: default_location(),
            sku: default_sku(),
            publisher_name: None,
            publisher_email: None,
            gateway_url: None,
            portal_url: None,
            developer_portal_url: None,
            custom_proxy_hostname: None,
            proxy_hostnames: Vec::new(),
            version_sets: Vec::new(),
            apis: Vec::new(),
            workspaces: Vec::new(),
            tags: Vec::new(),
            products: Vec::new(),
        }
    }
}

/// A custom domain on the service's gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyHostnameSeed {
    pub host_name: String,
    /// At most one hostname of a service is bound by default.
    #[serde(default)]
    pub default_ssl_binding: bool,
    /// `Managed`, `KeyVault` (default) or `Custom`.
    #[serde(default)]
    pub certificate_source: CertificateSource,
}

impl ProxyHostnameSeed {
    pub fn new(host_name: &str, default_ssl_binding: bool) -> Self {
        Self {
            host_name: host_name.to_string(),
            default_ssl_binding,
            certificate_source: CertificateSource::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceSeed {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Workspace gateways serving this workspace, in link order. Without any, the
    /// workspace is served by the service's gateway (v2 tiers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<WorkspaceGatewaySeed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub version_sets: Vec<VersionSetSeed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<ApiSeed>,
}

impl WorkspaceSeed {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            ..Self::default()
        }
    }
}

/// A workspace gateway (`Microsoft.ApiManagement/gateways/{name}`, in the service's
/// resource group) serving a workspace through a config connection. Workspaces naming
/// the same gateway share it, each with its own connection and host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceGatewaySeed {
    pub name: String,
    /// The connection's `hostnames` (custom domains); its `defaultHostname` is derived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
}

impl WorkspaceGatewaySeed {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            hostnames: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionSetSeed {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub versioning_scheme: VersioningScheme,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_query_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_header_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl VersionSetSeed {
    pub fn new(id: &str, display_name: &str) -> Self {
        Self {
            id: id.to_string(),
            display_name: Some(display_name.to_string()),
            versioning_scheme: VersioningScheme::Segment,
            version_query_name: None,
            version_header_name: None,
            description: None,
        }
    }
}

/// An API as it is now (its current revision), plus optional other revisions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiSeed {
    pub id: String,
    /// Default: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default: the id. May be `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, rename = "type")]
    pub api_type: ApiType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<String>>,
    /// The id of a version set in the same service or workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_set: Option<String>,
    /// The version within the version set; `""` for the set's original member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The current revision's number; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_description: Option<String>,
    /// Other revisions (not current), each a copy of the API with optional changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<RevisionSeed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationSeed>,
    /// Literal definition content (OpenAPI JSON/YAML, Swagger, WSDL, GraphQL SDL or proto)
    /// used instead of generating one from the operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service_url: Option<String>,
    /// Ids of service-level tags on the API (service-level APIs only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl ApiSeed {
    pub fn new(id: &str, display_name: &str) -> Self {
        Self {
            id: id.to_string(),
            display_name: Some(display_name.to_string()),
            ..Self::default()
        }
    }
}

/// A non-current revision: a copy of the API's current state with these changes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionSeed {
    pub rev: u32,
    /// The revision's own description (`apiRevisionDescription`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<OperationSeed>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
}

/// An operation: either a line `"GET /orders/{id} Get an order"` (for SOAP a bare
/// operation name, for GraphQL `"query products"` / `"mutation addProduct"`), or a map.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OperationSeed {
    Line(String),
    Full(OperationDetail),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub method: String,
    pub url_template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
];

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

impl OperationSeed {
    pub fn to_operation(&self, api_type: ApiType) -> Result<Operation, String> {
        match self {
            OperationSeed::Full(d) => Ok(Operation {
                name: d
                    .name
                    .clone()
                    .unwrap_or_else(|| slug(&format!("{} {}", d.method, d.url_template))),
                method: d.method.to_ascii_uppercase(),
                url_template: d.url_template.clone(),
                display_name: d
                    .display_name
                    .clone()
                    .unwrap_or_else(|| format!("{} {}", d.method, d.url_template)),
                description: d.description.clone(),
            }),
            OperationSeed::Line(line) => parse_line(line.trim(), api_type),
        }
    }

    pub fn from_operation(op: &Operation) -> Self {
        OperationSeed::Full(OperationDetail {
            name: Some(op.name.clone()),
            method: op.method.clone(),
            url_template: op.url_template.clone(),
            display_name: Some(op.display_name.clone()),
            description: op.description.clone(),
        })
    }
}

fn parse_line(line: &str, api_type: ApiType) -> Result<Operation, String> {
    let mut words = line.splitn(3, char::is_whitespace);
    let first = words.next().unwrap_or("");
    if first.is_empty() {
        return Err("an operation line is empty".to_string());
    }
    let upper = first.to_ascii_uppercase();
    if HTTP_METHODS.contains(&upper.as_str()) {
        let template = words
            .next()
            .ok_or_else(|| format!("operation '{line}' has a method but no URL template"))?;
        let display = words
            .next()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{upper} {template}"));
        return Ok(Operation {
            name: slug(&format!("{upper} {template}")),
            method: upper,
            url_template: template.to_string(),
            display_name: display,
            description: None,
        });
    }
    if api_type == ApiType::Graphql && (first == "query" || first == "mutation") {
        let field = words
            .next()
            .ok_or_else(|| format!("operation '{line}' names no field"))?;
        let display = words.next().map(str::trim).unwrap_or(field).to_string();
        return Ok(Operation {
            name: field.to_string(),
            method: first.to_string(),
            url_template: "/".to_string(),
            display_name: display,
            description: None,
        });
    }
    if api_type == ApiType::Soap || api_type == ApiType::Grpc {
        let rest: Vec<&str> = words.collect();
        let display = if rest.is_empty() {
            first.to_string()
        } else {
            rest.join(" ")
        };
        let url_template = if api_type == ApiType::Soap {
            format!("/?soapAction={first}")
        } else {
            format!("/{first}")
        };
        return Ok(Operation {
            name: first.to_string(),
            method: "POST".to_string(),
            url_template,
            display_name: display,
            description: None,
        });
    }
    Err(format!(
        "operation '{line}' must start with an HTTP method (e.g. 'GET /items/{{id}}')"
    ))
}

/// The operations of an API type when the seed lists none.
pub(crate) fn default_operations(api_type: ApiType, id: &str) -> Vec<Operation> {
    let op = |name: &str, method: &str, template: &str, display: &str| Operation {
        name: name.to_string(),
        method: method.to_string(),
        url_template: template.to_string(),
        display_name: display.to_string(),
        description: None,
    };
    match api_type {
        ApiType::Websocket => vec![op("onHandshake", "GET", "/", "onHandshake")],
        ApiType::Graphql => vec![op("ping", "query", "/", "Ping")],
        ApiType::Soap => vec![op("Ping", "POST", "/?soapAction=Ping", "Ping")],
        ApiType::Grpc => vec![op("Ping", "POST", "/Ping", "Ping")],
        ApiType::Http | ApiType::Odata => vec![
            op(&format!("list-{}", slug(id)), "GET", "/", "List"),
            op(&format!("get-{}", slug(id)), "GET", "/{id}", "Get one"),
        ],
    }
}

pub(crate) fn operations_of(
    seeds: &[OperationSeed],
    api_type: ApiType,
    id: &str,
) -> Result<Arc<[Operation]>, String> {
    if seeds.is_empty() {
        return Ok(Arc::from(default_operations(api_type, id)));
    }
    let ops = seeds
        .iter()
        .map(|s| s.to_operation(api_type))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::from(ops))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operation_lines_parse_for_each_type() {
        let op = OperationSeed::Line("get /orders/{orderId} Get an order".into())
            .to_operation(ApiType::Http)
            .unwrap();
        assert_eq!(op.method, "GET");
        assert_eq!(op.url_template, "/orders/{orderId}");
        assert_eq!(op.display_name, "Get an order");
        assert_eq!(op.name, "get-orders-orderid");
        let soap = OperationSeed::Line("GetQuote".into())
            .to_operation(ApiType::Soap)
            .unwrap();
        assert_eq!(soap.url_template, "/?soapAction=GetQuote");
        let gql = OperationSeed::Line("mutation addProduct Add a product".into())
            .to_operation(ApiType::Graphql)
            .unwrap();
        assert_eq!(gql.method, "mutation");
        assert_eq!(gql.name, "addProduct");
        assert!(
            OperationSeed::Line("orders".into())
                .to_operation(ApiType::Http)
                .is_err()
        );
    }

    #[test]
    fn null_and_absent_portal_urls_differ() {
        let s: ServiceSeed = serde_yaml::from_str("name: a\ndeveloperPortalUrl: null\n").unwrap();
        assert_eq!(s.developer_portal_url, Some(None));
        assert_eq!(s.portal_url, None);
        let s: ServiceSeed =
            serde_yaml::from_str("name: a\nportalUrl: https://p.example\n").unwrap();
        assert_eq!(s.portal_url, Some(Some("https://p.example".into())));
    }

    #[test]
    fn unknown_members_are_rejected() {
        let err = serde_yaml::from_str::<Seed>("services:\n  - name: a\n    apiz: []\n");
        assert!(err.is_err());
    }
}
