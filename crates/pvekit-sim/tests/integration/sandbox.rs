//! Containment of the terminal sandboxes, the agent's trust in who asks, and the roots the
//! simulator writes into: all through the real termproxy websocket.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pvekit_sim::SimOptions;

use crate::termutil::{Who, session, term_opts};
use crate::util::start;

/// Field `n` (1-based, as in proc(5)) of `/proc/<pid>/stat`.
fn stat_field(pid: &str, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split(' ').nth(n - 3).map(str::to_string)
}

fn ns(pid: &str, kind: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()
}

fn real_uid(pid: &str) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Descendants of this process that live in another PID namespace (sandboxed processes) or
/// name `state` (bwrap itself).
fn sandboxed(state: &Path) -> Vec<String> {
    let mut parent: HashMap<String, String> = HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if pid.bytes().all(|b| b.is_ascii_digit())
            && let Some(ppid) = stat_field(&pid, 4)
        {
            parent.insert(pid, ppid);
        }
    }
    let me = std::process::id().to_string();
    let my_ns = ns("self", "pid");
    parent
        .keys()
        .filter(|pid| {
            let mut p = (*pid).clone();
            for _ in 0..64 {
                match parent.get(&p) {
                    Some(pp) if *pp == me => return true,
                    Some(pp) => p = pp.clone(),
                    None => return false,
                }
            }
            false
        })
        .filter(|pid| {
            (ns(pid, "pid").is_some() && ns(pid, "pid") != my_ns)
                || std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*state.to_string_lossy()))
        })
        .cloned()
        .collect()
}

/// The host's mounts: device → (root within the filesystem, mount point).
fn host_mounts() -> HashMap<String, Vec<(String, String)>> {
    let mut m: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for l in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        let f: Vec<&str> = l.split(' ').collect();
        m.entry(f[2].to_string())
            .or_default()
            .push((unescape(f[3]), unescape(f[4])));
    }
    m
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t")
}

/// Checks a sandbox's mountinfo: every mount of a host filesystem shows a host path below
/// the state directory, `/usr`, or one of bwrap's device nodes; other mounts are the
/// sandbox's own (proc, its /dev tmpfs, devpts).
fn check_mounts(mountinfo: &str, state: &Path, what: &str) {
    let host = host_mounts();
    let devices = ["null", "zero", "full", "random", "urandom", "tty"];
    let system: Vec<PathBuf> = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]
        .iter()
        .map(|d| Path::new("/").join(d))
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .collect();
    let mut seen = 0;
    for l in mountinfo.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split(' ').collect();
        assert!(f.len() > 5, "{what}: odd mountinfo line {l:?}");
        let (dev, root, point) = (f[2], unescape(f[3]), unescape(f[4]));
        seen += 1;
        let Some(candidates) = host.get(dev) else {
            continue; // a filesystem of the sandbox's own
        };
        let fstype = l.split(" - ").nth(1).and_then(|t| t.split(' ').next());
        if point == "/dev/console" && fstype == Some("devpts") {
            continue; // bwrap's --dev binds the session's own terminal there
        }
        let paths: Vec<PathBuf> = candidates
            .iter()
            .filter_map(|(hroot, hpoint)| {
                let rel = if hroot == "/" {
                    Some(root.as_str())
                } else {
                    root.strip_prefix(hroot.as_str())
                        .filter(|r| r.is_empty() || r.starts_with('/'))
                }?;
                Some(PathBuf::from(format!(
                    "{}/{}",
                    hpoint.trim_end_matches('/'),
                    rel.trim_start_matches('/')
                )))
            })
            .collect();
        let allowed = |p: &Path| {
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            p.starts_with(state)
                || p == Path::new("/usr")
                || system.iter().any(|s| &p == s)
                || devices.iter().any(|d| p == Path::new("/dev").join(d))
        };
        assert!(
            paths.iter().any(|p| allowed(p)),
            "{what}: {point} shows host path(s) {paths:?} (mount {l:?})"
        );
        if point == "/usr" {
            assert!(
                f[5].split(',').any(|o| o == "ro"),
                "{what}: /usr must be read-only: {l}"
            );
        }
    }
    assert!(seen >= 4, "{what}: no mountinfo: {mountinfo:?}");
}

