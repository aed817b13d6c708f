//! Invites to a visitor's screen: claimed once for the whole cluster, sent to all the visitor's
//! tabs, and recorded as offered.

use super::*;

impl Chat {
    /// Whether the visitor is a new one not stored yet (nothing about it can be recorded).
    pub fn is_unstored_visitor(&self, visitor: VisitorId) -> bool {
        self.new_visitors.is_pending(visitor)
    }

    /// Claims the visitor's screen for an invite until `until`, for the whole cluster: false when
    /// another invite holds it. Being invited is worth remembering: a new visitor is stored now.
    pub async fn claim_invite(
        &self,
        visitor: VisitorId,
        invite_id: &str,
        until: Timestamp,
    ) -> ChatResult<bool> {
        let now = self.now();
        self.new_visitors.ensure_stored(self.store.as_ref(), visitor, now).await?;
        Ok(self.store.claim_invite(visitor, invite_id, until, now).await?)
    }

    /// Sends an invite to the visitor's widget (all their tabs) and records it as offered, with
    /// the queue an accepted chat goes to (`None`: the widget's default).
    pub async fn send_invite(
        &self,
        widget: WidgetId,
        visitor: VisitorId,
        invite: Invite,
        queue: Option<QueueId>,
    ) -> ChatResult<()> {
        // Being invited is something worth remembering: a new visitor is stored now.
        self.new_visitors.ensure_stored(self.store.as_ref(), visitor, self.now()).await?;
        let ev = beckon_store::NewInviteEvent {
            widget_id: widget,
            queue_id: queue,
            visitor_id: visitor,
            invite_id: invite.invite_id.clone(),
            source: invite.source.clone(),
            outcome: beckon_domain::invite::InviteOutcome::Offered,
            reason: None,
            message: invite.message.clone(),
        };
        // The invite goes out first: recording it is for analytics (idempotent, any order with
        // the widget's own outcome reports) and must not add a disk write to the invite latency.
        self.publish(vec![Topic::Visitor(visitor)], Event::Invite { visitor_id: visitor, invite }).await;
        if let Err(e) = self.store.record_invite_event(ev, self.now()).await {
            tracing::error!(error = %e, "recording a sent invite failed");
        }
        Ok(())
    }
}
