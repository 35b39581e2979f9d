//! Starting and stopping the server: the listener (plain on loopback, TLS elsewhere), the
//! router with its auth layer, one watcher and one facts poll per cluster, and a graceful
//! shutdown that closes WebSockets with a close frame.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use pvekit::{Client, Store, WatchConfig, watcher};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::auth::{Auth, CSRF_HEADER, Caller, ConfiguredToken, Role, SESSION_COOKIE, new_token};
use crate::error::ApiError;
use crate::facts;
use crate::hub::Hub;
use crate::state::{AppState, Cluster, Tuning};
use crate::telemetry::Telemetry;

/// How the server speaks TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TlsSetup {
    /// Plain HTTP (loopback only).
    #[default]
    None,
    /// A certificate chain and its key, PEM files.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// A self-signed certificate made at start; its SHA-256 fingerprint is in the ready line.
    SelfSigned,
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (default `127.0.0.1:8080`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// TLS. A non-loopback address requires it.
    pub tls: TlsSetup,
    /// The API tokens. When none is configured an admin token is made at start (and a
    /// non-loopback address is refused).
    pub tokens: Vec<ConfiguredToken>,
    /// How each cluster is watched (`every_poll` is always on: stats need every poll).
    pub watch: WatchConfig,
    /// GoDoxy's keepalive: a WebSocket client that sends no `ping` for this long is closed
    /// (default 10 s: GoDoxy's clients ping every few seconds).
    pub ping_timeout: Duration,
    /// How often a guest's stats line goes out on its WebSocket (GoDoxy: 3 s).
    pub guest_stats_interval: Duration,
    /// How often a node's stats go out (GoDoxy: 1 s).
    pub node_stats_interval: Duration,
    /// How long shutdown waits for open requests before closing connections.
    pub grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            tls: TlsSetup::None,
            tokens: Vec::new(),
            watch: WatchConfig::default(),
            ping_timeout: Duration::from_secs(10),
            guest_stats_interval: Duration::from_secs(3),
            node_stats_interval: pvekit::NODE_STATS_POLL_INTERVAL,
            grace: Duration::from_secs(5),
        }
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A non-loopback address without TLS.
    #[error("listening on {0}, which is not a loopback address, requires TLS")]
    NeedsTls(SocketAddr),
    /// A non-loopback address without configured tokens.
    #[error("listening on {0}, which is not a loopback address, requires configured tokens")]
    NeedsTokens(SocketAddr),
    /// The tokens are not valid.
    #[error("serve tokens: {0}")]
    Tokens(String),
    /// The TLS files or setup.
    #[error("TLS: {0}")]
    Tls(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Two clusters have the same name.
    #[error("two clusters are named '{0}'; give them distinct names in the config")]
    DuplicateCluster(String),
}

impl ServeError {
    /// What to do about it, for people.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ServeError::NeedsTls(_) => {
                Some("add --tls-cert and --tls-key, or --tls-self-signed, or listen on 127.0.0.1")
            }
            ServeError::NeedsTokens(_) => {
                Some("add tokens under serve.tokens in the config file (pvekit serve --new-token)")
            }
            _ => None,
        }
    }
}

/// The server.
#[derive(Debug)]
pub struct Server;

/// A started server.
pub struct Running {
    url: String,
    admin_token: Option<SecretString>,
    login_url: SecretString,
    fingerprint: Option<String>,
    handle: axum_server::Handle<SocketAddr>,
    serving: JoinHandle<std::io::Result<()>>,
    pollers: Vec<JoinHandle<()>>,
    state: Arc<AppState>,
    grace: Duration,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("url", &self.url)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The server's base URL, such as `http://127.0.0.1:8080`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin token made at start, when no token was configured.
    pub fn admin_token(&self) -> Option<&SecretString> {
        self.admin_token.as_ref()
    }

    /// A one-time login link for an admin session in a browser (valid 15 minutes).
    pub fn login_url(&self) -> &SecretString {
        &self.login_url
    }

    /// The SHA-256 fingerprint of a self-signed certificate made at start.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// A new one-time login link with `role`.
    pub fn new_login_url(&self, name: &str, role: Role) -> SecretString {
        login_url(&self.url, &self.state.auth.new_login_code(name, role))
    }

    /// The line `pvekit serve` prints when ready:
    /// `{"url": ..., "token": ..., "login_url": ...}` (and `fingerprint` under a
    /// self-signed certificate). It holds credentials: print it only where the operator
    /// reads it, never into logs.
    pub fn ready_line(&self) -> String {
        let mut v = json!({
            "url": self.url,
            "token": self.admin_token.as_ref().map(|t| t.expose_secret()),
            "login_url": self.login_url.expose_secret(),
        });
        if let Some(fp) = &self.fingerprint {
            v["fingerprint"] = json!(fp);
        }
        v.to_string()
    }

