//! Reading both sides for one pass: APIM completely, the API Center API list and the
//! link's environment, then only the details and exports the planner asks for.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use apilink_azure::AzureError;
use apilink_core::hash::content_hash;
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping;
use apilink_core::observed::{
    ApiDetails, ApicEntity, ApimApi, ApimGatewayConnection, ApimMetadata, ApimService,
    ApimVersionSet, DetailsRead, ExportedDefinition, ObservedApiCenter, ObservedApim,
    ObservedVersion, azure_portal_resource_url,
};
use apilink_core::planner::{ExportRequest, Exports};
use apilink_core::shared::without_stage_servers;
use apilink_core::spec::ApimMetadataSource;
use apilink_core::{Coverage, DesiredState, LinkSettings, details_needed, exports_needed};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::Value;

use crate::azure_side::{AzureSide, EntityPath, ExportedContent, LinkTarget};
use crate::error::{PassError, PassPhase};
use crate::held_exports::{HeldExports, HeldExportsBuilder};
use crate::options::EngineOptions;
use crate::progress::{Phase, ProgressEvent};
use crate::report::OperationFailure;

/// Everything a pass read, ready for the planner.
pub(crate) struct Observation {
    pub apic: ObservedApiCenter,
    pub desired: DesiredState,
    pub exports: Exports,
    /// The exported documents the plan imports, each taken out when it is.
    pub contents: HeldExports,
    /// Exports that failed; the planner sees them as unavailable content.
    pub failures: Vec<OperationFailure>,
    pub details_read: usize,
    pub exported: usize,
}

fn observe_error(context: &str) -> impl Fn(AzureError) -> PassError + '_ {
    move |e| PassError::from_azure(PassPhase::Observe, context, &e)
}

fn emit(options: &EngineOptions, event: ProgressEvent) {
    if let Some(progress) = &options.progress {
        progress.event(event);
    }
}

/// The first step of a pass: the APIM side (with the tags and products the link maps)
/// and the API Center side, read at once. Any failure aborts the pass, because an API
/// missing from an incomplete APIM read would be planned as deleted, and one missing
/// from an incomplete tag or product read would lose its values.
async fn read_sides<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    settings: &LinkSettings,
    options: &EngineOptions,
) -> Result<(ObservedApim, ApimMetadata, ObservedApiCenter), PassError> {
    futures::try_join!(
        read_apim(azure, target, settings, options),
        read_apim_metadata(azure, target, settings, options),
        read_apic(azure, target, settings)
    )
}

/// The tags and products `spec.apimMetadata` maps, and nothing for a link that maps
/// none: one `tagResources` list, one `products` list and one API list per product
/// (`options.concurrency` at a time), never a read per API.
pub(crate) async fn read_apim_metadata<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    settings: &LinkSettings,
    options: &EngineOptions,
) -> Result<ApimMetadata, PassError> {
    let mapped = &settings.apim_metadata;
    let tags = async {
        if !mapped.reads(ApimMetadataSource::Tags) {
            return Ok(Vec::new());
        }
        azure
            .apim_api_tags(target)
            .await
            .map_err(observe_error("listing APIM tag resources"))
    };
    let products = async {
        if !mapped.reads(ApimMetadataSource::Products) {
            return Ok(Vec::new());
        }
        let products = azure
            .apim_products(target)
            .await
            .map_err(observe_error("listing APIM products"))?;
        stream::iter(products)
            .map(|product| async move {
                let apis = azure
                    .apim_product_apis(target, &product.id)
                    .await
                    .map_err(|e| {
                        PassError::from_azure(
                            PassPhase::Observe,
                            &format!("listing the APIs of APIM product {}", product.id),
                            &e,
                        )
                    })?;
                Ok::<_, PassError>((product, apis))
            })
            .buffer_unordered(options.concurrency.max(1))
            .try_collect::<Vec<_>>()
            .await
    };
    let (tags, products) = futures::try_join!(tags, products)?;
    Ok(ApimMetadata::from_reads(tags, products))
}

/// APIM as the link sees it: the service, APIs and version sets (service level and
/// every source workspace), and the workspace gateways of the source workspaces.
pub(crate) async fn read_apim<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    settings: &LinkSettings,
    options: &EngineOptions,
) -> Result<ObservedApim, PassError> {
    let scopes: Vec<Option<&str>> = std::iter::once(None)
        .chain(settings.source_workspaces.iter().map(|w| Some(w.as_str())))
        .collect();
    let service = async {
        azure
            .apim_service(target)
            .await
            .map_err(observe_error("reading the APIM service"))
    };
    let apis = futures::future::try_join_all(scopes.iter().map(|ws| async move {
        azure
            .apim_apis(target, *ws)
            .await
            .map_err(observe_error("listing APIM APIs"))
    }));
    let sets = futures::future::try_join_all(scopes.iter().map(|ws| async move {
        azure
            .apim_version_sets(target, *ws)
            .await
            .map_err(observe_error("listing APIM version sets"))
    }));
    // Only links reading workspaces pay for this read. Like every APIM read it aborts the
    // pass when it fails: falling back to the service gateway would rewrite every
    // workspace API's runtime URI on a passing fault.
    let workspace_gateways = async {
        if settings.source_workspaces.is_empty() {
            return Ok(Vec::new());
        }
        azure
            .apim_workspace_gateways(target, &settings.source_workspaces)
            .await
            .map_err(observe_error("reading the APIM workspace gateways"))
    };
    let (service, apis, sets, workspace_gateways) =
        futures::try_join!(service, apis, sets, workspace_gateways)?;

    Ok(observed_apim(
        target,
        settings,
        options,
        service,
        apis,
        sets,
        &workspace_gateways,
    ))
}

