//! pvekit's own API under `/api/v1` (described by `/api/v1/openapi.json`, generated from
//! these handlers), and the public routes (`/healthz`, `/login`).
//!
//! Read routes answer from the live inventory (no upstream request); a guest's detail and
//! history, power actions, commands and shells call the cluster.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use pvekit::types::{ClusterStatusItem, GuestKind, ResourceStatus, RrdCf, RrdPoint, RrdTimeframe};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, SESSION_COOKIE, SESSION_TTL, SessionInfo, Via};
use crate::error::{ApiError, ApiResult, Path, Query};
use crate::rows::{GuestRow, NodeRow, allowed_actions};
use crate::server::session_cookie;
use crate::state::{AppState, Cluster};

pub(crate) type S = Arc<AppState>;

/// The OpenAPI document's frame; the paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pvekit serve",
        description = "pvekit's own API: the live inventory of Proxmox VE clusters, power actions, history, events, commands and shells. Auth: `Authorization: Bearer TOKEN`, or the session cookie of a login link (writes then need `X-PVEKit-CSRF`)."
    ),
    components(schemas(crate::auth::Role))
)]
struct ApiDoc;

/// Routes that need no auth.
pub fn public_routes() -> Router<S> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/login", get(login))
}

/// Routes behind auth, with `/api/v1/openapi.json`.
pub fn routes() -> Router<S> {
    let (router, doc) = api_router().split_for_parts();
    let doc = Arc::new(doc);
    router.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
}

/// The API's routes and their OpenAPI description, registered together.
fn api_router() -> OpenApiRouter<S> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session))
        .routes(routes!(logout))
        .routes(routes!(clusters))
        .routes(routes!(nodes))
        .routes(routes!(guests))
        .routes(routes!(guest))
        .routes(routes!(history))
        .routes(routes!(lookup))
        .routes(routes!(crate::actions::act))
        .routes(routes!(crate::actions::task_events))
        .routes(routes!(crate::events::events_sse))
        .routes(routes!(crate::events::events_ws))
        .routes(routes!(crate::terminal::node_shell))
        .routes(routes!(crate::terminal::guest_shell))
        .routes(routes!(crate::terminal::guest_exec))
}

/// The OpenAPI document (for tests and `pvekit serve --openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[derive(Deserialize)]
struct LoginQuery {
    code: String,
}

/// `GET /login?code=...`: a one-time link becomes a session cookie, then the dashboard.
async fn login(State(state): State<S>, Query(q): Query<LoginQuery>) -> Response {
    let Some(session) = state.auth.redeem(&q.code) else {
        return ApiError::unauthorized(
            "this login link is unknown, used or expired; ask for a new one",
        )
        .into_response();
    };
    let secure = if state.tuning.tls { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        session.cookie.expose_secret(),
        SESSION_TTL.as_secs()
    );
    let mut headers = HeaderMap::new();
    if let Ok(v) = cookie.parse() {
        headers.insert(SET_COOKIE, v);
    }
    headers.insert(LOCATION, axum::http::HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, headers).into_response()
}

/// Who the caller is, and the CSRF token of a cookie session.
#[utoipa::path(get, path = "/api/v1/session", tag = "auth",
    responses((status = 200, body = SessionInfo)))]
async fn session(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Json<SessionInfo> {
    let csrf = match caller.via {
        Via::Session => session_cookie(&headers).and_then(|c| state.auth.csrf_of(&c)),
        Via::Token => None,
    };
    Json(SessionInfo {
        name: caller.name,
        role: caller.role,
        csrf,
    })
}

/// Ends the cookie session.
#[utoipa::path(post, path = "/api/v1/logout", tag = "auth",
    responses((status = 204, description = "the session is over")))]
async fn logout(State(state): State<S>, headers: HeaderMap) -> Response {
    if let Some(c) = session_cookie(&headers) {
        state.auth.end_session(&c);
    }
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut h = HeaderMap::new();
    if let Ok(v) = expired.parse() {
        h.insert(SET_COOKIE, v);
    }
    (StatusCode::NO_CONTENT, h).into_response()
}

