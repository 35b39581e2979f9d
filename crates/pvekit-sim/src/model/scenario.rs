//! Scenarios: an exact cluster stated in YAML or built in code.
//!
//! ```yaml
//! cluster: lab            # leave out for a standalone node (exactly one node then)
//! nodes:
//!   - name: pve1
//!     ip: 10.10.10.1
//!   - name: pve2
//!     online: false
//! guests:
//!   - type: lxc
//!     vmid: 101
//!     node: pve1
//!     name: web            # LXC hostname / QEMU name
//!     status: running      # or stopped (default)
//!     tags: prod;web
//!     config:
//!       cores: 2
//!       net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth
//!     counters:            # reported exactly while running
//!       cpu: 0.311
//!       mem: 268435456
//!       netin: 1048576
//!   - type: lxc
//!     vmid: 104
//!     node: pve1
//!     config:
//!       net0: name=eth0,bridge=vmbr0,ip=127.0.0.23/8,type=veth
//!     services:            # a test fixture: real listeners on 127.0.0.23 while it runs
//!       - { port: 8080, http: true, ready_after_ms: 1500 }
//!       - { port: 5432 }   # plain TCP, listening as soon as it runs
//!   - type: lxc
//!     vmid: 102
//!     node: pve1
//!     start_error: "startup for container '102' failed"   # the start task fails
//!     task_secs: 30        # this guest's tasks take 30 s
//!   - type: qemu
//!     vmid: 100
//!     node: pve2
//!     template: true
//!     agent: true
//!   - type: qemu
//!     vmid: 103
//!     node: pve1
//!     status: running
//!     agent: true
//!     agent_running: false # enabled but not answering
//! users:                   # besides the simulator's own user and token (full rights)
//!   - userid: ops@pve
//!     password: ops-secret
//!     acl:                 # roles on paths, inherited below unless `propagate: false`
//!       - { path: /, role: PVEAuditor }
//!       - { path: /vms/101, role: PVEVMUser }
//!     tokens:
//!       - name: ro
//!         secret: 5b1c7d1e-3a5f-4f39-9a56-2f7b0c1d9e11
//!         privsep: true    # default: its own ACL, intersected with the user's
//!         acl:
//!           - { path: /, role: PVEAuditor }
//! faults:                  # injected failures (see `Fault`; only in a scenario file, or
//!                          # through Scenario::from_yaml_with_faults)
//!   - match: "GET /nodes/*/status"
//!     node: pve2           # only on pve2's listener
//!     every: 10
//!     fault: {status: {code: 595, reason: No route to host}}
//! ```
//!
//! Unknown keys are errors. Config keys left out get the defaults of a freshly created guest.
//!
//! A guest's `services` are not Proxmox VE behaviour but a test fixture: while the guest runs,
//! the simulator listens on its loopback address (see [`ScenarioService`]).

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::counters::mix;
use super::generate::{lxc_defaults, make_node, qemu_defaults};
use super::{Guest, Iface, Model, Node, Pinned};
use crate::acl::AclEntry;
use crate::services::ServiceError;
use pvekit_core::types::GuestKind;

/// A cluster stated exactly.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The cluster name; `None` makes a standalone node (then exactly one node is allowed).
    #[serde(default)]
    pub cluster: Option<String>,
    /// The nodes, in corosync node id order.
    pub nodes: Vec<ScenarioNode>,
    /// The guests.
    #[serde(default)]
    pub guests: Vec<ScenarioGuest>,
    /// More users (and their API tokens) with the roles their ACL entries grant.
    #[serde(default)]
    pub users: Vec<ScenarioUser>,
}

/// A scenario file: a [`Scenario`] plus its `faults:` (kept apart, so a [`Scenario`] built
/// in code keeps its fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioDoc {
    #[serde(default)]
    cluster: Option<String>,
    nodes: Vec<ScenarioNode>,
    #[serde(default)]
    guests: Vec<ScenarioGuest>,
    #[serde(default)]
    users: Vec<ScenarioUser>,
    #[serde(default)]
    faults: Vec<crate::Fault>,
}

/// A user of a scenario: a login (when it has a password), ACL entries, API tokens.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioUser {
    /// `name@realm`.
    pub userid: String,
    /// The password; without one the user cannot log in (its tokens still work).
    #[serde(default)]
    pub password: Option<String>,
    /// The user's roles.
    #[serde(default)]
    pub acl: Vec<AclEntry>,
    /// The user's API tokens.
    #[serde(default)]
    pub tokens: Vec<ScenarioToken>,
}

