//! Restarting weijian in the middle of a pending duration, and with an alert open, neither
//! resets nor duplicates it: the rule engine's snapshot (`<spool dir>/alert-engine.json`,
//! `[alerts] snapshot_interval_secs = 1`) carries the state over to a new pipeline with the
//! same configuration, spool directory and MQTT client id.
//!
//! The rule engine's timers run on a simulated clock that trails the data: it is moved to a
//! minute only once that minute's reading has been processed, so timer ticks never run ahead
//! of the readings (with the wall clock, a series replayed from the past would look offline to
//! G1 and mature pending alerts "at tick" instead of at the reading).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weijian_service::pipeline::Running;
use weijian_tests::harness::{water_registry, Env, Publisher};
use weijian_tests::questdb_double::Value;

const TOPIC: &str = "weijian/v1/s0/d0/telemetry";

/// The W2 rows of the `alerts` table: (kind, level, minute of the breach, alert id).
type W2Row = (String, i64, i64, String);

struct Scenario {
    env: Env,
    text: String,
    /// Event time of minute 0 (the first low reading), ms.
    start_ms: i64,
    /// The rule engine's clock (µs).
    sim_now: Arc<AtomicI64>,
    publisher: Publisher,
    published: usize,
    /// W2 alert events counted by each run's metrics, by kind.
    events: Vec<(String, f64)>,
}

