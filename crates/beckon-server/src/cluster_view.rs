//! What agents see of visitors on every node of the cluster: the live list, one live visitor
//! (before an agent invites them), the "why" view and a rule's preview.
//!
//! Only the node holding a visitor's sockets knows these (its live registry and trigger runtime
//! are views of the present, kept in memory). The node an agent's request reached asks every
//! live node over the bus ([`beckon_bus::Bus::ask`]) and merges the answers; one node alone
//! answers itself. A visitor with tabs on two nodes is known to both: the answers are merged per
//! visitor.

use crate::live::LiveVisitors;
use crate::triggers::Triggers;
use async_trait::async_trait;
use beckon_bus::{Answerer, Bus};
use beckon_domain::events::LiveVisitor;
use beckon_domain::{Clock, OrgId, VisitorId};
use beckon_store::Store;
use beckon_triggers::{Rule, RuleTrace};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long an agent's request waits for a node that does not answer (it died and its lease has
/// not run out yet).
const ASK_WITHIN: Duration = Duration::from_millis(750);

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "q", rename_all = "snake_case")]
enum Question {
    LiveList { org: OrgId },
    LiveVisitor { visitor: VisitorId },
    Why { visitor: VisitorId, org: OrgId },
    Preview { org: OrgId, rule: Value },
}

pub struct ClusterView {
    bus: Arc<dyn Bus>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl ClusterView {
    /// Also makes this node answer other nodes' questions from `live` and `triggers`.
    pub fn new(
        bus: Arc<dyn Bus>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        live: Arc<LiveVisitors>,
        triggers: Arc<Triggers>,
    ) -> Self {
        bus.answer_with(Arc::new(NodeAnswers { live, triggers }));
        Self { bus, store, clock }
    }

    async fn ask(&self, question: Question) -> Vec<Value> {
        let expect = match self.store.live_nodes(self.clock.now()).await {
            Ok(nodes) => nodes.len().max(1),
            Err(e) => {
                tracing::error!(error = %e, "reading the live nodes failed; asking as if alone");
                1
            }
        };
        let question = serde_json::to_value(&question).expect("questions serialize");
        self.bus.ask(question, expect, ASK_WITHIN).await
    }

    /// Everyone on the organisation's sites now, longest on the current page first.
    pub async fn live_list(&self, org: OrgId) -> Vec<LiveVisitor> {
        let mut merged: BTreeMap<VisitorId, LiveVisitor> = BTreeMap::new();
        for answer in self.ask(Question::LiveList { org }).await {
            for v in parse::<Vec<LiveVisitor>>(answer).unwrap_or_default() {
                merge(&mut merged, v);
            }
        }
        let mut list: Vec<LiveVisitor> = merged.into_values().filter(|v| v.org_id == org).collect();
        list.sort_by_key(|v| (v.page_since, v.visitor_id));
        list
    }

    /// The visitor if they are on the site now (on any node).
    pub async fn live_visitor(&self, visitor: VisitorId) -> Option<LiveVisitor> {
        let mut merged = BTreeMap::new();
        for answer in self.ask(Question::LiveVisitor { visitor }).await {
            if let Some(v) = parse::<Option<LiveVisitor>>(answer).flatten() {
                merge(&mut merged, v);
            }
        }
        merged.remove(&visitor)
    }

    /// Every rule's trace for a live visitor of `org` (from a node that holds them).
    pub async fn why(&self, org: OrgId, visitor: VisitorId) -> Option<Vec<RuleTrace>> {
        self.ask(Question::Why { visitor, org })
            .await
            .into_iter()
            .find_map(|a| parse::<Option<Vec<RuleTrace>>>(a).flatten())
    }

    /// Which of the organisation's live visitors `rule` matches now, on every node.
    pub async fn preview(&self, org: OrgId, rule: &Rule) -> Vec<(VisitorId, RuleTrace)> {
        let mut merged = BTreeMap::new();
        for answer in self.ask(Question::Preview { org, rule: rule.to_json() }).await {
            for (v, trace) in parse::<Vec<(VisitorId, RuleTrace)>>(answer).unwrap_or_default() {
                merged.entry(v).or_insert(trace);
            }
        }
        merged.into_iter().collect()
    }
}

/// One visitor as two nodes see them: their tabs add up; the page is the latest one.
fn merge(into: &mut BTreeMap<VisitorId, LiveVisitor>, v: LiveVisitor) {
    match into.get_mut(&v.visitor_id) {
        None => {
            into.insert(v.visitor_id, v);
        }
        Some(held) => {
            let tabs = held.tabs.saturating_add(v.tabs);
            if v.page_since > held.page_since {
                *held = v;
            }
            held.tabs = tabs;
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(answer: Value) -> Option<T> {
    if answer.is_null() {
        return None;
    }
    serde_json::from_value(answer)
        .map_err(|e| tracing::warn!(error = %e, "a node's answer does not parse (another version?)"))
        .ok()
}

/// This node's answers, from its own registry and trigger runtime.
struct NodeAnswers {
    live: Arc<LiveVisitors>,
    triggers: Arc<Triggers>,
}

#[async_trait]
impl Answerer for NodeAnswers {
    async fn answer(&self, question: Value) -> Value {
        let question: Question = match serde_json::from_value(question) {
            Ok(q) => q,
            Err(e) => {
                tracing::warn!(error = %e, "a question this node does not know (another version?)");
                return Value::Null;
            }
        };
        let answer = match question {
            Question::LiveList { org } => serde_json::to_value(self.live.list(org)),
            Question::LiveVisitor { visitor } => serde_json::to_value(self.live.get(visitor)),
            Question::Why { visitor, org } => {
                let here = self.live.get(visitor).is_some_and(|v| v.org_id == org);
                let traces = if here { self.triggers.explain(visitor).await } else { None };
                serde_json::to_value(traces)
            }
            Question::Preview { org, rule } => match Rule::from_json_value(&rule) {
                Ok(rule) => serde_json::to_value(self.triggers.preview(org, rule).await),
                Err(e) => {
                    tracing::warn!(error = %e, "a rule to preview does not parse here");
                    return Value::Null;
                }
            },
        };
        answer.unwrap_or_else(|e| {
            tracing::error!(error = %e, "encoding an answer failed");
            Value::Null
        })
    }
}
