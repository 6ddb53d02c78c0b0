//! Who is calling: the bearer token's supervisor ([`Caller`], an extractor that answers 401 and
//! audits the attempt when the token is missing or unknown) and where the request came from
//! ([`Origin`], for audit rows).

use std::net::SocketAddr;

use alerting::delivery::Supervisor;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::error::ApiError;
use super::ApiState;
use crate::supervision::Desk;

/// The remote address, method and path of a request, as audit rows record them.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `None` when the server was not started with connect info (tests calling the router).
    pub remote: Option<String>,
    pub method: String,
    pub path: String,
}

impl Origin {
    fn of(parts: &Parts) -> Self {
        Self {
            remote: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.to_string()),
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
        }
    }

    /// Journals a refusal the drain never sees (401, a 403 on a read). A journal failure is
    /// logged; the client still gets the refusal.
    pub async fn audit_denied(
        &self,
        desk: &Desk,
        supervisor: Option<&str>,
        status: StatusCode,
        reason: &str,
    ) {
        let result = desk
            .audit_denied(
                supervisor,
                self.remote.clone(),
                &self.method,
                &self.path,
                status.as_u16(),
                reason,
            )
            .await;
        if let Err(error) = result {
            tracing::error!(%error, method = %self.method, path = %self.path, status = status.as_u16(),
                "Cannot journal a refused API request; it is missing from the audit trail.");
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

    /// Refuses a read outside the caller's subtree: audited, then 403.
    pub async fn forbid(&self, desk: &Desk, what: &str) -> ApiError {
        let reason = format!(
            "{what} is outside the grid cell of {} ({})",
            self.supervisor.id, self.supervisor.cell
        );
        self.origin
            .audit_denied(
                desk,
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
        origin
            .audit_denied(&state.desk, None, StatusCode::UNAUTHORIZED, refusal)
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
