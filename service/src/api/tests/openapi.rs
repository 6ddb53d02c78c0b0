//! The generated OpenAPI document: it is well-formed OpenAPI 3.1 (every `$ref` resolves), it
//! lists exactly the routes served, and the real answers of every endpoint, success and
//! refusal, conform to the schema it gives for their path, method and status (checked with
//! `schema::Validator`, which also refuses fields the document does not declare).

use std::collections::{BTreeMap, BTreeSet};

use alerting::delivery::Tier;
use alerting::Level;
use axum::http::{header, StatusCode};
use serde_json::json;

use super::schema::Validator;
use super::*;
use crate::api::doc::document;
use crate::api::ROUTES;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::to_value(document()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The document itself.

/// What is wrong with `doc` as an OpenAPI 3.1 document (the parts this API uses).
fn structure_errors(doc: &Value) -> Vec<String> {
    let mut e = Vec::new();
    if !doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1."))
    {
        e.push(format!("openapi: {} is not 3.1.x", doc["openapi"]));
    }
    for field in ["title", "version"] {
        if !doc["info"][field].is_string() {
            e.push(format!("info.{field} is missing"));
        }
    }
    let schemes = doc["components"]["securitySchemes"].as_object();
    let check_security = |at: &str, security: &Value, e: &mut Vec<String>| {
        for requirement in security.as_array().into_iter().flatten() {
            for name in requirement
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if !schemes.is_some_and(|s| s.contains_key(name)) {
                    e.push(format!("{at}: security scheme `{name}` is not defined"));
                }
            }
        }
    };
    check_security("security", &doc["security"], &mut e);
    let Some(paths) = doc["paths"].as_object() else {
        e.push("paths is not an object".to_owned());
        return e;
    };
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        if !path.starts_with('/') {
            e.push(format!("path {path} does not start with /"));
        }
        let template: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name))
            .collect();
        for (method, op) in item.as_object().into_iter().flatten() {
            let at = format!("{method} {path}");
            if !METHODS.contains(&method.as_str()) {
                e.push(format!("{at}: not an HTTP method"));
                continue;
            }
            match op["operationId"].as_str() {
                Some(id) if operation_ids.insert(id.to_owned()) => {}
                Some(id) => e.push(format!("{at}: operationId {id} is used twice")),
                None => e.push(format!("{at}: no operationId")),
            }
            let mut declared = BTreeSet::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default();
                match p["in"].as_str() {
                    Some("path") => {
                        declared.insert(name);
                        if p["required"] != true {
                            e.push(format!("{at}: path parameter {name} is not required"));
                        }
                    }
                    Some("query" | "header" | "cookie") => {}
                    other => e.push(format!("{at}: parameter {name} is in {other:?}")),
                }
                if !p["schema"].is_object() {
                    e.push(format!("{at}: parameter {name} has no schema"));
                }
            }
            if declared != template {
                e.push(format!(
                    "{at}: path parameters {declared:?} differ from the template's {template:?}"
                ));
            }
            let responses = op["responses"].as_object();
            if responses.is_none_or(|r| r.is_empty()) {
                e.push(format!("{at}: no responses"));
            }
            for (status, response) in responses.into_iter().flatten() {
                let valid = status == "default"
                    || status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s));
                if !valid {
                    e.push(format!("{at}: {status} is not a status code"));
                }
                if !response["$ref"].is_string() && !response["description"].is_string() {
                    e.push(format!("{at} {status}: a response needs a description"));
                }
            }
            check_security(&at, &op["security"], &mut e);
        }
    }
    for (name, _) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            e.push(format!(
                "components.schemas.{name}: not a valid component name"
            ));
        }
    }
    references(doc, doc, "", &mut e);
    e
}

