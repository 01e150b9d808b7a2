//! What an emulator is started with: ids, principals and their roles, paging, throttling,
//! and how strictly API Center reads its contract.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::apim::Seed;
use crate::faults::FaultRule;

pub const DEFAULT_SUBSCRIPTION_ID: &str = "00000000-0000-0000-0000-0000000000a1";
pub const DEFAULT_RESOURCE_GROUP: &str = "rg-apilink";
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-0000000000e1";
pub const DEFAULT_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000c1";
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-client-secret";
pub const DEFAULT_FEDERATED_SUBJECT: &str = "system:serviceaccount:apilink-system:apilink";
pub const DEFAULT_API_CENTER_SERVICE: &str = "contoso-catalog";

/// Everything an emulator starts with. `Default` gives a ready-to-use emulator: one APIM
/// service (`contoso-apim`, see [`Seed::default`]), one API Center service
/// (`contoso-catalog`) and one principal that may read APIM and write API Center.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub subscription_id: String,
    pub resource_group: String,
    pub tenant_id: String,
    pub seed: Seed,
    pub api_center_services: Vec<String>,
    /// APIM honours `$top` up to this many items per page; it is also the page size when
    /// the caller gives no `$top`.
    pub apim_page_size: usize,
    pub apic_page_size: usize,
    pub lro_polls_before_done: u32,
    pub token_lifetime: Duration,
    pub principals: Vec<Principal>,
    pub faults: Vec<FaultRule>,
    pub bind: SocketAddr,
    /// ARM's per-principal token buckets; enforced by default with ARM's real numbers.
    pub throttle: ThrottleConfig,
    /// How long an APIM export link (a SAS-style URL) stays valid; 5 minutes in Azure.
    pub export_link_ttl: Duration,
    /// How API Center reads the parts of its contract that the specification leaves open
    /// or that a lenient emulator could let slip; strict by default.
    pub apic_contract: ApicContract,
    /// The pricing plan every API Center service reports (`sku.name`) and whose limits
    /// it enforces; Standard by default.
    pub api_center_sku: ApicSku,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            subscription_id: DEFAULT_SUBSCRIPTION_ID.to_string(),
            resource_group: DEFAULT_RESOURCE_GROUP.to_string(),
            tenant_id: DEFAULT_TENANT_ID.to_string(),
            seed: Seed::default(),
            api_center_services: vec![DEFAULT_API_CENTER_SERVICE.to_string()],
            apim_page_size: 100,
            apic_page_size: 50,
            lro_polls_before_done: 1,
            token_lifetime: Duration::from_secs(3600),
            principals: vec![Principal::default_for(DEFAULT_SUBSCRIPTION_ID)],
            faults: Vec::new(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            throttle: ThrottleConfig::default(),
            export_link_ttl: Duration::from_secs(300),
            apic_contract: ApicContract::default(),
            api_center_sku: ApicSku::default(),
        }
    }
}

/// An API Center pricing plan. It decides the plan limits (see `ApicLimits::for_sku`) and
/// the service's `sku.name`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApicSku {
    Free,
    #[default]
    Standard,
}

impl ApicSku {
    /// The name ARM reports in the service's `sku.name`.
    pub fn name(self) -> &'static str {
        match self {
            ApicSku::Free => "Free",
            ApicSku::Standard => "Standard",
        }
    }
}

/// What API Center does with `If-Match` / `If-None-Match`. The 2024-03-01 specification
/// declares neither header, so whether the service honours them is unverified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionalHeaders {
    /// Preconditions are checked: a mismatch answers 412 `PreconditionFailed`.
    Honoured,
    /// The headers have no effect at all.
    Ignored,
    /// A request carrying either header answers 400 `InvalidRequestHeader`; nothing is written.
    Refused,
}

/// How `importSpecification` answers: which headers its 202 carries, or no 202 at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportAnswer {
    /// 202 with `Location` and `Retry-After`, as the specification declares (final state
    /// via location).
    LocationOnly,
    /// 202 with `Location`, `Azure-AsyncOperation` and `Retry-After`.
    LocationAndAsyncOperation,
    /// The import completes within the POST: 200 without a body and without `Location`
    /// (the specification's 200), or the import's ARM error.
    Synchronous,
}

/// What API Center does with a `customProperties` key that no metadata schema assigned to
/// the entity kind declares. The specification does not say; the service refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UndeclaredCustomProperties {
    /// 400 `ValidationError` naming the property; nothing is written.
    Refused,
    /// The write succeeds, but the property is neither stored nor returned.
    Dropped,
    /// Stored and returned as sent.
    Kept,
}

