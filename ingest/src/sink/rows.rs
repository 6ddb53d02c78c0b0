//! Rows bound for QuestDB, and their encoding into an ILP buffer (questdb-rs).
//!
//! A row is built from validated input by [`crate::validate`]; the writer only encodes and
//! flushes. Column names come from [`super::schema`], so a row can never carry a column the
//! DDL does not declare (tested in `schema_and_rows_agree`).

use alerting::model::{DataFlag, DeviceKind, Id, Metric, Period, Stat, Timestamp};
use questdb::ingress::{Buffer, ColumnName, TimestampMicros};

use super::schema::{flag_column, readings_table_name, TableNames};
use crate::reject::Reason;

/// One row for one table.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Reading(ReadingRow),
    Event(EventRow),
    Status(StatusRow),
    Quarantine(QuarantineRow),
    Alert(Box<alerting::AlertEvent>),
    Action(Box<ActionRow>),
    Audit(Box<AuditRow>),
    /// Medical-waste traceability (`waste_bags`).
    WasteBag(Box<super::waste::WasteBagRow>),
    /// A sterilization cycle with its verdict (`sterilization_cycles`).
    Cycle(Box<alerting::sterilization::CycleRecord>),
    /// A site's risk index on one day (`site_risk`).
    SiteRisk(Box<super::risk::SiteRiskRow>),
    /// A 双随机 draw (`inspection_draws`).
    Draw(Box<super::risk::DrawRow>),
}

/// A delivery lifecycle record or a supervisor's action on an alert (`alert_actions`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub ts: Timestamp,
    pub alert_id: String,
    pub action: &'static str,
    pub rule: String,
    pub level: u8,
    pub site: String,
    pub grid: alerting::model::GridPath,
    /// The supervisor, or `system`.
    pub actor: String,
    pub tier: Option<&'static str>,
    pub detail: String,
}

/// One API write or refused attempt (`audit`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub ts: Timestamp,
    pub request_id: String,
    /// `-` when authentication failed.
    pub supervisor: String,
    pub action: &'static str,
    pub target: String,
    pub status: u16,
    pub outcome: &'static str,
    pub method: String,
    pub path: String,
    pub remote: String,
    pub detail: String,
}

/// A wide row of a readings table: the values one device reported at one time for one
/// statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingRow {
    pub kind: DeviceKind,
    pub ts: Timestamp,
    pub received_at: Timestamp,
    pub site: Id,
    pub device: Id,
    pub source: Source,
    pub period: Period,
    pub stat: Stat,
    pub seq: Option<u64>,
    pub cycle_id: Option<String>,
    pub values: Vec<(Metric, f64, DataFlag)>,
}

/// Which decoder produced a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Json,
    Hj212,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Hj212 => "hj212",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub ts: Timestamp,
    pub received_at: Timestamp,
    pub site: Id,
    pub device: Id,
    pub event_type: &'static str,
    pub reference: Option<String>,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusRow {
    pub ts: Timestamp,
    pub received_at: Timestamp,
    pub site: Id,
    pub device: Id,
    pub online: bool,
}

/// A rejected message, object, frame or value, with its raw bytes.
///
/// Its identity is (`received_at`, `message_seq`, `item`): the message's spool sequence
/// number is unique and the same on every replay, so two rejections never merge, however
/// alike and close in time they are, and a replayed one replaces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    pub received_at: Timestamp,
    /// The rejected message's spool sequence number ([`crate::message::Message::seq`]); for
    /// a `store_rejected` row, a hash of the refused ILP line (the same row, the same hash).
    pub message_seq: u64,
    pub topic: String,
    /// Taken from the topic, so attacker-chosen: stored as VARCHAR, never as a SYMBOL.
    pub site: Option<String>,
    pub device: Option<String>,
    pub reason: Reason,
    pub item: u32,
    pub detail: String,
    pub payload: Vec<u8>,
}

/// At most this much of a rejected payload is stored (an oversize payload is the usual case).
pub const QUARANTINE_PAYLOAD_MAX: usize = 64 * 1024;

