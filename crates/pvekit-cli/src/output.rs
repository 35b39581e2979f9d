/*!
Rendering of listings: an aligned, borderless table for people, or a JSON array for scripts.

Rows are plain structs with `Serialize`; their field names are the JSON keys and are part of
the CLI's stable interface. Renderers write to any `io::Write`, so a closed pipe surfaces as an
`io::Error` (which `main` treats as success) instead of a panic.

Tables colour their status cells ([`status_tone`]) only when [`use_colors`] says so: a table
on a terminal, without `NO_COLOR` (<https://no-color.org>). JSON never has colours.
*/

use std::ffi::OsStr;
use std::io::{self, IsTerminal, Write};

use comfy_table::{
    Attribute, Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Table,
    presets::NOTHING,
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

/// Whether output in `format` gets colours: only tables, only on a terminal, and not when
/// `NO_COLOR` is set to a non-empty value (an empty `NO_COLOR` counts as unset, as the
/// convention says).
pub fn use_colors(format: Format, is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    format == Format::Table && is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// [`use_colors`] for what this process writes to stdout.
pub fn stdout_colors(format: Format) -> bool {
    use_colors(
        format,
        io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// How a status reads at a glance; its colour in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Up: `running`, `online` (green).
    Good,
    /// Down, as asked: `stopped` (dim).
    Quiet,
    /// Down, not as asked: an offline node (red).
    Bad,
    /// In between or not known: `paused`, `suspended`, `unknown`, ... (yellow).
    Warn,
    /// Not a status (`-`): no colour.
    Plain,
}

/// The [`Tone`] of a guest's or node's status as the server sends it (`yes`/`no` are the
/// ONLINE column of `pvekit nodes`).
pub fn status_tone(status: &str) -> Tone {
    match status {
        "running" | "online" | "yes" => Tone::Good,
        "stopped" => Tone::Quiet,
        "offline" | "no" => Tone::Bad,
        "" | "-" => Tone::Plain,
        _ => Tone::Warn,
    }
}

/// A table cell in `tone` (the colour shows only on a table that styles, see [`write_table`]).
pub fn tone_cell(text: String, tone: Tone) -> Cell {
    let cell = Cell::new(text);
    match tone {
        Tone::Good => cell.fg(Color::Green),
        Tone::Quiet => cell.add_attribute(Attribute::Dim),
        Tone::Bad => cell.fg(Color::Red),
        Tone::Warn => cell.fg(Color::Yellow),
        Tone::Plain => cell,
    }
}

/// Turns the colours of a table's cells on (or leaves them off, the default of [`table`]).
pub fn colorize(table: &mut Table, color: bool) {
    if color {
        // Colour the text only, not the padding: lines keep no styled trailing blanks.
        table.enforce_styling();
        table.style_text_only();
    }
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

/// Renders nodes in `format`, the ONLINE column in colour when `color` (see [`use_colors`]).
///
/// # Errors
/// Any write error.
pub fn write_nodes(
    out: &mut impl Write,
    format: Format,
    rows: &[NodeRow],
    color: bool,
) -> io::Result<()> {
    match format {
        Format::Json => write_json(out, rows),
        Format::Table => {
            let body = rows.iter().map(|r| {
                let online = if r.online { "yes" } else { "no" };
                vec![
                    Cell::new(&r.name),
                    Cell::new(&r.id),
                    Cell::new(r.ip.as_deref().unwrap_or("-")),
                    tone_cell(online.into(), status_tone(online)),
                    Cell::new(&r.cluster),
                ]
            });
            let mut table = table(&["NAME", "ID", "IP", "ONLINE", "CLUSTER"], &[], body);
            colorize(&mut table, color);
            write_table(out, &table)
        }
    }
}

/// Renders guests in `format`. The table gets a CLUSTER column when the guests come from more
/// than one cluster, and its STATUS column in colour when `color` (see [`use_colors`]).
///
/// # Errors
/// Any write error.
pub fn write_guests(
    out: &mut impl Write,
    format: Format,
    rows: &[GuestRow],
    color: bool,
) -> io::Result<()> {
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
                let status = r
                    .status
                    .as_ref()
                    .map_or_else(|| "-".into(), ToString::to_string);
                let tone = status_tone(&status);
                let mut row = vec![
                    Cell::new(r.vmid),
                    Cell::new(r.name.as_deref().unwrap_or("-")),
                    Cell::new(r.node.as_deref().unwrap_or("-")),
                    Cell::new(if r.template {
                        format!("{} (template)", r.kind)
                    } else {
                        r.kind.to_string()
                    }),
                    tone_cell(status, tone),
                    Cell::new(cpu_percent(r.cpu)),
                    Cell::new(mem_usage(r.mem, r.maxmem)),
                    Cell::new(if r.ips.is_empty() {
                        "-".into()
                    } else {
                        r.ips.join(",")
                    }),
                ];
                if several {
                    row.push(Cell::new(&r.cluster));
                }
                row
            });
            let mut table = table(&header, &[0, 5, 6], body);
            colorize(&mut table, color);
            write_table(out, &table)
        }
    }
}

