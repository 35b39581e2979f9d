//! pvekit serve against the simulator, over real HTTP and WebSockets.

mod api;
mod auth;
mod browser;
mod godoxy;
mod metrics;
mod util;
