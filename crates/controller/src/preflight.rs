//! The preflight: before a link's first pass of a generation the runner makes read-only
//! checks (credentials, services reachable, effective ARM permissions, the APIM
//! inventory, the API Center workspace and metadata schemas, the spec). A failed check
//! becomes the link's status - `Ready=False` with the check's reason, the remedy in the
//! message - instead of a failed write, and the checks run again every few minutes: the
//! fix (a role grant, a schema) happens outside the cluster, where nothing wakes the link.
//! The decisions are pure functions; [`gate`] does the I/O.

use std::time::Duration;

use apilink_core::LinkSettings;
use apilink_core::preflight::{CheckLine, CheckReport, CheckStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use tracing::{info, warn};

use crate::conditions::{self, Verdict};
use crate::crd::{
    ApiSourceLink, PreflightCheck, PreflightCheckStatus, PreflightResult, PreflightStatus,
};
use crate::events::{self, EventSpec};
use crate::reconcile::{Context, ReconcileError, Step, add, link_key};
use crate::runner::{Credentials, ErrorClass, LinkRunner, PreflightRequest, RunError};
use crate::schedule::{LinkMemory, Periods};
use crate::status;

/// Event reason of a preflight without failed checks.
pub const PREFLIGHT_PASSED: &str = "PreflightPassed";
/// Event reason of a preflight with failed checks.
pub const PREFLIGHT_FAILED: &str = "PreflightFailed";
/// How long a link whose preflight failed waits before the checks run again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);
/// Longest event note: `kubectl describe` shows the whole preflight, within reason.
const EVENT_NOTE_CHARS: usize = 1000;
/// Reason of a failed preflight whose report names no failed check.
const FAILED_WITHOUT_DETAIL: &str = "PreflightFailed";

/// Who the credentials act as, without their secret: permissions belong to the
/// principal, so another principal needs the checks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The pod's own identity.
    Pod,
    ServicePrincipal {
        tenant_id: String,
        client_id: String,
    },
}

impl Principal {
    pub fn of(credentials: &Credentials) -> Self {
        match credentials {
            Credentials::Default => Principal::Pod,
            Credentials::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => Principal::ServicePrincipal {
                tenant_id: tenant_id.clone(),
                client_id: client_id.clone(),
            },
        }
    }
}

/// A preflight that passed, remembered for the link in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// The `metadata.generation` it checked.
    pub generation: Option<i64>,
    pub principal: Principal,
}

/// Whether a pass needs the checks first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Run,
    Skip,
}

/// The checks run once per generation and principal in this process, and again when the
/// link's credentials Secret changed; `enabled: false` never runs them.
pub fn plan(
    enabled: bool,
    passed: Option<&Passed>,
    generation: Option<i64>,
    principal: &Principal,
    credentials_changed: bool,
) -> Plan {
    let current = passed.is_some_and(|p| p.generation == generation && &p.principal == principal);
    if !enabled || (current && !credentials_changed) {
        Plan::Skip
    } else {
        Plan::Run
    }
}

/// What follows a preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// No check failed (warnings allowed): the pass goes on in this reconcile.
    Proceed,
    /// A check failed: no pass; the link reports `verdict` and the checks run again
    /// after `retry_in`.
    Hold {
        verdict: Verdict,
        retry_in: Duration,
    },
    /// The checks could not run (Azure unreachable, throttled): a failed pass.
    Failed(RunError),
}

/// Decides what follows the preflight's `result`. A failure is not `Stalled`: a role
/// grant outside the cluster can clear it, so the link keeps retrying by itself.
pub fn next(result: Result<&CheckReport, RunError>) -> Next {
    let report = match result {
        Ok(report) => report,
        Err(err) => return Next::Failed(err),
    };
    if report.can_sync() {
        return Next::Proceed;
    }
    let reason = report
        .first_failure()
        .map_or(FAILED_WITHOUT_DETAIL, |line| line.reason.as_str());
    let message = report
        .failure_message()
        .unwrap_or_else(|| "The preflight checks failed".to_string());
    // Like a permission refusal during a pass: the link cannot progress until someone
    // acts outside the cluster, so it is Stalled, and looked at again every 5 minutes.
    Next::Hold {
        verdict: Verdict::Stalled {
            reason: reason.to_string(),
            message,
        },
        retry_in: RETRY_AFTER_FAILURE,
    }
}

/// The preflight as the status shows it: every line, in order.
pub fn status_of(report: &CheckReport, now: Timestamp) -> PreflightStatus {
    PreflightStatus {
        time: Time(now),
        result: if report.can_sync() {
            PreflightResult::Passed
        } else {
            PreflightResult::Failed
        },
        checks: report.lines.iter().map(check_of).collect(),
    }
}

