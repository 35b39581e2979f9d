//! Connection settings for one Proxmox VE cluster.
//!
//! The field names match GoDoxy's `providers.proxmox[]` entries, so an existing GoDoxy config
//! deserializes unchanged; `fingerprint` and `timeouts` are pvekit additions.

use std::time::Duration;

use pvekit_core::{AuthId, Fingerprint};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};

/// Where a cluster is and how to authenticate to it.
///
/// Give either an API token (`token_id` + `secret`, recommended) or a user and password
/// (`username` + `password`, with `realm` defaulting to `pam`). Both may be given: API calls
/// then use the token, while terminal sessions (which need a real login) use the password.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `https://host:8006`, with or without `/api2/json` and a trailing slash.
    pub url: String,
    /// Login user, `root` or `root@pam`.
    #[serde(default)]
    pub username: Option<String>,
    /// Login password.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Realm of `username` when it has none (default `pam`).
    #[serde(default)]
    pub realm: Option<String>,
    /// API token id, `user@realm!tokenname`.
    #[serde(default)]
    pub token_id: Option<String>,
    /// API token secret.
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Skip TLS certificate verification entirely (insecure; prefer `fingerprint`).
    #[serde(default)]
    pub no_tls_verify: bool,
    /// Pin the server certificate's SHA-256 fingerprint (`AA:BB:...`, as Proxmox VE shows it).
    /// A certificate that validates normally is accepted too, as Proxmox's own tools do.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Timeouts; every field optional.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// More addresses of the same cluster (every node serves the whole API), tried in turn
    /// when the current one does not answer; each a URL, or a `url` with its own
    /// `fingerprint` (default: `fingerprint`). `urls` is accepted too.
    #[serde(default, alias = "urls")]
    pub endpoints: Vec<Endpoint>,
}

/// Another address of a cluster (see [`Config::endpoints`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "EndpointForm")]
pub struct Endpoint {
    /// `https://host:8006`.
    pub url: String,
    /// The SHA-256 fingerprint of this node's certificate, when it differs.
    pub fingerprint: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EndpointForm {
    Url(String),
    Full {
        url: String,
        #[serde(default)]
        fingerprint: Option<String>,
    },
}

impl From<EndpointForm> for Endpoint {
    fn from(f: EndpointForm) -> Self {
        match f {
            EndpointForm::Url(url) => Endpoint {
                url,
                fingerprint: None,
            },
            EndpointForm::Full { url, fingerprint } => Endpoint { url, fingerprint },
        }
    }
}

impl From<&str> for Endpoint {
    fn from(url: &str) -> Self {
        Endpoint {
            url: url.into(),
            fingerprint: None,
        }
    }
}

/// Secrets show as redacted, and so does a password put into the URL (which validation
/// refuses, but a caller may print the config before validating it).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.shown_url())
            .field("username", &self.username)
            .field("password", &self.password)
            .field("realm", &self.realm)
            .field("token_id", &self.token_id)
            .field("secret", &self.secret)
            .field("no_tls_verify", &self.no_tls_verify)
            .field("fingerprint", &self.fingerprint)
            .field("timeouts", &self.timeouts)
            .field(
                "endpoints",
                &self
                    .endpoints
                    .iter()
                    .map(|e| redact_userinfo(&e.url))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Timeouts of network operations. In YAML each is a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Establishing a TCP + TLS connection (default 5 s).
    #[serde(with = "secs")]
    pub connect: Duration,
    /// One API call, from sending the request to reading the whole answer (default 3 s, as
    /// GoDoxy's per-operation timeout). Until the server has accepted the credentials once
    /// (the first call of [`Client::connect`](crate::Client::connect)), calls get the `login`
    /// timeout instead, so a rejected token, which Proxmox VE answers only after about 3 s,
    /// is reported as an authentication error rather than a timeout.
    #[serde(with = "secs")]
    pub request: Duration,
    /// A login call. Longer than `request`, because Proxmox VE delays every rejected login by
    /// about 3 s (default 10 s).
    #[serde(with = "secs")]
    pub login: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(3),
            login: Duration::from_secs(10),
        }
    }
}

mod secs {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v > 0.0 && v < 86_400.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(serde::de::Error::custom(format!(
                "timeout must be a positive number of seconds below one day, got {v}"
            )))
        }
    }
}

/// How the server certificate is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trust {
    /// The operating system's trust store.
    System,
    /// System trust, else a leaf certificate with this SHA-256.
    Fingerprint(Fingerprint),
    /// No verification at all.
    Insecure,
}

/// Credentials after validation.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub token: Option<(AuthId, SecretString)>,
    pub login: Option<(AuthId, SecretString)>,
}

/// One address of a cluster, validated.
#[derive(Clone)]
pub(crate) struct HostSpec {
    /// `https://host:port/api2/json` with no trailing slash.
    pub api_base: Url,
    /// `https://host:port`, for messages.
    pub origin: String,
    pub trust: Trust,
}