/// The probe run inside a sandbox (bash, no single quotes: it goes into `bash -c '...'`).
fn probe(port: u16) -> String {
    format!(
        "grep CapEff /proc/self/status; echo uid_map=$(cat /proc/self/uid_map); \
         if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo tcp=reachable; else echo tcp=unreachable; fi; \
         echo nproc=$(ulimit -H -u) $(ulimit -S -u); echo fsize=$(ulimit -H -f) $(ulimit -S -f); \
         echo cpu=$(ulimit -H -t) $(ulimit -S -t); echo mounts:; cat /proc/self/mountinfo"
    )
}

/// Checks what a probe printed. Sessions are checked from the host (below): inside, a
/// session whose leader is outside the sandbox's PID namespace reads as 0, whoever leads it.
fn check_probe(out: &str, state: &Path, what: &str) {
    let (head, mounts) = out
        .split_once("mounts:\n")
        .unwrap_or_else(|| panic!("{what}: {out}"));
    let value = |k: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("{what}: no {k} in {head}"))
            .trim()
            .to_string()
    };
    assert_eq!(value("CapEff:"), "0000000000000000", "{what}: capabilities");
    let map: Vec<&str> = head
        .lines()
        .find_map(|l| l.strip_prefix("uid_map="))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(map.len(), 3, "{what}: {map:?}");
    assert_ne!(map, ["0", "0", "4294967295"], "{what}: no user namespace");
    assert_eq!((map[0], map[2]), ("0", "1"), "{what}: root maps one uid");
    assert_eq!(
        value("tcp="),
        "unreachable",
        "{what}: host loopback reachable"
    );
    for k in ["nproc=", "fsize=", "cpu="] {
        let v = value(k);
        let nums: Vec<&str> = v.split(' ').collect();
        assert_eq!(nums.len(), 2, "{what}: {k}{v}");
        assert!(
            nums.iter().all(|n| n.parse::<u64>().is_ok()),
            "{what}: {k}{v} must be finite"
        );
    }
    check_mounts(mounts, state, what);
}

#[tokio::test]
async fn sandboxes_are_contained() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = std::fs::canonicalize(s.sim.state_dir()).unwrap();
    let my_sid = stat_field("self", 6).unwrap();
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    let p = probe(port);
    let (out, code) = t
        .framed(&format!(
            "bash -c '{p}'; echo ct:; pct exec 100 -- bash -c '{p}'"
        ))
        .await;
    assert_eq!(code, 0, "{out}");
    let (node, ct) = out.split_once("ct:\n").expect("two probes");
    check_probe(node, &state, "node shell");
    check_probe(ct, &state, "pct exec");
    drop(listener);

    // Seen from the host: no sandboxed process is root or in the simulator's session, the
    // node shell's nor a container's (`pct enter`, started next to it by the agent).
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("root@pve1:~# ").await;
    t.input("pct enter 100\r").await;
    t.until("root@web:~# ").await;
    let procs = sandboxed(&state);
    assert!(procs.len() >= 4, "{procs:?}");
    let root = euid_is_root();
    for pid in &procs {
        let Some(sid) = stat_field(pid, 6) else {
            continue; // gone meanwhile
        };
        assert_ne!(sid, my_sid, "process {pid} shares the simulator's session");
        if root && let Some(uid) = real_uid(pid) {
            assert_ne!(uid, 0, "process {pid} runs as host root");
        }
    }
    t.input("exit\r").await;
    t.until("root@pve1:~# ").await;
}

fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}

/// A container asks with its own socket: rewriting files cannot make it a node.
#[tokio::test]
async fn the_agent_trusts_the_socket_not_the_sandbox() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    let (out, code) = t
        .framed(
            "pct exec 100 -- sh -c 'mkdir -p /var/lib/pvekit; echo \"node pve1\" > /var/lib/pvekit/scope; \
             hostname pve1 2>/dev/null; journalctl -n 3 --no-pager'; \
             pct exec 100 -- /usr/local/sbin/pvekit-agent status 103; echo rc=$?; \
             pct exec 100 -- /usr/local/sbin/pvekit-agent exec 103 0 xterm true; echo rc=$?",
        )
        .await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.len() >= 3 && lines[..3].iter().all(|l| l.contains(" web ")),
        "the container's own journal: {out}"
    );
    assert_eq!(lines.len(), 7, "{out}");
    assert!(lines[3].contains("cannot 'status' here"), "{out}");
    assert_eq!(lines[4], "rc=255");
    assert!(lines[5].contains("cannot 'exec' here"), "{out}");
    assert_eq!(lines[6], "rc=255");
}

