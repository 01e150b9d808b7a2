//! APIM over ARM: api-version checks, paging, revisions, version sets, exports for every API
//! type, export links, workspaces.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use apilink_emulator::apim::{
    ApiPatch, CertificateSource, ProxyHostnameSeed, WorkspaceGatewaySeed, WorkspaceSeed,
};
use apilink_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION_ID,
    EmulatorConfig, Principal, Role, RoleAssignment, Seed,
};
use common::{APIM, apim_url, get_json, start, token};
use serde_json::Value;

#[tokio::test]
async fn api_version_missing_and_unknown_are_refused_per_provider() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;

    let (status, body) = get_json(&client, &apim_url(&em, "contoso-apim", ""), &token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");

    let url = apim_url(&em, "contoso-apim", "?api-version=2099-01-01");
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "InvalidApiVersionParameter");
    assert!(body["error"]["message"].as_str().unwrap().contains(APIM));

    // API Center's version is not APIM's.
    let url = apim_url(&em, "contoso-apim", "?api-version=2024-03-01");
    assert_eq!(get_json(&client, &url, &token).await.0, 400);
    let url = common::apic_url(&em, "contoso-catalog", "?api-version=2024-05-01");
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2024-03-01")
    );

    let (status, service) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("?api-version={APIM}")),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(service["type"], "Microsoft.ApiManagement/service");
    assert_eq!(
        service["properties"]["gatewayUrl"],
        "https://contoso-apim.azure-api.net"
    );
    assert!(service["properties"]["developerPortalUrl"].is_string());
    assert!(
        service["properties"]["hostnameConfigurations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["type"] == "Proxy")
    );
}

#[tokio::test]
async fn apis_page_with_top_and_follow_next_links_to_an_empty_one() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let mut url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis?api-version={APIM}&$top=2"),
    );
    let mut pages = 0;
    let mut names = Vec::new();
    let mut last_next_link = None;
    while pages < 10 {
        let (status, body) = get_json(&client, &url, &token).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        let value = body["value"].as_array().unwrap();
        assert!(value.len() <= 2);
        assert_eq!(body["count"], 6);
        names.extend(
            value
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_string()),
        );
        match body["nextLink"].as_str() {
            Some(next) if !next.is_empty() => {
                assert!(next.starts_with("https://127.0.0.1:"));
                assert!(next.contains("api-version=2024-05-01"));
                url = next.to_string();
            }
            other => {
                last_next_link = other.map(str::to_string);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        last_next_link.as_deref(),
        Some(""),
        "the last page carries \"nextLink\": \"\""
    );
    assert_eq!(names.len(), 6);
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>().len(),
        6,
        "no duplicates across pages"
    );
    assert!(names.contains(&"echo-api;rev=2".to_string()));

    // Plain REST APIs carry no `type`; the others do.
    let (_, all) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("/apis?api-version={APIM}")),
        &token,
    )
    .await;
    for api in all["value"].as_array().unwrap() {
        let name = api["name"].as_str().unwrap();
        let kind = api["properties"].get("type");
        match name {
            "weather-soap" => assert_eq!(kind, Some(&Value::from("soap"))),
            "catalog-graphql" => assert_eq!(kind, Some(&Value::from("graphql"))),
            _ => assert_eq!(kind, None, "{name} should have no type"),
        }
    }
    assert!(all.get("nextLink").is_some());

    let (status, body) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apis?api-version={APIM}&$top=0"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "ValidationError");
}

