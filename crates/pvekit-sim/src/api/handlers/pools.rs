//! GET /pools: pve-manager PVE/API2/Pool.pm `index`.
//!
//! Without `poolid`: the pools where the caller has `Pool.Audit` on `/pool/<pool>`, by name,
//! each `{poolid, comment?}`. With `poolid`: that pool with its `members` (its guests as
//! cluster/resources shows them, optionally only one `type`); as in Proxmox VE, that read
//! checks no privilege. Pools come from [`crate::SimControl::add_pool`]; they hold guests
//! only (no storage).

use serde_json::{Value, json};

use super::cluster::guest_item;
use crate::api::Call;
use crate::error::ApiError;

/// GET /pools.
pub(crate) fn list(call: &Call<'_>) -> Result<Value, ApiError> {
    let cfg = call.state.auth.cfg();
    let Some(poolid) = call.str("poolid") else {
        return Ok(Value::Array(
            cfg.pools
                .iter()
                .filter(|(name, _)| call.can(&format!("/pool/{name}"), "Pool.Audit"))
                .map(|(name, p)| {
                    let mut entry = json!({ "poolid": name });
                    if let Some(c) = &p.comment {
                        entry["comment"] = Value::from(c.clone());
                    }
                    entry
                })
                .collect(),
        ));
    };
    let pool = cfg
        .pools
        .get(&poolid)
        .ok_or_else(|| ApiError::internal(format!("pool '{poolid}' does not exist\n")))?;
    let want = call.str("type");
    let model = call.state.model();
    let now = call.state.clock.now_f64();
    // `sort keys`: VMIDs in string order.
    let mut vmids: Vec<String> = pool.vms.iter().map(u32::to_string).collect();
    vmids.sort();
    let members: Vec<Value> = vmids
        .iter()
        .filter_map(|v| v.parse().ok().and_then(|v: u32| model.guests.get(&v)))
        .filter(|g| want.as_deref().is_none_or(|t| t == g.kind.as_str()))
        .map(|g| guest_item(&model, g, now))
        .collect();
    let mut entry = json!({ "members": members, "poolid": poolid });
    if let Some(c) = &pool.comment {
        entry["comment"] = Value::from(c.clone());
    }
    Ok(json!([entry]))
}
