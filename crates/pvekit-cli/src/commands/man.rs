/*!
`pvekit man DIR`: writes the man pages generated from the command-line definition with
`clap_mangen`: `pvekit.1`, and `pvekit-COMMAND.1` for each command (as git names its pages,
so `man pvekit-status` finds one once DIR is on the `MANPATH`, e.g. `DIR` =
`~/.local/share/man/man1`).
*/

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// Flags of `pvekit man`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created if missing).
    #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: PathBuf,
}

/// `pvekit man DIR`: prints the path of each page written.
///
/// # Errors
/// The directory cannot be made or a page written.
pub fn run(args: &Args) -> Result<()> {
    let written = write_pages(&args.dir)?;
    let mut out = super::stdout();
    for p in written {
        writeln!(out, "{}", p.display())?;
    }
    out.flush()?;
    Ok(())
}

/// Writes `pvekit.1` and one page per visible command into `dir`; returns their paths.
///
/// # Errors
/// The directory cannot be made or a page written.
pub fn write_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cmd = Cli::command();
    let mut names = vec!["pvekit".to_string()];
    names.extend(
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("pvekit-{}", s.get_name())),
    );
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    Ok(names
        .into_iter()
        .map(|n| dir.join(format!("{n}.1")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_command() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_pages(dir.path()).unwrap();
        for p in &written {
            assert!(p.is_file(), "{}", p.display());
        }
        let mut on_disk: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        on_disk.sort();
        let mut expected = written.clone();
        expected.sort();
        assert_eq!(on_disk, expected, "no other files, none missing");
        let status = std::fs::read_to_string(dir.path().join("pvekit-status.1")).unwrap();
        assert!(status.starts_with(".ie \\n(.g .ds Aq"), "{status}");
        assert!(status.contains(".TH pvekit-status 1"), "{status}");
        assert!(status.contains("pvekit\\-status"), "{status}");
        assert!(!dir.path().join("pvekit-__complete-targets.1").exists());
    }
}
