//! I/O-free building blocks shared by the pvekit client and simulator.
//!
//! Proxmox VE's API is served by Perl, and its JSON carries Perl's habits: booleans as `0`/`1`,
//! numbers that sometimes arrive as strings, fields that vanish depending on state. This crate
//! is the one place those quirks are handled, together with the identifiers the API passes
//! around (UPIDs, tickets, user and token ids, certificate fingerprints) and the typed shapes of
//! the responses pvekit reads.
//!
//! Nothing here touches the network or the filesystem, so every piece is unit-tested and can be
//! fuzzed without a server.
//!
//! - [`perl`]: lenient deserializers for Perl-encoded values.
//! - [`envelope`]: the `{"data": ...}` envelope and error bodies.
//! - [`upid`], [`ticket`], [`userid`], [`fingerprint`]: identifiers and their text forms.
//! - [`names`]: the formats the API accepts for node names and VMIDs.
//! - [`path`]: API paths from percent-encoded segments.
//! - [`types`]: typed responses (version, cluster status, resources, nodes, guests).
//! - [`propstring`]: property strings such as `net0` and the NIC settings in them.
//! - [`format`]: IEC sizes, percentages and uptimes for people.
//! - [`command`]: safe command building, quoting, and framing of terminal output.

#![warn(missing_docs)]

pub mod command;
pub mod envelope;
pub mod fingerprint;
pub mod format;
pub mod names;
pub mod path;
pub mod perl;
pub mod propstring;
pub mod ticket;
pub mod types;
pub mod upid;
pub mod userid;

pub use envelope::{ApiErrorBody, Envelope};
pub use fingerprint::Fingerprint;
pub use ticket::{Ticket, TicketError};
pub use upid::Upid;
pub use userid::{AuthId, IdError};
