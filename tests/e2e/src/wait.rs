//! Bounded waiting: every wait in the suite has a deadline and says, when it runs out,
//! what it waited for and what it saw last.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often probes run.
pub const POLL: Duration = Duration::from_millis(250);

/// One look at the system: done (with a value), or not yet (with what was seen).
pub enum Probe<T> {
    Done(T),
    NotYet(String),
}

/// Probes until `probe` says done or `timeout` passes. Errors from the probe end the wait.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>>>,
{
    let started = Instant::now();
    loop {
        let last = match probe().await? {
            Probe::Done(value) => return Ok(value),
            Probe::NotYet(seen) => seen,
        };
        if started.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                secs: started.elapsed().as_secs_f64(),
                last,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Probes for the whole of `period` and fails as soon as `probe` reports a violation:
/// "this must stay true". Returns how many probes passed.
pub async fn throughout<F, Fut>(what: &str, period: Duration, mut probe: F) -> Result<u32>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<String>>>,
{
    let started = Instant::now();
    let mut probes = 0;
    loop {
        if let Some(violation) = probe().await? {
            return Err(Error::Check(format!(
                "{what} stopped holding after {:.1}s: {violation}",
                started.elapsed().as_secs_f64()
            )));
        }
        probes += 1;
        if started.elapsed() >= period {
            return Ok(probes);
        }
        tokio::time::sleep(POLL).await;
    }
}
