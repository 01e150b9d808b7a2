//! The cost of keeping definitions fresh: a day of light polls with resync windows (the
//! re-checks spread over the polls) against today's light polls plus one full resync,
//! on the emulator.
//!
//! After a first sync, the bench drives one `resyncInterval` of polls with explicit
//! timestamps (no waiting): the poll times follow the controller's schedule (every
//! `interval`, up to 10 % early, never late), each poll covering the window since the
//! previous one. It prints the ARM reads and exports per poll (min / mean / max) of both
//! schemes, checks that the spread scheme re-exported every definition and read every
//! owned API's children exactly once over the day, and measures the content freshness
//! bound: the longest time an API goes between two re-checks, over three simulated
//! days of the same schedule, against the promise `resyncInterval + interval`.
//!
//! `cargo bench -p apilink-engine --bench resync_spread`. Environment:
//! `APILINK_SPREAD_APIS` (APIM APIs, default 1000), `APILINK_SPREAD_INTERVAL_SECS`
//! (default 300), `APILINK_SPREAD_RESYNC_SECS` (default 86400),
//! `APILINK_SPREAD_CONCURRENCY` (default 64).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apilink_azure::lro::LroOptions;
use apilink_azure::{ArmClient, ArmClientOptions, CloudConfig, CredentialConfig, build_credential};
use apilink_core::resync_window::{Coverage, ResyncWindow};
use apilink_core::{LinkId, LinkSettings, LinkSpec};
use apilink_emulator::{Emulator, EmulatorConfig, Seed, ThrottleConfig};
use apilink_engine::{AzureClients, Engine, EngineOptions, PassMode, PassReport};
use serde_json::json;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const APIM: &str = "contoso-apim";
const APIC: &str = "contoso-catalog";
/// Light polls come up to this share of `interval` early, never late (as the
/// controller schedules them).
const EARLY_JITTER: f64 = 0.10;
/// Days of the schedule over which the freshness bound is measured (pure, no passes).
const FRESHNESS_DAYS: u32 = 3;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

struct Knobs {
    apis: usize,
    interval: Duration,
    resync: Duration,
    concurrency: usize,
}

impl Knobs {
    fn from_env() -> Self {
        Self {
            apis: env_or("APILINK_SPREAD_APIS", 1000),
            interval: Duration::from_secs(env_or("APILINK_SPREAD_INTERVAL_SECS", 300)),
            resync: Duration::from_secs(env_or("APILINK_SPREAD_RESYNC_SECS", 86_400)),
            concurrency: env_or("APILINK_SPREAD_CONCURRENCY", 64),
        }
    }
}

