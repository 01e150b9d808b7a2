//! Where the memory of a large sync goes: a first sync, a steady light pass and a full
//! resync of `N` APIM APIs against the emulator, each pass in a fresh process, as the
//! sync benchmark runs them.
//!
//! Like the benchmark, this binary plays three roles: the orchestrator; the emulator, in
//! a child process of its own so its memory is not counted; and one child process per
//! pass. Each pass prints its peak resident set (`VmHWM`) and, at the start of every
//! phase (observe, details, export, apply), the resident set and — with the heap
//! profiler on — the live and peak heap.
//!
//! With `APILINK_PROFILE_DHAT=1` every pass runs under the dhat heap profiler (slow, and
//! its bookkeeping inflates the resident set: read the heap figures, not RSS), prints the
//! allocation sites holding the most memory at the peak, and two extra passes break
//! observing and planning down step by step (APIM listing, API Center listing, desired
//! state, details, exports, plan), with the heap each step's result keeps.
//!
//! ```text
//! cargo run --release -p apilink-engine --example memory_profile            # RSS, 10,000 APIs
//! APILINK_PROFILE_APIS=2000 APILINK_PROFILE_DHAT=1 \
//!     cargo run -p apilink-engine --example memory_profile                  # heap and sites
//! ```
//!
//! Environment: `APILINK_PROFILE_APIS` (default 10000), `APILINK_PROFILE_LATENCY_MS`
//! (default 30), `APILINK_PROFILE_CONCURRENCY` (default 64), `APILINK_PROFILE_SITES`
//! (sites printed, default 25), `APILINK_PROFILE_KEEP` (keep dhat's files, for
//! `dh_view.html`), `APILINK_PROFILE_PRELOAD` (a `malloc` library preloaded
//! into the pass processes only, e.g. a jemalloc `.so`). Allocator settings such as
//! `MALLOC_ARENA_MAX` are inherited by the pass processes.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use apilink_azure::lro::LroOptions;
use apilink_azure::{ArmClient, ArmClientOptions, CloudConfig, CredentialConfig, build_credential};
use apilink_core::hash::content_hash;
use apilink_core::ids::ApimApiRef;
use apilink_core::observed::{
    ApiDetails, ApicEntity, DetailsRead, ExportedDefinition, ObservedApiCenter, ObservedApim,
    ObservedVersion,
};
use apilink_core::planner::Exports;
use apilink_core::{
    Coverage, LinkId, LinkSettings, LinkSpec, desired_state, details_needed, exports_needed,
};
use apilink_emulator::{EmulatorConfig, FaultKind, FaultRule, Seed, ThrottleConfig};
use apilink_engine::{
    AzureClients, AzureSide, Engine, EngineOptions, EntityPath, ExportedContent, LinkTarget,
    PassMode, Phase, Progress, ProgressEvent,
};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

type ProfileResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const EMULATOR_ENV: &str = "APILINK_PROFILE_EMULATOR";
const PASS_ENV: &str = "APILINK_PROFILE_PASS";
const APIM: &str = "contoso-apim";
const APIC: &str = "contoso-catalog";
const MIB: f64 = 1024.0 * 1024.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

/// A `/proc/self/status` figure in MiB (`VmHWM`: peak resident set, `VmRSS`: now).
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

// ---------------------------------------------------------------------------------------
// The emulator child.

