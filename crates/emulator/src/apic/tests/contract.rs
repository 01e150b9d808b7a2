//! The contract profiles: undeclared custom properties, custom-property limits,
//! conditional headers and what an import's 202 advertises, in strict and lax.

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::*;
use crate::apic::ApicLimits;
use crate::config::{ConditionalHeaders, ImportAnswer};

const ENV_ID: &str = "/workspaces/default/environments/prod";
const DEF_ID: &str = "/workspaces/default/apis/echo-api/versions/ver-1/definitions/openapi";

/// Every entity kind that carries custom properties: (label, path, body without them).
fn custom_property_targets() -> [(&'static str, String, Value); 3] {
    [
        ("api", ws("/apis/echo-api"), api_body("Echo API")),
        ("environment", ws("/environments/prod"), environment_body()),
        (
            "deployment",
            ws("/apis/echo-api/deployments/prod-gw"),
            deployment_body(ENV_ID, DEF_ID),
        ),
    ]
}

fn with_custom(body: &Value, custom: Value) -> Value {
    let mut body = body.clone();
    body["properties"]["customProperties"] = custom;
    body
}

fn many(count: usize) -> Value {
    let members: Map<String, Value> = (0..count).map(|i| (format!("p{i:02}"), json!(i))).collect();
    Value::Object(members)
}

fn with_headers(conditional_headers: ConditionalHeaders) -> Harness {
    Harness::with_contract(ApicContract {
        conditional_headers,
        ..ApicContract::strict()
    })
}

#[tokio::test]
async fn the_default_profile_is_strict() {
    assert_eq!(Harness::new().apic.contract(), ApicContract::strict());
}

#[tokio::test]
async fn strict_refuses_custom_properties_no_schema_declares() {
    let h = Harness::new();
    h.seed().await;
    for (entity, target, body) in custom_property_targets() {
        let reply = h
            .put(&target, with_custom(&body, json!({"apilink": {"v": 1}})))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{entity}");
        assert_eq!(reply.code(), "ValidationError");
        assert_eq!(reply.target(), "properties.customProperties.apilink");
        assert_eq!(
            reply.message(),
            format!(
                "Custom property 'apilink' is not defined by any metadata schema assigned to '{entity}'"
            )
        );
    }
    // Nothing was written: the deployment does not exist, the others are unchanged.
    assert_eq!(
        h.get(&ws("/apis/echo-api/deployments/prod-gw"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let api = h.get(&ws("/apis/echo-api")).await;
    assert!(api.body["properties"].get("customProperties").is_none());

    // A schema assigned to another entity kind does not declare the property here.
    declare(&h, "apilink", &["api"]).await;
    let [_, (_, env_target, env_body), _] = custom_property_targets();
    let env = h
        .put(
            &env_target,
            with_custom(&env_body, json!({"apilink": {"v": 1}})),
        )
        .await;
    assert_eq!(env.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        env.message(),
        "Custom property 'apilink' is not defined by any metadata schema assigned to 'environment'"
    );
    let api = h
        .put(
            &ws("/apis/echo-api"),
            with_custom(&api_body("Echo API"), json!({"apilink": {"v": 1}})),
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);

    // Declared for every kind: accepted everywhere, and kept as sent.
    declare(&h, "apilink", &["api", "environment", "deployment"]).await;
    for (entity, target, body) in custom_property_targets() {
        let reply = h
            .put(&target, with_custom(&body, json!({"apilink": {"v": 2}})))
            .await;
        assert!(reply.status.is_success(), "{entity}: {}", reply.body);
        assert_eq!(
            reply.body["properties"]["customProperties"],
            json!({"apilink": {"v": 2}})
        );
    }
    // An empty object declares nothing and needs nothing.
    let empty = h
        .put(
            &ws("/apis/echo-api"),
            with_custom(&api_body("Echo API"), json!({})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::OK);
}

#[tokio::test]
async fn lax_keeps_undeclared_custom_properties() {
    let h = Harness::with_contract(ApicContract::lax());
    h.seed().await;
    for (entity, target, body) in custom_property_targets() {
        let reply = h
            .put(
                &target,
                with_custom(&body, json!({"apilink": {"v": 1}, "team": "a"})),
            )
            .await;
        assert!(reply.status.is_success(), "{entity}: {}", reply.body);
        assert_eq!(
            h.get(&target).await.body["properties"]["customProperties"],
            json!({"apilink": {"v": 1}, "team": "a"})
        );
    }
    // Declared ones are still checked against their schema.
    let schema = json!({"properties": {
        "schema": "{\"type\":\"string\"}",
        "assignedTo": [{"entity": "api"}]
    }});
    h.put(&format!("{}/metadataSchemas/team", service_path()), schema)
        .await;
    let wrong = h
        .put(
            &ws("/apis/echo-api"),
            with_custom(&api_body("Echo API"), json!({"team": 7, "other": 1})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.target(), "properties.customProperties.team");
}

#[tokio::test]
async fn strict_enforces_custom_property_limits() {
    let h = Harness::new();
    h.seed().await;
    let limits = ApicLimits::standard();
    assert_eq!(limits.custom_properties_per_entity, 20);
    assert_eq!(limits.members_per_object_property, 10);
    let names: Vec<String> = (0..21).map(|i| format!("p{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for name in &names {
        declare(&h, name, &["api", "environment", "deployment"]).await;
    }
    for (entity, target, body) in custom_property_targets() {
        let over = h.put(&target, with_custom(&body, many(21))).await;
        assert_eq!(over.status, StatusCode::BAD_REQUEST, "{entity}");
        assert_eq!(over.code(), "ValidationError");
        assert_eq!(over.target(), "properties.customProperties");
        assert!(
            over.message().contains("at most 20") && over.message().contains(entity),
            "{}",
            over.message()
        );
        let at = h.put(&target, with_custom(&body, many(20))).await;
        assert!(at.status.is_success(), "{entity}: {}", at.body);

        let wide = h
            .put(&target, with_custom(&body, json!({"p00": many(11)})))
            .await;
        assert_eq!(wide.status, StatusCode::BAD_REQUEST, "{entity}");
        assert_eq!(wide.target(), "properties.customProperties.p00");
        assert!(
            wide.message().contains("'p00'") && wide.message().contains("at most 10"),
            "{}",
            wide.message()
        );
        let ten = h
            .put(&target, with_custom(&body, json!({"p00": many(10)})))
            .await;
        assert!(ten.status.is_success(), "{entity}: {}", ten.body);
    }
}

#[tokio::test]
async fn the_free_plan_allows_fewer_custom_properties() {
    let h = Harness::with(
        ApicOptions {
            limits: ApicLimits::free(),
            ..ApicOptions::default()
        },
        no_links(),
    );
    for i in 0..11 {
        declare(&h, &format!("p{i:02}"), &["api"]).await;
    }
    let over = h
        .put(
            &ws("/apis/echo-api"),
            with_custom(&api_body("Echo"), many(11)),
        )
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
    assert!(over.message().contains("at most 10"), "{}", over.message());
    let at = h
        .put(
            &ws("/apis/echo-api"),
            with_custom(&api_body("Echo"), many(10)),
        )
        .await;
    assert_eq!(at.status, StatusCode::CREATED, "{}", at.body);
}

#[tokio::test]
async fn lax_does_not_enforce_custom_property_limits() {
    let h = Harness::with_contract(ApicContract::lax());
    h.seed().await;
    for (entity, target, body) in custom_property_targets() {
        let reply = h
            .put(
                &target,
                with_custom(&body, json!({"wide": many(30), "a": 1, "b": many(25)})),
            )
            .await;
        assert!(reply.status.is_success(), "{entity}: {}", reply.body);
        let reply = h.put(&target, with_custom(&body, many(40))).await;
        assert!(reply.status.is_success(), "{entity}: {}", reply.body);
    }
}

#[tokio::test]
async fn honoured_preconditions_answer_412() {
    let h = with_headers(ConditionalHeaders::Honoured);
    let target = ws("/apis/echo-api");
    let created = h.put(&target, api_body("Echo")).await;
    let stale = "\"00000000-0000-0000-0000-000000000000\"";
    let refused = h
        .put_with(&target, api_body("Lost"), &[("if-match", stale)])
        .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(refused.code(), "PreconditionFailed");
    let exists = h
        .put_with(&target, api_body("Lost"), &[("if-none-match", "*")])
        .await;
    assert_eq!(exists.status, StatusCode::PRECONDITION_FAILED);
    let delete = h
        .send(Method::DELETE, &target, None, &[("if-match", stale)])
        .await;
    assert_eq!(delete.status, StatusCode::PRECONDITION_FAILED);
    let current = h.get(&target).await;
    assert_eq!(current.body["properties"]["title"], "Echo");
    assert_eq!(current.etag(), created.etag());
}

#[tokio::test]
async fn ignored_preconditions_have_no_effect() {
    let h = with_headers(ConditionalHeaders::Ignored);
    let target = ws("/apis/echo-api");
    let stale = "\"00000000-0000-0000-0000-000000000000\"";
    // If-Match on an absent resource: created anyway.
    let created = h
        .put_with(&target, api_body("Echo"), &[("if-match", "*")])
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let replaced = h
        .put_with(&target, api_body("Echo 2"), &[("if-match", stale)])
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    let again = h
        .put_with(&target, api_body("Echo 3"), &[("if-none-match", "*")])
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(h.get(&target).await.body["properties"]["title"], "Echo 3");
    let read = h
        .send(
            Method::GET,
            &target,
            None,
            &[("if-none-match", again.etag().as_str())],
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let deleted = h
        .send(Method::DELETE, &target, None, &[("if-match", stale)])
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(h.get(&target).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn refused_conditional_headers_answer_400_and_write_nothing() {
    let h = with_headers(ConditionalHeaders::Refused);
    let target = ws("/apis/echo-api");
    for (name, shown) in [("if-match", "If-Match"), ("if-none-match", "If-None-Match")] {
        let put = h.put_with(&target, api_body("Echo"), &[(name, "*")]).await;
        assert_eq!(put.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(put.code(), "InvalidRequestHeader");
        assert!(
            put.message().contains(&format!("'{shown}'"))
                && put.message().contains("not supported"),
            "{}",
            put.message()
        );
        assert_eq!(h.get(&target).await.status, StatusCode::NOT_FOUND);
    }
    let created = h.put(&target, api_body("Echo")).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let etag = created.etag();
    let replace = h
        .put_with(&target, api_body("Echo 2"), &[("if-match", etag.as_str())])
        .await;
    assert_eq!(replace.code(), "InvalidRequestHeader");
    let delete = h
        .send(
            Method::DELETE,
            &target,
            None,
            &[("if-match", etag.as_str())],
        )
        .await;
    assert_eq!(delete.code(), "InvalidRequestHeader");
    let read = h
        .send(
            Method::GET,
            &target,
            None,
            &[("if-none-match", etag.as_str())],
        )
        .await;
    assert_eq!(read.code(), "InvalidRequestHeader");
    let current = h.get(&target).await;
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(current.body["properties"]["title"], "Echo");
    assert_eq!(current.etag(), etag);
}

#[tokio::test]
async fn the_contract_changes_at_run_time() {
    let h = Harness::new();
    let target = ws("/apis/echo-api");
    let body = with_custom(&api_body("Echo"), json!({"apilink": 1}));
    assert_eq!(
        h.put(&target, body.clone()).await.status,
        StatusCode::BAD_REQUEST
    );
    h.apic.set_contract(ApicContract::lax());
    assert_eq!(h.apic.contract(), ApicContract::lax());
    assert_eq!(h.put(&target, body).await.status, StatusCode::CREATED);
    let refused = ApicContract {
        conditional_headers: ConditionalHeaders::Refused,
        ..ApicContract::lax()
    };
    h.apic.set_contract(refused);
    assert_eq!(
        h.put_with(&target, api_body("Echo"), &[("if-match", "*")])
            .await
            .code(),
        "InvalidRequestHeader"
    );
}

async fn import_reply(h: &Harness) -> Reply {
    h.seed().await;
    h.post(
        &ws("/apis/echo-api/versions/ver-1/definitions/openapi/importSpecification"),
        json!({
            "format": "inline",
            "value": r#"{"openapi":"3.0.1","info":{"title":"Echo","version":"1.0"},"paths":{}}"#,
            "specification": {"name": "openapi", "version": "3.0.1"}
        }),
    )
    .await
}

#[tokio::test]
async fn strict_imports_advertise_only_the_location() {
    let h = Harness::new();
    let reply = import_reply(&h).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.header("azure-asyncoperation"), None);
    assert_eq!(reply.header("retry-after"), Some("1"));
    let location = reply.header("location").expect("Location");
    let location = location
        .strip_prefix(&format!("https://{HOST}"))
        .expect("same host");
    let running = h.get(location).await;
    assert_eq!(running.status, StatusCode::ACCEPTED);
    assert_eq!(running.header("retry-after"), Some("1"));
    let done = h.get(location).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body, Value::Null);
}

#[tokio::test]
async fn lax_imports_advertise_both_polling_urls() {
    let h = Harness::with_contract(ApicContract {
        import_answer: ImportAnswer::LocationAndAsyncOperation,
        ..ApicContract::strict()
    });
    let reply = import_reply(&h).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert!(reply.header("location").is_some());
    assert!(reply.header("retry-after").is_some());
    let status = reply
        .header("azure-asyncoperation")
        .expect("Azure-AsyncOperation");
    assert!(status.contains("/operationStatuses/"), "{status}");
    let h = Harness::with_contract(ApicContract::lax());
    assert!(
        import_reply(&h)
            .await
            .header("azure-asyncoperation")
            .is_some()
    );
}