/// Every `$ref` under `value` points into the components of `doc`, at something that exists.
fn references(doc: &Value, value: &Value, at: &str, e: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref") {
                let ok = r
                    .as_str()
                    .filter(|r| r.starts_with("#/components/"))
                    .and_then(|r| doc.pointer(&r[1..]))
                    .is_some();
                if !ok {
                    let r = r.as_str().unwrap_or_default();
                    e.push(format!("{at}: $ref {r} does not resolve"));
                }
            }
            for (k, v) in map {
                references(doc, v, &format!("{at}/{k}"), e);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                references(doc, v, &format!("{at}/{i}"), e);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_well_formed_openapi_3_1_and_every_ref_resolves() {
    let doc = doc();
    // `WEIJIAN_OPENAPI_OUT=<file>`: also writes the document there, to read it.
    if let Ok(path) = std::env::var("WEIJIAN_OPENAPI_OUT") {
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    let errors = structure_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["type"],
        "http"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"], json!([{ "bearer": [] }]));
}

#[test]
fn the_structure_check_finds_broken_documents() {
    let mut broken = doc();
    broken["paths"]["/api/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"] = json!({ "$ref": "#/components/schemas/Nobody" });
    broken["paths"]["/api/v1/sites/{site}/status"]["get"]["parameters"] = json!([]);
    broken["paths"]["/api/v1/sites"]["get"]["security"] = json!([{ "apikey": [] }]);
    broken["openapi"] = json!("2.0");
    let errors = structure_errors(&broken);
    for expected in [
        "Nobody does not resolve",
        "differ from the template",
        "`apikey` is not defined",
        "not 3.1.x",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{expected}: {errors:#?}"
        );
    }
}

#[test]
fn the_document_lists_exactly_the_routes_served() {
    let doc = doc();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((path.clone(), method.clone()));
        }
    }
    let served: BTreeSet<_> = ROUTES
        .iter()
        .flat_map(|(p, ms)| ms.iter().map(|m| ((*p).to_owned(), (*m).to_owned())))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn the_alert_query_documents_exactly_the_parameters_the_filter_reads() {
    let doc = doc();
    let documented: BTreeSet<&str> = doc["paths"]["/api/v1/alerts"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let read: BTreeSet<&str> = crate::api::filter::PARAMETERS.iter().copied().collect();
    assert_eq!(documented, read);
}

#[tokio::test]
async fn the_router_serves_exactly_the_routes_of_the_table() {
    let h = Harness::new().await;
    for (path, methods) in ROUTES {
        let concrete = path.replace("{id}", "x").replace("{site}", "wp-east");
        for method in ["get", "post", "put", "patch", "delete"] {
            let a = h.call(&method.to_uppercase(), &concrete, None, None).await;
            if methods.contains(&method) {
                let expected = if *path == "/api/v1/openapi.json" {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                };
                assert_eq!(a.status, expected, "{method} {path}: {a:?}");
            } else {
                assert_eq!(
                    a.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {a:?}"
                );
            }
        }
    }
    let a = h.call("GET", "/api/v1/nothing/here", None, None).await;
    assert_eq!(a.body["error"], "no_route");
}

// ---------------------------------------------------------------------------------------------
// Real answers against the document.

/// Calls endpoints of a harness and checks each answer against the document.
struct Conformance {
    h: Harness,
    doc: Value,
    /// (path, method) -> statuses answered.
    answered: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Conformance {
    fn new(h: Harness) -> Self {
        Self {
            h,
            doc: doc(),
            answered: BTreeMap::new(),
        }
    }

    /// The schema of `status` of `method path`, or why there is none.
    fn schema(&self, method: &str, path: &str, status: &str) -> Result<&Value, String> {
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
    fn check(&mut self, method: &str, path: &str, a: &Answer) {
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
    async fn call(
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
    async fn get(&mut self, path: &str, uri: &str, token: Option<&str>, status: u16) -> Answer {
        self.call(&format!("GET {path}"), uri, token, None, status)
            .await
    }

    /// Documented (path, method, status) never answered.
    fn unanswered(&self) -> BTreeSet<(String, String, String)> {
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
type Change = Box<dyn Fn(&mut Value)>;

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
const RISK_SITES: &str = "/api/v1/risk/sites";
const RISK_SITE: &str = "/api/v1/risk/sites/{site}";
const RISK_GRID: &str = "/api/v1/risk/grid";
const RECOMPUTE: &str = "POST /api/v1/risk/recompute";
const DRAW: &str = "POST /api/v1/risk/draws";

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

    risk_answers_conform(&mut c).await;

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
    let unanswered = c.unanswered();
    let surprising: Vec<_> = unanswered.difference(&allowed).collect();
    assert!(surprising.is_empty(), "never answered: {surprising:#?}");
}

/// The risk index's answers: not running yet (503), then over a history where every grade
/// but one occurs (wp-garden D, wp-east C, wp-west B, the others A), for each kind of site.
async fn risk_answers_conform(c: &mut Conformance) {
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

/// Three bags in, one handed over, a disinfection.
fn filled_ledger(now: Timestamp) -> alerting::waste::LedgerSummary {
    use alerting::waste::{BagIn, Category, Handover, Ledger};
    let at = |hours_ago: i64| Timestamp(now.0 - hours_ago * 3_600_000_000);
    let mut ledger = Ledger::default();
    for (id, category, kg, hours_ago) in [
        ("B1", Category::Infectious, 2.5, 30),
        ("B2", Category::Sharps, 0.75, 20),
        ("B3", Category::Infectious, 1.5, 10),
    ] {
        ledger.bag_in(&BagIn {
            site: "ws-west".into(),
            device: "wd-west-1".into(),
            ts: at(hours_ago),
            bag_id: id.into(),
            category,
            weight_kg: kg,
            department: None,
        });
    }
    ledger.handover(
        &Handover {
            site: "ws-west".into(),
            device: "wd-west-1".into(),
            ts: at(6),
            manifest_id: "MF-88".into(),
            bag_ids: vec!["B1".into()],
            weight_kg: 2.48,
            carrier: "HZ-MW-01".into(),
        },
        600,
    );
    ledger.disinfection(at(3));
    ledger.summary()
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
