//! Executing a plan: the environment first, then each API's operations in order with
//! different APIs in parallel, then whatever comes after every API (the environment's
//! deletion on cleanup). An operation that fails stops the rest of its API for this
//! pass — above all its marker write — and the next pass plans them again.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;

use apilink_azure::apic::merge::{MergeOutcome, MergeWrite, write_merged};
use apilink_azure::apic::{
    ImportFormat, ImportSpecification, MAX_INLINE_IMPORT_BYTES, Precondition,
    SpecificationRef as ImportSpecificationRef, check_custom_property_kept,
};
use apilink_azure::{AzureError, ErrorClass};
use apilink_core::LinkId;
use apilink_core::hash::content_hash;
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::SpecKind;
use apilink_core::marker::{ApiMarker, Ownership, RECORD_KEY, read_api_marker, read_entity_marker};
use apilink_core::observed::ApicEntity;
use apilink_core::operation::{Intent, Operation, Upsert};
use apilink_core::ownership::EntityKind;
use apilink_core::shared::{api_ownership_in, shared_record_key, shares};
use futures::{StreamExt, stream};
use serde_json::Value;

use crate::azure_side::{AzureSide, EntityPath, ExportedContent, LinkTarget};
use crate::budget::WriteGate;
use crate::held_exports::HeldExports;
use crate::observe::stage_neutral;
use crate::progress::{Phase, Progress, ProgressEvent};
use crate::report::{Fate, OperationFailure, Tallies};

/// The reason of a record write whose entity is gone.
const API_MISSING: &str = "ApiMissing";

/// Why an operation did not complete.
enum OpError {
    Azure(AzureError),
    /// The engine refused to write (the entity is not the link's, content missing).
    Refused {
        class: ErrorClass,
        reason: &'static str,
        message: String,
    },
    /// The pass's write budget is used up.
    Deferred,
}

impl From<AzureError> for OpError {
    fn from(e: AzureError) -> Self {
        OpError::Azure(e)
    }
}

/// What an executed operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Written,
    Unchanged,
}

/// The outcome of applying a plan.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub tallies: Tallies,
    pub failures: Vec<OperationFailure>,
    /// Imports that were written.
    pub imports: usize,
    /// An operation before the first API's (the environment) failed: nothing else ran.
    pub environment_failed: bool,
}

#[derive(Default)]
struct GroupOutcome {
    fates: Vec<(EntityKind, apilink_core::operation::Action, Fate)>,
    failure: Option<OperationFailure>,
    imports: usize,
    stopped: bool,
    /// An API created with its whole ledger stopped short and still claims children it
    /// may lack: the creating pass's token must stay on the environment.
    unconfirmed: bool,
}

/// The record an API create carries when it lists the API's children before they exist
/// (created under a creating pass's token).
fn ledger_sent_with(op: &Operation) -> Option<ApiMarker> {
    let Operation::UpsertApi { upsert, .. } = op else {
        return None;
    };
    if upsert.intent != Intent::Create {
        return None;
    }
    upsert
        .record_on_create()
        .as_ref()
        .and_then(Value::as_str)
        .and_then(ApiMarker::decode)
        .filter(|record| record.created_by.is_some())
}

/// How the APIs of a pass settled, for what runs after all of them.
#[derive(Default)]
struct ApisSettled {
    any_failed: bool,
    any_deferred: bool,
    any_unconfirmed: bool,
}

/// The key of the link's own record a body carries: [`RECORD_KEY`], or on a shared API
/// the link's own key (the other links' records a merged body carries are theirs).
fn sent_record_key(body: &Value, link: &LinkId) -> Option<String> {
    let custom = body.get("customProperties")?.as_object()?;
    [RECORD_KEY.to_string(), shared_record_key(link)]
        .into_iter()
        .find(|key| custom.get(key).is_some_and(Value::is_string))
}

/// Trailing operations wait for every API: deleting the environment for all of them to
/// be done, clearing a creating pass's token for every API it created to be complete or
/// marked unconfirmed.
fn trailing_blocked(op: &Operation, any_stopped: bool, any_unconfirmed: bool) -> bool {
    match op {
        Operation::WriteEnvironmentRecord { .. } => any_unconfirmed,
        _ => any_stopped,
    }
}

