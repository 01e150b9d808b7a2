//! End-to-end harness for apilink: a real kube-apiserver (built from Go modules by
//! `control-plane/build.sh`), the real `apilink controller` started the way the Helm
//! chart starts it and authenticated as the chart's ServiceAccount, and the real
//! `apilink emulator` standing in for Azure. Scenarios live in `tests/`; see README.md.
//!
//! The harness talks to the product only through its processes, kubectl, helm and HTTP.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod chart;
pub mod cluster;
pub mod command;
pub mod controller;
pub mod emulator;
pub mod error;
pub mod link;
pub mod paths;
pub mod process;
pub mod proxy;
pub mod scenario;
pub mod snapshot;
pub mod wait;

pub use controller::{Controller, Install, InstallOptions, RbacScope};
pub use emulator::{Call, Emulator, EmulatorOptions, SeedSource};
pub use error::{Error, Result, ensure};
pub use link::LinkManifest;
pub use scenario::{Scenario, run};
pub use snapshot::{ApicSnapshot, OwnedCounts};
pub use wait::{Probe, eventually, throughout};
