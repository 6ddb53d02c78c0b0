//! Dental sterilizers end to end through Mosquitto (S1-S6): simulated cycles published as a
//! gateway would (cycle events, chamber telemetry with absolute pressure, Bowie-Dick and BI
//! results), verdicts in `sterilization_cycles`, S alerts in `alerts`.
//!
//! The rule engine's timers run on a simulated clock that the test moves only after the data
//! it covers is stored (as in `alerts_restart.rs`), so verdicts become final exactly when the
//! test says the grace period has passed.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weijian_service::pipeline::Running;
use weijian_tests::harness::{Env, Publisher};
use weijian_tests::questdb_double::Value;

/// Saturation pressure (kPa absolute) of steam at `t` C, IAPWS-IF97 region 4.
fn p_sat(t: f64) -> f64 {
    alerting::sterilization::steam::p_sat_kpa(t).unwrap_or(f64::NAN)
}

/// Sites: `<id>` prevac or gravity with its BI interval; one autoclave `<id>-ac` each.
fn registry(sites: &[(&str, &str, u32)]) -> String {
    let mut toml = String::from("[alerts]\ntick_interval_secs = 1\nsnapshot_interval_secs = 1\n\n");
    toml.push_str(&dental_sites(sites));
    toml
}

/// The `[[sites]]` and `[[devices]]` of [`registry`], in community `c0` of the grid of
/// `weijian_tests::grid`.
fn dental_sites(sites: &[(&str, &str, u32)]) -> String {
    let mut toml = String::new();
    for (id, kind, bi_days) in sites {
        toml.push_str(&format!(
            "[[sites]]\nid = \"{id}\"\nname = \"口腔诊所 {id}\"\nkind = \"dental_sterilization\"\n\
             grid = {{ district = \"d\", street = \"st\", community = \"c0\" }}\n\
             dental = {{ sterilizer = \"{kind}\", bi_interval_days = {bi_days} }}\n\n\
             [[devices]]\nid = \"{id}-ac\"\nsite = \"{id}\"\nkind = \"autoclave\"\nexpected_interval_secs = 60\n\n"
        ));
    }
    toml
}

/// 09:00 China Standard Time yesterday, in ms: a whole clinic morning lies in the past and
/// inside one CST day.
fn morning_ms() -> i64 {
    const DAY: i64 = 86_400_000;
    const CST: i64 = 8 * 3_600_000;
    let now = chrono::Utc::now().timestamp_millis();
    let midnight = (now + CST).div_euclid(DAY) * DAY - CST;
    midnight - DAY + 9 * 3_600_000
}

/// An S-rule row of `alerts`: (rule, kind, level, device, evidence).
type SAlert = (String, String, i64, String, String);

struct Clinic {
    env: Env,
    text: String,
    /// The rule engine's clock (µs).
    sim_now: Arc<AtomicI64>,
    publisher: Publisher,
    samples: usize,
    t0: i64,
}

impl Clinic {
    fn new(sites: &[(&str, &str, u32)]) -> anyhow::Result<Clinic> {
        let env = Env::new()?;
        let text = env.config_text(&registry(sites), "");
        Clinic::with(env, text)
    }

    /// With supervisors (`weijian_tests::grid`) and the alert API on.
    fn with_supervisors(
        sites: &[(&str, &str, u32)],
        hooks: &weijian_tests::receiver::Receiver,
    ) -> anyhow::Result<Clinic> {
        let env = Env::new()?;
        let supervisors = weijian_tests::grid::supervisors_toml(hooks, "group_window_secs = 0");
        let text = weijian_tests::grid::config_with_delivery(
            &env,
            // The grid's water sites give every supervisor's community a site.
            &format!(
                "{}{}",
                dental_sites(sites),
                weijian_tests::grid::registry(0)
            ),
            &supervisors,
            "",
        )?;
        Clinic::with(env, text)
    }

