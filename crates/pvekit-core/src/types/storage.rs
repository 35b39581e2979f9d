use serde::{Deserialize, Serialize};

use super::ResourceStatus;

/// A `type: "storage"` item of `GET /cluster/resources` (`?type=storage`): one storage as
/// one node sees it.
///
/// A type of its own rather than more fields on [`super::ClusterResource`], which every
/// guest of the inventory carries. Source: pve-manager `PVE/API2Tools.pm`
/// (`extract_storage_stats`): `shared`, `plugintype` and `content` always, `disk` and
/// `maxdisk` only while the node has current RRD data for the storage (its status is then
/// `available`, else `unknown`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct StorageResource {
    /// `storage/<node>/<storage>`.
    pub id: String,
    /// The storage's id (`local`, `local-lvm`, ...).
    #[serde(default)]
    pub storage: String,
    /// The node that reports it.
    #[serde(default)]
    pub node: String,
    /// `available` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResourceStatus>,
    /// The storage plugin (`dir`, `lvmthin`, `zfspool`, `rbd`, `nfs`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugintype: Option<String>,
    /// Comma-separated content types (`images,rootdir`), in no stable order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Whether the storage is shared by the cluster's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    /// Bytes in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u64>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxdisk: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perl;

    #[test]
    fn storage_items_read_leniently() {
        let s: StorageResource = perl::from_value(serde_json::json!({
            "id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1",
            "plugintype": "dir", "content": "iso,backup", "shared": "0", "status": "available",
            "disk": "1024", "maxdisk": 4096
        }))
        .unwrap();
        assert_eq!(s.shared, Some(false));
        assert_eq!((s.disk, s.maxdisk), (Some(1024), Some(4096)));
        assert_eq!(s.status, Some(ResourceStatus::Available));
        let s: StorageResource = perl::from_value(serde_json::json!({
            "id": "storage/pve2/nfs", "type": "storage", "status": "unknown", "shared": 1
        }))
        .unwrap();
        assert_eq!(s.shared, Some(true));
        assert_eq!(s.disk, None);
    }
}
