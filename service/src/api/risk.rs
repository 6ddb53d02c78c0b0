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

use alerting::delivery::grid::{Cell, Tier};
use alerting::model::{SiteKind, Timestamp};
use alerting::risk::draw::Excluded;
use alerting::risk::{
    self, cst_date, cst_day, Contribution, DrawInput, DrawResult, DrawSite, Grade, GradeWeights,
    Pick, SiteRisk,
};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::caller::Caller;
use super::doc::schema;
use super::error::{ApiError, ErrorBody};
use super::view::Grid;
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
// Queries and bodies, as the document describes them.

/// The query of `GET /api/v1/risk/sites` as the document describes it (the handler reads the
/// pairs itself, strictly; a test checks that both know the same names).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RiskSitesQuery {
    /// The day graded: `YYYY-MM-DD` (China Standard Time) or `today` (so far); default
    /// yesterday, the last complete day.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    date: Option<String>,
    /// Only sites of exactly this grade.
    #[param(schema_with = schema::grade)]
    grade: Option<String>,
    /// Only sites of this grade or riskier (`min_grade=C`: C and D).
    #[param(schema_with = schema::min_grade)]
    min_grade: Option<String>,
    /// Only sites of this kind.
    #[param(schema_with = schema::site_kind)]
    kind: Option<String>,
    /// Grid district (区).
    district: Option<String>,
    /// Grid street (街道).
    street: Option<String>,
    /// Grid community (社区).
    community: Option<String>,
}

/// The query of `GET /api/v1/risk/sites/{site}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RiskSiteQuery {
    /// The day graded: `YYYY-MM-DD` (China Standard Time) or `today` (so far); default
    /// yesterday, the last complete day.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    date: Option<String>,
}

/// The query of `GET /api/v1/risk/grid`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RiskGridQuery {
    /// The day graded: `YYYY-MM-DD` (China Standard Time) or `today` (so far); default
    /// yesterday, the last complete day.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    date: Option<String>,
    /// The tier of the cells rolled up to (default community).
    #[param(schema_with = schema::roll_up_tier)]
    tier: Option<String>,
    /// The worst sites listed per cell (0..100, default 3).
    #[param(minimum = 0, maximum = 100, default = 3)]
    worst: Option<u32>,
}

/// The body of `POST /api/v1/risk/recompute` (may be left out: yesterday).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecomputeRequest {
    /// The day to score again: `YYYY-MM-DD` (China Standard Time) or `today` (so far);
    /// default yesterday.
    #[schema(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    date: Option<String>,
}

/// The body of `POST /api/v1/risk/draws`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    /// The grid cell to draw from, inside the caller's own; default the caller's cell.
    #[serde(default)]
    scope: Option<DrawScope>,
    /// Only sites of this kind.
    #[schema(schema_with = schema::site_kind_or_null)]
    kind: Option<SiteKind>,
    /// Sites to draw.
    #[schema(minimum = 1, maximum = 10000)]
    n: u32,
    /// The inspectors to send (each listed once).
    inspectors: Vec<String>,
    /// Sites inspected within this many days before the draw are left out (default: the
    /// pack's `[risk.draw] exclude_days`).
    exclude_days: Option<u32>,
    /// Inspectors sent to each site (default: the pack's `[risk.draw] inspectors_per_site`).
    inspectors_per_site: Option<u32>,
    /// Decimal u64 (as a string, since JSON numbers lose precision above 2^53) or a number.
    #[schema(schema_with = schema::seed_in)]
    seed: Option<Value>,
    /// The day of the draw: `YYYY-MM-DD` (China Standard Time) or `today`; default today.
    #[schema(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    date: Option<String>,
    /// Inspections made outside weijian, besides weijian's earlier draws (for exclusion and
    /// 回避).
    #[serde(default)]
    inspections: Vec<PastInspection>,
}

/// A grid cell to draw from: no district is the whole city; a community needs its street, a
/// street its district. (A bad one is refused with the words of alerting's `Cell`, which it
/// replaces in the body: "expected struct Cell".)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "struct Cell")]
pub struct DrawScope {
    /// District (区).
    district: Option<String>,
    /// Street (街道).
    street: Option<String>,
    /// Community (社区).
    community: Option<String>,
}