/// `create api apis/x`: the first line of an operation's display.
pub(crate) fn label(op: &Operation) -> String {
    format!(
        "{} {} {}",
        op.action().as_str(),
        op.entity().as_str(),
        op.target()
    )
}

fn path_of(op: &Operation) -> EntityPath {
    match op {
        Operation::EnsureEnvironment { name, .. }
        | Operation::DeleteEnvironment { name }
        | Operation::WriteEnvironmentRecord { name, .. } => {
            EntityPath::Environment { name: name.clone() }
        }
        Operation::UpsertApi { api, .. }
        | Operation::WriteApiMarker { api, .. }
        | Operation::LeaveSharedApi { api, .. }
        | Operation::DeleteApi { api } => EntityPath::Api { api: api.clone() },
        Operation::UpsertVersion { api, version, .. }
        | Operation::DeleteVersion { api, version } => EntityPath::Version {
            api: api.clone(),
            version: version.clone(),
        },
        Operation::UpsertDefinition {
            api,
            version,
            definition,
            ..
        }
        | Operation::ImportSpecification {
            api,
            version,
            definition,
            ..
        }
        | Operation::DeleteDefinition {
            api,
            version,
            definition,
        } => EntityPath::Definition {
            api: api.clone(),
            version: version.clone(),
            definition: definition.clone(),
        },
        Operation::UpsertDeployment {
            api, deployment, ..
        }
        | Operation::DeleteDeployment { api, deployment } => EntityPath::Deployment {
            api: api.clone(),
            deployment: deployment.clone(),
        },
    }
}

/// Each API's operations in plan order, APIs in order of first appearance, and the
/// operations that belong to no API (they follow every API).
fn group_by_api(operations: &[Operation]) -> (Vec<(&str, Vec<&Operation>)>, Vec<&Operation>) {
    let mut groups: Vec<(&str, Vec<&Operation>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut trailing = Vec::new();
    for op in operations {
        match op.api() {
            Some(api) => {
                let i = *index.entry(api).or_insert_with(|| {
                    groups.push((api, Vec::new()));
                    groups.len() - 1
                });
                groups[i].1.push(op);
            }
            None => trailing.push(op),
        }
    }
    (groups, trailing)
}

pub(crate) struct Applier<'a, A> {
    pub azure: &'a A,
    pub target: &'a LinkTarget,
    pub link: &'a LinkId,
    /// The link maps APIs to shared ones (`spec.apiIdentity.scope: Shared`).
    pub shares_apis: bool,
    /// The documents to import, each taken out when its import is sent.
    pub contents: &'a HeldExports,
    pub gate: &'a WriteGate,
    pub progress: Option<&'a dyn Progress>,
    pub concurrency: usize,
}

