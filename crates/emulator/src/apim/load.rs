//! Turning seeds into the model (with APIM's validation) and the model back into a seed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;

use super::ApimError;
use super::catalog;
use super::literal;
use super::model::{
    Api, ApiType, ApimState, CertificateSource, Literal, Operation, ProxyHostname, Revision,
    Revisions, Scope, Service, VersionSet, Workspace, WorkspaceGateway, key,
};
use super::seed::{
    ApiSeed, OperationSeed, ProxyHostnameSeed, RevisionSeed, Seed, ServiceSeed, VersionSetSeed,
    WorkspaceGatewaySeed, WorkspaceSeed, operations_of,
};

/// Hands out increasing generation numbers; ETags derive from them.
pub(crate) struct Generations<'a>(pub &'a mut u64);

impl Generations<'_> {
    pub fn next(&mut self) -> u64 {
        *self.0 += 1;
        *self.0
    }
}

fn invalid(message: impl Into<String>) -> ApimError {
    ApimError::Invalid(message.into())
}

pub(crate) fn validate_service_name(name: &str) -> Result<(), ApimError> {
    let ok = (1..=50).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "service name '{name}' must be 1-50 letters, digits and hyphens, starting with a letter"
        )))
    }
}

/// A DNS host name: dot-separated labels of letters, digits and hyphens.
fn validate_host_name(what: &str, host: &str) -> Result<(), ApimError> {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.len() <= 253 && host.contains('.') && host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(invalid(format!("{what} '{host}' is not a host name")))
    }
}

/// The service's custom domains: `customProxyHostname` first (bound by default), then
/// `proxyHostnames`. APIM refuses a host twice, its own default host, and two hostnames
/// bound by default.
fn build_proxy_hostnames(
    seed: &ServiceSeed,
    default_host: &str,
) -> Result<Vec<ProxyHostname>, ApimError> {
    let shorthand = seed
        .custom_proxy_hostname
        .as_ref()
        .map(|host| ProxyHostnameSeed {
            host_name: host.clone(),
            default_ssl_binding: true,
            certificate_source: CertificateSource::KeyVault,
        });
    let mut hostnames: Vec<ProxyHostname> = Vec::new();
    for h in shorthand.iter().chain(&seed.proxy_hostnames) {
        validate_host_name("proxy hostname", &h.host_name)?;
        let taken = h.host_name.eq_ignore_ascii_case(default_host)
            || hostnames
                .iter()
                .any(|o| o.host_name.eq_ignore_ascii_case(&h.host_name));
        if taken {
            return Err(ApimError::Conflict(format!(
                "hostname '{}' is already configured on '{}'",
                h.host_name, seed.name
            )));
        }
        hostnames.push(ProxyHostname {
            host_name: h.host_name.clone(),
            default_ssl_binding: h.default_ssl_binding,
            certificate_source: h.certificate_source,
        });
    }
    if hostnames.iter().filter(|h| h.default_ssl_binding).count() > 1 {
        return Err(invalid(format!(
            "'{}': only one hostname can have defaultSslBinding",
            seed.name
        )));
    }
    Ok(hostnames)
}

fn build_workspace_gateways(
    workspace: &str,
    seeds: &[WorkspaceGatewaySeed],
) -> Result<Vec<WorkspaceGateway>, ApimError> {
    let mut gateways: Vec<WorkspaceGateway> = Vec::new();
    for g in seeds {
        // Gateway names follow the service-name rule.
        validate_service_name(&g.name)
            .map_err(|_| invalid(format!("workspace '{workspace}': gateway name '{}' must be 1-50 letters, digits and hyphens, starting with a letter", g.name)))?;
        if gateways
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&g.name))
        {
            return Err(invalid(format!(
                "workspace '{workspace}': gateway '{}' appears twice",
                g.name
            )));
        }
        for host in &g.hostnames {
            validate_host_name("gateway hostname", host)?;
        }
        gateways.push(WorkspaceGateway {
            name: g.name.clone(),
            hostnames: g.hostnames.clone(),
        });
    }
    Ok(gateways)
}

