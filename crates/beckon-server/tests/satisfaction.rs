//! Satisfaction (CSAT): a visitor rates the chat an agent answered once it has ended; agents'
//! views hear of it; admins read the report (average, spread, per agent, comments); nobody rates
//! a chat that is not theirs, still open, or never answered.

use beckon_testkit::*;
use serde_json::json;

#[tokio::test]
async fn visitors_rate_answered_chats_and_admins_read_the_report() {
    let app = spawn_app().await;
    let (mut admin, _) = app.agent().await;
    let mut ratings = Vec::new();
    for (score, comment) in [(5, Some("  Quick and kind  ")), (4, None), (2, Some("Took long"))] {
        let (mut v, _) = app.new_visitor().await;
        let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
        let cid = chat["conversation"]["id"].clone();
        // Still open: nothing to rate yet.
        let early = v.request(json!({"type": "rate", "conversation_id": cid, "score": 5})).await.unwrap();
        assert_eq!(early["code"], "not_ratable", "{early}");
        admin.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
        admin.request(json!({"type": "end", "conversation_id": cid})).await.unwrap();
        let bad = v.request(json!({"type": "rate", "conversation_id": cid, "score": 6})).await.unwrap();
        assert_eq!(
            (bad["code"].as_str(), bad["message"].as_str()),
            (Some("invalid_field"), Some("score: 1 to 5"))
        );
        let ok = v
            .request(json!({"type": "rate", "conversation_id": cid, "score": score, "comment": comment}))
            .await
            .unwrap();
        assert_eq!(ok["type"], "ok", "{ok}");
        ratings.push((v, cid));
    }
    // The agent's console hears of the rating.
    let rated =
        admin.wait_for("rated", |f| f["type"] == "chat" && f["conversation"]["rating"] == 2).await.unwrap();
    assert_eq!(rated["conversation"]["rating_comment"], "Took long");
    // Another visitor cannot rate it (answered like a missing chat).
    let (mut stranger, _) = app.new_visitor().await;
    let theirs =
        stranger.request(json!({"type": "rate", "conversation_id": ratings[0].1, "score": 1})).await.unwrap();
    assert_eq!(theirs["code"], "not_your_conversation");
    // A chat nobody answered cannot be rated.
    let (mut gone, _) = app.new_visitor().await;
    let chat = gone.request(json!({"type": "start_chat"})).await.unwrap();
    gone.request(json!({"type": "close_chat"})).await.unwrap();
    let unanswered = gone
        .request(json!({"type": "rate", "conversation_id": chat["conversation"]["id"], "score": 3}))
        .await
        .unwrap();
    assert_eq!(unanswered["code"], "not_ratable");

    let api = app.admin_http().await;
    let (_, report) = api.get("/v1/admin/analytics/satisfaction?days=30").await;
    assert_eq!(report["rated"], 3);
    assert_eq!(report["average"], 3.67);
    assert_eq!(report["satisfied"], 0.667);
    assert_eq!(report["by_score"], json!([0, 1, 0, 1, 1]));
    assert_eq!(report["agents"][0]["rated"], 3);
    let comments: Vec<&str> =
        report["comments"].as_array().unwrap().iter().map(|c| c["comment"].as_str().unwrap()).collect();
    assert_eq!(comments, ["Took long", "Quick and kind"], "newest first, trimmed, only those with a comment");
    assert_eq!(api.get("/v1/admin/analytics/satisfaction?days=0").await.0, 400);
}
