//! Canned replies over the agent API: shared ones (admins write, everyone uses), personal ones
//! (only their owner sees them), one shortcut per owner, bounded lists, and nothing of another
//! organisation's or colleague's.

use beckon_domain::model::Role;
use beckon_testkit::*;
use reqwest::{Method, StatusCode};

use serde_json::json;

async fn shortcuts(api: &AgentHttp) -> Vec<(String, bool, bool)> {
    let (_, list) = api.get("/v1/agent/canned-replies").await;
    list["canned_replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["shortcut"].as_str().unwrap().to_owned(), c["shared"] == true, c["editable"] == true))
        .collect()
}

#[tokio::test]
async fn shared_replies_are_the_admins_personal_ones_their_owners() {
    let app = spawn_app().await;
    let admin = app.admin_http().await;
    let _sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    let sam = app.http_as("sam@demo.beckon", "extra-agent-pw").await;
    let _kim = app.extra_agent("kim@demo.beckon", "Kim", 2).await;
    let kim = app.http_as("kim@demo.beckon", "extra-agent-pw").await;

    let (status, made) = admin
        .call(
            Method::POST,
            "/v1/agent/canned-replies",
            Some(json!({"shortcut": "/Hello", "text": " Hello! How can I help? ", "shared": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(
        made["canned_reply"],
        json!({"id": made["canned_reply"]["id"], "shortcut": "hello", "text": "Hello! How can I help?", "shared": true, "editable": true})
    );
    let shared_id = made["canned_reply"]["id"].as_i64().unwrap();

    // An agent saves their own; may not save, change or delete a shared one.
    let (status, own) = sam
        .call(
            Method::POST,
            "/v1/agent/canned-replies",
            Some(json!({"shortcut": "bye", "text": "Bye, and thanks!"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let own_id = own["canned_reply"]["id"].as_i64().unwrap();
    let (status, e) = sam
        .call(
            Method::POST,
            "/v1/agent/canned-replies",
            Some(json!({"shortcut": "x", "text": "x", "shared": true})),
        )
        .await;
    assert_eq!((status, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let path = format!("/v1/agent/canned-replies/{shared_id}");
    let (status, _) = sam.call(Method::PUT, &path, Some(json!({"shortcut": "hello", "text": "Yo"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = sam.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Each sees the shared ones and their own — never a colleague's, which answers like a missing one.
    assert_eq!(shortcuts(&sam).await, [("bye".into(), false, true), ("hello".into(), true, false)]);
    assert_eq!(shortcuts(&kim).await, [("hello".into(), true, false)]);
    let theirs = format!("/v1/agent/canned-replies/{own_id}");
    let (status, e) =
        kim.call(Method::PUT, &theirs, Some(json!({"shortcut": "bye", "text": "mine now"}))).await;
    assert_eq!((status, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _) = admin.call(Method::DELETE, &theirs, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not even an admin reads a colleague's own replies");

    // One shortcut per owner; bad input is named.
    let (status, e) = sam
        .call(Method::POST, "/v1/agent/canned-replies", Some(json!({"shortcut": "BYE", "text": "again"})))
        .await;
    assert_eq!((status, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (status, e) = sam
        .call(Method::POST, "/v1/agent/canned-replies", Some(json!({"shortcut": "two words", "text": "x"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["error"]["message"].as_str().unwrap().starts_with("shortcut:"));
    let (status, e) = sam
        .call(Method::POST, "/v1/agent/canned-replies", Some(json!({"shortcut": "empty", "text": "  "})))
        .await;
    assert_eq!(
        (status, e["error"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("text: 1–4000 characters"))
    );

    // The owner edits and deletes.
    let (status, edited) =
        sam.call(Method::PUT, &theirs, Some(json!({"shortcut": "thanks", "text": "Thanks, bye!"}))).await;
    assert_eq!((status, edited["canned_reply"]["shortcut"].as_str()), (StatusCode::OK, Some("thanks")));
    let (status, _) = sam.call(Method::DELETE, &theirs, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(shortcuts(&sam).await, [("hello".into(), true, false)]);

    // Another organisation sees none of it.
    let other = app.other_org("Other", Role::Admin).await;
    let stranger = app.http_as(&other.agent.email, "other-org-pw").await;
    assert!(shortcuts(&stranger).await.is_empty());
    let (status, _) = stranger.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_agents_own_replies_are_bounded() {
    let app = spawn_app().await;
    let _sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    let sam = app.http_as("sam@demo.beckon", "extra-agent-pw").await;
    for i in 0..beckon_server::http::canned::MAX_PERSONAL {
        let (status, _) = sam
            .call(
                Method::POST,
                "/v1/agent/canned-replies",
                Some(json!({"shortcut": format!("r{i}"), "text": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, e) = sam
        .call(Method::POST, "/v1/agent/canned-replies", Some(json!({"shortcut": "one-more", "text": "x"})))
        .await;
    assert_eq!((status, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("limit_reached")));
}
