//! Access control: API tokens, roles, ACLs, effective permissions and pools, as
//! pve-access-control serves them, with every request checked against the schema.

use pvekit_sim::conformance::SchemaSet;
use pvekit_sim::{Scenario, SimOptions};
use serde_json::{Value, json};

use crate::util::{PASSWORD, Resp, Sim, opts, start, start_default};

/// A logged-in user: its ticket and CSRF token.
struct Session {
    ticket: String,
    csrf: String,
}

impl Sim {
    /// Logs `username` in with a password (POST /access/ticket).
    async fn session(&self, username: &str, password: &str) -> Session {
        let r = self
            .send(
                self.http
                    .post(self.url("/access/ticket"))
                    .form(&[("username", username), ("password", password)]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let d = r.data();
        Session {
            ticket: d["ticket"].as_str().unwrap().to_string(),
            csrf: d["CSRFPreventionToken"].as_str().unwrap().to_string(),
        }
    }

    /// A call with a ticket (and the CSRF token on writes); `form` goes in the query for
    /// GET and DELETE, in the body otherwise.
    async fn with_ticket(
        &self,
        who: &Session,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Resp {
        let url = self.url(path);
        let req = match method {
            "GET" => self.http.get(url).query(form),
            "DELETE" => self.http.delete(url).query(form),
            "POST" => self.http.post(url).form(form),
            "PUT" => self.http.put(url).form(form),
            other => panic!("method {other}"),
        };
        let req = req.header("Cookie", format!("PVEAuthCookie={}", who.ticket));
        let req = if method == "GET" {
            req
        } else {
            req.header("CSRFPreventionToken", &who.csrf)
        };
        self.send(req).await
    }

    /// A call with an API token (`user@realm!name=secret`).
    async fn with_token(
        &self,
        token: &str,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Resp {
        let url = self.url(path);
        let req = match method {
            "GET" => self.http.get(url).query(form),
            "DELETE" => self.http.delete(url).query(form),
            "POST" => self.http.post(url).form(form),
            "PUT" => self.http.put(url).form(form),
            other => panic!("method {other}"),
        };
        self.send(req.header("Authorization", format!("PVEAPIToken={token}")))
            .await
    }
}

fn ok(r: &Resp) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.data()
}

fn denied(r: &Resp, what: Option<&str>) {
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let want = match what {
        Some(w) => format!("Permission check failed ({w})\n"),
        None => "Permission check failed\n".to_string(),
    };
    assert_eq!(r.message(), want);
}

fn failed(r: &Resp, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.message(), message);
}

fn schema() -> SchemaSet {
    SchemaSet::load_default().expect("schema file")
}

/// Every request the simulator received fits the schema (what strict mode checks).
fn requests_fit_the_schema(s: &Sim) {
    let off = schema().off_schema(&s.sim.requests());
    assert!(off.is_empty(), "{}", off.join("\n"));
}

fn check_response(method: &str, template: &str, data: &Value) {
    if let Err(e) = schema().check_response(method, template, data) {
        panic!("{method} {template}: {}", e.join("\n"));
    }
}

/// A stopped container of the generated cluster: (node, vmid).
async fn some_container(s: &Sim) -> (String, u64) {
    let vms = s.data("/cluster/resources?type=vm").await;
    let ct = vms
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == "lxc" && g["status"] == "stopped")
        .expect("a stopped container");
    (
        ct["node"].as_str().unwrap().to_string(),
        ct["vmid"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn root_makes_a_role_a_privsep_token_and_an_acl() {
    let s = start_default().await;
    let root = s.session("root@pam", PASSWORD).await;

    // A custom role with exact privileges.
    let r = s
        .with_ticket(
            &root,
            "POST",
            "/access/roles",
            &[("roleid", "KitReader"), ("privs", "VM.Audit,Sys.Audit")],
        )
        .await;
    assert_eq!(ok(&r), Value::Null);
    let role = ok(&s
        .with_ticket(&root, "GET", "/access/roles/KitReader", &[])
        .await);
    assert_eq!(role, json!({"Sys.Audit": 1, "VM.Audit": 1}));
    check_response("GET", "/access/roles/{roleid}", &role);
    let roles = ok(&s.with_ticket(&root, "GET", "/access/roles", &[]).await);
    check_response("GET", "/access/roles", &roles);
    let mine = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleid"] == "KitReader")
        .unwrap();
    assert_eq!(
        mine,
        &json!({"roleid": "KitReader", "privs": "Sys.Audit,VM.Audit", "special": 0})
    );
    assert!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["roleid"] == "PVEVMAdmin" && r["special"] == 1)
    );

    // A token with privilege separation (the default): the secret comes once.
    let r = s
        .with_ticket(
            &root,
            "POST",
            "/access/users/root@pam/token/pvekit-ro",
            &[("comment", "made by pvekit login")],
        )
        .await;
    let created = ok(&r);
    check_response("POST", "/access/users/{userid}/token/{tokenid}", &created);
    assert_eq!(created["full-tokenid"], "root@pam!pvekit-ro");
    assert_eq!(
        created["info"],
        json!({"privsep": 1, "comment": "made by pvekit login"})
    );
    let secret = created["value"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 36, "a UUID: {secret}");
    let token = format!("root@pam!pvekit-ro={secret}");

    // Listed and read back without the secret.
    let list = ok(&s
        .with_ticket(&root, "GET", "/access/users/root@pam/token", &[])
        .await);
    check_response("GET", "/access/users/{userid}/token", &list);
    assert!(list.as_array().unwrap().contains(&json!({
        "tokenid": "pvekit-ro", "privsep": 1, "expire": 0, "comment": "made by pvekit login"
    })));
    let one = ok(&s
        .with_ticket(&root, "GET", "/access/users/root@pam/token/pvekit-ro", &[])
        .await);
    assert_eq!(
        one,
        json!({"privsep": 1, "expire": 0, "comment": "made by pvekit login"})
    );

    // Without ACL entries a privilege-separated token may do nothing.
    let r = s.with_token(&token, "GET", "/cluster/status", &[]).await;
    denied(&r, Some("/, Sys.Audit"));
    let none = ok(&s
        .with_token(&token, "GET", "/access/permissions", &[])
        .await);
    assert_eq!(none, json!({}));

    // The role granted to the token on /.
    let r = s
        .with_ticket(
            &root,
            "PUT",
            "/access/acl",
            &[
                ("path", "/"),
                ("roles", "KitReader"),
                ("tokens", "root@pam!pvekit-ro"),
            ],
        )
        .await;
    assert_eq!(ok(&r), Value::Null);
    let acl = ok(&s.with_ticket(&root, "GET", "/access/acl", &[]).await);
    check_response("GET", "/access/acl", &acl);
    assert_eq!(
        acl,
        json!([{"path": "/", "type": "token", "ugid": "root@pam!pvekit-ro",
                "roleid": "KitReader", "propagate": 1}])
    );

    // It lists guests but may not start one.
    let guests = ok(&s
        .with_token(&token, "GET", "/cluster/resources", &[("type", "vm")])
        .await);
    assert!(!guests.as_array().unwrap().is_empty());
    let (node, vmid) = some_container(&s).await;
    let listed = ok(&s
        .with_token(&token, "GET", &format!("/nodes/{node}/lxc"), &[])
        .await);
    assert!(listed.as_array().unwrap().iter().any(|g| g["vmid"] == vmid));
    let r = s
        .with_token(
            &token,
            "POST",
            &format!("/nodes/{node}/lxc/{vmid}/status/start"),
            &[],
        )
        .await;
    denied(&r, Some(&format!("/vms/{vmid}, VM.PowerMgmt")));

    // Its effective permissions are exactly the role's, propagated; the token may read
    // them, and so may its user.
    let exact = json!({"Sys.Audit": 1, "VM.Audit": 1});
    let perms = ok(&s
        .with_token(&token, "GET", "/access/permissions", &[("path", "/")])
        .await);
    check_response("GET", "/access/permissions", &perms);
    assert_eq!(perms, json!({"/": exact}));
    let tree = ok(&s
        .with_token(&token, "GET", "/access/permissions", &[])
        .await);
    for path in [
        "/",
        "/access",
        "/access/groups",
        "/nodes",
        "/pool",
        "/sdn",
        "/storage",
        "/vms",
    ] {
        assert_eq!(tree[path], exact, "{path}: {tree}");
    }
    let by_root = ok(&s
        .with_ticket(
            &root,
            "GET",
            "/access/permissions",
            &[("userid", "root@pam!pvekit-ro"), ("path", "/vms/100")],
        )
        .await);
    assert_eq!(by_root, json!({"/vms/100": exact}));

    // Deleting the token: its next request is a 401.
    let r = s
        .with_ticket(
            &root,
            "DELETE",
            "/access/users/root@pam/token/pvekit-ro",
            &[],
        )
        .await;
    assert_eq!(ok(&r), Value::Null);
    let r = s
        .with_token(&token, "GET", "/cluster/resources", &[("type", "vm")])
        .await;
    assert_eq!(r.status, 401);
    // Its ACL entries went with it.
    assert_eq!(
        ok(&s.with_ticket(&root, "GET", "/access/acl", &[]).await),
        json!([])
    );

    requests_fit_the_schema(&s);
}

const YAML: &str = r#"
cluster: lab
nodes:
  - name: pve1
guests:
  - { type: lxc, vmid: 101, node: pve1, name: web, status: stopped }
  - { type: lxc, vmid: 102, node: pve1, name: db, status: stopped }
users:
  - userid: ops@pve
    password: ops-pw
    acl:
      - { path: /vms, role: PVEVMUser }
  - userid: audit@pve
    password: audit-pw
    acl:
      - { path: /, role: PVEAuditor }
"#;

async fn lab() -> Sim {
    start(SimOptions {
        scenario_inline: Some(Scenario::from_yaml(YAML).unwrap()),
        task_duration: crate::util::TASK,
        ..opts()
    })
    .await
}

#[tokio::test]
async fn a_user_manages_its_own_tokens_but_not_roles_or_others() {
    let s = lab().await;
    let ops = s.session("ops@pve", "ops-pw").await;

    // No Sys.Modify on /access: no role.
    let r = s
        .with_ticket(
            &ops,
            "POST",
            "/access/roles",
            &[("roleid", "Mine"), ("privs", "VM.Audit")],
        )
        .await;
    denied(&r, Some("/access, Sys.Modify"));

    // Its own token, without privilege separation: `privsep` comes back as sent.
    let r = s
        .with_ticket(
            &ops,
            "POST",
            "/access/users/ops@pve/token/automation",
            &[("privsep", "0")],
        )
        .await;
    let created = ok(&r);
    assert_eq!(created["full-tokenid"], "ops@pve!automation");
    assert_eq!(created["info"], json!({"privsep": "0"}));
    let token = format!("ops@pve!automation={}", created["value"].as_str().unwrap());
    // It has its user's privileges at once.
    let r = s
        .with_token(&token, "POST", "/nodes/pve1/lxc/101/status/start", &[])
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    denied(
        &s.with_token(&token, "GET", "/nodes/pve1/status", &[]).await,
        Some("/nodes/pve1, Sys.Audit"),
    );

    // Once only.
    let r = s
        .with_ticket(&ops, "POST", "/access/users/ops@pve/token/automation", &[])
        .await;
    failed(&r, 400, "Parameter verification failed.\n");
    assert_eq!(r.error("tokenid"), "Token already exists.");

    // Not another user's tokens, and a token is not its user.
    for path in [
        "/access/users/audit@pve/token/xx",
        "/access/users/nobody@pve/token/xx",
    ] {
        denied(&s.with_ticket(&ops, "POST", path, &[]).await, None);
    }
    denied(
        &s.with_token(&token, "GET", "/access/users/ops@pve/token", &[])
            .await,
        None,
    );
    // A token reads its own permissions; its user reads them too; another needs Sys.Audit.
    assert_eq!(
        ok(&s
            .with_token(
                &token,
                "GET",
                "/access/permissions",
                &[("path", "/vms/101")]
            )
            .await)["/vms/101"]["VM.PowerMgmt"],
        1
    );
    ok(&s
        .with_ticket(
            &ops,
            "GET",
            "/access/permissions",
            &[("userid", "ops@pve!automation")],
        )
        .await);
    denied(
        &s.with_ticket(
            &ops,
            "GET",
            "/access/permissions",
            &[("userid", "audit@pve")],
        )
        .await,
        Some("/access, Sys.Audit"),
    );
    let audit = s.session("audit@pve", "audit-pw").await;
    let theirs = ok(&s
        .with_ticket(
            &audit,
            "GET",
            "/access/permissions",
            &[("userid", "ops@pve")],
        )
        .await);
    assert_eq!(theirs["/vms"]["VM.PowerMgmt"], 1, "{theirs}");
    assert!(theirs.get("/").is_none(), "{theirs}");

    // No ACL changes without Permissions.Modify (or VM.Allocate below /vms).
    let r = s
        .with_ticket(
            &ops,
            "PUT",
            "/access/acl",
            &[
                ("path", "/vms/101"),
                ("roles", "PVEVMUser"),
                ("tokens", "ops@pve!automation"),
            ],
        )
        .await;
    denied(&r, Some("/vms/101, Permissions.Modify|VM.Allocate"));
    // The auditor sees every ACL entry; ops sees none of them.
    assert_eq!(
        ok(&s.with_ticket(&ops, "GET", "/access/acl", &[]).await),
        json!([])
    );
    let all = ok(&s.with_ticket(&audit, "GET", "/access/acl", &[]).await);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");

    // Update and delete its own token.
    let r = s
        .with_ticket(
            &ops,
            "PUT",
            "/access/users/ops@pve/token/automation",
            &[("comment", "ci"), ("expire", "4102444800")],
        )
        .await;
    assert_eq!(
        ok(&r),
        json!({"privsep": 0, "expire": "4102444800", "comment": "ci"})
    );
    let r = s
        .with_ticket(
            &ops,
            "DELETE",
            "/access/users/ops@pve/token/automation",
            &[],
        )
        .await;
    ok(&r);
    assert_eq!(
        s.with_token(&token, "GET", "/version", &[]).await.status,
        401
    );
    requests_fit_the_schema(&s);
}

#[tokio::test]
async fn errors_are_worded_as_proxmox_ve_words_them() {
    let s = lab().await;
    let root = s.session("root@pam", PASSWORD).await;
    let post_role = |roleid: &'static str, privs: &'static str| {
        let root = &root;
        let s = &s;
        async move {
            s.with_ticket(
                root,
                "POST",
                "/access/roles",
                &[("roleid", roleid), ("privs", privs)],
            )
            .await
        }
    };
    // Case-insensitive: "Pvekit..." is refused too.
    let r = post_role("PvekitMine", "VM.Audit").await;
    failed(&r, 400, "Parameter verification failed.\n");
    assert_eq!(
        r.error("roleid"),
        "cannot use role ID starting with the (case-insensitive) 'PVE' namespace"
    );
    let r = post_role("Mine", "VM.Audit,VM.Fly").await;
    assert_eq!(
        r.error("privs"),
        "invalid format - invalid privilege 'VM.Fly'\n"
    );
    ok(&post_role("Mine", "VM.Audit").await);
    failed(
        &post_role("Mine", "VM.Audit").await,
        500,
        "create role failed: role 'Mine' already exists\n",
    );
    failed(
        &post_role("Administrator", "").await,
        500,
        "create role failed: role 'Administrator' already exists\n",
    );
    failed(
        &s.with_ticket(
            &root,
            "PUT",
            "/access/roles/PVEVMUser",
            &[("privs", "VM.Audit")],
        )
        .await,
        500,
        "auto-generated role 'PVEVMUser' cannot be modified\n",
    );
    failed(
        &s.with_ticket(&root, "DELETE", "/access/roles/Nope", &[])
            .await,
        500,
        "delete role failed: role 'Nope' does not exist\n",
    );
    failed(
        &s.with_ticket(&root, "GET", "/access/roles/Nope", &[]).await,
        500,
        "role 'Nope' does not exist\n",
    );
    // `append` adds, without it the privileges are replaced.
    ok(&s
        .with_ticket(
            &root,
            "PUT",
            "/access/roles/Mine",
            &[("privs", "VM.PowerMgmt"), ("append", "1")],
        )
        .await);
    assert_eq!(
        ok(&s.with_ticket(&root, "GET", "/access/roles/Mine", &[]).await),
        json!({"VM.Audit": 1, "VM.PowerMgmt": 1})
    );

    // Tokens.
    failed(
        &s.with_ticket(&root, "GET", "/access/users/root@pam/token/nope", &[])
            .await,
        500,
        "no such token 'nope' for user 'root@pam'\n",
    );
    failed(
        &s.with_ticket(&root, "POST", "/access/users/ghost@pve/token/t1", &[])
            .await,
        500,
        "no such user ('ghost@pve')\n",
    );
    let r = s
        .with_ticket(&root, "POST", "/access/users/root@pam/token/1bad", &[])
        .await;
    assert_eq!(r.error("tokenid"), "value does not match the regex pattern");

    // ACLs.
    let r = s
        .with_ticket(
            &root,
            "PUT",
            "/access/acl",
            &[("path", "/"), ("roles", "Mine")],
        )
        .await;
    failed(&r, 400, "Parameter verification failed.\n");
    for k in ["users", "groups", "tokens"] {
        assert_eq!(
            r.error(k),
            "either 'users', 'groups' or 'tokens' is required."
        );
    }
    let acl = |path: &'static str, roles: &'static str, users: &'static str| {
        let root = &root;
        let s = &s;
        async move {
            s.with_ticket(
                root,
                "PUT",
                "/access/acl",
                &[("path", path), ("roles", roles), ("users", users)],
            )
            .await
        }
    };
    let r = acl("/nope", "Mine", "ops@pve").await;
    assert_eq!(r.error("path"), "invalid ACL path '/nope'");
    failed(
        &acl("/", "Nope", "ops@pve").await,
        500,
        "ACL update failed: role 'Nope' does not exist\n",
    );
    failed(
        &acl("/", "Mine", "ghost@pve").await,
        500,
        "ACL update failed: user 'ghost@pve' does not exist\n",
    );
    // Deleting a role takes its ACL entries along.
    ok(&acl("//vms//102/", "Mine", "ops@pve").await);
    let entries = ok(&s.with_ticket(&root, "GET", "/access/acl", &[]).await);
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "/vms/102" && e["roleid"] == "Mine")
    );
    ok(&s
        .with_ticket(&root, "DELETE", "/access/roles/Mine", &[])
        .await);
    let entries = ok(&s.with_ticket(&root, "GET", "/access/acl", &[]).await);
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["roleid"] != "Mine"),
        "{entries}"
    );
    // Only the two requests sent to fail the schema's checks fall outside it.
    let off = schema().off_schema(&s.sim.requests());
    assert_eq!(off.len(), 2, "{}", off.join("\n"));
    assert!(off[0].contains("invalid privilege 'VM.Fly'") && off[1].contains("token/1bad"));
}

