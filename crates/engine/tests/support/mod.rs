//! Shared helpers of the engine's scenario tests: an emulator on loopback, engines that
//! talk to it over HTTPS through `apilink-azure`, link settings, and views of the call
//! log and of API Center's state. Not every test binary uses all of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use apilink_azure::lro::LroOptions;
use apilink_azure::retry::RetryPolicy;
use apilink_azure::{ArmClient, ArmClientOptions, CloudConfig, CredentialConfig, build_credential};
use apilink_core::{LinkId, LinkSettings, LinkSpec};
use apilink_emulator::apim::{DefinitionUpdate, OperationSeed};
use apilink_emulator::{
    ApimHandle, CallKind, CallRecord, Emulator, EmulatorConfig, ThrottleConfig,
};
use apilink_engine::{AzureClients, Engine, EngineOptions, PassMode, PassReport};
use azure_core::credentials::Secret;
use serde_json::{Value, json};

pub const APIM: &str = "contoso-apim";
pub const APIC: &str = "contoso-catalog";

/// An emulator without ARM throttling (tests that want it turn it on), small pages so
/// paging is exercised.
pub fn config() -> EmulatorConfig {
    EmulatorConfig {
        throttle: ThrottleConfig::disabled(),
        apic_page_size: 3,
        apim_page_size: 4,
        ..EmulatorConfig::default()
    }
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    apilink_emulator::start(config)
        .await
        .expect("the emulator starts")
}

/// Client options with short waits; server-requested waits are still honoured.
pub fn client_options() -> ArmClientOptions {
    ArmClientOptions {
        request_timeout: Duration::from_secs(20),
        max_concurrency: 16,
        retry: RetryPolicy {
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            ..RetryPolicy::default()
        },
        lro: LroOptions {
            deadline: Duration::from_secs(60),
            default_poll_interval: Duration::from_millis(100),
            // The emulator asks for 1 s between polls; the client's upper bound keeps
            // the suite fast without changing what is tested.
            max_poll_interval: Duration::from_millis(200),
            ..LroOptions::default()
        },
        ..ArmClientOptions::default()
    }
}

/// A new ARM client with its own token cache and counters: what a freshly started
/// process would have.
pub fn arm_client(emulator: &Emulator) -> ArmClient {
    let cloud = CloudConfig::custom(emulator.arm_endpoint(), emulator.authority_host())
        .with_ca_file(emulator.ca_file());
    let credential = build_credential(
        &CredentialConfig::ClientSecret {
            tenant_id: emulator.tenant_id().to_string(),
            client_id: apilink_emulator::DEFAULT_CLIENT_ID.to_string(),
            secret: Secret::new(apilink_emulator::DEFAULT_CLIENT_SECRET.to_string()),
        },
        &cloud,
    )
    .expect("a credential");
    ArmClient::new(&cloud, credential, client_options()).expect("an ARM client")
}

pub fn engine_options() -> EngineOptions {
    EngineOptions {
        concurrency: 4,
        ..EngineOptions::default()
    }
}

/// A fresh engine (new client, no state carried over from earlier passes).
pub fn engine(emulator: &Emulator) -> Engine<AzureClients> {
    engine_with(emulator, engine_options())
}

pub fn engine_with(emulator: &Emulator, options: EngineOptions) -> Engine<AzureClients> {
    Engine::new(
        AzureClients::new(arm_client(emulator)).with_apim_page_size(4),
        options,
    )
}

