//! importSpecification as a long-running operation, exportSpecification, and their failures.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{HOST, Harness, Reply, SVC, no_links, ws};
use crate::apic::{ApicOptions, LinkFetcher};
use crate::config::{ApicContract, ImportAnswer};

const DEFINITION: &str = "/apis/echo-api/versions/ver-1/definitions/openapi";

const OPENAPI_JSON: &str =
    r#"{"openapi":"3.0.1","info":{"title":"Echo","version":"1.0"},"paths":{}}"#;
const OPENAPI_YAML: &str = "openapi: 3.0.3\ninfo:\n  title: Echo\n  version: '1.0'\npaths: {}\n";
const SWAGGER_JSON: &str =
    r#"{"swagger":"2.0","info":{"title":"Echo","version":"1.0"},"paths":{}}"#;
const WSDL: &str = r#"<?xml version="1.0"?><wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" name="Echo"></wsdl:definitions>"#;

fn definition() -> String {
    ws(DEFINITION)
}

fn import_body(format: &str, value: &str, name: &str, version: Option<&str>) -> Value {
    let mut specification = json!({ "name": name });
    if let Some(version) = version {
        specification["version"] = json!(version);
    }
    json!({ "format": format, "value": value, "specification": specification })
}

/// The path and query of an absolute URL this emulator handed out (same host).
fn local(url: &str) -> String {
    url.strip_prefix(&format!("https://{HOST}"))
        .unwrap_or_else(|| panic!("{url} is not on {HOST}"))
        .to_string()
}

struct Started {
    result_url: String,
    /// Advertised only under `ImportAnswer::LocationAndAsyncOperation`.
    status_url: Option<String>,
}

/// Imports get both polling URLs advertised.
fn with_status_url() -> Harness {
    Harness::with_contract(ApicContract {
        import_answer: ImportAnswer::LocationAndAsyncOperation,
        ..ApicContract::strict()
    })
}

async fn start_import(h: &Harness, body: Value) -> Started {
    let reply = h
        .post(&format!("{}/importSpecification", definition()), body)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("1"));
    let result_url = reply.header("location").expect("Location").to_string();
    let status_url = reply.header("azure-asyncoperation").map(str::to_string);
    assert_eq!(
        status_url.is_some(),
        h.apic.contract().import_answer == ImportAnswer::LocationAndAsyncOperation
    );
    for url in std::iter::once(&result_url).chain(status_url.as_ref()) {
        assert!(
            url.starts_with(&format!("https://{HOST}/subscriptions/")),
            "{url}"
        );
        assert!(
            url.contains("providers/Microsoft.ApiCenter/locations/"),
            "{url}"
        );
        assert!(url.ends_with("?api-version=2024-03-01"), "{url}");
    }
    Started {
        result_url: local(&result_url),
        status_url: status_url.as_deref().map(local),
    }
}

