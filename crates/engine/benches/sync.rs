//! Sync benchmarks against the emulator with injected per-call latency: first sync,
//! steady state (fresh process) and full resync for 100, 1,000 and 10,000 APIM APIs.
//!
//! This binary plays three roles: the orchestrator; the emulator, in a child process that
//! keeps API Center's state across passes; and one child process per pass, so every
//! pass starts from a fresh process (as after a restart) and its peak memory and CPU
//! are the engine's alone. ARM throttling is disabled in the emulator for the size runs
//! — they show what the engine itself can do — and one extra run enforces ARM's real
//! per-principal buckets to show the rate reached against them.
//!
//! `cargo bench -p apilink-engine` (or `make bench`). Environment:
//! `APILINK_BENCH_SIZES=100,1000` (default `100,1000,10000`),
//! `APILINK_BENCH_LATENCY_MS` (default 30), `APILINK_BENCH_CONCURRENCY` (default 64).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apilink_azure::lro::LroOptions;
use apilink_azure::{ArmClient, ArmClientOptions, CloudConfig, CredentialConfig, build_credential};
use apilink_core::{LinkId, LinkSettings, LinkSpec};
use apilink_emulator::{EmulatorConfig, FaultKind, FaultRule, Seed, ThrottleConfig};
use apilink_engine::{AzureClients, Engine, EngineOptions, PassMode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const CHILD_ENV: &str = "APILINK_BENCH_EMULATOR";
const PASS_ENV: &str = "APILINK_BENCH_PASS";
const APIM: &str = "contoso-apim";
const APIC: &str = "contoso-catalog";
/// ARM's per-principal write bucket: 200 burst, 10/s refill.
const ARM_WRITE_BURST: f64 = 200.0;
const ARM_WRITE_RATE: f64 = 10.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Child mode: serve an emulator until stdin closes.
fn run_emulator_child(spec: &str) -> BenchResult<()> {
    let spec: Value = serde_json::from_str(spec)?;
    let apis = spec["apis"].as_u64().unwrap_or(100) as usize;
    let latency = spec["latencyMs"].as_u64().unwrap_or(30);
    let throttled = spec["throttled"].as_bool().unwrap_or(false);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let emulator = apilink_emulator::start(EmulatorConfig {
            seed: Seed::synthetic(apis),
            throttle: if throttled {
                ThrottleConfig::default()
            } else {
                ThrottleConfig::disabled()
            },
            faults: vec![
                FaultRule::new(FaultKind::Latency { ms: latency }).path_contains("/subscriptions/"),
            ],
            ..EmulatorConfig::default()
        })
        .await?;
        let info = json!({
            "arm": emulator.arm_endpoint().as_str(),
            "authority": emulator.authority_host().as_str(),
            "caFile": emulator.ca_file(),
            "tenant": emulator.tenant_id(),
            "apim": emulator.apim_resource_id(APIM),
            "apic": emulator.api_center_resource_id(APIC),
        });
        println!("{info}");
        std::io::stdout().flush()?;
        // The parent closes stdin when it is done.
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                sink.clear();
            }
        })
        .await?;
        emulator.shutdown().await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
}

struct ChildEmulator {
    child: Child,
    info: Value,
}

