//! ARM client for apilink: authentication through `azure_identity`, retries with
//! jittered backoff, `Retry-After`, requests paced on a model of ARM's token buckets and
//! an adaptive in-flight limit, paging, long-running operations, error classes, a
//! read-only APIM client and an API Center client.
//!
//! Everything here follows the published ARM contract (the
//! REST specifications), never the habits of the emulator used in tests.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod admission;
pub mod apic;
pub mod apim;
pub mod authorization;
pub mod bucket_model;
pub mod concurrency;
pub mod config;
pub mod credential;
pub mod error;
pub mod http;
pub mod lro;
pub mod metrics;
pub mod paging;
pub mod priority;
pub mod resource;
pub mod retry;
#[cfg(test)]
mod test_env;
#[cfg(test)]
mod test_transport;
#[cfg(test)]
mod test_wire_form;
pub mod throttle;
mod tls;
pub mod token_cache;
pub mod token_identity;

/// The one api-version used for every `Microsoft.ApiManagement` call.
pub const APIM_API_VERSION: &str = "2024-05-01";
/// The one api-version used for every `Microsoft.ApiCenter` call (the only stable one).
pub const APIC_API_VERSION: &str = "2024-03-01";

pub use apic::ApicClient;
/// The service ids are core's: a link's settings hold them already checked against ARM's rules.
pub use apilink_core::ids::{ApiCenterServiceId, ApimServiceId};
pub use apim::ApimClient;
pub use authorization::{Permission, list_permissions};
pub use config::CloudConfig;
pub use credential::{CredentialConfig, build_credential, resolved_credential_kind};
pub use error::{ArmErrorBody, AzureError, ErrorClass};
pub use http::{ArmClient, ArmClientOptions};
pub use metrics::{ArmCallCounts, ArmObserver};
pub use priority::with_priority;
pub use throttle::RemainingQuota;
pub use token_identity::{PrincipalType, TokenIdentity, token_identity};
