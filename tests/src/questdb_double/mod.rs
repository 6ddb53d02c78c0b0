//! An in-process QuestDB double for tests: an HTTP server that speaks ILP over HTTP strictly and
//! answers like QuestDB (204 / 400 + JSON error / 500), a minimal `/exec` SQL endpoint (DDL with
//! `DEDUP UPSERT KEYS`, `SELECT count()`, `SELECT cols FROM t`, `DROP TABLE`), `/settings` (ILP
//! protocol versions 1 and 2) and `/ping`, plus fault injection (`Mode`, [`QuestDbDouble::fail_next`]).
//!
//! The server runs on its own tokio runtime (its own threads), so sync and async tests can use it.
//! Rows are kept in memory and read back with [`QuestDbDouble::rows`].
//!
//! Deliberate strictness beyond real QuestDB (to catch bugs early): against a table created by
//! DDL, a string field into a SYMBOL column, a tag into a STRING/VARCHAR column and an integer
//! into a TIMESTAMP column are rejected as cast errors, and duplicate columns in a line are a
//! parse error. (QuestDB 9.3.5 accepts all of these, keeping the first of duplicate columns;
//! it also takes a boolean into a LONG column as 0/1, which the double refuses.)
//!
//! Layout: the handle [`QuestDbDouble`] and its shared state here; `value.rs` (cell values and
//! column types), `table.rs` (schemas and stored rows), `server.rs` (the HTTP server and its
//! small endpoints), `write.rs` (ILP writes, validated then committed), `sql.rs` (the
//! minimal SQL of `/exec`) and `alter.rs` (its `ALTER TABLE`).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod alter;
mod server;
mod sql;
mod table;
mod value;
mod write;

pub use table::{Row, TableSchema};
pub use value::{format_timestamp_micros, ColumnType, Value};

use server::spawn_server;
use sql::exec_sql;
use table::TableData;

/// Fault-injection mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answer normally.
    #[default]
    Healthy,
    /// Answer every ILP write (and `/exec`) with 500 and a JSON error; `/settings` and `/ping`
    /// keep working.
    Fail500,
    /// The listener is closed and all open connections are dropped: connection refused, as if
    /// QuestDB were down. Switching back to `Healthy` rebinds the same port.
    Unreachable,
}

/// A rejected request, as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// JSON body sent back.
    pub body: String,
}

/// An error of the `/exec` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// Message.
    pub error: String,
    /// Byte position in the query.
    pub position: usize,
}

