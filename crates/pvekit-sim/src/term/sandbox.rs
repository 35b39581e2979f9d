//! The state directory and the bubblewrap sandboxes terminal sessions run in.
//!
//! Every node gets its own root below the state directory (`nodes/<node>`) and every
//! container its root inside its node's (`var/lib/lxc/<vmid>/rootfs`, where pve-container
//! mounts it). A sandbox binds such a root as `/`, the host's `/usr` read-only (the
//! merged-usr symlinks `/bin`, `/lib`, ... live in the root), its own `/proc` and `/dev`, and
//! the simulator's tools over `/usr/local/sbin`; it has its own PID, UTS (hostname) and IPC
//! namespaces and dies with its parent. Programs therefore run for real, yet can write only
//! below the state directory. The directory is a fresh temporary one per simulator (removed
//! when the simulator is dropped) unless [`crate::SimOptions::state_dir`] names one.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::journal;
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
}

/// The host directories a sandbox shows: merged-usr symlinks are recreated in each root,
/// real directories are bound read-only.
#[derive(Debug, Clone)]
enum HostDir {
    Symlink(PathBuf),
    Dir,
}

/// The state directory, the bwrap binary and the host layout.
#[derive(Debug)]
pub(crate) struct StateDir {
    path: PathBuf,
    /// The bwrap binary, or why terminals cannot run on this host.
    bwrap: Result<PathBuf, String>,
    host_dirs: Vec<(&'static str, HostDir)>,
    /// Keeps a temporary directory alive; removing it on drop.
    _temp: Option<tempfile::TempDir>,
}

/// The top-level host directories besides `/usr` that programs need.
const SYSTEM_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `PATH` inside every sandbox.
pub(crate) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn startup(msg: impl Into<String>) -> SimError {
    SimError::Startup(msg.into())
}

/// Finds `bwrap` on the host's `PATH`.
fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
}

/// The host's bwrap, if sandboxes can run it: installed below `/usr` (the only host tree the
/// sandboxes see) and a `/usr/local/sbin` to mount the tools on.
fn usable_bwrap() -> Result<PathBuf, String> {
    let bwrap = find_bwrap().ok_or_else(|| {
        "bwrap not found on PATH; install bubblewrap (Debian package 'bubblewrap')".to_string()
    })?;
    let bwrap = fs::canonicalize(&bwrap).unwrap_or(bwrap);
    if !bwrap.starts_with("/usr") {
        return Err(format!(
            "{} is outside /usr, so sandboxes cannot run it",
            bwrap.display()
        ));
    }
    if !Path::new("/usr/local/sbin").is_dir() {
        return Err("the host has no /usr/local/sbin to mount the tools on".into());
    }
    Ok(bwrap)
}

impl StateDir {
    /// Creates the state directory and writes the tools for the agent on `agent_port`;
    /// notes whether the host can run the terminal sandboxes (bubblewrap below `/usr`).
    pub fn create(dir: Option<PathBuf>, agent_port: u16) -> Result<StateDir, SimError> {
        // Without bubblewrap the simulator still serves the API; only terminals are refused.
        let bwrap = usable_bwrap();
        if let Err(why) = &bwrap {
            tracing::warn!("pvekit-sim: terminals are unavailable: {why}");
        }
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
        let state = StateDir {
            path,
            bwrap,
            host_dirs,
            _temp: temp,
        };
        state
            .write_tools(agent_port)
            .map_err(|e| startup(format!("state dir {}: {e}", state.path.display())))?;
        Ok(state)
    }

    /// The state directory.
    pub fn path(&self) -> &Path {
        &self.path
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
        self.bwrap.as_deref().map_err(String::as_str)
    }

    fn tools(&self) -> PathBuf {
        self.path.join("tools")
    }

    /// The `--ro-bind` arguments for real host system directories (none on merged-usr).
    fn ro_binds(&self) -> Vec<String> {
        let mut out = vec!["--ro-bind".into(), "/usr".into(), "/usr".into()];
        for (name, kind) in &self.host_dirs {
            if matches!(kind, HostDir::Dir) {
                out.extend(["--ro-bind".into(), format!("/{name}"), format!("/{name}")]);
            }
        }
        out
    }

    fn write_tools(&self, port: u16) -> io::Result<()> {
        let port = port.to_string();
        let fill = |s: &str| {
            s.replace("@PORT@", &port)
                .replace("@RO_BINDS@", &self.ro_binds().join(" "))
        };
        let sets: [(&str, &[(&str, &str)]); 3] = [
            (
                "node",
                &[
                    ("pct", scripts::PCT),
                    ("journalctl", scripts::JOURNALCTL),
                    ("login", scripts::LOGIN),
                ],
            ),
            (
                "ct-systemd",
                &[
                    ("journalctl", scripts::JOURNALCTL),
                    ("login", scripts::LOGIN),
                ],
            ),
            (
                "ct-plain",
                &[
                    ("pvekit-syslogd", scripts::SYSLOGD),
                    ("login", scripts::LOGIN),
                ],
            ),
        ];
        for (dir, files) in sets {
            let d = self.tools().join(dir);
            fs::create_dir_all(&d)?;
            for (name, text) in files {
                write_exec(&d.join(name), &fill(text))?;
            }
        }
        Ok(())
    }

