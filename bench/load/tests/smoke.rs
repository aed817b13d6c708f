//! The CI version of the load test: a few hundred sessions for a few seconds through the real
//! server; every acknowledged message must reach an agent.

use beckon_domain::WidgetKey;
use beckon_domain::model::Role;
use beckon_store::NewAgent;
use beckon_testkit::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_hundred_sessions_lose_no_message() {
    let app = spawn_app_with(without_flood_limits).await;
    let state = app.app.as_ref().unwrap().state();
    let widget =
        state.store.widget_by_key(&WidgetKey::parse(DEMO_WIDGET_KEY).unwrap()).await.unwrap().unwrap();
    let hash = beckon_server::auth::hash_password("load-test-password").unwrap();
    let mut agents = Vec::new();
    for i in 0..3 {
        let email = format!("load{i}@demo.beckon");
        let a = state
            .store
            .create_agent(
                NewAgent {
                    org_id: widget.org_id,
                    email: email.clone(),
                    name: format!("Load {i}"),
                    password_hash: hash.clone(),
                    role: Role::Agent,
                    capacity: 40,
                },
                state.clock.now(),
            )
            .await
            .unwrap();
        state
            .store
            .add_agent_to_queue(a.id, widget.default_queue_id.unwrap(), state.clock.now())
            .await
            .unwrap();
        agents.push((email, "load-test-password".to_owned()));
    }
    let report = beckon_load::run(beckon_load::LoadConfig {
        url: app.http(""),
        widget: DEMO_WIDGET_KEY.into(),
        visitors: 300,
        chatting: 60,
        agents,
        rate: 300.0,
        duration: Duration::from_secs(3),
        connect_rate: 5_000.0,
        source_ips: vec![],
        hold: Duration::ZERO,
        invite_after_s: None,
        admin: None,
        visitor_urls: Vec::new(),
        agent_url: None,
    })
    .await
    .unwrap();
    println!("{}", report.summary());
    assert_eq!((report.connected, report.connect_failures), (300, 0));
    assert!(report.sent >= 600, "the schedule ran: {}", report.sent);
    assert_eq!(report.acked, report.sent, "every send acknowledged");
    assert_eq!(report.received, report.acked, "every acknowledged message reached an agent");
    assert_eq!(report.lost, 0);
    assert_eq!(report.disconnects, 0);
}