/// APIM's id rule (`^[^*#&+:<>?]+$`, up to 256 characters); `;` is reserved for
/// revisions and `/` cannot appear in a path segment.
pub(crate) fn validate_entity_id(what: &str, id: &str) -> Result<(), ApimError> {
    let bad = |c: char| "*#&+:<>?;/\\%".contains(c) || c.is_whitespace() || c.is_control();
    if id.is_empty() || id.len() > 256 || id.chars().any(bad) {
        return Err(invalid(format!(
            "{what} id '{id}' must be 1-256 characters without any of * # & + : < > ? ; / \\ % or spaces"
        )));
    }
    Ok(())
}

pub(crate) fn build_state(
    seed: &Seed,
    generations: &mut Generations<'_>,
) -> Result<ApimState, ApimError> {
    let mut services = BTreeMap::new();
    for s in &seed.services {
        let service = build_service(s, generations)?;
        if services.insert(key(&s.name), service).is_some() {
            return Err(invalid(format!("service '{}' appears twice", s.name)));
        }
    }
    Ok(ApimState { services })
}

fn build_service(
    seed: &ServiceSeed,
    generations: &mut Generations<'_>,
) -> Result<Service, ApimError> {
    validate_service_name(&seed.name)?;
    let name = &seed.name;
    let lower = name.to_ascii_lowercase();
    let consumption = seed.sku.eq_ignore_ascii_case("Consumption");
    let developer_portal_url = match &seed.developer_portal_url {
        Some(explicit) => explicit.clone(),
        None if consumption => None,
        None => Some(format!("https://{lower}.developer.azure-api.net")),
    };
    let portal_url = match &seed.portal_url {
        Some(explicit) => explicit.clone(),
        None if consumption => None,
        None => Some(format!("https://{lower}.portal.azure-api.net")),
    };
    let gateway_url = seed
        .gateway_url
        .clone()
        .unwrap_or_else(|| format!("https://{lower}.azure-api.net"));
    let default_host = gateway_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy_hostnames = build_proxy_hostnames(seed, &default_host)?;
    let mut root = build_scope(&seed.version_sets, &seed.apis, generations)?;
    let catalog = catalog::build(seed, &mut root)?;
    let mut workspaces = BTreeMap::new();
    for ws in &seed.workspaces {
        let workspace = build_workspace(ws, generations)?;
        if workspaces.insert(key(&ws.id), workspace).is_some() {
            return Err(invalid(format!(
                "workspace '{}' appears twice in '{name}'",
                ws.id
            )));
        }
    }
    Ok(Service {
        name: name.clone(),
        location: seed.location.clone(),
        sku: seed.sku.clone(),
        capacity: if consumption { 0 } else { 1 },
        publisher_name: seed
            .publisher_name
            .clone()
            .unwrap_or_else(|| "Contoso".to_string()),
        publisher_email: seed
            .publisher_email
            .clone()
            .unwrap_or_else(|| "apis@contoso.example".to_string()),
        gateway_url,
        portal_url,
        developer_portal_url,
        management_api_url: (!consumption)
            .then(|| format!("https://{lower}.management.azure-api.net")),
        proxy_hostnames,
        created: Timestamp::now(),
        root,
        workspaces,
        tags: catalog.tags,
        products: catalog.products,
    })
}

fn build_workspace(
    seed: &WorkspaceSeed,
    generations: &mut Generations<'_>,
) -> Result<Workspace, ApimError> {
    validate_entity_id("workspace", &seed.id)?;
    catalog::check_workspace_apis(&seed.id, &seed.apis)?;
    Ok(Workspace {
        id: seed.id.clone(),
        display_name: seed.display_name.clone().unwrap_or_else(|| seed.id.clone()),
        description: seed.description.clone(),
        gateways: build_workspace_gateways(&seed.id, &seed.gateways)?,
        scope: build_scope(&seed.version_sets, &seed.apis, generations)?,
    })
}

pub(crate) fn build_version_set(seed: &VersionSetSeed) -> Result<VersionSet, ApimError> {
    validate_entity_id("version set", &seed.id)?;
    Ok(VersionSet {
        id: seed.id.clone(),
        display_name: seed.display_name.clone().unwrap_or_else(|| seed.id.clone()),
        versioning_scheme: seed.versioning_scheme,
        version_query_name: seed.version_query_name.clone(),
        version_header_name: seed.version_header_name.clone(),
        description: seed.description.clone(),
    })
}

