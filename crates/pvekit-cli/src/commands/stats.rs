/*!
`pvekit stats`: one guest's stats line, or a live table of every guest.

- `stats T` prints the seed's line, `STATUS|CPU%|MEM USAGE/LIMIT|MEM%|NET I/O|BLOCK I/O`, once
  or (`--stream`) every interval until Ctrl-C.
- `stats` without a guest shows every guest like `docker stats`: on a terminal a table redrawn
  in place (ratatui on the alternate screen, `q`/Esc/Ctrl-C to quit; the terminal is restored
  on every exit path, panics included); otherwise one plain table (or one JSON line with
  `-o json`) per interval; `--once` prints one snapshot and exits. The figures come from one
  `GET /cluster/resources?type=vm` per cluster and refresh.
*/

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use pvekit::Client;
use pvekit::core::format::StatsFigures;
use pvekit::types::{ClusterResource, GuestKind, ResourceType};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::commands::{Context, distinct_clusters, interrupted, seconds, target};
use crate::output::{self, Format, Tone};
use crate::settings::usage;
use crate::target::{Target, resolve};

/// Flags of `pvekit stats`.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID. Without it: a live table of
    /// every guest.
    pub target: Option<String>,
    /// With a guest: print a new line every interval until Ctrl-C.
    #[arg(long)]
    pub stream: bool,
    /// Without a guest: print one snapshot of the table and exit.
    #[arg(long)]
    pub once: bool,
    /// Without a guest: only the running guests (templates left out), like `docker stats`
    /// without `-a`.
    #[arg(short, long)]
    pub running: bool,
    /// Seconds between refreshes.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub interval: f64,
}

/// The validated inputs of `pvekit stats`.
#[derive(Debug, PartialEq)]
enum Stats {
    /// `pvekit stats T [--stream]`.
    Guest {
        /// The guest.
        target: Target,
        /// Follow until Ctrl-C.
        stream: bool,
        /// Between lines.
        interval: Duration,
    },
    /// `pvekit stats` without a guest.
    Table {
        /// One snapshot, then exit.
        once: bool,
        /// Only running guests.
        running: bool,
        /// Between refreshes.
        interval: Duration,
    },
}

impl Args {
    fn validate(&self) -> Result<Stats> {
        let interval = seconds("--interval", self.interval)?;
        match &self.target {
            Some(t) => {
                if self.once || self.running {
                    return Err(usage(
                        "--once and --running belong to the table of every guest (`pvekit stats` without a guest)",
                    ));
                }
                Ok(Stats::Guest {
                    target: target(t)?,
                    stream: self.stream,
                    interval,
                })
            }
            None => {
                if self.stream {
                    return Err(usage(
                        "--stream needs a guest; `pvekit stats` without one is already live (--once for one snapshot)",
                    ));
                }
                Ok(Stats::Table {
                    once: self.once,
                    running: self.running,
                    interval,
                })
            }
        }
    }
}

/// `pvekit stats [T]`.
///
/// # Errors
/// Invalid flags (usage errors); connection, resolution or API errors; terminal and write
/// errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let stats = args.validate()?;
    ctx.on_clusters(async |clients| match stats {
        Stats::Guest {
            target,
            stream,
            interval,
        } => guest(clients, &target, stream, interval).await,
        Stats::Table {
            once,
            running,
            interval,
        } => table(clients, once, running, interval, ctx.output()).await,
    })
    .await
}

/// `pvekit stats T [--stream]`.
///
/// # Errors
/// Resolution or API errors; write errors.
async fn guest(
    clients: &[Client],
    target: &Target,
    stream: bool,
    interval: Duration,
) -> Result<()> {
    let r = resolve(clients, target).await?;
    let mut out = super::stdout();
    if !stream {
        writeln!(out, "{}", r.guest.stats_line().await?)?;
        out.flush()?;
        return Ok(());
    }
    let lines = r.guest.stats_stream(interval);
    tokio::pin!(lines);
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            s = &mut stop => return s,
            line = lines.next() => match line {
                Some(l) => {
                    writeln!(out, "{}", l?)?;
                    out.flush()?;
                }
                None => return Ok(()),
            },
        }
    }
}

