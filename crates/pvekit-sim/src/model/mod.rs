//! The simulated cluster: nodes, guests and their configuration.
//!
//! The model holds state only (status, lock, template flag, start time, config). Everything a
//! live system would measure (uptime, CPU, memory, traffic counters) is computed from that state
//! and the simulator clock by [`counters`], so no background task is needed. Lookups go through
//! per-node indexes, so thousands of guests stay cheap.

mod change;
pub(crate) mod counters;
pub(crate) mod generate;
pub(crate) mod net;
pub(crate) mod power;
pub mod scenario;
pub(crate) mod tasks;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use pvekit_core::Upid;
use pvekit_core::types::GuestKind;

use crate::error::ApiError;
use scenario::ScenarioService;

/// A node of the simulated cluster.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub ip: String,
    pub online: bool,
    /// Corosync node id (0 when standalone).
    pub nodeid: u32,
    /// Boot time, unix seconds (simulator clock).
    pub boot_time: i64,
    pub cpus: u32,
    pub sockets: u32,
    pub mem_total: u64,
    pub rootfs_total: u64,
    pub level: String,
    pub seed: u64,
    /// Whether its pveproxy (the simulator's listener for it) accepts connections.
    pub pveproxy: bool,
}

/// One interface as `ip a` inside a container would show it.
#[derive(Debug, Clone)]
pub(crate) struct Iface {
    pub name: String,
    /// Lower-case MAC.
    pub hwaddr: String,
    /// Addresses in CIDR form, in `ip a` order.
    pub addrs: Vec<String>,
}

/// A container or VM.
#[derive(Debug, Clone)]
pub(crate) struct Guest {
    pub vmid: u32,
    pub kind: GuestKind,
    pub node: String,
    pub running: bool,
    pub template: bool,
    pub lock: Option<String>,
    /// When the guest was started (simulator clock, unix seconds), while running.
    pub started_at: Option<i64>,
    /// The same moment in unix milliseconds (`started_at` is this rounded down): service
    /// listeners open `ready_after_ms` after it.
    pub started_ms: Option<i64>,
    /// Config keys and values as they would be in the config file (values as text).
    pub config: BTreeMap<String, String>,
    /// Interfaces reported while running, overriding those derived from netN.
    pub interfaces: Option<Vec<Iface>>,
    /// Whether the container runs docker (extra bridges and veths show up).
    pub docker: bool,
    /// Worker PID while running.
    pub pid: u32,
    pub seed: u64,
    /// QEMU: paused (`qmpstatus: paused`), still running.
    pub paused: bool,
    /// LXC: suspended with `lxc-checkpoint` (stopped, resumable).
    pub checkpoint: bool,
    /// A start task of this guest fails with this text.
    pub start_error: Option<String>,
    /// How long this guest's tasks take, overriding [`crate::SimOptions::task_duration`].
    pub task_secs: Option<f64>,
    /// Figures reported exactly while the guest runs.
    pub pinned: Option<Pinned>,
    /// QEMU: whether an enabled guest agent answers.
    pub agent_running: bool,
    /// TCP services the simulator serves on the guest's address while it runs (a test
    /// fixture, see `crate::services`).
    pub services: Vec<ScenarioService>,
}

/// Figures a scenario pins for a running guest.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Pinned {
    pub cpu: Option<f64>,
    pub mem: Option<u64>,
    pub disk: Option<u64>,
    pub netin: Option<u64>,
    pub netout: Option<u64>,
    pub diskread: Option<u64>,
    pub diskwrite: Option<u64>,
}

impl Guest {
    /// The display name: LXC hostname or `CT<vmid>`, QEMU name or `VM <vmid>`.
    pub fn name(&self) -> String {
        match self.kind {
            GuestKind::Lxc => self
                .config
                .get("hostname")
                .map(|h| h.split_whitespace().collect::<String>())
                .unwrap_or_else(|| format!("CT{}", self.vmid)),
            GuestKind::Qemu => self
                .config
                .get("name")
                .cloned()
                .unwrap_or_else(|| format!("VM {}", self.vmid)),
        }
    }

    /// A config value as an integer.
    pub fn cfg_u64(&self, key: &str) -> Option<u64> {
        self.config.get(key).and_then(|v| v.parse().ok())
    }

    /// Sets or clears the config lock (kept in the config too).
    pub fn set_lock(&mut self, lock: Option<String>) {
        match &lock {
            Some(l) => self.config.insert("lock".into(), l.clone()),
            None => self.config.remove("lock"),
        };
        self.lock = lock;
    }

