//! An ILP request body being built: reading rows (the hot path: every reading of every
//! device) are written here directly, byte for byte what questdb-rs's `Buffer` writes for
//! them; every other row goes through questdb-rs and is appended.
//!
//! Why not questdb-rs for readings too: its `Buffer` checks and escapes every column name on
//! every row, a byte at a time, and that was an eighth of weijian's CPU in arrays of 100
//! readings (BENCHMARKS.md). A reading's column names are constants, written here without
//! escaping: `reading_keys_need_no_escaping` checks that none of them has a character ILP
//! escapes, and the proptest below checks that both encoders give the same bytes (and the
//! same refusals) for any reading row, in every protocol version.

use alerting::model::DeviceKind;
use questdb::ingress::{Buffer, ProtocolVersion};
use questdb::ErrorCode;

use super::rows::{ReadingRow, Row};
use super::schema::{flag_column, TableNames};

/// questdb-rs's type byte for a binary double (ILP v2 and later).
const DOUBLE_BINARY_FORMAT_TYPE: u8 = 16;

/// questdb-rs's default longest table or column name (`Buffer::new`).
const MAX_NAME_LEN: usize = 127;

/// Lines of ILP for one request.
#[derive(Debug)]
pub struct IlpBody {
    protocol: ProtocolVersion,
    bytes: Vec<u8>,
    /// questdb-rs's buffer for rows other than readings, emptied after each.
    other: Buffer,
}

impl IlpBody {
    /// An empty body for `protocol` (the version QuestDB's `/settings` offers).
    pub fn new(protocol: ProtocolVersion) -> Self {
        Self {
            protocol,
            bytes: Vec::new(),
            other: Buffer::new(protocol),
        }
    }

    pub fn protocol(&self) -> ProtocolVersion {
        self.protocol
    }

    /// Empties it, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.other.clear();
    }

    /// The bytes it holds room for.
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends `row` as one line.
    ///
    /// # Errors
    /// What questdb-rs refuses for this row (an invalid name, a negative timestamp); the body
    /// is then unchanged.
    pub fn push(&mut self, row: &Row, tables: &TableNames) -> questdb::Result<()> {
        let start = self.bytes.len();
        let result = match row {
            Row::Reading(r) => reading_line(&mut self.bytes, self.protocol, tables, r),
            other => {
                self.other.clear();
                let result = other.encode(&mut self.other, tables);
                if result.is_ok() {
                    self.bytes.extend_from_slice(self.other.as_bytes());
                }
                result
            }
        };
        if result.is_err() {
            self.bytes.truncate(start);
        }
        result
    }
}

/// Writes one reading row as questdb-rs's `Row::encode` would (see `rows.rs`: the same
/// columns in the same order).
fn reading_line(
    out: &mut Vec<u8>,
    protocol: ProtocolVersion,
    tables: &TableNames,
    r: &ReadingRow,
) -> questdb::Result<()> {
    // Checked in questdb-rs's order (the table name, then the timestamp), before anything is
    // written.
    let table = tables.ilp(super::schema::readings_table_name(r.kind))?;
    let table: &str = table.as_ref();
    if table.len() > MAX_NAME_LEN {
        return Err(questdb::Error::new(
            ErrorCode::InvalidName,
            format!("Bad name: {table:?}: Too long (max {MAX_NAME_LEN} characters)"),
        ));
    }
    let at = designated_timestamp(protocol, r.ts.0)?;
    escaped(out, table);
    symbol(out, ",site=", &r.site);
    symbol(out, ",device=", &r.device);
    // The enumerations' names are plain words: nothing to look for (a tenth of the line's
    // cost in arrays was looking).
    for (key, value) in [
        (",source=", r.source.as_str()),
        (",period=", r.period.as_str()),
        (",stat=", r.stat.as_str()),
    ] {
        out.extend_from_slice(key.as_bytes());
        word(out, value);
    }
    if let Some(c) = &r.cycle_id {
        symbol(out, ",cycle_id=", c);
    }
    if r.kind == DeviceKind::WaterMonitor {
        for (m, _, flag) in &r.values {
            out.push(b',');
            word(out, flag_column(*m));
            out.push(b'=');
            word(out, flag.as_str());
        }
    }
    // The first field follows the symbols after a space, the others after a comma.
    out.extend_from_slice(b" received_at=");
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(digits.format(r.received_at.0).as_bytes());
    out.push(b't');
    if let Some(seq) = r.seq {
        out.extend_from_slice(b",seq=");
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        out.extend_from_slice(digits.format(seq).as_bytes());
        out.push(b'i');
    }
    for (m, v, _) in &r.values {
        out.push(b',');
        out.extend_from_slice(m.name().as_bytes());
        out.push(b'=');
        double(out, protocol, *v);
    }
    out.push(b' ');
    out.extend_from_slice(digits.format(at).as_bytes());
    out.extend_from_slice(match protocol {
        ProtocolVersion::V1 => b"\n".as_slice(),
        _ => b"t\n".as_slice(),
    });
    Ok(())
}

