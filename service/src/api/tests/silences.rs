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
