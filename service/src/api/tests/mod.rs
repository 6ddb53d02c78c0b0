//! Tests of the supervisors' API over a real desk: a configuration with two communities of
//! one street and a community of a second street, supervisors at both tiers, a spool as the
//! journal, and an in-test drain that applies journaled requests and keeps their audit rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod alerts;
mod conformance;
mod conformance_risk;
mod flood;
mod openapi;
mod risk;
mod schema;
mod silences;
mod sites;
mod sterilizers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerting::model::Timestamp;
use alerting::{AlertEvent, EventKind, Evidence, Level};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request as HttpRequest, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use crate::supervision::{DeliveryStage, Desk, Request, API_TOPIC};
use weijian_ingest::config::Config;
use weijian_ingest::message::Message;
use weijian_ingest::sink::rows::{AuditRow, Row};
use weijian_ingest::spool::{SpoolConfig, SpoolMetrics};

/// 2026-11-22 08:00:00 Beijing time.
pub const T0: i64 = 1_795_305_600_000_000;

const CONFIG: &str = r#"
[[sites]]
id = "wp-east"
name = "城东水厂 出厂水"
kind = "water"
grid = { district = "示范区", street = "东城街道", community = "水厂社区" }
water = { point = "outlet", disinfectant = "free_chlorine" }

[[sites]]
id = "wp-garden"
name = "花园小区 二次供水"
kind = "water"
grid = { district = "示范区", street = "东城街道", community = "花园社区" }
water = { point = "network_end", disinfectant = "free_chlorine" }

[[sites]]
id = "wp-west"
name = "学府 管网末梢水"
kind = "water"
grid = { district = "示范区", street = "西城街道", community = "学府社区" }
water = { point = "network_end", disinfectant = "free_chlorine" }

[[devices]]
id = "wm-east-1"
site = "wp-east"
kind = "water_monitor"
expected_interval_secs = 60

[[devices]]
id = "wm-east-2"
site = "wp-east"
kind = "water_monitor"
expected_interval_secs = 60

[[devices]]
id = "wm-garden-1"
site = "wp-garden"
kind = "water_monitor"
expected_interval_secs = 60

[[devices]]
id = "wm-west-1"
site = "wp-west"
kind = "water_monitor"
expected_interval_secs = 60

[[sites]]
id = "ws-west"
name = "学府社区卫生服务站 医废暂存间"
kind = "waste_store"
grid = { district = "示范区", street = "西城街道", community = "学府社区" }
waste_store = { refrigerated = false, collection_windows = ["08:00-10:00"] }

[[devices]]
id = "wd-west-1"
site = "ws-west"
kind = "waste_store"
expected_interval_secs = 300

[[sites]]
id = "kq-nancheng"
name = "南城口腔诊所 消毒室"
kind = "dental_sterilization"
grid = { district = "示范区", street = "南城街道", community = "口腔社区" }
dental = { sterilizer = "prevac", bi_interval_days = 7 }

[[devices]]
id = "ac-nancheng-1"
site = "kq-nancheng"
kind = "autoclave"
expected_interval_secs = 60
"#;

/// (id, cell as TOML, token).
const SUPERVISORS: &[(&str, &str, &str)] = &[
    (
        "sq-shuichang",
        r#"{ district = "示范区", street = "东城街道", community = "水厂社区" }"#,
        "tok-shuichang",
    ),
    (
        "sq-huayuan",
        r#"{ district = "示范区", street = "东城街道", community = "花园社区" }"#,
        "tok-huayuan",
    ),
    (
        "jd-dongcheng",
        r#"{ district = "示范区", street = "东城街道" }"#,
        "tok-dongcheng",
    ),
    (
        "sq-xuefu",
        r#"{ district = "示范区", street = "西城街道", community = "学府社区" }"#,
        "tok-xuefu",
    ),
    (
        "sq-kouqiang",
        r#"{ district = "示范区", street = "南城街道", community = "口腔社区" }"#,
        "tok-kouqiang",
    ),
];

pub const SHUICHANG: &str = "tok-shuichang";
pub const HUAYUAN: &str = "tok-huayuan";
pub const DONGCHENG: &str = "tok-dongcheng";
pub const XUEFU: &str = "tok-xuefu";
pub const KOUQIANG: &str = "tok-kouqiang";