/// The designated timestamp as questdb-rs writes it: nanoseconds in v1, microseconds (with a
/// `t`) after; refused when negative or, in v1, beyond what nanoseconds hold.
fn designated_timestamp(protocol: ProtocolVersion, micros: i64) -> questdb::Result<i64> {
    let number = match protocol {
        ProtocolVersion::V1 => micros.checked_mul(1_000).ok_or_else(|| {
            questdb::Error::new(
                ErrorCode::InvalidTimestamp,
                format!("Timestamp {micros} is out of range for nanoseconds"),
            )
        })?,
        _ => micros,
    };
    if number < 0 {
        return Err(questdb::Error::new(
            ErrorCode::InvalidTimestamp,
            format!("Timestamp {number} is negative. It must be >= 0."),
        ));
    }
    Ok(number)
}

/// `key` (with its leading comma and trailing `=`, no character to escape) and `value`.
fn symbol(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(key.as_bytes());
    escaped(out, value);
}

/// A fixed name of this crate or of `alerting` (a column, an enumeration's value): no
/// character ILP escapes (checked in debug builds, where every test runs).
fn word(out: &mut Vec<u8>, word: &'static str) {
    debug_assert!(!word.bytes().any(must_escape), "{word:?} needs escaping");
    out.extend_from_slice(word.as_bytes());
}

fn must_escape(b: u8) -> bool {
    matches!(b, b' ' | b',' | b'=' | b'\n' | b'\r' | b'\\')
}

