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
use apilink_core::mapping::SpecKind;

use crate::azure_side::ExportedContent;

/// What an import finds for its APIM API.
#[derive(Debug)]
pub(crate) enum HeldExport {
    /// The document as exported and hashed while observing.
    Content(ExportedContent),
    /// Only its hash was kept: the import exports it again (of this kind).
    ExportAgain(SpecKind),
}

/// The documents a pass's imports send, each taken out when its import is.
#[derive(Debug, Default)]
pub(crate) struct HeldExports {
    held: Mutex<HashMap<ApimApiRef, HeldExport>>,
}

impl HeldExports {
    /// What the import of `api`'s document sends, taken out (`None`: nothing was exported
    /// for it this pass).
    pub fn take(&self, api: &ApimApiRef) -> Option<HeldExport> {
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
    held: HashMap<ApimApiRef, HeldExport>,
}

impl HeldExportsBuilder {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: 0,
            held: HashMap::new(),
        }
    }

    /// Keeps `content` for the import of `api` if its bytes fit, or else the note to
    /// export it again.
    pub fn hold(&mut self, api: ApimApiRef, content: ExportedContent) {
        let size = content.content.len();
        let entry = if self.bytes + size <= self.limit {
            self.bytes += size;
            HeldExport::Content(content)
        } else {
            HeldExport::ExportAgain(content.kind)
        };
        self.held.insert(api, entry);
    }

    /// Documents kept and documents to export again.
    pub fn counts(&self) -> (usize, usize) {
        let kept = self
            .held
            .values()
            .filter(|h| matches!(h, HeldExport::Content(_)))
            .count();
        (kept, self.held.len() - kept)
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
        assert!(
            matches!(held.take(&api("a")), Some(HeldExport::Content(c)) if c.content.len() == 6)
        );
        assert!(matches!(
            held.take(&api("b")),
            Some(HeldExport::ExportAgain(SpecKind::OpenApi))
        ));
        assert!(matches!(held.take(&api("c")), Some(HeldExport::Content(_))));
        // Taken out: a second import of the same API finds nothing.
        assert!(held.take(&api("a")).is_none());
    }
}
