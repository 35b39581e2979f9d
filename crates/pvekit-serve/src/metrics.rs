//! `/pve` (prometheus-pve-exporter's metrics) and `/metrics` (the server's own).
//!
//! `GET /pve?target=CLUSTER` renders, from the live inventory (guests) and the cluster's
//! facts poll (nodes, storages, `/cluster/status`) plus the version read at connection, what
//! prometheus-pve-exporter 3.10's cluster collectors serve for the same cluster: `status`
//! (`pve_up`), `resources` (sizes, usage, the `_total` counters, HA and lock state,
//! `pve_guest_info`, `pve_storage_info`), `node` (`pve_node_info`), `cluster`
//! (`pve_cluster_info`), `version` (`pve_version_info`) and `backup-info`
//! (`pve_not_backed_up_total`, `pve_not_backed_up_info`, when the login may read it), with
//! the same names, types, help texts, label names and `id`s, so dashboards made for the
//! exporter work unchanged. A scrape sends no request upstream. The exporter's node
//! collectors (`config`: `pve_onboot_status`, `replication`, `subscription`) and its
//! `qdevice` collector are not served.
//!
//! Source of every metric: prometheus-pve-exporter's `pve_exporter/collector/cluster.py`.
//!
//! `GET /metrics`: pvekit serve's own figures (polls, upstream requests by status, inventory
//! age, open WebSockets, terminal sessions and event streams, power actions by result).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use pvekit::types::{ClusterResource, ClusterStatusItem, StorageResource};
use serde::Deserialize;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult, Query};
use crate::facts::ClusterFacts;
use crate::state::{AppState, Cluster};

/// The content type of the Prometheus text format 0.0.4.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics routes (behind auth).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/pve", get(pve))
        .route("/metrics", get(own))
}

/// The query of `/pve`, as prometheus-pve-exporter takes it.
#[derive(Debug, Deserialize)]
struct PveQuery {
    /// The cluster's name (the exporter takes a host here).
    target: String,
    /// `0`/`false` turns the cluster collectors off (as the exporter's `cluster=0`).
    #[serde(default)]
    cluster: Option<String>,
}

/// Whether an exporter flag (`cluster=`, `node=`) is on: anything but `0`, `false` or empty.
fn flag_on(v: Option<&str>) -> bool {
    v.is_none_or(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | ""))
}

fn text(body: String) -> Response {
    ([(CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

/// `GET /pve?target=CLUSTER`.
async fn pve(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PveQuery>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let cluster = state.cluster(&q.target)?;
    if !flag_on(q.cluster.as_deref()) {
        return Ok(text(String::new()));
    }
    Ok(text(render_pve(cluster)?))
}

/// `GET /metrics`.
async fn own(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    Ok(text(render_own(&state)))
}

// ---------------------------------------------------------------------------------------
// The text format.

/// A sample's value: integers are written exactly, floats in their shortest form.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(u64),
    Float(f64),
}

impl From<bool> for Num {
    fn from(b: bool) -> Self {
        Num::Int(u64::from(b))
    }
}

impl From<u64> for Num {
    fn from(v: u64) -> Self {
        Num::Int(v)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Num::Float(v)
    }
}

/// A family's type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
    Summary,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Summary => "summary",
        }
    }
}

/// Writes the Prometheus text format (0.0.4): `# HELP` and `# TYPE` per family, then its
/// samples, label values and help texts escaped.
#[derive(Debug, Default)]
struct TextWriter {
    out: String,
}

impl TextWriter {
    fn with_capacity(n: usize) -> Self {
        TextWriter {
            out: String::with_capacity(n),
        }
    }

    /// Starts a family.
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_help(&mut self.out, help);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    /// One sample; labels are written in the order given.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Num>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        write_num(&mut self.out, value.into());
        self.out.push('\n');
    }

    fn finish(self) -> String {
        self.out
    }
}

