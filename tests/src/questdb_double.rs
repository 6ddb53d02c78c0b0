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
//! parse error.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::ilp::{self, IlpLine, IlpValue, Precision};

/// A stored cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL (absent column, NaN double, `i64::MIN` long).
    Null,
    /// SYMBOL column.
    Symbol(String),
    /// DOUBLE column.
    Double(f64),
    /// LONG or INT column.
    Long(i64),
    /// BOOLEAN column.
    Bool(bool),
    /// STRING or VARCHAR column.
    Str(String),
    /// TIMESTAMP column, microseconds since the epoch.
    Timestamp(i64),
}

impl Value {
    /// The string inside a `Symbol` or `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Symbol(s) | Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The number inside a `Double`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            _ => None,
        }
    }
    /// The number inside a `Long` or `Timestamp`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Long(v) | Value::Timestamp(v) => Some(*v),
            _ => None,
        }
    }
    /// Is it `Null`?
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The JSON representation QuestDB's `/exec` uses for this value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Symbol(s) | Value::Str(s) => json!(s),
            Value::Double(v) if v.is_finite() => json!(v),
            Value::Double(_) => serde_json::Value::Null,
            Value::Long(v) => json!(v),
            Value::Bool(v) => json!(v),
            Value::Timestamp(v) => json!(format_timestamp_micros(*v)),
        }
    }
}

/// Format microseconds since the epoch as QuestDB's JSON does (`2024-01-01T00:00:00.000000Z`).
pub fn format_timestamp_micros(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

/// Column types the double understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// TIMESTAMP (micros).
    Timestamp,
    /// SYMBOL.
    Symbol,
    /// DOUBLE.
    Double,
    /// LONG.
    Long,
    /// INT.
    Int,
    /// BOOLEAN.
    Boolean,
    /// STRING.
    String,
    /// VARCHAR.
    Varchar,
}

impl ColumnType {
    /// Parse a SQL type name (case-insensitive).
    pub fn parse(s: &str) -> Option<ColumnType> {
        Some(match s.to_ascii_uppercase().as_str() {
            "TIMESTAMP" => ColumnType::Timestamp,
            "SYMBOL" => ColumnType::Symbol,
            "DOUBLE" => ColumnType::Double,
            "LONG" => ColumnType::Long,
            "INT" => ColumnType::Int,
            "BOOLEAN" => ColumnType::Boolean,
            "STRING" => ColumnType::String,
            "VARCHAR" => ColumnType::Varchar,
            _ => return None,
        })
    }
    /// The QuestDB name of the type.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Symbol => "SYMBOL",
            ColumnType::Double => "DOUBLE",
            ColumnType::Long => "LONG",
            ColumnType::Int => "INT",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::String => "STRING",
            ColumnType::Varchar => "VARCHAR",
        }
    }
    fn for_new_column(v: &IlpValue) -> ColumnType {
        match v {
            IlpValue::Symbol(_) => ColumnType::Symbol,
            IlpValue::Float(_) => ColumnType::Double,
            IlpValue::Integer(_) => ColumnType::Long,
            IlpValue::Bool(_) => ColumnType::Boolean,
            IlpValue::Str(_) => ColumnType::Varchar,
            IlpValue::TimestampMicros(_) => ColumnType::Timestamp,
        }
    }
    fn missing_value(self) -> Value {
        match self {
            ColumnType::Boolean => Value::Bool(false),
            _ => Value::Null,
        }
    }
}

