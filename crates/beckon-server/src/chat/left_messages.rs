//! Messages left for an answer by email, when nobody can chat or a waiting visitor would rather
//! not wait: they wait unoffered for an agent to take them, and the answers are mailed
//! (`mail/replies.rs`).

use super::*;

impl Chat {
    /// A message left for an answer by email (nobody can chat now, or the visitor would rather
    /// not wait): the visitor's waiting conversation becomes one, or a new one is started in the
    /// queue routing chooses — closed or not, it is read when agents are back. Routing never
    /// offers it; agents take it from the waiting list, and their answers are mailed
    /// (`mail/replies.rs`). An empty `text` adds nothing to a waiting chat's words.
    #[allow(clippy::too_many_arguments)]
    pub async fn leave_message(
        &self,
        widget: &Widget,
        visitor: VisitorId,
        context: Context,
        identity: Option<&Identity>,
        seen: &Seen,
        email: &str,
        text: Option<MessageText>,
        client_msg_id: ClientMsgId,
        language: &str,
    ) -> ChatResult<Conversation> {
        let conversation = match self.store.open_conversation_of_visitor(visitor).await? {
            Some(open) => self.to_left_message(open, email).await?,
            None => {
                if text.is_none() {
                    return Err(ChatError::Invalid("invalid_message", "write the message to leave".into()));
                }
                let context = match identity {
                    Some(id) => context.merged_with(id.context.clone()),
                    None => context,
                };
                let (queue_id, _) = self.queue_for(widget, &context, identity, seen, false).await?;
                let visitor_name = context.visitor_name();
                let new = NewConversation {
                    auth_sub: identity.map(|i| i.sub.clone()),
                    auth_iss: identity.map(|i| i.issuer.clone()),
                    org_id: widget.org_id,
                    widget_id: widget.id,
                    visitor_id: visitor,
                    queue_id,
                    proactive: false,
                    invite_id: None,
                    context,
                    reply_email: Some(email.to_owned()),
                    leave_message_at: None,
                    language: language.to_owned(),
                    visitor_name,
                };
                match self.store.create_conversation(new, self.now()).await {
                    Ok(c) => c,
                    // Another tab started a chat at the same moment: the message goes there.
                    Err(StoreError::Conflict(_)) => {
                        let open = self.store.open_conversation_of_visitor(visitor).await?;
                        self.to_left_message(open.ok_or(ChatError::NoOpenConversation)?, email).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        tracing::info!(conversation = %conversation.id, visitor = %visitor, "message left for an answer by email");
        let conversation = match text {
            Some(text) => {
                let a = self.send(conversation.id, Sender::visitor(), text, client_msg_id).await?;
                Conversation { last_seq: conversation.last_seq.max(a.message.seq), ..conversation }
            }
            None => conversation,
        };
        self.publish_conversation(&conversation, &[]).await;
        if let Some(queue) = conversation.queue_id {
            // It left the line: the others move up.
            self.positions_changed(queue);
        }
        Ok(conversation)
    }

    /// Visitors who waited their queue's `leave_message_after_secs` and still have no agent are
    /// told they may leave a message instead (the widget offers the form beside it); a chat an
    /// agent took, or one already left as a message, is passed over.
    pub async fn leave_message_offers_due(&self, due: Vec<Conversation>) {
        for c in due {
            if c.state != ConversationState::Queued || c.accepted_at.is_some() || c.reply_email.is_some() {
                continue;
            }
            tracing::info!(conversation = %c.id, "no agent yet: the visitor is offered to leave a message");
            let text = say(&c.language, Line::LeaveMessageOffer);
            if let Err(e) = self.system_message(c.id, text, &["leavemessage"]).await {
                tracing::error!(error = %e, conversation = %c.id, "offering to leave a message failed");
            }
        }
    }

    /// The visitor's open conversation, answered by email at `email` from now on: refused once an
    /// agent has it (the visitor writes to them in the chat).
    pub(super) async fn to_left_message(&self, open: Conversation, email: &str) -> ChatResult<Conversation> {
        if open.agent_id.is_some() {
            return Err(ChatError::Invalid(
                "chat_open",
                "an agent is already in this chat: write to them there".into(),
            ));
        }
        self.store.set_reply_email(open.id, email).await?.ok_or(ChatError::Invalid(
            "chat_open",
            "an agent is already in this chat: write to them there".into(),
        ))
    }
}
