//! Azure credentials of a link: the pod's workload identity by default, or a Secret in
//! the link's own namespace with the keys ASO users know. Values are never logged.

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

/// Resolves the credentials a link asks for. `secret_name` is `spec.credentials.secretRef.name`;
/// the Secret is read from the link's namespace only.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    secret_name: Option<&str>,
) -> Result<Credentials, CredentialError> {
    let Some(name) = secret_name else {
        return Ok(Credentials::Default);
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|source| CredentialError::Kube {
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        })?
        .ok_or_else(|| CredentialError::NotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?;
    from_secret_data(&secret).map_err(|problem| CredentialError::Invalid {
        namespace: namespace.to_string(),
        name: name.to_string(),
        problem,
    })
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
