//! The live inventory: every guest of a cluster with its IPs, refreshed in the background,
//! readable without blocking, with change events and index-backed reverse lookups.
//!
//! One refresh pulls `/cluster/resources` once, resolves IPs concurrently with a bounded number
//! of requests in flight, and swaps the new [`Snapshot`] in atomically: readers never wait and
//! never see half an update. A failed refresh keeps the last good snapshot and marks it stale.
//!
//! # When a guest's IPs are resolved again
//! A guest's IPs are kept from one refresh to the next unless `/cluster/resources` says
//! something happened to the guest, so a poll of an unchanged cluster is one request. They are
//! resolved again when:
//! - the guest is new to the inventory, or its **status or node** changed;
//! - it **restarted**: its `uptime` went down since the last refresh;
//! - its **config changed**, as far as `/cluster/resources` shows it. The list carries no
//!   config digest, so a changed `name`, `tags`, `maxcpu`, `maxmem`, `maxdisk` or `template`
//!   stands for one. An edit of only the network config shows none of them; the sweep below
//!   catches it;
//! - it **started recently**: while its IPs were resolved less than
//!   [`InventoryOptions::ip_ttl`] into its run, they are resolved again each time its uptime
//!   has doubled since (at least a second apart), because an address from DHCP comes a
//!   moment after the start. This also catches a restart between two refreshes far apart:
//!   the guest has then run for less time than its IPs are old;
//! - the **sweep** picks it, for DHCP renewals and network config edits: each refresh
//!   re-resolves the guests whose IPs are oldest, if at least `ip_ttl` old, within a budget
//!   of N / [`InventoryOptions::ip_sweep_polls`] requests per refresh (N guests; a guest
//!   that takes more requests than expected is made up for by the next refreshes), so the
//!   work is spread evenly over the refreshes. An unchanged guest's IPs are thus at most about
//!   `max(ip_ttl, ip_sweep_polls × poll interval)` old: 5 minutes with the defaults.
//!
//! A guest in status `unknown` (its node is unreachable) keeps what was known: asking would
//! only fail. A stopped VM has no source of addresses and costs no request.
//!
//! # What a poll decodes
//! `/cluster/resources` builds a guest's item from the figures its node's `pvestatd`
//! broadcast last (pve-manager `PVE/API2Tools.pm`, `extract_vm_stats`, reads them from
//! `rrd_dump`), and `pvestatd` broadcasts every 10 seconds (pve-manager
//! `PVE/Service/pvestatd.pm`, `$updatetime = 10`). At a 3 s interval most polls therefore see
//! most items again letter for letter. A refresh keeps a hash of each guest's item text and
//! does not decode an item whose text hashes as the same guest's did at the last poll: the
//! guest's previous value is kept whole.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use futures_util::StreamExt;
use pvekit_core::perl::{DataItems, RawItem};
use pvekit_core::types::{ClusterNode, ClusterResource, GuestKind, ResourceStatus, ResourceType};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::client::{BodySink, Client};
use crate::error::{Error, Result};
use crate::guest::IpPolicy;
use crate::guest_resource::Fields;
pub use crate::guest_resource::GuestResource;

/// How often the background loop refreshes the inventory (GoDoxy's `ResourcePollInterval`).
pub const RESOURCE_POLL_INTERVAL: Duration = Duration::from_secs(3);

/// Tuning of an [`Inventory`].
#[derive(Debug, Clone, Copy)]
pub struct InventoryOptions {
    /// Which addresses count (private only by default).
    pub ip_policy: IpPolicy,
    /// The sweep re-resolves an unchanged guest's IPs only once they are at least this old;
    /// a guest that started less than this long before its IPs were resolved gets them
    /// resolved again as its uptime doubles (see the [module docs](self)). Default 60 s.
    pub ip_ttl: Duration,
    /// The sweep for DHCP renewals spreads over this many refreshes: each refresh spends on
    /// it at most N / `ip_sweep_polls` requests (N guests; on average, should a guest take
    /// more requests than expected), on the guests whose IPs are oldest (and at least [`ip_ttl`](Self::ip_ttl) old). So at the default 100 a
    /// poll of 10,000 unchanged guests is at most 101 requests, and every guest's IPs are
    /// re-resolved about every 100 polls (5 minutes at the 3 s
    /// [`RESOURCE_POLL_INTERVAL`]). 0 turns the sweep off.
    pub ip_sweep_polls: u32,
    /// At most this many IP look-ups in flight at once. Default: twice the CPU count (as
    /// GoDoxy's `GOMAXPROCS * 2`), at least 8, since the work waits on the network.
    pub max_in_flight: usize,
}

impl Default for InventoryOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        InventoryOptions {
            ip_policy: IpPolicy::default(),
            ip_ttl: Duration::from_secs(60),
            ip_sweep_polls: 100,
            max_in_flight: (cpus * 2).max(8),
        }
    }
}

/// One consistent view of the cluster's guests, with lookup indexes.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Sorted by VMID, then kind.
    guests: Vec<Arc<GuestResource>>,
    /// Shared with the previous snapshot when no guest, name or IP changed.
    index: Arc<Index>,
    /// When the data was fetched.
    pub taken_at: Option<SystemTime>,
    /// Set when the latest refresh failed: the data is from an earlier one.
    pub stale: Option<String>,
    /// The cluster's members when the data was fetched.
    nodes: Arc<[ClusterNode]>,
}

