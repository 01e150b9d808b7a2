//! The planner: desired state + observed API Center → ordered operations.
//!
//! A pass, as the engine runs it:
//! 1. read APIM completely and list the API Center APIs (+ the link's environment);
//! 2. [`desired_state`](crate::mapping::desired_state);
//! 3. read children of the APIs named by [`details_needed`];
//! 4. export the definitions named by [`exports_needed`] (hash them with
//!    [`content_hash`](crate::hash::content_hash));
//! 5. [`plan`], then execute the operations in order.
//!
//! Operation order: environment → APIs → versions → definitions → imports → deployments
//! → marker writes (APIs without child deletions) → deletions children-first
//! (deployment → definition → version → API) → marker writes (APIs with child deletions).
//! A crash after any prefix is repaired by the next pass: a child missing from a
//! marker is ensured again under its deterministic name; a stale child still listed is
//! deleted again.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::desired::{DesiredApi, DesiredDefinition, DesiredState, DesiredVersion};
use crate::ids::ApimApiRef;
use crate::json_text::JsonText;
use crate::mapping::SpecKind;
use crate::marker::{
    ApiMarker, DefinitionMarker, Ownership, RECORD_KEY, RecordForm, VersionMarker,
    creating_environment_record, creating_pass, creating_pass_token, entity_marker, hash_matches,
    read_entity_marker,
};
use crate::observed::{
    ApiDetails, ApicEntity, ExportedDefinition, ObservedApiCenter, has_specification,
};
use crate::operation::{Intent, Operation, Upsert};
use crate::ownership::{EntityKind, apim_owned_properties, merge_for_update, set_path};
use crate::plan::{ApiCounts, Drift, DriftKind, Plan, Warning};
use crate::shared::{
    abandoned_children, api_ownership, deployed_by_other, other_shares, resolve, served_by_other,
    shared_record_key,
};
use crate::spec::{DeletionPolicy, LinkSettings};

/// A definition the engine must export from APIM before planning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ExportRequest {
    #[serde(serialize_with = "crate::operation::display")]
    pub api: ApimApiRef,
    /// What to export: OpenAPI JSON, WSDL, or the GraphQL/gRPC schema.
    pub kind: SpecKind,
    /// The content hash the definition is known to hold already: recorded, with the
    /// specification in place. Content with this hash is not imported, so the engine
    /// keeps only its hash (see [`ExportRequest::imports`]).
    pub held_hash: Option<String>,
}

impl ExportRequest {
    /// Whether the planner will import content with hash `content_hash`: the same
    /// test [`plan`] makes, so the engine can drop a document it will not send as soon
    /// as it has hashed it.
    pub fn imports(&self, content_hash: &str) -> bool {
        !hash_matches(self.held_hash.as_deref(), content_hash)
    }
}

/// Exported definitions by APIM API.
pub type Exports = BTreeMap<ApimApiRef, ExportedDefinition>;