/// Convert a wire value into a column's value, or `None` for a cast error.
fn convert(v: &IlpValue, ty: ColumnType) -> Option<Value> {
    Some(match (v, ty) {
        (IlpValue::Symbol(s), ColumnType::Symbol) => Value::Symbol(s.clone()),
        (IlpValue::Str(s), ColumnType::String | ColumnType::Varchar) => Value::Str(s.clone()),
        (IlpValue::Float(f), ColumnType::Double) if f.is_nan() => Value::Null,
        (IlpValue::Float(f), ColumnType::Double) => Value::Double(*f),
        (IlpValue::Integer(i), ColumnType::Double) => Value::Double(*i as f64),
        (IlpValue::Integer(i), ColumnType::Long) if *i == i64::MIN => Value::Null,
        (IlpValue::Integer(i), ColumnType::Long) => Value::Long(*i),
        (IlpValue::Integer(i), ColumnType::Int)
            if *i > i64::from(i32::MIN) && *i <= i64::from(i32::MAX) =>
        {
            Value::Long(*i)
        }
        (IlpValue::Bool(b), ColumnType::Boolean) => Value::Bool(*b),
        (IlpValue::TimestampMicros(t), ColumnType::Timestamp) => Value::Timestamp(*t),
        _ => return None,
    })
}

/// A table's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// Table name as first created.
    pub name: String,
    /// Columns in creation order.
    pub columns: Vec<(String, ColumnType)>,
    /// The designated timestamp column.
    pub designated_timestamp: String,
    /// `DEDUP UPSERT KEYS` (empty: no dedup).
    pub dedup_keys: Vec<String>,
    /// Created by `CREATE TABLE` (true) or auto-created by ILP (false).
    pub created_by_ddl: bool,
}

impl TableSchema {
    fn column(&self, name: &str) -> Option<(&str, ColumnType)> {
        self.columns
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .map(|(c, t)| (c.as_str(), *t))
    }
}

/// One stored row: column name -> value.
pub type Row = BTreeMap<String, Value>;

#[derive(Debug)]
struct TableData {
    schema: TableSchema,
    rows: Vec<Row>,
    dedup_index: HashMap<String, usize>,
}

impl TableData {
    fn new(schema: TableSchema) -> Self {
        TableData {
            schema,
            rows: Vec::new(),
            dedup_index: HashMap::new(),
        }
    }

    fn insert(&mut self, row: Row) {
        if self.schema.dedup_keys.is_empty() {
            self.rows.push(row);
            return;
        }
        let key = self
            .schema
            .dedup_keys
            .iter()
            .map(|k| format!("{:?}", row.get(k).unwrap_or(&Value::Null)))
            .collect::<Vec<_>>()
            .join("\u{1}");
        match self.dedup_index.get(&key) {
            Some(&i) => self.rows[i] = row,
            None => {
                self.dedup_index.insert(key, self.rows.len());
                self.rows.push(row);
            }
        }
    }

    /// Rows ordered by designated timestamp (stable), with every schema column present.
    fn sorted_rows(&self) -> Vec<Row> {
        let ts = &self.schema.designated_timestamp;
        let mut rows: Vec<Row> = self
            .rows
            .iter()
            .map(|r| {
                let mut full = r.clone();
                for (c, t) in &self.schema.columns {
                    full.entry(c.clone()).or_insert_with(|| t.missing_value());
                }
                full
            })
            .collect();
        rows.sort_by_key(|r| r.get(ts).and_then(Value::as_i64).unwrap_or(i64::MIN));
        rows
    }
}

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

fn spawn_server(
    shared: Arc<Shared>,
    listener: StdTcpListener,
) -> anyhow::Result<tokio::runtime::Runtime> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("questdb-double")
        .enable_all()
        .build()?;
    let app = Router::new()
        .route("/write", post(write))
        .route("/api/v2/write", post(write))
        .route("/settings", get(settings))
        .route("/ping", get(ping))
        .route("/exec", get(exec))
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(shared);
    rt.spawn(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => {
                if let Err(e) = axum::serve(l, app).await {
                    tracing::error!("QuestDB double server failed: {e}");
                }
            }
            Err(e) => tracing::error!("QuestDB double cannot use its listener: {e}"),
        }
    });
    Ok(rt)
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn settings() -> Json<serde_json::Value> {
    Json(json!({
        "config": {
            "release.type": "OSS",
            "release.version": "9.0.0-double",
            "line.proto.support.versions": [1, 2],
            "ilp.proto.transports": ["tcp", "http"],
            "cairo.max.file.name.length": 127
        },
        "preferences.version": 0,
        "preferences": {}
    }))
}

