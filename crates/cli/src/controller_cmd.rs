//! `apilink controller`: runs the Kubernetes controller (kubeconfig or in-cluster
//! configuration). Flags have environment twins so the chart can set them.
//!
//! The sync itself is done by a `LinkRunner`; `run` takes a factory for it, which gets
//! the process's `Metrics` so the Azure client can report into them (through
//! `ArmMetrics`, the client's observer over them).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use apilink_controller::{ControllerConfig, LeaderElection, LinkRunner, Metrics, TenantScopes};
use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors in a cluster).
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Namespaces whose ApiSourceLinks are served (comma-separated); all when empty.
    #[arg(long, env = "APILINK_WATCH_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "APILINK_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Links reconciled at once (per served namespace).
    #[arg(long, env = "APILINK_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,

    /// Elect a leader with a Lease so several replicas can run; only the leader works.
    #[arg(long, env = "APILINK_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,

    /// Name of the Lease.
    #[arg(long, env = "APILINK_LEASE_NAME", default_value = "apilink-controller")]
    pub lease_name: String,

    /// Namespace of the Lease (the pod's namespace in a cluster).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,

    /// This replica's identity in the Lease and in events (the pod name in a cluster).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Seconds the Lease stays valid after a renewal.
    #[arg(long, env = "APILINK_LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,

    /// Seconds before expiry at which the leader renews; a leader that cannot renew starts
    /// no Azure write later than the lease duration less half of this after its last renewal.
    #[arg(long, env = "APILINK_LEASE_RENEW_GRACE_SECONDS", default_value_t = 5)]
    pub lease_renew_grace_seconds: u64,

    /// Longest wait for running reconciles on shutdown.
    #[arg(long, env = "APILINK_SHUTDOWN_GRACE_SECONDS", default_value_t = 25)]
    pub shutdown_grace_seconds: u64,

    /// Seconds a single pass or cleanup may run before it is abandoned and retried.
    #[arg(long, env = "APILINK_PASS_TIMEOUT_SECONDS", default_value_t = 1800)]
    pub pass_timeout_seconds: u64,

    /// Log format.
    #[arg(long, env = "APILINK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Tenant scopes: which Azure resources the links of each namespace may read (source,
    /// the APIM id) and write (target, the API Center id), as YAML or JSON, e.g.
    /// `[{namespaces: [team-a], source: ["/subscriptions/s1/*"], target: ["/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiCenter/services/catalog"]}]`.
    /// A link outside its scope is Stalled (ScopeNotAllowed) and makes no Azure call;
    /// a namespace no entry names may use nothing. Unset or empty: no restriction.
    #[arg(
        long,
        env = "APILINK_TENANT_SCOPES",
        conflicts_with = "tenant_scopes_file"
    )]
    pub tenant_scopes: Option<String>,

    /// The same, read from a file (e.g. a mounted ConfigMap); read once at start.
    #[arg(long, env = "APILINK_TENANT_SCOPES_FILE", value_name = "FILE")]
    pub tenant_scopes_file: Option<PathBuf>,

    /// Skip the preflight: the read-only checks (credentials, reachability, ARM
    /// permissions, APIM inventory, API Center workspace and metadata schemas, the spec)
    /// a link runs before its first pass of each generation, whose failures become the
    /// link's status instead of a failed write.
    #[arg(long, env = "APILINK_SKIP_PREFLIGHT", default_value_t = false)]
    pub skip_preflight: bool,
}

/// Installs the log subscriber (`RUST_LOG` filters, default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

fn fallback_identity() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| format!("apilink-{}", std::process::id()))
}

impl ControllerArgs {
    pub fn config(&self) -> anyhow::Result<ControllerConfig> {
        let identity = self.identity.clone().unwrap_or_else(fallback_identity);
        if self.leader_elect && self.lease_renew_grace_seconds >= self.lease_duration_seconds {
            anyhow::bail!(
                "--lease-renew-grace-seconds must be shorter than --lease-duration-seconds"
            );
        }
        let namespaces: Vec<String> = self
            .namespaces
            .iter()
            .map(|ns| ns.trim().to_string())
            .filter(|ns| !ns.is_empty())
            .collect();
        Ok(ControllerConfig {
            tenant_scopes: self.tenant_scopes()?,
            namespaces,
            metrics_addr: self.metrics_addr,
            concurrency: self.concurrency.max(1),
            leader_election: self.leader_elect.then(|| LeaderElection {
                lease_name: self.lease_name.clone(),
                lease_namespace: self.lease_namespace.clone(),
                identity: identity.clone(),
                lease_duration_secs: self.lease_duration_seconds,
                renew_grace_secs: self.lease_renew_grace_seconds,
            }),
            instance: Some(identity),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            pass_timeout: Duration::from_secs(self.pass_timeout_seconds.max(1)),
            preflight: !self.skip_preflight,
        })
    }