#[tokio::test]
async fn revisions_and_current_filter() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;

    let url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis?api-version={APIM}&$filter=isCurrent%20eq%20true"),
    );
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5);
    assert!(names.iter().all(|n| !n.contains(";rev=")));
    assert!(
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["properties"]["isCurrent"] == true)
    );

    let (_, all) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("/apis?api-version={APIM}")),
        &token,
    )
    .await;
    let rev2 = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "echo-api;rev=2")
        .expect("revision listed");
    assert_eq!(rev2["properties"]["isCurrent"], false);
    assert_eq!(rev2["properties"]["apiRevision"], "2");
    assert!(
        rev2["id"]
            .as_str()
            .unwrap()
            .ends_with("/apis/echo-api;rev=2")
    );

    let (status, revisions) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apis/echo-api/revisions?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let items = revisions["value"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items.iter().all(|r| r.get("properties").is_none()),
        "flat items"
    );
    assert!(
        items[0]["apiId"]
            .as_str()
            .unwrap()
            .ends_with("/apis/echo-api;rev=1")
    );
    assert_eq!(items[0]["isCurrent"], true);
    assert_eq!(items[1]["isCurrent"], false);

    let (status, one) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apis/echo-api;rev=2?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["name"], "echo-api;rev=2");
    let (status, _) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apis/echo-api;rev=9?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn single_api_etag_version_sets_and_expansion() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis/petstore-v2?api-version={APIM}&expandApiVersionSet=true"),
    );
    let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let etag = response
        .headers()
        .get("etag")
        .expect("ETag")
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    let props = &body["properties"];
    assert_eq!(props["apiVersion"], "v2");
    assert_eq!(
        props["apiVersionSetId"],
        format!(
            "{}/apiVersionSets/petstore",
            em.apim_resource_id("contoso-apim")
        )
    );
    assert_eq!(props["apiVersionSet"]["versioningScheme"], "Segment");

    let head = client.head(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers().get("etag").unwrap().to_str().unwrap(), etag);

    em.apim()
        .update_api(
            "contoso-apim",
            None,
            "petstore-v2",
            &ApiPatch {
                description: Some("Changed".into()),
                ..ApiPatch::default()
            },
        )
        .unwrap();
    let after = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_ne!(after.headers().get("etag").unwrap().to_str().unwrap(), etag);

    let (status, sets) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apiVersionSets?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sets["value"][0]["name"], "petstore");
    assert_eq!(
        sets["value"][0]["type"],
        "Microsoft.ApiManagement/service/api-version-sets"
    );
    assert!(
        sets.get("nextLink").is_none(),
        "version sets omit nextLink on the last page"
    );

    let (status, body) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apis/nope?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    let (status, _) = get_json(
        &client,
        &apim_url(&em, "other-apim", &format!("?api-version={APIM}")),
        &token,
    )
    .await;
    assert_eq!(status, 404);
}

async fn export(
    client: &reqwest::Client,
    em: &apilink_emulator::Emulator,
    token: &str,
    api: &str,
    format: &str,
) -> (u16, Value) {
    let format: String = url::form_urlencoded::byte_serialize(format.as_bytes()).collect();
    let url = apim_url(
        em,
        "contoso-apim",
        &format!("/apis/{api}?api-version={APIM}&format={format}&export=true"),
    );
    get_json(client, &url, token).await
}

