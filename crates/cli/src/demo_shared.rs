//! The shared-APIs part of `apilink demo`: two stages' APIM instances (development and
//! production, `fixtures/demo-stages.yaml`) feed the demo's API Center through two links
//! with `spec.apiIdentity.scope: Shared`. One API per logical API with a deployment per
//! stage and version, production's fields, definitions by content, then the development
//! link is deleted and production keeps everything of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use apilink_core::naming::{shared_api_name, version_name};
use apilink_core::shared::{shared_deployment_name, shared_record_key};
use apilink_core::{LinkSettings, PassMode};
use apilink_emulator::apim::ServiceSeed;
use apilink_emulator::{Emulator, Seed};
use serde_json::Value;

use crate::demo_cmd::{
    APIC, Demo, OWNER_SCHEMA, PRODUCTS_PROPERTY, TAGS_PROPERTY, apis, converged, cost, engine,
    section, show_pass, workspace,
};
use crate::link_file;
use crate::report_view::table;

const PROD_APIM: &str = "contoso-shop-prod";
const DEV_APIM: &str = "contoso-shop-dev";

/// The logical APIs of the two stages (APIM API or version set id) with the number of
/// versions production and development serve.
const LOGICAL: [(&str, usize, usize); 4] = [
    ("catalog", 2, 3),
    ("carts", 1, 1),
    ("checkout", 1, 1),
    ("wishlists", 0, 1),
];

/// The two stages' APIM services, next to the demo's own.
pub(crate) fn stage_services() -> anyhow::Result<Vec<ServiceSeed>> {
    let services = Seed::demo_stages().services;
    anyhow::ensure!(
        services.len() == 2,
        "the bundled two-stage APIM seed does not load"
    );
    Ok(services)
}

/// A stage's link: the same YAML as the Kubernetes resource. Only production maps APIM
/// tags and products (development's APIM has none).
fn stage_yaml(emulator: &Emulator, stage: &str, apim: &str, kind: &str) -> String {
    let metadata = if kind == "production" {
        format!(
            "  apimMetadata:
    tags: {{customProperty: {TAGS_PROPERTY}}}
    products: {{customProperty: {PRODUCTS_PROPERTY}}}
"
        )
    } else {
        String::new()
    };
    format!(
        "apiVersion: apilink.dev/v1alpha1
kind: ApiSourceLink
metadata:
  name: shop-{stage}
  namespace: platform
spec:
  source:
    apimResourceId: {apim_id}
  target:
    apiCenterResourceId: {apic}
  environment:
    title: Contoso Shop ({kind})
    kind: {kind}
  apiIdentity: {{scope: Shared}}   # key: Name (the default): APIM API or version set id
  customProperties:
    api: {{owner: platform-team}}
{metadata}",
        apim_id = emulator.apim_resource_id(apim),
        apic = emulator.api_center_resource_id(APIC),
    )
}

/// The prod and dev links.
struct Stages {
    prod: LinkSettings,
    dev: LinkSettings,
}

impl Stages {
    fn read(emulator: &Emulator) -> anyhow::Result<Self> {
        let prod = stage_yaml(emulator, "prod", PROD_APIM, "production");
        println!("  The production link:\n");
        for line in prod.lines() {
            println!("    {line}");
        }
        println!(
            "\n  The development link is the same but for shop-dev, {DEV_APIM}, kind development\n  and no apimMetadata.\n"
        );
        let dev = stage_yaml(emulator, "dev", DEV_APIM, "development");
        Ok(Self {
            prod: link_file::parse(&prod, "the production link")?.settings,
            dev: link_file::parse(&dev, "the development link")?.settings,
        })
    }
}

