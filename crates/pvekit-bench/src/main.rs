//! `pvekit-bench`: benchmarks against the simulator, printed as one JSON object per line:
//! `{"bench": ..., "metric": ..., "value": <number>, "unit": ..., "bound": <number>}`
//! (`bound` only where a lower bound exists; `goal` instead where the figure has a target, such
//! as the library's time next to the raw client's).
//!
//! The simulator runs in a child process (this binary with the hidden `serve-sim` command), so
//! the memory figures count the client alone.

mod alloc;
mod chaos;
mod fuzz;
mod inventory;
mod lookup;
mod procfs;
mod raw_inventory;
mod serve;
mod steady;
mod terminal;
mod wake;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "pvekit-bench",
    about = "pvekit benchmarks against the simulator (JSON lines on stdout)"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cold inventory refresh time, steady-state requests per poll, memory per guest.
    Inventory(inventory::Args),
    /// Steady state at 10,000 guests: requests per poll over several sweep and TTL periods,
    /// CPU and resident memory of the watching process.
    Steady(steady::Args),
    /// Reverse lookup time at 100 and at N guests.
    Lookup(lookup::Args),
    /// `exec -- true`: time to the command running and to its exit status, next to a raw
    /// protocol client.
    Exec(terminal::ExecArgs),
    /// Lines per second through a followed journal.
    Journal(terminal::JournalArgs),
    /// Wake on demand: the time pvekit adds to a container's own start and boot.
    Wake(wake::Args),
    /// The library under a random fault schedule: outcomes, panics, hangs, recovery, leaks.
    Chaos(chaos::Args),
    /// Parsers that never panic: every parser's properties, 100,000 cases each by default.
    Fuzz(fuzz::Args),
    /// `pvekit serve` under many subscribers: upstream requests per second with 1 and N
    /// stats subscribers, the delay from a change to N event subscribers, the server's CPU
    /// and memory.
    Serve(serve::Args),
    /// Runs `pvekit serve` over a simulator (used by the serve benchmark).
    #[command(hide = true)]
    ServeServer(serve::ServerArgs),
    /// Runs a simulator and prints its JSON line (used by the other benchmarks).
    #[command(hide = true)]
    ServeSim(inventory::SimArgs),
}

/// One figure.
#[derive(Serialize)]
pub struct Figure<'a> {
    /// Benchmark name.
    pub bench: &'a str,
    /// What was measured.
    pub metric: &'a str,
    /// The measurement.
    pub value: f64,
    /// Its unit.
    pub unit: &'a str,
    /// The lower bound the setup allows, where one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    /// The target the figure should meet, where one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<f64>,
}

/// Prints one figure as a JSON line.
pub fn emit(bench: &str, metric: &str, value: f64, unit: &str, bound: Option<f64>) {
    let line = serde_json::to_string(&Figure {
        bench,
        metric,
        value,
        unit,
        bound,
        goal: None,
    })
    .unwrap_or_default();
    println!("{line}");
}

/// Prints one figure with its goal as a JSON line.
pub fn emit_goal(bench: &str, metric: &str, value: f64, unit: &str, goal: f64) {
    let line = serde_json::to_string(&Figure {
        bench,
        metric,
        value,
        unit,
        bound: None,
        goal: Some(goal),
    })
    .unwrap_or_default();
    println!("{line}");
}

/// The median of some samples (0 when there are none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> ExitCode {
    let args = Args::parse();
    // `steady` measures a watching process as `pvekit watch` runs it: on one thread.
    let runtime = match args.command {
        Command::Steady(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(args.command)),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the Tokio runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pvekit-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Inventory(a) => inventory::run(a).await,
        Command::Steady(a) => steady::run(a).await,
        Command::Serve(a) => serve::run(a).await,
        Command::ServeServer(a) => serve::serve_server(a).await,
        Command::Lookup(a) => lookup::run(a),
        Command::Exec(a) => terminal::exec(a).await,
        Command::Journal(a) => terminal::journal(a).await,
        Command::Wake(a) => wake::run(a).await,
        Command::Fuzz(a) => fuzz::run(a),
        Command::Chaos(a) => chaos::run(a).await,
        Command::ServeSim(a) => inventory::serve_sim(a).await,
    }
}
