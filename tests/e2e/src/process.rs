//! Long-running processes of a scenario (emulators, controllers): started with a clean
//! environment and their output in a log file, stopped on drop, and killed by the kernel
//! if the test thread that started them dies.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::command::{Cmd, tail_text};
use crate::error::{Error, Result};
use crate::paths;

/// Variables passed through from the test's environment; everything else (a developer's
/// `AZURE_*`, `KUBECONFIG`, `RUST_LOG`…) is left out so runs are reproducible.
const PASSED_THROUGH: &[&str] = &["PATH", "HOME", "TMPDIR", "USER", "LANG", "RUST_BACKTRACE"];

/// How a process is asked to stop before it is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// What `Ctrl-C` sends (the emulator waits for it).
    Int,
    /// What Kubernetes sends a pod (the controller drains on it).
    Term,
}

impl StopSignal {
    fn flag(self) -> &'static str {
        match self {
            StopSignal::Int => "-INT",
            StopSignal::Term => "-TERM",
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub envs: Vec<(String, OsString)>,
    pub log: PathBuf,
    /// Pipe stdout through the harness (still copied to the log) so it can wait for lines.
    pub capture_stdout: bool,
    pub stop: StopSignal,
}

impl Spawn {
    pub fn new(name: &str, program: impl AsRef<Path>, log: impl AsRef<Path>) -> Self {
        Self {
            name: name.to_string(),
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
            log: log.as_ref().to_path_buf(),
            capture_stdout: false,
            stop: StopSignal::Term,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.envs.retain(|(k, _)| k != key);
        self.envs
            .push((key.to_string(), value.as_ref().to_os_string()));
        self
    }
}

/// A running process owned by a scenario.
pub struct ManagedProcess {
    name: String,
    child: Child,
    log: PathBuf,
    lines: Option<mpsc::Receiver<String>>,
    stop: StopSignal,
    exit: Option<ExitStatus>,
}

fn open_log(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io_path("creating", dir))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(Error::io_path("opening", path))
}

impl ManagedProcess {
    pub fn start(spec: Spawn) -> Result<Self> {
        let mut log = open_log(&spec.log)?;
        let _ = writeln!(
            log,
            "==== {} started by the e2e harness: {} {}",
            spec.name,
            spec.program.display(),
            spec.args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut command = match paths::setpriv() {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&spec.program);
                c
            }
            None => Command::new(&spec.program),
        };
        command.args(&spec.args).env_clear();
        for key in PASSED_THROUGH {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        // Log files, not terminals: no colour codes (tracing-subscriber honours NO_COLOR).
        command.env("NO_COLOR", "1");
        for (key, value) in &spec.envs {
            command.env(key, value);
        }
        let stderr = log
            .try_clone()
            .map_err(Error::io_path("duplicating", &spec.log))?;
        command.stdin(Stdio::null()).stderr(Stdio::from(stderr));
        if spec.capture_stdout {
            command.stdout(Stdio::piped());
        } else {
            let stdout = log
                .try_clone()
                .map_err(Error::io_path("duplicating", &spec.log))?;
            command.stdout(Stdio::from(stdout));
        }
        let mut child = command.spawn().map_err(|e| Error::Command {
            command: format!("{} ({})", spec.name, spec.program.display()),
            detail: format!("cannot start: {e}"),
        })?;
        let lines = match child.stdout.take() {
            Some(stdout) if spec.capture_stdout => {
                let (tx, rx) = mpsc::channel();
                let mut copy = log;
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        let _ = writeln!(copy, "{line}");
                        if tx.send(line).is_err() {
                            // Nobody listens any more; keep copying to the log.
                            continue;
                        }
                    }
                });
                Some(rx)
            }
            _ => None,
        };
        Ok(Self {
            name: spec.name,
            child,
            log: spec.log,
            lines,
            stop: spec.stop,
            exit: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The exit status once the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Fails with the log's tail when the process is no longer running.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.exited() {
            None => Ok(()),
            Some(status) => Err(Error::Command {
                command: self.name.clone(),
                detail: format!(
                    "exited unexpectedly ({status}); last lines of {}:\n{}",
                    self.log.display(),
                    self.log_tail(30)
                ),
            }),
        }
    }

    /// Waits for a stdout line matching `pred` (only with `capture_stdout`).
    pub fn wait_for_line(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let Some(lines) = &self.lines else {
                return Err(Error::Setup(format!(
                    "{}: stdout is not captured, cannot wait for {what}",
                    self.name
                )));
            };
            match lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if pred(&line) => return Ok(line),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => self.ensure_running()?,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    self.ensure_running()?;
                    return Err(Error::Command {
                        command: self.name.clone(),
                        detail: format!("closed stdout before printing {what}"),
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{} to print {what}", self.name),
                    secs: timeout.as_secs_f64(),
                    last: self.log_tail(20),
                });
            }
        }
    }

    /// SIGKILL, as a node failure or the OOM killer would: no cleanup, no lease release.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
        self.note("killed with SIGKILL by the harness");
    }

    /// Asks the process to stop (SIGTERM/SIGINT), then kills it after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        let _ = Cmd::new("kill")
            .args([self.stop.flag(), &self.pid().to_string()])
            .timeout(Duration::from_secs(5))
            .run_blocking();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                self.note("stopped by the harness");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    fn note(&self, message: &str) {
        if let Ok(mut log) = open_log(&self.log) {
            let _ = writeln!(log, "==== {}: {message}", self.name);
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// The last `lines` lines of a log file (or why it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => tail_text(&String::from_utf8_lossy(&bytes), lines),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}
