//! Parsers that never panic: everything `pvekit-core` reads from the network or the user, fed
//! with mutations of valid samples and arbitrary input (see [`props`]).
//!
//! proptest's default of 256 cases each (`PROPTEST_CASES` overrides it); `pvekit-bench fuzz`
//! runs the same properties 100,000 times each.

#[path = "parsers_never_panic/props.rs"]
mod props;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn property_strings(input in props::propstring_input()) {
        props::check_propstring(&input)?;
    }

    #[test]
    fn upids(input in props::upid_input()) {
        props::check_upid(&input)?;
    }

    #[test]
    fn auth_ids(input in props::auth_id_input()) {
        props::check_auth_id(&input)?;
    }

    #[test]
    fn tickets(input in props::ticket_input()) {
        props::check_ticket(&input)?;
    }

    #[test]
    fn fingerprints(input in props::fingerprint_input()) {
        props::check_fingerprint(&input)?;
    }

    #[test]
    fn command_args(input in props::command_args_input()) {
        props::check_command_args(&input)?;
    }

    #[test]
    fn framing(input in props::framing_input()) {
        props::check_framing(&input)?;
    }

    #[test]
    fn deframer_output_is_independent_of_chunking(input in props::deframer_input()) {
        props::check_deframer_chunking(&input)?;
    }

    #[test]
    fn deframer_cuts_out_exactly_the_output(input in props::exact_stream_input()) {
        props::check_deframer_exact(&input)?;
    }

    #[test]
    fn skipper_output_is_independent_of_chunking(input in props::deframer_input()) {
        props::check_skipper_chunking(&input)?;
    }

    #[test]
    fn json_values_into_every_response_type(input in props::json_value_input()) {
        props::check_json_value(&input)?;
    }

    #[test]
    fn json_bytes_into_every_response_type(input in props::json_bytes_input()) {
        props::check_json_bytes(&input)?;
    }

    #[test]
    fn data_items_read_any_chunking_as_from_slice(input in props::json_stream_input()) {
        props::check_json_stream(&input)?;
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
    assert_eq!(names.0.len(), 13, "{:?}", names.0);
}

/// Inputs that once were or could be trouble.
#[test]
fn known_inputs() {
    for s in [
        "",
        ":",
        "::",
        "UPID:",
        "UPID::::::::",
        "@",
        "!",
        "@!",
        "a@b!",
        "=",
        ",",
        "==,==",
    ] {
        props::check_upid(&s.to_string()).unwrap();
        props::check_auth_id(&(s.to_string(), s.to_string())).unwrap();
        props::check_ticket(&s.to_string()).unwrap();
        props::check_fingerprint(&s.to_string()).unwrap();
        props::check_propstring(&(s.to_string(), None)).unwrap();
        props::check_propstring(&(s.to_string(), Some("volume"))).unwrap();
    }
    // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
    let deep = "[".repeat(100_000);
    props::check_json_bytes(&deep.into_bytes()).unwrap();
    let deep = format!("{{\"data\":{}", "[".repeat(100_000));
    props::check_json_stream(&(deep.into_bytes(), vec![7, 100, 5000])).unwrap();
}
