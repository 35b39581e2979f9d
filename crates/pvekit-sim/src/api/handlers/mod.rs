//! Handlers, one module per API area; [`dispatch`] picks one by method and path template.
//!
//! Handlers build their answers from the model with `serde_json`, in the exact types the real
//! server emits (0/1 integers for booleans, some numbers as strings).

mod access;
mod agent;
mod cluster;
mod config;
mod guests;
mod nodes;
mod power;
mod rrd;
mod tasks;
mod term;

use serde_json::Value;

use super::Call;
use crate::error::ApiError;
use crate::model::Kind;
use crate::rules::EndpointRule;

/// A handler's answer: `data` plus the optional top-level `total` (task log).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub data: Value,
    pub total: Option<u64>,
}

/// The pve-manager version the simulator claims.
pub(crate) const PVE_VERSION: &str = "9.1.2";
/// Its release.
pub(crate) const PVE_RELEASE: &str = "9.1";
/// Its short git revision.
pub(crate) const PVE_REPOID: &str = "9e1b7a3c5f2d0c84";

/// Runs the handler of a validated call, after finishing the tasks that are due.
pub(crate) fn dispatch(call: &Call<'_>, rule: &EndpointRule, rel: &str) -> Result<Reply, ApiError> {
    call.state.settle();
    if rule.method == "GET" && rule.path == "/nodes/{node}/tasks/{upid}/log" {
        return tasks::log(call);
    }
    route(call, rule, rel).map(|data| Reply { data, total: None })
}

fn route(call: &Call<'_>, rule: &EndpointRule, rel: &str) -> Result<Value, ApiError> {
    let lxc_action = "/nodes/{node}/lxc/{vmid}/status/";
    let qemu_action = "/nodes/{node}/qemu/{vmid}/status/";
    match (rule.method.as_str(), rule.path.as_str()) {
        ("GET", "/version") => Ok(serde_json::json!({
            "version": PVE_VERSION,
            "release": PVE_RELEASE,
            "repoid": PVE_REPOID,
        })),
        ("GET", "/access/ticket") => Ok(Value::Null),
        ("POST", "/access/ticket") => access::create_ticket(call),
        ("GET", "/cluster/status") => cluster::status(call),
        ("GET", "/cluster/resources") => cluster::resources(call),
        ("GET", "/nodes") => nodes::list(call),
        ("GET", "/nodes/{node}/status") => nodes::status(call),
        ("GET", "/nodes/{node}/lxc") => guests::lxc_list(call),
        ("GET", "/nodes/{node}/lxc/{vmid}/status/current") => guests::lxc_current(call),
        ("GET", "/nodes/{node}/lxc/{vmid}/config") => config::lxc_config(call),
        ("PUT", "/nodes/{node}/lxc/{vmid}/config") => config::lxc_update(call, rule),
        ("GET", "/nodes/{node}/lxc/{vmid}/interfaces") => guests::lxc_interfaces(call),
        ("GET", "/nodes/{node}/lxc/{vmid}/rrddata") => rrd::lxc_rrddata(call),
        ("GET", "/nodes/{node}/qemu") => guests::qemu_list(call),
        ("GET", "/nodes/{node}/qemu/{vmid}/status/current") => guests::qemu_current(call),
        ("GET", "/nodes/{node}/qemu/{vmid}/config") => config::qemu_config(call),
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces") => {
            agent::network_get_interfaces(call)
        }
        ("POST", p) if p.starts_with(lxc_action) => power::action(call, Kind::Lxc, rel),
        ("POST", p) if p.starts_with(qemu_action) => power::action(call, Kind::Qemu, rel),
        ("GET", "/nodes/{node}/tasks/{upid}/status") => tasks::status(call),
        ("POST", "/nodes/{node}/termproxy") => term::node_termproxy(call),
        ("POST", "/nodes/{node}/lxc/{vmid}/termproxy") => term::lxc_termproxy(call),
        ("GET", "/nodes/{node}/vncwebsocket") => term::vncwebsocket(call, None),
        ("GET", "/nodes/{node}/lxc/{vmid}/vncwebsocket") => {
            term::vncwebsocket(call, Some(Kind::Lxc))
        }
        ("GET", "/nodes/{node}/journal") => term::journal(call),
        // Known methods whose behaviour comes later: their parameters are already validated.
        (method, _) => Err(ApiError::not_implemented(method, rel)),
    }
}

/// A JSON number: an integer when the value has no fraction, else rounded to 4 places.
pub(crate) fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        Value::from(x as i64)
    } else {
        Value::from((x * 10_000.0).round() / 10_000.0)
    }
}

/// A Perl boolean: 0 or 1.
pub(crate) fn b01(b: bool) -> Value {
    Value::from(u8::from(b))
}
