//! The web dashboard: static assets served at `/` (no auth: they hold no data; the page
//! reads the API, which needs a session).
//!
//! The files under `web/` are embedded in the binary (`include_bytes!`), so `cargo build`
//! alone builds the dashboard: hand-written HTML, CSS and ES modules, and third-party
//! libraries vendored from npm at pinned versions by `web/vendor.sh` (uPlot for charts,
//! xterm.js for terminals, loaded only by the views that need them).
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles, images and
//! connections from this origin only; no inline scripts, no frames), a strong `ETag` (the
//! browser revalidates with `If-None-Match` and gets a 304), and is gzip-compressed once,
//! on first use, when the client accepts it.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

/// The policy of every dashboard answer. `connect-src 'self'` covers the page's own
/// WebSockets (CSP Level 3 matches `ws:`/`wss:` of the same host and port). Styles: only
/// files of this origin; xterm.js's generated rules are applied through constructable
/// stylesheets (see `web/terminal.js`), which the policy does not need to allow.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// Its path under `/assets/` (the page itself is `index.html`).
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!("../web/", $path)),
            content_type: $type,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("store.js", JS),
    asset!("util.js", JS),
    asset!("overview.js", JS),
    asset!("guests.js", JS),
    asset!("guest.js", JS),
    asset!("logs.js", JS),
    asset!("terminal.js", JS),
    asset!("icon.svg", "image/svg+xml"),
    asset!("LICENSES.md", "text/markdown; charset=utf-8"),
    asset!("vendor/VERSIONS", TEXT),
    asset!("vendor/uplot/uPlot.esm.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", TEXT),
    asset!("vendor/xterm/xterm.mjs", JS),
    asset!("vendor/xterm/addon-fit.mjs", JS),
    asset!("vendor/xterm/xterm.css", CSS),
    asset!("vendor/xterm/LICENSE", TEXT),
    asset!("vendor/xterm/LICENSE.addon-fit", TEXT),
];

/// What is computed once per asset: its gzip form (when smaller) and its ETag.
struct Prepared {
    gzip: Option<Vec<u8>>,
    etag: HeaderValue,
}

fn prepared(index: usize) -> &'static Prepared {
    static PREPARED: OnceLock<Vec<OnceLock<Prepared>>> = OnceLock::new();
    let all = PREPARED.get_or_init(|| ASSETS.iter().map(|_| OnceLock::new()).collect());
    all[index].get_or_init(|| {
        let body = ASSETS[index].body;
        let gzip = gzip(body).filter(|z| z.len() + 64 < body.len());
        let digest = ring::digest::digest(&ring::digest::SHA256, body);
        let tag: String = digest.as_ref()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Prepared {
            gzip,
            etag: HeaderValue::from_str(&format!("\"{tag}\""))
                .unwrap_or(HeaderValue::from_static("\"0\"")),
        }
    })
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(body).ok()?;
    z.finish().ok()
}

/// The dashboard's routes (public).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { serve("index.html", &h) }),
        )
        .route(
            "/favicon.ico",
            get(|h: HeaderMap| async move { serve("icon.svg", &h) }),
        )
        .route(
            "/assets/{*path}",
            get(|Path(path): Path<String>, h: HeaderMap| async move { serve(&path, &h) }),
        )
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|part| {
                let mut it = part.split(';');
                let coding = it.next().unwrap_or_default().trim();
                let refused = it.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        == Some(0.0)
                });
                (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
            })
        })
    })
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    // `index.html` is the page at `/` only.
    let found = ASSETS
        .iter()
        .position(|a| a.path == path)
        .filter(|&i| i != 0 || path == "index.html");
    let Some(index) = found else {
        return ApiError::not_found("not found", format!("no dashboard file '{path}'"))
            .into_response();
    };
    let asset = &ASSETS[index];
    let prep = prepared(index);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Revalidated every time (a 304 when unchanged): a new binary serves new files at once.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(ETAG, prep.etag.clone());
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    let unchanged = request.get_all(IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == prep.etag.to_str().unwrap_or(""))
        })
    });
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    match &prep.gzip {
        Some(z) if accepts_gzip(request) => {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (StatusCode::OK, headers, z.as_slice()).into_response()
        }
        _ => (StatusCode::OK, headers, asset.body).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_and_gzip_is_negotiated() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.is_empty(), "{}", a.path);
            let p = prepared(i);
            assert!(p.etag.to_str().unwrap().starts_with('"'));
        }
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert!(accepts_gzip(&h));
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("br, gzip;q=0"));
        assert!(!accepts_gzip(&h));
        let r = serve("app.js", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], JS);
        assert_eq!(r.headers()[CONTENT_SECURITY_POLICY], CSP);
        let mut again = HeaderMap::new();
        again.insert(IF_NONE_MATCH, r.headers()[ETAG].clone());
        assert_eq!(serve("app.js", &again).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            serve("index.html", &HeaderMap::new()).status(),
            StatusCode::OK
        );
        assert_eq!(
            serve("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            serve("nope.js", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }
}
