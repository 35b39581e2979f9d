//! Parsers that never panic: everything the `pvekit` library reads from the network or the
//! user, fed with mutations of valid samples and arbitrary input (see [`props`]).
//!
//! proptest's default of 256 cases each (`PROPTEST_CASES` overrides it); `pvekit-bench fuzz`
//! runs the same properties 100,000 times each.
//!
//! Not covered: the HTTP status line of a wake's readiness probe is read inside the probe
//! itself (`wake::http_probe`, with `httparse`), which only a live guest's port reaches.

#[path = "parsers_never_panic/props.rs"]
mod props;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn guest_ips_from_configs_and_interfaces(input in props::ips_input()) {
        props::check_ips(&input)?;
    }

    #[test]
    fn targets(input in props::target_input()) {
        props::check_target(&input)?;
    }

    #[test]
    fn node_configs(input in props::node_config_input()) {
        props::check_node_config(&input)?;
    }

    #[test]
    fn config_validation(input in props::config_input()) {
        props::check_config(&input)?;
    }

    #[test]
    fn config_decoding(input in props::config_json_input()) {
        props::check_config_json(&input)?;
    }
}

/// The bench's list of parsers runs (a few cases each): every property above is in it.
#[test]
fn the_bench_runs_every_property() {
    struct Names(Vec<String>);
    impl props::Driver for Names {
        fn run<S: Strategy>(
            &mut self,
            name: &str,
            strategy: S,
            check: fn(&S::Value) -> props::Checked,
        ) where
            S::Value: std::fmt::Debug,
        {
            let mut runner = TestRunner::new(Config {
                cases: 8,
                failure_persistence: None,
                ..Config::default()
            });
            if let Err(e) = runner.run(&strategy, |v| check(&v)) {
                panic!("{name}: {e}");
            }
            self.0.push(name.to_string());
        }
    }
    let mut names = Names(Vec::new());
    props::all(&mut names);
    assert_eq!(names.0.len(), 5, "{:?}", names.0);
}

/// Inputs that once were or could be trouble.
#[test]
fn known_inputs() {
    for s in [
        "",
        "/",
        "//",
        "0",
        "00",
        "a/0",
        "a/b/c/d",
        "\u{a0}",
        "18446744073709551616",
    ] {
        props::check_target(&s.to_string()).unwrap();
        props::check_node_config(&(s.to_string(), None, Some(s.to_string()))).unwrap();
    }
    // A deeply nested route file is refused, not a stack overflow.
    let deep = "[".repeat(100_000);
    props::check_node_config(&(deep, None, None)).unwrap();
    let deep = "a:\n".to_string() + &" - ".repeat(20_000) + "x\n";
    props::check_node_config(&(deep, None, None)).unwrap();
}
