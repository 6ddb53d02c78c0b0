//! Compiling the medical-waste rule kinds (M1-M7) into [`WasteRule`] conditions, with a check
//! that each kind gets exactly the keys it uses.
//!
//! - `waste_storage` (M1): `min_mins` (pre-warning age) and `[[rule.escalate]] after_mins`
//!   (ages at which the level rises; the level follows the age of the *current* oldest bag).
//! - `waste_reconcile` (M2): one `[[rule.limit]] high` (shortfall in %) and
//!   `[[rule.escalate]] above` (shortfall in % for a higher level).
//! - `waste_ledger` (M3): `pending_mins` (grace for a `bag_in` arriving after its handover).
//! - `waste_pickup` (M4), `waste_door` (M5), `waste_temperature` (M6),
//!   `waste_disinfection` (M7): `min_mins`.

use std::ops::Range;

use toml::Spanned;

use super::compiled::{Condition, Magnitude, MagnitudeEscalation};
use super::config::{RawKind, RawRule};
use super::error::Errors;
use super::numbers::{mins, num};
use crate::level::Level;
use crate::provenance::NumberNote;
use crate::waste::WasteRule;

/// Whether `kind` is one of the medical-waste kinds.
pub(super) const fn is_waste(kind: RawKind) -> bool {
    matches!(
        kind,
        RawKind::WasteStorage
            | RawKind::WasteReconcile
            | RawKind::WasteLedger
            | RawKind::WastePickup
            | RawKind::WasteDoor
            | RawKind::WasteTemperature
            | RawKind::WasteDisinfection
    )
}

/// The condition of a waste rule. Persistence escalations of M1 are taken out of
/// `escalate_after` (they are ages of the oldest bag, not durations of the alert), and M2's
/// magnitude escalations out of `magnitude`.
#[allow(clippy::too_many_arguments)]
pub(super) fn condition(
    raw: &RawRule,
    kind: RawKind,
    path: &str,
    at: Option<Range<usize>>,
    escalate_after: &mut Vec<(i64, Level)>,
    magnitude: &mut Vec<MagnitudeEscalation>,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Condition {
    let unused = |given: bool, key: &str, errs: &mut Errors<'_>| {
        if given {
            errs.at(
                at.clone(),
                &format!("{path}.{key}"),
                format!("not used by kind {kind:?}; remove it"),
            );
        }
    };
    unused(raw.metric.is_some(), "metric", errs);
    unused(raw.metric_from.is_some(), "metric_from", errs);
    unused(raw.rules.is_some(), "rules", errs);
    unused(raw.interval_factor.is_some(), "interval_factor", errs);
    unused(!raw.watch.is_empty(), "watch", errs);
    unused(
        kind != RawKind::WasteLedger && raw.pending_mins.is_some(),
        "pending_mins",
        errs,
    );
    unused(
        kind != RawKind::WasteReconcile && !raw.limit.is_empty(),
        "limit",
        errs,
    );
    let min_used = !matches!(kind, RawKind::WasteReconcile | RawKind::WasteLedger);
    unused(!min_used && raw.min_mins.is_some(), "min_mins", errs);
    let min_secs = if min_used {
        if raw.min_mins.is_none() {
            errs.at(
                at.clone(),
                &format!("{path}.min_mins"),
                format!("kind {kind:?} needs min_mins"),
            );
        }
        mins(&raw.min_mins, &format!("{path}.min_mins"), errs, notes).unwrap_or(0)
    } else {
        0
    };
    match kind {
        RawKind::WasteStorage => {
            let levels = std::mem::take(escalate_after);
            if levels.iter().any(|(s, _)| *s <= min_secs) {
                errs.at(
                    at.clone(),
                    &format!("{path}.escalate"),
                    "escalation ages must be above min_mins (the pre-warning age)",
                );
            }
            Condition::Waste(WasteRule::Storage {
                pre_secs: min_secs,
                levels,
            })
        }
        RawKind::WasteReconcile => {
            let mut limit_pct = 0.0;
            match raw.limit.as_slice() {
                [one] => {
                    let l = one.get_ref();
                    let lp = format!("{path}.limit[0]");
                    if l.low.is_some() || l.clear_low.is_some() || l.clear_high.is_some() {
                        errs.at(
                            Some(one.span()),
                            &lp,
                            "give only high (the shortfall in % of the intake weight)",
                        );
                    }
                    if l.when.is_some() {
                        errs.at(
                            Some(one.span()),
                            &format!("{lp}.when"),
                            "per-site cases are not supported for this kind",
                        );
                    }
                    match num(&l.high, &format!("{lp}.high"), errs, notes) {
                        Some(v) if (0.0..100.0).contains(&v) => limit_pct = v,
                        Some(_) => errs.at(
                            l.high.as_ref().map(Spanned::span),
                            &format!("{lp}.high"),
                            "must be a percentage in 0..100",
                        ),
                        None => errs.at(
                            Some(one.span()),
                            &format!("{lp}.high"),
                            "kind WasteReconcile needs high (the shortfall in %)",
                        ),
                    }
                }
                _ => errs.at(
                    at.clone(),
                    &format!("{path}.limit"),
                    "kind WasteReconcile needs exactly one [[rule.limit]] with high",
                ),
            }
            let mut escalate = Vec::new();
            for m in std::mem::take(magnitude) {
                match m.magnitude {
                    Magnitude::Above(x) if x > limit_pct && m.when == Default::default() => {
                        escalate.push((x, m.level))
                    }
                    _ => errs.at(
                        at.clone(),
                        &format!("{path}.escalate"),
                        "kind WasteReconcile escalates only with above = <shortfall % above the limit>, without when",
                    ),
                }
            }
            Condition::Waste(WasteRule::Reconcile {
                limit_pct,
                escalate,
            })
        }
        RawKind::WasteLedger => {
            if raw.pending_mins.is_none() {
                errs.at(
                    at.clone(),
                    &format!("{path}.pending_mins"),
                    "kind WasteLedger needs pending_mins (the grace for late bag_in events)",
                );
            }
            let grace_secs = mins(
                &raw.pending_mins,
                &format!("{path}.pending_mins"),
                errs,
                notes,
            )
            .unwrap_or(0);
            Condition::Waste(WasteRule::LedgerBreak { grace_secs })
        }
        RawKind::WastePickup => Condition::Waste(WasteRule::Pickup { max_secs: min_secs }),
        RawKind::WasteDoor => Condition::Waste(WasteRule::Door {
            max_open_secs: min_secs,
        }),
        RawKind::WasteTemperature => Condition::Waste(WasteRule::Temperature { min_secs }),
        _ => Condition::Waste(WasteRule::Disinfection { max_secs: min_secs }),
    }
}
