//! Cloud settings: ARM endpoint, token authority, audience, the storage hosts export
//! links may point at and an extra CA bundle. They are configuration, never code
//! (public, US Government, China, Azure Stack or the emulator), read from CLI flags or
//! the environment with the names ASO uses.

use std::path::PathBuf;
use std::str::FromStr;

use url::Url;

use crate::error::AzureError;

pub const ENV_ARM_ENDPOINT: &str = "AZURE_RESOURCE_MANAGER_ENDPOINT";
pub const ENV_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
pub const ENV_ARM_AUDIENCE: &str = "AZURE_RESOURCE_MANAGER_AUDIENCE";
/// Optional preset name (`public`, `usgovernment`, `china`) applied before the other variables.
pub const ENV_CLOUD: &str = "AZURE_CLOUD";
pub const ENV_SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// DNS suffix of the cloud's blob storage, for clouds without a preset (Azure Stack).
pub const ENV_STORAGE_HOST_SUFFIX: &str = "AZURE_STORAGE_HOST_SUFFIX";

/// Where ARM and Entra ID live, and which CA to trust besides the system roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    pub arm_endpoint: Url,
    pub authority_host: Url,
    /// Token audience; the scope asked for is `{audience}/.default`.
    pub audience: String,
    /// Extra PEM CA bundle trusted for ARM, the token endpoint and export links.
    pub ca_file: Option<PathBuf>,
    /// Export links (SAS URLs answered by APIM and API Center) are followed only to this
    /// host or its subdomains, e.g. `blob.core.windows.net`: the link comes from a
    /// service's answer, and following it anywhere would let that answer point the
    /// controller at internal endpoints. See [`host_within`].
    pub storage_host_suffix: String,
}

/// The well-known clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudPreset {
    Public,
    UsGovernment,
    China,
}

impl FromStr for CloudPreset {
    type Err = AzureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match key.as_str() {
            "public" | "azurepublic" | "azurepubliccloud" | "azurecloud" => Ok(Self::Public),
            "usgovernment"
            | "usgov"
            | "azureusgovernment"
            | "azureusgovernmentcloud"
            | "azuregovernment" => Ok(Self::UsGovernment),
            "china" | "azurechina" | "azurechinacloud" => Ok(Self::China),
            _ => Err(AzureError::InvalidInput(format!(
                "unknown cloud {s:?}: expected public, usgovernment or china"
            ))),
        }
    }
}

fn fixed_url(s: &'static str) -> Url {
    // Only called with the preset constants below, which the `presets` test parses:
    // this cannot fail at run time.
    Url::parse(s).expect("preset URLs are valid constants")
}

impl CloudConfig {
    pub fn preset(preset: CloudPreset) -> Self {
        let (arm, authority, audience, storage) = match preset {
            CloudPreset::Public => (
                "https://management.azure.com/",
                "https://login.microsoftonline.com/",
                "https://management.azure.com/",
                "blob.core.windows.net",
            ),
            CloudPreset::UsGovernment => (
                "https://management.usgovcloudapi.net/",
                "https://login.microsoftonline.us/",
                "https://management.core.usgovcloudapi.net/",
                "blob.core.usgovcloudapi.net",
            ),
            CloudPreset::China => (
                "https://management.chinacloudapi.cn/",
                "https://login.chinacloudapi.cn/",
                "https://management.core.chinacloudapi.cn/",
                "blob.core.chinacloudapi.cn",
            ),
        };
        Self {
            arm_endpoint: fixed_url(arm),
            authority_host: fixed_url(authority),
            audience: audience.to_string(),
            ca_file: None,
            storage_host_suffix: storage.to_string(),
        }
    }

    pub fn public() -> Self {
        Self::preset(CloudPreset::Public)
    }

    pub fn us_government() -> Self {
        Self::preset(CloudPreset::UsGovernment)
    }

    pub fn china() -> Self {
        Self::preset(CloudPreset::China)
    }

    /// A custom cloud (Azure Stack, an emulator): the audience defaults to the ARM
    /// endpoint, and export links are followed only to the ARM endpoint's own host
    /// (where the emulator serves them) until [`with_storage_host_suffix`] names the
    /// cloud's storage.
    ///
    /// [`with_storage_host_suffix`]: CloudConfig::with_storage_host_suffix
    pub fn custom(arm_endpoint: Url, authority_host: Url) -> Self {
        let audience = arm_endpoint.as_str().to_string();
        let storage_host_suffix = own_host(&arm_endpoint);
        Self {
            arm_endpoint,
            authority_host,
            audience,
            ca_file: None,
            storage_host_suffix,
        }
    }

