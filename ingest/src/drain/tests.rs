//! The drain against an in-memory store: batching at a steady trickle, the degraded mode and
//! its recovery, and a crash that must not lose an alert row. A real spool, validator and rule
//! engine; the store is a fake that records every request and can be made to fail or to be
//! slow. Tests that count requests against time run in real time (see the note above them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerting::EventKind;
use tokio_util::sync::CancellationToken;

use super::{Drain, DrainParts};
use crate::alerts::AlertStage;
use crate::config::Config;
use crate::delivery::{AlertDelivery, Effects, NoticeOutbox, OutboxError, OutboxFuture};
use crate::disk::{DiskFaults, DiskOp, SimulatedDiskFull};
use crate::durability::{DurableStore, StorageReporter};
use crate::health::Health;
use crate::message::encode_record;
use crate::sink::questdb::{WriteError, Written};
use crate::sink::rows::Row;
use crate::sink::store::Store;
use crate::spool::{SpoolConfig, SpoolMetrics, SpoolOptions, SpoolWriter};
use crate::telemetry::metrics::Metrics;
use crate::validate::Validator;

const DEVICES: usize = 4;

fn config_text(spool: &std::path::Path, flush_ms: u64) -> String {
    let mut text = format!(
        "[spool]\ndir = {:?}\n\n[questdb]\nconf = \"http::addr=127.0.0.1:1;\"\nflush_interval_ms = {flush_ms}\nbatch_max_rows = 1000\n\n[alerts]\nsnapshot_interval_secs = 1\n",
        spool.display().to_string()
    );
    text.push_str(
        "\n[[sites]]\nid = \"s0\"\nname = \"出厂水\"\nkind = \"water\"\ngrid = { district = \"区\", street = \"街道\", community = \"社区\" }\nwater = { point = \"outlet\", disinfectant = \"free_chlorine\" }\n",
    );
    for d in 0..DEVICES {
        text.push_str(&format!(
            "\n[[devices]]\nid = \"d{d}\"\nsite = \"s0\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n"
        ));
    }
    text
}

/// What the fake store received, request by request.
#[derive(Debug, Default)]
struct Log {
    /// Rows per accepted request.
    requests: Vec<Vec<Row>>,
    /// Refused write attempts.
    refused: u64,
}

impl Log {
    fn rows(&self) -> impl Iterator<Item = &Row> {
        self.requests.iter().flatten()
    }

    /// Distinct (device, seq) of the readings stored: what DEDUP leaves.
    fn readings(&self) -> BTreeSet<(String, u64)> {
        self.rows()
            .filter_map(|r| match r {
                Row::Reading(r) => Some((r.device.to_string(), r.seq.unwrap_or(u64::MAX))),
                _ => None,
            })
            .collect()
    }

    /// Devices with a stored `firing` alert row for `rule`.
    fn firing(&self, rule: &str) -> BTreeSet<String> {
        self.rows()
            .filter_map(|r| match r {
                Row::Alert(e) if e.kind == EventKind::Firing && e.rule.as_str() == rule => {
                    Some(e.device.to_string())
                }
                _ => None,
            })
            .collect()
    }
}

/// A store that keeps what it is sent; `down` makes it refuse like an unreachable QuestDB,
/// `delay_ms` makes each request slow.
#[derive(Debug, Clone, Default)]
struct FakeStore {
    log: Arc<Mutex<Log>>,
    down: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
}

impl Store for FakeStore {
    fn write(&mut self, rows: &[Row]) -> Result<Written, WriteError> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let mut log = self.log.lock().unwrap();
        if self.down.load(Ordering::SeqCst) {
            log.refused += 1;
            return Err(WriteError::Unavailable("connection refused".into()));
        }
        log.requests.push(rows.to_vec());
        Ok(Written {
            rows: rows.len(),
            requests: 1,
            ..Written::default()
        })
    }

    fn probe(&mut self) -> Result<(), WriteError> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(WriteError::Unavailable("connection refused".into()));
        }
        Ok(())
    }
}