impl From<DrawScope> for Cell {
    fn from(s: DrawScope) -> Self {
        let DrawScope {
            district,
            street,
            community,
        } = s;
        Cell {
            district,
            street,
            community,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Answers.

/// The answer of `GET /api/v1/risk/sites`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskSites {
    /// The day graded (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    pub parameters: RiskParameters,
    /// The riskiest first (score, then site id).
    pub sites: Vec<SiteGrade>,
}

/// The numbers of the index (the pack's `[risk]` section).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskParameters {
    /// The score looks at this many days, ending with the day graded.
    pub window_days: u32,
    /// An alert-day's points halve every this many days of age.
    pub half_life_days: f64,
    /// Points per alert-day by the alert's worst level that day.
    pub points: LevelPoints,
    /// The lowest score of each grade (A is everything below B).
    pub grades: GradeFloors,
}

/// Points per alert-day, by level.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LevelPoints {
    #[serde(rename = "I")]
    pub i: f64,
    #[serde(rename = "II")]
    pub ii: f64,
    #[serde(rename = "III")]
    pub iii: f64,
    #[serde(rename = "IV")]
    pub iv: f64,
}

/// The lowest score of grades B, C and D.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradeFloors {
    #[serde(rename = "B")]
    pub b: f64,
    #[serde(rename = "C")]
    pub c: f64,
    #[serde(rename = "D")]
    pub d: f64,
}

/// A site's grade on a day, with its score and explanation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteGrade {
    /// The site id.
    pub site: String,
    pub name: String,
    #[schema(schema_with = schema::site_kind)]
    pub kind: &'static str,
    pub grid: Grid,
    /// The day graded (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    /// The sum of the alert-days' points in the window.
    pub score: f64,
    #[schema(schema_with = schema::grade)]
    pub grade: &'static str,
    #[schema(schema_with = schema::grade_zh)]
    pub grade_zh: &'static str,
    #[schema(schema_with = schema::grade_en)]
    pub grade_en: &'static str,
    /// Alert-days in the window.
    pub alert_days: usize,
    /// Distinct alerts in the window.
    pub alerts: usize,
    pub explanation: Explanation,
}

/// Why a site has its grade, in a sentence in both languages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Explanation {
    pub zh: String,
    pub en: String,
}

/// The answer of `GET /api/v1/risk/sites/{site}`: the grade with every alert-day and its
/// points.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteRiskDetail {
    #[serde(flatten)]
    pub head: SiteGrade,
    /// The lowest score of the grade reached (0 for A).
    pub grade_floor: f64,
    /// The lowest score of the next grade; null for D.
    #[schema(required = true)]
    pub next_grade_at: Option<f64>,
    /// Alert-days and points per rule and level, the most points first.
    pub by_rule: Vec<RulePoints>,
    /// Every alert-day of the window with its points: newest day first, then the most
    /// points, then alert id.
    pub contributions: Vec<RiskContribution>,
    pub parameters: RiskParameters,
}

/// The alert-days and points of one rule at one level.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RulePoints {
    /// Rule id, e.g. W2.
    pub rule: String,
    #[schema(schema_with = schema::level_code)]
    pub level: &'static str,
    pub alert_days: usize,
    pub points: f64,
}

/// What one alert-day adds to a site's score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskContribution {
    pub alert_id: String,
    /// Rule id, e.g. W2.
    pub rule: String,
    /// Device id, or `*` for site-wide alerts.
    pub device: String,
    /// The day (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    /// Days before the day graded (0 = that day).
    pub age_days: u32,
    /// The alert's worst level that day.
    #[schema(schema_with = schema::level_code)]
    pub level: &'static str,
    /// Points before decay.
    pub base_points: f64,
    /// Points after decay, rounded to 4 decimals.
    pub points: f64,
}

/// The answer of `GET /api/v1/risk/grid`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskGrid {
    /// The day graded (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    /// The tier of the cells.
    #[schema(schema_with = schema::tier)]
    pub tier: &'static str,
    /// The cells of the caller's subtree that have sites, in grid order.
    pub cells: Vec<RiskCell>,
}

/// One cell of a roll-up: its sites per grade and the worst of them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskCell {
    /// The cell's path, e.g. 示范区/东城街道, or 市.
    pub cell: String,
    /// Null at city tier.
    #[schema(required = true)]
    pub district: Option<String>,
    /// Null at district tier and above.
    #[schema(required = true)]
    pub street: Option<String>,
    /// Null at street tier and above.
    #[schema(required = true)]
    pub community: Option<String>,
    /// Sites of the cell (that the caller sees).
    pub sites: usize,
    /// Sites per grade.
    pub grades: GradeCounts,
    /// The riskiest sites, the riskiest first (at most `worst`).
    pub worst: Vec<WorstSite>,
}