/// Settings of link `id` reading the emulator's APIM into its API Center; `extra` adds
/// or overrides spec members (JSON object).
pub fn settings(emulator: &Emulator, id: &str, extra: Value) -> LinkSettings {
    let mut spec = json!({
        "source": {"apimResourceId": emulator.apim_resource_id(APIM)},
        "target": {"apiCenterResourceId": emulator.api_center_resource_id(APIC)},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    let spec: LinkSpec = serde_json::from_value(spec).expect("a link spec");
    spec.settings(LinkId::new(id).expect("a link id"))
        .expect("valid settings")
}

/// One pass that must succeed.
pub async fn sync(
    engine: &Engine<AzureClients>,
    settings: &LinkSettings,
    mode: PassMode,
) -> PassReport {
    match engine.sync_pass(settings, mode).await {
        Ok(report) => report,
        Err(e) => panic!(
            "pass failed: {e}\n{:#?}",
            e.report.as_ref().map(|r| &r.failures)
        ),
    }
}

/// Asserts that a full dry run (which reads everything, definitions included) finds
/// nothing to do: API Center has converged.
pub async fn assert_converged(emulator: &Emulator, settings: &LinkSettings) {
    let report = engine(emulator)
        .plan_only(settings, PassMode::Full)
        .await
        .expect("a dry run");
    let plan = report.plan.expect("a dry run keeps its plan");
    assert!(
        plan.operations.is_empty(),
        "not converged, still to do:\n{plan}"
    );
}

/// The default workspace of the API Center service (`apis`, `environments`, …).
pub fn workspace(emulator: &Emulator) -> Value {
    let snapshot = emulator
        .api_center()
        .snapshot(APIC)
        .expect("the API Center service exists");
    snapshot["workspaces"]["default"].clone()
}

/// Removes what changes on every write (ETags, system data), so two states compare.
pub fn normalized(mut value: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("etag");
                map.remove("systemData");
                for child in map.values_mut() {
                    strip(child);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// API name → its API Center properties.
pub fn apis(emulator: &Emulator) -> BTreeMap<String, Value> {
    workspace(emulator)["apis"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["properties"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The ownership record on the link's environment.
pub fn environment_record(emulator: &Emulator, settings: &LinkSettings) -> String {
    workspace(emulator)["environments"][&settings.environment_name]["properties"]
        ["customProperties"][apilink_core::marker::RECORD_KEY]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The API whose title is `title` (exactly one must exist); returns its name.
pub fn api_named(emulator: &Emulator, title: &str) -> String {
    let matches: Vec<String> = apis(emulator)
        .into_iter()
        .filter(|(_, p)| p["title"] == title)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(matches.len(), 1, "APIs titled {title:?}: {matches:?}");
    matches[0].clone()
}

pub fn versions(emulator: &Emulator, api: &str) -> BTreeMap<String, Value> {
    workspace(emulator)["apis"][api]["versions"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

pub fn deployments(emulator: &Emulator, api: &str) -> BTreeSet<String> {
    workspace(emulator)["apis"][api]["deployments"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The imported content of an API's definition in `version`.
pub fn definition_content(emulator: &Emulator, api: &str, version: &str) -> Option<String> {
    let defs = workspace(emulator)["apis"][api]["versions"][version]["definitions"].clone();
    defs.as_object()?
        .values()
        .find_map(|d| d["content"].as_str().map(str::to_string))
}

pub fn arm_calls(emulator: &Emulator) -> Vec<CallRecord> {
    emulator
        .calls()
        .into_iter()
        .filter(|c| c.kind == CallKind::Arm)
        .collect()
}

pub fn is_write(call: &CallRecord) -> bool {
    call.kind == CallKind::Arm && !matches!(call.method.as_str(), "GET" | "HEAD")
}

/// Writes (PUT, POST, DELETE) in the call log, as `METHOD path`.
pub fn writes(emulator: &Emulator) -> Vec<String> {
    emulator
        .calls()
        .iter()
        .filter(|c| is_write(c))
        .map(|c| format!("{} {}", c.method, c.path))
        .collect()
}

pub fn reads(emulator: &Emulator) -> Vec<String> {
    emulator
        .calls()
        .iter()
        .filter(|c| c.kind == CallKind::Arm && c.method == "GET")
        .map(|c| format!("GET {}?{}", c.path, c.query))
        .collect()
}

/// importSpecification calls in the call log.
pub fn imports(emulator: &Emulator) -> Vec<String> {
    writes(emulator)
        .into_iter()
        .filter(|w| w.ends_with("/importSpecification"))
        .collect()
}

/// Declares metadata schema `name` (a JSON Schema document) for `entities`, as an
/// organisation does before anyone uses that custom property: API Center, read
/// strictly, refuses undeclared ones.
pub async fn declare_metadata(
    emulator: &Emulator,
    name: &str,
    document: Value,
    entities: &[(&str, bool)],
) {
    let assigned: Vec<Value> = entities
        .iter()
        .map(|(entity, required)| json!({"entity": entity, "required": required, "deprecated": false}))
        .collect();
    put_metadata_schema(
        emulator,
        name,
        &json!({"schema": document.to_string(), "assignedTo": assigned}),
    )
    .await;
}

/// Declares the link's ownership record schema up front, for tests that plant records
/// before the first pass (which would otherwise create it).
pub async fn declare_ownership_schema(emulator: &Emulator) {
    put_metadata_schema(
        emulator,
        apilink_core::marker::RECORD_KEY,
        &apilink_core::marker::ownership_schema(),
    )
    .await;
}

/// PUTs a metadata schema as given (`properties`: `schema`, `assignedTo`).
pub async fn put_raw_metadata_schema(emulator: &Emulator, name: &str, properties: &Value) {
    put_metadata_schema(emulator, name, properties).await;
}

/// PUTs `properties` to an API, deployment or environment given by its workspace-relative
/// path (`apis/a`, `apis/a/deployments/d`, `environments/e`), as a person or a script would.
pub async fn put_raw(emulator: &Emulator, relative: &str, properties: &Value) {
    use apilink_azure::apic::{ApicClient, ApicPath, Precondition};
    let ws = "default";
    let segments: Vec<&str> = relative.split('/').collect();
    let path = match segments.as_slice() {
        ["apis", api] => ApicPath::api(ws, api).unwrap().untyped(),
        ["apis", api, "deployments", dep] => ApicPath::deployment(ws, api, dep).unwrap().untyped(),
        ["environments", env] => ApicPath::environment(ws, env).unwrap().untyped(),
        other => panic!("unsupported path {other:?}"),
    };
    let apic = ApicClient::new(
        arm_client(emulator),
        emulator.api_center_resource_id(APIC).parse().unwrap(),
    );
    apic.put(&path, properties, Precondition::None)
        .await
        .unwrap();
}

async fn put_metadata_schema(emulator: &Emulator, name: &str, properties: &Value) {
    use apilink_azure::apic::{ApicClient, ApicPath, Precondition};
    let apic = ApicClient::new(
        arm_client(emulator),
        emulator.api_center_resource_id(APIC).parse().unwrap(),
    );
    apic.put(
        &ApicPath::metadata_schema(name).unwrap().untyped(),
        properties,
        Precondition::None,
    )
    .await
    .unwrap();
}

/// A content-only change in APIM: the SOAP API `weather-soap` gains an operation
/// (`GetWarnings`), which leaves no trace in the API list.
pub fn add_weather_warnings(apim: &ApimHandle) {
    apim.set_definition(
        APIM,
        None,
        "weather-soap",
        &DefinitionUpdate {
            operations: Some(vec![OperationSeed::Line(
                "GetWarnings List weather warnings".into(),
            )]),
            content: None,
        },
    )
    .expect("the definition changes");
}
