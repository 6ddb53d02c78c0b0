//! HJ 212 end to end through Mosquitto: a logger's real-time (CN 2011) and minute (CN 2051)
//! frames become rows of the water-quality table with the right values, times, statistics and
//! flags; a frame asking for a reply gets the 9014 data acknowledgement; a bad frame beside
//! good ones is quarantined alone.

use std::time::Duration;

use weijian_ingest::decode::hj212::{
    data_cp, format_data_time, wrap_frame, FactorValues, FrameBuilder,
};
use weijian_tests::harness::{Env, Publisher};
use weijian_tests::questdb_double::Value;

const MN: &str = "010000A8900016F000169DC0";

fn registry() -> String {
    format!(
        "[[sites]]\nid = \"plant\"\nname = \"plant outlet\"\nkind = \"water\"\n\
         grid = {{ district = \"d\", street = \"s\", community = \"c\" }}\n\
         water = {{ point = \"outlet\", disinfectant = \"free_chlorine\" }}\n\n\
         [[devices]]\nid = \"logger\"\nsite = \"plant\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n\
         [devices.hj212]\nmn = \"{MN}\"\ncodes = {{ \"w99001\" = \"free_chlorine_mg_l\" }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_time_and_minute_frames_become_rows_with_values_times_and_flags() -> anyhow::Result<()>
{
    use alerting::model::{DataFlag, Stat, Timestamp};
    let env = Env::new()?;
    let (running, _shutdown) = env.start(env.config(&registry())?).await?;

    // Listen for the logger's acknowledgements.
    let mut o = rumqttc::MqttOptions::new("logger-ack", env.broker.host(), env.broker.port());
    o.set_keep_alive(Duration::from_secs(30));
    let (sub, mut sub_loop) = rumqttc::AsyncClient::new(o, 100);
    sub.subscribe(
        "weijian/v1/plant/logger/hj212/ack",
        rumqttc::QoS::AtLeastOnce,
    )
    .await?;
    let acks = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) =
                tokio::time::timeout(Duration::from_millis(500), sub_loop.poll()).await
            {
                return Some(String::from_utf8_lossy(&p.payload).into_owned());
            }
        }
        None
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Two minutes ago, on the minute, in China Standard Time.
    let now_s = chrono::Utc::now().timestamp();
    let t = Timestamp::from_secs(now_s - now_s % 60 - 120);
    let data_time = format_data_time(t, 8 * 3600);
    let rtd = FrameBuilder {
        qn: Some("20261122120000000".into()),
        st: Some("21".into()),
        cn: 2011,
        pw: Some("123456".into()),
        mn: MN.into(),
        flag: Some(5),
        packet: None,
        cp: data_cp(
            &data_time,
            &[
                FactorValues {
                    code: "w01001".into(),
                    values: vec![(Stat::Value, 7.21)],
                    flag: Some(DataFlag::N),
                },
                FactorValues {
                    code: "w01003".into(),
                    values: vec![(Stat::Value, 0.32)],
                    flag: Some(DataFlag::N),
                },
                FactorValues {
                    code: "w99001".into(),
                    values: vec![(Stat::Value, 0.55)],
                    flag: Some(DataFlag::M),
                },
            ],
        ),
    }
    .build();
    let minute = FrameBuilder {
        qn: Some("20261122120100000".into()),
        st: Some("21".into()),
        cn: 2051,
        pw: Some("123456".into()),
        mn: MN.into(),
        flag: Some(4),
        packet: None,
        cp: data_cp(
            &format_data_time(
                Timestamp::from_secs(t.as_micros() / 1_000_000 - 60),
                8 * 3600,
            ),
            &[FactorValues {
                code: "w01003".into(),
                values: vec![(Stat::Min, 0.30), (Stat::Avg, 0.32), (Stat::Max, 1.35)],
                flag: Some(DataFlag::N),
            }],
        ),
    }
    .build();
    // A frame with a broken CRC sits between the good ones (and no CRLF on the last frame).
    let mut bad = wrap_frame("QN=20261122120000000;ST=21;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&DataTime=20261122120000;w01001-Rtd=7.0&&");
    bad.replace_range(bad.len() - 6..bad.len() - 2, "0000");
    let payload = format!("{rtd}{bad}{}", minute.trim_end());
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "logger");
    publisher
        .publish("weijian/v1/plant/logger/hj212", payload)
        .await?;
    publisher.flushed(Duration::from_secs(10)).await?;

    let table = env.table("water_quality");
    env.store
        .wait_for_count_async(&table, 4, Duration::from_secs(20))
        .await?;
    let rows = env.store.rows(
        &table,
        &[
            "ts",
            "period",
            "stat",
            "ph",
            "turbidity_ntu",
            "free_chlorine_mg_l",
            "free_chlorine_mg_l_flag",
            "source",
        ],
    )?;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let find = |period: &str, stat: &str| {
        rows.iter()
            .find(|r| r[1] == Value::Symbol(period.into()) && r[2] == Value::Symbol(stat.into()))
            .cloned()
            .unwrap_or_else(|| panic!("no {period}/{stat} row in {rows:?}"))
    };
    let instant = find("instant", "value");
    assert_eq!(
        instant[0],
        Value::Timestamp(t.as_micros()),
        "DataTime is China Standard Time"
    );
    assert_eq!(instant[3].as_f64(), Some(7.21));
    assert_eq!(instant[4].as_f64(), Some(0.32));
    assert_eq!(
        instant[5].as_f64(),
        Some(0.55),
        "vendor code w99001 mapped by config"
    );
    assert_eq!(
        instant[6],
        Value::Symbol("M".into()),
        "the maintenance flag is kept"
    );
    assert_eq!(instant[7], Value::Symbol("hj212".into()));
    let max = find("minute", "max");
    assert_eq!(
        max[4].as_f64(),
        Some(1.35),
        "interval statistics are stored as such"
    );
    assert_eq!(
        max[0],
        Value::Timestamp(t.as_micros() - 60_000_000),
        "minute data is stamped at the interval start"
    );
    assert_eq!(find("minute", "avg")[4].as_f64(), Some(0.32));
    assert_eq!(find("minute", "min")[4].as_f64(), Some(0.30));

    let quarantine = env.table("quarantine");
    env.store
        .wait_for_count_async(&quarantine, 1, Duration::from_secs(20))
        .await?;
    let q = env.store.rows(&quarantine, &["reason"])?;
    assert_eq!(q, vec![vec![Value::Symbol("hj212_bad_crc".into())]]);

    let ack = acks
        .await?
        .expect("a 9014 acknowledgement for the frame with Flag=5");
    assert!(
        ack.contains("CN=9014") && ack.contains("QN=20261122120000000") && ack.ends_with("\r\n"),
        "{ack:?}"
    );
    running.stop().await;
    Ok(())
}
