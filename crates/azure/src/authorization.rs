//! What the identity may do on a resource: ARM's effective-permissions list
//! (`Microsoft.Authorization/permissions`), which needs no role beyond read access to
//! the resource and answers for every role assignment and deny assignment at once.

use serde::{Deserialize, Deserializer};
use url::Url;

use crate::error::AzureError;
use crate::http::{ArmClient, ArmTransport};
use crate::paging::list_all_via;

/// The api-version of `Microsoft.Authorization/permissions`.
pub const AUTHORIZATION_API_VERSION: &str = "2022-04-01";

/// One entry of the effective permissions: the control-plane actions it grants and
/// those it excludes, with ARM's `*` wildcards. Data actions are not read: apilink
/// only calls the control plane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Permission {
    #[serde(deserialize_with = "null_as_empty")]
    pub actions: Vec<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub not_actions: Vec<String>,
}

fn null_as_empty<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// `{scope}/providers/Microsoft.Authorization/permissions`, for a resource id such as
/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ApiCenter/services/{c}`.
fn permissions_url(arm: &ArmClient, scope: &str) -> Result<Url, AzureError> {
    let scope = scope.trim().trim_end_matches('/');
    if !scope.starts_with('/') || scope.contains(['?', '#']) {
        return Err(AzureError::InvalidInput(format!(
            "{scope:?} is not a resource id (it must start with / and carry no query)"
        )));
    }
    arm.url(
        &format!("{scope}/providers/Microsoft.Authorization/permissions"),
        AUTHORIZATION_API_VERSION,
        &[],
    )
}

/// The identity's effective permissions on `scope`, across every page.
pub async fn list_permissions(arm: &ArmClient, scope: &str) -> Result<Vec<Permission>, AzureError> {
    list_permissions_via(arm, permissions_url(arm, scope)?).await
}

async fn list_permissions_via<T: ArmTransport>(
    transport: &T,
    first: Url,
) -> Result<Vec<Permission>, AzureError> {
    list_all_via(transport, first).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::CloudConfig;
    use crate::http::ArmClientOptions;
    use crate::test_transport::{Scripted, http_error, json, url};

    /// An ARM client that is never asked for a token (only its URLs are used).
    fn offline_arm() -> ArmClient {
        let cloud = CloudConfig::public();
        let credential = crate::build_credential(
            &crate::CredentialConfig::ClientSecret {
                tenant_id: "00000000-0000-0000-0000-0000000000e1".into(),
                client_id: "c".into(),
                secret: azure_core::credentials::Secret::new("s"),
            },
            &cloud,
        )
        .unwrap();
        ArmClient::new(&cloud, credential, ArmClientOptions::default()).unwrap()
    }

    const SERVICE: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c";

    #[test]
    fn the_url_hangs_off_the_resource() {
        let arm = offline_arm();
        assert_eq!(
            permissions_url(&arm, &format!("{SERVICE}/"))
                .unwrap()
                .as_str(),
            format!(
                "https://management.azure.com{SERVICE}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
            )
        );
        for bad in ["subscriptions/s", "/subscriptions/s?x=1", "/s#f", ""] {
            let err = permissions_url(&arm, bad).unwrap_err();
            assert!(matches!(err, AzureError::InvalidInput(_)), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn every_page_is_read() {
        let page2 = format!(
            "https://arm.test{SERVICE}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01&$skiptoken=2"
        );
        let script = Scripted::new(vec![
            json(
                200,
                &json!({
                    "value": [{
                        "actions": ["Microsoft.ApiCenter/services/*"],
                        "notActions": ["Microsoft.ApiCenter/services/delete"],
                        "dataActions": ["Microsoft.ApiCenter/services/workspaces/apis/read"],
                        "notDataActions": []
                    }],
                    "nextLink": page2
                }),
            ),
            json(
                200,
                &json!({
                    "value": [
                        {"actions": ["*/read"], "notActions": null},
                        {"actions": ["Microsoft.ApiManagement/service/read"]}
                    ],
                    "nextLink": null
                }),
            ),
        ]);
        let first = url(&format!(
            "{SERVICE}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
        ));
        let permissions = list_permissions_via(&script, first).await.unwrap();
        assert_eq!(
            permissions,
            [
                Permission {
                    actions: vec!["Microsoft.ApiCenter/services/*".into()],
                    not_actions: vec!["Microsoft.ApiCenter/services/delete".into()],
                },
                Permission {
                    actions: vec!["*/read".into()],
                    not_actions: vec![],
                },
                Permission {
                    actions: vec!["Microsoft.ApiManagement/service/read".into()],
                    not_actions: vec![],
                },
            ]
        );
        assert_eq!(
            script.lines(),
            [
                format!(
                    "GET {SERVICE}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
                ),
                format!(
                    "GET {SERVICE}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01&$skiptoken=2"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_refused_read_is_an_error_not_an_empty_list() {
        let script = Scripted::new(vec![Err(http_error(403, "AuthorizationFailed"))]);
        let err = list_permissions_via(&script, url("/x")).await.unwrap_err();
        assert_eq!(err.status(), Some(403));
        let script = Scripted::new(vec![json(200, &json!({"nextLink": null}))]);
        assert!(list_permissions_via(&script, url("/x")).await.is_err());
    }
}
