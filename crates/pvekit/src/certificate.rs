//! What a server's certificate says, for trust on first use: `pvekit login` shows it and
//! asks before pinning its fingerprint, as ssh does on first contact.
//!
//! [`inspect_certificate`] makes one TLS handshake and sends nothing else. It accepts any
//! certificate (it only looks), still checks the handshake's signature, and reports whether
//! the system's trusted roots accept the certificate for the URL's host.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pvekit::Error> {
//! let cert = pvekit::inspect_certificate("https://pve.example.com:8006", std::time::Duration::from_secs(5)).await?;
//! println!("{} ({}, valid until {})", cert.fingerprint, cert.subject, cert.not_after);
//! if !cert.trusted_by_system {
//!     // ask the user, then pin cert.fingerprint
//! }
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pvekit_core::Fingerprint;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

/// A server's leaf certificate, as presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCertificate {
    /// SHA-256 of the DER certificate (what `fingerprint` pins).
    pub fingerprint: Fingerprint,
    /// The subject, such as `CN=pve1.lan, O=PVE Cluster Node, OU=...`.
    pub subject: String,
    /// The issuer.
    pub issuer: String,
    /// Start of validity, RFC 2822.
    pub not_before: String,
    /// End of validity, RFC 2822.
    pub not_after: String,
    /// Whether it is valid now.
    pub valid_now: bool,
    /// DNS names and IP addresses of its subject alternative names.
    pub names: Vec<String>,
    /// Whether the system's trusted roots accept it for the URL's host.
    pub trusted_by_system: bool,
}

#[derive(Debug, Default)]
struct Seen {
    leaf: Option<Vec<u8>>,
    trusted: bool,
}

/// Accepts any certificate, records it, and asks the platform verifier for the record.
#[derive(Debug)]
struct Recorder {
    provider: Arc<CryptoProvider>,
    platform: Option<Arc<dyn ServerCertVerifier>>,
    seen: Arc<Mutex<Seen>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let trusted = self.platform.as_ref().is_some_and(|v| {
            v.verify_server_cert(leaf, intermediates, name, ocsp, now)
                .is_ok()
        });
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.leaf = Some(leaf.to_vec());
        seen.trusted = trusted;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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

/// Connects to `url` (an `https://` Proxmox VE URL, as in [`crate::Config::url`]), makes one
/// TLS handshake within `timeout`, and describes the certificate the server presented.
///
/// # Errors
/// [`Error::Config`] for a URL that is not a valid https URL; [`Error::Connect`] when the
/// server cannot be reached or the handshake fails; [`Error::Timeout`].
pub async fn inspect_certificate(url: &str, timeout: Duration) -> Result<ServerCertificate> {
    let (api, origin) = crate::config::parse_url(url)?;
    let host = api
        .host_str()
        .ok_or_else(|| Error::config("the url has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = api.port_or_known_default().unwrap_or(8006);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let platform = rustls_platform_verifier::Verifier::new(provider.clone())
        .ok()
        .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let verifier = Recorder {
        provider: provider.clone(),
        platform,
        seen: seen.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone())
        .map_err(|e| Error::config(format!("'{host}' is not a server name: {e}")))?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    };
    let stream = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| Error::Timeout {
            what: format!("the TLS handshake with {origin}"),
            after: timeout,
        })?
        .map_err(|e| Error::Connect {
            url: origin.clone(),
            reason: e.to_string(),
        })?;
    drop(stream);
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let leaf = seen.leaf.ok_or_else(|| Error::Connect {
        url: origin.clone(),
        reason: "the server presented no certificate".into(),
    })?;
    describe(&leaf, seen.trusted).map_err(|reason| Error::Connect {
        url: origin,
        reason,
    })
}

/// Reads a DER certificate's subject, issuer, validity and names.
fn describe(der: &[u8], trusted_by_system: bool) -> std::result::Result<ServerCertificate, String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the server's certificate cannot be read: {e}"))?;
    let validity = cert.validity();
    let time = |t: &x509_parser::time::ASN1Time| t.to_rfc2822().unwrap_or_else(|_| t.to_string());
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => names.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())
                            .to_string(),
                    ),
                    16 => names.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok(ServerCertificate {
        fingerprint: crate::tls::sha256(der),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: time(&validity.not_before),
        not_after: time(&validity.not_after),
        valid_now: validity.is_valid(),
        names,
        trusted_by_system,
    })
}
