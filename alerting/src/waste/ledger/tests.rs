//! Ledger semantics: idempotency, bags leaving at handover, late `bag_in`s inside the grace,
//! bags handed over twice, bounded memory.

use super::*;
use crate::waste::{BagIn, Category, Handover};

fn t(min: i64) -> Timestamp {
    Timestamp::from_secs(1_795_305_600 + min * 60)
}

fn bag(id: &str, kg: f64, min: i64) -> BagIn {
    BagIn {
        site: "s".into(),
        device: "d".into(),
        ts: t(min),
        bag_id: id.into(),
        category: Category::Infectious,
        weight_kg: kg,
        department: Some("内科".into()),
    }
}

fn handover(manifest: &str, ids: &[&str], kg: f64, min: i64) -> Handover {
    Handover {
        site: "s".into(),
        device: "d".into(),
        ts: t(min),
        manifest_id: manifest.into(),
        bag_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        weight_kg: kg,
        carrier: "C1".into(),
    }
}

#[test]
fn the_same_bag_in_twice_is_one_bag() {
    let mut l = Ledger::default();
    assert_eq!(l.bag_in(&bag("b1", 2.0, 0)), BagOutcome::Added);
    assert_eq!(l.bag_in(&bag("b1", 2.0, 0)), BagOutcome::Duplicate);
    let s = l.summary();
    assert_eq!((s.bags, s.kg), (1, 2.0));
}

#[test]
fn a_handover_removes_its_bags_and_reconciles_weights() {
    let mut l = Ledger::default();
    l.bag_in(&bag("b1", 2.0, 0));
    l.bag_in(&bag("b2", 3.0, 10));
    l.bag_in(&bag("b3", 1.0, 20));
    let HandoverOutcome::Judged(j) = l.handover(&handover("M1", &["b1", "b2"], 4.5, 60), 600)
    else {
        panic!("judged at once");
    };
    assert_eq!(j.intake_kg(), 5.0);
    assert!((j.shortfall_pct().unwrap() - 10.0).abs() < 1e-9);
    assert!(!j.is_break());
    let s = l.summary();
    assert_eq!(s.bags, 1);
    assert_eq!(s.oldest_bag.unwrap().bag_id, "b3");
    assert_eq!(s.last_handover.unwrap().manifest_id, "M1");
    // Redelivered handover and redelivered bag_in after it: nothing changes.
    assert_eq!(
        l.handover(&handover("M1", &["b1", "b2"], 4.5, 60), 600),
        HandoverOutcome::Duplicate
    );
    assert_eq!(l.bag_in(&bag("b1", 2.0, 0)), BagOutcome::Duplicate);
    assert_eq!(l.bag_count(), 1);
}

#[test]
fn a_bag_in_arriving_inside_the_grace_reconciles_the_handover() {
    let mut l = Ledger::default();
    l.bag_in(&bag("b1", 2.0, 0));
    assert_eq!(
        l.handover(&handover("M1", &["b1", "b2"], 5.0, 60), 600),
        HandoverOutcome::Pending
    );
    assert!(l.expire(t(65)).is_empty());
    let BagOutcome::Reconciled(Some(j)) = l.bag_in(&bag("b2", 3.0, 61)) else {
        panic!("reconciled");
    };
    assert!(!j.is_break());
    assert_eq!(j.shortfall_pct(), Some(0.0));
    assert_eq!(l.bag_count(), 0, "the late bag never enters the inventory");
    assert!(l.expire(t(100)).is_empty());
}

#[test]
fn an_unknown_bag_is_judged_when_the_grace_expires_and_a_later_bag_in_stays_out() {
    let mut l = Ledger::default();
    l.bag_in(&bag("b1", 2.0, 0));
    assert_eq!(
        l.handover(&handover("M1", &["b1", "bX"], 5.0, 60), 600),
        HandoverOutcome::Pending
    );
    let judged = l.expire(t(70));
    assert_eq!(judged.len(), 1);
    assert_eq!(judged[0].missing, ["bX"]);
    assert_eq!(
        judged[0].shortfall_pct(),
        None,
        "M2 not judged with unknown bags"
    );
    assert_eq!(l.bag_in(&bag("bX", 3.0, 2)), BagOutcome::Duplicate);
    assert_eq!(l.bag_count(), 0);
}

#[test]
fn a_bag_handed_over_under_two_manifests_is_a_break() {
    let mut l = Ledger::default();
    l.bag_in(&bag("b1", 2.0, 0));
    l.handover(&handover("M1", &["b1"], 2.0, 60), 600);
    let HandoverOutcome::Judged(j) = l.handover(&handover("M2", &["b1"], 2.0, 120), 600) else {
        panic!("judged at once");
    };
    assert_eq!(j.twice, [("b1".to_owned(), "M1".to_owned())]);
    assert!(j.is_break());
}