/// The APIM reads as one observation: the service with its management portal and the
/// gateways of the source workspaces filled in.
fn observed_apim(
    target: &LinkTarget,
    settings: &LinkSettings,
    options: &EngineOptions,
    mut service: ApimService,
    apis: Vec<Vec<ApimApi>>,
    sets: Vec<Vec<ApimVersionSet>>,
    workspace_gateways: &[ApimGatewayConnection],
) -> ObservedApim {
    service.management_portal_url = options
        .portal_base
        .as_deref()
        .map(|base| azure_portal_resource_url(base, &target.apim.to_string()));
    service.workspace_gateways = mapping::workspace_gateways(
        &settings.apim,
        &settings.source_workspaces,
        workspace_gateways,
    );
    ObservedApim {
        service,
        apis: apis.into_iter().flatten().collect(),
        version_sets: sets.into_iter().flatten().collect(),
        ..ObservedApim::default()
    }
}

/// The API Center side of a pass (and all a cleanup reads): the workspace's API list and
/// the link's environment.
pub(crate) async fn read_apic<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    settings: &LinkSettings,
) -> Result<ObservedApiCenter, PassError> {
    let (apis, environment) = futures::try_join!(
        async {
            azure
                .list_apis(target)
                .await
                .map_err(observe_error("listing API Center APIs"))
        },
        async {
            azure
                .get(
                    target,
                    &EntityPath::Environment {
                        name: settings.environment_name.clone(),
                    },
                )
                .await
                .map_err(observe_error("reading the link's environment"))
        }
    )?;
    Ok(ObservedApiCenter {
        environment,
        apis,
        details: Default::default(),
    })
}

fn properties_by_name(entities: Vec<ApicEntity>) -> BTreeMap<String, Value> {
    entities
        .into_iter()
        .map(|e| (e.name, e.properties.value()))
        .collect()
}

/// Versions (with their definitions) and deployments of one API.
async fn read_details<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    api: &str,
) -> Result<ApiDetails, AzureError> {
    let (versions, deployments) = futures::try_join!(
        azure.list_versions(target, api),
        azure.list_deployments(target, api)
    )?;
    let definitions = futures::future::try_join_all(
        versions
            .iter()
            .map(|v| azure.list_definitions(target, api, &v.name)),
    )
    .await?;
    let versions = versions
        .into_iter()
        .zip(definitions)
        .map(|(version, definitions)| {
            (
                version.name,
                ObservedVersion {
                    properties: version.properties.value(),
                    definitions: properties_by_name(definitions),
                },
            )
        })
        .collect();
    Ok(ApiDetails {
        versions,
        deployments: properties_by_name(deployments),
    })
}

/// The API Center API each of the `failed` APIM APIs belongs to, for failure reports.
fn export_owners(
    desired: &DesiredState,
    failed: &[(ApimApiRef, AzureError)],
) -> HashMap<ApimApiRef, String> {
    let failed: HashSet<&ApimApiRef> = failed.iter().map(|(api, _)| api).collect();
    desired
        .apis
        .iter()
        .flat_map(|api| {
            api.versions
                .iter()
                .map(move |v| (&v.source, api.name.as_str()))
        })
        .filter(|(source, _)| failed.contains(source))
        .map(|(source, api)| (source.clone(), api.to_string()))
        .collect()
}

/// The details the planner asks for, `options.concurrency` APIs at a time, each API's
/// kept as text as soon as it is read. Any failure aborts the pass: the planner cannot
/// tell a missing child from a deleted one.
pub(crate) async fn read_wanted_details<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    options: &EngineOptions,
    wanted: Vec<String>,
) -> Result<DetailsRead, PassError> {
    emit(
        options,
        ProgressEvent::PhaseStarted(Phase::Details { apis: wanted.len() }),
    );
    stream::iter(wanted)
        .map(|api| async move {
            let details = read_details(azure, target, &api).await.map_err(|e| {
                PassError::from_azure(
                    PassPhase::Observe,
                    &format!("reading the children of API {api}"),
                    &e,
                )
            })?;
            emit(options, ProgressEvent::Step);
            Ok::<_, PassError>((api, details))
        })
        .buffer_unordered(options.concurrency.max(1))
        .try_fold(
            DetailsRead::default(),
            |mut read, (api, details)| async move {
                read.insert(api, &details);
                Ok(read)
            },
        )
        .await
}

