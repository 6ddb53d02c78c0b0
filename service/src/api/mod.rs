//! The supervisors' HTTP API (`/api/v1`): who am I, alerts of my grid subtree (list, detail,
//! acknowledge, resolve), silences (list, add, lift), and site status; plus the OpenAPI
//! document. JSON in and out; every endpoint but the document needs `Authorization: Bearer`.
//!
//! Reads are answered from the [`Desk`] under its lock. Writes are journaled as requests and
//! applied by the drain ([`Desk::submit`]), which also audits them; refusals the drain never
//! sees (401, a 403 on a read) are journaled here with [`Desk::audit_denied`].
//!
//! # Layout
//!
//! - this file: [`router`] and the table of routes ([`ROUTES`], checked against the document);
//! - `caller`: bearer authentication and the request's origin (remote address, method, path);
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

mod alerts;
mod caller;
pub mod doc;
mod error;
mod filter;
mod risk;
mod silences;
mod sites;
mod sterilizers;
mod time;
mod view;
mod waste;
mod write;

#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{any, get, post};
use axum::{Json, Router};

use crate::supervision::Desk;
use caller::Caller;
pub use error::ApiError;

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

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct ApiState {
    pub desk: Desk,
    /// Numbers generated silence ids (`s-<request time ms>-<n>`).
    pub next_silence: Arc<AtomicU64>,
}

/// The API's routes over `desk`, to merge into the operators' router (`crate::http`).
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (as
/// [`crate::http::serve`] does) so audit rows carry the client's address.
pub fn router(desk: Desk) -> Router {
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
        .with_state(ApiState {
            desk,
            next_silence: Arc::new(AtomicU64::new(1)),
        })
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