/// A borderless table: columns separated by two spaces, no wrapping (pipes keep whole lines),
/// the columns in `right` right-aligned; cells are strings or [`Cell`]s, and uncoloured unless
/// [`colorize`]d.
pub fn table<C: Into<Cell>>(
    header: &[&str],
    right: &[usize],
    rows: impl Iterator<Item = Vec<C>>,
) -> Table {
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
        write_guests(&mut out, Format::Table, &rows, false).unwrap();
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
        write_guests(&mut out, Format::Table, &rows, false).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("CLUSTER"));
    }

    #[test]
    fn json_has_stable_keys() {
        let mut out = Vec::new();
        write_guests(&mut out, Format::Json, &[guest(100, "c")], false).unwrap();
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
        write_nodes(&mut out, Format::Json, &nodes, false).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["ip"], serde_json::Value::Null);
        assert_eq!(v[0]["online"], true);
        let mut out = Vec::new();
        write_guests(&mut out, Format::Json, &[guest(100, "c")], false).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["ips"], serde_json::json!(["10.0.0.5"]));
    }

    #[test]
    fn empty_listings() {
        let mut out = Vec::new();
        write_guests(&mut out, Format::Table, &[], false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap().trim(),
            "VMID  NAME  NODE  TYPE  STATUS  CPU  MEM  IPS"
        );
        let mut out = Vec::new();
        write_nodes(&mut out, Format::Json, &[], false).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().trim(), "[]");
    }

    #[test]
    fn colors_only_for_tables_on_a_terminal_without_no_color() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(use_colors(Format::Table, true, None));
        assert!(
            use_colors(Format::Table, true, empty),
            "empty NO_COLOR is unset"
        );
        assert!(!use_colors(Format::Table, true, set));
        assert!(!use_colors(Format::Table, true, Some(OsStr::new("0"))));
        assert!(!use_colors(Format::Table, false, None), "not a terminal");
        assert!(!use_colors(Format::Json, true, None), "JSON never");
    }

    #[test]
    fn status_tones() {
        assert_eq!(status_tone("running"), Tone::Good);
        assert_eq!(status_tone("yes"), Tone::Good);
        assert_eq!(status_tone("stopped"), Tone::Quiet);
        assert_eq!(status_tone("no"), Tone::Bad);
        assert_eq!(status_tone("unknown"), Tone::Warn);
        assert_eq!(status_tone("paused"), Tone::Warn);
        assert_eq!(status_tone("-"), Tone::Plain);
    }

    #[test]
    fn colored_table_styles_the_status_text_and_keeps_the_layout() {
        let mut rows = vec![guest(100, "c"), guest(101, "c"), guest(102, "c")];
        rows[1].status = Some(ResourceStatus::Stopped);
        rows[2].status = Some(ResourceStatus::Unknown);
        let mut plain = Vec::new();
        write_guests(&mut plain, Format::Table, &rows, false).unwrap();
        let plain = String::from_utf8(plain).unwrap();
        assert!(!plain.contains('\x1b'), "{plain:?}");
        let mut colored = Vec::new();
        write_guests(&mut colored, Format::Table, &rows, true).unwrap();
        let colored = String::from_utf8(colored).unwrap();
        let lines: Vec<&str> = colored.lines().collect();
        assert!(!lines[0].contains('\x1b'), "header uncoloured: {colored:?}");
        assert!(
            lines[1].contains("\x1b[38;5;10mrunning\x1b[39m"),
            "{colored:?}"
        );
        assert!(lines[2].contains("\x1b[2mstopped\x1b[0m"), "{colored:?}");
        assert!(
            lines[3].contains("\x1b[38;5;11munknown\x1b[39m"),
            "{colored:?}"
        );
        // Without the escapes, the same text: the colours do not shift the columns.
        assert_eq!(strip_ansi(&colored), plain);
        let mut json = Vec::new();
        write_guests(&mut json, Format::Json, &rows, true).unwrap();
        assert!(!json.contains(&0x1b));
        let nodes = [NodeRow {
            name: "pve1".into(),
            id: "node/pve1".into(),
            ip: None,
            online: false,
            cluster: "c".into(),
        }];
        let mut out = Vec::new();
        write_nodes(&mut out, Format::Table, &nodes, true).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("\x1b[38;5;9mno\x1b[39m"), "{out:?}");
    }

    /// Drops `ESC [ ... letter` sequences.
    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
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
