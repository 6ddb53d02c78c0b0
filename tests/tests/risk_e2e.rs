//! The site risk index end to end through Mosquitto: a residual-chlorine drop at one site
//! fires W2, the site's grade rises with an explanation naming it while the quiet site stays A,
//! supervisors see only their subtree, `site_risk` holds one row per site and day however often
//! the day is recomputed, and a 双随机 draw made with `weijian risk draw` is stored in
//! `inspection_draws` and verified by `weijian risk verify` from its published record, and a
//! restart keeps the grades and remembers the draw (its site is left out of the next one).

use std::time::Duration;

use weijian_tests::api_client::ApiClient;
use weijian_tests::grid::{config_with_delivery, registry, supervisors_toml, token};
use weijian_tests::harness::{Env, Publisher};
use weijian_tests::questdb_double::Value;
use weijian_tests::receiver::Receiver;

/// One reading a minute at `device` of site `site` for `minutes`, `low` ones at 0.20 mg/L
/// free chlorine (below the 0.3 outlet residual of GB 5749-2022).
async fn chlorine(
    publisher: &mut Publisher,
    site: &str,
    device: &str,
    start: i64,
    minutes: std::ops::Range<i64>,
    low: impl Fn(i64) -> bool,
) -> anyhow::Result<()> {
    for minute in minutes {
        let value = if low(minute) { 0.20 } else { 0.55 };
        let wobble = ((minute * 37) % 11) as f64 / 1000.0;
        let ts = start + minute * 60_000;
        publisher
            .publish(
                &format!("weijian/v1/{site}/{device}/telemetry"),
                format!(
                    r#"{{"ts":{ts},"values":{{"free_chlorine_mg_l":{},"turbidity_ntu":{},"ph":{}}}}}"#,
                    value + wobble,
                    0.3 + wobble,
                    7.2 + wobble
                ),
            )
            .await?;
    }
    publisher.flushed(Duration::from_secs(30)).await
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_w2_alert_raises_its_sites_grade_and_a_draw_from_the_command_line_is_stored_and_verified(
) -> anyhow::Result<()> {
    let env = Env::new()?;
    let hooks = Receiver::start().await?;
    let text_cfg = config_with_delivery(
        &env,
        &registry(0),
        &supervisors_toml(&hooks, "group_window_secs = 0"),
        "",
    )?;
    let config = weijian_ingest::config::Config::parse(
        &text_cfg,
        "test",
        &weijian_ingest::config::ProcessEnv,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, _shutdown) = env.start(config).await?;
    let api = ApiClient::new(running.http_addr);

    // 40 minutes of event time ending now: s0 drops below the residual after 5 minutes and
    // stays there (W2 fires after 10 minutes pending); s1 stays normal.
    let mut publisher = Publisher::connect(env.broker.host(), env.broker.port(), "gw-risk");
    let start = chrono::Utc::now().timestamp_millis() - 40 * 60_000;
    chlorine(&mut publisher, "s0", "d0", start, 0..40, |m| m >= 5).await?;
    chlorine(&mut publisher, "s1", "d1", start, 0..40, |_| false).await?;
    hooks.wait_for("c0", 1, Duration::from_secs(30)).await?;

    // Today's grades (the alert is still open, so today is one of its alert-days at level II:
    // 4 points, grade B; if it fired yesterday (a run across midnight) 4 + 3.62 points, still B).
    let (status, body) = api.get("/api/v1/risk/sites?date=today", &token("jd-st"))?;
    assert_eq!(status, 200, "{body}");
    let sites = body["sites"].as_array().cloned().unwrap_or_default();
    let grades: Vec<(String, String)> = sites
        .iter()
        .map(|s| {
            (
                s["site"].as_str().unwrap_or("?").to_owned(),
                s["grade"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        grades,
        [
            ("s0".to_owned(), "B".to_owned()),
            ("s1".to_owned(), "A".to_owned())
        ],
        "{body}"
    );
    let explanation = sites[0]["explanation"]["en"].as_str().unwrap_or_default();
    assert!(explanation.contains("W2 level II"), "{explanation}");
    let (status, detail) = api.get("/api/v1/risk/sites/s0?date=today", &token("sq-c0"))?;
    assert_eq!(status, 200, "{detail}");
    assert!(detail["contributions"][0]["alert_id"]
        .as_str()
        .unwrap_or_default()
        .starts_with("W2/s0/d0/"));
    let (status, _) = api.get("/api/v1/risk/sites/s0", &token("sq-c1"))?;
    assert_eq!(status, 403, "another community's supervisor");
    let (status, grid) = api.get("/api/v1/risk/grid?tier=street&date=today", &token("qu-d"))?;
    assert_eq!(status, 200, "{grid}");
    assert_eq!(grid["cells"][0]["grades"]["B"], 1, "{grid}");
    assert_eq!(grid["cells"][0]["worst"][0]["site"], "s0", "{grid}");

    // site_risk: the daily run scored yesterday at start (2 rows); today recomputed twice is
    // still one row per site.
    let table = env.table("site_risk");
    for _ in 0..2 {
        let (status, body) = api.post(
            "/api/v1/risk/recompute",
            &token("qu-d"),
            &serde_json::json!({"date": "today"}),
        )?;
        assert_eq!(status, 200, "{body}");
        env.store
            .wait_for_count_async(&table, 4, Duration::from_secs(20))
            .await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rows = env.store.rows(
        &table,
        &["date_cst", "site", "grade", "score", "explanation_zh"],
    )?;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let today = body["date"].as_str().unwrap_or_default().to_owned();
    let s0_today = rows
        .iter()
        .find(|r| text(&r[0]) == today && text(&r[1]) == "s0")
        .cloned()
        .unwrap_or_default();
    assert_eq!(text(&s0_today[2]), "B", "{rows:?}");
    assert!(text(&s0_today[4]).contains("W2 二级"), "{rows:?}");

    // A draw from the command line, through the API; its record verifies offline.
    let bin = weijian_tests::process::weijian_binary()?;
    let record = env.spool_dir.path().join("draw.json");
    let out = std::process::Command::new(&bin)
        .args([
            "risk",
            "draw",
            "--api",
            &format!("http://{}", running.http_addr),
            "--token-env",
            "WJ_TEST_TOKEN",
            "--n",
            "1",
            "--inspectors",
            "张伟,李娜,王强",
            "--seed",
            "2026",
            "--record",
        ])
        .arg(&record)
        .env("WJ_TEST_TOKEN", token("jd-st"))
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("seed 2026"), "{stdout}");
    assert!(
        stdout.contains("order,site,grade,weight,of_weight,inspectors"),
        "{stdout}"
    );
    let verify = std::process::Command::new(&bin)
        .args(["risk", "verify"])
        .arg(&record)
        .output()?;
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).starts_with("verified"));
    // `weijian risk verify draw.json | head -0`: a reader gone before anything is written is
    // no panic, and the verdict's exit code stands.
    let mut closed = std::process::Command::new(&bin)
        .args(["risk", "verify"])
        .arg(&record)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    drop(closed.stdout.take());
    let closed = closed.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(closed.status.code(), Some(0), "{stderr}");
    let draws = env.table("inspection_draws");
    env.store
        .wait_for_count_async(&draws, 2, Duration::from_secs(20))
        .await?;
    let rows = env
        .store
        .rows(&draws, &["pick", "site", "inspectors", "seed"])?;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][0].as_i64(), Some(0));
    assert_eq!(text(&rows[0][3]), "2026");
    assert!(stdout.contains(&text(&rows[1][1])), "{stdout}");
    assert_eq!(text(&rows[1][2]).split(';').count(), 2);
    let drawn = text(&rows[1][1]);

    // A restart keeps the ledger and the draws (saved with the rule engine's state): the
    // grades are the same, and the site just drawn is left out of the next draw.
    running.stop().await;
    let config = weijian_ingest::config::Config::parse(
        &text_cfg,
        "test",
        &weijian_ingest::config::ProcessEnv,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (running, _shutdown) = env.start(config).await?;
    let api = ApiClient::new(running.http_addr);
    let (status, again) = api.get("/api/v1/risk/sites?date=today", &token("jd-st"))?;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["sites"], body["sites"],
        "the same grades after a restart"
    );
    let (status, next) = api.post(
        "/api/v1/risk/draws",
        &token("jd-st"),
        &serde_json::json!({"n": 2, "inspectors": ["张伟", "李娜", "王强"], "seed": "2026"}),
    )?;
    assert_eq!(status, 201, "{next}");
    assert_eq!(
        next["result"]["excluded"][0]["site"],
        drawn.as_str(),
        "{next}"
    );
    assert_eq!(
        next["result"]["picks"].as_array().map(Vec::len),
        Some(1),
        "{next}"
    );
    running.stop().await;
    Ok(())
}
