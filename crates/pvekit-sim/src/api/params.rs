//! The simulator's parameter table, written by hand from the Proxmox VE API schema.
//!
//! Every method the simulator knows has an entry, including those whose handlers still answer
//! 501: their parameters are validated exactly like the real server's, so a client that sends
//! something Proxmox VE would refuse is refused here too. The conformance test compares this
//! table with the official schema file at run time.

use crate::rules::{EndpointRule, KeyRule, ParamFormat, ParamRule, ParamType, Permission};

/// Builder shorthand for one parameter.
struct P(ParamRule);

fn s(name: &str) -> P {
    P(ParamRule::new(name, ParamType::String))
}
fn int(name: &str) -> P {
    P(ParamRule::new(name, ParamType::Integer))
}
fn num(name: &str) -> P {
    P(ParamRule::new(name, ParamType::Number))
}
fn b(name: &str) -> P {
    P(ParamRule::new(name, ParamType::Boolean).optional())
}

impl P {
    fn opt(mut self) -> P {
        self.0.optional = true;
        self
    }
    fn min(mut self, v: f64) -> P {
        self.0.minimum = Some(v);
        self
    }
    fn max(mut self, v: f64) -> P {
        self.0.maximum = Some(v);
        self
    }
    fn len(mut self, v: u64) -> P {
        self.0.max_length = Some(v);
        self
    }
    fn en(mut self, values: &[&str]) -> P {
        self.0.enum_values = Some(values.iter().map(|v| v.to_string()).collect());
        self
    }
    fn fmt(mut self, f: &str) -> P {
        self.0.format = Some(ParamFormat::Named(f.to_string()));
        self
    }
    /// A property string; keys are `name`, `name?` (optional) or `name*` (optional default key)
    /// and `name!` (required default key).
    fn keys(mut self, keys: &[&str]) -> P {
        let keys = keys
            .iter()
            .map(|k| {
                let (name, optional, default_key) = if let Some(n) = k.strip_suffix('?') {
                    (n, true, false)
                } else if let Some(n) = k.strip_suffix('*') {
                    (n, true, true)
                } else if let Some(n) = k.strip_suffix('!') {
                    (n, false, true)
                } else {
                    (*k, false, false)
                };
                KeyRule {
                    name: name.to_string(),
                    optional,
                    default_key,
                }
            })
            .collect();
        self.0.format = Some(ParamFormat::PropertyString(keys));
        self
    }
    fn pattern(mut self, p: &str) -> P {
        self.0.pattern = Some(p.to_string());
        self
    }
    fn requires(mut self, other: &str) -> P {
        self.0.requires = Some(other.to_string());
        self
    }
    fn indexed(mut self, count: u32) -> P {
        self.0.index_count = Some(count);
        self
    }
}

impl ParamRule {
    fn optional(mut self) -> ParamRule {
        self.optional = true;
        self
    }
}

fn node() -> P {
    s("node").fmt("pve-node")
}
fn vmid() -> P {
    int("vmid").min(100.0).max(999_999_999.0).fmt("pve-vmid")
}

fn ep(method: &str, path: &str, params: Vec<P>) -> EndpointRule {
    EndpointRule {
        method: method.to_string(),
        path: path.to_string(),
        allow_token: true,
        proxy_to_node: false,
        params: params.into_iter().map(|p| p.0).collect(),
        permission: permission(method, path),
    }
}