impl ChildEmulator {
    fn start(apis: usize, latency_ms: u64, throttled: bool) -> BenchResult<Self> {
        let spec = json!({"apis": apis, "latencyMs": latency_ms, "throttled": throttled});
        let mut child = Command::new(std::env::current_exe()?)
            .env(CHILD_ENV, spec.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let info: Value = serde_json::from_str(&line)?;
        Ok(Self { child, info })
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn engine(info: &Value, concurrency: usize) -> BenchResult<Engine<AzureClients>> {
    let field = |key: &str| -> BenchResult<String> {
        info[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("emulator info lacks {key}").into())
    };
    let cloud = CloudConfig::custom(field("arm")?.parse()?, field("authority")?.parse()?)
        .with_ca_file(field("caFile")?);
    let credential = build_credential(
        &CredentialConfig::ClientSecret {
            tenant_id: field("tenant")?,
            client_id: apilink_emulator::DEFAULT_CLIENT_ID.to_string(),
            secret: apilink_emulator::DEFAULT_CLIENT_SECRET.to_string().into(),
        },
        &cloud,
    )?;
    let arm = ArmClient::new(
        &cloud,
        credential,
        ArmClientOptions {
            max_concurrency: concurrency,
            request_timeout: Duration::from_secs(120),
            lro: LroOptions {
                deadline: Duration::from_secs(600),
                ..LroOptions::default()
            },
            ..ArmClientOptions::default()
        },
    )?;
    Ok(Engine::new(
        AzureClients::new(arm),
        EngineOptions {
            concurrency,
            ..EngineOptions::default()
        },
    ))
}

fn settings(info: &Value) -> BenchResult<LinkSettings> {
    let spec: LinkSpec = serde_json::from_value(json!({
        "source": {"apimResourceId": info["apim"]},
        "target": {"apiCenterResourceId": info["apic"]},
    }))?;
    Ok(spec.settings(LinkId::new("bench/link")?)?)
}

/// `VmHWM` (peak resident set) of this process, in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .collect::<Vec<_>>();
            // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
            Some(after.get(11)?.parse::<u64>().ok()? + after.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // The kernel reports in clock ticks, 100 per second on Linux.
    Duration::from_millis(ticks * 10)
}

/// What one pass process reports back.
#[derive(Debug, Serialize, Deserialize)]
struct PassFigures {
    reads: u64,
    writes: u64,
    planned: u64,
    exports: u64,
    imports: u64,
    apis_synced: u64,
    write_rate: f64,
    wall_ms: u64,
    cpu_ms: u64,
    peak_mib: f64,
}

/// Pass mode: one pass in this (fresh) process, figures printed as one JSON line.
fn run_pass_child(spec: &str) -> BenchResult<()> {
    let spec: Value = serde_json::from_str(spec)?;
    let mode = if spec["mode"] == "full" {
        PassMode::Full
    } else {
        PassMode::Light
    };
    let concurrency = spec["concurrency"].as_u64().unwrap_or(64) as usize;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    let figures = runtime.block_on(async {
        let engine = engine(&spec["emulator"], concurrency)?;
        let settings = settings(&spec["emulator"])?;
        let cpu = cpu_time();
        let started = Instant::now();
        let report = engine.sync_pass(&settings, mode).await.map_err(|e| {
            format!(
                "{} pass failed: {e}; {:?}",
                mode.as_str(),
                e.report
                    .as_ref()
                    .map(|r| r.failures.iter().take(3).collect::<Vec<_>>())
            )
        })?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(PassFigures {
            reads: report.arm.reads,
            writes: report.arm.mutations(),
            planned: report.totals().planned as u64,
            exports: report.exports as u64,
            imports: report.imports as u64,
            apis_synced: report.apis.synced as u64,
            write_rate: report.write_rate(),
            wall_ms: started.elapsed().as_millis() as u64,
            cpu_ms: cpu_time().saturating_sub(cpu).as_millis() as u64,
            peak_mib: peak_rss_mib(),
        })
    })?;
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

/// Runs one pass in a fresh child process.
fn pass_in_child(
    emulator: &ChildEmulator,
    mode: &str,
    concurrency: usize,
) -> BenchResult<PassFigures> {
    let spec = json!({"emulator": emulator.info, "mode": mode, "concurrency": concurrency});
    let output = Command::new(std::env::current_exe()?)
        .env(PASS_ENV, spec.to_string())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("the {mode} pass process failed ({})", output.status).into());
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let last = line
        .lines()
        .last()
        .ok_or("the pass process printed nothing")?;
    Ok(serde_json::from_str(last)?)
}

struct Row {
    apis: usize,
    pass: &'static str,
    figures: PassFigures,
    min_reads: Option<u64>,
    min_writes: u64,
}

/// The reads a steady light pass cannot avoid: APIM service, API list pages, version-set
/// pages, the API Center list pages and the environment.
fn steady_minimum(apim_apis: usize, version_sets: usize, apic_apis: usize) -> u64 {
    let config = EmulatorConfig::default();
    let pages = |n: usize, size: usize| n.div_ceil(size).max(1);
    (1 + pages(apim_apis, config.apim_page_size)
        + pages(version_sets, config.apim_page_size)
        + pages(apic_apis, config.apic_page_size)
        + 1) as u64
}

fn bench_size(apis: usize, latency_ms: u64, concurrency: usize) -> BenchResult<Vec<Row>> {
    let emulator = ChildEmulator::start(apis, latency_ms, false)?;
    let version_sets = Seed::synthetic(apis)
        .services
        .iter()
        .map(|s| s.version_sets.len())
        .sum();
    let mut rows = Vec::new();

    let first = pass_in_child(&emulator, "light", concurrency)?;
    let apic_apis = first.apis_synced as usize;
    // Listing, the metadata schemas (once, before the first write), one export per
    // definition, one read of each API before its record is written, and for each
    // import at least one poll while it runs and the final answer.
    let first_minimum = steady_minimum(apis, version_sets, 0)
        + 1
        + first.exports
        + apic_apis as u64
        + 2 * first.imports;
    rows.push(Row {
        apis,
        pass: "first sync",
        min_reads: Some(first_minimum),
        // The plan's writes and the one-off metadata schema declaring the record.
        min_writes: first.planned + 1,
        figures: first,
    });
    let minimum = steady_minimum(apis, version_sets, apic_apis);
    for (pass, mode) in [("steady state", "light"), ("full resync", "full")] {
        let figures = pass_in_child(&emulator, mode, concurrency)?;
        rows.push(Row {
            apis,
            pass,
            min_reads: (mode == "light").then_some(minimum),
            min_writes: 0,
            figures,
        });
    }
    emulator.stop();
    Ok(rows)
}

/// A first sync of `apis` APIs against ARM's real buckets (writes 200 burst + 10/s);
/// the ARM client paces itself on the remaining-quota headers and honours 429s.
fn bench_budget(apis: usize, latency_ms: u64, concurrency: usize) -> BenchResult<Row> {
    let emulator = ChildEmulator::start(apis, latency_ms, true)?;
    let figures = pass_in_child(&emulator, "light", concurrency)?;
    emulator.stop();
    Ok(Row {
        apis,
        pass: "first sync, ARM limits",
        min_reads: None,
        min_writes: figures.planned + 1,
        figures,
    })
}

/// Seconds ARM's write bucket needs for `writes` writes.
fn arm_write_time(writes: u64) -> f64 {
    ((writes as f64 - ARM_WRITE_BURST) / ARM_WRITE_RATE).max(0.0)
}

fn print_table(rows: &[Row], latency_ms: u64, concurrency: usize) {
    println!(
        "\nSync benchmark: emulator in a child process, {latency_ms} ms injected latency per ARM call, \
         engine concurrency {concurrency}, every pass in a fresh process."
    );
    println!(
        "Throttling disabled in the emulator except in the \"ARM limits\" row \
         (ARM's real buckets: writes 200 + 10/s, reads 250 + 25/s).\n"
    );
    println!(
        "| APIM APIs | API Center APIs | pass | wall time | ARM reads (min) | ARM writes (min) | writes/s | time at ARM's 10 writes/s | engine CPU | peak RSS |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let f = &row.figures;
        let reads = match row.min_reads {
            Some(min) => format!("{} ({min})", f.reads),
            None => f.reads.to_string(),
        };
        let budget_time = if f.writes > 0 {
            format!("{:.0} s", arm_write_time(f.writes))
        } else {
            "-".to_string()
        };
        println!(
            "| {} | {} | {} | {:.1} s | {} | {} ({}) | {:.0} | {} | {:.1} s | {:.0} MiB |",
            row.apis,
            f.apis_synced,
            row.pass,
            f.wall_ms as f64 / 1000.0,
            reads,
            f.writes,
            row.min_writes,
            f.write_rate,
            budget_time,
            f.cpu_ms as f64 / 1000.0,
            f.peak_mib,
        );
    }
}

fn main() -> BenchResult<()> {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return run_emulator_child(&spec);
    }
    if let Ok(spec) = std::env::var(PASS_ENV) {
        return run_pass_child(&spec);
    }
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let sizes: Vec<usize> = std::env::var("APILINK_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000,10000".to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let latency_ms = env_or("APILINK_BENCH_LATENCY_MS", 30u64);
    let concurrency = env_or("APILINK_BENCH_CONCURRENCY", 64usize);
    let mut rows = Vec::new();
    for &apis in &sizes {
        eprintln!("benchmarking {apis} APIs …");
        rows.extend(bench_size(apis, latency_ms, concurrency)?);
    }
    eprintln!("benchmarking a first sync of 100 APIs under ARM's real limits …");
    rows.push(bench_budget(100, latency_ms, concurrency)?);
    print_table(&rows, latency_ms, concurrency);
    Ok(())
}
