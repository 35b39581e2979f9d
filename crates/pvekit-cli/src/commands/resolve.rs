/*!
`pvekit resolve [ROUTE] [--node N] [--vmid N] [--service S]... [--log-file F]... [--ip IP]
[--hostname H] [--alias A]`: what a route's `NodeConfig` binds to ([`pvekit::NodeConfig`]).

`ROUTE` is a YAML or JSON file (`-` for standard input) holding a NodeConfig, either alone or
under a route's `proxmox:` key as GoDoxy writes it; flags override its fields. The cluster
is the one that has the node; one inventory refresh there gives the guests and their IPs.
*/

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use pvekit::{
    Client, Inventory, InventoryOptions, IpPolicy, NodeConfig, ResolvedRoute, RouteHints,
};
use serde::Serialize;

use crate::commands::Context;
use crate::output::{self, Format};
use crate::settings::usage;

/// The most of a route file that is read.
const ROUTE_FILE_CAP: u64 = 1 << 20;

/// Flags of `pvekit resolve`.
#[derive(clap::Args)]
pub struct Args {
    /// A YAML or JSON file with the NodeConfig (alone or under `proxmox:`); `-` reads
    /// standard input.
    #[arg(value_name = "ROUTE")]
    pub route: Option<PathBuf>,
    /// The node.
    #[arg(long)]
    pub node: Option<String>,
    /// 0 for the node itself, a guest id, or leave out to find the guest by --ip,
    /// --hostname or --alias.
    #[arg(long)]
    pub vmid: Option<u64>,
    /// The guest's name, looked up first when --vmid is left out.
    #[arg(long)]
    pub vmname: Option<String>,
    /// A systemd unit whose journal the route shows (repeatable).
    #[arg(long = "service", value_name = "UNIT")]
    pub services: Vec<String>,
    /// A file whose tail the route shows (repeatable).
    #[arg(long = "log-file", value_name = "PATH")]
    pub files: Vec<String>,
    /// The route's upstream IP.
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// The route's upstream host name (its first label is compared with guest names).
    #[arg(long)]
    pub hostname: Option<String>,
    /// The route's alias.
    #[arg(long)]
    pub alias: Option<String>,
    /// Consider every address of the guests, not only private ones, for --ip.
    #[arg(long)]
    pub all_addresses: bool,
}

impl Args {
    fn config(&self) -> Result<NodeConfig> {
        let mut config = match &self.route {
            Some(path) => read_route(path)?,
            None => NodeConfig::default(),
        };
        if let Some(node) = &self.node {
            config.node = node.clone();
        }
        if self.vmid.is_some() {
            config.vmid = self.vmid;
        }
        if let Some(name) = &self.vmname {
            config.vmname = name.clone();
        }
        if !self.services.is_empty() {
            config.services = self.services.clone();
        }
        if !self.files.is_empty() {
            config.files = self.files.clone();
        }
        if config.node.is_empty() {
            return Err(usage("give the node with --node or in the route file"));
        }
        Ok(config)
    }
}

fn read_route(path: &PathBuf) -> Result<NodeConfig> {
    let mut text = String::new();
    let shown = path.display();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(ROUTE_FILE_CAP)
            .read_to_string(&mut text)
            .context("cannot read the route from standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(ROUTE_FILE_CAP).read_to_string(&mut text))
            .with_context(|| format!("cannot read {shown}"))?;
    }
    // YAML is a superset of JSON: one parser reads both.
    let mut value: serde_json::Value = serde_saphyr::from_str(&text)
        .map_err(|e| usage(format!("{shown} is not YAML or JSON: {e}")))?;
    // A whole route holds its NodeConfig under `proxmox`.
    if let Some(inner) = value.get_mut("proxmox") {
        value = inner.take();
    }
    serde_json::from_value(value).map_err(|e| usage(format!("{shown} is not a NodeConfig: {e}")))
}

/// What `pvekit resolve` prints.
#[derive(Serialize)]
struct Row {
    cluster: String,
    node: String,
    vmid: u64,
    #[serde(rename = "type")]
    kind: String,
    vmname: String,
    ips: Vec<IpAddr>,
    services: Vec<String>,
    files: Vec<String>,
    /// The config as resolution filled it.
    config: NodeConfig,
}

/// `pvekit resolve`.
///
/// # Errors
/// Invalid flags or route file (usage errors), connection errors, or the resolution's
/// (node not found, resource not found, ambiguous).
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let config = args.config()?;
    let policy = IpPolicy {
        private_only: !args.all_addresses,
    };
    let hints = RouteHints {
        ip: args.ip,
        hostname: args.hostname.as_deref(),
        alias: args.alias.as_deref(),
    };
    ctx.on_clusters(async |clients| {
        let client = cluster_of(clients, &config.node)?;
        let inventory = Inventory::new(
            client.clone(),
            InventoryOptions {
                ip_policy: policy,
                ..Default::default()
            },
        );
        inventory.refresh().await?;
        let route = config.resolve(&inventory.snapshot(), &hints)?;
        print(&row(client, &route), ctx.output())
    })
    .await
}

