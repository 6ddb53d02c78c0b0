//! `/api/v1/alerts`: the alerts of the caller's grid subtree (list with filters, one with its
//! history) and the two writes on an alert, acknowledge and resolve.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::caller::Caller;
use super::error::ApiError;
use super::filter::AlertFilter;
use super::view::{self, AlertState};
use super::write::{self, bounded};
use super::ApiState;
use crate::supervision::Action;

/// Longest acknowledgement note or resolution reason, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// `GET /api/v1/alerts`: newest first (by `started_at`).
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_parameter("(query)", e.body_text()))?;
    let filter = AlertFilter::parse(&pairs)?;
    let now = state.desk.now();
    let registry = state.desk.registry();
    let body = state.desk.read(|st| {
        let mut found: Vec<_> = st
            .alerts
            .iter()
            .filter(|(_, rec)| st.engine.can_see(caller.id(), &rec.last.site))
            .filter(|(_, rec)| filter.matches(rec))
            .filter(|(id, rec)| filter.state.matches(AlertState::of(st, id, rec)))
            .collect();
        found.sort_by(|a, b| (b.1.last.started_at, b.0).cmp(&(a.1.last.started_at, a.0)));
        let total = found.len();
        let alerts: Vec<Value> = found
            .into_iter()
            .take(filter.limit)
            .map(|(id, rec)| view::alert(st, registry, id, rec, now, false))
            .collect();
        json!({ "alerts": alerts, "total": total, "limit": filter.limit })
    });
    Ok(Json(body))
}

/// `GET /api/v1/alerts/{id}`: one alert with its history.
pub async fn detail(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = alert_id(id)?;
    let now = state.desk.now();
    let registry = state.desk.registry();
    let found = state.desk.read(|st| {
        st.alerts.get(&id).map(|rec| {
            if st.engine.can_see(caller.id(), &rec.last.site) {
                Ok(view::alert(st, registry, &id, rec, now, true))
            } else {
                Err(rec.last.site.clone())
            }
        })
    });
    match found {
        Some(Ok(body)) => Ok(Json(body)),
        Some(Err(site)) => Err(caller
            .forbid(&state.desk, &format!("alert {id} (site {site})"))
            .await),
        None => Err(unknown(&id)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    reason: String,
}

/// `POST /api/v1/alerts/{id}/ack` `{"note": "..."}` (optional).
pub async fn acknowledge(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = alert_id(id)?;
    let b: AckBody = write::body(&body, Some(AckBody::default()))?;
    bounded("note", &b.note, false, MAX_TEXT_CHARS)?;
    let action = Action::Acknowledge {
        alert_id: id.clone(),
        note: b.note.trim().to_owned(),
    };
    Ok(written(&state, &caller, &id, action).await)
}

/// `POST /api/v1/alerts/{id}/resolve` `{"reason": "..."}` (required).
pub async fn resolve(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = alert_id(id)?;
    let b: ResolveBody = write::body(&body, None)?;
    bounded("reason", &b.reason, true, MAX_TEXT_CHARS)?;
    let action = Action::Resolve {
        alert_id: id.clone(),
        reason: b.reason.trim().to_owned(),
    };
    Ok(written(&state, &caller, &id, action).await)
}

/// Submits a write on an alert: 200 `{request_id, alert_id, state, events}`.
async fn written(state: &ApiState, caller: &Caller, id: &str, action: Action) -> Response {
    match write::submit(state, caller, action).await {
        Ok(done) => {
            let alert_state = state.desk.read(|st| {
                st.alerts
                    .get(id)
                    .map_or("resolved", |rec| AlertState::of(st, id, rec).as_str())
            });
            Json(json!({
                "request_id": done.request_id,
                "alert_id": id,
                "state": alert_state,
                "events": view::events(&done.events),
            }))
            .into_response()
        }
        Err(response) => response,
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
