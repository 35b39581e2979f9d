/*!
`pvekit serve`: the HTTP/WebSocket service (GoDoxy's proxmox routes, pvekit's own API, the
dashboard, Prometheus metrics) over the live inventory of every configured cluster.

When it is ready it prints one JSON line on stdout, `{"url", "token", "login_url"}` (plus
`fingerprint` under a self-signed certificate), then logs go to stderr. SIGTERM and Ctrl-C stop
it cleanly. Its own settings come from flags and the config file's `serve:` section:

```yaml
serve:
  listen: 127.0.0.1:8080
  tls_cert: /etc/pvekit/cert.pem
  tls_key: /etc/pvekit/key.pem
  tokens:
    - {name: grafana, role: viewer, sha256: 4f1c...64 hex digits}
```

`pvekit serve --new-token ROLE` makes a token and prints it with its `tokens:` entry, without
connecting anywhere.
*/

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use pvekit_serve::{ConfiguredToken, Role, ServeOptions, Server, TlsSetup};
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use crate::commands::{Context, seconds};
use crate::settings::{ConfigFile, usage};

/// Flags of `pvekit serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (default 127.0.0.1:8080, or the config's serve.listen). A
    /// non-loopback address needs TLS and configured tokens.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate made at start (its SHA-256 fingerprint is in
    /// the ready line).
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// Seconds between inventory polls.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub interval: f64,
    /// Print a new API token for ROLE (viewer, operator or admin) and the config entry that
    /// holds its hash, then exit.
    #[arg(long, value_name = "ROLE")]
    pub new_token: Option<Role>,
    /// Print the OpenAPI document of pvekit's own API, then exit.
    #[arg(long)]
    pub openapi: bool,
}

/// The config file's `serve:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// `listen`.
    pub listen: Option<SocketAddr>,
    /// `tls_cert`.
    pub tls_cert: Option<PathBuf>,
    /// `tls_key`.
    pub tls_key: Option<PathBuf>,
    /// `tls_self_signed`.
    #[serde(default)]
    pub tls_self_signed: bool,
    /// `tokens`.
    #[serde(default)]
    pub tokens: Vec<ConfiguredToken>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    serve: Option<ServeSection>,
}

fn section(file: Option<&ConfigFile>) -> Result<ServeSection> {
    let Some(file) = file else {
        return Ok(ServeSection::default());
    };
    parse_section(&file.contents).map_err(|e| anyhow!("{}: {e}", file.path.display()))
}

/// The `serve:` section of a config file's text (a default one when there is none).
///
/// # Errors
/// Invalid YAML, or a `serve:` section that does not fit (unknown key, wrong type), as one
/// line.
pub fn parse_section(contents: &str) -> Result<ServeSection> {
    if contents.trim().is_empty() {
        return Ok(ServeSection::default());
    }
    let options = serde_saphyr::options! { with_snippet: false };
    let doc: Doc = serde_saphyr::from_str_with_options(contents, options).map_err(|e| {
        let msg = e
            .to_string()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        anyhow!("serve: {msg}")
    })?;
    Ok(doc.serve.unwrap_or_default())
}

/// `pvekit serve`.
///
/// # Errors
/// Usage errors (bad flags or `serve:` section), connection errors, the server cannot start
/// (the address rules, TLS files, a port in use).
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    if let Some(role) = args.new_token {
        let token = pvekit_serve::new_token();
        let mut out = std::io::stdout().lock();
        writeln!(out, "token: {}", token.expose_secret())?;
        writeln!(
            out,
            "# add under serve.tokens in the config file (it keeps only the hash):"
        )?;
        writeln!(
            out,
            "- {{name: CHANGE-ME, role: {role}, sha256: {}}}",
            pvekit_serve::hash_token(token.expose_secret())
        )?;
        return Ok(());
    }
    if args.openapi {
        let doc = pvekit_serve::openapi();
        let text = serde_json::to_string_pretty(&doc)?;
        writeln!(std::io::stdout().lock(), "{text}")?;
        return Ok(());
    }
    let interval = seconds("--interval", args.interval)?;
    let file = section(if ctx.cli.demo { None } else { ctx.file })?;
    let tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => TlsSetup::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        (_, _, true) => TlsSetup::SelfSigned,
        _ => match (file.tls_cert, file.tls_key, file.tls_self_signed) {
            (Some(cert), Some(key), _) => TlsSetup::Files { cert, key },
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(usage("serve: tls_cert and tls_key go together"));
            }
            (None, None, true) => TlsSetup::SelfSigned,
            (None, None, false) => TlsSetup::None,
        },
    };
    let mut options = ServeOptions {
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| ServeOptions::default().listen),
        tls,
        tokens: file.tokens,
        ..Default::default()
    };
    options.watch.interval = interval;
    ctx.on_clusters(async |clients| serve(clients.to_vec(), options).await)
        .await
}

async fn serve(clients: Vec<pvekit::Client>, options: ServeOptions) -> Result<()> {
    let running = match Server::start(clients, options).await {
        Ok(r) => r,
        Err(e) => {
            let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            return Err(anyhow!("{e}{hint}"));
        }
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", running.ready_line()).context("cannot write the ready line")?;
        out.flush().context("cannot write the ready line")?;
    }
    running.wait_for_signal().await;
    tracing::info!("stopping");
    tokio::time::timeout(Duration::from_secs(10), running.shutdown())
        .await
        .map_err(|_| anyhow!("the server did not stop within 10 s"))?;
    Ok(())
}
