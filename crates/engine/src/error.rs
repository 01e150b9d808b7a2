//! Why a pass did not complete, classified so a caller knows whether and when to retry.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use apilink_azure::AzureError;
use apilink_core::ErrorClass;
use apilink_core::outcome::RunError;

use crate::report::{OperationFailure, PassReport};

/// Where a pass stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassPhase {
    /// Reading APIM or API Center failed: nothing was written.
    Observe,
    /// The metadata schemas do not allow the pass's writes (or could not be read or
    /// created): nothing was written.
    Metadata,
    /// The link's environment could not be written: nothing else was attempted.
    Environment,
    /// Some operations failed; the others were applied.
    Apply,
    /// Removing what the link owns failed part-way.
    Cleanup,
}

impl fmt::Display for PassPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Observe => "observe",
            Self::Metadata => "metadata",
            Self::Environment => "environment",
            Self::Apply => "apply",
            Self::Cleanup => "cleanup",
        })
    }
}

/// A pass that did not complete: where it stopped, the classified error a caller
/// retries by (its `class` and stable PascalCase `reason` come from the azure error
/// classification), and what the pass did before it stopped.
#[derive(Debug, thiserror::Error)]
#[error("{phase} failed: {error}")]
pub struct PassError {
    pub phase: PassPhase,
    /// Class, reason, message and when to try again (`retry_after` `None`: not until
    /// the spec changes).
    pub error: RunError,
    /// What the pass did before it stopped (present from the apply phase on).
    pub report: Option<Box<PassReport>>,
}

/// Reads of `class`, `reason`, `message` and `retry_after` go to the shared error.
impl Deref for PassError {
    type Target = RunError;

    fn deref(&self) -> &RunError {
        &self.error
    }
}

impl From<PassError> for RunError {
    fn from(error: PassError) -> Self {
        error.error
    }
}

/// Which class to report when several failures happened: the one that most needs
/// attention.
fn severity(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::NeedsUser => 4,
        ErrorClass::RetrySlow => 3,
        ErrorClass::Conflict => 2,
        ErrorClass::RetryFast => 1,
        ErrorClass::NotFound => 0,
    }
}

impl PassError {
    /// A pass that stopped in `phase` before writing anything worth reporting.
    pub fn new(phase: PassPhase, error: RunError) -> Self {
        Self {
            phase,
            error,
            report: None,
        }
    }

    pub fn from_azure(phase: PassPhase, context: &str, error: &AzureError) -> Self {
        let message = match error.remedy() {
            Some(remedy) => format!("{context}: {error}; {remedy}"),
            None => format!("{context}: {error}"),
        };
        Self::new(
            phase,
            RunError {
                retry_after: error.requeue_hint(),
                ..RunError::new(error.class(), error.reason(), message)
            },
        )
    }

    /// The error summing up the failures of a report (which must have some).
    pub(crate) fn from_failures(phase: PassPhase, report: PassReport) -> Self {
        let worst = report
            .failures
            .iter()
            .max_by_key(|f| severity(f.class))
            .cloned();
        let (class, reason, message, retry_after) = match worst {
            Some(OperationFailure {
                class,
                reason,
                retry_after,
                ..
            }) => {
                let n = report.failures.len();
                let first = report
                    .failures
                    .iter()
                    .find(|f| f.class == class)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let message = if n == 1 {
                    first
                } else {
                    format!("{n} operations failed; e.g. {first}")
                };
                (class, reason, message, retry_after)
            }
            None => (
                ErrorClass::RetryFast,
                "Incomplete".to_string(),
                "the pass did not complete".to_string(),
                Some(Duration::from_secs(5)),
            ),
        };
        Self {
            phase,
            error: RunError {
                class,
                reason,
                message,
                retry_after,
            },
            report: Some(Box::new(report)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PassKind, PassMode};

    fn failure(class: ErrorClass, reason: &str) -> OperationFailure {
        OperationFailure::new(
            format!("create api apis/{reason}"),
            Some(reason.to_string()),
            class,
            reason,
            format!("{reason} happened"),
        )
    }

    #[test]
    fn the_failure_that_most_needs_attention_decides_the_class() {
        let mut report = PassReport::new("ns/l".into(), PassKind::Sync(PassMode::Light));
        report.failures = vec![
            failure(ErrorClass::RetryFast, "AzureUnavailable"),
            failure(ErrorClass::NeedsUser, "AuthorizationFailed"),
            failure(ErrorClass::RetrySlow, "AzureThrottled"),
        ];
        let error = PassError::from_failures(PassPhase::Apply, report);
        assert_eq!(error.class, ErrorClass::NeedsUser);
        assert_eq!(error.reason, "AuthorizationFailed");
        assert!(
            error.message.starts_with("3 operations failed"),
            "{}",
            error.message
        );
        assert!(error.message.contains("AuthorizationFailed happened"));
        assert!(error.report.is_some());
        assert!(
            error
                .to_string()
                .starts_with("apply failed: AuthorizationFailed")
        );
    }

    #[test]
    fn a_single_failure_is_reported_as_is() {
        let mut report = PassReport::new("ns/l".into(), PassKind::Cleanup);
        report.failures = vec![failure(ErrorClass::RetrySlow, "AzureThrottled")];
        let error = PassError::from_failures(PassPhase::Cleanup, report);
        assert_eq!(error.class, ErrorClass::RetrySlow);
        assert_eq!(
            error.message,
            "create api apis/AzureThrottled: AzureThrottled: AzureThrottled happened"
        );
    }

    #[test]
    fn the_shared_error_is_what_the_pass_error_carries() {
        let error = PassError::new(
            PassPhase::Metadata,
            RunError::new(
                ErrorClass::NeedsUser,
                "CustomPropertiesInvalid",
                "bad value",
            )
            .with_retry_after(Duration::from_secs(300)),
        );
        assert_eq!(
            error.to_string(),
            "metadata failed: CustomPropertiesInvalid: bad value"
        );
        assert_eq!(error.class, ErrorClass::NeedsUser);
        let shared = RunError::from(error);
        assert_eq!(
            shared,
            RunError {
                class: ErrorClass::NeedsUser,
                reason: "CustomPropertiesInvalid".into(),
                message: "bad value".into(),
                retry_after: Some(Duration::from_secs(300)),
            }
        );
    }
}