fn sha256_hex(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn supervisors_toml() -> String {
    let mut out = String::from("[delivery]\ngroup_window_secs = 60\n");
    for (id, cell, token) in SUPERVISORS {
        out.push_str(&format!(
            "\n[[supervisors]]\nid = \"{id}\"\nname = \"{id} 协管员\"\ncell = {cell}\ntoken_sha256 = \"{}\"\n",
            sha256_hex(token)
        ));
    }
    out
}

/// A response: status, JSON body (`Null` when empty), headers.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

/// What the harness's drain does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// Applies journaled requests and commits them.
    Committing,
    /// Applies them and commits nothing (QuestDB is down).
    NotCommitting,
    /// Applies nothing.
    None,
}

/// The API over a desk with a drain of its own.
pub struct Harness {
    pub router: Router,
    /// The API's state (the console's tests build their router over it).
    pub state: super::ApiState,
    pub desk: Desk,
    pub stage: DeliveryStage,
    clock: Arc<AtomicI64>,
    audit: Arc<Mutex<Vec<AuditRow>>>,
    applier: tokio::task::JoinHandle<()>,
    /// The spool's writer, to close it (`close_journal`).
    journal: Option<weijian_ingest::spool::SpoolWriter>,
    /// The spool's reader when nothing drains it (`without_drain`).
    _idle_reader: Option<weijian_ingest::spool::SpoolReader>,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.applier.abort();
    }
}

impl Harness {
    pub async fn new() -> Harness {
        Self::build(Drain::Committing, "").await
    }

    /// A desk whose journaled writes are never applied (the API answers 202 after 10 s).
    pub async fn without_drain() -> Harness {
        Self::build(Drain::None, "").await
    }

    /// With an `[api]` section (limits) added to the configuration.
    pub async fn with_api(api_toml: &str) -> Harness {
        Self::build(Drain::Committing, api_toml).await
    }

    /// As during a QuestDB outage: the drain applies requests but commits nothing, so every
    /// journaled record stays in the spool.
    pub async fn outage() -> Harness {
        Self::build(Drain::NotCommitting, "").await
    }

    /// The spool's writer (to measure it, or to append as the MQTT source does).
    pub fn journal(&self) -> &weijian_ingest::spool::SpoolWriter {
        self.journal.as_ref().expect("the journal is open")
    }

    /// Closes the journal: writes (and the audit of refusals) fail from now on.
    pub async fn close_journal(&mut self) {
        if let Some(writer) = self.journal.take() {
            writer.shutdown().await;
        }
    }

    async fn build(drain: Drain, api_toml: &str) -> Harness {
        let text = format!("{api_toml}\n{CONFIG}");
        let config = Config::parse(&text, "test.toml", &HashMap::<String, String>::new()).unwrap();
        let registry = config.registry.clone();
        let sites = registry.alerting_sites();
        let delivery = alerting::delivery::DeliveryConfig::from_toml(
            &supervisors_toml(),
            "supervisors.toml",
            &sites,
        )
        .unwrap()
        .config;
        let dir = tempfile::tempdir().unwrap();
        let mut spool = SpoolConfig::new(dir.path());
        spool.segment_bytes = 1 << 20;
        spool.max_bytes = 4 << 20;
        let (writer, reader, _) =
            weijian_ingest::spool::open(spool, SpoolMetrics::unregistered().unwrap())
                .await
                .unwrap();
        let clock = Arc::new(AtomicI64::new(T0));
        let c = clock.clone();
        let journal = Some(writer.clone());
        let desk = Desk::new(
            delivery,
            config.api.clone(),
            registry.clone(),
            writer,
            Arc::new(move || Timestamp(c.load(Ordering::SeqCst))),
            None,
        );
        let stage = DeliveryStage::new(desk.clone(), "weijian/v1", false);
        let audit = Arc::new(Mutex::new(Vec::new()));
        let mut rules = alerting::Engine::new(
            alerting::RulePack::default_pack().unwrap(),
            sites,
            registry.alerting_devices(),
        );
        let (s, a) = (stage.clone(), audit.clone());
        let commit = drain == Drain::Committing;
        let (mut reader, idle_reader) = if drain == Drain::None {
            (None, Some(reader))
        } else {
            (Some(reader), None)
        };
        let applier = tokio::spawn(async move {
            let Some(reader) = reader.as_mut() else {
                return;
            };
            loop {
                let Ok(batch) = reader.next_batch(64, Duration::from_millis(50)).await else {
                    return;
                };
                for record in &batch {
                    let message = Message::decode(&record.data).unwrap();
                    if message.topic != API_TOPIC {
                        continue;
                    }
                    let request = Request::decode(&message.payload).unwrap();
                    let fx = s.apply(&request, &mut rules);
                    let mut rows = a.lock().unwrap();
                    for row in fx.rows {
                        if let Row::Audit(r) = row {
                            rows.push(*r);
                        }
                    }
                }
                if let Some(last) = batch.last().filter(|_| commit) {
                    reader.commit(last.pos).await.unwrap();
                }
            }
        });
        let state = super::ApiState::new(desk.clone(), super::ApiMetrics::unregistered().unwrap());
        Harness {
            router: super::router_with(state.clone()),
            state,
            desk,
            stage,
            clock,
            audit,
            applier,
            journal,
            _idle_reader: idle_reader,
            _dir: dir,
        }
    }