struct Rig {
    dir: tempfile::TempDir,
    store: FakeStore,
    flush_ms: u64,
    /// Delivery on: every firing alert becomes a notice for this outbox.
    outbox: Option<FakeOutbox>,
    /// The drain's shutdown token.
    shutdown: CancellationToken,
    /// The drain's health (the durability state included).
    health: Arc<Health>,
    /// The disk the spool and the rule snapshot write through.
    disk: Arc<SimulatedDiskFull>,
    /// When set, the spool writes through this instead of `disk`.
    spool_disk: Option<Arc<dyn DiskFaults>>,
}

impl Rig {
    fn new(flush_ms: u64) -> Rig {
        Rig {
            dir: tempfile::tempdir().unwrap(),
            store: FakeStore::default(),
            flush_ms,
            outbox: None,
            shutdown: CancellationToken::new(),
            health: Arc::new(Health::default()),
            disk: Arc::new(SimulatedDiskFull::default()),
            spool_disk: None,
        }
    }

    /// Opens the spool and starts a drain on it (restoring rule state left by an earlier one).
    async fn start(&self) -> (SpoolWriter, tokio::task::JoinHandle<()>) {
        let text = config_text(self.dir.path(), self.flush_ms);
        let config = Config::parse(&text, "test.toml", &HashMap::<String, String>::new()).unwrap();
        let mut spool = SpoolConfig::new(self.dir.path());
        spool.segment_bytes = 1 << 20;
        spool.max_bytes = 64 << 20;
        let storage = |store| StorageReporter::new(self.health.storage.clone(), store);
        let spool_disk = self
            .spool_disk
            .clone()
            .unwrap_or_else(|| self.disk.clone() as Arc<dyn DiskFaults>);
        let options = SpoolOptions::new(storage(DurableStore::Spool)).with_faults(spool_disk);
        let (writer, reader, _) =
            crate::spool::open_with(spool, SpoolMetrics::unregistered().unwrap(), options)
                .await
                .unwrap();
        let (mut alerts, _) = AlertStage::open(&config);
        alerts.set_storage(storage(DurableStore::RuleSnapshot), self.disk.clone());
        if self.outbox.is_some() {
            alerts.attach_delivery(Box::new(NoticePerFiring));
        }
        let outbox = self
            .outbox
            .clone()
            .map(|o| Box::new(o) as Box<dyn NoticeOutbox>);
        let store = self.store.clone();
        let drain = Drain::new(DrainParts {
            clock: crate::clock::wall_clock(),
            reader,
            new_store: Arc::new(move || Box::new(store.clone())),
            validator: Validator::new(
                config.registry.clone(),
                config.limits,
                &config.mqtt.topic_prefix,
            ),
            alerts,
            alert_events: tokio::sync::broadcast::channel(16).0,
            client: Arc::new(NoBroker),
            metrics: Metrics::unregistered().unwrap(),
            health: self.health.clone(),
            outbox,
            batch_max_rows: config.questdb.batch_max_rows,
            flush_interval: config.questdb.flush_interval,
            retry_max: Duration::from_millis(200),
        });
        // Publishes fail, as with a broker that is away.
        let shutdown = self.shutdown.clone();
        let task = tokio::spawn(async move {
            drain.run(shutdown).await;
        });
        (writer, task)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.store.log.lock().unwrap()
    }
}

/// A reading of device `d` with sequence number `seq`; turbidity 9999 is out of the sensor's
/// range (rule G3 fires at once).
fn reading(d: usize, seq: u64, faulty: bool) -> Vec<u8> {
    let now = crate::clock::now();
    let ts = now.as_millis() - 1_000 + (seq as i64 % 1000);
    let turbidity = if faulty { 9999.0 } else { 0.3 };
    let payload = format!(
        r#"{{"ts":{ts},"seq":{seq},"values":{{"turbidity_ntu":{turbidity},"ph":7.2,"free_chlorine_mg_l":0.6}}}}"#
    );
    encode_record(
        now,
        1,
        &format!("weijian/v1/s0/d{d}/telemetry"),
        payload.as_bytes(),
    )
}