/// The reverse-lookup indexes of a snapshot: positions in its guest list, by IP and by a hash
/// of the lower-case name (so no lower-case copy of every name is kept; a lookup compares
/// the name it finds, and the rare different name with the same hash is kept aside).
#[derive(Debug, Default)]
struct Index {
    by_ip: HashMap<IpAddr, u32>,
    by_name: HashMap<u64, u32>,
    /// Guests whose lower-case name hashes like a different name already indexed.
    name_collisions: Vec<u32>,
    hasher: std::hash::RandomState,
}

impl Index {
    fn new(guests: &[Arc<GuestResource>]) -> Index {
        let mut index = Index {
            by_ip: HashMap::with_capacity(guests.len()),
            by_name: HashMap::with_capacity(guests.len()),
            ..Default::default()
        };
        // The first guest (lowest VMID) with an IP or name wins.
        for (i, g) in guests.iter().enumerate() {
            let i = i as u32;
            for ip in g.ips.iter() {
                index.by_ip.entry(*ip).or_insert(i);
            }
            if let Some(name) = g.name() {
                let h = index.name_hash(name);
                match index.by_name.get(&h) {
                    None => {
                        index.by_name.insert(h, i);
                    }
                    Some(&first) => {
                        let same = guests[first as usize]
                            .name()
                            .is_some_and(|n| n.eq_ignore_ascii_case(name));
                        if !same {
                            index.name_collisions.push(i);
                        }
                    }
                }
            }
        }
        index
    }

    fn name_hash(&self, name: &str) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.hasher.build_hasher();
        for b in name.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.finish()
    }

    /// Whether two guest lists index alike: same guests in the same order, with the same
    /// names and IPs.
    fn fits(old: &[Arc<GuestResource>], new: &[Arc<GuestResource>]) -> bool {
        old.len() == new.len()
            && old.iter().zip(new).all(|(a, b)| {
                Arc::ptr_eq(a, b)
                    || (a.vmid == b.vmid
                        && a.kind == b.kind
                        && a.ips == b.ips
                        && a.name() == b.name())
            })
    }
}

impl Snapshot {
    /// Builds a snapshot and its indexes from guests (any order).
    pub fn build(guests: Vec<Arc<GuestResource>>, taken_at: SystemTime) -> Snapshot {
        Snapshot::build_after(&Snapshot::default(), guests, taken_at)
    }

    /// Like [`Snapshot::build`], sharing the indexes of `old` when they fit.
    fn build_after(
        old: &Snapshot,
        mut guests: Vec<Arc<GuestResource>>,
        taken_at: SystemTime,
    ) -> Snapshot {
        guests.sort_unstable_by_key(|g| (g.vmid, g.kind));
        Snapshot::build_sorted(old, guests, taken_at)
    }

    /// Like [`Snapshot::build_after`], the guests already sorted by VMID and kind.
    fn build_sorted(
        old: &Snapshot,
        guests: Vec<Arc<GuestResource>>,
        taken_at: SystemTime,
    ) -> Snapshot {
        let index = if !guests.is_empty() && Index::fits(&old.guests, &guests) {
            old.index.clone()
        } else {
            Arc::new(Index::new(&guests))
        };
        Snapshot {
            guests,
            index,
            taken_at: Some(taken_at),
            stale: None,
            nodes: old.nodes.clone(),
        }
    }

    /// The snapshot with these members (shared with the previous snapshot when unchanged).
    #[must_use]
    pub fn with_nodes(mut self, nodes: Vec<ClusterNode>) -> Snapshot {
        if *self.nodes != *nodes {
            self.nodes = nodes.into();
        }
        self
    }

    /// The snapshot with the client's members (shared with the previous snapshot when
    /// unchanged, without a copy).
    fn with_members(mut self, client: &Client) -> Snapshot {
        client.with_members(|members| {
            if *self.nodes != *members {
                self.nodes = members.into();
            }
        });
        self
    }

    /// A copy marked stale: the data of this snapshot, kept after a failed refresh.
    pub(crate) fn marked_stale(&self, reason: String) -> Snapshot {
        Snapshot {
            guests: self.guests.clone(),
            index: self.index.clone(),
            taken_at: self.taken_at,
            stale: Some(reason),
            nodes: self.nodes.clone(),
        }
    }

    /// How old the data is (since it was fetched); `None` before the first refresh.
    pub fn age(&self) -> Option<Duration> {
        self.taken_at
            .and_then(|t| SystemTime::now().duration_since(t).ok())
    }

