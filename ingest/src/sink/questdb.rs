//! The QuestDB writer: creates the tables by explicit DDL, encodes rows into ILP with
//! questdb-rs's `Buffer`, and posts them over HTTP itself ([`super::http`]), so every answer
//! is known by its status (only HTTP confirms a write).
//!
//! A batch goes out in requests of at most `questdb.batch_max_bytes` (a single row larger
//! than that goes alone). A request QuestDB
//! refuses (400) or finds too large (413) is split, around the line QuestDB names or in
//! halves, until the rows it refuses stand alone: those go to `quarantine` as
//! `store_rejected` with QuestDB's message, and every other row is written. So a row that
//! retrying cannot fix never holds the others back. (If QuestDB refuses the quarantine rows
//! too, it refuses everything: the write fails and the rows stay in the spool.) Unavailability (5xx, no connection) and
//! refused credentials fail the whole write: the caller keeps the rows (they are still in the
//! spool) and retries with back-off; rows already written are rewritten and DEDUP absorbs them.
//!
//! It is synchronous and owned by one task, which calls it through `spawn_blocking`.

use std::ops::Range;
use std::time::{Duration, Instant};

use questdb::ingress::ProtocolVersion;

use super::http::{HttpError, QuestDbHttp};
use super::ilp::IlpBody;
use super::rows::{QuarantineRow, Row};
use super::schema::{self, TableNames};
use crate::config::QuestDbConfig;

/// Why a write did not happen. The rows are kept by the caller and retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// QuestDB is unreachable, restarting or failing (connection refused, timeout, 5xx).
    #[error("QuestDB is unavailable: {0}")]
    Unavailable(String),
    /// QuestDB refused our credentials (401, 403) or the address is not its HTTP API: an
    /// operator must fix `questdb.conf`. Retried, and logged at ERROR.
    #[error("QuestDB refused weijian's requests (check questdb.conf): {0}")]
    Misconfigured(String),
    /// QuestDB refused the DDL that creates a table, or refused rows and their quarantine
    /// rows alike (nowhere to keep them but the spool). Retried, and logged at ERROR.
    #[error("QuestDB rejected: {0}")]
    Rejected(String),
}

impl WriteError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The `kind` label of `weijian_questdb_write_errors_total`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "unavailable",
            Self::Misconfigured(_) => "misconfigured",
            Self::Rejected(_) => "rejected",
        }
    }

    fn from_http(error: HttpError) -> Self {
        match error {
            HttpError::Unavailable(m) => Self::Unavailable(m),
            HttpError::Misconfigured(m) => Self::Misconfigured(m),
            // Only a write of a single row can be refused without being split; the writer
            // handles both before they reach here. A DDL refusal is `Rejected`.
            HttpError::Refused { message, .. } | HttpError::TooLarge(message) => {
                Self::Rejected(message)
            }
        }
    }
}

/// What a successful write did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// Rows QuestDB accepted.
    pub rows: usize,
    pub bytes: usize,
    pub duration: Duration,
    /// HTTP requests made, refused ones included.
    pub requests: u32,
    /// Requests QuestDB refused (400, 413) and that were split.
    pub refused_requests: u32,
    /// Rows QuestDB refused, now in `quarantine` as `store_rejected`.
    pub quarantined: usize,
    /// The batch indices of the rows QuestDB refused (now quarantined).
    pub refused: Vec<usize>,
}

/// Owns the HTTP client; creates the tables on first contact.
#[derive(Debug)]
pub struct QuestDbWriter {
    config: QuestDbConfig,
    tables: TableNames,
    http: Option<QuestDbHttp>,
    protocol: Option<ProtocolVersion>,
    tables_ready: bool,
    /// The encoding buffer of the last write, kept for the next (a batch of 10,000 rows is
    /// megabytes: growing a fresh buffer for each write copied it over and over), unless it
    /// grew past [`SPARE_MAX_BYTES`].
    spare: Option<Encoded>,
}

/// The largest encoding buffer kept between writes (product default): a batch of 10,000
/// readings fits; the rare bigger one (a daily risk run's 10,000 sites, ~8 MB) gives its
/// memory back instead of holding it for the life of the process.
const SPARE_MAX_BYTES: usize = 4 * 1024 * 1024;

impl QuestDbWriter {
    pub fn new(config: QuestDbConfig) -> Self {
        Self {
            tables: TableNames::new(&config.table_prefix),
            config,
            http: None,
            protocol: None,
            tables_ready: false,
            spare: None,
        }
    }

