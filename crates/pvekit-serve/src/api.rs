//! pvekit's own API under `/api/v1`, and the public routes (`/healthz`, `/login`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Caller, SESSION_COOKIE, SESSION_TTL, SessionInfo, Via};
use crate::error::{ApiResult, Query};
use crate::server::session_cookie;
use crate::state::AppState;

type S = Arc<AppState>;

/// Routes that need no auth.
pub fn public_routes() -> Router<S> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/login", get(login))
}

/// Routes behind auth.
pub fn routes() -> Router<S> {
    Router::new()
        .route("/api/v1/session", get(session))
        .route("/api/v1/clusters", get(clusters))
        .route("/api/v1/logout", post(logout))
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
        return crate::error::ApiError::unauthorized(
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

/// `GET /api/v1/session`: who the caller is, and the CSRF token of a cookie session.
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

/// `POST /api/v1/logout`: ends the cookie session.
async fn logout(State(state): State<S>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(c) = session_cookie(&headers) {
        state.auth.end_session(&c);
    }
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut h = HeaderMap::new();
    if let Ok(v) = expired.parse() {
        h.insert(SET_COOKIE, v);
    }
    Ok((StatusCode::NO_CONTENT, h).into_response())
}

/// One cluster in `GET /api/v1/clusters`.
#[derive(Debug, serde::Serialize)]
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

pub(crate) fn cluster_summary(c: &crate::state::Cluster) -> ClusterSummary {
    use pvekit::types::{ClusterStatusItem, ResourceStatus};
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

/// `GET /api/v1/clusters`: every cluster with counts and the inventory's age.
async fn clusters(State(state): State<S>) -> Json<Vec<ClusterSummary>> {
    Json(state.clusters.iter().map(|c| cluster_summary(c)).collect())
}
