//! Silences and maintenance windows in the engine: queries, adding and lifting them, and
//! notifying their still-open alerts when they end.

use super::{DeliveryEngine, TrackedAlert};
use crate::delivery::notice::{
    DeliveryError, DeliveryEvent, DeliveryEventKind, NoticeKind, Outcome,
};
use crate::delivery::silence::Silence;
use crate::model::Timestamp;

impl DeliveryEngine {
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
    /// Ends silences whose `until` has passed.
    pub(super) fn expire_silences(&mut self, now: Timestamp) -> Outcome {
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
            "静默/维护期已结束，以下预警仍未解除。".to_owned(),
            "The silence / maintenance window ended; these alerts are still open.".to_owned(),
        ));
        out.notices
            .extend(self.announce(NoticeKind::New, &new, true, extra.clone(), now));
        out.notices
            .extend(self.announce(NoticeKind::Repeat, &again, true, extra, now));
        out
    }
}

pub(super) fn silenced_event(s: &Silence, a: &TrackedAlert, now: Timestamp) -> DeliveryEvent {
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