/// One guest of the stats table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsRow {
    /// Guest id.
    pub vmid: u64,
    /// Name, when known.
    pub name: Option<String>,
    /// Node.
    pub node: Option<String>,
    /// `lxc` or `qemu`.
    #[serde(rename = "type")]
    pub kind: GuestKind,
    /// Status and counters, flattened into the row's JSON.
    #[serde(flatten)]
    pub figures: StatsFigures,
    /// Whether it is a template.
    pub template: bool,
    /// Cluster name.
    pub cluster: String,
}

impl StatsRow {
    fn from_resource(cluster: &str, r: &ClusterResource) -> Option<StatsRow> {
        Some(StatsRow {
            vmid: r.vmid?,
            name: r.name.as_deref().map(str::to_owned),
            node: r.node.as_deref().map(str::to_owned),
            kind: r.guest_kind()?,
            figures: StatsFigures::from_resource(r),
            template: r.template.unwrap_or(false),
            cluster: cluster.to_string(),
        })
    }

    /// The seed's line for this row.
    pub fn line(&self) -> String {
        self.figures.line()
    }
}

/// The header of the stats table (a CLUSTER column is added for several clusters).
const HEADER: [&str; 9] = [
    "VMID",
    "NAME",
    "NODE",
    "STATUS",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
];
/// Right-aligned columns.
const RIGHT: [usize; 6] = [0, 4, 5, 6, 7, 8];

/// The table's cells: the seed's line split into columns, so both show the same figures.
pub fn cells(rows: &[StatsRow]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let several = rows
        .first()
        .is_some_and(|f| rows.iter().any(|r| r.cluster != f.cluster));
    let mut header = HEADER.to_vec();
    if several {
        header.push("CLUSTER");
    }
    let body = rows
        .iter()
        .map(|r| {
            let line = r.line();
            let parts: Vec<&str> = line.split('|').collect();
            let part = |i: usize| parts.get(i).copied().unwrap_or("-").to_string();
            let mut row = vec![
                r.vmid.to_string(),
                r.name.clone().unwrap_or_else(|| "-".into()),
                r.node.clone().unwrap_or_else(|| "-".into()),
                if r.template {
                    "template".into()
                } else {
                    part(0)
                },
                part(1),
                part(2).replace('/', " / "),
                part(3),
                part(4).replace('/', " / "),
                part(5).replace('/', " / "),
            ];
            if several {
                row.push(r.cluster.clone());
            }
            row
        })
        .collect();
    (header, body)
}

/// The STATUS column of [`cells`].
const STATUS: usize = 3;

/// Writes one plain snapshot, its STATUS column in colour when `color`.
fn write_plain(
    out: &mut impl Write,
    rows: &[StatsRow],
    format: Format,
    color: bool,
) -> io::Result<()> {
    match format {
        Format::Json => output::write_json_line(out, &rows),
        Format::Table => {
            let (header, body) = cells(rows);
            let body = body.into_iter().map(|row| {
                row.into_iter()
                    .enumerate()
                    .map(|(i, c)| match i {
                        STATUS => {
                            let tone = output::status_tone(&c);
                            output::tone_cell(c, tone)
                        }
                        _ => comfy_table::Cell::new(c),
                    })
                    .collect::<Vec<_>>()
            });
            let mut table = output::table(&header, &RIGHT, body);
            output::colorize(&mut table, color);
            output::write_table(out, &table)
        }
    }
}

/// The live table's style for a status in `tone`.
fn tone_style(tone: Tone) -> Style {
    match tone {
        Tone::Good => Style::new().fg(Color::Green),
        Tone::Quiet => Style::new().add_modifier(Modifier::DIM),
        Tone::Bad => Style::new().fg(Color::Red),
        Tone::Warn => Style::new().fg(Color::Yellow),
        Tone::Plain => Style::new(),
    }
}