    fn http(&mut self) -> Result<&QuestDbHttp, WriteError> {
        if self.http.is_none() {
            let http = QuestDbHttp::new(&self.config.endpoint).map_err(WriteError::from_http)?;
            self.http = Some(http);
        }
        self.http
            .as_ref()
            .ok_or_else(|| WriteError::Misconfigured("no HTTP client".into()))
    }

    /// Creates every table (idempotent `CREATE TABLE IF NOT EXISTS`), brings tables of an
    /// earlier version up to date, and learns the ILP version to encode with.
    ///
    /// # Errors
    /// QuestDB unreachable, refusing our credentials, or refusing the DDL.
    pub fn ensure_tables(&mut self) -> Result<(), WriteError> {
        if self.tables_ready {
            return Ok(());
        }
        let prefix = self.config.table_prefix.clone();
        let http = self.http()?.clone();
        for table in schema::tables() {
            http.exec(&table.ddl(&prefix)).map_err(|e| match e {
                HttpError::Refused { message, .. } => {
                    WriteError::Rejected(format!("CREATE TABLE {prefix}{}: {message}", table.name))
                }
                other => WriteError::from_http(other),
            })?;
            for sql in schema::upgrades(&table, &prefix) {
                match http.exec(&sql) {
                    Ok(()) => {}
                    // Typically "column ... type is already 'VARCHAR'": nothing to upgrade.
                    Err(HttpError::Refused { message, .. }) => {
                        tracing::debug!(%sql, %message, "Table upgrade not applied.");
                    }
                    Err(other) => return Err(WriteError::from_http(other)),
                }
            }
        }
        self.protocol = Some(http.protocol_version().map_err(WriteError::from_http)?);
        tracing::info!(prefix = %self.config.table_prefix, "QuestDB tables are ready.");
        self.tables_ready = true;
        Ok(())
    }

    /// Checks that QuestDB answers and the tables exist (creating them if needed).
    ///
    /// # Errors
    /// QuestDB unreachable, refusing our credentials, or refusing the DDL.
    pub fn probe(&mut self) -> Result<(), WriteError> {
        if !self.tables_ready {
            return self.ensure_tables();
        }
        self.http()?.ping().map_err(WriteError::from_http)
    }

    /// Writes `rows` in requests of at most `batch_max_bytes` (one transaction per table and
    /// request in QuestDB); rows QuestDB refuses are isolated and quarantined.
    ///
    /// # Errors
    /// QuestDB unavailable or refusing our credentials (see [`WriteError`]): the caller keeps
    /// the rows and retries; a retry rewrites rows already written and DEDUP absorbs them.
    pub fn write(&mut self, rows: &[Row]) -> Result<Written, WriteError> {
        self.ensure_tables()?;
        let started = Instant::now();
        let mut written = Written::default();
        let mut refused = Vec::new();
        self.write_rows(rows, &mut written, &mut refused)?;
        if !refused.is_empty() {
            let first = refused.first().map(|r: &Refused| r.message.clone());
            tracing::warn!(
                rows = refused.len(),
                error = first.as_deref().unwrap_or_default(),
                "QuestDB refused rows; they are in the quarantine table as store_rejected and the rest of the batch is written."
            );
            let quarantine: Vec<Row> = refused
                .iter()
                .map(|r| {
                    Row::Quarantine(QuarantineRow::store_rejected(
                        &rows[r.row],
                        self.tables.get(rows[r.row].table()),
                        &r.line,
                        &r.message,
                    ))
                })
                .collect();
            let mut lost = Vec::new();
            let before = written.rows;
            self.write_rows(&quarantine, &mut written, &mut lost)?;
            if let Some(r) = lost.first() {
                // QuestDB refuses the quarantine table too, or everything (a proxy answering
                // 400): no place to keep the rows but the spool, so the write fails and is
                // retried (the rows written meanwhile are rewritten and deduplicated).
                return Err(WriteError::Rejected(format!(
                    "{} rows and their store_rejected quarantine rows were refused: {}",
                    lost.len(),
                    r.message
                )));
            }
            written.quarantined = written.rows - before;
            written.rows = before;
            written.refused = refused.iter().map(|r| r.row).collect();
        }
        written.duration = started.elapsed();
        Ok(written)
    }

