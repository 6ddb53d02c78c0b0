//! The QuestDB writer: creates the tables by explicit DDL, then encodes rows into ILP and
//! flushes them over HTTP with questdb-rs (only HTTP confirms a write).
//!
//! It is synchronous (questdb-rs flushes block) and owned by one task, which calls it through
//! `spawn_blocking`. It never drops rows: a failed write returns an error and the caller keeps
//! the batch (it is still in the spool) and retries with back-off.

use std::time::{Duration, Instant};

use questdb::ingress::{Buffer, Sender};
use questdb::ErrorCode;

use super::rows::Row;
use super::schema;
use crate::config::QuestDbConfig;

/// Why a write did not happen. Either way the rows are kept by the caller and retried.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// QuestDB is unreachable, restarting or failing (connection refused, timeout, 5xx).
    #[error("QuestDB is unavailable: {0}")]
    Unavailable(String),
    /// QuestDB refused the rows (4xx): a schema conflict or a bug; retried in case an operator
    /// fixes the table, and reported at ERROR.
    #[error("QuestDB rejected the rows: {0}")]
    Rejected(String),
}

impl WriteError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    fn from_questdb(e: &questdb::Error) -> Self {
        match e.code() {
            ErrorCode::CouldNotResolveAddr
            | ErrorCode::SocketError
            | ErrorCode::ConnectTimeout
            | ErrorCode::ProtocolVersionError
            | ErrorCode::FailoverRetry
            | ErrorCode::TlsError => Self::Unavailable(e.msg().to_string()),
            ErrorCode::ServerFlushError if looks_like_server_fault(e.msg()) => {
                Self::Unavailable(e.msg().to_string())
            }
            _ => Self::Rejected(e.msg().to_string()),
        }
    }
}

/// questdb-rs reports 4xx and 5xx both as `ServerFlushError`; QuestDB's 4xx carry a JSON
/// error with a `code` (e.g. `invalid`), shown by questdb-rs as `[... code: ...]`.
fn looks_like_server_fault(msg: &str) -> bool {
    !msg.contains("code: ")
}

/// What a successful write did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    pub rows: usize,
    pub bytes: usize,
    pub duration: Duration,
}

/// Owns the questdb-rs sender; rebuilds it after failures.
#[derive(Debug)]
pub struct QuestDbWriter {
    config: QuestDbConfig,
    tables: super::schema::TableNames,
    sender: Option<Sender>,
    tables_ready: bool,
}

impl QuestDbWriter {
    pub fn new(config: QuestDbConfig) -> Self {
        Self {
            tables: super::schema::TableNames::new(&config.table_prefix),
            config,
            sender: None,
            tables_ready: false,
        }
    }

    /// The questdb-rs configuration with our retry policy: questdb-rs retries only briefly,
    /// the caller's loop does the long back-off (so shutdown is never stuck in a flush).
    fn sender_conf(&self) -> String {
        let mut conf = self.config.endpoint.conf().to_owned();
        if !conf.ends_with(';') {
            conf.push(';');
        }
        if !conf.contains("retry_timeout=") {
            conf.push_str("retry_timeout=500;");
        }
        if !conf.contains("request_timeout=") {
            conf.push_str("request_timeout=5000;");
        }
        conf
    }

    /// Creates every table (idempotent `CREATE TABLE IF NOT EXISTS`).
    ///
    /// # Errors
    /// QuestDB unreachable or refusing the DDL.
    pub fn ensure_tables(&mut self) -> Result<(), WriteError> {
        if self.tables_ready {
            return Ok(());
        }
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .http_status_as_error(false)
                .build(),
        );
        for table in schema::tables() {
            let ddl = table.ddl(&self.config.table_prefix);
            let url = format!("{}/exec", self.config.endpoint.http_base());
            let mut request = agent.get(&url).query("query", &ddl);
            if let Some(auth) = self.config.endpoint.authorization() {
                request = request.header("Authorization", &auth);
            }
            let mut response = request
                .call()
                .map_err(|e| WriteError::Unavailable(format!("DDL for {}: {e}", table.name)))?;
            let status = response.status().as_u16();
            if status != 200 {
                let body = response.body_mut().read_to_string().unwrap_or_default();
                let error = format!("DDL for {} answered {status}: {body}", table.name);
                return Err(if status >= 500 {
                    WriteError::Unavailable(error)
                } else {
                    WriteError::Rejected(error)
                });
            }
        }
        tracing::info!(prefix = %self.config.table_prefix, "QuestDB tables are ready.");
        self.tables_ready = true;
        Ok(())
    }

    /// Checks that QuestDB answers and the tables exist (creating them if needed).
    ///
    /// # Errors
    /// QuestDB unreachable or refusing the DDL.
    pub fn probe(&mut self) -> Result<(), WriteError> {
        if !self.tables_ready {
            return self.ensure_tables();
        }
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(5)))
                .http_status_as_error(false)
                .build(),
        );
        match agent
            .get(format!("{}/ping", self.config.endpoint.http_base()))
            .call()
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(WriteError::Unavailable(format!(
                "/ping answered {}",
                r.status()
            ))),
            Err(e) => Err(WriteError::Unavailable(format!("/ping: {e}"))),
        }
    }

    /// Writes rows in one HTTP request (one transaction per table in QuestDB).
    ///
    /// # Errors
    /// See [`WriteError`]; nothing is partially written from the caller's point of view (a
    /// retry rewrites the same rows and DEDUP absorbs any that had landed).
    pub fn write(&mut self, rows: &[Row]) -> Result<Written, WriteError> {
        self.ensure_tables()?;
        if self.sender.is_none() {
            let sender =
                Sender::from_conf(self.sender_conf()).map_err(|e| WriteError::from_questdb(&e))?;
            self.sender = Some(sender);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(WriteError::Unavailable("no sender".into()));
        };
        let mut buf: Buffer = sender.new_buffer();
        for row in rows {
            buf.set_marker()
                .map_err(|e| WriteError::Rejected(e.msg().to_string()))?;
            if let Err(e) = row.encode(&mut buf, &self.tables) {
                // An unencodable row is a bug in row building; skip it loudly rather than block
                // every other row behind it.
                tracing::error!(table = row.table(), error = %e, "Dropped a row questdb-rs cannot encode.");
                buf.rewind_to_marker()
                    .map_err(|e| WriteError::Rejected(e.msg().to_string()))?;
            }
        }
        buf.clear_marker();
        let bytes = buf.len();
        let started = Instant::now();
        if buf.row_count() == 0 {
            return Ok(Written {
                rows: 0,
                bytes: 0,
                duration: Duration::ZERO,
            });
        }
        let result = sender.flush(&mut buf);
        match result {
            Ok(()) => Ok(Written {
                rows: rows.len(),
                bytes,
                duration: started.elapsed(),
            }),
            Err(e) => {
                let error = WriteError::from_questdb(&e);
                if sender.must_close() || error.is_transient() {
                    self.sender = None;
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_with_a_code_are_rejections_and_the_rest_unavailability() {
        assert!(looks_like_server_fault(
            "Could not flush buffer: internal error"
        ));
        assert!(!looks_like_server_fault(
            "Could not flush buffer: cast error [id: 1, code: invalid, line: 1]"
        ));
    }
}
