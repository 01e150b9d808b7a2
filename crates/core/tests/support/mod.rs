//! Test support: settings builders, an APIM model with exports, and a pure simulator of
//! API Center that applies plan operations the way the service does (PUT replaces,
//! read-only fields are kept/computed by the service, deleting a parent cascades,
//! deployment references must resolve).

#![allow(dead_code)]

pub mod apim;
pub mod sim;

use apilink_core::LinkId;
use apilink_core::spec::{
    EnvironmentSpec, FilterSpec, ImportSpecification, LinkSettings, LinkSpec, SourceSpec,
    TargetSpec,
};

pub const APIM_ID: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ApiManagement/service/payments";
pub const APIC_ID: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ApiCenter/services/catalog";

/// A spec with the given knobs; everything else default.
pub fn spec(import: ImportSpecification, env_name: Option<&str>, filter: FilterSpec) -> LinkSpec {
    LinkSpec {
        source: SourceSpec {
            apim_resource_id: APIM_ID.into(),
            workspaces: vec!["w1".into()],
        },
        target: TargetSpec {
            api_center_resource_id: APIC_ID.into(),
            workspace: "default".into(),
        },
        environment: EnvironmentSpec {
            name: env_name.map(str::to_string),
            ..EnvironmentSpec::default()
        },
        import_specification: import,
        lifecycle_stage: Default::default(),
        filter,
        interval: "60s".into(),
        resync_interval: "6h".into(),
        suspend: false,
        deletion_policy: Default::default(),
        credentials: None,
        custom_properties: Default::default(),
        deletion_guard: Default::default(),
        apim_metadata: Default::default(),
        api_identity: Default::default(),
    }
}

pub fn settings_for(link: &str, spec: &LinkSpec) -> LinkSettings {
    spec.settings(LinkId::new(link).expect("link id"))
        .expect("valid spec")
}

/// Default settings for link `ns/a`.
pub fn settings(link: &str) -> LinkSettings {
    settings_for(
        link,
        &spec(ImportSpecification::Always, None, FilterSpec::default()),
    )
}
