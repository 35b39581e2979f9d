//! Guests (LXC containers and QEMU VMs): status, power actions with task tracking, IPs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use pvekit_core::propstring::{self, LxcNet};
use pvekit_core::types::{GuestKind, GuestStatus, LxcInterface, RunState};
use pvekit_core::{Upid, names};
use serde::Deserialize;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::node::Node;
use crate::task::{Task, TaskProgress, WaitOptions};
use futures_util::{Stream, StreamExt};

/// The answer of `GET .../qemu/{vmid}/agent/network-get-interfaces`: the agent's own reply,
/// the interfaces (in the shape LXC's `interfaces` call shares), or an error object such as
/// `{"error": {"class": "Unsupported", ...}}` from an agent that lacks the command.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct AgentReply {
    /// The agent's result.
    pub result: serde_json::Value,
}

impl AgentReply {
    /// The interfaces; none when the agent answered with an error.
    pub(crate) fn interfaces(self) -> std::result::Result<Vec<LxcInterface>, String> {
        match self.result {
            serde_json::Value::Array(_) => {
                pvekit_core::perl::from_value(self.result).map_err(|e| e.to_string())
            }
            _ => Ok(Vec::new()),
        }
    }
}

/// A power action on a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Start the guest.
    Start,
    /// Ask the guest OS to shut down.
    Shutdown,
    /// Stop immediately.
    Stop,
    /// Checkpoint and stop (LXC, `lxc-checkpoint -s`) or pause (QEMU).
    Suspend,
    /// Restore a checkpointed container, or unpause a VM.
    Resume,
    /// Reboot.
    Reboot,
}

impl Action {
    /// The path segment under `status/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Shutdown => "shutdown",
            Action::Stop => "stop",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Reboot => "reboot",
        }
    }

    /// The run state the server reports once the action is done. Proxmox VE reports only
    /// `running` or `stopped`: a paused VM still reads `running`, while a suspended
    /// container is checkpointed and stopped (`lxc-checkpoint -s`) until it is resumed.
    pub fn expected_state(self, kind: GuestKind) -> RunState {
        match (self, kind) {
            (Action::Shutdown | Action::Stop, _) => RunState::Stopped,
            (Action::Suspend, GuestKind::Lxc) => RunState::Stopped,
            _ => RunState::Running,
        }
    }

    /// The task worker types the server uses for this action.
    fn worker_types(self, kind: GuestKind) -> &'static [&'static str] {
        match (kind, self) {
            (GuestKind::Lxc, Action::Start) => &["vzstart", "hastart"],
            (GuestKind::Lxc, Action::Shutdown) => &["vzshutdown", "hastop"],
            (GuestKind::Lxc, Action::Stop) => &["vzstop", "hastop"],
            (GuestKind::Lxc, Action::Suspend) => &["vzsuspend"],
            (GuestKind::Lxc, Action::Resume) => &["vzresume"],
            (GuestKind::Lxc, Action::Reboot) => &["vzreboot"],
            (GuestKind::Qemu, Action::Start) => &["qmstart", "hastart"],
            (GuestKind::Qemu, Action::Shutdown) => &["qmshutdown", "hastop"],
            (GuestKind::Qemu, Action::Stop) => &["qmstop", "hastop"],
            (GuestKind::Qemu, Action::Suspend) => &["qmpause", "qmsuspend"],
            (GuestKind::Qemu, Action::Resume) => &["qmresume"],
            (GuestKind::Qemu, Action::Reboot) => &["qmreboot"],
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "start" => Action::Start,
            "shutdown" => Action::Shutdown,
            "stop" => Action::Stop,
            "suspend" => Action::Suspend,
            "resume" => Action::Resume,
            "reboot" => Action::Reboot,
            other => return Err(format!("unknown action '{other}'")),
        })
    }
}

/// How an action is followed: [`WaitOptions`] (poll interval, timeout, log lines).
pub type ActionOptions = WaitOptions;

type TaskPolls = std::pin::Pin<Box<dyn Stream<Item = Result<TaskProgress>> + Send>>;

/// A power action that has started: its task, followed to the guest's new state.
///
/// ```no_run
/// # async fn demo(node: pvekit::Node) -> Result<(), pvekit::Error> {
/// use futures_util::StreamExt;
/// let action = node.lxc(101).begin(pvekit::Action::Start).await?;
/// println!("task {}", action.upid());
/// let progress = action.progress();
/// futures_util::pin_mut!(progress);
/// while let Some(p) = progress.next().await {
///     let p = p?;
///     println!("{} after {:?}", p.status.status, p.elapsed);
/// }
/// // Or simply: node.lxc(101).begin(pvekit::Action::Start).await?.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ActionTask {
    guest: Guest,
    action: Action,
    task: Task,
    options: WaitOptions,
}

