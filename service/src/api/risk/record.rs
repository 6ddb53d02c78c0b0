//! A draw's published record (everything it depends on, and its result) and the answer of
//! `POST /api/v1/risk/draws`. These write exactly what alerting's `DrawInput` and
//! `DrawResult` write, so `weijian risk verify` re-runs the record.

use alerting::delivery::grid::Cell;
use alerting::model::SiteKind;
use alerting::risk::draw::Excluded;
use alerting::risk::{self, DrawInput, DrawResult, DrawSite, GradeWeights, Pick};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::schema;
use super::super::view::Grid;

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
