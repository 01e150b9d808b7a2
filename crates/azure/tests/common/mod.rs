//! Shared helpers for the integration tests: an emulator on loopback and clients that
//! trust its CA. Every test binary includes this module; not every binary uses all of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use apilink_azure::apic::ApicClient;
use apilink_azure::apim::ApimClient;
use apilink_azure::lro::LroOptions;
use apilink_azure::retry::RetryPolicy;
use apilink_azure::{
    ApiCenterServiceId, ApimServiceId, ArmClient, ArmClientOptions, CloudConfig, CredentialConfig,
    build_credential,
};
use apilink_emulator::{CallKind, CallRecord, Emulator, EmulatorConfig};
use azure_core::credentials::{Secret, TokenCredential};

pub const APIM_SERVICE: &str = "contoso-apim";
pub const APIC_SERVICE: &str = "contoso-catalog";

pub fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    init();
    apilink_emulator::start(config)
        .await
        .expect("the emulator starts")
}

pub fn cloud(emulator: &Emulator) -> CloudConfig {
    CloudConfig::custom(emulator.arm_endpoint(), emulator.authority_host())
        .with_ca_file(emulator.ca_file())
}

/// Options with short waits so retry tests stay fast; server-requested waits
/// (`Retry-After`) are still honoured in full.
pub fn fast_options() -> ArmClientOptions {
    ArmClientOptions {
        request_timeout: Duration::from_secs(20),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        lro: LroOptions {
            deadline: Duration::from_secs(60),
            default_poll_interval: Duration::from_millis(200),
            ..LroOptions::default()
        },
        ..ArmClientOptions::default()
    }
}

pub fn secret_credential(
    emulator: &Emulator,
    client_id: &str,
    secret: &str,
) -> Arc<dyn TokenCredential> {
    build_credential(
        &CredentialConfig::ClientSecret {
            tenant_id: emulator.tenant_id().to_string(),
            client_id: client_id.to_string(),
            secret: Secret::new(secret.to_string()),
        },
        &cloud(emulator),
    )
    .expect("a client-secret credential")
}

pub fn client_as(emulator: &Emulator, client_id: &str, secret: &str) -> ArmClient {
    ArmClient::new(
        &cloud(emulator),
        secret_credential(emulator, client_id, secret),
        fast_options(),
    )
    .expect("an ARM client")
}

/// A client for the emulator's default principal (APIM reader, API Center contributor).
pub fn client(emulator: &Emulator) -> ArmClient {
    client_as(
        emulator,
        apilink_emulator::DEFAULT_CLIENT_ID,
        apilink_emulator::DEFAULT_CLIENT_SECRET,
    )
}

pub fn apim(emulator: &Emulator, arm: ArmClient) -> ApimClient {
    let id: ApimServiceId = emulator
        .apim_resource_id(APIM_SERVICE)
        .parse()
        .expect("the emulator's APIM id parses");
    ApimClient::new(arm, id)
}

pub fn apic(emulator: &Emulator, arm: ArmClient) -> ApicClient {
    let id: ApiCenterServiceId = emulator
        .api_center_resource_id(APIC_SERVICE)
        .parse()
        .expect("the emulator's API Center id parses");
    ApicClient::new(arm, id)
}

pub fn calls_of(emulator: &Emulator, kind: CallKind) -> Vec<CallRecord> {
    emulator
        .calls()
        .into_iter()
        .filter(|c| c.kind == kind)
        .collect()
}

pub fn arm_calls_to(emulator: &Emulator, path_contains: &str) -> Vec<CallRecord> {
    calls_of(emulator, CallKind::Arm)
        .into_iter()
        .filter(|c| c.path.contains(path_contains))
        .collect()
}
