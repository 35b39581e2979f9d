//! The control handle: changes the simulated cluster while the simulator runs.
//!
//! [`SimControl`] (from [`crate::RunningSim::control`]) adds nodes and guests, removes
//! guests and takes nodes offline or back online. A change is seen by the next request of
//! every endpoint: `/cluster/status`, `/cluster/resources`, `/nodes`, a node's and a guest's
//! endpoints (status, config, interfaces, agent, power actions, RRD data), `pct list` and
//! `pct status` inside node shells, and terminals.
//!
//! Terminals: the roots of a node or container added at run time are prepared like those of
//! the start-up cluster, before the first sandbox that needs them (a node's shell, a
//! container's console, a `pct exec` or `pct enter`), through the same symlink-safe writes
//! (see `term::sandbox` and `term::rootfs`). A node shell already running keeps the mounts
//! it started with: a container added to its node afterwards is reached through `pct exec`
//! and `pct enter` at once, and shows under `/var/lib/lxc` in the node's next shell.
//! Sessions whose target goes away end: taking a node offline ends its shells and its
//! containers' consoles, removing a container ends its consoles.
//!
//! Guest services (a test fixture, see [`crate::ScenarioService`]): a guest added with
//! `services` listens on its loopback address while it runs (after `ready_after_ms`); one
//! whose services cannot be served is refused whole ([`ControlError::Service`]); removing a
//! guest closes its listeners before [`SimControl::remove_guest`] returns.
//!
//! Listeners: every node has its own HTTPS listener ([`SimControl::endpoints`]);
//! [`SimControl::stop_listener`] stops one (its port refuses connections, its open
//! connections drop, calls proxied to that node from the other listeners fail with 595
//! "Connection refused") and [`SimControl::start_listener`] starts it again on the same port.
//!
//! Faults: [`SimControl::faults`] adds and clears scheduled failures ([`crate::Fault`]);
//! [`SimControl::invalidate_tickets`] makes every ticket issued so far fail at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pvekit_sim::{ScenarioGuest, ScenarioNode, SimOptions, Simulator};
//! let sim = Simulator::start(SimOptions::default()).await?;
//! let control = sim.control();
//! control.add_node(ScenarioNode::new("pve9"))?;
//! control.add_guest(
//!     ScenarioGuest::lxc(900, "pve9")
//!         .with_name("late")
//!         .running()
//!         .with_net(0, "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:09:00,ip=10.0.9.1/24,type=veth"),
//! )?;
//! control.set_node_online("pve9", false)?;
//! control.add_pool("lab", Some("test guests"), &[900])?;
//! control.remove_guest(900)?;
//! control.stop_listener("pve2").await?;
//! control.start_listener("pve2")?;
//! control.faults().add(
//!     pvekit_sim::Fault::new(pvekit_sim::FaultKind::Status { code: 503, reason: None })
//!         .matching("GET /cluster/resources")
//!         .nth(2),
//! )?;
//! control.faults().clear();
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use crate::faults::Fault;
use crate::listeners::NodeEndpoint;
use crate::model::scenario::{ScenarioGuest, ScenarioNode};
use crate::state::AppState;

/// Why a change to the running cluster was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// A node of that name exists already.
    #[error("node '{0}' already exists")]
    NodeExists(String),
    /// No node of that name exists.
    #[error("node '{0}' does not exist")]
    UnknownNode(String),
    /// A guest with that VMID exists already.
    #[error("VMID {0} already exists")]
    GuestExists(u32),
    /// No guest with that VMID exists.
    #[error("guest {0} does not exist")]
    UnknownGuest(u32),
    /// The simulated node is standalone (no cluster): it cannot get more nodes.
    #[error("a standalone node cannot have more nodes")]
    Standalone,
    /// The node that answers the API cannot go offline.
    #[error("node '{0}' answers the API and cannot go offline")]
    LocalNode(String),
    /// The node or guest is invalid (its name, VMID or settings), as a scenario would say.
    #[error("{0}")]
    Invalid(String),
    /// The guest's services cannot be served (an address that is not loopback, none, a port
    /// taken by another guest, ...).
    #[error(transparent)]
    Service(#[from] crate::services::ServiceError),
    /// A node's listener could not be bound or started (its port taken meanwhile, ...).
    #[error("listener: {0}")]
    Listener(String),
}

