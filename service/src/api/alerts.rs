//! `/api/v1/alerts`: the alerts of the caller's grid subtree (list with filters, one with its
//! history) and the two writes on an alert, acknowledge and resolve.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::Caller;
use super::error::ApiError;
use super::filter::{AlertFilter, AlertQuery};
use super::view::{self, Alert, AlertDetail, AlertState, Event};
use super::write::{self, bounded, NotApplied, Queued};
use super::ApiState;
use crate::supervision::Action;

/// Longest acknowledgement note or resolution reason, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// The answer of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
    /// How many matched before `limit`.
    pub total: usize,
    pub limit: usize,
}

/// The answer to an acknowledgement or a resolution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertWritten {
    pub request_id: String,
    pub alert_id: String,
    /// The alert's state after the write.
    pub state: AlertState,
    /// What the write changed.
    pub events: Vec<Event>,
}

/// The alert id in the path.
const ID_DOC: &str = "The alert id. It contains `/`: percent-encode it \
    (`W2%2Fwp-east-outlet%2Fwm-1%2F1795305600000000`).";

/// Alerts of the caller's grid subtree, newest first (by `started_at`).
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    operation_id = "listAlerts",
    params(AlertQuery),
    responses(
        (status = 200, description = "The alerts.", body = AlertList),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<AlertList>, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_parameter("(query)", e.body_text()))?;
    let filter = AlertFilter::parse(&pairs)?;
    Ok(Json(visible(&state, caller.id(), &filter)))
}

/// The alerts `supervisor` may see that pass `filter`, newest first (the API and the console).
pub fn visible(state: &ApiState, supervisor: &str, filter: &AlertFilter) -> AlertList {
    let now = state.desk.now();
    let registry = state.desk.registry();
    state.desk.read(|st| {
        let mut found: Vec<_> = st
            .alerts
            .iter()
            .filter(|(_, rec)| st.engine.can_see(supervisor, &rec.last.site))
            .filter(|(_, rec)| filter.matches(rec))
            .filter(|(id, rec)| filter.state.matches(AlertState::of(st, id, rec)))
            .collect();
        found.sort_by(|a, b| (b.1.last.started_at, b.0).cmp(&(a.1.last.started_at, a.0)));
        let total = found.len();
        let alerts = found
            .into_iter()
            .take(filter.limit)
            .map(|(id, rec)| view::alert(st, &registry, id, rec, now))
            .collect();
        AlertList {
            alerts,
            total,
            limit: filter.limit,
        }
    })
}

/// One alert with its history.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    operation_id = "getAlert",
    params(("id" = String, Path, description = ID_DOC)),
    responses(
        (status = 200, description = "The alert.", body = AlertDetail),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
    )
)]
pub async fn detail(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AlertDetail>, ApiError> {
    let id = alert_id(id)?;
    match detail_of(&state, caller.id(), &id) {
        Some(Ok(body)) => Ok(Json(body)),
        Some(Err(site)) => Err(caller
            .forbid(&state, &format!("alert {id} (site {site})"))
            .await),
        None => Err(unknown(&id)),
    }
}

/// Alert `id` with its history when `supervisor` may see it, else `Err(its site)`; `None`
/// when the desk does not know it (the API and the console).
pub fn detail_of(
    state: &ApiState,
    supervisor: &str,
    id: &str,
) -> Option<Result<AlertDetail, String>> {
    let now = state.desk.now();
    let registry = state.desk.registry();
    state.desk.read(|st| {
        st.alerts.get(id).map(|rec| {
            if st.engine.can_see(supervisor, &rec.last.site) {
                Ok(view::alert_detail(st, &registry, id, rec, now))
            } else {
                Err(rec.last.site.clone())
            }
        })
    })
}

/// An acknowledgement (the body may also be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// What is being done about it.
    #[serde(default)]
    #[schema(max_length = 500)]
    note: String,
}

/// A resolution by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// Why it is closed.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Acknowledge (确认): escalation and repeats stop; the alert stays open.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/ack",
    tag = "alerts",
    operation_id = "acknowledgeAlert",
    params(("id" = String, Path, description = ID_DOC)),
    request_body(content = Option<AckBody>, description = "Optional: an empty body acknowledges without a note."),
    responses(
        (status = 200, description = "Acknowledged (acknowledging twice changes nothing).", body = AlertWritten),
        (status = 202, description = "Durable but not applied within 10 s (the pipeline is busy); it will be applied.", body = Queued),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
        (status = 409, response = super::error::Conflict),
        (status = 422, response = super::error::Unprocessable),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn acknowledge(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = alert_id(id)?;
    let b: AckBody = write::body(&body, Some(AckBody::default()))?;
    let action = acknowledgement(&id, &b.note)?;
    Ok(written(&state, &caller, &id, action).await)
}

/// Close the alert by hand.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/resolve",
    tag = "alerts",
    operation_id = "resolveAlert",
    params(("id" = String, Path, description = ID_DOC)),
    request_body = ResolveBody,
    responses(
        (status = 200, description = "Resolved.", body = AlertWritten),
        (status = 202, description = "Durable but not applied within 10 s (the pipeline is busy); it will be applied.", body = Queued),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
        (status = 409, response = super::error::Conflict),
        (status = 422, response = super::error::Unprocessable),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn resolve(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = alert_id(id)?;
    let b: ResolveBody = write::body(&body, None)?;
    let action = resolution(&id, &b.reason)?;
    Ok(written(&state, &caller, &id, action).await)
}

/// An acknowledgement of `id` with `note` (optional, at most [`MAX_TEXT_CHARS`]).
///
/// # Errors
/// 400 naming what is wrong with the note.
pub fn acknowledgement(id: &str, note: &str) -> Result<Action, ApiError> {
    bounded("note", note, false, MAX_TEXT_CHARS)?;
    Ok(Action::Acknowledge {
        alert_id: id.to_owned(),
        note: note.trim().to_owned(),
    })
}

/// A resolution of `id` with `reason` (required, at most [`MAX_TEXT_CHARS`]).
///
/// # Errors
/// 400 naming what is wrong with the reason.
pub fn resolution(id: &str, reason: &str) -> Result<Action, ApiError> {
    bounded("reason", reason, true, MAX_TEXT_CHARS)?;
    Ok(Action::Resolve {
        alert_id: id.to_owned(),
        reason: reason.trim().to_owned(),
    })
}

/// Submits a write on alert `id` (the API and the console): the alert's state after it and
/// what it changed.
///
/// # Errors
/// The write was queued, refused or not journaled.
pub async fn act(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<AlertWritten, NotApplied> {
    let done = write::apply(state, caller, action).await?;
    let alert_state = state.desk.read(|st| {
        st.alerts
            .get(id)
            .map_or(AlertState::Resolved, |rec| AlertState::of(st, id, rec))
    });
    Ok(AlertWritten {
        request_id: done.request_id,
        alert_id: id.to_owned(),
        state: alert_state,
        events: view::events(&done.events),
    })
}

/// Submits a write on an alert: 200 `{request_id, alert_id, state, events}`.
async fn written(state: &ApiState, caller: &Caller, id: &str, action: Action) -> Response {
    match act(state, caller, id, action).await {
        Ok(body) => Json(body).into_response(),
        Err(not_applied) => not_applied.into_response(),
    }
}

fn alert_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("id", e.body_text()))?;
    if id.trim().is_empty() {
        return Err(ApiError::bad_parameter("id", "the alert id is empty"));
    }
    Ok(id)
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "alert {id} not found (never seen, or resolved long ago); percent-encode `/` in ids as %2F"
    ))
}