    /// The root of a node, below the state directory.
    pub fn node_root(&self, node: &str) -> PathBuf {
        self.path.join("nodes").join(node)
    }

    /// The root of a container on `node`.
    pub fn ct_root(&self, node: &str, vmid: u32) -> PathBuf {
        self.node_root(node)
            .join(format!("var/lib/lxc/{vmid}/rootfs"))
    }

    /// The bare skeleton of a root: mount points, merged-usr symlinks, a scope file.
    fn skeleton(&self, root: &Path, scope: &str, hostname: &str) -> io::Result<()> {
        for d in [
            "usr",
            "proc",
            "dev",
            "tmp",
            "root",
            "etc",
            "run",
            "var/log",
            "var/tmp",
            "var/lib/pvekit",
        ] {
            fs::create_dir_all(root.join(d))?;
        }
        for (name, kind) in &self.host_dirs {
            let p = root.join(name);
            match kind {
                HostDir::Symlink(target) => {
                    if fs::symlink_metadata(&p).is_err() {
                        std::os::unix::fs::symlink(target, &p)?;
                    }
                }
                HostDir::Dir => fs::create_dir_all(&p)?,
            }
        }
        fs::write(root.join("var/lib/pvekit/scope"), format!("{scope}\n"))?;
        fs::write(root.join("etc/hostname"), format!("{hostname}\n"))?;
        fs::write(
            root.join("etc/hosts"),
            format!("127.0.0.1 localhost.localdomain localhost\n127.0.1.1 {hostname}\n"),
        )?;
        write_new(
            &root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        )?;
        write_new(
            &root.join("etc/group"),
            "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n",
        )?;
        write_new(&root.join("root/.bashrc"), scripts::BASHRC)?;
        Ok(())
    }

    /// Creates (or refreshes) a node's root and the roots of its containers.
    pub fn prepare_node(
        &self,
        node: &str,
        cts: &[CtInfo],
        now: i64,
        begin_ms: i64,
    ) -> io::Result<()> {
        let root = self.node_root(node);
        self.skeleton(&root, &format!("node {node}"), node)?;
        fs::create_dir_all(root.join("run/systemd/system"))?;
        fs::create_dir_all(root.join("var/lib/pvekit/tools"))?;
        fs::create_dir_all(root.join("etc/pve"))?;
        write_new(
            &root.join("etc/os-release"),
            "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"13\"\nVERSION=\"13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n",
        )?;
        write_new(&root.join("etc/debian_version"), "13.2\n")?;
        write_new(&root.join("etc/motd"), scripts::MOTD)?;
        fs::write(root.join("run/motd.dynamic"), scripts::uname_line(node))?;
        for ct in cts {
            self.prepare_ct(node, ct, now, begin_ms)?;
        }
        Ok(())
    }

    fn prepare_ct(&self, node: &str, ct: &CtInfo, now: i64, begin_ms: i64) -> io::Result<()> {
        let root = self.ct_root(node, ct.vmid);
        let fresh = !root.join("var/lib/pvekit/scope").exists();
        self.skeleton(&root, &format!("ct {}", ct.vmid), &ct.hostname)?;
        let (pretty, id, version, issue) = os_release(&ct.ostype);
        fs::write(
            root.join("etc/os-release"),
            format!("PRETTY_NAME=\"{pretty}\"\nID={id}\nVERSION_ID=\"{version}\"\n"),
        )?;
        fs::write(root.join("etc/issue"), issue)?;
        if ct.systemd() {
            fs::create_dir_all(root.join("run/systemd/system"))?;
        } else if fresh {
            let src = journal::Source::container(ct, ct.seed, begin_ms);
            fs::write(
                root.join("var/log/messages"),
                src.syslog_history(now * 1000, 200),
            )?;
        }
        Ok(())
    }

    /// The bwrap arguments (before `--`) of a sandbox with `root` as `/`, `tools` on
    /// `/usr/local/sbin`, starting in `chdir`.
    pub fn sandbox_args(
        &self,
        root: &Path,
        hostname: &str,
        tools: &str,
        chdir: &str,
    ) -> Vec<OsString> {
        let mut a: Vec<OsString> = [
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-ipc",
            "--hostname",
            hostname,
            "--bind",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        a.push(root.as_os_str().to_owned());
        a.push("/".into());
        a.extend(self.ro_binds().into_iter().map(OsString::from));
        a.push("--ro-bind".into());
        a.push(self.tools().join(tools).into_os_string());
        a.push("/usr/local/sbin".into());
        if tools == "node" {
            a.push("--ro-bind".into());
            a.push(self.tools().into_os_string());
            a.push("/var/lib/pvekit/tools".into());
        }
        for x in ["--proc", "/proc", "--dev", "/dev", "--chdir", chdir] {
            a.push(x.into());
        }
        a
    }
}

/// Writes a file unless it exists already (so a session's changes survive the next one).
fn write_new(path: &Path, text: &str) -> io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    fs::write(path, text)
}

fn write_exec(path: &Path, text: &str) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
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
