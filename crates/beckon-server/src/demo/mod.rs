//! `beckon demo`: seed a demo organisation so a newcomer sees the whole product at once —
//! a widget anyone can embed, a queue, an agent login, and no-code trigger rules (live ones for
//! the demo site's no-script pages: `no-code.html`, `pricing.html`, and the seed's eight
//! scenarios on `no-code/scenario-N.html`). Seeding is idempotent: starting the demo again on the same database
//! reuses what is there.

pub mod visit_from;

use crate::auth::hash_password;
use beckon_domain::model::{PrechatKind, PrechatQuestion, Role, WidgetSettings};
use beckon_domain::{Clock, WidgetKey};
use beckon_store::{NewAgent, NewWidget, Store};

pub const DEMO_WIDGET_KEY: &str = "beckon-demo";
pub const DEMO_AGENT_EMAIL: &str = "agent@demo.beckon";
pub const DEMO_AGENT_PASSWORD: &str = "beckon-demo";

#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub widget_key: String,
    pub email: String,
    pub password: String,
}

pub async fn seed(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<DemoLogin> {
    let login = DemoLogin {
        widget_key: DEMO_WIDGET_KEY.into(),
        email: DEMO_AGENT_EMAIL.into(),
        password: DEMO_AGENT_PASSWORD.into(),
    };
    let key = WidgetKey::parse(DEMO_WIDGET_KEY).expect("valid demo key");
    if store.widget_by_key(&key).await?.is_some() {
        return Ok(login);
    }
    match seed_new(store, clock, key.clone()).await {
        Ok(()) => Ok(login),
        // Two nodes started at once on one database: the other one seeded it (the widget key is
        // unique, so only one demo organisation has the widget; the loser's half-made
        // organisation has no widget and nobody signs in to it).
        Err(_) if store.widget_by_key(&key).await?.is_some() => {
            tracing::info!("another node seeded the demo at the same moment; using its data");
            Ok(login)
        }
        Err(e) => Err(e),
    }
}

async fn seed_new(store: &dyn Store, clock: &dyn Clock, key: WidgetKey) -> anyhow::Result<()> {
    let now = clock.now();
    let org = store.create_org("Demo Company", now).await?;
    let queue = store.create_queue(org.id, "General", now).await?;
    store
        .create_widget(
            NewWidget {
                org_id: org.id,
                key,
                name: "Demo site".into(),
                // The demo is for trying things out locally: any page may embed it.
                allowed_origins: vec!["*".into()],
                default_queue_id: Some(queue.id),
                settings: WidgetSettings { prechat: demo_prechat(), ..WidgetSettings::default() },
                auth: None,
            },
            now,
        )
        .await?;
    let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_AGENT_PASSWORD)).await??;
    let agent = store
        .create_agent(
            NewAgent {
                org_id: org.id,
                email: DEMO_AGENT_EMAIL.into(),
                name: "Alex (demo agent)".into(),
                password_hash: hash,
                role: Role::Admin,
                capacity: 3,
            },
            now,
        )
        .await?;
    store.add_agent_to_queue(agent.id, queue.id, now).await?;
    let rules = demo_trigger_rules();
    store.set_trigger_rules(org.id, &serde_json::to_string(&rules)?, now).await?;
    Ok(())
}

/// The demo's trigger rules, checked when the binary is tested (they must parse).
pub fn demo_trigger_rules() -> Vec<beckon_triggers::Rule> {
    beckon_triggers::rules_from_json(include_str!("trigger_rules.json"))
        .expect("the demo's trigger rules parse")
}

fn demo_prechat() -> Vec<PrechatQuestion> {
    vec![
        PrechatQuestion {
            id: "name".into(),
            label: "Your name".into(),
            kind: PrechatKind::SingleLine,
            required: true,
            choices: vec![],
        },
        PrechatQuestion {
            id: "topic".into(),
            label: "What is your question about?".into(),
            kind: PrechatKind::OptionSet,
            required: false,
            choices: vec!["Orders".into(), "Products".into(), "Returns".into()],
        },
        PrechatQuestion {
            id: "details".into(),
            label: "Anything we should know?".into(),
            kind: PrechatKind::MultiLine,
            required: false,
            choices: vec![],
        },
        PrechatQuestion {
            id: "consent".into(),
            label: "I agree that this chat is recorded".into(),
            kind: PrechatKind::Consent,
            required: true,
            choices: vec![],
        },
    ]
}

