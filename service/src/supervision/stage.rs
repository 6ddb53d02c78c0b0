//! Delivery inside the drain: feeds rule-engine events to the delivery engine, runs its
//! timers, applies journaled API requests, and turns what comes out into work for the drain:
//! deliveries for the outbox, `alert_actions` and `audit` rows, MQTT lifecycle messages, and
//! (for a manual resolution) the rule engine's own `resolved` event.
//!
//! Every function here changes the desk's state under its lock and does no I/O.

use alerting::delivery::{DeliveryEvent, DeliveryEventKind, Notice, Outcome};
use alerting::model::Timestamp;
use alerting::AlertEvent;

use super::desk::{Desk, DeskState, HistoryEntry};
use super::request::{outcome_of, status_of, Action, Applied, Request};
use weijian_ingest::delivery::AlertDelivery;
pub use weijian_ingest::delivery::Effects;
use weijian_ingest::sink::rows::{ActionRow, AuditRow, Row};

/// The delivery side of the drain.
#[derive(Debug, Clone)]
pub struct DeliveryStage {
    desk: Desk,
    topic_prefix: String,
    publish: bool,
}

impl DeliveryStage {
    /// `publish`: send lifecycle messages on `{topic_prefix}/alerts/{site}`.
    pub fn new(desk: Desk, topic_prefix: &str, publish: bool) -> Self {
        Self {
            desk,
            topic_prefix: topic_prefix.to_owned(),
            publish,
        }
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// Rule-engine events, in order.
    pub fn on_events(&self, events: &[AlertEvent], now: Timestamp) -> Effects {
        let mut fx = Effects::default();
        if events.is_empty() {
            return fx;
        }
        let mut st = self.desk.state();
        for e in events {
            st.record_event(e);
            let out = st.engine.on_alert_event(e, now);
            self.carry_out(&mut st, out, &mut fx);
        }
        fx
    }

    /// The delivery timers: groups, repeats, escalations, expiring silences.
    pub fn tick(&self, now: Timestamp) -> Effects {
        let mut fx = Effects::default();
        let mut st = self.desk.state();
        let out = st.engine.tick(now);
        self.carry_out(&mut st, out, &mut fx);
        st.prune();
        fx
    }

    /// Applies one journaled request (at its receive time), writes its audit row and answers
    /// the API call waiting for it. `rules` closes the rule engine's alert on a manual
    /// resolution.
    pub fn apply(&self, request: &Request, rules: &mut alerting::Engine) -> Effects {
        let mut fx = Effects::default();
        let now = request.at;
        let by = request.supervisor.as_deref().unwrap_or("");
        let result: Option<Applied> = {
            let mut st = self.desk.state();
            let outcome = match &request.action {
                Action::Acknowledge { alert_id, note } => {
                    Some(st.engine.acknowledge(alert_id, by, note, now))
                }
                Action::Resolve { alert_id, reason } => {
                    let result = st.engine.resolve_manually(alert_id, by, reason, now);
                    if result.is_ok() {
                        let why = format!("resolved manually by {by}: {reason}");
                        if let Some(event) = rules.close_alert(alert_id, now, &why) {
                            st.record_event(&event);
                            fx.rule_events.push(event);
                        }
                    }
                    Some(result)
                }
                Action::AddSilence { silence } => Some(
                    super::limits::check_silence(self.desk.limits(), &st.engine, silence, now)
                        .and_then(|()| st.engine.add_silence(silence.clone(), now)),
                ),
                Action::ExpireSilence { silence_id } => {
                    Some(st.engine.expire_silence(silence_id, by, now))
                }
                Action::Denied { .. } => None,
            };
            outcome.map(|r| {
                r.map(|out| {
                    let events = out.events.clone();
                    self.carry_out(&mut st, out, &mut fx);
                    events
                })
            })
        };
        let status = match (&request.action, &result) {
            (Action::Denied { status, .. }, _) => *status,
            (_, Some(r)) => status_of(r),
            (_, None) => 500,
        };
        let detail = match &result {
            Some(Err(e)) => format!("{}; refused: {e}", request.action.detail()),
            _ => request.action.detail(),
        };
        fx.rows.push(Row::Audit(Box::new(AuditRow {
            ts: request.at,
            request_id: request.id.clone(),
            supervisor: request.supervisor.clone().unwrap_or_else(|| "-".to_owned()),
            action: request.action.name(),
            target: request.action.target(),
            status,
            outcome: outcome_of(status),
            method: request.method.clone(),
            path: request.path.clone(),
            remote: request.remote.clone().unwrap_or_default(),
            detail,
        })));
        if let Some(result) = result {
            self.desk.answer(&request.id, result);
        }
        fx
    }

    /// Turns an engine outcome into history, rows, messages and deliveries.
    fn carry_out(&self, st: &mut DeskState, out: Outcome, fx: &mut Effects) {
        for event in &out.events {
            let Some(alert) = st.alerts.get(&event.alert_id).map(|r| r.last.clone()) else {
                tracing::warn!(alert_id = %event.alert_id, "A delivery event for an alert the desk does not know; not stored.");
                continue;
            };
            let (actor, tier, detail) = describe(event);
            st.record(
                &event.alert_id,
                HistoryEntry {
                    ts: event.ts,
                    change: action_name(&event.kind).to_owned(),
                    level: alert.level.number(),
                    by: actor.iter().cloned().collect(),
                    detail: detail.clone(),
                },
            );
            fx.rows.push(Row::Action(Box::new(ActionRow {
                ts: event.ts,
                alert_id: event.alert_id.clone(),
                action: action_name(&event.kind),
                rule: alert.rule.clone(),
                level: alert.level.number(),
                site: alert.site.clone(),
                grid: alert.grid.clone(),
                actor: actor.unwrap_or_else(|| "system".to_owned()),
                tier,
                detail,
            })));
            if self.publish {
                if let Some(m) =
                    crate::notify::mqtt::delivery_event_message(&self.topic_prefix, event, &alert)
                {
                    fx.messages.push(m);
                }
            }
        }
        for notice in out.notices {
            record_notice(st, &notice);
            fx.notices.push(notice);
        }
    }
}

impl AlertDelivery for DeliveryStage {
    fn on_events(&self, events: &[AlertEvent], now: Timestamp) -> Effects {
        DeliveryStage::on_events(self, events, now)
    }

