//! Medical-waste stores end to end through Mosquitto: bag_in / handover / disinfection events
//! and door / temperature telemetry in; M1-M7 alerts out, at the right level and time, in the
//! `alerts` table and on `weijian/v1/alerts/{site}`; the ledger survives a restart; a
//! redelivered batch counts once; every bag is traceable in `waste_bags`.
//!
//! The rule engine's timers run on a simulated clock moved by the test (as in
//! `alerts_restart.rs`): two days of storage take seconds, and ticks never run ahead of data.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weijian_service::pipeline::Running;
use weijian_tests::harness::{Env, Publisher};
use weijian_tests::questdb_double::Value;

const EVENTS: &str = "weijian/v1/w0/wd0/event";
const TELEMETRY: &str = "weijian/v1/w0/wd0/telemetry";

/// `HH:MM` of local China Standard Time minute-of-day `m` (wrapping).
fn hhmm(m: i64) -> String {
    let m = m.rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// One waste store `w0` (refrigerated, max 8 C, one collection window from 10 minutes before
/// `start_ms` to an hour after it, Beijing time) with one device `wd0`.
fn registry(start_ms: i64, extra: &str) -> String {
    let local = (start_ms / 60_000 + 8 * 60).rem_euclid(1440);
    format!(
        "{extra}\n[[sites]]\nid = \"w0\"\nname = \"社区医院医废暂存间\"\nkind = \"waste_store\"\n\
         grid = {{ district = \"d\", street = \"st\", community = \"c0\" }}\n\
         waste_store = {{ refrigerated = true, max_temp_c = 8.0, collection_windows = [\"{}-{}\"] }}\n\n\
         [[devices]]\nid = \"wd0\"\nsite = \"w0\"\nkind = \"waste_store\"\nexpected_interval_secs = 60\n",
        hhmm(local - 10),
        hhmm(local + 60),
    )
}

/// A store scenario: the environment, the rule clock, a gateway and the MQTT notices seen.
struct Store {
    env: Env,
    text: String,
    /// Event time of minute 0, ms.
    start_ms: i64,
    /// The rule engine's clock (µs).
    sim_now: Arc<AtomicI64>,
    publisher: Publisher,
    /// Event objects published (each one `events` row).
    events: usize,
    /// Telemetry objects published.
    readings: usize,
    notices: Arc<Mutex<Vec<serde_json::Value>>>,
    stop_notices: CancellationToken,
}

impl Store {
    async fn new(extra: &str) -> anyhow::Result<Store> {
        let env = Env::new()?;
        // Minute 0 three days ago: the scenario's 51 hours stay in the past (payload contract: no
        // more than 5 min in the future, 30 days back).
        let start_ms = (chrono::Utc::now().timestamp_millis() - 3 * 86_400_000) / 60_000 * 60_000;
        let text = env.config_text(&registry(start_ms, extra), "");
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
                                    if n["rule"].as_str().is_some_and(|r| r.starts_with('M')) {
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
        let publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-waste");
        Ok(Store {
            env,
            text,
            start_ms,
            sim_now: Arc::new(AtomicI64::new(start_ms * 1_000)),
            publisher,
            events: 0,
            readings: 0,
            notices,
            stop_notices,
        })
    }

    async fn start(&self) -> anyhow::Result<Running> {
        let config = weijian_ingest::config::Config::parse(
            &self.text,
            "test",
            &weijian_ingest::config::ProcessEnv,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let source = self.sim_now.clone();
        let clock: weijian_service::pipeline::Clock =
            Arc::new(move || alerting::model::Timestamp(source.load(Ordering::Relaxed)));
        let (running, _shutdown) = self.env.start_with_clock(config, clock).await?;
        Ok(running)
    }

    fn ts(&self, minute: f64) -> i64 {
        self.start_ms + (minute * 60_000.0) as i64
    }

    /// Publishes event objects (one payload) at their minutes and waits until stored.
    async fn events(&mut self, objects: &[(f64, String)]) -> anyhow::Result<()> {
        let body: Vec<String> = objects
            .iter()
            .map(|(m, rest)| format!(r#"{{"ts":{},{rest}}}"#, self.ts(*m)))
            .collect();
        self.publisher
            .publish(EVENTS, format!("[{}]", body.join(",")))
            .await?;
        self.events += objects.len();
        self.publisher.flushed(Duration::from_secs(30)).await?;
        self.env
            .store
            .wait_for_count_async(
                &self.env.table("events"),
                self.events,
                Duration::from_secs(30),
            )
            .await?;
        Ok(())
    }

    /// Publishes one telemetry object per (minute, values) and waits until stored.
    async fn telemetry(&mut self, samples: &[(f64, String)]) -> anyhow::Result<()> {
        for (m, values) in samples {
            self.publisher
                .publish(
                    TELEMETRY,
                    format!(r#"{{"ts":{},"values":{{{values}}}}}"#, self.ts(*m)),
                )
                .await?;
        }
        self.readings += samples.len();
        self.publisher.flushed(Duration::from_secs(30)).await?;
        self.env
            .store
            .wait_for_count_async(
                &self.env.table("waste_store_env"),
                self.readings,
                Duration::from_secs(30),
            )
            .await?;
        Ok(())
    }

    /// Moves the rule clock to `minute` and waits for a tick at it (ticks run every second).
    async fn clock(&self, minute: f64) {
        self.sim_now
            .store(self.ts(minute) * 1_000, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1_600)).await;
    }

    /// (rule, kind, level, minute) of the M rows in `alerts`, in time order.
    fn m_rows(&self) -> anyhow::Result<Vec<(String, String, i64, i64)>> {
        let table = self.env.table("alerts");
        if self.env.store.count(&table)? == 0 {
            return Ok(Vec::new());
        }
        let mut rows: Vec<(String, String, i64, i64)> = self
            .env
            .store
            .rows(&table, &["rule", "kind", "level", "ts"])?
            .iter()
            .filter(|r| r[0].as_str().is_some_and(|s| s.starts_with('M')))
            .map(|r| {
                let ts = match &r[3] {
                    Value::Timestamp(t) => *t,
                    _ => 0,
                };
                (
                    r[0].as_str().unwrap_or_default().to_string(),
                    r[1].as_str().unwrap_or_default().to_string(),
                    r[2].as_i64().unwrap_or(0),
                    (ts / 1_000 - self.start_ms) / 60_000,
                )
            })
            .collect();
        rows.sort_by_key(|r| (r.3, r.0.clone()));
        Ok(rows)
    }

    /// Waits until at least `n` M rows are stored (plus a moment for unexpected extra ones).
    async fn wait_m_rows(&self, n: usize) -> anyhow::Result<Vec<(String, String, i64, i64)>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let rows = self.m_rows()?;
            if rows.len() >= n {
                tokio::time::sleep(Duration::from_millis(600)).await;
                return self.m_rows();
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("{} M rows, expected {n}: {rows:?}", rows.len());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn notices(&self) -> Vec<(String, String, i64)> {
        self.notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|n| {
                (
                    n["rule"].as_str().unwrap_or_default().to_string(),
                    n["change"].as_str().unwrap_or_default().to_string(),
                    n["level"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    }
}

fn bag(id: &str, kg: f64) -> String {
    format!(
        r#""type":"bag_in","bag_id":"{id}","category":"infectious","weight_kg":{kg},"department":"内科""#
    )
}

fn handover(manifest: &str, ids: &[&str], kg: f64) -> String {
    let ids: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    format!(
        r#""type":"handover","manifest_id":"{manifest}","bag_ids":[{}],"weight_kg":{kg},"carrier":"HZ-MW-01""#,
        ids.join(",")
    )
}

fn row(rule: &str, kind: &str, level: i64, minute: i64) -> (String, String, i64, i64) {
    (rule.into(), kind.into(), level, minute)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_m_rule_fires_at_its_level_and_resolves_in_alerts_and_on_mqtt() -> anyhow::Result<()>
{
    let mut s = Store::new("[alerts]\ntick_interval_secs = 1\n").await?;
    let running = s.start().await?;

    // Intake, a short door opening inside the window, a handover 6 % short (M2 II).
    s.events(&[
        (0.0, bag("old", 2.0)),
        (1.0, bag("b1", 2.0)),
        (2.0, bag("b2", 3.0)),
    ])
    .await?;
    s.telemetry(&[
        (10.0, r#""door_open":true,"temperature_c":5.1"#.into()),
        (14.0, r#""door_open":false,"temperature_c":5.3"#.into()),
    ])
    .await?;
    s.events(&[(60.0, handover("MF-1", &["b1", "b2"], 4.7))])
        .await?;
    // A handover naming a bag that never came in: M3 after the 10-minute grace, on a tick.
    s.events(&[(120.0, handover("MF-2", &["bX"], 1.0))]).await?;
    s.clock(131.0).await;
    s.wait_m_rows(2).await?; // M2, M3: the tick at 131 ran
                             // The door opened outside the collection window (M5), the store warm for 40 min (M6).
    s.telemetry(&[
        (300.0, r#""door_open":true"#.into()),
        (305.0, r#""door_open":false"#.into()),
    ])
    .await?;
    let warm: Vec<(f64, String)> = (0..=12)
        .map(|k| {
            let m = 400.0 + 5.0 * f64::from(k);
            let t = if m <= 440.0 {
                9.5 + f64::from(k % 3) / 10.0
            } else {
                6.0 + f64::from(k % 2) / 10.0
            };
            (m, format!(r#""temperature_c":{t}"#))
        })
        .collect();
    s.telemetry(&warm).await?;
    // Nobody collects "old" and nobody disinfects: M1 IV at 36 h, II at 48 h; M7 at 48 h;
    // M4 48 h after the last handover.
    // Each clock step waits for its alerts, so a slow tick cannot stamp them later.
    s.clock(2160.0).await;
    s.wait_m_rows(7).await?;
    s.clock(2880.0).await;
    s.wait_m_rows(9).await?;
    s.clock(3000.0).await;
    s.wait_m_rows(10).await?;
    // The pickup of "old" (reconciled) and a disinfection resolve everything.
    s.events(&[(3010.0, handover("MF-3", &["old"], 2.0))])
        .await?;
    s.events(&[(
        3020.0,
        r#""type":"disinfection","method":"spray","duration_min":20"#.into(),
    )])
    .await?;
    s.clock(3030.0).await;

    let rows = s.wait_m_rows(15).await?;
    let expected = vec![
        row("M2", "firing", 2, 60),
        row("M3", "firing", 3, 131),
        row("M5", "firing", 3, 300),
        row("M5", "resolved", 3, 305),
        row("M6", "firing", 3, 430),
        row("M6", "resolved", 3, 455),
        row("M1", "firing", 4, 2160),
        row("M1", "level_changed", 2, 2880),
        row("M7", "firing", 4, 2880),
        row("M4", "firing", 3, 3000),
        row("M1", "resolved", 2, 3010),
        row("M2", "resolved", 2, 3010),
        row("M3", "resolved", 3, 3010),
        row("M4", "resolved", 3, 3010),
        row("M7", "resolved", 4, 3020),
    ];
    assert_eq!(rows, expected, "{rows:#?}");

    // The same transitions on MQTT, in order, with evidence a supervisor can act on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notices = s.notices();
    let mut got = notices.clone();
    got.sort();
    let mut want: Vec<(String, String, i64)> = expected
        .iter()
        .map(|(r, k, l, _)| (r.clone(), k.clone(), *l))
        .collect();
    want.sort();
    assert_eq!(got, want, "{notices:#?}");
    let all = s.notices.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let m2 = all
        .iter()
        .find(|n| n["rule"] == "M2" && n["change"] == "firing")
        .unwrap();
    assert_eq!(m2["device"], "*");
    assert_eq!(m2["evidence"]["value"], 6.0, "{m2}");
    let detail = m2["evidence"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("manifest MF-1") && detail.contains("difference 0.30 kg (6.0 %)"),
        "{detail}"
    );
    let m3 = all
        .iter()
        .find(|n| n["rule"] == "M3" && n["change"] == "firing")
        .unwrap();
    assert!(
        m3["evidence"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("bags never weighed in: bX"),
        "{m3}"
    );
    let m1 = all
        .iter()
        .find(|n| n["rule"] == "M1" && n["change"] == "level_changed")
        .unwrap();
    assert!(
        m1["summary"]["zh"]
            .as_str()
            .unwrap_or_default()
            .contains("最久医废已暂存 48.0 小时"),
        "{m1}"
    );
    assert!(all
        .iter()
        .all(|n| n["site"] == "w0" && n["grid"] == "d/st/c0"));

    // Every bag is traceable: in, and handed over under its manifest.
    let bags = s.env.store.rows(
        &s.env.table("waste_bags"),
        &["bag_id", "stage", "manifest_id", "weight_kg"],
    )?;
    let trace: Vec<(String, String)> = bags
        .iter()
        .filter(|r| r[0] == Value::Symbol("old".into()))
        .map(|r| {
            (
                r[1].as_str().unwrap_or_default().to_string(),
                r[2].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(
        trace,
        vec![
            ("in".into(), "-".into()),
            ("handed_over".into(), "MF-3".into())
        ]
    );
    assert_eq!(
        bags.len(),
        3 + 2 + 1 + 1,
        "3 in, MF-1 x2, MF-2 x1, MF-3 x1: {bags:?}"
    );
    s.stop_notices.cancel();
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_47_hour_old_bag_reaches_ii_at_48_h_once() -> anyhow::Result<()> {
    let mut s =
        Store::new("[alerts]\ntick_interval_secs = 1\nsnapshot_interval_secs = 1\n").await?;
    let snapshot = s.env.spool_dir.path().join("alert-engine.json");

    let running = s.start().await?;
    s.events(&[
        (0.0, bag("old", 2.4)),
        (
            1.0,
            r#""type":"disinfection","method":"uv","duration_min":60"#.into(),
        ),
    ])
    .await?;
    s.clock(47.0 * 60.0).await;
    let rows = s.wait_m_rows(1).await?;
    assert_eq!(rows, vec![row("M1", "firing", 4, 2820)]);
    tokio::time::sleep(Duration::from_millis(1_500)).await; // a snapshot is due
    running.stop().await;
    assert!(
        snapshot.is_file(),
        "no rule snapshot at {}",
        snapshot.display()
    );

    // weijian restarts while the 47-hour-old bag is in store.
    let running = s.start().await?;
    s.clock(47.5 * 60.0).await;
    s.clock(48.0 * 60.0).await;
    s.wait_m_rows(2).await?;
    s.clock(48.5 * 60.0).await;
    let rows = s.wait_m_rows(3).await?; // and M7, 48 h after the disinfection at minute 1
    let m1: Vec<_> = rows.iter().filter(|r| r.0 == "M1").cloned().collect();
    assert_eq!(
        m1,
        vec![
            row("M1", "firing", 4, 2820),
            row("M1", "level_changed", 2, 2880)
        ],
        "{rows:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let m1_notices: Vec<_> = s.notices().into_iter().filter(|n| n.0 == "M1").collect();
    assert_eq!(
        m1_notices,
        vec![
            ("M1".into(), "firing".into(), 4),
            ("M1".into(), "level_changed".into(), 2)
        ],
        "announced once each across the restart"
    );
    s.stop_notices.cancel();
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_batch_counts_once_and_raises_no_false_m2_or_m3() -> anyhow::Result<()> {
    let mut s = Store::new("[alerts]\ntick_interval_secs = 1\n").await?;
    let running = s.start().await?;
    let batch = vec![
        (0.0, bag("a", 1.25)),
        (1.0, bag("b", 2.5)),
        (2.0, bag("c", 0.75)),
        (30.0, handover("MF-1", &["a", "b", "c"], 4.48)),
    ];
    s.events(&batch).await?;
    // The gateway sends the same batch again (a redelivery after a lost PUBACK). The events
    // table deduplicates it, so wait on the publisher's acknowledgements and a tick instead.
    let body: Vec<String> = batch
        .iter()
        .map(|(m, rest)| format!(r#"{{"ts":{},{rest}}}"#, s.ts(*m)))
        .collect();
    s.publisher
        .publish(EVENTS, format!("[{}]", body.join(",")))
        .await?;
    s.publisher.flushed(Duration::from_secs(30)).await?;
    s.clock(60.0).await;
    // Then a new bag, and its pickup: one bag in, one out; no M2, no M3.
    s.events(&[
        (100.0, bag("d", 1.0)),
        (130.0, handover("MF-2", &["d"], 1.0)),
    ])
    .await?;
    s.clock(200.0).await;
    let rows = s.m_rows()?;
    assert!(rows.is_empty(), "no M alert: {rows:?}");
    assert_eq!(
        s.env.store.count(&s.env.table("waste_bags"))?,
        8,
        "4 in + 4 handed over, once each"
    );
    running.stop().await;
    s.stop_notices.cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisors_api_shows_a_waste_store_ledger_in_its_site_status() -> anyhow::Result<()> {
    use weijian_tests::api_client::ApiClient;
    use weijian_tests::grid::{config_with_delivery, supervisors_toml, token};
    use weijian_tests::receiver::Receiver;

    let env = Env::new()?;
    let hooks = Receiver::start().await?;
    let start_ms = (chrono::Utc::now().timestamp_millis() - 3_600_000) / 60_000 * 60_000;
    let text = config_with_delivery(
        &env,
        // The grid's two water sites (communities c0, c1) and the store (c0).
        &format!(
            "{}\n{}",
            weijian_tests::grid::registry(0),
            registry(start_ms, "")
        ),
        &supervisors_toml(&hooks, "group_window_secs = 0"),
        "",
    )?;
    let config =
        weijian_ingest::config::Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, _shutdown) = env.start(config).await?;
    let api = ApiClient::new(running.http_addr);
    let (status, body) = api.get("/api/v1/sites/w0/status", &token("sq-c0"))?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["waste"]["bags"], 0, "{body}");

    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gw-w0");
    let ts = |m: i64| start_ms + m * 60_000;
    let objects = [
        format!(r#"{{"ts":{},{}}}"#, ts(0), bag("a", 1.5)),
        format!(
            r#"{{"ts":{},"type":"bag_in","bag_id":"b","category":"sharps","weight_kg":0.5}}"#,
            ts(1)
        ),
        format!(r#"{{"ts":{},{}}}"#, ts(30), handover("MF-1", &["a"], 1.5)),
        format!(r#"{{"ts":{},"type":"disinfection","method":"uv"}}"#, ts(40)),
    ];
    publisher
        .publish(EVENTS, format!("[{}]", objects.join(",")))
        .await?;
    publisher.flushed(Duration::from_secs(30)).await?;
    env.store
        .wait_for_count_async(&env.table("events"), 4, Duration::from_secs(30))
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let waste = loop {
        let (_, body) = api.get("/api/v1/sites/w0/status", &token("sq-c0"))?;
        if body["waste"]["last_disinfection"].is_string() || tokio::time::Instant::now() > deadline
        {
            break body["waste"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(waste["bags"], 1, "{waste}");
    assert_eq!(waste["kg"], 0.5, "{waste}");
    assert_eq!(waste["oldest_bag"]["bag_id"], "b", "{waste}");
    assert_eq!(waste["last_handover"]["manifest_id"], "MF-1", "{waste}");
    assert_eq!(waste["last_handover"]["carrier"], "HZ-MW-01", "{waste}");
    let sharps = waste["by_category"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["category"] == "sharps").cloned())
        .unwrap_or_default();
    assert_eq!(
        (sharps["bags"].clone(), sharps["kg"].clone()),
        (1.into(), 0.5.into())
    );
    let (status, _) = api.get("/api/v1/sites/w0/status", &token("sq-c1"))?;
    assert_eq!(
        status, 403,
        "another community's supervisor does not see the store"
    );
    running.stop().await;
    Ok(())
}
