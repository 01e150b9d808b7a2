//! What the engine read from both sides, converted from the wire.
//!
//! The `from_arm` helpers accept ARM JSON as returned by the list and get calls, so the
//! engine does not have to re-implement the field mapping.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{ApimApiRef, ApimServiceId};

/// Why an ARM body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObservedError {
    #[error("ARM body lacks {0}")]
    Missing(&'static str),
}

fn str_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.is_empty())
}

/// Service-level facts of the APIM instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApimService {
    /// `properties.gatewayUrl`.
    pub gateway_url: Option<String>,
    /// `properties.developerPortalUrl` (absent on some tiers).
    pub developer_portal_url: Option<String>,
    /// Where the APIM instance is managed. The engine sets it to the Azure portal page of
    /// the resource for the cloud in use (see [`azure_portal_resource_url`]); when absent
    /// the environment has no management portal URI.
    pub management_portal_url: Option<String>,
    /// `properties.hostnameConfigurations`.
    pub hostnames: Vec<ApimHostname>,
    /// The gateway base URL (`https://{host}`) of each source workspace a workspace
    /// gateway serves, by workspace name as the link's settings spell it (see
    /// [`crate::mapping::workspace_gateways`]). A workspace absent here is served by the
    /// service's own gateway.
    pub workspace_gateways: BTreeMap<String, String>,
}

/// One APIM hostname configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ApimHostname {
    /// `Proxy`, `DeveloperPortal`, `Management`, …
    pub kind: String,
    pub host_name: String,
    pub default_ssl_binding: bool,
}

/// One config connection of an APIM workspace gateway (a top-level
/// `Microsoft.ApiManagement/gateways/{gateway}` resource): which workspace the gateway
/// serves, and on which hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApimGatewayConnection {
    /// `properties.sourceId`: the ARM id of the workspace served (empty when absent).
    pub source_id: String,
    /// `properties.defaultHostname`, set by APIM.
    pub default_hostname: Option<String>,
    /// `properties.hostnames`: hosts requests can be sent to (custom domains among them).
    pub hostnames: Vec<String>,
}

impl ApimGatewayConnection {
    /// Reads one item of `GET {gateway}/configConnections`.
    pub fn from_arm(body: &Value) -> Result<Self, ObservedError> {
        let props = body
            .get("properties")
            .ok_or(ObservedError::Missing("properties"))?;
        // A connection without a source serves no workspace; it is kept (and ignored by
        // `workspace_of`) rather than failing the pass over one odd item.
        let source_id = str_at(props, "/sourceId").unwrap_or_default();
        let hostnames = props
            .get("hostnames")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            source_id,
            default_hostname: non_empty(str_at(props, "/defaultHostname")),
            hostnames,
        })
    }

    /// The workspace `source_id` names when it is a workspace of `service` (compared
    /// case-insensitively, as ARM ids are). `services` is accepted for `service`: the
    /// 2024-05-01 examples spell workspace ids that way.
    pub fn workspace_of(&self, service: &ApimServiceId) -> Option<&str> {
        let segments: Vec<&str> = self.source_id.trim_end_matches('/').split('/').collect();
        let [
            "",
            subs,
            subscription,
            rgs,
            resource_group,
            providers,
            namespace,
            kind,
            name,
            workspaces,
            workspace,
        ] = segments.as_slice()
        else {
            return None;
        };
        let id = &service.0;
        let matches = subs.eq_ignore_ascii_case("subscriptions")
            && subscription.eq_ignore_ascii_case(&id.subscription)
            && rgs.eq_ignore_ascii_case("resourceGroups")
            && resource_group.eq_ignore_ascii_case(&id.resource_group)
            && providers.eq_ignore_ascii_case("providers")
            && namespace.eq_ignore_ascii_case("Microsoft.ApiManagement")
            && (kind.eq_ignore_ascii_case("service") || kind.eq_ignore_ascii_case("services"))
            && name.eq_ignore_ascii_case(&id.name)
            && workspaces.eq_ignore_ascii_case("workspaces")
            && !workspace.is_empty();
        matches.then_some(*workspace)
    }
}

/// The Azure portal page of a resource, e.g. `https://portal.azure.com/#resource/subscriptions/…`.
pub fn azure_portal_resource_url(portal_base: &str, resource_id: &str) -> String {
    format!(
        "{}/#resource{resource_id}",
        portal_base.trim_end_matches('/')
    )
}

impl ApimService {
    /// Reads `GET {apim}` (the ARM envelope). `management_portal_url` and
    /// `workspace_gateways` are left to the caller.
    pub fn from_arm(body: &Value) -> Result<Self, ObservedError> {
        let props = body
            .get("properties")
            .ok_or(ObservedError::Missing("properties"))?;
        let hostnames = props
            .get("hostnameConfigurations")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|h| {
                        Some(ApimHostname {
                            kind: str_at(h, "/type")?,
                            host_name: str_at(h, "/hostName")?,
                            default_ssl_binding: h
                                .get("defaultSslBinding")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            gateway_url: non_empty(str_at(props, "/gatewayUrl")),
            developer_portal_url: non_empty(str_at(props, "/developerPortalUrl")),
            management_portal_url: None,
            hostnames,
            workspace_gateways: BTreeMap::new(),
        })
    }
}

/// APIM API contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApimContact {
    pub name: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
}

