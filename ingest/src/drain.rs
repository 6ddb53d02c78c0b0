//! The drain task: spool -> decode and validate -> rule engine -> QuestDB -> spool commit.
//!
//! Two modes, so that alerting never depends on the store:
//!
//! - **Normal**: each batch of spooled messages is validated, fed to the rule engine, and its
//!   rows (readings, events, quarantine, alerts) are written in one QuestDB request; then the
//!   spool is committed up to the batch (and no further than the saved rule state).
//! - **Degraded** (entered on a failed write): the drain keeps reading *ahead* for the rule
//!   engine, so alerts still fire and are published while QuestDB is down; data rows are not
//!   kept (they stay in the spool), alert rows are held in memory. Every back-off interval it
//!   tries to write the held alert rows; when that succeeds it rewinds the reader to the
//!   committed position and goes back to Normal, re-reading (and now writing) everything the
//!   outage held back. The engine skips records it has already seen, so nothing is evaluated
//!   twice. Rule snapshots are saved only in Normal mode, after a successful write, so a crash
//!   in Degraded mode replays (and re-emits, with the same alert ids) what was held in memory.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alerting::{AlertEvent, Input};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::alerts::{self, AlertStage};
use crate::message::Message;
use crate::pipeline::Health;
use crate::sink::questdb::{QuestDbWriter, WriteError};
use crate::sink::rows::Row;
use crate::source::mqtt::{Backoff, MqttClient};
use crate::spool::{Position, SpoolError, SpoolReader};
use crate::supervision::outbox::OutboxWriter;
use crate::supervision::{Effects, Request, API_TOPIC};
use crate::telemetry::metrics::Metrics;
use crate::validate::{Processed, Validator};

/// At most this many alert rows wait in memory while QuestDB is down; beyond it the oldest are
/// dropped from memory (they are re-emitted after a restart, since rule snapshots stop while
/// any are held).
const MAX_HELD_ALERT_ROWS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Degraded { next_probe: Instant },
}

/// Everything the drain needs.
pub struct Drain {
    /// The rule engine's timer clock.
    pub(crate) clock: crate::pipeline::Clock,
    pub(crate) reader: SpoolReader,
    /// `None` only while a write runs on the blocking pool (or after that task died).
    pub(crate) writer: Option<QuestDbWriter>,
    pub(crate) questdb: crate::config::QuestDbConfig,
    pub(crate) validator: Validator,
    pub(crate) alerts: AlertStage,
    pub(crate) alert_events: broadcast::Sender<AlertEvent>,
    pub(crate) client: MqttClient,
    pub(crate) metrics: Metrics,
    pub(crate) health: Arc<Health>,
    pub(crate) batch_max_records: usize,
    /// Rows per QuestDB request.
    pub(crate) batch_max_rows: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) retry: Backoff,
    /// The last committed spool position.
    pub(crate) committed: Option<u64>,
    /// Alert rows not yet stored (Degraded mode, or a failed Normal write).
    pub(crate) held_alerts: Vec<Row>,
    /// The last spool position read.
    pub(crate) last_read: Option<u64>,
    /// The last spool position whose rows QuestDB accepted (Normal mode).
    pub(crate) written_up_to: Option<u64>,
    /// Whether the current QuestDB outage was already logged.
    pub(crate) outage_logged: bool,
    /// The last spool position counted in metrics and answered (HJ 212 replies).
    pub(crate) seen_up_to: Option<u64>,
    /// The notice outbox, when delivery is configured.
    pub(crate) outbox: Option<OutboxWriter>,
    /// Notices could not be made durable before shutdown: nothing more is committed, so
    /// the next start re-creates them from the spool.
    pub(crate) outbox_lost: bool,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("committed", &self.committed)
            .field("held_alerts", &self.held_alerts.len())
            .finish_non_exhaustive()
    }
}

