//! The string formats of pve-common's JSONSchema that our endpoints use, checked by hand.
//!
//! Unknown format names are accepted: the simulator only claims the formats listed here.

use pvekit_core::names;

use crate::rules::KeyRule;

/// Checks a value against a named format; the error is the text after "invalid format - ".
pub(crate) fn check_named(format: &str, v: &str) -> Result<(), String> {
    let ok = match format {
        "pve-node" => names::is_node_name(v),
        "pve-vmid" => v.parse::<u64>().is_ok_and(names::is_vmid),
        "pve-realm" => names::is_realm(v),
        "pve-configid" => is_configid(v),
        "pve-configid-list" => v
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .all(is_configid),
        "pve-storage-id" => is_storage_id(v),
        "dns-name" => names::is_dns_name(v),
        "dns-name-list" => v
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .all(names::is_dns_name),
        "pve-tag-list" => v.split([',', ';', ' ']).filter(|s| !s.is_empty()).all(|t| {
            t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_+.".contains(&c))
        }),
        "CIDR" => is_cidr(v),
        // pve-access-control's formats (src/PVE/Auth/Plugin.pm `verify_username`,
        // src/PVE/AccessControl.pm `pve_verify_tokenid`, `verify_rolename`,
        // `verify_groupname`, `verify_poolname`, `verify_privname`); a `-list` format checks
        // each item of pve-common's `split_list` and reports the first bad one.
        "pve-userid" | "pve-userid-list" | "pve-tokenid" | "pve-tokenid-list" | "pve-roleid"
        | "pve-roleid-list" | "pve-groupid" | "pve-groupid-list" | "pve-priv" | "pve-priv-list"
        | "pve-poolid" => {
            let base = format.strip_suffix("-list").unwrap_or(format);
            let items: Vec<&str> = if format.ends_with("-list") {
                crate::usercfg::split_list(v).collect()
            } else {
                vec![v]
            };
            return items
                .into_iter()
                .try_for_each(|item| check_access_item(base, item));
        }
        "pve-startup-order" => v.split(',').all(|part| {
            let (k, val) = part.split_once('=').unwrap_or(("order", part));
            matches!(k, "order" | "up" | "down")
                && !val.is_empty()
                && val.bytes().all(|c| c.is_ascii_digit())
        }),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(match format {
            "pve-node" => "value does not look like a valid node name".to_string(),
            "pve-vmid" => "value does not look like a valid VM ID".to_string(),
            "pve-realm" => "value does not look like a valid realm name".to_string(),
            "pve-configid" | "pve-configid-list" => format!("invalid configuration ID '{v}'"),
            "pve-storage-id" => format!("storage ID '{v}' contains illegal characters"),
            "dns-name" | "dns-name-list" => {
                format!("value '{v}' does not look like a valid DNS name")
            }
            "CIDR" => format!("value '{v}' does not look like a valid CIDR network"),
            _ => format!("value '{v}' does not match format {format}"),
        })
    }
}

/// pve-access-control's realm regex (also that of token names): a letter, then at least one
/// of `[A-Za-z0-9.-_]`.
pub(crate) fn is_realm_word(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b".-_".contains(c))
}

/// `name@realm`, the user part without white space, `:` or `/`.
pub(crate) fn is_userid(v: &str) -> bool {
    v.rsplit_once('@').is_some_and(|(user, realm)| {
        !user.is_empty()
            && !user
                .chars()
                .any(|c| c.is_whitespace() || c == ':' || c == '/')
            && is_realm_word(realm)
    })
}

/// `name@realm!token`.
pub(crate) fn is_tokenid(v: &str) -> bool {
    v.rsplit_once('!')
        .is_some_and(|(user, name)| is_userid(user) && is_realm_word(name))
}

/// One item of an access-control format; the error is the validator's `die` text.
fn check_access_item(format: &str, v: &str) -> Result<(), String> {
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_".contains(&c))
    };
    match format {
        "pve-userid" => {
            let len = v.chars().count();
            if len < 3 {
                Err(format!("user name '{v}' is too short"))
            } else if len > 64 {
                Err(format!("user name '{v}' is too long ({len} > 64)"))
            } else if is_userid(v) {
                Ok(())
            } else {
                Err(format!("value '{v}' does not look like a valid user name"))
            }
        }
        "pve-tokenid" if !is_tokenid(v) => {
            Err(format!("value '{v}' does not look like a valid token ID"))
        }
        "pve-roleid" if !word(v) => Err(format!("role name '{v}' contains invalid characters")),
        "pve-groupid" if !word(v) => Err(format!("group name '{v}' contains invalid characters")),
        "pve-priv" if crate::acl::priv_name(v).is_none() => Err(format!("invalid privilege '{v}'")),
        "pve-poolid" if v.split('/').count() > 3 => Err(format!(
            "pool name '{v}' nested too deeply (max levels = 3)"
        )),
        "pve-poolid" if !v.split('/').all(word) => {
            Err(format!("pool name '{v}' contains invalid characters"))
        }
        _ => Ok(()),
    }
}

fn is_configid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

fn is_storage_id(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
}

fn is_cidr(v: &str) -> bool {
    let Some((addr, len)) = v.split_once('/') else {
        return false;
    };
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len <= 32,
        Ok(std::net::IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

/// Checks the few regex patterns our endpoints carry; unknown patterns are accepted.
pub(crate) fn check_pattern(pattern: &str, v: &str) -> bool {
    if pattern.starts_with("net\\d+=\\d+") {
        return v.split(',').all(|part| {
            part.split_once('=').is_some_and(|(k, n)| {
                k.strip_prefix("net")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
                    && !n.is_empty()
                    && n.bytes().all(|c| c.is_ascii_digit())
            })
        });
    }
    // pve-access-control: a token name (`token-subid`), and a user or token id
    // (`$userid_or_token_regex`); pve-common anchors the former, the latter anchors itself.
    if pattern == "(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+)" {
        return is_realm_word(v);
    }
    if pattern.starts_with("(?^:^(?^:[^\\s:/]+)\\@") {
        return is_userid(v) || is_tokenid(v);
    }
    if pattern.contains("\\x00-\\x08") {
        // entrypoint / env: no control characters (NUL allowed as the env separator).
        let nul_ok = pattern.contains("\\0");
        return !v.is_empty()
            && v.bytes().all(|c| {
                !((c < 0x09) || (0x10..=0x1F).contains(&c) || c == 0x7F) || (nul_ok && c == 0)
            });
    }
    true
}

/// Checks a property string (`k=v,k2=v2`, with an optional bare default key).
pub(crate) fn check_property_string(keys: &[KeyRule], v: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for part in v.split(',').filter(|p| !p.is_empty()) {
        let key = match part.split_once('=') {
            Some((k, _)) if keys.iter().any(|r| r.name == k) => k,
            Some((k, _)) if !keys.iter().any(|r| r.default_key) => {
                return Err(format!("unknown key '{k}'"));
            }
            _ => match keys.iter().find(|r| r.default_key) {
                Some(r) => r.name.as_str(),
                None => {
                    return Err(format!(
                        "value without key, but schema does not define a default key: '{part}'"
                    ));
                }
            },
        };
        if seen.contains(&key) {
            return Err(format!(
                "duplicate key in comma-separated list property: {key}"
            ));
        }
        seen.push(key);
    }
    if let Some(missing) = keys
        .iter()
        .find(|k| !k.optional && !seen.contains(&k.name.as_str()))
    {
        return Err(format!("missing property - '{}'", missing.name));
    }
    Ok(())
}
