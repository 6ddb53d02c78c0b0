//! The pack loader: strict, line-precise, every error at once; per-site overrides.

use super::*;
use crate::model::Metric::TurbidityNtu as Turb;

const HEAD: &str = r#"
[pack]
name = "t"
version = "1"

[defaults]
clear_mins = { value = 10, default = true }
clear_margin_pct = { value = 10, default = true }
"#;

fn load(body: &str) -> Result<RulePack, Vec<crate::ConfigError>> {
    RulePack::from_toml_str(&format!("{HEAD}{body}"), "t.toml")
}

fn errors(body: &str) -> Vec<String> {
    match load(body) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_unknown_key_in_a_rule_is_rejected_with_its_line() {
    let errs = errors(
        r#"
[[rule]]
id = "X1"
name_zh = "x"
name_en = "x"
kind = "clock"
level = "IV"
colour = "blue"
"#,
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("t.toml:16: rule[0]"), "{}", errs[0]);
    assert!(errs[0].contains("colour"), "{}", errs[0]);
}

#[test]
fn every_problem_is_reported_at_once_with_key_path_and_line() {
    let errs = errors(
        r#"
[[rule]]
id = "A"
name_zh = "a"
name_en = "a"
kind = "threshold"
metric = "turbidity_ntu"
level = "III"
pending_mins = { value = 5 }
[[rule.limit]]
high = { value = 1, std = "GB 5749-2022 Table 1" }
[[rule.escalate]]
level = "IV"
after_mins = { value = 60, default = true }

[[rule]]
id = "B"
name_zh = "b"
name_en = "b"
kind = "all_of"
rules = ["A", "Nope"]
level = "I"

[[rule]]
id = "C"
name_zh = "c"
name_en = "c"
kind = "offline"
level = "IV"
min_mins = { value = 15, default = true }
metric = "ph"
"#,
    );
    let joined = errs.join("\n");
    assert!(errs.len() >= 5, "{joined}");
    for (needle, line) in [
        (
            "rule[0] (A).pending_mins: say where the number comes from",
            17,
        ),
        ("rule[0] (A).limit[0].high: a standard value needs conf", 19),
        ("rule[0] (A).escalate[0].level: must be more severe", 21),
        ("rule[1] (B).rules: unknown rule id \"Nope\"", 29),
        (
            "rule[2] (C).interval_factor: kind Offline needs interval_factor",
            32,
        ),
        ("rule[2] (C).metric: not used by kind Offline", 32),
    ] {
        let hit = errs.iter().find(|e| e.contains(needle));
        let hit = hit.unwrap_or_else(|| panic!("missing {needle:?} in\n{joined}"));
        assert!(
            hit.starts_with(&format!("t.toml:{line}:")),
            "{hit} (expected line {line})"
        );
    }
}

#[test]
fn a_toml_syntax_error_is_reported_with_its_line() {
    let errs = errors("\n[[rule]]\nid = \"X\nname_zh = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("t.toml:11:"), "{}", errs[0]);
}

#[test]
fn a_clear_level_outside_the_limit_is_rejected() {
    let errs = errors(
        r#"
[[rule]]
id = "A"
name_zh = "a"
name_en = "a"
kind = "threshold"
metric = "ph"
level = "III"
[[rule.limit]]
high = { value = 8.5, std = "GB 5749-2022 Table 1", conf = "S" }
clear_high = { value = 9, default = true }
"#,
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("limit[0].clear_high: must be at or below high")),
        "{errs:?}"
    );
}

#[test]
fn the_default_pack_marks_every_number_as_standard_or_default() {
    use crate::provenance::{Confidence, Provenance};
    let pack = pack();
    let w1 = &pack.rules[pack.rule_index("W1").unwrap()];
    let limit = w1
        .numbers
        .iter()
        .find(|n| n.path.ends_with("limit[1].high"))
        .unwrap();
    assert_eq!(limit.value, 1.0);
    assert!(
        matches!(&limit.provenance, Provenance::Std { confidence: Confidence::Sourced, clause } if clause.contains("GB 5749-2022"))
    );
    let small = w1
        .numbers
        .iter()
        .find(|n| n.path.ends_with("limit[0].high"))
        .unwrap();
    assert!(matches!(
        small.provenance,
        Provenance::Std {
            confidence: Confidence::ToVerify,
            ..
        }
    ));
    let pending = w1
        .numbers
        .iter()
        .find(|n| n.path.ends_with("pending_mins"))
        .unwrap();
    assert_eq!(pending.provenance, Provenance::Default);
}

#[test]
fn a_limit_case_selected_by_site_id_overrides_the_default_for_that_site_only() {
    let src = crate::DEFAULT_PACK_TOML.replace(
        "[[rule.limit]]\nwhen = { small_supply = true }",
        "[[rule.limit]]\nwhen = { site = \"lenient\" }\nhigh = { value = 2, default = true, note = \"site override\" }\n[[rule.limit]]\nwhen = { small_supply = true }",
    );
    let pack = RulePack::from_toml_str(&src, "override.toml").unwrap();
    let sites = vec![
        water_site(
            "lenient",
            WaterPoint::Outlet,
            Disinfectant::FreeChlorine,
            false,
        ),
        water_site(
            "strict",
            WaterPoint::Outlet,
            Disinfectant::FreeChlorine,
            false,
        ),
    ];
    let mut e = Engine::new(
        pack,
        sites,
        vec![device("a", "lenient"), device("b", "strict")],
    );
    let mut events = Vec::new();
    for m in 0..=10 {
        events.extend(e.process(&reading("a", "lenient", f64::from(m), Turb, 1.5)));
        events.extend(e.process(&reading("b", "strict", f64::from(m), Turb, 1.5)));
    }
    assert!(events
        .iter()
        .filter(|e| e.rule == "W1")
        .all(|e| e.site == "strict"));
    assert_eq!(events.iter().filter(|e| e.rule == "W1").count(), 2);
}

#[test]
fn loading_a_missing_file_names_the_path() {
    let err = RulePack::from_path(std::path::Path::new("/nonexistent/rules.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/rules.toml"), "{err}");
}

#[test]
fn the_default_pack_file_on_disk_is_the_embedded_one() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/rules/default.toml");
    let from_disk = RulePack::from_path(&path).unwrap();
    assert_eq!(from_disk.rules, pack().rules);
}

