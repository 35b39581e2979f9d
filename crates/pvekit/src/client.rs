//! The client of one Proxmox VE cluster: transport, authentication, discovery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, COOKIE, HeaderValue};
use pvekit_core::envelope::ApiErrorBody;
use pvekit_core::types::{
    ClusterNode, ClusterResource, ClusterStatusItem, NodeListItem, ResourceType, Version,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::debug;

use crate::auth::{Auth, Session, TicketAuth, TicketResponse};
use crate::config::{Config, Resolved};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::tls::{self, PresentedCert};

/// Tuning of a [`Client`] beyond what the [`Config`] file states.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Renew the ticket once it is this old (default 15 minutes, as the web UI does; tickets
    /// live two hours).
    pub ticket_renewal: Duration,
    /// At most this many requests in flight to the cluster at once (default 16).
    pub max_in_flight: usize,
    /// How often an open terminal sends termproxy's keepalive `2` (default
    /// [`KEEPALIVE_INTERVAL`](crate::KEEPALIVE_INTERVAL), 30 s, as the web UI does), so idle
    /// sessions outlive proxies that drop quiet connections.
    pub terminal_keepalive: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            ticket_renewal: Duration::from_secs(15 * 60),
            max_in_flight: 16,
            terminal_keepalive: crate::KEEPALIVE_INTERVAL,
        }
    }
}

/// A connection to one Proxmox VE cluster (or standalone node). Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), pvekit::Error> {
/// let config = pvekit::Config {
///     url: "https://pve.example.com:8006".into(),
///     token_id: Some("root@pam!monitoring".into()),
///     secret: Some("00000000-0000-0000-0000-000000000000".to_string().into()),
///     ..Default::default()
/// };
/// let client = pvekit::Client::connect(&config).await?;
/// println!("{} runs Proxmox VE {}", client.name(), client.version().version);
/// for member in client.members() {
///     println!("{} online={}", member.name, member.online);
/// }
/// let guests = client.cluster_resources(Some(pvekit::types::ResourceType::Vm)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    version: Version,
    name: String,
    /// Members as last discovered; replaced whole by `update_cluster_info`.
    nodes: std::sync::RwLock<Arc<Vec<ClusterNode>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.conn.resolved.origin)
            .field("cluster", &self.inner.name)
            .field("version", &self.inner.version.version)
            .finish_non_exhaustive()
    }
}

