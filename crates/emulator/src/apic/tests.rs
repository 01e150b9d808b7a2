//! Tests of the API Center module, driven through `ApiCenter::router()` with
//! `tower::ServiceExt::oneshot`. This file holds the harness; the tests are in `tests/`.

mod contract;
mod crud;
mod import;
mod listing;
mod validation;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{ApiCenter, ApicOptions, LinkFetcher};
use crate::config::ApicContract;

pub(super) const SUB: &str = "00000000-0000-0000-0000-0000000000a1";
pub(super) const RG: &str = "rg-apilink";
pub(super) const SVC: &str = "contoso-catalog";
pub(super) const HOST: &str = "emulator.test:8443";

pub(super) fn service_path() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ApiCenter/services/{SVC}")
}

pub(super) fn ws(rest: &str) -> String {
    format!("{}/workspaces/default{rest}", service_path())
}

pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(super) fn etag(&self) -> String {
        self.header("etag").expect("ETag header").to_string()
    }

    pub(super) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub(super) fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    pub(super) fn target(&self) -> &str {
        self.body["error"]["target"].as_str().unwrap_or_default()
    }
}

pub(super) struct Harness {
    pub apic: Arc<ApiCenter>,
    router: Router,
}

pub(super) fn no_links() -> LinkFetcher {
    Arc::new(|_: &str| None)
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with(ApicOptions::default(), no_links())
    }

    pub(super) fn with_contract(contract: ApicContract) -> Self {
        Self::with(
            ApicOptions {
                contract,
                ..ApicOptions::default()
            },
            no_links(),
        )
    }

    pub(super) fn with(options: ApicOptions, fetcher: LinkFetcher) -> Self {
        let apic = ApiCenter::new(options, fetcher);
        let router = apic.router();
        Harness { apic, router }
    }

    /// Sends a request; `target` is a path, optionally with a query (api-version is added
    /// unless the query already has one, as a client following nextLink would).
    pub(super) async fn send(
        &self,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let uri = if target.contains("api-version=") {
            target.to_string()
        } else if target.contains('?') {
            format!("{target}&api-version=2024-03-01")
        } else {
            format!("{target}?api-version=2024-03-01")
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", HOST);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(super) async fn get(&self, target: &str) -> Reply {
        self.send(Method::GET, target, None, &[]).await
    }

    pub(super) async fn head(&self, target: &str) -> Reply {
        self.send(Method::HEAD, target, None, &[]).await
    }

    pub(super) async fn put(&self, target: &str, body: Value) -> Reply {
        self.send(
            Method::PUT,
            target,
            Some(body.to_string().into_bytes()),
            &[],
        )
        .await
    }

    pub(super) async fn put_with(
        &self,
        target: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send(
            Method::PUT,
            target,
            Some(body.to_string().into_bytes()),
            headers,
        )
        .await
    }

    pub(super) async fn delete(&self, target: &str) -> Reply {
        self.send(Method::DELETE, target, None, &[]).await
    }

    pub(super) async fn post(&self, target: &str, body: Value) -> Reply {
        self.send(
            Method::POST,
            target,
            Some(body.to_string().into_bytes()),
            &[],
        )
        .await
    }

    /// Creates API `echo-api` with version `v1` (stage `design`), definition `openapi` and
    /// environment `prod`, asserting each write succeeds.
    pub(super) async fn seed(&self) {
        for (target, body) in [
            (ws("/apis/echo-api"), api_body("Echo API")),
            (ws("/apis/echo-api/versions/ver-1"), version_body("design")),
            (
                ws("/apis/echo-api/versions/ver-1/definitions/openapi"),
                definition_body(),
            ),
            (ws("/environments/prod"), environment_body()),
        ] {
            let reply = self.put(&target, body).await;
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "{target}: {}",
                reply.body
            );
        }
    }
}

/// Declares metadata schema `name` (any JSON value) for the given entity kinds, optional.
pub(super) async fn declare(h: &Harness, name: &str, entities: &[&str]) {
    let assigned: Vec<Value> = entities
        .iter()
        .map(|entity| json!({ "entity": entity }))
        .collect();
    let reply = h
        .put(
            &format!("{}/metadataSchemas/{name}", service_path()),
            json!({ "properties": { "schema": "{}", "assignedTo": assigned } }),
        )
        .await;
    assert!(reply.status.is_success(), "{name}: {}", reply.body);
}

pub(super) fn api_body(title: &str) -> Value {
    json!({ "properties": { "title": title, "kind": "rest" } })
}

pub(super) fn version_body(stage: &str) -> Value {
    json!({ "properties": { "title": "Version 1", "lifecycleStage": stage } })
}

pub(super) fn definition_body() -> Value {
    json!({ "properties": { "title": "OpenAPI", "description": "The OpenAPI document" } })
}

pub(super) fn environment_body() -> Value {
    json!({ "properties": {
        "title": "Contoso production",
        "kind": "production",
        "server": {
            "type": "Azure API Management",
            "managementPortalUri": ["https://portal.azure.com/#resource/contoso-apim"]
        },
        "onboarding": {
            "instructions": "Ask the platform team.",
            "developerPortalUri": ["https://contoso.developer.azure-api.net"]
        }
    }})
}

pub(super) fn deployment_body(environment_id: &str, definition_id: &str) -> Value {
    json!({ "properties": {
        "title": "Production deployment",
        "description": "Gateway deployment",
        "environmentId": environment_id,
        "definitionId": definition_id,
        "state": "active",
        "server": { "runtimeUri": ["https://contoso.azure-api.net/echo"] }
    }})
}
