//! Building shell commands safely and framing their output on a terminal.
//!
//! Commands reach a node as keystrokes typed into an interactive root shell, so two layers
//! protect them:
//! 1. **Validation** of the values pvekit puts into commands (service names, file paths): the
//!    characters GoDoxy rejects (`& | $ ; ' " \` < >`, so also `$(` and `${`), plus control
//!    characters and a leading `-` (which would turn a value into an option).
//! 2. **Quoting and encoding**: every value is single-quoted, and the whole script travels
//!    base64-encoded, so the interactive shell only ever sees `[A-Za-z0-9+/=]` and fixed text.
//!
//! [`Framing`] wraps a script so its output and exit status can be cut out of the terminal
//! stream exactly: no banner, prompt, echo or line-ending translation leaks into the output.

/// Why a value may not be used in a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The value contains a character that could change the command.
    #[error("invalid {what} '{value}': it contains '{bad}', which is not allowed in commands")]
    Forbidden {
        /// What the value is (service, file, ...).
        what: &'static str,
        /// The value.
        value: String,
        /// The offending character or sequence.
        bad: String,
    },
    /// The value is empty, starts with `-`, or has control characters.
    #[error("invalid {what} '{value}': {reason}")]
    Invalid {
        /// What the value is.
        what: &'static str,
        /// The value (control characters escaped).
        value: String,
        /// Why.
        reason: &'static str,
    },
}

/// The characters GoDoxy's validation rejects (`$(` and `${` are covered by `$`).
pub const FORBIDDEN: &[char] = &['&', '|', '$', ';', '\'', '"', '`', '<', '>'];

