//! Fault injection (status, latency, dropped connections, slow LROs), throttling and the
//! call log, through the Rust handle and the admin routes.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use apilink_emulator::{
    BucketConfig, CallKind, DEFAULT_CLIENT_ID, EmulatorConfig, FaultKind, FaultRule, ThrottleConfig,
};
use common::{APIC, APIM, admin_url, apic_url, apim_url, get_json, start, token};
use serde_json::{Value, json};

#[tokio::test]
async fn injected_429_carries_retry_after_and_is_counted() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    em.clear_calls();
    em.add_fault(
        FaultRule::throttle(7)
            .method("GET")
            .path_contains("/apis")
            .times(2),
    );
    let url = apim_url(&em, "contoso-apim", &format!("/apis?api-version={APIM}"));
    for _ in 0..2 {
        let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers().get("retry-after").unwrap(), "7");
        assert!(response.headers().get("x-ms-request-id").is_some());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "TooManyRequests");
    }
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Other paths were never affected.
    assert_eq!(
        get_json(
            &client,
            &apim_url(&em, "contoso-apim", &format!("?api-version={APIM}")),
            &token
        )
        .await
        .0,
        200
    );

    let calls = em.calls();
    let faulted: Vec<_> = calls
        .iter()
        .filter(|c| c.fault.as_deref() == Some("status:429"))
        .collect();
    assert_eq!(faulted.len(), 2);
    assert!(
        faulted
            .iter()
            .all(|c| c.status == 429 && c.principal.as_deref() == Some(DEFAULT_CLIENT_ID))
    );
    assert_eq!(calls.iter().filter(|c| c.status == 200).count(), 2);
}