/// An API token of a scenario user.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioToken {
    /// The token name (the part after `!`).
    pub name: String,
    /// Its secret.
    pub secret: String,
    /// Privilege separation (default true, as Proxmox VE creates tokens): the token has the
    /// privileges of its own ACL that its user also has; without it, the user's.
    #[serde(default = "yes")]
    pub privsep: bool,
    /// The token's roles (only with privilege separation).
    #[serde(default)]
    pub acl: Vec<AclEntry>,
}

impl std::fmt::Debug for ScenarioUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioUser")
            .field("userid", &self.userid)
            .field("acl", &self.acl)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ScenarioToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioToken")
            .field("name", &self.name)
            .field("privsep", &self.privsep)
            .field("acl", &self.acl)
            .finish_non_exhaustive()
    }
}

/// A node of a scenario.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioNode {
    /// Node name (`pve-node` format).
    pub name: String,
    /// Its cluster IP (default `10.10.10.<index+1>`).
    #[serde(default)]
    pub ip: Option<String>,
    /// Whether it is online (default true).
    #[serde(default = "yes")]
    pub online: bool,
    /// Logical CPUs (default: generated).
    #[serde(default)]
    pub cpus: Option<u32>,
}

fn yes() -> bool {
    true
}

/// Running or stopped.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GuestStatus {
    /// Stopped (the default).
    #[default]
    Stopped,
    /// Running.
    Running,
}

/// A guest of a scenario.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioGuest {
    /// `lxc` or `qemu` ([`GuestKind`] reads them lower-case).
    #[serde(rename = "type")]
    pub kind: GuestKind,
    /// The VMID (100..=999999999).
    pub vmid: u32,
    /// The node it lives on.
    pub node: String,
    /// LXC hostname or QEMU name.
    #[serde(default)]
    pub name: Option<String>,
    /// Running or stopped.
    #[serde(default)]
    pub status: GuestStatus,
    /// Whether it is a template (templates are stopped).
    #[serde(default)]
    pub template: bool,
    /// A config lock such as `backup`.
    #[serde(default)]
    pub lock: Option<String>,
    /// Tags, `;`-separated.
    #[serde(default)]
    pub tags: Option<String>,
    /// Further config keys; scalar values (strings, numbers, booleans become 1/0).
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
    /// Interfaces a running guest reports (LXC `interfaces`, QEMU guest agent), instead of
    /// those derived from netN.
    #[serde(default)]
    pub interfaces: Option<Vec<ScenarioInterface>>,
    /// QEMU: whether the guest agent is enabled.
    #[serde(default)]
    pub agent: Option<bool>,
    /// LXC: whether docker runs inside (adds docker0, br-*, veth* interfaces).
    #[serde(default)]
    pub docker: bool,
    /// Seconds since start, for a running guest (default: generated).
    #[serde(default)]
    pub uptime: Option<u64>,
    /// Makes every start task of this guest fail: the task ends with `TASK ERROR: <text>` and
    /// `exitstatus` equal to the text (one line).
    #[serde(default)]
    pub start_error: Option<String>,
    /// How long this guest's tasks take, in seconds (default: [`crate::SimOptions::task_duration`]).
    #[serde(default)]
    pub task_secs: Option<f64>,
    /// Figures reported exactly (status/current, lists, cluster/resources) while the guest runs.
    #[serde(default)]
    pub counters: Option<ScenarioCounters>,
    /// QEMU: whether the enabled guest agent answers (default true); `false` gives "QEMU guest
    /// agent is not running".
    #[serde(default)]
    pub agent_running: Option<bool>,
    /// TCP services the simulator really serves on the guest's address while it runs (a test
    /// fixture, not Proxmox VE behaviour). The address is the static IPv4 address of the
    /// guest's first interface as its config states it (LXC: `ip=` of `net0`; QEMU: `ip=` of
    /// `ipconfig0`), which must be a loopback address (127.0.0.0/8).
    #[serde(default)]
    pub services: Vec<ScenarioService>,
}