impl<A: AzureSide> Applier<'_, A> {
    fn step(&self) {
        if let Some(progress) = self.progress {
            progress.event(ProgressEvent::Step);
        }
    }

    /// Runs `operations` (in plan order) and reports the fate of each.
    pub async fn run(&self, operations: &[Operation]) -> Applied {
        let mut applied = Applied::default();
        for op in operations {
            applied.tallies.planned(op.entity(), op.action());
        }
        if let Some(progress) = self.progress {
            progress.event(ProgressEvent::PhaseStarted(Phase::Apply {
                operations: operations.len(),
            }));
        }
        let first_api = operations
            .iter()
            .position(|op| op.api().is_some())
            .unwrap_or(operations.len());
        let (leading, rest) = operations.split_at(first_api);
        let (groups, trailing) = group_by_api(rest);

        // The environment goes first: every deployment refers to it.
        let lead = self.run_group(None, leading.iter().collect()).await;
        let lead_stopped = lead.stopped;
        let lead_failed = lead.failure.is_some();
        self.merge(&mut applied, lead);
        if lead_stopped {
            applied.environment_failed = lead_failed;
            let fate = if lead_failed {
                Fate::Skipped
            } else {
                Fate::Deferred
            };
            for op in rest {
                applied.tallies.record(op.entity(), op.action(), fate);
            }
            return applied;
        }

        let settled = self.run_api_groups(&groups, &mut applied).await;
        self.finish(&mut applied, settled, trailing).await;
        applied
    }

    /// Every API is in flight at once up to the (generous) concurrency: the ARM client
    /// decides when each request leaves, and an API waiting for an import keeps nobody
    /// else's writes back. Imports cannot be hurried — each is waited for — so the APIs
    /// with the longest chains of them queue first at the client: the short APIs then
    /// fill ARM's refill around them, instead of the refill going unused while the last
    /// long chains finish.
    ///
    /// Each API's outcome is tallied as it comes, so a pass over thousands of APIs keeps
    /// counts, not an outcome per API.
    async fn run_api_groups(
        &self,
        groups: &[(&str, Vec<&Operation>)],
        applied: &mut Applied,
    ) -> ApisSettled {
        let priority = |ops: &[&Operation]| {
            let imports = ops
                .iter()
                .filter(|op| matches!(op, Operation::ImportSpecification { .. }))
                .count();
            let rank = imports.min(0xFFFF) << 16 | ops.len().min(0xFFFF);
            u32::try_from(rank).unwrap_or(u32::MAX)
        };
        // The stream yields indices, not borrowed groups: a closure taking references
        // makes the future impossible to prove `Send` for callers (rustc #110338).
        let mut outcomes = stream::iter(0..groups.len())
            .map(|i| {
                let (api, ops) = &groups[i];
                let group = self.run_group(Some(api), ops.clone());
                apilink_azure::with_priority(priority(ops), group)
            })
            .buffer_unordered(self.concurrency.max(1));
        let mut settled = ApisSettled::default();
        while let Some(outcome) = outcomes.next().await {
            settled.any_failed |= outcome.failure.is_some();
            settled.any_deferred |= outcome.stopped && outcome.failure.is_none();
            settled.any_unconfirmed |= outcome.unconfirmed;
            self.merge(applied, outcome);
        }
        settled
    }

    /// Runs what follows every API when it may run, given how the APIs settled.
    async fn finish(&self, applied: &mut Applied, settled: ApisSettled, trailing: Vec<&Operation>) {
        let ApisSettled {
            any_failed,
            any_deferred,
            any_unconfirmed,
        } = settled;
        let (blocked, ready): (Vec<&Operation>, Vec<&Operation>) = trailing
            .into_iter()
            .partition(|op| trailing_blocked(op, any_failed || any_deferred, any_unconfirmed));
        let fate = if any_failed {
            Fate::Skipped
        } else {
            Fate::Deferred
        };
        for op in blocked {
            applied.tallies.record(op.entity(), op.action(), fate);
        }
        if !ready.is_empty() {
            let tail = self.run_group(None, ready).await;
            self.merge(applied, tail);
        }
    }

    fn merge(&self, applied: &mut Applied, outcome: GroupOutcome) {
        for (entity, action, fate) in outcome.fates {
            applied.tallies.record(entity, action, fate);
        }
        applied.imports += outcome.imports;
        applied.failures.extend(outcome.failure);
    }

    /// Runs one API's operations in order, stopping at the first failure.
    async fn run_group(&self, api: Option<&str>, ops: Vec<&Operation>) -> GroupOutcome {
        let mut outcome = GroupOutcome::default();
        let mut stop_fate = None;
        let mut ledger_sent = None;
        for op in ops {
            if stop_fate.is_none() {
                ledger_sent = ledger_sent.or_else(|| ledger_sent_with(op));
            }
            let (entity, action) = (op.entity(), op.action());
            if let Some(fate) = stop_fate {
                outcome.fates.push((entity, action, fate));
                self.step();
                continue;
            }
            let fate = match self.execute(op).await {
                Ok(Done::Written) => {
                    if matches!(op, Operation::ImportSpecification { .. }) {
                        outcome.imports += 1;
                    }
                    tracing::debug!(operation = %label(op), "written");
                    Fate::Written
                }
                Ok(Done::Unchanged) => {
                    tracing::debug!(operation = %label(op), "nothing to write");
                    Fate::Unchanged
                }
                Err(OpError::Deferred) => {
                    stop_fate = Some(Fate::Deferred);
                    outcome.stopped = true;
                    Fate::Deferred
                }
                Err(error) => {
                    let failure = self.failure(op, api, error);
                    tracing::warn!(operation = %failure.operation, reason = %failure.reason, error = %failure.message, "operation failed; the rest of this API waits for the next pass");
                    outcome.failure = Some(failure);
                    stop_fate = Some(Fate::Skipped);
                    outcome.stopped = true;
                    Fate::Failed
                }
            };
            outcome.fates.push((entity, action, fate));
            self.step();
        }
        if let (true, Some(api), Some(ledger)) = (outcome.stopped, api, ledger_sent) {
            outcome.unconfirmed = !self
                .unconfirm(api, &ledger, outcome.failure.is_some())
                .await;
        }
        outcome
    }

    /// After an API created with its whole ledger stopped short, writes the ledger back
    /// without its source hash, so the next light pass reads the API's children and
    /// finishes it. Returns whether the API is settled: unconfirmed, or absent.
    async fn unconfirm(&self, api: &str, ledger: &ApiMarker, failed: bool) -> bool {
        if !failed {
            // Deferred by the write budget: no write left for this one either.
            return false;
        }
        let op = Operation::WriteApiMarker {
            api: api.to_string(),
            marker: ledger.unconfirmed(),
        };
        match self.execute(&op).await {
            Ok(_) => true,
            Err(OpError::Refused { reason, .. }) if reason == API_MISSING => true,
            Err(_) => {
                tracing::warn!(
                    api,
                    "could not mark an unfinished API for repair; the next pass reads the APIs this pass created"
                );
                false
            }
        }
    }

    fn failure(&self, op: &Operation, api: Option<&str>, error: OpError) -> OperationFailure {
        let api = api.map(str::to_string);
        match error {
            OpError::Azure(e) => OperationFailure::from_azure(label(op), api, &e),
            OpError::Refused {
                class,
                reason,
                message,
            } => OperationFailure::new(label(op), api, class, reason, message),
            OpError::Deferred => OperationFailure::new(
                label(op),
                api,
                ErrorClass::RetryFast,
                "WriteBudgetExhausted",
                "the pass's write budget is used up".to_string(),
            ),
        }
    }

    async fn execute(&self, op: &Operation) -> Result<Done, OpError> {
        let path = path_of(op);
        match op {
            Operation::EnsureEnvironment { upsert, .. }
            | Operation::UpsertApi { upsert, .. }
            | Operation::UpsertVersion { upsert, .. }
            | Operation::UpsertDefinition { upsert, .. }
            | Operation::UpsertDeployment { upsert, .. } => {
                self.upsert(&path, op.entity(), upsert).await
            }
            Operation::WriteApiMarker { .. } | Operation::WriteEnvironmentRecord { .. } => {
                self.write_marker(&path, op).await
            }
            Operation::LeaveSharedApi { api, .. } => {
                let left = self.write_marker(&path, op).await?;
                self.delete_if_abandoned(api, &path).await?;
                Ok(left)
            }
            Operation::ImportSpecification {
                export,
                kind,
                specification,
                content_hash,
                ..
            } => {
                let import = self
                    .import_body(export, *kind, specification, content_hash)
                    .await?;
                self.gate.acquire().await.map_err(|_| OpError::Deferred)?;
                self.azure
                    .import_specification(self.target, &path, &import)
                    .await?;
                Ok(Done::Written)
            }
            Operation::DeleteDeployment { .. }
            | Operation::DeleteDefinition { .. }
            | Operation::DeleteVersion { .. }
            | Operation::DeleteApi { .. }
            | Operation::DeleteEnvironment { .. } => {
                // Deleting an API takes everything under it: look again, right before,
                // that it is still this link's (a person may have taken it over).
                if matches!(op, Operation::DeleteApi { .. })
                    && self.read_writable(&path, EntityKind::Api).await?.is_none()
                {
                    return Ok(Done::Unchanged);
                }
                self.gate.acquire().await.map_err(|_| OpError::Deferred)?;
                Ok(if self.azure.delete(self.target, &path).await? {
                    Done::Written
                } else {
                    Done::Unchanged
                })
            }
        }
    }

    /// After leaving a shared API: the last link to leave deletes it, when no link's
    /// share and no deployment is left on it (read again, right before).
    async fn delete_if_abandoned(&self, api: &str, path: &EntityPath) -> Result<(), OpError> {
        let Some(current) = self.azure.get(self.target, path).await? else {
            return Ok(());
        };
        let no_share = shares(&current.properties.value()).is_empty()
            && read_api_marker(&current.name, &current.properties.value(), self.link)
                == Ownership::Unmarked;
        if !no_share
            || !self
                .azure
                .list_deployments(self.target, api)
                .await?
                .is_empty()
        {
            return Ok(());
        }
        self.gate.acquire().await.map_err(|_| OpError::Deferred)?;
        self.azure.delete(self.target, path).await?;
        tracing::info!(api, "deleted a shared API its last link left");
        Ok(())
    }

    /// Reads an entity and makes sure the link may write it: an environment or API must
    /// carry this link's marker, a deployment must not carry another link's.
    async fn read_writable(
        &self,
        path: &EntityPath,
        entity: EntityKind,
    ) -> Result<Option<ApicEntity>, OpError> {
        let Some(current) = self.azure.get(self.target, path).await? else {
            return Ok(None);
        };
        let owner = match entity {
            EntityKind::Environment => {
                match read_entity_marker(&current.properties.value(), self.link) {
                    Ownership::Owned(_) => None,
                    other => Some(other.owner_label()),
                }
            }
            EntityKind::Api => {
                match api_ownership_in(
                    self.link,
                    self.shares_apis,
                    &current.name,
                    &current.properties.value(),
                ) {
                    Ownership::Owned(_) | Ownership::Joinable => None,
                    other => Some(other.owner_label()),
                }
            }
            EntityKind::Deployment => {
                match read_entity_marker(&current.properties.value(), self.link) {
                    Ownership::OtherLink(link) => Some(format!("link {link}")),
                    _ => None,
                }
            }
            EntityKind::Version | EntityKind::Definition => None,
        };
        match owner {
            None => Ok(Some(current)),
            Some(owner) => Err(OpError::Refused {
                class: ErrorClass::NeedsUser,
                reason: "OwnershipConflict",
                message: format!("{path} exists but belongs to {owner}: left alone"),
            }),
        }
    }

    /// GET → merge → PUT with `If-Match`, re-reading on 412. A create (the entity was
    /// absent when listed) skips the read and sends `If-None-Match: *`, so an entity
    /// created meanwhile is re-read and merged instead of replaced.
    async fn upsert(
        &self,
        path: &EntityPath,
        entity: EntityKind,
        upsert: &Upsert,
    ) -> Result<Done, OpError> {
        let known_absent = match upsert.intent {
            Intent::Create => Some(None),
            Intent::Update | Intent::Ensure => None,
        };
        let mut write = EntityWrite {
            applier: self,
            path,
            entity,
            body: WriteBody::Upsert(upsert),
        };
        Ok(done(write_merged(&mut write, known_absent).await?))
    }

    /// Records an API's ledger or the environment's record, merged into what is there now.
    async fn write_marker(&self, path: &EntityPath, op: &Operation) -> Result<Done, OpError> {
        let mut write = EntityWrite {
            applier: self,
            path,
            entity: op.entity(),
            body: WriteBody::Marker(op),
        };
        Ok(done(write_merged(&mut write, None).await?))
    }

    /// The document the import of `export` sends: the one held since it was exported,
    /// or — when it was not held (beyond the bound, or taken by an earlier attempt) —
    /// exported again now, and sent only if it is still the content the plan recorded
    /// (`planned_hash`).
    async fn content_to_import(
        &self,
        export: &ApimApiRef,
        kind: SpecKind,
        planned_hash: &str,
    ) -> Result<ExportedContent, OpError> {
        if let Some(content) = self.contents.take(export) {
            return Ok(content);
        }
        let content = self
            .azure
            .export_definition(self.target, export, kind)
            .await?
            .ok_or_else(|| OpError::Refused {
                class: ErrorClass::RetryFast,
                reason: "ContentUnavailable",
                message: format!("APIM no longer exports a definition of {export}"),
            })?;
        let content = if self.shares_apis {
            stage_neutral(content)
        } else {
            content
        };
        if content_hash(content.content.as_bytes()) != planned_hash {
            // APIM changed the document since this pass hashed it: the next pass plans
            // the new content under its own hash.
            return Err(OpError::Refused {
                class: ErrorClass::RetryFast,
                reason: "ContentChanged",
                message: format!("the definition of {export} changed in APIM during the pass"),
            });
        }
        Ok(content)
    }

    /// The importSpecification body: the exported document inline, or — when it is
    /// too large to travel inline — a fresh APIM export link API Center fetches itself.
    async fn import_body(
        &self,
        export: &ApimApiRef,
        kind: SpecKind,
        specification: &apilink_core::observed::SpecificationRef,
        planned_hash: &str,
    ) -> Result<ImportSpecification, OpError> {
        let content = self.content_to_import(export, kind, planned_hash).await?;
        let mut format = ImportFormat::Inline;
        let mut value = None;
        if content.content.len() > MAX_INLINE_IMPORT_BYTES
            && let Some(link) = self
                .azure
                .export_link(self.target, export, content.kind)
                .await?
        {
            format = ImportFormat::Link;
            value = Some(link);
        }
        Ok(ImportSpecification {
            format,
            value: value.unwrap_or(content.content),
            specification: ImportSpecificationRef {
                name: specification.name.clone(),
                version: specification.version.clone(),
            },
        })
    }
}

