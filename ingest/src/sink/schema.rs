//! The QuestDB schema: one source of truth for table names, columns, types and dedup keys.
//! The DDL, the ILP row encoder, the schema section of docs/tables.md and the dashboard check
//! all read it from here.
//!
//! Every table is WAL, partitioned by day, with the device's event time as designated timestamp
//! and `DEDUP UPSERT KEYS` covering the row's identity, so a replayed spool or a redelivered
//! message rewrites the same row instead of adding one.

use alerting::model::{DeviceKind, Metric};

use super::table::col;
pub use super::table::{Column, ColumnType, Table};

/// The wide readings table of a device kind.
pub const fn readings_table_name(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::WaterMonitor => "water_quality",
        DeviceKind::WasteStore => "waste_store_env",
        DeviceKind::Autoclave => "autoclave_telemetry",
    }
}

/// The flag column of a metric in a readings table (a constant: the encoder uses it per value).
pub const fn flag_column(metric: Metric) -> &'static str {
    match metric {
        Metric::TurbidityNtu => "turbidity_ntu_flag",
        Metric::Ph => "ph_flag",
        Metric::FreeChlorineMgL => "free_chlorine_mg_l_flag",
        Metric::TotalChlorineMgL => "total_chlorine_mg_l_flag",
        Metric::ChlorineDioxideMgL => "chlorine_dioxide_mg_l_flag",
        Metric::OzoneMgL => "ozone_mg_l_flag",
        Metric::TemperatureC => "temperature_c_flag",
        Metric::ConductivityUsCm => "conductivity_us_cm_flag",
        Metric::HumidityPct => "humidity_pct_flag",
        Metric::DoorOpen => "door_open_flag",
        Metric::UvLampOn => "uv_lamp_on_flag",
        Metric::ChamberTempC => "chamber_temp_c_flag",
        Metric::ChamberPressureKpa => "chamber_pressure_kpa_flag",
        Metric::LoadTempC => "load_temp_c_flag",
    }
}

/// Table names with the configured prefix, computed once (not per row).
#[derive(Debug, Clone)]
pub struct TableNames {
    /// Per table of [`tables`]: its unprefixed name, the prefixed name, and whether that is a
    /// valid ILP table name (checked once here rather than by questdb-rs on every row).
    names: Vec<(&'static str, String, bool)>,
}

impl TableNames {
    pub fn new(prefix: &str) -> Self {
        Self {
            names: tables()
                .into_iter()
                .map(|t| {
                    let name = format!("{prefix}{}", t.name);
                    let valid = questdb::ingress::TableName::new(&name).is_ok();
                    (t.name, name, valid)
                })
                .collect(),
        }
    }

    /// The prefixed name of an (unprefixed) table name from [`tables`].
    pub fn get<'a>(&'a self, table: &'a str) -> &'a str {
        self.entry(table).map_or(table, |(name, _)| name)
    }

    /// The prefixed name of `table` and whether it is a valid ILP table name.
    fn entry(&self, table: &str) -> Option<(&str, bool)> {
        self.names
            .iter()
            .find(|(t, _, _)| *t == table)
            .map(|(_, name, valid)| (name.as_str(), *valid))
    }