/// One cluster in `GET /api/v1/clusters`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClusterSummary {
    /// The cluster's name.
    pub name: String,
    /// Proxmox VE version (`9.1.2`).
    pub version: String,
    /// Whether corosync reports quorum (`None` when not clustered or not known yet).
    pub quorate: Option<bool>,
    /// Member nodes.
    pub nodes: usize,
    /// Nodes online.
    pub nodes_online: usize,
    /// Guests.
    pub guests: usize,
    /// Guests running.
    pub running: usize,
    /// When the inventory's data was fetched (Unix seconds).
    pub taken_at: Option<u64>,
    /// Seconds since then.
    pub age_seconds: Option<f64>,
    /// Set when the latest poll failed: why. The data is from an earlier poll.
    pub stale: Option<String>,
}

fn unix(t: std::time::SystemTime) -> Option<u64> {
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The summary of a cluster from its latest snapshot and facts.
pub(crate) fn cluster_summary(c: &Cluster) -> ClusterSummary {
    let snapshot = c.store.snapshot();
    let facts = c.facts.load();
    let quorate = facts.status.iter().find_map(|i| match i {
        ClusterStatusItem::Cluster(info) => Some(info.quorate),
        _ => None,
    });
    let members = snapshot.nodes();
    ClusterSummary {
        name: c.name.clone(),
        version: c.client.version().version.clone(),
        quorate,
        nodes: members.len(),
        nodes_online: members.iter().filter(|m| m.online).count(),
        guests: snapshot.guests().len(),
        running: snapshot
            .guests()
            .iter()
            .filter(|g| g.status() == &ResourceStatus::Running)
            .count(),
        taken_at: snapshot.taken_at.and_then(unix),
        age_seconds: snapshot.age().map(|d| d.as_secs_f64()),
        stale: snapshot.stale.clone(),
    }
}

/// The node rows of a cluster (figures from the latest facts poll; members the poll did
/// not list yet appear with their online flag only).
pub(crate) fn node_rows(c: &Cluster) -> Vec<NodeRow> {
    let facts = c.facts.load();
    let mut rows: Vec<NodeRow> = facts
        .nodes
        .iter()
        .map(|r| NodeRow::new(&c.name, r))
        .collect();
    for m in c.store.snapshot().nodes() {
        if !rows.iter().any(|r| r.name == m.name) {
            rows.push(NodeRow {
                cluster: c.name.clone(),
                name: m.name.clone(),
                online: m.online,
                cpu: 0.0,
                maxcpu: 0.0,
                mem: 0,
                maxmem: 0,
                disk: 0,
                maxdisk: 0,
                uptime: 0,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// Every cluster with counts and the inventory's age.
#[utoipa::path(get, path = "/api/v1/clusters", tag = "inventory",
    responses((status = 200, body = Vec<ClusterSummary>)))]
async fn clusters(State(state): State<S>) -> Json<Vec<ClusterSummary>> {
    Json(state.clusters.iter().map(|c| cluster_summary(c)).collect())
}

/// Every node of every cluster, with CPU, memory and root-disk figures.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "inventory",
    responses((status = 200, body = Vec<NodeRow>)))]
async fn nodes(State(state): State<S>) -> Json<Vec<NodeRow>> {
    Json(state.clusters.iter().flat_map(|c| node_rows(c)).collect())
}

/// Every guest of every cluster with its figures and IPs (the live inventory).
#[utoipa::path(get, path = "/api/v1/guests", tag = "inventory",
    responses((status = 200, body = Vec<GuestRow>)))]
async fn guests(State(state): State<S>) -> Json<Vec<GuestRow>> {
    let mut rows = Vec::new();
    for c in &state.clusters {
        let snapshot = c.store.snapshot();
        rows.extend(snapshot.guests().iter().map(|g| GuestRow::new(&c.name, g)));
    }
    Json(rows)
}

/// A guest by cluster, type and VMID in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct GuestPath {
    /// The cluster's name.
    pub cluster: String,
    /// `lxc` or `qemu`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: String,
    /// Guest id.
    pub vmid: u64,
}

impl GuestPath {
    pub(crate) fn kind(&self) -> ApiResult<GuestKind> {
        self.kind.parse().map_err(|_| {
            ApiError::invalid(format!("type must be lxc or qemu, not '{}'", self.kind))
        })
    }
}

