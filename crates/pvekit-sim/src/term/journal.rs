//! The synthetic systemd journal of nodes and containers, and `journalctl`'s options.
//!
//! A journal is an endless sequence of entries, one every [`PERIOD_MS`] on the simulator
//! clock; entry `k` (at `k * PERIOD_MS`) belongs to a unit and says something picked by a
//! hash of the source's seed and `k`, so the same seed and time give the same lines. Nodes
//! log like a Proxmox VE host (pveproxy, pvedaemon, pvestatd, cron, sshd, logind),
//! containers like their services (nginx, PostgreSQL, Redis, ...). The unit
//! `pvekit-flood` is special: it produces lines as fast as they can be read, for throughput
//! benchmarks.

use std::fmt::Write as _;

use super::sandbox::CtInfo;
use crate::model::counters::mix;

/// Time between two journal entries, in milliseconds.
pub(crate) const PERIOD_MS: i64 = 200;
/// The flood unit.
pub(crate) const FLOOD_UNIT: &str = "pvekit-flood.service";

/// One systemd unit and what it logs.
#[derive(Debug)]
struct Unit {
    name: &'static str,
    ident: &'static str,
    /// Syslog facility (for `/var/log/messages`).
    facility: &'static str,
    msgs: &'static [&'static str],
}

const PVEPROXY: Unit = Unit {
    name: "pveproxy.service",
    ident: "pveproxy",
    facility: "daemon.info",
    msgs: &[
        "worker {n} finished",
        "starting 1 worker(s)",
        "worker {n} started",
    ],
};
const PVEDAEMON: Unit = Unit {
    name: "pvedaemon.service",
    ident: "pvedaemon",
    facility: "daemon.info",
    msgs: &[
        "<root@pam> successful auth for user 'root@pam'",
        "<root@pam> starting task UPID:{host}:{hex}:{hex}:{hex}:vncshell::root@pam:",
        "<root@pam> end task UPID:{host}:{hex}:{hex}:{hex}:vncshell::root@pam: OK",
    ],
};
const PVESTATD: Unit = Unit {
    name: "pvestatd.service",
    ident: "pvestatd",
    facility: "daemon.info",
    msgs: &[
        "status update time ({s} seconds)",
        "auth key pair too old, rotating..",
    ],
};
const CRON: Unit = Unit {
    name: "cron.service",
    ident: "CRON",
    facility: "cron.info",
    msgs: &[
        "pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0)",
        "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
        "pam_unix(cron:session): session closed for user root",
    ],
};
const SSHD: Unit = Unit {
    name: "ssh.service",
    ident: "sshd",
    facility: "auth.info",
    msgs: &[
        "Accepted publickey for root from {ip} port {port} ssh2: ED25519 SHA256:{b64}",
        "pam_unix(sshd:session): session opened for user root(uid=0) by root(uid=0)",
        "Received disconnect from {ip} port {port}:11: disconnected by user",
        "Disconnected from user root {ip} port {port}",
        "pam_unix(sshd:session): session closed for user root",
    ],
};
const LOGIND: Unit = Unit {
    name: "systemd-logind.service",
    ident: "systemd-logind",
    facility: "auth.info",
    msgs: &[
        "New session {n} of user root.",
        "Session {n} logged out. Waiting for processes to exit.",
        "Removed session {n}.",
    ],
};
const NGINX: Unit = Unit {
    name: "nginx.service",
    ident: "nginx",
    facility: "daemon.info",
    msgs: &[
        "{ip} - - \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\"",
        "{ip} - - \"GET / HTTP/1.1\" 200 615 \"-\" \"curl/8.14.1\"",
        "{ip} - - \"POST /api/v1/events HTTP/1.1\" 201 48 \"-\" \"python-requests/2.32.3\"",
        "{ip} - - \"GET /favicon.ico HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0\"",
    ],
};
const POSTGRES: Unit = Unit {
    name: "postgresql.service",
    ident: "postgres",
    facility: "local0.info",
    msgs: &[
        "[{n}] LOG:  checkpoint starting: time",
        "[{n}] LOG:  checkpoint complete: wrote {n} buffers (0.1%); 0 WAL file(s) added, 0 removed, 1 recycled",
        "[{n}] LOG:  automatic vacuum of table \"app.public.sessions\": index scans: 1",
        "[{n}] LOG:  duration: {s} ms  statement: SELECT count(*) FROM events",
    ],
};
const REDIS: Unit = Unit {
    name: "redis-server.service",
    ident: "redis-server",
    facility: "daemon.notice",
    msgs: &[
        "{n}:M * 100 changes in 300 seconds. Saving...",
        "{n}:M * Background saving started by pid {n}",
        "{n}:C * DB saved on disk",
        "{n}:M * Background saving terminated with success",
    ],
};
const DOCKER: Unit = Unit {
    name: "docker.service",
    ident: "dockerd",
    facility: "daemon.info",
    msgs: &[
        "time=\"{iso}\" level=info msg=\"ignoring event\" container={hex}{hex} module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\"",
        "time=\"{iso}\" level=info msg=\"Container failed to exit within 10s of signal 15 - using the force\" container={hex}{hex}",
    ],
};
const CROND: Unit = Unit {
    name: "crond.service",
    ident: "crond",
    facility: "cron.info",
    msgs: &[
        "USER root pid {n} cmd run-parts /etc/periodic/15min",
        "USER root pid {n} cmd run-parts /etc/periodic/hourly",
    ],
};
const FLOOD: Unit = Unit {
    name: FLOOD_UNIT,
    ident: "pvekit-flood",
    facility: "daemon.info",
    msgs: &["flood {k} the quick brown fox jumps over the lazy dog 0123456789"],
};

