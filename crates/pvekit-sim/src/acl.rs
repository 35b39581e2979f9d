//! Roles, privileges and ACLs, computed the way pve-access-control does.
//!
//! - The built-in roles come from privilege groups: each category (VM, Sys, ...) has `root`,
//!   `admin`, `user` and `audit` privileges; `PVE<Cat>Admin` and `PVEAdmin` get admin, user and
//!   audit ones, `PVE<Cat>User` user and audit ones (where the category has user privileges),
//!   `PVEAuditor` the audit ones; `Administrator` has all, `NoAccess` none.
//! - Custom roles, the ACL tree and how entries become privileges on a path (walked from `/`
//!   down, pools, tokens) live in [`crate::usercfg`].

use std::collections::BTreeSet;

use serde::Deserialize;

/// One privilege category: (name, root, admin, user, audit privileges).
type Category = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// The privilege groups of Proxmox VE 9 (pve-access-control src/PVE/AccessControl.pm
/// `$privgroups`; `Permissions.Modify` stands outside them).
const CATEGORIES: &[Category] = &[
    (
        "VM",
        &[],
        &[
            "VM.Config.Disk",
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.HWType",
            "VM.Config.Options",
            "VM.Allocate",
            "VM.Clone",
            "VM.GuestAgent.Unrestricted",
            "VM.Migrate",
            "VM.Replicate",
            "VM.Snapshot",
            "VM.Snapshot.Rollback",
        ],
        &[
            "VM.Config.CDROM",
            "VM.Config.Cloudinit",
            "VM.Console",
            "VM.Backup",
            "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.FileWrite",
            "VM.PowerMgmt",
        ],
        &["VM.Audit", "VM.GuestAgent.Audit"],
    ),
    (
        "Sys",
        &[
            "Sys.PowerMgmt",
            "Sys.Modify",
            "Sys.Incoming",
            "Sys.AccessNetwork",
        ],
        &["Sys.Console", "Sys.Syslog"],
        &[],
        &["Sys.Audit"],
    ),
    (
        "Datastore",
        &[],
        &["Datastore.Allocate", "Datastore.AllocateTemplate"],
        &["Datastore.AllocateSpace"],
        &["Datastore.Audit"],
    ),
    (
        "SDN",
        &[],
        &["SDN.Allocate", "SDN.Audit"],
        &["SDN.Use"],
        &["SDN.Audit"],
    ),
    (
        "User",
        &["Realm.Allocate"],
        &["User.Modify", "Group.Allocate", "Realm.AllocateUser"],
        &[],
        &[],
    ),
    (
        "Pool",
        &[],
        &["Pool.Allocate"],
        &["Pool.Audit"],
        &["Pool.Audit"],
    ),
    (
        "Mapping",
        &[],
        &["Mapping.Modify"],
        &["Mapping.Use"],
        &["Mapping.Audit"],
    ),
];

/// A set of privilege names.
pub(crate) type Privs = BTreeSet<&'static str>;

/// Every privilege (the `Administrator` role).
pub(crate) fn all_privs() -> Privs {
    let mut out: Privs = CATEGORIES
        .iter()
        .flat_map(|(_, r, a, u, au)| r.iter().chain(*a).chain(*u).chain(*au).copied())
        .collect();
    out.insert("Permissions.Modify");
    out
}