    /// The cluster's members when the data was fetched (online or not).
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// Every guest named `name` (case-insensitively), by VMID. Scans the list: meant for
    /// binding routes, not for each request (use [`Snapshot::reverse_lookup`] there).
    pub fn guests_named(&self, name: &str) -> Vec<&Arc<GuestResource>> {
        self.guests
            .iter()
            .filter(|g| g.name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .collect()
    }

    /// Every guest, by VMID.
    pub fn guests(&self) -> &[Arc<GuestResource>] {
        &self.guests
    }

    /// A guest by kind and VMID (a binary search of the guests, sorted by VMID).
    pub fn get(&self, kind: GuestKind, vmid: u64) -> Option<&Arc<GuestResource>> {
        self.guests
            .binary_search_by_key(&(vmid, kind), |g| (g.vmid, g.kind))
            .ok()
            .map(|i| &self.guests[i])
    }

    /// A guest by VMID, whatever its kind (VMIDs are unique in a cluster).
    pub fn get_vmid(&self, vmid: u64) -> Option<&Arc<GuestResource>> {
        self.get(GuestKind::Lxc, vmid)
            .or_else(|| self.get(GuestKind::Qemu, vmid))
    }

    /// The guest named `name` (case-insensitively), the one with the lowest VMID if several.
    fn by_name(&self, name: &str) -> Option<&Arc<GuestResource>> {
        let index = &self.index;
        let matches = |i: &u32| {
            let g = &self.guests[*i as usize];
            g.name().is_some_and(|n| n.eq_ignore_ascii_case(name))
        };
        index
            .by_name
            .get(&index.name_hash(name))
            .filter(|i| matches(i))
            .or_else(|| index.name_collisions.iter().find(|i| matches(i)))
            .map(|i| &self.guests[*i as usize])
    }

    /// The guest with this IP, else the one named like the first label of `hostname`, else
    /// the one named `alias` (names compared case-insensitively). Constant time.
    pub fn reverse_lookup(
        &self,
        ip: Option<IpAddr>,
        hostname: Option<&str>,
        alias: Option<&str>,
    ) -> Option<&Arc<GuestResource>> {
        if let Some(i) = ip.and_then(|ip| self.index.by_ip.get(&ip)) {
            return Some(&self.guests[*i as usize]);
        }
        if let Some(g) = hostname
            .map(first_label)
            .filter(|h| !h.is_empty())
            .and_then(|h| self.by_name(h))
        {
            return Some(g);
        }
        alias
            .filter(|a| !a.is_empty())
            .and_then(|a| self.by_name(a))
    }
}

/// The first label of a host name: `web` for `web.lan`.
pub fn first_label(hostname: &str) -> &str {
    hostname.split('.').next().unwrap_or(hostname)
}

/// A change between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub enum InventoryEvent {
    /// A guest appeared.
    Added(Arc<GuestResource>),
    /// A guest disappeared.
    Removed {
        /// LXC or QEMU.
        kind: GuestKind,
        /// Guest id.
        vmid: u64,
    },
    /// A guest's status changed.
    StatusChanged {
        /// The guest after the change.
        guest: Arc<GuestResource>,
        /// The previous status.
        from: String,
    },
    /// A guest's IPs changed.
    IpsChanged {
        /// The guest after the change.
        guest: Arc<GuestResource>,
        /// The previous IPs.
        from: Arc<[IpAddr]>,
    },
    /// A refresh failed; the last good snapshot stays.
    RefreshFailed(String),
}

/// The live inventory of one cluster.
pub struct Inventory {
    client: Client,
    options: InventoryOptions,
    snapshot: ArcSwap<Snapshot>,
    events: broadcast::Sender<InventoryEvent>,
    /// Held by the refresh under way; the sweep's budget lives with it.
    refreshing: tokio::sync::Mutex<Sweep>,
    nodes: ArcSwap<NodeIndex>,
}

/// The sweep's budget: requests it may still spend. Each refresh adds N / `ip_sweep_polls`
/// (up to that much, or one request when that is less, so nothing is saved up for a burst)
/// and takes off what the sweep sent (see `Inventory::pick_sweep`).
#[derive(Debug)]
struct Sweep {
    credit: f64,
    /// For each guest of the last `/cluster/resources`, in the server's order, its position
    /// in the snapshot built from it: the server keeps its order from one poll to the next,
    /// so this finds most guests' previous state without a search.
    order: Vec<u32>,
    /// For each guest of the last `/cluster/resources`, in the server's order, a hash of its
    /// item's JSON text (see [`item_hash`]).
    hashes: Vec<u64>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("cluster", &self.client.name())
            .field("guests", &self.snapshot.load().guests.len())
            .finish_non_exhaustive()
    }
}

/// Stops the background refresh loop when dropped.
#[derive(Debug)]
pub struct PollerHandle(tokio::task::JoinHandle<()>);

