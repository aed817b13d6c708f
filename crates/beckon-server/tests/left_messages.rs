//! Messages left for an answer by email: when nobody can chat (out of hours, or a visitor who
//! would rather not wait), the visitor leaves name, email and message; agents take it from the
//! waiting list and answer; the answer reaches the visitor through a real SMTP server.

use beckon_domain::WidgetKey;
use beckon_domain::hours::OperatingHours;
use beckon_testkit::smtp::SmtpSink;
use beckon_testkit::*;
use serde_json::{Value, json};
use std::time::Duration;

/// The sweeper looks at stored deadlines at least this often (sweeper.rs `POLL_MS`).
const SWEEP_POLL_MS: i64 = 5_000;

async fn app_mailing_to(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |s| {
        s.mail.smtp_url = Some(url);
        s.mail.from = Some("Demo Support <support@demo.test>".into());
    })
    .await
}

/// Closes the demo queue (weekdays 09:00–17:00 UTC; the test clock starts on a Thursday at
/// 00:00). The hours API itself is tested in routing.rs.
async fn close_the_queue(app: &TestApp) {
    let state = app.app.as_ref().unwrap().state();
    let widget =
        state.store.widget_by_key(&WidgetKey::parse(DEMO_WIDGET_KEY).unwrap()).await.unwrap().unwrap();
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "open": "09:00", "close": "17:00"}))
        .collect();
    let hours: OperatingHours =
        serde_json::from_value(json!({"time_zone": "UTC", "weekly": weekly})).unwrap();
    state.store.set_queue_hours(widget.default_queue_id.unwrap(), Some(&hours)).await.unwrap();
}

#[tokio::test]
async fn out_of_hours_a_left_message_is_taken_answered_and_the_answer_mailed() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink).await;
    close_the_queue(&app).await;
    let mut alex = app.available_agent().await;

    let (mut v, welcome) = app.new_visitor().await;
    assert_eq!((welcome["queue"]["open"].as_bool(), welcome["mail"].as_bool()), (Some(false), Some(true)));
    // A malformed address is refused, and nothing is created.
    let bad = v
        .request(json!({"type": "leave_message", "email": "lea at example", "text": "Hi", "client_msg_id": "lm-0"}))
        .await
        .unwrap();
    assert_eq!(bad["code"], "invalid_email", "{bad}");
    let left = v
        .request(json!({
            "type": "leave_message", "name": "Léa", "email": " lea@example.fr ", "client_msg_id": "lm-1",
            "text": "Do you ship to Lyon?", "prechat": {"Order number": "A-17"}
        }))
        .await
        .unwrap();
    assert_eq!(left["type"], "chat", "{left}");
    let c = &left["conversation"];
    let cid = c["id"].as_i64().unwrap();
    assert_eq!(c["reply_email"], "lea@example.fr");
    assert_eq!(c["state"], "queued");
    assert_eq!(c["context"]["Name"]["value"], "Léa", "the name, for agents and search");
    assert_eq!(c["context"]["Order number"]["value"], "A-17", "pre-chat answers are kept");
    v.expect_message("Do you ship to Lyon?").await.unwrap();
    // A retry (the reply was lost) stores nothing twice.
    let again = v
        .request(json!({"type": "leave_message", "email": "lea@example.fr", "text": "Do you ship to Lyon?", "client_msg_id": "lm-1"}))
        .await
        .unwrap();
    assert_eq!(
        (again["conversation"]["id"].as_i64(), again["conversation"]["last_seq"].as_i64()),
        (Some(cid), Some(1))
    );

    // Agents see it waiting, marked as answered by email; nobody is offered it, not even
    // Alex, who is available.
    let listed =
        alex.wait_for("waiting", |f| f["type"] == "waiting" && f["conversation"]["id"] == cid).await.unwrap();
    assert_eq!(listed["conversation"]["reply_email"], "lea@example.fr");
    alex.request(json!({"type": "ping"})).await.unwrap();
    assert!(alex.take_pending().iter().all(|f| f["type"] != "offer"), "a left message is never offered");

    // Alex takes it and answers twice; an internal note is not mailed.
    let taken = alex.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    assert_eq!(taken["conversation"]["state"], "active", "{taken}");
    for (id, text) in [("a1", "Yes, we ship to Lyon."), ("a2", "It takes two days.")] {
        let ack = alex
            .request(json!({"type": "send", "conversation_id": cid, "client_msg_id": id, "text": text}))
            .await
            .unwrap();
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    app.advance(SWEEP_POLL_MS);
    let mails = sink.wait_for(1, WAIT).await;
    let mail = &mails[0];
    assert_eq!(mail.to, ["lea@example.fr"]);
    assert_eq!(mail.header("From").as_deref(), Some("\"Demo Support\" <support@demo.test>"));
    assert_eq!(mail.header("Subject").as_deref(), Some("Re: your message"));
    let body = mail.body();
    assert!(
        body.contains("Yes, we ship to Lyon.\n\nIt takes two days.")
            && body.contains("> Do you ship to Lyon?"),
        "both answers in one email, the question quoted: {body}"
    );

    // A later answer is mailed on its own; nothing is mailed twice.
    alex.request(
        json!({"type": "send", "conversation_id": cid, "client_msg_id": "a3", "text": "Anything else?"}),
    )
    .await
    .unwrap();
    app.advance(SWEEP_POLL_MS);
    let mails = sink.wait_for(2, WAIT).await;
    assert!(mails[1].body().starts_with(&format!("{} wrote:\n\nAnything else?\n", alex_name(&taken))));
    assert!(!mails[1].body().contains("two days"));
    app.advance(10 * SWEEP_POLL_MS);
    alex.request(json!({"type": "ping"})).await.unwrap();
    assert_eq!(sink.mails().len(), 2);
}