/// Checks a value that will become one argument of a command.
///
/// # Errors
/// [`CommandError`] naming the offending character.
pub fn validate_arg(what: &'static str, value: &str) -> Result<(), CommandError> {
    if value.is_empty() {
        return Err(CommandError::Invalid {
            what,
            value: String::new(),
            reason: "it is empty",
        });
    }
    if let Some(bad) = value.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(CommandError::Forbidden {
            what,
            value: value.to_string(),
            bad: bad.to_string(),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(CommandError::Invalid {
            what,
            value: value.escape_default().to_string(),
            reason: "it contains control characters",
        });
    }
    if value.starts_with('-') {
        return Err(CommandError::Invalid {
            what,
            value: value.to_string(),
            reason: "it starts with '-' and would be read as an option",
        });
    }
    Ok(())
}

/// Quotes a value for a POSIX shell: always single quotes, `'` as `'\''`. Inside single
/// quotes nothing is special, not even `!` in an interactive bash.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Joins arguments into a command line, each quoted.
pub fn join(args: &[&str]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// `journalctl` for the given units (all when empty), the last `limit` lines, following.
///
/// # Errors
/// A service name that fails [`validate_arg`].
pub fn journalctl(services: &[String], limit: usize, follow: bool) -> Result<String, CommandError> {
    let mut cmd = String::from("journalctl --no-pager -o short-iso");
    cmd.push_str(&format!(" -n {limit}"));
    if follow {
        cmd.push_str(" -f");
    }
    for s in services {
        validate_arg("service", s)?;
        cmd.push_str(" -u ");
        cmd.push_str(&quote(s));
    }
    Ok(cmd)
}

/// `tail` of the given files, the last `limit` lines, following (by name, across rotation).
///
/// # Errors
/// No files, or a path that fails [`validate_arg`].
pub fn tail(files: &[String], limit: usize, follow: bool) -> Result<String, CommandError> {
    if files.is_empty() {
        return Err(CommandError::Invalid {
            what: "file",
            value: String::new(),
            reason: "no file given",
        });
    }
    let mut cmd = format!("tail -n {limit}");
    if follow {
        cmd.push_str(" -F");
    }
    for f in files {
        validate_arg("file", f)?;
        cmd.push(' ');
        cmd.push_str(&quote(f));
    }
    Ok(cmd)
}

/// Journal of a container that may not run systemd: `journalctl` when the container has a
/// systemd journal, else `tail` of `/var/log/messages` (GoDoxy's fallback).
///
/// # Errors
/// As [`journalctl`].
pub fn journal_with_fallback(
    services: &[String],
    limit: usize,
    follow: bool,
) -> Result<String, CommandError> {
    let journal = journalctl(services, limit, follow)?;
    let fallback = tail(&["/var/log/messages".to_string()], limit, follow)?;
    Ok(format!(
        "if [ -d /run/systemd/system ] && command -v journalctl >/dev/null 2>&1; then exec {journal}; else exec {fallback}; fi"
    ))
}

/// Runs `script` inside container `vmid` with `pct exec`, as the node's root.
pub fn in_container(vmid: u64, script: &str) -> String {
    format!("pct exec {vmid} -- sh -c {}", quote(script))
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Wraps a script so its output and exit status can be cut out of a terminal stream.
#[derive(Debug, Clone)]
pub struct Framing {
    nonce: String,
}

impl Framing {
    /// A framing with a random-looking nonce (pass something unpredictable, such as the
    /// current time mixed with a counter).
    pub fn new(nonce: u64) -> Self {
        Framing {
            nonce: format!("{nonce:016x}"),
        }
    }

    fn start(&self) -> String {
        format!("PVEKIT{}S\n", self.nonce)
    }

    fn end_prefix(&self) -> String {
        format!("PVEKIT{}E:", self.nonce)
    }

    /// The line to type into the shell. The markers are printed from two pieces, so the
    /// echo of the typed line never contains them; `stty -echo -opost` stops echo and
    /// newline translation before the output starts; stdin is `/dev/null`, and the shell
    /// exits after the end marker.
    pub fn line(&self, script: &str) -> String {
        format!(
            " stty -echo -opost 2>/dev/null; printf '%s%s\\n' PVEKIT {n}S; sh -c \"$(printf %s {b64} | base64 -d)\" </dev/null; printf '%s%s:%d\\n' PVEKIT {n}E $?; exit\n",
            n = self.nonce,
            b64 = base64(script.as_bytes()),
        )
    }

    /// A parser for the terminal stream of [`Framing::line`].
    pub fn deframer(&self) -> Deframer {
        Deframer {
            start: self.start().into_bytes(),
            end: self.end_prefix().into_bytes(),
            buf: Vec::new(),
            state: DeframeState::Seeking,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeframeState {
    Seeking,
    Output,
    Status,
    Done,
}

/// Cuts a framed command's output and exit status out of raw terminal bytes.
#[derive(Debug, Clone)]
pub struct Deframer {
    start: Vec<u8>,
    end: Vec<u8>,
    buf: Vec<u8>,
    state: DeframeState,
}

/// What a chunk of terminal bytes yielded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deframed {
    /// Output bytes of the command, exactly as it printed them.
    pub output: Vec<u8>,
    /// The exit status, once the end marker has been read.
    pub status: Option<i32>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The length of the longest suffix of `hay` that is a proper prefix of `needle`.
fn partial_suffix(hay: &[u8], needle: &[u8]) -> usize {
    (1..needle.len().min(hay.len() + 1))
        .rev()
        .find(|&n| hay[hay.len() - n..] == needle[..n])
        .unwrap_or(0)
}

impl Deframer {
    /// Feeds terminal bytes; returns the output they complete and, at the end, the status.
    pub fn push(&mut self, chunk: &[u8]) -> Deframed {
        let mut out = Deframed::default();
        self.buf.extend_from_slice(chunk);
        loop {
            match self.state {
                DeframeState::Seeking => match find(&self.buf, &self.start) {
                    Some(i) => {
                        self.buf.drain(..i + self.start.len());
                        self.state = DeframeState::Output;
                    }
                    None => {
                        // Keep only what could still begin the marker.
                        let keep = self.start.len().saturating_sub(1).min(self.buf.len());
                        self.buf.drain(..self.buf.len() - keep);
                        return out;
                    }
                },
                DeframeState::Output => match find(&self.buf, &self.end) {
                    Some(i) => {
                        out.output.extend(self.buf.drain(..i));
                        self.buf.drain(..self.end.len());
                        self.state = DeframeState::Status;
                    }
                    None => {
                        let keep = partial_suffix(&self.buf, &self.end);
                        out.output.extend(self.buf.drain(..self.buf.len() - keep));
                        return out;
                    }
                },
                DeframeState::Status => match self.buf.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        let text = String::from_utf8_lossy(&self.buf[..i]).trim().to_string();
                        out.status = Some(text.parse().unwrap_or(-1));
                        self.buf.clear();
                        self.state = DeframeState::Done;
                        return out;
                    }
                    None => return out,
                },
                DeframeState::Done => {
                    self.buf.clear();
                    return out;
                }
            }
        }
    }

    /// Whether the end marker and status have been read.
    pub fn is_done(&self) -> bool {
        self.state == DeframeState::Done
    }

    /// Whether the start marker has been seen.
    pub fn started(&self) -> bool {
        self.state != DeframeState::Seeking
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn validation() {
        assert!(validate_arg("service", "pveproxy").is_ok());
        assert!(validate_arg("file", "/var/log/syslog").is_ok());
        for bad in [
            "a;b", "$(id)", "${x}", "a|b", "a&b", "'", "\"", "`id`", "<x", ">x",
        ] {
            assert!(
                matches!(
                    validate_arg("file", bad),
                    Err(CommandError::Forbidden { .. })
                ),
                "{bad}"
            );
        }
        assert!(validate_arg("file", "").is_err());
        assert!(validate_arg("file", "a\nb").is_err());
        assert!(validate_arg("service", "--since=x").is_err());
    }

    #[test]
    fn builds_commands() {
        assert_eq!(
            journalctl(&["pveproxy".into(), "pvedaemon".into()], 100, true).unwrap(),
            "journalctl --no-pager -o short-iso -n 100 -f -u 'pveproxy' -u 'pvedaemon'"
        );
        assert_eq!(
            tail(&["/var/log/a b".into()], 10, false).unwrap(),
            "tail -n 10 '/var/log/a b'"
        );
        assert!(tail(&[], 10, true).is_err());
        assert!(journalctl(&["x;reboot".into()], 1, false).is_err());
        assert_eq!(
            in_container(101, "echo 'hi'"),
            "pct exec 101 -- sh -c 'echo '\\''hi'\\'''"
        );
    }

    #[test]
    fn base64_matches_the_rfc() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn deframes_split_streams() {
        let f = Framing::new(0xabc);
        let line = f.line("printf 'a\\nb'");
        assert!(
            !line.contains("PVEKIT0000000000000abcS"),
            "the echo must not contain the marker"
        );
        let stream = b"banner\r\nroot@pve:~# stty ... PVEKIT 0000000000000abcS\r\nPVEKIT0000000000000abcS\na\nbPVEKIT0000000000000abcE:3\nlogout\r\n";
        for split in 1..stream.len() {
            let mut d = f.deframer();
            let mut out = Vec::new();
            let mut status = None;
            for part in [&stream[..split], &stream[split..]] {
                let r = d.push(part);
                out.extend(r.output);
                status = status.or(r.status);
            }
            assert_eq!(out, b"a\nb", "split at {split}");
            assert_eq!(status, Some(3));
            assert!(d.is_done());
        }
    }

    #[test]
    fn output_resembling_the_marker_passes_through() {
        let f = Framing::new(1);
        let mut d = f.deframer();
        let r =
            d.push(b"PVEKIT0000000000000001S\nPVEKIT000000000000000PVEKIT0000000000000001E:0\n");
        assert_eq!(r.output, b"PVEKIT000000000000000");
        assert_eq!(r.status, Some(0));
    }

    proptest! {
        /// Every value either is rejected or reaches `sh` as exactly one, unchanged argument.
        #[test]
        fn quoted_values_are_one_argument(value in "\\PC{0,20}") {
            let value = value.replace('\0', "");
            let script = format!("printf '%s\\0' {}", quote(&value));
            let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
            prop_assert!(out.status.success());
            let mut expected = value.clone().into_bytes();
            expected.push(0);
            prop_assert_eq!(out.stdout, expected);
        }

        #[test]
        fn validated_args_survive_commands(files in proptest::collection::vec("[ -~]{1,12}", 1..4)) {
            match tail(&files, 1, false) {
                Err(_) => prop_assert!(files.iter().any(|f| validate_arg("file", f).is_err())),
                Ok(cmd) => {
                    // Replace `tail` by an argument printer and check each file is one argument.
                    let script = cmd.replacen("tail -n 1", "printf '%s\\0'", 1);
                    let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
                    let args: Vec<&[u8]> = out.stdout.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
                    let want: Vec<&[u8]> = files.iter().map(|f| f.as_bytes()).collect();
                    prop_assert_eq!(args, want);
                }
            }
        }

        #[test]
        fn deframer_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8)) {
            let mut d = Framing::new(7).deframer();
            for c in chunks {
                let _ = d.push(&c);
            }
        }
    }
}
