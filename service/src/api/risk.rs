//! `/api/v1/risk`: the site risk index of the caller's subtree (grades with explanations,
//! grid roll-ups), its recomputation, and the 双随机 draw.
//!
//! Grades are those of a China Standard Time day (`date=YYYY-MM-DD`; by default yesterday, the
//! last complete day, which the daily run stored in `site_risk`), computed from the alert-day
//! ledger, so the answer is the same as the stored rows.

use alerting::delivery::grid::{Cell, Tier};
use alerting::model::{SiteKind, Timestamp};
use alerting::risk::{self, cst_date, cst_day, DrawInput, Grade, PastInspection, SiteRisk};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::caller::Caller;
use super::error::ApiError;
use super::view;
use super::ApiState;
use weijian_ingest::config::SiteEntry;
use weijian_ingest::risk::RiskBoard;

/// Most sites one draw may ask for (product default: a bound on the answer's size).
const MAX_DRAW: u32 = 10_000;
/// Worst sites listed per cell of a roll-up by default (product default).
const DEFAULT_WORST: usize = 3;

fn board(state: &ApiState) -> Result<&RiskBoard, ApiError> {
    state
        .desk
        .risk()
        .ok_or_else(|| ApiError::unavailable("the risk index is not running yet"))
}

fn pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_parameter("(query)", e.body_text()))?;
    Ok(pairs)
}

