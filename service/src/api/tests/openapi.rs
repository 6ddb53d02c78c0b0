//! The OpenAPI document matches the router.

use std::collections::BTreeSet;

use axum::http::StatusCode;

use super::*;
use crate::api::{OPENAPI, ROUTES};

#[test]
fn the_document_parses_and_lists_exactly_the_routes_served() {
    let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((path.clone(), method.clone()));
            }
        }
    }
    let served: BTreeSet<_> = ROUTES
        .iter()
        .flat_map(|(p, ms)| ms.iter().map(|m| ((*p).to_owned(), (*m).to_owned())))
        .collect();
    assert_eq!(documented, served);
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
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