/// Who may call each method, from the schema's `permissions`: a guest's reads need
/// VM.Audit on `/vms/{vmid}`, its power actions VM.PowerMgmt, its config changes one of the
/// VM.Config privileges, its terminal VM.Console; a node's status needs Sys.Audit and its
/// terminal Sys.Console on `/nodes/{node}`; the cluster status Sys.Audit on `/`. Lists and
/// tasks are open to any logged-in user and filtered by the handlers.
fn permission(method: &str, path: &str) -> Permission {
    let vm = "/vms/{vmid}";
    let node = "/nodes/{node}";
    let (_, tail) = path.split_once("/{vmid}").unwrap_or((path, ""));
    let guest = path.contains("{vmid}");
    match (method, path, tail) {
        (_, "/access/ticket", _) => Permission::World,
        ("GET", "/cluster/status", _) => Permission::check("/", &["Sys.Audit"]),
        ("GET", "/nodes/{node}/status", _) => Permission::check(node, &["Sys.Audit"]),
        ("GET", "/nodes/{node}/journal", _) => Permission::check(node, &["Sys.Syslog"]),
        (_, "/nodes/{node}/termproxy" | "/nodes/{node}/vncwebsocket", _) => {
            Permission::check(node, &["Sys.Console"])
        }
        (_, _, "/termproxy" | "/vncwebsocket") if guest => Permission::check(vm, &["VM.Console"]),
        ("POST", _, t) if guest && t.starts_with("/status/") => {
            Permission::check(vm, &["VM.PowerMgmt"])
        }
        ("PUT", _, "/config") if guest => Permission::check_any(
            vm,
            &[
                "VM.Config.Disk",
                "VM.Config.CPU",
                "VM.Config.Memory",
                "VM.Config.Network",
                "VM.Config.Options",
            ],
        ),
        ("GET", _, "/agent/network-get-interfaces") => {
            Permission::check_any(vm, &["VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"])
        }
        ("GET", _, _) if guest => Permission::check(vm, &["VM.Audit"]),
        _ => Permission::All,
    }
}

fn proxied(mut e: EndpointRule) -> EndpointRule {
    e.proxy_to_node = true;
    e
}

/// The LXC config keys (PUT /nodes/{node}/lxc/{vmid}/config), without node/vmid.
fn lxc_config_params() -> Vec<P> {
    vec![
        s("arch").opt().en(&["amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"]),
        s("cmode").opt().en(&["shell", "console", "tty"]),
        b("console"),
        int("cores").opt().min(1.0).max(8192.0),
        num("cpulimit").opt().min(0.0).max(8192.0),
        int("cpuunits").opt().min(0.0).max(500_000.0),
        b("debug"),
        s("delete").opt().fmt("pve-configid-list"),
        s("description").opt().len(8192),
        s("dev[n]").opt().indexed(256).keys(&["deny-write?", "gid?", "mode?", "path*", "uid?"]),
        s("digest").opt().len(40),
        s("entrypoint").opt().pattern("(?^:[^\\x00-\\x08\\x10-\\x1F\\x7F]+)"),
        s("env")
            .opt()
            .pattern("(?^:(?:\\w+=[^\\x00-\\x08\\x10-\\x1F\\x7F]*)(?:\\0\\w+=[^\\x00-\\x08\\x10-\\x1F\\x7F]*)*)"),
        s("features").opt().keys(&["force_rw_sys?", "fuse?", "keyctl?", "mknod?", "mount?", "nesting?"]),
        s("hookscript").opt().fmt("pve-volume-id"),
        s("hostname").opt().len(255).fmt("dns-name"),
        s("lock").opt().en(&[
            "backup",
            "create",
            "destroyed",
            "disk",
            "fstrim",
            "migrate",
            "mounted",
            "rollback",
            "snapshot",
            "snapshot-delete",
        ]),
        int("memory").opt().min(16.0),
        s("mp[n]").opt().indexed(256).keys(&[
            "acl?",
            "backup?",
            "keepattrs?",
            "mountoptions?",
            "mp",
            "quota?",
            "replicate?",
            "ro?",
            "shared?",
            "size?",
            "volume!",
        ]),
        s("nameserver").opt().fmt("lxc-ip-with-ll-iface-list"),
        s("net[n]").opt().indexed(32).keys(&[
            "bridge?",
            "firewall?",
            "gw?",
            "gw6?",
            "host-managed?",
            "hwaddr?",
            "ip?",
            "ip6?",
            "link_down?",
            "mtu?",
            "name",
            "rate?",
            "tag?",
            "trunks?",
            "type?",
        ]),
        b("onboot"),
        s("ostype").opt().en(&[
            "debian",
            "devuan",
            "ubuntu",
            "centos",
            "fedora",
            "opensuse",
            "archlinux",
            "alpine",
            "gentoo",
            "nixos",
            "unmanaged",
        ]),
        b("protection"),
        s("revert").opt().fmt("pve-configid-list"),
        s("rootfs").opt().keys(&[
            "acl?",
            "mountoptions?",
            "quota?",
            "replicate?",
            "ro?",
            "shared?",
            "size?",
            "volume!",
        ]),
        s("searchdomain").opt().fmt("dns-name-list"),
        s("startup").opt().fmt("pve-startup-order"),
        int("swap").opt().min(0.0),
        s("tags").opt().fmt("pve-tag-list"),
        b("template"),
        s("timezone").opt().fmt("pve-ct-timezone"),
        int("tty").opt().min(0.0).max(6.0),
        b("unprivileged"),
        s("unused[n]").opt().indexed(256).keys(&["volume!"]),
    ]
}