/// Parameters of a request: name/value pairs, booleans already as `1`/`0`.
pub type Params<'a> = &'a [(&'a str, String)];

/// One address of a cluster, with its own TLS trust.
struct Host {
    /// `https://host:port/api2/json`.
    api_base: url::Url,
    /// `https://host:port`.
    origin: String,
    http: reqwest::Client,
    presented: PresentedCert,
    /// The TLS settings of `http`, for websockets.
    tls: Arc<rustls::ClientConfig>,
    /// Marked when a connection to it failed; cleared by its next success.
    down: std::sync::atomic::AtomicBool,
}

impl Host {
    fn url_for(&self, path: &str) -> String {
        format!("{}{}", self.api_base.as_str().trim_end_matches('/'), path)
    }
}

/// The transport and authentication of a client.
struct Conn {
    sent: std::sync::atomic::AtomicU64,
    /// Answers by HTTP status (`None`: no answer, the request failed in transport).
    answers: std::sync::Mutex<std::collections::BTreeMap<Option<u16>, u64>>,
    /// Whether the server has accepted these credentials once. Until then calls get the login
    /// timeout: Proxmox VE answers a rejected token or ticket only after about 3 s, which
    /// would otherwise look like a timeout of the first call instead of an auth error.
    verified: std::sync::atomic::AtomicBool,
    /// The cluster's addresses: `url` first, then the config's endpoints.
    hosts: Vec<Host>,
    /// The host requests go to now: one rotating choice shared by concurrent requests.
    current: std::sync::atomic::AtomicUsize,
    resolved: Resolved,
    auth: Auth,
    limiter: Semaphore,
    keepalive: Duration,
}

impl Client {
    /// Connects with default [`ClientOptions`]: validates the config, logs in (password
    /// auth), reads the version and discovers the cluster's nodes.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config, [`Error::Tls`] when the certificate is not
    /// trusted, [`Error::Connect`] / [`Error::Timeout`] when the server cannot be reached,
    /// [`Error::Auth`] for rejected credentials.
    pub async fn connect(config: &Config) -> Result<Client> {
        Self::connect_with(config, ClientOptions::default()).await
    }

    /// Like [`Client::connect`] with explicit options.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn connect_with(config: &Config, options: ClientOptions) -> Result<Client> {
        let resolved = config.resolve()?;
        let mut hosts = Vec::with_capacity(resolved.hosts.len());
        for spec in &resolved.hosts {
            let presented = PresentedCert::default();
            let tls = tls::client_config(&spec.trust, presented.clone())?;
            let http = reqwest::Client::builder()
                .tls_backend_preconfigured(tls.clone())
                .connect_timeout(resolved.timeouts.connect)
                .pool_idle_timeout(Duration::from_secs(50))
                .pool_max_idle_per_host(options.max_in_flight.max(1))
                .user_agent(concat!("pvekit/", env!("CARGO_PKG_VERSION")))
                // Follow no redirect: a 307/308 would re-post the login form, password and
                // all, to wherever it points. Proxmox VE's API never redirects.
                .redirect(reqwest::redirect::Policy::none())
                .https_only(true)
                // One proxy policy for REST and the terminal websocket: direct connections,
                // so the environment's HTTP(S)_PROXY is not used for either (see the README).
                .no_proxy()
                .build()
                .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;
            hosts.push(Host {
                api_base: spec.api_base.clone(),
                origin: spec.origin.clone(),
                http,
                presented,
                tls: Arc::new(tls),
                down: std::sync::atomic::AtomicBool::new(false),
            });
        }
        let creds = &resolved.credentials;
        let auth = Auth {
            token: creds
                .token
                .as_ref()
                .map(|(id, secret)| Auth::token_header(id, secret)),
            login: creds
                .login
                .as_ref()
                .map(|(id, pw)| TicketAuth::new(id.clone(), pw.clone(), options.ticket_renewal)),
        };
        let conn = Conn {
            sent: std::sync::atomic::AtomicU64::new(0),
            answers: Default::default(),
            verified: std::sync::atomic::AtomicBool::new(false),
            hosts,
            current: std::sync::atomic::AtomicUsize::new(0),
            resolved,
            auth,
            limiter: Semaphore::new(options.max_in_flight.max(1)),
            // A zero period would make `tokio::time::interval` panic.
            keepalive: options.terminal_keepalive.max(Duration::from_millis(10)),
        };
        if let (None, Some(t)) = (&conn.auth.token, &conn.auth.login) {
            conn.login(t).await?;
        }
        let version: Version = conn.call(Method::GET, "/version", &[]).await?;
        let (name, nodes) = conn.discover().await?;
        debug!(cluster = %name, version = %version.version, nodes = nodes.len(), "connected");
        Ok(Client {
            inner: Arc::new(Inner {
                conn,
                version,
                name,
                nodes: std::sync::RwLock::new(Arc::new(nodes)),
            }),
        })
    }

    /// The cluster name, or the node name of a standalone node.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The cluster's id, as GoDoxy's `Client.Key`: its name (two standalone nodes may share
    /// one; [`NodePool`](crate::NodePool) tells clusters apart by [`Client::url`]).
    pub fn key(&self) -> &str {
        &self.inner.name
    }

    /// `https://host:port` of the API.
    pub fn url(&self) -> &str {
        &self.inner.conn.resolved.origin
    }

    /// The pve-manager version of the node the client talks to.
    pub fn version(&self) -> &Version {
        &self.inner.version
    }

    /// A handle on node `name` of this cluster. No I/O and no check: a node that joined
    /// after [`Client::connect`] works like any other; a name that is no node fails at the
    /// first call.
    pub fn node(&self, name: &str) -> Node {
        Node::new(self.clone(), name)
    }

    /// The cluster's members as last discovered (at connect, or by
    /// [`Client::refresh_members`]): plain data, sorted by name.
    pub fn members(&self) -> Vec<ClusterNode> {
        self.inner
            .nodes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .clone()
    }

    /// Calls `f` with the members as last discovered, without copying them.
    pub(crate) fn with_members<R>(&self, f: impl FnOnce(&[ClusterNode]) -> R) -> R {
        let members = self
            .inner
            .nodes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        f(&members)
    }

    /// Handles on the members as last discovered.
    pub fn nodes(&self) -> Vec<Node> {
        self.members()
            .into_iter()
            .map(|n| Node::new(self.clone(), n.name))
            .collect()
    }

    /// Discovers the cluster's members again (nodes joined or left, went offline) and
    /// returns them.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn refresh_members(&self) -> Result<Vec<ClusterNode>> {
        let (_, nodes) = self.inner.conn.discover().await?;
        *self.inner.nodes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(nodes.clone());
        Ok(nodes)
    }

    /// How many API requests this client has sent (logins excluded), for figures and tests.
    pub fn requests_sent(&self) -> u64 {
        self.inner
            .conn
            .sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many API requests (logins excluded) got each HTTP status so far; `None` counts
    /// the requests that got no answer (connection, TLS or timeout failures). For metrics.
    pub fn answers_by_status(&self) -> Vec<(Option<u16>, u64)> {
        let answers = self.inner.conn.answers.lock();
        let answers = answers.unwrap_or_else(|e| e.into_inner());
        answers.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// The SHA-256 fingerprint of the certificate the current address presented last.
    pub fn server_fingerprint(&self) -> Option<pvekit_core::Fingerprint> {
        self.inner.conn.host().1.presented.get()
    }

    /// The address requests go to now: `url`, or the endpoint it failed over to.
    pub fn current_url(&self) -> &str {
        &self.inner.conn.host().1.origin
    }

    /// `GET` an API path (below `/api2/json`) and decode its `data`.
    ///
    /// # Errors
    /// Any transport, auth or API error; [`Error::Decode`] when `data` does not fit `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.inner.conn.call(Method::GET, path, &[]).await
    }

    /// `GET` with query parameters.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn get_with<T: DeserializeOwned>(&self, path: &str, params: Params<'_>) -> Result<T> {
        self.inner.conn.call(Method::GET, path, params).await
    }

    /// `POST` form parameters and decode `data` (a UPID string for actions).
    ///
    /// # Errors
    /// As [`Client::get`]. Writes are never retried.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, params: Params<'_>) -> Result<T> {
        self.inner.conn.call(Method::POST, path, params).await
    }

    /// `PUT` form parameters and decode `data` (usually `null`).
    ///
    /// # Errors
    /// As [`Client::post`].
    pub async fn put<T: DeserializeOwned>(&self, path: &str, params: Params<'_>) -> Result<T> {
        self.inner.conn.call(Method::PUT, path, params).await
    }

    /// `DELETE` with query parameters and decode `data` (usually `null`).
    ///
    /// # Errors
    /// As [`Client::post`].
    pub async fn delete<T: DeserializeOwned>(&self, path: &str, params: Params<'_>) -> Result<T> {
        self.inner.conn.call(Method::DELETE, path, params).await
    }

    /// `POST` with the login ticket even when a token is configured (terminal endpoints).
    pub(crate) async fn post_with_login<T: DeserializeOwned>(
        &self,
        path: &str,
        params: Params<'_>,
    ) -> Result<T> {
        self.inner
            .conn
            .call_via(Via::Login, Method::POST, path, params)
            .await
    }

    /// What a websocket to this cluster needs: where, how to trust it, which cookie.
    pub(crate) async fn websocket_target(&self) -> Result<WebsocketTarget> {
        let conn = &self.inner.conn;
        let login = conn.auth.login.as_ref().ok_or(Error::NoSession)?;
        let session = conn.session(login).await?;
        // Terminal sessions open on the address that answers now.
        let (_, host) = conn.host();
        Ok(WebsocketTarget {
            api_base: host.api_base.clone(),
            tls: host.tls.clone(),
            cookie: format!("PVEAuthCookie={}", session.ticket.expose_secret()).into(),
            connect_timeout: conn.resolved.timeouts.connect,
            request_timeout: conn.resolved.timeouts.request,
            user: login.userid.clone(),
            keepalive: conn.keepalive,
        })
    }

    /// The API token the client's API calls use, if the config has one.
    pub fn token_id(&self) -> Option<&pvekit_core::AuthId> {
        self.inner
            .conn
            .resolved
            .credentials
            .token
            .as_ref()
            .map(|(id, _)| id)
    }

    /// The user of the username/password login, if the config has one.
    pub fn login_user(&self) -> Option<&pvekit_core::AuthId> {
        self.inner.conn.auth.login.as_ref().map(|l| &l.userid)
    }

    /// `GET /cluster/resources`, optionally filtered by type.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn cluster_resources(
        &self,
        kind: Option<ResourceType>,
    ) -> Result<Vec<ClusterResource>> {
        match kind {
            Some(k) => {
                self.get_with("/cluster/resources", &[("type", k.as_str().to_string())])
                    .await
            }
            None => self.get("/cluster/resources").await,
        }
    }

    /// `GET` an API path, handing a successful answer's body to a fresh sink from `sink`
    /// (one per attempt) as it arrives.
    pub(crate) async fn get_into<S: BodySink>(
        &self,
        path: &str,
        params: Params<'_>,
        sink: &(impl Fn() -> S + Sync),
    ) -> Result<S::Output> {
        self.inner
            .conn
            .call_into(Via::Api, Method::GET, path, params, sink)
            .await
    }

    /// `GET /cluster/status`, items of unknown type skipped.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn cluster_status(&self) -> Result<Vec<ClusterStatusItem>> {
        self.inner.conn.cluster_status().await
    }
}

