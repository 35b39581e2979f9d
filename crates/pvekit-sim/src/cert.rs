//! The simulator's TLS identities, made at start like a fresh Proxmox VE cluster's.
//!
//! A cluster has one self-signed CA ("Proxmox Virtual Environment", with the cluster's UUID in
//! its OU; pve-cluster's `gen_pveca_cert`), and every node has its own certificate signed by
//! it (`/etc/pve/nodes/<node>/pve-ssl.pem`, `gen_pve_ssl_cert`), so each node's pveproxy shows
//! its own fingerprint. The simulator does the same with rcgen: one [`Ca`] per simulator and
//! one leaf per node ([`Ca::leaf`]), each for `localhost`, `127.0.0.1`, `::1` and the node's
//! name.

use std::sync::Arc;

use pvekit_core::Fingerprint;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SimError;

/// The cluster CA: signs one leaf per node.
pub(crate) struct Ca {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    cert: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

/// A node's certificate.
pub(crate) struct Leaf {
    /// SHA-256 of the leaf certificate's DER.
    pub fingerprint: Fingerprint,
    /// The rustls server configuration serving the leaf (and the CA as chain).
    pub server_config: Arc<rustls::ServerConfig>,
}

fn err(what: &str, e: impl std::fmt::Display) -> SimError {
    SimError::Startup(format!("{what}: {e}"))
}

impl Ca {
    /// A fresh CA; `unique` goes into its OU (the cluster's UUID on a real cluster).
    pub fn generate(unique: &str) -> Result<Ca, SimError> {
        let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", e))?;
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
        let cert = ca_params.self_signed(&ca_key).map_err(|e| err("CA", e))?;
        Ok(Ca {
            ca_pem: cert.pem(),
            cert,
            issuer: Issuer::new(ca_params, ca_key),
        })
    }

    /// A node certificate for `node_name`, signed by this CA, and its server configuration.
    pub fn leaf(&self, node_name: &str) -> Result<Leaf, SimError> {
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
            .signed_by(&leaf_key, &self.issuer)
            .map_err(|e| err("node certificate", e))?;

        let digest = ring::digest::digest(&ring::digest::SHA256, leaf.der());
        let mut fp = [0u8; 32];
        fp.copy_from_slice(digest.as_ref());

        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), self.cert.der().clone()];
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

        Ok(Leaf {
            fingerprint: Fingerprint(fp),
            server_config: Arc::new(config),
        })
    }
}