fn only(pairs: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    match pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => Err(ApiError::bad_parameter(
            k,
            format!("unknown parameter (expected one of {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `date=` or yesterday (China Standard Time) of `now`.
fn day_of(date: Option<&str>, now: Timestamp) -> Result<i64, ApiError> {
    match date {
        None => Ok(cst_day(now) - 1),
        Some("today") => Ok(cst_day(now)),
        Some(d) => risk::parse_date(d).ok_or_else(|| {
            ApiError::bad_parameter("date", format!("{d:?} is not YYYY-MM-DD or today"))
        }),
    }
}

fn kind_of(s: &str) -> Option<SiteKind> {
    [
        SiteKind::Water,
        SiteKind::WasteStore,
        SiteKind::DentalSterilization,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

fn site_json(entry: &SiteEntry, r: &SiteRisk, board: &RiskBoard, full: bool) -> Value {
    let p = board.params();
    let mut v = json!({
        "site": r.site,
        "name": entry.name,
        "kind": entry.attributes.kind().as_str(),
        "grid": view::Grid::from(&entry.grid),
        "date": r.date,
        "score": r.score,
        "grade": r.grade.as_str(),
        "grade_zh": r.grade.name_zh(),
        "grade_en": r.grade.name_en(),
        "alert_days": r.alert_days,
        "alerts": r.alerts,
        "explanation": { "zh": r.explain_zh(p), "en": r.explain_en(p) },
    });
    if full {
        if let Some(m) = v.as_object_mut() {
            m.insert("grade_floor".into(), json!(r.grade_floor));
            m.insert("next_grade_at".into(), json!(r.next_grade_at));
            m.insert(
                "by_rule".into(),
                Value::Array(
                    r.by_rule()
                        .into_iter()
                        .map(|(rule, level, days, points)| {
                            json!({"rule": rule, "level": level.as_str(), "alert_days": days, "points": points})
                        })
                        .collect(),
                ),
            );
            m.insert(
                "contributions".into(),
                serde_json::to_value(&r.contributions).unwrap_or_default(),
            );
        }
    }
    v
}

fn params_json(board: &RiskBoard) -> Value {
    let p = board.params();
    json!({
        "window_days": p.window_days,
        "half_life_days": p.half_life_days,
        "points": {"I": p.points[0], "II": p.points[1], "III": p.points[2], "IV": p.points[3]},
        "grades": {"B": p.grade_min[0], "C": p.grade_min[1], "D": p.grade_min[2]},
    })
}

/// The caller's visible sites scored on `day`, with their registry entries.
fn visible_scores<'b>(
    board: &'b RiskBoard,
    caller: &Caller,
    day: i64,
) -> Vec<(&'b SiteEntry, SiteRisk)> {
    let registry = board.registry();
    board
        .score_day(day)
        .into_iter()
        .filter_map(|r| registry.site(&r.site).map(|e| (e, r)))
        .filter(|(e, _)| caller.supervisor.cell.contains(&e.grid))
        .collect()
}

/// `GET /api/v1/risk/sites`: grades of the caller's sites, the riskiest first.
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let pairs = pairs(query)?;
    only(
        &pairs,
        &[
            "date",
            "grade",
            "min_grade",
            "kind",
            "district",
            "street",
            "community",
        ],
    )?;
    let board = board(&state)?;
    let day = day_of(param(&pairs, "date"), state.desk.now())?;
    let grade = grade_param(&pairs, "grade")?;
    let min_grade = grade_param(&pairs, "min_grade")?;
    let kind = match param(&pairs, "kind") {
        None => None,
        Some(k) => Some(kind_of(k).ok_or_else(|| {
            ApiError::bad_parameter(
                "kind",
                "expected water, waste_store or dental_sterilization",
            )
        })?),
    };
    let mut found = visible_scores(board, &caller, day);
    found.retain(|(e, r)| {
        grade.is_none_or(|g| r.grade == g)
            && min_grade.is_none_or(|g| r.grade >= g)
            && kind.is_none_or(|k| e.attributes.kind() == k)
            && param(&pairs, "district").is_none_or(|d| e.grid.district == d)
            && param(&pairs, "street").is_none_or(|s| e.grid.street == s)
            && param(&pairs, "community").is_none_or(|c| e.grid.community == c)
    });
    found.sort_by(|(_, a), (_, b)| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.site.cmp(&b.site))
    });
    let sites: Vec<Value> = found
        .iter()
        .map(|(e, r)| site_json(e, r, board, false))
        .collect();
    Ok(Json(json!({
        "date": cst_date(day),
        "parameters": params_json(board),
        "sites": sites,
    })))
}

fn grade_param(pairs: &[(String, String)], name: &str) -> Result<Option<Grade>, ApiError> {
    match param(pairs, name) {
        None => Ok(None),
        Some(g) => Grade::parse(g)
            .map(Some)
            .ok_or_else(|| ApiError::bad_parameter(name, "expected A, B, C or D")),
    }
}

/// `GET /api/v1/risk/sites/{site}`: one site's grade with every alert-day and its points.
pub async fn site(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("site", e.body_text()))?;
    let pairs = pairs(query)?;
    only(&pairs, &["date"])?;
    let board = board(&state)?;
    let day = day_of(param(&pairs, "date"), state.desk.now())?;
    let Some(entry) = board.registry().site(&id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    if !caller.supervisor.cell.contains(&entry.grid) {
        return Err(caller.forbid(&state.desk, &format!("site {id}")).await);
    }
    let scores = board.score_day(day);
    let Some(r) = scores.iter().find(|r| r.site == id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    let mut body = site_json(entry, r, board, true);
    if let Some(m) = body.as_object_mut() {
        m.insert("parameters".into(), params_json(board));
    }
    Ok(Json(body))
}

/// `GET /api/v1/risk/grid?tier=community|street|district`: per cell of the caller's subtree,
/// sites per grade and the worst sites.
pub async fn grid(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let pairs = pairs(query)?;
    only(&pairs, &["date", "tier", "worst"])?;
    let board = board(&state)?;
    let day = day_of(param(&pairs, "date"), state.desk.now())?;
    let tier = match param(&pairs, "tier").unwrap_or("community") {
        "community" => Tier::Community,
        "street" => Tier::Street,
        "district" => Tier::District,
        "city" => Tier::City,
        other => {
            return Err(ApiError::bad_parameter(
                "tier",
                format!("{other:?}: expected community, street, district or city"),
            ))
        }
    };
    let worst_n = match param(&pairs, "worst") {
        None => DEFAULT_WORST,
        Some(w) => w
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 100)
            .ok_or_else(|| ApiError::bad_parameter("worst", "expected 0 to 100"))?,
    };
    let mut cells: Vec<(Cell, Vec<(&SiteEntry, SiteRisk)>)> = Vec::new();
    for (e, r) in visible_scores(board, &caller, day) {
        let cell = Cell::of(&e.grid, tier);
        match cells.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, v)) => v.push((e, r)),
            None => cells.push((cell, vec![(e, r)])),
        }
    }
    cells.sort_by(|a, b| a.0.cmp(&b.0));
    let out: Vec<Value> = cells
        .into_iter()
        .map(|(cell, mut sites)| {
            let count = |g: Grade| sites.iter().filter(|(_, r)| r.grade == g).count();
            let grades = json!({"A": count(Grade::A), "B": count(Grade::B), "C": count(Grade::C), "D": count(Grade::D)});
            sites.sort_by(|(_, a), (_, b)| b.score.total_cmp(&a.score).then_with(|| a.site.cmp(&b.site)));
            let worst: Vec<Value> = sites
                .iter()
                .take(worst_n)
                .map(|(e, r)| json!({"site": r.site, "name": e.name, "grade": r.grade.as_str(), "score": r.score}))
                .collect();
            json!({
                "cell": cell.to_string(),
                "district": cell.district,
                "street": cell.street,
                "community": cell.community,
                "sites": sites.len(),
                "grades": grades,
                "worst": worst,
            })
        })
        .collect();
    Ok(Json(json!({
        "date": cst_date(day),
        "tier": tier.as_str(),
        "cells": out,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recompute {
    date: Option<String>,
}

/// `POST /api/v1/risk/recompute` `{"date": "YYYY-MM-DD"}`: scores the day again (default
/// yesterday) and rewrites its `site_risk` rows (idempotent).
pub async fn recompute(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: Recompute = if body.is_empty() {
        Recompute { date: None }
    } else {
        serde_json::from_slice(&body).map_err(ApiError::bad_body)?
    };
    let board = board(&state)?;
    let day = day_of(req.date.as_deref(), state.desk.now())?;
    let scores = board.recompute(day);
    tracing::info!(supervisor = %caller.id(), date = %cst_date(day), sites = scores.len(), "Recomputed the site risk index.");
    Ok(Json(json!({
        "date": cst_date(day),
        "sites": scores.len(),
        "table": "site_risk",
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DrawRequest {
    #[serde(default)]
    scope: Option<Cell>,
    kind: Option<SiteKind>,
    n: u32,
    inspectors: Vec<String>,
    exclude_days: Option<u32>,
    inspectors_per_site: Option<u32>,
    /// Decimal u64 (as a string, since JSON numbers lose precision above 2^53) or a number.
    seed: Option<Value>,
    date: Option<String>,
    #[serde(default)]
    inspections: Vec<PastInspection>,
}

/// `POST /api/v1/risk/draws`: draws `n` sites of `scope` (inside the caller's cell) and their
/// inspectors; 201 with the draw id, the published inputs and result, a table and CSV.
pub async fn draw(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: DrawRequest = serde_json::from_slice(&body).map_err(ApiError::bad_body)?;
    let board = board(&state)?;
    let now = state.desk.now();
    let scope = req.scope.unwrap_or_else(|| caller.supervisor.cell.clone());
    let own = &caller.supervisor.cell;
    let inside = [
        (&own.district, &scope.district),
        (&own.street, &scope.street),
        (&own.community, &scope.community),
    ]
    .iter()
    .all(|(o, s)| o.is_none() || o == s);
    if !inside {
        return Err(caller
            .forbid(&state.desk, &format!("grid cell {scope}"))
            .await);
    }
    if req.n > MAX_DRAW {
        return Err(ApiError::bad_body(format!(
            "`n` must be at most {MAX_DRAW}"
        )));
    }
    // The day of the draw: today unless given.
    let today = match req.date.as_deref() {
        None => cst_day(now),
        Some(d) => day_of(Some(d), now)?,
    };
    let seed = match &req.seed {
        None => weijian_ingest::risk::fresh_seed(now),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| ApiError::bad_body("`seed` must be a whole number 0 .. 2^64-1"))?,
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| ApiError::bad_body("`seed` must be a whole number 0 .. 2^64-1"))?,
        Some(_) => {
            return Err(ApiError::bad_body(
                "`seed` must be a decimal string or a number",
            ))
        }
    };
    // Grades as of the last complete day before the draw.
    let registry = board.registry();
    let sites = board
        .score_day(today - 1)
        .into_iter()
        .filter_map(|r| {
            let e = registry.site(&r.site)?;
            scope.contains(&e.grid).then(|| risk::DrawSite {
                site: r.site.clone(),
                kind: e.attributes.kind(),
                grid: e.grid.clone(),
                grade: r.grade,
            })
        })
        .collect();
    let mut inspections = board.past_inspections();
    inspections.extend(req.inspections);
    let p = board.params();
    let input = DrawInput {
        date: cst_date(today),
        grades_as_of: Some(cst_date(today - 1)),
        scope,
        kind: req.kind,
        n: req.n,
        exclude_days: req.exclude_days.unwrap_or(p.exclude_days),
        inspectors_per_site: req.inspectors_per_site.unwrap_or(p.inspectors_per_site),
        weights: p.weights,
        seed,
        inspectors: req.inspectors,
        sites,
        inspections,
    };
    let result = risk::draw(&input).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "draw_impossible",
            e.to_string(),
        )
    })?;
    let id = weijian_ingest::risk::draw_id(&input.date, seed);
    board.store_draw(&id, &input, &result, caller.id(), now);
    tracing::info!(supervisor = %caller.id(), draw = %id, picks = result.picks.len(), "A 双随机 draw was made.");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "draw_id": id,
            "seed": seed.to_string(),
            "input": input,
            "result": result,
            "table": result.to_table(),
            "csv": result.to_csv(),
        })),
    )
        .into_response())
}
