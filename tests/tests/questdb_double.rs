//! Tests of the QuestDB double itself, driven by the real questdb-rs HTTP sender and raw HTTP.

use std::time::Duration;

use anyhow::Context;
use questdb::ingress::{Buffer, ProtocolVersion, Sender, TimestampMicros, TimestampNanos};
use weijian_tests::questdb_double::{ColumnType, Mode, QuestDbDouble, Value};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn post_raw(db: &QuestDbDouble, body: &str) -> anyhow::Result<(u16, String, serde_json::Value)> {
    let mut resp = agent()
        .post(format!("{}/write?precision=n", db.http_base()))
        .content_type("text/plain; charset=utf-8")
        .send(body)?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.body_mut().read_to_string()?;
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text)?
    };
    Ok((status, ctype, json))
}

fn exec(db: &QuestDbDouble, sql: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut resp = agent()
        .get(format!("{}/exec", db.http_base()))
        .query("query", sql)
        .call()?;
    let status = resp.status().as_u16();
    let json = serde_json::from_str(&resp.body_mut().read_to_string()?)?;
    Ok((status, json))
}

fn sensor_row(buf: &mut Buffer, dev: &str, ts_nanos: i64, v: f64) -> anyhow::Result<()> {
    buf.table("sensor")?
        .symbol("dev", dev)?
        .column_f64("v", v)?
        .at(TimestampNanos::new(ts_nanos))?;
    Ok(())
}

#[test]
fn questdb_rs_rows_round_trip_with_types_v2_and_v1() -> anyhow::Result<()> {
    for (proto, table) in [("", "auto_v2"), ("protocol_version=1;", "auto_v1")] {
        let db = QuestDbDouble::start();
        let mut sender = Sender::from_conf(format!("{}{proto}", db.conf_string()))?;
        let expected = if proto.is_empty() {
            ProtocolVersion::V2 // negotiated through /settings
        } else {
            ProtocolVersion::V1
        };
        assert_eq!(sender.protocol_version(), expected);
        let mut buf = sender.new_buffer();
        buf.table(table)?
            .symbol("dev", "a b,c=d")?
            .column_f64("temp", 21.25)?
            .column_i64("n", -7)?
            .column_bool("ok", true)?
            .column_str("note", "say \"hi\"\nbye\\")?
            .column_ts("seen", TimestampMicros::new(1_700_000_000_123_456))?
            .at(TimestampNanos::new(1_700_000_001_000_000_000))?;
        buf.table(table)?
            .symbol("dev", "x")?
            .column_f64("temp", f64::from_bits(0x0a0a_0a0a_0a0a_0a0a))?
            .at(TimestampNanos::new(1_700_000_000_000_000_000))?;
        sender.flush(&mut buf)?;

        let rows = db.rows(table);
        assert_eq!(rows.len(), 2, "{proto}");
        // ordered by designated timestamp
        assert_eq!(rows[0]["dev"], Value::Symbol("x".into()));
        assert_eq!(
            rows[0]["temp"],
            Value::Double(f64::from_bits(0x0a0a_0a0a_0a0a_0a0a))
        );
        assert_eq!(rows[0]["n"], Value::Null);
        assert_eq!(rows[0]["ok"], Value::Bool(false));
        let r = &rows[1];
        assert_eq!(r["dev"], Value::Symbol("a b,c=d".into()));
        assert_eq!(r["temp"], Value::Double(21.25));
        assert_eq!(r["n"], Value::Long(-7));
        assert_eq!(r["ok"], Value::Bool(true));
        assert_eq!(r["note"], Value::Str("say \"hi\"\nbye\\".into()));
        assert_eq!(r["seen"], Value::Timestamp(1_700_000_000_123_456));
        assert_eq!(r["timestamp"], Value::Timestamp(1_700_000_001_000_000));
        assert_eq!(db.count(table), 2);
        assert_eq!(db.tables(), vec![table.to_string()]);
        assert!(db.rejected_requests().is_empty());
        assert_eq!(db.requests_received(), 1);
        let schema = db.schema(table).context("schema")?;
        assert!(!schema.created_by_ddl);
        assert!(schema
            .columns
            .contains(&("note".into(), ColumnType::Varchar)));
    }
    Ok(())
}

