//! The result of planning: operations, warnings, drift and counts.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::guard::HeldDeletions;
use crate::operation::{Action, Operation};
use crate::ownership::EntityKind;

/// Something the user should know; never a reason to fail the pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Warning {
    /// An entity with a name the link wants exists but is not the link's: left alone.
    Conflict {
        entity: EntityKind,
        name: String,
        owner: String,
    },
    /// The runtime URI exceeds API Center's 200 characters: the deployment has none.
    RuntimeUriTooLong {
        api: String,
        deployment: String,
        length: usize,
    },
    /// Two APIM entities map to the same API Center name: the later one is skipped.
    NameCollision {
        api: String,
        name: String,
        source: String,
    },
    /// Definition content was needed but not exported this pass: not imported.
    ContentUnavailable {
        api: String,
        version: String,
        definition: String,
    },
    /// The APIM service has no gateway URL: deployments have no runtime URI.
    NoGatewayUrl,
    /// An API carries a copy of this link's ownership record under a name the link never
    /// gives it (a portal copy, an export/import script): it is foreign and left alone.
    CopiedRecord { api: String },
    /// A value from APIM was cut or left out to fit API Center's limits; the API still syncs.
    ValueAdjusted {
        api: String,
        field: String,
        change: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict {
                entity,
                name,
                owner,
            } => write!(
                f,
                "{} {name:?} exists but is owned by {owner}: skipped",
                entity.as_str()
            ),
            Self::RuntimeUriTooLong {
                api,
                deployment,
                length,
            } => write!(
                f,
                "runtime URI of deployment {deployment:?} of API {api:?} has {length} characters (max 200): left out"
            ),
            Self::NameCollision { api, name, source } => write!(
                f,
                "{source} maps to name {name:?} already used in API {api:?}: skipped"
            ),
            Self::ContentUnavailable {
                api,
                version,
                definition,
            } => write!(
                f,
                "content of definition {definition:?} of {api}/{version} was not exported this pass: not imported"
            ),
            Self::NoGatewayUrl => write!(f, "APIM reports no gateway URL: no runtime URIs"),
            Self::CopiedRecord { api } => write!(
                f,
                "API {api:?} carries a copy of this link's ownership record but is not one the link created: left alone (remove its apilink-ownership property)"
            ),
            Self::ValueAdjusted { api, field, change } => {
                write!(f, "API {api:?}: {field}: {change}")
            }
        }
    }
}

/// How an owned entity differs from what the link last applied, without APIM having
/// changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftKind {
    /// Deleted in API Center: recreated.
    Missing,
    /// An APIM-owned field was edited in API Center: overwritten.
    Modified,
    /// A definition lost its imported specification: re-imported.
    SpecificationMissing,
}

/// One drifted entity, given by its service-relative path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub entity: EntityKind,
    pub path: String,
    pub kind: DriftKind,
}

/// API counts for the link's status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiCounts {
    /// API Center APIs the APIM side maps to after the filter.
    pub discovered: usize,
    /// Of those, the ones the link manages.
    pub synced: usize,
    /// Of those, the ones left alone (conflicts, name collisions).
    pub skipped: usize,
}

/// What one pass will do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub operations: Vec<Operation>,
    pub warnings: Vec<Warning>,
    pub drift: Vec<Drift>,
    pub counts: ApiCounts,
    /// API deletions the deletion guard took out of the plan, until confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<HeldDeletions>,
}

/// Operation counts by entity and action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanSummary {
    pub counts: BTreeMap<(EntityKind, Action), usize>,
}

impl PlanSummary {
    pub fn get(&self, entity: EntityKind, action: Action) -> usize {
        self.counts.get(&(entity, action)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.counts.is_empty() {
            return write!(f, "no changes");
        }
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|((entity, action), n)| format!("{n} {} {}", entity.as_str(), action.as_str()))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Operation counts by entity and action.
    pub fn summary(&self) -> PlanSummary {
        let mut summary = PlanSummary::default();
        for op in &self.operations {
            *summary
                .counts
                .entry((op.entity(), op.action()))
                .or_default() += 1;
        }
        summary
    }

    /// Number of writes (PUT, POST, DELETE) the plan may cost at most.
    pub fn write_count(&self) -> usize {
        self.operations.len()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for op in &self.operations {
            writeln!(f, "{op}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        for drift in &self.drift {
            writeln!(f, "drift: {:?} {}", drift.kind, drift.path)?;
        }
        write!(
            f,
            "summary: {} (APIs: {} discovered, {} synced, {} skipped)",
            self.summary(),
            self.counts.discovered,
            self.counts.synced,
            self.counts.skipped
        )
    }
}