    /// Sets the storage host suffix (a leading `.` and letter case are ignored).
    pub fn with_storage_host_suffix(mut self, suffix: &str) -> Self {
        self.storage_host_suffix = normalise_suffix(suffix);
        self
    }

    /// True when an export link to `host` (as [`Url::host_str`] gives it) may be followed.
    pub fn is_storage_host(&self, host: &str) -> bool {
        host_within(host, &self.storage_host_suffix)
    }

    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(ca_file.into());
        self
    }

    /// The OAuth scope for ARM: the audience followed by `/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.audience.trim_end_matches('/'))
    }

    /// Reads the process environment (see [`CloudConfig::from_vars`]).
    pub fn from_env() -> Result<Self, AzureError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Builds the config from variables: `AZURE_CLOUD` picks a preset (default public),
    /// then `AZURE_RESOURCE_MANAGER_ENDPOINT`, `AZURE_AUTHORITY_HOST`,
    /// `AZURE_RESOURCE_MANAGER_AUDIENCE` and `AZURE_STORAGE_HOST_SUFFIX` override its
    /// parts and `SSL_CERT_FILE` names an extra CA bundle. A custom ARM endpoint (not
    /// one of the presets') is a custom cloud: without the other variables its audience
    /// is the endpoint itself and export links are followed only to its host, as with
    /// [`CloudConfig::custom`].
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, AzureError> {
        let mut config = match get(ENV_CLOUD) {
            Some(name) => Self::preset(name.parse()?),
            None => Self::public(),
        };
        if let Some(endpoint) = get(ENV_ARM_ENDPOINT) {
            let endpoint = parse_base_url(ENV_ARM_ENDPOINT, &endpoint)?;
            let known = [
                CloudPreset::Public,
                CloudPreset::UsGovernment,
                CloudPreset::China,
            ]
            .into_iter()
            .map(Self::preset)
            .find(|preset| preset.arm_endpoint.host_str() == endpoint.host_str());
            (config.audience, config.storage_host_suffix) = match known {
                Some(preset) => (preset.audience, preset.storage_host_suffix),
                None => (endpoint.as_str().to_string(), own_host(&endpoint)),
            };
            config.arm_endpoint = endpoint;
        }
        if let Some(authority) = get(ENV_AUTHORITY_HOST) {
            config.authority_host = parse_base_url(ENV_AUTHORITY_HOST, &authority)?;
        }
        if let Some(audience) = get(ENV_ARM_AUDIENCE) {
            config.audience = audience;
        }
        if let Some(ca) = get(ENV_SSL_CERT_FILE) {
            config.ca_file = Some(PathBuf::from(ca));
        }
        if let Some(suffix) = get(ENV_STORAGE_HOST_SUFFIX) {
            config.storage_host_suffix = normalise_suffix(&suffix);
        }
        config.validate()?;
        Ok(config)
    }

    /// Both endpoints must be https (`azure_identity` refuses a plain-http authority and
    /// a bearer token must never travel in clear); the audience must not be empty.
    pub fn validate(&self) -> Result<(), AzureError> {
        for (what, url) in [
            ("ARM endpoint", &self.arm_endpoint),
            ("authority host", &self.authority_host),
        ] {
            if url.scheme() != "https" {
                return Err(AzureError::InvalidInput(format!(
                    "{what} must use https, got {url}"
                )));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(AzureError::InvalidInput(format!(
                    "{what} has no host: {url}"
                )));
            }
        }
        if self.audience.trim().is_empty() {
            return Err(AzureError::InvalidInput("ARM audience is empty".into()));
        }
        // An empty suffix would match every host, and anything that is not a bare host
        // name (a URL, a port, a wildcard) would silently match none.
        let suffix = &self.storage_host_suffix;
        let bare_host = Url::parse(&format!("https://{suffix}/")).is_ok_and(|url| {
            url.host_str() == Some(suffix.as_str())
                && url.port().is_none()
                && (!matches!(url.host(), Some(url::Host::Domain(_)))
                    || suffix
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        });
        if suffix.is_empty() || !bare_host {
            return Err(AzureError::InvalidInput(format!(
                "the storage host suffix {suffix:?} ({ENV_STORAGE_HOST_SUFFIX}) is not a host name such as blob.core.windows.net"
            )));
        }
        Ok(())
    }
}

