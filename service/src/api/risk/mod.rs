//! `/api/v1/risk`: the site risk index of the caller's subtree (grades with explanations,
//! grid roll-ups), its recomputation, and the 双随机 draw.
//!
//! Grades are those of a China Standard Time day (`date=YYYY-MM-DD`; by default yesterday, the
//! last complete day, which the daily run stored in `site_risk`), computed from the alert-day
//! ledger, so the answer is the same as the stored rows.
//!
//! The answers are the types below (documented in the OpenAPI document like every answer of
//! the API). A draw's `input` and `result` are the published record that `weijian risk verify`
//! re-runs: [`DrawInputView`] and [`DrawResultView`] write exactly what alerting's
//! [`DrawInput`] and [`DrawResult`] write (their conversions name every field, so a field added
//! there does not compile here until it is added to the answer too; a test compares the two).
//!
//! - `query.rs`: the queries and request bodies, as the document describes them.
//! - `answer.rs`: the answers about grades (sites, a site's explanation, grid roll-ups).
//! - `record.rs`: a draw's published record (its inputs and result) and the draw's answer.
//! - here: the handlers and what they share.

mod answer;
mod query;
mod record;

pub use answer::*;
pub use query::*;
pub use record::*;

use alerting::delivery::grid::{Cell, Tier};
use alerting::model::{SiteKind, Timestamp};
use alerting::risk::{self, cst_date, cst_day, DrawInput, DrawSite, Grade, SiteRisk};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::ApiState;
use weijian_ingest::config::SiteEntry;
use weijian_ingest::risk::RiskBoard;

/// Most sites one draw may ask for (product default: a bound on the answer's size).
pub(super) const MAX_DRAW: u32 = 10_000;
/// Worst sites listed per cell of a roll-up by default (product default).
pub(super) const DEFAULT_WORST: usize = 3;
/// Most worst sites listed per cell of a roll-up.
const MAX_WORST: usize = 100;

/// The query parameters of `GET /api/v1/risk/sites` (any other is a 400).
pub(super) const SITES_PARAMETERS: &[&str] = &[
    "date",
    "grade",
    "min_grade",
    "kind",
    "district",
    "street",
    "community",
];
/// The query parameters of `GET /api/v1/risk/sites/{site}`.
pub(super) const SITE_PARAMETERS: &[&str] = &["date"];
/// The query parameters of `GET /api/v1/risk/grid`.
pub(super) const GRID_PARAMETERS: &[&str] = &["date", "tier", "worst"];

// ---------------------------------------------------------------------------------------------
// Helpers.

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

fn grade_param(pairs: &[(String, String)], name: &str) -> Result<Option<Grade>, ApiError> {
    match param(pairs, name) {
        None => Ok(None),
        Some(g) => Grade::parse(g)
            .map(Some)
            .ok_or_else(|| ApiError::bad_parameter(name, "expected A, B, C or D")),
    }
}

fn site_grade(entry: &SiteEntry, r: &SiteRisk, board: &RiskBoard) -> SiteGrade {
    let p = board.params();
    SiteGrade {
        site: r.site.clone(),
        name: entry.name.clone(),
        kind: entry.attributes.kind().as_str(),
        grid: (&entry.grid).into(),
        date: r.date.clone(),
        score: r.score,
        grade: r.grade.as_str(),
        grade_zh: r.grade.name_zh(),
        grade_en: r.grade.name_en(),
        alert_days: r.alert_days,
        alerts: r.alerts,
        explanation: Explanation {
            zh: r.explain_zh(p),
            en: r.explain_en(p),
        },
    }
}

fn parameters(board: &RiskBoard) -> RiskParameters {
    let p = board.params();
    RiskParameters {
        window_days: p.window_days,
        half_life_days: p.half_life_days,
        points: LevelPoints {
            i: p.points[0],
            ii: p.points[1],
            iii: p.points[2],
            iv: p.points[3],
        },
        grades: GradeFloors {
            b: p.grade_min[0],
            c: p.grade_min[1],
            d: p.grade_min[2],
        },
    }
}

/// The caller's visible sites scored on `day`, with their registry entries.
fn visible_scores<'b>(
    board: &RiskBoard,
    registry: &'b weijian_ingest::config::Registry,
    caller: &Caller,
    day: i64,
) -> Vec<(&'b SiteEntry, SiteRisk)> {
    board
        .score_day(day)
        .into_iter()
        .filter_map(|r| registry.site(&r.site).map(|e| (e, r)))
        .filter(|(e, _)| caller.supervisor.cell.contains(&e.grid))
        .collect()
}

