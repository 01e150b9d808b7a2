//! Merge-style updates: read the entity, let the caller change only the fields it
//! owns, write it back with `If-Match`, and on 412 re-read and try again. Fields
//! someone else changed in between are never lost, and an unchanged entity costs
//! no write at all.
//!
//! The 2024-03-01 contract does not declare `If-Match`. Against a service that ignores
//! it, or refused it (the client then stops sending it, see
//! [`super::ConditionalHeaderSupport`]), the write is unconditional: a change made
//! between the read and the write is overwritten — the window is one round trip.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ApicClient, ApicPath, Precondition, put_body};
use crate::error::AzureError;
use crate::resource::ArmResource;

/// Read-modify-write rounds before a persistent 412 is returned to the caller.
pub const MAX_MERGE_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub enum MergeOutcome<P> {
    /// The closure changed nothing: no PUT was sent.
    Unchanged(ArmResource<P>),
    /// Written; `attempts` counts the read-modify-write rounds it took.
    Updated {
        resource: ArmResource<P>,
        attempts: u32,
    },
}

impl<P> MergeOutcome<P> {
    pub fn resource(&self) -> &ArmResource<P> {
        match self {
            MergeOutcome::Unchanged(resource) | MergeOutcome::Updated { resource, .. } => resource,
        }
    }

    pub fn was_written(&self) -> bool {
        matches!(self, MergeOutcome::Updated { .. })
    }
}

impl ApicClient {
    /// GET → `modify(&mut properties)` → PUT with `If-Match` → on 412 start over,
    /// at most [`MAX_MERGE_ATTEMPTS`] times. `modify` may run more than once and must
    /// only set the fields the caller owns. A missing entity is a `NotFound` error.
    pub async fn update_merged<P, F>(
        &self,
        path: &ApicPath<P>,
        mut modify: F,
    ) -> Result<MergeOutcome<P>, AzureError>
    where
        P: Serialize + DeserializeOwned + Default + Clone,
        F: FnMut(&mut P),
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.fetch(path).await?;
            let mut wanted = current.properties.clone();
            modify(&mut wanted);
            // Compare what would be sent, so read-only members cannot cause a write.
            if put_body(path.kind(), &wanted)? == put_body(path.kind(), &current.properties)? {
                return Ok(MergeOutcome::Unchanged(current));
            }
            let precondition = match current.etag.clone() {
                Some(etag) => Precondition::IfMatch(etag),
                None => {
                    tracing::debug!(
                        path = path.relative(),
                        "no ETag on read; writing without If-Match"
                    );
                    Precondition::None
                }
            };
            match self.put(path, &wanted, precondition).await {
                Ok(resource) => {
                    return Ok(MergeOutcome::Updated {
                        resource,
                        attempts: attempt,
                    });
                }
                Err(e) if e.status() == Some(412) && attempt < MAX_MERGE_ATTEMPTS => {
                    tracing::debug!(
                        path = path.relative(),
                        attempt,
                        "changed concurrently (412), re-reading"
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }
}