#[tokio::test]
async fn handing_out_only_a_superset_of_ones_own_privileges() {
    let s = lab().await;
    let root = s.session("root@pam", PASSWORD).await;
    // ops may allocate VM 101 (perm-modify passes with VM.Allocate below /vms) but holds
    // only PVEVMUser's privileges, not propagated ones on its own path.
    ok(&s
        .with_ticket(
            &root,
            "PUT",
            "/access/acl",
            &[
                ("path", "/vms/101"),
                ("roles", "PVEVMAdmin"),
                ("users", "ops@pve"),
                ("propagate", "0"),
            ],
        )
        .await);
    let ops = s.session("ops@pve", "ops-pw").await;
    let grant = |roles: &'static str, propagate: &'static str| {
        let (s, ops) = (&s, &ops);
        async move {
            s.with_ticket(
                ops,
                "PUT",
                "/access/acl",
                &[
                    ("path", "/vms/101"),
                    ("roles", roles),
                    ("users", "audit@pve"),
                    ("propagate", propagate),
                ],
            )
            .await
        }
    };
    failed(
        &grant("Administrator", "0").await,
        500,
        "ACL update failed: 400 Parameter verification failed.\nrole: Cannot add role 'Administrator' - requires 'Permissions.Modify' or superset of privileges.\n",
    );
    failed(
        &grant("PVEVMUser", "1").await,
        500,
        "ACL update failed: 400 Parameter verification failed.\nrole: Cannot add role 'PVEVMUser' with propagation - requires 'Permissions.Modify' or propagated superset of privileges.\n",
    );
    failed(
        &grant("NoAccess", "0").await,
        500,
        "ACL update failed: 400 Parameter verification failed.\nrole: Cannot add role 'NoAccess' - requires 'Permissions.Modify'\n",
    );
    ok(&grant("PVEVMUser", "0").await);
    let perms = ok(&s
        .with_ticket(
            &root,
            "GET",
            "/access/permissions",
            &[("userid", "audit@pve"), ("path", "/vms/101")],
        )
        .await);
    assert_eq!(perms["/vms/101"]["VM.PowerMgmt"], 0, "{perms}");
    requests_fit_the_schema(&s);
}