/// Every guest of every cluster (only running ones, templates left out, with `running`),
/// sorted by vmid.
async fn fetch(clients: &[Client], running: bool) -> Result<Vec<StatsRow>> {
    let clients = distinct_clusters(clients);
    let several = clients.len() > 1;
    let mut set = JoinSet::new();
    for (i, client) in clients.iter().enumerate() {
        let client = (*client).clone();
        set.spawn(async move { (i, client.cluster_resources(Some(ResourceType::Vm)).await) });
    }
    let mut rows = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, resources) = joined.map_err(|e| anyhow!("stats task failed: {e}"))?;
        let c = clients[i];
        let resources = resources.map_err(|e| {
            let e = anyhow::Error::new(e);
            if several {
                e.context(format!("cluster {} ({})", c.name(), c.url()))
            } else {
                e
            }
        })?;
        rows.extend(
            resources
                .iter()
                .filter_map(|r| StatsRow::from_resource(c.name(), r))
                .filter(|r| !running || (r.figures.status == "running" && !r.template)),
        );
    }
    rows.sort_by(|a, b| (a.vmid, &a.cluster).cmp(&(b.vmid, &b.cluster)));
    Ok(rows)
}

/// `pvekit stats` without a guest.
///
/// # Errors
/// A failed fetch (with `--once`, or in plain mode); terminal and write errors.
async fn table(
    clients: &[Client],
    once: bool,
    running: bool,
    interval: Duration,
    format: Format,
) -> Result<()> {
    if once {
        let rows = fetch(clients, running).await?;
        write_plain(
            &mut super::stdout(),
            &rows,
            format,
            output::stdout_colors(format),
        )?;
        return Ok(());
    }
    let live = format == Format::Table && io::stdout().is_terminal();
    if live {
        return live_table(clients, running, interval, output::stdout_colors(format)).await;
    }
    let stop = interrupted();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        tokio::select! {
            s = &mut stop => return s,
            _ = tick.tick() => {
                let rows = fetch(clients, running).await?;
                let mut out = super::stdout();
                if !first && format == Format::Table {
                    writeln!(out)?;
                }
                first = false;
                write_plain(&mut out, &rows, format, output::stdout_colors(format))?;
            }
        }
    }
}

/// What the live table shows.
#[derive(Debug, Default)]
pub struct View {
    /// The latest rows.
    pub rows: Vec<StatsRow>,
    /// When they were fetched (`HH:MM:SS` UTC), if ever.
    pub at: Option<String>,
    /// The latest refresh error; the rows are then older.
    pub error: Option<String>,
    /// The refresh interval.
    pub interval: Duration,
    /// Whether the STATUS column is coloured.
    pub color: bool,
}

/// Draws the view into a frame: a title line, the table, and an error line when the last
/// refresh failed.
pub fn render(frame: &mut ratatui::Frame<'_>, view: &View) {
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(
        Line::from(format!(
            "pvekit stats: {} guests, every {}s{} (q to quit)",
            view.rows.len(),
            view.interval.as_secs_f64(),
            view.at
                .as_ref()
                .map(|t| format!(", updated {t}"))
                .unwrap_or_default()
        ))
        .style(Style::new().add_modifier(Modifier::BOLD)),
        title,
    );
    let (header, body_cells) = cells(&view.rows);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &body_cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let align = |i: usize, text: String, width: usize| {
        if RIGHT.contains(&i) {
            format!("{text:>width$}")
        } else {
            text
        }
    };
    let header_row = Row::new(
        header
            .iter()
            .enumerate()
            .map(|(i, h)| align(i, (*h).to_string(), widths[i])),
    )
    .style(Style::new().add_modifier(Modifier::REVERSED));
    let rows = body_cells.into_iter().map(|row| {
        Row::new(row.into_iter().enumerate().map(|(i, c)| {
            let style = if view.color && i == STATUS {
                tone_style(output::status_tone(&c))
            } else {
                Style::new()
            };
            Cell::from(align(i, c, widths[i])).style(style)
        }))
    });
    let constraints = widths
        .iter()
        .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(u16::MAX)));
    frame.render_widget(
        Table::new(rows, constraints)
            .header(header_row)
            .column_spacing(2),
        body,
    );
    if let Some(e) = &view.error {
        frame.render_widget(
            Line::from(match &view.at {
                Some(at) => format!("refresh failed (showing the figures of {at} UTC): {e}"),
                None => format!("refresh failed: {e}"),
            })
            .style(Style::new().add_modifier(Modifier::BOLD)),
            status,
        );
    }
}

