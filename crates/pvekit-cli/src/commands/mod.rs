/*!
One module per command, a vertical slice: its clap arguments (`Args`, named by a variant of
[`Command`]), their checks (usage errors, exit status 2, reported before any connection is
made) and its `run`, which calls the library and hands rows to [`crate::output`]. [`run`]
dispatches each variant straight to its slice. A few modules hold what several commands
share: [`remote`] (`exec`, `journal`, `tail`) and [`term`] (`shell`, `enter`).

A slice gets the global flags, the environment and the config file through a [`Context`];
[`Context::on_clusters`] resolves the connection ([`crate::settings::connection`]) and opens
it with [`open`]: it connects to every configured cluster concurrently (or
starts the embedded simulator for `--demo`) and keeps going when only some clusters fail, so
one unreachable cluster does not hide the others. Those failures are returned by
[`Clusters::finish`] after the output is written.
*/

use std::io::{self, Write};

use anyhow::{Context as _, Result, anyhow};
use pvekit::{Client, Config};
use tokio::task::JoinSet;
use tracing::debug;

use crate::cli::{Cli, Command};
use crate::output::Format;
use crate::settings::{ConfigFile, Connection, usage};
use crate::target::Target;

pub mod completions;
pub mod doctor;
pub mod enter;
pub mod exec;
pub mod history;
pub mod ips;
pub mod journal;
pub mod login;
pub mod lookup;
pub mod ls;
pub mod man;
pub mod node_stats;
pub mod nodes;
pub mod power;
pub mod remote;
pub mod resolve;
pub mod serve;
pub mod set_shutdown_timeout;
pub mod shell;
pub mod sim;
pub mod stats;
pub mod status;
pub mod tail;
pub mod term;
pub mod wake;
pub mod watch;

/// Ends pvekit with this exit status and no message: `pvekit exec` passes on the remote
/// command's status this way.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// What a command runs with besides its own flags: the global flags, the environment and the
/// config file, from which [`Context::on_clusters`] resolves and opens the clusters.
pub struct Context<'a> {
    /// The parsed command line (its global flags; the command's own are passed apart).
    pub cli: &'a Cli,
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The config file, when one was read.
    pub file: Option<&'a ConfigFile>,
}

impl Context<'_> {
    /// Output format of listings.
    pub fn output(&self) -> Format {
        self.cli.output
    }

    /// Resolves the connection (flags, env, file), opens its clusters, runs `f` on their
    /// clients, and reports the clusters that could not be reached after `f`'s output.
    ///
    /// # Errors
    /// Connection settings that do not resolve, no cluster reachable, or `f`'s error.
    pub async fn on_clusters(&self, f: impl AsyncFnOnce(&[Client]) -> Result<()>) -> Result<()> {
        let clusters = open(crate::settings::connection(self.cli, &self.env, self.file)?).await?;
        let result = f(&clusters.clients).await;
        clusters.finish(result).await
    }
}

/// Runs the command of the command line: each one validates its own flags (before the
/// connection, so a typo is reported as such even without a config) and runs.
///
/// # Errors
/// Whatever the command reports; broken pipes come back as `io::Error`s in the chain.
pub async fn run(ctx: Context<'_>) -> Result<()> {
    match &ctx.cli.command {
        Command::Sim(args) => sim::run(args, &ctx).await,
        Command::Nodes => nodes::run(&ctx).await,
        Command::Ls => ls::run(&ctx).await,
        Command::Status(args) => status::run(args, &ctx).await,
        Command::Start(args) => power::run(args, pvekit::Action::Start, &ctx).await,
        Command::Shutdown(args) => power::run(args, pvekit::Action::Shutdown, &ctx).await,
        Command::Stop(args) => power::run(args, pvekit::Action::Stop, &ctx).await,
        Command::Suspend(args) => power::run(args, pvekit::Action::Suspend, &ctx).await,
        Command::Resume(args) => power::run(args, pvekit::Action::Resume, &ctx).await,
        Command::Reboot(args) => power::run(args, pvekit::Action::Reboot, &ctx).await,
        Command::Ips(args) => ips::run(args, &ctx).await,
        Command::SetShutdownTimeout(args) => set_shutdown_timeout::run(args, &ctx).await,
        Command::Stats(args) => stats::run(args, &ctx).await,
        Command::History(args) => history::run(args, &ctx).await,
        Command::NodeStats(args) => node_stats::run(args, &ctx).await,
        Command::Lookup(args) => lookup::run(args, &ctx).await,
        Command::Watch(args) => watch::run(args, &ctx).await,
        Command::Wake(args) => wake::run(args, &ctx).await,
        Command::Resolve(args) => resolve::run(args, &ctx).await,
        Command::Exec(args) => exec::run(args, &ctx).await,
        Command::Journal(args) => journal::run(args, &ctx).await,
        Command::Tail(args) => tail::run(args, &ctx).await,
        Command::Shell(args) => shell::run(args, &ctx).await,
        Command::Enter(args) => enter::run(args, &ctx).await,
        Command::Login(args) => login::run(args, &ctx).await,
        Command::Doctor => doctor::run(&ctx).await,
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Serve(args) => serve::run(args, &ctx).await,
        Command::CompleteTargets(args) => completions::run_targets(args, &ctx),
    }
}

/// A number of seconds given on the command line, between 0.05 and 86400.
///
/// # Errors
/// [`UsageError`](crate::settings::UsageError) naming `what`, the flag.
pub fn seconds(what: &str, secs: f64) -> Result<std::time::Duration> {
    if secs.is_finite() && (0.05..=86_400.0).contains(&secs) {
        Ok(std::time::Duration::from_secs_f64(secs))
    } else {
        Err(usage(format!(
            "{what} must be between 0.05 and 86400 seconds, got {secs}"
        )))
    }
}

