//! Short-lived external commands (kubectl, helm, cargo, build scripts) with a deadline:
//! nothing the suite runs may hang it.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Default deadline of a command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A command line, its input and its deadline.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    removed: Vec<OsString>,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    inherit_stderr: bool,
    timeout: Duration,
}

impl Cmd {
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            removed: Vec::new(),
            dir: None,
            stdin: None,
            inherit_stderr: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.removed.push(key.as_ref().to_os_string());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Lets the command's stderr through to the test's (progress of long builds).
    pub fn inherit_stderr(mut self) -> Self {
        self.inherit_stderr = true;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command line as a person would type it (for messages).
    pub fn display(&self) -> String {
        let mut parts = vec![self.program.to_string_lossy().into_owned()];
        parts.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }

    /// Runs to completion or kills it at the deadline (an error then).
    pub fn run_blocking(&self) -> Result<Output> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(if self.inherit_stderr {
                Stdio::inherit()
            } else {
                Stdio::piped()
            });
        for k in &self.removed {
            command.env_remove(k);
        }
        for (k, v) in &self.envs {
            command.env(k, v);
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|e| Error::Command {
            command: self.display(),
            detail: format!("cannot start: {e}"),
        })?;
        if let (Some(data), Some(mut stdin)) = (self.stdin.clone(), child.stdin.take()) {
            // A writer thread: a large input must not deadlock against a full stdout pipe.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < self.timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let stderr = collect(stderr, Duration::from_secs(2));
                    return Err(Error::Command {
                        command: self.display(),
                        detail: format!(
                            "killed after {:.0}s without finishing; stderr: {}",
                            self.timeout.as_secs_f64(),
                            tail_text(&String::from_utf8_lossy(&stderr), 20)
                        ),
                    });
                }
                Err(e) => {
                    return Err(Error::Command {
                        command: self.display(),
                        detail: format!("waiting for it: {e}"),
                    });
                }
            }
        };
        // Grandchildren may hold the pipes open; do not wait for them for long.
        let stdout = collect(stdout, Duration::from_secs(10));
        let stderr = collect(stderr, Duration::from_secs(10));
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// [`Cmd::run_blocking`] off the async runtime's thread.
    pub async fn run(&self) -> Result<Output> {
        let cmd = self.clone();
        tokio::task::spawn_blocking(move || cmd.run_blocking())
            .await
            .map_err(|e| Error::Command {
                command: self.display(),
                detail: format!("runner task failed: {e}"),
            })?
    }

    /// Runs and requires exit status 0; returns stdout.
    pub async fn run_ok(&self) -> Result<String> {
        let output = self.run().await?;
        ensure_success(&output, &self.display())?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs and requires a failure; returns stdout and stderr together (what a person sees).
    pub async fn run_fails(&self) -> Result<String> {
        let output = self.run().await?;
        let text = combined(&output);
        if output.status.success() {
            return Err(Error::Check(format!(
                "expected `{}` to fail, but it succeeded: {}",
                self.display(),
                text.trim()
            )));
        }
        Ok(text)
    }
}

type Drain = mpsc::Receiver<Vec<u8>>;

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<Drain> {
    let mut pipe = pipe?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    Some(rx)
}

fn collect(drain: Option<Drain>, wait: Duration) -> Vec<u8> {
    drain
        .and_then(|rx| rx.recv_timeout(wait).ok())
        .unwrap_or_default()
}

/// stdout then stderr, as text.
pub fn combined(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    }
}

/// An error naming the command, its exit status and the end of its output unless it
/// succeeded.
pub fn ensure_success(output: &Output, what: &str) -> Result<()> {
    if output.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        command: what.to_string(),
        detail: format!(
            "{}; output:\n{}",
            describe(output.status),
            tail_text(&combined(output), 40)
        ),
    })
}

/// The last `lines` lines of `text`.
pub fn tail_text(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
