//! Reading ARM request paths: which provider, which resource types, which scope, and the
//! case-insensitive spelling ARM accepts.

/// Resource-type and keyword segments whose canonical spelling the routers use. ARM treats
/// them case-insensitively (ids copied from the Azure CLI often read `resourcegroups`).
const KNOWN_SEGMENTS: &[&str] = &[
    "subscriptions",
    "resourceGroups",
    "providers",
    "Microsoft.ApiManagement",
    "Microsoft.ApiCenter",
    "Microsoft.Authorization",
    "service",
    "services",
    "apis",
    "apiVersionSets",
    "workspaces",
    "revisions",
    "schemas",
    "operations",
    "versions",
    "definitions",
    "deployments",
    "environments",
    "metadataSchemas",
    "importSpecification",
    "exportSpecification",
    "locations",
    "operationStatuses",
    "operationResults",
    "permissions",
];

pub(crate) const APIM_NAMESPACE: &str = "Microsoft.ApiManagement";
pub(crate) const APIC_NAMESPACE: &str = "Microsoft.ApiCenter";
pub(crate) const AUTHORIZATION_NAMESPACE: &str = "Microsoft.Authorization";

/// An ARM path split into its parts. Segments are percent-decoded only where noted.
///
/// An extension resource nested under another resource
/// (`{resource id}/providers/Microsoft.Authorization/permissions`) is read as ARM reads
/// it: `namespace` and `rest` describe the extension, `provider_scope` is the resource
/// it extends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArmPath {
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
    pub namespace: Option<String>,
    /// Alternating type/name segments after the namespace: `[service, x, apis, y]`.
    pub rest: Vec<String>,
    /// The path before the `providers` segment `namespace` follows, as the client spelled
    /// it: the scope the request is made at (without a `providers` segment, the
    /// subscription and resource group part; `/` for neither).
    pub provider_scope: String,
}

impl ArmPath {
    pub fn parse(path: &str) -> Self {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut out = ArmPath {
            subscription: None,
            resource_group: None,
            namespace: None,
            rest: Vec::new(),
            provider_scope: String::new(),
        };
        let mut i = 0;
        if segments
            .first()
            .is_some_and(|s| s.eq_ignore_ascii_case("subscriptions"))
        {
            out.subscription = segments.get(1).map(|s| (*s).to_string());
            i = 2;
            if segments
                .get(2)
                .is_some_and(|s| s.eq_ignore_ascii_case("resourceGroups"))
            {
                out.resource_group = segments.get(3).map(|s| (*s).to_string());
                i = 4;
            }
        }
        out.provider_scope = format!("/{}", segments[..i.min(segments.len())].join("/"));
        if segments
            .get(i)
            .is_some_and(|s| s.eq_ignore_ascii_case("providers"))
        {
            let i = innermost_provider(&segments, i);
            out.provider_scope = format!("/{}", segments[..i].join("/"));
            out.namespace = segments.get(i + 1).map(|s| canonical(s).to_string());
            out.rest = segments
                .iter()
                .skip(i + 2)
                .enumerate()
                .map(|(k, s)| {
                    if k % 2 == 0 {
                        canonical(s).to_string()
                    } else {
                        (*s).to_string()
                    }
                })
                .collect();
        }
        out
    }

    pub fn is_namespace(&self, namespace: &str) -> bool {
        self.namespace
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(namespace))
    }

    /// The RBAC action for `method` on this path, e.g.
    /// `Microsoft.ApiManagement/service/apis/read` or
    /// `Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/importSpecification/action`.
    pub fn action(&self, method: &http::Method) -> String {
        let Some(namespace) = self.namespace.as_deref() else {
            let kind = if self.resource_group.is_some() {
                "Microsoft.Resources/subscriptions/resourceGroups"
            } else {
                "Microsoft.Resources/subscriptions"
            };
            return format!("{kind}/{}", verb(method));
        };
        let types: Vec<&str> = self.rest.iter().step_by(2).map(String::as_str).collect();
        if *method == http::Method::POST {
            // A POST names its action in the last (type-position) segment.
            return format!("{namespace}/{}/action", types.join("/"));
        }
        format!("{namespace}/{}/{}", types.join("/"), verb(method))
    }

    /// The scope an authorization decision is made over: the request path without a
    /// trailing action name.
    pub fn scope(&self, original_path: &str, method: &http::Method) -> String {
        let trimmed = original_path.trim_end_matches('/');
        if *method == http::Method::POST
            && self.rest.len() % 2 == 1
            && let Some((head, _)) = trimmed.rsplit_once('/')
        {
            return head.to_string();
        }
        trimmed.to_string()
    }

    /// Whether this path polls a long-running operation's status. ARM authorizes those by
    /// the operation, not by a role over the status URL, so RBAC does not apply.
    pub fn is_operation_status(&self) -> bool {
        self.rest.iter().step_by(2).any(|t| {
            t.eq_ignore_ascii_case("operationStatuses")
                || t.eq_ignore_ascii_case("operationResults")
                || t.eq_ignore_ascii_case("locations")
        })
    }
}

/// The index of the `providers` segment whose namespace a request addresses: the first one
/// (at `first`), or the last one nested at a type position after it, which makes the path
/// an extension resource of everything before that segment.
fn innermost_provider(segments: &[&str], first: usize) -> usize {
    (first..segments.len().saturating_sub(1))
        .step_by(2)
        .rfind(|&k| segments[k].eq_ignore_ascii_case("providers"))
        .unwrap_or(first)
}

fn verb(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET | http::Method::HEAD => "read",
        http::Method::DELETE => "delete",
        http::Method::POST => "action",
        _ => "write",
    }
}

