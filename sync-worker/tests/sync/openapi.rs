//! The OpenAPI document (`GET /openapi.json`) against the service that serves it: valid
//! OpenAPI 3.1, every route it lists served and every route served listed, each operation's
//! role the one its route enforces, and each error code one the README's table explains.

use crate::support::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use tollgate_sync::auth::{self, Role};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "served without a token");
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.unwrap()
}

/// Every (method, path template) of the document.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                found.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

/// The path with each `{param}` filled in.
fn concrete(template: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        path.push_str(&rest[..start]);
        path.push_str("doc_probe");
        rest = &rest[end + 1..];
    }
    path.push_str(rest);
    path
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, format!("{}{}", app.address, concrete(path)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let res = request.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// A token of every role.
async fn tokens(app: &TestApp) -> Vec<(Role, String)> {
    let mut conn = app.pool.acquire().await.unwrap();
    let mut tokens = Vec::new();
    for role in [Role::App, Role::Viewer, Role::Support, Role::Admin] {
        let (_, secret) = auth::create(
            &mut conn,
            &format!("{role}-doc"),
            role,
            "test",
            app.clock.now(),
        )
        .await
        .unwrap();
        tokens.push((
            role,
            secrecy::ExposeSecret::expose_secret(&secret).to_owned(),
        ));
    }
    tokens
}

async fn spawn() -> TestApp {
    TestApp::spawn_configured(crate::support::at("2026-11-20T12:00:00Z"), |config| {
        config.clerk_webhook_secret = Some(secrecy::SecretString::from(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ));
    })
    .await
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = spawn().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let schema: Value =
        serde_json::from_str(include_str!("../fixtures/openapi-3.1-schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OpenAPI 3.1: {errors:#?}");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    app.finish().await;
}

#[tokio::test]
async fn every_route_served_is_in_the_document_and_every_documented_route_is_served() {
    let app = spawn().await;
    let document = document(&app).await;
    let admin = tokens(&app).await.pop().unwrap().1;
    let operations = operations(&document);
    assert!(operations.len() >= 35, "{} operations", operations.len());
    for (method, path, _) in &operations {
        let (status, body) = call(&app, method, path, Some(&admin)).await;
        // The router's own answers to an unknown route or method.
        let code = serde_json::from_str::<Value>(&body).unwrap_or_default()["code"].clone();
        let unrouted = code == "not_found" || code == "method_not_allowed";
        assert!(
            !unrouted,
            "{method} {path} is documented but not served ({status})"
        );
    }
    // No method is served on a documented path that the document does not list.
    let documented: BTreeSet<(String, String)> = operations
        .iter()
        .map(|(method, path, _)| (method.clone(), path.clone()))
        .collect();
    for path in documented
        .iter()
        .map(|(_, path)| path)
        .collect::<BTreeSet<_>>()
    {
        for method in METHODS {
            if !documented.contains(&(method.to_owned(), path.clone())) {
                let (status, body) = call(&app, method, path, Some(&admin)).await;
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is served but not documented"
                );
                assert!(body.contains("\"method_not_allowed\""), "{body}");
            }
        }
    }
    // Routes are only registered through `routes!`, which documents them: a plain axum route
    // would be served without a document.
    let mut folders = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/http"
    ))];
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("billing/mod.rs")));
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let code = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !code.contains(".route(") && !code.contains(".nest("),
            "{} registers a route without its document: use `.routes(routes!(handler))`",
            path.display()
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn each_operation_names_the_role_its_route_enforces() {
    let app = spawn().await;
    let document = document(&app).await;
    let tokens = tokens(&app).await;
    for (method, path, operation) in operations(&document) {
        let Some(role) = operation["x-role"].as_str() else {
            assert!(!path.starts_with("/v1"), "{method} {path} names no role");
            assert!(operation.get("security").is_none(), "{method} {path}");
            continue;
        };
        assert_eq!(operation["security"][0]["bearer"], Value::Array(vec![]));
        let (status, _) = call(&app, &method, &path, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let at = tokens
            .iter()
            .position(|(held, _)| held.to_string() == role)
            .unwrap_or_else(|| panic!("{method} {path}: unknown role `{role}`"));
        let (status, _) = call(&app, &method, &path, Some(&tokens[at].1)).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{method} {path} refused role `{role}` ({status})"
        );
        if at > 0 {
            let (below, token) = &tokens[at - 1];
            let (status, body) = call(&app, &method, &path, Some(token)).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} let role `{below}` in: {body}"
            );
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn every_error_code_in_the_document_is_in_the_readme() {
    let app = spawn().await;
    let document = document(&app).await;
    // The first cell of each row of the README's table of codes.
    let listed: Vec<&str> = include_str!("../../README.md")
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| line.split('|').nth(1))
        .collect();
    let mut seen = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            assert_ne!(
                status, "default",
                "{method} {path} lists a code of no known status"
            );
            if !status.starts_with(['4', '5']) {
                continue;
            }
            let codes = &response["content"]["application/json"]["schema"]["allOf"][1]["properties"]
                ["code"]["enum"];
            let codes = codes
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} {status} lists no codes"));
            for code in codes {
                seen.insert(code.as_str().unwrap().to_owned());
            }
        }
    }
    for code in &seen {
        assert!(
            listed
                .iter()
                .any(|cell| cell.contains(&format!("`{code}`"))),
            "`{code}` is not in sync-worker/README.md's table of codes"
        );
    }
    app.finish().await;
}
