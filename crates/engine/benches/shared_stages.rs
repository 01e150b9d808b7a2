//! Shared APIs across stages (`spec.apiIdentity.scope: Shared`) on the emulator: a prod
//! and a dev APIM of the same synthetic APIs (dev changes every tenth API's contract and
//! has a tenth more APIs of its own) feed one API Center. The bench prints, per link, the
//! first sync's writes and the cost of a steady light pass from a fresh process against
//! the reads no light pass can avoid, and the catalogue it made (APIs, deployments,
//! definitions) against the logical APIs.
//!
//! `cargo bench -p apilink-engine --bench shared_stages`. Environment:
//! `APILINK_SHARED_APIS` (APIs per APIM, default 500).

use std::time::{Duration, Instant};

use apilink_azure::lro::LroOptions;
use apilink_azure::{ArmClient, ArmClientOptions, CloudConfig, CredentialConfig, build_credential};
use apilink_core::{LinkId, LinkSettings, LinkSpec};
use apilink_emulator::{CallKind, Emulator, EmulatorConfig, Seed, ThrottleConfig};
use apilink_engine::{AzureClients, Engine, EngineOptions, PassMode};
use serde_json::{Value, json};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const PROD_APIM: &str = "contoso-apim";
const DEV_APIM: &str = "contoso-apim-dev";
const APIC: &str = "contoso-catalog";
const CONCURRENCY: usize = 64;

