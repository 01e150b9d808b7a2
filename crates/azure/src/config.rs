//! Cloud settings: ARM endpoint, token authority, audience and an extra CA bundle.
//! They are configuration, never code (public, US Government, China, Azure Stack or
//! the emulator), read from CLI flags or the environment with the names ASO uses.

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

/// Where ARM and Entra ID live, and which CA to trust besides the system roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    pub arm_endpoint: Url,
    pub authority_host: Url,
    /// Token audience; the scope asked for is `{audience}/.default`.
    pub audience: String,
    /// Extra PEM CA bundle trusted for ARM, the token endpoint and export links.
    pub ca_file: Option<PathBuf>,
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
        let (arm, authority, audience) = match preset {
            CloudPreset::Public => (
                "https://management.azure.com/",
                "https://login.microsoftonline.com/",
                "https://management.azure.com/",
            ),
            CloudPreset::UsGovernment => (
                "https://management.usgovcloudapi.net/",
                "https://login.microsoftonline.us/",
                "https://management.core.usgovcloudapi.net/",
            ),
            CloudPreset::China => (
                "https://management.chinacloudapi.cn/",
                "https://login.chinacloudapi.cn/",
                "https://management.core.chinacloudapi.cn/",
            ),
        };
        Self {
            arm_endpoint: fixed_url(arm),
            authority_host: fixed_url(authority),
            audience: audience.to_string(),
            ca_file: None,
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

    /// A custom cloud (Azure Stack, an emulator): the audience defaults to the ARM endpoint.
    pub fn custom(arm_endpoint: Url, authority_host: Url) -> Self {
        let audience = arm_endpoint.as_str().to_string();
        Self {
            arm_endpoint,
            authority_host,
            audience,
            ca_file: None,
        }
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
    /// `AZURE_RESOURCE_MANAGER_AUDIENCE` override its parts and `SSL_CERT_FILE` names
    /// an extra CA bundle. A custom ARM endpoint without an audience uses the endpoint
    /// itself as audience (unless it is one of the presets' endpoints).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, AzureError> {
        let mut config = match get(ENV_CLOUD) {
            Some(name) => Self::preset(name.parse()?),
            None => Self::public(),
        };
        if let Some(endpoint) = get(ENV_ARM_ENDPOINT) {
            let endpoint = parse_base_url(ENV_ARM_ENDPOINT, &endpoint)?;
            config.audience = [
                CloudPreset::Public,
                CloudPreset::UsGovernment,
                CloudPreset::China,
            ]
            .into_iter()
            .map(Self::preset)
            .find(|preset| preset.arm_endpoint.host_str() == endpoint.host_str())
            .map(|preset| preset.audience)
            .unwrap_or_else(|| endpoint.as_str().to_string());
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
        Ok(())
    }
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
