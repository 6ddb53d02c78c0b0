//! What the drain does with what a record caused: journaled API requests applied, delivery's
//! effects carried out (rows held for the next write, lifecycle messages published, notices
//! collected), notices made durable in the outbox, alert events announced (metrics, MQTT,
//! subscribers, rows), messages counted and HJ 212 replies published on MQTT.

use std::time::Duration;

use alerting::{AlertEvent, Input};
use tokio_util::sync::CancellationToken;

use super::{Drain, OUTBOX_SHUTDOWN_GRACE};
use crate::alerts;
use crate::delivery::Effects;
use crate::message::Message;
use crate::validate::Processed;

impl Drain {
    /// Applies a journaled API request (acknowledge, resolve, silences, or a refused attempt
    /// kept for the audit trail).
    pub(super) fn apply_request(&mut self, pos: u64, msg: &Message, effects: &mut Effects) {
        if let Some(fx) = self.alerts.apply_request(pos, &msg.payload) {
            self.carry_out(fx, effects);
        }
    }

    /// Takes delivery's effects: rows are held for the next write (kept through an outage
    /// like alert rows), lifecycle messages published, rule events announced, deliveries
    /// collected for the outbox.
    pub(super) fn carry_out(&mut self, fx: Effects, into: &mut Effects) {
        let Effects {
            notices,
            rows,
            messages,
            rule_events,
        } = fx;
        self.announce(rule_events, false, into);
        self.held_alerts.extend(rows);
        for (topic, payload) in messages {
            if let Err(error) = self.client.try_publish(&topic, payload) {
                self.metrics.notifications_dropped.inc();
                tracing::warn!(%error, %topic, "Could not publish an alert lifecycle message (the record is still stored).");
            }
        }
        into.notices.extend(notices);
    }

    /// Appends deliveries to the outbox and waits until they are durable; retries while the
    /// outbox cannot take them (a full outbox holds the drain, and so the spool, back).
    pub(super) async fn append_to_outbox(
        &mut self,
        notices: Vec<alerting::delivery::Notice>,
        shutdown: &CancellationToken,
    ) {
        let Some(outbox) = &self.outbox else { return };
        if notices.is_empty() {
            return;
        }
        let mut logged = false;
        loop {
            // A disk that stays full keeps the append waiting: shutdown gives it a grace.
            let appended = tokio::select! {
                result = outbox.append(&notices) => result,
                () = async {
                    shutdown.cancelled().await;
                    tokio::time::sleep(OUTBOX_SHUTDOWN_GRACE).await;
                } => {
                    tracing::warn!(count = notices.len(), "Stopping while the outbox cannot make notices durable.");
                    self.outbox_lost = true;
                    return;
                }
            };
            let Err(error) = appended else { return };
            if !logged {
                tracing::error!(%error, count = notices.len(), "Cannot write notices to the outbox; the drain waits (readings stay in the spool).");
                logged = true;
            }
            if shutdown.is_cancelled() {
                self.outbox_lost = true;
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// `weijian_open_alerts` and `weijian_offline_devices` from the rule engine's state (after
    /// each tick and each batch of alert events).
    pub(super) fn refresh_alert_gauges(&self) {
        let (by_level, offline) = self.alerts.gauges();
        for (level, n) in alerting::Level::ALL.iter().zip(by_level) {
            self.metrics
                .open_alerts
                .with_label_values(&[level.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.metrics
            .offline_devices
            .set(i64::try_from(offline).unwrap_or(i64::MAX));
    }

    /// Counts, publishes and (in the next write) stores alert events; with `deliver`, also
    /// hands them to delivery.
    pub(super) fn announce(
        &mut self,
        events: Vec<AlertEvent>,
        deliver: bool,
        effects: &mut Effects,
    ) {
        if !events.is_empty() {
            // The engine already holds the state these events report.
            self.refresh_alert_gauges();
        }
        if deliver && !events.is_empty() {
            let fx = self.alerts.deliver(&events, (self.clock)());
            self.carry_out(fx, effects);
        }
        for event in events {
            self.metrics
                .alert_events
                .with_label_values(&[
                    event.rule.as_str(),
                    event.level.as_str(),
                    event.kind.as_str(),
                ])
                .inc();
            tracing::info!(alert_id = %event.alert_id, rule = %event.rule, level = event.level.as_str(), kind = event.kind.as_str(), site = %event.site, "{}", event.summary_en);
            if let Some((topic, payload)) = self.alerts.notification(&event) {
                if let Err(error) = self.client.try_publish(&topic, payload) {
                    self.metrics.notifications_dropped.inc();
                    tracing::warn!(%error, %topic, alert_id = %event.alert_id, "Could not publish an alert notification (the alert is still stored).");
                }
            }
            // Nobody listening is fine.
            let _ = self.alert_events.send(event.clone());
            self.held_alerts.push(alerts::row(event));
        }
    }

    /// Counts a processed message: by channel, its readings, its rejections, the event lag.
    pub(super) fn account(&self, msg: &Message, processed: &Processed) {
        let channel = match msg.topic.rsplit('/').next().unwrap_or("unknown") {
            c @ ("telemetry" | "event" | "hj212" | "status") => c,
            _ => "unknown",
        };
        self.metrics.processed.with_label_values(&[channel]).inc();
        self.metrics.readings.inc_by(processed.readings as u64);
        for reason in &processed.rejected {
            self.metrics
                .rejected
                .with_label_values(&[reason.code()])
                .inc();
        }
        let first = processed.inputs.iter().find_map(|i| match i {
            Input::Reading(r) => Some(r.ts),
            Input::Readings(g) => Some(g.ts),
            _ => None,
        });
        if let Some(ts) = first {
            let lag = msg.received_at.0.saturating_sub(ts.0) as f64 / 1e6;
            self.metrics
                .event_lag
                .with_label_values(&[channel])
                .observe(lag.max(0.0));
        }
    }

    /// Publishes the 9014 replies of an MQTT message (a TCP frame was answered on its
    /// connection by the listener once durable).
    pub(super) fn reply(&self, msg: &Message, processed: &Processed) {
        if msg.from_hj212_tcp() {
            return;
        }
        for (topic, payload) in &processed.replies {
            match self.client.try_publish(topic, payload.clone().into_bytes()) {
                Ok(()) => self.metrics.hj212_replies.inc(),
                Err(error) => {
                    self.metrics.notifications_dropped.inc();
                    tracing::warn!(%error, %topic, "Could not publish an HJ 212 reply (the logger will resend).");
                }
            }
        }
    }
}
