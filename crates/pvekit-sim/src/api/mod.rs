//! The HTTP front: the order in which pveproxy looks at a request.
//!
//! 1. Latency (accurate, see [`crate::latency`]), then the `/api2/json` prefix and body limits.
//! 2. Authentication: ticket cookie (or `Authorization: PVEAuthCookie=`), API token, CSRF token
//!    on writes with ticket auth. Failures are 401 with an empty body.
//! 3. Routing by method and path in the one route table ([`routes`]): unknown ones are 501
//!    `Method 'GET /foo' not implemented`.
//! 4. Parameters: query (GET/DELETE) or query over form/JSON body (POST/PUT), `_dc` dropped,
//!    path placeholders merged; the route's token restriction and permission are checked,
//!    then the parameters are validated against the route's rule.
//! 5. The route's handler (after the tasks that are due have finished), whose errors carry a
//!    JSON body and a reason phrase.
//!
//! Scheduled faults ([`crate::faults`]) are looked at once the path is known: their delays,
//! their side effects (a node offline, tickets invalidated), then the answer they replace or
//! break. Each request knows the node whose listener took it ([`crate::listeners::Front`]):
//! calls about that node are local, calls about others are "proxied".
//!
//! The state every request works on is [`crate::state::AppState`].

mod handlers;
mod params;
pub(crate) mod routes;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, header as h};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::error::{ApiError, AuthFailure, json_response};
use crate::faults::{FaultKind, Fired, StatusAnswer};
use crate::listeners::{ConnSocket, Front};
use crate::record::redact;
use crate::rules::{self, EndpointRule, Permission};
use crate::state::AppState;
use crate::{RecordedRequest, Rejection};

/// Largest POST/PUT body pveproxy accepts.
const MAX_BODY: usize = 512 * 1024;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// Nobody (only for calls that need no authentication).
    Anonymous,
    /// A ticket holder.
    User(String),
    /// An API token (full token id).
    Token(String),
}

/// The decoded request as handlers see it.
pub(crate) struct Call<'a> {
    pub state: &'a AppState,
    /// Index of the node whose listener took the request.
    pub local: usize,
    /// The rule of the route called.
    pub rule: &'a EndpointRule,
    /// The caller; tasks record it as their user.
    pub identity: Identity,
    /// Query, body and path parameters, validated.
    pub params: BTreeMap<String, Value>,
}

impl Call<'_> {
    /// A validated string parameter.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.params.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// A validated boolean parameter (`1`/`0` or JSON true/false); absent is false.
    pub fn flag(&self, name: &str) -> bool {
        match self.params.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "1",
            Some(Value::Number(n)) => n.as_u64() == Some(1),
            _ => false,
        }
    }

    /// A validated non-negative integer parameter.
    pub fn uint(&self, name: &str) -> Option<u64> {
        self.str(name)
            .and_then(|v| v.trim_start_matches('+').parse().ok())
    }

    /// The authenticated user or full token id (`root@pam`, `root@pam!pvekit`).
    pub fn auth_id(&self) -> &str {
        match &self.identity {
            Identity::Anonymous => "",
            Identity::User(u) | Identity::Token(u) => u,
        }
    }

    /// Whether the caller holds `privilege` on the ACL `path` (for handlers that show only
    /// what the caller may see).
    pub fn can(&self, path: &str, privilege: &str) -> bool {
        match &self.identity {
            Identity::Anonymous => false,
            Identity::User(id) | Identity::Token(id) => self.state.auth.has(id, path, privilege),
        }
    }

    /// A validated VMID.
    pub fn vmid(&self) -> Result<u32, ApiError> {
        self.str("vmid")
            .and_then(|v| v.trim_start_matches('+').parse().ok())
            .ok_or_else(|| ApiError::param("vmid", "property is missing and it is not optional"))
    }

    /// The validated node name.
    pub fn node(&self) -> Result<String, ApiError> {
        self.str("node")
            .ok_or_else(|| ApiError::param("node", "property is missing and it is not optional"))
    }
}

/// What the pipeline produced, before it becomes a response.
enum Outcome {
    Data(handlers::Reply),
    Error(ApiError),
    Auth(AuthFailure),
}

