//! A waste store's ledger in its site status (`GET /api/v1/sites/{site}/status`, field
//! `waste`): bags and kg in store by category, the oldest bag and its age, the last handover
//! and the last disinfection, with the hours since each at the time of the request.

use alerting::model::Timestamp;
use alerting::waste::LedgerSummary;
use serde::Serialize;
use utoipa::ToSchema;

use super::schema;
use super::view::{at, at_opt};

fn hours_since(now: Timestamp, t: Timestamp) -> f64 {
    (now.secs_since(t) as f64 / 360.0).round() / 10.0
}

/// A waste store's bag ledger (rules M1-M7), as of the request; zero bags and nulls for a
/// store that reported nothing yet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WasteLedger {
    /// Bags in store.
    pub bags: usize,
    /// Their weight at intake, kg.
    pub kg: f64,
    pub by_category: Vec<CategoryLoad>,
    /// The bag in store longest; null when none.
    #[schema(required = true)]
    pub oldest_bag: Option<OldestBag>,
    /// The last handover to a carrier (交接); null when none.
    #[schema(required = true)]
    pub last_handover: Option<LastHandover>,
    /// The last disinfection, RFC 3339 at Beijing time (+08:00); null when none recorded.
    #[schema(format = DateTime, required = true)]
    pub last_disinfection: Option<String>,
    /// The last disinfection, epoch microseconds.
    #[schema(required = true)]
    pub last_disinfection_us: Option<i64>,
    #[schema(required = true)]
    pub hours_since_disinfection: Option<f64>,
    /// Handovers waiting for late bag_in events (M3 grace).
    pub pending_handovers: usize,
}

/// Bags in store of one category.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryLoad {
    #[schema(schema_with = schema::category)]
    pub category: &'static str,
    /// The category's name in Chinese (感染性废物, ...).
    pub name_zh: &'static str,
    pub bags: usize,
    pub kg: f64,
}

/// The bag in store longest.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OldestBag {
    pub bag_id: String,
    #[schema(schema_with = schema::category)]
    pub category: &'static str,
    pub weight_kg: f64,
    /// Intake time, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub since: String,
    /// Intake time, epoch microseconds.
    pub since_us: i64,
    pub age_hours: f64,
}

/// The last handover to a carrier.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastHandover {
    pub manifest_id: String,
    pub carrier: String,
    /// Weighed at handover.
    pub weight_kg: f64,
    pub bags: u32,
    /// When, RFC 3339 at Beijing time (+08:00).
    #[schema(format = DateTime)]
    pub at: String,
    /// When, epoch microseconds.
    pub at_us: i64,
    pub hours_ago: f64,
}

/// The `waste` field of a waste store's status.
pub(crate) fn ledger(summary: Option<&LedgerSummary>, now: Timestamp) -> WasteLedger {
    let Some(s) = summary else {
        return WasteLedger {
            bags: 0,
            kg: 0.0,
            by_category: Vec::new(),
            oldest_bag: None,
            last_handover: None,
            last_disinfection: None,
            last_disinfection_us: None,
            hours_since_disinfection: None,
            pending_handovers: 0,
        };
    };
    let round = |kg: f64| (kg * 1000.0).round() / 1000.0;
    let (last_disinfection, last_disinfection_us) = at_opt(s.last_disinfection);
    WasteLedger {
        bags: s.bags,
        kg: round(s.kg),
        by_category: s
            .by_category
            .iter()
            .map(|c| CategoryLoad {
                category: c.category.as_str(),
                name_zh: c.category.name_zh(),
                bags: c.bags,
                kg: round(c.kg),
            })
            .collect(),
        oldest_bag: s.oldest_bag.as_ref().map(|b| {
            let (since, since_us) = at(b.since);
            OldestBag {
                bag_id: b.bag_id.clone(),
                category: b.category.as_str(),
                weight_kg: b.weight_kg,
                since,
                since_us,
                age_hours: hours_since(now, b.since),
            }
        }),
        last_handover: s.last_handover.as_ref().map(|h| {
            let (at, at_us) = at(h.ts);
            LastHandover {
                manifest_id: h.manifest_id.clone(),
                carrier: h.carrier.clone(),
                weight_kg: h.weight_kg,
                bags: h.bags,
                at,
                at_us,
                hours_ago: hours_since(now, h.ts),
            }
        }),
        last_disinfection,
        last_disinfection_us,
        hours_since_disinfection: s.last_disinfection.map(|t| hours_since(now, t)),
        pending_handovers: s.pending_handovers,
    }
}