/// What the exports of one pass gave.
struct Exported {
    exports: Exports,
    contents: HeldExportsBuilder,
    /// Failed exports; their reports are written once all are in.
    failed: Vec<(ApimApiRef, AzureError)>,
    count: usize,
}

impl Exported {
    fn new(options: &EngineOptions) -> Self {
        Self {
            exports: Exports::default(),
            contents: HeldExportsBuilder::new(options.held_export_bytes),
            failed: Vec::new(),
            count: 0,
        }
    }

    /// Takes one export's result.
    fn record(
        &mut self,
        request: ExportRequest,
        result: Result<Option<ExportedContent>, AzureError>,
    ) {
        match result {
            Ok(Some(content)) => {
                self.count += 1;
                let hash = content_hash(content.content.as_bytes());
                let imported = request.imports(&hash);
                self.exports.insert(
                    request.api.clone(),
                    ExportedDefinition {
                        specification: content.specification.clone(),
                        content_hash: hash,
                    },
                );
                // A document the definition already holds is not sent: only its hash
                // stays, so a full resync does not keep every definition until applied.
                if imported {
                    self.contents.hold(request.api, content);
                }
            }
            Ok(None) => {
                tracing::debug!(api = %request.api, "APIM has no definition to export");
            }
            Err(e) => {
                tracing::warn!(api = %request.api, error = %e, "export failed; content not imported this pass");
                self.failed.push((request.api, e));
            }
        }
    }

    /// The reports of the failed exports, each naming the API Center API it is for.
    fn failures(&mut self, desired: &DesiredState) -> Vec<OperationFailure> {
        let failed = std::mem::take(&mut self.failed);
        if failed.is_empty() {
            return Vec::new();
        }
        let owners = export_owners(desired, &failed);
        failed
            .into_iter()
            .map(|(api, e)| {
                OperationFailure::from_azure(format!("export {api}"), owners.get(&api).cloned(), &e)
            })
            .collect()
    }
}

/// An export as links sharing their APIs import it: without the stage's own servers
/// (see [`without_stage_servers`]).
pub(crate) fn stage_neutral(mut content: ExportedContent) -> ExportedContent {
    if let Cow::Owned(neutral) = without_stage_servers(content.kind, &content.content) {
        content.content = neutral;
    }
    content
}

/// Exports the definitions the planner asks for, `options.concurrency` at a time. A
/// failed export fails that definition only: the planner sees its content as
/// unavailable.
async fn export_requested<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    options: &EngineOptions,
    requests: Vec<ExportRequest>,
    shares_apis: bool,
) -> Exported {
    emit(
        options,
        ProgressEvent::PhaseStarted(Phase::Export {
            definitions: requests.len(),
        }),
    );
    let mut exported = Exported::new(options);
    // Each document is hashed as it arrives, and dropped unless it will be imported.
    let mut results = stream::iter(requests)
        .map(|request| async move {
            let result = azure
                .export_definition(target, &request.api, request.kind)
                .await
                .map(|content| content.map(|c| if shares_apis { stage_neutral(c) } else { c }));
            emit(options, ProgressEvent::Step);
            (request, result)
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((request, result)) = results.next().await {
        exported.record(request, result);
    }
    let (held, again) = exported.contents.counts();
    tracing::debug!(
        held,
        again,
        "exported documents held for import, and to export again"
    );
    exported
}

/// Reads everything one pass needs. `coverage`: what the pass re-checks besides what
/// changed (the children and definitions of the owned APIs in its resync window, or of
/// all of them on a full resync).
pub(crate) async fn observe<A: AzureSide>(
    azure: &A,
    target: &LinkTarget,
    settings: &LinkSettings,
    options: &EngineOptions,
    coverage: Coverage,
) -> Result<Observation, PassError> {
    emit(options, ProgressEvent::PhaseStarted(Phase::Observe));
    let (apim, metadata, mut apic) = read_sides(azure, target, settings, options).await?;
    let desired = mapping::desired_state_with_metadata(settings, &apim, &metadata);
    // The desired state holds all the pass needs from APIM: the listing goes before the
    // details and exports are read.
    drop((apim, metadata));

    let wanted = details_needed(settings, &desired, &apic, coverage);
    apic.details = read_wanted_details(azure, target, options, wanted).await?;
    let details_read = apic.details.len();

    let requests = exports_needed(settings, &desired, &apic, coverage);
    let mut exported =
        export_requested(azure, target, options, requests, settings.shares_apis()).await;
    Ok(Observation {
        failures: exported.failures(&desired),
        apic,
        desired,
        exports: exported.exports,
        contents: exported.contents.build(),
        details_read,
        exported: exported.count,
    })
}
