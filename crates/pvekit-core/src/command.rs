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

/// Where a framed script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// In `sh` on the node itself.
    Node,
    /// In `sh` inside a container, through `pct exec` (which passes its stdin on).
    Container {
        /// The container's id.
        vmid: u64,
    },
}

/// The bytes of one base64 line of a payload, newline included: far below the 4095 bytes a
/// terminal in canonical mode keeps of a line (`N_TTY_BUF_SIZE` in Linux' `n_tty.c`).
pub const PAYLOAD_LINE: usize = 76;

/// The last line of every payload: a script that arrives without it was cut short.
const TRAILER: &str = "#PVEKIT-EOF";

/// What to type into the node's shell to run a script: a short fixed line, then, once the
/// shell has printed the ready marker, the payload.
#[derive(Clone)]
pub struct FramedCommand {
    /// The line to type first (a few hundred bytes, whatever the script's size).
    pub line: String,
    /// The script, base64-encoded in lines of [`PAYLOAD_LINE`] bytes, to type after the ready
    /// marker.
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for FramedCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The script may hold secrets; show only sizes.
        f.debug_struct("FramedCommand")
            .field("line_len", &self.line.len())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// Wraps a script so it reaches the shell exactly, at any size, and its output and exit
/// status can be cut out of a terminal stream exactly.
///
/// The typed line stays short, since a terminal in canonical mode keeps only 4095 bytes of a
/// line and drops the rest (which once cut the exit status off long commands). It:
/// 1. unsets `HISTFILE`, so neither the line nor anything after it reaches root's history
///    file (a leading space is not enough: Debian's `/root/.bashrc` sets no `HISTCONTROL`);
/// 2. turns echo and output translation off (`stty -echo -opost`) and prints the ready
///    marker; the payload is typed only after that, so it is neither echoed nor read by the
///    line editor;
/// 3. reads exactly the payload's length with `head -c`, decodes it, and hands it to `sh`
///    on stdin; `sh` reads it whole, checks the trailer (a cut payload is refused with
///    status 125, never run), points stdin at `/dev/null`, prints the start marker and runs
///    it;
/// 4. prints the end marker with the exit status, and exits the shell.
///
/// Markers are printed from two pieces, so the echo of the typed line never contains them.
#[derive(Debug, Clone)]
pub struct Framing {
    nonce: String,
}

impl Framing {
    /// A framing with the given nonce. Pass a value from a CSPRNG: command output that
    /// could guess it could forge the exit status.
    pub fn new(nonce: u64) -> Self {
        Framing {
            nonce: format!("{nonce:016x}"),
        }
    }

    fn marker(&self, kind: char) -> String {
        format!("PVEKIT{}{kind}", self.nonce)
    }

    /// The line to type and the payload to send after the ready marker.
    pub fn command(&self, script: &str, runner: Runner) -> FramedCommand {
        let mut text = String::with_capacity(script.len() + TRAILER.len() + 2);
        text.push_str(script);
        text.push('\n');
        text.push_str(TRAILER);
        text.push('\n');
        let encoded = base64(text.as_bytes());
        let mut payload = Vec::with_capacity(encoded.len() + encoded.len() / PAYLOAD_LINE + 1);
        for chunk in encoded.as_bytes().chunks(PAYLOAD_LINE - 1) {
            payload.extend_from_slice(chunk);
            payload.push(b'\n');
        }
        let n = &self.nonce;
        // Inside `sh -c '...'`: no single quotes. `$(cat)` drops the trailing newline only.
        let run = format!(
            "s=$(cat); exec </dev/null; printf \"%s%s\\n\" PVEKIT {n}S; \
             case $s in *\"{TRAILER}\") eval \"$s\";; \
             *) echo \"pvekit: the script arrived incomplete\" >&2; exit 125;; esac"
        );
        let run = match runner {
            Runner::Node => format!("sh -c '{run}'"),
            Runner::Container { vmid } => format!("pct exec {vmid} -- sh -c '{run}'"),
        };
        let line = format!(
            " unset HISTFILE; stty -echo -opost 2>/dev/null; printf '%s%s\\n' PVEKIT {n}R; \
             head -c {len} | base64 -d | {run}; printf '%s%s:%d\\n' PVEKIT {n}E $?; exit\n",
            len = payload.len(),
        );
        FramedCommand { line, payload }
    }

