//! The steps of [`crate::Simulator::start`], in the order it takes them:
//!
//! 1. [`model()`]: the cluster, generated from the seed or built from a scenario (file or
//!    inline), with the scenario's extra users;
//! 2. [`credentials`] and [`auth()`]: the login user, its password, the API token and its
//!    secret (given or random), checked, and the authentication state with the scenario's
//!    users;
//!    [`faults()`]: the fault schedule (the scenario's, the file's, the inline ones), checked;
//! 3. the certificates ([`crate::cert::Ca`]): the cluster CA and one leaf per node;
//! 4. the listening sockets, one per node ([`crate::listeners::Listeners::bind`]);
//! 5. [`terminals`]: the state directory with the sandboxes' tools (roots come later, at
//!    each node's first session), only once the sockets are bound;
//! 6. the HTTPS servers on the sockets ([`crate::listeners::Listeners::serve_all`]); [`url`]
//!    names the address one really listens on.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::auth::{self, Auth};
use crate::faults::{Fault, Schedule};
use crate::model::{self, Model};
use crate::term::{Terminals, sandbox::StateDir};
use crate::{Scenario, ScenarioUser, SimError, SimOptions};

/// Step 1: the cluster, the scenario's users and its faults; `now_ms` is the simulator
/// clock. A scenario's guest services are checked first, for a typed error
/// ([`SimError::Service`]).
pub(crate) fn model(
    opts: &SimOptions,
    now_ms: i64,
) -> Result<(Model, Vec<ScenarioUser>, Vec<Fault>), SimError> {
    let scenario = if let Some(s) = &opts.scenario_inline {
        Some(((s.clone(), Vec::new()), PathBuf::from("<inline>")))
    } else if let Some(path) = &opts.scenario {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Scenario {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let s = Scenario::parse_yaml(&text).map_err(|message| SimError::Scenario {
            path: path.clone(),
            message,
        })?;
        Some((s, path.clone()))
    } else {
        None
    };
    Ok(match scenario {
        Some(((s, faults), path)) => {
            s.check_services().map_err(|source| SimError::Service {
                path: path.clone(),
                source,
            })?;
            let model = s
                .to_model(opts.seed, now_ms)
                .and_then(|m| s.check_faults(&faults).map(|()| m))
                .map_err(|message| SimError::Scenario { path, message })?;
            (model, s.users, faults)
        }
        None => (
            model::generate::generate(
                opts.seed,
                opts.nodes,
                opts.containers,
                opts.vms,
                now_ms.div_euclid(1000),
            ),
            Vec::new(),
            Vec::new(),
        ),
    })
}

/// The simulator's own login and token.
pub(crate) struct Credentials {
    pub username: String,
    pub password: String,
    pub token_id: String,
    pub secret: String,
}

/// Step 2: the credentials, as given or made up (a random password and secret).
pub(crate) fn credentials(opts: &SimOptions) -> Result<Credentials, SimError> {
    let username = opts
        .username
        .clone()
        .unwrap_or_else(|| "root@pam".to_string());
    let user: pvekit_core::AuthId = username
        .parse()
        .map_err(|e| SimError::Startup(format!("username: {e}")))?;
    if user.is_token() {
        return Err(SimError::Startup(format!(
            "username '{username}' is a token id"
        )));
    }
    let token_id = opts
        .token_id
        .clone()
        .unwrap_or_else(|| format!("{username}!pvekit"));
    pvekit_core::AuthId::parse_token(&token_id)
        .map_err(|e| SimError::Startup(format!("token id: {e}")))?;
    let password = opts.password.clone().unwrap_or_else(|| {
        auth::random_bytes::<12>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    let secret = opts.secret.clone().unwrap_or_else(auth::random_uuid);
    Ok(Credentials {
        username,
        password,
        token_id,
        secret,
    })
}

/// Step 2, continued: the authentication state.
pub(crate) fn auth(c: &Credentials, users: Vec<ScenarioUser>) -> Auth {
    Auth::new(
        c.username.clone(),
        c.password.clone(),
        c.token_id.clone(),
        c.secret.clone(),
    )
    .with_users(users)
}

/// A faults file: a `faults:` list, nothing else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    faults: Vec<Fault>,
}

/// Step 2, continued: the fault schedule, seeded with the simulator's seed: the scenario's
/// faults, then the file's ([`SimOptions::faults`]), then the inline ones.
pub(crate) fn faults(
    opts: &SimOptions,
    model: &Model,
    scenario: Vec<Fault>,
) -> Result<Schedule, SimError> {
    let schedule = Schedule::new(opts.seed);
    let scenario_path = opts
        .scenario
        .clone()
        .filter(|_| opts.scenario_inline.is_none())
        .unwrap_or_else(|| PathBuf::from("<inline>"));
    let add = |list: Vec<Fault>, path: &PathBuf| {
        list.into_iter().try_for_each(|f| {
            let offline = match &f.fault {
                crate::FaultKind::NodeOffline { node, .. } => Some(node),
                _ => None,
            };
            let unknown = f
                .node
                .iter()
                .chain(offline)
                .find(|n| !model.node_index.contains_key(*n));
            let checked = match unknown {
                Some(n) => Err(format!("fault on unknown node '{n}'")),
                None => Ok(f),
            };
            checked
                .and_then(|f| schedule.add(f))
                .map_err(|message| SimError::Faults {
                    path: path.clone(),
                    message,
                })
        })
    };
    add(scenario, &scenario_path)?;
    if let Some(path) = &opts.faults {
        let err = |message: String| SimError::Faults {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: FaultsFile = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        add(file.faults, path)?;
    }
    add(opts.faults_inline.clone(), &PathBuf::from("<inline>"))?;
    Ok(schedule)
}

/// Step 5: the terminal side over a fresh (or the given) state directory.
pub(crate) fn terminals(opts: &SimOptions, now_ms: i64) -> Result<Terminals, SimError> {
    let state_dir = StateDir::create(opts.state_dir.clone())?;
    Ok(Terminals::new(state_dir, now_ms))
}

/// The URL of the address the server really listens on: with 0.0.0.0 that is every address,
/// not just loopback (pvekit sim warns about that).
pub(crate) fn url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("https://{host}:{}", addr.port())
}
