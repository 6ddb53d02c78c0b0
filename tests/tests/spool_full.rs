//! A full spool stops acknowledgements, loses nothing, and flow resumes when space frees.
//!
//! QuestDB (the double) is unreachable, so the drain commits nothing and the spool (four tiny
//! segments) fills up. weijian must then stop acknowledging (the broker keeps the rest), say so
//! on `/readyz` and `weijian_spool_full`, and, once QuestDB is back, write every message exactly
//! once and acknowledge everything.

use std::time::Duration;

use weijian_ingest::message::Message;
use weijian_tests::harness::{metric, wait_metric, water_registry, Env, Publisher};
use weijian_tests::questdb_double::{Mode, Value};

/// Messages published: about four times what the spool holds.
const MESSAGES: usize = 1_000;
/// Spool segment size (bytes) and segments in `max_bytes`.
const SEGMENT_BYTES: u64 = 8_192;
const SEGMENTS: u64 = 4;
/// The on-disk format (spool/mod.rs): a 32-byte segment header, a 24-byte frame header per
/// record.
const SEGMENT_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

fn topic(i: usize) -> String {
    let d = i % 2;
    format!("weijian/v1/s{d}/d{d}/telemetry")
}

/// Every payload has the same length: a 13-digit ms timestamp and two values with three
/// decimals (ph 7.000..7.999, turbidity 0.100..0.999).
fn reading(i: usize, base_ms: i64) -> (i64, f64, f64) {
    let ts = base_ms + i as i64 * 1_000;
    let ph = format!("7.{:03}", i % 1_000).parse().unwrap_or(f64::NAN);
    let turbidity = format!("0.{:03}", 100 + (i * 7) % 900)
        .parse()
        .unwrap_or(f64::NAN);
    (ts, ph, turbidity)
}

fn payload(i: usize, base_ms: i64) -> String {
    let (ts, ph, turbidity) = reading(i, base_ms);
    format!(r#"{{"ts":{ts},"values":{{"ph":{ph:.3},"turbidity_ntu":{turbidity:.3}}}}}"#)
}

/// How many `frame`-byte records fit: the spool admits a record while its total size
/// (segment headers included) stays within `max_bytes`, rolling to a new segment when the
/// current one would pass `segment_bytes`.
fn spool_capacity(frame: u64) -> usize {
    let max_bytes = SEGMENT_BYTES * SEGMENTS;
    let (mut total, mut segment, mut records) = (0u64, None::<u64>, 0usize);
    loop {
        let (extra, len) = match segment {
            Some(len) if len + frame <= SEGMENT_BYTES => (frame, len + frame),
            _ => (SEGMENT_HEADER + frame, SEGMENT_HEADER + frame),
        };
        if total + extra > max_bytes {
            return records;
        }
        total += extra;
        segment = Some(len);
        records += 1;
    }
}

/// GET /readyz: (status, body).
fn readyz(addr: std::net::SocketAddr) -> anyhow::Result<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut resp = agent.get(format!("http://{addr}/readyz")).call()?;
    let status = resp.status().as_u16();
    Ok((status, resp.body_mut().read_to_string()?))
}

