//! Daily-use extras: shell completions (static, and guest targets from the cache `pvekit ls`
//! writes), man pages, `--version`, and colours only on a terminal without NO_COLOR.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{BIN, Bg, Out, Sim, args, on_a_terminal, pvekit, run};

const SMALL: &str = r#"
cluster: lab
nodes:
  - {name: pve1, ip: 10.10.10.1}
  - {name: pve2, ip: 10.10.10.2}
guests:
  - {type: lxc, vmid: 100, node: pve1, name: web, status: running}
  - {type: lxc, vmid: 101, node: pve1, name: db}
  - {type: qemu, vmid: 200, node: pve2, name: winbox, status: running}
"#;

/// Whether a program is on the PATH.
fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A PATH with the binary under test first.
fn path_with_pvekit() -> String {
    let dir = Path::new(BIN).parent().unwrap().display().to_string();
    format!("{dir}:/usr/local/bin:/usr/bin:/bin")
}

/// A shell running `script`, with pvekit on its PATH and the cache in `cache`.
fn shell(program: &str, script: &str, cache: &Path) -> Out {
    run(Command::new(program)
        .args(["-c", script])
        .env_clear()
        .env("PATH", path_with_pvekit())
        .env("XDG_CACHE_HOME", cache)
        .stdin(Stdio::null()))
}