    /// Waits for SIGTERM or Ctrl-C.
    pub async fn wait_for_signal(&self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = ctrl_c => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    }

    /// Stops: WebSockets and event streams end with a close frame, requests in flight get
    /// the grace period, the pollers stop. Power actions already sent run on to their end
    /// on the Proxmox VE side.
    pub async fn shutdown(self) {
        self.state.shutdown.cancel();
        self.handle.graceful_shutdown(Some(self.grace));
        match tokio::time::timeout(self.grace + Duration::from_secs(1), self.serving).await {
            Ok(Ok(Err(e))) => warn!(error = %e, "the server ended with an error"),
            Ok(_) => {}
            Err(_) => warn!("the server did not stop within its grace period"),
        }
        for p in self.pollers {
            p.abort();
            let _ = p.await;
        }
        info!("stopped");
    }

    /// The shared state (for tests and benchmarks in this crate).
    #[doc(hidden)]
    pub fn telemetry_websockets(&self) -> i64 {
        self.state.telemetry.websockets()
    }
}

fn login_url(base: &str, code: &SecretString) -> SecretString {
    format!("{base}/login?code={}", code.expose_secret()).into()
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

impl Server {
    /// Starts serving `clients` (connected; distinct names).
    ///
    /// # Errors
    /// [`ServeError`]: the address rules, bad tokens, TLS files, bind failures.
    pub async fn start(clients: Vec<Client>, options: ServeOptions) -> Result<Running, ServeError> {
        let tls_on = options.tls != TlsSetup::None;
        if !is_loopback(&options.listen) {
            if !tls_on {
                return Err(ServeError::NeedsTls(options.listen));
            }
            if options.tokens.is_empty() {
                return Err(ServeError::NeedsTokens(options.listen));
            }
        }
        let auth = Auth::new(&options.tokens).map_err(ServeError::Tokens)?;
        let mut admin_token = None;
        let auth = if auth.has_tokens() {
            auth
        } else {
            let token = new_token();
            let generated = ConfiguredToken {
                name: "admin".into(),
                role: Role::Admin,
                sha256: crate::auth::hash_token(token.expose_secret()),
            };
            admin_token = Some(token);
            Auth::new(&[generated]).map_err(ServeError::Tokens)?
        };

        let mut names = std::collections::BTreeSet::new();
        for c in &clients {
            if !names.insert(c.name().to_string()) {
                return Err(ServeError::DuplicateCluster(c.name().to_string()));
            }
        }
        let shutdown = CancellationToken::new();
        let mut clusters: Vec<Arc<Cluster>> = clients
            .into_iter()
            .map(|client| {
                let (snapshots, _) = watch::channel(Arc::default());
                Arc::new(Cluster {
                    name: client.name().to_string(),
                    client,
                    store: Store::new(),
                    feed: tokio::sync::broadcast::channel(crate::events::FEED_CAPACITY).0,
                    listed: std::sync::Mutex::default(),
                    snapshots,
                    facts: ArcSwap::default(),
                })
            })
            .collect();
        clusters.sort_by(|a, b| a.name.cmp(&b.name));

        let state = Arc::new(AppState {
            clusters,
            auth,
            telemetry: Telemetry::default(),
            hub: Hub::default(),
            shutdown: shutdown.clone(),
            tuning: Tuning {
                ping_timeout: options.ping_timeout,
                guest_stats_interval: options.guest_stats_interval,
                node_stats_interval: options.node_stats_interval,
                tls: tls_on,
            },
            tasks: Default::default(),
        });

        let mut pollers = Vec::new();
        for cluster in &state.clusters {
            pollers.push(tokio::spawn(watch_cluster(
                state.clone(),
                cluster.clone(),
                options.watch,
            )));
            pollers.push(tokio::spawn(crate::events::run_feed(
                cluster.clone(),
                state.shutdown.clone(),
            )));
            pollers.push(tokio::spawn(poll_facts(
                state.clone(),
                cluster.clone(),
                options.watch.interval,
            )));
        }

        let app = router(state.clone());
        let bind = |source| ServeError::Bind {
            addr: options.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(options.listen).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let local = listener.local_addr().map_err(bind)?;
        let handle = axum_server::Handle::new();
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let mut fingerprint = None;
        let serving = match &options.tls {
            TlsSetup::None => {
                let server = axum_server::from_tcp(listener)
                    .map_err(bind)?
                    .handle(handle.clone());
                tokio::spawn(async move { server.serve(service).await })
            }
            setup => {
                let (config, fp) = crate::tls::server_config(setup)?;
                fingerprint = fp;
                let config = axum_server::tls_rustls::RustlsConfig::from_config(config);
                let server = axum_server::tls_rustls::from_tcp_rustls(listener, config)
                    .map_err(bind)?
                    .handle(handle.clone());
                tokio::spawn(async move { server.serve(service).await })
            }
        };
        let scheme = if tls_on { "https" } else { "http" };
        let url = format!("{scheme}://{local}");
        let code = state.auth.new_login_code("admin", Role::Admin);
        let login_url = login_url(&url, &code);
        info!(%url, clusters = state.clusters.len(), "serving");
        Ok(Running {
            url,
            admin_token,
            login_url,
            fingerprint,
            handle,
            serving,
            pollers,
            state,
            grace: options.grace,
        })
    }
}

/// Runs a cluster's watcher: the store and the snapshot channel follow it.
async fn watch_cluster(state: Arc<AppState>, cluster: Arc<Cluster>, config: WatchConfig) {
    let config = WatchConfig {
        every_poll: true,
        ..config
    };
    let events = watcher(cluster.client.clone(), config);
    futures_util::pin_mut!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                // A snapshot's time is its poll's start: the poll took until now.
                let took = event
                    .snapshot()
                    .taken_at
                    .and_then(|t| std::time::SystemTime::now().duration_since(t).ok());
                state.telemetry.poll(&cluster.name, took, true);
                cluster.store.apply(&event);
                cluster.snapshots.send_replace(event.snapshot().clone());
            }
            Err(e) => {
                state.telemetry.poll(&cluster.name, None, false);
                warn!(cluster = %cluster.name, error = %e, "inventory poll failed");
                cluster.store.apply_error(&e);
                cluster.snapshots.send_replace(cluster.store.snapshot());
            }
        }
    }
}

