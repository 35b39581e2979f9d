/*!
Rendering of listings: an aligned, borderless table for people, or a JSON array for scripts.

Rows are plain structs with `Serialize`; their field names are the JSON keys and are part of
the CLI's stable interface. Renderers write to any `io::Write`, so a closed pipe surfaces as an
`io::Error` (which `main` treats as success) instead of a panic.
*/

use std::io::{self, Write};

use comfy_table::{
    Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table, presets::NOTHING,
};
use pvekit::types::{GuestKind, ResourceStatus};
use serde::Serialize;

/// Output format of listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    Table,
    /// A JSON array of objects with stable keys, for scripts.
    Json,
}

/// One row of `pvekit nodes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRow {
    /// Node name.
    pub name: String,
    /// Node id, `node/<name>`.
    pub id: String,
    /// Cluster address, when known.
    pub ip: Option<String>,
    /// Whether the node is online.
    pub online: bool,
    /// Cluster name (the node name for a standalone node).
    pub cluster: String,
}

/// One row of `pvekit ls`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuestRow {
    /// Guest id.
    pub vmid: u64,
    /// Guest name, when the server knows it.
    pub name: Option<String>,
    /// Node the guest is on.
    pub node: Option<String>,
    /// `lxc` or `qemu`.
    #[serde(rename = "type")]
    pub kind: GuestKind,
    /// `running`, `stopped`, ...
    pub status: Option<ResourceStatus>,
    /// CPU usage as a fraction of `maxcpu`, as the API reports it (0.05 = 5 %).
    pub cpu: Option<f64>,
    /// Number of CPUs.
    pub maxcpu: Option<f64>,
    /// Memory in use, bytes.
    pub mem: Option<u64>,
    /// Memory limit, bytes.
    pub maxmem: Option<u64>,
    /// Whether the guest is a template.
    pub template: bool,
    /// Cluster name.
    pub cluster: String,
    /// The guest's private IP addresses (from its interfaces when it runs, else its config).
    pub ips: Vec<String>,
}

/// Sorts nodes by cluster, then name.
pub fn sort_nodes(rows: &mut [NodeRow]) {
    rows.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
}

/// Sorts guests by vmid (then cluster, for several clusters with overlapping ids).
pub fn sort_guests(rows: &mut [GuestRow]) {
    rows.sort_by(|a, b| (a.vmid, &a.cluster).cmp(&(b.vmid, &b.cluster)));
}

/// Writes `rows` as a pretty JSON array followed by a newline.
///
/// # Errors
/// Any write error, such as a closed pipe.
pub fn write_json<T: Serialize>(out: &mut impl Write, rows: &[T]) -> io::Result<()> {
    // Encode first, then write: serde_json's writer would wrap a broken pipe in its own error
    // type and hide the io::ErrorKind that main looks for.
    let mut text = serde_json::to_vec_pretty(rows).map_err(io::Error::other)?;
    text.push(b'\n');
    out.write_all(&text)?;
    out.flush()
}

/// Writes one value as pretty JSON followed by a newline.
///
/// # Errors
/// Any write error, such as a closed pipe.
pub fn write_json_value<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    text.push(b'\n');
    out.write_all(&text)?;
    out.flush()
}

/// Writes one value as a single JSON line, flushed (for streams).
///
/// # Errors
/// Any write error, such as a closed pipe.
pub fn write_json_line<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let mut text = serde_json::to_vec(value).map_err(io::Error::other)?;
    text.push(b'\n');
    out.write_all(&text)?;
    out.flush()
}

/// Renders nodes in `format`.
///
/// # Errors
/// Any write error.
pub fn write_nodes(out: &mut impl Write, format: Format, rows: &[NodeRow]) -> io::Result<()> {
    match format {
        Format::Json => write_json(out, rows),
        Format::Table => {
            let body = rows.iter().map(|r| {
                vec![
                    r.name.clone(),
                    r.id.clone(),
                    r.ip.clone().unwrap_or_else(|| "-".into()),
                    if r.online { "yes" } else { "no" }.to_string(),
                    r.cluster.clone(),
                ]
            });
            let table = table(&["NAME", "ID", "IP", "ONLINE", "CLUSTER"], &[], body);
            write_table(out, &table)
        }
    }
}

