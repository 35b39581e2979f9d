//! The inputs and properties of the `pvekit` library's parsers, shared by the integration test
//! `parsers_never_panic` and `pvekit-bench fuzz` (which includes this file by path): guest IPs
//! from configs and interfaces, CLI targets, route `NodeConfig`s (and their resolution), and
//! cluster `Config`s (decoded and validated).

// The checks take `&String` because they take a reference to the strategy's value.
#![allow(clippy::ptr_arg)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use pvekit::core::propstring::LxcNet;
use pvekit::target::Target;
use pvekit::types::{ClusterNode, ClusterResource, LxcInterface, LxcIpAddress};
use pvekit::{Config, GuestResource, IpPolicy, NodeConfig, RouteHints, Snapshot};
use secrecy::SecretString;
use serde_json::Value;

/// Runs every parser's property (see the `pvekit-core` twin of this file).
pub trait Driver {
    /// Checks `check` on values of `strategy`.
    fn run<S: Strategy>(&mut self, name: &str, strategy: S, check: fn(&S::Value) -> Checked)
    where
        S::Value: Debug;
}

/// What a check returns: `Err` when a property does not hold.
pub type Checked = Result<(), TestCaseError>;

/// Every parser of `pvekit`, in the order the bench reports them.
pub fn all(d: &mut impl Driver) {
    d.run("ips_of_config", ips_input(), check_ips);
    d.run("target", target_input(), check_target);
    d.run("node_config", node_config_input(), check_node_config);
    d.run("config_validate", config_input(), check_config);
    d.run("config_json", config_json_input(), check_config_json);
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

fn char_edit(s: &str, edits: &[(usize, u8, char)]) -> String {
    let mut c: Vec<char> = s.chars().collect();
    for (at, op, ch) in edits {
        let n = c.len();
        match op % 4 {
            0 if n > 0 => {
                c.remove(at % n);
            }
            1 => c.insert(at % (n + 1), *ch),
            2 if n > 0 => c[at % n] = *ch,
            _ => c.truncate(at % (n + 1)),
        }
    }
    c.into_iter().collect()
}

fn special_char() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        4 => prop::sample::select(vec![
            ',', '=', ':', '/', '!', '@', ' ', '\n', '\t', '\0', '%', '-', '.', '0', '9', 'a',
            '[', ']', '?', '#', '\\', '"', '\'', ';', '|', '$', 'é', '\u{a0}', '\u{1b}',
        ]),
        1 => any::<char>(),
    ]
}

/// Samples with up to four character edits, characters the parser cares about, or anything.
pub fn text(samples: &[&str], alphabet: &'static str) -> BoxedStrategy<String> {
    let samples: Vec<String> = samples.iter().map(|s| s.to_string()).collect();
    let edited = (
        prop::sample::select(samples),
        vec((any::<usize>(), any::<u8>(), special_char()), 0..5),
    )
        .prop_map(|(s, e)| char_edit(&s, &e));
    prop_oneof![5 => edited, 2 => alphabet, 1 => any::<String>()].boxed()
}

// ---------------------------------------------------------------------------------------------
// Guest IPs.

const NET_SAMPLES: &[&str] = &[
    "name=eth0,bridge=vmbr0,firewall=1,hwaddr=5D:CF:BD:B2:C5:39,ip=dhcp,type=veth",
    "name=eth0,bridge=vmbr0,ip=192.168.1.50/24,ip6=auto",
    "name=eth1,ip=10.0.0.5/8,ip6=fd00::5/64",
    "name=eth2,ip=8.8.8.8/24,ip6=2001:db8::1/64",
    "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0",
];