/// The owned APIs of `apic`, with their records.
fn owned_apis<'a>(
    settings: &'a LinkSettings,
    apic: &'a ObservedApiCenter,
) -> impl Iterator<Item = (&'a ApicEntity, ApiMarker, RecordForm)> + 'a {
    apic.apis.iter().filter_map(move |o| {
        match api_ownership(settings, &o.name, &o.properties.value()) {
            Ownership::Owned((marker, form)) => Some((o, marker, form)),
            _ => None,
        }
    })
}

fn environment_usable(settings: &LinkSettings, apic: &ObservedApiCenter) -> bool {
    apic.environment
        .as_ref()
        .is_none_or(|e| read_entity_marker(&e.properties.value(), &settings.link).is_owned())
}

/// The token of a creating pass that has not finished, from the link's environment.
fn unfinished_creating_pass(settings: &LinkSettings, apic: &ObservedApiCenter) -> Option<String> {
    apic.environment
        .as_ref()
        .filter(|e| read_entity_marker(&e.properties.value(), &settings.link).is_owned())
        .and_then(|e| creating_pass(&e.properties.value()))
}

/// The token this pass creates APIs under, with their whole ledger in the create
/// request: an unfinished creating pass's, or a new one when the pass creates APIs.
/// `None` when it creates none, or when the environment, which carries the token while
/// the pass runs, is not the link's: each new API then gets its ledger in a separate
/// write once its children are in place.
fn creating_token(
    settings: &LinkSettings,
    desired: &DesiredState,
    apic: &ObservedApiCenter,
) -> Option<String> {
    if let Some(unfinished) = unfinished_creating_pass(settings, apic) {
        return Some(unfinished);
    }
    if !environment_usable(settings, apic) {
        return None;
    }
    let observed: BTreeSet<&str> = apic.apis.iter().map(|a| a.name.as_str()).collect();
    let mut new = desired
        .apis
        .iter()
        .map(|a| a.name.as_str())
        .filter(|name| !observed.contains(name))
        .peekable();
    new.peek()?;
    Some(creating_pass_token(&settings.link, new))
}

/// True when the marker lacks an entry for something the link wants under this API.
fn marker_incomplete(marker: &ApiMarker, api: &DesiredApi, environment_usable: bool) -> bool {
    api.versions.iter().any(|v| {
        let Some(mv) = marker.versions.get(&v.name) else {
            return true;
        };
        v.definition
            .as_ref()
            .is_some_and(|d| match mv.definitions.get(&d.name) {
                None => true,
                Some(md) => {
                    environment_usable
                        && md.deployment.as_deref() != Some(d.deployment.name.as_str())
                }
            })
    })
}

/// The APIs whose children (versions, definitions, deployments) the engine should read
/// before planning: every owned API the pass re-checks (all of them on a full resync,
/// those whose phase falls in a light poll's window: see
/// [`Coverage`](crate::resync_window::Coverage)); otherwise owned APIs whose APIM side
/// changed (`sourceHash`), whose record is incomplete, whose record is still in the
/// legacy form (read once, so its deployments' records are rewritten too), or that
/// a creating pass that did not finish made (their records were written before their
/// children). A link sharing its APIs also reads the shared APIs it is about to join or
/// leave (which versions and definitions other links' deployments still use). A
/// steady-state light pass without a window reads none.
pub fn details_needed(
    settings: &LinkSettings,
    desired: &DesiredState,
    apic: &ObservedApiCenter,
    coverage: crate::resync_window::Coverage,
) -> Vec<String> {
    let desired = resolve(settings, desired, &Exports::new(), apic);
    let by_name: BTreeMap<&str, &DesiredApi> =
        desired.apis.iter().map(|a| (a.name.as_str(), a)).collect();
    let env_usable = environment_usable(settings, apic);
    let unfinished = unfinished_creating_pass(settings, apic);
    let mut names: Vec<String> = owned_apis(settings, apic)
        .filter(|(o, marker, form)| {
            coverage.rechecks(&settings.link, &o.name)
                || match by_name.get(o.name.as_str()) {
                    Some(d) => {
                        *form == RecordForm::Legacy
                            || !hash_matches(marker.source_hash.as_deref(), &d.source_hash)
                            || marker_incomplete(marker, d, env_usable)
                            || (unfinished.is_some() && marker.created_by == unfinished)
                    }
                    None => settings.shares_apis(),
                }
        })
        .map(|(o, _, _)| o.name.clone())
        .collect();
    if settings.shares_apis() {
        names.extend(
            apic.apis
                .iter()
                .filter(|o| by_name.contains_key(o.name.as_str()))
                .filter(|o| {
                    api_ownership(settings, &o.name, &o.properties.value()) == Ownership::Joinable
                })
                .map(|o| o.name.clone()),
        );
        names.sort();
    }
    names
}

/// The definitions the engine must export this pass: none when content is not
/// imported; otherwise those of new APIs, of APIs whose `sourceHash` changed, of
/// definitions without a recorded `contentHash` or (per details) without a
/// specification, and all those of the APIs the pass re-checks (see
/// [`Coverage`](crate::resync_window::Coverage)). A steady-state light pass without a
/// window exports nothing.
pub fn exports_needed(
    settings: &LinkSettings,
    desired: &DesiredState,
    apic: &ObservedApiCenter,
    coverage: crate::resync_window::Coverage,
) -> Vec<ExportRequest> {
    if !settings.imports_content() {
        return Vec::new();
    }
    let desired = resolve(settings, desired, &Exports::new(), apic);
    let observed: BTreeMap<&str, &ApicEntity> =
        apic.apis.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut requests = BTreeSet::new();
    for api in &desired.apis {
        let marker = match observed.get(api.name.as_str()) {
            None => None,
            Some(o) => match api_ownership(settings, &o.name, &o.properties.value()) {
                Ownership::Owned((marker, _)) => Some(marker),
                Ownership::Joinable => None,
                _ => continue,
            },
        };
        let details = apic.details.get(&api.name);
        let rechecked = coverage.rechecks(&settings.link, &api.name);
        for version in &api.versions {
            let Some(def) = &version.definition else {
                continue;
            };
            if export_needed(
                api,
                version,
                def,
                marker.as_ref(),
                details.as_ref(),
                rechecked,
            ) {
                requests.insert(ExportRequest {
                    api: version.source.clone(),
                    kind: def.kind,
                    held_hash: held_hash(version, def, marker.as_ref(), details.as_ref()),
                });
            }
        }
    }
    requests.into_iter().collect()
}

/// Whether a definition's content must be exported this pass. `marker`: the record of
/// its API, `None` for an API the link has yet to create; `rechecked`: the pass's
/// coverage re-checks its API.
fn export_needed(
    api: &DesiredApi,
    version: &DesiredVersion,
    def: &DesiredDefinition,
    marker: Option<&ApiMarker>,
    details: Option<&ApiDetails>,
    rechecked: bool,
) -> bool {
    let Some(marker) = marker else {
        return true;
    };
    let recorded = marker
        .versions
        .get(&version.name)
        .and_then(|v| v.definitions.get(&def.name))
        .and_then(|d| d.content_hash.as_ref());
    let spec_missing = details.is_some_and(|det| {
        det.versions
            .get(&version.name)
            .and_then(|v| v.definitions.get(&def.name))
            .is_none_or(|p| !has_specification(p))
    });
    rechecked
        || !hash_matches(marker.source_hash.as_deref(), &api.source_hash)
        || recorded.is_none()
        || spec_missing
}

/// The content hash a definition holds, as [`Planner::import`] judges it: the one its
/// API's record lists, when its specification is in place (as read when its API's
/// children were, as recorded otherwise). `None` for a new API.
fn held_hash(
    version: &DesiredVersion,
    def: &DesiredDefinition,
    marker: Option<&ApiMarker>,
    details: Option<&ApiDetails>,
) -> Option<String> {
    let recorded = marker?
        .versions
        .get(&version.name)
        .and_then(|v| v.definitions.get(&def.name))
        .and_then(|d| d.content_hash.clone());
    let seen = Seen::from_details(details.map(|det| {
        det.versions
            .get(&version.name)
            .and_then(|v| v.definitions.get(&def.name))
    }));
    let spec_present = seen.holds_specification(recorded.is_some());
    recorded.filter(|_| spec_present)
}

/// The phases of a plan, in the order their operations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Environment,
    Apis,
    Versions,
    Definitions,
    Imports,
    Deployments,
    Markers,
    DeleteDeployments,
    DeleteDefinitions,
    DeleteVersions,
    DeleteApis,
    LateMarkers,
    EnvironmentRecord,
}

