/*!
`pvekit completions bash|zsh|fish`: the shell completion script, and the hidden
`pvekit __complete-targets CURRENT` that it calls for guest arguments.

The script is clap_complete's static one (every command and flag, generated from the clap
definition) plus a few lines of glue per shell: when the word being completed is the guest
argument of a command that takes one (the first positional of `status`, `start`, `exec`,
`tail`, ...: see [`target_commands`]) and does not start with `-`, the glue runs
`pvekit __complete-targets -- WORD` instead, which prints the guest names and VMIDs of the
last listing from the cache ([`crate::cache`]): no config is read and no connection made, so a
TAB never waits on the network. Everything else goes to the static completion.

The glue finds the guest argument the same way in each shell: after the command's name, skip
flags (and the value of those that take one, listed from the clap definition), stop at `--`
and at `--node` (the command then runs on a node, not in a guest); the first other word is the
guest.
*/

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cache;
use crate::cli::Cli;
use crate::commands::Context;

/// A shell `pvekit completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// For `source <(pvekit completions bash)`, e.g. in ~/.bashrc.
    Bash,
    /// For `source <(pvekit completions zsh)` after compinit, or a file `_pvekit` in $fpath.
    Zsh,
    /// For `pvekit completions fish | source`, or ~/.config/fish/completions/pvekit.fish.
    Fish,
}

/// Flags of `pvekit completions`.
#[derive(clap::Args)]
pub struct Args {
    /// The shell.
    pub shell: Shell,
}

/// Flags of the hidden `pvekit __complete-targets`.
#[derive(clap::Args)]
pub struct TargetsArgs {
    /// The word being completed.
    #[arg(default_value = "", allow_hyphen_values = true)]
    pub current: String,
}

/// `pvekit completions SHELL`: prints the script.
///
/// # Errors
/// Write errors.
pub fn run(args: &Args) -> Result<()> {
    let mut out = super::stdout();
    out.write_all(script(args.shell).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `pvekit __complete-targets CURRENT`: the cached completions of CURRENT, one per line.
/// Prints nothing when there is no cache; never fails but for write errors.
///
/// # Errors
/// Write errors.
pub fn run_targets(args: &TargetsArgs, ctx: &Context<'_>) -> Result<()> {
    let entries = cache::path(ctx.env)
        .map(|p| cache::read(&p))
        .unwrap_or_default();
    let mut out = super::stdout();
    for c in cache::candidates(&entries, &args.current) {
        writeln!(out, "{c}")?;
    }
    out.flush()?;
    Ok(())
}

/// The command line as completion shows it: without hidden commands (clap_complete would
/// offer them).
fn visible_command() -> clap::Command {
    let full = Cli::command();
    let mut cmd = clap::Command::new("pvekit")
        .version(crate::gitinfo::VERSION.as_str())
        .subcommand_required(true)
        .args(full.get_arguments().filter(|a| !a.is_hide_set()).cloned());
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd.subcommands(
        full.get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .cloned(),
    )
}

/// The commands whose first positional argument is a guest: an argument `target`, or a
/// value named `[TARGET] ...` (`tail`'s guest-then-files list).
pub fn target_commands(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|s| {
            s.get_positionals().next().is_some_and(|a| {
                a.get_id() == "target"
                    || a.get_value_names()
                        .is_some_and(|v| v.iter().any(|n| n.starts_with("[TARGET]")))
            })
        })
        .map(|s| s.get_name().to_string())
        .collect()
}

/// The flags that take a value (`--url`, `-o`, `--timeout`, ...) among the global flags and
/// the flags of `commands`, so that the glue skips their values.
pub fn value_flags(cmd: &clap::Command, commands: &[String]) -> Vec<String> {
    let subs = cmd
        .get_subcommands()
        .filter(|s| commands.iter().any(|c| c == s.get_name()));
    let mut flags = std::collections::BTreeSet::new();
    for a in cmd
        .get_arguments()
        .chain(subs.flat_map(clap::Command::get_arguments))
    {
        if a.is_positional() || !a.get_action().takes_values() {
            continue;
        }
        for long in a.get_long_and_visible_aliases().unwrap_or_default() {
            flags.insert(format!("--{long}"));
        }
        for short in a.get_short_and_visible_aliases().unwrap_or_default() {
            flags.insert(format!("-{short}"));
        }
    }
    flags.into_iter().collect()
}

/// The whole script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut cmd = visible_command();
    let targets = target_commands(&cmd);
    let values = value_flags(&cmd, &targets);
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut cmd, "pvekit", &mut buf);
    let generated = String::from_utf8_lossy(&buf).into_owned();
    // Commands as a word list, flags as case patterns (`|` in bash and zsh, blanks in fish).
    let fill = |glue: &str, sep: &str| {
        glue.replace("@TARGET_COMMANDS@", &targets.join(" "))
            .replace("@VALUE_FLAGS@", &values.join(sep))
    };
    match shell {
        Shell::Bash => format!("{generated}\n{}", fill(BASH, "|")),
        Shell::Zsh => {
            // The generated `_pvekit` becomes `_pvekit_static`, and `_pvekit` the glue, so the
            // file's last lines (compdef, or the call when autoloaded from $fpath) reach it.
            let (head, rest) = generated
                .split_once("\n_pvekit() {\n")
                .unwrap_or((&generated, ""));
            let (body, dispatch) = rest
                .rsplit_once("\nif [ \"$funcstack[1]\" = \"_pvekit\" ]; then")
                .unwrap_or((rest, ""));
            format!(
                "{head}\n_pvekit_static() {{\n{body}\n{}\nif [ \"$funcstack[1]\" = \"_pvekit\" ]; then{dispatch}",
                fill(ZSH, "|")
            )
        }
        Shell::Fish => format!("{generated}\n{}", fill(FISH, " ")),
    }
}

