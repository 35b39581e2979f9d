//! Handlers, one module per API area; the route table ([`super::routes`]) names each
//! method's handler next to its parameter rule.
//!
//! Handlers build their answers from the model with `serde_json`, in the exact types the real
//! server emits (0/1 integers for booleans, some numbers as strings).

pub(crate) mod access;
pub(crate) mod acls;
pub(crate) mod agent;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod guests;
pub(crate) mod nodes;
pub(crate) mod pools;
pub(crate) mod power;
pub(crate) mod roles;
pub(crate) mod rrd;
pub(crate) mod tasks;
pub(crate) mod term;
pub(crate) mod tokens;

use serde_json::Value;

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