fn alex_name(chat: &Value) -> String {
    chat["conversation"]["agent"]["name"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_waiting_visitor_leaves_an_email_instead_and_leaves_the_line() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink).await;
    let (mut first, _) = app.new_visitor().await;
    let chat = first.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    first
        .request(json!({"type": "send", "client_msg_id": "v1", "text": "Is the blue one in stock?"}))
        .await
        .unwrap();
    let (mut second, _) = app.new_visitor().await;
    second.request(json!({"type": "start_chat"})).await.unwrap();
    second
        .wait_for("2nd", |f| {
            f["type"] == "message" && f["message"]["text"].as_str().is_some_and(|t| t.contains("number 2"))
        })
        .await
        .unwrap();

    // The first visitor gives an email instead of waiting: same conversation, their words kept.
    let left = first
        .request(json!({"type": "leave_message", "email": "max@example.de", "client_msg_id": "lm-1"}))
        .await
        .unwrap();
    assert_eq!(
        (left["conversation"]["id"].as_i64(), left["conversation"]["reply_email"].as_str()),
        (Some(cid), Some("max@example.de"))
    );
    // The second moves up.
    second
        .wait_for("next", |f| {
            f["type"] == "message"
                && f["message"]["text"].as_str().is_some_and(|t| t.contains("next in line"))
        })
        .await
        .unwrap();

    // An agent who becomes available is offered the live chat, not the left message.
    let mut alex = app.available_agent().await;
    let offer = alex.expect("offer").await.unwrap();
    assert_ne!(offer["conversation"]["id"].as_i64(), Some(cid));
    let (mut admin, welcome) = app.agent().await;
    let waiting: Vec<&Value> =
        welcome["waiting"].as_array().unwrap().iter().filter(|c| c["id"] == cid).collect();
    assert_eq!(waiting[0]["reply_email"], "max@example.de");
    admin.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    admin
        .request(
            json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "Yes, 3 left."}),
        )
        .await
        .unwrap();
    app.advance(SWEEP_POLL_MS);
    let mail = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(mail.to, ["max@example.de"]);
    assert!(mail.body().contains("Yes, 3 left.") && mail.body().contains("> Is the blue one in stock?"));
    // The visitor, still here, reads the answer live too.
    first.expect_message("Yes, 3 left.").await.unwrap();

    // Once an agent has the chat, there is nothing to leave: they write in the chat.
    let (mut third, _) = app.new_visitor().await;
    third.request(json!({"type": "start_chat"})).await.unwrap();
    let offer = alex.expect("offer").await.unwrap();
    alex.request(json!({"type": "accept", "conversation_id": offer["conversation"]["id"]})).await.unwrap();
    let refused = third
        .request(json!({"type": "leave_message", "email": "z@example.com", "client_msg_id": "lm-3"}))
        .await
        .unwrap();
    assert_eq!(refused["code"], "chat_open");
}