/// Renders guests in `format`. The table gets a CLUSTER column when the guests come from more
/// than one cluster.
///
/// # Errors
/// Any write error.
pub fn write_guests(out: &mut impl Write, format: Format, rows: &[GuestRow]) -> io::Result<()> {
    match format {
        Format::Json => write_json(out, rows),
        Format::Table => {
            let several = rows
                .first()
                .is_some_and(|first| rows.iter().any(|r| r.cluster != first.cluster));
            let mut header = vec![
                "VMID", "NAME", "NODE", "TYPE", "STATUS", "CPU", "MEM", "IPS",
            ];
            if several {
                header.push("CLUSTER");
            }
            let body = rows.iter().map(|r| {
                let mut row = vec![
                    r.vmid.to_string(),
                    r.name.clone().unwrap_or_else(|| "-".into()),
                    r.node.clone().unwrap_or_else(|| "-".into()),
                    if r.template {
                        format!("{} (template)", r.kind)
                    } else {
                        r.kind.to_string()
                    },
                    r.status
                        .as_ref()
                        .map_or_else(|| "-".into(), ToString::to_string),
                    cpu_percent(r.cpu),
                    mem_usage(r.mem, r.maxmem),
                    if r.ips.is_empty() {
                        "-".into()
                    } else {
                        r.ips.join(",")
                    },
                ];
                if several {
                    row.push(r.cluster.clone());
                }
                row
            });
            let table = table(&header, &[0, 5, 6], body);
            write_table(out, &table)
        }
    }
}

/// A borderless table: columns separated by two spaces, no wrapping (pipes keep whole lines),
/// the columns in `right` right-aligned.
pub fn table(header: &[&str], right: &[usize], rows: impl Iterator<Item = Vec<String>>) -> Table {
    let mut t = Table::new();
    let align = |i: usize| {
        if right.contains(&i) {
            CellAlignment::Right
        } else {
            CellAlignment::Left
        }
    };
    let header_cells = header
        .iter()
        .enumerate()
        .map(|(i, h)| Cell::new(h).set_alignment(align(i)));
    t.load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(header_cells.collect::<Vec<_>>());
    for row in rows {
        t.add_row(row);
    }
    let last = header.len().saturating_sub(1);
    for i in 0..header.len() {
        if let Some(col) = t.column_mut(i) {
            col.set_padding((0, if i == last { 0 } else { 2 }));
            col.set_constraint(ColumnConstraint::ContentWidth);
            col.set_cell_alignment(align(i));
        }
    }
    t
}

/// Writes a [`table`] line by line, without trailing blanks.
///
/// # Errors
/// Any write error.
pub fn write_table(out: &mut impl Write, table: &Table) -> io::Result<()> {
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    out.flush()
}

/// `0.053` → `5.3%`; missing → `-`.
pub fn cpu_percent(cpu: Option<f64>) -> String {
    match cpu {
        Some(c) if c.is_finite() => format!("{:.1}%", c * 100.0),
        _ => "-".into(),
    }
}

/// `used/max` in IEC units, e.g. `512MiB/2GiB`; either side `-` when unknown.
pub fn mem_usage(mem: Option<u64>, maxmem: Option<u64>) -> String {
    match (mem, maxmem) {
        (None, None) => "-".into(),
        (m, x) => format!(
            "{}/{}",
            m.map_or_else(|| "-".into(), iec),
            x.map_or_else(|| "-".into(), iec)
        ),
    }
}

