//! The outbox with a scripted notifier: order per target, a dead target does not hold the
//! others, permanent errors move on, duplicates are sent once, and what was not delivered
//! survives a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerting::delivery::{Channel, ChannelKind, NoticeKind, Tier};
use alerting::model::{GridPath, Timestamp};
use alerting::Level;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

use crate::notify::{Addressee, Content, Delivery, Notifier, Notifiers, NotifyError, Retry};
use crate::supervision::outbox::{self, OutboxMetrics, OutboxSender};

/// Answers per target from a script (then `Ok`), and records what it accepted.
#[derive(Default)]
struct Scripted {
    script: Mutex<HashMap<String, VecDeque<Result<(), NotifyError>>>>,
    accepted: Mutex<Vec<(String, String)>>,
}

impl Scripted {
    fn fail(&self, target: &str, times: usize, transient: bool) {
        let status = if transient { 503 } else { 400 };
        let errors = (0..times)
            .map(|_| {
                Err(NotifyError::Http {
                    channel: "webhook",
                    url: target.to_owned(),
                    status,
                    body: String::new(),
                    retry_after: None,
                })
            })
            .collect();
        self.script
            .lock()
            .unwrap()
            .insert(target.to_owned(), errors);
    }

    fn accepted(&self, target: &str) -> Vec<String> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

impl Notifier for Scripted {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }

    fn send(&self, d: &Delivery) -> Result<(), NotifyError> {
        let target = d.channel.target.clone();
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(&target)
            .and_then(VecDeque::pop_front);
        match next {
            Some(Err(e)) => Err(e),
            _ => {
                self.accepted
                    .lock()
                    .unwrap()
                    .push((target, d.notice_id.clone()));
                Ok(())
            }
        }
    }
}

fn delivery(target: &str, notice: &str) -> Delivery {
    Delivery {
        notice_id: notice.to_owned(),
        channel: Channel {
            kind: ChannelKind::Webhook,
            target: target.to_owned(),
            secret_env: None,
            language: None,
        },
        to: vec![Addressee {
            supervisor: "sq".into(),
            name: "协管员".into(),
            mobile: None,
        }],
        content: Content {
            kind: NoticeKind::New,
            tier: Tier::Community,
            alerts: vec!["W2/s/d/1".into()],
            site: "s".into(),
            site_name: "水厂".into(),
            grid: GridPath {
                district: "d".into(),
                street: "st".into(),
                community: "c".into(),
            },
            level: Level::II,
            text_zh: "中文".into(),
            text_en: "English".into(),
            created_at: Timestamp(1),
            links: Vec::new(),
        },
    }
}

fn fast_retry() -> Retry {
    Retry {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
        jitter: 0.0,
    }
}

