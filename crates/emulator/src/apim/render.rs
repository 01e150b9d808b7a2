//! APIM's JSON shapes (2024-05-01): service, workspace, version set, API (revision),
//! revision list item, operation, schema.

use serde_json::{Map, Value, json};

use super::documents::braces;
use super::model::{
    Api, CertificateSource, Operation, Revision, Service, VersionSet, VersioningScheme, Workspace,
};

/// Where an entity lives: the service level or one workspace.
pub(crate) struct ScopeRef<'a> {
    pub service: &'a Service,
    pub workspace: Option<&'a Workspace>,
    /// The ARM id of the service or workspace.
    pub base_id: String,
}

impl ScopeRef<'_> {
    fn type_prefix(&self) -> &'static str {
        if self.workspace.is_some() {
            "Microsoft.ApiManagement/service/workspaces"
        } else {
            "Microsoft.ApiManagement/service"
        }
    }

    pub fn api_id(&self, name: &str) -> String {
        format!("{}/apis/{name}", self.base_id)
    }

    pub fn version_set_id(&self, id: &str) -> String {
        format!("{}/apiVersionSets/{id}", self.base_id)
    }
}

fn iso(t: &jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(crate) fn service_json(service_id: &str, s: &Service) -> Value {
    let host = |url: &str| {
        url.trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    };
    // APIM lists its own host as a Proxy entry too, bound by default unless a custom
    // domain is.
    let mut hostnames = vec![json!({
        "type": "Proxy",
        "hostName": s.default_gateway_host(),
        "negotiateClientCertificate": false,
        "defaultSslBinding": !s.proxy_hostnames.iter().any(|h| h.default_ssl_binding),
        "certificateSource": "BuiltIn",
    })];
    for custom in &s.proxy_hostnames {
        let mut entry = Map::new();
        entry.insert("type".into(), json!("Proxy"));
        entry.insert("hostName".into(), json!(custom.host_name));
        if custom.certificate_source == CertificateSource::KeyVault {
            entry.insert(
                "keyVaultId".into(),
                json!(format!(
                    "https://{}-kv.vault.azure.net/secrets/gateway-tls",
                    s.name.to_ascii_lowercase()
                )),
            );
        }
        entry.insert("negotiateClientCertificate".into(), json!(false));
        entry.insert(
            "defaultSslBinding".into(),
            json!(custom.default_ssl_binding),
        );
        entry.insert(
            "certificateSource".into(),
            json!(custom.certificate_source.wire()),
        );
        hostnames.push(Value::Object(entry));
    }
    if let Some(dev) = &s.developer_portal_url {
        hostnames.push(json!({
            "type": "DeveloperPortal",
            "hostName": host(dev),
            "negotiateClientCertificate": false,
            "defaultSslBinding": false,
            "certificateSource": "BuiltIn",
        }));
    }
    let mut properties = Map::new();
    properties.insert("publisherEmail".into(), json!(s.publisher_email));
    properties.insert("publisherName".into(), json!(s.publisher_name));
    properties.insert(
        "notificationSenderEmail".into(),
        json!("apimgmt-noreply@mail.windowsazure.com"),
    );
    properties.insert("provisioningState".into(), json!("Succeeded"));
    properties.insert("targetProvisioningState".into(), json!(""));
    properties.insert("createdAtUtc".into(), json!(iso(&s.created)));
    properties.insert("gatewayUrl".into(), json!(s.gateway_url));
    let regional = s.gateway_url.replacen(
        ".azure-api.net",
        &format!(
            "-{}-01.regional.azure-api.net",
            s.location.replace(' ', "").to_ascii_lowercase()
        ),
        1,
    );
    properties.insert("gatewayRegionalUrl".into(), json!(regional));
    if let Some(p) = &s.portal_url {
        properties.insert("portalUrl".into(), json!(p));
    }
    if let Some(d) = &s.developer_portal_url {
        properties.insert("developerPortalUrl".into(), json!(d));
    }
    if let Some(m) = &s.management_api_url {
        properties.insert("managementApiUrl".into(), json!(m));
        properties.insert(
            "scmUrl".into(),
            json!(m.replacen(".management.", ".scm.", 1)),
        );
    }
    properties.insert("hostnameConfigurations".into(), Value::Array(hostnames));
    properties.insert("publicIPAddresses".into(), json!([]));
    properties.insert("virtualNetworkType".into(), json!("None"));
    properties.insert("disableGateway".into(), json!(false));
    properties.insert("publicNetworkAccess".into(), json!("Enabled"));
    properties.insert("platformVersion".into(), json!("stv2"));
    json!({
        "id": service_id,
        "name": s.name,
        "type": "Microsoft.ApiManagement/service",
        "location": s.location,
        "etag": "AAAAAAAAAAA=",
        "tags": {},
        "sku": {"name": s.sku, "capacity": s.capacity},
        "properties": Value::Object(properties),
    })
}

pub(crate) fn workspace_json(service_id: &str, w: &Workspace) -> Value {
    let mut properties = Map::new();
    properties.insert("displayName".into(), json!(w.display_name));
    if let Some(d) = &w.description {
        properties.insert("description".into(), json!(d));
    }
    json!({
        "id": format!("{service_id}/workspaces/{}", w.id),
        "type": "Microsoft.ApiManagement/service/workspaces",
        "name": w.id,
        "properties": Value::Object(properties),
    })
}

/// One item of `GET {service}/workspaceLinks`: the gateways serving a workspace (none
/// for a workspace the service's own gateway serves).
pub(crate) fn workspace_link_json(
    service_id: &str,
    w: &Workspace,
    gateway_id: &dyn Fn(&str) -> String,
) -> Value {
    let gateways: Vec<Value> = w
        .gateways
        .iter()
        .map(|g| json!({ "id": gateway_id(&g.name) }))
        .collect();
    json!({
        "id": format!("{service_id}/workspaceLinks/{}", w.id),
        "name": w.id,
        "type": "Microsoft.ApiManagement/service/workspaceLinks",
        "etag": "AAAAAAAWN/4=",
        "properties": {
            "workspaceId": format!("{service_id}/workspaces/{}", w.id),
            "gateways": gateways,
        },
    })
}

/// A workspace gateway as `GET .../Microsoft.ApiManagement/gateways/{name}` answers it
/// (premium workspace gateways carry no `frontend`; their hosts are on the connections).
pub(crate) fn gateway_json(gateway_id: &str, g: &GatewayView) -> Value {
    json!({
        "id": gateway_id,
        "name": g.name,
        "type": "Microsoft.ApiManagement/gateways",
        "location": g.location,
        "etag": "AAAAAAAmREI=",
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "targetProvisioningState": "",
            "createdAtUtc": iso(&g.created),
            "virtualNetworkType": "None",
        },
        "sku": {"name": "WorkspaceGatewayPremium", "capacity": 1},
    })
}

