//! Typed, checked rules: what the engine evaluates. Built from the raw TOML types by
//! [`RulePack::from_toml_str`], which reports every problem at once with key path and line.

use serde::de::{Deserialize, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::config::{
    RawDefaults, RawEscalate, RawKind, RawLimit, RawMetricFrom, RawNum, RawPackMeta, RawRule,
    RawSelector, RawTest,
};
use super::error::{ConfigError, Errors, LoadError};
use crate::level::Level;
use crate::model::{Disinfectant, Metric, Site, SiteAttributes, SiteKind, WaterPoint};
use crate::pack_tests::PackTest;

/// The built-in default pack (config/rules/default.toml), embedded at build time.
pub const DEFAULT_PACK_TOML: &str = include_str!("../../../config/rules/default.toml");

/// How sure we are of a standard value (domain-reference.md section 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// `[S]`: read in a retrieved source.
    Sourced,
    /// `[R]`: to be verified; must stay configurable.
    ToVerify,
}

/// Where a number in the pack comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Provenance {
    /// A standard, with its clause.
    Std {
        clause: String,
        confidence: Confidence,
    },
    /// A product default of weijian.
    Default,
}

/// One number of the pack with its provenance, for documentation and `check-config` output.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberNote {
    pub path: String,
    pub value: f64,
    pub provenance: Provenance,
    pub note: Option<String>,
}

/// Site-attribute selector; every given field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    /// A site id: lets a pack override numbers for one site (put such cases first).
    pub site: Option<String>,
    pub point: Option<WaterPoint>,
    pub disinfectant: Option<Disinfectant>,
    pub small_supply: Option<bool>,
}

impl Selector {
    fn from_raw(raw: Option<&RawSelector>) -> Self {
        raw.map_or_else(Self::default, |r| Self {
            site: r.site.clone(),
            point: r.point,
            disinfectant: r.disinfectant,
            small_supply: r.small_supply,
        })
    }

    /// Whether `site` has all the attributes this selector asks for.
    pub fn matches(&self, site: &Site) -> bool {
        if let Some(id) = &self.site {
            if id.as_str() != &*site.id {
                return false;
            }
        }
        let water_fields =
            self.point.is_some() || self.disinfectant.is_some() || self.small_supply.is_some();
        match &site.attributes {
            SiteAttributes::Water(w) => {
                self.point.is_none_or(|p| p == w.point)
                    && self.disinfectant.is_none_or(|d| d == w.disinfectant)
                    && self.small_supply.is_none_or(|s| s == w.small_supply)
            }
            _ => !water_fields,
        }
    }
}

/// Which metric a threshold rule checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricSel {
    Fixed(Metric),
    /// The residual metric of the site's disinfectant.
    Disinfectant,
}

impl MetricSel {
    /// The metric at `site`, if the rule can apply there.
    pub fn resolve(self, site: &Site) -> Option<Metric> {
        match (self, &site.attributes) {
            (Self::Fixed(m), _) => Some(m),
            (Self::Disinfectant, SiteAttributes::Water(w)) => Some(w.disinfectant.metric()),
            (Self::Disinfectant, _) => None,
        }
    }
}

/// One case of limits with its clear levels (hysteresis).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitCase {
    pub when: Selector,
    /// Breach below this.
    pub low: Option<f64>,
    /// Breach above this.
    pub high: Option<f64>,
    /// Clear needs value >= this (set whenever `low` is).
    pub clear_low: Option<f64>,
    /// Clear needs value <= this (set whenever `high` is).
    pub clear_high: Option<f64>,
}

/// How much worse than the limit a value must be to escalate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Magnitude {
    Above(f64),
    Below(f64),
    /// Above `factor` times the case's `high` limit.
    Factor(f64),
}

/// Escalation by magnitude.
#[derive(Debug, Clone, PartialEq)]
pub struct MagnitudeEscalation {
    pub when: Selector,
    pub level: Level,
    pub magnitude: Magnitude,
}

/// A metric against site-selected limits, with pending duration and magnitude escalation.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: MetricSel,
    pub pending_secs: i64,
    pub limits: Vec<LimitCase>,
    pub magnitude: Vec<MagnitudeEscalation>,
}

