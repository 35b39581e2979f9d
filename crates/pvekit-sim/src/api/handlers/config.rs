//! Guest configuration: GET for containers and VMs, PUT for containers
//! (pve-container src/PVE/API2/LXC/Config.pm `update_vm`, src/PVE/LXC/Config.pm
//! `update_pct_config`).
//!
//! PUT applies its changes at once, also on a running container: the simulator keeps no
//! pending section (GET merges pending values by default, so it reads the same).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::api::Call;
use crate::error::ApiError;
use crate::model::counters::mix;
use crate::model::{Guest, net};
use pvekit_core::types::GuestKind;

/// LXC config keys whose schema type is integer.
const LXC_INT_KEYS: &[&str] = &["cores", "cpuunits", "memory", "swap", "tty"];
/// LXC config keys whose schema type is boolean (0/1 integers).
const LXC_BOOL_KEYS: &[&str] = &[
    "console",
    "debug",
    "onboot",
    "protection",
    "template",
    "unprivileged",
];
/// QEMU config keys whose schema type is integer (`memory` is a property string there).
const QEMU_INT_KEYS: &[&str] = &[
    "balloon",
    "cores",
    "cpuunits",
    "migrate_speed",
    "shares",
    "smp",
    "snaptime",
    "sockets",
    "vcpus",
];
/// QEMU config keys whose schema type is boolean.
const QEMU_BOOL_KEYS: &[&str] = &[
    "acpi",
    "allow-ksm",
    "autostart",
    "ciupgrade",
    "freeze",
    "keephugepages",
    "kvm",
    "localtime",
    "numa",
    "onboot",
    "protection",
    "reboot",
    "tablet",
    "tdf",
    "template",
];

/// The config file as pmxcfs stores it: description as `#` comments, then `key: value`.
pub(crate) fn config_file(g: &Guest) -> String {
    let mut out = String::new();
    if let Some(d) = g.config.get("description") {
        for line in d.trim_end_matches('\n').split('\n') {
            out.push('#');
            out.push_str(line);
            out.push('\n');
        }
    }
    for (k, v) in &g.config {
        if k != "description" {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

fn config(call: &Call<'_>, kind: GuestKind) -> Result<Value, ApiError> {
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let g = model.guest_on(&node.name, call.vmid()?, kind)?;
    if let Some(snap) = call.str("snapshot") {
        return Err(ApiError::new(
            500,
            format!("snapshot '{snap}' does not exist\n"),
        ));
    }
    let (ints, bools) = match kind {
        GuestKind::Lxc => (LXC_INT_KEYS, LXC_BOOL_KEYS),
        GuestKind::Qemu => (QEMU_INT_KEYS, QEMU_BOOL_KEYS),
    };
    let mut m = Map::new();
    for (k, v) in &g.config {
        let value = if ints.contains(&k.as_str()) || bools.contains(&k.as_str()) {
            v.parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(v.clone()))
        } else {
            // Strings, including `number` keys such as cpulimit (kept as text).
            Value::from(v.clone())
        };
        m.insert(k.clone(), value);
    }
    m.insert("digest".into(), Value::from(digest(g)));
    Ok(Value::Object(m))
}

pub(crate) fn lxc_config(call: &Call<'_>) -> Result<Value, ApiError> {
    config(call, GuestKind::Lxc)
}

pub(crate) fn qemu_config(call: &Call<'_>) -> Result<Value, ApiError> {
    config(call, GuestKind::Qemu)
}

/// The SHA-1 (hex) of the config file, as `digest`.
pub(crate) fn digest(g: &Guest) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        config_file(g).as_bytes(),
    );
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parameters of PUT that are not config options.
const NOT_OPTIONS: &[&str] = &["node", "vmid", "digest", "delete", "revert"];

/// pve-common `split_list`: NUL-separated, else separated by commas, semicolons or blanks.
fn split_list(s: Option<String>) -> Vec<String> {
    let s = s.unwrap_or_default();
    if s.contains('\0') {
        return s.split('\0').map(str::to_string).collect();
    }
    s.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// A parameter value as config file text (JSON booleans become 1/0).
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        other => other.to_string(),
    }
}

/// Tags as `get_unique_tags` stores them: lower case, sorted, unique, `;`-joined.
fn unique_tags(s: &str) -> String {
    let mut tags: Vec<String> = split_list(Some(s.to_string()))
        .into_iter()
        .map(|t| t.to_lowercase())
        .collect();
    tags.sort();
    tags.dedup();
    tags.join(";")
}

