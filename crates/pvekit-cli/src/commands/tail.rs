/*!
`pvekit tail [T | --node NODE] FILE...`: follows files in a container or on a node until
Ctrl-C.

Remote control characters are shown harmlessly when stdout is a terminal (see
[`crate::safe_output`]); `--raw` passes them through.
*/

use anyhow::Result;
use pvekit::{Client, TailOptions};

use crate::commands::remote::{Builder, LogArgs, Place, finish, pump, safe_filter, start};
use crate::commands::{Context, target};
use crate::settings::usage;

/// Flags of `pvekit tail`.
#[derive(clap::Args)]
pub struct Args {
    /// The container (VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID), then the files; with
    /// --node only the files.
    #[arg(required = true, value_name = "[TARGET] FILE")]
    pub args: Vec<String>,
    /// Tail files on this node (NAME or CLUSTER/NAME) instead of in a container.
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// History, following and raw output.
    #[command(flatten)]
    pub log: LogArgs,
}

/// The validated inputs of `pvekit tail`.
#[derive(Debug, PartialEq)]
struct Tail {
    /// Where the files are.
    place: Place,
    /// The files.
    files: Vec<String>,
    /// Lines of history.
    lines: usize,
    /// Follow until Ctrl-C.
    follow: bool,
    /// Control characters as they come.
    raw: bool,
}

impl Args {
    fn validate(&self) -> Result<Tail> {
        let (place, files) = match &self.node {
            Some(n) => (Place::Node(n.clone()), self.args.clone()),
            None => match self.args.split_first() {
                Some((t, files)) if !files.is_empty() => (Place::Guest(target(t)?), files.to_vec()),
                _ => {
                    return Err(usage(
                        "tail needs a container and at least one file (or --node NODE and files)",
                    ));
                }
            },
        };
        Ok(Tail {
            place,
            files,
            lines: self.log.lines,
            follow: !self.log.no_follow,
            raw: self.log.raw,
        })
    }
}

/// `pvekit tail`.
///
/// # Errors
/// Invalid arguments (usage errors); connection and terminal errors; a failing `tail`.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let t = args.validate()?;
    ctx.on_clusters(async |clients| {
        tail(clients, &t.place, &t.files, t.lines, t.follow, t.raw).await
    })
    .await
}

/// Prints `files` in `place`.
///
/// # Errors
/// Connection and terminal errors; a failing `tail`.
async fn tail(
    clients: &[Client],
    place: &Place,
    files: &[String],
    lines: usize,
    follow: bool,
    raw: bool,
) -> Result<()> {
    let options = TailOptions {
        files: files.to_vec(),
        lines,
        follow,
    };
    let stream = start(clients, place, Builder::Tail(options)).await?;
    finish(pump(stream, safe_filter(raw)).await?, "tail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::parse;

    use crate::target::Target;

    fn tail_of(args: &[&str]) -> Result<Tail> {
        match parse(args) {
            Command::Tail(a) => a.validate(),
            _ => panic!("not tail"),
        }
    }

    #[test]
    fn inputs() {
        assert_eq!(
            tail_of(&["tail", "web", "/var/log/a", "/var/log/b"]).unwrap(),
            Tail {
                place: Place::Guest(Target::Name("web".into())),
                files: vec!["/var/log/a".into(), "/var/log/b".into()],
                lines: 100,
                follow: true,
                raw: false,
            }
        );
        assert_eq!(
            tail_of(&[
                "tail",
                "--node",
                "pve1",
                "/var/log/a",
                "-n",
                "5",
                "--no-follow"
            ])
            .unwrap(),
            Tail {
                place: Place::Node("pve1".into()),
                files: vec!["/var/log/a".into()],
                lines: 5,
                follow: false,
                raw: false,
            }
        );
        let e = tail_of(&["tail", "web"]).err().unwrap();
        assert!(
            e.downcast_ref::<crate::settings::UsageError>().is_some(),
            "{e}"
        );
    }
}