/// Serves an emulator seeded with `apis` synthetic APIs until stdin closes.
fn run_emulator_child(spec: &str) -> ProfileResult<()> {
    let spec: Value = serde_json::from_str(spec)?;
    let apis = spec["apis"].as_u64().unwrap_or(100) as usize;
    let latency = spec["latencyMs"].as_u64().unwrap_or(30);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let emulator = apilink_emulator::start(EmulatorConfig {
            seed: Seed::synthetic(apis),
            throttle: ThrottleConfig::disabled(),
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
    fn start(apis: usize, latency_ms: u64) -> ProfileResult<Self> {
        let spec = json!({"apis": apis, "latencyMs": latency_ms});
        let mut child = Command::new(std::env::current_exe()?)
            .env(EMULATOR_ENV, spec.to_string())
            .env_remove("LD_PRELOAD")
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

// ---------------------------------------------------------------------------------------
// Heap and RSS marks.

/// One point of a pass: the resident set now, and the heap when profiled.
#[derive(Debug, Clone)]
struct Mark {
    label: String,
    rss_mib: f64,
    heap: Option<dhat::HeapStats>,
}

impl Mark {
    fn now(label: impl Into<String>, profiled: bool) -> Self {
        Self {
            label: label.into(),
            rss_mib: status_mib("VmRSS:"),
            heap: profiled.then(dhat::HeapStats::get),
        }
    }
}

/// Prints marks: the heap each step left live (and its change), and the peak heap
/// reached during the step when it rose.
fn print_marks(title: &str, marks: &[Mark]) {
    println!("  {title}");
    println!(
        "    {:<34} {:>9} {:>10} {:>11} {:>12}",
        "step (mark at its end)", "RSS MiB", "heap MiB", "Δheap MiB", "peak MiB"
    );
    let mut previous: Option<&dhat::HeapStats> = None;
    for mark in marks {
        let (live, delta, peak) = match &mark.heap {
            Some(heap) => {
                let delta = mib(heap.curr_bytes as u64)
                    - previous.map_or(0.0, |p| mib(p.curr_bytes as u64));
                let rose = previous.is_none_or(|p| heap.max_bytes > p.max_bytes);
                let peak = if rose {
                    format!("{:.1}", mib(heap.max_bytes as u64))
                } else {
                    "-".to_string()
                };
                (
                    format!("{:.1}", mib(heap.curr_bytes as u64)),
                    format!("{delta:+.1}"),
                    peak,
                )
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "    {:<34} {:>9.1} {:>10} {:>11} {:>12}",
            mark.label, mark.rss_mib, live, delta, peak
        );
        previous = mark.heap.as_ref().or(previous);
    }
}

/// Marks the start of each phase of an engine pass.
struct PhaseMarks {
    profiled: bool,
    marks: Mutex<Vec<Mark>>,
}

impl Progress for PhaseMarks {
    fn event(&self, event: ProgressEvent) {
        let label = match event {
            ProgressEvent::PhaseStarted(Phase::Observe) => "start (observe starts)".to_string(),
            ProgressEvent::PhaseStarted(Phase::Details { apis }) => {
                format!("listings + desired ({apis} details)")
            }
            ProgressEvent::PhaseStarted(Phase::Export { definitions }) => {
                format!("details read ({definitions} exports)")
            }
            ProgressEvent::PhaseStarted(Phase::Apply { operations }) => {
                format!("exports + plan ({operations} ops)")
            }
            ProgressEvent::Finished => "applied (pass finished)".to_string(),
            ProgressEvent::Step => return,
        };
        let mark = Mark::now(label, self.profiled);
        if let Ok(mut marks) = self.marks.lock() {
            marks.push(mark);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The pass child.

fn clients(info: &Value, concurrency: usize) -> ProfileResult<AzureClients> {
    let field = |key: &str| -> ProfileResult<String> {
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
    Ok(AzureClients::new(arm))
}

fn settings(info: &Value) -> ProfileResult<LinkSettings> {
    let spec: LinkSpec = serde_json::from_value(json!({
        "source": {"apimResourceId": info["apim"]},
        "target": {"apiCenterResourceId": info["apic"]},
    }))?;
    Ok(spec.settings(LinkId::new("bench/link")?)?)
}

/// What one pass process reports back.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct PassFigures {
    peak_rss_mib: f64,
    peak_heap_mib: Option<f64>,
    operations: u64,
    exports: u64,
    wall_ms: u64,
}

/// One engine pass, with a mark at the start of each phase.
async fn engine_pass(spec: &Value, profiled: bool) -> ProfileResult<PassFigures> {
    let mode = if spec["mode"] == "full" {
        PassMode::Full
    } else {
        PassMode::Light
    };
    let concurrency = spec["concurrency"].as_u64().unwrap_or(64) as usize;
    let marks = std::sync::Arc::new(PhaseMarks {
        profiled,
        marks: Mutex::new(Vec::new()),
    });
    let engine = Engine::new(
        clients(&spec["emulator"], concurrency)?,
        EngineOptions {
            concurrency,
            progress: Some(marks.clone()),
            ..EngineOptions::default()
        },
    );
    let settings = settings(&spec["emulator"])?;
    let started = Instant::now();
    let report = engine
        .sync_pass(&settings, mode)
        .await
        .map_err(|e| format!("{} pass failed: {e}", mode.as_str()))?;
    let wall_ms = started.elapsed().as_millis() as u64;
    let marks = marks.marks.lock().map(|m| m.clone()).unwrap_or_default();
    print_marks("phases of the engine pass", &marks);
    Ok(PassFigures {
        peak_rss_mib: status_mib("VmHWM:"),
        peak_heap_mib: profiled.then(|| mib(dhat::HeapStats::get().max_bytes as u64)),
        operations: report.totals().planned as u64,
        exports: report.exports as u64,
        wall_ms,
    })
}

/// Versions (with their definitions) and deployments of one API, as the engine reads
/// them.
async fn read_details(
    azure: &AzureClients,
    target: &LinkTarget,
    api: String,
) -> ProfileResult<(String, ApiDetails)> {
    let by_name = |entities: Vec<ApicEntity>| -> BTreeMap<String, Value> {
        entities
            .into_iter()
            .map(|e| (e.name, e.properties.value()))
            .collect()
    };
    let (versions, deployments) = futures::try_join!(
        azure.list_versions(target, &api),
        azure.list_deployments(target, &api)
    )?;
    let mut observed = BTreeMap::new();
    for version in versions {
        let definitions = azure.list_definitions(target, &api, &version.name).await?;
        observed.insert(
            version.name,
            ObservedVersion {
                properties: version.properties.value(),
                definitions: by_name(definitions),
            },
        );
    }
    let details = ApiDetails {
        versions: observed,
        deployments: by_name(deployments),
    };
    Ok((api, details))
}

/// The APIM side as the engine reads it for a link without source workspaces.
async fn read_apim(azure: &AzureClients, target: &LinkTarget) -> ProfileResult<ObservedApim> {
    let (service, apis, version_sets) = futures::try_join!(
        azure.apim_service(target),
        azure.apim_apis(target, None),
        azure.apim_version_sets(target, None)
    )?;
    Ok(ObservedApim {
        service,
        apis,
        version_sets,
        ..ObservedApim::default()
    })
}

/// Exports every requested definition, keeping the documents as the engine does.
async fn export_all(
    azure: &AzureClients,
    target: &LinkTarget,
    requests: Vec<apilink_core::planner::ExportRequest>,
    concurrency: usize,
) -> ProfileResult<(Exports, HashMap<ApimApiRef, ExportedContent>)> {
    let exported: Vec<(ApimApiRef, Option<ExportedContent>)> = stream::iter(requests)
        .map(|request| async move {
            let content = azure
                .export_definition(target, &request.api, request.kind)
                .await?;
            Ok::<_, apilink_azure::AzureError>((request.api, content))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut exports = Exports::new();
    let mut contents = HashMap::new();
    for (api, content) in exported {
        if let Some(content) = content {
            exports.insert(
                api.clone(),
                ExportedDefinition {
                    specification: content.specification.clone(),
                    content_hash: content_hash(content.content.as_bytes()),
                },
            );
            contents.insert(api, content);
        }
    }
    Ok((exports, contents))
}

/// Observing and planning step by step, with a mark after each step; nothing is written.
async fn breakdown(spec: &Value, profiled: bool) -> ProfileResult<PassFigures> {
    let coverage = if spec["mode"] == "full" {
        Coverage::Everything
    } else {
        Coverage::Changed
    };
    let concurrency = spec["concurrency"].as_u64().unwrap_or(64) as usize;
    let azure = clients(&spec["emulator"], concurrency)?;
    let settings = settings(&spec["emulator"])?;
    let target = LinkTarget::from(&settings);
    let started = Instant::now();
    let mut marks = vec![Mark::now("start", profiled)];
    let apim = read_apim(&azure, &target).await?;
    marks.push(Mark::now(
        format!("APIM listing ({} APIs)", apim.apis.len()),
        profiled,
    ));
    let environment = EntityPath::Environment {
        name: settings.environment_name.clone(),
    };
    let mut apic = ObservedApiCenter {
        apis: azure.list_apis(&target).await?,
        environment: azure.get(&target, &environment).await?,
        details: Default::default(),
    };
    marks.push(Mark::now(
        format!("API Center listing ({} APIs)", apic.apis.len()),
        profiled,
    ));
    let desired = desired_state(&settings, &apim);
    marks.push(Mark::now("desired state", profiled));
    let wanted = details_needed(&settings, &desired, &apic, coverage);
    let wanted_count = wanted.len();
    // Each API's children are kept as text as they arrive, as the engine does.
    apic.details = stream::iter(wanted)
        .map(|api| read_details(&azure, &target, api))
        .buffer_unordered(concurrency.max(1))
        .try_fold(
            Default::default(),
            |mut read: DetailsRead, (api, details)| async move {
                read.insert(api, &details);
                Ok(read)
            },
        )
        .await?;
    marks.push(Mark::now(
        format!("details ({wanted_count} APIs)"),
        profiled,
    ));
    let requests = exports_needed(&settings, &desired, &apic, coverage);
    let (exports, contents) = export_all(&azure, &target, requests, concurrency).await?;
    let document_bytes: usize = contents.values().map(|c| c.content.len()).sum();
    marks.push(Mark::now(
        format!(
            "exports ({}, {:.1} MiB text)",
            contents.len(),
            mib(document_bytes as u64)
        ),
        profiled,
    ));
    let plan = apilink_core::plan(&settings, &desired, &exports, &apic);
    marks.push(Mark::now(
        format!("plan ({} ops)", plan.operations.len()),
        profiled,
    ));
    drop(apim);
    marks.push(Mark::now("APIM listing dropped", profiled));
    print_marks("observe and plan, step by step (nothing applied)", &marks);
    Ok(PassFigures {
        peak_rss_mib: status_mib("VmHWM:"),
        peak_heap_mib: profiled.then(|| mib(dhat::HeapStats::get().max_bytes as u64)),
        operations: plan.operations.len() as u64,
        exports: contents.len() as u64,
        wall_ms: started.elapsed().as_millis() as u64,
    })
}

/// Pass mode: one pass (or breakdown) in this fresh process; the figures as the last line.
fn run_pass_child(spec: &str) -> ProfileResult<()> {
    let spec: Value = serde_json::from_str(spec)?;
    let dhat_file = spec["dhatFile"].as_str().map(str::to_string);
    let profiler = dhat_file.as_ref().map(|file| {
        dhat::Profiler::builder()
            .file_name(file)
            .trim_backtraces(Some(64))
            .build()
    });
    let profiled = profiler.is_some();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    let figures = runtime.block_on(async {
        if spec["breakdown"].as_bool().unwrap_or(false) {
            breakdown(&spec, profiled).await
        } else {
            engine_pass(&spec, profiled).await
        }
    })?;
    drop(runtime);
    drop(profiler);
    if let Some(file) = dhat_file {
        print_top_sites(&file, env_or("APILINK_PROFILE_SITES", 25))?;
    }
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The sites holding the heap at its peak, from dhat's output.

/// The function and place of a frame: `0x…: function (file:line:col)`.
fn frame_parts(frame: &str) -> (&str, &str) {
    let name = frame.split_once(": ").map_or(frame, |(_, name)| name);
    match name.rsplit_once(" (") {
        Some((function, place)) => (function, place.trim_end_matches(')')),
        None => (name, ""),
    }
}

/// The project's source folders as dhat spells frames' files.
const PROJECT_SOURCES: [&str; 5] = [
    "core/src/",
    "azure/src/",
    "engine/src/",
    "engine/examples/",
    "cli/src/",
];

/// A frame of the project's own sources, shown as `crate/src/file.rs:line function`,
/// generics left out.
fn project_frame(frame: &str) -> Option<String> {
    let (function, place) = frame_parts(frame);
    // `core/src/` is also the standard library's `core`: its functions are told apart
    // by name.
    let ours = PROJECT_SOURCES.iter().any(|p| place.starts_with(p))
        && (!place.starts_with("core/src/") || function.contains("apilink_core"));
    if function.starts_with("__rust") || !ours {
        return None;
    }
    let place = place.rsplit_once(':').map_or(place, |(p, _col)| p);
    Some(format!("{place} {}", without_generics(function)))
}

/// A frame of a dependency (`name-1.2.3/src/…`, not the allocator), the innermost one
/// saying what kind of value was allocated.
fn library_frame(frame: &str) -> Option<String> {
    let (function, place) = frame_parts(frame);
    let folder = place.split('/').next().unwrap_or("");
    let versioned = folder
        .rsplit_once('-')
        .is_some_and(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()));
    (versioned && !folder.starts_with("dhat-"))
        .then(|| format!("{folder}: {}", without_generics(function)))
}

/// A function name without generic arguments; `<T as Trait>::f` reads `T::f`.
fn without_generics(function: &str) -> String {
    let function = match function
        .strip_prefix('<')
        .and_then(|f| f.split_once(" as "))
    {
        Some((implementer, rest)) => {
            let after = rest.split_once(">::").map_or("", |(_, after)| after);
            format!("{implementer}::{after}")
        }
        None => function.to_string(),
    };
    let mut depth = 0usize;
    function
        .chars()
        .filter(|&c| {
            match c {
                '<' => depth += 1,
                '>' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect()
}

/// A site: the innermost project frame, with the library frame inside it if any.
fn site_of(frames: &[&str]) -> String {
    let project = frames.iter().position(|f| project_frame(f).is_some());
    let Some(index) = project else {
        return "(outside the project's code)".to_string();
    };
    let site = project_frame(frames[index]).unwrap_or_default();
    match frames[..index].iter().rev().find_map(|f| library_frame(f)) {
        Some(library) => format!("{site}  [{library}]"),
        None => site,
    }
}

/// Prints the sites holding the most heap at the global peak, grouped by site.
fn print_top_sites(file: &str, count: usize) -> ProfileResult<()> {
    let profile: Value = serde_json::from_str(&std::fs::read_to_string(file)?)?;
    let frames: Vec<&str> = profile["ftbl"]
        .as_array()
        .ok_or("dhat output lacks ftbl")?
        .iter()
        .map(|f| f.as_str().unwrap_or(""))
        .collect();
    let mut sites: HashMap<String, (u64, u64)> = HashMap::new();
    let mut total = 0u64;
    for pp in profile["pps"].as_array().ok_or("dhat output lacks pps")? {
        let bytes = pp["gb"].as_u64().unwrap_or(0);
        if bytes == 0 {
            continue;
        }
        total += bytes;
        let stack: Vec<&str> = pp["fs"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter_map(|i| frames.get(i.as_u64()? as usize).copied())
                    .collect()
            })
            .unwrap_or_default();
        let entry = sites.entry(site_of(&stack)).or_default();
        entry.0 += bytes;
        entry.1 += pp["gbk"].as_u64().unwrap_or(0);
    }
    let mut sites: Vec<_> = sites.into_iter().collect();
    sites.sort_by_key(|site| std::cmp::Reverse(site.1.0));
    println!(
        "  heap at its peak: {:.1} MiB; the sites holding most of it:",
        mib(total)
    );
    for (site, (bytes, blocks)) in sites.into_iter().take(count) {
        println!("    {:>7.1} MiB {:>9} blocks  {site}", mib(bytes), blocks);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The orchestrator.

/// Runs one pass (or breakdown) in a fresh child process; forwards what it prints.
fn pass_in_child(
    emulator: &ChildEmulator,
    title: &str,
    mode: &str,
    breakdown: bool,
) -> ProfileResult<PassFigures> {
    let dhat_file = (env_or("APILINK_PROFILE_DHAT", 0u8) == 1).then(|| {
        std::env::temp_dir().join(format!(
            "apilink-dhat-{}-{}.json",
            std::process::id(),
            title.replace(' ', "-")
        ))
    });
    let spec = json!({
        "emulator": emulator.info,
        "mode": mode,
        "breakdown": breakdown,
        "concurrency": env_or("APILINK_PROFILE_CONCURRENCY", 64u64),
        "dhatFile": dhat_file.as_ref().map(|f| f.display().to_string()),
    });
    let mut command = Command::new(std::env::current_exe()?);
    command
        .env(PASS_ENV, spec.to_string())
        .stderr(Stdio::inherit());
    if let Ok(preload) = std::env::var("APILINK_PROFILE_PRELOAD") {
        command.env("LD_PRELOAD", preload);
    }
    println!("\n{title} ({mode}):");
    let output = command.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let last = lines.pop().ok_or("the pass process printed nothing")?;
    for line in lines {
        println!("{line}");
    }
    if !output.status.success() {
        return Err(format!("the {title} process failed ({}): {last}", output.status).into());
    }
    if let Some(file) = dhat_file.filter(|_| std::env::var_os("APILINK_PROFILE_KEEP").is_none()) {
        let _ = std::fs::remove_file(file);
    }
    Ok(serde_json::from_str(last)?)
}

fn main() -> ProfileResult<()> {
    if let Ok(spec) = std::env::var(EMULATOR_ENV) {
        return run_emulator_child(&spec);
    }
    if let Ok(spec) = std::env::var(PASS_ENV) {
        return run_pass_child(&spec);
    }
    let apis = env_or("APILINK_PROFILE_APIS", 10_000usize);
    let latency_ms = env_or("APILINK_PROFILE_LATENCY_MS", 30u64);
    let profiled = env_or("APILINK_PROFILE_DHAT", 0u8) == 1;
    eprintln!("starting the emulator with {apis} APIM APIs …");
    let emulator = ChildEmulator::start(apis, latency_ms)?;
    let mut steps: Vec<(&str, &str, bool)> = Vec::new();
    if profiled {
        steps.push(("first sync, step by step", "light", true));
    }
    steps.extend([
        ("first sync", "light", false),
        ("light pass", "light", false),
    ]);
    if profiled {
        steps.push(("full resync, step by step", "full", true));
    }
    steps.push(("full resync", "full", false));
    let mut rows = Vec::new();
    for (title, mode, breakdown) in steps {
        let figures = pass_in_child(&emulator, title, mode, breakdown)?;
        rows.push((title, figures));
    }
    emulator.stop();
    println!(
        "\n{apis} APIM APIs, {latency_ms} ms latency per ARM call, every pass in a fresh process{}",
        if profiled {
            " (dhat on: RSS includes its bookkeeping)"
        } else {
            ""
        }
    );
    println!("| pass | peak RSS | peak heap | operations | exports | wall time |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (title, f) in rows {
        let heap = f
            .peak_heap_mib
            .map_or("-".to_string(), |h| format!("{h:.1} MiB"));
        println!(
            "| {title} | {:.1} MiB | {heap} | {} | {} | {:.1} s |",
            f.peak_rss_mib,
            f.operations,
            f.exports,
            f.wall_ms as f64 / 1000.0
        );
    }
    Ok(())
}