/// The one axum handler: every request goes through here.
pub(crate) async fn serve(State(front): State<Front>, req: Request) -> Response<Body> {
    let st = front.st.clone();
    st.latency.wait().await;
    let (mut parts, body) = req.into_parts();
    let method = parts.method.clone();
    let raw_path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let decoded = percent_decode_str(&raw_path)
        .decode_utf8_lossy()
        .to_string();
    let rel = decoded.strip_prefix("/api2/json").map(|r| {
        if r.is_empty() {
            "/".to_string()
        } else {
            r.trim_end_matches('/').to_string()
        }
    });
    let rel_or_raw = rel.clone().unwrap_or_else(|| decoded.clone());
    let rel_or_raw = if rel_or_raw.is_empty() {
        "/".to_string()
    } else {
        rel_or_raw
    };
    let fired = if st.faults.is_active() {
        let node = st.model().nodes.get(front.node).map(|n| n.name.clone());
        st.faults
            .fire(method.as_str(), &rel_or_raw, node.as_deref().unwrap_or(""))
    } else {
        Fired::default()
    };
    let answer_fault = match apply_fired(&front, fired).await {
        Ok(answer) => answer,
        Err(stop) => {
            st.recorder.request(RecordedRequest {
                method: method.to_string(),
                path: rel_or_raw.clone(),
                params: redact(&form_pairs(&query)),
                status: 0,
            });
            return stop
                .run(
                    &front,
                    parts.extensions.get::<ConnSocket>(),
                    parts.extensions.get(),
                )
                .await;
        }
    };
    if let Some(FaultKind::Status { code, reason }) = &answer_fault {
        st.recorder.request(RecordedRequest {
            method: method.to_string(),
            path: rel_or_raw.clone(),
            params: redact(&form_pairs(&query)),
            status: *code,
        });
        return status_fault(*code, reason.as_deref());
    }

    // A websocket handshake on vncwebsocket: authenticated and validated like any GET, then
    // upgraded instead of answered.
    let wants_ws = method == Method::GET
        && rel.as_deref().is_some_and(|r| r.ends_with("/vncwebsocket"))
        && header(&parts.headers, "upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let ws = if wants_ws {
        match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => Some(ws),
            Err(rejection) => {
                let text = rejection.body_text();
                return finish(
                    &st,
                    &method,
                    &rel_or_raw,
                    form_pairs(&query),
                    Outcome::Error(ApiError::new(400, format!("{text}\n"))),
                )
                .await;
            }
        }
    } else {
        None
    };

    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return finish(
                &st,
                &method,
                &rel_or_raw,
                Vec::new(),
                Outcome::Error(ApiError::new(501, "for data too large\n")),
            )
            .await;
        }
    };

    let mut recorded = form_pairs(&query);
    let outcome = match rel {
        None => Outcome::Error(ApiError::new(501, "no such uri\n")),
        Some(rel) => {
            let (outcome, body_pairs) = process(
                &st,
                front.node,
                &method,
                &rel,
                &parts.headers,
                &query,
                &body,
            );
            recorded.extend(body_pairs);
            outcome
        }
    };
    if let (Some(ws), Outcome::Data(reply)) = (ws, &outcome) {
        let port = reply.data["port"]
            .as_str()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(0);
        st.recorder.request(RecordedRequest {
            method: method.to_string(),
            path: rel_or_raw.clone(),
            params: redact(&recorded),
            status: 101,
        });
        let protocol = parts.headers.get("sec-websocket-protocol").cloned();
        let session_state = st.clone();
        let faults = crate::term::session::SessionFaults::new(
            answer_fault.as_ref(),
            &front,
            parts.extensions.get::<ConnSocket>(),
        );
        let mut resp = ws
            .max_message_size(crate::term::session::MAX_FRAME)
            .max_frame_size(crate::term::session::MAX_FRAME)
            .on_upgrade(move |socket| {
                crate::term::session::run(session_state, port, socket, faults)
            });
        // pveproxy echoes the requested subprotocol verbatim (and sends none when none was
        // requested).
        if let Some(p) = protocol {
            resp.headers_mut().insert("sec-websocket-protocol", p);
        }
        return resp;
    }
    let resp = finish(&st, &method, &rel_or_raw, recorded, outcome).await;
    match answer_fault {
        Some(kind) => break_body(resp, &kind, parts.extensions.get::<ConnSocket>()).await,
        None => resp,
    }
}

