//! ARM's buckets as a benchmark sets them up and reads them back: sizes and refill rates
//! changed at run time, latency per request category, and the report of what each
//! principal's buckets did — 429s, budget use after the burst, `Retry-After` violations.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use apilink_emulator::{
    BucketConfig, DEFAULT_CLIENT_ID, EmulatorConfig, FaultRule, Principal, ThrottleConfig,
};
use common::{APIC, APIM, admin_url, apic_url, apim_url, start, token};
use serde_json::{Value, json};

fn object_id() -> String {
    Principal::default_for(apilink_emulator::DEFAULT_SUBSCRIPTION_ID).object_id()
}

async fn report(client: &reqwest::Client, emulator: &apilink_emulator::Emulator) -> Value {
    let response = client
        .get(admin_url(emulator, "/throttle/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn put_api(
    client: &reqwest::Client,
    emulator: &apilink_emulator::Emulator,
    token: &str,
    name: &str,
) -> reqwest::Response {
    client
        .put(apic_url(
            emulator,
            "contoso-catalog",
            &format!("/workspaces/default/apis/{name}?api-version={APIC}"),
        ))
        .bearer_auth(token)
        .json(&json!({"properties": {"title": name, "kind": "rest"}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn buckets_are_sized_at_run_time_and_report_429s_and_retry_after_violations() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    // Writes: 3 burst, and a refill so slow that the 4th write is refused for 1 s.
    let resized = client
        .put(admin_url(&em, "/throttle"))
        .json(&json!({"writes": {"capacity": 3.0, "refill_per_sec": 1.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resized.status(), 200);
    let config: Value = resized.json().await.unwrap();
    assert_eq!(
        config["writes"],
        json!({"capacity": 3.0, "refill_per_sec": 1.0})
    );
    assert_eq!(config["enabled"], true);
    assert_eq!(
        config["reads"],
        json!({"capacity": 250.0, "refill_per_sec": 25.0})
    );

    for (i, remaining) in ["2", "1", "0"].into_iter().enumerate() {
        let answer = put_api(&client, &em, &token, &format!("api-{i}")).await;
        assert_eq!(answer.status(), 201);
        assert_eq!(
            answer
                .headers()
                .get("x-ms-ratelimit-remaining-subscription-writes")
                .unwrap(),
            remaining
        );
    }
    let refused = put_api(&client, &em, &token, "api-3").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers().get("retry-after").unwrap(), "1");
    // A read inside the Retry-After breaks it too: it holds every request.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let url = apim_url(&em, "contoso-apim", &format!("?api-version={APIM}"));
    let early = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(early.status(), 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let on_time = put_api(&client, &em, &token, "api-3").await;
    assert_eq!(on_time.status(), 201);

    let seen = report(&client, &em).await;
    let me = &seen["principals"][object_id()];
    assert_eq!(me["client_id"], DEFAULT_CLIENT_ID);
    assert_eq!(me["throttled"], 1);
    // The early read (an HTTP client may send it a second time on a fresh connection
    // when the pooled one was closed under it, and each arrival counts); never the
    // on-time write.
    let violations = me["retry_after_violations"].as_u64().unwrap();
    assert!((1..=2).contains(&violations), "{violations}");
    assert_eq!(me["writes"]["allowed"], 4);
    assert_eq!(me["writes"]["throttled"], 1);
    assert_eq!(me["writes"]["capacity"], 3.0);
    // The burst counts as spent at the write that left under 5 % of it, or, on a slow
    // machine where that write already found a little refill, at the refused one: the
    // on-time write, and possibly the third, came after it.
    let after_burst = me["writes"]["allowed_after_burst"].as_u64().unwrap();
    assert!((1..=2).contains(&after_burst), "{after_burst}");
    assert_eq!(me["reads"]["allowed"], 1);
    assert_eq!(me["reads"]["throttled"], 0);
    assert_eq!(me["reads"]["burst_spent_after_secs"], Value::Null);
    // One or two writes in the ~1.1 s after the burst, which refilled ~1.1 tokens.
    let used = me["writes"]["budget_use_after_burst"].as_f64().unwrap();
    assert!((0.5..=2.0).contains(&used), "{used}");

    let cleared = client
        .delete(admin_url(&em, "/throttle/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert_eq!(report(&client, &em).await["principals"], json!({}));
}

#[tokio::test]
async fn bad_bucket_sizes_are_refused() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let refused = client
        .put(admin_url(&em, "/throttle"))
        .json(&json!({"reads": {"capacity": -1.0, "refill_per_sec": 1.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(em.calls().len(), 1);
    let config: Value = client
        .get(admin_url(&em, "/throttle"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["reads"]["capacity"], 250.0);
}

#[tokio::test]
async fn latency_rules_apply_per_request_category() {
    let (em, client) = start(EmulatorConfig {
        throttle: ThrottleConfig {
            writes: BucketConfig::new(100.0, 20.0),
            reads: BucketConfig::new(250.0, 50.0),
            ..ThrottleConfig::default()
        },
        faults: vec![
            FaultRule::latency(100)
                .methods(&["PUT", "POST", "PATCH", "DELETE"])
                .path_contains("/subscriptions/"),
            FaultRule::latency(20)
                .methods(&["GET", "HEAD"])
                .path_contains("/subscriptions/"),
        ],
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;
    em.clear_calls();
    assert_eq!(
        put_api(&client, &em, &token, "slow-write").await.status(),
        201
    );
    let url = apim_url(&em, "contoso-apim", &format!("?api-version={APIM}"));
    let read = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let faults: Vec<(String, Option<String>)> = em
        .calls()
        .into_iter()
        .map(|c| (c.method, c.fault))
        .collect();
    assert_eq!(
        faults,
        vec![
            ("PUT".to_string(), Some("latency:100ms".to_string())),
            ("GET".to_string(), Some("latency:20ms".to_string())),
        ]
    );
    let report = report(&client, &em).await;
    let me = &report["principals"][object_id()];
    assert_eq!(me["writes"]["capacity"], 100.0);
    assert_eq!(me["writes"]["refill_per_sec"], 20.0);
    assert_eq!(me["reads"]["refill_per_sec"], 50.0);
}
