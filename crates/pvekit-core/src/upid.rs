//! UPIDs: the ids of Proxmox VE worker tasks.
//!
//! `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` with a trailing colon. `pid`,
//! `pstart` and `starttime` are hex (8 digits, `pstart` may grow to 9); `id` may be empty; `user`
//! may be a token id.
//!
//! The reference is pve-common's `src/PVE/UPID.pm` (which `PVE::Tools::upid_encode` and
//! `upid_decode` call): `encode` prints
//! `sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, pid, pstart, starttime, type, id, user)`,
//! and `decode` accepts
//!
//! ```text
//! ^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):
//!      ([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$
//! ```
//!
//! [`Upid::from_str`](std::str::FromStr) is a client's parser and lenient: it reads any UPID a
//! server may hand out (the worker type, id and user may hold a `/` or a space, which `decode`
//! would refuse). [`Upid::parse_strict`] accepts exactly what `decode` accepts, for code that
//! must answer as the server does (the simulator). [`Display`](fmt::Display) prints what
//! `encode` prints.

use std::fmt;
use std::str::FromStr;

/// A parsed task id. Its text form (`Display`) is the one the server prints.
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
        if !is_upid_node(node) || !ok_word(wtype) || user.is_empty() {
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

/// The node part of `decode`'s pattern: a DNS label, `[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?`,
/// but without a length limit (unlike [`crate::names::is_node_name`]), so that the lenient
/// parser accepts every UPID the server does.
fn is_upid_node(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

impl Upid {
    /// Parses exactly what Proxmox VE's own `PVE::UPID::decode` accepts (its pattern is in the
    /// [module docs](self)): on top of the lenient [`FromStr`] rules, the worker type, id and
    /// user hold no `:`, `/` or whitespace (Perl's `\s` under `use v5.36`, that is Unicode
    /// white space). Perl's `$` also matches before a final newline, so one trailing `\n` is
    /// accepted too (the text with it names no task file, though).
    pub fn parse_strict(s: &str) -> Result<Upid, UpidError> {
        let body = s.strip_suffix('\n').unwrap_or(s);
        let upid: Upid = body.parse().map_err(|_| UpidError(s.to_string()))?;
        let plain = |f: &str| !f.contains(|c: char| c == ':' || c == '/' || c.is_whitespace());
        if plain(&upid.worker_type) && plain(&upid.id) && plain(&upid.user) {
            Ok(upid)
        } else {
            Err(UpidError(s.to_string()))
        }
    }
}

/// `PVE::UPID::encode`: upper-case hex, zero-padded to 8 digits (a `pstart` past 32 bits, after
/// about 497 days of uptime, prints 9).
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

    /// The cases of pve-common's `test/upid-test.pl`.
    #[test]
    fn pve_common_test_cases() {
        let cases = [
            (
                "UPID:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam:",
                (
                    "example-node",
                    49990,
                    375000292,
                    1758930844,
                    "aptupdate",
                    "",
                    "root@pam",
                ),
            ),
            (
                "UPID:example-node:000934AF:0D015579:68BF3A41:hastart:100:root@pam:",
                (
                    "example-node",
                    603311,
                    218191225,
                    1757362753,
                    "hastart",
                    "100",
                    "root@pam",
                ),
            ),
            (
                "UPID:example-node:000934AF:0D015579:68BF3A41:vzdump:100:\
                 91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token:",
                (
                    "example-node",
                    603311,
                    218191225,
                    1757362753,
                    "vzdump",
                    "100",
                    "91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token",
                ),
            ),
            (
                "UPID:example-node:000934AF:FFFFFFFFF:68BF3A41:fake-but-valid-type:100:root@pam:",
                (
                    "example-node",
                    603311,
                    68719476735,
                    1757362753,
                    "fake-but-valid-type",
                    "100",
                    "root@pam",
                ),
            ),
        ];
        for (text, (node, pid, pstart, starttime, worker_type, id, user)) in cases {
            let want = Upid {
                node: node.into(),
                pid,
                pstart,
                starttime,
                worker_type: worker_type.into(),
                id: id.into(),
                user: user.into(),
            };
            assert_eq!(Upid::parse_strict(text).as_ref(), Ok(&want), "{text}");
            assert_eq!(text.parse::<Upid>().as_ref(), Ok(&want), "{text}");
            assert_eq!(want.to_string(), text);
        }
        for bad in [
            "UPID:example-node:000934AF:0D015579:68BF3A41:broken type string:100:root@pam:",
            "invalid garbage",
        ] {
            assert!(Upid::parse_strict(bad).is_err(), "{bad}");
            assert!(bad.parse::<Upid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn strict_refuses_what_decode_refuses() {
        let base = "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:";
        assert!(Upid::parse_strict(base).is_ok());
        // Perl's `$` matches before a final newline.
        assert_eq!(
            Upid::parse_strict(&format!("{base}\n")),
            Upid::parse_strict(base)
        );
        // Lower-case hex and a 9-digit pstart are fine.
        assert!(
            Upid::parse_strict("UPID:pve1:0002a1f3:101b2c3d4:66f1a2b3:vncshell::root@pam:").is_ok()
        );
        // A node name longer than a DNS label: decode's pattern has no length limit.
        let long = format!(
            "UPID:{}:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:",
            "n".repeat(70)
        );
        assert!(Upid::parse_strict(&long).is_ok());
        assert!(long.parse::<Upid>().is_ok());
        // The lenient parser reads a `/` or a space in the id or user; decode does not.
        for lenient_only in [
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:imgcopy:local/iso:root@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:1 01:root@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam/x:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root\t@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vz\rstart:101:root@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:\u{a0}:root@pam:",
        ] {
            assert!(lenient_only.parse::<Upid>().is_ok(), "{lenient_only:?}");
            let err = Upid::parse_strict(lenient_only).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("unable to parse worker upid '{lenient_only}'")
            );
        }
        for bad in [
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam",
            "UPID:pve1:2A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3::101:root@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101::",
            "UPID:-x:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:\n\n",
            "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:vzstart:101:root@pam:x:",
        ] {
            assert!(Upid::parse_strict(bad).is_err(), "{bad:?}");
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
        fn strict_round_trips(pid in any::<u32>(), pstart in 0u64..0xF_FFFF_FFFF,
                              start in 0u64..0xFFFF_FFFF, id in "[0-9]{0,9}",
                              node in "[a-z]([a-z0-9-]{0,70}[a-z0-9])?",
                              wtype in "[a-z][a-z0-9-]{0,12}", user in "[a-z]{1,8}@pam(![a-z]{2,8})?") {
            let u = Upid { node, pid, pstart, starttime: start, worker_type: wtype, id, user };
            prop_assert_eq!(Upid::parse_strict(&u.to_string()), Ok(u));
        }

        /// Whatever the server accepts, the client reads.
        #[test]
        fn strict_implies_lenient(s in "UPID:[a-z0-9-]{1,4}:[0-9a-fA-F]{8}:[0-9a-fA-F]{8,9}:\
                                        [0-9a-fA-F]{8}:[^:]{0,5}:[^:]{0,5}:[^:]{0,5}:\n?") {
            if let Ok(u) = Upid::parse_strict(&s) {
                prop_assert_eq!(s.trim_end_matches('\n').parse::<Upid>(), Ok(u));
            }
        }

        #[test]
        fn never_panics(s in "UPID:.*") {
            let _ = s.parse::<Upid>();
            let _ = Upid::parse_strict(&s);
        }
    }
}
