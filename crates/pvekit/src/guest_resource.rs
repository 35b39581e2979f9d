//! [`GuestResource`]: a guest as the inventory holds it, stored compactly.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::time::Instant;

use pvekit_core::types::{ClusterResource, CompactString, GuestKind, ResourceKind, ResourceStatus};

/// A guest as the inventory knows it: what `/cluster/resources` reported of it, and its IPs.
///
/// An inventory holds one per guest, and each poll makes a new one for every guest whose
/// figures moved, so it is stored compactly: 240 bytes with its reference counts, against 488
/// for a [`ClusterResource`] and its IPs. Its strings are stored inline up to 24 bytes, each
/// figure takes 8 bytes, its status one, and `lock`, `pool`, `hastate` and statuses this
/// library does not know, rarely seen, are kept out of line.
/// Read it through its methods; [`GuestResource::to_resource`] gives back the resource as the
/// server sent it.
///
/// ```
/// use pvekit::GuestResource;
/// use pvekit::types::ClusterResource;
///
/// let r: ClusterResource = serde_json::from_str(
///     r#"{"id": "lxc/101", "type": "lxc", "vmid": 101, "node": "pve1", "name": "web",
///         "status": "running", "mem": 1048576, "maxmem": 2097152}"#,
/// )?;
/// let g = GuestResource::new(r.clone(), vec!["10.0.0.5".parse()?]).expect("a guest");
/// assert_eq!((g.name(), g.node(), g.mem()), (Some("web"), "pve1", Some(1048576)));
/// assert_eq!(g.to_resource(), r);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct GuestResource {
    /// LXC or QEMU.
    pub kind: GuestKind,
    /// Guest id.
    pub vmid: u64,
    /// The guest's IPs, resolved per the inventory's [`IpPolicy`](crate::IpPolicy) (shared
    /// between the values of a guest, so a new value costs no copy of them).
    pub ips: Arc<[IpAddr]>,
    /// When the IPs were resolved.
    pub ips_resolved: Instant,
    fields: Fields,
}

/// What `/cluster/resources` said of a guest, but its kind and VMID.
#[derive(Clone, PartialEq)]
pub(crate) struct Fields {
    node: Option<CompactString>,
    name: Option<CompactString>,
    tags: Option<CompactString>,
    /// The figures, 8 bytes each (`cpu` and `maxcpu` as the bits of their `f64`), in the
    /// order of [`Figure`].
    figures: [u64; Figure::COUNT],
    /// Which figures the server sent: bit `i` for `figures[i]`.
    present: u16,
    /// The status: its place in [`STATUSES`], [`NO_STATUS`] or [`RARE_STATUS`].
    status: u8,
    template: Option<bool>,
    rare: Option<Box<Rare>>,
}

/// The statuses a guest's status byte stands for.
static STATUSES: [ResourceStatus; 6] = [
    ResourceStatus::Running,
    ResourceStatus::Stopped,
    ResourceStatus::Unknown,
    ResourceStatus::Online,
    ResourceStatus::Offline,
    ResourceStatus::Available,
];
/// The server sent no status.
const NO_STATUS: u8 = u8::MAX;
/// The status is another one, kept in [`Rare::status`].
const RARE_STATUS: u8 = u8::MAX - 1;

/// The fields of a guest that are seldom set.
#[derive(Clone, PartialEq, Default)]
struct Rare {
    /// The server's `id`, when it is not `<type>/<vmid>`.
    id: Option<CompactString>,
    /// A status this library does not know.
    status: Option<ResourceStatus>,
    lock: Option<CompactString>,
    pool: Option<CompactString>,
    hastate: Option<CompactString>,
}

/// The figures of a guest, in the order [`Fields`] stores them.
#[derive(Clone, Copy)]
enum Figure {
    Cpu,
    Maxcpu,
    Mem,
    Maxmem,
    Disk,
    Maxdisk,
    Netin,
    Netout,
    Diskread,
    Diskwrite,
    Uptime,
}

