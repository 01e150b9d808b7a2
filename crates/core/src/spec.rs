//! The link specification (the `spec` of the `ApiSourceLink` resource, also the CLI's
//! link file), its validation and the parsed settings the engine works with.

use std::time::Duration;

use globset::{GlobSet, GlobSetBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::duration::parse_duration;
use crate::ids::{ApiCenterServiceId, ApimServiceId, LinkId};
use crate::marker::{LEGACY_MARKER_KEY, RECORD_KEY};
use crate::naming::{environment_name, is_valid_name};

/// Longest allowed `resyncInterval`: the convergence bound promised to users.
pub const MAX_RESYNC_INTERVAL: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_INTERVAL: &str = "60s";
const DEFAULT_RESYNC_INTERVAL: &str = "6h";
const DEFAULT_TARGET_WORKSPACE: &str = "default";

/// One link: which APIM instance feeds which API Center, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkSpec {
    pub source: SourceSpec,
    pub target: TargetSpec,
    #[serde(default)]
    pub environment: EnvironmentSpec,
    #[serde(default)]
    pub import_specification: ImportSpecification,
    /// Stage given to new versions; API Center owns it afterwards.
    #[serde(default)]
    pub lifecycle_stage: LifecycleStage,
    #[serde(default)]
    pub filter: FilterSpec,
    /// Light poll period, e.g. `60s`.
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Full re-read period including definitions; at most `24h`.
    #[serde(default = "default_resync_interval")]
    pub resync_interval: String,
    #[serde(default)]
    pub suspend: bool,
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Where Azure credentials come from; absent means the pod's workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsSpec>,
    /// Custom property values given to the entities the link creates (for metadata your
    /// organisation requires, such as an owner); applied on create only, API Center owns
    /// them afterwards.
    #[serde(default, skip_serializing_if = "CustomPropertiesSpec::is_empty")]
    pub custom_properties: CustomPropertiesSpec,
    /// Deletions a pass holds until someone confirms them (a filter typo or an empty APIM
    /// answer must not wipe the catalogue).
    #[serde(default)]
    pub deletion_guard: DeletionGuardSpec,
    /// APIM tags and product memberships given to the link's APIs as API Center custom
    /// properties (arrays of display names), declared by metadata schemas the link creates.
    #[serde(default, skip_serializing_if = "ApimMetadataSpec::is_empty")]
    pub apim_metadata: ApimMetadataSpec,
    /// Which API Center API an APIM API maps to. `scope: Link` (the default): an API of
    /// this link's own. `scope: Shared`: the API every link with the same identity key
    /// maps to, so one API per logical API carries a deployment per stage.
    #[serde(default, skip_serializing_if = "ApiIdentitySpec::is_link_scoped")]
    pub api_identity: ApiIdentitySpec,
}

/// Which API Center API an APIM API maps to (`spec.apiIdentity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiIdentitySpec {
    #[serde(default)]
    pub scope: ApiIdentityScope,
    /// What identifies a logical API across links in the shared scope.
    #[serde(default)]
    pub key: ApiIdentityKey,
}

impl ApiIdentitySpec {
    pub fn is_link_scoped(&self) -> bool {
        self.scope == ApiIdentityScope::Link
    }
}

/// Whose API an APIM API maps to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ApiIdentityScope {
    /// An API of this link's own (its name carries a hash of the link id).
    #[default]
    Link,
    /// The API every `Shared` link with the same key maps to.
    Shared,
}

/// The identity key of a logical API in the shared scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ApiIdentityKey {
    /// The APIM API id, or the version set id for a versioned API (workspace left out).
    #[default]
    Name,
    /// The APIM API path (for a version set, its members' common path).
    Path,
}

/// When a pass holds the deletion of the APIs the link owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionGuardSpec {
    /// Hold when a pass would delete more than this percentage of the link's APIs.
    #[serde(default = "default_guard_percent")]
    #[schemars(range(min = 0, max = 100))]
    pub max_percent: u8,
    /// Hold when a pass would delete more than this many APIs (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u32>,
}

fn default_guard_percent() -> u8 {
    DEFAULT_GUARD_PERCENT
}

