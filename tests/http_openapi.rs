//! `GET /v1/openapi.json` against the live daemon: the document is OpenAPI 3.1, every path
//! and method it documents answers (never "no such route" or "method not allowed"), and the
//! methods it does not document for a path are refused with 405: the live router and the
//! document agree both ways. (That every route registered in the code is documented is checked
//! by `daemon::http::routes`' unit tests.)

mod common;

use common::daemon::{ops_group, World};
use common::http::{answer, token, Http, HTTP_ON};
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A documented path with its parameters filled in with things that exist.
fn concrete(path: &str) -> String {
    path.replace("{group}", "ops")
        .replace("{member}", "m1")
        .replace("{id}", "1")
        .replace("{modem}", "nope")
}

#[test]
fn the_openapi_document_and_the_live_routes_agree() {
    let w = World::start(1, |c| c, HTTP_ON);
    ops_group(&w, 1);
    w.send("ops", "alice", "hello");
    let http = Http::new(&w);
    let admin = token(&w, &["--admin"]);

    let (status, doc) = answer(http.get("/v1/openapi.json", None).send().unwrap());
    assert_eq!(status, 200, "{doc}");
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{} paths", paths.len());
    // What the web console needs from the API is in the document: the import's dry run, its
    // rows, and the preview's members left out by name.
    let import_params: Vec<&str> = paths["/v1/members/import"]["post"]["parameters"]
        .as_array()
        .expect("the import's parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(import_params.contains(&"dry_run"), "{import_params:?}");
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("SendPreview", "left_out"),
        ("LeftOut", "sms_disabled"),
        ("MemberName", "name"),
        ("ImportResult", "rows"),
        ("ImportRow", "membership"),
    ] {
        assert!(
            schemas[schema]["properties"].get(field).is_some(),
            "{schema}.{field} in the document: {}",
            schemas[schema]
        );
    }

    // Deletions last, so that what the other routes name still exists.
    let mut operations: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in paths {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                operations.push((path.clone(), m.to_string(), op.clone()));
            }
        }
    }
    operations.sort_by_key(|(_, m, _)| m == "delete");
    let mut checked = 0;
    for (path, m, op) in &operations {
        let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
        let url = format!("{}{}", http.base, concrete(path));
        let mut r = http
            .client
            .request(method.clone(), &url)
            .bearer_auth(&admin);
        if op.get("requestBody").is_some() {
            r = if path.ends_with("/import") {
                r.header("content-type", "text/csv")
                    .body("handle,name,phone\n")
            } else {
                r.json(&serde_json::json!({}))
            };
        }
        let response = r.send().unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        assert_ne!(status, 405, "{m} {path}: method not allowed: {text}");
        if status == 404 {
            // An unknown object (our error body), not an unknown route.
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{m} {path}: 404 without our error body: {text:?}"));
            let code = body["error"]["code"].as_str().unwrap_or("");
            assert!(code.starts_with("unknown_"), "{m} {path}: {body}");
        }
        // Documented as needing a token: without one, 401.
        if op.get("security").is_some() {
            let r = http.client.request(method, &url).send().unwrap();
            assert_eq!(r.status().as_u16(), 401, "{m} {path} without a token");
        }
        checked += 1;
    }
    assert_eq!(checked, operations.len());

    // And the other way: a method the document does not give a path is not served.
    for (path, item) in paths {
        for m in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let r = http
                .client
                .request(method, format!("{}{}", http.base, concrete(path)))
                .bearer_auth(&admin)
                .send()
                .unwrap();
            assert_eq!(
                r.status().as_u16(),
                405,
                "{m} {path} is served but not documented"
            );
        }
    }
}
