//! Access control: API tokens, roles, ACLs and effective privileges, to set up a
//! least-privilege token ([`Access::setup_token`]) and to check what a login may do
//! ([`Access::permissions`], [`Feature`]).
//!
//! Privilege names and where each API call checks them come from Proxmox VE's own code:
//! pve-access-control `src/PVE/AccessControl.pm` (privileges), `src/PVE/API2/User.pm`
//! (tokens), `src/PVE/API2/Role.pm`, `src/PVE/API2/ACL.pm`, and the `permissions` of each
//! endpoint in the API schema (pve-manager, pve-container, qemu-server).
//!
//! ```no_run
//! # async fn demo(admin: pvekit::Client) -> Result<(), pvekit::Error> {
//! use pvekit::access::{Role, TokenSetup};
//! let token = admin
//!     .access()
//!     .setup_token(&TokenSetup::new("root@pam", "pvekit", Role::Viewer))
//!     .await?;
//! println!("token {} created; store its secret now", token.full_id);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use pvekit_core::path::api_path;
use secrecy::SecretString;
use serde::Deserialize;

use crate::client::Client;
use crate::error::{Error, Result};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Lists, stats, history, lookups, the inventory and watching.
    Viewer,
    /// A viewer that may also run power actions and set a container's shutdown timeout.
    Operator,
}

impl Role {
    /// The custom role pvekit creates for it. Custom role ids may not start with `PVE` in
    /// any case (pve-access-control `Role.pm`), so not with `Pvekit` either.
    pub fn role_id(self) -> &'static str {
        match self {
            Role::Viewer => "ViewerPvekit",
            Role::Operator => "OperatorPvekit",
        }
    }

    /// Exactly the privileges the role needs on a server of `major` version: Proxmox VE 9
    /// split `VM.Monitor` into `VM.GuestAgent.*` (a VM's addresses come from its agent).
    pub fn privileges(self, major: u32) -> Vec<&'static str> {
        let agent = if major >= 9 {
            "VM.GuestAgent.Audit"
        } else {
            "VM.Monitor"
        };
        let mut p = vec!["Sys.Audit", "Sys.Syslog", "VM.Audit", agent, "Pool.Audit"];
        if self == Role::Operator {
            p.extend(["VM.PowerMgmt", "VM.Config.Options"]);
        }
        p.sort_unstable();
        p
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            other => Err(format!("unknown role '{other}' (viewer or operator)")),
        }
    }
}

/// What [`Access::setup_token`] creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSetup {
    /// The user the token belongs to, such as `root@pam`.
    pub userid: String,
    /// The token's name (`pvekit` gives `root@pam!pvekit`).
    pub tokenid: String,
    /// What the token may do.
    pub role: Role,
    /// Where: `/` (the default), or a pool (`/pool/NAME`) or any ACL path.
    pub path: String,
    /// Delete an existing token of that name first (a new secret).
    pub replace: bool,
}

impl TokenSetup {
    /// A token for `userid` named `tokenid` with `role` on `/`.
    pub fn new(userid: &str, tokenid: &str, role: Role) -> Self {
        TokenSetup {
            userid: userid.into(),
            tokenid: tokenid.into(),
            role,
            path: "/".into(),
            replace: false,
        }
    }
}

/// A token just created: its secret is shown only once by the server.
#[derive(Clone)]
pub struct NewToken {
    /// `user@realm!name`.
    pub full_id: String,
    /// The secret.
    pub secret: SecretString,
    /// Whether a token of that name was deleted first.
    pub replaced: bool,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("full_id", &self.full_id)
            .field("secret", &"[redacted]")
            .field("replaced", &self.replaced)
            .finish()
    }
}

/// One of the user's tokens, as `GET /access/users/{userid}/token` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenInfo {
    /// The token's name.
    pub tokenid: String,
    /// Whether its privileges are separate from its user's.
    #[serde(default)]
    pub privsep: bool,
    /// A comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Expiry (epoch seconds, 0 for never).
    #[serde(default)]
    pub expire: u64,
}

/// Privileges by ACL path, as `GET /access/permissions` answers: a privilege is granted when
/// it is listed; its value says whether it propagates below the path (pve-access-control
/// `AccessControl.pm`, `permissions`).
pub type Permissions = BTreeMap<String, BTreeMap<String, bool>>;

/// Access-control calls of a cluster (from [`Client::access`]).
#[derive(Debug, Clone)]
pub struct Access {
    client: Client,
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "full-tokenid")]
    full_tokenid: String,
    value: String,
}

#[derive(Deserialize)]
struct RoleInfo {
    roleid: String,
    #[serde(default)]
    privs: String,
}

impl Client {
    /// Access-control calls: tokens, roles, ACLs, permissions.
    pub fn access(&self) -> Access {
        Access {
            client: self.clone(),
        }
    }
}

impl Access {
    /// The user's tokens.
    ///
    /// # Errors
    /// Server errors (a user may list its own; others need `User.Modify`).
    pub async fn tokens(&self, userid: &str) -> Result<Vec<TokenInfo>> {
        self.client
            .get(&api_path(["access", "users", userid, "token"]))
            .await
    }

    /// Creates a token with privilege separation.
    ///
    /// # Errors
    /// Server errors, such as an existing token of that name.
    pub async fn create_token(
        &self,
        userid: &str,
        tokenid: &str,
        comment: &str,
    ) -> Result<NewToken> {
        let path = api_path(["access", "users", userid, "token", tokenid]);
        let created: Created = self
            .client
            .post(
                &path,
                &[("privsep", "1".into()), ("comment", comment.to_string())],
            )
            .await?;
        Ok(NewToken {
            full_id: created.full_tokenid,
            secret: created.value.into(),
            replaced: false,
        })
    }

