//! The visitor panel tells the agent which invite led to a proactive chat.

use beckon_testkit::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_visitor_panel_names_the_invite_behind_a_proactive_chat() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (mut v, _) = app.new_visitor().await;
    for outcome in ["shown", "accepted"] {
        let r = v
            .request(json!({"type": "invite", "invite_id": "inv-7", "source": "sdk", "outcome": outcome,
                            "message": "Need a hand with your case?"}))
            .await
            .unwrap();
        assert_eq!(r["type"], "ok", "{r}");
    }
    let chat = v
        .request(json!({"type": "start_chat", "proactive": true, "invite_id": "inv-7",
                        "context": {"Case Id": {"value": "C-1", "isDisplayable": true}}}))
        .await
        .unwrap();
    let id = chat["conversation"]["id"].clone();
    let panel: Value = app.get_json(&format!("/v1/agent/conversations/{id}/visitor"), &cookie).await;
    assert_eq!(panel["invite"]["invite_id"], "inv-7");
    assert_eq!(panel["invite"]["source"], "sdk");
    assert_eq!(panel["invite"]["message"], "Need a hand with your case?");

    // A chat the visitor started themselves has no invite.
    let (mut v2, _) = app.new_visitor().await;
    let chat = v2.request(json!({"type": "start_chat", "proactive": false})).await.unwrap();
    let id = chat["conversation"]["id"].clone();
    let panel: Value = app.get_json(&format!("/v1/agent/conversations/{id}/visitor"), &cookie).await;
    assert_eq!(panel["invite"], Value::Null);
}

#[tokio::test]
async fn an_invite_from_a_trigger_rule_is_named_after_the_rule() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let state = app.app.as_ref().unwrap().state();
    let key = beckon_domain::WidgetKey::parse(DEMO_WIDGET_KEY).unwrap();
    let widget = state.store.widget_by_key(&key).await.unwrap().unwrap();
    let rules = r#"[{"id": 5, "name": "Open case on the support page"}]"#;
    state.store.set_trigger_rules(widget.org_id, rules, state.clock.now()).await.unwrap();

    let (mut v, welcome) = app.new_visitor().await;
    // The visitor does something (so it is stored) before the invite this test writes itself.
    v.request(json!({"type": "get_availability"})).await.unwrap();
    let visitor_id = beckon_domain::VisitorId(welcome["visitor_id"].as_i64().unwrap());
    let event = beckon_store::NewInviteEvent {
        widget_id: widget.id,
        queue_id: None,
        visitor_id,
        invite_id: "srv-1".into(),
        source: "rule:5".into(),
        outcome: beckon_domain::invite::InviteOutcome::Offered,
        reason: None,
        message: "About your case?".into(),
    };
    state.store.record_invite_event(event, state.clock.now()).await.unwrap();
    let chat =
        v.request(json!({"type": "start_chat", "proactive": true, "invite_id": "srv-1"})).await.unwrap();
    let id = chat["conversation"]["id"].clone();
    let panel: Value = app.get_json(&format!("/v1/agent/conversations/{id}/visitor"), &cookie).await;
    assert_eq!(panel["invite"]["source"], "rule:5");
    assert_eq!(panel["invite"]["rule_name"], "Open case on the support page");
}
