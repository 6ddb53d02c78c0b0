//! The durable outbox: every [`Delivery`] is appended to its own spool (`<spool dir>/outbox`)
//! before the ingest spool is committed past the records that caused it, and a sender task
//! sends them through the [`Notifiers`].
//!
//! Guarantees (issue 5):
//!
//! - **A channel that is down delays notices, never drops them.** Transient errors are
//!   retried forever with exponential back-off ([`Retry`], honouring `Retry-After`); only
//!   permanent errors (a robot that says the token is wrong, a 4xx, an invalid address) give
//!   up, logged at `warn` and counted as `failed`.
//! - **Order per target is kept.** Deliveries to one channel target (kind + URL/address/topic)
//!   go one at a time in outbox order; a delivery waiting for its retry holds the later ones to
//!   the same target, so a `resolved` never overtakes the `new` it closes. Other targets go on.
//! - **Restarts lose nothing.** The outbox spool is committed only up to the oldest delivery
//!   not yet finished; after a crash the unfinished ones are sent again (at least once:
//!   receivers can deduplicate on the notice id, sent as `Idempotency-Key` by the webhook).
//!   Deliveries appended twice (a replay of the ingest spool after a crash re-creates the same
//!   notices with the same ids) are sent once per process ([`Delivery::key`]).
//! - **Bounded memory.** At most [`READ_AHEAD`] deliveries are held in memory; the rest wait
//!   in the outbox spool, which is bounded by `delivery.outbox_max_mib`.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use alerting::delivery::Notice;

use crate::notify::{Decision, Delivery, Notifiers, NotifyError, Retry};
use weijian_ingest::delivery::{NoticeOutbox, OutboxError, OutboxFuture};
use weijian_ingest::spool::{
    self, Position, SpoolConfig, SpoolError, SpoolMetrics, SpoolOptions, SpoolReader, SpoolWriter,
};

/// Deliveries held in memory at most (the rest wait in the outbox spool).
pub const READ_AHEAD: usize = 10_000;
/// Sends running at once (each on a blocking thread).
const MAX_IN_FLIGHT: usize = 4;
/// How often the sender looks at finished sends and due retries while it has work.
const POLL: Duration = Duration::from_millis(20);
/// After shutdown, how long the sender keeps trying what it holds before leaving it for the
/// next start.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Delivery keys remembered for deduplication.
const SEEN_KEYS: usize = 100_000;

/// The outbox's metrics.
#[derive(Debug, Clone)]
pub struct OutboxMetrics {
    /// Delivery attempts by channel kind and outcome (`delivered`, `retried`, `failed`,
    /// `duplicate`).
    pub notices: IntCounterVec,
    /// Deliveries waiting in the outbox (in memory and not yet read).
    pub pending: IntGauge,
    /// Time from a delivery entering the outbox to the receiver accepting it.
    pub delivery_seconds: Histogram,
}

impl OutboxMetrics {
    /// Creates and registers the metrics.
    ///
    /// # Errors
    /// A name registered twice.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            notices: IntCounterVec::new(
                Opts::new(
                    "weijian_notices_total",
                    "Notice deliveries by channel kind and outcome (delivered, retried, failed, duplicate).",
                ),
                &["channel", "outcome"],
            )?,
            pending: IntGauge::new(
                "weijian_outbox_pending",
                "Notice deliveries waiting in the outbox.",
            )?,
            delivery_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "weijian_notice_delivery_seconds",
                    "Time from a notice delivery entering the outbox to the receiver accepting it.",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0, 1800.0,
                ]),
            )?,
        };
        registry.register(Box::new(m.notices.clone()))?;
        registry.register(Box::new(m.pending.clone()))?;
        registry.register(Box::new(m.delivery_seconds.clone()))?;
        // Every channel kind and outcome at 0 from the start, so rate alerts work at once.
        use alerting::delivery::ChannelKind;
        for kind in [
            ChannelKind::Webhook,
            ChannelKind::Dingtalk,
            ChannelKind::Wecom,
            ChannelKind::Email,
            ChannelKind::Mqtt,
        ] {
            for outcome in ["delivered", "retried", "failed", "duplicate"] {
                m.notices.with_label_values(&[kind.as_str(), outcome]);
            }
        }
        Ok(m)
    }
}

/// Appends deliveries to the outbox (cloneable).
#[derive(Debug, Clone)]
pub struct OutboxWriter {
    spool: SpoolWriter,
    metrics: OutboxMetrics,
}

/// Opens (or recovers) the outbox spool in `dir`, writing through and reporting into
/// `options` (a full disk makes appends wait and is reported as the `outbox` store).
///
/// # Errors
/// The directory cannot be created or read, or the sizes are inconsistent.
pub async fn open(
    dir: &Path,
    max_bytes: u64,
    metrics: OutboxMetrics,
    options: SpoolOptions,
) -> Result<(OutboxWriter, SpoolReader), SpoolError> {
    let mut config = SpoolConfig::new(dir);
    config.segment_bytes = (max_bytes / 4).clamp(1 << 20, 64 << 20);
    config.max_bytes = max_bytes.max(2 * config.segment_bytes);
    let spool_metrics = SpoolMetrics::unregistered()
        .map_err(|e| SpoolError::Failed(format!("outbox metrics: {e}")))?;
    let (spool, reader, report) = spool::open_with(config, spool_metrics, options).await?;
    if !report.is_clean() {
        tracing::warn!(dir = %dir.display(), ?report, "The outbox recovered from damage; everything before it was kept.");
    }
    Ok((OutboxWriter { spool, metrics }, reader))
}

