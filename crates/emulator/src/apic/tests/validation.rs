//! Names, body shapes, schema members, metadata requirements and deployment references.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;

const ENV_ID: &str = "/workspaces/default/environments/prod";
const DEF_ID: &str = "/workspaces/default/apis/echo-api/versions/ver-1/definitions/openapi";
#[tokio::test]
async fn names_must_match_the_api_center_pattern() {
    let h = Harness::new();
    let long = "a".repeat(91);
    for name in ["my_api", "ab", "v1.0", "echo-api%3Brev%3D3", long.as_str()] {
        let reply = h.put(&ws(&format!("/apis/{name}")), api_body("Echo")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(reply.code(), "InvalidResourceName", "{name}");
        assert_eq!(reply.target(), "apiName");
        assert!(reply.message().contains("API name"), "{}", reply.message());
        // Reads are refused the same way.
        assert_eq!(
            h.get(&ws(&format!("/apis/{name}"))).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let exactly_90 = "b".repeat(90);
    let ok = h
        .put(&ws(&format!("/apis/{exactly_90}")), api_body("Echo"))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let version = h
        .put(
            &ws(&format!("/apis/{exactly_90}/versions/ver-1.0")),
            version_body("design"),
        )
        .await;
    assert_eq!(version.status, StatusCode::BAD_REQUEST);
    assert_eq!(version.target(), "versionName");
    let environment = h.put(&ws("/environments/prod_1"), environment_body()).await;
    assert_eq!(environment.target(), "environmentName");
}

#[tokio::test]
async fn bodies_must_be_json_objects() {
    let h = Harness::new();
    let target = ws("/apis/echo-api");
    for raw in ["{\"properties\": {", "", "[1,2]", "\"text\"", "null"] {
        let reply = h
            .send(Method::PUT, &target, Some(raw.as_bytes().to_vec()), &[])
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{raw:?}");
        assert_eq!(reply.code(), "InvalidRequestContent", "{raw:?}");
    }
    let properties_not_object = h.put(&target, json!({"properties": "rest"})).await;
    assert_eq!(properties_not_object.code(), "InvalidRequestContent");
    let wrong_type = h
        .put(&target, json!({"properties": {"title": 5, "kind": "rest"}}))
        .await;
    assert_eq!(wrong_type.code(), "InvalidRequestContent");
    assert_eq!(wrong_type.target(), "properties.title");
    assert_eq!(h.get(&target).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_members_are_rejected_and_read_only_ones_ignored() {
    for contract in [ApicContract::strict(), ApicContract::lax()] {
        unknown_members_are_rejected_under(contract).await;
    }
}

async fn unknown_members_are_rejected_under(contract: ApicContract) {
    let h = Harness::with_contract(contract);
    let target = ws("/apis/echo-api");
    let unknown = h
        .put(
            &target,
            json!({"properties": {"title": "Echo", "kind": "rest", "type": "rest"}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.code(), "ValidationError");
    assert_eq!(unknown.target(), "properties.type");
    assert!(unknown.message().contains("properties.type"));
    let nested = h
        .put(
            &target,
            json!({"properties": {"title": "Echo", "kind": "rest", "license": {"name": "MIT", "spdx": "MIT"}}}),
        )
        .await;
    assert_eq!(nested.target(), "properties.license.spdx");

    // Every entity type, nested objects included, knows only its declared members.
    let cases = [
        (
            ws("/apis/echo-api"),
            json!({"properties": {"title": "Echo", "kind": "rest", "contacts": [{"name": "A", "phone": "1"}]}}),
            "properties.contacts[0].phone",
        ),
        (
            ws("/apis/echo-api"),
            json!({"properties": {"title": "Echo", "kind": "rest", "termsOfService": {"url": "https://t.example", "text": "x"}}}),
            "properties.termsOfService.text",
        ),
        (
            ws("/apis/echo-api"),
            json!({"properties": {"title": "Echo", "kind": "rest", "externalDocumentation": [{"url": "https://d.example", "kind": "x"}]}}),
            "properties.externalDocumentation[0].kind",
        ),
        (
            ws("/apis/echo-api/versions/ver-1"),
            json!({"properties": {"title": "v1", "lifecycleStage": "design", "description": "x"}}),
            "properties.description",
        ),
        (
            ws("/apis/echo-api/versions/ver-1/definitions/openapi"),
            json!({"properties": {"title": "OpenAPI", "format": "inline"}}),
            "properties.format",
        ),
        (
            ws("/environments/prod"),
            json!({"properties": {"title": "P", "kind": "production", "type": "production"}}),
            "properties.type",
        ),
        (
            ws("/environments/prod"),
            json!({"properties": {"title": "P", "kind": "production", "server": {"url": "https://x.example"}}}),
            "properties.server.url",
        ),
        (
            ws("/environments/prod"),
            json!({"properties": {"title": "P", "kind": "production", "onboarding": {"contact": "x"}}}),
            "properties.onboarding.contact",
        ),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"server": {"runtimeUri": [], "type": "x"}}}),
            "properties.server.type",
        ),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"apiId": "/workspaces/default/apis/echo-api"}}),
            "properties.apiId",
        ),
        (
            format!("{}/metadataSchemas/owner", service_path()),
            json!({"properties": {"schema": "{}", "title": "Owner"}}),
            "properties.title",
        ),
        (
            format!("{}/metadataSchemas/owner", service_path()),
            json!({"properties": {"schema": "{}", "assignedTo": [{"entity": "api", "optional": true}]}}),
            "properties.assignedTo[0].optional",
        ),
        (
            ws(""),
            json!({"properties": {"title": "Default", "kind": "team"}}),
            "properties.kind",
        ),
    ];
    assert_eq!(
        h.put(&target, api_body("Echo")).await.status,
        StatusCode::CREATED
    );
    h.put(&ws("/apis/echo-api/versions/ver-1"), version_body("design"))
        .await;
    for (path, body, member) in cases {
        let reply = h.put(&path, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{member}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "ValidationError", "{member}");
        assert_eq!(reply.target(), member);
    }
    assert_eq!(h.delete(&target).await.status, StatusCode::OK);

    let with_read_only = h
        .put(
            &target,
            json!({
                "id": "/ignored", "name": "ignored", "type": "ignored",
                "systemData": {"createdAt": "2000-01-01T00:00:00Z"},
                "properties": {"title": "Echo", "kind": "rest", "lifecycleStage": "retired"}
            }),
        )
        .await;
    assert_eq!(
        with_read_only.status,
        StatusCode::CREATED,
        "{}",
        with_read_only.body
    );
    assert_eq!(with_read_only.body["name"], "echo-api");
    assert_eq!(
        with_read_only.body["properties"]["lifecycleStage"],
        "design"
    );

    h.put(&ws("/apis/echo-api/versions/ver-1"), version_body("design"))
        .await;
    let definition = h
        .put(
            &ws("/apis/echo-api/versions/ver-1/definitions/openapi"),
            json!({"properties": {"title": "OpenAPI", "specification": {"name": "openapi", "version": "3.0.1"}}}),
        )
        .await;
    assert_eq!(definition.status, StatusCode::CREATED);
    assert!(definition.body["properties"].get("specification").is_none());
}

