//! The shipped broker set-up, tested: Mosquitto with `config/mosquitto.acl`, a password file and a
//! TLS listener (certificates made for the test), weijian connecting over TLS with its password,
//! and a gateway that may write its own site's topics and is refused on another site's.
//!
//! Needs `mosquitto`, `mosquitto_passwd` (both in Debian's `mosquitto` package) and `openssl`;
//! `.ci/run` installs them.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Context};
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, PubAckReason};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rustls::pki_types::pem::PemObject;
use tokio_util::sync::CancellationToken;
use weijian_ingest::config::{Config, Env as ConfigEnv};
use weijian_tests::mosquitto::Mosquitto;
use weijian_tests::store::TestStore;

const WEIJIAN_PASSWORD: &str = "weijian-broker-secret";
const GATEWAY_PASSWORD: &str = "gateway-east-outlet-secret";

/// Two water sites, each with one monitor.
const REGISTRY: &str = r#"
[[sites]]
id = "wp-east-outlet"
name = "城东水厂 出厂水"
kind = "water"
grid = { district = "d", street = "st", community = "c1" }
water = { point = "outlet", disinfectant = "free_chlorine" }

[[sites]]
id = "wp-east-tap-07"
name = "城东水厂 管网末梢水 7号点"
kind = "water"
grid = { district = "d", street = "st", community = "c2" }
water = { point = "network_end", disinfectant = "free_chlorine" }

[[devices]]
id = "wm-east-out-1"
site = "wp-east-outlet"
kind = "water_monitor"
expected_interval_secs = 60

[[devices]]
id = "wm-east-tap-07"
site = "wp-east-tap-07"
kind = "water_monitor"
expected_interval_secs = 60
"#;

/// The environment weijian's configuration reads (`mqtt.password_env`), without touching the
/// process environment.
struct TestEnv(HashMap<&'static str, String>);

impl ConfigEnv for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?} (is it installed?)"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A test CA and a server certificate for `localhost` / 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) -> anyhow::Result<()> {
    let p = |f: &str| dir.join(f);
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=weijian test CA",
            "-keyout",
        ])
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")))?;
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj", "/CN=localhost", "-keyout"])
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")))?;
    std::fs::write(
        p("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )?;
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(p("server.ext"))
        .arg("-out")
        .arg(p("server.crt")))?;
    Ok(())
}

/// The password file: weijian, and the gateway of site wp-east-outlet (user name = site id).
fn make_password_file(dir: &Path) -> anyhow::Result<()> {
    let file = dir.join("passwd");
    run(Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&file)
        .args(["weijian", WEIJIAN_PASSWORD]))?;
    run(Command::new("mosquitto_passwd")
        .arg("-b")
        .arg(&file)
        .args(["wp-east-outlet", GATEWAY_PASSWORD]))?;
    Ok(())
}

/// Mosquitto running the shipped `config/mosquitto.conf` and `config/mosquitto.acl`, with the
/// test's certificates, password file, ports and directories in place of the installed paths.
fn secured_broker(sec: &Path) -> anyhow::Result<Mosquitto> {
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    std::fs::copy(config_dir.join("mosquitto.acl"), sec.join("weijian.acl"))
        .context("copy config/mosquitto.acl")?;
    let shipped = std::fs::read_to_string(config_dir.join("mosquitto.conf"))
        .context("read config/mosquitto.conf")?;
    let local_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let sec = sec.display().to_string();
    let mut missing = Vec::new();
    let broker = Mosquitto::start_with_settings(
        |tls_port, dir| {
            let mut conf = shipped.clone();
            for (installed, here) in [
                (
                    "listener 1883 127.0.0.1".to_string(),
                    format!("listener {local_port} 127.0.0.1"),
                ),
                (
                    "listener 8883".to_string(),
                    format!("listener {tls_port} 127.0.0.1"),
                ),
                ("/etc/mosquitto/certs/".to_string(), format!("{sec}/")),
                ("/etc/mosquitto/passwd".to_string(), format!("{sec}/passwd")),
                (
                    "/etc/mosquitto/weijian.acl".to_string(),
                    format!("{sec}/weijian.acl"),
                ),
                (
                    "/var/lib/mosquitto/".to_string(),
                    format!("{}/", dir.display()),
                ),
            ] {
                if !conf.contains(&installed) {
                    missing.push(installed.clone());
                }
                conf = conf.replace(&installed, &here);
            }
            conf + "\n"
        },
        // Denied publishes are logged at debug.
        "log_type debug\n",
    )?;
    anyhow::ensure!(
        missing.is_empty(),
        "config/mosquitto.conf no longer has {missing:?}: update this test with it"
    );
    Ok(broker)
}

