/*!
The command line: the global flags (connection, config file, `--demo`, output, verbosity)
and [`Command`], the list of subcommands with their one-line help.

Each subcommand's own flags, and their checks, are defined in its module under
[`crate::commands`]; [`crate::settings`] merges the connection flags with the environment and
the config file.
*/

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::commands::{
    completions, enter, exec, history, ips, journal, login, lookup, man, node_stats, power,
    resolve, serve, set_shutdown_timeout, shell, sim, stats, status, tail, wake, watch,
};
use crate::output::Format;

/// Shown at the end of `pvekit --help`: where settings come from and which wins.
const SETTINGS_HELP: &str = "\
Configuration:
  The config file is YAML, --config FILE or else $XDG_CONFIG_HOME/pvekit/config.yml
  (~/.config/pvekit/config.yml); a missing default file is fine. It lists clusters either
  GoDoxy's way (providers: {proxmox: [...]}) or as a top-level `clusters: [...]`.
  Every connection flag also reads an environment variable (PVEKIT_URL, PVEKIT_TOKEN_ID,
  PVEKIT_SECRET, PVEKIT_USERNAME, PVEKIT_PASSWORD, PVEKIT_REALM, PVEKIT_FINGERPRINT,
  PVEKIT_NO_TLS_VERIFY).

Precedence (flags over env over file):
  * With a URL (--url or PVEKIT_URL), pvekit talks to that one cluster. Each field comes from
    its flag, else its env var, else the file's entry with the same url (if there is one).
  * Without a URL, every cluster of the file is used as written. Other connection flags or env
    vars are then only allowed when the file lists exactly one cluster, and override its fields;
    pvekit never sends credentials meant for one cluster to another.
  * --fingerprint and --no-tls-verify are one choice: the one given at the highest level wins.";

/// Command-line interface of `pvekit`, a toolkit for Proxmox VE.
#[derive(Parser)]
#[command(
    name = "pvekit",
    version = crate::gitinfo::VERSION.as_str(),
    about = "A toolkit for Proxmox VE: list, inspect, power, watch and enter the guests and nodes of one or more clusters, or run a simulated cluster",
    after_long_help = SETTINGS_HELP,
    after_help = "See `pvekit --help` for configuration and precedence."
)]
pub struct Cli {
    /// Connection flags (global).
    #[command(flatten)]
    pub conn: ConnFlags,

    /// Config file (YAML) [default: $XDG_CONFIG_HOME/pvekit/config.yml].
    #[arg(long, global = true, value_name = "FILE", help_heading = "Global")]
    pub config: Option<PathBuf>,

    /// Run against an embedded simulated cluster (no Proxmox VE and no config needed).
    #[arg(long, global = true, help_heading = "Global")]
    pub demo: bool,

    /// Output format of listings.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table, help_heading = "Global")]
    pub output: Format,

    /// More logs on stderr: -v debug, -vv trace (default: warnings only; RUST_LOG is honoured
    /// when -v is not given).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global")]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Connection flags: where the cluster is and how to log in. All global.
#[derive(Args, Default)]
#[command(next_help_heading = "Connection")]
pub struct ConnFlags {
    /// Cluster API URL, e.g. https://pve.example.com:8006 [env: PVEKIT_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,

    /// API token id, user@realm!tokenname [env: PVEKIT_TOKEN_ID].
    #[arg(long, global = true, value_name = "ID")]
    pub token_id: Option<String>,

    /// API token secret; prefer the env var, flags are visible to other local users
    /// [env: PVEKIT_SECRET].
    #[arg(long, global = true, value_name = "SECRET", value_parser = parse_secret)]
    pub secret: Option<SecretString>,

    /// Login user, e.g. root or root@pam [env: PVEKIT_USERNAME].
    #[arg(long, global = true, value_name = "USER")]
    pub username: Option<String>,

    /// Login password; prefer the env var [env: PVEKIT_PASSWORD].
    #[arg(long, global = true, value_name = "PASSWORD", value_parser = parse_secret)]
    pub password: Option<SecretString>,

    /// Realm of --username when it has none (default pam) [env: PVEKIT_REALM].
    #[arg(long, global = true, value_name = "REALM")]
    pub realm: Option<String>,

    /// Trust the server certificate with this SHA-256 fingerprint (AA:BB:...)
    /// [env: PVEKIT_FINGERPRINT].
    #[arg(long, global = true, value_name = "SHA256")]
    pub fingerprint: Option<String>,