    /// Deletes a token (its ACL entries go with it).
    ///
    /// # Errors
    /// Server errors, such as a token that does not exist.
    pub async fn delete_token(&self, userid: &str, tokenid: &str) -> Result<()> {
        let path = api_path(["access", "users", userid, "token", tokenid]);
        let _: serde_json::Value = self.client.delete(&path, &[]).await?;
        Ok(())
    }

    /// Creates the role with exactly `privs`, or sets an existing one to exactly them.
    ///
    /// # Errors
    /// Server errors (roles need `Sys.Modify` on `/access`).
    pub async fn ensure_role(&self, roleid: &str, privs: &[&str]) -> Result<()> {
        let roles: Vec<RoleInfo> = self.client.get("/access/roles").await?;
        let want = privs.join(",");
        match roles.iter().find(|r| r.roleid == roleid) {
            None => {
                let _: serde_json::Value = self
                    .client
                    .post(
                        "/access/roles",
                        &[("roleid", roleid.to_string()), ("privs", want.clone())],
                    )
                    .await?;
            }
            Some(r) => {
                let mut have: Vec<&str> = r.privs.split(',').filter(|p| !p.is_empty()).collect();
                have.sort_unstable();
                let mut wanted = privs.to_vec();
                wanted.sort_unstable();
                if have != wanted {
                    let path = api_path(["access", "roles", roleid]);
                    let _: serde_json::Value =
                        self.client.put(&path, &[("privs", want.clone())]).await?;
                }
            }
        }
        Ok(())
    }

    /// Grants `roleid` to the token `full_tokenid` on `path` (propagating below it).
    ///
    /// # Errors
    /// Server errors (granting needs `Permissions.Modify` on the path).
    pub async fn grant_token(&self, path: &str, roleid: &str, full_tokenid: &str) -> Result<()> {
        let _: serde_json::Value = self
            .client
            .put(
                "/access/acl",
                &[
                    ("path", path.to_string()),
                    ("roles", roleid.to_string()),
                    ("tokens", full_tokenid.to_string()),
                    ("propagate", "1".into()),
                ],
            )
            .await?;
        Ok(())
    }

    /// Creates a token with privilege separation and grants it the role's privileges on the
    /// path, creating or updating the role. With `replace`, an existing token of that name is
    /// deleted first; without it, an existing token is an error naming `replace`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an existing token without `replace`; server errors
    /// (creating roles needs `Sys.Modify` on `/access`, granting `Permissions.Modify`).
    pub async fn setup_token(&self, setup: &TokenSetup) -> Result<NewToken> {
        let existing = self.tokens(&setup.userid).await?;
        let exists = existing.iter().any(|t| t.tokenid == setup.tokenid);
        if exists && !setup.replace {
            return Err(Error::invalid(format!(
                "{}!{} exists already; replace it to get a new secret",
                setup.userid, setup.tokenid
            )));
        }
        let (major, _, _) = self.client.version().numbers();
        self.ensure_role(setup.role.role_id(), &setup.role.privileges(major))
            .await?;
        if exists {
            self.delete_token(&setup.userid, &setup.tokenid).await?;
        }
        let mut token = self
            .create_token(&setup.userid, &setup.tokenid, "created by pvekit login")
            .await?;
        token.replaced = exists;
        if let Err(e) = self
            .grant_token(&setup.path, setup.role.role_id(), &token.full_id)
            .await
        {
            // A token without its grant is useless: take it back.
            let _ = self.delete_token(&setup.userid, &setup.tokenid).await;
            return Err(e);
        }
        Ok(token)
    }

    /// The effective privileges of this login (or of `userid`, a user's own token included)
    /// on `path` (every path with an ACL when `None`).
    ///
    /// # Errors
    /// Server errors.
    pub async fn permissions(
        &self,
        path: Option<&str>,
        userid: Option<&str>,
    ) -> Result<Permissions> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(p) = path {
            params.push(("path", p.to_string()));
        }
        if let Some(u) = userid {
            params.push(("userid", u.to_string()));
        }
        self.client.get_with("/access/permissions", &params).await
    }
}

/// A pvekit feature and what it needs, for `pvekit doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// What the feature is, for people.
    pub name: &'static str,
    /// The privilege it needs (empty for `root_pam`).
    pub privilege: &'static str,
    /// On which path: `/`, `/vms`, or `/nodes/{node}` for each node.
    pub path: &'static str,
    /// Whether it needs a `root@pam` password login instead of a privilege.
    pub root_pam: bool,
}

/// Every feature and what it needs on a server of `major` version (sources: the
/// `permissions` of each endpoint in the API schema).
pub fn features(major: u32) -> Vec<Feature> {
    let f = |name, privilege, path| Feature {
        name,
        privilege,
        path,
        root_pam: false,
    };
    vec![
        f(
            "cluster discovery (nodes, cluster status)",
            "Sys.Audit",
            "/",
        ),
        f(
            "guest listings, status, stats, history, lookups, watch",
            "VM.Audit",
            "/vms",
        ),
        f(
            "VM addresses from the guest agent",
            if major >= 9 {
                "VM.GuestAgent.Audit"
            } else {
                "VM.Monitor"
            },
            "/vms",
        ),
        f(
            "power actions (start, stop, shutdown, ...), wake",
            "VM.PowerMgmt",
            "/vms",
        ),
        f("set-shutdown-timeout", "VM.Config.Options", "/vms"),
        f("node stats", "Sys.Audit", "/nodes/{node}"),
        f("node journal (REST)", "Sys.Syslog", "/nodes/{node}"),
        Feature {
            name: "exec, container journals, tail, shell, enter",
            privilege: "",
            path: "/",
            root_pam: true,
        },
    ]
}
