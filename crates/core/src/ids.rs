//! Identities: the link, the two Azure services, and keys of APIM entities.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("link id must be 1-253 printable characters without whitespace, got {0:?}")]
    LinkId(String),
    #[error(
        "{value:?} is not a resource id of the form /subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/{provider}/{{name}}"
    )]
    ResourceId {
        value: String,
        provider: &'static str,
    },
    #[error("{id:?}: segment {position} should be {expected:?}, found {found:?}")]
    Segment {
        id: String,
        position: usize,
        expected: &'static str,
        found: String,
    },
    #[error("{id:?}: subscription id {value:?} may only hold ASCII letters, digits and hyphens")]
    Subscription { id: String, value: String },
    #[error(
        "{id:?}: resource group {value:?} must be 1-90 letters, digits, '-', '_', '.', '(' or ')' and not end with '.'"
    )]
    ResourceGroup { id: String, value: String },
    #[error("{id:?}: {kind} name {value:?} is invalid: {rule}")]
    Name {
        id: String,
        kind: &'static str,
        value: String,
        rule: &'static str,
    },
    #[error(
        "{0:?} is not an APIM source key (apis/{{id}}, apiVersionSets/{{id}}, optionally under workspaces/{{ws}}/)"
    )]
    SourceKey(String),
}

/// Stable identity of one link: `namespace/name` in a cluster, or a name given to the CLI.
/// Everything link-specific (names, ownership markers) derives from it, so it must never
/// change for the lifetime of the link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkId(String);

impl LinkId {
    /// Validates and wraps a link id.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.chars().count() <= 253
            && value.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if ok {
            Ok(Self(value))
        } else {
            Err(IdError::LinkId(value))
        }
    }

    /// The id of a link declared by a Kubernetes resource: `namespace/name`.
    pub fn namespaced(namespace: &str, name: &str) -> Result<Self, IdError> {
        Self::new(format!("{namespace}/{name}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for LinkId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<LinkId> for String {
    fn from(id: LinkId) -> Self {
        id.0
    }
}

/// A parsed ARM id of a top-level resource (`…/providers/{namespace}/{type}/{name}`).
/// Parsed, every part is one that ARM accepts, so the canonical id is also a safe
/// request path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceResourceId {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
}

/// What distinguishes one kind of service id from another.
struct ServiceKind {
    /// For people: "API Management service".
    label: &'static str,
    /// `{namespace}/{collection}`, as ARM spells it.
    provider: &'static str,
    namespace: &'static str,
    collection: &'static str,
    /// ARM's rule for the service's name, and its wording.
    valid_name: fn(&str) -> bool,
    name_rule: &'static str,
}

impl ServiceResourceId {
    /// Parses `value`; the fixed segments match case-insensitively, as ARM matches them.
    fn parse(value: &str, kind: &ServiceKind) -> Result<Self, IdError> {
        let shape_error = || IdError::ResourceId {
            value: value.to_string(),
            provider: kind.provider,
        };
        let segments: Vec<&str> = value.trim_end_matches('/').split('/').collect();
        let ["", rest @ ..] = segments.as_slice() else {
            return Err(shape_error());
        };
        let [_, subscription, _, resource_group, _, _, _, name] = rest else {
            return Err(shape_error());
        };
        if rest.iter().any(|s| s.is_empty()) {
            return Err(shape_error());
        }
        check_fixed_segments(value, rest, kind)?;
        check_service_parts(value, subscription, resource_group)?;
        if !(kind.valid_name)(name) {
            return Err(IdError::Name {
                id: value.to_string(),
                kind: kind.label,
                value: name.to_string(),
                rule: kind.name_rule,
            });
        }
        Ok(Self {
            subscription: subscription.to_string(),
            resource_group: resource_group.to_string(),
            name: name.to_string(),
        })
    }

    fn canonical(&self, f: &mut fmt::Formatter<'_>, kind: &ServiceKind) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{}/{}",
            self.subscription, self.resource_group, kind.provider, self.name
        )
    }
}

/// `segments` are the eight after the leading `/`.
fn check_fixed_segments(id: &str, segments: &[&str], kind: &ServiceKind) -> Result<(), IdError> {
    let fixed = [
        (0, "subscriptions"),
        (2, "resourceGroups"),
        (4, "providers"),
        (5, kind.namespace),
        (6, kind.collection),
    ];
    for (index, expected) in fixed {
        if !segments[index].eq_ignore_ascii_case(expected) {
            return Err(IdError::Segment {
                id: id.to_string(),
                position: index + 1,
                expected,
                found: segments[index].to_string(),
            });
        }
    }
    Ok(())
}

fn check_service_parts(id: &str, subscription: &str, resource_group: &str) -> Result<(), IdError> {
    // Subscription ids are GUIDs; their alphabet is what keeps the id a plain path.
    if !subscription
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(IdError::Subscription {
            id: id.to_string(),
            value: subscription.to_string(),
        });
    }
    if !valid_resource_group(resource_group) {
        return Err(IdError::ResourceGroup {
            id: id.to_string(),
            value: resource_group.to_string(),
        });
    }
    Ok(())
}