    /// Whether the QEMU guest agent is enabled in the config (`agent: 1` or `enabled=1`).
    pub fn agent_enabled(&self) -> bool {
        self.config.get("agent").is_some_and(|a| {
            a.split(',').any(|kv| {
                matches!(kv, "1" | "enabled=1") || kv == "on" || kv == "yes" || kv == "enabled=on"
            })
        })
    }

    /// The path of the config file, as error messages name it.
    pub fn conf_path(kind: GuestKind, node: &str, vmid: u32) -> String {
        match kind {
            GuestKind::Lxc => format!("nodes/{node}/lxc/{vmid}.conf"),
            GuestKind::Qemu => format!("nodes/{node}/qemu-server/{vmid}.conf"),
        }
    }
}

/// The whole simulated cluster.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// The cluster name; `None` for a standalone node.
    pub cluster_name: Option<String>,
    pub nodes: Vec<Node>,
    pub node_index: HashMap<String, usize>,
    pub guests: BTreeMap<u32, Guest>,
    /// VMIDs per node name.
    pub by_node: HashMap<String, Vec<u32>>,
    /// Index of the node that answers (the one clients talk to).
    pub local: usize,
    /// Corosync config version.
    pub config_version: u32,
    /// Worker tasks of all nodes.
    pub tasks: tasks::Tasks,
    /// The seed the cluster was made from (nodes and guests added at run time take theirs
    /// from it as a scenario's would).
    pub seed: u64,
    /// VMIDs of the guests that declare services (usually none), so the service listeners
    /// are reconciled without a walk over every guest.
    pub service_guests: BTreeSet<u32>,
}

impl Model {
    /// Builds the indexes; nodes and guests must already be consistent.
    pub fn new(
        cluster_name: Option<String>,
        nodes: Vec<Node>,
        guests: Vec<Guest>,
        seed: u64,
    ) -> Model {
        let node_index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let mut by_node: HashMap<String, Vec<u32>> = HashMap::new();
        let mut map = BTreeMap::new();
        let mut service_guests = BTreeSet::new();
        for g in guests {
            by_node.entry(g.node.clone()).or_default().push(g.vmid);
            if !g.services.is_empty() {
                service_guests.insert(g.vmid);
            }
            map.insert(g.vmid, g);
        }
        let local = nodes.iter().position(|n| n.online).unwrap_or(0);
        Model {
            cluster_name,
            nodes,
            node_index,
            guests: map,
            by_node,
            local,
            config_version: 3,
            tasks: tasks::Tasks::default(),
            seed,
            service_guests,
        }
    }

    /// Starts a planned task on `node` for guest `vmid`, owned by `user` (user or token id);
    /// returns the UPID.
    pub fn start_task(
        &mut self,
        node: &str,
        vmid: u32,
        plan: power::Plan,
        user: &str,
        now_ms: i64,
    ) -> String {
        let upid = self.new_upid(node, plan.worker, &vmid.to_string(), user, now_ms);
        let text = upid.to_string();
        self.tasks.insert(tasks::Task {
            upid,
            text: text.clone(),
            vmid,
            started_ms: now_ms,
            end_ms: now_ms + plan.duration_ms,
            lines: plan.lines,
            result: plan.result,
            effect: plan.effect,
            finished: false,
        });
        text
    }

    /// Starts an open-ended task (`vncshell` or `vncproxy`) that runs until
    /// [`tasks::Tasks::end_open`] ends it; `id` may be empty. Returns the UPID.
    pub fn start_session_task(
        &mut self,
        node: &str,
        worker_type: &str,
        id: &str,
        user: &str,
        now_ms: i64,
    ) -> String {
        let upid = self.new_upid(node, worker_type, id, user, now_ms);
        let text = upid.to_string();
        self.tasks.insert(tasks::Task {
            upid,
            text: text.clone(),
            vmid: id.parse().unwrap_or(0),
            started_ms: now_ms,
            end_ms: i64::MAX / 4,
            lines: Vec::new(),
            result: Ok(()),
            effect: tasks::Effect::None,
            finished: false,
        });
        text
    }