fn build_scope(
    version_sets: &[VersionSetSeed],
    apis: &[ApiSeed],
    generations: &mut Generations<'_>,
) -> Result<Scope, ApimError> {
    let mut scope = Scope::default();
    for vs in version_sets {
        if scope
            .version_sets
            .insert(key(&vs.id), build_version_set(vs)?)
            .is_some()
        {
            return Err(invalid(format!("version set '{}' appears twice", vs.id)));
        }
    }
    // A map of routes keeps loading large seeds linear.
    let mut routes: HashMap<(String, String), String> = HashMap::new();
    let mut cache = OperationCache::default();
    for seed in apis {
        let api = build_api(seed, &scope, generations, &mut cache)?;
        if scope.apis.contains_key(&key(&seed.id)) {
            return Err(invalid(format!("API '{}' appears twice", seed.id)));
        }
        if let Some(route) = api.current_revision().map(route_of) {
            if let Some(other) = routes.get(&route) {
                return Err(route_conflict(other, &route));
            }
            routes.insert(route, api.id.clone());
        }
        scope.apis.insert(key(&seed.id), api);
    }
    Ok(scope)
}

/// The gateway route of a revision: its path and version, ignoring case.
fn route_of(r: &Revision) -> (String, String) {
    (
        r.path.trim_matches('/').to_ascii_lowercase(),
        r.api_version
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase(),
    )
}

fn route_conflict(other: &str, route: &(String, String)) -> ApimError {
    ApimError::Conflict(format!(
        "API '{other}' already uses path '{}' with version '{}'",
        route.0, route.1
    ))
}

/// APIM refuses two current APIs answering on the same path and version.
pub(crate) fn check_unique_route(scope: &Scope, api: &Api) -> Result<(), ApimError> {
    let Some(mine) = api.current_revision().map(route_of) else {
        return Ok(());
    };
    let my_key = key(&api.id);
    for (other_key, other) in &scope.apis {
        if *other_key == my_key {
            continue;
        }
        if other.current_revision().map(route_of).as_ref() == Some(&mine) {
            return Err(route_conflict(&other.id, &mine));
        }
    }
    Ok(())
}

/// Operation lists already built while loading a seed, so APIs generated from the same
/// template (as synthetic seeds are) share one allocation.
#[derive(Default)]
pub(crate) struct OperationCache(HashMap<(ApiType, Vec<OperationSeed>), Arc<[Operation]>>);

impl OperationCache {
    fn operations(
        &mut self,
        seeds: &[OperationSeed],
        api_type: ApiType,
        id: &str,
    ) -> Result<Arc<[Operation]>, String> {
        if seeds.is_empty() {
            return operations_of(seeds, api_type, id);
        }
        let cache_key = (api_type, seeds.to_vec());
        if let Some(ops) = self.0.get(&cache_key) {
            return Ok(ops.clone());
        }
        let ops = operations_of(seeds, api_type, id)?;
        self.0.insert(cache_key, ops.clone());
        Ok(ops)
    }
}

fn definition_of(
    api_type: ApiType,
    id: &str,
    operations: &[OperationSeed],
    definition: Option<&str>,
    cache: &mut OperationCache,
) -> Result<(Arc<[Operation]>, Option<Literal>), ApimError> {
    match definition {
        Some(content) => {
            let (lit, ops) = literal::parse(content, api_type)
                .map_err(|e| invalid(format!("API '{id}': {e}")))?;
            let ops = if operations.is_empty() {
                Arc::from(ops)
            } else {
                cache
                    .operations(operations, api_type, id)
                    .map_err(invalid)?
            };
            Ok((ops, Some(lit)))
        }
        None => Ok((
            cache
                .operations(operations, api_type, id)
                .map_err(|e| invalid(format!("API '{id}': {e}")))?,
            None,
        )),
    }
}