impl OutboxWriter {
    /// Appends deliveries and waits until they are durable.
    ///
    /// # Errors
    /// The outbox spool failed or was closed (the caller must not commit past their cause).
    pub async fn append_deliveries(&self, deliveries: &[Delivery]) -> Result<(), SpoolError> {
        let mut last = None;
        for d in deliveries {
            let bytes = serde_json::to_vec(d)
                .map_err(|e| SpoolError::Failed(format!("cannot serialize a delivery: {e}")))?;
            last = Some(self.spool.append(bytes));
            self.metrics.pending.inc();
        }
        // Records become durable in call order: the last one's durability covers the others.
        if let Some(last) = last {
            last.await?;
        }
        Ok(())
    }

    /// Closes the outbox for appends (the sender then finishes what it holds).
    pub async fn shutdown(self) {
        self.spool.shutdown().await;
    }
}

impl NoticeOutbox for OutboxWriter {
    fn append<'a>(&'a self, notices: &'a [Notice]) -> OutboxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move {
            let deliveries: Vec<Delivery> = notices.iter().flat_map(Delivery::fan_out).collect();
            self.append_deliveries(&deliveries)
                .await
                .map_err(|e| OutboxError(e.to_string()))
        })
    }

    fn shutdown(self: Box<Self>) -> OutboxFuture<'static, ()> {
        Box::pin(OutboxWriter::shutdown(*self))
    }
}

/// One delivery in memory.
struct Item {
    pos: u64,
    delivery: Arc<Delivery>,
    attempts: u32,
    not_before: Instant,
    entered: Instant,
}

/// Sends what the outbox holds.
pub struct OutboxSender {
    reader: SpoolReader,
    notifiers: Arc<Notifiers>,
    retry: Retry,
    metrics: OutboxMetrics,
    /// Per target (kind + target), in outbox order.
    queues: HashMap<String, VecDeque<Item>>,
    in_flight: HashSet<String>,
    /// Positions read but not finished.
    unfinished: BTreeSet<u64>,
    last_read: Option<u64>,
    committed: Option<u64>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
}

impl std::fmt::Debug for OutboxSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxSender")
            .field("held", &self.held())
            .field("committed", &self.committed)
            .finish_non_exhaustive()
    }
}

type SendResult = (String, Result<(), NotifyError>);

impl OutboxSender {
    pub fn new(
        reader: SpoolReader,
        notifiers: Arc<Notifiers>,
        retry: Retry,
        metrics: OutboxMetrics,
    ) -> Self {
        let committed = reader.committed().map(Position::seq);
        Self {
            reader,
            notifiers,
            retry,
            metrics,
            queues: HashMap::new(),
            in_flight: HashSet::new(),
            unfinished: BTreeSet::new(),
            last_read: committed,
            committed,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
        }
    }