impl Drop for PollerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Inventory {
    /// An empty inventory; call [`Inventory::refresh`] or [`Inventory::spawn_poller`].
    pub fn new(client: Client, options: InventoryOptions) -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        let nodes = ArcSwap::from_pointee(NodeIndex::new(&client.members()));
        Arc::new(Inventory {
            client,
            options,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            events,
            // Starts full, so a first refresh past `ip_ttl` sweeps at once.
            refreshing: tokio::sync::Mutex::new(Sweep {
                credit: f64::INFINITY,
                order: Vec::new(),
                hashes: Vec::new(),
            }),
            nodes,
        })
    }

    /// The current snapshot; never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Receives change events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<InventoryEvent> {
        self.events.subscribe()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A guest by kind and VMID.
    ///
    /// # Errors
    /// [`Error::ResourceNotFound`].
    pub fn get_resource(&self, kind: GuestKind, vmid: u64) -> Result<Arc<GuestResource>> {
        self.snapshot
            .load()
            .get(kind, vmid)
            .cloned()
            .ok_or_else(|| Error::ResourceNotFound(format!("{kind}/{vmid}")))
    }

    /// A guest by IP, hostname (first label) or alias.
    ///
    /// # Errors
    /// [`Error::NoResources`] before the first refresh, else [`Error::ResourceNotFound`].
    pub fn reverse_lookup_resource(
        &self,
        ip: Option<IpAddr>,
        hostname: Option<&str>,
        alias: Option<&str>,
    ) -> Result<Arc<GuestResource>> {
        let snap = self.snapshot.load();
        if snap.guests.is_empty() {
            return Err(Error::NoResources);
        }
        snap.reverse_lookup(ip, hostname, alias)
            .cloned()
            .ok_or_else(|| Error::ResourceNotFound(describe_lookup(ip, hostname, alias)))
    }

    /// The name of the node with this hostname (first label), IP or alias.
    pub fn reverse_lookup_node(
        &self,
        hostname: Option<&str>,
        ip: Option<IpAddr>,
        alias: Option<&str>,
    ) -> Option<String> {
        self.nodes.load().lookup(hostname, ip, alias)
    }

    /// Pulls the cluster's guests once and swaps in the new snapshot, emitting change events.
    ///
    /// # Errors
    /// The failure of `/cluster/resources`; the previous snapshot stays and is marked stale.
    pub async fn refresh(&self) -> Result<()> {
        self.refresh_changes().await.map(drop)
    }

    /// Like [`Inventory::refresh`], returning the changes it found.
    pub(crate) async fn refresh_changes(&self) -> Result<Vec<InventoryEvent>> {
        let mut sweep = self.refreshing.lock().await;
        match self.refresh_inner(&mut sweep).await {
            Ok(events) => Ok(events),
            Err(e) => {
                let msg = e.to_string();
                let old = self.snapshot.load_full();
                self.snapshot.store(Arc::new(old.marked_stale(msg.clone())));
                let _ = self.events.send(InventoryEvent::RefreshFailed(msg));
                Err(e)
            }
        }
    }

    /// When guests sit on a node the member list does not know (it joined after connect),
    /// discovers the members again, once, so node lookups know it too.
    async fn follow_new_nodes(&self, names: &[String]) {
        let index = self.nodes.load();
        let unknown = names
            .iter()
            .any(|n| !index.by_name.contains_key(&n.to_ascii_lowercase()));
        if !unknown {
            return;
        }
        let mut index = match self.client.refresh_members().await {
            Ok(members) => NodeIndex::new(&members),
            Err(e) => {
                warn!(error = %e, "could not discover the cluster's new nodes");
                NodeIndex::clone(&index)
            }
        };
        // Names discovery still does not list (a login that may not read the cluster
        // status) are known by name from now on, so they cost no further discovery.
        for n in names {
            index
                .by_name
                .entry(n.to_ascii_lowercase())
                .or_insert_with(|| n.to_string());
        }
        self.nodes.store(Arc::new(index));
    }

    async fn refresh_inner(&self, sweep: &mut Sweep) -> Result<Vec<InventoryEvent>> {
        let taken_at = SystemTime::now();
        let old = self.snapshot.load_full();
        let now = Instant::now();
        let options = self.options;
        // The list is taken in as it arrives: each guest is compared with its previous state
        // at once, and an unchanged one keeps its previous value (shared with the old
        // snapshot), so neither the body nor a list of every resource is ever held. A guest
        // whose item is the same text as at the last poll is not even decoded: Proxmox VE
        // renews a guest's figures only every 10 s (see the module docs).
        let order = std::mem::take(&mut sweep.order);
        let hashes = std::mem::take(&mut sweep.hashes);
        let intake = || Intake::new(&old, &order, &hashes, now, options.ip_ttl);
        let params = [("type", ResourceType::Vm.as_str().to_string())];
        let Taker {
            mut guests,
            mut work,
            new_nodes,
            next_hashes,
            decoded,
            ..
        } = self
            .client
            .get_into("/cluster/resources", &params, &intake)
            .await?;
        drop((order, hashes));
        self.follow_new_nodes(&new_nodes).await;

        // The sweep picks among the unchanged guests.
        self.pick_sweep(sweep, &guests, &mut work);

        let policy = options.ip_policy;
        // What to resolve, as handles; each request is made only when its turn comes.
        let jobs: Vec<_> = work
            .into_iter()
            .filter(|(_, todo)| matches!(todo, Todo::Resolve | Todo::Sweep))
            .filter_map(|(at, todo)| {
                let g = &guests[at as usize].guest;
                // A guest whose node is unreachable keeps what was known.
                if !is_reachable(g.fields()) {
                    return None;
                }
                // A lazy handle: a node that joined after connect works too.
                let node = self.client.node(g.fields().node()?);
                let guest = match g.kind {
                    GuestKind::Lxc => node.lxc(g.vmid),
                    GuestKind::Qemu => node.qemu(g.vmid),
                };
                let running = g.status() == &ResourceStatus::Running;
                Some((at, todo, guest, running))
            })
            .collect();
        let mut swept = 0u32;
        let mut resolved = futures_util::stream::iter(jobs)
            .map(|(at, todo, guest, running)| async move {
                let (ips, sent) = resolve_ips(&guest, running, policy).await;
                let swept = if todo == Todo::Sweep { sent } else { 0 };
                (at, ips, Instant::now(), swept)
            })
            .buffer_unordered(options.max_in_flight.max(1));
        while let Some((at, ips, when, sent)) = resolved.next().await {
            swept += sent;
            // A guest kept from the old snapshot is copied here, and only here.
            let g = Arc::make_mut(&mut guests[at as usize].guest);
            // The same IPs again stay shared with the earlier values.
            if *g.ips != *ips {
                g.ips = ips.into();
            }
            g.ips_resolved = when;
        }
        drop(resolved);
        sweep.credit -= f64::from(swept);

        // By VMID and kind; the server's order is remembered for the next poll.
        let mut next_order = vec![0u32; guests.len()];
        let mut sorted = Vec::with_capacity(guests.len());
        if let Some(place) = same_places(&guests, old.guests.len()) {
            // The same guests as before: each goes where it was.
            for g in &guests {
                next_order[g.at as usize] = g.was.unwrap_or_default();
            }
            sorted.extend(place.iter().map(|&i| guests[i as usize].guest.clone()));
        } else {
            guests.sort_unstable_by_key(|g| (g.vmid, g.kind, g.at));
            for (i, g) in guests.drain(..).enumerate() {
                next_order[g.at as usize] = i as u32;
                sorted.push(g.guest);
            }
        }
        drop(guests);
        sweep.order = next_order;
        sweep.hashes = next_hashes;
        let new = Snapshot::build_sorted(&old, sorted, taken_at).with_members(&self.client);
        let events = diff(&old, &new);
        debug!(
            guests = new.guests.len(),
            decoded,
            changes = events.len(),
            swept,
            "inventory refreshed"
        );
        self.snapshot.store(Arc::new(new));
        // The old snapshot goes now (unless a reader still holds it), not at the next poll.
        drop(old);
        for e in &events {
            let _ = self.events.send(e.clone());
        }
        Ok(events)
    }

    /// Adds this refresh's share to the sweep's budget and marks the candidates it pays for,
    /// oldest IPs first, as long as the budget covers what each is expected to cost: two
    /// requests for a running container that showed no address last time (its interfaces,
    /// then its config), else one. The budget never holds more than one refresh's share, so
    /// no refresh spends more than that (unless a guest costs more than expected, which the
    /// next refreshes make up for).
    fn pick_sweep(&self, sweep: &mut Sweep, guests: &[Taken], work: &mut [(u32, Todo)]) {
        let polls = self.options.ip_sweep_polls;
        if polls == 0 {
            return;
        }
        let share = guests.len() as f64 / f64::from(polls);
        sweep.credit = (sweep.credit + share).min(share.max(1.0));
        if sweep.credit < 1.0 {
            return;
        }
        let mut candidates: Vec<(Instant, usize)> = work
            .iter()
            .enumerate()
            .filter(|(_, (_, todo))| *todo == Todo::Candidate)
            .map(|(i, (at, _))| (guests[*at as usize].guest.ips_resolved, i))
            .collect();
        // Each costs at least one request: the oldest `credit` are all that can be paid for.
        let most = sweep.credit as usize;
        if most < candidates.len() {
            candidates.select_nth_unstable(most);
            candidates.truncate(most);
        }
        candidates.sort_unstable();
        let mut left = sweep.credit;
        for (_, i) in candidates {
            // The IPs are still the previous ones here.
            let g = &guests[work[i].0 as usize].guest;
            let cost = if g.kind == GuestKind::Lxc
                && g.ips.is_empty()
                && g.status() == &ResourceStatus::Running
            {
                2.0
            } else {
                1.0
            };
            if cost > left {
                break;
            }
            left -= cost;
            work[i].1 = Todo::Sweep;
        }
    }

    /// Refreshes every `interval` until the returned handle is dropped.
    pub fn spawn_poller(self: &Arc<Self>, interval: Duration) -> PollerHandle {
        let inv = Arc::downgrade(self);
        // A zero period makes `interval` panic (inside the task, so the poller would die
        // silently).
        let interval = interval.max(crate::MIN_INTERVAL);
        PollerHandle(tokio::spawn(async move {
            let mut pace = Pace::new(interval);
            loop {
                let Some(inv) = inv.upgrade() else { return };
                let started = Instant::now();
                let result = inv.refresh().await;
                if let Err(e) = &result {
                    warn!(cluster = %inv.client.name(), error = %e, "inventory refresh failed; keeping the last snapshot");
                }
                drop(inv);
                // Polls are timed from start to start; failures back off.
                let wait = pace.after(result.is_ok());
                tokio::time::sleep_until(started + wait).await;
            }
        }))
    }
}

