//! The simulator's TLS identity, made at start like a fresh Proxmox VE node's.
//!
//! A fresh node has a self-signed cluster CA ("Proxmox Virtual Environment", with the cluster's
//! UUID in its OU) and a node certificate signed by it. The simulator does the same with rcgen:
//! a CA, and a leaf for `localhost`, `127.0.0.1` and `::1` signed by that CA.

use std::sync::Arc;

use pvekit_core::Fingerprint;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SimError;

/// A generated CA plus node certificate.
pub(crate) struct Identity {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// SHA-256 of the leaf certificate's DER.
    pub fingerprint: Fingerprint,
    /// The rustls server configuration serving the leaf (and the CA as chain).
    pub server_config: Arc<rustls::ServerConfig>,
}

fn err(what: &str, e: impl std::fmt::Display) -> SimError {
    SimError::Startup(format!("{what}: {e}"))
}

/// Generates the CA and node certificate and the matching rustls configuration.
pub(crate) fn generate(node_name: &str, unique: &str) -> Result<Identity, SimError> {
    let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Proxmox Virtual Environment");
    dn.push(DnType::OrganizationalUnitName, unique.to_string());
    dn.push(DnType::OrganizationName, "PVE Cluster Manager CA");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| err("CA", e))?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(|e| err("node key", e))?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()])
        .map_err(|e| err("node certificate", e))?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([
            0u16, 0, 0, 0, 0, 0, 0, 1,
        ])));
    if let Ok(name) = node_name.to_string().try_into() {
        leaf_params.subject_alt_names.push(SanType::DnsName(name));
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{node_name}.localdomain"));
    dn.push(DnType::OrganizationalUnitName, "PVE Cluster Node");
    dn.push(DnType::OrganizationName, "Proxmox Virtual Environment");
    leaf_params.distinguished_name = dn;
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| err("node certificate", e))?;

    let digest = ring::digest::digest(&ring::digest::SHA256, leaf.der());
    let mut fp = [0u8; 32];
    fp.copy_from_slice(digest.as_ref());

    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("TLS", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| err("TLS", e))?;
    // pveproxy speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(Identity {
        ca_pem,
        fingerprint: Fingerprint(fp),
        server_config: Arc::new(config),
    })
}
