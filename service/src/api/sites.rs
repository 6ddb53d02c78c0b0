//! `/api/v1/sites`: the sites of the caller's subtree with a status summary, and one site's
//! status (devices, open alerts, silences in force, worst level).

use alerting::model::Timestamp;
use alerting::Level;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::caller::Caller;
use super::error::ApiError;
use super::view::{self, AlertState};
use super::ApiState;
use crate::supervision::DeskState;
use weijian_ingest::config::{Registry, SiteEntry};

/// `GET /api/v1/sites`: the sites the caller may see, in configuration order.
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Json<Value> {
    let now = state.desk.now();
    let registry = state.desk.registry();
    let sites = state.desk.read(|st| {
        registry
            .sites()
            .filter(|s| st.engine.can_see(caller.id(), &s.id))
            .map(|s| site(st, registry, s, now, false))
            .collect::<Vec<_>>()
    });
    Json(json!({ "sites": sites }))
}

/// `GET /api/v1/sites/{site}/status`.
pub async fn status(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("site", e.body_text()))?;
    let now = state.desk.now();
    let registry = state.desk.registry();
    let Some(entry) = registry.site(&id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    let found = state.desk.read(|st| {
        st.engine
            .can_see(caller.id(), &id)
            .then(|| site(st, registry, entry, now, true))
    });
    match found {
        Some(mut body) => {
            if let (Some(m), alerting::model::SiteAttributes::WasteStore(_)) =
                (body.as_object_mut(), &entry.attributes)
            {
                let ledger = state.desk.waste().get(&id);
                m.insert(
                    "waste".to_owned(),
                    super::waste::ledger(ledger.as_ref(), now),
                );
            }
            // Dental clinics: their sterilizers (today's cycles, B-D, BI, recall).
            if entry.attributes.kind() == alerting::model::SiteKind::DentalSterilization {
                if let Some(m) = body.as_object_mut() {
                    let sterilizers = super::sterilizers::of_site(&state.desk, entry, now);
                    m.insert("sterilizers".to_owned(), sterilizers);
                }
            }
            Ok(Json(body))
        }
        None => Err(caller.forbid(&state.desk, &format!("site {id}")).await),
    }
}

/// A site's status; `full` lists devices, alerts and silences, else counts them.
fn site(st: &DeskState, registry: &Registry, s: &SiteEntry, now: Timestamp, full: bool) -> Value {
    let open: Vec<(&String, &crate::supervision::AlertRecord, AlertState)> = st
        .alerts
        .iter()
        .filter(|(_, rec)| *rec.last.site == *s.id)
        .map(|(id, rec)| (id, rec, AlertState::of(st, id, rec)))
        .filter(|(_, _, state)| matches!(state, AlertState::Open | AlertState::Acknowledged))
        .collect();
    let worst: Option<Level> = open.iter().map(|(_, rec, _)| rec.last.level).max();
    let silences: Vec<_> = st
        .engine
        .silences(now)
        .into_iter()
        .filter(|x| *x.scope.site() == *s.id)
        .collect();
    let mut m = Map::new();
    m.insert("id".to_owned(), s.id.to_string().into());
    m.insert("name".to_owned(), s.name.clone().into());
    m.insert("kind".to_owned(), s.attributes.kind().as_str().into());
    m.insert("grid".to_owned(), view::grid(&s.grid));
    m.insert(
        "worst_level".to_owned(),
        worst.map_or(Value::Null, |l| l.number().into()),
    );
    m.insert(
        "worst_level_code".to_owned(),
        worst.map_or(Value::Null, |l| l.as_str().into()),
    );
    m.insert(
        "colour".to_owned(),
        worst.map_or(Value::Null, |l| l.colour().into()),
    );
    let unacknowledged = open
        .iter()
        .filter(|(_, _, state)| *state == AlertState::Open)
        .count();
    if !full {
        let devices = registry.devices().filter(|d| d.site == s.id).count();
        m.insert("devices".to_owned(), devices.into());
        m.insert("open_alerts".to_owned(), open.len().into());
        m.insert("unacknowledged_alerts".to_owned(), unacknowledged.into());
        m.insert("silences".to_owned(), silences.len().into());
        return Value::Object(m);
    }
    let devices: Vec<Value> = registry
        .devices()
        .filter(|d| d.site == s.id)
        .map(|d| {
            json!({
                "id": d.id.to_string(),
                "kind": d.kind.as_str(),
                "expected_interval_secs": d.expected_interval_secs,
            })
        })
        .collect();
    let alerts: Vec<Value> = open
        .iter()
        .map(|(id, rec, state)| {
            let mut a = Map::new();
            a.insert("id".to_owned(), id.as_str().into());
            a.insert("rule".to_owned(), rec.last.rule.clone().into());
            view::put_level(&mut a, rec.last.level);
            a.insert("device".to_owned(), rec.last.device.clone().into());
            a.insert("state".to_owned(), state.as_str().into());
            a.insert(
                "acknowledged".to_owned(),
                (*state == AlertState::Acknowledged).into(),
            );
            view::put_time(&mut a, "started_at", Some(rec.last.started_at));
            Value::Object(a)
        })
        .collect();
    m.insert("devices".to_owned(), devices.into());
    m.insert("open_alerts".to_owned(), alerts.into());
    m.insert("unacknowledged_alerts".to_owned(), unacknowledged.into());
    m.insert(
        "silences".to_owned(),
        silences
            .into_iter()
            .map(|x| view::silence(registry, x, now))
            .collect::<Vec<_>>()
            .into(),
    );
    Value::Object(m)
}