/// One item of `GET {gateway}/configConnections`.
pub(crate) fn config_connection_json(gateway_id: &str, c: &ConnectionView) -> Value {
    let mut p = Map::new();
    p.insert("provisioningState".into(), json!("Succeeded"));
    p.insert("sourceId".into(), json!(c.source_id));
    p.insert("defaultHostname".into(), json!(c.default_hostname));
    if !c.hostnames.is_empty() {
        p.insert("hostnames".into(), json!(c.hostnames));
    }
    json!({
        "id": format!("{gateway_id}/configConnections/{}", c.name),
        "name": c.name,
        "type": "Microsoft.ApiManagement/gateways/configConnections",
        "etag": "AAAAAAAWN/4=",
        "properties": Value::Object(p),
    })
}

/// A workspace gateway, gathered from the workspaces that name it.
pub(crate) struct GatewayView {
    pub name: String,
    pub location: String,
    pub created: jiff::Timestamp,
    pub connections: Vec<ConnectionView>,
}

/// The config connection between a gateway and one workspace.
pub(crate) struct ConnectionView {
    pub name: String,
    pub source_id: String,
    pub default_hostname: String,
    pub hostnames: Vec<String>,
}

fn scheme(s: VersioningScheme) -> &'static str {
    match s {
        VersioningScheme::Segment => "Segment",
        VersioningScheme::Query => "Query",
        VersioningScheme::Header => "Header",
    }
}

fn version_set_properties(vs: &VersionSet) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("displayName".into(), json!(vs.display_name));
    p.insert(
        "versioningScheme".into(),
        json!(scheme(vs.versioning_scheme)),
    );
    if let Some(d) = &vs.description {
        p.insert("description".into(), json!(d));
    }
    if let Some(q) = &vs.version_query_name {
        p.insert("versionQueryName".into(), json!(q));
    }
    if let Some(h) = &vs.version_header_name {
        p.insert("versionHeaderName".into(), json!(h));
    }
    p
}

pub(crate) fn version_set_json(scope: &ScopeRef<'_>, vs: &VersionSet) -> Value {
    let kind = if scope.workspace.is_some() {
        "Microsoft.ApiManagement/service/workspaces/apiVersionSets"
    } else {
        "Microsoft.ApiManagement/service/api-version-sets"
    };
    json!({
        "id": scope.version_set_id(&vs.id),
        "type": kind,
        "name": vs.id,
        "properties": Value::Object(version_set_properties(vs)),
    })
}

/// The entity tag of one revision's state.
pub(crate) fn etag(rev: &Revision) -> String {
    format!("\"AAAAAAAA{:08X}=\"", rev.generation)
}