async fn readyz_async(addr: std::net::SocketAddr) -> anyhow::Result<(u16, String)> {
    tokio::task::spawn_blocking(move || readyz(addr)).await?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_stops_acknowledgements_loses_nothing_and_flow_resumes_when_space_frees(
) -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let env = Env::new()?;
    let Some(db) = env.store.as_double() else {
        eprintln!("skipped: a real QuestDB cannot be taken down by the test");
        return Ok(());
    };
    // Fixed-size records, so the spool's capacity is known exactly.
    let base_ms = chrono::Utc::now().timestamp_millis() - 1_200_000;
    let sizes: Vec<usize> = (0..MESSAGES)
        .map(|i| {
            Message {
                received_at: alerting::model::Timestamp(0),
                qos: 1,
                topic: topic(i),
                payload: payload(i, base_ms).into_bytes(),
            }
            .encode()
            .len()
        })
        .collect();
    assert!(
        sizes.iter().all(|&s| s == sizes[0]),
        "payloads are not all the same size"
    );
    let frame = FRAME_HEADER + sizes[0] as u64;
    let capacity = spool_capacity(frame);
    assert!(capacity < MESSAGES / 2, "capacity {capacity}");

    db.set_mode(Mode::Unreachable)?;
    // snapshot_interval_secs = 1: the drain commits no further than the rule snapshot, so with
    // the default 10 s a full spool would drain one spool-size per 10 s.
    let registry = format!(
        "[alerts]\nsnapshot_interval_secs = 1\n\n{}",
        water_registry(2)
    );
    let text = env.config_text_with_spool(
        &registry,
        "",
        &format!(
            "segment_bytes = {SEGMENT_BYTES}\nmax_bytes = {}",
            SEGMENT_BYTES * SEGMENTS
        ),
    );
    let config =
        weijian_ingest::config::Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, _shutdown) = env.start(config).await?;
    let (status, body) = readyz_async(running.http_addr).await?;
    assert_eq!(status, 200, "ready before the spool fills: {body}");

    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-full");
    for i in 0..MESSAGES {
        publisher.publish(&topic(i), payload(i, base_ms)).await?;
    }
    // The broker accepts (and queues) everything: the gateway is never held up by weijian.
    publisher.flushed(Duration::from_secs(30)).await?;

    // The spool fills; acknowledgements stop at exactly its capacity.
    wait_metric(&running, "weijian_spool_full", 1.0, Duration::from_secs(30)).await?;
    wait_metric(
        &running,
        "weijian_mqtt_acked_messages_total",
        capacity as f64,
        Duration::from_secs(10),
    )
    .await?;
    // Messages keep arriving but wait, unacknowledged.
    wait_metric(
        &running,
        "weijian_mqtt_pending_acks",
        1.0,
        Duration::from_secs(10),
    )
    .await?;
    let acked = metric(&running, "weijian_mqtt_acked_messages_total");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let acked_later = metric(&running, "weijian_mqtt_acked_messages_total");
    let received = metric(&running, "weijian_mqtt_received_messages_total");
    let pending = metric(&running, "weijian_mqtt_pending_acks");
    eprintln!(
        "spool full: capacity {capacity} records ({frame}-byte frames), acked {acked_later}, pending {pending}, received {received}"
    );
    assert_eq!(acked, capacity as f64, "acks stop at the spool's capacity");
    assert_eq!(
        acked_later, acked,
        "no acknowledgement while the spool is full"
    );
    assert!(pending > 0.0, "received but unacknowledged messages wait");
    assert_eq!(received, acked + pending);
    assert_eq!(metric(&running, "weijian_spool_full"), 1.0);
    assert!(running
        .health
        .spool_full
        .load(std::sync::atomic::Ordering::Relaxed));
    let (status, body) = readyz_async(running.http_addr).await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("spool is full"), "{body}");
    assert_eq!(metric(&running, "weijian_questdb_up"), 0.0);
    let table = env.table("water_quality");
    assert_eq!(db.count(&table), 0, "nothing written while QuestDB is down");

    // QuestDB returns: everything flows.
    db.set_mode(Mode::Healthy)?;
    let n = match env
        .store
        .wait_for_count_async(&table, MESSAGES, Duration::from_secs(30))
        .await
    {
        Ok(n) => n,
        Err(e) => anyhow::bail!(
            "{e:#}; after QuestDB returned: weijian_spool_full = {}, acked = {}, pending acks = {}",
            metric(&running, "weijian_spool_full"),
            metric(&running, "weijian_mqtt_acked_messages_total"),
            metric(&running, "weijian_mqtt_pending_acks"),
        ),
    };
    wait_metric(
        &running,
        "weijian_mqtt_acked_messages_total",
        MESSAGES as f64,
        Duration::from_secs(30),
    )
    .await?;
    // Let late duplicates, if any, arrive before counting.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(n, MESSAGES);
    assert_eq!(db.count(&table), MESSAGES, "every message exactly once");
    assert_eq!(
        metric(&running, "weijian_mqtt_acked_messages_total"),
        MESSAGES as f64
    );
    assert_eq!(
        metric(&running, "weijian_mqtt_received_messages_total"),
        MESSAGES as f64,
        "no redelivery needed"
    );
    assert_eq!(metric(&running, "weijian_mqtt_pending_acks"), 0.0);
    assert_eq!(metric(&running, "weijian_rejected_total"), 0.0);

    let mut got: Vec<(String, i64, f64, f64)> = env
        .store
        .rows(&table, &["device", "ts", "ph", "turbidity_ntu"])?
        .into_iter()
        .map(|r| {
            let ts = match &r[1] {
                Value::Timestamp(t) => *t,
                other => panic!("ts {other:?}"),
            };
            (
                r[0].as_str().unwrap_or_default().to_string(),
                ts,
                r[2].as_f64().unwrap_or(f64::NAN),
                r[3].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    let mut want: Vec<(String, i64, f64, f64)> = (0..MESSAGES)
        .map(|i| {
            let (ts, ph, turbidity) = reading(i, base_ms);
            (format!("d{}", i % 2), ts * 1_000, ph, turbidity)
        })
        .collect();
    got.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    want.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    assert_eq!(got, want, "every published reading, with its values");

    // The spool has room again and weijian says it is ready.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while metric(&running, "weijian_spool_full") != 0.0
        || running
            .health
            .spool_full
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the spool-full flag did not clear"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = readyz_async(running.http_addr).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(publisher.acked(), MESSAGES);
    assert!(
        db.rejected_requests().is_empty(),
        "{:?}",
        db.rejected_requests()
    );
    running.stop().await;
    Ok(())
}
