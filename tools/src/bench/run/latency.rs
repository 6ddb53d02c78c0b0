//! Alert latency: probes under background load, publish -> G3 `firing` (weijian) or
//! publish -> arrival at the bare subscriber (the MQTT share).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alerting::EventKind;
use tokio::sync::broadcast::error::RecvError;

use super::{join_loadgen, spawn_loadgen, start_weijian, BenchOptions, Ctx, Phase};
use crate::bench::bare::Bare;
use crate::bench::loadgen::Publisher;
use crate::bench::webhook::{supervisors_toml, WebhookSink};
use crate::bench::{payload, registry, BenchError};

/// Alert latency figures.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub background_rate: f64,
    pub background_sent: u64,
    pub probes: usize,
    pub samples: Vec<Duration>,
    /// The slowest probes: (seconds after the first probe, latency), slowest first.
    pub slowest: Vec<(f64, Duration)>,
    /// Publish -> the alert's notice received by a supervisor's webhook (weijian runs only:
    /// rule engine, delivery, durable outbox, HTTP POST).
    pub notices: Vec<Duration>,
    /// Where weijian's time went during the run (weijian runs only): the spool's group
    /// commits and the drain's stages, from their histograms, one line each.
    pub stages: Vec<String>,
}

impl Latency {
    /// A percentile of the notice latencies.
    pub fn notice_percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.notices, p)
    }
}

fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort();
    let idx = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
    s.get(idx.min(s.len() - 1)).copied()
}

impl Latency {
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.samples, p)
    }
}
/// The consumer of a latency run.
enum Consumer {
    Bare(Bare),
    Weijian(
        Box<weijian_service::pipeline::Running>,
        tokio::task::JoinHandle<()>,
    ),
}

