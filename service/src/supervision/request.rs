//! Supervisors' actions as journaled requests.
//!
//! Every write through the alert API (acknowledge, resolve, silences) and refused attempts
//! (bad token, outside the caller's grid subtree, too large; the first per remote address and
//! interval, then a count) become a [`Request`] appended to the
//! ingest spool under the internal topic [`API_TOPIC`], exactly like an MQTT message. The drain
//! applies requests in spool order, between the readings around them, so:
//!
//! - an acknowledged request survives a crash (it is durable before the API answers) and is
//!   applied exactly once to the state a snapshot covers (replays skip what the snapshot saw);
//! - the rule and delivery engines have one owner (the drain) and one order of inputs, so a
//!   replay produces the same notices with the same ids (the outbox deduplicates on them);
//! - every attempt is audited in QuestDB (`audit` table) through the same spool -> store path
//!   as the data, so an audit row cannot be lost once the request was answered.
//!
//! The topic starts with `$`, which no MQTT client can publish into our subscription.

use alerting::delivery::{DeliveryError, DeliveryEvent, Silence};
use alerting::model::Timestamp;
use serde::{Deserialize, Serialize};

/// The spool topic of journaled API requests (never an MQTT topic we subscribe to).
pub use weijian_ingest::delivery::API_TOPIC;

/// One API request as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Unique per request; returned to the client and stored in the audit row.
    pub id: String,
    /// When the API received it (the engines' `now` when applying it).
    pub at: Timestamp,
    /// The authenticated supervisor, `None` when authentication failed.
    pub supervisor: Option<String>,
    /// The client's address.
    pub remote: Option<String>,
    pub method: String,
    pub path: String,
    pub action: Action,
}

/// What the request asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Acknowledge {
        alert_id: String,
        note: String,
    },
    Resolve {
        alert_id: String,
        reason: String,
    },
    AddSilence {
        silence: Silence,
    },
    ExpireSilence {
        silence_id: String,
    },
    /// Refused before it reached the engines (401 bad token, 403 outside the caller's
    /// subtree, 413/414 too large): journaled for the audit trail only, at most once per
    /// remote address and interval (`crate::api` counts the rest into a summary row).
    Denied {
        status: u16,
        reason: String,
    },
}

impl Action {
    /// The audit row's `action`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Acknowledge { .. } => "acknowledge",
            Self::Resolve { .. } => "resolve",
            Self::AddSilence { .. } => "add_silence",
            Self::ExpireSilence { .. } => "expire_silence",
            Self::Denied { .. } => "denied",
        }
    }

    /// The audit row's `target`: the alert or silence acted on.
    pub fn target(&self) -> String {
        match self {
            Self::Acknowledge { alert_id, .. } | Self::Resolve { alert_id, .. } => alert_id.clone(),
            Self::AddSilence { silence } => silence.id.clone(),
            Self::ExpireSilence { silence_id } => silence_id.clone(),
            Self::Denied { .. } => String::new(),
        }
    }

    /// The audit row's `detail`: the note, reason or refusal.
    pub fn detail(&self) -> String {
        match self {
            Self::Acknowledge { note, .. } => note.clone(),
            Self::Resolve { reason, .. } | Self::Denied { reason, .. } => reason.clone(),
            Self::AddSilence { silence } => format!(
                "{} until {}: {}",
                silence_scope_text(silence),
                silence.until,
                silence.reason
            ),
            Self::ExpireSilence { .. } => String::new(),
        }
    }
}

fn silence_scope_text(s: &Silence) -> String {
    match &s.scope {
        alerting::delivery::silence::SilenceScope::Site { site } => format!("site {site}"),
        alerting::delivery::silence::SilenceScope::Device { site, device } => {
            format!("device {site}/{device}")
        }
    }
}

/// The result of applying a request, for the waiting API call.
pub type Applied = Result<Vec<DeliveryEvent>, DeliveryError>;

/// The HTTP status for an outcome (also the audit row's `status`).
pub fn status_of(result: &Applied) -> u16 {
    match result {
        Ok(_) => 200,
        Err(e) => match e {
            DeliveryError::NotFound(_)
            | DeliveryError::SilenceNotFound(_)
            | DeliveryError::UnknownSite(_) => 404,
            DeliveryError::Forbidden { .. } | DeliveryError::UnknownSupervisor(_) => 403,
            DeliveryError::AlreadyResolved(_) | DeliveryError::DuplicateSilence(_) => 409,
            _ => 422,
        },
    }
}

/// The audit row's `outcome` for a status.
pub fn outcome_of(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        422 | 400 => "invalid",
        413 | 414 => "too_large",
        _ => "error",
    }
}

impl Request {
    /// The spool payload (JSON).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a journaled request.
    ///
    /// # Errors
    /// The payload is not a request (only a bug or a foreign spool can cause this).
    pub fn decode(payload: &[u8]) -> Result<Request, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_through_its_spool_payload() {
        let r = Request {
            id: "r1".into(),
            at: Timestamp(1_700_000_000_000_000),
            supervisor: Some("sq-a".into()),
            remote: Some("127.0.0.1:5000".into()),
            method: "POST".into(),
            path: "/api/v1/alerts/x/ack".into(),
            action: Action::Acknowledge {
                alert_id: "W2/s/d/1".into(),
                note: "已派人到场".into(),
            },
        };
        let back = Request::decode(&r.encode()).map_err(|e| e.to_string());
        assert_eq!(back, Ok(r));
    }

    #[test]
    fn refusals_map_to_the_statuses_a_client_expects() {
        let forbidden: Applied = Err(DeliveryError::Forbidden {
            supervisor: "a".into(),
            site: "s".into(),
        });
        assert_eq!(status_of(&forbidden), 403);
        assert_eq!(outcome_of(403), "forbidden");
        assert_eq!(status_of(&Err(DeliveryError::NotFound("x".into()))), 404);
        assert_eq!(
            status_of(&Err(DeliveryError::AlreadyResolved("x".into()))),
            409
        );
        assert_eq!(status_of(&Ok(Vec::new())), 200);
        assert_eq!(outcome_of(401), "unauthorized");
    }
}
