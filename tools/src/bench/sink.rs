//! A minimal ILP-over-HTTP sink standing in for QuestDB in `weijian bench`: it answers
//! `/settings` as QuestDB 9 does (ILP protocol versions 1 and 2, so weijian encodes doubles in
//! binary, as it does against a real QuestDB), `/ping` with 204, `/exec`
//! with `200 {"ddl":"OK"}` (or, for `SELECT count() FROM "t"`, the lines counted for `t`), and `/write` with 204 after reading the whole body and counting
//! its lines per table. It stores nothing: the benchmark measures weijian up to the store's
//! door, not QuestDB.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{any, get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

/// Counts of what the sink received.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    tables: Mutex<HashMap<String, u64>>,
    /// Requests that carried at least one line of each table (one WAL transaction per table
    /// and request in QuestDB).
    table_requests: Mutex<HashMap<String, u64>>,
}

impl Counts {
    /// Lines received for `table` (the full, prefixed name).
    pub fn table(&self, table: &str) -> u64 {
        self.tables
            .lock()
            .map(|t| t.get(table).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Requests that carried lines of `table` (the full, prefixed name).
    pub fn requests_for(&self, table: &str) -> u64 {
        self.table_requests
            .lock()
            .map(|t| t.get(table).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn add(&self, body: &[u8]) {
        // Lines of one table come in runs: count each run, and look its table up once.
        let mut local: HashMap<&[u8], u64> = HashMap::new();
        let mut lines = 0u64;
        let mut run: Option<(&[u8], u64)> = None;
        let mut start = 0;
        while start < body.len() {
            let (table_end, end) = scan_line(body, start);
            let table = &body[start..table_end];
            let empty = end == start;
            start = end + 1;
            if empty {
                continue;
            }
            lines += 1;
            match &mut run {
                Some((current, n)) if *current == table => *n += 1,
                _ => {
                    if let Some((t, n)) = run.replace((table, 1)) {
                        *local.entry(t).or_default() += n;
                    }
                }
            }
        }
        if let Some((t, n)) = run {
            *local.entry(t).or_default() += n;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.lines.fetch_add(lines, Ordering::Relaxed);
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        if let Ok(mut requests) = self.table_requests.lock() {
            for name in local.keys() {
                *requests
                    .entry(String::from_utf8_lossy(name).into_owned())
                    .or_default() += 1;
            }
        }
        if let Ok(mut tables) = self.tables.lock() {
            for (name, n) in local {
                *tables
                    .entry(String::from_utf8_lossy(name).into_owned())
                    .or_default() += n;
            }
        }
    }
}

/// A running sink.
/// ILP v2's type byte of a binary double (8 little-endian bytes follow).
const BINARY_F64: u8 = 16;

/// The line that starts at `start`: where its table name ends and where the line ends (its
/// `\n`, or the end of the body). Skips what may hold a `\n` that does not end the line:
/// escaped bytes, quoted string fields and ILP v2 binary doubles (`name==`, the type byte,
/// 8 bytes). A tag value may not begin with `"` (weijian's ids cannot).
fn scan_line(body: &[u8], start: usize) -> (usize, usize) {
    let table_end = body[start..]
        .iter()
        .position(|&b| matches!(b, b',' | b' ' | b'\n'))
        .map_or(body.len(), |i| start + i);
    let mut p = table_end;
    while let Some(i) = body
        .get(p..)
        .and_then(|rest| memchr::memchr3(b'\n', b'=', b'\\', rest))
    {
        let at = p + i;
        match body[at] {
            b'\n' => return (table_end, at),
            b'\\' => p = at + 2,
            _ => match body.get(at + 1) {
                Some(b'=') => {
                    let payload = if body.get(at + 2) == Some(&BINARY_F64) {
                        8
                    } else {
                        0
                    };
                    p = at + 3 + payload;
                }
                Some(b'"') => {
                    // A string field: to its closing quote (`\` escapes inside).
                    let mut q = at + 2;
                    loop {
                        match body
                            .get(q..)
                            .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                        {
                            None => return (table_end, body.len()),
                            Some(j) if body[q + j] == b'\\' => q += j + 2,
                            Some(j) => {
                                p = q + j + 1;
                                break;
                            }
                        }
                    }
                }
                _ => p = at + 1,
            },
        }
    }
    (table_end, body.len())
}

#[derive(Debug)]
pub struct IlpSink {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    stop: CancellationToken,
}

impl IlpSink {
    /// Serves on a free port of 127.0.0.1 (must be called inside a Tokio runtime).
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start() -> std::io::Result<IlpSink> {
        let counts = Arc::new(Counts::default());
        let app = Router::new()
            .route("/ping", get(|| async { StatusCode::NO_CONTENT }))
            .route("/settings", get(settings))
            .route("/exec", any(exec))
            .route("/write", post(write))
            .route("/api/v2/write", post(write))
            .layer(DefaultBodyLimit::disable())
            .with_state(counts.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
        });
        Ok(IlpSink { addr, counts, stop })
    }

    /// The questdb-rs configuration string for this sink.
    pub fn conf(&self) -> String {
        format!("http::addr={};", self.addr)
    }
}

impl Drop for IlpSink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// `/exec`: `SELECT count() FROM "table"` is answered from the counts (as QuestDB would,
/// so `weijian bench` can run its real-QuestDB path against the sink); anything else (DDL)
/// with `{"ddl":"OK"}`.
/// What QuestDB 9 says of itself that clients read: the ILP versions it accepts.
async fn settings() -> ([(&'static str, &'static str); 1], &'static str) {
    (
        [("content-type", "application/json")],
        r#"{"config":{"release.type":"OSS","release.version":"9.0.0-bench-sink","line.proto.support.versions":[1,2],"ilp.proto.transports":["tcp","http"]},"preferences.version":0,"preferences":{}}"#,
    )
}

async fn exec(
    State(counts): State<Arc<Counts>>,
    RawQuery(query): RawQuery,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let json = [("content-type", "application/json")];
    let sql = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("query="))
        .map(percent_decode)
        .unwrap_or_default();
    match sql
        .strip_prefix("SELECT count() FROM \"")
        .and_then(|rest| rest.split_once('"'))
    {
        Some((table, _)) => (
            StatusCode::OK,
            json,
            format!(
                "{{\"columns\":[{{\"name\":\"count\",\"type\":\"LONG\"}}],\"dataset\":[[{}]],\"count\":1}}",
                counts.table(table)
            ),
        ),
        None => (StatusCode::OK, json, "{\"ddl\":\"OK\"}".to_string()),
    }
}

/// `application/x-www-form-urlencoded` decoding (`+` and `%XX`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn write(State(counts): State<Arc<Counts>>, body: Bytes) -> StatusCode {
    counts.add(&body);
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_doubles_and_strings_holding_newlines_do_not_split_lines() {
        use questdb::ingress::{Buffer, ProtocolVersion, TimestampMicros};
        // Every byte of this double is a newline; the string holds a newline, quotes and `==`.
        let newlines = f64::from_bits(0x0A0A_0A0A_0A0A_0A0A);
        let mut buf = Buffer::new(ProtocolVersion::V2);
        for i in 0..3 {
            buf.table("t_readings")
                .unwrap()
                .symbol("device", "d0")
                .unwrap()
                .column_f64("v", newlines)
                .unwrap()
                .column_f64("w", f64::from(i))
                .unwrap()
                .at(TimestampMicros::new(1_000 + i64::from(i)))
                .unwrap();
        }
        buf.table("t_events")
            .unwrap()
            .symbol("device", "d0")
            .unwrap()
            .column_str("data", "a\nb \"c\" x==y\\")
            .unwrap()
            .column_f64("v", newlines)
            .unwrap()
            .at(TimestampMicros::new(5_000))
            .unwrap();
        buf.table("t_readings")
            .unwrap()
            .column_f64("v", 1.5)
            .unwrap()
            .at(TimestampMicros::new(6_000))
            .unwrap();
        let body = buf.as_bytes();
        assert!(
            body.iter().filter(|&&b| b == b'\n').count() > 5,
            "the test needs newlines inside lines"
        );
        let c = Counts::default();
        c.add(body);
        assert_eq!((c.table("t_readings"), c.table("t_events")), (4, 1));
        assert_eq!(c.lines.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn lines_are_counted_per_table() {
        let c = Counts::default();
        c.add(b"b_water_quality,site=s0 v=1 1\nb_water_quality,site=s1 v=2 2\nb_alerts x=1 3\n");
        c.add(b"b_water_quality v=1 1");
        assert_eq!(c.table("b_water_quality"), 3);
        assert_eq!(c.table("b_alerts"), 1);
        assert_eq!(c.lines.load(Ordering::Relaxed), 4);
        assert_eq!(c.requests.load(Ordering::Relaxed), 2);
        // Runs of one table, interleaved, and empty lines.
        c.add(b"t_a x=1 1\nt_b x=1 1\n\nt_a x=1 1\nt_a x=2 2\n");
        assert_eq!((c.table("t_a"), c.table("t_b")), (3, 1));
        assert_eq!(c.requests_for("t_a"), 1);
        assert_eq!(
            percent_decode("SELECT+count()%20FROM+%22b_t%22"),
            "SELECT count() FROM \"b_t\""
        );
    }
}