/// An MQTT 5 client over TLS trusting only the test CA.
fn tls_client(
    port: u16,
    ca: &Path,
    id: &str,
    credentials: Option<(&str, &str)>,
) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let pem = std::fs::read(ca)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert?)?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut o = MqttOptions::new(id, "localhost", port);
    o.set_keep_alive(Duration::from_secs(10))
        .set_transport(rumqttc::Transport::tls_with_config(tls.into()));
    if let Some((user, password)) = credentials {
        o.set_credentials(user, password);
    }
    Ok(AsyncClient::new(o, 100))
}

/// Polls until the broker answers the connection: `Some(code)` from its CONNACK, `None` when it
/// closed the connection instead (Mosquitto does that for some refusals).
async fn connack(ev: &mut EventLoop) -> anyhow::Result<Option<ConnectReturnCode>> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(c))) => return Some(c.code),
                Ok(_) => {}
                Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => return Some(code),
                Err(_) => return None,
            }
        }
    })
    .await
    .context("no answer to CONNECT within 10 s")
}

/// What became of a QoS 1 publish.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The broker's PUBACK, with its reason.
    Acked(PubAckReason),
    /// The broker closed the connection instead (Mosquitto 2.0.11 does so after the PUBACK of a
    /// publish its ACL denied to an MQTT 5 client).
    Closed,
}

/// Connects the gateway of site wp-east-outlet (a fresh connection, so that a refusal that
/// closes it does not affect the next publish) and publishes one QoS 1 message.
async fn gateway_publish(
    port: u16,
    ca: &Path,
    topic: &str,
    payload: String,
) -> anyhow::Result<Outcome> {
    let (client, mut ev) = tls_client(
        port,
        ca,
        "gw-east-outlet",
        Some(("wp-east-outlet", GATEWAY_PASSWORD)),
    )?;
    let code = connack(&mut ev).await?;
    anyhow::ensure!(
        code == Some(ConnectReturnCode::Success),
        "the gateway's own credential was refused: {code:?}"
    );
    client
        .publish(topic, QoS::AtLeastOnce, false, payload)
        .await?;
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::PubAck(ack))) => return Outcome::Acked(ack.reason),
                Ok(_) => {}
                Err(_) => return Outcome::Closed,
            }
        }
    })
    .await
    .context("no PUBACK within 10 s")?;
    let _ = client.disconnect().await;
    Ok(outcome)
}

