//! Typed, checked rules: what the engine evaluates. Built from the raw TOML types by
//! [`RulePack::from_toml_str`] (`load.rs`, `compile.rs`, `numbers.rs`), which reports every
//! problem at once with key path and line.

use super::config::RawSelector;
use super::error::{ConfigError, LoadError};
use super::pack_test::PackTest;
use crate::level::Level;
use crate::model::{Disinfectant, Metric, Site, SiteAttributes, SiteKind, WaterPoint};
use crate::provenance::NumberNote;

/// The built-in default pack (config/rules/default.toml), embedded at build time.
pub const DEFAULT_PACK_TOML: &str = include_str!("../../../config/rules/default.toml");

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
    pub(super) fn from_raw(raw: Option<&RawSelector>) -> Self {
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

/// One metric a stuck rule watches, and how long one value of it may last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuckWatch {
    pub metric: Metric,
    pub min_secs: i64,
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
    /// A watched metric at the same value to full precision for its watch's `min_secs`; other
    /// metrics are never checked (they may legitimately hold still at their resolution).
    Stuck {
        watch: Vec<StuckWatch>,
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
    /// Medical-waste rules M1-M7 (`waste/`).
    Waste(crate::waste::WasteRule),
    /// S1-S6: dental sterilizer checks (`crate::sterilization`).
    Sterilization(crate::sterilization::SterilCheck),
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
    /// The `[sterilization]` section: cycle-verdict parameters (none: no verdicts).
    pub sterilization: Option<crate::sterilization::SterilParams>,
    /// The `[risk]` section: the site risk index and the draw (defaults when absent).
    pub risk: crate::risk::RiskParams,
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
            sterilization: None,
            risk: crate::risk::RiskParams::default(),
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

    /// Index of the rule with this id.
    pub fn rule_index(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id == id)
    }
}
