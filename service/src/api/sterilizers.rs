//! `/api/v1/sites/{site}/sterilizers`: a dental clinic's sterilizers (S1-S6): today's cycles
//! (China Standard Time) with their computed verdicts and evidence, the last Bowie-Dick test
//! and whether today's passed, the last BI, and the recall list after a positive BI. Also
//! merged into the site status of dental sites.
//!
//! Answered from the desk's sterilizer view, which the drain refreshes whenever the rule
//! engine's sterilizer state changes.

use alerting::model::{DeviceKind, SiteKind, Timestamp};
use alerting::sterilization::{CycleRecord, SterilizerStatus};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::caller::Caller;
use super::error::ApiError;
use super::view::put_time;
use super::ApiState;
use crate::supervision::Desk;
use weijian_ingest::config::SiteEntry;

/// `GET /api/v1/sites/{site}/sterilizers`.
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("site", e.body_text()))?;
    let registry = state.desk.registry();
    let Some(entry) = registry.site(&id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    if !state.desk.read(|st| st.engine.can_see(caller.id(), &id)) {
        return Err(caller.forbid(&state.desk, &format!("site {id}")).await);
    }
    if entry.attributes.kind() != SiteKind::DentalSterilization {
        return Err(ApiError::not_found(format!(
            "site {id} is not a dental sterilization site"
        )));
    }
    let now = state.desk.now();
    let mut m = Map::new();
    m.insert("site".to_owned(), id.clone().into());
    put_time(&mut m, "now", Some(now));
    m.insert("sterilizers".to_owned(), of_site(&state.desk, entry, now));
    Ok(Json(Value::Object(m)))
}

/// The sterilizers of a dental site, as JSON (one entry per registered autoclave).
pub fn of_site(desk: &Desk, site: &SiteEntry, now: Timestamp) -> Value {
    desk.registry()
        .devices()
        .filter(|d| d.site == site.id && d.kind == DeviceKind::Autoclave)
        .map(|d| match desk.sterilizer(&d.id) {
            Some(status) => sterilizer(&status, now),
            None => json!({ "device": d.id.to_string(), "seen": false }),
        })
        .collect::<Vec<_>>()
        .into()
}

fn sterilizer(s: &SterilizerStatus, now: Timestamp) -> Value {
    let mut m = Map::new();
    m.insert("device".to_owned(), s.device.clone().into());
    m.insert("seen".to_owned(), true.into());
    m.insert(
        "open_cycle".to_owned(),
        s.open_cycle
            .as_ref()
            .map_or(Value::Null, |(id, program, start)| {
                let mut c = Map::new();
                c.insert("cycle_id".to_owned(), id.clone().into());
                c.insert("program".to_owned(), program.as_str().into());
                put_time(&mut c, "started_at", Some(*start));
                Value::Object(c)
            }),
    );
    let today: Vec<Value> = s.cycles_on_day_of(now).map(cycle).collect();
    m.insert("cycles_today".to_owned(), today.into());
    m.insert(
        "last_bowie_dick".to_owned(),
        s.last_bowie_dick.as_ref().map_or(Value::Null, |b| {
            let mut o = Map::new();
            o.insert("cycle_id".to_owned(), b.cycle_id.clone().into());
            o.insert(
                "result".to_owned(),
                if b.pass { "pass" } else { "fail" }.into(),
            );
            put_time(&mut o, "ts", Some(b.ts));
            Value::Object(o)
        }),
    );
    m.insert(
        "bowie_dick_ok_today".to_owned(),
        s.bowie_dick_ok(now).into(),
    );
    m.insert(
        "last_bi".to_owned(),
        s.last_bi.as_ref().map_or(Value::Null, |b| {
            let mut o = Map::new();
            o.insert("bi_id".to_owned(), b.bi_id.clone().into());
            o.insert("cycle_id".to_owned(), b.cycle_id.clone().into());
            o.insert(
                "result".to_owned(),
                if b.positive { "positive" } else { "negative" }.into(),
            );
            put_time(&mut o, "ts", Some(b.ts));
            Value::Object(o)
        }),
    );
    m.insert(
        "recall".to_owned(),
        s.recall.as_ref().map_or(Value::Null, |r| {
            let mut o = Map::new();
            o.insert("bi_id".to_owned(), r.bi.bi_id.clone().into());
            o.insert("bi_cycle_id".to_owned(), r.bi.cycle_id.clone().into());
            put_time(&mut o, "bi_ts", Some(r.bi.ts));
            put_time(&mut o, "since", r.since);
            o.insert(
                "cycles".to_owned(),
                r.cycles
                    .iter()
                    .map(|c| {
                        let mut e = Map::new();
                        e.insert("cycle_id".to_owned(), c.cycle_id.clone().into());
                        e.insert("program".to_owned(), c.program.as_str().into());
                        put_time(&mut e, "started_at", Some(c.started_at));
                        Value::Object(e)
                    })
                    .collect::<Vec<_>>()
                    .into(),
            );
            o.insert("more".to_owned(), r.more.into());
            Value::Object(o)
        }),
    );
    let unverified = s.unverified.cycles.len() as u64 + u64::from(s.unverified.more);
    m.insert("cycles_since_negative_bi".to_owned(), unverified.into());
    Value::Object(m)
}

fn cycle(c: &CycleRecord) -> Value {
    let mut m = Map::new();
    m.insert("cycle_id".to_owned(), c.cycle_id.clone().into());
    m.insert("program".to_owned(), c.program.as_str().into());
    m.insert("implant_load".to_owned(), c.implant_load.into());
    put_time(&mut m, "started_at", Some(c.started_at));
    put_time(&mut m, "ended_at", c.ended_at);
    m.insert(
        "device_verdict".to_owned(),
        c.device_verdict.map_or(Value::Null, |v| v.as_str().into()),
    );
    m.insert("verdict".to_owned(), c.verdict.as_str().into());
    m.insert(
        "reasons".to_owned(),
        c.reasons
            .iter()
            .map(|r| json!({ "code": r.code(), "en": r.text_en(), "zh": r.text_zh() }))
            .collect::<Vec<_>>()
            .into(),
    );
    let num = |v: Option<f64>| v.filter(|v| v.is_finite()).map_or(Value::Null, Value::from);
    m.insert("set_c".to_owned(), num(c.set_c));
    m.insert(
        "min_hold_secs".to_owned(),
        c.min_hold_secs.map_or(Value::Null, Value::from),
    );
    m.insert("hold_secs".to_owned(), num(c.hold_secs));
    m.insert("hold_min_temp_c".to_owned(), num(c.hold_min_temp_c));
    m.insert("hold_max_temp_c".to_owned(), num(c.hold_max_temp_c));
    m.insert("worst_dev_k".to_owned(), num(c.worst_dev_k));
    m.insert("max_gap_secs".to_owned(), num(c.max_gap_secs));
    m.insert("samples".to_owned(), c.samples.into());
    m.insert(
        "bd_result".to_owned(),
        c.bd_pass
            .map_or(Value::Null, |p| if p { "pass" } else { "fail" }.into()),
    );
    m.insert(
        "bi".to_owned(),
        c.bi.as_ref().map_or(Value::Null, |(id, positive)| {
            json!({ "bi_id": id, "result": if *positive { "positive" } else { "negative" } })
        }),
    );
    Value::Object(m)
}