/// A TCP service of a scenario guest: while the guest runs (and is not paused), from
/// `ready_after_ms` after it started, the simulator listens on the guest's address and this
/// port. A test fixture for clients that wake a guest and probe it, not Proxmox VE behaviour.
///
/// ```yaml
/// services: [{port: 8080, http: true, ready_after_ms: 1500}, {port: 22}]
/// ```
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioService {
    /// The TCP port (1 to 65535).
    pub port: u16,
    /// Whether the port answers HTTP/1.1 (`200 OK` to any request, with a short text naming
    /// the guest); otherwise it only accepts connections (default false).
    #[serde(default)]
    pub http: bool,
    /// How long after the guest starts running the port starts listening, in milliseconds of
    /// the simulator clock (default 0). A reboot starts the wait again; resuming a paused VM
    /// does not.
    #[serde(default)]
    pub ready_after_ms: u64,
}

impl ScenarioService {
    /// A plain TCP service on `port`: connections are accepted, nothing is answered.
    pub fn tcp(port: u16) -> ScenarioService {
        ScenarioService {
            port,
            http: false,
            ready_after_ms: 0,
        }
    }

    /// An HTTP service on `port`: every request gets `200 OK`.
    pub fn http(port: u16) -> ScenarioService {
        ScenarioService {
            http: true,
            ..ScenarioService::tcp(port)
        }
    }

    /// Sets how long after the guest starts the port starts listening.
    #[must_use]
    pub fn with_ready_after_ms(mut self, ms: u64) -> ScenarioService {
        self.ready_after_ms = ms;
        self
    }
}

/// Figures pinned for a running guest; those left out keep moving.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioCounters {
    /// CPU usage as a fraction of `cpus` (0.05 is 5 %).
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Memory in use, bytes.
    #[serde(default)]
    pub mem: Option<u64>,
    /// Root disk in use, bytes (LXC; VMs always report 0).
    #[serde(default)]
    pub disk: Option<u64>,
    /// Bytes received.
    #[serde(default)]
    pub netin: Option<u64>,
    /// Bytes sent.
    #[serde(default)]
    pub netout: Option<u64>,
    /// Bytes read from disk.
    #[serde(default)]
    pub diskread: Option<u64>,
    /// Bytes written to disk.
    #[serde(default)]
    pub diskwrite: Option<u64>,
}

/// An interface as reported by a running container.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInterface {
    /// Interface name.
    pub name: String,
    /// MAC address (shown lower-case).
    #[serde(default)]
    pub hwaddr: Option<String>,
    /// Addresses in CIDR form (`10.0.0.5/24`, `fe80::1/64`).
    #[serde(default)]
    pub addresses: Vec<String>,
}

impl Scenario {
    /// Parses a scenario from YAML text. A `faults:` list is refused here (a [`Scenario`] has
    /// no faults): read it with [`Scenario::from_yaml_with_faults`], or give the file as
    /// [`crate::SimOptions::scenario`].
    ///
    /// # Errors
    /// The YAML error (with its location) or the first inconsistency found.
    pub fn from_yaml(text: &str) -> Result<Scenario, String> {
        let (s, faults) = Scenario::from_yaml_with_faults(text)?;
        if !faults.is_empty() {
            return Err(
                "a Scenario has no `faults` (use Scenario::from_yaml_with_faults, \
                        SimOptions::faults_inline, or the file as SimOptions::scenario)"
                    .into(),
            );
        }
        Ok(s)
    }

    /// Parses a scenario file's YAML text: the scenario and its `faults:` (see
    /// [`crate::Fault`]), both checked.
    ///
    /// # Errors
    /// The YAML error (with its location) or the first inconsistency found.
    pub fn from_yaml_with_faults(text: &str) -> Result<(Scenario, Vec<crate::Fault>), String> {
        let (s, faults) = Scenario::parse_yaml(text)?;
        s.check()?;
        s.check_faults(&faults)?;
        Ok((s, faults))
    }

    /// Parses without checking (the simulator checks the services first, for a typed error).
    pub(crate) fn parse_yaml(text: &str) -> Result<(Scenario, Vec<crate::Fault>), String> {
        let d: ScenarioDoc = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        Ok((
            Scenario {
                cluster: d.cluster,
                nodes: d.nodes,
                guests: d.guests,
                users: d.users,
            },
            d.faults,
        ))
    }

