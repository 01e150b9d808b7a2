//! Changes to the APIM model: what the admin routes and `ApimHandle` do.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ApimError;
use super::catalog;
use super::literal;
use super::load::{
    self, Generations, OperationCache, build_api, build_version_set, check_unique_route,
};
use super::model::{Api, ApimState, Revision, Scope, key, split_revision};
use super::seed::{ApiSeed, OperationSeed, VersionSetSeed, operations_of};

/// Changes to an API's current revision; absent members stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    /// Moves the API into this version set (with `version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<OperationSeed>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
}

/// A new definition for an API: its operations, or literal content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefinitionUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<OperationSeed>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// A new revision, copied from the current one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRevision {
    /// Default: one more than the highest revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<u32>,
    /// The revision's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Release it at once.
    #[serde(default)]
    pub make_current: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ApiPatch>,
}

pub(crate) fn scope<'a>(
    state: &'a ApimState,
    service: &str,
    workspace: Option<&str>,
) -> Result<&'a Scope, ApimError> {
    let s = state
        .services
        .get(&key(service))
        .ok_or_else(|| ApimError::NotFound(format!("service '{service}'")))?;
    s.scope(workspace)
        .ok_or_else(|| ApimError::NotFound(format!("workspace '{}'", workspace.unwrap_or(""))))
}

fn scope_mut<'a>(
    state: &'a mut ApimState,
    service: &str,
    workspace: Option<&str>,
) -> Result<&'a mut Scope, ApimError> {
    let s = state
        .services
        .get_mut(&key(service))
        .ok_or_else(|| ApimError::NotFound(format!("service '{service}'")))?;
    s.scope_mut(workspace)
        .ok_or_else(|| ApimError::NotFound(format!("workspace '{}'", workspace.unwrap_or(""))))
}

fn plain_id(api_id: &str) -> Result<&str, ApimError> {
    match split_revision(api_id) {
        Ok((id, None)) => Ok(id),
        _ => Err(ApimError::Invalid(format!(
            "'{api_id}' names a revision; give the API id"
        ))),
    }
}

pub(crate) fn upsert_api(
    state: &mut ApimState,
    generations: &mut Generations<'_>,
    service: &str,
    workspace: Option<&str>,
    seed: &ApiSeed,
) -> Result<bool, ApimError> {
    catalog::check_api_tags(workspace, seed)?;
    let scope = scope_mut(state, service, workspace)?;
    let api = build_api(seed, scope, generations, &mut OperationCache::default())?;
    check_unique_route(scope, &api)?;
    let created = scope.apis.insert(key(&seed.id), api).is_none();
    if workspace.is_none() {
        catalog::adopt_api_tags(state, service, &seed.id)?;
    }
    Ok(created)
}

fn apply_patch(
    rev: &mut Revision,
    patch: &ApiPatch,
    scope: &Scope,
    api_id: &str,
) -> Result<(), ApimError> {
    if let Some(d) = &patch.display_name {
        if d.is_empty() || d.chars().count() > 300 {
            return Err(ApimError::Invalid(
                "displayName must be 1-300 characters".into(),
            ));
        }
        rev.display_name = d.clone();
    }
    if let Some(d) = &patch.description {
        rev.description = Some(d.clone());
    }
    if let Some(p) = &patch.path {
        rev.path = p.clone();
    }
    if let Some(u) = &patch.service_url {
        rev.service_url = Some(u.clone());
    }
    if let Some(vs) = &patch.version_set {
        let found = scope
            .version_sets
            .get(&key(vs))
            .ok_or_else(|| ApimError::Invalid(format!("version set '{vs}' does not exist")))?;
        rev.version_set = Some(found.id.clone());
        rev.api_version = Some(patch.version.clone().unwrap_or_default());
    } else if let Some(v) = &patch.version {
        if rev.version_set.is_none() {
            return Err(ApimError::Invalid("a version needs a versionSet".into()));
        }
        rev.api_version = Some(v.clone());
    }
    if let Some(d) = &patch.revision_description {
        rev.revision_description = Some(d.clone());
    }
    if patch.operations.is_some() || patch.definition.is_some() {
        replace_definition(
            rev,
            patch.operations.as_deref(),
            patch.definition.as_deref(),
            api_id,
        )?;
    }
    Ok(())
}

fn replace_definition(
    rev: &mut Revision,
    operations: Option<&[OperationSeed]>,
    content: Option<&str>,
    api_id: &str,
) -> Result<(), ApimError> {
    match content {
        Some(content) => {
            let (lit, ops) = literal::parse(content, rev.api_type).map_err(ApimError::Invalid)?;
            rev.operations = match operations {
                Some(seeds) if !seeds.is_empty() => {
                    operations_of(seeds, rev.api_type, api_id).map_err(ApimError::Invalid)?
                }
                _ => ops.into(),
            };
            rev.literal = Some(lit);
        }
        None => {
            let seeds = operations.unwrap_or_default();
            rev.operations =
                operations_of(seeds, rev.api_type, api_id).map_err(ApimError::Invalid)?;
            rev.literal = None;
        }
    }
    Ok(())
}

