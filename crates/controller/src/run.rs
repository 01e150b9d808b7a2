//! Running the controller: a watch on links (Secrets are never listed or watched: a
//! link's Secret is read with `get` when needed, see `credentials`), one kube `Controller`
//! per served namespace (or one for all), the probe/metrics server, and leader election:
//! only the lease holder runs controllers, and losing the lease stops them at once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::{StreamExt, stream};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::{Config as RuntimeConfig, Controller, watcher};
use kube::{Api, Client};
use kube_lease_manager::LeaseManagerBuilder;
use tracing::{debug, error, info, warn};

use crate::crd::ApiSourceLink;
use crate::leadership::{FenceTiming, FencedRunner, Leadership, observe_lease};
use crate::metrics::Metrics;
use crate::reconcile::{self, Context, ReconcileSettings};
use crate::runner::LinkRunner;
use crate::scope::TenantScopes;
use crate::server::{self, Health};

/// Name under which events are reported and the controller is known.
pub const CONTROLLER_NAME: &str = "apilink-controller";

/// Leader election with a `coordination.k8s.io` Lease.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub lease_name: String,
    pub lease_namespace: String,
    /// Unique per replica: the pod name.
    pub identity: String,
    /// Seconds a lease stays valid after its last renewal.
    pub lease_duration_secs: u64,
    /// Seconds before expiry at which the holder renews. Half of it is the fencing margin:
    /// see [`crate::leadership::FenceTiming`].
    pub renew_grace_secs: u64,
}

