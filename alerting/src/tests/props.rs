//! Property: the engine never panics on arbitrary input sequences, and its snapshot always
//! round-trips through JSON.

use proptest::prelude::*;

use super::*;
use crate::model::Metric;

fn arb_input() -> impl Strategy<Value = Input> {
    let dev = prop_oneof![Just("d1"), Just("d2"), Just("ghost")];
    let metric = (0usize..Metric::ALL.len()).prop_map(|i| Metric::ALL[i]);
    let value = prop_oneof![
        -10.0f64..20.0,
        Just(0.0),
        Just(1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-1e300),
        Just(1e300)
    ];
    let flag = prop_oneof![
        Just(DataFlag::N),
        Just(DataFlag::M),
        Just(DataFlag::D),
        Just(DataFlag::C)
    ];
    let stat = prop_oneof![Just(Stat::Value), Just(Stat::Avg), Just(Stat::Max)];
    let ts = prop_oneof![
        -100i64..2000,
        Just(i64::MIN / 2_000_000),
        Just(i64::MAX / 2_000_000)
    ];
    (
        0u8..6,
        dev,
        metric,
        value,
        flag,
        stat,
        ts,
        proptest::option::of(0u64..5),
        any::<bool>(),
    )
        .prop_map(|(kind, dev, metric, value, flag, stat, min, seq, b)| {
            let ts = Timestamp(min.saturating_mul(60_000_000));
            match kind {
                0 | 1 => Input::Reading(Reading {
                    site: "s1".into(),
                    device: dev.into(),
                    ts,
                    metric,
                    value,
                    flag,
                    period: Period::Instant,
                    stat,
                    seq,
                }),
                2 => Input::Tick(ts),
                3 => Input::Maintenance {
                    site: "s1".into(),
                    device: dev.into(),
                    ts,
                    active: b,
                    reason: String::new(),
                },
                4 => Input::Status {
                    site: "s1".into(),
                    device: dev.into(),
                    ts,
                    online: b,
                },
                _ => {
                    if b {
                        Input::SensorFault {
                            site: "s1".into(),
                            device: dev.into(),
                            ts,
                            metric,
                            value,
                        }
                    } else {
                        Input::ClockFault {
                            site: "s1".into(),
                            device: dev.into(),
                            ts,
                            detail: "x".into(),
                        }
                    }
                }
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_engine_never_panics_on_arbitrary_input_sequences(inputs in proptest::collection::vec(arb_input(), 0..200)) {
        let mut e = Engine::new(
            pack(),
            vec![water_site("s1", WaterPoint::Outlet, Disinfectant::FreeChlorine, false)],
            vec![device("d1", "s1"), device("d2", "s1")],
        );
        for i in &inputs {
            for ev in e.process(i) {
                prop_assert!(!ev.alert_id.is_empty());
            }
        }
        let json = serde_json::to_string(&e.snapshot()).unwrap();
        let snap: crate::EngineSnapshot = serde_json::from_str(&json).unwrap();
        let restored = Engine::restore(
            pack(),
            vec![water_site("s1", WaterPoint::Outlet, Disinfectant::FreeChlorine, false)],
            vec![device("d1", "s1"), device("d2", "s1")],
            snap,
        );
        prop_assert_eq!(restored.active_alerts(), e.active_alerts());
    }
}
