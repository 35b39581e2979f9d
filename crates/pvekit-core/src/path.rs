//! API paths built from segments, each percent-encoded.
//!
//! Node names, VMIDs and UPIDs come from the server or the user and go into URLs. A value
//! such as `a/../../access` or `x?y=1` must stay one segment, so every segment is encoded
//! with the path-segment set of the URL standard (plus `%`), and `.` and `..` are encoded so
//! no URL parser folds them. Values that are valid Proxmox VE names are left as they are.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// What the URL standard encodes in a path segment, plus the characters that are never
/// safe to leave to a server's router.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// One encoded segment.
pub fn segment(value: &str) -> String {
    match value {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        other => utf8_percent_encode(other, SEGMENT).to_string(),
    }
}

/// `/seg1/seg2/...`, each segment encoded.
pub fn api_path<S: AsRef<str>>(segments: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&segment(s.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_unchanged() {
        assert_eq!(
            api_path(["nodes", "pve1", "lxc", "101"]),
            "/nodes/pve1/lxc/101"
        );
        let upid = "UPID:pve1:00003039:0096B43F:69290A60:vzstart:101:root@pam!tok:";
        assert_eq!(api_path(["tasks", upid]), format!("/tasks/{upid}"));
    }

    #[test]
    fn hostile_values_stay_one_segment() {
        assert_eq!(
            api_path(["nodes", "a/../../access"]),
            "/nodes/a%2F..%2F..%2Faccess"
        );
        assert_eq!(api_path(["nodes", ".."]), "/nodes/%2E%2E");
        assert_eq!(api_path(["nodes", "x?y=1#z"]), "/nodes/x%3Fy=1%23z");
        assert_eq!(api_path(["nodes", "50%"]), "/nodes/50%25");
        assert_eq!(api_path(["n\u{1b}\n"]), "/n%1B%0A");
        // Whatever the value, the URL parser sees the same number of segments.
        for v in ["a/b", "..", ".", "%2F", "a b", "é"] {
            let url = url_path_segments(&api_path(["nodes", v, "status"]));
            assert_eq!(url, 3, "{v}");
        }
    }

    fn url_path_segments(path: &str) -> usize {
        path.trim_start_matches('/').split('/').count()
    }
}