impl Conn {
    /// Reads the cluster name and members; falls back to `/nodes` when the identity may not
    /// read the cluster status (it needs Sys.Audit on `/`).
    async fn discover(&self) -> Result<(String, Vec<ClusterNode>)> {
        match self.cluster_status().await {
            Ok(items) => {
                let mut name = None;
                let mut nodes = Vec::new();
                for item in items {
                    match item {
                        ClusterStatusItem::Cluster(c) => name = Some(c.name),
                        ClusterStatusItem::Node(n) => nodes.push(n),
                    }
                }
                keep_valid_node_names(&mut nodes);
                nodes.sort_by(|a, b| a.name.cmp(&b.name));
                let name = name
                    .or_else(|| nodes.first().map(|n| n.name.clone()))
                    .unwrap_or_else(|| self.resolved.origin.clone());
                Ok((name, nodes))
            }
            Err(Error::Permission { .. }) => {
                let list: Vec<NodeListItem> = self.call(Method::GET, "/nodes", &[]).await?;
                let mut nodes: Vec<ClusterNode> = list
                    .into_iter()
                    .map(|n| ClusterNode {
                        id: n.id.unwrap_or_else(|| format!("node/{}", n.node)),
                        online: n.status == "online",
                        name: n.node,
                        nodeid: 0,
                        local: false,
                        ip: None,
                        level: None,
                    })
                    .collect();
                keep_valid_node_names(&mut nodes);
                nodes.sort_by(|a, b| a.name.cmp(&b.name));
                let name = if nodes.len() == 1 {
                    nodes[0].name.clone()
                } else {
                    self.resolved.origin.clone()
                };
                Ok((name, nodes))
            }
            Err(e) => Err(e),
        }
    }

