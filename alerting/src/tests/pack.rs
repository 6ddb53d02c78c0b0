//! The default pack loads, and every test it ships passes.

use crate::{run_pack_tests, RulePack};

#[test]
fn the_default_pack_loads_and_its_own_tests_pass() {
    let pack = match RulePack::default_pack() {
        Ok(p) => p,
        Err(errs) => panic!(
            "{}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let failures = run_pack_tests(&pack);
    assert!(
        failures.is_empty(),
        "{}",
        failures
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_default_pack_ships_a_test_for_every_rule() {
    let pack = RulePack::default_pack().unwrap();
    for rule in ["G1", "G2", "G3", "G4", "W1", "W2", "W3", "W4", "W5", "W6"] {
        assert!(
            pack.tests
                .iter()
                .any(|t| t.expect.iter().any(|e| e.rule == rule)),
            "no test expects {rule}"
        );
    }
}

#[test]
fn a_wrong_expectation_in_a_pack_test_is_reported_with_what_happened() {
    let src = crate::DEFAULT_PACK_TOML.replace(
        "{ rule = \"W3\", level = \"III\", kind = \"firing\", at_min = 15 }",
        "{ rule = \"W3\", level = \"II\", kind = \"firing\", at_min = 15 }",
    );
    let pack = RulePack::from_toml_str(&src, "edited.toml").unwrap();
    let failures = run_pack_tests(&pack);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0].message,
        "expected W3 III pending at 0 min; W3 II firing at 15 min, \
         got W3 III pending at 0 min; W3 III firing at 15 min"
    );
    assert!(failures[0].test.starts_with("W3 "), "{}", failures[0]);
}