/// A validated config: what the client actually uses.
#[derive(Clone)]
pub(crate) struct Resolved {
    /// `https://host:port` of `url`, for messages and keys.
    pub origin: String,
    /// `url` first, then the endpoints (duplicates dropped).
    pub hosts: Vec<HostSpec>,
    pub credentials: Credentials,
    pub timeouts: Timeouts,
}

fn present(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn present_secret(s: &Option<SecretString>) -> Option<&SecretString> {
    s.as_ref().filter(|s| !s.expose_secret().is_empty())
}

impl Config {
    /// The URL as it may be shown: any user info replaced by `***@`.
    pub fn shown_url(&self) -> String {
        redact_userinfo(&self.url)
    }

    /// The URL's origin, `https://host:port` (with its path prefix, if any), as
    /// [`crate::Client::url`] gives it: two spellings of one server have the same origin.
    ///
    /// # Errors
    /// [`Error::Config`] when the url is missing or invalid.
    pub fn origin(&self) -> Result<String> {
        parse_url(&self.url).map(|(_, origin)| origin)
    }

    /// Checks the config and says exactly what is wrong.
    ///
    /// # Errors
    /// [`Error::Config`] when the url is missing or invalid, a credential pair is incomplete,
    /// neither pair is given, an id is malformed, or the TLS options contradict each other.
    pub fn validate(&self) -> Result<()> {
        self.resolve().map(|_| ())
    }

    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let (api_base, origin) = parse_url(&self.url)?;
        let token = match (present(&self.token_id), present_secret(&self.secret)) {
            (Some(id), Some(secret)) => Some((
                AuthId::parse_token(id).map_err(|e| Error::config(format!("token_id: {e}")))?,
                secret.clone(),
            )),
            (Some(_), None) => {
                return Err(Error::config("token_id is set but secret is missing"));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "secret is set but token_id is missing (write it as user@realm!tokenname)",
                ));
            }
            (None, None) => None,
        };
        let login = match (present(&self.username), present_secret(&self.password)) {
            (Some(user), Some(password)) => {
                let realm = present(&self.realm).unwrap_or("pam");
                let id = AuthId::from_user_realm(user, realm)
                    .map_err(|e| Error::config(format!("username: {e}")))?;
                if id.is_token() {
                    return Err(Error::config(
                        "username must be a user (user@realm), not a token id; put token ids in token_id",
                    ));
                }
                Some((id, password.clone()))
            }
            (Some(_), None) => {
                return Err(Error::config("username is set but password is missing"));
            }
            (None, Some(_)) => {
                return Err(Error::config("password is set but username is missing"));
            }
            (None, None) => None,
        };
        if token.is_none() && login.is_none() {
            return Err(Error::config(
                "no credentials: set token_id and secret (recommended), or username and password",
            ));
        }
        let trust = match (present(&self.fingerprint), self.no_tls_verify) {
            (Some(_), true) => {
                return Err(Error::config(
                    "fingerprint and no_tls_verify contradict each other: pin the fingerprint (safer) or skip verification, not both",
                ));
            }
            (Some(fp), false) => Trust::Fingerprint(
                fp.parse::<Fingerprint>()
                    .map_err(|e| Error::config(e.to_string()))?,
            ),
            (None, true) => Trust::Insecure,
            (None, false) => Trust::System,
        };
        let mut hosts = vec![HostSpec {
            api_base: api_base.clone(),
            origin: origin.clone(),
            trust: trust.clone(),
        }];
        for e in &self.endpoints {
            let (api_base, origin) = parse_url(&e.url)?;
            let trust = match (present(&e.fingerprint), &trust) {
                (Some(_), Trust::Insecure) => {
                    return Err(Error::config(format!(
                        "endpoint {origin}: a fingerprint and no_tls_verify contradict each other"
                    )));
                }
                (Some(fp), _) => Trust::Fingerprint(
                    fp.parse::<Fingerprint>()
                        .map_err(|err| Error::config(format!("endpoint {origin}: {err}")))?,
                ),
                (None, t) => t.clone(),
            };
            if !hosts.iter().any(|h| h.origin == origin) {
                hosts.push(HostSpec {
                    api_base,
                    origin,
                    trust,
                });
            }
        }
        Ok(Resolved {
            origin,
            hosts,
            credentials: Credentials { token, login },
            timeouts: self.timeouts,
        })
    }
}

/// Parses the cluster URL: https only, with or without `/api2/json` and a trailing slash.
/// `raw` with any user info (`user:password@`) replaced by `***@`, for messages.
pub(crate) fn redact_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***@{}", &raw[..scheme_end], &rest[at + 1..]),
        None => raw.to_string(),
    }
}

