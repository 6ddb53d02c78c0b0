//! The API's error body, `{"error": "<code>", "message": "<what, why>"}` (plus `request_id`
//! when the request was journaled), and its HTTP statuses.

use alerting::delivery::DeliveryError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::supervision::request::status_of;

/// The body of every refusal and failure.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Stable code: bad_parameter, bad_body, unauthorized, forbidden, not_found, no_route,
    /// unknown_site, unknown_device, silence_not_found, already_resolved, duplicate_silence,
    /// invalid_silence, unknown_supervisor, invalid, unavailable, draw_impossible,
    /// body_too_large, uri_too_long.
    pub error: &'static str,
    /// What was refused and why.
    pub message: String,
    /// The journaled request, for writes the engine refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request_id: Option<String>,
}

// The refusals as reusable responses of the document (`components/responses`): never built,
// only read by utoipa, hence the unread fields.

/// A query parameter or the body is not valid; the message names it.
#[derive(Debug, ToResponse)]
pub struct BadRequest(#[allow(dead_code)] ErrorBody);

/// No or unknown bearer token (audited).
#[derive(Debug, ToResponse)]
#[response(headers(("WWW-Authenticate" = String, description = "Bearer realm=\"weijian\"")))]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody);

/// Outside the caller's grid subtree (audited).
#[derive(Debug, ToResponse)]
pub struct Forbidden(#[allow(dead_code)] ErrorBody);

/// No such alert, silence or site (or no endpoint at that path).
#[derive(Debug, ToResponse)]
pub struct NotFound(#[allow(dead_code)] ErrorBody);

/// Already resolved, or a silence with this id exists.
#[derive(Debug, ToResponse)]
pub struct Conflict(#[allow(dead_code)] ErrorBody);

/// The write was refused (a silence ending in the past, an unknown device, ...).
#[derive(Debug, ToResponse)]
pub struct Unprocessable(#[allow(dead_code)] ErrorBody);

/// The request body is larger than `api.max_body_bytes` (audited as a refusal).
#[derive(Debug, ToResponse)]
pub struct PayloadTooLarge(#[allow(dead_code)] ErrorBody);

/// The request target (path and query) is longer than `api.max_uri_bytes` (audited as a
/// refusal).
#[derive(Debug, ToResponse)]
pub struct UriTooLong(#[allow(dead_code)] ErrorBody);

/// The request could not be journaled (spool full or closed); nothing changed.
#[derive(Debug, ToResponse)]
pub struct Unavailable(#[allow(dead_code)] ErrorBody);

/// A refusal or failure, as answered to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, snake_case: `bad_parameter`, `unauthorized`, `forbidden`, `not_found`, ...
    pub code: &'static str,
    pub message: String,
    /// The journaled request this answers, when there is one.
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            request_id: None,
        }
    }

    /// 400: a query parameter is not valid.
    pub fn bad_parameter(name: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_parameter",
            format!("parameter `{name}`: {why}"),
        )
    }

    /// 400: the JSON body is not valid.
    pub fn bad_body(why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("request body: {why}"),
        )
    }

    /// 401 (answered with `WWW-Authenticate: Bearer`).
    pub fn unauthorized(why: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", why)
    }

    /// 403: outside the caller's grid subtree.
    pub fn forbidden(why: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", why)
    }

    /// 404.
    pub fn not_found(why: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", why)
    }

    /// 503: the request could not be journaled (spool full or closed).
    pub fn unavailable(why: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why)
    }

    /// The engine refused a journaled write (status as in the audit row).
    pub fn refused(error: &DeliveryError, request_id: &str) -> Self {
        let status = StatusCode::from_u16(status_of(&Err(error.clone())))
            .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        Self {
            status,
            code: refusal_code(error),
            message: error.to_string(),
            request_id: Some(request_id.to_owned()),
        }
    }
}

/// The `error` code of an engine refusal.
fn refusal_code(error: &DeliveryError) -> &'static str {
    match error {
        DeliveryError::NotFound(_) => "not_found",
        DeliveryError::SilenceNotFound(_) => "silence_not_found",
        DeliveryError::UnknownSite(_) => "unknown_site",
        DeliveryError::Forbidden { .. } => "forbidden",
        DeliveryError::UnknownSupervisor(_) => "unknown_supervisor",
        DeliveryError::AlreadyResolved(_) => "already_resolved",
        DeliveryError::DuplicateSilence(_) => "duplicate_silence",
        DeliveryError::InvalidSilence(_) => "invalid_silence",
        DeliveryError::SnapshotVersion { .. } => "invalid",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            message: self.message,
            request_id: self.request_id,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"weijian\""),
            );
        }
        response
    }
}
