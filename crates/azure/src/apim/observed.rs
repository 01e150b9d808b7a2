//! APIM answers in the shapes the planner reads ([`apilink_core::observed`]), converted
//! from the typed answers directly. Blank strings count as absent, as in APIM's own
//! portal; a display name APIM leaves out is the resource's name.

use std::collections::BTreeMap;

use apilink_core::observed;
use serde_json::Value;

use super::types::{ApimApi, ApimGatewayConfigConnection, ApimService, ApimVersionSet};

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.is_empty())
}

/// A string member of a JSON object APIM types loosely (`contact`, `license`).
fn member(object: &Value, name: &str) -> Option<String> {
    object.get(name).and_then(Value::as_str).map(str::to_string)
}

impl From<ApimService> for observed::ApimService {
    /// `management_portal_url` and `workspace_gateways` are left for the caller: they
    /// come from the cloud in use and from other reads.
    fn from(service: ApimService) -> Self {
        let properties = service.properties;
        let hostnames = properties
            .hostname_configurations
            .into_iter()
            .map(|h| observed::ApimHostname {
                kind: h.kind,
                host_name: h.host_name,
                default_ssl_binding: h.default_ssl_binding.unwrap_or(false),
            })
            .collect();
        Self {
            gateway_url: non_empty(properties.gateway_url),
            developer_portal_url: non_empty(properties.developer_portal_url),
            management_portal_url: None,
            hostnames,
            workspace_gateways: BTreeMap::new(),
        }
    }
}

