/*!
`pvekit login URL`: from a Proxmox VE URL and a password to a least-privilege API token in
the config file, with trust on first use.

1. One TLS handshake shows the certificate (SHA-256 fingerprint, subject, issuer, validity);
   unless the system's roots trust it or `--fingerprint` names it, pvekit asks whether to
   pin it, as ssh does on first contact.
2. It asks once for the username and password (`--password-stdin` reads the password from
   standard input), logs in, and creates a token with privilege separation for that user,
   granted a custom role with exactly the privileges of `--role viewer|operator` on `--path`
   ([`pvekit::access::Access::setup_token`]). The password is never stored.
3. It writes or updates the cluster's entry in the config file (mode 0600; url, fingerprint,
   token id and secret; other entries and keys are kept), then checks the token works.

Running it again for a cluster whose entry has a working token changes nothing;
`--rotate` replaces the token (the old one is deleted). `--yes` answers every question.
*/

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use pvekit::access::{Role, TokenSetup};
use pvekit::types::Fingerprint;
use pvekit::{Client, Config, ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::commands::Context;
use crate::settings::{default_config_path, usage};

/// Flags of `pvekit login`.
#[derive(clap::Args)]
pub struct Args {
    /// The cluster's URL, e.g. https://pve.example.com:8006.
    pub url: String,
    /// What the token may do: viewer (lists, stats, history, lookups) or operator (also
    /// power actions and set-shutdown-timeout).
    #[arg(long, default_value = "viewer", value_parser = ["viewer", "operator"])]
    pub role: String,
    /// Where the token's role applies: / (everything), or a pool (/pool/NAME) or any ACL path.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// The token's name.
    #[arg(long, default_value = "pvekit")]
    pub token_name: String,
    /// Read the password from standard input (one line) instead of asking.
    #[arg(long)]
    pub password_stdin: bool,
    /// Replace the token (a new secret; the old token is deleted).
    #[arg(long)]
    pub rotate: bool,
    /// Answer yes to every question (trust the presented certificate).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// What the login's questions read and write.
trait Prompt {
    fn ask(&mut self, question: &str) -> Result<String>;
    fn secret(&mut self, question: &str) -> Result<SecretString>;
}

/// Asks on the terminal; the password without echo.
struct Terminal;

impl Prompt for Terminal {
    fn ask(&mut self, question: &str) -> Result<String> {
        if !std::io::stdin().is_terminal() {
            bail!(
                "cannot ask \"{}\": standard input is not a terminal (see --yes, --fingerprint, --username, --password-stdin)",
                question.trim_end_matches([' ', ':', '?'])
            );
        }
        eprint!("{question}");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim().to_string())
    }

    fn secret(&mut self, question: &str) -> Result<SecretString> {
        let p = rpassword::prompt_password(question).context("cannot read the password")?;
        Ok(p.into())
    }
}

/// `pvekit login`.
///
/// # Errors
/// Usage errors, a certificate not trusted, a refused login, missing privileges to create the
/// token, role or ACL, or a config file that cannot be written.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let role: Role = args.role.parse().map_err(usage)?;
    if !args.path.starts_with('/') {
        return Err(usage(format!(
            "--path must be an ACL path such as / or /pool/NAME, got {}",
            args.path
        )));
    }
    // pve-access-control `PVE::AccessControl::pve_verify_tokenid`: a letter, then letters,
    // digits, `.`, `-` or `_`.
    let name = args.token_name.as_bytes();
    let token_name_ok = name.len() >= 2
        && name[0].is_ascii_alphabetic()
        && name[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !token_name_ok {
        return Err(usage(format!(
            "--token-name must start with a letter and hold only letters, digits, '.', '-' and '_', got {:?}",
            args.token_name
        )));
    }
    let file = ctx
        .cli
        .config
        .clone()
        .or_else(|| default_config_path(&ctx.env))
        .ok_or_else(|| {
            usage("no config file path: set HOME or XDG_CONFIG_HOME, or give --config")
        })?;
    let mut prompt = Terminal;
    login(args, role, ctx, &file, &mut prompt).await
}

async fn login(
    args: &Args,
    role: Role,
    ctx: &Context<'_>,
    file: &Path,
    prompt: &mut dyn Prompt,
) -> Result<()> {
    let mut err = std::io::stderr();
    // 1. The certificate.
    let cert = pvekit::inspect_certificate(&args.url, Duration::from_secs(10)).await?;
    // The global --fingerprint names the certificate to trust without asking.
    let pin = match (&ctx.cli.conn.fingerprint, cert.trusted_by_system) {
        (Some(given), _) => {
            let want: Fingerprint = given
                .parse()
                .map_err(|e| usage(format!("--fingerprint: {e}")))?;
            if want != cert.fingerprint {
                bail!(
                    "the server presented a certificate with fingerprint {}, not the one given with --fingerprint; nothing was changed",
                    cert.fingerprint
                );
            }
            Some(cert.fingerprint)
        }
        (None, true) => None,
        (None, false) => {
            writeln!(
                err,
                "The server's certificate is not signed by a CA this system trusts:"
            )?;
            writeln!(err, "  SHA-256 fingerprint: {}", cert.fingerprint)?;
            writeln!(err, "  subject:             {}", cert.subject)?;
            writeln!(err, "  issuer:              {}", cert.issuer)?;
            writeln!(
                err,
                "  valid:               {} to {}{}",
                cert.not_before,
                cert.not_after,
                if cert.valid_now {
                    ""
                } else {
                    " (NOT valid now)"
                }
            )?;
            if !cert.names.is_empty() {
                writeln!(err, "  names:               {}", cert.names.join(", "))?;
            }
            writeln!(
                err,
                "Compare the fingerprint with the one under Datacenter → Node → System → Certificates."
            )?;
            let trusted = args.yes || {
                let a = prompt.ask("Trust this certificate and pin its fingerprint? [yes/no]: ")?;
                matches!(a.to_ascii_lowercase().as_str(), "y" | "yes")
            };
            if !trusted {
                bail!("the certificate was not trusted; nothing was changed");
            }
            Some(cert.fingerprint)
        }
    };
    let fingerprint = pin.map(|f| f.to_string());

    // 2. Credentials, then the admin login.
    let username = match &ctx.cli.conn.username {
        Some(u) => u.clone(),
        None if args.yes => "root@pam".to_string(),
        None => {
            let u = prompt.ask("Username [root@pam]: ")?;
            if u.is_empty() {
                "root@pam".to_string()
            } else {
                u
            }
        }
    };
    let userid = if username.contains('@') {
        username.clone()
    } else {
        format!(
            "{username}@{}",
            ctx.cli.conn.realm.as_deref().unwrap_or("pam")
        )
    };
    let password: SecretString = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string().into()
    } else if let Some(p) = &ctx.cli.conn.password {
        p.clone()
    } else {
        prompt.secret(&format!("Password for {userid}: "))?
    };
    if password.expose_secret().is_empty() {
        return Err(usage("the password is empty"));
    }
    let base = Config {
        url: args.url.clone(),
        fingerprint: fingerprint.clone(),
        ..Default::default()
    };
    let admin = Client::connect(&Config {
        username: Some(userid.clone()),
        password: Some(password),
        ..base.clone()
    })
    .await?;

    // 3. A working entry is kept as it is, unless --rotate.
    let mut doc = read_doc(file)?;
    let origin = admin.url().to_string();
    let full_id = format!("{userid}!{}", args.token_name);
    if !args.rotate
        && let Some(entry) = find_entry(&doc, &origin)
        && entry.get("token_id").and_then(Value::as_str) == Some(full_id.as_str())
        && entry.get("secret").and_then(Value::as_str).is_some()
    {
        let tokens = admin.access().tokens(&userid).await?;
        if tokens.iter().any(|t| t.tokenid == args.token_name) {
            writeln!(
                err,
                "{} already has token {full_id} in {}; nothing changed (--rotate replaces it)",
                admin.url(),
                file.display()
            )?;
            return Ok(());
        }
    }
    let token = admin
        .access()
        .setup_token(&TokenSetup {
            userid: userid.clone(),
            tokenid: args.token_name.clone(),
            role,
            path: args.path.clone(),
            replace: args.rotate,
        })
        .await
        .map_err(|e| match e {
            pvekit::Error::InvalidInput { .. } => anyhow!(
                "{full_id} exists already but its secret is not in {}: use --rotate to replace it",
                file.display()
            ),
            other => other.into(),
        })?;

    // 4. The config entry, then a check that the token works.
    set_entry(
        &mut doc,
        &origin,
        &token.full_id,
        &token.secret,
        fingerprint.as_deref(),
    );
    write_doc(file, &doc)?;
    let check = Client::connect(&Config {
        token_id: Some(token.full_id.clone()),
        secret: Some(token.secret.clone()),
        ..base
    })
    .await
    .context("the new token does not work")?;
    let guests = check
        .cluster_resources(Some(pvekit::types::ResourceType::Vm))
        .await?;
    writeln!(
        err,
        "{} token {} for {} with role {} on {} (it sees {} guests); written to {}",
        if token.replaced {
            "Replaced"
        } else {
            "Created"
        },
        token.full_id,
        admin.url(),
        role.role_id(),
        args.path,
        guests.len(),
        file.display()
    )?;
    writeln!(
        err,
        "A token cannot run exec, container journals, tail or shells: Proxmox VE gives those only to a root@pam password login (add username: root@pam and password to the entry for them)."
    )?;
    Ok(())
}

