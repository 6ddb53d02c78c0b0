//! HJ 212 over TCP, the way data loggers send it: frames on a connection become rows; each
//! 9014 comes back on the connection only once its frame is durable (fsync held back through
//! the disk seam); refused frames are answered with 9011 QnRtn; a kill -9 during a stream of
//! frames loses and duplicates nothing acknowledged; a split upload straddling a restart is
//! stored once; an incomplete one expires on the timer with no further traffic; a refused MQTT
//! message is answered on the device's reply topic.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use weijian_ingest::decode::hj212::{format_data_time, FrameBuilder};
use weijian_ingest::disk::{DiskFaults, DiskOp};
use weijian_tests::harness::{metric, Env, Publisher};
use weijian_tests::process::WeijianProcess;

const MN: &str = "010000A8900016F000169DC0";

/// A free local port (bound, read, released) for the listener.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(23_212)
}

/// The listener on `port`, the plant's HJ 212 logger with password 123456, and `extra`
/// settings (`[limits]` lines).
fn registry(port: u16, limits: &str) -> String {
    format!(
        "[limits]\nmax_age_days = 36500\n{limits}\n\n[hj212_tcp]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[sites]]\nid = \"plant\"\nname = \"plant outlet\"\nkind = \"water\"\n\
         grid = {{ district = \"d\", street = \"s\", community = \"c\" }}\n\
         water = {{ point = \"outlet\", disinfectant = \"free_chlorine\" }}\n\n\
         [[devices]]\nid = \"logger\"\nsite = \"plant\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n\
         [devices.hj212]\nmn = \"{MN}\"\npassword = \"123456\"\n"
    )
}