/// One journal: a host, its units and its seed.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    host: String,
    seed: u64,
    units: Vec<&'static Unit>,
    /// The first entry's index (the journal begins an hour before the simulator started).
    begin_k: i64,
}

/// `journalctl -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Short,
    ShortIso,
    ShortPrecise,
    ShortIsoPrecise,
    Cat,
    /// busybox syslogd's `/var/log/messages` lines.
    Syslog,
}

/// How many lines `journalctl -n` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    All,
    Last(usize),
    /// `-n +N`: the first N.
    First(usize),
}

/// The parsed `journalctl` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub follow: bool,
    pub units: Vec<String>,
    pub lines: Lines,
    pub format: Format,
    pub quiet: bool,
    pub hostname: bool,
}

/// The most lines one request prints from history.
pub(crate) const MAX_HISTORY: usize = 100_000;

impl Source {
    /// The journal of a node.
    pub fn node(name: &str, seed: u64, begin_ms: i64) -> Source {
        Source {
            host: name.to_string(),
            seed,
            units: vec![&PVEPROXY, &PVEDAEMON, &PVESTATD, &CRON, &SSHD, &LOGIND],
            begin_k: begin_ms.div_euclid(PERIOD_MS),
        }
    }

    /// The journal (or syslog) of a container: its services follow its hostname.
    pub fn container(ct: &CtInfo, seed: u64, begin_ms: i64) -> Source {
        let h = ct.hostname.to_ascii_lowercase();
        let has = |keys: &[&str]| keys.iter().any(|k| h.contains(k));
        let service: &'static Unit = if has(&["db", "sql", "pg", "postgres"]) {
            &POSTGRES
        } else if has(&["redis", "cache"]) {
            &REDIS
        } else if has(&["docker", "k8s", "ci"]) {
            &DOCKER
        } else if has(&["web", "www", "nginx", "proxy", "gw"]) {
            &NGINX
        } else {
            [&NGINX, &POSTGRES, &REDIS][(mix(seed ^ 0x5e41) % 3) as usize]
        };
        let cron = if ct.systemd() { &CRON } else { &CROND };
        Source {
            host: ct.hostname.clone(),
            seed,
            units: vec![service, service, cron, &SSHD],
            begin_k: begin_ms.div_euclid(PERIOD_MS),
        }
    }

    /// The unit of entry `k`.
    fn unit_of(&self, k: i64) -> &'static Unit {
        let i = mix(self.seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) as usize;
        self.units[i % self.units.len()]
    }

    /// Whether entry `k` passes the unit filter.
    fn matches(&self, k: i64, units: &[String]) -> bool {
        units.is_empty() || units.iter().any(|u| u == self.unit_of(k).name)
    }

    /// The PID a unit's process has.
    fn pid(&self, unit: &Unit) -> u64 {
        let h = unit
            .name
            .bytes()
            .fold(self.seed, |acc, b| mix(acc ^ u64::from(b)));
        300 + h % 60_000
    }

    /// Entry `k` of `unit`, formatted.
    fn format(&self, unit: &Unit, k: i64, at_ms: i64, q: &Query, out: &mut String) {
        let h = mix(self.seed ^ (k as u64) ^ 0xabcd_ef01);
        let tmpl = unit.msgs[(h % unit.msgs.len() as u64) as usize];
        let t = Civil::from_ms(at_ms);
        match q.format {
            Format::Cat => {}
            Format::Short => t.short(out),
            Format::ShortPrecise => {
                t.short(out);
                let _ = write!(out, ".{:06}", t.micros);
            }
            Format::ShortIso => t.iso(out, false),
            Format::ShortIsoPrecise => t.iso(out, true),
            Format::Syslog => {
                let _ = write!(
                    out,
                    "{} {:>2} {:02}:{:02}:{:02}",
                    MONTHS[t.month - 1],
                    t.day,
                    t.hour,
                    t.min,
                    t.sec
                );
            }
        }
        if q.format != Format::Cat {
            if q.hostname {
                let _ = write!(out, " {}", self.host);
            }
            if q.format == Format::Syslog {
                let _ = write!(out, " {}", unit.facility);
            }
            let _ = write!(out, " {}[{}]: ", unit.ident, self.pid(unit));
        }
        render(tmpl, h, k, &self.host, at_ms, out);
        out.push('\n');
    }

    /// The history part of a query at `now_ms`; returns the text and the last index printed
    /// (or `now_k` when nothing matched).
    pub fn history(&self, q: &Query, now_ms: i64) -> (String, i64) {
        let now_k = now_ms.div_euclid(PERIOD_MS);
        let mut out = String::new();
        if q.units.iter().any(|u| u == FLOOD_UNIT) {
            let n = match q.lines {
                Lines::All => 10,
                Lines::Last(n) | Lines::First(n) => n.min(MAX_HISTORY),
            };
            for i in 0..n {
                self.format(&FLOOD, i as i64, now_ms, q, &mut out);
            }
            return (out, now_k);
        }
        let ks: Vec<i64> = match q.lines {
            Lines::Last(n) => {
                let mut v = Vec::new();
                let mut k = now_k;
                while v.len() < n.min(MAX_HISTORY) && k >= self.begin_k {
                    if self.matches(k, &q.units) {
                        v.push(k);
                    }
                    k -= 1;
                }
                v.reverse();
                v
            }
            Lines::All | Lines::First(_) => {
                let cap = match q.lines {
                    Lines::First(n) => n.min(MAX_HISTORY),
                    _ => MAX_HISTORY,
                };
                let start = self.begin_k.max(now_k - 50 * MAX_HISTORY as i64);
                (start..=now_k)
                    .filter(|&k| self.matches(k, &q.units))
                    .take(cap)
                    .collect()
            }
        };
        for &k in &ks {
            self.format(self.unit_of(k), k, k * PERIOD_MS, q, &mut out);
        }
        if ks.is_empty() && !q.follow && !q.quiet {
            out.push_str("-- No entries --\n");
        }
        (out, now_k)
    }

    /// The entries after `after_k` up to `now_ms` (at most 10,000), and the new last index.
    pub fn since(&self, q: &Query, after_k: i64, now_ms: i64) -> (String, i64) {
        let now_k = now_ms.div_euclid(PERIOD_MS);
        let start = after_k.saturating_add(1).max(now_k.saturating_sub(10_000));
        let mut out = String::new();
        for k in start..=now_k {
            if self.matches(k, &q.units) {
                self.format(self.unit_of(k), k, k * PERIOD_MS, q, &mut out);
            }
        }
        (out, now_k.max(after_k))
    }

    /// `count` flood lines numbered from `first`, stamped `now_ms`.
    pub fn flood(&self, q: &Query, first: i64, count: i64, now_ms: i64) -> String {
        let mut out = String::with_capacity(usize::try_from(count).unwrap_or(0).min(4096) * 110);
        for k in first..first.saturating_add(count) {
            self.format(&FLOOD, k, now_ms, q, &mut out);
        }
        out
    }

    /// The last `n` entries as busybox syslogd writes `/var/log/messages`.
    pub fn syslog_history(&self, now_ms: i64, n: usize) -> String {
        let q = Query {
            lines: Lines::Last(n),
            format: Format::Syslog,
            ..Query::default()
        };
        self.history(&q, now_ms).0
    }

    /// GET /nodes/{node}/journal: lines in mini-journalreader's format, with the first and
    /// the last line the cursors of the first and last entry.
    pub fn rest(
        &self,
        now_ms: i64,
        since: Option<i64>,
        until: Option<i64>,
        last: Option<usize>,
        start_cursor: Option<i64>,
        end_cursor: Option<i64>,
    ) -> Vec<String> {
        let now_k = now_ms.div_euclid(PERIOD_MS);
        let mut lo = self.begin_k;
        let mut hi = now_k;
        // Every bound comes from the client: saturating arithmetic throughout.
        if let Some(s) = since {
            lo = lo.max(s.saturating_mul(1000).div_euclid(PERIOD_MS));
        }
        if let Some(u) = until {
            hi = hi.min(u.saturating_mul(1000).div_euclid(PERIOD_MS));
        }
        if let Some(c) = start_cursor {
            lo = lo.max(c.saturating_add(1));
        }
        if let Some(c) = end_cursor {
            hi = hi.min(c.saturating_sub(1));
        }
        let limited = since.is_some() || start_cursor.is_some();
        let n = last.unwrap_or(if limited { 5000 } else { 50 }).min(5000) as i64;
        let from = if limited && last.is_none() {
            lo
        } else {
            lo.max(hi.saturating_sub(n).saturating_add(1))
        };
        let to = hi.min(from.saturating_add(n).saturating_sub(1));
        if to < from {
            return Vec::new();
        }
        let q = Query::default();
        let mut lines = vec![self.cursor(from)];
        for k in from..=to {
            let mut s = String::new();
            self.format(self.unit_of(k), k, k * PERIOD_MS, &q, &mut s);
            s.pop();
            lines.push(s);
        }
        lines.push(self.cursor(to));
        lines
    }

    /// A journald-style cursor for entry `k`.
    fn cursor(&self, k: i64) -> String {
        let boot = format!("{:016x}{:016x}", mix(self.seed ^ 1), mix(self.seed ^ 2));
        let usec = k.saturating_mul(PERIOD_MS * 1000);
        format!(
            "s={boot};i={k:x};b={boot};m={:x};t={usec:x};x={:016x}",
            usec.saturating_sub(self.begin_k.saturating_mul(PERIOD_MS * 1000)),
            mix(self.seed ^ k as u64)
        )
    }
}