/// What a fault does instead of answering.
enum NoAnswer {
    /// Hold the connection without answering.
    Stall,
    /// Reset the connection.
    Reset,
}

impl NoAnswer {
    /// Holds the request until the listener or the simulator stops (the client closing the
    /// connection may drop it earlier), then drops the connection without an answer; or
    /// resets its connection: SO_LINGER 0 on the socket, then axum-server aborts the
    /// connection (its task drops the socket: a TCP RST).
    async fn run(
        self,
        front: &Front,
        socket: Option<&ConnSocket>,
        conn: Option<&axum_server::ConnectionShutdown>,
    ) -> Response<Body> {
        if let (NoAnswer::Reset, Some(socket)) = (&self, socket) {
            socket.reset_on_close();
        } else {
            front.gone().await;
        }
        if let Some(conn) = conn {
            conn.shutdown();
        }
        // The connection task drops this future with the connection; no answer goes out.
        std::future::pending().await
    }
}

/// Applies the delays and side effects of the faults that fired; returns the fault that
/// decides the answer, or what to do instead of answering.
async fn apply_fired(front: &Front, fired: Fired) -> Result<Option<FaultKind>, NoAnswer> {
    let st = &front.st;
    if !fired.delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(fired.delay) => {}
            () = front.gone() => return Err(NoAnswer::Stall),
        }
    }
    for (node, back_after) in fired.offline {
        set_offline_for(front, &node, back_after);
    }
    if fired.invalidate_tickets {
        st.auth.invalidate_tickets();
    }
    match fired.answer {
        Some(FaultKind::Stall) => Err(NoAnswer::Stall),
        Some(FaultKind::Reset) => Err(NoAnswer::Reset),
        other => Ok(other),
    }
}

/// A `node_offline` fault: the node goes offline now (as `SimControl::set_node_online`), and
/// back after `back_after` if given.
fn set_offline_for(front: &Front, node: &str, back_after: Option<std::time::Duration>) {
    let st = &front.st;
    if let Err(e) = st.model_mut().set_online(node, false) {
        tracing::warn!(error = %e, "pvekit-sim: fault node_offline not applied");
        return;
    }
    st.terminals.cluster_changed();
    st.reconcile_services();
    if let Some(after) = back_after {
        let weak = Arc::downgrade(st);
        let node = node.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(st) = weak.upgrade() {
                let _ = st.model_mut().set_online(&node, true);
                st.terminals.cluster_changed();
                st.reconcile_services();
            }
        });
    }
}

/// The answer of a `status` fault.
fn status_fault(code: u16, reason: Option<&str>) -> Response<Body> {
    match crate::faults::status_answer(code, reason) {
        StatusAnswer::Proxy(reason) => crate::error::relayed_response(code, &reason),
        StatusAnswer::Nginx { phrase, body } => crate::error::nginx_response(code, &phrase, body),
        StatusAnswer::Json(message) => ApiError::new(code, message).into_response(),
    }
}

/// The longest body a fault rewrites (larger answers pass whole).
const MAX_FAULT_BODY: usize = 64 * 1024 * 1024;

