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
/// The string type of [`ClusterResource`]'s fields: up to 24 bytes are stored inline, so the
/// ids, names and node names of thousands of guests need no heap allocation each. It derefs to
/// `str`; build one with `.into()` from a `&str` or a `String`.
pub use compact_str::CompactString;
pub use guest::{GuestKind, GuestStatus, LxcInterface, LxcIpAddress, RunState};
pub use node::{CpuInfo, MemoryInfo, NodeListItem, NodeStatus, RootFsInfo};
pub use rrd::{RrdCf, RrdPoint, RrdTimeframe};
pub use storage::StorageResource;
pub use version::Version;
