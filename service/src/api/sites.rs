//! `/api/v1/sites`: the sites of the caller's subtree with a status summary, and one site's
//! status (devices, open alerts, silences in force, worst level).

use alerting::model::{SiteAttributes, SiteKind, Timestamp};
use alerting::Level;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::caller::Caller;
use super::error::ApiError;
use super::schema;
use super::sterilizers::SterilizerView;
use super::view::{self, AlertState, Grid, LevelView, SilenceView};
use super::waste::WasteLedger;
use super::ApiState;
use crate::supervision::{AlertRecord, DeskState};
use weijian_ingest::config::{Registry, SiteEntry};

/// What a site's summary and its status share.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteHead {
    pub id: String,
    pub name: String,
    #[schema(schema_with = schema::site_kind)]
    pub kind: &'static str,
    pub grid: Grid,
    /// The most severe open alert's level (1 = I .. 4 = IV); null when all clear.
    #[schema(minimum = 1, maximum = 4, required = true)]
    pub worst_level: Option<u8>,
    #[schema(schema_with = schema::worst_level_code, required = true)]
    pub worst_level_code: Option<&'static str>,
    #[schema(schema_with = schema::worst_colour, required = true)]
    pub colour: Option<&'static str>,
    /// Open alerts nobody has acknowledged yet.
    pub unacknowledged_alerts: usize,
}

/// A site as listed: its status in counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteSummary {
    #[serde(flatten)]
    pub head: SiteHead,
    /// Registered devices.
    pub devices: usize,
    /// Open alerts (acknowledged or not).
    pub open_alerts: usize,
    /// Silences in force.
    pub silences: usize,
}

/// The answer of `GET /api/v1/sites`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteList {
    pub sites: Vec<SiteSummary>,
}

/// A site's status: its devices, open alerts, silences in force and worst level; a waste
/// store's ledger, a dental clinic's sterilizers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteStatus {
    #[serde(flatten)]
    pub head: SiteHead,
    pub devices: Vec<SiteDevice>,
    pub open_alerts: Vec<SiteAlert>,
    /// Silences in force.
    pub silences: Vec<SilenceView>,
    /// Waste stores only (医疗废物暂存间).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub waste: Option<WasteLedger>,
    /// Dental clinics only: their sterilizers (as `GET /api/v1/sites/{site}/sterilizers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sterilizers: Option<Vec<SterilizerView>>,
}

/// A device registered at a site.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteDevice {
    pub id: String,
    #[schema(schema_with = schema::device_kind)]
    pub kind: &'static str,
    /// How often it reports; silence longer than this raises an offline alert.
    pub expected_interval_secs: u32,
}

/// An open alert of a site.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteAlert {
    pub id: String,
    /// Rule id, e.g. W2.
    pub rule: String,
    #[serde(flatten)]
    pub level: LevelView,
    /// Device id, or `*` for site-wide alerts.
    pub device: String,
    /// `open` or `acknowledged`.
    pub state: AlertState,
    pub acknowledged: bool,
    /// When the condition started, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub started_at: String,
    /// When the condition started, epoch microseconds.
    pub started_at_us: i64,
}

/// Sites of the caller's subtree with a status summary, in configuration order.
#[utoipa::path(
    get,
    path = "/api/v1/sites",
    tag = "sites",
    operation_id = "listSites",
    responses(
        (status = 200, description = "The sites.", body = SiteList),
        (status = 401, response = super::error::Unauthorized),
    )
)]
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Json<SiteList> {
    let now = state.desk.now();
    let registry = state.desk.registry();
    let sites = state.desk.read(|st| {
        registry
            .sites()
            .filter(|s| st.engine.can_see(caller.id(), &s.id))
            .map(|s| {
                let open = open_alerts(st, s);
                SiteSummary {
                    head: head(s, &open),
                    devices: registry.devices().filter(|d| d.site == s.id).count(),
                    open_alerts: open.len(),
                    silences: silences_of(st, s, now).len(),
                }
            })
            .collect()
    });
    Json(SiteList { sites })
}

