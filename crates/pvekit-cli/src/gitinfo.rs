/*!
The version `pvekit --version` shows: the package version and the git commit it was built
from, which `build.rs` records (`PVEKIT_GIT_HASH`, empty without a git checkout or `git`, and
`PVEKIT_GIT_DIRTY`).
*/

use std::sync::LazyLock;

/// `0.1.0 (abc1234)`, `0.1.0 (abc1234-dirty)` or `0.1.0 (unknown)`.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let commit = commit_label(
        Some(env!("PVEKIT_GIT_HASH")),
        env!("PVEKIT_GIT_DIRTY") == "true",
    );
    version_text(env!("CARGO_PKG_VERSION"), &commit)
});

/// The commit label: the short hash, with `-dirty` when tracked files differed from it at
/// build time, or `unknown` without a (well-formed) hash.
pub fn commit_label(short_hash: Option<&str>, dirty: bool) -> String {
    match short_hash.map(str::trim) {
        Some(h) if !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()) => {
            if dirty {
                format!("{h}-dirty")
            } else {
                h.to_string()
            }
        }
        _ => "unknown".to_string(),
    }
}

/// The text after the program's name in `--version`: `VERSION (COMMIT)`.
pub fn version_text(version: &str, commit: &str) -> String {
    format!("{version} ({commit})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_labels() {
        assert_eq!(commit_label(Some("abc1234"), false), "abc1234");
        assert_eq!(commit_label(Some("abc1234\n"), true), "abc1234-dirty");
        assert_eq!(commit_label(Some(""), false), "unknown");
        assert_eq!(commit_label(Some(""), true), "unknown", "no hash, no dirt");
        assert_eq!(commit_label(None, false), "unknown");
        assert_eq!(commit_label(Some("fatal: not a repo"), false), "unknown");
    }

    #[test]
    fn version_names_package_and_commit() {
        assert_eq!(version_text("0.1.0", "abc1234"), "0.1.0 (abc1234)");
        assert_eq!(version_text("0.1.0", "unknown"), "0.1.0 (unknown)");
        assert!(VERSION.starts_with(concat!(env!("CARGO_PKG_VERSION"), " (")));
        assert!(VERSION.ends_with(')'));
    }
}
