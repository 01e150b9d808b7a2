//! The controller as the chart installs it: the chart's ServiceAccount and RBAC applied to
//! the cluster, a token for that ServiceAccount from the TokenRequest API, and
//! `apilink controller` started with the Deployment's arguments and environment and a
//! kubeconfig holding only that token, so any RBAC rule the chart lacks fails the run.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;

use crate::chart::{self, EnvSource, HelmValue, Launch, Rendered};
use crate::cluster::{Cluster, FIELD_MANAGER};
use crate::emulator::Emulator;
use crate::error::{Error, Result};
use crate::process::{ManagedProcess, Spawn, StopSignal};

/// Lifetime of the ServiceAccount token: longer than any scenario.
const TOKEN_SECONDS: i64 = 2 * 3600;
/// Longest a controller may take to serve `/healthz` after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The value given to the chart's CA bundle ConfigMap: it makes the chart render
/// `SSL_CERT_FILE`, which the harness then points at the emulator's CA file (no pod
/// mounts the ConfigMap here).
const CA_CONFIGMAP: &str = "emulator-ca";

/// Which RBAC the chart renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RbacScope {
    /// `controller.watchNamespaces`: a Role and RoleBinding in each namespace, and the
    /// controller serves only those (the chart sets `APILINK_WATCH_NAMESPACES`).
    Namespaced(Vec<String>),
    /// The chart's default: a ClusterRole and ClusterRoleBinding. The harness still limits
    /// the controller to these namespaces (`APILINK_WATCH_NAMESPACES`), so links other
    /// scenarios left behind are not touched.
    ClusterWide { serve: Vec<String> },
}

/// Leader election settings rendered into the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderElection {
    pub lease_duration_secs: u32,
    pub renew_grace_secs: u32,
}

/// How to install the controller for a scenario.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub rbac: RbacScope,
    pub leader_election: Option<LeaderElection>,
    /// More chart values (`rbac.secretNamespaces`, `tenantScopes`...).
    pub values: Vec<(&'static str, HelmValue)>,
}

impl InstallOptions {
    pub fn namespaced(namespaces: &[&str]) -> Self {
        Self {
            rbac: RbacScope::Namespaced(namespaces.iter().map(|n| n.to_string()).collect()),
            leader_election: None,
            values: Vec::new(),
        }
    }

    pub fn cluster_wide(serve: &[&str]) -> Self {
        Self {
            rbac: RbacScope::ClusterWide {
                serve: serve.iter().map(|n| n.to_string()).collect(),
            },
            leader_election: None,
            values: Vec::new(),
        }
    }

    /// Adds a chart value.
    pub fn with_value(mut self, key: &'static str, value: HelmValue) -> Self {
        self.values.push((key, value));
        self
    }

    pub fn with_leader_election(mut self, lease_duration_secs: u32, renew_grace_secs: u32) -> Self {
        self.leader_election = Some(LeaderElection {
            lease_duration_secs,
            renew_grace_secs,
        });
        self
    }
}

/// The chart installed for one scenario: what every replica of the controller shares.
#[derive(Debug, Clone)]
pub struct Install {
    pub release: String,
    /// The release namespace (where the ServiceAccount and the Lease live).
    pub namespace: String,
    pub service_account: String,
    /// Kubeconfig with the ServiceAccount's token only.
    pub kubeconfig: PathBuf,
    pub launch: Launch,
    /// `APILINK_WATCH_NAMESPACES` the harness adds when the chart leaves it out.
    pub serve_override: Option<String>,
    pub lease_name: Option<String>,
    pub rbac_objects: Vec<String>,
}

fn values(emulator: &Emulator, options: &InstallOptions) -> Vec<(&'static str, HelmValue)> {
    let text = |v: &str| HelmValue::Str(v.to_string());
    let raw = |v: String| HelmValue::Raw(v);
    let mut values = vec![
        ("controller.logFormat", text("text")),
        ("azure.resourceManagerEndpoint", text(&emulator.endpoint)),
        ("azure.authorityHost", text(&emulator.authority_host)),
        ("azure.caBundle.configMapName", text(CA_CONFIGMAP)),
    ];
    if let RbacScope::Namespaced(namespaces) = &options.rbac {
        values.push((
            "controller.watchNamespaces",
            HelmValue::List(namespaces.clone()),
        ));
    }
    match options.leader_election {
        Some(le) => {
            values.push(("leaderElection.enabled", raw("true".into())));
            values.push((
                "leaderElection.leaseDurationSeconds",
                raw(le.lease_duration_secs.to_string()),
            ));
            values.push((
                "leaderElection.renewGraceSeconds",
                raw(le.renew_grace_secs.to_string()),
            ));
            values.push(("replicaCount", raw("2".into())));
        }
        None => {
            values.push(("leaderElection.enabled", raw("false".into())));
            values.push(("replicaCount", raw("1".into())));
        }
    }
    values.extend(options.values.iter().cloned());
    values
}