/// The longest wait between polls of a cluster that stopped answering.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The pace of a poller: the interval while polls succeed; after consecutive failures twice
/// as long each time, up to [`MAX_BACKOFF`] (or the interval, if longer), so a cluster that
/// stopped answering is not hammered; the first good poll restores the interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    interval: Duration,
    failures: u32,
}

impl Pace {
    pub(crate) fn new(interval: Duration) -> Self {
        Pace {
            interval,
            failures: 0,
        }
    }

    /// The wait before the next poll, after one that succeeded or failed.
    pub(crate) fn after(&mut self, ok: bool) -> Duration {
        if ok {
            self.failures = 0;
            return self.interval;
        }
        self.failures = self.failures.saturating_add(1);
        let factor = 1u32 << self.failures.min(16);
        self.interval
            .saturating_mul(factor)
            .min(MAX_BACKOFF.max(self.interval))
    }

    /// Consecutive failures so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }
}

/// IPs of one guest, and the number of requests that took: a failure to resolve yields none
/// (and is logged), so one broken guest does not fail the whole refresh.
async fn resolve_ips(guest: &crate::Guest, running: bool, policy: IpPolicy) -> (Vec<IpAddr>, u32) {
    let (result, sent) = match (running, guest.kind()) {
        (true, _) => match guest.ips_from_interfaces(policy).await {
            Ok(ips) if ips.is_empty() && guest.kind() == GuestKind::Lxc => {
                (guest.ips_from_config(policy).await, 2)
            }
            other => (other, 1),
        },
        (false, GuestKind::Lxc) => (guest.ips_from_config(policy).await, 1),
        (false, GuestKind::Qemu) => (Ok(Vec::new()), 0),
    };
    let ips = result.unwrap_or_else(|e| {
        debug!(vmid = guest.vmid(), error = %e, "cannot resolve IPs");
        Vec::new()
    });
    (ips, sent)
}

