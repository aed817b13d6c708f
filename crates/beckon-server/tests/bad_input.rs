//! Bad input gets a clear error and costs nothing already accepted: malformed frames, unknown
//! widgets, foreign origins and tokens, oversize and non-UTF-8 frames, invalid context, and
//! messages to conversations that are not the sender's.

use beckon_domain::WidgetKey;
use beckon_domain::model::WidgetSettings;
use beckon_store::NewWidget;
use beckon_testkit::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn still_alive(c: &mut WsClient) {
    let pong = c.request(json!({"type": "ping"})).await.unwrap();
    assert_eq!(pong["type"], "pong", "the connection survives");
}

fn is_error(f: &Value, code: &str) -> bool {
    f["type"] == "error" && f["code"] == code && f["message"].as_str().is_some_and(|m| !m.is_empty())
}

async fn add_widget(app: &TestApp, key: &str, origins: &[&str]) {
    let state = app.app.as_ref().unwrap().state();
    let demo = state.store.widget_by_key(&WidgetKey::parse(DEMO_WIDGET_KEY).unwrap()).await.unwrap().unwrap();
    state
        .store
        .create_widget(
            NewWidget {
                org_id: demo.org_id,
                key: WidgetKey::parse(key).unwrap(),
                name: key.into(),
                allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
                default_queue_id: demo.default_queue_id,
                settings: WidgetSettings::default(),
                auth: None,
            },
            state.clock.now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn malformed_frames_get_bad_frame_and_the_connection_survives() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    for raw in [
        "not json",
        "[1,2,3]",
        r#"{"no_type": 1}"#,
        r#"{"type": "launch_rockets", "rid": "x"}"#,
        r#"{"type": "hello", "widget_id": 7}"#,
    ] {
        v.send_raw(raw.into()).await.unwrap();
        let f = v.next_frame().await.unwrap().unwrap();
        assert!(is_error(&f, "bad_frame"), "{raw} → {f}");
    }
    v.send_raw(tokio_tungstenite::tungstenite::Message::Binary(vec![0xff, 0x00, 0xfe].into())).await.unwrap();
    assert!(is_error(&v.next_frame().await.unwrap().unwrap(), "binary_not_supported"));
    let early = v.request(json!({"type": "send", "client_msg_id": "x", "text": "hi"})).await.unwrap();
    assert!(is_error(&early, "hello_required"));
    still_alive(&mut v).await;
    // After all that, a proper hello still works.
    let w = v.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.unwrap();
    assert_eq!(w["type"], "welcome");
    let twice = v.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.unwrap();
    assert!(is_error(&twice, "already_hello"));
}

#[tokio::test]
async fn unknown_widgets_foreign_origins_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    add_widget(&app, "shop-widget", &["https://shop.example"]).await;
    let mut v = app.visitor().await;
    for id in ["no-such-widget", "<script>", ""] {
        let f = v.hello(json!({"widget_id": id})).await.unwrap();
        assert!(is_error(&f, "unknown_widget"), "{f}");
    }
    still_alive(&mut v).await;

    // The shop's widget on the shop's page works; on another site's page it does not.
    let url = app.ws_url("/v1/visitor/ws");
    let mut ok = WsClient::connect_with_origin(&url, "https://shop.example").await.unwrap();
    let shop_welcome = ok.hello(json!({"widget_id": "shop-widget"})).await.unwrap();
    assert_eq!(shop_welcome["type"], "welcome");
    let mut evil = WsClient::connect_with_origin(&url, "https://evil.example").await.unwrap();
    let f = evil.hello(json!({"widget_id": "shop-widget"})).await.unwrap();
    assert!(is_error(&f, "origin_not_allowed"));
    assert!(evil.closed().await, "a foreign origin is disconnected");

    // A token issued for the shop's widget is not accepted by the demo widget…
    let shop_token = shop_welcome["visitor_token"].as_str().unwrap();
    let mut v = app.visitor().await;
    let f = v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": shop_token})).await.unwrap();
    assert!(is_error(&f, "token_widget_mismatch"));
    // …and the client may carry on as a new visitor.
    let w = v.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.unwrap();
    assert_eq!(w["type"], "welcome");
    assert_ne!(w["visitor_id"], shop_welcome["visitor_id"]);
}