/// Polls a cluster's facts every interval (backing off while it fails).
async fn poll_facts(state: Arc<AppState>, cluster: Arc<Cluster>, interval: Duration) {
    let interval = interval.max(pvekit::MIN_INTERVAL);
    let mut wait = interval;
    loop {
        let before = cluster.facts.load_full();
        let facts = facts::poll(&cluster.client, &before).await;
        wait = if facts.error.is_some() {
            (wait * 2).min(pvekit::MAX_BACKOFF)
        } else {
            interval
        };
        cluster.facts.store(facts);
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// The whole router. Every route needs a caller ([`authenticate`]) except [`is_public`]'s.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(crate::api::public_routes())
        .merge(crate::dashboard::routes())
        .merge(crate::api::routes())
        .merge(crate::godoxy::routes())
        .merge(crate::metrics::routes())
        .fallback(|| async { ApiError::not_found("not found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", "")
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .with_state(state)
}

/// The routes anyone may call: the health check, the login link, and the dashboard's static
/// files (they hold no data; the page reads the API, which needs a session).
fn is_public(path: &str) -> bool {
    matches!(path, "/" | "/healthz" | "/login" | "/favicon.ico") || path.starts_with("/assets/")
}

/// The token of an `Authorization: Bearer TOKEN` value (the scheme is case-insensitive, as
/// RFC 7235 says).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of the session cookie in a request, if any.
pub(crate) fn session_cookie(req: &axum::http::HeaderMap) -> Option<String> {
    for value in req.get_all(COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == SESSION_COOKIE
            {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Finds the caller (a bearer token or a session cookie), refuses anonymous calls with 401,
/// and writes made with the cookie without the session's CSRF token with 403.
async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    state.telemetry.request();
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let caller: Option<Caller> = if let Some(token) = bearer {
        match state.auth.by_token(token) {
            Some(c) => Some(c),
            None => return ApiError::unauthorized("the bearer token is not valid").into_response(),
        }
    } else if let Some(cookie) = session_cookie(headers) {
        match state.auth.by_session(&cookie) {
            Some(c) => {
                let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
                if !safe {
                    let csrf = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                    if !csrf.is_some_and(|t| state.auth.csrf_matches(&cookie, t)) {
                        return ApiError::forbidden(
                            "a write with the session cookie needs the session's CSRF token in X-PVEKit-CSRF",
                        )
                        .into_response();
                    }
                }
                Some(c)
            }
            None => None,
        }
    } else {
        None
    };
    let Some(caller) = caller else {
        return ApiError::unauthorized(
            "send Authorization: Bearer TOKEN, or open a login link for a session",
        )
        .into_response();
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_with_any_case_of_the_scheme() {
        assert_eq!(bearer_token("Bearer pvk_x"), Some("pvk_x"));
        assert_eq!(bearer_token("bearer  pvk_x "), Some("pvk_x"));
        assert_eq!(bearer_token("BEARER pvk_x"), Some("pvk_x"));
        assert_eq!(bearer_token("Basic dXNlcjpwdw=="), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
