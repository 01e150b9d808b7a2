//! Progress events of a pass, for people watching a long one.

/// Where a pass is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading APIM and the API Center API list.
    Observe,
    /// Reading versions, definitions and deployments of `apis` APIs.
    Details { apis: usize },
    /// Exporting `definitions` definitions from APIM.
    Export { definitions: usize },
    /// Executing `operations` planned operations.
    Apply { operations: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressEvent {
    PhaseStarted(Phase),
    /// One unit of the current phase finished (an API read, a definition exported, an
    /// operation executed).
    Step,
    Finished,
}

/// Receives progress events; called from the pass's task, so it must be cheap.
pub trait Progress: Send + Sync {
    fn event(&self, event: ProgressEvent);
}
