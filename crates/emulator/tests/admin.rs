//! Seeding and changing APIM over the admin routes, and API Center snapshots.

#![allow(clippy::unwrap_used)]

mod common;

use apilink_emulator::EmulatorConfig;
use common::{APIC, APIM, admin_url, apic_url, apim_url, get_json, start, token};
use serde_json::{Value, json};

const SEED: &str = r#"
services:
  - name: contoso-apim
    versionSets:
      - {id: billing, displayName: Billing}
    apis:
      - id: billing-v1
        displayName: Billing
        path: billing
        versionSet: billing
        version: v1
        operations: ["GET /invoices List invoices"]
      - id: hello
        displayName: Hello
        operations: ["GET /hello Say hello"]
    workspaces:
      - id: team-a
        apis:
          - {id: team-api, displayName: Team API, path: team}
"#;

async fn names(
    client: &reqwest::Client,
    em: &apilink_emulator::Emulator,
    token: &str,
) -> Vec<String> {
    let (status, body) = get_json(
        client,
        &apim_url(em, "contoso-apim", &format!("/apis?api-version={APIM}")),
        token,
    )
    .await;
    assert_eq!(status, 200);
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn seed_then_mutate_apim() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;

    let seeded = client
        .post(admin_url(&em, "/seed"))
        .body(SEED)
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 200);
    assert_eq!(names(&client, &em, &token).await, ["billing-v1", "hello"]);

    // A broken seed changes nothing.
    let broken = client
        .post(admin_url(&em, "/seed"))
        .body("services: [{name: x, apis: [{id: a, versionSet: none}]}]")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(names(&client, &em, &token).await, ["billing-v1", "hello"]);

    // Create an API (the id comes from the URL).
    let created = client
        .put(admin_url(&em, "/apim/contoso-apim/apis/billing-v2"))
        .body("displayName: Billing\npath: billing\nversionSet: billing\nversion: v2\noperations:\n  - GET /invoices List invoices\n  - POST /invoices Create an invoice\n")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis/billing-v2?api-version={APIM}"),
    );
    let first = client.get(&url).bearer_auth(&token).send().await.unwrap();
    let etag = first.headers().get("etag").unwrap().clone();
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["properties"]["apiVersion"], "v2");

    // Same path and version as another API: refused.
    let clash = client
        .put(admin_url(&em, "/apim/contoso-apim/apis/other"))
        .body("path: billing\nversionSet: billing\nversion: v1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(clash.status(), 409);

    // Update it.
    let patched = client
        .patch(admin_url(&em, "/apim/contoso-apim/apis/billing-v2"))
        .json(&json!({"description": "Invoices and credit notes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let second = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_ne!(second.headers().get("etag").unwrap(), &etag);
    let body: Value = second.json().await.unwrap();
    assert_eq!(
        body["properties"]["description"],
        "Invoices and credit notes"
    );

    // A new revision, then release it.
    let revision = client
        .post(admin_url(&em, "/apim/contoso-apim/apis/billing-v2/revisions"))
        .json(&json!({"description": "Adds refunds", "changes": {"operations": ["GET /invoices List invoices", "POST /refunds Refund"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(revision.status(), 201);
    assert_eq!(revision.json::<Value>().await.unwrap()["rev"], 2);
    assert!(
        names(&client, &em, &token)
            .await
            .contains(&"billing-v2;rev=2".to_string())
    );
    let (_, current) = get_json(&client, &url, &token).await;
    assert_eq!(current["properties"]["apiRevision"], "1");
    let released = client
        .post(admin_url(
            &em,
            "/apim/contoso-apim/apis/billing-v2/revisions/2/make-current",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), 200);
    let (_, current) = get_json(&client, &url, &token).await;
    assert_eq!(current["properties"]["apiRevision"], "2");
    assert!(
        names(&client, &em, &token)
            .await
            .contains(&"billing-v2;rev=1".to_string())
    );

    // Replace the definition and see it in the export.
    let definition = client
        .put(admin_url(&em, "/apim/contoso-apim/apis/hello/definition"))
        .json(&json!({"operations": ["GET /hello Say hello", "GET /goodbye Say goodbye"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(definition.status(), 200);
    let export = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis/hello?api-version={APIM}&format=openapi%2Bjson&export=true"),
    );
    let (_, exported) = get_json(&client, &export, &token).await;
    assert!(exported["value"]["paths"]["/goodbye"]["get"].is_object());

    // Version sets: in use → conflict; delete the APIs first.
    assert_eq!(
        client
            .delete(admin_url(&em, "/apim/contoso-apim/apiVersionSets/billing"))
            .send()
            .await
            .unwrap()
            .status(),
        409
    );
    for api in ["billing-v1", "billing-v2"] {
        assert_eq!(
            client
                .delete(admin_url(&em, &format!("/apim/contoso-apim/apis/{api}")))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        client
            .delete(admin_url(&em, "/apim/contoso-apim/apiVersionSets/billing"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, body) = get_json(&client, &url, &token).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    let created_set = client
        .put(admin_url(&em, "/apim/contoso-apim/apiVersionSets/new-set"))
        .body("displayName: New set\nversioningScheme: Header\nversionHeaderName: X-Version\n")
        .send()
        .await
        .unwrap();
    assert_eq!(created_set.status(), 201);
    let (_, set) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/apiVersionSets/new-set?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(set["properties"]["versionHeaderName"], "X-Version");

    // Workspaces are addressed with ?workspace=.
    let ws = client
        .patch(admin_url(
            &em,
            "/apim/contoso-apim/apis/team-api?workspace=team-a",
        ))
        .json(&json!({"displayName": "Team API (renamed)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ws.status(), 200);
    let (_, team) = get_json(
        &client,
        &apim_url(
            &em,
            "contoso-apim",
            &format!("/workspaces/team-a/apis/team-api?api-version={APIM}"),
        ),
        &token,
    )
    .await;
    assert_eq!(team["properties"]["displayName"], "Team API (renamed)");
    assert_eq!(
        client
            .delete(admin_url(&em, "/apim/contoso-apim/apis/team-api"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // The whole state reads back as a seed.
    let state: Value = client
        .get(admin_url(&em, "/apim"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["services"][0]["name"], "contoso-apim");
    assert_eq!(state["services"][0]["apis"][0]["id"], "hello");

    // The same changes through the Rust handle.
    assert_eq!(em.apim().api_ids("contoso-apim", None).unwrap(), ["hello"]);
}

#[tokio::test]
async fn info_and_api_center_snapshots() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let info: Value = client
        .get(admin_url(&em, "/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["armEndpoint"], em.arm_endpoint().to_string());
    assert_eq!(info["tenantId"], em.tenant_id());
    assert_eq!(info["apimServices"][0], em.apim_resource_id("contoso-apim"));

    let token = token(&em, &client).await;
    let put = client
        .put(apic_url(
            &em,
            "contoso-catalog",
            &format!("/workspaces/default/apis/echo?api-version={APIC}"),
        ))
        .bearer_auth(&token)
        .json(&json!({"properties": {"title": "Echo", "kind": "rest"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let snapshot = client
        .get(admin_url(&em, "/apic/contoso-catalog"))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot.status(), 200);
    let text = snapshot.text().await.unwrap();
    assert!(text.contains("\"Echo\""), "{text}");
    assert_eq!(
        em.api_center()
            .snapshot("contoso-catalog")
            .map(|s| s.to_string().contains("\"Echo\"")),
        Some(true)
    );
    assert_eq!(
        client
            .get(admin_url(&em, "/apic/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client
            .get(admin_url(&em, "/nothing-here"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
