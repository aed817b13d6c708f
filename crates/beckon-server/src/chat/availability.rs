//! Whether a queue can take a chat now (hours, a free agent, the wait to expect): what
//! `getAgentAvailability()` answers and what the trigger rules' capacity limits ask.

use super::*;

impl Chat {
    /// What `getAgentAvailability()` answers for a widget's visitor: the queue the visitor's
    /// chat goes to, whether an agent could take it now, the visitor's place in the queue if
    /// waiting, and the queue's average wait over the last day.
    pub async fn availability(
        &self,
        widget: &Widget,
        waiting: Option<ConversationId>,
    ) -> ChatResult<Availability> {
        let Some(queue) = widget.default_queue_id else {
            return Ok(Availability::default());
        };
        // Where a chat started now would go (the widget's queue, or its fallback).
        let queue = self.with_fallback(queue).await?.map_or(queue, |q| q.id);
        let capacity = self.queue_capacity(queue).await?;
        let position = match waiting {
            Some(c) => self.store.queue_position(c).await?,
            None => None,
        };
        Ok(Availability {
            queue_id: Some(queue),
            is_queue_available: capacity.open,
            is_agent_available: capacity.free_agent && capacity.open,
            position_in_queue: position,
            average_wait_time_s: capacity.average_wait_ms.map(|ms| (ms + 999) / 1_000),
            start_time_of_next_operating_hour: capacity.opens_at,
            end_time_of_next_operating_hour: capacity.closes_at,
        })
    }

    /// Whether a queue can take a conversation now: its hours, a free agent, the wait to expect.
    /// `getAgentAvailability()` and the trigger rules' capacity limits both answer from this.
    pub async fn queue_capacity(&self, queue: QueueId) -> ChatResult<QueueCapacity> {
        let agents = self.store.queue_agents(queue).await?;
        let ids: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let loads = self.store.agent_loads(&ids).await?;
        let presences = self.presences(&ids).await?;
        let free_agent = agents.iter().any(|a| {
            presences.get(&a.id).is_some_and(|p| p.effective().takes_new_conversations())
                && loads.get(&a.id).copied().unwrap_or(0) < a.capacity
        });
        let day_ago = Timestamp(self.now().0 - 24 * 3_600_000);
        let average_wait_ms = self.store.average_wait_ms(queue, day_ago).await?;
        let hours = self.store.queue(queue).await?.and_then(|q| q.hours).map(|h| h.status(self.now()));
        let open = hours.is_none_or(|h| h.open);
        // Nobody free: a newcomer waits behind everyone already waiting, each taking about the
        // average wait. Unknown when there is no recent wait to go by.
        let predicted_wait_s = match (open && free_agent, average_wait_ms) {
            (true, _) => Some(0),
            (false, Some(avg)) => {
                let ahead = self.store.unoffered_waiting(queue).await?.len() as i64;
                u32::try_from((avg * (ahead + 1) + 999) / 1_000).ok()
            }
            (false, None) => None,
        };
        Ok(QueueCapacity {
            open,
            opens_at: hours.and_then(|h| h.opens_at),
            closes_at: hours.and_then(|h| h.closes_at),
            free_agent,
            average_wait_ms,
            predicted_wait_s,
        })
    }
}

/// A queue's readiness for one more conversation (see [`Chat::queue_capacity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCapacity {
    /// Inside its operating hours (or it has none).
    pub open: bool,
    pub opens_at: Option<Timestamp>,
    pub closes_at: Option<Timestamp>,
    /// An available agent of the queue has a free slot.
    pub free_agent: bool,
    /// Mean time to acceptance over the last 24 hours.
    pub average_wait_ms: Option<i64>,
    /// What a newcomer should expect to wait.
    pub predicted_wait_s: Option<u32>,
}