async fn status(h: &Harness, started: &Started) -> Reply {
    let url = started.status_url.as_ref().expect("status URL advertised");
    let reply = h.get(url).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

/// Polls the Location URL until it stops answering 202, at most `bound` times.
async fn finish(h: &Harness, started: &Started, bound: usize) -> Reply {
    for _ in 0..bound {
        let reply = h.get(&started.result_url).await;
        if reply.status != StatusCode::ACCEPTED {
            return reply;
        }
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    panic!("operation still running after {bound} polls");
}

async fn export(h: &Harness) -> Reply {
    h.post(&format!("{}/exportSpecification", definition()), json!({}))
        .await
}

fn fetcher(links: &[(&str, &str)]) -> LinkFetcher {
    let links: HashMap<String, String> = links
        .iter()
        .map(|(url, content)| ((*url).to_string(), (*content).to_string()))
        .collect();
    Arc::new(move |url: &str| links.get(url).cloned())
}

#[tokio::test]
async fn inline_import_is_a_long_running_operation() {
    let h = with_status_url();
    h.seed().await;
    let started = start_import(
        &h,
        import_body("inline", OPENAPI_JSON, "openapi", Some("3.0.1")),
    )
    .await;

    // Nothing is visible before the operation completes.
    let before = h.get(&definition()).await;
    assert!(before.body["properties"].get("specification").is_none());
    assert_eq!(export(&h).await.status, StatusCode::BAD_REQUEST);

    let running = status(&h, &started).await;
    assert_eq!(running.body["status"], "InProgress");
    assert!(running.body["startTime"].is_string());
    assert!(running.body.get("endTime").is_none());
    assert!(
        running.body["id"]
            .as_str()
            .is_some_and(|id| id.contains("/operationStatuses/"))
    );
    assert!(
        h.get(&definition()).await.body["properties"]
            .get("specification")
            .is_none()
    );

    let done = status(&h, &started).await;
    assert_eq!(done.body["status"], "Succeeded");
    assert!(done.body["endTime"].is_string());
    let result = h.get(&started.result_url).await;
    assert_eq!(result.status, StatusCode::OK);
    assert_eq!(result.body, Value::Null);

    let after = h.get(&definition()).await;
    assert_eq!(
        after.body["properties"]["specification"],
        json!({"name": "openapi", "version": "3.0.1"})
    );
    assert_ne!(after.etag(), before.etag());
    let exported = export(&h).await;
    assert_eq!(exported.status, StatusCode::OK);
    assert_eq!(
        exported.body,
        json!({"format": "inline", "value": OPENAPI_JSON})
    );

    let snapshot = h.apic.snapshot(SVC).expect("snapshot");
    let node = &snapshot["workspaces"]["default"]["apis"]["echo-api"]["versions"]["ver-1"]["definitions"]
        ["openapi"];
    assert_eq!(node["content"], OPENAPI_JSON);
    assert_eq!(snapshot["operations"][0]["status"], "Succeeded");
}

#[tokio::test]
async fn polls_on_either_url_count_towards_completion() {
    let options = ApicOptions {
        lro_polls_before_done: 3,
        lro_retry_after_secs: 7,
        contract: ApicContract::lax(),
        ..ApicOptions::default()
    };
    let h = Harness::with(options, no_links());
    h.seed().await;
    let reply = h
        .post(
            &format!("{}/importSpecification", definition()),
            import_body("inline", OPENAPI_YAML, "openapi", None),
        )
        .await;
    assert_eq!(reply.header("retry-after"), Some("7"));
    let started = Started {
        status_url: Some(local(reply.header("azure-asyncoperation").expect("header"))),
        result_url: local(reply.header("location").expect("header")),
    };
    let first = h.get(&started.result_url).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(first.header("retry-after"), Some("7"));
    assert_eq!(
        local(first.header("location").expect("Location")),
        started.result_url
    );
    assert_eq!(status(&h, &started).await.body["status"], "InProgress");
    assert_eq!(
        h.get(&started.result_url).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(h.get(&started.result_url).await.status, StatusCode::OK);
    assert_eq!(status(&h, &started).await.body["status"], "Succeeded");
    // The YAML document's own version is recorded when none is declared.
    let after = h.get(&definition()).await;
    assert_eq!(
        after.body["properties"]["specification"]["version"],
        "3.0.3"
    );
}

#[tokio::test]
async fn slow_operation_fault_adds_polls_to_the_next_operation() {
    let h = Harness::new();
    h.seed().await;
    h.apic.add_slow_lro_polls(2);
    let slow = start_import(&h, import_body("inline", OPENAPI_JSON, "openapi", None)).await;
    for _ in 0..3 {
        assert_eq!(h.get(&slow.result_url).await.status, StatusCode::ACCEPTED);
    }
    assert_eq!(h.get(&slow.result_url).await.status, StatusCode::OK);
    // Used up: the following operation is back to normal.
    let normal = start_import(
        &h,
        import_body("inline", SWAGGER_JSON, "openapi", Some("2.0")),
    )
    .await;
    assert_eq!(h.get(&normal.result_url).await.status, StatusCode::ACCEPTED);
    assert_eq!(h.get(&normal.result_url).await.status, StatusCode::OK);
    assert_eq!(export(&h).await.body["value"], SWAGGER_JSON);
}

#[tokio::test]
async fn link_import_reads_through_the_fetcher() {
    let link = "https://contoso-apim.blob.example/export/echo.json?sig=abc";
    let h = Harness::with(ApicOptions::default(), fetcher(&[(link, OPENAPI_JSON)]));
    h.seed().await;
    let started = start_import(&h, import_body("link", link, "openapi", Some("3.0.1"))).await;
    assert_eq!(finish(&h, &started, 5).await.status, StatusCode::OK);
    assert_eq!(export(&h).await.body["value"], OPENAPI_JSON);
}

#[tokio::test]
async fn failed_link_fetch_fails_the_operation_and_keeps_the_content() {
    let h = Harness::new();
    h.seed().await;
    let first = start_import(&h, import_body("inline", OPENAPI_JSON, "openapi", None)).await;
    assert_eq!(finish(&h, &first, 5).await.status, StatusCode::OK);

    let broken = start_import(
        &h,
        import_body("link", "https://gone.example/spec.json", "openapi", None),
    )
    .await;
    let failed = finish(&h, &broken, 5).await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    assert_eq!(failed.code(), "SpecificationLinkNotAccessible");
    assert!(!failed.message().is_empty());
    // A finished operation answers the same on every later poll.
    let again = h.get(&broken.result_url).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body, failed.body);
    assert_eq!(export(&h).await.body["value"], OPENAPI_JSON);
}

#[tokio::test]
async fn documents_that_do_not_match_their_specification_fail() {
    let h = Harness::new();
    h.seed().await;
    let cases = [
        import_body("inline", r#"{"info":{"title":"x"}}"#, "openapi", None),
        import_body("inline", "this: [is: not yaml", "openapi", None),
        import_body("inline", OPENAPI_JSON, "openapi", Some("3.1.0")),
        import_body("inline", SWAGGER_JSON, "openapi", Some("3.0.1")),
        import_body("inline", OPENAPI_JSON, "wsdl", None),
        import_body("inline", "<xsd:schema/>", "wsdl", None),
        import_body("inline", "title: not asyncapi", "asyncapi", None),
        import_body("inline", "not raml", "raml", None),
    ];
    for body in cases {
        let started = start_import(&h, body.clone()).await;
        let done = finish(&h, &started, 5).await;
        assert_eq!(done.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(done.code(), "InvalidApiSpecification", "{body}");
    }
    assert!(
        h.get(&definition()).await.body["properties"]
            .get("specification")
            .is_none()
    );

    for (content, name, version) in [
        (WSDL, "wsdl", None),
        ("type Query { echo: String }", "graphql", None),
        (SWAGGER_JSON, "openapi", Some("2.0")),
        (OPENAPI_JSON, "openapi", Some("3.0")),
    ] {
        let started = start_import(&h, import_body("inline", content, name, version)).await;
        assert_eq!(
            finish(&h, &started, 5).await.status,
            StatusCode::OK,
            "{name}"
        );
    }
    let spec = h.get(&definition()).await.body["properties"]["specification"].clone();
    assert_eq!(spec, json!({"name": "openapi", "version": "3.0"}));
}

#[tokio::test]
async fn malformed_import_requests_are_rejected_at_once() {
    let h = Harness::new();
    h.seed().await;
    let target = format!("{}/importSpecification", definition());
    let cases = [
        (
            json!({"format": "file", "value": "x", "specification": {"name": "openapi"}}),
            "format",
        ),
        (
            json!({"value": "x", "specification": {"name": "openapi"}}),
            "format",
        ),
        (
            json!({"format": "inline", "specification": {"name": "openapi"}}),
            "value",
        ),
        (
            json!({"format": "inline", "value": "  ", "specification": {"name": "openapi"}}),
            "value",
        ),
        (json!({"format": "inline", "value": "x"}), "specification"),
        (
            json!({"format": "inline", "value": "x", "specification": {"name": "swagger"}}),
            "specification.name",
        ),
        // The published example's `specification.value` is not a schema member.
        (
            json!({"format": "inline", "value": "x", "specification": {"name": "openapi", "value": "3.0.1"}}),
            "specification.value",
        ),
        (
            json!({"format": "link", "value": "http://plain.example/x", "specification": {"name": "openapi"}}),
            "value",
        ),
        (
            json!({"format": "inline", "value": "x", "specification": {"name": "openapi"}, "extra": 1}),
            "extra",
        ),
    ];
    for (body, member) in cases {
        let reply = h.post(&target, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{member}: {}",
            reply.body
        );
        assert_eq!(reply.target(), member);
    }
    let malformed = h
        .send(axum::http::Method::POST, &target, Some(b"{".to_vec()), &[])
        .await;
    assert_eq!(malformed.code(), "InvalidRequestContent");
    let missing = h
        .post(
            &ws("/apis/echo-api/versions/ver-1/definitions/nope/importSpecification"),
            import_body("inline", OPENAPI_JSON, "openapi", None),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let no_op = h.apic.snapshot(SVC).expect("snapshot");
    assert_eq!(no_op["operations"], json!([]));
}

#[tokio::test]
async fn inline_documents_are_size_limited() {
    let mut options = ApicOptions::default();
    options.limits.max_inline_specification_bytes = 64;
    let h = Harness::with(options, no_links());
    h.seed().await;
    let big = format!(
        r#"{{"openapi":"3.0.1","info":{{"title":"{}"}}}}"#,
        "x".repeat(80)
    );
    let reply = h
        .post(
            &format!("{}/importSpecification", definition()),
            import_body("inline", &big, "openapi", None),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.target(), "value");
}

#[tokio::test]
async fn deleting_the_definition_fails_a_running_import() {
    let h = Harness::new();
    h.seed().await;
    let started = start_import(&h, import_body("inline", OPENAPI_JSON, "openapi", None)).await;
    assert_eq!(h.delete(&definition()).await.status, StatusCode::OK);
    let done = finish(&h, &started, 5).await;
    assert_eq!(done.status, StatusCode::NOT_FOUND);
    assert_eq!(done.code(), "ResourceNotFound");
    let unknown = h
        .get(
            &started
                .result_url
                .replace("operationResults/", "operationResults/0"),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn export_without_import_is_a_bad_request() {
    let h = Harness::new();
    h.seed().await;
    let reply = export(&h).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "SpecificationNotFound");
    let missing = h
        .post(
            &ws("/apis/echo-api/versions/ver-1/definitions/nope/exportSpecification"),
            json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
