//! The integrator tool behind `weijian decode hj212 [FILE|-]`: decodes frames line by line and
//! prints one JSON line per frame, so an integrator can check a logger's output by eye.

use std::io::{self, BufRead, Write};

use alerting::model::Timestamp;
use serde_json::{json, Value};

use super::{decode_frames, DecodedFrame, FrameRejection, FrameResult, Hj212Profile, Reassembler};

/// Replaces the two characters `\r` / `\n` (as written in text files) by CR / LF.
fn unescape_crlf(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while let Some(&byte) = line.get(i) {
        match (byte, line.get(i + 1)) {
            (b'\\', Some(b'r')) => {
                out.push(b'\r');
                i += 2;
            }
            (b'\\', Some(b'n')) => {
                out.push(b'\n');
                i += 2;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

fn decoded_json(frame: &DecodedFrame) -> Value {
    let h = &frame.header;
    let readings: Vec<Value> = frame
        .samples
        .iter()
        .flat_map(|sample| {
            sample.values.iter().map(move |v| {
                json!({
                    "ts": sample.ts.to_string(),
                    "metric": v.metric.name(),
                    "period": sample.period.as_str(),
                    "stat": sample.stat.as_str(),
                    "value": v.value,
                    "flag": v.flag.as_str(),
                })
            })
        })
        .collect();
    let status: Vec<Value> = frame
        .instrument_status
        .iter()
        .map(|(code, value)| json!({"code": code, "value": value}))
        .collect();
    let mut out = json!({
        "ok": true,
        "header": {
            "qn": h.qn, "st": h.st, "cn": h.cn, "pw": h.pw, "mn": h.mn, "flag": h.flag,
            "version": h.version(), "reply_wanted": h.reply_wanted(),
            "pnum": h.pnum, "pno": h.pno,
        },
        "readings": readings,
        "instrument_status": status,
        "reply": frame.reply,
    });
    if let Some(map) = out.as_object_mut() {
        if let Some(cn) = frame.ignored_command {
            map.insert("ignored_command".into(), json!(cn));
        }
        if let Some((have, pnum)) = frame.split_pending {
            map.insert("split_pending".into(), json!({"have": have, "pnum": pnum}));
        }
        if !frame.notes.is_empty() {
            map.insert("notes".into(), json!(frame.notes));
        }
    }
    out
}

fn rejected_json(rejected: &FrameRejection) -> Value {
    json!({
        "ok": false,
        "reason": rejected.rejection.reason.code(),
        "detail": rejected.rejection.detail,
        "raw": String::from_utf8_lossy(&rejected.raw),
    })
}

/// Reads lines holding one or more frames (CRLF real or written as the two characters `\r\n`;
/// blank lines and `# comment` lines skipped), prints one JSON line per frame to `out`:
/// `{"ok":true,"header":{…},"readings":[…],"instrument_status":[…],"reply":…}` or
/// `{"ok":false,"reason":…,"detail":…,"raw":…}`. Split uploads are reassembled across lines;
/// sets still incomplete at the end are reported as `hj212_split_timeout`. With no profile
/// the MN/PW binding is skipped and default codes with UTC+8 are used. Returns `Ok(true)` iff
/// every frame decoded.
pub fn report(
    mut input: impl BufRead,
    mut out: impl Write,
    profile: Option<&Hj212Profile>,
) -> io::Result<bool> {
    let mut reasm = Reassembler::default();
    let mut all_ok = true;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        let trimmed = line.trim_ascii_start();
        if trimmed.is_empty() || (trimmed.starts_with(b"#") && !trimmed.starts_with(b"##")) {
            continue;
        }
        let payload = unescape_crlf(&line);
        for result in decode_frames(&payload, profile, &mut reasm, Timestamp(0)) {
            let value = match &result {
                FrameResult::Decoded(frame) => decoded_json(frame),
                FrameResult::Rejected(rejected) => {
                    all_ok = false;
                    rejected_json(rejected)
                }
            };
            writeln!(out, "{value}")?;
        }
    }
    for rejected in reasm.flush() {
        all_ok = false;
        writeln!(out, "{}", rejected_json(&rejected))?;
    }
    Ok(all_ok)
}
