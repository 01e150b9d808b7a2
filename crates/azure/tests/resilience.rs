//! Retries, throttling and failures that must not be retried, checked against the
//! emulator's call log.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use apilink_azure::apic::{ApiProperties, ApicPath, Precondition};
use apilink_azure::error::{AzureError, ErrorClass, TransportKind};
use apilink_azure::retry::RetryPolicy;
use apilink_azure::{ArmClient, ArmClientOptions, ArmObserver, CloudConfig};
use apilink_emulator::{
    CallKind, EmulatorConfig, FaultKind, FaultRule, Principal, Role, RoleAssignment,
};

fn fault(method: &str, path: &str, kind: FaultKind, times: u32) -> FaultRule {
    FaultRule {
        method: Some(method.into()),
        path_contains: Some(path.into()),
        kind,
        times: Some(times),
        probability: None,
    }
}

#[tokio::test]
async fn a_429_storm_is_waited_out_as_told() {
    const STORM: u32 = 20;
    let emulator = common::start(EmulatorConfig::default()).await;
    let arm = common::client(&emulator);
    let apim = common::apim(&emulator, arm.clone());
    apim.get_service().await.unwrap(); // token fetched before the storm
    emulator.clear_calls();
    emulator.add_fault(fault(
        "GET",
        "/apiVersionSets",
        FaultKind::Status {
            status: 429,
            code: "SubscriptionRequestsThrottled".into(),
            retry_after_secs: Some(1),
        },
        STORM,
    ));

    let sets = apim
        .list_version_sets(&apilink_azure::apim::ApimScope::Service)
        .await
        .unwrap();
    assert!(!sets.is_empty());

    let calls = common::arm_calls_to(&emulator, "/apiVersionSets");
    assert_eq!(calls.len(), STORM as usize + 1, "{calls:?}");
    assert!(calls[..STORM as usize].iter().all(|c| c.status == 429));
    assert_eq!(calls[STORM as usize].status, 200);
    for pair in calls.windows(2) {
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!(gap >= 1000, "retried {gap} ms after a Retry-After: 1");
    }
    let counts = arm.counts();
    assert_eq!(counts.throttled, u64::from(STORM));
    assert_eq!(counts.retries, u64::from(STORM));
    assert!(counts.throttle_wait_ms >= u64::from(STORM) * 1000);
}

/// Records what the client reports, as a metrics exporter would.
#[derive(Default)]
struct Recorder {
    responses: std::sync::Mutex<Vec<(String, String, u16)>>,
    waits: std::sync::Mutex<Vec<Duration>>,
}

impl ArmObserver for Recorder {
    fn on_response(&self, service: &str, method: &str, status: u16, _duration: Duration) {
        self.responses
            .lock()
            .unwrap()
            .push((service.into(), method.into(), status));
    }

    fn on_throttle_wait(&self, duration: Duration) {
        self.waits.lock().unwrap().push(duration);
    }
}

#[tokio::test]
async fn service_unavailable_is_retried_and_observed() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let recorder = Arc::new(Recorder::default());
    let arm = ArmClient::new(
        &common::cloud(&emulator),
        common::secret_credential(
            &emulator,
            apilink_emulator::DEFAULT_CLIENT_ID,
            apilink_emulator::DEFAULT_CLIENT_SECRET,
        ),
        ArmClientOptions {
            observer: Some(recorder.clone()),
            ..common::fast_options()
        },
    )
    .unwrap();
    let apim = common::apim(&emulator, arm.clone());
    emulator.add_fault(fault(
        "GET",
        "/service/contoso-apim",
        FaultKind::Status {
            status: 503,
            code: "ServiceUnavailable".into(),
            retry_after_secs: None,
        },
        2,
    ));
    apim.get_service().await.unwrap();
    let statuses: Vec<u16> = common::calls_of(&emulator, CallKind::Arm)
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    let seen = recorder.responses.lock().unwrap().clone();
    let expected: Vec<(String, String, u16)> = [503, 503, 200]
        .into_iter()
        .map(|s| ("apim".to_string(), "GET".to_string(), s))
        .collect();
    assert_eq!(seen, expected);
    assert!(
        recorder.waits.lock().unwrap().is_empty(),
        "backoff is not a throttle wait"
    );
    assert_eq!(arm.counts().retries, 2);
}

#[tokio::test]
async fn dropped_connections_are_retried_for_reads() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apim = common::apim(&emulator, common::client(&emulator));
    apim.get_service().await.unwrap();
    emulator.clear_calls();
    emulator.add_fault(fault(
        "GET",
        "/service/contoso-apim",
        FaultKind::DropConnection,
        1,
    ));
    apim.get_service().await.unwrap();
    let statuses: Vec<u16> = common::calls_of(&emulator, CallKind::Arm)
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [0, 200]);
}

