//! A dental clinic's sterilizers: today's cycles with verdicts, last Bowie-Dick, last BI and
//! the recall list after a positive BI, from the rule engine's state; 403/404.

use alerting::sterilization::steam::p_sat_kpa;
use alerting::sterilization::{DeviceVerdict, Program, SterilizerEvent, SterilizerEventKind};
use alerting::{Engine, Input};
use axum::http::StatusCode;

use super::*;

fn event(ts: i64, kind: SterilizerEventKind) -> Input {
    Input::Sterilizer(SterilizerEvent {
        site: "kq-nancheng".into(),
        device: "ac-nancheng-1".into(),
        ts: Timestamp(ts),
        kind,
    })
}

fn sample(ts: i64, metric: alerting::model::Metric, value: f64) -> Input {
    Input::Reading(alerting::model::Reading {
        site: "kq-nancheng".into(),
        device: "ac-nancheng-1".into(),
        ts: Timestamp(ts),
        metric,
        value,
        flag: alerting::model::DataFlag::N,
        period: alerting::model::Period::Instant,
        stat: alerting::model::Stat::Value,
        seq: None,
    })
}

/// A morning: Bowie-Dick bd1 (pass, sheet pass), load L1 (good), load L2 (3-minute hold),
/// BI of bd1's day negative for L1, then a positive BI for L2.
pub(super) fn morning() -> Vec<Input> {
    const S: i64 = 1_000_000;
    let mut v = Vec::new();
    let hold = |v: &mut Vec<Input>, from: i64, secs: i64, t: f64| {
        for s in (0..=secs).step_by(2) {
            v.push(sample(
                T0 + (from + s) * S,
                alerting::model::Metric::ChamberTempC,
                t,
            ));
            v.push(sample(
                T0 + (from + s) * S,
                alerting::model::Metric::ChamberPressureKpa,
                p_sat_kpa(t).unwrap(),
            ));
        }
    };
    let start = |id: &str, program| SterilizerEventKind::CycleStart {
        cycle_id: id.into(),
        program,
        implant_load: false,
    };
    let end = |id: &str| SterilizerEventKind::CycleEnd {
        cycle_id: id.into(),
        device_verdict: DeviceVerdict::Pass,
    };
    v.push(event(T0, start("bd1", Program::BowieDick)));
    hold(&mut v, 60, 240, 134.5);
    v.push(event(T0 + 400 * S, end("bd1")));
    v.push(event(
        T0 + 500 * S,
        SterilizerEventKind::BdResult {
            cycle_id: "bd1".into(),
            pass: true,
        },
    ));
    v.push(event(T0 + 600 * S, start("L1", Program::Prevac134)));
    hold(&mut v, 700, 300, 134.8);
    v.push(event(T0 + 1100 * S, end("L1")));
    v.push(event(T0 + 1200 * S, start("L2", Program::Prevac134)));
    hold(&mut v, 1300, 180, 134.8);
    v.push(event(T0 + 1600 * S, end("L2")));
    v.push(Input::Tick(Timestamp(T0 + 1700 * S)));
    let bi = |id: &str, cycle: &str, positive| SterilizerEventKind::BiResult {
        bi_id: id.into(),
        cycle_id: cycle.into(),
        positive,
    };
    v.push(event(T0 + 1800 * S, bi("bi-1", "L1", false)));
    v.push(event(T0 + 1900 * S, bi("bi-2", "L2", true)));
    v
}

#[tokio::test]
async fn a_clinic_shows_todays_verdicts_bowie_dick_bi_and_the_recall_list() {
    let h = Harness::new().await;
    let config = Config::parse(CONFIG, "test.toml", &HashMap::<String, String>::new()).unwrap();
    let mut engine = Engine::new(
        alerting::RulePack::default_pack().unwrap(),
        config.registry.alerting_sites(),
        config.registry.alerting_devices(),
    );
    let before = h
        .get("/api/v1/sites/kq-nancheng/sterilizers", KOUQIANG)
        .await;
    assert_eq!(before.status, StatusCode::OK, "{before:?}");
    assert_eq!(before.body["sterilizers"][0]["seen"], false);

    for input in morning() {
        engine.process(&input);
    }
    h.desk
        .set_sterilizer(engine.sterilizer_status("ac-nancheng-1").unwrap());
    let a = h
        .get("/api/v1/sites/kq-nancheng/sterilizers", KOUQIANG)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let s = &a.body["sterilizers"][0];
    let cycles: Vec<(&str, &str)> = s["cycles_today"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cycle_id"].as_str().unwrap(),
                c["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(cycles, [("bd1", "pass"), ("L1", "pass"), ("L2", "fail")]);
    let l2 = &s["cycles_today"][2];
    assert_eq!(l2["reasons"][0]["code"], "hold_too_short");
    assert_eq!(l2["hold_secs"], 180.0);
    assert_eq!(l2["bi"]["result"], "positive");
    assert_eq!(s["bowie_dick_ok_today"], true);
    assert_eq!(s["last_bowie_dick"]["cycle_id"], "bd1");
    assert_eq!(s["last_bi"]["bi_id"], "bi-2");
    assert_eq!(s["last_bi"]["result"], "positive");
    let recall: Vec<&str> = s["recall"]["cycles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cycle_id"].as_str().unwrap())
        .collect();
    assert_eq!(recall, ["L2"], "L1 was covered by the negative BI");

    // The site status of a dental site carries the same view.
    let status = h.get("/api/v1/sites/kq-nancheng/status", KOUQIANG).await;
    assert_eq!(status.body["sterilizers"], a.body["sterilizers"]);
}

#[tokio::test]
async fn other_grids_and_water_sites_get_403_and_404() {
    let h = Harness::new().await;
    let other = h.get("/api/v1/sites/kq-nancheng/sterilizers", XUEFU).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let water = h.get("/api/v1/sites/wp-west/sterilizers", XUEFU).await;
    assert_eq!(water.status, StatusCode::NOT_FOUND);
    let none = h.get("/api/v1/sites/nowhere/sterilizers", XUEFU).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}
