//! The site risk index and the 双随机 draw in the service.
//!
//! Where the alert history comes from: the rule engine's own events. The alert stage records
//! every event it hands to the drain in an [`AlertDayLedger`] ([`RiskBoard::record`]); the
//! ledger is saved in the engine's snapshot (`<spool dir>/alert-engine.json`) at the same spool
//! position as the engine, and a replay after a crash records the same events again, which
//! changes nothing. So the index needs no query of QuestDB and works while QuestDB is down.
//!
//! - [`RiskBoard`]: the ledger, the draws made, and the scores on demand; shared by the alert
//!   stage (which feeds it and produces the daily rows) and the API (through the desk).
//!
//! The commands (`weijian risk grades/draw/verify`) are in the `weijian` binary (`cli/src/risk.rs`).
//!
//! Daily: on the first engine tick of a China Standard Time day, the previous day is scored
//! for every site and written to `site_risk` (days missed while weijian was stopped are caught
//! up, at most `window_days` of them), [`SITES_PER_TAKE`] sites per engine tick, so a city's
//! 100,000 rows (about 800 bytes each with their explanations) never sit in memory at once.
//! On demand: `POST /api/v1/risk/recompute`.

pub mod verify;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use alerting::model::Timestamp;
use alerting::risk::{
    cst_date, cst_day, cst_midnight, score_sites, AlertDayLedger, DrawInput, DrawResult,
    LedgerEvent, PastInspection, RiskParams, SiteRisk,
};
use alerting::AlertEvent;
use serde::{Deserialize, Serialize};

use crate::config::Registry;
use crate::sink::risk::{DrawRow, SiteRiskRow};
use crate::sink::rows::Row;

/// A draw as remembered: who was sent where, for later exclusions and 回避.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDraw {
    pub draw_id: String,
    pub date: String,
    /// (site, inspectors) in pick order.
    pub picks: Vec<(String, Vec<String>)>,
}

/// What is saved with the engine's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RiskSnapshot {
    pub ledger: AlertDayLedger,
    #[serde(default)]
    pub draws: Vec<StoredDraw>,
    /// The last day the daily run scored.
    #[serde(default)]
    pub scored_through: Option<i64>,
}