/// A guest whose node is unreachable reports status `unknown` (or none): asking it would only
/// fail (595).
fn is_reachable(r: &Fields) -> bool {
    r.status().is_some_and(|s| *s != ResourceStatus::Unknown)
}

/// A guest as a refresh took it in: its value (new, or the previous one when nothing
/// changed), and its position in the server's list.
struct Taken {
    vmid: u64,
    kind: GuestKind,
    at: u32,
    /// Its position in the old snapshot, if it was there.
    was: Option<u32>,
    guest: Arc<GuestResource>,
}

/// When `guests` are exactly the `old` guests of the old snapshot (each found there, each at
/// its own place), for each old place the position of its guest in `guests`.
fn same_places(guests: &[Taken], old: usize) -> Option<Vec<u32>> {
    if guests.len() != old {
        return None;
    }
    let mut place = vec![u32::MAX; old];
    for (i, g) in guests.iter().enumerate() {
        let slot = place.get_mut(g.was? as usize)?;
        if *slot != u32::MAX {
            return None;
        }
        *slot = i as u32;
    }
    Some(place)
}

/// Takes in `/cluster/resources` as it arrives (see `Inventory::refresh_inner`).
struct Intake<'a> {
    items: DataItems<ClusterResource>,
    taken: Taker<'a>,
}

/// What the resources taken in so far make.
struct Taker<'a> {
    old: &'a Snapshot,
    /// The old snapshot's position of each guest, in the server's order of the last poll.
    order: &'a [u32],
    now: Instant,
    ttl: Duration,
    /// The guests in the server's order.
    guests: Vec<Taken>,
    /// Guests whose IPs may need resolving (by position in `guests`): `Resolve` or
    /// `Candidate`.
    work: Vec<(u32, Todo)>,
    /// The nodes of guests that are new or moved, once each: the only ones the node index may
    /// not know yet (every node of the last poll's guests was added to it).
    new_nodes: Vec<String>,
    /// The hash of each item of the last poll's guests, in the server's order.
    hashes: &'a [u64],
    /// The hash of each item of `guests` (0 for an item that came decoded).
    next_hashes: Vec<u64>,
    /// How many items were decoded (the others were the same text as at the last poll).
    decoded: u32,
}

impl<'a> Intake<'a> {
    fn new(
        old: &'a Snapshot,
        order: &'a [u32],
        hashes: &'a [u64],
        now: Instant,
        ttl: Duration,
    ) -> Self {
        Intake {
            items: DataItems::new(),
            taken: Taker {
                old,
                order,
                now,
                ttl,
                guests: Vec::with_capacity(old.guests.len()),
                work: Vec::new(),
                new_nodes: Vec::new(),
                hashes,
                next_hashes: Vec::with_capacity(old.guests.len()),
                decoded: 0,
            },
        }
    }
}

/// A hash of a `/cluster/resources` item's JSON text; never 0, which stands for none.
fn item_hash(text: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    h.write(text);
    h.finish() | 1
}

impl Taker<'_> {
    /// One item of the list, as it came.
    fn take_item(
        &mut self,
        item: RawItem<'_, ClusterResource>,
    ) -> std::result::Result<(), serde_json::Error> {
        let RawItem::Text(text) = item else {
            self.decoded += 1;
            return item.decode().map(|r| self.take(r, 0));
        };
        let hash = item_hash(text);
        let at = self.guests.len();
        let was = self
            .order
            .get(at)
            .copied()
            .filter(|&i| (i as usize) < self.old.guests.len());
        match was {
            // The same text as this guest's item at the last poll: the same guest, unchanged.
            Some(was) if self.hashes.get(at) == Some(&hash) => {
                self.take_unchanged(was, hash);
                Ok(())
            }
            _ => {
                self.decoded += 1;
                pvekit_core::perl::from_slice(text).map(|r| self.take(r, hash))
            }
        }
    }

    /// A guest whose item is the one of the last poll, kept whole.
    fn take_unchanged(&mut self, was: u32, hash: u64) {
        let at = self.guests.len() as u32;
        let p = &self.old.guests[was as usize];
        let todo = what_to_do(p, p.fields(), p.kind, self.now, self.ttl);
        if matches!(todo, Todo::Resolve | Todo::Candidate) {
            self.work.push((at, todo));
        }
        self.guests.push(Taken {
            vmid: p.vmid,
            kind: p.kind,
            at,
            was: Some(was),
            guest: p.clone(),
        });
        self.next_hashes.push(hash);
    }

    /// One resource of the list: what its guest needs, and its value.
    fn take(&mut self, r: ClusterResource, hash: u64) {
        let (Some(kind), Some(vmid)) = (r.guest_kind(), r.vmid) else {
            return;
        };
        let at = self.guests.len() as u32;
        let old = self.old;
        let same = |i: &u32| {
            old.guests
                .get(*i as usize)
                .is_some_and(|g| g.vmid == vmid && g.kind == kind)
        };
        let was = self
            .order
            .get(at as usize)
            .copied()
            .filter(same)
            .or_else(|| {
                old.guests
                    .binary_search_by_key(&(vmid, kind), |g| (g.vmid, g.kind))
                    .ok()
                    .map(|i| i as u32)
            });
        let prev = was.map(|i| &old.guests[i as usize]);
        let r = Fields::from_resource(r, kind, vmid);
        if prev.is_none_or(|p| p.fields().node() != r.node())
            && let Some(node) = r.node()
            && !self.new_nodes.iter().any(|n| n == node)
        {
            self.new_nodes.push(node.to_string());
        }
        let todo = match prev {
            None => Todo::Resolve,
            Some(p) => what_to_do(p, &r, kind, self.now, self.ttl),
        };
        if matches!(todo, Todo::Resolve | Todo::Candidate) {
            self.work.push((at, todo));
        }
        let guest = match prev {
            // Nothing changed: the previous value stays.
            Some(p) if todo != Todo::Resolve && *p.fields() == r => p.clone(),
            Some(p) => Arc::new(GuestResource::from_fields(
                kind,
                vmid,
                r,
                p.ips.clone(),
                p.ips_resolved,
            )),
            None => Arc::new(GuestResource::from_fields(
                kind,
                vmid,
                r,
                Arc::default(),
                self.now,
            )),
        };
        self.guests.push(Taken {
            vmid,
            kind,
            at,
            was,
            guest,
        });
        self.next_hashes.push(hash);
    }
}

