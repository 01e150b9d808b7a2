//! Starting an emulator and the handle tests hold while it runs.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::apic::{ApiCenter, ApicLimits, ApicOptions, LinkFetcher};
use crate::apim::{self, ApimContext, ApimHandle, ApimStore};
use crate::calls::{CallLog, CallRecord};
use crate::config::{ApicContract, EmulatorConfig};
use crate::error::EmulatorError;
use crate::faults::{FaultRule, FaultSet};
use crate::front::{Front, Routers, Shared};
use crate::identity::{self, FederatedTokenClaims, Identity};
use crate::links::{self, ExportLinks};
use crate::throttle::Throttle;
use crate::{server, tls};

/// A running emulator. Dropping it (or [`Emulator::shutdown`]) stops the listener and
/// closes every connection; the CA file is removed.
pub struct Emulator {
    shared: Arc<Shared>,
    apim: ApimHandle,
    addr: SocketAddr,
    origin: String,
    arm_endpoint: url::Url,
    managed_identity_endpoint: url::Url,
    tenant_id: String,
    subscription_id: String,
    resource_group: String,
    ca_pem: String,
    ca_file: tempfile::NamedTempFile,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

fn validate(config: &EmulatorConfig) -> Result<(), EmulatorError> {
    let bad = |m: &str| Err(EmulatorError::Config(m.to_string()));
    if config.apim_page_size == 0 || config.apic_page_size == 0 {
        return bad("page sizes must be at least 1");
    }
    if config.lro_polls_before_done == 0 {
        return bad("lro_polls_before_done must be at least 1");
    }
    if config.token_lifetime.is_zero() {
        return bad("token_lifetime must be positive");
    }
    if config.subscription_id.is_empty()
        || config.resource_group.is_empty()
        || config.tenant_id.is_empty()
    {
        return bad("subscription, resource group and tenant ids must not be empty");
    }
    for rule in &config.faults {
        if let Some(p) = rule.probability
            && !(0.0..=1.0).contains(&p)
        {
            return bad("fault probabilities must be within [0, 1]");
        }
    }
    Ok(())
}

/// Starts an emulator on `config.bind` (by default a free port on 127.0.0.1) and returns
/// once it accepts connections.
pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
    validate(&config)?;
    let bind_ip = config.bind.ip();
    let material = tls::generate(Some(bind_ip))?;
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: config.bind,
            source,
        })?;
    let host_ip = if bind_ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bind_ip
    };
    let authority = match host_ip {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    };
    let origin = format!("https://{authority}");
    let parse_url = |text: String| {
        url::Url::parse(&text)
            .map_err(|e| EmulatorError::Config(format!("bad endpoint URL {text}: {e}")))
    };
    let arm_endpoint = parse_url(format!("{origin}/"))?;
    let managed_identity_endpoint =
        parse_url(format!("{origin}{}", identity::MANAGED_IDENTITY_PATH))?;

    let identity = Arc::new(Identity::new(
        &config.tenant_id,
        config.principals.clone(),
        config.token_lifetime,
        &[origin.clone(), format!("https://localhost:{}", addr.port())],
    ));
    let store = Arc::new(ApimStore::new(
        &config.seed,
        &config.subscription_id,
        &config.resource_group,
    )?);
    let apim = ApimHandle::new(store.clone());
    let links = Arc::new(ExportLinks::new(config.export_link_ttl));
    let fetch_links = links.clone();
    let fetcher: LinkFetcher = Arc::new(move |link: &str| fetch_links.fetch(link));
    let apic = ApiCenter::new(
        ApicOptions {
            subscription_id: config.subscription_id.clone(),
            resource_group: config.resource_group.clone(),
            services: config.api_center_services.clone(),
            page_size: config.apic_page_size,
            lro_polls_before_done: config.lro_polls_before_done,
            contract: config.apic_contract,
            limits: ApicLimits::for_sku(config.api_center_sku),
            sku: config.api_center_sku,
            ..ApicOptions::default()
        },
        fetcher,
    );

    let shared = Arc::new(Shared {
        subscription_id: config.subscription_id.clone(),
        resource_group: config.resource_group.clone(),
        authority: authority.clone(),
        origin: format!("{origin}/"),
        identity: identity.clone(),
        faults: FaultSet::new(config.faults.clone()),
        calls: CallLog::default(),
        throttle: Throttle::new(config.throttle),
        apic: apic.clone(),
    });

    let mut ca_file = tempfile::Builder::new()
        .prefix("apilink-emulator-ca-")
        .suffix(".pem")
        .tempfile()
        .map_err(EmulatorError::CaFile)?;
    ca_file
        .write_all(material.ca_pem.as_bytes())
        .and_then(|()| ca_file.flush())
        .map_err(EmulatorError::CaFile)?;

    let info = json!({
        "armEndpoint": format!("{origin}/"),
        "authorityHost": format!("{origin}/"),
        "tenantId": config.tenant_id,
        "subscriptionId": config.subscription_id,
        "resourceGroup": config.resource_group,
        "caFile": ca_file.path().display().to_string(),
        "managedIdentityEndpoint": format!("{origin}{}", identity::MANAGED_IDENTITY_PATH),
        "apimServices": apim.service_names().iter().map(|s| store.service_id(s)).collect::<Vec<_>>(),
        "apiCenterServices": config.api_center_services.iter().map(|s| api_center_id(&config.subscription_id, &config.resource_group, s)).collect::<Vec<_>>(),
    });
    let routers = Routers {
        identity: identity::router(identity.clone()),
        blobs: links::router(links.clone()),
        apim: apim::router(Arc::new(ApimContext {
            store,
            links,
            page_size: config.apim_page_size,
        })),
        apic: apic.router(),
        admin: admin::router(Arc::new(AdminState {
            shared: shared.clone(),
            apim: apim.clone(),
            info,
        })),
    };
    let front = Arc::new(Front {
        shared: shared.clone(),
        routers,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(server::serve(
        listener,
        material.server_config,
        front,
        shutdown_rx,
    ));
    tracing::info!(%origin, "emulator listening");
    Ok(Emulator {
        shared,
        apim,
        addr,
        origin,
        arm_endpoint,
        managed_identity_endpoint,
        tenant_id: config.tenant_id,
        subscription_id: config.subscription_id,
        resource_group: config.resource_group,
        ca_pem: material.ca_pem,
        ca_file,
        shutdown,
        task: Some(task),
    })
}

fn api_center_id(subscription: &str, resource_group: &str, service: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.ApiCenter/services/{service}"
    )
}

