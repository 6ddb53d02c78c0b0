//! Issue #12, item 1, end to end: the disk under the spool fills (a simulated full disk through
//! the disk seam: deterministic, no privileges, no small file system). weijian must stop
//! acknowledging, say why on `/readyz` and `weijian_storage_writable`, keep the process alive,
//! and recover by itself, without a restart, once there is space again, losing nothing.

use std::sync::Arc;
use std::time::Duration;

use weijian_ingest::disk::SimulatedDiskFull;
use weijian_tests::harness::{metric, wait_metric, water_registry, Env, Publisher};

const BEFORE: usize = 20;
const DURING: usize = 20;

fn topic(i: usize) -> String {
    let d = i % 2;
    format!("weijian/v1/s{d}/d{d}/telemetry")
}

fn payload(i: usize, base_ms: i64) -> String {
    let ts = base_ms + i as i64 * 1_000;
    format!(r#"{{"ts":{ts},"values":{{"ph":7.2,"turbidity_ntu":0.3}}}}"#)
}

/// GET `path`: (status, body).
async fn get(addr: std::net::SocketAddr, path: &'static str) -> anyhow::Result<(u16, String)> {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut resp = agent.get(format!("http://{addr}{path}")).call()?;
        let status = resp.status().as_u16();
        Ok((status, resp.body_mut().read_to_string()?))
    })
    .await?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_acknowledgements_says_why_and_recovers_without_a_restart(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let disk = Arc::new(SimulatedDiskFull::default());
    let text = env.config_text(
        &format!(
            "[alerts]\nsnapshot_interval_secs = 1\n\n{}",
            water_registry(2)
        ),
        "",
    );
    let config =
        weijian_ingest::config::Config::parse(&text, "test", &weijian_ingest::config::ProcessEnv)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, _shutdown) = env.start_with_disk(config, disk.clone()).await?;
    let table = env.table("water_quality");
    let base_ms = chrono::Utc::now().timestamp_millis() - 600_000;

    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gateway-disk");
    for i in 0..BEFORE {
        publisher.publish(&topic(i), payload(i, base_ms)).await?;
    }
    env.store
        .wait_for_count_async(&table, BEFORE, Duration::from_secs(30))
        .await?;
    assert_eq!(metric(&running, "weijian_storage_writable"), 3.0);

    disk.set_full(true);
    for i in BEFORE..BEFORE + DURING {
        publisher.publish(&topic(i), payload(i, base_ms)).await?;
    }
    wait_metric(
        &running,
        "weijian_mqtt_pending_acks",
        1.0,
        Duration::from_secs(10),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = get(running.http_addr, "/readyz").await?;
        if status == 503 {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz stayed {status} on a full disk: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(body.contains("spool cannot append"), "{body}");
    assert!(body.contains("No space left on device"), "{body}");
    assert_eq!(get(running.http_addr, "/healthz").await?.0, 200, "alive");
    assert!(metric(&running, "weijian_storage_writable") < 3.0);
    assert!(metric(&running, "weijian_storage_write_errors_total") >= 1.0);
    let acked = metric(&running, "weijian_mqtt_acked_messages_total");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        metric(&running, "weijian_mqtt_acked_messages_total"),
        acked,
        "nothing acknowledged while the disk is full"
    );
    assert!(acked < (BEFORE + DURING) as f64);

    // Space returns: everything flows, without a restart.
    disk.set_full(false);
    wait_metric(
        &running,
        "weijian_mqtt_acked_messages_total",
        (BEFORE + DURING) as f64,
        Duration::from_secs(30),
    )
    .await?;
    let n = env
        .store
        .wait_for_count_async(&table, BEFORE + DURING, Duration::from_secs(30))
        .await?;
    assert_eq!(n, BEFORE + DURING, "every message, once");
    wait_metric(
        &running,
        "weijian_storage_writable",
        3.0,
        Duration::from_secs(10),
    )
    .await?;
    let (status, body) = get(running.http_addr, "/readyz").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(publisher.acked(), BEFORE + DURING);
    running.stop().await;
    Ok(())
}