/// Deletions of more than half of a link's APIs are held by default.
pub const DEFAULT_GUARD_PERCENT: u8 = 50;

impl Default for DeletionGuardSpec {
    fn default() -> Self {
        Self {
            max_percent: DEFAULT_GUARD_PERCENT,
            max_count: None,
        }
    }
}

/// Custom property values per entity kind, keyed by metadata schema name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomPropertiesSpec {
    /// Values for new APIs, by metadata schema name.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "custom_property_values")]
    pub api: Map<String, Value>,
    /// Values for the link's environment.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "custom_property_values")]
    pub environment: Map<String, Value>,
    /// Values for new deployments.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "custom_property_values")]
    pub deployment: Map<String, Value>,
}

/// Any JSON value per key (a metadata schema decides the type); a structural schema for
/// the Kubernetes API server.
fn custom_property_values(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": MAX_SPEC_CUSTOM_PROPERTIES,
        "additionalProperties": {"x-kubernetes-preserve-unknown-fields": true},
    })
}

impl CustomPropertiesSpec {
    pub fn is_empty(&self) -> bool {
        self.api.is_empty() && self.environment.is_empty() && self.deployment.is_empty()
    }

    /// The values for one metadata entity kind (`api`, `environment`, `deployment`).
    pub fn for_entity(&self, entity: &str) -> Option<&Map<String, Value>> {
        match entity {
            "api" => Some(&self.api),
            "environment" => Some(&self.environment),
            "deployment" => Some(&self.deployment),
            _ => None,
        }
    }

    fn check(&self, problems: &mut Problems) {
        for (entity, values) in [
            ("api", &self.api),
            ("environment", &self.environment),
            ("deployment", &self.deployment),
        ] {
            if values.len() > MAX_SPEC_CUSTOM_PROPERTIES {
                problems.add(
                    format!("spec.customProperties.{entity}"),
                    format!(
                        "at most {MAX_SPEC_CUSTOM_PROPERTIES} properties (API Center allows 20 per entity and the link keeps one for its ownership record)"
                    ),
                );
            }
            for (key, value) in values {
                let field = format!("spec.customProperties.{entity}.{key}");
                if key == RECORD_KEY || key == LEGACY_MARKER_KEY {
                    problems.add(field, "is reserved for the link's ownership record");
                } else if !is_valid_name(key) {
                    problems.add(
                        field,
                        "must be a metadata schema name (^[a-zA-Z0-9-]{3,90}$)",
                    );
                } else if value.is_null() {
                    problems.add(field, "must have a value");
                }
            }
        }
    }
}

/// Custom properties the spec may give one entity: API Center's 20 less the record.
pub const MAX_SPEC_CUSTOM_PROPERTIES: usize = 19;

fn default_interval() -> String {
    DEFAULT_INTERVAL.to_string()
}

fn default_resync_interval() -> String {
    DEFAULT_RESYNC_INTERVAL.to_string()
}

fn default_target_workspace() -> String {
    DEFAULT_TARGET_WORKSPACE.to_string()
}

fn default_include() -> Vec<String> {
    vec!["*".to_string()]
}

/// The APIM instance read by the link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceSpec {
    /// ARM id of the APIM service (immutable).
    pub apim_resource_id: String,
    /// APIM workspaces to include besides the service level.
    #[serde(default)]
    pub workspaces: Vec<String>,
}

/// The API Center written by the link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    /// ARM id of the API Center service (immutable).
    pub api_center_resource_id: String,
    #[serde(default = "default_target_workspace")]
    pub workspace: String,
}

/// The longest environment description a spec may set. API Center's contract sets no
/// limit; this keeps it to the length it allows an API's description.
pub const ENVIRONMENT_DESCRIPTION_MAX: usize = 1000;

/// The API Center environment standing for the APIM instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// Environment name; derived from the link id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Title used on create only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Kind used on create only.
    #[serde(default)]
    pub kind: EnvironmentKind,
    /// Description used on create only: API Center's users own it afterwards. Defaults
    /// to one naming the APIM service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1000))]
    pub description: Option<String>,
}

/// API Center environment kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentKind {
    Development,
    Testing,
    Staging,
    #[default]
    Production,
}

