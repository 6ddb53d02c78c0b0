//! The alert-day ledger: for each alert that fired, the China Standard Time days it was open
//! and its worst level on each.
//!
//! Fed one alert event at a time ([`AlertDayLedger::record`]), from the rule engine as the
//! drain sees its events or from rows of the `alerts` table; redelivered or replayed events
//! change nothing. Serializable, so the service saves it with the engine's snapshot and the
//! index needs no database. [`AlertDayLedger::prune`] forgets alerts that closed before any
//! window could see them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cst_day;
use crate::event::{AlertEvent, EventKind};
use crate::level::Level;
use crate::model::Timestamp;

/// One alert event as the ledger needs it (borrowed from an [`AlertEvent`] or a stored row).
#[derive(Debug, Clone, Copy)]
pub struct LedgerEvent<'a> {
    pub alert_id: &'a str,
    pub rule: &'a str,
    pub site: &'a str,
    pub device: &'a str,
    pub level: Level,
    pub kind: EventKind,
    /// Event time of the transition.
    pub ts: Timestamp,
}

impl<'a> From<&'a AlertEvent> for LedgerEvent<'a> {
    fn from(e: &'a AlertEvent) -> Self {
        Self {
            alert_id: &e.alert_id,
            rule: &e.rule,
            site: &e.site,
            device: &e.device,
            level: e.level,
            kind: e.kind,
            ts: e.ts,
        }
    }
}

/// One recorded day of an alert: the worst level it had that day and the level it ended the
/// day with (which it keeps on the following days without events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayLevel {
    pub day: i64,
    pub worst: Level,
    pub end: Level,
}

/// What the ledger keeps of one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerAlert {
    pub rule: String,
    pub site: String,
    pub device: String,
    /// Days with events, in day order.
    pub days: Vec<DayLevel>,
    /// Resolved (its last recorded day is its last alert-day).
    pub closed: bool,
}

/// One alert open on one day, at its worst level that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDay {
    pub alert_id: String,
    pub rule: String,
    pub site: String,
    pub device: String,
    pub day: i64,
    pub level: Level,
}

/// Per alert id, the days it was open. Ordered maps, so its serialization and every
/// listing are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDayLedger {
    alerts: BTreeMap<String, LedgerAlert>,
}

impl AlertDayLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of alerts remembered.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Records one alert event. Pending events and a resolution of an alert that never
    /// fired (a withdrawn pending condition) add nothing; anything recorded twice counts once.
    pub fn record(&mut self, e: LedgerEvent<'_>) {
        let day = cst_day(e.ts);
        let alert = match e.kind {
            EventKind::Pending => return,
            EventKind::Resolved => match self.alerts.get_mut(e.alert_id) {
                Some(a) => {
                    a.closed = true;
                    a
                }
                None => return,
            },
            EventKind::Firing | EventKind::LevelChanged => self
                .alerts
                .entry(e.alert_id.to_owned())
                .or_insert_with(|| LedgerAlert {
                    rule: e.rule.to_owned(),
                    site: e.site.to_owned(),
                    device: e.device.to_owned(),
                    days: Vec::new(),
                    closed: false,
                }),
        };
        match alert.days.binary_search_by_key(&day, |d| d.day) {
            Ok(i) => {
                let last = i + 1 == alert.days.len();
                if let Some(d) = alert.days.get_mut(i) {
                    d.worst = d.worst.max(e.level);
                    if last {
                        d.end = e.level;
                    }
                }
            }
            Err(i) => alert.days.insert(
                i,
                DayLevel {
                    day,
                    worst: e.level,
                    end: e.level,
                },
            ),
        }
    }

    /// Forgets alerts that closed before `first_day` (they can no longer be in a window that
    /// starts on or after it). Open alerts are kept.
    pub fn prune(&mut self, first_day: i64) {
        self.alerts
            .retain(|_, a| !a.closed || a.days.last().is_some_and(|d| d.day >= first_day));
    }

    /// The alert-days from `first_day` to `last_day` (both included), by site, then day, then
    /// alert id. An open alert is open every day from its first event to `last_day`.
    pub fn alert_days(&self, first_day: i64, last_day: i64) -> Vec<AlertDay> {
        let mut out = Vec::new();
        for (id, a) in &self.alerts {
            let (Some(first), Some(last)) = (a.days.first(), a.days.last()) else {
                continue;
            };
            let end_day = if a.closed {
                last.day
            } else {
                last_day.max(last.day)
            };
            // Walk from the alert's first day, so the level carried into a day is right.
            let mut carry: Option<Level> = None;
            let mut next = a.days.iter().peekable();
            let mut day = first.day;
            while day <= end_day.min(last_day) {
                let level = match next.peek() {
                    // A day with events: the worst of what it started the day with and what
                    // it reached during the day.
                    Some(d) if d.day == day => {
                        let lv = carry.map_or(d.worst, |c| c.max(d.worst));
                        carry = Some(d.end);
                        next.next();
                        lv
                    }
                    _ => carry.unwrap_or(first.worst),
                };
                if day >= first_day {
                    out.push(AlertDay {
                        alert_id: id.clone(),
                        rule: a.rule.clone(),
                        site: a.site.clone(),
                        device: a.device.clone(),
                        day,
                        level,
                    });
                }
                day += 1;
            }
        }
        out.sort_by(|x, y| {
            (x.site.as_str(), x.day, x.alert_id.as_str()).cmp(&(
                y.site.as_str(),
                y.day,
                y.alert_id.as_str(),
            ))
        });
        out
    }
}