impl From<ApimGatewayConfigConnection> for observed::ApimGatewayConnection {
    fn from(connection: ApimGatewayConfigConnection) -> Self {
        let properties = connection.properties;
        Self {
            // A connection without a source serves no workspace; it is kept (and ignored
            // by `workspace_of`) rather than failing the pass over one odd item.
            source_id: properties.source_id.unwrap_or_default(),
            default_hostname: non_empty(properties.default_hostname),
            hostnames: properties
                .hostnames
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

impl ApimApi {
    /// The API (or revision) as the planner reads it; `workspace` is the APIM workspace
    /// it was listed in, `None` at service level.
    pub fn into_observed(self, workspace: Option<&str>) -> observed::ApimApi {
        let is_current = self.is_current();
        let name = self.name;
        let p = self.properties;
        let contact = p
            .contact
            .as_ref()
            .filter(|c| c.is_object())
            .map(|c| observed::ApimContact {
                name: member(c, "name"),
                url: member(c, "url"),
                email: member(c, "email"),
            });
        let license = p
            .license
            .as_ref()
            .filter(|l| l.is_object())
            .map(|l| observed::ApimLicense {
                name: member(l, "name"),
                url: member(l, "url"),
            });
        observed::ApimApi {
            workspace: workspace.map(str::to_string),
            display_name: p.display_name.unwrap_or_else(|| name.clone()),
            description: non_empty(p.description),
            path: p.path.unwrap_or_default(),
            api_type: non_empty(p.api_type),
            api_revision: non_empty(p.api_revision),
            is_current,
            api_version: p.api_version,
            api_version_set_id: non_empty(p.api_version_set_id),
            contact,
            license,
            terms_of_service_url: non_empty(p.terms_of_service_url),
            name,
        }
    }
}

impl ApimVersionSet {
    /// The version set as the planner reads it; `workspace` as for
    /// [`ApimApi::into_observed`].
    pub fn into_observed(self, workspace: Option<&str>) -> observed::ApimVersionSet {
        let p = self.properties;
        observed::ApimVersionSet {
            workspace: workspace.map(str::to_string),
            display_name: p.display_name.unwrap_or_else(|| self.name.clone()),
            description: non_empty(p.description),
            versioning_scheme: non_empty(p.versioning_scheme),
            name: self.name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilink_core::ids::{ApimApiRef, ApimServiceId};
    use serde_json::json;

    #[test]
    fn a_service_keeps_its_gateway_and_hostnames() {
        let service: ApimService = serde_json::from_value(json!({"properties": {
            "gatewayUrl": "https://p.azure-api.net", "developerPortalUrl": "",
            "hostnameConfigurations": [
                {"type": "Proxy", "hostName": "api.example.com", "defaultSslBinding": true},
                {"type": "DeveloperPortal", "hostName": "dev.example.com"}
            ]
        }}))
        .unwrap();
        let observed = observed::ApimService::from(service);
        assert_eq!(
            observed,
            observed::ApimService {
                gateway_url: Some("https://p.azure-api.net".into()),
                developer_portal_url: None,
                management_portal_url: None,
                hostnames: vec![
                    observed::ApimHostname {
                        kind: "Proxy".into(),
                        host_name: "api.example.com".into(),
                        default_ssl_binding: true,
                    },
                    observed::ApimHostname {
                        kind: "DeveloperPortal".into(),
                        host_name: "dev.example.com".into(),
                        default_ssl_binding: false,
                    },
                ],
                workspace_gateways: BTreeMap::new(),
            }
        );
        let bare: ApimService = serde_json::from_value(json!({"name": "x"})).unwrap();
        assert_eq!(
            observed::ApimService::from(bare),
            observed::ApimService::default()
        );
    }

    #[test]
    fn a_revision_keeps_its_set_and_is_not_current() {
        let api: ApimApi = serde_json::from_value(json!({"name": "echo;rev=2", "properties": {
            "displayName": "Echo", "path": "echo", "isCurrent": false, "apiRevision": "2",
            "description": "", "apiVersion": "",
            "apiVersionSetId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/x/apiVersionSets/vs1"
        }}))
        .unwrap();
        let api = api.into_observed(Some("team-a"));
        assert_eq!(api.api_id(), "echo");
        assert!(!api.is_current);
        assert_eq!(api.version_set_name(), Some("vs1"));
        assert_eq!(api.api_type, None);
        assert_eq!(api.description, None);
        assert_eq!(api.api_version.as_deref(), Some(""), "kept as APIM says it");
        assert_eq!(api.api_revision.as_deref(), Some("2"));
        assert_eq!(
            api.api_ref(),
            ApimApiRef {
                workspace: Some("team-a".into()),
                api_id: "echo".into(),
            }
        );
    }

    #[test]
    fn an_api_reads_contact_license_and_defaults() {
        let api: ApimApi = serde_json::from_value(json!({"name": "orders", "properties": {
            "type": "soap", "contact": {"name": "Team", "email": "t@example.com", "x": 1},
            "license": "not an object", "termsOfServiceUrl": "https://t"
        }}))
        .unwrap();
        let api = api.into_observed(None);
        assert_eq!(api.workspace, None);
        assert_eq!(api.display_name, "orders", "the name stands in for a title");
        assert_eq!(api.path, "");
        assert_eq!(api.api_type.as_deref(), Some("soap"));
        assert!(api.is_current, "no flag and no revision suffix");
        assert_eq!(
            api.contact,
            Some(observed::ApimContact {
                name: Some("Team".into()),
                url: None,
                email: Some("t@example.com".into()),
            })
        );
        assert_eq!(api.license, None);
        assert_eq!(api.terms_of_service_url.as_deref(), Some("https://t"));
        let revision: ApimApi =
            serde_json::from_value(json!({"name": "orders;rev=3", "properties": {}})).unwrap();
        assert!(!revision.into_observed(None).is_current);
    }

    #[test]
    fn a_version_set_reads_its_scheme() {
        let set: ApimVersionSet =
            serde_json::from_value(json!({"name": "petstore", "properties": {
                "versioningScheme": "Segment", "description": ""
            }}))
            .unwrap();
        assert_eq!(
            set.into_observed(Some("ws")),
            observed::ApimVersionSet {
                workspace: Some("ws".into()),
                name: "petstore".into(),
                display_name: "petstore".into(),
                description: None,
                versioning_scheme: Some("Segment".into()),
            }
        );
    }

    #[test]
    fn a_gateway_connection_keeps_real_hosts_only() {
        let service = ApimServiceId::parse(
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-1",
        )
        .unwrap();
        let connection: ApimGatewayConfigConnection = serde_json::from_value(json!({
            "name": "gcc-1", "properties": {
                "sourceId": "/subscriptions/S1/resourcegroups/RG1/providers/Microsoft.ApiManagement/services/APIM-1/workspaces/ws-1",
                "defaultHostname": "gcc-1-abc.gw-1.gateway.westeurope.azure-api.net",
                "hostnames": ["", " api.team.example "]
            }
        }))
        .unwrap();
        let c = observed::ApimGatewayConnection::from(connection);
        assert_eq!(c.workspace_of(&service), Some("ws-1"));
        assert_eq!(c.hostnames, vec!["api.team.example"]);
        assert_eq!(
            c.default_hostname.as_deref(),
            Some("gcc-1-abc.gw-1.gateway.westeurope.azure-api.net")
        );
        let sourceless: ApimGatewayConfigConnection =
            serde_json::from_value(json!({"properties": {"defaultHostname": ""}})).unwrap();
        let sourceless = observed::ApimGatewayConnection::from(sourceless);
        assert_eq!(sourceless, observed::ApimGatewayConnection::default());
        assert_eq!(sourceless.workspace_of(&service), None);
    }
}
