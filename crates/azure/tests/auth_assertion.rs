//! Client secret and client assertion (a federated token in a file, as workload
//! identity uses) against the emulator's HTTPS token endpoint through `azure_identity`.
#![allow(clippy::unwrap_used)]

mod common;

use apilink_azure::{ArmClient, CredentialConfig, build_credential};
use apilink_emulator::{CallKind, EmulatorConfig};

#[tokio::test]
async fn client_assertion_from_a_file() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(
        &token_file,
        emulator.mint_federated_token(apilink_emulator::DEFAULT_FEDERATED_SUBJECT),
    )
    .unwrap();
    let credential = build_credential(
        &CredentialConfig::ClientAssertionFile {
            tenant_id: emulator.tenant_id().into(),
            client_id: apilink_emulator::DEFAULT_CLIENT_ID.into(),
            assertion_file: token_file,
        },
        &common::cloud(&emulator),
    )
    .unwrap();
    let arm = ArmClient::new(
        &common::cloud(&emulator),
        credential,
        common::fast_options(),
    )
    .unwrap();
    emulator.clear_calls();
    let service = common::apim(&emulator, arm).get_service().await.unwrap();
    assert_eq!(service.name, common::APIM_SERVICE);

    let tokens = common::calls_of(&emulator, CallKind::Token);
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].status, 200);
    let arm_calls = common::calls_of(&emulator, CallKind::Arm);
    assert_eq!(
        arm_calls[0].principal.as_deref(),
        Some(apilink_emulator::DEFAULT_CLIENT_ID)
    );
}

#[tokio::test]
async fn a_wrong_subject_or_secret_is_an_auth_error() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(
        &token_file,
        emulator.mint_federated_token("system:serviceaccount:other:intruder"),
    )
    .unwrap();
    let credential = build_credential(
        &CredentialConfig::WorkloadIdentity {
            tenant_id: Some(emulator.tenant_id().into()),
            client_id: Some(apilink_emulator::DEFAULT_CLIENT_ID.into()),
            token_file: Some(token_file),
        },
        &common::cloud(&emulator),
    )
    .unwrap();
    let arm = ArmClient::new(
        &common::cloud(&emulator),
        credential,
        common::fast_options(),
    )
    .unwrap();
    let err = common::apim(&emulator, arm)
        .get_service()
        .await
        .unwrap_err();
    assert!(
        matches!(err, apilink_azure::AzureError::Auth { .. }),
        "{err:?}"
    );
    assert_eq!(err.reason(), "AuthenticationFailed");
    assert!(common::calls_of(&emulator, CallKind::Arm).is_empty());

    let wrong = common::client_as(
        &emulator,
        apilink_emulator::DEFAULT_CLIENT_ID,
        "not-the-secret",
    );
    let err = common::apim(&emulator, wrong)
        .get_service()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert_eq!(err.class(), apilink_azure::ErrorClass::NeedsUser);
    let text = err.to_string();
    assert!(
        !text.contains("not-the-secret"),
        "the secret leaked: {text}"
    );
}