/// A name or symbol value, with ILP's backslash before ` `, `,`, `=`, `\`, CR and LF.
fn escaped(out: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(must_escape) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for b in s.bytes() {
        if must_escape(b) {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// A DOUBLE field's value: shortest round-trip text in v1 (`NaN`, `Infinity`, `-Infinity`
/// for the others), eight little-endian bytes after `=` and a type byte after.
fn double(out: &mut Vec<u8>, protocol: ProtocolVersion, v: f64) {
    match protocol {
        ProtocolVersion::V1 if v.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        }
        ProtocolVersion::V1 => out.extend_from_slice(if v.is_nan() {
            b"NaN".as_slice()
        } else if v.is_sign_negative() {
            b"-Infinity".as_slice()
        } else {
            b"Infinity".as_slice()
        }),
        _ => {
            out.push(b'=');
            out.push(DOUBLE_BINARY_FORMAT_TYPE);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use alerting::model::{DataFlag, Metric, Period, Stat, Timestamp};
    use proptest::prelude::*;

    use super::*;
    use crate::sink::rows::Source;

    /// Makes every table name longer than questdb-rs accepts.
    const LONG_PREFIX: &str = "p_________________________________________________________________________________________________________________________________";

    const VERSIONS: [ProtocolVersion; 3] = [
        ProtocolVersion::V1,
        ProtocolVersion::V2,
        ProtocolVersion::V3,
    ];

    /// What questdb-rs writes for `row`, or its refusal.
    fn by_questdb_rs(
        row: &Row,
        protocol: ProtocolVersion,
        tables: &TableNames,
    ) -> Result<Vec<u8>, ErrorCode> {
        let mut buf = Buffer::new(protocol);
        row.encode(&mut buf, tables).map_err(|e| e.code())?;
        Ok(buf.as_bytes().to_vec())
    }

    fn by_body(body: &mut IlpBody, row: &Row, tables: &TableNames) -> Result<Vec<u8>, ErrorCode> {
        let before = body.len();
        match body.push(row, tables) {
            Ok(()) => Ok(body.as_bytes()[before..].to_vec()),
            Err(e) => {
                assert_eq!(
                    body.len(),
                    before,
                    "a refused row leaves the body unchanged"
                );
                Err(e.code())
            }
        }
    }

    #[test]
    fn reading_keys_need_no_escaping() {
        let keys = DeviceKind::ALL
            .into_iter()
            .flat_map(Metric::of_kind)
            .flat_map(|m| [m.name(), flag_column(m)])
            .chain(["site", "device", "source", "period", "stat", "cycle_id"])
            .chain(["received_at", "seq"]);
        for key in keys {
            assert!(!key.bytes().any(must_escape), "{key} needs escaping");
        }
    }

    fn nasty_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop::sample::select(vec![
                ' ', ',', '=', '\n', '\r', '\\', '"', 'a', 'Z', '0', '区', '_', '-',
            ]),
            1..10,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            -1e6..1e6f64,
        ]
    }

    prop_compose! {
        fn reading_row()(
            kind in prop::sample::select(DeviceKind::ALL.to_vec()),
            ts in prop_oneof![any::<i64>(), 0..4_000_000_000_000_000i64, Just(i64::MAX / 1000 + 1)],
            received_at in any::<i64>(),
            site in nasty_text(),
            device in nasty_text(),
            hj212 in any::<bool>(),
            period in prop::sample::select(vec![Period::Instant, Period::Minute, Period::Hour, Period::Day]),
            stat in prop::sample::select(vec![Stat::Value, Stat::Min, Stat::Avg, Stat::Max, Stat::Cou]),
            seq in proptest::option::of(any::<u64>()),
            cycle_id in proptest::option::of(nasty_text()),
            values in proptest::collection::vec((any_value(), prop::sample::select(vec![DataFlag::N, DataFlag::F, DataFlag::M, DataFlag::S, DataFlag::D, DataFlag::C, DataFlag::T, DataFlag::B, DataFlag::P])), 0..8),
        ) -> ReadingRow {
            let metrics: Vec<Metric> = Metric::of_kind(kind).collect();
            ReadingRow {
                kind,
                ts: Timestamp(ts),
                received_at: Timestamp(received_at),
                site: site.as_str().into(),
                device: device.as_str().into(),
                source: if hj212 { Source::Hj212 } else { Source::Json },
                period,
                stat,
                seq,
                cycle_id,
                values: values
                    .into_iter()
                    .zip(metrics)
                    .map(|((v, flag), m)| (m, v, flag))
                    .collect(),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn readings_are_written_as_questdb_rs_writes_them(
            row in reading_row(),
            prefix in prop::sample::select(vec!["", "wj_", "bad prefix,", "t\\", LONG_PREFIX]),
        ) {
            let tables = TableNames::new(prefix);
            let row = Row::Reading(row);
            for protocol in VERSIONS {
                let mut body = IlpBody::new(protocol);
                prop_assert_eq!(
                    by_body(&mut body, &row, &tables),
                    by_questdb_rs(&row, protocol, &tables),
                    "{:?}", protocol
                );
            }
        }
    }

    #[test]
    fn other_rows_and_several_lines_are_appended_in_order() {
        let tables = TableNames::new("p_");
        let rows = crate::sink::rows::tests::sample_rows();
        for protocol in VERSIONS {
            let mut body = IlpBody::new(protocol);
            let mut expected = Buffer::new(protocol);
            for row in &rows {
                body.push(row, &tables).unwrap();
                row.encode(&mut expected, &tables).unwrap();
            }
            assert_eq!(body.as_bytes(), expected.as_bytes(), "{protocol:?}");
            assert!(rows.len() > DeviceKind::ALL.len(), "not only readings");
            body.clear();
            assert!(body.is_empty());
        }
    }
}
