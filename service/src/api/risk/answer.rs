//! The answers of `/api/v1/risk` about grades: the caller's sites, one site's explanation,
//! grid roll-ups, a recomputation.

use alerting::risk::Contribution;
use serde::Serialize;
use utoipa::ToSchema;

use super::super::schema;
use super::super::view::Grid;

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
    /// The day to score again (`YYYY-MM-DD`, China Standard Time).
    #[schema(format = Date)]
    pub date: String,
    /// Sites it scores (one row each).
    pub sites: usize,
    /// The table whose rows of that day are rewritten.
    #[schema(schema_with = schema::site_risk_table)]
    pub table: &'static str,
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