/// Publish -> G3 `firing` (weijian), or publish -> arrival at the bare subscriber (`bare`:
/// the MQTT share of the latency under the same load).
pub(super) async fn latency_run(
    ctx: &mut Ctx,
    options: &BenchOptions,
    rate: f64,
    bare: bool,
) -> Result<Latency, BenchError> {
    let phase = Phase::new(ctx)?;
    let devices = options.devices.max(1);
    let mut config = phase.config(ctx, devices, "127.0.0.1:0")?;
    // weijian runs also deliver every alert to a supervisor's webhook.
    let webhook = if bare {
        None
    } else {
        let sink = WebhookSink::start().await?;
        let loaded = alerting::delivery::DeliveryConfig::from_toml(
            &supervisors_toml(&sink.url()),
            "bench supervisors",
            &config.registry.alerting_sites(),
        )
        .map_err(|errors| {
            BenchError::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        config.delivery.supervisors = Some(loaded.config);
        config.alerts.tick_interval = Duration::from_secs(1);
        Some(sink)
    };
    let probes = crate::bench::bare::Probes::default();
    let (sent_at, samples) = (probes.sent_at.clone(), probes.samples.clone());
    let consumer = if bare {
        let b = Bare::start(&config.mqtt, config.limits.max_payload_bytes, Some(probes))?;
        if !b.ready().await {
            return Err(BenchError::Timeout(
                "the bare subscriber did not connect".into(),
            ));
        }
        Consumer::Bare(b)
    } else {
        let (running, _shutdown) = start_weijian(config).await?;
        let listener = alert_listener(&running, sent_at.clone(), samples.clone());
        Consumer::Weijian(Box::new(running), listener)
    };

    let duration = Duration::from_secs(options.latency_secs.max(1));
    let mut lg = phase.loadgen(ctx, devices, 1);
    lg.rate = Some(rate);
    lg.duration = Some(duration);
    let handle = spawn_loadgen(lg);
    let probe = Publisher::connect(
        ctx.broker.host(),
        ctx.broker.port(),
        &format!("weijian-bench-probe-{}", phase.n),
        100,
    )
    .await?;
    // Let the background load settle for a second before probing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let period = Duration::from_secs_f64(1.0 / options.probe_hz.max(0.1));
    let probes_wanted = ((duration.as_secs_f64() - 1.5).max(1.0) / period.as_secs_f64()) as usize;
    let probes_wanted = probes_wanted.clamp(1, devices);
    let mut ticker = tokio::time::interval(period);
    let mut last = Instant::now();
    for k in 0..probes_wanted {
        ticker.tick().await;
        let device = registry::device_id(k);
        let topic = format!("{}/s{k}/{device}/telemetry", phase.topic_prefix);
        let now = Instant::now();
        if let Some(w) = &webhook {
            w.probe_sent(&device, now);
        }
        if let Ok(mut m) = sent_at.lock() {
            m.insert(device, now);
        }
        probe
            .publish(topic, 1, payload::breaching_json(payload::wall_clock()))
            .await?;
        if last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            let got = samples.lock().map(|s| s.len()).unwrap_or(0);
            eprintln!("bench:   latency probes sent {} seen {got}", k + 1);
        }
    }
    let sent = join_loadgen(handle).await?;
    // The last alerts and notices.
    for _ in 0..100 {
        let alerts_done = sent_at.lock().map(|m| m.is_empty()).unwrap_or(true);
        let notices_done = webhook.as_ref().is_none_or(|w| w.outstanding() == 0);
        if alerts_done && notices_done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    probe.close().await;
    let mut stages = Vec::new();
    match consumer {
        Consumer::Bare(b) => b.stop().await,
        Consumer::Weijian(running, listener) => {
            stages = stage_summary(&running.registry);
            running.stop().await;
            listener.abort();
        }
    }
    let timed = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let first = timed.iter().map(|(sent, _)| *sent).min();
    let mut slowest: Vec<(f64, Duration)> = timed
        .iter()
        .map(|(sent, d)| {
            let at = first.map_or(0.0, |f| (*sent - f).as_secs_f64());
            (at, *d)
        })
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
    slowest.truncate(4);
    let samples: Vec<Duration> = timed.into_iter().map(|(_, d)| d).collect();
    let notices = webhook
        .map(|w| w.samples().into_iter().map(|(_, d)| d).collect())
        .unwrap_or_default();
    Ok(Latency {
        background_rate: sent.rate(),
        background_sent: sent.messages,
        probes: probes_wanted,
        samples,
        slowest,
        notices,
        stages,
    })
}

/// One line per histogram that a durable record's alert can wait for: the spool's group
/// commits (append -> durable) and each stage of the drain (durable -> alert): how many, the
/// mean, how many took 5 ms or more, and the bucket the slowest fell in.
fn stage_summary(registry: &prometheus::Registry) -> Vec<String> {
    let mut lines = Vec::new();
    for family in registry.gather() {
        let name = family.name();
        if name != "weijian_spool_commit_duration_seconds" && name != "weijian_drain_stage_seconds"
        {
            continue;
        }
        for metric in family.get_metric() {
            let h = metric.get_histogram();
            let count = h.get_sample_count();
            if count == 0 {
                continue;
            }
            let label = metric
                .get_label()
                .iter()
                .map(|l| l.value().to_string())
                .collect::<Vec<_>>()
                .join(",");
            let buckets = h.get_bucket();
            let below = |limit: f64| {
                buckets
                    .iter()
                    .filter(|b| b.upper_bound() < limit + 1e-12)
                    .map(|b| b.cumulative_count())
                    .max()
                    .unwrap_or(0)
            };
            let slowest = buckets
                .iter()
                .find(|b| b.cumulative_count() >= count)
                .map_or("> 1 s".to_string(), |b| {
                    format!("<= {:.1} ms", b.upper_bound() * 1e3)
                });
            lines.push(format!(
                "{name}{{{label}}}: {count} x, mean {:.2} ms, > 5 ms: {}, > 10 ms: {}, slowest {slowest}",
                h.get_sample_sum() * 1e3 / count as f64,
                count - below(0.005),
                count - below(0.01),
            ));
        }
    }
    lines
}

/// Records publish -> G3 `firing` for the devices in `sent_at`.
fn alert_listener(
    running: &weijian_service::pipeline::Running,
    sent_at: Arc<Mutex<HashMap<String, Instant>>>,
    samples: Arc<Mutex<Vec<(Instant, Duration)>>>,
) -> tokio::task::JoinHandle<()> {
    let mut events = running.alert_events.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) if e.rule == "G3" && e.kind == EventKind::Firing => {
                    let at = Instant::now();
                    let sent = sent_at.lock().ok().and_then(|mut m| m.remove(&e.device));
                    if let (Some(sent), Ok(mut s)) = (sent, samples.lock()) {
                        s.push((sent, at - sent));
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the latency listener lagged");
                }
                Err(RecvError::Closed) => break,
            }
        }
    })
}
