//! The ARM routes of Microsoft.ApiManagement the emulator serves (reads only: apilink
//! never writes APIM; changes come through the admin routes).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use std::convert::Infallible;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::ApimStore;
use super::documents::{self, DocInfo};
use super::export::{ExportRequest, export};
use super::filter::{FieldValue, Filter};
use super::gateways;
use super::model::{Api, ApiType, Revision, Scope, Service, key, split_revision};
use super::render::{self, GatewayView, ScopeRef};
use crate::arm::{APIM_API_VERSION, ArmError};
use crate::links::ExportLinks;

mod catalog;

pub(crate) struct ApimContext {
    pub store: Arc<ApimStore>,
    pub links: Arc<ExportLinks>,
    pub page_size: usize,
}

type Ctx = State<Arc<ApimContext>>;
type Params = Path<HashMap<String, String>>;

const BASE: &str =
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service";
/// Workspace gateways are resources of their own, beside the services.
const GATEWAYS: &str =
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/gateways";

const API_FIELDS: &[&str] = &[
    "name",
    "displayName",
    "description",
    "serviceUrl",
    "path",
    "isCurrent",
    "apiVersion",
    "apiVersionSetId",
];
const VERSION_SET_FIELDS: &[&str] = &["name", "displayName"];
const REVISION_FIELDS: &[&str] = &["apiRevision"];

pub(crate) fn router(ctx: Arc<ApimContext>) -> Router {
    let mut router = Router::new()
        .route(BASE, get(list_services))
        .route(&format!("{BASE}/{{svc}}"), get(get_service))
        .route(&format!("{BASE}/{{svc}}/workspaces"), get(list_workspaces))
        .route(
            &format!("{BASE}/{{svc}}/workspaces/{{ws}}"),
            get(get_workspace),
        )
        .route(
            &format!("{BASE}/{{svc}}/workspaceLinks"),
            get(list_workspace_links),
        )
        .route(
            &format!("{BASE}/{{svc}}/workspaceLinks/{{ws}}"),
            get(get_workspace_link),
        )
        .route(GATEWAYS, get(list_gateways))
        .route(&format!("{GATEWAYS}/{{gw}}"), get(get_gateway))
        .route(
            &format!("{GATEWAYS}/{{gw}}/configConnections"),
            get(list_config_connections),
        )
        .route(
            &format!("{GATEWAYS}/{{gw}}/configConnections/{{cc}}"),
            get(get_config_connection),
        );
    router = catalog::routes(router);
    for prefix in [
        format!("{BASE}/{{svc}}"),
        format!("{BASE}/{{svc}}/workspaces/{{ws}}"),
    ] {
        router = router
            .route(&format!("{prefix}/apis"), get(list_apis))
            .route(&format!("{prefix}/apis/{{api}}"), get(get_api))
            .route(
                &format!("{prefix}/apis/{{api}}/revisions"),
                get(list_revisions),
            )
            .route(
                &format!("{prefix}/apis/{{api}}/operations"),
                get(list_operations),
            )
            .route(&format!("{prefix}/apis/{{api}}/schemas"), get(list_schemas))
            .route(
                &format!("{prefix}/apis/{{api}}/schemas/{{schema}}"),
                get(get_schema),
            )
            .route(&format!("{prefix}/apiVersionSets"), get(list_version_sets))
            .route(
                &format!("{prefix}/apiVersionSets/{{vs}}"),
                get(get_version_set),
            );
    }
    router
        .method_not_allowed_fallback(read_only)
        .fallback(unknown_route)
        .with_state(ctx)
}

async fn read_only() -> Response {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The emulated API Management is read-only over ARM; change it through /_emulator/apim.",
    )
    .into_response()
}

async fn unknown_route(uri: Uri) -> Response {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "InvalidResourceType",
        format!(
            "The resource type of '{}' could not be found in the namespace 'Microsoft.ApiManagement' for api version '{APIM_API_VERSION}'.",
            uri.path()
        ),
    )
    .into_response()
}

fn not_found(message: impl Into<String>) -> ArmError {
    ArmError::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
}

