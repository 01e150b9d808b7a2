//! The read-only checks, in the order a person fixes things: who is calling, whether
//! the services answer, what the caller may do there, then what the link would read
//! and write.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use apilink_azure::apic::ApicClient;
use apilink_azure::apim::{ApimClient, ApimService};
use apilink_azure::{AzureError, TokenIdentity};
use apilink_core::marker::RECORD_KEY;
use apilink_core::metadata::{
    MappedSchema, OwnershipSchema, check_custom_properties, ownership_schema_state,
    shared_record_schema_state,
};
use apilink_core::observed::{ObservedApiCenter, ObservedApim};
use apilink_core::preflight::{
    AzureService, CheckLine, GrantedPermission, checks, permission_line_for, required_actions_for,
};
use apilink_core::shared::shared_record_key;
use apilink_core::{DesiredState, LinkSettings, desired_state};

use super::{Caller, PreflightOutcome, remove_probe_leftovers};
use crate::azure_side::{AzureSide, LinkTarget};
use crate::clients::AzureClients;
use crate::engine::Engine;
use crate::error::{PassError, PassPhase};
use crate::observe::{read_apic, read_apim};

/// API Center plans' API limits as Microsoft publishes them (the service does not
/// report them): Free registers up to 200 APIs, Standard up to 10,000.
fn api_limit(sku: Option<&str>) -> Option<usize> {
    match sku.map(str::to_ascii_lowercase).as_deref() {
        Some("free") => Some(200),
        Some("standard") => Some(10_000),
        _ => None,
    }
}

/// Writes a first sync makes per API it creates: the API, its version, definition,
/// import and deployment.
const FIRST_SYNC_WRITES_PER_API: usize = 5;

/// The entity kinds whose required custom properties the spec must fill.
const CREATED_KINDS: [&str; 3] = ["api", "deployment", "environment"];

/// What the APIM side showed.
#[derive(Default)]
struct ApimSide {
    out: PreflightOutcome,
    desired: Option<DesiredState>,
}

/// What the API Center side showed.
#[derive(Default)]
struct ApicSide {
    out: PreflightOutcome,
    sku: Option<String>,
    observed: Option<ObservedApiCenter>,
}

impl Engine<AzureClients> {
    /// Runs every read-only check for `settings` as `caller`. Nothing is written, except
    /// that scratch APIs of killed write probes, older than any running probe, are
    /// removed (they are the probe's own).
    pub async fn preflight(
        &self,
        settings: &LinkSettings,
        caller: &Caller,
        now: SystemTime,
    ) -> PreflightOutcome {
        let mut out = PreflightOutcome::default();
        out.push(spec_line(settings));
        let Some(identity) = credential_line(caller, &mut out) else {
            return out;
        };
        let target = LinkTarget::from(settings);
        let (apim, apic) = futures::join!(
            self.apim_side(settings, &target, identity),
            self.apic_side(settings, &target, identity),
        );
        out.absorb(apim.out);
        out.absorb(apic.out);
        if let Some(desired) = &apim.desired {
            out.push(self.export_line(&target, desired).await);
        }
        if let (Some(desired), Some(observed)) = (&apim.desired, &apic.observed) {
            out.push(limits_line(apic.sku.as_deref(), desired, observed));
            let removed = remove_probe_leftovers(self.azure(), &target, &observed.apis, now).await;
            if !removed.is_empty() {
                out.push(CheckLine::pass(
                    checks::PROBE_LEFTOVERS,
                    format!(
                        "removed {} scratch API(s) of interrupted write probes: {}",
                        removed.len(),
                        removed.join(", ")
                    ),
                ));
            }
        }
        let creates = apim.desired.as_ref().map_or(0, |d| {
            missing_apis(d, apic.observed.as_ref()).len() * FIRST_SYNC_WRITES_PER_API
        });
        out.push(quota_line(self.azure(), creates));
        out
    }

