//! ARM permissions: what the identity holds at a scope (ARM's permissions API answer),
//! whether that grants an action, and the check line with the role that fixes a gap.

use serde::{Deserialize, Serialize};

use super::actions::{AzureService, RequiredAction, required_actions};
use super::report::CheckLine;

/// The reason of a permission check that failed.
pub const PERMISSION_MISSING: &str = "PermissionMissing";

/// How many missing actions a summary names before it only counts the rest.
const NAMED_IN_SUMMARY: usize = 3;

const OBJECT_ID_PLACEHOLDER: &str = "<principal-object-id>";

/// One entry of ARM's permissions API answer (`GET {scope}/providers/
/// Microsoft.Authorization/permissions`). `dataActions` are left out: a link sends
/// control-plane requests only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantedPermission {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
}

/// ARM's rule: granted when some entry's `actions` match and that same entry's
/// `notActions` do not. Patterns compare case-insensitively; `*` matches any run of
/// characters, anywhere in the pattern.
pub fn is_granted(granted: &[GrantedPermission], action: &str) -> bool {
    granted.iter().any(|entry| {
        entry.actions.iter().any(|p| pattern_matches(p, action))
            && !entry.not_actions.iter().any(|p| pattern_matches(p, action))
    })
}

fn pattern_matches(pattern: &str, text: &str) -> bool {
    crate::star_glob::matches_ignore_ascii_case(pattern, text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInRole {
    pub name: &'static str,
}

/// The least built-in role granting everything a link needs on `service`.
pub fn role_for(service: AzureService) -> BuiltInRole {
    match service {
        AzureService::ApiManagement => BuiltInRole {
            name: "API Management Service Reader Role",
        },
        AzureService::ApiCenter => BuiltInRole {
            name: "Azure API Center Service Contributor",
        },
    }
}

/// The role that grants [`super::actions::workspace_gateway_actions`] on a workspace
/// gateway.
pub fn workspace_gateway_role() -> BuiltInRole {
    BuiltInRole { name: "Reader" }
}

/// `az role assignment create --assignee-object-id <id> --assignee-principal-type <type>
/// --role "<name>" --scope <scope>`, every value quoted for a POSIX shell. A missing
/// object id prints `"<principal-object-id>"` for the user to fill in; a missing
/// principal type leaves the flag out (the CLI then looks the type up itself).
pub fn role_assignment_command(
    assignee_object_id: Option<&str>,
    principal_type: Option<&str>,
    role: &BuiltInRole,
    scope: &str,
) -> String {
    let object_id = assignee_object_id
        .filter(|id| !id.trim().is_empty())
        .unwrap_or(OBJECT_ID_PLACEHOLDER);
    let mut command = format!(
        "az role assignment create --assignee-object-id {}",
        shell_quote(object_id)
    );
    if let Some(kind) = principal_type.filter(|k| !k.trim().is_empty()) {
        command.push_str(&format!(" --assignee-principal-type {}", shell_quote(kind)));
    }
    command.push_str(&format!(
        " --role {} --scope {}",
        shell_quote(role.name),
        shell_quote(scope)
    ));
    command
}

/// `value` as one POSIX shell word: bare when it holds only characters no shell treats
/// specially, in double quotes when nothing in it expands there (how role names are
/// usually written), else in single quotes.
fn shell_quote(value: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    let expands_in_double_quotes = |c: char| "$`\"\\!".contains(c) || c.is_control();
    if !value.is_empty() && value.chars().all(bare) {
        value.to_string()
    } else if !value.chars().any(expands_in_double_quotes) {
        format!("\"{value}\"")
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The actions of `service` among `required` that `granted` does not grant, in order.
pub fn missing_actions<'a>(
    service: AzureService,
    required: &'a [RequiredAction],
    granted: &[GrantedPermission],
) -> Vec<&'a RequiredAction> {
    required
        .iter()
        .filter(|r| r.service == service && !is_granted(granted, r.action))
        .collect()
}

/// The check line for one service's permissions, against every action in
/// [`required_actions`]. `scope` is the service's ARM id, where the role is granted.
pub fn permission_line(
    service: AzureService,
    scope: &str,
    granted: &[GrantedPermission],
    assignee_object_id: Option<&str>,
    principal_type: Option<&str>,
) -> CheckLine {
    permission_line_for(
        service,
        &required_actions(),
        scope,
        granted,
        assignee_object_id,
        principal_type,
    )
}

/// [`permission_line`] against `required` (e.g. [`super::actions::required_actions_for`]
/// one link); actions of other services in it are ignored.
pub fn permission_line_for(
    service: AzureService,
    required: &[RequiredAction],
    scope: &str,
    granted: &[GrantedPermission],
    assignee_object_id: Option<&str>,
    principal_type: Option<&str>,
) -> CheckLine {
    let check = service.permissions_check();
    let total = required.iter().filter(|r| r.service == service).count();
    let missing = missing_actions(service, required, granted);
    if missing.is_empty() {
        return CheckLine::pass(
            check,
            format!(
                "the identity holds all {total} {} actions a link needs",
                service.display_name()
            ),
        );
    }
    let role = role_for(service);
    CheckLine::fail(
        check,
        PERMISSION_MISSING,
        missing_summary(service, &missing, total),
        remedy(service, &role, scope),
    )
    .with_details(vec![role_assignment_command(
        assignee_object_id,
        principal_type,
        &role,
        scope,
    )])
}

fn missing_summary(service: AzureService, missing: &[&RequiredAction], total: usize) -> String {
    let named: Vec<&str> = missing
        .iter()
        .take(NAMED_IN_SUMMARY)
        .map(|r| r.action)
        .collect();
    let rest = missing.len() - named.len();
    let more = if rest > 0 {
        format!(" and {rest} more")
    } else {
        String::new()
    };
    format!(
        "the identity lacks {} of the {total} {} actions a link needs: {}{more}",
        missing.len(),
        service.display_name(),
        named.join(", ")
    )
}

fn remedy(service: AzureService, role: &BuiltInRole, scope: &str) -> String {
    let base = format!(
        "grant the identity the \"{}\" role on the {} service {scope}",
        role.name,
        service.display_name()
    );
    match service {
        AzureService::ApiManagement => base,
        // Metadata schemas are service-level: a role on a workspace does not reach them.
        AzureService::ApiCenter => format!("{base} itself, not on a workspace"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::preflight::report::CheckStatus;

    fn entry(actions: &[&str], not_actions: &[&str]) -> GrantedPermission {
        GrantedPermission {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    const APIM_SCOPE: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";
    const APIC_SCOPE: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/apic";

    #[test]
    fn wildcards_match_anywhere() {
        let g = |p: &str| [entry(&[p], &[])];
        assert!(is_granted(&g("*"), "Microsoft.ApiCenter/services/read"));
        assert!(is_granted(
            &g("*/read"),
            "Microsoft.ApiManagement/service/apis/read"
        ));
        assert!(!is_granted(
            &g("*/read"),
            "Microsoft.ApiManagement/service/apis/write"
        ));
        assert!(is_granted(
            &g("Microsoft.ApiManagement/service/*/read"),
            "Microsoft.ApiManagement/service/workspaces/apis/schemas/read"
        ));
        assert!(!is_granted(
            &g("Microsoft.ApiManagement/service/*/read"),
            "Microsoft.ApiManagement/service/read"
        ));
        assert!(is_granted(
            &g("Microsoft.ApiCenter/*/apis/*"),
            "Microsoft.ApiCenter/services/workspaces/apis/versions/write"
        ));
        assert!(is_granted(
            &g("Microsoft.*Center/services/*"),
            "microsoft.apicenter/services/x"
        ));
        assert!(!is_granted(
            &g("Microsoft.ApiCenter/services/read"),
            "Microsoft.ApiCenter/services/readx"
        ));
        assert!(!is_granted(
            &g("Microsoft.ApiCenter/services/read"),
            "Microsoft.ApiCenter/services/rea"
        ));
        assert!(is_granted(&g("a**b"), "ab"));
    }

    #[test]
    fn comparison_ignores_case() {
        let granted = [entry(&["microsoft.apicenter/SERVICES/*"], &[])];
        assert!(is_granted(
            &granted,
            "Microsoft.ApiCenter/services/metadataSchemas/write"
        ));
        let denied = [entry(&["*"], &["MICROSOFT.APICENTER/*/WRITE"])];
        assert!(!is_granted(
            &denied,
            "Microsoft.ApiCenter/services/metadataSchemas/write"
        ));
    }

    #[test]
    fn not_actions_only_withhold_within_their_own_entry() {
        let action = "Microsoft.ApiCenter/services/workspaces/apis/delete";
        let withheld = [entry(&["Microsoft.ApiCenter/*"], &["*/delete"])];
        assert!(!is_granted(&withheld, action));
        assert!(is_granted(
            &withheld,
            "Microsoft.ApiCenter/services/workspaces/apis/write"
        ));
        // Another assignment granting it is not cut back by the first one's notActions.
        let two = [
            entry(&["Microsoft.ApiCenter/*"], &["*/delete"]),
            entry(
                &["Microsoft.ApiCenter/services/workspaces/apis/delete"],
                &[],
            ),
        ];
        assert!(is_granted(&two, action));
        // notActions alone grant nothing.
        assert!(!is_granted(&[entry(&[], &["x"])], "y"));
    }

    #[test]
    fn nothing_is_granted_by_an_empty_answer() {
        assert!(!is_granted(&[], "Microsoft.ApiManagement/service/read"));
        assert!(!is_granted(
            &[GrantedPermission::default()],
            "Microsoft.ApiManagement/service/read"
        ));
    }

    #[test]
    fn permissions_answer_entries_deserialize_without_data_actions() {
        let entry: GrantedPermission = serde_json::from_str(
            r#"{"actions":["*/read"],"notActions":["a"],"dataActions":["d"],"notDataActions":[]}"#,
        )
        .unwrap();
        assert_eq!(entry, self::entry(&["*/read"], &["a"]));
        let bare: GrantedPermission = serde_json::from_str("{}").unwrap();
        assert_eq!(bare, GrantedPermission::default());
    }

    #[test]
    fn commands_are_quoted_for_a_shell() {
        let reader = role_for(AzureService::ApiManagement);
        assert_eq!(
            role_assignment_command(
                Some("0f1e2d3c-aaaa-bbbb-cccc-000000000001"),
                Some("ServicePrincipal"),
                &reader,
                APIM_SCOPE
            ),
            "az role assignment create --assignee-object-id 0f1e2d3c-aaaa-bbbb-cccc-000000000001 --assignee-principal-type ServicePrincipal --role \"API Management Service Reader Role\" --scope /subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim"
        );
        assert_eq!(
            role_assignment_command(None, None, &reader, "/subscriptions/s/resource groups/it's"),
            "az role assignment create --assignee-object-id \"<principal-object-id>\" --role \"API Management Service Reader Role\" --scope \"/subscriptions/s/resource groups/it's\""
        );
        assert_eq!(
            role_assignment_command(Some("$(rm -rf /)"), Some(""), &reader, "a'b$c"),
            "az role assignment create --assignee-object-id '$(rm -rf /)' --role \"API Management Service Reader Role\" --scope 'a'\\''b$c'"
        );
    }

    #[test]
    fn roles_per_service() {
        assert_eq!(
            role_for(AzureService::ApiManagement).name,
            "API Management Service Reader Role"
        );
        assert_eq!(
            role_for(AzureService::ApiCenter).name,
            "Azure API Center Service Contributor"
        );
    }

    #[test]
    fn permission_line_passes_when_everything_is_granted() {
        let granted = [entry(
            &[
                "Microsoft.ApiManagement/service/*/read",
                "Microsoft.ApiManagement/service/read",
            ],
            &[],
        )];
        let line = permission_line(
            AzureService::ApiManagement,
            APIM_SCOPE,
            &granted,
            Some("oid"),
            Some("User"),
        );
        assert_eq!(
            line,
            CheckLine::pass(
                "apim.permissions",
                "the identity holds all 8 API Management actions a link needs"
            )
        );
        assert!(line.details.is_empty());
    }

    #[test]
    fn permission_line_names_what_is_missing_and_the_command_that_grants_it() {
        // Read-only on API Center: every write, delete and the import are missing.
        let granted = [entry(
            &[
                "Microsoft.ApiCenter/services/*/read",
                "Microsoft.ApiCenter/services/read",
            ],
            &[],
        )];
        let line = permission_line(
            AzureService::ApiCenter,
            APIC_SCOPE,
            &granted,
            Some("11111111-2222-3333-4444-555555555555"),
            Some("ServicePrincipal"),
        );
        assert_eq!(line.check, "apic.permissions");
        assert_eq!(line.status, CheckStatus::Fail);
        assert_eq!(line.reason, "PermissionMissing");
        assert_eq!(
            line.summary,
            "the identity lacks 12 of the 20 API Center actions a link needs: \
             Microsoft.ApiCenter/services/workspaces/environments/write, \
             Microsoft.ApiCenter/services/workspaces/environments/delete, \
             Microsoft.ApiCenter/services/workspaces/apis/write and 9 more"
        );
        assert_eq!(
            line.remedy.as_deref(),
            Some(
                "grant the identity the \"Azure API Center Service Contributor\" role on the API Center service /subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/apic itself, not on a workspace"
            )
        );
        assert_eq!(
            line.details,
            [
                "az role assignment create --assignee-object-id 11111111-2222-3333-4444-555555555555 --assignee-principal-type ServicePrincipal --role \"Azure API Center Service Contributor\" --scope /subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/apic"
            ]
        );
    }

    #[test]
    fn permission_line_with_few_missing_names_them_all() {
        let granted = [entry(
            &["Microsoft.ApiManagement/service/*"],
            &["*/workspaceLinks/*", "*/schemas/*"],
        )];
        let line = permission_line(
            AzureService::ApiManagement,
            APIM_SCOPE,
            &granted,
            None,
            None,
        );
        assert_eq!(
            line.summary,
            "the identity lacks 3 of the 8 API Management actions a link needs: \
             Microsoft.ApiManagement/service/apis/schemas/read, \
             Microsoft.ApiManagement/service/workspaces/apis/schemas/read, \
             Microsoft.ApiManagement/service/workspaceLinks/read"
        );
        assert_eq!(
            line.remedy.as_deref(),
            Some(
                "grant the identity the \"API Management Service Reader Role\" role on the API Management service /subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim"
            )
        );
        assert_eq!(
            line.details,
            [
                "az role assignment create --assignee-object-id \"<principal-object-id>\" --role \"API Management Service Reader Role\" --scope /subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim"
            ]
        );
    }

    #[test]
    fn service_level_links_are_not_held_to_workspace_reads() {
        let granted = [entry(
            &[
                "Microsoft.ApiManagement/service/read",
                "Microsoft.ApiManagement/service/apis/read",
                "Microsoft.ApiManagement/service/apis/schemas/read",
                "Microsoft.ApiManagement/service/apiVersionSets/read",
            ],
            &[],
        )];
        let required = crate::preflight::required_actions_for(false);
        let line = permission_line_for(
            AzureService::ApiManagement,
            &required,
            APIM_SCOPE,
            &granted,
            None,
            None,
        );
        assert_eq!(line.status, CheckStatus::Pass);
        assert_eq!(
            line.summary,
            "the identity holds all 4 API Management actions a link needs"
        );
        let all = permission_line(
            AzureService::ApiManagement,
            APIM_SCOPE,
            &granted,
            None,
            None,
        );
        assert_eq!(all.status, CheckStatus::Fail);
    }
}