impl Scenario {
    fn config(&self) -> anyhow::Result<weijian_ingest::config::Config> {
        weijian_ingest::config::Config::parse(
            &self.text,
            "test",
            &weijian_ingest::config::ProcessEnv,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    }

    async fn start(&self) -> anyhow::Result<Running> {
        let source = self.sim_now.clone();
        let clock: weijian_service::pipeline::Clock =
            Arc::new(move || alerting::model::Timestamp(source.load(Ordering::Relaxed)));
        let (running, _shutdown) = self.env.start_with_clock(self.config()?, clock).await?;
        Ok(running)
    }

    /// Stops gracefully after a rule snapshot is due, keeping the run's W2 event counts.
    async fn stop(&mut self, running: Running) {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        for kind in ["pending", "firing", "level_changed", "resolved"] {
            self.events
                .push((kind.to_string(), w2_events(&running, kind)));
        }
        running.stop().await;
    }

    /// One reading a minute over `minutes`, low (0.20 mg/L) or normal (0.55 mg/L) free
    /// chlorine with a little deterministic noise (G2 flags constant values as stuck); waits
    /// until they are stored, then moves the rule clock to the last one.
    async fn publish(
        &mut self,
        minutes: std::ops::RangeInclusive<i64>,
        low: bool,
    ) -> anyhow::Result<()> {
        let last = *minutes.end();
        for minute in minutes {
            let wobble = ((minute * 37) % 11) as f64 / 1000.0;
            let chlorine = if low { 0.20 } else { 0.55 } + wobble;
            let ts = self.start_ms + minute * 60_000;
            self.publisher
                .publish(
                    TOPIC,
                    format!(r#"{{"ts":{ts},"values":{{"free_chlorine_mg_l":{chlorine:.3}}}}}"#),
                )
                .await?;
            self.published += 1;
        }
        self.publisher.flushed(Duration::from_secs(30)).await?;
        self.env
            .store
            .wait_for_count_async(
                &self.env.table("water_quality"),
                self.published,
                Duration::from_secs(30),
            )
            .await?;
        self.sim_now
            .store((self.start_ms + last * 60_000) * 1_000, Ordering::Relaxed);
        Ok(())
    }

    /// Waits for `n` W2 rows in `alerts` (plus a moment for unexpected extra ones).
    async fn w2_rows(&self, n: usize) -> anyhow::Result<Vec<W2Row>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let rows = self.read_w2()?;
            if rows.len() >= n {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return self.read_w2();
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("{} W2 rows, expected {n}: {rows:?}", rows.len());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn read_w2(&self) -> anyhow::Result<Vec<W2Row>> {
        let table = self.env.table("alerts");
        if self.env.store.count(&table)? == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .env
            .store
            .rows(&table, &["rule", "kind", "level", "ts", "alert_id"])?;
        Ok(rows
            .iter()
            .filter(|r| r[0] == Value::Symbol("W2".into()))
            .map(|r| {
                let ts = match &r[3] {
                    Value::Timestamp(t) => *t,
                    other => panic!("ts {other:?}"),
                };
                (
                    r[1].as_str().unwrap_or_default().to_string(),
                    r[2].as_i64().unwrap_or(0),
                    (ts / 1_000 - self.start_ms) / 60_000,
                    r[4].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    fn total_events(&self, kind: &str) -> f64 {
        self.events
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, n)| n)
            .sum()
    }
}

/// `weijian_alert_events_total{rule="W2",kind=...}` of one run.
fn w2_events(running: &Running, kind: &str) -> f64 {
    running
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == "weijian_alert_events_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            let label = |name: &str| {
                m.get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_string())
            };
            label("rule").as_deref() == Some("W2") && label("kind").as_deref() == Some(kind)
        })
        .map(|m| m.get_counter().get_value())
        .sum()
}

fn kinds(rows: &[W2Row]) -> Vec<(&str, i64, i64)> {
    rows.iter()
        .map(|(k, l, m, _)| (k.as_str(), *l, *m))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_pending_and_with_an_open_alert_neither_resets_nor_duplicates(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let registry = format!(
        "[alerts]\nsnapshot_interval_secs = 1\n\n{}",
        water_registry(1)
    );
    let text = env.config_text(&registry, "");

    // A supervisor-side subscriber to the alert notifications, across all restarts.
    let mut o = rumqttc::MqttOptions::new("supervisor", env.broker.host(), env.broker.port());
    o.set_keep_alive(Duration::from_secs(30));
    let (sub, mut sub_loop) = rumqttc::AsyncClient::new(o, 100);
    sub.subscribe("weijian/v1/alerts/#", rumqttc::QoS::AtLeastOnce)
        .await?;
    let notices: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let stop_notices = CancellationToken::new();
    {
        let (notices, stop) = (notices.clone(), stop_notices.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    ev = sub_loop.poll() => match ev {
                        Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                            if let Ok(n) = serde_json::from_slice::<serde_json::Value>(&p.payload) {
                                if n["rule"] == "W2" {
                                    notices.lock().unwrap_or_else(|e| e.into_inner()).push(n);
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }
        });
    }

    let publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-restart");
    // Minute 0 of the breach 2 h ago; the last reading (minute 85) 35 min ago.
    let start_ms = chrono::Utc::now().timestamp_millis() - 120 * 60_000;
    let mut s = Scenario {
        env,
        text,
        start_ms,
        sim_now: Arc::new(AtomicI64::new((start_ms - 60_000) * 1_000)),
        publisher,
        published: 0,
        events: Vec::new(),
    };
    let snapshot = s.env.spool_dir.path().join("alert-engine.json");

    // (a) 5 minutes below the residual, then a restart while W2 is pending.
    let running = s.start().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.publish(0..=4, true).await?;
    let rows = s.w2_rows(1).await?;
    assert_eq!(kinds(&rows), vec![("pending", 2, 0)], "{rows:?}");
    s.stop(running).await;
    assert!(
        snapshot.is_file(),
        "no rule snapshot at {}",
        snapshot.display()
    );

    let running = s.start().await?;
    s.publish(5..=15, true).await?;
    let rows = s.w2_rows(2).await?;
    assert_eq!(
        kinds(&rows),
        vec![("pending", 2, 0), ("firing", 2, 10)],
        "W2 fires 10 minutes after the first low reading, across the restart: {rows:?}"
    );
    let alert_id = rows[0].3.clone();
    assert!(
        alert_id.starts_with("W2/s0/d0/") && alert_id.ends_with(&format!("/{}", start_ms * 1_000)),
        "the alert started at minute 0: {alert_id}"
    );

    // (b) Restarts while W2 is firing: no second `firing`, the same alert escalates to I after
    // 60 minutes and resolves.
    s.stop(running).await;
    let running = s.start().await?;
    s.publish(16..=65, true).await?;
    let rows = s.w2_rows(3).await?;
    assert_eq!(
        kinds(&rows),
        vec![
            ("pending", 2, 0),
            ("firing", 2, 10),
            ("level_changed", 1, 60)
        ],
        "{rows:?}"
    );
    s.stop(running).await;
    let running = s.start().await?;
    s.publish(66..=85, false).await?;
    let rows = s.w2_rows(4).await?;
    s.stop(running).await;
    stop_notices.cancel();

    let k = kinds(&rows);
    assert_eq!(
        k[..3],
        [
            ("pending", 2, 0),
            ("firing", 2, 10),
            ("level_changed", 1, 60)
        ],
        "{rows:?}"
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!((k[3].0, k[3].1), ("resolved", 1), "{rows:?}");
    assert!(
        (76..=81).contains(&k[3].2),
        "resolved after 10 minutes back in range (from minute 66), at {}",
        k[3].2
    );
    assert!(
        rows.iter().all(|r| r.3 == alert_id),
        "one alert id throughout: {rows:?}"
    );

    // Emitted once each, over all four runs (QuestDB's dedup would hide a re-emitted row with
    // the same timestamp, the counters and notifications would not).
    for (kind, n) in [
        ("pending", 1.0),
        ("firing", 1.0),
        ("level_changed", 1.0),
        ("resolved", 1.0),
    ] {
        assert_eq!(s.total_events(kind), n, "W2 {kind} events: {:?}", s.events);
    }
    let notices = notices.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let states: Vec<(String, String, i64, String)> = notices
        .iter()
        .map(|n| {
            (
                n["state"].as_str().unwrap_or_default().to_string(),
                n["change"].as_str().unwrap_or_default().to_string(),
                n["level"].as_i64().unwrap_or(0),
                n["alert_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("firing".into(), "firing".into(), 2, alert_id.clone()),
            ("firing".into(), "level_changed".into(), 1, alert_id.clone()),
            ("resolved".into(), "resolved".into(), 1, alert_id.clone()),
        ],
        "one notification per transition"
    );
    Ok(())
}
