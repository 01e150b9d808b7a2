//! Two stages' APIM instances feeding one API Center with shared APIs
//! (`spec.apiIdentity.scope: Shared`), over HTTPS against the emulator read strictly:
//! the links' first passes run at the same time and make one API per logical API with a
//! deployment per stage; production decides the API's title; a steady pass of either
//! writes nothing; deleting the development link leaves production's entities intact.

#![allow(clippy::unwrap_used)]
mod support;

use std::collections::BTreeSet;

use apilink_core::LinkSettings;
use apilink_core::naming::shared_api_name;
use apilink_core::shared::{shared_record_key, shares};
use apilink_emulator::{Emulator, EmulatorConfig, Seed};
use apilink_engine::PassMode;
use serde_json::json;
use support::*;

const DEV_APIM: &str = "contoso-apim-dev";

/// The default APIM as production, and a development copy that has one API more, a
/// changed description on Petstore v2 (so its content differs) and its own title on
/// the Echo API.
fn two_stages() -> EmulatorConfig {
    let mut seed = Seed::default();
    let mut dev = seed.services[0].clone();
    dev.name = DEV_APIM.to_string();
    dev.gateway_url = None;
    for api in &mut dev.apis {
        match api.id.as_str() {
            "echo-api" => api.display_name = Some("Echo API (dev)".into()),
            "petstore-v2" => api.description = Some("Orders, in development.".into()),
            _ => {}
        }
    }
    let mut extra = dev.apis[0].clone();
    extra.id = "invoices".into();
    extra.display_name = Some("Invoices".into());
    extra.path = Some("invoices".into());
    extra.revisions = Vec::new();
    extra.tags = Vec::new();
    dev.apis.push(extra);
    dev.products.clear();
    dev.tags.clear();
    seed.services.push(dev);
    EmulatorConfig { seed, ..config() }
}

fn stage(emulator: &Emulator, id: &str, apim: &str, kind: &str) -> LinkSettings {
    settings(
        emulator,
        id,
        json!({
            "source": {"apimResourceId": emulator.apim_resource_id(apim)},
            "environment": {"kind": kind},
            "apiIdentity": {"scope": "Shared"},
        }),
    )
}

/// Deployment names of `api` whose record names `settings`' link.
fn deployments_of(emulator: &Emulator, api: &str, settings: &LinkSettings) -> BTreeSet<String> {
    let ws = workspace(emulator);
    ws["apis"][api]["deployments"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, d)| {
                    d["properties"]["customProperties"]["apilink-ownership"]
                        .as_str()
                        .is_some_and(|r| r.contains(&format!("link={}", settings.link)))
                })
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn two_stages_share_apis_and_one_leaves_the_other_intact() {
    let emulator = start(two_stages()).await;
    let prod = stage(&emulator, "stages/prod", APIM, "production");
    let dev = stage(&emulator, "stages/dev", DEV_APIM, "development");
    let (prod_engine, dev_engine) = (engine(&emulator), engine(&emulator));

    // Both first syncs at once, then once more each at once: every write of one may
    // land between the other's read and write.
    let (a, b) = tokio::join!(
        prod_engine.sync_pass(&prod, PassMode::Light),
        dev_engine.sync_pass(&dev, PassMode::Light)
    );
    for pass in [&a, &b] {
        let report = pass
            .as_ref()
            .unwrap_or_else(|e| panic!("a first pass failed: {e}"));
        assert!(
            report.is_complete() && report.failures.is_empty(),
            "{:?}",
            report.failures
        );
    }
    let (c, d) = tokio::join!(
        prod_engine.sync_pass(&prod, PassMode::Full),
        dev_engine.sync_pass(&dev, PassMode::Full)
    );
    assert!(c.is_ok() && d.is_ok(), "second passes: {c:?} {d:?}");

    let listed = apis(&emulator);
    let names: BTreeSet<&str> = listed.keys().map(String::as_str).collect();
    let expected: BTreeSet<String> = [
        "echo-api",
        "petstore",
        "weather-soap",
        "catalog-graphql",
        "invoices",
    ]
    .iter()
    .map(|id| shared_api_name(id))
    .collect();
    assert_eq!(
        names,
        expected.iter().map(String::as_str).collect(),
        "one API per logical API across both stages"
    );
    let echo = shared_api_name("echo-api");
    assert_eq!(
        listed[&echo]["title"], "Echo API",
        "production decides the title"
    );
    assert_eq!(shares(&listed[&echo]).len(), 2);
    assert_eq!(deployments_of(&emulator, &echo, &prod).len(), 1);
    assert_eq!(deployments_of(&emulator, &echo, &dev).len(), 1);
    let petstore = shared_api_name("petstore");
    let v2 = versions(&emulator, &petstore)
        .into_iter()
        .find(|(name, _)| name.starts_with("v2"))
        .unwrap();
    assert_eq!(
        v2.1["definitions"].as_object().unwrap().len(),
        2,
        "the stages serve different content of v2: two definitions"
    );
    let v1 = versions(&emulator, &petstore)
        .into_iter()
        .find(|(name, _)| name.starts_with("v1"))
        .unwrap();
    assert_eq!(
        v1.1["definitions"].as_object().unwrap().len(),
        1,
        "the same content from both stages is one definition"
    );

    // Steady state: no writes from either link.
    emulator.clear_calls();
    sync(&engine(&emulator), &prod, PassMode::Light).await;
    sync(&engine(&emulator), &dev, PassMode::Light).await;
    assert_eq!(
        writes(&emulator),
        Vec::<String>::new(),
        "steady passes write nothing"
    );
    assert_converged(&emulator, &prod).await;
    assert_converged(&emulator, &dev).await;

    // The development link goes: production keeps everything of its own.
    let report = engine(&emulator).cleanup(&dev, false).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let listed = apis(&emulator);
    assert!(
        !listed.contains_key(&shared_api_name("invoices")),
        "only dev served it"
    );
    assert!(
        !workspace(&emulator)["environments"]
            .as_object()
            .unwrap()
            .contains_key(&dev.environment_name)
    );
    for api in listed.values() {
        assert!(
            api["customProperties"]
                .get(shared_record_key(&dev.link))
                .is_none()
        );
    }
    assert!(deployments_of(&emulator, &echo, &dev).is_empty());
    assert_eq!(deployments_of(&emulator, &echo, &prod).len(), 1);
    assert_eq!(
        versions(&emulator, &petstore)
            .into_iter()
            .find(|(name, _)| name.starts_with("v2"))
            .unwrap()
            .1["definitions"]
            .as_object()
            .unwrap()
            .len(),
        1,
        "dev's own definition of v2 went with it"
    );
    assert_converged(&emulator, &prod).await;
}
