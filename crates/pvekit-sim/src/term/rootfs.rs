//! Writes into node and container roots that never leave the root.
//!
//! The roots belong to the sandboxes: whoever has a shell in one can replace any file or
//! directory in it with a symlink (`ln -s /tmp/victim /etc/hostname`, `ln -s /tmp /var/log`).
//! The simulator writes into the roots with more rights than the sandbox user (as root, or
//! at least outside the sandbox's mount namespace), so it must never follow what a session
//! planted. Every write here is relative to a directory file descriptor of the root, walked one
//! component at a time with `O_NOFOLLOW | O_DIRECTORY`; the file itself is opened with
//! `O_NOFOLLOW | O_NONBLOCK` (a planted FIFO cannot block the simulator) and written only if it
//! is a regular file. A symlink, or a non-directory where a directory is expected, makes the
//! write a no-op (logged at debug level): the session broke its own root, and the simulator
//! neither follows nor repairs it.
//!
//! When the simulator runs as root, whatever it creates is given to the sandbox user
//! ([`Root::open`]'s `owner`), and [`Root::chown_tree`] hands over a whole tree (a state
//! directory kept from a run with another owner), again without following symlinks.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};

/// How [`Root::write`] treats an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Replace its contents.
    Replace,
    /// Keep it (a session's changes survive).
    Keep,
}

/// A root directory, opened once; every path below is relative to it.
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
    owner: Option<(Uid, Gid)>,
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::RDONLY);

/// Errors meaning "something planted is in the way": skip the write.
fn planted(e: &rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    [Errno::LOOP, Errno::NOTDIR, Errno::NXIO, Errno::ISDIR].contains(e)
}

impl Root {
    /// Opens `path` (which the caller trusts: a directory of the state directory the
    /// sandboxes cannot rename) as a root; new files and directories go to `owner`.
    pub fn open(path: &Path, owner: Option<(u32, u32)>) -> io::Result<Root> {
        let fd = rustix::fs::open(path, DIR_FLAGS, Mode::empty())?;
        Ok(Root {
            fd,
            owner: owner.map(|(u, g)| (Uid::from_raw(u), Gid::from_raw(g))),
        })
    }

    fn give(&self, fd: impl AsFd) -> io::Result<()> {
        if let Some((u, g)) = self.owner {
            rustix::fs::fchown(fd, Some(u), Some(g))?;
        }
        Ok(())
    }