fn check_of(line: &CheckLine) -> PreflightCheck {
    PreflightCheck {
        check: line.check.clone(),
        status: match line.status {
            CheckStatus::Pass => PreflightCheckStatus::Pass,
            CheckStatus::Warn => PreflightCheckStatus::Warn,
            CheckStatus::Fail => PreflightCheckStatus::Fail,
        },
        reason: line.reason.clone(),
        summary: conditions::truncate_message(&line.summary),
        remedy: line.remedy.as_deref().map(conditions::truncate_message),
    }
}

/// Whether a preflight is worth an event: the first one, one whose outcome (result and
/// each check's status and reason) differs from the one the status shows, or one run for
/// a new generation or new credentials. A link failing the same way every few minutes,
/// or a restarted controller finding what it found before, says nothing new.
pub fn is_news(previous: Option<&PreflightStatus>, next: &PreflightStatus, changed: bool) -> bool {
    changed || previous.is_none_or(|previous| outcome(previous) != outcome(next))
}

/// What a preflight found, without the wording that may change from run to run.
fn outcome(p: &PreflightStatus) -> (PreflightResult, Vec<(&str, PreflightCheckStatus, &str)>) {
    let checks = p
        .checks
        .iter()
        .map(|c| (c.check.as_str(), c.status, c.reason.as_str()))
        .collect();
    (p.result, checks)
}

/// The event of a preflight.
pub fn event_for(report: &CheckReport) -> EventSpec {
    events::for_preflight(report.can_sync(), report.event_note(EVENT_NOTE_CHARS))
}

/// How the preflight ended for the pass flow.
pub(crate) enum Gate {
    /// Go on with the pass; `Some`: the checks ran, and the next status write records them.
    Proceed(Option<PreflightStatus>),
    /// No pass this time; the reconcile ends with this step.
    Hold(Step),
    /// The checks could not run: handle as a failed pass.
    Failed(RunError),
}

/// What the checks of one link need besides the link.
pub(crate) struct Checks<'a> {
    pub settings: &'a LinkSettings,
    pub credentials: &'a Credentials,
    pub credentials_changed: bool,
    pub periods: Periods,
}

/// Runs the preflight when [`plan`] says so and reports its outcome: event, metric and
/// the link's memory, and the status when it failed (a passed one is left to the pass's
/// first status write).
pub(crate) async fn gate<R: LinkRunner>(
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    link: &ApiSourceLink,
    checks: Checks<'_>,
) -> Result<Gate, ReconcileError> {
    let key = link_key(link);
    let principal = Principal::of(checks.credentials);
    let generation = link.metadata.generation;
    let passed = ctx.preflight_passed(&key);
    let plan = plan(
        ctx.settings.preflight,
        passed.as_ref(),
        generation,
        &principal,
        checks.credentials_changed,
    );
    if plan == Plan::Skip {
        return Ok(Gate::Proceed(None));
    }
    let report = match run(ctx, &checks).await {
        Ok(report) => report,
        Err(err) => {
            warn!(reason = %err.reason, error = %err.message, "the preflight checks could not run");
            return Ok(Gate::Failed(err));
        }
    };
    let now = ctx.now();
    let (_, warned, failed) = report.counts();
    ctx.metrics.preflight_ran(
        &link.namespace().unwrap_or_default(),
        &link.name_any(),
        failed,
    );
    let previous = link.status.as_ref().and_then(|s| s.preflight.as_ref());
    let preflight = status_of(&report, now);
    let changed = checks.credentials_changed
        || link.status.as_ref().and_then(|s| s.observed_generation) != generation;
    let news = is_news(previous, &preflight, changed).then(|| event_for(&report));
    match next(Ok(&report)) {
        Next::Proceed => {
            info!(warned, "preflight passed");
            ctx.remember_preflight(
                &key,
                Some(Passed {
                    generation,
                    principal,
                }),
            );
            crate::reconcile::publish(ctx, link, news.into_iter().collect()).await;
            Ok(Gate::Proceed(Some(preflight)))
        }
        Next::Hold { verdict, retry_in } => {
            warn!(failed, "preflight failed: no pass until it passes");
            ctx.remember_preflight(&key, None);
            hold(ctx, api, link, &verdict, preflight, news, checks.periods).await?;
            let failures = ctx.memory(&key).map_or(0, |m| m.failures);
            ctx.remember(
                &key,
                LinkMemory {
                    next_pass_at: Some(add(now, retry_in)),
                    failures: failures.saturating_add(1),
                },
            );
            Ok(Gate::Hold(Step::failed(Action::requeue(retry_in), false)))
        }
        Next::Failed(err) => Ok(Gate::Failed(err)),
    }
}

