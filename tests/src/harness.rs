//! Runs a real weijian pipeline against a real Mosquitto and a store (the QuestDB double or a
//! real QuestDB from `WEIJIAN_TEST_QUESTDB`), and publishes to it like a gateway would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use weijian_ingest::config::Config;
use weijian_service::pipeline::Running;

use crate::mosquitto::Mosquitto;
use crate::store::TestStore;

/// A registry of water sites `s0..` each with one monitor `d0..`, plus extra TOML.
pub fn water_registry(devices: usize) -> String {
    let mut toml = String::new();
    for i in 0..devices {
        toml.push_str(&format!(
            "[[sites]]\nid = \"s{i}\"\nname = \"water site {i}\"\nkind = \"water\"\n\
             grid = {{ district = \"d\", street = \"st\", community = \"c{i}\" }}\n\
             water = {{ point = \"outlet\", disinfectant = \"free_chlorine\" }}\n\n\
             [[devices]]\nid = \"d{i}\"\nsite = \"s{i}\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n\n"
        ));
    }
    toml
}

/// Everything an end-to-end test needs, torn down on drop.
pub struct Env {
    pub broker: Mosquitto,
    pub store: TestStore,
    pub prefix: String,
    pub spool_dir: tempfile::TempDir,
    pub client_id: String,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Starts Mosquitto and the store.
    ///
    /// # Errors
    /// Mosquitto missing or not starting; the store unreachable.
    pub fn new() -> anyhow::Result<Env> {
        // RUST_LOG=weijian=debug shows the pipeline's logs on a failing test.
        weijian_ingest::telemetry::logging::init(
            weijian_ingest::telemetry::logging::LogFormat::Text,
            "error",
        );
        let broker = Mosquitto::start().context("start mosquitto (apt-get install mosquitto)")?;
        let store = TestStore::from_env()?;
        let prefix = store.fresh_table_prefix();
        Ok(Env {
            broker,
            store,
            client_id: format!("weijian-test-{prefix}"),
            prefix,
            spool_dir: tempfile::tempdir()?,
        })
    }

    /// A weijian configuration for this environment: broker, store, spool, registry, extra
    /// `[limits]`/`[questdb]` settings appended by the caller.
    pub fn config_text(&self, registry: &str, extra_questdb: &str) -> String {
        format!(
            "[mqtt]\nhost = \"{}\"\nport = {}\nclient_id = \"{}\"\ninflight = 500\n\n\
             [questdb]\nconf = \"{}\"\ntable_prefix = \"{}\"\nflush_interval_ms = 50\nretry_max_ms = 500\n{extra_questdb}\n\n\
             [spool]\ndir = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n{registry}",
            self.broker.host(),
            self.broker.port(),
            self.client_id,
            self.store.conf_string(),
            self.prefix,
            self.spool_dir.path().display(),
        )
    }

    /// Parses a configuration.
    ///
    /// # Errors
    /// The configuration is invalid (shown with lines).
    pub fn config(&self, registry: &str) -> anyhow::Result<Config> {
        let text = self.config_text(registry, "");
        Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Starts weijian with `config`.
    ///
    /// # Errors
    /// weijian could not start.
    pub async fn start(&self, config: Config) -> anyhow::Result<(Running, CancellationToken)> {
        let shutdown = CancellationToken::new();
        let running = weijian_service::pipeline::start(config, shutdown.clone()).await?;
        // Wait until subscribed: connected + a moment for the SUBACK.
        for _ in 0..100 {
            if running.health.mqtt_connected.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok((running, shutdown))
    }

    /// [`Env::config_text`] with `extra_spool` lines added to its `[spool]` section (e.g.
    /// `max_bytes = 49152`).
    pub fn config_text_with_spool(
        &self,
        registry: &str,
        extra_questdb: &str,
        extra_spool: &str,
    ) -> String {
        let text = self.config_text(registry, extra_questdb);
        let dir_line = format!("[spool]\ndir = \"{}\"\n", self.spool_dir.path().display());
        text.replacen(&dir_line, &format!("{dir_line}{extra_spool}\n"), 1)
    }

    /// [`Env::start`] with the rule engine's timers on `clock` (simulated time).
    ///
    /// # Errors
    /// weijian could not start.
    pub async fn start_with_clock(
        &self,
        config: Config,
        clock: weijian_service::pipeline::Clock,
    ) -> anyhow::Result<(Running, CancellationToken)> {
        let shutdown = CancellationToken::new();
        let running =
            weijian_service::pipeline::start_with_clock(config, shutdown.clone(), clock).await?;
        for _ in 0..100 {
            if running.health.mqtt_connected.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok((running, shutdown))
    }

    /// [`Env::start`] with every durable write going through `disk` (a simulated full disk).
    ///
    /// # Errors
    /// weijian could not start.
    pub async fn start_with_disk(
        &self,
        config: Config,
        disk: Arc<dyn weijian_ingest::disk::DiskFaults>,
    ) -> anyhow::Result<(Running, CancellationToken)> {
        let shutdown = CancellationToken::new();
        let running = weijian_service::pipeline::start_with(
            config,
            shutdown.clone(),
            weijian_service::pipeline::wall_clock(),
            disk,
        )
        .await?;
        for _ in 0..100 {
            if running.health.mqtt_connected.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok((running, shutdown))
    }

    /// A table name with this test's prefix.
    pub fn table(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// A gateway-like publisher: QoS 1, counts PUBACKs.
#[derive(Debug)]
pub struct Publisher {
    client: rumqttc::AsyncClient,
    acked: Arc<AtomicUsize>,
    sent: usize,
    stop: CancellationToken,
}

impl Publisher {
    /// Connects a publisher (MQTT 3.1.1, inflight 100).
    pub fn connect(host: &str, port: u16, id: &str) -> Publisher {
        let mut o = rumqttc::MqttOptions::new(id, host, port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_inflight(100)
            .set_max_packet_size(1 << 21, 1 << 21);
        let (client, mut el) = rumqttc::AsyncClient::new(o, 1000);
        let acked = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let (a, s) = (acked.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = s.cancelled() => break,
                    ev = el.poll() => match ev {
                        Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                            a.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }
        });
        Publisher {
            client,
            acked,
            sent: 0,
            stop,
        }
    }

    /// Publishes with QoS 1.
    ///
    /// # Errors
    /// The client's event loop is gone.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: impl Into<Vec<u8>>,
    ) -> anyhow::Result<()> {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.into())
            .await?;
        self.sent += 1;
        Ok(())
    }

    /// Publishes sent so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// PUBACKs received from the broker so far.
    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits until the broker acknowledged everything published.
    ///
    /// # Errors
    /// Not all acknowledged within `timeout`.
    pub async fn flushed(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.acked.load(Ordering::Relaxed) < self.sent {
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "{} of {} publishes acknowledged",
                    self.acked.load(Ordering::Relaxed),
                    self.sent
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Waits until a metric reaches `at_least` (read from the running pipeline's registry).
///
/// # Errors
/// Not reached in time.
pub async fn wait_metric(
    running: &Running,
    name: &str,
    at_least: f64,
    timeout: Duration,
) -> anyhow::Result<f64> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let v = metric(running, name);
        if v >= at_least {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("{name} = {v}, expected at least {at_least}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The sum of a metric's samples (over all label values).
pub fn metric(running: &Running, name: &str) -> f64 {
    running
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
        .sum()
}