/// How strictly the emulated API Center reads the 2024-03-01 contract. Schema members,
/// their lengths and formats are enforced in every profile; this covers what goes beyond.
///
/// Its JSON form (admin route) uses the snake_case field names; the camelCase spellings
/// are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApicContract {
    /// A custom property that no metadata schema assigned to the entity kind declares:
    /// refused with 400 (strict), dropped, or kept (lax).
    #[serde(alias = "undeclaredCustomProperties")]
    pub undeclared_custom_properties: UndeclaredCustomProperties,
    /// Enforce ApicLimits' custom-property limits (count per entity, members per object-valued property).
    #[serde(alias = "enforceCustomPropertyLimits")]
    pub enforce_custom_property_limits: bool,
    #[serde(alias = "conditionalHeaders")]
    pub conditional_headers: ConditionalHeaders,
    #[serde(alias = "importAnswer")]
    pub import_answer: ImportAnswer,
}

impl ApicContract {
    /// Everything a client may not rely on is refused or withheld: undeclared custom
    /// properties and limits are enforced, conditional headers are ignored, imports
    /// advertise only `Location`.
    pub fn strict() -> Self {
        Self {
            undeclared_custom_properties: UndeclaredCustomProperties::Refused,
            enforce_custom_property_limits: true,
            conditional_headers: ConditionalHeaders::Ignored,
            import_answer: ImportAnswer::LocationOnly,
        }
    }

    /// The forgiving reading: custom properties are kept as sent, preconditions are
    /// honoured and imports advertise both polling URLs.
    pub fn lax() -> Self {
        Self {
            undeclared_custom_properties: UndeclaredCustomProperties::Kept,
            enforce_custom_property_limits: false,
            conditional_headers: ConditionalHeaders::Honoured,
            import_answer: ImportAnswer::LocationAndAsyncOperation,
        }
    }
}

impl Default for ApicContract {
    fn default() -> Self {
        Self::strict()
    }
}

/// A service principal or managed identity known to the emulated Entra ID tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub client_id: String,
    /// Accepted as `client_secret` in the client-credentials grant.
    pub secret: Option<String>,
    /// The `sub` a federated assertion (workload identity) must carry for this client.
    pub federated_subject: Option<String>,
    /// May use the App-Service-style managed-identity endpoint.
    pub managed_identity: bool,
    pub roles: Vec<RoleAssignment>,
}

impl Principal {
    /// The default principal: secret, workload identity and managed identity all enabled,
    /// "API Management Service Reader" and "Azure API Center Service Contributor" over
    /// the whole subscription.
    pub fn default_for(subscription_id: &str) -> Self {
        let scope = format!("/subscriptions/{subscription_id}");
        Self {
            client_id: DEFAULT_CLIENT_ID.to_string(),
            secret: Some(DEFAULT_CLIENT_SECRET.to_string()),
            federated_subject: Some(DEFAULT_FEDERATED_SUBJECT.to_string()),
            managed_identity: true,
            roles: vec![
                RoleAssignment::new(Role::ApiManagementServiceReader, &scope),
                RoleAssignment::new(Role::ApiCenterServiceContributor, &scope),
            ],
        }
    }

    /// A principal with a client secret and the given roles, nothing else.
    pub fn with_secret(client_id: &str, secret: &str, roles: Vec<RoleAssignment>) -> Self {
        Self {
            client_id: client_id.to_string(),
            secret: Some(secret.to_string()),
            federated_subject: None,
            managed_identity: false,
            roles,
        }
    }

    /// The object id Entra ID would show for this principal; derived from the client id so
    /// it is stable across restarts.
    pub fn object_id(&self) -> String {
        object_id_for(&self.client_id)
    }
}

pub(crate) fn object_id_for(client_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("object-id:{client_id}").as_bytes());
    let hex = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One role granted over one scope (an ARM id prefix such as `/subscriptions/{id}` or a
/// full resource id; `/` grants everywhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    pub role: Role,
    pub scope: String,
}

impl RoleAssignment {
    pub fn new(role: Role, scope: &str) -> Self {
        Self {
            role,
            scope: scope.to_string(),
        }
    }
}

