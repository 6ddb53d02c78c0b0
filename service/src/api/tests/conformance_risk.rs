//! The risk endpoints' real answers against the generated OpenAPI document (called from the
//! conformance test of every endpoint), the risk queries' documented parameters, and a real
//! risk answer changed in any way no longer conforming.

use std::collections::BTreeSet;

use alerting::delivery::Tier;
use alerting::Level;
use axum::http::StatusCode;
use serde_json::json;

use super::conformance::{
    doc, Change, Conformance, DRAW, RECOMPUTE, RISK_GRID, RISK_SITE, RISK_SITES,
};
use super::schema::Validator;
use super::*;

/// The risk index's answers: not running yet (503), then over a history where every grade
/// but one occurs (wp-garden D, wp-east C, wp-west B, the others A), for each kind of site.
pub(super) async fn risk_answers_conform(c: &mut Conformance) {
    let (tok, none) = (Some, None);
    let recompute = "/api/v1/risk/recompute";
    let draws = "/api/v1/risk/draws";
    let draw =
        json!({"n": 1, "inspectors": ["张伟", "李娜", "王强"], "seed": "18446744073709551615"});
    c.get(RISK_SITES, RISK_SITES, tok(DONGCHENG), 503).await;
    let east = "/api/v1/risk/sites/wp-east";
    c.get(RISK_SITE, east, tok(DONGCHENG), 503).await;
    c.get(RISK_GRID, RISK_GRID, tok(DONGCHENG), 503).await;
    c.call(RECOMPUTE, recompute, tok(DONGCHENG), None, 503)
        .await;
    c.call(DRAW, draws, tok(DONGCHENG), Some(draw.clone()), 503)
        .await;

    let board = super::risk::with_history(&c.h);
    let yesterday = Timestamp(c.h.now().0 - super::risk::DAY_US);
    for i in 0..3 {
        let at = yesterday.plus_secs(120 + 60 * i);
        board.record(&super::risk::alert(&c.h, "W5", "wp-garden", Level::I, at));
    }

    // Grades: of each kind of site, filtered, refused.
    for token in [DONGCHENG, XUEFU, KOUQIANG] {
        c.get(RISK_SITES, RISK_SITES, tok(token), 200).await;
    }
    let a = c
        .get(
            RISK_SITES,
            "/api/v1/risk/sites?min_grade=C&kind=water&date=2026-11-21",
            tok(DONGCHENG),
            200,
        )
        .await;
    let grades: Vec<&Value> = a.body["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["grade"])
        .collect();
    assert_eq!(grades, [&json!("D"), &json!("C")], "{a:?}");
    c.get(
        RISK_SITES,
        "/api/v1/risk/sites?date=today&grade=A",
        tok(SHUICHANG),
        200,
    )
    .await;
    for query in [
        "grade=E",
        "min_grade=a",
        "date=tomorrow",
        "kind=lake",
        "colour=red",
    ] {
        let uri = format!("{RISK_SITES}?{query}");
        c.get(RISK_SITES, &uri, tok(DONGCHENG), 400).await;
    }
    c.get(RISK_SITES, RISK_SITES, none, 401).await;

    // One site: D (no next grade), C, A (no alert-day), a waste store, a clinic.
    let a = c
        .get(RISK_SITE, "/api/v1/risk/sites/wp-garden", tok(HUAYUAN), 200)
        .await;
    assert_eq!(
        (&a.body["grade"], &a.body["next_grade_at"]),
        (&json!("D"), &Value::Null),
        "{a:?}"
    );
    let a = c.get(RISK_SITE, east, tok(SHUICHANG), 200).await;
    assert_eq!(a.body["next_grade_at"], 24.0, "{a:?}");
    assert_eq!(a.body["by_rule"].as_array().map(Vec::len), Some(2), "{a:?}");
    let a = c
        .get(
            RISK_SITE,
            "/api/v1/risk/sites/wp-east?date=2026-11-20",
            tok(SHUICHANG),
            200,
        )
        .await;
    assert_eq!(a.body["contributions"], json!([]), "{a:?}");
    c.get(RISK_SITE, "/api/v1/risk/sites/ws-west", tok(XUEFU), 200)
        .await;
    c.get(
        RISK_SITE,
        "/api/v1/risk/sites/kq-nancheng?date=today",
        tok(KOUQIANG),
        200,
    )
    .await;
    c.get(RISK_SITE, east, tok(XUEFU), 403).await;
    c.get(RISK_SITE, "/api/v1/risk/sites/nowhere", tok(XUEFU), 404)
        .await;
    c.get(RISK_SITE, "/api/v1/risk/sites/%FF", tok(XUEFU), 400)
        .await;
    c.get(
        RISK_SITE,
        "/api/v1/risk/sites/wp-west?date=2026-13-01",
        tok(XUEFU),
        400,
    )
    .await;
    c.get(
        RISK_SITE,
        "/api/v1/risk/sites/wp-west?tier=city",
        tok(XUEFU),
        400,
    )
    .await;
    c.get(RISK_SITE, east, none, 401).await;

    // Roll-ups at every tier (at city tier the cell has no district, street or community).
    for tier in Tier::ALL {
        let uri = format!("{RISK_GRID}?tier={tier}&worst=1");
        let a = c.get(RISK_GRID, &uri, tok(DONGCHENG), 200).await;
        assert!(!a.body["cells"].as_array().unwrap().is_empty(), "{a:?}");
    }
    c.get(
        RISK_GRID,
        "/api/v1/risk/grid?date=today&worst=0",
        tok(XUEFU),
        200,
    )
    .await;
    for query in [
        "tier=province",
        "worst=101",
        "worst=-1",
        "date=x",
        "site=wp-east",
    ] {
        let uri = format!("{RISK_GRID}?{query}");
        c.get(RISK_GRID, &uri, tok(DONGCHENG), 400).await;
    }
    c.get(RISK_GRID, RISK_GRID, none, 401).await;

    // Recomputation: a day, or yesterday without a body.
    let a = c
        .call(
            RECOMPUTE,
            recompute,
            tok(DONGCHENG),
            Some(json!({"date": "2026-11-21"})),
            200,
        )
        .await;
    assert_eq!(a.body["sites"], 5, "{a:?}");
    c.call(RECOMPUTE, recompute, tok(XUEFU), None, 200).await;
    for body in [
        json!({"date": "yesterday"}),
        json!({"day": "2026-11-21"}),
        json!([]),
    ] {
        c.call(RECOMPUTE, recompute, tok(DONGCHENG), Some(body), 400)
            .await;
    }
    c.call(RECOMPUTE, recompute, none, None, 401).await;

    // Draws: of every kind (kind null), of one kind in a narrower scope with a numeric seed
    // and an inspection made outside weijian; refused.
    let a = c
        .call(DRAW, draws, tok(DONGCHENG), Some(draw.clone()), 201)
        .await;
    assert_eq!(a.body["input"]["kind"], Value::Null, "{a:?}");
    let narrow = json!({
        "n": 2, "inspectors": ["张伟", "李娜", "王强"], "seed": 7, "kind": "water",
        "scope": {"district": "示范区", "street": "东城街道", "community": "花园社区"},
        "inspections": [{"site": "wp-garden", "date": "2026-10-01", "inspectors": ["张伟"]}],
        "exclude_days": 30, "inspectors_per_site": 1, "date": "2026-11-22",
    });
    let a = c.call(DRAW, draws, tok(DONGCHENG), Some(narrow), 201).await;
    assert_eq!(a.body["result"]["shortfall"], 1, "{a:?}");
    // The answer's record is the stored one (alerting's serialization), field for field.
    let record = board
        .take_rows(c.h.now())
        .into_iter()
        .filter_map(|r| match r {
            Row::Draw(d) if d.pick == 0 => Some(d.record),
            _ => None,
        })
        .last()
        .unwrap();
    let record: Value = serde_json::from_str(&record).unwrap();
    for field in ["draw_id", "input", "result"] {
        assert_eq!(record[field], a.body[field], "{field}");
    }
    let mut bad = Vec::new();
    for (field, value) in [
        ("seed", json!("-1")),
        ("seed", json!(1.5)),
        ("seed", json!(["1"])),
        ("n", json!(10_001)),
        ("kind", json!("lake")),
        ("date", json!("2026-02-30")),
        ("colour", json!("red")),
    ] {
        let mut body = draw.clone();
        body[field] = value;
        bad.push(body);
    }
    bad.push(json!({"inspectors": ["张伟"]}));
    for body in bad {
        c.call(DRAW, draws, tok(DONGCHENG), Some(body), 400).await;
    }
    let mut outside = draw.clone();
    outside["scope"] = json!({"district": "示范区", "street": "西城街道"});
    c.call(DRAW, draws, tok(DONGCHENG), Some(outside), 403)
        .await;
    let lonely = json!({"n": 1, "inspectors": ["张伟"]});
    c.call(DRAW, draws, tok(DONGCHENG), Some(lonely), 422).await;
    c.call(DRAW, draws, none, Some(draw), 401).await;
}

/// The risk reads document exactly the query parameters they accept, and the documented
/// bounds are the code's.
#[test]
fn the_risk_queries_document_exactly_the_parameters_the_handlers_read() {
    use crate::api::risk;
    let doc = doc();
    for (path, read) in [
        (RISK_SITES, risk::SITES_PARAMETERS),
        (RISK_SITE, risk::SITE_PARAMETERS),
        (RISK_GRID, risk::GRID_PARAMETERS),
    ] {
        let documented: BTreeSet<&str> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let read: BTreeSet<&str> = read.iter().copied().collect();
        assert_eq!(documented, read, "{path}");
    }
    let worst = doc["paths"][RISK_GRID]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "worst")
        .unwrap();
    assert_eq!(worst["schema"]["default"], json!(risk::DEFAULT_WORST));
    let n = &doc["components"]["schemas"]["DrawRequest"]["properties"]["n"];
    assert_eq!(n["maximum"], json!(risk::MAX_DRAW));
}