impl<'a> BodySink for Intake<'a> {
    type Output = Taker<'a>;
    // About 3 MiB every poll at 10,000 guests; a new connection every 3 s costs far less.
    const OWN_CONNECTION: bool = true;

    fn feed(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        let taken = &mut self.taken;
        self.items
            .feed_raw(bytes, |item| taken.take_item(item))
            .map_err(|e| e.to_string())
    }

    fn finish(self) -> std::result::Result<Taker<'a>, String> {
        let mut taken = self.taken;
        self.items
            .finish_raw(|item| taken.take_item(item))
            .map_err(|e| e.to_string())?;
        Ok(taken)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Todo {
    /// Resolve now: the guest is new or something happened to it.
    Resolve,
    /// Keep the IPs (the guest has no other source, or its node is unreachable).
    Keep,
    /// Keep the IPs unless the sweep picks the guest.
    Candidate,
    /// Picked by the sweep.
    Sweep,
}

/// What a known guest's IPs need, from what `/cluster/resources` says now and said last time
/// (see the module docs).
fn what_to_do(
    prev: &GuestResource,
    r: &Fields,
    kind: GuestKind,
    now: Instant,
    ttl: Duration,
) -> Todo {
    let p = prev.fields();
    if !is_reachable(r) {
        return Todo::Keep;
    }
    let running = r.status() == Some(&ResourceStatus::Running);
    let changed = p.status() != r.status()
        || p.node() != r.node()
        // Restarted: the uptime went down.
        || matches!((p.uptime(), r.uptime()), (Some(before), Some(now)) if now < before)
        // The config changed, as far as the list shows it.
        || p.name() != r.name()
        || p.tags() != r.tags()
        || p.limits() != r.limits()
        || p.template() != r.template();
    if changed {
        return Todo::Resolve;
    }
    let age = now.saturating_duration_since(prev.ips_resolved);
    if running && let Some(uptime) = r.uptime() {
        // How long the guest had run when its IPs were resolved (zero when it started
        // since: it restarted between two refreshes).
        let run_then = Duration::from_secs(uptime).saturating_sub(age);
        if run_then < ttl && age >= run_then.max(SETTLE_MIN_GAP) {
            return Todo::Resolve;
        }
    }
    if !running && kind == GuestKind::Qemu {
        // A stopped VM has no source of addresses: nothing to sweep.
        return Todo::Keep;
    }
    if age >= ttl {
        Todo::Candidate
    } else {
        Todo::Keep
    }
}

/// The shortest time between two resolutions of a guest that started recently.
const SETTLE_MIN_GAP: Duration = Duration::from_secs(1);

/// The changes from `old` to `new`: additions and changes in VMID order, then removals.
/// Both lists are sorted by VMID and kind, so one merged pass finds them.
fn diff(old: &Snapshot, new: &Snapshot) -> Vec<InventoryEvent> {
    let mut events = Vec::new();
    let mut removed = Vec::new();
    let (mut olds, mut news) = (old.guests.iter().peekable(), new.guests.iter().peekable());
    loop {
        let order = match (olds.peek(), news.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(o), Some(n)) => (o.vmid, o.kind).cmp(&(n.vmid, n.kind)),
        };
        match order {
            std::cmp::Ordering::Less => {
                let Some(g) = olds.next() else { break };
                removed.push(InventoryEvent::Removed {
                    kind: g.kind,
                    vmid: g.vmid,
                });
            }
            std::cmp::Ordering::Greater => {
                let Some(g) = news.next() else { break };
                events.push(InventoryEvent::Added(g.clone()));
            }
            std::cmp::Ordering::Equal => {
                let (Some(prev), Some(g)) = (olds.next(), news.next()) else {
                    break;
                };
                if Arc::ptr_eq(prev, g) {
                    continue;
                }
                if prev.fields().status() != g.fields().status() {
                    events.push(InventoryEvent::StatusChanged {
                        guest: g.clone(),
                        from: prev.status().to_string(),
                    });
                }
                if prev.ips != g.ips {
                    events.push(InventoryEvent::IpsChanged {
                        guest: g.clone(),
                        from: prev.ips.clone(),
                    });
                }
            }
        }
    }
    events.extend(removed);
    events
}

