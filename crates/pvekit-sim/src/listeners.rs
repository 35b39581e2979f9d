//! One HTTPS listener per node, as every node of a real cluster runs its own pveproxy.
//!
//! Each node serves the whole API with its own certificate (signed by the cluster CA, see
//! [`crate::cert`]); all listeners share one cluster state. A request about another node is
//! "proxied" to it (pve-http-server `proxy_request`): it works while that node is online and
//! its listener runs, and fails with 595 otherwise, as AnyEvent::HTTP's connect error relayed
//! by pveproxy (see [`crate::model::Model::reachable_node`]).
//!
//! The first node's listener is at [`crate::SimOptions::listen`]; the others on free ports
//! of the same loopback address (127.0.0.1 when `listen` is not loopback). A listener stopped
//! through [`crate::SimControl::stop_listener`] closes its socket (connections are refused)
//! and drops its open connections, websockets included; started again, it binds the same
//! port.
//!
//! Every accepted connection carries a duplicate of its socket's descriptor in its requests'
//! extensions ([`ConnSocket`]), so a fault can reset it (`SO_LINGER` 0, then close: a TCP RST).

use std::net::{SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum_server::accept::Accept;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::SimError;
use crate::cert::Ca;
use crate::control::ControlError;
use crate::state::AppState;

/// The socket of the connection a request came on (a duplicate descriptor, closed with the
/// connection's service).
#[derive(Clone)]
pub(crate) struct ConnSocket(pub Arc<OwnedFd>);

impl ConnSocket {
    /// Makes the next close of the connection a reset (RST) instead of a FIN.
    pub fn reset_on_close(&self) {
        let _ = rustix::net::sockopt::set_socket_linger(&*self.0, Some(Duration::ZERO));
    }
}

/// The inner acceptor: `TCP_NODELAY` (answers go out at once, as pveproxy's do: no Nagle
/// delay against delayed ACKs) and the socket in every request's extensions.
#[derive(Clone, Copy)]
struct ConnAcceptor;

impl Accept<TcpStream, axum::Router> for ConnAcceptor {
    type Stream = TcpStream;
    type Service = axum::Router;
    type Future = std::future::Ready<std::io::Result<(TcpStream, axum::Router)>>;

    fn accept(&self, stream: TcpStream, service: axum::Router) -> Self::Future {
        let accepted = stream.set_nodelay(true).and_then(|()| {
            let fd = rustix::io::dup(&stream)?;
            Ok(service.layer(Extension(ConnSocket(Arc::new(fd)))))
        });
        std::future::ready(accepted.map(|service| (stream, service)))
    }
}

/// What a request handler knows about the listener it came on.
#[derive(Clone)]
pub(crate) struct Front {
    pub st: Arc<AppState>,
    /// Index of the listener's node.
    pub node: usize,
    /// Becomes true when the listener stops.
    pub stopped: watch::Receiver<bool>,
}

impl Front {
    /// Resolves when the listener stops or the simulator shuts down.
    pub async fn gone(&self) {
        let mut stopped = self.stopped.clone();
        let mut shutdown = self.st.terminals.shutdown_signal();
        if *stopped.borrow() || *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
    }
}

/// A running server.
struct Server {
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

/// One node's listener.
struct Slot {
    name: String,
    addr: SocketAddr,
    fingerprint: String,
    tls: Arc<rustls::ServerConfig>,
    /// Bound but not serving yet (between start-up's bind and serve).
    bound: Option<TcpListener>,
    server: Option<Server>,
}

/// A node's listener as [`crate::SimInfo`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeEndpoint {
    /// Node name.
    pub name: String,
    /// Base URL of its listener, `https://127.0.0.1:PORT`.
    pub url: String,
    /// SHA-256 fingerprint of its certificate, `AA:BB:...`.
    pub fingerprint: String,
}

/// Every node's listener.
pub(crate) struct Listeners {
    ca: Ca,
    runtime: tokio::runtime::Handle,
    /// Where nodes other than the first listen (port 0).
    other_ip: std::net::IpAddr,
    slots: Mutex<Vec<Slot>>,
}

fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), std::io::Error> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    Ok((listener, addr))
}

