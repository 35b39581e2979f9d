/*!
`pvekit exec [T | --node NODE] -- CMD...`: runs a command in a container (or on a node) and
exits with its exit status; `--timeout` ends the remote command and exits 124, as
`timeout(1)` does. Output is always raw, like `docker exec`.
*/

use std::time::Duration;

use anyhow::Result;
use pvekit::Client;

use crate::commands::remote::{Builder, Place, place, pump, start};
use crate::commands::{Context, Exit, seconds};

/// Flags of `pvekit exec`.
#[derive(clap::Args)]
pub struct Args {
    /// The container: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    #[arg(required_unless_present = "node", conflicts_with = "node")]
    pub target: Option<String>,
    /// Run on this node (NAME or CLUSTER/NAME) instead of in a container.
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Give up after this many seconds: the remote command is ended and pvekit exits 124.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The validated inputs of `pvekit exec`.
#[derive(Debug, PartialEq)]
struct Exec {
    /// Where.
    place: Place,
    /// The command's arguments (quoted when sent).
    argv: Vec<String>,
    /// How long the whole command may take.
    timeout: Option<Duration>,
}

impl Args {
    fn validate(&self) -> Result<Exec> {
        Ok(Exec {
            place: place(self.target.as_ref(), self.node.as_ref())?,
            argv: self.command.clone(),
            timeout: self.timeout.map(|t| seconds("--timeout", t)).transpose()?,
        })
    }
}

/// `pvekit exec`.
///
/// # Errors
/// Invalid flags (usage errors); [`Exit`] with the remote status when it is not 0;
/// connection and terminal errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let e = args.validate()?;
    ctx.on_clusters(async |clients| exec(clients, &e.place, &e.argv, e.timeout).await)
        .await
}

/// Maps a remote exit status to pvekit's: 0..=255 as is, anything else 255 (like ssh).
fn exit_code(status: i32) -> u8 {
    u8::try_from(status).unwrap_or(255)
}

/// Runs `argv` in `place`, within `timeout`.
///
/// # Errors
/// [`Exit`] with the remote status when it is not 0; connection and terminal errors.
async fn exec(
    clients: &[Client],
    place: &Place,
    argv: &[String],
    timeout: Option<Duration>,
) -> Result<()> {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let script = pvekit::core::command::join(&args);
    let run = async {
        let stream = start(clients, place, Builder::Script(&script)).await?;
        pump(stream, None).await
    };
    let status = match timeout {
        None => run.await?,
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(status) => status?,
            Err(_) => {
                // The stream was dropped with the future, which ended the remote command.
                eprintln!(
                    "pvekit: the command did not finish within {} s and was ended",
                    limit.as_secs_f64()
                );
                return Err(Exit(124).into());
            }
        },
    };
    match status {
        Some(0) => Ok(()),
        Some(status) => Err(Exit(exit_code(status)).into()),
        // Interrupted: 130, as a shell reports a command ended by Ctrl-C.
        None => Err(Exit(130).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::parse;

    fn exec_of(args: &[&str]) -> Result<Exec> {
        match parse(args) {
            Command::Exec(a) => a.validate(),
            _ => panic!("not exec"),
        }
    }

    #[test]
    fn inputs() {
        assert_eq!(
            exec_of(&["exec", "--node", "pve1", "--", "ls", "-l"]).unwrap(),
            Exec {
                place: Place::Node("pve1".into()),
                argv: vec!["ls".into(), "-l".into()],
                timeout: None,
            }
        );
        // Clap's own checks.
        use crate::cli::Cli;
        use clap::Parser;
        for bad in [
            &["pvekit", "exec", "101"][..],
            &["pvekit", "exec", "101", "--node", "pve1", "--", "ls"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3), 3);
        assert_eq!(exit_code(255), 255);
        assert_eq!(exit_code(-1), 255);
        assert_eq!(exit_code(300), 255);
    }
}
