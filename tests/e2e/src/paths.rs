//! Where things are: the repository, this run's work directory, the `apilink` binary and
//! the control-plane binaries (found from the environment, else built).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::command::{self, Cmd};
use crate::error::{Error, Result};

/// Runs kept under `tests/e2e/.work/runs` besides the current one.
const KEPT_RUNS: usize = 5;
/// Longest a cold `cargo build -p apilink` may take on a loaded 2-core machine.
const CARGO_BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Longest a cold control-plane build may take (measured: 5–9 min, plus lock waits).
const CONTROL_PLANE_BUILD_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// The repository root (this crate lives in `tests/e2e`). `cargo test` gives the test
/// process the crate's directory at run time; the one compiled in is only a fallback,
/// since a test binary built from a clone at another path can be reused from a shared
/// target directory.
pub fn repo_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.join("../.."))
}

/// `tests/e2e/.work` (git-ignored).
pub fn work_root() -> PathBuf {
    repo_root().join("tests/e2e/.work")
}

/// This test process's directory: logs of every process, rendered manifests, kubeconfigs.
/// Older runs are pruned so the directory does not grow without bound.
pub fn run_dir() -> Result<&'static Path> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| make_run_dir().map_err(|e| e.to_string()))
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(|e| Error::Setup(e.clone()))
}

fn make_run_dir() -> Result<PathBuf> {
    let runs = work_root().join("runs");
    std::fs::create_dir_all(&runs).map_err(Error::io_path("creating", &runs))?;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let dir = runs.join(format!("{secs:012}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(Error::io_path("creating", &dir))?;
    prune_runs(&runs, &dir);
    Ok(dir)
}

fn prune_runs(runs: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    let mut old: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p != current)
        .collect();
    old.sort();
    let excess = old.len().saturating_sub(KEPT_RUNS);
    for dir in old.into_iter().take(excess) {
        // A run whose cluster is still up keeps its state dir; leave such a run alone.
        if dir.join("cluster").exists() {
            continue;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| executable(&dir.join(program)))
    })
}

/// The `apilink` binary: `APILINK_BIN`, else `cargo build -p apilink` (a no-op when it is
/// up to date) and the executable cargo reports, wherever the target dir is.
pub fn apilink_bin() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("APILINK_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        if !executable(&bin) {
            return Err(Error::Setup(format!(
                "APILINK_BIN={} is not an executable file",
                bin.display()
            )));
        }
        return Ok(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Cmd::new(cargo)
        .args([
            "build",
            "-p",
            "apilink",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(repo_root())
        .inherit_stderr()
        .timeout(CARGO_BUILD_TIMEOUT);
    // `cargo test` gives the test process the variables of the package under test; some
    // build scripts (ring, aws-lc-sys) declare `rerun-if-env-changed` on them, so passing
    // them on would rebuild those crates here and again at the next `cargo test`.
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || matches!(
                name.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            )
        {
            build = build.env_remove(&key);
        }
    }
    let output = build.run_blocking()?;
    command::ensure_success(&output, "cargo build -p apilink")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "apilink")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| {
            Error::Setup("cargo build -p apilink reported no apilink executable".to_string())
        })
}

/// The control plane's binaries, or why the suite cannot get them on this machine.
#[derive(Debug, Clone)]
pub enum ControlPlane {
    Ready(PathBuf),
    Unavailable(String),
}

/// `APILINK_CONTROL_PLANE_BIN`, else `tests/e2e/control-plane/build.sh` (cached; cold
/// builds take minutes). Without Go the binaries cannot be built: `Unavailable`.
pub fn control_plane_bin() -> Result<ControlPlane> {
    let needed = ["etcd", "kube-apiserver", "kubectl", "helm"];
    let check = |dir: PathBuf| -> Result<ControlPlane> {
        for b in needed {
            if !executable(&dir.join(b)) {
                return Err(Error::Setup(format!(
                    "{} has no executable {b}; run tests/e2e/control-plane/build.sh",
                    dir.display()
                )));
            }
        }
        Ok(ControlPlane::Ready(dir))
    };
    if let Some(dir) = std::env::var_os("APILINK_CONTROL_PLANE_BIN").filter(|v| !v.is_empty()) {
        return check(PathBuf::from(dir));
    }
    if !on_path("go") {
        return Ok(ControlPlane::Unavailable(
            "APILINK_CONTROL_PLANE_BIN is unset and Go is not on PATH, so \
             tests/e2e/control-plane/build.sh cannot build kube-apiserver"
                .to_string(),
        ));
    }
    let script = repo_root().join("tests/e2e/control-plane/build.sh");
    eprintln!(
        "[e2e] building or reusing the control plane: {}",
        script.display()
    );
    let output = Cmd::new("bash")
        .arg(&script)
        .inherit_stderr()
        .timeout(CONTROL_PLANE_BUILD_TIMEOUT)
        .run_blocking()?;
    command::ensure_success(&output, "tests/e2e/control-plane/build.sh")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or_else(|| Error::Setup("build.sh printed no bin dir".to_string()))?;
    check(PathBuf::from(dir))
}

/// True when a missing control plane must fail the suite instead of skipping it
/// (`tests/e2e/run.sh` and CI set `APILINK_E2E_REQUIRED=1`).
pub fn e2e_required() -> bool {
    std::env::var("APILINK_E2E_REQUIRED").is_ok_and(|v| v == "1" || v == "true")
}

/// `APILINK_E2E_SKIP=1` skips every scenario (e.g. `cargo test --workspace` on a machine
/// where building the control plane is not wanted).
pub fn skip_requested() -> bool {
    std::env::var("APILINK_E2E_SKIP").is_ok_and(|v| v == "1" || v == "true")
}

/// `setpriv` (util-linux) when present: children get SIGKILL when the test thread that
/// started them ends, so a killed test run leaves no process behind.
pub fn setpriv() -> Option<PathBuf> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let paths = std::env::var_os("PATH")?;
            std::env::split_paths(&paths)
                .map(|d| d.join("setpriv"))
                .find(|p| executable(p))
        })
        .clone()
}