/// Renders the chart for `release` in `namespace`, applies its ServiceAccount and RBAC,
/// and writes a kubeconfig with a TokenRequest token of that ServiceAccount.
pub async fn install(
    cluster: &Cluster,
    admin: &kube::Client,
    dir: &Path,
    release: &str,
    namespace: &str,
    emulator: &Emulator,
    options: &InstallOptions,
) -> Result<Install> {
    let rendered = chart::render(cluster, release, namespace, &values(emulator, options)).await?;
    apply_rbac(cluster, dir, release, &rendered).await?;
    let service_account = rendered.service_account()?;
    let launch = rendered.launch()?;

    let token = service_account_token(admin, namespace, &service_account).await?;
    let kubeconfig = dir.join(format!("{release}-sa.kubeconfig"));
    write_kubeconfig(&kubeconfig, cluster, namespace, &token)?;
    check_identity(cluster, &kubeconfig, namespace, &service_account).await?;

    let serve_override = match (&options.rbac, launch.env_value("APILINK_WATCH_NAMESPACES")) {
        (RbacScope::ClusterWide { serve }, None) if !serve.is_empty() => Some(serve.join(",")),
        _ => None,
    };
    let lease_name = match launch.env_value("APILINK_LEASE_NAME") {
        Some(EnvSource::Value(name)) => Some(name.clone()),
        _ => None,
    };
    Ok(Install {
        release: release.to_string(),
        namespace: namespace.to_string(),
        service_account,
        kubeconfig,
        launch,
        serve_override,
        lease_name,
        rbac_objects: rendered.rbac_summary(),
    })
}

/// Applies the ServiceAccount and RBAC the chart rendered.
async fn apply_rbac(
    cluster: &Cluster,
    dir: &Path,
    release: &str,
    rendered: &Rendered,
) -> Result<()> {
    let rbac = rendered.rbac_yaml()?;
    let rbac_file = dir.join(format!("{release}-rbac.yaml"));
    std::fs::write(&rbac_file, &rbac).map_err(Error::io_path("writing", &rbac_file))?;
    cluster
        .kubectl()
        .args([
            "apply",
            "--server-side",
            "--field-manager",
            FIELD_MANAGER,
            "-f",
        ])
        .arg(&rbac_file)
        .run_ok()
        .await?;
    Ok(())
}

/// A token for the ServiceAccount from the TokenRequest API.
async fn service_account_token(
    admin: &kube::Client,
    namespace: &str,
    service_account: &str,
) -> Result<String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let answered = accounts
        .create_token_request(service_account, &PostParams::default(), &request)
        .await
        .map_err(Error::kube(format!(
            "TokenRequest for ServiceAccount {namespace}/{service_account}"
        )))?;
    answered
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Check("the TokenRequest answer holds no token".to_string()))
}

/// Fails unless the kubeconfig authenticates as the ServiceAccount.
async fn check_identity(
    cluster: &Cluster,
    kubeconfig: &Path,
    namespace: &str,
    service_account: &str,
) -> Result<()> {
    let whoami = cluster
        .kubectl_with(kubeconfig)
        .args([
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .run_ok()
        .await?;
    let expected = format!("system:serviceaccount:{namespace}:{service_account}");
    if whoami.trim() != expected {
        return Err(Error::Check(format!(
            "the token authenticates as {whoami:?}, expected {expected}"
        )));
    }
    Ok(())
}

fn write_kubeconfig(path: &Path, cluster: &Cluster, namespace: &str, token: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: controller\n  user:\n    token: {token}\ncontexts:\n- name: controller\n  context:\n    cluster: e2e\n    user: controller\n    namespace: {namespace}\ncurrent-context: controller\n",
        cluster.apiserver_url,
        cluster.ca_file.display(),
    );
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io_path("writing", path))?;
    file.write_all(text.as_bytes())
        .map_err(Error::io_path("writing", path))
}

/// A free loopback port (bound and released; the controller binds it right after).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(Error::io("finding a free loopback port"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(Error::io("finding a free loopback port"))
}

/// One running replica of `apilink controller`.
pub struct Controller {
    process: ManagedProcess,
    pub replica: String,
    pub metrics_addr: String,
    http: reqwest::Client,
}