async fn write(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    // Apply first, then delay the answer: a client that times out may retry a request the
    // server already applied (the at-least-once hazard real deployments have).
    let (delay, response) = {
        let mut st = shared.lock();
        (st.response_delay, write_locked(&mut st, &params, &body))
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

fn write_locked(st: &mut DbState, params: &HashMap<String, String>, body: &[u8]) -> Response {
    st.requests_received += 1;
    st.error_seq += 1;
    let error_id = format!("double-{}", st.error_seq);
    let reject = |st: &mut DbState, status: StatusCode, body: serde_json::Value| {
        st.rejected.push(Rejection {
            status: status.as_u16(),
            body: body.to_string(),
        });
        json_response(status, body)
    };
    if st.mode == Mode::Fail500 || st.fail_next > 0 {
        st.fail_next = st.fail_next.saturating_sub(1);
        let body = json!({
            "code": "internal error",
            "message": "injected failure: could not write to WAL",
            "errorId": error_id,
        });
        return reject(st, StatusCode::INTERNAL_SERVER_ERROR, body);
    }
    let precision = match params.get("precision").map(String::as_str) {
        None => Precision::Nanos,
        Some(p) => match Precision::parse(p) {
            Some(p) => p,
            None => {
                let body = json!({
                    "code": "invalid",
                    "message": format!("unsupported precision [precision={p}]"),
                    "line": 0,
                    "errorId": error_id,
                });
                return reject(st, StatusCode::BAD_REQUEST, body);
            }
        },
    };
    let result = ilp::parse_request(body, precision).and_then(|lines| ingest(st, lines));
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let body = json!({
                "code": "invalid",
                "message": format!("failed to parse line protocol:errors encountered on line(s):\n{e}"),
                "line": e.line,
                "errorId": error_id,
            });
            reject(st, StatusCode::BAD_REQUEST, body)
        }
    }
}

/// Validate every line against the (possibly evolving) schemas, then commit all or nothing.
fn ingest(st: &mut DbState, lines: Vec<IlpLine>) -> Result<(), ilp::IlpError> {
    let mut schemas: BTreeMap<String, TableSchema> = BTreeMap::new();
    let mut rows: Vec<(String, Row)> = Vec::with_capacity(lines.len());
    let mut unexpected = Vec::new();
    let now = chrono::Utc::now().timestamp_micros();
    for line in lines {
        let key = line.table.to_ascii_lowercase();
        let schema = schemas.entry(key.clone()).or_insert_with(|| {
            st.tables
                .get(&key)
                .map(|t| t.schema.clone())
                .unwrap_or_else(|| TableSchema {
                    name: line.table.clone(),
                    columns: vec![("timestamp".to_string(), ColumnType::Timestamp)],
                    designated_timestamp: "timestamp".to_string(),
                    dedup_keys: Vec::new(),
                    created_by_ddl: false,
                })
        });
        let mut row = Row::new();
        for (col, v) in &line.columns {
            let (name, ty) = match schema.column(col) {
                Some((n, t)) => (n.to_string(), t),
                None => {
                    let ty = ColumnType::for_new_column(v);
                    schema.columns.push((col.clone(), ty));
                    if schema.created_by_ddl {
                        unexpected.push((schema.name.clone(), col.clone()));
                    }
                    (col.clone(), ty)
                }
            };
            match convert(v, ty) {
                Some(val) => {
                    row.insert(name, val);
                }
                None => {
                    return Err(ilp::IlpError {
                        line: line.line_no,
                        message: format!(
                            "table: {}, column: {}; cast error from protocol type: {} to column type: {}",
                            schema.name,
                            name,
                            v.protocol_type(),
                            ty.name()
                        ),
                    })
                }
            }
        }
        row.insert(
            schema.designated_timestamp.clone(),
            Value::Timestamp(line.timestamp_micros.unwrap_or(now)),
        );
        rows.push((key, row));
    }
    for (key, schema) in schemas {
        match st.tables.get_mut(&key) {
            Some(t) => t.schema = schema,
            None => {
                st.tables.insert(key, TableData::new(schema));
            }
        }
    }
    for (key, row) in rows {
        if let Some(t) = st.tables.get_mut(&key) {
            t.insert(row);
        }
    }
    st.unexpected_columns.extend(unexpected);
    Ok(())
}

