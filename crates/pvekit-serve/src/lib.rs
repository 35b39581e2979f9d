//! `pvekit serve` as a library: one long-running process that keeps a live inventory of
//! every configured Proxmox VE cluster and serves it to many clients at the cost of one
//! upstream poll.
//!
//! # Principal types
//! - [`Server`] and [`ServeOptions`]: start a server over a set of connected
//!   [`pvekit::Client`]s; [`Running`] is the started server (its URL, the admin token and
//!   login link made at start, graceful shutdown).
//! - [`Role`], [`ConfiguredToken`], [`hash_token`], [`new_token`]: who may call what.
//! - [`ApiError`]: every error answer, a status with a JSON `{"message", "error"}` body.
//! - [`GuestRow`], [`NodeRow`], [`ClusterSummary`]: the rows pvekit's own API answers with.
//!
//! # Routes
//! - `/`: the web dashboard (static files embedded in the binary; the page reads the API).
//! - `/api/v1/proxmox/...`: GoDoxy's proxmox routes (stats, journal, tail, LXC actions),
//!   plain HTTP and WebSocket, with GoDoxy's `ping`/`pong` keepalive.
//! - `/api/v1/...`: pvekit's own API, described at `/api/v1/openapi.json`.
//! - `/pve?target=CLUSTER`: metrics as prometheus-pve-exporter serves them; `/metrics`:
//!   the server's own figures.
//! - `/healthz`: no auth.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = pvekit::Config {
//!     url: "https://pve.example.com:8006".into(),
//!     token_id: Some("root@pam!serve".into()),
//!     secret: Some("00000000-0000-0000-0000-000000000000".to_string().into()),
//!     ..Default::default()
//! };
//! let client = pvekit::Client::connect(&config).await?;
//! let running = pvekit_serve::Server::start(vec![client], pvekit_serve::ServeOptions::default()).await?;
//! println!("{}", running.ready_line());
//! running.wait_for_signal().await;
//! running.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod actions;
mod api;
mod auth;
mod dashboard;
mod error;
mod events;
mod facts;
mod godoxy;
mod hub;
mod metrics;
mod rows;
mod server;
mod state;
mod telemetry;
mod terminal;
mod tls;
mod ws;

pub use api::{ClusterSummary, openapi};
pub use auth::{
    CSRF_HEADER, Caller, ConfiguredToken, Role, SESSION_COOKIE, Via, hash_token, new_token,
};
pub use error::ApiError;
pub use rows::{GuestRow, NodeRow};
pub use server::{Running, ServeError, ServeOptions, Server, TlsSetup};