impl EnvironmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Testing => "testing",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// Whether definitions get their specification content imported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ImportSpecification {
    #[default]
    Always,
    Never,
}

/// API Center lifecycle stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    #[default]
    Design,
    Development,
    Testing,
    Preview,
    Production,
    Deprecated,
    Retired,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Design => "design",
            Self::Development => "development",
            Self::Testing => "testing",
            Self::Preview => "preview",
            Self::Production => "production",
            Self::Deprecated => "deprecated",
            Self::Retired => "retired",
        }
    }
}

/// Which APIM entities the link syncs. Globs (case-insensitive, `*` also crosses `/`)
/// match the APIM API name for a plain API and the version set's name for a version
/// set (all its member APIs follow the set). Workspace entities match either their
/// bare name or `{workspace}/{name}`. An entity is synced when it matches an `include`
/// glob and no `exclude` glob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterSpec {
    #[serde(default = "default_include")]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Default for FilterSpec {
    fn default() -> Self {
        Self {
            include: default_include(),
            exclude: Vec::new(),
        }
    }
}

/// What happens in Azure when the link is deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Remove every entity the link created.
    #[default]
    Delete,
    /// Leave Azure as it is.
    Orphan,
}

/// Credentials reference, opaque to the planner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSpec {
    pub secret_ref: SecretRef,
}

/// A Secret in the link's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    pub name: String,
}

/// One problem found in a spec; `field` is a JSON path such as `spec.filter.include[1]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecProblem {
    pub field: String,
    pub message: String,
}

/// All problems of an invalid spec, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid link spec: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidSpec {
    pub problems: Vec<SpecProblem>,
}

/// The compiled filter.
#[derive(Debug, Clone)]
pub struct ApiFilter {
    include: GlobSet,
    exclude: GlobSet,
}

impl ApiFilter {
    /// True when the APIM entity `name` (in `workspace`, if any) is to be synced.
    pub fn matches(&self, workspace: Option<&str>, name: &str) -> bool {
        let qualified = workspace.map(|ws| format!("{ws}/{name}"));
        let hit = |set: &GlobSet| {
            set.is_match(name) || qualified.as_deref().is_some_and(|q| set.is_match(q))
        };
        hit(&self.include) && !hit(&self.exclude)
    }
}

/// A validated spec, parsed into what the engine and planner use.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub link: LinkId,
    pub apim: ApimServiceId,
    pub api_center: ApiCenterServiceId,
    pub source_workspaces: Vec<String>,
    pub target_workspace: String,
    pub environment_name: String,
    pub environment_title: String,
    pub environment_kind: EnvironmentKind,
    /// The environment's description on create; `None`: one naming the APIM service.
    pub environment_description: Option<String>,
    pub import_specification: ImportSpecification,
    pub lifecycle_stage: LifecycleStage,
    pub filter: ApiFilter,
    pub interval: Duration,
    pub resync_interval: Duration,
    pub suspend: bool,
    pub deletion_policy: DeletionPolicy,
    pub credentials: Option<CredentialsSpec>,
    pub custom_properties: CustomPropertiesSpec,
    pub deletion_guard: DeletionGuardSpec,
    pub apim_metadata: ApimMetadataSpec,
    pub api_identity: ApiIdentitySpec,
    /// The number of held deletions someone confirmed for this pass (the
    /// `apilink.dev/confirm-deletions` annotation, `apilink sync --confirm-deletions`);
    /// not part of the spec: the edges set it.
    pub confirmed_deletions: Option<usize>,
    /// API Center APIs to leave alone this pass: they failed with a refusal only the
    /// user can fix and are backing off. Not part of the spec: the controller sets it.
    pub paused_apis: std::collections::BTreeSet<String>,
}

impl LinkSettings {
    /// True when definitions' content is imported.
    pub fn imports_content(&self) -> bool {
        self.import_specification == ImportSpecification::Always
    }

    /// True when the link's APIs are shared with other links of the same identity.
    pub fn shares_apis(&self) -> bool {
        self.api_identity.scope == ApiIdentityScope::Shared
    }
}

struct Problems(Vec<SpecProblem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(SpecProblem {
            field: field.into(),
            message: message.into(),
        });
    }
}

