//! The small chart on an alert's page: the alert's metric on its device from an hour before the
//! alert started to its end (or now, at most three hours after the start), read from QuestDB's
//! `/exec` with the configured endpoint and a short timeout (`http.console_chart_timeout_ms`),
//! drawn server-side as inline SVG with the limit and the start marked. When QuestDB does not
//! answer in time the page says so and renders without it.

use std::fmt::Write as _;

use alerting::model::{Metric, Timestamp};
use alerting::EvidenceValue;
use chrono::DateTime;
use weijian_ingest::sink::http::QuestDbHttp;
use weijian_ingest::sink::schema::readings_table_name;

use super::page::{beijing, esc, Lang};
use super::ChartSource;
use crate::api::view::Alert;

/// Readings before the alert started that the chart shows.
const BEFORE_SECS: i64 = 3600;
/// The longest span after the start the chart shows.
const AFTER_MAX_SECS: i64 = 3 * 3600;
/// Rows read at most (a reading a minute over four hours is 240).
const MAX_ROWS: usize = 2000;

/// What the chart section shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// The alert has no metric to chart (offline, sequence gaps, ...): no section.
    None,
    Drawn {
        metric: Metric,
        svg: String,
        points: usize,
    },
    /// QuestDB answered with no readings in the window.
    NoData { metric: Metric },
    /// QuestDB did not answer (in time), or refused: why.
    Unavailable { metric: Metric, why: String },
}

/// The chart of `alert`'s metric (runs the blocking query on a blocking thread).
pub async fn around(
    source: &ChartSource,
    registry: &weijian_ingest::config::Registry,
    alert: &Alert,
) -> Chart {
    let Some(metric) = metric_of(alert) else {
        return Chart::None;
    };
    let Some(device) = registry.device(&alert.device) else {
        return Chart::None;
    };
    if !metric.belongs_to(device.kind) {
        return Chart::None;
    }
    let table = format!(
        "{}{}",
        source.table_prefix,
        readings_table_name(device.kind)
    );
    let started = alert.started_at_us;
    let from = started - BEFORE_SECS * 1_000_000;
    let end = alert
        .resolved_at_us
        .map_or(alert.updated_at_us, |r| r + 1_800_000_000)
        .max(started + 600_000_000)
        .min(started + AFTER_MAX_SECS * 1_000_000);
    let sql = readings_sql(&table, metric, &alert.device, from, end);
    let name = metric;
    let endpoint = source.endpoint.clone();
    let timeout = source.timeout;
    let answer = tokio::task::spawn_blocking(move || {
        QuestDbHttp::new(&endpoint).and_then(|http| http.query(&sql, timeout))
    })
    .await;
    let json = match answer {
        Ok(Ok(json)) => json,
        Ok(Err(e)) => {
            return Chart::Unavailable {
                metric: name,
                why: e.to_string(),
            }
        }
        Err(e) => {
            return Chart::Unavailable {
                metric: name,
                why: e.to_string(),
            }
        }
    };
    let points = points_of(&json);
    if points.is_empty() {
        return Chart::NoData { metric: name };
    }
    let limit = alert
        .evidence
        .iter()
        .find_map(|e| match (&*e.name, &e.value) {
            ("limit", EvidenceValue::Number(n)) => Some(*n),
            _ => None,
        });
    Chart::Drawn {
        svg: svg(&points, limit, started, (from, end)),
        points: points.len(),
        metric: name,
    }
}

/// The query for the chart: `metric` of `device` in `table` from `from` to `to` (epoch
/// microseconds). One series: instantaneous values and averages (JSON and HJ 212 `-Rtd`,
/// HJ 212 `-Avg`); the minimum, maximum and count rows HJ 212 loggers also send for a minute,
/// an hour or a day would draw a zigzag through it. (`!=` rather than `IN`: the QuestDB
/// double the tests run against knows no `IN`.)
pub fn readings_sql(table: &str, metric: Metric, device: &str, from: i64, to: i64) -> String {
    format!(
        "SELECT ts, {col} FROM {table} WHERE device = '{dev}' AND stat != 'min' AND stat != 'max' \
         AND stat != 'cou' AND ts >= '{from}' AND ts < '{to}' LIMIT {MAX_ROWS}",
        col = metric.name(),
        dev = device.replace('\'', "''"),
        from = iso(from),
        to = iso(to),
    )
}

/// The metric an alert is about: its `metric` evidence, else its subject.
fn metric_of(alert: &Alert) -> Option<Metric> {
    alert
        .evidence
        .iter()
        .find_map(|e| match (&*e.name, &e.value) {
            ("metric", EvidenceValue::Text(t)) => Metric::from_name(t),
            _ => None,
        })
        .or_else(|| alert.subject.as_deref().and_then(Metric::from_name))
}

/// QuestDB's timestamp literal, `2026-11-22T00:00:00.000000Z`.
fn iso(us: i64) -> String {
    DateTime::from_timestamp_micros(us).map_or_else(
        || us.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    )
}

/// `(ts µs, value)` of an `/exec` answer's `dataset` (rows without a value are skipped).
fn points_of(json: &serde_json::Value) -> Vec<(i64, f64)> {
    json.get("dataset")
        .and_then(serde_json::Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(|row| {
                    let ts = row.get(0)?.as_str()?;
                    let ts = DateTime::parse_from_rfc3339(ts).ok()?.timestamp_micros();
                    let v = row.get(1)?.as_f64()?;
                    v.is_finite().then_some((ts, v))
                })
                .collect()
        })
        .unwrap_or_default()
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const PAD_L: f64 = 56.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 12.0;
const PAD_B: f64 = 28.0;

