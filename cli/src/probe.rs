//! `weijian check-config --probe`: whether the broker, QuestDB and the SMTP relay of a
//! configuration answer, one line each. Nothing is written anywhere: the broker sees a short
//! connection under the client id `<mqtt.client_id>-probe` (never weijian's own, which would
//! take over its session), QuestDB a `GET /ping`, the SMTP relay a connection that reads its
//! greeting and says `QUIT`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use weijian_ingest::config::delivery::{SmtpSettings, SmtpTls};
use weijian_ingest::config::Config;
use weijian_ingest::source::mqtt::{self, Polled};

/// How long each service has to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Probes every service of `config`, appends a line each to `out`; `true` when all answered.
pub fn probe_all(config: &Config, out: &mut String) -> bool {
    use std::fmt::Write as _;
    let mut all = true;
    let mut report = |what: String, result: Result<String, String>| match result {
        Ok(answer) => {
            let _ = writeln!(out, "  probe       {what}: answered ({answer})");
        }
        Err(why) => {
            all = false;
            let _ = writeln!(out, "  probe       {what}: NO ANSWER ({why})");
        }
    };
    report(
        format!("broker {}:{}", config.mqtt.host, config.mqtt.port),
        probe_broker(config),
    );
    report(
        format!("questdb {}", config.questdb.endpoint.http_base()),
        probe_questdb(config),
    );
    match &config.delivery.smtp {
        Some(smtp) => report(
            format!("smtp {}:{}", smtp.host, smtp.port),
            probe_smtp(smtp),
        ),
        None => {
            let _ = writeln!(out, "  probe       smtp: not configured");
        }
    }
    all
}

fn probe_broker(config: &Config) -> Result<String, String> {
    let mut settings = config.mqtt.clone();
    settings.client_id = format!("{}-probe", settings.client_id);
    // MQTT 5: the probe's session ends when it disconnects.
    settings.session_expiry_secs = 0;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no async runtime: {e}"))?;
    runtime.block_on(async move {
        let started = Instant::now();
        let (client, mut events) =
            mqtt::connect(&settings, config.limits.max_payload_bytes).map_err(|e| e.to_string())?;
        let answer = tokio::time::timeout(PROBE_TIMEOUT, async {
            loop {
                match events.poll().await {
                    Ok(Polled::Connected { .. }) => break Ok(()),
                    Ok(_) => {}
                    Err(error) => break Err(error),
                }
            }
        })
        .await
        .map_err(|_| format!("no CONNACK within {} s", PROBE_TIMEOUT.as_secs()))
        .and_then(|r| r);
        if answer.is_ok() {
            client.disconnect().await;
            let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
        }
        answer.map(|()| format!("CONNACK in {} ms", started.elapsed().as_millis()))
    })
}

fn probe_questdb(config: &Config) -> Result<String, String> {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(PROBE_TIMEOUT))
            .http_status_as_error(false)
            .build(),
    );
    let mut request = agent.get(format!("{}/ping", config.questdb.endpoint.http_base()));
    if let Some(auth) = config.questdb.endpoint.authorization() {
        request = request.header("Authorization", &auth);
    }
    let response = request.call().map_err(|e| e.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(format!("/ping {}", status.as_u16()))
    } else {
        Err(format!("/ping answered {status}"))
    }
}

fn probe_smtp(smtp: &SmtpSettings) -> Result<String, String> {
    let addr = (smtp.host.as_str(), smtp.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .next()
        .ok_or("the name resolves to no address")?;
    let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(|e| e.to_string())?;
    if smtp.tls == SmtpTls::Tls {
        // Implicit TLS: the greeting comes after a handshake the probe does not make.
        return Ok("TCP connection accepted; TLS not checked".into());
    }
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(&stream);
    let mut greeting = String::new();
    reader
        .read_line(&mut greeting)
        .map_err(|e| format!("no greeting: {e}"))?;
    let _ = (&stream).write_all(b"QUIT\r\n");
    let greeting = greeting.trim();
    if greeting.starts_with("220") {
        Ok(greeting.chars().take(80).collect())
    } else {
        Err(format!("unexpected greeting {greeting:?}"))
    }
}
