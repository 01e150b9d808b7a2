//! The controller's [`LinkRunner`] over the sync engine: the binary is where the
//! Kubernetes side and the Azure side meet, so neither crate depends on the other.
//!
//! One ARM client is kept per identity (the pod's own, or one per Secret content) so
//! token caches and throttle pacing survive from pass to pass; a rotated Secret gets a
//! new client because its content is part of the key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use apilink_azure::{
    ArmObserver, CloudConfig, CredentialConfig, build_credential, resolved_credential_kind,
    token_identity,
};
use apilink_controller::Metrics;
use apilink_controller::runner::{
    CheckReport, CleanupOutcome, CleanupRequest, Credentials, LinkRunner, PreflightRequest,
    SyncOutcome, SyncRequest,
};
use apilink_core::ErrorClass;
use apilink_core::outcome::RunError;
use apilink_engine::{AzureClients, Caller, Engine, EngineOptions};
use azure_core::credentials::TokenCredential;
use sha2::{Digest, Sha256};

use crate::arm_metrics::ArmMetrics;
use crate::azure_args::{arm_engine, portal_for};

/// Reason of credentials that cannot be turned into a token source.
const INVALID_CREDENTIALS: &str = "InvalidCredentials";

/// Engine settings every link shares.
#[derive(Clone)]
pub struct EngineRunnerConfig {
    pub cloud: CloudConfig,
    /// APIs one pass works on at once.
    pub concurrency: usize,
    /// Azure portal base URL for environment management links (`None`: left out).
    pub portal_base: Option<String>,
    /// Receives every ARM answer and throttle wait (the controller's metrics).
    pub observer: Option<Arc<dyn ArmObserver>>,
}

/// Runs passes and cleanups with the engine, one ARM client per identity.
pub struct EngineRunner {
    config: EngineRunnerConfig,
    engines: Mutex<HashMap<String, Arc<IdentityEngine>>>,
}

/// One identity's engine, and its credential for the preflight's token check.
struct IdentityEngine {
    engine: Engine<AzureClients>,
    credential: Arc<dyn TokenCredential>,
    credential_kind: &'static str,
}

