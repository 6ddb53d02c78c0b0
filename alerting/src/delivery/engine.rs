//! The delivery engine: routes alert events to the supervisors of the site's grid cell,
//! groups bursts, repeats, escalates up the grid, honours silences, and records
//! acknowledgements. Pure and deterministic: time is always passed in, state is ordered maps,
//! and the whole state is a serde snapshot.
//!
//! # Layout
//!
//! - this file: [`DeliveryEngine`] itself, its queries, rule-engine events (routing,
//!   grouping, level changes, resolution) and the notice builders;
//! - `escalation`: `tick`, ack deadlines, escalation up the grid and repeats;
//! - `acknowledge`: acknowledgement and manual resolution ([`Acknowledgement`],
//!   [`RESOLVED_RETENTION_SECS`]);
//! - `silences`: silences and maintenance windows in the engine;
//! - `snapshot`: the persisted state ([`DeliverySnapshot`], [`TrackedAlert`], ...) and
//!   snapshot/restore.

mod acknowledge;
mod escalation;
mod silences;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

use super::config::{DeliveryConfig, Supervisor, SupervisorId};
use super::grid::{Cell, Tier};
use super::notice::{DeliveryEvent, DeliveryEventKind, Notice, NoticeKind, Outcome, Recipient};
use super::text::{self, Extra};
use crate::event::{AlertEvent, EventKind};
use crate::level::Level;
use crate::model::{GridPath, Site, Timestamp};

pub use acknowledge::{Acknowledgement, RESOLVED_RETENTION_SECS};
use silences::silenced_event;
pub use snapshot::{DeliverySnapshot, PendingGroup, ResolvedAlert, TrackedAlert, SNAPSHOT_VERSION};

#[derive(Debug, Clone)]
struct SiteInfo {
    name: String,
    grid: GridPath,
}

/// Routing, grouping, repeats, escalation, acknowledgement and silences of alerts.
///
/// Every entry point takes `now` and first ends silences whose `until` has passed, so their
/// notices come out of whichever call sees the time first.
#[derive(Debug, Clone)]
pub struct DeliveryEngine {
    config: DeliveryConfig,
    sites: BTreeMap<String, SiteInfo>,
    st: DeliverySnapshot,
}

impl DeliveryEngine {
    /// An engine with no open alerts.
    pub fn new(config: DeliveryConfig, sites: &[Site]) -> Self {
        Self {
            config,
            sites: sites
                .iter()
                .map(|s| {
                    (
                        s.id.to_string(),
                        SiteInfo {
                            name: s.name.clone(),
                            grid: s.grid.clone(),
                        },
                    )
                })
                .collect(),
            st: DeliverySnapshot::default(),
        }
    }

    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    // -----------------------------------------------------------------------------------------
    // Queries (for the API).

    /// Whether `supervisor` may see and act on `site`: the site lies in their cell's subtree
    /// (a district supervisor sees every street and community of the district; the city sees
    /// all). Unknown supervisors or sites: false.
    pub fn can_see(&self, supervisor: &str, site: &str) -> bool {
        match (self.config.supervisor(supervisor), self.site_grid(site)) {
            (Some(s), Some(g)) => s.cell.contains(g),
            _ => false,
        }
    }

    /// A recently closed alert (remembered for `RESOLVED_RETENTION_SECS`).
    pub fn resolved_alert(&self, alert_id: &str) -> Option<&ResolvedAlert> {
        self.st.resolved.get(alert_id)
    }

    /// An open alert.
    pub fn alert(&self, alert_id: &str) -> Option<&TrackedAlert> {
        self.st.alerts.get(alert_id)
    }

