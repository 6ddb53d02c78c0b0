//! Store abstraction for end-to-end tests: the same assertions run against the in-process
//! [`QuestDbDouble`] or a real QuestDB named by the `WEIJIAN_TEST_QUESTDB` environment variable
//! (a questdb-rs config string such as `http::addr=127.0.0.1:9000;`).
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use weijian_tests::store::TestStore;
//! let store = TestStore::from_env()?;
//! let prefix = store.fresh_table_prefix(); // weijian prefixes its table names with it
//! // ... run weijian with `store.conf_string()` and `prefix` ...
//! let table = format!("{prefix}telemetry");
//! store.wait_for_count(&table, 3, Duration::from_secs(10))?;
//! let rows = store.rows(&table, &["device", "value", "ts"])?;
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use weijian_ingest::config::endpoint::QuestDbEndpoint;

use anyhow::{bail, Context};

use crate::questdb_double::QuestDbDouble;
pub use crate::questdb_double::Value;

/// Environment variable naming a real QuestDB (questdb-rs config string).
pub const ENV_VAR: &str = "WEIJIAN_TEST_QUESTDB";

/// Set (to anything) to keep a test's tables in the real QuestDB after it ends, to look at
/// them; by default they are dropped (each test leaves a dozen tables, hundreds of MB on
/// disk with QuestDB's default page sizes).
pub const KEEP_VAR: &str = "WEIJIAN_TEST_QUESTDB_KEEP";

static PREFIX_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Result of a SQL query: column names and rows of typed values.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// `(name, QuestDB type)` per column.
    pub columns: Vec<(String, String)>,
    /// Rows in the order QuestDB returned them.
    pub rows: Vec<Vec<Value>>,
}

/// HTTP access to a QuestDB's `/exec` (real or the double).
#[derive(Debug, Clone)]
pub struct ExecClient {
    http_base: String,
    agent: ureq::Agent,
    authorization: Option<String>,
}

impl ExecClient {
    /// A client for `http_base` (e.g. `http://127.0.0.1:9000`).
    pub fn new(http_base: impl Into<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        ExecClient {
            http_base: http_base.into(),
            agent,
            authorization: None,
        }
    }

    /// Same, authenticating like the questdb-rs config string does (`username` + `password`
    /// -> Basic, `token` -> Bearer).
    pub fn from_conf(conf: &str) -> anyhow::Result<Self> {
        let endpoint =
            QuestDbEndpoint::parse(conf).map_err(|why| anyhow::anyhow!("{ENV_VAR}: {why}"))?;
        let mut c = ExecClient::new(endpoint.http_base());
        c.authorization = endpoint.authorization();
        Ok(c)
    }