impl Figure {
    const COUNT: usize = 11;
    const ALL: [(Figure, &'static str); Figure::COUNT] = [
        (Figure::Cpu, "cpu"),
        (Figure::Maxcpu, "maxcpu"),
        (Figure::Mem, "mem"),
        (Figure::Maxmem, "maxmem"),
        (Figure::Disk, "disk"),
        (Figure::Maxdisk, "maxdisk"),
        (Figure::Netin, "netin"),
        (Figure::Netout, "netout"),
        (Figure::Diskread, "diskread"),
        (Figure::Diskwrite, "diskwrite"),
        (Figure::Uptime, "uptime"),
    ];
}

impl Fields {
    fn get(&self, f: Figure) -> Option<u64> {
        let i = f as usize;
        (self.present & (1 << i) != 0).then_some(self.figures[i])
    }

    fn get_f64(&self, f: Figure) -> Option<f64> {
        self.get(f).map(f64::from_bits)
    }

    fn set(&mut self, f: Figure, v: Option<u64>) {
        let i = f as usize;
        match v {
            Some(v) => {
                self.present |= 1 << i;
                self.figures[i] = v;
            }
            None => {
                self.present &= !(1 << i);
                self.figures[i] = 0;
            }
        }
    }

    fn set_f64(&mut self, f: Figure, v: Option<f64>) {
        self.set(f, v.map(f64::to_bits));
    }
}

/// The figures the server sent, by name.
struct FiguresDebug<'a>(&'a Fields);

impl fmt::Debug for FiguresDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (figure, name) in Figure::ALL {
            match figure {
                Figure::Cpu | Figure::Maxcpu => {
                    if let Some(v) = self.0.get_f64(figure) {
                        m.entry(&name, &v);
                    }
                }
                _ => {
                    if let Some(v) = self.0.get(figure) {
                        m.entry(&name, &v);
                    }
                }
            }
        }
        m.finish()
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Fields");
        s.field("node", &self.node)
            .field("name", &self.name)
            .field("status", &self.status())
            .field("template", &self.template)
            .field("tags", &self.tags)
            .field("figures", &FiguresDebug(self));
        if let Some(rare) = &self.rare {
            s.field("id", &rare.id)
                .field("lock", &rare.lock)
                .field("pool", &rare.pool)
                .field("hastate", &rare.hastate);
        }
        s.finish()
    }
}

impl fmt::Debug for GuestResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestResource")
            .field("kind", &self.kind)
            .field("vmid", &self.vmid)
            .field("ips", &self.ips)
            .field("ips_resolved", &self.ips_resolved)
            .field("fields", &self.fields)
            .finish()
    }
}

impl Fields {
    /// The fields of a resource of this kind and VMID (its `id` is kept only when it is not
    /// the usual `<type>/<vmid>`).
    pub(crate) fn from_resource(r: ClusterResource, kind: GuestKind, vmid: u64) -> Fields {
        let id = (!is_usual_id(&r.id, kind, vmid)).then_some(r.id);
        let (status, rare_status) = match r.status {
            None => (NO_STATUS, None),
            Some(s) => match STATUSES.iter().position(|known| *known == s) {
                Some(i) => (i as u8, None),
                None => (RARE_STATUS, Some(s)),
            },
        };
        let rare = Rare {
            id,
            status: rare_status,
            lock: r.lock,
            pool: r.pool,
            hastate: r.hastate,
        };
        let mut fields = Fields {
            node: r.node,
            name: r.name,
            tags: r.tags,
            status,
            template: r.template,
            rare: (rare != Rare::default()).then(|| Box::new(rare)),
            figures: [0; Figure::COUNT],
            present: 0,
        };
        fields.set_f64(Figure::Cpu, r.cpu);
        fields.set_f64(Figure::Maxcpu, r.maxcpu);
        fields.set(Figure::Mem, r.mem);
        fields.set(Figure::Maxmem, r.maxmem);
        fields.set(Figure::Disk, r.disk);
        fields.set(Figure::Maxdisk, r.maxdisk);
        fields.set(Figure::Netin, r.netin);
        fields.set(Figure::Netout, r.netout);
        fields.set(Figure::Diskread, r.diskread);
        fields.set(Figure::Diskwrite, r.diskwrite);
        fields.set(Figure::Uptime, r.uptime);
        fields
    }

