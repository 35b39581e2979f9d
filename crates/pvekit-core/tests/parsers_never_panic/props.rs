//! The inputs and properties of `pvekit-core`'s parsers, shared by the integration test
//! `parsers_never_panic` (a few hundred cases each, in CI) and `pvekit-bench fuzz` (100,000 or
//! more), which includes this file by path.
//!
//! Every input strategy mixes mutations of valid samples (the real captures in
//! `tests/captures/` where there are some) with arbitrary strings or bytes. Every property is
//! checked without panicking: a panic in a parser fails the test by itself; the checks add that
//! errors come as the parser's typed error and that what parses prints back to the same value.

// The checks take `&String` because they take a reference to the strategy's value.
#![allow(clippy::ptr_arg)]

use std::fmt::Debug;
use std::net::IpAddr;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use pvekit_core::command::{self, Framing, Runner, Skipper};
use pvekit_core::perl::{self, DataItems, RawItem};
use pvekit_core::propstring::{self, Ipv4Config, Ipv6Config, LxcNet, PropertyError};
use pvekit_core::ticket::{Ticket, format_hex_time, parse_hex_time};
use pvekit_core::types::*;
use pvekit_core::upid::UpidError;
use pvekit_core::{ApiErrorBody, AuthId, Envelope, Fingerprint, IdError, Upid};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Runs every parser's property: `run` is called once per parser, with its name, its input
/// strategy and its check. The bench implements it with a counting loop.
pub trait Driver {
    /// Checks `check` on values of `strategy`.
    fn run<S: Strategy>(&mut self, name: &str, strategy: S, check: fn(&S::Value) -> Checked)
    where
        S::Value: Debug;
}

/// What a check returns: `Err` when a property does not hold.
pub type Checked = Result<(), TestCaseError>;

/// Every parser of `pvekit-core`, in the order the bench reports them.
pub fn all(d: &mut impl Driver) {
    d.run("propstring", propstring_input(), check_propstring);
    d.run("upid", upid_input(), check_upid);
    d.run("auth_id", auth_id_input(), check_auth_id);
    d.run("ticket", ticket_input(), check_ticket);
    d.run("fingerprint", fingerprint_input(), check_fingerprint);
    d.run("command_args", command_args_input(), check_command_args);
    d.run("framing", framing_input(), check_framing);
    d.run(
        "deframer_chunking",
        deframer_input(),
        check_deframer_chunking,
    );
    d.run("deframer_exact", exact_stream_input(), check_deframer_exact);
    d.run("skipper_chunking", deframer_input(), check_skipper_chunking);
    d.run("json_values", json_value_input(), check_json_value);
    d.run("json_bytes", json_bytes_input(), check_json_bytes);
    d.run(
        "json_stream_chunking",
        json_stream_input(),
        check_json_stream,
    );
}

// ---------------------------------------------------------------------------------------------
// Mutations of valid samples.

/// One edit of a sample; positions wrap around the sample's length.
#[derive(Debug, Clone)]
pub enum Edit<T> {
    /// Remove the element at.
    Delete(usize),
    /// Insert before.
    Insert(usize, T),
    /// Replace the element at.
    Replace(usize, T),
    /// Cut off from.
    Truncate(usize),
    /// Repeat a stretch (start, length).
    Repeat(usize, usize),
}

fn apply<T: Clone>(mut v: Vec<T>, edits: &[Edit<T>]) -> Vec<T> {
    for e in edits {
        let n = v.len();
        match e {
            Edit::Delete(i) if n > 0 => {
                v.remove(i % n);
            }
            Edit::Insert(i, c) => v.insert(i % (n + 1), c.clone()),
            Edit::Replace(i, c) if n > 0 => v[i % n] = c.clone(),
            Edit::Truncate(i) => v.truncate(i % (n + 1)),
            Edit::Repeat(i, len) if n > 0 => {
                let start = i % n;
                let end = (start + 1 + len % 16).min(n);
                let piece: Vec<T> = v[start..end].to_vec();
                v.splice(end..end, piece);
            }
            _ => {}
        }
    }
    v
}

fn edits<T: Debug + Clone + 'static>(
    element: impl Strategy<Value = T> + Clone + 'static,
) -> impl Strategy<Value = Vec<Edit<T>>> {
    let edit = prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), element.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), element).prop_map(|(i, c)| Edit::Replace(i, c)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(i, l)| Edit::Repeat(i, l)),
    ];
    vec(edit, 0..5)
}

/// Characters that mean something to one of the parsers, and some that mean nothing.
fn special_char() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        4 => prop::sample::select(vec![
            ',', '=', ':', '/', '!', '@', ' ', '\n', '\r', '\t', '\0', '%', '-', '.', '_', '0',
            '9', 'a', 'f', 'A', 'F', 'g', 'Z', '[', ']', '{', '}', '"', '\'', '$', ';', '|',
            'é', '\u{a0}', '\u{1b}', '\u{2028}', '\u{feff}',
        ]),
        1 => any::<char>(),
    ]
}

/// Samples with up to four edits each.
pub fn mutated(samples: Vec<String>) -> impl Strategy<Value = String> {
    (prop::sample::select(samples), edits(special_char())).prop_map(|(s, e)| {
        let chars: Vec<char> = s.chars().collect();
        apply(chars, &e).into_iter().collect()
    })
}

/// Byte samples with up to four edits each.
pub fn mutated_bytes(samples: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        prop::sample::select(b",:{}[]\"\\ \n0123456789-.eEtrufalsn".to_vec()),
        any::<u8>()
    ];
    (prop::sample::select(samples), edits(byte)).prop_map(|(s, e)| apply(s, &e))
}