fn validation(target: &str, message: impl Into<String>) -> ArmError {
    ArmError::new(StatusCode::BAD_REQUEST, "ValidationError", message).with_target(target)
}

pub(crate) fn authority(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string()
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> &'a str {
    params.get(name).map(String::as_str).unwrap_or("")
}

/// The entity `name` names (names are case-insensitive), or a 404 saying `missing`.
fn by_name<'a, V>(
    entities: &'a BTreeMap<String, V>,
    name: &str,
    missing: &'static str,
) -> Result<&'a V, ArmError> {
    entities.get(&key(name)).ok_or_else(|| not_found(missing))
}

fn with_service<T>(
    ctx: &ApimContext,
    params: &HashMap<String, String>,
    f: impl FnOnce(&Service, String) -> Result<T, ArmError>,
) -> Result<T, ArmError> {
    let inner = ctx.store.read();
    let name = param(params, "svc");
    let service = inner.state.services.get(&key(name)).ok_or_else(|| {
        not_found(format!(
            "The Resource 'Microsoft.ApiManagement/service/{name}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            param(params, "rg")
        ))
    })?;
    f(service, ctx.store.service_id(&service.name))
}

fn with_scope<T>(
    ctx: &ApimContext,
    params: &HashMap<String, String>,
    f: impl FnOnce(&ScopeRef<'_>, &Scope) -> Result<T, ArmError>,
) -> Result<T, ArmError> {
    with_service(ctx, params, |service, service_id| match params.get("ws") {
        None => {
            let scope = ScopeRef {
                service,
                workspace: None,
                base_id: service_id,
            };
            f(&scope, &service.root)
        }
        Some(ws) => {
            let workspace = by_name(&service.workspaces, ws, "Workspace not found.")?;
            let scope = ScopeRef {
                service,
                workspace: Some(workspace),
                base_id: format!("{service_id}/workspaces/{}", workspace.id),
            };
            f(&scope, &workspace.scope)
        }
    })
}

/// `$top` (clamped to the page size) and `$skip`.
fn paging(query: &HashMap<String, String>, page_size: usize) -> Result<(usize, usize), ArmError> {
    let top = match query.get("$top") {
        None => page_size,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(page_size),
            _ => {
                return Err(validation(
                    "$top",
                    format!(
                        "'{t}' is not a valid value for $top; it must be an integer of at least 1."
                    ),
                ));
            }
        },
    };
    let skip = match query.get("$skip") {
        None => 0,
        Some(s) => s.parse::<usize>().map_err(|_| {
            validation(
                "$skip",
                format!("'{s}' is not a valid value for $skip; it must be a non-negative integer."),
            )
        })?,
    };
    Ok((top, skip))
}

/// Whether `filter` (if any) admits the item whose fields `field` gives.
fn admits(filter: Option<&Filter>, field: &dyn Fn(&str) -> FieldValue) -> bool {
    filter.is_none_or(|f| f.matches(field))
}

/// How a page ends: APIM sometimes answers `"nextLink": ""` on the last page, sometimes
/// leaves it out; both appear here so clients handle both.
#[derive(Clone, Copy)]
enum LastPage {
    EmptyNextLink,
    NoNextLink,
}

/// What a read asks for beyond its path: the query, and the host and path that
/// `nextLink` and export links point back to.
struct ReadQuery {
    uri: Uri,
    authority: String,
    query: HashMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ReadQuery {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        Ok(Self {
            uri: parts.uri.clone(),
            authority: authority(&parts.headers),
            query,
        })
    }
}

