//! One scenario: a fresh namespace on the shared cluster, a directory for its logs and
//! manifests, helpers to drive links with kubectl and to read them back, and, when it
//! fails, the tails of every log and the links as the API server holds them.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

use crate::cluster::{self, Availability, Cluster};
use crate::command::Cmd;
use crate::controller::{self, Controller, Install, InstallOptions};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::{Error, Result};
use crate::link::{self, LinkManifest, SECRET};
use crate::paths;
use crate::process::log_tail;
use crate::wait::{Probe, eventually};

/// One scenario at a time per test process.
static SERIAL: Mutex<()> = Mutex::new(());

/// Lines of each log printed when a scenario fails.
const TAIL_LINES: usize = 60;

/// A scenario's context.
pub struct Scenario {
    pub name: String,
    /// The scenario's namespace (links, Secret, controller, Lease).
    pub ns: String,
    /// Logs, seeds, rendered manifests, kubeconfigs.
    pub dir: PathBuf,
    pub cluster: &'static Cluster,
    /// A client as the cluster admin, for set-up and assertions.
    pub admin: kube::Client,
    namespaces: Vec<String>,
}

/// Runs scenario `name`: a fresh namespace, `body`, and on failure a dump of everything a
/// person needs. Skips (passing, with a notice) when no control plane can be had here.
pub fn run<F>(name: &str, body: F)
where
    F: for<'a> AsyncFnOnce(&'a mut Scenario) -> Result<()>,
{
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if paths::skip_requested() {
        eprintln!("[e2e] SKIPPED {name}: APILINK_E2E_SKIP is set");
        return;
    }
    // Scenarios measure time (convergence, take-over); on a 2-core machine they must not
    // compete with each other, whatever --test-threads says.
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cluster = match cluster::cluster() {
        Ok(Availability::Ready(cluster)) => cluster,
        Ok(Availability::Skip(why)) => {
            eprintln!("[e2e] SKIPPED {name}: {why} (see tests/e2e/README.md)");
            return;
        }
        Err(e) => panic!("[e2e] {name}: {e}"),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("[e2e] {name}: no tokio runtime: {e}"),
    };
    let started = Instant::now();
    eprintln!("[e2e] {name}: starting");
    let mut scenario = match runtime.block_on(Scenario::new(cluster, name)) {
        Ok(s) => s,
        Err(e) => panic!("[e2e] {name}: setting up: {e}"),
    };
    let result = runtime.block_on(body(&mut scenario));
    match result {
        Ok(()) => eprintln!(
            "[e2e] {name}: passed in {:.1}s (logs: {})",
            started.elapsed().as_secs_f64(),
            scenario.dir.display()
        ),
        // The panic makes `Scenario::drop` print the logs' tails and the links.
        Err(e) => panic!(
            "[e2e] {name}: FAILED after {:.1}s: {e}",
            started.elapsed().as_secs_f64()
        ),
    }
}

fn dns_label(name: &str) -> String {
    let label: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let label = label.trim_matches('-');
    label
        .chars()
        .take(40)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// The `ApiSourceLink` kind for dynamic clients.
pub fn link_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apilink.dev", "v1alpha1", "ApiSourceLink"),
        "apisourcelinks",
    )
}

impl Scenario {
    async fn new(cluster: &'static Cluster, name: &str) -> Result<Self> {
        let dir = cluster.run_dir.join(name);
        std::fs::create_dir_all(&dir).map_err(Error::io_path("creating", &dir))?;
        let admin = cluster.admin_client().await?;
        let mut scenario = Self {
            name: name.to_string(),
            ns: dns_label(&format!("e2e-{name}")),
            dir,
            cluster,
            admin,
            namespaces: Vec::new(),
        };
        let ns = scenario.ns.clone();
        scenario.create_namespace(&ns).await?;
        Ok(scenario)
    }