fn compile_globs(patterns: &[String], field: &str, problems: &mut Problems) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for (i, pattern) in patterns.iter().enumerate() {
        match globset::GlobBuilder::new(pattern)
            .case_insensitive(true)
            .build()
        {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(e) => problems.add(format!("spec.filter.{field}[{i}]"), e.to_string()),
        }
    }
    builder.build().unwrap_or_else(|e| {
        problems.add(format!("spec.filter.{field}"), e.to_string());
        GlobSet::empty()
    })
}

fn valid_apim_workspace(name: &str) -> bool {
    // APIM workspace ids: 1-80 chars, letters, digits, hyphens, underscores.
    !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_secret_name(name: &str) -> bool {
    // Kubernetes DNS subdomain name.
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

impl LinkSpec {
    /// Checks everything a schema cannot and returns every problem at once.
    pub fn validate(&self) -> Result<(), InvalidSpec> {
        let link = LinkId::new("validate").map_err(|e| InvalidSpec {
            problems: vec![SpecProblem {
                field: "link".into(),
                message: e.to_string(),
            }],
        })?;
        self.settings(link).map(|_| ())
    }

    /// Validates the spec and parses it into [`LinkSettings`] for the link `link`.
    pub fn settings(&self, link: LinkId) -> Result<LinkSettings, InvalidSpec> {
        let mut problems = Problems(Vec::new());
        let services = self.services(&mut problems);
        self.check_workspaces(&mut problems);
        self.check_environment(&mut problems);
        let intervals = self.intervals(&mut problems);
        let filter = self.compiled_filter(&mut problems);
        self.check_credentials(&mut problems);
        self.custom_properties.check(&mut problems);
        self.check_deletion_guard(&mut problems);
        self.check_apim_metadata(&mut problems);
        match (services, intervals) {
            (Some(services), Some(intervals)) if problems.0.is_empty() => {
                Ok(self.parsed(link, services, intervals, filter))
            }
            _ => Err(InvalidSpec {
                problems: problems.0,
            }),
        }
    }

    /// Both ARM ids parsed; each one that does not parse is a problem.
    fn services(&self, problems: &mut Problems) -> Option<LinkedServices> {
        let apim = ApimServiceId::parse(&self.source.apim_resource_id)
            .map_err(|e| problems.add("spec.source.apimResourceId", e.to_string()))
            .ok();
        let api_center = ApiCenterServiceId::parse(&self.target.api_center_resource_id)
            .map_err(|e| problems.add("spec.target.apiCenterResourceId", e.to_string()))
            .ok();
        Some(LinkedServices {
            apim: apim?,
            api_center: api_center?,
        })
    }

    fn check_workspaces(&self, problems: &mut Problems) {
        for (i, ws) in self.source.workspaces.iter().enumerate() {
            if !valid_apim_workspace(ws) {
                problems.add(
                    format!("spec.source.workspaces[{i}]"),
                    format!("{ws:?} is not an APIM workspace name"),
                );
            }
            if self.source.workspaces[..i].contains(ws) {
                problems.add(
                    format!("spec.source.workspaces[{i}]"),
                    format!("{ws:?} is listed twice"),
                );
            }
        }
        if !is_valid_name(&self.target.workspace) {
            problems.add(
                "spec.target.workspace",
                "must match ^[a-zA-Z0-9-]{3,90}$".to_string(),
            );
        }
    }

    fn check_environment(&self, problems: &mut Problems) {
        if let Some(name) = &self.environment.name
            && !is_valid_name(name)
        {
            problems.add(
                "spec.environment.name",
                "must match ^[a-zA-Z0-9-]{3,90}$".to_string(),
            );
        }
        if let Some(title) = &self.environment.title
            && (title.trim().is_empty() || title.chars().count() > 50)
        {
            problems.add("spec.environment.title", "must be 1-50 characters");
        }
        if let Some(description) = &self.environment.description
            && (description.trim().is_empty()
                || description.chars().count() > ENVIRONMENT_DESCRIPTION_MAX)
        {
            problems.add(
                "spec.environment.description",
                format!("must be 1-{ENVIRONMENT_DESCRIPTION_MAX} characters"),
            );
        }
    }

    /// Both periods parsed and within their bounds; `None` when either does not parse.
    fn intervals(&self, problems: &mut Problems) -> Option<Intervals> {
        let interval = parse_duration(&self.interval)
            .map_err(|e| problems.add("spec.interval", e.to_string()))
            .ok();
        let resync = parse_duration(&self.resync_interval)
            .map_err(|e| problems.add("spec.resyncInterval", e.to_string()))
            .ok();
        if interval.is_some_and(|d| d < Duration::from_secs(1)) {
            problems.add("spec.interval", "must be at least 1s");
        }
        if let Some(resync) = resync {
            if resync > MAX_RESYNC_INTERVAL {
                problems.add("spec.resyncInterval", "must be at most 24h");
            }
            if interval.is_some_and(|i| resync < i) {
                problems.add("spec.resyncInterval", "must not be shorter than interval");
            }
        }
        Some(Intervals {
            interval: interval?,
            resync: resync?,
        })
    }

    fn compiled_filter(&self, problems: &mut Problems) -> ApiFilter {
        if self.filter.include.is_empty() {
            problems.add(
                "spec.filter.include",
                "must list at least one glob (use \"*\" for all)",
            );
        }
        ApiFilter {
            include: compile_globs(&self.filter.include, "include", problems),
            exclude: compile_globs(&self.filter.exclude, "exclude", problems),
        }
    }

    fn check_credentials(&self, problems: &mut Problems) {
        if let Some(creds) = &self.credentials
            && !valid_secret_name(&creds.secret_ref.name)
        {
            problems.add(
                "spec.credentials.secretRef.name",
                "must be a Kubernetes Secret name",
            );
        }
    }

    fn check_deletion_guard(&self, problems: &mut Problems) {
        if self.deletion_guard.max_percent > 100 {
            problems.add("spec.deletionGuard.maxPercent", "must be between 0 and 100");
        }
    }

    /// The settings of a spec without problems.
    fn parsed(
        &self,
        link: LinkId,
        services: LinkedServices,
        intervals: Intervals,
        filter: ApiFilter,
    ) -> LinkSettings {
        let LinkedServices { apim, api_center } = services;
        let environment_name = environment_name(&link, self.environment.name.as_deref());
        let environment_title = self
            .environment
            .title
            .clone()
            .unwrap_or_else(|| crate::mapping::truncate_chars(&apim.0.name, 50));
        LinkSettings {
            link,
            apim,
            api_center,
            source_workspaces: self.source.workspaces.clone(),
            target_workspace: self.target.workspace.clone(),
            environment_name,
            environment_title,
            environment_kind: self.environment.kind,
            environment_description: self.environment.description.clone(),
            import_specification: self.import_specification,
            lifecycle_stage: self.lifecycle_stage,
            filter,
            interval: intervals.interval,
            resync_interval: intervals.resync,
            suspend: self.suspend,
            deletion_policy: self.deletion_policy,
            credentials: self.credentials.clone(),
            custom_properties: self.custom_properties.clone(),
            deletion_guard: self.deletion_guard,
            apim_metadata: self.apim_metadata.clone(),
            api_identity: self.api_identity,
            confirmed_deletions: None,
            paused_apis: Default::default(),
        }
    }
}

/// Which APIM metadata the link copies to API Center, and into which custom properties.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApimMetadataSpec {
    /// The display names of the APIM tags on each API (for a version set, of its members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<MetadataMappingSpec>,
    /// The display names of the APIM products each API belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<MetadataMappingSpec>,
}

/// One APIM metadata mapping: the API Center custom property that holds the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetadataMappingSpec {
    /// The custom property, also the name of the metadata schema (an array of strings,
    /// assigned to APIs) the link creates when it is missing.
    #[schemars(length(min = 3, max = 90))]
    pub custom_property: String,
    /// `Apim`: kept in step with APIM on every change. `ApiCenter`: set when the link
    /// creates the API, people own it afterwards.
    #[serde(default)]
    pub owner: MetadataOwner,
}

