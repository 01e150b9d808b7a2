//! A throw-away certificate authority and a server certificate for the loopback listener.
//! Clients trust the CA explicitly (a CA file or `SSL_CERT_FILE`); nothing here weakens
//! certificate checking on their side.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::EmulatorError;

pub(crate) struct TlsMaterial {
    pub ca_pem: String,
    pub server_config: Arc<ServerConfig>,
}

fn cert_error(e: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Certificate(e.to_string())
}

/// Creates a CA and a server certificate valid for `localhost`, `127.0.0.1`, `::1` and
/// `extra_ip`, and a rustls server config (HTTP/1.1 only, so a dropped connection is a
/// dropped connection and not a reset HTTP/2 stream).
pub(crate) fn generate(extra_ip: Option<IpAddr>) -> Result<TlsMaterial, EmulatorError> {
    let ca_key = KeyPair::generate().map_err(cert_error)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "apilink emulator CA");
    ca_name.push(DnType::OrganizationName, "apilink");
    ca_params.distinguished_name = ca_name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_error)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Some(ip) = extra_ip
        && !ip.is_unspecified()
    {
        let ip = ip.to_string();
        if !names.contains(&ip) {
            names.push(ip);
        }
    }
    let server_key = KeyPair::generate().map_err(cert_error)?;
    let mut server_params = CertificateParams::new(names).map_err(cert_error)?;
    let mut server_name = DistinguishedName::new();
    server_name.push(DnType::CommonName, "localhost");
    server_params.distinguished_name = server_name;
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(cert_error)?;

    let chain = vec![
        CertificateDer::from(server_cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(cert_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(cert_error)?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem,
        server_config: Arc::new(server_config),
    })
}
