//! What a caller should do about a failure, shared by the Azure client that classifies
//! errors, the engine that reports them and the controller that schedules retries.

/// What a caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Transient: retry soon (5xx, transport errors, `AnotherOperationInProgress`).
    RetryFast,
    /// Probably transient but not soon (throttling, unknown 4xx, policy, quota).
    RetrySlow,
    /// The user must act: bad request content, missing role, untrusted TLS, bad
    /// credentials. Some of these are still retried slowly (the Azure client's requeue
    /// hint says when).
    NeedsUser,
    /// 404 / `ResourceNotFound`.
    NotFound,
    /// 409 / 412: someone else changed or created the resource; re-read, then retry.
    Conflict,
}

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::RetryFast | ErrorClass::RetrySlow | ErrorClass::Conflict
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_user_and_absence_are_not_retried() {
        let retryable: Vec<ErrorClass> = [
            ErrorClass::RetryFast,
            ErrorClass::RetrySlow,
            ErrorClass::NeedsUser,
            ErrorClass::NotFound,
            ErrorClass::Conflict,
        ]
        .into_iter()
        .filter(|class| class.is_retryable())
        .collect();
        assert_eq!(
            retryable,
            [
                ErrorClass::RetryFast,
                ErrorClass::RetrySlow,
                ErrorClass::Conflict
            ]
        );
    }
}