#[tokio::test]
async fn required_members_are_enforced() {
    let h = Harness::new();
    let no_kind = h
        .put(
            &ws("/apis/echo-api"),
            json!({"properties": {"title": "Echo"}}),
        )
        .await;
    assert_eq!(no_kind.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_kind.target(), "properties.kind");
    let no_properties = h.put(&ws("/apis/echo-api"), json!({})).await;
    assert_eq!(no_properties.target(), "properties.title");
    assert_eq!(
        h.put(&ws("/apis/echo-api"), api_body("Echo")).await.status,
        StatusCode::CREATED
    );
    let no_stage = h
        .put(
            &ws("/apis/echo-api/versions/ver-1"),
            json!({"properties": {"title": "v1"}}),
        )
        .await;
    assert_eq!(no_stage.target(), "properties.lifecycleStage");
    h.put(&ws("/apis/echo-api/versions/ver-1"), version_body("design"))
        .await;
    let no_title = h
        .put(
            &ws("/apis/echo-api/versions/ver-1/definitions/openapi"),
            json!({"properties": {}}),
        )
        .await;
    assert_eq!(no_title.target(), "properties.title");
    let no_env_kind = h
        .put(
            &ws("/environments/prod"),
            json!({"properties": {"title": "Prod"}}),
        )
        .await;
    assert_eq!(no_env_kind.target(), "properties.kind");
    let terms_without_url = h
        .put(
            &ws("/apis/echo-api"),
            json!({"properties": {"title": "Echo", "kind": "rest", "termsOfService": {}}}),
        )
        .await;
    assert_eq!(terms_without_url.target(), "properties.termsOfService.url");
    // A deployment has no required member.
    let bare = h
        .put(
            &ws("/apis/echo-api/deployments/bare"),
            json!({"properties": {}}),
        )
        .await;
    assert_eq!(bare.status, StatusCode::CREATED, "{}", bare.body);
}

