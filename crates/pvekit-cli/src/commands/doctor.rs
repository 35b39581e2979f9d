/*!
`pvekit doctor`: for every configured cluster, whether it is reachable (with the error), its
version, its TLS mode (verified by the system's roots, pinned, or insecure, which is warned
about), whether the login works, and for each pvekit feature whether this login has what it
needs ([`pvekit::access::features`]), naming each missing privilege and the path where to
grant it. Effective privileges come from `GET /access/permissions` on `/`, `/vms` and each
node's path. The exit status is 1 when a cluster is unreachable or its login fails.
*/

use std::io::Write;

use anyhow::{Result, bail};
use pvekit::access::features;
use pvekit::{Client, Config};
use serde::Serialize;

use crate::commands::Context;
use crate::output::Format;
use crate::settings::Connection;

/// One feature's verdict.
#[derive(Debug, Serialize, PartialEq)]
struct FeatureCheck {
    feature: &'static str,
    ok: bool,
    /// What is missing, where: `VM.PowerMgmt on /vms`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing: Vec<String>,
}

/// One cluster's report.
#[derive(Debug, Serialize)]
struct Report {
    url: String,
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    tls: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<String>,
    features: Vec<FeatureCheck>,
}

/// `pvekit doctor`.
///
/// # Errors
/// Connection settings that do not resolve; exit status 1 when a cluster is unreachable or
/// its login fails (after the report is printed).
pub async fn run(ctx: &Context<'_>) -> Result<()> {
    let configs = match crate::settings::connection(ctx.cli, &ctx.env, ctx.file)? {
        Connection::Clusters(configs) => configs,
        Connection::Demo => {
            return ctx
                .on_clusters(async |clients| {
                    let mut reports = Vec::new();
                    for c in clients {
                        reports.push(check(c, "pinned").await);
                    }
                    print(&reports, ctx.output())
                })
                .await;
        }
    };
    let mut reports = Vec::new();
    for config in &configs {
        reports.push(diagnose(config).await);
    }
    print(&reports, ctx.output())?;
    let broken = reports.iter().filter(|r| !r.reachable).count();
    if broken > 0 {
        bail!(
            "{broken} of {} clusters cannot be used: see above",
            reports.len()
        );
    }
    Ok(())
}

fn tls_mode(config: &Config) -> &'static str {
    if config.no_tls_verify {
        "insecure"
    } else if config.fingerprint.as_deref().is_some_and(|f| !f.is_empty()) {
        "pinned"
    } else {
        "verified"
    }
}

async fn diagnose(config: &Config) -> Report {
    match Client::connect(config).await {
        Ok(client) => check(&client, tls_mode(config)).await,
        Err(e) => Report {
            url: config.shown_url(),
            reachable: false,
            error: Some(match e.hint() {
                Some(h) => format!("{e} ({h})"),
                None => e.to_string(),
            }),
            version: None,
            tls: tls_mode(config),
            login: None,
            features: Vec::new(),
        },
    }
}

async fn check(client: &Client, tls: &'static str) -> Report {
    let (major, _, _) = client.version().numbers();
    let nodes: Vec<String> = client.members().into_iter().map(|m| m.name).collect();
    let access = client.access();
    // One request per path: `/`, `/vms`, each node.
    let mut paths = vec!["/".to_string(), "/vms".to_string()];
    paths.extend(nodes.iter().map(|n| format!("/nodes/{n}")));
    let mut granted = std::collections::BTreeMap::new();
    let mut error = None;
    for path in &paths {
        match access.permissions(Some(path), None).await {
            Ok(p) => {
                let privs = p.get(path).cloned().unwrap_or_default();
                granted.insert(path.clone(), privs);
            }
            Err(e) => {
                error = Some(format!("cannot read the permissions on {path}: {e}"));
                break;
            }
        }
    }
    let root_pam = client
        .login_user()
        .is_some_and(|u| u.to_string() == "root@pam");
    let has = |path: &str, privilege: &str| {
        // Listed means granted (the value says whether it propagates).
        granted
            .get(path)
            .is_some_and(|p: &std::collections::BTreeMap<String, bool>| p.contains_key(privilege))
    };
    let features = features(major)
        .into_iter()
        .map(|f| {
            let missing: Vec<String> = if f.root_pam {
                if root_pam {
                    Vec::new()
                } else {
                    vec!["a root@pam password login (username and password)".into()]
                }
            } else if f.path == "/nodes/{node}" {
                nodes
                    .iter()
                    .map(|n| format!("/nodes/{n}"))
                    .filter(|p| !has(p, f.privilege))
                    .map(|p| format!("{} on {p}", f.privilege))
                    .collect()
            } else if has(f.path, f.privilege) {
                Vec::new()
            } else {
                vec![format!("{} on {}", f.privilege, f.path)]
            };
            FeatureCheck {
                feature: f.name,
                ok: missing.is_empty(),
                missing,
            }
        })
        .collect();
    let login = match (client.login_user(), client.token_id()) {
        (_, Some(token)) => format!("token {token}"),
        (Some(user), None) => format!("password {user}"),
        (None, None) => "none".into(),
    };
    Report {
        url: client.url().to_string(),
        reachable: true,
        error,
        version: Some(client.version().version.clone()),
        tls,
        login: Some(login),
        features,
    }
}

fn print(reports: &[Report], format: Format) -> Result<()> {
    let mut out = super::stdout();
    match format {
        Format::Json => crate::output::write_json_value(&mut out, &reports)?,
        Format::Table => {
            for r in reports {
                writeln!(out, "{}", r.url)?;
                match &r.version {
                    Some(v) => writeln!(out, "  reachable  yes, Proxmox VE {v}")?,
                    None => writeln!(out, "  reachable  NO")?,
                }
                let tls = match r.tls {
                    "insecure" => {
                        "insecure: the certificate is not verified (WARNING: pin it with --fingerprint or `pvekit login`)"
                    }
                    "pinned" => "pinned SHA-256 fingerprint",
                    _ => "verified by the system's trusted roots",
                };
                writeln!(out, "  tls        {tls}")?;
                if let Some(login) = &r.login {
                    writeln!(out, "  login      works ({login})")?;
                }
                if let Some(e) = &r.error {
                    writeln!(out, "  error      {e}")?;
                }
                for f in &r.features {
                    if f.ok {
                        writeln!(out, "  ok         {}", f.feature)?;
                    } else {
                        writeln!(
                            out,
                            "  missing    {}: needs {}",
                            f.feature,
                            f.missing.join(", ")
                        )?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
