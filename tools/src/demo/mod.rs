//! `weijian demo`: an embedded broker, a simulated fleet and the pipeline in one process, with
//! a live one-line status (readings/s, rejected, alerts, QuestDB state) and readable alerts.
//!
//! The fleet (config/demo.toml, embedded) replays the last few hours at high speed and then
//! runs in real time, so alerts fire within a minute of starting. Without a reachable QuestDB
//! the demo still runs: it says that storage is unavailable and readings wait in the spool.

pub mod broker;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alerting::{AlertEvent, EventKind, Level};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::simulate::{self, Fleet, Pace, Scenario};
use weijian_ingest::config::endpoint::QuestDbEndpoint;
use weijian_ingest::config::{Config, ConfigErrors, MqttProtocol, ProcessEnv};
use weijian_ingest::telemetry::metrics::total;
use weijian_service::pipeline::{self, Running};

/// The demo fleet's registry and defaults.
pub const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");
/// The demo's supervision grid: who hears about which site (MQTT channels on the embedded
/// broker, API tokens `demo-<id>`).
pub const DEMO_SUPERVISORS: &str = include_str!("../../../config/demo-supervisors.toml");

/// What the user can choose.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// questdb-rs configuration string of the QuestDB to write to, if one is running.
    pub questdb: String,
    /// Where the spool lives (a fresh temporary directory when `None`).
    pub spool_dir: Option<PathBuf>,
    /// Address for /metrics, /healthz, /readyz.
    pub http_listen: String,
    /// Hours of history replayed at `speedup` before running in real time.
    pub backfill_hours: u32,
    pub speedup: f64,
    pub seed: u64,
    pub scenario: Scenario,
    /// Stop after this long (for scripted runs); `None` = until Ctrl-C.
    pub duration: Option<Duration>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            questdb: "http::addr=127.0.0.1:9000;".into(),
            spool_dir: None,
            http_listen: "127.0.0.1:9464".into(),
            backfill_hours: 3,
            speedup: 60.0,
            seed: 42,
            scenario: Scenario::demo(),
            duration: None,
        }
    }
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Broker(#[from] broker::BrokerError),
    #[error("the demo configuration is invalid: {0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    QuestDb(String),
    #[error("the demo supervisors file is invalid: {0}")]
    Supervisors(String),
    #[error("cannot create a spool directory: {0}")]
    SpoolDir(std::io::Error),
    #[error("{0}")]
    Start(#[from] pipeline::RunError),
}

/// What the demo did, for the closing line (and tests).
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub published_messages: u64,
    pub readings: u64,
    pub rejected: u64,
    pub alerts_fired: u64,
    pub alerts_resolved: u64,
    /// Notices received by the demo's supervisors (on their MQTT channels).
    pub notices: u64,
    pub questdb_up: bool,
}