    /// The line that turns a node's shell into a container's (`exec pct enter VMID`), after
    /// printing the start marker; `HISTFILE` is unset first, as for commands. Everything the
    /// terminal shows before the marker (banner, prompt, the echo of this line) is the node's,
    /// and [`Framing::skipper`] hides it.
    pub fn enter_line(&self, vmid: u64) -> String {
        format!(
            " unset HISTFILE; printf '%s%s\\n' PVEKIT {n}S; exec pct enter {vmid}\n",
            n = self.nonce
        )
    }

    /// Hides terminal output until the line with the start marker has passed.
    pub fn skipper(&self) -> Skipper {
        Skipper {
            marker: self.marker('S').into_bytes(),
            held: Vec::new(),
            done: false,
        }
    }

    /// A parser for the terminal stream of [`Framing::command`].
    pub fn deframer(&self) -> Deframer {
        Deframer {
            ready: format!("{}\n", self.marker('R')).into_bytes(),
            start: format!("{}\n", self.marker('S')).into_bytes(),
            end: format!("{}:", self.marker('E')).into_bytes(),
            buf: Vec::new(),
            state: DeframeState::AwaitReady,
        }
    }
}

/// Drops terminal output until the line that holds a marker has passed (see
/// [`Framing::skipper`]). Holds at most [`Skipper::LIMIT`] bytes: past that, or at
/// [`Skipper::flush`], it gives up hiding and lets everything through, so nothing is lost.
#[derive(Debug, Clone)]
pub struct Skipper {
    marker: Vec<u8>,
    held: Vec<u8>,
    done: bool,
}

impl Skipper {
    /// The most output held back while looking for the marker.
    pub const LIMIT: usize = 64 * 1024;

