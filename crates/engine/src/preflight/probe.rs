//! `--probe-writes`: learns, in a scratch API, the three behaviours of API Center its
//! published contract leaves open — custom properties no schema declares, conditional
//! headers, and how an import answers — through the same client calls a sync makes,
//! so the probe and a sync never disagree. The scratch API is deleted at the end even
//! when a step fails; a probe killed before that leaves it for the next check or full
//! pass (see [`super::is_probe_leftover`]).

use std::time::SystemTime;

use apilink_azure::AzureError;
use apilink_azure::apic::{
    ApiDefinitionProperties, ApiProperties, ApiVersionProperties, ApicClient, ApicPath,
    ConditionalBehaviour, CustomPropertyBehaviour, ImportAnswer, ImportFormat, ImportSpecification,
    Precondition, SpecificationRef,
};
use apilink_core::LinkSettings;
use apilink_core::preflight::{CheckLine, checks};

use super::{PROBE_DESCRIPTION, PreflightOutcome, probe_api_name};
use crate::azure_side::LinkTarget;
use crate::clients::AzureClients;
use crate::engine::Engine;

/// A custom property no metadata schema declares.
const UNDECLARED_PROPERTY: &str = "apilink-probe-undeclared";

/// The scratch API's version and definition (API Center names are 3 to 90 characters).
const PROBE_VERSION: &str = "probe-v1";
const PROBE_DEFINITION: &str = "openapi";

/// The smallest OpenAPI document API Center accepts.
const PROBE_DOCUMENT: &str =
    r#"{"openapi":"3.0.1","info":{"title":"apilink probe","version":"1"},"paths":{}}"#;

/// The scratch API, with the custom properties the spec gives new APIs: an organisation
/// that requires some on every API refuses a scratch API without them too.
fn scratch_api(settings: &LinkSettings) -> ApiProperties {
    ApiProperties {
        title: "apilink write probe".into(),
        kind: "rest".into(),
        description: Some(PROBE_DESCRIPTION.into()),
        custom_properties: settings.custom_properties.for_entity("api").cloned(),
        ..ApiProperties::default()
    }
}

/// What the probe learned, one line each.
struct Findings(Vec<CheckLine>);

impl Engine<AzureClients> {
    /// Learns this API Center's write behaviours in a scratch API named
    /// `apilink-probe-…`, then deletes it. Needs write access to the link's workspace.
    pub async fn probe_writes(&self, settings: &LinkSettings, now: SystemTime) -> PreflightOutcome {
        let mut out = PreflightOutcome::default();
        let target = LinkTarget::from(settings);
        let apic = ApicClient::new(self.azure().arm().clone(), target.api_center.clone());
        let name = probe_api_name(now, random_suffix(now));
        let mut findings = Findings(Vec::new());
        let api_properties = scratch_api(settings);
        let result = run_probe(
            &apic,
            &target.workspace,
            &name,
            &api_properties,
            &mut findings,
        )
        .await;
        out.report.lines.extend(findings.0);
        if let Err((check, e)) = result {
            out.push(CheckLine::fail(
                check,
                e.reason(),
                format!("the write probe stopped: {e}"),
                e.remedy()
                    .unwrap_or("see the message; the read-only checks above name missing roles"),
            ));
        }
        out.push(remove_scratch_api(&apic, &target.workspace, &name).await);
        out
    }
}

fn random_suffix(now: SystemTime) -> u32 {
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    nanos ^ std::process::id().rotate_left(12)
}

