//! `/api/v1/silences`: silences and maintenance windows of the caller's subtree (list in force,
//! add one for a site or a device of it, lift one early).

use std::sync::atomic::Ordering;

use alerting::delivery::{Silence, SilenceScope};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::alerts::MAX_TEXT_CHARS;
use super::caller::Caller;
use super::error::ApiError;
use super::schema;
use super::time;
use super::view::{self, Event, SilenceView};
use super::write::{self, bounded, Done, NotApplied, Queued};
use super::ApiState;
use crate::supervision::{limits, Action};

/// Longest caller-chosen silence id.
const MAX_ID_CHARS: usize = 100;

/// The answer of `GET /api/v1/silences`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SilenceList {
    pub silences: Vec<SilenceView>,
}

/// The answer to a new silence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SilenceCreated {
    pub request_id: String,
    pub silence: SilenceView,
    /// The alerts it now covers (`silenced`).
    pub events: Vec<Event>,
}

/// The answer to lifting a silence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SilenceExpired {
    pub request_id: String,
    pub silence_id: String,
    /// The alerts it no longer covers (`silence_ended`).
    pub events: Vec<Event>,
}

/// Silences in force on sites the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/silences",
    tag = "silences",
    operation_id = "listSilences",
    responses(
        (status = 200, description = "The silences.", body = SilenceList),
        (status = 401, response = super::error::Unauthorized),
    )
)]
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Json<SilenceList> {
    let now = state.desk.now();
    let registry = state.desk.registry();
    let silences = state.desk.read(|st| {
        st.engine
            .silences_visible_to(caller.id(), now)
            .into_iter()
            .map(|s| view::silence(&registry, s, now))
            .collect::<Vec<_>>()
    });
    Json(SilenceList { silences })
}

/// A new silence (静默) for a site or one device of it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// Generated (`s-<request time ms>-<n>`) when absent.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,100}$", nullable = false)]
    pub(crate) id: Option<String>,
    pub(crate) site: String,
    /// Silence only this device of the site.
    #[schema(nullable = false)]
    pub(crate) device: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    pub(crate) reason: String,
    /// RFC 3339 or epoch milliseconds (text or number); at most `api.max_silence_hours`
    /// (default 72) from now.
    #[schema(schema_with = schema::until_in)]
    pub(crate) until: Value,
}

/// Silence a site, or one device of it, until a time (notices are held; alerts are still
/// recorded).
#[utoipa::path(
    post,
    path = "/api/v1/silences",
    tag = "silences",
    operation_id = "addSilence",
    summary = "Silence a site, or one device of it, until a time (notices are held; alerts are still recorded).",
    request_body = NewSilence,
    responses(
        (status = 201, description = "Created.", body = SilenceCreated),
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
pub async fn add(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: NewSilence = write::body(&body, None)?;
    Ok(match create(&state, &caller, b).await {
        Ok((silence, done)) => (
            StatusCode::CREATED,
            Json(SilenceCreated {
                request_id: done.request_id,
                silence,
                events: view::events(&done.events),
            }),
        )
            .into_response(),
        Err(not_applied) => not_applied.into_response(),
    })
}

/// Checks a new silence and submits it (the API and the console): the silence as created and
/// what the write did.
///
/// # Errors
/// A field is not valid (400), the device is not the site's (422), the silence breaks a limit
/// (422), or the write was queued, refused or not journaled.
pub async fn create(
    state: &ApiState,
    caller: &Caller,
    b: NewSilence,
) -> Result<(SilenceView, Done), NotApplied> {
    bounded("reason", &b.reason, true, MAX_TEXT_CHARS)?;
    let until = match &b.until {
        Value::String(s) => time::parse(s),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| ms.checked_mul(1000))
            .map(alerting::model::Timestamp)
            .ok_or_else(|| format!("{n} is not whole epoch milliseconds")),
        _ => Err("must be RFC 3339 text or epoch milliseconds".to_owned()),
    }
    .map_err(|e| ApiError::bad_body(format!("`until`: {e}")))?;
    let site = b.site.trim().to_owned();
    if site.is_empty() {
        return Err(ApiError::bad_body("`site` is required and must not be empty").into());
    }
    let id = match b.id {
        Some(id) => checked_id(id)?,
        None => format!(
            "s-{}-{}",
            state.desk.now().as_millis(),
            state.next_silence.fetch_add(1, Ordering::Relaxed)
        ),
    };
    let scope = match b.device.map(|d| d.trim().to_owned()) {
        None => SilenceScope::Site { site },
        Some(device) => {
            // Only checked where the caller may look: elsewhere the engine refuses (403).
            let visible = state.desk.read(|st| st.engine.can_see(caller.id(), &site));
            let registered = state
                .desk
                .registry()
                .device(&device)
                .is_some_and(|d| *d.site == *site);
            if visible && !registered {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_device",
                    format!("device `{device}` is not registered at site {site}"),
                )
                .into());
            }
            SilenceScope::Device { site, device }
        }
    };
    let silence = Silence {
        id,
        scope,
        by: caller.id().to_owned(),
        reason: b.reason.trim().to_owned(),
        until,
    };
    // The drain checks again when it applies it (requests may race past this check).
    let now = state.desk.now();
    state
        .desk
        .read(|st| limits::check_silence(state.desk.limits(), &st.engine, &silence, now))
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_silence",
                e.to_string(),
            )
        })?;
    let created = view::silence(&state.desk.registry(), &silence, now);
    let done = write::apply(state, caller, Action::AddSilence { silence }).await?;
    Ok((created, done))
}

/// Lift a silence now; its open, unacknowledged alerts are notified.
#[utoipa::path(
    delete,
    path = "/api/v1/silences/{id}",
    tag = "silences",
    operation_id = "expireSilence",
    params(("id" = String, Path, description = "The silence id.")),
    responses(
        (status = 200, description = "Lifted.", body = SilenceExpired),
        (status = 202, description = "Durable but not applied within 10 s (the pipeline is busy); it will be applied.", body = Queued),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
        (status = 422, response = super::error::Unprocessable),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn expire(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("id", e.body_text()))?;
    let action = Action::ExpireSilence {
        silence_id: id.clone(),
    };
    Ok(match write::submit(&state, &caller, action).await {
        Ok(done) => Json(SilenceExpired {
            request_id: done.request_id,
            silence_id: id,
            events: view::events(&done.events),
        })
        .into_response(),
        Err(response) => response,
    })
}

/// A caller-chosen id: letters, digits, `.`, `_`, `-` (it appears in paths).
fn checked_id(id: String) -> Result<String, ApiError> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(id)
    } else {
        Err(ApiError::bad_body(format!(
            "`id` `{id}` must be 1 to {MAX_ID_CHARS} letters, digits, `.`, `_` or `-` \
             (or left out to have one generated)"
        )))
    }
}
