//! The synthetic systemd journal of nodes and containers, and `journalctl`'s options.
//!
//! A journal is an endless sequence of entries, one every [`PERIOD_MS`] on the simulator
//! clock; entry `k` (at `k * PERIOD_MS`) belongs to a unit and says something picked by a
//! hash of the source's seed and `k`, so the same seed and time give the same lines. Nodes
//! log like a Proxmox VE host (pveproxy, pvedaemon, pvestatd, cron, sshd, logind),
//! containers like their services (nginx, PostgreSQL, Redis, ...). The unit
//! `pvekit-flood` is special: it produces lines as fast as they can be read, for throughput
//! benchmarks.
//!
//! The parts:
//!
//! - this module: a journal ([`Source`]) and which entries a query selects (history, new
//!   entries, flood lines, the REST journal with its cursors);
//! - [`units`]: the units and what each one logs, and which units a node or container runs;
//! - [`render`]: one entry as a line in each output format, message templates, UTC dates;
//! - [`args`]: `journalctl`'s command line, parsed into a [`Query`].

mod args;
mod render;
mod units;

use crate::model::counters::mix;

use super::sandbox::CtInfo;
pub(crate) use args::{Format, Lines, Query, parse_args};
use units::{FLOOD, Unit};

/// Time between two journal entries, in milliseconds.
pub(crate) const PERIOD_MS: i64 = 200;
/// The flood unit.
pub(crate) const FLOOD_UNIT: &str = "pvekit-flood.service";

/// One journal: a host, its units and its seed.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    host: String,
    seed: u64,
    units: Vec<&'static Unit>,
    /// The first entry's index (the journal begins an hour before the simulator started).
    begin_k: i64,
}

/// The most lines one request prints from history.
pub(crate) const MAX_HISTORY: usize = 100_000;

impl Source {
    /// The journal of a node.
    pub fn node(name: &str, seed: u64, begin_ms: i64) -> Source {
        Source {
            host: name.to_string(),
            seed,
            units: units::node(),
            begin_k: begin_ms.div_euclid(PERIOD_MS),
        }
    }

    /// The journal (or syslog) of a container: its services follow its hostname.
    pub fn container(ct: &CtInfo, seed: u64, begin_ms: i64) -> Source {
        Source {
            host: ct.hostname.clone(),
            seed,
            units: units::container(ct, seed),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dates_and_lines() {
        let c = render::Civil::from_ms(1_764_100_321_250);
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
