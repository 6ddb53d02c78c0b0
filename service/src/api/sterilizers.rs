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
use serde::Serialize;
use utoipa::ToSchema;

use super::caller::Caller;
use super::error::ApiError;
use super::schema;
use super::view::{at, at_opt};
use super::ApiState;
use crate::supervision::Desk;
use weijian_ingest::config::SiteEntry;

/// The answer of `GET /api/v1/sites/{site}/sterilizers`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sterilizers {
    pub site: String,
    /// The pipeline's time; "today" is its China Standard Time day. RFC 3339 (+08:00).
    #[schema(format = DateTime)]
    pub now: String,
    /// The pipeline's time, epoch microseconds.
    pub now_us: i64,
    pub sterilizers: Vec<SterilizerView>,
}

/// One autoclave (压力蒸汽灭菌器): `seen = false` (and nothing else) until the rule engine
/// has had an input from it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SterilizerView {
    Seen(Box<Sterilizer>),
    Unseen(UnseenSterilizer),
}

/// An autoclave the rule engine has not heard from yet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnseenSterilizer {
    pub device: String,
    /// Always false.
    #[schema(schema_with = schema::always_false)]
    pub seen: bool,
}

/// An autoclave's day: cycles, Bowie-Dick test, biological indicator, recall.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sterilizer {
    pub device: String,
    /// Always true.
    #[schema(schema_with = schema::always_true)]
    pub seen: bool,
    /// The cycle in progress; null when idle.
    #[schema(required = true)]
    pub open_cycle: Option<CycleRef>,
    /// Today's cycles (China Standard Time) with their computed verdicts.
    pub cycles_today: Vec<Cycle>,
    /// The last Bowie-Dick sheet read (B-D 试验); null when none.
    #[schema(required = true)]
    pub last_bowie_dick: Option<BowieDick>,
    /// A Bowie-Dick cycle passed (computed and device verdict) and its sheet passed today.
    pub bowie_dick_ok_today: bool,
    /// The last biological indicator read (生物监测); null when none.
    #[schema(required = true)]
    pub last_bi: Option<LastBi>,
    /// After a positive BI, until enough negative ones in a row: the loads to recall
    /// (召回); null otherwise.
    #[schema(required = true)]
    pub recall: Option<Recall>,
    /// Load cycles since the last negative BI.
    pub cycles_since_negative_bi: u64,
}

/// A cycle by id, program and start.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CycleRef {
    pub cycle_id: String,
    #[schema(schema_with = schema::program)]
    pub program: &'static str,
    /// RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub started_at: String,
    /// Epoch microseconds.
    pub started_at_us: i64,
}

/// `pass` or `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassFail {
    Pass,
    Fail,
}

impl From<bool> for PassFail {
    fn from(pass: bool) -> Self {
        if pass {
            Self::Pass
        } else {
            Self::Fail
        }
    }
}

/// A biological indicator's result: `negative` (sterile) or `positive` (growth: recall).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BiOutcome {
    Negative,
    Positive,
}

impl BiOutcome {
    fn of(positive: bool) -> Self {
        if positive {
            Self::Positive
        } else {
            Self::Negative
        }
    }
}

/// A Bowie-Dick sheet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BowieDick {
    pub cycle_id: String,
    pub result: PassFail,
    /// RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub ts: String,
    /// Epoch microseconds.
    pub ts_us: i64,
}

/// A biological indicator.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastBi {
    pub bi_id: String,
    pub cycle_id: String,
    pub result: BiOutcome,
    /// RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub ts: String,
    /// Epoch microseconds.
    pub ts_us: i64,
}

/// The recall list after a positive BI.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recall {
    pub bi_id: String,
    pub bi_cycle_id: String,
    /// When the positive BI was read, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub bi_ts: String,
    /// The same, epoch microseconds.
    pub bi_ts_us: i64,
    /// Start of the oldest load to recall, RFC 3339 (+08:00); null when unknown.
    #[schema(format = DateTime, required = true)]
    pub since: Option<String>,
    /// The same, epoch microseconds.
    #[schema(required = true)]
    pub since_us: Option<i64>,
    /// The newest loads to recall.
    pub cycles: Vec<CycleRef>,
    /// Older loads only counted.
    pub more: u32,
}