/// The versions `settings`' link deploys on `api` (read from the deployment names it
/// gives), each checked to point at the link's environment.
fn deployed_versions(ws: &Value, api: &str, settings: &LinkSettings) -> Option<BTreeSet<String>> {
    let deployments = ws["apis"][api]["deployments"].as_object()?;
    let environment = format!("/environments/{}", settings.environment_name);
    let mut versions = BTreeSet::new();
    for version in ws["apis"][api]["versions"].as_object()?.keys() {
        let name = shared_deployment_name(&settings.link, version);
        if let Some(d) = deployments.get(&name) {
            let env = d["properties"]["environmentId"]
                .as_str()
                .unwrap_or_default();
            if !env.ends_with(&environment) {
                return None;
            }
            versions.insert(version.clone());
        }
    }
    // Every deployment in the link's environment is one of those.
    let in_env = deployments
        .values()
        .filter(|d| {
            d["properties"]["environmentId"]
                .as_str()
                .is_some_and(|e| e.ends_with(&environment))
        })
        .count();
    (in_env == versions.len()).then_some(versions)
}

/// Definitions per version of `api`.
fn definitions(ws: &Value, api: &str) -> BTreeMap<String, usize> {
    ws["apis"][api]["versions"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(v, body)| {
                    let n = body["definitions"].as_object().map_or(0, |d| d.len());
                    (v.clone(), n)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn names(values: &Value) -> Vec<String> {
    values
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The shared APIs as a table: title, versions with their definitions, and each
/// stage's deployments.
fn shared_table(emulator: &Emulator, stages: &Stages) -> String {
    let ws = workspace(emulator);
    let listed = apis(emulator);
    let rows: Vec<Vec<String>> = LOGICAL
        .iter()
        .map(|(id, _, _)| shared_api_name(id))
        .filter(|name| listed.contains_key(name))
        .map(|name| {
            let defs = definitions(&ws, &name)
                .iter()
                .map(|(v, n)| format!("{v}:{n}"))
                .collect::<Vec<_>>()
                .join(" ");
            let count = |s: &LinkSettings| {
                deployed_versions(&ws, &name, s).map_or("?".into(), |v| v.len().to_string())
            };
            vec![
                name.clone(),
                listed[&name]["title"].as_str().unwrap_or_default().into(),
                names(&listed[&name]["customProperties"][TAGS_PROPERTY]).join(", "),
                names(&listed[&name]["customProperties"][PRODUCTS_PROPERTY]).join(", "),
                defs,
                count(&stages.prod),
                count(&stages.dev),
            ]
        })
        .collect();
    table(
        &[
            "API",
            "TITLE",
            TAGS_PROPERTY,
            PRODUCTS_PROPERTY,
            "VERSION:DEFINITIONS",
            "PROD DEPLOYMENTS",
            "DEV DEPLOYMENTS",
        ],
        &rows,
        5,
    )
}

impl Demo {
    /// Sections 6 to 8: two stages sync, a steady pass of each, the development link
    /// deleted.
    pub(crate) async fn shared_stages(&mut self) -> anyhow::Result<()> {
        section(
            "6. Two stages, one API Center: APIM dev and prod share APIs (spec.apiIdentity.scope: Shared)",
        );
        println!(
            "  APIM {PROD_APIM} and {DEV_APIM}: the same shop at two stages. Development has\n  Catalog v3 and Wishlists of its own, another title on Carts and one more\n  operation in Checkout.\n"
        );
        let stages = Stages::read(&self.emulator)?;
        println!("  Development syncs first (one light pass of shop-dev):\n");
        self.measured_pass_of("5 dev first sync", &stages.dev, PassMode::Light.into())
            .await?;
        println!("  Then production joins (one light pass of shop-prod):\n");
        self.measured_pass_of("6 prod first sync", &stages.prod, PassMode::Light.into())
            .await?;
        println!("  API Center now:\n");
        print!("{}", shared_table(&self.emulator, &stages));
        println!(
            "\n  Carts has two definitions too: its title, which differs, is in its OpenAPI document.\n"
        );
        self.check_shared_apis(&stages);
        self.check_shared_metadata(&stages);
        let in_step = converged(&self.emulator, &stages.prod, self.concurrency).await?
            && converged(&self.emulator, &stages.dev, self.concurrency).await?;
        self.checks.check(
            in_step,
            "API Center is in step with both links: their full dry runs plan nothing",
        );
        self.shared_steady(&stages).await?;
        self.delete_dev(&stages).await
    }

    /// One API per logical API, a deployment per stage and version, production's title,
    /// definitions by content.
    fn check_shared_apis(&mut self, stages: &Stages) {
        let ws = workspace(&self.emulator);
        let listed = apis(&self.emulator);
        let ledger = |props: &Value, s: &LinkSettings| {
            props["customProperties"]
                .get(shared_record_key(&s.link))
                .is_some()
        };
        let shared: BTreeSet<&String> = listed
            .iter()
            .filter(|(_, p)| ledger(p, &stages.prod) || ledger(p, &stages.dev))
            .map(|(name, _)| name)
            .collect();
        let expected: BTreeSet<String> = LOGICAL
            .iter()
            .map(|(id, _, _)| shared_api_name(id))
            .collect();
        self.checks.check(
            shared.len() == LOGICAL.len() && shared.iter().all(|n| expected.contains(*n)),
            format!(
                "{} APIs for the two links, one per logical API (catalog, carts, checkout, wishlists), named from the identity alone",
                shared.len()
            ),
        );
        let per_stage = LOGICAL.iter().all(|(id, prod, dev)| {
            let name = shared_api_name(id);
            let count = |s: &LinkSettings| deployed_versions(&ws, &name, s).map(|v| v.len());
            count(&stages.prod) == Some(*prod) && count(&stages.dev) == Some(*dev)
        });
        self.checks.check(
            per_stage,
            "each stage has its own environment and one deployment per version it serves (Catalog: prod 2, dev 3 with its v3)",
        );
        let carts = shared_api_name("carts");
        self.checks.check(
            listed
                .get(&carts)
                .is_some_and(|p| p["title"] == "Shopping Carts"),
            "production's title wins: Carts is \"Shopping Carts\", not development's \"Shopping Carts (dev build)\"",
        );
        let catalog = definitions(&ws, &shared_api_name("catalog"));
        let checkout = definitions(&ws, &shared_api_name("checkout"));
        let same = ["v1", "v2"]
            .iter()
            .all(|v| catalog.get(&version_name(Some(v))) == Some(&1));
        let differing = checkout.len() == 1 && checkout.values().all(|n| *n == 2);
        self.checks.check(
            same && differing,
            "definitions by content: Catalog v1 and v2, the same contract at both stages, are one definition each; Checkout, which differs, has two",
        );
    }

    /// Production's tags and products, and each link's ledger in a property of its own.
    fn check_shared_metadata(&mut self, stages: &Stages) {
        let listed = apis(&self.emulator);
        let custom = |id: &str| {
            listed
                .get(&shared_api_name(id))
                .map_or(Value::Null, |p| p["customProperties"].clone())
        };
        let expected = [
            ("catalog", vec!["Beta", "Commerce"]),
            ("carts", vec!["Commerce"]),
            ("checkout", vec!["Commerce"]),
        ];
        let metadata = expected.iter().all(|(id, tags)| {
            let c = custom(id);
            names(&c[TAGS_PROPERTY]) == *tags
                && names(&c[PRODUCTS_PROPERTY]) == ["Storefront"]
                && c[OWNER_SCHEMA] == "platform-team"
        });
        self.checks.check(
            metadata,
            format!(
                "production's APIM tags ({TAGS_PROPERTY}: Catalog Beta, Commerce; Carts and Checkout Commerce) and products ({PRODUCTS_PROPERTY}: Storefront) are on the shared APIs"
            ),
        );
        let schemas = self
            .emulator
            .api_center()
            .snapshot(APIC)
            .map(|s| s["metadataSchemas"].clone())
            .unwrap_or(Value::Null);
        let (prod_key, dev_key) = (
            shared_record_key(&stages.prod.link),
            shared_record_key(&stages.dev.link),
        );
        let ledgers = LOGICAL.iter().all(|(id, prod, _)| {
            let c = custom(id);
            c[&dev_key].is_string() && (c[&prod_key].is_string() == (*prod > 0))
        }) && schemas.get(&prod_key).is_some()
            && schemas.get(&dev_key).is_some();
        self.checks.check(
            ledgers,
            format!(
                "each link keeps its ledger in a custom property of its own ({prod_key} for prod, {dev_key} for dev), declared by a metadata schema it created"
            ),
        );
    }

    async fn shared_steady(&mut self, stages: &Stages) -> anyhow::Result<()> {
        section("7. Steady state of both links, in freshly started processes");
        println!("  shop-prod, light pass:\n");
        let (_, prod) = self
            .measured_pass_of("7 prod steady", &stages.prod, PassMode::Light.into())
            .await?;
        println!("  shop-dev, light pass:\n");
        let (_, dev) = self
            .measured_pass_of("8 dev steady", &stages.dev, PassMode::Light.into())
            .await?;
        self.checks.check(
            prod.writes + prod.deletes + dev.writes + dev.deletes == 0,
            format!(
                "zero writes from either link: production's light pass costs {} reads, development's {} (neither rewrites what the other wrote)",
                prod.reads, dev.reads
            ),
        );
        Ok(())
    }

    /// `apilink delete -f shop-dev.yaml`: the cleanup the controller's finalizer runs.
    async fn delete_dev(&mut self, stages: &Stages) -> anyhow::Result<()> {
        section("8. The development link is deleted (`apilink delete -f shop-dev.yaml`)");
        self.emulator.clear_calls();
        let started = Instant::now();
        let report = engine(&self.emulator, self.concurrency)?
            .cleanup(&stages.dev, false)
            .await
            .map_err(|e| anyhow::anyhow!("deleting the development link: {e}"))?;
        let spent = cost(&self.emulator, "9 delete dev link", started);
        show_pass(&report, &spent);
        self.costs.push(spent);
        println!("\n  API Center now:\n");
        print!("{}", shared_table(&self.emulator, stages));
        println!();
        let in_step = converged(&self.emulator, &stages.prod, self.concurrency).await?;
        self.checks.check(
            report.failures.is_empty() && in_step,
            "production's entities are intact: a full dry run of the prod link plans nothing",
        );
        self.check_dev_gone(stages);
        Ok(())
    }

    fn check_dev_gone(&mut self, stages: &Stages) {
        let ws = workspace(&self.emulator);
        let listed = apis(&self.emulator);
        let catalog = shared_api_name("catalog");
        self.checks.check(
            !listed.contains_key(&shared_api_name("wishlists"))
                && ws["apis"][&catalog]["versions"]
                    .get(version_name(Some("v3")))
                    .is_none(),
            "what only development served is gone: the Wishlists API and Catalog v3",
        );
        let dev_key = shared_record_key(&stages.dev.link);
        let no_dev_left = ws["environments"]
            .get(&stages.dev.environment_name)
            .is_none()
            && LOGICAL.iter().all(|(id, prod, _)| {
                let name = shared_api_name(id);
                *prod == 0
                    || (deployed_versions(&ws, &name, &stages.dev).is_some_and(|v| v.is_empty())
                        && listed
                            .get(&name)
                            .is_some_and(|p| p["customProperties"].get(&dev_key).is_none()))
            });
        let checkout = definitions(&ws, &shared_api_name("checkout"));
        self.checks.check(
            no_dev_left && checkout.values().all(|n| *n == 1),
            "the dev environment is gone, with dev's deployments, its ledgers and its own Checkout definition",
        );
    }
}