#[tokio::test]
async fn forbidden_is_not_retried_and_names_the_action() {
    const READER: &str = "00000000-0000-0000-0000-0000000000c2";
    let config = EmulatorConfig::default();
    let scope = format!("/subscriptions/{}", config.subscription_id);
    let mut principals = config.principals.clone();
    principals.push(Principal::with_secret(
        READER,
        "reader-secret",
        vec![RoleAssignment::new(
            Role::ApiManagementServiceReader,
            &scope,
        )],
    ));
    let emulator = common::start(EmulatorConfig {
        principals,
        ..config
    })
    .await;
    let apic = common::apic(
        &emulator,
        common::client_as(&emulator, READER, "reader-secret"),
    );
    emulator.clear_calls();

    let err = apic
        .put(
            &ApicPath::api("default", "echo-api").unwrap(),
            &ApiProperties {
                title: "Echo".into(),
                kind: "rest".into(),
                ..Default::default()
            },
            Precondition::None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.arm_code(), Some("AuthorizationFailed"));
    assert_eq!(err.class(), ErrorClass::NeedsUser);
    assert_eq!(err.reason(), "AuthorizationFailed");
    assert_eq!(err.requeue_hint(), Some(Duration::from_secs(180)));
    let message = err.arm_message().unwrap();
    assert!(
        message.contains("Microsoft.ApiCenter/services/workspaces/apis/write"),
        "{message}"
    );
    let arm_calls = common::calls_of(&emulator, CallKind::Arm);
    assert_eq!(arm_calls.len(), 1, "a 403 is not retried: {arm_calls:?}");
    assert_eq!(arm_calls[0].principal.as_deref(), Some(READER));
}

#[tokio::test]
async fn long_throttling_is_handed_back_with_a_hint() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let arm = ArmClient::new(
        &common::cloud(&emulator),
        common::secret_credential(
            &emulator,
            apilink_emulator::DEFAULT_CLIENT_ID,
            apilink_emulator::DEFAULT_CLIENT_SECRET,
        ),
        ArmClientOptions {
            retry: RetryPolicy {
                max_retry_after: Duration::from_secs(30),
                ..RetryPolicy::default()
            },
            ..common::fast_options()
        },
    )
    .unwrap();
    let apim = common::apim(&emulator, arm);
    emulator.add_fault(fault(
        "GET",
        "/service/contoso-apim",
        FaultKind::Status {
            status: 429,
            code: "SubscriptionRequestsThrottled".into(),
            retry_after_secs: Some(120),
        },
        1,
    ));
    let err = apim.get_service().await.unwrap_err();
    assert!(err.is_throttled(), "{err}");
    assert_eq!(err.reason(), "AzureThrottled");
    assert_eq!(err.class(), ErrorClass::RetrySlow);
    assert_eq!(err.requeue_hint(), Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn an_untrusted_certificate_needs_the_user() {
    let emulator = common::start(EmulatorConfig::default()).await;
    // The credential trusts the emulator's CA, the ARM client does not.
    let credential = common::secret_credential(
        &emulator,
        apilink_emulator::DEFAULT_CLIENT_ID,
        apilink_emulator::DEFAULT_CLIENT_SECRET,
    );
    let untrusting = CloudConfig::custom(emulator.arm_endpoint(), emulator.authority_host());
    let arm = ArmClient::new(&untrusting, credential, common::fast_options()).unwrap();
    let apim = common::apim(&emulator, arm.clone());
    let err = apim.get_service().await.unwrap_err();
    assert!(
        matches!(
            err,
            AzureError::Transport {
                kind: TransportKind::Tls,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::NeedsUser);
    assert_eq!(err.reason(), "TlsCertificateUntrusted");
    assert_eq!(arm.counts().retries, 0, "a TLS failure is not retried");

    // Same for the token endpoint: the credential itself does not trust the CA.
    let credential = apilink_azure::build_credential(
        &apilink_azure::CredentialConfig::ClientSecret {
            tenant_id: emulator.tenant_id().into(),
            client_id: apilink_emulator::DEFAULT_CLIENT_ID.into(),
            secret: apilink_emulator::DEFAULT_CLIENT_SECRET.into(),
        },
        &untrusting,
    )
    .unwrap();
    let arm = ArmClient::new(
        &common::cloud(&emulator),
        credential,
        common::fast_options(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let err = common::apim(&emulator, arm)
        .get_service()
        .await
        .unwrap_err();
    assert!(matches!(err, AzureError::Auth { tls: true, .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::NeedsUser);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the short token retry policy applies: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn low_quota_headers_slow_the_client_before_arm_throttles() {
    use apilink_azure::throttle::ThrottleOptions;
    use apilink_emulator::{BucketConfig, ThrottleConfig};

    // A small read bucket: 20 tokens refilled at 10/s. 40 back-to-back reads would
    // empty it and earn 429s; paced on the remaining-quota header they must not.
    let emulator = common::start(EmulatorConfig {
        throttle: ThrottleConfig {
            reads: BucketConfig {
                capacity: 20.0,
                refill_per_sec: 10.0,
            },
            ..ThrottleConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let arm = ArmClient::new(
        &common::cloud(&emulator),
        common::secret_credential(
            &emulator,
            apilink_emulator::DEFAULT_CLIENT_ID,
            apilink_emulator::DEFAULT_CLIENT_SECRET,
        ),
        ArmClientOptions {
            throttle: ThrottleOptions {
                low_watermark: [10, 40, 40],
                refill_per_second: [10.0, 10.0, 10.0],
            },
            ..common::fast_options()
        },
    )
    .unwrap();
    let apim = common::apim(&emulator, arm.clone());
    for _ in 0..40 {
        apim.get_service().await.unwrap();
    }
    let throttled: Vec<_> = common::calls_of(&emulator, CallKind::Arm)
        .into_iter()
        .filter(|c| c.status == 429)
        .collect();
    assert!(throttled.is_empty(), "{throttled:?}");
    let counts = arm.counts();
    assert_eq!(counts.reads, 40);
    assert!(counts.throttle_waits > 0, "{counts:?}");
}