/// The runner `apilink controller` uses: cloud settings from the environment the chart
/// sets (`AZURE_CLOUD`, `AZURE_RESOURCE_MANAGER_ENDPOINT`, `AZURE_AUTHORITY_HOST`,
/// `AZURE_RESOURCE_MANAGER_AUDIENCE`, `SSL_CERT_FILE`, `APILINK_PORTAL_URL`), Azure
/// requests reported into the controller's metrics.
pub fn from_environment(metrics: &Metrics) -> anyhow::Result<EngineRunner> {
    let cloud = CloudConfig::from_env().context("Azure cloud settings")?;
    let portal_base = std::env::var("APILINK_PORTAL_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| portal_for(&cloud));
    let concurrency = std::env::var("APILINK_ENGINE_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(EngineOptions::default().concurrency);
    let observer: Arc<dyn ArmObserver> = Arc::new(ArmMetrics(metrics.clone()));
    Ok(EngineRunner::new(EngineRunnerConfig {
        cloud,
        concurrency,
        portal_base,
        observer: Some(observer),
    }))
}

impl EngineRunner {
    pub fn new(config: EngineRunnerConfig) -> Self {
        Self {
            config,
            engines: Mutex::new(HashMap::new()),
        }
    }

    /// The engine for these credentials, built on first use.
    fn engine(&self, credentials: &Credentials) -> Result<Arc<IdentityEngine>, RunError> {
        let key = identity_key(credentials);
        let mut engines = self.engines.lock().map_err(|_| {
            RunError::new(
                ErrorClass::RetryFast,
                "InternalError",
                "engine cache poisoned",
            )
        })?;
        if let Some(engine) = engines.get(&key) {
            return Ok(engine.clone());
        }
        let config = credential_config(credentials);
        let credential = build_credential(&config, &self.config.cloud).map_err(|e| {
            RunError::new(
                ErrorClass::NeedsUser,
                INVALID_CREDENTIALS,
                format!("Azure credentials: {e}"),
            )
        })?;
        let options = EngineOptions {
            concurrency: self.config.concurrency.max(1),
            portal_base: self.config.portal_base.clone(),
            ..EngineOptions::default()
        };
        let engine = arm_engine(
            &self.config.cloud,
            credential.clone(),
            self.config.observer.clone(),
            options,
        )
        .map_err(|e| RunError::new(e.class(), e.reason(), format!("ARM client: {e}")))?;
        let engine = Arc::new(IdentityEngine {
            engine,
            credential,
            credential_kind: resolved_credential_kind(&config),
        });
        // A rotated Secret leaves its old client behind; keep the map from growing.
        if engines.len() >= 64 {
            engines.clear();
        }
        engines.insert(key, engine.clone());
        Ok(engine)
    }
}

/// A key naming an identity without holding its secret in clear.
fn identity_key(credentials: &Credentials) -> String {
    match credentials {
        Credentials::Default => "default".to_string(),
        Credentials::ClientSecret {
            tenant_id,
            client_id,
            client_secret,
        } => {
            let digest = Sha256::digest(client_secret.as_bytes());
            format!(
                "secret/{tenant_id}/{client_id}/{}",
                hex::encode(&digest[..8])
            )
        }
    }
}

fn credential_config(credentials: &Credentials) -> CredentialConfig {
    match credentials {
        Credentials::Default => CredentialConfig::Auto,
        Credentials::ClientSecret {
            tenant_id,
            client_id,
            client_secret,
        } => CredentialConfig::ClientSecret {
            tenant_id: tenant_id.clone(),
            client_id: client_id.clone(),
            secret: client_secret.clone().into(),
        },
    }
}

impl LinkRunner for EngineRunner {
    async fn sync(&self, req: SyncRequest) -> Result<SyncOutcome, RunError> {
        let engine = self.engine(&req.credentials)?;
        let report = engine
            .engine
            .sync_pass(&req.settings, req.coverage())
            .await?;
        Ok(report.outcome())
    }

    async fn preflight(&self, req: PreflightRequest) -> Result<CheckReport, RunError> {
        let identity = self.engine(&req.credentials)?;
        let caller = Caller {
            credential: identity.credential_kind.to_string(),
            identity: token_identity(&identity.credential, &self.config.cloud).await,
        };
        let outcome = identity
            .engine
            .preflight(&req.settings, &caller, SystemTime::now())
            .await;
        match outcome.transient {
            Some(error) => Err(error.into()),
            None => Ok(outcome.report),
        }
    }

    async fn cleanup(&self, req: CleanupRequest) -> Result<CleanupOutcome, RunError> {
        let engine = self.engine(&req.credentials)?;
        let report = engine.engine.cleanup(&req.settings, false).await?;
        Ok(report.cleanup_outcome())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identity_keys_hide_the_secret_and_change_when_it_rotates() {
        let a = Credentials::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: "first-secret".into(),
        };
        let b = Credentials::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: "second-secret".into(),
        };
        let (ka, kb) = (identity_key(&a), identity_key(&b));
        assert_ne!(ka, kb);
        assert!(!ka.contains("first-secret"));
        assert_eq!(identity_key(&Credentials::Default), "default");
    }

    #[test]
    fn a_rotated_secret_gets_its_own_client_on_the_next_pass() {
        // The controller reads the Secret at every pass; the runner must not keep using
        // the client (and token cache) built from the old value.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let runner = EngineRunner::new(EngineRunnerConfig {
            cloud: CloudConfig::public(),
            concurrency: 1,
            portal_base: None,
            observer: None,
        });
        let secret = |value: &str| Credentials::ClientSecret {
            tenant_id: "00000000-0000-0000-0000-0000000000e1".into(),
            client_id: "00000000-0000-0000-0000-0000000000c1".into(),
            client_secret: value.into(),
        };
        let first = runner.engine(&secret("first-secret")).unwrap();
        let again = runner.engine(&secret("first-secret")).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "same Secret, same client");
        let rotated = runner.engine(&secret("second-secret")).unwrap();
        assert!(!Arc::ptr_eq(&first, &rotated), "rotated Secret, new client");
    }
}