impl Drain {
    /// Runs until the spool is closed (after the source stopped) and everything durable was
    /// handled, or until shutdown while QuestDB is unavailable.
    pub async fn run(mut self, shutdown: CancellationToken) {
        // Create the tables at start, so dashboards work before the first message; if QuestDB
        // is down now, the first write tries again.
        if self.probe().await.is_ok() {
            self.health.questdb_up.store(true, Ordering::Relaxed);
            self.metrics.questdb_up.set(1);
        }
        let mut mode = Mode::Normal;
        let mut failures = 0u32;
        loop {
            self.health
                .spool_full
                .store(self.reader.is_full(), Ordering::Relaxed);
            if shutdown.is_cancelled() && matches!(mode, Mode::Degraded { .. }) {
                break;
            }
            let batch = match self
                .reader
                .next_batch(self.batch_max_records, self.flush_interval)
                .await
            {
                Ok(b) => b,
                Err(SpoolError::Closed) => break,
                Err(error) => {
                    tracing::error!(%error, "Cannot read the spool; retrying.");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let keep_rows = mode == Mode::Normal;
            let last = batch.last().map(|r| r.pos.seq());
            if last.is_some() {
                self.last_read = last;
            }
            let mut rows: Vec<Row> = Vec::new();
            let mut effects = Effects::default();
            for record in &batch {
                match Message::decode(&record.data) {
                    Ok(msg) if msg.topic == API_TOPIC => {
                        self.apply_request(record.pos.seq(), &msg, &mut effects);
                    }
                    Ok(msg) => {
                        let processed = self.validator.process(&msg);
                        let events = self.alerts.feed(record.pos.seq(), &processed.inputs);
                        // Re-read records (after an outage) are counted and answered once.
                        if self.seen_up_to.is_none_or(|s| record.pos.seq() > s) {
                            self.seen_up_to = Some(record.pos.seq());
                            self.account(&msg, &processed);
                            self.reply(&processed);
                        }
                        if keep_rows {
                            rows.extend(processed.rows);
                        }
                        self.announce(events, true, &mut effects);
                        self.held_alerts.extend(self.alerts.take_cycle_rows());
                    }
                    Err(error) => {
                        tracing::error!(%error, pos = record.pos.seq(), "Skipped a spool record that is not a message.");
                    }
                }
            }
            if let Some((events, ticked)) = self.alerts.tick_if_due((self.clock)()) {
                // Delivery already saw these events inside the tick.
                self.announce(events, false, &mut effects);
                self.held_alerts.extend(self.alerts.take_cycle_rows());
                self.carry_out(ticked, &mut effects);
            }
            // Notices are durable in the outbox before anything that caused them is committed
            // (and before the state that produced them is saved).
            self.append_to_outbox(std::mem::take(&mut effects.deliveries), &shutdown)
                .await;
            if self.outbox_lost {
                break;
            }

            match mode {
                Mode::Normal => {
                    rows.append(&mut self.held_alerts);
                    match self.write(rows).await {
                        Ok(()) => {
                            if failures > 0 {
                                tracing::info!(failures, "QuestDB accepts writes again.");
                                failures = 0;
                            }
                            if last.is_some() {
                                self.written_up_to = last;
                            }
                            // Commit on every pass, also after an empty batch: the rule
                            // snapshot may only now have caught up with what was written (a
                            // full spool brings no new records until something is committed).
                            let rules_durable =
                                self.alerts.save_if_due(self.reader.is_full()).await;
                            self.commit(self.written_up_to, rules_durable).await;
                        }
                        Err(alert_rows) => {
                            failures += 1;
                            self.hold(alert_rows);
                            let delay = self.retry.next_delay();
                            mode = Mode::Degraded {
                                next_probe: Instant::now() + delay,
                            };
                        }
                    }
                }
                Mode::Degraded { next_probe } if Instant::now() >= next_probe => {
                    let held = std::mem::take(&mut self.held_alerts);
                    let result = match self.probe().await {
                        Ok(()) => self.write(held).await,
                        Err(()) => Err(held),
                    };
                    match result {
                        Ok(()) => {
                            tracing::info!(
                                "QuestDB is back: writing what the spool held during the outage."
                            );
                            self.retry.reset();
                            self.reader.rewind_to_committed();
                            mode = Mode::Normal;
                        }
                        Err(alert_rows) => {
                            failures += 1;
                            self.hold(alert_rows);
                            mode = Mode::Degraded {
                                next_probe: Instant::now() + self.retry.next_delay(),
                            };
                        }
                    }
                }
                Mode::Degraded { .. } => {}
            }
        }
        if let Some(outbox) = self.outbox.take() {
            outbox.shutdown().await;
        }
        if self.outbox_lost {
            tracing::warn!("Drain stopped with notices not written to the outbox; the spool keeps their causes for the next start.");
        } else if mode == Mode::Normal && self.held_alerts.is_empty() {
            let rules_durable = self.alerts.save_if_due(true).await;
            self.commit(self.last_read, rules_durable).await;
            tracing::info!("Drain stopped: everything durable was handled.");
        } else {
            tracing::warn!(
                held_alert_rows = self.held_alerts.len(),
                "Drain stopped while QuestDB was unavailable: the spool keeps the readings, and held alerts are re-evaluated at the next start."
            );
        }
    }

    fn hold(&mut self, alert_rows: Vec<Row>) {
        self.held_alerts.extend(alert_rows);
        if self.held_alerts.len() > MAX_HELD_ALERT_ROWS {
            let excess = self.held_alerts.len() - MAX_HELD_ALERT_ROWS;
            self.held_alerts.drain(..excess);
            tracing::error!(dropped = excess, "Too many alert rows held in memory during the QuestDB outage; the oldest are re-evaluated after a restart.");
        }
    }

    /// Commits the spool up to `written`, but not past the rule state already saved.
    async fn commit(&mut self, written: Option<u64>, rules_durable: Option<u64>) {
        if self.outbox_lost {
            return;
        }
        let (Some(written), Some(rules)) = (written, rules_durable) else {
            return;
        };
        let upto = written.min(rules);
        if self.committed.is_some_and(|c| c >= upto) {
            return;
        }
        match self.reader.commit(Position(upto)).await {
            Ok(()) => self.committed = Some(upto),
            Err(error) => {
                tracing::error!(%error, "Could not record the committed spool position; records may be written again after a restart (deduplicated).")
            }
        }
    }

    /// Applies a journaled API request (acknowledge, resolve, silences, or a refused attempt
    /// kept for the audit trail).
    fn apply_request(&mut self, pos: u64, msg: &Message, effects: &mut Effects) {
        let request = match Request::decode(&msg.payload) {
            Ok(r) => r,
            Err(error) => {
                tracing::error!(%error, pos, "Skipped a journaled API request that does not parse.");
                return;
            }
        };
        if let Some(fx) = self.alerts.apply_request(pos, &request) {
            tracing::info!(request = %request.id, supervisor = request.supervisor.as_deref().unwrap_or("-"), action = request.action.name(), target = %request.action.target(), "Applied an API request.");
            self.carry_out(fx, effects);
        }
    }

    /// Takes delivery's effects: rows are held for the next write (kept through an outage
    /// like alert rows), lifecycle messages published, rule events announced, deliveries
    /// collected for the outbox.
    fn carry_out(&mut self, fx: Effects, into: &mut Effects) {
        let Effects {
            deliveries,
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
        into.deliveries.extend(deliveries);
    }

    /// Appends deliveries to the outbox and waits until they are durable; retries while the
    /// outbox cannot take them (a full outbox holds the drain, and so the spool, back).
    async fn append_to_outbox(
        &mut self,
        deliveries: Vec<crate::notify::Delivery>,
        shutdown: &CancellationToken,
    ) {
        let Some(outbox) = &self.outbox else { return };
        if deliveries.is_empty() {
            return;
        }
        let mut logged = false;
        while let Err(error) = outbox.append(&deliveries).await {
            if !logged {
                tracing::error!(%error, count = deliveries.len(), "Cannot write notices to the outbox; the drain waits (readings stay in the spool).");
                logged = true;
            }
            if shutdown.is_cancelled() {
                self.outbox_lost = true;
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Counts, publishes and (in the next write) stores alert events; with `deliver`, also
    /// hands them to delivery.
    fn announce(&mut self, events: Vec<AlertEvent>, deliver: bool, effects: &mut Effects) {
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

    fn account(&self, msg: &Message, processed: &Processed) {
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

    fn reply(&self, processed: &Processed) {
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

    /// The writer, or a new one if the last write task died with it.
    fn take_writer(&mut self) -> QuestDbWriter {
        self.writer
            .take()
            .unwrap_or_else(|| QuestDbWriter::new(self.questdb.clone()))
    }

    /// Asks QuestDB whether it is back (a real request, also when nothing is waiting).
    async fn probe(&mut self) -> Result<(), ()> {
        let mut writer = self.take_writer();
        match tokio::task::spawn_blocking(move || {
            let result = writer.probe();
            (writer, result)
        })
        .await
        {
            Ok((writer, result)) => {
                self.writer = Some(writer);
                result.map_err(|error| tracing::debug!(%error, "QuestDB is still unavailable."))
            }
            Err(error) => {
                tracing::error!(%error, "The QuestDB probe task failed.");
                Err(())
            }
        }
    }

    /// Writes rows in requests of at most `batch_max_rows` rows (a batch of spool records can
    /// hold far more: arrays of 10,000 readings). On failure the alert rows not yet written are
    /// handed back to be held (data rows stay in the spool; chunks already written are
    /// rewritten later and deduplicated).
    async fn write(&mut self, mut rows: Vec<Row>) -> Result<(), Vec<Row>> {
        let max = self.batch_max_rows.max(1);
        while rows.len() > max {
            let rest = rows.split_off(max);
            if let Err(mut held) = self.write_once(rows).await {
                held.extend(alert_rows(rest));
                return Err(held);
            }
            rows = rest;
        }
        self.write_once(rows).await
    }

    /// One write request.
    async fn write_once(&mut self, rows: Vec<Row>) -> Result<(), Vec<Row>> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut writer = self.take_writer();
        let rows = Arc::new(rows);
        let batch = rows.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let result = writer.write(&batch);
            (writer, result)
        })
        .await;
        let result = match joined {
            Ok((writer, result)) => {
                self.writer = Some(writer);
                result
            }
            Err(error) => {
                tracing::error!(%error, "The QuestDB write task failed; a new writer takes over.");
                Err(WriteError::Unavailable(error.to_string()))
            }
        };
        let rows = Arc::try_unwrap(rows).unwrap_or_else(|shared| (*shared).clone());
        match result {
            Ok(written) => {
                self.health.questdb_up.store(true, Ordering::Relaxed);
                self.metrics.questdb_up.set(1);
                self.metrics
                    .flush_duration
                    .observe(written.duration.as_secs_f64());
                for row in &rows {
                    self.metrics
                        .rows_written
                        .with_label_values(&[row.table()])
                        .inc();
                }
                self.outage_logged = false;
                Ok(())
            }
            Err(error) => {
                self.health.questdb_up.store(false, Ordering::Relaxed);
                if !self.outage_logged {
                    self.outage_logged = true;
                    if error.is_transient() {
                        tracing::warn!(%error, "QuestDB write failed; readings wait in the spool and alerts keep running.");
                    } else {
                        tracing::error!(%error, "QuestDB refused rows; they wait in the spool (operator action may be needed).");
                    }
                }
                self.metrics.questdb_up.set(0);
                let kind = if error.is_transient() {
                    "unavailable"
                } else {
                    "rejected"
                };
                self.metrics.write_errors.with_label_values(&[kind]).inc();
                Err(alert_rows(rows))
            }
        }
    }
}

fn alert_rows(rows: Vec<Row>) -> Vec<Row> {
    rows.into_iter()
        .filter(|r| {
            matches!(
                r,
                Row::Alert(_) | Row::Action(_) | Row::Audit(_) | Row::Cycle(_)
            )
        })
        .collect()
}