    async fn apim_side(
        &self,
        settings: &LinkSettings,
        target: &LinkTarget,
        identity: &TokenIdentity,
    ) -> ApimSide {
        let mut side = ApimSide::default();
        let client = ApimClient::new(self.azure().arm().clone(), target.apim.clone());
        let started = Instant::now();
        let service = client.get_service().await;
        let elapsed = started.elapsed();
        let reachable = match service {
            Ok(service) => {
                side.out.push(apim_service_line(
                    &target.apim.to_string(),
                    &service,
                    elapsed,
                ));
                true
            }
            Err(e) => {
                let what = format!("reading the APIM service {}", target.apim);
                side.out.failed(
                    checks::APIM_SERVICE,
                    &what,
                    &e,
                    not_found_remedy("spec.source.apimResourceId"),
                );
                false
            }
        };
        let scope = target.apim.to_string();
        side.out.push(permissions_line(
            !settings.source_workspaces.is_empty(),
            AzureService::ApiManagement,
            &scope,
            client.permissions().await,
            identity,
        ));
        if !reachable {
            return side;
        }
        match read_apim(self.azure(), target, settings, self.options()).await {
            Ok(apim) => {
                let workspaces = client.list_workspaces().await.ok().map(|w| w.len());
                let desired = desired_state(settings, &apim);
                side.out
                    .push(inventory_line(settings, &apim, &desired, workspaces));
                side.desired = Some(desired);
            }
            Err(e) => side.out.pass_failed(checks::APIM_INVENTORY, e),
        }
        side
    }

    async fn apic_side(
        &self,
        settings: &LinkSettings,
        target: &LinkTarget,
        identity: &TokenIdentity,
    ) -> ApicSide {
        let mut side = ApicSide::default();
        let client = ApicClient::new(self.azure().arm().clone(), target.api_center.clone());
        let started = Instant::now();
        let service = client.get_service().await;
        let elapsed = started.elapsed();
        let reachable = match service {
            Ok(service) => {
                side.sku = service.sku_name().map(str::to_string);
                side.out.push(CheckLine::pass(
                    checks::APIC_SERVICE,
                    format!(
                        "API Center {} answers in {} ms ({} plan)",
                        target.api_center.0.name,
                        elapsed.as_millis(),
                        side.sku.as_deref().unwrap_or("unknown")
                    ),
                ));
                true
            }
            Err(e) => {
                let what = format!("reading the API Center service {}", target.api_center);
                side.out.failed(
                    checks::APIC_SERVICE,
                    &what,
                    &e,
                    not_found_remedy("spec.target.apiCenterResourceId"),
                );
                false
            }
        };
        let scope = target.api_center.to_string();
        side.out.push(permissions_line(
            !settings.source_workspaces.is_empty(),
            AzureService::ApiCenter,
            &scope,
            client.permissions().await,
            identity,
        ));
        if !reachable {
            return side;
        }
        if !workspace_found(&client, &target.workspace, &mut side.out).await {
            return side;
        }
        match self.azure().list_metadata_schemas(target).await {
            Ok(schemas) => {
                for line in metadata_lines(settings, &schemas) {
                    side.out.push(line);
                }
            }
            Err(e) => side
                .out
                .failed(checks::APIC_METADATA, "listing metadata schemas", &e, None),
        }
        match read_apic(self.azure(), target, settings).await {
            Ok(observed) => side.observed = Some(observed),
            Err(e) => side.out.pass_failed(checks::APIC_LIMITS, e),
        }
        side
    }

    /// One definition exported the way a pass exports it.
    async fn export_line(&self, target: &LinkTarget, desired: &DesiredState) -> CheckLine {
        let first = desired
            .apis
            .iter()
            .flat_map(|api| {
                api.versions
                    .iter()
                    .filter_map(move |v| v.definition.as_ref().map(|d| (api, v, d)))
            })
            .next();
        let Some((api, version, definition)) = first else {
            return CheckLine::pass(
                checks::APIM_EXPORT,
                "no selected API has a definition to export",
            );
        };
        match self
            .azure()
            .export_definition(target, &version.source, definition.kind)
            .await
        {
            Ok(Some(content)) => CheckLine::pass(
                checks::APIM_EXPORT,
                format!(
                    "exported {} ({}) as {} bytes of {}",
                    version.source,
                    api.name,
                    content.content.len(),
                    definition.kind.specification_name()
                ),
            ),
            Ok(None) => CheckLine::warn(
                checks::APIM_EXPORT,
                "NothingExported",
                format!("APIM has no definition for {}", version.source),
                "nothing to do if the API has no specification; its version is synced without a definition",
            ),
            Err(e) => CheckLine::fail(
                checks::APIM_EXPORT,
                e.reason(),
                format!("exporting {} failed: {e}", version.source),
                e.remedy()
                    .unwrap_or("check that APIM can export this API (the portal's Export action)"),
            ),
        }
    }
}