impl ActionTask {
    /// The task id.
    pub fn upid(&self) -> &Upid {
        self.task.upid()
    }

    /// The task.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Follows with these options instead of the defaults.
    #[must_use]
    pub fn options(mut self, options: WaitOptions) -> Self {
        self.options = options;
        self
    }

    /// The task's progress (see [`Task::progress`]), then, once it stopped well, the wait
    /// for the guest to reach the state the action leads to (an LXC suspend stops the
    /// container; a QEMU pause keeps it running). The stream ends when the guest is there.
    ///
    /// Items are errors when the task failed ([`Error::TaskFailed`], with its own text),
    /// when `options.timeout` passed first ([`Error::Timeout`]), or a poll failed.
    pub fn progress(self) -> impl Stream<Item = Result<TaskProgress>> + Send + use<> {
        let started = Instant::now();
        let deadline = started + self.options.timeout;
        let polls: TaskPolls = Box::pin(self.task.progress(self.options));
        futures_util::stream::unfold(Some((polls, self)), move |state| async move {
            let (mut polls, this) = state?;
            match polls.next().await {
                Some(Ok(p)) => Some((Ok(p), Some((polls, this)))),
                Some(Err(e)) => Some((Err(e), None)),
                // The task ended well: wait for the guest's new state.
                None => match this.confirm(started, deadline).await {
                    Ok(()) => None,
                    Err(e) => Some((Err(e), None)),
                },
            }
        })
    }

    /// Polls the guest until it is in the state the action leads to.
    async fn confirm(&self, started: Instant, deadline: Instant) -> Result<()> {
        let want = self.action.expected_state(self.guest.kind());
        loop {
            let status = self.guest.status().await?;
            if status.status == want {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!(
                        "{} {} to become {want} after {} (it is {})",
                        self.guest.kind(),
                        self.guest.vmid(),
                        self.action.as_str(),
                        status.status
                    ),
                    after: started.elapsed(),
                });
            }
            tokio::time::sleep(self.options.poll.max(crate::MIN_INTERVAL)).await;
        }
    }

    /// Follows the action to its end.
    ///
    /// # Errors
    /// As [`ActionTask::progress`]'s error items.
    pub async fn wait(self) -> Result<()> {
        let progress = self.progress();
        futures_util::pin_mut!(progress);
        while let Some(p) = progress.next().await {
            p?;
        }
        Ok(())
    }
}

/// Which addresses count as a guest's IPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPolicy {
    /// Keep only private addresses (RFC 1918 IPv4, fc00::/7 IPv6), as GoDoxy does, so a
    /// reverse proxy never routes to a public or link-local address. Default `true`.
    pub private_only: bool,
}

impl Default for IpPolicy {
    fn default() -> Self {
        IpPolicy { private_only: true }
    }
}

impl IpPolicy {
    /// Whether the policy keeps this address.
    pub fn keeps(&self, ip: &IpAddr) -> bool {
        !self.private_only || is_private(ip)
    }
}

/// RFC 1918 IPv4 or unique-local IPv6 (what Go's `net.IP.IsPrivate` accepts).
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private(),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Interfaces that never carry a guest's own address: loopback, bridges, veth peers, docker.
pub fn is_ignored_interface(name: &str) -> bool {
    name == "lo"
        || name.starts_with("br-")
        || name.starts_with("veth")
        || name.starts_with("docker")
}

/// A guest on a node: a lazy handle (from [`Node::lxc`] or [`Node::qemu`]; no I/O to make
/// one) for status, power actions, IPs, stats, history, and in containers commands,
/// journals and tails.
///
/// ```no_run
/// # async fn demo(client: pvekit::Client) -> Result<(), pvekit::Error> {
/// let ct = client.node("pve1").lxc(101);
/// if ct.is_stopped().await? {
///     ct.start().await?; // follows the task until the container runs
/// }
/// println!("{} {:?}", ct.name().await?, ct.ips(pvekit::IpPolicy::default()).await?);
/// println!("{}", ct.stats_line().await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Guest {
    node: Node,
    kind: GuestKind,
    vmid: u64,
}

