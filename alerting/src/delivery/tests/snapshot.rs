//! Snapshot and restore of the engine's state.

use super::*;

#[test]
fn snapshot_and_restore_mid_escalation_keep_the_deadline() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::I, T0);
    fire(&mut e, "G1", "hosp-1-waste", "ws-1", Level::IV, at_mins(16));
    e.tick(at_secs(60));
    e.tick(at_mins(16)); // escalated to the street; the G1 group is pending
    let deadline = e.alert(&id).and_then(|a| a.ack_deadline);
    assert_eq!(deadline, Some(at_mins(31)));
    let json = serde_json::to_string(&e.snapshot()).unwrap_or_default();
    let snap: DeliverySnapshot = serde_json::from_str(&json).unwrap_or_default();
    let restored = DeliveryEngine::restore(config_from(EXAMPLE), &sites(), snap);
    let Ok(mut r) = restored else {
        panic!("{restored:?}")
    };
    assert_eq!(r.snapshot(), e.snapshot());
    assert!(r
        .tick(at_mins(31).plus_secs(-1))
        .notices
        .iter()
        .all(|n| n.kind == NoticeKind::New));
    let a = r.tick(at_mins(31));
    let b = {
        e.tick(at_mins(31).plus_secs(-1));
        e.tick(at_mins(31))
    };
    assert_eq!(a, b, "restored engine behaves exactly like the original");
    assert!(matches!(
        a.events[0].kind,
        DeliveryEventKind::Escalated {
            to: Tier::District,
            ..
        }
    ));
    let bad = DeliverySnapshot {
        version: 99,
        ..DeliverySnapshot::default()
    };
    assert!(matches!(
        DeliveryEngine::restore(config_from(EXAMPLE), &sites(), bad),
        Err(DeliveryError::SnapshotVersion { found: 99, .. })
    ));
}
