//! The drain task: spool -> decode and validate -> rule engine -> batched store writes ->
//! spool commit.
//!
//! Rules run as soon as a record is durable; store writes are batched apart from that
//! (`batch.rs`): a batch is sent when it reaches `batch_max_rows` rows or its oldest row has
//! waited `flush_interval` (after a full batch: as soon as the spool goes quiet), on the
//! blocking pool, while the drain goes on validating the next
//! records (at most one write in flight; the drain waits for it only when two batches' worth
//! of rows are waiting). The spool is committed after a write, up to the records it
//! completed, and never past the saved rule state; the commit's fsyncs run in the background
//! (at most one at a time), so the rules never wait for them.
//!
//! Two modes, so that alerting never depends on the store:
//!
//! - **Normal**: as above.
//! - **Degraded** (entered on a failed write: QuestDB unavailable or refusing our
//!   credentials; rows it refuses are quarantined by the writer and never fail a write;
//!   failures are logged at once, then once a minute): the drain keeps reading *ahead* for
//!   the rule engine, so alerts still fire and are published while QuestDB is down; data
//!   rows are not kept (they stay in the spool), alert rows are held in memory. Every back-off
//!   interval it tries to write the held alert rows; when that succeeds it rewinds the reader to the
//!   committed position and goes back to Normal, re-reading (and now writing) everything the
//!   outage held back. The engine skips records it has already seen, so nothing is evaluated
//!   twice. Rule snapshots are saved only in Normal mode, after a successful write, so a crash
//!   in Degraded mode replays (and re-emits, with the same alert ids) what was held in memory.
//!
//! A reloaded registry (SIGHUP) is taken between two batches (`reload.rs`), never in the
//! middle of one.
//!
//! HJ 212 split uploads: the spool is committed no further than the record the oldest
//! incomplete split set began in ([`Validator::oldest_pending_split`]), so a set whose parts
//! straddle a restart is read again and completed; incomplete sets expire on every pass (at
//! the latest receive time read, or the wall clock once the drain has caught up), not only when
//! their device sends again.
//!
//! Layout: the loop and the modes here; `ahead.rs` (decoding the next records while these are
//! judged); `batch.rs` (pending rows, writing a batch);
//! `effects.rs` (what a record caused: requests, delivery's effects, the outbox, announcing
//! events, counting, HJ 212 replies);
//! `reload.rs` (taking a reloaded registry); `feedback.rs` (refusal replies to gateways);
//! `splits.rs` (HJ 212 split uploads: expiry and the commit bound);
//! `tests.rs` (the drain against an in-memory store, under paused time).

mod ahead;
mod batch;
mod effects;
mod feedback;
mod reload;
mod splits;
#[cfg(test)]
mod tests;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use alerting::AlertEvent;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::alerts::{AlertStage, PreparedSave};
use crate::delivery::{Effects, NoticeOutbox, API_TOPIC};
use crate::health::Health;
use crate::reject::Reason;
use crate::sink::questdb::WriteError;
use crate::sink::rows::Row;
use crate::sink::store::{Store, StoreFactory};
use crate::source::mqtt::{Backoff, Publisher};
use crate::spool::{Position, Record, SpoolError, SpoolReader};
use crate::telemetry::metrics::Metrics;
use crate::validate::Validator;

pub use reload::RegistryUpdate;

use batch::{alert_rows, write_all, Failure, FailureLog, Pending, Summary};

/// At most this many alert rows wait in memory while QuestDB is down; beyond it the oldest are
/// dropped from memory (they are re-emitted after a restart, since rule snapshots stop while
/// any are held).
const MAX_HELD_ALERT_ROWS: usize = 100_000;

/// After shutdown, how long the drain still waits for the outbox to make notices durable
/// (product default; it usually takes milliseconds, longer only when its disk is full).
const OUTBOX_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Degraded { next_probe: Instant },
}

/// A batch being written on the blocking pool; its rows complete the spool up to `up_to`.
struct InFlight {
    up_to: Option<u64>,
    /// The rule state captured when the batch was sent, saved once the batch is stored.
    save: Option<PreparedSave>,
    /// The batch, shared with the task: if the task dies, its alert rows are held from here.
    rows: Arc<Vec<Row>>,
    handle: JoinHandle<Attempt>,
}