async fn exec(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(sql) = params.get("query") else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"query": "", "error": "empty query", "position": 0}),
        );
    };
    let mut st = shared.lock();
    if st.mode == Mode::Fail500 {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"query": sql, "error": "injected failure", "position": 0}),
        );
    }
    match exec_sql(&mut st, sql) {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(e) => json_response(
            StatusCode::BAD_REQUEST,
            json!({"query": sql, "error": e.error, "position": e.position}),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Minimal SQL.

#[derive(Debug, Clone, PartialEq)]
struct Tok {
    text: String,
    pos: usize,
    quoted: bool,
}

fn tokenize(sql: &str) -> Result<Vec<Tok>, ExecError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                let Some(&(_, d)) = chars.get(i) else {
                    return Err(ExecError {
                        error: "unterminated quoted identifier".into(),
                        position: pos,
                    });
                };
                i += 1;
                if d == c {
                    break;
                }
                text.push(d);
            }
            out.push(Tok {
                text,
                pos,
                quoted: true,
            });
        } else if "(),;*".contains(c) {
            out.push(Tok {
                text: c.to_string(),
                pos,
                quoted: false,
            });
            i += 1;
        } else {
            let mut text = String::new();
            while let Some(&(_, d)) = chars.get(i) {
                if d.is_whitespace() || "(),;*\"'".contains(d) {
                    break;
                }
                text.push(d);
                i += 1;
            }
            out.push(Tok {
                text,
                pos,
                quoted: false,
            });
        }
    }
    Ok(out)
}

struct Sql {
    toks: Vec<Tok>,
    i: usize,
    len: usize,
}

impl Sql {
    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.len, |t| t.pos)
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, ExecError> {
        Err(ExecError {
            error: msg.into(),
            position: self.pos(),
        })
    }
    fn peek_kw(&self, kw: &str) -> bool {
        self.toks
            .get(self.i)
            .is_some_and(|t| !t.quoted && t.text.eq_ignore_ascii_case(kw))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, kw: &str) -> Result<(), ExecError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.err(format!("'{kw}' expected"))
        }
    }
    fn ident(&mut self, what: &str) -> Result<String, ExecError> {
        match self.toks.get(self.i) {
            Some(t) if t.quoted || !"(),;*".contains(t.text.as_str()) => {
                self.i += 1;
                Ok(t.text.clone())
            }
            _ => self.err(format!("{what} expected")),
        }
    }
    fn ident_list(&mut self, what: &str) -> Result<Vec<String>, ExecError> {
        self.expect("(")?;
        let mut v = vec![self.ident(what)?];
        while self.eat_kw(",") {
            v.push(self.ident(what)?);
        }
        self.expect(")")?;
        Ok(v)
    }
    fn end(&mut self) -> Result<(), ExecError> {
        self.eat_kw(";");
        if self.i < self.toks.len() {
            return self.err("unexpected token");
        }
        Ok(())
    }
}

