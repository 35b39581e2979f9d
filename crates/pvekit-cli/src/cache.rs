/*!
The completion cache: the guests of the last listing (`pvekit ls`, the first listing of
`pvekit watch`), so that shell completion can offer their names and VMIDs without a network
call.

The file is `$XDG_CACHE_HOME/pvekit/targets.json` (`~/.cache/pvekit/targets.json` when
`XDG_CACHE_HOME` is unset or relative), a small JSON object:

```json
{"version":1,"guests":[{"vmid":100,"name":"web","node":"pve1","cluster":"lab"}]}
```

It holds guest names, VMIDs, node and cluster names only: never a URL, a user or a secret.
The directory is created 0700 and the file written 0600, through a temporary file renamed
over the old one, so a reader never sees half a file. At most [`MAX_GUESTS`] guests are kept,
and only names made of letters, digits, `.`, `_` and `-` (what Proxmox VE allows, and safe to
hand to a shell); a file larger than [`MAX_BYTES`], or one that does not parse, is ignored.
Failing to write the cache never fails a command.
*/

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use pvekit::types::CompactString;
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::output::GuestRow;

/// The file format's version; other versions are ignored.
const VERSION: u32 = 1;

/// Guests kept in the file at most.
pub const MAX_GUESTS: usize = 5_000;

/// Longest name (guest, node, cluster) kept, in bytes.
const MAX_NAME: usize = 64;

/// A cache file larger than this is not read.
pub const MAX_BYTES: u64 = 2 * 1024 * 1024;

/// One guest in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Guest id.
    pub vmid: u64,
    /// Guest name, when it has a usable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CompactString>,
    /// Node the guest is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<CompactString>,
    /// Cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<CompactString>,
}

/// The file's contents.
#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    guests: Vec<Entry>,
}

/// `$XDG_CACHE_HOME/pvekit/targets.json`, else `$HOME/.cache/pvekit/targets.json`; `None`
/// without either (nothing is cached then).
pub fn path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    // The XDG spec says relative values are invalid and must be ignored.
    let base = match non_empty("XDG_CACHE_HOME").filter(|p| Path::new(p).is_absolute()) {
        Some(xdg) => PathBuf::from(xdg),
        None => Path::new(&non_empty("HOME")?).join(".cache"),
    };
    Some(base.join("pvekit").join("targets.json"))
}

