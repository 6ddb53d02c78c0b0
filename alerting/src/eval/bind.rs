//! Binding a rule pack to one site: which rules apply there, by kind, with limits, pending and
//! clear durations resolved from the site's attributes.

use crate::level::Level;
use crate::model::{Device, Metric, Site};
use crate::rule::{Condition, LimitCase, Magnitude, Rule};

/// A threshold rule bound to one site: metric and limits resolved from the site's attributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoundThreshold {
    pub rule: usize,
    pub metric: Metric,
    pub pending_secs: i64,
    pub limit: LimitCase,
    pub magnitude: Vec<(Level, Magnitude)>,
}

/// The rules that apply at one site, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SiteRules {
    /// Sorted by metric (stably: a metric's thresholds keep the pack's order), so a reading
    /// finds its metric's by a binary search.
    pub thresholds: Vec<BoundThreshold>,
    pub offline: Vec<(usize, f64, i64)>,
    pub stuck: Vec<usize>,
    pub sensor_fault: Vec<usize>,
    pub clock: Vec<usize>,
    pub status: Vec<(usize, i64)>,
    pub all_of: Vec<usize>,
    /// Medical-waste rules (M1-M7), evaluated in `waste.rs`.
    pub waste: Vec<usize>,
    /// S1-S6 (dental sterilizer) rules with their check.
    pub sterilization: Vec<(usize, crate::sterilization::SterilCheck)>,
    /// Clear duration (seconds) of every rule at this site, by rule index.
    pub clear_secs: Vec<i64>,
}

/// Binds the pack to one site: which rules apply, with limits resolved.
pub(super) fn bind(rules: &[Rule], site: &Site) -> SiteRules {
    let mut b = SiteRules {
        clear_secs: rules.iter().map(|r| r.clear_secs_at(site)).collect(),
        ..SiteRules::default()
    };
    for (i, rule) in rules.iter().enumerate() {
        if !rule.applies_to(site) {
            continue;
        }
        match &rule.condition {
            Condition::Threshold(t) => {
                let Some(metric) = t.metric.resolve(site) else {
                    continue;
                };
                let Some(limit) = t.limits.iter().find(|l| l.when.matches(site)) else {
                    continue;
                };
                let magnitude = t
                    .magnitude
                    .iter()
                    .filter(|m| m.when.matches(site))
                    .map(|m| (m.level, m.magnitude))
                    .collect();
                b.thresholds.push(BoundThreshold {
                    rule: i,
                    metric,
                    pending_secs: rule.pending_secs_at(site, t.pending_secs),
                    limit: limit.clone(),
                    magnitude,
                });
            }
            Condition::Offline {
                interval_factor,
                min_secs,
            } => b.offline.push((i, *interval_factor, *min_secs)),
            Condition::Stuck { .. } => b.stuck.push(i),
            Condition::SensorFault => b.sensor_fault.push(i),
            Condition::Clock => b.clock.push(i),
            Condition::MonitorStatus { min_secs } => b.status.push((i, *min_secs)),
            Condition::AllOf { .. } => b.all_of.push(i),
            Condition::Waste(_) => b.waste.push(i),
            Condition::Sterilization(c) => b.sterilization.push((i, *c)),
        }
    }
    b.thresholds.sort_by_key(|t| t.metric);
    b
}

impl SiteRules {
    /// The thresholds bound to `metric`, in the pack's order.
    pub(super) fn thresholds_of(&self, metric: Metric) -> &[BoundThreshold] {
        let start = self.thresholds.partition_point(|t| t.metric < metric);
        let len = self.thresholds[start..].partition_point(|t| t.metric == metric);
        &self.thresholds[start..start + len]
    }
}

/// G1 timeout in seconds: max(factor x expected interval, minimum).
pub(crate) fn offline_timeout(factor: f64, min_secs: i64, device: &Device) -> i64 {
    let by_interval = (factor * f64::from(device.expected_interval_secs)).round() as i64;
    by_interval.max(min_secs)
}

pub(super) fn pending_of(rules: &SiteRules, rule: usize) -> i64 {
    rules
        .thresholds
        .iter()
        .find(|b| b.rule == rule)
        .map_or(0, |b| b.pending_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Disinfectant, WaterPoint};
    use crate::tests::{pack, water_site};

    /// A reading meets the thresholds of its metric in the pack's order, whatever the
    /// binding's order across metrics.
    #[test]
    fn a_metric_finds_its_thresholds_in_pack_order() {
        let rules = pack().rules;
        let site = water_site("s1", WaterPoint::Outlet, Disinfectant::FreeChlorine, false);
        let bound = bind(&rules, &site);
        let mut metrics: Vec<Metric> = bound.thresholds.iter().map(|t| t.metric).collect();
        metrics.dedup();
        assert!(metrics.len() > 1, "the default pack binds several metrics");
        for metric in metrics {
            let in_pack_order: Vec<usize> = rules
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    matches!(&r.condition, Condition::Threshold(t) if t.metric.resolve(&site) == Some(metric))
                        && r.applies_to(&site)
                })
                .map(|(i, _)| i)
                .collect();
            let found: Vec<usize> = bound.thresholds_of(metric).iter().map(|t| t.rule).collect();
            assert_eq!(found, in_pack_order, "{metric}");
        }
    }
}