#[test]
fn malformed_line_is_rejected_with_questdb_json_and_stores_nothing() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let (status, ctype, json) = post_raw(&db, "good v=1.0 1000\ngood v=oops 2000\n")?;
    assert_eq!(status, 400);
    assert_eq!(ctype, "application/json");
    assert_eq!(json["code"], "invalid");
    assert_eq!(json["line"], 2);
    let msg = json["message"].as_str().context("message")?;
    assert!(
        msg.starts_with(
            "failed to parse line protocol:errors encountered on line(s):\nerror in line 2:"
        ),
        "{msg}"
    );
    assert!(json["errorId"].is_string());
    assert_eq!(db.count("good"), 0);
    assert!(db.tables().is_empty());
    assert_eq!(db.rejected_requests().len(), 1);
    assert_eq!(db.rejected_requests()[0].status, 400);

    // Not newline-terminated.
    let (status, _, _) = post_raw(&db, "good v=1.0 1000")?;
    assert_eq!(status, 400);
    // And a good one passes.
    let (status, _, _) = post_raw(&db, "good v=1.0 1000\n")?;
    assert_eq!(status, 204);
    assert_eq!(db.count("good"), 1);
    Ok(())
}

#[test]
fn type_mismatch_against_ddl_is_a_cast_error() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let (status, json) = exec(
        &db,
        "CREATE TABLE IF NOT EXISTS sensor (ts TIMESTAMP, dev SYMBOL, v DOUBLE, n LONG, i INT, \
         ok BOOLEAN, s STRING, vc VARCHAR) TIMESTAMP(ts) PARTITION BY DAY WAL;",
    )?;
    assert_eq!((status, json), (200, serde_json::json!({"ddl": "OK"})));

    let mut sender = Sender::from_conf(db.conf_string())?;
    let mut buf = sender.new_buffer();
    sensor_row(&mut buf, "d1", 1_000, 1.0)?;
    buf.table("sensor")?
        .symbol("dev", "d1")?
        .column_str("v", "not a number")?
        .at(TimestampNanos::new(2_000))?;
    let err = sender.flush(&mut buf).err().context("flush must fail")?;
    let msg = err.msg().to_string();
    assert!(
        msg.contains("error in line 2: table: sensor, column: v; cast error from protocol type: STRING to column type: DOUBLE"),
        "{msg}"
    );
    assert_eq!(db.count("sensor"), 0, "all-or-nothing");

    // A field written into a SYMBOL column.
    let mut buf = sender.new_buffer();
    buf.table("sensor")?
        .column_str("dev", "d1")?
        .column_f64("v", 1.0)?
        .at(TimestampNanos::new(2_000))?;
    assert!(sender.flush(&mut buf).is_err());
    // A tag written into a DOUBLE column.
    let (status, _, json) = post_raw(&db, "sensor,v=1.5 n=1i 1000\n")?;
    assert_eq!(status, 400, "{json}");
    // Float into LONG.
    let (status, _, _) = post_raw(&db, "sensor n=1.5 1000\n")?;
    assert_eq!(status, 400);
    // Integer out of INT range.
    let (status, _, _) = post_raw(&db, "sensor i=3000000000i 1000\n")?;
    assert_eq!(status, 400);
    assert_eq!(db.count("sensor"), 0);

    // Integers widen into DOUBLE; all the DDL types accept their ILP type.
    let (status, _, json) = post_raw(
        &db,
        "sensor,dev=d1 v=3i,n=4i,i=5i,ok=f,s=\"x\",vc=\"y\" 1000\n",
    )?;
    assert_eq!(status, 204, "{json}");
    let rows = db.rows("sensor");
    assert_eq!(rows[0]["v"], Value::Double(3.0));
    assert_eq!(rows[0]["i"], Value::Long(5));
    assert_eq!(rows[0]["ts"], Value::Timestamp(1));
    assert!(db.unexpected_columns().is_empty());

    // An undeclared column is auto-added but recorded.
    let (status, _, _) = post_raw(&db, "sensor,dev=d1 extra=1i 2000\n")?;
    assert_eq!(status, 204);
    assert_eq!(
        db.unexpected_columns(),
        vec![("sensor".to_string(), "extra".to_string())]
    );
    Ok(())
}

