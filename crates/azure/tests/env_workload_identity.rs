//! Workload identity configured only through the environment, as the AKS webhook does
//! (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE`,
//! `AZURE_AUTHORITY_HOST`), with the ARM endpoint and CA from the environment too.
//! The workspace forbids `unsafe`, so the environment is given to a child process
//! running the ignored test below; this file is its own test binary so nothing races.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use apilink_azure::apim::ApimClient;
use apilink_azure::{ArmClient, CloudConfig, CredentialConfig, build_credential};
use apilink_emulator::{CallKind, EmulatorConfig};

const CHILD_FLAG: &str = "APILINK_TEST_CHILD";
const APIM_ID: &str = "APILINK_TEST_APIM_ID";
/// Variables the parent's own environment might carry and the child must not inherit.
const INHERITED: &[&str] = &[
    "AZURE_CLIENT_SECRET",
    "AZURE_CLOUD",
    "AZURE_RESOURCE_MANAGER_AUDIENCE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
];

#[tokio::test]
async fn workload_identity_from_the_environment() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(
        &token_file,
        emulator.mint_federated_token(apilink_emulator::DEFAULT_FEDERATED_SUBJECT),
    )
    .unwrap();
    emulator.clear_calls();

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "child_authenticates_from_the_environment",
            "--ignored",
        ])
        .env(CHILD_FLAG, "1")
        .env(
            "AZURE_RESOURCE_MANAGER_ENDPOINT",
            emulator.arm_endpoint().as_str(),
        )
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host().as_str())
        .env("SSL_CERT_FILE", emulator.ca_file())
        .env("AZURE_CLIENT_ID", apilink_emulator::DEFAULT_CLIENT_ID)
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file)
        .env(APIM_ID, emulator.apim_resource_id(common::APIM_SERVICE))
        .kill_on_drop(true);
    for name in INHERITED {
        child.env_remove(name);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), child.output())
        .await
        .expect("the child finishes in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran its test:\n{stdout}"
    );

    let tokens = common::calls_of(&emulator, CallKind::Token);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].status, 200);
    let arm = common::calls_of(&emulator, CallKind::Arm);
    assert_eq!(arm.len(), 1, "{arm:?}");
    assert_eq!(
        arm[0].principal.as_deref(),
        Some(apilink_emulator::DEFAULT_CLIENT_ID)
    );
}

#[tokio::test]
#[ignore = "run by workload_identity_from_the_environment in a child process"]
async fn child_authenticates_from_the_environment() {
    assert_eq!(
        std::env::var(CHILD_FLAG).as_deref(),
        Ok("1"),
        "only meaningful with the environment the parent test sets"
    );
    common::init();
    let cloud = CloudConfig::from_env().unwrap();
    assert!(cloud.ca_file.is_some(), "SSL_CERT_FILE names the CA");
    let credential = build_credential(&CredentialConfig::Auto, &cloud).unwrap();
    let arm = ArmClient::new(&cloud, credential, common::fast_options()).unwrap();
    let id = std::env::var(APIM_ID).unwrap().parse().unwrap();
    let service = ApimClient::new(arm, id).get_service().await.unwrap();
    assert_eq!(service.name, common::APIM_SERVICE);
}
