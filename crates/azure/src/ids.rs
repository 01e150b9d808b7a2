//! Parsing and validation of the two ARM resource ids apilink is configured with.
//! Segment names (`subscriptions`, `resourceGroups`, `providers`, the provider
//! namespace, `service`/`services`) are matched case-insensitively as ARM does.

use std::fmt;
use std::str::FromStr;

use crate::error::AzureError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "{id:?} is not a {kind} resource id: expected /subscriptions/{{subscription}}/resourceGroups/{{group}}/providers/{provider}/{collection}/{{name}}"
    )]
    Shape {
        id: String,
        kind: &'static str,
        provider: &'static str,
        collection: &'static str,
    },
    #[error("{id:?}: segment {position} should be {expected:?}, found {found:?}")]
    Segment {
        id: String,
        position: usize,
        expected: &'static str,
        found: String,
    },
    #[error("{id:?}: subscription id {value:?} is not a GUID")]
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
}

impl From<IdError> for AzureError {
    fn from(e: IdError) -> Self {
        AzureError::InvalidInput(e.to_string())
    }
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{name}`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApimServiceId {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ApiCenter/services/{name}`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiCenterServiceId {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

const APIM_PROVIDER: &str = "Microsoft.ApiManagement";
const APIC_PROVIDER: &str = "Microsoft.ApiCenter";

struct Shape {
    kind: &'static str,
    provider: &'static str,
    collection: &'static str,
}

/// Splits and checks the fixed segments; returns (subscription, group, name).
fn parse_service(id: &str, shape: &Shape) -> Result<(String, String, String), IdError> {
    let trimmed = id.trim();
    let body = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let shape_error = || IdError::Shape {
        id: id.to_string(),
        kind: shape.kind,
        provider: shape.provider,
        collection: shape.collection,
    };
    let body = body.strip_prefix('/').ok_or_else(shape_error)?;
    let segments: Vec<&str> = body.split('/').collect();
    if segments.len() != 8 || segments.iter().any(|s| s.is_empty()) {
        return Err(shape_error());
    }
    let fixed = [
        (0, "subscriptions"),
        (2, "resourceGroups"),
        (4, "providers"),
        (5, shape.provider),
        (6, shape.collection),
    ];
    for (position, expected) in fixed {
        if !segments[position].eq_ignore_ascii_case(expected) {
            return Err(IdError::Segment {
                id: id.to_string(),
                position: position + 1,
                expected,
                found: segments[position].to_string(),
            });
        }
    }
    let (subscription, group, name) = (segments[1], segments[3], segments[7]);
    if !is_guid(subscription) {
        return Err(IdError::Subscription {
            id: id.to_string(),
            value: subscription.to_string(),
        });
    }
    if !is_valid_resource_group(group) {
        return Err(IdError::ResourceGroup {
            id: id.to_string(),
            value: group.to_string(),
        });
    }
    Ok((
        subscription.to_string(),
        group.to_string(),
        name.to_string(),
    ))
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_valid_resource_group(s: &str) -> bool {
    let count = s.chars().count();
    (1..=90).contains(&count)
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

/// APIM service names: 1-50 chars, a letter first, letters/digits/hyphens, no trailing hyphen.
pub fn is_valid_apim_service_name(s: &str) -> bool {
    (1..=50).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// API Center names (services and every nested segment): `^[a-zA-Z0-9-]{3,90}$`.
pub fn is_valid_apic_name(s: &str) -> bool {
    (3..=90).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl ApimServiceId {
    pub fn new(subscription_id: &str, resource_group: &str, name: &str) -> Result<Self, IdError> {
        format!(
            "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{APIM_PROVIDER}/service/{name}"
        )
        .parse()
    }

    /// The canonical id, also the ARM path of the service.
    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl FromStr for ApimServiceId {
    type Err = IdError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let (subscription_id, resource_group, name) = parse_service(
            id,
            &Shape {
                kind: "API Management service",
                provider: APIM_PROVIDER,
                collection: "service",
            },
        )?;
        if !is_valid_apim_service_name(&name) {
            return Err(IdError::Name {
                id: id.to_string(),
                kind: "API Management service",
                value: name,
                rule: "1-50 letters, digits or hyphens, starting with a letter and not ending with a hyphen",
            });
        }
        Ok(Self {
            subscription_id,
            resource_group,
            name,
        })
    }
}

impl fmt::Display for ApimServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{APIM_PROVIDER}/service/{}",
            self.subscription_id, self.resource_group, self.name
        )
    }
}

impl ApiCenterServiceId {
    pub fn new(subscription_id: &str, resource_group: &str, name: &str) -> Result<Self, IdError> {
        format!(
            "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{APIC_PROVIDER}/services/{name}"
        )
        .parse()
    }

    /// The canonical id, also the ARM path of the service.
    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl FromStr for ApiCenterServiceId {
    type Err = IdError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let (subscription_id, resource_group, name) = parse_service(
            id,
            &Shape {
                kind: "API Center service",
                provider: APIC_PROVIDER,
                collection: "services",
            },
        )?;
        if !is_valid_apic_name(&name) {
            return Err(IdError::Name {
                id: id.to_string(),
                kind: "API Center service",
                value: name,
                rule: "3-90 ASCII letters, digits or hyphens",
            });
        }
        Ok(Self {
            subscription_id,
            resource_group,
            name,
        })
    }
}

impl fmt::Display for ApiCenterServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{APIC_PROVIDER}/services/{}",
            self.subscription_id, self.resource_group, self.name
        )
    }
}

/// The last segment of an ARM id (e.g. the version-set name of an `apiVersionSetId`).
pub fn last_segment(id: &str) -> Option<&str> {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-0000000000a1";

    #[test]
    fn parses_apim_id_case_insensitively() {
        let id: ApimServiceId = format!(
            "/SUBSCRIPTIONS/{SUB}/resourcegroups/rg-apilink/Providers/microsoft.apimanagement/SERVICE/contoso-apim/"
        )
        .parse()
        .unwrap();
        assert_eq!(id.subscription_id, SUB);
        assert_eq!(id.resource_group, "rg-apilink");
        assert_eq!(id.name, "contoso-apim");
        assert_eq!(
            id.path(),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg-apilink/providers/Microsoft.ApiManagement/service/contoso-apim"
            )
        );
        assert_eq!(
            ApimServiceId::new(SUB, "rg-apilink", "contoso-apim").unwrap(),
            id
        );
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
        let err = "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a"
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
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiCenter/services/ab"
        )
        .parse::<ApiCenterServiceId>()
        .unwrap_err();
        assert!(err.to_string().contains("3-90"), "{err}");
    }

    #[test]
    fn names() {
        assert!(is_valid_apic_name("echo-api"));
        assert!(!is_valid_apic_name("echo-api;rev=3"));
        assert!(!is_valid_apic_name("my_api"));
        assert!(!is_valid_apic_name("v1"));
        assert!(!is_valid_apic_name(&"a".repeat(91)));
        assert_eq!(
            last_segment("/subscriptions/s/x/apiVersionSets/vs-1"),
            Some("vs-1")
        );
        assert_eq!(last_segment(""), None);
    }
}
