//! The one control plane of a test process: started on first use, shared by every
//! scenario of the process, stopped when the process ends (see `cluster-guard.sh`), with
//! the `ApiSourceLink` CRD from `apilink crd` installed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::command::Cmd;
use crate::error::{Error, Result};
use crate::paths::{self, ControlPlane};
use crate::process::log_tail;

/// Start-up of etcd and the apiserver with cached binaries takes 3–5 s; this leaves room
/// for a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// Name of the CRD installed from `apilink crd`.
pub const CRD_NAME: &str = "apisourcelinks.apilink.dev";
/// Field manager of everything the harness applies.
pub const FIELD_MANAGER: &str = "apilink-e2e";

/// A running control plane and the binaries the scenarios use.
pub struct Cluster {
    /// etcd, kube-apiserver, kubectl and helm.
    pub bin: PathBuf,
    /// The `apilink` binary under test.
    pub apilink: PathBuf,
    /// The admin kubeconfig (static token in `system:masters`).
    pub kubeconfig: PathBuf,
    pub apiserver_url: String,
    /// CA of the apiserver's serving certificate.
    pub ca_file: PathBuf,
    /// `v1.34.3`.
    pub kube_version: String,
    /// This test process's work directory.
    pub run_dir: PathBuf,
    /// The guard process and the write end of its stdin; never closed by the harness:
    /// the kernel closes it when the process exits, and the guard then stops the cluster.
    _guard: Mutex<(Child, ChildStdin)>,
}