impl Row {
    /// The unprefixed table this row goes to.
    pub const fn table(&self) -> &'static str {
        match self {
            Self::Reading(r) => readings_table_name(r.kind),
            Self::Event(_) => "events",
            Self::Status(_) => "device_status",
            Self::Quarantine(_) => "quarantine",
            Self::Alert(_) => "alerts",
            Self::Action(_) => "alert_actions",
            Self::Audit(_) => "audit",
            Self::WasteBag(_) => "waste_bags",
            Self::Cycle(_) => super::cycles::TABLE,
            Self::SiteRisk(_) => super::risk::SITE_RISK,
            Self::Draw(_) => super::risk::DRAWS,
        }
    }

    /// Appends this row to an ILP buffer, table names prefixed with `prefix`.
    ///
    /// # Errors
    /// What questdb-rs refuses (an invalid name or timestamp); the buffer is then left with a
    /// partial row, so callers set a marker first and rewind on error.
    pub fn encode(&self, buf: &mut Buffer, tables: &TableNames) -> questdb::Result<()> {
        buf.table(tables.ilp(self.table())?)?;
        match self {
            // The hot path (every reading): its column names are constants, checked once by
            // a test (`reading_column_names_are_valid_ilp_names`) instead of on every row.
            Self::Reading(r) => {
                buf.symbol(known("site"), &*r.site)?
                    .symbol(known("device"), &*r.device)?
                    .symbol(known("source"), r.source.as_str())?
                    .symbol(known("period"), r.period.as_str())?
                    .symbol(known("stat"), r.stat.as_str())?;
                if let Some(c) = &r.cycle_id {
                    buf.symbol(known("cycle_id"), c.as_str())?;
                }
                if r.kind == DeviceKind::WaterMonitor {
                    for (m, _, flag) in &r.values {
                        buf.symbol(known(flag_column(*m)), flag.as_str())?;
                    }
                }
                buf.column_ts(known("received_at"), TimestampMicros::new(r.received_at.0))?;
                if let Some(seq) = r.seq {
                    buf.column_i64(known("seq"), i64::try_from(seq).unwrap_or(i64::MAX))?;
                }
                for (m, v, _) in &r.values {
                    buf.column_f64(known(m.name()), *v)?;
                }
                buf.at(TimestampMicros::new(r.ts.0))
            }
            Self::Event(e) => {
                buf.symbol("site", &*e.site)?
                    .symbol("device", &*e.device)?
                    .symbol("event_type", e.event_type)?;
                if let Some(r) = &e.reference {
                    buf.symbol("ref_id", r.as_str())?;
                }
                buf.column_ts("received_at", TimestampMicros::new(e.received_at.0))?
                    .column_str("data", e.data.as_str())?
                    .at(TimestampMicros::new(e.ts.0))
            }
            Self::Status(s) => buf
                .symbol("site", &*s.site)?
                .symbol("device", &*s.device)?
                .column_ts("received_at", TimestampMicros::new(s.received_at.0))?
                .column_bool("online", s.online)?
                .at(TimestampMicros::new(s.ts.0)),
            Self::Quarantine(q) => {
                let (payload, encoding) = payload_text(&q.payload);
                buf.symbol("reason", q.reason.code())?
                    .symbol("encoding", encoding)?;
                if let Some(s) = &q.site {
                    buf.column_str("site", s.as_str())?;
                }
                if let Some(d) = &q.device {
                    buf.column_str("device", d.as_str())?;
                }
                buf.column_i64("message_seq", seq_column(q.message_seq))?
                    .column_str("topic", q.topic.as_str())?
                    .column_i64("item", i64::from(q.item))?
                    .column_str("detail", q.detail.as_str())?
                    .column_str("payload", payload.as_str())?
                    .at(TimestampMicros::new(q.received_at.0))
            }
            Self::Alert(a) => {
                buf.symbol("alert_id", a.alert_id.as_str())?
                    .symbol("rule", a.rule.as_str())?
                    .symbol("kind", a.kind.as_str())?
                    .symbol("site", &*a.site)?
                    .symbol("device", &*a.device)?;
                if let Some(subject) = &a.subject {
                    buf.symbol("subject", subject.as_str())?;
                }
                buf.symbol("district", a.grid.district.as_str())?
                    .symbol("street", a.grid.street.as_str())?
                    .symbol("community", a.grid.community.as_str())?
                    .column_i64("level", i64::from(a.level.number()))?
                    .column_ts("started_at", TimestampMicros::new(a.started_at.0))?
                    .column_str("reason", a.reason.as_str())?
                    .column_str(
                        "evidence",
                        alerting::wire::evidence_json(a).to_string().as_str(),
                    )?
                    .column_str("summary_zh", a.summary_zh.as_str())?
                    .column_str("summary_en", a.summary_en.as_str())?
                    .at(TimestampMicros::new(a.ts.0))
            }
            Self::Action(a) => {
                buf.symbol("alert_id", a.alert_id.as_str())?
                    .symbol("action", a.action)?
                    .symbol("rule", a.rule.as_str())?
                    .symbol("site", a.site.as_str())?
                    .symbol("district", a.grid.district.as_str())?
                    .symbol("street", a.grid.street.as_str())?
                    .symbol("community", a.grid.community.as_str())?
                    .symbol("actor", a.actor.as_str())?;
                if let Some(tier) = a.tier {
                    buf.symbol("tier", tier)?;
                }
                buf.column_i64("level", i64::from(a.level))?
                    .column_str("detail", a.detail.as_str())?
                    .at(TimestampMicros::new(a.ts.0))
            }
            Self::Audit(a) => buf
                .symbol("supervisor", a.supervisor.as_str())?
                .symbol("action", a.action)?
                .symbol("outcome", a.outcome)?
                .symbol("method", a.method.as_str())?
                .column_str("request_id", a.request_id.as_str())?
                .column_str("target", a.target.as_str())?
                .column_i64("status", i64::from(a.status))?
                .column_str("path", a.path.as_str())?
                .column_str("remote", a.remote.as_str())?
                .column_str("detail", a.detail.as_str())?
                .at(TimestampMicros::new(a.ts.0)),
            Self::WasteBag(w) => super::waste::encode(w, buf),
            Self::Cycle(c) => super::cycles::encode(c, buf),
            Self::SiteRisk(r) => super::risk::encode_site_risk(r, buf),
            Self::Draw(d) => super::risk::encode_draw(d, buf),
        }
    }
}