#[tokio::test]
async fn enums_are_enforced() {
    let h = Harness::new();
    h.seed().await;
    let cases = [
        (
            ws("/apis/other-api"),
            json!({"properties": {"title": "T", "kind": "http"}}),
            "properties.kind",
        ),
        (
            ws("/apis/echo-api/versions/ver-2"),
            json!({"properties": {"title": "T", "lifecycleStage": "beta"}}),
            "properties.lifecycleStage",
        ),
        (
            ws("/environments/env-2"),
            json!({"properties": {"title": "T", "kind": "prod"}}),
            "properties.kind",
        ),
        (
            ws("/environments/env-2"),
            json!({"properties": {"title": "T", "kind": "production", "server": {"type": "azure-api-management"}}}),
            "properties.server.type",
        ),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"state": "on"}}),
            "properties.state",
        ),
        (
            format!("{}/metadataSchemas/owner", service_path()),
            json!({"properties": {"schema": "{}", "assignedTo": [{"entity": "version"}]}}),
            "properties.assignedTo[0].entity",
        ),
    ];
    for (target, body, member) in cases {
        let reply = h.put(&target, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{member}");
        assert_eq!(reply.code(), "ValidationError", "{member}");
        assert_eq!(reply.target(), member);
    }
    for kind in ["rest", "graphql", "grpc", "soap", "webhook", "websocket"] {
        let reply = h
            .put(
                &ws(&format!("/apis/kind-{kind}")),
                json!({"properties": {"title": "T", "kind": kind}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{kind}");
    }
}

#[tokio::test]
async fn lengths_and_counts_are_enforced() {
    for contract in [ApicContract::strict(), ApicContract::lax()] {
        lengths_and_counts_are_enforced_under(contract).await;
    }
}

async fn lengths_and_counts_are_enforced_under(contract: ApicContract) {
    let h = Harness::with_contract(contract);
    h.seed().await;
    let api = |properties: Value| {
        let mut body = json!({"properties": {"title": "Echo", "kind": "rest"}});
        if let (Some(target), Some(extra)) =
            (body["properties"].as_object_mut(), properties.as_object())
        {
            target.extend(extra.clone());
        }
        body
    };
    let doc = json!({"title": "Docs", "url": "https://docs.contoso.com"});
    let long_uri = format!("https://contoso.com/{}", "p".repeat(190));
    let long_email = format!("{}@contoso.com", "e".repeat(89));
    assert_eq!(long_email.len(), 101);
    let cases = [
        (
            ws("/apis/echo-api"),
            api(json!({"contacts": [{"name": "n".repeat(101)}]})),
            "properties.contacts[0].name",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"contacts": [{"name": "A"}, {"email": long_email}]})),
            "properties.contacts[1].email",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"contacts": [{"email": "platform at contoso.com"}]})),
            "properties.contacts[0].email",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"contacts": [{"email": "platform@"}]})),
            "properties.contacts[0].email",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"contacts": [{"url": "/team/platform"}]})),
            "properties.contacts[0].url",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"contacts": [{"url": long_uri.clone()}]})),
            "properties.contacts[0].url",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"license": {"name": "l".repeat(101)}})),
            "properties.license.name",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"license": {"url": "licenses/mit"}})),
            "properties.license.url",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"license": {"url": long_uri.clone()}})),
            "properties.license.url",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"license": {"identifier": "i".repeat(51)}})),
            "properties.license.identifier",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"termsOfService": {"url": long_uri.clone()}})),
            "properties.termsOfService.url",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"externalDocumentation": [{"url": "docs.contoso.com"}]})),
            "properties.externalDocumentation[0].url",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"externalDocumentation": [{"url": long_uri.clone()}]})),
            "properties.externalDocumentation[0].url",
        ),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"server": {"runtimeUri": ["contoso.azure-api.net/echo"]}}}),
            "properties.server.runtimeUri[0]",
        ),
        (
            ws("/environments/prod"),
            json!({"properties": {"title": "t".repeat(51), "kind": "production"}}),
            "properties.title",
        ),
        (
            ws("/environments/prod"),
            json!({"properties": {"title": "", "kind": "production"}}),
            "properties.title",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"title": "t".repeat(51)})),
            "properties.title",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"title": ""})),
            "properties.title",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"description": "d".repeat(1001)})),
            "properties.description",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"summary": "s".repeat(201)})),
            "properties.summary",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"externalDocumentation": vec![doc.clone(); 21]})),
            "properties.externalDocumentation",
        ),
        (
            ws("/apis/echo-api"),
            api(
                json!({"externalDocumentation": [{"title": "t".repeat(51), "url": "https://docs.contoso.com"}]}),
            ),
            "properties.externalDocumentation[0].title",
        ),
        (
            ws("/apis/echo-api"),
            api(
                json!({"externalDocumentation": [{"description": "d".repeat(501), "url": "https://docs.contoso.com"}]}),
            ),
            "properties.externalDocumentation[0].description",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"termsOfService": {"url": "not a uri"}})),
            "properties.termsOfService.url",
        ),
        (
            ws("/apis/echo-api"),
            api(json!({"license": {"url": "https://l.example", "identifier": "MIT"}})),
            "properties.license.identifier",
        ),
        (
            ws("/apis/echo-api/versions/ver-1"),
            json!({"properties": {"title": "v".repeat(51), "lifecycleStage": "design"}}),
            "properties.title",
        ),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"title": "t".repeat(51)}}),
            "properties.title",
        ),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"description": "d".repeat(501)}}),
            "properties.description",
        ),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"server": {"runtimeUri": ["https://ok.example", long_uri]}}}),
            "properties.server.runtimeUri[1]",
        ),
        (
            ws("/environments/prod"),
            json!({"properties": {"title": "P", "kind": "production", "server": {"managementPortalUri": ["https://a", "https://b"]}}}),
            "properties.server.managementPortalUri",
        ),
        (
            ws("/environments/prod"),
            json!({"properties": {"title": "P", "kind": "production", "onboarding": {"developerPortalUri": ["https://a", "https://b"]}}}),
            "properties.onboarding.developerPortalUri",
        ),
    ];
    for (target, body, member) in cases {
        let reply = h.put(&target, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{member}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "ValidationError", "{member}");
        assert_eq!(reply.target(), member);
        assert!(reply.message().contains(member), "{}", reply.message());
    }
    // The bounds themselves are allowed.
    let email_100 = format!("{}@contoso.com", "e".repeat(88));
    let at_limits = api(json!({
        "title": "t".repeat(50),
        "description": "d".repeat(1000),
        "summary": "s".repeat(200),
        "externalDocumentation": vec![doc; 20],
        "contacts": [{
            "name": "n".repeat(100),
            "email": email_100,
            "url": format!("https://contoso.com/{}", "p".repeat(180)),
        }],
        "license": {"name": "l".repeat(100), "identifier": "i".repeat(50)},
    }));
    assert_eq!(
        h.put(&ws("/apis/echo-api"), at_limits).await.status,
        StatusCode::OK
    );
    let uri_200 = format!("https://contoso.com/{}", "p".repeat(180));
    assert_eq!(uri_200.len(), 200);
    let deployment = h
        .put(
            &ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {"server": {"runtimeUri": [uri_200]}}}),
        )
        .await;
    assert_eq!(
        deployment.status,
        StatusCode::CREATED,
        "{}",
        deployment.body
    );
}

