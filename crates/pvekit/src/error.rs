//! Typed errors that say what went wrong; [`Error::hint`] says what to do about it.
//!
//! The variants separate failures that never reached the server ([`Error::Connect`], safe to
//! retry) from ones that may have ([`Error::Transport`], [`Error::Timeout`]), and from answers
//! the server gave ([`Error::Api`] and its specific forms). `Display` states facts only;
//! advice, naming the config settings to change, comes from [`Error::hint`], so a program
//! can word it its own way (the CLI names its flags). Messages never contain secrets.

use std::collections::BTreeMap;
use std::time::Duration;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to Proxmox VE.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or invalid.
    #[error("invalid proxmox config: {message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The server's TLS certificate was not accepted.
    #[error(
        "TLS certificate of {url} was not accepted: {reason}{presented}",
        presented = presented.as_ref().map(|f| format!(" (the server presented SHA-256 fingerprint {f})")).unwrap_or_default()
    )]
    Tls {
        /// The server.
        url: String,
        /// Why it was refused.
        reason: String,
        /// The fingerprint the server presented, when known.
        presented: Option<String>,
    },

    /// No connection could be made; the request was never sent (safe to retry).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The server.
        url: String,
        /// The cause, as text.
        reason: String,
    },

    /// The connection failed after the request may have been sent.
    #[error("{method} {path}: connection to the server failed: {reason}")]
    Transport {
        /// HTTP method.
        method: String,
        /// API path.
        path: String,
        /// The cause.
        reason: String,
    },

    /// Waking a guest failed ([`crate::Waker`]).
    #[error("waking failed while {stage}: {reason}")]
    WakeFailed {
        /// What the wake was doing: starting, waiting for an address, for the probe, ...
        stage: &'static str,
        /// The cause.
        reason: String,
        /// Whether the wake's timeout passed.
        timed_out: bool,
    },

    /// An operation took longer than allowed.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What timed out.
        what: String,
        /// The limit.
        after: Duration,
    },

    /// The server refused the credentials or the session (HTTP 401).
    #[error("authentication failed: {message}")]
    Auth {
        /// What was refused, in the server's words where it gave any.
        message: String,
        /// Whether the refused credential was an API token (else a password or ticket).
        token: bool,
    },

    /// The identity lacks a privilege (HTTP 403).
    #[error("permission denied: {message}")]
    Permission {
        /// The server's message, such as `Permission check failed (/vms/101, VM.PowerMgmt)`.
        message: String,
        /// What to grant, and where, when the message names it.
        grant: Option<String>,
    },

    /// The server says the object does not exist (Proxmox VE answers a 500 for a missing guest).
    #[error("not found: {message}")]
    NotFound {
        /// The server's message.
        message: String,
    },

    /// Any other error answer.
    #[error("{method} {path} failed with HTTP {status}: {message}{details}", details = format_errors(errors))]
    Api {
        /// HTTP method.
        method: String,
        /// API path.
        path: String,
        /// HTTP status.
        status: u16,
        /// The body's `message`, or else the reason phrase.
        message: String,
        /// Per-parameter errors of a 400.
        errors: BTreeMap<String, String>,
    },

    /// The answer could not be decoded.
    #[error("cannot decode the answer to {method} {path}: {reason}")]
    Decode {
        /// The HTTP method that was sent.
        method: String,
        /// API path.
        path: String,
        /// What did not fit.
        reason: String,
    },

    /// A terminal session could not be opened or broke.
    #[error("terminal: {message}")]
    Terminal {
        /// What happened.
        message: String,
    },

    /// A command could not be built safely.
    #[error(transparent)]
    Command(#[from] pvekit_core::command::CommandError),

    /// A task ended with an error; `message` is the task's own error text.
    #[error("task {upid} failed: {message}")]
    TaskFailed {
        /// The task id.
        upid: String,
        /// The task's exit status.
        message: String,
    },

    /// No node of that name is known.
    #[error("node '{name}' not found; available nodes: {available}")]
    NodeNotFound {
        /// The name asked for.
        name: String,
        /// Comma-separated known names.
        available: String,
    },

    /// A node name exists in several clusters.
    #[error("node name '{name}' is ambiguous: it exists in clusters {}; address it as CLUSTER/NODE", clusters.join(", "))]
    AmbiguousNode {
        /// The name asked for.
        name: String,
        /// The clusters that have it.
        clusters: Vec<String>,
    },

    /// A guest or resource is not in the cluster.
    #[error("resource not found: {0}")]
    ResourceNotFound(String),

    /// The cluster has no resources (yet).
    #[error("no resources")]
    NoResources,

    /// A terminal session was needed but the config has no username and password (an API
    /// token gets only a login prompt on the node's terminal).
    // GoDoxy's own wording (the seed's ErrNoSession).
    #[error("no session found, make sure username and password are set")]
    NoSession,

    /// A terminal session was needed, and the login is not `root@pam`: Proxmox VE gives
    /// every other user a login prompt there, not a shell.
    #[error("the terminal gives {user} a login prompt, not a shell: only root@pam gets a shell")]
    NotRootPam {
        /// Who is logged in.
        user: String,
    },

    /// No guest matches a target (see [`crate::target`]).
    #[error("no guest '{target}'{}", match clusters.as_slice() {
        [] => ": no cluster is connected".to_string(),
        [one] => format!(" in cluster {one}"),
        many => format!(" in clusters {}", many.join(", ")),
    })]
    TargetNotFound {
        /// The target as given.
        target: String,
        /// The clusters searched.
        clusters: Vec<String>,
    },

    /// Several guests match a target.
    #[error("'{target}' is ambiguous: it matches {} guests: {}; name one as shown", choices.len(), choices.join(", "))]
    AmbiguousTarget {
        /// The target as given.
        target: String,
        /// Each match, written as a target that picks it.
        choices: Vec<String>,
    },

    /// A value given by the caller cannot be used.
    #[error("{message}")]
    InvalidInput {
        /// What is wrong with it.
        message: String,
    },

    /// The operation does not exist for this kind of object.
    #[error("{message}")]
    Unsupported {
        /// What is not supported.
        message: String,
    },
}