    /// The prefixed name of `table` for an ILP buffer: checked once, when these names were
    /// made; an invalid one (a bad prefix) or a table not in [`tables`] is checked now, and its
    /// error says why.
    pub fn ilp<'a>(&'a self, table: &'a str) -> questdb::Result<questdb::ingress::TableName<'a>> {
        match self.entry(table) {
            Some((name, true)) => Ok(questdb::ingress::TableName::new_unchecked(name)),
            Some((name, false)) => questdb::ingress::TableName::new(name),
            None => questdb::ingress::TableName::new(table),
        }
    }
}

fn readings_table(kind: DeviceKind) -> Table {
    use ColumnType::*;
    let mut columns = vec![
        col(
            "ts",
            Timestamp,
            "event time from the device (designated timestamp)",
        ),
        col(
            "received_at",
            Timestamp,
            "when weijian received the message",
        ),
        col("site", Symbol, "site id"),
        col("device", Symbol, "device id"),
        col("source", Symbol, "json or hj212"),
        col(
            "period",
            Symbol,
            "instant, minute, hour or day (HJ 212 2051/2061/2031 intervals)",
        ),
        col("stat", Symbol, "value, min, avg, max or cou"),
        col("seq", Long, "gateway sequence number, when sent"),
    ];
    if kind == DeviceKind::Autoclave {
        columns.push(col("cycle_id", Symbol, "sterilization cycle of the sample"));
    }
    for m in Metric::of_kind(kind) {
        columns.push(col(m.name(), Double, "value (booleans as 0/1)"));
        if kind == DeviceKind::WaterMonitor {
            columns.push(col(
                flag_column(m).to_string(),
                Symbol,
                "data flag (N = normal; M, C, D, B, F, T, S, P)",
            ));
        }
    }
    Table {
        name: readings_table_name(kind),
        doc: match kind {
            DeviceKind::WaterMonitor => {
                "drinking-water quality readings, one row per device, time and statistic"
            }
            DeviceKind::WasteStore => "medical-waste store environment readings",
            DeviceKind::Autoclave => "steam sterilizer chamber telemetry",
        },
        columns,
        dedup_keys: vec!["ts", "device", "period", "stat"],
    }
}

/// Statements that bring a table created by an earlier weijian to the current definition,
/// run after `CREATE TABLE IF NOT EXISTS` (a no-op on a new table). Adding a column and
/// setting the dedup keys are idempotent; changing a type QuestDB refuses once the column
/// has it, which the writer tolerates.
pub fn upgrades(table: &Table, prefix: &str) -> Vec<String> {
    let name = format!("{prefix}{}", table.name);
    let mut sql = Vec::new();
    if table.name == "quarantine" {
        // Identity by message (weijian 0.1 keyed it by device and reason, which merged
        // identical bad messages received in the same microsecond).
        sql.push(format!(
            "ALTER TABLE {name} ADD COLUMN IF NOT EXISTS message_seq LONG"
        ));
        sql.push(format!(
            "ALTER TABLE {name} DEDUP ENABLE UPSERT KEYS({})",
            table.dedup_keys.join(", ")
        ));
    }
    // Columns that were SYMBOLs of unbounded (or attacker-chosen) values.
    let retyped: &[&str] = match table.name {
        "quarantine" => &["site", "device"],
        "audit" => &["request_id"],
        _ => &[],
    };
    for column in retyped {
        sql.push(format!(
            "ALTER TABLE {name} ALTER COLUMN {column} TYPE VARCHAR"
        ));
    }
    sql
}

/// Every table weijian writes.
pub fn tables() -> Vec<Table> {
    use ColumnType::*;
    let mut t: Vec<Table> = DeviceKind::ALL.into_iter().map(readings_table).collect();
    t.push(Table {
        name: "events",
        doc: "discrete events (bag_in, handover, disinfection, cycle_start/end, bd/bi results, maintenance)",
        columns: vec![
            col("ts", Timestamp, "event time from the device"),
            col("received_at", Timestamp, "when weijian received it"),
            col("site", Symbol, "site id"),
            col("device", Symbol, "device id"),
            col("event_type", Symbol, "event type"),
            col("ref_id", Symbol, "bag_id, manifest_id, cycle_id or bi_id"),
            col("data", Varchar, "the event object as received (JSON)"),
        ],
        dedup_keys: vec!["ts", "device", "event_type", "ref_id"],
    });
    t.push(Table {
        name: "device_status",
        doc: "birth / last-will status messages",
        columns: vec![
            col("ts", Timestamp, "status time from the device"),
            col("received_at", Timestamp, "when weijian received it"),
            col("site", Symbol, "site id"),
            col("device", Symbol, "device id"),
            col("online", Boolean, "true = online"),
        ],
        dedup_keys: vec!["ts", "device"],
    });
    t.push(Table {
        name: "quarantine",
        doc: "every rejected message, object, frame or value, with its reason and raw bytes",
        columns: vec![
            col("ts", Timestamp, "when weijian received the message"),
            col(
                "message_seq",
                Long,
                "the message's spool sequence number: unique, the same on every replay (store_rejected: a hash of the refused row)",
            ),
            col("topic", Varchar, "MQTT topic (store_rejected: the table of the refused row)"),
            col("site", Varchar, "site id from the topic, when parseable (VARCHAR: attacker-chosen)"),
            col("device", Varchar, "device id from the topic, when parseable (VARCHAR: attacker-chosen)"),
            col(
                "reason",
                Symbol,
                "stable reason code (docs/payload-contract.md: Rejection reasons)",
            ),
            col("item", Long, "index of the rejection within its message"),
            col("detail", Varchar, "what, where, why"),
            col(
                "payload",
                Varchar,
                "the raw payload, object or frame (hex when not UTF-8)",
            ),
            col("encoding", Symbol, "utf8 or hex"),
        ],
        // The message's identity, not its content: identical bad messages from one device
        // received in the same microsecond are still two rows.
        dedup_keys: vec!["ts", "message_seq", "item"],
    });
    t.push(Table {
        name: "alerts",
        doc: "every alert lifecycle event (pending, firing, level_changed, resolved) with its evidence",
        columns: vec![
            col("ts", Timestamp, "event time of the transition"),
            col("alert_id", Symbol, "rule/site/device[/subject]/started_at_micros"),
            col("rule", Symbol, "rule id, e.g. W2"),
            col("level", Long, "1 = I red .. 4 = IV blue"),
            col("kind", Symbol, "pending, firing, level_changed or resolved"),
            col("site", Symbol, "site id"),
            col("device", Symbol, "device id (* for site-scoped rules such as W5)"),
            col("subject", Symbol, "metric or aspect, when the rule has one"),
            col("district", Symbol, "grid: district (区)"),
            col("street", Symbol, "grid: street (街道)"),
            col("community", Symbol, "grid: community (社区)"),
            col("started_at", Timestamp, "when the alert's condition started"),
            col("reason", Varchar, "why the transition happened"),
            col("evidence", Varchar, "evidence values (JSON object)"),
            col("summary_zh", Varchar, "summary, Chinese"),
            col("summary_en", Varchar, "summary, English"),
        ],
        dedup_keys: vec!["ts", "alert_id", "kind", "level"],
    });
    t.push(Table {
        name: "alert_actions",
        doc: "what delivery and supervisors did with an alert: escalated, acknowledged, acknowledgement_cleared, resolved_manually, silenced, silence_ended",
        columns: vec![
            col("ts", Timestamp, "when it happened"),
            col("alert_id", Symbol, "the alert"),
            col("action", Symbol, "escalated, acknowledged, acknowledgement_cleared, resolved_manually, silenced or silence_ended"),
            col("rule", Symbol, "rule id, e.g. W2"),
            col("level", Long, "the alert's level then: 1 = I red .. 4 = IV blue"),
            col("site", Symbol, "site id"),
            col("district", Symbol, "grid: district (区)"),
            col("street", Symbol, "grid: street (街道)"),
            col("community", Symbol, "grid: community (社区)"),
            col("actor", Symbol, "the supervisor who acted, or system"),
            col("tier", Symbol, "escalations: the tier it went to (community, street, district, city)"),
            col("detail", Varchar, "note, reason, silence or escalation details"),
        ],
        dedup_keys: vec!["ts", "alert_id", "action"],
    });
    t.push(Table {
        name: "audit",
        doc: "every write through the alert API and every refused attempt (bad token, outside the caller's grid)",
        columns: vec![
            col("ts", Timestamp, "when the API received it"),
            col("request_id", Varchar, "unique per request (returned to the client); VARCHAR: one value per request would grow a SYMBOL table forever"),
            col("supervisor", Symbol, "the authenticated supervisor, or - when authentication failed"),
            col("action", Symbol, "acknowledge, resolve, add_silence, expire_silence or denied"),
            col("target", Varchar, "the alert or silence acted on"),
            col("status", Long, "the HTTP status answered"),
            col("outcome", Symbol, "ok, unauthorized, forbidden, not_found, conflict, invalid or error"),
            col("method", Symbol, "HTTP method"),
            col("path", Varchar, "request path"),
            col("remote", Varchar, "client address"),
            col("detail", Varchar, "note, reason, or why it was refused"),
        ],
        dedup_keys: vec!["ts", "request_id"],
    });
    t.push(super::waste::table());
    t.push(super::cycles::table());
    t.push(super::risk::site_risk_table());
    t.push(super::risk::draws_table());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_table_names_are_checked_once_and_a_bad_one_still_fails_with_its_reason() {
        let names = TableNames::new("wj_");
        let table = readings_table_name(DeviceKind::WaterMonitor);
        assert_eq!(names.get(table), format!("wj_{table}"));
        assert_eq!(names.ilp(table).unwrap().as_ref(), format!("wj_{table}"));
        // Not one of ours: checked on the spot.
        assert!(names.ilp("plain").is_ok());
        assert!(names.ilp("bad/name").is_err());
        let bad = TableNames::new("a/b_");
        let Err(error) = bad.ilp(table) else {
            panic!("a prefix with '/' made a valid table name");
        };
        assert!(
            error.msg().contains("Table names can't contain a '/'"),
            "{}",
            error.msg()
        );
    }

    #[test]
    fn every_table_has_ts_first_and_keys_that_exist() {
        for t in tables() {
            assert_eq!(t.columns[0].name, "ts");
            assert_eq!(t.columns[0].ty, ColumnType::Timestamp);
            for k in &t.dedup_keys {
                assert!(t.column(k).is_some(), "{}: key {k}", t.name);
            }
        }
    }

    #[test]
    fn ddl_is_questdb_dialect_with_wal_and_dedup() {
        let ddl = tables()[0].ddl("x_");
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS x_water_quality (ts TIMESTAMP, "));
        assert!(ddl.contains("ph DOUBLE, ph_flag SYMBOL"));
        assert!(ddl.ends_with(
            "TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, device, period, stat);"
        ));
    }
}

#[cfg(test)]
mod flag_tests {
    use super::*;

    #[test]
    fn flag_columns_are_the_metric_name_with_a_flag_suffix() {
        for m in Metric::ALL {
            assert_eq!(flag_column(m), format!("{}_flag", m.name()));
        }
    }
}
