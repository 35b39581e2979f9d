/*!
`pvekit`: a command-line toolkit for Proxmox VE.

[`cli`] holds the global flags and the list of subcommands; each command in [`commands`] is a
vertical slice that owns its flags, their checks and its `run`; [`settings`] layers the
connection flags over the environment and the config file; [`output`] renders results. All Proxmox logic lives in the
`pvekit` library (and `pvekit-sim` for the simulator).

Errors print as one line, `pvekit: <message>`, with exit status 1 (2 for usage errors).
`pvekit exec` exits with the remote command's status instead. A closed stdout
(`pvekit ls | head -1`) is not an error.
*/

mod cache;
mod cli;
mod commands;
mod gitinfo;
mod output;
mod safe_output;
mod settings;
mod target;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::Cli;
use crate::settings::UsageError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout (exit 0), usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    init_logging(cli.verbose);
    // `watch` runs for days doing little: one thread is enough, and costs less CPU (no
    // wake-ups across threads) and memory (no allocator arena per worker thread).
    let runtime = match cli.command {
        cli::Command::Watch(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(&cli)),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the Tokio runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let env = |key: &str| std::env::var(key).ok();
    let file = if settings::needs_config_file(cli) {
        settings::load_config_file(cli.config.as_deref(), &env)?
    } else {
        None
    };
    commands::run(commands::Context {
        cli,
        env: &env,
        file: file.as_ref(),
    })
    .await
}

/// Logs to stderr. `-v` shows pvekit's debug logs, `-vv` its trace logs and everyone's debug
/// logs, `-vvv` everything; without `-v`, `RUST_LOG` applies, else warnings only.
///
/// Below `-vvv`, `rustls_platform_verifier` is silenced: with a pinned fingerprint the system
/// verifier runs first and logs its expected rejection of a self-signed certificate at ERROR
/// level, although the pin then accepts it.
///
/// Whatever the flags and `RUST_LOG` say, other crates never log at TRACE level (see
/// [`no_foreign_trace`]): the websocket library logs the upgrade request (with the VNC ticket
/// and the login cookie) and every frame's payload (the terminal's auth line and keystrokes)
/// at that level, and HTTP libraries log bodies there.
fn init_logging(verbose: u8) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let with = |base: &str, ours: &str| {
        let mut s = format!("{base},rustls_platform_verifier=off");
        for krate in OUR_CRATES {
            s.push_str(&format!(",{krate}={ours}"));
        }
        s
    };
    let filter = match verbose {
        0 => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("warn,rustls_platform_verifier=off")),
        1 => EnvFilter::new(with("warn", "debug")),
        2 => EnvFilter::new(with("debug", "trace")),
        _ => EnvFilter::new("trace"),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(false)
        .with_filter(filter)
        .with_filter(tracing_subscriber::filter::filter_fn(no_foreign_trace));
    tracing_subscriber::registry().with(layer).init();
}

/// pvekit's own crates: the only ones whose TRACE logs are shown.
const OUR_CRATES: [&str; 4] = ["pvekit", "pvekit_core", "pvekit_sim", "pvekit_cli"];

/// Whether an event may be logged: anything from pvekit's crates, and up to DEBUG from the
/// others, which log secrets at TRACE.
fn no_foreign_trace(meta: &tracing::Metadata<'_>) -> bool {
    if *meta.level() != tracing::Level::TRACE {
        return true;
    }
    let krate = meta.target().split("::").next().unwrap_or("");
    OUR_CRATES.contains(&krate)
}

/// Prints `pvekit: <message>` and picks the exit status; a broken pipe is success.
fn report(err: &anyhow::Error) -> ExitCode {
    let broken_pipe = err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    // `pvekit exec` passes on the remote command's status, silently.
    if let Some(commands::Exit(code)) = err.downcast_ref::<commands::Exit>() {
        return ExitCode::from(*code);
    }
    let mut line = one_line_chain(err);
    if let Some(hint) = err
        .chain()
        .find_map(|c| c.downcast_ref::<pvekit::Error>())
        .and_then(hint)
    {
        line.push_str("; ");
        line.push_str(&hint);
    }
    let _ = writeln!(io::stderr(), "pvekit: {line}");
    if err.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// Like anyhow's `{:#}`, but skips a cause whose text its parent already includes (some error
/// types print their source and also return it from `source()`), and keeps it to one line.
/// What to do about a library error, in the CLI's words: its flags and variables where the
/// library names config settings.
fn hint(err: &pvekit::Error) -> Option<String> {
    match err {
        pvekit::Error::Tls { .. } => Some(
            "if this is your Proxmox VE node, pin its certificate with --fingerprint / PVEKIT_FINGERPRINT (shown under Node → System → Certificates), or skip verification with --no-tls-verify (insecure)".into(),
        ),
        pvekit::Error::NoSession => Some(
            "give the root@pam login with --username and --password (or PVEKIT_USERNAME / PVEKIT_PASSWORD, or username and password in the config file); node journals also work with a token".into(),
        ),
        pvekit::Error::TargetNotFound { .. } => Some(
            "`pvekit ls` lists the guests this login may see (those it has VM.Audit on); names are compared ignoring case".into(),
        ),
        other => other.hint(),
    }
}

fn one_line_chain(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || msg.contains(text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(text);
    }
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Doubled(io::Error);
    impl std::fmt::Display for Doubled {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot listen: {}", self.0)
        }
    }
    impl std::error::Error for Doubled {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_without_repetition_on_one_line() {
        let e = anyhow::Error::new(Doubled(io::Error::other("address in use")))
            .context("cannot start the simulator");
        assert_eq!(
            one_line_chain(&e),
            "cannot start the simulator: cannot listen: address in use"
        );
        let e = anyhow::anyhow!("line one\n  line two");
        assert_eq!(one_line_chain(&e), "line one line two");
    }

    #[test]
    fn broken_pipe_is_success() {
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert_eq!(report(&e), ExitCode::SUCCESS);
        let e = anyhow::Error::new(UsageError("x".into()));
        assert_eq!(report(&e), ExitCode::from(2));
    }
}