// The batching tests run in real time: the spool's writer is a thread whose fsyncs take
// real time, and under tokio's paused time the clock jumps to the drain's next deadline while
// an append waits for one, so every batch would look due.

#[tokio::test]
async fn a_steady_trickle_costs_one_write_per_flush_interval() {
    let rig = Rig::new(500);
    let (writer, drain) = rig.start().await;
    let started = tokio::time::Instant::now();
    // 100 messages, each durable before the next: about 20 a second (an append waits for
    // the spool's group commit, up to 40 ms, at a trickle), for about 5 s.
    trickle(&writer, 0..100, Duration::from_millis(5)).await;
    let elapsed = started.elapsed();
    drop(writer);
    drain.await.unwrap();
    let log = rig.log();
    assert_eq!(log.readings().len(), 100, "every reading stored");
    assert_eq!(
        log.rows().filter(|r| matches!(r, Row::Reading(_))).count(),
        100,
        "and stored once"
    );
    // One request per flush interval while messages flow, and the last one at shutdown.
    let most = elapsed.as_millis() / 500 + 2;
    assert!(
        log.requests.len() as u128 <= most,
        "{} requests in {elapsed:?} (at most {most})",
        log.requests.len()
    );
    assert!(
        log.requests.len() >= 3,
        "batches are time-bound, not one at the end"
    );
}

/// Appends `seqs` one by one, each durable before the pause `every` and the next.
async fn trickle(writer: &SpoolWriter, seqs: std::ops::Range<u64>, every: Duration) {
    for seq in seqs {
        writer
            .append(reading(seq as usize % DEVICES, seq, false))
            .await
            .unwrap();
        tokio::time::sleep(every).await;
    }
}

/// Appends readings `0..n` at once (each record queued before any is awaited), then waits
/// until the store holds every one.
async fn store_burst(rig: &Rig, writer: &SpoolWriter, n: u64) {
    let acks: Vec<_> = (0..n)
        .map(|seq| writer.append(reading(seq as usize % DEVICES, seq, false)))
        .collect();
    for ack in acks {
        ack.await.unwrap();
    }
    eventually("the whole burst is stored", || {
        rig.log().readings().len() as u64 == n
    })
    .await;
}

/// The flush interval (60 s) is far longer than the test may take, so only the quiet spool
/// after the full batches can send the burst's last rows.
#[tokio::test]
async fn a_bursts_last_rows_are_written_once_the_spool_is_quiet_not_a_flush_interval_later() {
    let rig = Rig::new(60_000);
    let (writer, drain) = rig.start().await;
    // Two full batches (1,000 rows each) and 500 rows left over.
    store_burst(&rig, &writer, 2_500).await;
    let requests = rig.log().requests.len();
    assert!(
        (3..=6).contains(&requests),
        "two or three full requests and the rest, not one per record: {requests}"
    );
    drop(writer);
    drain.await.unwrap();
}

/// The quiet-spool rule holds for one flush interval after a full batch, so a slow trickle
/// after a burst is back to one request per flush interval.
#[tokio::test]
async fn a_slow_trickle_after_a_burst_costs_one_write_per_flush_interval() {
    let rig = Rig::new(500);
    let (writer, drain) = rig.start().await;
    store_burst(&rig, &writer, 2_500).await;
    let after_burst = rig.log().requests.len();
    // About 7 messages/s for 4 s: more than 100 ms between messages, longer than the quiet
    // spell.
    let started = tokio::time::Instant::now();
    trickle(&writer, 2_500..2_530, Duration::from_millis(100)).await;
    let elapsed = started.elapsed();
    drop(writer);
    drain.await.unwrap();
    let log = rig.log();
    assert_eq!(log.readings().len(), 2_530, "every reading stored");
    // At most one per flush interval, the shutdown's, and those of the burst's last flush
    // interval (at most one per quiet spell: 500 ms / 100 ms).
    let most = elapsed.as_millis() / 500 + 2 + 5;
    let requests = (log.requests.len() - after_burst) as u128;
    assert!(
        requests <= most,
        "{requests} requests for 30 messages in {elapsed:?} (at most {most})"
    );
}