    fn tick(&self, now: Timestamp) -> Effects {
        DeliveryStage::tick(self, now)
    }

    fn apply_request(&self, payload: &[u8], rules: &mut alerting::Engine) -> Effects {
        let request = match Request::decode(payload) {
            Ok(r) => r,
            Err(error) => {
                tracing::error!(%error, "Skipped a journaled API request that does not parse.");
                return Effects::default();
            }
        };
        tracing::info!(request = %request.id, supervisor = request.supervisor.as_deref().unwrap_or("-"), action = request.action.name(), target = %request.action.target(), "Applied an API request.");
        self.apply(&request, rules)
    }

    fn snapshot(&self) -> Box<serde_json::value::RawValue> {
        let snapshot = self.desk.snapshot();
        // A desk snapshot is plain data (maps with string keys): serializing it cannot fail.
        serde_json::value::to_raw_value(&snapshot).unwrap_or_else(|error| {
            tracing::error!(%error, "Cannot serialize the delivery state; saved without it.");
            serde_json::value::RawValue::NULL.to_owned()
        })
    }

    fn show_waste(&self, site: &str, summary: alerting::waste::LedgerSummary) {
        self.desk.waste().set(site, summary);
    }

    fn waste_pending(&self) -> Vec<String> {
        self.desk.waste().with_pending()
    }

    fn show_sterilizer(&self, status: alerting::sterilization::SterilizerStatus) {
        self.desk.set_sterilizer(status);
    }

    fn show_risk(&self, risk: weijian_ingest::risk::RiskBoard) {
        self.desk.set_risk(risk);
    }

    fn show_devices(&self, activity: Vec<alerting::DeviceActivity>) {
        self.desk.set_devices(activity);
    }
}

fn record_notice(st: &mut DeskState, notice: &Notice) {
    let to: Vec<String> = notice
        .recipients
        .iter()
        .map(|r| r.supervisor.clone())
        .collect();
    for id in &notice.alerts {
        st.record(
            id,
            HistoryEntry {
                ts: notice.created_at,
                change: format!("notice:{}", notice.kind.as_str()),
                level: notice.level.number(),
                by: to.clone(),
                detail: format!("{} ({} tier)", notice.id, notice.tier.as_str()),
            },
        );
    }
}

/// The `alert_actions.action` of a delivery event.
fn action_name(kind: &DeliveryEventKind) -> &'static str {
    match kind {
        DeliveryEventKind::Escalated { .. } => "escalated",
        DeliveryEventKind::Acknowledged { .. } => "acknowledged",
        DeliveryEventKind::AcknowledgementCleared { .. } => "acknowledgement_cleared",
        DeliveryEventKind::ResolvedManually { .. } => "resolved_manually",
        DeliveryEventKind::Silenced { .. } => "silenced",
        DeliveryEventKind::SilenceEnded { .. } => "silence_ended",
    }
}

/// Who acted, the tier it went to (escalations), and the details.
fn describe(event: &DeliveryEvent) -> (Option<String>, Option<&'static str>, String) {
    match &event.kind {
        DeliveryEventKind::Escalated {
            from,
            to,
            supervisors,
        } => (
            None,
            Some(to.as_str()),
            format!(
                "not acknowledged in time: {} -> {} ({})",
                from.as_str(),
                to.as_str(),
                supervisors.join(", ")
            ),
        ),
        DeliveryEventKind::Acknowledged { by, note } => (Some(by.clone()), None, note.clone()),
        DeliveryEventKind::AcknowledgementCleared { from, to } => (
            None,
            None,
            format!(
                "level {} -> {}: needs a fresh acknowledgement",
                from.as_str(),
                to.as_str()
            ),
        ),
        DeliveryEventKind::ResolvedManually { by, reason } => {
            (Some(by.clone()), None, reason.clone())
        }
        DeliveryEventKind::Silenced {
            silence_id,
            by,
            reason,
            until,
        } => (
            Some(by.clone()),
            None,
            format!("silence {silence_id} until {until}: {reason}"),
        ),
        DeliveryEventKind::SilenceEnded { silence_id, by } => {
            (by.clone(), None, format!("silence {silence_id} ended"))
        }
    }
}
