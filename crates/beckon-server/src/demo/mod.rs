//! `beckon demo`: seed a demo organisation so a newcomer sees the whole product at once —
//! a widget anyone can embed, a queue, an agent login, and no-code trigger rules (three live
//! ones for the demo site's no-script pages, and the seed's eight scenarios as disabled rules to
//! try in the console). Seeding is idempotent: starting the demo again on the same database
//! reuses what is there.

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
    Ok(login)
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
    #[test]
    fn the_demo_trigger_rules_parse_and_only_the_demo_pages_ones_are_live() {
        let rules = super::demo_trigger_rules();
        assert_eq!(rules.len(), 11);
        let live: Vec<_> = rules.iter().filter(|r| r.enabled).map(|r| r.id.0).collect();
        assert_eq!(live, [1, 2, 3]);
    }
}