/// A name fit for completion: short, and only letters, digits, `.`, `_` and `-`.
fn usable(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The cache entry of a guest, names unfit for completion left out (short names are stored
/// inline, so ten thousand entries are not ten thousand allocations).
pub fn entry(cluster: &str, vmid: u64, name: Option<&str>, node: Option<&str>) -> Entry {
    let keep = |s: Option<&str>| s.filter(|s| usable(s)).map(CompactString::from);
    Entry {
        vmid,
        name: keep(name),
        node: keep(node),
        cluster: keep(Some(cluster)),
    }
}

/// The cache entries of listed guests: at most [`MAX_GUESTS`], unusable names left out.
pub fn entries(rows: &[GuestRow]) -> Vec<Entry> {
    rows.iter()
        .take(MAX_GUESTS)
        .map(|r| entry(&r.cluster, r.vmid, r.name.as_deref(), r.node.as_deref()))
        .collect()
}

/// Writes `entries` to `path` atomically: the directory made 0700 if missing, the file 0600.
///
/// # Errors
/// The directory cannot be made, or the file written or renamed.
pub fn write(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("cache path has no directory"))?;
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let file = File {
        version: VERSION,
        guests: entries.iter().take(MAX_GUESTS).cloned().collect(),
    };
    let mut text = serde_json::to_vec(&file).map_err(io::Error::other)?;
    text.push(b'\n');
    if text.len() as u64 > MAX_BYTES {
        return Err(io::Error::other("cache would exceed its size limit"));
    }
    // tempfile creates the file 0600 under a random name in the same directory; the rename
    // replaces the old file (or a symlink in its place) in one step.
    let mut tmp = tempfile::Builder::new()
        .prefix(".targets.")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(&text)?;
    tmp.as_file().flush()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The entries of the cache at `path`; none when it is missing, too large, not a regular file
/// or not a cache of this version.
pub fn read(path: &Path) -> Vec<Entry> {
    let Ok(file) = fs::File::open(path) else {
        return Vec::new();
    };
    match file.metadata() {
        Ok(m) if m.is_file() && m.len() <= MAX_BYTES => {}
        _ => return Vec::new(),
    }
    let mut text = Vec::new();
    // The limit holds even if the file grows between the check and the read.
    if file.take(MAX_BYTES + 1).read_to_end(&mut text).is_err() || text.len() as u64 > MAX_BYTES {
        return Vec::new();
    }
    match serde_json::from_slice::<File>(&text) {
        Ok(f) if f.version == VERSION => f.guests.into_iter().take(MAX_GUESTS).collect(),
        _ => Vec::new(),
    }
}

/// Remembers listed guests for completion, quietly: a failure is only logged.
pub fn remember(env: &dyn Fn(&str) -> Option<String>, rows: &[GuestRow]) {
    remember_entries(env, &entries(rows));
}

/// Remembers these entries for completion, quietly: a failure is only logged.
pub fn remember_entries(env: &dyn Fn(&str) -> Option<String>, entries: &[Entry]) {
    let Some(path) = path(env) else {
        return;
    };
    if let Err(e) = write(&path, entries) {
        debug!(path = %path.display(), error = %e, "cannot write the completion cache");
    }
}

/// The completions of `current` among `entries`: guest names and VMIDs starting with it
/// (names compared ignoring case, as targets are); once it holds a `/`, the `NODE/VMID` and
/// `CLUSTER/NODE/VMID` forms. Sorted, without duplicates.
pub fn candidates(entries: &[Entry], current: &str) -> Vec<String> {
    let lower = current.to_ascii_lowercase();
    let matches = |s: &str| s.to_ascii_lowercase().starts_with(&lower);
    let mut names = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    let mut paths = std::collections::BTreeSet::new();
    for e in entries {
        if current.contains('/') {
            if let Some(node) = &e.node {
                let short = format!("{node}/{}", e.vmid);
                if let Some(cluster) = &e.cluster {
                    let long = format!("{cluster}/{short}");
                    if matches(&long) {
                        paths.insert(long);
                    }
                }
                if matches(&short) {
                    paths.insert(short);
                }
            }
            continue;
        }
        if let Some(name) = e.name.as_deref().filter(|n| matches(n)) {
            names.insert(name.to_string());
        }
        let id = e.vmid.to_string();
        if id.starts_with(current) {
            ids.insert((e.vmid, id));
        }
    }
    names
        .into_iter()
        .chain(ids.into_iter().map(|(_, id)| id))
        .chain(paths)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvekit::types::GuestKind;

    fn row(vmid: u64, name: Option<&str>, node: &str) -> GuestRow {
        GuestRow {
            vmid,
            name: name.map(Into::into),
            node: Some(node.into()),
            kind: GuestKind::Lxc,
            status: None,
            cpu: None,
            maxcpu: None,
            mem: None,
            maxmem: None,
            template: false,
            cluster: "lab".into(),
            ips: vec!["10.0.0.1".into()],
        }
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn path_follows_xdg() {
        let p = path(&env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]));
        assert_eq!(p.unwrap(), Path::new("/x/pvekit/targets.json"));
        let p = path(&env(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]));
        assert_eq!(p.unwrap(), Path::new("/h/.cache/pvekit/targets.json"));
        let p = path(&env(&[("XDG_CACHE_HOME", ""), ("HOME", "/h")]));
        assert_eq!(p.unwrap(), Path::new("/h/.cache/pvekit/targets.json"));
        assert_eq!(path(&env(&[])), None);
    }

    #[test]
    fn written_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/pvekit/targets.json");
        let rows = [
            row(100, Some("web"), "pve1"),
            row(101, Some("bad name; rm -rf"), "pve1"),
            row(102, None, "pve2"),
        ];
        write(&path, &entries(&rows)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let back = read(&path);
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].name.as_deref(), Some("web"));
        assert_eq!(back[1].name, None, "unusable names are left out");
        assert_eq!(back[2].node.as_deref(), Some("pve2"));
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("10.0.0.1") && !text.contains("http"),
            "{text}"
        );
        // Written again over the old file; no temporary file is left behind.
        write(&path, &entries(&rows[..1])).unwrap();
        assert_eq!(read(&path).len(), 1);
        let files: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn corrupt_foreign_or_oversized_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("targets.json");
        assert!(read(&path).is_empty(), "missing");
        fs::write(&path, "{not json").unwrap();
        assert!(read(&path).is_empty(), "corrupt");
        fs::write(&path, r#"{"version":2,"guests":[{"vmid":1}]}"#).unwrap();
        assert!(read(&path).is_empty(), "other version");
        let big = format!(
            r#"{{"version":1,"guests":[{{"vmid":1,"name":"{}"}}]}}"#,
            "a".repeat(usize::try_from(MAX_BYTES).unwrap())
        );
        fs::write(&path, big).unwrap();
        assert!(read(&path).is_empty(), "oversized");
        fs::write(&path, r#"{"version":1,"guests":[{"vmid":7,"name":"ok"}]}"#).unwrap();
        assert_eq!(read(&path)[0].vmid, 7);
        assert!(read(dir.path()).is_empty(), "a directory");
    }

    #[test]
    fn the_largest_cache_fits_its_limit() {
        let long = "n".repeat(MAX_NAME);
        let rows: Vec<GuestRow> = (0..MAX_GUESTS as u64 + 10)
            .map(|i| {
                let mut r = row(u64::MAX - i, Some(&long), &long);
                r.cluster.clone_from(&long);
                r
            })
            .collect();
        let entries = entries(&rows);
        assert_eq!(entries.len(), MAX_GUESTS);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("targets.json");
        write(&path, &entries).unwrap();
        assert_eq!(read(&path).len(), MAX_GUESTS);
    }

    #[test]
    fn candidates_by_prefix() {
        let e = entries(&[
            row(100, Some("web"), "pve1"),
            row(101, Some("Wiki"), "pve1"),
            row(200, Some("db"), "pve2"),
            row(1000, Some("web"), "pve2"),
        ]);
        assert_eq!(
            candidates(&e, ""),
            ["Wiki", "db", "web", "100", "101", "200", "1000"]
        );
        assert_eq!(candidates(&e, "w"), ["Wiki", "web"]);
        assert_eq!(candidates(&e, "10"), ["100", "101", "1000"]);
        assert_eq!(candidates(&e, "pve2/"), ["pve2/1000", "pve2/200"]);
        assert_eq!(
            candidates(&e, "lab/pve1/"),
            ["lab/pve1/100", "lab/pve1/101"]
        );
        assert!(candidates(&e, "x").is_empty());
    }
}
