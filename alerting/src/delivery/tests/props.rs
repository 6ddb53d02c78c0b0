//! Property: arbitrary sequences never panic, and an acknowledged alert is never escalated
//! or repeated (until a more severe level clears the acknowledgement).

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Fire {
        site: usize,
        device: usize,
        level: usize,
    },
    Level {
        alert: usize,
        level: usize,
    },
    Resolve {
        alert: usize,
    },
    Tick {
        mins: i64,
    },
    Ack {
        alert: usize,
        sup: usize,
    },
    ResolveManually {
        alert: usize,
        sup: usize,
    },
    Silence {
        site: usize,
        device: Option<usize>,
        mins: i64,
        sup: usize,
    },
    Lift {
        sup: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..5usize, 0..3usize, 0..4usize).prop_map(|(site, device, level)| Op::Fire {
            site,
            device,
            level
        }),
        (0..15usize, 0..4usize).prop_map(|(alert, level)| Op::Level { alert, level }),
        (0..15usize).prop_map(|alert| Op::Resolve { alert }),
        (0..200i64).prop_map(|mins| Op::Tick { mins }),
        (0..15usize, 0..9usize).prop_map(|(alert, sup)| Op::Ack { alert, sup }),
        (0..15usize, 0..9usize).prop_map(|(alert, sup)| Op::ResolveManually { alert, sup }),
        (
            0..5usize,
            proptest::option::of(0..3usize),
            -5..300i64,
            0..9usize
        )
            .prop_map(|(site, device, mins, sup)| Op::Silence {
                site,
                device,
                mins,
                sup
            }),
        (0..9usize).prop_map(|sup| Op::Lift { sup }),
    ]
}

const SUPS: [&str; 9] = [
    "sq-shuichang",
    "sq-huayuan",
    "sq-xuefu",
    "jd-dongcheng",
    "jd-beijiao",
    "qu-shifan",
    "shi-duty",
    "nobody",
    "sq-beicun",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn arbitrary_sequences_never_panic_nor_escalate_an_acknowledged_alert(ops in proptest::collection::vec(op(), 1..60)) {
        let sites = sites();
        let mut e = engine();
        let mut now = T0;
        let mut alerts: Vec<AlertEvent> = Vec::new();
        let mut acked: BTreeSet<String> = BTreeSet::new();
        let mut ids = BTreeSet::new();
        let mut silences = 0;
        for op in ops {
            now = now.plus_secs(7);
            let out = match op {
                Op::Fire { site, device, level } => {
                    let ev = event(&format!("G{}", alerts.len()), &sites[site].id, &format!("d{device}"), Level::ALL[level], EventKind::Firing, now);
                    alerts.push(ev.clone());
                    e.on_alert_event(&ev, now)
                }
                Op::Level { alert, level } => match alerts.get(alert) {
                    Some(a) => {
                        let ev = AlertEvent { level: Level::ALL[level], kind: EventKind::LevelChanged, ts: now, ..a.clone() };
                        e.on_alert_event(&ev, now)
                    }
                    None => Outcome::default(),
                },
                Op::Resolve { alert } => match alerts.get(alert) {
                    Some(a) => e.on_alert_event(&AlertEvent { kind: EventKind::Resolved, ts: now, ..a.clone() }, now),
                    None => Outcome::default(),
                },
                Op::Tick { mins } => { now = now.plus_secs(mins * 60); e.tick(now) }
                Op::Ack { alert, sup } => {
                    let id = alerts.get(alert).map_or("none", |a| a.alert_id.as_str()).to_owned();
                    let r = e.acknowledge(&id, SUPS[sup], "ack", now).unwrap_or_default();
                    if e.alert(&id).is_some_and(|a| a.ack.is_some()) { acked.insert(id); }
                    r
                }
                Op::ResolveManually { alert, sup } => {
                    let id = alerts.get(alert).map_or("none", |a| a.alert_id.as_str()).to_owned();
                    e.resolve_manually(&id, SUPS[sup], "manual", now).unwrap_or_default()
                }
                Op::Silence { site, device, mins, sup } => {
                    silences += 1;
                    let site = sites[site].id.to_string();
                    let scope = match device {
                        Some(d) => SilenceScope::Device { site, device: format!("d{d}") },
                        None => SilenceScope::Site { site },
                    };
                    let s = Silence { id: format!("s{silences}"), scope, by: SUPS[sup].into(), reason: "维护".into(), until: now.plus_secs(mins * 60) };
                    e.add_silence(s, now).unwrap_or_default()
                }
                Op::Lift { sup } => e.expire_silence(&format!("s{silences}"), SUPS[sup], now).unwrap_or_default(),
            };
            for ev in &out.events {
                if let DeliveryEventKind::AcknowledgementCleared { .. } = ev.kind {
                    acked.remove(&ev.alert_id);
                }
            }
            for ev in &out.events {
                if let DeliveryEventKind::Escalated { .. } = ev.kind {
                    prop_assert!(!acked.contains(&ev.alert_id), "escalated after ack: {}", ev.alert_id);
                }
            }
            for n in &out.notices {
                prop_assert!(ids.insert(n.id.clone()), "duplicate notice id {}", n.id);
                prop_assert!(!n.recipients.is_empty());
                if matches!(n.kind, NoticeKind::Escalated | NoticeKind::Repeat | NoticeKind::New) {
                    for a in &n.alerts {
                        prop_assert!(!acked.contains(a), "{:?} notice for acknowledged {a}", n.kind);
                    }
                }
                for r in &n.recipients {
                    prop_assert!(e.can_see(&r.supervisor, &n.site), "{} told about {}", r.supervisor, n.site);
                }
            }
            // Acked alerts that got resolved drop out of the model.
            acked.retain(|id| e.alert(id).is_some());
        }
        let json = serde_json::to_string(&e.snapshot()).unwrap_or_default();
        prop_assert!(serde_json::from_str::<DeliverySnapshot>(&json).is_ok());
    }
}