/// Changes a copy of API `api_id` and stores it only when `change` succeeds, so a change
/// that fails a check (a bad patch, a clashing route) leaves the model as it was.
fn change_api<T>(
    state: &mut ApimState,
    service: &str,
    workspace: Option<&str>,
    api_id: &str,
    change: impl FnOnce(&Scope, &str, &mut Api) -> Result<T, ApimError>,
) -> Result<T, ApimError> {
    let id = plain_id(api_id)?;
    let scope = scope_mut(state, service, workspace)?;
    let mut api = scope
        .apis
        .get(&key(id))
        .cloned()
        .ok_or_else(|| api_not_found(id))?;
    let changed = change(scope, id, &mut api)?;
    scope.apis.insert(key(id), api);
    Ok(changed)
}

fn api_not_found(id: &str) -> ApimError {
    ApimError::NotFound(format!("API '{id}'"))
}

fn current_revision_not_found(id: &str) -> ApimError {
    ApimError::NotFound(format!("current revision of '{id}'"))
}

fn current_revision_mut<'a>(api: &'a mut Api, id: &str) -> Result<&'a mut Revision, ApimError> {
    let current = api.current;
    api.revisions
        .get_mut(&current)
        .ok_or_else(|| current_revision_not_found(id))
}

/// A changed revision reads differently, so it gets a new `updated` time and generation
/// (hence a new ETag).
fn touch(rev: &mut Revision, generations: &mut Generations<'_>) {
    rev.updated = Timestamp::now();
    rev.generation = generations.next();
}

pub(crate) fn update_api(
    state: &mut ApimState,
    generations: &mut Generations<'_>,
    service: &str,
    workspace: Option<&str>,
    api_id: &str,
    patch: &ApiPatch,
) -> Result<(), ApimError> {
    change_api(state, service, workspace, api_id, |scope, id, api| {
        let rev = current_revision_mut(api, id)?;
        apply_patch(rev, patch, scope, id)?;
        touch(rev, generations);
        check_unique_route(scope, api)
    })
}

pub(crate) fn delete_api(
    state: &mut ApimState,
    service: &str,
    workspace: Option<&str>,
    api_id: &str,
) -> Result<(), ApimError> {
    let id = plain_id(api_id)?;
    let scope = scope_mut(state, service, workspace)?;
    scope
        .apis
        .remove(&key(id))
        .ok_or_else(|| api_not_found(id))?;
    if workspace.is_none() {
        catalog::forget_api(state, service, id);
    }
    Ok(())
}

pub(crate) fn add_revision(
    state: &mut ApimState,
    generations: &mut Generations<'_>,
    service: &str,
    workspace: Option<&str>,
    api_id: &str,
    new: &NewRevision,
) -> Result<u32, ApimError> {
    change_api(state, service, workspace, api_id, |scope, id, api| {
        let highest = api.revisions.keys().next_back().unwrap_or(0);
        let number = new.rev.unwrap_or(highest + 1);
        if number == 0 || api.revisions.contains_key(&number) {
            return Err(ApimError::Conflict(format!(
                "API '{id}' already has revision {number}"
            )));
        }
        let mut rev = api
            .current_revision()
            .cloned()
            .ok_or_else(|| current_revision_not_found(id))?;
        rev.rev = number;
        rev.revision_description = new.description.clone();
        if let Some(changes) = &new.changes {
            apply_patch(&mut rev, changes, scope, id)?;
        }
        touch(&mut rev, generations);
        rev.created = rev.updated;
        api.revisions.insert(number, rev);
        if new.make_current {
            api.current = number;
            check_unique_route(scope, api)?;
        }
        Ok(number)
    })
}

pub(crate) fn make_current(
    state: &mut ApimState,
    generations: &mut Generations<'_>,
    service: &str,
    workspace: Option<&str>,
    api_id: &str,
    rev: u32,
) -> Result<(), ApimError> {
    change_api(state, service, workspace, api_id, |scope, id, api| {
        if !api.revisions.contains_key(&rev) {
            return Err(ApimError::NotFound(format!("revision {rev} of API '{id}'")));
        }
        let previous = api.current;
        api.current = rev;
        // Both revisions change how they read (isCurrent, id), so both get new ETags.
        for r in [previous, rev] {
            if let Some(revision) = api.revisions.get_mut(&r) {
                touch(revision, generations);
            }
        }
        check_unique_route(scope, api)
    })
}

pub(crate) fn set_definition(
    state: &mut ApimState,
    generations: &mut Generations<'_>,
    service: &str,
    workspace: Option<&str>,
    api_id: &str,
    definition: &DefinitionUpdate,
) -> Result<(), ApimError> {
    if definition.operations.is_none() && definition.content.is_none() {
        return Err(ApimError::Invalid(
            "give `operations` or `content` for the definition".into(),
        ));
    }
    change_api(state, service, workspace, api_id, |_, id, api| {
        let rev = current_revision_mut(api, id)?;
        replace_definition(
            rev,
            definition.operations.as_deref(),
            definition.content.as_deref(),
            id,
        )?;
        touch(rev, generations);
        Ok(())
    })
}

