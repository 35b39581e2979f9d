//! What the examples share: a [`Config`] from `PVE_*` environment variables.

use pvekit::Config;

/// Reads `PVE_URL`, `PVE_TOKEN_ID`/`PVE_SECRET` or `PVE_USERNAME`/`PVE_PASSWORD`,
/// `PVE_FINGERPRINT` and `PVE_NO_TLS_VERIFY=1`; `pvekit sim` prints all of these values.
pub fn config_from_env() -> Result<Config, String> {
    let env = |k: &str| std::env::var(k).ok();
    Ok(Config {
        url: env("PVE_URL").ok_or("set PVE_URL (and credentials: see the example's header)")?,
        token_id: env("PVE_TOKEN_ID"),
        secret: env("PVE_SECRET").map(Into::into),
        username: env("PVE_USERNAME"),
        password: env("PVE_PASSWORD").map(Into::into),
        fingerprint: env("PVE_FINGERPRINT"),
        no_tls_verify: env("PVE_NO_TLS_VERIFY").is_some_and(|v| v == "1"),
        ..Default::default()
    })
}