/// The cluster that has `node`; with one cluster, that one (resolution then says what is
/// missing).
fn cluster_of<'a>(clients: &'a [Client], node: &str) -> Result<&'a Client> {
    let having: Vec<&Client> = clients
        .iter()
        .filter(|c| c.members().iter().any(|m| m.name == node))
        .collect();
    match (having.as_slice(), clients) {
        ([one], _) => Ok(one),
        ([], [only]) => Ok(only),
        ([], _) => Err(pvekit::Error::NodeNotFound {
            name: node.to_string(),
            available: clients
                .iter()
                .flat_map(|c| c.members().into_iter().map(|m| m.name))
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
        (several, _) => Err(pvekit::Error::AmbiguousNode {
            name: node.to_string(),
            clusters: several.iter().map(|c| c.name().to_string()).collect(),
        }
        .into()),
    }
}

fn row(client: &Client, route: &ResolvedRoute) -> Row {
    Row {
        cluster: client.name().to_string(),
        node: route.node.clone(),
        vmid: route.vmid,
        kind: route
            .kind()
            .map_or_else(|| "node".to_string(), |k| k.to_string()),
        vmname: route.vmname.clone(),
        ips: route
            .guest
            .as_ref()
            .map(|g| g.ips.to_vec())
            .unwrap_or_default(),
        services: route.services.clone(),
        files: route.files.clone(),
        config: route.config(),
    }
}

fn print(row: &Row, format: Format) -> Result<()> {
    let mut out = super::stdout();
    match format {
        Format::Json => output::write_json_value(&mut out, row)?,
        Format::Table => {
            let join = |v: &[String]| {
                if v.is_empty() {
                    "-".to_string()
                } else {
                    v.join(",")
                }
            };
            let ips: Vec<String> = row.ips.iter().map(ToString::to_string).collect();
            let table = output::table(
                &["NODE", "VMID", "TYPE", "NAME", "IPS", "SERVICES", "FILES"],
                &[1],
                std::iter::once(vec![
                    row.node.clone(),
                    row.vmid.to_string(),
                    row.kind.clone(),
                    row.vmname.clone(),
                    join(&ips),
                    join(&row.services),
                    join(&row.files),
                ]),
            );
            output::write_table(&mut out, &table)?;
        }
    }
    out.flush().map_err(|e| anyhow!(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<NodeConfig> {
        let crate::cli::Command::Resolve(a) = crate::commands::parse(args) else {
            unreachable!()
        };
        a.config()
    }

    #[test]
    fn flags_and_route_files() {
        let c = config(&[
            "resolve",
            "--node",
            "pve1",
            "--vmid",
            "0",
            "--service",
            "pveproxy",
        ])
        .unwrap();
        assert_eq!(
            (c.node.as_str(), c.vmid, c.services.len()),
            ("pve1", Some(0), 1)
        );
        assert!(config(&["resolve"]).is_err(), "the node is required");

        let dir = tempfile::tempdir().unwrap();
        let route = dir.path().join("route.yml");
        std::fs::write(
            &route,
            "host: web.lan\nport: 8080\nproxmox:\n  node: pve1\n  service: nginx\n  file: /var/log/nginx/error.log\n",
        )
        .unwrap();
        let path = route.to_str().unwrap();
        let c = config(&["resolve", path]).unwrap();
        assert_eq!((c.node.as_str(), c.vmid), ("pve1", None));
        assert_eq!(
            (c.services, c.files),
            (
                vec!["nginx".to_string()],
                vec!["/var/log/nginx/error.log".to_string()]
            )
        );
        // Flags override the file.
        let c = config(&["resolve", path, "--vmid", "101", "--node", "pve2"]).unwrap();
        assert_eq!((c.node.as_str(), c.vmid), ("pve2", Some(101)));
        let json = dir.path().join("route.json");
        std::fs::write(&json, r#"{"node": "pve1", "vmid": "0"}"#).unwrap();
        assert_eq!(
            config(&["resolve", json.to_str().unwrap()]).unwrap().vmid,
            Some(0)
        );
        let bad = dir.path().join("bad.yml");
        std::fs::write(&bad, "node: pve1\nvmid: -3\n").unwrap();
        assert!(config(&["resolve", bad.to_str().unwrap()]).is_err());
    }
}