/// Changes the cluster of a running simulator; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct SimControl {
    pub(crate) state: Arc<AppState>,
}

impl std::fmt::Debug for SimControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimControl").finish_non_exhaustive()
    }
}

impl SimControl {
    /// Adds a node (online unless [`ScenarioNode::online`] says otherwise) with the next
    /// corosync node id; the cluster's config version goes up.
    ///
    /// # Errors
    /// [`ControlError::Standalone`], [`ControlError::NodeExists`], or
    /// [`ControlError::Invalid`] for a name that is not a valid node name.
    pub fn add_node(&self, node: ScenarioNode) -> Result<(), ControlError> {
        let now = self.state.clock.now();
        self.state.model_mut().add_node(&node, now)?;
        self.changed();
        // Its own listener, on a free loopback port (see [`SimControl::endpoints`]).
        self.state.listeners.add_node(&self.state, &node.name)
    }

    /// Every node's listener (name, URL, certificate fingerprint), in node order, nodes added
    /// at run time included; a stopped listener keeps its URL.
    pub fn endpoints(&self) -> Vec<NodeEndpoint> {
        self.state.listeners.endpoints()
    }

    /// Stops a node's listener, as when its pveproxy stops: once this returns its port refuses
    /// connections, its open connections (websockets included) are dropped, and calls
    /// proxied to the node from other listeners fail with 595 "Connection refused". The
    /// node stays online in the cluster. Stopping a stopped listener does nothing.
    ///
    /// # Errors
    /// [`ControlError::UnknownNode`].
    pub async fn stop_listener(&self, node: &str) -> Result<(), ControlError> {
        self.state.listeners.stop(&self.state, node).await
    }

    /// Starts a node's stopped listener again on the same address (and port), as when its
    /// pveproxy restarts; returns that address. A running listener is left alone.
    ///
    /// # Errors
    /// [`ControlError::UnknownNode`], or [`ControlError::Listener`] when the port cannot be
    /// bound again.
    pub fn start_listener(&self, node: &str) -> Result<SocketAddr, ControlError> {
        self.state.listeners.start(&self.state, node)
    }

    /// Whether a node's listener runs.
    pub fn listener_running(&self, node: &str) -> bool {
        self.state.listeners.is_running(node)
    }

    /// The fault schedule.
    pub fn faults(&self) -> FaultControl {
        FaultControl {
            state: self.state.clone(),
        }
    }

    /// Every ticket issued so far stops verifying at once, as after a regenerated `authkey`:
    /// the next request with one gets 401 (API tokens are not affected; a new login works).
    pub fn invalidate_tickets(&self) {
        self.state.auth.invalidate_tickets();
    }

    /// Takes a node offline (calls proxied to it fail with 595, its guests show as
    /// `unknown`, its terminal sessions end) or brings it back online.
    ///
    /// # Errors
    /// [`ControlError::UnknownNode`], or [`ControlError::LocalNode`] for the node that
    /// answers the API.
    pub fn set_node_online(&self, name: &str, online: bool) -> Result<(), ControlError> {
        self.state.model_mut().set_online(name, online)?;
        self.changed();
        Ok(())
    }

    /// Adds a guest, LXC or QEMU, on an existing node, exactly as a scenario would state it
    /// (config keys left out get a fresh guest's defaults). A running guest with services
    /// listens on its address from `ready_after_ms` after now (less its `uptime`).
    ///
    /// # Errors
    /// [`ControlError::GuestExists`], [`ControlError::UnknownNode`],
    /// [`ControlError::Service`] for services that cannot be served (checked first, so a
    /// refused guest opens nothing), or [`ControlError::Invalid`] (VMID out of range, a
    /// running template, ...).
    pub fn add_guest(&self, guest: ScenarioGuest) -> Result<(), ControlError> {
        let now_ms = self.state.clock.now_ms();
        self.state.settle();
        self.state.model_mut().add_guest(&guest, now_ms)?;
        self.changed();
        Ok(())
    }