pub(crate) fn build_api(
    seed: &ApiSeed,
    scope: &Scope,
    generations: &mut Generations<'_>,
    cache: &mut OperationCache,
) -> Result<Api, ApimError> {
    validate_entity_id("API", &seed.id)?;
    let display_name = seed.display_name.clone().unwrap_or_else(|| seed.id.clone());
    if display_name.is_empty() || display_name.chars().count() > 300 {
        return Err(invalid(format!(
            "API '{}': displayName must be 1-300 characters",
            seed.id
        )));
    }
    let version_set = match &seed.version_set {
        Some(vs) => Some(
            scope
                .version_sets
                .get(&key(vs))
                .map(|v| v.id.clone())
                .ok_or_else(|| {
                    invalid(format!(
                        "API '{}': version set '{vs}' does not exist",
                        seed.id
                    ))
                })?,
        ),
        None => None,
    };
    if version_set.is_none() && seed.version.is_some() {
        return Err(invalid(format!(
            "API '{}': a version needs a versionSet",
            seed.id
        )));
    }
    let api_version = version_set
        .as_ref()
        .map(|_| seed.version.clone().unwrap_or_default());
    let (operations, literal) = definition_of(
        seed.api_type,
        &seed.id,
        &seed.operations,
        seed.definition.as_deref(),
        cache,
    )?;
    let now = Timestamp::now();
    let current_rev = seed.revision.unwrap_or(1);
    if current_rev == 0 {
        return Err(invalid(format!("API '{}': revisions start at 1", seed.id)));
    }
    let current = Revision {
        rev: current_rev,
        display_name,
        description: seed.description.clone(),
        path: seed.path.clone().unwrap_or_else(|| seed.id.clone()),
        api_type: seed.api_type,
        service_url: seed.service_url.clone(),
        protocols: seed
            .protocols
            .clone()
            .unwrap_or_else(|| seed.api_type.default_protocols()),
        version_set,
        api_version,
        revision_description: seed.revision_description.clone(),
        subscription_required: seed.subscription_required.unwrap_or(true),
        contact: seed.contact.clone(),
        license: seed.license.clone(),
        terms_of_service_url: seed.terms_of_service_url.clone(),
        operations,
        literal,
        created: now,
        updated: now,
        generation: generations.next(),
    };
    let mut revisions = Revisions::default();
    for r in &seed.revisions {
        if r.rev == 0 || r.rev == current_rev || revisions.contains_key(&r.rev) {
            return Err(invalid(format!(
                "API '{}': revision {} is 0, repeated or the current one",
                seed.id, r.rev
            )));
        }
        revisions.insert(
            r.rev,
            revision_from(&current, r, &seed.id, generations, cache)?,
        );
    }
    revisions.insert(current_rev, current);
    Ok(Api {
        id: seed.id.clone(),
        current: current_rev,
        revisions,
        tags: seed.tags.clone(),
    })
}

fn revision_from(
    base: &Revision,
    seed: &RevisionSeed,
    id: &str,
    generations: &mut Generations<'_>,
    cache: &mut OperationCache,
) -> Result<Revision, ApimError> {
    let mut rev = base.clone();
    rev.rev = seed.rev;
    rev.revision_description = seed.description.clone();
    if let Some(d) = &seed.display_name {
        rev.display_name = d.clone();
    }
    if let Some(d) = &seed.api_description {
        rev.description = Some(d.clone());
    }
    if seed.operations.is_some() || seed.definition.is_some() {
        let ops = seed.operations.clone().unwrap_or_default();
        let (operations, literal) =
            definition_of(base.api_type, id, &ops, seed.definition.as_deref(), cache)?;
        rev.operations = operations;
        rev.literal = literal;
    }
    rev.generation = generations.next();
    Ok(rev)
}

/// The model as a seed (what `GET /_emulator/apim` answers); loading it again gives the
/// same APIs, version sets and revisions.
pub(crate) fn dump_state(state: &ApimState) -> Seed {
    Seed {
        services: state.services.values().map(dump_service).collect(),
    }
}