/// Bash's completion of `line` (a command line typed up to the cursor), as the completion
/// function sets COMPREPLY.
const BASH_COMPLETE: &str = r#"
source <(pvekit completions bash) || exit 1
line="$1"
COMP_LINE="$line"
COMP_POINT=${#line}
read -ra COMP_WORDS <<< "$line"
[[ $line =~ [[:space:]]$ ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
spec=$(complete -p pvekit) || exit 1
func=${spec#*-F }
func=${func%% *}
"$func" pvekit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

fn bash_complete(line: &str, cache: &Path) -> Vec<String> {
    let out = run(Command::new("bash")
        .args(["-c", BASH_COMPLETE, "bash", line])
        .env_clear()
        .env("PATH", path_with_pvekit())
        .env("XDG_CACHE_HOME", cache)
        .stdin(Stdio::null()));
    out.ok()
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn completions_load_in_bash() {
    let cache = tempfile::tempdir().unwrap();
    let out = shell(
        "bash",
        "source <(pvekit completions bash) && complete -p pvekit",
        cache.path(),
    );
    let spec = out.ok();
    assert!(
        spec.starts_with("complete ") && spec.trim_end().ends_with(" pvekit"),
        "{spec}"
    );
    // Commands and flags come from the clap definition.
    let words = bash_complete("pvekit st", cache.path());
    for w in ["status", "start", "stop", "stats"] {
        assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
    }
    let words = bash_complete("pvekit ls --out", cache.path());
    assert_eq!(words, ["--output"]);
    // Without a cache, a guest argument completes to nothing rather than failing.
    assert!(bash_complete("pvekit status ", cache.path()).is_empty());
}

#[test]
fn completions_parse_in_zsh_and_fish() {
    for (sh, flag) in [("zsh", "-n"), ("fish", "--no-execute")] {
        if !have(sh) {
            eprintln!("{sh} not installed; skipped");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("pvekit.{sh}"));
        let script = run(&mut pvekit(&["completions", sh])).ok().to_string();
        std::fs::write(&file, script).unwrap();
        let out = run(Command::new(sh).arg(flag).arg(&file).stdin(Stdio::null()));
        out.ok();
    }
}

/// The cache file under `cache`.
fn cache_file(cache: &Path) -> PathBuf {
    cache.join("pvekit").join("targets.json")
}

#[test]
fn ls_feeds_guest_completion() {
    let sim = Sim::scenario(SMALL);
    let base = sim.token_args();
    let cache = tempfile::tempdir().unwrap();
    run(pvekit(&args(&base, &["ls"])).env("XDG_CACHE_HOME", cache.path())).ok();

    let file = cache_file(cache.path());
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [&sim.info.secret, &sim.info.token_id, &sim.info.url] {
        assert!(!text.contains(secret.as_str()), "{text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
    }

    // The hidden command the scripts call: no connection flags, no config, no network.
    let out = run(pvekit(&["__complete-targets", "w"]).env("XDG_CACHE_HOME", cache.path()));
    assert_eq!(out.ok(), "web\nwinbox\n");

    // Through bash, as a TAB would.
    let words = bash_complete("pvekit status ", cache.path());
    for w in ["web", "db", "winbox", "100", "101", "200"] {
        assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
    }
    assert_eq!(
        bash_complete("pvekit -o json start w", cache.path()),
        ["web", "winbox"]
    );
    assert_eq!(bash_complete("pvekit exec d", cache.path()), ["db"]);
    assert_eq!(
        bash_complete("pvekit stop pve2/", cache.path()),
        ["pve2/200"]
    );
    // Not for commands without a guest, nor past the guest, nor with --node.
    assert!(!bash_complete("pvekit ls ", cache.path()).contains(&"web".to_string()));
    assert!(!bash_complete("pvekit status web ", cache.path()).contains(&"db".to_string()));
    let node = bash_complete("pvekit journal --node pve1 ", cache.path());
    assert!(!node.contains(&"web".to_string()), "{node:?}");

    if have("fish") {
        let out = shell(
            "fish",
            "pvekit completions fish | source; complete -C 'pvekit status w'",
            cache.path(),
        );
        let words: Vec<&str> = out.ok().lines().collect();
        assert_eq!(words, ["web", "winbox"]);
    }

    // --demo's made-up guests do not replace the real cluster's.
    run(pvekit(&["--demo", "ls"]).env("XDG_CACHE_HOME", cache.path())).ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn watch_remembers_what_ls_remembers() {
    let sim = Sim::scenario(SMALL);
    let base = sim.token_args();
    let (by_ls, by_watch) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(pvekit(&args(&base, &["ls"])).env("XDG_CACHE_HOME", by_ls.path())).ok();
    let mut watch =
        Bg::spawn(pvekit(&args(&base, &["watch"])).env("XDG_CACHE_HOME", by_watch.path()));
    // The cache is written before the first listing is printed.
    watch.wait_line(std::time::Duration::from_secs(20), |l| {
        l.starts_with("added ")
    });
    assert!(watch.interrupt(std::time::Duration::from_secs(5)).success());
    let read = |dir: &Path| std::fs::read_to_string(cache_file(dir)).unwrap();
    assert_eq!(read(by_watch.path()), read(by_ls.path()));
}

#[test]
fn a_corrupt_cache_completes_to_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let file = cache_file(cache.path());
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{\"version\":1,\"guests\":[{\"vmid\":").unwrap();
    let out = run(pvekit(&["__complete-targets", ""]).env("XDG_CACHE_HOME", cache.path()));
    assert_eq!(out.ok(), "");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut pvekit(&["man", dir.path().to_str().unwrap()]));
    out.ok();
    for page in [
        "pvekit",
        "pvekit-ls",
        "pvekit-status",
        "pvekit-completions",
        "pvekit-man",
    ] {
        let path = dir.path().join(format!("{page}.1"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(&format!(".TH {page} 1")), "{page}:\n{text}");
    }
    let pages = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(pages > 20, "{pages} pages");
    assert!(!dir.path().join("pvekit-__complete-targets.1").exists());
    if have("man") {
        let page = dir.path().join("pvekit-status.1");
        let out = run(Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .stdin(Stdio::null()));
        let text = out.ok();
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
        assert!(text.contains("pvekit-status"), "{text}");
        assert!(
            text.contains("--no-wait") || text.contains("TARGET"),
            "{text}"
        );
    }
}

#[test]
fn version_names_the_package_version_and_commit() {
    let out = run(&mut pvekit(&["--version"]));
    let line = out.ok().trim();
    let prefix = concat!("pvekit ", env!("CARGO_PKG_VERSION"), " (");
    assert!(line.starts_with(prefix) && line.ends_with(')'), "{line}");
    let commit = &line[prefix.len()..line.len() - 1];
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    assert!(
        commit == "unknown" || (hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
}

#[test]
fn colours_only_on_a_terminal_and_never_with_no_color() {
    let sim = Sim::scenario(SMALL);
    let base = sim.token_args();
    let ls = args(&base, &["ls"]);
    let piped = run(&mut pvekit(&ls));
    assert!(piped.ok().contains("running"), "{}", piped.stdout);
    assert!(!piped.stdout.contains('\x1b'), "{:?}", piped.stdout);
    let piped = run(pvekit(&ls).env("NO_COLOR", "1"));
    assert!(!piped.ok().contains('\x1b'), "{:?}", piped.stdout);
    let json = run(&mut pvekit(&args(&base, &["ls", "-o", "json"])));
    assert!(!json.ok().contains('\x1b'));

    if !have("script") {
        eprintln!("script (util-linux) not installed; terminal cases skipped");
        return;
    }
    let tty = on_a_terminal(&[], &ls);
    assert!(tty.contains("\x1b[38;5;10mrunning"), "{tty:?}");
    assert!(tty.contains("stopped"), "{tty:?}");
    let tty = on_a_terminal(&["NO_COLOR=1"], &ls);
    assert!(tty.contains("running") && !tty.contains('\x1b'), "{tty:?}");
    // An empty NO_COLOR counts as unset.
    let tty = on_a_terminal(&["NO_COLOR="], &ls);
    assert!(tty.contains('\x1b'), "{tty:?}");
    // JSON has no colours, terminal or not.
    let tty = on_a_terminal(&[], &args(&base, &["ls", "-o", "json"]));
    assert!(tty.contains("\"vmid\"") && !tty.contains('\x1b'), "{tty:?}");
    let tty = on_a_terminal(&[], &args(&base, &["nodes"]));
    assert!(tty.contains("\x1b[38;5;10myes"), "{tty:?}");
}
