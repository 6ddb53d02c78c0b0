//! No secret in any log line, at any level, other crates' lines included: a child process
//! (this test binary again) installs weijian's logging at `trace`, sends HTTP requests with
//! ureq the way the notifiers and the QuestDB client do (a DingTalk `access_token=`, a WeCom
//! `key=`, a Basic authorization header carrying the QuestDB password) and logs what weijian
//! itself may log (a QuestDB configuration string, an HJ 212 frame with `PW=`); the parent
//! reads the child's stderr and looks for the secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

const DINGTALK_TOKEN: &str = "DTSECRET0123456789abcdef";
const WECOM_KEY: &str = "WECOMSECRET-6f1c-4a2b";
const QUESTDB_PASSWORD: &str = "QDBSECRETpassw0rd";
const HJ212_PASSWORD: &str = "HJPW987654";
const CHILD: &str = "WEIJIAN_LOG_SECRETS_CHILD";

/// Answers every HTTP request on a local port with `200 {}`; returns the port.
fn answering_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 16 * 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    port
}

/// What the child does, logging at `trace` to stderr.
fn child() {
    weijian_ingest::telemetry::logging::init(
        weijian_ingest::telemetry::logging::LogFormat::Text,
        "trace",
    );
    tracing::trace!("the child logs at trace");
    let port = answering_server();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let _ = agent
        .post(&format!(
            "{base}/robot/send?access_token={DINGTALK_TOKEN}&timestamp=1&sign=abc"
        ))
        .send("{}");
    let _ = agent
        .post(&format!("{base}/cgi-bin/webhook/send?key={WECOM_KEY}"))
        .send("{}");
    let basic = base64_basic("admin", QUESTDB_PASSWORD);
    let _ = agent
        .post(&format!("{base}/write?precision=n"))
        .header("Authorization", &format!("Basic {basic}"))
        .send("t v=1\n");
    // What weijian's own lines may carry.
    tracing::debug!(
        conf = %format!("http::addr=127.0.0.1:9000;username=admin;password={QUESTDB_PASSWORD};"),
        "QuestDB configuration."
    );
    tracing::info!(
        "Quarantined an HJ 212 frame: ##0101QN=20261122080000000;ST=32;CN=2011;PW={HJ212_PASSWORD};MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20261122080000;w01001-Rtd=7.1,w01001-Flag=N&&1C80"
    );
    tracing::info!(url = %format!("https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}"), "A notice was sent.");
}

/// `user:password` in base64 (RFC 4648, with padding), as a Basic authorization has it.
fn base64_basic(user: &str, password: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn no_secret_appears_in_the_logs_at_trace() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "no_secret_appears_in_the_logs_at_trace",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the child failed: {stderr}");
    assert!(
        stderr.contains("the child logs at trace"),
        "not logging at trace: {stderr}"
    );
    assert!(stderr.contains("A notice was sent."), "{stderr}");
    let basic = base64_basic("admin", QUESTDB_PASSWORD);
    // Any 8 characters of a secret: ureq's trace hexdump spreads a request over lines of 16
    // bytes, so a whole secret may never be on one line while all of it is in the log.
    for secret in [
        DINGTALK_TOKEN,
        WECOM_KEY,
        QUESTDB_PASSWORD,
        HJ212_PASSWORD,
        basic.as_str(),
    ] {
        let chars: Vec<char> = secret.chars().collect();
        for piece in chars.windows(8).map(|w| w.iter().collect::<String>()) {
            let line = stderr.lines().find(|l| l.contains(&piece));
            assert!(
                line.is_none(),
                "{piece:?} of {secret:?} is in the log: {}",
                line.unwrap_or_default()
            );
        }
    }
}
