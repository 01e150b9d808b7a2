//! `Microsoft.Authorization/permissions` over real HTTPS: what each built-in role lists,
//! inheritance from ancestor scopes, nested resource paths, and the checks every ARM call
//! gets (token, api-version, subscription and resource group, throttling, call log).

#![allow(clippy::unwrap_used)]

mod common;

use apilink_emulator::{
    CallKind, DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION_ID, Emulator, EmulatorConfig, Principal,
    Role, RoleAssignment,
};
use common::{get_json, start, token_for};
use serde_json::{Value, json};

const API_VERSION: &str = "2022-04-01";
const SECRET: &str = "permissions-secret";

fn subscription() -> String {
    format!("/subscriptions/{DEFAULT_SUBSCRIPTION_ID}")
}

fn resource_group() -> String {
    format!("{}/resourceGroups/{DEFAULT_RESOURCE_GROUP}", subscription())
}

fn api_center(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ApiCenter/services/{name}",
        resource_group()
    )
}

fn principal(client_id: &str, roles: Vec<RoleAssignment>) -> Principal {
    Principal::with_secret(client_id, SECRET, roles)
}

/// `https://host{scope}/providers/Microsoft.Authorization/permissions?api-version={version}`.
fn permissions_url(em: &Emulator, scope: &str, version: &str) -> String {
    let base = em.arm_endpoint().to_string();
    format!(
        "{}{scope}/providers/Microsoft.Authorization/permissions?api-version={version}",
        base.trim_end_matches('/')
    )
}

fn entry(actions: &[&str], not_actions: &[&str]) -> Value {
    json!({"actions": actions, "notActions": not_actions, "dataActions": [], "notDataActions": []})
}