/// The entry index a cursor names (`i=` field, hexadecimal like journald's sequence
/// numbers), for startcursor/endcursor; `None` when it names none. Indexes beyond `i64` are
/// past every entry (saturated).
pub(crate) fn cursor_index(cursor: &str) -> Option<i64> {
    cursor
        .split(';')
        .find_map(|f| f.strip_prefix("i="))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// Fills a message template.
fn render(tmpl: &str, h: u64, k: i64, host: &str, at_ms: i64, out: &mut String) {
    let mut rest = tmpl;
    let mut salt = 0u64;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return;
        };
        let key = &rest[i + 1..i + j];
        salt += 1;
        let r = mix(h ^ salt);
        match key {
            "n" => {
                let _ = write!(out, "{}", 1000 + r % 900_000);
            }
            "k" => {
                let _ = write!(out, "{k}");
            }
            "s" => {
                let _ = write!(out, "{}.{:03}", r % 3, r % 1000);
            }
            "ip" => {
                let _ = write!(
                    out,
                    "10.{}.{}.{}",
                    r % 4,
                    (r >> 8) % 256,
                    2 + (r >> 16) % 250
                );
            }
            "port" => {
                let _ = write!(out, "{}", 32768 + r % 28000);
            }
            "hex" => {
                let _ = write!(out, "{:08X}", r as u32);
            }
            "b64" => {
                use base64::Engine as _;
                let bytes: Vec<u8> = (0..32).map(|x| (mix(r ^ x) & 0xff) as u8).collect();
                out.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes));
            }
            "host" => out.push_str(host),
            "iso" => {
                let mut s = String::new();
                Civil::from_ms(at_ms).iso(&mut s, true);
                out.push_str(&s);
            }
            _ => out.push_str(&rest[i..=i + j]),
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
}