/// The same for the risk answers: a real grade and a real draw, changed in one place at a
/// time, no longer conform.
#[tokio::test]
async fn a_real_risk_answer_changed_in_any_way_no_longer_conforms() {
    let c = Conformance::new(Harness::new().await);
    super::risk::with_history(&c.h);
    let grade = c.h.get("/api/v1/risk/sites/wp-east", SHUICHANG).await;
    assert_eq!(grade.status, StatusCode::OK, "{grade:?}");
    let body = json!({"n": 1, "inspectors": ["张伟", "李娜"], "seed": "2026"});
    let draw = c.h.post("/api/v1/risk/draws", DONGCHENG, body).await;
    assert_eq!(draw.status, StatusCode::CREATED, "{draw:?}");
    let validator = Validator::new(&c.doc);
    let changes: Vec<(&str, &Answer, &str, Change)> = vec![
        (
            "a grade not in the enum",
            &grade,
            RISK_SITE,
            Box::new(|v| v["grade"] = json!("E")),
        ),
        (
            "a grade name not in the enum",
            &grade,
            RISK_SITE,
            Box::new(|v| v["grade_zh"] = json!("中风险")),
        ),
        (
            "a level not in the enum",
            &grade,
            RISK_SITE,
            Box::new(|v| v["contributions"][0]["level"] = json!("V")),
        ),
        (
            "an undocumented field of the parameters",
            &grade,
            RISK_SITE,
            Box::new(|v| v["parameters"]["points"]["V"] = json!(0.5)),
        ),
        (
            "a missing field of the flattened grade",
            &grade,
            RISK_SITE,
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("explanation");
            }),
        ),
        (
            "a null where none is allowed",
            &grade,
            RISK_SITE,
            Box::new(|v| v["grade_floor"] = Value::Null),
        ),
        (
            "a seed as a number",
            &draw,
            DRAW,
            Box::new(|v| v["seed"] = json!(2026)),
        ),
        (
            "a site kind not in the enum",
            &draw,
            DRAW,
            Box::new(|v| v["input"]["sites"][0]["kind"] = json!("pool")),
        ),
        (
            "an undocumented field of a pick",
            &draw,
            DRAW,
            Box::new(|v| v["result"]["picks"][0]["chance"] = json!(0.5)),
        ),
        (
            "a missing scope level",
            &draw,
            DRAW,
            Box::new(|v| {
                v["input"]["scope"]
                    .as_object_mut()
                    .unwrap()
                    .remove("community");
            }),
        ),
    ];
    for (what, answer, op, change) in changes {
        let (method, path) = match op.split_once(' ') {
            Some((m, p)) => (m.to_lowercase(), p),
            None => ("get".to_owned(), op),
        };
        let status = answer.status.as_u16().to_string();
        let schema = c.schema(&method, path, &status).unwrap();
        assert_eq!(validator.errors(&answer.body, schema), Vec::<String>::new());
        let mut body = answer.body.clone();
        change(&mut body);
        assert!(
            !validator.errors(&body, schema).is_empty(),
            "{what} was not noticed"
        );
    }
}