impl Phase {
    /// Operations on the children of an API.
    fn is_child(self) -> bool {
        matches!(
            self,
            Phase::Versions
                | Phase::Definitions
                | Phase::Imports
                | Phase::Deployments
                | Phase::DeleteDeployments
                | Phase::DeleteDefinitions
                | Phase::DeleteVersions
        )
    }
}

/// The operations planned so far, each with its phase; the plan runs them phase by
/// phase, each phase in the order planned.
///
/// One list rather than a list per phase: a first sync plans tens of thousands of
/// operations, and lists per phase would be held together with the plan they are
/// concatenated into. The list is put in order where it lies.
#[derive(Default)]
struct Phases {
    /// Order key (phase in the high half, then the order planned) and operation.
    planned: Vec<(u64, Operation)>,
    child_operations: usize,
}

impl Phases {
    fn push(&mut self, phase: Phase, op: Operation) {
        let key = (phase as u64) << 32 | self.planned.len() as u64;
        self.planned.push((key, op));
        if phase.is_child() {
            self.child_operations += 1;
        }
    }

    /// How many operations on the children of APIs are planned so far.
    fn child_operations(&self) -> usize {
        self.child_operations
    }

    /// Room for the operations creating `new` APIs take (an API, and per version its
    /// version, definition, import and deployment): a first sync plans thousands, and a
    /// list grown by doubling would hold up to twice its room.
    fn reserve_for_new<'d>(&mut self, new: impl Iterator<Item = &'d DesiredApi>) {
        let operations: usize = new.map(|api| 1 + 4 * api.versions.len()).sum();
        self.planned.reserve_exact(operations);
    }

    /// The operations in the order they run, in the list they were planned in.
    fn into_operations(mut self) -> Vec<Operation> {
        self.planned.sort_unstable_by_key(|(key, _)| *key);
        self.planned.into_iter().map(|(_, op)| op).collect()
    }
}

/// What is known about one child entity this pass.
#[derive(Clone, Copy)]
enum Seen<'a> {
    /// Details were not read: trust the marker.
    Unknown,
    Absent,
    Present(&'a Value),
}

impl<'a> Seen<'a> {
    fn from_details(details: Option<Option<&'a Value>>) -> Self {
        match details {
            None => Seen::Unknown,
            Some(None) => Seen::Absent,
            Some(Some(v)) => Seen::Present(v),
        }
    }

    /// For a definition: whether it holds its specification, as read when it was, as
    /// `recorded` otherwise.
    fn holds_specification(self, recorded: bool) -> bool {
        match self {
            Seen::Unknown => recorded,
            Seen::Absent => false,
            Seen::Present(p) => has_specification(p),
        }
    }

    /// Delete only what may exist.
    fn may_exist(self) -> bool {
        !matches!(self, Seen::Absent)
    }
}

/// One API whose children are planned, with what is known of them.
#[derive(Clone, Copy)]
struct ChildScope<'a> {
    api: &'a DesiredApi,
    /// Its children as read this pass; `None` when they were not read.
    details: Option<&'a ApiDetails>,
    /// APIM did not change since the record was written, so a difference is drift.
    unchanged: bool,
}

/// An API whose recorded children are weighed for deletion, with what is known of them.
#[derive(Clone, Copy)]
struct Under<'a> {
    api: &'a str,
    /// Its children as read this pass; `None` when they were not read.
    details: Option<&'a ApiDetails>,
    /// Other links' ledgers of a shared API (empty otherwise).
    shares: &'a [ApiMarker],
}

struct Planner<'a> {
    settings: &'a LinkSettings,
    exports: &'a Exports,
    environment_usable: bool,
    /// The token new APIs are created under with their whole ledger (see
    /// [`creating_token`]).
    creating: Option<String>,
    /// The token of an unfinished creating pass: its APIs' records are not confirmed.
    unfinished: Option<String>,
    phases: Phases,
    warnings: Vec<Warning>,
    drift: Vec<Drift>,
}

