//! Submitting a write (acknowledge, resolve, silences) to the desk and turning its outcome
//! into a response: the engine's events, `202` when queued, the engine's refusal (audited by
//! the drain), or `503` when the journal failed.

use alerting::delivery::DeliveryEvent;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::caller::Caller;
use super::error::ApiError;
use super::schema;
use super::ApiState;
use crate::supervision::{Action, Submitted};

/// `202`: the write is durable but was not applied within 10 s (the pipeline is busy).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Queued {
    pub request_id: String,
    #[schema(schema_with = schema::queued)]
    pub state: &'static str,
    pub message: &'static str,
}

/// A write the drain applied successfully.
#[derive(Debug)]
pub struct Done {
    pub request_id: String,
    pub events: Vec<DeliveryEvent>,
}

/// Why a write was not applied (yet).
#[derive(Debug)]
pub enum NotApplied {
    /// Durable but not applied within 10 s: the journaled request's id.
    Queued(String),
    /// Refused before journaling (a bad field), by the engine (with the request id), or not
    /// journaled at all (`503`).
    Refused(ApiError),
}

impl IntoResponse for NotApplied {
    fn into_response(self) -> Response {
        match self {
            Self::Queued(request_id) => (
                StatusCode::ACCEPTED,
                Json(Queued {
                    request_id,
                    state: "queued",
                    message: "the request is durable and will be applied; it was not applied \
                              within 10 s (the pipeline is busy). Check the alert or silence later.",
                }),
            )
                .into_response(),
            Self::Refused(error) => error.into_response(),
        }
    }
}

impl From<ApiError> for NotApplied {
    fn from(error: ApiError) -> Self {
        Self::Refused(error)
    }
}

/// Journals `action` for `caller` and waits for the drain (the API and the console).
///
/// # Errors
/// The write was queued (durable, not applied yet), refused by the engine, or not journaled.
pub async fn apply(state: &ApiState, caller: &Caller, action: Action) -> Result<Done, NotApplied> {
    let o = &caller.origin;
    let submitted = state
        .desk
        .submit(
            Some(caller.id()),
            o.remote.clone(),
            &o.method,
            &o.path,
            action,
        )
        .await;
    match submitted {
        Ok(Submitted::Applied {
            request_id,
            result: Ok(events),
        }) => Ok(Done { request_id, events }),
        Ok(Submitted::Applied {
            request_id,
            result: Err(error),
        }) => Err(NotApplied::Refused(ApiError::refused(&error, &request_id))),
        Ok(Submitted::Queued { request_id }) => Err(NotApplied::Queued(request_id)),
        Err(error) => {
            tracing::error!(%error, method = %o.method, path = %o.path, "Cannot journal a supervisor's write.");
            Err(NotApplied::Refused(ApiError::unavailable(format!(
                "{error}; nothing was changed, try again later"
            ))))
        }
    }
}

/// [`apply`], its failure as the API's response.
///
/// # Errors
/// The response to give instead: `202` (durable, not applied yet), the engine's refusal
/// (`403`/`404`/`409`/`422` with the request id) or `503` (not journaled).
pub async fn submit(state: &ApiState, caller: &Caller, action: Action) -> Result<Done, Response> {
    apply(state, caller, action)
        .await
        .map_err(IntoResponse::into_response)
}

/// Parses an optional JSON body (empty = `T::default()`-like via `empty`).
///
/// # Errors
/// 400 naming what is wrong with the body.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], empty: Option<T>) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return empty.ok_or_else(|| ApiError::bad_body("a JSON object is required"));
    }
    serde_json::from_slice(bytes).map_err(ApiError::bad_body)
}

/// Checks a free-text field: its length (in characters), and no control characters or
/// direction overrides (they garble or disguise notices, histories and audit rows).
///
/// # Errors
/// 400 naming the field.
pub fn bounded(field: &str, text: &str, required: bool, max: usize) -> Result<(), ApiError> {
    crate::supervision::limits::printable(text)
        .map_err(|why| ApiError::bad_body(format!("`{field}` {why}")))?;
    if required && text.trim().is_empty() {
        return Err(ApiError::bad_body(format!(
            "`{field}` is required and must not be empty"
        )));
    }
    let n = text.chars().count();
    if n > max {
        return Err(ApiError::bad_body(format!(
            "`{field}` is {n} characters long; at most {max} are allowed"
        )));
    }
    Ok(())
}