/// The two drinking-water frames of the shared HJ 212 test vectors (testdata/hj212/frames.txt,
/// frames 6 and 7: real-time and minute data, Flag=5, length and CRC verified).
fn testdata_frames() -> Vec<String> {
    [
        "##0229QN=20240501120000000;ST=21;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20240501120000;w01001-Rtd=7.21,w01001-Flag=N;w01003-Rtd=0.32,w01003-Flag=N;w01010-Rtd=18.6,w01010-Flag=N;w01014-Rtd=356,w01014-Flag=N&&7EC0\r\n",
        "##0234QN=20240501121000000;ST=21;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20240501120000;w01001-Min=7.18,w01001-Avg=7.21,w01001-Max=7.25,w01001-Flag=N;w01003-Min=0.30,w01003-Avg=0.32,w01003-Max=1.35,w01003-Flag=N&&9741\r\n",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Holds every fsync back while closed (the writer thread waits in the seam).
#[derive(Debug, Default)]
struct SyncGate {
    closed: AtomicBool,
}

impl DiskFaults for SyncGate {
    fn before(&self, op: DiskOp, _path: &Path) -> io::Result<()> {
        while op == DiskOp::Sync && self.closed.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

async fn read_reply(reader: &mut BufReader<TcpStream>, wait: Duration) -> anyhow::Result<String> {
    let mut line = String::new();
    let n = tokio::time::timeout(wait, reader.read_line(&mut line)).await??;
    anyhow::ensure!(n > 0, "connection closed");
    Ok(line)
}

async fn connect(port: u16) -> anyhow::Result<BufReader<TcpStream>> {
    for _ in 0..100 {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
            return Ok(BufReader::new(stream));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("cannot connect to the HJ 212 listener on {port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_tcp_become_rows_and_each_9014_waits_for_the_fsync() -> anyhow::Result<()> {
    let env = Env::new()?;
    let port = free_port();
    let gate = Arc::new(SyncGate::default());
    let (running, _shutdown) = env
        .start_with_disk(env.config(&registry(port, ""))?, gate.clone())
        .await?;
    let frames = testdata_frames();
    assert_eq!(frames.len(), 2);
    let mut conn = connect(port).await?;

    // The real-time frame while fsync is held back: no reply until it is durable.
    gate.closed.store(true, Ordering::SeqCst);
    conn.get_mut().write_all(frames[0].as_bytes()).await?;
    assert!(
        read_reply(&mut conn, Duration::from_millis(800))
            .await
            .is_err(),
        "a 9014 before the frame was durable"
    );
    gate.closed.store(false, Ordering::SeqCst);
    let ack = read_reply(&mut conn, Duration::from_secs(10)).await?;
    assert!(
        ack.contains("CN=9014") && ack.contains("QN=20240501120000000"),
        "{ack}"
    );

    // Stray separators, a frame without CRLF, then refused frames answered with QnRtn.
    let unknown = FrameBuilder {
        qn: Some("20240501120500000".into()),
        st: Some("21".into()),
        cn: 2011,
        pw: Some("123456".into()),
        mn: "NOT-REGISTERED".into(),
        flag: Some(5),
        packet: None,
        cp: "DataTime=20240501120500;w01001-Rtd=7.0".into(),
    };
    let wrong_pw = FrameBuilder {
        mn: MN.into(),
        pw: Some("999999".into()),
        ..unknown.clone()
    };
    let stream = format!(
        "\r\n\r\n{}\n{}{}",
        frames[1].trim_end(),
        unknown.build(),
        wrong_pw.build()
    );
    conn.get_mut().write_all(stream.as_bytes()).await?;
    let replies = [
        read_reply(&mut conn, Duration::from_secs(10)).await?,
        read_reply(&mut conn, Duration::from_secs(10)).await?,
        read_reply(&mut conn, Duration::from_secs(10)).await?,
    ];
    assert!(
        replies[0].contains("CN=9014") && replies[0].contains("QN=20240501121000000"),
        "{replies:?}"
    );
    assert!(
        replies[1].contains("CN=9011") && replies[1].contains("QnRtn=4&&"),
        "{replies:?}"
    );
    assert!(
        replies[2].contains("CN=9011") && replies[2].contains("QnRtn=3&&"),
        "{replies:?}"
    );

    // 1 real-time row + 3 minute rows (Min, Avg, Max); the refused frames are not stored.
    let table = env.table("water_quality");
    env.store
        .wait_for_count_async(&table, 4, Duration::from_secs(20))
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = env.store.rows(&table, &["ph", "source"])?;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(metric(&running, "weijian_hj212_tcp_frames_total"), 4.0);
    assert_eq!(metric(&running, "weijian_hj212_tcp_connections_open"), 1.0);
    // Answered on the connection, never on MQTT.
    assert_eq!(metric(&running, "weijian_hj212_replies_total"), 0.0);
    running.stop().await;
    Ok(())
}

/// A real-time frame `i` minutes after `base` with turbidity `i / 1000`.
fn numbered_frame(base: i64, i: usize) -> String {
    let t = alerting::model::Timestamp::from_secs(base + i as i64 * 60);
    FrameBuilder {
        qn: Some(format!("{:017}", i)),
        st: Some("21".into()),
        cn: 2011,
        pw: Some("123456".into()),
        mn: MN.into(),
        flag: Some(5),
        packet: None,
        cp: format!(
            "DataTime={};w01003-Rtd={}",
            format_data_time(t, 8 * 3600),
            i as f64 / 1000.0
        ),
    }
    .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_a_stream_of_frames_stores_every_acknowledged_frame_once() -> anyhow::Result<()>
{
    let env = Env::new()?;
    let port = free_port();
    let config_path = env.spool_dir.path().join("weijian.toml");
    let text = env.config_text(&registry(port, ""), "").replace(
        &format!("dir = \"{}\"", env.spool_dir.path().display()),
        &format!("dir = \"{}/spool\"", env.spool_dir.path().display()),
    );
    std::fs::write(&config_path, text)?;
    let log = env.spool_dir.path().join("weijian.log");
    let mut weijian = WeijianProcess::start(&config_path, &log)?;

    let total = 400usize;
    let now = chrono::Utc::now().timestamp();
    let base = now - now % 60 - total as i64 * 60;
    let logger = tokio::spawn(async move {
        let mut conn = connect(port).await?;
        let mut resent = 0usize;
        let mut i = 0;
        while i < total {
            let frame = numbered_frame(base, i);
            let sent = conn.get_mut().write_all(frame.as_bytes()).await;
            let reply = match sent {
                Ok(()) => read_reply(&mut conn, Duration::from_secs(5)).await,
                Err(e) => Err(e.into()),
            };
            match reply {
                Ok(r) if r.contains("CN=9014") && r.contains(&format!("QN={i:017}")) => i += 1,
                _ => {
                    // No acknowledgement: reconnect and send the same frame again.
                    resent += 1;
                    conn = connect(port).await?;
                }
            }
        }
        anyhow::Ok(resent)
    });
    let mut kills = 0;
    while !logger.is_finished() && kills < 4 {
        tokio::time::sleep(Duration::from_millis(300 + 150 * kills)).await;
        weijian.kill9()?;
        kills += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        weijian = WeijianProcess::start(&config_path, &log)?;
    }
    let resent = logger.await??;
    assert!(
        kills >= 3 && resent >= 3,
        "kills {kills}, frames sent again {resent}"
    );
    let table = env.table("water_quality");
    let counted = env
        .store
        .wait_for_count_async(&table, total, Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = weijian.terminate(Duration::from_secs(30))?;
    counted?;
    let rows = env.store.rows(&table, &["turbidity_ntu"])?;
    assert_eq!(rows.len(), total, "every acknowledged frame once");
    let sum: f64 = rows.iter().filter_map(|r| r[0].as_f64()).sum();
    let expected: f64 = (0..total).map(|i| i as f64 / 1000.0).sum();
    assert!((sum - expected).abs() < 1e-6, "values: {sum} != {expected}");
    assert!(status.success(), "{status}");
    Ok(())
}

/// Part `pno` of a three-part minute upload at `data_time`: pH, turbidity, temperature.
fn split_part(data_time: &str, pno: u32) -> String {
    let cp = match pno {
        1 => format!("DataTime={data_time};w01001-Avg=7.2"),
        2 => "w01003-Avg=0.4".to_owned(),
        _ => "w01010-Avg=18.5".to_owned(),
    };
    FrameBuilder {
        qn: Some("20240501121000000".into()),
        st: Some("21".into()),
        cn: 2051,
        pw: Some("123456".into()),
        mn: MN.into(),
        flag: Some(7),
        packet: Some((3, pno)),
        cp,
    }
    .build()
}

fn minute_ago_data_time() -> String {
    let now = chrono::Utc::now().timestamp();
    format_data_time(
        alerting::model::Timestamp::from_secs(now - now % 60 - 120),
        8 * 3600,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_upload_straddling_a_restart_is_stored_once() -> anyhow::Result<()> {
    let env = Env::new()?;
    let port = free_port();
    let data_time = minute_ago_data_time();
    let (running, _shutdown) = env.start(env.config(&registry(port, ""))?).await?;
    let mut conn = connect(port).await?;
    for pno in [1, 2] {
        conn.get_mut()
            .write_all(split_part(&data_time, pno).as_bytes())
            .await?;
        let ack = read_reply(&mut conn, Duration::from_secs(10)).await?;
        assert!(ack.contains("CN=9014"), "part {pno} acknowledged: {ack}");
    }
    // Let the drain read (and commit what it may) before stopping.
    tokio::time::sleep(Duration::from_millis(800)).await;
    drop(conn);
    running.stop().await;

    let (running, _shutdown) = env.start(env.config(&registry(port, ""))?).await?;
    let mut conn = connect(port).await?;
    conn.get_mut()
        .write_all(split_part(&data_time, 3).as_bytes())
        .await?;
    read_reply(&mut conn, Duration::from_secs(10)).await?;
    let table = env.table("water_quality");
    env.store
        .wait_for_count_async(&table, 1, Duration::from_secs(20))
        .await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let rows = env
        .store
        .rows(&table, &["ph", "turbidity_ntu", "temperature_c"])?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0].as_f64(), Some(7.2));
    assert_eq!(rows[0][1].as_f64(), Some(0.4));
    assert_eq!(rows[0][2].as_f64(), Some(18.5));
    assert_eq!(env.store.count(&env.table("quarantine")).unwrap_or(0), 0);
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_split_upload_expires_on_the_timer_without_further_traffic(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let port = free_port();
    let config = env.config(&registry(port, "hj212_split_timeout_secs = 2"))?;
    let (running, _shutdown) = env.start(config).await?;
    let mut conn = connect(port).await?;
    conn.get_mut()
        .write_all(split_part(&minute_ago_data_time(), 1).as_bytes())
        .await?;
    read_reply(&mut conn, Duration::from_secs(10)).await?;
    // Nothing more is sent.
    let quarantine = env.table("quarantine");
    env.store
        .wait_for_count_async(&quarantine, 1, Duration::from_secs(15))
        .await?;
    let rows = env.store.rows(&quarantine, &["reason", "detail"])?;
    assert_eq!(rows[0][0].as_str(), Some("hj212_split_timeout"), "{rows:?}");
    assert!(
        rows[0][1]
            .as_str()
            .unwrap_or_default()
            .contains("1 of 3 parts"),
        "{rows:?}"
    );
    running.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_mqtt_message_is_answered_on_the_device_reply_topic() -> anyhow::Result<()> {
    let env = Env::new()?;
    let (running, _shutdown) = env.start(env.config(&registry(free_port(), ""))?).await?;
    let mut o = rumqttc::MqttOptions::new("gateway-reply", env.broker.host(), env.broker.port());
    o.set_keep_alive(Duration::from_secs(30));
    let (sub, mut sub_loop) = rumqttc::AsyncClient::new(o, 100);
    sub.subscribe("weijian/v1/plant/logger/reply", rumqttc::QoS::AtLeastOnce)
        .await?;
    let replies = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) =
                tokio::time::timeout(Duration::from_millis(500), sub_loop.poll()).await
            {
                return Some(p.payload.to_vec());
            }
        }
        None
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway");
    publisher
        .publish("weijian/v1/plant/logger/telemetry", "{\"ts\": ")
        .await?;
    publisher.flushed(Duration::from_secs(10)).await?;
    let reply = replies
        .await?
        .ok_or_else(|| anyhow::anyhow!("no reply on the reply topic"))?;
    let reply: serde_json::Value = serde_json::from_slice(&reply)?;
    assert_eq!(reply["reason"], "malformed_json", "{reply}");
    assert_eq!(reply["topic"], "weijian/v1/plant/logger/telemetry");
    assert!(reply["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(reply["received_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    running.stop().await;
    Ok(())
}
