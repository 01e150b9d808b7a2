//! A standalone `apilink emulator` process playing Azure for one scenario: its banner
//! (endpoint, CA, credentials), its admin routes (call log, faults, APIM changes, API
//! Center snapshot) and plain ARM calls for "a person edits API Center".

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::process::{ManagedProcess, Spawn, StopSignal};
use crate::snapshot::ApicSnapshot;

/// API Center's api-version.
pub const APIC_API_VERSION: &str = "2024-03-01";
const BANNER_TIMEOUT: Duration = Duration::from_secs(60);

/// What APIM the emulator starts with.
#[derive(Debug, Clone)]
pub enum SeedSource {
    /// A seed document (YAML), written to the scenario's directory.
    Yaml(String),
    /// `--synthetic N`: a large generated APIM.
    Synthetic(usize),
}

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    pub seed: SeedSource,
    /// ARM's per-principal request throttling (on in Azure).
    pub throttle: bool,
}

impl EmulatorOptions {
    pub fn seed(yaml: &str) -> Self {
        Self {
            seed: SeedSource::Yaml(yaml.to_string()),
            throttle: true,
        }
    }

    pub fn synthetic(apis: usize) -> Self {
        Self {
            seed: SeedSource::Synthetic(apis),
            throttle: false,
        }
    }
}

/// One record of the emulator's call log.
#[derive(Debug, Clone, Deserialize)]
pub struct Call {
    pub seq: u64,
    /// When the request arrived, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: String,
    pub status: u16,
    pub principal: Option<String>,
    /// `Arm`, `Token`, `ManagedIdentity`, `ExportLink` or `Admin`.
    pub kind: String,
    pub fault: Option<String>,
}

impl Call {
    /// A call that changes Azure (anything but a read).
    pub fn is_write(&self) -> bool {
        self.kind == "Arm"
            && !self.method.eq_ignore_ascii_case("GET")
            && !self.method.eq_ignore_ascii_case("HEAD")
    }

    /// A call a client makes to Azure (ARM, the token endpoint, export links), as opposed
    /// to the harness's admin calls.
    pub fn is_azure(&self) -> bool {
        self.kind != "Admin"
    }
}

/// A running emulator.
pub struct Emulator {
    process: ManagedProcess,
    /// `https://127.0.0.1:PORT/`.
    pub endpoint: String,
    pub authority_host: String,
    pub ca_file: PathBuf,
    pub tenant_id: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub client_id: String,
    pub client_secret: String,
    /// ARM id of the (first) APIM service.
    pub apim_id: String,
    /// ARM ids of every APIM service the seed defines.
    pub apim_ids: Vec<String>,
    /// ARM id of the (first) API Center service.
    pub apic_id: String,
    http: reqwest::Client,
}

fn exported(banner: &[String], name: &str) -> Result<String> {
    let prefix = format!("export {name}=");
    banner
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim_matches('\'').to_string())
        .ok_or_else(|| Error::Setup(format!("the emulator's banner has no {prefix}")))
}

fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