fn format_errors(errors: &BTreeMap<String, String>) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errors
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.trim()))
        .collect();
    format!(" ({})", parts.join("; "))
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Error::Unsupported {
            message: message.into(),
        }
    }

    /// What to do about the error, naming the config settings (`fingerprint`,
    /// `token_id`, ...), when there is advice to give.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Tls { .. } => "if this is your Proxmox VE node, pin its certificate with `fingerprint` (shown under Node → System → Certificates), or skip verification with `no_tls_verify` (insecure)".into(),
            Error::Auth { token: true, .. } => "check token_id and secret, and that the token exists and has not expired".into(),
            Error::Auth { token: false, .. } => "check username, password and realm".into(),
            Error::Permission { grant, .. } => grant.clone()?,
            Error::NoSession => "set username and password for root@pam (node journals also work with a token, through the REST journal)".into(),
            Error::NotRootPam { .. } => "log in as root@pam for commands, journals, tails and shells (node journals also work for other users with Sys.Syslog, through the REST journal)".into(),
            Error::Connect { .. } => "check the url and that the node is up and reachable".into(),
            Error::WakeFailed { timed_out: true, stage: "waiting for the probe", .. } => "check that the service listens on that port and address, or allow more time".into(),
            Error::WakeFailed { timed_out: true, .. } => "allow more time (a wake's timeout covers the start, the boot and the probe)".into(),
            Error::TargetNotFound { .. } => "names are compared ignoring case; listings show only the guests this login may audit (VM.Audit)".into(),
            _ => return None,
        })
    }

    /// Whether the request certainly never reached the server, so retrying cannot repeat it.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// The HTTP status the server answered, for errors that came from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Auth { .. } => Some(401),
            Error::Permission { .. } => Some(403),
            Error::NotFound { .. } => Some(500),
            _ => None,
        }
    }
}