    fn with(env: Env, text: String) -> anyhow::Result<Clinic> {
        let t0 = morning_ms();
        let publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-ac");
        Ok(Clinic {
            env,
            text,
            sim_now: Arc::new(AtomicI64::new((t0 - 60_000) * 1_000)),
            publisher,
            samples: 0,
            t0,
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

    /// Event time `secs` after the morning's start, ms.
    fn at(&self, secs: i64) -> i64 {
        self.t0 + secs * 1_000
    }

    async fn event(&mut self, device: &str, site: &str, body: String) -> anyhow::Result<()> {
        self.publisher
            .publish(&format!("weijian/v1/{site}/{device}/event"), body)
            .await
    }

    async fn start_cycle(
        &mut self,
        site: &str,
        id: &str,
        program: &str,
        secs: i64,
    ) -> anyhow::Result<()> {
        let ts = self.at(secs);
        let body = format!(
            r#"{{"ts":{ts},"type":"cycle_start","cycle_id":"{id}","program":"{program}"}}"#
        );
        self.event(&format!("{site}-ac"), site, body).await
    }

    async fn end_cycle(
        &mut self,
        site: &str,
        id: &str,
        verdict: &str,
        secs: i64,
    ) -> anyhow::Result<()> {
        let ts = self.at(secs);
        let body = format!(
            r#"{{"ts":{ts},"type":"cycle_end","cycle_id":"{id}","device_verdict":"{verdict}"}}"#
        );
        self.event(&format!("{site}-ac"), site, body).await
    }

    async fn bd(&mut self, site: &str, id: &str, result: &str, secs: i64) -> anyhow::Result<()> {
        let ts = self.at(secs);
        let body =
            format!(r#"{{"ts":{ts},"type":"bd_result","cycle_id":"{id}","result":"{result}"}}"#);
        self.event(&format!("{site}-ac"), site, body).await
    }

    async fn bi(
        &mut self,
        site: &str,
        bi: &str,
        cycle: &str,
        result: &str,
        secs: i64,
    ) -> anyhow::Result<()> {
        let ts = self.at(secs);
        let body = format!(
            r#"{{"ts":{ts},"type":"bi_result","bi_id":"{bi}","cycle_id":"{cycle}","result":"{result}"}}"#
        );
        self.event(&format!("{site}-ac"), site, body).await
    }

    /// Chamber samples every 2 s from `from` to `to` (seconds after the start) at `temp` C,
    /// the pressure that of saturated steam `air_k` K hotter (air in the chamber when > 0).
    async fn hold(
        &mut self,
        site: &str,
        from: i64,
        to: i64,
        temp: f64,
        air_k: f64,
    ) -> anyhow::Result<()> {
        let objects: Vec<String> = (from..=to)
            .step_by(2)
            .map(|s| {
                format!(
                    r#"{{"ts":{},"values":{{"chamber_temp_c":{temp},"chamber_pressure_kpa":{:.3}}}}}"#,
                    self.at(s),
                    p_sat(temp + air_k)
                )
            })
            .collect();
        self.samples += objects.len();
        let topic = format!("weijian/v1/{site}/{site}-ac/telemetry");
        self.publisher
            .publish(&topic, format!("[{}]", objects.join(",")))
            .await
    }

    /// Waits until everything published is stored, then moves the rule clock to `secs` and
    /// gives the ticks a moment.
    async fn settle_at(&mut self, secs: i64) -> anyhow::Result<()> {
        self.publisher.flushed(Duration::from_secs(30)).await?;
        if self.samples > 0 {
            self.env
                .store
                .wait_for_count_async(
                    &self.env.table("autoclave_telemetry"),
                    self.samples,
                    Duration::from_secs(30),
                )
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.sim_now.store(self.at(secs) * 1_000, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        Ok(())
    }

    /// S-rule rows of `alerts`: (rule, kind, level, device, evidence).
    fn s_alerts(&self) -> anyhow::Result<Vec<SAlert>> {
        let table = self.env.table("alerts");
        if self.env.store.count(&table)? == 0 {
            return Ok(Vec::new());
        }
        let rows = self.env.store.rows(
            &table,
            &["rule", "kind", "level", "device", "evidence", "ts"],
        )?;
        let mut out: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r[0].as_str().unwrap_or_default().to_string(),
                    r[1].as_str().unwrap_or_default().to_string(),
                    r[2].as_i64().unwrap_or(0),
                    r[3].as_str().unwrap_or_default().to_string(),
                    r[4].as_str().unwrap_or_default().to_string(),
                )
            })
            .filter(|r| r.0.starts_with('S'))
            .collect();
        out.sort_by(|a, b| (&a.3, &a.0, &a.1).cmp(&(&b.3, &b.0, &b.1)));
        Ok(out)
    }

    /// `sterilization_cycles` rows: (cycle_id, program, verdict, reasons, hold_secs,
    /// worst_dev_k, device_verdict, bd_result, bi_result).
    fn cycles(&self) -> anyhow::Result<Vec<Vec<Value>>> {
        let table = self.env.table("sterilization_cycles");
        if self.env.store.count(&table)? == 0 {
            return Ok(Vec::new());
        }
        let mut rows = self.env.store.rows(
            &table,
            &[
                "cycle_id",
                "program",
                "verdict",
                "reasons",
                "hold_secs",
                "worst_dev_k",
                "device_verdict",
                "bd_result",
                "bi_result",
            ],
        )?;
        rows.sort_by_key(|r| r[0].as_str().unwrap_or_default().to_string());
        Ok(rows)
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Double(d) => *d,
        _ => f64::NAN,
    }
}

fn firing(alerts: &[SAlert]) -> Vec<(&str, i64, &str)> {
    alerts
        .iter()
        .filter(|a| a.1 == "firing")
        .map(|a| (a.0.as_str(), a.2, a.3.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_day_stores_every_verdict_and_raises_no_s_alert() -> anyhow::Result<()> {
    let mut c = Clinic::new(&[("k1", "prevac", 7)])?;
    let running = c.start().await?;
    // Bowie-Dick first (134.4 C, 4 min), its sheet passes; two loads at 134.8 / 132.6 C for
    // 5 min on saturated steam; the weekly BI of the first load is negative.
    c.start_cycle("k1", "bd1", "bowie_dick", 0).await?;
    c.hold("k1", 300, 540, 134.4, 0.0).await?;
    c.end_cycle("k1", "bd1", "pass", 700).await?;
    c.bd("k1", "bd1", "pass", 800).await?;
    c.start_cycle("k1", "L1", "prevac_134", 900).await?;
    c.hold("k1", 1200, 1500, 134.8, 0.0).await?;
    c.end_cycle("k1", "L1", "pass", 1700).await?;
    c.start_cycle("k1", "L2", "prevac_132", 1800).await?;
    c.hold("k1", 2100, 2400, 132.6, 0.0).await?;
    c.end_cycle("k1", "L2", "pass", 2600).await?;
    c.bi("k1", "bi-1", "L1", "negative", 2700).await?;
    c.settle_at(2800).await?;

    let rows = c.cycles()?;
    let got: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (text(&r[0]), text(&r[2]), text(&r[6]), text(&r[7])))
        .collect();
    assert_eq!(
        got,
        [
            ("L1", "pass", "pass", ""),
            ("L2", "pass", "pass", ""),
            ("bd1", "pass", "pass", "pass"),
        ]
    );
    assert_eq!(num(&rows[0][4]), 300.0, "L1 hold seconds");
    assert!(num(&rows[0][5]).abs() < 0.05, "on saturated steam");
    assert_eq!(text(&rows[0][8]), "negative", "L1's BI is linked");
    assert_eq!(c.s_alerts()?, Vec::new());
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn air_in_the_chamber_with_a_device_pass_fires_s2_at_level_i() -> anyhow::Result<()> {
    let mut c = Clinic::new(&[("k1", "gravity", 7)])?;
    let running = c.start().await?;
    // 5 min at 134.5 C but the pressure of 138 C steam: T is 3.5 K below Tsat(p).
    c.start_cycle("k1", "A1", "prevac_134", 0).await?;
    c.hold("k1", 300, 600, 134.5, 3.5).await?;
    c.end_cycle("k1", "A1", "pass", 700).await?;
    c.settle_at(800).await?;
    let alerts = c.s_alerts()?;
    assert_eq!(firing(&alerts), [("S2", 1, "k1-ac")]);
    assert!(
        alerts[0].4.contains("air in the chamber"),
        "{}",
        alerts[0].4
    );
    let rows = c.cycles()?;
    assert_eq!(rows.len(), 1);
    assert_eq!(text(&rows[0][2]), "fail");
    assert_eq!(text(&rows[0][3]), "steam_mismatch");
    assert!((num(&rows[0][5]) + 3.5).abs() < 0.05, "{:?}", rows[0][5]);
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_raises_its_s_rule() -> anyhow::Result<()> {
    // k1: no Bowie-Dick before a prevac load (S3) whose hold is 3 min (S1, device fail).
    // k2: an aborted cycle (S6). k3 (gravity, BI every 1 day): a cycle that never ends (S6
    // after 2 h), a positive BI (S4, recall of every cycle since the negative one), and no
    // BI for a day afterwards (S5).
    let mut c = Clinic::new(&[
        ("k1", "prevac", 7),
        ("k2", "gravity", 7),
        ("k3", "gravity", 1),
    ])?;
    let running = c.start().await?;
    c.start_cycle("k1", "S1a", "prevac_134", 0).await?;
    c.hold("k1", 300, 480, 134.8, 0.0).await?;
    c.end_cycle("k1", "S1a", "fail", 600).await?;

    c.start_cycle("k2", "AB1", "gravity_121_instruments", 0)
        .await?;
    c.end_cycle("k2", "AB1", "aborted", 400).await?;

    for (i, id) in ["G1", "G2", "G3"].iter().enumerate() {
        let t = i as i64 * 800;
        c.start_cycle("k3", id, "prevac_134", t).await?;
        c.hold("k3", t + 300, t + 600, 134.8, 0.0).await?;
        c.end_cycle("k3", id, "pass", t + 700).await?;
        if i == 0 {
            c.bi("k3", "bi-1", "G1", "negative", 750).await?;
        }
    }
    c.bi("k3", "bi-2", "G3", "positive", 2500).await?;
    c.start_cycle("k3", "G4", "gravity_121_textiles", 2600)
        .await?;
    // G4 never ends: S6 once 2 h have passed on the rule clock.
    c.settle_at(2600 + 2 * 3600 + 60).await?;
    // A day and a bit after the positive BI: S5.
    c.settle_at(2500 + 86_400 + 60).await?;

    let alerts = c.s_alerts()?;
    let mut fired = firing(&alerts);
    fired.sort();
    assert_eq!(
        fired,
        [
            ("S1", 2, "k1-ac"),
            ("S3", 2, "k1-ac"),
            ("S4", 1, "k3-ac"),
            ("S5", 3, "k3-ac"),
            ("S6", 3, "k2-ac"),
            ("S6", 3, "k3-ac"),
        ]
    );
    let s4 = alerts
        .iter()
        .find(|a| a.0 == "S4" && a.1 == "firing")
        .map(|a| a.4.clone())
        .unwrap_or_default();
    assert!(
        s4.contains("recall 2 cycles") && s4.contains("G2, G3"),
        "{s4}"
    );
    assert!(
        !s4.contains("G1,"),
        "G1 was covered by the negative BI: {s4}"
    );
    let s1 = alerts
        .iter()
        .find(|a| a.0 == "S1")
        .map(|a| a.4.clone())
        .unwrap_or_default();
    assert!(
        s1.contains("hold 180 s shorter than the minimum 240 s"),
        "{s1}"
    );
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_cycle_gives_exactly_one_verdict_the_right_one(
) -> anyhow::Result<()> {
    let mut c = Clinic::new(&[("k1", "gravity", 7)])?;
    let running = c.start().await?;
    // Air in the chamber for the whole hold; weijian restarts after the first 2 minutes.
    c.start_cycle("k1", "R1", "prevac_134", 0).await?;
    c.hold("k1", 300, 420, 134.5, 3.0).await?;
    c.settle_at(420).await?;
    tokio::time::sleep(Duration::from_millis(1_500)).await; // a rule snapshot is due
    running.stop().await;
    assert_eq!(c.cycles()?.len(), 0, "no verdict before the cycle ends");

    let running = c.start().await?;
    c.hold("k1", 422, 620, 134.5, 3.0).await?;
    c.end_cycle("k1", "R1", "pass", 700).await?;
    c.settle_at(800).await?;
    c.settle_at(900).await?;
    let rows = c.cycles()?;
    assert_eq!(rows.len(), 1, "exactly one verdict: {rows:?}");
    assert_eq!(text(&rows[0][2]), "fail");
    assert_eq!(num(&rows[0][4]), 320.0, "the hold spans the restart");
    assert!((num(&rows[0][5]) + 3.0).abs() < 0.05);
    let alerts = c.s_alerts()?;
    assert_eq!(firing(&alerts), [("S2", 1, "k1-ac")]);
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinic_api_shows_todays_verdicts_bowie_dick_bi_and_the_recall_list(
) -> anyhow::Result<()> {
    let hooks = weijian_tests::receiver::Receiver::start().await?;
    let mut c = Clinic::with_supervisors(&[("k1", "prevac", 7)], &hooks)?;
    let running = c.start().await?;
    c.start_cycle("k1", "bd1", "bowie_dick", 0).await?;
    c.hold("k1", 300, 540, 134.4, 0.0).await?;
    c.end_cycle("k1", "bd1", "pass", 700).await?;
    c.bd("k1", "bd1", "pass", 800).await?;
    c.start_cycle("k1", "L1", "prevac_134", 900).await?;
    c.hold("k1", 1200, 1500, 134.8, 0.0).await?;
    c.end_cycle("k1", "L1", "pass", 1700).await?;
    c.start_cycle("k1", "L2", "prevac_134", 1800).await?;
    c.hold("k1", 2100, 2280, 134.8, 0.0).await?;
    c.end_cycle("k1", "L2", "pass", 2400).await?;
    c.bi("k1", "bi-1", "L1", "negative", 2500).await?;
    c.bi("k1", "bi-2", "L2", "positive", 2600).await?;
    c.settle_at(2700).await?;

    let api = weijian_tests::api_client::ApiClient::new(running.http_addr);
    let token = weijian_tests::grid::token("sq-c0");
    let (status, body) = api.get("/api/v1/sites/k1/sterilizers", &token)?;
    assert_eq!(status, 200, "{body}");
    let s = &body["sterilizers"][0];
    let cycles: Vec<(&str, &str)> = s["cycles_today"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["cycle_id"].as_str().unwrap_or(""),
                        c["verdict"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        cycles,
        [("bd1", "pass"), ("L1", "pass"), ("L2", "fail")],
        "{body}"
    );
    assert_eq!(s["bowie_dick_ok_today"], true, "{body}");
    assert_eq!(s["last_bi"]["bi_id"], "bi-2");
    assert_eq!(s["recall"]["cycles"][0]["cycle_id"], "L2", "{body}");
    assert_eq!(s["recall"]["cycles"].as_array().map(Vec::len), Some(1));
    // Another community's supervisor may not look.
    let (status, _) = api.get(
        "/api/v1/sites/k1/sterilizers",
        &weijian_tests::grid::token("sq-c1"),
    )?;
    assert_eq!(status, 403);
    running.stop().await;
    Ok(())
}