/// The riskiest first: score, then site id.
fn riskiest_first(sites: &mut [(&SiteEntry, SiteRisk)]) {
    sites.sort_by(|(_, a), (_, b)| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.site.cmp(&b.site))
    });
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// Grades of the caller's sites on a day, the riskiest first, each with score and explanation.
#[utoipa::path(
    get,
    path = "/api/v1/risk/sites",
    tag = "risk",
    operation_id = "listRiskGrades",
    params(RiskSitesQuery),
    responses(
        (status = 200, description = "The grades.", body = RiskSites),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 503, description = "The risk index is not running (yet).", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<RiskSites>, ApiError> {
    let pairs = pairs(query)?;
    only(&pairs, SITES_PARAMETERS)?;
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
    let registry = board.registry();
    let mut found = visible_scores(board, &registry, &caller, day);
    found.retain(|(e, r)| {
        grade.is_none_or(|g| r.grade == g)
            && min_grade.is_none_or(|g| r.grade >= g)
            && kind.is_none_or(|k| e.attributes.kind() == k)
            && param(&pairs, "district").is_none_or(|d| e.grid.district == d)
            && param(&pairs, "street").is_none_or(|s| e.grid.street == s)
            && param(&pairs, "community").is_none_or(|c| e.grid.community == c)
    });
    riskiest_first(&mut found);
    Ok(Json(RiskSites {
        date: cst_date(day),
        parameters: parameters(board),
        sites: found.iter().map(|(e, r)| site_grade(e, r, board)).collect(),
    }))
}

/// One site's grade on a day with every alert-day and its points, and points per rule and
/// level.
#[utoipa::path(
    get,
    path = "/api/v1/risk/sites/{site}",
    tag = "risk",
    operation_id = "getRiskGrade",
    params(("site" = String, Path, description = "The site id."), RiskSiteQuery),
    responses(
        (status = 200, description = "The grade, explained.", body = SiteRiskDetail),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
        (status = 503, description = "The risk index is not running (yet).", body = ErrorBody),
    )
)]
pub async fn site(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<SiteRiskDetail>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("site", e.body_text()))?;
    let pairs = pairs(query)?;
    only(&pairs, SITE_PARAMETERS)?;
    let board = board(&state)?;
    let day = day_of(param(&pairs, "date"), state.desk.now())?;
    let registry = board.registry();
    let Some(entry) = registry.site(&id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    if !caller.supervisor.cell.contains(&entry.grid) {
        return Err(caller.forbid(&state, &format!("site {id}")).await);
    }
    let scores = board.score_day(day);
    let Some(r) = scores.iter().find(|r| r.site == id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    Ok(Json(SiteRiskDetail {
        head: site_grade(entry, r, board),
        grade_floor: r.grade_floor,
        next_grade_at: r.next_grade_at,
        by_rule: r
            .by_rule()
            .into_iter()
            .map(|(rule, level, alert_days, points)| RulePoints {
                rule,
                level: level.as_str(),
                alert_days,
                points,
            })
            .collect(),
        contributions: r.contributions.iter().map(RiskContribution::from).collect(),
        parameters: parameters(board),
    }))
}

/// Per cell of the caller's subtree at a tier: sites per grade and the worst sites.
#[utoipa::path(
    get,
    path = "/api/v1/risk/grid",
    tag = "risk",
    operation_id = "riskGrid",
    params(RiskGridQuery),
    responses(
        (status = 200, description = "The cells.", body = RiskGrid),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 503, description = "The risk index is not running (yet).", body = ErrorBody),
    )
)]
pub async fn grid(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<RiskGrid>, ApiError> {
    let pairs = pairs(query)?;
    only(&pairs, GRID_PARAMETERS)?;
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
            .filter(|n| *n <= MAX_WORST)
            .ok_or_else(|| ApiError::bad_parameter("worst", "expected 0 to 100"))?,
    };
    let mut cells: Vec<(Cell, Vec<(&SiteEntry, SiteRisk)>)> = Vec::new();
    let registry = board.registry();
    for (e, r) in visible_scores(board, &registry, &caller, day) {
        let cell = Cell::of(&e.grid, tier);
        match cells.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, v)) => v.push((e, r)),
            None => cells.push((cell, vec![(e, r)])),
        }
    }
    cells.sort_by(|a, b| a.0.cmp(&b.0));
    let cells = cells
        .into_iter()
        .map(|(cell, mut sites)| {
            let count = |g: Grade| sites.iter().filter(|(_, r)| r.grade == g).count();
            let grades = GradeCounts {
                a: count(Grade::A),
                b: count(Grade::B),
                c: count(Grade::C),
                d: count(Grade::D),
            };
            riskiest_first(&mut sites);
            let worst = sites
                .iter()
                .take(worst_n)
                .map(|(e, r)| WorstSite {
                    site: r.site.clone(),
                    name: e.name.clone(),
                    grade: r.grade.as_str(),
                    score: r.score,
                })
                .collect();
            RiskCell {
                cell: cell.to_string(),
                district: cell.district,
                street: cell.street,
                community: cell.community,
                sites: sites.len(),
                grades,
                worst,
            }
        })
        .collect();
    Ok(Json(RiskGrid {
        date: cst_date(day),
        tier: tier.as_str(),
        cells,
    }))
}

