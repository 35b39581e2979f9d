//! Typed shapes of the API responses pvekit reads.
//!
//! Fields that Proxmox VE leaves out depending on state are `Option`s or default to zero; every
//! numeric field is read leniently (see [`crate::perl`]). Unknown fields are ignored, so newer
//! servers that add fields keep working.

mod cluster;
mod guest;
mod node;
mod rrd;
mod storage;
mod version;

pub use cluster::{
    ClusterInfo, ClusterNode, ClusterResource, ClusterStatusItem, ResourceKind, ResourceStatus,
    ResourceType,
};
pub use guest::{GuestKind, GuestStatus, LxcInterface, LxcIpAddress, RunState};
pub use node::{CpuInfo, MemoryInfo, NodeListItem, NodeStatus, RootFsInfo};
pub use rrd::{RrdCf, RrdPoint, RrdTimeframe};
pub use storage::StorageResource;
pub use version::Version;
