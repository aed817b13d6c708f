//! The end of a chat: the visitor closing it or the agent ending it, then what a visitor may do
//! after — rate it, or have its transcript emailed.

use super::*;

impl Chat {
    /// The visitor rates their chat (ended, answered by an agent): stored, and the agents'
    /// views of the conversation hear of it.
    pub async fn rate(
        &self,
        conversation: ConversationId,
        visitor: VisitorId,
        score: i64,
        comment: Option<&str>,
    ) -> ChatResult<Conversation> {
        if !(1..=5).contains(&score) {
            return Err(ChatError::Invalid("invalid_field", "score: 1 to 5".into()));
        }
        if comment.is_some_and(|c| c.chars().count() > 1_000) {
            return Err(ChatError::Invalid("invalid_field", "comment: at most 1000 characters".into()));
        }
        let rated = self.store.rate_conversation(conversation, visitor, score, comment, self.now()).await?;
        let Some(rated) = rated else {
            // Another visitor's, still open, or never answered: say which, without telling
            // another visitor's conversation apart from a missing one.
            let mine = self.store.conversation(conversation).await?.filter(|c| c.visitor_id == visitor);
            return Err(match mine {
                None => ChatError::NotYours,
                Some(_) => ChatError::Invalid(
                    "not_ratable",
                    "only a chat an agent answered can be rated, once it has ended".into(),
                ),
            });
        };
        tracing::info!(conversation = %conversation, score, "chat rated");
        self.publish_conversation(&rated, &[]).await;
        Ok(rated)
    }

    /// The visitor asks for their chat's transcript by email: queued in the store for the mail
    /// sweep. Their own conversation only, and at most [`TRANSCRIPTS_PER_CHAT`] emails per chat
    /// (an anonymous visitor must not turn the server into a mail cannon).
    pub async fn email_transcript(
        &self,
        conversation: ConversationId,
        visitor: VisitorId,
        email: &str,
        tz: &jiff::tz::TimeZone,
        title: &str,
    ) -> ChatResult<()> {
        let c = self
            .store
            .conversation(conversation)
            .await?
            .filter(|c| c.visitor_id == visitor)
            .ok_or(ChatError::NotYours)?;
        if self.store.mail_count_of_conversation(c.id).await? >= TRANSCRIPTS_PER_CHAT {
            return Err(ChatError::Invalid(
                "too_many_emails",
                format!("at most {TRANSCRIPTS_PER_CHAT} transcripts are emailed per chat"),
            ));
        }
        let messages = self.store.messages_after(c.id, 0, 10_000).await?;
        let (subject, body) = crate::mail::transcript::compose(&c, &messages, tz, title);
        self.store.queue_mail(c.org_id, Some(c.id), email, &subject, &body, self.now()).await?;
        self.deadline_added();
        tracing::info!(conversation = %c.id, "transcript email queued");
        Ok(())
    }

    /// The visitor closed the chat: `abandoned` if no agent had accepted it, else `ended`.
    pub async fn close_by_visitor(
        &self,
        conversation: ConversationId,
        visitor: VisitorId,
    ) -> ChatResult<Conversation> {
        let c = self.store.conversation(conversation).await?.ok_or(ChatError::NoOpenConversation)?;
        if c.visitor_id != visitor {
            return Err(ChatError::NotYours);
        }
        let to = if c.accepted_at.is_none() { Transition::Abandon } else { Transition::End };
        let target = c.state.apply(to).map_err(|_| ChatError::Closed)?;
        let closed = self
            .store
            .close_conversation(conversation, target, self.now())
            .await?
            .ok_or(ChatError::Closed)?;
        self.system_message(
            conversation,
            say(&c.language, Line::VisitorEnded),
            &["conversationended", "visitorended"],
        )
        .await?;
        self.after_close(&c, &closed).await;
        Ok(closed)
    }

    /// The assigned agent ended the chat.
    pub async fn end_by_agent(
        &self,
        conversation: ConversationId,
        agent: &Agent,
    ) -> ChatResult<Conversation> {
        let c = self.store.conversation(conversation).await?.ok_or(ChatError::NotYours)?;
        if c.agent_id != Some(agent.id) {
            return Err(ChatError::NotYours);
        }
        let target = c.state.apply(Transition::End).map_err(|_| ChatError::Closed)?;
        let closed = self
            .store
            .close_conversation(conversation, target, self.now())
            .await?
            .ok_or(ChatError::Closed)?;
        self.system_message(
            conversation,
            say(&c.language, Line::AgentEnded(&agent.name)),
            &["conversationended", "agentended"],
        )
        .await?;
        self.after_close(&c, &closed).await;
        Ok(closed)
    }

    pub(super) async fn after_close(&self, before: &Conversation, closed: &Conversation) {
        tracing::info!(conversation = %closed.id, state = closed.state.as_str(), "conversation closed");
        let offered: Vec<AgentId> = before.offered_agent_id.into_iter().collect();
        self.publish_conversation(closed, &offered).await;
        // The agent's slot (or pending offer) is free again.
        if let Some(agent) = before.agent_id.or(before.offered_agent_id) {
            self.route_agent(agent).await;
        }
    }
}