fn valid_resource_group(rg: &str) -> bool {
    // ARM: 1-90 chars, alphanumerics, underscore, parentheses, hyphen, period (not last).
    !rg.is_empty()
        && rg.chars().count() <= 90
        && !rg.ends_with('.')
        && rg
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '(' | ')' | '-' | '.'))
}

/// APIM service names: 1-50 chars, a letter first, letters/digits/hyphens, no trailing hyphen.
fn valid_apim_service_name(name: &str) -> bool {
    (1..=50).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// API Center service names: up to 90 ASCII letters, digits or hyphens.
fn valid_api_center_service_name(name: &str) -> bool {
    (1..=90).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

const APIM_KIND: ServiceKind = ServiceKind {
    label: "API Management service",
    provider: "Microsoft.ApiManagement/service",
    namespace: "Microsoft.ApiManagement",
    collection: "service",
    valid_name: valid_apim_service_name,
    name_rule: "1-50 letters, digits or hyphens, starting with a letter and not ending with a hyphen",
};

const API_CENTER_KIND: ServiceKind = ServiceKind {
    label: "API Center service",
    provider: "Microsoft.ApiCenter/services",
    namespace: "Microsoft.ApiCenter",
    collection: "services",
    valid_name: valid_api_center_service_name,
    name_rule: "up to 90 ASCII letters, digits or hyphens",
};

/// ARM id of an API Management service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApimServiceId(pub ServiceResourceId);

impl ApimServiceId {
    pub const PROVIDER: &'static str = APIM_KIND.provider;

    pub fn parse(value: &str) -> Result<Self, IdError> {
        ServiceResourceId::parse(value, &APIM_KIND).map(Self)
    }

    /// The canonical id, also the ARM path of the service.
    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl FromStr for ApimServiceId {
    type Err = IdError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl fmt::Display for ApimServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.canonical(f, &APIM_KIND)
    }
}

/// ARM id of an API Center service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiCenterServiceId(pub ServiceResourceId);

impl ApiCenterServiceId {
    pub const PROVIDER: &'static str = API_CENTER_KIND.provider;

    pub fn parse(value: &str) -> Result<Self, IdError> {
        ServiceResourceId::parse(value, &API_CENTER_KIND).map(Self)
    }

    /// The canonical id, also the ARM path of the service.
    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl FromStr for ApiCenterServiceId {
    type Err = IdError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl fmt::Display for ApiCenterServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.canonical(f, &API_CENTER_KIND)
    }
}

/// One APIM API (its current revision), service-level or in an APIM workspace.
/// Displayed as its service-relative path: `apis/{id}` or `workspaces/{ws}/apis/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApimApiRef {
    pub workspace: Option<String>,
    /// The API id without any `;rev=N` suffix.
    pub api_id: String,
}

impl fmt::Display for ApimApiRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ws) = &self.workspace {
            write!(f, "workspaces/{ws}/")?;
        }
        write!(f, "apis/{}", self.api_id)
    }
}

/// The APIM entity one API Center API stands for: a plain API or a version set.
/// Displayed like an APIM path (`apis/echo`, `workspaces/w1/apiVersionSets/vs1`); this
/// string is what the ownership marker records as `source`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKey {
    Api(ApimApiRef),
    VersionSet {
        workspace: Option<String>,
        id: String,
    },
}

impl SourceKey {
    /// The APIM id (API id or version-set id) the key names.
    pub fn id(&self) -> &str {
        match self {
            SourceKey::Api(api) => &api.api_id,
            SourceKey::VersionSet { id, .. } => id,
        }
    }

    pub fn workspace(&self) -> Option<&str> {
        match self {
            SourceKey::Api(api) => api.workspace.as_deref(),
            SourceKey::VersionSet { workspace, .. } => workspace.as_deref(),
        }
    }
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceKey::Api(api) => api.fmt(f),
            SourceKey::VersionSet { workspace, id } => {
                if let Some(ws) = workspace {
                    write!(f, "workspaces/{ws}/")?;
                }
                write!(f, "apiVersionSets/{id}")
            }
        }
    }
}

