//! The emulated Entra ID tenant: principals, access tokens, federated assertions, and the
//! token and managed-identity endpoints.

mod aad_error;
pub(crate) mod jwt;
mod managed_identity;
mod token_endpoint;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::config::Principal;
pub(crate) use aad_error::{AadError, rfc3339};
use jwt::{JwtError, JwtKey};

/// The audience federated (workload identity) assertions must carry.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Public ARM audiences accepted besides the emulator's own endpoint, because
/// `azure_identity` callers often ask for the public cloud's scope.
const PUBLIC_ARM_RESOURCES: &[&str] = &[
    "https://management.azure.com",
    "https://management.core.windows.net",
];

/// Which client a token or token request was for; attached to responses so the call log
/// can name the principal.
#[derive(Debug, Clone)]
pub(crate) struct LoggedPrincipal(pub String);

pub(crate) struct Identity {
    pub tenant_id: String,
    principals: Vec<Principal>,
    access_key: JwtKey,
    federation_key: JwtKey,
    token_lifetime: Duration,
    pub identity_header: String,
    own_resources: Vec<String>,
    /// The issuer of federated assertions, like a cluster's service-account issuer.
    pub federation_issuer: String,
}

/// What a valid ARM access token says.
#[derive(Debug, Clone)]
pub(crate) struct TokenClaims {
    pub client_id: String,
    pub object_id: String,
}

/// Why an ARM request's bearer token was refused; each maps to ARM's own 401 code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AccessTokenError {
    Missing,
    BadFormat,
    Invalid(String),
    WrongAudience(String),
    WrongTenant(String),
    Expired { expired_at: i64, now: i64 },
}

/// Claims of a federated assertion minted by [`Identity::mint_federated`].
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedTokenClaims {
    pub subject: String,
    pub audience: String,
    /// Seconds from now; negative for an already expired assertion.
    pub lifetime_secs: i64,
}

impl FederatedTokenClaims {
    pub fn new(subject: &str) -> Self {
        Self {
            subject: subject.to_string(),
            audience: FEDERATED_AUDIENCE.to_string(),
            lifetime_secs: 3600,
        }
    }
}

pub(crate) fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn normalize_resource(resource: &str) -> String {
    resource.trim_end_matches('/').to_ascii_lowercase()
}

impl Identity {
    pub fn new(
        tenant_id: &str,
        principals: Vec<Principal>,
        token_lifetime: Duration,
        endpoint_origins: &[String],
    ) -> Self {
        let own_resources = endpoint_origins
            .iter()
            .map(|o| normalize_resource(o))
            .chain(PUBLIC_ARM_RESOURCES.iter().map(|r| normalize_resource(r)))
            .collect();
        let federation_issuer = format!(
            "{}/federation",
            endpoint_origins
                .first()
                .map(|o| o.trim_end_matches('/'))
                .unwrap_or("https://127.0.0.1")
        );
        Self {
            tenant_id: tenant_id.to_string(),
            principals,
            access_key: JwtKey::random("emulator-access"),
            federation_key: JwtKey::random("emulator-federation"),
            token_lifetime,
            identity_header: uuid::Uuid::new_v4().simple().to_string(),
            own_resources,
            federation_issuer,
        }
    }

    pub fn principal(&self, client_id: &str) -> Option<&Principal> {
        self.principals
            .iter()
            .find(|p| p.client_id.eq_ignore_ascii_case(client_id))
    }

    pub fn principals(&self) -> &[Principal] {
        &self.principals
    }

    /// Whether a resource (a scope without `/.default`) names ARM, as seen by this tenant.
    pub fn is_arm_resource(&self, resource: &str) -> bool {
        let r = normalize_resource(resource);
        self.own_resources.contains(&r)
    }