fn with_node_vmid(mut rest: Vec<P>) -> Vec<P> {
    rest.push(node());
    rest.push(vmid());
    rest
}

/// Every API method the simulator knows, with its parameter rules.
pub fn endpoints() -> Vec<EndpointRule> {
    let lxc = "/nodes/{node}/lxc/{vmid}";
    let qemu = "/nodes/{node}/qemu/{vmid}";
    let mut v = vec![
        ep("GET", "/version", vec![]),
        ep("GET", "/access/ticket", vec![]),
        EndpointRule {
            allow_token: false,
            ..ep(
                "POST",
                "/access/ticket",
                vec![
                    b("new-format"),
                    s("otp").opt(),
                    s("password"),
                    s("path").opt().len(64).requires("privs"),
                    s("privs")
                        .opt()
                        .len(64)
                        .fmt("pve-priv-list")
                        .requires("path"),
                    s("realm").opt().len(32).fmt("pve-realm"),
                    s("tfa-challenge").opt(),
                    s("username").len(64),
                ],
            )
        },
        ep("GET", "/cluster/status", vec![]),
        ep(
            "GET",
            "/cluster/resources",
            vec![s("type").opt().en(&["vm", "storage", "node", "sdn"])],
        ),
        ep("GET", "/nodes", vec![]),
        proxied(ep("GET", "/nodes/{node}/status", vec![node()])),
        ep(
            "POST",
            "/nodes/{node}/termproxy",
            vec![
                s("cmd").opt().en(&["ceph_install", "login", "upgrade"]),
                s("cmd-opts").opt().requires("cmd"),
                node(),
            ],
        ),
        ep(
            "GET",
            "/nodes/{node}/vncwebsocket",
            vec![
                node(),
                int("port").min(5900.0).max(5999.0),
                s("vncticket").len(512),
            ],
        ),
        // Not in the schema subset: an extension, with pve-manager's PVE/API2/Nodes.pm
        // `journal` as its source (proxyto node, Sys.Syslog).
        proxied(ep(
            "GET",
            "/nodes/{node}/journal",
            vec![
                s("endcursor").opt(),
                int("lastentries").opt().min(0.0),
                node(),
                int("since").opt().min(0.0),
                s("startcursor").opt(),
                int("until").opt().min(0.0),
            ],
        )),
        proxied(ep("GET", "/nodes/{node}/lxc", vec![node()])),
        proxied(ep(
            "GET",
            &format!("{lxc}/status/current"),
            with_node_vmid(vec![]),
        )),
        proxied(ep(
            "POST",
            &format!("{lxc}/status/start"),
            with_node_vmid(vec![b("debug"), b("skiplock")]),
        )),
        proxied(ep(
            "POST",
            &format!("{lxc}/status/stop"),
            with_node_vmid(vec![b("overrule-shutdown"), b("skiplock")]),
        )),
        proxied(ep(
            "POST",
            &format!("{lxc}/status/shutdown"),
            with_node_vmid(vec![b("forceStop"), int("timeout").opt().min(0.0)]),
        )),
        proxied(ep(
            "POST",
            &format!("{lxc}/status/suspend"),
            with_node_vmid(vec![]),
        )),
        proxied(ep(
            "POST",
            &format!("{lxc}/status/resume"),
            with_node_vmid(vec![]),
        )),
        proxied(ep(
            "POST",
            &format!("{lxc}/status/reboot"),
            with_node_vmid(vec![int("timeout").opt().min(0.0)]),
        )),
        proxied(ep(
            "GET",
            &format!("{lxc}/config"),
            with_node_vmid(vec![
                b("current"),
                s("snapshot").opt().len(40).fmt("pve-configid"),
            ]),
        )),
        proxied(ep(
            "PUT",
            &format!("{lxc}/config"),
            with_node_vmid(lxc_config_params()),
        )),
        proxied(ep(
            "GET",
            &format!("{lxc}/interfaces"),
            with_node_vmid(vec![]),
        )),
        ep("POST", &format!("{lxc}/termproxy"), with_node_vmid(vec![])),
        ep(
            "GET",
            &format!("{lxc}/vncwebsocket"),
            with_node_vmid(vec![
                int("port").min(5900.0).max(5999.0),
                s("vncticket").len(512),
            ]),
        ),
        ep(
            "GET",
            &format!("{lxc}/rrddata"),
            with_node_vmid(vec![
                s("cf").opt().en(&["AVERAGE", "MAX"]),
                s("timeframe").en(&["hour", "day", "week", "month", "year"]),
            ]),
        ),
        proxied(ep(
            "GET",
            "/nodes/{node}/tasks/{upid}/status",
            vec![node(), s("upid")],
        )),
        proxied(ep(
            "GET",
            "/nodes/{node}/tasks/{upid}/log",
            vec![
                b("download"),
                int("limit").opt().min(0.0),
                node(),
                int("start").opt().min(0.0),
                s("upid"),
            ],
        )),
        proxied(ep("GET", "/nodes/{node}/qemu", vec![b("full"), node()])),
        proxied(ep(
            "GET",
            &format!("{qemu}/status/current"),
            with_node_vmid(vec![]),
        )),
        proxied(ep(
            "POST",
            &format!("{qemu}/status/start"),
            with_node_vmid(vec![
                s("force-cpu").opt(),
                s("machine").opt().keys(&[
                    "aw-bits?",
                    "enable-s3?",
                    "enable-s4?",
                    "type*",
                    "viommu?",
                ]),
                s("migratedfrom").opt().fmt("pve-node"),
                s("migration_network").opt().fmt("CIDR"),
                s("migration_type").opt().en(&["secure", "insecure"]),
                s("nets-host-mtu")
                    .opt()
                    .pattern("net\\d+=\\d+(,net\\d+=\\d+)*"),
                b("skiplock"),
                s("stateuri").opt().len(128),
                s("targetstorage").opt().fmt("storage-pair-list"),
                int("timeout").opt().min(0.0),
                b("with-conntrack-state"),
            ]),
        )),
        proxied(ep(
            "POST",
            &format!("{qemu}/status/shutdown"),
            with_node_vmid(vec![
                b("forceStop"),
                b("keepActive"),
                b("skiplock"),
                int("timeout").opt().min(0.0),
            ]),
        )),
        proxied(ep(
            "POST",
            &format!("{qemu}/status/stop"),
            with_node_vmid(vec![
                b("keepActive"),
                s("migratedfrom").opt().fmt("pve-node"),
                b("overrule-shutdown"),
                b("skiplock"),
                int("timeout").opt().min(0.0),
            ]),
        )),
        proxied(ep(
            "POST",
            &format!("{qemu}/status/suspend"),
            with_node_vmid(vec![
                b("skiplock"),
                s("statestorage")
                    .opt()
                    .fmt("pve-storage-id")
                    .requires("todisk"),
                b("todisk"),
            ]),
        )),
        proxied(ep(
            "POST",
            &format!("{qemu}/status/resume"),
            with_node_vmid(vec![b("nocheck"), b("skiplock")]),
        )),
        proxied(ep(
            "POST",
            &format!("{qemu}/status/reboot"),
            with_node_vmid(vec![int("timeout").opt().min(0.0)]),
        )),
        proxied(ep(
            "GET",
            &format!("{qemu}/config"),
            with_node_vmid(vec![
                b("current"),
                s("snapshot").opt().len(40).fmt("pve-configid"),
            ]),
        )),
        proxied(ep(
            "GET",
            &format!("{qemu}/agent/network-get-interfaces"),
            with_node_vmid(vec![]),
        )),
    ];
    for e in &mut v {
        e.params.sort_by(|a, b| a.name.cmp(&b.name));
    }
    v
}