/// Who owns the values of a mapped custom property once the API exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MetadataOwner {
    #[default]
    Apim,
    ApiCenter,
}

/// What an APIM metadata mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApimMetadataSource {
    Tags,
    Products,
}

impl ApimMetadataSource {
    /// The spec member naming the mapping (`tags`, `products`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tags => "tags",
            Self::Products => "products",
        }
    }
}

impl ApimMetadataSpec {
    pub fn is_empty(&self) -> bool {
        self.tags.is_none() && self.products.is_none()
    }

    /// The configured mappings, tags first.
    pub fn mappings(&self) -> impl Iterator<Item = (ApimMetadataSource, &MetadataMappingSpec)> {
        [
            (ApimMetadataSource::Tags, self.tags.as_ref()),
            (ApimMetadataSource::Products, self.products.as_ref()),
        ]
        .into_iter()
        .filter_map(|(source, mapping)| mapping.map(|m| (source, m)))
    }

    /// Whether `source` is mapped, so the link reads it from APIM.
    pub fn reads(&self, source: ApimMetadataSource) -> bool {
        self.mappings().any(|(s, _)| s == source)
    }

    /// The custom properties of every mapping (the metadata schemas the link needs).
    pub fn custom_properties(&self) -> impl Iterator<Item = &str> {
        self.mappings().map(|(_, m)| m.custom_property.as_str())
    }