impl Controller {
    /// Starts replica `replica` (its pod name) and waits until it serves `/healthz`.
    pub async fn start(
        cluster: &Cluster,
        install: &Install,
        emulator: &Emulator,
        dir: &Path,
        replica: &str,
    ) -> Result<Self> {
        let port = free_port()?;
        let metrics_addr = format!("127.0.0.1:{port}");
        let spawn = replica_spawn(cluster, install, emulator, dir, replica, &metrics_addr);
        let process = ManagedProcess::start(spawn)?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(Error::http("building an HTTP client"))?;
        let mut controller = Self {
            process,
            replica: replica.to_string(),
            metrics_addr,
            http,
        };
        controller.wait_healthy().await?;
        Ok(controller)
    }

    async fn wait_healthy(&mut self) -> Result<()> {
        let started = Instant::now();
        let url = format!("http://{}/healthz", self.metrics_addr);
        let mut last = String::from("no answer yet");
        while started.elapsed() < START_TIMEOUT {
            self.process.ensure_running()?;
            match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(Error::Timeout {
            what: format!("controller {} to serve {url}", self.replica),
            secs: START_TIMEOUT.as_secs_f64(),
            last: format!("{last}; log:\n{}", self.process.log_tail(30)),
        })
    }

    pub fn process(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }

    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> Result<String> {
        let url = format!("http://{}/metrics", self.metrics_addr);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(Error::http(format!("GET {url}")))?;
        if !response.status().is_success() {
            return Err(Error::Http {
                context: format!("GET {url}"),
                detail: response.status().to_string(),
            });
        }
        response
            .text()
            .await
            .map_err(Error::http(format!("GET {url}")))
    }

    /// Sum of every series of metric `name` whose labels contain all of `labels`
    /// (`key="value"` fragments); 0 when there is none.
    pub async fn metric_sum(&self, name: &str, labels: &[&str]) -> Result<f64> {
        Ok(sum_metric(&self.metrics().await?, name, labels))
    }

    /// SIGKILL: no graceful shutdown, the Lease is not released.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM with a grace period, as a rolling update would.
    pub fn stop(&mut self) {
        self.process.stop(Duration::from_secs(10));
    }
}

/// `apilink controller` as the chart's Deployment runs it for pod `replica`, on this
/// machine.
fn replica_spawn(
    cluster: &Cluster,
    install: &Install,
    emulator: &Emulator,
    dir: &Path,
    replica: &str,
    metrics_addr: &str,
) -> Spawn {
    let mut spawn = Spawn::new(
        &format!("controller {replica}"),
        &cluster.apilink,
        dir.join(format!("controller-{replica}.log")),
    );
    spawn.stop = StopSignal::Term;
    for arg in &install.launch.args {
        spawn = spawn.arg(arg);
    }
    for (name, source) in &install.launch.env {
        let value = match source {
            EnvSource::Value(v) => v.clone(),
            EnvSource::PodName => replica.to_string(),
            EnvSource::PodNamespace => install.namespace.clone(),
        };
        spawn = spawn.env(name, value);
    }
    // Loopback only, and the emulator's CA where the chart would mount the bundle.
    spawn = spawn
        .env("APILINK_METRICS_ADDR", metrics_addr)
        .env("SSL_CERT_FILE", &emulator.ca_file)
        .env("KUBECONFIG", &install.kubeconfig);
    if let Some(serve) = &install.serve_override {
        spawn = spawn.env("APILINK_WATCH_NAMESPACES", serve);
    }
    if let Ok(filter) = std::env::var("APILINK_E2E_RUST_LOG") {
        spawn = spawn.env("RUST_LOG", filter);
    }
    spawn
}

/// Sums the samples of metric `name` in Prometheus text whose label set contains every
/// `labels` fragment.
pub fn sum_metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (metric == name && labels.iter().all(|l| label_text.contains(l)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::sum_metric;

    #[test]
    fn sums_matching_series_only() {
        let text = "# HELP x\napilink_leader 1\nfoo_total{a=\"1\",b=\"2\"} 3\nfoo_total{a=\"2\"} 4\nfoo_total_other 9\n";
        assert_eq!(sum_metric(text, "apilink_leader", &[]), 1.0);
        assert_eq!(sum_metric(text, "foo_total", &[]), 7.0);
        assert_eq!(sum_metric(text, "foo_total", &["a=\"1\""]), 3.0);
        assert_eq!(sum_metric(text, "missing", &[]), 0.0);
    }
}