    /// Creates a namespace (deleted never: a bare apiserver cannot finish that).
    pub async fn create_namespace(&mut self, name: &str) -> Result<()> {
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))
            .map_err(|e| Error::Setup(format!("namespace object: {e}")))?;
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .map_err(Error::kube(format!("creating namespace {name}")))?;
        self.namespaces.push(name.to_string());
        Ok(())
    }

    /// `kubectl` as the admin.
    pub fn kubectl(&self) -> Cmd {
        self.cluster.kubectl()
    }

    pub async fn start_emulator(&self, options: &EmulatorOptions) -> Result<Emulator> {
        Emulator::start(self.cluster, &self.dir, "emulator", options).await
    }

    /// The `azure-creds` Secret with the emulator's service principal, in `namespace`.
    pub async fn create_credentials(&self, namespace: &str, emulator: &Emulator) -> Result<()> {
        let secrets: Api<Secret> = Api::namespaced(self.admin.clone(), namespace);
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": SECRET},
            "stringData": {
                "AZURE_TENANT_ID": emulator.tenant_id,
                "AZURE_CLIENT_ID": emulator.client_id,
                "AZURE_CLIENT_SECRET": emulator.client_secret,
            },
        }))
        .map_err(|e| Error::Setup(format!("secret object: {e}")))?;
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .map_err(Error::kube(format!("creating Secret {namespace}/{SECRET}")))?;
        Ok(())
    }

    /// Installs the chart's ServiceAccount and RBAC in the scenario's namespace (release
    /// named after it) and gets the ServiceAccount's token.
    pub async fn install(&self, emulator: &Emulator, options: &InstallOptions) -> Result<Install> {
        let install = controller::install(
            self.cluster,
            &self.admin,
            &self.dir,
            &self.ns,
            &self.ns,
            emulator,
            options,
        )
        .await?;
        eprintln!(
            "[e2e] {}: chart RBAC applied: {}",
            self.name,
            install.rbac_objects.join(", ")
        );
        Ok(install)
    }

    /// Starts a controller replica as the chart's ServiceAccount.
    pub async fn start_controller(
        &self,
        install: &Install,
        emulator: &Emulator,
        replica: &str,
    ) -> Result<Controller> {
        Controller::start(self.cluster, install, emulator, &self.dir, replica).await
    }

    /// The usual set-up: emulator, credentials Secret, chart RBAC, one controller.
    pub async fn standard(
        &self,
        emulator: EmulatorOptions,
        install: InstallOptions,
    ) -> Result<(Emulator, Install, Controller)> {
        let emulator = self.start_emulator(&emulator).await?;
        self.create_credentials(&self.ns, &emulator).await?;
        let install = self.install(&emulator, &install).await?;
        let controller = self
            .start_controller(&install, &emulator, "apilink-0")
            .await?;
        Ok((emulator, install, controller))
    }

    /// `kubectl apply -f -` of a link manifest, as a person or a GitOps tool would.
    pub async fn apply_link(&self, link: &LinkManifest) -> Result<()> {
        let path = self
            .dir
            .join(format!("link-{}-{}.yaml", link.namespace, link.name));
        let yaml = link.yaml();
        std::fs::write(&path, &yaml).map_err(Error::io_path("writing", &path))?;
        self.kubectl()
            .args(["apply", "-f", "-"])
            .stdin(yaml)
            .run_ok()
            .await?;
        Ok(())
    }

    fn links(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.admin.clone(), namespace, &link_resource())
    }

    /// The link as JSON, or `None` when it does not exist (any more).
    pub async fn link_in(&self, namespace: &str, name: &str) -> Result<Option<Value>> {
        let found = self
            .links(namespace)
            .get_opt(name)
            .await
            .map_err(Error::kube(format!(
                "reading ApiSourceLink {namespace}/{name}"
            )))?;
        found
            .map(|o| serde_json::to_value(o).map_err(|e| Error::Setup(format!("link JSON: {e}"))))
            .transpose()
    }

    /// The link in the scenario's namespace; it must exist.
    pub async fn link(&self, name: &str) -> Result<Value> {
        self.link_in(&self.ns, name)
            .await?
            .ok_or_else(|| Error::Check(format!("ApiSourceLink {}/{name} does not exist", self.ns)))
    }

    /// Waits until `pred` holds for the link in the scenario's namespace.
    pub async fn wait_link(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let ns = self.ns.clone();
        eventually(&format!("{ns}/{name}: {what}"), timeout, || async {
            self.ensure_no_rbac_denial()?;
            Ok(match self.link_in(&ns, name).await? {
                Some(link) if pred(&link) => Probe::Done(link),
                Some(link) => Probe::NotYet(link::describe(&link)),
                None => Probe::NotYet("the link does not exist".to_string()),
            })
        })
        .await
    }

    /// Waits until the link no longer exists.
    pub async fn wait_gone(&self, name: &str, timeout: Duration) -> Result<()> {
        let ns = self.ns.clone();
        eventually(&format!("{ns}/{name} to disappear"), timeout, || async {
            Ok(match self.link_in(&ns, name).await? {
                None => Probe::Done(()),
                Some(link) => Probe::NotYet(link::describe(&link)),
            })
        })
        .await
    }

    /// `kubectl wait --for=condition=Ready`, then checks the status is for the current
    /// generation with no `Reconciling`/`Stalled`.
    pub async fn kubectl_wait_ready(&self, name: &str, timeout: Duration) -> Result<Value> {
        // Poll first (failing fast on an RBAC denial), then let kubectl confirm.
        self.wait_link(name, "Ready=True", timeout, |l| {
            link::condition_status(l, "Ready") == Some("True")
        })
        .await?;
        let output = self
            .kubectl()
            .args([
                "wait",
                "-n",
                &self.ns,
                "--for=condition=Ready",
                &format!("--timeout={}s", timeout.as_secs()),
                &format!("apisourcelink/{name}"),
            ])
            .timeout(timeout + Duration::from_secs(30))
            .run()
            .await?;
        if !output.status.success() {
            let seen = match self.link_in(&self.ns, name).await? {
                Some(link) => link::describe(&link),
                None => "the link does not exist".to_string(),
            };
            return Err(Error::Check(format!(
                "kubectl wait --for=condition=Ready failed: {}; link: {seen}",
                crate::command::combined(&output).trim()
            )));
        }
        // kubectl reads Ready alone; the rest of kstatus must agree within moments.
        self.wait_link(
            name,
            "Ready for the current generation",
            Duration::from_secs(15),
            link::is_ready,
        )
        .await
    }

    /// Fails when a controller of this scenario was refused by the API server's RBAC:
    /// the chart lacks a rule the controller needs.
    pub fn ensure_no_rbac_denial(&self) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(());
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let is_controller_log = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("controller-") && n.ends_with(".log"));
            if !is_controller_log {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(line) = text
                .lines()
                .find(|l| l.contains("is forbidden: User \"system:serviceaccount:"))
            {
                return Err(Error::Check(format!(
                    "the API server denied the controller (a missing RBAC rule in the chart?), {}: {}",
                    path.display(),
                    line.chars().take(600).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    /// `kubectl annotate` with Flux's request annotation.
    pub async fn request_reconcile(&self, name: &str, token: &str) -> Result<()> {
        self.kubectl()
            .args([
                "annotate",
                "-n",
                &self.ns,
                "--overwrite",
                &format!("apisourcelink/{name}"),
                &format!("reconcile.fluxcd.io/requestedAt={token}"),
            ])
            .run_ok()
            .await
            .map(|_| ())
    }

    /// `kubectl patch --type=merge` of the link's spec.
    pub async fn patch_spec(&self, name: &str, spec: Value) -> Result<()> {
        self.kubectl()
            .args([
                "patch",
                "-n",
                &self.ns,
                &format!("apisourcelink/{name}"),
                "--type=merge",
                "-p",
                &json!({"spec": spec}).to_string(),
            ])
            .run_ok()
            .await
            .map(|_| ())
    }

    /// `kubectl delete`; with `wait`, kubectl waits (bounded) until the object is gone.
    pub async fn delete_link(&self, name: &str, wait: Option<Duration>) -> Result<()> {
        let mut cmd =
            self.kubectl()
                .args(["delete", "-n", &self.ns, &format!("apisourcelink/{name}")]);
        cmd = match wait {
            Some(timeout) => cmd
                .arg(format!("--timeout={}s", timeout.as_secs()))
                .timeout(timeout + Duration::from_secs(30)),
            None => cmd.arg("--wait=false"),
        };
        let output = cmd.run().await?;
        if output.status.success() {
            return Ok(());
        }
        let seen = match self.link_in(&self.ns, name).await? {
            Some(link) => link::describe(&link),
            None => "gone".to_string(),
        };
        Err(Error::Check(format!(
            "kubectl delete apisourcelink/{name} failed: {}; link: {seen}",
            crate::command::combined(&output).trim()
        )))
    }

    /// Holder of the controller's Lease in the scenario's namespace, if any.
    pub async fn lease_holder(&self, lease: &str) -> Result<Option<String>> {
        let leases: Api<Lease> = Api::namespaced(self.admin.clone(), &self.ns);
        Ok(leases
            .get_opt(lease)
            .await
            .map_err(Error::kube(format!("reading Lease {}/{lease}", self.ns)))?
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity))
    }

    fn dump(&self) {
        eprintln!(
            "\n======== e2e scenario {} failed; its directory: {}",
            self.name,
            self.dir.display()
        );
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "log"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        for log in logs {
            eprintln!("-------- last {TAIL_LINES} lines of {}", log.display());
            eprintln!("{}", log_tail(&log, TAIL_LINES));
        }
        for ns in &self.namespaces {
            for what in [
                vec!["get", "apisourcelinks", "-o", "yaml"],
                vec!["get", "events", "--sort-by=.metadata.creationTimestamp"],
                vec!["get", "leases", "-o", "wide"],
            ] {
                let output = self.kubectl().args(["-n", ns]).args(&what).run_blocking();
                eprintln!("-------- kubectl -n {ns} {}", what.join(" "));
                match output {
                    Ok(o) => eprintln!("{}", crate::command::combined(&o).trim_end()),
                    Err(e) => eprintln!("<{e}>"),
                }
            }
        }
        eprintln!("======== end of scenario {}\n", self.name);
    }

    /// Links left behind would be picked up by later cluster-wide controllers: remove
    /// their finalizers and delete them (the namespaces stay; see the README).
    fn remove_links(&self) {
        for ns in &self.namespaces {
            let Ok(listed) = self
                .kubectl()
                .args(["-n", ns, "get", "apisourcelinks", "-o", "name"])
                .run_blocking()
            else {
                continue;
            };
            for name in String::from_utf8_lossy(&listed.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
            {
                let _ = self
                    .kubectl()
                    .args([
                        "-n",
                        ns,
                        "patch",
                        name,
                        "--type=merge",
                        "-p",
                        r#"{"metadata":{"finalizers":null}}"#,
                    ])
                    .run_blocking();
                let _ = self
                    .kubectl()
                    .args([
                        "-n",
                        ns,
                        "delete",
                        name,
                        "--wait=false",
                        "--ignore-not-found",
                    ])
                    .run_blocking();
            }
        }
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump();
        }
        self.remove_links();
    }
}
