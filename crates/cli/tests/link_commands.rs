//! `apilink plan`, `sync --once` and `delete` as a user runs them: the real binary,
//! pointed at an emulator on loopback through the usual Azure environment variables.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

use apilink_emulator::{Emulator, EmulatorConfig, ThrottleConfig};

async fn start() -> Emulator {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    apilink_emulator::start(EmulatorConfig {
        throttle: ThrottleConfig::disabled(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn write_link(emulator: &Emulator, dir: &Path, extra: &str) -> std::path::PathBuf {
    write_link_with(
        emulator,
        dir,
        "{name: cli-test, namespace: platform}",
        extra,
    )
}

fn write_link_with(
    emulator: &Emulator,
    dir: &Path,
    metadata: &str,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("link.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: apilink.dev/v1alpha1\nkind: ApiSourceLink\n\
             metadata: {metadata}\nspec:\n  \
             source: {{apimResourceId: {}}}\n  target: {{apiCenterResourceId: {}}}\n{extra}",
            emulator.apim_resource_id("contoso-apim"),
            emulator.api_center_resource_id("contoso-catalog"),
        ),
    )
    .unwrap();
    path
}

/// Runs the binary in a blocking thread so the emulator keeps serving.
async fn apilink(emulator: &Emulator, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_apilink"));
    command
        .args(args)
        .args(["--credential", "client-secret"])
        .env(
            "AZURE_RESOURCE_MANAGER_ENDPOINT",
            emulator.arm_endpoint().as_str(),
        )
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host().as_str())
        .env("SSL_CERT_FILE", emulator.ca_file())
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_CLIENT_ID", apilink_emulator::DEFAULT_CLIENT_ID)
        .env(
            "AZURE_CLIENT_SECRET",
            apilink_emulator::DEFAULT_CLIENT_SECRET,
        )
        .env_remove("AZURE_CLOUD")
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn api_count(emulator: &Emulator) -> usize {
    emulator.api_center().snapshot("contoso-catalog").unwrap()["workspaces"]["default"]["apis"]
        .as_object()
        .map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_sync_and_delete_with_their_exit_codes() {
    let emulator = start().await;
    let dir = tempfile::tempdir().unwrap();
    let link = write_link(
        &emulator,
        dir.path(),
        "  filter: {exclude: ['weather-*']}\n",
    );
    let link = link.to_str().unwrap();

    let plan = apilink(&emulator, &["plan", "-f", link]).await;
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        // Three APIs, each created with its ownership record: no separate record write.
        out.contains("api (3)") && out.contains("+ create"),
        "{}",
        text(&plan)
    );
    assert_eq!(api_count(&emulator), 0, "a plan writes nothing");

    let sync = apilink(&emulator, &["sync", "--once", "-f", link]).await;
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync));
    let out = String::from_utf8_lossy(&sync.stdout);
    assert!(
        out.contains("ENTITY") && out.contains("ARM calls"),
        "{}",
        text(&sync)
    );
    assert_eq!(api_count(&emulator), 3);

    // An APIM change shows up as an update with its field-level difference.
    emulator
        .apim()
        .update_api(
            "contoso-apim",
            None,
            "echo-api",
            &apilink_emulator::apim::ApiPatch {
                description: Some("Echoes, now documented.".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let plan = apilink(&emulator, &["plan", "-f", link]).await;
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        out.contains("~ update")
            && out.contains(
                "description: \"Echoes what it is sent.\" -> \"Echoes, now documented.\""
            ),
        "{}",
        text(&plan)
    );
    let sync = apilink(&emulator, &["sync", "--once", "-f", link, "-o", "json"]).await;
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync));
    let report: serde_json::Value = serde_json::from_slice(&sync.stdout).unwrap();
    assert_eq!(report["link"], "platform/cli-test");
    let plan = apilink(&emulator, &["plan", "-f", link]).await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));

    let dry = apilink(&emulator, &["delete", "-f", link, "--dry-run"]).await;
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("Would remove (4 operations)"),
        "{}",
        text(&dry)
    );
    assert_eq!(api_count(&emulator), 3);
    // Standard input is not a terminal here: nobody could confirm, so --yes is needed.
    let unconfirmed = apilink(&emulator, &["delete", "-f", link]).await;
    assert_eq!(unconfirmed.status.code(), Some(1), "{}", text(&unconfirmed));
    assert!(
        String::from_utf8_lossy(&unconfirmed.stderr).contains(
            "error: refusing to remove what link platform/cli-test owns in API Center without \
             confirmation: standard input is not a terminal; pass --yes to remove, or --dry-run \
             to see what would be removed"
        ),
        "{}",
        text(&unconfirmed)
    );
    assert_eq!(api_count(&emulator), 3, "nothing removed unconfirmed");
    let delete = apilink(&emulator, &["delete", "-f", link, "--yes"]).await;
    assert_eq!(delete.status.code(), Some(0), "{}", text(&delete));
    assert_eq!(api_count(&emulator), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_exit_with_1_and_the_classified_reason() {
    let emulator = start().await;
    let dir = tempfile::tempdir().unwrap();
    let link = write_link(&emulator, dir.path(), "");
    let link = link.to_str().unwrap();
    // A principal without any role: ARM answers 403 AuthorizationFailed.
    let mut command_args = vec!["sync", "--once", "-f", link];
    let output = {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_apilink"));
        command
            .args(&command_args)
            .args(["--credential", "client-secret"])
            .env(
                "AZURE_RESOURCE_MANAGER_ENDPOINT",
                emulator.arm_endpoint().as_str(),
            )
            .env("AZURE_AUTHORITY_HOST", emulator.authority_host().as_str())
            .env("SSL_CERT_FILE", emulator.ca_file())
            .env("AZURE_TENANT_ID", emulator.tenant_id())
            .env("AZURE_CLIENT_ID", apilink_emulator::DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", "not-the-secret");
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    };
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("AuthenticationFailed"), "{}", text(&output));
    assert!(
        !err.contains("not-the-secret"),
        "secrets never reach the output"
    );

    command_args[3] = "/does/not/exist.yaml";
    let missing = apilink(&emulator, &command_args).await;
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_in_the_link_is_one_message_and_no_azure_call() {
    let emulator = start().await;
    let dir = tempfile::tempdir().unwrap();
    let link = write_link(&emulator, dir.path(), "  filtr: {exclude: ['weather-*']}\n");
    let link = link.to_str().unwrap();
    emulator.clear_calls();
    for command in ["plan", "sync", "delete"] {
        let mut args = vec![command, "-f", link];
        if command == "sync" {
            args.push("--once");
        }
        let output = {
            let mut process = std::process::Command::new(env!("CARGO_BIN_EXE_apilink"));
            // A backtrace is for bugs: a user error stays one line even when asked for one.
            process
                .args(&args)
                .env("RUST_BACKTRACE", "1")
                .env("RUST_LIB_BACKTRACE", "1");
            tokio::task::spawn_blocking(move || process.output().unwrap())
                .await
                .unwrap()
        };
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert_eq!(
            stderr_lines(&output),
            vec![format!(
                "error: {link}: spec.filtr: unknown field; did you mean spec.filter?"
            )],
            "{command}: {}",
            text(&output)
        );
    }
    assert!(emulator.calls().is_empty(), "{:?}", emulator.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_without_namespace_is_warned_about() {
    let emulator = start().await;
    let dir = tempfile::tempdir().unwrap();
    let link = write_link_with(&emulator, dir.path(), "{name: cli-test}", "");
    let link = link.to_str().unwrap();
    let plan = apilink(&emulator, &["plan", "-f", link]).await;
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stderr).contains(&format!(
            "warning: {link}: metadata.namespace is not set, so the link id is default/cli-test"
        )),
        "{}",
        text(&plan)
    );
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("Plan for default/cli-test"),
        "{}",
        text(&plan)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_flags_out_of_range_are_refused() {
    let emulator = start().await;
    let dir = tempfile::tempdir().unwrap();
    let link = write_link(&emulator, dir.path(), "");
    let link = link.to_str().unwrap();
    emulator.clear_calls();
    for (flag, value) in [
        ("--concurrency", "0"),
        ("--concurrency", "1025"),
        ("--concurrency", "many"),
        ("--max-writes", "0"),
        ("--writes-per-second", "0"),
        ("--writes-per-second", "-2"),
        ("--writes-per-second", "NaN"),
        ("--writes-per-second", "inf"),
    ] {
        let assignment = format!("{flag}={value}");
        for command in ["plan", "sync", "delete"] {
            let output = apilink(&emulator, &[command, "-f", link, &assignment]).await;
            assert_eq!(output.status.code(), Some(2), "{}", text(&output));
            let err = String::from_utf8_lossy(&output.stderr);
            assert!(
                err.contains(&format!("invalid value '{value}' for '{flag}")),
                "{assignment}: {}",
                text(&output)
            );
        }
    }
    assert!(
        emulator.calls().is_empty(),
        "refused before any Azure call: {:?}",
        emulator.calls()
    );
    let ok = apilink(
        &emulator,
        &[
            "plan",
            "-f",
            link,
            "--concurrency=1",
            "--max-writes=1",
            "--writes-per-second=0.5",
        ],
    )
    .await;
    assert_eq!(ok.status.code(), Some(2), "{}", text(&ok));
}