    /// Removes a guest whatever its state, as if it had been destroyed elsewhere: its
    /// endpoints answer that its config file does not exist, its consoles end, its service
    /// listeners close (before this returns) and their connections drop, tasks of it still
    /// running end without effect.
    ///
    /// # Errors
    /// [`ControlError::UnknownGuest`].
    pub fn remove_guest(&self, vmid: u32) -> Result<(), ControlError> {
        self.state.settle();
        let g = self.state.model_mut().remove_guest(vmid)?;
        self.state.terminals.forget_ct(g.vmid);
        self.changed();
        Ok(())
    }

    /// Adds a resource pool holding existing guests (what pve-manager's `POST /pools` and
    /// `PUT /pools` would make): `GET /pools` lists it, `/pool/<poolid>` is an ACL path,
    /// and roles granted there apply to its guests. Pool names follow `pve-poolid` (up to
    /// three `/`-separated levels, each starting with a letter).
    ///
    /// # Errors
    /// [`ControlError::Invalid`] for a bad name, a pool that exists or a guest already in
    /// another pool; [`ControlError::UnknownGuest`].
    pub fn add_pool(
        &self,
        poolid: &str,
        comment: Option<&str>,
        vmids: &[u32],
    ) -> Result<(), ControlError> {
        let valid = crate::formats::check_named("pve-poolid", poolid).is_ok()
            && poolid
                .split('/')
                .all(|p| p.starts_with(|c: char| c.is_ascii_alphabetic()));
        if !valid {
            return Err(ControlError::Invalid(format!(
                "invalid pool name '{poolid}'"
            )));
        }
        {
            let model = self.state.model();
            if let Some(v) = vmids.iter().find(|v| !model.guests.contains_key(v)) {
                return Err(ControlError::UnknownGuest(*v));
            }
        }
        let mut cfg = self.state.auth.cfg_mut();
        if cfg.pools.contains_key(poolid) {
            return Err(ControlError::Invalid(format!(
                "pool '{poolid}' already exists"
            )));
        }
        if let Some((name, v)) = cfg
            .pools
            .iter()
            .find_map(|(n, p)| vmids.iter().find(|v| p.vms.contains(v)).map(|v| (n, v)))
        {
            return Err(ControlError::Invalid(format!(
                "VM {v} is already a pool member of '{name}'"
            )));
        }
        cfg.pools.insert(
            poolid.to_string(),
            crate::usercfg::PoolCfg {
                comment: comment.map(str::to_string),
                vms: vmids.iter().copied().collect(),
            },
        );
        Ok(())
    }

    fn changed(&self) {
        self.state.terminals.cluster_changed();
        self.state.reconcile_services();
    }
}

/// Adds and clears the faults of a running simulator ([`SimControl::faults`]); cheap to
/// clone.
#[derive(Clone)]
pub struct FaultControl {
    state: Arc<AppState>,
}

impl std::fmt::Debug for FaultControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultControl").finish_non_exhaustive()
    }
}

impl FaultControl {
    /// Schedules a fault after those already there; its count starts at the next matching
    /// request.
    ///
    /// # Errors
    /// [`ControlError::Invalid`] for a bad pattern, probability, count or status, and
    /// [`ControlError::UnknownNode`] for a `node` (or a `node_offline` node) that does not
    /// exist.
    pub fn add(&self, fault: Fault) -> Result<(), ControlError> {
        {
            let model = self.state.model();
            let offline = match &fault.fault {
                crate::FaultKind::NodeOffline { node, .. } => Some(node),
                _ => None,
            };
            if let Some(n) = fault
                .node
                .iter()
                .chain(offline)
                .find(|n| !model.node_index.contains_key(*n))
            {
                return Err(ControlError::UnknownNode(n.clone()));
            }
        }
        self.state.faults.add(fault).map_err(ControlError::Invalid)
    }

    /// Removes every fault. Effects already applied stay (a node taken offline, tickets
    /// invalidated); requests already stalled stay stalled.
    pub fn clear(&self) {
        self.state.faults.clear();
    }

    /// The faults scheduled now, in order.
    pub fn list(&self) -> Vec<Fault> {
        self.state.faults.list()
    }
}