/// A netN value parsed and printed again: `type=veth` forced, a generated upper-case MAC when
/// `hwaddr` is missing, `name=` first and the other keys sorted.
fn canonical_net(g: &Guest, opt: &str, value: &str) -> String {
    let mut props = net::parse_props(value);
    props.insert("type".into(), "veth".into());
    if !props.contains_key("hwaddr") {
        let salt = value
            .bytes()
            .chain(opt.bytes())
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        props.insert("hwaddr".into(), net::mac(mix(g.seed ^ salt)));
    }
    net::print_net(props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect())
}

fn param_err(name: &str, msg: String) -> ApiError {
    ApiError::params(BTreeMap::from([(name.to_string(), msg)]))
}

/// The privilege changing one container option from `old` to `new` (`None`: deleting it)
/// needs, after the method's own check (pve-container `check_ct_modify_config_perm`): CPU,
/// disk, memory and network options their `VM.Config.*`, everything else VM.Config.Options;
/// device passthrough and hook scripts are for `root@pam` alone (its tokens included), and so
/// are feature flags, except that on an unprivileged container a change of `nesting` alone
/// needs VM.Allocate.
fn check_option_privilege(
    call: &Call<'_>,
    vmid: u32,
    opt: &str,
    old: Option<&str>,
    new: Option<&str>,
    unprivileged: bool,
) -> Result<(), ApiError> {
    if call.auth_id() == "root@pam" {
        return Ok(());
    }
    let indexed = |prefix: &str| {
        opt.strip_prefix(prefix)
            .is_some_and(|i| !i.is_empty() && i.bytes().all(|c| c.is_ascii_digit()))
    };
    let root_only = |what: &str| Err(ApiError::permission(what));
    let privilege = match opt {
        "cores" | "cpuunits" | "cpulimit" => "VM.Config.CPU",
        "rootfs" => "VM.Config.Disk",
        _ if indexed("mp") => "VM.Config.Disk",
        "memory" | "swap" => "VM.Config.Memory",
        "nameserver" | "searchdomain" | "hostname" => "VM.Config.Network",
        _ if indexed("net") => "VM.Config.Network",
        _ if indexed("dev") => {
            return root_only("configuring device passthrough is only allowed for root@pam");
        }
        "hookscript" => {
            return root_only("changing the hookscript is only allowed for root@pam");
        }
        "features" => {
            if !unprivileged {
                return root_only(
                    "changing feature flags for privileged container is only allowed for root@pam",
                );
            }
            match features_change(old, new) {
                FeaturesChange::None => return Ok(()),
                FeaturesChange::NestingOnly => "VM.Allocate",
                FeaturesChange::Other => {
                    return root_only(
                        "changing feature flags (except nesting) is only allowed for root@pam",
                    );
                }
            }
        }
        _ => "VM.Config.Options",
    };
    let path = format!("/vms/{vmid}");
    if call.can(&path, privilege) {
        Ok(())
    } else {
        Err(ApiError::permission(&format!("{path}, {privilege}")))
    }
}

/// What a `features` update changes.
enum FeaturesChange {
    None,
    NestingOnly,
    Other,
}