/// A reason a cycle failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CycleReason {
    /// Stable code, e.g. hold_too_short.
    pub code: &'static str,
    pub en: String,
    pub zh: String,
}

/// The biological indicator of a cycle.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CycleBi {
    pub bi_id: String,
    pub result: BiOutcome,
}

/// The computed verdict of a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CycleVerdict {
    Pass,
    Fail,
    /// A program without a temperature verdict (leak test), or a pack without parameters.
    NotEvaluated,
}

/// One sterilization cycle with its computed verdict (S1-S6) and evidence.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SterilizationCycle)]
pub struct Cycle {
    pub cycle_id: String,
    #[schema(schema_with = schema::program)]
    pub program: &'static str,
    /// An implant load (植入物): released only after its BI.
    pub implant_load: bool,
    /// RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub started_at: String,
    /// Epoch microseconds.
    pub started_at_us: i64,
    /// RFC 3339 (+08:00); null while it runs.
    #[schema(format = DateTime, required = true)]
    pub ended_at: Option<String>,
    /// Epoch microseconds; null while it runs.
    #[schema(required = true)]
    pub ended_at_us: Option<i64>,
    #[schema(schema_with = schema::device_verdict, required = true)]
    pub device_verdict: Option<&'static str>,
    pub verdict: CycleVerdict,
    pub reasons: Vec<CycleReason>,
    /// Set temperature, °C.
    #[schema(required = true)]
    pub set_c: Option<f64>,
    /// The hold the program needs, s.
    #[schema(required = true)]
    pub min_hold_secs: Option<i64>,
    /// The hold achieved, s.
    #[schema(required = true)]
    pub hold_secs: Option<f64>,
    #[schema(required = true)]
    pub hold_min_temp_c: Option<f64>,
    #[schema(required = true)]
    pub hold_max_temp_c: Option<f64>,
    /// Largest T - Tsat(p) in the hold, K; negative = air in the chamber.
    #[schema(required = true)]
    pub worst_dev_k: Option<f64>,
    /// Longest gap between samples, s.
    #[schema(required = true)]
    pub max_gap_secs: Option<f64>,
    pub samples: u32,
    /// The Bowie-Dick sheet of this cycle; null when none was read.
    #[schema(required = true)]
    pub bd_result: Option<PassFail>,
    /// The biological indicator of this cycle; null when none was read.
    #[schema(required = true)]
    pub bi: Option<CycleBi>,
}

/// A dental clinic's sterilizers: today's cycles (China Standard Time) with computed verdicts,
/// reasons and evidence; the last Bowie-Dick test and whether today's passed; the last BI;
/// the recall list after a positive BI.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site}/sterilizers",
    tag = "sites",
    operation_id = "siteSterilizers",
    summary = "A dental clinic's sterilizers: today's cycles (China Standard Time) with computed verdicts, reasons and evidence; the last Bowie-Dick test and whether today's passed; the last BI; the recall list after a positive BI.",
    params(("site" = String, Path, description = "The site id (a dental clinic).")),
    responses(
        (status = 200, description = "The sterilizers.", body = Sterilizers),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Sterilizers>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_parameter("site", e.body_text()))?;
    let registry = state.desk.registry();
    let Some(entry) = registry.site(&id) else {
        return Err(ApiError::not_found(format!("site {id} is not configured")));
    };
    if !state.desk.read(|st| st.engine.can_see(caller.id(), &id)) {
        return Err(caller.forbid(&state, &format!("site {id}")).await);
    }
    if entry.attributes.kind() != SiteKind::DentalSterilization {
        return Err(ApiError::not_found(format!(
            "site {id} is not a dental sterilization site"
        )));
    }
    let now = state.desk.now();
    let (now_text, now_us) = at(now);
    Ok(Json(Sterilizers {
        site: id,
        now: now_text,
        now_us,
        sterilizers: of_site(&state.desk, entry, now),
    }))
}