#[test]
fn dedup_upsert_keys_replace_rows() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    db.exec(
        "CREATE TABLE sensor (ts TIMESTAMP, dev SYMBOL, v DOUBLE) TIMESTAMP(ts) \
         PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, dev)",
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut sender = Sender::from_conf(db.conf_string())?;
    let mut buf = sender.new_buffer();
    sensor_row(&mut buf, "d1", 1_000, 1.0)?;
    sensor_row(&mut buf, "d2", 1_000, 2.0)?;
    sensor_row(&mut buf, "d1", 1_000, 3.0)?; // same request replaces
    sender.flush(&mut buf)?;
    sensor_row(&mut buf, "d2", 1_000, 4.0)?; // later request replaces
    sensor_row(&mut buf, "d2", 2_000, 5.0)?; // different ts: new row
    sender.flush(&mut buf)?;
    let got: Vec<(String, f64)> = db
        .rows("sensor")
        .iter()
        .map(|r| {
            (
                r["dev"].as_str().unwrap_or("?").to_string(),
                r["v"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("d1".into(), 3.0), ("d2".into(), 4.0), ("d2".into(), 5.0)]
    );

    // The DDL errors look like QuestDB's.
    let (status, json) = exec(
        &db,
        "CREATE TABLE bad (ts TIMESTAMP, dev SYMBOL) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(dev)",
    )?;
    assert_eq!(status, 400);
    assert!(json["error"]
        .as_str()
        .is_some_and(|e| e.contains("designated") || e.contains("dedicated")));
    assert!(json["position"].is_number());
    // CREATE without IF NOT EXISTS on an existing table fails; with it, it is a no-op.
    assert_eq!(
        exec(&db, "CREATE TABLE sensor (ts TIMESTAMP) TIMESTAMP(ts)")?.0,
        400
    );
    assert_eq!(
        exec(
            &db,
            "CREATE TABLE IF NOT EXISTS sensor (ts TIMESTAMP) TIMESTAMP(ts)"
        )?
        .0,
        200
    );
    let (status, json) = exec(&db, "SELECT count() FROM sensor")?;
    assert_eq!(status, 200);
    assert_eq!(json["dataset"], serde_json::json!([[3]]));
    let (_, json) = exec(&db, "SELECT dev, v, ts FROM sensor")?;
    assert_eq!(
        json["dataset"][0],
        serde_json::json!(["d1", 3.0, "1970-01-01T00:00:00.000001Z"])
    );
    Ok(())
}

#[test]
fn select_where_and_limit_filter_rows_as_questdb_does() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    db.exec("CREATE TABLE sensor (ts TIMESTAMP, dev SYMBOL, v DOUBLE) TIMESTAMP(ts) PARTITION BY DAY WAL")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut sender = Sender::from_conf(db.conf_string())?;
    let mut buf = sender.new_buffer();
    for (dev, nanos, v) in [
        ("d1", 1_000_000, 1.0),
        ("d2", 2_000_000, 2.0),
        ("d1", 3_000_000, 3.0),
        ("d1", 4_000_000, 4.0),
    ] {
        sensor_row(&mut buf, dev, nanos, v)?;
    }
    sender.flush(&mut buf)?;
    // A symbol compared with text, a timestamp with an ISO literal, and LIMIT.
    let (status, json) = exec(
        &db,
        "SELECT ts, v FROM sensor WHERE dev = 'd1' AND ts >= '1970-01-01T00:00:00.002000Z' AND ts < '1970-01-01T00:00:01Z' LIMIT 5",
    )?;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        json["dataset"],
        serde_json::json!([
            ["1970-01-01T00:00:00.003000Z", 3.0],
            ["1970-01-01T00:00:00.004000Z", 4.0]
        ])
    );
    let (_, json) = exec(&db, "SELECT v FROM sensor WHERE v > 1.5 LIMIT 1")?;
    assert_eq!(json["dataset"], serde_json::json!([[2.0]]));
    let (_, json) = exec(&db, "SELECT count() FROM sensor WHERE dev = 'd2'")?;
    assert_eq!(json["dataset"], serde_json::json!([[1]]));
    // Errors name the position, as QuestDB's do.
    let (status, json) = exec(&db, "SELECT v FROM sensor WHERE nope = 'x'")?;
    assert_eq!(status, 400);
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("Invalid column: nope")),
        "{json}"
    );
    let (status, _) = exec(&db, "SELECT v FROM sensor WHERE ts >= 'yesterday'")?;
    assert_eq!(status, 400);
    Ok(())
}

