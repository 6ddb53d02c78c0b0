//! Loading a pack: parsing the TOML document, deserializing its tables with their spans, and
//! compiling rules and shipped tests while collecting every error.

use serde::de::{Deserialize, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::compile::{compile_rule, RuleDefaults};
use super::compiled::RulePack;
use super::config::{RawDefaults, RawPackMeta, RawRule, RawSterilization, RawTest};
use super::error::{ConfigError, Errors};
use super::numbers::{mins, num};
use super::pack_test::compile_test;
use super::sterilization::compile as compile_sterilization;

impl RulePack {
    /// Parses and compiles a pack. `origin` names the source in error messages.
    ///
    /// # Errors
    /// Every problem found (syntax, unknown keys, types, provenance, cross-field checks), each
    /// with its key path and line. A TOML syntax error stops parsing and is reported alone.
    pub fn from_toml_str(src: &str, origin: &str) -> Result<RulePack, Vec<ConfigError>> {
        let mut errs = Errors::new(src, origin);
        let root = match DeTable::parse(src) {
            Ok(root) => root,
            Err(e) => {
                errs.toml(&e, "(document)", 0..0);
                return Err(errs.list);
            }
        };
        let mut meta: Option<RawPackMeta> = None;
        let mut defaults: Option<Spanned<RawDefaults>> = None;
        let mut raw_rules: Vec<(usize, RawRule, std::ops::Range<usize>)> = Vec::new();
        let mut raw_tests: Vec<(usize, RawTest, std::ops::Range<usize>)> = Vec::new();
        let mut sterilization = None;
        let mut risk = Some(crate::risk::RiskParams::default());
        for (key, value) in root.into_inner() {
            let span = value.span();
            match key.get_ref().as_ref() {
                "pack" => meta = de_one(value, "pack", &mut errs),
                "defaults" => {
                    defaults = de_one::<RawDefaults>(value, "defaults", &mut errs)
                        .map(|d| Spanned::new(span.clone(), d));
                }
                "rule" => {
                    for (i, item, sp) in array_items(value, "rule", &mut errs) {
                        if let Some(r) = de_one::<RawRule>(item, &format!("rule[{i}]"), &mut errs) {
                            raw_rules.push((i, r, sp));
                        }
                    }
                }
                "tests" => {
                    for (i, item, sp) in array_items(value, "tests", &mut errs) {
                        if let Some(t) = de_one::<RawTest>(item, &format!("tests[{i}]"), &mut errs)
                        {
                            raw_tests.push((i, t, sp));
                        }
                    }
                }
                "sterilization" => {
                    let raw: Option<RawSterilization> = de_one(value, "sterilization", &mut errs);
                    sterilization =
                        raw.and_then(|r| compile_sterilization(&r, span.clone(), &mut errs));
                }
                "risk" => {
                    let raw: Option<super::risk::RawRisk> =
                        de_one(value, "risk", &mut errs);
                    risk = raw.and_then(|r| super::risk::compile(&r, &mut errs));
                }
                other => errs.at(
                    Some(key.span()),
                    other,
                    "unknown top-level key (expected pack, defaults, rule, tests, sterilization, risk)",
                ),
            }
        }
        if meta.is_none() {
            errs.at(None, "pack", "missing [pack] table (name, version)");
        }
        let (def_clear, def_margin) = match &defaults {
            Some(d) => {
                let mut notes = Vec::new();
                // The same range as a rule's own clear_mins (the margin is checked per rule).
                let c = mins(
                    &d.get_ref().clear_mins,
                    "defaults.clear_mins",
                    &mut errs,
                    &mut notes,
                )
                // `mins` gives seconds; the defaults hold minutes.
                .map(|secs| secs as f64 / 60.0);
                let m = num(
                    &d.get_ref().clear_margin_pct,
                    "defaults.clear_margin_pct",
                    &mut errs,
                    &mut notes,
                );
                (c, m)
            }
            None => {
                errs.at(
                    None,
                    "defaults",
                    "missing [defaults] table (clear_mins, clear_margin_pct)",
                );
                (None, None)
            }
        };
        let ids: Vec<String> = raw_rules
            .iter()
            .map(|(_, r, _)| r.id.get_ref().clone())
            .collect();
        let mut rules = Vec::new();
        for (i, raw, span) in &raw_rules {
            let path = format!("rule[{i}] ({})", raw.id.get_ref());
            if ids.iter().filter(|id| *id == raw.id.get_ref()).count() > 1 {
                errs.at(
                    Some(raw.id.span()),
                    &format!("{path}.id"),
                    "duplicate rule id",
                );
            }
            let defaults = RuleDefaults {
                clear_mins: def_clear,
                clear_margin_pct: def_margin,
            };
            if let Some(rule) = compile_rule(raw, &path, span, &ids, &defaults, &mut errs) {
                rules.push(rule);
            }
        }
        let mut tests = Vec::new();
        for (i, raw, span) in raw_tests {
            let path = format!("tests[{i}] ({})", raw.name);
            if let Some(t) = compile_test(raw, &path, span, &ids, &mut errs) {
                tests.push(t);
            }
        }
        match meta {
            Some(meta) if errs.list.is_empty() => Ok(RulePack {
                risk: risk.unwrap_or_default(),
                name: meta.name,
                version: meta.version,
                description: meta.description,
                origin: origin.to_owned(),
                rules,
                tests,
                sterilization,
            }),
            _ => Err(errs.list),
        }
    }
}

/// Deserializes one spanned TOML value, recording the error if it does not fit.
fn de_one<'i, T: Deserialize<'i>>(
    value: Spanned<DeValue<'i>>,
    path: &str,
    errs: &mut Errors<'_>,
) -> Option<T> {
    let span = value.span();
    match T::deserialize(value.into_deserializer()) {
        Ok(v) => Some(v),
        Err(e) => {
            errs.toml(&e, path, span);
            None
        }
    }
}

type Item<'i> = (usize, Spanned<DeValue<'i>>, std::ops::Range<usize>);

/// The elements of an array of tables, each with its index and span.
fn array_items<'i>(
    value: Spanned<DeValue<'i>>,
    path: &str,
    errs: &mut Errors<'_>,
) -> Vec<Item<'i>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let sp = v.span();
                (i, v, sp)
            })
            .collect(),
        _ => {
            errs.at(
                Some(span),
                path,
                format!("expected an array of tables ([[{path}]])"),
            );
            Vec::new()
        }
    }
}
