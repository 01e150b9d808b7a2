//! Which identity apilink uses, turned into an `azure_identity` credential.
//!
//! Every credential gets the same HTTP transport as ARM (so the configured CA is
//! trusted for the token endpoint too), the configured authority host, and a short
//! retry policy: the crate's default retries an unreachable or untrusted token
//! endpoint for about 80 s before failing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

use crate::config::CloudConfig;
use crate::error::AzureError;
use crate::tls;

pub const ENV_CLIENT_ID: &str = "AZURE_CLIENT_ID";
pub const ENV_TENANT_ID: &str = "AZURE_TENANT_ID";
pub const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
pub const ENV_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
pub const ENV_IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
pub const ENV_IDENTITY_HEADER: &str = "IDENTITY_HEADER";
pub const ENV_MSI_ENDPOINT: &str = "MSI_ENDPOINT";

/// How to authenticate. `Debug` never shows a secret (`Secret` redacts itself).
#[derive(Debug, Clone)]
pub enum CredentialConfig {
    /// AKS workload identity; `None` fields come from `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID` and `AZURE_FEDERATED_TOKEN_FILE` (the file must exist when
    /// the credential is built; the crate re-reads it about every 10 minutes).
    WorkloadIdentity {
        tenant_id: Option<String>,
        client_id: Option<String>,
        token_file: Option<PathBuf>,
    },
    /// Managed identity (App Service style `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, else
    /// IMDS). `client_id` selects a user-assigned identity.
    ManagedIdentity { client_id: Option<String> },
    /// A service principal secret given explicitly (e.g. read from a Kubernetes Secret).
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret: Secret,
    },
    /// A federated client assertion (JWT) read from a file, re-read as it rotates.
    ClientAssertionFile {
        tenant_id: String,
        client_id: String,
        assertion_file: PathBuf,
    },
    /// The signed-in Azure CLI (local runs).
    AzureCli { tenant_id: Option<String> },
    /// Picks one of the above from the environment, see [`resolve_auto`].
    Auto,
}

/// The concrete choice `Auto` makes, in this order: workload identity when a federated
/// token file is configured; a client secret from `AZURE_CLIENT_SECRET` with
/// `AZURE_CLIENT_ID`/`AZURE_TENANT_ID`; managed identity when an App Service style
/// endpoint is present; the Azure CLI when `az` is on the `PATH`; otherwise managed
/// identity through IMDS (a VM or a node identity).
pub fn resolve_auto(get: impl Fn(&str) -> Option<String>, az_on_path: bool) -> CredentialConfig {
    let client_id = get(ENV_CLIENT_ID);
    let tenant_id = get(ENV_TENANT_ID);
    if get(ENV_FEDERATED_TOKEN_FILE).is_some() {
        return CredentialConfig::WorkloadIdentity {
            tenant_id,
            client_id,
            token_file: None,
        };
    }
    if let (Some(secret), Some(client_id), Some(tenant_id)) =
        (get(ENV_CLIENT_SECRET), client_id.clone(), tenant_id.clone())
    {
        return CredentialConfig::ClientSecret {
            tenant_id,
            client_id,
            secret: Secret::new(secret),
        };
    }
    let app_service = get(ENV_IDENTITY_ENDPOINT).is_some() && get(ENV_IDENTITY_HEADER).is_some();
    if app_service || get(ENV_MSI_ENDPOINT).is_some() {
        return CredentialConfig::ManagedIdentity { client_id };
    }
    if az_on_path {
        return CredentialConfig::AzureCli { tenant_id };
    }
    CredentialConfig::ManagedIdentity { client_id }
}

/// [`resolve_auto`] from this process's environment and `PATH`.
fn resolve_auto_here() -> CredentialConfig {
    resolve_auto(
        |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
        az_on_path(),
    )
}

fn az_on_path() -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_file(&dir.join("az")) || is_file(&dir.join("az.cmd")))
}

fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}

/// The short retry policy for token requests (see the module docs).
fn token_retry() -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: azure_core::time::Duration::milliseconds(250),
        max_retries: 3,
        max_total_elapsed: azure_core::time::Duration::seconds(20),
        max_delay: azure_core::time::Duration::seconds(4),
    })
}

