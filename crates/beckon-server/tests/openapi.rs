//! The OpenAPI description at `/v1/openapi.json` describes every JSON route the server has, and
//! only routes it has: a route added without a `#[utoipa::path]` (or listed in the description
//! but gone from the router) fails here. The routes are read from the routers' source (every
//! `.route("…", get(…).post(…))` under `src/http/` and `src/ws/`), and each described operation
//! is called on the running server to see that the router knows it.

use beckon_server::http::openapi::UNDESCRIBED_API_ROUTES;
use beckon_testkit::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `(method, path)` of every `.route(…)` call in the Rust files of `dir`.
fn routes_in_source(dir: &Path) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("source file");
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments, up to its closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed .route( call");
            let args = &rest[..end];
            let route = args.split('"').nth(1).expect("a route path literal").to_owned();
            let handlers = &args[args.find(',').expect("a method router")..];
            for m in METHODS {
                // `get(` at the start of the method router or `.get(` chained after another.
                let called = handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                    let before = handlers[..i].trim_end();
                    before.ends_with(',') || before.ends_with('.')
                });
                if called {
                    found.insert((m.to_owned(), route.clone()));
                }
            }
        }
    }
    found
}

fn described(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                ops.insert((m.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_description_is_served_as_json_like_the_other_api_answers() {
    let app = spawn_app().await;
    let res = reqwest::get(app.http("/v1/openapi.json")).await.unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["session"]["in"], "cookie");
    assert_eq!(doc["components"]["securitySchemes"]["session"]["name"], "beckon_session");
}

#[tokio::test]
async fn every_json_route_of_the_router_is_described_and_nothing_else() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut routes = routes_in_source(&src.join("http"));
    routes.extend(routes_in_source(&src.join("ws")));
    // Sanity: the scan sees the routers (a route in each area, and the assets it leaves out).
    for known in ["/healthz", "/v1/agent/login", "/v1/admin/agents/{id}", "/v1/agent/ws", "/widget.js"] {
        assert!(routes.iter().any(|(_, p)| p == known), "the source scan missed {known}: {routes:?}");
    }
    let api: BTreeSet<_> = routes
        .into_iter()
        .filter(|(_, p)| {
            (p.starts_with("/v1/") || p == "/healthz") && !UNDESCRIBED_API_ROUTES.contains(&p.as_str())
        })
        .collect();

    let app = spawn_app().await;
    let doc: Value = reqwest::get(app.http("/v1/openapi.json")).await.unwrap().json().await.unwrap();
    let described = described(&doc);
    let missing: Vec<_> = api.difference(&described).collect();
    assert!(missing.is_empty(), "routes without a description: {missing:?}");
    let extra: Vec<_> = described.difference(&api).collect();
    assert!(extra.is_empty(), "described but not in the router: {extra:?}");

    // The router answers each described operation (here without a session) as something other
    // than an unknown route or method.
    let client = reqwest::Client::new();
    for (method, path) in &described {
        let url = app.http(&path.replace("{id}", "1"));
        let res = client
            .request(method.to_uppercase().parse().unwrap(), url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path}: method not allowed");
        assert_ne!(body["error"]["message"], "no such route", "{method} {path}: unknown route");
    }
}

#[tokio::test]
async fn every_operation_describes_its_errors_and_its_authentication() {
    let app = spawn_app().await;
    let doc: Value = reqwest::get(app.http("/v1/openapi.json")).await.unwrap().json().await.unwrap();
    let public = ["/healthz", "/v1/openapi.json", "/v1/agent/login", "/v1/agent/logout"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let what = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{what}: no responses"));
            assert!(responses.keys().any(|s| s.starts_with('2')), "{what}: no success answer");
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &r["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{what} {status}: not the error body"
                    );
                }
                if status == "429" || (status == "503" && path != "/healthz") {
                    assert!(
                        r["headers"].get("Retry-After").is_some(),
                        "{what}: {status} without Retry-After"
                    );
                }
            }
            // Anything that reads or writes the database can meet it not answering.
            if path != "/v1/openapi.json" {
                assert!(responses.contains_key("503"), "{what}: no 503 for the database not answering");
            }
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{what}: no security"));
            let needs_session = !public.contains(&path.as_str()) && !path.starts_with("/v1/visitor/");
            if path.starts_with("/v1/visitor/") {
                assert_eq!(security, &[serde_json::json!({"visitor_token": []})], "{what}");
                assert!(responses.contains_key("401"), "{what}: no 401");
            }
            if needs_session {
                assert_eq!(security, &[serde_json::json!({"session": []})], "{what}");
                assert!(responses.contains_key("401"), "{what}: no 401");
            }
            if path.starts_with("/v1/admin/") {
                assert!(responses.contains_key("403"), "{what}: no 403");
            }
            if let Some(body) = op.get("requestBody") {
                // A JSON body can also be of the wrong shape (422); a file is any bytes.
                let json = body["content"].get("application/json").is_some();
                let statuses: &[&str] =
                    if json { &["400", "413", "415", "422"] } else { &["400", "413", "415"] };
                for status in statuses {
                    assert!(responses.contains_key(*status), "{what}: takes a body but has no {status}");
                }
            }
            if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
                assert!(responses.contains_key("400"), "{what}: takes parameters but has no 400");
            }
        }
    }
}

// --- what schemathesis found (scripts/api-fuzz) ------------------------------------------------

/// A malformed id in the path or a malformed query parameter was answered by axum's own
/// rejection, in plain text: not the JSON error body the description promises.
#[tokio::test]
async fn malformed_ids_and_query_parameters_get_the_json_error_body() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let client = reqwest::Client::new();
    for path in [
        "/v1/agent/conversations/abc/messages",
        "/v1/agent/conversations/99999999999999999999/visitor",
        "/v1/agent/conversations/1/messages?limit=-1",
        "/v1/agent/conversations/1/messages?after_seq=x",
        "/v1/agent/conversations?agent_id=x",
        "/v1/agent/visitors/1.5/why",
        "/v1/admin/analytics/invites?from=soon",
    ] {
        let res = client.get(app.http(path)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{path}: {body}");
    }
}