type Step = Result<(), (&'static str, AzureError)>;

async fn run_probe(
    apic: &ApicClient,
    workspace: &str,
    name: &str,
    api_properties: &ApiProperties,
    findings: &mut Findings,
) -> Step {
    let api = ApicPath::api(workspace, name).map_err(|e| (checks::PROBE_CUSTOM_PROPERTIES, e))?;
    let at = |check: &'static str| move |e: AzureError| (check, e);
    apic.create_if_absent(&api, api_properties)
        .await
        .map_err(at(checks::PROBE_CUSTOM_PROPERTIES))?;
    let kept = apic
        .probe_undeclared_custom_property(&api, api_properties, UNDECLARED_PROPERTY)
        .await
        .map_err(at(checks::PROBE_CUSTOM_PROPERTIES))?;
    findings.0.push(custom_property_line(kept));
    let if_match = apic
        .probe_if_match(&api, api_properties)
        .await
        .map_err(at(checks::PROBE_CONDITIONAL_HEADERS))?;
    let if_none_match = apic
        .probe_if_none_match(&api, api_properties)
        .await
        .map_err(at(checks::PROBE_CONDITIONAL_HEADERS))?;
    findings.0.push(conditional_line(if_match, if_none_match));
    let answer = probe_import(apic, workspace, name)
        .await
        .map_err(at(checks::PROBE_IMPORT))?;
    findings.0.push(import_line(&answer));
    Ok(())
}

async fn probe_import(
    apic: &ApicClient,
    workspace: &str,
    api: &str,
) -> Result<ImportAnswer, AzureError> {
    let version = ApicPath::version(workspace, api, PROBE_VERSION)?;
    apic.put(
        &version,
        &ApiVersionProperties {
            title: PROBE_VERSION.into(),
            lifecycle_stage: "design".into(),
            ..ApiVersionProperties::default()
        },
        Precondition::None,
    )
    .await?;
    let definition = ApicPath::definition(workspace, api, PROBE_VERSION, PROBE_DEFINITION)?;
    apic.put(
        &definition,
        &ApiDefinitionProperties {
            title: PROBE_DEFINITION.into(),
            ..ApiDefinitionProperties::default()
        },
        Precondition::None,
    )
    .await?;
    let import = ImportSpecification {
        format: ImportFormat::Inline,
        value: PROBE_DOCUMENT.into(),
        specification: SpecificationRef {
            name: "openapi".into(),
            version: Some("3.0.1".into()),
        },
    };
    apic.import_specification(&definition, &import, None).await
}

async fn remove_scratch_api(apic: &ApicClient, workspace: &str, name: &str) -> CheckLine {
    let deleted = match ApicPath::api(workspace, name) {
        Ok(path) => apic.delete(&path).await,
        Err(e) => Err(e),
    };
    match deleted {
        Ok(_) => CheckLine::pass(
            checks::PROBE_LEFTOVERS,
            format!("the scratch API {name} was deleted"),
        ),
        Err(e) => CheckLine::warn(
            checks::PROBE_LEFTOVERS,
            "ScratchApiLeft",
            format!("the scratch API {name} could not be deleted: {e}"),
            "the next check or full sync removes it after 15 minutes, or delete it by hand",
        ),
    }
}

fn custom_property_line(behaviour: CustomPropertyBehaviour) -> CheckLine {
    let check = checks::PROBE_CUSTOM_PROPERTIES;
    match behaviour {
        CustomPropertyBehaviour::Refused => CheckLine::pass(
            check,
            "custom properties no metadata schema declares are refused (400): the link declares its ownership record with the apilink-ownership schema it creates",
        ),
        CustomPropertyBehaviour::Kept => CheckLine::pass(
            check,
            "custom properties no metadata schema declares are kept: the ownership record would survive even without its schema",
        ),
        CustomPropertyBehaviour::Dropped => CheckLine::warn(
            check,
            "UndeclaredPropertiesDropped",
            "custom properties no metadata schema declares are dropped silently",
            "keep the apilink-ownership metadata schema assigned to api, environment and deployment: without it the ownership record is lost; a sync stops with CustomPropertyDropped if that happens",
        ),
    }
}

fn conditional_line(
    if_match: ConditionalBehaviour,
    if_none_match: ConditionalBehaviour,
) -> CheckLine {
    let check = checks::PROBE_CONDITIONAL_HEADERS;
    let summary = format!(
        "If-Match with a stale ETag is {}; If-None-Match: * on an existing entity is {}",
        behaviour_word(if_match),
        behaviour_word(if_none_match)
    );
    match (if_match, if_none_match) {
        (ConditionalBehaviour::Honoured, ConditionalBehaviour::Honoured) => {
            CheckLine::pass(check, summary)
        }
        _ => CheckLine::warn(
            check,
            "ConditionalHeadersNotHonoured",
            summary,
            "nothing to do: the link re-reads before each merge write, so a concurrent edit in API Center is overwritten only if it lands between that read and the write",
        ),
    }
}

fn behaviour_word(behaviour: ConditionalBehaviour) -> &'static str {
    match behaviour {
        ConditionalBehaviour::Honoured => "honoured (412)",
        ConditionalBehaviour::Ignored => "ignored (the write succeeds)",
        ConditionalBehaviour::Refused => "refused (400; the link then writes without it)",
    }
}

fn import_line(answer: &ImportAnswer) -> CheckLine {
    let how = match (
        answer.initial_status,
        answer.location,
        answer.azure_async_operation,
    ) {
        (200 | 201 | 204, false, false) => format!("completes at once ({})", answer.initial_status),
        (status, location, async_operation) => {
            let mut headers = Vec::new();
            if location {
                headers.push("Location");
            }
            if async_operation {
                headers.push("Azure-AsyncOperation");
            }
            format!(
                "answers {status} with {}, followed in {} poll(s) to {}",
                if headers.is_empty() {
                    "no operation header".to_string()
                } else {
                    headers.join(" and ")
                },
                answer.polls,
                answer.final_status
            )
        }
    };
    CheckLine::pass(checks::PROBE_IMPORT, format!("importSpecification {how}"))
}
