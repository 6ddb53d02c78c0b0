//! Rule tests as data: the `[[tests]]` of a pack (a site, timed inputs, expected transitions)
//! and [`run_pack_tests`], which `weijian check-config` and CI run against every pack. The
//! tests are compiled with the pack (`rule/pack_test.rs`); this module runs them.

use std::fmt;

use crate::eval::Engine;
use crate::model::Timestamp;
use crate::rule::RulePack;

pub use crate::rule::pack_test::{Expected, PackTest, TEST_BASE, TEST_DEVICE, TEST_SITE};

/// A pack test that did not produce what it expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    pub test: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "test {:?} (line {}): {}",
            self.test, self.line, self.message
        )
    }
}

/// Runs every test shipped with `pack`; an empty result means all passed.
pub fn run_pack_tests(pack: &RulePack) -> Vec<TestFailure> {
    pack.tests.iter().filter_map(|t| run_one(pack, t)).collect()
}

fn run_one(pack: &RulePack, t: &PackTest) -> Option<TestFailure> {
    let mut engine = Engine::new(pack.clone(), vec![t.site.clone()], vec![t.device.clone()]);
    let mut got = Vec::new();
    for input in &t.inputs {
        for e in engine.process(input) {
            if t.rules.as_ref().is_none_or(|r| r.contains(&e.rule)) {
                got.push(Expected {
                    rule: e.rule,
                    level: e.level,
                    kind: e.kind,
                    at_min: (e.ts.0 - TEST_BASE.0) as f64 / Timestamp::MICROS_PER_MIN as f64,
                });
            }
        }
    }
    let same = got.len() == t.expect.len()
        && got.iter().zip(&t.expect).all(|(g, x)| {
            g.rule == x.rule
                && g.level == x.level
                && g.kind == x.kind
                && (g.at_min - x.at_min).abs() < 1e-6
        });
    if t.no_alerts && got.is_empty() || !t.no_alerts && same {
        return None;
    }
    let list = |v: &[Expected]| {
        if v.is_empty() {
            "(none)".to_owned()
        } else {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    Some(TestFailure {
        test: t.name.clone(),
        line: t.line,
        message: format!("expected {}, got {}", list(&t.expect), list(&got)),
    })
}
