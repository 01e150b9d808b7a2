//! Before a pass writes: the metadata schema that declares the link's ownership record
//! exists (created once when absent, never changed after a person edited it), and the
//! custom properties the organisation requires on new entities are given by the spec.
//! A problem here stops the pass before its first write, with one message naming the
//! schema.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use apilink_core::marker::{RECORD_KEY, ownership_schema};
use apilink_core::metadata::{
    OwnershipSchema, check_custom_properties, entity_kinds_created, ownership_schema_state,
};
use apilink_core::outcome::RunError;
use apilink_core::plan::Plan;
use apilink_core::{ErrorClass, LinkSettings};

use crate::azure_side::{AzureSide, LinkTarget};
use crate::budget::WriteGate;
use crate::error::{PassError, PassPhase};

/// API Center services whose ownership schema this process has seen in place, so a
/// pass that creates nothing does not read the schemas again.
#[derive(Debug, Default)]
pub(crate) struct VerifiedSchemas(Mutex<HashSet<String>>);

impl VerifiedSchemas {
    fn contains(&self, service: &str) -> bool {
        self.0.lock().is_ok_and(|set| set.contains(service))
    }

    fn insert(&self, service: &str) {
        if let Ok(mut set) = self.0.lock() {
            set.insert(service.to_string());
        }
    }

    /// Forgets a service whose schema turned out to be gone (the service dropped an
    /// ownership record), so the next pass looks again and recreates it.
    pub(crate) fn forget(&self, service: &str) {
        if let Ok(mut set) = self.0.lock() {
            set.remove(service);
        }
    }
}

/// What the check did, for the pass report.
#[derive(Debug, Default)]
pub(crate) struct MetadataOutcome {
    /// The ownership schema was created (or, in a dry run, would be).
    pub created_schema: Option<String>,
}

/// What people fix here lives in API Center (a schema) as often as in the spec, so the
/// link looks again now and then instead of waiting for a spec change.
const METADATA_RECHECK: Duration = Duration::from_secs(300);

fn needs_user(reason: &str, message: String) -> PassError {
    PassError::new(
        PassPhase::Metadata,
        RunError::new(ErrorClass::NeedsUser, reason, message).with_retry_after(METADATA_RECHECK),
    )
}

/// Runs the checks for a plan about to be applied (`dry_run`: only reports what it
/// would create). Plans without writes read nothing. Creating the schema takes one
/// write from the pass's budget; without one left it waits for the next pass (the
/// plan's writes are then deferred too).
pub(crate) async fn prepare<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    settings: &LinkSettings,
    plan: &Plan,
    dry_run: bool,
    verified: &VerifiedSchemas,
    gate: &WriteGate,
) -> Result<MetadataOutcome, PassError> {
    let mut outcome = MetadataOutcome::default();
    if plan.operations.is_empty() {
        return Ok(outcome);
    }
    let service = target.api_center.to_string();
    let creates = entity_kinds_created(plan);
    if verified.contains(&service) && creates.is_empty() {
        return Ok(outcome);
    }
    let schemas = azure
        .list_metadata_schemas(target)
        .await
        .map_err(|e| PassError::from_azure(PassPhase::Metadata, "list metadata schemas", &e))?;
    match ownership_schema_state(&schemas) {
        OwnershipSchema::Compatible => {}
        OwnershipSchema::Incompatible(message) => {
            return Err(needs_user("OwnershipSchemaIncompatible", message));
        }
        OwnershipSchema::Missing => {
            if dry_run {
                outcome.created_schema = Some(RECORD_KEY.to_string());
            } else if gate.acquire().await.is_ok() {
                azure
                    .create_metadata_schema(target, RECORD_KEY, &ownership_schema())
                    .await
                    .map_err(|e| {
                        PassError::from_azure(
                            PassPhase::Metadata,
                            &format!("create metadata schema {RECORD_KEY}"),
                            &e,
                        )
                    })?;
                tracing::info!(schema = RECORD_KEY, "created the ownership metadata schema");
                outcome.created_schema = Some(RECORD_KEY.to_string());
            } else {
                return Ok(outcome);
            }
        }
    }
    let problems = check_custom_properties(settings, &schemas, &creates);
    if !problems.is_empty() {
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(needs_user("CustomPropertiesInvalid", messages.join("; ")));
    }
    if !dry_run {
        verified.insert(&service);
    }
    Ok(outcome)
}
