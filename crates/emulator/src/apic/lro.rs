//! Long-running import operations: each one answers "running" for a number of polls, then
//! applies its result to the definition and reports the outcome.

use std::collections::{HashMap, VecDeque};

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

/// Counts one poll of `operation`: a running operation either uses up one of its polls or,
/// when none are left, completes by applying its result to the tree of `services`.
pub(crate) fn poll(
    operation: &mut Operation,
    services: &mut std::collections::BTreeMap<String, Node>,
) {
    let Phase::Running { polls_left, result } = &mut operation.phase else {
        return;
    };
    if *polls_left > 0 {
        *polls_left -= 1;
        return;
    }
    let outcome = match result.clone() {
        Ok(spec) => apply(services, &operation.definition, spec),
        Err(error) => Err(error),
    };
    operation.ended_at = Some(Timestamp::now());
    operation.phase = match outcome {
        Ok(()) => Phase::Succeeded,
        Err(error) => {
            tracing::debug!(operation = %operation.id, code = %error.code, "API Center import failed");
            Phase::Failed(error)
        }
    };
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
