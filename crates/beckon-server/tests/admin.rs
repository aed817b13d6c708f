//! Administration endpoints for agents and widgets: admins list, create and edit; agents get
//! 403; every refusal names the field it is about; settings reach the widget on its next `hello`.

use beckon_testkit::*;
use serde_json::{Value, json};

struct Http<'a> {
    app: &'a TestApp,
    cookie: String,
    client: reqwest::Client,
}

impl Http<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, self.app.http(path)).header("cookie", &self.cookie);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
}

async fn admin(app: &TestApp) -> Http<'_> {
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    Http { app, cookie, client: reqwest::Client::new() }
}

fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn admins_create_list_and_edit_agents() {
    let app = spawn_app().await;
    let http = admin(&app).await;

    let (status, list) = http.get("/v1/admin/agents").await;
    assert_eq!(status, 200);
    let agents = list["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["email"], DEMO_AGENT_EMAIL);
    assert_eq!(agents[0]["role"], "admin");
    assert_eq!(agents[0]["queue_ids"].as_array().unwrap().len(), 1);
    let general = agents[0]["queue_ids"][0].clone();
    let alex_id = agents[0]["id"].clone();

    let (status, q) = http.post("/v1/admin/queues", json!({"name": "Billing"})).await;
    assert_eq!(status, 201);
    let billing = q["queue"]["id"].clone();

    // Each invalid field is refused with its name first.
    let good = json!({"name": "Sam Lee", "email": "Sam@Example.com", "password": "a-long-secret",
                      "role": "agent", "capacity": 2, "queue_ids": [billing]});
    for (field, bad, named) in [
        ("name", json!("  "), "name:"),
        ("email", json!("not-an-email"), "email:"),
        ("password", json!("short"), "password:"),
        ("capacity", json!(500), "capacity:"),
        ("queue_ids", json!([9999]), "there is no queue 9999"),
    ] {
        let mut body = good.clone();
        body[field] = bad;
        let (status, err) = http.post("/v1/admin/agents", body).await;
        assert_eq!(status, 400, "{field}");
        assert_eq!(err["error"]["code"], "invalid_field");
        assert!(error_message(&err).contains(named), "{field}: {err}");
    }
    let mut bad_role = good.clone();
    bad_role["role"] = json!("owner");
    let (status, _) = http.post("/v1/admin/agents", bad_role).await;
    assert!((400..500).contains(&status));

    let (status, created) = http.post("/v1/admin/agents", good.clone()).await;
    assert_eq!(status, 201, "{created}");
    let sam = &created["agent"];
    assert_eq!(sam["email"], "sam@example.com");
    assert_eq!(sam["role"], "agent");
    assert_eq!(sam["capacity"], 2);
    assert_eq!(sam["queue_ids"], json!([billing]));
    assert_eq!(sam["presence"], "offline");
    let sam_id = sam["id"].clone();
    let (status, dup) = http.post("/v1/admin/agents", good.clone()).await;
    assert_eq!(status, 409);
    assert!(error_message(&dup).starts_with("email:"));

    // The new agent signs in with the initial password and is an agent, not an admin.
    let sam_http = Http {
        app: &app,
        cookie: app.sign_in("sam@example.com", "a-long-secret").await.unwrap(),
        client: reqwest::Client::new(),
    };
    let (status, me) = sam_http.get("/v1/agent/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["agent"]["name"], "Sam Lee");
    for (status, body) in [
        sam_http.get("/v1/admin/agents").await,
        sam_http.post("/v1/admin/agents", good.clone()).await,
        sam_http.patch(&format!("/v1/admin/agents/{sam_id}"), json!({"role": "admin"})).await,
        sam_http.get("/v1/admin/widgets").await,
        sam_http.patch("/v1/admin/widgets/1", json!({"title": "x"})).await,
    ] {
        assert_eq!(status, 403);
        assert_eq!(body["error"]["code"], "forbidden");
    }

    // Edit: role, capacity, queues; absent fields stay.
    let (status, edited) = http
        .patch(
            &format!("/v1/admin/agents/{sam_id}"),
            json!({"role": "admin", "capacity": 5, "queue_ids": [general, billing]}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["agent"]["name"], "Sam Lee");
    assert_eq!(edited["agent"]["role"], "admin");
    assert_eq!(edited["agent"]["capacity"], 5);
    assert_eq!(edited["agent"]["queue_ids"].as_array().unwrap().len(), 2);
    let (status, err) = http.patch(&format!("/v1/admin/agents/{sam_id}"), json!({"capacity": 51})).await;
    assert_eq!(status, 400);
    assert!(error_message(&err).starts_with("capacity:"));
    let (status, _) = http.patch("/v1/admin/agents/9999", json!({"capacity": 1})).await;
    assert_eq!(status, 404);

    // Sam's session now has admin rights (the role is read on each request).
    let (status, _) = sam_http.get("/v1/admin/agents").await;
    assert_eq!(status, 200);

    // The organisation keeps at least one admin.
    let (status, _) = http.patch(&format!("/v1/admin/agents/{sam_id}"), json!({"role": "agent"})).await;
    assert_eq!(status, 200);
    let (status, err) = http.patch(&format!("/v1/admin/agents/{alex_id}"), json!({"role": "agent"})).await;
    assert_eq!(status, 409);
    assert!(error_message(&err).starts_with("role:"));
}

#[tokio::test]
async fn admins_edit_widgets_and_the_widget_gets_the_new_settings() {
    let app = spawn_app().await;
    let http = admin(&app).await;

    let (status, list) = http.get("/v1/admin/widgets").await;
    assert_eq!(status, 200);
    let w = &list["widgets"][0];
    assert_eq!(w["widget_id"], DEMO_WIDGET_KEY);
    assert_eq!(w["allowed_origins"], json!(["*"]));
    assert_eq!(w["prechat"].as_array().unwrap().len(), 4);
    let id = w["id"].clone();
    let path = format!("/v1/admin/widgets/{id}");

    for (body, named) in [
        (json!({"color": "red"}), "color:"),
        (json!({"allowed_origins": ["https://shop.example/path"]}), "allowed_origins[0]:"),
        (json!({"allowed_origins": []}), "allowed_origins:"),
        (json!({"title": ""}), "title:"),
        (json!({"invite_expiry_ms": 100}), "invite_expiry_ms:"),
        (json!({"out_of_hours": "sometimes"}), "out_of_hours:"),
        (json!({"font_family": "x; background: url(evil)"}), "font_family:"),
        (json!({"default_queue_id": 9999}), "default_queue_id:"),
        (json!({"prechat": [{"id": "a", "label": "Topic", "kind": "option_set"}]}), "prechat[0].choices:"),
        (
            json!({"prechat": [{"id": "a", "label": "A", "kind": "single_line"}, {"id": "a", "label": "B", "kind": "single_line"}]}),
            "prechat[1].id:",
        ),
    ] {
        let (status, err) = http.patch(&path, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["error"]["code"], "invalid_field");
        assert!(error_message(&err).starts_with(named), "{body}: {err}");
    }

    let (status, updated) = http
        .patch(
            &path,
            json!({
                "title": "Talk to Demo Co", "color": "#AA3300", "font_family": "Georgia, serif",
                "greeting": "Hello there", "invite_expiry_ms": 30000, "out_of_hours": "hide",
                "offline_message": "Closed for now", "allowed_origins": ["*", "https://Shop.example/"],
                "prechat": [{"id": "email", "label": "Your email", "kind": "single_line", "required": true}]
            }),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let u = &updated["widget"];
    assert_eq!(u["color"], "#aa3300");
    assert_eq!(u["allowed_origins"], json!(["*", "https://shop.example"]));
    assert_eq!(u["name"], "Demo site");

    // A page that connects now gets the new settings.
    let (_v, welcome) = app.new_visitor().await;
    let s = &welcome["widget"];
    assert_eq!(s["title"], "Talk to Demo Co");
    assert_eq!(s["color"], "#aa3300");
    assert_eq!(s["font_family"], "Georgia, serif");
    assert_eq!(s["invite_expiry_ms"], 30000);
    assert_eq!(s["out_of_hours"], "hide");
    assert_eq!(s["offline_message"], "Closed for now");
    assert_eq!(s["prechat"][0]["label"], "Your email");

    // font_family: null clears it; other fields stay.
    let (status, cleared) = http.patch(&path, json!({"font_family": null})).await;
    assert_eq!(status, 200);
    assert_eq!(cleared["widget"]["font_family"], Value::Null);
    assert_eq!(cleared["widget"]["title"], "Talk to Demo Co");
    let (status, _) = http.patch("/v1/admin/widgets/9999", json!({"title": "x"})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn queue_list_shows_hours_and_whether_open_now() {
    let app = spawn_app().await;
    let http = admin(&app).await;
    let (_, list) = http.get("/v1/admin/queues").await;
    let q = &list["queues"][0];
    assert_eq!(q["open_now"], true);
    assert_eq!(q["hours"], Value::Null);
    // The test clock is Thursday 2026-01-01 00:00 UTC: a Monday-only queue is closed.
    let hours =
        json!({"hours": {"time_zone": "UTC", "weekly": [{"day": "mon", "open": "09:00", "close": "17:00"}]}});
    let (status, _) =
        http.call(reqwest::Method::PUT, &format!("/v1/admin/queues/{}/hours", q["id"]), Some(hours)).await;
    assert_eq!(status, 200);
    let (_, list) = http.get("/v1/admin/queues").await;
    let q = &list["queues"][0];
    assert_eq!(q["open_now"], false);
    assert_eq!(q["opens_at"], 1_767_603_600_000_i64); // Monday 2026-01-05 09:00 UTC
    assert_eq!(q["hours"]["weekly"][0]["day"], "mon");
}