fn dump_service(s: &Service) -> ServiceSeed {
    let (version_sets, apis) = dump_scope(&s.root);
    let (tags, products) = catalog::dump(s);
    ServiceSeed {
        name: s.name.clone(),
        location: s.location.clone(),
        sku: s.sku.clone(),
        publisher_name: Some(s.publisher_name.clone()),
        publisher_email: Some(s.publisher_email.clone()),
        gateway_url: Some(s.gateway_url.clone()),
        portal_url: Some(s.portal_url.clone()),
        developer_portal_url: Some(s.developer_portal_url.clone()),
        custom_proxy_hostname: None,
        proxy_hostnames: s
            .proxy_hostnames
            .iter()
            .map(|h| ProxyHostnameSeed {
                host_name: h.host_name.clone(),
                default_ssl_binding: h.default_ssl_binding,
                certificate_source: h.certificate_source,
            })
            .collect(),
        version_sets,
        apis,
        workspaces: s
            .workspaces
            .values()
            .map(|w| {
                let (version_sets, apis) = dump_scope(&w.scope);
                WorkspaceSeed {
                    id: w.id.clone(),
                    display_name: Some(w.display_name.clone()),
                    description: w.description.clone(),
                    gateways: w
                        .gateways
                        .iter()
                        .map(|g| WorkspaceGatewaySeed {
                            name: g.name.clone(),
                            hostnames: g.hostnames.clone(),
                        })
                        .collect(),
                    version_sets,
                    apis,
                }
            })
            .collect(),
        tags,
        products,
    }
}

fn dump_scope(scope: &Scope) -> (Vec<VersionSetSeed>, Vec<ApiSeed>) {
    let version_sets = scope
        .version_sets
        .values()
        .map(|v| VersionSetSeed {
            id: v.id.clone(),
            display_name: Some(v.display_name.clone()),
            versioning_scheme: v.versioning_scheme,
            version_query_name: v.version_query_name.clone(),
            version_header_name: v.version_header_name.clone(),
            description: v.description.clone(),
        })
        .collect();
    let apis = scope.apis.values().filter_map(dump_api).collect();
    (version_sets, apis)
}

fn literal_text(lit: &Literal) -> String {
    match lit {
        Literal::OpenApi3(v) | Literal::Swagger2(v) => v.to_string(),
        Literal::Wsdl(t) | Literal::GraphqlSdl(t) | Literal::Proto(t) => t.to_string(),
    }
}

fn dump_api(api: &Api) -> Option<ApiSeed> {
    let current = api.current_revision()?;
    let ops = |r: &Revision| {
        r.operations
            .iter()
            .map(OperationSeed::from_operation)
            .collect::<Vec<_>>()
    };
    let revisions = api
        .revisions
        .values()
        .filter(|r| r.rev != api.current)
        .map(|r| RevisionSeed {
            rev: r.rev,
            description: r.revision_description.clone(),
            display_name: Some(r.display_name.clone()),
            api_description: r.description.clone(),
            operations: Some(ops(r)),
            definition: r.literal.as_ref().map(literal_text),
        })
        .collect();
    Some(ApiSeed {
        id: api.id.clone(),
        display_name: Some(current.display_name.clone()),
        description: current.description.clone(),
        path: Some(current.path.clone()),
        api_type: current.api_type,
        service_url: current.service_url.clone(),
        protocols: Some(current.protocols.clone()),
        version_set: current.version_set.clone(),
        version: current.api_version.clone(),
        revision: Some(api.current),
        revision_description: current.revision_description.clone(),
        revisions,
        operations: ops(current),
        definition: current.literal.as_ref().map(literal_text),
        subscription_required: Some(current.subscription_required),
        contact: current.contact.clone(),
        license: current.license.clone(),
        terms_of_service_url: current.terms_of_service_url.clone(),
        tags: api.tags.clone(),
    })
}

