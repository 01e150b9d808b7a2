//! Microsoft.ApiCenter services, workspaces, APIs, versions, definitions, environments,
//! deployments and metadata schemas, as the 2024-03-01 REST specification describes them.
//!
//! The router assumes the framework in front of it already authenticated the caller,
//! checked the api-version and applied faults; it implements the resource provider only.
//! Behaviour the specification leaves open, chosen here and relied on by tests:
//! - an API's read-only `lifecycleStage` is derived from its versions: the most advanced
//!   stage among versions still in use (design..production); if all are deprecated or
//!   retired, the least final of those; `design` without versions;
//! - plan limits on resource counts answer 409 `QuotaExceeded`;
//! - deployment references must be service-relative and point into the deployment's own
//!   workspace (the definition: into its own API); full ARM ids are rejected;
//! - a contact's `email` must look like an address (`local@domain`), although the
//!   specification gives it only a length; a license `identifier` (SPDX) is not checked
//!   as a URI, although the specification says `format: uri`;
//! - `importSpecification` answers 202 (unless the contract makes it synchronous); the
//!   operation completes on the poll after `lro_polls_before_done` polls (either URL
//!   counts), and only then sets the content.
//!   The `Location` URL answers 202 + `Retry-After` while running, 200 with an empty body
//!   on success, and the failure's ARM error (status + `{"error": {code, message}}`) on
//!   failure; a `FaultKind::ImportFails` on the POST makes an accepted import fail so;
//! - `exportSpecification` without an imported document answers 400 `SpecificationNotFound`.
//!
//! What goes beyond the schema is the [`ApicContract`] (strict by default, changeable at
//! run time with [`ApiCenter::set_contract`]):
//! - undeclared custom properties: a `customProperties` key that no metadata schema
//!   assigned to the entity kind declares is 400 `ValidationError` `Custom property
//!   '{name}' is not defined by any metadata schema assigned to '{entity}'` (strict),
//!   silently left out of what is stored and returned (dropped), or kept (lax); values of
//!   declared ones and required assignments are enforced in every mode;
//! - custom-property limits ([`ApicLimits::custom_properties_per_entity`],
//!   [`ApicLimits::members_per_object_property`]): 400 `ValidationError` (strict only);
//! - `If-Match` / `If-None-Match`: honoured (412 `PreconditionFailed`, lax), ignored
//!   (strict) or refused (400 `InvalidRequestHeader` on any request carrying one);
//! - the 202 of `importSpecification` carries `Location` + `Retry-After` (strict) or also
//!   `Azure-AsyncOperation` (lax); or the import completes within the POST, which answers
//!   200 without a body (synchronous).

mod actions;
mod conditions;
mod filter;
mod items;
mod kind;
mod lro;
mod metadata;
mod paging;
mod path;
mod references;
mod routes;
mod schema;
mod spec;
mod store;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::any;

use store::{Node, State, key};

use crate::arm::ArmError;
use crate::config::{ApicContract, ApicSku};

/// Plan limits, per service unless said otherwise. Exceeding a resource count answers 409
/// `QuotaExceeded`; exceeding a custom-property limit answers 400 `ValidationError` (only
/// when [`ApicContract::enforce_custom_property_limits`] is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApicLimits {
    pub apis: usize,
    pub versions_per_api: usize,
    pub definitions_per_version: usize,
    pub deployments_per_api: usize,
    pub environments: usize,
    /// Largest document `importSpecification` accepts with format `inline`.
    pub max_inline_specification_bytes: usize,
    /// Keys in one entity's `customProperties`.
    pub custom_properties_per_entity: usize,
    /// Members of one object-valued custom property.
    pub members_per_object_property: usize,
}

impl ApicLimits {
    /// The Standard plan (the default).
    pub fn standard() -> Self {
        ApicLimits {
            apis: 10_000,
            versions_per_api: 100,
            definitions_per_version: 5,
            deployments_per_api: 10,
            environments: 20,
            max_inline_specification_bytes: 3 * 1024 * 1024,
            custom_properties_per_entity: 20,
            members_per_object_property: 10,
        }
    }

    /// The Free plan.
    pub fn free() -> Self {
        ApicLimits {
            apis: 200,
            versions_per_api: 5,
            custom_properties_per_entity: 10,
            ..ApicLimits::standard()
        }
    }

    /// The limits of plan `sku`.
    pub fn for_sku(sku: ApicSku) -> Self {
        match sku {
            ApicSku::Free => ApicLimits::free(),
            ApicSku::Standard => ApicLimits::standard(),
        }
    }
}