/// An upsert towards `desired`, which it shares with the desired state.
fn upsert(
    entity: EntityKind,
    intent: Intent,
    desired: &JsonText,
    current: Option<&Value>,
) -> Upsert {
    Upsert::new(entity, intent, desired.clone(), current)
}

impl Planner<'_> {
    fn drift(&mut self, entity: EntityKind, path: String, kind: DriftKind) {
        self.drift.push(Drift { entity, path, kind });
    }

    /// The upsert a child needs, if any. `recorded`: the marker lists it; `unchanged`:
    /// APIM did not change since the marker was written, so a difference is drift.
    fn child(
        &mut self,
        entity: EntityKind,
        desired: &JsonText,
        seen: Seen<'_>,
        recorded: bool,
        unchanged: bool,
        path: String,
    ) -> Option<Upsert> {
        match seen {
            Seen::Absent => {
                if recorded {
                    self.drift(entity, path, DriftKind::Missing);
                }
                Some(upsert(entity, Intent::Create, desired, None))
            }
            Seen::Present(current) => {
                let owned = apim_owned_properties(entity, &desired.value());
                merge_for_update(entity, current, &owned)?;
                if recorded && unchanged {
                    self.drift(entity, path, DriftKind::Modified);
                }
                Some(upsert(entity, Intent::Update, desired, Some(current)))
            }
            Seen::Unknown => {
                (!recorded || !unchanged).then(|| upsert(entity, Intent::Ensure, desired, None))
            }
        }
    }

    fn environment(&mut self, desired: &DesiredState, observed: Option<&ApicEntity>) {
        let env = &desired.environment;
        let mut properties = env.properties.clone();
        if let Some(token) = &self.creating {
            // Carried while the pass runs, cleared once every API it creates is complete.
            set_path(
                &mut properties,
                &["customProperties", RECORD_KEY],
                Some(creating_environment_record(&self.settings.link, token)),
            );
            self.phases.push(
                Phase::EnvironmentRecord,
                Operation::WriteEnvironmentRecord {
                    name: env.name.clone(),
                    record: entity_marker(&self.settings.link)
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                },
            );
        }
        let owned = apim_owned_properties(EntityKind::Environment, &properties);
        let properties = JsonText::from(properties);
        let upsert = match observed {
            None => Some(upsert(
                EntityKind::Environment,
                Intent::Create,
                &properties,
                None,
            )),
            Some(o) => match read_entity_marker(&o.properties.value(), &self.settings.link) {
                Ownership::Owned(_) => {
                    merge_for_update(EntityKind::Environment, &o.properties.value(), &owned).map(
                        |_| {
                            upsert(
                                EntityKind::Environment,
                                Intent::Update,
                                &properties,
                                Some(&o.properties.value()),
                            )
                        },
                    )
                }
                other => {
                    self.warnings.push(Warning::Conflict {
                        entity: EntityKind::Environment,
                        name: env.name.clone(),
                        owner: other.owner_label(),
                    });
                    None
                }
            },
        };
        if let Some(upsert) = upsert {
            self.phases.push(
                Phase::Environment,
                Operation::EnsureEnvironment {
                    name: env.name.clone(),
                    upsert,
                },
            );
        }
    }

    /// A new API with its children. Under a creating token the API is created with its
    /// whole ledger, so it needs no record write of its own; otherwise it is created
    /// owned but listing nothing, and its ledger is written once its children are.
    fn new_api(&mut self, api: &DesiredApi) {
        let mut marker = ApiMarker::new(&self.settings.link, &api.source.to_string());
        marker.shared = api.share.clone();
        let (mut ledger, _) = self.children(api, &marker, Some(&ApiDetails::default()), &[]);
        let record = match &self.creating {
            Some(token) => {
                ledger.created_by = Some(token.clone());
                ledger
            }
            None => {
                self.record(&api.name, &marker, RecordForm::Current, ledger, false);
                marker
            }
        };
        let key = record.key();
        let create = upsert(EntityKind::Api, Intent::Create, &api.properties, None);
        let create = if record.shared.is_some() {
            // Another link may create the same API meanwhile: the create then merges into
            // theirs, and must still carry this link's ledger.
            create.with_record(&key, record.to_value())
        } else {
            create.with_create_record(&key, record.to_value())
        };
        self.phases.push(
            Phase::Apis,
            Operation::UpsertApi {
                api: api.name.clone(),
                upsert: create,
            },
        );
    }

    fn owned_api(
        &mut self,
        api: &DesiredApi,
        observed: &ApicEntity,
        marker: &ApiMarker,
        form: RecordForm,
        details: Option<&ApiDetails>,
    ) {
        let unchanged = self.unchanged(marker, api);
        let others = if self.settings.shares_apis() {
            other_shares(&self.settings.link, &observed.properties.value())
        } else {
            Vec::new()
        };
        let api_upsert = self.child(
            EntityKind::Api,
            &api.properties,
            Seen::Present(&observed.properties.value()),
            true,
            unchanged,
            format!("apis/{}", api.name),
        );
        let children_before = self.phases.child_operations();
        let (ledger, mut deleted) = self.children(api, marker, details, &others);
        if let Some(details) = details.filter(|_| self.settings.shares_apis()) {
            deleted |= self.abandoned(&api.name, details, &ledger, &others);
        }
        let children_planned = self.phases.child_operations() != children_before;
        // An API deleted between this pass's read and its write (a person, or another
        // link leaving a shared API) is created again by the write: it must carry the
        // link's record, unconfirmed so the next pass reads its children.
        let api_upsert = api_upsert.map(|upsert| {
            upsert.with_create_record(&ledger.key(), ledger.unconfirmed().to_value())
        });
        match api_upsert {
            // Nothing under the API changes: its record travels with its own update.
            Some(mut upsert) if !children_planned && form == RecordForm::Current => {
                if ledger.encode() != marker.encode() {
                    // A create (the API vanished meanwhile) keeps the unconfirmed
                    // record set above.
                    upsert = upsert.with_record(&ledger.key(), ledger.to_value());
                }
                self.phases.push(
                    Phase::Apis,
                    Operation::UpsertApi {
                        api: api.name.clone(),
                        upsert,
                    },
                );
            }
            other => {
                if let Some(upsert) = other {
                    self.phases.push(
                        Phase::Apis,
                        Operation::UpsertApi {
                            api: api.name.clone(),
                            upsert,
                        },
                    );
                }
                self.record(&api.name, marker, form, ledger, deleted);
            }
        }
    }

    /// Plans the deletion of what under a shared API no link serves any more (see
    /// [`abandoned_children`]); returns whether it planned any.
    fn abandoned(
        &mut self,
        api: &str,
        details: &ApiDetails,
        ledger: &ApiMarker,
        others: &[ApiMarker],
    ) -> bool {
        let ledgers: Vec<&ApiMarker> = others.iter().chain(std::iter::once(ledger)).collect();
        let abandoned = abandoned_children(details, &ledgers);
        let planned = !abandoned.is_empty();
        for (version, definition) in abandoned {
            let api = api.to_string();
            match definition {
                Some(definition) => self.phases.push(
                    Phase::DeleteDefinitions,
                    Operation::DeleteDefinition {
                        api,
                        version,
                        definition,
                    },
                ),
                None => self.phases.push(
                    Phase::DeleteVersions,
                    Operation::DeleteVersion { api, version },
                ),
            }
        }
        planned
    }

    /// Whether APIM did not change since `marker` was written, so a difference is drift.
    /// Never for an API of an unfinished creating pass: its record was written before its
    /// children.
    fn unchanged(&self, marker: &ApiMarker, api: &DesiredApi) -> bool {
        let unconfirmed = self.unfinished.is_some() && marker.created_by == self.unfinished;
        !unconfirmed && hash_matches(marker.source_hash.as_deref(), &api.source_hash)
    }

    /// Versions, definitions, imports and deployments of one API, then deletions of what
    /// the marker lists but is no longer wanted. Returns the ledger to record and whether
    /// deletions were planned.
    fn children(
        &mut self,
        api: &DesiredApi,
        marker: &ApiMarker,
        details: Option<&ApiDetails>,
        shares: &[ApiMarker],
    ) -> (ApiMarker, bool) {
        let scope = ChildScope {
            api,
            details,
            unchanged: self.unchanged(marker, api),
        };
        let drift_before = self.drift.len();
        let mut ledger = ApiMarker {
            link: self.settings.link.to_string(),
            source: api.source.to_string(),
            source_hash: Some(api.source_hash.clone()),
            created_by: marker.created_by.clone(),
            shared: api.share.clone(),
            versions: BTreeMap::new(),
        };
        for version in &api.versions {
            let recorded = marker.versions.get(&version.name);
            let version_ledger = self.version(scope, version, recorded);
            ledger.versions.insert(version.name.clone(), version_ledger);
        }
        let wanted_deployments: BTreeSet<String> = ledger
            .versions
            .values()
            .flat_map(|v| v.definitions.values())
            .filter_map(|d| d.deployment.clone())
            .collect();
        let under = Under {
            api: &api.name,
            details,
            shares,
        };
        let deleted = self.stale_children(under, &api.versions, marker, &wanted_deployments);
        if self.unfinished.is_some() && marker.created_by == self.unfinished {
            // Its record was written before its children: what is missing was never made.
            self.drift.truncate(drift_before);
        }
        (ledger, deleted)
    }

    /// Plans one version and its definition; returns what the record lists for it.
    fn version(
        &mut self,
        scope: ChildScope<'_>,
        version: &DesiredVersion,
        recorded: Option<&VersionMarker>,
    ) -> VersionMarker {
        let observed = scope.details.map(|d| d.versions.get(&version.name));
        let seen = Seen::from_details(observed.map(|v| v.map(|v| &v.properties)));
        let path = format!("apis/{}/versions/{}", scope.api.name, version.name);
        if let Some(upsert) = self.child(
            EntityKind::Version,
            &version.properties,
            seen,
            recorded.is_some(),
            scope.unchanged,
            path.clone(),
        ) {
            self.phases.push(
                Phase::Versions,
                Operation::UpsertVersion {
                    api: scope.api.name.clone(),
                    version: version.name.clone(),
                    upsert,
                },
            );
        }
        let mut ledger = VersionMarker::default();
        if let Some(def) = &version.definition {
            let recorded = recorded.and_then(|v| v.definitions.get(&def.name));
            let seen =
                Seen::from_details(observed.map(|v| v.and_then(|v| v.definitions.get(&def.name))));
            let path = format!("{path}/definitions/{}", def.name);
            let entry = self.definition(scope, version, def, recorded, seen, path);
            ledger.definitions.insert(def.name.clone(), entry);
        }
        ledger
    }

    /// Plans a definition, the import of its content and its deployment; returns what the
    /// record lists for it.
    fn definition(
        &mut self,
        scope: ChildScope<'_>,
        version: &DesiredVersion,
        def: &DesiredDefinition,
        recorded: Option<&DefinitionMarker>,
        seen: Seen<'_>,
        path: String,
    ) -> DefinitionMarker {
        if let Some(upsert) = self.child(
            EntityKind::Definition,
            &def.properties,
            seen,
            recorded.is_some(),
            scope.unchanged,
            path.clone(),
        ) {
            self.phases.push(
                Phase::Definitions,
                Operation::UpsertDefinition {
                    api: scope.api.name.clone(),
                    version: version.name.clone(),
                    definition: def.name.clone(),
                    upsert,
                },
            );
        }
        let content_hash = self.import(scope.api, version, recorded, seen, path);
        let deployment = self.deployment(scope.api, def, recorded, scope.details, scope.unchanged);
        DefinitionMarker {
            content_hash,
            deployment,
        }
    }

    /// Plans the write of the API's record when it changed. With child deletions planned
    /// it waits until after them: a crash in between leaves the stale children listed,
    /// so the next pass deletes them again.
    fn record(
        &mut self,
        api: &str,
        marker: &ApiMarker,
        form: RecordForm,
        ledger: ApiMarker,
        deleted: bool,
    ) {
        // Records compare in their written form: hashes are kept shortened.
        if form != RecordForm::Legacy && ledger.encode() == marker.encode() {
            return;
        }
        let write = Operation::WriteApiMarker {
            api: api.to_string(),
            marker: ledger,
        };
        if deleted {
            self.phases.push(Phase::LateMarkers, write);
        } else {
            self.phases.push(Phase::Markers, write);
        }
    }

    /// Plans the import of a definition's content; returns the content hash to record.
    fn import(
        &mut self,
        api: &DesiredApi,
        version: &DesiredVersion,
        recorded: Option<&DefinitionMarker>,
        seen: Seen<'_>,
        path: String,
    ) -> Option<String> {
        if !self.settings.imports_content() {
            return None;
        }
        let def = version.definition.as_ref()?;
        let recorded_hash = recorded.and_then(|d| d.content_hash.clone());
        let spec_present = self.specification_present(seen, recorded_hash.is_some(), path);
        match self.exports.get(&version.source) {
            Some(export) => {
                if !spec_present || !hash_matches(recorded_hash.as_deref(), &export.content_hash) {
                    self.phases.push(
                        Phase::Imports,
                        Operation::ImportSpecification {
                            api: api.name.clone(),
                            version: version.name.clone(),
                            definition: def.name.clone(),
                            export: version.source.clone(),
                            kind: def.kind,
                            specification: export.specification.clone(),
                            content_hash: export.content_hash.clone(),
                        },
                    );
                }
                Some(export.content_hash.clone())
            }
            None if spec_present => recorded_hash,
            None => {
                self.warnings.push(Warning::ContentUnavailable {
                    api: api.name.clone(),
                    version: version.name.clone(),
                    definition: def.name.clone(),
                });
                None
            }
        }
    }

    /// Whether the definition holds its specification: as read when it was, as recorded
    /// otherwise. A recorded specification that is gone is drift.
    fn specification_present(&mut self, seen: Seen<'_>, recorded: bool, path: String) -> bool {
        let present = seen.holds_specification(recorded);
        if matches!(seen, Seen::Present(_)) && !present && recorded {
            self.drift(
                EntityKind::Definition,
                path,
                DriftKind::SpecificationMissing,
            );
        }
        present
    }

    /// Plans a definition's deployment; returns its name when the link keeps it.
    fn deployment(
        &mut self,
        api: &DesiredApi,
        def: &DesiredDefinition,
        recorded: Option<&DefinitionMarker>,
        details: Option<&ApiDetails>,
        unchanged: bool,
    ) -> Option<String> {
        if !self.environment_usable {
            return None;
        }
        let dep = &def.deployment;
        let seen = Seen::from_details(details.map(|d| d.deployments.get(&dep.name)));
        if let Seen::Present(current) = seen
            && let Ownership::OtherLink(owner) = read_entity_marker(current, &self.settings.link)
        {
            self.warnings.push(Warning::Conflict {
                entity: EntityKind::Deployment,
                name: format!("{}/{}", api.name, dep.name),
                owner: format!("link {owner}"),
            });
            return None;
        }
        let recorded = recorded.and_then(|d| d.deployment.as_deref()) == Some(dep.name.as_str());
        if let Some(upsert) = self.child(
            EntityKind::Deployment,
            &dep.properties,
            seen,
            recorded,
            unchanged,
            format!("apis/{}/deployments/{}", api.name, dep.name),
        ) {
            self.phases.push(
                Phase::Deployments,
                Operation::UpsertDeployment {
                    api: api.name.clone(),
                    deployment: dep.name.clone(),
                    upsert,
                },
            );
        }
        Some(dep.name.clone())
    }

    /// Plans the deletion of a recorded deployment the link no longer wants, unless it is
    /// gone or not the link's to delete; returns whether it did.
    fn stale_deployment(&mut self, api: &str, dep: &str, details: Option<&ApiDetails>) -> bool {
        let observed = details.map(|d| d.deployments.get(dep));
        let foreign = matches!(observed, Some(Some(p))
            if !matches!(read_entity_marker(p, &self.settings.link), Ownership::Owned(_) | Ownership::Unmarked));
        if !Seen::from_details(observed).may_exist() || foreign {
            return false;
        }
        self.phases.push(
            Phase::DeleteDeployments,
            Operation::DeleteDeployment {
                api: api.to_string(),
                deployment: dep.to_string(),
            },
        );
        true
    }

    /// Whether another link sharing the API still serves a version (or its definition):
    /// its ledger lists it, or a deployment not the link's points at it.
    fn used_by_others(&self, under: Under<'_>, version: &str, definition: Option<&str>) -> bool {
        self.settings.shares_apis()
            && (served_by_other(&self.settings.link, under.shares, version, definition)
                || deployed_by_other(&self.settings.link, under.details, version, definition))
    }

    /// Deletes, children first, what the marker lists and the link no longer wants.
    /// Returns whether anything was planned.
    fn stale_children(
        &mut self,
        under: Under<'_>,
        wanted: &[DesiredVersion],
        marker: &ApiMarker,
        wanted_deployments: &BTreeSet<String>,
    ) -> bool {
        let details = under.details;
        let name = &under.api.to_string();
        let mut planned = false;
        for (version_name, recorded_version) in &marker.versions {
            let desired_version = wanted.iter().find(|v| &v.name == version_name);
            let observed_version = details.map(|d| d.versions.get(version_name));
            for (def_name, recorded_def) in &recorded_version.definitions {
                if let Some(dep) = &recorded_def.deployment
                    && !wanted_deployments.contains(dep)
                {
                    planned |= self.stale_deployment(name, dep, details);
                }
                let kept = desired_version
                    .and_then(|v| v.definition.as_ref())
                    .is_some_and(|d| &d.name == def_name);
                let observed =
                    observed_version.map(|v| v.and_then(|v| v.definitions.get(def_name)));
                if !kept
                    && Seen::from_details(observed).may_exist()
                    && !self.used_by_others(under, version_name, Some(def_name))
                {
                    self.phases.push(
                        Phase::DeleteDefinitions,
                        Operation::DeleteDefinition {
                            api: name.clone(),
                            version: version_name.clone(),
                            definition: def_name.clone(),
                        },
                    );
                    planned = true;
                }
            }
            let observed = observed_version.map(|v| v.map(|v| &v.properties));
            if desired_version.is_none()
                && Seen::from_details(observed).may_exist()
                && !self.used_by_others(under, version_name, None)
            {
                self.phases.push(
                    Phase::DeleteVersions,
                    Operation::DeleteVersion {
                        api: name.clone(),
                        version: version_name.clone(),
                    },
                );
                planned = true;
            }
        }
        planned
    }
}

