//! Workspace gateways: top-level `Microsoft.ApiManagement/gateways/{name}` resources in
//! the services' resource group, gathered from the workspaces that name them. Each
//! workspace a gateway serves has a config connection with its own default host.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::model::{ApimState, key};
use super::render::{ConnectionView, GatewayView};

/// Longest config connection name APIM accepts.
const CONNECTION_NAME_MAX: usize = 30;

/// A config connection name (`^[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`, up to 30
/// characters) derived from the workspace id, unique among `taken`.
fn connection_name(workspace: &str, taken: &[ConnectionView]) -> String {
    let mut base: String = workspace
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        base.insert_str(0, "ws-");
    }
    let fit = |s: &str, room: usize| -> String {
        s.chars()
            .take(room)
            .collect::<String>()
            .trim_end_matches('-')
            .to_string()
    };
    let mut name = fit(&base, CONNECTION_NAME_MAX);
    let mut n = 2;
    while taken.iter().any(|c| c.name == name) {
        let suffix = format!("-{n}");
        name = format!("{}{suffix}", fit(&base, CONNECTION_NAME_MAX - suffix.len()));
        n += 1;
    }
    name
}

/// `{connection}-{16 hex}.{gateway}.gateway.{region}.azure-api.net`, stable for one
/// service, workspace and gateway.
fn default_hostname(
    service: &str,
    workspace: &str,
    gateway: &str,
    connection: &str,
    location: &str,
) -> String {
    let digest = Sha256::digest(format!("{service}/{workspace}/{gateway}").to_ascii_lowercase());
    let hash = hex::encode(&digest[..8]);
    let region: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    format!(
        "{connection}-{hash}.{}.gateway.{region}.azure-api.net",
        gateway.to_ascii_lowercase()
    )
}

/// Every workspace gateway, by lower-cased name, with a connection per workspace served
/// (services and workspaces in name order). `workspace_id` gives a workspace's ARM id.
pub(crate) fn gateways(
    state: &ApimState,
    workspace_id: &dyn Fn(&str, &str) -> String,
) -> BTreeMap<String, GatewayView> {
    let mut out: BTreeMap<String, GatewayView> = BTreeMap::new();
    for service in state.services.values() {
        for workspace in service.workspaces.values() {
            for g in &workspace.gateways {
                let view = out.entry(key(&g.name)).or_insert_with(|| GatewayView {
                    name: g.name.clone(),
                    location: service.location.clone(),
                    created: service.created,
                    connections: Vec::new(),
                });
                let name = connection_name(&workspace.id, &view.connections);
                let default_hostname = default_hostname(
                    &service.name,
                    &workspace.id,
                    &view.name,
                    &name,
                    &view.location,
                );
                view.connections.push(ConnectionView {
                    source_id: workspace_id(&service.name, &workspace.id),
                    default_hostname,
                    hostnames: g.hostnames.clone(),
                    name,
                });
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn connection_names_fit_apim_rules_and_do_not_collide() {
        assert_eq!(connection_name("team-mobile", &[]), "team-mobile");
        assert_eq!(connection_name("Team_Mobile", &[]), "team-mobile");
        assert_eq!(connection_name("1st", &[]), "ws-1st");
        let long = connection_name(&"a".repeat(40), &[]);
        assert_eq!(long.len(), CONNECTION_NAME_MAX);
        let taken = vec![ConnectionView {
            name: "team".into(),
            source_id: String::new(),
            default_hostname: String::new(),
            hostnames: Vec::new(),
        }];
        assert_eq!(connection_name("TEAM", &taken), "team-2");
        let host = default_hostname("svc", "team", "GW-1", "team", "West Europe");
        assert!(host.starts_with("team-"), "{host}");
        assert!(
            host.ends_with(".gw-1.gateway.westeurope.azure-api.net"),
            "{host}"
        );
    }
}