    /// A fresh UPID for a worker forked now on `node`.
    fn new_upid(
        &mut self,
        node: &str,
        worker_type: &str,
        id: &str,
        user: &str,
        now_ms: i64,
    ) -> Upid {
        let (boot_time, seed) = self
            .node_index
            .get(node)
            .map(|&i| (self.nodes[i].boot_time, self.nodes[i].seed))
            .unwrap_or((0, 0));
        let pid = self.tasks.alloc_pid(node, seed);
        // Clock ticks (USER_HZ 100) since boot when the worker was forked.
        let pstart =
            (u64::try_from(now_ms - boot_time * 1000).unwrap_or(0) / 10).min(0xF_FFFF_FFFF);
        Upid {
            node: node.to_string(),
            pid,
            pstart,
            starttime: u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0),
            worker_type: worker_type.to_string(),
            id: id.to_string(),
            user: user.to_string(),
        }
    }

    /// Finishes every task whose end `now_ms` has passed, in end order, applying the effects of
    /// the successful ones.
    pub fn settle(&mut self, now_ms: i64) {
        for upid in self.tasks.take_due(now_ms) {
            let Some(t) = self.tasks.get(&upid) else {
                continue;
            };
            let (vmid, effect, end_ms, ok) = (t.vmid, t.effect, t.end_ms, t.result.is_ok());
            let node = t.upid.node.clone();
            if ok {
                self.apply(&node, vmid, effect, end_ms);
            }
            if let Some(t) = self.tasks.get_mut(&upid) {
                t.finished = true;
            }
        }
    }

    /// Applies a task's effect to its guest at the task's end.
    fn apply(&mut self, node: &str, vmid: u32, effect: tasks::Effect, end_ms: i64) {
        use tasks::Effect;
        let seed = self.guests.get(&vmid).map(|g| g.seed).unwrap_or(0);
        let new_pid = matches!(effect, Effect::Start | Effect::Restart)
            .then(|| self.tasks.alloc_pid(node, seed));
        let Some(g) = self.guests.get_mut(&vmid) else {
            return;
        };
        let at = end_ms.div_euclid(1000);
        let stop = |g: &mut Guest| {
            g.running = false;
            g.started_at = None;
            g.started_ms = None;
            g.paused = false;
        };
        match effect {
            Effect::None => {}
            Effect::Start => {
                if !g.running {
                    g.running = true;
                    g.started_at = Some(at);
                    g.started_ms = Some(end_ms);
                    g.pid = new_pid.unwrap_or(g.pid);
                }
                g.paused = false;
                g.checkpoint = false;
                if g.lock.as_deref() == Some("suspended") {
                    g.set_lock(None);
                }
            }
            Effect::Stop => stop(g),
            Effect::Checkpoint => {
                stop(g);
                g.checkpoint = true;
            }
            Effect::Hibernate => {
                stop(g);
                g.set_lock(Some("suspended".into()));
            }
            Effect::Pause => g.paused = g.running,
            Effect::Unpause => g.paused = false,
            Effect::Restart => {
                if g.running {
                    g.started_at = Some(at);
                    g.started_ms = Some(end_ms);
                    g.pid = new_pid.unwrap_or(g.pid);
                    g.paused = false;
                }
            }
        }
    }

    /// The node a call goes to, or the error the real proxy would answer. `from` is the
    /// index of the node whose listener took the request: a call about that node is answered
    /// locally; one about another node is proxied to it (pve-http-server
    /// src/PVE/APIServer/AnyEvent.pm `proxy_request`, AnyEvent::HTTP to `https://<ip>:8006`),
    /// and when that connect fails pveproxy relays AnyEvent::HTTP's status 595 with `$!` as
    /// the reason and no body: "No route to host" for a node that is down (no host answers
    /// for its address), "Connection refused" for a node whose pveproxy is not listening.
    pub fn reachable_node(&self, from: usize, name: &str) -> Result<&Node, ApiError> {
        let (i, node) = self
            .node_index
            .get(name)
            .map(|&i| (i, &self.nodes[i]))
            .ok_or_else(|| {
                ApiError::new(
                    500,
                    format!(
                        "hostname lookup '{name}' failed - failed to get address info for: {name}: Name or service not known\n"
                    ),
                )
            })?;
        if i == from {
            return Ok(node);
        }
        if !node.online {
            return Err(ApiError::proxy(595, "No route to host"));
        }
        if !node.pveproxy {
            return Err(ApiError::proxy(595, "Connection refused"));
        }
        Ok(node)
    }

    /// Records whether node `i`'s listener runs.
    pub fn set_pveproxy(&mut self, i: usize, up: bool) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.pveproxy = up;
        }
    }

    /// A guest of the given kind on the given node, or the "does not exist" error.
    pub fn guest_on(&self, node: &str, vmid: u32, kind: GuestKind) -> Result<&Guest, ApiError> {
        match self.guests.get(&vmid) {
            Some(g) if g.node == node && g.kind == kind => Ok(g),
            _ => Err(ApiError::new(
                500,
                format!(
                    "Configuration file '{}' does not exist\n",
                    Guest::conf_path(kind, node, vmid)
                ),
            )),
        }
    }

    /// The guests of a node, in VMID order.
    pub fn guests_of<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Guest> + 'a {
        self.by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|id| self.guests.get(id))
    }
}