/// What a write task hands back: the store (for the next write) and how the batch went.
type Attempt = (Box<dyn Store>, Result<Summary, Failure>);

/// What woke the drain up.
enum Woke {
    Records(Result<Vec<Record>, SpoolError>),
    Written(Result<Attempt, tokio::task::JoinError>),
}

/// Everything the drain needs.
pub struct Drain {
    /// The rule engine's timer clock.
    clock: crate::clock::Clock,
    reader: SpoolReader,
    /// `None` only while a write runs on the blocking pool (or after that task died).
    store: Option<Box<dyn Store>>,
    /// Makes a new store if a write task died with the last one.
    new_store: StoreFactory,
    validator: Validator,
    alerts: AlertStage,
    alert_events: broadcast::Sender<AlertEvent>,
    client: Arc<dyn Publisher>,
    metrics: Metrics,
    health: Arc<Health>,
    batch_max_records: usize,
    /// Rows per store request.
    batch_max_rows: usize,
    /// The longest a row waits for its batch to fill.
    flush_interval: Duration,
    retry: Backoff,
    /// Alert rows not yet stored (Degraded mode, or a failed Normal write).
    held_alerts: Vec<Row>,
    /// The last spool position read.
    last_read: Option<u64>,
    /// The last spool position whose rows the store accepted (Normal mode).
    written_up_to: Option<u64>,
    /// The log of write failures, rate-limited through an outage.
    failure_log: FailureLog,
    /// The last spool position counted in metrics and answered (HJ 212 replies).
    seen_up_to: Option<u64>,
    /// The notice outbox, when delivery is configured.
    outbox: Option<Box<dyn NoticeOutbox>>,
    /// Notices could not be made durable before shutdown: nothing more is committed, so
    /// the next start re-creates them from the spool.
    outbox_lost: bool,
    /// Rows waiting for their batch (Normal mode).
    pending: Pending,
    /// The batch being written, if any.
    in_flight: Option<InFlight>,
    /// Reloaded registries (SIGHUP), applied between batches.
    registry_updates: Option<mpsc::UnboundedReceiver<RegistryUpdate>>,
    /// Refusal replies to gateways (off unless [`Drain::with_feedback`]).
    feedback: feedback::Feedback,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("committed", &self.reader.committed())
            .field("pending_rows", &self.pending.len())
            .field("held_alerts", &self.held_alerts.len())
            .finish_non_exhaustive()
    }
}

/// What the drain is built from (see [`Drain::new`]).
#[allow(missing_debug_implementations)] // Its fields are the drain's, shown by `Drain`'s Debug.
pub struct DrainParts {
    pub clock: crate::clock::Clock,
    pub reader: SpoolReader,
    pub new_store: StoreFactory,
    pub validator: Validator,
    pub alerts: AlertStage,
    pub alert_events: broadcast::Sender<AlertEvent>,
    pub client: Arc<dyn Publisher>,
    pub metrics: Metrics,
    pub health: Arc<Health>,
    pub outbox: Option<Box<dyn NoticeOutbox>>,
    pub batch_max_rows: usize,
    pub flush_interval: Duration,
    pub retry_max: Duration,
}

impl Drain {
    /// Assembles a drain that reads from `reader` and writes through `new_store`'s stores.
    pub fn new(parts: DrainParts) -> Drain {
        let DrainParts {
            clock,
            reader,
            new_store,
            validator,
            alerts,
            alert_events,
            client,
            metrics,
            health,
            outbox,
            batch_max_rows,
            flush_interval,
            retry_max,
        } = parts;
        let batch_max_rows = batch_max_rows.max(1);
        Drain {
            clock,
            reader,
            store: Some(new_store()),
            new_store,
            validator,
            alerts,
            alert_events,
            client,
            metrics,
            health,
            // Records per read: rules see each record as soon as it is durable; rows gather
            // in `pending` until their batch is due.
            batch_max_records: batch_max_rows.min(1_000),
            batch_max_rows,
            flush_interval,
            retry: Backoff::new(Duration::from_millis(100), retry_max),
            held_alerts: Vec::new(),
            last_read: None,
            written_up_to: None,
            failure_log: FailureLog::default(),
            seen_up_to: None,
            outbox,
            outbox_lost: false,
            pending: Pending::default(),
            in_flight: None,
            registry_updates: None,
            feedback: feedback::Feedback::new(
                crate::config::FeedbackSettings {
                    mqtt_replies: false,
                    ..crate::config::FeedbackSettings::default()
                },
                "",
            ),
        }
    }

