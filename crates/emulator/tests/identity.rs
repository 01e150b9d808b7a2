//! The token endpoint, the managed-identity endpoint, ARM authentication and RBAC.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use apilink_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_FEDERATED_SUBJECT, EmulatorConfig,
    FederatedTokenClaims, Principal, Role, RoleAssignment,
};
use common::{APIC, APIM, apic_url, apim_url, get_json, start, token, token_for};
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn post_token(
    em: &apilink_emulator::Emulator,
    client: &reqwest::Client,
    tenant: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let url = format!("{}{tenant}/oauth2/v2.0/token", em.authority_host());
    let response = client.post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_aad_error(body: &Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}:")),
        "{body}"
    );
    assert_eq!(body["error_codes"][0], code);
}

#[tokio::test]
async fn client_secret_grant() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let scope = format!("{}.default", em.arm_endpoint());
    let tenant = em.tenant_id().to_string();
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("scope", scope.as_str()),
    ];
    let (status, body) = post_token(&em, &client, &tenant, &good).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 3000);
    assert!(body["ext_expires_in"].is_number());
    let access = body["access_token"].as_str().unwrap();
    let (status, _) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("?api-version={APIM}")),
        access,
    )
    .await;
    assert_eq!(status, 200);

    // The public cloud's scope is accepted too (azure_identity callers often send it).
    let public = [
        ("grant_type", "client_credentials"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("scope", "https://management.azure.com/.default"),
    ];
    let (status, body) = post_token(&em, &client, &tenant, &public).await;
    assert_eq!(status, 200);
    let (status, _) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("?api-version={APIM}")),
        body["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200);

    let bad_secret = [good[0], good[1], ("client_secret", "wrong"), good[3]];
    let (status, body) = post_token(&em, &client, &tenant, &bad_secret).await;
    assert_eq!(status, 401);
    assert_aad_error(&body, "invalid_client", 7000215);

    let unknown = [
        good[0],
        ("client_id", "11111111-1111-1111-1111-111111111111"),
        good[2],
        good[3],
    ];
    let (status, body) = post_token(&em, &client, &tenant, &unknown).await;
    assert_eq!(status, 400);
    assert_aad_error(&body, "unauthorized_client", 700016);

    let (status, body) = post_token(&em, &client, "other-tenant", &good).await;
    assert_eq!(status, 400);
    assert_aad_error(&body, "invalid_request", 90002);

    let graph = [
        good[0],
        good[1],
        good[2],
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let (status, body) = post_token(&em, &client, &tenant, &graph).await;
    assert_eq!(status, 400);
    assert_aad_error(&body, "invalid_resource", 500011);

    let no_default = [
        good[0],
        good[1],
        good[2],
        ("scope", "https://management.azure.com/"),
    ];
    let (status, body) = post_token(&em, &client, &tenant, &no_default).await;
    assert_eq!(status, 400);
    assert_aad_error(&body, "invalid_scope", 1002012);

    let no_credential = [good[0], good[1], good[3]];
    let (status, body) = post_token(&em, &client, &tenant, &no_credential).await;
    assert_eq!(status, 401);
    assert_aad_error(&body, "invalid_client", 7000218);
}

#[tokio::test]
async fn federated_assertion_grant() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let scope = format!("{}.default", em.arm_endpoint());
    let tenant = em.tenant_id().to_string();
    let assertion = em.mint_federated_token(DEFAULT_FEDERATED_SUBJECT);
    let form = |assertion: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", DEFAULT_CLIENT_ID.to_string()),
            ("client_assertion", assertion.to_string()),
            ("client_assertion_type", ASSERTION_TYPE.to_string()),
            ("scope", scope.clone()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, String)> = form;
        let client = client.clone();
        let url = format!("{}{tenant}/oauth2/v2.0/token", em.authority_host());
        async move {
            let r = client.post(url).form(&pairs).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(form(&assertion)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("?api-version={APIM}")),
        body["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200);

    let wrong_audience = em.mint_federated_token_with(&FederatedTokenClaims {
        audience: "api://SomethingElse".into(),
        ..FederatedTokenClaims::new(DEFAULT_FEDERATED_SUBJECT)
    });
    let (status, body) = send(form(&wrong_audience)).await;
    assert_eq!(status, 401);
    assert_aad_error(&body, "invalid_client", 700212);

    let wrong_subject = em.mint_federated_token("system:serviceaccount:other:sa");
    let (status, body) = send(form(&wrong_subject)).await;
    assert_eq!(status, 401);
    assert_aad_error(&body, "invalid_client", 700213);

    let expired = em.mint_federated_token_with(&FederatedTokenClaims {
        lifetime_secs: -60,
        ..FederatedTokenClaims::new(DEFAULT_FEDERATED_SUBJECT)
    });
    let (status, body) = send(form(&expired)).await;
    assert_eq!(status, 401);
    assert_aad_error(&body, "invalid_client", 700024);

    // Signed by someone else (another emulator's key).
    let (other, _) = start(EmulatorConfig::default()).await;
    let foreign = other.mint_federated_token(DEFAULT_FEDERATED_SUBJECT);
    let (status, body) = send(form(&foreign)).await;
    assert_eq!(status, 401);
    assert_aad_error(&body, "invalid_client", 50013);

    let mut bad_type = form(&assertion);
    bad_type[3].1 = "urn:other".into();
    let (status, _) = send(bad_type).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn managed_identity_endpoint() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let endpoint = em.managed_identity_endpoint();
    let url = format!("{endpoint}?api-version=2019-08-01&resource=https://management.azure.com");
    let response = client
        .get(&url)
        .header("X-IDENTITY-HEADER", em.identity_header())
        .header("metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let expires_on = body["expires_on"].as_str().expect("expires_on is a string");
    assert!(expires_on.parse::<i64>().unwrap() > jiff::Timestamp::now().as_second());
    assert_eq!(body["resource"], "https://management.azure.com");
    let (status, _) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("?api-version={APIM}")),
        body["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200);

    let without = client.get(&url).send().await.unwrap();
    assert!(without.status().is_client_error());
    let wrong = client
        .get(&url)
        .header("X-IDENTITY-HEADER", "guess")
        .send()
        .await
        .unwrap();
    assert!(wrong.status().is_client_error());
    let bad_version = client
        .get(format!(
            "{endpoint}?api-version=2017-09-01&resource=https://management.azure.com"
        ))
        .header("X-IDENTITY-HEADER", em.identity_header())
        .send()
        .await
        .unwrap();
    assert_eq!(bad_version.status(), 400);
    let unknown_id = client
        .get(format!(
            "{url}&client_id=99999999-9999-9999-9999-999999999999"
        ))
        .header("X-IDENTITY-HEADER", em.identity_header())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_id.status(), 400);
}

#[tokio::test]
async fn arm_refuses_missing_invalid_and_expired_tokens() {
    let config = EmulatorConfig {
        token_lifetime: Duration::from_secs(1),
        ..EmulatorConfig::default()
    };
    let (em, client) = start(config).await;
    let url = apim_url(&em, "contoso-apim", &format!("/apis?api-version={APIM}"));

    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer authorization_uri="));
    assert!(challenge.contains(em.tenant_id()));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");

    let (status, body) = get_json(&client, &url, "not-a-token").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    let token = token(&em, &client).await;
    assert_eq!(get_json(&client, &url, &token).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
}

#[tokio::test]
async fn rbac_refuses_actions_a_principal_lacks() {
    let sub = apilink_emulator::DEFAULT_SUBSCRIPTION_ID;
    let scope = format!("/subscriptions/{sub}");
    let reader_id = "00000000-0000-0000-0000-0000000000r1";
    let data_id = "00000000-0000-0000-0000-0000000000d1";
    let config = EmulatorConfig {
        principals: vec![
            Principal::default_for(sub),
            Principal::with_secret(
                reader_id,
                "s1",
                vec![RoleAssignment::new(
                    Role::ApiManagementServiceReader,
                    &scope,
                )],
            ),
            Principal::with_secret(
                data_id,
                "s2",
                vec![RoleAssignment::new(Role::ApiCenterDataReader, &scope)],
            ),
        ],
        ..EmulatorConfig::default()
    };
    let (em, client) = start(config).await;
    let reader = token_for(&em, &client, reader_id, "s1").await;

    assert_eq!(
        get_json(
            &client,
            &apim_url(&em, "contoso-apim", &format!("/apis?api-version={APIM}")),
            &reader
        )
        .await
        .0,
        200
    );

    let api_url = apic_url(
        &em,
        "contoso-catalog",
        &format!("/workspaces/default/apis/echo?api-version={APIC}"),
    );
    let response = client
        .put(&api_url)
        .bearer_auth(&reader)
        .json(&json!({"properties": {"title": "Echo", "kind": "rest"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("The client '{reader_id}' with object id '")),
        "{message}"
    );
    assert!(
        message.contains("'Microsoft.ApiCenter/services/workspaces/apis/write'"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "over scope '{}/workspaces/default/apis/echo'",
            em.api_center_resource_id("contoso-catalog")
        )),
        "{message}"
    );
    assert!(message.ends_with("please refresh your credentials."));

    // The data-plane reader has no control-plane action at all.
    let data = token_for(&em, &client, data_id, "s2").await;
    let list = apic_url(
        &em,
        "contoso-catalog",
        &format!("/workspaces/default/apis?api-version={APIC}"),
    );
    let (status, body) = get_json(&client, &list, &data).await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.ApiCenter/services/workspaces/apis/read")
    );

    // The default principal may write API Center.
    let default = token(&em, &client).await;
    let response = client
        .put(&api_url)
        .bearer_auth(&default)
        .json(&json!({"properties": {"title": "Echo", "kind": "rest"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn request_ids_and_unknown_scopes() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let response = client
        .get(apim_url(
            &em,
            "contoso-apim",
            &format!("?api-version={APIM}"),
        ))
        .bearer_auth(&token)
        .header("x-ms-client-request-id", "my-client-id-1")
        .header("x-ms-correlation-request-id", "corr-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let h = response.headers();
    assert!(h.get("x-ms-request-id").is_some());
    assert_eq!(h.get("x-ms-client-request-id").unwrap(), "my-client-id-1");
    assert_eq!(h.get("x-ms-correlation-request-id").unwrap(), "corr-1");
    assert!(
        h.get("x-ms-ratelimit-remaining-subscription-reads")
            .is_some()
    );

    // ARM is case-insensitive about its keywords, the subscription and the group.
    let shouting = format!(
        "{}SUBSCRIPTIONS/{}/resourcegroups/{}/providers/microsoft.apimanagement/service/contoso-apim/apis/echo-api?api-version={APIM}",
        em.arm_endpoint(),
        em.subscription_id().to_uppercase(),
        em.resource_group().to_uppercase()
    );
    assert_eq!(get_json(&client, &shouting, &token).await.0, 200);

    let other_rg = format!(
        "{}subscriptions/{}/resourceGroups/elsewhere/providers/Microsoft.ApiManagement/service/contoso-apim?api-version={APIM}",
        em.arm_endpoint(),
        em.subscription_id()
    );
    let (status, body) = get_json(&client, &other_rg, &token).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ResourceGroupNotFound");
}