impl Default for Query {
    fn default() -> Query {
        Query {
            follow: false,
            units: Vec::new(),
            lines: Lines::All,
            format: Format::Short,
            quiet: false,
            hostname: true,
        }
    }
}

/// A unit name as `-u` takes it: no suffix means `.service`.
fn unit_name(u: &str) -> String {
    if u.contains('.') {
        u.to_string()
    } else {
        format!("{u}.service")
    }
}

fn parse_lines(v: &str) -> Result<Lines, String> {
    if v == "all" {
        return Ok(Lines::All);
    }
    let bad = || format!("Failed to parse lines '{v}'");
    match v.strip_prefix('+') {
        Some(n) => n.parse().map(Lines::First).map_err(|_| bad()),
        None => v.parse().map(Lines::Last).map_err(|_| bad()),
    }
}

fn parse_format(v: &str) -> Result<Format, String> {
    Ok(match v {
        "short" => Format::Short,
        "short-iso" => Format::ShortIso,
        "short-precise" => Format::ShortPrecise,
        "short-iso-precise" => Format::ShortIsoPrecise,
        "cat" => Format::Cat,
        _ => return Err(format!("Unknown output format '{v}'.")),
    })
}

/// Whether `-n`'s optional argument may be taken from the next word (journalctl peeks at
/// it: a number, `+N` or `all`).
fn looks_like_lines(v: &str) -> bool {
    v == "all" || parse_lines(v).is_ok()
}

