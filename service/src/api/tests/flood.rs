//! Abuse of the API costs no durable resources: refused requests (bad tokens, huge paths and
//! bodies) are counted and audited once per remote address and interval, so a flood during a
//! QuestDB outage (nothing leaves the spool) neither fills the spool nor slows the appends
//! that MQTT acknowledgements wait for, and a supervisor's write still goes through.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alerting::Level;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, StatusCode};
use serde_json::json;

use super::*;
use weijian_ingest::message::encode_record;

/// Sends a request from `remote` with a bad token; a `body_len` > 0 is announced and sent.
async fn bad_request(router: &Router, remote: SocketAddr, path: &str, body_len: usize) -> u16 {
    let mut req = HttpRequest::builder()
        .method(if body_len > 0 {
            Method::POST
        } else {
            Method::GET
        })
        .uri(path)
        .header(header::AUTHORIZATION, "Bearer guessed-token")
        .extension(ConnectInfo(remote));
    let body = if body_len > 0 {
        req = req
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, body_len);
        Body::from(vec![b' '; body_len])
    } else {
        Body::empty()
    };
    let response = router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    response.status().as_u16()
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from((
        [10, 0, 0, u8::try_from(i % 3 + 1).unwrap()],
        40_000 + (i % 20_000) as u16,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_requests_during_an_outage_leaves_the_spool_small_and_acks_flowing() {
    const REQUESTS: usize = 100_000;
    const WORKERS: usize = 8;
    let h = Harness::outage().await;
    let alert = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    h.announce();
    let before = h.journal().stats();

    // The MQTT source meanwhile: a message every 20 ms, each acknowledged once durable.
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let (writer, stop, now) = (h.journal().clone(), stop.clone(), h.now());
        tokio::spawn(async move {
            let (mut acked, mut slowest) = (0usize, Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                let record = encode_record(
                    now,
                    1,
                    "weijian/v1/wp-east/wm-east-1/telemetry",
                    br#"{"ts":1,"values":{"ph":7.1}}"#,
                );
                let started = Instant::now();
                let durable =
                    tokio::time::timeout(Duration::from_secs(5), writer.append(record)).await;
                assert!(
                    matches!(durable, Ok(Ok(_))),
                    "an append failed or hung: {durable:?}"
                );
                slowest = slowest.max(started.elapsed());
                acked += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (acked, slowest)
        })
    };

    let huge_path = format!("/api/v1/alerts/{}", "x".repeat(60_000));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let (router, huge_path, sent) = (h.router.clone(), huge_path.clone(), sent.clone());
        workers.spawn(async move {
            for n in (w..REQUESTS).step_by(WORKERS) {
                let status = match n % 100 {
                    0 => bad_request(&router, addr(n), &huge_path, 0).await,
                    1 if n % 1_000 == 1 => {
                        bad_request(&router, addr(n), "/api/v1/silences", 256 * 1024).await
                    }
                    _ => bad_request(&router, addr(n), "/api/v1/alerts?state=all", 0).await,
                };
                assert!(matches!(status, 401 | 413 | 414), "request {n}: {status}");
                sent.fetch_add(1, Ordering::Relaxed);
                // A refusal answered in-process never waits: let the other tasks run, as a
                // server's socket reads would.
                tokio::task::yield_now().await;
            }
        });
    }
    let flood = async {
        while let Some(done) = workers.join_next().await {
            done.unwrap();
        }
    };
    let started = Instant::now();
    let finished = tokio::time::timeout(Duration::from_secs(60), flood).await;
    assert!(
        finished.is_ok(),
        "only {} of {REQUESTS} refusals answered in 60 s",
        sent.load(Ordering::Relaxed)
    );
    eprintln!("{REQUESTS} refusals in {:?}", started.elapsed());

    // A supervisor's acknowledgement still goes through.
    let ack = h
        .post(
            &format!("/api/v1/alerts/{}/ack", enc(&alert)),
            SHUICHANG,
            json!({"note": "已派人到场"}),
        )
        .await;
    assert_eq!(ack.status, StatusCode::OK, "{ack:?}");

    stop.store(true, Ordering::Relaxed);
    let (acked, slowest) = appender.await.unwrap();
    let after = h.journal().stats();
    let growth = after.bytes - before.bytes;
    let records = after.durable_next - before.durable_next;
    let api_records = records - u64::try_from(acked).unwrap();
    assert!(growth < 1_000_000, "the spool grew by {growth} bytes");
    // Three remotes: each one's first refusal (its summary comes when the interval ends),
    // plus the acknowledgement.
    assert_eq!(api_records, 4, "journaled API records: {api_records}");
    assert!(
        acked > 10,
        "only {acked} messages acknowledged during the flood"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "an append waited {slowest:?} during the flood"
    );

    let rows = h.audit(4).await;
    for row in rows.iter().filter(|r| r.action == "denied") {
        assert!(
            row.path.chars().count() < 300,
            "path not clipped: {}",
            row.path.len()
        );
        assert!(row.remote.starts_with("10.0.0."), "{row:?}");
    }
}

#[tokio::test]
async fn each_remote_gets_one_row_per_interval_and_a_summary_with_the_count() {
    let h = Harness::with_api("[api]\nrefusal_audit_interval_secs = 2\n").await;
    let a = SocketAddr::from(([192, 0, 2, 1], 50_000));
    let b = SocketAddr::from(([192, 0, 2, 2], 50_000));
    let long = format!("/api/v1/sites/{}/status", "y".repeat(1_000));
    for n in 0..50u16 {
        let from_a = SocketAddr::new(a.ip(), 50_000 + n);
        assert_eq!(bad_request(&h.router, from_a, &long, 0).await, 401);
    }
    for _ in 0..20 {
        assert_eq!(bad_request(&h.router, b, "/api/v1/me", 0).await, 401);
    }
    let rows = h.audit(2).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].remote, "192.0.2.1:50000");
    assert!(
        rows[0].path.starts_with("/api/v1/sites/yyy") && rows[0].path.contains("bytes in all"),
        "{}",
        rows[0].path
    );
    assert!(rows[0].path.chars().count() < 250, "{}", rows[0].path);
    assert_eq!(rows[1].remote, "192.0.2.2:50000");

    // The interval ends with nobody calling: one summary row per remote.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let rows = h.audit(4).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let summaries: Vec<_> = rows[2..]
        .iter()
        .map(|r| (r.remote.clone(), r.detail.clone()))
        .collect();
    assert!(
        summaries
            .iter()
            .any(|(r, d)| r == "192.0.2.1" && d.starts_with("49 more refused requests")),
        "{summaries:?}"
    );
    assert!(
        summaries
            .iter()
            .any(|(r, d)| r == "192.0.2.2" && d.starts_with("19 more refused requests")),
        "{summaries:?}"
    );
    assert!(
        rows.iter()
            .all(|r| r.status == 401 && r.outcome == "unauthorized"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn addresses_beyond_the_limit_share_one_row() {
    let h = Harness::with_api("[api]\nrefusal_audit_remotes = 2\n").await;
    for i in 1..=6u8 {
        let from = SocketAddr::from(([198, 51, 100, i], 1_000));
        assert_eq!(bad_request(&h.router, from, "/api/v1/me", 0).await, 401);
    }
    let rows = h.audit(3).await;
    let remotes: Vec<&str> = rows.iter().map(|r| r.remote.as_str()).collect();
    assert_eq!(remotes, ["198.51.100.1:1000", "198.51.100.2:1000", "other"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.audit(3).await.len(),
        3,
        "nothing more until the interval ends"
    );
}

#[tokio::test]
async fn targets_and_bodies_over_the_limits_are_refused_with_json_before_authentication() {
    let h = Harness::new().await;
    let long = format!("/api/v1/alerts?site={}", "z".repeat(5_000));
    let a = h.get(&long, SHUICHANG).await;
    assert_eq!(a.status, StatusCode::URI_TOO_LONG, "{a:?}");
    assert_eq!(a.body["error"], "uri_too_long");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("api.max_uri_bytes"),
        "{a:?}"
    );

    let req = HttpRequest::builder()
        .method("POST")
        .uri("/api/v1/silences")
        .header(header::AUTHORIZATION, format!("Bearer {SHUICHANG}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, 70_000)
        .body(Body::from(vec![b' '; 70_000]))
        .unwrap();
    let response = h.router.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"], "body_too_large", "{body}");

    // Both refusals are audited (one remote: the first row, then counted).
    let rows = h.audit(1).await;
    assert_eq!(rows[0].status, 414, "{rows:?}");
    assert_eq!(rows[0].outcome, "too_large", "{rows:?}");
}

#[tokio::test]
async fn each_refusal_is_a_debug_line_and_each_interval_one_info_line() {
    let (lines, _guard) = capture_logs();
    let h = Harness::with_api("[api]\nrefusal_audit_interval_secs = 1\n").await;
    // Another test's thread may have cached "nobody listens" for these call sites meanwhile.
    tracing::callsite::rebuild_interest_cache();
    for i in 0..10u16 {
        let from = SocketAddr::from(([192, 0, 2, 7], 1_000 + i));
        assert_eq!(bad_request(&h.router, from, "/api/v1/me", 0).await, 401);
    }
    h.audit(1).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let text = logged(&lines);
    let debug = text
        .lines()
        .filter(|l| l.contains("DEBUG") && l.contains("Refused an API request."))
        .count();
    assert_eq!(debug, 10, "{text}");
    let info: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains("Refused"))
        .collect();
    assert_eq!(info.len(), 1, "{text}");
    assert!(
        info[0].contains("Refused 10 API requests from 1 remote addresses")
            && info[0].contains("401: 10"),
        "{}",
        info[0]
    );
    assert!(
        !text.contains("guessed-token"),
        "a token was logged: {text}"
    );
}
