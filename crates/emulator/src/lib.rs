//! An ARM-faithful emulator of Azure API Management, Azure API Center and an Entra ID
//! token endpoint, served over HTTPS on loopback, for tests, demos and benchmarks.
//!
//! It deliberately shares no code with `apilink-azure`: it stands for Azure, and a bug
//! shared by both sides would pass unnoticed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), apilink_emulator::EmulatorError> {
//! let emulator = apilink_emulator::start(apilink_emulator::EmulatorConfig::default()).await?;
//! println!("ARM at {} (trust {})", emulator.arm_endpoint(), emulator.ca_file().display());
//! # Ok(()) }
//! ```

pub mod apic;
pub mod apim;
pub mod arm;

mod admin;
mod arm_path;
mod calls;
mod config;
mod emulator;
mod error;
mod faults;
mod front;
mod identity;
mod links;
mod permissions;
mod rbac;
mod server;
mod throttle;
mod tls;

pub use apim::{ApimError, ApimHandle, Seed};
pub use calls::{CallKind, CallRecord};
pub use config::{
    ApicContract, ApicSku, BucketConfig, ConditionalHeaders, DEFAULT_API_CENTER_SERVICE,
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_FEDERATED_SUBJECT, DEFAULT_RESOURCE_GROUP,
    DEFAULT_SUBSCRIPTION_ID, DEFAULT_TENANT_ID, EmulatorConfig, ImportAnswer, Principal, Role,
    RoleAssignment, ThrottleConfig, UndeclaredCustomProperties,
};
pub use emulator::{Emulator, start};
pub use error::EmulatorError;
pub use faults::{FaultKind, FaultRule};
pub use identity::{FEDERATED_AUDIENCE, FederatedTokenClaims};