/// The config file as a YAML document (empty when absent).
fn read_doc(file: &Path) -> Result<Value> {
    match std::fs::read_to_string(file) {
        Ok(text) if text.trim().is_empty() => Ok(Value::Object(Map::new())),
        Ok(text) => serde_saphyr::from_str(&text)
            .with_context(|| format!("cannot read config file {}", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Map::new())),
        Err(e) => Err(anyhow::Error::new(e))
            .with_context(|| format!("cannot read config file {}", file.display())),
    }
}

/// The origin an entry's url stands for (`https://host:port`), or `None` if it is not one.
fn origin_of(url: &str) -> Option<String> {
    Config {
        url: url.to_string(),
        ..Default::default()
    }
    .origin()
    .ok()
}

/// The entry for `origin`, in `clusters` or GoDoxy's `providers.proxmox`.
fn find_entry<'a>(doc: &'a Value, origin: &str) -> Option<&'a Map<String, Value>> {
    let lists = [
        doc.get("clusters"),
        doc.get("providers").and_then(|p| p.get("proxmox")),
    ];
    lists
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_object)
        .find(|e| {
            e.get("url")
                .and_then(Value::as_str)
                .and_then(origin_of)
                .is_some_and(|o| o == origin)
        })
}

/// Sets the token (and pin) of `origin`'s entry, adding one under `clusters` if there is
/// none. The entry's other keys are kept, but not `no_tls_verify` once a pin is set.
fn set_entry(
    doc: &mut Value,
    origin: &str,
    token_id: &str,
    secret: &SecretString,
    fingerprint: Option<&str>,
) {
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let matches = |e: &Value| {
        e.get("url")
            .and_then(Value::as_str)
            .and_then(origin_of)
            .is_some_and(|o| o == origin)
    };
    let update = |e: &mut Map<String, Value>| {
        e.insert("token_id".into(), token_id.into());
        e.insert("secret".into(), secret.expose_secret().into());
        if let Some(fp) = fingerprint {
            e.insert("fingerprint".into(), fp.into());
            e.remove("no_tls_verify");
        }
    };
    for list in ["clusters", "providers"] {
        let entries = match list {
            "clusters" => doc.get_mut("clusters"),
            _ => doc.get_mut("providers").and_then(|p| p.get_mut("proxmox")),
        };
        if let Some(Value::Array(entries)) = entries
            && let Some(Value::Object(e)) = entries.iter_mut().find(|e| matches(e))
        {
            update(e);
            return;
        }
    }
    let mut entry = Map::new();
    entry.insert("url".into(), origin.into());
    update(&mut entry);
    let root = doc.as_object_mut().expect("an object");
    match root.get_mut("clusters") {
        Some(Value::Array(list)) => list.push(Value::Object(entry)),
        _ => {
            root.insert("clusters".into(), Value::Array(vec![Value::Object(entry)]));
        }
    }
}

