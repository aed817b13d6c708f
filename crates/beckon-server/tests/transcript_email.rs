//! A visitor asks for their chat's transcript by email: queued in the store, sent by the mail
//! sweep through a real SMTP server, only for their own chat, a few per chat.

use beckon_testkit::smtp::SmtpSink;
use beckon_testkit::*;
use serde_json::json;

#[tokio::test]
async fn a_visitor_gets_their_transcript_by_email_a_few_times_at_most() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let app = spawn_app_with(move |s| {
        s.mail.smtp_url = Some(url);
        s.mail.from = Some("support@demo.test".into());
    })
    .await;
    let (mut admin, _) = app.agent().await;
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat", "language": "fr"})).await.unwrap();
    let cid = chat["conversation"]["id"].clone();
    v.request(json!({"type": "send", "client_msg_id": "v1", "text": "Bonjour"})).await.unwrap();
    admin.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    admin
        .request(json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "Bonjour !"}))
        .await
        .unwrap();
    admin.request(json!({"type": "end", "conversation_id": cid})).await.unwrap();

    let bad = v
        .request(json!({"type": "email_transcript", "conversation_id": cid, "email": "nope"}))
        .await
        .unwrap();
    assert_eq!(bad["code"], "invalid_email");
    let ok = v
        .request(json!({"type": "email_transcript", "conversation_id": cid, "email": "lea@example.fr", "tz": "Europe/Paris"}))
        .await
        .unwrap();
    assert_eq!(ok["type"], "ok", "{ok}");
    app.advance(5_000);
    let mail = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(mail.to, ["lea@example.fr"]);
    assert!(mail.header("Subject").unwrap().contains("Votre discussion"), "{:?}", mail.header("Subject"));
    let body = mail.body();
    assert!(body.starts_with("Discussion du 2026-01-01 01:00 CET\n"), "{body}");
    assert!(
        body.contains("] Vous: Bonjour\n") && body.contains("] Alex (demo agent): Bonjour !\n"),
        "{body}"
    );
    assert!(body.contains("a rejoint la discussion."), "the server's lines, in French: {body}");

    // A few per chat, then no more.
    for _ in 0..2 {
        let ok = v
            .request(json!({"type": "email_transcript", "conversation_id": cid, "email": "lea@example.fr"}))
            .await
            .unwrap();
        assert_eq!(ok["type"], "ok");
    }
    let capped = v
        .request(json!({"type": "email_transcript", "conversation_id": cid, "email": "x@example.fr"}))
        .await
        .unwrap();
    assert_eq!(capped["code"], "too_many_emails");
    // Not another visitor's chat.
    let (mut other, _) = app.new_visitor().await;
    let theirs = other
        .request(json!({"type": "email_transcript", "conversation_id": cid, "email": "x@example.fr"}))
        .await
        .unwrap();
    assert_eq!(theirs["code"], "not_your_conversation");
    app.advance(5_000);
    assert_eq!(sink.wait_for(3, WAIT).await.len(), 3);
}

#[tokio::test]
async fn without_an_smtp_server_no_transcript_is_promised() {
    let app = spawn_app().await;
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let refused = v
        .request(json!({"type": "email_transcript", "conversation_id": chat["conversation"]["id"], "email": "a@example.com"}))
        .await
        .unwrap();
    assert_eq!(refused["code"], "mail_not_configured");
}