    pub(crate) fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn tags(&self) -> Option<&str> {
        self.tags.as_deref()
    }

    pub(crate) fn status(&self) -> Option<&ResourceStatus> {
        match self.status {
            NO_STATUS => None,
            RARE_STATUS => self.rare.as_deref().and_then(|r| r.status.as_ref()),
            i => STATUSES.get(usize::from(i)),
        }
    }

    pub(crate) fn template(&self) -> Option<bool> {
        self.template
    }

    pub(crate) fn uptime(&self) -> Option<u64> {
        self.get(Figure::Uptime)
    }

    /// The limits that a change of the guest's configuration moves.
    pub(crate) fn limits(&self) -> [Option<u64>; 3] {
        [
            self.get(Figure::Maxcpu),
            self.get(Figure::Maxmem),
            self.get(Figure::Maxdisk),
        ]
    }
}

/// Whether `id` is what Proxmox VE writes for a guest: `<type>/<vmid>`.
fn is_usual_id(id: &str, kind: GuestKind, vmid: u64) -> bool {
    id.split_once('/').is_some_and(|(k, v)| {
        k == ResourceKind::from(kind).as_str() && v.parse::<u64>().ok() == Some(vmid)
            // `lxc/0101` parses to 101 but is not what the server wrote for it.
            && !v.starts_with('0')
    })
}

/// The getters of the figures: `u64` ones as stored, `f64` ones from their bits.
macro_rules! figure_getters {
    ($($(#[$doc:meta])* $name:ident: $figure:ident -> $ty:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Option<$ty> {
            self.fields.get(Figure::$figure).map(<$ty>::from_figure)
        }
    )*};
}

/// How a figure's 8 stored bytes read.
trait FromFigure {
    fn from_figure(bits: u64) -> Self;
}

impl FromFigure for u64 {
    fn from_figure(bits: u64) -> Self {
        bits
    }
}

