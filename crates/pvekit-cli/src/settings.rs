/*!
Connection layering: which clusters a command talks to, and how it logs in, from the
connection flags, the `PVEKIT_*` environment variables and the config file.

[`connection`] is a pure function of the raw flags, an environment lookup and the config
file's text, so every precedence rule is unit-tested without touching the real environment
or filesystem. [`load_config_file`] is the only part that reads a file. Each command's own
flags and their checks live in its module under [`crate::commands`].

The rules (also in `pvekit --help` and the README):
- Flags beat environment variables, which beat the config file.
- With a URL from `--url` or `PVEKIT_URL`, pvekit talks to that one cluster. Each field comes
  from its flag, else its env var, else the file's entry with the same url, if there is one.
- Without one, the file's clusters are used as written. Other connection flags or env vars are
  then only accepted when the file lists exactly one cluster, whose fields they override. With
  several clusters they are refused rather than applied to every cluster: a secret meant for one
  cluster must never be sent to another.
- `fingerprint` and `no_tls_verify` are one choice (pin, or skip verification): a level that
  sets one of them clears the other from the levels below it.
*/

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pvekit::Config;
use secrecy::SecretString;
use serde::Deserialize;

use crate::cli::{Cli, ConnFlags};

/// A usage error: flags that contradict each other. `main` exits with status 2 for it, as clap
/// does for its own usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// The config file, as read from disk.
#[derive(Clone)]
pub struct ConfigFile {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// Its YAML text (which may hold passwords and token secrets).
    pub contents: String,
    /// Its permission bits, when known.
    pub mode: Option<u32>,
}

impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field(
                "contents",
                &format_args!("<{} bytes, redacted>", self.contents.len()),
            )
            .field("mode", &self.mode.map(|m| format!("{m:o}")))
            .finish()
    }
}

/// The clusters a command talks to.
pub enum Connection {
    /// `--demo`: an embedded simulator, started by the command.
    Demo,
    /// Real clusters, each config already validated.
    Clusters(Vec<Config>),
}

/// Which command needs a config file: listings without `--demo`. `main` only reads the file
/// when this says so, so `pvekit sim`, `pvekit --demo ls` and completion work with a broken
/// config.
pub fn needs_config_file(cli: &Cli) -> bool {
    // `login` reads and writes the file itself (it may not exist yet).
    !cli.demo && !cli.command.is_local() && !matches!(cli.command, crate::cli::Command::Login(_))
}

/// `$XDG_CONFIG_HOME/pvekit/config.yml`, else `$HOME/.config/pvekit/config.yml`.
pub fn default_config_path(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME").filter(|p| Path::new(p).is_absolute()) {
        return Some(Path::new(&xdg).join("pvekit").join("config.yml"));
    }
    non_empty("HOME").map(|home| Path::new(&home).join(".config/pvekit/config.yml"))
}

