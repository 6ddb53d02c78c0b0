//! The queries and request bodies of `/api/v1/risk`, as the OpenAPI document describes them.

use alerting::delivery::grid::Cell;
use alerting::model::SiteKind;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::super::schema;
use super::*;

/// The query of `GET /api/v1/risk/sites` as the document describes it (the handler reads the
/// pairs itself, strictly; a test checks that both know the same names).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RiskSitesQuery {
    /// The day graded: `YYYY-MM-DD` (China Standard Time) or `today` (so far); default
    /// yesterday, the last complete day.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    pub(super) date: Option<String>,
    /// Only sites of exactly this grade.
    #[param(schema_with = schema::grade)]
    pub(super) grade: Option<String>,
    /// Only sites of this grade or riskier (`min_grade=C`: C and D).
    #[param(schema_with = schema::min_grade)]
    pub(super) min_grade: Option<String>,
    /// Only sites of this kind.
    #[param(schema_with = schema::site_kind)]
    pub(super) kind: Option<String>,
    /// Grid district (区).
    pub(super) district: Option<String>,
    /// Grid street (街道).
    pub(super) street: Option<String>,
    /// Grid community (社区).
    pub(super) community: Option<String>,
}

/// The query of `GET /api/v1/risk/sites/{site}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RiskSiteQuery {
    /// The day graded: `YYYY-MM-DD` (China Standard Time) or `today` (so far); default
    /// yesterday, the last complete day.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    pub(super) date: Option<String>,
}

/// The query of `GET /api/v1/risk/grid`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RiskGridQuery {
    /// The day graded: `YYYY-MM-DD` (China Standard Time) or `today` (so far); default
    /// yesterday, the last complete day.
    #[param(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    pub(super) date: Option<String>,
    /// The tier of the cells rolled up to (default community).
    #[param(schema_with = schema::roll_up_tier)]
    pub(super) tier: Option<String>,
    /// The worst sites listed per cell (0..100, default 3).
    #[param(minimum = 0, maximum = 100, default = 3)]
    pub(super) worst: Option<u32>,
}

/// The body of `POST /api/v1/risk/recompute` (may be left out: yesterday).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecomputeRequest {
    /// The day to score again: `YYYY-MM-DD` (China Standard Time) or `today` (so far);
    /// default yesterday.
    #[schema(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    pub(super) date: Option<String>,
}

/// The body of `POST /api/v1/risk/draws`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    /// The grid cell to draw from, inside the caller's own; default the caller's cell.
    #[serde(default)]
    pub(super) scope: Option<DrawScope>,
    /// Only sites of this kind.
    #[schema(schema_with = schema::site_kind_or_null)]
    pub(super) kind: Option<SiteKind>,
    /// Sites to draw.
    #[schema(minimum = 1, maximum = 10000)]
    pub(super) n: u32,
    /// The inspectors to send (each listed once).
    pub(super) inspectors: Vec<String>,
    /// Sites inspected within this many days before the draw are left out (default: the
    /// pack's `[risk.draw] exclude_days`).
    pub(super) exclude_days: Option<u32>,
    /// Inspectors sent to each site (default: the pack's `[risk.draw] inspectors_per_site`).
    pub(super) inspectors_per_site: Option<u32>,
    /// Decimal u64 (as a string, since JSON numbers lose precision above 2^53) or a number.
    #[schema(schema_with = schema::seed_in)]
    pub(super) seed: Option<Value>,
    /// The day of the draw: `YYYY-MM-DD` (China Standard Time) or `today`; default today.
    #[schema(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|today)$")]
    pub(super) date: Option<String>,
    /// Inspections made outside weijian, besides weijian's earlier draws (for exclusion and
    /// 回避).
    #[serde(default)]
    pub(super) inspections: Vec<PastInspection>,
}

/// A grid cell to draw from: no district is the whole city; a community needs its street, a
/// street its district. (A bad one is refused with the words of alerting's `Cell`, which it
/// replaces in the body: "expected struct Cell".)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "struct Cell")]
pub struct DrawScope {
    /// District (区).
    pub(super) district: Option<String>,
    /// Street (街道).
    pub(super) street: Option<String>,
    /// Community (社区).
    pub(super) community: Option<String>,
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