impl FromFigure for f64 {
    fn from_figure(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl GuestResource {
    /// A guest from its `/cluster/resources` item and its IPs, resolved now; `None` when the
    /// item is not a guest (not `lxc` or `qemu`, or no `vmid`).
    pub fn new(resource: ClusterResource, ips: impl Into<Arc<[IpAddr]>>) -> Option<Self> {
        let kind = resource.guest_kind()?;
        let vmid = resource.vmid?;
        Some(Self::from_fields(
            kind,
            vmid,
            Fields::from_resource(resource, kind, vmid),
            ips.into(),
            Instant::now(),
        ))
    }

    pub(crate) fn from_fields(
        kind: GuestKind,
        vmid: u64,
        fields: Fields,
        ips: Arc<[IpAddr]>,
        ips_resolved: Instant,
    ) -> Self {
        GuestResource {
            kind,
            vmid,
            ips,
            ips_resolved,
            fields,
        }
    }

    pub(crate) fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The resource as `/cluster/resources` reported it.
    pub fn to_resource(&self) -> ClusterResource {
        let f = &self.fields;
        let g = f;
        let rare = f.rare.as_deref();
        let rare_field =
            |pick: fn(&Rare) -> &Option<CompactString>| rare.and_then(|r| pick(r).clone());
        ClusterResource {
            id: self.id(),
            kind: self.kind.into(),
            node: f.node.clone(),
            vmid: Some(self.vmid),
            name: f.name.clone(),
            status: f.status().cloned(),
            template: f.template,
            cpu: g.get_f64(Figure::Cpu),
            maxcpu: g.get_f64(Figure::Maxcpu),
            mem: g.get(Figure::Mem),
            maxmem: g.get(Figure::Maxmem),
            disk: g.get(Figure::Disk),
            maxdisk: g.get(Figure::Maxdisk),
            netin: g.get(Figure::Netin),
            netout: g.get(Figure::Netout),
            diskread: g.get(Figure::Diskread),
            diskwrite: g.get(Figure::Diskwrite),
            uptime: g.get(Figure::Uptime),
            tags: f.tags.clone(),
            lock: rare_field(|r| &r.lock),
            pool: rare_field(|r| &r.pool),
            hastate: rare_field(|r| &r.hastate),
        }
    }

    /// The resource id, `lxc/101` or `qemu/100` (as the server sent it).
    pub fn id(&self) -> CompactString {
        use std::fmt::Write;
        if let Some(id) = self.fields.rare.as_deref().and_then(|r| r.id.clone()) {
            return id;
        }
        let mut id = CompactString::default();
        // Writing to a string cannot fail.
        let _ = write!(id, "{}/{}", ResourceKind::from(self.kind), self.vmid);
        id
    }

    /// The guest's name, when the server reported one.
    pub fn name(&self) -> Option<&str> {
        self.fields.name()
    }

    /// The node the guest lives on.
    pub fn node(&self) -> &str {
        self.fields.node().unwrap_or("")
    }

    /// The reported status: running, stopped, or unknown (also when the server sent none).
    pub fn status(&self) -> &ResourceStatus {
        static UNKNOWN: ResourceStatus = ResourceStatus::Unknown;
        self.fields.status().unwrap_or(&UNKNOWN)
    }

    /// Whether the guest is a template.
    pub fn template(&self) -> bool {
        self.fields.template == Some(true)
    }

    /// `;`-separated tags.
    pub fn tags(&self) -> Option<&str> {
        self.fields.tags()
    }

    /// The current lock, such as `backup`.
    pub fn lock(&self) -> Option<&str> {
        self.fields.rare.as_deref().and_then(|r| r.lock.as_deref())
    }

    /// The resource pool.
    pub fn pool(&self) -> Option<&str> {
        self.fields.rare.as_deref().and_then(|r| r.pool.as_deref())
    }

    /// The HA state.
    pub fn hastate(&self) -> Option<&str> {
        self.fields
            .rare
            .as_deref()
            .and_then(|r| r.hastate.as_deref())
    }

    figure_getters! {
        /// CPU usage as a fraction of `maxcpu` (0.05 = 5 %).
        cpu: Cpu -> f64;
        /// Number of CPUs (may be fractional for LXC with a cpulimit).
        maxcpu: Maxcpu -> f64;
        /// Memory in use, bytes.
        mem: Mem -> u64;
        /// Memory limit, bytes.
        maxmem: Maxmem -> u64;
        /// Disk in use, bytes.
        disk: Disk -> u64;
        /// Disk size, bytes.
        maxdisk: Maxdisk -> u64;
        /// Bytes received since start.
        netin: Netin -> u64;
        /// Bytes sent since start.
        netout: Netout -> u64;
        /// Bytes read from disk since start.
        diskread: Diskread -> u64;
        /// Bytes written to disk since start.
        diskwrite: Diskwrite -> u64;
        /// Seconds since start.
        uptime: Uptime -> u64;
    }
}

/// Written as its resource (the server's field names) plus `kind` and `ips`.
impl serde::Serialize for GuestResource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            kind: GuestKind,
            #[serde(flatten)]
            resource: ClusterResource,
            ips: &'a [IpAddr],
        }
        Out {
            kind: self.kind,
            resource: self.to_resource(),
            ips: &self.ips,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvekit_core::perl;

    fn resource(v: serde_json::Value) -> ClusterResource {
        perl::from_value(v).unwrap()
    }

    #[test]
    fn is_compact() {
        // The figure the type's docs state, with the reference counts of its `Arc`.
        let size = std::mem::size_of::<GuestResource>();
        assert!(size + 16 <= 240, "{size}");
    }

    #[test]
    fn gives_back_every_field_as_sent() {
        let full = resource(serde_json::json!({
            "id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve1", "name": "vm",
            "status": "running", "template": 0, "cpu": 0.125, "maxcpu": 2, "mem": 5,
            "maxmem": 6, "disk": 7, "maxdisk": 8, "netin": 9, "netout": 10, "diskread": 11,
            "diskwrite": 12, "uptime": 13, "tags": "a;b", "lock": "backup", "pool": "p",
            "hastate": "started"
        }));
        let g = GuestResource::new(full.clone(), Vec::new()).unwrap();
        assert_eq!(g.to_resource(), full);
        assert_eq!(
            (g.lock(), g.pool(), g.hastate(), g.tags()),
            (Some("backup"), Some("p"), Some("started"), Some("a;b"))
        );
        assert_eq!(
            (g.cpu(), g.maxcpu(), g.uptime()),
            (Some(0.125), Some(2.0), Some(13))
        );
        assert!(g.fields.rare.is_some());

        // Only what the server sent comes back; nothing rare is stored out of line.
        let bare = resource(serde_json::json!({"id": "lxc/7", "type": "lxc", "vmid": "7"}));
        let g = GuestResource::new(bare.clone(), Vec::new()).unwrap();
        assert_eq!(g.to_resource(), bare);
        assert!(g.fields.rare.is_none());
        assert_eq!((g.mem(), g.cpu(), g.template()), (None, None, false));
        assert_eq!(g.status(), &ResourceStatus::Unknown);

        // An unusual id is kept as sent.
        for id in ["lxc/007", "ct7", "qemu/7", "lxc/8"] {
            let odd = resource(serde_json::json!({"id": id, "type": "lxc", "vmid": 7}));
            assert_eq!(
                GuestResource::new(odd.clone(), Vec::new())
                    .unwrap()
                    .to_resource(),
                odd
            );
        }
        // Every status comes back as sent, known or not.
        for status in ["running", "stopped", "unknown", "online", "mounted", ""] {
            let r = resource(
                serde_json::json!({"id": "lxc/7", "type": "lxc", "vmid": 7, "status": status}),
            );
            let g = GuestResource::new(r.clone(), Vec::new()).unwrap();
            assert_eq!(g.to_resource(), r);
            assert_eq!(g.status().as_str(), status);
        }
        // Zero figures are figures.
        let zero = resource(
            serde_json::json!({"id": "lxc/7", "type": "lxc", "vmid": 7, "mem": 0, "cpu": 0}),
        );
        let g = GuestResource::new(zero.clone(), Vec::new()).unwrap();
        assert_eq!((g.mem(), g.cpu()), (Some(0), Some(0.0)));
        assert_eq!(g.to_resource(), zero);
    }

    #[test]
    fn is_not_a_guest_without_kind_or_vmid() {
        for v in [
            serde_json::json!({"id": "node/pve1", "type": "node", "node": "pve1"}),
            serde_json::json!({"id": "lxc/7", "type": "lxc"}),
        ] {
            assert!(GuestResource::new(resource(v), Vec::new()).is_none());
        }
    }

    #[test]
    fn serializes_as_its_resource_with_kind_and_ips() {
        let r = resource(serde_json::json!({
            "id": "lxc/101", "type": "lxc", "vmid": 101, "node": "pve1", "status": "running",
            "mem": 1
        }));
        let g = GuestResource::new(r, vec!["10.0.0.5".parse().unwrap()]).unwrap();
        assert_eq!(
            serde_json::to_value(&g).unwrap(),
            serde_json::json!({
                "kind": "lxc", "vmid": 101, "id": "lxc/101", "type": "lxc", "node": "pve1",
                "status": "running", "mem": 1, "ips": ["10.0.0.5"]
            })
        );
    }
}
