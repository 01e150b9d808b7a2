//! Who an ARM token is for: tenant, object id, application, name and kind of
//! principal, read from the token's claims so a preflight can show which identity
//! apilink runs as.
//!
//! The signature is not checked: what is read is only displayed, and ARM validates the
//! token on every call. The token itself is never logged, kept or put into an error.

use azure_core::credentials::{AccessToken, TokenCredential};
use serde::Deserialize;
use std::sync::Arc;

use crate::config::CloudConfig;
use crate::error::AzureError;
use crate::token_cache::TokenSource;

/// The kind of principal a token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// An application: service principal or managed identity.
    ServicePrincipal,
    User,
    Unknown,
}

impl PrincipalType {
    /// The principal type a role assignment names (`az role assignment create
    /// --assignee-principal-type`); `None` when unknown.
    pub fn assignee_type(self) -> Option<&'static str> {
        match self {
            PrincipalType::ServicePrincipal => Some("ServicePrincipal"),
            PrincipalType::User => Some("User"),
            PrincipalType::Unknown => None,
        }
    }
}

/// The identity an access token speaks for. Holds claims only, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// `tid`.
    pub tenant_id: Option<String>,
    /// `oid`: the principal's object id, the one role assignments name.
    pub object_id: Option<String>,
    /// `appid` (v1 tokens) or `azp` (v2).
    pub app_id: Option<String>,
    /// `upn`, `unique_name` or `preferred_username` (users); `app_displayname` when an
    /// application's token carries it.
    pub principal_name: Option<String>,
    pub principal_type: PrincipalType,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_on: Option<i64>,
}

/// The claims read; everything else in the token is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Claims {
    tid: Option<String>,
    oid: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
    upn: Option<String>,
    unique_name: Option<String>,
    preferred_username: Option<String>,
    app_displayname: Option<String>,
    idtyp: Option<String>,
    scp: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
}

