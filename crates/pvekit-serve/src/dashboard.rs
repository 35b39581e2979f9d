//! The web dashboard: static assets served at `/` (no auth: they hold no data; the page
//! reads the API, which needs a session).

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

/// The dashboard's routes (public).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
