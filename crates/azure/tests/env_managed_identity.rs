//! Managed identity through the App-Service-style endpoint (`IDENTITY_ENDPOINT`,
//! `IDENTITY_HEADER`), which `azure_identity` only reads from the environment. The
//! workspace forbids `unsafe`, so the environment is given to a child process running
//! the ignored test below; this file is its own test binary so nothing races.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use apilink_azure::apim::ApimClient;
use apilink_azure::{ArmClient, CloudConfig, CredentialConfig, build_credential};
use apilink_emulator::{CallKind, EmulatorConfig};

const CHILD_FLAG: &str = "APILINK_TEST_CHILD";
const APIM_ID: &str = "APILINK_TEST_APIM_ID";
const INHERITED: &[&str] = &[
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLOUD",
    "AZURE_RESOURCE_MANAGER_AUDIENCE",
    "MSI_ENDPOINT",
];

#[tokio::test]
async fn managed_identity_from_the_environment() {
    let emulator = common::start(EmulatorConfig::default()).await;
    emulator.clear_calls();
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "child_uses_managed_identity", "--ignored"])
        .env(CHILD_FLAG, "1")
        .env(
            "AZURE_RESOURCE_MANAGER_ENDPOINT",
            emulator.arm_endpoint().as_str(),
        )
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host().as_str())
        .env("SSL_CERT_FILE", emulator.ca_file())
        .env(
            "IDENTITY_ENDPOINT",
            emulator.managed_identity_endpoint().as_str(),
        )
        .env("IDENTITY_HEADER", emulator.identity_header())
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

    let identity = common::calls_of(&emulator, CallKind::ManagedIdentity);
    assert_eq!(identity.len(), 1, "{identity:?}");
    assert_eq!(identity[0].status, 200);
    assert!(
        identity[0].query.contains("api-version=2019-08-01"),
        "{identity:?}"
    );
    let arm = common::calls_of(&emulator, CallKind::Arm);
    assert_eq!(arm.len(), 2, "{arm:?}");
    assert!(arm.iter().all(|c| c.status == 200));
}

#[tokio::test]
#[ignore = "run by managed_identity_from_the_environment in a child process"]
async fn child_uses_managed_identity() {
    assert_eq!(
        std::env::var(CHILD_FLAG).as_deref(),
        Ok("1"),
        "only meaningful with the environment the parent test sets"
    );
    common::init();
    let cloud = CloudConfig::from_env().unwrap();
    let credential = build_credential(&CredentialConfig::Auto, &cloud).unwrap();
    let arm = ArmClient::new(&cloud, credential, common::fast_options()).unwrap();
    let id = std::env::var(APIM_ID).unwrap().parse().unwrap();
    let apim = ApimClient::new(arm, id);
    // Two ARM calls, one token.
    apim.get_service().await.unwrap();
    apim.get_service().await.unwrap();
}