    pub fn now(&self) -> Timestamp {
        Timestamp(self.clock.load(Ordering::SeqCst))
    }

    pub fn advance_secs(&self, secs: i64) {
        self.clock.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }

    /// A `firing` alert of `rule` at `level` on a device, started `ago_secs` before now;
    /// returns its id.
    pub fn fire(
        &self,
        rule: &str,
        site: &str,
        device: &str,
        level: Level,
        ago_secs: i64,
    ) -> String {
        let now = self.now();
        let started_at = now.plus_secs(-ago_secs);
        let grid = self.desk.registry().site(site).unwrap().grid.clone();
        let event = AlertEvent {
            alert_id: format!("{rule}/{site}/{device}/{}", started_at.as_micros()),
            rule: rule.to_owned(),
            level,
            kind: EventKind::Firing,
            site: site.to_owned(),
            device: device.to_owned(),
            subject: None,
            grid,
            started_at,
            ts: now,
            reason: format!("{rule} breached"),
            evidence: vec![
                Evidence::number("value", 0.01),
                Evidence::number("limit", 0.05),
            ],
            summary_zh: format!("{rule} 预警"),
            summary_en: format!("{rule} alert"),
        };
        self.stage.on_events(std::slice::from_ref(&event), now);
        event.alert_id
    }

    /// Lets the group window pass: the alerts are announced and their deadlines run.
    pub fn announce(&self) {
        self.advance_secs(61);
        self.stage.tick(self.now());
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = HttpRequest::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// Sends a request as built.
    pub async fn send(&self, req: HttpRequest<Body>) -> Answer {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, uri: &str, token: &str) -> Answer {
        self.call("GET", uri, Some(token), None).await
    }

    pub async fn post(&self, uri: &str, token: &str, body: Value) -> Answer {
        self.call("POST", uri, Some(token), Some(body)).await
    }

    /// The audit rows so far, once at least `n` exist (the drain applies asynchronously).
    pub async fn audit(&self, n: usize) -> Vec<AuditRow> {
        for _ in 0..200 {
            let rows = self.audit.lock().unwrap().clone();
            if rows.len() >= n {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rows = self.audit.lock().unwrap().clone();
        panic!("expected {n} audit rows, got {}: {rows:?}", rows.len());
    }
}

/// An alert id as a path segment (`/` -> `%2F`).
pub fn enc(id: &str) -> String {
    id.replace('/', "%2F")
}

/// The ids of a list answer.
pub fn ids(answer: &Answer) -> Vec<String> {
    answer.body["alerts"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {answer:?}"))
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The log lines (DEBUG and up) written on this thread while the guard lives.
pub fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    (lines, tracing::subscriber::set_default(subscriber))
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What [`capture_logs`] captured.
pub fn logged(lines: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&lines.lock().unwrap()).into_owned()
}

/// A waste store's ledger as the alert stage publishes it: three bags in, one handed over, a
/// disinfection (hours before `now`).
pub fn filled_ledger(now: Timestamp) -> alerting::waste::LedgerSummary {
    use alerting::waste::{BagIn, Category, Handover, Ledger};
    let at = |hours_ago: i64| Timestamp(now.0 - hours_ago * 3_600_000_000);
    let mut ledger = Ledger::default();
    for (id, category, kg, hours_ago) in [
        ("B1", Category::Infectious, 2.5, 30),
        ("B2", Category::Sharps, 0.75, 20),
        ("B3", Category::Infectious, 1.5, 10),
    ] {
        ledger.bag_in(&BagIn {
            site: "ws-west".into(),
            device: "wd-west-1".into(),
            ts: at(hours_ago),
            bag_id: id.into(),
            category,
            weight_kg: kg,
            department: None,
        });
    }
    ledger.handover(
        &Handover {
            site: "ws-west".into(),
            device: "wd-west-1".into(),
            ts: at(6),
            manifest_id: "MF-88".into(),
            bag_ids: vec!["B1".into()],
            weight_kg: 2.48,
            carrier: "HZ-MW-01".into(),
        },
        600,
    );
    ledger.disinfection(at(3));
    ledger.summary()
}
