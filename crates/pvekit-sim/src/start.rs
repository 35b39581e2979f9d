//! The steps of [`crate::Simulator::start`], in the order it takes them:
//!
//! 1. [`model()`]: the cluster, generated from the seed or built from a scenario (file or
//!    inline), with the scenario's extra users;
//! 2. [`credentials`] and [`auth()`]: the login user, its password, the API token and its
//!    secret (given or random), checked, and the authentication state with the scenario's
//!    users;
//! 3. the certificate ([`crate::cert::generate`]): a CA and a node certificate for the node
//!    that answers;
//! 4. [`bind`]: the listening socket;
//! 5. [`terminals`]: the state directory with the sandboxes' tools (roots come later, at
//!    each node's first session), only once the socket is bound;
//! 6. [`serve`]: the HTTPS server on the socket, returning once it accepts connections;
//!    [`url`] names the address it really listens on.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::{self, Auth};
use crate::model::{self, Model};
use crate::state::AppState;
use crate::term::{Terminals, sandbox::StateDir};
use crate::{Scenario, ScenarioUser, SimError, SimOptions};

/// Step 1: the cluster and the scenario's users; `now_ms` is the simulator clock. A
/// scenario's guest services are checked first, for a typed error ([`SimError::Service`]).
pub(crate) fn model(
    opts: &SimOptions,
    now_ms: i64,
) -> Result<(Model, Vec<ScenarioUser>), SimError> {
    let scenario = if let Some(s) = &opts.scenario_inline {
        Some((s.clone(), PathBuf::from("<inline>")))
    } else if let Some(path) = &opts.scenario {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Scenario {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let s = Scenario::parse_yaml(&text).map_err(|message| SimError::Scenario {
            path: path.clone(),
            message,
        })?;
        Some((s, path.clone()))
    } else {
        None
    };
    Ok(match scenario {
        Some((s, path)) => {
            s.check_services().map_err(|source| SimError::Service {
                path: path.clone(),
                source,
            })?;
            (
                s.to_model(opts.seed, now_ms)
                    .map_err(|message| SimError::Scenario { path, message })?,
                s.users,
            )
        }
        None => (
            model::generate::generate(
                opts.seed,
                opts.nodes,
                opts.containers,
                opts.vms,
                now_ms.div_euclid(1000),
            ),
            Vec::new(),
        ),
    })
}

/// The simulator's own login and token.
pub(crate) struct Credentials {
    pub username: String,
    pub password: String,
    pub token_id: String,
    pub secret: String,
}

/// Step 2: the credentials, as given or made up (a random password and secret).
pub(crate) fn credentials(opts: &SimOptions) -> Result<Credentials, SimError> {
    let username = opts
        .username
        .clone()
        .unwrap_or_else(|| "root@pam".to_string());
    let user: pvekit_core::AuthId = username
        .parse()
        .map_err(|e| SimError::Startup(format!("username: {e}")))?;
    if user.is_token() {
        return Err(SimError::Startup(format!(
            "username '{username}' is a token id"
        )));
    }
    let token_id = opts
        .token_id
        .clone()
        .unwrap_or_else(|| format!("{username}!pvekit"));
    pvekit_core::AuthId::parse_token(&token_id)
        .map_err(|e| SimError::Startup(format!("token id: {e}")))?;
    let password = opts.password.clone().unwrap_or_else(|| {
        auth::random_bytes::<12>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    let secret = opts.secret.clone().unwrap_or_else(auth::random_uuid);
    Ok(Credentials {
        username,
        password,
        token_id,
        secret,
    })
}

/// Step 2, continued: the authentication state.
pub(crate) fn auth(c: &Credentials, users: Vec<ScenarioUser>) -> Auth {
    Auth::new(
        c.username.clone(),
        c.password.clone(),
        c.token_id.clone(),
        c.secret.clone(),
    )
    .with_users(users)
}

/// Step 5: the terminal side over a fresh (or the given) state directory.
pub(crate) fn terminals(opts: &SimOptions, now_ms: i64) -> Result<Terminals, SimError> {
    let state_dir = StateDir::create(opts.state_dir.clone())?;
    Ok(Terminals::new(state_dir, now_ms))
}

/// Step 4: the listening socket and the address it is bound to.
pub(crate) fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), SimError> {
    let err = |source| SimError::Bind {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    listener
        .set_nonblocking(true)
        .map_err(|e| SimError::Startup(format!("listener: {e}")))?;
    Ok((listener, addr))
}

/// The running server: its handle (for shutdown) and its task.
pub(crate) type Server = (axum_server::Handle<SocketAddr>, tokio::task::JoinHandle<()>);

/// Step 6: serves HTTPS on `listener` with `tls`; returns once it listens.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<AppState>,
) -> Result<Server, SimError> {
    let app = axum::Router::new()
        .fallback(crate::api::serve)
        .with_state(state);
    let handle = axum_server::Handle::new();
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(tls);
    let server = axum_server::tls_rustls::from_tcp_rustls(listener, tls)
        .map_err(|e| SimError::Startup(format!("server: {e}")))?
        // Answers go out at once, as pveproxy's do: no Nagle delay against delayed ACKs.
        .map(|tls| tls.acceptor(axum_server::accept::NoDelayAcceptor::new()))
        .handle(handle.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = server.serve(app.into_make_service()).await {
            tracing::error!(error = %e, "pvekit-sim server stopped");
        }
    });
    if handle.listening().await.is_none() {
        return Err(SimError::Startup("server did not start listening".into()));
    }
    Ok((handle, task))
}

/// The URL of the address the server really listens on: with 0.0.0.0 that is every address,
/// not just loopback (pvekit sim warns about that).
pub(crate) fn url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("https://{host}:{}", addr.port())
}