/// A label value: `\`, `"` and newlines escaped.
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A help text: `\` and newlines escaped.
fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_num(out: &mut String, n: Num) {
    match n {
        Num::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Num::Float(f) if f.is_nan() => out.push_str("NaN"),
        Num::Float(f) if f.is_infinite() => {
            out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
        }
        // Debug is the shortest text that reads back as the same f64 (`0.311`, `1.0`,
        // `1e-7`), which every Prometheus parser takes.
        Num::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// `/pve`.

/// A numeric field of a `/cluster/resources` item that the exporter turns into a metric.
#[derive(Debug, Clone, Copy)]
enum Field {
    MaxDisk,
    Disk,
    MaxMem,
    Mem,
    NetOut,
    NetIn,
    DiskWrite,
    DiskRead,
    Cpu,
    MaxCpu,
    Uptime,
    Shared,
}

/// prometheus-pve-exporter's `ClusterResourcesCollector` gauges, in its order: the item's
/// field, the metric's name and help.
const GAUGES: [(Field, &str, &str); 12] = [
    (
        Field::MaxDisk,
        "pve_disk_size_bytes",
        "Storage size in bytes (for type 'storage'), root image size for VMs (for types 'qemu' and 'lxc').",
    ),
    (
        Field::Disk,
        "pve_disk_usage_bytes",
        "Used disk space in bytes (for type 'storage'), used root image space for VMs (for types 'qemu' and 'lxc').",
    ),
    (
        Field::MaxMem,
        "pve_memory_size_bytes",
        "Number of available memory in bytes (for types 'node', 'qemu' and 'lxc').",
    ),
    (
        Field::Mem,
        "pve_memory_usage_bytes",
        "Used memory in bytes (for types 'node', 'qemu' and 'lxc').",
    ),
    (
        Field::NetOut,
        "pve_network_transmit_bytes",
        "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_transmit_bytes_total instead.",
    ),
    (
        Field::NetIn,
        "pve_network_receive_bytes",
        "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_receive_bytes_total instead.",
    ),
    (
        Field::DiskWrite,
        "pve_disk_write_bytes",
        "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_written_bytes_total instead.",
    ),
    (
        Field::DiskRead,
        "pve_disk_read_bytes",
        "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_read_bytes_total instead.",
    ),
    (
        Field::Cpu,
        "pve_cpu_usage_ratio",
        "CPU utilization (for types 'node', 'qemu' and 'lxc').",
    ),
    (
        Field::MaxCpu,
        "pve_cpu_usage_limit",
        "Number of available CPUs (for types 'node', 'qemu' and 'lxc').",
    ),
    (
        Field::Uptime,
        "pve_uptime_seconds",
        "Uptime of node or virtual guest in seconds (for types 'node', 'qemu' and 'lxc').",
    ),
    (
        Field::Shared,
        "pve_storage_shared",
        "Whether or not the storage is shared among cluster nodes",
    ),
];

/// The exporter's counters (the same fields as four of the gauges).
const COUNTERS: [(Field, &str, &str); 4] = [
    (
        Field::NetOut,
        "pve_network_transmit_bytes_total",
        "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc')",
    ),
    (
        Field::NetIn,
        "pve_network_receive_bytes_total",
        "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc')",
    ),
    (
        Field::DiskWrite,
        "pve_disk_written_bytes_total",
        "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')",
    ),
    (
        Field::DiskRead,
        "pve_disk_read_bytes_total",
        "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')",
    ),
];

/// The HA states the exporter lists for guests (`HighAvailabilityStateMetric`).
const GUEST_HA_STATES: [&str; 11] = [
    "stopped",
    "request_stop",
    "request_start",
    "request_start_balance",
    "started",
    "fence",
    "recovery",
    "migrate",
    "relocate",
    "freeze",
    "error",
];

/// The HA states the exporter lists for nodes.
const NODE_HA_STATES: [&str; 5] = ["online", "maintenance", "unknown", "fence", "gone"];

/// The config locks the exporter lists for guests (`LockStateMetric`).
const LOCK_STATES: [&str; 9] = [
    "backup",
    "clone",
    "create",
    "migrate",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspended",
    "suspending",
];

/// A `/cluster/resources` item: a guest or node ([`ClusterResource`]) or a storage.
#[derive(Clone, Copy)]
enum Item<'a> {
    Resource(&'a ClusterResource),
    Storage(&'a StorageResource),
}

impl Item<'_> {
    fn id(&self) -> &str {
        match self {
            Item::Resource(r) => &r.id,
            Item::Storage(s) => &s.id,
        }
    }

    /// The field's value when the item has it (the exporter writes a sample for every field
    /// the item's JSON holds, and none for a field it lacks).
    fn field(&self, f: Field) -> Option<Num> {
        match self {
            Item::Resource(r) => match f {
                Field::MaxDisk => r.maxdisk.map(Num::from),
                Field::Disk => r.disk.map(Num::from),
                Field::MaxMem => r.maxmem.map(Num::from),
                Field::Mem => r.mem.map(Num::from),
                Field::NetOut => r.netout.map(Num::from),
                Field::NetIn => r.netin.map(Num::from),
                Field::DiskWrite => r.diskwrite.map(Num::from),
                Field::DiskRead => r.diskread.map(Num::from),
                Field::Cpu => r.cpu.map(Num::from),
                Field::MaxCpu => r.maxcpu.map(Num::from),
                Field::Uptime => r.uptime.map(Num::from),
                Field::Shared => None,
            },
            Item::Storage(s) => match f {
                Field::MaxDisk => s.maxdisk.map(Num::from),
                Field::Disk => s.disk.map(Num::from),
                Field::Shared => s.shared.map(Num::from),
                _ => None,
            },
        }
    }
}

/// `Some(true)` as `1`, `Some(false)` as `0`, unknown as empty (the exporter's `str()` of
/// the JSON's 0/1, or `''` when absent).
fn bool_label(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    }
}

/// A comma-separated list sorted (the exporter sorts `content`, whose order Proxmox VE does
/// not keep stable).
fn sorted_csv(s: &str) -> String {
    let mut parts: Vec<&str> = s.split(',').collect();
    parts.sort_unstable();
    parts.join(",")
}

/// The exporter's `/pve` output for a cluster.
///
/// # Errors
/// 503 while the cluster's inventory or facts have not been read yet, or when the latest
/// poll failed (the exporter's scrape fails too when Proxmox VE does not answer).
fn render_pve(cluster: &Cluster) -> Result<String, ApiError> {
    let snapshot = cluster.store.snapshot();
    let facts = cluster.facts.load_full();
    not_ready(
        &cluster.name,
        snapshot.taken_at.is_some(),
        snapshot.stale.as_deref(),
        &facts,
    )?;
    let guests: Vec<_> = snapshot.guests().iter().map(|g| g.to_resource()).collect();
    Ok(render_pve_from(
        guests.iter(),
        &facts,
        cluster.client.version(),
    ))
}

fn not_ready(
    name: &str,
    listed: bool,
    stale: Option<&str>,
    facts: &ClusterFacts,
) -> Result<(), ApiError> {
    use axum::http::StatusCode;
    let unavailable = |why: String| {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics not available",
            why,
        ))
    };
    if !listed || facts.taken_at.is_none() {
        return unavailable(format!(
            "cluster '{name}' has not been read yet; try again after its first poll"
        ));
    }
    if let Some(why) = stale {
        return unavailable(format!("cluster '{name}': the latest poll failed: {why}"));
    }
    if let Some(why) = &facts.error {
        return unavailable(format!("cluster '{name}': the latest poll failed: {why}"));
    }
    Ok(())
}

/// The rendering itself, from the guests, the facts and the version.
fn render_pve_from<'a, I>(
    guests: I,
    facts: &'a ClusterFacts,
    version: &pvekit::types::Version,
) -> String
where
    I: Iterator<Item = &'a ClusterResource> + Clone,
{
    let items = || {
        guests
            .clone()
            .map(Item::Resource)
            .chain(facts.nodes.iter().map(Item::Resource))
            .chain(facts.storages.iter().map(Item::Storage))
    };
    let n = guests.clone().count() + facts.nodes.len() + facts.storages.len();
    let mut w = TextWriter::with_capacity(4096 + n * 2048);

    // StatusCollector.
    w.family("pve_up", Kind::Gauge, "Node/VM/CT-Status is online/running");
    for item in &facts.status {
        match item {
            ClusterStatusItem::Node(n) => w.sample("pve_up", &[("id", &n.id)], n.online),
            ClusterStatusItem::Cluster(c) => {
                let id = format!("cluster/{}", c.name);
                w.sample("pve_up", &[("id", &id)], c.quorate);
            }
        }
    }
    for g in guests.clone() {
        w.sample(
            "pve_up",
            &[("id", &g.id)],
            g.status.as_ref().is_some_and(|s| s.as_str() == "running"),
        );
    }
    for s in &facts.storages {
        w.sample(
            "pve_up",
            &[("id", &s.id)],
            s.status.as_ref().is_some_and(|s| s.as_str() == "available"),
        );
    }

    // ClusterResourcesCollector.
    for (field, name, help) in GAUGES.iter().chain(COUNTERS.iter()) {
        let kind = if name.ends_with("_total") {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        w.family(name, kind, help);
        for item in items() {
            if let Some(v) = item.field(*field) {
                w.sample(name, &[("id", item.id())], v);
            }
        }
    }
    w.family(
        "pve_ha_state",
        Kind::Gauge,
        "HA service status (for HA managed VMs).",
    );
    for item in items() {
        let Item::Resource(r) = item else { continue };
        let states: &[&str] = match r.kind.as_str() {
            "qemu" | "lxc" => &GUEST_HA_STATES,
            "node" => &NODE_HA_STATES,
            _ => continue,
        };
        for state in states {
            w.sample(
                "pve_ha_state",
                &[("id", &r.id), ("state", state)],
                r.hastate.as_deref() == Some(*state),
            );
        }
    }
    w.family(
        "pve_lock_state",
        Kind::Gauge,
        "The guest's current config lock (for types 'qemu' and 'lxc')",
    );
    for g in guests.clone() {
        for state in LOCK_STATES {
            w.sample(
                "pve_lock_state",
                &[("id", &g.id), ("state", state)],
                g.lock.as_deref() == Some(state),
            );
        }
    }
    w.family("pve_guest_info", Kind::Gauge, "VM/CT info");
    for g in guests.clone() {
        w.sample(
            "pve_guest_info",
            &[
                ("id", &g.id),
                ("name", g.name.as_deref().unwrap_or("")),
                ("node", g.node.as_deref().unwrap_or("")),
                ("tags", g.tags.as_deref().unwrap_or("")),
                ("template", bool_label(g.template)),
                ("type", g.kind.as_str()),
            ],
            1u64,
        );
    }
    w.family("pve_storage_info", Kind::Gauge, "Storage info");
    for s in &facts.storages {
        let content = sorted_csv(s.content.as_deref().unwrap_or(""));
        w.sample(
            "pve_storage_info",
            &[
                ("content", &content),
                ("id", &s.id),
                ("node", &s.node),
                ("plugintype", s.plugintype.as_deref().unwrap_or("")),
                ("storage", &s.storage),
            ],
            1u64,
        );
    }

    // ClusterNodeCollector: only when the status lists nodes.
    let nodes: Vec<_> = facts
        .status
        .iter()
        .filter_map(|i| match i {
            ClusterStatusItem::Node(n) => Some(n),
            ClusterStatusItem::Cluster(_) => None,
        })
        .collect();
    if !nodes.is_empty() {
        w.family("pve_node_info", Kind::Gauge, "Node info");
        for n in nodes {
            let nodeid = n.nodeid.to_string();
            w.sample(
                "pve_node_info",
                &[
                    ("id", &n.id),
                    ("level", n.level.as_deref().unwrap_or("")),
                    ("name", &n.name),
                    ("nodeid", &nodeid),
                ],
                1u64,
            );
        }
    }

    // ClusterInfoCollector: only in a cluster.
    let clusters: Vec<_> = facts
        .status
        .iter()
        .filter_map(|i| match i {
            ClusterStatusItem::Cluster(c) => Some(c),
            ClusterStatusItem::Node(_) => None,
        })
        .collect();
    if !clusters.is_empty() {
        w.family("pve_cluster_info", Kind::Gauge, "Cluster info");
        for c in clusters {
            let id = format!("cluster/{}", c.name);
            let nodes = c.nodes.to_string();
            let version = c.version.to_string();
            w.sample(
                "pve_cluster_info",
                &[
                    ("id", &id),
                    ("nodes", &nodes),
                    ("quorate", bool_label(Some(c.quorate))),
                    ("version", &version),
                ],
                1u64,
            );
        }
    }

    // VersionCollector.
    w.family("pve_version_info", Kind::Gauge, "Proxmox VE version info");
    w.sample(
        "pve_version_info",
        &[
            ("release", &version.release),
            ("repoid", &version.repoid),
            ("version", &version.version),
        ],
        1u64,
    );

    // BackupInfoCollector, when the facts have it.
    if let Some(list) = &facts.not_backed_up {
        // The exporter names the cluster after the first item of /cluster/status.
        let first = facts.status.first().map_or("", |i| match i {
            ClusterStatusItem::Cluster(c) => c.name.as_str(),
            ClusterStatusItem::Node(n) => n.name.as_str(),
        });
        let id = format!("cluster/{first}");
        w.family(
            "pve_not_backed_up_total",
            Kind::Gauge,
            "Total number of guests not covered by any backup job.",
        );
        w.sample("pve_not_backed_up_total", &[("id", &id)], list.len() as u64);
        w.family(
            "pve_not_backed_up_info",
            Kind::Gauge,
            "Present if guest is not covered by any backup job.",
        );
        for g in list {
            let id = format!("{}/{}", g.kind, g.vmid);
            w.sample("pve_not_backed_up_info", &[("id", &id)], 1u64);
        }
    }
    w.finish()
}

// ---------------------------------------------------------------------------------------
// `/metrics`.

/// pvekit serve's own figures.
fn render_own(state: &AppState) -> String {
    let t = &state.telemetry;
    let mut w = TextWriter::with_capacity(4096);

    w.family(
        "pvekit_http_requests_total",
        Kind::Counter,
        "HTTP requests received by pvekit serve.",
    );
    w.sample("pvekit_http_requests_total", &[], t.requests());
    w.family(
        "pvekit_websockets_open",
        Kind::Gauge,
        "WebSockets open now.",
    );
    w.sample("pvekit_websockets_open", &[], clamp(t.websockets()));
    w.family(
        "pvekit_terminal_sessions_open",
        Kind::Gauge,
        "Terminal sessions (commands, shells, journals, tails) open now.",
    );
    w.sample("pvekit_terminal_sessions_open", &[], clamp(t.terminals()));
    w.family(
        "pvekit_event_streams_open",
        Kind::Gauge,
        "Server-sent event streams open now.",
    );
    w.sample("pvekit_event_streams_open", &[], clamp(t.sse_streams()));
    w.family(
        "pvekit_node_stats_polls",
        Kind::Gauge,
        "Node-stats polls running now: one per node with subscribers, however many.",
    );
    w.sample(
        "pvekit_node_stats_polls",
        &[],
        state.hub.node_polls() as u64,
    );

    w.family(
        "pvekit_action_tasks_total",
        Kind::Counter,
        "Power actions ended, by action and result (ok: the task succeeded, failed: the task failed, error: it could not be started or followed).",
    );
    for ((action, result), n) in t.actions() {
        w.sample(
            "pvekit_action_tasks_total",
            &[("action", &action), ("result", result)],
            n,
        );
    }

    let polls = t.polls();
    w.family(
        "pvekit_inventory_polls_total",
        Kind::Counter,
        "Inventory polls of each cluster, by result.",
    );
    for (cluster, p) in &polls {
        w.sample(
            "pvekit_inventory_polls_total",
            &[("cluster", cluster), ("result", "ok")],
            p.ok,
        );
        w.sample(
            "pvekit_inventory_polls_total",
            &[("cluster", cluster), ("result", "failed")],
            p.failed,
        );
    }
    w.family(
        "pvekit_inventory_poll_seconds",
        Kind::Summary,
        "Seconds each successful inventory poll took, from its start to its snapshot.",
    );
    for (cluster, p) in &polls {
        w.sample(
            "pvekit_inventory_poll_seconds_sum",
            &[("cluster", cluster)],
            p.seconds_sum,
        );
        w.sample(
            "pvekit_inventory_poll_seconds_count",
            &[("cluster", cluster)],
            p.timed,
        );
    }
    w.family(
        "pvekit_inventory_last_poll_seconds",
        Kind::Gauge,
        "Seconds the latest successful inventory poll took.",
    );
    for (cluster, p) in &polls {
        w.sample(
            "pvekit_inventory_last_poll_seconds",
            &[("cluster", cluster)],
            p.last_seconds,
        );
    }

    let clusters = &state.clusters;
    w.family(
        "pvekit_inventory_age_seconds",
        Kind::Gauge,
        "Age of each cluster's inventory data (since it was fetched).",
    );
    for c in clusters {
        if let Some(age) = c.store.snapshot().age() {
            w.sample(
                "pvekit_inventory_age_seconds",
                &[("cluster", &c.name)],
                age.as_secs_f64(),
            );
        }
    }
    w.family(
        "pvekit_inventory_stale",
        Kind::Gauge,
        "1 when the latest inventory poll failed and the data is from an earlier one.",
    );
    for c in clusters {
        w.sample(
            "pvekit_inventory_stale",
            &[("cluster", &c.name)],
            c.store.snapshot().stale.is_some(),
        );
    }
    w.family(
        "pvekit_inventory_guests",
        Kind::Gauge,
        "Guests in each cluster's inventory.",
    );
    for c in clusters {
        w.sample(
            "pvekit_inventory_guests",
            &[("cluster", &c.name)],
            c.store.snapshot().guests().len() as u64,
        );
    }

    let facts: Vec<_> = clusters.iter().map(|c| (c, c.facts.load_full())).collect();
    w.family(
        "pvekit_facts_polls_total",
        Kind::Counter,
        "Polls of each cluster's nodes, storages and status, by result.",
    );
    for (c, f) in &facts {
        w.sample(
            "pvekit_facts_polls_total",
            &[("cluster", &c.name), ("result", "ok")],
            f.polls_ok,
        );
        w.sample(
            "pvekit_facts_polls_total",
            &[("cluster", &c.name), ("result", "failed")],
            f.polls_failed,
        );
    }
    w.family(
        "pvekit_facts_poll_duration_seconds",
        Kind::Gauge,
        "How long the latest poll of each cluster's nodes, storages and status took.",
    );
    for (c, f) in &facts {
        if let Some(took) = f.took {
            w.sample(
                "pvekit_facts_poll_duration_seconds",
                &[("cluster", &c.name)],
                took.as_secs_f64(),
            );
        }
    }
    w.family(
        "pvekit_facts_age_seconds",
        Kind::Gauge,
        "Age of each cluster's nodes, storages and status data.",
    );
    for (c, f) in &facts {
        if let Some(age) = f.age() {
            w.sample(
                "pvekit_facts_age_seconds",
                &[("cluster", &c.name)],
                age.as_secs_f64(),
            );
        }
    }

    w.family(
        "pvekit_upstream_requests_total",
        Kind::Counter,
        "API requests sent to each cluster (logins excluded).",
    );
    for c in clusters {
        w.sample(
            "pvekit_upstream_requests_total",
            &[("cluster", &c.name)],
            c.client.requests_sent(),
        );
    }
    w.family(
        "pvekit_upstream_answers_total",
        Kind::Counter,
        "API requests to each cluster by the HTTP status of the answer (none: no answer: connection, TLS or timeout failures).",
    );
    for c in clusters {
        for (status, n) in c.client.answers_by_status() {
            let status = status.map_or_else(|| "none".to_string(), |s| s.to_string());
            w.sample(
                "pvekit_upstream_answers_total",
                &[("cluster", &c.name), ("status", &status)],
                n,
            );
        }
    }
    w.finish()
}

/// A gauge that cannot be negative, as an integer.
fn clamp(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvekit::types::{ClusterInfo, ClusterNode, ResourceKind, ResourceStatus, Version};

    fn guest(id: &str, name: &str, tags: &str) -> ClusterResource {
        ClusterResource {
            id: id.into(),
            kind: ResourceKind::Lxc,
            node: Some("pve1".into()),
            vmid: Some(100),
            name: Some(name.into()),
            status: Some(ResourceStatus::Running),
            template: Some(false),
            cpu: Some(0.25),
            mem: Some(1 << 20),
            tags: Some(tags.into()),
            lock: Some("backup".into()),
            hastate: Some("started".into()),
            ..Default::default()
        }
    }

    fn facts() -> ClusterFacts {
        ClusterFacts {
            status: vec![
                ClusterStatusItem::Cluster(ClusterInfo {
                    id: "cluster".into(),
                    name: "lab".into(),
                    nodes: 1,
                    version: 4,
                    quorate: true,
                }),
                ClusterStatusItem::Node(ClusterNode {
                    id: "node/pve1".into(),
                    name: "pve1".into(),
                    nodeid: 1,
                    online: true,
                    local: true,
                    ip: None,
                    level: Some("c".into()),
                }),
            ],
            storages: vec![StorageResource {
                id: "storage/pve1/local".into(),
                storage: "local".into(),
                node: "pve1".into(),
                status: Some(ResourceStatus::Available),
                plugintype: Some("dir".into()),
                content: Some("vztmpl,iso,backup".into()),
                shared: Some(false),
                disk: Some(5),
                maxdisk: Some(10),
            }],
            ..Default::default()
        }
    }

    fn version() -> Version {
        Version {
            version: "9.1.2".into(),
            release: "9.1".into(),
            repoid: "abc".into(),
            console: None,
        }
    }

    #[test]
    fn label_values_and_help_texts_are_escaped() {
        let mut w = TextWriter::default();
        w.family("m", Kind::Gauge, "a \\ help\nline");
        w.sample("m", &[("name", "a \"q\" \\ b\nc")], 1u64);
        assert_eq!(
            w.finish(),
            "# HELP m a \\\\ help\\nline\n# TYPE m gauge\nm{name=\"a \\\"q\\\" \\\\ b\\nc\"} 1\n"
        );
    }

    #[test]
    fn numbers_read_back_the_same() {
        let mut s = String::new();
        for (n, text) in [
            (Num::Int(u64::MAX), "18446744073709551615"),
            (Num::Float(0.311), "0.311"),
            (Num::Float(1.0), "1.0"),
            (Num::Float(f64::NAN), "NaN"),
            (Num::Float(f64::INFINITY), "+Inf"),
            (Num::Float(f64::NEG_INFINITY), "-Inf"),
        ] {
            s.clear();
            write_num(&mut s, n);
            assert_eq!(s, text);
        }
    }

    #[test]
    fn the_exporter_families_ids_and_labels() {
        let g = guest("lxc/100", "web", "a;b");
        let out = render_pve_from([&g].into_iter(), &facts(), &version());
        for line in [
            "pve_up{id=\"cluster/lab\"} 1",
            "pve_up{id=\"node/pve1\"} 1",
            "pve_up{id=\"lxc/100\"} 1",
            "pve_up{id=\"storage/pve1/local\"} 1",
            "pve_cpu_usage_ratio{id=\"lxc/100\"} 0.25",
            "pve_memory_usage_bytes{id=\"lxc/100\"} 1048576",
            "pve_disk_size_bytes{id=\"storage/pve1/local\"} 10",
            "pve_storage_shared{id=\"storage/pve1/local\"} 0",
            "pve_ha_state{id=\"lxc/100\",state=\"started\"} 1",
            "pve_ha_state{id=\"lxc/100\",state=\"stopped\"} 0",
            "pve_lock_state{id=\"lxc/100\",state=\"backup\"} 1",
            "pve_guest_info{id=\"lxc/100\",name=\"web\",node=\"pve1\",tags=\"a;b\",template=\"0\",type=\"lxc\"} 1",
            "pve_storage_info{content=\"backup,iso,vztmpl\",id=\"storage/pve1/local\",node=\"pve1\",plugintype=\"dir\",storage=\"local\"} 1",
            "pve_node_info{id=\"node/pve1\",level=\"c\",name=\"pve1\",nodeid=\"1\"} 1",
            "pve_cluster_info{id=\"cluster/lab\",nodes=\"1\",quorate=\"1\",version=\"4\"} 1",
            "pve_version_info{release=\"9.1\",repoid=\"abc\",version=\"9.1.2\"} 1",
            "# TYPE pve_network_receive_bytes_total counter",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line}:\n{out}");
        }
        // A field the item lacks has no sample.
        assert!(!out.contains("pve_uptime_seconds{id=\"lxc/100\"}"));
    }

    #[test]
    fn a_guest_name_or_tag_with_quotes_backslashes_or_newlines_stays_one_line() {
        let g = guest("lxc/100", "we\"b\\x\ny", "t\"1;t\\2");
        let out = render_pve_from([&g].into_iter(), &facts(), &version());
        let line = out
            .lines()
            .find(|l| l.starts_with("pve_guest_info{"))
            .unwrap();
        assert_eq!(
            line,
            "pve_guest_info{id=\"lxc/100\",name=\"we\\\"b\\\\x\\ny\",node=\"pve1\",tags=\"t\\\"1;t\\\\2\",template=\"0\",type=\"lxc\"} 1"
        );
    }

    #[test]
    fn exporter_flags() {
        assert!(flag_on(None));
        assert!(flag_on(Some("1")));
        assert!(!flag_on(Some("0")));
        assert!(!flag_on(Some("False")));
        assert!(!flag_on(Some("")));
    }
}
