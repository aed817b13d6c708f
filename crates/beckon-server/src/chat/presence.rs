//! Agent presence for the whole cluster: what each agent chose, and whether any of their
//! consoles is open on a live node.
//!
//! Everything is in the store (`agent.presence`, `agent_console`, `node`), so every node answers
//! the same: the effective presence routing sees is the chosen one while a console is open —
//! on this node or any other — and `offline` otherwise. When the last console closes, the agent
//! stays as they were for the grace period (`presence_grace_secs`), so reloading the console or a
//! short network loss, even one that lands the console on another node, does not hand their offers
//! to someone else; the sweeper (`crate::sweeper`) ends the grace on whichever node runs it, and
//! when a node dies, its consoles count as closed from the end of its lease.
//!
//! Each change is published (`Event::Presence`) to the agent's consoles and organisation, and
//! routing follows: an agent who starts taking conversations is offered waiting ones, one who
//! stops has their pending offers handed on.

use super::{Chat, ChatResult};
use beckon_domain::events::{Event, Topic};
use beckon_domain::model::{Agent, Conversation};
use beckon_domain::{AgentId, OrgId, Presence};
use beckon_store::AgentPresence;
use std::collections::HashMap;

impl Chat {
    /// Presence as routing sees it, for several agents at once (offline when unknown).
    pub async fn presences(&self, agents: &[AgentId]) -> ChatResult<HashMap<AgentId, AgentPresence>> {
        let lingering_after = self.now().plus_millis(-self.presence_grace_ms);
        Ok(self.store.agent_presences(agents, lingering_after).await?)
    }

    /// One agent's effective presence.
    pub async fn effective_presence(&self, agent: AgentId) -> ChatResult<Presence> {
        Ok(self.presences(&[agent]).await?.get(&agent).map_or(Presence::Offline, AgentPresence::effective))
    }

    /// A console opened (`console`: its id, unique in the cluster).
    pub async fn agent_connected(&self, agent: &Agent, console: &str) -> ChatResult<Presence> {
        let before = self.effective_presence(agent.id).await?;
        self.store.open_console(console, agent.id, &self.node_id, self.now()).await?;
        let after = self.effective_presence(agent.id).await?;
        self.presence_changed(agent.org_id, agent.id, before, after).await;
        Ok(after)
    }

    /// A console closed. The agent lingers as they were for the grace period; the sweeper ends
    /// it ([`Chat::grace_over`]).
    pub async fn agent_disconnected(&self, console: &str) {
        if let Err(e) = self.store.close_console(console, self.now()).await {
            tracing::error!(error = %e, "closing a console failed");
        }
        self.deadline_added();
    }

    /// The grace period of some of the agent's consoles ended (or their node died): if no other
    /// console keeps them online, they are offline now.
    pub async fn grace_over(&self, agent: AgentId) {
        match self.store.agent(agent).await {
            Ok(Some(a)) => {
                let after = self.effective_presence(agent).await.unwrap_or(Presence::Offline);
                if after == Presence::Offline {
                    // Before, the lingering console kept the chosen presence.
                    self.presence_changed(a.org_id, agent, a.presence, after).await;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, agent = %agent, "checking an agent's presence failed"),
        }
    }

    /// The agent chose a presence (stored, so it survives a reload, a restart and another node).
    pub async fn set_presence(&self, org: OrgId, agent: AgentId, chosen: Presence) -> ChatResult<Presence> {
        let before = self.effective_presence(agent).await?;
        self.store.set_agent_presence(agent, chosen, self.now()).await?;
        let after = self.effective_presence(agent).await?;
        self.presence_changed(org, agent, before, after).await;
        Ok(after)
    }

    /// Tells the agent's own consoles and the rest of the organisation's (the admin's agents
    /// list, transfer targets), then hands on or takes back conversations.
    async fn presence_changed(&self, org: OrgId, agent: AgentId, before: Presence, after: Presence) {
        if before == after {
            return;
        }
        let topics = vec![Topic::Agent(agent), Topic::Org(org)];
        self.publish(topics, Event::Presence { org_id: org, agent_id: agent, presence: after }).await;
        if after.takes_new_conversations() {
            self.route_agent(agent).await;
        } else if before.takes_new_conversations() {
            self.withdraw_offers_of(agent).await;
        }
    }

    /// Offers an agent who stopped taking conversations had not accepted go to someone else.
    pub(super) async fn withdraw_offers_of(&self, agent: AgentId) {
        let Ok(open) = self.store.open_conversations_of_agent(agent).await else {
            return;
        };
        for c in open.into_iter().filter(|c| c.offered_agent_id == Some(agent)) {
            if matches!(self.store.withdraw_offer(c.id, agent).await, Ok(true)) {
                let c = Conversation { offered_agent_id: None, offer_expires_at: None, ..c };
                self.publish_conversation(&c, &[agent]).await;
                if let Some(q) = c.queue_id {
                    self.route_queue(q).await;
                }
            }
        }
    }
}