struct Running {
    writer: outbox::OutboxWriter,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start(dir: &std::path::Path, notifier: Arc<Scripted>) -> Running {
    start_on(dir, notifier, Default::default()).await
}

async fn start_on(
    dir: &std::path::Path,
    notifier: Arc<Scripted>,
    options: weijian_ingest::spool::SpoolOptions,
) -> Running {
    let metrics = OutboxMetrics::register(&Registry::new()).unwrap();
    let (writer, reader) = outbox::open(dir, 8 << 20, metrics.clone(), options)
        .await
        .unwrap();
    let notifiers = Arc::new(Notifiers::default().with(notifier));
    let stop = CancellationToken::new();
    let sender = OutboxSender::new(reader, notifiers, fast_retry(), metrics);
    let task = tokio::spawn(sender.run(stop.clone()));
    Running { writer, stop, task }
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 2 s");
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        self.writer.shutdown().await;
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_fails_for_a_while_gets_everything_in_order_and_others_are_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let n = Arc::new(Scripted::default());
    n.fail("http://down", 5, true);
    let r = start(dir.path(), n.clone()).await;
    r.writer
        .append_deliveries(&[
            delivery("http://down", "n1"),
            delivery("http://up", "n2"),
            delivery("http://down", "n3"),
            delivery("http://up", "n4"),
        ])
        .await
        .unwrap();
    // The healthy target is served while the other one is still failing.
    wait_until(|| n.accepted("http://up").len() == 2).await;
    assert!(n.accepted("http://down").len() < 2);
    wait_until(|| n.accepted("http://down").len() == 2).await;
    assert_eq!(n.accepted("http://down"), ["n1", "n3"]);
    assert_eq!(n.accepted("http://up"), ["n2", "n4"]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_not_retried_and_the_next_notice_goes() {
    let dir = tempfile::tempdir().unwrap();
    let n = Arc::new(Scripted::default());
    n.fail("http://bad", 1, false);
    let r = start(dir.path(), n.clone()).await;
    r.writer
        .append_deliveries(&[delivery("http://bad", "n1"), delivery("http://bad", "n2")])
        .await
        .unwrap();
    wait_until(|| n.accepted("http://bad") == ["n2"]).await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_delivery_appended_twice_is_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let n = Arc::new(Scripted::default());
    let r = start(dir.path(), n.clone()).await;
    let d = delivery("http://up", "n1");
    r.writer.append_deliveries(&[d.clone(), d]).await.unwrap();
    r.writer
        .append_deliveries(&[delivery("http://up", "n2")])
        .await
        .unwrap();
    wait_until(|| n.accepted("http://up").len() == 2).await;
    assert_eq!(n.accepted("http://up"), ["n1", "n2"]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_not_delivered_before_a_stop_is_sent_after_the_restart_and_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let n = Arc::new(Scripted::default());
    n.fail("http://down", 1_000_000, true);
    let r = start(dir.path(), n.clone()).await;
    r.writer
        .append_deliveries(&[
            delivery("http://up", "n1"),
            delivery("http://down", "n2"),
            delivery("http://down", "n3"),
        ])
        .await
        .unwrap();
    wait_until(|| n.accepted("http://up").len() == 1).await;
    r.stop().await;

    // The receiver is back; a new process reads the same outbox.
    let n2 = Arc::new(Scripted::default());
    let r = start(dir.path(), n2.clone()).await;
    wait_until(|| n2.accepted("http://down").len() == 2).await;
    assert_eq!(n2.accepted("http://down"), ["n2", "n3"]);
    assert!(
        n2.accepted("http://up").is_empty(),
        "delivered before the stop: not again"
    );
    r.stop().await;
}

/// Issue #12, item 1: the outbox's disk fills. Appends wait (the drain does not commit past
/// their cause), the outbox says why, and the notices go out once there is space again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_holds_outbox_appends_says_why_and_recovers_by_itself() {
    use weijian_ingest::disk::SimulatedDiskFull;
    use weijian_ingest::durability::{DurableStore, StorageHealth, StorageReporter};
    let dir = tempfile::tempdir().unwrap();
    let n = Arc::new(Scripted::default());
    let disk = Arc::new(SimulatedDiskFull::default());
    let health = Arc::new(StorageHealth::default());
    let options = weijian_ingest::spool::SpoolOptions::new(StorageReporter::new(
        health.clone(),
        DurableStore::Outbox,
    ))
    .with_faults(disk.clone());
    let r = start_on(dir.path(), n.clone(), options).await;
    disk.set_full(true);
    let writer = r.writer.clone();
    let append = tokio::spawn(async move {
        writer
            .append_deliveries(&[delivery("http://up", "n1")])
            .await
    });
    wait_until(|| !health.is_writable(DurableStore::Outbox)).await;
    let reasons = health.reasons().join("; ");
    assert!(reasons.contains("outbox cannot append"), "{reasons}");
    assert!(reasons.contains("No space left on device"), "{reasons}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!append.is_finished(), "durable on a full disk?");
    assert!(n.accepted("http://up").is_empty());

    disk.set_full(false);
    append.await.unwrap().unwrap();
    wait_until(|| n.accepted("http://up") == ["n1"]).await;
    assert!(health.reasons().is_empty(), "{:?}", health.reasons());
    r.stop().await;
}