impl Guest {
    pub(crate) fn new(node: Node, kind: GuestKind, vmid: u64) -> Self {
        Guest { node, kind, vmid }
    }

    /// The guest id.
    pub fn vmid(&self) -> u64 {
        self.vmid
    }

    /// LXC or QEMU.
    pub fn kind(&self) -> GuestKind {
        self.kind
    }

    /// The node the guest lives on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    fn path(&self, leaf: &str) -> String {
        let base = pvekit_core::path::api_path([
            "nodes",
            self.node.name(),
            self.kind.as_str(),
            &self.vmid.to_string(),
        ]);
        format!("{base}{leaf}")
    }

    pub(crate) fn check_vmid(&self) -> Result<()> {
        if names::is_vmid(self.vmid) {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "{} is not a valid VMID (100 to 999999999)",
                self.vmid
            )))
        }
    }

    /// `status/current`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the guest does not exist on the node; transport errors.
    pub async fn status(&self) -> Result<GuestStatus> {
        self.check_vmid()?;
        self.node.client().get(&self.path("/status/current")).await
    }

    /// Whether the guest runs.
    ///
    /// # Errors
    /// As [`Guest::status`].
    pub async fn is_running(&self) -> Result<bool> {
        Ok(self.status().await?.status == RunState::Running)
    }

    /// Whether the guest is stopped.
    ///
    /// # Errors
    /// As [`Guest::status`].
    pub async fn is_stopped(&self) -> Result<bool> {
        Ok(self.status().await?.status == RunState::Stopped)
    }

    /// The guest's name (hostname for containers).
    ///
    /// # Errors
    /// As [`Guest::status`].
    pub async fn name(&self) -> Result<String> {
        let s = self.status().await?;
        Ok(s.name.unwrap_or_else(|| match self.kind {
            GuestKind::Lxc => format!("CT{}", self.vmid),
            GuestKind::Qemu => format!("VM {}", self.vmid),
        }))
    }

    /// The guest's config as the server returns it (pending changes merged in).
    ///
    /// # Errors
    /// As [`Guest::status`].
    pub async fn config(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        self.check_vmid()?;
        self.node.client().get(&self.path("/config")).await
    }

    /// Starts an action and returns it without waiting: follow it with
    /// [`ActionTask::wait`] or [`ActionTask::progress`].
    ///
    /// # Errors
    /// The server's immediate refusal (such as "CT 100 already running"); [`Error::Decode`]
    /// when the answer is not a UPID of the expected kind.
    pub async fn begin(&self, action: Action) -> Result<ActionTask> {
        self.check_vmid()?;
        let path = self.path(&format!("/status/{}", action.as_str()));
        let raw: String = self.node.client().post(&path, &[]).await?;
        let upid: Upid = raw.parse().map_err(|e| Error::Decode {
            method: "POST".into(),
            path: path.clone(),
            reason: format!("expected a task id: {e}"),
        })?;
        if !action
            .worker_types(self.kind)
            .contains(&upid.worker_type.as_str())
        {
            return Err(Error::Decode {
                method: "POST".into(),
                path,
                reason: format!(
                    "unexpected task type '{}' for {}",
                    upid.worker_type,
                    action.as_str()
                ),
            });
        }
        Ok(ActionTask {
            guest: self.clone(),
            action,
            task: Task::new(self.node.client().clone(), upid),
            options: WaitOptions::default(),
        })
    }

    /// Runs an action to its end: follows the task, fails with the task's own error text,
    /// then confirms the guest reached the expected state.
    ///
    /// # Errors
    /// [`Error::TaskFailed`], [`Error::Timeout`], or the server's refusal.
    pub async fn action(&self, action: Action) -> Result<()> {
        self.action_with(action, ActionOptions::default()).await
    }

    /// [`Guest::action`] with explicit polling and timeout.
    ///
    /// # Errors
    /// As [`Guest::action`].
    pub async fn action_with(&self, action: Action, options: WaitOptions) -> Result<()> {
        self.begin(action).await?.options(options).wait().await
    }

    /// Starts the guest and waits until it runs.
    ///
    /// # Errors
    /// As [`Guest::action`].
    pub async fn start(&self) -> Result<()> {
        self.action(Action::Start).await
    }

    /// Shuts the guest down and waits until it stopped.
    ///
    /// # Errors
    /// As [`Guest::action`].
    pub async fn shutdown(&self) -> Result<()> {
        self.action(Action::Shutdown).await
    }

    /// Stops the guest at once.
    ///
    /// # Errors
    /// As [`Guest::action`].
    pub async fn stop(&self) -> Result<()> {
        self.action(Action::Stop).await
    }

    /// Suspends the guest: a container is checkpointed and stopped, a VM paused.
    ///
    /// # Errors
    /// As [`Guest::action`].
    pub async fn suspend(&self) -> Result<()> {
        self.action(Action::Suspend).await
    }

    /// Resumes a suspended guest.
    ///
    /// # Errors
    /// As [`Guest::action`].
    pub async fn resume(&self) -> Result<()> {
        self.action(Action::Resume).await
    }

    /// Reboots the guest.
    ///
    /// # Errors
    /// As [`Guest::action`].
    pub async fn reboot(&self) -> Result<()> {
        self.action(Action::Reboot).await
    }

    /// Sets how long a shutdown may take before the container is stopped (`startup: down=N`),
    /// keeping the rest of the startup setting.
    ///
    /// Containers only: a VM's config is changed through a different method (with its own
    /// large parameter set) that pvekit does not send.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a VM, [`Error::InvalidInput`] for a timeout that is not
    /// whole seconds; server errors.
    pub async fn set_shutdown_timeout(&self, timeout: Duration) -> Result<()> {
        if self.kind != GuestKind::Lxc {
            return Err(Error::unsupported(format!(
                "the shutdown timeout can be set for containers only; for VM {} use the web UI \
                 (Options > Start/Shutdown order) or `qm set {} --startup down=N` on the node",
                self.vmid, self.vmid
            )));
        }
        if timeout.subsec_nanos() != 0 {
            return Err(Error::invalid("the shutdown timeout must be whole seconds"));
        }
        let config = self.config().await?;
        let current = config.get("startup").and_then(|v| v.as_str()).unwrap_or("");
        let mut parts = propstring::parse(current, Some("order")).map_err(|e| Error::Decode {
            method: "GET".into(),
            path: self.path("/config"),
            reason: format!("startup: {e}"),
        })?;
        parts.insert("down".into(), timeout.as_secs().to_string());
        let value: Vec<String> = ["order", "up", "down"]
            .iter()
            .filter_map(|k| parts.get(*k).map(|v| format!("{k}={v}")))
            .collect();
        let _: Option<serde_json::Value> = self
            .node
            .client()
            .put(&self.path("/config"), &[("startup", value.join(","))])
            .await?;
        Ok(())
    }

    /// The guest's IPs: from its live interfaces when it runs, else from its config
    /// (containers only; a VM's addresses come from its guest agent).
    ///
    /// # Errors
    /// Server errors other than "not running".
    pub async fn ips(&self, policy: IpPolicy) -> Result<Vec<IpAddr>> {
        if self.is_running().await? {
            let live = self.ips_from_interfaces(policy).await?;
            if !live.is_empty() || self.kind == GuestKind::Qemu {
                return Ok(live);
            }
        }
        match self.kind {
            GuestKind::Lxc => self.ips_from_config(policy).await,
            GuestKind::Qemu => Ok(Vec::new()),
        }
    }

    /// Addresses of the running guest's interfaces, skipping `lo`, `br-*`, `veth*` and
    /// `docker*`. Empty when the guest is stopped (or, for a VM, has no agent).
    ///
    /// # Errors
    /// Server errors.
    pub async fn ips_from_interfaces(&self, policy: IpPolicy) -> Result<Vec<IpAddr>> {
        self.check_vmid()?;
        let client = self.node.client();
        let ifaces: Vec<LxcInterface> = match self.kind {
            GuestKind::Lxc => client
                .get::<Option<Vec<LxcInterface>>>(&self.path("/interfaces"))
                .await?
                .unwrap_or_default(),
            GuestKind::Qemu => {
                match client
                    .get::<AgentReply>(&self.path("/agent/network-get-interfaces"))
                    .await
                {
                    Ok(r) => r.interfaces().map_err(|reason| Error::Decode {
                        method: "GET".into(),
                        path: self.path("/agent/network-get-interfaces"),
                        reason,
                    })?,
                    Err(Error::Api { status: 500, .. }) => Vec::new(),
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(ips_of_interfaces(&ifaces, policy))
    }

    /// Static addresses from the container config's `netN` keys, in numeric order of N;
    /// `dhcp`, `auto` and `manual` yield nothing.
    ///
    /// # Errors
    /// Server errors; [`Error::Decode`] for a malformed `netN` value.
    pub async fn ips_from_config(&self, policy: IpPolicy) -> Result<Vec<IpAddr>> {
        let config = self.config().await?;
        ips_of_config(&config, policy).map_err(|reason| Error::Decode {
            method: "GET".into(),
            path: self.path("/config"),
            reason,
        })
    }
}

/// Addresses of interfaces, filtered by name and policy, without duplicates.
pub fn ips_of_interfaces(ifaces: &[LxcInterface], policy: IpPolicy) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for iface in ifaces.iter().filter(|i| !is_ignored_interface(&i.name)) {
        for a in &iface.ip_addresses {
            if let Ok(ip) = a.ip_address.parse::<IpAddr>()
                && policy.keeps(&ip)
                && !out.contains(&ip)
            {
                out.push(ip);
            }
        }
    }
    out
}

/// Static addresses of a container config's `netN` keys, in numeric order of N.
pub fn ips_of_config(
    config: &BTreeMap<String, serde_json::Value>,
    policy: IpPolicy,
) -> std::result::Result<Vec<IpAddr>, String> {
    let mut nets: Vec<(u32, &str)> = config
        .iter()
        .filter_map(|(k, v)| {
            let n = k.strip_prefix("net")?.parse::<u32>().ok()?;
            Some((n, v.as_str()?))
        })
        .collect();
    nets.sort_by_key(|(n, _)| *n);
    let mut out = Vec::new();
    for (n, value) in nets {
        let net = LxcNet::parse(value).map_err(|e| format!("net{n}: {e}"))?;
        for ip in net.static_ips() {
            if policy.keeps(&ip) && !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_ips_in_numeric_order() {
        let cfg: BTreeMap<String, serde_json::Value> = serde_json::from_value(json!({
            "net10": "name=eth10,ip=10.0.0.10/24",
            "net2": "name=eth2,ip=dhcp,ip6=fd00::2/64",
            "net1": "name=eth1,ip=192.168.1.5/24,ip6=auto",
            "net0": "name=eth0,ip=8.8.8.8/24",
            "hostname": "x"
        }))
        .unwrap();
        let got = ips_of_config(&cfg, IpPolicy::default()).unwrap();
        let want: Vec<IpAddr> = ["192.168.1.5", "fd00::2", "10.0.0.10"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        let all = ips_of_config(
            &cfg,
            IpPolicy {
                private_only: false,
            },
        )
        .unwrap();
        assert_eq!(all[0], "8.8.8.8".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn interface_filtering() {
        let ifaces: Vec<LxcInterface> = serde_json::from_value(json!([
            {"name":"lo","ip-addresses":[{"ip-address":"127.0.0.1","ip-address-type":"inet","prefix":8}]},
            {"name":"eth0","ip-addresses":[
                {"ip-address":"10.1.2.3","ip-address-type":"inet","prefix":24},
                {"ip-address":"fe80::1","ip-address-type":"inet6","prefix":64}]},
            {"name":"docker0","ip-addresses":[{"ip-address":"172.17.0.1","ip-address-type":"inet","prefix":16}]},
            {"name":"br-abc","ip-addresses":[{"ip-address":"172.18.0.1","ip-address-type":"inet","prefix":16}]},
            {"name":"veth1","ip-addresses":[{"ip-address":"172.19.0.1","ip-address-type":"inet","prefix":16}]},
            {"name":"eth1","ip-addresses":[{"ip-address":"203.0.113.9","ip-address-type":"inet","prefix":24}]}
        ]))
        .unwrap();
        assert_eq!(
            ips_of_interfaces(&ifaces, IpPolicy::default()),
            vec!["10.1.2.3".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            ips_of_interfaces(
                &ifaces,
                IpPolicy {
                    private_only: false
                }
            )
            .len(),
            3
        );
    }

    #[test]
    fn expected_states_follow_the_real_server() {
        assert_eq!(
            Action::Suspend.expected_state(GuestKind::Qemu),
            RunState::Running
        );
        assert_eq!(
            Action::Suspend.expected_state(GuestKind::Lxc),
            RunState::Stopped
        );
        assert_eq!(
            Action::Resume.expected_state(GuestKind::Lxc),
            RunState::Running
        );
        assert_eq!(
            Action::Shutdown.expected_state(GuestKind::Qemu),
            RunState::Stopped
        );
    }
}
