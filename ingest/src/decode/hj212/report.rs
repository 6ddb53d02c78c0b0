//! The integrator tool behind `weijian decode hj212 [FILE|-]`: decodes frames line by line and
//! prints one JSON line per frame, so an integrator can check a logger's output by eye.

use std::io::{self, BufRead, Write};

use alerting::model::Timestamp;
use serde::Serialize;

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

/// One output line for a decoded frame (field order is the JSON order).
#[derive(Serialize)]
struct DecodedLine<'a> {
    ok: bool,
    header: HeaderJson<'a>,
    readings: Vec<ReadingJson<'a>>,
    instrument_status: Vec<StatusJson<'a>>,
    reply: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignored_command: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    split_pending: Option<SplitJson>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

#[derive(Serialize)]
struct HeaderJson<'a> {
    qn: Option<&'a str>,
    st: Option<&'a str>,
    cn: u16,
    pw: Option<&'a str>,
    mn: &'a str,
    flag: Option<u8>,
    version: u8,
    reply_wanted: bool,
    pnum: Option<u32>,
    pno: Option<u32>,
}

#[derive(Serialize)]
struct ReadingJson<'a> {
    ts: String,
    metric: &'a str,
    period: &'static str,
    stat: &'static str,
    value: f64,
    flag: &'static str,
}

#[derive(Serialize)]
struct StatusJson<'a> {
    code: &'a str,
    value: f64,
}

#[derive(Serialize)]
struct SplitJson {
    have: usize,
    pnum: u32,
}

/// One output line for a rejection.
#[derive(Serialize)]
struct RejectedLine<'a> {
    ok: bool,
    reason: &'static str,
    detail: &'a str,
    raw: String,
}

fn decoded_line(frame: &DecodedFrame) -> DecodedLine<'_> {
    let h = &frame.header;
    DecodedLine {
        ok: true,
        header: HeaderJson {
            qn: h.qn.as_deref(),
            st: h.st.as_deref(),
            cn: h.cn,
            pw: h.pw.as_deref(),
            mn: &h.mn,
            flag: h.flag,
            version: h.version(),
            reply_wanted: h.reply_wanted(),
            pnum: h.pnum,
            pno: h.pno,
        },
        readings: frame
            .samples
            .iter()
            .flat_map(|sample| {
                sample.values.iter().map(move |v| ReadingJson {
                    ts: sample.ts.to_string(),
                    metric: v.metric.name(),
                    period: sample.period.as_str(),
                    stat: sample.stat.as_str(),
                    value: v.value,
                    flag: v.flag.as_str(),
                })
            })
            .collect(),
        instrument_status: frame
            .instrument_status
            .iter()
            .map(|(code, value)| StatusJson {
                code,
                value: *value,
            })
            .collect(),
        reply: frame.reply.as_deref(),
        ignored_command: frame.ignored_command,
        split_pending: frame
            .split_pending
            .map(|(have, pnum)| SplitJson { have, pnum }),
        notes: &frame.notes,
    }
}

fn rejected_line(rejected: &FrameRejection) -> RejectedLine<'_> {
    RejectedLine {
        ok: false,
        reason: rejected.rejection.reason.code(),
        detail: &rejected.rejection.detail,
        raw: String::from_utf8_lossy(&rejected.raw).into_owned(),
    }
}

fn write_line(out: &mut impl Write, line: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(io::Error::other)?;
    out.write_all(b"\n")
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
            match &result {
                FrameResult::Decoded(frame) => write_line(&mut out, &decoded_line(frame))?,
                FrameResult::Rejected(rejected) => {
                    all_ok = false;
                    write_line(&mut out, &rejected_line(rejected))?;
                }
            }
        }
    }
    for rejected in reasm.flush() {
        all_ok = false;
        write_line(&mut out, &rejected_line(&rejected))?;
    }
    out.flush()?;
    Ok(all_ok)
}