    /// Checks faults against the scenario: each valid, naming only its nodes.
    pub(crate) fn check_faults(&self, faults: &[crate::Fault]) -> Result<(), String> {
        for f in faults {
            f.check()?;
            let offline = match &f.fault {
                crate::FaultKind::NodeOffline { node, .. } => Some(node),
                _ => None,
            };
            if let Some(n) = f
                .node
                .iter()
                .chain(offline)
                .find(|n| !self.nodes.iter().any(|x| &x.name == *n))
            {
                return Err(format!("fault on unknown node '{n}'"));
            }
        }
        Ok(())
    }

    /// Checks the scenario for inconsistencies (unknown nodes, duplicate VMIDs, ...).
    ///
    /// # Errors
    /// A sentence naming the first problem.
    pub fn check(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("a scenario needs at least one node".into());
        }
        if self.cluster.is_none() && self.nodes.len() != 1 {
            return Err("a standalone scenario (no `cluster`) has exactly one node".into());
        }
        if let Some(c) = &self.cluster
            && (c.is_empty()
                || c.len() > 15
                || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(format!("invalid cluster name '{c}'"));
        }
        let mut names = HashSet::new();
        for n in &self.nodes {
            if !pvekit_core::names::is_node_name(&n.name) {
                return Err(format!("invalid node name '{}'", n.name));
            }
            if !names.insert(n.name.as_str()) {
                return Err(format!("duplicate node '{}'", n.name));
            }
        }
        let mut ids = HashSet::new();
        for g in &self.guests {
            g.check()?;
            if !ids.insert(g.vmid) {
                return Err(format!("duplicate VMID {}", g.vmid));
            }
            if !names.contains(g.node.as_str()) {
                return Err(format!("guest {} is on unknown node '{}'", g.vmid, g.node));
            }
        }
        self.check_services().map_err(|e| e.to_string())?;
        self.check_users()
    }

    /// Checks the guests' `services`: each guest that declares some has a static loopback
    /// IPv4 address (reported by its `interfaces` when it states them), valid ports, each
    /// once, and no two guests declare the same address and port. [`Scenario::check`] makes
    /// this check too; the simulator makes it first, for a typed error.
    ///
    /// # Errors
    /// The first problem found, naming the guest (and the address).
    pub fn check_services(&self) -> Result<(), ServiceError> {
        let mut taken = std::collections::HashMap::new();
        for g in &self.guests {
            let Some(addr) = g.check_services()? else {
                continue;
            };
            for s in &g.services {
                if let Some(other) = taken.insert((addr, s.port), g.vmid) {
                    return Err(ServiceError::Clash {
                        vmid: g.vmid,
                        other,
                        addr,
                        port: s.port,
                    });
                }
            }
        }
        Ok(())
    }

    fn check_users(&self) -> Result<(), String> {
        let check_acl = |who: &str, acl: &[AclEntry]| {
            for e in acl {
                if !e.path.starts_with('/') {
                    return Err(format!("{who}: ACL path '{}' must start with /", e.path));
                }
                if crate::acl::role_privs(&e.role).is_none() {
                    return Err(format!("{who}: unknown role '{}'", e.role));
                }
            }
            Ok(())
        };
        let mut ids = HashSet::new();
        for u in &self.users {
            let id: pvekit_core::AuthId = u
                .userid
                .parse()
                .map_err(|e| format!("user '{}': {e}", u.userid))?;
            if id.is_token() || u.userid == "root@pam" {
                return Err(format!(
                    "user '{}': give a user id other than root@pam",
                    u.userid
                ));
            }
            if !ids.insert(u.userid.as_str()) {
                return Err(format!("duplicate user '{}'", u.userid));
            }
            check_acl(&u.userid, &u.acl)?;
            let mut names = HashSet::new();
            for t in &u.tokens {
                let full = format!("{}!{}", u.userid, t.name);
                pvekit_core::AuthId::parse_token(&full)
                    .map_err(|e| format!("token '{full}': {e}"))?;
                if !names.insert(t.name.as_str()) {
                    return Err(format!("duplicate token '{full}'"));
                }
                if t.secret.is_empty() {
                    return Err(format!("token '{full}': empty secret"));
                }
                check_acl(&full, &t.acl)?;
            }
        }
        Ok(())
    }

    /// Builds the model; `now_ms` is the simulator clock.
    pub(crate) fn to_model(&self, seed: u64, now_ms: i64) -> Result<Model, String> {
        self.check()?;
        let now = now_ms.div_euclid(1000);
        let standalone = self.cluster.is_none();
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let nodeid = if standalone { 0 } else { i as u32 + 1 };
                n.to_node(i, nodeid, seed, now)
            })
            .collect::<Vec<_>>();
        let guests = self
            .guests
            .iter()
            .map(|g| g.to_guest(seed, now_ms))
            .collect();
        Ok(Model::new(self.cluster.clone(), nodes, guests, seed))
    }
}