/// How to run the controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Namespaces whose links are served; empty serves every namespace.
    pub namespaces: Vec<String>,
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub metrics_addr: SocketAddr,
    /// Links reconciled at once (per served namespace).
    pub concurrency: u16,
    /// `None` runs without leader election (one replica only).
    pub leader_election: Option<LeaderElection>,
    /// Reported as the events' instance (the pod name).
    pub instance: Option<String>,
    /// Longest wait for running reconciles on shutdown.
    pub shutdown_grace: Duration,
    /// Longest a single pass or cleanup may run.
    pub pass_timeout: Duration,
    /// Azure resources each namespace's links may read and write; default: any.
    pub tenant_scopes: TenantScopes,
    /// Run the read-only preflight checks before a link's first pass of a generation.
    pub preflight: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            metrics_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            concurrency: 4,
            leader_election: None,
            instance: None,
            shutdown_grace: Duration::from_secs(25),
            pass_timeout: crate::reconcile::DEFAULT_PASS_TIMEOUT,
            tenant_scopes: TenantScopes::unrestricted(),
            preflight: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no Kubernetes client configuration (kubeconfig or in-cluster): {0}")]
    Client(#[source] kube::Error),
    #[error("serving probes and metrics on {addr}: {source}")]
    Server {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    #[error("the leader election task stopped")]
    LeaseTaskStopped,
}

/// A cloneable "stop now" future.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Resolves on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> Shutdown {
    async {
        let ctrl_c = tokio::signal::ctrl_c().map(|_| ());
        #[cfg(unix)]
        {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    futures::future::select(
                        ctrl_c.boxed(),
                        async move { term.recv().await }.boxed(),
                    )
                    .await;
                }
                Err(err) => {
                    warn!(error = %err, "cannot listen for SIGTERM; Ctrl-C only");
                    ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        ctrl_c.await;
        info!("shutdown requested");
    }
    .boxed()
    .shared()
}

/// Runs the controller with the default client (kubeconfig, else in-cluster) until
/// SIGTERM or Ctrl-C. `metrics` is created by the caller so the runner can feed it too
/// (its `azure_response` and `azure_throttle_wait` take what the Azure client reports).
pub async fn run_controller<R: LinkRunner>(
    config: ControllerConfig,
    metrics: Metrics,
    runner: R,
) -> Result<(), RunError> {
    let client = Client::try_default().await.map_err(RunError::Client)?;
    run_with_client(
        client,
        config,
        metrics,
        Arc::new(runner),
        shutdown_on_signal(),
    )
    .await
}

/// Runs the controller on `client` until `shutdown` resolves.
pub async fn run_with_client<R: LinkRunner>(
    client: Client,
    config: ControllerConfig,
    metrics: Metrics,
    runner: Arc<R>,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let health = Arc::new(Health::default());
    let (bound, server_task) = server::spawn(
        config.metrics_addr,
        metrics.clone(),
        health.clone(),
        shutdown.clone(),
    )
    .await
    .map_err(|source| RunError::Server {
        addr: config.metrics_addr,
        source,
    })?;
    info!(addr = %bound, "serving /healthz, /readyz and /metrics");
    metrics.set_max_concurrent_reconciles(config.concurrency);

    let result = match config.leader_election.clone() {
        None => {
            metrics.set_leader(true);
            run_controllers(
                &client,
                &config,
                &metrics,
                &runner,
                &health,
                shutdown.clone(),
            )
            .await;
            Ok(())
        }
        Some(election) => {
            run_as_candidate(
                &client,
                &config,
                &metrics,
                &runner,
                &health,
                &election,
                shutdown.clone(),
            )
            .await
        }
    };
    metrics.set_leader(false);
    health.set_ready(false);
    match tokio::time::timeout(Duration::from_secs(5), server_task).await {
        Ok(Ok(Err(err))) => warn!(error = %err, "probe server ended with an error"),
        Ok(Err(err)) => warn!(error = %err, "probe server task failed"),
        Err(_) => warn!("probe server did not stop in time"),
        Ok(Ok(Ok(()))) => {}
    }
    result
}

async fn run_as_candidate<R: LinkRunner>(
    client: &Client,
    config: &ControllerConfig,
    metrics: &Metrics,
    runner: &Arc<R>,
    health: &Arc<Health>,
    election: &LeaderElection,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let leadership = Leadership::new(FenceTiming::new(
        Duration::from_secs(election.lease_duration_secs),
        Duration::from_secs(election.renew_grace_secs),
    ));
    // The lease manager keeps "leading" while the API server is out of reach, so the
    // runner is fenced by the renewals the API server confirmed (see `leadership`).
    let lease_client = observe_lease(
        client.clone(),
        &leadership,
        &election.lease_namespace,
        &election.lease_name,
        &election.identity,
    );
    let fenced = Arc::new(FencedRunner::new(runner.clone(), leadership.clone()));
    let manager = LeaseManagerBuilder::new(lease_client, &election.lease_name)
        .with_namespace(&election.lease_namespace)
        .with_identity(&election.identity)
        .with_duration(election.lease_duration_secs)
        .with_grace(election.renew_grace_secs)
        .build()
        .await?;
    let (mut leading, lease_task) = manager.watch().await;
    info!(lease = %election.lease_name, identity = %election.identity, "waiting for the leader lease");
    // A standby replica is healthy and ready to take over; rollouts must not wait on it.
    health.set_ready(true);
    let outcome = loop {
        tokio::select! {
            _ = shutdown.clone() => break Ok(()),
            changed = leading.wait_for(|leader| *leader) => {
                if changed.is_err() {
                    break Err(RunError::LeaseTaskStopped);
                }
            }
        }
        info!(fence_window = ?leadership.timing().window(), "leader lease acquired: starting controllers");
        metrics.set_leader(true);
        let mut lost_rx = leading.clone();
        let lost = async move { lost_rx.wait_for(|leader| !*leader).await.map(|_| ()) };
        let ended = tokio::select! {
            _ = run_controllers(client, config, metrics, &fenced, health, shutdown.clone()) => true,
            // Dropping the controllers cancels every reconcile at its next await: no
            // write happens after the lease is gone.
            _ = lost => false,
        };
        leadership.revoke();
        metrics.set_leader(false);
        metrics.forget_all_links();
        if ended {
            break Ok(());
        }
        warn!("leader lease lost: controllers stopped; standing by");
        health.set_ready(true);
    };
    // Closing the channel makes the lease task release the lease for a quick hand-over.
    drop(leading);
    match tokio::time::timeout(Duration::from_secs(5), lease_task).await {
        Ok(Ok(Ok(_))) => info!("leader lease released"),
        Ok(Ok(Err(err))) => warn!(error = %err, "releasing the leader lease failed"),
        Ok(Err(err)) => warn!(error = %err, "leader election task failed"),
        Err(_) => warn!("leader lease not released in time; it expires by itself"),
    }
    outcome
}

/// Runs one kube `Controller` per served namespace (one for all when none are listed)
/// until `shutdown`; returns when all have drained.
async fn run_controllers<R: LinkRunner>(
    client: &Client,
    config: &ControllerConfig,
    metrics: &Metrics,
    runner: &Arc<R>,
    health: &Arc<Health>,
    shutdown: Shutdown,
) {
    health.set_ready(false);
    let allowed: Option<BTreeSet<String>> =
        (!config.namespaces.is_empty()).then(|| config.namespaces.iter().cloned().collect());
    let ctx = context(client, config, metrics, runner, allowed.clone());
    let scopes: Vec<Option<String>> = match &allowed {
        None => vec![None],
        Some(set) => set.iter().cloned().map(Some).collect(),
    };
    let mut stores = Vec::new();
    let mut runs = Vec::new();
    for scope in scopes {
        let links: Api<ApiSourceLink> = match &scope {
            None => Api::all(client.clone()),
            Some(ns) => Api::namespaced(client.clone(), ns),
        };
        let controller = Controller::new(links, watcher::Config::default());
        stores.push(controller.store());
        let run = controller
            .with_config(RuntimeConfig::default().concurrency(config.concurrency))
            .graceful_shutdown_on(shutdown.clone())
            .run(reconcile::reconcile, reconcile::error_policy, ctx.clone())
            .for_each(|result| async move {
                match result {
                    Ok((link, _)) => debug!(link = %link, "reconciled"),
                    Err(err) => warn!(error = %err, "reconcile error"),
                }
            });
        runs.push(run.boxed());
        info!(
            namespace = scope.as_deref().unwrap_or("<all>"),
            "controller started"
        );
    }
    let caches = ready_when_synced(stores, health.clone());
    let drained = stream::iter(runs).for_each_concurrent(None, |run| run);
    let grace = config.shutdown_grace;
    let forced = async move {
        shutdown.await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        _ = drained => info!("controllers stopped"),
        _ = caches => {}
        _ = forced => warn!(grace = ?grace, "reconciles still running after the shutdown grace; cancelling them"),
    }
}

/// The state the reconciles of all served namespaces share.
fn context<R: LinkRunner>(
    client: &Client,
    config: &ControllerConfig,
    metrics: &Metrics,
    runner: &Arc<R>,
    allowed_namespaces: Option<BTreeSet<String>>,
) -> Arc<Context<R>> {
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: CONTROLLER_NAME.to_string(),
            instance: config.instance.clone(),
        },
    );
    Arc::new(Context::new(
        client.clone(),
        runner.clone(),
        metrics.clone(),
        recorder,
        ReconcileSettings {
            allowed_namespaces,
            pass_timeout: config.pass_timeout,
            tenant_scopes: config.tenant_scopes.clone(),
            preflight: config.preflight,
            ..ReconcileSettings::default()
        },
    ))
}

/// Turns `/readyz` ready once every link cache has synced, then never finishes.
async fn ready_when_synced(stores: Vec<Store<ApiSourceLink>>, health: Arc<Health>) {
    for store in &stores {
        if store.wait_until_ready().await.is_err() {
            error!("a link cache was dropped before it synced");
            return;
        }
    }
    info!("caches synced");
    health.set_ready(true);
    futures::future::pending::<()>().await;
}