fn exec_sql(st: &mut DbState, sql: &str) -> Result<serde_json::Value, ExecError> {
    let mut p = Sql {
        toks: tokenize(sql)?,
        i: 0,
        len: sql.len(),
    };
    if p.eat_kw("CREATE") {
        create_table(st, &mut p)
    } else if p.eat_kw("DROP") {
        p.expect("TABLE")?;
        let if_exists = if p.eat_kw("IF") {
            p.expect("EXISTS")?;
            true
        } else {
            false
        };
        let pos = p.pos();
        let name = p.ident("table name")?;
        p.end()?;
        if st.tables.remove(&name.to_ascii_lowercase()).is_none() && !if_exists {
            return Err(ExecError {
                error: format!("table does not exist [table={name}]"),
                position: pos,
            });
        }
        Ok(json!({"ddl": "OK"}))
    } else if p.eat_kw("SELECT") {
        select(st, &mut p, sql)
    } else {
        p.err("the QuestDB double only supports CREATE TABLE, DROP TABLE and simple SELECT")
    }
}

fn create_table(st: &mut DbState, p: &mut Sql) -> Result<serde_json::Value, ExecError> {
    p.expect("TABLE")?;
    let if_not_exists = if p.eat_kw("IF") {
        p.expect("NOT")?;
        p.expect("EXISTS")?;
        true
    } else {
        false
    };
    let name_pos = p.pos();
    let name = p.ident("table name")?;
    p.expect("(")?;
    let mut columns: Vec<(String, ColumnType)> = Vec::new();
    loop {
        let cpos = p.pos();
        let col = p.ident("column name")?;
        let tpos = p.pos();
        let ty_name = p.ident("column type")?;
        let Some(ty) = ColumnType::parse(&ty_name) else {
            return Err(ExecError {
                error: format!("unsupported column type: {ty_name}"),
                position: tpos,
            });
        };
        if columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(&col)) {
            return Err(ExecError {
                error: format!("Duplicate column [name={col}]"),
                position: cpos,
            });
        }
        columns.push((col, ty));
        // Skip modifiers such as `CAPACITY 256 CACHE INDEX`.
        while !p.peek_kw(",") && !p.peek_kw(")") {
            if p.i >= p.toks.len() {
                return p.err("')' expected");
            }
            p.i += 1;
        }
        if p.eat_kw(")") {
            break;
        }
        p.expect(",")?;
    }
    let mut designated = None;
    if p.eat_kw("TIMESTAMP") {
        p.expect("(")?;
        let pos = p.pos();
        let col = p.ident("timestamp column")?;
        p.expect(")")?;
        match columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(&col)) {
            Some((c, ColumnType::Timestamp)) => designated = Some(c.clone()),
            Some(_) => {
                return Err(ExecError {
                    error: "TIMESTAMP column expected".into(),
                    position: pos,
                })
            }
            None => {
                return Err(ExecError {
                    error: "invalid designated timestamp column".into(),
                    position: pos,
                })
            }
        }
    }
    let mut partitioned = false;
    if p.eat_kw("PARTITION") {
        p.expect("BY")?;
        let pos = p.pos();
        let unit = p.ident("partition unit")?;
        if !["NONE", "HOUR", "DAY", "WEEK", "MONTH", "YEAR"]
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&unit))
        {
            return Err(ExecError {
                error: format!("invalid partition unit: {unit}"),
                position: pos,
            });
        }
        partitioned = !unit.eq_ignore_ascii_case("NONE");
        if partitioned && designated.is_none() {
            return Err(ExecError {
                error: "partitioning is possible only on tables with designated timestamps".into(),
                position: pos,
            });
        }
    }
    let mut wal = partitioned;
    if p.eat_kw("BYPASS") {
        p.expect("WAL")?;
        wal = false;
    } else if p.eat_kw("WAL") {
        wal = true;
    }
    let mut dedup_keys = Vec::new();
    if p.eat_kw("DEDUP") {
        let pos = p.pos();
        p.expect("UPSERT")?;
        p.expect("KEYS")?;
        if !wal {
            return Err(ExecError {
                error: "deduplication is possible only on WAL tables".into(),
                position: pos,
            });
        }
        for k in p.ident_list("dedup key")? {
            let Some((c, _)) = columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(&k)) else {
                return Err(ExecError {
                    error: format!("deduplicate key column not found [column={k}]"),
                    position: pos,
                });
            };
            dedup_keys.push(c.clone());
        }
        let Some(ts) = &designated else {
            return Err(ExecError {
                error: "deduplication is possible only on tables with designated timestamp".into(),
                position: pos,
            });
        };
        if !dedup_keys.contains(ts) {
            return Err(ExecError {
                error: format!(
                    "deduplicate key list must include dedicated timestamp column [column={ts}]"
                ),
                position: pos,
            });
        }
    }
    p.end()?;
    let Some(designated) = designated else {
        return Err(ExecError {
            error: "the QuestDB double requires a designated TIMESTAMP(col)".into(),
            position: name_pos,
        });
    };
    let key = name.to_ascii_lowercase();
    if st.tables.contains_key(&key) {
        if if_not_exists {
            return Ok(json!({"ddl": "OK"}));
        }
        return Err(ExecError {
            error: format!("table already exists [table={name}]"),
            position: name_pos,
        });
    }
    st.tables.insert(
        key,
        TableData::new(TableSchema {
            name,
            columns,
            designated_timestamp: designated,
            dedup_keys,
            created_by_ddl: true,
        }),
    );
    Ok(json!({"ddl": "OK"}))
}