impl Listeners {
    /// Binds a listener for every node: `names[first]` on `listen`, the others on free
    /// loopback ports. Nothing serves yet ([`Listeners::serve_all`]).
    pub fn bind(
        ca: Ca,
        names: &[String],
        first: usize,
        listen: SocketAddr,
    ) -> Result<Listeners, SimError> {
        let other_ip = if listen.ip().is_loopback() {
            listen.ip()
        } else {
            std::net::IpAddr::from([127, 0, 0, 1])
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| SimError::Startup(format!("no tokio runtime: {e}")))?;
        let listeners = Listeners {
            ca,
            runtime,
            other_ip,
            slots: Mutex::new(Vec::with_capacity(names.len())),
        };
        for (i, name) in names.iter().enumerate() {
            let at = if i == first {
                listen
            } else {
                SocketAddr::new(other_ip, 0)
            };
            listeners.add(name, at).map_err(|e| match e {
                AddError::Bind(source) => SimError::Bind { addr: at, source },
                AddError::Other(e) => e,
            })?;
        }
        Ok(listeners)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds a listener for a new node (the next index), not serving yet.
    fn add(&self, name: &str, at: SocketAddr) -> Result<(), AddError> {
        let leaf = self.ca.leaf(name).map_err(AddError::Other)?;
        let (listener, addr) = bind(at).map_err(AddError::Bind)?;
        self.slots().push(Slot {
            name: name.to_string(),
            addr,
            fingerprint: leaf.fingerprint.to_string(),
            tls: leaf.server_config,
            bound: Some(listener),
            server: None,
        });
        Ok(())
    }

    /// Adds and starts a listener for a node added at run time.
    pub fn add_node(&self, st: &Arc<AppState>, name: &str) -> Result<(), ControlError> {
        self.add(name, SocketAddr::new(self.other_ip, 0))
            .map_err(|e| ControlError::Listener(e.to_string()))?;
        let i = self.slots().len() - 1;
        self.serve(st, i)
            .map_err(|e| ControlError::Listener(e.to_string()))
    }

    /// Starts serving on every bound listener.
    pub fn serve_all(&self, st: &Arc<AppState>) -> Result<(), SimError> {
        let n = self.slots().len();
        (0..n).try_for_each(|i| self.serve(st, i))
    }

    /// Serves HTTPS on slot `i`'s bound listener.
    fn serve(&self, st: &Arc<AppState>, i: usize) -> Result<(), SimError> {
        let _enter = self.runtime.enter();
        let mut slots = self.slots();
        let slot = &mut slots[i];
        let Some(listener) = slot.bound.take() else {
            return Ok(());
        };
        let (stop, stopped) = watch::channel(false);
        let front = Front {
            st: st.clone(),
            node: i,
            stopped,
        };
        let app = axum::Router::new()
            .fallback(crate::api::serve)
            .with_state(front);
        let handle = axum_server::Handle::new();
        let tls = axum_server::tls_rustls::RustlsConfig::from_config(slot.tls.clone());
        let server = axum_server::tls_rustls::from_tcp_rustls(listener, tls)
            .map_err(|e| SimError::Startup(format!("server: {e}")))?
            .map(|tls| tls.acceptor(ConnAcceptor))
            .handle(handle.clone());
        let task = self.runtime.spawn(async move {
            if let Err(e) = server.serve(app.into_make_service()).await {
                tracing::error!(error = %e, "pvekit-sim server stopped");
            }
        });
        slot.server = Some(Server { handle, task, stop });
        drop(slots);
        st.model_mut().set_pveproxy(i, true);
        Ok(())
    }

    /// The node's index, by name.
    fn index(&self, name: &str) -> Result<usize, ControlError> {
        self.slots()
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| ControlError::UnknownNode(name.to_string()))
    }

    /// Stops a node's listener: its socket closes (new connections are refused) and its open
    /// connections drop, websockets included. Returns once the socket is closed.
    pub async fn stop(&self, st: &Arc<AppState>, name: &str) -> Result<(), ControlError> {
        let i = self.index(name)?;
        let server = self.slots()[i].server.take();
        st.model_mut().set_pveproxy(i, false);
        st.terminals.cluster_changed();
        if let Some(s) = server {
            let _ = s.stop.send(true);
            s.handle.shutdown();
            let _ = s.task.await;
        }
        Ok(())
    }

    /// Starts a stopped listener again on the same address; a running one is left alone.
    pub fn start(&self, st: &Arc<AppState>, name: &str) -> Result<SocketAddr, ControlError> {
        let i = self.index(name)?;
        let addr = {
            let mut slots = self.slots();
            let slot = &mut slots[i];
            if slot.server.is_some() || slot.bound.is_some() {
                return Ok(slot.addr);
            }
            let (listener, _) = bind(slot.addr)
                .map_err(|e| ControlError::Listener(format!("{}: {e}", slot.addr)))?;
            slot.bound = Some(listener);
            slot.addr
        };
        self.serve(st, i)
            .map_err(|e| ControlError::Listener(e.to_string()))?;
        Ok(addr)
    }

    /// Every node's endpoint, in node order.
    pub fn endpoints(&self) -> Vec<NodeEndpoint> {
        self.slots()
            .iter()
            .map(|s| NodeEndpoint {
                name: s.name.clone(),
                url: crate::start::url(s.addr),
                fingerprint: s.fingerprint.clone(),
            })
            .collect()
    }

    /// The address node `i`'s listener is bound to (also while stopped).
    pub fn addr(&self, i: usize) -> Option<SocketAddr> {
        self.slots().get(i).map(|s| s.addr)
    }

    /// The fingerprint of node `i`'s certificate.
    pub fn fingerprint(&self, i: usize) -> Option<String> {
        self.slots().get(i).map(|s| s.fingerprint.clone())
    }

    /// The CA's PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca.ca_pem
    }

    /// Whether node `name`'s listener runs.
    pub fn is_running(&self, name: &str) -> bool {
        self.slots()
            .iter()
            .any(|s| s.name == name && s.server.is_some())
    }

    /// Stops every listener: gracefully (open requests get `grace` to finish), waiting for
    /// the servers to end.
    pub async fn shutdown(&self, grace: Duration) {
        let servers: Vec<Server> = self
            .slots()
            .iter_mut()
            .filter_map(|s| s.server.take())
            .collect();
        for s in &servers {
            let _ = s.stop.send(true);
            s.handle.graceful_shutdown(Some(grace));
        }
        for s in servers {
            let _ = s.task.await;
        }
    }

    /// Stops every listener at once (from `Drop`).
    pub fn abort(&self) {
        for s in self.slots().iter_mut() {
            if let Some(server) = s.server.take() {
                let _ = server.stop.send(true);
                server.handle.shutdown();
            }
        }
    }
}

/// Why a listener could not be added.
enum AddError {
    Bind(std::io::Error),
    Other(SimError),
}

impl std::fmt::Display for AddError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddError::Bind(e) => write!(f, "cannot listen: {e}"),
            AddError::Other(e) => write!(f, "{e}"),
        }
    }
}
