//! One journal entry as a line: the output formats of `journalctl -o` (and busybox
//! syslogd's `/var/log/messages`), message templates filled in, and UTC calendar dates.

use std::fmt::Write as _;

use super::units::Unit;
use super::{Format, Query, Source};
use crate::model::counters::mix;

impl Source {
    /// Entry `k` of `unit`, formatted.
    pub(super) fn format(&self, unit: &Unit, k: i64, at_ms: i64, q: &Query, out: &mut String) {
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

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC calendar time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Civil {
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
    pub(super) fn from_ms(ms: i64) -> Civil {
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

    pub(super) fn iso(&self, out: &mut String, precise: bool) {
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
