//! `apilink demo`: the whole job on the bundled emulator, told for someone who has
//! never seen the project. Starts an emulated APIM + API Center, syncs a link, changes
//! APIM, curates API Center as a user would, syncs again, and checks every promise on
//! the way; then two stages' APIM instances share APIs in the same API Center
//! (`demo_shared`). Exits non-zero if any check fails.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use apilink_azure::apic::{
    ApicClient, ApicPath, MetadataAssignment, MetadataSchemaProperties, Precondition,
};
use apilink_azure::{
    ArmClient, ArmClientOptions, CloudConfig, CredentialConfig, build_credential,
    resolved_credential_kind, token_identity,
};
use apilink_core::marker::{ApiMarker, RECORD_KEY};
use apilink_core::naming::version_name;
use apilink_core::preflight::checks as preflight_checks;
use apilink_core::resync_window::api_phase;
use apilink_core::{Coverage, LinkSettings, ResyncWindow};
use apilink_emulator::apim::{ApiPatch, ApiSeed, DefinitionUpdate, OperationSeed};
use apilink_emulator::{CallKind, Emulator, EmulatorConfig, Seed};
use apilink_engine::{
    AzureClients, Caller, Engine, EngineOptions, PROBE_API_PREFIX, PassMode, PassReport,
};
use serde_json::Value;

use crate::demo_shared;
use crate::link_file;
use crate::report_view::{operations_table, table};

const APIM: &str = "contoso-apim";
pub(crate) const APIC: &str = "contoso-catalog";
const WORKSPACE: &str = "default";
/// The metadata schema the demo's organisation requires on every API.
pub(crate) const OWNER_SCHEMA: &str = "owner";
/// The custom properties the demo link gives APIM tags and products.
pub(crate) const TAGS_PROPERTY: &str = "apim-tags";
pub(crate) const PRODUCTS_PROPERTY: &str = "apim-products";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// APIs worked on at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// ✓/✗ lines, counted.
#[derive(Default)]
pub(crate) struct Checks {
    passed: usize,
    failed: Vec<String>,
}

impl Checks {
    pub(crate) fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        if ok {
            println!("  \u{2713} {what}");
            self.passed += 1;
        } else {
            println!("  \u{2717} {what}");
            self.failed.push(what);
        }
    }
}

/// ARM calls of one pass, from the emulator's own log (not the client's counters).
#[derive(Clone)]
pub(crate) struct PassCost {
    pub(crate) name: &'static str,
    pub(crate) reads: usize,
    pub(crate) writes: usize,
    pub(crate) deletes: usize,
    pub(crate) imports: usize,
    pub(crate) seconds: f64,
}