/// The privileges of a built-in role; `None` for an unknown role.
pub(crate) fn role_privs(role: &str) -> Option<Privs> {
    let mut out = Privs::new();
    match role {
        "Administrator" => return Some(all_privs()),
        "NoAccess" => return Some(out),
        "PVEAuditor" => {
            for (_, _, _, _, audit) in CATEGORIES {
                out.extend(audit.iter().copied());
            }
        }
        "PVEAdmin" => {
            for (_, _, admin, user, audit) in CATEGORIES {
                out.extend(admin.iter().chain(*user).chain(*audit).copied());
            }
            out.remove("Mapping.Modify");
        }
        "PVETemplateUser" => {
            out.extend(["VM.Clone", "VM.Audit"]);
        }
        other => {
            let (cat, kind) = other.strip_prefix("PVE").and_then(|r| {
                r.strip_suffix("Admin")
                    .map(|c| (c, true))
                    .or_else(|| r.strip_suffix("User").map(|c| (c, false)))
            })?;
            let (_, _, admin, user, audit) = CATEGORIES.iter().find(|c| c.0 == cat)?;
            if kind {
                out.extend(admin.iter().chain(*user).chain(*audit).copied());
            } else if user.is_empty() {
                return None;
            } else {
                out.extend(user.iter().chain(*audit).copied());
            }
        }
    }
    Some(out)
}

/// One ACL entry of a user or token: a role on a path, inherited below it unless
/// `propagate` is false.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclEntry {
    /// The ACL path: `/`, `/vms/100`, `/nodes/pve1`, `/storage/local`, ...
    pub path: String,
    /// A built-in role name (`PVEAuditor`, `PVEVMUser`, `Administrator`, `NoAccess`, ...).
    pub role: String,
    /// Whether the role applies below the path too (default true, as in the web UI).
    #[serde(default = "yes")]
    pub propagate: bool,
}

fn yes() -> bool {
    true
}

/// The path's levels from the root: `/vms/100` gives `/`, `/vms`, `/vms/100`.
pub(crate) fn levels(path: &str) -> Vec<String> {
    let mut out = vec!["/".to_string()];
    let mut at = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at.push('/');
        at.push_str(part);
        out.push(at.clone());
    }
    out
}

/// The names of the built-in roles (pve-access-control src/PVE/AccessControl.pm
/// `create_roles`, plus `Administrator` and `NoAccess`), sorted.
pub(crate) fn builtin_roles() -> Vec<String> {
    let mut out: Vec<String> = [
        "Administrator",
        "NoAccess",
        "PVEAdmin",
        "PVEAuditor",
        "PVETemplateUser",
    ]
    .iter()
    .map(|r| r.to_string())
    .collect();
    for (cat, _, _, user, _) in CATEGORIES {
        out.push(format!("PVE{cat}Admin"));
        if !user.is_empty() {
            out.push(format!("PVE{cat}User"));
        }
    }
    out.sort();
    out
}

/// The privilege called `name`, when it is one (pve-access-control `verify_privname`).
pub(crate) fn priv_name(name: &str) -> Option<&'static str> {
    all_privs().into_iter().find(|p| *p == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_roles() {
        let auditor = role_privs("PVEAuditor").unwrap();
        assert!(auditor.contains("VM.Audit") && auditor.contains("Sys.Audit"));
        assert!(!auditor.contains("VM.PowerMgmt"));
        let vm_user = role_privs("PVEVMUser").unwrap();
        assert!(vm_user.contains("VM.PowerMgmt") && vm_user.contains("VM.Console"));
        assert!(!vm_user.contains("VM.Config.Options"));
        let vm_admin = role_privs("PVEVMAdmin").unwrap();
        assert!(vm_admin.contains("VM.Config.Options") && vm_admin.contains("VM.PowerMgmt"));
        assert!(role_privs("PVESysAdmin").unwrap().contains("Sys.Console"));
        assert!(!role_privs("PVEAdmin").unwrap().contains("Mapping.Modify"));
        assert!(!role_privs("PVEAdmin").unwrap().contains("Sys.Modify"));
        assert!(
            role_privs("Administrator")
                .unwrap()
                .contains("Permissions.Modify")
        );
        // Sys has no user privileges, so there is no PVESysUser.
        assert_eq!(role_privs("PVESysUser"), None);
        assert_eq!(role_privs("Nope"), None);
        let all = builtin_roles();
        assert_eq!(all.len(), 17, "{all:?}");
        assert!(all.iter().all(|r| role_privs(r).is_some()));
    }
}