    pub fn token_lifetime_secs(&self) -> i64 {
        i64::try_from(self.token_lifetime.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// Issues an access token for ARM; returns the token and its expiry (epoch seconds).
    pub fn issue_access_token(&self, principal: &Principal, resource: &str) -> (String, i64) {
        let now = now_secs();
        let exp = now + self.token_lifetime_secs();
        let claims = json!({
            "aud": format!("{}/", resource.trim_end_matches('/')),
            "iss": format!("https://sts.windows.net/{}/", self.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": exp,
            "appid": principal.client_id,
            "oid": principal.object_id(),
            "sub": principal.object_id(),
            "tid": self.tenant_id,
            "idtyp": "app",
            "ver": "1.0",
        });
        (self.access_key.sign(&claims), exp)
    }

    /// Checks an `Authorization` header value the way ARM does.
    pub fn verify_authorization(
        &self,
        header: Option<&str>,
    ) -> Result<TokenClaims, AccessTokenError> {
        let header = header.ok_or(AccessTokenError::Missing)?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or(AccessTokenError::BadFormat)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AccessTokenError::BadFormat);
        }
        let claims = self.access_key.verify(token).map_err(|e| match e {
            JwtError::Malformed => AccessTokenError::Invalid("the token is malformed".into()),
            JwtError::UnsupportedAlgorithm(a) => {
                AccessTokenError::Invalid(format!("the signing algorithm '{a}' is not accepted"))
            }
            JwtError::BadSignature => {
                AccessTokenError::Invalid("the signature could not be verified".into())
            }
        })?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("");
        if text("tid") != self.tenant_id {
            return Err(AccessTokenError::WrongTenant(text("iss").to_string()));
        }
        if !self.is_arm_resource(text("aud")) {
            return Err(AccessTokenError::WrongAudience(text("aud").to_string()));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let now = now_secs();
        if exp <= now {
            return Err(AccessTokenError::Expired {
                expired_at: exp,
                now,
            });
        }
        Ok(TokenClaims {
            client_id: text("appid").to_string(),
            object_id: text("oid").to_string(),
        })
    }

    pub fn mint_federated(&self, claims: &FederatedTokenClaims) -> String {
        let now = now_secs();
        self.federation_key.sign(&json!({
            "iss": self.federation_issuer,
            "sub": claims.subject,
            "aud": [claims.audience],
            "iat": now,
            "nbf": now.min(now + claims.lifetime_secs),
            "exp": now + claims.lifetime_secs,
        }))
    }

    /// Checks a client assertion against the federated credential of `principal`.
    pub fn verify_assertion(&self, assertion: &str, principal: &Principal) -> Result<(), AadError> {
        let claims = self.federation_key.verify(assertion).map_err(|e| match e {
            JwtError::Malformed | JwtError::UnsupportedAlgorithm(_) => {
                AadError::malformed_assertion()
            }
            JwtError::BadSignature => AadError::assertion_signature(),
        })?;
        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if issuer != self.federation_issuer {
            return Err(AadError::assertion_issuer(issuer));
        }
        let audiences: Vec<String> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        if !audiences.iter().any(|a| a == FEDERATED_AUDIENCE) {
            return Err(AadError::assertion_audience(&audiences.join(",")));
        }
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        if principal.federated_subject.as_deref() != Some(subject) {
            return Err(AadError::assertion_subject(subject, issuer));
        }
        let now = now_secs();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
        if exp <= now || nbf > now {
            return Err(AadError::assertion_time(now, nbf, exp));
        }
        Ok(())
    }
}

/// Routes of the token endpoint and the managed-identity endpoint.
pub(crate) fn router(identity: Arc<Identity>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_endpoint::token))
        .route(managed_identity::PATH, get(managed_identity::token))
        .with_state(identity)
}

pub(crate) use managed_identity::PATH as MANAGED_IDENTITY_PATH;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_FEDERATED_SUBJECT, Principal};

    fn identity() -> Identity {
        Identity::new(
            "t1",
            vec![Principal::default_for("s")],
            Duration::from_secs(60),
            &["https://127.0.0.1:1234".to_string()],
        )
    }

    #[test]
    fn access_tokens_verify_and_carry_the_client() {
        let id = identity();
        let p = id.principal(DEFAULT_CLIENT_ID).unwrap().clone();
        let (token, exp) = id.issue_access_token(&p, "https://management.azure.com");
        assert!(exp > now_secs());
        let claims = id
            .verify_authorization(Some(&format!("Bearer {token}")))
            .unwrap();
        assert_eq!(claims.client_id, DEFAULT_CLIENT_ID);
        assert_eq!(claims.object_id, p.object_id());
        assert_eq!(
            id.verify_authorization(None).unwrap_err(),
            AccessTokenError::Missing
        );
        assert_eq!(
            id.verify_authorization(Some(&format!("Basic {token}")))
                .unwrap_err(),
            AccessTokenError::BadFormat
        );
        let (other, _) = id.issue_access_token(&p, "https://vault.azure.net");
        assert!(matches!(
            id.verify_authorization(Some(&format!("Bearer {other}"))),
            Err(AccessTokenError::WrongAudience(_))
        ));
        let stranger = identity();
        assert!(matches!(
            stranger.verify_authorization(Some(&format!("Bearer {token}"))),
            Err(AccessTokenError::Invalid(_))
        ));
    }

    #[test]
    fn own_endpoint_and_public_cloud_are_arm_resources() {
        let id = identity();
        assert!(id.is_arm_resource("https://127.0.0.1:1234/"));
        assert!(id.is_arm_resource("https://management.core.windows.net/"));
        assert!(id.is_arm_resource("https://management.azure.com"));
        assert!(!id.is_arm_resource("https://graph.microsoft.com"));
    }

    #[test]
    fn federated_assertions_are_checked_for_audience_subject_and_time() {
        let id = identity();
        let p = id.principal(DEFAULT_CLIENT_ID).unwrap().clone();
        let good = id.mint_federated(&FederatedTokenClaims::new(DEFAULT_FEDERATED_SUBJECT));
        assert!(id.verify_assertion(&good, &p).is_ok());
        let wrong_aud = id.mint_federated(&FederatedTokenClaims {
            audience: "api://other".into(),
            ..FederatedTokenClaims::new(DEFAULT_FEDERATED_SUBJECT)
        });
        assert_eq!(
            id.verify_assertion(&wrong_aud, &p).unwrap_err().code,
            700212
        );
        let wrong_sub = id.mint_federated(&FederatedTokenClaims::new("system:serviceaccount:x:y"));
        assert_eq!(
            id.verify_assertion(&wrong_sub, &p).unwrap_err().code,
            700213
        );
        let expired = id.mint_federated(&FederatedTokenClaims {
            lifetime_secs: -10,
            ..FederatedTokenClaims::new(DEFAULT_FEDERATED_SUBJECT)
        });
        assert_eq!(id.verify_assertion(&expired, &p).unwrap_err().code, 700024);
        let foreign =
            identity().mint_federated(&FederatedTokenClaims::new(DEFAULT_FEDERATED_SUBJECT));
        assert_eq!(id.verify_assertion(&foreign, &p).unwrap_err().code, 50013);
    }
}