impl ReadQuery {
    /// A boolean query option such as `expandApiVersionSet=true`.
    fn flag(&self, name: &str) -> bool {
        self.query
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn filter(&self, fields: &[&str]) -> Result<Option<Filter>, ArmError> {
        self.query
            .get("$filter")
            .filter(|f| !f.trim().is_empty())
            .map(|f| {
                Filter::parse(f, fields).map_err(|e| {
                    validation(
                        "$filter",
                        format!("Invalid filter clause specified: '{f}': {e}."),
                    )
                })
            })
            .transpose()
    }

    /// The page of `matching` that `$top`/`$skip` select, each item rendered by `render`.
    fn page<T>(
        &self,
        page_size: usize,
        last: LastPage,
        matching: impl Iterator<Item = T>,
        render: impl FnMut(T) -> Value,
    ) -> Result<Response, ArmError> {
        let (top, skip) = paging(&self.query, page_size)?;
        let (items, total) = page_of(matching, top, skip);
        let items: Vec<Value> = items.into_iter().map(render).collect();
        let mut body = json!({ "value": items, "count": total });
        let next_skip = skip + top;
        if next_skip < total {
            let mut link = format!(
                "https://{}{}?api-version={APIM_API_VERSION}&$top={top}&$skip={next_skip}",
                self.authority,
                self.uri.path(),
            );
            for (name, value) in &self.query {
                if matches!(name.as_str(), "$filter" | "expandApiVersionSet" | "tags") {
                    let value: String =
                        url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
                    link.push_str(&format!("&{name}={value}"));
                }
            }
            body["nextLink"] = json!(link);
        } else if let LastPage::EmptyNextLink = last {
            body["nextLink"] = json!("");
        }
        Ok(axum::Json(body).into_response())
    }
}

fn page_of<T>(matching: impl Iterator<Item = T>, top: usize, skip: usize) -> (Vec<T>, usize) {
    let mut total = 0;
    let mut items = Vec::new();
    for item in matching {
        if total >= skip && items.len() < top {
            items.push(item);
        }
        total += 1;
    }
    (items, total)
}

fn respond(result: Result<Response, ArmError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn list_services(State(ctx): Ctx) -> Response {
    let inner = ctx.store.read();
    let value: Vec<Value> = inner
        .state
        .services
        .values()
        .map(|s| render::service_json(&ctx.store.service_id(&s.name), s))
        .collect();
    axum::Json(json!({ "value": value })).into_response()
}

async fn get_service(State(ctx): Ctx, Path(params): Params) -> Response {
    respond(with_service(&ctx, &params, |s, id| {
        Ok(axum::Json(render::service_json(&id, s)).into_response())
    }))
}

async fn list_workspaces(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_service(&ctx, &params, |s, id| {
        read.page(
            ctx.page_size,
            LastPage::NoNextLink,
            s.workspaces.values(),
            |w| render::workspace_json(&id, w),
        )
    }))
}

async fn get_workspace(State(ctx): Ctx, Path(params): Params) -> Response {
    respond(with_service(&ctx, &params, |s, id| {
        let w = by_name(&s.workspaces, param(&params, "ws"), "Workspace not found.")?;
        Ok(axum::Json(render::workspace_json(&id, w)).into_response())
    }))
}

async fn list_workspace_links(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    let gateway_id = |name: &str| ctx.store.gateway_id(name);
    respond(with_service(&ctx, &params, |s, id| {
        read.page(
            ctx.page_size,
            LastPage::NoNextLink,
            s.workspaces.values(),
            |w| render::workspace_link_json(&id, w, &gateway_id),
        )
    }))
}

async fn get_workspace_link(State(ctx): Ctx, Path(params): Params) -> Response {
    let gateway_id = |name: &str| ctx.store.gateway_id(name);
    respond(with_service(&ctx, &params, |s, id| {
        let w = by_name(&s.workspaces, param(&params, "ws"), "Workspace not found.")?;
        Ok(axum::Json(render::workspace_link_json(&id, w, &gateway_id)).into_response())
    }))
}

/// Every workspace gateway of the emulated resource group.
fn all_gateways(ctx: &ApimContext) -> BTreeMap<String, GatewayView> {
    let inner = ctx.store.read();
    gateways::gateways(&inner.state, &|service, workspace| {
        format!("{}/workspaces/{workspace}", ctx.store.service_id(service))
    })
}

fn with_gateway<T>(
    ctx: &ApimContext,
    params: &HashMap<String, String>,
    f: impl FnOnce(&GatewayView, String) -> Result<T, ArmError>,
) -> Result<T, ArmError> {
    let all = all_gateways(ctx);
    let name = param(params, "gw");
    let gateway = all.get(&key(name)).ok_or_else(|| {
        not_found(format!(
            "The Resource 'Microsoft.ApiManagement/gateways/{name}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            param(params, "rg")
        ))
    })?;
    f(gateway, ctx.store.gateway_id(&gateway.name))
}

async fn list_gateways(State(ctx): Ctx, read: ReadQuery) -> Response {
    let all = all_gateways(&ctx);
    respond(
        read.page(ctx.page_size, LastPage::NoNextLink, all.values(), |g| {
            render::gateway_json(&ctx.store.gateway_id(&g.name), g)
        }),
    )
}

async fn get_gateway(State(ctx): Ctx, Path(params): Params) -> Response {
    respond(with_gateway(&ctx, &params, |g, id| {
        Ok(axum::Json(render::gateway_json(&id, g)).into_response())
    }))
}

async fn list_config_connections(
    State(ctx): Ctx,
    Path(params): Params,
    read: ReadQuery,
) -> Response {
    respond(with_gateway(&ctx, &params, |g, id| {
        read.page(
            ctx.page_size,
            LastPage::NoNextLink,
            g.connections.iter(),
            |c| render::config_connection_json(&id, c),
        )
    }))
}

async fn get_config_connection(State(ctx): Ctx, Path(params): Params) -> Response {
    respond(with_gateway(&ctx, &params, |g, id| {
        let wanted = param(&params, "cc");
        let c = g
            .connections
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                not_found(format!(
                    "The Resource 'Microsoft.ApiManagement/gateways/{}/configConnections/{wanted}' under resource group '{}' was not found.",
                    g.name,
                    param(&params, "rg")
                ))
            })?;
        Ok(axum::Json(render::config_connection_json(&id, c)).into_response())
    }))
}