/// Built-in Azure roles the emulator knows, with the control-plane actions they grant
/// (see `rbac.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Every `*/read` action.
    Reader,
    /// Every action.
    Contributor,
    /// Every action.
    Owner,
    /// "API Management Service Reader Role": reads of `Microsoft.ApiManagement/service`.
    ApiManagementServiceReader,
    /// "Azure API Center Service Contributor": every `Microsoft.ApiCenter/services` action.
    ApiCenterServiceContributor,
    /// "Azure API Center Service Reader": reads of `Microsoft.ApiCenter/services` and
    /// exportSpecification.
    ApiCenterServiceReader,
    /// "Azure API Center Data Reader": data-plane only, so no ARM action at all.
    ApiCenterDataReader,
}

impl Role {
    /// The role's display name in Azure.
    pub fn display_name(self) -> &'static str {
        match self {
            Role::Reader => "Reader",
            Role::Contributor => "Contributor",
            Role::Owner => "Owner",
            Role::ApiManagementServiceReader => "API Management Service Reader Role",
            Role::ApiCenterServiceContributor => "Azure API Center Service Contributor",
            Role::ApiCenterServiceReader => "Azure API Center Service Reader",
            Role::ApiCenterDataReader => "Azure API Center Data Reader",
        }
    }
}

/// ARM's throttling model: one token bucket per principal for each of reads, writes and
/// deletes: each refills at its own rate (reads 250 + 25/s, writes 200 + 10/s, deletes
/// 200 + 10/s by default, as ARM documents). Sizes and rates can be scaled (e.g. to make
/// a benchmark reach the refill sooner) here or at run time with `PUT
/// /_emulator/throttle`; `GET /_emulator/throttle/report` tells, per principal, what each
/// bucket allowed and refused, how much of its refill after the burst was used, and how
/// many requests arrived inside a `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThrottleConfig {
    /// When false, nothing is refused and the remaining-quota headers report full buckets.
    pub enabled: bool,
    pub reads: BucketConfig,
    pub writes: BucketConfig,
    pub deletes: BucketConfig,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reads: BucketConfig {
                capacity: 250.0,
                refill_per_sec: 25.0,
            },
            writes: BucketConfig {
                capacity: 200.0,
                refill_per_sec: 10.0,
            },
            deletes: BucketConfig {
                capacity: 200.0,
                refill_per_sec: 10.0,
            },
        }
    }
}

impl ThrottleConfig {
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BucketConfig {
    /// Tokens when full: the burst a principal may send at once.
    pub capacity: f64,
    pub refill_per_sec: f64,
}

impl BucketConfig {
    pub const fn new(capacity: f64, refill_per_sec: f64) -> Self {
        Self {
            capacity,
            refill_per_sec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_center_contract_is_strict_by_default_and_reads_as_snake_case_json() {
        assert_eq!(ApicContract::default(), ApicContract::strict());
        assert_eq!(
            EmulatorConfig::default().apic_contract,
            ApicContract::strict()
        );
        let json = serde_json::to_value(ApicContract::lax()).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "undeclared_custom_properties": "kept",
                "enforce_custom_property_limits": false,
                "conditional_headers": "honoured",
                "import_answer": "location-and-async-operation",
            })
        );
        let back: ApicContract = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, ApicContract::lax());
        let camel: ApicContract = serde_json::from_value(serde_json::json!({
            "undeclaredCustomProperties": "dropped",
            "enforceCustomPropertyLimits": true,
            "conditionalHeaders": "refused",
            "importAnswer": "synchronous",
        }))
        .expect("camelCase deserializes");
        assert_eq!(
            camel,
            ApicContract {
                undeclared_custom_properties: UndeclaredCustomProperties::Dropped,
                enforce_custom_property_limits: true,
                conditional_headers: ConditionalHeaders::Refused,
                import_answer: ImportAnswer::Synchronous,
            }
        );
    }

    #[test]
    fn skus_name_themselves_as_arm_does() {
        assert_eq!(EmulatorConfig::default().api_center_sku, ApicSku::Standard);
        assert_eq!(ApicSku::Free.name(), "Free");
        assert_eq!(ApicSku::Standard.name(), "Standard");
        assert_eq!(
            serde_json::to_value(ApicSku::Free).expect("serializes"),
            serde_json::json!("Free")
        );
    }

    #[test]
    fn object_ids_are_stable_uuid_shaped_and_distinct() {
        let a = object_id_for("a");
        assert_eq!(a, object_id_for("a"));
        assert_ne!(a, object_id_for("b"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
