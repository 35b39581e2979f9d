//! The smallest client that does what a cold inventory refresh does, as the benchmark's
//! reference: reqwest with the same TLS trust as the library (the pinned SHA-256 fingerprint
//! of the server certificate), the API token header, plain `serde_json` decoding into the few
//! fields it reads, and the same requests with the same number in flight: one
//! `GET /cluster/resources?type=vm`, then per guest what the library asks (a running
//! container's `interfaces`, and its `config` when they hold no address; a stopped
//! container's `config`; a running VM's `agent/network-get-interfaces`; nothing for a
//! stopped VM or a guest in status `unknown`). No snapshot, no indexes, no events, no retries.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use pvekit::ip::{is_ignored_interface, is_private};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;

use crate::inventory::ChildSim;

/// One guest of `/cluster/resources`, only the fields the refresh reads.
#[derive(Deserialize)]
struct Resource {
    #[serde(rename = "type")]
    kind: String,
    node: Option<String>,
    vmid: Option<u64>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Interface {
    name: String,
    #[serde(default, rename = "ip-addresses")]
    ip_addresses: Vec<Address>,
}

#[derive(Deserialize)]
struct Address {
    #[serde(rename = "ip-address")]
    ip_address: String,
}

#[derive(Deserialize)]
struct AgentReply {
    result: Option<Vec<Interface>>,
}

/// The raw client.
pub struct RawInventory {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    sent: AtomicU64,
}

/// What one raw refresh found.
pub struct RawRefresh {
    /// Guests listed.
    pub guests: usize,
    /// Guests with at least one address.
    pub with_ips: usize,
}

impl RawInventory {
    /// A client for the simulator: token auth, its certificate pinned by fingerprint.
    pub fn new(sim: &ChildSim) -> anyhow::Result<RawInventory> {
        let tls = pinned_tls(sim)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .build()?;
        let auth = HeaderValue::from_str(&format!(
            "PVEAPIToken={}={}",
            sim.field("token_id")?,
            sim.field("secret")?
        ))?;
        Ok(RawInventory {
            http,
            base: format!("{}/api2/json", sim.field("url")?),
            auth,
            sent: AtomicU64::new(0),
        })
    }

    /// Requests sent so far.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}");
        }
        Ok(serde_json::from_slice::<Data<T>>(&body)?.data)
    }

    /// One cold refresh with at most `in_flight` IP requests at once.
    pub async fn refresh(&self, in_flight: usize) -> anyhow::Result<RawRefresh> {
        let resources: Vec<Resource> = self.get("/cluster/resources?type=vm").await?;
        let guests = resources.len();
        let jobs = resources.into_iter().map(|r| async move {
            let ips = self.ips(&r).await.unwrap_or_default();
            (r.vmid, ips)
        });
        let found: Vec<(Option<u64>, Vec<IpAddr>)> = futures_util::stream::iter(jobs)
            .buffer_unordered(in_flight.max(1))
            .collect()
            .await;
        Ok(RawRefresh {
            guests,
            with_ips: found.iter().filter(|(_, ips)| !ips.is_empty()).count(),
        })
    }

    async fn ips(&self, r: &Resource) -> anyhow::Result<Vec<IpAddr>> {
        let (Some(node), Some(vmid)) = (&r.node, r.vmid) else {
            return Ok(Vec::new());
        };
        let base = format!("/nodes/{node}/{}/{vmid}", r.kind);
        match (r.kind.as_str(), r.status.as_deref()) {
            ("lxc", Some("running")) => {
                let ifaces: Option<Vec<Interface>> =
                    self.get(&format!("{base}/interfaces")).await?;
                let ips = of_interfaces(&ifaces.unwrap_or_default());
                if ips.is_empty() {
                    self.config_ips(&base).await
                } else {
                    Ok(ips)
                }
            }
            // Any other known status (not `unknown`): a container's static addresses.
            ("lxc", Some(s)) if s != "unknown" => self.config_ips(&base).await,
            ("qemu", Some("running")) => {
                let reply: AgentReply = self
                    .get(&format!("{base}/agent/network-get-interfaces"))
                    .await?;
                Ok(of_interfaces(&reply.result.unwrap_or_default()))
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn config_ips(&self, base: &str) -> anyhow::Result<Vec<IpAddr>> {
        let config: serde_json::Map<String, serde_json::Value> =
            self.get(&format!("{base}/config")).await?;
        let mut ips = Vec::new();
        for (k, v) in &config {
            let (Some(_), Some(v)) = (k.strip_prefix("net"), v.as_str()) else {
                continue;
            };
            for part in v.split(',') {
                let Some(addr) = part
                    .strip_prefix("ip=")
                    .or_else(|| part.strip_prefix("ip6="))
                else {
                    continue;
                };
                let addr = addr.split('/').next().unwrap_or(addr);
                if let Ok(ip) = addr.parse::<IpAddr>()
                    && is_private(&ip)
                {
                    ips.push(ip);
                }
            }
        }
        Ok(ips)
    }
}

fn of_interfaces(ifaces: &[Interface]) -> Vec<IpAddr> {
    ifaces
        .iter()
        .filter(|i| !is_ignored_interface(&i.name))
        .flat_map(|i| &i.ip_addresses)
        .filter_map(|a| a.ip_address.parse::<IpAddr>().ok())
        .filter(is_private)
        .collect()
}

fn parse_fingerprint(text: &str) -> anyhow::Result<[u8; 32]> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        bail!("fingerprint {text:?} is not SHA-256");
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).context("fingerprint")?;
    }
    Ok(out)
}

/// A TLS config for the simulator's certificate, pinned by the fingerprint it printed (the
/// raw clients of every benchmark use it).
pub fn pinned_tls(sim: &ChildSim) -> anyhow::Result<rustls::ClientConfig> {
    let fingerprint = parse_fingerprint(&sim.field("fingerprint")?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                fingerprint,
                provider,
            }))
            .with_no_client_auth(),
    )
}

/// Trusts exactly the certificate with this SHA-256 fingerprint, as the library's pinning
/// does; signatures are still checked.
#[derive(Debug)]
struct Pinned {
    fingerprint: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if digest.as_ref() == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