#[tokio::test]
async fn pools_lend_their_roles_to_their_guests() {
    let s = lab().await;
    s.sim
        .control()
        .add_pool("team", Some("the team's guests"), &[102])
        .unwrap();
    let root = s.session("root@pam", PASSWORD).await;
    let pools = ok(&s.with_ticket(&root, "GET", "/pools", &[]).await);
    check_response("GET", "/pools", &pools);
    assert_eq!(
        pools,
        json!([{"poolid": "team", "comment": "the team's guests"}])
    );
    let one = ok(&s
        .with_ticket(
            &root,
            "GET",
            "/pools",
            &[("poolid", "team"), ("type", "lxc")],
        )
        .await);
    check_response("GET", "/pools", &one);
    assert_eq!(one[0]["members"][0]["vmid"], 102, "{one}");

    let created = ok(&s
        .with_ticket(&root, "POST", "/access/users/audit@pve/token/pool", &[])
        .await);
    let token = format!("audit@pve!pool={}", created["value"].as_str().unwrap());
    ok(&s
        .with_ticket(
            &root,
            "PUT",
            "/access/acl",
            &[
                ("path", "/pool/team"),
                ("roles", "PVEAuditor"),
                ("tokens", "audit@pve!pool"),
            ],
        )
        .await);
    // The token sees the pool's guest and nothing else; the user's own / role caps it.
    let seen = ok(&s
        .with_token(&token, "GET", "/cluster/resources", &[("type", "vm")])
        .await);
    let ids: Vec<u64> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["vmid"].as_u64())
        .collect();
    assert_eq!(ids, [102]);
    let perms = ok(&s
        .with_token(&token, "GET", "/access/permissions", &[])
        .await);
    assert_eq!(perms["/vms/102"]["VM.Audit"], 0, "{perms}");
    assert_eq!(perms["/pool/team"]["VM.Audit"], 1, "{perms}");
    assert_eq!(
        ok(&s.with_token(&token, "GET", "/pools", &[]).await),
        json!([{"poolid": "team", "comment": "the team's guests"}])
    );
    requests_fit_the_schema(&s);
}

#[tokio::test]
async fn backup_info_lists_every_guest_as_no_backup_job_covers_any() {
    let s = start_default().await;
    let list = s.data("/cluster/backup-info/not-backed-up").await;
    check_response("GET", "/cluster/backup-info/not-backed-up", &list);
    let vms = s.data("/cluster/resources?type=vm").await;
    let mut want: Vec<(u64, String)> = vms
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["vmid"].as_u64().unwrap(),
                g["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    let got: Vec<(u64, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["vmid"].as_u64().unwrap(),
                g["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    requests_fit_the_schema(&s);
}
