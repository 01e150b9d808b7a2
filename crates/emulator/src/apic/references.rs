//! A deployment's `environmentId` and `definitionId`: service-relative ids that must resolve.

use serde_json::{Map, Value};

use super::kind::Kind;
use super::path::ItemPath;
use super::store::{Node, resolve};
use crate::arm::ArmError;

/// Parses `/workspaces/{ws}/...` into (kind, name) pairs following the kinds in `shape`.
fn parse_relative(id: &str, shape: &[Kind]) -> Option<Vec<(Kind, String)>> {
    let rest = id.strip_prefix('/')?;
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.len() != shape.len() * 2 {
        return None;
    }
    shape
        .iter()
        .zip(segments.chunks(2))
        .map(|(kind, pair)| match pair {
            [segment, name] if segment.eq_ignore_ascii_case(kind.segment()) && !name.is_empty() => {
                Some((*kind, (*name).to_string()))
            }
            _ => None,
        })
        .collect()
}

fn reference(
    root: &Node,
    properties: &Map<String, Value>,
    member: &str,
    shape: &[Kind],
    example: &str,
    must_share: usize,
    deployment: &ItemPath,
) -> Result<(), ArmError> {
    let Some(id) = properties.get(member).and_then(Value::as_str) else {
        return Ok(());
    };
    let target = format!("properties.{member}");
    if id.to_ascii_lowercase().starts_with("/subscriptions/") {
        return Err(ArmError::validation(
            &target,
            format!(
                "The member '{target}' must be an API Center-scoped id such as '{example}', not a full ARM resource id ('{id}')."
            ),
        ));
    }
    let chain = parse_relative(id, shape).ok_or_else(|| {
        ArmError::validation(
            &target,
            format!("The member '{target}' ('{id}') is not an id of the form '{example}'."),
        )
    })?;
    let shares_scope = chain
        .iter()
        .zip(&deployment.chain)
        .take(must_share)
        .all(|((_, a), (_, b))| a.eq_ignore_ascii_case(b));
    if !shares_scope {
        return Err(ArmError::validation(
            &target,
            format!(
                "The member '{target}' ('{id}') must refer to a resource of the deployment's own {}.",
                if must_share > 1 { "API" } else { "workspace" }
            ),
        ));
    }
    resolve(root, &chain).map(|_| ()).map_err(|_| {
        ArmError::validation(
            &target,
            format!("The member '{target}' refers to '{id}', which does not exist."),
        )
    })
}

/// Checks the references of the deployment at `deployment` (workspace/api/deployment).
pub(crate) fn check_references(
    root: &Node,
    deployment: &ItemPath,
    properties: &Map<String, Value>,
) -> Result<(), ArmError> {
    reference(
        root,
        properties,
        "environmentId",
        &[Kind::Workspace, Kind::Environment],
        "/workspaces/default/environments/{environment}",
        1,
        deployment,
    )?;
    reference(
        root,
        properties,
        "definitionId",
        &[Kind::Workspace, Kind::Api, Kind::Version, Kind::Definition],
        "/workspaces/default/apis/{api}/versions/{version}/definitions/{definition}",
        2,
        deployment,
    )
}
