use serde::{Deserialize, Serialize};

/// `GET /version`: the pve-manager version of the answering node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Version {
    /// Full version, such as `9.2.11`.
    pub version: String,
    /// Point release, such as `9.2`.
    pub release: String,
    /// Short git revision of the build.
    pub repoid: String,
    /// Default console viewer, when set in datacenter.cfg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<String>,
}

impl Version {
    /// The `(major, minor, patch)` numbers of `version`, missing parts as 0.
    pub fn numbers(&self) -> (u32, u32, u32) {
        let mut it = self
            .version
            .split(['.', '-', '~'])
            .map(|p| p.parse().unwrap_or(0));
        (
            it.next().unwrap_or(0),
            it.next().unwrap_or(0),
            it.next().unwrap_or(0),
        )
    }
}