/// An API as `GET .../apis/{name}` answers it; `name` is the id as addressed (with
/// `;rev=N` for a revision addressed that way).
pub(crate) fn api_json(
    scope: &ScopeRef<'_>,
    api: &Api,
    rev: &Revision,
    name: &str,
    expand_version_set: bool,
) -> Value {
    let mut p = Map::new();
    p.insert("displayName".into(), json!(rev.display_name));
    p.insert("apiRevision".into(), json!(rev.rev.to_string()));
    if let Some(d) = &rev.description {
        p.insert("description".into(), json!(d));
    }
    p.insert(
        "subscriptionRequired".into(),
        json!(rev.subscription_required),
    );
    if let Some(u) = &rev.service_url {
        p.insert("serviceUrl".into(), json!(u));
    }
    p.insert("path".into(), json!(rev.path));
    p.insert("protocols".into(), json!(rev.protocols));
    p.insert(
        "authenticationSettings".into(),
        json!({"oAuth2AuthenticationSettings": [], "openidAuthenticationSettings": []}),
    );
    p.insert(
        "subscriptionKeyParameterNames".into(),
        json!({"header": "Ocp-Apim-Subscription-Key", "query": "subscription-key"}),
    );
    if let Some(t) = rev.api_type.wire() {
        p.insert("type".into(), json!(t));
    }
    p.insert("isCurrent".into(), json!(rev.rev == api.current));
    p.insert("isOnline".into(), json!(true));
    if let Some(d) = &rev.revision_description {
        p.insert("apiRevisionDescription".into(), json!(d));
    }
    if let Some(vs) = &rev.version_set {
        p.insert(
            "apiVersion".into(),
            json!(rev.api_version.clone().unwrap_or_default()),
        );
        p.insert("apiVersionSetId".into(), json!(scope.version_set_id(vs)));
        if expand_version_set
            && let Some(set) = scope
                .workspace
                .map(|w| &w.scope)
                .unwrap_or(&scope.service.root)
                .version_sets
                .get(&vs.to_ascii_lowercase())
        {
            let mut details = version_set_properties(set);
            details.insert("id".into(), json!(scope.version_set_id(&set.id)));
            details.insert("name".into(), json!(set.display_name));
            p.insert("apiVersionSet".into(), Value::Object(details));
        }
    }
    if let Some(c) = &rev.contact {
        p.insert("contact".into(), json!(c));
    }
    if let Some(l) = &rev.license {
        p.insert("license".into(), json!(l));
    }
    if let Some(t) = &rev.terms_of_service_url {
        p.insert("termsOfServiceUrl".into(), json!(t));
    }
    json!({
        "id": scope.api_id(name),
        "type": format!("{}/apis", scope.type_prefix()),
        "name": name,
        "properties": Value::Object(p),
    })
}

/// One item of `GET .../apis/{apiId}/revisions` (a flat object, no `properties`).
pub(crate) fn revision_item_json(scope: &ScopeRef<'_>, api: &Api, rev: &Revision) -> Value {
    let mut item = Map::new();
    item.insert(
        "apiId".into(),
        json!(scope.api_id(&format!("{};rev={}", api.id, rev.rev))),
    );
    item.insert("apiRevision".into(), json!(rev.rev.to_string()));
    item.insert("createdDateTime".into(), json!(iso(&rev.created)));
    item.insert("updatedDateTime".into(), json!(iso(&rev.updated)));
    if let Some(d) = &rev.revision_description {
        item.insert("description".into(), json!(d));
    }
    if rev.rev != api.current {
        item.insert(
            "privateUrl".into(),
            json!(format!("/{};rev={}", rev.path.trim_matches('/'), rev.rev)),
        );
    }
    item.insert("isOnline".into(), json!(true));
    item.insert("isCurrent".into(), json!(rev.rev == api.current));
    Value::Object(item)
}

pub(crate) fn operation_json(scope: &ScopeRef<'_>, api_name: &str, op: &Operation) -> Value {
    let params: Vec<Value> = braces(&op.url_template)
        .into_iter()
        .map(|p| json!({"name": p, "type": "string", "required": true, "values": []}))
        .collect();
    let mut p = Map::new();
    p.insert("displayName".into(), json!(op.display_name));
    p.insert("method".into(), json!(op.method));
    p.insert("urlTemplate".into(), json!(op.url_template));
    p.insert("templateParameters".into(), Value::Array(params));
    if let Some(d) = &op.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("responses".into(), json!([]));
    json!({
        "id": format!("{}/operations/{}", scope.api_id(api_name), op.name),
        "type": format!("{}/apis/operations", scope.type_prefix()),
        "name": op.name,
        "properties": Value::Object(p),
    })
}

pub(crate) fn schema_json(
    scope: &ScopeRef<'_>,
    api_name: &str,
    schema_id: &str,
    content_type: &str,
    document: &str,
) -> Value {
    json!({
        "id": format!("{}/schemas/{schema_id}", scope.api_id(api_name)),
        "type": format!("{}/apis/schemas", scope.type_prefix()),
        "name": schema_id,
        "properties": {
            "contentType": content_type,
            "document": {"value": document},
        },
    })
}