fn revision_name(api: &Api, rev: &Revision) -> String {
    if rev.rev == api.current {
        api.id.clone()
    } else {
        format!("{};rev={}", api.id, rev.rev)
    }
}

fn api_field(scope: &ScopeRef<'_>, api: &Api, rev: &Revision, name: &str) -> FieldValue {
    let opt = |v: &Option<String>| v.clone().map_or(FieldValue::Null, FieldValue::Str);
    match name {
        "name" => FieldValue::Str(revision_name(api, rev)),
        "displayName" => FieldValue::Str(rev.display_name.clone()),
        "description" => opt(&rev.description),
        "serviceUrl" => opt(&rev.service_url),
        "path" => FieldValue::Str(rev.path.clone()),
        "isCurrent" => FieldValue::Bool(rev.rev == api.current),
        "apiVersion" => opt(&rev.api_version),
        "apiVersionSetId" => rev.version_set.as_ref().map_or(FieldValue::Null, |vs| {
            FieldValue::Str(scope.version_set_id(vs))
        }),
        _ => FieldValue::Null,
    }
}

async fn list_apis(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let filter = read.filter(API_FIELDS)?;
        let expand = read.flag("expandApiVersionSet");
        let matching = scope
            .apis
            .values()
            .flat_map(|api| api.revisions.values().map(move |rev| (api, rev)))
            .filter(|(api, rev)| {
                admits(filter.as_ref(), &|name| {
                    api_field(scope_ref, api, rev, name)
                })
            });
        read.page(
            ctx.page_size,
            LastPage::EmptyNextLink,
            matching,
            |(api, rev)| render::api_json(scope_ref, api, rev, &revision_name(api, rev), expand),
        )
    }))
}

/// The API and revision an `{apiId}` path segment names (`echo` or `echo;rev=2`).
fn lookup<'a>(scope: &'a Scope, api_param: &str) -> Result<(&'a Api, &'a Revision), ArmError> {
    let (id, rev) = split_revision(api_param).map_err(|_| not_found("Api not found."))?;
    let api = by_name(&scope.apis, id, "Api not found.")?;
    let rev = api
        .revisions
        .get(&rev.unwrap_or(api.current))
        .ok_or_else(|| not_found("Api revision not found."))?;
    Ok((api, rev))
}