    /// Do not verify the server certificate at all (insecure; prefer --fingerprint)
    /// [env: PVEKIT_NO_TLS_VERIFY=true|false].
    #[arg(long, global = true)]
    pub no_tls_verify: bool,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run a simulated Proxmox VE cluster over HTTPS until Ctrl-C or SIGTERM.
    ///
    /// Prints one JSON line on stdout once it accepts connections: url, fingerprint, username,
    /// password, token_id and secret. The credentials it accepts are taken from --username,
    /// --realm, --password, --token-id and --secret when given (flags only: the PVEKIT_* env
    /// vars and the config file are not read), otherwise generated.
    Sim(sim::Args),
    /// List the nodes of every configured cluster (name, id, ip, online, cluster).
    Nodes,
    /// List all guests (LXC containers and QEMU VMs) of every configured cluster, with their
    /// IPs.
    Ls,
    /// Show a guest's status: name, node, type, uptime, cpu, memory.
    Status(status::Args),
    /// Start a guest and wait until it runs.
    Start(power::Args),
    /// Ask a guest to shut down and wait until it stopped.
    Shutdown(power::Args),
    /// Stop a guest at once.
    Stop(power::Args),
    /// Suspend a guest (containers are checkpointed and stopped, VMs paused).
    Suspend(power::Args),
    /// Resume a suspended guest.
    Resume(power::Args),
    /// Reboot a guest.
    Reboot(power::Args),
    /// Print a guest's IP addresses, one per line (private ones unless --all).
    Ips(ips::Args),
    /// Set how long a container may take to shut down before it is stopped (`startup: down=N`).
    SetShutdownTimeout(set_shutdown_timeout::Args),
    /// One guest's stats line, or a live table of every guest (like `docker stats`).
    Stats(stats::Args),
    /// A guest's recorded history (the server's RRD data): CPU, memory, network and disk
    /// rates per time slot.
    History(history::Args),
    /// A node's figures as JSON (GoDoxy's NodeStats), once or every second.
    NodeStats(node_stats::Args),
    /// Find the guest (or with --node, the node) with an IP, hostname or alias.
    Lookup(lookup::Args),
    /// Print inventory changes (guests added, removed, started, stopped, new IPs) until Ctrl-C.
    Watch(watch::Args),
    /// Wake a guest on demand: start it unless it runs, then wait until it has an address
    /// and answers (--port, --http); exits 0 only once it does.
    Wake(wake::Args),
    /// Show what a route's NodeConfig (a file and/or flags) binds to: node, guest, IPs,
    /// services and files.
    Resolve(resolve::Args),
    /// Run a command in a container (or on a node) and exit with its exit status.
    Exec(exec::Args),
    /// Follow the journal of a container or a node until Ctrl-C.
    Journal(journal::Args),
    /// Follow files in a container or on a node until Ctrl-C.
    Tail(tail::Args),
    /// Open an interactive root shell on a node (needs a root@pam password login).
    Shell(shell::Args),
    /// Open an interactive shell inside a container (`pct enter`; needs a root@pam login).
    Enter(enter::Args),
    /// Set up a cluster: pin its certificate on first use, log in once with a password, create
    /// a least-privilege API token (--role viewer|operator) and write it to the config file.
    Login(login::Args),
    /// Check every configured cluster: reachable, version, TLS mode, login, and for each
    /// feature whether the login has the privileges it needs.
    Doctor,
    /// Print a shell completion script (bash, zsh or fish): commands, flags, and the guests of
    /// the last `pvekit ls` for guest arguments.
    Completions(completions::Args),
    /// Write man pages (pvekit.1 and one per command) into a directory.
    Man(man::Args),
    /// Serve the live inventory over HTTP and WebSockets: GoDoxy's proxmox API, pvekit's
    /// own API, a web dashboard and Prometheus metrics (/pve, /metrics), until Ctrl-C.
    Serve(serve::Args),
    /// Print the cached guest names and VMIDs that complete CURRENT (used by the completion
    /// scripts; never connects).
    #[command(name = "__complete-targets", hide = true)]
    CompleteTargets(completions::TargetsArgs),
}

impl Command {
    /// Whether the command never talks to a cluster (and so reads no config file).
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Command::Sim(_)
                | Command::Completions(_)
                | Command::Man(_)
                | Command::CompleteTargets(_)
        )
    }
}

/// Wraps a secret flag value at once, so it never sits in a plain `String`.
fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "pvekit",
            "nodes",
            "--url",
            "https://x:8006",
            "-o",
            "json",
            "-vv",
            "--no-tls-verify",
        ])
        .unwrap();
        assert_eq!(cli.conn.url.as_deref(), Some("https://x:8006"));
        assert_eq!(cli.output, Format::Json);
        assert_eq!(cli.verbose, 2);
        assert!(cli.conn.no_tls_verify);
        assert!(matches!(cli.command, Command::Nodes));
    }
}
