//! Parsing of request paths below `.../providers/Microsoft.ApiCenter/` into typed targets.

use axum::http::StatusCode;

use super::kind::Kind;
use crate::arm::{APIC_API_VERSION, ArmError};

/// One resource below a service: the service name and the (kind, name) pairs leading to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemPath {
    pub service: String,
    pub chain: Vec<(Kind, String)>,
}

impl ItemPath {
    pub(crate) fn kind(&self) -> Kind {
        // A chain is never empty: parse_resource_group_path only builds non-empty ones.
        self.chain.last().map_or(Kind::Workspace, |(kind, _)| *kind)
    }

    pub(crate) fn name(&self) -> &str {
        self.chain.last().map_or("", |(_, name)| name.as_str())
    }

    /// `service/ws/api/...`: the nested name ARM uses in "not found" messages.
    pub(crate) fn display_name(&self) -> String {
        let mut out = self.service.clone();
        for (_, name) in &self.chain {
            out.push('/');
            out.push_str(name);
        }
        out
    }

    /// The pairs of the enclosing resource (empty for direct children of the service).
    pub(crate) fn parent_chain(&self) -> &[(Kind, String)] {
        &self.chain[..self.chain.len().saturating_sub(1)]
    }

    /// The path of the item `depth` levels down (1 = the first pair).
    pub(crate) fn prefix(&self, depth: usize) -> ItemPath {
        ItemPath {
            service: self.service.clone(),
            chain: self.chain[..depth.min(self.chain.len())].to_vec(),
        }
    }
}

/// What a request below `resourceGroups/{rg}/providers/Microsoft.ApiCenter/` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    ServiceList,
    Service(String),
    Collection {
        service: String,
        parent: Vec<(Kind, String)>,
        kind: Kind,
    },
    Item(ItemPath),
    Action(ItemPath, SpecAction),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpecAction {
    Import,
    Export,
}

/// What a request below `subscriptions/{sub}/providers/Microsoft.ApiCenter/` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubscriptionTarget {
    ServiceList,
    OperationStatus(String),
    OperationResult(String),
}

/// API Center's rule for every name segment: `^[a-zA-Z0-9-]{3,90}$`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    (3..=90).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn check_name(label: &str, param: &str, name: &str) -> Result<(), ArmError> {
    if is_valid_name(name) {
        return Ok(());
    }
    Err(ArmError::new(
        StatusCode::BAD_REQUEST,
        "InvalidResourceName",
        format!(
            "The {label} name '{name}' is invalid: names must be 3 to 90 characters of ASCII \
             letters, digits and hyphens (^[a-zA-Z0-9-]{{3,90}}$)."
        ),
    )
    .with_target(param))
}

fn unknown_type(path: &str) -> ArmError {
    ArmError::new(
        StatusCode::BAD_REQUEST,
        "InvalidResourceType",
        format!(
            "The resource type '{path}' could not be found in the namespace \
             'Microsoft.ApiCenter' for api version '{APIC_API_VERSION}'."
        ),
    )
}

/// Parses the part after `providers/Microsoft.ApiCenter/` of a resource-group scoped path.
pub(crate) fn parse_resource_group_path(rest: &str) -> Result<Target, ArmError> {
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let Some((&first, tail)) = segments.split_first() else {
        return Err(unknown_type(rest));
    };
    if !first.eq_ignore_ascii_case("services") {
        return Err(unknown_type(rest));
    }
    let Some((&service, mut tail)) = tail.split_first() else {
        return Ok(Target::ServiceList);
    };
    check_name("API Center service", "serviceName", service)?;
    let service = service.to_string();
    let mut chain: Vec<(Kind, String)> = Vec::new();
    loop {
        let Some((&segment, after)) = tail.split_first() else {
            return Ok(if chain.is_empty() {
                Target::Service(service)
            } else {
                Target::Item(ItemPath { service, chain })
            });
        };
        let parent = chain.last().map(|(kind, _)| *kind);
        if parent == Some(Kind::Definition) && after.is_empty() {
            let action = if segment.eq_ignore_ascii_case("importSpecification") {
                Some(SpecAction::Import)
            } else if segment.eq_ignore_ascii_case("exportSpecification") {
                Some(SpecAction::Export)
            } else {
                None
            };
            if let Some(action) = action {
                return Ok(Target::Action(ItemPath { service, chain }, action));
            }
        }
        let kind = Kind::from_segment(parent, segment).ok_or_else(|| unknown_type(rest))?;
        let Some((&name, after)) = after.split_first() else {
            return Ok(Target::Collection {
                service,
                parent: chain,
                kind,
            });
        };
        check_name(kind.label(), kind.param_name(), name)?;
        chain.push((kind, name.to_string()));
        tail = after;
    }
}

/// Parses the part after `providers/Microsoft.ApiCenter/` of a subscription scoped path.
pub(crate) fn parse_subscription_path(rest: &str) -> Result<SubscriptionTarget, ArmError> {
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        [services] if services.eq_ignore_ascii_case("services") => {
            Ok(SubscriptionTarget::ServiceList)
        }
        [locations, _location, collection, id] if locations.eq_ignore_ascii_case("locations") => {
            if collection.eq_ignore_ascii_case("operationStatuses") {
                Ok(SubscriptionTarget::OperationStatus((*id).to_string()))
            } else if collection.eq_ignore_ascii_case("operationResults") {
                Ok(SubscriptionTarget::OperationResult((*id).to_string()))
            } else {
                Err(unknown_type(rest))
            }
        }
        _ => Err(unknown_type(rest)),
    }
}
