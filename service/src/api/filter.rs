//! The query of `GET /api/v1/alerts`: which alerts, parsed strictly (an unknown parameter or a
//! bad value is a 400 naming the parameter, so a typo never silently widens the list).

use alerting::model::Timestamp;
use alerting::Level;

use utoipa::IntoParams;

use super::error::ApiError;
use super::time;
use super::view::AlertState;
use crate::supervision::AlertRecord;

/// Alerts answered when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// The most alerts one call answers.
pub const MAX_LIMIT: usize = 1000;

pub(super) const PARAMETERS: &[&str] = &[
    "state",
    "level",
    "min_level",
    "site",
    "district",
    "street",
    "community",
    "since",
    "until",
    "limit",
];

/// The query parameters as the OpenAPI document describes them ([`AlertFilter::parse`] reads
/// them; a test checks that both know the same names).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AlertQuery {
    /// Which part of the life of alerts (described in `state_schema`).
    #[param(schema_with = state_schema)]
    state: Option<String>,
    /// Exactly this level: I, II, III, IV (any case) or 1..4 (1 = I, the most severe).
    #[param(pattern = "^([Ii]{1,3}|[Ii][Vv]|[1-4])$")]
    level: Option<String>,
    /// This level or more severe: I, II, III, IV or 1..4.
    #[param(pattern = "^([Ii]{1,3}|[Ii][Vv]|[1-4])$")]
    min_level: Option<String>,
    /// Site id.
    site: Option<String>,
    /// Grid district (区).
    district: Option<String>,
    /// Grid street (街道).
    street: Option<String>,
    /// Grid community (社区).
    community: Option<String>,
    /// `started_at >= since`: RFC 3339 (any offset) or epoch milliseconds.
    since: Option<String>,
    /// `started_at < until`: RFC 3339 (any offset) or epoch milliseconds.
    until: Option<String>,
    /// At most this many (1..1000, default 100).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

fn state_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(STATES))
        .default(Some("open".into()))
        .description(Some(
            "Default `open` (firing, acknowledged or not); `all` includes pending alerts.",
        ))
        .build()
}

/// The values of `state=`.
const STATES: [&str; 5] = ["open", "acknowledged", "unacknowledged", "resolved", "all"];

/// `state=`: which part of the life of alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Firing, acknowledged or not (the default).
    Open,
    Acknowledged,
    Unacknowledged,
    Resolved,
    /// Everything the desk remembers, pending alerts included.
    All,
}

impl StateFilter {
    pub fn matches(self, s: AlertState) -> bool {
        match self {
            Self::Open => matches!(s, AlertState::Open | AlertState::Acknowledged),
            Self::Acknowledged => s == AlertState::Acknowledged,
            Self::Unacknowledged => s == AlertState::Open,
            Self::Resolved => s == AlertState::Resolved,
            Self::All => true,
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFilter {
    pub state: StateFilter,
    /// Exactly this level.
    pub level: Option<Level>,
    /// This level or more severe.
    pub min_level: Option<Level>,
    pub site: Option<String>,
    pub district: Option<String>,
    pub street: Option<String>,
    pub community: Option<String>,
    /// `started_at >= since`.
    pub since: Option<Timestamp>,
    /// `started_at < until`.
    pub until: Option<Timestamp>,
    pub limit: usize,
}

impl AlertFilter {
    /// Parses query pairs.
    ///
    /// # Errors
    /// 400 naming the first bad or unknown parameter.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut f = AlertFilter {
            state: StateFilter::Open,
            level: None,
            min_level: None,
            site: None,
            district: None,
            street: None,
            community: None,
            since: None,
            until: None,
            limit: DEFAULT_LIMIT,
        };
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            let name = name.as_str();
            if !PARAMETERS.contains(&name) {
                return Err(ApiError::bad_parameter(
                    name,
                    format!("unknown; known parameters: {}", PARAMETERS.join(", ")),
                ));
            }
            if seen.contains(&name) {
                return Err(ApiError::bad_parameter(name, "given more than once"));
            }
            seen.push(name);
            let text = || non_empty(name, value);
            match name {
                "state" => f.state = state(value)?,
                "level" => f.level = Some(level(name, value)?),
                "min_level" => f.min_level = Some(level(name, value)?),
                "site" => f.site = Some(text()?),
                "district" => f.district = Some(text()?),
                "street" => f.street = Some(text()?),
                "community" => f.community = Some(text()?),
                "since" => {
                    f.since =
                        Some(time::parse(value).map_err(|e| ApiError::bad_parameter(name, e))?);
                }
                "until" => {
                    f.until =
                        Some(time::parse(value).map_err(|e| ApiError::bad_parameter(name, e))?);
                }
                _ => f.limit = limit(value)?,
            }
        }
        if let (Some(since), Some(until)) = (f.since, f.until) {
            if until <= since {
                return Err(ApiError::bad_parameter("until", "must be after `since`"));
            }
        }
        Ok(f)
    }

    /// Whether a record passes every filter but the state.
    pub fn matches(&self, rec: &AlertRecord) -> bool {
        let e = &rec.last;
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        self.level.is_none_or(|l| e.level == l)
            && self.min_level.is_none_or(|l| e.level >= l)
            && eq(&self.site, &e.site)
            && eq(&self.district, &e.grid.district)
            && eq(&self.street, &e.grid.street)
            && eq(&self.community, &e.grid.community)
            && self.since.is_none_or(|t| e.started_at >= t)
            && self.until.is_none_or(|t| e.started_at < t)
    }
}

fn non_empty(name: &str, value: &str) -> Result<String, ApiError> {
    if value.trim().is_empty() {
        Err(ApiError::bad_parameter(name, "is empty"))
    } else {
        Ok(value.trim().to_owned())
    }
}

fn state(value: &str) -> Result<StateFilter, ApiError> {
    match value {
        "open" => Ok(StateFilter::Open),
        "acknowledged" => Ok(StateFilter::Acknowledged),
        "unacknowledged" => Ok(StateFilter::Unacknowledged),
        "resolved" => Ok(StateFilter::Resolved),
        "all" => Ok(StateFilter::All),
        other => Err(ApiError::bad_parameter(
            "state",
            format!("`{other}` is not one of {}", STATES.join(", ")),
        )),
    }
}

/// `I`..`IV` (any case) or `1`..`4`.
fn level(name: &str, value: &str) -> Result<Level, ApiError> {
    let v = value.trim().to_ascii_uppercase();
    let by_number = v
        .parse::<u8>()
        .ok()
        .and_then(|n| Level::ALL.into_iter().find(|l| l.number() == n));
    by_number.or_else(|| Level::parse(&v)).ok_or_else(|| {
        ApiError::bad_parameter(
            name,
            format!("`{value}` is not a level: I, II, III, IV or 1..4 (1 = I, the most severe)"),
        )
    })
}

fn limit(value: &str) -> Result<usize, ApiError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_parameter(
            "limit",
            format!("`{value}` is not a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}
