//! The route table: every API method the simulator knows, with its parameter rule and its
//! handler side by side, one entry per method.
//!
//! The rules are written by hand from the Proxmox VE API schema (with the shorthand of
//! [`super::params`]). Every method has an entry, including any whose behaviour is not
//! simulated yet (its handler answers 501 after the parameters passed): parameters are
//! validated exactly like the real server's, so a client that sends something Proxmox VE
//! would refuse is refused here too. The conformance test compares the rules with the
//! official schema file at run time ([`crate::endpoint_rules`]).
//!
//! [`find`] matches a request's method and concrete path against the table; the front
//! ([`super::process`]) then checks the token restriction, the permission and the parameters
//! of the entry's rule and calls its handler.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::Call;
use super::handlers::{
    PVE_RELEASE, PVE_REPOID, PVE_VERSION, Reply, access, acls, agent, cluster, config, guests,
    nodes, pools, power, roles, rrd, tasks, term, tokens,
};
use super::params::{b, ep, int, lxc_config_params, node, proxied, s, with_node_vmid};
use crate::error::ApiError;
use crate::model::power::Action;
use crate::rules::EndpointRule;
use pvekit_core::types::GuestKind;

/// A handler: the answer to a validated call.
pub(crate) type Handler = fn(&Call<'_>) -> Result<Reply, ApiError>;

/// One API method: its rule (method, path template, token use, proxying, parameters,
/// permission) and its handler.
pub(crate) struct Route {
    pub rule: EndpointRule,
    pub handler: Handler,
}

/// `data` without a `total`.
fn data(r: Result<Value, ApiError>) -> Result<Reply, ApiError> {
    r.map(|data| Reply { data, total: None })
}

/// The table, built once.
pub(crate) fn table() -> &'static [Route] {
    static TABLE: LazyLock<Vec<Route>> = LazyLock::new(build);
    &TABLE
}

/// The route for a method and a concrete path, with the path's placeholder values.
pub(crate) fn find(method: &str, path: &str) -> Option<(&'static Route, Vec<(String, String)>)> {
    table()
        .iter()
        .filter(|r| r.rule.method == method)
        .find_map(|r| r.rule.match_path(path).map(|m| (r, m)))
}

fn route(rule: EndpointRule, handler: Handler) -> Route {
    Route { rule, handler }
}

/// The six power actions of a guest kind.
fn power_routes(kind: GuestKind) -> Vec<Route> {
    let base = format!("/nodes/{{node}}/{}/{{vmid}}/status", kind.as_str());
    let post = |action: &str, params| {
        proxied(ep(
            "POST",
            &format!("{base}/{action}"),
            with_node_vmid(params),
        ))
    };
    match kind {
        GuestKind::Lxc => vec![
            route(post("start", vec![b("debug"), b("skiplock")]), |c| {
                data(power::action(c, GuestKind::Lxc, Action::Start))
            }),
            route(
                post("stop", vec![b("overrule-shutdown"), b("skiplock")]),
                |c| data(power::action(c, GuestKind::Lxc, Action::Stop)),
            ),
            route(
                post(
                    "shutdown",
                    vec![b("forceStop"), int("timeout").opt().min(0.0)],
                ),
                |c| data(power::action(c, GuestKind::Lxc, Action::Shutdown)),
            ),
            route(post("suspend", vec![]), |c| {
                data(power::action(c, GuestKind::Lxc, Action::Suspend))
            }),
            route(post("resume", vec![]), |c| {
                data(power::action(c, GuestKind::Lxc, Action::Resume))
            }),
            route(post("reboot", vec![int("timeout").opt().min(0.0)]), |c| {
                data(power::action(c, GuestKind::Lxc, Action::Reboot))
            }),
        ],
        GuestKind::Qemu => vec![
            route(
                post(
                    "start",
                    vec![
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
                    ],
                ),
                |c| data(power::action(c, GuestKind::Qemu, Action::Start)),
            ),
            route(
                post(
                    "shutdown",
                    vec![
                        b("forceStop"),
                        b("keepActive"),
                        b("skiplock"),
                        int("timeout").opt().min(0.0),
                    ],
                ),
                |c| data(power::action(c, GuestKind::Qemu, Action::Shutdown)),
            ),
            route(
                post(
                    "stop",
                    vec![
                        b("keepActive"),
                        s("migratedfrom").opt().fmt("pve-node"),
                        b("overrule-shutdown"),
                        b("skiplock"),
                        int("timeout").opt().min(0.0),
                    ],
                ),
                |c| data(power::action(c, GuestKind::Qemu, Action::Stop)),
            ),
            route(
                post(
                    "suspend",
                    vec![
                        b("skiplock"),
                        s("statestorage")
                            .opt()
                            .fmt("pve-storage-id")
                            .requires("todisk"),
                        b("todisk"),
                    ],
                ),
                |c| data(power::action(c, GuestKind::Qemu, Action::Suspend)),
            ),
            route(post("resume", vec![b("nocheck"), b("skiplock")]), |c| {
                data(power::action(c, GuestKind::Qemu, Action::Resume))
            }),
            route(post("reboot", vec![int("timeout").opt().min(0.0)]), |c| {
                data(power::action(c, GuestKind::Qemu, Action::Reboot))
            }),
        ],
    }
}