fn select(st: &DbState, p: &mut Sql, sql: &str) -> Result<serde_json::Value, ExecError> {
    // SELECT count() FROM t | SELECT * FROM t | SELECT a, b FROM t
    let mut count = false;
    let mut cols: Vec<(usize, String)> = Vec::new();
    // `SELECT 1` (liveness check).
    if let Some(n) = p
        .toks
        .get(p.i)
        .filter(|t| !t.quoted)
        .and_then(|t| t.text.parse::<i64>().ok())
    {
        p.i += 1;
        p.end()?;
        return Ok(json!({
            "query": sql,
            "columns": [{"name": n.to_string(), "type": "INT"}],
            "timestamp": -1,
            "dataset": [[n]],
            "count": 1
        }));
    }
    if p.eat_kw("count") {
        p.expect("(")?;
        p.expect(")")?;
        count = true;
    } else if !p.eat_kw("*") {
        loop {
            let pos = p.pos();
            cols.push((pos, p.ident("column")?));
            if !p.eat_kw(",") {
                break;
            }
        }
    }
    p.expect("FROM")?;
    let tpos = p.pos();
    let table = p.ident("table name")?;
    p.end()?;
    let Some(t) = st.tables.get(&table.to_ascii_lowercase()) else {
        return Err(ExecError {
            error: format!("table does not exist [table={table}]"),
            position: tpos,
        });
    };
    if count {
        return Ok(json!({
            "query": sql,
            "columns": [{"name": "count", "type": "LONG"}],
            "timestamp": -1,
            "dataset": [[t.rows.len()]],
            "count": 1
        }));
    }
    let mut selected = Vec::new();
    if cols.is_empty() {
        selected.clone_from(&t.schema.columns);
    } else {
        for (pos, c) in cols {
            match t.schema.column(&c) {
                Some((n, ty)) => selected.push((n.to_string(), ty)),
                None => {
                    return Err(ExecError {
                        error: format!("Invalid column: {c}"),
                        position: pos,
                    })
                }
            }
        }
    }
    let rows = t.sorted_rows();
    let dataset: Vec<Vec<serde_json::Value>> = rows
        .iter()
        .map(|r| {
            selected
                .iter()
                .map(|(c, _)| r.get(c).map_or(serde_json::Value::Null, Value::to_json))
                .collect()
        })
        .collect();
    Ok(json!({
        "query": sql,
        "columns": selected.iter().map(|(c, t)| json!({"name": c, "type": t.name()})).collect::<Vec<_>>(),
        "timestamp": selected.iter().position(|(c, _)| *c == t.schema.designated_timestamp).map_or(-1, |i| i as i64),
        "dataset": dataset,
        "count": rows.len()
    }))
}