/// Asks the runner for the checks, bounded like a pass: a hung call must not silence
/// the link.
async fn run<R: LinkRunner>(
    ctx: &Context<R>,
    checks: &Checks<'_>,
) -> Result<CheckReport, RunError> {
    let request = PreflightRequest {
        settings: checks.settings.clone(),
        credentials: checks.credentials.clone(),
    };
    let limit = ctx.settings.pass_timeout;
    tokio::time::timeout(limit, ctx.runner.preflight(request))
        .await
        .unwrap_or_else(|_| {
            Err(RunError::new(
                ErrorClass::RetrySlow,
                "PreflightTimeout",
                format!(
                    "the preflight checks did not finish within {}s and were abandoned",
                    limit.as_secs()
                ),
            ))
        })
}

/// Writes the status of a failed preflight (`verdict` and the checks), its event when it
/// is news, and the link's gauges.
async fn hold<R: LinkRunner>(
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    link: &ApiSourceLink,
    verdict: &Verdict,
    preflight: PreflightStatus,
    news: Option<EventSpec>,
    periods: Periods,
) -> Result<(), ReconcileError> {
    let mut next = status::next_status(link, verdict, ctx.now(), None);
    next.preflight = Some(preflight);
    status::write(api, link, &next, &ctx.settings.field_manager)
        .await
        .map_err(ReconcileError::Status)?;
    crate::reconcile::publish(ctx, link, news.into_iter().collect()).await;
    ctx.metrics.link_state(
        &link.namespace().unwrap_or_default(),
        &link.name_any(),
        false,
        false,
        Some(periods.bound()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn principal(client_id: &str) -> Principal {
        Principal::ServicePrincipal {
            tenant_id: "tenant".into(),
            client_id: client_id.into(),
        }
    }

    fn passed(generation: i64, client_id: &str) -> Passed {
        Passed {
            generation: Some(generation),
            principal: principal(client_id),
        }
    }

    #[test]
    fn the_checks_run_once_per_generation_and_principal() {
        // A client id, or "pod" for the pod's own identity.
        let who = |id: &str| match id {
            "pod" => Principal::Pod,
            id => principal(id),
        };
        // (what, enabled, passed before as (generation, who), generation, who,
        //  credentials changed, plan)
        type Row = (
            &'static str,
            bool,
            Option<(i64, &'static str)>,
            i64,
            &'static str,
            bool,
            Plan,
        );
        let table: [Row; 8] = [
            ("never ran", true, None, 1, "a", false, Plan::Run),
            (
                "passed for this generation",
                true,
                Some((1, "a")),
                1,
                "a",
                false,
                Plan::Skip,
            ),
            (
                "a new generation",
                true,
                Some((1, "a")),
                2,
                "a",
                false,
                Plan::Run,
            ),
            (
                "another principal",
                true,
                Some((1, "b")),
                1,
                "a",
                false,
                Plan::Run,
            ),
            (
                "the Secret changed",
                true,
                Some((1, "a")),
                1,
                "a",
                true,
                Plan::Run,
            ),
            (
                "the pod's identity instead",
                true,
                Some((1, "a")),
                1,
                "pod",
                false,
                Plan::Run,
            ),
            ("switched off", false, None, 1, "a", false, Plan::Skip),
            (
                "switched off, Secret changed",
                false,
                Some((1, "a")),
                2,
                "a",
                true,
                Plan::Skip,
            ),
        ];
        for (what, enabled, before, generation, id, changed, want) in table {
            let before = before.map(|(generation, id)| passed(generation, id));
            assert_eq!(
                plan(
                    enabled,
                    before.as_ref(),
                    Some(generation),
                    &who(id),
                    changed
                ),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn the_principal_never_holds_the_secret() {
        let credentials = Credentials::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: "s3cr3t".into(),
        };
        let who = Principal::of(&credentials);
        assert_eq!(
            who,
            Principal::ServicePrincipal {
                tenant_id: "t".into(),
                client_id: "c".into()
            }
        );
        assert!(!format!("{who:?}").contains("s3cr3t"));
        assert_eq!(Principal::of(&Credentials::Default), Principal::Pod);
    }

    fn report(lines: Vec<CheckLine>) -> CheckReport {
        CheckReport { lines }
    }

    fn role_missing() -> CheckLine {
        CheckLine::fail(
            "apic.permissions",
            "AuthorizationFailed",
            "the identity cannot write API Center APIs",
            "grant the identity \"Azure API Center Data Contributor\" on the API Center service",
        )
    }

    fn schema_missing() -> CheckLine {
        CheckLine::fail(
            "apic.metadata",
            "MetadataSchemaMissing",
            "no schema declares apilink-ownership",
            "create the apilink-ownership metadata schema",
        )
    }

    #[test]
    fn after_the_checks() {
        let warned = report(vec![
            CheckLine::pass("credential", "a token for the pod's identity"),
            CheckLine::warn(
                "apim.inventory",
                "NoApisSelected",
                "the filter selects no API",
                "widen spec.filter",
            ),
        ]);
        let failed = report(vec![
            CheckLine::pass("credential", "a token for the pod's identity"),
            role_missing(),
            schema_missing(),
        ]);
        let unreachable = RunError::new(
            ErrorClass::RetryFast,
            "AzureUnavailable",
            "ARM answered 503",
        );
        let failure_message = failed.failure_message().unwrap();
        let table: [(&str, Result<&CheckReport, RunError>, Next); 4] = [
            ("no checks", Ok(&CheckReport::default()), Next::Proceed),
            ("warnings only", Ok(&warned), Next::Proceed),
            (
                "failed checks",
                Ok(&failed),
                Next::Hold {
                    verdict: Verdict::Stalled {
                        reason: "AuthorizationFailed".into(),
                        message: failure_message.clone(),
                    },
                    retry_in: Duration::from_secs(300),
                },
            ),
            (
                "could not run",
                Err(unreachable.clone()),
                Next::Failed(unreachable),
            ),
        ];
        for (what, result, want) in table {
            assert_eq!(next(result), want, "{what}");
        }
        assert!(
            failure_message.contains("Azure API Center Data Contributor"),
            "the remedy is in the message: {failure_message}"
        );
    }

    #[test]
    fn the_status_lists_every_check_in_order() {
        let failed = report(vec![
            CheckLine::pass("credential", "a token for the pod's identity"),
            role_missing(),
        ]);
        let status = status_of(&failed, t(0));
        assert_eq!(status.time, Time(t(0)));
        assert_eq!(status.result, PreflightResult::Failed);
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["result"], "Failed");
        assert_eq!(
            json["checks"],
            serde_json::json!([
                {"check": "credential", "status": "pass", "reason": "Ok",
                 "summary": "a token for the pod's identity"},
                {"check": "apic.permissions", "status": "fail", "reason": "AuthorizationFailed",
                 "summary": "the identity cannot write API Center APIs",
                 "remedy": "grant the identity \"Azure API Center Data Contributor\" on the API Center service"},
            ])
        );
        let passed = status_of(&report(vec![]), t(5));
        assert_eq!(passed.result, PreflightResult::Passed);
        assert!(passed.checks.is_empty());
    }

    #[test]
    fn only_news_makes_an_event() {
        let failed = status_of(&report(vec![role_missing()]), t(0));
        let mut worded_otherwise = report(vec![role_missing()]);
        worded_otherwise.lines[0].summary = "the identity still cannot write".into();
        let same_later = status_of(&worded_otherwise, t(300));
        let other_failure = status_of(&report(vec![schema_missing()]), t(300));
        let passed = status_of(&report(vec![]), t(300));
        // (what, previous, next, generation or credentials changed, news)
        let table = [
            ("the first preflight", None, &failed, false, true),
            (
                "the same failure again",
                Some(&failed),
                &same_later,
                false,
                false,
            ),
            (
                "the same failure, new spec",
                Some(&failed),
                &same_later,
                true,
                true,
            ),
            (
                "another check fails",
                Some(&failed),
                &other_failure,
                false,
                true,
            ),
            ("fixed", Some(&failed), &passed, false, true),
            (
                "passed again after a restart",
                Some(&passed),
                &passed,
                false,
                false,
            ),
        ];
        for (what, previous, next, changed, want) in table {
            assert_eq!(is_news(previous, next, changed), want, "{what}");
        }
    }

    #[test]
    fn events_carry_the_whole_preflight() {
        let failed = report(vec![
            CheckLine::pass("credential", "a token for the pod's identity"),
            role_missing(),
        ]);
        let event = event_for(&failed);
        assert_eq!(event.reason, PREFLIGHT_FAILED);
        assert_eq!(event.severity, events::Severity::Warning);
        assert_eq!(event.note, failed.event_note(1000));
        let passed = report(vec![CheckLine::pass("credential", "a token")]);
        let event = event_for(&passed);
        assert_eq!(event.reason, PREFLIGHT_PASSED);
        assert_eq!(event.severity, events::Severity::Normal);
        assert_eq!(event.note, passed.event_note(1000));
    }
}
