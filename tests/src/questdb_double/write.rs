//! ILP writes to the QuestDB double: fault injection, precision, and validating every line
//! against the (possibly evolving) schemas before committing all or nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::server::json_response;
use super::table::{Row, TableData, TableSchema};
use super::value::{convert, ColumnType, Value};
use super::{DbState, Mode, Rejection, Shared};
use crate::ilp::{self, IlpLine, Precision};

pub(super) async fn write(
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
    st.request_bytes.push(body.len());
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
                    // QuestDB adds the designated timestamp after the first line's columns.
                    columns: Vec::new(),
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
                    let ty = if col.eq_ignore_ascii_case(&schema.designated_timestamp) {
                        ColumnType::Timestamp
                    } else {
                        ColumnType::for_new_column(v)
                    };
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
        if schema.column(&schema.designated_timestamp).is_none() {
            let ts = schema.designated_timestamp.clone();
            schema.columns.push((ts, ColumnType::Timestamp));
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