/// Whether the suite can run on this machine.
pub enum Availability {
    Ready(&'static Cluster),
    /// No control plane can be had here (and `APILINK_E2E_REQUIRED` is not set).
    Skip(String),
}

enum State {
    Up(Cluster),
    Unavailable(String),
}

static CLUSTER: OnceLock<std::result::Result<State, String>> = OnceLock::new();

/// The process's cluster, started on the first call. A failed start is remembered, so
/// later scenarios fail at once with the same message.
pub fn cluster() -> Result<Availability> {
    let state = CLUSTER.get_or_init(|| start().map_err(|e| e.to_string()));
    match state {
        Ok(State::Up(cluster)) => Ok(Availability::Ready(cluster)),
        Ok(State::Unavailable(why)) => Ok(Availability::Skip(why.clone())),
        Err(message) => Err(Error::Setup(format!(
            "the e2e cluster did not start: {message}"
        ))),
    }
}

fn start() -> Result<State> {
    let bin = match paths::control_plane_bin()? {
        ControlPlane::Ready(bin) => bin,
        ControlPlane::Unavailable(why) if !paths::e2e_required() => {
            return Ok(State::Unavailable(why));
        }
        ControlPlane::Unavailable(why) => {
            return Err(Error::Setup(format!("{why} (APILINK_E2E_REQUIRED is set)")));
        }
    };
    let apilink = paths::apilink_bin()?;
    let run_dir = paths::run_dir()?.to_path_buf();
    eprintln!(
        "[e2e] run directory {}; apilink {}; control plane {}",
        run_dir.display(),
        apilink.display(),
        bin.display()
    );
    let mut guard = StartingGuard::spawn(&bin, &run_dir)?;
    let env_file = guard.wait_ready()?;
    let env = read_env_file(&env_file)?;
    let get = |key: &str| {
        env.get(key)
            .cloned()
            .ok_or_else(|| Error::Setup(format!("{} has no {key}", env_file.display())))
    };
    let cluster = Cluster {
        bin,
        apilink,
        kubeconfig: PathBuf::from(get("KUBECONFIG")?),
        apiserver_url: get("APILINK_APISERVER_URL")?,
        ca_file: PathBuf::from(get("APILINK_CA_FILE")?),
        kube_version: get("APILINK_KUBE_VERSION")?,
        run_dir,
        _guard: Mutex::new((guard.child, guard.stdin)),
    };
    eprintln!(
        "[e2e] control plane up in {:.1}s at {}",
        guard.started.elapsed().as_secs_f64(),
        cluster.apiserver_url
    );
    cluster.install_crd()?;
    Ok(State::Up(cluster))
}

/// `cluster-guard.sh` while it brings the control plane up.
struct StartingGuard {
    child: Child,
    stdin: ChildStdin,
    /// The guard's stdout, line by line.
    lines: mpsc::Receiver<String>,
    /// The guard's stderr, where the control plane's start-up is told.
    log: PathBuf,
    started: Instant,
}

impl StartingGuard {
    fn spawn(bin: &Path, run_dir: &Path) -> Result<Self> {
        let state_dir = run_dir.join("cluster");
        let log = run_dir.join("cluster.log");
        let log_file = std::fs::File::create(&log).map_err(Error::io_path("creating", &log))?;
        let script = paths::repo_root().join("tests/e2e/cluster-guard.sh");
        let started = Instant::now();
        let mut child = Command::new("bash")
            .arg(&script)
            .env("APILINK_CLUSTER_DIR", &state_dir)
            .env("APILINK_CONTROL_PLANE_BIN", bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(Error::io(format!("starting {}", script.display())))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| Error::Setup("the cluster guard has no stdin pipe".to_string()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Setup("the cluster guard has no stdout pipe".to_string()))?;
        Ok(Self {
            child,
            stdin,
            lines: read_lines(stdout),
            log,
            started,
        })
    }

    /// Waits for the guard's `READY {env file}` line; returns the env file.
    fn wait_ready(&mut self) -> Result<PathBuf> {
        loop {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(path) = line.strip_prefix("READY ") {
                        return Ok(PathBuf::from(path.trim()));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = self.child.wait();
                    return Err(Error::Setup(format!(
                        "the control plane did not start; {}:\n{}",
                        self.log.display(),
                        log_tail(&self.log, 40)
                    )));
                }
                Err(mpsc::RecvTimeoutError::Timeout) if self.started.elapsed() > START_TIMEOUT => {
                    let _ = self.child.kill();
                    return Err(Error::Timeout {
                        what: "the control plane to start".to_string(),
                        secs: START_TIMEOUT.as_secs_f64(),
                        last: log_tail(&self.log, 40),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

/// The lines of `stdout`, read on a thread so the reader can wait with a timeout.
fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads `export KEY=VALUE` lines as written by `control-plane/lib.sh` (`printf %q`).
fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(Error::io_path("reading", path))?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), unquote(v)))
        .collect())
}

/// Undoes bash's `%q` for the plain values lib.sh writes (paths, URLs, numbers).
fn unquote(value: &str) -> String {
    if let Some(inner) = value
        .strip_prefix("$'")
        .or_else(|| value.strip_prefix('\''))
        .and_then(|v| v.strip_suffix('\''))
    {
        return inner.to_string();
    }
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Cluster {
    /// `kubectl` as the cluster admin, with a request timeout.
    pub fn kubectl(&self) -> Cmd {
        self.kubectl_with(&self.kubeconfig)
    }

    /// `kubectl` with another kubeconfig (e.g. the controller's ServiceAccount).
    pub fn kubectl_with(&self, kubeconfig: &Path) -> Cmd {
        Cmd::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--request-timeout=30s")
            .timeout(Duration::from_secs(90))
    }

    pub fn helm(&self) -> Cmd {
        Cmd::new(self.bin.join("helm"))
            .env("HELM_CACHE_HOME", self.run_dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.run_dir.join("helm/config"))
            .env("HELM_DATA_HOME", self.run_dir.join("helm/data"))
    }

    pub fn apilink(&self) -> Cmd {
        Cmd::new(&self.apilink)
    }

    /// A client as the cluster admin, for setting up and for assertions.
    pub async fn admin_client(&self) -> Result<kube::Client> {
        client_from_kubeconfig(&self.kubeconfig).await
    }

    fn install_crd(&self) -> Result<()> {
        let crd = self.apilink().arg("crd").run_blocking()?;
        crate::command::ensure_success(&crd, "apilink crd")?;
        let apply = self
            .kubectl()
            .args([
                "apply",
                "--server-side",
                "--field-manager",
                FIELD_MANAGER,
                "-f",
                "-",
            ])
            .stdin(crd.stdout)
            .run_blocking()?;
        crate::command::ensure_success(&apply, "kubectl apply (the CRD from apilink crd)")?;
        let wait = self
            .kubectl()
            .args([
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                &format!("crd/{CRD_NAME}"),
            ])
            .run_blocking()?;
        crate::command::ensure_success(&wait, "kubectl wait for the CRD")?;
        // Discovery trails Established by a moment; kubectl must know the kind before
        // the first `kubectl apply` of a link.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let resources = self
                .kubectl()
                .args(["api-resources", "--api-group=apilink.dev", "-o", "name"])
                .run_blocking()?;
            if String::from_utf8_lossy(&resources.stdout)
                .lines()
                .any(|l| l.trim() == CRD_NAME)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: "the ApiSourceLink kind in discovery".to_string(),
                    secs: 30.0,
                    last: crate::command::combined(&resources),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A kube client from a kubeconfig file.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| Error::Setup(format!("reading kubeconfig {}: {e}", path.display())))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Setup(format!("kubeconfig {}: {e}", path.display())))?;
    kube::Client::try_from(config).map_err(Error::kube("building a client"))
}

#[cfg(test)]
mod tests {
    use super::unquote;

    #[test]
    fn unquotes_what_printf_q_writes() {
        assert_eq!(unquote("/tmp/a/b"), "/tmp/a/b");
        assert_eq!(unquote(r"/tmp/a\ b"), "/tmp/a b");
        assert_eq!(unquote("'x y'"), "x y");
        assert_eq!(unquote("https://127.0.0.1:1234"), "https://127.0.0.1:1234");
    }
}