fn client_options(cloud: &CloudConfig) -> Result<ClientOptions, AzureError> {
    cloud.validate()?;
    let http = tls::http_client(cloud.ca_file.as_deref(), Duration::from_secs(30))?;
    let mut custom = CustomConfiguration::default();
    custom.authority_host = cloud
        .authority_host
        .as_str()
        .trim_end_matches('/')
        .to_string();
    Ok(ClientOptions {
        retry: token_retry(),
        transport: Some(Transport::new(Arc::new(http))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
        ..Default::default()
    })
}

fn invalid(what: &str, err: azure_core::Error) -> AzureError {
    AzureError::InvalidInput(format!("{what}: {err}"))
}

/// Builds the credential for `config` in `cloud`.
pub fn build_credential(
    config: &CredentialConfig,
    cloud: &CloudConfig,
) -> Result<Arc<dyn TokenCredential>, AzureError> {
    let chosen;
    let config = match config {
        CredentialConfig::Auto => {
            chosen = resolve_auto_here();
            tracing::info!(
                credential = credential_kind(&chosen),
                "chose a credential from the environment"
            );
            &chosen
        }
        other => other,
    };
    let client_options = client_options(cloud)?;
    let credential: Arc<dyn TokenCredential> = match config {
        CredentialConfig::WorkloadIdentity {
            tenant_id,
            client_id,
            token_file,
        } => WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions { client_options },
            client_id: client_id.clone(),
            tenant_id: tenant_id.clone(),
            token_file_path: token_file.clone(),
        }))
        .map_err(|e| invalid("workload identity", e))?,
        CredentialConfig::ClientAssertionFile {
            tenant_id,
            client_id,
            assertion_file,
        } => WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions { client_options },
            client_id: Some(client_id.clone()),
            tenant_id: Some(tenant_id.clone()),
            token_file_path: Some(assertion_file.clone()),
        }))
        .map_err(|e| invalid("client assertion file", e))?,
        CredentialConfig::ManagedIdentity { client_id } => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            }))
            .map_err(|e| invalid("managed identity", e))?
        }
        CredentialConfig::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => ClientSecretCredential::new(
            tenant_id,
            client_id.clone(),
            secret.clone(),
            Some(ClientSecretCredentialOptions { client_options }),
        )
        .map_err(|e| invalid("client secret", e))?,
        CredentialConfig::AzureCli { tenant_id } => {
            AzureCliCredential::new(Some(AzureCliCredentialOptions {
                tenant_id: tenant_id.clone(),
                ..Default::default()
            }))
            .map_err(|e| invalid("Azure CLI", e))?
        }
        CredentialConfig::Auto => {
            return Err(AzureError::InvalidInput(
                "the automatic credential choice did not resolve".into(),
            ));
        }
    };
    Ok(credential)
}

/// A short name of the credential kind, for logs and status messages.
pub fn credential_kind(config: &CredentialConfig) -> &'static str {
    match config {
        CredentialConfig::WorkloadIdentity { .. } => "WorkloadIdentity",
        CredentialConfig::ManagedIdentity { .. } => "ManagedIdentity",
        CredentialConfig::ClientSecret { .. } => "ClientSecret",
        CredentialConfig::ClientAssertionFile { .. } => "ClientAssertionFile",
        CredentialConfig::AzureCli { .. } => "AzureCli",
        CredentialConfig::Auto => "Auto",
    }
}

/// Which credential `config` uses on this machine: for `Auto`, the one
/// [`resolve_auto`] picks from this process's environment (as [`build_credential`]
/// does), named as [`credential_kind`] names it.
pub fn resolved_credential_kind(config: &CredentialConfig) -> &'static str {
    match config {
        CredentialConfig::Auto => credential_kind(&resolve_auto_here()),
        other => credential_kind(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_env::vars;

    #[test]
    fn auto_prefers_workload_identity() {
        let chosen = resolve_auto(
            vars(&[
                (ENV_FEDERATED_TOKEN_FILE, "/var/run/token"),
                (ENV_CLIENT_ID, "c"),
                (ENV_TENANT_ID, "t"),
                (ENV_CLIENT_SECRET, "s"),
            ]),
            true,
        );
        assert!(
            matches!(chosen, CredentialConfig::WorkloadIdentity { .. }),
            "{chosen:?}"
        );
    }

    #[test]
    fn auto_then_secret_then_managed_identity_then_cli() {
        let secret = resolve_auto(
            vars(&[
                (ENV_CLIENT_ID, "c"),
                (ENV_TENANT_ID, "t"),
                (ENV_CLIENT_SECRET, "s"),
            ]),
            true,
        );
        assert!(matches!(secret, CredentialConfig::ClientSecret { .. }));
        let app_service = resolve_auto(
            vars(&[
                (ENV_IDENTITY_ENDPOINT, "http://127.0.0.1:1/msi"),
                (ENV_IDENTITY_HEADER, "h"),
            ]),
            true,
        );
        assert!(matches!(
            app_service,
            CredentialConfig::ManagedIdentity { client_id: None }
        ));
        let cli = resolve_auto(vars(&[(ENV_TENANT_ID, "t")]), true);
        assert!(
            matches!(&cli, CredentialConfig::AzureCli { tenant_id: Some(t) } if t == "t"),
            "{cli:?}"
        );
        let imds = resolve_auto(vars(&[(ENV_CLIENT_ID, "uami")]), false);
        assert!(
            matches!(&imds, CredentialConfig::ManagedIdentity { client_id: Some(c) } if c == "uami"),
            "{imds:?}"
        );
    }

    #[test]
    fn explicit_credentials_name_themselves() {
        let secret = CredentialConfig::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            secret: Secret::new("s"),
        };
        assert_eq!(resolved_credential_kind(&secret), "ClientSecret");
        assert_eq!(
            resolved_credential_kind(&CredentialConfig::AzureCli { tenant_id: None }),
            "AzureCli"
        );
        // Auto always resolves to a concrete credential.
        assert_ne!(resolved_credential_kind(&CredentialConfig::Auto), "Auto");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let config = CredentialConfig::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            secret: Secret::new("hunter2-very-secret"),
        };
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("ClientSecret"));
    }

    #[test]
    fn bad_inputs_fail_at_build_time() {
        let cloud = CloudConfig::public();
        let missing_file = CredentialConfig::ClientAssertionFile {
            tenant_id: "00000000-0000-0000-0000-0000000000e1".into(),
            client_id: "c".into(),
            assertion_file: "/nonexistent/token".into(),
        };
        let err = build_credential(&missing_file, &cloud).unwrap_err();
        assert!(err.to_string().contains("client assertion file"), "{err}");
        let bad_tenant = CredentialConfig::ClientSecret {
            tenant_id: "not a tenant!".into(),
            client_id: "c".into(),
            secret: Secret::new("s"),
        };
        assert!(build_credential(&bad_tenant, &cloud).is_err());
    }
}