#[tokio::test]
async fn required_metadata_is_enforced_on_assigned_entities() {
    for contract in [ApicContract::strict(), ApicContract::lax()] {
        required_metadata_is_enforced_under(contract).await;
    }
}

async fn required_metadata_is_enforced_under(contract: ApicContract) {
    let h = Harness::with_contract(contract);
    h.seed().await;
    let schema_path = format!("{}/metadataSchemas/owner", service_path());
    let bad_schema = h
        .put(
            &schema_path,
            json!({"properties": {"schema": "{type: string", "assignedTo": []}}),
        )
        .await;
    assert_eq!(bad_schema.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_schema.target(), "properties.schema");
    let schema = json!({"properties": {
        "schema": "{\"type\":\"string\",\"title\":\"Owner\",\"pattern\":\"^[a-z-]+$\"}",
        "assignedTo": [{"entity": "api", "required": true}, {"entity": "environment", "required": false}]
    }});
    assert_eq!(
        h.put(&schema_path, schema).await.status,
        StatusCode::CREATED
    );

    let without = h.put(&ws("/apis/new-api"), api_body("New")).await;
    assert_eq!(without.status, StatusCode::BAD_REQUEST);
    assert_eq!(without.target(), "properties.customProperties.owner");
    assert!(without.message().contains("owner"));
    // Replacing an existing API is held to the same rule.
    assert_eq!(
        h.put(&ws("/apis/echo-api"), api_body("Echo")).await.status,
        StatusCode::BAD_REQUEST
    );

    let wrong_type = h
        .put(&ws("/apis/new-api"), json!({"properties": {"title": "New", "kind": "rest", "customProperties": {"owner": 7}}}))
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    let wrong_pattern = h
        .put(&ws("/apis/new-api"), json!({"properties": {"title": "New", "kind": "rest", "customProperties": {"owner": "Team A"}}}))
        .await;
    assert_eq!(wrong_pattern.status, StatusCode::BAD_REQUEST);
    let with = h
        .put(&ws("/apis/new-api"), json!({"properties": {"title": "New", "kind": "rest", "customProperties": {"owner": "team-a"}}}))
        .await;
    assert_eq!(with.status, StatusCode::CREATED, "{}", with.body);

    // Optional for environments, not assigned to deployments.
    assert_eq!(
        h.put(&ws("/environments/test"), environment_body())
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        h.put(
            &ws("/apis/new-api/deployments/dep-1"),
            json!({"properties": {}})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    // A deprecated assignment no longer requires the property, but still declares it.
    let tier_path = format!("{}/metadataSchemas/tier", service_path());
    let tier = json!({"properties": {
        "schema": "{\"type\":\"string\",\"enum\":[\"gold\",\"silver\"]}",
        "assignedTo": [{"entity": "deployment", "required": true, "deprecated": true}]
    }});
    assert_eq!(h.put(&tier_path, tier).await.status, StatusCode::CREATED);
    assert_eq!(
        h.put(
            &ws("/apis/new-api/deployments/dep-1"),
            json!({"properties": {}})
        )
        .await
        .status,
        StatusCode::OK
    );
    let bronze = h
        .put(
            &ws("/apis/new-api/deployments/dep-1"),
            json!({"properties": {"customProperties": {"tier": "bronze"}}}),
        )
        .await;
    assert_eq!(bronze.status, StatusCode::BAD_REQUEST);
    assert_eq!(bronze.target(), "properties.customProperties.tier");
    assert_eq!(
        h.put(
            &ws("/apis/new-api/deployments/dep-1"),
            json!({"properties": {"customProperties": {"tier": "gold"}}})
        )
        .await
        .status,
        StatusCode::OK
    );
    // Once the schema is gone, nothing is required.
    assert_eq!(h.delete(&schema_path).await.status, StatusCode::OK);
    assert_eq!(
        h.put(&ws("/apis/echo-api"), api_body("Echo")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deployment_references_must_resolve() {
    let h = Harness::new();
    h.seed().await;
    let target = ws("/apis/echo-api/deployments/prod-gw");
    let full_id = format!("{}/workspaces/default/environments/prod", service_path());
    let cases = [
        (
            deployment_body("/workspaces/default/environments/nope", DEF_ID),
            "properties.environmentId",
        ),
        (
            deployment_body(
                ENV_ID,
                "/workspaces/default/apis/echo-api/versions/ver-1/definitions/nope",
            ),
            "properties.definitionId",
        ),
        (
            deployment_body(&full_id, DEF_ID),
            "properties.environmentId",
        ),
        (
            deployment_body("environments/prod", DEF_ID),
            "properties.environmentId",
        ),
        (
            deployment_body(ENV_ID, "/workspaces/default/apis/echo-api"),
            "properties.definitionId",
        ),
    ];
    for (body, member) in cases {
        let reply = h.put(&target, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{member}: {}",
            reply.body
        );
        assert_eq!(reply.target(), member);
    }
    let full = h.put(&target, deployment_body(&full_id, DEF_ID)).await;
    assert!(
        full.message().contains("service-relative") || full.message().contains("API Center-scoped")
    );

    // A definition of another API is not this API's deployment.
    h.put(&ws("/apis/other-api"), api_body("Other")).await;
    let other = h
        .put(
            &ws("/apis/other-api/deployments/prod-gw"),
            deployment_body(ENV_ID, DEF_ID),
        )
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.target(), "properties.definitionId");

    let ok = h.put(&target, deployment_body(ENV_ID, DEF_ID)).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let case_insensitive = h
        .put(
            &target,
            deployment_body("/Workspaces/default/Environments/PROD", DEF_ID),
        )
        .await;
    assert_eq!(
        case_insensitive.status,
        StatusCode::OK,
        "{}",
        case_insensitive.body
    );
}