fn canonical(segment: &str) -> &str {
    KNOWN_SEGMENTS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(segment))
        .copied()
        .unwrap_or(segment)
}

/// Rewrites `path` so keyword segments use their canonical spelling and the subscription
/// and resource group read exactly as configured when they match case-insensitively.
pub(crate) fn canonicalize(path: &str, subscription: &str, resource_group: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut after_providers = None::<usize>;
    let mut previous = "";
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        if segment.is_empty() {
            continue;
        }
        let is_type_position = after_providers.is_some_and(|start| (index - start) % 2 == 0);
        let replacement = if previous.eq_ignore_ascii_case("subscriptions")
            && segment.eq_ignore_ascii_case(subscription)
        {
            subscription
        } else if previous.eq_ignore_ascii_case("resourceGroups")
            && segment.eq_ignore_ascii_case(resource_group)
        {
            resource_group
        } else if (after_providers.is_none()
            && (index % 2 == 1 || previous.eq_ignore_ascii_case("providers")))
            || is_type_position
        {
            canonical(segment)
        } else {
            segment
        };
        out.push_str(replacement);
        if after_providers.is_none() && previous.eq_ignore_ascii_case("providers") {
            // `index` is the namespace; types follow at odd offsets from it.
            after_providers = Some(index + 1);
        }
        previous = segment;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    const APIS: &str =
        "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim/apis";

    #[test]
    fn actions_for_reads_writes_deletes_and_posts() {
        let p = ArmPath::parse(APIS);
        assert_eq!(p.subscription.as_deref(), Some("s1"));
        assert_eq!(p.resource_group.as_deref(), Some("rg"));
        assert!(p.is_namespace(APIM_NAMESPACE));
        assert_eq!(
            p.action(&Method::GET),
            "Microsoft.ApiManagement/service/apis/read"
        );
        let one = ArmPath::parse(&format!("{APIS}/echo;rev=2"));
        assert_eq!(
            one.action(&Method::HEAD),
            "Microsoft.ApiManagement/service/apis/read"
        );
        let apic = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c/workspaces/default/apis/a";
        let p = ArmPath::parse(apic);
        assert_eq!(
            p.action(&Method::PUT),
            "Microsoft.ApiCenter/services/workspaces/apis/write"
        );
        assert_eq!(
            p.action(&Method::DELETE),
            "Microsoft.ApiCenter/services/workspaces/apis/delete"
        );
        let import = format!("{apic}/versions/v/definitions/d/importSpecification");
        let p = ArmPath::parse(&import);
        assert_eq!(
            p.action(&Method::POST),
            "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions/importSpecification/action"
        );
        assert_eq!(
            p.scope(&import, &Method::POST),
            format!("{apic}/versions/v/definitions/d")
        );
    }

    #[test]
    fn canonicalizes_keywords_subscription_and_group_but_not_names() {
        let p = canonicalize(
            "/SUBSCRIPTIONS/S1/resourcegroups/RG/providers/microsoft.apimanagement/SERVICE/Apis/APIS/x",
            "s1",
            "rg",
        );
        assert_eq!(
            p,
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiManagement/service/Apis/apis/x"
        );
        let other = canonicalize("/subscriptions/other/resourceGroups/rg", "s1", "rg");
        assert_eq!(other, "/subscriptions/other/resourceGroups/rg");
    }

    #[test]
    fn extension_resources_are_read_for_the_scope_they_extend() {
        let at_subscription =
            ArmPath::parse("/subscriptions/s1/providers/Microsoft.Authorization/permissions");
        assert_eq!(at_subscription.provider_scope, "/subscriptions/s1");
        assert!(at_subscription.is_namespace(AUTHORIZATION_NAMESPACE));
        assert_eq!(at_subscription.rest, ["permissions"]);

        let at_group = ArmPath::parse(
            "/subscriptions/s1/resourcegroups/RG/providers/microsoft.authorization/Permissions",
        );
        assert_eq!(
            at_group.provider_scope,
            "/subscriptions/s1/resourcegroups/RG"
        );
        assert_eq!(at_group.resource_group.as_deref(), Some("RG"));
        assert_eq!(at_group.namespace.as_deref(), Some(AUTHORIZATION_NAMESPACE));
        assert_eq!(at_group.rest, ["permissions"]);

        let service =
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c";
        let nested = ArmPath::parse(&format!(
            "{service}/PROVIDERS/Microsoft.Authorization/permissions"
        ));
        assert_eq!(nested.provider_scope, service);
        assert!(nested.is_namespace(AUTHORIZATION_NAMESPACE));
        assert!(!nested.is_namespace(APIC_NAMESPACE));
        assert_eq!(nested.rest, ["permissions"]);
        assert_eq!(
            nested.action(&Method::GET),
            "Microsoft.Authorization/permissions/read"
        );

        // A resource *named* "providers" is a name, not a nested provider.
        let named = ArmPath::parse(&format!("{APIS}/providers/operations"));
        assert!(named.is_namespace(APIM_NAMESPACE));
        assert_eq!(
            named.rest,
            ["service", "apim", "apis", "providers", "operations"]
        );
        assert_eq!(named.provider_scope, "/subscriptions/s1/resourceGroups/rg");
    }

    #[test]
    fn operation_status_paths_are_recognised() {
        let p = ArmPath::parse(
            "/subscriptions/s1/providers/Microsoft.ApiCenter/locations/westeurope/operationStatuses/abc",
        );
        assert!(p.is_operation_status());
        assert!(p.resource_group.is_none());
        assert!(!ArmPath::parse(APIS).is_operation_status());
    }
}
