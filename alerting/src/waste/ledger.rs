//! The bag ledger of one waste store (医废台账): bags in store, recent handovers and their
//! bags, the last disinfection. Pure and deterministic on event time.
//!
//! # Semantics (decisions)
//!
//! - **Idempotent.** A `bag_in` whose bag is in the store, or was handed over recently, is a
//!   duplicate (the first one wins). A `handover` whose manifest was seen recently is a
//!   duplicate: the same manifest twice is one handover, never "a bag handed over twice".
//! - **Bags leave at handover.** A handover removes its bags from the store at once; the
//!   ledger keeps only a bounded memory of handed-over bag ids (hashed, with the handover time
//!   and manifest) to recognise redeliveries and bags handed over twice:
//!   [`HANDED_KEEP_SECS`] (Default, 7 days) before the latest handover, at most
//!   [`HANDED_MAX`] (Default) ids per store.
//! - **Out of order.** A handover naming a bag whose `bag_in` has not arrived is held for a
//!   grace period (M3's `pending_mins`, Default 10 min) before it is judged: a `bag_in` that
//!   arrives inside the grace reconciles the bag (it never enters the inventory; its intake
//!   weight counts for M2). When the grace expires the handover is judged with the bag
//!   unknown (M3 "never came in"; M2 is not judged for a handover with unknown bags, its
//!   intake sum being incomplete). A `bag_in` arriving after that is recognised as the
//!   handed-over bag and does not enter the inventory either.
//! - **Too old to judge.** Events older than what the ledger has forgotten (handovers dropped
//!   from its memory) cannot be told from redeliveries and are ignored ([`BagOutcome::TooOld`]).
//!   Ingest still stores them; only the ledger ignores them.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{BagIn, Category, Handover};
use crate::model::Timestamp;

/// How long handed-over bag ids and manifests are remembered, before the latest handover
/// (Default: 7 days, well beyond MQTT redelivery and gateway buffer flushes).
pub const HANDED_KEEP_SECS: i64 = 7 * 86_400;
/// At most this many handed-over bag ids per store (Default); the oldest are forgotten first.
pub const HANDED_MAX: usize = 20_000;
/// At most this many bags in one store (Default): beyond it `bag_in`s are ignored (M1 and M4
/// are long firing by then).
pub const BAGS_MAX: usize = 100_000;

/// Departments remembered per store (Default); bags of further departments keep none.
pub const DEPARTMENTS_MAX: usize = 1_024;

/// One bag in the store, as weighed in. 48 bytes plus its id: the ledger of 10,000 stores
/// holding 200 bags each is the benchmark (`examples/waste_bench.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "BagRepr", into = "BagRepr")]
pub struct Bag {
    pub id: Box<str>,
    /// [`id_hash`] of the id: lookups compare it first.
    hash: u64,
    /// Intake time (the `bag_in` event time).
    pub ts: Timestamp,
    pub weight_kg: f64,
    pub category: Category,
    /// Index into the ledger's departments ([`Ledger::department`]).
    department: Option<u16>,
}

/// The stored form of a [`Bag`] (the hash is derived again on load).
#[derive(Serialize, Deserialize)]
struct BagRepr {
    id: Box<str>,
    ts: Timestamp,
    weight_kg: f64,
    category: Category,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    department: Option<u16>,
}

impl From<BagRepr> for Bag {
    fn from(r: BagRepr) -> Bag {
        Bag {
            hash: id_hash(&r.id),
            id: r.id,
            ts: r.ts,
            weight_kg: r.weight_kg,
            category: r.category,
            department: r.department,
        }
    }
}

impl From<Bag> for BagRepr {
    fn from(b: Bag) -> BagRepr {
        BagRepr {
            id: b.id,
            ts: b.ts,
            weight_kg: b.weight_kg,
            category: b.category,
            department: b.department,
        }
    }
}

/// A handed-over bag remembered by the hash of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedBag {
    /// Handover time.
    pub ts: Timestamp,
    /// Hash of the manifest id.
    pub manifest: u64,
}

/// A recent handover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub manifest_id: String,
    pub ts: Timestamp,
    pub carrier: String,
    /// Weighed at handover.
    pub weight_kg: f64,
    /// Bags named by the manifest (distinct).
    pub bags: u32,
}

/// A bag of a handover as it was at intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandedOver {
    pub bag_id: String,
    pub category: Category,
    pub weight_kg: f64,
    /// Intake time.
    pub bag_in: Timestamp,
}