async fn get_api(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let name = param(&params, "api");
        let (api, rev) = lookup(scope, name)?;
        if read.flag("export") {
            let format = read.query.get("format").ok_or_else(|| {
                validation(
                    "format",
                    "The 'format' query parameter is required when export=true.",
                )
            })?;
            let body = export(
                &ExportRequest {
                    scope: scope_ref,
                    api_id: &api.id,
                    name,
                    revision: rev,
                    requested_format: format,
                    authority: &read.authority,
                },
                &ctx.links,
            )?;
            return Ok(axum::Json(body).into_response());
        }
        let body = render::api_json(scope_ref, api, rev, name, read.flag("expandApiVersionSet"));
        Ok(([(header::ETAG, render::etag(rev))], axum::Json(body)).into_response())
    }))
}

async fn list_revisions(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let (api, _) = lookup(scope, param(&params, "api"))?;
        let filter = read.filter(REVISION_FIELDS)?;
        let matching = api
            .revisions
            .values()
            .filter(|rev| admits(filter.as_ref(), &|_| FieldValue::Str(rev.rev.to_string())));
        read.page(ctx.page_size, LastPage::EmptyNextLink, matching, |rev| {
            render::revision_item_json(scope_ref, api, rev)
        })
    }))
}

async fn list_operations(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let name = param(&params, "api");
        let (_, rev) = lookup(scope, name)?;
        read.page(
            ctx.page_size,
            LastPage::EmptyNextLink,
            rev.operations.iter(),
            |op| render::operation_json(scope_ref, name, op),
        )
    }))
}

/// The schemas APIM keeps for an API: the SDL of a GraphQL API, the proto of a gRPC API.
fn schemas(
    scope_ref: &ScopeRef<'_>,
    api: &Api,
    rev: &Revision,
) -> Vec<(&'static str, &'static str, String)> {
    let gateway = scope_ref.service.effective_gateway();
    let info = DocInfo {
        api_id: &api.id,
        revision: rev,
        gateway: &gateway,
    };
    match rev.api_type {
        ApiType::Graphql => vec![(
            "graphql",
            "application/vnd.ms-azure-apim.graphql.schema",
            documents::graphql_sdl(&info),
        )],
        // The proto's content type is not documented by the spec (unverified).
        ApiType::Grpc => vec![(
            "proto",
            "application/vnd.ms-azure-apim.grpc.proto",
            documents::proto(&info),
        )],
        _ => Vec::new(),
    }
}

async fn list_schemas(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let name = param(&params, "api");
        let (api, rev) = lookup(scope, name)?;
        let all = schemas(scope_ref, api, rev);
        read.page(
            ctx.page_size,
            LastPage::EmptyNextLink,
            all.iter(),
            |(id, ct, doc)| render::schema_json(scope_ref, name, id, ct, doc),
        )
    }))
}

async fn get_schema(State(ctx): Ctx, Path(params): Params) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let name = param(&params, "api");
        let (api, rev) = lookup(scope, name)?;
        let wanted = param(&params, "schema");
        let (id, ct, doc) = schemas(scope_ref, api, rev)
            .into_iter()
            .find(|(id, _, _)| id.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| not_found("Schema not found."))?;
        Ok(axum::Json(render::schema_json(scope_ref, name, id, ct, &doc)).into_response())
    }))
}

async fn list_version_sets(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let filter = read.filter(VERSION_SET_FIELDS)?;
        let matching = scope.version_sets.values().filter(|vs| {
            admits(filter.as_ref(), &|field| match field {
                "name" => FieldValue::Str(vs.id.clone()),
                _ => FieldValue::Str(vs.display_name.clone()),
            })
        });
        read.page(ctx.page_size, LastPage::NoNextLink, matching, |vs| {
            render::version_set_json(scope_ref, vs)
        })
    }))
}

async fn get_version_set(State(ctx): Ctx, Path(params): Params) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, scope| {
        let vs = by_name(
            &scope.version_sets,
            param(&params, "vs"),
            "ApiVersionSet not found.",
        )?;
        Ok(axum::Json(render::version_set_json(scope_ref, vs)).into_response())
    }))
}
