//! `/pve` (prometheus-pve-exporter's metrics) and `/metrics` (the server's own).

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

/// The metrics routes (behind auth).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