#[tokio::test]
async fn an_outage_holds_data_in_the_spool_and_everything_arrives_when_the_store_is_back() {
    let rig = Rig::new(50);
    rig.store.down.store(true, Ordering::SeqCst);
    let (writer, drain) = rig.start().await;
    for seq in 0..200u64 {
        let d = seq as usize % DEVICES;
        writer
            .append(reading(d, seq, (10..14).contains(&seq)))
            .await
            .unwrap();
    }
    // Down: nothing stored, yet the rule engine ran (G3 fired for every device).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rig.log().requests.is_empty());
    assert!(rig.log().refused > 0);
    rig.store.down.store(false, Ordering::SeqCst);
    for seq in 200..300u64 {
        writer
            .append(reading(seq as usize % DEVICES, seq, false))
            .await
            .unwrap();
    }
    // The drain probes with back-off, rewinds and writes what the spool held.
    let back = tokio::time::Instant::now();
    while rig.log().readings().len() < 300 && back.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(writer);
    tokio::time::timeout(Duration::from_secs(20), drain)
        .await
        .expect("the drain finishes once the store is back")
        .unwrap();
    let log = rig.log();
    assert_eq!(log.readings().len(), 300, "every reading stored");
    let all: BTreeSet<String> = (0..DEVICES).map(|d| format!("d{d}")).collect();
    assert_eq!(log.firing("G3"), all, "alert rows held through the outage");
}