/// A guest target given on the command line; a malformed one is a usage error.
///
/// # Errors
/// [`UsageError`](crate::settings::UsageError) naming the accepted forms.
pub fn target(s: &str) -> Result<Target> {
    s.parse::<Target>().map_err(usage)
}

/// Parses a command line (without the program name) as the tests' input.
#[cfg(test)]
pub fn parse(args: &[&str]) -> Command {
    use clap::Parser;
    let mut v = vec!["pvekit"];
    v.extend_from_slice(args);
    Cli::try_parse_from(v).unwrap().command
}

/// A node by `NAME` or `CLUSTER/NAME` among the nodes of `clients`.
///
/// # Errors
/// Unknown (listing the names) or ambiguous (listing the clusters).
pub fn node(clients: &[Client], name: &str) -> Result<pvekit::Node> {
    let pool = pvekit::NodePool::new();
    for c in clients {
        pool.add_client(c);
    }
    Ok(pool.get(name)?)
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM; the handlers are installed at the call.
///
/// # Errors
/// The signal handlers cannot be installed.
pub fn interrupted() -> impl Future<Output = Result<()>> + use<> {
    sim::shutdown_signal()
}

/// Connected clusters, plus the simulator behind `--demo` and the clusters that failed.
pub struct Clusters {
    /// The connected clients, in config order.
    pub clients: Vec<Client>,
    /// Clusters that could not be reached, as one message each.
    failures: Vec<anyhow::Error>,
    /// The embedded simulator of `--demo`.
    demo: Option<pvekit_sim::RunningSim>,
}

impl Clusters {
    /// Stops the demo simulator and turns the command's result and the connection failures
    /// into one result. The command's own error wins.
    async fn finish(self, result: Result<()>) -> Result<()> {
        if let Some(sim) = self.demo {
            sim.shutdown().await;
        }
        result?;
        match self.failures.len() {
            0 => Ok(()),
            n => {
                let total = n + self.clients.len();
                let each: Vec<String> = self.failures.iter().map(|e| format!("{e:#}")).collect();
                Err(anyhow!(
                    "could not reach {n} of {total} clusters: {}",
                    each.join("; ")
                ))
            }
        }
    }
}

/// Connects to the clusters of `conn`, starting the demo simulator for [`Connection::Demo`].
///
/// # Errors
/// When no cluster at all can be reached (with a single cluster: exactly its error), or the
/// demo simulator cannot start.
pub async fn open(conn: Connection) -> Result<Clusters> {
    match conn {
        Connection::Demo => {
            let options = pvekit_sim::SimOptions {
                listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                seed: 1,
                ..Default::default()
            };
            let sim = pvekit_sim::Simulator::start(options)
                .await
                .context("cannot start the demo simulator")?;
            let info = sim.info();
            debug!(url = %info.url, "demo simulator started");
            let config = Config {
                url: info.url.clone(),
                token_id: Some(info.token_id.clone()),
                secret: Some(info.secret.clone().into()),
                // API calls use the token; terminal commands need the root@pam login.
                username: Some(info.username.clone()),
                password: Some(info.password.clone().into()),
                fingerprint: Some(info.fingerprint.clone()),
                ..Default::default()
            };
            match Client::connect(&config).await {
                Ok(client) => Ok(Clusters {
                    clients: vec![client],
                    failures: Vec::new(),
                    demo: Some(sim),
                }),
                Err(e) => {
                    sim.shutdown().await;
                    Err(anyhow::Error::new(e).context("cannot connect to the demo simulator"))
                }
            }
        }
        Connection::Clusters(configs) => {
            let several = configs.len() > 1;
            let (clients, mut failures) = connect_all(configs).await;
            if clients.is_empty() {
                return Err(match failures.len() {
                    1 => failures.remove(0),
                    _ => {
                        let each: Vec<String> = failures.iter().map(|e| format!("{e:#}")).collect();
                        anyhow!("could not reach any cluster: {}", each.join("; "))
                    }
                });
            }
            debug!(
                connected = clients.len(),
                failed = failures.len(),
                several,
                "clusters"
            );
            Ok(Clusters {
                clients,
                failures,
                demo: None,
            })
        }
    }
}

/// Connects to every config concurrently. Errors name the cluster's url when there are
/// several (a single cluster's errors already do where it matters).
async fn connect_all(configs: Vec<Config>) -> (Vec<Client>, Vec<anyhow::Error>) {
    let several = configs.len() > 1;
    let mut set = JoinSet::new();
    for (i, config) in configs.into_iter().enumerate() {
        set.spawn(async move {
            let result = Client::connect(&config).await.map_err(|e| {
                let e = anyhow::Error::new(e);
                if several {
                    e.context(config.url.clone())
                } else {
                    e
                }
            });
            (i, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => results.push((usize::MAX, Err(anyhow!("connection task failed: {e}")))),
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let mut clients = Vec::new();
    let mut failures = Vec::new();
    for (_, r) in results {
        match r {
            Ok(c) => clients.push(c),
            Err(e) => failures.push(e),
        }
    }
    (clients, failures)
}

/// Clients with distinct URLs (the same cluster configured twice is listed once).
///
/// Deliberately not keyed by cluster name: two standalone nodes both called `pve` (the
/// installer's default) are different clusters with the same name, and hiding one of them
/// would be worse than listing a cluster twice that was configured through two of its nodes.
pub fn distinct_clusters(clients: &[Client]) -> Vec<&Client> {
    let mut seen = std::collections::BTreeSet::new();
    clients
        .iter()
        .filter(|c| seen.insert(c.url().to_string()))
        .collect()
}

/// Writes to stdout through a lock, for commands that render after async work.
pub fn stdout() -> impl Write {
    io::stdout().lock()
}
