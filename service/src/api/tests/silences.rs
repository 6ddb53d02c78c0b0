//! Silences: add, list, lift, within the caller's subtree.

use axum::http::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn silences_are_created_listed_and_lifted_within_the_subtree() {
    let h = Harness::new().await;
    let until = "2026-11-22T12:00:00+08:00";
    let a = h
        .post(
            "/api/v1/silences",
            SHUICHANG,
            json!({"site": "wp-east", "device": "wm-east-1", "reason": "设备检修", "until": until}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
    let id = a.body["silence"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("s-"), "{id}");
    assert_eq!(a.body["silence"]["by"], "sq-shuichang");
    assert_eq!(a.body["silence"]["device"], "wm-east-1");
    assert_eq!(a.body["silence"]["until"], until);

    let chosen = h
        .post("/api/v1/silences", XUEFU, json!({"id": "west-flush", "site": "wp-west", "reason": "管网冲洗", "until": (T0 / 1000) + 3_600_000}))
        .await;
    assert_eq!(chosen.status, StatusCode::CREATED, "{chosen:?}");

    let listed = |b: &Value| -> Vec<String> {
        b["silences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        listed(&h.get("/api/v1/silences", SHUICHANG).await.body),
        vec![id.clone()]
    );
    assert!(listed(&h.get("/api/v1/silences", HUAYUAN).await.body).is_empty());
    assert_eq!(
        listed(&h.get("/api/v1/silences", DONGCHENG).await.body),
        vec![id.clone()]
    );
    assert_eq!(
        listed(&h.get("/api/v1/silences", XUEFU).await.body),
        vec!["west-flush".to_owned()]
    );

    // Someone else's subtree: the engine refuses, the drain audits it once.
    let d = h
        .call(
            "DELETE",
            "/api/v1/silences/west-flush",
            Some(SHUICHANG),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::FORBIDDEN, "{d:?}");
    let d = h
        .call(
            "DELETE",
            &format!("/api/v1/silences/{id}"),
            Some(SHUICHANG),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{d:?}");
    assert_eq!(d.body["silence_id"], id.as_str());
    assert!(listed(&h.get("/api/v1/silences", SHUICHANG).await.body).is_empty());
    let gone = h
        .call(
            "DELETE",
            &format!("/api/v1/silences/{id}"),
            Some(SHUICHANG),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");

    let rows = h.audit(5).await;
    let actions: Vec<_> = rows.iter().map(|r| (r.action, r.status)).collect();
    assert_eq!(
        actions,
        vec![
            ("add_silence", 200),
            ("add_silence", 200),
            ("expire_silence", 403),
            ("expire_silence", 200),
            ("expire_silence", 404)
        ]
    );
}

#[tokio::test]
async fn a_silence_outside_the_subtree_or_badly_formed_is_refused() {
    let h = Harness::new().await;
    let until = "2026-11-22T12:00:00+08:00";
    let other = h
        .post(
            "/api/v1/silences",
            HUAYUAN,
            json!({"site": "wp-east", "reason": "x", "until": until}),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{other:?}");
    let unknown = h
        .post(
            "/api/v1/silences",
            HUAYUAN,
            json!({"site": "nowhere", "reason": "x", "until": until}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown:?}");
    let past = h
        .post(
            "/api/v1/silences",
            SHUICHANG,
            json!({"site": "wp-east", "reason": "x", "until": "2026-11-22T07:00:00+08:00"}),
        )
        .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY, "{past:?}");
    assert_eq!(past.body["error"], "invalid_silence");
    let device = h
        .post(
            "/api/v1/silences",
            SHUICHANG,
            json!({"site": "wp-east", "device": "wm-west-1", "reason": "x", "until": until}),
        )
        .await;
    assert_eq!(
        device.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{device:?}"
    );
    let bad_until = h
        .post(
            "/api/v1/silences",
            SHUICHANG,
            json!({"site": "wp-east", "reason": "x", "until": "soon"}),
        )
        .await;
    assert_eq!(bad_until.status, StatusCode::BAD_REQUEST, "{bad_until:?}");
    assert!(bad_until.body["message"]
        .as_str()
        .unwrap()
        .contains("until"));
    let bad_id = h
        .post(
            "/api/v1/silences",
            SHUICHANG,
            json!({"id": "a/b", "site": "wp-east", "reason": "x", "until": until}),
        )
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST, "{bad_id:?}");
    // The engine's refusals (403, 404, 422) are audited by the drain, once each.
    let rows = h.audit(3).await;
    let statuses: Vec<_> = rows.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![403, 404, 422]);
}

#[tokio::test]
async fn a_silence_longer_than_the_maximum_is_refused_with_a_clear_422_and_nothing_is_journaled() {
    let h = Harness::new().await;
    for until in [
        json!("9999-12-31T00:00:00+08:00"),
        json!((T0 / 1000) + 73 * 3_600_000),
    ] {
        let a = h
            .post(
                "/api/v1/silences",
                SHUICHANG,
                json!({"site": "wp-east", "reason": "永久静默", "until": until}),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{until}: {a:?}");
        assert_eq!(a.body["error"], "invalid_silence", "{a:?}");
        let message = a.body["message"].as_str().unwrap();
        assert!(
            message.contains("at most 72 h") && message.contains("api.max_silence_hours"),
            "{message}"
        );
    }
    // Exactly the maximum is fine.
    let ok = h
        .post(
            "/api/v1/silences",
            SHUICHANG,
            json!({"site": "wp-east", "reason": "周末检修", "until": (T0 / 1000) + 72 * 3_600_000}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{ok:?}");
    let listed = h.get("/api/v1/silences", SHUICHANG).await;
    assert_eq!(
        listed.body["silences"].as_array().unwrap().len(),
        1,
        "{listed:?}"
    );
}

#[tokio::test]
async fn the_maximum_can_be_configured() {
    let h = Harness::with_api("[api]\nmax_silence_hours = 2\n").await;
    let a = h
        .post(
            "/api/v1/silences",
            SHUICHANG,
            json!({"site": "wp-east", "reason": "检修", "until": (T0 / 1000) + 3 * 3_600_000}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{a:?}");
    assert!(
        a.body["message"].as_str().unwrap().contains("at most 2 h"),
        "{a:?}"
    );
}

#[tokio::test]
async fn a_supervisor_may_have_only_so_many_silences_in_force() {
    let h = Harness::with_api("[api]\nmax_silences_per_supervisor = 2\n").await;
    let add = |n: u32| json!({"id": format!("s{n}"), "site": "wp-east", "reason": "检修", "until": (T0 / 1000) + 3_600_000});
    for n in 0..2 {
        let a = h.post("/api/v1/silences", SHUICHANG, add(n)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
    }
    let third = h.post("/api/v1/silences", SHUICHANG, add(2)).await;
    assert_eq!(third.status, StatusCode::UNPROCESSABLE_ENTITY, "{third:?}");
    let message = third.body["message"].as_str().unwrap();
    assert!(
        message.contains("2 silences in force") && message.contains("max_silences_per_supervisor"),
        "{message}"
    );
    // Another supervisor has their own allowance; lifting one makes room again.
    let street = h.post("/api/v1/silences", DONGCHENG, add(3)).await;
    assert_eq!(street.status, StatusCode::CREATED, "{street:?}");
    let lifted = h
        .call("DELETE", "/api/v1/silences/s0", Some(SHUICHANG), None)
        .await;
    assert_eq!(lifted.status, StatusCode::OK, "{lifted:?}");
    let again = h.post("/api/v1/silences", SHUICHANG, add(2)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
}

#[tokio::test]
async fn the_drain_enforces_the_count_even_when_requests_race_past_the_api() {
    let h = Harness::with_api("[api]\nmax_silences_per_supervisor = 1\n").await;
    let add = |n: u32| json!({"id": format!("race{n}"), "site": "wp-east", "reason": "检修", "until": (T0 / 1000) + 3_600_000});
    let (a, b) = tokio::join!(
        h.post("/api/v1/silences", SHUICHANG, add(0)),
        h.post("/api/v1/silences", SHUICHANG, add(1))
    );
    let created = [&a, &b]
        .iter()
        .filter(|x| x.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{a:?} {b:?}");
    let listed = h.get("/api/v1/silences", SHUICHANG).await;
    assert_eq!(
        listed.body["silences"].as_array().unwrap().len(),
        1,
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_reason_with_a_direction_override_or_a_control_character_is_refused() {
    let h = Harness::new().await;
    for reason in ["检修\u{202E}gnp.exe", "line\u{7}bell", "a\u{2066}b"] {
        let a = h
            .post(
                "/api/v1/silences",
                SHUICHANG,
                json!({"site": "wp-east", "reason": reason, "until": (T0 / 1000) + 3_600_000}),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{reason:?}: {a:?}");
        assert_eq!(a.body["error"], "bad_body");
        let message = a.body["message"].as_str().unwrap();
        assert!(
            message.contains("`reason`") && message.contains("U+"),
            "{message}"
        );
    }
    let listed = h.get("/api/v1/silences", SHUICHANG).await;
    assert!(
        listed.body["silences"].as_array().unwrap().is_empty(),
        "{listed:?}"
    );
}