/// Every API method the simulator knows.
fn build() -> Vec<Route> {
    let lxc = "/nodes/{node}/lxc/{vmid}";
    let qemu = "/nodes/{node}/qemu/{vmid}";
    let mut v = vec![
        route(ep("GET", "/version", vec![]), |_| {
            data(Ok(json!({
                "version": PVE_VERSION,
                "release": PVE_RELEASE,
                "repoid": PVE_REPOID,
            })))
        }),
        route(ep("GET", "/access/ticket", vec![]), |_| {
            data(Ok(Value::Null))
        }),
        route(
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
            |c| data(access::create_ticket(c)),
        ),
        route(ep("GET", "/cluster/status", vec![]), |c| {
            data(cluster::status(c))
        }),
        route(
            ep(
                "GET",
                "/cluster/resources",
                vec![s("type").opt().en(&["vm", "storage", "node", "sdn"])],
            ),
            |c| data(cluster::resources(c)),
        ),
        route(
            ep("GET", "/cluster/backup-info/not-backed-up", vec![]),
            |c| data(cluster::not_backed_up(c)),
        ),
        route(ep("GET", "/nodes", vec![]), |c| data(nodes::list(c))),
        route(
            proxied(ep("GET", "/nodes/{node}/status", vec![node()])),
            |c| data(nodes::status(c)),
        ),
        route(
            ep(
                "POST",
                "/nodes/{node}/termproxy",
                vec![
                    s("cmd").opt().en(&["ceph_install", "login", "upgrade"]),
                    s("cmd-opts").opt().requires("cmd"),
                    node(),
                ],
            ),
            |c| data(term::node_termproxy(c)),
        ),
        route(
            ep(
                "GET",
                "/nodes/{node}/vncwebsocket",
                vec![
                    node(),
                    int("port").min(5900.0).max(5999.0),
                    s("vncticket").len(512),
                ],
            ),
            |c| data(term::vncwebsocket(c, None)),
        ),
        // Not in the schema subset: an extension, with pve-manager's PVE/API2/Nodes.pm
        // `journal` as its source (proxyto node, Sys.Syslog).
        route(
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
            |c| data(term::journal(c)),
        ),
        route(proxied(ep("GET", "/nodes/{node}/lxc", vec![node()])), |c| {
            data(guests::lxc_list(c))
        }),
        route(
            proxied(ep(
                "GET",
                &format!("{lxc}/status/current"),
                with_node_vmid(vec![]),
            )),
            |c| data(guests::lxc_current(c)),
        ),
    ];
    v.extend(power_routes(GuestKind::Lxc));
    v.extend([
        route(
            proxied(ep(
                "GET",
                &format!("{lxc}/config"),
                with_node_vmid(vec![
                    b("current"),
                    s("snapshot").opt().len(40).fmt("pve-configid"),
                ]),
            )),
            |c| data(config::lxc_config(c)),
        ),
        route(
            proxied(ep(
                "PUT",
                &format!("{lxc}/config"),
                with_node_vmid(lxc_config_params()),
            )),
            |c| data(config::lxc_update(c)),
        ),
        route(
            proxied(ep(
                "GET",
                &format!("{lxc}/interfaces"),
                with_node_vmid(vec![]),
            )),
            |c| data(guests::lxc_interfaces(c)),
        ),
        route(
            ep("POST", &format!("{lxc}/termproxy"), with_node_vmid(vec![])),
            |c| data(term::lxc_termproxy(c)),
        ),
        route(
            ep(
                "GET",
                &format!("{lxc}/vncwebsocket"),
                with_node_vmid(vec![
                    int("port").min(5900.0).max(5999.0),
                    s("vncticket").len(512),
                ]),
            ),
            |c| data(term::vncwebsocket(c, Some(GuestKind::Lxc))),
        ),
        route(
            ep(
                "GET",
                &format!("{lxc}/rrddata"),
                with_node_vmid(vec![
                    s("cf").opt().en(&["AVERAGE", "MAX"]),
                    s("timeframe").en(&["hour", "day", "week", "month", "year"]),
                ]),
            ),
            |c| data(rrd::lxc_rrddata(c)),
        ),
        route(
            proxied(ep(
                "GET",
                "/nodes/{node}/tasks/{upid}/status",
                vec![node(), s("upid")],
            )),
            |c| data(tasks::status(c)),
        ),
        route(
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
            tasks::log,
        ),
        route(
            proxied(ep("GET", "/nodes/{node}/qemu", vec![b("full"), node()])),
            |c| data(guests::qemu_list(c)),
        ),
        route(
            proxied(ep(
                "GET",
                &format!("{qemu}/status/current"),
                with_node_vmid(vec![]),
            )),
            |c| data(guests::qemu_current(c)),
        ),
    ]);
    v.extend(power_routes(GuestKind::Qemu));
    v.extend([
        route(
            proxied(ep(
                "GET",
                &format!("{qemu}/config"),
                with_node_vmid(vec![
                    b("current"),
                    s("snapshot").opt().len(40).fmt("pve-configid"),
                ]),
            )),
            |c| data(config::qemu_config(c)),
        ),
        route(
            proxied(ep(
                "GET",
                &format!("{qemu}/agent/network-get-interfaces"),
                with_node_vmid(vec![]),
            )),
            |c| data(agent::network_get_interfaces(c)),
        ),
    ]);
    v.extend(access_routes());
    for r in &mut v {
        r.rule.params.sort_by(|a, b| a.name.cmp(&b.name));
    }
    v
}

