//! The drain's port to alert delivery: what the drain asks of the delivery service (in the
//! `weijian-service` crate: the alert desk, the supervisors' API, the notice outbox) and the
//! work delivery hands back. The drain owns the order: rule events, journaled supervisor
//! requests and timers reach delivery in spool order, and the notices delivery produces are
//! durable in the outbox before the spool is committed past their cause.
//!
//! Both traits are object-safe so the drain holds them boxed; tests use in-memory fakes.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use alerting::delivery::Notice;
use alerting::model::Timestamp;
use alerting::sterilization::SterilizerStatus;
use alerting::waste::LedgerSummary;
use alerting::{AlertEvent, Engine};
use serde_json::value::RawValue;

use crate::sink::rows::Row;

/// The spool topic of journaled supervisor requests (API writes and refused attempts): they
/// are records of the ingest spool, ordered with the data.
pub const API_TOPIC: &str = "$weijian/api";

/// What delivery asks the drain to do.
#[derive(Debug, Default)]
pub struct Effects {
    /// For the outbox (durable before the spool is committed past their cause).
    pub notices: Vec<Notice>,
    /// `alert_actions` and `audit` rows.
    pub rows: Vec<Row>,
    /// MQTT lifecycle messages (`{prefix}/alerts/{site}`), best effort.
    pub messages: Vec<(String, Vec<u8>)>,
    /// Rule-engine events caused here (a manual resolution closes the rule's alert): store
    /// and publish them like any other.
    pub rule_events: Vec<AlertEvent>,
}

impl Effects {
    /// Appends `other`'s effects after these.
    pub fn extend(&mut self, other: Effects) {
        self.notices.extend(other.notices);
        self.rows.extend(other.rows);
        self.messages.extend(other.messages);
        self.rule_events.extend(other.rule_events);
    }

    pub fn is_empty(&self) -> bool {
        self.notices.is_empty()
            && self.rows.is_empty()
            && self.messages.is_empty()
            && self.rule_events.is_empty()
    }
}

/// Alert delivery as the drain sees it. Every method changes delivery's state and does no
/// I/O (no network, no disk): the drain carries out the [`Effects`].
pub trait AlertDelivery: Send + Sync + Debug {
    /// Rule-engine events, in order.
    fn on_events(&self, events: &[AlertEvent], now: Timestamp) -> Effects;

    /// Delivery's timers: groups, repeats, escalations, expiring silences.
    fn tick(&self, now: Timestamp) -> Effects;

    /// Applies the journaled request in a spool record's payload (topic [`API_TOPIC`]);
    /// `rules` closes the rule engine's alert on a manual resolution. A payload that does not
    /// parse is logged and skipped (empty effects).
    fn apply_request(&self, payload: &[u8], rules: &mut Engine) -> Effects;

    /// Delivery's state, saved with the rule engine's snapshot at the same spool position.
    fn snapshot(&self) -> Box<RawValue>;

    /// The latest ledger summary of a medical-waste store, for the supervisors' views.
    fn show_waste(&self, site: &str, summary: LedgerSummary);

    /// Waste stores whose summary changes with time alone (bags waiting for collection).
    fn waste_pending(&self) -> Vec<String>;

    /// The latest status of a sterilizer, for the supervisors' views.
    fn show_sterilizer(&self, status: SterilizerStatus);

    /// The site risk index (shared: the alert stage updates it, the supervisors' views read
    /// it and make draws).
    fn show_risk(&self, risk: crate::risk::RiskBoard);

    /// Each device's latest data, latest sign of life and whether it is offline, for the
    /// supervisors' grid view (sent with the timers, so at most once per tick interval).
    fn show_devices(&self, activity: Vec<alerting::DeviceActivity>);
}

/// A future the outbox returns.
pub type OutboxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The durable notice outbox.
pub trait NoticeOutbox: Send + Sync + Debug {
    /// Appends notices (one delivery per channel of their recipients) and resolves once they
    /// are durable.
    ///
    /// # Errors
    /// The outbox cannot take them (full, failed, closed); the drain retries and must not
    /// commit past their cause meanwhile.
    fn append<'a>(&'a self, notices: &'a [Notice]) -> OutboxFuture<'a, Result<(), OutboxError>>;

    /// Closes the outbox for appends.
    fn shutdown(self: Box<Self>) -> OutboxFuture<'static, ()>;
}

/// The outbox could not make notices durable.
#[derive(Debug, thiserror::Error)]
#[error("the notice outbox cannot take notices: {0}")]
pub struct OutboxError(pub String);
