//! Merge-style updates: read the entity, let the caller change only the fields it
//! owns, write it back with `If-Match`, and on 412 re-read and try again. Fields
//! someone else changed in between are never lost, and an unchanged entity costs
//! no write at all.
//!
//! [`write_merged`] is that loop, once, for every caller: [`ApicClient::update_merged`]
//! here, and writers that read and write through other layers (the engine's upserts
//! and ownership records) by implementing [`MergeWrite`].
//!
//! The 2024-03-01 contract does not declare `If-Match`. Against a service that ignores
//! it, or refused it (the client then stops sending it, see
//! [`super::ConditionalHeaderSupport`]), the write is unconditional: a change made
//! between the read and the write is overwritten — the window is one round trip.

use std::fmt;
use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ApicClient, ApicPath, Precondition, put_body};
use crate::error::AzureError;
use crate::resource::ArmResource;

/// Read-modify-write rounds before a persistent conflict is returned to the caller.
pub const MAX_MERGE_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub enum MergeOutcome<C, W = C> {
    /// Nothing to change: no write was sent. Holds what was read last.
    Unchanged(C),
    /// Written; `attempts` counts the read-modify-write rounds it took.
    Updated { answer: W, attempts: u32 },
}

impl<C, W> MergeOutcome<C, W> {
    pub fn was_written(&self) -> bool {
        matches!(self, MergeOutcome::Updated { .. })
    }
}

/// One entity's merge-style write, as [`write_merged`] drives it.
pub trait MergeWrite: Send + Sync {
    /// What a read finds (e.g. `Option<entity>` where absence is an answer too).
    type Current: Send;
    type Body: Send + Sync;
    /// What a successful write gives back.
    type Answer: Send;
    type Error: Send;

    /// The entity written, for logs.
    fn path(&self) -> &dyn fmt::Display;

    /// Reads the entity as it is now (an error stops the loop).
    fn read(&self) -> impl Future<Output = Result<Self::Current, Self::Error>> + Send;

    /// What to write over `current`, changing only what the caller owns; `None` when
    /// nothing would change. May run once per round.
    fn body(&mut self, current: &Self::Current) -> Result<Option<Self::Body>, Self::Error>;

    /// The condition the write of a body made from `current` is sent under.
    fn precondition(&self, current: &Self::Current) -> Precondition;

    fn write(
        &self,
        body: &Self::Body,
        precondition: Precondition,
    ) -> impl Future<Output = Result<Self::Answer, Self::Error>> + Send;

    /// Whether a failed write means the entity changed since it was read (412), so a
    /// fresh read and merge may succeed.
    fn changed_meanwhile(&self, error: &Self::Error) -> bool;
}

/// Read → body → write under the precondition → when the entity changed meanwhile,
/// read again and start over, at most [`MAX_MERGE_ATTEMPTS`] writes in all. `known`
/// stands for the first read when the caller already knows the state (a create of an
/// entity a fresh list showed absent), saving that read.
pub async fn write_merged<M: MergeWrite>(
    merge: &mut M,
    known: Option<M::Current>,
) -> Result<MergeOutcome<M::Current, M::Answer>, M::Error> {
    let mut current = match known {
        Some(current) => current,
        None => merge.read().await?,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(body) = merge.body(&current)? else {
            return Ok(MergeOutcome::Unchanged(current));
        };
        let precondition = merge.precondition(&current);
        match merge.write(&body, precondition).await {
            Ok(answer) => {
                return Ok(MergeOutcome::Updated {
                    answer,
                    attempts: attempt,
                });
            }
            Err(e) if merge.changed_meanwhile(&e) && attempt < MAX_MERGE_ATTEMPTS => {
                tracing::debug!(
                    path = %merge.path(),
                    attempt,
                    "changed concurrently, re-reading"
                );
                current = merge.read().await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// [`ApicClient::update_merged`] as a [`MergeWrite`].
struct Update<'a, P, F> {
    client: &'a ApicClient,
    path: &'a ApicPath<P>,
    modify: F,
}

impl<P, F> MergeWrite for Update<'_, P, F>
where
    P: Serialize + DeserializeOwned + Default + Clone + Send + Sync,
    F: FnMut(&mut P) + Send + Sync,
{
    type Current = ArmResource<P>;
    type Body = P;
    type Answer = ArmResource<P>;
    type Error = AzureError;

    fn path(&self) -> &dyn fmt::Display {
        &self.path.relative
    }

    fn read(&self) -> impl Future<Output = Result<ArmResource<P>, AzureError>> + Send {
        self.client.fetch(self.path)
    }

    fn body(&mut self, current: &ArmResource<P>) -> Result<Option<P>, AzureError> {
        let mut wanted = current.properties.clone();
        (self.modify)(&mut wanted);
        // Compare what would be sent, so read-only members cannot cause a write.
        let kind = self.path.kind();
        Ok((put_body(kind, &wanted)? != put_body(kind, &current.properties)?).then_some(wanted))
    }

    fn precondition(&self, current: &ArmResource<P>) -> Precondition {
        match current.etag.clone() {
            Some(etag) => Precondition::IfMatch(etag),
            None => {
                tracing::debug!(
                    path = self.path.relative(),
                    "no ETag on read; writing without If-Match"
                );
                Precondition::None
            }
        }
    }

    fn write(
        &self,
        body: &P,
        precondition: Precondition,
    ) -> impl Future<Output = Result<ArmResource<P>, AzureError>> + Send {
        self.client.put(self.path, body, precondition)
    }

    fn changed_meanwhile(&self, error: &AzureError) -> bool {
        error.status() == Some(412)
    }
}

impl ApicClient {
    /// GET → `modify(&mut properties)` → PUT with `If-Match` → on 412 start over,
    /// at most [`MAX_MERGE_ATTEMPTS`] times. `modify` may run more than once and must
    /// only set the fields the caller owns. A missing entity is a `NotFound` error.
    pub async fn update_merged<P, F>(
        &self,
        path: &ApicPath<P>,
        modify: F,
    ) -> Result<MergeOutcome<ArmResource<P>>, AzureError>
    where
        P: Serialize + DeserializeOwned + Default + Clone + Send + Sync,
        F: FnMut(&mut P) + Send + Sync,
    {
        let mut update = Update {
            client: self,
            path,
            modify,
        };
        write_merged(&mut update, None).await
    }
}
