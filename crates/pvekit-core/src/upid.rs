//! UPIDs: the ids of Proxmox VE worker tasks.
//!
//! `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` with a trailing colon. `pid`,
//! `pstart` and `starttime` are hex (8 digits, `pstart` may grow to 9); `id` may be empty; `user`
//! may be a token id.

use std::fmt;
use std::str::FromStr;

/// A parsed task id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upid {
    /// The node the task runs on.
    pub node: String,
    /// The worker's process id.
    pub pid: u32,
    /// The worker's process start time, in clock ticks since boot.
    pub pstart: u64,
    /// The task's start time, unix seconds.
    pub starttime: u64,
    /// The worker type, such as `vzstart`.
    pub worker_type: String,
    /// The object the task acts on (usually the VMID); may be empty.
    pub id: String,
    /// The user or token id that started the task.
    pub user: String,
}

/// Why a UPID could not be parsed. The text matches the server's own complaint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse worker upid '{0}'")]
pub struct UpidError(pub String);

impl FromStr for Upid {
    type Err = UpidError;

    fn from_str(s: &str) -> Result<Self, UpidError> {
        let err = || UpidError(s.to_string());
        let rest = s.strip_prefix("UPID:").ok_or_else(err)?;
        let rest = rest.strip_suffix(':').ok_or_else(err)?;
        let parts: Vec<&str> = rest.splitn(7, ':').collect();
        let [node, pid, pstart, start, wtype, id, user] = parts[..] else {
            return Err(err());
        };
        let hex = |t: &str, max: usize| {
            if t.len() >= 8 && t.len() <= max && t.bytes().all(|c| c.is_ascii_hexdigit()) {
                u64::from_str_radix(t, 16).ok()
            } else {
                None
            }
        };
        let ok_word = |t: &str| !t.is_empty() && !t.contains(['/', ':', ' ', '\t', '\n']);
        if !crate::names::is_node_name(node) || !ok_word(wtype) || user.is_empty() {
            return Err(err());
        }
        if id.contains([':', '\n']) || user.contains([':', '\n', ' ']) {
            return Err(err());
        }
        Ok(Upid {
            node: node.to_string(),
            pid: hex(pid, 8).ok_or_else(err)? as u32,
            pstart: hex(pstart, 9).ok_or_else(err)?,
            starttime: hex(start, 8).ok_or_else(err)?,
            worker_type: wtype.to_string(),
            id: id.to_string(),
            user: user.to_string(),
        })
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UPID:{}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            self.node, self.pid, self.pstart, self.starttime, self.worker_type, self.id, self.user
        )
    }
}

impl serde::Serialize for Upid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Upid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_real_examples() {
        let u: Upid = "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:"
            .parse()
            .unwrap();
        assert_eq!(u.node, "pve1");
        assert_eq!(u.pid, 0x2A1F3);
        assert_eq!(u.worker_type, "vzstart");
        assert_eq!(u.id, "101");
        assert_eq!(
            u.to_string(),
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:"
        );
        let shell: Upid = "UPID:pve:00001234:00ABCDEF1:66F1A2B3:vncshell::root@pam!tok:"
            .parse()
            .unwrap();
        assert_eq!(shell.id, "");
        assert_eq!(shell.user, "root@pam!tok");
        assert_eq!(shell.pstart, 0xABCDEF1);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam",
            "UPID:pve1:XYZ:01B2C3D4:66F1A2B3:vzstart:101:root@pam:",
            "UPID:pve_1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3::101:root@pam:",
            "TASK:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:",
        ] {
            assert!(bad.parse::<Upid>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(pid in any::<u32>(), pstart in 0u64..0xF_FFFF_FFFF, start in 0u64..0xFFFF_FFFF,
                       id in "[0-9]{0,9}", node in "[a-z][a-z0-9]{0,10}") {
            let u = Upid { node, pid, pstart, starttime: start, worker_type: "vzstop".into(),
                           id, user: "root@pam".into() };
            prop_assert_eq!(u.to_string().parse::<Upid>().unwrap(), u);
        }

        #[test]
        fn never_panics(s in "UPID:.*") {
            let _ = s.parse::<Upid>();
        }
    }
}