impl Default for ApicLimits {
    fn default() -> Self {
        ApicLimits::standard()
    }
}

#[derive(Debug, Clone)]
pub struct ApicOptions {
    pub subscription_id: String,
    pub resource_group: String,
    /// API Center service names; each has workspace "default".
    pub services: Vec<String>,
    /// List page size; `nextLink` carries an opaque token and the api-version.
    pub page_size: usize,
    /// How many polls of an import operation answer "running" before it is done (>= 1).
    pub lro_polls_before_done: u32,
    /// `Retry-After` (seconds) on operation answers.
    pub lro_retry_after_secs: u64,
    pub limits: ApicLimits,
    /// The plan every service reports as its `sku.name` (the limits are `limits`).
    pub sku: ApicSku,
    /// The contract the service starts with; [`ApiCenter::set_contract`] changes it.
    pub contract: ApicContract,
}

impl Default for ApicOptions {
    fn default() -> Self {
        ApicOptions {
            subscription_id: "00000000-0000-0000-0000-0000000000a1".into(),
            resource_group: "rg-apilink".into(),
            services: vec!["contoso-catalog".into()],
            page_size: 50,
            lro_polls_before_done: 1,
            lro_retry_after_secs: 1,
            limits: ApicLimits::default(),
            sku: ApicSku::default(),
            contract: ApicContract::default(),
        }
    }
}

/// What a fault rule asks of the long-running operation one request starts (carried as a
/// request extension from the fault layer to the route).
#[derive(Debug, Clone, Default)]
pub(crate) struct OperationFault {
    pub extra_polls: u32,
    /// The operation is accepted, then fails with this error when it completes.
    pub failure: Option<ArmError>,
}

/// Resolves an https URL given to importSpecification with format "link" to its content
/// (in the emulator these are APIM export links, served in memory). None = unreachable.
pub type LinkFetcher = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The emulated API Center resource provider: every configured service and its contents.
pub struct ApiCenter {
    options: ApicOptions,
    fetch_link: LinkFetcher,
    /// Separate from `state` so that a request reads it once, before taking the tree lock.
    contract: Mutex<ApicContract>,
    state: Mutex<State>,
}

impl std::fmt::Debug for ApiCenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCenter")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ApiCenter {
    pub fn new(options: ApicOptions, fetch_link: LinkFetcher) -> Arc<Self> {
        let mut state = State::default();
        for name in &options.services {
            let id = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiCenter/services/{name}",
                options.subscription_id, options.resource_group
            );
            state
                .services
                .insert(key(name), Node::new_service(id, name));
        }
        Arc::new(ApiCenter {
            contract: Mutex::new(options.contract),
            options,
            fetch_link,
            state: Mutex::new(state),
        })
    }

    /// Every route under /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ApiCenter/...
    /// plus the module's own LRO status URLs (under /subscriptions/{sub}/providers/Microsoft.ApiCenter/...).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(
                "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.ApiCenter/{*rest}",
                any(routes::resource_group_scope),
            )
            .route(
                "/subscriptions/{subscription}/providers/Microsoft.ApiCenter/{*rest}",
                any(routes::subscription_scope),
            )
            .with_state(Arc::clone(self))
    }

    /// Whole state of one service as JSON (for tests and the admin route), None if no such service.
    pub fn snapshot(&self, service: &str) -> Option<serde_json::Value> {
        let state = self.lock();
        let root = state.service(service)?;
        let mut snapshot = store::snapshot_service(root, self.options.sku);
        let operations: Vec<serde_json::Value> = state
            .operations
            .iter()
            .filter(|op| key(&op.definition.service) == key(service))
            .map(|op| {
                let mut status = op.status_body();
                status["definition"] = serde_json::Value::String(op.definition.display_name());
                status
            })
            .collect();
        snapshot["operations"] = serde_json::Value::Array(operations);
        Some(snapshot)
    }

    /// Makes the next import operation answer "running" for `extra` more polls (fault
    /// injection: a slow long-running operation). Calls add up until an operation starts.
    pub fn add_slow_lro_polls(&self, extra: u32) {
        let mut state = self.lock();
        state.extra_polls = state.extra_polls.saturating_add(extra);
    }

    pub fn options(&self) -> &ApicOptions {
        &self.options
    }

    /// The contract requests are read with now.
    pub fn contract(&self) -> ApicContract {
        *self
            .contract
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the contract for every request that starts after this call.
    pub fn set_contract(&self, contract: ApicContract) {
        *self
            .contract
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = contract;
    }

    /// A poisoned lock only means another request panicked mid-way; the tree is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