    /// The custom properties APIM owns: kept in step on every change.
    pub fn apim_owned(&self) -> impl Iterator<Item = &str> {
        self.mappings()
            .filter(|(_, m)| m.owner == MetadataOwner::Apim)
            .map(|(_, m)| m.custom_property.as_str())
    }
}

impl LinkSpec {
    /// Each mapped custom property is a metadata schema name the link may use: not its
    /// record's, not one the spec also gives a value, not the other mapping's, and
    /// within API Center's twenty custom properties per API.
    fn check_apim_metadata(&self, problems: &mut Problems) {
        let mut used: Vec<&str> = Vec::new();
        for (source, mapping) in self.apim_metadata.mappings() {
            let field = format!("spec.apimMetadata.{}.customProperty", source.as_str());
            let name = mapping.custom_property.as_str();
            let same = |other: &str| other.eq_ignore_ascii_case(name);
            if same(RECORD_KEY) || same(LEGACY_MARKER_KEY) {
                problems.add(field, "is reserved for the link's ownership record");
            } else if !is_valid_name(name) {
                problems.add(
                    field,
                    "must be a metadata schema name (^[a-zA-Z0-9-]{3,90}$)",
                );
            } else if self.custom_properties.api.keys().any(|k| same(k)) {
                problems.add(
                    field,
                    format!("spec.customProperties.api.{name} gives the same custom property a value: use one or the other"),
                );
            } else if used.iter().any(|u| same(u)) {
                problems.add(
                    field,
                    "tags and products must map to different custom properties",
                );
            }
            used.push(name);
        }
        if self.custom_properties.api.len() + used.len() > MAX_SPEC_CUSTOM_PROPERTIES {
            problems.add(
                "spec.apimMetadata",
                format!(
                    "spec.customProperties.api and the mapped custom properties together may name at most {MAX_SPEC_CUSTOM_PROPERTIES} (API Center allows 20 per API and the link keeps one for its ownership record)"
                ),
            );
        }
    }
}

/// The two services of a link, both ids parsed.
struct LinkedServices {
    apim: ApimServiceId,
    api_center: ApiCenterServiceId,
}

/// The light poll and full resync periods, both parsed.
struct Intervals {
    interval: Duration,
    resync: Duration,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const APIM: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/payments";
    const APIC: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/catalog";

    fn minimal() -> String {
        format!("source: {{apimResourceId: {APIM}}}\ntarget: {{apiCenterResourceId: {APIC}}}\n")
    }

