//! Before a pass writes: the metadata schemas the link's writes need exist — the one that
//! declares its ownership record, and one per custom property of `spec.apimMetadata`
//! (created once when absent, never changed after a person edited them) — and the
//! custom properties the organisation requires on new entities are given by the spec.
//! A problem here stops the pass before its first write, with one message naming the
//! schema.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use apilink_core::marker::{RECORD_KEY, ownership_schema};
use apilink_core::metadata::{
    MappedSchema, MetadataSchema, OwnershipSchema, apim_metadata_schema, check_custom_properties,
    entity_kinds_created, mapped_schema_state, ownership_schema_state, shared_record_schema_state,
};
use apilink_core::outcome::RunError;
use apilink_core::plan::Plan;
use apilink_core::shared::{shared_record_key, shared_record_schema};
use apilink_core::{ErrorClass, LinkSettings};
use serde_json::Value;

use crate::azure_side::{AzureSide, LinkTarget};
use crate::budget::WriteGate;
use crate::error::{PassError, PassPhase};

/// API Center services whose ownership schema (and the mapped schemas of the links
/// that checked them) this process has seen in place, so a pass that creates nothing
/// does not read the schemas again.
#[derive(Debug, Default)]
pub(crate) struct VerifiedSchemas(Mutex<HashSet<String>>);

/// The entry of one mapped schema of a service.
fn mapped_entry(service: &str, schema: &str) -> String {
    format!("{service}/metadataSchemas/{}", schema.to_ascii_lowercase())
}

impl VerifiedSchemas {
    /// Whether the service's ownership schema and every one of `mapped` were seen.
    fn contains(&self, service: &str, mapped: &[&str]) -> bool {
        self.0.lock().is_ok_and(|set| {
            set.contains(service)
                && mapped
                    .iter()
                    .all(|m| set.contains(&mapped_entry(service, m)))
        })
    }

    fn insert(&self, service: &str, mapped: &[&str]) {
        if let Ok(mut set) = self.0.lock() {
            set.insert(service.to_string());
            set.extend(mapped.iter().map(|m| mapped_entry(service, m)));
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
    /// The schemas of mapped custom properties created (or, in a dry run, that would be).
    pub created_mapped_schemas: Vec<String>,
}

impl MetadataOutcome {
    fn created(&mut self, name: String) {
        if name == RECORD_KEY {
            self.created_schema = Some(name);
        } else {
            self.created_mapped_schemas.push(name);
        }
    }
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

/// The schemas the link needs that are missing, each with the `properties` it is
/// created with: the ownership schema, then one per mapped custom property. One that
/// exists but cannot hold the link's values stops the pass before anything is written.
fn missing_schemas(
    schemas: &[MetadataSchema],
    settings: &LinkSettings,
) -> Result<Vec<(String, Value)>, PassError> {
    let mut missing = Vec::new();
    match ownership_schema_state(schemas) {
        OwnershipSchema::Compatible => {}
        OwnershipSchema::Incompatible(message) => {
            return Err(needs_user("OwnershipSchemaIncompatible", message));
        }
        OwnershipSchema::Missing => missing.push((RECORD_KEY.to_string(), ownership_schema())),
    }
    if settings.shares_apis() {
        match shared_record_schema_state(schemas, &settings.link) {
            MappedSchema::Compatible => {}
            MappedSchema::Incompatible(message) => {
                return Err(needs_user("OwnershipSchemaIncompatible", message));
            }
            MappedSchema::Missing => missing.push((
                shared_record_key(&settings.link),
                shared_record_schema(&settings.link),
            )),
        }
    }
    for name in settings.apim_metadata.custom_properties() {
        match mapped_schema_state(schemas, name) {
            MappedSchema::Compatible => {}
            MappedSchema::Incompatible(message) => {
                return Err(needs_user("ApimMetadataSchemaIncompatible", message));
            }
            MappedSchema::Missing => missing.push((name.to_string(), apim_metadata_schema())),
        }
    }
    Ok(missing)
}

/// Creates the `missing` schemas (a dry run only reports them), one write each from the
/// pass's budget. False when the budget ran out first: the pass waits for the next one
/// (its plan's writes are then deferred too).
async fn create_schemas<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    missing: Vec<(String, Value)>,
    dry_run: bool,
    gate: &WriteGate,
    outcome: &mut MetadataOutcome,
) -> Result<bool, PassError> {
    for (name, properties) in missing {
        if !dry_run {
            if gate.acquire().await.is_err() {
                return Ok(false);
            }
            azure
                .create_metadata_schema(target, &name, &properties)
                .await
                .map_err(|e| {
                    PassError::from_azure(
                        PassPhase::Metadata,
                        &format!("create metadata schema {name}"),
                        &e,
                    )
                })?;
            tracing::info!(schema = %name, "created a metadata schema the link needs");
        }
        outcome.created(name);
    }
    Ok(true)
}

/// Runs the checks for a plan about to be applied (`dry_run`: only reports what it
/// would create). Plans without writes read nothing. Creating a schema takes one write
/// from the pass's budget; without one left it waits for the next pass (the plan's
/// writes are then deferred too).
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
    let shared_key = settings
        .shares_apis()
        .then(|| shared_record_key(&settings.link));
    let mapped: Vec<&str> = settings
        .apim_metadata
        .custom_properties()
        .chain(shared_key.as_deref())
        .collect();
    if verified.contains(&service, &mapped) && creates.is_empty() {
        return Ok(outcome);
    }
    let schemas = azure
        .list_metadata_schemas(target)
        .await
        .map_err(|e| PassError::from_azure(PassPhase::Metadata, "list metadata schemas", &e))?;
    let missing = missing_schemas(&schemas, settings)?;
    if !create_schemas(azure, target, missing, dry_run, gate, &mut outcome).await? {
        return Ok(outcome);
    }
    let problems = check_custom_properties(settings, &schemas, &creates);
    if !problems.is_empty() {
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(needs_user("CustomPropertiesInvalid", messages.join("; ")));
    }
    if !dry_run {
        verified.insert(&service, &mapped);
    }
    Ok(outcome)
}
