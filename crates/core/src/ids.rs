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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceResourceId {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
}

impl ServiceResourceId {
    fn parse(value: &str, provider: &'static str) -> Result<Self, IdError> {
        let err = || IdError::ResourceId {
            value: value.to_string(),
            provider,
        };
        let segments: Vec<&str> = value.trim_end_matches('/').split('/').collect();
        let (expected_ns, expected_type) = provider.split_once('/').ok_or_else(err)?;
        let [
            "",
            subs,
            subscription,
            rgs,
            resource_group,
            providers,
            namespace,
            kind,
            name,
        ] = segments.as_slice()
        else {
            return Err(err());
        };
        let good = subs.eq_ignore_ascii_case("subscriptions")
            && rgs.eq_ignore_ascii_case("resourceGroups")
            && providers.eq_ignore_ascii_case("providers")
            && namespace.eq_ignore_ascii_case(expected_ns)
            && kind.eq_ignore_ascii_case(expected_type)
            && !subscription.is_empty()
            && valid_resource_group(resource_group)
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !good {
            return Err(err());
        }
        Ok(Self {
            subscription: subscription.to_string(),
            resource_group: resource_group.to_string(),
            name: name.to_string(),
        })
    }
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

/// ARM id of an API Management service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApimServiceId(pub ServiceResourceId);

impl ApimServiceId {
    pub const PROVIDER: &'static str = "Microsoft.ApiManagement/service";

    pub fn parse(value: &str) -> Result<Self, IdError> {
        ServiceResourceId::parse(value, Self::PROVIDER).map(Self)
    }
}

impl fmt::Display for ApimServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.0;
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{}/{}",
            id.subscription,
            id.resource_group,
            Self::PROVIDER,
            id.name
        )
    }
}

/// ARM id of an API Center service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiCenterServiceId(pub ServiceResourceId);

impl ApiCenterServiceId {
    pub const PROVIDER: &'static str = "Microsoft.ApiCenter/services";

    pub fn parse(value: &str) -> Result<Self, IdError> {
        ServiceResourceId::parse(value, Self::PROVIDER).map(Self)
    }
}

impl fmt::Display for ApiCenterServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.0;
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{}/{}",
            id.subscription,
            id.resource_group,
            Self::PROVIDER,
            id.name
        )
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