#[test]
fn unreachable_then_healthy_on_the_same_address() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let addr = db.addr();
    let mut sender = Sender::from_conf(format!("{}retry_timeout=0;", db.conf_string()))?;
    let mut buf = sender.new_buffer();
    sensor_row(&mut buf, "d1", 1_000, 1.0)?;
    sender.flush(&mut buf)?; // warms up a pooled keep-alive connection

    db.set_mode(Mode::Unreachable)?;
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "connection refused"
    );
    sensor_row(&mut buf, "d1", 2_000, 2.0)?;
    assert!(sender.flush_and_keep(&buf).is_err());
    assert_eq!(db.count("sensor"), 1);

    db.set_mode(Mode::Healthy)?;
    assert_eq!(db.addr(), addr);
    sender.flush(&mut buf)?;
    assert_eq!(db.count("sensor"), 2);

    // Unreachable again, then a fresh sender can't even start (settings probe fails).
    db.set_mode(Mode::Unreachable)?;
    assert!(Sender::from_conf(db.conf_string()).is_err());
    db.set_mode(Mode::Healthy)?;
    assert!(Sender::from_conf(db.conf_string()).is_ok());
    Ok(())
}

#[test]
fn fail500_and_fail_next() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let mut sender = Sender::from_conf(format!("{}retry_timeout=0;", db.conf_string()))?;
    let mut buf = sender.new_buffer();
    sensor_row(&mut buf, "d1", 1_000, 1.0)?;

    db.set_mode(Mode::Fail500)?;
    let err = sender.flush_and_keep(&buf).err().context("must fail")?;
    assert!(err.msg().contains("injected failure"), "{}", err.msg());
    db.set_mode(Mode::Healthy)?;
    db.fail_next(2);
    assert!(sender.flush_and_keep(&buf).is_err());
    assert!(sender.flush_and_keep(&buf).is_err());
    sender.flush_and_keep(&buf)?;
    assert_eq!(db.count("sensor"), 1);
    assert_eq!(db.rejected_requests().len(), 3);
    assert!(db.rejected_requests().iter().all(|r| r.status == 500));

    // questdb-rs retries 500s within retry_timeout: one transient failure is invisible.
    let mut retrying = Sender::from_conf(format!("{}retry_timeout=2000;", db.conf_string()))?;
    db.fail_next(1);
    let mut buf = retrying.new_buffer();
    sensor_row(&mut buf, "d1", 2_000, 1.0)?;
    retrying.flush(&mut buf)?;
    assert_eq!(db.count("sensor"), 2);
    Ok(())
}

#[tokio::test]
async fn mode_switches_and_drop_work_from_async_code() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    db.set_mode(Mode::Unreachable)?;
    assert_eq!(db.mode(), Mode::Unreachable);
    assert!(tokio::net::TcpStream::connect(db.addr()).await.is_err());
    db.set_mode(Mode::Healthy)?;
    let mut s = tokio::net::TcpStream::connect(db.addr()).await?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).await?;
    assert!(resp.starts_with("HTTP/1.1 204"), "{resp}");
    drop(db);
    Ok(())
}

