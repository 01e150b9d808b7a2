//! Long-running import operations: each one answers "running" for a number of polls and
//! for a least a minimum run time (as a real import takes wall time, however eagerly it is
//! polled), then applies its result to the definition and reports the outcome.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::kind::{Kind, LOCATION};
use super::path::ItemPath;
use super::store::{ImportedSpec, Node, key, resolve_mut};
use crate::arm::ArmError;

/// Completed operations kept for late polls; older ones are forgotten first.
const KEPT_OPERATIONS: usize = 4096;

#[derive(Debug, Clone)]
pub(crate) enum Phase {
    Running {
        polls_left: u32,
        /// What completion will apply: the checked document, or why the import fails.
        result: Result<ImportedSpec, ArmError>,
    },
    Succeeded,
    Failed(ArmError),
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub id: String,
    pub subscription_id: String,
    pub definition: ItemPath,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub phase: Phase,
}

impl Operation {
    pub(crate) fn status_id(&self) -> String {
        format!(
            "/subscriptions/{}/providers/Microsoft.ApiCenter/locations/{LOCATION}/operationStatuses/{}",
            self.subscription_id, self.id
        )
    }

    pub(crate) fn result_path(&self) -> String {
        format!(
            "/subscriptions/{}/providers/Microsoft.ApiCenter/locations/{LOCATION}/operationResults/{}",
            self.subscription_id, self.id
        )
    }

    /// The body an `Azure-AsyncOperation` URL answers.
    pub(crate) fn status_body(&self) -> Value {
        let status = match self.phase {
            Phase::Running { .. } => "InProgress",
            Phase::Succeeded => "Succeeded",
            Phase::Failed(_) => "Failed",
        };
        let mut body = json!({
            "id": self.status_id(),
            "name": self.id,
            "status": status,
            "startTime": self.started_at.to_string(),
        });
        if let Some(ended) = self.ended_at {
            body["endTime"] = json!(ended.to_string());
        }
        if let Phase::Failed(error) = &self.phase {
            body["error"] = json!({ "code": error.code, "message": error.message });
        }
        body
    }
}

#[derive(Debug, Default)]
pub(crate) struct Operations {
    by_id: HashMap<String, Operation>,
    order: VecDeque<String>,
}

impl Operations {
    pub(crate) fn insert(&mut self, operation: Operation) {
        self.order.push_back(operation.id.clone());
        self.by_id.insert(operation.id.clone(), operation);
        while self.order.len() > KEPT_OPERATIONS {
            if let Some(oldest) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Operation> {
        self.by_id.get_mut(id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Operation> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }
}

/// Counts one poll of `operation` now, with no minimum run time (see [`poll_at`]).
pub(crate) fn poll(
    operation: &mut Operation,
    services: &mut std::collections::BTreeMap<String, Node>,
) {
    poll_at(operation, services, Timestamp::now(), Duration::ZERO);
}

/// Counts one poll of `operation` made at `now`: a running operation uses up one of its
/// polls; once none are left, it completes — applying its result to the tree of
/// `services` — on the first poll at least `min_runtime` after it started. A client that
/// polls sooner than the operation's `Retry-After` therefore gains nothing.
pub(crate) fn poll_at(
    operation: &mut Operation,
    services: &mut std::collections::BTreeMap<String, Node>,
    now: Timestamp,
    min_runtime: Duration,
) {
    let Phase::Running { polls_left, result } = &mut operation.phase else {
        return;
    };
    if *polls_left > 0 {
        *polls_left -= 1;
        return;
    }
    if !has_run_for(operation.started_at, now, min_runtime) {
        return;
    }
    let outcome = match result.clone() {
        Ok(spec) => apply(services, &operation.definition, spec),
        Err(error) => Err(error),
    };
    operation.ended_at = Some(now);
    operation.phase = match outcome {
        Ok(()) => Phase::Succeeded,
        Err(error) => {
            tracing::debug!(operation = %operation.id, code = %error.code, "API Center import failed");
            Phase::Failed(error)
        }
    };
}

/// Whether an operation started at `started` has run for `min_runtime` at `now`.
fn has_run_for(started: Timestamp, now: Timestamp, min_runtime: Duration) -> bool {
    match jiff::SignedDuration::try_from(min_runtime) {
        Ok(min) => now.duration_since(started) >= min,
        // Longer than jiff can say: never over.
        Err(_) => false,
    }
}

/// Sets `spec` as the content of `definition`; 404 when the definition is gone.
pub(crate) fn apply(
    services: &mut std::collections::BTreeMap<String, Node>,
    definition: &ItemPath,
    spec: ImportedSpec,
) -> Result<(), ArmError> {
    let node = services
        .get_mut(&key(&definition.service))
        .and_then(|service| resolve_mut(service, &definition.chain).ok())
        .filter(|_| definition.kind() == Kind::Definition)
        .ok_or_else(|| {
            ArmError::not_found(Kind::Definition.type_string(), &definition.display_name())
        })?;
    node.spec = Some(spec);
    node.touch();
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use axum::http::StatusCode;

    use super::*;

    /// A running import whose result is a failure (so completing it touches no tree).
    fn running(started_at: Timestamp, polls_left: u32) -> Operation {
        Operation {
            id: "op".into(),
            subscription_id: "sub".into(),
            definition: ItemPath {
                service: "svc".into(),
                chain: vec![(Kind::Workspace, "default".into())],
            },
            started_at,
            ended_at: None,
            phase: Phase::Running {
                polls_left,
                result: Err(ArmError::new(StatusCode::BAD_REQUEST, "Bad", "bad")),
            },
        }
    }

    fn at(start: Timestamp, ms: i64) -> Timestamp {
        start + jiff::SignedDuration::from_millis(ms)
    }

    #[test]
    fn an_operation_completes_after_its_polls_and_its_run_time() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let mut services = BTreeMap::new();
        let mut operation = running(start, 1);
        let second = Duration::from_secs(1);
        // The first poll uses up the one poll it must wait.
        poll_at(&mut operation, &mut services, at(start, 10), second);
        assert!(matches!(
            operation.phase,
            Phase::Running { polls_left: 0, .. }
        ));
        // Polled again and again before a second has passed: still running.
        for ms in [20, 500, 999] {
            poll_at(&mut operation, &mut services, at(start, ms), second);
            assert!(matches!(operation.phase, Phase::Running { .. }), "{ms} ms");
        }
        poll_at(&mut operation, &mut services, at(start, 1_000), second);
        assert!(matches!(operation.phase, Phase::Failed(_)));
        assert_eq!(operation.ended_at, Some(at(start, 1_000)));
    }

    #[test]
    fn polls_are_still_needed_once_the_run_time_has_passed() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let mut services = BTreeMap::new();
        let mut operation = running(start, 2);
        let late = at(start, 60_000);
        poll_at(&mut operation, &mut services, late, Duration::from_secs(1));
        poll_at(&mut operation, &mut services, late, Duration::from_secs(1));
        assert!(matches!(
            operation.phase,
            Phase::Running { polls_left: 0, .. }
        ));
        poll_at(&mut operation, &mut services, late, Duration::from_secs(1));
        assert!(matches!(operation.phase, Phase::Failed(_)));
    }

    #[test]
    fn without_a_run_time_the_polls_alone_decide() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let mut services = BTreeMap::new();
        let mut operation = running(start, 1);
        poll_at(&mut operation, &mut services, start, Duration::ZERO);
        poll_at(&mut operation, &mut services, start, Duration::ZERO);
        assert!(matches!(operation.phase, Phase::Failed(_)));
        assert!(!has_run_for(start, at(start, 1), Duration::MAX));
    }
}