/// The token name pattern of pve-access-control (`token-subid`, the realm regex).
const TOKEN_SUBID: &str = "(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+)";
/// `$PVE::AccessControl::userid_or_token_regex`.
const USERID_OR_TOKEN: &str = "(?^:^(?^:[^\\s:/]+)\\@(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+)(?:!(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+))?$)";

/// Access control: API tokens (pve-access-control src/PVE/API2/User.pm), roles
/// (src/PVE/API2/Role.pm), ACLs (src/PVE/API2/ACL.pm), effective permissions
/// (src/PVE/API2/AccessControl.pm) and the pool list (pve-manager PVE/API2/Pool.pm).
fn access_routes() -> Vec<Route> {
    let userid = || s("userid").len(64).fmt("pve-userid");
    let tokenid = || s("tokenid").pattern(TOKEN_SUBID);
    let token = "/access/users/{userid}/token/{tokenid}";
    let roleid = || s("roleid").fmt("pve-roleid");
    vec![
        route(
            ep("GET", "/access/users/{userid}/token", vec![userid()]),
            |c| data(tokens::list(c)),
        ),
        route(ep("GET", token, vec![tokenid(), userid()]), |c| {
            data(tokens::read(c))
        }),
        route(
            ep(
                "POST",
                token,
                vec![
                    s("comment").opt(),
                    int("expire").opt().min(0.0),
                    b("privsep"),
                    tokenid(),
                    userid(),
                ],
            ),
            |c| data(tokens::create(c)),
        ),
        route(
            ep(
                "PUT",
                token,
                vec![
                    s("comment").opt(),
                    s("delete").opt().fmt("pve-configid-list"),
                    int("expire").opt().min(0.0),
                    b("privsep"),
                    tokenid(),
                    userid(),
                ],
            ),
            |c| data(tokens::update(c)),
        ),
        route(ep("DELETE", token, vec![tokenid(), userid()]), |c| {
            data(tokens::remove(c))
        }),
        route(ep("GET", "/access/roles", vec![]), |c| data(roles::list(c))),
        route(
            ep(
                "POST",
                "/access/roles",
                vec![s("privs").opt().fmt("pve-priv-list"), roleid()],
            ),
            |c| data(roles::create(c)),
        ),
        route(ep("GET", "/access/roles/{roleid}", vec![roleid()]), |c| {
            data(roles::read(c))
        }),
        route(
            ep(
                "PUT",
                "/access/roles/{roleid}",
                vec![
                    b("append").requires("privs"),
                    s("privs").opt().fmt("pve-priv-list"),
                    roleid(),
                ],
            ),
            |c| data(roles::update(c)),
        ),
        route(
            ep("DELETE", "/access/roles/{roleid}", vec![roleid()]),
            |c| data(roles::remove(c)),
        ),
        route(ep("GET", "/access/acl", vec![]), |c| data(acls::list(c))),
        route(
            ep(
                "PUT",
                "/access/acl",
                vec![
                    b("delete"),
                    s("groups").opt().fmt("pve-groupid-list"),
                    s("path"),
                    b("propagate"),
                    s("roles").fmt("pve-roleid-list"),
                    s("tokens").opt().fmt("pve-tokenid-list"),
                    s("users").opt().fmt("pve-userid-list"),
                ],
            ),
            |c| data(acls::update(c)),
        ),
        route(
            ep(
                "GET",
                "/access/permissions",
                vec![s("path").opt(), s("userid").opt().pattern(USERID_OR_TOKEN)],
            ),
            |c| data(acls::permissions(c)),
        ),
        route(
            ep(
                "GET",
                "/pools",
                vec![
                    s("poolid").opt().fmt("pve-poolid"),
                    s("type")
                        .opt()
                        .en(&["qemu", "lxc", "storage"])
                        .requires("poolid"),
                ],
            ),
            |c| data(pools::list(c)),
        ),
    ]
}
