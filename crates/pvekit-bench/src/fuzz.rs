//! `pvekit-bench fuzz`: the parsers-never-panic properties of the integration tests
//! (`crates/pvekit-core/tests/parsers_never_panic`, `crates/pvekit/tests/parsers_never_panic`,
//! included here by path so both run the very same inputs and checks), at bench scale:
//! 100,000 cases per parser by default.
//!
//! Per parser it prints the cases run, the panics (goal 0), the cases whose property failed
//! (goal 0) and the cases per second (input generation included). The first panic or failure
//! of each parser goes to stderr with its input. It exits 1 when any case panicked or failed.

#[path = "../../pvekit-core/tests/parsers_never_panic/props.rs"]
mod core_props;
#[path = "../../pvekit/tests/parsers_never_panic/props.rs"]
mod lib_props;

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::{emit, emit_goal};

/// Options of the fuzz run.
#[derive(clap::Args)]
pub struct Args {
    /// Cases per parser.
    #[arg(long, default_value_t = 100_000)]
    cases: u64,
    /// Only the parsers whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

struct Fuzz {
    cases: u64,
    only: Option<String>,
    problems: u64,
}

impl Fuzz {
    fn drive<S: Strategy>(
        &mut self,
        name: &str,
        strategy: S,
        check: fn(&S::Value) -> Result<(), TestCaseError>,
    ) where
        S::Value: Debug,
    {
        if self.only.as_deref().is_some_and(|o| !name.contains(o)) {
            return;
        }
        let mut runner = TestRunner::new(Config {
            failure_persistence: None,
            ..Config::default()
        });
        let (mut run, mut panics, mut failures, mut rejected) = (0u64, 0u64, 0u64, 0u64);
        let mut first: Option<String> = None;
        let started = Instant::now();
        for _ in 0..self.cases {
            let Ok(tree) = strategy.new_tree(&mut runner) else {
                rejected += 1;
                continue;
            };
            let value = tree.current();
            run += 1;
            let problem = match catch_unwind(AssertUnwindSafe(|| check(&value))) {
                Ok(Ok(())) => None,
                Ok(Err(TestCaseError::Reject(_))) => {
                    rejected += 1;
                    None
                }
                Ok(Err(TestCaseError::Fail(reason))) => {
                    failures += 1;
                    Some(format!("property failed: {reason}"))
                }
                Err(payload) => {
                    panics += 1;
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Some(format!("panic: {message}"))
                }
            };
            if let (Some(p), None) = (problem, &first) {
                let mut input = format!("{value:?}");
                input.truncate(2000);
                first = Some(format!("{p}\n  input: {input}"));
            }
        }
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let bench = format!("fuzz_{name}");
        emit(&bench, "cases", run as f64, "cases", None);
        emit_goal(&bench, "panics", panics as f64, "cases", 0.0);
        emit_goal(&bench, "property_failures", failures as f64, "cases", 0.0);
        emit(&bench, "rejected", rejected as f64, "cases", None);
        emit(&bench, "throughput", run as f64 / secs, "cases/s", None);
        if let Some(first) = first {
            eprintln!("pvekit-bench fuzz: {name}: {first}");
        }
        self.problems += panics + failures;
    }
}

impl core_props::Driver for Fuzz {
    fn run<S: Strategy>(
        &mut self,
        name: &str,
        strategy: S,
        check: fn(&S::Value) -> core_props::Checked,
    ) where
        S::Value: Debug,
    {
        self.drive(name, strategy, check);
    }
}

impl lib_props::Driver for Fuzz {
    fn run<S: Strategy>(
        &mut self,
        name: &str,
        strategy: S,
        check: fn(&S::Value) -> lib_props::Checked,
    ) where
        S::Value: Debug,
    {
        self.drive(name, strategy, check);
    }
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let mut fuzz = Fuzz {
        cases: a.cases,
        only: a.only,
        problems: 0,
    };
    // Panics are counted and the first one per parser reported, not printed as they happen.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    core_props::all(&mut fuzz);
    lib_props::all(&mut fuzz);
    std::panic::set_hook(hook);
    if fuzz.problems > 0 {
        anyhow::bail!("{} cases panicked or failed their property", fuzz.problems);
    }
    Ok(())
}