    #[test]
    fn defaults_apply() {
        let spec: LinkSpec = serde_yaml::from_str(&minimal()).unwrap();
        assert_eq!(spec.target.workspace, "default");
        assert_eq!(spec.filter.include, vec!["*"]);
        assert_eq!(spec.interval, "60s");
        assert_eq!(spec.resync_interval, "6h");
        assert_eq!(spec.lifecycle_stage, LifecycleStage::Design);
        assert_eq!(spec.environment.kind, EnvironmentKind::Production);
        assert_eq!(spec.deletion_policy, DeletionPolicy::Delete);
        assert_eq!(spec.import_specification, ImportSpecification::Always);
        let settings = spec.settings(LinkId::new("ns/l").unwrap()).unwrap();
        assert_eq!(settings.resync_interval, Duration::from_secs(6 * 3600));
        assert_eq!(settings.environment_title, "payments");
        assert!(settings.filter.matches(None, "echo-api"));
    }

    #[test]
    fn full_spec_parses_and_unknown_fields_are_tolerated() {
        let yaml = format!(
            "{}environment: {{name: payments-prod, title: Payments, kind: staging, description: 'Payments, production stage'}}\n\
             importSpecification: Never\nlifecycleStage: production\n\
             filter: {{include: ['pay-*', 'w1/*'], exclude: ['*-internal']}}\n\
             interval: 30s\nresyncInterval: 24h\nsuspend: true\ndeletionPolicy: Orphan\n\
             credentials: {{secretRef: {{name: azure-creds}}}}\nsomethingNew: 1\n",
            minimal()
        );
        let spec: LinkSpec = serde_yaml::from_str(&yaml).unwrap();
        let s = spec.settings(LinkId::new("ns/l").unwrap()).unwrap();
        assert_eq!(s.environment_name, "payments-prod");
        assert_eq!(
            s.environment_description.as_deref(),
            Some("Payments, production stage")
        );
        assert!(!s.imports_content());
        assert!(s.filter.matches(None, "PAY-me"));
        assert!(!s.filter.matches(None, "pay-internal"));
        assert!(!s.filter.matches(None, "other"));
        assert!(s.filter.matches(Some("w1"), "other"));
    }

    #[test]
    fn validation_reports_every_problem() {
        let yaml = "source: {apimResourceId: /nope, workspaces: ['bad ws']}\n\
                    target: {apiCenterResourceId: /also/nope, workspace: x}\n\
                    environment: {name: 'a_b'}\n\
                    filter: {include: ['[']}\ninterval: 10m\nresyncInterval: 25h\n\
                    credentials: {secretRef: {name: 'Bad_Name'}}\n";
        let spec: LinkSpec = serde_yaml::from_str(yaml).unwrap();
        let err = spec.validate().unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        for expected in [
            "spec.source.apimResourceId",
            "spec.target.apiCenterResourceId",
            "spec.source.workspaces[0]",
            "spec.target.workspace",
            "spec.environment.name",
            "spec.resyncInterval",
            "spec.filter.include[0]",
            "spec.credentials.secretRef.name",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing in {fields:?}"
            );
        }
    }

    #[test]
    fn an_environment_description_is_bounded() {
        for (description, ok) in [
            ("' '".to_string(), false),
            ("x".repeat(1000), true),
            ("x".repeat(1001), false),
        ] {
            let yaml = format!("{}environment: {{description: {description}}}\n", minimal());
            let spec: LinkSpec = serde_yaml::from_str(&yaml).unwrap();
            let fields: Vec<String> = spec
                .validate()
                .err()
                .map(|e| e.problems.into_iter().map(|p| p.field).collect())
                .unwrap_or_default();
            assert_eq!(
                fields.contains(&"spec.environment.description".to_string()),
                !ok,
                "{fields:?}"
            );
        }
    }

    #[test]
    fn resync_must_not_be_shorter_than_interval() {
        let yaml = format!("{}interval: 2h\nresyncInterval: 1h\n", minimal());
        let spec: LinkSpec = serde_yaml::from_str(&yaml).unwrap();
        assert!(spec.validate().is_err());
        let yaml = format!("{}interval: soon\n", minimal());
        let spec: LinkSpec = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(
            spec.validate().unwrap_err().problems[0].field,
            "spec.interval"
        );
    }

    #[test]
    fn schema_is_generated() {
        let schema = schemars::schema_for!(LinkSpec);
        let text = serde_json::to_string(&schema).unwrap();
        assert!(text.contains("apimResourceId") && text.contains("resyncInterval"));
    }
}