    /// Run `sql` through `GET /exec`; the JSON answer, or an error carrying QuestDB's message.
    pub fn exec(&self, sql: &str) -> anyhow::Result<serde_json::Value> {
        let mut req = self
            .agent
            .get(format!("{}/exec", self.http_base))
            .query("query", sql);
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        let mut resp = req
            .call()
            .with_context(|| format!("GET {}/exec failed", self.http_base))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string()?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("/exec answered {status} with non-JSON: {text}"))?;
        if status != 200 || json.get("error").is_some() {
            bail!(
                "QuestDB /exec error {status} for `{sql}`: {} (position {})",
                json.get("error").and_then(|e| e.as_str()).unwrap_or(&text),
                json.get("position").unwrap_or(&serde_json::Value::Null)
            );
        }
        Ok(json)
    }

    /// Run a query and map its dataset to [`Value`]s using the column types.
    pub fn query(&self, sql: &str) -> anyhow::Result<QueryResult> {
        let json = self.exec(sql)?;
        parse_dataset(&json)
    }

    /// `SELECT count() FROM table`; 0 if the table does not exist (yet).
    pub fn count(&self, table: &str) -> anyhow::Result<usize> {
        match self.query(&format!("SELECT count() FROM {}", quote_ident(table))) {
            Ok(r) => match r.rows.first().and_then(|row| row.first()) {
                Some(Value::Long(n)) => Ok(usize::try_from(*n)?),
                other => bail!("unexpected count() answer: {other:?}"),
            },
            Err(e) if format!("{e:#}").contains("does not exist") => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// Quote an identifier for QuestDB SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Map an `/exec` JSON answer (`columns` + `dataset`) to typed rows.
pub fn parse_dataset(json: &serde_json::Value) -> anyhow::Result<QueryResult> {
    let columns: Vec<(String, String)> = json
        .get("columns")
        .and_then(|c| c.as_array())
        .context("no `columns` in /exec answer")?
        .iter()
        .map(|c| {
            let name = c.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let ty = c.get("type").and_then(|n| n.as_str()).unwrap_or("");
            (name.to_string(), ty.to_string())
        })
        .collect();
    let dataset = json
        .get("dataset")
        .and_then(|d| d.as_array())
        .context("no `dataset` in /exec answer")?;
    let mut rows = Vec::with_capacity(dataset.len());
    for raw in dataset {
        let cells = raw.as_array().context("dataset row is not an array")?;
        let mut row = Vec::with_capacity(cells.len());
        for (cell, (name, ty)) in cells.iter().zip(&columns) {
            row.push(
                json_to_value(cell, ty)
                    .with_context(|| format!("column {name} ({ty}): cannot map {cell}"))?,
            );
        }
        rows.push(row);
    }
    Ok(QueryResult { columns, rows })
}

fn json_to_value(v: &serde_json::Value, ty: &str) -> anyhow::Result<Value> {
    use serde_json::Value as J;
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match (ty, v) {
        ("SYMBOL", J::String(s)) => Value::Symbol(s.clone()),
        ("STRING" | "VARCHAR" | "CHAR", J::String(s)) => Value::Str(s.clone()),
        ("DOUBLE" | "FLOAT", J::Number(n)) => Value::Double(n.as_f64().context("not f64")?),
        ("LONG" | "INT" | "SHORT" | "BYTE", J::Number(n)) => {
            Value::Long(n.as_i64().context("not i64")?)
        }
        ("BOOLEAN", J::Bool(b)) => Value::Bool(*b),
        ("TIMESTAMP" | "TIMESTAMP_NS" | "DATE", J::String(s)) => {
            let dt = chrono::DateTime::parse_from_rfc3339(s)
                .with_context(|| format!("bad timestamp {s}"))?;
            Value::Timestamp(dt.timestamp_micros())
        }
        (_, J::String(s)) => Value::Str(s.clone()),
        (_, other) => Value::Str(other.to_string()),
    })
}

/// Where the data lives.
#[derive(Debug)]
enum Backend {
    Double(Box<QuestDbDouble>),
    Real { conf: String, exec: ExecClient },
}

/// A QuestDB for one test: the double, or a shared real QuestDB. On a real QuestDB, the
/// tables under the prefixes it handed out are dropped when it is dropped (unless
/// [`KEEP_VAR`] is set).
#[derive(Debug)]
pub struct TestStore {
    backend: Backend,
    /// The prefixes handed out by [`TestStore::fresh_table_prefix`].
    prefixes: Mutex<Vec<String>>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if !self.is_real() || std::env::var_os(KEEP_VAR).is_some() {
            return;
        }
        let prefixes = std::mem::take(
            &mut *self
                .prefixes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if prefixes.is_empty() {
            return;
        }
        // Best effort: a QuestDB that does not answer keeps the tables.
        let Ok(tables) = self.query_rows("SELECT table_name FROM tables()") else {
            return;
        };
        for row in tables.rows {
            if let Some(Value::Str(name) | Value::Symbol(name)) = row.first() {
                if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                    let _ = self.drop_table(name);
                }
            }
        }
    }
}

impl TestStore {
    /// A real QuestDB if `WEIJIAN_TEST_QUESTDB` is set (and non-empty), else a fresh double.
    pub fn from_env() -> anyhow::Result<TestStore> {
        match std::env::var(ENV_VAR) {
            Ok(conf) if !conf.trim().is_empty() => TestStore::real(conf.trim()),
            _ => Ok(TestStore::double()),
        }
    }

    /// Always the in-process double.
    pub fn double() -> TestStore {
        TestStore {
            backend: Backend::Double(Box::new(QuestDbDouble::start())),
            prefixes: Mutex::default(),
        }
    }

    /// A real QuestDB (or anything speaking its HTTP API) named by a questdb-rs config string
    /// (`http::addr=host:port;` or `https::...`). Checks that `/exec` answers.
    pub fn real(conf: &str) -> anyhow::Result<TestStore> {
        let exec = ExecClient::from_conf(conf)?;
        exec.exec("SELECT 1")
            .or_else(|_| exec.exec("SELECT count() FROM tables()"))
            .with_context(|| format!("{ENV_VAR}={conf}: QuestDB does not answer /exec"))?;
        let mut conf = conf.to_string();
        if !conf.ends_with(';') {
            conf.push(';');
        }
        Ok(TestStore {
            backend: Backend::Real { conf, exec },
            prefixes: Mutex::default(),
        })
    }

    /// questdb-rs config string to give weijian.
    pub fn conf_string(&self) -> String {
        match &self.backend {
            Backend::Double(d) => d.conf_string(),
            Backend::Real { conf, .. } => conf.clone(),
        }
    }

    /// `http://host:port` of the HTTP API.
    pub fn http_base(&self) -> String {
        match &self.backend {
            Backend::Double(d) => d.http_base(),
            Backend::Real { exec, .. } => exec.http_base.clone(),
        }
    }

    /// Is this a real QuestDB?
    pub fn is_real(&self) -> bool {
        matches!(self.backend, Backend::Real { .. })
    }

    /// The double, for fault injection and double-only assertions (`None` for real QuestDB).
    pub fn as_double(&self) -> Option<&QuestDbDouble> {
        match &self.backend {
            Backend::Double(d) => Some(d),
            Backend::Real { .. } => None,
        }
    }

