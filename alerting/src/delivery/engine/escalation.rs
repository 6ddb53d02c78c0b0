//! Time-driven delivery: `tick` flushes groups, escalates alerts past their ack deadline one
//! tier up, and sends repeats; `announce` sends the grouped notices and (re)starts the timers.

use std::collections::BTreeMap;

use super::{DeliveryEngine, RESOLVED_RETENTION_SECS};
use crate::delivery::config::SupervisorId;
use crate::delivery::grid::{Cell, Tier};
use crate::delivery::notice::{DeliveryEvent, DeliveryEventKind, Notice, NoticeKind, Outcome};
use crate::delivery::text::Extra;
use crate::event::AlertEvent;
use crate::level::Level;
use crate::model::Timestamp;

impl DeliveryEngine {
    /// Advances time: ends expired silences (notifying their still-open alerts), flushes
    /// groups whose window passed, escalates alerts past their deadline one tier up, sends
    /// due repeats, and forgets resolved alerts older than [`RESOLVED_RETENTION_SECS`].
    pub fn tick(&mut self, now: Timestamp) -> Outcome {
        let mut out = self.expire_silences(now);
        // Groups.
        let window = i64::from(self.config.timing.group_window_secs);
        let due: Vec<String> = self
            .st
            .groups
            .iter()
            .filter(|(_, g)| now.secs_since(g.opened_at) >= window)
            .map(|(site, _)| site.clone())
            .collect();
        for site in due {
            out.extend(self.flush_group(&site, now));
        }
        // Escalations and repeats.
        let mut escalate = Vec::new();
        let mut repeat = Vec::new();
        for (id, a) in &self.st.alerts {
            if a.ack.is_some()
                || !a.announced
                || self
                    .silence_for(&a.event.site, &a.event.device, now)
                    .is_some()
            {
                continue;
            }
            if a.ack_deadline.is_some_and(|d| d <= now) {
                escalate.push(id.clone());
            } else if a.next_repeat.is_some_and(|r| r <= now) {
                repeat.push(id.clone());
            }
        }
        let mut escalated = Vec::new();
        for id in escalate {
            let Some((grid, site, from)) = self
                .st
                .alerts
                .get(&id)
                .map(|a| (a.event.grid.clone(), a.event.site.clone(), a.tier))
            else {
                continue;
            };
            match self.next_tier_up(&grid, from) {
                Some(to) => {
                    let supervisors = self
                        .supervisors_at(&grid, to)
                        .into_iter()
                        .map(|s| s.id.clone())
                        .collect();
                    if let Some(a) = self.st.alerts.get_mut(&id) {
                        a.tier = to;
                    }
                    out.events.push(DeliveryEvent {
                        alert_id: id.clone(),
                        site,
                        kind: DeliveryEventKind::Escalated {
                            from,
                            to,
                            supervisors,
                        },
                        ts: now,
                    });
                    escalated.push(id);
                }
                None => {
                    // At the top: nobody further to tell; repeats go on.
                    if let Some(a) = self.st.alerts.get_mut(&id) {
                        a.ack_deadline = None;
                    }
                }
            }
        }
        out.notices
            .extend(self.announce(NoticeKind::Escalated, &escalated, true, None, now));
        out.notices
            .extend(self.announce(NoticeKind::Repeat, &repeat, false, None, now));
        // Forget old resolutions.
        self.st
            .resolved
            .retain(|_, r| now.secs_since(r.at) < RESOLVED_RETENTION_SECS);
        out
    }

    /// The earliest ack deadline among `ids` and the tier it would escalate to.
    pub(super) fn deadline_of(&self, ids: &[String]) -> Option<(Timestamp, Option<Tier>)> {
        let (d, grid, tier) = ids
            .iter()
            .filter_map(|id| self.st.alerts.get(id))
            .filter_map(|a| a.ack_deadline.map(|d| (d, &a.event.grid, a.tier)))
            .min_by_key(|(d, _, _)| *d)?;
        Some((d, self.next_tier_up(grid, tier)))
    }

    /// Notices to the current tier of each alert, one per (site, tier): marks them announced
    /// and notified and restarts their repeat timer, and their ack deadline when
    /// `restart_deadline`.
    pub(super) fn announce(
        &mut self,
        kind: NoticeKind,
        ids: &[String],
        restart_deadline: bool,
        extra: Option<(String, String)>,
        now: Timestamp,
    ) -> Vec<Notice> {
        let timing = self.config.timing;
        let mut groups: BTreeMap<(String, Tier), Vec<String>> = BTreeMap::new();
        for id in ids {
            if let Some(a) = self.st.alerts.get(id) {
                groups
                    .entry((a.event.site.clone(), a.tier))
                    .or_default()
                    .push(id.clone());
            }
        }
        let mut notices = Vec::new();
        for ((site, tier), mut members) in groups {
            members.sort();
            members.dedup();
            let Some(grid) = members
                .first()
                .and_then(|id| self.st.alerts.get(id))
                .map(|a| a.event.grid.clone())
            else {
                continue;
            };
            let to_tell: Vec<SupervisorId> = self
                .supervisors_at(&grid, tier)
                .into_iter()
                .map(|s| s.id.clone())
                .collect();
            for id in &members {
                if let Some(a) = self.st.alerts.get_mut(id) {
                    a.announced = true;
                    a.notified.extend(to_tell.iter().cloned());
                    let level = a.event.level;
                    if restart_deadline && a.ack.is_none() {
                        a.ack_deadline = Some(now.plus_secs(timing.ack_secs(level)));
                    }
                    a.next_repeat = timing.repeat_secs(level).map(|s| now.plus_secs(s));
                }
            }
            let events: Vec<AlertEvent> = members
                .iter()
                .filter_map(|id| self.st.alerts.get(id).map(|a| a.event.clone()))
                .collect();
            let mut refs: Vec<&AlertEvent> = events.iter().collect();
            // Text lists the most severe first.
            refs.sort_by(|a, b| b.level.cmp(&a.level).then(a.alert_id.cmp(&b.alert_id)));
            let level = refs.iter().map(|e| e.level).max().unwrap_or(Level::IV);
            let (zh, en) = match (&extra, kind) {
                (Some((zh, en)), _) => (Some(zh.clone()), Some(en.clone())),
                (None, NoticeKind::Escalated) => (
                    Some(format!(
                        "逾期未确认，已升级至{}级：{}。",
                        tier.zh(),
                        Cell::of(&grid, tier)
                    )),
                    Some(format!(
                        "Not acknowledged in time: escalated to the {tier} tier ({}).",
                        Cell::of(&grid, tier)
                    )),
                ),
                (None, _) => (None, None),
            };
            let ex = Extra {
                zh,
                en,
                deadline: self.deadline_of(&members),
            };
            if let Some(n) =
                self.build_notice(kind, tier, &site, &grid, level, &refs, &to_tell, &ex, now)
            {
                notices.push(n);
            }
        }
        notices
    }
}
