//! API Center's contract profiles over real HTTPS: the strict default, switching at run time
//! (handle and admin route), imports that fail on their Location poll, conditional headers.

#![allow(clippy::unwrap_used)]

mod common;

use apilink_emulator::{
    ApicContract, ConditionalHeaders, Emulator, EmulatorConfig, FaultKind, FaultRule, ImportAnswer,
    UndeclaredCustomProperties,
};
use common::{APIC, admin_url, apic_url, start, token};
use serde_json::{Value, json};

const DEFINITION: &str = "/workspaces/default/apis/echo/versions/v-one/definitions/openapi";

struct Session {
    em: Emulator,
    client: reqwest::Client,
    token: String,
}

impl Session {
    async fn new(config: EmulatorConfig) -> Self {
        let (em, client) = start(config).await;
        let token = token(&em, &client).await;
        Session { em, client, token }
    }

    fn url(&self, suffix: &str) -> String {
        apic_url(
            &self.em,
            "contoso-catalog",
            &format!("{suffix}?api-version={APIC}"),
        )
    }

    async fn put(&self, suffix: &str, body: Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .client
            .put(self.url(suffix))
            .bearer_auth(&self.token)
            .json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.client
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    /// API `echo`, version `v-one`, definition `openapi`.
    async fn definition(&self) {
        for (suffix, body) in [
            (
                "/workspaces/default/apis/echo",
                json!({"properties": {"title": "Echo", "kind": "rest"}}),
            ),
            (
                "/workspaces/default/apis/echo/versions/v-one",
                json!({"properties": {"title": "v-one", "lifecycleStage": "design"}}),
            ),
            (DEFINITION, json!({"properties": {"title": "OpenAPI"}})),
        ] {
            let response = self.put(suffix, body, &[]).await;
            assert!(response.status().is_success(), "{suffix}");
        }
    }

    async fn import(&self) -> reqwest::Response {
        let spec =
            json!({"openapi": "3.0.1", "info": {"title": "Echo", "version": "1"}, "paths": {}})
                .to_string();
        self.client
            .post(apic_url(
                &self.em,
                "contoso-catalog",
                &format!("{DEFINITION}/importSpecification?api-version={APIC}"),
            ))
            .bearer_auth(&self.token)
            .json(&json!({"format": "inline", "value": spec, "specification": {"name": "openapi", "version": "3.0.1"}}))
            .send()
            .await
            .unwrap()
    }

    /// Polls a Location URL until it stops answering 202; returns status and body text.
    async fn finish(&self, location: &str) -> (u16, String) {
        for _ in 0..20 {
            let response = self.get(location).await;
            if response.status() != 202 {
                let status = response.status().as_u16();
                return (status, response.text().await.unwrap());
            }
            assert!(response.headers().get("retry-after").is_some());
        }
        panic!("the import never finished");
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn the_default_is_strict_and_the_admin_route_switches_it() {
    let s = Session::new(EmulatorConfig::default()).await;
    assert_eq!(s.em.apic_contract(), ApicContract::strict());
    let body = json!({"properties": {
        "title": "Production", "kind": "production",
        "customProperties": {"apilink": {"source": "contoso-apim"}}
    }});
    let refused = s
        .put("/workspaces/default/environments/prod", body.clone(), &[])
        .await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "ValidationError");
    assert_eq!(
        error["error"]["message"],
        "Custom property 'apilink' is not defined by any metadata schema assigned to 'environment'"
    );
    assert_eq!(
        error["error"]["target"],
        "properties.customProperties.apilink"
    );

    let current: Value = s
        .client
        .get(admin_url(&s.em, "/apic-contract"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        current,
        json!({
            "undeclared_custom_properties": "refused",
            "enforce_custom_property_limits": true,
            "conditional_headers": "ignored",
            "import_answer": "location-only",
        })
    );
    let lax = json!({
        "undeclared_custom_properties": "kept",
        "enforce_custom_property_limits": false,
        "conditional_headers": "honoured",
        "import_answer": "location-and-async-operation",
    });
    let switched = s
        .client
        .put(admin_url(&s.em, "/apic-contract"))
        .json(&lax)
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 200);
    assert_eq!(switched.json::<Value>().await.unwrap(), lax);
    assert_eq!(s.em.apic_contract(), ApicContract::lax());
    let kept = s
        .put("/workspaces/default/environments/prod", body, &[])
        .await;
    assert_eq!(kept.status(), 201);

    let bad = s
        .client
        .put(admin_url(&s.em, "/apic-contract"))
        .json(&json!({"conditional_headers": "sometimes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(s.em.apic_contract(), ApicContract::lax());

    s.em.set_apic_contract(ApicContract::strict());
    let again: Value = s
        .client
        .get(admin_url(&s.em, "/apic-contract"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, current);
}

#[tokio::test]
async fn an_accepted_import_can_fail_on_its_location_poll() {
    let s = Session::new(EmulatorConfig::default()).await;
    s.definition().await;
    let added = s
        .client
        .post(admin_url(&s.em, "/faults"))
        .json(&json!({
            "method": "POST", "path_contains": "/importSpecification", "times": 1,
            "kind": {"type": "import_fails", "code": "InvalidApiSpecification",
                     "message": "The document is not a valid OpenAPI 3.0.1 document."}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);

    let accepted = s.import().await;
    assert_eq!(accepted.status(), 202);
    assert_eq!(header(&accepted, "azure-asyncoperation"), None);
    assert!(header(&accepted, "retry-after").is_some());
    let location = header(&accepted, "location").unwrap();
    let (status, text) = s.finish(&location).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body,
        json!({"error": {
            "code": "InvalidApiSpecification",
            "message": "The document is not a valid OpenAPI 3.0.1 document."
        }})
    );
    let import_calls: Vec<_> =
        s.em.calls()
            .into_iter()
            .filter(|c| c.path.ends_with("/importSpecification"))
            .collect();
    assert_eq!(
        import_calls[0].fault.as_deref(),
        Some("import_fails:InvalidApiSpecification")
    );
    // Nothing was imported.
    let definition: Value = s.get(&s.url(DEFINITION)).await.json().await.unwrap();
    assert!(definition["properties"].get("specification").is_none());

    // The rule is spent: the next import succeeds, and its Location answers 200 without a body.
    let next = s.import().await;
    assert_eq!(next.status(), 202);
    let (status, text) = s.finish(&header(&next, "location").unwrap()).await;
    assert_eq!((status, text.as_str()), (200, ""));
    let definition: Value = s.get(&s.url(DEFINITION)).await.json().await.unwrap();
    assert_eq!(definition["properties"]["specification"]["name"], "openapi");

    // Through the handle, without a message: one is generated.
    s.em.add_fault(
        FaultRule::new(FaultKind::ImportFails {
            code: "SpecificationLinkNotAccessible".into(),
            message: String::new(),
        })
        .path_contains("/importSpecification")
        .times(1),
    );
    let failing = s.import().await;
    assert_eq!(failing.status(), 202);
    let (status, text) = s.finish(&header(&failing, "location").unwrap()).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "SpecificationLinkNotAccessible");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SpecificationLinkNotAccessible")
    );
}

#[tokio::test]
async fn lax_imports_advertise_the_status_url_too() {
    let s = Session::new(EmulatorConfig {
        apic_contract: ApicContract::lax(),
        ..EmulatorConfig::default()
    })
    .await;
    s.definition().await;
    s.em.add_fault(
        FaultRule::new(FaultKind::ImportFails {
            code: "InvalidApiSpecification".into(),
            message: "broken".into(),
        })
        .path_contains("/importSpecification")
        .times(1),
    );
    let accepted = s.import().await;
    assert_eq!(accepted.status(), 202);
    let status_url = header(&accepted, "azure-asyncoperation").unwrap();
    assert!(header(&accepted, "location").is_some());
    let mut last = Value::Null;
    for _ in 0..5 {
        last = s.get(&status_url).await.json().await.unwrap();
        if last["status"] != "InProgress" {
            break;
        }
    }
    assert_eq!(last["status"], "Failed");
    assert_eq!(
        last["error"],
        json!({"code": "InvalidApiSpecification", "message": "broken"})
    );
}

#[tokio::test]
async fn conditional_headers_follow_the_contract() {
    let s = Session::new(EmulatorConfig::default()).await;
    let api = "/workspaces/default/apis/echo";
    let body = json!({"properties": {"title": "Echo", "kind": "rest"}});
    let stale = "\"00000000-0000-0000-0000-000000000000\"";
    assert_eq!(s.put(api, body.clone(), &[]).await.status(), 201);

    // Ignored (the strict default): a stale If-Match changes nothing about the answer.
    assert_eq!(
        s.put(api, body.clone(), &[("If-Match", stale)])
            .await
            .status(),
        200
    );

    s.em.set_apic_contract(ApicContract {
        conditional_headers: ConditionalHeaders::Honoured,
        ..ApicContract::strict()
    });
    let failed = s.put(api, body.clone(), &[("If-Match", stale)]).await;
    assert_eq!(failed.status(), 412);
    let error: Value = failed.json().await.unwrap();
    assert_eq!(error["error"]["code"], "PreconditionFailed");

    s.em.set_apic_contract(ApicContract {
        conditional_headers: ConditionalHeaders::Refused,
        import_answer: ImportAnswer::LocationOnly,
        ..ApicContract::lax()
    });
    let refused = s
        .put(
            api,
            json!({"properties": {"title": "Changed", "kind": "rest"}}),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "InvalidRequestHeader");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'If-None-Match' is not supported"),
        "{error}"
    );
    let current: Value = s.get(&s.url(api)).await.json().await.unwrap();
    assert_eq!(current["properties"]["title"], "Echo");
}

/// Declares the custom property `owner` for APIs, then PUTs an API carrying it and the
/// undeclared `stray`; returns the PUT's status and body, and the API as GET reads it.
async fn put_api_with_an_undeclared_property(s: &Session) -> (u16, Value, Value) {
    let schema = s
        .put(
            "/metadataSchemas/owner",
            json!({"properties": {
                "schema": "{\"type\": \"string\"}",
                "assignedTo": [{"entity": "api", "required": false}]
            }}),
            &[],
        )
        .await;
    assert_eq!(schema.status(), 201);
    let api = "/workspaces/default/apis/echo";
    let put = s
        .put(
            api,
            json!({"properties": {
                "title": "Echo", "kind": "rest",
                "customProperties": {"owner": "team-a", "stray": {"x": 1}}
            }}),
            &[],
        )
        .await;
    let status = put.status().as_u16();
    let body: Value = put.json().await.unwrap();
    let read: Value = s.get(&s.url(api)).await.json().await.unwrap();
    (status, body, read)
}

fn with_undeclared(mode: UndeclaredCustomProperties) -> EmulatorConfig {
    EmulatorConfig {
        apic_contract: ApicContract {
            undeclared_custom_properties: mode,
            ..ApicContract::strict()
        },
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn undeclared_custom_properties_can_be_dropped() {
    let s = Session::new(with_undeclared(UndeclaredCustomProperties::Dropped)).await;
    let (status, body, read) = put_api_with_an_undeclared_property(&s).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["properties"]["customProperties"],
        json!({"owner": "team-a"})
    );
    assert_eq!(
        read["properties"]["customProperties"],
        json!({"owner": "team-a"})
    );
    let snapshot = s.em.api_center().snapshot("contoso-catalog").unwrap();
    assert_eq!(
        snapshot["workspaces"]["default"]["apis"]["echo"]["properties"]["customProperties"],
        json!({"owner": "team-a"})
    );
}

#[tokio::test]
async fn undeclared_custom_properties_can_be_kept() {
    let s = Session::new(with_undeclared(UndeclaredCustomProperties::Kept)).await;
    let (status, body, read) = put_api_with_an_undeclared_property(&s).await;
    assert_eq!(status, 201, "{body}");
    let both = json!({"owner": "team-a", "stray": {"x": 1}});
    assert_eq!(body["properties"]["customProperties"], both);
    assert_eq!(read["properties"]["customProperties"], both);
}

#[tokio::test]
async fn undeclared_custom_properties_can_be_refused() {
    let s = Session::new(with_undeclared(UndeclaredCustomProperties::Refused)).await;
    let (status, body, read) = put_api_with_an_undeclared_property(&s).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": {
            "code": "ValidationError",
            "message": "Custom property 'stray' is not defined by any metadata schema assigned to 'api'",
            "target": "properties.customProperties.stray"
        }})
    );
    assert_eq!(read["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn the_admin_route_reads_and_sets_the_undeclared_custom_property_mode() {
    let s = Session::new(EmulatorConfig::default()).await;
    let put = |body: Value| {
        s.client
            .put(admin_url(&s.em, "/apic-contract"))
            .json(&body)
            .send()
    };
    let answered: Value = put(json!({
        "undeclared_custom_properties": "dropped",
        "enforce_custom_property_limits": true,
        "conditional_headers": "ignored",
        "import_answer": "synchronous",
    }))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(answered["undeclared_custom_properties"], "dropped");
    assert_eq!(answered["import_answer"], "synchronous");
    assert_eq!(
        s.em.apic_contract(),
        ApicContract {
            undeclared_custom_properties: UndeclaredCustomProperties::Dropped,
            import_answer: ImportAnswer::Synchronous,
            ..ApicContract::strict()
        }
    );
    // camelCase names are accepted too.
    let camel = put(json!({
        "undeclaredCustomProperties": "kept",
        "enforceCustomPropertyLimits": false,
        "conditionalHeaders": "honoured",
        "importAnswer": "location-and-async-operation",
    }))
    .await
    .unwrap();
    assert_eq!(camel.status(), 200);
    assert_eq!(s.em.apic_contract(), ApicContract::lax());
    let bad = put(json!({
        "undeclared_custom_properties": "ignored",
        "enforce_custom_property_limits": true,
        "conditional_headers": "ignored",
        "import_answer": "location-only",
    }))
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(s.em.apic_contract(), ApicContract::lax());
}

#[tokio::test]
async fn synchronous_imports_complete_in_the_post() {
    let s = Session::new(EmulatorConfig {
        apic_contract: ApicContract {
            import_answer: ImportAnswer::Synchronous,
            ..ApicContract::strict()
        },
        ..EmulatorConfig::default()
    })
    .await;
    s.definition().await;
    let done = s.import().await;
    assert_eq!(done.status(), 200);
    assert_eq!(header(&done, "location"), None);
    assert_eq!(header(&done, "azure-asyncoperation"), None);
    assert_eq!(header(&done, "retry-after"), None);
    assert_eq!(done.text().await.unwrap(), "");
    let definition: Value = s.get(&s.url(DEFINITION)).await.json().await.unwrap();
    assert_eq!(
        definition["properties"]["specification"],
        json!({"name": "openapi", "version": "3.0.1"})
    );
    let snapshot = s.em.api_center().snapshot("contoso-catalog").unwrap();
    assert_eq!(snapshot["operations"], json!([]));

    // A failing import fails the POST itself, with the import's error, and changes nothing.
    s.em.add_fault(
        FaultRule::new(FaultKind::ImportFails {
            code: "InvalidApiSpecification".into(),
            message: "broken".into(),
        })
        .path_contains("/importSpecification")
        .times(1),
    );
    let failed = s.import().await;
    assert_eq!(failed.status(), 400);
    assert_eq!(header(&failed, "location"), None);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "InvalidApiSpecification", "message": "broken"}})
    );
    let after: Value = s.get(&s.url(DEFINITION)).await.json().await.unwrap();
    assert_eq!(after, definition);
}