    fn held(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// Runs until the outbox is closed and empty, or [`SHUTDOWN_GRACE`] after `shutdown` once
    /// the outbox is closed (what is left is sent after the next start).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut sends: JoinSet<SendResult> = JoinSet::new();
        let mut open = true;
        let mut closed_at: Option<Instant> = None;
        loop {
            if open && self.held() < READ_AHEAD {
                let wait = if self.held() > 0 || !sends.is_empty() {
                    POLL
                } else {
                    Duration::from_millis(500)
                };
                match self.reader.next_batch(256, wait).await {
                    Ok(batch) => {
                        for record in batch {
                            self.take(record.pos.seq(), &record.data);
                        }
                    }
                    Err(SpoolError::Closed) => open = false,
                    Err(error) => {
                        tracing::error!(%error, "Cannot read the outbox; retrying.");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            } else {
                tokio::time::sleep(POLL).await;
            }
            while let Some(joined) = sends.try_join_next() {
                match joined {
                    Ok((target, result)) => self.finished(&target, result),
                    Err(error) => {
                        tracing::error!(%error, "A notifier task failed; its delivery is retried.");
                        // The target stays marked in flight until found below.
                    }
                }
            }
            if sends.is_empty() && !self.in_flight.is_empty() {
                // A panicked task: release its target so the delivery is tried again.
                self.in_flight.clear();
            }
            self.start_due(&mut sends);
            self.commit().await;
            if !open {
                let now = Instant::now();
                if self.held() == 0 && sends.is_empty() {
                    break;
                }
                if shutdown.is_cancelled() {
                    let since = *closed_at.get_or_insert(now);
                    if now.duration_since(since) >= SHUTDOWN_GRACE {
                        tracing::warn!(
                            held = self.held(),
                            "Stopping with notices not yet delivered; they are sent after the next start."
                        );
                        break;
                    }
                }
            }
        }
        tracing::info!("Notice outbox stopped.");
    }

    /// A record read from the outbox.
    fn take(&mut self, pos: u64, data: &[u8]) {
        self.last_read = Some(pos);
        let delivery: Delivery = match serde_json::from_slice(data) {
            Ok(d) => d,
            Err(error) => {
                tracing::error!(%error, pos, "Skipped an outbox record that is not a delivery.");
                self.metrics.pending.dec();
                return;
            }
        };
        let key = delivery.key();
        if !self.seen.insert(key.clone()) {
            self.metrics
                .notices
                .with_label_values(&[delivery.channel.kind.as_str(), "duplicate"])
                .inc();
            self.metrics.pending.dec();
            return;
        }
        self.seen_order.push_back(key);
        if self.seen_order.len() > SEEN_KEYS {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        let target = format!(
            "{}|{}",
            delivery.channel.kind.as_str(),
            delivery.channel.target
        );
        self.unfinished.insert(pos);
        let now = Instant::now();
        self.queues.entry(target).or_default().push_back(Item {
            pos,
            delivery: Arc::new(delivery),
            attempts: 0,
            not_before: now,
            entered: now,
        });
    }

    /// Starts the head of every idle queue whose retry time has come.
    fn start_due(&mut self, sends: &mut JoinSet<SendResult>) {
        let now = Instant::now();
        for (target, queue) in &self.queues {
            if sends.len() >= MAX_IN_FLIGHT {
                break;
            }
            if self.in_flight.contains(target) {
                continue;
            }
            let Some(head) = queue.front() else { continue };
            if head.not_before > now {
                continue;
            }
            self.in_flight.insert(target.clone());
            let (target, delivery, notifiers) = (
                target.clone(),
                Arc::clone(&head.delivery),
                Arc::clone(&self.notifiers),
            );
            // Every log line of the send (the notifier's, the HTTP client's) carries the
            // notice, the channel kind and the attempt.
            let span = tracing::info_span!(
                "notice_delivery",
                notice = %delivery.notice_id,
                channel = delivery.channel.kind.as_str(),
                attempt = head.attempts + 1,
            );
            sends.spawn_blocking(move || {
                let _in_delivery = span.enter();
                let result = notifiers.send(&delivery);
                (target, result)
            });
        }
    }

    /// A send finished: the delivery is done, or waits for its retry at the head of its queue.
    fn finished(&mut self, target: &str, result: Result<(), NotifyError>) {
        self.in_flight.remove(target);
        let Some(queue) = self.queues.get_mut(target) else {
            return;
        };
        let Some(head) = queue.front_mut() else {
            return;
        };
        let kind = head.delivery.channel.kind.as_str();
        let done = match result {
            Ok(()) => {
                self.metrics
                    .notices
                    .with_label_values(&[kind, "delivered"])
                    .inc();
                self.metrics
                    .delivery_seconds
                    .observe(head.entered.elapsed().as_secs_f64());
                true
            }
            Err(error) => match crate::notify::retry::decide(&self.retry, &error, head.attempts) {
                Decision::RetryAfter(delay) => {
                    self.metrics
                        .notices
                        .with_label_values(&[kind, "retried"])
                        .inc();
                    if head.attempts == 0 {
                        tracing::warn!(%error, delivery = %head.delivery.describe(), "A notice could not be delivered; retrying with back-off (later notices to this channel wait).");
                    } else {
                        tracing::debug!(%error, attempts = head.attempts + 1, delivery = %head.delivery.describe(), "Notice delivery failed again.");
                    }
                    head.attempts = head.attempts.saturating_add(1);
                    head.not_before = Instant::now() + delay;
                    false
                }
                Decision::Drop => {
                    self.metrics
                        .notices
                        .with_label_values(&[kind, "failed"])
                        .inc();
                    tracing::warn!(%error, delivery = %head.delivery.describe(), "A notice was refused permanently and is not retried: check this channel's configuration.");
                    true
                }
            },
        };
        if done {
            if head.attempts > 0 {
                tracing::info!(attempts = head.attempts + 1, delivery = %head.delivery.describe(), "Notice delivered after retries.");
            }
            let pos = head.pos;
            queue.pop_front();
            if queue.is_empty() {
                self.queues.remove(target);
            }
            self.unfinished.remove(&pos);
            self.metrics.pending.dec();
        }
    }

    /// Commits the outbox up to just before the oldest unfinished delivery.
    async fn commit(&mut self) {
        let upto = match self.unfinished.first() {
            Some(&oldest) => oldest.checked_sub(1),
            None => self.last_read,
        };
        let Some(upto) = upto else { return };
        if self.committed.is_some_and(|c| c >= upto) {
            return;
        }
        match self.reader.commit(Position::at_seq(upto)).await {
            Ok(()) => self.committed = Some(upto),
            Err(error) => {
                tracing::error!(%error, "Could not record the outbox position; some notices may be sent again after a restart.");
            }
        }
    }
}
