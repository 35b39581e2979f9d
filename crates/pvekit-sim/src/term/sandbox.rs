//! The state directory and the bubblewrap sandboxes terminal sessions run in.
//!
//! # Layout
//!
//! Below the state directory (a fresh temporary one per simulator, removed when the simulator
//! is dropped, unless [`crate::SimOptions::state_dir`] names one):
//!
//! - `nodes/<node>`: a node's root; `containers/<vmid>`: a container's root. Container roots
//!   are *not* inside their node's root: a node session could otherwise swap
//!   `var/lib/lxc/<vmid>/rootfs` for a symlink to any host directory, and the next container
//!   sandbox would bind that as its `/`. The node sees them anyway, bound where pve-container
//!   mounts them (`/var/lib/lxc/<vmid>/rootfs`).
//! - `tools/<set>`: the simulator's scripts ([`super::scripts`]), bound read-only over
//!   `/usr/local/sbin` (sets `node`, `ct-systemd`, `ct-plain`).
//! - `agent/<n>/agent.sock`: one Unix socket of the agent per node and per container, its
//!   directory bound read-only on `/run/pvekit` (see [`super::agent`]).
//!
//! # The sandbox
//!
//! Every shell, `login`, console, `pct exec` and `pct enter` runs in `bwrap` with:
//!
//! - its own **user namespace** (`--unshare-user --uid 0 --gid 0`): the sandbox is root in
//!   name only. When the simulator runs as root, bwrap itself runs as [`SANDBOX_UID`]
//!   (`nobody`, set with `Command::uid/gid`, which also drops supplementary groups): as
//!   measured, bwrap started by real root keeps every capability inside
//!   (`CapEff 000001fffeffffff`) even with `--unshare-user`, while started unprivileged it
//!   drops them all (`CapEff 0`, `uid_map` `0 65534 1`); `--cap-drop ALL` says so again. When
//!   the simulator is not root, bwrap runs as the simulator's user. The roots are then owned
//!   by that user (the simulator gives everything it creates, and at the first session of a
//!   run the whole root, to it), so "root" inside owns its files;
//! - its own **network namespace** (`--unshare-net`: only a loopback, no host ports), PID, IPC,
//!   UTS (hostname) and, where possible, cgroup namespaces;
//! - a **session of its own**: PTY sessions are started as session leaders of their PTY
//!   (`setsid` and `TIOCSCTTY` by pty-process), so job control and Ctrl-C work; `pct exec`
//!   sandboxes, which have pipes and no terminal, are started through util-linux `setsid`.
//!   Nothing in a sandbox shares the simulator's session or terminal. bwrap's own
//!   `--new-session` is not used: it would move bwrap's init out of the process group the
//!   simulator kills, and an init killed before it arms `--die-with-parent` would then
//!   outlive its sandbox's end (seen in the leak test);
//! - **limits** set by a tiny bash wrapper before it `exec`s the real command
//!   ([`LIMITS`]): processes ([`MAX_PROCS`], `RLIMIT_NPROC`, counted per user namespace, so
//!   per sandbox), file size ([`MAX_FILE_BLOCKS`] KiB, `RLIMIT_FSIZE`), CPU time
//!   ([`MAX_CPU_SECS`] s per process, `RLIMIT_CPU`) and no core dumps, hard and soft
//!   (`ulimit -H -S`), so nothing inside can raise them again;
//! - only these mounts: the root read-write as `/`, the host's `/usr` read-only (the
//!   merged-usr symlinks `/bin`, `/lib`, ... live in the root; on a host without merged usr
//!   its real `/bin`, `/lib`, ... are bound read-only too), the tools read-only, the agent's
//!   socket directory read-only, a fresh `/proc` and `/dev` (bwrap's minimal device set), and
//!   on a node the roots of its containers;
//! - `--die-with-parent`: it dies with the simulator.
//!
//! Sandboxes never start other sandboxes: nested bwrap inside a sandbox whose user is uid 0
//! fails (mapping the parent namespace's root needs `CAP_SETFCAP` since Linux 5.12), so `pct
//! exec` and `pct enter` ask the agent, which starts the container's sandbox as a sibling
//! from the simulator side and relays it.
//!
//! # Writes into the roots
//!
//! The simulator prepares a node's root and those of its containers once per run, before the
//! first sandbox of that node starts (not at every session), and writes only through
//! [`super::rootfs`], which never follows a symlink a session may have planted. A container
//! added at run time ([`crate::SimControl`]) gets its root, and its mount point in its node's
//! root, before the first sandbox that needs it ([`StateDir::prepare_cts`]), the same way,
//! also while sessions of that node run; a node added at run time is prepared at its first
//! session like any other.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::journal;
use super::rootfs::{Existing, Root};
use super::scripts;
use crate::SimError;