/// A reverse-lookup query in words, for messages: `ip 10.0.0.5, hostname web`.
pub fn describe_lookup(ip: Option<IpAddr>, hostname: Option<&str>, alias: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(ip) = ip {
        parts.push(format!("ip {ip}"));
    }
    if let Some(h) = hostname {
        parts.push(format!("hostname {h}"));
    }
    if let Some(a) = alias {
        parts.push(format!("alias {a}"));
    }
    if parts.is_empty() {
        "empty query".into()
    } else {
        parts.join(", ")
    }
}

/// The cluster's nodes by lower-case name and by IP, for constant-time reverse lookups.
#[derive(Debug, Default, Clone)]
struct NodeIndex {
    by_name: HashMap<String, String>,
    by_ip: HashMap<IpAddr, String>,
}

impl NodeIndex {
    fn new(nodes: &[ClusterNode]) -> Self {
        let mut idx = NodeIndex::default();
        for n in nodes {
            idx.by_name
                .insert(n.name.to_ascii_lowercase(), n.name.clone());
            if let Some(ip) = n.ip.as_deref().and_then(|s| s.parse().ok()) {
                idx.by_ip.insert(ip, n.name.clone());
            }
        }
        idx
    }

    /// The node matching a hostname (first label), IP or alias, in that order.
    fn lookup(
        &self,
        hostname: Option<&str>,
        ip: Option<IpAddr>,
        alias: Option<&str>,
    ) -> Option<String> {
        let by_name = |n: &str| self.by_name.get(&n.to_ascii_lowercase()).cloned();
        hostname
            .map(first_label)
            .filter(|h| !h.is_empty())
            .and_then(by_name)
            .or_else(|| ip.and_then(|ip| self.by_ip.get(&ip).cloned()))
            .or_else(|| alias.filter(|a| !a.is_empty()).and_then(by_name))
    }
}

#[cfg(test)]
mod pace_tests {
    use super::*;

    #[test]
    fn failures_double_the_wait_up_to_the_cap_and_a_success_restores_it() {
        let mut p = Pace::new(Duration::from_secs(3));
        assert_eq!(p.after(true), Duration::from_secs(3));
        let waits: Vec<u64> = (0..8).map(|_| p.after(false).as_secs()).collect();
        assert_eq!(waits, [6, 12, 24, 48, 60, 60, 60, 60]);
        assert_eq!(p.failures(), 8);
        assert_eq!(p.after(true), Duration::from_secs(3));
        // An interval above the cap is never shortened; many failures never overflow.
        let mut slow = Pace::new(Duration::from_secs(120));
        for _ in 0..100 {
            assert_eq!(slow.after(false), Duration::from_secs(120));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/cluster/resources` answer: a running container with this much memory, and a
    /// stopped VM.
    fn answer(mem: u64) -> Vec<u8> {
        format!(
            r#"{{"data":[{{"id":"lxc/100","type":"lxc","vmid":100,"node":"pve1","status":"running","mem":{mem},"uptime":50}},
            {{"id":"qemu/101","type":"qemu","vmid":101,"node":"pve2","status":"stopped"}}]}}"#
        )
        .into_bytes()
    }

    /// One poll taking in `answer` in chunks of `chunk` bytes after `old`: the snapshot it
    /// makes (the answer lists the guests by VMID, so positions are snapshot places), the
    /// hashes it keeps, and how many items it decoded.
    fn poll(
        old: &Snapshot,
        hashes: &[u64],
        answer: &[u8],
        chunk: usize,
    ) -> (Snapshot, Vec<u64>, u32) {
        let order: Vec<u32> = (0..old.guests.len() as u32).collect();
        let mut intake = Intake::new(old, &order, hashes, Instant::now(), Duration::from_secs(60));
        for part in answer.chunks(chunk) {
            intake.feed(part).unwrap();
        }
        let taken = intake.finish().unwrap();
        let guests = taken.guests.into_iter().map(|t| t.guest).collect();
        (
            Snapshot::build(guests, SystemTime::now()),
            taken.next_hashes,
            taken.decoded,
        )
    }

    #[test]
    fn an_item_seen_before_letter_for_letter_is_not_decoded_again() {
        for chunk in [1, 7, 4096] {
            let (first, hashes, decoded) = poll(&Snapshot::default(), &[], &answer(1), chunk);
            assert_eq!((first.guests().len(), decoded), (2, 2));

            // The same answer again: nothing decoded, every value kept.
            let (second, hashes, decoded) = poll(&first, &hashes, &answer(1), chunk);
            assert_eq!(decoded, 0);
            for (a, b) in first.guests().iter().zip(second.guests()) {
                assert!(Arc::ptr_eq(a, b));
            }

            // The container's figures moved: it alone is decoded, and reads the new figure.
            let (third, _, decoded) = poll(&second, &hashes, &answer(2), chunk);
            assert_eq!(decoded, 1);
            assert_eq!(third.get(GuestKind::Lxc, 100).unwrap().mem(), Some(2));
            assert!(Arc::ptr_eq(&second.guests()[1], &third.guests()[1]));

            // Without the last poll's hashes everything is decoded, and reads the same.
            let (again, _, decoded) = poll(&second, &[], &answer(1), chunk);
            assert_eq!(decoded, 2);
            assert_eq!(again.guests(), second.guests());
        }
    }
}
