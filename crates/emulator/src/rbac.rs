//! Role-based access control: which built-in role grants which control-plane action, and
//! ARM's answer when none does.

use crate::config::{Principal, Role, RoleAssignment};

/// Action patterns (case-insensitive, `*` matches anything) a role grants, and those it
/// explicitly withholds.
fn grants(role: Role) -> (&'static [&'static str], &'static [&'static str]) {
    match role {
        Role::Reader => (&["*/read"], &[]),
        Role::Contributor | Role::Owner => (&["*"], &[]),
        Role::ApiManagementServiceReader => (
            &[
                "Microsoft.ApiManagement/service/*/read",
                "Microsoft.ApiManagement/service/read",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            ],
            &["Microsoft.ApiManagement/service/users/keys/read"],
        ),
        Role::ApiCenterServiceContributor => (
            &[
                "Microsoft.ApiCenter/services/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            ],
            &[],
        ),
        Role::ApiCenterServiceReader => (
            &[
                "Microsoft.ApiCenter/services/*/read",
                "Microsoft.ApiCenter/services/read",
                "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/exportSpecification/action",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            ],
            &[],
        ),
        Role::ApiCenterDataReader => (&[], &[]),
    }
}

/// Actions ARM authorizes for every authenticated principal, whatever its roles: reading
/// its own permissions.
const ALWAYS_ALLOWED: &[&str] = &["Microsoft.Authorization/permissions/read"];

/// Whether any of `principal`'s assignments grants `action` over `scope`.
pub(crate) fn is_allowed(principal: &Principal, action: &str, scope: &str) -> bool {
    ALWAYS_ALLOWED
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
        || principal
            .roles
            .iter()
            .any(|assignment| assignment_allows(assignment, action, scope))
}

/// What one role assignment lets its principal do, as the permissions API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Permission {
    pub actions: &'static [&'static str],
    pub not_actions: &'static [&'static str],
}

/// One entry per assignment of `principal` whose scope covers `scope` (is it or an
/// ancestor of it), in assignment order: exactly what [`is_allowed`] decides from.
pub(crate) fn permissions_at(principal: &Principal, scope: &str) -> Vec<Permission> {
    principal
        .roles
        .iter()
        .filter(|assignment| scope_covers(&assignment.scope, scope))
        .map(|assignment| {
            let (actions, not_actions) = grants(assignment.role);
            Permission {
                actions,
                not_actions,
            }
        })
        .collect()
}

fn assignment_allows(assignment: &RoleAssignment, action: &str, scope: &str) -> bool {
    if !scope_covers(&assignment.scope, scope) {
        return false;
    }
    let (actions, not_actions) = grants(assignment.role);
    actions.iter().any(|p| wildcard_match(p, action))
        && !not_actions.iter().any(|p| wildcard_match(p, action))
}