pub(crate) fn upsert_version_set(
    state: &mut ApimState,
    service: &str,
    workspace: Option<&str>,
    seed: &VersionSetSeed,
) -> Result<bool, ApimError> {
    let scope = scope_mut(state, service, workspace)?;
    let vs = build_version_set(seed)?;
    Ok(scope.version_sets.insert(key(&seed.id), vs).is_none())
}

pub(crate) fn delete_version_set(
    state: &mut ApimState,
    service: &str,
    workspace: Option<&str>,
    id: &str,
) -> Result<(), ApimError> {
    let scope = scope_mut(state, service, workspace)?;
    if load::referenced_version_sets(scope).contains(&key(id)) {
        return Err(ApimError::Conflict(format!(
            "version set '{id}' still has APIs"
        )));
    }
    scope
        .version_sets
        .remove(&key(id))
        .map(|_| ())
        .ok_or_else(|| ApimError::NotFound(format!("version set '{id}'")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::apim::seed::Seed;

    fn state() -> (ApimState, u64) {
        let seed: Seed = serde_yaml::from_str(
            "services:\n  - name: s\n    versionSets: [{id: vs}]\n    apis:\n      - {id: a, operations: ['GET /x X']}\n      - {id: b, path: bee}\n",
        )
        .unwrap();
        let mut n = 0;
        let st = load::build_state(&seed, &mut Generations(&mut n)).unwrap();
        (st, n)
    }

    #[test]
    fn update_bumps_generation_and_checks_routes() {
        let (mut st, mut n) = state();
        let before = st.services["s"].root.apis["a"].revisions[&1].generation;
        let patch = ApiPatch {
            description: Some("new".into()),
            ..ApiPatch::default()
        };
        update_api(&mut st, &mut Generations(&mut n), "S", None, "A", &patch).unwrap();
        let rev = &st.services["s"].root.apis["a"].revisions[&1];
        assert_eq!(rev.description.as_deref(), Some("new"));
        assert!(rev.generation > before);
        let clash = ApiPatch {
            path: Some("bee".into()),
            ..ApiPatch::default()
        };
        assert!(matches!(
            update_api(&mut st, &mut Generations(&mut n), "s", None, "a", &clash),
            Err(ApimError::Conflict(_))
        ));
        assert_eq!(st.services["s"].root.apis["a"].revisions[&1].path, "a");
    }

    #[test]
    fn revisions_are_added_and_released() {
        let (mut st, mut n) = state();
        let new = NewRevision {
            description: Some("draft".into()),
            ..NewRevision::default()
        };
        let rev = add_revision(&mut st, &mut Generations(&mut n), "s", None, "a", &new).unwrap();
        assert_eq!(rev, 2);
        assert_eq!(st.services["s"].root.apis["a"].current, 1);
        make_current(&mut st, &mut Generations(&mut n), "s", None, "a", 2).unwrap();
        assert_eq!(st.services["s"].root.apis["a"].current, 2);
        assert!(make_current(&mut st, &mut Generations(&mut n), "s", None, "a", 9).is_err());
        assert!(
            add_revision(
                &mut st,
                &mut Generations(&mut n),
                "s",
                None,
                "a;rev=1",
                &new
            )
            .is_err()
        );
    }

    #[test]
    fn version_sets_in_use_cannot_be_deleted() {
        let (mut st, mut n) = state();
        let patch = ApiPatch {
            version_set: Some("vs".into()),
            version: Some("v1".into()),
            ..ApiPatch::default()
        };
        update_api(&mut st, &mut Generations(&mut n), "s", None, "a", &patch).unwrap();
        assert!(matches!(
            delete_version_set(&mut st, "s", None, "vs"),
            Err(ApimError::Conflict(_))
        ));
        delete_api(&mut st, "s", None, "a").unwrap();
        delete_version_set(&mut st, "s", None, "VS").unwrap();
        assert!(delete_api(&mut st, "s", None, "a").is_err());
    }

    #[test]
    fn definitions_are_replaced() {
        let (mut st, mut n) = state();
        let def = DefinitionUpdate {
            operations: None,
            content: Some("openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n  /y: {get: {operationId: y}}\n".into()),
        };
        set_definition(&mut st, &mut Generations(&mut n), "s", None, "a", &def).unwrap();
        let rev = &st.services["s"].root.apis["a"].revisions[&1];
        assert_eq!(rev.operations.len(), 1);
        assert_eq!(rev.operations[0].name, "y");
        assert!(rev.literal.is_some());
        let bad = DefinitionUpdate {
            operations: None,
            content: Some("<wsdl/>".into()),
        };
        assert!(set_definition(&mut st, &mut Generations(&mut n), "s", None, "a", &bad).is_err());
    }
}
