//! Sync benchmarks against the emulator with injected per-call latency: first sync,
//! steady state (fresh process) and full resync for 100, 1,000 and 10,000 APIM APIs.
//!
//! This binary plays three roles: the orchestrator; the emulator, in a child process that
//! keeps API Center's state across passes; and one child process per pass, so every
//! pass starts from a fresh process (as after a restart) and its peak memory and CPU
//! are the engine's alone. ARM throttling is disabled in the emulator for the size runs
//! — they show what the engine itself can do — and one extra run, "first sync, ARM
//! limits", enforces per-principal buckets scaled to writes 100 + 20/s and reads
//! 250 + 50/s, with 100 ms per write answer, 20 ms per read answer and imports that take
//! seconds: it shows how much of ARM's write budget the client uses once the burst is
//! spent, judged from the emulator's own ledger (`/_emulator/throttle/report`).
//!
//! `cargo bench -p apilink-engine` (or `make bench`). Environment:
//! `APILINK_BENCH_SIZES=100,1000` (default `100,1000,10000`),
//! `APILINK_BENCH_LATENCY_MS` (default 30), `APILINK_BENCH_CONCURRENCY` (APIs a pass
//! works on at once, default 64), `APILINK_BENCH_BUDGET_APIS` (the ARM-limits run's
//! size, default 400).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apilink_azure::http::ArmRequest;
use apilink_azure::lro::LroOptions;
use apilink_azure::{ArmClient, ArmClientOptions, CloudConfig, CredentialConfig, build_credential};
use apilink_core::operation::Action;
use apilink_core::ownership::EntityKind;
use apilink_core::{LinkId, LinkSettings, LinkSpec};
use apilink_emulator::{BucketConfig, EmulatorConfig, FaultRule, Seed, ThrottleConfig};
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
/// The "ARM limits" run: buckets scaled so the burst is spent early and the refill is
/// what the run is about.
const LIMITS_WRITES: BucketConfig = BucketConfig::new(100.0, 20.0);
const LIMITS_READS: BucketConfig = BucketConfig::new(250.0, 50.0);
/// Milliseconds ARM takes to answer a write and a read in the "ARM limits" run.
const LIMITS_WRITE_MS: u64 = 100;
const LIMITS_READ_MS: u64 = 20;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// What the emulator child serves: a synthetic APIM of `apis` APIs, either with one
/// latency on every ARM call and no throttling (the size runs) or under scaled ARM
/// limits (buckets enforced, latency per request category).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct EmulatorSpec {
    apis: usize,
    latency_ms: u64,
    arm_limits: bool,
}

impl EmulatorSpec {
    fn config(&self) -> EmulatorConfig {
        let (throttle, faults) = if self.arm_limits {
            let throttle = ThrottleConfig {
                enabled: true,
                reads: LIMITS_READS,
                writes: LIMITS_WRITES,
                deletes: LIMITS_WRITES,
            };
            let faults = vec![
                FaultRule::latency(LIMITS_WRITE_MS)
                    .methods(&["PUT", "POST", "PATCH", "DELETE"])
                    .path_contains("/subscriptions/"),
                FaultRule::latency(LIMITS_READ_MS)
                    .methods(&["GET", "HEAD"])
                    .path_contains("/subscriptions/"),
            ];
            (throttle, faults)
        } else {
            let faults = vec![FaultRule::latency(self.latency_ms).path_contains("/subscriptions/")];
            (ThrottleConfig::disabled(), faults)
        };
        // Imports answer 202 + `Retry-After: 1` and finish on the second poll: a client
        // that honours `Retry-After` sees each take about two seconds.
        EmulatorConfig {
            seed: Seed::synthetic(self.apis),
            throttle,
            faults,
            ..EmulatorConfig::default()
        }
    }
}

/// Child mode: serve an emulator until stdin closes.
fn run_emulator_child(spec: &str) -> BenchResult<()> {
    let spec: EmulatorSpec = serde_json::from_str(spec)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let emulator = apilink_emulator::start(spec.config()).await?;
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
    fn start(spec: EmulatorSpec) -> BenchResult<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(CHILD_ENV, serde_json::to_string(&spec)?)
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

/// An ARM client of the emulator's default principal, at most `max_concurrency`
/// requests in flight.
fn arm_client(info: &Value, max_concurrency: usize) -> BenchResult<ArmClient> {
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
    Ok(ArmClient::new(
        &cloud,
        credential,
        ArmClientOptions {
            max_concurrency,
            request_timeout: Duration::from_secs(120),
            lro: LroOptions {
                deadline: Duration::from_secs(600),
                ..LroOptions::default()
            },
            ..ArmClientOptions::default()
        },
    )?)
}

/// How much a pass does at once.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Parallelism {
    /// APIs the engine works on at once.
    apis: usize,
    /// Requests of one class the ARM client lets its adaptive limit grow to.
    requests: usize,
}

