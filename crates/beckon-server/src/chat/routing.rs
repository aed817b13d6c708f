//! Routing: which agent is offered a waiting conversation, offers that run out, and the place in
//! line waiting visitors are told.
//!
//! Any node may decide, at any time, for any queue: the choice is the pure function
//! `beckon_domain::assignment::pick_agent` over the store's view (presence, load, who declined),
//! and the store arbitrates — an offer is one statement that also checks the agent's capacity,
//! so two nodes deciding at once never fill one slot twice; its deadline is stored with it and
//! whichever node's sweeper sees it due takes it back ([`Chat::offers_expired`]); declines are
//! stored, so nobody is offered a conversation they declined, on any node or after a restart; and
//! each change of a visitor's place in line is announced once, by the node that records it.

use super::{Chat, ChatError};
use beckon_domain::assignment::{AgentLoad, pick_agent};
use beckon_domain::model::Conversation;
use beckon_domain::{AgentId, ConversationId, QueueId, Timestamp};
use beckon_store::StoreError;

impl Chat {
    pub(super) async fn route_agent(&self, agent: AgentId) {
        match self.store.agent_queues(agent).await {
            Ok(queues) => {
                for q in queues {
                    self.route_queue(q).await;
                }
            }
            Err(e) => tracing::error!(error = %e, agent = %agent, "routing failed"),
        }
    }

    /// Offers the queue's waiting conversations, oldest first, to agents who can take them, and
    /// tells visitors still waiting where they are in line.
    pub async fn route_queue(&self, queue: QueueId) {
        if let Err(e) = self.try_route_queue(queue).await {
            tracing::error!(error = %e, queue = %queue, "routing failed");
        }
        self.positions_changed(queue);
    }

    /// Offers the sweeper took back because their time ran out go to the next agent.
    pub async fn offers_expired(&self, expired: Vec<(Conversation, AgentId)>) {
        for (c, agent) in expired {
            tracing::info!(conversation = %c.id, agent = %agent, "offer not accepted in time; offering elsewhere");
            self.publish_conversation(&c, &[agent]).await;
            if let Some(q) = c.queue_id {
                self.route_queue(q).await;
            }
        }
    }