    /// A table-name prefix unique to this call (`t{pid}_{n}_{rand}_`), so tests sharing a real
    /// QuestDB do not collide.
    pub fn fresh_table_prefix(&self) -> String {
        let n = PREFIX_COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!(
            "t{}_{}_{:04x}_",
            std::process::id(),
            n,
            rand::random::<u16>()
        );
        self.prefixes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(prefix.clone());
        prefix
    }

    /// Run SQL through `/exec` (the double supports `CREATE TABLE`, `DROP TABLE`,
    /// `SELECT count() FROM t`, `SELECT * | cols FROM t`).
    pub fn exec(&self, sql: &str) -> anyhow::Result<serde_json::Value> {
        self.exec_client().exec(sql)
    }

    /// Run a query through `/exec` and map the dataset.
    pub fn query_rows(&self, sql: &str) -> anyhow::Result<QueryResult> {
        self.exec_client().query(sql)
    }

    /// `DROP TABLE IF EXISTS table` (clean up after a test on a shared real QuestDB).
    pub fn drop_table(&self, table: &str) -> anyhow::Result<()> {
        self.exec(&format!("DROP TABLE IF EXISTS {}", quote_ident(table)))
            .map(|_| ())
    }

    fn exec_client(&self) -> ExecClient {
        match &self.backend {
            Backend::Double(d) => ExecClient::new(d.http_base()),
            Backend::Real { exec, .. } => exec.clone(),
        }
    }

    /// The given columns of every row of `table`, ordered by the designated timestamp.
    /// Absent values are [`Value::Null`] (`Bool(false)` for BOOLEAN, as QuestDB shows them).
    pub fn rows(&self, table: &str, columns: &[&str]) -> anyhow::Result<Vec<Vec<Value>>> {
        match &self.backend {
            Backend::Double(d) => {
                let schema = d
                    .schema(table)
                    .with_context(|| format!("table does not exist [table={table}]"))?;
                for c in columns {
                    if !schema
                        .columns
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case(c))
                    {
                        bail!("Invalid column: {c} (table {table})");
                    }
                }
                Ok(d.rows(table)
                    .iter()
                    .map(|r| {
                        columns
                            .iter()
                            .map(|c| {
                                r.iter()
                                    .find(|(k, _)| k.eq_ignore_ascii_case(c))
                                    .map_or(Value::Null, |(_, v)| v.clone())
                            })
                            .collect()
                    })
                    .collect())
            }
            Backend::Real { exec, .. } => {
                let cols = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns
                        .iter()
                        .map(|c| quote_ident(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                // Tables with a designated timestamp are returned in timestamp order.
                Ok(exec
                    .query(&format!("SELECT {cols} FROM {}", quote_ident(table)))?
                    .rows)
            }
        }
    }

    /// Row count of `table` (0 if it does not exist yet).
    pub fn count(&self, table: &str) -> anyhow::Result<usize> {
        match &self.backend {
            Backend::Double(d) => Ok(d.count(table)),
            Backend::Real { exec, .. } => exec.count(table),
        }
    }

    /// Poll until `table` has at least `n` rows (real QuestDB applies WAL asynchronously).
    /// Returns the count reached; errors on timeout with the last count seen. Blocking.
    pub fn wait_for_count(
        &self,
        table: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.count(table)?;
            if c >= n {
                return Ok(c);
            }
            if Instant::now() >= deadline {
                bail!("timed out after {timeout:?} waiting for {n} rows in {table}: have {c}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Async version of [`TestStore::wait_for_count`] (does not block the runtime thread).
    pub async fn wait_for_count_async(
        &self,
        table: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = match &self.backend {
                Backend::Double(d) => d.count(table),
                Backend::Real { exec, .. } => {
                    let exec = exec.clone();
                    let t = table.to_string();
                    tokio::task::spawn_blocking(move || exec.count(&t)).await??
                }
            };
            if c >= n {
                return Ok(c);
            }
            if Instant::now() >= deadline {
                bail!("timed out after {timeout:?} waiting for {n} rows in {table}: have {c}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_mapping() {
        let j = serde_json::json!({
            "columns": [{"name":"s","type":"SYMBOL"},{"name":"v","type":"DOUBLE"},
                        {"name":"n","type":"LONG"},{"name":"b","type":"BOOLEAN"},
                        {"name":"t","type":"TIMESTAMP"},{"name":"x","type":"VARCHAR"}],
            "dataset": [["a", 1.5, 3, true, "1970-01-01T00:00:01.000002Z", null]],
            "count": 1
        });
        let r = parse_dataset(&j).unwrap();
        assert_eq!(
            r.rows[0],
            vec![
                Value::Symbol("a".into()),
                Value::Double(1.5),
                Value::Long(3),
                Value::Bool(true),
                Value::Timestamp(1_000_002),
                Value::Null
            ]
        );
    }
}