    /// The directory `rel` (components separated by `/`), created as needed (mode 0755);
    /// `None` when a component is a symlink or not a directory.
    pub fn dir(&self, rel: &str) -> io::Result<Option<OwnedFd>> {
        let mut cur = rustix::fs::openat(&self.fd, ".", DIR_FLAGS, Mode::empty())?;
        for name in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if name == ".." {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "'..' in path"));
            }
            match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                Ok(()) => {
                    let fd = match rustix::fs::openat(&cur, name, DIR_FLAGS, Mode::empty()) {
                        Ok(fd) => fd,
                        Err(e) if planted(&e) => return Ok(None),
                        Err(e) => return Err(e.into()),
                    };
                    self.give(&fd)?;
                    cur = fd;
                }
                Err(rustix::io::Errno::EXIST) => {
                    cur = match rustix::fs::openat(&cur, name, DIR_FLAGS, Mode::empty()) {
                        Ok(fd) => fd,
                        Err(e) if planted(&e) => {
                            tracing::debug!(path = rel, "pvekit-sim: not a directory, skipped");
                            return Ok(None);
                        }
                        Err(e) => return Err(e.into()),
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(cur))
    }

    /// Writes `text` to the file `rel` (mode 0644); returns whether it was written.
    pub fn write(&self, rel: &str, text: &[u8], existing: Existing) -> io::Result<bool> {
        let (parent, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", rel),
        };
        if name.is_empty() || name == "." || name == ".." {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad file name"));
        }
        let Some(dir) = self.dir(parent)? else {
            return Ok(false);
        };
        let base = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(0o644);
        let (fd, created) =
            match rustix::fs::openat(&dir, name, base | OFlags::CREATE | OFlags::EXCL, mode) {
                Ok(fd) => (fd, true),
                Err(rustix::io::Errno::EXIST) if existing == Existing::Keep => return Ok(false),
                Err(rustix::io::Errno::EXIST) => match rustix::fs::openat(&dir, name, base, mode) {
                    Ok(fd) => (fd, false),
                    Err(e) if planted(&e) => {
                        tracing::debug!(path = rel, "pvekit-sim: not a regular file, skipped");
                        return Ok(false);
                    }
                    Err(e) => return Err(e.into()),
                },
                Err(e) if planted(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
        if rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode)
            != FileType::RegularFile
        {
            return Ok(false);
        }
        if created {
            self.give(&fd)?;
        } else {
            rustix::fs::ftruncate(&fd, 0)?;
        }
        let mut f = File::from(fd);
        f.write_all(text)?;
        Ok(true)
    }

    /// Creates the symlink `rel` → `target` unless something exists there.
    pub fn symlink(&self, rel: &str, target: &Path) -> io::Result<()> {
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let Some(dir) = self.dir(parent)? else {
            return Ok(());
        };
        match rustix::fs::symlinkat(target, &dir, name) {
            Ok(()) => {
                if let Some((u, g)) = self.owner {
                    rustix::fs::chownat(&dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)?;
                }
                Ok(())
            }
            Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the whole tree (the root included) to the owner, never following a symlink.
    /// Directories deeper than 64 levels are left as they are.
    pub fn chown_tree(&self) -> io::Result<()> {
        let Some((u, g)) = self.owner else {
            return Ok(());
        };
        let top = rustix::fs::openat(&self.fd, ".", DIR_FLAGS, Mode::empty())?;
        let st = rustix::fs::fstat(&top)?;
        if st.st_uid != u.as_raw() || st.st_gid != g.as_raw() {
            rustix::fs::fchown(&top, Some(u), Some(g))?;
        }
        let mut stack = vec![top];
        while let Some(dir) = stack.pop() {
            let mut entries = Vec::new();
            for entry in rustix::fs::Dir::read_from(&dir)? {
                let entry = entry?;
                let name = entry.file_name().to_bytes();
                if name == b"." || name == b".." {
                    continue;
                }
                entries.push(entry.file_name().to_owned());
            }
            for name in entries {
                let st = match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => st,
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(e.into()),
                };
                if st.st_uid != u.as_raw() || st.st_gid != g.as_raw() {
                    rustix::fs::chownat(&dir, &name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)?;
                }
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory && stack.len() < 64 {
                    match rustix::fs::openat(&dir, &name, DIR_FLAGS, Mode::empty()) {
                        Ok(fd) => stack.push(fd),
                        Err(e) if planted(&e) || e == rustix::io::Errno::NOENT => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_never_follow_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim.txt");
        std::fs::write(&victim, "keep").unwrap();
        let root_dir = tempfile::tempdir().unwrap();
        let r = root_dir.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::os::unix::fs::symlink(&victim, r.join("etc/hostname")).unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("var")).unwrap();
        let root = Root::open(r, None).unwrap();
        assert!(
            !root
                .write("etc/hostname", b"x\n", Existing::Replace)
                .unwrap()
        );
        assert!(!root.write("etc/hostname", b"x\n", Existing::Keep).unwrap());
        assert!(
            !root
                .write("var/log/messages", b"x\n", Existing::Replace)
                .unwrap()
        );
        assert!(root.dir("var/log").unwrap().is_none());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!outside.path().join("log").exists());
        // Ordinary writes work, and Keep keeps.
        assert!(root.write("etc/hosts", b"a\n", Existing::Replace).unwrap());
        assert!(root.write("etc/hosts", b"b\n", Existing::Replace).unwrap());
        assert!(!root.write("etc/hosts", b"c\n", Existing::Keep).unwrap());
        assert_eq!(std::fs::read_to_string(r.join("etc/hosts")).unwrap(), "b\n");
        assert!(root.write("a/b/c", b"deep", Existing::Keep).unwrap());
        assert!(root.write("../x", b"", Existing::Replace).is_err());
        // A FIFO does not block.
        let fifo = r.join("etc/fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(!root.write("etc/fifo", b"x", Existing::Replace).unwrap());
        root.symlink("bin", Path::new("usr/bin")).unwrap();
        assert_eq!(
            std::fs::read_link(r.join("bin")).unwrap(),
            Path::new("usr/bin")
        );
        root.chown_tree().unwrap();
    }
}