/// A handover waiting for late `bag_in`s (its grace period).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingHandover {
    pub record: ManifestRecord,
    pub known: Vec<HandedOver>,
    pub missing: Vec<String>,
    /// (bag id, the manifest that handed it over before).
    pub twice: Vec<(String, String)>,
    /// Judged at this time if bags are still missing.
    pub deadline: Timestamp,
}

/// A judged handover: what M2 and M3 look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub record: ManifestRecord,
    /// The manifest's bags that came in, with their intake weights.
    pub bags: Vec<HandedOver>,
    /// Bags named by the manifest that never came in.
    pub missing: Vec<String>,
    /// Bags handed over before under another manifest: (bag id, that manifest).
    pub twice: Vec<(String, String)>,
}

impl Judgement {
    /// Sum of the intake weights of the bags that came in.
    pub fn intake_kg(&self) -> f64 {
        self.bags.iter().map(|b| b.weight_kg).sum()
    }

    /// How much less the handover weighs than its bags at intake, in % of the intake (negative
    /// when it weighs more). `None` when it cannot be judged: bags that never came in or were
    /// handed over before (their intake weight is unknown or already counted), or no intake.
    pub fn shortfall_pct(&self) -> Option<f64> {
        let intake = self.intake_kg();
        (self.missing.is_empty() && self.twice.is_empty() && intake > 0.0)
            .then(|| (intake - self.record.weight_kg) / intake * 100.0)
    }

    /// Whether the ledger is broken by this handover (M3).
    pub fn is_break(&self) -> bool {
        !self.missing.is_empty() || !self.twice.is_empty()
    }
}

/// What a `bag_in` did to the ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum BagOutcome {
    /// The bag is now in the store.
    Added,
    /// Already in the store or handed over: a redelivery (or a reused id); ignored.
    Duplicate,
    /// Older than the ledger's memory; ignored.
    TooOld,
    /// The store holds [`BAGS_MAX`] bags; ignored.
    Full,
    /// A handover waiting for this bag had it; if that was its last missing bag, it is judged.
    Reconciled(Option<Judgement>),
}

/// What a `handover` did to the ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum HandoverOutcome {
    /// Judged at once (every bag known).
    Judged(Judgement),
    /// Waiting for late `bag_in`s until its grace expires ([`Ledger::expire`]).
    Pending,
    /// The manifest was seen before: a redelivery; ignored.
    Duplicate,
    /// Older than the ledger's memory; ignored.
    TooOld,
}

/// Bags and kg of one category in store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryTotal {
    pub category: Category,
    pub bags: usize,
    pub kg: f64,
}

/// The oldest bag in store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OldestBag {
    pub bag_id: String,
    pub category: Category,
    pub weight_kg: f64,
    pub since: Timestamp,
}

/// A waste store's ledger at a glance (supervisors' API and site status).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerSummary {
    pub bags: usize,
    pub kg: f64,
    /// Every category, in catalogue order (zero when none in store).
    pub by_category: Vec<CategoryTotal>,
    pub oldest_bag: Option<OldestBag>,
    pub last_handover: Option<ManifestRecord>,
    pub last_disinfection: Option<Timestamp>,
    /// Handovers waiting for late `bag_in`s.
    pub pending_handovers: usize,
}

/// The ledger of one store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// Bags in store, by intake time (then id): the oldest first.
    bags: Vec<Bag>,
    /// Department names, interned (bags hold an index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    departments: Vec<Box<str>>,
    /// Recently handed-over bags by id hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    handed: BTreeMap<u64, HandedBag>,
    /// Recent handovers (idempotency and evidence).
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    manifests: VecDeque<ManifestRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<PendingHandover>,
    /// The latest handover (kept when older ones are forgotten).
    #[serde(default)]
    last_handover: Option<ManifestRecord>,
    /// Handover time of the newest record forgotten: older events are not judged.
    #[serde(default)]
    forgotten_up_to: Option<Timestamp>,
    #[serde(default)]
    last_disinfection: Option<Timestamp>,
    /// When the engine started watching the store: the baseline of M7 before any disinfection.
    #[serde(default)]
    watch_since: Option<Timestamp>,
}

