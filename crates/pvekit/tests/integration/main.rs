//! Integration tests of the pvekit library against the simulator, over real HTTPS.
//!
//! Every test starts its own simulator on a free loopback port, in strict mode, and most end
//! by checking that the simulator rejected nothing the client sent and that every request
//! fits the official API schema.

mod util;

mod access;
mod auth;
mod command_transport;
mod discovery;
mod failover;
mod guests;
mod inventory;
mod permissions;
mod redaction;
mod terminal;
mod tls;
mod transport;
mod wake;
mod watch;