/// Parses `journalctl`'s command line (the options pvekit and people commonly use);
/// errors are journalctl's texts.
pub(crate) fn parse_args(args: &[String]) -> Result<Query, String> {
    let mut q = Query::default();
    let mut lines_set = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = |what: &str| -> Result<String, String> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| format!("journalctl: option '--{what}' requires an argument"))?;
                i += 1;
                Ok(v)
            };
            match name {
                "follow" => q.follow = true,
                "no-pager" | "no-tail" | "system" | "utc" | "full" | "all" | "merge" => {}
                "quiet" => q.quiet = true,
                "no-hostname" => q.hostname = false,
                "boot" => {}
                "unit" => q.units.push(unit_name(&value("unit")?)),
                "output" => q.format = parse_format(&value("output")?)?,
                "lines" => {
                    lines_set = true;
                    q.lines = match inline.clone() {
                        Some(v) => parse_lines(&v)?,
                        None if args.get(i).is_some_and(|v| looks_like_lines(v)) => {
                            i += 1;
                            parse_lines(&args[i - 1])?
                        }
                        None => Lines::Last(10),
                    };
                }
                _ => return Err(format!("journalctl: unrecognized option '{a}'")),
            }
            continue;
        }
        let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) else {
            return Err(format!("Failed to add match '{a}': Invalid argument"));
        };
        let chars: Vec<char> = shorts.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            let rest: String = chars[j..].iter().collect();
            match c {
                'f' => q.follow = true,
                'q' => q.quiet = true,
                'x' | 'a' | 'l' | 'm' => {}
                'b' => break,
                'u' | 'o' => {
                    let v = if rest.is_empty() {
                        let v = args.get(i).cloned().ok_or_else(|| {
                            format!("journalctl: option requires an argument -- '{c}'")
                        })?;
                        i += 1;
                        v
                    } else {
                        rest
                    };
                    if c == 'u' {
                        q.units.push(unit_name(&v));
                    } else {
                        q.format = parse_format(&v)?;
                    }
                    break;
                }
                'n' => {
                    lines_set = true;
                    q.lines = if !rest.is_empty() {
                        parse_lines(&rest)?
                    } else if args.get(i).is_some_and(|v| looks_like_lines(v)) {
                        i += 1;
                        parse_lines(&args[i - 1])?
                    } else {
                        Lines::Last(10)
                    };
                    break;
                }
                _ => return Err(format!("journalctl: invalid option -- '{c}'")),
            }
        }
    }
    if q.follow && !lines_set {
        q.lines = Lines::Last(10);
    }
    Ok(q)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC calendar time.
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: usize,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    micros: u32,
}