/// The condition of a rule, one variant per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Threshold(Threshold),
    /// No data for max(`interval_factor` x expected interval, `min_secs`).
    Offline {
        interval_factor: f64,
        min_secs: i64,
    },
    /// Same value to full precision for `min_secs` (state metrics and `skip` excluded).
    Stuck {
        min_secs: i64,
        skip: Vec<Metric>,
    },
    SensorFault,
    Clock,
    /// Flags not N or maintenance not ended for more than `min_secs`.
    MonitorStatus {
        min_secs: i64,
    },
    /// All component rules (indices into the pack) firing at the same site.
    AllOf {
        rules: Vec<usize>,
    },
}

/// Durations for the sites a selector matches (per-site overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct DurationOverride {
    pub when: Selector,
    pub pending_secs: Option<i64>,
    pub clear_secs: Option<i64>,
}

/// A compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    /// Level when it fires.
    pub level: Level,
    pub site_kind: Option<SiteKind>,
    pub when: Selector,
    /// The clear condition must hold this long before the alert resolves.
    pub clear_secs: i64,
    /// Fraction of the limit by which clear levels sit inside the limits (0.1 = 10 %).
    pub clear_margin: f64,
    /// Escalation by persistence: (seconds since start, level), any order.
    pub escalate_after: Vec<(i64, Level)>,
    pub condition: Condition,
    /// Per-site durations; the first matching override wins.
    pub overrides: Vec<DurationOverride>,
    /// Every number of the rule with its provenance.
    pub numbers: Vec<NumberNote>,
    /// Line of the rule in the pack.
    pub line: usize,
}

impl Rule {
    /// The clear duration at `site` (per-site override or the rule's).
    pub fn clear_secs_at(&self, site: &Site) -> i64 {
        self.overrides
            .iter()
            .find(|o| o.when.matches(site))
            .and_then(|o| o.clear_secs)
            .unwrap_or(self.clear_secs)
    }

    /// The pending duration at `site` given the rule's own `base`.
    pub fn pending_secs_at(&self, site: &Site, base: i64) -> i64 {
        self.overrides
            .iter()
            .find(|o| o.when.matches(site))
            .and_then(|o| o.pending_secs)
            .unwrap_or(base)
    }

    /// Whether the rule applies to `site` at all (kind and selector).
    pub fn applies_to(&self, site: &Site) -> bool {
        self.site_kind.is_none_or(|k| k == site.attributes.kind()) && self.when.matches(site)
    }
}

/// A loaded rule pack: rules plus the tests that ship with them.
#[derive(Debug, Clone, PartialEq)]
pub struct RulePack {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    /// Where it was loaded from.
    pub origin: String,
    pub rules: Vec<Rule>,
    pub tests: Vec<PackTest>,
}

impl RulePack {
    /// A pack without rules (what a configuration falls back to when its pack is invalid, so
    /// validation can go on collecting errors).
    pub fn empty() -> RulePack {
        RulePack {
            name: "empty".into(),
            version: "0".into(),
            description: None,
            origin: "(none)".into(),
            rules: Vec::new(),
            tests: Vec::new(),
        }
    }

    /// The built-in default pack.
    ///
    /// # Errors
    /// Only if the embedded file is broken, which the crate's tests rule out.
    pub fn default_pack() -> Result<RulePack, Vec<ConfigError>> {
        Self::from_toml_str(DEFAULT_PACK_TOML, "config/rules/default.toml")
    }

    /// Reads, parses and compiles a pack file.
    ///
    /// # Errors
    /// [`LoadError::Io`] when the file cannot be read, [`LoadError::Invalid`] with every
    /// problem of the pack otherwise.
    pub fn from_path(path: &std::path::Path) -> Result<RulePack, LoadError> {
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: origin.clone(),
            source,
        })?;
        Self::from_toml_str(&src, &origin).map_err(LoadError::Invalid)
    }

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
                other => errs.at(
                    Some(key.span()),
                    other,
                    "unknown top-level key (expected pack, defaults, rule, tests)",
                ),
            }
        }
        if meta.is_none() {
            errs.at(None, "pack", "missing [pack] table (name, version)");
        }
        let (def_clear, def_margin) = match &defaults {
            Some(d) => {
                let mut notes = Vec::new();
                let c = num(
                    &d.get_ref().clear_mins,
                    "defaults.clear_mins",
                    &mut errs,
                    &mut notes,
                );
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
            if let Some(t) = crate::pack_tests::compile_test(raw, &path, span, &ids, &mut errs) {
                tests.push(t);
            }
        }
        match meta {
            Some(meta) if errs.list.is_empty() => Ok(RulePack {
                name: meta.name,
                version: meta.version,
                description: meta.description,
                origin: origin.to_owned(),
                rules,
                tests,
            }),
            _ => Err(errs.list),
        }
    }

    /// Index of the rule with this id.
    pub fn rule_index(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id == id)
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