pub(crate) fn cost(emulator: &Emulator, name: &'static str, started: Instant) -> PassCost {
    let calls: Vec<_> = emulator
        .calls()
        .into_iter()
        .filter(|c| c.kind == CallKind::Arm)
        .collect();
    PassCost {
        name,
        reads: calls.iter().filter(|c| c.method == "GET").count(),
        writes: calls
            .iter()
            .filter(|c| c.method == "PUT" || c.method == "POST")
            .count(),
        deletes: calls.iter().filter(|c| c.method == "DELETE").count(),
        imports: calls
            .iter()
            .filter(|c| c.path.ends_with("/importSpecification"))
            .count(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

pub(crate) fn section(title: &str) {
    println!("\n\u{25b6} {title}\n");
}

/// The API Center workspace as the emulator holds it.
pub(crate) fn workspace(emulator: &Emulator) -> Value {
    emulator
        .api_center()
        .snapshot(APIC)
        .map(|s| s["workspaces"][WORKSPACE].clone())
        .unwrap_or(Value::Null)
}

/// API name → properties.
pub(crate) fn apis(emulator: &Emulator) -> BTreeMap<String, Value> {
    workspace(emulator)["apis"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["properties"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The name of the API whose marker says it stands for APIM `source`.
fn api_for(emulator: &Emulator, source: &str) -> Option<String> {
    apis(emulator)
        .into_iter()
        .find(|(_, p)| {
            p["customProperties"][RECORD_KEY]
                .as_str()
                .and_then(ApiMarker::decode)
                .is_some_and(|record| record.source == source)
        })
        .map(|(name, _)| name)
}

fn link_yaml(emulator: &Emulator) -> String {
    format!(
        "apiVersion: apilink.dev/v1alpha1
kind: ApiSourceLink
metadata:
  name: contoso-demo
  namespace: platform
spec:
  source:
    apimResourceId: {apim}
    workspaces: [team-mobile]
  target:
    apiCenterResourceId: {apic}
  environment:
    title: Contoso (production)
    kind: production
  filter:
    include: ['*']
    exclude: ['internal-*']
  interval: 60s
  resyncInterval: 6h
  customProperties:
    api: {{owner: platform-team}}
  apimMetadata:
    tags: {{customProperty: {TAGS_PROPERTY}}}
    products: {{customProperty: {PRODUCTS_PROPERTY}}}
",
        apim = emulator.apim_resource_id(APIM),
        apic = emulator.api_center_resource_id(APIC),
    )
}

/// The organisation's own rule, as platform teams declare it: every API names an owner.
async fn declare_required_owner(apic: &ApicClient) -> anyhow::Result<()> {
    let schema = MetadataSchemaProperties {
        schema: r#"{"type":"string","title":"Owner","minLength":3}"#.into(),
        assigned_to: Some(vec![MetadataAssignment {
            entity: Some("api".into()),
            required: Some(true),
            deprecated: Some(false),
            ..MetadataAssignment::default()
        }]),
        ..MetadataSchemaProperties::default()
    };
    apic.put(
        &ApicPath::metadata_schema(OWNER_SCHEMA)?,
        &schema,
        Precondition::None,
    )
    .await?;
    Ok(())
}

/// The metadata checks of the first sync: the record is declared, the organisation's
/// required property is filled.
fn check_metadata(emulator: &Emulator, report: &PassReport, checks: &mut Checks) {
    check_tags_and_products(emulator, checks);
    checks.check(
        report.created_metadata_schema.as_deref() == Some(RECORD_KEY),
        format!(
            "the first pass created metadata schema {RECORD_KEY}, which declares the link's ownership record (the emulator refuses undeclared custom properties, as API Center's contract reads)"
        ),
    );
    let owned = apis(emulator);
    checks.check(
        !owned.is_empty()
            && owned
                .values()
                .all(|p| p["customProperties"][OWNER_SCHEMA] == "platform-team"),
        format!(
            "every API carries {OWNER_SCHEMA}=platform-team, required by the organisation's metadata schema and given by spec.customProperties"
        ),
    );
}

/// APIM's tags and products reached the Orders version set: the union over its members.
fn check_tags_and_products(emulator: &Emulator, checks: &mut Checks) {
    let orders = api_for(emulator, "apiVersionSets/orders").unwrap_or_default();
    let custom = apis(emulator)
        .get(&orders)
        .map(|p| p["customProperties"].clone())
        .unwrap_or(Value::Null);
    let schemas = emulator
        .api_center()
        .snapshot(APIC)
        .map(|s| s["metadataSchemas"].clone())
        .unwrap_or(Value::Null);
    checks.check(
        custom[TAGS_PROPERTY] == serde_json::json!(["Beta", "Commerce"])
            && custom[PRODUCTS_PROPERTY] == serde_json::json!(["Commerce", "Partners"])
            && schemas.get(TAGS_PROPERTY).is_some()
            && schemas.get(PRODUCTS_PROPERTY).is_some(),
        format!(
            "the Orders API carries its members' APIM tags ({TAGS_PROPERTY}: Beta, Commerce) and products ({PRODUCTS_PROPERTY}: Commerce, Partners), declared by metadata schemas the first pass created"
        ),
    );
}

fn cloud(emulator: &Emulator) -> CloudConfig {
    CloudConfig::custom(emulator.arm_endpoint(), emulator.authority_host())
        .with_ca_file(emulator.ca_file())
}

fn credential_config(emulator: &Emulator) -> CredentialConfig {
    CredentialConfig::ClientSecret {
        tenant_id: emulator.tenant_id().to_string(),
        client_id: apilink_emulator::DEFAULT_CLIENT_ID.to_string(),
        secret: apilink_emulator::DEFAULT_CLIENT_SECRET.to_string().into(),
    }
}

fn arm_client(emulator: &Emulator) -> anyhow::Result<ArmClient> {
    let cloud = cloud(emulator);
    let credential = build_credential(&credential_config(emulator), &cloud)?;
    Ok(ArmClient::new(
        &cloud,
        credential,
        ArmClientOptions::default(),
    )?)
}

/// A new engine with a new ARM client: what a freshly started process has.
pub(crate) fn engine(
    emulator: &Emulator,
    concurrency: usize,
) -> anyhow::Result<Engine<AzureClients>> {
    Ok(Engine::new(
        AzureClients::new(arm_client(emulator)?),
        EngineOptions {
            concurrency,
            ..EngineOptions::default()
        },
    ))
}

/// `apilink check --probe-writes` as the CLI runs it: the read-only checks, then the
/// write probe in a scratch API.
async fn preflight(
    emulator: &Emulator,
    settings: &LinkSettings,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let cloud = cloud(emulator);
    let config = credential_config(emulator);
    let credential = build_credential(&config, &cloud)?;
    let caller = Caller {
        credential: resolved_credential_kind(&config).to_string(),
        identity: token_identity(&credential, &cloud).await,
    };
    let engine = engine(emulator, 1)?;
    let now = SystemTime::now();
    let mut outcome = engine.preflight(settings, &caller, now).await;
    let read_only_passed = outcome.report.can_sync();
    let probe = engine.probe_writes(settings, now).await;
    outcome.report.lines.extend(probe.report.lines);
    for line in outcome.report.render_text().lines() {
        println!("    {line}");
    }
    println!();
    checks.check(
        read_only_passed,
        "the read-only checks pass: token, both services, the roles' actions, inventory, export, workspace, metadata",
    );
    let learned = |check: &str| {
        outcome
            .report
            .lines
            .iter()
            .find(|l| l.check == check)
            .map(|l| l.summary.clone())
            .unwrap_or_default()
    };
    checks.check(
        learned(preflight_checks::PROBE_CUSTOM_PROPERTIES).contains("refused")
            && learned(preflight_checks::PROBE_IMPORT).contains("Location"),
        "the write probe learned the strict contract: undeclared custom properties refused, imports answered with Location",
    );
    checks.check(
        apis(emulator)
            .keys()
            .all(|name| !name.starts_with(PROBE_API_PREFIX)),
        "the probe's scratch API is gone",
    );
    Ok(())
}

async fn pass(
    engine: &Engine<AzureClients>,
    settings: &LinkSettings,
    coverage: Coverage,
) -> anyhow::Result<PassReport> {
    engine.sync_pass(settings, coverage).await.map_err(|e| {
        if let Some(report) = &e.report {
            for failure in &report.failures {
                eprintln!("  {failure}");
            }
        }
        anyhow::anyhow!("the {} pass failed: {e}", coverage.mode().as_str())
    })
}

/// The resync window of the light poll that re-checks `api`: one `interval` ending as
/// its turn comes round (it also re-checks whatever else falls in that stretch).
fn window_reaching(settings: &LinkSettings, api: &str) -> ResyncWindow {
    let period = settings.resync_interval;
    let phase = Duration::from_millis(api_phase(&settings.link, api, period));
    // Any cycle's start will do: windows count modulo the cycle.
    let cycle_start = UNIX_EPOCH + period * 100_000;
    let end = cycle_start + phase;
    ResyncWindow::new(end - settings.interval, end, period)
}

pub(crate) fn show_pass(report: &PassReport, cost: &PassCost) {
    print!("{}", operations_table(report));
    println!(
        "\n  {:.1} s; ARM calls: {} reads, {} writes, {} deletes ({} imports)",
        cost.seconds, cost.reads, cost.writes, cost.deletes, cost.imports
    );
}

pub(crate) async fn converged(
    emulator: &Emulator,
    settings: &LinkSettings,
    concurrency: usize,
) -> anyhow::Result<bool> {
    let report = engine(emulator, concurrency)?
        .plan_only(settings, PassMode::Full)
        .await
        .map_err(|e| anyhow::anyhow!("dry run: {e}"))?;
    Ok(report.plan.is_some_and(|p| p.is_empty()) && report.failures.is_empty())
}

/// Fewest reads a light pass can make: the APIM service, API and version-set list pages
/// per scope, the workspace-gateway links (the link reads a workspace, which has no
/// gateway of its own), the API Center API list pages and the link's environment.
fn minimum_reads(emulator: &Emulator, config: &EmulatorConfig, api_center_apis: usize) -> usize {
    let apim = emulator.apim();
    let scopes: [Option<&str>; 2] = [None, Some("team-mobile")];
    let apim_pages: usize = scopes
        .iter()
        .map(|ws| {
            let n = apim.api_ids(APIM, *ws).map(|ids| ids.len()).unwrap_or(0);
            n.div_ceil(config.apim_page_size).max(1) + 1
        })
        .sum();
    let workspace_links = 1;
    1 + apim_pages
        + workspace_links
        + metadata_reads(emulator, config.apim_page_size)
        + api_center_apis.div_ceil(config.apic_page_size).max(1)
        + 1
}

/// The pages of the APIM tag and product lists the link maps: `tagResources`, `products`
/// and each product's API list.
fn metadata_reads(emulator: &Emulator, page_size: usize) -> usize {
    let pages = |n: usize| n.div_ceil(page_size).max(1);
    let seed = emulator.apim().seed();
    let Some(service) = seed.services.iter().find(|s| s.name == APIM) else {
        return 0;
    };
    let tags = service.apis.iter().map(|a| a.tags.len()).sum::<usize>()
        + service.products.iter().map(|p| p.tags.len()).sum::<usize>();
    let products: usize = service.products.iter().map(|p| pages(p.apis.len())).sum();
    pages(tags) + pages(service.products.len()) + products
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let started = Instant::now();
    println!("apilink demo: keeping Azure API Center in step with Azure API Management");
    println!("(everything runs against the bundled emulator of Azure, on 127.0.0.1)");

    let mut demo = Demo::setup(args.concurrency.max(1), started).await?;
    demo.preflight().await?;
    let orders = demo.first_sync().await?;
    let curated = demo.change_and_curate(orders).await?;
    demo.light_poll().await?;
    demo.spread_recheck(&curated).await?;
    demo.steady_state().await?;
    demo.shared_stages().await?;
    Ok(demo.summary().await)
}

/// The demo's state from section to section.
pub(crate) struct Demo {
    pub(crate) emulator: Emulator,
    config: EmulatorConfig,
    /// API Center as people reach it: for the organisation's schema and a person's edits.
    apic: ApicClient,
    settings: LinkSettings,
    pub(crate) concurrency: usize,
    pub(crate) checks: Checks,
    pub(crate) costs: Vec<PassCost>,
    started: Instant,
}

/// What a person changed in API Center, checked after the full resync.
struct Curated {
    orders: String,
    orders_summary: &'static str,
    payments: String,
    payments_v2: String,
}

impl Demo {
    /// Starts the emulator, declares the organisation's metadata schema and reads the
    /// link, telling what is there.
    async fn setup(concurrency: usize, started: Instant) -> anyhow::Result<Self> {
        section("The setup");
        let mut seed = Seed::demo();
        seed.services.extend(demo_shared::stage_services()?);
        let config = EmulatorConfig {
            seed,
            ..EmulatorConfig::default()
        };
        let emulator = apilink_emulator::start(config.clone())
            .await
            .context("starting the emulator")?;
        describe_services(&emulator);
        let apic = ApicClient::new(
            arm_client(&emulator)?,
            emulator.api_center_resource_id(APIC).parse()?,
        );
        declare_required_owner(&apic).await?;
        let yaml = link_yaml(&emulator);
        println!(
            "\n  The link, the same YAML as the Kubernetes resource (`apilink sync -f` reads it):\n"
        );
        for line in yaml.lines() {
            println!("    {line}");
        }
        let link = link_file::parse(&yaml, "the demo link")?;
        Ok(Self {
            emulator,
            config,
            apic,
            settings: link.settings,
            concurrency,
            checks: Checks::default(),
            costs: Vec::new(),
            started,
        })
    }

    async fn preflight(&mut self) -> anyhow::Result<()> {
        section("0. Preflight: `apilink check -f link.yaml --probe-writes`");
        preflight(&self.emulator, &self.settings, &mut self.checks).await
    }

    /// Returns the name of the API the Orders version set became.
    async fn first_sync(&mut self) -> anyhow::Result<String> {
        section("1. First sync: one light pass");
        let (report, _) = self
            .measured_pass("1 first sync", PassMode::Light.into())
            .await?;
        let emulator = &self.emulator;
        let checks = &mut self.checks;
        check_metadata(emulator, &report, checks);
        let synced = apis(emulator);
        checks.check(
            synced.len() == report.apis.discovered && report.apis.discovered > 20,
            format!(
                "{} APIs in API Center, one per APIM API or version set the filter selects",
                synced.len()
            ),
        );
        let internal_excluded = ["internal-admin", "internal-metrics"]
            .iter()
            .all(|id| api_for(emulator, &format!("apis/{id}")).is_none());
        checks.check(
            internal_excluded,
            "internal-admin and internal-metrics were left out by the filter",
        );
        let orders = api_for(emulator, "apiVersionSets/orders").unwrap_or_default();
        let orders_versions = workspace(emulator)["apis"][&orders]["versions"]
            .as_object()
            .map_or(0, |m| m.len());
        checks.check(
            orders_versions == 3,
            format!("the Orders version set became one API with {orders_versions} versions"),
        );
        self.check_converged("API Center is in step: a full dry run plans nothing")
            .await?;
        Ok(orders)
    }

    async fn change_and_curate(&self, orders: String) -> anyhow::Result<Curated> {
        section("2. Someone changes APIM, and someone curates API Center");
        change_apim(&self.emulator)?;
        self.curate(orders).await
    }

    /// A person's edits in API Center: fields the link must leave alone.
    async fn curate(&self, orders: String) -> anyhow::Result<Curated> {
        let orders_summary = "Order capture; owned by the Fulfilment team.";
        self.apic
            .update_merged(&ApicPath::api(WORKSPACE, &orders)?, |p| {
                p.summary = Some(orders_summary.into());
            })
            .await?;
        println!("  User  \u{270e} summary of the Orders API set in API Center");
        let payments = api_for(&self.emulator, "apiVersionSets/payments").unwrap_or_default();
        let payments_v2 = version_name(Some("v2"));
        self.apic
            .update_merged(
                &ApicPath::version(WORKSPACE, &payments, &payments_v2)?,
                |p| {
                    p.lifecycle_stage = "production".into();
                },
            )
            .await?;
        println!("  User  \u{270e} lifecycle stage of Payments v2: design -> production");
        Ok(Curated {
            orders,
            orders_summary,
            payments,
            payments_v2,
        })
    }

    async fn light_poll(&mut self) -> anyhow::Result<()> {
        section("3. The light poll (what the controller runs every interval)");
        let (_, light) = self
            .measured_pass("2 light poll", PassMode::Light.into())
            .await?;
        let light_imports = light.imports;
        let emulator = &self.emulator;
        let checks = &mut self.checks;
        let gift = api_for(emulator, "apis/gift-cards");
        checks.check(gift.is_some(), "the new API gift-cards is in API Center");
        let returns = api_for(emulator, "apis/returns").unwrap_or_default();
        checks.check(
            apis(emulator)
                .get(&returns)
                .is_some_and(|p| p["title"] == "Returns and Refunds"),
            "the updated API carries its new title",
        );
        checks.check(
            api_for(emulator, "apis/legacy-billing-soap").is_none(),
            "the API deleted in APIM is gone from API Center",
        );
        let gift_content = gift.as_ref().is_some_and(|g| {
            workspace(emulator)["apis"][g]["versions"]["original"]["definitions"]
                .as_object()
                .is_some_and(|d| d.values().any(|d| d["content"].is_string()))
        });
        checks.check(
            gift_content && light_imports <= 2,
            format!(
                "{light_imports} definitions imported: the new API's, and the renamed API's (its title is in its document)"
            ),
        );
        Ok(())
    }

    async fn spread_recheck(&mut self, curated: &Curated) -> anyhow::Result<()> {
        section(
            "4. The spread re-check (each poll re-reads the APIs whose turn came, every API once per resyncInterval)",
        );
        let store = api_for(&self.emulator, "apis/store-locator").unwrap_or_default();
        let window = window_reaching(&self.settings, &store);
        let due = apis(&self.emulator)
            .keys()
            .filter(|api| window.covers_api(&self.settings.link, api))
            .count();
        let (report, polled) = self
            .measured_pass("3 poll reaching store-locator", Coverage::Window(window))
            .await?;
        let imported = polled.imports;
        let store_content =
            workspace(&self.emulator)["apis"][&store]["versions"]["original"]["definitions"]
                .as_object()
                .and_then(|d| {
                    d.values()
                        .find_map(|d| d["content"].as_str().map(str::to_string))
                })
                .unwrap_or_default();
        self.checks.check(
            report.details_read == due && due < apis(&self.emulator).len(),
            format!(
                "the poll re-read {due} of {} APIs (those whose turn came in its window), not all of them",
                apis(&self.emulator).len()
            ),
        );
        self.checks.check(
            imported == 1 && store_content.contains("opening-hours"),
            format!(
                "{} definition(s) exported, the content-only change of store-locator re-imported ({imported} import)",
                report.exports
            ),
        );
        self.check_curation_kept(curated);
        self.check_converged("API Center is in step again: a full dry run plans nothing")
            .await
    }

    fn check_curation_kept(&mut self, curated: &Curated) {
        let ws = workspace(&self.emulator);
        self.checks.check(
            ws["apis"][&curated.orders]["properties"]["summary"] == curated.orders_summary,
            "the user's summary of the Orders API is still there",
        );
        self.checks.check(
            ws["apis"][&curated.payments]["versions"][&curated.payments_v2]["properties"]
                ["lifecycleStage"]
                == "production",
            "the user's lifecycle stage of Payments v2 is still there",
        );
    }

    async fn steady_state(&mut self) -> anyhow::Result<()> {
        section("5. Steady state, in a freshly started process");
        let (_, steady) = self
            .measured_pass("4 steady state", PassMode::Light.into())
            .await?;
        let minimum = minimum_reads(&self.emulator, &self.config, apis(&self.emulator).len());
        self.checks.check(
            steady.writes + steady.deletes == 0,
            "zero writes: nothing changed, nothing written",
        );
        self.checks.check(
            steady.reads == minimum,
            format!(
                "{} reads, the minimum (APIM service, API, version-set, tag and product list pages, API Center list pages, environment)",
                steady.reads
            ),
        );
        Ok(())
    }

    /// The table of every pass's ARM calls, then the verdict of the checks.
    async fn summary(self) -> ExitCode {
        section("ARM calls per pass (from the emulator's call log)");
        print!("{}", costs_table(&self.costs));
        self.emulator.shutdown().await;
        println!();
        verdict(&self.checks, self.started.elapsed().as_secs_f64())
    }

    /// One pass by a freshly started process, shown with the ARM calls the emulator
    /// logged for it (kept for the summary).
    async fn measured_pass(
        &mut self,
        name: &'static str,
        coverage: Coverage,
    ) -> anyhow::Result<(PassReport, PassCost)> {
        let settings = self.settings.clone();
        self.measured_pass_of(name, &settings, coverage).await
    }

    /// [`Demo::measured_pass`] of another link's `settings`.
    pub(crate) async fn measured_pass_of(
        &mut self,
        name: &'static str,
        settings: &LinkSettings,
        coverage: Coverage,
    ) -> anyhow::Result<(PassReport, PassCost)> {
        self.emulator.clear_calls();
        let started = Instant::now();
        let engine = engine(&self.emulator, self.concurrency)?;
        let report = pass(&engine, settings, coverage).await?;
        let cost = cost(&self.emulator, name, started);
        show_pass(&report, &cost);
        self.costs.push(cost.clone());
        println!();
        Ok((report, cost))
    }

    async fn check_converged(&mut self, what: &str) -> anyhow::Result<()> {
        let in_step = converged(&self.emulator, &self.settings, self.concurrency).await?;
        self.checks.check(in_step, what);
        Ok(())
    }
}

fn describe_services(emulator: &Emulator) {
    let apim_ids = emulator.apim().api_ids(APIM, None).unwrap_or_default();
    let mobile_ids = emulator
        .apim()
        .api_ids(APIM, Some("team-mobile"))
        .unwrap_or_default();
    println!(
        "  Emulated ARM at {} (HTTPS, its own CA, an Entra ID token endpoint).",
        emulator.arm_endpoint()
    );
    println!(
        "  APIM service {APIM}: {} APIs ({} more in workspace team-mobile): version sets,",
        apim_ids.len(),
        mobile_ids.len()
    );
    println!("  revisions, SOAP, GraphQL, WebSocket, gRPC, and two internal-* APIs.");
    println!("  API Center service {APIC}: empty but for the organisation's metadata schema");
    println!(
        "  \"{OWNER_SCHEMA}\" (required on every API). It reads API Center's published contract"
    );
    println!(
        "  strictly: undeclared custom properties are refused. ARM throttling is as in Azure."
    );
}

/// Someone's changes in APIM: an API added, one renamed, one deleted, and one
/// definition changed with nothing else.
fn change_apim(emulator: &Emulator) -> anyhow::Result<()> {
    let apim = emulator.apim();
    let mut gift_cards = ApiSeed::new("gift-cards", "Gift Cards");
    gift_cards.description = Some("Issue and redeem gift cards.".into());
    gift_cards.path = Some("gift-cards".into());
    gift_cards.operations = vec![
        OperationSeed::Line("POST /cards Issue a card".into()),
        OperationSeed::Line("POST /cards/{cardId}/redemptions Redeem".into()),
    ];
    apim.upsert_api(APIM, None, &gift_cards)?;
    println!("  APIM  + added    gift-cards (Gift Cards)");
    apim.update_api(
        APIM,
        None,
        "returns",
        &ApiPatch {
            display_name: Some("Returns and Refunds".into()),
            description: Some("Return authorisations and refunds.".into()),
            ..ApiPatch::default()
        },
    )?;
    println!("  APIM  ~ updated  returns: title \"Returns\" -> \"Returns and Refunds\"");
    apim.delete_api(APIM, None, "legacy-billing-soap")?;
    println!("  APIM  - deleted  legacy-billing-soap (SOAP)");
    apim.set_definition(
        APIM,
        None,
        "store-locator",
        &DefinitionUpdate {
            operations: Some(vec![
                OperationSeed::Line("GET /stores?lat={lat}&lon={lon} Find nearby stores".into()),
                OperationSeed::Line("GET /stores/{storeId} Get a store".into()),
                OperationSeed::Line("GET /stores/{storeId}/opening-hours Opening hours".into()),
            ]),
            content: None,
        },
    )?;
    println!("  APIM  ~ changed  store-locator's definition only (a new operation)");
    Ok(())
}

fn costs_table(costs: &[PassCost]) -> String {
    let rows: Vec<Vec<String>> = costs
        .iter()
        .map(|c| {
            vec![
                c.name.to_string(),
                c.reads.to_string(),
                c.writes.to_string(),
                c.deletes.to_string(),
                c.imports.to_string(),
                format!("{:.1} s", c.seconds),
            ]
        })
        .collect();
    table(
        &["PASS", "READS", "WRITES", "DELETES", "IMPORTS", "TIME"],
        &rows,
        1,
    )
}

fn verdict(checks: &Checks, seconds: f64) -> ExitCode {
    if checks.failed.is_empty() {
        println!("All {} checks passed in {seconds:.1} s.", checks.passed);
        ExitCode::SUCCESS
    } else {
        println!(
            "{} of {} checks FAILED:",
            checks.failed.len(),
            checks.passed + checks.failed.len()
        );
        for failed in &checks.failed {
            println!("  \u{2717} {failed}");
        }
        ExitCode::FAILURE
    }
}