impl ScenarioNode {
    /// An online node with generated figures (IP `10.10.10.<index+1>` unless set).
    pub fn new(name: impl Into<String>) -> ScenarioNode {
        ScenarioNode {
            name: name.into(),
            ip: None,
            online: true,
            cpus: None,
        }
    }

    /// Sets its cluster IP.
    #[must_use]
    pub fn with_ip(mut self, ip: impl Into<String>) -> ScenarioNode {
        self.ip = Some(ip.into());
        self
    }

    /// Sets whether it is online.
    #[must_use]
    pub fn with_online(mut self, online: bool) -> ScenarioNode {
        self.online = online;
        self
    }

    /// Sets its number of logical CPUs.
    #[must_use]
    pub fn with_cpus(mut self, cpus: u32) -> ScenarioNode {
        self.cpus = Some(cpus);
        self
    }

    /// The model node at position `index` of the node list (its default IP and its seed
    /// come from the position).
    pub(crate) fn to_node(&self, index: usize, nodeid: u32, seed: u64, now: i64) -> Node {
        let ip = self
            .ip
            .clone()
            .unwrap_or_else(|| format!("10.10.10.{}", index + 1));
        let mut node = make_node(
            &self.name,
            &ip,
            self.online,
            nodeid,
            mix(seed ^ index as u64),
            now,
        );
        if let Some(c) = self.cpus {
            node.cpus = c.max(1);
        }
        node
    }
}

impl ScenarioGuest {
    /// A stopped container `vmid` on `node`, with the config of a freshly created one.
    pub fn lxc(vmid: u32, node: impl Into<String>) -> ScenarioGuest {
        ScenarioGuest::new(GuestKind::Lxc, vmid, node.into())
    }

    /// A stopped VM `vmid` on `node`, with the config of a freshly created one.
    pub fn qemu(vmid: u32, node: impl Into<String>) -> ScenarioGuest {
        ScenarioGuest::new(GuestKind::Qemu, vmid, node.into())
    }

    fn new(kind: GuestKind, vmid: u32, node: String) -> ScenarioGuest {
        ScenarioGuest {
            kind,
            vmid,
            node,
            name: None,
            status: GuestStatus::Stopped,
            template: false,
            lock: None,
            tags: None,
            config: BTreeMap::new(),
            interfaces: None,
            agent: None,
            docker: false,
            uptime: None,
            start_error: None,
            task_secs: None,
            counters: None,
            agent_running: None,
            services: Vec::new(),
        }
    }

