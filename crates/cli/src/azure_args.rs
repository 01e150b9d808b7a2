//! Cloud, CA and credential flags shared by `sync`, `plan` and `delete`, each with the
//! environment variable a platform team already sets for Azure tools.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use apilink_azure::config::{
    ENV_ARM_AUDIENCE, ENV_ARM_ENDPOINT, ENV_AUTHORITY_HOST, ENV_CLOUD, ENV_STORAGE_HOST_SUFFIX,
};
use apilink_azure::{
    ArmClient, ArmClientOptions, ArmObserver, AzureError, CloudConfig, CredentialConfig,
    build_credential, resolved_credential_kind, token_identity,
};
use apilink_engine::{
    AzureClients, Caller, Engine, EngineOptions, PUBLIC_PORTAL, Progress, WriteBudget,
};
use azure_core::credentials::TokenCredential;

/// The Azure portal of a known cloud, for the environment's management portal link.
pub fn portal_for(cloud: &CloudConfig) -> Option<String> {
    match cloud.arm_endpoint.host_str()? {
        "management.azure.com" => Some(PUBLIC_PORTAL.into()),
        "management.usgovcloudapi.net" => Some("https://portal.azure.us".into()),
        "management.chinacloudapi.cn" => Some("https://portal.azure.cn".into()),
        _ => None,
    }
}

/// How to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CredentialKind {
    /// Workload identity, then a client secret from the environment, then managed
    /// identity (App Service style), then the Azure CLI, then IMDS.
    Auto,
    /// The signed-in Azure CLI (`az login`).
    AzureCli,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET.
    ClientSecret,
    /// A managed identity (AZURE_CLIENT_ID selects a user-assigned one).
    ManagedIdentity,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
}

/// Most APIs worked on at once: the ARM client runs twice as many requests, and more
/// than this only trades throughput for throttling (ARM refills 25 reads/s).
const MAX_CONCURRENCY: u64 = 1024;

/// A write rate: a finite number above zero (zero would never write, and a negative or
/// NaN rate has no meaning).
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        Ok(_) => Err("must be a number above 0".into()),
        Err(e) => Err(format!("not a number: {e}")),
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct AzureArgs {
    /// Cloud preset: public, usgovernment or china.
    #[arg(long, env = ENV_CLOUD, value_name = "NAME")]
    pub cloud: Option<String>,
    /// ARM endpoint, e.g. for Azure Stack or the emulator.
    #[arg(long, env = ENV_ARM_ENDPOINT, value_name = "URL")]
    pub arm_endpoint: Option<String>,
    /// Entra ID authority host.
    #[arg(long, env = ENV_AUTHORITY_HOST, value_name = "URL")]
    pub authority_host: Option<String>,
    /// Token audience (default: the ARM endpoint's).
    #[arg(long, env = ENV_ARM_AUDIENCE, value_name = "URI")]
    pub audience: Option<String>,
    /// Export links are only followed to this storage host or its subdomains (default:
    /// the cloud's blob storage, e.g. blob.core.windows.net; with a custom ARM endpoint,
    /// that endpoint's host).
    #[arg(long, env = ENV_STORAGE_HOST_SUFFIX, value_name = "HOST")]
    pub storage_host_suffix: Option<String>,
    /// Extra PEM CA bundle to trust (ARM, token endpoint, export links).
    #[arg(long, env = "SSL_CERT_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub credential: CredentialKind,
    /// APIs worked on at once (1-1024): a bound on memory; the pace of ARM calls follows
    /// ARM's budget whatever it is.
    #[arg(
        long,
        default_value_t = 256,
        value_name = "N",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_CONCURRENCY)
    )]
    pub concurrency: usize,
    /// Space writes to at most this many per second (ARM refills 10 writes/s); > 0.
    #[arg(long, value_name = "RATE", value_parser = positive_rate)]
    pub writes_per_second: Option<f64>,
    /// Stop writing after this many writes (at least 1); the next pass carries on.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub max_writes: Option<u64>,
    /// Azure portal base URL for the environment's management portal link
    /// (default: derived from the cloud).
    #[arg(long, value_name = "URL")]
    pub portal: Option<String>,
}