/// APIM API license.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApimLicense {
    pub name: Option<String>,
    pub url: Option<String>,
}

/// One entry of the APIM API list (a revision; only `is_current` ones are APIs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApimApi {
    /// APIM workspace, `None` for service-level APIs.
    pub workspace: Option<String>,
    /// `name` as listed: `echo-api`, or `echo-api;rev=2` for a non-current revision.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub path: String,
    /// `properties.type`; absent means http.
    pub api_type: Option<String>,
    pub api_revision: Option<String>,
    pub is_current: bool,
    pub api_version: Option<String>,
    /// Full ARM id of the version set, if the API belongs to one.
    pub api_version_set_id: Option<String>,
    pub contact: Option<ApimContact>,
    pub license: Option<ApimLicense>,
    pub terms_of_service_url: Option<String>,
}

impl ApimApi {
    /// Reads one item of `GET {apim}[/workspaces/{ws}]/apis`.
    pub fn from_arm(body: &Value, workspace: Option<&str>) -> Result<Self, ObservedError> {
        let name = str_at(body, "/name").ok_or(ObservedError::Missing("name"))?;
        let props = body
            .get("properties")
            .ok_or(ObservedError::Missing("properties"))?;
        let contact = props
            .get("contact")
            .filter(|c| c.is_object())
            .map(|c| ApimContact {
                name: str_at(c, "/name"),
                url: str_at(c, "/url"),
                email: str_at(c, "/email"),
            });
        let license = props
            .get("license")
            .filter(|l| l.is_object())
            .map(|l| ApimLicense {
                name: str_at(l, "/name"),
                url: str_at(l, "/url"),
            });
        Ok(Self {
            workspace: workspace.map(str::to_string),
            display_name: str_at(props, "/displayName").unwrap_or_else(|| name.clone()),
            description: non_empty(str_at(props, "/description")),
            path: str_at(props, "/path").unwrap_or_default(),
            api_type: non_empty(str_at(props, "/type")),
            api_revision: non_empty(str_at(props, "/apiRevision")),
            // A list entry without the flag and without a `;rev=` suffix is the API itself.
            is_current: props
                .get("isCurrent")
                .and_then(Value::as_bool)
                .unwrap_or(!name.contains(";rev=")),
            api_version: str_at(props, "/apiVersion"),
            api_version_set_id: non_empty(str_at(props, "/apiVersionSetId")),
            contact,
            license,
            terms_of_service_url: non_empty(str_at(props, "/termsOfServiceUrl")),
            name,
        })
    }

    /// The API id without a `;rev=N` suffix.
    pub fn api_id(&self) -> &str {
        self.name.split(';').next().unwrap_or(&self.name)
    }

    pub fn api_ref(&self) -> ApimApiRef {
        ApimApiRef {
            workspace: self.workspace.clone(),
            api_id: self.api_id().to_string(),
        }
    }

    /// The version set's name (last segment of `apiVersionSetId`), if any.
    pub fn version_set_name(&self) -> Option<&str> {
        self.api_version_set_id
            .as_deref()
            .and_then(|id| id.trim_end_matches('/').rsplit('/').next())
            .filter(|s| !s.is_empty())
    }
}

/// An APIM version set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApimVersionSet {
    pub workspace: Option<String>,
    /// The version set's name (id segment).
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `Segment`, `Query` or `Header`.
    pub versioning_scheme: Option<String>,
}

impl ApimVersionSet {
    /// Reads one item of `GET {apim}[/workspaces/{ws}]/apiVersionSets`.
    pub fn from_arm(body: &Value, workspace: Option<&str>) -> Result<Self, ObservedError> {
        let name = str_at(body, "/name").ok_or(ObservedError::Missing("name"))?;
        let props = body
            .get("properties")
            .ok_or(ObservedError::Missing("properties"))?;
        Ok(Self {
            workspace: workspace.map(str::to_string),
            display_name: str_at(props, "/displayName").unwrap_or_else(|| name.clone()),
            description: non_empty(str_at(props, "/description")),
            versioning_scheme: non_empty(str_at(props, "/versioningScheme")),
            name,
        })
    }
}

/// `specification{name, version}` of an API Center definition / an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecificationRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A definition exported from APIM this pass. The content itself stays with the engine;
/// the planner only needs its hash ([`crate::hash::content_hash`]) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedDefinition {
    pub specification: SpecificationRef,
    pub content_hash: String,
}

/// Everything read from APIM in one pass. Must be complete: an API missing here is
/// treated as deleted in APIM, so the engine must not plan after a failed list read.
#[derive(Debug, Clone, Default)]
pub struct ObservedApim {
    pub service: ApimService,
    /// The API list as returned (revisions included; non-current ones are ignored).
    pub apis: Vec<ApimApi>,
    pub version_sets: Vec<ApimVersionSet>,
    /// Definitions exported this pass, by APIM API.
    pub exports: BTreeMap<ApimApiRef, ExportedDefinition>,
}

