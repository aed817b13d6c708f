//! Agent accounts against guessing and for revocation: sign-in is throttled per address and per
//! account (429 with `Retry-After`), password hashing is bounded, and a right that ends — sign-out,
//! expiry, a password change, demotion, disabling — reaches open consoles at once.

use beckon_testkit::*;
use serde_json::{Value, json};

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Option<u64>, Value) {
    let res = reqwest::Client::new()
        .post(app.http("/v1/agent/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, res.json().await.unwrap_or(Value::Null))
}

async fn call(app: &TestApp, method: &str, path: &str, cookie: &str, body: Value) -> (u16, Value) {
    let req = match method {
        "POST" => reqwest::Client::new().post(app.http(path)),
        "PATCH" => reqwest::Client::new().patch(app.http(path)),
        _ => reqwest::Client::new().get(app.http(path)),
    };
    let res = req.header("cookie", cookie).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sign_in_attempts_from_one_address_are_limited_and_say_when_to_retry() {
    let app = spawn_app_with(|s| s.limits.sign_ins_per_address_per_minute = 5).await;
    for i in 0..5 {
        let (status, _, _) = login(&app, &format!("nobody{i}@example.com"), "wrong password").await;
        assert_eq!(status, 401);
    }
    let (status, retry, body) = login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_attempts")), "{body}");
    assert_eq!(retry, Some(12), "one attempt every 12 s after the burst");
    assert!(body["error"]["message"].as_str().unwrap().contains("12 s"));
    app.advance(12_000);
    assert_eq!(login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.0, 200);
}

#[tokio::test]
async fn failed_sign_ins_for_one_account_back_off_even_for_the_right_password() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(login(&app, DEMO_AGENT_EMAIL, "not the password").await.0, 401);
    }
    // The fifth failure blocks the account for a second: the right password waits too.
    let (status, retry, body) = login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await;
    assert_eq!((status, retry, body["error"]["code"].as_str()), (429, Some(1), Some("sign_in_blocked")));
    app.advance(1_000);
    assert_eq!(login(&app, DEMO_AGENT_EMAIL.to_uppercase().as_str(), "still wrong").await.0, 401);
    let (status, retry, _) = login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await;
    assert_eq!((status, retry), (429, Some(2)), "the wait doubles");
    app.advance(2_000);
    assert_eq!(login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.0, 200);
    // A success forgets the failures.
    assert_eq!(login(&app, DEMO_AGENT_EMAIL, "wrong again").await.0, 401);
    assert_eq!(login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.0, 200);

    // An email nobody has backs off the same way, so the answers reveal no account.
    for _ in 0..5 {
        assert_eq!(login(&app, "ghost@demo.beckon", "guess").await.0, 401);
    }
    let (status, retry, body) = login(&app, "ghost@demo.beckon", "guess").await;
    assert_eq!((status, retry, body["error"]["code"].as_str()), (429, Some(1), Some("sign_in_blocked")));
}

#[tokio::test]
async fn password_hashing_is_bounded_and_the_overflow_is_told_to_retry() {
    let app =
        spawn_app_with(|s| (s.limits.concurrent_password_hashes, s.limits.password_hash_queue) = (1, 1))
            .await;
    let limits = app.app.as_ref().unwrap().state().limits.clone();
    // Hold the only hashing slot, as a long sign-in would.
    let slot = limits.hashing.enter().await.unwrap();
    let queued = {
        let url = app.http("/v1/agent/login");
        tokio::spawn(async move {
            let body = json!({"email": DEMO_AGENT_EMAIL, "password": DEMO_AGENT_PASSWORD});
            reqwest::Client::new().post(url).json(&body).send().await.unwrap().status().as_u16()
        })
    };
    while limits.hashing.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    let (status, retry, body) = login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await;
    assert_eq!((status, retry, body["error"]["code"].as_str()), (429, Some(1), Some("busy")));
    drop(slot);
    assert_eq!(queued.await.unwrap(), 200, "the queued sign-in goes through once a slot frees");
}

#[tokio::test]
async fn signing_out_closes_the_consoles_of_that_session_at_once() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let other = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (mut console, _) = app.agent_with_cookie(&cookie).await;
    let (mut elsewhere, _) = app.agent_with_cookie(&other).await;
    assert_eq!(call(&app, "POST", "/v1/agent/logout", &cookie, json!({})).await.0, 204);
    assert_eq!(console.close_code().await, Some(4001));
    let pong = elsewhere.request(json!({"type": "ping"})).await.unwrap();
    assert_eq!(pong["type"], "pong", "the agent's other sign-in is untouched");
}