/// Whether the live table owns the terminal; the panic hook restores it only then.
static TUI_ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back: raw mode off, main screen, cursor shown. Idempotent.
fn restore_terminal() {
    if TUI_ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
    }
}

/// Owns the terminal while the live table runs; dropping it (also while unwinding) restores
/// the terminal.
struct TuiGuard;

impl TuiGuard {
    fn enter() -> Result<TuiGuard> {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // Restore first, so the panic message lands on the normal screen.
                restore_terminal();
                previous(info);
            }));
        });
        TUI_ACTIVE.store(true, Ordering::SeqCst);
        let guard = TuiGuard;
        terminal::enable_raw_mode()?;
        execute!(
            io::stdout(),
            terminal::EnterAlternateScreen,
            terminal::Clear(terminal::ClearType::All),
            cursor::Hide
        )?;
        Ok(guard)
    }
}

impl Drop for TuiGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

enum Input {
    Quit,
    Redraw,
}

/// Reads keys on a thread of its own (crossterm's reads block); q, Esc and Ctrl-C quit.
fn spawn_key_reader() -> tokio::sync::mpsc::Receiver<Input> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        loop {
            let sent = match event::read() {
                Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                    let quit = matches!(k.code, KeyCode::Char('q') | KeyCode::Esc)
                        || (k.code == KeyCode::Char('c')
                            && k.modifiers.contains(KeyModifiers::CONTROL));
                    if quit {
                        tx.blocking_send(Input::Quit)
                    } else {
                        Ok(())
                    }
                }
                Ok(Event::Resize(..)) => tx.blocking_send(Input::Redraw),
                Ok(_) => Ok(()),
                Err(_) => return,
            };
            if sent.is_err() {
                return;
            }
        }
    });
    rx
}

fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = secs % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s % 3600 / 60, s % 60)
}

