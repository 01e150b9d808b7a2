//! What can go wrong in a scenario, phrased for the person reading a failed CI log.

use std::path::Path;

/// A failed step of a scenario or of the harness itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The machine or the environment is not ready for the suite (missing tool, build failure).
    #[error("setup: {0}")]
    Setup(String),
    /// A bounded wait ran out; `last` says what was seen last.
    #[error("timed out after {secs:.1}s waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        secs: f64,
        last: String,
    },
    /// An external command (kubectl, helm, apilink) failed or misbehaved.
    #[error("{command}: {detail}")]
    Command { command: String, detail: String },
    #[error("Kubernetes API, {context}: {source}")]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },
    #[error("HTTP, {context}: {detail}")]
    Http { context: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The system under test did something it must not do.
    #[error("check failed: {0}")]
    Check(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    pub fn io_path(action: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        Error::io(format!("{action} {}", path.display()))
    }

    pub fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let context = context.into();
        move |source| Error::Kube { context, source }
    }

    pub fn http(context: impl Into<String>) -> impl FnOnce(reqwest::Error) -> Error {
        let context = context.into();
        move |e| Error::Http {
            context,
            detail: e.to_string(),
        }
    }
}

/// Fails with [`Error::Check`] unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<()> {
    if condition {
        Ok(())
    } else {
        Err(Error::Check(message()))
    }
}
