//! Languages: what the server says in a chat follows the language the visitor's widget speaks
//! (recorded when the chat starts); admins' texts per language are checked like the texts
//! themselves.

use beckon_testkit::*;
use serde_json::{Value, json};

fn said(f: &Value, tag: &str) -> bool {
    f["type"] == "message" && f["message"]["tags"][0] == tag
}

#[tokio::test]
async fn the_servers_lines_are_in_the_widgets_language() {
    let app = spawn_app().await;
    let (mut lea, _) = app.new_visitor().await;
    let chat = lea.request(json!({"type": "start_chat", "language": "fr"})).await.unwrap();
    assert!(chat["conversation"]["id"].is_i64());
    let m = lea.wait_for("place in line", |f| said(f, "queueposition")).await.unwrap();
    assert_eq!(
        m["message"]["text"],
        "Aucun conseiller n\u{2019}est disponible pour le moment. Vous \u{ea}tes le prochain : un conseiller vous rejoindra d\u{e8}s que possible."
    );
    // A language Beckon does not speak, or none: English.
    let (mut hans, _) = app.new_visitor().await;
    hans.request(json!({"type": "start_chat", "language": "de"})).await.unwrap();
    let m = hans.wait_for("place in line", |f| said(f, "queueposition")).await.unwrap();
    assert_eq!(m["message"]["text"], "No agent is available right now. You are number 2 in line.");

    let (mut admin, _) = app.agent().await;
    admin.request(json!({"type": "take", "conversation_id": chat["conversation"]["id"]})).await.unwrap();
    let m = lea.wait_for("joined", |f| said(f, "agentaccepted")).await.unwrap();
    assert!(m["message"]["text"].as_str().unwrap().ends_with(" a rejoint la discussion."), "{m}");
    lea.request(json!({"type": "close_chat"})).await.unwrap();
    let m = admin.wait_for("ended", |f| said(f, "conversationended")).await.unwrap();
    assert_eq!(m["message"]["text"], "Le visiteur a mis fin \u{e0} la discussion.");
}

#[tokio::test]
async fn widget_texts_per_language_are_checked_and_kept() {
    let app = spawn_app().await;
    let api = app.admin_http().await;
    let (_, list) = api.get("/v1/admin/widgets").await;
    let w = &list["widgets"][0];
    assert_eq!((w["language"].as_str(), w["translations"].clone()), (Some("auto"), json!({})));
    let question = w["prechat"][1].clone();
    let path = format!("/v1/admin/widgets/{}", w["id"]);
    let patch = |body: Value| api.call(reqwest::Method::PATCH, &path, Some(body));
    for (body, message) in [
        (json!({"language": "de"}), "language: auto or one of en, fr"),
        (
            json!({"translations": {"de": {"title": "Hallo"}}}),
            "translations: \"de\" is not a language the widget speaks (en, fr)",
        ),
        (
            json!({"translations": {"fr": {"title": "x".repeat(101)}}}),
            "translations.fr.title: 1–100 characters",
        ),
        (
            json!({"translations": {"fr": {"prechat": {question["id"].as_str().unwrap(): {"label": "Sujet", "choices": ["un"]}}}}}),
            "translations.fr.prechat.topic.choices: 3 choices, as in the question",
        ),
    ] {
        let (status, e) = patch(body).await;
        assert_eq!(status, 400);
        assert_eq!(e["error"]["message"], message);
    }
    let (status, saved) = patch(json!({
        "language": "fr",
        "translations": {"fr": {"title": " Discutons ", "greeting": "", "prechat": {question["id"].as_str().unwrap(): {"label": "Sujet"}}}, "en": {}}
    }))
    .await;
    assert_eq!(status, 200);
    assert_eq!(saved["widget"]["language"], "fr");
    assert_eq!(
        saved["widget"]["translations"],
        json!({"fr": {"title": "Discutons", "prechat": {question["id"].as_str().unwrap(): {"label": "Sujet"}}}}),
        "trimmed; empty texts and languages dropped"
    );
    // The widget hears of them in its welcome.
    let (_, welcome) = app.new_visitor().await;
    assert_eq!(welcome["widget"]["language"], "fr");
    assert_eq!(welcome["widget"]["translations"]["fr"]["title"], "Discutons");
}