fn apis_per_apim() -> usize {
    std::env::var("APILINK_SHARED_APIS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(500)
}

/// Prod is the synthetic APIM; dev is the same with every tenth API's contract changed
/// (a new description) and a tenth more APIs only dev has.
fn two_stages(apis: usize) -> Seed {
    let mut seed = Seed::synthetic(apis);
    let mut dev = seed.services[0].clone();
    let extra = Seed::synthetic(apis + apis / 10).services[0].apis[apis..].to_vec();
    dev.name = DEV_APIM.to_string();
    for (i, api) in dev.apis.iter_mut().enumerate() {
        if i % 10 == 5 {
            api.description = Some(format!("In development: {i}"));
        }
    }
    dev.apis
        .extend(extra.into_iter().filter(|a| a.version_set.is_none()));
    seed.services.push(dev);
    seed
}

fn engine(emulator: &Emulator) -> BenchResult<Engine<AzureClients>> {
    let cloud = CloudConfig::custom(emulator.arm_endpoint(), emulator.authority_host())
        .with_ca_file(emulator.ca_file());
    let credential = build_credential(
        &CredentialConfig::ClientSecret {
            tenant_id: emulator.tenant_id().to_string(),
            client_id: apilink_emulator::DEFAULT_CLIENT_ID.to_string(),
            secret: apilink_emulator::DEFAULT_CLIENT_SECRET.to_string().into(),
        },
        &cloud,
    )?;
    let arm = ArmClient::new(
        &cloud,
        credential,
        ArmClientOptions {
            max_concurrency: CONCURRENCY,
            request_timeout: Duration::from_secs(120),
            lro: LroOptions {
                deadline: Duration::from_secs(600),
                max_poll_interval: Duration::from_millis(100),
                ..LroOptions::default()
            },
            ..ArmClientOptions::default()
        },
    )?;
    Ok(Engine::new(
        AzureClients::new(arm),
        EngineOptions {
            concurrency: CONCURRENCY,
            ..EngineOptions::default()
        },
    ))
}

fn stage(emulator: &Emulator, id: &str, apim: &str, kind: &str) -> BenchResult<LinkSettings> {
    let spec: LinkSpec = serde_json::from_value(json!({
        "source": {"apimResourceId": emulator.apim_resource_id(apim)},
        "target": {"apiCenterResourceId": emulator.api_center_resource_id(APIC)},
        "environment": {"kind": kind},
        "apiIdentity": {"scope": "Shared"},
    }))?;
    Ok(spec.settings(LinkId::new(id)?)?)
}

/// ARM reads and writes the emulator saw since its call log was last cleared.
fn arm_calls(emulator: &Emulator) -> (usize, usize) {
    let calls = emulator.calls();
    let arm = calls.iter().filter(|c| c.kind == CallKind::Arm);
    let reads = arm.clone().filter(|c| c.method == "GET").count();
    let writes = arm
        .filter(|c| !matches!(c.method.as_str(), "GET" | "HEAD"))
        .count();
    (reads, writes)
}

/// The reads a steady light pass cannot avoid: APIM service, API list pages, version-set
/// pages, the API Center list pages and the environment.
fn steady_minimum(
    config: &EmulatorConfig,
    apim_apis: usize,
    sets: usize,
    apic_apis: usize,
) -> usize {
    let pages = |n: usize, size: usize| n.div_ceil(size).max(1);
    1 + pages(apim_apis, config.apim_page_size)
        + pages(sets, config.apim_page_size)
        + pages(apic_apis, config.apic_page_size)
        + 1
}

/// APIs, deployments and definitions in the API Center workspace.
fn catalogue(emulator: &Emulator) -> BenchResult<(usize, usize, usize)> {
    let snapshot = emulator
        .api_center()
        .snapshot(APIC)
        .ok_or("the API Center service exists")?;
    let apis = snapshot["workspaces"]["default"]["apis"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let count = |api: &Value, member: &str| api[member].as_object().map_or(0, |m| m.len());
    let deployments = apis.values().map(|a| count(a, "deployments")).sum();
    let definitions = apis
        .values()
        .flat_map(|a| a["versions"].as_object().cloned().unwrap_or_default())
        .map(|(_, v)| count(&v, "definitions"))
        .sum();
    Ok((apis.len(), deployments, definitions))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> BenchResult<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let apis = apis_per_apim();
    let seed = two_stages(apis);
    let sizes: Vec<(usize, usize)> = seed
        .services
        .iter()
        .map(|s| (s.apis.len(), s.version_sets.len()))
        .collect();
    let config = EmulatorConfig {
        seed,
        throttle: ThrottleConfig::disabled(),
        ..EmulatorConfig::default()
    };
    let emulator = apilink_emulator::start(config.clone()).await?;
    let prod = stage(&emulator, "bench/prod", PROD_APIM, "production")?;
    let dev = stage(&emulator, "bench/dev", DEV_APIM, "development")?;

    println!(
        "shared APIs across two stages ({apis} APIs in prod, {} in dev)\n",
        sizes[1].0
    );
    println!(
        "| link | first sync | writes | steady light pass reads (min) | reads ÷ min | steady writes |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut firsts = Vec::new();
    for settings in [&prod, &dev] {
        emulator.clear_calls();
        let started = Instant::now();
        engine(&emulator)?
            .sync_pass(settings, PassMode::Light)
            .await?;
        firsts.push((started.elapsed(), arm_calls(&emulator).1));
    }
    let (apic_apis, _, _) = catalogue(&emulator)?;
    for (i, settings) in [&prod, &dev].into_iter().enumerate() {
        emulator.clear_calls();
        let report = engine(&emulator)?
            .sync_pass(settings, PassMode::Light)
            .await?;
        let (reads, writes) = arm_calls(&emulator);
        let (apim_apis, sets) = sizes[i];
        let minimum = steady_minimum(&config, apim_apis, sets, apic_apis);
        println!(
            "| {} | {:.1} s | {} | {reads} ({minimum}) | {:.2} | {writes} |",
            settings.link,
            firsts[i].0.as_secs_f64(),
            firsts[i].1,
            reads as f64 / minimum as f64,
        );
        if writes != 0 || !report.failures.is_empty() {
            return Err(format!("{}: a steady pass wrote {writes} times", settings.link).into());
        }
    }
    let (apis_now, deployments, definitions) = catalogue(&emulator)?;
    println!(
        "\nAPI Center: {apis_now} APIs for {} + {} APIM APIs, {deployments} deployments, {definitions} definitions",
        sizes[0].0, sizes[1].0
    );
    Ok(())
}