/// Sites per grade.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradeCounts {
    #[serde(rename = "A")]
    pub a: usize,
    #[serde(rename = "B")]
    pub b: usize,
    #[serde(rename = "C")]
    pub c: usize,
    #[serde(rename = "D")]
    pub d: usize,
}

/// One of the riskiest sites of a cell.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorstSite {
    pub site: String,
    pub name: String,
    #[schema(schema_with = schema::grade)]
    pub grade: &'static str,
    pub score: f64,
}

/// The answer of `POST /api/v1/risk/recompute`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recomputed {
    /// The day scored again (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    /// Sites scored (one row each).
    pub sites: usize,
    /// The table whose rows of that day were rewritten.
    #[schema(schema_with = schema::site_risk_table)]
    pub table: &'static str,
}

/// The answer of `POST /api/v1/risk/draws`: the draw's id, every input and the result (the
/// record to publish: `weijian risk verify` re-runs it), as a table and CSV.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DrawMade {
    /// `draw-<date>-<seed as 16 hex digits>`.
    pub draw_id: String,
    /// The seed, in decimal (as text: JSON numbers lose precision above 2^53).
    pub seed: String,
    pub input: DrawInputView,
    pub result: DrawResultView,
    /// The picks as a text table.
    pub table: String,
    /// The picks as CSV: `order,site,grade,weight,of_weight,inspectors`.
    pub csv: String,
}

/// Everything a draw depends on (published with its result so anyone can re-run it).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DrawInput)]
pub struct DrawInputView {
    /// The day of the draw (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    /// The day the sites' grades are of (the day before `date`).
    #[schema(format = Date, required = true)]
    pub grades_as_of: Option<String>,
    pub scope: Scope,
    /// Only sites of this kind; null for every kind.
    #[schema(schema_with = schema::site_kind_or_null, required = true)]
    pub kind: Option<&'static str>,
    /// Sites asked for.
    pub n: u32,
    pub exclude_days: u32,
    pub inspectors_per_site: u32,
    pub weights: Weights,
    /// The seed (a number here, as the draw reads it: use `seed` of the answer, text, when
    /// your JSON reader loses precision above 2^53).
    pub seed: u64,
    pub inspectors: Vec<String>,
    /// Every site in scope, with its grade.
    pub sites: Vec<DrawSiteView>,
    /// The past inspections the draw knew of.
    pub inspections: Vec<PastInspection>,
}

/// A grid cell: null below its tier (a street has no community; the city has none of the
/// three).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Scope {
    #[schema(required = true)]
    pub district: Option<String>,
    #[schema(required = true)]
    pub street: Option<String>,
    #[schema(required = true)]
    pub community: Option<String>,
}

/// Relative chances of being drawn, by grade.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = GradeWeights)]
pub struct Weights {
    #[serde(rename = "A")]
    pub a: u32,
    #[serde(rename = "B")]
    pub b: u32,
    #[serde(rename = "C")]
    pub c: u32,
    #[serde(rename = "D")]
    pub d: u32,
}

/// A site as the draw saw it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DrawSite)]
pub struct DrawSiteView {
    pub site: String,
    #[schema(schema_with = schema::site_kind)]
    pub kind: &'static str,
    pub grid: Grid,
    /// Its grade as of `grades_as_of`.
    #[schema(schema_with = schema::grade)]
    pub grade: &'static str,
}

/// A past inspection of a site.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PastInspection {
    pub site: String,
    /// The day (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    pub inspectors: Vec<String>,
}

/// The result of a draw.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DrawResult)]
pub struct DrawResultView {
    /// The algorithm, e.g. `weijian-draw-v1 (SplitMix64)`.
    pub algorithm: String,
    /// Sites in scope.
    pub in_scope: u32,
    /// Sites in scope left after the exclusions.
    pub eligible: u32,
    /// The sites drawn, in order.
    pub picks: Vec<DrawPick>,
    /// Sites in scope that could not be drawn, and why.
    pub excluded: Vec<DrawExcluded>,
    /// `n` minus the sites drawn (fewer eligible sites than asked for).
    pub shortfall: u32,
}

/// One drawn site and its inspectors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DrawPick {
    /// 1-based order of the pick.
    pub order: u32,
    pub site: String,
    #[schema(schema_with = schema::grade)]
    pub grade: &'static str,
    pub weight: u32,
    /// The sum of the weights it was drawn from (its chance was `weight / of_weight`).
    pub of_weight: u64,
    pub inspectors: Vec<String>,
}