impl Emulator {
    /// `https://127.0.0.1:{port}/`.
    pub fn arm_endpoint(&self) -> url::Url {
        self.arm_endpoint.clone()
    }

    /// The same origin; the token endpoint is `POST {authority_host}{tenant}/oauth2/v2.0/token`.
    pub fn authority_host(&self) -> url::Url {
        self.arm_endpoint.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn subscription_id(&self) -> &str {
        &self.subscription_id
    }

    pub fn resource_group(&self) -> &str {
        &self.resource_group
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA PEM written to a temporary file that lives as long as this handle.
    pub fn ca_file(&self) -> &std::path::Path {
        self.ca_file.path()
    }

    /// App-Service-style managed identity endpoint (`IDENTITY_ENDPOINT`).
    pub fn managed_identity_endpoint(&self) -> url::Url {
        self.managed_identity_endpoint.clone()
    }

    /// The value expected in `X-IDENTITY-HEADER` (`IDENTITY_HEADER`).
    pub fn identity_header(&self) -> &str {
        &self.shared.identity.identity_header
    }

    pub fn apim_resource_id(&self, service: &str) -> String {
        self.apim.resource_id(service)
    }

    pub fn api_center_resource_id(&self, service: &str) -> String {
        api_center_id(&self.subscription_id, &self.resource_group, service)
    }

    /// A signed service-account token (audience `api://AzureADTokenExchange`, valid one
    /// hour) that the token endpoint accepts as `client_assertion` for the principal whose
    /// federated subject is `subject`.
    pub fn mint_federated_token(&self, subject: &str) -> String {
        self.shared
            .identity
            .mint_federated(&FederatedTokenClaims::new(subject))
    }

    /// Like [`mint_federated_token`](Self::mint_federated_token) with any audience and
    /// lifetime, e.g. to test refusals.
    pub fn mint_federated_token_with(&self, claims: &FederatedTokenClaims) -> String {
        self.shared.identity.mint_federated(claims)
    }

    /// The issuer federated tokens carry (like a cluster's service-account issuer).
    pub fn federated_issuer(&self) -> &str {
        &self.shared.identity.federation_issuer
    }

    /// An ARM access token for a configured principal, without calling the token
    /// endpoint (for tests that are not about authentication).
    pub fn mint_access_token(&self, client_id: &str) -> Result<String, EmulatorError> {
        let principal = self
            .shared
            .identity
            .principal(client_id)
            .ok_or_else(|| EmulatorError::Config(format!("no principal '{client_id}'")))?;
        let (token, _) = self
            .shared
            .identity
            .issue_access_token(principal, self.origin.as_str());
        Ok(token)
    }

    /// Every request so far, in arrival order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.calls.all()
    }

    pub fn clear_calls(&self) {
        self.shared.calls.clear();
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults.add(rule);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Turns ARM throttling enforcement on or off at run time.
    pub fn set_throttling(&self, enabled: bool) {
        self.shared.throttle.set_enabled(enabled);
    }

    /// Changes how API Center reads its contract, for every request that starts after this
    /// call (e.g. a test that needs honoured preconditions).
    pub fn set_apic_contract(&self, contract: ApicContract) {
        self.shared.apic.set_contract(contract);
    }

    /// The contract API Center requests are read with now.
    pub fn apic_contract(&self) -> ApicContract {
        self.shared.apic.contract()
    }

    /// Changes APIM ("someone changed APIM").
    pub fn apim(&self) -> ApimHandle {
        self.apim.clone()
    }

    pub fn api_center(&self) -> Arc<ApiCenter> {
        self.shared.apic.clone()
    }

    /// Stops the listener, closes every connection and waits until that is done.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn handles_can_be_shared_across_tasks() {
        shareable::<Emulator>();
        shareable::<ApimHandle>();
        shareable::<Arc<ApiCenter>>();
    }

    #[tokio::test]
    async fn invalid_configurations_are_refused() {
        let zero_page = EmulatorConfig {
            apim_page_size: 0,
            ..EmulatorConfig::default()
        };
        assert!(matches!(
            start(zero_page).await,
            Err(EmulatorError::Config(_))
        ));
        let bad_probability = EmulatorConfig {
            faults: vec![FaultRule::throttle(1).probability(1.5)],
            ..EmulatorConfig::default()
        };
        assert!(matches!(
            start(bad_probability).await,
            Err(EmulatorError::Config(_))
        ));
        let mut bad_seed = EmulatorConfig::default();
        bad_seed.seed.services[0].apis[0].id = "bad;id".into();
        assert!(matches!(start(bad_seed).await, Err(EmulatorError::Apim(_))));
    }

    #[tokio::test]
    async fn the_ca_file_holds_the_ca_and_goes_away_with_the_handle() {
        let emulator = start(EmulatorConfig::default()).await.expect("starts");
        let path = emulator.ca_file().to_path_buf();
        let text = std::fs::read_to_string(&path).expect("CA file");
        assert_eq!(text, emulator.ca_pem());
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            emulator.arm_endpoint().port(),
            Some(emulator.local_addr().port())
        );
        emulator.shutdown().await;
        assert!(!path.exists());
    }
}