/// Runs the demo until `shutdown` (or the optional duration), printing to `out`.
///
/// # Errors
/// The broker, configuration or pipeline could not start.
pub async fn run(
    options: DemoOptions,
    shutdown: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Result<DemoSummary, DemoError> {
    let port = broker::start()?;
    let (_tmp, spool_dir) = match &options.spool_dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let tmp = tempdir().map_err(DemoError::SpoolDir)?;
            let dir = tmp.join("spool");
            (Some(TempDirGuard(tmp)), dir)
        }
    };
    let mut config = Config::parse(DEMO_CONFIG, "config/demo.toml", &ProcessEnv)?;
    config.mqtt.host = "127.0.0.1".into();
    config.mqtt.port = port;
    config.mqtt.protocol = MqttProtocol::V311;
    config.mqtt.client_id = "weijian-demo".into();
    config.spool.dir = spool_dir.clone();
    // A busy port (another weijian, a Prometheus exporter) should not stop a demo.
    config.http.listen = match std::net::TcpListener::bind(&options.http_listen) {
        Ok(_) => options.http_listen.clone(),
        Err(_) => "127.0.0.1:0".to_string(),
    };
    config.questdb.endpoint = QuestDbEndpoint::parse(&options.questdb)
        .map_err(|why| DemoError::QuestDb(format!("--questdb {:?}: {why}", options.questdb)))?;
    let registry = config.registry.clone();
    let prefix = config.mqtt.topic_prefix.clone();
    let loaded = alerting::delivery::DeliveryConfig::from_toml(
        DEMO_SUPERVISORS,
        "config/demo-supervisors.toml",
        &registry.alerting_sites(),
    )
    .map_err(|errors| {
        DemoError::Supervisors(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let supervisors = loaded.config.supervisors.len();
    let sign_ins = sign_ins(&loaded.config);
    config.delivery.supervisors = Some(loaded.config);
    config.delivery.supervisors_source = Some("config/demo-supervisors.toml".into());

    let mut say = |line: &str| {
        let _ = writeln!(out, "{line}");
    };
    say(&format!(
        "weijian demo: embedded MQTT broker on 127.0.0.1:{port}, {} sites and {} devices (config/demo.toml), spool in {}",
        registry.site_count(),
        registry.device_count(),
        spool_dir.display()
    ));
    let questdb_reachable = reachable(&config.questdb.endpoint.http_base()).await;
    if questdb_reachable {
        say(&format!(
            "QuestDB at {}: writing readings, events, quarantine and alerts there.",
            config.questdb.endpoint.http_base()
        ));
    } else {
        say(&format!(
            "QuestDB at {} is not reachable: storage is UNAVAILABLE. Readings wait in the spool and alerts still run; start QuestDB (or pass --questdb) to store them.",
            config.questdb.endpoint.http_base()
        ));
    }

    // The rule engine's timers run on the fleet's simulated time, so replayed history does not
    // look like every device went silent hours ago.
    let backfill_micros = i64::from(options.backfill_hours) * 3_600_000_000;
    let sim_now = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
        pipeline::now().as_micros() - backfill_micros,
    ));
    let clock_source = sim_now.clone();
    let clock: pipeline::Clock = std::sync::Arc::new(move || {
        alerting::model::Timestamp(clock_source.load(Ordering::Relaxed))
    });
    let running = pipeline::start_with_clock(config, shutdown.clone(), clock).await?;
    say(&format!(
        "{supervisors} supervisors on the grid (config/demo-supervisors.toml) hear about alerts on MQTT {prefix}/notify/{{id}}; \
         the alert API is on http://{addr}/api/v1 (token demo-<id>), e.g.\n  curl -s -H 'Authorization: Bearer demo-jd-binjiang' http://{addr}/api/v1/alerts",
        addr = running.http_addr
    ));
    say(&format!(
        "the supervisors' console is on http://{addr}/ (预警台; ?lang=en for English); sign in with a demo token:\n{sign_ins}",
        addr = running.http_addr
    ));
    say(&format!("metrics on http://{}/metrics; replaying the last {} h at {}x, then real time. Ctrl-C to stop.\n", running.http_addr, options.backfill_hours, options.speedup));
    let mut alerts = running.alert_events.subscribe();
    let mut notices = notice_listener(port, &prefix, shutdown.child_token());

    let fleet = Fleet::new(&registry, &prefix, options.seed, options.scenario.clone());
    let fleet_cancel = shutdown.child_token();
    let client = simulate::spawn_client(
        simulate::mqtt_options("127.0.0.1", port, "weijian-demo-fleet"),
        fleet_cancel.clone(),
    );
    let pace = if options.backfill_hours == 0 {
        Pace::real_time()
    } else {
        Pace::accelerated(options.backfill_hours, options.speedup)
    };
    let published = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let published_in = published.clone();
    let publisher = tokio::spawn(simulate::run_publisher(
        client,
        fleet,
        pace,
        fleet_cancel.clone(),
        move |s| {
            published_in.store(s.messages, Ordering::Relaxed);
            if let Some(t) = s.simulated_to {
                sim_now.store(t.as_micros(), Ordering::Relaxed);
            }
        },
    ));

    let tty = std::io::stdout().is_terminal();
    let mut summary = DemoSummary::default();
    let started = Instant::now();
    let mut last_status = Instant::now();
    let mut last_readings = 0u64;
    let mut status_every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = async {
                match options.duration {
                    Some(d) => tokio::time::sleep(d.saturating_sub(started.elapsed())).await,
                    None => std::future::pending().await,
                }
            } => break,
            event = alerts.recv() => match event {
                Ok(event) => {
                    if let Some(line) = alert_line(&event, tty) {
                        if tty { let _ = write!(out, "\r\x1b[2K"); }
                        let _ = writeln!(out, "{line}");
                    }
                    match event.kind {
                        EventKind::Firing => summary.alerts_fired += 1,
                        EventKind::Resolved => summary.alerts_resolved += 1,
                        _ => {}
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => { let _ = writeln!(out, "({n} alert events not shown: too many at once)"); }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            Some(notice) = notices.recv() => {
                summary.notices += 1;
                if tty { let _ = write!(out, "\r\x1b[2K"); }
                let _ = writeln!(out, "{}", notice_line(&notice));
            },
            _ = status_every.tick() => {
                let readings = running.metrics.readings.get();
                let rate = (readings - last_readings) as f64 / last_status.elapsed().as_secs_f64().max(0.001);
                last_readings = readings;
                last_status = Instant::now();
                let line = status_line(&running, rate, published.load(Ordering::Relaxed));
                if tty {
                    let _ = write!(out, "\r\x1b[2K{line}");
                    let _ = out.flush();
                } else if started.elapsed().as_secs() % 10 == 0 {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
    }
    fleet_cancel.cancel();
    if let Ok(Ok(Ok(stats))) = tokio::time::timeout(Duration::from_secs(5), publisher).await {
        summary.published_messages = stats.messages;
    }
    summary.readings = running.metrics.readings.get();
    summary.rejected = total(&running.metrics.rejected);
    summary.questdb_up = running.health.questdb_up.load(Ordering::Relaxed);
    if tty {
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "stopping: {} messages published, {} readings accepted, {} rejected (quarantined), {} alerts fired, {} resolved, {} notices to supervisors; QuestDB {}.",
        summary.published_messages,
        summary.readings,
        summary.rejected,
        summary.alerts_fired,
        summary.alerts_resolved,
        summary.notices,
        if summary.questdb_up { "up" } else { "unavailable (readings stay in the spool)" }
    );
    stop(running, &shutdown).await;
    Ok(summary)
}

async fn stop(running: Running, shutdown: &CancellationToken) {
    shutdown.cancel();
    running.wait().await;
}

fn status_line(running: &Running, rate: f64, published: u64) -> String {
    let m = &running.metrics;
    let rejected = total(&m.rejected);
    let questdb = if running.health.questdb_up.load(Ordering::Relaxed) {
        "QuestDB up".to_string()
    } else {
        "QuestDB UNAVAILABLE (spooling)".to_string()
    };
    format!(
        "{rate:>7.0} readings/s | published {published} | accepted {} | rejected {rejected} | alerts {} | {questdb}",
        m.readings.get(),
        total(&m.alert_events),
    )
}

/// One readable line per announced alert change: level with its colour, rule, Chinese and
/// English summary.
pub fn alert_line(event: &AlertEvent, colour: bool) -> Option<String> {
    let tag = match event.kind {
        EventKind::Pending => return None,
        EventKind::Firing => "新预警 FIRING  ",
        EventKind::LevelChanged => "级别变更 LEVEL ",
        EventKind::Resolved => "已恢复 RESOLVED",
    };
    let level = format!("{} {}", event.level.label_zh(), event.level.as_str());
    let level = if colour {
        let code = match event.level {
            Level::I => "1;97;41",
            Level::II => "1;30;43",
            Level::III => "1;30;103",
            Level::IV => "1;97;44",
        };
        format!("\x1b[{code}m {level:<10} \x1b[0m")
    } else {
        format!("[{level:<10}]")
    };
    Some(format!(
        "{level} {tag} {:<3} {}\n{:>14} {}",
        event.rule, event.summary_zh, "", event.summary_en
    ))
}

/// The demo's sign-ins, one line each: the token (`demo-<id>`, whose SHA-256 the demo
/// supervisors file holds), the supervisor's name and grid cell.
pub fn sign_ins(config: &alerting::delivery::DeliveryConfig) -> String {
    config
        .supervisors
        .iter()
        .map(|s| format!("  {:<18} {} ({})", demo_token(&s.id), s.name, s.cell))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The API and console token of a demo supervisor.
pub fn demo_token(supervisor: &str) -> String {
    format!("demo-{supervisor}")
}

/// Listens like the supervisors' apps would: every notice published to
/// `{prefix}/notify/#` on the embedded broker, parsed.
fn notice_listener(
    port: u16,
    prefix: &str,
    cancel: CancellationToken,
) -> tokio::sync::mpsc::UnboundedReceiver<serde_json::Value> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let options = simulate::mqtt_options("127.0.0.1", port, "weijian-demo-supervisors");
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    let filter = format!("{prefix}/notify/#");
    tokio::spawn(async move {
        loop {
            let polled = tokio::select! {
                () = cancel.cancelled() => break,
                polled = eventloop.poll() => polled,
            };
            match polled {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(&filter, rumqttc::QoS::AtLeastOnce);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    if let Ok(notice) = serde_json::from_slice(&p.payload) {
                        if tx.send(notice).is_err() {
                            break;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    });
    rx
}

/// One line per notice a supervisor receives: to whom, which tier, and the first line of the
/// Chinese text.
pub fn notice_line(notice: &serde_json::Value) -> String {
    let to: Vec<&str> = notice["to"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let first = notice["text_zh"]
        .as_str()
        .and_then(|t| t.lines().next())
        .unwrap_or_default();
    format!(
        "  → 通知 NOTICE {:<12} [{}] {}",
        notice["kind"].as_str().unwrap_or("?"),
        to.join("、"),
        first
    )
}

async fn reachable(http_base: &str) -> bool {
    let url = format!("{http_base}/ping");
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(2)))
                .http_status_as_error(false)
                .build(),
        );
        agent.get(&url).call().is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A temporary directory removed when the demo ends.
#[derive(Debug)]
struct TempDirGuard(PathBuf);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new directory under the system temp dir, unique per run (several demos may share a
/// process, e.g. in tests).
fn tempdir() -> std::io::Result<PathBuf> {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("weijian-demo-{}-{run}", std::process::id()));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}
