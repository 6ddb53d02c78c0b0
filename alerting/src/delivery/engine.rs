//! The delivery engine: routes alert events to the supervisors of the site's grid cell,
//! groups bursts, repeats, escalates up the grid, honours silences, and records
//! acknowledgements. Pure and deterministic: time is always passed in, state is ordered maps,
//! and the whole state is a serde snapshot.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::config::{DeliveryConfig, Supervisor, SupervisorId};
use super::grid::{Cell, Tier};
use super::notice::{
    DeliveryError, DeliveryEvent, DeliveryEventKind, Notice, NoticeKind, Outcome, Recipient,
};
use super::silence::Silence;
use super::text::{self, Extra};
use crate::event::{AlertEvent, EventKind};
use crate::level::Level;
use crate::model::{GridPath, Site, Timestamp};

/// How long a resolved alert id is remembered, so that acknowledging it answers
/// `AlreadyResolved` (not `NotFound`) and late rule-engine events for a manually resolved
/// alert are ignored. Default: 7 days.
pub const RESOLVED_RETENTION_SECS: i64 = 7 * 86_400;

/// Version of [`DeliverySnapshot`]; bump on incompatible changes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Who acknowledged an alert, when, and what they said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: SupervisorId,
    pub note: String,
    pub at: Timestamp,
}

/// Delivery's view of one open alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedAlert {
    /// The latest rule-engine event of the alert (level, summary, evidence).
    pub event: AlertEvent,
    /// The tier currently responsible (where it was routed, or escalated to).
    pub tier: Tier,
    /// Everyone who has been sent a notice about it.
    pub notified: BTreeSet<SupervisorId>,
    /// Whether a first notice went out (false while grouped or held by a silence).
    pub announced: bool,
    pub ack: Option<Acknowledgement>,
    /// When it escalates if still unacknowledged; `None` once acknowledged, at the top tier,
    /// or before it is announced.
    pub ack_deadline: Option<Timestamp>,
    /// When the next repeat notice is due; `None` if the level does not repeat.
    pub next_repeat: Option<Timestamp>,
}

impl TrackedAlert {
    pub fn alert_id(&self) -> &str {
        &self.event.alert_id
    }
    pub fn site(&self) -> &str {
        &self.event.site
    }
    pub fn level(&self) -> Level {
        self.event.level
    }
}

/// A burst of firing alerts at one site, waiting for the group window to pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingGroup {
    pub opened_at: Timestamp,
    pub alerts: Vec<String>,
}

/// A recently resolved alert (see [`RESOLVED_RETENTION_SECS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedAlert {
    pub site: String,
    pub grid: GridPath,
    pub at: Timestamp,
}

/// The engine's whole state, for restart safety: `serde_json::to_string(&engine.snapshot())`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliverySnapshot {
    pub version: u32,
    pub alerts: BTreeMap<String, TrackedAlert>,
    /// Pending groups by site.
    pub groups: BTreeMap<String, PendingGroup>,
    pub silences: BTreeMap<String, Silence>,
    pub resolved: BTreeMap<String, ResolvedAlert>,
    /// Sequence of the next notice id.
    pub next_notice: u64,
}

