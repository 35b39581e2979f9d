//! The server's TLS: PEM files, or a self-signed certificate made at start.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::server::{ServeError, TlsSetup};

/// The rustls server configuration for `setup`, and the certificate's SHA-256 fingerprint
/// when it was made here (self-signed).
///
/// # Errors
/// [`ServeError::Tls`]: unreadable or invalid files, a key that does not match.
pub fn server_config(
    setup: &TlsSetup,
) -> Result<(Arc<rustls::ServerConfig>, Option<String>), ServeError> {
    let tls = |what: &str, e: &dyn std::fmt::Display| ServeError::Tls(format!("{what}: {e}"));
    let (chain, key, fingerprint) = match setup {
        TlsSetup::None => return Err(ServeError::Tls("no TLS setup".into())),
        TlsSetup::Files { cert, key } => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| tls(&cert.display().to_string(), &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| tls(&cert.display().to_string(), &e))?;
            if chain.is_empty() {
                return Err(ServeError::Tls(format!(
                    "{}: no certificate in the file",
                    cert.display()
                )));
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| tls(&key.display().to_string(), &e))?;
            (chain, key, None)
        }
        TlsSetup::SelfSigned => {
            let names = vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ];
            let made = rcgen::generate_simple_self_signed(names)
                .map_err(|e| tls("self-signed certificate", &e))?;
            let der = made.cert.der().clone();
            let digest = ring::digest::digest(&ring::digest::SHA256, &der);
            let fp = digest
                .as_ref()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":");
            let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
                .map_err(|e| tls("self-signed key", &e))?;
            (vec![der], key, Some(fp))
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls("certificate and key", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), fingerprint))
}