/// The workspace check; `false` when there is no workspace to look into.
async fn workspace_found(client: &ApicClient, workspace: &str, out: &mut PreflightOutcome) -> bool {
    match client.get_workspace(workspace).await {
        Ok(Some(_)) => {
            out.push(CheckLine::pass(
                checks::APIC_WORKSPACE,
                format!("workspace {workspace} exists"),
            ));
            true
        }
        Ok(None) => {
            out.push(CheckLine::fail(
                checks::APIC_WORKSPACE,
                "WorkspaceNotFound",
                format!("API Center has no workspace {workspace}"),
                "set spec.target.workspace to an existing workspace (API Center's own is `default`)",
            ));
            false
        }
        Err(e) => {
            out.failed(
                checks::APIC_WORKSPACE,
                &format!("reading workspace {workspace}"),
                &e,
                None,
            );
            false
        }
    }
}

impl PreflightOutcome {
    pub(super) fn absorb(&mut self, other: PreflightOutcome) {
        self.report.lines.extend(other.report.lines);
        if self.transient.is_none() {
            self.transient = other.transient;
        }
    }

    /// A call that failed: a line naming ARM's reason and the remedy, and, when the
    /// failure passes by itself, the transient error that makes the checks run again.
    fn failed(&mut self, check: &str, what: &str, error: &AzureError, not_found: Option<String>) {
        let remedy = match (error.is_not_found(), not_found) {
            (true, Some(remedy)) => remedy,
            _ => error
                .remedy()
                .map(str::to_string)
                .unwrap_or_else(|| retry_remedy(error)),
        };
        let reason = if error.is_not_found() {
            "NotFound"
        } else {
            error.reason()
        };
        self.push(CheckLine::fail(
            check,
            reason,
            format!("{what}: {error}"),
            remedy,
        ));
        if error.class().is_retryable() && self.transient.is_none() {
            self.transient = Some(PassError::from_azure(PassPhase::Observe, what, error));
        }
    }

    fn pass_failed(&mut self, check: &str, error: PassError) {
        let remedy = if error.class.is_retryable() {
            "this usually passes by itself; run the check again".to_string()
        } else {
            "see the message; a missing role shows in the permissions check".to_string()
        };
        self.push(CheckLine::fail(
            check,
            &error.reason,
            error.message.clone(),
            remedy,
        ));
        if error.class.is_retryable() && self.transient.is_none() {
            self.transient = Some(error);
        }
    }
}

fn retry_remedy(error: &AzureError) -> String {
    if error.class().is_retryable() {
        "Azure did not answer usefully; this usually passes by itself: run the check again".into()
    } else {
        "see the message".into()
    }
}

fn not_found_remedy(field: &str) -> Option<String> {
    Some(format!(
        "check {field}: subscription, resource group and name must name an existing service the identity can see"
    ))
}

fn spec_line(settings: &LinkSettings) -> CheckLine {
    CheckLine::pass(
        checks::SPEC,
        format!(
            "the link {} reads APIM {} and writes workspace {} of API Center {} as environment {}",
            settings.link,
            settings.apim.0.name,
            settings.target_workspace,
            settings.api_center.0.name,
            settings.environment_name
        ),
    )
}

/// The credential line; `None` when there is no token (nothing else can be checked).
fn credential_line<'a>(
    caller: &'a Caller,
    out: &mut PreflightOutcome,
) -> Option<&'a TokenIdentity> {
    match &caller.identity {
        Ok(identity) => {
            out.push(CheckLine::pass(
                checks::CREDENTIAL,
                describe_identity(&caller.credential, identity),
            ));
            Some(identity)
        }
        Err(e) => {
            out.failed(
                checks::CREDENTIAL,
                &format!("getting an ARM token from {}", caller.credential),
                e,
                None,
            );
            if let Some(line) = out.report.lines.last_mut() {
                line.remedy = Some(format!(
                    "check the settings {} reads (AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret, federated token file or managed identity; or `az login`)",
                    caller.credential
                ));
            }
            None
        }
    }
}

fn describe_identity(credential: &str, identity: &TokenIdentity) -> String {
    let who = match (&identity.principal_name, &identity.app_id) {
        (Some(name), _) => format!("user {name}"),
        (None, Some(app)) => format!("application {app}"),
        (None, None) => "an unnamed principal".to_string(),
    };
    format!(
        "the {credential} credential gave a token for {who} (object id {}) in tenant {}",
        identity.object_id.as_deref().unwrap_or("unknown"),
        identity.tenant_id.as_deref().unwrap_or("unknown")
    )
}

fn apim_service_line(id: &str, service: &ApimService, elapsed: Duration) -> CheckLine {
    let sku = service.sku_name().unwrap_or("unknown");
    let gateway = service
        .properties
        .gateway_url
        .as_deref()
        .filter(|g| !g.is_empty())
        .unwrap_or("none");
    let name = id.rsplit('/').next().unwrap_or(id);
    CheckLine::pass(
        checks::APIM_SERVICE,
        format!(
            "APIM {name} answers in {} ms ({sku} tier, gateway {gateway})",
            elapsed.as_millis()
        ),
    )
}

