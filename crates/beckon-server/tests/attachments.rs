//! Files in chats: a visitor and an agent send each other files over HTTP; each becomes a message
//! both sides receive; only the conversation's visitor and the agents who may read it fetch the
//! bytes; files are accepted for what they are (not their names), within size, count and rate
//! limits; and they are served so that nothing uploaded can run.

use beckon_domain::model::Role;
use beckon_testkit::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0@\0";

struct Visitor {
    ws: WsClient,
    token: String,
    cid: i64,
}

async fn visitor_in_chat(app: &TestApp) -> Visitor {
    let (mut ws, welcome) = app.new_visitor().await;
    let chat = ws.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    Visitor { ws, token: welcome["visitor_token"].as_str().unwrap().to_owned(), cid }
}

async fn visitor_upload(
    app: &TestApp,
    token: &str,
    name: &str,
    cid: &str,
    bytes: &[u8],
    origin: Option<&str>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new()
        .post(app.http("/v1/visitor/attachments"))
        .query(&[("name", name), ("client_msg_id", cid)])
        .header("authorization", format!("Bearer {token}"))
        .body(bytes.to_vec());
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

async fn agent_upload(
    app: &TestApp,
    cookie: &str,
    conversation: i64,
    name: &str,
    cid: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(app.http(&format!("/v1/agent/conversations/{conversation}/attachments")))
        .query(&[("name", name), ("client_msg_id", cid)])
        .header("cookie", cookie)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn visitor_and_agent_exchange_files_that_only_they_can_fetch() {
    let app = spawn_app().await;
    let (mut agent, _) = app.agent().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let mut v = visitor_in_chat(&app).await;
    agent.request(json!({"type": "take", "conversation_id": v.cid})).await.unwrap();

    // A PNG named like a program: accepted for what it is, kept under a name that says so.
    let (status, sent, _) = visitor_upload(&app, &v.token, "C:\\fakepath\\photo.exe", "f1", PNG, None).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let m = &sent["message"];
    let file = m["attachment"].clone();
    assert_eq!(file["name"], "photo.exe.png");
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(file["size"], PNG.len());
    assert_eq!(m["text"], "photo.exe.png");
    assert_eq!(m["sender"]["kind"], "visitor");
    let id = file["id"].as_str().unwrap().to_owned();
    // Both sides receive it as a message (the agent live, the visitor on every tab).
    let seen = agent
        .wait_for("the file", |f| f["type"] == "message" && f["message"]["attachment"]["id"] == id.as_str())
        .await
        .unwrap();
    assert_eq!(seen["message"]["seq"], m["seq"]);
    v.ws.wait_for("own file", |f| f["type"] == "message" && f["message"]["attachment"]["id"] == id.as_str())
        .await
        .unwrap();
    // A retry is the same message.
    let (status, again, _) = visitor_upload(&app, &v.token, "photo.exe", "f1", PNG, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["message"]["seq"], m["seq"]);

    // The agent fetches it: its own type, inline (an image), inert.
    let http = reqwest::Client::new();
    let res = http
        .get(app.http(&format!("/v1/agent/attachments/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(h["content-disposition"], "inline; filename*=UTF-8''photo.exe.png");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // The agent answers with a PDF; the visitor receives it and fetches it as a download.
    let (status, sent) = agent_upload(&app, &cookie, v.cid, "Reçu n°1", "a1", PDF).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["message"]["attachment"]["name"], "Reçu n°1.pdf");
    let pdf_id = sent["message"]["attachment"]["id"].as_str().unwrap().to_owned();
    v.ws.wait_for("the agent's file", |f| {
        f["type"] == "message" && f["message"]["attachment"]["id"] == pdf_id.as_str()
    })
    .await
    .unwrap();
    let res = http
        .get(app.http(&format!("/v1/visitor/attachments/{pdf_id}")))
        .header("authorization", format!("Bearer {}", v.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["content-disposition"], "attachment; filename*=UTF-8''Re%C3%A7u%20n%C2%B01.pdf");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);

    // Nobody else: another visitor, no token, a made-up token, another organisation's admin.
    let stranger = visitor_in_chat(&app).await.token;
    for (auth, want) in
        [(Some(format!("Bearer {stranger}")), 404), (None, 401), (Some("Bearer not-a-token".to_owned()), 401)]
    {
        let mut req = http.get(app.http(&format!("/v1/visitor/attachments/{id}")));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        assert_eq!(req.send().await.unwrap().status(), want);
    }
    let other = app.other_org("Other", Role::Admin).await;
    let theirs = http
        .get(app.http(&format!("/v1/agent/attachments/{id}")))
        .header("cookie", &other.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404);
    let (status, body) = agent_upload(&app, &other.cookie, v.cid, "x.pdf", "o1", PDF).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    for bad in ["../../etc/passwd", "0123", "0123456789ABCDEF0123456789ABCDEF"] {
        let res = http
            .get(app.http(&format!("/v1/agent/attachments/{bad}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{bad}");
    }

    // The transcript names the files.
    let text = http
        .get(app.http(&format!("/v1/agent/conversations/{}/transcript", v.cid)))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(&format!(": \u{1f4ce} photo.exe.png ({} bytes)", PNG.len())), "{text}");
    assert!(text.contains(": \u{1f4ce} Reçu n°1.pdf ("), "{text}");

    // After the chat ends, the visitor still reads its files, but sends no more.
    agent.request(json!({"type": "end", "conversation_id": v.cid})).await.unwrap();
    let (status, body, _) = visitor_upload(&app, &v.token, "late.png", "f9", PNG, None).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "no_open_conversation"));
    let (status, body) = agent_upload(&app, &cookie, v.cid, "late.pdf", "a9", PDF).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "conversation_closed"));
    let res = http
        .get(app.http(&format!("/v1/visitor/attachments/{pdf_id}")))
        .header("authorization", format!("Bearer {}", v.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn files_are_judged_by_content_and_bounded() {
    let app = spawn_app_with(|s| {
        s.limits.attachment_max_bytes = 64 * 1024;
        s.limits.attachments_per_conversation = 3;
        s.limits.attachments_per_visitor_per_minute = 1_000;
    })
    .await;
    let v = visitor_in_chat(&app).await;
    let t = &v.token;
    // A program named like a picture, an archive, HTML: refused, nothing sent.
    for (name, bytes) in [
        ("cat.png", EXE),
        ("notes.zip", &b"PK\x03\x04\x14\0\0\0\x08\0"[..]),
        ("page.txt", b"<!doctype html><script>alert(1)</script>"),
    ] {
        let (status, body, _) = visitor_upload(&app, t, name, "x", bytes, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type"),
            "{name}"
        );
    }
    let (status, body, _) = visitor_upload(&app, t, "empty.txt", "x", b"", None).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "empty_file"));
    let big = [PNG, &vec![0u8; 64 * 1024][..]].concat();
    let (status, body, _) = visitor_upload(&app, t, "big.png", "x", &big, None).await;
    assert_eq!((status, code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"));
    assert!(body["error"]["message"].as_str().unwrap().contains("64 KB"), "{body}");
    let (status, body, _) = visitor_upload(&app, t, "a.txt", "bad id", b"hello", None).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_field"));

    // Plain text is taken; the third file is the last one this chat takes from the visitor.
    for i in 0..3 {
        let (status, body, _) =
            visitor_upload(&app, t, "order.csv", &format!("ok{i}"), b"sku,qty\nA1,2\n", None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["message"]["attachment"]["content_type"], "text/plain; charset=utf-8");
    }
    let (status, body, _) = visitor_upload(&app, t, "more.csv", "ok3", b"sku\n", None).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "too_many_files"));
}

/// A phone photo is several megabytes: the default limit (10 MiB) takes it whole, beyond any
/// framework default, and one byte over the limit is refused.
#[tokio::test]
async fn files_up_to_the_default_limit_are_taken_whole() {
    let app = spawn_app().await;
    let v = visitor_in_chat(&app).await;
    let max = beckon_server::config::LimitSettings::default().attachment_max_bytes;
    let photo = [PNG, &vec![7u8; max - PNG.len()][..]].concat();
    let (status, body, _) = visitor_upload(&app, &v.token, "photo.png", "big1", &photo, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"]["attachment"]["size"], max);
    let id = body["message"]["attachment"]["id"].as_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .get(app.http(&format!("/v1/visitor/attachments/{id}")))
        .header("authorization", format!("Bearer {}", v.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().len(), max);
    let over = [&photo[..], b"!"].concat();
    let (status, body, _) = visitor_upload(&app, &v.token, "photo.png", "big2", &over, None).await;
    assert_eq!((status, code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"));
}

#[tokio::test]
async fn a_visitor_uploading_fast_is_slowed_down_and_recovers_with_time() {
    let app = spawn_app_with(|s| s.limits.attachments_per_visitor_per_minute = 3).await;
    let v = visitor_in_chat(&app).await;
    let (status, _, _) = visitor_upload(&app, &v.token, "a.txt", "r1", b"one", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body, headers) = visitor_upload(&app, &v.token, "b.txt", "r2", b"two", None).await;
    assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(headers["retry-after"], "20");
    app.advance(20_000);
    let (status, _, _) = visitor_upload(&app, &v.token, "b.txt", "r2", b"two", None).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn pages_of_other_sites_cannot_use_a_visitors_token() {
    let app = spawn_app().await;
    let admin = app.admin_http().await;
    let (_, list) = admin.get("/v1/admin/widgets").await;
    let id = list["widgets"][0]["id"].clone();
    let (status, _) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/admin/widgets/{id}"),
            Some(json!({"allowed_origins": ["https://shop.example"]})),
        )
        .await;
    assert_eq!(status, 200);
    let (mut ws, welcome) = {
        let mut ws = WsClient::connect_with_origin(&app.ws_url("/v1/visitor/ws"), "https://shop.example")
            .await
            .unwrap();
        let welcome = ws.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.unwrap();
        (ws, welcome)
    };
    ws.request(json!({"type": "start_chat"})).await.unwrap();
    let token = welcome["visitor_token"].as_str().unwrap();

    let (status, body, headers) =
        visitor_upload(&app, token, "a.txt", "o1", b"hi", Some("https://evil.example")).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "origin_not_allowed"));
    assert_eq!(headers["access-control-allow-origin"], "https://evil.example", "the page may read why");
    let (status, body, headers) =
        visitor_upload(&app, token, "a.txt", "o2", b"hi", Some("https://shop.example")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["access-control-allow-origin"], "https://shop.example");
    assert_eq!(headers["vary"], "Origin");

    // The browser's preflight before such an upload.
    let res = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.http("/v1/visitor/attachments"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://shop.example");
    assert!(res.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));

    // An agent's session cookie does not upload from another site's page.
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let res = reqwest::Client::new()
        .post(app.http(&format!(
            "/v1/agent/conversations/{}/attachments?name=a.txt&client_msg_id=c1",
            body["message"]["conversation_id"]
        )))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
