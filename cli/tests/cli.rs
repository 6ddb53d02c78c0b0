//! The `weijian` command as users run it: exit codes and what it prints. (Also makes
//! `cargo test --workspace` build the binary, which the crash tests in `tests/` run.)

// Test code: a failed spawn or malformed output should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

fn weijian() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weijian"))
}

fn repo(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_config_accepts_the_shipped_example_and_runs_the_rule_pack_tests() {
    let out = weijian()
        .args([
            "check-config",
            "--config",
            &repo("config/weijian.example.toml"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    assert!(stdout.contains("shipped test cases pass"), "{stdout}");
}

#[test]
fn check_config_into_a_closed_pipe_exits_cleanly_without_a_panic() {
    // `weijian check-config ... | head -0`: the reader is gone before anything is written.
    let mut child = weijian()
        .args([
            "check-config",
            "--config",
            &repo("config/weijian.example.toml"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn check_config_reports_every_error_with_key_and_line_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[mqtt]\ninflight = 0\nprotocol = \"6\"\n[[devices]]\nid = \"x/y\"\nsite = \"nowhere\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n",
    )
    .unwrap();
    let out = weijian()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "4 configuration errors",
        "line 2: mqtt.inflight",
        "line 3: mqtt.protocol",
        "line 5: devices[0].id",
        "line 6: devices[0].site",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_config_names_a_missing_file() {
    let out = weijian()
        .args(["check-config", "--config", "/nonexistent/weijian.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/weijian.toml"));
}

#[test]
fn run_exits_78_on_a_bad_config_before_connecting_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[mqtt]\nport = \"eighteen\"\n").unwrap();
    let out = weijian()
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: mqtt.port"), "{stderr}");
}

#[test]
fn weijian_config_names_the_file_when_there_is_no_config_argument() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weijian.toml");
    std::fs::write(&path, "[http]\nlisten = \"${WJ_TEST_LISTEN}\"\n").unwrap();
    let out = weijian()
        .arg("check-config")
        .env("WEIJIAN_CONFIG", &path)
        .env_remove("WJ_TEST_LISTEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("line 2: (environment): environment variable WJ_TEST_LISTEN is not set"),
        "{stderr}"
    );
    let out = weijian()
        .arg("check-config")
        .env("WEIJIAN_CONFIG", &path)
        .env("WJ_TEST_LISTEN", "127.0.0.1:19464")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("http        127.0.0.1:19464"), "{stdout}");
    let out = weijian()
        .arg("check-config")
        .env_remove("WEIJIAN_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "EX_USAGE");
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEIJIAN_CONFIG"));
}

/// A port nothing listens on.
fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn run_logs_without_colour_codes_to_a_pipe_and_says_whether_questdb_answered() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weijian.toml");
    std::fs::write(
        &path,
        format!(
            "[mqtt]\nport = {}\n[questdb]\nconf = \"http::addr=127.0.0.1:{};\"\n\
             [spool]\ndir = \"spool\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            unused_port(),
            unused_port()
        ),
    )
    .unwrap();
    let mut child = weijian()
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            let done = line.contains("QuestDB did not answer at start");
            seen.push(line);
            if done {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log = seen.join("\n");
    assert!(log.contains("QuestDB did not answer at start"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe:\n{log}");
    // The relative spool directory is next to the configuration file.
    assert!(dir.path().join("spool").is_dir(), "{log}");
}

fn decode(format: &str, input: &str) -> (Option<i32>, Vec<serde_json::Value>) {
    let mut child = weijian()
        .args(["decode", format, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code(), lines)
}

#[test]
fn decode_hj212_prints_a_json_line_per_frame_and_exits_0_when_all_decode() {
    let frames = include_str!("../../ingest/src/decode/hj212/testdata/frames.txt");
    let (code, lines) = decode("hj212", frames);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines.len(), 7);
    assert!(lines.iter().all(|l| l["ok"] == true));
    let rtd = lines.iter().find(|l| l["header"]["cn"] == 2011).unwrap();
    assert_eq!(rtd["readings"][0]["metric"], "ph");
}

#[test]
fn decode_hj212_exits_1_and_names_the_reason_for_a_bad_crc() {
    let bad = "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C81\\r\\n";
    let (code, lines) = decode("hj212", bad);
    assert_eq!(code, Some(1));
    assert_eq!(lines[0]["reason"], "hj212_bad_crc");
}

#[test]
fn decode_json_reports_readings_and_rejections() {
    let (code, lines) = decode(
        "json",
        "{\"ts\":1,\"values\":{\"ph\":7.1}}\n{\"ts\":1,\"values\":{\"ph\":\"x\"}}\n",
    );
    assert_eq!(code, Some(1));
    assert_eq!(lines[0]["readings"][0]["value"], 7.1);
    assert_eq!(lines[1]["reason"], "wrong_type");
}