    /// Encodes `rows` and sends them in requests bounded by bytes, isolating refused rows
    /// into `refused`.
    fn write_rows(
        &mut self,
        rows: &[Row],
        written: &mut Written,
        refused: &mut Vec<Refused>,
    ) -> Result<(), WriteError> {
        let protocol = self.protocol.unwrap_or(ProtocolVersion::V1);
        let max_bytes = self.config.batch_max_bytes.max(1);
        let mut encoded = match self.spare.take() {
            Some(mut spare) if spare.body.protocol() == protocol => {
                spare.clear();
                spare
            }
            _ => Encoded::new(protocol),
        };
        for (i, row) in rows.iter().enumerate() {
            if let Err(e) = encoded.push(row, i, &self.tables) {
                // An unencodable row is a bug in row building; skip it loudly rather than
                // block every other row behind it.
                tracing::error!(table = row.table(), error = %e, "Dropped a row questdb-rs cannot encode.");
                continue;
            }
            if encoded.bytes() > max_bytes && encoded.lines() > 1 {
                // This row does not fit: send the rows before it, and start the next request
                // with it.
                self.send(&encoded, encoded.lines() - 1, written, refused)?;
                encoded.clear();
                encoded.push(row, i, &self.tables).map_err(|e| {
                    WriteError::Rejected(format!("a row encoded once cannot be encoded again: {e}"))
                })?;
            }
        }
        if encoded.lines() > 0 {
            self.send(&encoded, encoded.lines(), written, refused)?;
        }
        self.spare = (encoded.body.capacity() <= SPARE_MAX_BYTES).then_some(encoded);
        Ok(())
    }

    /// Sends the first `lines` lines of `encoded` in one request, splitting a request
    /// QuestDB refuses until each refused line stands alone.
    fn send(
        &mut self,
        encoded: &Encoded,
        lines: usize,
        written: &mut Written,
        refused: &mut Vec<Refused>,
    ) -> Result<(), WriteError> {
        let http = self.http()?.clone();
        // Ranges of lines still to send, the next one last.
        let mut todo: Vec<Range<usize>> = Vec::new();
        todo.push(0..lines);
        while let Some(lines) = todo.pop() {
            let body = encoded.slice(lines.clone());
            written.requests += 1;
            let (message, line) = match http.write(body) {
                Ok(()) => {
                    written.rows += lines.len();
                    written.bytes += body.len();
                    continue;
                }
                Err(HttpError::Refused { message, line }) => (message, line),
                Err(HttpError::TooLarge(message)) => (message, None),
                Err(other) => return Err(WriteError::from_http(other)),
            };
            written.refused_requests += 1;
            if lines.len() == 1 {
                refused.push(Refused {
                    row: encoded.row_of(lines.start),
                    line: body.to_vec(),
                    message,
                });
                continue;
            }
            // Pushed in reverse: the first part is sent next.
            for part in split(lines, line).into_iter().rev() {
                todo.push(part);
            }
        }
        Ok(())
    }
}

/// A row QuestDB refused: its index in the batch, its ILP line and QuestDB's message.
#[derive(Debug)]
struct Refused {
    row: usize,
    line: Vec<u8>,
    message: String,
}