impl Emulator {
    /// Starts `apilink emulator` on a free loopback port; its log is `dir/{name}.log`.
    pub async fn start(
        cluster: &Cluster,
        dir: &Path,
        name: &str,
        options: &EmulatorOptions,
    ) -> Result<Self> {
        let mut spawn = Spawn::new(name, &cluster.apilink, dir.join(format!("{name}.log")))
            .arg("emulator")
            .arg("--port")
            .arg("0")
            .env("RUST_LOG", "info");
        spawn.capture_stdout = true;
        spawn.stop = StopSignal::Int;
        match &options.seed {
            SeedSource::Yaml(yaml) => {
                let path = dir.join(format!("{name}-seed.yaml"));
                std::fs::write(&path, yaml).map_err(Error::io_path("writing", &path))?;
                spawn = spawn.arg("--seed").arg(&path);
            }
            SeedSource::Synthetic(n) => spawn = spawn.arg("--synthetic").arg(n.to_string()),
        }
        if !options.throttle {
            spawn = spawn.arg("--no-throttle");
        }
        let mut process = ManagedProcess::start(spawn)?;
        let mut banner = Vec::new();
        process.wait_for_line("its banner", BANNER_TIMEOUT, |line| {
            banner.push(line.to_string());
            line.starts_with("Serving until")
        })?;
        let endpoint = exported(&banner, "AZURE_RESOURCE_MANAGER_ENDPOINT")?;
        let ca_file = PathBuf::from(exported(&banner, "SSL_CERT_FILE")?);
        let pem = std::fs::read(&ca_file).map_err(Error::io_path("reading", &ca_file))?;
        let ca = reqwest::Certificate::from_pem(&pem)
            .map_err(Error::http("reading the emulator's CA"))?;
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(Error::http("building an HTTP client"))?;
        let mut emulator = Self {
            process,
            authority_host: exported(&banner, "AZURE_AUTHORITY_HOST")?,
            tenant_id: exported(&banner, "AZURE_TENANT_ID")?,
            client_id: exported(&banner, "AZURE_CLIENT_ID")?,
            client_secret: exported(&banner, "AZURE_CLIENT_SECRET")?,
            ca_file,
            endpoint,
            subscription_id: String::new(),
            resource_group: String::new(),
            apim_id: String::new(),
            apim_ids: Vec::new(),
            apic_id: String::new(),
            http,
        };
        let info = emulator.admin_get("info").await?;
        let text = |key: &str| info[key].as_str().map(str::to_string);
        let first = |key: &str| info[key][0].as_str().map(str::to_string);
        emulator.subscription_id = text("subscriptionId").unwrap_or_default();
        emulator.resource_group = text("resourceGroup").unwrap_or_default();
        emulator.apim_id = first("apimServices")
            .ok_or_else(|| Error::Setup(format!("the emulator serves no APIM: {info}")))?;
        emulator.apim_ids = info["apimServices"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        emulator.apic_id = first("apiCenterServices")
            .ok_or_else(|| Error::Setup(format!("the emulator serves no API Center: {info}")))?;
        Ok(emulator)
    }

    pub fn process(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }

    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// Name of the (first) APIM service.
    pub fn apim_service(&self) -> &str {
        last_segment(&self.apim_id)
    }

    /// ARM id of the APIM service named `service` (a seed may define several).
    pub fn apim_id_of(&self, service: &str) -> Result<String> {
        self.apim_ids
            .iter()
            .find(|id| last_segment(id) == service)
            .cloned()
            .ok_or_else(|| {
                Error::Setup(format!(
                    "the emulator serves no APIM named {service}: {:?}",
                    self.apim_ids
                ))
            })
    }

    /// Name of the (first) API Center service.
    pub fn apic_service(&self) -> &str {
        last_segment(&self.apic_id)
    }

    /// `apimResourceId` of the same APIM in a subscription the emulator's principal has no
    /// role on: ARM answers 403 `AuthorizationFailed` before it looks for the resource.
    pub fn apim_id_in_foreign_subscription(&self) -> String {
        self.apim_id.replacen(
            &self.subscription_id,
            "00000000-0000-0000-0000-00000000f0f0",
            1,
        )
    }

    fn admin_url(&self, route: &str) -> String {
        format!("{}_emulator/{route}", self.endpoint)
    }

    async fn admin_send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value> {
        let response = request
            .send()
            .await
            .map_err(Error::http(what.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(Error::http(what.to_string()))?;
        if !status.is_success() {
            return Err(Error::Http {
                context: what.to_string(),
                detail: format!("{status}: {text}"),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| Error::Http {
            context: what.to_string(),
            detail: format!("not JSON ({e}): {text}"),
        })
    }

    async fn admin_get(&self, route: &str) -> Result<Value> {
        self.admin_send(
            self.http.get(self.admin_url(route)),
            &format!("GET /_emulator/{route}"),
        )
        .await
    }

    /// Every call the emulator answered, in arrival order.
    pub async fn calls(&self) -> Result<Vec<Call>> {
        let value = self.admin_get("calls").await?;
        serde_json::from_value(value["calls"].clone()).map_err(|e| Error::Http {
            context: "GET /_emulator/calls".to_string(),
            detail: format!("unexpected shape: {e}"),
        })
    }

    /// Calls made to Azure (ARM, tokens, export links) since `since_seq`.
    pub async fn azure_calls_since(&self, since_seq: u64) -> Result<Vec<Call>> {
        Ok(self
            .calls()
            .await?
            .into_iter()
            .filter(|c| c.seq > since_seq && c.is_azure())
            .collect())
    }

    /// The sequence number of the latest call (a mark for later "since" queries).
    pub async fn last_seq(&self) -> Result<u64> {
        Ok(self.calls().await?.iter().map(|c| c.seq).max().unwrap_or(0))
    }

    /// Adds fault rules (the emulator's `FaultRule` shape).
    pub async fn add_faults(&self, rules: Value) -> Result<()> {
        self.admin_send(
            self.http.post(self.admin_url("faults")).json(&rules),
            "POST /_emulator/faults",
        )
        .await
        .map(|_| ())
    }

    pub async fn clear_faults(&self) -> Result<()> {
        self.admin_send(
            self.http.delete(self.admin_url("faults")),
            "DELETE /_emulator/faults",
        )
        .await
        .map(|_| ())
    }

    /// "Azure is down": every connection is closed without an answer (admin routes excepted).
    pub async fn go_down(&self) -> Result<()> {
        self.add_faults(json!({"kind": {"type": "drop_connection"}}))
            .await
    }

    /// Delays every call to Azure by `ms` milliseconds.
    pub async fn add_latency(&self, ms: u64) -> Result<()> {
        self.add_faults(json!({"kind": {"type": "latency", "ms": ms}}))
            .await
    }

    /// The APIM model as seed YAML/JSON (`GET /_emulator/apim`).
    pub async fn apim_state(&self) -> Result<Value> {
        self.admin_get("apim").await
    }

    /// Creates or replaces an APIM API (an `ApiSeed`).
    pub async fn put_api(&self, api: &str, body: Value) -> Result<()> {
        let route = format!("apim/{}/apis/{api}", self.apim_service());
        self.admin_send(
            self.http.put(self.admin_url(&route)).json(&body),
            &format!("PUT /_emulator/{route}"),
        )
        .await
        .map(|_| ())
    }

    /// Changes an APIM API's current revision (an `ApiPatch`).
    pub async fn patch_api(&self, api: &str, body: Value) -> Result<()> {
        let route = format!("apim/{}/apis/{api}", self.apim_service());
        self.admin_send(
            self.http.patch(self.admin_url(&route)).json(&body),
            &format!("PATCH /_emulator/{route}"),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_api(&self, api: &str) -> Result<()> {
        let route = format!("apim/{}/apis/{api}", self.apim_service());
        self.admin_send(
            self.http.delete(self.admin_url(&route)),
            &format!("DELETE /_emulator/{route}"),
        )
        .await
        .map(|_| ())
    }

    /// The whole API Center service.
    pub async fn snapshot(&self) -> Result<ApicSnapshot> {
        let route = format!("apic/{}", self.apic_service());
        Ok(ApicSnapshot(self.admin_get(&route).await?))
    }

    /// An ARM token for the emulator's principal (client credentials), as a person with
    /// the Azure CLI would have.
    pub async fn token(&self) -> Result<String> {
        let url = format!(
            "{}{}/oauth2/v2.0/token",
            self.authority_host, self.tenant_id
        );
        let scope = format!("{}.default", self.endpoint);
        let value = self
            .admin_send(
                self.http.post(url).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", self.client_secret.as_str()),
                    ("scope", scope.as_str()),
                ]),
                "POST token",
            )
            .await?;
        value["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Http {
                context: "POST token".to_string(),
                detail: "no access_token in the answer".to_string(),
            })
    }

    fn arm_url(&self, id: &str) -> String {
        format!(
            "{}{}?api-version={APIC_API_VERSION}",
            self.endpoint,
            id.trim_start_matches('/')
        )
    }

    /// `GET` an API Center resource: its body and ETag.
    pub async fn arm_get(&self, id: &str) -> Result<(Value, Option<String>)> {
        let token = self.token().await?;
        let response = self
            .http
            .get(self.arm_url(id))
            .bearer_auth(token)
            .send()
            .await
            .map_err(Error::http(format!("GET {id}")))?;
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(Error::http(format!("GET {id}")))?;
        if !status.is_success() {
            return Err(Error::Http {
                context: format!("GET {id}"),
                detail: format!("{status}: {text}"),
            });
        }
        let body = serde_json::from_str(&text).map_err(|e| Error::Http {
            context: format!("GET {id}"),
            detail: format!("not JSON ({e})"),
        })?;
        Ok((body, etag))
    }

    /// `PUT` an API Center resource (with `If-Match` when given).
    pub async fn arm_put(&self, id: &str, body: &Value, if_match: Option<&str>) -> Result<Value> {
        let token = self.token().await?;
        let mut request = self
            .http
            .put(self.arm_url(id))
            .bearer_auth(token)
            .json(body);
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        self.admin_send(request, &format!("PUT {id}")).await
    }

    /// Stops the emulator now (Ctrl-C, then SIGKILL).
    pub fn stop(&mut self) {
        self.process.stop(Duration::from_secs(5));
    }
}
