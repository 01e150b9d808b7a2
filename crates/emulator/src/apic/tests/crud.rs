//! Services, workspaces and item CRUD: envelopes, ETags, cascades, missing parents.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::config::ConditionalHeaders;

const ENV_ID: &str = "/workspaces/default/environments/prod";
const DEF_ID: &str = "/workspaces/default/apis/echo-api/versions/ver-1/definitions/openapi";
#[tokio::test]
async fn service_is_served_and_listed() {
    let h = Harness::new();
    let reply = h.get(&service_path()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["id"], json!(service_path()));
    assert_eq!(reply.body["type"], "Microsoft.ApiCenter/services");
    assert_eq!(reply.body["properties"]["provisioningState"], "Succeeded");
    assert!(
        reply.body["properties"]["dataApiHostName"]
            .as_str()
            .is_some_and(|h| h.starts_with("contoso-catalog.data."))
    );

    let list = h
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ApiCenter/services"
        ))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["value"][0]["name"], SVC);
    assert!(list.body.get("nextLink").is_none());
    let by_subscription = h
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.ApiCenter/services"
        ))
        .await;
    assert_eq!(
        by_subscription.body["value"].as_array().map(Vec::len),
        Some(1)
    );

    let unknown = h
        .get(&format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ApiCenter/services/nope-svc"))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "ResourceNotFound");

    let put = h.put(&service_path(), json!({"location": "eastus"})).await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn default_workspace_exists_and_workspaces_have_crud() {
    let h = Harness::new();
    let reply = h.get(&ws("")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["type"],
        "Microsoft.ApiCenter/services/workspaces"
    );
    assert_eq!(reply.body["name"], "default");

    let team = format!("{}/workspaces/team-a", service_path());
    let created = h
        .put(&team, json!({"properties": {"title": "Team A"}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let list = h.get(&format!("{}/workspaces", service_path())).await;
    let names: Vec<&str> = list.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, ["default", "team-a"]);
    let missing_title = h
        .put(&team, json!({"properties": {"description": "x"}}))
        .await;
    assert_eq!(missing_title.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing_title.target(), "properties.title");
    assert_eq!(h.delete(&team).await.status, StatusCode::OK);
    assert_eq!(h.get(&team).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_crud_round_trip_uses_the_envelope_and_etags() {
    let h = Harness::new();
    declare(&h, "owner", &["api"]).await;
    let target = ws("/apis/echo-api");
    let body = json!({ "properties": {
        "title": "Echo API",
        "kind": "rest",
        "description": "A simple HTTP request/response service.",
        "summary": "Echo",
        "termsOfService": { "url": "https://contoso.com/terms" },
        "license": { "name": "MIT", "identifier": "MIT" },
        "contacts": [{ "name": "Platform", "email": "platform@contoso.com", "url": "https://contoso.com" }],
        "externalDocumentation": [{ "title": "Docs", "url": "https://docs.contoso.com" }],
        "customProperties": { "owner": "team-a" }
    }});
    let created = h.put(&target, body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let first_etag = created.etag();
    assert_eq!(created.body["id"], json!(target));
    assert_eq!(created.body["name"], "echo-api");
    assert_eq!(
        created.body["type"],
        "Microsoft.ApiCenter/services/workspaces/apis"
    );
    assert!(created.body["systemData"]["createdAt"].is_string());
    assert!(created.body["systemData"]["lastModifiedAt"].is_string());
    assert_eq!(created.body["properties"]["title"], "Echo API");
    assert_eq!(
        created.body["properties"]["customProperties"]["owner"],
        "team-a"
    );
    assert_eq!(created.body["properties"]["lifecycleStage"], "design");

    let read = h.get(&target).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.etag(), first_etag);
    assert_eq!(read.body, created.body);

    let head = h.head(&target).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.body, Value::Null);

    let replaced = h.put(&target, api_body("Echo API v2")).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_ne!(replaced.etag(), first_etag);
    // PUT replaces: members not sent are gone.
    assert!(replaced.body["properties"].get("summary").is_none());
    assert_eq!(
        replaced.body["systemData"]["createdAt"],
        created.body["systemData"]["createdAt"]
    );

    assert_eq!(h.delete(&target).await.status, StatusCode::OK);
    assert_eq!(h.delete(&target).await.status, StatusCode::NO_CONTENT);
    let gone = h.get(&target).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), "ResourceNotFound");
    assert_eq!(h.head(&target).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nested_resources_have_nested_types_and_ids() {
    let h = Harness::new();
    h.seed().await;
    let deployment = h
        .put(
            &ws("/apis/echo-api/deployments/prod-gw"),
            deployment_body(ENV_ID, DEF_ID),
        )
        .await;
    assert_eq!(
        deployment.status,
        StatusCode::CREATED,
        "{}",
        deployment.body
    );
    let schema = h
        .put(
            &format!("{}/metadataSchemas/owner", service_path()),
            json!({"properties": {"schema": "{\"type\":\"string\"}", "assignedTo": [{"entity": "api"}]}}),
        )
        .await;
    assert_eq!(schema.status, StatusCode::CREATED, "{}", schema.body);
    for (target, kind) in [
        (
            ws("/apis/echo-api/versions/ver-1"),
            "Microsoft.ApiCenter/services/workspaces/apis/versions",
        ),
        (
            ws("/apis/echo-api/versions/ver-1/definitions/openapi"),
            "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions",
        ),
        (
            ws("/environments/prod"),
            "Microsoft.ApiCenter/services/workspaces/environments",
        ),
        (
            ws("/apis/echo-api/deployments/prod-gw"),
            "Microsoft.ApiCenter/services/workspaces/apis/deployments",
        ),
        (
            format!("{}/metadataSchemas/owner", service_path()),
            "Microsoft.ApiCenter/services/metadataSchemas",
        ),
    ] {
        let reply = h.get(&target).await;
        assert_eq!(reply.status, StatusCode::OK, "{target}");
        assert_eq!(reply.body["type"], kind);
        assert_eq!(reply.body["id"], json!(target));
        assert!(reply.header("etag").is_some());
    }
    let environment = h.get(&ws("/environments/prod")).await;
    assert_eq!(
        environment.body["properties"]["server"]["type"],
        "Azure API Management"
    );
    let deployment = h.get(&ws("/apis/echo-api/deployments/prod-gw")).await;
    assert_eq!(deployment.body["properties"]["environmentId"], ENV_ID);
    assert_eq!(deployment.body["properties"]["definitionId"], DEF_ID);
    let definition = h
        .get(&ws("/apis/echo-api/versions/ver-1/definitions/openapi"))
        .await;
    assert!(definition.body["properties"].get("specification").is_none());
}

#[tokio::test]
async fn names_are_case_insensitive_and_keep_their_casing() {
    let h = Harness::new();
    assert_eq!(
        h.put(&ws("/apis/Echo-Api"), api_body("Echo")).await.status,
        StatusCode::CREATED
    );
    let read = h.get(&ws("/apis/echo-api")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["name"], "Echo-Api");
    assert_eq!(
        h.put(&ws("/apis/ECHO-API"), api_body("Echo")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn etags_guard_writes_when_preconditions_are_honoured() {
    let h = Harness::with_contract(ApicContract {
        conditional_headers: ConditionalHeaders::Honoured,
        ..ApicContract::strict()
    });
    let target = ws("/apis/echo-api");
    let absent_if_match = h
        .put_with(&target, api_body("Echo"), &[("if-match", "*")])
        .await;
    assert_eq!(absent_if_match.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(absent_if_match.code(), "PreconditionFailed");

    let created = h
        .put_with(&target, api_body("Echo"), &[("if-none-match", "*")])
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let etag = created.etag();
    let exists = h
        .put_with(&target, api_body("Echo"), &[("if-none-match", "*")])
        .await;
    assert_eq!(exists.status, StatusCode::PRECONDITION_FAILED);

    let updated = h
        .put_with(&target, api_body("Echo 2"), &[("if-match", etag.as_str())])
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    let new_etag = updated.etag();
    assert_ne!(new_etag, etag);

    // A writer holding the old ETag loses, and nothing changes.
    let stale = h
        .put_with(
            &target,
            api_body("Lost update"),
            &[("if-match", etag.as_str())],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(h.get(&target).await.body["properties"]["title"], "Echo 2");
    let star = h
        .put_with(&target, api_body("Echo 3"), &[("if-match", "*")])
        .await;
    assert_eq!(star.status, StatusCode::OK);

    let stale_delete = h
        .send(
            Method::DELETE,
            &target,
            None,
            &[("if-match", new_etag.as_str())],
        )
        .await;
    assert_eq!(stale_delete.status, StatusCode::PRECONDITION_FAILED);
    let current = h.get(&target).await.etag();
    let delete = h
        .send(
            Method::DELETE,
            &target,
            None,
            &[("if-match", current.as_str())],
        )
        .await;
    assert_eq!(delete.status, StatusCode::OK);
    let delete_absent = h
        .send(Method::DELETE, &target, None, &[("if-match", "*")])
        .await;
    assert_eq!(delete_absent.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn deletes_cascade_to_children() {
    let h = Harness::new();
    h.seed().await;
    let deployment = h
        .put(
            &ws("/apis/echo-api/deployments/prod-gw"),
            deployment_body(ENV_ID, DEF_ID),
        )
        .await;
    assert_eq!(deployment.status, StatusCode::CREATED);

    assert_eq!(
        h.delete(&ws("/apis/echo-api/versions/ver-1")).await.status,
        StatusCode::OK
    );
    h.put(&ws("/apis/echo-api/versions/ver-1"), version_body("design"))
        .await;
    assert_eq!(
        h.get(&ws("/apis/echo-api/versions/ver-1/definitions/openapi"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(h.delete(&ws("/apis/echo-api")).await.status, StatusCode::OK);
    assert_eq!(
        h.put(&ws("/apis/echo-api"), api_body("Echo")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        h.get(&ws("/apis/echo-api/versions/ver-1")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(&ws("/apis/echo-api/deployments/prod-gw"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(&ws("/apis/echo-api/versions")).await.body["value"],
        json!([])
    );

    assert_eq!(h.delete(&ws("")).await.status, StatusCode::OK);
    assert_eq!(
        h.get(&ws("/apis/echo-api")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(&ws("/environments/prod")).await.status,
        StatusCode::NOT_FOUND
    );
    let snapshot = h.apic.snapshot(SVC).expect("snapshot");
    assert_eq!(snapshot["workspaces"], json!({}));
}

#[tokio::test]
async fn missing_parents_are_reported() {
    let h = Harness::new();
    let reply = h
        .put(
            &ws("/apis/ghost-api/versions/ver-1"),
            version_body("design"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "ParentResourceNotFound");
    assert!(reply.message().contains("ghost-api"));
    let list = h.get(&ws("/apis/ghost-api/versions")).await;
    assert_eq!(list.code(), "ParentResourceNotFound");
    let other_workspace = h
        .put(
            &format!("{}/workspaces/nowhere/apis/echo-api", service_path()),
            api_body("Echo"),
        )
        .await;
    assert_eq!(other_workspace.code(), "ParentResourceNotFound");
    assert_eq!(
        h.delete(&ws("/apis/ghost-api/versions/ver-1")).await.code(),
        "ParentResourceNotFound"
    );
    let bad_subscription = h
        .get(&format!("/subscriptions/00000000-0000-0000-0000-00000000dead/resourceGroups/{RG}/providers/Microsoft.ApiCenter/services/{SVC}"))
        .await;
    assert_eq!(bad_subscription.code(), "SubscriptionNotFound");
    let bad_group = h
        .get(&format!("/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.ApiCenter/services/{SVC}"))
        .await;
    assert_eq!(bad_group.code(), "ResourceGroupNotFound");
    let bad_type = h.get(&format!("{}/widgets", service_path())).await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_type.code(), "InvalidResourceType");
}

#[tokio::test]
async fn snapshot_holds_the_whole_tree() {
    let h = Harness::new();
    h.seed().await;
    h.put(
        &ws("/apis/echo-api/deployments/prod-gw"),
        deployment_body(ENV_ID, DEF_ID),
    )
    .await;
    let snapshot = h.apic.snapshot(SVC).expect("service");
    let api = &snapshot["workspaces"]["default"]["apis"]["echo-api"];
    assert_eq!(api["properties"]["title"], "Echo API");
    assert!(api["etag"].is_string());
    assert_eq!(
        api["versions"]["ver-1"]["definitions"]["openapi"]["content"],
        Value::Null
    );
    assert_eq!(
        api["deployments"]["prod-gw"]["properties"]["environmentId"],
        ENV_ID
    );
    assert_eq!(
        snapshot["workspaces"]["default"]["environments"]["prod"]["properties"]["kind"],
        "production"
    );
    assert_eq!(snapshot["metadataSchemas"], json!({}));
    assert!(h.apic.snapshot("no-such-service").is_none());
}

#[tokio::test]
async fn unsupported_methods_are_refused() {
    let h = Harness::new();
    let reply = h.post(&ws("/apis"), json!({})).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let patch = h
        .send(
            Method::PATCH,
            &ws("/apis/echo-api"),
            Some(b"{}".to_vec()),
            &[],
        )
        .await;
    assert_eq!(patch.status, StatusCode::METHOD_NOT_ALLOWED);
}