/// Writes the document as YAML, mode 0600, atomically (a temporary file renamed over it); the
/// directory is created 0700 if missing.
fn write_doc(file: &Path, doc: &Value) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let text = serde_saphyr::to_string(doc).context("cannot write the config as YAML")?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    tmp.write_all(
        format!("# Written by pvekit login; comments of an earlier version are not kept.\n{text}")
            .as_bytes(),
    )?;
    tmp.as_file().sync_all()?;
    tmp.persist(file)
        .map_err(|e| anyhow::Error::new(e.error))
        .with_context(|| format!("cannot write config file {}", file.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_updated_or_added() {
        let mut doc: Value = serde_saphyr::from_str(
            "other: 1\nproviders:\n  proxmox:\n    - url: https://pve.lan:8006/\n      username: root\n      password: x\n      no_tls_verify: true\n",
        )
        .unwrap();
        let secret: SecretString = "s3cret".to_string().into();
        assert!(find_entry(&doc, "https://pve.lan:8006").is_some());
        set_entry(
            &mut doc,
            "https://pve.lan:8006",
            "root@pam!pvekit",
            &secret,
            Some("AA:BB"),
        );
        let e = &doc["providers"]["proxmox"][0];
        assert_eq!(e["token_id"], "root@pam!pvekit");
        assert_eq!(e["fingerprint"], "AA:BB");
        assert!(e.get("no_tls_verify").is_none());
        assert_eq!(e["username"], "root", "other keys are kept");
        assert_eq!(doc["other"], 1);
        set_entry(
            &mut doc,
            "https://pve2.lan:8006",
            "root@pam!pvekit",
            &secret,
            None,
        );
        assert_eq!(doc["clusters"][0]["url"], "https://pve2.lan:8006");
        assert!(doc["clusters"][0].get("fingerprint").is_none());
    }

    #[test]
    fn the_file_is_written_0600_and_reads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/config.yml");
        let mut doc = read_doc(&file).unwrap();
        let secret: SecretString = "s3cret".to_string().into();
        set_entry(
            &mut doc,
            "https://pve.lan:8006",
            "root@pam!pvekit",
            &secret,
            Some("AA:BB"),
        );
        write_doc(&file, &doc).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let back = read_doc(&file).unwrap();
        assert_eq!(back["clusters"][0]["secret"], "s3cret");
    }
}
