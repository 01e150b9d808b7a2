//! The stable ids of the preflight checks. They appear in `apilink check` output, in
//! JSON reports and in Kubernetes events, so they never change once released.

pub const SPEC: &str = "spec";
pub const CREDENTIAL: &str = "credential";
pub const APIM_SERVICE: &str = "apim.service";
pub const APIC_SERVICE: &str = "apic.service";
pub const APIM_PERMISSIONS: &str = "apim.permissions";
pub const APIC_PERMISSIONS: &str = "apic.permissions";
pub const APIM_INVENTORY: &str = "apim.inventory";
pub const APIM_EXPORT: &str = "apim.export";
pub const APIC_WORKSPACE: &str = "apic.workspace";
pub const APIC_METADATA: &str = "apic.metadata";
pub const APIC_LIMITS: &str = "apic.limits";
pub const ARM_QUOTA: &str = "arm.quota";
pub const PROBE_LEFTOVERS: &str = "probe.leftovers";
pub const PROBE_CUSTOM_PROPERTIES: &str = "probe.custom-properties";
pub const PROBE_CONDITIONAL_HEADERS: &str = "probe.conditional-headers";
pub const PROBE_IMPORT: &str = "probe.import";

/// Every check id.
pub const ALL: &[&str] = &[
    SPEC,
    CREDENTIAL,
    APIM_SERVICE,
    APIC_SERVICE,
    APIM_PERMISSIONS,
    APIC_PERMISSIONS,
    APIM_INVENTORY,
    APIM_EXPORT,
    APIC_WORKSPACE,
    APIC_METADATA,
    APIC_LIMITS,
    ARM_QUOTA,
    PROBE_LEFTOVERS,
    PROBE_CUSTOM_PROPERTIES,
    PROBE_CONDITIONAL_HEADERS,
    PROBE_IMPORT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_lowercase_and_dotted() {
        let mut seen = std::collections::BTreeSet::new();
        for id in ALL {
            assert!(seen.insert(*id), "{id} listed twice");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '-'),
                "{id}"
            );
        }
        assert_eq!(ALL.len(), 16);
    }
}
