//! Call counters (a cheap snapshot) and an observer hook, so the binary can feed the
//! controller's Prometheus metrics without this crate depending on a metrics library.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Receives one event per ARM answer and per throttle wait. Implementations must be
/// cheap and must not block: they run on the request path.
pub trait ArmObserver: Send + Sync {
    /// One HTTP answer. `service` is `apim`, `apicenter`, `arm` or `link`; `status` is
    /// 0 when no answer was read (transport error).
    fn on_response(&self, service: &str, method: &str, status: u16, duration: Duration);

    /// The client waited before sending (Retry-After, quota pacing).
    fn on_throttle_wait(&self, duration: Duration);
}

/// Counts since the client was created. Reads/writes/deletes count attempts sent to
/// ARM (retries included); export-link downloads and token fetches are separate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArmCallCounts {
    pub reads: u64,
    pub writes: u64,
    pub deletes: u64,
    pub retries: u64,
    /// Answers with status 429.
    pub throttled: u64,
    /// Times a request waited for `Retry-After` or quota pacing.
    pub throttle_waits: u64,
    pub throttle_wait_ms: u64,
    pub link_downloads: u64,
    pub token_fetches: u64,
}

impl ArmCallCounts {
    pub fn total_arm_calls(&self) -> u64 {
        self.reads + self.writes + self.deletes
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub deletes: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub throttle_waits: AtomicU64,
    pub throttle_wait_ms: AtomicU64,
    pub link_downloads: AtomicU64,
    pub token_fetches: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_wait(&self, wait: Duration) {
        Self::bump(&self.throttle_waits);
        self.throttle_wait_ms.fetch_add(
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn snapshot(&self) -> ArmCallCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ArmCallCounts {
            reads: get(&self.reads),
            writes: get(&self.writes),
            deletes: get(&self.deletes),
            retries: get(&self.retries),
            throttled: get(&self.throttled),
            throttle_waits: get(&self.throttle_waits),
            throttle_wait_ms: get(&self.throttle_wait_ms),
            link_downloads: get(&self.link_downloads),
            token_fetches: get(&self.token_fetches),
        }
    }
}
