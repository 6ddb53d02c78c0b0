//! Compiling a stuck-sensor rule's `[[rule.watch]]` lists (G2): which metrics are watched, and
//! how long one value of each may last before the sensor counts as frozen. Metrics that are not
//! listed are never checked: a stable source legitimately reads 15.0 °C all day.

use std::ops::Range;

use super::compiled::{Condition, StuckWatch};
use super::config::RawRule;
use super::error::Errors;
use super::numbers::mins;
use crate::provenance::NumberNote;

pub(super) fn condition(
    raw: &RawRule,
    path: &str,
    at: Option<Range<usize>>,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Condition {
    if raw.watch.is_empty() {
        errs.at(
            at,
            &format!("{path}.watch"),
            "kind Stuck needs at least one [[rule.watch]] with metrics = [...] and min_mins",
        );
    }
    let mut watch: Vec<StuckWatch> = Vec::new();
    for (j, w) in raw.watch.iter().enumerate() {
        let wp = format!("{path}.watch[{j}]");
        let raw_watch = w.get_ref();
        let min_path = format!("{wp}.min_mins");
        let secs = mins(&Some(raw_watch.min_mins.clone()), &min_path, errs, notes);
        if secs == Some(0) {
            errs.at(
                Some(raw_watch.min_mins.span()),
                &min_path,
                "must be above 0 (every value would be stuck)",
            );
        }
        let at_metrics = Some(raw_watch.metrics.span());
        let metrics_path = format!("{wp}.metrics");
        if raw_watch.metrics.get_ref().is_empty() {
            errs.at(
                at_metrics.clone(),
                &metrics_path,
                "list at least one metric",
            );
        }
        for &metric in raw_watch.metrics.get_ref() {
            if metric.is_state() {
                errs.at(
                    at_metrics.clone(),
                    &metrics_path,
                    format!("{metric} is a state metric: it legitimately holds still"),
                );
            } else if watch.iter().any(|x| x.metric == metric) {
                errs.at(
                    at_metrics.clone(),
                    &metrics_path,
                    format!("{metric} is watched twice; give each metric one window"),
                );
            } else if let Some(min_secs) = secs.filter(|s| *s > 0) {
                watch.push(StuckWatch { metric, min_secs });
            }
        }
    }
    Condition::Stuck { watch }
}
