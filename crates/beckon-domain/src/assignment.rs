//! Which available agent gets the next conversation.
//!
//! The rule (DESIGN.md): among agents of the queue who are available and have a free slot, the one
//! with the most free capacity; ties go to the agent idle the longest. Offered-but-not-yet-accepted
//! conversations count against capacity, so one agent is never offered more than they can take.
//! Pure function: the caller gathers the loads (from presence and the store) and acts on the answer.

use crate::{AgentId, Presence, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLoad {
    pub agent_id: AgentId,
    pub presence: Presence,
    pub capacity: u32,
    /// Active conversations plus pending offers.
    pub load: u32,
    /// When the agent last received a conversation (or came online).
    pub idle_since: Timestamp,
}

impl AgentLoad {
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.load)
    }
}

/// The agent to offer the next conversation to, or `None` if nobody can take it.
pub fn pick_agent<'a>(
    agents: impl IntoIterator<Item = &'a AgentLoad>,
    exclude: &[AgentId],
) -> Option<AgentId> {
    agents
        .into_iter()
        .filter(|a| a.presence.takes_new_conversations() && a.free() > 0)
        .filter(|a| !exclude.contains(&a.agent_id))
        // Most free slots first; then the earliest idle_since (longest idle); then lowest id, so
        // the choice is deterministic.
        .min_by_key(|a| (std::cmp::Reverse(a.free()), a.idle_since, a.agent_id))
        .map(|a| a.agent_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: i64, presence: Presence, capacity: u32, load: u32, idle: i64) -> AgentLoad {
        AgentLoad { agent_id: AgentId(id), presence, capacity, load, idle_since: Timestamp(idle) }
    }

    #[test]
    fn most_free_capacity_wins() {
        let agents = [a(1, Presence::Available, 3, 2, 0), a(2, Presence::Available, 3, 0, 50)];
        assert_eq!(pick_agent(&agents, &[]), Some(AgentId(2)));
    }

    #[test]
    fn ties_go_to_the_longest_idle() {
        let agents = [a(1, Presence::Available, 2, 1, 200), a(2, Presence::Available, 2, 1, 100)];
        assert_eq!(pick_agent(&agents, &[]), Some(AgentId(2)));
    }

    #[test]
    fn unavailable_full_and_excluded_agents_are_skipped() {
        let agents = [
            a(1, Presence::Busy, 5, 0, 0),
            a(2, Presence::Away, 5, 0, 0),
            a(3, Presence::Offline, 5, 0, 0),
            a(4, Presence::Available, 2, 2, 0),
            a(5, Presence::Available, 2, 0, 0),
        ];
        assert_eq!(pick_agent(&agents, &[AgentId(5)]), None);
        assert_eq!(pick_agent(&agents, &[]), Some(AgentId(5)));
        assert_eq!(pick_agent(&[], &[]), None);
    }
}
