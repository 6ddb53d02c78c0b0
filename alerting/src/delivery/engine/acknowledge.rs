//! Acknowledgement and manual resolution by a supervisor, and who may do them.

use serde::{Deserialize, Serialize};

use super::DeliveryEngine;
use crate::delivery::config::SupervisorId;
use crate::delivery::notice::{
    DeliveryError, DeliveryEvent, DeliveryEventKind, NoticeKind, Outcome,
};
use crate::delivery::text::Extra;
use crate::model::Timestamp;

/// How long a resolved alert id is remembered, so that acknowledging it answers
/// `AlreadyResolved` (not `NotFound`) and late rule-engine events for a manually resolved
/// alert are ignored. Default: 7 days.
pub const RESOLVED_RETENTION_SECS: i64 = 7 * 86_400;
/// Who acknowledged an alert, when, and what they said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: SupervisorId,
    pub note: String,
    pub at: Timestamp,
}

impl DeliveryEngine {
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
            zh: Some(format!("已由 {name} 确认：{note}（预警仍未解除）")),
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
}