fn engine(emulator: &Emulator, concurrency: usize) -> BenchResult<Engine<AzureClients>> {
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
            max_concurrency: concurrency,
            request_timeout: Duration::from_secs(120),
            lro: LroOptions {
                deadline: Duration::from_secs(600),
                // The emulator asks for a second between import polls; the first sync
                // is not what this bench measures.
                max_poll_interval: Duration::from_millis(100),
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

fn settings(emulator: &Emulator, knobs: &Knobs) -> BenchResult<LinkSettings> {
    let spec: LinkSpec = serde_json::from_value(json!({
        "source": {"apimResourceId": emulator.apim_resource_id(APIM)},
        "target": {"apiCenterResourceId": emulator.api_center_resource_id(APIC)},
        "interval": format!("{}s", knobs.interval.as_secs()),
        "resyncInterval": format!("{}s", knobs.resync.as_secs()),
    }))?;
    Ok(spec.settings(LinkId::new("bench/spread")?)?)
}

/// A number in `[0, 1)` for poll `i`: the schedule's jitter, the same on every run.
fn unit(i: u64) -> f64 {
    let mut hasher = DefaultHasher::new();
    i.hash(&mut hasher);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Poll times from `start` to `start + span` as the controller schedules them: each
/// `interval` after the previous one, up to 10 % early; the last lands on the end.
fn schedule(start: SystemTime, span: Duration, interval: Duration) -> Vec<SystemTime> {
    let end = start + span;
    let mut polls = vec![start];
    let mut i = 0;
    loop {
        let last = polls[polls.len() - 1];
        let next = last + interval.mul_f64(1.0 - EARLY_JITTER * unit(i));
        i += 1;
        if next >= end {
            polls.push(end);
            return polls;
        }
        polls.push(next);
    }
}

/// The windows between consecutive polls.
fn windows(polls: &[SystemTime], period: Duration) -> Vec<ResyncWindow> {
    polls
        .windows(2)
        .map(|p| ResyncWindow::new(p[0], p[1], period))
        .collect()
}

/// What one poll cost.
struct PollFigures {
    reads: u64,
    exports: usize,
    details: usize,
    writes: u64,
    wall: Duration,
}

impl PollFigures {
    fn of(report: &PassReport, wall: Duration) -> Self {
        Self {
            reads: report.arm.reads,
            exports: report.exports,
            details: report.details_read,
            writes: report.arm.mutations(),
            wall,
        }
    }
}

async fn pass(
    engine: &Engine<AzureClients>,
    settings: &LinkSettings,
    coverage: Coverage,
) -> BenchResult<PollFigures> {
    let started = Instant::now();
    let report = engine
        .sync_pass(settings, coverage)
        .await
        .map_err(|e| format!("{} pass failed: {e}", coverage.mode().as_str()))?;
    Ok(PollFigures::of(&report, started.elapsed()))
}

/// min / mean / max of `values`.
fn spread(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let (mut min, mut max, mut sum, mut n) = (f64::MAX, 0f64, 0f64, 0f64);
    for v in values {
        min = min.min(v);
        max = max.max(v);
        sum += v;
        n += 1.0;
    }
    if n == 0.0 {
        return (0.0, 0.0, 0.0);
    }
    (min, sum / n, max)
}

/// The longest stretch any API goes between two re-checks (or from the start to its
/// first), over `FRESHNESS_DAYS` days of the schedule: a re-check happens when the
/// poll whose window holds the API's phase runs.
fn longest_wait(settings: &LinkSettings, apis: &[String], start: SystemTime) -> Duration {
    let polls = schedule(
        start,
        settings.resync_interval * FRESHNESS_DAYS,
        settings.interval,
    );
    let windows = windows(&polls, settings.resync_interval);
    let mut longest = Duration::ZERO;
    for api in apis {
        let mut last = start;
        for w in windows.iter().filter(|w| w.covers_api(&settings.link, api)) {
            let waited = w.end().duration_since(last).unwrap_or_default();
            longest = longest.max(waited);
            last = w.end();
        }
    }
    longest
}

fn hours(d: Duration) -> String {
    let s = d.as_secs();
    format!("{} h {:02} min {:02} s", s / 3600, s % 3600 / 60, s % 60)
}

struct Scheme {
    name: &'static str,
    polls: Vec<PollFigures>,
    freshness: String,
}

fn print_schemes(schemes: &[Scheme]) {
    println!(
        "| scheme | polls | ARM reads per poll (min / mean / max) | exports per poll (min / mean / max) | children read per poll (max) | reads per day | slowest poll | content freshness bound |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for s in schemes {
        let (rmin, rmean, rmax) = spread(s.polls.iter().map(|p| p.reads as f64));
        let (emin, emean, emax) = spread(s.polls.iter().map(|p| p.exports as f64));
        let details = s.polls.iter().map(|p| p.details).max().unwrap_or(0);
        let total: u64 = s.polls.iter().map(|p| p.reads).sum();
        let slowest = s.polls.iter().map(|p| p.wall).max().unwrap_or_default();
        println!(
            "| {} | {} | {rmin:.0} / {rmean:.1} / {rmax:.0} | {emin:.0} / {emean:.1} / {emax:.0} | {details} | {total} | {:.2} s | {} |",
            s.name,
            s.polls.len(),
            slowest.as_secs_f64(),
            s.freshness
        );
    }
}

/// API Center API names after the first sync (all of them the link's).
fn api_center_apis(emulator: &Emulator) -> BenchResult<Vec<String>> {
    let snapshot = emulator
        .api_center()
        .snapshot(APIC)
        .ok_or("the API Center service is missing")?;
    Ok(snapshot["workspaces"]["default"]["apis"]
        .as_object()
        .map(|apis| apis.keys().cloned().collect())
        .unwrap_or_default())
}

/// One day of spread polls; returns their figures and how often each API's children
/// were read (from the windows, checked against the engine's counts poll by poll).
async fn spread_day(
    engine: &Engine<AzureClients>,
    settings: &LinkSettings,
    apis: &[String],
    polls: &[SystemTime],
) -> BenchResult<(Vec<PollFigures>, BTreeMap<String, usize>)> {
    let mut figures = Vec::new();
    let mut rechecked: BTreeMap<String, usize> = BTreeMap::new();
    for window in windows(polls, settings.resync_interval) {
        let due: Vec<&String> = apis
            .iter()
            .filter(|api| window.covers_api(&settings.link, api))
            .collect();
        let poll = pass(engine, settings, Coverage::Window(window)).await?;
        if poll.details != due.len() {
            return Err(format!(
                "a window read {} APIs' children, {} were due",
                poll.details,
                due.len()
            )
            .into());
        }
        for api in due {
            *rechecked.entry(api.clone()).or_default() += 1;
        }
        figures.push(poll);
    }
    Ok((figures, rechecked))
}

/// Today's scheme over the same polls: a full resync at the first, light polls after.
async fn today_day(
    engine: &Engine<AzureClients>,
    settings: &LinkSettings,
    polls: usize,
) -> BenchResult<Vec<PollFigures>> {
    let mut figures = Vec::new();
    for i in 0..polls {
        let mode = if i == 0 {
            PassMode::Full
        } else {
            PassMode::Light
        };
        figures.push(pass(engine, settings, mode.into()).await?);
    }
    Ok(figures)
}

async fn run(knobs: Knobs) -> BenchResult<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let emulator = apilink_emulator::start(EmulatorConfig {
        seed: Seed::synthetic(knobs.apis),
        throttle: ThrottleConfig::disabled(),
        ..EmulatorConfig::default()
    })
    .await?;
    let settings = settings(&emulator, &knobs)?;
    let engine = engine(&emulator, knobs.concurrency)?;
    let first = pass(&engine, &settings, PassMode::Light.into()).await?;
    let apis = api_center_apis(&emulator)?;
    println!(
        "\nResync spread benchmark: {} APIM APIs → {} API Center APIs, {} definitions; \
         interval {} s, resyncInterval {} s; emulator in process, no injected latency.",
        knobs.apis,
        apis.len(),
        first.exports,
        settings.interval.as_secs(),
        settings.resync_interval.as_secs()
    );
    println!(
        "First sync: {} ARM reads, {} writes, {:.1} s.\n",
        first.reads,
        first.writes,
        first.wall.as_secs_f64()
    );

    // A day starting anywhere in the cycle: phases are points of the cycle, not of a day.
    let start = UNIX_EPOCH + Duration::from_secs(1_750_000_123);
    let polls = schedule(start, settings.resync_interval, settings.interval);
    let (spread_polls, rechecked) = spread_day(&engine, &settings, &apis, &polls).await?;
    let today_polls = today_day(&engine, &settings, spread_polls.len()).await?;

    let exports: usize = spread_polls.iter().map(|p| p.exports).sum();
    let writes: u64 = spread_polls
        .iter()
        .chain(&today_polls)
        .map(|p| p.writes)
        .sum();
    let once = rechecked.len() == apis.len() && rechecked.values().all(|n| *n == 1);
    let longest = longest_wait(&settings, &apis, start);
    let bound = settings.resync_interval + settings.interval;
    let schemes = [
        Scheme {
            name: "spread: light polls with resync windows",
            polls: spread_polls,
            freshness: format!(
                "{} measured over {FRESHNESS_DAYS} days (promise resyncInterval + interval = {})",
                hours(longest),
                hours(bound)
            ),
        },
        Scheme {
            name: "today: light polls + one full resync",
            polls: today_polls,
            freshness: format!(
                "{} (a content-only change waits for the next full resync)",
                hours(bound)
            ),
        },
    ];
    print_schemes(&schemes);
    println!(
        "\nSpread day: {exports} exports for {} definitions; {} of {} APIs' children read, {}; \
         {writes} writes in both days (nothing changed); freshness within the promise: {}.",
        first.exports,
        rechecked.len(),
        apis.len(),
        if once {
            "each exactly once"
        } else {
            "NOT each once"
        },
        if longest <= bound { "yes" } else { "NO" },
    );
    emulator.shutdown().await;
    if exports != first.exports || !once || longest > bound || writes != 0 {
        return Err("the spread day broke its promise (see above)".into());
    }
    Ok(())
}

fn main() -> BenchResult<()> {
    // `cargo bench` passes `--bench`; a filter argument that names nothing here skips.
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(Knobs::from_env()))
}
