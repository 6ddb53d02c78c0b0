//! The supervisors' HTTP API (`/api/v1`): who am I, alerts of my grid subtree (list, detail,
//! acknowledge, resolve), silences (list, add, lift), and site status; plus the OpenAPI
//! document. JSON in and out; every endpoint but the document needs `Authorization: Bearer`.
//!
//! Reads are answered from the [`Desk`] under its lock. Writes are journaled as requests and
//! applied by the drain ([`Desk::submit`]), which also audits them; refusals the drain never
//! sees (401, a 403 on a read, 413, 414) are counted and audited at most once per remote
//! address per interval (`refusals`). Request targets and bodies are size-limited
//! (`api.max_uri_bytes`, `api.max_body_bytes`) before anything is read or stored.
//!
//! # Layout
//!
//! - this file: [`router`] and the table of routes ([`ROUTES`], checked against the document);
//! - `caller`: bearer authentication and the request's origin (remote address, method, path);
//! - `refusals`: refused requests counted, logged and audited once per remote and interval;
//! - `error`: the JSON error body and its statuses;
//! - `time`: timestamps in and out (RFC 3339 at +08:00 and epoch µs out; RFC 3339 or epoch ms in);
//! - `view`: the JSON types of alerts, silences, levels and delivery events (each handler's
//!   module has the types of its own answers: `sites`, `waste`, `sterilizers`, ...);
//! - `filter`: the query of `GET /api/v1/alerts`;
//! - `write`: submitting a write and turning its outcome into a response;
//! - `alerts`, `silences`, `sites`, `sterilizers`, `risk` (risk index, draws): the handlers (`waste`: a waste store's ledger
//!   in its status);
//! - `doc`: the OpenAPI 3.1 document, generated with utoipa from those types and the handlers'
//!   `#[utoipa::path]`, served at `/api/v1/openapi.json`.
//!
//! Alert ids contain `/`: clients percent-encode them in paths (`%2F`); [`axum::extract::Path`]
//! decodes them.

pub(crate) mod alerts;
pub(crate) mod caller;
pub mod doc;
mod error;
pub(crate) mod filter;
pub(crate) mod refusals;
mod risk;
pub(crate) mod schema;
pub(crate) mod silences;
pub(crate) mod sites;
pub(crate) mod sterilizers;
pub(crate) mod time;
pub(crate) mod view;
pub(crate) mod waste;
pub(crate) mod write;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};

use crate::supervision::Desk;
use caller::{Caller, Origin};
pub use error::ApiError;
pub use refusals::ApiMetrics;
use refusals::Refusals;

/// Every route: (path in OpenAPI form, methods). The router below serves exactly these (a
/// test checks both against the OpenAPI document).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/api/v1/openapi.json", &["get"]),
    ("/api/v1/me", &["get"]),
    ("/api/v1/alerts", &["get"]),
    ("/api/v1/alerts/{id}", &["get"]),
    ("/api/v1/alerts/{id}/ack", &["post"]),
    ("/api/v1/alerts/{id}/resolve", &["post"]),
    ("/api/v1/silences", &["get", "post"]),
    ("/api/v1/silences/{id}", &["delete"]),
    ("/api/v1/sites", &["get"]),
    ("/api/v1/sites/{site}/status", &["get"]),
    ("/api/v1/sites/{site}/sterilizers", &["get"]),
    ("/api/v1/risk/sites", &["get"]),
    ("/api/v1/risk/sites/{site}", &["get"]),
    ("/api/v1/risk/grid", &["get"]),
    ("/api/v1/risk/recompute", &["post"]),
    ("/api/v1/risk/draws", &["post"]),
];

/// What every handler shares (the console's handlers too, `crate::console`).
#[derive(Debug, Clone)]
pub(crate) struct ApiState {
    pub desk: Desk,
    /// Numbers generated silence ids (`s-<request time ms>-<n>`).
    pub next_silence: Arc<AtomicU64>,
    /// Counts and audits refused requests.
    pub refusals: Arc<Refusals>,
}

/// The API's routes over `desk`, to merge into the operators' router (`crate::http`).
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (as
/// [`crate::http::serve`] does) so audit rows carry the client's address. Call it inside the
/// tokio runtime: it starts the task that closes the refusal audit's intervals.
pub fn router(desk: Desk, metrics: ApiMetrics) -> Router {
    router_with(ApiState::new(desk, metrics))
}

impl ApiState {
    /// The state the API's handlers share, to give to [`router_with`] and the console. Call it
    /// inside the tokio runtime: it starts the task that closes the refusal audit's intervals.
    pub fn new(desk: Desk, metrics: ApiMetrics) -> Self {
        ApiState {
            refusals: Refusals::start(desk.clone(), metrics),
            desk,
            next_silence: Arc::new(AtomicU64::new(1)),
        }
    }
}

/// [`router`] over a state shared with the console (`crate::console`).
pub(crate) fn router_with(state: ApiState) -> Router {
    let max_body = state.desk.limits().max_body_bytes;
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}", get(alerts::detail))
        .route("/api/v1/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/api/v1/alerts/{id}/resolve", post(alerts::resolve))
        .route("/api/v1/silences", get(silences::list).post(silences::add))
        .route(
            "/api/v1/silences/{id}",
            axum::routing::delete(silences::expire),
        )
        .route("/api/v1/sites", get(sites::list))
        .route("/api/v1/sites/{site}/status", get(sites::status))
        .route("/api/v1/sites/{site}/sterilizers", get(sterilizers::list))
        .route("/api/v1/risk/sites", get(risk::list))
        .route("/api/v1/risk/sites/{site}", get(risk::site))
        .route("/api/v1/risk/grid", get(risk::grid))
        .route("/api/v1/risk/recompute", post(risk::recompute))
        .route("/api/v1/risk/draws", post(risk::draw))
        .route("/api/v1/{*rest}", any(no_route))
        // A body sent without its length (chunked) is cut at the limit by the handler's
        // extractor (a plain 413); one that announces its length is refused below.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            size_limits,
        ))
        .with_state(state)
}

/// Refuses, before routing, authentication or reading the body, a request target longer than
/// `api.max_uri_bytes` (414) and a body announced longer than `api.max_body_bytes` (413);
/// both are counted and audited as refusals.
async fn size_limits(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let limits = state.desk.limits();
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let refusal = if target > limits.max_uri_bytes {
        ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the request target is {target} bytes long; at most {} are allowed \
                 (api.max_uri_bytes)",
                limits.max_uri_bytes
            ),
        )
    } else if let Some(length) =
        announced.filter(|n| *n > u64::try_from(limits.max_body_bytes).unwrap_or(u64::MAX))
    {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is {length} bytes long; at most {} are allowed \
                 (api.max_body_bytes)",
                limits.max_body_bytes
            ),
        )
    } else {
        return next.run(request).await;
    };
    let (parts, _body) = request.into_parts();
    state
        .refusals
        .refused(&Origin::of(&parts), None, refusal.status, &refusal.message)
        .await;
    refusal.into_response()
}

/// This document (no token needed).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "document",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(doc::document())
}

/// The caller: id, name, tier, grid cell.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "caller",
    operation_id = "me",
    responses(
        (status = 200, description = "The caller.", body = view::Me),
        (status = 401, response = error::Unauthorized),
    )
)]
async fn me(caller: Caller) -> Json<view::Me> {
    Json(view::Me::from(&caller.supervisor))
}

/// Any other path under `/api/v1`: a JSON 404 naming the document.
async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "no endpoint at {}; see /api/v1/openapi.json for the API",
            uri.path()
        ),
    )
}