impl Planner<'_> {
    /// Plans every desired API with its children; returns how many were skipped because
    /// something else owns their name.
    fn apis(&mut self, desired: &DesiredState, apic: &ObservedApiCenter) -> usize {
        let observed: BTreeMap<&str, &ApicEntity> =
            apic.apis.iter().map(|a| (a.name.as_str(), a)).collect();
        self.phases.reserve_for_new(
            desired
                .apis
                .iter()
                .filter(|api| !observed.contains_key(api.name.as_str())),
        );
        let mut skipped = 0;
        for api in &desired.apis {
            match observed.get(api.name.as_str()) {
                None => self.new_api(api),
                Some(o) => match api_ownership(self.settings, &o.name, &o.properties.value()) {
                    Ownership::Owned((marker, form)) => {
                        let details = apic.details.get(&api.name);
                        self.owned_api(api, o, &marker, form, details.as_ref());
                    }
                    Ownership::Joinable => {
                        // Joining: an empty ledger, so every child is checked as read.
                        let mut marker =
                            ApiMarker::new(&self.settings.link, &api.source.to_string());
                        marker.shared = api.share.clone();
                        let form = RecordForm::Current;
                        let details = apic.details.get(&api.name);
                        self.owned_api(api, o, &marker, form, details.as_ref());
                    }
                    other => {
                        skipped += 1;
                        self.warnings.push(Warning::Conflict {
                            entity: EntityKind::Api,
                            name: api.name.clone(),
                            owner: other.owner_label(),
                        });
                    }
                },
            }
        }
        skipped
    }

    /// Warns of APIs carrying a copy of the link's record: foreign, left alone.
    fn copied_records(&mut self, apic: &ObservedApiCenter) {
        for o in &apic.apis {
            if api_ownership(self.settings, &o.name, &o.properties.value()) == Ownership::Copied {
                self.warnings.push(Warning::CopiedRecord {
                    api: o.name.clone(),
                });
            }
        }
    }

    /// Plans the deletion of the owned APIs the link no longer wants.
    fn unwanted_apis(&mut self, desired: &DesiredState, apic: &ObservedApiCenter) {
        let wanted: BTreeSet<&str> = desired.apis.iter().map(|a| a.name.as_str()).collect();
        for (o, marker, _) in owned_apis(self.settings, apic) {
            if !wanted.contains(o.name.as_str()) {
                self.remove_api(o, &marker, apic.details.get(&o.name).as_ref());
            }
        }
    }

    /// Removes an owned API the link no longer serves: the whole API, unless other
    /// links sharing it still serve it; then only the link's deployments, the versions
    /// and definitions no other link uses, and the link's ledger.
    fn remove_api(&mut self, o: &ApicEntity, marker: &ApiMarker, details: Option<&ApiDetails>) {
        let others = other_shares(&self.settings.link, &o.properties.value());
        let deployed_elsewhere = details.is_some_and(|d| {
            d.deployments
                .values()
                .any(|p| !read_entity_marker(p, &self.settings.link).is_owned())
        });
        if !self.settings.shares_apis() || (others.is_empty() && !deployed_elsewhere) {
            self.phases.push(
                Phase::DeleteApis,
                Operation::DeleteApi {
                    api: o.name.clone(),
                },
            );
            return;
        }
        let under = Under {
            api: &o.name,
            details,
            shares: &others,
        };
        self.stale_children(under, &[], marker, &BTreeSet::new());
        self.phases.push(
            Phase::LateMarkers,
            Operation::LeaveSharedApi {
                api: o.name.clone(),
                key: shared_record_key(&self.settings.link),
            },
        );
    }
}