/// FNV-1a 64 of a bag or manifest id: stable across builds (snapshots keep it).
pub fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Ledger {
    /// Starts the M7 baseline at `now` if it has none.
    pub fn watch(&mut self, now: Timestamp) {
        self.watch_since.get_or_insert(now);
    }

    pub fn watch_since(&self) -> Option<Timestamp> {
        self.watch_since
    }

    /// Bags in store, oldest first.
    pub fn bags(&self) -> &[Bag] {
        &self.bags
    }

    pub fn bag_count(&self) -> usize {
        self.bags.len()
    }

    /// The oldest bag in store (earliest intake; ties by id).
    pub fn oldest(&self) -> Option<&Bag> {
        self.bags.first()
    }

    /// The department of a bag of this ledger.
    pub fn department(&self, bag: &Bag) -> Option<&str> {
        bag.department
            .and_then(|d| self.departments.get(usize::from(d)))
            .map(|d| &**d)
    }

    /// Position of the bag `id` in store.
    fn find(&self, id: &str) -> Option<usize> {
        let hash = id_hash(id);
        self.bags
            .iter()
            .position(|b| b.hash == hash && &*b.id == id)
    }

    /// Removes bag `id` from the store.
    fn take(&mut self, id: &str) -> Option<Bag> {
        self.find(id).map(|i| self.bags.remove(i))
    }

    fn intern(&mut self, department: Option<&str>) -> Option<u16> {
        let d = department?;
        if let Some(i) = self.departments.iter().position(|x| &**x == d) {
            return u16::try_from(i).ok();
        }
        if self.departments.len() >= DEPARTMENTS_MAX {
            return None;
        }
        self.departments.push(d.into());
        u16::try_from(self.departments.len() - 1).ok()
    }

    /// The latest handover.
    pub fn last_handover(&self) -> Option<&ManifestRecord> {
        self.last_handover.as_ref()
    }

    pub fn last_disinfection(&self) -> Option<Timestamp> {
        self.last_disinfection
    }

    /// Handovers waiting for late `bag_in`s.
    pub fn pending(&self) -> &[PendingHandover] {
        &self.pending
    }

    /// Records a disinfection.
    pub fn disinfection(&mut self, ts: Timestamp) {
        self.last_disinfection = self.last_disinfection.max(Some(ts));
    }

    fn too_old(&self, ts: Timestamp) -> bool {
        self.forgotten_up_to.is_some_and(|f| ts <= f)
    }

    /// Records a `bag_in`.
    pub fn bag_in(&mut self, b: &BagIn) -> BagOutcome {
        if self.find(&b.bag_id).is_some() {
            return BagOutcome::Duplicate;
        }
        // A handover waiting for this bag: reconcile it (the bag is already gone).
        if let Some(pi) = self
            .pending
            .iter()
            .position(|p| p.missing.contains(&b.bag_id))
        {
            let Some(p) = self.pending.get_mut(pi) else {
                return BagOutcome::Duplicate;
            };
            p.missing.retain(|m| *m != b.bag_id);
            p.known.push(HandedOver {
                bag_id: b.bag_id.clone(),
                category: b.category,
                weight_kg: b.weight_kg,
                bag_in: b.ts,
            });
            if !p.missing.is_empty() {
                return BagOutcome::Reconciled(None);
            }
            let p = self.pending.swap_remove(pi);
            return BagOutcome::Reconciled(Some(judge(p)));
        }
        if self.handed.contains_key(&id_hash(&b.bag_id)) {
            return BagOutcome::Duplicate;
        }
        if self.too_old(b.ts) {
            return BagOutcome::TooOld;
        }
        if self.bags.len() >= BAGS_MAX {
            return BagOutcome::Full;
        }
        let department = self.intern(b.department.as_deref());
        let bag = Bag {
            id: b.bag_id.as_str().into(),
            hash: id_hash(&b.bag_id),
            ts: b.ts,
            weight_kg: b.weight_kg,
            category: b.category,
            department,
        };
        // Bags mostly arrive in time order: the insert is usually a push.
        let at = self
            .bags
            .partition_point(|x| (x.ts, &*x.id) <= (bag.ts, &*bag.id));
        self.bags.insert(at, bag);
        BagOutcome::Added
    }

    /// Records a `handover`: its bags leave the store. Judged at once when every bag is
    /// known; otherwise held until `grace_secs` after the handover.
    pub fn handover(&mut self, h: &Handover, grace_secs: i64) -> HandoverOutcome {
        let mhash = id_hash(&h.manifest_id);
        if self
            .manifests
            .iter()
            .any(|m| m.manifest_id == h.manifest_id)
            || self
                .pending
                .iter()
                .any(|p| p.record.manifest_id == h.manifest_id)
        {
            return HandoverOutcome::Duplicate;
        }
        if self.too_old(h.ts) {
            return HandoverOutcome::TooOld;
        }
        let mut ids: Vec<&str> = Vec::with_capacity(h.bag_ids.len());
        for id in &h.bag_ids {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
        let record = ManifestRecord {
            manifest_id: h.manifest_id.clone(),
            ts: h.ts,
            carrier: h.carrier.clone(),
            weight_kg: h.weight_kg,
            bags: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        };
        let mut known = Vec::new();
        let mut missing = Vec::new();
        let mut twice = Vec::new();
        for id in ids {
            let hash = id_hash(id);
            if let Some(bag) = self.take(id) {
                known.push(HandedOver {
                    bag_id: id.to_owned(),
                    category: bag.category,
                    weight_kg: bag.weight_kg,
                    bag_in: bag.ts,
                });
            } else if let Some(before) = self.handed.get(&hash) {
                let name = self
                    .manifests
                    .iter()
                    .find(|m| id_hash(&m.manifest_id) == before.manifest)
                    .map_or_else(
                        || "an earlier manifest".to_owned(),
                        |m| m.manifest_id.clone(),
                    );
                twice.push((id.to_owned(), name));
                continue;
            } else {
                missing.push(id.to_owned());
            }
            self.handed.insert(
                hash,
                HandedBag {
                    ts: h.ts,
                    manifest: mhash,
                },
            );
        }
        self.manifests.push_back(record.clone());
        if self.last_handover.as_ref().is_none_or(|l| l.ts <= h.ts) {
            self.last_handover = Some(record.clone());
        }
        self.forget(h.ts);
        let pending = PendingHandover {
            record,
            known,
            missing,
            twice,
            deadline: h.ts.plus_secs(grace_secs),
        };
        if pending.missing.is_empty() || grace_secs <= 0 {
            return HandoverOutcome::Judged(judge(pending));
        }
        self.pending.push(pending);
        HandoverOutcome::Pending
    }

    /// Judges the handovers whose grace has expired at `now`, in handover-time order.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Judgement> {
        if self.pending.iter().all(|p| p.deadline > now) {
            return Vec::new();
        }
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.deadline <= now);
        self.pending = keep;
        let mut due: Vec<Judgement> = due.into_iter().map(judge).collect();
        due.sort_by(|a, b| {
            (a.record.ts, &a.record.manifest_id).cmp(&(b.record.ts, &b.record.manifest_id))
        });
        due
    }

    /// Forgets handovers older than [`HANDED_KEEP_SECS`] before `latest`, and the oldest
    /// handed-over ids beyond [`HANDED_MAX`].
    fn forget(&mut self, latest: Timestamp) {
        let mut cutoff = latest.plus_secs(-HANDED_KEEP_SECS);
        if self.handed.len() > HANDED_MAX {
            let mut times: Vec<Timestamp> = self.handed.values().map(|h| h.ts).collect();
            times.sort_unstable();
            if let Some(t) = times.get(self.handed.len() - HANDED_MAX) {
                cutoff = cutoff.max(*t);
            }
        }
        let mut newest_forgotten = self.forgotten_up_to;
        self.handed.retain(|_, h| {
            let keep = h.ts >= cutoff;
            if !keep {
                newest_forgotten = newest_forgotten.max(Some(h.ts));
            }
            keep
        });
        self.manifests.retain(|m| {
            let keep = m.ts >= cutoff;
            if !keep {
                newest_forgotten = newest_forgotten.max(Some(m.ts));
            }
            keep
        });
        self.forgotten_up_to = newest_forgotten;
    }

    /// The ledger at a glance.
    pub fn summary(&self) -> LedgerSummary {
        let mut by_category: Vec<CategoryTotal> = Category::ALL
            .iter()
            .map(|c| CategoryTotal {
                category: *c,
                bags: 0,
                kg: 0.0,
            })
            .collect();
        let mut kg = 0.0;
        for bag in &self.bags {
            kg += bag.weight_kg;
            if let Some(t) = by_category.iter_mut().find(|t| t.category == bag.category) {
                t.bags += 1;
                t.kg += bag.weight_kg;
            }
        }
        LedgerSummary {
            bags: self.bags.len(),
            kg,
            by_category,
            oldest_bag: self.oldest().map(|b| OldestBag {
                bag_id: b.id.to_string(),
                category: b.category,
                weight_kg: b.weight_kg,
                since: b.ts,
            }),
            last_handover: self.last_handover.clone(),
            last_disinfection: self.last_disinfection,
            pending_handovers: self.pending.len(),
        }
    }
}

fn judge(p: PendingHandover) -> Judgement {
    Judgement {
        record: p.record,
        bags: p.known,
        missing: p.missing,
        twice: p.twice,
    }
}

#[cfg(test)]
mod tests;
