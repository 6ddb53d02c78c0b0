//! The HTTP server of the QuestDB double: routes, `/ping`, `/settings` and `/exec` (ILP writes
//! are in `write.rs`, the SQL in `sql.rs`).

use std::collections::HashMap;
use std::net::TcpListener as StdTcpListener;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::sql::exec_sql;
use super::write::write;
use super::{Mode, Shared};

pub(super) fn spawn_server(
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

pub(super) fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
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