/// What each built-in role grants, as the role table declares it.
fn expected_entry(role: Role) -> Value {
    match role {
        Role::Reader => entry(&["*/read"], &[]),
        Role::Contributor | Role::Owner => entry(&["*"], &[]),
        Role::ApiManagementServiceReader => entry(
            &[
                "Microsoft.ApiManagement/service/*/read",
                "Microsoft.ApiManagement/service/read",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            ],
            &["Microsoft.ApiManagement/service/users/keys/read"],
        ),
        Role::ApiCenterServiceContributor => entry(
            &[
                "Microsoft.ApiCenter/services/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            ],
            &[],
        ),
        Role::ApiCenterServiceReader => entry(
            &[
                "Microsoft.ApiCenter/services/*/read",
                "Microsoft.ApiCenter/services/read",
                "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/exportSpecification/action",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            ],
            &[],
        ),
        Role::ApiCenterDataReader => entry(&[], &[]),
    }
}

const ROLES: [Role; 7] = [
    Role::Reader,
    Role::Contributor,
    Role::Owner,
    Role::ApiManagementServiceReader,
    Role::ApiCenterServiceContributor,
    Role::ApiCenterServiceReader,
    Role::ApiCenterDataReader,
];

fn client_id_of(index: usize) -> String {
    format!("00000000-0000-0000-0000-00000000f{index:03}")
}

#[tokio::test]
async fn every_built_in_role_lists_what_it_grants_and_withholds() {
    let principals = ROLES
        .iter()
        .enumerate()
        .map(|(i, role)| {
            principal(
                &client_id_of(i),
                vec![RoleAssignment::new(*role, &subscription())],
            )
        })
        .collect();
    let (em, client) = start(EmulatorConfig {
        principals,
        ..EmulatorConfig::default()
    })
    .await;
    let scopes = [
        subscription(),
        resource_group(),
        api_center("contoso-catalog"),
    ];
    for (i, role) in ROLES.iter().enumerate() {
        let token = token_for(&em, &client, &client_id_of(i), SECRET).await;
        for scope in &scopes {
            let (status, body) =
                get_json(&client, &permissions_url(&em, scope, API_VERSION), &token).await;
            assert_eq!(status, 200, "{role:?} at {scope}: {body}");
            assert_eq!(
                body,
                json!({"value": [expected_entry(*role)]}),
                "{role:?} at {scope}"
            );
        }
    }
}

#[tokio::test]
async fn assignments_cover_their_scope_and_everything_below_it() {
    let id = "00000000-0000-0000-0000-0000000000b1";
    let (em, client) = start(EmulatorConfig {
        principals: vec![principal(
            id,
            vec![
                RoleAssignment::new(Role::Reader, &resource_group()),
                RoleAssignment::new(
                    Role::ApiCenterServiceContributor,
                    &api_center("contoso-catalog"),
                ),
            ],
        )],
        ..EmulatorConfig::default()
    })
    .await;
    let token = token_for(&em, &client, id, SECRET).await;
    let reader = expected_entry(Role::Reader);
    let contributor = expected_entry(Role::ApiCenterServiceContributor);
    let workspace = format!("{}/workspaces/default", api_center("contoso-catalog"));
    let cases = [
        (subscription(), json!([])),
        (resource_group(), json!([reader])),
        (
            resource_group().replace("resourceGroups", "resourcegroups"),
            json!([reader]),
        ),
        (api_center("contoso-catalog"), json!([reader, contributor])),
        (api_center("CONTOSO-CATALOG"), json!([reader, contributor])),
        (workspace, json!([reader, contributor])),
        // A resource that does not exist is answered from the assignments, as ARM does.
        (api_center("no-such-service"), json!([reader])),
    ];
    for (scope, expected) in cases {
        let (status, body) =
            get_json(&client, &permissions_url(&em, &scope, API_VERSION), &token).await;
        assert_eq!(status, 200, "{scope}: {body}");
        assert_eq!(body, json!({ "value": expected }), "{scope}");
    }

    let other_group = format!("{}/resourceGroups/rg-other", subscription());
    let (status, body) = get_json(
        &client,
        &permissions_url(&em, &other_group, API_VERSION),
        &token,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ResourceGroupNotFound");
    let (status, body) = get_json(
        &client,
        &permissions_url(&em, "/subscriptions/other-subscription", API_VERSION),
        &token,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "SubscriptionNotFound");
}

#[tokio::test]
async fn a_principal_without_assignments_reads_an_empty_list() {
    let id = "00000000-0000-0000-0000-0000000000b2";
    let (em, client) = start(EmulatorConfig {
        principals: vec![principal(id, Vec::new())],
        ..EmulatorConfig::default()
    })
    .await;
    let token = token_for(&em, &client, id, SECRET).await;
    for scope in [
        subscription(),
        resource_group(),
        api_center("contoso-catalog"),
    ] {
        let (status, body) =
            get_json(&client, &permissions_url(&em, &scope, API_VERSION), &token).await;
        assert_eq!((status, body), (200, json!({"value": []})), "{scope}");
    }
}

#[tokio::test]
async fn the_call_needs_a_token_and_a_supported_api_version_and_is_a_logged_read() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let url = permissions_url(&em, &resource_group(), API_VERSION);

    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().get("www-authenticate").is_some());
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");

    let token = common::token(&em, &client).await;
    let (status, body) = get_json(&client, &url, "not-a-token").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    for version in ["2015-07-01", "2018-07-01", "2022-04-01"] {
        let (status, body) = get_json(
            &client,
            &permissions_url(&em, &resource_group(), version),
            &token,
        )
        .await;
        assert_eq!(status, 200, "{version}: {body}");
        assert_eq!(
            body,
            json!({"value": [
                expected_entry(Role::ApiManagementServiceReader),
                expected_entry(Role::ApiCenterServiceContributor),
            ]})
        );
    }
    let (status, body) = get_json(
        &client,
        &permissions_url(&em, &resource_group(), "2024-03-01"),
        &token,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": {
            "code": "InvalidApiVersionParameter",
            "message": "The api-version '2024-03-01' is invalid. The supported versions are '2022-04-01,2018-07-01,2015-07-01'."
        }})
    );
    let without_version = url.split('?').next().unwrap().to_string();
    let (status, body) = get_json(&client, &without_version, &token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");

    em.clear_calls();
    let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let remaining = response
        .headers()
        .get("x-ms-ratelimit-remaining-subscription-reads")
        .expect("reads quota header");
    assert!(remaining.to_str().unwrap().parse::<u64>().unwrap() < 250);
    assert!(response.headers().get("x-ms-request-id").is_some());
    let calls = em.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].kind, CallKind::Arm);
    assert_eq!(calls[0].method, "GET");
    assert_eq!(calls[0].status, 200);
    assert_eq!(
        calls[0].path,
        format!(
            "{}/providers/Microsoft.Authorization/permissions",
            resource_group()
        )
    );
    assert_eq!(
        calls[0].principal.as_deref(),
        Some(apilink_emulator::DEFAULT_CLIENT_ID)
    );
}

#[tokio::test]
async fn other_authorization_resources_still_need_a_role() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = common::token(&em, &client).await;
    let base = em.arm_endpoint().to_string();
    let url = format!(
        "{}{}/providers/Microsoft.Authorization/roleAssignments?api-version={API_VERSION}",
        base.trim_end_matches('/'),
        resource_group()
    );
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
}