/// Reads the config file: `explicit` (from `--config`) must exist; the default one may not.
///
/// # Errors
/// When the file named by `--config` cannot be read, or the default file exists but cannot be
/// read.
pub fn load_config_file(
    explicit: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ConfigFile>> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_config_path(env) {
            Some(p) => (p, false),
            None => return Ok(None),
        },
    };
    match std::fs::read_to_string(&path) {
        Ok(contents) => {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .ok()
                .map(|m| m.permissions().mode() & 0o7777);
            Ok(Some(ConfigFile {
                path,
                contents,
                mode,
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound && !required => Ok(None),
        Err(e) => Err(anyhow::Error::new(e))
            .with_context(|| format!("cannot read config file {}", path.display())),
    }
}

/// The shapes of config file pvekit reads. Top-level keys other than these (a GoDoxy config
/// has many) and providers other than `proxmox` are ignored.
#[derive(Deserialize)]
struct FileDoc {
    /// pvekit's own form.
    #[serde(default)]
    clusters: Option<Vec<Config>>,
    /// GoDoxy's form: `providers: { proxmox: [...] }`.
    #[serde(default)]
    providers: Option<Providers>,
}

#[derive(Deserialize)]
struct Providers {
    #[serde(default)]
    proxmox: Option<Vec<Config>>,
}

/// The clusters a config file lists: `clusters` first, then `providers.proxmox`.
///
/// # Errors
/// Invalid YAML, or an entry that does not fit [`Config`] (unknown field, wrong type), as one
/// line naming the file and position.
pub fn parse_config_file(file: &ConfigFile) -> Result<Vec<Config>> {
    if file.contents.trim().is_empty() {
        return Ok(Vec::new());
    }
    let options = serde_saphyr::options! { with_snippet: false };
    let doc: FileDoc = serde_saphyr::from_str_with_options(&file.contents, options)
        .map_err(|e| anyhow::anyhow!("{}: {}", file.path.display(), one_line(&e.to_string())))?;
    let mut clusters = doc.clusters.unwrap_or_default();
    clusters.extend(doc.providers.and_then(|p| p.proxmox).unwrap_or_default());
    if let Some(warning) = loose_permissions(file, &clusters) {
        eprintln!("pvekit: warning: {warning}");
    }
    Ok(clusters)
}

/// A warning, like ssh's for private keys, when a file holding passwords or token secrets
/// can be read by group or others. pvekit still uses it (GoDoxy's shared config is often
/// group-readable on purpose), but says how to fix it.
fn loose_permissions(file: &ConfigFile, clusters: &[Config]) -> Option<String> {
    let mode = file.mode?;
    let secrets = clusters
        .iter()
        .any(|c| c.password.is_some() || c.secret.is_some());
    (secrets && mode & 0o077 != 0).then(|| {
        format!(
            "{} holds passwords or token secrets but its permissions {:04o} let {} read it; run: chmod 600 {}",
            file.path.display(),
            mode,
            if mode & 0o007 != 0 { "every user" } else { "its group" },
            file.path.display()
        )
    })
}

/// Joins a multi-line message into one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One level of settings (flags, or env): the connection fields it gives explicitly.
#[derive(Default)]
struct Layer {
    url: Option<String>,
    token_id: Option<String>,
    secret: Option<SecretString>,
    username: Option<String>,
    password: Option<SecretString>,
    realm: Option<String>,
    fingerprint: Option<String>,
    no_tls_verify: Option<bool>,
}

impl Layer {
    fn from_flags(f: &ConnFlags) -> Layer {
        Layer {
            url: f.url.clone(),
            token_id: f.token_id.clone(),
            secret: f.secret.clone(),
            username: f.username.clone(),
            password: f.password.clone(),
            realm: f.realm.clone(),
            fingerprint: f.fingerprint.clone(),
            no_tls_verify: f.no_tls_verify.then_some(true),
        }
    }

    /// Reads the `PVEKIT_*` variables; empty values count as unset.
    fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Layer> {
        let var = |k: &str| env(k).filter(|v| !v.is_empty());
        let no_tls_verify = match var("PVEKIT_NO_TLS_VERIFY") {
            None => None,
            Some(v) => Some(parse_bool(&v).with_context(|| {
                format!("PVEKIT_NO_TLS_VERIFY must be true or false (or 1/0, yes/no), got '{v}'")
            })?),
        };
        Ok(Layer {
            url: var("PVEKIT_URL"),
            token_id: var("PVEKIT_TOKEN_ID"),
            secret: var("PVEKIT_SECRET").map(SecretString::from),
            username: var("PVEKIT_USERNAME"),
            password: var("PVEKIT_PASSWORD").map(SecretString::from),
            realm: var("PVEKIT_REALM"),
            fingerprint: var("PVEKIT_FINGERPRINT"),
            no_tls_verify,
        })
    }

    /// The names of the fields this level gives, other than the url, as `flag_or_env` spells
    /// them.
    fn given(&self, names: [&'static str; 7]) -> Vec<&'static str> {
        let set = [
            self.token_id.is_some(),
            self.secret.is_some(),
            self.username.is_some(),
            self.password.is_some(),
            self.realm.is_some(),
            self.fingerprint.is_some(),
            self.no_tls_verify.is_some(),
        ];
        names
            .into_iter()
            .zip(set)
            .filter_map(|(n, s)| s.then_some(n))
            .collect()
    }

    /// Overrides the fields of `cfg` this level gives.
    fn apply(&self, cfg: &mut Config) {
        if let Some(v) = &self.url {
            cfg.url.clone_from(v);
        }
        if let Some(v) = &self.token_id {
            cfg.token_id = Some(v.clone());
        }
        if let Some(v) = &self.secret {
            cfg.secret = Some(v.clone());
        }
        if let Some(v) = &self.username {
            cfg.username = Some(v.clone());
        }
        if let Some(v) = &self.password {
            cfg.password = Some(v.clone());
        }
        if let Some(v) = &self.realm {
            cfg.realm = Some(v.clone());
        }
        // The TLS choice: setting one side clears the other side set at a lower level. Both
        // at the same level stay both, and validation reports the contradiction.
        if let Some(fp) = &self.fingerprint {
            cfg.fingerprint = Some(fp.clone());
            cfg.no_tls_verify = self.no_tls_verify.unwrap_or(false);
        } else if let Some(insecure) = self.no_tls_verify {
            cfg.no_tls_verify = insecure;
            if insecure {
                cfg.fingerprint = None;
            }
        }
    }
}

const FLAG_NAMES: [&str; 7] = [
    "--token-id",
    "--secret",
    "--username",
    "--password",
    "--realm",
    "--fingerprint",
    "--no-tls-verify",
];
const ENV_NAMES: [&str; 7] = [
    "PVEKIT_TOKEN_ID",
    "PVEKIT_SECRET",
    "PVEKIT_USERNAME",
    "PVEKIT_PASSWORD",
    "PVEKIT_REALM",
    "PVEKIT_FINGERPRINT",
    "PVEKIT_NO_TLS_VERIFY",
];

fn parse_bool(v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("not a boolean"),
    }
}

/// Compares cluster URLs loosely: case, a trailing slash and `/api2/json` do not matter.
fn same_url(a: &str, b: &str) -> bool {
    fn norm(u: &str) -> String {
        let u = u.trim().trim_end_matches('/').to_ascii_lowercase();
        u.strip_suffix("/api2/json")
            .unwrap_or(&u)
            .trim_end_matches('/')
            .to_string()
    }
    norm(a) == norm(b)
}

/// The clusters a command talks to, by the rules in this module's docs.
///
/// # Errors
/// [`UsageError`] for `--demo` with connection flags; otherwise a one-line message for a bad
/// env value, an unreadable config, no cluster at all, ambiguous overrides, or a cluster
/// config that fails [`Config::validate`].
pub fn connection(
    cli: &Cli,
    env: &impl Fn(&str) -> Option<String>,
    file: Option<&ConfigFile>,
) -> Result<Connection> {
    let flags = Layer::from_flags(&cli.conn);
    if cli.demo {
        let mut given = flags.given(FLAG_NAMES);
        if flags.url.is_some() {
            given.insert(0, "--url");
        }
        if cli.config.is_some() {
            given.push("--config");
        }
        if !given.is_empty() {
            return Err(usage(format!(
                "--demo runs against the embedded simulator and cannot be combined with {}",
                given.join(", ")
            )));
        }
        return Ok(Connection::Demo);
    }
    let env_layer = Layer::from_env(env)?;
    let file_clusters = match file {
        Some(f) => parse_config_file(f)?,
        None => Vec::new(),
    };

    if let Some(url) = flags.url.as_ref().or(env_layer.url.as_ref()) {
        let mut cfg = file_clusters
            .iter()
            .find(|c| same_url(&c.url, url))
            .cloned()
            .unwrap_or_default();
        env_layer.apply(&mut cfg);
        flags.apply(&mut cfg);
        cfg.validate()?;
        return Ok(Connection::Clusters(vec![cfg]));
    }

    let Some(file) = file else {
        bail!(
            "no cluster configured: give --url with --token-id and --secret (or the PVEKIT_* environment variables), write a config file ({}), or try --demo",
            default_config_path(env).map_or_else(
                || "~/.config/pvekit/config.yml".to_string(),
                |p| p.display().to_string()
            )
        );
    };
    if file_clusters.is_empty() {
        bail!(
            "config file {} lists no clusters: add `clusters:` (or GoDoxy's `providers: proxmox:`) entries, or give --url",
            file.path.display()
        );
    }
    let mut overrides = flags.given(FLAG_NAMES);
    overrides.extend(env_layer.given(ENV_NAMES));
    if !overrides.is_empty() && file_clusters.len() > 1 {
        bail!(
            "{} would apply to all {} clusters of {}; pick one with --url (or PVEKIT_URL): pvekit never sends one cluster's credentials to another",
            overrides.join(", "),
            file_clusters.len(),
            file.path.display()
        );
    }
    let several = file_clusters.len() > 1;
    let mut clusters = Vec::with_capacity(file_clusters.len());
    for (i, mut cfg) in file_clusters.into_iter().enumerate() {
        env_layer.apply(&mut cfg);
        flags.apply(&mut cfg);
        cfg.validate().with_context(|| {
            if several {
                format!(
                    "{}: cluster {} ({})",
                    file.path.display(),
                    i + 1,
                    cfg.shown_url()
                )
            } else {
                file.path.display().to_string()
            }
        })?;
        clusters.push(cfg);
    }
    Ok(Connection::Clusters(clusters))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn cli(args: &[&str]) -> Cli {
        let mut v = vec!["pvekit"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn file(yaml: &str) -> ConfigFile {
        ConfigFile {
            path: "/etc/test.yml".into(),
            contents: yaml.into(),
            mode: Some(0o600),
        }
    }

    #[test]
    fn readable_secrets_are_warned_about_and_never_shown() {
        let yaml = "clusters:\n  - url: https://pve:8006\n    token_id: root@pam!t\n    secret: s3cr3t-value\n";
        let mut f = file(yaml);
        let c = parse_config_file(&f).unwrap();
        assert_eq!(loose_permissions(&f, &c), None);
        f.mode = Some(0o644);
        let w = loose_permissions(&f, &c).unwrap();
        assert!(
            w.contains("0644") && w.contains("every user") && w.contains("chmod 600 /etc/test.yml"),
            "{w}"
        );
        f.mode = Some(0o640);
        assert!(loose_permissions(&f, &c).unwrap().contains("its group"));
        // No secrets in it: nothing to say.
        let plain = file("clusters:\n  - url: https://pve:8006\n    username: root@pam\n");
        let mut plain = plain;
        plain.mode = Some(0o644);
        assert_eq!(
            loose_permissions(&plain, &parse_config_file(&plain).unwrap()),
            None
        );
        // Debug never shows the text.
        let shown = format!("{f:?} {c:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    fn clusters(c: Connection) -> Vec<Config> {
        match c {
            Connection::Clusters(c) => c,
            _ => panic!("not a cluster connection"),
        }
    }

    fn resolve(args: &[&str], e: &[(&str, &str)], f: Option<&str>) -> Result<Vec<Config>> {
        let f = f.map(file);
        connection(&cli(args), &env(e), f.as_ref()).map(clusters)
    }

    fn err(args: &[&str], e: &[(&str, &str)], f: Option<&str>) -> String {
        match resolve(args, e, f) {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    fn secret(s: &Option<SecretString>) -> &str {
        s.as_ref().map_or("", |s| s.expose_secret())
    }

    const GODOXY: &str = r#"
autocert:
  provider: local
entrypoint:
  middlewares: []
providers:
  include: [compose.yml]
  docker:
    local: $DOCKER_HOST
  proxmox:
    - url: https://pve-a:8006
      token_id: root@pam!godoxy
      secret: file-secret-a
      no_tls_verify: true
    - url: https://pve-b:8006/api2/json
      username: root
      password: file-password
      realm: pam
"#;

    const ONE: &str = "clusters:\n  - url: https://pve:8006\n    token_id: root@pam!file\n    secret: file-secret\n    fingerprint: AA\n";

    #[test]
    fn godoxy_form_reads_every_proxmox_entry() {
        let c = resolve(&["ls"], &[], Some(GODOXY)).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].url, "https://pve-a:8006");
        assert_eq!(secret(&c[0].secret), "file-secret-a");
        assert!(c[0].no_tls_verify);
        assert_eq!(c[1].username.as_deref(), Some("root"));
        assert_eq!(secret(&c[1].password), "file-password");
    }

    #[test]
    fn pvekit_form_and_both_forms_together() {
        let yaml = "clusters:\n  - {url: 'https://x:8006', token_id: 'a@pam!tk', secret: s}\nproviders:\n  proxmox:\n    - {url: 'https://y:8006', token_id: 'b@pam!tk', secret: s}\n";
        let c = resolve(&["nodes"], &[], Some(yaml)).unwrap();
        let urls: Vec<&str> = c.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(urls, ["https://x:8006", "https://y:8006"]);
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let yaml = "clusters:\n  - {url: 'https://pve:8006', token_id: 'f@pam!tk', secret: f, username: fileuser, password: fp}\n";
        let e = [
            ("PVEKIT_URL", "https://pve:8006/"),
            ("PVEKIT_TOKEN_ID", "e@pam!tk"),
            ("PVEKIT_SECRET", "env-secret"),
        ];
        let c = resolve(&["ls", "--secret", "flag-secret"], &e, Some(yaml)).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].url, "https://pve:8006/", "env url");
        assert_eq!(c[0].token_id.as_deref(), Some("e@pam!tk"), "env beats file");
        assert_eq!(secret(&c[0].secret), "flag-secret", "flag beats env");
        assert_eq!(
            c[0].username.as_deref(),
            Some("fileuser"),
            "file fills the rest"
        );
        assert_eq!(secret(&c[0].password), "fp");
    }

    #[test]
    fn url_flag_beats_url_env_and_selects_the_file_entry() {
        let e = [("PVEKIT_URL", "https://pve-a:8006")];
        let c = resolve(&["--url", "https://PVE-B:8006", "ls"], &e, Some(GODOXY)).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].url, "https://PVE-B:8006");
        assert_eq!(secret(&c[0].password), "file-password");
        assert!(c[0].secret.is_none(), "nothing from the other entry");
    }

    #[test]
    fn url_without_a_matching_file_entry_uses_flags_and_env_only() {
        let c = resolve(
            &[
                "ls",
                "--url",
                "https://other:8006",
                "--token-id",
                "x@pam!tk",
            ],
            &[("PVEKIT_SECRET", "s")],
            Some(GODOXY),
        )
        .unwrap();
        assert_eq!(c[0].token_id.as_deref(), Some("x@pam!tk"));
        assert!(!c[0].no_tls_verify);
    }

    #[test]
    fn overrides_apply_to_a_single_file_cluster() {
        let c = resolve(
            &["ls", "--secret", "flag"],
            &[("PVEKIT_TOKEN_ID", "env@pam!tk")],
            Some(ONE),
        );
        // The file's fingerprint "AA" is invalid: validation names the file.
        let e = format!("{:#}", c.err().unwrap());
        assert!(
            e.contains("/etc/test.yml") && e.contains("fingerprint"),
            "{e}"
        );
        let c = resolve(
            &["ls", "--secret", "flag", "--no-tls-verify"],
            &[],
            Some(ONE),
        )
        .unwrap();
        assert_eq!(secret(&c[0].secret), "flag");
        assert_eq!(c[0].token_id.as_deref(), Some("root@pam!file"));
        assert!(c[0].no_tls_verify && c[0].fingerprint.is_none());
    }

    #[test]
    fn overrides_refused_with_several_file_clusters() {
        let e = err(&["ls"], &[("PVEKIT_SECRET", "x")], Some(GODOXY));
        assert!(
            e.contains("PVEKIT_SECRET") && e.contains("2 clusters") && e.contains("--url"),
            "{e}"
        );
        let e = err(&["ls", "--no-tls-verify"], &[], Some(GODOXY));
        assert!(e.contains("--no-tls-verify"), "{e}");
        // Selecting one with --url makes them fine.
        let c = resolve(
            &["ls", "--url", "https://pve-a:8006/api2/json"],
            &[("PVEKIT_SECRET", "x")],
            Some(GODOXY),
        )
        .unwrap();
        assert_eq!(secret(&c[0].secret), "x");
    }

    #[test]
    fn tls_choice_highest_level_wins() {
        let fp = "AB:".repeat(31) + "AB";
        // file: no_tls_verify; flag: fingerprint -> pinned.
        let c = resolve(
            &["ls", "--url", "https://pve-a:8006", "--fingerprint", &fp],
            &[],
            Some(GODOXY),
        )
        .unwrap();
        assert_eq!(c[0].fingerprint.as_deref(), Some(fp.as_str()));
        assert!(!c[0].no_tls_verify);
        // env: fingerprint; flag: no-tls-verify -> insecure.
        let c = resolve(
            &[
                "ls",
                "--url",
                "https://x:8006",
                "--token-id",
                "a@pam!tk",
                "--secret",
                "s",
                "--no-tls-verify",
            ],
            &[("PVEKIT_FINGERPRINT", &fp)],
            None,
        )
        .unwrap();
        assert!(c[0].no_tls_verify && c[0].fingerprint.is_none());
        // env says explicitly false: overrides the file's true.
        let c = resolve(
            &["ls", "--url", "https://pve-a:8006"],
            &[("PVEKIT_NO_TLS_VERIFY", "false")],
            Some(GODOXY),
        )
        .unwrap();
        assert!(!c[0].no_tls_verify);
        // Both at the same level: a clear contradiction.
        let e = err(
            &[
                "ls",
                "--url",
                "https://x:8006",
                "--token-id",
                "a@pam!tk",
                "--secret",
                "s",
                "--no-tls-verify",
                "--fingerprint",
                &fp,
            ],
            &[],
            None,
        );
        assert!(e.contains("contradict"), "{e}");
    }

    #[test]
    fn env_values() {
        let base = [
            ("PVEKIT_URL", "https://x:8006"),
            ("PVEKIT_USERNAME", "root"),
            ("PVEKIT_PASSWORD", "pw"),
            ("PVEKIT_REALM", "pve"),
        ];
        let c = resolve(&["ls"], &base, None).unwrap();
        assert_eq!(c[0].realm.as_deref(), Some("pve"));
        assert!(!c[0].no_tls_verify);
        for (v, want) in [("1", true), ("YES", true), ("0", false), ("off", false)] {
            let mut e = base.to_vec();
            e.push(("PVEKIT_NO_TLS_VERIFY", v));
            assert_eq!(resolve(&["ls"], &e, None).unwrap()[0].no_tls_verify, want);
        }
        let mut e = base.to_vec();
        e.push(("PVEKIT_NO_TLS_VERIFY", "maybe"));
        assert!(err(&["ls"], &e, None).contains("PVEKIT_NO_TLS_VERIFY must be true or false"));
        // Empty values count as unset.
        let e = [("PVEKIT_URL", ""), ("PVEKIT_SECRET", "")];
        let c = resolve(&["ls"], &e, Some(GODOXY)).unwrap();
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn validation_errors_are_clear() {
        let e = err(
            &["ls", "--url", "https://x:8006", "--token-id", "a@pam!tk"],
            &[],
            None,
        );
        assert!(e.contains("secret is missing"), "{e}");
        let e = err(
            &[
                "ls",
                "--url",
                "http://x:8006",
                "--token-id",
                "a@pam!tk",
                "--secret",
                "s",
            ],
            &[],
            None,
        );
        assert!(e.contains("https"), "{e}");
        let e = err(&["ls"], &[], None);
        assert!(
            e.contains("no cluster configured") && e.contains("--demo"),
            "{e}"
        );
        let e = err(&["ls"], &[], Some("providers:\n  docker: {}\n"));
        assert!(
            e.contains("lists no clusters") && e.contains("/etc/test.yml"),
            "{e}"
        );
        let e = err(
            &["ls"],
            &[],
            Some("clusters:\n  - url: https://x:8006\n    tokenid: x\n"),
        );
        assert!(e.contains("/etc/test.yml") && e.contains("tokenid"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = err(&["ls"], &[], Some("clusters: [\n"));
        assert!(e.contains("/etc/test.yml") && !e.contains('\n'), "{e}");
        let yaml = "clusters:\n  - {url: 'https://x:8006', token_id: 'a@pam!tk', secret: s}\n  - {url: 'https://y:8006', token_id: 'a@pam!tk'}\n";
        let e = err(&["ls"], &[], Some(yaml));
        assert!(
            e.contains("cluster 2 (https://y:8006)") && e.contains("secret is missing"),
            "{e}"
        );
        // Secrets never show up in messages.
        let e = err(
            &["ls", "--url", "https://x:8006", "--secret", "hunter2"],
            &[],
            None,
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn empty_file_is_no_clusters() {
        let e = err(&["ls"], &[], Some("  \n"));
        assert!(e.contains("lists no clusters"), "{e}");
    }

    #[test]
    fn demo_ignores_env_and_file_but_refuses_flags() {
        let c = connection(
            &cli(&["--demo", "ls"]),
            &env(&[("PVEKIT_NO_TLS_VERIFY", "bogus")]),
            Some(&file("::bad")),
        )
        .unwrap();
        assert!(matches!(c, Connection::Demo));
        let e = connection(
            &cli(&["--demo", "ls", "--url", "https://x:8006"]),
            &env(&[]),
            None,
        )
        .err()
        .unwrap();
        assert!(e.downcast_ref::<UsageError>().is_some());
        assert!(e.to_string().contains("--url"));
    }

    #[test]
    fn readme_config_examples_parse() {
        let readme = include_str!("../../../README.md");
        let blocks: Vec<&str> = readme
            .split("```yaml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .collect();
        // Fault schedules of the simulator, config files, and simulator scenarios (they
        // state `nodes:`).
        let (faults, blocks): (Vec<&str>, Vec<&str>) =
            blocks.into_iter().partition(|b| b.starts_with("faults:"));
        for yaml in faults {
            let (_, parsed) = pvekit_sim::Scenario::from_yaml_with_faults(&format!(
                "nodes:\n  - {{name: pve1}}\n{yaml}"
            ))
            .unwrap();
            assert!(!parsed.is_empty(), "{yaml}");
        }
        // `pvekit serve`'s section, and a Prometheus scrape config (not pvekit's to parse).
        let blocks: Vec<&str> = blocks
            .into_iter()
            .filter(|b| !b.starts_with("scrape_configs:"))
            .collect();
        let (serve, blocks): (Vec<&str>, Vec<&str>) =
            blocks.into_iter().partition(|b| b.starts_with("serve:"));
        assert!(!serve.is_empty(), "the README shows a serve: section");
        for yaml in serve {
            let section = crate::commands::serve::parse_section(yaml).unwrap();
            assert!(!section.tokens.is_empty(), "{yaml}");
            for t in &section.tokens {
                assert_eq!(t.sha256.len(), 64, "{yaml}");
                assert!(t.sha256.chars().all(|c| c.is_ascii_hexdigit()), "{yaml}");
            }
        }
        let (scenarios, configs): (Vec<&str>, Vec<&str>) =
            blocks.into_iter().partition(|b| b.contains("\nnodes:"));
        assert!(configs.len() >= 2, "the README shows both config forms");
        for yaml in configs {
            let parsed = parse_config_file(&file(yaml)).unwrap();
            assert!(!parsed.is_empty(), "{yaml}");
        }
        for yaml in scenarios {
            pvekit_sim::Scenario::from_yaml(yaml).unwrap();
        }
    }

    #[test]
    fn default_path_follows_xdg() {
        let p = default_config_path(&env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]));
        assert_eq!(p, Some(PathBuf::from("/x/pvekit/config.yml")));
        let p = default_config_path(&env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")]));
        assert_eq!(p, Some(PathBuf::from("/h/.config/pvekit/config.yml")));
        assert_eq!(default_config_path(&env(&[])), None);
    }

    #[test]
    fn loading_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[("XDG_CONFIG_HOME", dir.path().to_str().unwrap())]);
        assert!(
            load_config_file(None, &e).unwrap().is_none(),
            "missing default is fine"
        );
        let missing = dir.path().join("nope.yml");
        let err = load_config_file(Some(&missing), &e).err().unwrap();
        assert!(format!("{err:#}").contains("nope.yml"));
        std::fs::create_dir_all(dir.path().join("pvekit")).unwrap();
        std::fs::write(dir.path().join("pvekit/config.yml"), ONE).unwrap();
        let f = load_config_file(None, &e).unwrap().unwrap();
        assert_eq!(f.contents, ONE);
    }
}

/// Parsers that never panic: the config file and the layering over it, with mutations of
/// valid files and arbitrary text (proptest's 256 cases each; `PROPTEST_CASES` overrides).
#[cfg(test)]
mod proptests {
    use super::*;
    use clap::Parser;
    use proptest::collection::vec;
    use proptest::prelude::*;

    const SAMPLES: &[&str] = &[
        "clusters:\n  - url: https://pve:8006\n    token_id: root@pam!file\n    secret: file-secret\n    fingerprint: AA\n",
        "clusters:\n  - {url: 'https://x:8006', token_id: 'a@pam!tk', secret: s}\nproviders:\n  proxmox:\n    - {url: 'https://y:8006', token_id: 'b@pam!tk', secret: s}\n",
        "autocert:\n  provider: local\nproviders:\n  include: [compose.yml]\n  docker:\n    local: $DOCKER_HOST\n  proxmox:\n    - url: https://pve-a:8006\n      token_id: root@pam!godoxy\n      secret: file-secret-a\n      no_tls_verify: true\n    - url: https://pve-b:8006/api2/json\n      username: root\n      password: file-password\n      realm: pam\n",
        "clusters:\n  - url: https://pve:8006\n    username: root@pam\n    password: pw\n    timeouts: {connect: 2.5, request: 1, login: 10}\n",
        "clusters: []\n",
        "providers: {proxmox: null}\n",
        "clusters:\n  - url: https://[fd00::1]:8006/\n    token_id: x@pve!t\n    secret: s\n    fingerprint: 80:D4:F2:DF:64:95:CD:8D:A0:82:82:AC:48:BA:C0:7A:1B:6B:87:8B:FE:B9:83:1C:95:4E:79:58:77:99:69:F5\n",
    ];

    /// Samples with up to four character edits, YAML's punctuation, or anything.
    fn yaml() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            4 => prop::sample::select(vec![
                ':', '-', ' ', '\n', '\t', '[', ']', '{', '}', ',', '\'', '"', '&', '*', '!',
                '|', '>', '#', '%', '@', '?', '0', 'a', '\0', '\u{feff}', 'é',
            ]),
            1 => any::<char>(),
        ];
        let edited = (
            prop::sample::select(SAMPLES.to_vec()),
            vec((any::<usize>(), 0u8..4, ch), 0..5),
        )
            .prop_map(|(s, edits)| {
                let mut c: Vec<char> = s.chars().collect();
                for (at, op, x) in edits {
                    let n = c.len();
                    match op {
                        0 if n > 0 => {
                            c.remove(at % n);
                        }
                        1 => c.insert(at % (n + 1), x),
                        2 if n > 0 => c[at % n] = x,
                        _ => c.truncate(at % (n + 1)),
                    }
                }
                c.into_iter().collect::<String>()
            });
        prop_oneof![
            6 => edited,
            2 => "[a-z_:\\- \n\\[\\]{},'\"&*!|>#0-9]{0,80}",
            1 => any::<String>(),
        ]
    }

    fn file(contents: String) -> ConfigFile {
        ConfigFile {
            path: "/etc/pvekit.yml".into(),
            contents,
            // No permission warning on stderr.
            mode: None,
        }
    }

    fn check_clusters(clusters: &[Config]) -> Result<(), TestCaseError> {
        for c in clusters {
            match c.validate() {
                Ok(()) | Err(pvekit::Error::Config { .. }) => {}
                Err(other) => prop_assert!(false, "not a config error: {other:?}"),
            }
            let _ = (c.shown_url(), c.origin());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// A config file reads as clusters, or fails with one line naming the file.
        #[test]
        fn config_files(text in yaml()) {
            match parse_config_file(&file(text)) {
                Ok(clusters) => check_clusters(&clusters)?,
                Err(e) => {
                    let m = format!("{e:#}");
                    prop_assert!(m.starts_with("/etc/pvekit.yml: "), "{m}");
                    prop_assert!(!m.contains('\n'), "{m}");
                }
            }
        }

        /// Arbitrary environment values over a file: clusters that validate, or an error
        /// that never shows a secret or a password given in the environment.
        #[test]
        fn layering(
            text in yaml(),
            url in prop::option::of(prop_oneof!["https://pve:8006/?", "\\PC{0,20}"]),
            token_id in prop::option::of("[a-z@!]{0,12}"),
            secret in prop::option::of("sek-[a-z]{10}"),
            username in prop::option::of("[a-z@!]{0,10}"),
            password in prop::option::of("pwd-[a-z]{10}"),
            fingerprint in prop::option::of("[0-9A-F:]{0,20}"),
            insecure in prop::option::of("\\PC{0,6}"),
        ) {
            let vars = [
                ("PVEKIT_URL", url),
                ("PVEKIT_TOKEN_ID", token_id),
                ("PVEKIT_SECRET", secret.clone()),
                ("PVEKIT_USERNAME", username),
                ("PVEKIT_PASSWORD", password.clone()),
                ("PVEKIT_FINGERPRINT", fingerprint),
                ("PVEKIT_NO_TLS_VERIFY", insecure),
            ];
            let env = |k: &str| vars.iter().find(|(n, _)| *n == k).and_then(|(_, v)| v.clone());
            let cli = Cli::try_parse_from(["pvekit", "ls"]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            match connection(&cli, &env, Some(&file(text))) {
                Ok(Connection::Clusters(clusters)) => {
                    prop_assert!(!clusters.is_empty());
                    for c in &clusters {
                        prop_assert!(c.validate().is_ok());
                    }
                }
                Ok(Connection::Demo) => prop_assert!(false, "demo without --demo"),
                Err(e) => {
                    let m = format!("{e:#}");
                    for s in [&secret, &password].into_iter().flatten() {
                        prop_assert!(!m.contains(s.as_str()), "{m} shows {s}");
                    }
                }
            }
        }
    }

    /// Deep nesting in a config file is an error, not a stack overflow.
    #[test]
    fn deep_files() {
        for text in [
            "[".repeat(100_000),
            "{a: ".repeat(50_000),
            "clusters:\n".to_string() + &"- ".repeat(50_000),
        ] {
            let _ = parse_config_file(&file(text));
        }
    }
}
