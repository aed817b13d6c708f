//! Starting a conversation: the queue it goes to (an invite's, the routing rules', the widget's, then
//! the queues' fallbacks), straight to the agent whose own invite the visitor accepted, and a
//! visitor who signs in during the chat.

use super::*;

impl Chat {
    /// Starts a conversation for the visitor, or returns the open one (`true` = it existed).
    /// `identity`: the authenticated visitor, whose token's context wins over the page's.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        &self,
        widget: &Widget,
        visitor: VisitorId,
        context: Context,
        proactive: bool,
        invite_id: Option<String>,
        identity: Option<&Identity>,
        seen: &Seen,
        language: &str,
    ) -> ChatResult<(Conversation, bool)> {
        if let Some(open) = self.store.open_conversation_of_visitor(visitor).await? {
            return Ok((open, true));
        }
        let context = match identity {
            Some(id) => context.merged_with(id.context.clone()),
            None => context,
        };
        let (queue_id, queue) = self.queue_for(widget, &context, identity, seen, proactive).await?;
        if let Some(hours) = queue.as_ref().and_then(|q| q.hours.as_ref()) {
            let status = hours.status(self.now());
            if !status.open {
                return Err(ChatError::QueueClosed(status.opens_at));
            }
        }
        let leave_message_at = queue
            .and_then(|q| q.leave_message_after_secs)
            .map(|s| self.now().plus_millis(i64::from(s) * 1_000));
        let visitor_name = context.visitor_name();
        let new = NewConversation {
            auth_sub: identity.map(|i| i.sub.clone()),
            auth_iss: identity.map(|i| i.issuer.clone()),
            org_id: widget.org_id,
            widget_id: widget.id,
            visitor_id: visitor,
            queue_id,
            proactive,
            invite_id,
            context,
            reply_email: None,
            leave_message_at,
            language: language.to_owned(),
            visitor_name,
        };
        let conversation = match self.store.create_conversation(new, self.now()).await {
            Ok(c) => c,
            // Another tab started one at the same moment: that one is the visitor's chat.
            Err(StoreError::Conflict(_)) => {
                let open = self.store.open_conversation_of_visitor(visitor).await?;
                return open.map(|c| (c, true)).ok_or(ChatError::NoOpenConversation);
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(conversation = %conversation.id, visitor = %visitor, proactive, "conversation started");
        if let Some(agent) = seen.invited_by
            && let Some(taken) = self.to_inviting_agent(&conversation, agent).await?
        {
            return Ok((taken, false));
        }
        self.publish_conversation(&conversation, &[]).await;
        if let Some(queue) = conversation.queue_id {
            if let Err(e) = self.try_route_queue(queue).await {
                tracing::error!(error = %e, queue = %queue, "routing failed");
            }
            // The newcomer hears their place in line before the reply (so before anything they
            // could send, and while their tabs are already listening); the others' news follows.
            if let Err(e) = self.announce_positions(queue, Some(conversation.id)).await {
                tracing::error!(error = %e, queue = %queue, "announcing the place in line failed");
            }
            self.positions_changed(queue);
        }
        Ok((conversation, false))
    }

    /// The queue a new conversation goes to: a trigger rule's invite names it, else the routing
    /// rules choose, else the widget's; then its fallbacks (see [`Chat::with_fallback`]). The
    /// queue's id, and its record when it exists.
    pub(super) async fn queue_for(
        &self,
        widget: &Widget,
        context: &Context,
        identity: Option<&Identity>,
        seen: &Seen,
        proactive: bool,
    ) -> ChatResult<(Option<QueueId>, Option<Queue>)> {
        let rules = match seen.invited_to {
            Some(_) => Vec::new(),
            None => self.store.routing_rules(widget.org_id).await?,
        };
        let facts = RouteFacts {
            context,
            page_url: seen.page_url.as_deref(),
            country: seen.country.as_deref(),
            authenticated: identity.is_some(),
            proactive,
        };
        let queue_id = match beckon_domain::routing::route(&rules, &facts) {
            Some((i, queue)) => {
                tracing::debug!(rule = %rules[i].name, queue = %queue, "routing rule matched");
                Some(queue)
            }
            None => seen.invited_to.or(widget.default_queue_id),
        };
        let queue = match queue_id {
            Some(q) => self.with_fallback(q).await?,
            None => None,
        };
        Ok((queue.as_ref().map(|q| q.id).or(queue_id), queue))
    }

    /// The queue a new chat for `first` goes to, following the queues' fallbacks (at most five
    /// steps, never a queue twice, never out of the organisation): the first that is open with
    /// someone at work (Available or Busy); else the first that is open (the chat waits there);
    /// else `first` (closed: the chat is refused with the time it opens). Returns the chosen
    /// queue's record, so callers need not read it again (`None`: `first` does not exist).
    pub async fn with_fallback(&self, first: QueueId) -> Result<Option<Queue>, StoreError> {
        let now = self.now();
        let mut chain: Vec<(Queue, bool)> = Vec::new(); // (queue, open)
        let mut next = Some(first);
        while let Some(id) = next.take() {
            if chain.len() == 5 || chain.iter().any(|(q, _)| q.id == id) {
                break;
            }
            let Some(queue) = self.store.queue(id).await? else { break };
            if chain.first().is_some_and(|(q, _)| q.org_id != queue.org_id) {
                break;
            }
            let open = queue.hours.as_ref().is_none_or(|h| h.status(now).open);
            if open && (queue.fallback_queue_id.is_none() || self.anyone_available(id).await?) {
                // Open and staffed, or open with nowhere further to go: here.
                return Ok(Some(chosen(first, queue)));
            }
            next = queue.fallback_queue_id;
            chain.push((queue, open));
        }
        let open = chain.iter().position(|(_, open)| *open).unwrap_or(0);
        Ok((open < chain.len()).then(|| chosen(first, chain.swap_remove(open).0)))
    }

    /// A chat that comes from an agent's own invite goes straight to that agent (no offer to
    /// accept, no "waiting for an agent"), as long as they are still of this organisation,
    /// enabled and not offline; `None` leaves it to routing.
    pub(super) async fn to_inviting_agent(
        &self,
        c: &Conversation,
        agent: AgentId,
    ) -> ChatResult<Option<Conversation>> {
        let Some(inviter) = self.store.agent(agent).await?.filter(|a| a.org_id == c.org_id && !a.disabled)
        else {
            return Ok(None);
        };
        if self.effective_presence(inviter.id).await? == Presence::Offline {
            return Ok(None);
        }
        let Some(taken) = self.store.take_conversation(c.id, inviter.id, self.now()).await? else {
            return Ok(None);
        };
        tracing::info!(conversation = %c.id, agent = %inviter.id, "conversation from an agent's invite goes to that agent");
        self.publish_conversation(&taken, &[]).await;
        self.system_message(c.id, say(&c.language, Line::Joined(&inviter.name)), &["agentaccepted"]).await?;
        Ok(Some(taken))
    }

    /// An anonymous visitor signed in: their open conversation continues as the authenticated
    /// person's, with the token's context variables added (they win on a name clash).
    pub async fn authenticate(
        &self,
        visitor: VisitorId,
        identity: &Identity,
    ) -> ChatResult<Option<Conversation>> {
        self.store.set_visitor_auth_sub(visitor, &identity.issuer, &identity.sub).await?;
        let Some(open) = self.store.open_conversation_of_visitor(visitor).await? else { return Ok(None) };
        let context = open.context.clone().merged_with(identity.context.clone());
        let updated =
            self.store.authenticate_conversation(open.id, &identity.issuer, &identity.sub, &context).await?;
        if let Some(c) = &updated {
            tracing::info!(conversation = %c.id, "visitor authenticated during the conversation");
            self.publish_conversation(c, &[]).await;
        }
        Ok(updated)
    }
}