/// The victim files of the symlink attacks, outside every root.
struct Victims {
    _dir: tempfile::TempDir,
    file: PathBuf,
    dir: PathBuf,
}

impl Victims {
    fn new() -> Victims {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("victim.txt");
        std::fs::write(&file, "untouched\n").unwrap();
        let dir = d.path().join("victim-dir");
        std::fs::create_dir(&dir).unwrap();
        Victims { file, dir, _dir: d }
    }
    fn check(&self, when: &str) {
        assert_eq!(
            std::fs::read_to_string(&self.file).unwrap(),
            "untouched\n",
            "{when}: the simulator wrote through /etc/hostname"
        );
        let entries: Vec<_> = std::fs::read_dir(&self.dir).unwrap().flatten().collect();
        assert!(
            entries.is_empty(),
            "{when}: the simulator wrote through /etc: {entries:?}"
        );
        use std::os::unix::fs::MetadataExt;
        let me = std::fs::metadata("/proc/self").unwrap().uid();
        for p in [&self.file, &self.dir] {
            assert_eq!(
                std::fs::symlink_metadata(p).unwrap().uid(),
                me,
                "{when}: {} changed owner",
                p.display()
            );
        }
    }
}

#[tokio::test]
async fn planted_symlinks_are_never_followed() {
    let v = Victims::new();
    let state = tempfile::tempdir().unwrap();
    let opts = || SimOptions {
        state_dir: Some(state.path().to_path_buf()),
        ..term_opts()
    };
    let s = start(opts()).await;
    let login = s.login().await;
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    // The node's /etc/hostname, a container's /etc, a container's /var/log.
    let script = format!(
        "rm -f /etc/hostname && ln -s {file} /etc/hostname && \
         pct exec 100 -- sh -c 'cp -a /etc /etc.real && rm -rf /etc && ln -s {dir} /etc' && \
         pct exec 102 -- sh -c 'rm -rf /var/log && ln -s {dir} /var/log' && echo planted",
        file = v.file.display(),
        dir = v.dir.display()
    );
    let (out, code) = t.framed(&script).await;
    assert_eq!((out.as_str(), code), ("planted\n", 0));
    v.check("after planting");

    // Another session of the same run.
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    let (out, _) = t.framed("pct exec 100 -- true; echo ok").await;
    assert_eq!(out, "ok\n");
    v.check("next session");
    drop(t);
    s.sim.shutdown().await;

    // The next run prepares the roots again.
    let s = start(opts()).await;
    let login = s.login().await;
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    let (out, _) = t
        .framed("pct exec 100 -- true; pct exec 102 -- true; echo ok")
        .await;
    assert_eq!(out, "ok\n");
    let (mut c, _) = session(&s, &Who::Token, "/nodes/pve1/lxc/100").await;
    c.until("# ").await;
    v.check("next run");
}

/// Processes, file size and CPU time are limited inside; the limits cannot be raised.
#[tokio::test]
async fn limits_hold_inside() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    let started = Instant::now();
    let (out, code) = t
        .framed(
            "ulimit -u unlimited 2>/dev/null && echo raised-u; ulimit -H -f unlimited 2>/dev/null && echo raised-f; \
             head -c 300000000 /dev/zero > /tmp/big 2>/dev/null; echo fsize=$?; ls -l /tmp/big | cut -d' ' -f5; rm -f /tmp/big",
        )
        .await;
    assert_eq!(code, 0);
    assert_eq!(out, "fsize=153\n268435456\n", "SIGXFSZ at 256 MiB");
    assert!(started.elapsed() < Duration::from_secs(60));
}