/// The lower-case host of `url`, the storage of a custom cloud until told otherwise.
fn own_host(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_ascii_lowercase()
}

/// Lower case without the leading `.` (or `*.`) people write for "any subdomain".
fn normalise_suffix(suffix: &str) -> String {
    suffix
        .trim()
        .trim_start_matches('*')
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// True when `host` is `suffix` or one of its subdomains, compared label by label (so
/// `evilblob.core.windows.net` is not under `blob.core.windows.net`). An IP address is
/// only ever itself: it has no subdomains.
pub fn host_within(host: &str, suffix: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let suffix = normalise_suffix(suffix);
    if suffix.is_empty() {
        return false;
    }
    if host == suffix {
        return true;
    }
    let is_ip = |h: &str| h.starts_with('[') || h.parse::<std::net::IpAddr>().is_ok();
    if is_ip(&host) || is_ip(&suffix) {
        return false;
    }
    host.strip_suffix(&suffix)
        .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
}

/// Parses an endpoint and makes sure its path ends with `/` so relative joins keep it.
fn parse_base_url(name: &str, value: &str) -> Result<Url, AzureError> {
    let mut url = Url::parse(value.trim())
        .map_err(|e| AzureError::InvalidInput(format!("{name}={value:?} is not a URL: {e}")))?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_env::vars;

    #[test]
    fn presets() {
        let public = CloudConfig::public();
        assert_eq!(
            public.arm_endpoint.as_str(),
            "https://management.azure.com/"
        );
        assert_eq!(public.scope(), "https://management.azure.com/.default");
        assert_eq!(
            CloudConfig::us_government().authority_host.as_str(),
            "https://login.microsoftonline.us/"
        );
        assert_eq!(
            CloudConfig::china().arm_endpoint.as_str(),
            "https://management.chinacloudapi.cn/"
        );
        for preset in [
            CloudPreset::Public,
            CloudPreset::UsGovernment,
            CloudPreset::China,
        ] {
            CloudConfig::preset(preset).validate().unwrap();
        }
    }

    #[test]
    fn preset_names() {
        assert_eq!(
            "AzureUSGovernment".parse::<CloudPreset>().unwrap(),
            CloudPreset::UsGovernment
        );
        assert_eq!(
            "azure-china-cloud".parse::<CloudPreset>().unwrap(),
            CloudPreset::China
        );
        assert_eq!(
            "Public".parse::<CloudPreset>().unwrap(),
            CloudPreset::Public
        );
        assert!("mars".parse::<CloudPreset>().is_err());
    }

    #[test]
    fn empty_environment_is_public() {
        assert_eq!(
            CloudConfig::from_vars(vars(&[])).unwrap(),
            CloudConfig::public()
        );
    }

    #[test]
    fn custom_endpoint_defaults_audience_to_itself() {
        let config = CloudConfig::from_vars(vars(&[
            (ENV_ARM_ENDPOINT, "https://127.0.0.1:8443"),
            (ENV_AUTHORITY_HOST, "https://127.0.0.1:8443/"),
            (ENV_SSL_CERT_FILE, "/tmp/ca.pem"),
        ]))
        .unwrap();
        assert_eq!(config.arm_endpoint.as_str(), "https://127.0.0.1:8443/");
        assert_eq!(config.scope(), "https://127.0.0.1:8443/.default");
        assert_eq!(config.ca_file, Some(PathBuf::from("/tmp/ca.pem")));
    }

    #[test]
    fn explicit_audience_and_known_endpoint() {
        let config = CloudConfig::from_vars(vars(&[
            (ENV_ARM_ENDPOINT, "https://management.usgovcloudapi.net"),
            (ENV_AUTHORITY_HOST, "https://login.microsoftonline.us"),
        ]))
        .unwrap();
        assert_eq!(
            config.audience,
            "https://management.core.usgovcloudapi.net/"
        );
        let config = CloudConfig::from_vars(vars(&[
            (ENV_ARM_ENDPOINT, "https://arm.local/stack"),
            (ENV_ARM_AUDIENCE, "https://management.adfs.local/abc"),
        ]))
        .unwrap();
        assert_eq!(config.arm_endpoint.as_str(), "https://arm.local/stack/");
        assert_eq!(config.scope(), "https://management.adfs.local/abc/.default");
    }

    #[test]
    fn storage_suffix_per_cloud() {
        assert_eq!(
            CloudConfig::public().storage_host_suffix,
            "blob.core.windows.net"
        );
        assert_eq!(
            CloudConfig::us_government().storage_host_suffix,
            "blob.core.usgovcloudapi.net"
        );
        assert_eq!(
            CloudConfig::china().storage_host_suffix,
            "blob.core.chinacloudapi.cn"
        );
        let gov = CloudConfig::from_vars(vars(&[(ENV_CLOUD, "usgovernment")])).unwrap();
        assert!(gov.is_storage_host("acct.blob.core.usgovcloudapi.net"));
        assert!(!gov.is_storage_host("acct.blob.core.windows.net"));
        // A preset's ARM endpoint given by hand keeps that preset's storage.
        let china = CloudConfig::from_vars(vars(&[(
            ENV_ARM_ENDPOINT,
            "https://management.chinacloudapi.cn",
        )]))
        .unwrap();
        assert_eq!(china.storage_host_suffix, "blob.core.chinacloudapi.cn");
    }

    #[test]
    fn a_custom_cloud_trusts_its_own_host_until_told_its_storage() {
        let arm = Url::parse("https://127.0.0.1:8443/").unwrap();
        let emulator = CloudConfig::custom(arm.clone(), arm);
        assert!(emulator.is_storage_host("127.0.0.1"));
        assert!(!emulator.is_storage_host("127.0.0.2"));
        assert!(!emulator.is_storage_host("acct.blob.core.windows.net"));
        let from_env =
            CloudConfig::from_vars(vars(&[(ENV_ARM_ENDPOINT, "https://Localhost:8443")])).unwrap();
        assert!(from_env.is_storage_host("localhost"));
        assert!(!from_env.is_storage_host("127.0.0.1"));
        let stack = CloudConfig::from_vars(vars(&[
            (
                ENV_ARM_ENDPOINT,
                "https://management.local.azurestack.external",
            ),
            (ENV_STORAGE_HOST_SUFFIX, "*.Blob.Local.AzureStack.External"),
        ]))
        .unwrap();
        assert_eq!(stack.storage_host_suffix, "blob.local.azurestack.external");
        assert!(stack.is_storage_host("acct.blob.local.azurestack.external"));
        assert!(!stack.is_storage_host("management.local.azurestack.external"));
    }

    #[test]
    fn hosts_are_matched_label_by_label() {
        let suffix = "blob.core.windows.net";
        assert!(host_within("acct.blob.core.windows.net", suffix));
        assert!(host_within("ACCT.Blob.Core.Windows.Net.", suffix));
        assert!(host_within(
            "acct.blob.core.windows.net",
            ".blob.core.windows.net"
        ));
        assert!(!host_within("evilblob.core.windows.net", suffix));
        assert!(!host_within(
            "acct.blob.core.windows.net.evil.example",
            suffix
        ));
        assert!(!host_within("core.windows.net", suffix));
        assert!(!host_within("anything", ""));
        assert!(host_within("[::1]", "[::1]"));
        assert!(!host_within("10.0.0.1", "0.0.1"));
    }

    #[test]
    fn unusable_storage_suffixes_are_refused() {
        for bad in [
            "",
            ".",
            "https://acct.blob.core.windows.net",
            "host:443",
            "a/b",
            "a*b.net",
        ] {
            let err = CloudConfig::from_vars(vars(&[(ENV_STORAGE_HOST_SUFFIX, bad)]));
            assert!(
                err.as_ref()
                    .is_err_and(|e| e.to_string().contains(ENV_STORAGE_HOST_SUFFIX)),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn plain_http_is_refused() {
        let err =
            CloudConfig::from_vars(vars(&[(ENV_ARM_ENDPOINT, "http://127.0.0.1:80")])).unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
        let err = CloudConfig::from_vars(vars(&[(ENV_AUTHORITY_HOST, "http://login.local")]))
            .unwrap_err();
        assert!(err.to_string().contains("authority"), "{err}");
        assert!(CloudConfig::from_vars(vars(&[(ENV_ARM_ENDPOINT, "not a url")])).is_err());
    }
}