    /// Sets the LXC hostname or QEMU name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> ScenarioGuest {
        self.name = Some(name.into());
        self
    }

    /// Sets running or stopped.
    #[must_use]
    pub fn with_status(mut self, status: GuestStatus) -> ScenarioGuest {
        self.status = status;
        self
    }

    /// Makes it running.
    #[must_use]
    pub fn running(self) -> ScenarioGuest {
        self.with_status(GuestStatus::Running)
    }

    /// Sets a config key (a string, number or boolean; booleans become 1/0).
    #[must_use]
    pub fn with_config(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> ScenarioGuest {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Sets the network device `net<index>` (its property string, e.g.
    /// `name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.5/24,type=veth`).
    #[must_use]
    pub fn with_net(self, index: u32, value: impl Into<String>) -> ScenarioGuest {
        self.with_config(format!("net{index}"), value.into())
    }

    /// Adds a TCP service the simulator serves on the guest's (loopback) address while it
    /// runs; see [`ScenarioService`].
    #[must_use]
    pub fn with_service(mut self, service: ScenarioService) -> ScenarioGuest {
        self.services.push(service);
        self
    }

    /// Checks the guest's `services` alone (see [`Scenario::check_services`]); returns the
    /// address they listen on, `None` without services.
    ///
    /// # Errors
    /// The first problem found.
    pub fn check_services(&self) -> Result<Option<std::net::Ipv4Addr>, ServiceError> {
        if self.services.is_empty() {
            return Ok(None);
        }
        crate::services::check_guest(&self.to_guest(0, 0)).map(Some)
    }

    /// Checks what can be checked of the guest alone (VMID range, template not running,
    /// task figures, scalar config values, services).
    ///
    /// # Errors
    /// A sentence naming the first problem.
    pub fn check(&self) -> Result<(), String> {
        let g = self;
        if !pvekit_core::names::is_vmid(u64::from(g.vmid)) {
            return Err(format!("VMID {} is out of range 100..999999999", g.vmid));
        }
        if g.template && g.status == GuestStatus::Running {
            return Err(format!(
                "guest {} is a template and cannot be running",
                g.vmid
            ));
        }
        if let Some(e) = &g.start_error
            && (e.trim().is_empty() || e.contains(['\n', '\r']))
        {
            return Err(format!(
                "guest {}: start_error must be one non-empty line",
                g.vmid
            ));
        }
        if let Some(t) = g.task_secs
            && !(t.is_finite() && (0.0..=86_400.0 * 365.0).contains(&t))
        {
            return Err(format!(
                "guest {}: task_secs must be a number of seconds >= 0",
                g.vmid
            ));
        }
        if let Some(cpu) = g.counters.as_ref().and_then(|c| c.cpu)
            && !(cpu.is_finite() && cpu >= 0.0)
        {
            return Err(format!("guest {}: counters.cpu must be >= 0", g.vmid));
        }
        for (k, v) in &g.config {
            if value_text(v).is_none() {
                return Err(format!(
                    "guest {}: config key '{k}' must be a scalar",
                    g.vmid
                ));
            }
        }
        g.check_services().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The model guest; `now_ms` is the simulator clock.
    pub(crate) fn to_guest(&self, seed: u64, now_ms: i64) -> Guest {
        let g = self;
        let gseed = mix(seed ^ (u64::from(g.vmid) << 20));
        let kind = g.kind;
        let mut config: BTreeMap<String, String> = g
            .config
            .iter()
            .filter_map(|(k, v)| value_text(v).map(|t| (k.clone(), t)))
            .collect();
        let name_key = if kind == GuestKind::Lxc {
            "hostname"
        } else {
            "name"
        };
        if let Some(name) = &g.name {
            config.insert(name_key.into(), name.clone());
        }
        if let Some(t) = &g.tags {
            config.insert("tags".into(), t.clone());
        }
        if let Some(l) = &g.lock {
            config.insert("lock".into(), l.clone());
        }
        if g.template {
            config.insert("template".into(), "1".into());
        }
        if g.agent == Some(true) {
            config.insert("agent".into(), "1".into());
        }
        match kind {
            GuestKind::Lxc => lxc_defaults(g.vmid, &mut config),
            GuestKind::Qemu => qemu_defaults(g.vmid, gseed, &mut config),
        }
        let running = g.status == GuestStatus::Running;
        let uptime = i64::try_from(g.uptime.unwrap_or(3600 + gseed % 86400)).unwrap_or(i64::MAX);
        // In milliseconds, so a guest stated with `uptime: 0` started just now (its services
        // wait their whole `ready_after_ms`); `started_at` is the same moment in seconds.
        let started_ms = running.then(|| now_ms.saturating_sub(uptime.saturating_mul(1000)));
        Guest {
            vmid: g.vmid,
            kind,
            node: g.node.clone(),
            running,
            template: g.template,
            lock: g.lock.clone(),
            started_at: started_ms.map(|ms| ms.div_euclid(1000)),
            started_ms,
            config,
            interfaces: g.interfaces.as_ref().map(|list| {
                list.iter()
                    .map(|i| Iface {
                        name: i.name.clone(),
                        hwaddr: i
                            .hwaddr
                            .clone()
                            .unwrap_or_else(|| "00:00:00:00:00:00".into())
                            .to_lowercase(),
                        addrs: i.addresses.clone(),
                    })
                    .collect()
            }),
            docker: g.docker,
            pid: 1000 + (gseed % 3_000_000) as u32,
            seed: gseed,
            paused: false,
            checkpoint: false,
            start_error: g.start_error.clone(),
            task_secs: g.task_secs,
            pinned: g.counters.as_ref().map(|c| Pinned {
                cpu: c.cpu,
                mem: c.mem,
                disk: c.disk,
                netin: c.netin,
                netout: c.netout,
                diskread: c.diskread,
                diskwrite: c.diskwrite,
            }),
            agent_running: g.agent_running.unwrap_or(true),
            services: g.services.clone(),
        }
    }
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}
