//! Crash safety with real processes: the `weijian` binary is SIGKILLed at random points while
//! a gateway publishes 20,000 QoS 1 messages through Mosquitto, and restarted each time. The
//! store must end with exactly the published rows: nothing lost, nothing duplicated.

use std::time::Duration;

use rand::Rng;
use weijian_tests::harness::{water_registry, Env, Publisher};
use weijian_tests::process::WeijianProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let env = Env::new()?;
    let devices = 10;
    let config_path = env.spool_dir.path().join("weijian.toml");
    // The spool lives beside the config, inside the same temp dir, and survives the kills.
    let text = env.config_text(&water_registry(devices), "").replace(
        &format!("dir = \"{}\"", env.spool_dir.path().display()),
        &format!("dir = \"{}/spool\"", env.spool_dir.path().display()),
    );
    std::fs::write(&config_path, text)?;
    let log = env.spool_dir.path().join("weijian.log");
    let mut weijian = WeijianProcess::start(&config_path, &log)?;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let total = 20_000usize;
    let base = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let (host, port) = (env.broker.host().to_string(), env.broker.port());
    let publishing = tokio::spawn(async move {
        let mut publisher = Publisher::connect(&host, port, "gateway-crash");
        for i in 0..total {
            let d = i % devices;
            let ts = base + (i / devices) as i64 * 100;
            publisher
                .publish(
                    &format!("weijian/v1/s{d}/d{d}/telemetry"),
                    format!(
                        r#"{{"ts":{ts},"seq":{i},"values":{{"ph":7.0,"turbidity_ntu":{}}}}}"#,
                        (i % 1000) as f64 / 1000.0
                    ),
                )
                .await?;
            // ~2,500 messages/s: the kills land while messages are in flight.
            if i % 25 == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        publisher.flushed(Duration::from_secs(120)).await?;
        anyhow::Ok(())
    });

    let kills = 6;
    let mut kills_while_publishing = 0;
    for k in 0..kills {
        let wait_ms = rand::rng().random_range(150..900);
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        if !publishing.is_finished() {
            kills_while_publishing += 1;
        }
        weijian.kill9()?;
        eprintln!("kill {} after {wait_ms} ms", k + 1);
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(50..400))).await;
        weijian = WeijianProcess::start(&config_path, &log)?;
    }
    assert!(
        kills_while_publishing >= 5,
        "only {kills_while_publishing} kills hit the stream"
    );
    publishing.await??;
    let table = env.table("water_quality");
    let n = env
        .store
        .wait_for_count_async(&table, total, Duration::from_secs(120))
        .await;
    let status = weijian.terminate(Duration::from_secs(30))?;
    let n = n.map_err(|e| anyhow::anyhow!("{e}\n--- weijian log tail ---\n{}", tail(&log)))?;
    assert_eq!(n, total, "rows in store");
    let rows = env.store.rows(&table, &["turbidity_ntu"])?;
    let sum: f64 = rows.iter().filter_map(|r| r[0].as_f64()).sum();
    let expected: f64 = (0..total).map(|i| (i % 1000) as f64 / 1000.0).sum();
    assert!((sum - expected).abs() < 1e-6, "values: {sum} != {expected}");
    assert!(
        status.success(),
        "graceful shutdown after the kills: {status}"
    );
    let log_text = std::fs::read_to_string(&log)?;
    assert!(log_text.matches("Starting weijian.").count() > kills);
    Ok(())
}

fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