/// One API Center entity as read: its name, `properties` and ETag.
#[derive(Debug, Clone, PartialEq)]
pub struct ApicEntity {
    pub name: String,
    pub properties: Value,
    pub etag: Option<String>,
}

impl ApicEntity {
    /// Reads an ARM envelope `{name, properties, …}`; the ETag comes from the header.
    pub fn from_arm(body: &Value, etag: Option<String>) -> Result<Self, ObservedError> {
        Ok(Self {
            name: str_at(body, "/name").ok_or(ObservedError::Missing("name"))?,
            properties: body
                .get("properties")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default())),
            etag,
        })
    }
}

/// One API Center version with its definitions' properties, by definition name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedVersion {
    pub properties: Value,
    pub definitions: BTreeMap<String, Value>,
}

/// Children of one API, read only for some APIs (see [`crate::planner::details_needed`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiDetails {
    pub versions: BTreeMap<String, ObservedVersion>,
    /// Deployments' properties by name.
    pub deployments: BTreeMap<String, Value>,
}

/// True when a definition's properties carry an imported specification.
pub fn has_specification(definition_properties: &Value) -> bool {
    definition_properties.get("specification").is_some_and(|s| {
        s.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
    })
}

/// What was read from API Center in one pass.
#[derive(Debug, Clone, Default)]
pub struct ObservedApiCenter {
    /// The environment named by the link's settings, if it exists.
    pub environment: Option<ApicEntity>,
    /// Every API in the target workspace (list call).
    pub apis: Vec<ApicEntity>,
    /// Children of some APIs, by API name.
    pub details: BTreeMap<String, ApiDetails>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_apim_bodies() {
        let svc = ApimService::from_arm(&json!({"properties": {
            "gatewayUrl": "https://p.azure-api.net", "developerPortalUrl": null,
            "hostnameConfigurations": [{"type": "Proxy", "hostName": "api.example.com", "defaultSslBinding": true}]
        }}))
        .unwrap();
        assert_eq!(svc.gateway_url.as_deref(), Some("https://p.azure-api.net"));
        assert_eq!(svc.developer_portal_url, None);
        assert!(svc.hostnames[0].default_ssl_binding);

        let api = ApimApi::from_arm(
            &json!({"name": "echo;rev=2", "properties": {"displayName": "Echo", "path": "echo",
                "isCurrent": false, "apiRevision": "2",
                "apiVersionSetId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/x/apiVersionSets/vs1"}}),
            None,
        )
        .unwrap();
        assert_eq!(api.api_id(), "echo");
        assert!(!api.is_current);
        assert_eq!(api.version_set_name(), Some("vs1"));
        assert_eq!(api.api_type, None);
        assert!(ApimApi::from_arm(&json!({"properties": {}}), None).is_err());
    }

    #[test]
    fn reads_gateway_connections() {
        let service = ApimServiceId::parse(
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-1",
        )
        .unwrap();
        let c = ApimGatewayConnection::from_arm(&json!({"name": "gcc-1", "properties": {
            "sourceId": "/subscriptions/S1/resourcegroups/RG1/providers/Microsoft.ApiManagement/services/APIM-1/workspaces/ws-1",
            "defaultHostname": "gcc-1-abc.gw-1.gateway.westeurope.azure-api.net",
            "hostnames": ["", "api.team.example", null]
        }}))
        .unwrap();
        assert_eq!(c.workspace_of(&service), Some("ws-1"));
        assert_eq!(c.hostnames, vec!["api.team.example"]);
        assert_eq!(
            c.default_hostname.as_deref(),
            Some("gcc-1-abc.gw-1.gateway.westeurope.azure-api.net")
        );
        let elsewhere = ApimGatewayConnection {
            source_id: "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-2/workspaces/ws-1".into(),
            ..ApimGatewayConnection::default()
        };
        assert_eq!(elsewhere.workspace_of(&service), None);
        let not_a_workspace = ApimGatewayConnection {
            source_id: "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-1".into(),
            ..ApimGatewayConnection::default()
        };
        assert_eq!(not_a_workspace.workspace_of(&service), None);
        let sourceless = ApimGatewayConnection::from_arm(&json!({"properties": {}})).unwrap();
        assert_eq!(sourceless.workspace_of(&service), None);
        assert!(ApimGatewayConnection::from_arm(&json!({"name": "x"})).is_err());
    }

    #[test]
    fn reads_apic_bodies() {
        let e = ApicEntity::from_arm(
            &json!({"name": "a", "properties": {"title": "A"}}),
            Some("\"1\"".into()),
        )
        .unwrap();
        assert_eq!(e.properties["title"], "A");
        assert!(has_specification(
            &json!({"specification": {"name": "openapi"}})
        ));
        assert!(!has_specification(&json!({"title": "x"})));
    }
}
