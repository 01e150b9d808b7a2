//! Paging and filters, the derived lifecycle stage, plan limits.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::apic::{ApicLimits, ApicOptions};

#[tokio::test]
async fn lists_page_with_opaque_skip_tokens() {
    let options = ApicOptions {
        page_size: 3,
        ..ApicOptions::default()
    };
    let h = Harness::with(options, no_links());
    for i in 0..8 {
        let kind = if i % 2 == 0 { "rest" } else { "graphql" };
        let reply = h
            .put(
                &ws(&format!("/apis/api-{i:02}")),
                json!({"properties": {"title": format!("API {i}"), "kind": kind}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let mut names = Vec::new();
    let mut next = Some(ws("/apis"));
    let mut pages = 0;
    while let Some(link) = next.take() {
        pages += 1;
        assert!(pages <= 10, "paging does not end");
        let target = link
            .strip_prefix(&format!("https://{HOST}"))
            .unwrap_or(&link)
            .to_string();
        let reply = h.get(&target).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(reply.body.get("count").is_none());
        let value = reply.body["value"].as_array().expect("value");
        assert!(value.len() <= 3);
        names.extend(
            value
                .iter()
                .filter_map(|a| a["name"].as_str().map(str::to_string)),
        );
        if let Some(link) = reply.body.get("nextLink").and_then(Value::as_str) {
            assert!(
                link.starts_with(&format!("https://{HOST}/subscriptions/")),
                "{link}"
            );
            assert!(link.contains("api-version=2024-03-01"), "{link}");
            assert!(link.contains("$skipToken="), "{link}");
            next = Some(link.to_string());
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..8).map(|i| format!("api-{i:02}")).collect();
    assert_eq!(names, expected);

    let filtered = h
        .get(&format!("{}?$filter=kind%20eq%20'graphql'", ws("/apis")))
        .await;
    assert_eq!(filtered.status, StatusCode::OK);
    let first: Vec<&str> = filtered.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(first, ["api-01", "api-03", "api-05"]);
    let link = filtered.body["nextLink"].as_str().expect("nextLink");
    assert!(link.contains("$filter="));
    let second = h
        .get(
            link.strip_prefix(&format!("https://{HOST}"))
                .expect("same host"),
        )
        .await;
    assert_eq!(second.body["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(second.body["value"][0]["name"], "api-07");
    assert!(second.body.get("nextLink").is_none());

    let by_name = h
        .get(&format!("{}?$filter=name%20eq%20'API-04'", ws("/apis")))
        .await;
    assert_eq!(by_name.body["value"].as_array().map(Vec::len), Some(1));
    let by_title = h
        .get(&format!(
            "{}?$filter=properties/title%20eq%20'API%202'",
            ws("/apis")
        ))
        .await;
    assert_eq!(by_title.body["value"][0]["name"], "api-02");
    let unsupported = h
        .get(&format!("{}?$filter=startswith(name,'a')", ws("/apis")))
        .await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
    let bad_token = h.get(&format!("{}?$skipToken=%%%", ws("/apis"))).await;
    assert_eq!(bad_token.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn api_lifecycle_stage_is_derived_from_versions() {
    let h = Harness::new();
    h.put(&ws("/apis/echo-api"), api_body("Echo")).await;
    let stage = |reply: Reply| reply.body["properties"]["lifecycleStage"].clone();
    assert_eq!(stage(h.get(&ws("/apis/echo-api")).await), "design");
    let before = h.get(&ws("/apis/echo-api")).await.etag();
    h.put(
        &ws("/apis/echo-api/versions/ver-1"),
        version_body("production"),
    )
    .await;
    let after = h.get(&ws("/apis/echo-api")).await;
    assert_ne!(after.etag(), before, "a derived change is a change");
    assert_eq!(stage(after), "production");
    h.put(
        &ws("/apis/echo-api/versions/ver-0"),
        version_body("retired"),
    )
    .await;
    assert_eq!(stage(h.get(&ws("/apis/echo-api")).await), "production");
    h.put(
        &ws("/apis/echo-api/versions/ver-2"),
        version_body("preview"),
    )
    .await;
    assert_eq!(stage(h.get(&ws("/apis/echo-api")).await), "production");
    h.put(
        &ws("/apis/echo-api/versions/ver-1"),
        version_body("deprecated"),
    )
    .await;
    assert_eq!(stage(h.get(&ws("/apis/echo-api")).await), "preview");
    h.delete(&ws("/apis/echo-api/versions/ver-2")).await;
    assert_eq!(stage(h.get(&ws("/apis/echo-api")).await), "deprecated");
    let filtered = h
        .get(&format!(
            "{}?$filter=lifecycleStage%20eq%20'deprecated'",
            ws("/apis")
        ))
        .await;
    assert_eq!(filtered.body["value"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn plan_limits_reject_creates_but_not_replaces() {
    let options = ApicOptions {
        limits: ApicLimits {
            apis: 2,
            versions_per_api: 2,
            definitions_per_version: 1,
            deployments_per_api: 1,
            environments: 1,
            ..ApicLimits::standard()
        },
        ..ApicOptions::default()
    };
    let h = Harness::with(options, no_links());
    h.seed().await;
    let over = [
        (ws("/apis/api-two"), api_body("Two"), true),
        (ws("/apis/api-three"), api_body("Three"), false),
        (
            ws("/apis/echo-api/versions/ver-2"),
            version_body("design"),
            true,
        ),
        (
            ws("/apis/echo-api/versions/ver-3"),
            version_body("design"),
            false,
        ),
        (
            ws("/apis/echo-api/versions/ver-1/definitions/second"),
            definition_body(),
            false,
        ),
        (ws("/environments/second"), environment_body(), false),
        (
            ws("/apis/echo-api/deployments/dep-1"),
            json!({"properties": {}}),
            true,
        ),
        (
            ws("/apis/echo-api/deployments/dep-2"),
            json!({"properties": {}}),
            false,
        ),
    ];
    for (target, body, allowed) in over {
        let reply = h.put(&target, body).await;
        if allowed {
            assert_eq!(reply.status, StatusCode::CREATED, "{target}");
        } else {
            assert_eq!(reply.status, StatusCode::CONFLICT, "{target}");
            assert_eq!(reply.code(), "QuotaExceeded");
        }
    }
    assert_eq!(
        h.put(&ws("/apis/echo-api"), api_body("Replaced"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(ApicLimits::default(), ApicLimits::standard());
    assert_eq!(ApicLimits::standard().apis, 10_000);
    assert_eq!(ApicLimits::free().versions_per_api, 5);
}