/// Breaks a complete answer's body as a `truncate`, `reset_mid_body` or `malformed_json` fault
/// asks; other kinds leave it alone.
async fn break_body(
    resp: Response<Body>,
    kind: &FaultKind,
    socket: Option<&ConnSocket>,
) -> Response<Body> {
    let (cut, reset) = match kind {
        FaultKind::Truncate { after_bytes } => (*after_bytes, false),
        FaultKind::ResetMidBody { after_bytes } => (*after_bytes, true),
        FaultKind::MalformedJson => (None, false),
        _ => return resp,
    };
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FAULT_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let keep = cut.unwrap_or(bytes.len() / 2).min(bytes.len());
    if matches!(kind, FaultKind::MalformedJson) {
        // Half a JSON document never parses; an empty one becomes a lone brace.
        let broken = if keep == 0 {
            Bytes::from_static(b"{")
        } else {
            bytes.slice(..keep)
        };
        parts.headers.remove(h::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from(broken));
    }
    // The full length is announced, part of the body goes out, then the connection ends.
    parts
        .headers
        .insert(h::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let head = bytes.slice(..keep);
    let socket = socket.cloned();
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let head = head.clone();
        let socket = socket.clone();
        async move {
            match step {
                0 => Some((Ok::<Bytes, std::io::Error>(head), 1)),
                1 => {
                    // Give the part already written time to leave before the connection ends.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    if reset && let Some(s) = &socket {
                        s.reset_on_close();
                    }
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "pvekit-sim fault: body cut",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

async fn finish(
    st: &AppState,
    method: &Method,
    path: &str,
    params: Vec<(String, String)>,
    outcome: Outcome,
) -> Response<Body> {
    let (status, message, resp) = match outcome {
        Outcome::Data(reply) => {
            let mut body = json!({"data": reply.data});
            if let Some(total) = reply.total {
                body["total"] = Value::from(total);
            }
            (200, None, json_response(200, &body, None))
        }
        Outcome::Error(e) => (e.status, Some(e.message.clone()), e.clone().into_response()),
        Outcome::Auth(a) => (401, Some(a.message().to_string()), a.into_response()),
    };
    st.recorder.request(RecordedRequest {
        method: method.to_string(),
        path: path.to_string(),
        params: redact(&params),
        status,
    });
    if let Some(message) = message {
        let caused_by_request = matches!(status, 400 | 401 | 403 | 501);
        if caused_by_request {
            let message = message.trim_end().to_string();
            if st.strict {
                tracing::error!(%method, path, status, message, "pvekit-sim rejected a request");
            } else {
                tracing::debug!(%method, path, status, message, "pvekit-sim rejected a request");
            }
            st.recorder.rejection(Rejection {
                method: method.to_string(),
                path: path.to_string(),
                status,
                message,
            });
        }
        if status == 401 && !st.auth_failure_delay.is_zero() {
            tokio::time::sleep(st.auth_failure_delay).await;
        }
    }
    resp
}

/// Decodes `a=1&b=2` (form or query encoding).
fn form_pairs(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Credentials found in the headers.
struct Credentials {
    ticket: Option<String>,
    token: Option<String>,
}

/// Cookie first, then `Authorization: PVEAuthCookie=...` or `PVEAPIToken=...`.
fn credentials(headers: &HeaderMap) -> Credentials {
    let cookie_ticket = headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|c| c.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("PVEAuthCookie="))
        .map(|t| percent_decode_str(t).decode_utf8_lossy().to_string());
    let authz = header(headers, "authorization").unwrap_or("").trim();
    let value = |prefix: &str| {
        let rest = authz.strip_prefix(prefix)?;
        let rest = rest.strip_prefix('=').or_else(|| rest.strip_prefix(' '))?;
        let rest = rest.split(';').next().unwrap_or("");
        Some(
            percent_decode_str(rest.trim())
                .decode_utf8_lossy()
                .to_string(),
        )
    };
    let authz_ticket = value("PVEAuthCookie");
    let token = value("PVEAPIToken");
    Credentials {
        ticket: cookie_ticket.or(authz_ticket),
        token,
    }
}

/// Whether a call needs no authentication.
fn is_open(method: &Method, rel: &str) -> bool {
    rel == "/access/ticket" && (method == Method::GET || method == Method::POST)
}

/// Authentication, routing, parameters and the handler; returns the outcome and the body
/// parameters (for the request log).
fn process(
    st: &AppState,
    local: usize,
    method: &Method,
    rel: &str,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> (Outcome, Vec<(String, String)>) {
    let is_write = method == Method::POST || method == Method::PUT;
    // Body parameters (POST/PUT only; a body elsewhere is refused like pveproxy does).
    let mut body_params: Vec<(String, Value)> = Vec::new();
    if !body.is_empty() {
        if !is_write {
            return (
                Outcome::Error(ApiError::new(
                    501,
                    format!("Unexpected content for method '{method}'\n"),
                )),
                Vec::new(),
            );
        }
        let ctype = header(headers, "content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if ctype.starts_with("application/json") {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => body_params.extend(map),
                Ok(_) | Err(_) => {
                    return (
                        Outcome::Error(ApiError::new(400, "malformed JSON string\n")),
                        Vec::new(),
                    );
                }
            }
        } else if ctype.is_empty() || ctype.starts_with("application/x-www-form-urlencoded") {
            let text = String::from_utf8_lossy(body);
            body_params.extend(
                form_pairs(&text)
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v))),
            );
        } else {
            return (
                Outcome::Error(ApiError::new(
                    506,
                    format!("unsupported content type '{ctype}'\n"),
                )),
                Vec::new(),
            );
        }
    }
    let body_record: Vec<(String, String)> = body_params
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();

    // Authentication.
    let now = st.clock.now();
    let creds = credentials(headers);
    let open = is_open(method, rel);
    let identity = if open {
        Identity::Anonymous
    } else if let Some(ticket) = &creds.ticket {
        match st.auth.verify_ticket(ticket, now) {
            None => return (Outcome::Auth(AuthFailure::Failed), body_record),
            Some(user) => {
                if *method != Method::GET {
                    let csrf = header(headers, "csrfpreventiontoken").unwrap_or("");
                    if !st.auth.verify_csrf(csrf, &user, now) {
                        return (Outcome::Auth(AuthFailure::Csrf), body_record);
                    }
                }
                Identity::User(user)
            }
        }
    } else if let Some(token) = &creds.token {
        match st.auth.verify_token(token, now) {
            None => return (Outcome::Auth(AuthFailure::Failed), body_record),
            Some(id) => Identity::Token(id),
        }
    } else {
        return (Outcome::Auth(AuthFailure::NoTicket), body_record);
    };

    // Routing.
    let Some((route, path_params)) = routes::find(method.as_str(), rel) else {
        return (
            Outcome::Error(ApiError::not_implemented(method.as_str(), rel)),
            body_record,
        );
    };
    let rule = &route.rule;

    // Parameters: body, then query over it, then path placeholders.
    let mut params: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in body_params {
        merge(&mut params, k, v);
    }
    for (k, v) in form_pairs(query) {
        params.remove(&k);
        merge(&mut params, k, Value::String(v));
    }
    params.remove("_dc");
    for (k, v) in path_params {
        let conflicts = match params.get(&k) {
            None => false,
            Some(Value::String(s)) => *s != v,
            Some(Value::Number(n)) => n.as_u64().is_none_or(|n| Some(n) != v.parse().ok()),
            Some(_) => true,
        };
        if conflicts {
            return (
                Outcome::Error(ApiError::param(
                    &k,
                    "duplicate parameter (already defined in URI) with conflicting values!",
                )),
                body_record,
            );
        }
        params.insert(k, Value::String(v));
    }
    // As pveproxy: the token restriction and the permission check come before the
    // parameters are validated.
    if creds.token.is_some() && !rule.allow_token {
        return (
            // Sic: pveproxy passes a message ending in a newline to raise_perm_exc, which wraps
            // it in parentheses and adds its own.
            Outcome::Error(ApiError::permission(&format!(
                "URI '{rel}' not available with API token, need proper ticket.\n"
            ))),
            body_record,
        );
    }
    if let Err(e) = check_permission(st, &identity, &rule.permission, &params) {
        return (Outcome::Error(e), body_record);
    }
    if let Err(errors) = rules::validate(rule, &params) {
        return (Outcome::Error(ApiError::params(errors)), body_record);
    }

    let call = Call {
        state: st,
        local,
        rule,
        identity,
        params,
    };
    // Tasks whose end has come finish first, so the handler reads a state consistent with
    // the clock.
    st.settle();
    let outcome = match (route.handler)(&call) {
        Ok(v) => Outcome::Data(v),
        Err(e) => Outcome::Error(e),
    };
    if *method != Method::GET {
        // A new task, a changed address: the service listeners follow (a test fixture).
        st.reconcile_services();
    }
    (outcome, body_record)
}

/// The method's permission check (pve-access-control src/PVE/RPCEnvironment.pm
/// `check_api2_permissions` and `exec_api2_perm_check`): `root@pam` (with a ticket) passes
/// every check; a failed `perm` check is 403 `Permission check failed (<path>, <privilege>)`
/// naming the first missing privilege, or all of them joined by `|` when one would do; a
/// failed `or` is a bare 403 `Permission check failed`.
fn check_permission(
    st: &AppState,
    identity: &Identity,
    permission: &Permission,
    params: &BTreeMap<String, Value>,
) -> Result<(), ApiError> {
    if *identity == Identity::User("root@pam".into()) {
        return Ok(());
    }
    perm_check(st, identity, permission, params, false).map(|_| ())
}

/// The text of a parameter (a JSON number as its digits).
fn param_text(params: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    params.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// One check of [`check_permission`]; with `noerr` a failure is `Ok(false)`.
fn perm_check(
    st: &AppState,
    identity: &Identity,
    permission: &Permission,
    params: &BTreeMap<String, Value>,
    noerr: bool,
) -> Result<bool, ApiError> {
    let caller = match identity {
        Identity::User(id) | Identity::Token(id) => Some(id.as_str()),
        Identity::Anonymous => None,
    };
    let has =
        |path: &str, privilege: &str| caller.is_some_and(|id| st.auth.has(id, path, privilege));
    let fail = |e: ApiError| if noerr { Ok(false) } else { Err(e) };
    // `userid-param` and `userid-group` first need the user named by `userid` to exist.
    let user_exists =
        || param_text(params, "userid").is_some_and(|u| st.auth.cfg().user_exists(&u));
    match permission {
        Permission::World | Permission::All => Ok(true),
        Permission::Check { path, privs, any } => {
            let mut path = path.clone();
            for key in ["node", "vmid", "poolid"] {
                if let Some(text) = param_text(params, key) {
                    path = path.replace(&format!("{{{key}}}"), &text);
                }
            }
            let denied = |what: &str| ApiError::permission(&format!("{path}, {what}"));
            if *any {
                if privs.iter().any(|p| has(&path, p)) {
                    Ok(true)
                } else {
                    fail(denied(&privs.join("|")))
                }
            } else {
                match privs.iter().find(|p| !has(&path, p)) {
                    Some(missing) => fail(denied(missing)),
                    None => Ok(true),
                }
            }
        }
        Permission::Or(checks) => {
            for c in checks {
                if perm_check(st, identity, c, params, true)? {
                    return Ok(true);
                }
            }
            fail(ApiError::permission_denied())
        }
        Permission::UseridSelf => {
            let userid = param_text(params, "userid").unwrap_or_default();
            if !user_exists() {
                return fail(ApiError::internal(format!("no such user ('{userid}')\n")));
            }
            if caller == Some(userid.as_str()) {
                Ok(true)
            } else {
                fail(ApiError::permission_denied())
            }
        }
        Permission::UseridGroup { privs } => {
            if !user_exists() {
                let userid = param_text(params, "userid").unwrap_or_default();
                return fail(ApiError::internal(format!("no such user ('{userid}')\n")));
            }
            // Any of the privileges on /access/groups covers every user; the simulator has
            // no groups, so there is no other way.
            if privs.iter().any(|p| has("/access/groups", p)) {
                Ok(true)
            } else {
                fail(ApiError::permission_denied())
            }
        }
        Permission::PermModify { path } => {
            let raw = path.replace("{path}", &param_text(params, "path").unwrap_or_default());
            // A path that cannot be normalized passes here (`return 0` is not a failure at
            // the top level); the handler refuses it.
            let Some(path) = crate::usercfg::normalize_path(&raw) else {
                return Ok(!noerr);
            };
            match perm_modify(st, caller.unwrap_or(""), &path) {
                Ok(()) => Ok(true),
                Err(e) => fail(e),
            }
        }
    }
}

/// PVE::RPCEnvironment `check_perm_modify`: `Permissions.Modify` on the path, or the
/// privilege that allocates what it names (`Datastore.Allocate` below `/storage`,
/// `VM.Allocate` below `/vms`, `Pool.Allocate` below `/pool`).
pub(crate) fn perm_modify(st: &AppState, authid: &str, path: &str) -> Result<(), ApiError> {
    let mut privs = vec!["Permissions.Modify"];
    let below = |prefix: &str| path.strip_prefix(prefix).is_some_and(|r| !r.is_empty());
    if below("/storage/") {
        privs.push("Datastore.Allocate");
    } else if below("/vms/") {
        privs.push("VM.Allocate");
    } else if below("/pool/") {
        privs.push("Pool.Allocate");
    }
    if authid == "root@pam" || privs.iter().any(|p| st.auth.has(authid, path, p)) {
        Ok(())
    } else {
        Err(ApiError::permission(&format!(
            "{path}, {}",
            privs.join("|")
        )))
    }
}

/// A repeated key becomes an array, as in pveproxy.
fn merge(params: &mut BTreeMap<String, Value>, k: String, v: Value) {
    match params.get_mut(&k) {
        None => {
            params.insert(k, v);
        }
        Some(Value::Array(list)) => list.push(v),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, v]);
        }
    }
}
