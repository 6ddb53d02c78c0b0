//! End to end through a real Mosquitto: gateways publish QoS 1 JSON, weijian acknowledges
//! from its spool and writes exactly the expected rows to QuestDB (the double, or a real one
//! named by WEIJIAN_TEST_QUESTDB); QuestDB outages lose nothing; poison input is quarantined
//! without stalling the subscription.

use std::time::Duration;

use weijian_tests::harness::{metric, wait_metric, water_registry, Env, Publisher};
use weijian_tests::questdb_double::{Mode, Value};

/// One pH reading per message for readings `range`, alternating between devices d0 and d1,
/// one second apart from `base` (ms).
async fn publish_ph(
    publisher: &mut Publisher,
    range: std::ops::Range<i64>,
    base: i64,
    ph: f64,
) -> anyhow::Result<()> {
    for i in range {
        let d = i % 2;
        publisher
            .publish(
                &format!("weijian/v1/s{d}/d{d}/telemetry"),
                format!(r#"{{"ts":{},"values":{{"ph":{ph}}}}}"#, base + i * 1000),
            )
            .await?;
    }
    Ok(())
}

/// An hour ago, in ms: timestamps in the recent past, inside the 30-day backfill window.
fn base_ms() -> i64 {
    chrono::Utc::now().timestamp_millis() - 3_600_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_qos1_messages_arrive_as_exactly_the_expected_rows() -> anyhow::Result<()> {
    let env = Env::new()?;
    let devices = 8;
    let (running, _shutdown) = env.start(env.config(&water_registry(devices))?).await?;
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-10k");
    let base = base_ms();
    let mut expected_rows = 0usize;
    let mut expected_ph_sum = 0.0f64;
    for i in 0..10_000usize {
        let d = i % devices;
        let topic = format!("weijian/v1/s{d}/d{d}/telemetry");
        let slot = (i / devices) as i64;
        if i % 5 == 0 {
            // An array of three readings (a gateway flushing its buffer).
            let objects: Vec<String> = (0..3)
                .map(|k| {
                    let ph = 6.5 + ((i + k) % 20) as f64 / 10.0;
                    expected_ph_sum += ph;
                    format!(
                        r#"{{"ts":{},"seq":{},"values":{{"ph":{ph},"turbidity_ntu":0.2}}}}"#,
                        base + slot * 1000 + k as i64 * 100 + 10,
                        i * 3 + k
                    )
                })
                .collect();
            expected_rows += 3;
            publisher
                .publish(&topic, format!("[{}]", objects.join(",")))
                .await?;
        } else {
            let ph = 6.5 + (i % 20) as f64 / 10.0;
            expected_ph_sum += ph;
            expected_rows += 1;
            publisher
                .publish(
                    &topic,
                    format!(
                        r#"{{"ts":{},"values":{{"ph":{ph},"free_chlorine_mg_l":0.5}}}}"#,
                        base + slot * 1000
                    ),
                )
                .await?;
        }
    }
    publisher.flushed(Duration::from_secs(60)).await?;
    let table = env.table("water_quality");
    let n = env
        .store
        .wait_for_count_async(&table, expected_rows, Duration::from_secs(90))
        .await?;
    assert_eq!(n, expected_rows);
    let rows = env.store.rows(&table, &["ph", "device", "source"])?;
    let ph_sum: f64 = rows.iter().map(|r| r[0].as_f64().unwrap_or(f64::NAN)).sum();
    assert!(
        (ph_sum - expected_ph_sum).abs() < 1e-6,
        "sum of ph {ph_sum} != {expected_ph_sum}"
    );
    assert!(rows.iter().all(|r| r[2] == Value::Symbol("json".into())));
    wait_metric(
        &running,
        "weijian_mqtt_acked_messages_total",
        10_000.0,
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(metric(&running, "weijian_rejected_total"), 0.0);
    if let Some(db) = env.store.as_double() {
        assert!(
            db.unexpected_columns().is_empty(),
            "{:?}",
            db.unexpected_columns()
        );
        assert!(
            db.rejected_requests().is_empty(),
            "{:?}",
            db.rejected_requests()
        );
    }
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_questdb_outage_loses_nothing_and_everything_arrives_when_it_returns(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let Some(db) = env.store.as_double() else {
        eprintln!("skipped: a real QuestDB cannot be taken down by the test");
        return Ok(());
    };
    // Small segments, so reclaiming spool space after the outage is visible.
    let text = env.config_text(&water_registry(2), "").replacen(
        "[spool]\n",
        "[spool]\nsegment_bytes = 65536\n",
        1,
    );
    let config =
        weijian_ingest::config::Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, _shutdown) = env.start(config).await?;
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-outage");
    let base = base_ms();
    // A first message makes the tables exist.
    publisher
        .publish(
            "weijian/v1/s0/d0/telemetry",
            format!(r#"{{"ts":{base},"values":{{"ph":7}}}}"#),
        )
        .await?;
    let table = env.table("water_quality");
    env.store
        .wait_for_count_async(&table, 1, Duration::from_secs(20))
        .await?;

    db.set_mode(Mode::Unreachable)?;
    let mut alerts = running.alert_events.subscribe();
    // 50,000 readings arrive while QuestDB is down: 500 gateway flushes of 100 readings.
    for m in 0..500i64 {
        let d = m % 2;
        let objects: Vec<String> = (0..100i64)
            .map(|k| {
                // 50 ms apart: 42 minutes of event time, all in the past.
                format!(
                    r#"{{"ts":{},"values":{{"ph":{}}}}}"#,
                    base + 1000 + (m * 100 + k) * 50,
                    7.0 + (k % 7) as f64 / 100.0
                )
            })
            .collect();
        publisher
            .publish(
                &format!("weijian/v1/s{d}/d{d}/telemetry"),
                format!("[{}]", objects.join(",")),
            )
            .await?;
    }
    // A residual-chlorine drop while QuestDB is down (one reading a minute, 45 to 60 minutes
    // after `base`): alerting must not depend on the store.
    for minute in 0..=15i64 {
        publisher
            .publish(
                "weijian/v1/s1/d1/telemetry",
                format!(
                    r#"{{"ts":{},"values":{{"free_chlorine_mg_l":{}}}}}"#,
                    base + 2_700_000 + minute * 60_000,
                    0.1 + minute as f64 / 1000.0
                ),
            )
            .await?;
    }
    // weijian keeps acknowledging from its spool while QuestDB is down.
    publisher.flushed(Duration::from_secs(60)).await?;
    let fired = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match alerts.recv().await {
                Ok(e) if e.rule == "W2" && e.kind == alerting::EventKind::Firing => break true,
                Ok(_) => {}
                Err(_) => break false,
            }
        }
    })
    .await
    .unwrap_or(false);
    assert!(fired, "W2 fires while QuestDB is unreachable");
    assert_eq!(metric(&running, "weijian_rejected_total"), 0.0);
    wait_metric(
        &running,
        "weijian_mqtt_acked_messages_total",
        517.0,
        Duration::from_secs(20),
    )
    .await?;
    let segments_during_outage = metric(&running, "weijian_spool_segments");
    assert!(
        segments_during_outage >= 10.0,
        "the spool holds the outage: {segments_during_outage} segments"
    );
    wait_metric(
        &running,
        "weijian_questdb_write_errors_total",
        1.0,
        Duration::from_secs(20),
    )
    .await?;
    assert_eq!(metric(&running, "weijian_questdb_up"), 0.0);
    assert_eq!(db.count(&table), 1);

    // Errors instead of silence, then recovery.
    db.set_mode(Mode::Fail500)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    db.set_mode(Mode::Healthy)?;
    let expected = 1 + 50_000 + 16;
    env.store
        .wait_for_count_async(&table, expected, Duration::from_secs(120))
        .await?;
    wait_metric(&running, "weijian_questdb_up", 1.0, Duration::from_secs(10)).await?;
    // The alerts raised during the outage are stored once it is over.
    env.store
        .wait_for_count_async(&env.table("alerts"), 2, Duration::from_secs(30))
        .await?;
    // Spool space is reclaimed once QuestDB has everything.
    let reclaimed = tokio::time::timeout(Duration::from_secs(30), async {
        while metric(&running, "weijian_spool_segments") > 2.0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        reclaimed.is_ok(),
        "segments after recovery: {}",
        metric(&running, "weijian_spool_segments")
    );
    // Exactly the published rows: nothing lost, nothing doubled by the re-reads.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(db.count(&table), expected);
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corpus_of_bad_input_is_quarantined_while_good_messages_still_arrive(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let (running, _shutdown) = env.start(env.config(&water_registry(2))?).await?;
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-bad");
    let now = chrono::Utc::now().timestamp_millis();
    let far_future = now + 3_600_000;
    let oversize = format!(
        r#"{{"ts":{now},"values":{{"ph":7}},"pad":"{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let corpus: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "weijian/v1/s0/d0/telemetry",
            b"{\"ts\":".to_vec(),
            "malformed_json",
        ),
        (
            "weijian/v1/s0/d0/telemetry",
            br#"{"ts":1,"values":{"ph":"high"}}"#.to_vec(),
            "wrong_type",
        ),
        (
            "weijian/v1/s0/ghost/telemetry",
            format!(r#"{{"ts":{now},"values":{{"ph":7}}}}"#).into_bytes(),
            "unknown_device",
        ),
        (
            "weijian/v1/s1/d0/telemetry",
            format!(r#"{{"ts":{now},"values":{{"ph":7}}}}"#).into_bytes(),
            "site_mismatch",
        ),
        (
            "weijian/v1/s0/d0/telemetry",
            format!(r#"{{"ts":{now},"values":{{"door_open":true}}}}"#).into_bytes(),
            "unknown_metric",
        ),
        (
            "weijian/v1/s0/d0/telemetry",
            format!(r#"{{"ts":{now},"values":{{"ph":14.5}}}}"#).into_bytes(),
            "out_of_range",
        ),
        (
            "weijian/v1/s0/d0/telemetry",
            format!(r#"{{"ts":{far_future},"values":{{"ph":7}}}}"#).into_bytes(),
            "future_timestamp",
        ),
        (
            "weijian/v1/s0/d0/telemetry",
            oversize.into_bytes(),
            "oversize_payload",
        ),
        (
            "weijian/v1/s0/d0/telemetry",
            vec![b'{', 0xc3, 0x28, b'}'],
            "invalid_utf8",
        ),
        ("weijian/v1/s0/d0/telemetry", Vec::new(), "empty_payload"),
    ];
    let mut good = 0usize;
    for (round, (topic, payload, _)) in corpus.iter().enumerate() {
        publisher.publish(topic, payload.clone()).await?;
        good += 1;
        publisher
            .publish(
                "weijian/v1/s1/d1/telemetry",
                format!(
                    r#"{{"ts":{},"values":{{"ph":7.0}}}}"#,
                    now - 60_000 + round as i64
                ),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await?;
    let table = env.table("water_quality");
    env.store
        .wait_for_count_async(&table, good, Duration::from_secs(30))
        .await?;
    let quarantine = env.table("quarantine");
    env.store
        .wait_for_count_async(&quarantine, corpus.len(), Duration::from_secs(30))
        .await?;
    let rows = env.store.rows(&quarantine, &["reason", "topic"])?;
    let mut got: Vec<String> = rows
        .iter()
        .filter_map(|r| r[0].as_str().map(str::to_string))
        .collect();
    let mut want: Vec<String> = corpus.iter().map(|c| c.2.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // 5,000 more poison messages, then the subscription still flows.
    for i in 0..5_000 {
        publisher
            .publish("weijian/v1/s0/d0/telemetry", format!("not json {i}"))
            .await?;
    }
    publisher
        .publish(
            "weijian/v1/s1/d1/telemetry",
            format!(r#"{{"ts":{now},"values":{{"ph":7.3}}}}"#),
        )
        .await?;
    publisher.flushed(Duration::from_secs(60)).await?;
    env.store
        .wait_for_count_async(&table, good + 1, Duration::from_secs(60))
        .await?;
    env.store
        .wait_for_count_async(&quarantine, corpus.len() + 5_000, Duration::from_secs(60))
        .await?;
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_1_1_is_selectable_and_delivers_the_same_rows() -> anyhow::Result<()> {
    let env = Env::new()?;
    let text = env.config_text(&water_registry(2), "").replacen(
        "[mqtt]\n",
        "[mqtt]\nprotocol = \"3.1.1\"\n",
        1,
    );
    let config =
        weijian_ingest::config::Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(
        config.mqtt.protocol,
        weijian_ingest::config::MqttProtocol::V311
    );
    let (running, _shutdown) = env.start(config).await?;
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-311");
    let base = base_ms();
    publish_ph(&mut publisher, 0..2_000, base, 7.4).await?;
    publisher.flushed(Duration::from_secs(60)).await?;
    let n = env
        .store
        .wait_for_count_async(&env.table("water_quality"), 2_000, Duration::from_secs(60))
        .await?;
    assert_eq!(n, 2_000);
    wait_metric(
        &running,
        "weijian_mqtt_acked_messages_total",
        2_000.0,
        Duration::from_secs(10),
    )
    .await?;
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_keeps_our_session_and_loses_nothing() -> anyhow::Result<()> {
    let mut env = Env::new()?;
    let (running, _shutdown) = env.start(env.config(&water_registry(2))?).await?;
    let base = base_ms();
    let mut publisher =
        Publisher::connect(env.broker.host(), env.broker.port(), "gateway-restart-1");
    publish_ph(&mut publisher, 0..1_000, base, 7.0).await?;
    publisher.flushed(Duration::from_secs(30)).await?;
    drop(publisher);
    let table = env.table("water_quality");
    env.store
        .wait_for_count_async(&table, 1_000, Duration::from_secs(30))
        .await?;
    let lost_before = metric(&running, "weijian_mqtt_session_lost_total");

    // Mosquitto stops (saving its persistence) and comes back on the same port.
    env.broker.restart()?;
    let mut publisher =
        Publisher::connect(env.broker.host(), env.broker.port(), "gateway-restart-2");
    publish_ph(&mut publisher, 1_000..2_000, base, 7.0).await?;
    publisher.flushed(Duration::from_secs(60)).await?;
    let n = env
        .store
        .wait_for_count_async(&table, 2_000, Duration::from_secs(60))
        .await?;
    if n != 2_000 {
        // Diagnose: which (ts, device) pairs are there more than once?
        let rows = env
            .store
            .rows(&table, &["ts", "device", "period", "stat"])?;
        let mut seen = std::collections::HashMap::new();
        for r in &rows {
            *seen.entry(format!("{r:?}")).or_insert(0usize) += 1;
        }
        let dups: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).take(5).collect();
        panic!(
            "{n} rows, expected 2000; repeated keys: {dups:?}; first rows: {:?}",
            &rows[..3.min(rows.len())]
        );
    }
    assert!(
        metric(&running, "weijian_mqtt_connection_errors_total") >= 1.0,
        "the restart was seen"
    );
    assert_eq!(
        metric(&running, "weijian_mqtt_session_lost_total"),
        lost_before,
        "the broker kept weijian's persistent session across its restart"
    );
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_exists_after_start_before_any_message() -> anyhow::Result<()> {
    let env = Env::new()?;
    let (running, _shutdown) = env.start(env.config(&water_registry(1))?).await?;
    for table in weijian_ingest::sink::schema::tables() {
        let name = env.table(table.name);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            // count() is 0 for a missing table too: ask for the table itself.
            let exists = match env.store.as_double() {
                Some(db) => db.tables().contains(&name),
                None => env
                    .store
                    .exec(&format!("SELECT count() FROM '{name}'"))
                    .is_ok(),
            };
            if exists {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "table {name} was not created at start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    running.stop().await;
    Ok(())
}
