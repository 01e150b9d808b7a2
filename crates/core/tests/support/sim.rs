//! A pure simulator of one API Center workspace.

use std::collections::{BTreeMap, BTreeSet};

use apilink_core::desired::DesiredState;
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::desired_state;
use apilink_core::marker::{Ownership, read_api_marker, read_entity_marker};
use apilink_core::observed::{ApiDetails, ApicEntity, ObservedApiCenter, ObservedVersion};
use apilink_core::operation::Operation;
use apilink_core::ownership::{EntityKind, FIELD_OWNERSHIP, api_center_owned_values, set_path};
use apilink_core::plan::Plan;
use apilink_core::planner::{ExportRequest, Exports, details_needed, exports_needed, plan};
use apilink_core::resync_window::Coverage;
use apilink_core::shared::api_ownership;
use apilink_core::spec::LinkSettings;
use serde_json::{Value, json};

use super::apim::ApimModel;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimDefinition {
    pub props: Value,
    /// Hash of the content imported, as the service would hold it.
    pub imported: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimVersion {
    pub props: Value,
    pub definitions: BTreeMap<String, SimDefinition>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimApi {
    pub props: Value,
    pub versions: BTreeMap<String, SimVersion>,
    pub deployments: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sim {
    pub environments: BTreeMap<String, Value>,
    pub apis: BTreeMap<String, SimApi>,
    /// Return environments' `server.type` as `azure-api-management`, as the real
    /// service has been seen to.
    pub normalise_server_type: bool,
    /// Every write the simulator accepted, for counting.
    pub writes: usize,
}

/// Top-level members the ownership table does not know: they must survive updates.
fn unknown_members(entity: EntityKind, props: &Value) -> Vec<(String, Value)> {
    let known: BTreeSet<&str> = FIELD_OWNERSHIP
        .iter()
        .filter(|r| r.entity == entity)
        .map(|r| r.path[0])
        .collect();
    props
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !known.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// (d): an update never changes an API Center-owned field nor drops unknown members.
fn check_update(
    entity: EntityKind,
    before: &Value,
    after: &Value,
    what: &str,
) -> Result<(), String> {
    if api_center_owned_values(entity, before) != api_center_owned_values(entity, after) {
        return Err(format!(
            "{what}: update changed an API Center-owned field\nbefore {before}\nafter  {after}"
        ));
    }
    if unknown_members(entity, before) != unknown_members(entity, after) {
        return Err(format!("{what}: update dropped unknown members"));
    }
    Ok(())
}

/// A shared API no link serves any more: no link's share and no deployment left.
fn abandoned(api: &SimApi) -> bool {
    apilink_core::shared::shares(&api.props).is_empty() && api.deployments.is_empty()
}

fn stage_of(api: &SimApi) -> Value {
    api.versions
        .values()
        .next()
        .and_then(|v| v.props.get("lifecycleStage").cloned())
        .unwrap_or_else(|| json!("design"))
}

impl Sim {
    /// The list-level view plus details for `details_for`.
    pub fn observe(&self, settings: &LinkSettings, details_for: &[String]) -> ObservedApiCenter {
        let environment = self
            .environments
            .get(&settings.environment_name)
            .map(|p| ApicEntity {
                name: settings.environment_name.clone(),
                properties: self.env_view(p).into(),
                etag: None,
            });
        let apis = self
            .apis
            .iter()
            .map(|(name, api)| ApicEntity {
                name: name.clone(),
                properties: (&api.props).into(),
                etag: None,
            })
            .collect();
        let details = details_for
            .iter()
            .filter_map(|name| Some((name.clone(), self.details(self.apis.get(name)?))))
            .collect();
        ObservedApiCenter {
            environment,
            apis,
            details,
        }
    }

    fn env_view(&self, props: &Value) -> Value {
        let mut view = props.clone();
        if self.normalise_server_type && view.pointer("/server/type").is_some() {
            set_path(
                &mut view,
                &["server", "type"],
                Some(json!("azure-api-management")),
            );
        }
        view
    }

    fn details(&self, api: &SimApi) -> ApiDetails {
        ApiDetails {
            versions: api
                .versions
                .iter()
                .map(|(n, v)| {
                    (
                        n.clone(),
                        ObservedVersion {
                            properties: v.props.clone(),
                            definitions: v
                                .definitions
                                .iter()
                                .map(|(d, def)| (d.clone(), def.props.clone()))
                                .collect(),
                        },
                    )
                })
                .collect(),
            deployments: api.deployments.clone(),
        }
    }

    fn api_mut(&mut self, api: &str) -> Result<&mut SimApi, String> {
        self.apis
            .get_mut(api)
            .ok_or_else(|| format!("404 api {api}"))
    }

    fn resolves(&self, reference: Option<&Value>, workspace: &str) -> bool {
        let Some(path) = reference.and_then(Value::as_str) else {
            return false;
        };
        let prefix = format!("/workspaces/{workspace}/");
        let Some(rest) = path.strip_prefix(&prefix) else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["environments", env] => self.environments.contains_key(*env),
            ["apis", api, "versions", ver, "definitions", def] => self
                .apis
                .get(*api)
                .and_then(|a| a.versions.get(*ver))
                .is_some_and(|v| v.definitions.contains_key(*def)),
            _ => false,
        }
    }

    /// Applies one operation like the service would, checking invariant (d).
    pub fn apply(&mut self, op: &Operation, exports: &Exports) -> Result<(), String> {
        let what = op.target();
        match op {
            Operation::EnsureEnvironment { name, upsert } => {
                let current = self.environments.get(name).map(|p| self.env_view(p));
                if let Some(body) = upsert.body_for(current.as_ref()) {
                    if let Some(before) = &current {
                        check_update(EntityKind::Environment, before, &body, &what)?;
                    }
                    self.environments.insert(name.clone(), body);
                    self.writes += 1;
                }
            }
            Operation::UpsertApi { api, upsert } => {
                let current = self.apis.get(api).map(|a| a.props.clone());
                if let Some(mut body) = upsert.body_for(current.as_ref()) {
                    if let Some(before) = &current {
                        check_update(EntityKind::Api, before, &body, &what)?;
                    }
                    let entry = self.apis.entry(api.clone()).or_default();
                    body["lifecycleStage"] = stage_of(entry);
                    entry.props = body;
                    self.writes += 1;
                }
            }
            Operation::UpsertVersion {
                api,
                version,
                upsert,
            } => {
                let entry = self.api_mut(api)?;
                let current = entry.versions.get(version).map(|v| v.props.clone());
                if let Some(body) = upsert.body_for(current.as_ref()) {
                    if let Some(before) = &current {
                        check_update(EntityKind::Version, before, &body, &what)?;
                    }
                    entry.versions.entry(version.clone()).or_default().props = body;
                    let stage = stage_of(entry);
                    entry.props["lifecycleStage"] = stage;
                    self.writes += 1;
                }
            }
            Operation::UpsertDefinition {
                api,
                version,
                definition,
                upsert,
            } => {
                let ver = self
                    .api_mut(api)?
                    .versions
                    .get_mut(version)
                    .ok_or_else(|| format!("404 {what}: no version"))?;
                let current = ver.definitions.get(definition).map(|d| d.props.clone());
                if let Some(mut body) = upsert.body_for(current.as_ref()) {
                    if let Some(before) = &current {
                        check_update(EntityKind::Definition, before, &body, &what)?;
                        // The specification is read-only: the service keeps it.
                        if let Some(spec) = before.get("specification") {
                            body["specification"] = spec.clone();
                        }
                    }
                    ver.definitions.entry(definition.clone()).or_default().props = body;
                    self.writes += 1;
                }
            }
            Operation::ImportSpecification {
                api,
                version,
                definition,
                export,
                specification,
                content_hash,
                ..
            } => {
                let exported = exports
                    .get(export)
                    .ok_or_else(|| format!("{what}: import of content never exported"))?;
                if &exported.content_hash != content_hash {
                    return Err(format!("{what}: import hash differs from the export"));
                }
                let def = self
                    .api_mut(api)?
                    .versions
                    .get_mut(version)
                    .and_then(|v| v.definitions.get_mut(definition))
                    .ok_or_else(|| format!("404 {what}"))?;
                def.props["specification"] =
                    serde_json::to_value(specification).map_err(|e| e.to_string())?;
                def.imported = Some(content_hash.clone());
                self.writes += 1;
            }
            Operation::UpsertDeployment {
                api,
                deployment,
                upsert,
            } => {
                let current = self.api_mut(api)?.deployments.get(deployment).cloned();
                if let Some(body) = upsert.body_for(current.as_ref()) {
                    if let Some(before) = &current {
                        check_update(EntityKind::Deployment, before, &body, &what)?;
                    }
                    for field in ["environmentId", "definitionId"] {
                        if body.get(field).is_some() && !self.resolves(body.get(field), "default") {
                            return Err(format!("400 {what}: {field} does not resolve"));
                        }
                    }
                    self.api_mut(api)?
                        .deployments
                        .insert(deployment.clone(), body);
                    self.writes += 1;
                }
            }
            Operation::WriteApiMarker { api, .. } | Operation::LeaveSharedApi { api, .. } => {
                let entry = self.api_mut(api)?;
                if let Some(mut body) = op.marker_body(&entry.props) {
                    check_update(EntityKind::Api, &entry.props, &body, &what)?;
                    body["lifecycleStage"] = stage_of(entry);
                    entry.props = body;
                    self.writes += 1;
                }
                // The last link to leave a shared API deletes it (the engine checks the
                // answer of its write the same way).
                if matches!(op, Operation::LeaveSharedApi { .. })
                    && abandoned(&self.apis[api.as_str()])
                {
                    self.apis.remove(api);
                    self.writes += 1;
                }
            }
            Operation::DeleteDeployment { api, deployment } => {
                if let Some(a) = self.apis.get_mut(api) {
                    a.deployments.remove(deployment);
                }
                self.writes += 1;
            }
            Operation::DeleteDefinition {
                api,
                version,
                definition,
            } => {
                if let Some(v) = self
                    .apis
                    .get_mut(api)
                    .and_then(|a| a.versions.get_mut(version))
                {
                    v.definitions.remove(definition);
                }
                self.writes += 1;
            }
            Operation::DeleteVersion { api, version } => {
                if let Some(a) = self.apis.get_mut(api) {
                    a.versions.remove(version);
                }
                self.writes += 1;
            }
            Operation::DeleteApi { api } => {
                self.apis.remove(api);
                self.writes += 1;
            }
            Operation::DeleteEnvironment { name } => {
                self.environments.remove(name);
                self.writes += 1;
            }
            Operation::WriteEnvironmentRecord { name, .. } => {
                let current = self
                    .environments
                    .get(name)
                    .ok_or_else(|| format!("404 {what}"))?;
                if let Some(body) = op.marker_body(&self.env_view(current)) {
                    check_update(EntityKind::Environment, current, &body, &what)?;
                    self.environments.insert(name.clone(), body);
                    self.writes += 1;
                }
            }
        }
        Ok(())
    }
}

/// (c): paths the link must never touch, computed before a pass: foreign APIs (and
/// everything under them), a foreign environment, and user-added children of owned APIs.
pub struct Guard {
    foreign_apis: BTreeSet<String>,
    foreign_environment: Option<String>,
    user_children: BTreeSet<String>,
}

impl Guard {
    pub fn new(sim: &Sim, settings: &LinkSettings, desired: &DesiredState) -> Self {
        let mut foreign_apis = BTreeSet::new();
        let mut user_children = BTreeSet::new();
        for (name, api) in &sim.apis {
            match api_ownership(settings, name, &api.props) {
                // Another link's shared API this link joins: their deployments are not
                // this link's to touch.
                Ownership::Joinable => {
                    for (dep, props) in &api.deployments {
                        if !read_entity_marker(props, &settings.link).is_owned() {
                            user_children.insert(format!("apis/{name}/deployments/{dep}"));
                        }
                    }
                }
                Ownership::Owned((marker, _)) => {
                    let wanted = desired.apis.iter().find(|d| &d.name == name);
                    let wanted_version =
                        |v: &str| wanted.is_some_and(|d| d.versions.iter().any(|dv| dv.name == v));
                    let wanted_deployment = |dep: &str| {
                        wanted.is_some_and(|d| {
                            d.versions
                                .iter()
                                .filter_map(|v| v.definition.as_ref())
                                .any(|def| def.deployment.name == dep)
                        })
                    };
                    let recorded_deployments: BTreeSet<&str> = marker
                        .versions
                        .values()
                        .flat_map(|v| v.definitions.values())
                        .filter_map(|d| d.deployment.as_deref())
                        .collect();
                    for (version, held) in &api.versions {
                        // Under a shared API, a version holding only definitions named by
                        // content is what links left behind, not a user's.
                        let left_by_links = settings.shares_apis()
                            && !held.definitions.is_empty()
                            && held
                                .definitions
                                .keys()
                                .all(|d| apilink_core::shared::is_content_definition_name(d));
                        if !marker.versions.contains_key(version)
                            && !wanted_version(version)
                            && !left_by_links
                        {
                            user_children.insert(format!("apis/{name}/versions/{version}"));
                        }
                    }
                    for (dep, props) in &api.deployments {
                        let other_link = settings.shares_apis()
                            && !read_entity_marker(props, &settings.link).is_owned();
                        if other_link
                            || (!recorded_deployments.contains(dep.as_str())
                                && !wanted_deployment(dep))
                        {
                            user_children.insert(format!("apis/{name}/deployments/{dep}"));
                        }
                    }
                }
                _ => {
                    foreign_apis.insert(name.clone());
                }
            }
        }
        let foreign_environment = sim
            .environments
            .get(&settings.environment_name)
            .filter(|p| !read_entity_marker(p, &settings.link).is_owned())
            .map(|_| format!("environments/{}", settings.environment_name));
        Self {
            foreign_apis,
            foreign_environment,
            user_children,
        }
    }

    pub fn check(&self, op: &Operation) -> Result<(), String> {
        let target = op.target();
        let under = |root: &str| target == root || target.starts_with(&format!("{root}/"));
        if self
            .foreign_apis
            .iter()
            .any(|a| under(&format!("apis/{a}")))
            || self.foreign_environment.as_deref().is_some_and(under)
            || self.user_children.iter().any(|c| under(c))
        {
            return Err(format!(
                "operation touches an entity the link does not own: {op}"
            ));
        }
        Ok(())
    }
}

/// What one pass did.
pub struct PassOutcome {
    pub plan: Plan,
    pub details_read: Vec<String>,
    pub exports: usize,
}

/// One pass the way the engine runs it, applying every operation.
pub fn run_pass(
    sim: &mut Sim,
    settings: &LinkSettings,
    apim: &ApimModel,
    coverage: Coverage,
) -> Result<PassOutcome, String> {
    run_pass_prefix(sim, settings, apim, coverage, usize::MAX)
}

/// One pass that dies after `limit` operations.
pub fn run_pass_prefix(
    sim: &mut Sim,
    settings: &LinkSettings,
    apim: &ApimModel,
    coverage: Coverage,
    limit: usize,
) -> Result<PassOutcome, String> {
    let desired = desired_state(settings, &apim.observed());
    let listed = sim.observe(settings, &[]);
    let details_read = details_needed(settings, &desired, &listed, coverage);
    let observed = sim.observe(settings, &details_read);
    let requests = exports_needed(settings, &desired, &observed, coverage);
    let exports = apim.export(&requests);
    let plan = plan(settings, &desired, &exports, &observed);
    imports_as_announced(&requests, &exports, &plan)?;
    let guard = Guard::new(sim, settings, &desired);
    for op in plan.operations.iter().take(limit) {
        guard.check(op)?;
        sim.apply(op, &exports)?;
    }
    Ok(PassOutcome {
        plan,
        details_read,
        exports: requests.len(),
    })
}

/// The engine keeps an exported document only when its request says the planner will
/// import it: the plan must import exactly those.
fn imports_as_announced(
    requests: &[ExportRequest],
    exports: &Exports,
    plan: &Plan,
) -> Result<(), String> {
    let imported: BTreeSet<&ApimApiRef> = plan
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::ImportSpecification { export, .. } => Some(export),
            _ => None,
        })
        .collect();
    for request in requests {
        let Some(export) = exports.get(&request.api) else {
            continue;
        };
        if request.imports(&export.content_hash) != imported.contains(&request.api) {
            return Err(format!(
                "export of {} announced import {} but the plan {}",
                request.api,
                request.imports(&export.content_hash),
                if imported.contains(&request.api) {
                    "imports it"
                } else {
                    "does not"
                }
            ));
        }
    }
    Ok(())
}

/// Checks that API Center holds exactly what the link wants, for the APIs it manages.
pub fn check_converged(sim: &Sim, settings: &LinkSettings, apim: &ApimModel) -> Result<(), String> {
    let desired = desired_state(settings, &apim.observed());
    let env_ours = sim
        .environments
        .get(&settings.environment_name)
        .is_some_and(|p| read_entity_marker(p, &settings.link).is_owned());
    let env_foreign = !env_ours && sim.environments.contains_key(&settings.environment_name);
    if !env_ours && !env_foreign {
        return Err("environment missing".into());
    }
    for d in &desired.apis {
        let Some(api) = sim.apis.get(&d.name) else {
            return Err(format!("api {} missing", d.name));
        };
        if !read_api_marker(&d.name, &api.props, &settings.link).is_owned() {
            continue; // conflict: skipped on purpose
        }
        if api.props["title"] != d.properties.value()["title"] {
            return Err(format!("api {} title differs", d.name));
        }
        for v in &d.versions {
            let Some(ver) = api.versions.get(&v.name) else {
                return Err(format!("version {}/{} missing", d.name, v.name));
            };
            if ver.props["title"] != v.properties.value()["title"] {
                return Err(format!("version {}/{} title differs", d.name, v.name));
            }
            if let Some(def) = &v.definition {
                let Some(sdef) = ver.definitions.get(&def.name) else {
                    return Err(format!(
                        "definition {}/{}/{} missing",
                        d.name, v.name, def.name
                    ));
                };
                if settings.imports_content() {
                    let expected = apim.content_of(&v.source).map(|c| c.content_hash);
                    if sdef.imported != expected {
                        return Err(format!(
                            "definition {}/{}/{} holds stale content",
                            d.name, v.name, def.name
                        ));
                    }
                }
                if env_ours {
                    let Some(dep) = api.deployments.get(&def.deployment.name) else {
                        return Err(format!(
                            "deployment {}/{} missing",
                            d.name, def.deployment.name
                        ));
                    };
                    if dep.get("server") != def.deployment.properties.get("server").as_ref()
                        && !(dep.pointer("/server/runtimeUri").is_none()
                            && def.deployment.properties.get("server").is_none())
                    {
                        return Err(format!(
                            "deployment {}/{} runtime differs",
                            d.name, def.deployment.name
                        ));
                    }
                }
            }
        }
    }
    let wanted: BTreeSet<&str> = desired.apis.iter().map(|a| a.name.as_str()).collect();
    for (name, api) in &sim.apis {
        if read_api_marker(name, &api.props, &settings.link).is_owned()
            && !wanted.contains(name.as_str())
        {
            return Err(format!("owned api {name} should have been deleted"));
        }
    }
    Ok(())
}
