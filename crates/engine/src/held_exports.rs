//! The exported documents a pass keeps for its imports, within a bound on their bytes.
//!
//! A first sync exports every definition before its API exists, and imports each once
//! its definition is created: holding every document until then would make the pass's
//! memory grow with the size of the catalogue. Documents are kept while their bytes fit
//! [`crate::EngineOptions::held_export_bytes`] (the first ones exported, which the
//! apply phase reaches first); the others keep only their hash in the plan and are
//! exported again right before their import.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use apilink_core::ids::ApimApiRef;

use crate::azure_side::ExportedContent;

/// The documents a pass's imports send, each taken out when its import is.
#[derive(Debug, Default)]
pub(crate) struct HeldExports {
    held: Mutex<HashMap<ApimApiRef, ExportedContent>>,
}

impl HeldExports {
    /// The document the import of `api` sends, taken out; `None`: not held (beyond the
    /// bound, or taken by an earlier attempt), so the import exports it again.
    pub fn take(&self, api: &ApimApiRef) -> Option<ExportedContent> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(api)
    }
}

/// Collects the documents of a pass's exports up to a byte bound.
#[derive(Debug)]
pub(crate) struct HeldExportsBuilder {
    limit: usize,
    bytes: usize,
    held: HashMap<ApimApiRef, ExportedContent>,
    /// Documents beyond the bound, to be exported again.
    dropped: usize,
}

impl HeldExportsBuilder {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: 0,
            held: HashMap::new(),
            dropped: 0,
        }
    }

    /// Keeps `content` for the import of `api` if its bytes fit.
    pub fn hold(&mut self, api: ApimApiRef, content: ExportedContent) {
        let size = content.content.len();
        if self.bytes + size <= self.limit {
            self.bytes += size;
            self.held.insert(api, content);
        } else {
            self.dropped += 1;
        }
    }

    /// Documents kept and documents to export again.
    pub fn counts(&self) -> (usize, usize) {
        (self.held.len(), self.dropped)
    }

    pub fn build(self) -> HeldExports {
        HeldExports {
            held: Mutex::new(self.held),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use apilink_core::mapping::SpecKind;
    use apilink_core::observed::SpecificationRef;

    use super::*;

    fn content(bytes: usize) -> ExportedContent {
        ExportedContent {
            kind: SpecKind::OpenApi,
            content: "x".repeat(bytes),
            specification: SpecificationRef {
                name: "openapi".into(),
                version: None,
            },
        }
    }

    fn api(name: &str) -> ApimApiRef {
        ApimApiRef {
            workspace: None,
            api_id: name.into(),
        }
    }

    #[test]
    fn documents_beyond_the_bound_are_exported_again() {
        let mut builder = HeldExportsBuilder::new(10);
        builder.hold(api("a"), content(6));
        builder.hold(api("b"), content(6));
        builder.hold(api("c"), content(4));
        assert_eq!(builder.counts(), (2, 1));
        let held = builder.build();
        assert!(held.take(&api("a")).is_some_and(|c| c.content.len() == 6));
        assert!(held.take(&api("b")).is_none());
        assert!(held.take(&api("c")).is_some());
        // Taken out: a second attempt at the same import finds nothing.
        assert!(held.take(&api("a")).is_none());
    }
}
