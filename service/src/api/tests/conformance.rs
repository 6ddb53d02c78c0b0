//! Real answers of every endpoint against the generated OpenAPI document: success and
//! refusal conform to the schema the document gives for their path, method and status, every
//! documented status is answered, and a real answer changed in any way no longer conforms.

use std::collections::{BTreeMap, BTreeSet};

use alerting::Level;
use axum::http::{header, StatusCode};
use serde_json::json;

use super::schema::Validator;
use super::*;
use crate::api::doc::document;

pub(super) fn doc() -> Value {
    serde_json::to_value(document()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Real answers against the document.

/// Calls endpoints of a harness and checks each answer against the document.
pub(super) struct Conformance {
    pub(super) h: Harness,
    pub(super) doc: Value,
    /// (path, method) -> statuses answered.
    pub(super) answered: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Conformance {
    pub(super) fn new(h: Harness) -> Self {
        Self {
            h,
            doc: doc(),
            answered: BTreeMap::new(),
        }
    }

    /// The schema of `status` of `method path`, or why there is none.
    pub(super) fn schema(&self, method: &str, path: &str, status: &str) -> Result<&Value, String> {
        let op = &self.doc["paths"][path][method];
        if !op.is_object() {
            return Err(format!("{method} {path} is not in the document"));
        }
        let mut response = &op["responses"][status];
        if let Some(r) = response["$ref"].as_str() {
            response = self.doc.pointer(&r[1..]).unwrap_or(&Value::Null);
        }
        if response.is_null() {
            return Err(format!(
                "{method} {path}: status {status} is not documented"
            ));
        }
        let schema = &response["content"]["application/json"]["schema"];
        if schema.is_null() {
            return Err(format!(
                "{method} {path} {status}: no application/json schema"
            ));
        }
        Ok(schema)
    }

    /// Checks an answer of `method path` (`path` as in the document).
    pub(super) fn check(&mut self, method: &str, path: &str, a: &Answer) {
        let method = method.to_lowercase();
        let status = a.status.as_u16().to_string();
        let schema = self
            .schema(&method, path, &status)
            .unwrap_or_else(|e| panic!("{e}: {a:?}"));
        let content_type = a.headers.get(header::CONTENT_TYPE);
        assert!(
            content_type.is_some_and(|c| c.as_bytes().starts_with(b"application/json")),
            "{method} {path} {status}: content type {content_type:?}"
        );
        let errors = Validator::new(&self.doc).errors(&a.body, schema);
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match the document: {errors:#?}\nbody: {:#}",
            a.body
        );
        self.answered
            .entry((path.to_owned(), method))
            .or_default()
            .insert(status);
    }

    /// Calls `uri` for the operation `op` (`"POST /api/v1/alerts/{id}/ack"`), expects
    /// `status` and checks the answer.
    pub(super) async fn call(
        &mut self,
        op: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) -> Answer {
        let (method, path) = op.split_once(' ').unwrap();
        let a = self.h.call(method, uri, token, body).await;
        assert_eq!(a.status.as_u16(), status, "{method} {uri}: {a:?}");
        self.check(method, path, &a);
        a
    }

    /// [`Self::call`] of a `GET` (`path` as in the document).
    pub(super) async fn get(
        &mut self,
        path: &str,
        uri: &str,
        token: Option<&str>,
        status: u16,
    ) -> Answer {
        self.call(&format!("GET {path}"), uri, token, None, status)
            .await
    }

    /// Documented (path, method, status) never answered.
    pub(super) fn unanswered(&self) -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let answered = self.answered.get(&(path.clone(), method.clone()));
                for status in op["responses"].as_object().unwrap().keys() {
                    if !answered.is_some_and(|a| a.contains(status)) {
                        out.insert((path.clone(), method.clone(), status.clone()));
                    }
                }
            }
        }
        out
    }
}

/// A change to a value.
pub(super) type Change = Box<dyn Fn(&mut Value)>;

const ME: &str = "/api/v1/me";
const ALERTS: &str = "/api/v1/alerts";
const ALERT: &str = "/api/v1/alerts/{id}";
const ACK: &str = "POST /api/v1/alerts/{id}/ack";
const RESOLVE: &str = "POST /api/v1/alerts/{id}/resolve";
const SILENCES: &str = "/api/v1/silences";
const ADD_SILENCE: &str = "POST /api/v1/silences";
const EXPIRE: &str = "DELETE /api/v1/silences/{id}";
const SITES: &str = "/api/v1/sites";
const STATUS: &str = "/api/v1/sites/{site}/status";
const STERILIZERS: &str = "/api/v1/sites/{site}/sterilizers";
pub(super) const RISK_SITES: &str = "/api/v1/risk/sites";
pub(super) const RISK_SITE: &str = "/api/v1/risk/sites/{site}";
pub(super) const RISK_GRID: &str = "/api/v1/risk/grid";
pub(super) const RECOMPUTE: &str = "POST /api/v1/risk/recompute";
pub(super) const DRAW: &str = "POST /api/v1/risk/draws";

