//! Agent presence on this node: what each agent chose, and whether any of their consoles is open.
//!
//! The effective presence routing sees is the chosen one while at least one console is
//! connected, and `offline` otherwise — except that when the last console closes, the agent
//! stays as they were for a grace period, so reloading the console (or a short network loss)
//! does not hand their offers to someone else. The chosen presence is also stored, so it survives
//! a reload or a server restart. (Cluster-wide presence arrives with the NATS bus.)

use beckon_domain::{AgentId, Presence, Timestamp};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct PresenceBoard {
    agents: Mutex<HashMap<AgentId, Entry>>,
    closings: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    chosen: Presence,
    consoles: usize,
    /// The last console closed and the grace period runs; the number identifies this closing.
    lingering: Option<u64>,
    /// When the agent last received a conversation or came online: ties in assignment go to
    /// the agent idle the longest.
    idle_since: Timestamp,
}

impl PresenceBoard {
    /// A console opened. Returns the effective presence before and after.
    pub fn connect(&self, agent: AgentId, stored: Presence, now: Timestamp) -> (Presence, Presence) {
        let mut agents = self.agents.lock().expect("presence lock");
        let e = agents.entry(agent).or_insert(Entry {
            chosen: stored,
            consoles: 0,
            lingering: None,
            idle_since: now,
        });
        let before = effective(e);
        e.consoles += 1;
        e.lingering = None;
        (before, effective(e))
    }

    /// A console closed. When it was the last, the presence lingers: the returned number is to
    /// be passed to [`expire`](Self::expire) once the grace period is over.
    pub fn disconnect(&self, agent: AgentId) -> Option<u64> {
        let mut agents = self.agents.lock().expect("presence lock");
        let e = agents.get_mut(&agent).filter(|e| e.consoles > 0)?;
        e.consoles -= 1;
        if e.consoles > 0 {
            return None;
        }
        let closing = self.closings.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        e.lingering = Some(closing);
        Some(closing)
    }

    /// The grace period after a closing is over: offline, unless a console came back since.
    /// Returns the effective presence before and after.
    pub fn expire(&self, agent: AgentId, closing: u64) -> (Presence, Presence) {
        let mut agents = self.agents.lock().expect("presence lock");
        let Some(e) = agents.get_mut(&agent) else { return (Presence::Offline, Presence::Offline) };
        let before = effective(e);
        if e.lingering == Some(closing) {
            e.lingering = None;
        }
        (before, effective(e))
    }

    /// The agent chose a presence. Returns the effective presence after.
    pub fn choose(&self, agent: AgentId, chosen: Presence, now: Timestamp) -> Presence {
        let mut agents = self.agents.lock().expect("presence lock");
        let e =
            agents.entry(agent).or_insert(Entry { chosen, consoles: 0, lingering: None, idle_since: now });
        if chosen == Presence::Available && e.chosen != Presence::Available {
            e.idle_since = now;
        }
        e.chosen = chosen;
        effective(e)
    }

    pub fn effective(&self, agent: AgentId) -> Presence {
        self.agents.lock().expect("presence lock").get(&agent).map_or(Presence::Offline, effective)
    }

    pub fn idle_since(&self, agent: AgentId) -> Timestamp {
        self.agents.lock().expect("presence lock").get(&agent).map_or(Timestamp(0), |e| e.idle_since)
    }

    pub fn mark_assigned(&self, agent: AgentId, now: Timestamp) {
        if let Some(e) = self.agents.lock().expect("presence lock").get_mut(&agent) {
            e.idle_since = now;
        }
    }
}

fn effective(e: &Entry) -> Presence {
    if e.consoles == 0 && e.lingering.is_none() { Presence::Offline } else { e.chosen }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_lingers_after_the_last_console_and_then_goes_offline() {
        let b = PresenceBoard::default();
        let a = AgentId(1);
        assert_eq!(b.effective(a), Presence::Offline);
        assert_eq!(b.choose(a, Presence::Available, Timestamp(1)), Presence::Offline);
        assert_eq!(b.connect(a, Presence::Offline, Timestamp(2)), (Presence::Offline, Presence::Available));
        assert_eq!(b.connect(a, Presence::Offline, Timestamp(3)).1, Presence::Available);
        assert_eq!(b.disconnect(a), None, "another console is still open");
        let closing = b.disconnect(a).expect("the last console closed");
        assert_eq!(b.effective(a), Presence::Available, "lingers during the grace period");
        // A reload: the console comes back before the grace period ends.
        b.connect(a, Presence::Offline, Timestamp(4));
        assert_eq!(b.expire(a, closing), (Presence::Available, Presence::Available));
        let closing = b.disconnect(a).unwrap();
        assert_eq!(b.expire(a, closing), (Presence::Available, Presence::Offline));
        assert_eq!(b.disconnect(a), None, "no console open: nothing to close");
    }
}