#[tokio::test]
async fn a_crash_while_batches_are_unwritten_loses_no_alert_row() {
    let rig = Rig::new(200);
    // Slow writes: rows wait in memory for their batch while the rule state moves on (and
    // is due to be saved every second).
    rig.store.delay_ms.store(1_500, Ordering::SeqCst);
    let (writer, drain) = rig.start().await;
    let mut seq = 0u64;
    // One device's sensor fails in each of the first 4 s (alerts fire meanwhile); then 1.2 s
    // more of readings: a state covering the last failure is due to be saved while its alert
    // row still waits for a write (at least 1.5 s).
    for i in 0..470u64 {
        let faulty = i % 100 == 50 && i < 400;
        let d = if faulty {
            (i / 100) as usize
        } else {
            seq as usize % DEVICES
        };
        writer.append(reading(d, seq, faulty)).await.unwrap();
        seq += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Crash: the task stops at its next await, whatever it held in memory is gone.
    drain.abort();
    let _ = drain.await;
    drop(writer);
    // Restart on the same spool and snapshot, with a fast store.
    rig.store.delay_ms.store(0, Ordering::SeqCst);
    let (writer, drain) = rig.start().await;
    drop(writer);
    tokio::time::timeout(Duration::from_secs(20), drain)
        .await
        .expect("the restarted drain finishes")
        .unwrap();
    let log = rig.log();
    let stored = log.readings();
    let missing: Vec<u64> = (0..seq)
        .filter(|s| !stored.iter().any(|(_, q)| q == s))
        .collect();
    assert!(missing.is_empty(), "readings not stored: {missing:?}");
    let expected: BTreeSet<String> = (0..4).map(|d| format!("d{d}")).collect();
    assert_eq!(
        log.firing("G3"),
        expected,
        "every alert that fired before the crash is stored"
    );
}

#[tokio::test]
async fn notices_are_in_the_outbox_before_the_spool_moves_past_their_cause() {
    let mut rig = Rig::new(50);
    let outbox = FakeOutbox::default();
    outbox.down.store(true, Ordering::SeqCst);
    rig.outbox = Some(outbox.clone());
    let (writer, drain) = rig.start().await;
    // d1's sensor fails (G3 fires: a notice); the outbox cannot take it.
    for seq in 0..40u64 {
        writer
            .append(reading(seq as usize % DEVICES, seq, seq == 5))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(outbox.accepted().is_empty());
    // Crash while the notice is not durable anywhere but in its cause, the spool record.
    drain.abort();
    let _ = drain.await;
    drop(writer);
    // Restart with the outbox back: the record is read again and its notice arrives.
    outbox.down.store(false, Ordering::SeqCst);
    let (writer, drain) = rig.start().await;
    drop(writer);
    tokio::time::timeout(Duration::from_secs(20), drain)
        .await
        .expect("the restarted drain finishes")
        .unwrap();
    let firing = rig.log().firing("G3");
    assert_eq!(firing, BTreeSet::from(["d1".to_owned()]));
    let accepted = outbox.accepted();
    assert!(
        accepted.iter().any(|id| id.starts_with("G3/")),
        "the notice of the G3 alert reached the outbox: {accepted:?}"
    );
    assert_eq!(rig.log().readings().len(), 40, "every reading stored");
}

/// A disk whose spool commits hang (the committed file's fsync never ends) while `stuck`.
#[derive(Debug, Default)]
struct StuckCommits {
    stuck: AtomicBool,
    /// Commits that reached the disk while stuck.
    hung: AtomicU64,
}

impl DiskFaults for StuckCommits {
    fn before(&self, op: DiskOp, path: &std::path::Path) -> std::io::Result<()> {
        let commit = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("committed"));
        if op == DiskOp::Sync && commit && self.stuck.load(Ordering::SeqCst) {
            self.hung.fetch_add(1, Ordering::SeqCst);
            while self.stuck.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_slow_spool_commit_holds_back_neither_alerts_nor_writes() {
    let mut rig = Rig::new(50);
    let disk = Arc::new(StuckCommits::default());
    disk.stuck.store(true, Ordering::SeqCst);
    rig.spool_disk = Some(disk.clone());
    let (writer, drain) = rig.start().await;
    let mut seq = 0u64;
    // Readings until a write is stored and its commit hangs on the disk.
    let started = tokio::time::Instant::now();
    while disk.hung.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(10) {
        writer
            .append(reading(seq as usize % DEVICES, seq, false))
            .await
            .unwrap();
        seq += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(disk.hung.load(Ordering::SeqCst) > 0, "a commit started");
    // While the commit hangs, d2's sensor fails: its alert is evaluated and stored, and the
    // readings after it are written too.
    writer.append(reading(2, seq, true)).await.unwrap();
    let faulty = seq;
    for s in faulty + 1..faulty + 20 {
        writer
            .append(reading(s as usize % DEVICES, s, false))
            .await
            .unwrap();
    }
    let waited = tokio::time::Instant::now();
    while (rig.log().firing("G3").is_empty() || rig.log().readings().len() < (faulty + 20) as usize)
        && waited.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let firing = rig.log().firing("G3");
    let stored = rig.log().readings().len();
    let still_stuck = disk.hung.load(Ordering::SeqCst) > 0 && disk.stuck.load(Ordering::SeqCst);
    // The disk answers again (before asserting, so a failure does not leave a thread hanging):
    // the drain commits and stops cleanly.
    disk.stuck.store(false, Ordering::SeqCst);
    assert!(still_stuck);
    assert_eq!(
        firing,
        BTreeSet::from(["d2".to_owned()]),
        "the alert is stored while the commit hangs"
    );
    assert_eq!(stored, (faulty + 20) as usize);
    drop(writer);
    tokio::time::timeout(Duration::from_secs(20), drain)
        .await
        .expect("the drain finishes once the commit is done")
        .unwrap();
}

/// Delivery that turns every firing alert into one notice (no supervisors, no state).
#[derive(Debug)]
struct NoticePerFiring;

impl AlertDelivery for NoticePerFiring {
    fn on_events(
        &self,
        events: &[alerting::AlertEvent],
        _now: alerting::model::Timestamp,
    ) -> Effects {
        let notices = events
            .iter()
            .filter(|e| e.kind == EventKind::Firing)
            .map(|e| alerting::delivery::Notice {
                id: e.alert_id.clone(),
                kind: alerting::delivery::NoticeKind::New,
                tier: alerting::delivery::Tier::Community,
                recipients: Vec::new(),
                alerts: vec![e.alert_id.clone()],
                site: e.site.clone(),
                site_name: String::new(),
                grid: e.grid.clone(),
                level: e.level,
                text_zh: String::new(),
                text_en: String::new(),
                created_at: e.ts,
                links: Vec::new(),
            })
            .collect();
        Effects {
            notices,
            ..Effects::default()
        }
    }

    fn tick(&self, _now: alerting::model::Timestamp) -> Effects {
        Effects::default()
    }

    fn apply_request(&self, _payload: &[u8], _rules: &mut alerting::Engine) -> Effects {
        Effects::default()
    }

    fn snapshot(&self) -> Box<serde_json::value::RawValue> {
        serde_json::value::RawValue::NULL.to_owned()
    }

    fn show_waste(&self, _site: &str, _summary: alerting::waste::LedgerSummary) {}

    fn waste_pending(&self) -> Vec<String> {
        Vec::new()
    }

    fn show_sterilizer(&self, _status: alerting::sterilization::SterilizerStatus) {}

    fn show_risk(&self, _risk: crate::risk::RiskBoard) {}

    fn show_devices(&self, _activity: Vec<alerting::DeviceActivity>) {}
}

/// An outbox that keeps the ids of the notices it took; `down` makes it refuse them.
#[derive(Debug, Clone, Default)]
struct FakeOutbox {
    taken: Arc<Mutex<Vec<String>>>,
    down: Arc<AtomicBool>,
}

impl FakeOutbox {
    fn accepted(&self) -> Vec<String> {
        self.taken.lock().unwrap().clone()
    }
}

impl NoticeOutbox for FakeOutbox {
    fn append<'a>(
        &'a self,
        notices: &'a [alerting::delivery::Notice],
    ) -> OutboxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(OutboxError("disk full".into()));
            }
            let mut taken = self.taken.lock().unwrap();
            taken.extend(notices.iter().map(|n| n.id.clone()));
            Ok(())
        })
    }

    fn shutdown(self: Box<Self>) -> OutboxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// A broker that is never reachable: best-effort publishes fail, as when rumqttc's queue is
/// full.
#[derive(Debug)]
struct NoBroker;

impl crate::source::mqtt::Publisher for NoBroker {
    fn try_publish(
        &self,
        _topic: &str,
        _payload: Vec<u8>,
    ) -> Result<(), crate::source::mqtt::MqttError> {
        Err(crate::source::mqtt::MqttError::Unavailable)
    }
}

/// Log lines written while a test runs (on its own thread: paused-time tests run the drain on
/// the test's thread).
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    fn lines_with(&self, text: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }
}

