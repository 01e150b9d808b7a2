//! The service-level reads a preflight makes: the API Center service (with its plan), its
//! workspaces, and the APIM service.

#![allow(clippy::unwrap_used)]

mod common;

use apilink_emulator::{ApicSku, EmulatorConfig};
use common::{APIC, APIM, apic_url, apim_url, get_json, start, token};
use serde_json::json;

#[tokio::test]
async fn the_api_center_service_reports_its_plan_host_and_state() {
    for (sku, name) in [(ApicSku::Standard, "Standard"), (ApicSku::Free, "Free")] {
        let (em, client) = start(EmulatorConfig {
            api_center_sku: sku,
            ..EmulatorConfig::default()
        })
        .await;
        let token = token(&em, &client).await;
        let url = apic_url(&em, "contoso-catalog", &format!("?api-version={APIC}"));
        let (status, body) = get_json(&client, &url, &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], em.api_center_resource_id("contoso-catalog"));
        assert_eq!(body["name"], "contoso-catalog");
        assert_eq!(body["type"], "Microsoft.ApiCenter/services");
        assert_eq!(body["sku"], json!({ "name": name }));
        assert_eq!(body["properties"]["provisioningState"], "Succeeded");
        assert_eq!(
            body["properties"]["dataApiHostName"],
            "contoso-catalog.data.eastus.azure-apicenter.ms"
        );
        let services_url = format!(
            "{}subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiCenter/services?api-version={APIC}",
            em.arm_endpoint(),
            em.subscription_id(),
            em.resource_group()
        );
        let (status, listed) = get_json(&client, &services_url, &token).await;
        assert_eq!(status, 200);
        assert_eq!(listed["value"][0]["sku"], json!({ "name": name }));

        let missing = apic_url(&em, "no-such-catalog", &format!("?api-version={APIC}"));
        let (status, body) = get_json(&client, &missing, &token).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "ResourceNotFound");
    }
}

#[tokio::test]
async fn free_plan_limits_follow_the_sku() {
    let (em, client) = start(EmulatorConfig {
        api_center_sku: ApicSku::Free,
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;
    let api = apic_url(
        &em,
        "contoso-catalog",
        &format!("/workspaces/default/apis/echo?api-version={APIC}"),
    );
    let put = client
        .put(&api)
        .bearer_auth(&token)
        .json(&json!({"properties": {"title": "Echo", "kind": "rest"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    // The Free plan allows 5 versions per API (Standard: 100).
    for n in 0..6 {
        let url = apic_url(
            &em,
            "contoso-catalog",
            &format!("/workspaces/default/apis/echo/versions/ver-{n}?api-version={APIC}"),
        );
        let response = client
            .put(&url)
            .bearer_auth(&token)
            .json(&json!({"properties": {"title": format!("v{n}"), "lifecycleStage": "design"}}))
            .send()
            .await
            .unwrap();
        let expected = if n < 5 { 201 } else { 409 };
        assert_eq!(response.status(), expected, "version {n}");
    }
}

#[tokio::test]
async fn workspaces_are_read_by_name_and_missing_ones_are_not_found() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let url = apic_url(
        &em,
        "contoso-catalog",
        &format!("/workspaces/default?api-version={APIC}"),
    );
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["id"],
        format!(
            "{}/workspaces/default",
            em.api_center_resource_id("contoso-catalog")
        )
    );
    assert_eq!(body["name"], "default");
    assert_eq!(body["type"], "Microsoft.ApiCenter/services/workspaces");
    assert_eq!(body["properties"]["title"], "Default workspace");

    let missing = apic_url(
        &em,
        "contoso-catalog",
        &format!("/workspaces/nowhere?api-version={APIC}"),
    );
    let (status, body) = get_json(&client, &missing, &token).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error": {
            "code": "ResourceNotFound",
            "message": "The Resource 'Microsoft.ApiCenter/services/workspaces/contoso-catalog/nowhere' was not found."
        }})
    );
}

#[tokio::test]
async fn the_apim_service_is_read_by_name() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let url = apim_url(&em, "contoso-apim", &format!("?api-version={APIM}"));
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], em.apim_resource_id("contoso-apim"));
    assert_eq!(body["type"], "Microsoft.ApiManagement/service");
    assert_eq!(body["sku"]["name"], "Developer");
    let missing = apim_url(&em, "no-such-apim", &format!("?api-version={APIM}"));
    assert_eq!(get_json(&client, &missing, &token).await.0, 404);
}
