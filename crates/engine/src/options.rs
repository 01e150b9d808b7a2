//! How the engine runs a pass: parallelism, the write budget, the portal, progress.

use std::sync::Arc;

use crate::progress::Progress;

/// The Azure portal of the public cloud; the environment's management portal URI is the
/// APIM resource's page there.
pub const PUBLIC_PORTAL: &str = "https://portal.azure.com";

/// APIs a pass works on at once by default: enough that writes are always waiting when
/// ARM's refill allows one, a few megabytes of state.
pub const DEFAULT_APIS_IN_FLIGHT: usize = 256;

/// Bytes of exported documents a pass keeps for its imports by default (see
/// [`EngineOptions::held_export_bytes`]).
pub const DEFAULT_HELD_EXPORT_BYTES: usize = 4 * 1024 * 1024;

/// Limits on the writes (PUT, POST, DELETE) one pass sends.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteBudget {
    /// Stop writing after this many writes; what is left is reported as deferred and
    /// planned again by the next pass. `None`: no limit.
    pub max_writes_per_pass: Option<u64>,
    /// Space writes to at most this many per second, below what ARM would allow (e.g.
    /// to leave budget to other users of the principal). `None`: as fast as ARM's
    /// budget allows — the ARM client spends its refill as it comes.
    pub writes_per_second: Option<f64>,
}

/// Engine settings shared by every pass.
#[derive(Clone)]
pub struct EngineOptions {
    /// APIs worked on at once (detail reads, exports and writes; one API's writes
    /// always run in order). A bound on memory and on how far a pass runs ahead of ARM,
    /// not on ARM traffic: the ARM client decides how many requests are in flight (its
    /// adaptive limits) and when each leaves (ARM's budget), so this is generous — an
    /// API waiting for an import to finish must not keep another's writes from going.
    pub concurrency: usize,
    pub write_budget: WriteBudget,
    /// Azure portal base URL for the environment's management portal URI; `None`
    /// leaves the URI out (e.g. for a sovereign cloud without a known portal).
    pub portal_base: Option<String>,
    /// Receives progress events (the CLI draws a progress line from them).
    pub progress: Option<Arc<dyn Progress>>,
    /// Bytes of exported documents a pass keeps between exporting and importing them;
    /// a document beyond them keeps only its hash and is exported again right before
    /// its import (one more APIM read), so a first sync of any size holds a bounded
    /// amount of content.
    pub held_export_bytes: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_APIS_IN_FLIGHT,
            write_budget: WriteBudget::default(),
            portal_base: Some(PUBLIC_PORTAL.to_string()),
            progress: None,
            held_export_bytes: DEFAULT_HELD_EXPORT_BYTES,
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("concurrency", &self.concurrency)
            .field("write_budget", &self.write_budget)
            .field("portal_base", &self.portal_base)
            .field("progress", &self.progress.is_some())
            .field("held_export_bytes", &self.held_export_bytes)
            .finish()
    }
}
