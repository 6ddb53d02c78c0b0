//! Tests of the store abstraction, against the double and through the "real QuestDB" code path
//! (SQL over `/exec`) pointed at the double.

use std::time::Duration;

use questdb::ingress::{Sender, TimestampNanos};
use weijian_tests::store::{TestStore, Value};

fn write_rows(conf: &str, table: &str) -> anyhow::Result<()> {
    let mut sender = Sender::from_conf(conf)?;
    let mut buf = sender.new_buffer();
    for (i, dev) in ["b", "a"].iter().enumerate() {
        buf.table(table)?
            .symbol("dev", dev)?
            .column_f64("v", i as f64 + 0.5)?
            .column_bool("ok", i == 0)?
            .at(TimestampNanos::new(2_000_000 - i as i64 * 1_000_000))?;
    }
    sender.flush(&mut buf)?;
    Ok(())
}

fn check(store: &TestStore) -> anyhow::Result<()> {
    let prefix = store.fresh_table_prefix();
    assert!(prefix.starts_with('t') && prefix.ends_with('_'));
    assert_ne!(prefix, store.fresh_table_prefix());
    let table = format!("{prefix}sensor");
    store.exec(&format!(
        "CREATE TABLE IF NOT EXISTS \"{table}\" (ts TIMESTAMP, dev SYMBOL, v DOUBLE, ok BOOLEAN) \
         TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, dev);"
    ))?;
    assert_eq!(store.count(&table)?, 0);
    write_rows(&store.conf_string(), &table)?;
    assert_eq!(store.wait_for_count(&table, 2, Duration::from_secs(10))?, 2);
    let rows = store.rows(&table, &["dev", "v", "ok", "ts"])?;
    assert_eq!(
        rows,
        vec![
            vec![
                Value::Symbol("a".into()),
                Value::Double(1.5),
                Value::Bool(false),
                Value::Timestamp(1_000)
            ],
            vec![
                Value::Symbol("b".into()),
                Value::Double(0.5),
                Value::Bool(true),
                Value::Timestamp(2_000)
            ],
        ]
    );
    assert!(store.rows(&table, &["nope"]).is_err());
    assert_eq!(store.count(&format!("{prefix}missing"))?, 0);
    assert!(store
        .wait_for_count(&table, 3, Duration::from_millis(200))
        .is_err());
    store.drop_table(&table)?;
    assert_eq!(store.count(&table)?, 0);
    Ok(())
}

#[test]
fn store_against_env_or_double() -> anyhow::Result<()> {
    let store = TestStore::from_env()?;
    eprintln!("real QuestDB: {}", store.is_real());
    check(&store)
}

#[test]
fn real_code_path_against_the_double() -> anyhow::Result<()> {
    let backing = TestStore::double();
    let store = TestStore::real(&backing.conf_string())?;
    assert!(store.is_real());
    check(&store)
}

#[tokio::test]
async fn wait_for_count_async() -> anyhow::Result<()> {
    let store = TestStore::double();
    let table = format!("{}x", store.fresh_table_prefix());
    let conf = store.conf_string();
    let t = table.clone();
    let writer = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(100));
        write_rows(&conf, &t)
    });
    assert_eq!(
        store
            .wait_for_count_async(&table, 2, Duration::from_secs(5))
            .await?,
        2
    );
    writer.await??;
    Ok(())
}