#[tokio::test]
async fn an_address_the_mail_server_refuses_is_given_up_and_the_agent_reads_why() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink).await;
    let (mut v, _) = app.new_visitor().await;
    let left = v
        .request(json!({"type": "leave_message", "email": "refused@example.com", "text": "Hello", "client_msg_id": "lm-1"}))
        .await
        .unwrap();
    let cid = left["conversation"]["id"].as_i64().unwrap();
    let (mut admin, _) = app.agent().await;
    admin.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    admin
        .request(json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "Hi there"}))
        .await
        .unwrap();
    app.advance(SWEEP_POLL_MS);
    let note = admin
        .wait_for("note", |f| f["type"] == "message" && f["message"]["tags"][1] == "mailfailed")
        .await
        .unwrap();
    assert!(
        note["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("The answer could not be emailed to refused@example.com")
    );
    // Given up: not tried again, and the visitor never reads the note.
    app.advance(20 * SWEEP_POLL_MS);
    admin.request(json!({"type": "ping"})).await.unwrap();
    assert!(sink.mails().is_empty());
    v.expect_message("Hi there").await.unwrap();
    v.request(json!({"type": "ping"})).await.unwrap();
    assert!(v.take_pending().iter().all(|f| f["message"]["tags"][1] != "mailfailed"));
}

#[tokio::test]
async fn without_an_smtp_server_messages_are_still_left_and_answered_in_the_widget() {
    let app = spawn_app().await;
    let (mut v, welcome) = app.new_visitor().await;
    assert_eq!(welcome["mail"], false);
    let left = v
        .request(json!({"type": "leave_message", "email": "lea@example.fr", "text": "Hello", "client_msg_id": "lm-1"}))
        .await
        .unwrap();
    let cid = left["conversation"]["id"].as_i64().unwrap();
    // Coming back later, the visitor finds the conversation and its answer.
    let (mut admin, _) = app.agent().await;
    admin.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    admin
        .request(json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "Hi Léa"}))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), v.expect_message("Hi Léa")).await.unwrap().unwrap();
}

#[tokio::test]
async fn after_the_wait_the_admin_set_a_visitor_without_an_agent_is_offered_to_leave_a_message() {
    let app = spawn_app().await;
    let api = app.admin_http().await;
    let (_, queues) = api.get("/v1/admin/queues").await;
    let general = queues["queues"][0]["id"].clone();
    assert_eq!(queues["queues"][0]["leave_message_after_secs"], Value::Null, "never, by default");
    let path = format!("/v1/admin/queues/{general}/leave-message-after");
    let set = |secs: Value| {
        api.call(reqwest::Method::PUT, &path, Some(json!({ "leave_message_after_secs": secs })))
    };
    let (status, bad) = set(json!(5)).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (reqwest::StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    assert_eq!(set(json!(120)).await.0, 200);

    let offered = |f: &Value| f["type"] == "message" && f["message"]["tags"][0] == "leavemessage";
    let (mut waiting, _) = app.new_visitor().await;
    waiting.request(json!({"type": "start_chat"})).await.unwrap();
    let (mut answered, _) = app.new_visitor().await;
    let chat = answered.request(json!({"type": "start_chat"})).await.unwrap();
    // One is taken before the deadline: nothing to offer there.
    let (mut admin, _) = app.agent().await;
    let taken =
        admin.request(json!({"type": "take", "conversation_id": chat["conversation"]["id"]})).await.unwrap();
    assert_eq!(taken["conversation"]["state"], "active");
    app.advance(119_000);
    waiting.request(json!({"type": "ping"})).await.unwrap();
    assert!(waiting.take_pending().iter().all(|f| !offered(f)), "not before its time");
    app.advance(1_000);
    let m = waiting.wait_for("offer to leave a message", offered).await.unwrap();
    assert_eq!(
        m["message"]["text"],
        "No agent is free yet. You can keep waiting, or leave your email and we\u{2019}ll answer you there."
    );
    answered.request(json!({"type": "ping"})).await.unwrap();
    assert!(answered.take_pending().iter().all(|f| !offered(f)), "an agent has that chat");
    // Said once: later sweeps do not repeat it.
    app.advance(600_000);
    waiting.request(json!({"type": "ping"})).await.unwrap();
    assert!(waiting.take_pending().iter().all(|f| !offered(f)));
}
