//! The ARM actions a link needs, derived from the requests it sends: ARM names an action
//! by the provider namespace, the resource-type segments of the URL, then `read` (GET,
//! HEAD), `write` (PUT, PATCH), `delete`, or for a POST the last segment and `action`.

use serde::{Deserialize, Serialize};

use super::checks;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AzureService {
    ApiManagement,
    ApiCenter,
}

impl AzureService {
    /// The name users know the service by, e.g. in "API Center actions".
    pub fn display_name(self) -> &'static str {
        match self {
            Self::ApiManagement => "API Management",
            Self::ApiCenter => "API Center",
        }
    }

    /// The ARM provider namespace every action of the service starts with.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::ApiManagement => "Microsoft.ApiManagement",
            Self::ApiCenter => "Microsoft.ApiCenter",
        }
    }

    /// The id of the check that proves the service's permissions.
    pub fn permissions_check(self) -> &'static str {
        match self {
            Self::ApiManagement => checks::APIM_PERMISSIONS,
            Self::ApiCenter => checks::APIC_PERMISSIONS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredAction {
    pub service: AzureService,
    pub action: &'static str,
    /// What the link does with it, for reports.
    pub purpose: &'static str,
}

/// When a link sends the requests an action authorizes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needed {
    Always,
    /// Only links that read APIM workspaces besides the service level.
    ReadingApimWorkspaces,
}

type Need = (&'static str, &'static str, Needed);

/// Everything on the APIM service is a read: APIM is never written.
const APIM_NEEDS: &[Need] = &[
    (
        "Microsoft.ApiManagement/service/read",
        "read the service: gateway URL, custom hostnames and portal URLs",
        Needed::Always,
    ),
    (
        "Microsoft.ApiManagement/service/apis/read",
        "list the current APIs and export their definitions (GET with export=true)",
        Needed::Always,
    ),
    (
        "Microsoft.ApiManagement/service/apis/schemas/read",
        "read GraphQL and gRPC definitions from an API's schemas",
        Needed::Always,
    ),
    (
        "Microsoft.ApiManagement/service/apiVersionSets/read",
        "list the version sets that group APIs into versions",
        Needed::Always,
    ),
    (
        "Microsoft.ApiManagement/service/workspaces/apis/read",
        "list and export the APIs of the APIM workspaces the link reads",
        Needed::ReadingApimWorkspaces,
    ),
    (
        "Microsoft.ApiManagement/service/workspaces/apis/schemas/read",
        "read GraphQL and gRPC definitions of workspace APIs",
        Needed::ReadingApimWorkspaces,
    ),
    (
        "Microsoft.ApiManagement/service/workspaces/apiVersionSets/read",
        "list the version sets of the APIM workspaces the link reads",
        Needed::ReadingApimWorkspaces,
    ),
    (
        "Microsoft.ApiManagement/service/workspaceLinks/read",
        "find the workspace gateways serving the APIM workspaces the link reads",
        Needed::ReadingApimWorkspaces,
    ),
];

const APIC_NEEDS: &[Need] = &[
    (
        "Microsoft.ApiCenter/services/read",
        "read the API Center service",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/read",
        "confirm the target workspace exists",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/environments/read",
        "read the link's environment",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/environments/write",
        "create and update the link's environment",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/environments/delete",
        "delete the link's environment when the link is deleted",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/read",
        "list the APIs of the target workspace",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/write",
        "create and update APIs and their ownership records",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/delete",
        "delete the APIs the link owns once they leave APIM",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/versions/read",
        "list the versions of an API",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/versions/write",
        "create and update versions",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/versions/delete",
        "delete the versions the link owns",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/read",
        "list the definitions of a version",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/write",
        "create and update definitions",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/delete",
        "delete the definitions the link owns",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/importSpecification/action",
        "import the specification exported from APIM",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/deployments/read",
        "list the deployments of an API",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/deployments/write",
        "create and update deployments",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/workspaces/apis/deployments/delete",
        "delete the deployments the link owns",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/metadataSchemas/read",
        "list the metadata schemas (ownership record, custom properties)",
        Needed::Always,
    ),
    (
        "Microsoft.ApiCenter/services/metadataSchemas/write",
        "create the ownership record's metadata schema (service-level)",
        Needed::Always,
    ),
];