/// Plans one pass for the link: brings API Center in line with `desired`, touching only
/// what the link owns. `exports` holds the definitions exported this pass (see
/// [`exports_needed`]); `apic.details` the children read (see [`details_needed`]).
/// `suspend` is the caller's business: this always plans.
pub fn plan(
    settings: &LinkSettings,
    desired: &DesiredState,
    exports: &Exports,
    apic: &ObservedApiCenter,
) -> Plan {
    let desired = &*resolve(settings, desired, exports, apic);
    let mut planner = Planner {
        settings,
        exports,
        environment_usable: environment_usable(settings, apic),
        creating: creating_token(settings, desired, apic),
        unfinished: unfinished_creating_pass(settings, apic),
        phases: Phases::default(),
        warnings: desired.warnings.clone(),
        drift: Vec::new(),
    };
    planner.environment(desired, apic.environment.as_ref());
    let skipped = planner.apis(desired, apic);
    planner.copied_records(apic);
    planner.unwanted_apis(desired, apic);
    Plan {
        operations: planner.phases.into_operations(),
        warnings: planner.warnings,
        drift: planner.drift,
        counts: ApiCounts {
            discovered: desired.apis.len(),
            synced: desired.apis.len() - skipped,
            skipped,
        },
        held: None,
    }
}