/// The line of `points` over `span`, the limit dashed, the start marked.
fn svg(points: &[(i64, f64)], limit: Option<f64>, started: i64, span: (i64, i64)) -> String {
    let (t0, t1) = span;
    let mut lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some(l) = limit {
        lo = lo.min(l);
        hi = hi.max(l);
    }
    if hi - lo < 1e-9 {
        lo -= 1.0;
        hi += 1.0;
    }
    let margin = (hi - lo) * 0.08;
    let (lo, hi) = (lo - margin, hi + margin);
    let x = |t: i64| PAD_L + (t - t0) as f64 / ((t1 - t0).max(1) as f64) * (W - PAD_L - PAD_R);
    let y = |v: f64| PAD_T + (hi - v) / (hi - lo) * (H - PAD_T - PAD_B);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">\
         <rect x=\"{PAD_L}\" y=\"{PAD_T}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#c8ccd2\"/>",
        W - PAD_L - PAD_R,
        H - PAD_T - PAD_B
    );
    for v in [hi - margin, lo + margin] {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">{}</text>",
            PAD_L - 4.0,
            y(v) + 4.0,
            esc(&short(v))
        );
    }
    if let Some(l) = limit {
        let _ = write!(
            s,
            "<line class=\"limit\" x1=\"{PAD_L}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c62828\" stroke-dasharray=\"6 4\"/>",
            W - PAD_R,
            y(l),
            y(l)
        );
    }
    let sx = x(started);
    let _ = write!(
        s,
        "<line class=\"start\" x1=\"{sx:.1}\" x2=\"{sx:.1}\" y1=\"{PAD_T}\" y2=\"{}\" stroke=\"#888\" stroke-dasharray=\"2 3\"/>",
        H - PAD_B
    );
    let line: Vec<String> = points
        .iter()
        .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
        .collect();
    let _ = write!(
        s,
        "<polyline class=\"series\" fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" points=\"{}\"/>",
        line.join(" ")
    );
    for (t, anchor) in [(t0, "start"), (t1, "end")] {
        let label = beijing(Timestamp(t));
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"11\" fill=\"#555\">{}</text>",
            x(t),
            H - 8.0,
            esc(label.get(5..16).unwrap_or(&label))
        );
    }
    s.push_str("</svg>");
    s
}

fn short(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The chart's section of the page.
pub fn section(lang: Lang, chart: &Chart) -> String {
    let title = lang.t("指标曲线", "The metric around the alert");
    let label = |m: &Metric| metric_label(lang, *m);
    match chart {
        Chart::None => String::new(),
        Chart::Drawn {
            metric,
            svg,
            points,
        } => {
            let metric = label(metric);
            let caption = match lang {
                Lang::Zh => format!("{metric}：{points} 个读数（北京时间；虚线为限值，点线为开始时刻）"),
                Lang::En => format!("{metric}: {points} readings (Beijing time; dashed: the limit, dotted: the start)"),
            };
            format!(
                "<section class=\"card\" id=\"chart\"><h2>{title}</h2><figure>{svg}<figcaption>{}</figcaption></figure></section>",
                esc(&caption)
            )
        }
        Chart::NoData { metric } => {
            let metric = label(metric);
            let text = match lang {
                Lang::Zh => format!("{metric}：该时段在 QuestDB 中没有读数。"),
                Lang::En => format!("{metric}: QuestDB holds no readings for this period."),
            };
            format!(
                "<section class=\"card\" id=\"chart\"><h2>{title}</h2><p>{}</p></section>",
                esc(&text)
            )
        }
        Chart::Unavailable { metric, why } => {
            let metric = label(metric);
            let text = match lang {
                Lang::Zh => format!("{metric}：暂时无法从 QuestDB 读取曲线（{why}）。页面其余内容不受影响。"),
                Lang::En => format!("{metric}: the chart cannot be read from QuestDB now ({why}). The rest of the page is unaffected."),
            };
            format!(
                "<section class=\"card\" id=\"chart\"><h2>{title}</h2><p class=\"flash bad\">{}</p></section>",
                esc(&text)
            )
        }
    }
}

/// A metric as the console names it: the catalogue's name, with its unit when it has one
/// (`游离氯（mg/L）`, `free chlorine (mg/L)`, `pH`).
pub fn metric_label(lang: Lang, m: Metric) -> String {
    let text = alerting::catalogue::metric(m);
    match (lang, text.unit) {
        (Lang::Zh, "") => text.zh.to_owned(),
        (Lang::Zh, unit) => format!("{}（{unit}）", text.zh),
        (Lang::En, "") => text.en.to_owned(),
        (Lang::En, unit) => format!("{} ({unit})", text.en),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_rows_become_points_and_nulls_are_skipped() {
        let json = serde_json::json!({"dataset": [
            ["2026-11-22T00:00:00.000000Z", 0.3],
            ["2026-11-22T00:01:00.000000Z", null],
            ["2026-11-22T00:02:00.000000Z", 0.04]
        ]});
        let p = points_of(&json);
        assert_eq!(
            p,
            vec![(1_795_305_600_000_000, 0.3), (1_795_305_720_000_000, 0.04)]
        );
    }

    #[test]
    fn the_svg_has_the_series_the_limit_and_the_start() {
        let t0 = 1_795_305_600_000_000;
        let pts = [(t0, 0.3), (t0 + 60_000_000, 0.04)];
        let s = svg(&pts, Some(0.05), t0 + 60_000_000, (t0, t0 + 120_000_000));
        assert!(s.starts_with("<svg"));
        assert!(
            s.contains("class=\"series\"")
                && s.contains("class=\"limit\"")
                && s.contains("class=\"start\"")
        );
        assert!(
            s.contains("11-22 08:00"),
            "axis labels at Beijing time: {s}"
        );
    }
}