    /// Runs until the spool is closed (after the source stopped) and everything durable was
    /// handled, or until shutdown while QuestDB is unavailable.
    pub async fn run(mut self, shutdown: CancellationToken) {
        // A committed position without the rule snapshot that covered it: rebuild, loudly.
        self.alerts
            .rebuild_if_snapshot_lost(&mut self.reader, &self.health.storage);
        // Create the tables at start, so dashboards work before the first message; if QuestDB
        // is down now, the first write tries again.
        match self.probe().await {
            Ok(()) => {
                self.health.questdb_up.store(true, Ordering::Relaxed);
                self.metrics.questdb_up.set(1);
                tracing::info!("QuestDB answered at start: readings are written as they come.");
            }
            Err(error) => tracing::warn!(
                %error,
                "QuestDB did not answer at start: readings wait in the spool and are written when it answers; alerts run meanwhile."
            ),
        }
        let mut mode = Mode::Normal;
        let mut failures = 0u32;
        loop {
            // Between batches: never while a batch's records are being judged.
            self.apply_registry_updates();
            self.health
                .spool_full
                .store(self.reader.is_full(), Ordering::Relaxed);
            if shutdown.is_cancelled() && matches!(mode, Mode::Degraded { .. }) {
                break;
            }
            let wait = self.read_wait();
            let max_records = self.batch_max_records;
            let woke = match self.in_flight.as_mut() {
                Some(flight) => tokio::select! {
                    joined = &mut flight.handle => Woke::Written(joined),
                    batch = self.reader.next_batch(max_records, wait) => Woke::Records(batch),
                },
                None => Woke::Records(self.reader.next_batch(max_records, wait).await),
            };
            let caught_up = matches!(&woke, Woke::Records(Ok(records)) if records.is_empty());
            let batch = match woke {
                Woke::Written(joined) => {
                    if let Some(flight) = self.in_flight.take() {
                        self.finish_write(flight, joined, &mut mode, &mut failures)
                            .await;
                    }
                    Vec::new()
                }
                Woke::Records(Ok(batch)) => batch,
                Woke::Records(Err(SpoolError::Closed)) => break,
                Woke::Records(Err(error)) => {
                    // Shutdown is honoured in every mode: the spool may never become readable
                    // again (e.g. another process deleted its segments), and what was not
                    // committed is read again at the next start.
                    if shutdown.is_cancelled() {
                        tracing::warn!(%error, "Stopping while the spool cannot be read; what was not committed is read again at the next start.");
                        break;
                    }
                    tracing::error!(%error, "Cannot read the spool; retrying.");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = shutdown.cancelled() => {}
                    }
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
            // Every log line about a record of this batch names the batch (its size and last
            // spool position); the span covers decoding, rules and delivery decisions.
            let records = batch.len();
            let span = if batch.is_empty() {
                tracing::Span::none()
            } else {
                tracing::info_span!("drain_batch", records = records, last = last)
            };
            let started = std::time::Instant::now();
            let mut latest_received = None;
            // Records are judged in spool order; the next chunk decodes meanwhile (`ahead.rs`).
            let mut ahead = ahead::Ahead::new(batch, self.validator.decoder());
            while let Some(chunk) = ahead.next_chunk().instrument(span.clone()).await {
                let _in_batch = span.enter();
                for decoded in chunk {
                    let seq = decoded.seq;
                    match decoded.msg {
                        Ok(msg) if msg.topic == API_TOPIC => {
                            self.apply_request(seq, &msg, &mut effects);
                        }
                        Ok(msg) => {
                            let processed =
                                self.validator.process_decoded(seq, &msg, decoded.ahead);
                            let events = self.alerts.feed(seq, &processed.inputs);
                            latest_received = latest_received.max(Some(msg.received_at));
                            // Re-read records (after an outage) are counted and answered once.
                            if self.seen_up_to.is_none_or(|s| seq > s) {
                                self.seen_up_to = Some(seq);
                                self.account(&msg, &processed);
                                self.reply(&msg, &processed);
                                self.feedback.refused(
                                    &msg,
                                    &processed.rows,
                                    self.client.as_ref(),
                                    &self.metrics,
                                    std::time::Instant::now(),
                                );
                            }
                            if keep_rows {
                                rows.extend(processed.rows);
                            }
                            self.announce(events, true, &mut effects);
                            self.held_alerts.extend(self.alerts.take_cycle_rows());
                        }
                        Err(error) => {
                            tracing::error!(%error, pos = seq, "Skipped a spool record that is not a message.");
                        }
                    }
                }
            }
            let in_batch = span.enter();
            let expired = self.expire_split_uploads(caught_up, latest_received);
            if keep_rows {
                rows.extend(expired);
            }
            if let Some((events, ticked)) = self.alerts.tick_if_due((self.clock)()) {
                // Delivery already saw these events inside the tick.
                self.announce(events, false, &mut effects);
                self.refresh_alert_gauges();
                self.held_alerts.extend(self.alerts.take_cycle_rows());
                self.held_alerts
                    .extend(self.alerts.take_risk_rows((self.clock)()));
                self.carry_out(ticked, &mut effects);
            }
            drop(in_batch);
            if records > 0 {
                let waited = ahead.waited();
                self.observe_stage("records", started.elapsed().saturating_sub(waited));
                self.observe_stage("decode_wait", waited);
            }
            // Notices are durable in the outbox before anything that caused them is committed
            // (and before the state that produced them is saved).
            let started = std::time::Instant::now();
            let notices = std::mem::take(&mut effects.notices);
            let any_notice = !notices.is_empty();
            self.append_to_outbox(notices, &shutdown)
                .instrument(span)
                .await;
            if any_notice {
                self.stage("outbox", started);
            }
            if self.outbox_lost {
                break;
            }

            match mode {
                Mode::Normal => {
                    rows.append(&mut self.held_alerts);
                    self.pending.add(rows, last, Instant::now());
                    let started = std::time::Instant::now();
                    if self.send_if_due(&mut mode, &mut failures, caught_up).await {
                        self.stage("store_wait", started);
                    }
                    // Commit on every pass, also after an empty batch: the rule snapshot may
                    // only now have caught up with what was written (a full spool brings no
                    // new records until something is committed).
                    if mode == Mode::Normal {
                        // With nothing unwritten, the state can be saved as it is (timers
                        // may have changed it while no record arrived).
                        let started = std::time::Instant::now();
                        let rules_durable = if self.in_flight.is_none() && self.pending.is_empty() {
                            self.alerts.save_if_due(self.reader.is_full()).await
                        } else {
                            self.alerts.durable_up_to().await
                        };
                        self.stage("snapshot", started);
                        // In the background: the rules never wait for the commit's fsyncs.
                        let started = std::time::Instant::now();
                        self.commit(self.written_up_to, rules_durable, false).await;
                        self.stage("commit", started);
                    }
                }
                Mode::Degraded { next_probe } if Instant::now() >= next_probe => {
                    let held = std::mem::take(&mut self.held_alerts);
                    let result = match self.probe().await {
                        Ok(()) => self.write_now(held).await,
                        Err(_) => Err(held),
                    };
                    match result {
                        Ok(()) => {
                            tracing::info!(
                                "QuestDB is back: writing what the spool held during the outage."
                            );
                            self.retry.reset();
                            self.reader.finish_commit().await;
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
        if mode == Mode::Normal && !self.outbox_lost {
            self.flush_all(&mut mode, &mut failures).await;
        }
        if let Some(outbox) = self.outbox.take() {
            outbox.shutdown().await;
        }
        // A commit still running in the background finishes before the drain reports.
        self.reader.finish_commit().await;
        if self.outbox_lost {
            tracing::warn!("Drain stopped with notices not written to the outbox; the spool keeps their causes for the next start.");
        } else if mode == Mode::Normal && self.held_alerts.is_empty() {
            let rules_durable = self.alerts.save_if_due(true).await;
            self.commit(self.written_up_to, rules_durable, true).await;
            tracing::info!("Drain stopped: everything durable was handled.");
        } else {
            tracing::warn!(
                held_alert_rows = self.held_alerts.len(),
                "Drain stopped while QuestDB was unavailable: the spool keeps the readings, and held alerts are re-evaluated at the next start."
            );
        }
    }

    /// How long the next read may wait for records: until the pending batch needs looking at
    /// ([`Pending::read_wait`]), or one flush interval when nothing is pending or a write is
    /// running (ticks and snapshots are checked every pass).
    fn read_wait(&self) -> Duration {
        match self.pending.read_wait(Instant::now(), self.flush_interval) {
            Some(wait) if self.in_flight.is_none() => wait,
            _ => self.flush_interval,
        }
    }

    /// Sends the pending batch when it is due and no write is running; waits for the running
    /// write first when two batches' worth of rows are waiting (bounded memory). `quiet`: the
    /// last read waited and brought nothing.
    /// Returns whether it waited for the running write.
    async fn send_if_due(&mut self, mode: &mut Mode, failures: &mut u32, quiet: bool) -> bool {
        let mut waited = false;
        if self.in_flight.is_some() && self.pending.len() >= 2 * self.batch_max_rows {
            waited = true;
            self.await_in_flight(mode, failures).await;
            if *mode != Mode::Normal {
                return waited;
            }
        }
        if self.in_flight.is_none()
            && self.pending.is_due(
                Instant::now(),
                self.flush_interval,
                self.batch_max_rows,
                quiet,
            )
        {
            self.start_write().await;
        }
        waited
    }

    /// Counts the time since `started` in `weijian_drain_stage_seconds{stage}`.
    fn stage(&self, stage: &str, started: std::time::Instant) {
        self.observe_stage(stage, started.elapsed());
    }

    fn observe_stage(&self, stage: &str, took: Duration) {
        self.metrics
            .drain_stage
            .with_label_values(&[stage])
            .observe(took.as_secs_f64());
    }

    /// Writes everything pending and waits for it (shutdown).
    async fn flush_all(&mut self, mode: &mut Mode, failures: &mut u32) {
        self.await_in_flight(mode, failures).await;
        if *mode == Mode::Normal && !self.pending.is_empty() {
            self.start_write().await;
            self.await_in_flight(mode, failures).await;
        }
    }

    /// Starts writing the pending batch on the blocking pool, capturing the rule state when
    /// a save is due (every alert row it produced is in this batch or already stored). A
    /// batch without rows (records that produce none) completes its position at once.
    async fn start_write(&mut self) {
        let (rows, up_to) = self.pending.take(self.batch_max_rows, Instant::now());
        if rows.is_empty() {
            if up_to.is_some() {
                self.written_up_to = up_to;
            }
            return;
        }
        let save = self.alerts.prepare_save(self.reader.is_full());
        let mut store = self.take_store();
        let max_rows = self.batch_max_rows;
        let rows = Arc::new(rows);
        let batch = rows.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let result = write_all(store.as_mut(), &batch, max_rows);
            (store, result)
        });
        self.in_flight = Some(InFlight {
            up_to,
            save,
            rows,
            handle,
        });
    }

    async fn await_in_flight(&mut self, mode: &mut Mode, failures: &mut u32) {
        if let Some(mut flight) = self.in_flight.take() {
            let joined = (&mut flight.handle).await;
            self.finish_write(flight, joined, mode, failures).await;
        }
    }

    /// Takes a finished write: on success the spool may be committed up to its position and
    /// the rule state captured with it is saved; on failure the drain turns Degraded (data
    /// rows stay in the spool, alert rows are held, the captured state is dropped).
    async fn finish_write(
        &mut self,
        flight: InFlight,
        joined: Result<Attempt, tokio::task::JoinError>,
        mode: &mut Mode,
        failures: &mut u32,
    ) {
        let InFlight {
            up_to, save, rows, ..
        } = flight;
        let result = match joined {
            Ok((store, result)) => {
                self.store = Some(store);
                result
            }
            Err(error) => {
                tracing::error!(%error, "The QuestDB write task failed; a new writer takes over.");
                Err(Failure {
                    error: WriteError::Unavailable(error.to_string()),
                    unwritten_alerts: alert_rows(&rows),
                })
            }
        };
        match result {
            Ok(summary) => {
                self.written(&summary);
                if *failures > 0 {
                    tracing::info!(failures = *failures, "QuestDB accepts writes again.");
                    *failures = 0;
                }
                if up_to.is_some() {
                    self.written_up_to = up_to;
                }
                if let Some(save) = save {
                    self.alerts.save_prepared(save, self.reader.is_full()).await;
                }
            }
            Err(failure) => {
                *failures += 1;
                self.write_failed(&failure.error);
                self.hold(failure.unwritten_alerts);
                // Rows read meanwhile: data stays in the spool (re-read after the rewind),
                // alert rows exist only here.
                let pending_alerts = self.pending.take_alert_rows();
                self.hold(pending_alerts);
                *mode = Mode::Degraded {
                    next_probe: Instant::now() + self.retry.next_delay(),
                };
            }
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

    /// Commits the spool up to `written`, but not past the rule state already saved: in the
    /// background (the drain goes on reading and alerting while the committed file is
    /// fsynced), or with `wait`, waiting for it (shutdown).
    async fn commit(&mut self, written: Option<u64>, rules_durable: Option<u64>, wait: bool) {
        if self.outbox_lost {
            return;
        }
        let (Some(written), Some(rules)) = (written, rules_durable) else {
            return;
        };
        let Some(upto) = self.split_commit_bound(written.min(rules)) else {
            return;
        };
        let upto = Position(upto);
        let result = if wait {
            self.reader.commit(upto).await
        } else {
            self.reader.commit_in_background(upto).await
        };
        if let Err(error) = result {
            tracing::error!(%error, "Could not record the committed spool position; records may be written again after a restart (deduplicated).");
        }
    }

    /// The store, or a new one if the last write task died with it.
    fn take_store(&mut self) -> Box<dyn Store> {
        self.store.take().unwrap_or_else(|| (self.new_store)())
    }

    /// Asks QuestDB whether it is back (a real request, also when nothing is waiting).
    async fn probe(&mut self) -> Result<(), String> {
        let mut store = self.take_store();
        match tokio::task::spawn_blocking(move || {
            let result = store.probe();
            (store, result)
        })
        .await
        {
            Ok((store, result)) => {
                self.store = Some(store);
                result.map_err(|error| {
                    self.health.questdb_up.store(false, Ordering::Relaxed);
                    self.metrics.questdb_up.set(0);
                    self.failure_log.failed(&error, Instant::now());
                    error.to_string()
                })
            }
            Err(error) => {
                tracing::error!(%error, "The QuestDB probe task failed.");
                Err(error.to_string())
            }
        }
    }

    /// Writes `rows` and waits (Degraded mode: the held alert rows). On failure hands back
    /// the alert rows not written.
    async fn write_now(&mut self, rows: Vec<Row>) -> Result<(), Vec<Row>> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut store = self.take_store();
        let max_rows = self.batch_max_rows;
        let rows = Arc::new(rows);
        let batch = rows.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let result = write_all(store.as_mut(), &batch, max_rows);
            (store, result)
        })
        .await;
        match joined {
            Ok((store, result)) => {
                self.store = Some(store);
                match result {
                    Ok(summary) => {
                        self.written(&summary);
                        Ok(())
                    }
                    Err(failure) => {
                        self.write_failed(&failure.error);
                        Err(failure.unwritten_alerts)
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "The QuestDB write task failed; a new writer takes over.");
                self.write_failed(&WriteError::Unavailable(error.to_string()));
                Err(alert_rows(&rows))
            }
        }
    }

    /// Health and metrics after a successful batch.
    fn written(&mut self, summary: &Summary) {
        self.health.questdb_up.store(true, Ordering::Relaxed);
        self.metrics.questdb_up.set(1);
        if summary.requests > 0 {
            self.metrics
                .flush_duration
                .observe(summary.duration.as_secs_f64() / f64::from(summary.requests));
        }
        for (table, n) in &summary.per_table {
            self.metrics
                .rows_written
                .with_label_values(&[table])
                .inc_by(*n);
        }
        self.metrics
            .rejected
            .with_label_values(&[Reason::StoreRejected.code()])
            .inc_by(summary.quarantined);
        if summary.refused_requests > 0 {
            self.metrics
                .write_errors
                .with_label_values(&["refused"])
                .inc_by(u64::from(summary.refused_requests));
        }
        self.failure_log.recovered();
    }

    /// Health, metrics and the log after a failed write.
    fn write_failed(&mut self, error: &WriteError) {
        self.health.questdb_up.store(false, Ordering::Relaxed);
        self.failure_log.failed(error, Instant::now());
        self.metrics.questdb_up.set(0);
        self.metrics
            .write_errors
            .with_label_values(&[error.kind()])
            .inc();
    }
}
