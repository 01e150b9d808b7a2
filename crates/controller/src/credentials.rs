//! Azure credentials of a link: the pod's workload identity by default, or a Secret in
//! the link's own namespace with the keys ASO users know. Values are never logged.
//!
//! The controller may only `get` Secrets (no list, no watch: it never learns which
//! Secrets exist), so a rotation is noticed by reading the Secret again: every pass reads
//! it, and a link waiting after a failure (stalled, or backing off) reads the Secret's
//! metadata every interval and runs a pass as soon as its [`SecretState`] moved.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::runner::Credentials;

pub const TENANT_ID_KEY: &str = "AZURE_TENANT_ID";
pub const CLIENT_ID_KEY: &str = "AZURE_CLIENT_ID";
pub const CLIENT_SECRET_KEY: &str = "AZURE_CLIENT_SECRET";

/// Why a link's credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "Secret {namespace}/{name} not found; create it with keys {TENANT_ID_KEY}, {CLIENT_ID_KEY} and {CLIENT_SECRET_KEY}"
    )]
    NotFound { namespace: String, name: String },
    #[error("Secret {namespace}/{name} is unusable: {problem}")]
    Invalid {
        namespace: String,
        name: String,
        problem: String,
    },
    #[error(
        "the controller may not read Secret {namespace}/{name}: its ServiceAccount has no `get` on Secrets in namespace {namespace} (Helm chart: list the namespace in rbac.secretNamespaces)"
    )]
    Forbidden { namespace: String, name: String },
    #[error("reading Secret {namespace}/{name}: {source}")]
    Kube {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Credentials from the data of a Secret. Values are trimmed (files written by editors
/// end in a newline). The error names missing or unreadable keys, never values.
pub fn from_secret_data(secret: &Secret) -> Result<Credentials, String> {
    let data = secret.data.as_ref();
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    let mut read = |key: &'static str| -> String {
        match data.and_then(|d| d.get(key)) {
            None => {
                missing.push(key);
                String::new()
            }
            Some(bytes) => match std::str::from_utf8(&bytes.0) {
                Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
                Ok(_) => {
                    missing.push(key);
                    String::new()
                }
                Err(_) => {
                    unreadable.push(key);
                    String::new()
                }
            },
        }
    };
    let tenant_id = read(TENANT_ID_KEY);
    let client_id = read(CLIENT_ID_KEY);
    let client_secret = read(CLIENT_SECRET_KEY);
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing or empty key(s) {}", missing.join(", ")));
    }
    if !unreadable.is_empty() {
        problems.push(format!("key(s) {} are not UTF-8", unreadable.join(", ")));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(Credentials::ClientSecret {
        tenant_id,
        client_id,
        client_secret,
    })
}

/// Stalled reason of a Secret the controller's RBAC does not let it read.
pub const SECRET_FORBIDDEN: &str = "SecretForbidden";

impl CredentialError {
    /// The stall reason of an error only a person can fix; `None` for API trouble that
    /// is retried.
    pub fn stall_reason(&self) -> Option<&'static str> {
        match self {
            CredentialError::NotFound { .. } => Some(crate::conditions::reason::SECRET_NOT_FOUND),
            CredentialError::Invalid { .. } => Some(crate::conditions::reason::SECRET_INVALID),
            CredentialError::Forbidden { .. } => Some(SECRET_FORBIDDEN),
            CredentialError::Kube { .. } => None,
        }
    }
}

/// What a read of a link's Secret found, to tell whether it changed since. Holds no
/// value of the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretState {
    Missing,
    /// The controller may not `get` it.
    Forbidden,
    /// Present, at this `metadata.resourceVersion` (any change to the Secret moves it).
    Version(String),
}

fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

/// The Secret's state from its metadata only (the values are not transferred); `None`
/// when the API server could not tell (transient trouble).
pub async fn observe(client: &Client, namespace: &str, name: &str) -> Option<SecretState> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match api.get_metadata_opt(name).await {
        Ok(None) => Some(SecretState::Missing),
        Ok(Some(meta)) => Some(SecretState::Version(
            meta.metadata.resource_version.unwrap_or_default(),
        )),
        Err(err) if is_status(&err, 403) => Some(SecretState::Forbidden),
        Err(_) => None,
    }
}

/// One read of a link's credentials.
#[derive(Debug)]
pub struct Read {
    pub result: Result<Credentials, CredentialError>,
    /// `None` when the link names no Secret or the read failed for another reason.
    pub state: Option<SecretState>,
}

/// Reads the credentials a link asks for. `secret_name` is `spec.credentials.secretRef.name`;
/// the Secret is read from the link's namespace only.
pub async fn read(client: &Client, namespace: &str, secret_name: Option<&str>) -> Read {
    let Some(name) = secret_name else {
        return Read {
            result: Ok(Credentials::Default),
            state: None,
        };
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let (namespace, name) = (namespace.to_string(), name.to_string());
    match api.get_opt(&name).await {
        Ok(None) => Read {
            result: Err(CredentialError::NotFound { namespace, name }),
            state: Some(SecretState::Missing),
        },
        Ok(Some(secret)) => {
            let state =
                SecretState::Version(secret.metadata.resource_version.clone().unwrap_or_default());
            Read {
                result: from_secret_data(&secret).map_err(|problem| CredentialError::Invalid {
                    namespace,
                    name,
                    problem,
                }),
                state: Some(state),
            }
        }
        // The API server's own text names the ServiceAccount and reads like a chart bug;
        // the error says what to change instead.
        Err(err) if is_status(&err, 403) => Read {
            result: Err(CredentialError::Forbidden { namespace, name }),
            state: Some(SecretState::Forbidden),
        },
        Err(source) => Read {
            result: Err(CredentialError::Kube {
                namespace,
                name,
                source,
            }),
            state: None,
        },
    }
}

/// [`read`] without the state, for callers that do not track rotation.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    secret_name: Option<&str>,
) -> Result<Credentials, CredentialError> {
    read(client, namespace, secret_name).await.result
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(entries: &[(&str, &[u8])]) -> Secret {
        let data: BTreeMap<String, ByteString> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
            .collect();
        Secret {
            data: Some(data),
            ..Default::default()
        }
    }

    #[test]
    fn reads_the_three_keys_trimmed() {
        let s = secret(&[
            (TENANT_ID_KEY, b"tenant\n"),
            (CLIENT_ID_KEY, b" client "),
            (CLIENT_SECRET_KEY, b"hunter2\n"),
        ]);
        assert_eq!(
            from_secret_data(&s).unwrap(),
            Credentials::ClientSecret {
                tenant_id: "tenant".into(),
                client_id: "client".into(),
                client_secret: "hunter2".into(),
            }
        );
    }

    #[test]
    fn names_missing_keys_without_values() {
        let s = secret(&[(CLIENT_SECRET_KEY, b"hunter2"), (CLIENT_ID_KEY, b"  ")]);
        let problem = from_secret_data(&s).unwrap_err();
        assert!(
            problem.contains(TENANT_ID_KEY) && problem.contains(CLIENT_ID_KEY),
            "{problem}"
        );
        assert!(!problem.contains("hunter2"));
        let problem = from_secret_data(&Secret::default()).unwrap_err();
        assert!(problem.contains(CLIENT_SECRET_KEY));
        let s = secret(&[
            (TENANT_ID_KEY, b"t"),
            (CLIENT_ID_KEY, b"c"),
            (CLIENT_SECRET_KEY, &[0xff, 0xfe]),
        ]);
        assert!(from_secret_data(&s).unwrap_err().contains("not UTF-8"));
    }
}
