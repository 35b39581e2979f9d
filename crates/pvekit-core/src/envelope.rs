//! The response envelope every Proxmox VE API call answers with.
//!
//! Success is `{"data": ...}` (plus `total` on some lists). Errors raised by handlers carry
//! `{"data": null, "message": "...", "errors": {...}}`; servers older than
//! libpve-http-server-perl 5.2.0 omit `message`, and the text is then only in the HTTP reason
//! phrase. Authentication failures have an empty body.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A successful response: the payload under `data`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Envelope<T> {
    /// The payload.
    pub data: T,
    /// Number of items, present on a few list calls such as the task log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// The body of an error response, as far as it can be read.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// The full error message (newer servers only); usually ends in a newline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Per-parameter errors of a 400 "Parameter verification failed.".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
}

impl ApiErrorBody {
    /// Parses an error body leniently: an empty or non-JSON body gives an empty value.
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// The best message for a person: the body's `message` (trimmed), else the reason phrase,
    /// else the fallback.
    pub fn best_message(&self, reason: Option<&str>, fallback: &str) -> String {
        self.message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .or(reason.map(str::trim).filter(|r| !r.is_empty()))
            .unwrap_or(fallback)
            .to_string()
    }
}

/// Cuts an error message to what Proxmox VE puts in the HTTP reason phrase: its first line.
pub fn reason_phrase(message: &str) -> &str {
    message.split(['\r', '\n']).next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_body_message() {
        let b = ApiErrorBody::parse(br#"{"data":null,"message":"CT 100 not running\n"}"#);
        assert_eq!(b.best_message(Some("x"), "y"), "CT 100 not running");
        let b = ApiErrorBody::parse(b"");
        assert_eq!(b.best_message(Some("No ticket"), "y"), "No ticket");
        assert_eq!(b.best_message(None, "Unauthorized"), "Unauthorized");
    }

    #[test]
    fn parses_param_errors() {
        let b = ApiErrorBody::parse(
            br#"{"data":null,"errors":{"vmid":"type check ('integer') failed - got 'x'"}}"#,
        );
        assert_eq!(
            b.errors.unwrap()["vmid"],
            "type check ('integer') failed - got 'x'"
        );
    }

    #[test]
    fn reason_is_first_line() {
        assert_eq!(reason_phrase("a\nb"), "a");
        assert_eq!(reason_phrase("abc"), "abc");
    }
}
