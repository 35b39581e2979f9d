//! Errors as the API answers them: status, message (reason phrase = first line) and body.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

/// An error raised by a handler (after authentication): it has a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    /// The full message, usually ending in a newline.
    pub message: String,
    /// Per-parameter errors (400 only).
    pub errors: Option<BTreeMap<String, String>>,
    /// An error pveproxy relays from AnyEvent::HTTP (595, 596): no body, connection closed.
    pub relayed: bool,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            errors: None,
            relayed: false,
        }
    }

    /// 400 "Parameter verification failed." with its `errors` map.
    pub fn params(errors: BTreeMap<String, String>) -> ApiError {
        ApiError {
            status: 400,
            message: "Parameter verification failed.\n".to_string(),
            errors: Some(errors),
            relayed: false,
        }
    }

    /// 400 with one parameter error.
    pub fn param(name: &str, msg: impl Into<String>) -> ApiError {
        ApiError::params(BTreeMap::from([(name.to_string(), msg.into())]))
    }

    /// 403 as pve-common's `raise_perm_exc`: `Permission check failed (<what>)`, where `what`
    /// is usually `<path>, <privilege>`.
    pub fn permission(what: &str) -> ApiError {
        ApiError::new(403, format!("Permission check failed ({what})\n"))
    }

    /// 403 as `raise_perm_exc()` without an argument (a failed `or` or `userid-param` check):
    /// `Permission check failed`.
    pub fn permission_denied() -> ApiError {
        ApiError::new(403, "Permission check failed\n")
    }

    /// 500 as a handler's plain `die "...\n"`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, message)
    }

    /// 501 for an unknown method or path (path below /api2/json).
    pub fn not_implemented(method: &str, path: &str) -> ApiError {
        ApiError::new(501, format!("Method '{method} {path}' not implemented\n"))
    }

    /// An AnyEvent::HTTP error pveproxy relays after a failed proxy connection (see
    /// [`crate::model::Model::reachable_node`]): `status` with `reason` as the reason phrase,
    /// no body.
    pub fn proxy(status: u16, reason: &str) -> ApiError {
        ApiError {
            relayed: true,
            ..ApiError::new(status, reason)
        }
    }

    /// The response: `{"data":null,"message":...,"errors":...}` with the reason phrase set
    /// (for a relayed error: no body, `Connection: close`).
    pub fn into_response(self) -> Response<Body> {
        if self.relayed {
            return relayed_response(self.status, &self.message);
        }
        let mut body = json!({"data": Value::Null, "message": self.message});
        if let Some(errors) = &self.errors {
            body["errors"] = json!(errors);
        }
        json_response(self.status, &body, Some(&self.message))
    }
}

/// Why authentication failed (before any handler): 401 with an empty body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No cookie, ticket or token at all.
    NoTicket,
    /// A ticket or token that does not verify.
    Failed,
    /// Missing or bad CSRF token on a write call with ticket auth.
    Csrf,
}

impl AuthFailure {
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::NoTicket => "No ticket",
            AuthFailure::Failed => "Authentication failed!",
            AuthFailure::Csrf => "Permission denied - invalid csrf token",
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        set_common_headers(&mut resp, false);
        set_reason(&mut resp, self.message());
        resp
    }
}

/// Keeps the characters a reason phrase may hold (visible ASCII, space, tab).
fn reason_text(message: &str) -> String {
    pvekit_core::envelope::reason_phrase(message)
        .chars()
        .filter(|c| *c == '\t' || *c == ' ' || c.is_ascii_graphic())
        .collect()
}

fn set_reason(resp: &mut Response<Body>, message: &str) {
    if let Ok(r) = hyper::ext::ReasonPhrase::try_from(reason_text(message)) {
        resp.extensions_mut().insert(r);
    }
}

fn set_common_headers(resp: &mut Response<Body>, json: bool) {
    let h = resp.headers_mut();
    h.insert(
        header::SERVER,
        HeaderValue::from_static("pve-api-daemon/3.0"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=0"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if json {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
    }
}

/// A JSON response with the server's headers; `reason` overrides the reason phrase.
pub(crate) fn json_response(status: u16, body: &Value, reason: Option<&str>) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"data\":null}".to_vec());
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    set_common_headers(&mut resp, true);
    if let Some(r) = reason {
        set_reason(&mut resp, r);
    }
    resp
}

/// What pveproxy sends for an error AnyEvent::HTTP reported while proxying (pve-http-server
/// src/PVE/APIServer/AnyEvent.pm `proxy_request` then `response`): the status and reason
/// relayed, no body (so no Content-Length and no Content-Type), and `Connection: close`
/// (keep-alive ends for every code >= 400).
pub(crate) fn relayed_response(status: u16, reason: &str) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    set_common_headers(&mut resp, false);
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    set_reason(&mut resp, reason);
    resp
}

/// An HTML error page from a reverse proxy in front of pveproxy (nginx).
pub(crate) fn nginx_response(status: u16, reason: &str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let h = resp.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static("nginx"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    set_reason(&mut resp, reason);
    resp
}
