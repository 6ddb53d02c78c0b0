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
fn check_config_reports_every_error_with_key_and_line_and_exits_64() {
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
    assert_eq!(out.status.code(), Some(64));
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
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/weijian.toml"));
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