#[test]
fn binary_double_over_raw_http_and_precision() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let mut body = b"m x==".to_vec();
    body.push(16);
    body.extend_from_slice(&2.5f64.to_le_bytes());
    body.extend_from_slice(b" 3\n");
    let resp = agent()
        .post(format!("{}/api/v2/write?precision=s", db.http_base()))
        .send(&body[..])?;
    assert_eq!(resp.status().as_u16(), 204);
    let rows = db.rows("m");
    assert_eq!(rows[0]["x"], Value::Double(2.5));
    assert_eq!(rows[0]["timestamp"], Value::Timestamp(3_000_000));
    Ok(())
}

#[test]
fn response_delay_trips_the_client_request_timeout() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let mut sender = Sender::from_conf(format!(
        "{}retry_timeout=0;request_timeout=200;request_min_throughput=0;",
        db.conf_string()
    ))?;
    let mut buf = sender.new_buffer();
    sensor_row(&mut buf, "d1", 1_000, 1.0)?;
    db.set_response_delay(Duration::from_millis(1500));
    assert!(sender.flush_and_keep(&buf).is_err());
    db.set_response_delay(Duration::ZERO);
    let mut sender = Sender::from_conf(db.conf_string())?;
    sender.flush(&mut buf)?;
    // the timed-out request was still applied by the server: at-least-once semantics
    assert_eq!(db.count("sensor"), 2);
    Ok(())
}

/// Observed on QuestDB 9.3.5 (built from source, 2026-12-06): a table auto-created by ILP gets
/// the first line's columns, then `timestamp`; columns of later lines follow it. `SELECT *`
/// shows them in that order, and `SELECT count()` names its column `count()`.
#[test]
fn auto_created_table_columns_and_count_are_shaped_like_questdb() -> anyhow::Result<()> {
    let db = QuestDbDouble::start();
    let (status, _, _) = post_raw(
        &db,
        "probe,dev=d1 v=1.0 1000000000\nprobe,dev=d1,zone=z v=2.0,n=3i 2000000000\n",
    )?;
    assert_eq!(status, 204);
    let (status, _, _) = post_raw(&db, "probe w=1.0 3000000000\n")?;
    assert_eq!(status, 204);
    let (status, json) = exec(&db, "SELECT * FROM probe")?;
    assert_eq!(status, 200);
    assert_eq!(
        json["columns"],
        serde_json::json!([
            {"name": "dev", "type": "SYMBOL"},
            {"name": "v", "type": "DOUBLE"},
            {"name": "timestamp", "type": "TIMESTAMP"},
            {"name": "zone", "type": "SYMBOL"},
            {"name": "n", "type": "LONG"},
            {"name": "w", "type": "DOUBLE"}
        ])
    );
    assert_eq!(json["timestamp"], 2);
    assert_eq!(
        json["dataset"],
        serde_json::json!([
            ["d1", 1.0, "1970-01-01T00:00:01.000000Z", null, null, null],
            ["d1", 2.0, "1970-01-01T00:00:02.000000Z", "z", 3, null],
            [null, null, "1970-01-01T00:00:03.000000Z", null, null, 1.0]
        ])
    );
    let (status, json) = exec(&db, "SELECT count() FROM probe")?;
    assert_eq!(status, 200);
    assert_eq!(
        json["columns"],
        serde_json::json!([{"name": "count()", "type": "LONG"}])
    );
    assert_eq!(json["dataset"], serde_json::json!([[3]]));
    // A field named like the designated timestamp is refused (QuestDB 9.3.5: 500 with
    // `java.lang.UnsupportedOperationException`; the double: 400, a cast error).
    let (status, _, _) = post_raw(&db, "fresh timestamp=1.5 1000\n")?;
    assert_ne!(status, 204);
    assert_eq!(db.count("fresh"), 0);
    Ok(())
}