#[tokio::test]
async fn an_expired_session_closes_its_console_at_the_next_check() {
    // The check runs at every ping; a short ping interval keeps the test quick.
    let app = spawn_app_with(|s| {
        s.session_ttl_hours = 1;
        s.ws.ping_interval_secs = 1;
    })
    .await;
    let (mut console, _) = app.agent().await;
    console.request(json!({"type": "ping"})).await.unwrap();
    app.advance(3_600_000);
    assert_eq!(console.close_code().await, Some(4001));
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let app = spawn_app().await;
    let mine = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let stolen = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (mut my_console, _) = app.agent_with_cookie(&mine).await;
    let (mut thief, _) = app.agent_with_cookie(&stolen).await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (status, body) =
        call(&app, "POST", "/v1/agent/password", &mine, change("wrong", "a new password")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    let (status, body) =
        call(&app, "POST", "/v1/agent/password", &mine, change(DEMO_AGENT_PASSWORD, "short")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("new_password: "));
    let (status, _) =
        call(&app, "POST", "/v1/agent/password", &mine, change(DEMO_AGENT_PASSWORD, "a new password")).await;
    assert_eq!(status, 204);
    assert_eq!(thief.close_code().await, Some(4001));
    assert_eq!(call(&app, "GET", "/v1/agent/me", &stolen, Value::Null).await.0, 401);
    assert_eq!(my_console.request(json!({"type": "ping"})).await.unwrap()["type"], "pong");
    assert_eq!(login(&app, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.0, 401);
    assert_eq!(login(&app, DEMO_AGENT_EMAIL, "a new password").await.0, 200);
}

#[tokio::test]
async fn a_demoted_admin_loses_the_admin_pages_and_the_console_reconnects_as_an_agent() {
    let app = spawn_app().await;
    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let new = json!({"email": "boss@demo.beckon", "name": "Boss", "password": "boss password", "role": "admin", "capacity": 2, "queue_ids": []});
    let (status, created) = call(&app, "POST", "/v1/admin/agents", &admin, new).await;
    assert_eq!(status, 201, "{created}");
    let boss_id = created["agent"]["id"].as_i64().unwrap();
    let boss = app.sign_in("boss@demo.beckon", "boss password").await.unwrap();
    let (mut console, welcome) = app.agent_with_cookie(&boss).await;
    assert_eq!(welcome["agent"]["role"], "admin");
    let (status, _) =
        call(&app, "PATCH", &format!("/v1/admin/agents/{boss_id}"), &admin, json!({"role": "agent"})).await;
    assert_eq!(status, 200);
    assert_eq!(console.close_code().await, Some(4002));
    let (_, welcome) = app.agent_with_cookie(&boss).await;
    assert_eq!(welcome["agent"]["role"], "agent");
    assert_eq!(call(&app, "GET", "/v1/admin/agents", &boss, Value::Null).await.0, 403);
}

#[tokio::test]
async fn a_disabled_agent_is_signed_out_everywhere_and_its_chats_go_back_to_the_queue() {
    let app = spawn_app().await;
    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    let (mut visitor, _) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    sam.expect("offer").await.unwrap();
    sam.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    let sam_id = app.get_json("/v1/admin/agents", &admin).await["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "sam@demo.beckon")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let path = format!("/v1/admin/agents/{sam_id}");
    let (status, body) = call(&app, "PATCH", &path, &admin, json!({"disabled": true})).await;
    assert_eq!((status, body["agent"]["disabled"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(sam.close_code().await, Some(4001));
    let (status, _, body) = login(&app, "sam@demo.beckon", "extra-agent-pw").await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("account_disabled")));
    // The visitor is not left with a disabled agent: the chat waits in the queue again, and
    // goes to an agent who can take it.
    visitor
        .wait_for("transferred", |f| f["type"] == "chat" && f["conversation"]["state"] == "transferred")
        .await
        .unwrap();
    let mut alex = app.available_agent().await;
    alex.wait_for("offer", |f| f["type"] == "offer" && f["conversation"]["id"] == cid).await.unwrap();

    // Nobody disables themselves or the last admin; enabling lets the agent back in.
    let me = app.get_json("/v1/agent/me", &admin).await["agent"]["id"].as_i64().unwrap();
    let (status, body) =
        call(&app, "PATCH", &format!("/v1/admin/agents/{me}"), &admin, json!({"disabled": true})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(call(&app, "PATCH", &path, &admin, json!({"disabled": false})).await.0, 200);
    assert_eq!(login(&app, "sam@demo.beckon", "extra-agent-pw").await.0, 200);
}

#[tokio::test]
async fn an_admin_reset_password_ends_the_agents_sessions() {
    let app = spawn_app().await;
    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    let agents = app.get_json("/v1/admin/agents", &admin).await;
    let sam_id =
        agents["agents"].as_array().unwrap().iter().find(|a| a["name"] == "Sam").unwrap()["id"].clone();
    let path = format!("/v1/admin/agents/{sam_id}");
    assert_eq!(call(&app, "PATCH", &path, &admin, json!({"password": "too short"})).await.0, 400);
    assert_eq!(call(&app, "PATCH", &path, &admin, json!({"password": "a fresh password"})).await.0, 200);
    assert_eq!(sam.close_code().await, Some(4001));
    assert_eq!(login(&app, "sam@demo.beckon", "a fresh password").await.0, 200);
}

#[tokio::test]
async fn the_agent_socket_refuses_pages_of_other_sites() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let url = app.ws_url("/v1/agent/ws");
    let evil =
        WsClient::connect_with_headers(&url, &[("cookie", &cookie), ("origin", "https://evil.example")])
            .await;
    let err = format!("{:#}", evil.err().expect("refused"));
    assert!(err.contains("403"), "{err}");
    let own = format!("http://{}", app.addr);
    let mut ok =
        WsClient::connect_with_headers(&url, &[("cookie", &cookie), ("origin", &own)]).await.unwrap();
    assert_eq!(ok.expect("welcome").await.unwrap()["type"], "welcome");
}

#[tokio::test]
async fn the_status_an_agent_chose_is_theirs_again_at_the_next_sign_in() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (mut console, welcome) = app.agent_with_cookie(&cookie).await;
    assert_eq!(welcome["presence"], "offline", "a new account starts offline");
    let busy = console.request(json!({"type": "presence", "status": "busy"})).await.unwrap();
    assert_eq!(busy["status"], "busy");
    // Signs out, the console closes, the grace period passes: offline meanwhile.
    assert_eq!(call(&app, "POST", "/v1/agent/logout", &cookie, json!({})).await.0, 204);
    drop(console);
    app.wait_for_sessions(0).await;
    app.advance(60_000);
    // The next morning, a new sign-in: Busy, as they left it.
    app.advance(12 * 3_600_000);
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (_, me) = call(&app, "GET", "/v1/agent/directory", &cookie, Value::Null).await;
    let alex = me["agents"].as_array().unwrap().iter().find(|a| a["role"] == "admin").unwrap().clone();
    assert_eq!(alex["presence"], "offline", "no console open yet");
    let (_console, welcome) = app.agent_with_cookie(&cookie).await;
    assert_eq!(welcome["presence"], "busy");
}