    /// What to show of `chunk`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.done {
            return chunk.to_vec();
        }
        self.held.extend_from_slice(chunk);
        if let Some(at) = find(&self.held, &self.marker)
            && let Some(nl) = self.held[at..].iter().position(|b| *b == b'\n')
        {
            self.done = true;
            let shown = self.held.split_off(at + nl + 1);
            // What was hidden stays hidden: a later `flush` has nothing to show.
            self.held = Vec::new();
            return shown;
        }
        if self.held.len() > Self::LIMIT {
            return self.flush();
        }
        Vec::new()
    }

    /// Gives up hiding: everything held so far.
    pub fn flush(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.held)
    }

    /// Whether the marker has passed (or hiding was given up).
    pub fn is_done(&self) -> bool {
        self.done
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeframeState {
    AwaitReady,
    Seeking,
    Output,
    Status,
    Done,
}

/// The longest exit status line read after the end marker: `255` and a line end fit.
const MAX_STATUS_LINE: usize = 16;

/// Cuts a framed command's output and exit status out of raw terminal bytes.
#[derive(Debug, Clone)]
pub struct Deframer {
    ready: Vec<u8>,
    start: Vec<u8>,
    end: Vec<u8>,
    buf: Vec<u8>,
    state: DeframeState,
}

/// What a chunk of terminal bytes yielded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deframed {
    /// The shell printed the ready marker: send the payload now.
    pub ready: bool,
    /// Output bytes of the command, exactly as it printed them.
    pub output: Vec<u8>,
    /// The exit status, once the end marker has been read: only digits are a status, and
    /// anything else is an error naming what was read.
    pub status: Option<Result<i32, String>>,
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

/// Parses an exit status strictly: 1 to 3 ASCII digits, at most 255.
fn parse_status(text: &[u8]) -> Result<i32, String> {
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if !text.is_empty() && text.len() <= 3 && text.iter().all(u8::is_ascii_digit) {
        let n: i32 = text.iter().fold(0, |n, d| n * 10 + i32::from(d - b'0'));
        if n <= 255 {
            return Ok(n);
        }
    }
    Err(format!(
        "the command's exit status is unreadable: {:?}",
        String::from_utf8_lossy(text)
    ))
}

impl Deframer {
    /// Feeds terminal bytes; returns the output they complete and, at the end, the status.
    /// Buffers at most the length of a marker plus [`MAX_STATUS_LINE`] bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Deframed {
        let mut out = Deframed::default();
        self.buf.extend_from_slice(chunk);
        loop {
            match self.state {
                DeframeState::AwaitReady | DeframeState::Seeking => {
                    let marker = if self.state == DeframeState::AwaitReady {
                        &self.ready
                    } else {
                        &self.start
                    };
                    match find(&self.buf, marker) {
                        Some(i) => {
                            self.buf.drain(..i + marker.len());
                            if self.state == DeframeState::AwaitReady {
                                out.ready = true;
                                self.state = DeframeState::Seeking;
                            } else {
                                self.state = DeframeState::Output;
                            }
                        }
                        None => {
                            // Keep only what could still begin the marker.
                            let keep = marker.len().saturating_sub(1).min(self.buf.len());
                            self.buf.drain(..self.buf.len() - keep);
                            return out;
                        }
                    }
                }
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
                        out.status = Some(parse_status(&self.buf[..i]));
                        self.buf.clear();
                        self.state = DeframeState::Done;
                        return out;
                    }
                    None if self.buf.len() > MAX_STATUS_LINE => {
                        out.status = Some(parse_status(&self.buf));
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

    /// Whether the ready marker has been seen (the payload may be sent).
    pub fn is_ready(&self) -> bool {
        self.state != DeframeState::AwaitReady
    }

    /// Whether the start marker has been seen: the script arrived whole and runs.
    pub fn started(&self) -> bool {
        !matches!(self.state, DeframeState::AwaitReady | DeframeState::Seeking)
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

    /// Decodes a payload the way the typed line does (`base64 -d`), for checks.
    fn decode(payload: &[u8]) -> Vec<u8> {
        use ::base64::Engine;
        let text: Vec<u8> = payload.iter().copied().filter(|b| *b != b'\n').collect();
        ::base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    }

    #[test]
    fn the_typed_line_is_short_and_the_payload_exact_at_any_size() {
        let f = Framing::new(0xabc);
        for size in [0, 1, 4094, 4095, 4096, 65_536, 1 << 20] {
            let script = "x".repeat(size);
            for runner in [Runner::Node, Runner::Container { vmid: 101 }] {
                let c = f.command(&script, runner);
                assert!(c.line.len() < 600, "{size}: line of {}", c.line.len());
                assert!(c.line.contains(&format!("head -c {} ", c.payload.len())));
                assert!(
                    c.payload
                        .split(|b| *b == b'\n')
                        .all(|l| l.len() < PAYLOAD_LINE)
                );
                assert!(c.payload.ends_with(b"\n"));
                let decoded = decode(&c.payload);
                assert_eq!(decoded.len(), size + TRAILER.len() + 2);
                assert!(decoded.starts_with(script.as_bytes()));
            }
        }
    }

    /// Runs the typed line (without its final `exit`) in a real bash whose stdin is
    /// `payload`, as the node's shell would after the ready marker; returns stdout.
    fn run_typed_line(c: &FramedCommand, payload: &[u8]) -> Vec<u8> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(c.line.replace("exit\n", "\n"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(payload).unwrap();
        child.wait_with_output().unwrap().stdout
    }

    #[test]
    fn the_typed_line_runs_in_a_real_shell() {
        // The script runs with /dev/null as stdin (`cat` reads nothing), prints between the
        // markers, and exits 3.
        let f = Framing::new(0x5eed);
        let c = f.command("cat; echo ran; exit 3", Runner::Node);
        let r = f.deframer().push(&run_typed_line(&c, &c.payload));
        assert!(r.ready);
        assert_eq!(r.output, b"ran\n");
        assert_eq!(r.status, Some(Ok(3)));
    }

    #[test]
    fn a_cut_payload_is_refused_not_run() {
        let f = Framing::new(1);
        let c = f.command("echo ran", Runner::Node);
        let cut = &c.payload[..c.payload.len() - 10];
        let r = f.deframer().push(&run_typed_line(&c, cut));
        assert_eq!(r.output, b"");
        assert_eq!(r.status, Some(Ok(125)));
    }

    #[test]
    fn deframes_split_streams() {
        let f = Framing::new(0xabc);
        let c = f.command("printf 'a\\nb'", Runner::Node);
        for marker in ["PVEKIT0000000000000abcS", "PVEKIT0000000000000abcR"] {
            assert!(
                !c.line.contains(marker),
                "the echo must not contain {marker}"
            );
        }
        let stream = b"banner\r\nroot@pve:~# stty ... PVEKIT 0000000000000abcR\r\nPVEKIT0000000000000abcR\nPVEKIT0000000000000abcS\na\nbPVEKIT0000000000000abcE:3\nlogout\r\n";
        for split in 1..stream.len() {
            let mut d = f.deframer();
            let mut out = Vec::new();
            let mut status = None;
            let mut ready = false;
            for part in [&stream[..split], &stream[split..]] {
                let r = d.push(part);
                out.extend(r.output);
                ready |= r.ready;
                status = status.or(r.status);
            }
            assert!(ready);
            assert_eq!(out, b"a\nb", "split at {split}");
            assert_eq!(status, Some(Ok(3)));
            assert!(d.is_done());
        }
    }

    #[test]
    fn the_enter_line_hides_the_node_up_to_its_marker() {
        let f = Framing::new(0xabc);
        let line = f.enter_line(101);
        assert!(
            line.ends_with("exec pct enter 101\n") && !line.contains("PVEKIT0000000000000abcS")
        );
        let mut s = f.skipper();
        assert!(s.push(b"Linux pve1\r\nroot@pve1:~#  unset HISTFILE; printf ... PVEKIT 0000000000000abcS; exec pct enter 101\r\nPVEKIT0000").is_empty());
        assert_eq!(s.push(b"000000000abcS\r\nroot@web:/# "), b"root@web:/# ");
        assert!(s.is_done());
        assert_eq!(s.push(b"more"), b"more");
        let mut s = f.skipper();
        let big = vec![b'x'; Skipper::LIMIT + 1];
        assert_eq!(s.push(&big).len(), big.len());
    }

    #[test]
    fn only_digits_are_a_status() {
        let f = Framing::new(2);
        for (tail, want) in [
            (&b"0\n"[..], Ok(0)),
            (b"3\r\n", Ok(3)),
            (b"255\n", Ok(255)),
            (b"\n", Err(())),
            (b"256\n", Err(())),
            (b"-1\n", Err(())),
            (b"3x\n", Err(())),
            (b"00000000000000000000000", Err(())),
        ] {
            let mut d = f.deframer();
            let mut s =
                b"PVEKIT0000000000000002R\nPVEKIT0000000000000002S\nPVEKIT0000000000000002E:"
                    .to_vec();
            s.extend_from_slice(tail);
            let r = d.push(&s);
            assert_eq!(r.status.map(|s| s.map_err(|_| ())), Some(want), "{tail:?}");
        }
    }

    #[test]
    fn output_resembling_the_marker_passes_through() {
        let f = Framing::new(1);
        let mut d = f.deframer();
        let r = d.push(
            b"PVEKIT0000000000000001R\nPVEKIT0000000000000001S\nPVEKIT000000000000000PVEKIT0000000000000001E:0\n",
        );
        assert_eq!(r.output, b"PVEKIT000000000000000");
        assert_eq!(r.status, Some(Ok(0)));
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

        /// Whatever bytes follow the end marker, the status is digits or an error.
        #[test]
        fn status_is_digits_or_an_error(tail in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut d = Framing::new(7).deframer();
            let mut s = b"PVEKIT0000000000000007R\nPVEKIT0000000000000007S\nPVEKIT0000000000000007E:".to_vec();
            s.extend_from_slice(&tail);
            if let Some(Ok(n)) = d.push(&s).status {
                // Only when the bytes up to the line end are 1 to 3 digits.
                let line: Vec<u8> = tail.iter().copied().take_while(|b| *b != b'\n').collect();
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                prop_assert!(!line.is_empty() && line.len() <= 3 && line.iter().all(u8::is_ascii_digit));
                prop_assert_eq!(String::from_utf8_lossy(line).parse::<i32>().ok(), Some(n));
            }
        }
    }
}
