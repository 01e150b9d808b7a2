//! Helpers shared by the emulator's integration tests: a reqwest client that trusts the
//! emulator's CA (and nothing else), tokens from the real token endpoint, ARM URLs.

#![allow(dead_code)]

use std::time::Duration;

use apilink_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, EmulatorConfig};
use serde_json::Value;

pub const APIM: &str = "2024-05-01";
pub const APIC: &str = "2024-03-01";

pub fn client(emulator: &Emulator) -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub async fn start(config: EmulatorConfig) -> (Emulator, reqwest::Client) {
    let emulator = apilink_emulator::start(config)
        .await
        .expect("emulator starts");
    let client = client(&emulator);
    (emulator, client)
}

/// A token from the token endpoint, with a client secret.
pub async fn token_for(
    emulator: &Emulator,
    client: &reqwest::Client,
    client_id: &str,
    secret: &str,
) -> String {
    let url = format!(
        "{}{}/oauth2/v2.0/token",
        emulator.authority_host(),
        emulator.tenant_id()
    );
    let scope = format!("{}.default", emulator.arm_endpoint());
    let response = client
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), 200, "token endpoint refused");
    let body: Value = response.json().await.expect("token JSON");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn token(emulator: &Emulator, client: &reqwest::Client) -> String {
    token_for(emulator, client, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await
}

/// `https://host/{apim service id}{suffix}`; `suffix` starts with `/` or `?` or is empty.
pub fn apim_url(emulator: &Emulator, service: &str, suffix: &str) -> String {
    let base = emulator.arm_endpoint().to_string();
    format!(
        "{}{}{suffix}",
        base.trim_end_matches('/'),
        emulator.apim_resource_id(service)
    )
}

pub fn apic_url(emulator: &Emulator, service: &str, suffix: &str) -> String {
    let base = emulator.arm_endpoint().to_string();
    format!(
        "{}{}{suffix}",
        base.trim_end_matches('/'),
        emulator.api_center_resource_id(service)
    )
}

pub fn admin_url(emulator: &Emulator, path: &str) -> String {
    format!("{}_emulator{path}", emulator.arm_endpoint())
}

pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}
