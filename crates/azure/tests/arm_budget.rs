//! How the ARM client spends a principal's budget, judged by the emulator's buckets:
//! writes released at the refill rate once the burst is spent without a 429, every
//! request held by a `Retry-After`, and an import's polls never holding a write's place.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use apilink_azure::apic::{
    ApiDefinitionProperties, ApiProperties, ApiVersionProperties, ApicClient, ApicPath,
    ImportFormat, ImportSpecification, Precondition, SpecificationRef,
};
use apilink_azure::http::ArmRequest;
use apilink_azure::throttle::{Bucket, ThrottleOptions};
use apilink_azure::{ArmClient, ArmClientOptions};
use apilink_emulator::{
    BucketConfig, CallKind, Emulator, EmulatorConfig, FaultRule, ThrottleConfig,
};
use futures::future::join_all;
use serde_json::Value;

const WS: &str = "default";

fn with_writes(writes: BucketConfig) -> EmulatorConfig {
    EmulatorConfig {
        throttle: ThrottleConfig {
            writes,
            ..ThrottleConfig::default()
        },
        ..EmulatorConfig::default()
    }
}

fn client(emulator: &Emulator, options: ArmClientOptions) -> ArmClient {
    ArmClient::new(
        &common::cloud(emulator),
        common::secret_credential(
            emulator,
            apilink_emulator::DEFAULT_CLIENT_ID,
            apilink_emulator::DEFAULT_CLIENT_SECRET,
        ),
        options,
    )
    .unwrap()
}

/// The emulator's report on the default principal's buckets (an admin route on the ARM
/// origin).
async fn report(arm: &ArmClient) -> Value {
    let url = arm.endpoint().join("_emulator/throttle/report").unwrap();
    let all: Value = arm
        .send(ArmRequest::get(url))
        .await
        .unwrap()
        .json()
        .unwrap();
    all["principals"]
        .as_object()
        .unwrap()
        .values()
        .find(|p| p["client_id"] == apilink_emulator::DEFAULT_CLIENT_ID)
        .cloned()
        .unwrap_or_else(|| panic!("no report of the principal: {all}"))
}

fn api(title: &str) -> ApiProperties {
    ApiProperties {
        title: title.into(),
        kind: "rest".into(),
        ..Default::default()
    }
}

async fn put_api(apic: &ApicClient, name: String) {
    apic.put(
        &ApicPath::api(WS, &name).unwrap(),
        &api(&name),
        Precondition::None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn after_the_burst_writes_follow_the_refill_without_429s() {
    // 10 burst, 20/s: 70 writes at once spend the burst, then live on the refill, which
    // is twice what ARM documents (the client must find that out, not assume it).
    let emulator = common::start(with_writes(BucketConfig::new(10.0, 20.0))).await;
    let arm = client(
        &emulator,
        ArmClientOptions {
            max_concurrency: 16,
            ..common::fast_options()
        },
    );
    let apic = common::apic(&emulator, arm.clone());
    join_all((0..70).map(|i| put_api(&apic, format!("api-{i}")))).await;

    let seen = report(&arm).await;
    assert_eq!(seen["writes"]["allowed"], 70);
    assert_eq!(seen["throttled"], 0, "{seen}");
    assert_eq!(seen["retry_after_violations"], 0, "{seen}");
    assert_eq!(arm.counts().throttled, 0);
    assert!(arm.counts().throttle_waits > 0, "{:?}", arm.counts());
    // It learnt the refill from the remaining-quota headers.
    let rate = arm.refill_rate(Bucket::Writes);
    assert!((10.0..=20.0).contains(&rate), "{rate}");
}

#[tokio::test]
async fn a_retry_after_holds_every_request_of_the_principal() {
    // A client that believes the documented 10 writes/s against a bucket of 1 + 1/s:
    // its second write earns a 429 (Retry-After: 1), and nothing of the principal, read
    // or write, may reach ARM before that second is over.
    let emulator = common::start(EmulatorConfig {
        // ARM takes a while to answer: requests sent together reach it before it
        // answers the first 429, as they would.
        faults: vec![FaultRule::latency(20).path_contains("/subscriptions/")],
        ..with_writes(BucketConfig::new(1.0, 1.0))
    })
    .await;
    let arm = client(&emulator, common::fast_options());
    assert_eq!(ThrottleOptions::default().refill_per_second[1], 10.0);
    let apic = common::apic(&emulator, arm.clone());
    let apim = common::apim(&emulator, arm.clone());
    let writes = join_all((0..3).map(|i| put_api(&apic, format!("api-{i}"))));
    let reads = async {
        for _ in 0..20 {
            apim.get_service().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::join!(writes, reads);

    let seen = report(&arm).await;
    assert_eq!(seen["writes"]["allowed"], 3);
    assert!(seen["throttled"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!(seen["retry_after_violations"], 0, "{seen}");
    assert_eq!(
        arm.counts().throttled,
        seen["throttled"].as_u64().unwrap(),
        "the client saw every 429 the buckets answered"
    );
}

fn openapi() -> ImportSpecification {
    ImportSpecification {
        format: ImportFormat::Inline,
        value: r#"{"openapi":"3.0.1","info":{"title":"Echo","version":"1.0"},"paths":{}}"#.into(),
        specification: SpecificationRef {
            name: "openapi".into(),
            version: Some("3.0.1".into()),
        },
    }
}

#[tokio::test]
async fn an_import_waiting_for_its_result_holds_no_write_place() {
    let emulator = common::start(EmulatorConfig::default()).await;
    // One write in flight at a time at most.
    let arm = client(
        &emulator,
        ArmClientOptions {
            max_concurrency: 1,
            ..common::fast_options()
        },
    );
    let apic = common::apic(&emulator, arm.clone());
    put_api(&apic, "echo-api".into()).await;
    apic.put(
        &ApicPath::version(WS, "echo-api", "v1-0").unwrap(),
        &ApiVersionProperties {
            title: "v1".into(),
            lifecycle_stage: "design".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    let definition = ApicPath::definition(WS, "echo-api", "v1-0", "openapi").unwrap();
    apic.put(
        &definition,
        &ApiDefinitionProperties {
            title: "OpenAPI".into(),
            ..Default::default()
        },
        Precondition::None,
    )
    .await
    .unwrap();
    emulator.clear_calls();

    // The import is answered 202 + Retry-After: 1 and polled a second later (and again,
    // the emulator finishing it on the second poll); writes started meanwhile go while
    // it waits.
    let document = openapi();
    let import = apic.import_specification(&definition, &document, None);
    let writes = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..3 {
            put_api(&apic, format!("other-{i}")).await;
        }
    };
    let (imported, ()) = tokio::join!(import, writes);
    imported.unwrap();

    let order: Vec<(String, u16)> = common::calls_of(&emulator, CallKind::Arm)
        .into_iter()
        .map(|c| (c.method, c.status))
        .collect();
    assert_eq!(
        order,
        [
            ("POST".to_string(), 202),
            ("PUT".to_string(), 201),
            ("PUT".to_string(), 201),
            ("PUT".to_string(), 201),
            ("GET".to_string(), 202),
            ("GET".to_string(), 200),
        ]
    );
    assert_eq!(arm.in_flight_limit(Bucket::Writes), 1);
}