fn permissions_line(
    reads_apim_workspaces: bool,
    service: AzureService,
    scope: &str,
    permissions: Result<Vec<apilink_azure::Permission>, AzureError>,
    identity: &TokenIdentity,
) -> CheckLine {
    let check = match service {
        AzureService::ApiManagement => checks::APIM_PERMISSIONS,
        AzureService::ApiCenter => checks::APIC_PERMISSIONS,
    };
    match permissions {
        Ok(permissions) => {
            let granted: Vec<GrantedPermission> = permissions
                .into_iter()
                .map(|p| GrantedPermission {
                    actions: p.actions,
                    not_actions: p.not_actions,
                })
                .collect();
            permission_line_for(
                service,
                &required_actions_for(reads_apim_workspaces),
                scope,
                &granted,
                identity.object_id.as_deref(),
                identity.principal_type.assignee_type(),
            )
        }
        Err(e) => CheckLine::warn(
            check,
            "PermissionsUnreadable",
            format!("ARM did not list the caller's permissions on {scope}: {e}"),
            "missing roles will show as AuthorizationFailed on the first read or write",
        ),
    }
}

fn inventory_line(
    settings: &LinkSettings,
    apim: &ObservedApim,
    desired: &DesiredState,
    workspaces: Option<usize>,
) -> CheckLine {
    let hosts: BTreeSet<String> = desired
        .apis
        .iter()
        .flat_map(|api| &api.versions)
        .filter_map(|v| v.definition.as_ref())
        .filter_map(|d| {
            d.deployment
                .properties
                .value()
                .pointer_mut("/server/runtimeUri")
                .map(serde_json::Value::take)
        })
        .filter_map(|uris| match uris {
            serde_json::Value::Array(uris) => Some(uris),
            _ => None,
        })
        .flatten()
        .filter_map(|uri| uri.as_str().and_then(|uri| url::Url::parse(uri).ok()))
        .filter_map(|uri| uri.host_str().map(|h| format!("{}://{h}", uri.scheme())))
        .collect();
    let workspaces = match workspaces {
        Some(n) => format!("{n} workspace(s), "),
        None => String::new(),
    };
    let summary = format!(
        "APIM has {} API(s) and {} version set(s) ({workspaces}{} read); the filter selects {} API(s) for API Center; runtime URLs on {}",
        apim.apis.len(),
        apim.version_sets.len(),
        1 + settings.source_workspaces.len(),
        desired.apis.len(),
        if hosts.is_empty() {
            "no host".to_string()
        } else {
            hosts.into_iter().collect::<Vec<_>>().join(", ")
        }
    );
    let warnings: Vec<String> = desired.warnings.iter().map(ToString::to_string).collect();
    if desired.apis.is_empty() {
        return CheckLine::warn(
            checks::APIM_INVENTORY,
            "NothingSelected",
            summary,
            "check spec.filter and spec.source.workspaces: the first sync would create only the environment",
        )
        .with_details(warnings);
    }
    if !warnings.is_empty() {
        return CheckLine::warn(
            checks::APIM_INVENTORY,
            "MappingWarnings",
            summary,
            "the APIs named below sync with the adjustments shown",
        )
        .with_details(warnings);
    }
    CheckLine::pass(checks::APIM_INVENTORY, summary)
}

fn metadata_lines(
    settings: &LinkSettings,
    schemas: &[apilink_core::metadata::MetadataSchema],
) -> Vec<CheckLine> {
    let ownership = match ownership_schema_state(schemas) {
        OwnershipSchema::Compatible => CheckLine::pass(
            checks::APIC_METADATA,
            format!(
                "the ownership schema {RECORD_KEY} is in place ({} schema(s) in all)",
                schemas.len()
            ),
        ),
        OwnershipSchema::Missing => CheckLine::pass(
            checks::APIC_METADATA,
            format!(
                "the first pass creates the ownership schema {RECORD_KEY} (one write; {} schema(s) now)",
                schemas.len()
            ),
        ),
        OwnershipSchema::Incompatible(message) => CheckLine::fail(
            checks::APIC_METADATA,
            "OwnershipSchemaIncompatible",
            message,
            format!(
                "restore the metadata schema {RECORD_KEY} as docs/ownership-record.md shows, or delete it so the link recreates it"
            ),
        ),
    };
    let kinds: BTreeSet<&str> = CREATED_KINDS.into_iter().collect();
    let problems = check_custom_properties(settings, schemas, &kinds);
    let mut lines = vec![ownership];
    if settings.shares_apis() {
        lines.push(shared_record_line(settings, schemas));
    }
    if !problems.is_empty() {
        lines.push(
            CheckLine::fail(
                checks::APIC_METADATA,
                "CustomPropertiesInvalid",
                format!("{} custom propert(ies) the organisation's schemas require or constrain are not given correctly by spec.customProperties", problems.len()),
                "fill spec.customProperties for the entities named below",
            )
            .with_details(problems.iter().map(ToString::to_string).collect()),
        );
    }
    lines
}

