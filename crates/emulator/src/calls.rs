//! The log of every request the emulator answered (or dropped), for tests to assert on.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Oldest records are forgotten past this many, so a long-running standalone emulator
/// does not grow without bound; `seq` keeps counting.
const MAX_RECORDS: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallKind {
    /// Anything under `/subscriptions/...` (and unknown paths, which ARM answers too).
    Arm,
    /// `POST /{tenant}/oauth2/v2.0/token`.
    Token,
    /// The App-Service-style managed identity endpoint.
    ManagedIdentity,
    /// The SAS-style export blobs that APIM export links point to.
    ExportLink,
    /// `/_emulator/...`.
    Admin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// 1-based, in arrival order.
    pub seq: u64,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub method: String,
    /// The path as the client sent it (percent-encoding preserved).
    pub path: String,
    /// The raw query string, without `?`; empty when none.
    pub query: String,
    /// The status answered; 0 when the connection was dropped without an answer.
    pub status: u16,
    /// The client id of the caller when known (a valid bearer token, or the client id a
    /// token request named).
    pub principal: Option<String>,
    pub kind: CallKind,
    /// The injected fault(s) applied to this call, e.g. `status:429`, `latency:200ms`,
    /// `drop`, `slow_lro:+3`.
    pub fault: Option<String>,
    pub duration_ms: u64,
    /// The `x-ms-request-id` answered, for ARM calls.
    pub request_id: Option<String>,
}

#[derive(Default)]
pub(crate) struct CallLog {
    next_seq: AtomicU64,
    records: Mutex<VecDeque<CallRecord>>,
}

impl CallLog {
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn push(&self, record: CallRecord) {
        let mut records = lock(&self.records);
        // Records are pushed when a call finishes, so keep them ordered by arrival.
        let at = records
            .iter()
            .rposition(|r| r.seq < record.seq)
            .map_or(0, |i| i + 1);
        records.insert(at, record);
        while records.len() > MAX_RECORDS {
            records.pop_front();
        }
    }

    pub fn all(&self) -> Vec<CallRecord> {
        lock(&self.records).iter().cloned().collect()
    }

    pub fn clear(&self) {
        lock(&self.records).clear();
    }
}

/// A poisoned lock only means another request panicked mid-update; the log itself is still
/// usable, so keep serving rather than failing every later request.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Filters for `GET /_emulator/calls`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CallFilter {
    pub kind: Option<CallKind>,
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub since_seq: Option<u64>,
}

impl CallFilter {
    pub fn matches(&self, r: &CallRecord) -> bool {
        self.kind.is_none_or(|k| k == r.kind)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&r.method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| r.path.contains(p))
            && self.since_seq.is_none_or(|s| r.seq > s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> CallRecord {
        CallRecord {
            seq,
            at_ms: 0,
            method: "GET".into(),
            path: format!("/p/{seq}"),
            query: String::new(),
            status: 200,
            principal: None,
            kind: CallKind::Arm,
            fault: None,
            duration_ms: 0,
            request_id: None,
        }
    }

    #[test]
    fn records_stay_in_arrival_order_when_finished_out_of_order() {
        let log = CallLog::default();
        log.push(record(2));
        log.push(record(1));
        log.push(record(3));
        let seqs: Vec<u64> = log.all().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }

    #[test]
    fn filter_by_method_path_and_seq() {
        let f = CallFilter {
            method: Some("get".into()),
            path_contains: Some("/p/".into()),
            since_seq: Some(1),
            kind: Some(CallKind::Arm),
        };
        assert!(!f.matches(&record(1)));
        assert!(f.matches(&record(2)));
    }
}