#[tokio::test]
async fn faults_configured_over_the_admin_route() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let rule = json!({"method": "GET", "path_contains": "/service/contoso-apim", "kind": {"type": "status", "status": 503, "code": "ServiceUnavailable", "retry_after_secs": 2}, "times": 1});
    let added = client
        .post(admin_url(&em, "/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let listed: Value = client
        .get(admin_url(&em, "/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["faults"].as_array().unwrap().len(), 1);

    let url = apim_url(&em, "contoso-apim", &format!("?api-version={APIM}"));
    let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "2");
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A rule that always fires until cleared.
    let forever = json!({"kind": {"type": "status", "status": 500, "code": "InternalServerError"}, "path_contains": "/apiVersionSets"});
    client
        .post(admin_url(&em, "/faults"))
        .json(&forever)
        .send()
        .await
        .unwrap();
    let sets = apim_url(
        &em,
        "contoso-apim",
        &format!("/apiVersionSets?api-version={APIM}"),
    );
    for _ in 0..3 {
        assert_eq!(get_json(&client, &sets, &token).await.0, 500);
    }
    assert_eq!(
        client
            .delete(admin_url(&em, "/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(get_json(&client, &sets, &token).await.0, 200);

    let bad = json!({"kind": {"type": "status", "status": 500, "code": "x"}, "probability": 2.0});
    assert_eq!(
        client
            .post(admin_url(&em, "/faults"))
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn dropped_connections_are_connection_errors() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    em.add_fault(
        FaultRule::new(FaultKind::DropConnection)
            .path_contains("/apis/echo-api")
            .times(1),
    );
    let url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis/echo-api?api-version={APIM}"),
    );
    let error = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect_err("no HTTP answer");
    assert!(error.status().is_none());
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let dropped: Vec<_> = em
        .calls()
        .into_iter()
        .filter(|c| c.fault.as_deref() == Some("drop"))
        .collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].status, 0);
}

#[tokio::test]
async fn latency_is_added_and_measured() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let url = apim_url(&em, "contoso-apim", &format!("?api-version={APIM}"));
    em.add_fault(FaultRule::new(FaultKind::Latency { ms: 400 }).times(1));
    let started = Instant::now();
    assert_eq!(get_json(&client, &url, &token).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let record = em.calls().into_iter().last().unwrap();
    assert_eq!(record.fault.as_deref(), Some("latency:400ms"));
    assert!(record.duration_ms >= 400);
    let started = Instant::now();
    assert_eq!(get_json(&client, &url, &token).await.0, 200);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the rule was spent"
    );
}

#[tokio::test]
async fn token_endpoint_faults_use_the_aad_shape() {
    let (em, client) = start(EmulatorConfig::default()).await;
    em.add_fault(
        FaultRule::new(FaultKind::Status {
            status: 503,
            code: "temporarily_unavailable".into(),
            retry_after_secs: Some(1),
        })
        .path_contains("/oauth2/")
        .times(1),
    );
    let url = format!(
        "{}{}/oauth2/v2.0/token",
        em.authority_host(),
        em.tenant_id()
    );
    let response = client
        .post(&url)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );
    let _ = token(&em, &client).await;
}

async fn polls_to_finish_import(
    em: &apilink_emulator::Emulator,
    client: &reqwest::Client,
    token: &str,
    api: &str,
) -> u32 {
    let put = |suffix: String, body: Value| {
        let url = apic_url(
            em,
            "contoso-catalog",
            &format!("{suffix}?api-version={APIC}"),
        );
        let client = client.clone();
        let token = token.to_string();
        async move {
            let r = client
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    };
    let base = format!("/workspaces/default/apis/{api}");
    put(
        base.clone(),
        json!({"properties": {"title": "Echo", "kind": "rest"}}),
    )
    .await;
    put(
        format!("{base}/versions/v-one"),
        json!({"properties": {"title": "v-one", "lifecycleStage": "design"}}),
    )
    .await;
    put(
        format!("{base}/versions/v-one/definitions/openapi"),
        json!({"properties": {"title": "OpenAPI"}}),
    )
    .await;
    let spec = json!({"openapi": "3.0.1", "info": {"title": "Echo", "version": "1"}, "paths": {}})
        .to_string();
    let import = apic_url(
        em,
        "contoso-catalog",
        &format!(
            "{base}/versions/v-one/definitions/openapi/importSpecification?api-version={APIC}"
        ),
    );
    let response = client
        .post(import)
        .bearer_auth(token)
        .json(&json!({"format": "inline", "value": spec, "specification": {"name": "openapi", "version": "3.0.1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response
        .headers()
        .get("location")
        .expect("Location")
        .to_str()
        .unwrap()
        .to_string();
    for polls in 1..=20 {
        let r = client
            .get(&location)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if r.status() != 202 {
            assert!(r.status().is_success(), "{}", r.status());
            return polls;
        }
    }
    panic!("the import never finished");
}

#[tokio::test]
async fn slow_lro_adds_polls_to_the_operation_it_starts() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let normal = polls_to_finish_import(&em, &client, &token, "fast").await;
    em.add_fault(
        FaultRule::new(FaultKind::SlowLro { extra_polls: 3 })
            .method("POST")
            .path_contains("importSpecification")
            .times(1),
    );
    let slow = polls_to_finish_import(&em, &client, &token, "slow").await;
    assert_eq!(slow, normal + 3);
}

#[tokio::test]
async fn throttling_counts_per_principal_and_can_be_switched_off() {
    let config = EmulatorConfig {
        throttle: ThrottleConfig {
            enabled: true,
            reads: BucketConfig {
                capacity: 3.0,
                refill_per_sec: 0.2,
            },
            ..ThrottleConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let (em, client) = start(config).await;
    let token = token(&em, &client).await;
    let url = apim_url(&em, "contoso-apim", &format!("?api-version={APIM}"));
    for expected in ["2", "1", "0"] {
        let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("x-ms-ratelimit-remaining-subscription-reads")
                .unwrap(),
            expected
        );
    }
    let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SubscriptionRequestsThrottled");

    // Writes have their own bucket.
    let write = client
        .put(apic_url(
            &em,
            "contoso-catalog",
            &format!("/workspaces/default/apis/a-b-c?api-version={APIC}"),
        ))
        .bearer_auth(&token)
        .json(&json!({"properties": {"title": "A", "kind": "rest"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 201);
    assert_eq!(
        write
            .headers()
            .get("x-ms-ratelimit-remaining-subscription-writes")
            .unwrap(),
        "199"
    );

    let off = client
        .put(admin_url(&em, "/throttle"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    assert_eq!(get_json(&client, &url, &token).await.0, 200);
    em.set_throttling(true);
    assert_eq!(get_json(&client, &url, &token).await.0, 429);
}

#[tokio::test]
async fn the_call_log_records_every_call() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let url = apim_url(
        &em,
        "contoso-apim",
        &format!("/apis?api-version={APIM}&$top=2"),
    );
    let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
    let request_id = response
        .headers()
        .get("x-ms-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let _ = client.get(&url).send().await.unwrap();

    let calls = em.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls.iter().map(|c| c.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let token_call = &calls[0];
    assert_eq!(token_call.kind, CallKind::Token);
    assert_eq!(token_call.method, "POST");
    assert_eq!(token_call.principal.as_deref(), Some(DEFAULT_CLIENT_ID));
    let list = &calls[1];
    assert_eq!(list.kind, CallKind::Arm);
    assert_eq!(list.method, "GET");
    assert_eq!(
        list.path,
        format!("{}/apis", em.apim_resource_id("contoso-apim"))
    );
    assert!(list.query.contains("api-version=2024-05-01") && list.query.contains("$top=2"));
    assert_eq!(list.status, 200);
    assert_eq!(list.principal.as_deref(), Some(DEFAULT_CLIENT_ID));
    assert_eq!(list.request_id.as_deref(), Some(request_id.as_str()));
    assert!(list.fault.is_none());
    assert!(list.at_ms >= token_call.at_ms);
    assert_eq!(calls[2].status, 401);
    assert!(calls[2].principal.is_none());

    let over_http: Value = client
        .get(admin_url(&em, "/calls?kind=Arm&method=GET"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = over_http["calls"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["status"], 200);
    assert_eq!(listed[0]["principal"], DEFAULT_CLIENT_ID);
    assert_eq!(
        client
            .delete(admin_url(&em, "/calls"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    // Only the admin calls after the clear remain.
    assert!(em.calls().iter().all(|c| c.kind == CallKind::Admin));
}
