//! The sweeper: acts on the deadlines stored in the database, whichever node stored them.
//!
//! Deadlines are data (an offer's `offer_expires_at`, a node's lease, a closed console's end of
//! grace), not sleeping tasks, so they survive a restart and a node that dies with them. Every
//! node runs one sweeper; it renews its own node's lease, then does whatever is due: nodes whose
//! lease ran out are dead (their consoles count as closed from then), offers not accepted in time
//! go to the next agent, agents whose consoles' grace ended go offline, visitors who waited long
//! enough are offered to leave a message, agents' answers to left
//! messages are mailed (`mail/replies.rs`, when email is configured). The store hands each due
//! item to exactly one node. The sweeper sleeps until the earliest deadline — on the injected
//! clock, so tests move time instead of waiting — and at most `POLL_MS`, to notice deadlines
//! other nodes stored; this node's own new deadlines wake it at once.

use crate::chat::Chat;
use crate::mail::Mailer;
use crate::timers::Timers;
use beckon_domain::Timestamp;
use beckon_store::Store;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A node that has not renewed its lease for this long is dead.
pub const NODE_LEASE_MS: i64 = 30_000;
/// How often a node renews its lease.
const HEARTBEAT_MS: i64 = NODE_LEASE_MS / 3;
/// The longest the sweeper sleeps: deadlines other nodes store are seen at least this often.
const POLL_MS: i64 = 5_000;

pub struct Sweeper {
    store: Arc<dyn Store>,
    chat: Arc<Chat>,
    timers: Arc<Timers>,
    /// This node stored a deadline (wake and look again).
    deadlines: Arc<Notify>,
    /// Sends answers to left messages (none: email is not configured).
    mailer: Option<Arc<Mailer>>,
}

impl Sweeper {
    pub fn new(
        store: Arc<dyn Store>,
        chat: Arc<Chat>,
        timers: Arc<Timers>,
        deadlines: Arc<Notify>,
        mailer: Option<Arc<Mailer>>,
    ) -> Self {
        Self { store, chat, timers, deadlines, mailer }
    }

    /// Registers this node (before it takes any socket), so its consoles belong to a live node.
    pub async fn register(&self) -> Result<(), beckon_store::StoreError> {
        let now = self.timers.now();
        self.store.node_heartbeat(self.chat.node_id(), now.plus_millis(NODE_LEASE_MS), now).await
    }

    /// Runs until `shutdown`, then records that this node stopped (its consoles close now).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_heartbeat = self.timers.now().plus_millis(HEARTBEAT_MS);
        loop {
            let now = self.timers.now();
            if now >= next_heartbeat {
                if let Err(e) =
                    self.store.node_heartbeat(self.chat.node_id(), now.plus_millis(NODE_LEASE_MS), now).await
                {
                    tracing::error!(error = %e, "renewing this node's lease failed");
                }
                next_heartbeat = now.plus_millis(HEARTBEAT_MS);
            }
            let next = match self.sweep(now).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "sweeping deadlines failed");
                    None
                }
            };
            let wake = [next, Some(next_heartbeat), Some(now.plus_millis(POLL_MS))]
                .into_iter()
                .flatten()
                .min()
                .expect("at least the poll");
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.timers.sleep_until(wake) => {}
                _ = self.deadlines.notified() => {}
            }
        }
        if let Err(e) = self.store.node_stopped(self.chat.node_id(), self.timers.now()).await {
            tracing::warn!(error = %e, "recording this node's stop failed");
        }
    }

    /// Does what is due at `now`; returns the next deadline.
    async fn sweep(&self, now: Timestamp) -> Result<Option<Timestamp>, beckon_store::StoreError> {
        let grace = self.chat.presence_grace_ms();
        let mail = self.mailer.is_some();
        let next = self.store.next_deadline(grace, mail).await?;
        if next.is_none_or(|at| at > now) {
            return Ok(next);
        }
        for node in self.store.expire_nodes(now).await? {
            tracing::warn!(node, "a node stopped renewing its lease; its consoles count as closed");
        }
        let expired = self.store.expire_offers(now).await?;
        if !expired.is_empty() {
            self.chat.offers_expired(expired).await;
        }
        for agent in self.store.drop_closed_consoles(now.plus_millis(-grace)).await? {
            self.chat.grace_over(agent).await;
        }
        let due = self.store.take_due_leave_message_offers(now).await?;
        if !due.is_empty() {
            self.chat.leave_message_offers_due(due).await;
        }
        if let Some(mailer) = &self.mailer {
            crate::mail::replies::deliver_due(&*self.store, mailer, &self.chat, now).await?;
            crate::mail::outbox::deliver_due(&*self.store, mailer, now).await?;
        }
        self.store.next_deadline(grace, mail).await
    }
}
