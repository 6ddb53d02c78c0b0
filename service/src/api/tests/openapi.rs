//! The generated OpenAPI document: it is well-formed OpenAPI 3.1 (every `$ref` resolves), it
//! lists exactly the routes served, and the real answers of every endpoint, success and
//! refusal, conform to the schema it gives for their path, method and status (checked with
//! `schema::Validator`, which also refuses fields the document does not declare).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::json;

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