    /// Open alerts `supervisor` may see, by alert id.
    pub fn alerts_visible_to(&self, supervisor: &str) -> Vec<&TrackedAlert> {
        let Some(s) = self.config.supervisor(supervisor) else {
            return Vec::new();
        };
        self.st
            .alerts
            .values()
            .filter(|a| s.cell.contains(&a.event.grid))
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Inputs.

    /// Takes one rule-engine event. `pending` is never notified; `firing` joins its site's
    /// group (one notice per burst, after `group_window_secs`); `level_changed` is its own
    /// notice to everyone who heard of the alert, and restarts the deadline at the new level's;
    /// `resolved` tells everyone who heard of it.
    pub fn on_alert_event(&mut self, event: &AlertEvent, now: Timestamp) -> Outcome {
        let mut out = self.expire_silences(now);
        let id = event.alert_id.as_str();
        if self.st.resolved.contains_key(id) {
            // Resolved manually (or a duplicate after resolve): nothing more to say.
            return out;
        }
        match event.kind {
            EventKind::Pending => {}
            EventKind::Resolved => {
                if let Some(mut a) = self.st.alerts.remove(id) {
                    // The notice says what is back (the resolved event's summary), not the
                    // breach it announced before.
                    a.event = event.clone();
                    out.extend(self.closed(a, None, now));
                }
            }
            EventKind::Firing | EventKind::LevelChanged => {
                if self.st.alerts.contains_key(id) {
                    if event.kind == EventKind::LevelChanged {
                        out.extend(self.level_changed(event, now));
                    } else if let Some(a) = self.st.alerts.get_mut(id) {
                        a.event = event.clone(); // a repeated `firing`: nothing new to say
                    }
                } else {
                    out.extend(self.opened(event, now));
                }
            }
        }
        out
    }

    // -----------------------------------------------------------------------------------------
    // Internals.

    fn site_grid(&self, site: &str) -> Option<&GridPath> {
        self.sites.get(site).map(|s| &s.grid)
    }

    fn supervisor_name(&self, id: &str) -> String {
        self.config
            .supervisor(id)
            .map_or_else(|| id.to_owned(), |s| format!("{}（{}）", s.name, s.id))
    }

    /// Supervisors owning exactly the cell at `tier` above `grid`.
    fn supervisors_at(&self, grid: &GridPath, tier: Tier) -> Vec<&Supervisor> {
        let cell = Cell::of(grid, tier);
        self.config
            .supervisors
            .iter()
            .filter(|s| s.cell == cell)
            .collect()
    }

    /// The first tier at or above `from` with supervisors.
    fn route_tier(&self, grid: &GridPath, from: Tier) -> Option<Tier> {
        let mut t = Some(from);
        while let Some(tier) = t {
            if !self.supervisors_at(grid, tier).is_empty() {
                return Some(tier);
            }
            t = tier.up();
        }
        None
    }

    /// The first tier strictly above `from` with supervisors.
    fn next_tier_up(&self, grid: &GridPath, from: Tier) -> Option<Tier> {
        from.up().and_then(|t| self.route_tier(grid, t))
    }

    /// A new alert: tracked, routed, and grouped (or held by a silence).
    fn opened(&mut self, event: &AlertEvent, now: Timestamp) -> Outcome {
        let mut out = Outcome::default();
        let tier = self
            .route_tier(&event.grid, Tier::Community)
            .unwrap_or_else(|| {
                tracing::warn!(alert = %event.alert_id, site = %event.site,
                    "no supervisor at any tier for this site: the alert reaches nobody");
                Tier::Community
            });
        let a = TrackedAlert {
            event: event.clone(),
            tier,
            notified: BTreeSet::new(),
            announced: false,
            ack: None,
            ack_deadline: None,
            next_repeat: None,
        };
        let id = event.alert_id.clone();
        if let Some(s) = self.silence_for(&event.site, &event.device, now) {
            out.events.push(silenced_event(s, &a, now));
            self.st.alerts.insert(id, a);
            return out;
        }
        self.st.alerts.insert(id.clone(), a);
        let g = self
            .st
            .groups
            .entry(event.site.clone())
            .or_insert_with(|| PendingGroup {
                opened_at: now,
                alerts: Vec::new(),
            });
        g.alerts.push(id);
        if self.config.timing.group_window_secs == 0 {
            out.extend(self.flush_group(&event.site, now));
        }
        out
    }

    fn flush_group(&mut self, site: &str, now: Timestamp) -> Outcome {
        let Some(g) = self.st.groups.remove(site) else {
            return Outcome::default();
        };
        let ids: Vec<String> = g
            .alerts
            .into_iter()
            .filter(|id| {
                self.st.alerts.get(id).is_some_and(|a| {
                    a.ack.is_none()
                        && !a.announced
                        && self
                            .silence_for(&a.event.site, &a.event.device, now)
                            .is_none()
                })
            })
            .collect();
        Outcome {
            notices: self.announce(NoticeKind::New, &ids, true, None, now),
            events: Vec::new(),
        }
    }

    fn level_changed(&mut self, event: &AlertEvent, now: Timestamp) -> Outcome {
        let mut out = Outcome::default();
        let timing = self.config.timing;
        let silenced = self.silence_for(&event.site, &event.device, now).is_some();
        let Some(a) = self.st.alerts.get_mut(&event.alert_id) else {
            return out;
        };
        let (from, to) = (a.event.level, event.level);
        a.event = event.clone();
        if to > from && a.ack.is_some() {
            a.ack = None;
            out.events.push(DeliveryEvent {
                alert_id: event.alert_id.clone(),
                site: event.site.clone(),
                kind: DeliveryEventKind::AcknowledgementCleared { from, to },
                ts: now,
            });
        }
        if !a.announced || silenced {
            // The group notice, or the notice when the silence ends, carries the new level.
            return out;
        }
        if a.ack.is_none() {
            a.ack_deadline = Some(now.plus_secs(timing.ack_secs(to)));
            a.next_repeat = timing.repeat_secs(to).map(|s| now.plus_secs(s));
        }
        let tier = a.tier;
        let mut to_tell: Vec<SupervisorId> = a.notified.iter().cloned().collect();
        let grid = a.event.grid.clone();
        for s in self.supervisors_at(&grid, tier) {
            if !to_tell.contains(&s.id) {
                to_tell.push(s.id.clone());
            }
        }
        let extra = Extra {
            zh: Some(format!(
                "级别由{}{}变为{}{}。",
                from.label_zh(),
                from.colour_zh(),
                to.label_zh(),
                to.colour_zh()
            )),
            en: Some(format!("Level changed from {from} to {to}.")),
            deadline: self.deadline_of(std::slice::from_ref(&event.alert_id)),
        };

        out.notices.extend(self.notice_to(
            NoticeKind::LevelChanged,
            &event.alert_id,
            &to_tell,
            &extra,
            now,
        ));
        out
    }

    /// An alert closed (already removed from `alerts`): remembered as resolved, taken out of
    /// its group, and everyone who heard of it is told (even during a silence: it is the
    /// notice that closes what they were told).
    fn closed(&mut self, a: TrackedAlert, extra: Option<Extra>, now: Timestamp) -> Outcome {
        let id = a.event.alert_id.clone();
        if let Some(g) = self.st.groups.get_mut(&a.event.site) {
            g.alerts.retain(|x| *x != id);
            if g.alerts.is_empty() {
                self.st.groups.remove(&a.event.site);
            }
        }
        self.st.resolved.insert(
            id.clone(),
            ResolvedAlert {
                site: a.event.site.clone(),
                grid: a.event.grid.clone(),
                at: now,
            },
        );
        let mut out = Outcome::default();
        if !a.announced {
            return out;
        }
        let to_tell: Vec<SupervisorId> = a.notified.iter().cloned().collect();
        let extra = extra.unwrap_or_default();
        let level = a.event.level;
        let events = [&a.event];
        if let Some(n) = self.build_notice(
            NoticeKind::Resolved,
            a.tier,
            &a.event.site,
            &a.event.grid,
            level,
            &events,
            &to_tell,
            &extra,
            now,
        ) {
            out.notices.push(n);
        }
        out
    }

    /// A notice about one alert to the given supervisors; they are marked notified.
    fn notice_to(
        &mut self,
        kind: NoticeKind,
        alert_id: &str,
        to_tell: &[SupervisorId],
        extra: &Extra,
        now: Timestamp,
    ) -> Option<Notice> {
        let a = self.st.alerts.get_mut(alert_id)?;
        a.notified.extend(to_tell.iter().cloned());
        let event = a.event.clone();
        let tier = a.tier;
        self.build_notice(
            kind,
            tier,
            &event.site,
            &event.grid,
            event.level,
            &[&event],
            to_tell,
            extra,
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn build_notice(
        &mut self,
        kind: NoticeKind,
        tier: Tier,
        site: &str,
        grid: &GridPath,
        level: Level,
        events: &[&AlertEvent],
        to_tell: &[SupervisorId],
        extra: &Extra,
        now: Timestamp,
    ) -> Option<Notice> {
        let recipients: Vec<Recipient> = to_tell
            .iter()
            .filter_map(|id| self.config.supervisor(id))
            .map(|s| Recipient {
                supervisor: s.id.clone(),
                name: s.name.clone(),
                tier: s.tier(),
                channels: s.channels.clone(),
                mobile: s.mobile.clone(),
            })
            .collect();
        if recipients.is_empty() {
            return None;
        }
        let site_name = self
            .sites
            .get(site)
            .map_or_else(|| site.to_owned(), |s| s.name.clone());
        let public_url = self.config.public_url.as_deref();
        let (text_zh, text_en) =
            text::render(kind, level, &site_name, grid, events, extra, public_url);
        let links = public_url.map_or_else(Vec::new, |base| {
            events
                .iter()
                .map(|e| text::alert_page(base, &e.alert_id))
                .collect()
        });
        let seq = self.st.next_notice;
        self.st.next_notice = seq.saturating_add(1);
        let mut alerts: Vec<String> = events.iter().map(|e| e.alert_id.clone()).collect();
        alerts.sort();
        Some(Notice {
            id: format!("n{seq}/{}/{site}/{}", kind.as_str(), now.as_micros()),
            kind,
            tier,
            recipients,
            alerts,
            site: site.to_owned(),
            site_name,
            grid: grid.clone(),
            level,
            text_zh,
            text_en,
            created_at: now,
            links,
        })
    }
}