#[test]
fn a_site_override_changes_durations_for_that_site_only() {
    let src = crate::DEFAULT_PACK_TOML.replace(
        "[[rule.limit]]\nwhen = { small_supply = true }",
        "[[rule.site_override]]\nwhen = { site = \"slow\" }\npending_mins = { value = 30, default = true, note = \"noisy old analyser\" }\nclear_mins = { value = 20, default = true }\n[[rule.limit]]\nwhen = { small_supply = true }",
    );
    let pack = RulePack::from_toml_str(&src, "override.toml").unwrap();
    let sites = vec![
        water_site(
            "slow",
            WaterPoint::Outlet,
            Disinfectant::FreeChlorine,
            false,
        ),
        water_site(
            "fast",
            WaterPoint::Outlet,
            Disinfectant::FreeChlorine,
            false,
        ),
    ];
    let mut e = Engine::new(pack, sites, vec![device("a", "slow"), device("b", "fast")]);
    let mut events = Vec::new();
    for m in 0..=60 {
        let v = if m <= 35 { 1.5 } else { 0.3 };
        events.extend(e.process(&reading("a", "slow", f64::from(m), Turb, v)));
        events.extend(e.process(&reading("b", "fast", f64::from(m), Turb, v)));
    }
    let of = |site: &str| -> Vec<(EventKind, f64)> {
        brief(
            &events
                .iter()
                .filter(|e| e.site == site && e.rule == "W1")
                .cloned()
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .map(|e| (e.2, e.3))
        .collect()
    };
    assert_eq!(
        of("slow"),
        vec![
            (EventKind::Pending, 0.0),
            (EventKind::Firing, 30.0),
            (EventKind::Resolved, 56.0)
        ]
    );
    assert_eq!(
        of("fast"),
        vec![
            (EventKind::Pending, 0.0),
            (EventKind::Firing, 5.0),
            (EventKind::Resolved, 46.0)
        ]
    );
}

#[test]
fn a_negative_default_clear_period_is_rejected_with_its_line() {
    let src = crate::DEFAULT_PACK_TOML.replace(
        "clear_mins = { value = 10, default = true, note = \"clear period\" }",
        "clear_mins = { value = -5, default = true, note = \"clear period\" }",
    );
    let errors = match RulePack::from_toml_str(&src, "t.toml") {
        Ok(_) => panic!("a negative clear period must be rejected"),
        Err(e) => e,
    };
    let line = src
        .lines()
        .position(|l| l.contains("value = -5"))
        .map(|i| i + 1);
    assert!(
        errors
            .iter()
            .any(|e| e.path == "defaults.clear_mins" && e.line == line),
        "{errors:?}"
    );
}
