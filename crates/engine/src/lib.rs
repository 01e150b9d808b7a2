//! One sync pass for one link: observe (read APIM completely, the API Center API list
//! and the link's environment, then only the details and exports the planner asks for)
//! → plan (`apilink-core`) → apply (environment first, APIs in parallel, each API's
//! operations in order, merge-style writes with `If-Match`) → report. Link cleanup is
//! an engine operation too, shared by the controller's finalizer and the CLI.
//!
//! The engine is generic over [`AzureSide`]; [`AzureClients`] implements it over ARM
//! (or the emulator) with `apilink-azure`.
//!
//! ```no_run
//! # async fn run(arm: apilink_azure::ArmClient, settings: apilink_core::LinkSettings)
//! # -> Result<(), apilink_engine::PassError> {
//! use apilink_engine::{AzureClients, Engine, EngineOptions, PassMode};
//! let engine = Engine::new(AzureClients::new(arm), EngineOptions::default());
//! let report = engine.sync_pass(&settings, PassMode::Light).await?;
//! println!("{}", report.summary_line());
//! # Ok(()) }
//! ```

mod apply;
mod azure_side;
mod budget;
mod clients;
mod engine;
mod error;
mod held_exports;
mod metadata;
mod observe;
mod options;
mod preflight;
mod progress;
mod report;

pub use azure_side::{AzureSide, EntityPath, ExportedContent, LinkTarget};
pub use clients::{AzureClients, DEFAULT_APIM_PAGE_SIZE};
pub use engine::Engine;
pub use error::{PassError, PassPhase};
pub use options::{EngineOptions, PUBLIC_PORTAL, WriteBudget};
pub use preflight::{
    Caller, PROBE_API_PREFIX, PROBE_DESCRIPTION, PreflightOutcome, is_probe_leftover,
    probe_api_name,
};
pub use progress::{Phase, Progress, ProgressEvent};
pub use report::{
    ArmCalls, CleanupReport, OperationFailure, OperationFates, OperationTally, PassDurations,
    PassKind, PassMode, PassReport,
};
