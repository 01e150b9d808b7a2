//! Kubernetes side of apilink: the `ApiSourceLink` CRD, the condition state machine,
//! reconcile with finalizer, events, metrics, health endpoints and leader election.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod api_failures;
mod cleanup;
pub mod conclusion;
pub mod conditions;
pub mod crd;
pub mod credentials;
pub mod events;
pub mod finalizer;
pub mod leadership;
pub mod metrics;
mod pass;
pub mod preflight;
pub mod reconcile;
pub mod run;
pub mod runner;
pub mod schedule;
pub mod schema;
pub mod scope;
pub mod server;
pub mod status;
pub mod validation;

pub use crd::{ApiSourceLink, ApiSourceLinkSpec, ApiSourceLinkStatus};
pub use metrics::Metrics;
pub use run::{ControllerConfig, LeaderElection, run_controller, run_with_client};
pub use runner::{
    CheckReport, CleanupOutcome, CleanupRequest, Credentials, ErrorClass, LinkRunner, PassMode,
    PreflightRequest, RunError, SyncOutcome, SyncRequest,
};
pub use schema::{crd, crd_yaml};
pub use scope::TenantScopes;