pub use pvekit_core::format::iec;

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(vmid: u64, cluster: &str) -> GuestRow {
        GuestRow {
            vmid,
            name: Some(format!("ct{vmid}")),
            node: Some("pve1".into()),
            kind: GuestKind::Lxc,
            status: Some(ResourceStatus::Running),
            cpu: Some(0.0523),
            maxcpu: Some(2.0),
            mem: Some(512 * 1024 * 1024),
            maxmem: Some(2 * 1024 * 1024 * 1024),
            template: false,
            cluster: cluster.into(),
            ips: vec!["10.0.0.5".into()],
        }
    }

    #[test]
    fn iec_units() {
        assert_eq!(iec(0), "0B");
        assert_eq!(iec(1023), "1023B");
        assert_eq!(iec(1024), "1KiB");
        assert_eq!(iec(1536), "1.5KiB");
        assert_eq!(iec(3 * 1024 * 1024 * 1024 / 2), "1.5GiB");
        assert_eq!(iec(1024 * 1024 - 1), "1MiB");
        assert_eq!(iec(u64::MAX), "16EiB");
    }

    #[test]
    fn cpu_and_mem_cells() {
        assert_eq!(cpu_percent(Some(0.0523)), "5.2%");
        assert_eq!(cpu_percent(None), "-");
        assert_eq!(cpu_percent(Some(f64::NAN)), "-");
        assert_eq!(mem_usage(Some(0), Some(1 << 30)), "0B/1GiB");
        assert_eq!(mem_usage(None, Some(1 << 30)), "-/1GiB");
        assert_eq!(mem_usage(None, None), "-");
    }

    #[test]
    fn guest_table_is_aligned_and_borderless() {
        let mut rows = vec![guest(101, "c"), guest(100, "c")];
        rows[1].name = Some("a-much-longer-name".into());
        sort_guests(&mut rows);
        let mut out = Vec::new();
        write_guests(&mut out, Format::Table, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("VMID  NAME"), "{text}");
        assert!(
            lines[0].ends_with("  CPU          MEM  IPS"),
            "right-aligned headers: {text}"
        );
        assert!(lines[1].starts_with(" 100  a-much-longer-name"), "{text}");
        assert!(lines[1].contains("5.2%") && lines[1].contains("512MiB/2GiB"));
        assert!(lines[1].ends_with("512MiB/2GiB  10.0.0.5"), "{text}");
        assert!(!text.contains('|') && !text.contains('─') && !text.contains('+'));
        assert!(!text.contains("CLUSTER"));
        // Columns line up: every line puts NODE's column at the same offset.
        let at = lines[0].find("NODE").unwrap();
        assert!(
            lines[1..].iter().all(|l| &l[at..at + 4] == "pve1"),
            "{text}"
        );
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn cluster_column_only_with_several_clusters() {
        let rows = vec![guest(100, "a"), guest(100, "b")];
        let mut out = Vec::new();
        write_guests(&mut out, Format::Table, &rows).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("CLUSTER"));
    }

    #[test]
    fn json_has_stable_keys() {
        let mut out = Vec::new();
        write_guests(&mut out, Format::Json, &[guest(100, "c")]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let obj = v[0].as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        for k in [
            "vmid", "name", "node", "type", "status", "cpu", "maxcpu", "mem", "maxmem", "template",
            "cluster", "ips",
        ] {
            assert!(keys.contains(&k), "{k} missing in {keys:?}");
        }
        let mut out = Vec::new();
        let nodes = [NodeRow {
            name: "pve1".into(),
            id: "node/pve1".into(),
            ip: None,
            online: true,
            cluster: "c".into(),
        }];
        write_nodes(&mut out, Format::Json, &nodes).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["ip"], serde_json::Value::Null);
        assert_eq!(v[0]["online"], true);
        let mut out = Vec::new();
        write_guests(&mut out, Format::Json, &[guest(100, "c")]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["ips"], serde_json::json!(["10.0.0.5"]));
    }

    #[test]
    fn empty_listings() {
        let mut out = Vec::new();
        write_guests(&mut out, Format::Table, &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap().trim(),
            "VMID  NAME  NODE  TYPE  STATUS  CPU  MEM  IPS"
        );
        let mut out = Vec::new();
        write_nodes(&mut out, Format::Json, &[]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().trim(), "[]");
    }

    #[test]
    fn nodes_sorted_by_cluster_then_name() {
        let n = |name: &str, cluster: &str| NodeRow {
            name: name.into(),
            id: format!("node/{name}"),
            ip: None,
            online: true,
            cluster: cluster.into(),
        };
        let mut rows = vec![n("b", "y"), n("a", "y"), n("z", "x")];
        sort_nodes(&mut rows);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["z", "a", "b"]);
    }
}