#[tokio::test]
async fn invalid_messages_and_context_are_rejected_without_side_effects() {
    let app = spawn_app().await;
    let (mut v, _) = app.new_visitor().await;
    let no_chat = v.request(json!({"type": "send", "client_msg_id": "c1", "text": "hi"})).await.unwrap();
    assert!(is_error(&no_chat, "no_open_conversation"));

    let too_many: serde_json::Map<String, Value> = (0..101).map(|i| (format!("v{i}"), json!("x"))).collect();
    for (context, needle) in [
        (Value::Object(too_many), "101 variables"),
        (json!({"Case Id": {"value": "x".repeat(4001), "isDisplayable": true}}), "Case Id"),
        (json!({"Nested": {"value": {"a": 1}}}), "Nested"),
        (json!("a string"), "object"),
    ] {
        let f = v.request(json!({"type": "start_chat", "context": context})).await.unwrap();
        assert!(is_error(&f, "invalid_context"), "{f}");
        assert!(f["message"].as_str().unwrap().contains(needle), "{f}");
    }
    // No conversation was created by any of those.
    let f = v.request(json!({"type": "close_chat"})).await.unwrap();
    assert!(is_error(&f, "no_open_conversation"));

    let chat = v.request(json!({"type": "start_chat", "context": {"Case Id": "C-42"}})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    // Nobody is available, so the chat waits; the visitor is told their place in line (seq 1).
    let ok = v.request(json!({"type": "send", "client_msg_id": "c1", "text": "first"})).await.unwrap();
    assert_eq!(ok["seq"], 2);
    for (frame, code) in [
        (json!({"type": "send", "client_msg_id": "c2", "text": "x".repeat(10_001)}), "invalid_message"),
        (json!({"type": "send", "client_msg_id": "c2", "text": "   "}), "invalid_message"),
        (json!({"type": "send", "client_msg_id": "has space", "text": "x"}), "invalid_message"),
        (
            json!({"type": "send", "client_msg_id": "c2", "text": "x", "conversation_id": cid + 1000}),
            "not_your_conversation",
        ),
        (json!({"type": "page_view", "url": "x".repeat(3000)}), "invalid_field"),
        (
            json!({"type": "invite", "invite_id": "i1", "source": "rule:1", "outcome": "shown", "message": "x"}),
            "invalid_field",
        ),
    ] {
        let f = v.request(frame.clone()).await.unwrap();
        assert!(is_error(&f, code), "{frame} → {f}");
    }
    // A message of exactly the limit is fine, and nothing rejected was stored.
    let ok =
        v.request(json!({"type": "send", "client_msg_id": "c3", "text": "é".repeat(10_000)})).await.unwrap();
    assert_eq!(ok["seq"], 3, "rejected sends used up no sequence number");
}

#[tokio::test]
async fn agents_cannot_touch_conversations_that_are_not_theirs() {
    let app = spawn_app().await;
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    // The agent is offline, so nothing was offered to them.
    let (mut agent, _) = app.agent().await;
    for frame in [
        json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "hi"}),
        json!({"type": "send", "conversation_id": 9999, "client_msg_id": "a1", "text": "hi"}),
        json!({"type": "typing", "conversation_id": cid, "typing": true}),
        json!({"type": "end", "conversation_id": cid}),
    ] {
        let f = agent.request(frame.clone()).await.unwrap();
        assert!(is_error(&f, "not_your_conversation"), "{frame} → {f}");
    }
    let f = agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    assert!(is_error(&f, "offer_gone"));
    let f = agent.request(json!({"type": "presence", "status": "sleeping"})).await.unwrap();
    assert!(is_error(&f, "invalid_field"));
    still_alive(&mut agent).await;
    // The conversation is untouched: still queued, with only the place-in-line notice.
    let again = v.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(
        (again["conversation"]["state"].as_str(), again["conversation"]["last_seq"].as_i64()),
        (Some("queued"), Some(1))
    );
}

#[tokio::test]
async fn an_oversize_frame_closes_only_that_connection() {
    let app = spawn_app_with(|s| s.ws.max_frame_bytes = 64 * 1024).await;
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(chat["type"], "chat");
    let huge = json!({"type": "send", "client_msg_id": "big", "text": "x".repeat(100 * 1024)});
    let _ = v.send(huge).await;
    assert_eq!(v.close_code().await, Some(1009), "a frame over the limit closes the connection with 1009");
    // Others are unaffected, and so is what was stored.
    let (mut other, _) = app.new_visitor().await;
    still_alive(&mut other).await;
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_only_that_connection() {
    let app = spawn_app().await;
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let handshake = format!(
        "GET /v1/visitor/ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        app.addr
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));
    // FIN + text opcode, masked (with a zero mask), payload 0xff 0xfe: not UTF-8.
    tcp.write_all(&[0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe]).await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server closes the connection");
    // Its last frame: a close (0x88), unmasked, whose code is 1007 (invalid frame payload data).
    let close = rest.windows(4).rposition(|w| w[0] == 0x88 && w[1] & 0x80 == 0 && w[1] >= 2);
    let close = close.map(|i| u16::from_be_bytes([rest[i + 2], rest[i + 3]]));
    assert_eq!(close, Some(1007), "{rest:?}");
    let (mut other, _) = app.new_visitor().await;
    still_alive(&mut other).await;
}