/// What a sandbox needs to know about a container.
#[derive(Debug, Clone)]
pub(crate) struct CtInfo {
    pub vmid: u32,
    pub hostname: String,
    pub ostype: String,
    /// The guest's seed (its journal's).
    pub seed: u64,
}

impl CtInfo {
    /// Whether the container's distribution boots with systemd (and so has a journal).
    pub fn systemd(&self) -> bool {
        !matches!(self.ostype.as_str(), "alpine" | "gentoo" | "unmanaged")
    }

    /// The tool set of the container's sandbox.
    pub fn tools(&self) -> &'static str {
        if self.systemd() {
            "ct-systemd"
        } else {
            "ct-plain"
        }
    }
}

/// The host directories a sandbox shows: merged-usr symlinks are recreated in each root,
/// real directories are bound read-only.
#[derive(Debug, Clone)]
enum HostDir {
    Symlink(PathBuf),
    Dir,
}

/// The host user the sandboxes run as when the simulator runs as root (`nobody`).
pub(crate) const SANDBOX_UID: u32 = 65534;
/// Its group (`nogroup`).
pub(crate) const SANDBOX_GID: u32 = 65534;
/// `RLIMIT_NPROC` inside a sandbox.
pub(crate) const MAX_PROCS: u32 = 512;
/// `RLIMIT_FSIZE` inside a sandbox, in KiB (`ulimit -f` blocks): 256 MiB.
pub(crate) const MAX_FILE_BLOCKS: u32 = 256 * 1024;
/// `RLIMIT_CPU` inside a sandbox, in seconds per process.
pub(crate) const MAX_CPU_SECS: u32 = 600;

/// The wrapper every sandbox runs first: `bash -c LIMITS pvekit-sandbox CMD ARGS...`.
pub(crate) const LIMITS: &str =
    "ulimit -H -S -u @PROCS@ -f @FSIZE@ -t @CPU@ -c 0 || exit 126; exec \"$@\"";

/// Who runs the sandboxes on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SandboxUser {
    pub uid: u32,
    pub gid: u32,
    /// Whether bwrap is started with this uid/gid (the simulator is root) rather than as the
    /// simulator's own user.
    pub switch: bool,
}

impl SandboxUser {
    fn current() -> SandboxUser {
        let euid = rustix::process::geteuid().as_raw();
        if euid == 0 {
            SandboxUser {
                uid: SANDBOX_UID,
                gid: SANDBOX_GID,
                switch: true,
            }
        } else {
            SandboxUser {
                uid: euid,
                gid: rustix::process::getegid().as_raw(),
                switch: false,
            }
        }
    }

    /// The owner of what the simulator creates in the roots (only when it is root).
    fn owner(self) -> Option<(u32, u32)> {
        self.switch.then_some((self.uid, self.gid))
    }
}