#[derive(Debug, Default)]
struct DbState {
    tables: BTreeMap<String, TableData>,
    unexpected_columns: Vec<(String, String)>,
    requests_received: usize,
    /// Body size of every ILP write request, in order.
    request_bytes: Vec<usize>,
    rejected: Vec<Rejection>,
    mode: Mode,
    fail_next: usize,
    response_delay: Duration,
    error_seq: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<DbState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, DbState> {
        // A panic while holding the lock cannot leave the state half-updated in a way tests
        // care about (ingest is validate-then-commit), so recover from poisoning.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The QuestDB double. Dropping it stops the server.
#[derive(Debug)]
pub struct QuestDbDouble {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<tokio::runtime::Runtime>>,
}

impl QuestDbDouble {
    /// Start on `127.0.0.1:<free port>`. Panics if that is impossible (test helper).
    pub fn start() -> QuestDbDouble {
        match Self::try_start() {
            Ok(d) => d,
            Err(e) => panic!("cannot start the QuestDB double: {e:#}"),
        }
    }

    /// Start on `127.0.0.1:<free port>`.
    pub fn try_start() -> anyhow::Result<QuestDbDouble> {
        let listener = StdTcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let rt = spawn_server(shared.clone(), listener)?;
        Ok(QuestDbDouble {
            shared,
            addr,
            server: Mutex::new(Some(rt)),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A questdb-rs config string for this double, e.g. `http::addr=127.0.0.1:PORT;`.
    pub fn conf_string(&self) -> String {
        format!("http::addr={};", self.addr)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Current fault-injection mode.
    pub fn mode(&self) -> Mode {
        self.shared.lock().mode
    }

    /// Switch fault-injection mode. `Unreachable` returns once the port refuses connections;
    /// leaving it returns once the port accepts again (same port).
    pub fn set_mode(&self, mode: Mode) -> anyhow::Result<()> {
        let mut server = self.server.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.lock().mode = mode;
        match (mode, server.is_some()) {
            (Mode::Unreachable, true) => {
                if let Some(rt) = server.take() {
                    // Shut down on a plain thread: allowed even when called from async code.
                    std::thread::spawn(move || rt.shutdown_timeout(Duration::from_secs(2)))
                        .join()
                        .map_err(|_| anyhow::anyhow!("runtime shutdown panicked"))?;
                }
                let deadline = Instant::now() + Duration::from_secs(2);
                while std::net::TcpStream::connect(self.addr).is_ok() {
                    if Instant::now() > deadline {
                        anyhow::bail!("port {} still accepts after shutdown", self.addr);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            (Mode::Healthy | Mode::Fail500, false) => {
                let deadline = Instant::now() + Duration::from_secs(5);
                let listener = loop {
                    match StdTcpListener::bind(self.addr) {
                        Ok(l) => break l,
                        Err(e) if Instant::now() > deadline => {
                            anyhow::bail!("cannot rebind {}: {e}", self.addr)
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                };
                *server = Some(spawn_server(self.shared.clone(), listener)?);
            }
            _ => {}
        }
        Ok(())
    }

    /// Answer the next `n` ILP write requests with 500 (transient failure), then recover.
    pub fn fail_next(&self, n: usize) {
        self.shared.lock().fail_next = n;
    }

    /// Delay every ILP write answer by `delay` (e.g. to exercise client request timeouts).
    /// The request is applied *before* the delay, so a client that times out and retries
    /// writes twice (as can happen with real QuestDB). `Duration::ZERO` turns it off.
    pub fn set_response_delay(&self, delay: Duration) {
        self.shared.lock().response_delay = delay;
    }

    /// Rows of `table` ordered by designated timestamp; every schema column is present
    /// (`Null` when absent, `false` for BOOLEAN as in QuestDB). Empty if the table is unknown.
    pub fn rows(&self, table: &str) -> Vec<Row> {
        let st = self.shared.lock();
        st.tables
            .get(&table.to_ascii_lowercase())
            .map(TableData::sorted_rows)
            .unwrap_or_default()
    }

    /// Number of rows in `table` (0 if unknown).
    pub fn count(&self, table: &str) -> usize {
        let st = self.shared.lock();
        st.tables
            .get(&table.to_ascii_lowercase())
            .map_or(0, |t| t.rows.len())
    }

    /// Table names.
    pub fn tables(&self) -> Vec<String> {
        let st = self.shared.lock();
        st.tables.values().map(|t| t.schema.name.clone()).collect()
    }

    /// Schema of `table`.
    pub fn schema(&self, table: &str) -> Option<TableSchema> {
        let st = self.shared.lock();
        st.tables
            .get(&table.to_ascii_lowercase())
            .map(|t| t.schema.clone())
    }

    /// `(table, column)` pairs auto-added by ILP to tables that were created by DDL.
    pub fn unexpected_columns(&self) -> Vec<(String, String)> {
        self.shared.lock().unexpected_columns.clone()
    }

    /// Number of ILP write requests received (including rejected and failed ones).
    pub fn requests_received(&self) -> usize {
        self.shared.lock().requests_received
    }

    /// The body size of every ILP write request received, in order.
    pub fn write_request_bytes(&self) -> Vec<usize> {
        self.shared.lock().request_bytes.clone()
    }

    /// ILP write requests answered with an error (400 or injected 500), in order.
    pub fn rejected_requests(&self) -> Vec<Rejection> {
        self.shared.lock().rejected.clone()
    }

    /// Run a statement as `/exec` would (without HTTP).
    pub fn exec(&self, sql: &str) -> Result<serde_json::Value, ExecError> {
        exec_sql(&mut self.shared.lock(), sql)
    }
}

impl Drop for QuestDbDouble {
    fn drop(&mut self) {
        let mut server = self.server.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rt) = server.take() {
            rt.shutdown_background();
        }
    }
}
