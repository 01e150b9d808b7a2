//! `apilink emulator` as a person runs it: start the binary, read what it prints, use it,
//! stop it with Ctrl-C (SIGINT).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

fn exported(banner: &str, name: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.strip_prefix(&format!("export {name}=")))
        .unwrap_or_else(|| panic!("no export of {name} in:\n{banner}"))
        .to_string()
}

#[tokio::test]
async fn runs_standalone_prints_its_settings_and_stops_on_ctrl_c() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../emulator/fixtures/demo-apim.yaml"
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_apilink"))
        .args(["emulator", "--seed", seed, "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("apilink starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Serving until Ctrl-C") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("banner in time");

    let endpoint = exported(&banner, "AZURE_RESOURCE_MANAGER_ENDPOINT");
    let ca_file = exported(&banner, "SSL_CERT_FILE");
    let tenant = exported(&banner, "AZURE_TENANT_ID");
    let client_id = exported(&banner, "AZURE_CLIENT_ID");
    let secret = exported(&banner, "AZURE_CLIENT_SECRET");
    assert_eq!(exported(&banner, "AZURE_AUTHORITY_HOST"), endpoint);
    assert!(endpoint.starts_with("https://127.0.0.1:"));

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pem = std::fs::read(&ca_file).expect("CA file exists while running");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("CA")])
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let token: serde_json::Value = client
        .post(format!("{endpoint}{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    let apim_id = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("APIM").map(str::trim))
        .expect("APIM line")
        .to_string();
    let apis: serde_json::Value = client
        .get(format!(
            "{}{apim_id}/apis?api-version=2024-05-01&$filter=isCurrent eq true",
            endpoint.trim_end_matches('/')
        ))
        .bearer_auth(token["access_token"].as_str().expect("access token"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list JSON");
    assert_eq!(apis["count"], 26, "the demo seed was loaded");

    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops in time")
        .expect("exit status");
    assert!(exit.success(), "{exit:?}");
    assert!(
        !std::path::Path::new(&ca_file).exists(),
        "the CA file is removed on exit"
    );
}