/// The schema declaring the link's own ledger on shared APIs (`docs/shared-apis.md`).
fn shared_record_line(
    settings: &LinkSettings,
    schemas: &[apilink_core::metadata::MetadataSchema],
) -> CheckLine {
    let key = shared_record_key(&settings.link);
    match shared_record_schema_state(schemas, &settings.link) {
        MappedSchema::Compatible => CheckLine::pass(
            checks::APIC_METADATA,
            format!("the schema {key} of this link's share of shared APIs is in place"),
        ),
        MappedSchema::Missing => CheckLine::pass(
            checks::APIC_METADATA,
            format!(
                "the first pass creates the schema {key} of this link's share of shared APIs (one write)"
            ),
        ),
        MappedSchema::Incompatible(message) => CheckLine::fail(
            checks::APIC_METADATA,
            "OwnershipSchemaIncompatible",
            message,
            format!(
                "restore the metadata schema {key} as docs/shared-apis.md shows, or delete it so the link recreates it"
            ),
        ),
    }
}

/// The selected APIs API Center does not have yet.
fn missing_apis<'a>(
    desired: &'a DesiredState,
    observed: Option<&ObservedApiCenter>,
) -> Vec<&'a str> {
    let present: BTreeSet<&str> = observed
        .map(|o| o.apis.iter().map(|a| a.name.as_str()).collect())
        .unwrap_or_default();
    desired
        .apis
        .iter()
        .map(|a| a.name.as_str())
        .filter(|name| !present.contains(name))
        .collect()
}

fn limits_line(
    sku: Option<&str>,
    desired: &DesiredState,
    observed: &ObservedApiCenter,
) -> CheckLine {
    let existing = observed.apis.len();
    let added = missing_apis(desired, Some(observed)).len();
    let total = existing + added;
    let Some(limit) = api_limit(sku) else {
        return CheckLine::pass(
            checks::APIC_LIMITS,
            format!("the workspace has {existing} API(s); the link adds {added}"),
        );
    };
    let summary = format!(
        "the workspace has {existing} API(s); the link adds {added}, {total} of the {} plan's {limit}",
        sku.unwrap_or("")
    );
    if total > limit {
        CheckLine::fail(
            checks::APIC_LIMITS,
            "ApiLimitExceeded",
            summary,
            "narrow spec.filter or move API Center to the Standard plan",
        )
    } else if total * 10 > limit * 8 {
        CheckLine::warn(
            checks::APIC_LIMITS,
            "ApiLimitNear",
            summary,
            "the plan is nearly full: new APIs in APIM may soon fail to sync",
        )
    } else {
        CheckLine::pass(checks::APIC_LIMITS, summary)
    }
}

fn quota_line(azure: &AzureClients, first_sync_writes: usize) -> CheckLine {
    let quota = azure.arm().remaining_quota();
    // ARM sends each class's header only on requests of that class: a read-only check
    // learns the reads left, and the writes left only when this client wrote before.
    let left = match (quota.reads, quota.writes) {
        (None, None) => {
            return CheckLine::pass(
                checks::ARM_QUOTA,
                "ARM did not report the remaining request quota (the client paces itself by its own budget)",
            );
        }
        (Some(reads), None) => {
            format!("{reads} reads left (writes left are reported on the first write)")
        }
        (None, Some(writes)) => format!("{writes} writes left"),
        (Some(reads), Some(writes)) => format!("{reads} reads and {writes} writes left"),
    };
    let summary = format!(
        "ARM reports {left} for this principal; a first sync makes about {first_sync_writes} writes"
    );
    if quota
        .writes
        .is_some_and(|writes| first_sync_writes as u64 > writes)
    {
        CheckLine::warn(
            checks::ARM_QUOTA,
            "WriteQuotaLow",
            summary,
            "the first sync is paced by ARM's refill (about 10 writes per second) and takes longer; nothing else to do",
        )
    } else {
        CheckLine::pass(checks::ARM_QUOTA, summary)
    }
}