impl FromStr for SourceKey {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdError::SourceKey(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        let (workspace, kind, id) = match parts.as_slice() {
            [kind, id] => (None, *kind, *id),
            ["workspaces", ws, kind, id] if !ws.is_empty() => (Some(ws.to_string()), *kind, *id),
            _ => return Err(err()),
        };
        if id.is_empty() {
            return Err(err());
        }
        match kind {
            "apis" => Ok(SourceKey::Api(ApimApiRef {
                workspace,
                api_id: id.to_string(),
            })),
            "apiVersionSets" => Ok(SourceKey::VersionSet {
                workspace,
                id: id.to_string(),
            }),
            _ => Err(err()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_ids() {
        let id = ApimServiceId::parse(
            "/subscriptions/0000/resourceGroups/rg-1/providers/Microsoft.ApiManagement/service/payments",
        )
        .unwrap();
        assert_eq!(id.0.name, "payments");
        assert_eq!(id.0.resource_group, "rg-1");
        assert!(
            id.to_string()
                .ends_with("Microsoft.ApiManagement/service/payments")
        );
        let lower = ApiCenterServiceId::parse(
            "/subscriptions/0000/resourcegroups/rg/providers/microsoft.apicenter/services/catalog",
        )
        .unwrap();
        assert_eq!(lower.0.name, "catalog");
    }

    #[test]
    fn rejects_wrong_shapes() {
        for bad in [
            "",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiCenter/services/catalog",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiManagement/service/",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a/apis/b",
            "subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a",
            "/subscriptions//resourceGroups/rg/providers/Microsoft.ApiManagement/service/a",
        ] {
            assert!(ApimServiceId::parse(bad).is_err(), "{bad}");
        }
    }

    const SUB: &str = "00000000-0000-0000-0000-0000000000a1";

    #[test]
    fn parses_apim_id_case_insensitively() {
        let id: ApimServiceId = format!(
            "/SUBSCRIPTIONS/{SUB}/resourcegroups/rg-apilink/Providers/microsoft.apimanagement/SERVICE/contoso-apim/"
        )
        .parse()
        .unwrap();
        assert_eq!(id.0.subscription, SUB);
        assert_eq!(id.0.resource_group, "rg-apilink");
        assert_eq!(id.0.name, "contoso-apim");
        assert_eq!(
            id.path(),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg-apilink/providers/Microsoft.ApiManagement/service/contoso-apim"
            )
        );
        assert_eq!(id.path().parse::<ApimServiceId>().unwrap(), id);
    }

    #[test]
    fn parses_api_center_id() {
        let text = format!(
            "/subscriptions/{SUB}/resourceGroups/rg.(x)_1/providers/Microsoft.ApiCenter/services/contoso-catalog"
        );
        let id: ApiCenterServiceId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
    }

    #[test]
    fn wrong_provider_or_collection_is_named() {
        let err = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiCenter/service/x1y"
        )
        .parse::<ApiCenterServiceId>()
        .unwrap_err();
        assert!(
            matches!(
                err,
                IdError::Segment {
                    expected: "services",
                    ..
                }
            ),
            "{err}"
        );
        let err = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiCenter/services/abc"
        )
        .parse::<ApimServiceId>()
        .unwrap_err();
        assert!(err.to_string().contains("Microsoft.ApiManagement"), "{err}");
    }

    #[test]
    fn bad_shapes() {
        for bad in [
            "",
            "subscriptions/x",
            &format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service"
            ),
            &format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a/apis/b"
            ),
            &format!(
                "/subscriptions/{SUB}/resourceGroups//providers/Microsoft.ApiManagement/service/a"
            ),
        ] {
            assert!(bad.parse::<ApimServiceId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_explained() {
        let err = "/subscriptions/not_a_guid/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a"
            .parse::<ApimServiceId>()
            .unwrap_err();
        assert!(matches!(err, IdError::Subscription { .. }), "{err}");
        let err = format!(
            "/subscriptions/{SUB}/resourceGroups/rg./providers/Microsoft.ApiManagement/service/a"
        )
        .parse::<ApimServiceId>()
        .unwrap_err();
        assert!(matches!(err, IdError::ResourceGroup { .. }), "{err}");
        let err = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/1abc"
        )
        .parse::<ApimServiceId>()
        .unwrap_err();
        assert!(matches!(err, IdError::Name { .. }), "{err}");
        let err = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiCenter/services/{}",
            "a".repeat(91)
        )
        .parse::<ApiCenterServiceId>()
        .unwrap_err();
        assert!(err.to_string().contains("up to 90"), "{err}");
    }

    #[test]
    fn providers_are_their_namespace_and_collection() {
        for kind in [APIM_KIND, API_CENTER_KIND] {
            assert_eq!(
                format!("{}/{}", kind.namespace, kind.collection),
                kind.provider
            );
        }
    }

    #[test]
    fn apim_service_names_follow_arm() {
        for good in ["a", "apim-1", &"a".repeat(50)] {
            assert!(valid_apim_service_name(good), "{good}");
        }
        for bad in ["", "1abc", "apim-", "a_b", &"a".repeat(51)] {
            assert!(!valid_apim_service_name(bad), "{bad}");
        }
    }

    #[test]
    fn source_keys_round_trip() {
        for text in [
            "apis/echo-api",
            "apiVersionSets/vs1",
            "workspaces/w1/apis/my_api",
            "workspaces/w1/apiVersionSets/v1.0",
        ] {
            let key: SourceKey = text.parse().unwrap();
            assert_eq!(key.to_string(), text);
        }
        for bad in ["", "apis/", "apis", "foo/x", "workspaces//apis/x", "a/b/c"] {
            assert!(bad.parse::<SourceKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn link_ids() {
        assert_eq!(
            LinkId::namespaced("platform", "payments").unwrap().as_str(),
            "platform/payments"
        );
        assert!(LinkId::new("").is_err());
        assert!(LinkId::new("a b").is_err());
    }
}
