//! Changes to the cluster while the simulator runs (behind [`crate::SimControl`]).
//!
//! Each change keeps the model's indexes consistent (`node_index`, `by_node` in VMID order),
//! so every endpoint sees it at the next request. Nodes and guests added here are built
//! exactly as a scenario's would be ([`ScenarioNode`], [`ScenarioGuest`]), with their seeds
//! derived from the simulator's seed and their position or VMID.

use super::scenario::{ScenarioGuest, ScenarioNode};
use super::{Guest, Model};
use crate::control::ControlError;
use crate::services::ServiceError;

impl Model {
    /// Adds a node at the end of the node list, with the next corosync node id; the
    /// corosync config version goes up as when a node joins.
    pub fn add_node(&mut self, n: &ScenarioNode, now: i64) -> Result<(), ControlError> {
        if self.cluster_name.is_none() {
            return Err(ControlError::Standalone);
        }
        if !pvekit_core::names::is_node_name(&n.name) {
            return Err(ControlError::Invalid(format!(
                "invalid node name '{}'",
                n.name
            )));
        }
        if self.node_index.contains_key(&n.name) {
            return Err(ControlError::NodeExists(n.name.clone()));
        }
        let index = self.nodes.len();
        let nodeid = self.nodes.iter().map(|n| n.nodeid).max().unwrap_or(0) + 1;
        let node = n.to_node(index, nodeid, self.seed, now);
        self.node_index.insert(node.name.clone(), index);
        self.nodes.push(node);
        self.config_version += 1;
        Ok(())
    }

    /// Takes a node offline or brings it back. The node that answers the API cannot go
    /// offline. Its guests keep their state (as behind a network partition); while it is
    /// offline they show as `unknown` and calls proxied to it fail with 595.
    pub fn set_online(&mut self, name: &str, online: bool) -> Result<(), ControlError> {
        let &i = self
            .node_index
            .get(name)
            .ok_or_else(|| ControlError::UnknownNode(name.to_string()))?;
        if i == self.local && !online {
            return Err(ControlError::LocalNode(name.to_string()));
        }
        self.nodes[i].online = online;
        Ok(())
    }

    /// Adds a guest on an existing node; `now_ms` is the simulator clock. Its services (a
    /// test fixture) are checked first, for a typed error: a loopback address, and no address
    /// and port another guest declares.
    pub fn add_guest(&mut self, g: &ScenarioGuest, now_ms: i64) -> Result<(), ControlError> {
        if let Some(addr) = g.check_services()? {
            for s in &g.services {
                if let Some(other) = self.service_user(addr, s.port) {
                    return Err(ServiceError::Clash {
                        vmid: g.vmid,
                        other,
                        addr,
                        port: s.port,
                    }
                    .into());
                }
            }
        }
        g.check().map_err(ControlError::Invalid)?;
        if self.guests.contains_key(&g.vmid) {
            return Err(ControlError::GuestExists(g.vmid));
        }
        if !self.node_index.contains_key(&g.node) {
            return Err(ControlError::UnknownNode(g.node.clone()));
        }
        let guest = g.to_guest(self.seed, now_ms);
        let ids = self.by_node.entry(guest.node.clone()).or_default();
        let at = ids.partition_point(|&v| v < guest.vmid);
        ids.insert(at, guest.vmid);
        if !guest.services.is_empty() {
            self.service_guests.insert(guest.vmid);
        }
        self.guests.insert(guest.vmid, guest);
        Ok(())
    }

    /// The guest that declares a service on `addr` and `port` (at its current address).
    fn service_user(&self, addr: std::net::Ipv4Addr, port: u16) -> Option<u32> {
        self.service_guests.iter().copied().find(|id| {
            self.guests.get(id).is_some_and(|g| {
                crate::services::guest_address(g) == Some(addr)
                    && g.services.iter().any(|s| s.port == port)
            })
        })
    }

    /// Removes a guest, whatever its state (as if destroyed elsewhere); tasks of it that are
    /// still running end without effect. Returns the removed guest.
    pub fn remove_guest(&mut self, vmid: u32) -> Result<Guest, ControlError> {
        let g = self
            .guests
            .remove(&vmid)
            .ok_or(ControlError::UnknownGuest(vmid))?;
        if let Some(ids) = self.by_node.get_mut(&g.node) {
            ids.retain(|&v| v != vmid);
        }
        self.service_guests.remove(&vmid);
        Ok(g)
    }
}
