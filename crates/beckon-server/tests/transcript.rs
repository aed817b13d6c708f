//! A conversation's transcript as a text file: for the agents who may read the conversation
//! only, with the invite, the pre-chat answers in the survey's order, the rating and every
//! message (notes marked), times in the asked time zone.

use beckon_domain::model::Role;
use beckon_testkit::*;
use serde_json::json;

#[tokio::test]
async fn agents_download_the_transcript_of_a_conversation_they_may_read() {
    let app = spawn_app().await;
    let (mut admin, _) = app.agent().await;
    let (mut v, _) = app.new_visitor().await;
    let chat = v
        .request(json!({
            "type": "start_chat",
            "prechat": {"I agree that this chat is recorded": true, "Your name": "Amy", "What is your question about?": "Products"},
            "context": {"Plan": "pro"}
        }))
        .await
        .unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    v.request(json!({"type": "send", "client_msg_id": "v1", "text": "Is the lamp\nin blue?"})).await.unwrap();
    admin.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    admin
        .request(json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "Yes it is."}))
        .await
        .unwrap();
    admin.request(json!({"type": "end", "conversation_id": cid})).await.unwrap();
    v.request(json!({"type": "rate", "conversation_id": cid, "score": 5, "comment": "Great"})).await.unwrap();

    let http = reqwest::Client::new();
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let url = app.http(&format!("/v1/agent/conversations/{cid}/transcript?tz=Europe/Paris"));
    let res = http.get(&url).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"conversation-{cid}.txt\"")
    );
    let text = res.text().await.unwrap();
    assert!(text.starts_with(&format!("Conversation #{cid}\nVisitor: Amy (visitor ")), "{text}");
    assert!(text.contains("Rating: 5 out of 5 — \u{201c}Great\u{201d}"), "{text}");
    // The survey's order (name, topic, consent), then the page's variables.
    let answers = text.split("Pre-chat answers and details\n").nth(1).unwrap();
    assert!(
        answers.starts_with(
            "  Your name: Amy\n  What is your question about?: Products\n  I agree that this chat is recorded: true\n"
        ),
        "{text}"
    );
    // The test clock starts on 2026-01-01 00:00 UTC: 01:00 in Paris.
    assert!(text.contains("[2026-01-01 01:00:00 CET] Amy: Is the lamp\n    in blue?"), "{text}");
    assert!(text.contains("] Alex (demo agent): Yes it is."), "{text}");
    assert!(text.contains("] \u{2014} Alex (demo agent) ended the chat."), "{text}");

    let bad = http
        .get(app.http(&format!("/v1/agent/conversations/{cid}/transcript?tz=Mars/Olympus")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // Another organisation's admin: as if it did not exist.
    let other = app.other_org("Other", Role::Admin).await;
    let theirs = http.get(&url).header("cookie", &other.cookie).send().await.unwrap();
    assert_eq!(theirs.status(), 404);
}