#[test]
fn handed_over_ids_are_forgotten_after_a_week_and_older_events_ignored() {
    let mut l = Ledger::default();
    l.bag_in(&bag("b1", 2.0, 0));
    l.handover(&handover("M1", &["b1"], 2.0, 60), 600);
    let week = 7 * 24 * 60;
    l.bag_in(&bag("b2", 2.0, week + 100));
    l.handover(&handover("M2", &["b2"], 2.0, week + 120), 600);
    assert_eq!(l.handed.len(), 1, "b1 forgotten");
    assert_eq!(l.bag_in(&bag("b1", 2.0, 0)), BagOutcome::TooOld);
    assert_eq!(
        l.handover(&handover("M1", &["b1"], 2.0, 60), 600),
        HandoverOutcome::TooOld
    );
    assert_eq!(l.bag_count(), 0);
}

#[test]
fn the_ledger_survives_a_json_round_trip() {
    let mut l = Ledger::default();
    l.watch(t(0));
    l.bag_in(&bag("b1", 2.0, 0));
    l.bag_in(&bag("b2", 2.5, 5));
    l.handover(&handover("M1", &["b1", "bX"], 2.0, 60), 600);
    l.disinfection(t(70));
    let json = serde_json::to_string(&l).unwrap();
    let back: Ledger = serde_json::from_str(&json).unwrap();
    assert_eq!(back, l);
}

mod props {
    use proptest::prelude::*;

    use super::*;

    /// An event of a small store: a bag in, a handover of some bags, a disinfection.
    #[derive(Debug, Clone)]
    enum Ev {
        In(u8, u8),
        Out(u8, Vec<u8>, u8),
        Disinfect(u8),
    }

    fn arb_ev() -> impl Strategy<Value = Ev> {
        prop_oneof![
            (0u8..12, 0u8..200).prop_map(|(b, m)| Ev::In(b, m)),
            (0u8..4, proptest::collection::vec(0u8..14, 0..5), 0u8..200)
                .prop_map(|(m, ids, at)| Ev::Out(m, ids, at)),
            (0u8..200).prop_map(Ev::Disinfect),
        ]
    }

    fn apply(l: &mut Ledger, e: &Ev) -> Vec<Judgement> {
        let mut judged = Vec::new();
        match e {
            Ev::In(b, m) => {
                if let BagOutcome::Reconciled(Some(j)) =
                    l.bag_in(&bag(&format!("b{b}"), 1.0 + f64::from(*b), i64::from(*m)))
                {
                    judged.push(j);
                }
            }
            Ev::Out(m, ids, at) => {
                let ids: Vec<String> = ids.iter().map(|b| format!("b{b}")).collect();
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                if let HandoverOutcome::Judged(j) =
                    l.handover(&handover(&format!("M{m}"), &refs, 3.0, i64::from(*at)), 600)
                {
                    judged.push(j);
                }
            }
            Ev::Disinfect(at) => l.disinfection(t(i64::from(*at))),
        }
        judged.extend(l.expire(t(1_000)));
        judged
    }

    proptest! {
        /// Redelivery: every event sent twice in a row leaves the same ledger and the same
        /// judgements as every event once (no bag counted twice, no handover judged twice).
        #[test]
        fn every_event_twice_is_the_same_as_once(events in proptest::collection::vec(arb_ev(), 0..40)) {
            let mut once = Ledger::default();
            let mut twice = Ledger::default();
            let mut judged_once = Vec::new();
            let mut judged_twice = Vec::new();
            for e in &events {
                judged_once.extend(apply(&mut once, e));
                judged_twice.extend(apply(&mut twice, e));
                judged_twice.extend(apply(&mut twice, e));
            }
            prop_assert_eq!(&once, &twice);
            prop_assert_eq!(judged_once, judged_twice);
        }

        /// A bag is in the store or was handed over, never both; the summary adds up; the
        /// ledger round-trips through JSON.
        #[test]
        fn bags_in_store_are_never_handed_over_and_the_summary_adds_up(events in proptest::collection::vec(arb_ev(), 0..40)) {
            let mut l = Ledger::default();
            for e in &events {
                apply(&mut l, e);
            }
            for b in l.bags() {
                prop_assert!(!l.handed.contains_key(&id_hash(&b.id)), "{} both in store and handed over", b.id);
            }
            let s = l.summary();
            prop_assert_eq!(s.bags, l.bag_count());
            prop_assert_eq!(s.by_category.iter().map(|c| c.bags).sum::<usize>(), s.bags);
            let times: Vec<Timestamp> = l.bags().iter().map(|b| b.ts).collect();
            prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
            let back: Ledger = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
            prop_assert_eq!(back, l);
        }
    }
}