/// Compares the flags before and after (`new` `None`: the option is deleted), flag by flag
/// with an unset flag as empty, the way pve-container does.
fn features_change(old: Option<&str>, new: Option<&str>) -> FeaturesChange {
    let flags = |v: Option<&str>| -> BTreeMap<String, String> {
        v.unwrap_or("")
            .split(',')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    // Deleting, or setting with no flags before: judged by the flags themselves.
    let alone = |f: &BTreeMap<String, String>| match f.len() {
        0 => FeaturesChange::None,
        1 if f.contains_key("nesting") => FeaturesChange::NestingOnly,
        _ => FeaturesChange::Other,
    };
    let before = flags(old);
    let Some(new) = new else {
        return alone(&before);
    };
    let after = flags(Some(new));
    if old.is_none_or(str::is_empty) {
        return alone(&after);
    }
    let mut change = FeaturesChange::None;
    for key in before.keys().chain(after.keys()) {
        let was = before.get(key).map_or("", String::as_str);
        let is = after.get(key).map_or("", String::as_str);
        if was != is {
            if key != "nesting" {
                return FeaturesChange::Other;
            }
            change = FeaturesChange::NestingOnly;
        }
    }
    change
}

/// PUT /nodes/{node}/lxc/{vmid}/config: sets and deletes options; answers `null`.
pub(crate) fn lxc_update(call: &Call<'_>) -> Result<Value, ApiError> {
    let rule = call.rule;
    let node = call.node()?;
    let vmid = call.vmid()?;
    let wanted_digest = call.str("digest");
    if !call
        .params
        .keys()
        .any(|k| !matches!(k.as_str(), "node" | "vmid" | "digest"))
    {
        return Err(ApiError::new(500, "no options specified\n"));
    }
    let delete = split_list(call.str("delete"));
    let revert = split_list(call.str("revert"));
    let set: BTreeMap<String, String> = call
        .params
        .iter()
        .filter(|(k, _)| !NOT_OPTIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();

    let mut model = call.state.model_mut();
    let node = model.reachable_node(call.local, &node)?.name.clone();
    let g = model.guest_on(&node, vmid, GuestKind::Lxc)?;
    if let Some(l) = &g.lock {
        return Err(ApiError::new(500, format!("CT is locked ({l})\n")));
    }
    if let Some(d) = wanted_digest.filter(|d| !d.is_empty())
        && d != digest(g)
    {
        return Err(ApiError::new(
            500,
            "detected modified configuration - file changed by other user? Try again.\n",
        ));
    }
    let unprivileged = g.config.get("unprivileged").is_some_and(|v| v == "1");
    let old = |opt: &str| g.config.get(opt).map(String::as_str);
    for opt in delete.iter().chain(&revert) {
        check_option_privilege(call, vmid, opt, old(opt), None, unprivileged)?;
    }
    let is_option = |k: &str| !NOT_OPTIONS.contains(&k) && rule.param(k).is_some();
    for opt in &revert {
        if !is_option(opt) {
            return Err(param_err("revert", format!("unknown option '{opt}'")));
        }
        if set.contains_key(opt) {
            return Err(param_err(
                "revert",
                format!("you can't use '-{opt}' and '-revert {opt}' at the same time"),
            ));
        }
    }
    for opt in &delete {
        if !is_option(opt) {
            return Err(param_err("delete", format!("unknown option '{opt}'")));
        }
        // Sic: the real message has an unbalanced quote.
        if set.contains_key(opt) {
            return Err(param_err(
                "delete",
                format!("you can't use '-{opt}' and -delete {opt}' at the same time"),
            ));
        }
        if revert.contains(opt) {
            return Err(param_err(
                "delete",
                format!("you can't use '-delete {opt}' and '-revert {opt}' at the same time"),
            ));
        }
    }

    for (opt, value) in &set {
        check_option_privilege(call, vmid, opt, old(opt), Some(value), unprivileged)?;
    }

    // Everything is checked before anything is written, like the real update.
    let mut config = g.config.clone();
    for opt in &delete {
        if !config.contains_key(opt) {
            continue; // "cannot delete '...' - not set in current configuration!" (a warning)
        }
        match opt.as_str() {
            "memory" | "rootfs" | "ostype" => {
                return Err(ApiError::new(
                    500,
                    format!("unable to delete required option '{opt}'\n"),
                ));
            }
            "unprivileged" => {
                return Err(ApiError::new(
                    500,
                    format!("unable to delete read-only option: '{opt}'\n"),
                ));
            }
            _ => {}
        }
        config.remove(opt);
    }
    for (opt, value) in &set {
        let value = if opt == "unprivileged" {
            return Err(ApiError::new(
                500,
                format!("unable to modify read-only option: '{opt}'\n"),
            ));
        } else if opt == "tags" {
            unique_tags(value)
        } else if opt
            .strip_prefix("net")
            .is_some_and(|i| !i.is_empty() && i.bytes().all(|c| c.is_ascii_digit()))
        {
            canonical_net(g, opt, value)
        } else {
            value.clone()
        };
        if opt == "tags" && value.is_empty() {
            config.remove(opt);
        } else {
            config.insert(opt.clone(), value);
        }
    }
    if let Some(g) = model.guests.get_mut(&vmid) {
        g.lock = config.get("lock").cloned();
        g.template = config.get("template").is_some_and(|t| t == "1");
        g.config = config;
    }
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::{FeaturesChange, features_change};

    fn change(old: Option<&str>, new: Option<&str>) -> &'static str {
        match features_change(old, new) {
            FeaturesChange::None => "none",
            FeaturesChange::NestingOnly => "nesting",
            FeaturesChange::Other => "other",
        }
    }

    #[test]
    fn feature_flag_changes() {
        assert_eq!(change(None, Some("nesting=1")), "nesting");
        assert_eq!(change(None, Some("nesting=1,keyctl=1")), "other");
        assert_eq!(
            change(Some("keyctl=1,nesting=1"), Some("nesting=1,keyctl=1")),
            "none"
        );
        assert_eq!(
            change(Some("keyctl=1,nesting=0"), Some("keyctl=1,nesting=1")),
            "nesting"
        );
        assert_eq!(change(Some("keyctl=1"), Some("nesting=1")), "other");
        assert_eq!(change(Some("nesting=1"), None), "nesting");
        assert_eq!(change(Some("keyctl=1"), None), "other");
        assert_eq!(change(None, None), "none");
    }
}