fn done<C>(outcome: MergeOutcome<C, ()>) -> Done {
    if outcome.was_written() {
        Done::Written
    } else {
        Done::Unchanged
    }
}

/// What a write merges into the entity as read.
#[derive(Clone, Copy)]
enum WriteBody<'o> {
    /// The operation's APIM-owned fields, for the kind of entity written.
    Upsert(&'o Upsert),
    /// The API's ownership record.
    Marker(&'o Operation),
}

/// One entity's merge-style write through the [`AzureSide`]: every read checks the link
/// may write the entity, every write waits for the pass's write budget, and an answer
/// that lost the ownership record fails the write.
struct EntityWrite<'s, 'a, A> {
    applier: &'s Applier<'a, A>,
    path: &'s EntityPath,
    entity: EntityKind,
    body: WriteBody<'s>,
}

impl<A: AzureSide> MergeWrite for EntityWrite<'_, '_, A> {
    type Current = Option<ApicEntity>;
    type Body = Value;
    type Answer = ();
    type Error = OpError;

    fn path(&self) -> &dyn fmt::Display {
        self.path
    }

    fn read(&self) -> impl Future<Output = Result<Option<ApicEntity>, OpError>> + Send {
        self.applier.read_writable(self.path, self.entity)
    }

    fn body(&mut self, current: &Option<ApicEntity>) -> Result<Option<Value>, OpError> {
        let properties = current.as_ref().map(|c| c.properties.value());
        match (self.body, properties) {
            (WriteBody::Upsert(upsert), properties) => Ok(upsert.body_for(properties.as_ref())),
            (WriteBody::Marker(op), Some(properties)) => Ok(op.marker_body(&properties)),
            (WriteBody::Marker(_), None) => Err(OpError::Refused {
                class: ErrorClass::RetryFast,
                reason: API_MISSING,
                message: format!("{} disappeared before its marker was written", self.path),
            }),
        }
    }

    fn precondition(&self, current: &Option<ApicEntity>) -> Precondition {
        match current {
            None => Precondition::IfNoneMatchAny,
            Some(c) => c
                .etag
                .clone()
                .map_or(Precondition::None, Precondition::IfMatch),
        }
    }

    async fn write(&self, body: &Value, precondition: Precondition) -> Result<(), OpError> {
        let applier = self.applier;
        applier
            .gate
            .acquire()
            .await
            .map_err(|_| OpError::Deferred)?;
        let answer = applier
            .azure
            .put(applier.target, self.path, body, precondition)
            .await?;
        // Checked here, with the body at hand; a dropped record carries no status, so
        // it is never taken for a conflict.
        record_kept(self.path, body, &answer, applier.link)
    }

    fn changed_meanwhile(&self, error: &OpError) -> bool {
        let OpError::Azure(error) = error else {
            return false;
        };
        match self.body {
            // 412: changed since read (If-Match) or already there (If-None-Match); some
            // services answer 409 to the latter.
            WriteBody::Upsert(_) => matches!(error.status(), Some(412) | Some(409)),
            // A marker is only ever written over what was read: under If-Match.
            WriteBody::Marker(_) => error.status() == Some(412),
        }
    }
}

/// A service that silently drops custom properties no schema declares would drop the
/// ownership record if its schema went missing: the entity would no longer be the
/// link's. The write's answer shows it at once, with the same test the write probe
/// makes.
fn record_kept(
    path: &EntityPath,
    sent: &Value,
    answer: &ApicEntity,
    link: &LinkId,
) -> Result<(), OpError> {
    let Some(key) = sent_record_key(sent, link) else {
        return Ok(());
    };
    let stored = answer
        .properties
        .get("customProperties")
        .unwrap_or(Value::Null);
    check_custom_property_kept(&path.to_string(), &key, &stored).map_err(OpError::from)
}