impl Parallelism {
    /// The same number for both, as the size runs use it.
    fn both(n: usize) -> Self {
        Self {
            apis: n,
            requests: n,
        }
    }

    /// What a pass gets without settings.
    fn defaults() -> Self {
        Self {
            apis: EngineOptions::default().concurrency,
            requests: ArmClientOptions::default().max_concurrency,
        }
    }
}

fn engine(info: &Value, parallelism: Parallelism) -> BenchResult<Engine<AzureClients>> {
    let arm = arm_client(info, parallelism.requests)?;
    Ok(Engine::new(
        AzureClients::new(arm),
        EngineOptions {
            concurrency: parallelism.apis,
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
    /// Entities the pass set out to create (environment, APIs, versions, definitions,
    /// deployments) and definitions it set out to import.
    creates: u64,
    planned_imports: u64,
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
    let parallelism: Parallelism = serde_json::from_value(spec["parallelism"].clone())?;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    let figures = runtime.block_on(async {
        let engine = engine(&spec["emulator"], parallelism)?;
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
            creates: [
                EntityKind::Environment,
                EntityKind::Api,
                EntityKind::Version,
                EntityKind::Definition,
                EntityKind::Deployment,
            ]
            .into_iter()
            .map(|kind| report.counts(kind, Action::Create).planned as u64)
            .sum(),
            planned_imports: report
                .counts(EntityKind::Definition, Action::Import)
                .planned as u64,
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
    parallelism: Parallelism,
) -> BenchResult<PassFigures> {
    let spec = json!({"emulator": emulator.info, "mode": mode, "parallelism": parallelism});
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

/// The writes a first sync cannot avoid: one per entity it creates and one per import,
/// plus the link's one-off setup: the metadata schema declaring the ownership record,
/// and clearing the pass token from the environment once every API is complete.
fn first_sync_minimum_writes(figures: &PassFigures) -> u64 {
    figures.creates + figures.planned_imports + 2
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
    let emulator = ChildEmulator::start(EmulatorSpec {
        apis,
        latency_ms,
        arm_limits: false,
    })?;
    let version_sets = Seed::synthetic(apis)
        .services
        .iter()
        .map(|s| s.version_sets.len())
        .sum();
    let mut rows = Vec::new();

    let first = pass_in_child(&emulator, "light", Parallelism::both(concurrency))?;
    let apic_apis = first.apis_synced as usize;
    // Listing, the metadata schemas (once, before the first write), one export per
    // definition, for each import at least one poll while it runs and the final answer,
    // and the environment's read before its pass token is cleared.
    let first_minimum =
        steady_minimum(apis, version_sets, 0) + 1 + first.exports + 2 * first.imports + 1;
    rows.push(Row {
        apis,
        pass: "first sync",
        min_reads: Some(first_minimum),
        min_writes: first_sync_minimum_writes(&first),
        figures: first,
    });
    let minimum = steady_minimum(apis, version_sets, apic_apis);
    for (pass, mode) in [("steady state", "light"), ("full resync", "full")] {
        let figures = pass_in_child(&emulator, mode, Parallelism::both(concurrency))?;
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

/// What the emulator's ledger says about the principal's writes in the ARM-limits run.
#[derive(Debug)]
struct BudgetFigures {
    /// Writes the write bucket allowed.
    writes: u64,
    /// Writes allowed after the burst was spent, and the seconds from then to the last.
    after_burst: u64,
    after_burst_secs: f64,
    budget_use: Option<f64>,
    /// 429s the buckets answered (every category).
    throttled: u64,
    retry_after_violations: u64,
}

/// Reads `GET /_emulator/throttle/report` (an admin route on the ARM origin, so the
/// bench's ARM client can fetch it) for the default principal.
fn budget_figures(info: &Value) -> BenchResult<BudgetFigures> {
    let runtime = tokio::runtime::Runtime::new()?;
    let report: Value = runtime.block_on(async {
        let arm = arm_client(info, 1)?;
        let url = arm.endpoint().join("_emulator/throttle/report")?;
        let answer = arm.send(ArmRequest::get(url)).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(answer.json()?)
    })?;
    let principal = report["principals"]
        .as_object()
        .and_then(|all| {
            all.values()
                .find(|p| p["client_id"] == apilink_emulator::DEFAULT_CLIENT_ID)
        })
        .ok_or("the emulator saw no request of the bench's principal")?;
    let writes = &principal["writes"];
    let number = |v: &Value| v.as_u64().unwrap_or(0);
    Ok(BudgetFigures {
        writes: number(&writes["allowed"]),
        after_burst: number(&writes["allowed_after_burst"]),
        after_burst_secs: writes["after_burst_secs"].as_f64().unwrap_or(0.0),
        budget_use: writes["budget_use_after_burst"].as_f64(),
        throttled: number(&principal["throttled"]),
        retry_after_violations: number(&principal["retry_after_violations"]),
    })
}

/// A first sync of `apis` APIs under scaled ARM limits (see the module docs), with the
/// engine's and the ARM client's default parallelism: the client adapts it to ARM.
fn bench_budget(apis: usize) -> BenchResult<(Row, BudgetFigures)> {
    let emulator = ChildEmulator::start(EmulatorSpec {
        apis,
        latency_ms: 0,
        arm_limits: true,
    })?;
    let figures = pass_in_child(&emulator, "light", Parallelism::defaults())?;
    let budget = budget_figures(&emulator.info);
    emulator.stop();
    let row = Row {
        apis,
        pass: "first sync, ARM limits",
        min_reads: None,
        min_writes: first_sync_minimum_writes(&figures),
        figures,
    };
    Ok((row, budget?))
}

/// Seconds ARM's write bucket needs for `writes` writes.
fn arm_write_time(writes: u64) -> f64 {
    ((writes as f64 - ARM_WRITE_BURST) / ARM_WRITE_RATE).max(0.0)
}

fn print_table(rows: &[Row], latency_ms: u64, concurrency: usize) {
    let defaults = Parallelism::defaults();
    println!(
        "\nSync benchmark: emulator in a child process, {latency_ms} ms injected latency per ARM call, \
         engine concurrency {concurrency} (\"ARM limits\": the defaults, {} APIs at once and \
         the ARM client's adaptive limits up to {} requests per class), every pass in a fresh process.",
        defaults.apis, defaults.requests
    );
    println!(
        "Throttling disabled in the emulator except in the \"ARM limits\" row \
         (buckets writes 100 + 20/s, reads 250 + 50/s; {LIMITS_WRITE_MS} ms per write, \
         {LIMITS_READ_MS} ms per read, imports of about two seconds).\n"
    );
    println!(
        "| APIM APIs | API Center APIs | pass | wall time | ARM reads (min) | reads ÷ min | ARM writes (min) | writes ÷ min | writes/s | time at ARM's 10 writes/s | engine CPU | peak RSS |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
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
        let ratio = |value: u64, min: Option<u64>| match min {
            Some(min) if min > 0 => format!("{:.2}", value as f64 / min as f64),
            Some(_) if value == 0 => "1.00".to_string(),
            _ => "-".to_string(),
        };
        println!(
            "| {} | {} | {} | {:.1} s | {} | {} | {} ({}) | {} | {:.0} | {} | {:.1} s | {:.0} MiB |",
            row.apis,
            f.apis_synced,
            row.pass,
            f.wall_ms as f64 / 1000.0,
            reads,
            ratio(f.reads, row.min_reads),
            f.writes,
            row.min_writes,
            ratio(f.writes, Some(row.min_writes)),
            f.write_rate,
            budget_time,
            f.cpu_ms as f64 / 1000.0,
            f.peak_mib,
        );
    }
}

/// The ARM-limits run as the emulator saw it.
fn print_budget(row: &Row, budget: &BudgetFigures) {
    let refill = LIMITS_WRITES.refill_per_sec;
    println!(
        "\nARM limits, first sync of {} APIs, as the emulator's ledger saw it \
         (write-budget use after the burst = writes after the burst was spent / \
         ({refill}/s × time from then to the last write)):\n",
        row.apis
    );
    println!(
        "| writes | wall time | writes after the burst | in | write-budget use after the burst | 429s | Retry-After violations |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let used = budget
        .budget_use
        .map_or("- (burst never spent)".to_string(), |u| format!("{u:.3}"));
    println!(
        "| {} | {:.1} s | {} | {:.1} s | {used} | {} | {} |",
        budget.writes,
        row.figures.wall_ms as f64 / 1000.0,
        budget.after_burst,
        budget.after_burst_secs,
        budget.throttled,
        budget.retry_after_violations,
    );
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
    let budget_apis = env_or("APILINK_BENCH_BUDGET_APIS", 400usize);
    let mut rows = Vec::new();
    for &apis in &sizes {
        eprintln!("benchmarking {apis} APIs …");
        rows.extend(bench_size(apis, latency_ms, concurrency)?);
    }
    eprintln!("benchmarking a first sync of {budget_apis} APIs under ARM limits …");
    let (budget_row, budget) = bench_budget(budget_apis)?;
    rows.push(budget_row);
    print_table(&rows, latency_ms, concurrency);
    if let Some(row) = rows.last() {
        print_budget(row, &budget);
    }
    Ok(())
}