#[tokio::test(start_paused = true)]
async fn a_long_outage_is_logged_again_once_a_minute_not_only_at_its_start() {
    let captured = CapturedLog::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rig = Rig::new(50);
    rig.store.down.store(true, Ordering::SeqCst);
    let (writer, drain) = rig.start().await;
    writer.append(reading(0, 0, false)).await.unwrap();
    // Five minutes of a store that refuses every write and probe (every 200 ms).
    tokio::time::sleep(Duration::from_secs(5 * 60 + 1)).await;
    let logged = captured.lines_with("QuestDB write failed");
    assert!(
        (5..=7).contains(&logged),
        "{logged} failure lines in 5 minutes of failures every 200 ms: want one a minute\n{}",
        String::from_utf8_lossy(&captured.0.lock().unwrap())
    );
    // Each repeat says how many failures it stands for.
    assert!(captured.lines_with("unlogged_failures=") >= 5);
    drop(writer);
    drain.abort();
}

/// A drain whose spool cannot be read (its segments were deleted under it, as a second process
/// on the same spool did) still stops on shutdown, in Normal mode too.
#[tokio::test]
async fn shutdown_stops_a_drain_that_cannot_read_the_spool() {
    let rig = Rig::new(100);
    // The drain's first probe of the store takes a while: the records are durable and their
    // segment gone before the drain reads anything.
    rig.store.delay_ms.store(1500, Ordering::SeqCst);
    let (writer, drain) = rig.start().await;
    for seq in 0..3 {
        writer.append(reading(0, seq, false)).await.unwrap();
    }
    for entry in std::fs::read_dir(rig.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wjs") {
            std::fs::remove_file(path).unwrap();
        }
    }
    rig.store.delay_ms.store(0, Ordering::SeqCst);
    // Let the drain meet the read error and settle into its retry loop.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!drain.is_finished());
    rig.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .expect("the drain ignored shutdown while the spool could not be read")
        .unwrap();
    drop(writer);
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Issue #12, item 1: the disk under the spool and the rule snapshot fills. Nothing new is
/// acknowledged, the rules keep running on what was durable, the store says why, and all of it
/// clears by itself once there is space again.
#[tokio::test]
async fn a_full_disk_stops_acknowledgements_but_not_the_rules_and_clears_by_itself() {
    let rig = Rig::new(100);
    let (writer, drain) = rig.start().await;
    writer.append(reading(0, 0, false)).await.unwrap();
    // d1's faulty reading is durable, then the disk fills before the rule state covering it
    // is saved (a save waits for the batch, due 100 ms later).
    writer.append(reading(1, 1, true)).await.unwrap();
    rig.disk.set_full(true);
    // The rules still run on what is durable: d1's alert is raised and stored.
    eventually("d1's alert is stored", || {
        rig.log().firing("G3").contains("d1")
    })
    .await;
    let waiting = tokio::spawn(writer.append(reading(2, 2, true)));
    let storage = rig.health.storage.clone();
    eventually("the spool reports it cannot append", || {
        !storage.is_writable(DurableStore::Spool)
    })
    .await;
    // The rule snapshot (due every second) cannot be saved either, and says so.
    eventually("the snapshot reports it cannot save", || {
        !storage.is_writable(DurableStore::RuleSnapshot)
    })
    .await;
    let reasons = storage.reasons().join("; ");
    assert!(reasons.contains("spool cannot append"), "{reasons}");
    assert!(reasons.contains("rule_snapshot cannot save"), "{reasons}");
    assert!(reasons.contains("No space left on device"), "{reasons}");
    assert!(!waiting.is_finished(), "acknowledged on a full disk");
    assert!(!rig.log().firing("G3").contains("d2"));

    rig.disk.set_full(false);
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the append resumes once there is space")
        .unwrap()
        .unwrap();
    eventually("d2's alert is stored", || {
        rig.log().firing("G3").contains("d2")
    })
    .await;
    eventually("every store writes again", || storage.reasons().is_empty()).await;
    drop(writer);
    drain.await.unwrap();
    assert!(rig.dir.path().join("alert-engine.json").exists());
}

