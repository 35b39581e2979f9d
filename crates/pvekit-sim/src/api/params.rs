//! The vocabulary of the route table's parameter rules ([`super::routes`]), written by hand
//! from the Proxmox VE API schema: a shorthand builder for one parameter ([`P`], [`s`],
//! [`int`], [`num`], [`b`]), the common `node` and `vmid` parameters, an endpoint's rule
//! ([`ep`], [`proxied`]) with the permission its path implies ([`permission`]), and the long
//! LXC config key list.

use crate::rules::{EndpointRule, KeyRule, ParamFormat, ParamRule, ParamType, Permission};

/// Builder shorthand for one parameter.
pub(super) struct P(pub(super) ParamRule);

pub(super) fn s(name: &str) -> P {
    P(ParamRule::new(name, ParamType::String))
}
pub(super) fn int(name: &str) -> P {
    P(ParamRule::new(name, ParamType::Integer))
}
pub(super) fn num(name: &str) -> P {
    P(ParamRule::new(name, ParamType::Number))
}
pub(super) fn b(name: &str) -> P {
    P(ParamRule::new(name, ParamType::Boolean).optional())
}

impl P {
    pub(super) fn opt(mut self) -> P {
        self.0.optional = true;
        self
    }
    pub(super) fn min(mut self, v: f64) -> P {
        self.0.minimum = Some(v);
        self
    }
    pub(super) fn max(mut self, v: f64) -> P {
        self.0.maximum = Some(v);
        self
    }
    pub(super) fn len(mut self, v: u64) -> P {
        self.0.max_length = Some(v);
        self
    }
    pub(super) fn en(mut self, values: &[&str]) -> P {
        self.0.enum_values = Some(values.iter().map(|v| v.to_string()).collect());
        self
    }
    pub(super) fn fmt(mut self, f: &str) -> P {
        self.0.format = Some(ParamFormat::Named(f.to_string()));
        self
    }
    /// A property string; keys are `name`, `name?` (optional) or `name*` (optional default key)
    /// and `name!` (required default key).
    pub(super) fn keys(mut self, keys: &[&str]) -> P {
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
    pub(super) fn pattern(mut self, p: &str) -> P {
        self.0.pattern = Some(p.to_string());
        self
    }
    pub(super) fn requires(mut self, other: &str) -> P {
        self.0.requires = Some(other.to_string());
        self
    }
    pub(super) fn indexed(mut self, count: u32) -> P {
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

pub(super) fn node() -> P {
    s("node").fmt("pve-node")
}
pub(super) fn vmid() -> P {
    int("vmid").min(100.0).max(999_999_999.0).fmt("pve-vmid")
}

pub(super) fn ep(method: &str, path: &str, params: Vec<P>) -> EndpointRule {
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
        // pve-access-control src/PVE/API2/User.pm, the token methods.
        (_, "/access/users/{userid}/token" | "/access/users/{userid}/token/{tokenid}", _) => {
            Permission::Or(vec![
                Permission::UseridSelf,
                Permission::UseridGroup {
                    privs: vec!["User.Modify".into()],
                },
            ])
        }
        // src/PVE/API2/Role.pm: changes need Sys.Modify on /access, reads are open.
        ("POST" | "PUT" | "DELETE", "/access/roles" | "/access/roles/{roleid}", _) => {
            Permission::check("/access", &["Sys.Modify"])
        }
        // src/PVE/API2/ACL.pm `update_acl`.
        ("PUT", "/access/acl", _) => Permission::PermModify {
            path: "{path}".into(),
        },
        ("GET", "/cluster/status", _) => Permission::check("/", &["Sys.Audit"]),
        // pve-manager PVE/API2/BackupInfo.pm: Sys.Audit on /, guests filtered by VM.Audit.
        ("GET", "/cluster/backup-info/not-backed-up", _) => Permission::check("/", &["Sys.Audit"]),
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

pub(super) fn proxied(mut e: EndpointRule) -> EndpointRule {
    e.proxy_to_node = true;
    e
}

/// The LXC config keys (PUT /nodes/{node}/lxc/{vmid}/config), without node/vmid.
pub(super) fn lxc_config_params() -> Vec<P> {
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

pub(super) fn with_node_vmid(mut rest: Vec<P>) -> Vec<P> {
    rest.push(node());
    rest.push(vmid());
    rest
}