/// The state directory, the bwrap binary and the host layout.
#[derive(Debug)]
pub(crate) struct StateDir {
    path: PathBuf,
    /// The bwrap binary, or why terminals cannot run on this host.
    bwrap: Result<(PathBuf, PathBuf), String>,
    host_dirs: Vec<(&'static str, HostDir)>,
    user: SandboxUser,
    /// Keeps a temporary directory alive; removing it on drop.
    _temp: Option<tempfile::TempDir>,
}

/// One sandbox to start.
#[derive(Debug, Clone)]
pub(crate) struct Sandbox {
    /// Its `/`.
    pub root: PathBuf,
    pub hostname: String,
    /// The tool set on `/usr/local/sbin`.
    pub tools: &'static str,
    /// The agent's socket directory for it, bound on `/run/pvekit`.
    pub agent: PathBuf,
    /// More read-write binds (host path, path inside).
    pub binds: Vec<(PathBuf, String)>,
    /// Working directory inside.
    pub chdir: String,
}

/// The top-level host directories besides `/usr` that programs need.
const SYSTEM_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `PATH` inside every sandbox.
pub(crate) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn startup(msg: impl Into<String>) -> SimError {
    SimError::Startup(msg.into())
}

/// Finds a program on the host's `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The host's bwrap and setsid, if sandboxes can run: a `/usr/local/sbin` to mount the tools
/// on.
fn usable_bwrap() -> Result<(PathBuf, PathBuf), String> {
    let bwrap = find_program("bwrap").ok_or_else(|| {
        "bwrap not found on PATH; install bubblewrap (Debian package 'bubblewrap')".to_string()
    })?;
    let setsid = find_program("setsid")
        .ok_or_else(|| "setsid not found on PATH; install util-linux".to_string())?;
    if !Path::new("/usr/local/sbin").is_dir() {
        return Err("the host has no /usr/local/sbin to mount the tools on".into());
    }
    Ok((bwrap, setsid))
}

/// Sets the mode of a directory the simulator owns.
fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Why the sandbox user cannot reach `dir`, if it cannot (some ancestor not searchable).
fn unreachable(dir: &Path, user: SandboxUser) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut p = Some(dir);
    while let Some(d) = p {
        let Ok(m) = fs::metadata(d) else {
            return Some(format!("{} cannot be read", d.display()));
        };
        let ok = if m.uid() == user.uid {
            m.mode() & 0o100 != 0
        } else if m.gid() == user.gid {
            m.mode() & 0o010 != 0
        } else {
            m.mode() & 0o001 != 0
        };
        if !ok {
            return Some(format!(
                "the sandbox user (uid {}) cannot search {}",
                user.uid,
                d.display()
            ));
        }
        p = d.parent();
    }
    None
}

