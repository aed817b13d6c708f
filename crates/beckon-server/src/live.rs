//! Live visitors: who is on the site right now, on which page, since when, from where, and
//! whether they are chatting or have been invited — the agents' "live visitors" list, and the
//! target of agent-initiated invites.
//!
//! Kept in memory on the node that holds the visitor's sockets (a visitor with several tabs is
//! one entry); every change is published to the organisation's agents as `VisitorUpdated` /
//! `VisitorLeft`. It is a view of the present, not a record: visits and page views are stored.

use beckon_bus::Bus;
use beckon_domain::events::{Envelope, Event, InviteStatus, LiveVisitor, Topic};
use beckon_domain::{ConversationId, OrgId, VisitorId};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

pub struct LiveVisitors {
    bus: Arc<dyn Bus>,
    /// Boxed so that the map's (often half-empty) buckets hold pointers, not whole entries.
    visitors: Mutex<HashMap<VisitorId, Box<LiveVisitor>>>,
}

impl LiveVisitors {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self { bus, visitors: Mutex::new(HashMap::new()) }
    }

    /// A tab connected. `fresh` describes the visitor as this tab sees them.
    pub async fn connected(&self, fresh: LiveVisitor) {
        let updated = {
            let mut all = self.visitors.lock();
            let entry = all
                .entry(fresh.visitor_id)
                .or_insert_with(|| Box::new(LiveVisitor { tabs: 0, ..fresh.clone() }));
            let tabs = entry.tabs + 1;
            let keep_page = fresh.page.is_none();
            let (page, since) = (entry.page.clone(), entry.page_since);
            **entry = LiveVisitor { tabs, last_invite: entry.last_invite.clone(), ..fresh };
            if keep_page {
                entry.page = page;
                entry.page_since = since;
            }
            LiveVisitor::clone(entry)
        };
        self.publish(updated).await;
    }

    /// Applies a change to a connected visitor and tells the agents.
    pub async fn update(&self, visitor: VisitorId, change: impl FnOnce(&mut LiveVisitor)) {
        let updated = {
            let mut all = self.visitors.lock();
            let Some(v) = all.get_mut(&visitor) else { return };
            let before = LiveVisitor::clone(v);
            change(v);
            if **v == before {
                return;
            }
            LiveVisitor::clone(v)
        };
        self.publish(updated).await;
    }

    /// The visitor's open conversation (none: not chatting) and the name they gave in it.
    pub async fn set_conversation(
        &self,
        visitor: VisitorId,
        conversation: Option<ConversationId>,
        name: Option<String>,
    ) {
        self.update(visitor, |v| {
            v.conversation_id = conversation;
            if name.is_some() {
                v.name = name;
            }
        })
        .await;
    }

    pub async fn set_invite(&self, visitor: VisitorId, status: InviteStatus) {
        self.update(visitor, |v| v.last_invite = Some(status)).await;
    }

    /// A tab closed; the visitor leaves the list with their last tab.
    pub async fn disconnected(&self, visitor: VisitorId) {
        let left = {
            let mut all = self.visitors.lock();
            let Some(v) = all.get_mut(&visitor) else { return };
            v.tabs = v.tabs.saturating_sub(1);
            if v.tabs > 0 {
                return;
            }
            all.remove(&visitor).map(|v| v.org_id)
        };
        if let Some(org_id) = left {
            let event = Event::VisitorLeft { org_id, visitor_id: visitor };
            let _ = self.bus.publish(Envelope::new(vec![Topic::Org(org_id)], event)).await;
        }
    }

    pub fn get(&self, visitor: VisitorId) -> Option<LiveVisitor> {
        self.visitors.lock().get(&visitor).map(|v| LiveVisitor::clone(v))
    }

    /// Everyone on the organisation's sites now, longest on the current page first.
    pub fn list(&self, org: OrgId) -> Vec<LiveVisitor> {
        let mut list: Vec<_> = self
            .visitors
            .lock()
            .values()
            .filter(|v| v.org_id == org)
            .map(|v| LiveVisitor::clone(v))
            .collect();
        list.sort_by_key(|v| (v.page_since, v.visitor_id));
        list
    }

    async fn publish(&self, visitor: LiveVisitor) {
        let topics = vec![Topic::Org(visitor.org_id)];
        if let Err(e) = self.bus.publish(Envelope::new(topics, Event::VisitorUpdated { visitor })).await {
            tracing::warn!(error = %e, "publishing a live-visitor update failed");
        }
    }
}