impl Default for DeliverySnapshot {
    fn default() -> Self {
        Self {
            version: SNAPSHOT_VERSION,
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            silences: BTreeMap::new(),
            resolved: BTreeMap::new(),
            next_notice: 1,
        }
    }
}

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

    /// The state to persist (JSON via serde).
    pub fn snapshot(&self) -> DeliverySnapshot {
        self.st.clone()
    }

    /// An engine continuing from a snapshot: deadlines, repeats, groups and silences carry on
    /// where they were (a tick after the restart catches up with whatever fell due).
    pub fn restore(
        config: DeliveryConfig,
        sites: &[Site],
        snapshot: DeliverySnapshot,
    ) -> Result<Self, DeliveryError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(DeliveryError::SnapshotVersion {
                found: snapshot.version,
                expected: SNAPSHOT_VERSION,
            });
        }
        let mut e = Self::new(config, sites);
        e.st = snapshot;
        Ok(e)
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

    /// One open alert.
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

    /// Silences in force at `now` (expired ones drop out by themselves), by id.
    pub fn silences(&self, now: Timestamp) -> Vec<&Silence> {
        self.st
            .silences
            .values()
            .filter(|s| s.is_active(now))
            .collect()
    }

    /// Silences in force at `now` on sites `supervisor` may see.
    pub fn silences_visible_to(&self, supervisor: &str, now: Timestamp) -> Vec<&Silence> {
        self.silences(now)
            .into_iter()
            .filter(|s| self.can_see(supervisor, s.scope.site()))
            .collect()
    }

    /// The silence in force at `now` covering an alert at (`site`, `device`), if any.
    pub fn silence_for(&self, site: &str, device: &str, now: Timestamp) -> Option<&Silence> {
        self.st
            .silences
            .values()
            .find(|s| s.is_active(now) && s.scope.covers(site, device))
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
                if let Some(a) = self.st.alerts.remove(id) {
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

    /// A supervisor acknowledges an alert: escalation and repeats stop, the alert stays open,
    /// and everyone who heard of it is told. Acknowledging twice is not an error (the second
    /// time changes nothing and returns an empty outcome).
    pub fn acknowledge(
        &mut self,
        alert_id: &str,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Outcome, DeliveryError> {
        self.authorize_alert(alert_id, by)?;
        let mut out = self.expire_silences(now);
        let Some(a) = self.st.alerts.get_mut(alert_id) else {
            return Err(DeliveryError::NotFound(alert_id.to_owned()));
        };
        if a.ack.is_some() {
            return Ok(out);
        }
        a.ack = Some(Acknowledgement {
            by: by.to_owned(),
            note: note.to_owned(),
            at: now,
        });
        a.ack_deadline = None;
        a.next_repeat = None;
        let site = a.event.site.clone();
        let notified: Vec<SupervisorId> = a.notified.iter().cloned().collect();
        out.events.push(DeliveryEvent {
            alert_id: alert_id.to_owned(),
            site,
            kind: DeliveryEventKind::Acknowledged {
                by: by.to_owned(),
                note: note.to_owned(),
            },
            ts: now,
        });
        let name = self.supervisor_name(by);
        let extra = Extra {
            zh: Some(format!("已由 {name} 确认：{note}（告警仍未解除）")),
            en: Some(format!(
                "Acknowledged by {name}: {note} (the alert is still open)"
            )),
            deadline: None,
        };
        out.notices.extend(self.notice_to(
            NoticeKind::Acknowledged,
            alert_id,
            &notified,
            &extra,
            now,
        ));
        Ok(out)
    }

    /// A supervisor closes an alert by hand. Returns the `ResolvedManually` lifecycle record
    /// (store it as the alert's `resolved` state) and a `Resolved` notice to everyone who
    /// heard of it.
    ///
    /// **Telling the rule engine.** The rule engine ([`crate::Engine`]) owns the alert's
    /// condition tracker and has, as of this module, no API to close one; this module does not
    /// change it. Until it has one, delivery remembers the id as resolved (for
    /// [`RESOLVED_RETENTION_SECS`]) and ignores the rule engine's later `level_changed` and
    /// `resolved` events for it, so nobody is notified again; the caller keeps feeding every
    /// rule-engine event here as usual. Caveat of that interim: while the rule engine still
    /// holds the tracker, a condition that persists opens no *new* alert. The proposed
    /// rule-engine change (for the owner of `eval.rs`): `Engine::close_alert(&mut self,
    /// alert_id, reason, now) -> Option<AlertEvent>` dropping the tracker and returning a
    /// `resolved` event with the reason; the caller calls it after this succeeds and passes
    /// the event here (it is ignored: the id is already resolved). A condition that still
    /// holds then opens a new alert with a new id after its pending duration.
    pub fn resolve_manually(
        &mut self,
        alert_id: &str,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<Outcome, DeliveryError> {
        self.authorize_alert(alert_id, by)?;
        let mut out = self.expire_silences(now);
        let Some(a) = self.st.alerts.remove(alert_id) else {
            return Err(DeliveryError::NotFound(alert_id.to_owned()));
        };
        out.events.push(DeliveryEvent {
            alert_id: alert_id.to_owned(),
            site: a.event.site.clone(),
            kind: DeliveryEventKind::ResolvedManually {
                by: by.to_owned(),
                reason: reason.to_owned(),
            },
            ts: now,
        });
        let name = self.supervisor_name(by);
        let extra = Extra {
            zh: Some(format!("已由 {name} 手动解除：{reason}")),
            en: Some(format!("Resolved manually by {name}: {reason}")),
            deadline: None,
        };
        out.extend(self.closed(a, Some(extra), now));
        Ok(out)
    }

    /// Adds a silence (maintenance window). `by` must see the scope's site. Open alerts in
    /// scope get a `silenced` record; their notices (new, level changes, repeats,
    /// escalations) are held until it ends, and their deadlines pause.
    pub fn add_silence(
        &mut self,
        silence: Silence,
        now: Timestamp,
    ) -> Result<Outcome, DeliveryError> {
        let site = silence.scope.site().to_owned();
        if self.config.supervisor(&silence.by).is_none() {
            return Err(DeliveryError::UnknownSupervisor(silence.by));
        }
        if self.site_grid(&site).is_none() {
            return Err(DeliveryError::UnknownSite(site));
        }
        if !self.can_see(&silence.by, &site) {
            return Err(DeliveryError::Forbidden {
                supervisor: silence.by,
                site,
            });
        }
        if silence.id.trim().is_empty() {
            return Err(DeliveryError::InvalidSilence("the id is empty".to_owned()));
        }
        if silence.reason.trim().is_empty() {
            return Err(DeliveryError::InvalidSilence(
                "a silence must say why (reason)".to_owned(),
            ));
        }
        if !silence.is_active(now) {
            return Err(DeliveryError::InvalidSilence(format!(
                "until {} is not in the future",
                silence.until
            )));
        }
        let mut out = self.expire_silences(now);
        if self.st.silences.contains_key(&silence.id) {
            return Err(DeliveryError::DuplicateSilence(silence.id));
        }
        for a in self.st.alerts.values() {
            if silence.scope.covers_event(&a.event) {
                out.events.push(silenced_event(&silence, a, now));
            }
        }
        self.st.silences.insert(silence.id.clone(), silence);
        Ok(out)
    }

    /// Lifts a silence before its `until` (`by` must see its site). Its still-open,
    /// unacknowledged alerts are notified as when it expires by itself.
    pub fn expire_silence(
        &mut self,
        silence_id: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<Outcome, DeliveryError> {
        let Some(s) = self.st.silences.get(silence_id) else {
            return Err(DeliveryError::SilenceNotFound(silence_id.to_owned()));
        };
        let site = s.scope.site().to_owned();
        if self.config.supervisor(by).is_none() {
            return Err(DeliveryError::UnknownSupervisor(by.to_owned()));
        }
        if !self.can_see(by, &site) {
            return Err(DeliveryError::Forbidden {
                supervisor: by.to_owned(),
                site,
            });
        }
        let mut out = self.end_silence(silence_id, Some(by), now);
        out.extend(self.expire_silences(now));
        Ok(out)
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

    /// Checks the supervisor exists, the alert is known (open or recently resolved) and its
    /// site lies in the supervisor's subtree; `AlreadyResolved` for resolved ones.
    fn authorize_alert(&self, alert_id: &str, by: &str) -> Result<(), DeliveryError> {
        let Some(sup) = self.config.supervisor(by) else {
            return Err(DeliveryError::UnknownSupervisor(by.to_owned()));
        };
        let (site, grid, resolved) = if let Some(a) = self.st.alerts.get(alert_id) {
            (&a.event.site, &a.event.grid, false)
        } else if let Some(r) = self.st.resolved.get(alert_id) {
            (&r.site, &r.grid, true)
        } else {
            return Err(DeliveryError::NotFound(alert_id.to_owned()));
        };
        if !sup.cell.contains(grid) {
            return Err(DeliveryError::Forbidden {
                supervisor: by.to_owned(),
                site: site.clone(),
            });
        }
        if resolved {
            return Err(DeliveryError::AlreadyResolved(alert_id.to_owned()));
        }
        Ok(())
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

    /// Ends silences whose `until` has passed.
    fn expire_silences(&mut self, now: Timestamp) -> Outcome {
        let due: Vec<String> = self
            .st
            .silences
            .values()
            .filter(|s| !s.is_active(now))
            .map(|s| s.id.clone())
            .collect();
        let mut out = Outcome::default();
        for id in due {
            out.extend(self.end_silence(&id, None, now));
        }
        out
    }

    /// Removes a silence; its open alerts get a `silence_ended` record and, if unacknowledged
    /// and no longer covered, a notice: `new` if never announced, `repeat` otherwise. Their
    /// deadlines restart.
    fn end_silence(&mut self, silence_id: &str, by: Option<&str>, now: Timestamp) -> Outcome {
        let mut out = Outcome::default();
        let Some(s) = self.st.silences.remove(silence_id) else {
            return out;
        };
        let mut new = Vec::new();
        let mut again = Vec::new();
        for (id, a) in &self.st.alerts {
            if !s.scope.covers_event(&a.event) {
                continue;
            }
            out.events.push(DeliveryEvent {
                alert_id: id.clone(),
                site: a.event.site.clone(),
                kind: DeliveryEventKind::SilenceEnded {
                    silence_id: s.id.clone(),
                    by: by.map(str::to_owned),
                },
                ts: now,
            });
            let in_group = self
                .st
                .groups
                .get(&a.event.site)
                .is_some_and(|g| g.alerts.contains(id));
            if a.ack.is_some()
                || in_group
                || self
                    .silence_for(&a.event.site, &a.event.device, now)
                    .is_some()
            {
                continue;
            }
            if a.announced {
                again.push(id.clone());
            } else {
                new.push(id.clone());
            }
        }
        let extra = Some((
            "静默/维护期已结束，以下告警仍未解除。".to_owned(),
            "The silence / maintenance window ended; these alerts are still open.".to_owned(),
        ));
        out.notices
            .extend(self.announce(NoticeKind::New, &new, true, extra.clone(), now));
        out.notices
            .extend(self.announce(NoticeKind::Repeat, &again, true, extra, now));
        out
    }

    /// The earliest ack deadline among `ids` and the tier it would escalate to.
    fn deadline_of(&self, ids: &[String]) -> Option<(Timestamp, Option<Tier>)> {
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
    fn announce(
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
            })
            .collect();
        if recipients.is_empty() {
            return None;
        }
        let site_name = self
            .sites
            .get(site)
            .map_or_else(|| site.to_owned(), |s| s.name.clone());
        let (text_zh, text_en) = text::render(kind, level, &site_name, grid, events, extra);
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
        })
    }
}

fn silenced_event(s: &Silence, a: &TrackedAlert, now: Timestamp) -> DeliveryEvent {
    DeliveryEvent {
        alert_id: a.event.alert_id.clone(),
        site: a.event.site.clone(),
        kind: DeliveryEventKind::Silenced {
            silence_id: s.id.clone(),
            by: s.by.clone(),
            reason: s.reason.clone(),
            until: s.until,
        },
        ts: now,
    }
}
