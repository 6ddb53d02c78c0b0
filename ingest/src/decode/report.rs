//! `weijian decode`: decode payloads the way the ingestor would, for integrators debugging a
//! gateway or logger, and print one JSON line per object or frame with what it would produce
//! or why it would be rejected. Returns whether everything decoded (exit status 0 / 1).
//!
//! No registry is consulted: device binding (site, MN, password) is not checked, but the
//! catalogue (metric names) and physical ranges are.

use std::io::{self, BufRead, Write};

use alerting::model::{Metric, Timestamp};
use serde_json::json;

use super::{json as jsondec, MetricRef};
use crate::reject::{Reason, Rejection};

/// JSON payloads, one per line: telemetry, event or status, detected from their fields.
///
/// # Errors
/// Reading the input or writing the output failed.
pub fn json(input: impl BufRead, mut out: impl Write) -> io::Result<bool> {
    let mut all_ok = true;
    for line in input.lines() {
        let line = line?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        for result in json_lines(text) {
            all_ok &= result
                .get("ok")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            writeln!(out, "{result}")?;
        }
    }
    Ok(all_ok)
}

fn rejected(r: &Rejection, raw: &str) -> serde_json::Value {
    json!({"ok": false, "reason": r.reason.code(), "detail": r.detail, "raw": raw})
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    let looks = |field: &str| text.contains(&format!("\"{field}\""));
    if looks("online") && !looks("values") {
        return vec![match jsondec::status(text) {
            Ok(s) => {
                json!({"ok": true, "kind": "status", "ts": s.ts.to_string(), "online": s.online})
            }
            Err(r) => rejected(&r, text),
        }];
    }
    if looks("type") && !looks("values") {
        return match jsondec::events(text, usize::MAX) {
            Ok(objects) => objects
                .into_iter()
                .map(|o| match o {
                    Ok(e) => json!({"ok": true, "kind": "event", "ts": e.ts.to_string(), "type": e.kind.as_str(), "ref": e.reference}),
                    Err(bad) => rejected(&bad.rejection, &bad.raw),
                })
                .collect(),
            Err(r) => vec![rejected(&r, text)],
        };
    }
    match jsondec::telemetry(text, usize::MAX) {
        Ok(objects) => objects
            .into_iter()
            .map(|o| match o {
                Ok(sample) => telemetry_line(sample.ts, sample.seq, &sample.values),
                Err(bad) => rejected(&bad.rejection, &bad.raw),
            })
            .collect(),
        Err(r) => vec![rejected(&r, text)],
    }
}

fn telemetry_line(
    ts: Timestamp,
    seq: Option<u64>,
    values: &[super::SampleValue],
) -> serde_json::Value {
    let mut readings = Vec::new();
    let mut problems = Vec::new();
    for v in values {
        match &v.metric {
            MetricRef::Known(m) => {
                let (lo, hi) = m.physical_range();
                if (lo..=hi).contains(&v.value) {
                    readings.push(json!({"metric": m.name(), "value": v.value}));
                } else {
                    problems.push(json!({"reason": Reason::OutOfRange.code(), "detail": format!("{m} = {} is outside {lo}..{hi}", v.value)}));
                }
            }
            MetricRef::Unknown(name) => problems.push(json!({"reason": Reason::UnknownMetric.code(), "detail": format!("{name:?} is not in the catalogue ({})", catalogue())})),
        }
    }
    json!({"ok": problems.is_empty(), "kind": "telemetry", "ts": ts.to_string(), "seq": seq, "readings": readings, "rejected_values": problems})
}

fn catalogue() -> String {
    Metric::ALL
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// HJ 212 frames, one or more per line.
///
/// # Errors
/// Reading the input or writing the output failed.
pub fn hj212(input: impl BufRead, out: impl Write) -> io::Result<bool> {
    super::hj212::report(input, out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (bool, Vec<serde_json::Value>) {
        let mut out = Vec::new();
        let ok = json(input.as_bytes(), &mut out).unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (ok, lines)
    }

    #[test]
    fn reports_each_object_of_each_line() {
        let (ok, lines) = run(
            "{\"ts\":1,\"values\":{\"ph\":7}}\n# comment\n[{\"ts\":2,\"values\":{\"ph\":7}},{\"ts\":3}]\n{\"ts\":4,\"type\":\"disinfection\",\"method\":\"uv\"}\n{\"online\":true,\"ts\":5}\n",
        );
        assert!(!ok);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["readings"][0]["metric"], "ph");
        assert_eq!(lines[2]["reason"], "missing_field");
        assert_eq!(lines[3]["type"], "disinfection");
        assert_eq!(lines[4]["kind"], "status");
    }

    #[test]
    fn all_good_input_reports_success() {
        let (ok, _) = run("{\"ts\":1,\"values\":{\"ph\":7}}\n");
        assert!(ok);
        let (ok, lines) = run("{\"ts\":1,\"values\":{\"ph\":17,\"fizz\":1}}\n");
        assert!(!ok);
        assert_eq!(lines[0]["rejected_values"].as_array().unwrap().len(), 2);
    }
}