async fn live_table(
    clients: &[Client],
    running: bool,
    interval: Duration,
    color: bool,
) -> Result<()> {
    let guard = TuiGuard::enter()?;
    let mut term = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(io::stdout()))?;
    let mut keys = spawn_key_reader();
    let stop = interrupted();
    tokio::pin!(stop);
    let mut view = View {
        interval,
        color,
        ..View::default()
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            s = &mut stop => break s,
            key = keys.recv() => match key {
                Some(Input::Quit) | None => break Ok(()),
                Some(Input::Redraw) => {}
            },
            _ = tick.tick() => match fetch(clients, running).await {
                Ok(rows) => {
                    view.rows = rows;
                    view.at = Some(clock());
                    view.error = None;
                }
                Err(e) => view.error = Some(format!("{e:#}")),
            },
        }
        if let Err(e) = term.draw(|f| render(f, &view)) {
            break Err(e.into());
        }
    };
    drop(term);
    drop(guard);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;

    fn row(vmid: u64, cluster: &str) -> StatsRow {
        StatsRow {
            vmid,
            name: Some(format!("ct{vmid}")),
            node: Some("pve1".into()),
            kind: GuestKind::Lxc,
            figures: StatsFigures {
                status: "running".into(),
                cpu: 0.311,
                mem: 268_435_456,
                maxmem: 1_073_741_824,
                netin: 123_456_789,
                netout: 98_765_432,
                diskread: 5_555_555,
                diskwrite: 4_444_444,
            },
            template: false,
            cluster: cluster.into(),
        }
    }

    #[test]
    fn cells_follow_the_seed_line() {
        let r = row(106, "lab");
        assert_eq!(
            r.line(),
            "running|31.1%|256MiB/1GiB|25.00%|117.7MiB/94.2MiB|5.3MiB/4.2MiB"
        );
        let (header, body) = cells(&[r]);
        assert_eq!(header.len(), 9);
        assert_eq!(
            body[0],
            [
                "106",
                "ct106",
                "pve1",
                "running",
                "31.1%",
                "256MiB / 1GiB",
                "25.00%",
                "117.7MiB / 94.2MiB",
                "5.3MiB / 4.2MiB"
            ]
        );
        let (header, _) = cells(&[row(1, "a"), row(1, "b")]);
        assert_eq!(header.last(), Some(&"CLUSTER"));
    }

    #[test]
    fn plain_snapshot_is_a_table() {
        let mut out = Vec::new();
        write_plain(&mut out, &[row(106, "lab")], Format::Table, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("VMID  NAME   NODE  STATUS"), "{text}");
        assert!(lines[1].contains("256MiB / 1GiB"), "{text}");
        let mut out = Vec::new();
        write_plain(&mut out, &[row(106, "lab")], Format::Json, true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["vmid"], 106);
        assert_eq!(v[0]["netin"], 123_456_789);
    }

    #[test]
    fn live_frame_renders_rows_and_errors() {
        let mut term = ratatui::Terminal::new(TestBackend::new(120, 6)).unwrap();
        let view = View {
            rows: vec![row(106, "lab"), row(107, "lab")],
            at: Some("12:00:00 UTC".into()),
            error: Some("cannot connect".into()),
            interval: Duration::from_secs(3),
            color: true,
        };
        term.draw(|f| render(f, &view)).unwrap();
        let buf = term.backend().buffer().clone();
        let text: Vec<String> = (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect();
        assert!(text[0].starts_with("pvekit stats: 2 guests, every 3s, updated 12:00:00 UTC"));
        assert!(
            text[1].contains("VMID") && text[1].contains("BLOCK I/O"),
            "{text:?}"
        );
        assert!(
            text[2].contains("ct106") && text[2].contains("31.1%"),
            "{text:?}"
        );
        assert!(text[3].contains("ct107"), "{text:?}");
        assert!(text[5].starts_with("refresh failed"), "{text:?}");
        // The status is green (with colours on), its neighbours plain.
        let at = u16::try_from(text[2].find("running").unwrap()).unwrap();
        assert_eq!(buf[(at, 2)].fg, Color::Green);
        assert_eq!(buf[(0, 2)].fg, Color::Reset);
    }

    fn stats_of(args: &[&str]) -> Result<Stats> {
        use crate::cli::{Cli, Command};
        use clap::Parser;
        let mut v = vec!["pvekit"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).unwrap().command {
            Command::Stats(a) => a.validate(),
            _ => panic!("not stats"),
        }
    }

    #[test]
    fn inputs() {
        assert!(matches!(
            stats_of(&["stats"]).unwrap(),
            Stats::Table { once: false, .. }
        ));
        assert!(matches!(
            stats_of(&["stats", "101", "--stream"]).unwrap(),
            Stats::Guest { stream: true, .. }
        ));
        for bad in [
            &["stats", "--stream"][..],
            &["stats", "101", "--once"],
            &["stats", "--interval", "0"],
        ] {
            let e = stats_of(bad).err().unwrap();
            assert!(
                e.downcast_ref::<crate::settings::UsageError>().is_some(),
                "{bad:?}: {e}"
            );
        }
    }
}
