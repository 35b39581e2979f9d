//! GoDoxy's `/api/v1/proxmox` routes.

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

/// GoDoxy's proxmox routes (behind auth).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
