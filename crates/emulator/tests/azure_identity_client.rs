//! The real `azure_identity` credentials against the emulator, configured the way a user
//! configures them: through the process environment (`AZURE_AUTHORITY_HOST`,
//! `SSL_CERT_FILE`, `AZURE_FEDERATED_TOKEN_FILE`, `IDENTITY_ENDPOINT`, …).
//!
//! Changing the environment of a running test process is `unsafe` (and this workspace
//! forbids unsafe code), so each parent test starts the emulator and re-runs this test
//! binary as a child process with the environment set; the child (an ignored test that
//! only the parent runs) asks for a token and checks it on ARM.

mod common;

use std::process::Stdio;
use std::time::Duration;

use apilink_emulator::{
    CallKind, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_FEDERATED_SUBJECT, Emulator,
    EmulatorConfig,
};
use azure_core::credentials::TokenCredential;

/// Set by the parent; the child tests do nothing without it.
const CHILD_MARKER: &str = "APILINK_EMULATOR_CHILD";
const CHILD_ARM: &str = "APILINK_EMULATOR_ARM";
const CHILD_APIM_ID: &str = "APILINK_EMULATOR_APIM_ID";

async fn run_child(test: &str, em: &Emulator, env: &[(&str, String)]) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = tokio::process::Command::new(exe);
    command
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MARKER, "1")
        .env(CHILD_ARM, em.arm_endpoint().to_string())
        .env(CHILD_APIM_ID, em.apim_resource_id("contoso-apim"))
        .env("SSL_CERT_FILE", em.ca_file())
        .env_remove("SSL_CERT_DIR")
        .env_remove("AZURE_CLIENT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("child finished in time")
        .expect("child ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child {test} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "child {test} ran no test:\n{stdout}"
    );
}

fn child_env() -> Option<(String, String)> {
    std::env::var(CHILD_MARKER).ok()?;
    Some((
        std::env::var(CHILD_ARM).ok()?,
        std::env::var(CHILD_APIM_ID).ok()?,
    ))
}

/// Uses a token on ARM with a client that trusts only the CA named by `SSL_CERT_FILE`.
async fn use_on_arm(arm: &str, apim_id: &str, token: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pem =
        std::fs::read(std::env::var("SSL_CERT_FILE").expect("SSL_CERT_FILE")).expect("CA file");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("CA")])
        .no_proxy()
        .build()
        .expect("client");
    let url = format!(
        "{}{}?api-version=2024-05-01",
        arm.trim_end_matches('/'),
        apim_id
    );
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("ARM call");
    assert_eq!(response.status(), 200);
}

fn scope(arm: &str) -> String {
    format!("{arm}.default")
}

#[tokio::test]
#[ignore = "run by client_secret_credential_gets_a_token as a child process"]
async fn child_client_secret() {
    let Some((arm, apim_id)) = child_env() else {
        return;
    };
    let credential = azure_identity::ClientSecretCredential::new(
        &std::env::var("AZURE_TENANT_ID").expect("tenant"),
        std::env::var("AZURE_CLIENT_ID").expect("client"),
        std::env::var("APILINK_TEST_SECRET").expect("secret").into(),
        None,
    )
    .expect("credential");
    let token = credential
        .get_token(&[&scope(&arm)], None)
        .await
        .expect("token");
    assert!(token.expires_on > azure_core::time::OffsetDateTime::now_utc());
    use_on_arm(&arm, &apim_id, token.token.secret()).await;
    // The public cloud's scope works too.
    let public = credential
        .get_token(&["https://management.azure.com/.default"], None)
        .await
        .expect("token");
    use_on_arm(&arm, &apim_id, public.token.secret()).await;
}

#[tokio::test]
async fn client_secret_credential_gets_a_token() {
    let em = apilink_emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    run_child(
        "child_client_secret",
        &em,
        &[
            ("AZURE_AUTHORITY_HOST", em.authority_host().to_string()),
            ("AZURE_TENANT_ID", em.tenant_id().to_string()),
            ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID.to_string()),
            ("APILINK_TEST_SECRET", DEFAULT_CLIENT_SECRET.to_string()),
        ],
    )
    .await;
    let calls = em.calls();
    let token_calls: Vec<_> = calls.iter().filter(|c| c.kind == CallKind::Token).collect();
    assert_eq!(token_calls.len(), 2);
    assert!(
        token_calls
            .iter()
            .all(|c| c.status == 200 && c.principal.as_deref() == Some(DEFAULT_CLIENT_ID))
    );
    assert_eq!(
        token_calls[0].path,
        format!("/{}/oauth2/v2.0/token", em.tenant_id())
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.kind == CallKind::Arm && c.status == 200)
            .count(),
        2
    );
}

#[tokio::test]
#[ignore = "run by workload_identity_credential_gets_a_token as a child process"]
async fn child_workload_identity() {
    let Some((arm, apim_id)) = child_env() else {
        return;
    };
    let credential = azure_identity::WorkloadIdentityCredential::new(None).expect("credential");
    let token = credential
        .get_token(&[&scope(&arm)], None)
        .await
        .expect("token");
    use_on_arm(&arm, &apim_id, token.token.secret()).await;
}

#[tokio::test]
async fn workload_identity_credential_gets_a_token() {
    let em = apilink_emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    // A trailing newline, as a projected service-account token file may have.
    std::fs::write(
        &token_file,
        format!("{}\n", em.mint_federated_token(DEFAULT_FEDERATED_SUBJECT)),
    )
    .expect("token file");
    run_child(
        "child_workload_identity",
        &em,
        &[
            ("AZURE_AUTHORITY_HOST", em.authority_host().to_string()),
            ("AZURE_TENANT_ID", em.tenant_id().to_string()),
            ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID.to_string()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ],
    )
    .await;
    assert!(
        em.calls()
            .iter()
            .any(|c| c.kind == CallKind::Token && c.status == 200)
    );
}

#[tokio::test]
#[ignore = "run by managed_identity_credential_gets_a_token as a child process"]
async fn child_managed_identity() {
    let Some((arm, apim_id)) = child_env() else {
        return;
    };
    let credential = azure_identity::ManagedIdentityCredential::new(None).expect("credential");
    let token = credential
        .get_token(&["https://management.azure.com/.default"], None)
        .await
        .expect("token");
    use_on_arm(&arm, &apim_id, token.token.secret()).await;
}

#[tokio::test]
async fn managed_identity_credential_gets_a_token() {
    let em = apilink_emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    run_child(
        "child_managed_identity",
        &em,
        &[
            (
                "IDENTITY_ENDPOINT",
                em.managed_identity_endpoint().to_string(),
            ),
            ("IDENTITY_HEADER", em.identity_header().to_string()),
        ],
    )
    .await;
    assert!(
        em.calls()
            .iter()
            .any(|c| c.kind == CallKind::ManagedIdentity && c.status == 200)
    );
}
