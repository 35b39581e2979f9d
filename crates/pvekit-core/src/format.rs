//! Human-readable figures: IEC byte sizes, percentages, uptimes, the stats line.

use serde::Serialize;

use crate::types::{ClusterResource, GuestStatus};

/// Formats bytes with IEC units and at most one decimal, trailing `.0` dropped:
/// `512B`, `1.5KiB`, `9.6GiB`, `20GiB`.
pub fn iec(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // Rounding can carry to 1024.0 (e.g. 1023.96 KiB): move up a unit then.
    let mut rounded = (value * 10.0).round() / 10.0;
    if rounded >= 1024.0 && unit < UNITS.len() - 1 {
        unit += 1;
        rounded = ((value / 1024.0) * 10.0).round() / 10.0;
    }
    let text = format!("{rounded:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{}", UNITS[unit])
}

/// Formats a percentage with the given decimals: `pct(0.311, 1)` is `31.1%`.
pub fn pct(fraction: f64, decimals: usize) -> String {
    let v = if fraction.is_finite() {
        fraction * 100.0
    } else {
        0.0
    };
    format!("{v:.decimals$}%")
}

/// `used / total` as a fraction, 0 when total is 0.
pub fn ratio(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 / total as f64
    }
}

/// Formats seconds like `3d4h5m` (days and hours only when non-zero; minutes always).
pub fn uptime(secs: u64) -> String {
    let d = secs / 86_400;
    let h = secs % 86_400 / 3600;
    let m = secs % 3600 / 60;
    let mut out = String::new();
    if d > 0 {
        out.push_str(&format!("{d}d"));
    }
    if d > 0 || h > 0 {
        out.push_str(&format!("{h}h"));
    }
    out.push_str(&format!("{m}m"));
    out
}

/// The proleptic Gregorian date (year, month 1-12, day 1-31) of a day counted from
/// 1970-01-01 (Howard Hinnant's days-to-civil).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Unix seconds as a UTC date and time to the minute: `2026-11-25 21:40`.
pub fn utc_minute(secs: u64) -> String {
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The figures of one `docker stats`-like line.
///
/// Serialized with the API's field names, so a listing can flatten it into its rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsFigures {
    /// `running` or `stopped`.
    pub status: String,
    /// CPU usage as a fraction of the guest's CPUs.
    pub cpu: f64,
    /// Memory in use, bytes.
    pub mem: u64,
    /// Memory limit, bytes.
    pub maxmem: u64,
    /// Bytes received.
    pub netin: u64,
    /// Bytes sent.
    pub netout: u64,
    /// Bytes read from disk.
    pub diskread: u64,
    /// Bytes written to disk.
    pub diskwrite: u64,
}

impl StatsFigures {
    /// The figures of a guest's `status/current` answer.
    pub fn from_status(s: &GuestStatus) -> Self {
        Self {
            status: s.status.to_string(),
            cpu: s.cpu,
            mem: s.mem,
            maxmem: s.maxmem,
            netin: s.netin,
            netout: s.netout,
            diskread: s.diskread,
            diskwrite: s.diskwrite,
        }
    }

    /// The figures of a `/cluster/resources` entry; missing counters count as 0 and a
    /// missing status as `unknown`.
    pub fn from_resource(r: &ClusterResource) -> Self {
        Self {
            status: r
                .status
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |s| s.as_str().to_string()),
            cpu: r.cpu.unwrap_or(0.0),
            mem: r.mem.unwrap_or(0),
            maxmem: r.maxmem.unwrap_or(0),
            netin: r.netin.unwrap_or(0),
            netout: r.netout.unwrap_or(0),
            diskread: r.diskread.unwrap_or(0),
            diskwrite: r.diskwrite.unwrap_or(0),
        }
    }

    /// The seed's line for these figures; see [`stats_line`].
    pub fn line(&self) -> String {
        stats_line(self)
    }
}

/// `STATUS|CPU%|MEM USAGE/LIMIT|MEM%|NET I/O|BLOCK I/O`, for example
/// `running|31.1%|9.6GiB/20GiB|48.87%|4.7GiB/3.3GiB|25GiB/36GiB`.
pub fn stats_line(f: &StatsFigures) -> String {
    format!(
        "{}|{}|{}/{}|{}|{}/{}|{}/{}",
        f.status,
        pct(f.cpu, 1),
        iec(f.mem),
        iec(f.maxmem),
        pct(ratio(f.mem, f.maxmem), 2),
        iec(f.netin),
        iec(f.netout),
        iec(f.diskread),
        iec(f.diskwrite),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iec_examples() {
        assert_eq!(iec(0), "0B");
        assert_eq!(iec(1023), "1023B");
        assert_eq!(iec(1024), "1KiB");
        assert_eq!(iec(1536), "1.5KiB");
        assert_eq!(iec(20 * 1024 * 1024 * 1024), "20GiB");
        assert_eq!(iec((9.6 * 1024.0 * 1024.0 * 1024.0) as u64), "9.6GiB");
        assert_eq!(iec(1024 * 1024 - 1), "1MiB");
        assert_eq!(iec(u64::MAX), "16EiB");
    }

    #[test]
    fn utc_minutes() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc_minute(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(utc_minute(1_795_643_999), "2026-11-25 21:59");
        assert_eq!(utc_minute(4_102_444_800), "2100-01-01 00:00");
    }

    #[test]
    fn pct_and_uptime() {
        assert_eq!(pct(0.311, 1), "31.1%");
        assert_eq!(pct(ratio(4887, 10000), 2), "48.87%");
        assert_eq!(pct(f64::NAN, 1), "0.0%");
        assert_eq!(uptime(3 * 86_400 + 4 * 3600 + 5 * 60 + 59), "3d4h5m");
        assert_eq!(uptime(59), "0m");
        assert_eq!(uptime(3600), "1h0m");
        assert_eq!(uptime(86_400), "1d0h0m");
    }

    proptest! {
        #[test]
        fn iec_never_shows_1024_of_a_unit(n in any::<u64>()) {
            let s = iec(n);
            prop_assert!(!s.starts_with("1024") || s.ends_with("B") && !s.ends_with("iB"), "{}", s);
        }
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn seed_example() {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        let f = StatsFigures {
            status: "running".into(),
            cpu: 0.311,
            mem: (9.774 * GIB) as u64,
            maxmem: 20 * 1024 * 1024 * 1024,
            netin: (4.7 * GIB) as u64,
            netout: (3.3 * GIB) as u64,
            diskread: 25 * 1024 * 1024 * 1024,
            diskwrite: 36 * 1024 * 1024 * 1024,
        };
        assert_eq!(
            stats_line(&f),
            "running|31.1%|9.8GiB/20GiB|48.87%|4.7GiB/3.3GiB|25GiB/36GiB"
        );
        let stopped = StatsFigures {
            status: "stopped".into(),
            ..Default::default()
        };
        assert_eq!(stats_line(&stopped), "stopped|0.0%|0B/0B|0.00%|0B/0B|0B/0B");
    }
}