    async fn cluster_status(&self) -> Result<Vec<ClusterStatusItem>> {
        let raw: Vec<serde_json::Value> = self.call(Method::GET, "/cluster/status", &[]).await?;
        raw.into_iter()
            .filter(|v| {
                matches!(
                    v.get("type").and_then(|t| t.as_str()),
                    Some("cluster" | "node")
                )
            })
            .map(|v| {
                pvekit_core::perl::from_value(v).map_err(|e| Error::Decode {
                    method: "GET".into(),
                    path: "/cluster/status".into(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Logs in with the password and stores the session.
    async fn login(&self, t: &TicketAuth) -> Result<Session> {
        let _one = t.renewing.lock().await;
        self.login_locked(t, None).await
    }

    /// Logs in; with `renew` the current ticket is posted as the password instead.
    async fn login_locked(&self, t: &TicketAuth, renew: Option<&SecretString>) -> Result<Session> {
        let password = renew.unwrap_or(&t.password);
        let params = [
            ("username", t.userid.to_string()),
            ("password", password.expose_secret().to_string()),
        ];
        let what = if renew.is_some() {
            "ticket renewal"
        } else {
            "login"
        };
        // A login never reached a host that refused the connection: the next one is tried.
        let resp = loop {
            let (i, host) = self.host();
            let req = host
                .http
                .post(host.url_for("/access/ticket"))
                .form(&params)
                .timeout(self.resolved.timeouts.login);
            match self
                .execute(
                    host,
                    req,
                    "POST",
                    "/access/ticket",
                    self.resolved.timeouts.login,
                )
                .await
            {
                Ok(resp) => {
                    self.host_answered(i);
                    break resp;
                }
                Err(e) if e.is_connect() && self.host_failed(i) => continue,
                Err(e) => return Err(e),
            }
        };
        let data: TicketResponse = match self.decode(resp, "POST", "/access/ticket", false).await {
            Ok(d) => d,
            Err(Error::Auth { .. }) if renew.is_none() => {
                return Err(Error::Auth {
                    message: format!("{what} as {} was refused", t.userid),
                    token: false,
                });
            }
            Err(e) => return Err(e),
        };
        if data.need_tfa {
            return Err(Error::Auth {
                message: format!(
                    "{} has two-factor authentication enabled, which pvekit cannot complete (use an API token)",
                    t.userid
                ),
                token: false,
            });
        }
        let s = Session {
            ticket: data.ticket,
            csrf: data.csrf,
            obtained: Instant::now(),
        };
        t.store(Some(s.clone()));
        debug!(user = %t.userid, what, "obtained ticket");
        Ok(s)
    }

    /// The session to use now: renewed when old, re-created when missing.
    async fn session(&self, t: &TicketAuth) -> Result<Session> {
        if let Some(s) = t.current()
            && t.usable_without_renewal(&s)
        {
            return Ok(s);
        }
        let _one = t.renewing.lock().await;
        match t.current() {
            Some(s) if t.usable_without_renewal(&s) => Ok(s),
            Some(s) => match self.login_locked(t, Some(&s.ticket)).await {
                Ok(new) => Ok(new),
                Err(Error::Auth { .. }) => self.login_locked(t, None).await,
                // The server could not renew it now, but the ticket is still good: use it,
                // and try again later (see the auth module).
                Err(e)
                    if s.obtained.elapsed() + crate::auth::EXPIRY_MARGIN
                        < crate::auth::TICKET_LIFETIME =>
                {
                    tracing::warn!(error = %e, "ticket renewal failed; the current ticket stays in use");
                    t.renewal_failed();
                    Ok(s)
                }
                Err(e) => Err(e),
            },
            None => self.login_locked(t, None).await,
        }
    }

    /// The host to use now: the current one unless it is marked down, else the next that is
    /// not (the current one when all are).
    fn host(&self) -> (usize, &Host) {
        let n = self.hosts.len();
        let start = self.current.load(std::sync::atomic::Ordering::Relaxed) % n;
        let i = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| {
                !self.hosts[i]
                    .down
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .unwrap_or(start);
        (i, &self.hosts[i])
    }

    /// A request to host `i` failed: mark it down and move the shared choice past it.
    /// Whether another host is there to try.
    fn host_failed(&self, i: usize) -> bool {
        use std::sync::atomic::Ordering;
        let n = self.hosts.len();
        if n < 2 {
            return false;
        }
        if !self.hosts[i].down.swap(true, Ordering::Relaxed) {
            tracing::warn!(host = %self.hosts[i].origin, "not answering; trying the cluster's next address");
        }
        let _ = self
            .current
            .compare_exchange(i, (i + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
        self.hosts.iter().any(|h| !h.down.load(Ordering::Relaxed))
    }

    /// A request to host `i` succeeded: it is up, and the choice stays on it.
    fn host_answered(&self, i: usize) {
        use std::sync::atomic::Ordering;
        if self.hosts[i].down.swap(false, Ordering::Relaxed) {
            tracing::info!(host = %self.hosts[i].origin, "answering again");
        }
        if self.hosts.len() > 1 {
            self.current.store(i, Ordering::Relaxed);
        }
    }

    /// Sends one API call and decodes `data`. Ticket auth re-logs in once on a 401.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: Params<'_>,
    ) -> Result<T> {
        self.call_via(Via::Api, method, path, params).await
    }

    /// Like `call`, choosing the credentials.
    pub(crate) async fn call_via<T: DeserializeOwned>(
        &self,
        via: Via,
        method: Method,
        path: &str,
        params: Params<'_>,
    ) -> Result<T> {
        self.call_into(via, method, path, params, &Whole::<T>::default)
            .await
    }

    /// Like `call_via`, handing a successful answer's body to a fresh sink from `sink` (one
    /// per attempt) as it arrives.
    async fn call_into<S: BodySink>(
        &self,
        via: Via,
        method: Method,
        path: &str,
        params: Params<'_>,
        sink: &(impl Fn() -> S + Sync),
    ) -> Result<S::Output> {
        if !path.starts_with('/') {
            return Err(Error::invalid(format!(
                "API path '{path}' must start with '/'"
            )));
        }
        let _permit = self
            .limiter
            .acquire()
            .await
            .map_err(|_| Error::unsupported("the client is closed"))?;
        let mut relogged = false;
        let mut attempt = 0u32;
        let mut failovers = 0;
        let read = method == Method::GET;
        loop {
            let result = self.send_once(via, &method, path, params, sink).await;
            match result {
                Err((Error::Auth { .. }, Some(old), _)) if !relogged => {
                    // The server no longer accepts the ticket: log in again, once. Never loop
                    // on 401: the real server delays each one by about 3 s.
                    if let Some(t) = &self.auth.login {
                        t.invalidate(&old);
                    }
                    relogged = true;
                }
                // The connection failed, so the request was never sent: any method moves on
                // to the cluster's next address (as Proxmox Datacenter Manager's client does).
                Err((e, _, Some(i)))
                    if e.is_connect() && failovers < self.hosts.len() && self.host_failed(i) =>
                {
                    failovers += 1;
                    debug!(path, error = %e, "trying the next address");
                }
                // Failed after the connection was made: only a read may be repeated, on the
                // next address when the host itself stopped answering.
                Err((e, _, Some(i)))
                    if read
                        && attempt < READ_RETRIES
                        && (is_transient(&e) || matches!(e, Error::Timeout { .. })) =>
                {
                    attempt += 1;
                    let host_failed = matches!(e, Error::Transport { .. } | Error::Timeout { .. });
                    if host_failed && self.host_failed(i) {
                        debug!(path, attempt, error = %e, "repeating a read on the next address");
                    } else if matches!(e, Error::Timeout { .. }) {
                        // A timeout with no other address: not repeated (it already took long).
                        return Err(e);
                    } else {
                        let wait = backoff(attempt);
                        debug!(path, attempt, error = %e, ?wait, "retrying a read");
                        tokio::time::sleep(wait).await;
                    }
                }
                other => return other.map_err(|(e, _, _)| e),
            }
        }
    }

    /// One attempt; on error also returns the ticket that was used, if any.
    async fn send_once<S: BodySink>(
        &self,
        via: Via,
        method: &Method,
        path: &str,
        params: Params<'_>,
        sink: &(impl Fn() -> S + Sync),
    ) -> std::result::Result<S::Output, (Error, Option<SecretString>, Option<usize>)> {
        let (i, host) = self.host();
        let mut req = host.http.request(method.clone(), host.url_for(path));
        req = if method == Method::GET || method == Method::DELETE {
            req.query(params)
        } else {
            req.form(params)
        };
        let mut used_ticket = None;
        match (via, &self.auth.token, &self.auth.login) {
            (Via::Api, Some(header), _) => {
                req = req.header(
                    AUTHORIZATION,
                    sensitive(header.expose_secret()).map_err(|e| (e, None, None))?,
                );
            }
            (_, _, Some(t)) => {
                let s = self.session(t).await.map_err(|e| (e, None, None))?;
                let cookie = sensitive(&format!("PVEAuthCookie={}", s.ticket.expose_secret()));
                req = req.header(COOKIE, cookie.map_err(|e| (e, None, None))?);
                if method != Method::GET {
                    let csrf = sensitive(s.csrf.expose_secret()).map_err(|e| (e, None, None))?;
                    req = req.header("CSRFPreventionToken", csrf);
                }
                used_ticket = Some(s.ticket);
            }
            (Via::Login, _, None) => return Err((Error::NoSession, None, None)),
            (Via::Api, None, None) => return Err((Error::config("no credentials"), None, None)),
        }
        if S::OWN_CONNECTION {
            req = req.header(http::header::CONNECTION, "close");
        }
        let timeouts = &self.resolved.timeouts;
        let timeout = if self.verified.load(std::sync::atomic::Ordering::Relaxed) {
            timeouts.request
        } else {
            timeouts.request.max(timeouts.login)
        };
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = match self
            .execute(host, req.timeout(timeout), method.as_str(), path, timeout)
            .await
        {
            Ok(resp) => {
                self.count_answer(Some(resp.status().as_u16()));
                self.host_answered(i);
                if resp.status().is_success() {
                    self.verified
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                self.decode_into(resp, method.as_str(), path, used_ticket.is_none(), sink())
                    .await
            }
            Err(e) => {
                self.count_answer(None);
                Err(e)
            }
        };
        result.map_err(|e| (e, used_ticket, Some(i)))
    }

    fn count_answer(&self, status: Option<u16>) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        *answers.entry(status).or_default() += 1;
    }

    async fn execute(
        &self,
        host: &Host,
        req: reqwest::RequestBuilder,
        method: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response> {
        req.send()
            .await
            .map_err(|e| self.map_send_error(host, e, method, path, timeout))
    }

    fn map_send_error(
        &self,
        host: &Host,
        e: reqwest::Error,
        method: &str,
        path: &str,
        timeout: Duration,
    ) -> Error {
        let url = host.origin.clone();
        if let Some(r) = tls::find_rustls_error(&e)
            && matches!(r, rustls::Error::InvalidCertificate(_))
        {
            return Error::Tls {
                url,
                reason: tls::describe(r),
                presented: host.presented.get().map(|f| f.to_string()),
            };
        }
        if e.is_timeout() {
            return Error::Timeout {
                what: format!("{method} {url}{path}"),
                after: timeout,
            };
        }
        let reason = error_chain(&e);
        if e.is_connect() {
            Error::Connect { url, reason }
        } else {
            Error::Transport {
                method: method.into(),
                path: path.into(),
                reason,
            }
        }
    }

    /// Turns a response into `data` or a typed error.
    async fn decode<T: DeserializeOwned>(
        &self,
        resp: reqwest::Response,
        method: &str,
        path: &str,
        used_token: bool,
    ) -> Result<T> {
        self.decode_into(resp, method, path, used_token, Whole::<T>::default())
            .await
    }

    /// Turns a response into what `sink` makes of a successful body, or a typed error.
    async fn decode_into<S: BodySink>(
        &self,
        resp: reqwest::Response,
        method: &str,
        path: &str,
        used_token: bool,
        sink: S,
    ) -> Result<S::Output> {
        let status = resp.status();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
        let location = status
            .is_redirection()
            .then(|| resp.headers().get(reqwest::header::LOCATION).cloned())
            .flatten();
        let read_error = |e: Option<reqwest::Error>| {
            let Some(e) = e else {
                return Error::Transport {
                    method: method.into(),
                    path: path.into(),
                    reason: format!(
                        "the answer is larger than {} MiB, more than any Proxmox VE answer",
                        MAX_BODY >> 20
                    ),
                };
            };
            if e.is_timeout() {
                Error::Timeout {
                    what: format!("{method} {path}"),
                    after: self.resolved.timeouts.request,
                }
            } else {
                Error::Transport {
                    method: method.into(),
                    path: path.into(),
                    reason: error_chain(&e),
                }
            }
        };
        if status.is_success() {
            let decode_error = |reason: String| Error::Decode {
                method: method.into(),
                path: path.into(),
                reason,
            };
            let mut sink = sink;
            read_capped_into(resp, &mut sink)
                .await
                .map_err(|e| match e {
                    SinkOrRead::Sink(reason) => decode_error(reason),
                    SinkOrRead::Read(e) => read_error(e),
                })?;
            return sink.finish().map_err(decode_error);
        }
        let body = read_capped(resp).await.map_err(read_error)?;
        if status.is_redirection() {
            let to = location
                .as_ref()
                .and_then(|l| l.to_str().ok())
                .map(|l| crate::config::redact_userinfo(l.split(['?', '#']).next().unwrap_or("")))
                .unwrap_or_default();
            return Err(Error::Api {
                method: method.into(),
                path: path.into(),
                status: status.as_u16(),
                message: format!(
                    "the server redirects to '{to}'; pvekit follows no redirects, so set url to the address the API answers on"
                ),
                errors: Default::default(),
            });
        }
        let err = ApiErrorBody::parse(&body);
        let reason = reason.or_else(|| status.canonical_reason().map(str::to_string));
        let message = err.best_message(reason.as_deref(), "no message");
        Err(match status.as_u16() {
            401 => Error::Auth {
                message: if used_token {
                    format!("{message}: the server rejected the API token")
                } else {
                    message
                },
                token: used_token,
            },
            403 => {
                // The token refusal has a newline inside its parentheses (pveproxy's own
                // message ends in one before raise_perm_exc wraps it).
                let message = message.replace(['\r', '\n'], "").trim_end().to_string();
                Error::Permission {
                    grant: permission_hint(&message, used_token),
                    message,
                }
            }
            500 if message.contains("does not exist") => Error::NotFound { message },
            code => Error::Api {
                method: method.into(),
                path: path.into(),
                status: code,
                message,
                errors: err.errors.unwrap_or_default(),
            },
        })
    }
}

/// Drops members whose names are not valid node names (`pve-node`, a DNS label): a name
/// from the server goes into paths and commands, so a hostile one is not used at all.
fn keep_valid_node_names(nodes: &mut Vec<ClusterNode>) {
    nodes.retain(|n| {
        let ok = pvekit_core::names::is_node_name(&n.name);
        if !ok {
            tracing::warn!(name = %n.name.escape_debug(), "ignoring a cluster member with an invalid node name");
        }
        ok
    });
}

/// The largest answer read: /cluster/resources of 10,000 guests is about 5 MiB.
const MAX_BODY: usize = 32 << 20;

/// Reads a body of at most [`MAX_BODY`] bytes; `Err(None)` when it is larger.
async fn read_capped(
    mut resp: reqwest::Response,
) -> std::result::Result<Vec<u8>, Option<reqwest::Error>> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Some)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Takes a successful answer's body as it arrives and makes the call's result of it.
pub(crate) trait BodySink: Send {
    /// The call's result.
    type Output;
    /// Whether the answer is large enough to be read over a connection of its own, closed
    /// after it: the HTTP client's read buffer grows with a large answer (to about 400 KiB)
    /// and would stay that large on every pooled connection that ever carried one.
    const OWN_CONNECTION: bool = false;
    /// The body's length, when the server says it (before any bytes).
    fn expect_len(&mut self, _len: usize) {}
    /// The next bytes of the body.
    fn feed(&mut self, bytes: &[u8]) -> std::result::Result<(), String>;
    /// The body is complete.
    fn finish(self) -> std::result::Result<Self::Output, String>;
}

/// The whole body, decoded leniently as an envelope of `T` once complete.
struct Whole<T> {
    body: Vec<u8>,
    _data: std::marker::PhantomData<fn() -> T>,
}

impl<T> Default for Whole<T> {
    fn default() -> Self {
        Whole {
            body: Vec::new(),
            _data: std::marker::PhantomData,
        }
    }
}

impl<T: DeserializeOwned> BodySink for Whole<T> {
    type Output = T;
    fn expect_len(&mut self, len: usize) {
        self.body.reserve_exact(len);
    }
    fn feed(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        self.body.extend_from_slice(bytes);
        Ok(())
    }
    fn finish(self) -> std::result::Result<T, String> {
        // Numbers may come as strings from the Perl server: decode leniently.
        pvekit_core::perl::from_slice::<pvekit_core::Envelope<T>>(&self.body)
            .map(|d| d.data)
            .map_err(|e| e.to_string())
    }
}

/// Why a body could not be taken in.
enum SinkOrRead {
    /// The sink refused it.
    Sink(String),
    /// As [`read_capped`].
    Read(Option<reqwest::Error>),
}

/// Hands a body of at most [`MAX_BODY`] bytes to `sink` as it arrives.
async fn read_capped_into<S: BodySink>(
    mut resp: reqwest::Response,
    sink: &mut S,
) -> std::result::Result<(), SinkOrRead> {
    match resp.content_length() {
        Some(n) if n > MAX_BODY as u64 => return Err(SinkOrRead::Read(None)),
        Some(n) => sink.expect_len(n as usize),
        None => {}
    }
    let mut read = 0;
    while let Some(chunk) = resp.chunk().await.map_err(|e| SinkOrRead::Read(Some(e)))? {
        read += chunk.len();
        if read > MAX_BODY {
            return Err(SinkOrRead::Read(None));
        }
        sink.feed(&chunk).map_err(SinkOrRead::Sink)?;
    }
    Ok(())
}

/// Where and how to open a websocket to the cluster.
pub(crate) struct WebsocketTarget {
    pub api_base: url::Url,
    pub tls: Arc<rustls::ClientConfig>,
    pub cookie: SecretString,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub user: pvekit_core::AuthId,
    pub keepalive: Duration,
}

/// The server's 403 message plus what to do about it. Proxmox VE names the ACL path and the
/// privileges: `Permission check failed (/vms/101, VM.PowerMgmt)`.
fn permission_hint(message: &str, used_token: bool) -> Option<String> {
    if message.contains("not available with API token") {
        return Some("this needs a username/password login".into());
    }
    let (path, privs) = message
        .strip_prefix("Permission check failed (")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|r| r.split_once(", "))?;
    let who = if used_token {
        "the API token (and, with privilege separation, its user too)"
    } else {
        "the user"
    };
    let need = if privs.contains('|') {
        format!("one of {}", privs.replace('|', ", "))
    } else {
        privs.to_string()
    };
    Some(format!(
        "{who} needs {need} on {path}; grant a role that has it under Datacenter > Permissions"
    ))
}

/// Which credentials a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The token if there is one, else the ticket.
    Api,
    /// The ticket of the username/password login (terminals need a real login).
    Login,
}

/// Extra attempts of a read after a transient failure.
const READ_RETRIES: u32 = 2;

/// Failures worth another try for an idempotent read: the connection broke, or a gateway
/// status (502 and up, including pveproxy's 59x for a node it cannot reach). A 500 is not:
/// Proxmox VE answers definite refusals with it ("No QEMU guest agent configured", "CT 100
/// not running", a missing guest).
fn is_transient(e: &Error) -> bool {
    match e {
        Error::Connect { .. } | Error::Transport { .. } => true,
        Error::Api { status, .. } => *status >= 502,
        _ => false,
    }
}

/// 100 ms, 200 ms, ... with ±50 % jitter, so clients that failed together do not retry
/// together.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64 << attempt.saturating_sub(1).min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    Duration::from_millis(base / 2 + nanos % base.max(1))
}

fn sensitive(v: &str) -> Result<HeaderValue> {
    let mut h = HeaderValue::from_str(v).map_err(|_| {
        Error::config("a credential contains characters that cannot be sent in an HTTP header")
    })?;
    h.set_sensitive(true);
    Ok(h)
}

/// The error and its causes on one line, without repeating parts.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::{ClusterNode, keep_valid_node_names, permission_hint};

    #[test]
    fn hostile_node_names_from_the_server_are_ignored() {
        let member = |name: &str| ClusterNode {
            id: format!("node/{name}"),
            name: name.into(),
            nodeid: 1,
            online: true,
            local: false,
            ip: None,
            level: None,
        };
        let mut nodes = vec![
            member("pve1"),
            member("../access"),
            member("a/b"),
            member("x;reboot"),
            member(""),
            member("pve-2"),
        ];
        keep_valid_node_names(&mut nodes);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["pve1", "pve-2"]);
    }

    #[test]
    fn permission_errors_say_what_to_grant() {
        assert_eq!(
            permission_hint("Permission check failed (/vms/101, VM.PowerMgmt)", false).unwrap(),
            "the user needs VM.PowerMgmt on /vms/101; grant a role that has it under Datacenter > Permissions"
        );
        let any = permission_hint(
            "Permission check failed (/vms/200, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted)",
            true,
        )
        .unwrap();
        assert!(
            any.contains("the API token (and, with privilege separation, its user too) needs one of VM.GuestAgent.Audit, VM.GuestAgent.Unrestricted on /vms/200"),
            "{any}"
        );
        assert_eq!(
            permission_hint(
                "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.)",
                true
            )
            .unwrap(),
            "this needs a username/password login"
        );
        assert_eq!(
            permission_hint(
                "Permission check failed (changing the hookscript is only allowed for root@pam)",
                false
            ),
            None
        );
    }
}
