//! The text formats Proxmox VE accepts for names and ids (from pve-common's JSONSchema formats).

/// The smallest valid VMID.
pub const VMID_MIN: u32 = 100;
/// The largest valid VMID.
pub const VMID_MAX: u32 = 999_999_999;

/// `pve-node`: a DNS label, `[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?`.
pub fn is_node_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// `pve-vmid`: an integer from 100 to 999999999.
pub fn is_vmid(v: u64) -> bool {
    (VMID_MIN as u64..=VMID_MAX as u64).contains(&v)
}

/// `pve-realm`: `[A-Za-z][A-Za-z\d\.\-_]+`.
pub fn is_realm(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b.len() <= 32
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b".-_".contains(c))
}

/// API token names: `[A-Za-z][A-Za-z0-9\.\-_]+`.
pub fn is_token_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b".-_".contains(c))
}

/// `dns-name`: dot-separated labels of letters, digits and inner hyphens.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert!(is_node_name("pve1"));
        assert!(is_node_name("a-b"));
        assert!(!is_node_name("-a"));
        assert!(!is_node_name("a_b"));
        assert!(!is_node_name(""));
        assert!(!is_node_name("a.b"));
    }

    #[test]
    fn realms_and_tokens() {
        assert!(is_realm("pam"));
        assert!(!is_realm("1pam"));
        assert!(is_token_name("pvekit"));
        assert!(is_token_name("a.b-c_d"));
        assert!(!is_token_name("1x"));
        assert!(!is_token_name("x"));
    }

    #[test]
    fn vmids() {
        assert!(is_vmid(100));
        assert!(!is_vmid(99));
        assert!(is_vmid(999_999_999));
        assert!(!is_vmid(1_000_000_000));
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_name("web-1.lan"));
        assert!(!is_dns_name("web_1"));
        assert!(!is_dns_name("a..b"));
    }
}
