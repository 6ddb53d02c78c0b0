//! The report table printed at the end of `weijian bench`.

use std::io::Write;
use std::time::Duration;

use super::{BenchOptions, BenchReport, Latency, Pair, Steady, Throughput};
use crate::bench::rss;

fn slowest_text(l: &Latency) -> String {
    l.slowest
        .iter()
        .map(|(at, d)| format!("+{at:.1} s: {}", ms(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// `run`'s message rate over the bare subscriber's.
fn ratio_to_bare(pair: &Pair, run: &Throughput) -> f64 {
    run.msg_rate() / pair.bare.msg_rate().max(1e-9)
}

/// The verdict of `run` against the throughput targets: single readings >= 90 % of bare;
/// arrays >= 600,000 readings/s (issue 11), with issue 7's 300,000 too when `with_issue_7`.
fn throughput_target(pair: &Pair, run: &Throughput, with_issue_7: bool) -> String {
    let rate = run.readings_rate();
    if pair.per_message == 1 {
        format!("ratio >= 90%: {}", verdict(ratio_to_bare(pair, run) >= 0.9))
    } else if with_issue_7 {
        format!(
            ">= 300,000 rd/s: {}; >= 600,000 (issue 11): {}",
            verdict(rate >= 300_000.0),
            verdict(rate >= 600_000.0)
        )
    } else {
        format!(">= 600,000 rd/s (issue 11): {}", verdict(rate >= 600_000.0))
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// The real-QuestDB part: its runs, or one line saying why there are none.
fn print_questdb(
    options: &BenchOptions,
    report: &BenchReport,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out)?;
    let Some(target) = &report.questdb_target else {
        return match (&options.questdb, options.throughput) {
            (None, _) => writeln!(
                out,
                "Real QuestDB: skipped; set {}=http::addr=HOST:9000; to also run the throughput workloads against it.",
                crate::bench::questdb::ENV_VAR
            ),
            (Some(_), false) => writeln!(
                out,
                "Real QuestDB: skipped; it runs with the throughput part (drop --skip-throughput)."
            ),
            (Some(_), true) => writeln!(out, "Real QuestDB: no run completed."),
        };
    };
    writeln!(
        out,
        "Real QuestDB ({target}): weijian end to end, timed until QuestDB acknowledged every row (ILP over HTTP)"
    )?;
    writeln!(
        out,
        "  {:<16} {:>9} {:>13} {:>14} {:>14} {:>16}  table",
        "workload",
        "messages",
        "weijian msg/s",
        "weijian rd/s",
        "ratio to bare",
        "count() ok after"
    )?;
    for q in &report.questdb {
        let bare = report
            .pairs
            .iter()
            .find(|p| p.label == q.label)
            .map(|p| p.bare.msg_rate());
        let ratio = bare.map_or_else(
            || "-".to_string(),
            |b| format!("{:.1}%", q.weijian.msg_rate() / b.max(1e-9) * 100.0),
        );
        let visible = q.visible_after.map_or_else(
            || "not seen".to_string(),
            |d| format!("{:.2} s", d.as_secs_f64()),
        );
        writeln!(
            out,
            "  {:<16} {:>9} {:>13.0} {:>14.0} {:>14} {:>16}  {}",
            q.label,
            q.weijian.messages,
            q.weijian.msg_rate(),
            q.weijian.readings_rate(),
            ratio,
            visible,
            q.table
        )?;
    }
    Ok(())
}

/// The steady-load part: weijian's CPU and its store requests at a city's trickle.
fn print_steady(s: &Steady, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Steady load: `weijian run` (child process) at {:.0} msg/s of {} readings for {:.1} s, {} messages, flush_interval {} ms",
        s.rate, s.per_message, s.seconds, s.messages, s.flush_interval_ms
    )?;
    if s.per_message > 1 {
        // Arrays: the CPU per reading is the figure (the 5 % target is for single readings).
        writeln!(
            out,
            "  weijian CPU: {:.1} % of a core, {:.1} us per message, {:.2} us per reading",
            s.cpu_share() * 100.0,
            s.cpu_us_per_message(),
            s.cpu_us_per_reading()
        )?;
        return writeln!(
            out,
            "  store requests: {} ({:.1}/s), {} with readings",
            s.requests,
            s.requests_per_sec(),
            s.readings_requests
        );
    }
    writeln!(
        out,
        "  weijian CPU: {:.1} % of a core, {:.1} us per message   target <= 5 % (50 us/msg): {}",
        s.cpu_share() * 100.0,
        s.cpu_us_per_message(),
        verdict(s.cpu_us_per_message() <= 50.0)
    )?;
    writeln!(
        out,
        "  store requests: {} ({:.1}/s), {} with readings, {:.0} rows each   target <= {} per table (one per flush interval): {}",
        s.requests,
        s.requests_per_sec(),
        s.readings_requests,
        s.messages as f64 / s.readings_requests.max(1) as f64,
        s.request_budget(),
        verdict(s.readings_requests <= s.request_budget())
    )
}

/// Prints the report table.
///
/// # Errors
/// Writing to `out` failed.
pub fn print_report(
    options: &BenchOptions,
    report: &BenchReport,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    writeln!(out)?;
    writeln!(
        out,
        "weijian bench: {} cores visible; publisher, Mosquitto, consumer and sink share them.",
        cores
    )?;
    writeln!(
        out,
        "On a shared machine absolute figures are noisy: compare the ratios, measured side by side."
    )?;
    writeln!(
        out,
        "A reading = one telemetry object (one water_quality row, 5 values). QoS 1, JSON, {} devices.",
        options.devices
    )?;
    if !report.pairs.is_empty() {
        writeln!(out)?;
        writeln!(out, "Throughput: bare limit (ack at once, count) vs weijian end to end (spool fsync before ack, rules, ILP sink)")?;
        if report.prepared_payloads {
            writeln!(out, "  (--prepare-payloads: the publisher's payloads were made before each timed run, as gateways make theirs on their own machines)")?;
        }
        writeln!(
            out,
            "  {:<16} {:>9} {:>12} {:>14} {:>12} {:>14} {:>7}  {:>9}  target",
            "workload",
            "messages",
            "bare msg/s",
            "bare rd/s",
            "weijian msg/s",
            "weijian rd/s",
            "ratio",
            "rejected"
        )?;
        for p in &report.pairs {
            let ratio = ratio_to_bare(p, &p.weijian);
            let target = throughput_target(p, &p.weijian, true);
            writeln!(
                out,
                "  {:<16} {:>9} {:>12.0} {:>14.0} {:>12.0} {:>14.0} {:>6.1}%  {:>9}  {target}",
                p.label,
                p.weijian.messages,
                p.bare.msg_rate(),
                p.bare.readings_rate(),
                p.weijian.msg_rate(),
                p.weijian.readings_rate(),
                ratio * 100.0,
                p.weijian.rejected,
            )?;
        }
        for p in &report.pairs {
            if let Some(c) = &p.weijian_process {
                let ratio = ratio_to_bare(p, c);
                let target = throughput_target(p, c, false);
                writeln!(
                    out,
                    "  {:<16} weijian as its own process (`weijian run`, as deployed): {:.0} msg/s, {:.0} rd/s, {:.1}% of bare; CPU per reading: weijian {:.2} us, extra over bare {:.2} us  {target}",
                    p.label,
                    c.msg_rate(),
                    c.readings_rate(),
                    ratio * 100.0,
                    c.cpu_weijian_process.as_secs_f64() * 1e6 / c.readings.max(1) as f64,
                    (c.cpu_us_per_message() - p.bare.cpu_us_per_message())
                        / p.per_message.max(1) as f64,
                )?;
            }
        }
        writeln!(out, "  CPU per message (user+system, all threads): bench process = publisher + consumer (+ sink); broker = Mosquitto")?;
        for p in &report.pairs {
            writeln!(
                out,
                "  {:<16} bare: process {:.1} us, broker {:.1} us   weijian: process {:.1} us, broker {:.1} us   (weijian's extra: {:.1} us/msg, {:.2} us/reading)",
                p.label,
                p.bare.cpu_us_per_message(),
                p.bare.cpu_broker.as_secs_f64() * 1e6 / p.bare.messages.max(1) as f64,
                p.weijian.cpu_us_per_message(),
                p.weijian.cpu_broker.as_secs_f64() * 1e6 / p.weijian.messages.max(1) as f64,
                p.weijian.cpu_us_per_message() - p.bare.cpu_us_per_message(),
                (p.weijian.cpu_us_per_message() - p.bare.cpu_us_per_message())
                    / p.per_message.max(1) as f64,
            )?;
        }
        for p in &report.pairs {
            writeln!(
                out,
                "  ({}: the publisher took {:.2} s (bare run) / {:.2} s (weijian run) until the broker acknowledged everything)",
                p.label,
                p.bare.publish_elapsed.as_secs_f64(),
                p.weijian.publish_elapsed.as_secs_f64()
            )?;
        }
    }
    print_questdb(options, report, out)?;
    if let Some(s) = &report.steady {
        print_steady(s, out)?;
    }
    if let Some(l) = &report.latency {
        writeln!(out)?;
        writeln!(
            out,
            "Alert latency: publish -> G3 firing event, background {:.0} msg/s ({} sent), {} probes, {} alerts seen",
            l.background_rate,
            l.background_sent,
            l.probes,
            l.samples.len()
        )?;
        match (l.percentile(50.0), l.percentile(99.0), l.percentile(100.0)) {
            (Some(p50), Some(p99), Some(max)) => writeln!(
                out,
                "  p50 {}  p99 {}  max {}   target p99 <= 10 ms (issue 11, at half the sustainable rate): {}",
                ms(p50),
                ms(p99),
                ms(max),
                verdict(p99 <= Duration::from_millis(10))
            )?,
            _ => writeln!(out, "  no alert was seen")?,
        }
        writeln!(
            out,
            "  slowest probes (sent at +s after the first: latency): {}",
            slowest_text(l)
        )?;
        match (
            l.notice_percentile(50.0),
            l.notice_percentile(99.0),
            l.notice_percentile(100.0),
        ) {
            (Some(p50), Some(p99), Some(max)) => writeln!(
                out,
                "  publish -> notice received by a supervisor's webhook ({} of {} probes; delivery, outbox fsync, HTTP POST): p50 {}  p99 {}  max {}",
                l.notices.len(),
                l.probes,
                ms(p50),
                ms(p99),
                ms(max)
            )?,
            _ => writeln!(out, "  no notice reached the webhook")?,
        }
        for line in &l.stages {
            writeln!(out, "  {line}")?;
        }
    }
    if let Some(l) = &report.latency_bare {
        match (l.percentile(50.0), l.percentile(99.0), l.percentile(100.0)) {
            (Some(p50), Some(p99), Some(max)) => writeln!(
                out,
                "  MQTT share (same probes -> bare subscriber, background {:.0} msg/s, {} of {} seen): p50 {}  p99 {}  max {}",
                l.background_rate,
                l.samples.len(),
                l.probes,
                ms(p50),
                ms(p99),
                ms(max)
            )?,
            _ => writeln!(out, "  MQTT share: no probe reached the bare subscriber")?,
        }
        writeln!(out, "  slowest (MQTT share): {}", slowest_text(l))?;
    }
    if !report.memory.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Memory: `weijian run` in a child process, every device reported one reading"
        )?;
        writeln!(
            out,
            "  {:>8} {:>12} {:>12} {:>12} {:>16} {:>10}",
            "devices", "RSS ready", "RSS after", "peak (HWM)", "(after-ready)/N", "ingest s"
        )?;
        for m in &report.memory {
            let per = m.loaded.rss.saturating_sub(m.idle.rss) as f64 / m.devices.max(1) as f64;
            writeln!(
                out,
                "  {:>8} {:>12} {:>12} {:>12} {:>14.0} B {:>10.1}",
                m.devices,
                rss::mib(m.idle.rss),
                rss::mib(m.loaded.rss),
                rss::mib(m.loaded.peak),
                per,
                m.seconds_to_ingest
            )?;
        }
        if let (Some(a), Some(b)) = (report.memory.first(), report.memory.last()) {
            if b.devices > a.devices {
                let slope = b.loaded.rss.saturating_sub(a.loaded.rss) as f64
                    / (b.devices - a.devices) as f64;
                writeln!(
                    out,
                    "  marginal cost {} -> {} devices (registry + state): {:.0} B/device; target <= 1 KiB: {}; RSS at {}: {} (target < 200 MiB: {})",
                    a.devices,
                    b.devices,
                    slope,
                    verdict(slope <= 1024.0),
                    b.devices,
                    rss::mib(b.loaded.rss),
                    verdict(b.loaded.rss < 200 << 20)
                )?;
            }
        }
    }
    Ok(())
}