/// The sterilizers of a dental site (one entry per registered autoclave).
pub fn of_site(desk: &Desk, site: &SiteEntry, now: Timestamp) -> Vec<SterilizerView> {
    desk.registry()
        .devices()
        .filter(|d| d.site == site.id && d.kind == DeviceKind::Autoclave)
        .map(|d| match desk.sterilizer(&d.id) {
            Some(status) => SterilizerView::Seen(Box::new(sterilizer(&status, now))),
            None => SterilizerView::Unseen(UnseenSterilizer {
                device: d.id.to_string(),
                seen: false,
            }),
        })
        .collect()
}

fn cycle_ref(
    cycle_id: &str,
    program: alerting::sterilization::Program,
    start: Timestamp,
) -> CycleRef {
    let (started_at, started_at_us) = at(start);
    CycleRef {
        cycle_id: cycle_id.to_owned(),
        program: program.as_str(),
        started_at,
        started_at_us,
    }
}

fn sterilizer(s: &SterilizerStatus, now: Timestamp) -> Sterilizer {
    Sterilizer {
        device: s.device.clone(),
        seen: true,
        open_cycle: s
            .open_cycle
            .as_ref()
            .map(|(id, program, start)| cycle_ref(id, *program, *start)),
        cycles_today: s.cycles_on_day_of(now).map(cycle).collect(),
        last_bowie_dick: s.last_bowie_dick.as_ref().map(|b| {
            let (ts, ts_us) = at(b.ts);
            BowieDick {
                cycle_id: b.cycle_id.clone(),
                result: b.pass.into(),
                ts,
                ts_us,
            }
        }),
        bowie_dick_ok_today: s.bowie_dick_ok(now),
        last_bi: s.last_bi.as_ref().map(|b| {
            let (ts, ts_us) = at(b.ts);
            LastBi {
                bi_id: b.bi_id.clone(),
                cycle_id: b.cycle_id.clone(),
                result: BiOutcome::of(b.positive),
                ts,
                ts_us,
            }
        }),
        recall: s.recall.as_ref().map(|r| {
            let (bi_ts, bi_ts_us) = at(r.bi.ts);
            let (since, since_us) = at_opt(r.since);
            Recall {
                bi_id: r.bi.bi_id.clone(),
                bi_cycle_id: r.bi.cycle_id.clone(),
                bi_ts,
                bi_ts_us,
                since,
                since_us,
                cycles: r
                    .cycles
                    .iter()
                    .map(|c| cycle_ref(&c.cycle_id, c.program, c.started_at))
                    .collect(),
                more: r.more,
            }
        }),
        cycles_since_negative_bi: s.unverified.cycles.len() as u64 + u64::from(s.unverified.more),
    }
}

fn cycle(c: &CycleRecord) -> Cycle {
    use alerting::sterilization::Verdict;
    let num = |v: Option<f64>| v.filter(|v| v.is_finite());
    let (started_at, started_at_us) = at(c.started_at);
    let (ended_at, ended_at_us) = at_opt(c.ended_at);
    Cycle {
        cycle_id: c.cycle_id.clone(),
        program: c.program.as_str(),
        implant_load: c.implant_load,
        started_at,
        started_at_us,
        ended_at,
        ended_at_us,
        device_verdict: c.device_verdict.map(|v| v.as_str()),
        verdict: match c.verdict {
            Verdict::Pass => CycleVerdict::Pass,
            Verdict::Fail => CycleVerdict::Fail,
            Verdict::NotEvaluated => CycleVerdict::NotEvaluated,
        },
        reasons: c
            .reasons
            .iter()
            .map(|r| CycleReason {
                code: r.code(),
                en: r.text_en(),
                zh: r.text_zh(),
            })
            .collect(),
        set_c: num(c.set_c),
        min_hold_secs: c.min_hold_secs,
        hold_secs: num(c.hold_secs),
        hold_min_temp_c: num(c.hold_min_temp_c),
        hold_max_temp_c: num(c.hold_max_temp_c),
        worst_dev_k: num(c.worst_dev_k),
        max_gap_secs: num(c.max_gap_secs),
        samples: c.samples,
        bd_result: c.bd_pass.map(PassFail::from),
        bi: c.bi.as_ref().map(|(id, positive)| CycleBi {
            bi_id: id.clone(),
            result: BiOutcome::of(*positive),
        }),
    }
}