/// A column name known at compile time (a reading column: metric names, their flag columns,
/// the tags), passed to questdb-rs without checking it again on every row; every such name is
/// checked by `reading_column_names_are_valid_ilp_names`.
fn known(name: &'static str) -> ColumnName<'static> {
    ColumnName::new_unchecked(name)
}

/// A sequence number as a LONG (they never reach 2^63; saturate rather than wrap).
fn seq_column(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl Row {
    /// The row's designated timestamp (`ts`).
    pub fn ts(&self) -> Timestamp {
        match self {
            Self::Reading(r) => r.ts,
            Self::Event(e) => e.ts,
            Self::Status(s) => s.ts,
            Self::Quarantine(q) => q.received_at,
            Self::Alert(a) => a.ts,
            Self::Action(a) => a.ts,
            Self::Audit(a) => a.ts,
            Self::WasteBag(w) => w.ts,
            Self::Cycle(c) => c.started_at,
            Self::SiteRisk(r) => r.ts,
            Self::Draw(d) => d.ts,
        }
    }

    /// When weijian received the message the row came from, for rows made of one message.
    pub fn received_at(&self) -> Option<Timestamp> {
        match self {
            Self::Reading(r) => Some(r.received_at),
            Self::Event(e) => Some(e.received_at),
            Self::Status(s) => Some(s.received_at),
            Self::Quarantine(q) => Some(q.received_at),
            _ => None,
        }
    }

    /// The site and device the row is about, where it has them.
    fn site_and_device(&self) -> (Option<String>, Option<String>) {
        match self {
            Self::Reading(r) => (Some(r.site.to_string()), Some(r.device.to_string())),
            Self::Event(e) => (Some(e.site.to_string()), Some(e.device.to_string())),
            Self::Status(s) => (Some(s.site.to_string()), Some(s.device.to_string())),
            Self::Quarantine(q) => (q.site.clone(), q.device.clone()),
            Self::Alert(a) => (Some(a.site.to_string()), Some(a.device.to_string())),
            Self::WasteBag(w) => (Some(w.site.to_string()), Some(w.device.to_string())),
            Self::Cycle(c) => (Some(c.site.to_string()), Some(c.device.to_string())),
            _ => (None, None),
        }
    }
}

impl QuarantineRow {
    /// The quarantine row of a row QuestDB refused (`store_rejected`): QuestDB's message as
    /// the detail, the row itself as the payload. `line` is the row's ILP encoding, whose hash
    /// is the identity: the same refused row on a replay gives the same quarantine row.
    pub fn store_rejected(row: &Row, table: &str, line: &[u8], message: &str) -> QuarantineRow {
        let (site, device) = row.site_and_device();
        QuarantineRow {
            received_at: row.received_at().unwrap_or_else(|| row.ts()),
            message_seq: fnv1a_63(line),
            topic: table.to_owned(),
            site,
            device,
            reason: Reason::StoreRejected,
            item: 0,
            detail: format!("QuestDB refused this row of table {table}: {message}"),
            payload: format!("{row:?}").into_bytes(),
        }
    }
}

/// FNV-1a (64 bits) of `bytes`, cut to 63 bits so it fits a LONG: a stable identity for a
/// refused line (not a security measure).
fn fnv1a_63(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash >> 1
}

/// The stored form of a raw payload: UTF-8 text as is, anything else as hex; both cut at
/// [`QUARANTINE_PAYLOAD_MAX`] bytes of the original.
pub fn payload_text(raw: &[u8]) -> (String, &'static str) {
    let cut = &raw[..raw.len().min(QUARANTINE_PAYLOAD_MAX)];
    match std::str::from_utf8(cut) {
        Ok(s) => (s.to_string(), "utf8"),
        // A cut inside a multi-byte character is still text up to the cut.
        Err(e) if e.error_len().is_none() && raw.len() > QUARANTINE_PAYLOAD_MAX => (
            String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned(),
            "utf8",
        ),
        Err(_) => {
            let mut hex = String::with_capacity(cut.len() * 2);
            for b in cut {
                hex.push_str(&format!("{b:02x}"));
            }
            (hex, "hex")
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sink::schema::{tables, ColumnType};
    use questdb::ingress::ProtocolVersion;

    pub(crate) fn sample_rows() -> Vec<Row> {
        let mut rows = Vec::new();
        for kind in DeviceKind::ALL {
            rows.push(Row::Reading(ReadingRow {
                kind,
                ts: Timestamp(1_000_000),
                received_at: Timestamp(2_000_000),
                site: "s".into(),
                device: "d".into(),
                source: Source::Json,
                period: Period::Instant,
                stat: Stat::Value,
                seq: Some(7),
                cycle_id: (kind == DeviceKind::Autoclave).then(|| "c1".to_string()),
                values: Metric::of_kind(kind)
                    .map(|m| (m, 1.5, DataFlag::N))
                    .collect(),
            }));
        }
        rows.push(Row::Event(EventRow {
            ts: Timestamp(1),
            received_at: Timestamp(2),
            site: "s".into(),
            device: "d".into(),
            event_type: "bag_in",
            reference: Some("B1".into()),
            data: "{\"a\":\"b c\"}".into(),
        }));
        rows.push(Row::Status(StatusRow {
            ts: Timestamp(1),
            received_at: Timestamp(2),
            site: "s".into(),
            device: "d".into(),
            online: true,
        }));
        rows.push(Row::Quarantine(QuarantineRow {
            received_at: Timestamp(1),
            message_seq: 42,
            topic: "t/x".into(),
            site: Some("s".into()),
            device: None,
            reason: Reason::MalformedJson,
            item: 0,
            detail: "bad \"quote\", comma".into(),
            payload: vec![0xff, 0x00],
        }));
        let grid = alerting::model::GridPath {
            district: "区".into(),
            street: "街道".into(),
            community: "社区".into(),
        };
        rows.push(Row::Action(Box::new(ActionRow {
            ts: Timestamp(3),
            alert_id: "W2/s/d/1".into(),
            action: "escalated",
            rule: "W2".into(),
            level: 2,
            site: "s".into(),
            grid,
            actor: "system".into(),
            tier: Some("street"),
            detail: "community -> street".into(),
        })));
        rows.push(Row::Audit(Box::new(AuditRow {
            ts: Timestamp(4),
            request_id: "r1-1".into(),
            supervisor: "-".into(),
            action: "denied",
            target: String::new(),
            status: 401,
            outcome: "unauthorized",
            method: "GET".into(),
            path: "/api/v1/alerts".into(),
            remote: "127.0.0.1:1".into(),
            detail: "bad token".into(),
        })));
        for stage in [
            super::super::waste::Stage::In,
            super::super::waste::Stage::HandedOver,
        ] {
            let handed = stage == super::super::waste::Stage::HandedOver;
            rows.push(Row::WasteBag(Box::new(super::super::waste::WasteBagRow {
                ts: Timestamp(1),
                site: "s".into(),
                device: "d".into(),
                bag_id: "B-1".into(),
                stage,
                category: (!handed).then_some("sharps"),
                department: (!handed).then(|| "内科".into()),
                weight_kg: (!handed).then_some(1.25),
                manifest_id: handed.then(|| "MF-1".into()),
                carrier: handed.then(|| "C1".into()),
                manifest_weight_kg: handed.then_some(10.5),
                manifest_bags: handed.then_some(8),
            })));
        }
        rows.push(Row::Cycle(Box::new(alerting::sterilization::CycleRecord {
            site: "s".into(),
            device: "d".into(),
            cycle_id: "c1".into(),
            program: alerting::sterilization::Program::Prevac134,
            implant_load: false,
            started_at: Timestamp(5),
            ended_at: Some(Timestamp(6)),
            device_verdict: Some(alerting::sterilization::DeviceVerdict::Pass),
            verdict: alerting::sterilization::Verdict::Fail,
            reasons: vec![alerting::sterilization::Reason::NoPressure],
            set_c: Some(134.0),
            min_hold_secs: Some(240),
            hold_secs: Some(250.0),
            hold_min_temp_c: Some(134.2),
            hold_max_temp_c: Some(135.0),
            worst_dev_k: Some(-0.4),
            max_gap_secs: Some(1.0),
            samples: 600,
            late_samples: 0,
            bd_pass: Some(true),
            bi: Some(("bi1".into(), false)),
        })));
        rows.extend(super::super::risk::sample_rows());
        rows
    }

    /// Parses the tag and field names of one ILP v1 line (enough to check names and kinds).
    fn names_and_kinds(line: &str) -> (String, Vec<(String, char)>) {
        let (head, rest) = line.split_once(' ').unwrap();
        let mut parts = head.split(',');
        let table = parts.next().unwrap().to_string();
        let mut cols: Vec<(String, char)> = parts
            .map(|kv| (kv.split_once('=').unwrap().0.to_string(), 'S'))
            .collect();
        // fields: split on commas outside quotes
        let fields_end = rest.rfind(' ').unwrap();
        let fields = &rest[..fields_end];
        let mut in_str = false;
        let mut start = 0;
        let bytes = fields.as_bytes();
        let mut i = 0;
        while i <= bytes.len() {
            let at_end = i == bytes.len();
            if !at_end && bytes[i] == b'\\' {
                i += 2;
                continue;
            }
            if !at_end && bytes[i] == b'"' {
                in_str = !in_str;
            }
            if at_end || (bytes[i] == b',' && !in_str) {
                let kv = &fields[start..i];
                let (k, v) = kv.split_once('=').unwrap();
                let kind = if v.starts_with('"') {
                    'V'
                } else if v.ends_with('t') && v != "t" {
                    'T'
                } else if v.ends_with('i') {
                    'L'
                } else if v == "t" || v == "f" {
                    'B'
                } else {
                    'D'
                };
                cols.push((k.to_string(), kind));
                start = i + 1;
            }
            i += 1;
        }
        (table, cols)
    }

    #[test]
    fn schema_and_rows_agree() {
        let tables = tables();
        let mut buf = Buffer::new(ProtocolVersion::V1);
        let rows = sample_rows();
        for row in &rows {
            row.encode(&mut buf, &TableNames::new("")).unwrap();
        }
        let text = std::str::from_utf8(buf.as_bytes()).unwrap();
        assert_eq!(text.lines().count(), rows.len());
        for line in text.lines() {
            let (table, cols) = names_and_kinds(line);
            let t = tables.iter().find(|t| t.name == table).unwrap();
            for (name, kind) in cols {
                let c = t
                    .column(&name)
                    .unwrap_or_else(|| panic!("{table}.{name} not in DDL"));
                let expected = match c.ty {
                    ColumnType::Symbol => 'S',
                    ColumnType::Varchar => 'V',
                    ColumnType::Timestamp => 'T',
                    ColumnType::Long => 'L',
                    ColumnType::Boolean => 'B',
                    ColumnType::Double => 'D',
                };
                assert_eq!(kind, expected, "{table}.{name} in {line}");
            }
        }
    }

    /// Reading rows pass their column names unchecked (`known`): every column a reading row
    /// can carry (those of the readings tables' DDL, which `schema_and_rows_agree` holds rows
    /// to) must be a name questdb-rs accepts.
    #[test]
    fn reading_column_names_are_valid_ilp_names() {
        for kind in DeviceKind::ALL {
            let table = tables()
                .into_iter()
                .find(|t| t.name == crate::sink::schema::readings_table_name(kind))
                .unwrap();
            for c in &table.columns {
                assert!(
                    questdb::ingress::ColumnName::new(&c.name).is_ok(),
                    "{}.{}",
                    table.name,
                    c.name
                );
            }
        }
    }

    #[test]
    fn non_utf8_payloads_are_stored_as_hex() {
        assert_eq!(
            payload_text(b"{\"a\":1}"),
            ("{\"a\":1}".to_string(), "utf8")
        );
        assert_eq!(payload_text(&[0xff, 0x01]), ("ff01".to_string(), "hex"));
        let big = vec![b'x'; QUARANTINE_PAYLOAD_MAX + 10];
        assert_eq!(payload_text(&big).0.len(), QUARANTINE_PAYLOAD_MAX);
    }
}