/// Text for a parser: mostly mutated samples, then characters the parser cares about, then
/// anything at all.
pub fn text(samples: &[&str], alphabet: &'static str) -> BoxedStrategy<String> {
    let samples: Vec<String> = samples.iter().map(|s| s.to_string()).collect();
    prop_oneof![
        5 => mutated(samples),
        2 => alphabet,
        1 => any::<String>(),
        1 => "\\PC{0,64}",
    ]
    .boxed()
}

/// Arbitrary chunk boundaries.
pub fn splits() -> impl Strategy<Value = Vec<usize>> {
    vec(any::<usize>(), 0..12)
}

/// `bytes` cut at `splits` (positions wrap around the length, in any order).
pub fn chunks<'a>(bytes: &'a [u8], splits: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = splits.iter().map(|s| s % (bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

// ---------------------------------------------------------------------------------------------
// Property strings.

const NET_SAMPLES: &[&str] = &[
    // tests/captures/lxc-config/go-proxmox-pve7x-raw-lxc-keys.json
    "name=eth0,bridge=vmbr0,firewall=1,hwaddr=5D:CF:BD:B2:C5:39,ip=dhcp,type=veth",
    "name=eth0,bridge=vmbr0,firewall=1,gw=192.168.1.1,hwaddr=BC:24:11:AA:BB:CC,ip=192.168.1.50/24,ip6=auto,type=veth",
    "name=eth1,ip=dhcp,ip6=2001:db8::5/64",
    "name=eth2,ip=10.0.0.5/8,ip6=fd00::1/128,bridge=vmbr1,tag=20",
    "name=eth0,ip=manual,ip6=manual",
    "name=eth0,ip6=dhcp",
    "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1",
    "local-lvm:vm-100-disk-0,size=8G",
    "order=1,up=30,down=60",
    "fuse=1,mknod=1,nesting=1",
];

/// A property string and the default key it is read with.
pub fn propstring_input() -> impl Strategy<Value = (String, Option<&'static str>)> {
    (
        text(NET_SAMPLES, "[a-z0-9=,./: ]{0,48}"),
        prop::sample::select(vec![None, Some("volume"), Some("macaddr")]),
    )
}

/// `parse` keeps trimmed keys and values and prints back to the same map; `LxcNet::parse`
/// agrees with it; errors name what is wrong.
pub fn check_propstring((s, default_key): &(String, Option<&'static str>)) -> Checked {
    match propstring::parse(s, *default_key) {
        Ok(map) => {
            for (k, v) in &map {
                prop_assert!(k.trim() == k && v.trim() == v, "untrimmed {k:?}={v:?}");
                prop_assert!(!k.contains([',', '=']) && !v.contains(','), "{k:?}={v:?}");
            }
            let printed: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
            prop_assert_eq!(propstring::parse(&printed.join(","), None), Ok(map));
        }
        Err(PropertyError::NotKeyValue(part)) => {
            prop_assert!(default_key.is_none() && s.contains(&part) && !part.contains('='));
        }
        Err(PropertyError::Duplicate(k)) => {
            prop_assert!(s.contains(&k) || Some(k.as_str()) == *default_key);
        }
        Err(e @ PropertyError::Invalid { .. }) => prop_assert!(false, "parse gave {e:?}"),
    }
    match LxcNet::parse(s) {
        Ok(net) => {
            let map = propstring::parse(s, None).map_err(|e| fail(format!("{e}")))?;
            prop_assert_eq!(Some(&net.name), map.get("name"));
            prop_assert_eq!(net.bridge.as_ref(), map.get("bridge"));
            if let Some(Ipv4Config::Static(a, p)) = net.ip {
                prop_assert!((8..=32).contains(&p));
                prop_assert!(net.static_ips().contains(&IpAddr::V4(a)));
            }
            if let Some(Ipv6Config::Static(a, p)) = net.ip6 {
                prop_assert!((8..=128).contains(&p));
                prop_assert!(net.static_ips().contains(&IpAddr::V6(a)));
            }
            prop_assert!(net.static_ips().len() <= 2);
        }
        Err(PropertyError::Invalid { key, value }) => {
            prop_assert!(["name", "ip", "ip6"].contains(&key.as_str()), "{key}");
            prop_assert!(s.contains(&value));
        }
        Err(PropertyError::NotKeyValue(part) | PropertyError::Duplicate(part)) => {
            prop_assert!(s.contains(&part));
        }
    }
    let _ = propstring::cidr(s);
    Ok(())
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

// ---------------------------------------------------------------------------------------------
// UPIDs.

const UPID_SAMPLES: &[&str] = &[
    // tests/captures/task-status and termproxy
    "UPID:pve:0000CB08:001CF920:6A864D57:acmenewcert::root@pam:",
    "UPID:pve:00004675:0005B36F:6A4A8EED:qmcreate:9101:root@pam!sdk:",
    "UPID:pve:0000FB74:0015053E:6A4AB624:vzstart:9102:root@pam!sdk:",
    "UPID:pve:00058703:0078E322:6A4BB5CD:vncproxy:9102:root@pam!sdk:",
    // pve-common's test/upid-test.pl
    "UPID:example-node:000934AF:FFFFFFFFF:68BF3A41:fake-but-valid-type:100:root@pam:",
    "UPID:example-node:000934AF:0D015579:68BF3A41:vzdump:100:91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token:",
    "UPID:pve1:0002A1F3:01B2C3D4:66F1A2B3:imgcopy:local/iso:root@pam:\n",
];

/// UPID text.
pub fn upid_input() -> BoxedStrategy<String> {
    prop_oneof![
        4 => text(UPID_SAMPLES, "UPID:[a-z0-9:-]{0,8}:[0-9A-Fa-f:]{0,30}:[a-z ]{0,8}:[0-9/ ]{0,4}:[a-z@!]{0,9}:\n?"),
        1 => "UPID:.*",
    ]
    .boxed()
}

/// Both parsers: typed errors naming the input; the strict parser accepts a subset of the
/// lenient one; what parses prints back to itself; serde reads what `FromStr` reads.
pub fn check_upid(s: &String) -> Checked {
    let lenient = s.parse::<Upid>();
    let strict = Upid::parse_strict(s);
    for r in [&lenient, &strict] {
        if let Err(UpidError(text)) = r {
            prop_assert_eq!(text, s);
        }
    }
    if let Ok(u) = &strict {
        prop_assert_eq!(
            s.strip_suffix('\n').unwrap_or(s).parse::<Upid>().ok(),
            Some(u.clone())
        );
        prop_assert_eq!(Upid::parse_strict(&u.to_string()).ok(), Some(u.clone()));
    }
    if let Ok(u) = &lenient {
        prop_assert_eq!(u.to_string().parse::<Upid>().ok(), Some(u.clone()));
        prop_assert!(u.starttime <= 0xFFFF_FFFF);
        prop_assert!(u.pstart <= 0xF_FFFF_FFFF);
    }
    let via_serde: Result<Upid, _> = serde_json::from_value(Value::String(s.clone()));
    prop_assert_eq!(via_serde.ok(), lenient.ok());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// User and token ids.

const AUTH_SAMPLES: &[&str] = &[
    "root@pam",
    "root@pam!pvekit",
    "root@pam!sdk",
    "91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token",
    "alice@pve",
    "first.last@ad-realm!tok_1",
    "user@host@ldap",
];

/// An id, and a realm for `from_user_realm`.
pub fn auth_id_input() -> impl Strategy<Value = (String, String)> {
    (
        text(AUTH_SAMPLES, "[a-z0-9@!._:/-]{0,24}"),
        text(&["pam", "pve", "ldap-1"], "[a-zA-Z0-9._-]{0,6}"),
    )
}

/// Ids print back to themselves; the error variant says what is missing.
pub fn check_auth_id((s, realm): &(String, String)) -> Checked {
    match s.parse::<AuthId>() {
        Ok(id) => {
            prop_assert_eq!(id.to_string().parse::<AuthId>().ok(), Some(id.clone()));
            prop_assert_eq!(&id.to_string(), s);
            prop_assert_eq!(id.userid(), format!("{}@{}", id.user(), id.realm()));
            prop_assert_eq!(AuthId::parse_token(s).is_ok(), id.is_token());
        }
        Err(IdError::MissingRealm(t)) => {
            prop_assert_eq!(&t, s);
            prop_assert!(!s.split('!').next().unwrap_or("").contains('@'));
        }
        Err(IdError::Invalid(t, _)) => prop_assert_eq!(&t, s),
        Err(e @ IdError::NotAToken(_)) => prop_assert!(false, "FromStr gave {e:?}"),
    }
    if let Ok(id) = AuthId::from_user_realm(s, realm) {
        prop_assert_eq!(id.to_string().parse::<AuthId>().ok(), Some(id.clone()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Tickets.

const TICKET_SAMPLES: &[&str] = &[
    "PVE:root@pam:66F1A2B3::c2lnbmF0dXJl",
    "PVE:root@pam!tok:6A864D57::aGVsbG8gd29ybGQ=",
    "PVEVNC:66F1A2B3::abc",
    "PVE:user%3Aname@pve:00000000::x",
    "66F1A2B3:c2lnbmF0dXJl",
];

/// Ticket or CSRF token text.
pub fn ticket_input() -> BoxedStrategy<String> {
    text(
        TICKET_SAMPLES,
        "[A-Z]{0,6}:[a-z@!%:]{0,10}:[0-9A-Fa-f]{0,9}::?[a-zA-Z0-9+/=]{0,8}",
    )
}

/// A ticket's parts are what the text says; the time prints back to itself.
pub fn check_ticket(s: &String) -> Checked {
    if let Ok(t) = Ticket::parse(s) {
        prop_assert!(!t.prefix.is_empty() && t.prefix.bytes().all(|c| c.is_ascii_uppercase()));
        prop_assert!(!t.signature.is_empty() && s.ends_with(&t.signature));
        prop_assert!((0..=0xFFFF_FFFF).contains(&t.issued));
        prop_assert!(t.signed_part_len + 2 + t.signature.len() == s.len());
        prop_assert_eq!(parse_hex_time(&format_hex_time(t.issued)), Some(t.issued));
        let _ = (t.age(i64::MAX), t.age(i64::MIN), t.is_valid_at(i64::MIN));
        let shown = format!("{t:?}");
        prop_assert!(!shown.contains("signature"), "{}", shown);
    }
    for part in s.split(':') {
        if let Some(time) = parse_hex_time(part) {
            prop_assert!((0..=0xFFFF_FFFF).contains(&time));
            prop_assert!(format_hex_time(time).eq_ignore_ascii_case(part));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fingerprints.

const FINGERPRINT_SAMPLES: &[&str] = &[
    // tests/captures/nodes/go-proxmox-pve7x-4node.json
    "80:D4:F2:DF:64:95:CD:8D:A0:82:82:AC:48:BA:C0:7A:1B:6B:87:8B:FE:B9:83:1C:95:4E:79:58:77:99:69:F5",
    "17:F1:B6:52:8B:0C:22:4A:97:1F:B2:F2:90:3D:29:0A:D0:DF:BE:0E:76:5A:B5:EC:F6:2E:6E:8F:60:E6:C5:C0",
    "1d5694b4754b5c3346dd14386cec6e12a8f066645ef240f7602ac09fbf6c513c",
    " 0D:78:80:CD:64:8E:96:E5:31:87:1C:45:3C:62:93:2F:23:4C:D5:02:42:FE:C8:40:DC:AF:3D:2A:F8:B4:F6:CE\n",
];

/// Fingerprint text.
pub fn fingerprint_input() -> BoxedStrategy<String> {
    text(FINGERPRINT_SAMPLES, "[0-9a-fA-F:]{60,100}")
}

/// A fingerprint prints as 32 upper-case pairs and back to itself.
pub fn check_fingerprint(s: &String) -> Checked {
    if let Ok(fp) = s.parse::<Fingerprint>() {
        let shown = fp.to_string();
        prop_assert_eq!(shown.len(), 95);
        prop_assert_eq!(shown.parse::<Fingerprint>(), Ok(fp));
        let hex: String = s.trim().chars().filter(|c| *c != ':').collect();
        prop_assert_eq!(shown.replace(':', ""), hex.to_ascii_uppercase());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Commands.

/// Values for command arguments (services, files).
pub fn command_args_input() -> BoxedStrategy<String> {
    text(
        &[
            "pveproxy",
            "/var/log/syslog",
            "nginx.service",
            "/var/log/a b",
        ],
        "[ -~\t\n]{0,16}",
    )
}

/// A value passes validation only without the characters that could change the command, and
/// quoting keeps it one word.
pub fn check_command_args(s: &String) -> Checked {
    match command::validate_arg("file", s) {
        Ok(()) => {
            prop_assert!(!s.is_empty() && !s.starts_with('-'));
            prop_assert!(!s.contains(command::FORBIDDEN) && !s.chars().any(char::is_control));
            let cmd =
                command::tail(std::slice::from_ref(s), 5, true).map_err(|e| fail(e.to_string()))?;
            prop_assert!(cmd.ends_with(&command::quote(s)));
        }
        Err(command::CommandError::Forbidden { bad, .. }) => prop_assert!(s.contains(&bad)),
        Err(command::CommandError::Invalid { .. }) => {}
    }
    let quoted = command::quote(s);
    prop_assert!(quoted.starts_with('\'') && quoted.ends_with('\''));
    prop_assert_eq!(&quoted[1..quoted.len() - 1].replace("'\\''", "'"), s);
    let _ = command::journal_with_fallback(std::slice::from_ref(s), usize::MAX, false);
    Ok(())
}

/// A script and where it runs.
pub fn framing_input() -> impl Strategy<Value = (String, u64, Option<u64>)> {
    (
        prop_oneof![3 => "\\PC{0,200}", 1 => any::<String>(), 1 => "[a-z ;|$'\"\n]{0,300}"],
        any::<u64>(),
        any::<Option<u64>>(),
    )
}

/// The typed line stays short and holds no marker; the payload decodes to the script and the
/// trailer, in lines a terminal keeps whole.
pub fn check_framing((script, nonce, vmid): &(String, u64, Option<u64>)) -> Checked {
    let f = Framing::new(*nonce);
    let runner = vmid.map_or(Runner::Node, |vmid| Runner::Container { vmid });
    let c = f.command(script, runner);
    prop_assert!(c.line.len() < 700, "line of {}", c.line.len());
    let nonce = format!("{nonce:016x}");
    for kind in ["R", "S", "E"] {
        let m = format!("PVEKIT{nonce}{kind}");
        prop_assert!(!c.line.contains(&m), "{}", m);
    }
    let head = format!("head -c {} ", c.payload.len());
    prop_assert!(c.line.contains(&head), "{}", head);
    prop_assert!(
        c.payload
            .split(|b| *b == b'\n')
            .all(|l| l.len() < command::PAYLOAD_LINE)
    );
    let text: Vec<u8> = c.payload.iter().copied().filter(|b| *b != b'\n').collect();
    let mut want = script.as_bytes().to_vec();
    want.extend_from_slice(b"\n#PVEKIT-EOF\n");
    prop_assert_eq!(text, command::base64(&want).into_bytes());
    let enter = f.enter_line(vmid.unwrap_or(100));
    let m = format!("PVEKIT{nonce}S");
    prop_assert!(!enter.contains(&m), "{}", m);
    Ok(())
}

/// A piece of a terminal stream.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Arbitrary bytes.
    Noise(Vec<u8>),
    /// A marker line (`R`, `S`) or the end marker (`E`), whole.
    Marker(char),
    /// The first bytes of a marker.
    Partial(char, usize),
    /// A status line's text.
    Status(Vec<u8>),
    /// A line end.
    Eol(&'static [u8]),
}

fn marker(nonce: u64, kind: char) -> Vec<u8> {
    match kind {
        'E' => format!("PVEKIT{nonce:016x}E:").into_bytes(),
        k => format!("PVEKIT{nonce:016x}{k}\n").into_bytes(),
    }
}

fn piece() -> impl Strategy<Value = Piece> {
    let kind = prop::sample::select(vec!['R', 'S', 'E']);
    prop_oneof![
        3 => vec(any::<u8>(), 0..40).prop_map(Piece::Noise),
        2 => kind.clone().prop_map(Piece::Marker),
        2 => (kind, any::<usize>()).prop_map(|(k, n)| Piece::Partial(k, n)),
        1 => prop_oneof![
            "[0-9]{1,3}".prop_map(String::into_bytes),
            vec(any::<u8>(), 0..20),
            Just(b"00000000000000000000".to_vec()),
        ]
        .prop_map(Piece::Status),
        1 => prop::sample::select(vec![&b"\n"[..], b"\r\n", b"\r"]).prop_map(Piece::Eol),
    ]
}

/// The bytes of `pieces` for the framing with `nonce`.
pub fn stream(nonce: u64, pieces: &[Piece]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Noise(b) | Piece::Status(b) => out.extend_from_slice(b),
            Piece::Marker(k) => out.extend(marker(nonce, *k)),
            Piece::Partial(k, n) => {
                let m = marker(nonce, *k);
                out.extend_from_slice(&m[..n % m.len()]);
            }
            Piece::Eol(e) => out.extend_from_slice(e),
        }
    }
    out
}

/// A terminal stream of markers, partial markers, status lines and noise, with chunk
/// boundaries. The nonce is small at times, so noise is more like markers.
pub fn deframer_input() -> impl Strategy<Value = (u64, Vec<Piece>, Vec<usize>)> {
    (
        prop_oneof![any::<u64>(), 0u64..4],
        vec(piece(), 0..16),
        splits(),
    )
}

#[derive(Debug, Default, PartialEq)]
struct Deframed {
    ready: bool,
    output: Vec<u8>,
    /// The status value, or that it was an error (whose text may show more or fewer of the
    /// bytes read, depending on the chunking).
    status: Option<Result<i32, ()>>,
    done: bool,
    started: bool,
    ready_state: bool,
}

fn deframe(nonce: u64, parts: &[&[u8]]) -> Result<Deframed, TestCaseError> {
    let mut d = Framing::new(nonce).deframer();
    let mut r = Deframed::default();
    for part in parts {
        let got = d.push(part);
        prop_assert!(!(r.ready && got.ready), "ready twice");
        r.ready |= got.ready;
        r.output.extend(got.output);
        if let Some(s) = got.status {
            prop_assert!(r.status.is_none(), "status twice");
            if let Err(text) = &s {
                prop_assert!(text.starts_with("the command's exit status is unreadable"));
            }
            r.status = Some(s.map_err(drop));
        }
    }
    r.done = d.is_done();
    r.started = d.started();
    r.ready_state = d.is_ready();
    Ok(r)
}

/// The same bytes in any chunking give the same output, readiness and status.
pub fn check_deframer_chunking((nonce, pieces, cuts): &(u64, Vec<Piece>, Vec<usize>)) -> Checked {
    let bytes = stream(*nonce, pieces);
    let whole = deframe(*nonce, &[&bytes])?;
    let chunked = deframe(*nonce, &chunks(&bytes, cuts))?;
    prop_assert_eq!(&whole, &chunked);
    prop_assert_eq!(whole.done, whole.status.is_some());
    if let Some(Ok(n)) = whole.status {
        prop_assert!((0..=255).contains(&n));
    }
    Ok(())
}

/// What a real session looks like: banner and echo, the ready marker, the start marker, the
/// command's output, the end marker and status, and the logout.
pub fn exact_stream_input()
-> impl Strategy<Value = (u64, Vec<Piece>, Vec<u8>, u8, bool, Vec<usize>)> {
    let output = vec(
        prop_oneof![
            3 => vec(any::<u8>(), 0..64).prop_map(Piece::Noise),
            1 => (prop::sample::select(vec!['R', 'S', 'E']), any::<usize>())
                .prop_map(|(k, n)| Piece::Partial(k, n)),
            1 => prop::sample::select(vec!['R', 'S']).prop_map(Piece::Marker),
        ],
        0..8,
    );
    (
        prop_oneof![any::<u64>(), 0u64..4],
        output,
        vec(any::<u8>(), 0..64),
        any::<u8>(),
        any::<bool>(),
        splits(),
    )
}

/// The output between the markers comes out exactly, with the status, at any chunking.
pub fn check_deframer_exact(
    (nonce, output, banner, status, crlf, cuts): &(u64, Vec<Piece>, Vec<u8>, u8, bool, Vec<usize>),
) -> Checked {
    let output = stream(*nonce, output);
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    if contains(banner, &marker(*nonce, 'R')) || contains(&output, &marker(*nonce, 'E')) {
        return Ok(());
    }
    let mut bytes = banner.clone();
    bytes.extend(b" stty -echo ... printf '%s%s\\n' PVEKIT ");
    bytes.extend(marker(*nonce, 'R'));
    bytes.extend(b"echo of the payload?\r\n");
    bytes.extend(marker(*nonce, 'S'));
    bytes.extend(&output);
    bytes.extend(marker(*nonce, 'E'));
    bytes.extend(status.to_string().as_bytes());
    bytes.extend(if *crlf { &b"\r\n"[..] } else { b"\n" });
    bytes.extend(b"logout\r\n");
    let r = deframe(*nonce, &chunks(&bytes, cuts))?;
    prop_assert!(r.ready && r.started && r.done);
    prop_assert_eq!(r.output, output);
    prop_assert_eq!(r.status, Some(Ok(i32::from(*status))));
    Ok(())
}

fn skip(nonce: u64, parts: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut s: Skipper = Framing::new(nonce).skipper();
    let mut out = Vec::new();
    for p in parts {
        out.extend(s.push(p));
    }
    let done = s.is_done();
    out.extend(s.flush());
    (out, done)
}

/// Below [`Skipper::LIMIT`], the skipper shows the same bytes in any chunking.
pub fn check_skipper_chunking((nonce, pieces, cuts): &(u64, Vec<Piece>, Vec<usize>)) -> Checked {
    let bytes = stream(*nonce, pieces);
    prop_assume!(bytes.len() <= Skipper::LIMIT);
    let whole = skip(*nonce, &[&bytes]);
    let chunked = skip(*nonce, &chunks(&bytes, cuts));
    prop_assert_eq!(&whole, &chunked);
    prop_assert!(bytes.ends_with(&whole.0));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON responses.

/// The real captures, `{"data": ...}` envelopes.
pub const CAPTURES: &[&str] = &[
    include_str!("../../../../tests/captures/access-ticket/proxmox-go-sdk-pve9.1.1-root-pam.json"),
    include_str!(
        "../../../../tests/captures/agent-network-get-interfaces/ansible-community-proxmox-pve6.2-3nics.json"
    ),
    include_str!(
        "../../../../tests/captures/cluster-resources/go-proxmox-pve7x-4node-qemu-node-storage.json"
    ),
    include_str!(
        "../../../../tests/captures/cluster-resources/proxmox-go-sdk-pve9.1.1-3node-no-guests.json"
    ),
    include_str!(
        "../../../../tests/captures/cluster-resources/proxmox-go-sdk-pve9.2.2-type-node.json"
    ),
    include_str!(
        "../../../../tests/captures/cluster-resources/proxmox-go-sdk-pve9.2.2-type-vm-qemu-ha.json"
    ),
    include_str!("../../../../tests/captures/cluster-status/go-proxmox-pve7x-4node.json"),
    include_str!("../../../../tests/captures/lxc-config/go-proxmox-pve7x-raw-lxc-keys.json"),
    include_str!("../../../../tests/captures/lxc-interfaces/go-proxmox-pve7x.json"),
    include_str!("../../../../tests/captures/lxc-list/go-proxmox-pve7x-vmid-as-string.json"),
    include_str!(
        "../../../../tests/captures/lxc-status/ansible-community-proxmox-pve6.2-cpus-as-string.json"
    ),
    include_str!("../../../../tests/captures/node-status/go-proxmox-pve7.4-16.json"),
    include_str!("../../../../tests/captures/node-status/pvexport-pve9.1.2-n100.json"),
    include_str!("../../../../tests/captures/nodes/go-proxmox-pve7x-4node.json"),
    include_str!("../../../../tests/captures/qemu-status/go-proxmox-pve8.0-running-qemu8.0.2.json"),
    include_str!("../../../../tests/captures/rrddata/pulse-pve9.2.3-lxc-hour.json"),
    include_str!("../../../../tests/captures/rrddata/pulse-pve9.2.3-qemu-year-sparse.json"),
    include_str!("../../../../tests/captures/task-log/go-proxmox-pve7x-imgcopy-data-only.json"),
    include_str!(
        "../../../../tests/captures/task-status/proxmox-go-sdk-pve9.2.4-vzstart-stopped-warnings.json"
    ),
    include_str!(
        "../../../../tests/captures/termproxy/proxmox-go-sdk-pve9.2.4-qemu-vncproxy-websocket.json"
    ),
    include_str!("../../../../tests/captures/version/proxmox-go-sdk-pve9.2.4.json"),
];

fn captures() -> Vec<Value> {
    CAPTURES
        .iter()
        .map(|c| serde_json::from_str(c).expect("the captures are JSON"))
        .collect()
}

/// The field names of the response types, so arbitrary objects hit them.
const FIELDS: &[&str] = &[
    "data",
    "total",
    "message",
    "errors",
    "type",
    "id",
    "name",
    "node",
    "vmid",
    "status",
    "template",
    "cpu",
    "maxcpu",
    "mem",
    "maxmem",
    "disk",
    "maxdisk",
    "netin",
    "netout",
    "diskread",
    "diskwrite",
    "uptime",
    "tags",
    "lock",
    "pool",
    "hastate",
    "nodes",
    "version",
    "quorate",
    "nodeid",
    "online",
    "local",
    "ip",
    "level",
    "release",
    "repoid",
    "console",
    "qmpstatus",
    "cpus",
    "pid",
    "hwaddr",
    "inet",
    "inet6",
    "ip-addresses",
    "ip-address",
    "ip-address-type",
    "prefix",
    "ssl_fingerprint",
    "loadavg",
    "kversion",
    "pveversion",
    "cpuinfo",
    "memory",
    "rootfs",
    "model",
    "sockets",
    "cores",
    "mhz",
    "total",
    "used",
    "free",
    "avail",
    "time",
    "wait",
];

/// Scalars the way Perl writes them, and others.
fn scalar() -> impl Strategy<Value = Value> {
    let perlish = prop::sample::select(vec![
        "",
        "0",
        "1",
        " 1 ",
        "5900",
        "-1",
        "1.5",
        "1e3",
        "1e400",
        "-0",
        "true",
        "False",
        "NaN",
        "inf",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "0x10",
        "running",
        "stopped",
        "qemu",
        "lxc",
        "node",
        "cluster",
        "1.0",
        "１",
    ]);
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        perlish.prop_map(|s| Value::String(s.to_string())),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

/// Arbitrary JSON values whose objects mostly use the response types' field names.
pub fn arbitrary_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => prop::sample::select(FIELDS.to_vec()).prop_map(str::to_string),
        1 => "\\PC{0,8}",
    ];
    scalar().prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((key.clone(), inner), 0..10).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// One edit of a JSON tree, at the node with the given index (wrapping).
#[derive(Debug, Clone)]
pub enum ValueEdit {
    /// Replace the node.
    Replace(usize, Value),
    /// Remove the node from its object or array.
    Remove(usize),
    /// A number or boolean as a string (`5` as `"5"`, `true` as `"1"`).
    Stringify(usize),
    /// The node as `null`.
    Null(usize),
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Applies `f` to the node with index `*n` (pre-order); `f` gets the node's parent slot.
fn at(v: &mut Value, n: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *n == 0 {
        f(v);
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| at(c, n, f)),
        Value::Object(o) => o.values_mut().any(|c| at(c, n, f)),
        _ => false,
    }
}

fn remove_at(v: &mut Value, n: &mut usize) -> bool {
    match v {
        Value::Array(a) => {
            for i in 0..a.len() {
                if *n == 0 {
                    a.remove(i);
                    return true;
                }
                *n -= 1;
                if remove_at(&mut a[i], n) {
                    return true;
                }
            }
            false
        }
        Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                if *n == 0 {
                    o.remove(&k);
                    return true;
                }
                *n -= 1;
                if o.get_mut(&k).is_some_and(|c| remove_at(c, n)) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn edit_value(mut v: Value, edits: &[ValueEdit]) -> Value {
    for e in edits {
        let total = count(&v);
        match e {
            ValueEdit::Replace(i, new) => {
                at(&mut v, &mut (i % total), &mut |x| *x = new.clone());
            }
            ValueEdit::Remove(i) => {
                remove_at(&mut v, &mut (i % total));
            }
            ValueEdit::Stringify(i) => {
                at(&mut v, &mut (i % total), &mut |x| {
                    let new = match &*x {
                        Value::Number(n) => Value::String(n.to_string()),
                        Value::Bool(b) => Value::String(if *b { "1" } else { "0" }.into()),
                        Value::String(s) => Value::String(format!(" {s} ")),
                        other => other.clone(),
                    };
                    *x = new;
                });
            }
            ValueEdit::Null(i) => {
                at(&mut v, &mut (i % total), &mut |x| *x = Value::Null);
            }
        }
    }
    v
}

/// The captures with edits.
pub fn mutated_captures() -> impl Strategy<Value = Value> {
    let edit = prop_oneof![
        (any::<usize>(), scalar()).prop_map(|(i, v)| ValueEdit::Replace(i, v)),
        any::<usize>().prop_map(ValueEdit::Remove),
        any::<usize>().prop_map(ValueEdit::Stringify),
        any::<usize>().prop_map(ValueEdit::Null),
    ];
    (prop::sample::select(captures()), vec(edit, 0..6)).prop_map(|(v, e)| edit_value(v, &e))
}

/// A JSON value to decode into every response type: a node of a mutated capture (most often
/// an item of its `data`), or an arbitrary value.
pub fn json_value_input() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (mutated_captures(), any::<usize>(), 0u8..4).prop_map(|(v, pick, depth)| {
            if depth == 0 {
                return v;
            }
            match (depth, &v["data"]) {
                (1, d) => d.clone(),
                (_, Value::Array(items)) if !items.is_empty() => items[pick % items.len()].clone(),
                (_, d) => d.clone(),
            }
        }),
        2 => arbitrary_json(),
    ]
}

/// `from_value` and `from_slice` of the value's bytes agree; what decodes encodes back and
/// decodes to the same; errors are serde_json's data, syntax or end-of-input errors.
fn decode_one<T: DeserializeOwned + Serialize>(name: &str, v: &Value, bytes: &[u8]) -> Checked {
    let from_value = perl::from_value::<T>(v.clone());
    let from_slice = perl::from_slice::<T>(bytes);
    for e in [from_value.as_ref().err(), from_slice.as_ref().err()]
        .into_iter()
        .flatten()
    {
        prop_assert!(!e.is_io(), "{name}: {e}");
    }
    match (&from_value, &from_slice) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (to_value(a)?, to_value(b)?);
            prop_assert!(
                same(&a, &b),
                "{name}: from_value gives {a} but from_slice {b}"
            );
            let again = perl::from_value::<T>(a.clone())
                .map_err(|e| fail(format!("{name}: {a} does not decode again: {e}")))?;
            let again = to_value(&again)?;
            prop_assert!(same(&again, &a), "{name}: {a} decodes again as {again}");
        }
        (Err(_), Err(_)) => {}
        // Reported: an array read as a struct with more items than the struct has fields is
        // cut short by `from_value` and refused by `from_slice` ("trailing characters").
        (Ok(_), Err(e)) if e.to_string().starts_with("trailing characters") => {}
        (a, b) => prop_assert!(
            false,
            "{name}: from_value gives {:?} but from_slice {:?}",
            a.as_ref().map(drop).map_err(ToString::to_string),
            b.as_ref().map(drop).map_err(ToString::to_string)
        ),
    }
    Ok(())
}

/// Whether two decoded values are the same, numbers compared as numbers.
///
/// Two differences are not the parsers': an integral float read where a string is wanted is
/// spelt `"0.0"` by `from_value` (the JSON number's text) but `"0"` by `from_slice` (the `f64`
/// printed); and serde_json (without its `float_roundtrip` feature) may read a printed `f64`
/// back a little off (subnormals most). Any other difference fails.
fn same(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ if a == b => true,
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => {
                // Subnormals are read back less exactly than a few units in the last place.
                let d = (x - y).abs();
                d <= 1e-12 * x.abs().max(y.abs()) || d < f64::MIN_POSITIVE
            }
            _ => false,
        },
    }
}

fn to_value<T: Serialize>(t: &T) -> Result<Value, TestCaseError> {
    serde_json::to_value(t).map_err(|e| fail(format!("cannot encode: {e}")))
}

macro_rules! every_type {
    ($check:ident, $($arg:expr),*) => {{
        $check::<Version>("Version", $($arg),*)?;
        $check::<ClusterStatusItem>("ClusterStatusItem", $($arg),*)?;
        $check::<Vec<ClusterStatusItem>>("Vec<ClusterStatusItem>", $($arg),*)?;
        $check::<ClusterInfo>("ClusterInfo", $($arg),*)?;
        $check::<ClusterNode>("ClusterNode", $($arg),*)?;
        $check::<ClusterResource>("ClusterResource", $($arg),*)?;
        $check::<Vec<ClusterResource>>("Vec<ClusterResource>", $($arg),*)?;
        $check::<Envelope<Vec<ClusterResource>>>("Envelope<Vec<ClusterResource>>", $($arg),*)?;
        $check::<ResourceKind>("ResourceKind", $($arg),*)?;
        $check::<ResourceStatus>("ResourceStatus", $($arg),*)?;
        $check::<GuestStatus>("GuestStatus", $($arg),*)?;
        $check::<Envelope<GuestStatus>>("Envelope<GuestStatus>", $($arg),*)?;
        $check::<RunState>("RunState", $($arg),*)?;
        $check::<GuestKind>("GuestKind", $($arg),*)?;
        $check::<LxcInterface>("LxcInterface", $($arg),*)?;
        $check::<Vec<LxcInterface>>("Vec<LxcInterface>", $($arg),*)?;
        $check::<LxcIpAddress>("LxcIpAddress", $($arg),*)?;
        $check::<NodeListItem>("NodeListItem", $($arg),*)?;
        $check::<NodeStatus>("NodeStatus", $($arg),*)?;
        $check::<CpuInfo>("CpuInfo", $($arg),*)?;
        $check::<MemoryInfo>("MemoryInfo", $($arg),*)?;
        $check::<RootFsInfo>("RootFsInfo", $($arg),*)?;
        $check::<RrdPoint>("RrdPoint", $($arg),*)?;
        $check::<Vec<RrdPoint>>("Vec<RrdPoint>", $($arg),*)?;
        $check::<Upid>("Upid", $($arg),*)?;
        $check::<ApiErrorBody>("ApiErrorBody", $($arg),*)?;
        $check::<std::collections::BTreeMap<String, Value>>("config map", $($arg),*)?;
    }};
}

/// Every response type from the value, both ways.
pub fn check_json_value(v: &Value) -> Checked {
    let bytes = serde_json::to_vec(v).map_err(|e| fail(e.to_string()))?;
    every_type!(decode_one, v, &bytes);
    if let Ok(s) = perl::from_value::<NodeStatus>(v.clone()) {
        prop_assert!(s.loadavg.iter().all(|l| l.is_finite()));
    }
    if let Ok(version) = perl::from_value::<Version>(v.clone()) {
        let _ = version.numbers();
    }
    if let Ok(r) = perl::from_value::<ClusterResource>(v.clone()) {
        let f = pvekit_core::format::StatsFigures::from_resource(&r);
        let _ = (f.line(), r.is_up(), r.guest_kind());
    }
    if let Ok(s) = perl::from_value::<GuestStatus>(v.clone()) {
        let _ = pvekit_core::format::StatsFigures::from_status(&s).line();
        let _ = (
            pvekit_core::format::uptime(s.uptime),
            pvekit_core::format::utc_minute(s.uptime),
        );
    }
    Ok(())
}

/// Bytes: mutated captures (byte edits of their text) and arbitrary bytes.
pub fn json_bytes_input() -> impl Strategy<Value = Vec<u8>> {
    let samples: Vec<Vec<u8>> = CAPTURES.iter().map(|c| c.as_bytes().to_vec()).collect();
    prop_oneof![
        3 => mutated_bytes(samples),
        1 => vec(any::<u8>(), 0..256),
        1 => arbitrary_json().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
    ]
}

/// Whatever decodes straight from bytes is JSON, and decodes the same through a value.
fn decode_bytes<T: DeserializeOwned + Serialize>(name: &str, bytes: &[u8]) -> Checked {
    match perl::from_slice::<T>(bytes) {
        Ok(t) => {
            // serde_json skips ignored members without checking their escapes (a lone
            // surrogate `\udc00` in an unknown field passes), so the bytes need not be a
            // `Value`; when they are, both ways agree.
            let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
                return Ok(());
            };
            let via_value = perl::from_value::<T>(v)
                .map_err(|e| fail(format!("{name}: only from_slice decodes it: {e}")))?;
            let (t, via_value) = (to_value(&t)?, to_value(&via_value)?);
            prop_assert!(
                same(&t, &via_value),
                "{name}: {t} from bytes, {via_value} via a value"
            );
        }
        Err(e) => prop_assert!(!e.is_io(), "{name}: {e}"),
    }
    Ok(())
}

/// Every response type from arbitrary bytes; error bodies too.
pub fn check_json_bytes(bytes: &Vec<u8>) -> Checked {
    every_type!(decode_bytes, bytes);
    let body = ApiErrorBody::parse(bytes);
    let message = body.best_message(Some("reason"), "fallback");
    prop_assert!(!message.is_empty());
    let reason = pvekit_core::envelope::reason_phrase(&message);
    prop_assert!(!reason.contains(['\r', '\n']));
    Ok(())
}

/// An answer's bytes and chunk boundaries.
pub fn json_stream_input() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    let pretty = (mutated_captures(), any::<bool>()).prop_map(|(v, pretty)| {
        if pretty {
            serde_json::to_vec_pretty(&v).unwrap_or_default()
        } else {
            serde_json::to_vec(&v).unwrap_or_default()
        }
    });
    let samples: Vec<Vec<u8>> = CAPTURES.iter().map(|c| c.as_bytes().to_vec()).collect();
    (
        prop_oneof![3 => pretty, 2 => mutated_bytes(samples), 1 => vec(any::<u8>(), 0..64)],
        splits(),
    )
}

/// [`DataItems`] reads an answer at any chunking as [`perl::from_slice`] reads it whole, and
/// so does [`DataItems::feed_raw`] with each item's text decoded by [`RawItem::decode`].
pub fn check_json_stream((bytes, cuts): &(Vec<u8>, Vec<usize>)) -> Checked {
    let whole = perl::from_slice::<Envelope<Vec<ClusterResource>>>(bytes);
    for raw in [false, true] {
        let mut items = Vec::new();
        let mut reader = DataItems::<ClusterResource>::new();
        let mut result: Result<(), serde_json::Error> = Ok(());
        let mut take = |item: RawItem<'_, ClusterResource>| {
            items.push(item.decode()?);
            Ok::<(), serde_json::Error>(())
        };
        for chunk in chunks(bytes, cuts) {
            result = if raw {
                reader.feed_raw(chunk, &mut take)
            } else {
                reader.feed(chunk, |i| take(RawItem::Decoded(i)))
            };
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = if raw {
                reader.finish_raw(&mut take)
            } else {
                reader.finish(|i| take(RawItem::Decoded(i)))
            };
        }
        match &whole {
            Ok(envelope) => {
                if let Err(e) = &result {
                    prop_assert!(
                        false,
                        "DataItems (raw: {raw}) refused what from_slice reads: {e}"
                    );
                }
                prop_assert_eq!(to_value(&items)?, to_value(&envelope.data)?);
            }
            Err(e) => prop_assert!(
                result.is_err(),
                "DataItems (raw: {raw}) read {} items of what from_slice refuses ({e})",
                items.len()
            ),
        }
    }
    Ok(())
}
