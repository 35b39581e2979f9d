//! Authentication tickets and their lifetime rules.
//!
//! A ticket is `PVE:<userid>:<8 hex digits of unix time>::<signature>`; a CSRF prevention
//! token is `<8 hex digits of unix time>:<signature>`. Both are valid while their age is between
//! −300 s (clock-skew grace) and 7200 s. Clients should treat them as opaque apart from the
//! timestamp, which tells when to renew.

/// How long a ticket stays valid after it was issued, in seconds.
pub const TICKET_LIFETIME_SECS: i64 = 7200;
/// How far in the future a ticket's timestamp may lie (clock-skew grace), in seconds.
pub const TICKET_SKEW_SECS: i64 = 300;

/// The readable parts of a `PVE:` ticket.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The prefix, `PVE` for API tickets, `PVEVNC` for terminal tickets.
    pub prefix: String,
    /// The user id the ticket was issued to (empty for VNC tickets).
    pub userid: String,
    /// When the ticket was issued, unix seconds.
    pub issued: i64,
    /// The signed part: everything before the `::` separator.
    pub signed_part_len: usize,
    /// The base64 signature.
    pub signature: String,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("prefix", &self.prefix)
            .field("userid", &self.userid)
            .field("issued", &self.issued)
            .finish_non_exhaustive()
    }
}

/// Why a ticket could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed ticket")]
pub struct TicketError;

/// Reads the 8-hex-digit timestamp used by tickets and CSRF tokens.
pub fn parse_hex_time(s: &str) -> Option<i64> {
    if s.len() == 8 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
        i64::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

/// Formats a timestamp as tickets do: 8 upper-case hex digits.
pub fn format_hex_time(t: i64) -> String {
    format!("{:08X}", t.clamp(0, 0xFFFF_FFFF))
}

impl Ticket {
    /// Parses `PREFIX:userid:HEXTIME::signature`.
    pub fn parse(s: &str) -> Result<Ticket, TicketError> {
        let (signed, sig) = s.split_once("::").ok_or(TicketError)?;
        let mut parts = signed.splitn(3, ':');
        let prefix = parts.next().ok_or(TicketError)?;
        let a = parts.next().ok_or(TicketError)?;
        let b = parts.next();
        // `PVE:user:TIME` or `PVEVNC:TIME` (the VNC form has no plain user).
        let (userid, time) = match b {
            Some(t) => (a, t),
            None => ("", a),
        };
        if prefix.is_empty() || !prefix.bytes().all(|c| c.is_ascii_uppercase()) || sig.is_empty() {
            return Err(TicketError);
        }
        let issued = parse_hex_time(time).ok_or(TicketError)?;
        Ok(Ticket {
            prefix: prefix.to_string(),
            userid: percent_decode_colon(userid),
            issued,
            signed_part_len: signed.len(),
            signature: sig.to_string(),
        })
    }

    /// Age in seconds at `now` (unix seconds); negative when issued in the future.
    pub fn age(&self, now: i64) -> i64 {
        now.saturating_sub(self.issued)
    }

    /// Whether the server would still accept the ticket at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        is_age_valid(self.age(now), TICKET_SKEW_SECS, TICKET_LIFETIME_SECS)
    }
}

/// The server's age check: valid when `-skew <= age <= lifetime`.
pub fn is_age_valid(age: i64, skew: i64, lifetime: i64) -> bool {
    age >= -skew && age <= lifetime
}

fn percent_decode_colon(s: &str) -> String {
    s.replace("%3A", ":").replace("%3a", ":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tickets() {
        let t = Ticket::parse("PVE:root@pam:66F1A2B3::c2lnbmF0dXJl").unwrap();
        assert_eq!(t.userid, "root@pam");
        assert_eq!(t.issued, 0x66F1A2B3);
        assert!(t.is_valid_at(0x66F1A2B3 + 7200));
        assert!(!t.is_valid_at(0x66F1A2B3 + 7201));
        assert!(t.is_valid_at(0x66F1A2B3 - 300));
        assert!(!t.is_valid_at(0x66F1A2B3 - 301));
        let v = Ticket::parse("PVEVNC:66F1A2B3::abc").unwrap();
        assert_eq!(v.prefix, "PVEVNC");
        assert_eq!(v.userid, "");
        assert!(Ticket::parse("PVE:root@pam:zz::x").is_err());
        assert!(Ticket::parse("garbage").is_err());
        assert!(!format!("{t:?}").contains("c2lnbmF0dXJl"));
    }
}
