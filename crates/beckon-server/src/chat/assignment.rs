//! Who has a conversation: accepting an offer, taking a chat from the waiting list, declining,
//! transferring to a queue or a colleague, and giving back a disabled agent's chats.

use super::*;

impl Chat {
    pub async fn accept(&self, conversation: ConversationId, agent: &Agent) -> ChatResult<Conversation> {
        let accepted = self
            .store
            .accept_conversation(conversation, agent.id, self.now())
            .await?
            .ok_or(ChatError::OfferGone)?;
        tracing::info!(conversation = %conversation, agent = %agent.id, "conversation accepted");
        self.publish_conversation(&accepted, &[]).await;
        self.system_message(
            conversation,
            say(&accepted.language, Line::Joined(&agent.name)),
            &["agentaccepted"],
        )
        .await?;
        // Everyone behind it in line moves up.
        if let Some(q) = accepted.queue_id {
            self.positions_changed(q);
        }
        Ok(accepted)
    }

    /// The agent takes a chat from the waiting list: it is theirs at once, whoever it was
    /// offered to (that offer is withdrawn). Members of the chat's queue may, and admins of its
    /// organisation — also when Away or Busy, and when they declined it before.
    pub async fn take(&self, conversation: ConversationId, agent: &Agent) -> ChatResult<Conversation> {
        let c = self
            .store
            .conversation(conversation)
            .await?
            .filter(|c| c.org_id == agent.org_id)
            .ok_or(ChatError::NotYours)?;
        if !self.serves(agent, c.queue_id).await? {
            return Err(ChatError::NotYours);
        }
        let offered = c.offered_agent_id.filter(|a| *a != agent.id);
        let taken = self
            .store
            .take_conversation(conversation, agent.id, self.now())
            .await?
            .ok_or(ChatError::OfferGone)?;
        tracing::info!(conversation = %conversation, agent = %agent.id, "conversation taken from the waiting list");
        self.publish_conversation(&taken, offered.as_slice()).await;
        self.system_message(
            conversation,
            say(&taken.language, Line::Joined(&agent.name)),
            &["agentaccepted"],
        )
        .await?;
        if let Some(q) = taken.queue_id {
            self.positions_changed(q);
        }
        Ok(taken)
    }

    /// Whether the agent sees (and may take) the waiting chats of `queue`: its members do, and
    /// the organisation's admins see every queue.
    pub async fn serves(&self, agent: &Agent, queue: Option<QueueId>) -> ChatResult<bool> {
        if agent.role == Role::Admin {
            return Ok(true);
        }
        let Some(queue) = queue else { return Ok(false) };
        Ok(self.store.agent_queues(agent.id).await?.contains(&queue))
    }

    /// The assigned agent hands the conversation to another queue or agent, with an optional
    /// note only agents see. The visitor is told they are being transferred; the conversation
    /// waits (`transferred`) until the target accepts it.
    pub async fn transfer(
        &self,
        conversation: ConversationId,
        agent: &Agent,
        to: TransferTarget,
        note: Option<String>,
    ) -> ChatResult<Conversation> {
        let c = self.store.conversation(conversation).await?.ok_or(ChatError::NotYours)?;
        if c.agent_id != Some(agent.id) {
            return Err(ChatError::NotYours);
        }
        c.state.apply(Transition::Transfer).map_err(|_| ChatError::Closed)?;
        let (queue, to_agent) = match to {
            TransferTarget::Queue(q) => {
                let queue = self.store.queue(q).await?.filter(|q| q.org_id == agent.org_id);
                let queue =
                    queue.ok_or_else(|| ChatError::Invalid("invalid_field", "no such queue".into()))?;
                (Some(queue.id), None)
            }
            TransferTarget::Agent(a) => {
                let target = self
                    .store
                    .agent(a)
                    .await?
                    .filter(|t| t.org_id == agent.org_id && t.id != agent.id && !t.disabled);
                let target =
                    target.ok_or_else(|| ChatError::Invalid("invalid_field", "no such colleague".into()))?;
                if self.effective_presence(target.id).await? == Presence::Offline {
                    return Err(ChatError::Invalid(
                        "agent_unavailable",
                        format!("{} is offline", target.name),
                    ));
                }
                (None, Some(target.id))
            }
        };
        if let Some(note) = note.filter(|n| !n.trim().is_empty()) {
            let text = MessageText::parse(&note)
                .map_err(|e| ChatError::Invalid("invalid_message", e.to_string()))?;
            let new = NewMessage {
                conversation_id: conversation,
                sender: Sender::agent(agent.id, agent.name.clone()),
                text,
                tags: vec![INTERNAL_TAG.into(), "transfernote".into()],
                client_msg_id: None,
                attachment: None,
            };
            let message = self.store.append_message(new, self.now()).await?.message;
            self.publish(vec![Topic::Conversation(conversation)], Event::Message { message }).await;
        }
        let now = self.now();
        let offer = to_agent.map(|a| (a, now.plus_millis(self.offer_timeout_ms)));
        let moved = self
            .store
            .transfer_conversation(conversation, agent.id, queue, offer, now)
            .await?
            .ok_or(ChatError::Closed)?;
        tracing::info!(conversation = %conversation, from = %agent.id, ?to_agent, ?queue, "conversation transferred");
        self.system_message(
            conversation,
            say(&moved.language, Line::Transferring),
            &["agentleft", "transferred"],
        )
        .await?;
        self.publish_conversation(&moved, &[agent.id]).await;
        if to_agent.is_some() {
            self.deadline_added();
        } else if let Some(q) = moved.queue_id {
            self.route_queue(q).await;
        }
        // The transferring agent has a free slot again.
        self.route_agent(agent.id).await;
        Ok(moved)
    }

    /// Tells the agent's open consoles to check their session and role now (sign-out, a
    /// password change, disabling, a new role).
    pub async fn agent_changed(&self, agent: AgentId) {
        self.publish(vec![Topic::Agent(agent)], Event::AgentChanged { agent_id: agent }).await;
    }

    /// A disabled agent's conversations go back to their queues (the visitor is told they are
    /// being transferred) and its offers to other agents.
    pub async fn release_agent(&self, agent: &Agent) {
        self.withdraw_offers_of(agent.id).await;
        let open = match self.store.open_conversations_of_agent(agent.id).await {
            Ok(open) => open,
            Err(e) => return tracing::error!(error = %e, agent = %agent.id, "releasing conversations failed"),
        };
        for c in open.into_iter().filter(|c| c.agent_id == Some(agent.id)) {
            let Some(queue) = c.queue_id else { continue };
            let note = Some(format!("{} was disabled; the chat went back to the queue.", agent.name));
            if let Err(e) = self.transfer(c.id, agent, TransferTarget::Queue(queue), note).await {
                tracing::error!(error = %e, conversation = %c.id, "handing back a disabled agent's chat failed");
            }
        }
    }

    /// The agent declined an offer; it goes to someone else.
    pub async fn decline(&self, conversation: ConversationId, agent: AgentId) -> ChatResult<()> {
        if !self.store.decline_offer(conversation, agent, self.now()).await? {
            return Err(ChatError::OfferGone);
        }
        if let Some(c) = self.store.conversation(conversation).await? {
            self.publish_conversation(&c, &[agent]).await;
            if let Some(q) = c.queue_id {
                self.route_queue(q).await;
            }
        }
        Ok(())
    }
}