fn not_a_jwt(why: &str) -> AzureError {
    // Says why, never what: the input is a bearer token.
    AzureError::InvalidResponse {
        method: "GET".into(),
        path: "<access token>".into(),
        message: format!("the access token is not a readable JWT: {why}"),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// `idtyp` when the token has it (`app` / `user`); otherwise an application token is
/// one without a user name and without delegated scopes (`scp`).
fn principal_type(claims: &Claims, user_name: bool) -> PrincipalType {
    match claims
        .idtyp
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("app") => PrincipalType::ServicePrincipal,
        Some("user") => PrincipalType::User,
        Some(_) => PrincipalType::Unknown,
        None if user_name || claims.scp.is_some() => PrincipalType::User,
        None => PrincipalType::ServicePrincipal,
    }
}

/// `exp` as a number (some issuers write it as a string).
fn expiry(exp: Option<&serde_json::Value>) -> Option<i64> {
    match exp? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl TokenIdentity {
    /// Reads the claims of a JWT access token (`header.payload.signature`, base64url).
    pub fn from_access_token(token: &str) -> Result<Self, AzureError> {
        let mut parts = token.trim().split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(not_a_jwt("it does not have three dot-separated parts"));
        };
        let bytes = azure_core::base64::decode_url_safe(payload)
            .map_err(|_| not_a_jwt("its payload is not base64url"))?;
        let claims: Claims = serde_json::from_slice(&bytes)
            .map_err(|_| not_a_jwt("its payload is not a JSON object of claims"))?;
        Ok(Self::from_claims(claims))
    }

    fn from_claims(claims: Claims) -> Self {
        let user_name = non_empty(claims.upn.clone())
            .or_else(|| non_empty(claims.unique_name.clone()))
            .or_else(|| non_empty(claims.preferred_username.clone()));
        let principal_type = principal_type(&claims, user_name.is_some());
        let principal_name = match principal_type {
            PrincipalType::ServicePrincipal => {
                user_name.or_else(|| non_empty(claims.app_displayname.clone()))
            }
            _ => user_name,
        };
        Self {
            tenant_id: non_empty(claims.tid),
            object_id: non_empty(claims.oid),
            app_id: non_empty(claims.appid).or_else(|| non_empty(claims.azp)),
            principal_name,
            principal_type,
            expires_on: expiry(claims.exp.as_ref()),
        }
    }

    /// The identity of a fetched token; `expires_on` falls back to the credential's
    /// expiry when the token carries no `exp`.
    fn from_fetched(token: &AccessToken) -> Result<Self, AzureError> {
        let mut identity = Self::from_access_token(token.token.secret())?;
        if identity.expires_on.is_none() {
            identity.expires_on = Some(token.expires_on.unix_timestamp());
        }
        Ok(identity)
    }
}

/// Asks `credential` for an ARM token, with the scope every ARM call uses, and reads
/// who it is for. The token is dropped here.
pub async fn token_identity(
    credential: &Arc<dyn TokenCredential>,
    cloud: &CloudConfig,
) -> Result<TokenIdentity, AzureError> {
    identity_from(credential, cloud).await
}

/// [`token_identity`] over any token source (tests hand it a fake one).
async fn identity_from<S: TokenSource>(
    source: &S,
    cloud: &CloudConfig,
) -> Result<TokenIdentity, AzureError> {
    let token = source.fetch(&cloud.scope()).await?;
    TokenIdentity::from_fetched(&token)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use azure_core::time::OffsetDateTime;
    use serde_json::json;

    use super::*;

    /// An unsigned JWT carrying `claims`.
    fn jwt(claims: &serde_json::Value) -> String {
        let header = azure_core::base64::encode_url_safe(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = azure_core::base64::encode_url_safe(claims.to_string());
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    #[test]
    fn an_application_token() {
        let token = jwt(&json!({
            "aud": "https://management.azure.com/",
            "tid": "72f988bf-0000-0000-0000-000000000001",
            "oid": "5b1c0000-0000-0000-0000-0000000000aa",
            "appid": "0a1b0000-0000-0000-0000-0000000000bb",
            "app_displayname": "apilink-controller",
            "idtyp": "app",
            "roles": [],
            "exp": 1_767_225_600
        }));
        let identity = TokenIdentity::from_access_token(&token).unwrap();
        assert_eq!(
            identity,
            TokenIdentity {
                tenant_id: Some("72f988bf-0000-0000-0000-000000000001".into()),
                object_id: Some("5b1c0000-0000-0000-0000-0000000000aa".into()),
                app_id: Some("0a1b0000-0000-0000-0000-0000000000bb".into()),
                principal_name: Some("apilink-controller".into()),
                principal_type: PrincipalType::ServicePrincipal,
                expires_on: Some(1_767_225_600),
            }
        );
        // Without idtyp, no user name and no scp mean an application.
        let token = jwt(&json!({"oid": "o", "azp": "a", "exp": "1767225600"}));
        let identity = TokenIdentity::from_access_token(&token).unwrap();
        assert_eq!(identity.principal_type, PrincipalType::ServicePrincipal);
        assert_eq!(identity.app_id.as_deref(), Some("a"));
        assert_eq!(identity.expires_on, Some(1_767_225_600));
    }

    #[test]
    fn a_user_token() {
        let token = jwt(&json!({
            "tid": "t",
            "oid": "u-oid",
            "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "upn": "ada@contoso.example",
            "unique_name": "other@contoso.example",
            "scp": "user_impersonation",
            "idtyp": "user",
            "exp": 1_767_225_600
        }));
        let identity = TokenIdentity::from_access_token(&token).unwrap();
        assert_eq!(identity.principal_type, PrincipalType::User);
        assert_eq!(
            identity.principal_name.as_deref(),
            Some("ada@contoso.example")
        );
        assert_eq!(identity.object_id.as_deref(), Some("u-oid"));
        // Without idtyp, a user name (or delegated scopes) means a user.
        for claims in [
            json!({"preferred_username": "ada@contoso.example"}),
            json!({"unique_name": "ada@contoso.example"}),
            json!({"scp": "user_impersonation"}),
        ] {
            let identity = TokenIdentity::from_access_token(&jwt(&claims)).unwrap();
            assert_eq!(identity.principal_type, PrincipalType::User, "{claims}");
        }
        let odd = TokenIdentity::from_access_token(&jwt(&json!({"idtyp": "device"}))).unwrap();
        assert_eq!(odd.principal_type, PrincipalType::Unknown);
        assert_eq!(
            [
                PrincipalType::ServicePrincipal,
                PrincipalType::User,
                PrincipalType::Unknown
            ]
            .map(PrincipalType::assignee_type),
            [Some("ServicePrincipal"), Some("User"), None]
        );
        assert_eq!(odd.expires_on, None);
    }

    #[test]
    fn garbage_is_an_error_that_never_quotes_the_token() {
        let secret_payload = azure_core::base64::encode_url_safe("SECRETSECRET not json");
        for garbage in [
            String::new(),
            "SECRETSECRET".to_string(),
            "SECRET.SECRET".to_string(),
            "a.b.c.d".to_string(),
            "eyJhbGciOiJub25lIn0.***SECRET***.sig".to_string(),
            format!("eyJhbGciOiJub25lIn0.{secret_payload}.sig"),
            format!("h.{}.s", azure_core::base64::encode_url_safe("[1,2]")),
        ] {
            let err = TokenIdentity::from_access_token(&garbage).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("SECRET"), "{text}");
            if !garbage.is_empty() {
                assert!(!text.contains(&garbage), "{text}");
            }
            assert!(matches!(err, AzureError::InvalidResponse { .. }), "{err:?}");
        }
    }

    #[test]
    fn debug_shows_claims_only() {
        let token = jwt(&json!({"oid": "o", "idtyp": "app"}));
        let identity = TokenIdentity::from_access_token(&token).unwrap();
        let text = format!("{identity:?}");
        assert!(!text.contains(&token), "{text}");
        assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
        assert!(text.contains("ServicePrincipal"), "{text}");
    }

    /// A token source that hands out one token and records the scope asked for.
    struct Fake {
        token: String,
        expires_on: OffsetDateTime,
        scopes: Mutex<Vec<String>>,
    }

    impl TokenSource for Arc<Fake> {
        async fn fetch(&self, scope: &str) -> Result<AccessToken, AzureError> {
            self.scopes.lock().unwrap().push(scope.to_string());
            Ok(AccessToken::new(self.token.clone(), self.expires_on))
        }
    }

    #[tokio::test]
    async fn the_arm_scope_is_asked_for() {
        let expires_on = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let fake = Arc::new(Fake {
            token: jwt(&json!({"oid": "o", "tid": "t", "idtyp": "app"})),
            expires_on,
            scopes: Mutex::new(Vec::new()),
        });
        let cloud = CloudConfig::us_government();
        let identity = identity_from(&fake, &cloud).await.unwrap();
        assert_eq!(
            *fake.scopes.lock().unwrap(),
            ["https://management.core.usgovcloudapi.net/.default"]
        );
        assert_eq!(identity.object_id.as_deref(), Some("o"));
        assert_eq!(
            identity.expires_on,
            Some(1_800_000_000),
            "the credential's expiry when the token has no exp"
        );
    }
}