#[cfg(test)]
mod tests {
    use beckon_triggers::Rule;

    fn rule(rules: &[Rule], id: i64) -> serde_json::Value {
        serde_json::to_value(rules.iter().find(|r| r.id.0 == id).expect("rule")).unwrap()
    }

    #[test]
    fn the_demo_trigger_rules_parse_and_all_are_live_on_their_own_demo_page_only() {
        let rules = super::demo_trigger_rules();
        assert_eq!(rules.len(), 11);
        let live: Vec<_> = rules.iter().filter(|r| r.enabled).map(|r| r.id.0).collect();
        assert_eq!(live, [1, 2, 3, 11, 12, 13, 14, 15, 16, 17, 18]);
        // Every rule is scoped to the demo site, so none matches the e2e test pages (served from
        // e2e/pages/ under other URLs) nor the seed-sample pages /demo/scenario-N.html.
        for r in &rules {
            let json = serde_json::to_string(&rule(&rules, r.id.0)["conditions"]).unwrap();
            assert!(
                json.contains(r#""page_url""#) && json.contains("/demo/"),
                "rule {} is not scoped: {json}",
                r.id.0
            );
        }
        // The seed's eight scenarios, each on its no-script page, inviting before an agent is
        // available ("an agent will answer when one is available").
        let just_checking = "Hi! Just checking in to see if I can help answer any questions you may have.";
        let expected: [(i64, &str, bool); 8] = [
            (11, just_checking, false),
            (12, "Hi! Do you have a question on Surface device? I am here to help.", false),
            // The seed's message names the case ({context:Case Id}), which only page code can
            // provide (setContextProvider); a no-script page cannot, so the demo says "your case".
            (
                13,
                "Hi! How are you doing today? The status of your case is in progress. Would you like to get more details?",
                false,
            ),
            (14, just_checking, false),
            (15, just_checking, false),
            (16, just_checking, false),
            (17, just_checking, false),
            (18, "Hi! How are you doing today? Do you wish to start a chat?", true),
        ];
        for (n, (id, message, prechat)) in expected.into_iter().enumerate() {
            let r = rule(&rules, id);
            let page = format!("/demo/no-code/scenario-{}.html", n + 1);
            assert_eq!(r["conditions"]["all"][0]["page_url"]["value"], page.as_str(), "rule {id}");
            assert_eq!(r["invite"]["message"], message, "rule {id}");
            assert_eq!(r["invite"]["prechat"], prechat, "rule {id}");
            assert_eq!(r["limits"]["require_free_agent"], false, "rule {id}");
        }
        let conditions = |id| serde_json::to_string(&rule(&rules, id)["conditions"]["all"]).unwrap();
        assert!(conditions(11).contains(r#""at_least_s":20"#));
        assert!(
            conditions(12).contains(r#""page_views_of_page":{"op":"gt","value":2}"#),
            "{}",
            conditions(12)
        );
        assert!(conditions(12).contains(r#""at_least_s":5"#));
        assert!(conditions(13).contains(r#""at_least_s":10"#) && !conditions(13).contains("context"));
        assert!(conditions(14).contains(r#""exit_intent":{"after_s":15}"#), "{}", conditions(14));
        assert_eq!(rule(&rules, 14)["limits"]["frequency"], "once_per_visit");
        assert!(
            conditions(15).contains("/demo/no-code/faq.html")
                && conditions(15).contains(r#""at_least_s":15"#)
        );
        assert!(conditions(16).contains(r#""country":["IN"]"#), "{}", conditions(16));
        // Scenario 7: the holiday season (Black Friday to the January sales) — a window that holds
        // now, so the demo and its browser test see the invite; the test also checks a past window.
        let window = &rule(&rules, 17)["date_window"];
        assert!(window["from"].is_string() && window["to"].is_string(), "{window}");
    }
}
