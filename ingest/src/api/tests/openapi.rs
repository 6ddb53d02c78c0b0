//! The generated OpenAPI document: it is well-formed OpenAPI 3.1 (every `$ref` resolves), it
//! lists exactly the routes served, and the real answers of every endpoint, success and
//! refusal, conform to the schema it gives for their path, method and status (checked with
//! `schema::Validator`, which also refuses fields the document does not declare).

use std::collections::{BTreeMap, BTreeSet};

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

/// Calls endpoints and checks each answer against the document.
struct Conformance {
    doc: Value,
    /// (path, method) -> statuses answered.
    answered: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Conformance {
    fn new() -> Self {
        Self {
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

    /// Checks an answer of `method path` (the document's path template).
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

    #[allow(clippy::too_many_arguments)]
    async fn call(
        &mut self,
        h: &Harness,
        method: &str,
        path: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Answer {
        let a = h.call(method, uri, token, body).await;
        assert_eq!(a.status, expected, "{method} {uri}: {a:?}");
        self.check(method, path, &a);
        a
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

const OK: StatusCode = StatusCode::OK;

/// A change to a value.
type Change = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn every_answer_of_every_endpoint_conforms_to_the_document() {
    let mut h = Harness::new().await;
    let mut c = Conformance::new();
    let c = &mut c;

    // The document and the caller.
    let a = c
        .call(
            &h,
            "GET",
            "/api/v1/openapi.json",
            "/api/v1/openapi.json",
            None,
            None,
            OK,
        )
        .await;
    assert_eq!(a.body, c.doc, "the served document is the generated one");
    for token in [DONGCHENG, SHUICHANG] {
        c.call(&h, "GET", "/api/v1/me", "/api/v1/me", Some(token), None, OK)
            .await;
    }
    let unauthorized = StatusCode::UNAUTHORIZED;
    c.call(
        &h,
        "GET",
        "/api/v1/me",
        "/api/v1/me",
        None,
        None,
        unauthorized,
    )
    .await;
    c.call(
        &h,
        "GET",
        "/api/v1/me",
        "/api/v1/me",
        Some("nobody"),
        None,
        unauthorized,
    )
    .await;

    // Alerts: open, acknowledged, silenced, resolved.
    let east = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    let east2 = h.fire("G1", "wp-east", "wm-east-2", Level::IV, 300);
    let garden = h.fire("W1", "wp-garden", "wm-garden-1", Level::III, 300);
    h.announce();
    let east_path = format!("/api/v1/alerts/{}", enc(&east));
    let one = "/api/v1/alerts/{id}";
    let ack = "/api/v1/alerts/{id}/ack";
    let resolve = "/api/v1/alerts/{id}/resolve";
    let list = "/api/v1/alerts";
    c.call(&h, "GET", list, list, Some(DONGCHENG), None, OK)
        .await;
    c.call(
        &h,
        "GET",
        list,
        "/api/v1/alerts?state=all&limit=1",
        Some(DONGCHENG),
        None,
        OK,
    )
    .await;
    c.call(
        &h,
        "GET",
        list,
        "/api/v1/alerts?level=V",
        Some(DONGCHENG),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    c.call(&h, "GET", list, list, None, None, unauthorized)
        .await;
    let a = c
        .call(&h, "GET", one, &east_path, Some(SHUICHANG), None, OK)
        .await;
    assert!(a.body["ack_deadline"].is_string(), "{a:?}");
    c.call(
        &h,
        "GET",
        one,
        &east_path,
        Some(HUAYUAN),
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    c.call(
        &h,
        "GET",
        one,
        "/api/v1/alerts/W2%2Fnowhere",
        Some(SHUICHANG),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    c.call(
        &h,
        "GET",
        one,
        "/api/v1/alerts/%20",
        Some(SHUICHANG),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    c.call(&h, "GET", one, &east_path, None, None, unauthorized)
        .await;

    let east_ack = format!("{east_path}/ack");
    let a = c
        .call(
            &h,
            "POST",
            ack,
            &east_ack,
            Some(SHUICHANG),
            Some(json!({"note": "已派人到场"})),
            OK,
        )
        .await;
    assert_eq!(a.body["events"][0]["kind"], "acknowledged");
    // An empty body acknowledges too.
    c.call(
        &h,
        "POST",
        ack,
        &format!("/api/v1/alerts/{}/ack", enc(&east2)),
        Some(SHUICHANG),
        None,
        OK,
    )
    .await;
    let a = c
        .call(&h, "GET", one, &east_path, Some(SHUICHANG), None, OK)
        .await;
    assert!(a.body["acknowledged"].is_object(), "{a:?}");
    assert!(!a.body["history"].as_array().unwrap().is_empty());
    c.call(
        &h,
        "POST",
        ack,
        &east_ack,
        Some(SHUICHANG),
        Some(json!({"by": "me"})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let a = c
        .call(
            &h,
            "POST",
            ack,
            &east_ack,
            Some(HUAYUAN),
            Some(json!({})),
            StatusCode::FORBIDDEN,
        )
        .await;
    assert!(a.body["request_id"].is_string(), "{a:?}");
    c.call(
        &h,
        "POST",
        ack,
        "/api/v1/alerts/W2%2Fnowhere/ack",
        Some(SHUICHANG),
        Some(json!({})),
        StatusCode::NOT_FOUND,
    )
    .await;
    c.call(&h, "POST", ack, &east_ack, None, None, unauthorized)
        .await;

    // Silences.
    let silences = "/api/v1/silences";
    let until = "2026-11-22T12:00:00+08:00";
    let a = c
        .call(&h, "POST", silences, silences, Some(SHUICHANG),
            Some(json!({"site": "wp-east", "device": "wm-east-1", "reason": "设备检修", "until": until})),
            StatusCode::CREATED)
        .await;
    let device_silence = a.body["silence"]["id"].as_str().unwrap().to_owned();
    let a = c
        .call(&h, "POST", silences, silences, Some(HUAYUAN),
            Some(json!({"id": "garden-flush", "site": "wp-garden", "reason": "管网冲洗", "until": (T0 / 1000) + 3_600_000})),
            StatusCode::CREATED)
        .await;
    assert_eq!(a.body["events"][0]["kind"], "silenced", "{a:?}");
    c.call(
        &h,
        "POST",
        silences,
        silences,
        Some(HUAYUAN),
        Some(json!({"id": "garden-flush", "site": "wp-garden", "reason": "again", "until": until})),
        StatusCode::CONFLICT,
    )
    .await;
    c.call(
        &h,
        "POST",
        silences,
        silences,
        Some(SHUICHANG),
        Some(json!({"site": "wp-east", "reason": "x", "until": "2026-11-22T07:00:00+08:00"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    c.call(
        &h,
        "POST",
        silences,
        silences,
        Some(SHUICHANG),
        Some(json!({"site": "wp-east", "device": "wm-west-1", "reason": "x", "until": until})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    c.call(
        &h,
        "POST",
        silences,
        silences,
        Some(HUAYUAN),
        Some(json!({"site": "wp-east", "reason": "x", "until": until})),
        StatusCode::FORBIDDEN,
    )
    .await;
    c.call(
        &h,
        "POST",
        silences,
        silences,
        Some(HUAYUAN),
        Some(json!({"site": "nowhere", "reason": "x", "until": until})),
        StatusCode::NOT_FOUND,
    )
    .await;
    c.call(
        &h,
        "POST",
        silences,
        silences,
        Some(SHUICHANG),
        Some(json!({"site": "wp-east", "reason": "x", "until": "soon"})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    c.call(
        &h,
        "POST",
        silences,
        silences,
        None,
        Some(json!({})),
        unauthorized,
    )
    .await;
    let a = c
        .call(&h, "GET", silences, silences, Some(DONGCHENG), None, OK)
        .await;
    assert_eq!(a.body["silences"].as_array().unwrap().len(), 2, "{a:?}");
    c.call(&h, "GET", silences, silences, None, None, unauthorized)
        .await;
    let a = c
        .call(&h, "GET", list, list, Some(DONGCHENG), None, OK)
        .await;
    assert!(
        a.body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["silenced_by"].is_string()),
        "{a:?}"
    );

    let expire = "/api/v1/silences/{id}";
    c.call(
        &h,
        "DELETE",
        expire,
        "/api/v1/silences/garden-flush",
        Some(SHUICHANG),
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    let a = c
        .call(
            &h,
            "DELETE",
            expire,
            "/api/v1/silences/garden-flush",
            Some(HUAYUAN),
            None,
            OK,
        )
        .await;
    assert_eq!(a.body["events"][0]["kind"], "silence_ended", "{a:?}");
    c.call(
        &h,
        "DELETE",
        expire,
        "/api/v1/silences/garden-flush",
        Some(HUAYUAN),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    c.call(
        &h,
        "DELETE",
        expire,
        "/api/v1/silences/%FF",
        Some(HUAYUAN),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    c.call(
        &h,
        "DELETE",
        expire,
        &format!("/api/v1/silences/{device_silence}"),
        None,
        None,
        unauthorized,
    )
    .await;

    // Resolve; then the alert is closed for writes.
    let garden_path = format!("/api/v1/alerts/{}", enc(&garden));
    let garden_resolve = format!("{garden_path}/resolve");
    c.call(
        &h,
        "POST",
        resolve,
        &garden_resolve,
        Some(HUAYUAN),
        Some(json!({"reason": " "})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    c.call(
        &h,
        "POST",
        resolve,
        &garden_resolve,
        Some(SHUICHANG),
        Some(json!({"reason": "not mine"})),
        StatusCode::FORBIDDEN,
    )
    .await;
    c.call(
        &h,
        "POST",
        resolve,
        "/api/v1/alerts/W1%2Fnowhere/resolve",
        Some(HUAYUAN),
        Some(json!({"reason": "x"})),
        StatusCode::NOT_FOUND,
    )
    .await;
    let a = c
        .call(
            &h,
            "POST",
            resolve,
            &garden_resolve,
            Some(HUAYUAN),
            Some(json!({"reason": "冲洗管网后复测合格"})),
            OK,
        )
        .await;
    assert_eq!(a.body["state"], "resolved");
    c.call(
        &h,
        "POST",
        resolve,
        &garden_resolve,
        Some(HUAYUAN),
        Some(json!({"reason": "again"})),
        StatusCode::CONFLICT,
    )
    .await;
    c.call(
        &h,
        "POST",
        ack,
        &format!("{garden_path}/ack"),
        Some(HUAYUAN),
        Some(json!({})),
        StatusCode::CONFLICT,
    )
    .await;
    c.call(
        &h,
        "POST",
        resolve,
        &garden_resolve,
        None,
        None,
        unauthorized,
    )
    .await;
    let a = c
        .call(
            &h,
            "GET",
            list,
            "/api/v1/alerts?state=resolved",
            Some(HUAYUAN),
            None,
            OK,
        )
        .await;
    assert!(a.body["alerts"][0]["resolved_at"].is_string(), "{a:?}");
    c.call(&h, "GET", one, &garden_path, Some(HUAYUAN), None, OK)
        .await;

    // Sites: water with alerts and a silence, an empty and a filled waste ledger, a clinic.
    let sites = "/api/v1/sites";
    let status = "/api/v1/sites/{site}/status";
    let sterilizers = "/api/v1/sites/{site}/sterilizers";
    for token in [DONGCHENG, XUEFU, KOUQIANG] {
        c.call(&h, "GET", sites, sites, Some(token), None, OK).await;
    }
    c.call(&h, "GET", sites, sites, None, None, unauthorized)
        .await;
    let a = c
        .call(
            &h,
            "GET",
            status,
            "/api/v1/sites/wp-east/status",
            Some(SHUICHANG),
            None,
            OK,
        )
        .await;
    assert!(
        !a.body["open_alerts"].as_array().unwrap().is_empty(),
        "{a:?}"
    );
    assert!(!a.body["silences"].as_array().unwrap().is_empty(), "{a:?}");
    c.call(
        &h,
        "GET",
        status,
        "/api/v1/sites/ws-west/status",
        Some(XUEFU),
        None,
        OK,
    )
    .await;
    h.desk.waste().set("ws-west", filled_ledger(h.now()));
    let a = c
        .call(
            &h,
            "GET",
            status,
            "/api/v1/sites/ws-west/status",
            Some(XUEFU),
            None,
            OK,
        )
        .await;
    assert!(a.body["waste"]["oldest_bag"].is_object(), "{a:?}");
    c.call(
        &h,
        "GET",
        status,
        "/api/v1/sites/kq-nancheng/status",
        Some(KOUQIANG),
        None,
        OK,
    )
    .await;
    c.call(
        &h,
        "GET",
        sterilizers,
        "/api/v1/sites/kq-nancheng/sterilizers",
        Some(KOUQIANG),
        None,
        OK,
    )
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
    h.desk
        .set_sterilizer(engine.sterilizer_status("ac-nancheng-1").unwrap());
    let a = c
        .call(
            &h,
            "GET",
            sterilizers,
            "/api/v1/sites/kq-nancheng/sterilizers",
            Some(KOUQIANG),
            None,
            OK,
        )
        .await;
    assert!(a.body["sterilizers"][0]["recall"].is_object(), "{a:?}");
    c.call(
        &h,
        "GET",
        status,
        "/api/v1/sites/kq-nancheng/status",
        Some(KOUQIANG),
        None,
        OK,
    )
    .await;
    for (path, uri) in [
        (status, "/api/v1/sites/wp-west/status"),
        (sterilizers, "/api/v1/sites/kq-nancheng/sterilizers"),
    ] {
        c.call(
            &h,
            "GET",
            path,
            uri,
            Some(SHUICHANG),
            None,
            StatusCode::FORBIDDEN,
        )
        .await;
        c.call(&h, "GET", path, uri, None, None, unauthorized).await;
    }
    for (path, uri) in [
        (status, "/api/v1/sites/nowhere/status"),
        (sterilizers, "/api/v1/sites/nowhere/sterilizers"),
        (sterilizers, "/api/v1/sites/wp-east/sterilizers"),
    ] {
        c.call(
            &h,
            "GET",
            path,
            uri,
            Some(SHUICHANG),
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    for (path, uri) in [
        (status, "/api/v1/sites/%FF/status"),
        (sterilizers, "/api/v1/sites/%FF/sterilizers"),
    ] {
        c.call(
            &h,
            "GET",
            path,
            uri,
            Some(SHUICHANG),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }

    // No such endpoint: the error body of the document.
    let a = h.call("GET", "/api/v1/nothing/here", None, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let errors =
        Validator::new(&c.doc).errors(&a.body, &json!({ "$ref": "#/components/schemas/Error" }));
    assert!(errors.is_empty(), "{errors:?}: {a:?}");

    // The journal fails: writes are 503, nothing changes.
    h.close_journal().await;
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    c.call(
        &h,
        "POST",
        ack,
        &east_ack,
        Some(SHUICHANG),
        Some(json!({})),
        unavailable,
    )
    .await;
    c.call(
        &h,
        "POST",
        resolve,
        &format!("{east_path}/resolve"),
        Some(SHUICHANG),
        Some(json!({"reason": "x"})),
        unavailable,
    )
    .await;
    c.call(
        &h,
        "POST",
        silences,
        silences,
        Some(SHUICHANG),
        Some(json!({"site": "wp-east", "reason": "x", "until": until})),
        unavailable,
    )
    .await;
    c.call(
        &h,
        "DELETE",
        expire,
        &format!("/api/v1/silences/{device_silence}"),
        Some(SHUICHANG),
        None,
        unavailable,
    )
    .await;

    // Every endpoint answered, and every documented status but these: 202 (its own test
    // below), and refusals the engine cannot give for that write.
    let allowed: BTreeSet<(String, String, String)> = [
        (ack, "post", "202"),
        (ack, "post", "422"),
        (resolve, "post", "202"),
        (resolve, "post", "422"),
        (silences, "post", "202"),
        (expire, "delete", "202"),
        (expire, "delete", "422"),
    ]
    .into_iter()
    .map(|(p, m, s)| (p.to_owned(), m.to_owned(), s.to_owned()))
    .collect();
    let unanswered = c.unanswered();
    let surprising: Vec<_> = unanswered.difference(&allowed).collect();
    assert!(surprising.is_empty(), "never answered: {surprising:#?}");
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
    let mut c = Conformance::new();
    let id = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    let ack_uri = format!("/api/v1/alerts/{}/ack", enc(&id));
    let resolve_uri = format!("/api/v1/alerts/{}/resolve", enc(&id));
    let (ack, resolve, silence) = tokio::join!(
        h.call("POST", &ack_uri, Some(SHUICHANG), Some(json!({}))),
        h.call(
            "POST",
            &resolve_uri,
            Some(SHUICHANG),
            Some(json!({"reason": "x"}))
        ),
        h.call(
            "POST",
            "/api/v1/silences",
            Some(SHUICHANG),
            Some(json!({"site": "wp-east", "reason": "x", "until": "2026-11-22T12:00:00+08:00"}))
        ),
    );
    for (path, a) in [
        ("/api/v1/alerts/{id}/ack", &ack),
        ("/api/v1/alerts/{id}/resolve", &resolve),
        ("/api/v1/silences", &silence),
    ] {
        assert_eq!(a.status, StatusCode::ACCEPTED, "{path}: {a:?}");
        assert_eq!(a.body["state"], "queued");
        c.check("POST", path, a);
    }
}

/// The document's schemas are strict enough to catch a wrong answer: a real alert detail,
/// changed in one place at a time, no longer conforms.
#[tokio::test]
async fn a_real_answer_changed_in_any_way_no_longer_conforms() {
    let h = Harness::new().await;
    let c = Conformance::new();
    let id = h.fire("W2", "wp-east", "wm-east-1", Level::II, 600);
    h.announce();
    let a = h
        .get(&format!("/api/v1/alerts/{}", enc(&id)), SHUICHANG)
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
