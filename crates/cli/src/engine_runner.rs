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
    ArmObserver, CloudConfig, CredentialConfig, ErrorClass, build_credential,
    resolved_credential_kind, token_identity,
};
use apilink_controller::Metrics;
use apilink_controller::runner::{
    ApiFailure, CheckReport, CleanupOutcome, CleanupRequest, Credentials, HeldDeletions,
    LinkRunner, OperationCounts, PassMode, PreflightRequest, RunError, SyncOutcome, SyncRequest,
};
use apilink_core::LinkId;
use apilink_core::LinkSettings;
use apilink_core::spec::LinkSpec;
use apilink_engine::{AzureClients, Caller, Engine, EngineOptions, PassError, PassReport};
use azure_core::credentials::TokenCredential;
use sha2::{Digest, Sha256};

use crate::azure_args::{arm_engine, portal_for};

/// Reason of a spec the CRD accepted but the engine cannot use.
const INVALID_SPEC: &str = "InvalidSpec";
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
    let observer: Arc<dyn ArmObserver> = Arc::new(metrics.clone());
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

fn settings(link: &LinkId, spec: &LinkSpec) -> Result<LinkSettings, RunError> {
    spec.settings(link.clone())
        .map_err(|e| RunError::new(ErrorClass::NeedsUser, INVALID_SPEC, e.to_string()))
}

fn engine_mode(mode: PassMode) -> apilink_engine::PassMode {
    match mode {
        PassMode::Light => apilink_engine::PassMode::Light,
        PassMode::Full => apilink_engine::PassMode::Full,
    }
}

fn run_error(error: PassError) -> RunError {
    RunError {
        class: error.class,
        reason: error.reason,
        message: error.message,
        retry_after: error.retry_after,
    }
}

/// Writes done and writes failed, by (entity, action).
fn operation_counts(report: &PassReport) -> (OperationCounts, OperationCounts) {
    let mut applied = OperationCounts::new();
    let mut failed = OperationCounts::new();
    for row in &report.operations {
        let key = (
            row.entity.as_str().to_string(),
            row.action.as_str().to_string(),
        );
        if row.counts.written > 0 {
            *applied.entry(key.clone()).or_default() += count(row.counts.written);
        }
        if row.counts.failed > 0 {
            *failed.entry(key).or_default() += count(row.counts.failed);
        }
    }
    (applied, failed)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn sync_outcome(report: &PassReport) -> SyncOutcome {
    let (applied, failed) = operation_counts(report);
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    // A successful pass fails only in ways confined to single APIs.
    let api_failures = report
        .failures
        .iter()
        .map(|f| ApiFailure {
            api: f.api.clone().unwrap_or_default(),
            reason: f.reason.clone(),
            message: f.message.clone(),
        })
        .collect();
    SyncOutcome {
        discovered: count(report.apis.discovered),
        synced: count(report.apis.synced),
        skipped: count(report.apis.skipped),
        applied,
        failed,
        drift_repaired: count(report.drift.len()),
        warnings,
        held_deletions: report.held_deletions.as_ref().map(|held| HeldDeletions {
            count: count(held.count()),
            apis: held.apis.clone(),
            message: held.to_string(),
        }),
        api_failures,
        paused_apis: report.paused_apis.clone(),
    }
}

impl LinkRunner for EngineRunner {
    async fn sync(&self, req: SyncRequest) -> Result<SyncOutcome, RunError> {
        let mut settings = settings(&req.link, &req.spec)?;
        settings.confirmed_deletions = req.confirmed_deletions;
        settings.paused_apis = req.paused_apis;
        let engine = self.engine(&req.credentials)?;
        let report = engine
            .engine
            .sync_pass(&settings, engine_mode(req.mode))
            .await
            .map_err(run_error)?;
        Ok(sync_outcome(&report))
    }

    async fn preflight(&self, req: PreflightRequest) -> Result<CheckReport, RunError> {
        let settings = settings(&req.link, &req.spec)?;
        let identity = self.engine(&req.credentials)?;
        let caller = Caller {
            credential: identity.credential_kind.to_string(),
            identity: token_identity(&identity.credential, &self.config.cloud).await,
        };
        let outcome = identity
            .engine
            .preflight(&settings, &caller, SystemTime::now())
            .await;
        match outcome.transient {
            Some(error) => Err(run_error(error)),
            None => Ok(outcome.report),
        }
    }

    async fn cleanup(&self, req: CleanupRequest) -> Result<CleanupOutcome, RunError> {
        let settings = settings(&req.link, &req.spec)?;
        let engine = self.engine(&req.credentials)?;
        let report = engine
            .engine
            .cleanup(&settings, false)
            .await
            .map_err(run_error)?;
        let (applied, _) = operation_counts(&report);
        Ok(CleanupOutcome {
            applied,
            warnings: report.warnings.iter().map(ToString::to_string).collect(),
        })
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

    #[test]
    fn an_unusable_spec_is_a_user_error_that_stalls() {
        let spec: LinkSpec = serde_json::from_value(serde_json::json!({
            "source": {"apimResourceId": "/not/an/arm/id"},
            "target": {"apiCenterResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c"}
        }))
        .unwrap();
        let error = settings(&LinkId::namespaced("ns", "link").unwrap(), &spec).unwrap_err();
        assert_eq!(error.class, ErrorClass::NeedsUser);
        assert_eq!(error.reason, INVALID_SPEC);
        assert!(error.is_terminal());
        assert!(
            error.message.contains("apimResourceId"),
            "{}",
            error.message
        );
    }
}
