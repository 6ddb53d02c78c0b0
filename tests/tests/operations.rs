//! What an operator watches, end to end through Mosquitto: `/metrics` on a fresh start lists
//! the build and every counter at 0, a first start is no data gap, and a broker that lost our
//! session is one; `check-config --probe` says which of broker, QuestDB and SMTP answer.

use weijian_tests::harness::{metric, water_registry, Env};

/// GET `/metrics` of a running weijian.
fn scrape(addr: std::net::SocketAddr) -> anyhow::Result<String> {
    Ok(ureq::get(format!("http://{addr}/metrics"))
        .call()?
        .body_mut()
        .read_to_string()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_start_lists_the_build_and_every_counter_at_zero() -> anyhow::Result<()> {
    let env = Env::new()?;
    let (running, _shutdown) = env.start(env.config(&water_registry(2))?).await?;
    let addr = running.http_addr;
    let text = tokio::task::spawn_blocking(move || scrape(addr)).await??;
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!("weijian_build_info{{version=\"{version}\"}} 1")),
        "{text}"
    );
    let counters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .filter(|name| name.starts_with("weijian_"))
        .collect();
    for name in [
        "weijian_mqtt_received_messages_total",
        "weijian_processed_messages_total",
        "weijian_rejected_total",
        "weijian_questdb_rows_written_total",
        "weijian_questdb_write_errors_total",
        "weijian_alert_events_total",
        "weijian_mqtt_session_lost_total",
    ] {
        assert!(counters.contains(&name), "{name} missing from {counters:?}");
    }
    for name in counters {
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")))
            .collect();
        assert!(!samples.is_empty(), "{name} has no sample on a fresh start");
        // The rule engine's first tick may already have stored the sites' risk grades.
        let nonzero: Vec<&&str> = samples
            .iter()
            .filter(|l| !l.ends_with(" 0") && !l.contains("table=\"site_risk\""))
            .collect();
        assert!(nonzero.is_empty(), "{nonzero:?}");
    }
    for gauge in [
        "weijian_open_alerts{level=\"I\"} 0",
        "weijian_offline_devices 0",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_cpu_seconds_total ",
        "\nprocess_open_fds ",
    ] {
        assert!(text.contains(gauge), "{gauge} in:\n{text}");
    }
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_is_no_session_lost_but_a_broker_that_forgot_us_is() -> anyhow::Result<()> {
    let mut env = Env::new()?;
    let config = env.config(&water_registry(1))?;
    // The very first start: the broker never had a session for this client id.
    let (running, _shutdown) = env.start(config.clone()).await?;
    assert_eq!(metric(&running, "weijian_mqtt_connected"), 1.0);
    assert_eq!(metric(&running, "weijian_mqtt_session_lost_total"), 0.0);
    running.stop().await;
    // A restart: the broker kept the session.
    let (running, _shutdown) = env.start(config.clone()).await?;
    assert_eq!(metric(&running, "weijian_mqtt_connected"), 1.0);
    assert_eq!(metric(&running, "weijian_mqtt_session_lost_total"), 0.0);
    running.stop().await;
    // The broker loses its state while weijian is away: that is a possible gap.
    env.broker.kill()?;
    let _ = std::fs::remove_file(env.broker.dir().join("mosquitto.db"));
    env.broker.resume()?;
    let (running, _shutdown) = env.start(config).await?;
    assert_eq!(metric(&running, "weijian_mqtt_connected"), 1.0);
    assert_eq!(metric(&running, "weijian_mqtt_session_lost_total"), 1.0);
    running.stop().await;
    Ok(())
}

/// `weijian check-config --probe --config FILE`: (exit code, stdout).
fn probe(config: &str) -> anyhow::Result<(Option<i32>, String)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("weijian.toml");
    std::fs::write(&path, config)?;
    let out = std::process::Command::new(weijian_tests::process::weijian_binary()?)
        .args(["check-config", "--probe", "--config"])
        .arg(&path)
        .output()?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// A port nothing listens on.
fn unused_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// An SMTP relay that greets once and closes.
fn smtp_greeter() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            use std::io::Write;
            let _ = stream.write_all(b"220 relay.test ESMTP ready\r\n");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    Ok(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_probe_reports_which_services_answer() -> anyhow::Result<()> {
    let mut env = Env::new()?;
    let smtp = format!(
        "[delivery.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"weijian <a@b.test>\"\n",
        smtp_greeter()?
    );
    // Everything up: the broker, the QuestDB double, the relay.
    let config = format!("{}\n{smtp}", env.config_text("", ""));
    let (code, stdout) = tokio::task::spawn_blocking(move || probe(&config)).await??;
    assert_eq!(code, Some(0), "{stdout}");
    for expected in [
        format!("broker 127.0.0.1:{}: answered (CONNACK", env.broker.port()),
        "/ping 204".to_owned(),
        "smtp 127.0.0.1:".to_owned(),
        "answered (220 relay.test ESMTP ready)".to_owned(),
    ] {
        assert!(stdout.contains(&expected), "{expected} in:\n{stdout}");
    }
    // The broker down, QuestDB on a port nothing listens on, no SMTP.
    env.broker.stop()?;
    let questdb_port = unused_port()?;
    let questdb = format!("http::addr=127.0.0.1:{questdb_port};");
    let config = env
        .config_text("", "")
        .replace(&env.store.conf_string(), &questdb);
    let (code, stdout) = tokio::task::spawn_blocking(move || probe(&config)).await??;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "broker 127.0.0.1:{}: NO ANSWER",
            env.broker.port()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "questdb http://127.0.0.1:{questdb_port}: NO ANSWER"
        )),
        "{stdout}"
    );
    assert_eq!(stdout.matches("NO ANSWER").count(), 2, "{stdout}");
    assert!(stdout.contains("smtp: not configured"), "{stdout}");
    Ok(())
}