/// A guest config (`netN` keys among others, values strings or anything), a policy, and
/// agent interfaces.
pub fn ips_input() -> impl Strategy<Value = (BTreeMap<String, Value>, bool, Vec<LxcInterface>)> {
    let key = prop_oneof![
        4 => prop::sample::select(vec![
            "net0", "net1", "net2", "net10", "net", "netx", "net01", "net+1", "net4294967296",
            "hostname", "ip",
        ])
        .prop_map(str::to_string),
        1 => "\\PC{0,8}",
    ];
    let value = prop_oneof![
        6 => text(NET_SAMPLES, "[a-z0-9=,./:]{0,40}").prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
    ];
    let address = (
        prop_oneof![
            3 => prop::sample::select(vec![
                "10.0.0.1", "192.168.1.5", "127.0.0.1", "8.8.8.8", "fd00::1", "fe80::1", "::1",
                "2001:db8::5",
            ])
            .prop_map(str::to_string),
            1 => "\\PC{0,16}",
        ],
        prop::sample::select(vec!["inet", "inet6", "x"]),
        any::<u64>(),
    )
        .prop_map(|(ip, t, prefix)| LxcIpAddress {
            ip_address: ip,
            ip_address_type: t.to_string(),
            prefix,
        });
    let iface = (
        prop::sample::select(vec!["eth0", "lo", "veth1", "br-x", "docker0", "ens18"]),
        vec(address, 0..4),
    )
        .prop_map(|(name, ip_addresses)| LxcInterface {
            name: name.to_string(),
            hwaddr: None,
            inet: None,
            inet6: None,
            ip_addresses,
        });
    (
        prop::collection::btree_map(key, value, 0..6),
        any::<bool>(),
        vec(iface, 0..4),
    )
}