#[derive(Debug, Clone)]
struct RuleDefaults {
    clear_mins: Option<f64>,
    clear_margin_pct: Option<f64>,
}

/// Checks a number's provenance and records it; `None` when absent or invalid.
fn num(
    raw: &Option<Spanned<RawNum>>,
    path: &str,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Option<f64> {
    let raw = raw.as_ref()?;
    let span = Some(raw.span());
    let n = raw.get_ref();
    let mut ok = true;
    if !n.value.is_finite() {
        errs.at(span.clone(), path, "value must be a finite number");
        ok = false;
    }
    let provenance = match (&n.std, n.default) {
        (Some(clause), None) => match n.conf.as_deref() {
            Some("S") => Some(Provenance::Std {
                clause: clause.clone(),
                confidence: Confidence::Sourced,
            }),
            Some("R") => Some(Provenance::Std {
                clause: clause.clone(),
                confidence: Confidence::ToVerify,
            }),
            _ => {
                errs.at(
                    span.clone(),
                    path,
                    "a standard value needs conf = \"S\" or \"R\" (domain-reference.md)",
                );
                None
            }
        },
        (None, Some(true)) => {
            if n.conf.is_some() {
                errs.at(
                    span.clone(),
                    path,
                    "conf is only for standard values (std = ...)",
                );
            }
            Some(Provenance::Default)
        }
        _ => {
            errs.at(
                span.clone(),
                path,
                "say where the number comes from: exactly one of std = \"<clause>\" (with conf) or default = true",
            );
            None
        }
    };
    let provenance = provenance?;
    notes.push(NumberNote {
        path: path.to_owned(),
        value: n.value,
        provenance,
        note: n.note.clone(),
    });
    ok.then_some(n.value)
}

/// A duration in minutes -> seconds, checked non-negative.
fn mins(
    raw: &Option<Spanned<RawNum>>,
    path: &str,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Option<i64> {
    let v = num(raw, path, errs, notes)?;
    if !(0.0..=525_600.0).contains(&v) {
        let span = raw.as_ref().map(Spanned::span);
        errs.at(
            span,
            path,
            "minutes must be between 0 and 525600 (one year)",
        );
        return None;
    }
    Some((v * 60.0).round() as i64)
}

fn forbid<T>(
    field: &Option<T>,
    name: &str,
    kind: RawKind,
    path: &str,
    line: Option<std::ops::Range<usize>>,
    errs: &mut Errors<'_>,
) {
    if field.is_some() {
        errs.at(
            line,
            &format!("{path}.{name}"),
            format!("not used by kind {kind:?}; remove it"),
        );
    }
}

fn compile_rule(
    raw: &RawRule,
    path: &str,
    span: &std::ops::Range<usize>,
    ids: &[String],
    defaults: &RuleDefaults,
    errs: &mut Errors<'_>,
) -> Option<Rule> {
    let before = errs.list.len();
    let kind = *raw.kind.get_ref();
    let at = Some(span.clone());
    let mut notes = Vec::new();
    let level = *raw.level.get_ref();
    if raw.id.get_ref().is_empty() {
        errs.at(
            Some(raw.id.span()),
            &format!("{path}.id"),
            "must not be empty",
        );
    }

    let clear_secs = match &raw.clear_mins {
        Some(_) => mins(
            &raw.clear_mins,
            &format!("{path}.clear_mins"),
            errs,
            &mut notes,
        ),
        None => defaults.clear_mins.map(|m| (m * 60.0).round() as i64),
    }
    .unwrap_or(0);
    let margin_pct = match &raw.clear_margin_pct {
        Some(_) => num(
            &raw.clear_margin_pct,
            &format!("{path}.clear_margin_pct"),
            errs,
            &mut notes,
        ),
        None => defaults.clear_margin_pct,
    }
    .unwrap_or(0.0);
    if !(0.0..100.0).contains(&margin_pct) {
        errs.at(
            at.clone(),
            &format!("{path}.clear_margin_pct"),
            "must be in 0..100",
        );
    }
    let clear_margin = margin_pct / 100.0;

    // Persistence escalations apply to every kind; magnitude ones only to thresholds.
    let mut escalate_after = Vec::new();
    let mut magnitude = Vec::new();
    for (j, e) in raw.escalate.iter().enumerate() {
        let ep = format!("{path}.escalate[{j}]");
        let esc: &RawEscalate = e.get_ref();
        let elevel = *esc.level.get_ref();
        if elevel <= level {
            errs.at(
                Some(esc.level.span()),
                &format!("{ep}.level"),
                format!("must be more severe than the rule level {level}"),
            );
        }
        let given = [
            esc.after_mins.is_some(),
            esc.above.is_some(),
            esc.below.is_some(),
            esc.factor.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            errs.at(
                Some(e.span()),
                &ep,
                "give exactly one of after_mins, above, below, factor",
            );
            continue;
        }
        if esc.after_mins.is_some() {
            if esc.when.is_some() {
                errs.at(
                    Some(e.span()),
                    &format!("{ep}.when"),
                    "only magnitude escalations can be selected by site",
                );
            }
            if let Some(s) = mins(
                &esc.after_mins,
                &format!("{ep}.after_mins"),
                errs,
                &mut notes,
            ) {
                escalate_after.push((s, elevel));
            }
            continue;
        }
        if kind != RawKind::Threshold {
            errs.at(
                Some(e.span()),
                &ep,
                "escalation by magnitude is only for kind threshold",
            );
            continue;
        }
        let m = if esc.above.is_some() {
            num(&esc.above, &format!("{ep}.above"), errs, &mut notes).map(Magnitude::Above)
        } else if esc.below.is_some() {
            num(&esc.below, &format!("{ep}.below"), errs, &mut notes).map(Magnitude::Below)
        } else {
            match num(&esc.factor, &format!("{ep}.factor"), errs, &mut notes) {
                Some(f) if f > 1.0 => Some(Magnitude::Factor(f)),
                Some(_) => {
                    errs.at(
                        Some(e.span()),
                        &format!("{ep}.factor"),
                        "must be greater than 1",
                    );
                    None
                }
                None => None,
            }
        };
        if let Some(m) = m {
            magnitude.push(MagnitudeEscalation {
                when: Selector::from_raw(esc.when.as_ref()),
                level: elevel,
                magnitude: m,
            });
        }
    }

    let mut overrides = Vec::new();
    for (j, o) in raw.site_override.iter().enumerate() {
        let op = format!("{path}.site_override[{j}]");
        let ov = o.get_ref();
        if ov.pending_mins.is_none() && ov.clear_mins.is_none() {
            errs.at(Some(o.span()), &op, "give pending_mins, clear_mins or both");
        }
        if ov.pending_mins.is_some() && kind != RawKind::Threshold {
            errs.at(
                Some(o.span()),
                &format!("{op}.pending_mins"),
                "only threshold rules have a pending duration",
            );
        }
        let pending_secs = mins(
            &ov.pending_mins,
            &format!("{op}.pending_mins"),
            errs,
            &mut notes,
        );
        let clear = mins(
            &ov.clear_mins,
            &format!("{op}.clear_mins"),
            errs,
            &mut notes,
        );
        overrides.push(DurationOverride {
            when: Selector::from_raw(Some(&ov.when)),
            pending_secs,
            clear_secs: clear,
        });
    }

    let sp = |f: &Option<Spanned<RawNum>>| f.as_ref().map(Spanned::span).or(at.clone());
    let condition = match kind {
        RawKind::Threshold => {
            forbid(
                &raw.interval_factor,
                "interval_factor",
                kind,
                path,
                sp(&raw.interval_factor),
                errs,
            );
            forbid(
                &raw.min_mins,
                "min_mins",
                kind,
                path,
                sp(&raw.min_mins),
                errs,
            );
            forbid(
                &raw.skip_metrics,
                "skip_metrics",
                kind,
                path,
                at.clone(),
                errs,
            );
            forbid(&raw.rules, "rules", kind, path, at.clone(), errs);
            let metric = match (&raw.metric, &raw.metric_from) {
                (Some(m), None) => Some(MetricSel::Fixed(*m.get_ref())),
                (None, Some(f)) => match f.get_ref() {
                    RawMetricFrom::Disinfectant => Some(MetricSel::Disinfectant),
                },
                _ => {
                    errs.at(
                        at.clone(),
                        path,
                        "a threshold rule needs exactly one of metric or metric_from",
                    );
                    None
                }
            };
            let pending_secs = if raw.pending_mins.is_some() {
                mins(
                    &raw.pending_mins,
                    &format!("{path}.pending_mins"),
                    errs,
                    &mut notes,
                )
                .unwrap_or(0)
            } else {
                0
            };
            if raw.limit.is_empty() {
                errs.at(
                    at.clone(),
                    &format!("{path}.limit"),
                    "a threshold rule needs at least one [[rule.limit]]",
                );
            }
            let mut limits = Vec::new();
            for (j, l) in raw.limit.iter().enumerate() {
                let lp = format!("{path}.limit[{j}]");
                if let Some(case) = compile_limit(l, &lp, clear_margin, errs, &mut notes) {
                    limits.push(case);
                }
            }
            if magnitude
                .iter()
                .any(|m| matches!(m.magnitude, Magnitude::Factor(_)))
                && limits.iter().any(|l| l.high.is_none())
            {
                errs.at(
                    at.clone(),
                    &format!("{path}.escalate"),
                    "factor needs a high limit in every limit case",
                );
            }
            Condition::Threshold(Threshold {
                metric: metric.unwrap_or(MetricSel::Fixed(Metric::Ph)),
                pending_secs,
                limits,
                magnitude,
            })
        }
        RawKind::AllOf => {
            forbid(&raw.metric, "metric", kind, path, at.clone(), errs);
            forbid(
                &raw.pending_mins,
                "pending_mins",
                kind,
                path,
                sp(&raw.pending_mins),
                errs,
            );
            forbid(
                &raw.min_mins,
                "min_mins",
                kind,
                path,
                sp(&raw.min_mins),
                errs,
            );
            let mut idx = Vec::new();
            match &raw.rules {
                Some(list) if list.get_ref().len() >= 2 => {
                    for id in list.get_ref() {
                        match ids.iter().position(|x| x == id) {
                            Some(_) if id == raw.id.get_ref() => errs.at(
                                Some(list.span()),
                                &format!("{path}.rules"),
                                "a rule cannot contain itself",
                            ),
                            Some(k) => idx.push(k),
                            None => errs.at(
                                Some(list.span()),
                                &format!("{path}.rules"),
                                format!("unknown rule id {id:?}"),
                            ),
                        }
                    }
                }
                _ => errs.at(
                    at.clone(),
                    &format!("{path}.rules"),
                    "all_of needs rules = [at least two rule ids]",
                ),
            }
            Condition::AllOf { rules: idx }
        }
        other => {
            forbid(&raw.metric, "metric", kind, path, at.clone(), errs);
            forbid(
                &raw.metric_from,
                "metric_from",
                kind,
                path,
                at.clone(),
                errs,
            );
            forbid(
                &raw.pending_mins,
                "pending_mins",
                kind,
                path,
                sp(&raw.pending_mins),
                errs,
            );
            forbid(&raw.rules, "rules", kind, path, at.clone(), errs);
            if !raw.limit.is_empty() {
                errs.at(
                    at.clone(),
                    &format!("{path}.limit"),
                    format!("not used by kind {other:?}; remove it"),
                );
            }
            if other != RawKind::Offline {
                forbid(
                    &raw.interval_factor,
                    "interval_factor",
                    kind,
                    path,
                    sp(&raw.interval_factor),
                    errs,
                );
            }
            if other != RawKind::Stuck {
                forbid(
                    &raw.skip_metrics,
                    "skip_metrics",
                    kind,
                    path,
                    at.clone(),
                    errs,
                );
            }
            let needs_min = matches!(
                other,
                RawKind::Offline | RawKind::Stuck | RawKind::MonitorStatus
            );
            if !needs_min {
                forbid(
                    &raw.min_mins,
                    "min_mins",
                    kind,
                    path,
                    sp(&raw.min_mins),
                    errs,
                );
            }
            let min_secs = if needs_min {
                if raw.min_mins.is_none() {
                    errs.at(
                        at.clone(),
                        &format!("{path}.min_mins"),
                        format!("kind {other:?} needs min_mins"),
                    );
                }
                mins(&raw.min_mins, &format!("{path}.min_mins"), errs, &mut notes).unwrap_or(0)
            } else {
                0
            };
            match other {
                RawKind::Offline => {
                    let f = num(
                        &raw.interval_factor,
                        &format!("{path}.interval_factor"),
                        errs,
                        &mut notes,
                    );
                    if raw.interval_factor.is_none() {
                        errs.at(
                            at.clone(),
                            &format!("{path}.interval_factor"),
                            "kind Offline needs interval_factor",
                        );
                    }
                    if f.is_some_and(|f| f <= 0.0) {
                        errs.at(
                            sp(&raw.interval_factor),
                            &format!("{path}.interval_factor"),
                            "must be positive",
                        );
                    }
                    Condition::Offline {
                        interval_factor: f.unwrap_or(1.0),
                        min_secs,
                    }
                }
                RawKind::Stuck => Condition::Stuck {
                    min_secs,
                    skip: raw.skip_metrics.clone().unwrap_or_default(),
                },
                RawKind::SensorFault => Condition::SensorFault,
                RawKind::Clock => Condition::Clock,
                _ => Condition::MonitorStatus { min_secs },
            }
        }
    };
    if errs.list.len() > before {
        return None;
    }
    Some(Rule {
        id: raw.id.get_ref().clone(),
        name_zh: raw.name_zh.clone(),
        name_en: raw.name_en.clone(),
        level,
        site_kind: raw.site_kind,
        when: Selector::from_raw(raw.when.as_ref()),
        clear_secs,
        clear_margin,
        escalate_after,
        condition,
        overrides,
        numbers: notes,
        line: errs.line_of(span.start),
    })
}

fn compile_limit(
    l: &Spanned<RawLimit>,
    lp: &str,
    margin: f64,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Option<LimitCase> {
    let raw = l.get_ref();
    let at = Some(l.span());
    let low = num(&raw.low, &format!("{lp}.low"), errs, notes);
    let high = num(&raw.high, &format!("{lp}.high"), errs, notes);
    if raw.low.is_none() && raw.high.is_none() {
        errs.at(at.clone(), lp, "a limit needs low, high or both");
        return None;
    }
    if let (Some(lo), Some(hi)) = (low, high) {
        if lo >= hi {
            errs.at(at.clone(), lp, "low must be below high");
        }
    }
    let mut clear_low = num(&raw.clear_low, &format!("{lp}.clear_low"), errs, notes);
    let mut clear_high = num(&raw.clear_high, &format!("{lp}.clear_high"), errs, notes);
    if raw.clear_low.is_some() && raw.low.is_none() {
        errs.at(
            at.clone(),
            &format!("{lp}.clear_low"),
            "clear_low needs low",
        );
    }
    if raw.clear_high.is_some() && raw.high.is_none() {
        errs.at(
            at.clone(),
            &format!("{lp}.clear_high"),
            "clear_high needs high",
        );
    }
    if let Some(lo) = low {
        let c = *clear_low.get_or_insert(lo + lo.abs() * margin);
        if c < lo {
            errs.at(
                at.clone(),
                &format!("{lp}.clear_low"),
                "must be at or above low (inside the limit)",
            );
        }
    }
    if let Some(hi) = high {
        let c = *clear_high.get_or_insert(hi - hi.abs() * margin);
        if c > hi {
            errs.at(
                at.clone(),
                &format!("{lp}.clear_high"),
                "must be at or below high (inside the limit)",
            );
        }
    }
    if let (Some(cl), Some(ch)) = (clear_low, clear_high) {
        if cl > ch {
            errs.at(
                at.clone(),
                lp,
                "the clear band is empty (clear_low above clear_high); set clear_low/clear_high",
            );
        }
    }
    Some(LimitCase {
        when: Selector::from_raw(raw.when.as_ref()),
        low,
        high,
        clear_low,
        clear_high,
    })
}
