//! `Microsoft.Authorization/permissions` ("Permissions - List For Resource Group / For
//! Resource", and the same at subscription scope): what the calling principal may do at a
//! scope. The answer is read from the role table RBAC enforces, so the two never disagree.
//!
//! ARM lets every authenticated principal read its own permissions (see
//! `rbac::is_allowed`). The scope is everything before `/providers/Microsoft.Authorization`;
//! like ARM, a scope naming a resource that does not exist is answered from the
//! assignments all the same.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::arm::ArmError;
use crate::arm_path::{AUTHORIZATION_NAMESPACE, ArmPath};
use crate::config::Principal;
use crate::rbac;

/// The api-versions of Microsoft.Authorization the emulator accepts, newest first.
pub(crate) const AUTHORIZATION_API_VERSIONS: &[&str] = &["2022-04-01", "2018-07-01", "2015-07-01"];

/// The answer to a request below `providers/Microsoft.Authorization` that passed
/// authentication, api-version, RBAC, scope existence and throttling.
pub(crate) fn answer(
    parsed: &ArmPath,
    method: &Method,
    principal: &Principal,
    api_version: &str,
) -> Result<Value, ArmError> {
    let is_permissions =
        matches!(parsed.rest.as_slice(), [only] if only.eq_ignore_ascii_case("permissions"));
    if !is_permissions || parsed.subscription.is_none() {
        let types: Vec<&str> = parsed.rest.iter().step_by(2).map(String::as_str).collect();
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceType",
            format!(
                "The resource type '{}' could not be found in the namespace \
                 '{AUTHORIZATION_NAMESPACE}' for api version '{api_version}'.",
                types.join("/")
            ),
        ));
    }
    if *method != Method::GET && *method != Method::HEAD {
        return Err(ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "The method '{method}' is not supported on Microsoft.Authorization/permissions."
            ),
        ));
    }
    Ok(permissions_body(principal, &parsed.provider_scope))
}

/// `{"value": [{actions, notActions, dataActions, notDataActions}, ...]}`, one entry per
/// assignment covering `scope`. The role table has no data actions, so those lists are
/// empty.
fn permissions_body(principal: &Principal, scope: &str) -> Value {
    let value: Vec<Value> = rbac::permissions_at(principal, scope)
        .into_iter()
        .map(|permission| {
            json!({
                "actions": permission.actions,
                "notActions": permission.not_actions,
                "dataActions": [],
                "notDataActions": [],
            })
        })
        .collect();
    json!({ "value": value })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Role, RoleAssignment};

    const SERVICE: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c";

    fn reader_of_the_group() -> Principal {
        Principal::with_secret(
            "c",
            "x",
            vec![RoleAssignment::new(
                Role::Reader,
                "/subscriptions/s/resourceGroups/rg",
            )],
        )
    }

    #[test]
    fn nested_paths_are_answered_for_the_resource_they_extend() {
        let path = format!("{SERVICE}/providers/Microsoft.Authorization/permissions");
        let parsed = ArmPath::parse(&path);
        assert!(parsed.is_namespace(AUTHORIZATION_NAMESPACE));
        assert_eq!(parsed.provider_scope, SERVICE);
        assert_eq!(
            parsed.action(&Method::GET),
            "Microsoft.Authorization/permissions/read"
        );
        let body = answer(&parsed, &Method::GET, &reader_of_the_group(), "2022-04-01").unwrap();
        assert_eq!(
            body,
            json!({"value": [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]})
        );
    }

    #[test]
    fn scopes_above_the_assignment_get_nothing() {
        let parsed =
            ArmPath::parse("/subscriptions/s/providers/Microsoft.Authorization/permissions");
        assert_eq!(parsed.provider_scope, "/subscriptions/s");
        let body = answer(&parsed, &Method::GET, &reader_of_the_group(), "2022-04-01").unwrap();
        assert_eq!(body, json!({"value": []}));
    }

    #[test]
    fn other_types_and_methods_are_refused() {
        let other =
            ArmPath::parse("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments");
        let error = answer(&other, &Method::GET, &reader_of_the_group(), "2022-04-01").unwrap_err();
        assert_eq!(error.code, "InvalidResourceType");
        assert_eq!(
            error.message,
            "The resource type 'roleAssignments' could not be found in the namespace \
             'Microsoft.Authorization' for api version '2022-04-01'."
        );
        let permissions =
            ArmPath::parse("/subscriptions/s/providers/Microsoft.Authorization/permissions");
        let error = answer(
            &permissions,
            &Method::PUT,
            &reader_of_the_group(),
            "2022-04-01",
        )
        .unwrap_err();
        assert_eq!(error.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