    /// Sends the queue's place-in-line news in the background, off the path of whoever changed
    /// the line: a burst of changes (many accepts at once) costs one round per queue, not one per
    /// change per waiting visitor.
    pub(super) fn positions_changed(&self, queue: QueueId) {
        {
            let mut running = self.announcing.lock();
            if let Some(again) = running.get_mut(&queue) {
                *again = true;
                return;
            }
            running.insert(queue, false);
        }
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.announce_positions(queue, None).await {
                    tracing::error!(error = %e, queue = %queue, "announcing queue positions failed");
                }
                let mut running = me.announcing.lock();
                match running.get_mut(&queue) {
                    Some(again) if *again => *again = false,
                    _ => {
                        running.remove(&queue);
                        return;
                    }
                }
            }
        });
    }

    /// Visitors whose chat nobody could take yet hear their place in line (system messages
    /// tagged `queueposition`) when they join it and whenever it changes, and once the average
    /// wait when one is known (`averagewaittime`). A chat offered straight away gets neither.
    /// `only`: just this conversation (a newcomer), else every waiting one of the queue.
    pub(super) async fn announce_positions(
        &self,
        queue: QueueId,
        only: Option<ConversationId>,
    ) -> Result<(), ChatError> {
        let waiting = self.store.unoffered_waiting(queue).await?;
        let mut news = Vec::new();
        for c in waiting.iter().filter(|c| only.is_none_or(|id| id == c.id)) {
            let Some(position) = self.store.queue_position(c.id).await? else { continue };
            // Recorded in the store: whichever node records a change announces it, once.
            if let Some(first) = self.store.set_announced_position(c.id, position).await? {
                news.push((c.id, c.language.as_str(), position, first));
            }
        }
        if news.is_empty() {
            return Ok(());
        }
        // With nobody of the queue at work (all away or offline), an "average wait" would be a
        // promise nobody keeps: the visitor is told so instead.
        let staffed = self.anyone_available(queue).await?;
        let average = match staffed && news.iter().any(|(_, _, _, first)| *first) {
            true => self.store.average_wait_ms(queue, Timestamp(self.now().0 - 24 * 3_600_000)).await?,
            false => None,
        };
        // Written together, so the store commits them in one group rather than one by one.
        let writes = news.into_iter().map(|(id, language, position, first)| async move {
            let text = super::say(language, super::Line::InLine { staffed, position });
            self.system_message(id, text, &["queueposition"]).await?;
            if first && let Some(ms) = average {
                let minutes = ((ms + 59_999) / 60_000).max(1);
                let text = super::say(language, super::Line::AverageWait { minutes });
                self.system_message(id, text, &["averagewaittime"]).await?;
            }
            Ok::<_, ChatError>(())
        });
        for result in futures_util::future::join_all(writes).await {
            result?;
        }
        Ok(())
    }

    /// Whether an agent of the queue is at work now: Available, or Busy (taking no new chat
    /// for the moment, but there). Away and Offline agents answer nobody.
    pub(super) async fn anyone_available(&self, queue: QueueId) -> Result<bool, StoreError> {
        use beckon_domain::Presence;
        let ids: Vec<AgentId> = self.store.queue_agents(queue).await?.iter().map(|a| a.id).collect();
        let presences =
            self.store.agent_presences(&ids, self.now().plus_millis(-self.presence_grace_ms)).await?;
        Ok(presences.values().any(|p| matches!(p.effective(), Presence::Available | Presence::Busy)))
    }

    pub(super) async fn try_route_queue(&self, queue: QueueId) -> Result<(), StoreError> {
        // One decision at a time on this node saves the store refusing our own races; other
        // nodes' races are settled by the capacity check inside `offer_conversation`.
        let _one_at_a_time = self.routing.lock().await;
        let waiting = self.store.unoffered_waiting(queue).await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let agents = self.store.queue_agents(queue).await?;
        let ids: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let loads = self.store.agent_loads(&ids).await?;
        let presences =
            self.store.agent_presences(&ids, self.now().plus_millis(-self.presence_grace_ms)).await?;
        let mut board: Vec<AgentLoad> = agents
            .iter()
            .map(|a| {
                let p = presences.get(&a.id);
                AgentLoad {
                    agent_id: a.id,
                    presence: p.map_or(beckon_domain::Presence::Offline, |p| p.effective()),
                    capacity: a.capacity,
                    load: loads.get(&a.id).copied().unwrap_or(0),
                    idle_since: p.map_or(Timestamp(0), |p| p.idle_since),
                }
            })
            .collect();
        for c in waiting {
            let declined = self.store.declined_agents(c.id).await?;
            let Some(agent) = pick_agent(&board, &declined) else {
                continue;
            };
            let capacity = board.iter().find(|a| a.agent_id == agent).map_or(0, |a| a.capacity);
            let now = self.now();
            let until = now.plus_millis(self.offer_timeout_ms);
            if !self.store.offer_conversation(c.id, agent, capacity, until, now).await? {
                // Taken meanwhile (another node offered it, or filled the agent's last slot): the
                // next round, prompted by that change, sees the new state.
                if let Some(slot) = board.iter_mut().find(|a| a.agent_id == agent) {
                    slot.load = slot.capacity;
                }
                continue;
            }
            if let Some(slot) = board.iter_mut().find(|a| a.agent_id == agent) {
                slot.load += 1;
                slot.idle_since = now;
            }
            tracing::info!(conversation = %c.id, agent = %agent, "conversation offered");
            self.deadline_added();
            let offered = Conversation { offered_agent_id: Some(agent), offer_expires_at: Some(until), ..c };
            self.publish_conversation(&offered, &[]).await;
        }
        Ok(())
    }
}