/// Issue #12, item 11: the spool was committed but the rule snapshot is gone. The start is
/// counted and the open alert is rebuilt from the records the spool still holds (the same
/// alert, same id), instead of silently starting with no open alerts.
#[tokio::test]
async fn a_missing_rule_snapshot_is_counted_and_open_alerts_are_rebuilt_from_the_spool() {
    let rig = Rig::new(100);
    let (writer, drain) = rig.start().await;
    writer.append(reading(0, 0, true)).await.unwrap();
    for seq in 1..4 {
        writer.append(reading(1, seq, false)).await.unwrap();
    }
    drop(writer);
    drain.await.unwrap();
    let firing = |log: &Log| -> Vec<String> {
        log.rows()
            .filter_map(|r| match r {
                Row::Alert(e) if e.kind == EventKind::Firing && e.rule.as_str() == "G3" => {
                    Some(e.alert_id.clone())
                }
                _ => None,
            })
            .collect()
    };
    let before = firing(&rig.log());
    assert_eq!(before.len(), 1);
    let snapshot = rig.dir.path().join("alert-engine.json");
    assert!(snapshot.exists());
    std::fs::remove_file(&snapshot).unwrap();

    let (writer, drain) = rig.start().await;
    drop(writer);
    drain.await.unwrap();
    assert_eq!(rig.health.storage.snapshots_missing(), 1);
    let after = firing(&rig.log());
    assert_eq!(after.len(), 2, "the open alert is rebuilt from the spool");
    assert_eq!(after[0], after[1], "as the same alert");
    assert!(snapshot.exists(), "and saved again")
}
