//! Who is calling: the bearer token's supervisor ([`Caller`], an extractor that answers 401 and
//! audits the attempt, see `super::refusals`, when the token is missing or unknown) and where
//! the request came from ([`Origin`], for audit rows).

use std::net::SocketAddr;

use alerting::delivery::Supervisor;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::error::ApiError;
use super::ApiState;

/// The remote address, method and path of a request, as audit rows record them.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `None` when the server was not started with connect info (tests calling the router).
    pub remote: Option<String>,
    pub method: String,
    pub path: String,
}

impl Origin {
    pub(crate) fn of(parts: &Parts) -> Self {
        Self {
            remote: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.to_string()),
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
        }
    }
}

/// An authenticated supervisor and the request's origin.
#[derive(Debug, Clone)]
pub struct Caller {
    pub supervisor: Supervisor,
    pub origin: Origin,
}

impl Caller {
    pub fn id(&self) -> &str {
        &self.supervisor.id
    }

    /// Refuses a read outside the caller's subtree: audited (see `super::refusals`), then
    /// 403.
    pub async fn forbid(&self, state: &ApiState, what: &str) -> ApiError {
        let reason = format!(
            "{what} is outside the grid cell of {} ({})",
            self.supervisor.id, self.supervisor.cell
        );
        state
            .refusals
            .refused(
                &self.origin,
                Some(&self.supervisor.id),
                StatusCode::FORBIDDEN,
                &reason,
            )
            .await;
        ApiError::forbidden(reason)
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let origin = Origin::of(parts);
        let refusal = match bearer(parts) {
            Ok(token) => match state.desk.authenticate(token) {
                Some(supervisor) => return Ok(Caller { supervisor, origin }),
                None => "the bearer token is not a supervisor's API token",
            },
            Err(why) => why,
        };
        state
            .refusals
            .refused(&origin, None, StatusCode::UNAUTHORIZED, refusal)
            .await;
        Err(ApiError::unauthorized(format!(
            "{refusal}: send `Authorization: Bearer <token>`"
        )))
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts: &Parts) -> Result<&str, &'static str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or("no Authorization header")?;
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII")?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or("the Authorization header is not a Bearer token")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the Authorization header is not a Bearer token");
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("the bearer token is empty");
    }
    Ok(token)
}
