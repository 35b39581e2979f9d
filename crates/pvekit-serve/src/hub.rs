//! Shared upstream streams: however many subscribers watch a node's stats, one poll runs.

/// The shared streams of a server.
#[derive(Debug, Default)]
pub struct Hub {}
