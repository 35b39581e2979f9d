//! Records the git commit for `pvekit --version` (see `src/gitinfo.rs`): `PVEKIT_GIT_HASH`,
//! the short hash (empty when the source is not a git checkout, such as a source tarball, or
//! `git` is missing), and `PVEKIT_GIT_DIRTY`, `true` when tracked files differed from it.
//! Never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let (hash, dirty) = if is_checkout(&manifest) {
        watch(&manifest);
        let hash = git(&manifest, &["rev-parse", "--short", "HEAD"]);
        // Tracked files only: an untracked scratch file does not make a build dirty.
        let status = [
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ];
        let dirty = git(&manifest, &status).is_some_and(|s| !s.is_empty());
        (hash, dirty)
    } else {
        (None, false)
    };
    println!(
        "cargo:rustc-env=PVEKIT_GIT_HASH={}",
        hash.unwrap_or_default()
    );
    println!("cargo:rustc-env=PVEKIT_GIT_DIRTY={dirty}");
}

/// Runs git in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether the workspace (two levels up) is the top level of a git checkout, and not merely
/// inside some other repository (an unpacked tarball in someone's tree).
fn is_checkout(manifest: &Path) -> bool {
    let Some(top) = git(manifest, &["rev-parse", "--show-toplevel"]) else {
        return false;
    };
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    same(Path::new(&top), &manifest.join("../.."))
}

/// Re-runs this script when HEAD moves (HEAD itself, the branch's ref, packed refs), the index
/// changes (`git add`, a commit), or a source file of the workspace changes (the tree may turn
/// dirty). Only existing paths are named: cargo would re-run for a missing one every time.
fn watch(manifest: &Path) {
    let mut refs = vec!["HEAD".to_string(), "packed-refs".into(), "index".into()];
    if let Some(r) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        refs.push(r);
    }
    let root = manifest.join("../..");
    let mut paths: Vec<PathBuf> = refs
        .iter()
        .filter_map(|r| git(manifest, &["rev-parse", "--git-path", r]))
        // --git-path answers relative to the working directory, the manifest's.
        .map(|p| manifest.join(p))
        .collect();
    paths.extend(["Cargo.toml", "Cargo.lock", "crates"].map(|p| root.join(p)));
    for p in paths.into_iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}
