//! The console's alert chart reads one series from QuestDB: instantaneous values and
//! averages, never the minimum, maximum and count rows that HJ 212 data loggers send beside
//! an average (against the double, or a real QuestDB named by WEIJIAN_TEST_QUESTDB).

use std::time::Duration;

use alerting::model::{DataFlag, DeviceKind, Metric, Period, Stat, Timestamp};
use weijian_ingest::sink::questdb::QuestDbWriter;
use weijian_ingest::sink::rows::{ReadingRow, Row, Source};
use weijian_service::console::chart::readings_sql;
use weijian_tests::harness::{water_registry, Env};
use weijian_tests::store::Value;

fn row(device: &str, ts: i64, stat: Stat, ph: f64) -> Row {
    Row::Reading(ReadingRow {
        kind: DeviceKind::WaterMonitor,
        ts: Timestamp(ts),
        received_at: Timestamp(ts + 1_000_000),
        site: "s0".into(),
        device: device.into(),
        source: Source::Hj212,
        period: if stat == Stat::Value {
            Period::Instant
        } else {
            Period::Minute
        },
        stat,
        seq: None,
        cycle_id: None,
        values: vec![(Metric::Ph, ph, DataFlag::N)],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_reads_values_and_averages_not_minima_maxima_or_counts() -> anyhow::Result<()> {
    let env = Env::new()?;
    let config = env.config(&water_registry(2))?;
    let minute = 60_000_000i64;
    let start = (weijian_ingest::clock::now().0 / minute - 30) * minute;
    // One minute of an HJ 212 logger: its real-time value and the minute's statistics (each
    // its own row), then another minute; and another device's value.
    let rows = vec![
        row("d0", start, Stat::Value, 7.1),
        row("d0", start + minute, Stat::Avg, 7.2),
        row("d0", start + minute, Stat::Min, 6.0),
        row("d0", start + minute, Stat::Max, 9.0),
        row("d0", start + minute, Stat::Cou, 60.0),
        row("d0", start + 2 * minute, Stat::Value, 7.3),
        row("d1", start + 2 * minute, Stat::Value, 5.0),
    ];
    let stored = rows.len();
    let mut writer = QuestDbWriter::new(config.questdb.clone());
    tokio::task::spawn_blocking(move || writer.write(&rows)).await??;
    let table = env.table("water_quality");
    env.store
        .wait_for_count_async(&table, stored, Duration::from_secs(30))
        .await?;

    let sql = readings_sql(
        &table,
        Metric::Ph,
        "d0",
        start - minute,
        start + 10 * minute,
    );
    let got: Vec<f64> = env
        .store
        .query_rows(&sql)?
        .rows
        .iter()
        .map(|r| match r.get(1) {
            Some(Value::Double(v)) => *v,
            other => panic!("ph is a DOUBLE, not {other:?}"),
        })
        .collect();
    assert_eq!(got, vec![7.1, 7.2, 7.3], "{sql}");
    Ok(())
}