/// Splits a refused range of lines: around the 1-based `line` QuestDB named (before it, it
/// alone, after it), or in halves when it named none. Every part is smaller than `lines`, so
/// splitting ends with single lines.
fn split(lines: Range<usize>, line: Option<usize>) -> Vec<Range<usize>> {
    let len = lines.len();
    let parts = match line.filter(|l| (1..=len).contains(l)) {
        Some(l) => {
            let bad = lines.start + l - 1;
            vec![lines.start..bad, bad..bad + 1, bad + 1..lines.end]
        }
        None => {
            let mid = lines.start + len / 2;
            vec![lines.start..mid, mid..lines.end]
        }
    };
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// Rows encoded into one ILP body, with where each line starts, so any run of lines can be
/// sent without encoding again.
#[derive(Debug)]
struct Encoded {
    body: IlpBody,
    /// Byte offset of each line in `body`.
    starts: Vec<usize>,
    /// The batch index of each line's row.
    rows: Vec<usize>,
}

impl Encoded {
    fn new(protocol: ProtocolVersion) -> Self {
        Self {
            body: IlpBody::new(protocol),
            starts: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Empties it, keeping its memory.
    fn clear(&mut self) {
        self.body.clear();
        self.starts.clear();
        self.rows.clear();
    }

    /// Appends `row` (batch index `index`) as one line; on error the body is unchanged.
    fn push(&mut self, row: &Row, index: usize, tables: &TableNames) -> questdb::Result<()> {
        let start = self.body.len();
        self.body.push(row, tables)?;
        self.starts.push(start);
        self.rows.push(index);
        Ok(())
    }

    fn lines(&self) -> usize {
        self.starts.len()
    }

    fn bytes(&self) -> usize {
        self.body.len()
    }

    fn row_of(&self, line: usize) -> usize {
        self.rows[line]
    }

    /// The bytes of `lines`.
    fn slice(&self, lines: Range<usize>) -> &[u8] {
        let bytes = self.body.as_bytes();
        let start = self.starts.get(lines.start).copied().unwrap_or(bytes.len());
        let end = self.starts.get(lines.end).copied().unwrap_or(bytes.len());
        &bytes[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::Reason;
    use crate::sink::http::tests::serve_forever;
    use crate::sink::rows::QuarantineRow;

    /// A writer to a stand-in QuestDB that offers ILP v1 and v2, takes DDL and answers every
    /// write with `status` and `body`.
    fn writer_to_a_stand_in(status: u16, body: &'static str) -> QuestDbWriter {
        let addr = serve_forever(move |request| {
            if request.starts_with("POST /write") {
                (status, body.to_owned())
            } else if request.starts_with("GET /settings") {
                (
                    200,
                    r#"{"config":{"line.proto.support.versions":[1,2]}}"#.to_owned(),
                )
            } else {
                (200, r#"{"ddl":"OK"}"#.to_owned())
            }
        });
        let text = format!("[questdb]\nconf = \"http::addr={addr};request_timeout=3000;\"\n");
        let config = crate::config::Config::parse(
            &text,
            "t.toml",
            &std::collections::HashMap::<String, String>::new(),
        )
        .unwrap();
        QuestDbWriter::new(config.questdb.clone())
    }

    /// A quarantine row numbered `i` whose payload is `payload_bytes` long.
    fn quarantine_row(i: u64, payload_bytes: usize) -> Row {
        Row::Quarantine(QuarantineRow {
            received_at: alerting::model::Timestamp(i as i64 + 1),
            message_seq: i,
            topic: "t".into(),
            site: None,
            device: None,
            reason: Reason::MalformedJson,
            item: 0,
            detail: "d".into(),
            payload: vec![b'p'; payload_bytes],
        })
    }

    #[test]
    fn rows_refused_with_their_quarantine_rows_fail_the_write_and_stay_for_a_retry() {
        // A stand-in that refuses every write (a proxy answering 400, say).
        let mut writer =
            writer_to_a_stand_in(400, r#"{"code":"invalid","message":"refused","line":1}"#);
        let row = quarantine_row(0, 1);
        let result = writer.write(&[row.clone(), row]);
        assert!(
            matches!(&result, Err(WriteError::Rejected(m)) if m.contains("refused")),
            "{result:?}"
        );
        assert!(!result.unwrap_err().is_transient());
    }

    #[test]
    fn the_buffer_of_an_unusually_big_write_is_given_back_and_an_ordinary_one_kept() {
        let mut writer = writer_to_a_stand_in(204, "");
        let rows = |count: u64, payload_bytes: usize| -> Vec<Row> {
            (0..count)
                .map(|i| quarantine_row(i, payload_bytes))
                .collect()
        };
        // 6 MB in one request (under the 8 MiB request limit).
        writer.write(&rows(100, 60_000)).unwrap();
        assert!(writer.spare.is_none(), "a 6 MB buffer was kept");
        writer.write(&rows(100, 100)).unwrap();
        let kept = writer.spare.as_ref().map(|s| s.body.capacity());
        assert!(kept.is_some_and(|c| c <= SPARE_MAX_BYTES), "{kept:?}");
    }

    #[test]
    fn a_refused_range_splits_around_the_named_line_or_in_halves() {
        assert_eq!(split(0..10, Some(4)), vec![0..3, 3..4, 4..10]);
        assert_eq!(split(5..10, Some(1)), vec![5..6, 6..10]);
        assert_eq!(split(5..10, Some(5)), vec![5..9, 9..10]);
        assert_eq!(split(0..10, None), vec![0..5, 5..10]);
        // A line QuestDB names outside the request is ignored.
        assert_eq!(split(0..3, Some(9)), vec![0..1, 1..3]);
        assert_eq!(split(0..2, Some(0)), vec![0..1, 1..2]);
    }
}