/// Bash glue. `COMP_LINE` is split on blanks rather than read from `COMP_WORDS`, which bash
/// also splits at `=` and `:` (`--url=https://...`).
const BASH: &str = r#"# Guest names and VMIDs of the last `pvekit ls` for guest arguments (no network call).
_pvekit_at_target() {
    local line="${COMP_LINE:0:COMP_POINT}" w cmd="" skip=0
    local -a words
    read -ra words <<< "$line"
    # Drop the word being completed (none when the line ends in a blank) and the program.
    [[ $line =~ [[:space:]]$ ]] || words=("${words[@]:0:${#words[@]}-1}")
    for w in "${words[@]:1}"; do
        if ((skip)); then
            skip=0
            continue
        fi
        case "$w" in
            -- | --node | --node=*) return 1 ;;
            @VALUE_FLAGS@) skip=1 ;;
            -*) ;;
            *)
                [[ -z $cmd ]] || return 1
                cmd="$w"
                ;;
        esac
    done
    [[ -n $cmd && " @TARGET_COMMANDS@ " == *" $cmd "* ]]
}

_pvekit_with_targets() {
    local cur="${COMP_WORDS[COMP_CWORD]}" bin="${COMP_WORDS[0]}"
    if [[ $cur != -* ]] && _pvekit_at_target; then
        [[ $bin == "~/"* ]] && bin="$HOME/${bin#"~/"}"
        local IFS=$'\n'
        COMPREPLY=($("$bin" __complete-targets -- "$cur" 2>/dev/null))
        return 0
    fi
    _pvekit "$@"
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _pvekit_with_targets -o nosort -o bashdefault -o default pvekit
else
    complete -F _pvekit_with_targets -o bashdefault -o default pvekit
fi
"#;

/// Zsh glue: `_pvekit` (its name is what compdef and autoloading call).
const ZSH: &str = r#"# Guest names and VMIDs of the last `pvekit ls` for guest arguments (no network call).
_pvekit() {
    local w cmd= skip=0
    local -a targets
    if [[ $PREFIX != -* ]]; then
        for w in "${(@)words[2,CURRENT-1]}"; do
            if (( skip )); then
                skip=0
                continue
            fi
            case "$w" in
                (--|--node|--node=*) cmd=; break ;;
                (@VALUE_FLAGS@) skip=1 ;;
                (-*) ;;
                (*)
                    if [[ -n $cmd ]]; then
                        cmd=
                        break
                    fi
                    cmd=$w
                    ;;
            esac
        done
        if [[ -n $cmd && " @TARGET_COMMANDS@ " == *" $cmd "* ]]; then
            targets=(${(f)"$(${~words[1]} __complete-targets -- "$PREFIX" 2>/dev/null)"})
            compadd -a targets
            return
        fi
    fi
    _pvekit_static "$@"
}
"#;

/// Fish glue.
const FISH: &str = r#"# Guest names and VMIDs of the last `pvekit ls` for guest arguments (no network call).
function __fish_pvekit_at_target
    set -l words (commandline -opc)
    set -l cmd
    set -l skip 0
    for w in $words[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case -- --node '--node=*'
                return 1
            case @VALUE_FLAGS@
                set skip 1
            case '-*'
            case '*'
                test -z "$cmd"; or return 1
                set cmd $w
        end
    end
    contains -- "$cmd" @TARGET_COMMANDS@
end

function __fish_pvekit_targets
    set -l words (commandline -opc)
    $words[1] __complete-targets -- (commandline -ct) 2>/dev/null
end

complete -c pvekit -n __fish_pvekit_at_target -f -a '(__fish_pvekit_targets)'
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_commands_are_found_in_the_definition() {
        let cmd = visible_command();
        let targets = target_commands(&cmd);
        for c in [
            "status",
            "start",
            "shutdown",
            "stop",
            "suspend",
            "resume",
            "reboot",
            "ips",
            "set-shutdown-timeout",
            "stats",
            "history",
            "wake",
            "exec",
            "journal",
            "tail",
            "enter",
        ] {
            assert!(targets.iter().any(|t| t == c), "{c} missing in {targets:?}");
        }
        for c in [
            "ls",
            "nodes",
            "shell",
            "node-stats",
            "lookup",
            "sim",
            "resolve",
            "man",
        ] {
            assert!(!targets.iter().any(|t| t == c), "{c} in {targets:?}");
        }
        assert!(
            cmd.get_subcommands()
                .all(|s| !s.get_name().starts_with("__") && s.get_name() != "help")
        );
    }

    /// The glue skips a value after each of these flags in every guest command, so a flag must
    /// not take a value in one of them and none in another.
    #[test]
    fn value_flags_mean_the_same_in_every_guest_command() {
        let cmd = visible_command();
        let targets = target_commands(&cmd);
        let values = value_flags(&cmd, &targets);
        for f in [
            "--url",
            "-o",
            "--output",
            "--config",
            "--timeout",
            "-n",
            "-u",
        ] {
            assert!(values.iter().any(|v| v == f), "{f} missing in {values:?}");
        }
        assert!(!values.iter().any(|v| v == "--no-wait" || v == "--demo"));
        for sub in cmd
            .get_subcommands()
            .filter(|s| targets.iter().any(|t| t == s.get_name()))
        {
            for a in sub.get_arguments().filter(|a| !a.is_positional()) {
                let names = a
                    .get_long_and_visible_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| format!("--{l}"));
                for n in names {
                    assert_eq!(
                        values.contains(&n),
                        a.get_action().takes_values(),
                        "{n} of {}",
                        sub.get_name()
                    );
                }
            }
        }
    }

    #[test]
    fn scripts_carry_the_glue() {
        let bash = script(Shell::Bash);
        assert!(bash.contains("complete -F _pvekit_with_targets"));
        assert!(bash.contains(" status "));
        assert!(!bash.contains("@TARGET_COMMANDS@") && !bash.contains("@VALUE_FLAGS@"));
        assert!(
            !bash.contains("__complete-targets)"),
            "hidden command not offered"
        );
        let zsh = script(Shell::Zsh);
        assert!(zsh.starts_with("#compdef pvekit\n"), "{}", &zsh[..40]);
        assert_eq!(zsh.matches("\n_pvekit_static() {\n").count(), 1);
        assert_eq!(zsh.matches("\n_pvekit() {\n").count(), 1);
        assert!(zsh.trim_end().ends_with("compdef _pvekit pvekit\nfi"));
        let fish = script(Shell::Fish);
        assert!(fish.contains("complete -c pvekit -n __fish_pvekit_at_target"));
        assert!(!fish.contains("-a \"__complete-targets\""));
    }
}
