//! The preflight: read-only checks that prove a link can sync before its first write
//! (credential, services, effective permissions, APIM inventory and one export, API
//! Center workspace, metadata schemas, plan limits, ARM quota), and the opt-in write
//! probe that learns how this API Center answers. Each finding is a
//! [`CheckLine`](apilink_core::preflight::CheckLine) with a remedy; `docs/preflight.md`
//! lists them.

mod leftovers;
mod probe;
mod read_checks;

use apilink_azure::AzureError;
use apilink_azure::TokenIdentity;
use apilink_core::preflight::{CheckLine, CheckReport};

use crate::error::PassError;

pub(crate) use leftovers::remove_probe_leftovers;
pub use leftovers::{PROBE_API_PREFIX, PROBE_DESCRIPTION, is_probe_leftover, probe_api_name};

/// Who is calling Azure: the credential of the chain that answered and what its token
/// says (never the token itself).
#[derive(Debug)]
pub struct Caller {
    /// The credential that produced the token, for people ("workload identity").
    pub credential: String,
    /// The token's identity, or why no token could be had.
    pub identity: Result<TokenIdentity, AzureError>,
}

/// What a preflight found.
#[derive(Debug, Default)]
pub struct PreflightOutcome {
    pub report: CheckReport,
    /// Set when a check failed for a reason that passes by itself (throttling, an
    /// unreachable endpoint): the checks prove nothing either way and should run again.
    pub transient: Option<PassError>,
}

impl PreflightOutcome {
    fn push(&mut self, line: CheckLine) {
        self.report.push(line);
    }
}