/// A site's devices, open alerts, silences and worst level.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site}/status",
    tag = "sites",
    operation_id = "siteStatus",
    params(("site" = String, Path, description = "The site id.")),
    responses(
        (status = 200, description = "The status.", body = SiteStatus),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
    )
)]
pub async fn status(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SiteStatus>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("site", e.body_text()))?;
    let now = state.desk.now();
    let registry = state.desk.registry();
    let Some(entry) = registry.site(&id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    let found = state.desk.read(|st| {
        st.engine
            .can_see(caller.id(), &id)
            .then(|| site_status(st, &registry, entry, now))
    });
    match found {
        Some(mut body) => {
            if let SiteAttributes::WasteStore(_) = &entry.attributes {
                let ledger = state.desk.waste().get(&id);
                body.waste = Some(super::waste::ledger(ledger.as_ref(), now));
            }
            // Dental clinics: their sterilizers (today's cycles, B-D, BI, recall).
            if entry.attributes.kind() == SiteKind::DentalSterilization {
                body.sterilizers = Some(super::sterilizers::of_site(&state.desk, entry, now));
            }
            Ok(Json(body))
        }
        None => Err(caller.forbid(&state, &format!("site {id}")).await),
    }
}

/// The open (firing) alerts of a site, acknowledged or not.
pub(crate) fn open_alerts<'a>(
    st: &'a DeskState,
    s: &SiteEntry,
) -> Vec<(&'a String, &'a AlertRecord, AlertState)> {
    st.alerts
        .iter()
        .filter(|(_, rec)| *rec.last.site == *s.id)
        .map(|(id, rec)| (id, rec, AlertState::of(st, id, rec)))
        .filter(|(_, _, state)| matches!(state, AlertState::Open | AlertState::Acknowledged))
        .collect()
}

fn silences_of<'a>(
    st: &'a DeskState,
    s: &SiteEntry,
    now: Timestamp,
) -> Vec<&'a alerting::delivery::Silence> {
    st.engine
        .silences(now)
        .into_iter()
        .filter(|x| *x.scope.site() == *s.id)
        .collect()
}

pub(crate) fn head(s: &SiteEntry, open: &[(&String, &AlertRecord, AlertState)]) -> SiteHead {
    let worst: Option<Level> = open.iter().map(|(_, rec, _)| rec.last.level).max();
    SiteHead {
        id: s.id.to_string(),
        name: s.name.clone(),
        kind: s.attributes.kind().as_str(),
        grid: (&s.grid).into(),
        worst_level: worst.map(Level::number),
        worst_level_code: worst.map(Level::as_str),
        colour: worst.map(Level::colour),
        unacknowledged_alerts: open
            .iter()
            .filter(|(_, _, state)| *state == AlertState::Open)
            .count(),
    }
}

/// A site's status, its devices, alerts and silences listed (without the waste ledger and
/// the sterilizers, which `status` adds).
fn site_status(st: &DeskState, registry: &Registry, s: &SiteEntry, now: Timestamp) -> SiteStatus {
    let open = open_alerts(st, s);
    SiteStatus {
        head: head(s, &open),
        devices: registry
            .devices()
            .filter(|d| d.site == s.id)
            .map(|d| SiteDevice {
                id: d.id.to_string(),
                kind: d.kind.as_str(),
                expected_interval_secs: d.expected_interval_secs,
            })
            .collect(),
        open_alerts: open
            .iter()
            .map(|(id, rec, state)| {
                let (started_at, started_at_us) = view::at(rec.last.started_at);
                SiteAlert {
                    id: (*id).clone(),
                    rule: rec.last.rule.clone(),
                    level: rec.last.level.into(),
                    device: rec.last.device.clone(),
                    state: *state,
                    acknowledged: *state == AlertState::Acknowledged,
                    started_at,
                    started_at_us,
                }
            })
            .collect(),
        silences: silences_of(st, s, now)
            .into_iter()
            .map(|x| view::silence(registry, x, now))
            .collect(),
        waste: None,
        sterilizers: None,
    }
}
