//! The one place a link is validated: the pass and the cleanup both start from the
//! [`LinkSettings`] made here, and everything after them (the preflight, the runner)
//! takes those settings as they are.

use apilink_core::ids::IdError;
use apilink_core::spec::{InvalidSpec, LinkSpec};
use apilink_core::{ErrorClass, LinkId, LinkSettings};

use crate::conditions::reason;
use crate::runner::RunError;

/// Spec fields naming the two Azure services.
const SERVICE_ID_FIELDS: [&str; 2] = [
    "spec.source.apimResourceId",
    "spec.target.apiCenterResourceId",
];

/// Why a link cannot be turned into [`LinkSettings`]. Only the user can fix either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLink {
    /// `namespace/name` is no link id (too long, together).
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Spec(#[from] InvalidSpec),
}

impl InvalidLink {
    /// True when a service's resource id is among the problems: such a link never
    /// reached Azure, so it owns nothing there.
    pub fn service_ids_invalid(&self) -> bool {
        match self {
            InvalidLink::Id(_) => false,
            InvalidLink::Spec(spec) => spec
                .problems
                .iter()
                .any(|p| SERVICE_ID_FIELDS.contains(&p.field.as_str())),
        }
    }

    /// The error a pass or cleanup of this link fails with: `InvalidSpec`, which only a
    /// change of the spec clears.
    pub fn run_error(&self) -> RunError {
        RunError::new(
            ErrorClass::NeedsUser,
            reason::INVALID_SPEC,
            self.to_string(),
        )
    }
}

/// Validates the link `namespace/name` with `spec` into the settings every later step
/// takes. The per-pass fields (`confirmed_deletions`, `paused_apis`) are left empty for
/// the pass to fill in.
pub fn link_settings(
    namespace: &str,
    name: &str,
    spec: &LinkSpec,
) -> Result<LinkSettings, InvalidLink> {
    let id = LinkId::namespaced(namespace, name)?;
    Ok(spec.settings(id)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const APIM: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a";
    const APIC: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c";

    fn spec(value: serde_json::Value) -> LinkSpec {
        serde_json::from_value(value).unwrap()
    }

    fn valid() -> LinkSpec {
        spec(json!({
            "source": {"apimResourceId": APIM},
            "target": {"apiCenterResourceId": APIC},
        }))
    }

    #[test]
    fn a_valid_link_gets_its_id_and_no_per_pass_fields() {
        let settings = link_settings("ns", "link", &valid()).unwrap();
        assert_eq!(settings.link.as_str(), "ns/link");
        assert_eq!(settings.confirmed_deletions, None);
        assert!(settings.paused_apis.is_empty());
    }

    #[test]
    fn an_unusable_spec_is_a_user_error_that_stalls() {
        let spec = spec(json!({
            "source": {"apimResourceId": "/not/an/arm/id"},
            "target": {"apiCenterResourceId": APIC}
        }));
        let invalid = link_settings("ns", "link", &spec).unwrap_err();
        assert!(invalid.service_ids_invalid());
        let error = invalid.run_error();
        assert_eq!(error.class, ErrorClass::NeedsUser);
        assert_eq!(error.reason, reason::INVALID_SPEC);
        assert!(error.is_terminal());
        assert!(
            error.message.contains("apimResourceId"),
            "{}",
            error.message
        );
    }

    #[test]
    fn other_problems_leave_the_service_ids_valid() {
        let spec = spec(json!({
            "source": {"apimResourceId": APIM},
            "target": {"apiCenterResourceId": APIC},
            "filter": {"include": ["[unclosed"]},
        }));
        let invalid = link_settings("ns", "link", &spec).unwrap_err();
        assert!(!invalid.service_ids_invalid());
        assert!(
            invalid.to_string().contains("spec.filter.include[0]"),
            "{invalid}"
        );
    }

    #[test]
    fn a_name_too_long_for_a_link_id_is_invalid() {
        let name = "n".repeat(253);
        let invalid = link_settings("ns", &name, &valid()).unwrap_err();
        assert!(matches!(invalid, InvalidLink::Id(_)), "{invalid:?}");
        assert!(!invalid.service_ids_invalid());
        assert!(
            invalid.to_string().starts_with("link id must be"),
            "{invalid}"
        );
    }
}