/// A site in scope that could not be drawn.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DrawExcluded {
    pub site: String,
    /// `inspected <date>` or `weight 0`.
    pub reason: String,
}

// Conversions from the index's and the draw's own types: each names every field of its source,
// so a field added there is a compile error here.

impl From<&Cell> for Scope {
    fn from(cell: &Cell) -> Self {
        let Cell {
            district,
            street,
            community,
        } = cell;
        Self {
            district: district.clone(),
            street: street.clone(),
            community: community.clone(),
        }
    }
}

impl From<GradeWeights> for Weights {
    fn from(w: GradeWeights) -> Self {
        let GradeWeights { a, b, c, d } = w;
        Self { a, b, c, d }
    }
}

impl From<&DrawSite> for DrawSiteView {
    fn from(s: &DrawSite) -> Self {
        let DrawSite {
            site,
            kind,
            grid,
            grade,
        } = s;
        Self {
            site: site.clone(),
            kind: kind.as_str(),
            grid: grid.into(),
            grade: grade.as_str(),
        }
    }
}

impl From<&risk::PastInspection> for PastInspection {
    fn from(p: &risk::PastInspection) -> Self {
        let risk::PastInspection {
            site,
            date,
            inspectors,
        } = p;
        Self {
            site: site.clone(),
            date: date.clone(),
            inspectors: inspectors.clone(),
        }
    }
}

impl From<PastInspection> for risk::PastInspection {
    fn from(p: PastInspection) -> Self {
        let PastInspection {
            site,
            date,
            inspectors,
        } = p;
        Self {
            site,
            date,
            inspectors,
        }
    }
}

impl From<&DrawInput> for DrawInputView {
    fn from(input: &DrawInput) -> Self {
        let DrawInput {
            date,
            grades_as_of,
            scope,
            kind,
            n,
            exclude_days,
            inspectors_per_site,
            weights,
            seed,
            inspectors,
            sites,
            inspections,
        } = input;
        Self {
            date: date.clone(),
            grades_as_of: grades_as_of.clone(),
            scope: scope.into(),
            kind: kind.map(SiteKind::as_str),
            n: *n,
            exclude_days: *exclude_days,
            inspectors_per_site: *inspectors_per_site,
            weights: (*weights).into(),
            seed: *seed,
            inspectors: inspectors.clone(),
            sites: sites.iter().map(DrawSiteView::from).collect(),
            inspections: inspections.iter().map(PastInspection::from).collect(),
        }
    }
}

impl From<&Pick> for DrawPick {
    fn from(p: &Pick) -> Self {
        let Pick {
            order,
            site,
            grade,
            weight,
            of_weight,
            inspectors,
        } = p;
        Self {
            order: *order,
            site: site.clone(),
            grade: grade.as_str(),
            weight: *weight,
            of_weight: *of_weight,
            inspectors: inspectors.clone(),
        }
    }
}

impl From<&Excluded> for DrawExcluded {
    fn from(e: &Excluded) -> Self {
        let Excluded { site, reason } = e;
        Self {
            site: site.clone(),
            reason: reason.clone(),
        }
    }
}

impl From<&DrawResult> for DrawResultView {
    fn from(r: &DrawResult) -> Self {
        let DrawResult {
            algorithm,
            in_scope,
            eligible,
            picks,
            excluded,
            shortfall,
        } = r;
        Self {
            algorithm: algorithm.clone(),
            in_scope: *in_scope,
            eligible: *eligible,
            picks: picks.iter().map(DrawPick::from).collect(),
            excluded: excluded.iter().map(DrawExcluded::from).collect(),
            shortfall: *shortfall,
        }
    }
}

impl From<&Contribution> for RiskContribution {
    fn from(c: &Contribution) -> Self {
        let Contribution {
            alert_id,
            rule,
            device,
            date,
            age_days,
            level,
            base_points,
            points,
        } = c;
        Self {
            alert_id: alert_id.clone(),
            rule: rule.clone(),
            device: device.clone(),
            date: date.clone(),
            age_days: *age_days,
            level: level.as_str(),
            base_points: *base_points,
            points: *points,
        }
    }
}

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
    let mut found = visible_scores(board, &caller, day);
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
    for (e, r) in visible_scores(board, &caller, day) {
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
        (status = 200, description = "Scored; the rows are written.", body = Recomputed),
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
    let scores = board.recompute(day);
    tracing::info!(supervisor = %caller.id(), date = %cst_date(day), sites = scores.len(), "Recomputed the site risk index.");
    Ok(Json(Recomputed {
        date: cst_date(day),
        sites: scores.len(),
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
