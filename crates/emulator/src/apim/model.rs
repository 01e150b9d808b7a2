//! The in-memory APIM: services, workspaces, version sets, APIs and their revisions.
//! Maps are keyed by lower-cased ids because APIM ids are case-insensitive.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiType {
    #[default]
    Http,
    Soap,
    Graphql,
    Websocket,
    Grpc,
    Odata,
}

impl ApiType {
    /// The `properties.type` APIM answers; plain REST APIs carry none.
    pub fn wire(self) -> Option<&'static str> {
        match self {
            ApiType::Http => None,
            ApiType::Soap => Some("soap"),
            ApiType::Graphql => Some("graphql"),
            ApiType::Websocket => Some("websocket"),
            ApiType::Grpc => Some("grpc"),
            ApiType::Odata => Some("odata"),
        }
    }

    pub fn name(self) -> &'static str {
        self.wire().unwrap_or("http")
    }

    pub fn default_protocols(self) -> Vec<String> {
        match self {
            ApiType::Websocket => vec!["wss".to_string()],
            _ => vec!["https".to_string()],
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersioningScheme {
    #[default]
    Segment,
    Query,
    Header,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The operation id (`operationId` in OpenAPI, the operation name in WSDL).
    pub name: String,
    pub method: String,
    pub url_template: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Definition content given literally in a seed, instead of generated from operations.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    OpenApi3(Arc<serde_json::Value>),
    Swagger2(Arc<serde_json::Value>),
    Wsdl(Arc<str>),
    GraphqlSdl(Arc<str>),
    Proto(Arc<str>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct License {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One revision of an API: in APIM every revision is a full copy of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub rev: u32,
    pub display_name: String,
    pub description: Option<String>,
    pub path: String,
    pub api_type: ApiType,
    pub service_url: Option<String>,
    pub protocols: Vec<String>,
    /// The version set's id within the same scope (service or workspace).
    pub version_set: Option<String>,
    pub api_version: Option<String>,
    pub revision_description: Option<String>,
    pub subscription_required: bool,
    pub contact: Option<Contact>,
    pub license: Option<License>,
    pub terms_of_service_url: Option<String>,
    /// Shared between APIs built from one template (synthetic seeds) to stay small.
    pub operations: Arc<[Operation]>,
    pub literal: Option<Literal>,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// Bumped on every change; the ETag is derived from it.
    pub generation: u64,
}

/// An API's revisions, ordered by number. A sorted vector rather than a `BTreeMap`: an
/// API has few revisions, and a map node per API would cost kilobytes across 10,000 APIs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Revisions(Vec<Revision>);

impl Revisions {
    fn position(&self, rev: u32) -> Result<usize, usize> {
        self.0.binary_search_by_key(&rev, |r| r.rev)
    }

    pub fn get(&self, rev: &u32) -> Option<&Revision> {
        self.position(*rev).ok().map(|i| &self.0[i])
    }

    pub fn get_mut(&mut self, rev: &u32) -> Option<&mut Revision> {
        self.position(*rev).ok().map(|i| &mut self.0[i])
    }

    pub fn contains_key(&self, rev: &u32) -> bool {
        self.position(*rev).is_ok()
    }

    /// Inserts `revision` under number `rev` (its `rev` field is set to match); returns the
    /// revision it replaced.
    pub fn insert(&mut self, rev: u32, mut revision: Revision) -> Option<Revision> {
        revision.rev = rev;
        match self.position(rev) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i], revision)),
            Err(i) => {
                self.0.insert(i, revision);
                None
            }
        }
    }

    pub fn values(&self) -> std::slice::Iter<'_, Revision> {
        self.0.iter()
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        self.0.iter().map(|r| r.rev)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
impl std::ops::Index<&u32> for Revisions {
    type Output = Revision;

    /// Panics when there is no such revision, like `BTreeMap`'s index.
    fn index(&self, rev: &u32) -> &Revision {
        match self.get(rev) {
            Some(r) => r,
            None => panic!("no revision {rev}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    pub id: String,
    pub current: u32,
    pub revisions: Revisions,
    /// Ids of the service's tags on the API (all its revisions share them), in the
    /// order they were added.
    pub tags: Vec<String>,
}

impl Api {
    pub fn current_revision(&self) -> Option<&Revision> {
        self.revisions.get(&self.current)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionSet {
    pub id: String,
    pub display_name: String,
    pub versioning_scheme: VersioningScheme,
    pub version_query_name: Option<String>,
    pub version_header_name: Option<String>,
    pub description: Option<String>,
}

/// The APIs and version sets of the service level or of one workspace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub apis: BTreeMap<String, Api>,
    pub version_sets: BTreeMap<String, VersionSet>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// Workspace gateways serving the workspace, in link order.
    pub gateways: Vec<WorkspaceGateway>,
    pub scope: Scope,
}

/// One workspace's use of a workspace gateway: the gateway's name and the custom hosts of
/// the config connection between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceGateway {
    pub name: String,
    pub hostnames: Vec<String>,
}

/// Where the certificate of a hostname comes from; `BuiltIn` is APIM's own host's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CertificateSource {
    Managed,
    #[default]
    KeyVault,
    Custom,
}

impl CertificateSource {
    pub fn wire(self) -> &'static str {
        match self {
            CertificateSource::Managed => "Managed",
            CertificateSource::KeyVault => "KeyVault",
            CertificateSource::Custom => "Custom",
        }
    }
}

/// A custom domain on the service's gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHostname {
    pub host_name: String,
    pub default_ssl_binding: bool,
    pub certificate_source: CertificateSource,
}

/// A service-level tag: its id and the name people see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: String,
    pub display_name: String,
}