async fn download(client: &reqwest::Client, link: &str) -> String {
    let response = client.get(link).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn exports_for_every_api_type() {
    let (em, client) = start(EmulatorConfig {
        seed: Seed::demo(),
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;

    // OpenAPI 3 JSON, with the API's own paths.
    let (status, body) = export(&client, &em, &token, "orders_v2", "openapi+json-link").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["format"], "openapi+json-link");
    let doc: Value =
        serde_json::from_str(&download(&client, body["value"]["link"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!(doc["openapi"], "3.0.1");
    assert!(doc["paths"]["/orders/{orderId}/shipments"]["get"].is_object());
    assert_eq!(
        doc["servers"][0]["url"], "https://api.contoso.example/orders",
        "the custom domain is the gateway"
    );

    // Another API's document differs.
    let (_, other) = export(&client, &em, &token, "loyalty", "openapi+json-link").await;
    let other_doc: Value =
        serde_json::from_str(&download(&client, other["value"]["link"].as_str().unwrap()).await)
            .unwrap();
    assert_ne!(doc, other_doc);
    assert!(other_doc["paths"]["/members/{memberId}/balance"].is_object());

    // OpenAPI 3 YAML and Swagger 2 (echoed as swagger-link-json).
    let (_, yaml) = export(&client, &em, &token, "orders_v2", "openapi-link").await;
    let yaml_doc: Value =
        serde_yaml::from_str(&download(&client, yaml["value"]["link"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!(yaml_doc["openapi"], "3.0.1");
    let (_, swagger) = export(&client, &em, &token, "orders_v2", "swagger-link").await;
    assert_eq!(swagger["format"], "swagger-link-json");
    let swagger_doc: Value =
        serde_json::from_str(&download(&client, swagger["value"]["link"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!(swagger_doc["swagger"], "2.0");
    assert_eq!(swagger_doc["basePath"], "/orders");

    // Inline variant.
    let (_, inline) = export(&client, &em, &token, "orders_v2", "openapi+json").await;
    assert_eq!(inline["value"]["openapi"], "3.0.1");

    // A literal OpenAPI definition keeps its operations.
    let (_, literal) = export(&client, &em, &token, "pet-adoption", "openapi+json-link").await;
    let literal_doc: Value =
        serde_json::from_str(&download(&client, literal["value"]["link"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!(
        literal_doc["paths"]["/adoptions"]["post"]["operationId"],
        "applyForAdoption"
    );

    // SOAP: WSDL only.
    let (status, wsdl) = export(&client, &em, &token, "weather-soap", "wsdl-link").await;
    assert_eq!(status, 200);
    assert_eq!(wsdl["format"], "wsdl-link+xml");
    let text = download(&client, wsdl["value"]["link"].as_str().unwrap()).await;
    assert!(text.starts_with("<?xml"));
    assert!(text.contains("<wsdl:definitions") && text.contains("GetForecast"));
    assert_eq!(
        export(&client, &em, &token, "weather-soap", "openapi+json-link")
            .await
            .0,
        400
    );
    assert_eq!(
        export(&client, &em, &token, "orders_v2", "wsdl-link")
            .await
            .0,
        400
    );

    // GraphQL: no export, the SDL is under /schemas.
    let (status, body) = export(&client, &em, &token, "catalog-graphql", "openapi+json-link").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "ValidationError");
    let url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis/catalog-graphql/schemas?api-version={APIM}"),
    );
    let (status, schemas) = get_json(&client, &url, &token).await;
    assert_eq!(status, 200);
    let schema = &schemas["value"][0]["properties"];
    assert_eq!(
        schema["contentType"],
        "application/vnd.ms-azure-apim.graphql.schema"
    );
    assert!(
        schema["document"]["value"]
            .as_str()
            .unwrap()
            .contains("type Query")
    );

    // WebSocket: nothing to export.
    assert_eq!(
        export(&client, &em, &token, "live-prices-ws", "openapi+json-link")
            .await
            .0,
        400
    );
    assert_eq!(
        export(&client, &em, &token, "live-prices-ws", "swagger-link")
            .await
            .0,
        400
    );
    // Unknown format.
    assert_eq!(
        export(&client, &em, &token, "orders_v2", "pdf").await.0,
        400
    );
}

#[tokio::test]
async fn definitions_change_when_the_api_changes() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let (_, before) = export(&client, &em, &token, "echo-api", "openapi+json").await;
    em.apim()
        .update_api(
            "contoso-apim",
            None,
            "echo-api",
            &ApiPatch {
                description: Some("Now with more echo".into()),
                ..ApiPatch::default()
            },
        )
        .unwrap();
    let (_, after) = export(&client, &em, &token, "echo-api", "openapi+json").await;
    assert_ne!(before["value"], after["value"]);
    assert_eq!(after["value"]["info"]["description"], "Now with more echo");
    // The non-current revision exports its own definition (with DELETE).
    let (_, rev2) = export(&client, &em, &token, "echo-api;rev=2", "openapi+json").await;
    assert!(rev2["value"]["paths"]["/resource/{id}"]["delete"].is_object());
    assert!(
        after["value"]["paths"]["/resource/{id}"]
            .get("delete")
            .is_none()
    );
}

#[tokio::test]
async fn export_links_refuse_authorization_and_expire() {
    let config = EmulatorConfig {
        export_link_ttl: Duration::from_millis(1500),
        ..EmulatorConfig::default()
    };
    let (em, client) = start(config).await;
    let token = token(&em, &client).await;
    let (_, body) = export(&client, &em, &token, "echo-api", "openapi+json-link").await;
    let link = body["value"]["link"].as_str().unwrap().to_string();
    assert!(link.contains("/_blob/") && link.contains("sig="));

    let with_token = client.get(&link).bearer_auth(&token).send().await.unwrap();
    assert_eq!(with_token.status(), 403);
    assert!(
        with_token
            .text()
            .await
            .unwrap()
            .contains("AuthenticationFailed")
    );

    assert_eq!(client.get(&link).send().await.unwrap().status(), 200);
    let forged = link.replace("sig=", "sig=A");
    assert_eq!(client.get(&forged).send().await.unwrap().status(), 403);

    tokio::time::sleep(Duration::from_millis(1700)).await;
    let expired = client.get(&link).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expiry"));
}

#[tokio::test]
async fn workspaces_list_their_own_apis_and_export_under_properties() {
    let (em, client) = start(EmulatorConfig {
        seed: Seed::demo(),
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;
    let (status, workspaces) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/workspaces?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(workspaces["value"][0]["name"], "team-mobile");

    let ws_apis = apim_url(
        &em,
        "contoso-apim",
        &format!("/workspaces/team-mobile/apis?api-version={APIM}"),
    );
    let (status, apis) = get_json(&client, &ws_apis, &token).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = apis["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["mobile-bff-v1", "mobile-bff-v2", "push-registrations"]
    );
    assert!(
        apis["value"][0]["properties"]["apiVersionSetId"]
            .as_str()
            .unwrap()
            .contains("/workspaces/team-mobile/apiVersionSets/mobile-bff")
    );

    // Service-level lists do not include workspace APIs.
    let (_, service_apis) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apis?api-version={APIM}&$filter=isCurrent eq true"),
        ),
        &token,
    )
    .await;
    assert!(
        service_apis["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "push-registrations")
    );
    assert_eq!(service_apis["count"], 26);

    let url = apim_url(
        &em,
        "contoso-apim",
        &format!(
            "/workspaces/team-mobile/apis/push-registrations?api-version={APIM}&format=openapi%2Bjson-link&export=true"
        ),
    );
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 200, "{body}");
    let link = body["properties"]["value"]["link"]
        .as_str()
        .expect("workspace link under properties.value.link");
    let doc: Value = serde_json::from_str(&download(&client, link).await).unwrap();
    assert!(doc["paths"]["/devices/{deviceId}"]["put"].is_object());

    let (status, sets) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/workspaces/team-mobile/apiVersionSets?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sets["value"][0]["name"], "mobile-bff");
}

#[tokio::test]
async fn ten_thousand_synthetic_apis_list_quickly() {
    let config = EmulatorConfig {
        seed: Seed::synthetic(10_000),
        throttle: apilink_emulator::ThrottleConfig::disabled(),
        ..EmulatorConfig::default()
    };
    let (em, client) = start(config).await;
    let token = token(&em, &client).await;
    let started = std::time::Instant::now();
    let mut url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis?api-version={APIM}&$filter=isCurrent eq true"),
    );
    let mut seen = 0;
    for _ in 0..200 {
        let (status, body) = get_json(&client, &url, &token).await;
        assert_eq!(status, 200);
        seen += body["value"].as_array().unwrap().len();
        match body["nextLink"].as_str() {
            Some(next) if !next.is_empty() => url = next.to_string(),
            _ => break,
        }
    }
    assert_eq!(seen, 10_000);
    // A loose bound: listing must be cheap, not a benchmark.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// The default APIM with two custom domains (neither bound by default) and three
/// workspaces: `team-a` and `team-b` share gateway `shared-gw` (team-b with a custom
/// host), `team-c` has none.
fn gateway_seed() -> Seed {
    let mut seed = Seed::default();
    let service = &mut seed.services[0];
    service.proxy_hostnames = vec![
        ProxyHostnameSeed::new("api.contoso.example", false),
        ProxyHostnameSeed {
            certificate_source: CertificateSource::Managed,
            ..ProxyHostnameSeed::new("api2.contoso.example", false)
        },
    ];
    let with_gateway = |id: &str, hostnames: &[&str]| WorkspaceSeed {
        gateways: vec![WorkspaceGatewaySeed {
            hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
            ..WorkspaceGatewaySeed::new("shared-gw")
        }],
        ..WorkspaceSeed::new(id)
    };
    service.workspaces = vec![
        with_gateway("team-a", &[]),
        with_gateway("team-b", &["team-b.contoso.example"]),
        WorkspaceSeed::new("team-c"),
    ];
    seed
}

fn gateways_url(em: &apilink_emulator::Emulator, suffix: &str) -> String {
    format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/gateways{suffix}",
        em.arm_endpoint().as_str().trim_end_matches('/'),
        em.subscription_id(),
        em.resource_group()
    )
}

#[tokio::test]
async fn custom_proxy_hostnames_are_listed_after_the_default_host_in_order() {
    let (em, client) = start(EmulatorConfig {
        seed: gateway_seed(),
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;
    let (status, service) = get_json(
        &client,
        &apim_url(&em, "contoso-apim", &format!("?api-version={APIM}")),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let hostnames = service["properties"]["hostnameConfigurations"]
        .as_array()
        .unwrap();
    let proxies: Vec<(&str, bool, &str)> = hostnames
        .iter()
        .filter(|h| h["type"] == "Proxy")
        .map(|h| {
            (
                h["hostName"].as_str().unwrap(),
                h["defaultSslBinding"].as_bool().unwrap(),
                h["certificateSource"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        proxies,
        [
            ("contoso-apim.azure-api.net", true, "BuiltIn"),
            ("api.contoso.example", false, "KeyVault"),
            ("api2.contoso.example", false, "Managed"),
        ]
    );
    assert!(hostnames[1]["keyVaultId"].is_string());
    assert!(hostnames[2].get("keyVaultId").is_none());
    assert!(hostnames.iter().any(|h| h["type"] == "DeveloperPortal"));

    // Exported documents name the gateway people call: the first custom domain.
    let url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis/echo-api?api-version={APIM}&format=openapi%2Bjson-link&export=true"),
    );
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 200, "{body}");
    let doc: Value =
        serde_json::from_str(&download(&client, body["value"]["link"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!(doc["servers"][0]["url"], "https://api.contoso.example/echo");
}

#[tokio::test]
async fn workspace_links_name_gateways_whose_connections_carry_the_hosts() {
    let rg_scope =
        format!("/subscriptions/{DEFAULT_SUBSCRIPTION_ID}/resourceGroups/{DEFAULT_RESOURCE_GROUP}");
    let mut principal = Principal::default_for(DEFAULT_SUBSCRIPTION_ID);
    principal
        .roles
        .push(RoleAssignment::new(Role::Reader, &rg_scope));
    let (em, client) = start(EmulatorConfig {
        seed: gateway_seed(),
        principals: vec![principal],
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;
    let gateway_id = em.apim().gateway_resource_id("shared-gw");
    let service_id = em.apim_resource_id("contoso-apim");

    let (status, links) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/workspaceLinks?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{links}");
    let links = links["value"].as_array().unwrap();
    assert_eq!(links.len(), 3);
    assert_eq!(links[0]["name"], "team-a");
    assert_eq!(
        links[0]["type"],
        "Microsoft.ApiManagement/service/workspaceLinks"
    );
    assert_eq!(
        links[0]["properties"]["workspaceId"],
        format!("{service_id}/workspaces/team-a")
    );
    assert_eq!(
        links[0]["properties"]["gateways"],
        serde_json::json!([{ "id": gateway_id }])
    );
    assert_eq!(links[2]["properties"]["gateways"], serde_json::json!([]));
    let (status, one) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/workspaceLinks/TEAM-B?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["name"], "team-b");
    let (status, _) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/workspaceLinks/nope?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 404);

    let (status, gateways) = get_json(
        &client,
        &gateways_url(&em, &format!("?api-version={APIM}")),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{gateways}");
    assert_eq!(gateways["value"].as_array().unwrap().len(), 1);
    let gateway = &gateways["value"][0];
    assert_eq!(gateway["id"], gateway_id);
    assert_eq!(gateway["type"], "Microsoft.ApiManagement/gateways");
    assert_eq!(gateway["sku"]["name"], "WorkspaceGatewayPremium");
    assert_eq!(gateway["properties"]["provisioningState"], "Succeeded");

    let (status, connections) = get_json(
        &client,
        &gateways_url(
            &em,
            &format!("/shared-gw/configConnections?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{connections}");
    let connections = connections["value"].as_array().unwrap();
    assert_eq!(connections.len(), 2, "one connection per workspace served");
    let a = &connections[0];
    assert_eq!(a["name"], "team-a");
    assert_eq!(
        a["type"],
        "Microsoft.ApiManagement/gateways/configConnections"
    );
    assert_eq!(a["id"], format!("{gateway_id}/configConnections/team-a"));
    assert_eq!(
        a["properties"]["sourceId"],
        format!("{service_id}/workspaces/team-a")
    );
    let host = a["properties"]["defaultHostname"].as_str().unwrap();
    assert!(
        host.starts_with("team-a-")
            && host.ends_with(".shared-gw.gateway.westeurope.azure-api.net"),
        "{host}"
    );
    assert!(a["properties"].get("hostnames").is_none());
    let b = &connections[1];
    assert_ne!(
        b["properties"]["defaultHostname"],
        a["properties"]["defaultHostname"]
    );
    assert_eq!(
        b["properties"]["hostnames"],
        serde_json::json!(["team-b.contoso.example"])
    );
    let (status, one) = get_json(
        &client,
        &gateways_url(
            &em,
            &format!("/shared-gw/configConnections/team-b?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one, *b);
    let (status, missing) = get_json(
        &client,
        &gateways_url(
            &em,
            &format!("/gone-gw/configConnections?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn the_apim_service_reader_role_reads_workspace_links_but_not_gateways() {
    let (em, client) = start(EmulatorConfig {
        seed: gateway_seed(),
        ..EmulatorConfig::default()
    })
    .await;
    let token = common::token_for(&em, &client, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let (status, _) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/workspaceLinks?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200, "workspaceLinks are under service/*");
    let (status, denied) = get_json(
        &client,
        &gateways_url(
            &em,
            &format!("/shared-gw/configConnections?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(denied["error"]["code"], "AuthorizationFailed");
    assert!(
        denied["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.ApiManagement/gateways/configConnections/read"),
        "{denied}"
    );
}