/// How many APIs of `apic` the link owns (what the deletion guard weighs deletions
/// against).
pub fn owned_api_count(settings: &LinkSettings, apic: &ObservedApiCenter) -> usize {
    owned_apis(settings, apic).count()
}

/// The names of the APIs of `apic` the link owns (on shared APIs: its share of them).
pub fn owned_api_names(settings: &LinkSettings, apic: &ObservedApiCenter) -> Vec<String> {
    owned_apis(settings, apic)
        .map(|(o, _, _)| o.name.clone())
        .collect()
}

/// Plans the removal of everything the link owns, for the deletion of the link: every
/// owned API (deleting an API deletes its versions, definitions and deployments), then
/// the owned environment. Empty under `deletionPolicy: Orphan`. Re-planning after a
/// partial cleanup plans only what is left.
pub fn cleanup_plan(settings: &LinkSettings, apic: &ObservedApiCenter) -> Plan {
    let mut operations = Vec::new();
    if settings.deletion_policy == DeletionPolicy::Delete {
        // Removal as of a pass that wants nothing: what the link alone brought goes.
        let mut planner = Planner {
            settings,
            exports: &Exports::new(),
            environment_usable: environment_usable(settings, apic),
            creating: None,
            unfinished: None,
            phases: Phases::default(),
            warnings: Vec::new(),
            drift: Vec::new(),
        };
        for (o, marker, _) in owned_apis(settings, apic) {
            planner.remove_api(o, &marker, apic.details.get(&o.name).as_ref());
        }
        operations.extend(planner.phases.into_operations());
        if let Some(env) = &apic.environment
            && read_entity_marker(&env.properties.value(), &settings.link).is_owned()
        {
            operations.push(Operation::DeleteEnvironment {
                name: env.name.clone(),
            });
        }
    }
    Plan {
        operations,
        ..Plan::default()
    }
}