/// A service-level product and what it groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// Ids of the service-level APIs in the product, in the order they were added.
    pub apis: Vec<String>,
    /// Ids of the tags on the product itself.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub location: String,
    pub sku: String,
    pub capacity: u32,
    pub publisher_name: String,
    pub publisher_email: String,
    pub gateway_url: String,
    pub portal_url: Option<String>,
    pub developer_portal_url: Option<String>,
    pub management_api_url: Option<String>,
    /// Custom gateway domains, in the service's order.
    pub proxy_hostnames: Vec<ProxyHostname>,
    pub created: Timestamp,
    pub root: Scope,
    pub workspaces: BTreeMap<String, Workspace>,
    /// Tags by lower-cased id.
    pub tags: BTreeMap<String, Tag>,
    /// Products by lower-cased id.
    pub products: BTreeMap<String, Product>,
}

impl Service {
    /// The base URL clients call: a custom domain (the one bound by default, else the
    /// first) when there is one, else the default gateway.
    pub fn effective_gateway(&self) -> String {
        let custom = self
            .proxy_hostnames
            .iter()
            .find(|h| h.default_ssl_binding)
            .or(self.proxy_hostnames.first());
        match custom {
            Some(h) => format!("https://{}", h.host_name),
            None => self.gateway_url.trim_end_matches('/').to_string(),
        }
    }

    /// The host of `gatewayUrl`, as its `Proxy` hostname configuration names it.
    pub fn default_gateway_host(&self) -> String {
        self.gateway_url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    pub fn scope(&self, workspace: Option<&str>) -> Option<&Scope> {
        match workspace {
            None => Some(&self.root),
            Some(ws) => self.workspaces.get(&key(ws)).map(|w| &w.scope),
        }
    }

    pub fn scope_mut(&mut self, workspace: Option<&str>) -> Option<&mut Scope> {
        match workspace {
            None => Some(&mut self.root),
            Some(ws) => self.workspaces.get_mut(&key(ws)).map(|w| &mut w.scope),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApimState {
    pub services: BTreeMap<String, Service>,
}

pub(crate) fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// Splits `echo-api;rev=3` into `("echo-api", Some(3))`.
pub(crate) fn split_revision(id: &str) -> Result<(&str, Option<u32>), ()> {
    match id.split_once(';') {
        None => Ok((id, None)),
        Some((base, rest)) => {
            let rev = rest.strip_prefix("rev=").ok_or(())?;
            let n: u32 = rev.parse().map_err(|_| ())?;
            Ok((base, Some(n)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_ids_split() {
        assert_eq!(split_revision("echo"), Ok(("echo", None)));
        assert_eq!(split_revision("echo;rev=12"), Ok(("echo", Some(12))));
        assert!(split_revision("echo;foo=1").is_err());
        assert!(split_revision("echo;rev=x").is_err());
    }

    #[test]
    fn http_apis_have_no_wire_type() {
        assert_eq!(ApiType::Http.wire(), None);
        assert_eq!(ApiType::Soap.wire(), Some("soap"));
        assert_eq!(ApiType::Websocket.default_protocols(), vec!["wss"]);
    }
}