impl Civil {
    /// From unix milliseconds.
    fn from_ms(ms: i64) -> Civil {
        let secs = ms.div_euclid(1000);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = pvekit_core::format::civil_from_days(secs.div_euclid(86_400));
        Civil {
            year,
            month: month as usize,
            day,
            hour: (sod / 3600) as u32,
            min: (sod / 60 % 60) as u32,
            sec: (sod % 60) as u32,
            micros: (ms.rem_euclid(1000) * 1000) as u32,
        }
    }

    fn short(&self, out: &mut String) {
        let _ = write!(
            out,
            "{} {:02} {:02}:{:02}:{:02}",
            MONTHS[self.month - 1],
            self.day,
            self.hour,
            self.min,
            self.sec
        );
    }

    fn iso(&self, out: &mut String, precise: bool) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        );
        if precise {
            let _ = write!(out, ".{:06}", self.micros);
        }
        out.push_str("+00:00");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let q = parse_args(&args(&[
            "-f",
            "-u",
            "pveproxy",
            "-n",
            "5",
            "--no-pager",
            "-o",
            "short-iso",
        ]))
        .unwrap();
        assert!(q.follow);
        assert_eq!(q.units, vec!["pveproxy.service"]);
        assert_eq!(q.lines, Lines::Last(5));
        assert_eq!(q.format, Format::ShortIso);
        let q = parse_args(&args(&["-fn3", "--unit=cron.service", "--lines=+2"])).unwrap();
        assert_eq!(q.lines, Lines::First(2));
        assert_eq!(q.units, vec!["cron.service"]);
        assert_eq!(parse_args(&args(&["-f"])).unwrap().lines, Lines::Last(10));
        assert_eq!(parse_args(&args(&["-n"])).unwrap().lines, Lines::Last(10));
        assert_eq!(
            parse_args(&args(&["--bogus"])).unwrap_err(),
            "journalctl: unrecognized option '--bogus'"
        );
        assert_eq!(
            parse_args(&args(&["-n", "x", "-z"])).unwrap_err(),
            "Failed to add match 'x': Invalid argument"
        );
        assert_eq!(
            parse_args(&args(&["-o", "json"])).unwrap_err(),
            "Unknown output format 'json'."
        );
    }

    #[test]
    fn dates_and_lines() {
        let c = Civil::from_ms(1_764_100_321_250);
        let mut s = String::new();
        c.iso(&mut s, true);
        assert_eq!(s, "2025-11-25T19:52:01.250000+00:00");
        let src = Source::node("pve1", 7, 1_764_000_000_000);
        let q = parse_args(&args(&["-n", "4", "-u", "pvestatd"])).unwrap();
        let (text, _) = src.history(&q, 1_764_100_000_000);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.lines().all(|l| l.contains(" pve1 pvestatd[")),
            "{text}"
        );
        // Deterministic.
        assert_eq!(text, src.history(&q, 1_764_100_000_000).0);
        let rest = src.rest(1_764_100_000_000, None, None, Some(3), None, None);
        assert_eq!(rest.len(), 5);
        assert!(rest[0].starts_with("s=") && rest[4].starts_with("s="));
        let after = cursor_index(&rest[4]).unwrap();
        let more = src.rest(1_764_100_001_000, None, None, None, Some(after), None);
        assert_eq!(more.len(), 2 + 5, "{more:?}");
    }
}