/// Every ARM action a link's passes, deletions (finalizer) and metadata-schema setup
/// need, on the APIM service and on the API Center service.
///
/// Not included: `Microsoft.ApiManagement/gateways/configConnections/read`, which links
/// reading APIM workspaces need on each workspace gateway, a resource outside the APIM
/// service (see [`workspace_gateway_actions`]).
pub fn required_actions() -> Vec<RequiredAction> {
    required_actions_for(true)
}

/// [`required_actions`] for one link: without the workspace reads when it reads the
/// APIM service level only.
pub fn required_actions_for(reads_apim_workspaces: bool) -> Vec<RequiredAction> {
    let of = |service: AzureService, needs: &'static [Need]| {
        needs
            .iter()
            .filter(move |(_, _, needed)| reads_apim_workspaces || *needed == Needed::Always)
            .map(move |(action, purpose, _)| RequiredAction {
                service,
                action,
                purpose,
            })
    };
    of(AzureService::ApiManagement, APIM_NEEDS)
        .chain(of(AzureService::ApiCenter, APIC_NEEDS))
        .collect()
}

/// What a link reading APIM workspaces needs on each workspace gateway serving them
/// (`/subscriptions/…/providers/Microsoft.ApiManagement/gateways/{name}`). The gateway is
/// not under the APIM service, so the service's permissions do not show it and the "API
/// Management Service Reader Role" on the service does not grant it: it is proven at the
/// gateway's scope (Reader there grants it).
pub fn workspace_gateway_actions() -> Vec<RequiredAction> {
    vec![RequiredAction {
        service: AzureService::ApiManagement,
        action: "Microsoft.ApiManagement/gateways/configConnections/read",
        purpose: "read which hosts a workspace gateway serves the workspace APIs on",
    }]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::preflight::permissions::{GrantedPermission, is_granted};

    /// ARM's action for a request, the way ARM derives it from the URL.
    fn arm_action(method: &str, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let at = segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case("providers"))
            .expect("a provider path");
        let namespace = segments[at + 1];
        let types: Vec<&str> = segments[at + 2..].iter().step_by(2).copied().collect();
        let verb = match method {
            "GET" | "HEAD" => "read",
            "PUT" | "PATCH" => "write",
            "DELETE" => "delete",
            "POST" => return format!("{namespace}/{}/action", types.join("/")),
            other => panic!("unexpected method {other}"),
        };
        format!("{namespace}/{}/{verb}", types.join("/"))
    }

    const APIM: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";
    const APIC: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/apic";

    /// Every request a link sends to the APIM service: the service, the API and version
    /// set lists (service level and workspaces), export links (`GET {api}?export=true`),
    /// schemas, and the workspace links naming the workspace gateways.
    fn apim_requests() -> Vec<(&'static str, String)> {
        let scopes = [APIM.to_string(), format!("{APIM}/workspaces/team-a")];
        let mut requests = vec![
            ("GET", APIM.to_string()),
            ("GET", format!("{APIM}/workspaceLinks")),
        ];
        for base in scopes {
            requests.push(("GET", format!("{base}/apis")));
            requests.push(("GET", format!("{base}/apis/echo")));
            requests.push(("GET", format!("{base}/apis/echo/schemas")));
            requests.push(("GET", format!("{base}/apiVersionSets")));
        }
        requests
    }

    /// Every request a link sends to the API Center service: each entity kind listed or
    /// read, written and deleted; the import; the metadata schemas; the service and the
    /// workspace read by the preflight.
    fn apic_requests() -> Vec<(&'static str, String)> {
        let ws = format!("{APIC}/workspaces/default");
        let mut requests = vec![
            ("GET", APIC.to_string()),
            ("GET", ws.clone()),
            ("GET", format!("{APIC}/metadataSchemas")),
            ("PUT", format!("{APIC}/metadataSchemas/apilink-ownership")),
            ("GET", format!("{ws}/apis")),
            ("GET", format!("{ws}/apis/a/versions")),
            ("GET", format!("{ws}/apis/a/versions/v/definitions")),
            ("GET", format!("{ws}/apis/a/deployments")),
            (
                "POST",
                format!("{ws}/apis/a/versions/v/definitions/d/importSpecification"),
            ),
        ];
        for entity in [
            format!("{ws}/environments/prod"),
            format!("{ws}/apis/a"),
            format!("{ws}/apis/a/versions/v"),
            format!("{ws}/apis/a/versions/v/definitions/d"),
            format!("{ws}/apis/a/deployments/prod"),
        ] {
            for method in ["GET", "PUT", "DELETE"] {
                requests.push((method, entity.clone()));
            }
        }
        requests
    }

    fn actions_of(service: AzureService) -> BTreeSet<String> {
        required_actions()
            .into_iter()
            .filter(|r| r.service == service)
            .map(|r| r.action.to_string())
            .collect()
    }

    #[test]
    fn the_list_is_exactly_what_the_requests_need() {
        let derived = |requests: Vec<(&str, String)>| -> BTreeSet<String> {
            requests.iter().map(|(m, p)| arm_action(m, p)).collect()
        };
        assert_eq!(
            actions_of(AzureService::ApiManagement),
            derived(apim_requests())
        );
        assert_eq!(
            actions_of(AzureService::ApiCenter),
            derived(apic_requests())
        );
        assert_eq!(
            arm_action(
                "POST",
                &format!(
                    "{APIC}/workspaces/default/apis/a/versions/v/definitions/d/importSpecification"
                )
            ),
            "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/importSpecification/action"
        );
    }

    #[test]
    fn actions_are_listed_once_under_their_own_namespace() {
        let all = required_actions();
        let distinct: BTreeSet<_> = all.iter().map(|r| r.action.to_ascii_lowercase()).collect();
        assert_eq!(distinct.len(), all.len());
        assert_eq!(all.len(), 28);
        for required in &all {
            assert!(
                required
                    .action
                    .starts_with(&format!("{}/", required.service.namespace())),
                "{}",
                required.action
            );
            assert!(!required.purpose.is_empty());
        }
    }

    #[test]
    fn service_level_links_need_no_workspace_reads() {
        let service_level: Vec<&str> = required_actions_for(false)
            .iter()
            .filter(|r| r.service == AzureService::ApiManagement)
            .map(|r| r.action)
            .collect();
        assert_eq!(
            service_level,
            [
                "Microsoft.ApiManagement/service/read",
                "Microsoft.ApiManagement/service/apis/read",
                "Microsoft.ApiManagement/service/apis/schemas/read",
                "Microsoft.ApiManagement/service/apiVersionSets/read",
            ]
        );
        assert_eq!(
            required_actions_for(false)
                .iter()
                .filter(|r| r.service == AzureService::ApiCenter)
                .count(),
            20
        );
    }

    /// Copies of the built-in roles' patterns (as the emulator grants them): each must
    /// grant everything the link needs on its side, so adding an action outside the role
    /// fails here.
    fn apim_service_reader_role() -> GrantedPermission {
        GrantedPermission {
            actions: vec![
                "Microsoft.ApiManagement/service/*/read".into(),
                "Microsoft.ApiManagement/service/read".into(),
                "Microsoft.Resources/subscriptions/resourceGroups/read".into(),
            ],
            not_actions: vec!["Microsoft.ApiManagement/service/users/keys/read".into()],
        }
    }

    fn apic_service_contributor_role() -> GrantedPermission {
        GrantedPermission {
            actions: vec![
                "Microsoft.ApiCenter/services/*".into(),
                "Microsoft.Resources/subscriptions/resourceGroups/read".into(),
            ],
            not_actions: vec![],
        }
    }

    #[test]
    fn the_built_in_roles_grant_everything_the_link_needs() {
        let reader = [apim_service_reader_role()];
        let contributor = [apic_service_contributor_role()];
        for required in required_actions() {
            let (own, other) = match required.service {
                AzureService::ApiManagement => (&reader, &contributor),
                AzureService::ApiCenter => (&contributor, &reader),
            };
            assert!(is_granted(own, required.action), "{}", required.action);
            assert!(!is_granted(other, required.action), "{}", required.action);
        }
    }

    #[test]
    fn the_workspace_gateway_read_is_outside_the_apim_reader_role() {
        let reader = [apim_service_reader_role()];
        for required in workspace_gateway_actions() {
            assert!(!is_granted(&reader, required.action));
            assert_eq!(
                arm_action(
                    "GET",
                    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/gateways/gw/configConnections"
                ),
                required.action
            );
        }
    }
}
