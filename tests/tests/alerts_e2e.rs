//! Alerts end to end through Mosquitto: readings in, risk-graded alert transitions out, in
//! the `alerts` table and as MQTT notifications on `weijian/v1/alerts/{site}`.

use std::time::Duration;

use weijian_tests::harness::{water_registry, Env, Publisher};
use weijian_tests::questdb_double::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_chlorine_drop_at_an_outlet_fires_w2_ii_escalates_to_i_and_resolves(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let (running, _shutdown) = env.start(env.config(&water_registry(1))?).await?;

    // A supervisor-side subscriber to the alert notifications.
    let mut o = rumqttc::MqttOptions::new("supervisor", env.broker.host(), env.broker.port());
    o.set_keep_alive(Duration::from_secs(30));
    let (sub, mut sub_loop) = rumqttc::AsyncClient::new(o, 100);
    sub.subscribe("weijian/v1/alerts/#", rumqttc::QoS::AtLeastOnce)
        .await?;
    let notices = tokio::spawn(async move {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        while tokio::time::Instant::now() < deadline && got.len() < 3 {
            if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) =
                tokio::time::timeout(Duration::from_millis(500), sub_loop.poll()).await
            {
                let notice = serde_json::from_slice::<serde_json::Value>(&p.payload)?;
                if notice["rule"] == "W2" {
                    got.push((p.topic.clone(), notice));
                }
            }
        }
        anyhow::Ok(got)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // One reading a minute for 150 minutes of event time ending now: normal 0.55 mg/L for 30
    // minutes, 0.20 mg/L (below the 0.3 outlet residual, GB 5749-2022) for 80 minutes, then
    // back to 0.55.
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-w2");
    let end = chrono::Utc::now().timestamp_millis();
    let start = end - 150 * 60_000;
    for minute in 0..=150i64 {
        let chlorine = if (30..110).contains(&minute) {
            0.20
        } else {
            0.55
        };
        // Sensors never read the same value twice in a row for an hour (rule G2 would say
        // stuck): a little deterministic noise.
        let wobble = ((minute * 37) % 11) as f64 / 1000.0;
        let ts = start + minute * 60_000;
        publisher
            .publish(
                "weijian/v1/s0/d0/telemetry",
                format!(
                    r#"{{"ts":{ts},"values":{{"free_chlorine_mg_l":{},"turbidity_ntu":{},"ph":{}}}}}"#,
                    chlorine + wobble,
                    0.3 + wobble,
                    7.2 + wobble
                ),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await?;

    let table = env.table("alerts");
    env.store
        .wait_for_count_async(&table, 4, Duration::from_secs(30))
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = env.store.rows(
        &table,
        &["rule", "kind", "level", "ts", "site", "community"],
    )?;
    let w2: Vec<(String, i64, i64)> = rows
        .iter()
        .filter(|r| r[0] == Value::Symbol("W2".into()))
        .map(|r| {
            let ts = match &r[3] {
                Value::Timestamp(t) => *t,
                other => panic!("ts {other:?}"),
            };
            (
                r[1].as_str().unwrap_or_default().to_string(),
                r[2].as_i64().unwrap_or(0),
                ts,
            )
        })
        .collect();
    let kinds: Vec<(&str, i64)> = w2.iter().map(|(k, l, _)| (k.as_str(), *l)).collect();
    assert_eq!(
        kinds,
        vec![
            ("pending", 2),
            ("firing", 2),
            ("level_changed", 1),
            ("resolved", 1)
        ],
        "{rows:?}"
    );
    let minutes = |i: usize| (w2[i].2 / 1000 - start) / 60_000;
    assert_eq!(minutes(0), 30, "pending at the first low reading");
    assert_eq!(minutes(1), 40, "firing after 10 minutes below the residual");
    assert_eq!(minutes(2), 90, "level I after 60 minutes of event time");
    assert!(
        (120..=125).contains(&minutes(3)),
        "resolved after 10 minutes back in range, at {}",
        minutes(3)
    );
    assert!(rows
        .iter()
        .all(|r| r[4] == Value::Symbol("s0".into()) && r[5] == Value::Symbol("c0".into())));
    assert_eq!(
        rows.len(),
        4,
        "no other rule fires on this series: {rows:?}"
    );

    let notices = notices.await??;
    let states: Vec<(String, i64)> = notices
        .iter()
        .map(|(_, n)| {
            (
                n["state"].as_str().unwrap_or_default().to_string(),
                n["level"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("firing".to_string(), 2),
            ("firing".to_string(), 1),
            ("resolved".to_string(), 1)
        ]
    );
    assert!(notices
        .iter()
        .all(|(topic, n)| topic == "weijian/v1/alerts/s0"
            && n["rule"] == "W2"
            && n["grid"] == "d/st/c0"));
    assert!(
        notices[0].1["summary"]["zh"]
            .as_str()
            .unwrap_or_default()
            .contains("余氯")
            || notices[0].1["summary"]["zh"]
                .as_str()
                .unwrap_or_default()
                .contains("消毒"),
        "{}",
        notices[0].1
    );
    running.stop().await;
    Ok(())
}
