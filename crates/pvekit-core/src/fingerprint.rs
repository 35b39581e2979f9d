//! SHA-256 certificate fingerprints, in the form Proxmox VE shows them.
//!
//! The web UI and `pvenode cert info` print fingerprints as upper-case hex pairs joined by
//! `:`. Parsing accepts upper or lower case, with or without colons, and never panics on
//! arbitrary input.

use std::fmt;
use std::str::FromStr;

/// A SHA-256 fingerprint of a DER certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

/// Why a fingerprint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid certificate fingerprint: {0} (expected 32 hex pairs like AA:BB:..., as Proxmox VE shows under Certificates)"
)]
pub struct FingerprintError(&'static str);

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: Vec<u8> = s.trim().bytes().filter(|b| *b != b':').collect();
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(FingerprintError(
                "contains a character that is not hex or ':'",
            ));
        }
        if hex.len() != 64 {
            return Err(FingerprintError("wrong length"));
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0]) << 4) | nibble(pair[1]);
        }
        Ok(Fingerprint(out))
    }
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_both_forms() {
        let colon = "AB:".repeat(31) + "AB";
        let fp: Fingerprint = colon.parse().unwrap();
        assert_eq!(fp.0, [0xAB; 32]);
        assert_eq!(fp.to_string(), colon);
        let plain: Fingerprint = "ab".repeat(32).parse().unwrap();
        assert_eq!(plain, fp);
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
        assert!("ab".repeat(31).parse::<Fingerprint>().is_err());
        assert!("éa".repeat(32).parse::<Fingerprint>().is_err());
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let fp = Fingerprint(bytes);
            prop_assert_eq!(fp.to_string().parse::<Fingerprint>().unwrap(), fp);
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = s.parse::<Fingerprint>();
        }
    }
}
