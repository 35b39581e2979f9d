//! RRD history: `GET /nodes/{node}/lxc/{vmid}/rrddata`.

use serde::{Deserialize, Serialize};

/// How far back RRD history goes, and so its resolution (Proxmox VE 9: hour and day by the
/// minute, week and month by the half hour, year by six hours; older releases keep coarser
/// slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RrdTimeframe {
    /// The last hour.
    #[default]
    Hour,
    /// The last day.
    Day,
    /// The last week.
    Week,
    /// The last month.
    Month,
    /// The last year.
    Year,
}

impl RrdTimeframe {
    /// The `timeframe` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            RrdTimeframe::Hour => "hour",
            RrdTimeframe::Day => "day",
            RrdTimeframe::Week => "week",
            RrdTimeframe::Month => "month",
            RrdTimeframe::Year => "year",
        }
    }
}

impl std::str::FromStr for RrdTimeframe {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hour" => Ok(RrdTimeframe::Hour),
            "day" => Ok(RrdTimeframe::Day),
            "week" => Ok(RrdTimeframe::Week),
            "month" => Ok(RrdTimeframe::Month),
            "year" => Ok(RrdTimeframe::Year),
            other => Err(format!(
                "'{other}' is not a time frame (hour, day, week, month or year)"
            )),
        }
    }
}

/// How each slot consolidates the samples it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RrdCf {
    /// The mean (the server's default).
    #[default]
    Average,
    /// The peak.
    Max,
}

impl RrdCf {
    /// The `cf` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            RrdCf::Average => "AVERAGE",
            RrdCf::Max => "MAX",
        }
    }
}

/// One RRD slot of a guest. Every figure is absent when the slot has no data (the node was
/// down, or the guest did not exist yet); counters are per-second rates.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct RrdPoint {
    /// Start of the slot, Unix seconds.
    pub time: u64,
    /// CPU usage, a fraction of `maxcpu`.
    pub cpu: Option<f64>,
    /// CPUs the guest may use.
    pub maxcpu: Option<f64>,
    /// Memory in use, bytes.
    pub mem: Option<f64>,
    /// Memory limit, bytes.
    pub maxmem: Option<f64>,
    /// Root disk in use, bytes (0 for VMs).
    pub disk: Option<f64>,
    /// Root disk size, bytes.
    pub maxdisk: Option<f64>,
    /// Received, bytes per second.
    pub netin: Option<f64>,
    /// Sent, bytes per second.
    pub netout: Option<f64>,
    /// Read from disk, bytes per second.
    pub diskread: Option<f64>,
    /// Written to disk, bytes per second.
    pub diskwrite: Option<f64>,
}

impl RrdPoint {
    /// Whether the slot holds any figure (not just its time).
    pub fn has_data(&self) -> bool {
        self.cpu.is_some() || self.mem.is_some() || self.netin.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_parse_with_gaps() {
        let v: Vec<RrdPoint> = crate::perl::from_slice(
            br#"[{"time":1700000000,"cpu":0.0123,"maxcpu":2,"mem":268435456.5,"netin":"1024.5"},
                {"time":1700000060}]"#,
        )
        .unwrap();
        assert_eq!(v[0].cpu, Some(0.0123));
        assert_eq!(v[0].maxcpu, Some(2.0));
        assert_eq!(v[0].netin, Some(1024.5));
        assert!(v[0].has_data() && !v[1].has_data());
        assert_eq!(v[1].time, 1_700_000_060);
        assert_eq!("week".parse(), Ok(RrdTimeframe::Week));
        assert!("decade".parse::<RrdTimeframe>().is_err());
        assert_eq!(RrdCf::Max.as_str(), "MAX");
    }
}
