//! Routing rules: which queue a new conversation goes to.
//!
//! An organisation keeps an ordered list of rules; each names a queue and a list of conditions
//! that must all hold. Rules are tried in order and the first that matches wins; when none does,
//! the conversation goes to the widget's default queue. Conditions look at the conversation's
//! context variables (pre-chat answers included: they are context variables named after their
//! question) and at built-in facts: the page URL, the visitor's country, whether they are signed
//! in, and whether the chat came from an invite. Pure: the caller gathers the facts.

use crate::{Context, QueueId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutingRule {
    pub name: String,
    /// All must hold; an empty list always matches.
    pub conditions: Vec<RouteCondition>,
    pub queue_id: QueueId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouteCondition {
    pub field: RouteField,
    pub op: RouteOp,
    /// Compared as text (case-insensitively) or, for number operators, as a number.
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum RouteField {
    /// A context variable (or pre-chat answer) by name.
    Context(String),
    PageUrl,
    /// ISO 3166-1 alpha-2 country code.
    Country,
    /// `true` / `false`.
    Authenticated,
    /// `true` / `false`.
    Proactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RouteOp {
    /// The field has a value at all (`value` is ignored).
    Exists,
    Equals,
    NotEquals,
    Contains,
    StartsWith,
    Gt,
    Ge,
    Lt,
    Le,
}

/// What routing knows about a new conversation.
#[derive(Debug, Clone, Copy)]
pub struct RouteFacts<'a> {
    pub context: &'a Context,
    pub page_url: Option<&'a str>,
    pub country: Option<&'a str>,
    pub authenticated: bool,
    pub proactive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule} ({name:?}), condition {condition}: {problem}")]
pub struct RuleError {
    pub rule: usize,
    pub name: String,
    pub condition: usize,
    pub problem: String,
}

impl RouteCondition {
    pub fn holds(&self, facts: &RouteFacts<'_>) -> bool {
        let actual: Option<String> = match &self.field {
            RouteField::Context(name) => facts.context.get(name).map(|v| v.value.display()),
            RouteField::PageUrl => facts.page_url.map(str::to_owned),
            RouteField::Country => facts.country.map(str::to_owned),
            RouteField::Authenticated => Some(facts.authenticated.to_string()),
            RouteField::Proactive => Some(facts.proactive.to_string()),
        };
        let Some(actual) = actual else { return false };
        let (a, v) = (actual.to_lowercase(), self.value.trim().to_lowercase());
        let num = || Some((actual.trim().parse::<f64>().ok()?, self.value.trim().parse::<f64>().ok()?));
        match self.op {
            RouteOp::Exists => !actual.trim().is_empty(),
            RouteOp::Equals => a.trim() == v,
            RouteOp::NotEquals => a.trim() != v,
            RouteOp::Contains => a.contains(&v),
            RouteOp::StartsWith => a.starts_with(&v),
            RouteOp::Gt => num().is_some_and(|(x, y)| x > y),
            RouteOp::Ge => num().is_some_and(|(x, y)| x >= y),
            RouteOp::Lt => num().is_some_and(|(x, y)| x < y),
            RouteOp::Le => num().is_some_and(|(x, y)| x <= y),
        }
    }
}

impl RoutingRule {
    pub fn matches(&self, facts: &RouteFacts<'_>) -> bool {
        self.conditions.iter().all(|c| c.holds(facts))
    }
}

/// The first matching rule's position and queue.
pub fn route(rules: &[RoutingRule], facts: &RouteFacts<'_>) -> Option<(usize, QueueId)> {
    rules.iter().enumerate().find(|(_, r)| r.matches(facts)).map(|(i, r)| (i, r.queue_id))
}

/// Checks a rule list before it is stored, with errors that say which rule and condition.
pub fn validate(rules: &[RoutingRule]) -> Result<(), RuleError> {
    for (i, r) in rules.iter().enumerate() {
        let err = |condition: usize, problem: &str| RuleError {
            rule: i + 1,
            name: r.name.clone(),
            condition,
            problem: problem.into(),
        };
        if r.name.trim().is_empty() || r.name.chars().count() > 100 {
            return Err(err(0, "the name must be 1–100 characters"));
        }
        if r.conditions.len() > 20 {
            return Err(err(0, "at most 20 conditions"));
        }
        for (j, c) in r.conditions.iter().enumerate() {
            if let RouteField::Context(name) = &c.field
                && (name.trim().is_empty() || name.chars().count() > 100)
            {
                return Err(err(j + 1, "the context variable name must be 1–100 characters"));
            }
            if c.value.chars().count() > 1_000 {
                return Err(err(j + 1, "the value must be at most 1,000 characters"));
            }
            let numeric = matches!(c.op, RouteOp::Gt | RouteOp::Ge | RouteOp::Lt | RouteOp::Le);
            if numeric && c.value.trim().parse::<f64>().is_err() {
                return Err(err(j + 1, "this comparison needs a number"));
            }
            if !matches!(c.op, RouteOp::Exists) && c.value.trim().is_empty() {
                return Err(err(j + 1, "give a value to compare with"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(name: &str, queue: i64, conditions: Vec<RouteCondition>) -> RoutingRule {
        RoutingRule { name: name.into(), conditions, queue_id: QueueId(queue) }
    }
    fn cond(field: RouteField, op: RouteOp, value: &str) -> RouteCondition {
        RouteCondition { field, op, value: value.into() }
    }

    #[test]
    fn first_match_wins_and_no_match_means_fallback() {
        let ctx =
            Context::parse(&json!({"Case Id": "C-1", "Cart total": {"value": 250, "isDisplayable": true}}))
                .unwrap();
        let facts = RouteFacts {
            context: &ctx,
            page_url: Some("https://shop.example/FR/support"),
            country: Some("FR"),
            authenticated: false,
            proactive: true,
        };
        let rules = vec![
            rule("VIP", 1, vec![cond(RouteField::Authenticated, RouteOp::Equals, "true")]),
            rule("Big carts", 2, vec![cond(RouteField::Context("Cart total".into()), RouteOp::Ge, "200")]),
            rule("Cases", 3, vec![cond(RouteField::Context("Case Id".into()), RouteOp::Exists, "")]),
        ];
        assert_eq!(route(&rules, &facts), Some((1, QueueId(2))));
        assert_eq!(route(&rules[2..], &facts), Some((0, QueueId(3))));
        let empty = Context::new();
        let anon = RouteFacts {
            context: &empty,
            page_url: None,
            country: None,
            authenticated: false,
            proactive: false,
        };
        assert_eq!(route(&rules, &anon), None);
        assert_eq!(route(&[rule("Catch-all", 9, vec![])], &anon), Some((0, QueueId(9))));
    }

    #[test]
    fn operators_compare_as_documented() {
        let ctx = Context::parse(&json!({"Tier": "Gold", "Age": "41", "Note": "not a number"})).unwrap();
        let f = RouteFacts {
            context: &ctx,
            page_url: Some("https://Shop.example/Support"),
            country: Some("FR"),
            authenticated: true,
            proactive: false,
        };
        let holds = |field: RouteField, op, v: &str| cond(field, op, v).holds(&f);
        let c = |n: &str| RouteField::Context(n.into());
        assert!(holds(c("Tier"), RouteOp::Equals, " gold "));
        assert!(holds(c("Tier"), RouteOp::NotEquals, "silver"));
        assert!(holds(RouteField::PageUrl, RouteOp::Contains, "/support"));
        assert!(holds(RouteField::PageUrl, RouteOp::StartsWith, "https://shop.example"));
        assert!(holds(RouteField::Country, RouteOp::Equals, "fr"));
        assert!(
            holds(c("Age"), RouteOp::Gt, "40")
                && !holds(c("Age"), RouteOp::Lt, "41")
                && holds(c("Age"), RouteOp::Le, "41")
        );
        assert!(!holds(c("Note"), RouteOp::Gt, "1"), "not a number: number comparisons fail");
        assert!(!holds(c("Missing"), RouteOp::NotEquals, "x"), "a missing variable matches nothing");
        assert!(
            holds(RouteField::Authenticated, RouteOp::Equals, "true")
                && holds(RouteField::Proactive, RouteOp::Equals, "false")
        );
    }

    #[test]
    fn validation_names_the_rule_and_condition() {
        let bad = vec![
            rule("ok", 1, vec![]),
            rule(
                "Bad",
                2,
                vec![
                    cond(RouteField::Country, RouteOp::Equals, "FR"),
                    cond(RouteField::Context("x".into()), RouteOp::Gt, "many"),
                ],
            ),
        ];
        let e = validate(&bad).unwrap_err();
        assert_eq!((e.rule, e.condition), (2, 2));
        assert!(e.to_string().contains("needs a number"));
        assert!(validate(&[rule("", 1, vec![])]).is_err());
        assert!(validate(&bad[..1]).is_ok());
        // The wire format round-trips.
        let text = serde_json::to_string(&bad).unwrap();
        assert_eq!(serde_json::from_str::<Vec<RoutingRule>>(&text).unwrap(), bad);
    }
}