/// The IPs are distinct, kept by the policy, and each is a static address of a `netN`; an
/// error names the `netN`.
pub fn check_ips(
    (config, private_only, ifaces): &(BTreeMap<String, Value>, bool, Vec<LxcInterface>),
) -> Checked {
    let policy = IpPolicy {
        private_only: *private_only,
    };
    match pvekit::ip::ips_of_config(config, policy) {
        Ok(ips) => {
            let mut statics: Vec<IpAddr> = Vec::new();
            for (k, v) in config {
                if let (Some(n), Some(text)) = (k.strip_prefix("net"), v.as_str())
                    && n.parse::<u32>().is_ok()
                {
                    let net = LxcNet::parse(text).map_err(|e| fail(format!("{k}: {e}")))?;
                    statics.extend(net.static_ips());
                }
            }
            for (i, ip) in ips.iter().enumerate() {
                prop_assert!(!ips[..i].contains(ip), "{ip} twice");
                prop_assert!(statics.contains(ip));
                prop_assert!(!private_only || pvekit::ip::is_private(ip));
            }
        }
        Err(message) => prop_assert!(message.starts_with("net"), "{message}"),
    }
    let ips = pvekit::ip::ips_of_interfaces(ifaces, policy);
    for (i, ip) in ips.iter().enumerate() {
        prop_assert!(!ips[..i].contains(ip), "{ip} twice");
        prop_assert!(!private_only || pvekit::ip::is_private(ip));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CLI targets.

const TARGET_SAMPLES: &[&str] = &[
    "101",
    "web",
    "pve1/101",
    "lab/pve1/101",
    " web ",
    "Web-1.lan",
    "99999999999999999999999",
    "a//101",
    "pve1/abc",
];

/// Target text.
pub fn target_input() -> BoxedStrategy<String> {
    text(TARGET_SAMPLES, "[a-z0-9/ ]{0,16}")
}

/// A target prints back to itself; an error says what a target looks like.
pub fn check_target(s: &String) -> Checked {
    match s.parse::<Target>() {
        Ok(t) => {
            let shown = t.to_string();
            prop_assert_eq!(shown.parse::<Target>(), Ok(t.clone()), "{}", shown);
            match &t {
                Target::Vmid(v) => prop_assert_eq!(s.trim().parse::<u64>().ok(), Some(*v)),
                Target::Name(n) => {
                    prop_assert!(!n.is_empty() && !n.contains('/'));
                    prop_assert!(!n.bytes().all(|b| b.is_ascii_digit()));
                }
                Target::Placed { node, .. } => prop_assert!(!node.is_empty()),
            }
        }
        Err(message) => prop_assert!(message.contains(s.trim()), "{message}"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Routes.

const NODE_CONFIG_SAMPLES: &[&str] = &[
    "node: pve1\nvmid: 101\nservices: [nginx]\nfiles: [/var/log/nginx/access.log]\n",
    "node: pve1\nvmid: 0\n",
    "node: pve1\nservice: nginx\nfile: /var/log/syslog\n",
    "node: pve1\nvmid: \"102\"\nvmname: web\n",
    r#"{"node": "pve1", "vmid": 101, "services": ["nginx", "pveproxy"]}"#,
    r#"{"node": "pve2", "vmid": null, "service": "sshd", "vmname": "db"}"#,
    r#"{"node": "pve1", "vmid": -1}"#,
];

/// A route's YAML or JSON text, and hints to resolve it with.
pub fn node_config_input() -> impl Strategy<Value = (String, Option<u8>, Option<String>)> {
    (
        text(NODE_CONFIG_SAMPLES, "[a-z0-9:{}\\[\\]\",\n -]{0,60}"),
        any::<Option<u8>>(),
        prop::option::of(text(&["web.lan", "db", "ct-1.example"], "[a-z.-]{0,12}")),
    )
}

/// A small cluster to resolve routes against: two nodes, guests named `web`, `db` and a
/// second `web`.
static SNAPSHOT: LazyLock<Snapshot> = LazyLock::new(|| {
    let guest = |vmid: u64, node: &str, name: &str, ip: u8| {
        Arc::new(
            GuestResource::new(
                ClusterResource {
                    id: format!("lxc/{vmid}").into(),
                    kind: "lxc".into(),
                    node: Some(node.into()),
                    vmid: Some(vmid),
                    name: Some(name.into()),
                    status: Some("running".into()),
                    ..Default::default()
                },
                vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, ip))],
            )
            .expect("a guest"),
        )
    };
    let node = |name: &str| ClusterNode {
        id: format!("node/{name}"),
        name: name.to_string(),
        nodeid: 1,
        online: true,
        local: false,
        ip: None,
        level: None,
    };
    Snapshot::build(
        vec![
            guest(101, "pve1", "web", 1),
            guest(102, "pve1", "db", 2),
            guest(103, "pve2", "web", 3),
        ],
        SystemTime::UNIX_EPOCH,
    )
    .with_nodes(vec![node("pve1"), node("pve2")])
});

/// A route decodes from YAML and JSON alike, prints back to itself, and resolves (or not)
/// without panicking; what resolves is safe to put in a command.
pub fn check_node_config((text, ip, hostname): &(String, Option<u8>, Option<String>)) -> Checked {
    let from_yaml = serde_saphyr::from_str::<NodeConfig>(text);
    let from_json = serde_json::from_str::<NodeConfig>(text);
    for config in [from_yaml.ok(), from_json.ok()].into_iter().flatten() {
        let json = serde_json::to_string(&config).map_err(|e| fail(e.to_string()))?;
        let back: NodeConfig =
            serde_json::from_str(&json).map_err(|e| fail(format!("{json}: {e}")))?;
        prop_assert_eq!(&back, &config);
        let hints = RouteHints {
            ip: ip.map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))),
            hostname: hostname.as_deref(),
            alias: hostname.as_deref(),
        };
        if let Ok(route) = config.resolve(&SNAPSHOT, &hints) {
            for s in route.services.iter().chain(&route.files) {
                prop_assert!(pvekit::core::command::validate_arg("arg", s).is_ok());
            }
            prop_assert!(route.vmid == 0 || route.guest.is_some());
            let _ = route.config();
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cluster configs.

const URL_SAMPLES: &[&str] = &[
    "https://pve.example.com:8006",
    "https://pve.example.com:8006/api2/json/",
    "https://10.0.0.1",
    "https://[fd00::1]:8006/",
    "http://pve:8006",
    "https://root:hunter2@pve:8006",
    "https://pve:8006/?x#y",
    "https://pve:99999",
    "pve:8006",
];

/// The fields of a config. Secrets are `sek-` and random letters, so a message that shows one
/// is caught.
#[derive(Debug, Clone)]
pub struct ConfigFields {
    url: String,
    token_id: Option<String>,
    secret: Option<String>,
    username: Option<String>,
    password: Option<String>,
    realm: Option<String>,
    fingerprint: Option<String>,
    no_tls_verify: bool,
}

/// Near-valid and arbitrary config fields.
pub fn config_input() -> impl Strategy<Value = ConfigFields> {
    let secret = prop::option::of("sek-[a-z]{10}");
    (
        text(URL_SAMPLES, "[a-z:/.\\[\\]0-9@]{0,30}"),
        prop::option::of(text(&["root@pam!pvekit", "a@pve!t1"], "[a-z@!]{0,12}")),
        secret.clone(),
        prop::option::of(text(&["root", "root@pam", "alice@pve"], "[a-z@!]{0,10}")),
        secret,
        prop::option::of(text(&["pam", "pve"], "[a-z]{0,4}")),
        prop::option::of(text(
            &["80:D4:F2:DF:64:95:CD:8D:A0:82:82:AC:48:BA:C0:7A:1B:6B:87:8B:FE:B9:83:1C:95:4E:79:58:77:99:69:F5"],
            "[0-9A-F:]{0,95}",
        )),
        any::<bool>(),
    )
        .prop_map(
            |(url, token_id, secret, username, password, realm, fingerprint, no_tls_verify)| {
                ConfigFields {
                    url,
                    token_id,
                    secret,
                    username,
                    password,
                    realm,
                    fingerprint,
                    no_tls_verify,
                }
            },
        )
}

/// Validation fails with [`pvekit::Error::Config`] only, and no message shows a secret, a
/// password or a URL's password.
pub fn check_config(f: &ConfigFields) -> Checked {
    let config = Config {
        url: f.url.clone(),
        token_id: f.token_id.clone(),
        secret: f.secret.clone().map(SecretString::from),
        username: f.username.clone(),
        password: f.password.clone().map(SecretString::from),
        realm: f.realm.clone(),
        fingerprint: f.fingerprint.clone(),
        no_tls_verify: f.no_tls_verify,
        ..Config::default()
    };
    // Not `format!("{config:?}")`: the derived `Debug` shows a password put into the url
    // (reported; validation refuses such a url, and its messages redact it).
    let mut messages = vec![config.shown_url()];
    match config.validate() {
        Ok(()) => {
            let origin = config.origin().map_err(|e| fail(e.to_string()))?;
            prop_assert!(origin.starts_with("https://"), "{origin}");
        }
        Err(pvekit::Error::Config { message }) => messages.push(message),
        Err(other) => prop_assert!(false, "not a config error: {other:?}"),
    }
    if let Err(e) = config.origin() {
        messages.push(e.to_string());
    }
    let url_password = f
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(info, _)| info.split_once(':'))
        .map(|(_, password)| password.to_string())
        .filter(|p| p.len() >= 4);
    for m in &messages {
        // The example in the messages is not the user's.
        let m = m.replace("https://pve.example.com:8006", "");
        for secret in [&f.secret, &f.password, &url_password]
            .into_iter()
            .flatten()
        {
            prop_assert!(!m.contains(secret.as_str()), "{m} shows {secret}");
        }
    }
    Ok(())
}

/// A config entry as JSON: valid entries edited, and arbitrary objects.
pub fn config_json_input() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    let key = prop::sample::select(vec![
        "url",
        "username",
        "password",
        "realm",
        "token_id",
        "secret",
        "no_tls_verify",
        "fingerprint",
        "timeouts",
        "connect",
        "request",
        "login",
        "other",
    ]);
    let timeouts = prop::collection::btree_map(
        prop::sample::select(vec!["connect", "request", "login", "x"]),
        prop_oneof![
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            (0u64..100_000).prop_map(Value::from),
            Just(Value::String("5".into())),
        ],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    let value = prop_oneof![4 => scalar, 1 => timeouts];
    prop::collection::btree_map(key, value, 0..8)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// A config decodes or not (serde's error), and validates or not (a config error).
pub fn check_config_json(v: &Value) -> Checked {
    if let Ok(config) = serde_json::from_value::<Config>(v.clone()) {
        for t in [
            config.timeouts.connect,
            config.timeouts.request,
            config.timeouts.login,
        ] {
            prop_assert!(!t.is_zero() && t.as_secs() < 86_400);
        }
        match config.validate() {
            Ok(()) | Err(pvekit::Error::Config { .. }) => {}
            Err(other) => prop_assert!(false, "not a config error: {other:?}"),
        }
    }
    Ok(())
}