impl AzureArgs {
    pub fn cloud(&self) -> anyhow::Result<CloudConfig> {
        let mut cloud = CloudConfig::from_vars(|name| {
            let value = match name {
                ENV_CLOUD => self.cloud.clone(),
                ENV_ARM_ENDPOINT => self.arm_endpoint.clone(),
                ENV_AUTHORITY_HOST => self.authority_host.clone(),
                ENV_ARM_AUDIENCE => self.audience.clone(),
                ENV_STORAGE_HOST_SUFFIX => self.storage_host_suffix.clone(),
                _ => None,
            };
            value.filter(|v| !v.trim().is_empty())
        })
        .context("cloud settings")?;
        if let Some(ca) = &self.ca_file {
            cloud = cloud.with_ca_file(ca);
        }
        Ok(cloud)
    }

    fn credential_config(&self) -> CredentialConfig {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match self.credential {
            CredentialKind::Auto => CredentialConfig::Auto,
            CredentialKind::AzureCli => CredentialConfig::AzureCli {
                tenant_id: env("AZURE_TENANT_ID"),
            },
            CredentialKind::ClientSecret => CredentialConfig::ClientSecret {
                tenant_id: env("AZURE_TENANT_ID").unwrap_or_default(),
                client_id: env("AZURE_CLIENT_ID").unwrap_or_default(),
                secret: env("AZURE_CLIENT_SECRET").unwrap_or_default().into(),
            },
            CredentialKind::ManagedIdentity => CredentialConfig::ManagedIdentity {
                client_id: env("AZURE_CLIENT_ID"),
            },
            CredentialKind::WorkloadIdentity => CredentialConfig::WorkloadIdentity {
                tenant_id: None,
                client_id: None,
                token_file: None,
            },
        }
    }

    /// The portal the environment's management link points into.
    fn portal_base(&self, cloud: &CloudConfig) -> Option<String> {
        self.portal.clone().or_else(|| portal_for(cloud))
    }

    fn options(&self, cloud: &CloudConfig, progress: Option<Arc<dyn Progress>>) -> EngineOptions {
        EngineOptions {
            concurrency: self.concurrency.max(1),
            write_budget: WriteBudget {
                max_writes_per_pass: self.max_writes,
                writes_per_second: self.writes_per_second,
            },
            portal_base: self.portal_base(cloud),
            progress,
            ..EngineOptions::default()
        }
    }

    /// An engine over ARM with these settings.
    pub fn engine(
        &self,
        progress: Option<Arc<dyn Progress>>,
    ) -> anyhow::Result<Engine<AzureClients>> {
        let cloud = self.cloud()?;
        let credential =
            build_credential(&self.credential_config(), &cloud).context("Azure credentials")?;
        arm_engine(&cloud, credential, None, self.options(&cloud, progress)).context("ARM client")
    }

    /// An engine, and who it calls Azure as (for the preflight: the token is asked for
    /// once here, and only its claims are kept).
    pub async fn engine_and_caller(
        &self,
        progress: Option<Arc<dyn Progress>>,
    ) -> anyhow::Result<(Engine<AzureClients>, Caller)> {
        let cloud = self.cloud()?;
        let config = self.credential_config();
        let credential = build_credential(&config, &cloud).context("Azure credentials")?;
        let caller = Caller {
            credential: resolved_credential_kind(&config).to_string(),
            identity: token_identity(&credential, &cloud).await,
        };
        let engine = arm_engine(&cloud, credential, None, self.options(&cloud, progress))
            .context("ARM client")?;
        Ok((engine, caller))
    }
}

/// An engine over one ARM client (one identity) working on `options.concurrency` APIs
/// at once, the client adapting the requests in flight to ARM up to its default ceiling:
/// the one recipe shared by the CLI and the controller.
pub fn arm_engine(
    cloud: &CloudConfig,
    credential: Arc<dyn TokenCredential>,
    observer: Option<Arc<dyn ArmObserver>>,
    options: EngineOptions,
) -> Result<Engine<AzureClients>, AzureError> {
    let arm = ArmClient::new(
        cloud,
        credential,
        ArmClientOptions {
            request_timeout: Duration::from_secs(60),
            observer,
            ..ArmClientOptions::default()
        },
    )?;
    Ok(Engine::new(AzureClients::new(arm), options))
}
