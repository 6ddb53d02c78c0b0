//! HJ 212 tests of the integrator report (one JSON line per frame).

use super::*;

// ---- report ----

#[test]
fn the_report_prints_one_json_line_per_frame_and_is_ok_for_the_fixture() {
    let mut out = Vec::new();
    let ok = report(FIXTURE.as_bytes(), &mut out, None).unwrap();
    assert!(ok);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(r#"{"ok":true,"header":{"qn":"20160801085857223","st":"32","cn":1062,"#),
        "{text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert!(lines.iter().all(|l| l["ok"] == true));
    let realtime = &lines[5];
    assert_eq!(realtime["header"]["cn"], 2011);
    assert_eq!(realtime["header"]["version"], 1);
    assert_eq!(realtime["header"]["reply_wanted"], true);
    assert_eq!(realtime["readings"][0]["metric"], "ph");
    assert_eq!(realtime["readings"][0]["ts"], "2024-05-01T04:00:00.000Z");
    assert_eq!(realtime["readings"][0]["flag"], "N");
    assert!(realtime["reply"].as_str().unwrap().contains("CN=9014"));
}

#[test]
fn the_report_flags_bad_frames_and_returns_false() {
    let frames = fixture_frames();
    let input = format!(
        "{}garbage{}\n",
        frames[5].replace("\r\n", "\\r\\n"),
        frames[6].replace("7EC0", "0000").replace("9741", "9742")
    );
    let mut out = Vec::new();
    let ok = report(input.as_bytes(), &mut out, Some(&profile())).unwrap();
    assert!(!ok);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[1]["reason"], "hj212_malformed");
    assert_eq!(lines[2]["reason"], "hj212_bad_crc");
}

#[test]
fn the_report_reports_split_sets_left_incomplete_at_the_end() {
    let input = split_part(1, 6, "DataTime=20240501120000;w01001-Avg=7.1");
    let mut out = Vec::new();
    assert!(!report(input.as_bytes(), &mut out, None).unwrap());
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("split_pending") && text.contains("hj212_split_timeout"),
        "{text}"
    );
}
