//! The README's first command must keep working: `weijian demo` runs an embedded broker, the
//! simulated fleet and the pipeline, prints alerts and a status line, and writes to QuestDB when
//! one is reachable (here the in-process double: the demo writes unprefixed tables, so it is
//! not pointed at a shared real QuestDB).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weijian_tests::questdb_double::QuestDbDouble;
use weijian_tools::demo::{run, DemoOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_the_fleet_through_the_pipeline_into_questdb() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let options = DemoOptions {
        questdb: db.conf_string(),
        http_listen: "127.0.0.1:0".into(),
        backfill_hours: 3,
        speedup: 900.0,
        duration: Some(Duration::from_secs(16)),
        ..DemoOptions::default()
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = run(options, CancellationToken::new(), &mut out).await?;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("embedded MQTT broker"), "{text}");
    assert!(text.contains("QuestDB at http://"), "{text}");
    assert!(summary.published_messages > 100, "{summary:?}");
    assert!(summary.readings > 500, "{summary:?}");
    assert!(summary.questdb_up, "{summary:?}\n{text}");
    // Not `events`: bags, handovers and sterilization cycles follow working hours in China
    // Standard Time, so a night-time run may have none.
    for table in [
        "water_quality",
        "waste_store_env",
        "autoclave_telemetry",
        "device_status",
    ] {
        assert!(db.count(table) > 0, "no rows in {table}");
    }
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
    // Three simulated hours of the demo scenario raise alerts, printed Chinese first.
    assert!(summary.alerts_fired > 0, "{summary:?}\n{text}");
    assert!(text.contains("新预警 FIRING"), "{text}");
    assert!(db.count("alerts") > 0);
    // The demo's supervisors hear about them on their MQTT channels.
    assert!(summary.notices > 0, "{summary:?}\n{text}");
    assert!(text.contains("→ 通知 NOTICE new"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_without_questdb_and_says_storage_is_unavailable() -> anyhow::Result<()> {
    let options = DemoOptions {
        // Nothing listens on port 1.
        questdb: "http::addr=127.0.0.1:1;".into(),
        http_listen: "127.0.0.1:0".into(),
        backfill_hours: 1,
        speedup: 600.0,
        duration: Some(Duration::from_secs(6)),
        ..DemoOptions::default()
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = run(options, CancellationToken::new(), &mut out).await?;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("storage is UNAVAILABLE"), "{text}");
    assert!(summary.readings > 0, "{summary:?}");
    assert!(!summary.questdb_up);
    Ok(())
}