/// A guest's detail.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestDetail {
    /// The guest.
    pub guest: GuestRow,
    /// Its configuration (secrets such as passwords are left out).
    #[schema(value_type = Object)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The power actions its state allows now.
    pub actions: Vec<&'static str>,
}

/// Config keys whose values are secret (cloud-init's password) or hold one.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password") || k.contains("secret") || k == "cipassword"
}

/// One guest, its configuration (one upstream request) and the actions it allows.
#[utoipa::path(get, path = "/api/v1/guests/{cluster}/{type}/{vmid}", tag = "inventory",
    params(GuestPath),
    responses((status = 200, body = GuestDetail), (status = 404, description = "no such guest")))]
async fn guest(State(state): State<S>, Path(p): Path<GuestPath>) -> ApiResult<Json<GuestDetail>> {
    let kind = p.kind()?;
    let found = state.guest(&p.cluster, kind, p.vmid)?;
    let config = found
        .handle()
        .config()
        .await
        .map_err(|e| ApiError::upstream(&e))?;
    let config = config
        .into_iter()
        .filter(|(k, _)| !is_secret_key(k) && !k.starts_with("digest"))
        .collect();
    let row = GuestRow::new(&found.cluster.name, &found.resource);
    let actions = allowed_actions(kind, &row);
    Ok(Json(GuestDetail {
        guest: row,
        config,
        actions,
    }))
}

/// The time frame and consolidation of a history request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// `hour` (default), `day`, `week`, `month` or `year`.
    timeframe: Option<String>,
    /// `AVERAGE` (default) or `MAX`.
    cf: Option<String>,
}

/// A guest's RRD history: one point per step over the time frame, oldest first.
#[utoipa::path(get, path = "/api/v1/guests/{cluster}/{type}/{vmid}/rrd", tag = "inventory",
    params(GuestPath, HistoryQuery),
    responses((status = 200, body = Vec<Object>)))]
async fn history(
    State(state): State<S>,
    Path(p): Path<GuestPath>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<RrdPoint>>> {
    let kind = p.kind()?;
    let timeframe: RrdTimeframe = q
        .timeframe
        .as_deref()
        .unwrap_or("hour")
        .parse()
        .map_err(ApiError::invalid)?;
    let cf = match q.cf.as_deref().unwrap_or("AVERAGE") {
        "AVERAGE" => RrdCf::Average,
        "MAX" => RrdCf::Max,
        other => {
            return Err(ApiError::invalid(format!(
                "cf must be AVERAGE or MAX, not '{other}'"
            )));
        }
    };
    let found = state.guest(&p.cluster, kind, p.vmid)?;
    let points = found
        .handle()
        .rrddata(timeframe, cf)
        .await
        .map_err(|e| ApiError::upstream(&e))?;
    Ok(Json(points))
}

/// What to look a guest up by.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LookupQuery {
    /// One of its IPs.
    ip: Option<String>,
    /// A hostname whose first label is its name.
    hostname: Option<String>,
    /// An alias (its name).
    alias: Option<String>,
}

/// The guest with this IP, hostname or alias, in any cluster.
#[utoipa::path(get, path = "/api/v1/lookup", tag = "inventory",
    params(LookupQuery),
    responses((status = 200, body = GuestRow), (status = 404, description = "no guest matches")))]
async fn lookup(State(state): State<S>, Query(q): Query<LookupQuery>) -> ApiResult<Json<GuestRow>> {
    let ip = match q.ip.as_deref() {
        Some(s) => Some(
            s.parse::<std::net::IpAddr>()
                .map_err(|_| ApiError::invalid(format!("'{s}' is not an IP address")))?,
        ),
        None => None,
    };
    if ip.is_none() && q.hostname.is_none() && q.alias.is_none() {
        return Err(ApiError::invalid("give ip, hostname or alias"));
    }
    for c in &state.clusters {
        if let Some(g) = c
            .store
            .reverse_lookup(ip, q.hostname.as_deref(), q.alias.as_deref())
        {
            return Ok(Json(GuestRow::new(&c.name, &g)));
        }
    }
    Err(ApiError::not_found(
        "guest not found",
        format!(
            "no guest matches {}",
            pvekit::lookup::describe_lookup(ip, q.hostname.as_deref(), q.alias.as_deref())
        ),
    ))
}