/// Every version set referenced by an API of `scope`.
pub(crate) fn referenced_version_sets(scope: &Scope) -> BTreeSet<String> {
    scope
        .apis
        .values()
        .flat_map(|a| a.revisions.values())
        .filter_map(|r| r.version_set.as_deref().map(key))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn build(yaml: &str) -> Result<ApimState, ApimError> {
        let seed: Seed = serde_yaml::from_str(yaml).expect("yaml");
        let mut n = 0;
        build_state(&seed, &mut Generations(&mut n))
    }

    #[test]
    fn defaults_follow_the_sku() {
        let state =
            build("services:\n  - name: Dev\n  - name: cons\n    sku: Consumption\n").unwrap();
        let dev = &state.services["dev"];
        assert_eq!(dev.gateway_url, "https://dev.azure-api.net");
        assert!(dev.developer_portal_url.is_some());
        let cons = &state.services["cons"];
        assert!(cons.developer_portal_url.is_none());
        assert!(cons.management_api_url.is_none());
    }

    #[test]
    fn seeds_are_validated() {
        let cases = [
            "services:\n  - name: a\n    apis: [{id: 'x;rev=2'}]\n",
            "services:\n  - name: a\n    apis: [{id: x, versionSet: nope}]\n",
            "services:\n  - name: a\n    apis: [{id: x, version: v1}]\n",
            "services:\n  - name: a\n    apis: [{id: x}, {id: X, path: other}]\n",
            "services:\n  - name: a\n    apis: [{id: x, path: p}, {id: y, path: p}]\n",
            "services:\n  - name: a\n    apis: [{id: x, revisions: [{rev: 1}]}]\n",
            "services:\n  - name: 1a\n",
            "services:\n  - name: a\n    apis: [{id: x, operations: ['nonsense']}]\n",
            "services:\n  - name: a\n    proxyHostnames: [{hostName: a.azure-api.net}]\n",
            "services:\n  - name: a\n    customProxyHostname: x.example\n    proxyHostnames: [{hostName: X.example}]\n",
            "services:\n  - name: a\n    proxyHostnames: [{hostName: x.example, defaultSslBinding: true}, {hostName: y.example, defaultSslBinding: true}]\n",
            "services:\n  - name: a\n    proxyHostnames: [{hostName: 'not a host'}]\n",
            "services:\n  - name: a\n    workspaces: [{id: w, gateways: [{name: g}, {name: G}]}]\n",
            "services:\n  - name: a\n    workspaces: [{id: w, gateways: [{name: 9g}]}]\n",
            "services:\n  - name: a\n    workspaces: [{id: w, gateways: [{name: g, hostnames: [nodots]}]}]\n",
        ];
        for case in cases {
            assert!(build(case).is_err(), "accepted: {case}");
        }
    }

    #[test]
    fn dump_then_load_round_trips() {
        let yaml = "services:\n  - name: a\n    customProxyHostname: api.a.example\n    proxyHostnames: [{hostName: b.example, certificateSource: Managed}]\n    versionSets: [{id: vs, displayName: VS}]\n    apis:\n      - {id: x, versionSet: vs, version: '', operations: ['GET /a A']}\n      - {id: y, versionSet: vs, version: v2, path: x, revision: 2, revisions: [{rev: 1, description: old}]}\n    workspaces: [{id: w, gateways: [{name: gw, hostnames: [w.example]}], apis: [{id: z, type: graphql}]}]\n";
        let state = build(yaml).unwrap();
        let dumped = dump_state(&state);
        let mut n = 0;
        let again = build_state(&dumped, &mut Generations(&mut n)).unwrap();
        let a = &again.services["a"];
        assert_eq!(a.root.apis.len(), 2);
        assert_eq!(a.root.apis["y"].revisions.len(), 2);
        assert_eq!(a.root.apis["y"].current, 2);
        assert_eq!(
            a.root.apis["x"].revisions[&1].api_version.as_deref(),
            Some("")
        );
        assert_eq!(
            a.workspaces["w"].scope.apis["z"].revisions[&1].api_type,
            ApiType::Graphql
        );
        assert_eq!(
            a.root.apis["x"].revisions[&1].operations,
            state.services["a"].root.apis["x"].revisions[&1].operations
        );
        assert_eq!(a.proxy_hostnames, state.services["a"].proxy_hostnames);
        assert_eq!(a.proxy_hostnames.len(), 2);
        assert!(a.proxy_hostnames[0].default_ssl_binding);
        assert_eq!(
            a.proxy_hostnames[1].certificate_source,
            CertificateSource::Managed
        );
        assert_eq!(
            a.workspaces["w"].gateways,
            state.services["a"].workspaces["w"].gateways
        );
    }

    #[test]
    fn the_gateway_clients_call_is_the_custom_domain_bound_by_default_else_the_first() {
        let state = build("services:\n  - name: a\n  - name: b\n    proxyHostnames: [{hostName: one.example}, {hostName: two.example}]\n  - name: c\n    proxyHostnames: [{hostName: one.example}, {hostName: two.example, defaultSslBinding: true}]\n").unwrap();
        assert_eq!(
            state.services["a"].effective_gateway(),
            "https://a.azure-api.net"
        );
        assert_eq!(
            state.services["b"].effective_gateway(),
            "https://one.example"
        );
        assert_eq!(
            state.services["c"].effective_gateway(),
            "https://two.example"
        );
    }
}