impl StateDir {
    /// Creates the state directory and writes the tools; notes whether the host can run the
    /// terminal sandboxes.
    pub fn create(dir: Option<PathBuf>) -> Result<StateDir, SimError> {
        // Without bubblewrap the simulator still serves the API; only terminals are refused.
        let mut bwrap = usable_bwrap();
        let mut host_dirs = Vec::new();
        for name in SYSTEM_DIRS {
            let p = Path::new("/").join(name);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = fs::read_link(&p) {
                        host_dirs.push((*name, HostDir::Symlink(target)));
                    }
                }
                Ok(m) if m.is_dir() => host_dirs.push((*name, HostDir::Dir)),
                _ => {}
            }
        }
        let (path, temp) = match dir {
            Some(d) => {
                fs::create_dir_all(&d)
                    .map_err(|e| startup(format!("state dir {}: {e}", d.display())))?;
                (d, None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("pvekit-sim-")
                    .tempdir()
                    .map_err(|e| startup(format!("state dir: {e}")))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let user = SandboxUser::current();
        let state = StateDir {
            path,
            bwrap: Err(String::new()),
            host_dirs,
            user,
            _temp: temp,
        };
        state
            .write_layout(state._temp.is_some())
            .map_err(|e| startup(format!("state dir {}: {e}", state.path.display())))?;
        if bwrap.is_ok()
            && user.switch
            && let Some(why) = unreachable(&state.path.join("nodes"), user)
        {
            bwrap = Err(why);
        }
        if let Err(why) = &bwrap {
            tracing::warn!("pvekit-sim: terminals are unavailable: {why}");
        }
        Ok(StateDir { bwrap, ..state })
    }

    /// The state directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who runs the sandboxes.
    pub fn user(&self) -> SandboxUser {
        self.user
    }

    /// Removes a temporary state directory now (the simulator stops; a directory the user
    /// named is kept).
    pub fn remove_temporary(&self) {
        if self._temp.is_some() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }

    /// The bwrap binary, or why terminal sessions cannot run on this host.
    pub fn bwrap(&self) -> Result<&Path, &str> {
        match &self.bwrap {
            Ok((bwrap, _)) => Ok(bwrap),
            Err(why) => Err(why),
        }
    }

    /// util-linux `setsid`, which starts the sandboxes that have no PTY.
    pub fn setsid(&self) -> Result<&Path, &str> {
        match &self.bwrap {
            Ok((_, setsid)) => Ok(setsid),
            Err(why) => Err(why),
        }
    }

    fn tools(&self) -> PathBuf {
        self.path.join("tools")
    }

    /// Where the agent's socket directories live.
    pub fn agent_dir(&self) -> PathBuf {
        self.path.join("agent")
    }

    /// The `--ro-bind` arguments for `/usr` and real host system directories (none on
    /// merged-usr).
    fn ro_binds(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec!["--ro-bind".into(), "/usr".into(), "/usr".into()];
        for (name, kind) in &self.host_dirs {
            if matches!(kind, HostDir::Dir) {
                let p = format!("/{name}");
                out.extend(["--ro-bind".into(), p.clone().into(), p.into()]);
            }
        }
        out
    }

    /// The simulator's own directories: tools (rewritten), agent sockets (emptied), the
    /// parents of the roots. None of them is ever bound writable into a sandbox.
    fn write_layout(&self, temporary: bool) -> io::Result<()> {
        if temporary && self.user.switch {
            // tempfile makes it 0700; the sandbox user must be able to reach the roots.
            chmod(&self.path, 0o711)?;
        }
        let sets: [(&str, &[(&str, &str)]); 3] = [
            (
                "node",
                &[
                    ("pct", scripts::PCT),
                    ("journalctl", scripts::JOURNALCTL),
                    ("login", scripts::LOGIN),
                    ("pvekit-agent", scripts::AGENT_CLIENT),
                ],
            ),
            (
                "ct-systemd",
                &[
                    ("journalctl", scripts::JOURNALCTL),
                    ("login", scripts::LOGIN),
                    ("pvekit-agent", scripts::AGENT_CLIENT),
                ],
            ),
            (
                "ct-plain",
                &[
                    ("pvekit-syslogd", scripts::SYSLOGD),
                    ("login", scripts::LOGIN),
                    ("pvekit-agent", scripts::AGENT_CLIENT),
                ],
            ),
        ];
        let tools = self.tools();
        if tools.exists() {
            fs::remove_dir_all(&tools)?;
        }
        for (dir, files) in sets {
            let d = tools.join(dir);
            fs::create_dir_all(&d)?;
            for (name, text) in files {
                write_exec(&d.join(name), text)?;
            }
        }
        for d in [
            self.tools(),
            tools.join("node"),
            tools.join("ct-systemd"),
            tools.join("ct-plain"),
        ] {
            chmod(&d, 0o755)?;
        }
        let agent = self.agent_dir();
        if agent.exists() {
            fs::remove_dir_all(&agent)?;
        }
        for d in [agent, self.path.join("nodes"), self.path.join("containers")] {
            fs::create_dir_all(&d)?;
            chmod(&d, 0o711)?;
        }
        Ok(())
    }

    /// The root of a node, below the state directory.
    pub fn node_root(&self, node: &str) -> PathBuf {
        self.path.join("nodes").join(node)
    }

    /// The root of a container.
    pub fn ct_root(&self, vmid: u32) -> PathBuf {
        self.path.join("containers").join(vmid.to_string())
    }

    /// Creates `path` (a root, in a directory of the simulator's) and opens it; when the
    /// simulator is root, the whole root is given to the sandbox user.
    fn open_root(&self, path: &Path) -> io::Result<Root> {
        match fs::create_dir(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let root = Root::open(path, self.user.owner())?;
        root.chown_tree()?;
        Ok(root)
    }

    /// The bare skeleton of a root: mount points, merged-usr symlinks, names.
    fn skeleton(&self, root: &Root, hostname: &str) -> io::Result<()> {
        for d in [
            "usr",
            "proc",
            "dev",
            "tmp",
            "root",
            "etc",
            "run/pvekit",
            "var/log",
            "var/tmp",
        ] {
            root.dir(d)?;
        }
        for (name, kind) in &self.host_dirs {
            match kind {
                HostDir::Symlink(target) => root.symlink(name, target)?,
                HostDir::Dir => {
                    root.dir(name)?;
                }
            }
        }
        root.write(
            "etc/hostname",
            format!("{hostname}\n").as_bytes(),
            Existing::Replace,
        )?;
        root.write(
            "etc/hosts",
            format!("127.0.0.1 localhost.localdomain localhost\n127.0.1.1 {hostname}\n").as_bytes(),
            Existing::Replace,
        )?;
        root.write(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
              nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            Existing::Keep,
        )?;
        root.write(
            "etc/group",
            b"root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n",
            Existing::Keep,
        )?;
        root.write("root/.bashrc", scripts::BASHRC.as_bytes(), Existing::Keep)?;
        Ok(())
    }

    /// Creates (or refreshes) a node's root. Called once per node and run, before the node's
    /// first sandbox.
    pub fn prepare_node(&self, node: &str) -> io::Result<()> {
        let root = self.open_root(&self.node_root(node))?;
        self.skeleton(&root, node)?;
        root.dir("run/systemd/system")?;
        root.dir("etc/pve")?;
        root.write(
            "etc/os-release",
            b"PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\n\
              VERSION_ID=\"13\"\nVERSION=\"13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n",
            Existing::Keep,
        )?;
        root.write("etc/debian_version", b"13.2\n", Existing::Keep)?;
        root.write("etc/motd", scripts::MOTD.as_bytes(), Existing::Keep)?;
        root.write(
            "run/motd.dynamic",
            scripts::uname_line(node).as_bytes(),
            Existing::Replace,
        )?;
        Ok(())
    }

    /// Creates (or refreshes) the roots of containers of `node`, and their mount points
    /// (`/var/lib/lxc/<vmid>/rootfs`) in the node's root, which [`StateDir::prepare_node`]
    /// has prepared before. Called once per container and run (again for a container added
    /// at run time), before the first sandbox that binds it; the node's root may be in use
    /// by then, so it is written only through [`Root`], never through a planted symlink.
    pub fn prepare_cts(
        &self,
        node: &str,
        cts: &[CtInfo],
        now: i64,
        begin_ms: i64,
    ) -> io::Result<()> {
        if cts.is_empty() {
            return Ok(());
        }
        let root = Root::open(&self.node_root(node), self.user.owner())?;
        for ct in cts {
            root.dir(&format!("var/lib/lxc/{}/rootfs", ct.vmid))?;
            self.prepare_ct(ct, now, begin_ms)?;
        }
        Ok(())
    }

    fn prepare_ct(&self, ct: &CtInfo, now: i64, begin_ms: i64) -> io::Result<()> {
        let path = self.ct_root(ct.vmid);
        let fresh = !path.exists();
        let root = self.open_root(&path)?;
        self.skeleton(&root, &ct.hostname)?;
        let (pretty, id, version, issue) = os_release(&ct.ostype);
        root.write(
            "etc/os-release",
            format!("PRETTY_NAME=\"{pretty}\"\nID={id}\nVERSION_ID=\"{version}\"\n").as_bytes(),
            Existing::Replace,
        )?;
        root.write("etc/issue", issue.as_bytes(), Existing::Replace)?;
        if ct.systemd() {
            root.dir("run/systemd/system")?;
        } else if fresh {
            let src = journal::Source::container(ct, ct.seed, begin_ms);
            root.write(
                "var/log/messages",
                src.syslog_history(now * 1000, 200).as_bytes(),
                Existing::Keep,
            )?;
        }
        Ok(())
    }

    /// The bwrap arguments of `sandbox` running `command` (through the limits wrapper).
    pub fn bwrap_args(&self, sandbox: &Sandbox, command: &[OsString]) -> Vec<OsString> {
        let mut a: Vec<OsString> = [
            "--unshare-user",
            "--uid",
            "0",
            "--gid",
            "0",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-ipc",
            "--unshare-net",
            "--unshare-cgroup-try",
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--hostname",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        a.push(sandbox.hostname.clone().into());
        a.push("--bind".into());
        a.push(sandbox.root.clone().into_os_string());
        a.push("/".into());
        a.extend(self.ro_binds());
        a.push("--ro-bind".into());
        a.push(self.tools().join(sandbox.tools).into_os_string());
        a.push("/usr/local/sbin".into());
        a.push("--ro-bind".into());
        a.push(sandbox.agent.clone().into_os_string());
        a.push("/run/pvekit".into());
        for (host, inside) in &sandbox.binds {
            a.push("--bind".into());
            a.push(host.clone().into_os_string());
            a.push(inside.into());
        }
        for x in ["--proc", "/proc", "--dev", "/dev", "--chdir"] {
            a.push(x.into());
        }
        a.push(sandbox.chdir.clone().into());
        a.push("--".into());
        a.push("/bin/bash".into());
        a.push("-c".into());
        a.push(
            LIMITS
                .replace("@PROCS@", &MAX_PROCS.to_string())
                .replace("@FSIZE@", &MAX_FILE_BLOCKS.to_string())
                .replace("@CPU@", &MAX_CPU_SECS.to_string())
                .into(),
        );
        a.push("pvekit-sandbox".into());
        a.extend(command.iter().cloned());
        a
    }
}

/// Kills a sandbox's process tree: the child is a session or process-group leader, so its
/// group holds bwrap and the sandbox's init (whose death takes the whole PID namespace with
/// it); killing the group also covers the moment before `--die-with-parent` is armed.
pub(crate) fn kill_tree(child: &mut tokio::process::Child) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.start_kill();
}

fn write_exec(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text)?;
    chmod(path, 0o755)
}

/// PRETTY_NAME, ID, VERSION_ID and `/etc/issue` of a container's distribution.
fn os_release(ostype: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    match ostype {
        "ubuntu" => (
            "Ubuntu 24.04.3 LTS",
            "ubuntu",
            "24.04",
            "Ubuntu 24.04.3 LTS \\n \\l\n",
        ),
        "alpine" => (
            "Alpine Linux v3.22",
            "alpine",
            "3.22.2",
            "Welcome to Alpine Linux 3.22\nKernel \\r on an \\m (\\l)\n",
        ),
        "centos" => (
            "CentOS Stream 9",
            "centos",
            "9",
            "\\S\nKernel \\r on an \\m\n",
        ),
        "fedora" => (
            "Fedora Linux 42 (Container Image)",
            "fedora",
            "42",
            "\\S\nKernel \\r on an \\m (\\l)\n",
        ),
        "archlinux" => ("Arch Linux", "arch", "rolling", "Arch Linux \\r (\\l)\n"),
        _ => (
            "Debian GNU/Linux 12 (bookworm)",
            "debian",
            "12",
            "Debian GNU/Linux 12 \\n \\l\n",
        ),
    }
}