/// An assignment at `/subscriptions/x` covers `/subscriptions/x/...` but not
/// `/subscriptions/xy`.
fn scope_covers(assigned: &str, requested: &str) -> bool {
    let assigned = assigned.trim_end_matches('/');
    if assigned.is_empty() {
        return true;
    }
    let requested_lower = requested.to_ascii_lowercase();
    let assigned_lower = assigned.to_ascii_lowercase();
    requested_lower == assigned_lower
        || requested_lower
            .strip_prefix(&assigned_lower)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let text = text.to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// ARM's `AuthorizationFailed` message.
pub(crate) fn denied_message(
    client_id: &str,
    object_id: &str,
    action: &str,
    scope: &str,
) -> String {
    format!(
        "The client '{client_id}' with object id '{object_id}' does not have authorization to \
         perform action '{action}' over scope '{scope}' or the scope is invalid. If access was \
         recently granted, please refresh your credentials."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, scope: &str) -> Principal {
        Principal::with_secret("c", "s", vec![RoleAssignment::new(role, scope)])
    }

    const APIM: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/x";
    const APIC: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c";

    #[test]
    fn apim_reader_reads_apim_only() {
        let p = principal(Role::ApiManagementServiceReader, "/subscriptions/s");
        assert!(is_allowed(
            &p,
            "Microsoft.ApiManagement/service/apis/read",
            APIM
        ));
        assert!(is_allowed(&p, "Microsoft.ApiManagement/service/read", APIM));
        assert!(!is_allowed(
            &p,
            "Microsoft.ApiManagement/service/apis/write",
            APIM
        ));
        assert!(!is_allowed(
            &p,
            "Microsoft.ApiCenter/services/workspaces/apis/read",
            APIC
        ));
        assert!(!is_allowed(
            &p,
            "Microsoft.ApiManagement/service/users/keys/read",
            APIM
        ));
    }

    #[test]
    fn apic_contributor_writes_apic_within_scope_only() {
        let p = principal(Role::ApiCenterServiceContributor, APIC);
        let action = "Microsoft.ApiCenter/services/workspaces/apis/write";
        assert!(is_allowed(
            &p,
            action,
            &format!("{APIC}/workspaces/default/apis/a")
        ));
        assert!(!is_allowed(
            &p,
            action,
            &format!("{APIC}2/workspaces/default/apis/a")
        ));
        assert!(!is_allowed(
            &p,
            "Microsoft.ApiManagement/service/apis/read",
            APIM
        ));
    }

    #[test]
    fn reader_contributor_and_data_reader() {
        let reader = principal(Role::Reader, "/");
        assert!(is_allowed(
            &reader,
            "Microsoft.ApiCenter/services/workspaces/apis/read",
            APIC
        ));
        assert!(!is_allowed(
            &reader,
            "Microsoft.ApiCenter/services/workspaces/apis/write",
            APIC
        ));
        let contributor = principal(Role::Contributor, "/SUBSCRIPTIONS/S");
        assert!(is_allowed(
            &contributor,
            "Microsoft.ApiCenter/services/workspaces/apis/delete",
            APIC
        ));
        let data = principal(Role::ApiCenterDataReader, "/");
        assert!(!is_allowed(
            &data,
            "Microsoft.ApiCenter/services/workspaces/apis/read",
            APIC
        ));
    }

    #[test]
    fn permissions_list_the_covering_assignments_with_the_enforced_table() {
        let p = Principal::with_secret(
            "c",
            "s",
            vec![
                RoleAssignment::new(Role::ApiManagementServiceReader, "/subscriptions/s"),
                RoleAssignment::new(Role::ApiCenterServiceContributor, APIC),
            ],
        );
        let at_group = permissions_at(&p, "/subscriptions/s/resourceGroups/rg");
        assert_eq!(at_group.len(), 1);
        assert_eq!(
            at_group[0].actions,
            grants(Role::ApiManagementServiceReader).0
        );
        assert_eq!(
            at_group[0].not_actions,
            ["Microsoft.ApiManagement/service/users/keys/read"]
        );
        let at_service = permissions_at(&p, &format!("{APIC}/workspaces/default"));
        assert_eq!(at_service.len(), 2);
        assert_eq!(
            at_service[1].actions,
            grants(Role::ApiCenterServiceContributor).0
        );
        assert!(permissions_at(&p, "/subscriptions/other").is_empty());
    }

    #[test]
    fn every_principal_may_read_its_own_permissions() {
        let nobody = Principal::with_secret("c", "s", Vec::new());
        assert!(is_allowed(
            &nobody,
            "Microsoft.Authorization/permissions/read",
            "/subscriptions/s"
        ));
        assert!(!is_allowed(
            &nobody,
            "Microsoft.Authorization/roleAssignments/read",
            "/subscriptions/s"
        ));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("a/*/read", "a/b/c/read"));
        assert!(!wildcard_match("a/*/read", "a/b/c/write"));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("*/read", "x/read"));
        assert!(!wildcard_match("x", "xy"));
    }
}