pub(crate) fn parse_url(raw: &str) -> Result<(Url, String)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::config(
            "url is required, for example https://pve.example.com:8006",
        ));
    }
    // Never echo a password someone put into the URL.
    let shown = redact_userinfo(raw);
    let url = Url::parse(raw).map_err(|e| {
        Error::config(format!(
            "url '{shown}' is not valid ({e}); expected e.g. https://pve.example.com:8006"
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() || shown != raw {
        return Err(Error::config(format!(
            "url '{shown}' must not carry user info: put the user in username or token_id and the password or secret in their own settings"
        )));
    }
    if url.scheme() != "https" {
        return Err(Error::config(format!(
            "url '{shown}' must use https: Proxmox VE serves its API only over https (port 8006)"
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Error::config(format!("url '{shown}' has no host")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "url '{shown}' must not carry a query or fragment"
        )));
    }
    let path = url.path().trim_end_matches('/');
    let prefix = path.strip_suffix("/api2/json").unwrap_or(path);
    let port = url.port_or_known_default().unwrap_or(8006);
    let host_part = match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        _ => host.to_string(),
    };
    let origin = format!("https://{host_part}:{port}{prefix}");
    let api_base = Url::parse(&format!("{origin}/api2/json"))
        .map_err(|e| Error::config(format!("url '{shown}': {e}")))?;
    Ok((api_base, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_refused_and_never_echoed() {
        for url in [
            "https://root:hunter2@pve.example.com:8006",
            "https://:hunter2@pve.example.com",
            "https://root@pve.example.com",
            "https://root:hunter2@pve example.com",
            "http://root:hunter2@pve.example.com",
        ] {
            let Err(err) = token_cfg(url).resolve() else {
                panic!("{url} was accepted");
            };
            let err = err.to_string();
            assert!(!err.contains("hunter2"), "{url}: {err}");
            assert!(err.contains("***@"), "{url}: {err}");
            let debug = format!("{:?}", token_cfg(url));
            assert!(!debug.contains("hunter2"), "{url}: {debug}");
        }
        assert_eq!(
            redact_userinfo("https://a:b@h:1/p@q"),
            "https://***@h:1/p@q"
        );
        assert_eq!(redact_userinfo("https://h/p@q"), "https://h/p@q");
    }

    fn token_cfg(url: &str) -> Config {
        Config {
            url: url.into(),
            token_id: Some("root@pam!tok".into()),
            secret: Some("s".into()),
            ..Default::default()
        }
    }

    #[test]
    fn url_forms() {
        for u in [
            "https://pve:8006",
            "https://pve:8006/",
            "https://pve:8006/api2/json",
            "https://pve:8006/api2/json/",
        ] {
            let r = token_cfg(u).resolve().unwrap();
            assert_eq!(
                r.hosts[0].api_base.as_str(),
                "https://pve:8006/api2/json",
                "{u}"
            );
            assert_eq!(r.origin, "https://pve:8006");
        }
        let r = token_cfg("https://[::1]:8006").resolve().unwrap();
        assert_eq!(r.hosts[0].api_base.as_str(), "https://[::1]:8006/api2/json");
        for bad in [
            "",
            "pve:8006",
            "http://pve:8006",
            "https://",
            "https://pve?x=1",
            "not a url",
        ] {
            assert!(
                matches!(token_cfg(bad).resolve(), Err(Error::Config { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn credential_pairs() {
        let mut c = token_cfg("https://pve:8006");
        c.secret = None;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("secret is missing")
        );
        let c = Config {
            url: "https://pve:8006".into(),
            ..Default::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("no credentials")
        );
        let c = Config {
            url: "https://pve:8006".into(),
            username: Some("root".into()),
            password: Some("pw".into()),
            ..Default::default()
        };
        let r = c.resolve().unwrap();
        assert_eq!(r.credentials.login.unwrap().0.to_string(), "root@pam");
        let c = Config {
            realm: Some("pve".into()),
            ..c
        };
        assert_eq!(
            c.resolve()
                .unwrap()
                .credentials
                .login
                .unwrap()
                .0
                .to_string(),
            "root@pve"
        );
        let c = Config {
            username: Some("root".into()),
            password: None,
            ..c
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("password is missing")
        );
        let mut c = token_cfg("https://pve:8006");
        c.token_id = Some("root@pam".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("not a token id")
        );
    }

    #[test]
    fn tls_options() {
        let mut c = token_cfg("https://pve:8006");
        assert_eq!(c.resolve().unwrap().hosts[0].trust, Trust::System);
        c.no_tls_verify = true;
        assert_eq!(c.resolve().unwrap().hosts[0].trust, Trust::Insecure);
        c.fingerprint = Some("AB".repeat(32));
        assert!(c.validate().unwrap_err().to_string().contains("contradict"));
        c.no_tls_verify = false;
        assert!(matches!(
            c.resolve().unwrap().hosts[0].trust,
            Trust::Fingerprint(_)
        ));
        c.fingerprint = Some("nope".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("fingerprint")
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = Config {
            url: "https://pve:8006".into(),
            username: Some("root".into()),
            password: Some("hunter2-password".into()),
            token_id: Some("root@pam!tok".into()),
            secret: Some("0b5e-secret".into()),
            ..Default::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && !d.contains("0b5e"), "{d}");
    }
}
