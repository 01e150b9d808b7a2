//! Export links (SAS URLs in APIM and API Center answers) are followed only into the
//! cloud's storage: the emulator's own links are, anything else is refused before a
//! request is sent, with an error that names the host and never the signature.
#![allow(clippy::unwrap_used)]

mod common;

use apilink_azure::http::EXPORT_LINK_REFUSED;
use apilink_azure::{ArmClient, AzureError, ErrorClass};
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::SpecKind;
use apilink_emulator::{CallKind, Emulator, EmulatorConfig};

fn echo_api() -> ApimApiRef {
    ApimApiRef {
        workspace: None,
        api_id: "echo-api".into(),
    }
}

async fn fresh_link(emulator: &Emulator, arm: &ArmClient) -> String {
    common::apim(emulator, arm.clone())
        .export_link(&echo_api(), SpecKind::OpenApi)
        .await
        .unwrap()
        .unwrap()
}

/// The link's signature, which must never reach an error message.
fn signature(link: &str) -> String {
    let url = url::Url::parse(link).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn assert_refused(error: &AzureError, host: &str, link: &str) {
    let message = error.to_string();
    assert_eq!(error.class(), ErrorClass::NeedsUser, "{message}");
    assert!(message.contains(EXPORT_LINK_REFUSED), "{message}");
    assert!(message.contains(host), "names the host: {message}");
    assert!(
        !message.contains(&signature(link)),
        "no signature: {message}"
    );
    assert!(!message.contains("sig="), "no query string: {message}");
    assert!(!message.contains("_blob"), "no path: {message}");
}

#[tokio::test]
async fn the_emulators_own_links_are_followed() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let arm = common::client(&emulator);
    let link = fresh_link(&emulator, &arm).await;
    emulator.clear_calls();
    let document = arm.download_link(&link).await.unwrap();
    assert!(document.contains("\"paths\""), "{document}");
    let downloads = common::calls_of(&emulator, CallKind::ExportLink);
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert_eq!(
        downloads[0].principal, None,
        "fetched without the ARM token"
    );
}

#[tokio::test]
async fn links_to_other_hosts_or_over_http_are_refused_unsent() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let arm = common::client(&emulator);
    let link = fresh_link(&emulator, &arm).await;
    let port = emulator.local_addr().port();
    emulator.clear_calls();

    // The same server under another name: the host decides, not what would answer.
    let other_host = link.replacen("127.0.0.1", "localhost", 1);
    let error = arm.download_link(&other_host).await.unwrap_err();
    assert_refused(&error, &format!("localhost:{port}"), &link);
    assert!(error.to_string().contains("outside the cloud's storage"));

    let lookalike = link.replacen(
        "127.0.0.1",
        "acct.blob.core.windows.net.attacker.example",
        1,
    );
    let error = arm.download_link(&lookalike).await.unwrap_err();
    assert_refused(&error, "acct.blob.core.windows.net.attacker.example", &link);

    let plain = link.replacen("https://", "http://", 1);
    let error = arm.download_link(&plain).await.unwrap_err();
    assert_refused(&error, &format!("127.0.0.1:{port}"), &link);
    assert!(error.to_string().contains("not https"), "{error}");

    assert!(
        common::calls_of(&emulator, CallKind::ExportLink).is_empty(),
        "nothing was fetched"
    );
}

#[tokio::test]
async fn a_client_told_the_public_storage_refuses_the_emulators_links() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let cloud = common::cloud(&emulator).with_storage_host_suffix(".blob.core.windows.net");
    let arm = ArmClient::new(
        &cloud,
        common::secret_credential(
            &emulator,
            apilink_emulator::DEFAULT_CLIENT_ID,
            apilink_emulator::DEFAULT_CLIENT_SECRET,
        ),
        common::fast_options(),
    )
    .unwrap();
    let apim = common::apim(&emulator, arm);
    emulator.clear_calls();
    let error = apim
        .export_definition(&echo_api(), SpecKind::OpenApi)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NeedsUser, "{error}");
    assert!(error.to_string().contains(EXPORT_LINK_REFUSED), "{error}");
    assert_eq!(error.reason(), "ExportLinkRefused");
    assert!(
        error.to_string().contains("blob.core.windows.net"),
        "{error}"
    );
    assert!(common::calls_of(&emulator, CallKind::ExportLink).is_empty());
}