/// Scores a day again (default yesterday) and rewrites its `site_risk` rows (idempotent).
#[utoipa::path(
    post,
    path = "/api/v1/risk/recompute",
    tag = "risk",
    operation_id = "recomputeRisk",
    request_body(
        content = RecomputeRequest,
        description = "May be left out (yesterday)."
    ),
    responses(
        (status = 200, description = "Queued: the day's rows are rewritten at the next engine ticks, 10,000 sites per tick.", body = Recomputed),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 503, description = "The risk index is not running (yet).", body = ErrorBody),
    )
)]
pub async fn recompute(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Recomputed>, ApiError> {
    let req: RecomputeRequest = if body.is_empty() {
        RecomputeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(ApiError::bad_body)?
    };
    let board = board(&state)?;
    let day = day_of(req.date.as_deref(), state.desk.now())?;
    let sites = board.recompute(day);
    tracing::info!(supervisor = %caller.id(), date = %cst_date(day), sites, "Queued a recomputation of the site risk index.");
    Ok(Json(Recomputed {
        date: cst_date(day),
        sites,
        table: "site_risk",
    }))
}

/// Draws `n` sites of `scope` (inside the caller's cell) and their inspectors (双随机), the
/// chance of a site by its grade as of the day before the draw; the draw is stored.
#[utoipa::path(
    post,
    path = "/api/v1/risk/draws",
    tag = "risk",
    operation_id = "drawInspections",
    request_body = DrawRequest,
    responses(
        (status = 201, description = "Drawn and stored: the record to publish.", body = DrawMade),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 422, description = "The draw cannot be made (`draw_impossible`: n is 0, no or duplicate inspectors, too few inspectors once those of a site's last inspection stand aside, ...).", body = ErrorBody),
        (status = 503, description = "The risk index is not running (yet).", body = ErrorBody),
    )
)]
pub async fn draw(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<DrawMade>), ApiError> {
    let req: DrawRequest = serde_json::from_slice(&body).map_err(ApiError::bad_body)?;
    let board = board(&state)?;
    let now = state.desk.now();
    let scope = req
        .scope
        .map(Cell::from)
        .unwrap_or_else(|| caller.supervisor.cell.clone());
    let own = &caller.supervisor.cell;
    let inside = [
        (&own.district, &scope.district),
        (&own.street, &scope.street),
        (&own.community, &scope.community),
    ]
    .iter()
    .all(|(o, s)| o.is_none() || o == s);
    if !inside {
        return Err(caller.forbid(&state, &format!("grid cell {scope}")).await);
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
            scope.contains(&e.grid).then(|| DrawSite {
                site: r.site.clone(),
                kind: e.attributes.kind(),
                grid: e.grid.clone(),
                grade: r.grade,
            })
        })
        .collect();
    let mut inspections = board.past_inspections();
    inspections.extend(req.inspections.into_iter().map(risk::PastInspection::from));
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
        Json(DrawMade {
            draw_id: id,
            seed: seed.to_string(),
            input: (&input).into(),
            result: (&result).into(),
            table: result.to_table(),
            csv: result.to_csv(),
        }),
    ))
}