#[derive(Debug)]
struct State {
    saved: RiskSnapshot,
    /// Rows waiting for the drain (draws).
    pending: Vec<Row>,
    /// The run under way (daily, or a recomputation): the day being scored and the next site
    /// (registry order). Not saved: after a restart the daily run scores its day again from
    /// its first site, and the rows already written are rewritten with the same values
    /// (DEDUP on `ts`, `site`).
    scoring: Option<Scoring>,
    /// Days asked to be recomputed, in order, after the run under way.
    recomputations: VecDeque<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Scoring {
    day: i64,
    next_site: usize,
    /// The last day of this run (yesterday when a daily run began; `day` for a
    /// recomputation).
    through: i64,
    /// The daily run (which marks its days scored), not a recomputation.
    daily: bool,
}

/// `site_risk` rows made per engine tick by the daily run (a product default): about 8 MB
/// of rows at a time; a city of 100,000 sites is scored over 10 ticks (100 s at the default
/// `alerts.tick_interval_secs`).
pub const SITES_PER_TAKE: usize = 10_000;

/// The risk index's state, shared (cloning shares it).
#[derive(Debug, Clone)]
pub struct RiskBoard {
    inner: Arc<Mutex<State>>,
    params: Arc<RiskParams>,
    /// The sites scored, shared by every clone: a reloaded registry reaches them all.
    registry: Arc<RwLock<Arc<Registry>>>,
    /// Sites scored per [`RiskBoard::take_rows`] ([`SITES_PER_TAKE`]; smaller in tests).
    sites_per_take: usize,
}

/// Draws remembered for exclusions and 回避; older ones are forgotten (product default: at 10
/// sites a draw, 100,000 past inspections, far more than a district's `exclude_days`).
const DRAWS_KEPT: usize = 10_000;

impl RiskBoard {
    pub fn new(params: RiskParams, registry: Arc<Registry>, restored: RiskSnapshot) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                saved: restored,
                pending: Vec::new(),
                scoring: None,
                recomputations: VecDeque::new(),
            })),
            params: Arc::new(params),
            registry: Arc::new(RwLock::new(registry)),
            sites_per_take: SITES_PER_TAKE,
        }
    }

    /// The same board scoring `n` sites per [`RiskBoard::take_rows`] (at least 1).
    #[must_use]
    pub fn with_sites_per_take(mut self, n: usize) -> Self {
        self.sites_per_take = n.max(1);
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn params(&self) -> &RiskParams {
        &self.params
    }

    /// The sites and devices in force.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Scores the sites of `registry` from now on (a reloaded configuration); the ledger of
    /// removed sites stays until it ages out of the window.
    pub fn set_registry(&self, registry: Arc<Registry>) {
        *self
            .registry
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = registry;
        // A daily run under way starts its day again: positions in the old registry's order
        // mean nothing in the new one (rows already written are rewritten, DEDUP).
        if let Some(run) = &mut self.state().scoring {
            run.next_site = 0;
        }
    }

    /// Records the rule engine's events in the ledger.
    pub fn record(&self, events: &[AlertEvent]) {
        if events.is_empty() {
            return;
        }
        let mut st = self.state();
        for e in events {
            st.saved.ledger.record(LedgerEvent::from(e));
        }
    }

    /// The state to save with the engine's snapshot.
    pub fn snapshot(&self) -> RiskSnapshot {
        self.state().saved.clone()
    }

    /// Every configured site scored on `day` (configuration order).
    pub fn score_day(&self, day: i64) -> Vec<SiteRisk> {
        self.score_sites(day, 0, usize::MAX)
    }

    /// The `site_risk` rows of `day`, every configured site at once.
    pub fn rows_of_day(&self, day: i64) -> Vec<Row> {
        self.rows(&self.score_day(day))
    }

    /// The `site_risk` rows of these scores (sites no longer configured have none).
    fn rows(&self, scores: &[SiteRisk]) -> Vec<Row> {
        scores.iter().filter_map(|r| self.row(r)).collect()
    }

    /// At most `n` configured sites from the `first` (configuration order) scored on `day`.
    fn score_sites(&self, day: i64, first: usize, n: usize) -> Vec<SiteRisk> {
        let window = i64::from(self.params.window_days);
        let days = self.state().saved.ledger.alert_days(day - window + 1, day);
        score_sites(
            self.registry().sites().skip(first).take(n).map(|s| &*s.id),
            day,
            &days,
            &self.params,
        )
    }

    fn row(&self, r: &SiteRisk) -> Option<Row> {
        let registry = self.registry();
        let site = registry.site(&r.site)?;
        Some(Row::SiteRisk(Box::new(SiteRiskRow {
            ts: cst_midnight(r.day),
            date: r.date.clone(),
            site: r.site.clone(),
            kind: site.attributes.kind().as_str(),
            grid: site.grid.clone(),
            score: r.score,
            grade: r.grade.as_str(),
            alert_days: r.alert_days as i64,
            alerts: r.alerts as i64,
            explanation_zh: r.explain_zh(&self.params),
            explanation_en: r.explain_en(&self.params),
            contributions: serde_json::to_string(&r.contributions).unwrap_or_default(),
        })))
    }

    /// The daily run: when `now` is on a later China Standard Time day than the last one
    /// scored, scores every day since (the previous day first time; at most `window_days`
    /// days after a long stop) and forgets alerts no window can see any more. Then the days
    /// asked to be recomputed. Both [`SITES_PER_TAKE`] sites per call. Then the rows of draws.
    pub fn take_rows(&self, now: Timestamp) -> Vec<Row> {
        let mut rows = self.next_run_rows(now);
        rows.append(&mut self.state().pending);
        rows
    }

    /// The next [`SITES_PER_TAKE`] rows of the run under way, if any.
    fn next_run_rows(&self, now: Timestamp) -> Vec<Row> {
        let Some(run) = self.run(now) else {
            return Vec::new();
        };
        let scores = self.score_sites(run.day, run.next_site, self.sites_per_take);
        let rows = self.rows(&scores);
        let next_site = run.next_site + scores.len();
        let mut st = self.state();
        if next_site < self.registry().site_count() {
            st.scoring = Some(Scoring { next_site, ..run });
            return rows;
        }
        // The day is complete.
        st.scoring = (run.day < run.through).then_some(Scoring {
            day: run.day + 1,
            next_site: 0,
            ..run
        });
        if !run.daily {
            tracing::info!(date = %cst_date(run.day), "Recomputed the site risk index.");
            return rows;
        }
        st.saved.scored_through = Some(run.day);
        if st.scoring.is_none() {
            tracing::info!(through = %cst_date(run.day), "Scored the site risk index.");
            // Keep two windows (product default), so the last window's days can still be
            // recomputed on demand.
            let keep = run.day - 2 * i64::from(self.params.window_days);
            st.saved.ledger.prune(keep);
        }
        rows
    }

    /// The run under way; else the daily run when a day has begun since the last day
    /// scored; else the next recomputation asked for.
    fn run(&self, now: Timestamp) -> Option<Scoring> {
        let yesterday = cst_day(now) - 1;
        let mut st = self.state();
        if st.scoring.is_some() {
            return st.scoring;
        }
        let from = st.saved.scored_through.map_or(yesterday, |d| {
            (d + 1).max(yesterday - i64::from(self.params.window_days) + 1)
        });
        st.scoring = if from <= yesterday {
            tracing::info!(
                from = %cst_date(from),
                to = %cst_date(yesterday),
                sites = self.registry().site_count(),
                "Scoring the site risk index."
            );
            Some(Scoring {
                day: from,
                next_site: 0,
                through: yesterday,
                daily: true,
            })
        } else {
            st.recomputations.pop_front().map(|day| Scoring {
                day,
                next_site: 0,
                through: day,
                daily: false,
            })
        };
        st.scoring
    }

    /// Queues `day` to be scored again and its `site_risk` rows rewritten (by
    /// [`RiskBoard::take_rows`], a few sites at a time, like the daily run). Returns the
    /// number of sites it will score.
    pub fn recompute(&self, day: i64) -> usize {
        let mut st = self.state();
        if !st.recomputations.contains(&day) {
            st.recomputations.push_back(day);
        }
        self.registry().site_count()
    }

    /// Past inspections as the draw sees them: every site of every remembered draw, on the
    /// draw's date, with the inspectors sent.
    pub fn past_inspections(&self) -> Vec<PastInspection> {
        self.state()
            .saved
            .draws
            .iter()
            .flat_map(|d| {
                d.picks.iter().map(|(site, inspectors)| PastInspection {
                    site: site.clone(),
                    date: d.date.clone(),
                    inspectors: inspectors.clone(),
                })
            })
            .collect()
    }

    /// Remembers a draw and queues its `inspection_draws` rows.
    pub fn store_draw(
        &self,
        draw_id: &str,
        input: &DrawInput,
        result: &DrawResult,
        actor: &str,
        now: Timestamp,
    ) {
        let record = serde_json::json!({ "draw_id": draw_id, "input": input, "result": result });
        let scope = input.scope.to_string();
        let kind = input.kind.map(|k| k.as_str());
        let base = DrawRow {
            ts: now,
            draw_id: draw_id.to_owned(),
            date: input.date.clone(),
            pick: 0,
            site: "-".to_owned(),
            grade: None,
            weight: None,
            of_weight: None,
            inspectors: String::new(),
            seed: input.seed.to_string(),
            scope,
            kind,
            actor: actor.to_owned(),
            record: record.to_string(),
        };
        let mut rows = vec![Row::Draw(Box::new(base.clone()))];
        for p in &result.picks {
            rows.push(Row::Draw(Box::new(DrawRow {
                pick: i64::from(p.order),
                site: p.site.clone(),
                grade: Some(p.grade.as_str()),
                weight: Some(i64::from(p.weight)),
                of_weight: i64::try_from(p.of_weight).ok(),
                inspectors: p.inspectors.join(";"),
                record: String::new(),
                ..base.clone()
            })));
        }
        let mut st = self.state();
        st.pending.extend(rows);
        st.saved.draws.push(StoredDraw {
            draw_id: draw_id.to_owned(),
            date: input.date.clone(),
            picks: result
                .picks
                .iter()
                .map(|p| (p.site.clone(), p.inspectors.clone()))
                .collect(),
        });
        let excess = st.saved.draws.len().saturating_sub(DRAWS_KEPT);
        st.saved.draws.drain(..excess);
    }
}

/// A seed for a draw that was not given one: the clock's microseconds mixed with the
/// process id (it is published with the draw; only reproducibility matters, not secrecy).
pub fn fresh_seed(now: Timestamp) -> u64 {
    let mut rng =
        alerting::risk::SplitMix64::new((now.0 as u64) ^ (u64::from(std::process::id()) << 32));
    rng.next_u64()
}

/// The id of a draw: `draw-<date>-<seed in hex>`.
pub fn draw_id(date: &str, seed: u64) -> String {
    format!("draw-{date}-{seed:016x}")
}