#[tokio::test]
async fn every_answer_of_every_endpoint_conforms_to_the_document() {
    let mut c = Conformance::new(Harness::new().await);
    let (tok, none) = (Some, None);

    // The document and the caller.
    let a = c
        .get("/api/v1/openapi.json", "/api/v1/openapi.json", none, 200)
        .await;
    assert_eq!(a.body, c.doc, "the served document is the generated one");
    c.get(ME, ME, tok(DONGCHENG), 200).await;
    c.get(ME, ME, tok(SHUICHANG), 200).await;
    c.get(ME, ME, none, 401).await;
    c.get(ME, ME, tok("nobody"), 401).await;

    // Alerts: open, acknowledged, silenced, resolved.
    let east = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    let east2 = c.h.fire("G1", "wp-east", "wm-east-2", Level::IV, 300);
    let garden = c.h.fire("W1", "wp-garden", "wm-garden-1", Level::III, 300);
    c.h.announce();
    let east_uri = format!("/api/v1/alerts/{}", enc(&east));
    let east_ack = format!("{east_uri}/ack");
    c.get(ALERTS, ALERTS, tok(DONGCHENG), 200).await;
    c.get(
        ALERTS,
        "/api/v1/alerts?state=all&limit=1",
        tok(DONGCHENG),
        200,
    )
    .await;
    c.get(ALERTS, "/api/v1/alerts?level=V", tok(DONGCHENG), 400)
        .await;
    c.get(ALERTS, ALERTS, none, 401).await;
    let a = c.get(ALERT, &east_uri, tok(SHUICHANG), 200).await;
    assert!(a.body["ack_deadline"].is_string(), "{a:?}");
    c.get(ALERT, &east_uri, tok(HUAYUAN), 403).await;
    c.get(ALERT, "/api/v1/alerts/W2%2Fnowhere", tok(SHUICHANG), 404)
        .await;
    c.get(ALERT, "/api/v1/alerts/%20", tok(SHUICHANG), 400)
        .await;
    c.get(ALERT, &east_uri, none, 401).await;

    let note = Some(json!({"note": "已派人到场"}));
    let a = c.call(ACK, &east_ack, tok(SHUICHANG), note, 200).await;
    assert_eq!(a.body["events"][0]["kind"], "acknowledged");
    // An empty body acknowledges too.
    let east2_ack = format!("/api/v1/alerts/{}/ack", enc(&east2));
    c.call(ACK, &east2_ack, tok(SHUICHANG), None, 200).await;
    let a = c.get(ALERT, &east_uri, tok(SHUICHANG), 200).await;
    assert!(a.body["acknowledged"].is_object(), "{a:?}");
    assert!(!a.body["history"].as_array().unwrap().is_empty());
    let unknown_field = Some(json!({"by": "me"}));
    c.call(ACK, &east_ack, tok(SHUICHANG), unknown_field, 400)
        .await;
    let a = c
        .call(ACK, &east_ack, tok(HUAYUAN), Some(json!({})), 403)
        .await;
    assert!(a.body["request_id"].is_string(), "{a:?}");
    let nowhere = "/api/v1/alerts/W2%2Fnowhere/ack";
    c.call(ACK, nowhere, tok(SHUICHANG), Some(json!({})), 404)
        .await;
    c.call(ACK, &east_ack, none, None, 401).await;

    // Silences.
    let until = "2026-11-22T12:00:00+08:00";
    let silence = |site: &str, device: Option<&str>, until: Value| {
        let mut body = json!({"site": site, "reason": "设备检修", "until": until});
        if let Some(d) = device {
            body["device"] = json!(d);
        }
        Some(body)
    };
    let body = silence("wp-east", Some("wm-east-1"), json!(until));
    let a = c
        .call(ADD_SILENCE, SILENCES, tok(SHUICHANG), body, 201)
        .await;
    let device_silence = a.body["silence"]["id"].as_str().unwrap().to_owned();
    let mut body = silence("wp-garden", None, json!((T0 / 1000) + 3_600_000));
    if let Some(b) = body.as_mut() {
        b["id"] = json!("garden-flush");
    }
    let a = c
        .call(ADD_SILENCE, SILENCES, tok(HUAYUAN), body.clone(), 201)
        .await;
    assert_eq!(a.body["events"][0]["kind"], "silenced", "{a:?}");
    c.call(ADD_SILENCE, SILENCES, tok(HUAYUAN), body, 409).await;
    let past = silence("wp-east", None, json!("2026-11-22T07:00:00+08:00"));
    c.call(ADD_SILENCE, SILENCES, tok(SHUICHANG), past, 422)
        .await;
    let elsewhere = silence("wp-east", Some("wm-west-1"), json!(until));
    c.call(ADD_SILENCE, SILENCES, tok(SHUICHANG), elsewhere, 422)
        .await;
    let east_silence = silence("wp-east", None, json!(until));
    c.call(
        ADD_SILENCE,
        SILENCES,
        tok(HUAYUAN),
        east_silence.clone(),
        403,
    )
    .await;
    let nowhere = silence("nowhere", None, json!(until));
    c.call(ADD_SILENCE, SILENCES, tok(HUAYUAN), nowhere, 404)
        .await;
    let soon = silence("wp-east", None, json!("soon"));
    c.call(ADD_SILENCE, SILENCES, tok(SHUICHANG), soon, 400)
        .await;
    c.call(ADD_SILENCE, SILENCES, none, Some(json!({})), 401)
        .await;
    let a = c.get(SILENCES, SILENCES, tok(DONGCHENG), 200).await;
    assert_eq!(a.body["silences"].as_array().unwrap().len(), 2, "{a:?}");
    c.get(SILENCES, SILENCES, none, 401).await;
    let a = c.get(ALERTS, ALERTS, tok(DONGCHENG), 200).await;
    let alerts = a.body["alerts"].as_array().unwrap();
    assert!(alerts.iter().any(|x| x["silenced_by"].is_string()), "{a:?}");

    let flush = "/api/v1/silences/garden-flush";
    c.call(EXPIRE, flush, tok(SHUICHANG), None, 403).await;
    let a = c.call(EXPIRE, flush, tok(HUAYUAN), None, 200).await;
    assert_eq!(a.body["events"][0]["kind"], "silence_ended", "{a:?}");
    c.call(EXPIRE, flush, tok(HUAYUAN), None, 404).await;
    c.call(EXPIRE, "/api/v1/silences/%FF", tok(HUAYUAN), None, 400)
        .await;
    let device_silence_uri = format!("/api/v1/silences/{device_silence}");
    c.call(EXPIRE, &device_silence_uri, none, None, 401).await;

    // Resolve; then the alert is closed for writes.
    let garden_uri = format!("/api/v1/alerts/{}", enc(&garden));
    let garden_resolve = format!("{garden_uri}/resolve");
    let reason = |r: &str| Some(json!({ "reason": r }));
    c.call(RESOLVE, &garden_resolve, tok(HUAYUAN), reason(" "), 400)
        .await;
    c.call(RESOLVE, &garden_resolve, tok(SHUICHANG), reason("x"), 403)
        .await;
    let nowhere = "/api/v1/alerts/W1%2Fnowhere/resolve";
    c.call(RESOLVE, nowhere, tok(HUAYUAN), reason("x"), 404)
        .await;
    let a = c
        .call(
            RESOLVE,
            &garden_resolve,
            tok(HUAYUAN),
            reason("冲洗管网后复测合格"),
            200,
        )
        .await;
    assert_eq!(a.body["state"], "resolved");
    c.call(RESOLVE, &garden_resolve, tok(HUAYUAN), reason("again"), 409)
        .await;
    let garden_ack = format!("{garden_uri}/ack");
    c.call(ACK, &garden_ack, tok(HUAYUAN), Some(json!({})), 409)
        .await;
    c.call(RESOLVE, &garden_resolve, none, None, 401).await;
    let resolved = "/api/v1/alerts?state=resolved";
    let a = c.get(ALERTS, resolved, tok(HUAYUAN), 200).await;
    assert!(a.body["alerts"][0]["resolved_at"].is_string(), "{a:?}");
    c.get(ALERT, &garden_uri, tok(HUAYUAN), 200).await;

    // Sites: water with alerts and a silence, an empty and a filled waste ledger, a clinic
    // with an autoclave not heard from, then with a morning of cycles.
    for token in [DONGCHENG, XUEFU, KOUQIANG] {
        c.get(SITES, SITES, tok(token), 200).await;
    }
    c.get(SITES, SITES, none, 401).await;
    let a = c
        .get(STATUS, "/api/v1/sites/wp-east/status", tok(SHUICHANG), 200)
        .await;
    assert!(
        !a.body["open_alerts"].as_array().unwrap().is_empty(),
        "{a:?}"
    );
    assert!(!a.body["silences"].as_array().unwrap().is_empty(), "{a:?}");
    let waste = "/api/v1/sites/ws-west/status";
    c.get(STATUS, waste, tok(XUEFU), 200).await;
    c.h.desk.waste().set("ws-west", filled_ledger(c.h.now()));
    let a = c.get(STATUS, waste, tok(XUEFU), 200).await;
    assert!(a.body["waste"]["oldest_bag"].is_object(), "{a:?}");
    let clinic = "/api/v1/sites/kq-nancheng/status";
    let clinic_sterilizers = "/api/v1/sites/kq-nancheng/sterilizers";
    c.get(STATUS, clinic, tok(KOUQIANG), 200).await;
    c.get(STERILIZERS, clinic_sterilizers, tok(KOUQIANG), 200)
        .await;
    let config = Config::parse(CONFIG, "test.toml", &HashMap::<String, String>::new()).unwrap();
    let mut engine = alerting::Engine::new(
        alerting::RulePack::default_pack().unwrap(),
        config.registry.alerting_sites(),
        config.registry.alerting_devices(),
    );
    for input in super::sterilizers::morning() {
        engine.process(&input);
    }
    c.h.desk
        .set_sterilizer(engine.sterilizer_status("ac-nancheng-1").unwrap());
    let a = c
        .get(STERILIZERS, clinic_sterilizers, tok(KOUQIANG), 200)
        .await;
    assert!(a.body["sterilizers"][0]["recall"].is_object(), "{a:?}");
    c.get(STATUS, clinic, tok(KOUQIANG), 200).await;
    for (path, uri) in [
        (STATUS, "/api/v1/sites/wp-west/status"),
        (STERILIZERS, clinic_sterilizers),
    ] {
        c.get(path, uri, tok(SHUICHANG), 403).await;
        c.get(path, uri, none, 401).await;
    }
    for (path, uri) in [
        (STATUS, "/api/v1/sites/nowhere/status"),
        (STERILIZERS, "/api/v1/sites/nowhere/sterilizers"),
        (STERILIZERS, "/api/v1/sites/wp-east/sterilizers"),
    ] {
        c.get(path, uri, tok(SHUICHANG), 404).await;
    }
    for (path, uri) in [
        (STATUS, "/api/v1/sites/%FF/status"),
        (STERILIZERS, "/api/v1/sites/%FF/sterilizers"),
    ] {
        c.get(path, uri, tok(SHUICHANG), 400).await;
    }

    super::conformance_risk::risk_answers_conform(&mut c).await;

    // No such endpoint: the error body of the document.
    let a = c.h.call("GET", "/api/v1/nothing/here", None, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let errors = Validator::new(&c.doc).errors(&a.body, &error);
    assert!(errors.is_empty(), "{errors:?}: {a:?}");

    // The journal fails: writes are 503, nothing changes.
    c.h.close_journal().await;
    c.call(ACK, &east_ack, tok(SHUICHANG), Some(json!({})), 503)
        .await;
    let east_resolve = format!("{east_uri}/resolve");
    c.call(RESOLVE, &east_resolve, tok(SHUICHANG), reason("x"), 503)
        .await;
    c.call(ADD_SILENCE, SILENCES, tok(SHUICHANG), east_silence, 503)
        .await;
    c.call(EXPIRE, &device_silence_uri, tok(SHUICHANG), None, 503)
        .await;

    // Every endpoint answered, and every documented status but these: 202 (its own test
    // below), and refusals the engine cannot give for that write.
    let allowed: BTreeSet<(String, String, String)> = [
        ("/api/v1/alerts/{id}/ack", "post", "202"),
        ("/api/v1/alerts/{id}/ack", "post", "422"),
        ("/api/v1/alerts/{id}/resolve", "post", "202"),
        ("/api/v1/alerts/{id}/resolve", "post", "422"),
        ("/api/v1/silences", "post", "202"),
        ("/api/v1/silences/{id}", "delete", "202"),
        ("/api/v1/silences/{id}", "delete", "422"),
    ]
    .into_iter()
    .map(|(p, m, s)| (p.to_owned(), m.to_owned(), s.to_owned()))
    .collect();
    c.too_large().await;
    let unanswered = c.unanswered();
    let surprising: Vec<_> = unanswered.difference(&allowed).collect();
    assert!(surprising.is_empty(), "never answered: {surprising:#?}");
}

impl Conformance {
    /// Every route with a target over `api.max_uri_bytes` (414) and a body over
    /// `api.max_body_bytes` (413), with a valid token.
    async fn too_large(&mut self) {
        let limits = self.h.desk.limits().clone();
        for (path, methods) in crate::api::ROUTES {
            let uri = path.replace("{id}", "x").replace("{site}", "wp-east");
            for method in *methods {
                let long = format!("{uri}?pad={}", "p".repeat(limits.max_uri_bytes));
                let big = limits.max_body_bytes + 1;
                for (target, body_len, status) in [(long, 0, 414), (uri.clone(), big, 413)] {
                    let mut req = HttpRequest::builder()
                        .method(method.to_uppercase().as_str())
                        .uri(target)
                        .header(header::AUTHORIZATION, format!("Bearer {DONGCHENG}"));
                    if body_len > 0 {
                        req = req
                            .header(header::CONTENT_TYPE, "application/json")
                            .header(header::CONTENT_LENGTH, body_len);
                    }
                    let a = self
                        .h
                        .send(req.body(Body::from(vec![b' '; body_len])).unwrap())
                        .await;
                    assert_eq!(a.status.as_u16(), status, "{method} {uri}: {a:?}");
                    self.check(method, path, &a);
                }
            }
        }
    }
}

/// Writes the drain does not apply within 10 s: 202 with the `Queued` body (one wait of
/// 10 s for all three).
#[tokio::test]
async fn writes_not_applied_in_time_answer_202_as_documented() {
    let h = Harness::without_drain().await;
    let id = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    let ack_uri = format!("/api/v1/alerts/{}/ack", enc(&id));
    let resolve_uri = format!("/api/v1/alerts/{}/resolve", enc(&id));
    let silence = json!({"site": "wp-east", "reason": "x", "until": "2026-11-22T12:00:00+08:00"});
    let (ack, resolve, silence) = tokio::join!(
        h.call("POST", &ack_uri, Some(SHUICHANG), Some(json!({}))),
        h.call(
            "POST",
            &resolve_uri,
            Some(SHUICHANG),
            Some(json!({"reason": "x"}))
        ),
        h.call("POST", SILENCES, Some(SHUICHANG), Some(silence)),
    );
    let mut c = Conformance::new(h);
    for (op, a) in [(ACK, &ack), (RESOLVE, &resolve), (ADD_SILENCE, &silence)] {
        assert_eq!(a.status, StatusCode::ACCEPTED, "{op}: {a:?}");
        assert_eq!(a.body["state"], "queued");
        let (method, path) = op.split_once(' ').unwrap();
        c.check(method, path, a);
    }
}

/// The document's schemas are strict enough to catch a wrong answer: a real alert detail,
/// changed in one place at a time, no longer conforms.
#[tokio::test]
async fn a_real_answer_changed_in_any_way_no_longer_conforms() {
    let c = Conformance::new(Harness::new().await);
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    c.h.announce();
    let a =
        c.h.get(&format!("/api/v1/alerts/{}", enc(&id)), SHUICHANG)
            .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let schema = c.schema("get", "/api/v1/alerts/{id}", "200").unwrap();
    let validator = Validator::new(&c.doc);
    assert_eq!(validator.errors(&a.body, schema), Vec::<String>::new());
    let changes: Vec<(&str, Change)> = vec![
        (
            "an undocumented field",
            Box::new(|v| v["colour_zh"] = json!("橙色")),
        ),
        (
            "an undocumented nested field",
            Box::new(|v| v["grid"]["city"] = json!("市")),
        ),
        (
            "a missing field",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("state");
            }),
        ),
        (
            "a missing field of the flattened level",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("level_code");
            }),
        ),
        ("a level out of range", Box::new(|v| v["level"] = json!(7))),
        (
            "a state not in the enum",
            Box::new(|v| v["state"] = json!("closed")),
        ),
        (
            "a tier not in the enum",
            Box::new(|v| v["tier"] = json!("province")),
        ),
        (
            "a time that is not RFC 3339",
            Box::new(|v| v["started_at"] = json!("08:00")),
        ),
        (
            "a microsecond time as text",
            Box::new(|v| v["started_at_us"] = json!("1795305000000000")),
        ),
        (
            "a null where none is allowed",
            Box::new(|v| v["summary"] = Value::Null),
        ),
        (
            "evidence of the wrong shape",
            Box::new(|v| v["evidence"][0]["value"] = json!([1])),
        ),
        (
            "a history entry of the wrong shape",
            Box::new(|v| v["history"][0]["by"] = json!("sq")),
        ),
    ];
    for (what, change) in changes {
        let mut body = a.body.clone();
        change(&mut body);
        assert!(
            !validator.errors(&body, schema).is_empty(),
            "{what} was not noticed"
        );
    }
}