fn reading(ph: f64) -> String {
    let ts = chrono::Utc::now().timestamp_millis() - 60_000;
    format!(r#"{{"ts":{ts},"values":{{"ph":{ph}}}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weijian_over_tls_with_a_password_and_a_gateway_bound_to_its_site() -> anyhow::Result<()> {
    if !Mosquitto::is_available() {
        eprintln!("SKIPPED: mosquitto is not installed (apt-get install mosquitto)");
        return Ok(());
    }
    weijian_ingest::telemetry::logging::init(
        weijian_ingest::telemetry::logging::LogFormat::Text,
        "error",
    );
    let sec = tempfile::tempdir()?;
    make_certificates(sec.path())?;
    make_password_file(sec.path())?;
    let broker = secured_broker(sec.path())?;
    let ca = sec.path().join("ca.crt");

    // Anonymous clients and wrong passwords are refused.
    let (_anon, mut anon_ev) = tls_client(broker.port(), &ca, "anonymous", None)?;
    let code = connack(&mut anon_ev).await?;
    assert_ne!(
        code,
        Some(ConnectReturnCode::Success),
        "anonymous client accepted"
    );
    let (_bad, mut bad_ev) = tls_client(
        broker.port(),
        &ca,
        "wrong-password",
        Some(("wp-east-outlet", "not-the-password")),
    )?;
    let code = connack(&mut bad_ev).await?;
    assert_ne!(
        code,
        Some(ConnectReturnCode::Success),
        "wrong password accepted"
    );

    // weijian connects over TLS, with the password from the environment.
    let store = TestStore::from_env()?;
    let prefix = store.fresh_table_prefix();
    let spool = tempfile::tempdir()?;
    let text = format!(
        "[mqtt]\nhost = \"localhost\"\nport = {port}\nclient_id = \"weijian-{prefix}\"\n\
         username = \"weijian\"\npassword_env = \"WJ_TEST_MQTT_PASSWORD\"\n\
         tls_ca_file = \"{ca}\"\n\n\
         [questdb]\nconf = \"{conf}\"\ntable_prefix = \"{prefix}\"\nflush_interval_ms = 50\n\n\
         [spool]\ndir = \"{spool}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n{REGISTRY}",
        port = broker.port(),
        ca = ca.display(),
        conf = store.conf_string(),
        spool = spool.path().display(),
    );
    let env = TestEnv(HashMap::from([(
        "WJ_TEST_MQTT_PASSWORD",
        WEIJIAN_PASSWORD.to_string(),
    )]));
    let config =
        Config::parse(&text, "broker_security", &env).map_err(|e| anyhow::anyhow!("{e}"))?;
    let running = weijian_service::pipeline::start(config, CancellationToken::new()).await?;
    let mut connected = false;
    for _ in 0..200 {
        if running.health.mqtt_connected.load(Ordering::Relaxed) {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        connected,
        "weijian did not connect over TLS; broker log:\n{}",
        broker.log()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The gateway of wp-east-outlet writes its own site's topic: accepted and stored.
    let port = broker.port();
    let own_topic = "weijian/v1/wp-east-outlet/wm-east-out-1/telemetry";
    let own = gateway_publish(port, &ca, own_topic, reading(7.1)).await?;
    assert_eq!(
        own,
        Outcome::Acked(PubAckReason::Success),
        "{}",
        broker.log()
    );

    // ... and is refused by the broker on another site's topic, and on weijian's alert topic:
    // weijian never sees either.
    for topic in [
        "weijian/v1/wp-east-tap-07/wm-east-tap-07/telemetry",
        "weijian/v1/alerts/wp-east-outlet",
    ] {
        let outcome = gateway_publish(port, &ca, topic, reading(9.9)).await?;
        assert_ne!(
            outcome,
            Outcome::Acked(PubAckReason::Success),
            "{topic} accepted"
        );
        let denied = "Denied PUBLISH from gw-east-outlet";
        assert!(
            broker
                .log()
                .lines()
                .any(|l| l.contains(denied) && l.contains(topic)),
            "the broker did not deny {topic}:\n{}",
            broker.log()
        );
    }

    let water = format!("{prefix}water_quality");
    store
        .wait_for_count_async(&water, 1, Duration::from_secs(30))
        .await?;
    // Give a refused message time to arrive, had the broker let it through.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = store.rows(&water, &["device"])?;
    assert_eq!(
        rows.len(),
        1,
        "only the gateway's own reading is stored: {rows:?}"
    );
    assert_eq!(
        store.count(&format!("{prefix}quarantine"))?,
        0,
        "nothing reached weijian to quarantine"
    );

    running.stop().await;
    Ok(())
}
