//! The one HTTP client (reqwest + rustls) used for ARM, the token endpoint and export
//! links. Its rustls config names the aws-lc-rs provider explicitly — the workspace
//! links two providers, so a process default cannot be relied on — and trusts the
//! platform roots (which honour `SSL_CERT_FILE`) plus an optional extra CA bundle.
//! There is deliberately no way to turn verification off.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::{AzureError, TransportKind};

fn read_ca_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, AzureError> {
    let bad = |e: &dyn std::fmt::Display| {
        AzureError::InvalidInput(format!("CA file {}: {e}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no PEM certificate in the file"));
    }
    Ok(certs)
}

pub(crate) fn rustls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, AzureError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let extra = match ca_file {
        Some(path) => read_ca_bundle(path)?,
        None => Vec::new(),
    };
    let verifier = if extra.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
    }
    .map_err(|e| AzureError::InvalidInput(format!("TLS trust store: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AzureError::InvalidInput(format!("TLS versions: {e}")))?
        .dangerous() // a custom verifier, not an insecure one: it is the platform verifier
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// Builds the shared HTTP client. Redirects are never followed: ARM does not use them
/// and following one could carry a request somewhere unexpected.
pub(crate) fn http_client(
    ca_file: Option<&Path>,
    request_timeout: Duration,
) -> Result<reqwest::Client, AzureError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(rustls_config(ca_file)?)
        .connect_timeout(Duration::from_secs(10).min(request_timeout))
        .timeout(request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("apilink/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| AzureError::InvalidInput(format!("HTTP client: {e}")))
}

/// True if any error in the chain is a certificate verification failure. `io::Error`
/// hides its payload from `source()` (hyper-rustls even wraps one `io::Error` in
/// another), so payloads are opened explicitly.
pub(crate) fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    fn walk(e: &(dyn std::error::Error + 'static), depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::InvalidCertRevocationList(_)
            );
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(payload) = io.get_ref()
            && walk(payload, depth + 1)
        {
            return true;
        }
        e.source().is_some_and(|source| walk(source, depth + 1))
    }
    walk(err, 0)
}

/// Maps a reqwest failure to a transport kind.
pub(crate) fn transport_kind(err: &reqwest::Error) -> TransportKind {
    if is_certificate_error(err) {
        TransportKind::Tls
    } else if err.is_timeout() {
        TransportKind::Timeout
    } else if err.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    }
}

/// The error text with its whole source chain (reqwest's Display alone hides the cause).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    let mut depth = 0;
    while let Some(e) = current {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        depth += 1;
        if depth > 16 {
            break;
        }
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_ca_file_is_a_clear_error() {
        let err = rustls_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = rustls_config(Some(&empty)).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn certificate_errors_are_found_in_the_chain() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        assert!(is_certificate_error(&io));
        // hyper-rustls wraps tokio-rustls' io::Error in another io::Error.
        let twice = std::io::Error::other(io);
        assert!(is_certificate_error(&twice));
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(!is_certificate_error(&other));
    }
}
