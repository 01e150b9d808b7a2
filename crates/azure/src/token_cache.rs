//! One bearer token per client, fetched once per lifetime and refreshed ahead of expiry.
//!
//! `azure_identity`'s own credentials cache too, but `AzureCliCredential` does not
//! (every call runs `az`), and a caller may pass any `TokenCredential`. This cache
//! makes "a token per expiry, not per request" hold for all of them, and fetches are
//! single-flight: concurrent requests wait for one fetch instead of starting many.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential};
use azure_core::time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::error::AzureError;
use crate::tls::{error_chain, is_certificate_error};

/// Refresh this long before expiry (or at half-life for short-lived tokens).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// A token request that has not answered in this long has failed.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Where tokens come from; implemented for any `azure_core` credential.
pub trait TokenSource: Send + Sync {
    fn fetch(
        &self,
        scope: &str,
    ) -> impl std::future::Future<Output = Result<AccessToken, AzureError>> + Send;
}

// Generic over the trait object's lifetime: async state erases it, and an impl for
// `'static` only would make every ARM future fail to prove `Send` (rust#110338).
impl<'a> TokenSource for Arc<dyn TokenCredential + 'a> {
    async fn fetch(&self, scope: &str) -> Result<AccessToken, AzureError> {
        self.get_token(&[scope], None)
            .await
            .map_err(|e| auth_error(&e))
    }
}

impl<'a> TokenSource for &'a (dyn TokenCredential + 'a) {
    async fn fetch(&self, scope: &str) -> Result<AccessToken, AzureError> {
        self.get_token(&[scope], None)
            .await
            .map_err(|e| auth_error(&e))
    }
}

/// Maps an `azure_core` credential error, keeping the token endpoint's status and
/// whether the failure was an untrusted certificate.
pub fn auth_error(err: &azure_core::Error) -> AzureError {
    let mut status = None;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        if let Some(core) = e.downcast_ref::<azure_core::Error>()
            && let azure_core::error::ErrorKind::HttpResponse { status: s, .. } = core.kind()
        {
            status = Some(u16::from(*s));
            break;
        }
        depth += 1;
        if depth > 16 {
            break;
        }
        current = e.source();
    }
    AzureError::Auth {
        message: error_chain(err),
        status,
        tls: is_certificate_error(err),
    }
}

struct Cached {
    token: Secret,
    refresh_at: OffsetDateTime,
}

pub struct TokenCache<S = Arc<dyn TokenCredential>> {
    source: S,
    scope: String,
    state: Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl<S> std::fmt::Debug for TokenCache<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("scope", &self.scope)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// When to refresh: `margin` before expiry, but never later than half-way through the
/// token's life (a 4-minute token is refreshed after 2 minutes, not immediately).
pub fn refresh_at(
    fetched_at: OffsetDateTime,
    expires_on: OffsetDateTime,
    margin: Duration,
) -> OffsetDateTime {
    let lifetime = expires_on - fetched_at;
    let margin = azure_core::time::Duration::try_from(margin)
        .unwrap_or(azure_core::time::Duration::ZERO)
        .min(lifetime / 2);
    expires_on - margin.max(azure_core::time::Duration::ZERO)
}

impl<S: TokenSource> TokenCache<S> {
    pub fn new(source: S, scope: impl Into<String>) -> Self {
        Self {
            source,
            scope: scope.into(),
            state: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Tokens fetched from the source so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token, from the cache unless it is due for refresh.
    pub async fn token(&self) -> Result<Secret, AzureError> {
        let mut state = self.state.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some(cached) = state.as_ref()
            && now < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, self.source.fetch(&self.scope))
            .await
            .map_err(|_| AzureError::Auth {
                message: format!("no token within {FETCH_TIMEOUT:?}"),
                status: None,
                tls: false,
            })??;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched_at = OffsetDateTime::now_utc();
        tracing::debug!(scope = %self.scope, expires_on = %fetched.expires_on, "fetched a token");
        *state = Some(Cached {
            token: fetched.token.clone(),
            refresh_at: refresh_at(fetched_at, fetched.expires_on, REFRESH_MARGIN),
        });
        Ok(fetched.token)
    }

    /// Drops the cached token (after ARM said it expired or is invalid).
    pub async fn invalidate(&self) {
        *self.state.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    struct Fake {
        calls: AtomicU32,
        lifetime: azure_core::time::Duration,
    }

    impl TokenSource for Arc<Fake> {
        async fn fetch(&self, scope: &str) -> Result<AccessToken, AzureError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(AccessToken::new(
                format!("{scope}-{n}"),
                OffsetDateTime::now_utc() + self.lifetime,
            ))
        }
    }

    fn fake(lifetime_secs: i64) -> Arc<Fake> {
        Arc::new(Fake {
            calls: AtomicU32::new(0),
            lifetime: azure_core::time::Duration::seconds(lifetime_secs),
        })
    }

    #[tokio::test]
    async fn one_fetch_per_lifetime_even_when_concurrent() {
        let source = fake(3600);
        let cache = Arc::new(TokenCache::new(source.clone(), "s/.default"));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cache = cache.clone();
            tasks.push(tokio::spawn(async move { cache.token().await }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().secret(), "s/.default-0");
        }
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.fetches(), 1);
    }

    #[tokio::test]
    async fn expired_or_invalidated_tokens_are_refetched() {
        // A token already inside its refresh window is fetched again on each use.
        let source = fake(0);
        let cache = TokenCache::new(source.clone(), "s");
        cache.token().await.unwrap();
        cache.token().await.unwrap();
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);

        let source = fake(3600);
        let cache = TokenCache::new(source.clone(), "s");
        cache.token().await.unwrap();
        cache.invalidate().await;
        assert_eq!(cache.token().await.unwrap().secret(), "s-1");
    }

    #[test]
    fn refresh_schedule() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let hour = azure_core::time::Duration::hours(1);
        assert_eq!(
            refresh_at(t0, t0 + hour, REFRESH_MARGIN),
            t0 + hour - azure_core::time::Duration::minutes(5)
        );
        let short = azure_core::time::Duration::minutes(4);
        assert_eq!(
            refresh_at(t0, t0 + short, REFRESH_MARGIN),
            t0 + azure_core::time::Duration::minutes(2)
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let cache = TokenCache::new(fake(60), "scope");
        let text = format!("{cache:?}");
        assert!(text.contains("scope"));
        let token = Secret::new("super-secret-token");
        assert!(!format!("{token:?}").contains("super-secret"));
    }
}