    /// A scope the controller cannot read stops it from starting: running unrestricted
    /// instead would be the opposite of what the operator asked for.
    fn tenant_scopes(&self) -> anyhow::Result<TenantScopes> {
        if let Some(text) = &self.tenant_scopes {
            return TenantScopes::parse(text).context("--tenant-scopes (APILINK_TENANT_SCOPES)");
        }
        let Some(path) = &self.tenant_scopes_file else {
            return Ok(TenantScopes::unrestricted());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --tenant-scopes-file {}", path.display()))?;
        TenantScopes::parse(&text)
            .with_context(|| format!("--tenant-scopes-file {}", path.display()))
    }
}

/// Runs the controller until SIGTERM or Ctrl-C with the runner `make_runner` builds.
pub async fn run<R: LinkRunner>(
    args: ControllerArgs,
    make_runner: impl FnOnce(&Metrics) -> anyhow::Result<R>,
) -> anyhow::Result<()> {
    // kube (ring) and the Azure client (aws-lc-rs) both link a rustls provider: pick one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = args.config()?;
    let metrics = Metrics::new()?;
    let runner = make_runner(&metrics)?;
    tracing::info!(
        namespaces = ?config.namespaces,
        leader_election = config.leader_election.is_some(),
        tenant_scopes = %config.tenant_scopes,
        "starting the ApiSourceLink controller"
    );
    apilink_controller::run_controller(config, metrics, runner).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ControllerArgs,
    }

    #[test]
    fn flags_become_the_controller_config() {
        let w = Wrapper::try_parse_from([
            "apilink",
            "--namespaces",
            "team-a, team-b,",
            "--leader-elect",
            "--identity",
            "pod-1",
            "--lease-namespace",
            "apilink-system",
            "--metrics-addr",
            "127.0.0.1:9090",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(w.args.log_format, LogFormat::Json);
        let config = w.args.config().unwrap();
        assert_eq!(config.namespaces, vec!["team-a", "team-b"]);
        assert_eq!(config.metrics_addr.port(), 9090);
        let election = config.leader_election.unwrap();
        assert_eq!(election.identity, "pod-1");
        assert_eq!(election.lease_namespace, "apilink-system");
        assert_eq!(config.instance.as_deref(), Some("pod-1"));
        assert!(config.preflight, "the preflight runs unless skipped");
    }

    #[test]
    fn the_preflight_can_be_skipped() {
        let w = Wrapper::try_parse_from(["apilink", "--skip-preflight"]).unwrap();
        assert!(w.args.skip_preflight);
        assert!(!w.args.config().unwrap().preflight);
    }

    const SCOPES: &str = r#"[{"namespaces": ["team-a"], "source": ["/subscriptions/s1/*"], "target": ["/subscriptions/s1/*"]}]"#;
    const APIM: &str =
        "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";

    #[test]
    fn tenant_scopes_come_from_a_flag_or_a_file() {
        use apilink_controller::scope::Decision;
        let plain = Wrapper::try_parse_from(["apilink"]).unwrap();
        assert!(plain.args.config().unwrap().tenant_scopes.is_unrestricted());

        let w = Wrapper::try_parse_from(["apilink", "--tenant-scopes", SCOPES]).unwrap();
        let scopes = w.args.config().unwrap().tenant_scopes;
        assert_eq!(scopes.len(), 1);
        assert_eq!(scopes.check("team-a", APIM, APIM), Decision::Allowed);
        assert!(matches!(
            scopes.check("team-b", APIM, APIM),
            Decision::Denied { .. }
        ));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scopes.yaml");
        std::fs::write(
            &file,
            "- namespaces: [team-a]\n  source: ['*']\n  target: ['/subscriptions/s1/*']\n",
        )
        .unwrap();
        let w =
            Wrapper::try_parse_from(["apilink", "--tenant-scopes-file", file.to_str().unwrap()])
                .unwrap();
        assert_eq!(w.args.config().unwrap().tenant_scopes.len(), 1);
        assert!(
            Wrapper::try_parse_from([
                "apilink",
                "--tenant-scopes",
                SCOPES,
                "--tenant-scopes-file",
                "x"
            ])
            .is_err(),
            "one source of scopes"
        );
    }

    #[test]
    fn unusable_tenant_scopes_stop_the_start() {
        let w = Wrapper::try_parse_from([
            "apilink",
            "--tenant-scopes",
            "[{namespaces: [a], source: [subscriptions/s1], target: ['*']}]",
        ])
        .unwrap();
        let err = format!("{:#}", w.args.config().unwrap_err());
        assert!(
            err.contains("--tenant-scopes") && err.contains("entry 1: source"),
            "{err}"
        );
        let w =
            Wrapper::try_parse_from(["apilink", "--tenant-scopes-file", "/nonexistent/x"]).unwrap();
        assert!(w.args.config().is_err());
    }

    #[test]
    fn inconsistent_lease_timings_are_refused() {
        let w = Wrapper::try_parse_from([
            "apilink",
            "--leader-elect",
            "--lease-duration-seconds",
            "5",
            "--lease-renew-grace-seconds",
            "5",
        ])
        .unwrap();
        assert!(w.args.config().is_err());
        let plain = Wrapper::try_parse_from(["apilink"]).unwrap();
        assert!(plain.args.config().unwrap().leader_election.is_none());
    }
}
