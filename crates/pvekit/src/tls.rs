//! TLS trust: system roots, a pinned SHA-256 fingerprint, or no verification.
//!
//! One rustls `ClientConfig` serves both the HTTP client and (later) the terminal websocket.
//! Fingerprint mode follows Proxmox's own client: a certificate that validates normally is
//! accepted; otherwise only a leaf whose SHA-256 matches the pin. Handshake signatures are
//! always checked, even when the certificate itself is pinned or trusted blindly.

use std::sync::{Arc, Mutex};

use pvekit_core::Fingerprint;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::config::Trust;
use crate::error::{Error, Result};

/// The SHA-256 of a DER certificate.
pub(crate) fn sha256(cert: &[u8]) -> Fingerprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    Fingerprint(out)
}

/// Remembers the leaf certificate the server presented, so a refusal can tell the user which
/// fingerprint to pin.
#[derive(Debug, Default, Clone)]
pub(crate) struct PresentedCert(Arc<Mutex<Option<Fingerprint>>>);

impl PresentedCert {
    pub(crate) fn get(&self) -> Option<Fingerprint> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn set(&self, fp: Fingerprint) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(fp);
    }
}

/// Raised inside rustls when a pinned fingerprint does not match.
#[derive(Debug)]
pub(crate) struct FingerprintMismatch;

impl std::fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "certificate fingerprint does not match the pinned fingerprint"
        )
    }
}

impl std::error::Error for FingerprintMismatch {}

#[derive(Debug)]
struct PveVerifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
    /// Normal WebPKI/platform verification, used for System and first for Fingerprint.
    inner: Option<Arc<dyn ServerCertVerifier>>,
    presented: PresentedCert,
}

impl ServerCertVerifier for PveVerifier {
    fn verify_server_cert(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = sha256(leaf);
        self.presented.set(fp);
        match &self.trust {
            Trust::Insecure => return Ok(ServerCertVerified::assertion()),
            // Accepting on a matching pin first is the same rule (either passes) and keeps the
            // platform verifier from logging a refusal on every pinned connection.
            Trust::Fingerprint(want) if fp == *want => return Ok(ServerCertVerified::assertion()),
            _ => {}
        }
        let normal = self
            .inner
            .as_ref()
            .map(|v| v.verify_server_cert(leaf, intermediates, name, ocsp, now));
        match (&self.trust, normal) {
            (_, Some(Ok(ok))) => Ok(ok),
            // A pin without system roots: the pin did not match.
            (Trust::Fingerprint(_), _) => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(OtherError(Arc::new(FingerprintMismatch))),
            )),
            (_, Some(Err(e))) => Err(e),
            (_, None) => Err(rustls::Error::General("no certificate verifier".into())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Builds the rustls client config for a trust mode.
pub(crate) fn client_config(trust: &Trust, presented: PresentedCert) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let platform = || -> Result<Arc<dyn ServerCertVerifier>> {
        Ok(Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                Error::config(format!(
                    "cannot load the system's trusted certificates: {e}"
                ))
            })?,
        ))
    };
    let inner: Option<Arc<dyn ServerCertVerifier>> = match trust {
        Trust::Insecure => None,
        Trust::System => Some(platform()?),
        // A pin needs no CA bundle: minimal containers have none, and must not be pushed
        // to skip verification. Without system roots only the pin is accepted.
        Trust::Fingerprint(_) => match platform() {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(error = %e, "no system roots; only the pinned fingerprint is accepted");
                None
            }
        },
    };
    let verifier = PveVerifier {
        trust: trust.clone(),
        provider: provider.clone(),
        inner,
        presented,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// Finds a rustls error in an error's source chain (reqwest wraps it in hyper and io errors).
pub(crate) fn find_rustls_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // io::Error::source() skips the error it wraps, so descend through get_ref().
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Describes a rustls certificate refusal for people.
pub(crate) fn describe(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            if other.0.downcast_ref::<FingerprintMismatch>().is_some() {
                "its SHA-256 fingerprint does not match the pinned fingerprint".into()
            } else {
                format!("invalid certificate: {other}")
            }
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "it is self-signed or signed by an unknown CA (invalid peer certificate: UnknownIssuer)"
                .into()
        }
        other => other.to_string(),
    }
}
