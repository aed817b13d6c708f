//! The PostgreSQL backend, for running several Beckon nodes on one database (or for operators who
//! already run PostgreSQL): the same [`Store`] as SQLite, held to the same conformance suite.
//!
//! SQLite makes every write go through one connection, so its read-check-write steps cannot
//! interleave. Here many connections (and many nodes) write at once, so each such step is made
//! atomic by PostgreSQL itself: a single conditional `update … returning` (whose `where` is
//! checked again on the row's newest version when another transaction changed it first), `insert
//! … on conflict`, or, where a step reads before it writes, a row lock taken first (`for no key
//! update` on the agent of a capacity-checked offer, on the visitor whose visit is touched or
//! whose invite outcome is recorded, on the agent whose queues are replaced). Sweeps that several
//! nodes run at once (`expire_offers`, `expire_nodes`) claim rows by deleting or updating them in
//! one statement, so each row goes to exactly one caller.
//!
//! Message appends go through group-commit writer tasks (see [`append`]). Full-text search of messages
//! uses a stored `tsvector` column (the `simple` configuration: words lowercased, no stemming) with
//! a GIN index, standing in for SQLite's FTS5 index; see `search_conversations` for how the two
//! differ.
//!
//! The schema (`migrations/postgres/`) is the final SQLite schema, written once per concept
//! (organisation, agent, visitor, conversation, cluster) rather than replayed as SQLite's history
//! of `alter table`s: there is no older PostgreSQL database to migrate, and a reader sees each
//! table whole. Later changes add numbered files as for SQLite.

mod append;
mod rows;

use crate::*;
use append::{AppendRequest, MAX_BATCH, group_commit};
use beckon_domain::attachment::Attachment;
use beckon_domain::message::{Message, NewMessage};
use beckon_domain::model::{PageView, Role, VisitMeta, VisitorSummary, WidgetAuth, WidgetSettings};
use rows::*;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Row};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Connections per store (each node): the group-commit writers need one each, the rest serve
/// requests.
const MAX_CONNECTIONS: u32 = 16;

/// Group-commit writers per store: while one batch waits for its commit's WAL flush, the others'
/// statements run (a single writer left PostgreSQL idle between round trips).
const WRITERS: usize = 4;

pub struct PgStore {
    pool: PgPool,
    /// One group-commit writer per partition of the conversations (by id): a conversation's
    /// appends always go through the same writer, so they are numbered in the order they came,
    /// while other conversations' batches commit alongside.
    appends: Vec<mpsc::Sender<AppendRequest>>,
}

impl PgStore {
    /// Opens the database at `url` (`postgres://user:password@host:port/database`), creating the
    /// database if it does not exist and the user may, and applies pending migrations (under
    /// sqlx's advisory lock, so nodes starting together migrate once).
    pub async fn open(url: &str) -> Result<Self> {
        let pool = match Self::pool(url).await {
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.code().as_deref() == Some("3D000") => {
                tracing::info!("creating the PostgreSQL database the URL names");
                Postgres::create_database(url).await?;
                Self::pool(url).await?
            }
            r => r?,
        };
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let appends = (0..WRITERS)
            .map(|_| {
                let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(group_commit(pool.clone(), rx));
                tx
            })
            .collect();
        Ok(Self { pool, appends })
    }

    async fn pool(url: &str) -> Result<PgPool> {
        Ok(PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // While the database is down a request fails within this, with a retryable error.
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?)
    }
}

/// `Conflict(what)` for a unique violation, the database error otherwise.
fn conflict_on_unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| if StoreError::is_unique_violation(&e) { StoreError::Conflict(what) } else { e.into() }
}

/// A person's search words, at most 16, each matched as written (an operator or a quote typed
/// in the box is just a word). Words without a letter or digit carry nothing to search for and
/// are dropped; `None` when nothing is left although something was typed (matches nothing).
fn search_words(input: &str) -> Option<Vec<&str>> {
    let typed: Vec<&str> = input.split_whitespace().take(16).collect();
    let words: Vec<&str> = typed.iter().copied().filter(|w| w.chars().any(char::is_alphanumeric)).collect();
    if words.is_empty() && !typed.is_empty() { None } else { Some(words) }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_org(&self, name: &str, now: Timestamp) -> Result<Org> {
        let id: i64 =
            sqlx::query_scalar("insert into org (name, created_at) values ($1, $2) returning org_id")
                .bind(name)
                .bind(now.0)
                .fetch_one(&self.pool)
                .await?;
        Ok(Org { id: OrgId(id), name: name.to_owned(), created_at: now })
    }

    async fn create_queue(&self, org: OrgId, name: &str, now: Timestamp) -> Result<Queue> {
        let id: i64 = sqlx::query_scalar(
            "insert into queue (org_id, name, created_at) values ($1, $2, $3) returning queue_id",
        )
        .bind(org.0)
        .bind(name)
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_on_unique("queue name taken"))?;
        Ok(Queue {
            id: QueueId(id),
            org_id: org,
            name: name.to_owned(),
            hours: None,
            fallback_queue_id: None,
            leave_message_after_secs: None,
            created_at: now,
        })
    }

    async fn queue(&self, id: QueueId) -> Result<Option<Queue>> {
        sqlx::query(&format!("select {QUEUE_COLS} from queue where queue_id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| queue_row(&r))
            .transpose()
    }

    async fn set_queue_leave_message_after(&self, id: QueueId, secs: Option<u32>) -> Result<()> {
        let r = sqlx::query("update queue set leave_message_after_secs = $1 where queue_id = $2")
            .bind(secs.map(|s| s as i32))
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("queue"));
        }
        Ok(())
    }

    async fn set_queue_fallback(&self, id: QueueId, fallback: Option<QueueId>) -> Result<()> {
        let r = sqlx::query("update queue set fallback_queue_id = $1 where queue_id = $2")
            .bind(fallback.map(|q| q.0))
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("queue"));
        }
        Ok(())
    }

    async fn set_queue_hours(
        &self,
        id: QueueId,
        hours: Option<&beckon_domain::hours::OperatingHours>,
    ) -> Result<()> {
        let r = sqlx::query("update queue set hours = $1 where queue_id = $2")
            .bind(hours.map(|h| serde_json::to_string(h).expect("hours serialise")))
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("queue"));
        }
        Ok(())
    }

    async fn routing_rules(&self, org: OrgId) -> Result<Vec<beckon_domain::routing::RoutingRule>> {
        let text: Option<String> = sqlx::query_scalar("select rules from routing_rules where org_id = $1")
            .bind(org.0)
            .fetch_optional(&self.pool)
            .await?;
        match text {
            Some(t) => serde_json::from_str(&t).map_err(|_| corrupt("routing_rules.rules")),
            None => Ok(Vec::new()),
        }
    }

    async fn set_routing_rules(
        &self,
        org: OrgId,
        rules: &[beckon_domain::routing::RoutingRule],
        now: Timestamp,
    ) -> Result<()> {
        let text = serde_json::to_string(rules).expect("rules serialise");
        sqlx::query(
            "insert into routing_rules (org_id, rules, updated_at, created_at) values ($1, $2, $3, $3)
             on conflict (org_id) do update set rules = excluded.rules, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(&text)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn trigger_rules(&self, org: OrgId) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("select rules from trigger_rules where org_id = $1")
            .bind(org.0)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_trigger_rules(&self, org: OrgId, rules_json: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into trigger_rules (org_id, rules, updated_at, created_at) values ($1, $2, $3, $3)
             on conflict (org_id) do update set rules = excluded.rules, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(rules_json)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn trigger_history(&self, visitor_key: &str) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as("select history, version from trigger_history where visitor_key = $1")
            .bind(visitor_key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_trigger_history(
        &self,
        visitor_key: &str,
        history_json: &str,
        expected: Option<i64>,
        now: Timestamp,
    ) -> Result<bool> {
        let r = match expected {
            None => {
                sqlx::query(
                    "insert into trigger_history (visitor_key, history, updated_at, version) values ($1, $2, $3, 1)
                     on conflict (visitor_key) do nothing",
                )
                .bind(visitor_key)
                .bind(history_json)
                .bind(now.0)
                .execute(&self.pool)
                .await?
            }
            Some(v) => {
                sqlx::query(
                    "update trigger_history set history = $1, updated_at = $2, version = version + 1
                     where visitor_key = $3 and version = $4",
                )
                .bind(history_json)
                .bind(now.0)
                .bind(visitor_key)
                .bind(v)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(r.rows_affected() == 1)
    }

    async fn claim_invite(
        &self,
        visitor: VisitorId,
        invite_id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let r = sqlx::query(
            "update visitor set invite_id = $1, invite_until = $2
             where visitor_id = $3 and (invite_until is null or invite_until <= $4 or invite_id = $1)",
        )
        .bind(invite_id)
        .bind(until.0)
        .bind(visitor.0)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_invite(&self, visitor: VisitorId, invite_id: Option<&str>) -> Result<()> {
        sqlx::query(
            "update visitor set invite_id = null, invite_until = null
             where visitor_id = $1 and invite_id is not null and ($2::text is null or invite_id = $2)",
        )
        .bind(visitor.0)
        .bind(invite_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn offered_invite(
        &self,
        visitor: VisitorId,
        invite_id: &str,
    ) -> Result<Option<(Option<QueueId>, String)>> {
        let row: Option<(Option<i64>, String)> = sqlx::query_as(
            "select queue_id, source from invite_event where visitor_id = $1 and invite_id = $2 and outcome = 'offered'",
        )
        .bind(visitor.0)
        .bind(invite_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(q, source)| (q.map(QueueId), source)))
    }

    async fn rule_invites_since(&self, queue: QueueId, since: Timestamp) -> Result<u32> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from invite_event
             where queue_id = $1 and outcome = 'offered' and created_at >= $2 and source like 'rule:%'",
        )
        .bind(queue.0)
        .bind(since.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn page_view_counts(&self, visitor: VisitorId, url: &str) -> Result<(u32, u32)> {
        let (of_page, total): (i64, i64) = sqlx::query_as(
            "select count(*) filter (where url = $2), count(*) from page_view where visitor_id = $1",
        )
        .bind(visitor.0)
        .bind(url)
        .fetch_one(&self.pool)
        .await?;
        Ok((of_page.try_into().unwrap_or(u32::MAX), total.try_into().unwrap_or(u32::MAX)))
    }

    async fn set_agent_queues(&self, agent: AgentId, queues: &[QueueId], now: Timestamp) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Two replacements at once must not merge: the second waits for the first.
        sqlx::query("select 1 from agent where agent_id = $1 for no key update")
            .bind(agent.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from agent_queue where agent_id = $1").bind(agent.0).execute(&mut *tx).await?;
        let ids: Vec<i64> = queues.iter().map(|q| q.0).collect();
        sqlx::query(
            "insert into agent_queue (agent_id, queue_id, created_at)
             select $1, q, $3 from unnest($2::int8[]) as q on conflict do nothing",
        )
        .bind(agent.0)
        .bind(&ids)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_widget(&self, w: NewWidget, now: Timestamp) -> Result<Widget> {
        let origins = serde_json::to_string(&w.allowed_origins).expect("origins serialise");
        let settings = serde_json::to_string(&w.settings).expect("settings serialise");
        let id: i64 = sqlx::query_scalar(
            "insert into widget (org_id, widget_key, name, allowed_origins, default_queue_id, settings, auth, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning widget_id",
        )
        .bind(w.org_id.0)
        .bind(w.key.as_str())
        .bind(&w.name)
        .bind(&origins)
        .bind(w.default_queue_id.map(|q| q.0))
        .bind(&settings)
        .bind(w.auth.as_ref().map(|a| serde_json::to_string(a).expect("auth serialises")))
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_on_unique("widget key taken"))?;
        Ok(Widget {
            id: WidgetId(id),
            org_id: w.org_id,
            key: w.key,
            name: w.name,
            allowed_origins: w.allowed_origins,
            default_queue_id: w.default_queue_id,
            settings: w.settings,
            auth: w.auth,
            created_at: now,
        })
    }

    async fn widget(&self, id: WidgetId) -> Result<Option<Widget>> {
        sqlx::query(&format!("select {WIDGET_COLS} from widget where widget_id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| widget_row(&r))
            .transpose()
    }

    async fn widget_by_key(&self, key: &WidgetKey) -> Result<Option<Widget>> {
        sqlx::query(&format!("select {WIDGET_COLS} from widget where widget_key = $1"))
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| widget_row(&r))
            .transpose()
    }

    async fn set_widget_auth(&self, widget: WidgetId, auth: Option<&WidgetAuth>) -> Result<()> {
        let r = sqlx::query("update widget set auth = $1 where widget_id = $2")
            .bind(auth.map(|a| serde_json::to_string(a).expect("auth serialises")))
            .bind(widget.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("widget"));
        }
        Ok(())
    }

    async fn create_agent(&self, a: NewAgent, now: Timestamp) -> Result<Agent> {
        let email = a.email.trim().to_lowercase();
        let id: i64 = sqlx::query_scalar(
            "insert into agent (org_id, email, name, password_hash, role, capacity, presence, created_at)
             values ($1, $2, $3, $4, $5, $6, 'offline', $7) returning agent_id",
        )
        .bind(a.org_id.0)
        .bind(&email)
        .bind(&a.name)
        .bind(&a.password_hash)
        .bind(a.role.as_str())
        .bind(i64::from(a.capacity))
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_on_unique("email taken"))?;
        Ok(Agent {
            id: AgentId(id),
            org_id: a.org_id,
            email,
            name: a.name,
            role: a.role,
            capacity: a.capacity,
            presence: Presence::Offline,
            disabled: false,
            created_at: now,
        })
    }

    async fn agent(&self, id: AgentId) -> Result<Option<Agent>> {
        sqlx::query(&format!("select {AGENT_COLS} from agent where agent_id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| agent_row(&r))
            .transpose()
    }

    async fn agent_credentials(&self, email: &str) -> Result<Option<(Agent, String)>> {
        let row = sqlx::query(&format!("select {AGENT_COLS}, password_hash from agent where email = $1"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((agent_row(&r)?, r.try_get("password_hash")?))).transpose()
    }

    async fn set_agent_presence(&self, id: AgentId, presence: Presence, now: Timestamp) -> Result<()> {
        sqlx::query(
            "update agent set presence = $1,
                 idle_since = case when $1 = 'available' and presence <> 'available' then $2 else idle_since end
             where agent_id = $3",
        )
        .bind(presence.as_str())
        .bind(now.0)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn add_agent_to_queue(&self, agent: AgentId, queue: QueueId, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into agent_queue (agent_id, queue_id, created_at) values ($1, $2, $3) on conflict do nothing",
        )
        .bind(agent.0)
        .bind(queue.0)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn queue_agents(&self, queue: QueueId) -> Result<Vec<Agent>> {
        let cols = qualified(AGENT_COLS, "a");
        sqlx::query(&format!(
            "select {cols} from agent a join agent_queue aq on aq.agent_id = a.agent_id
             where aq.queue_id = $1 and a.disabled_at is null order by a.agent_id"
        ))
        .bind(queue.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(agent_row)
        .collect()
    }

    async fn agent_queues(&self, agent: AgentId) -> Result<Vec<QueueId>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("select queue_id from agent_queue where agent_id = $1 order by queue_id")
                .bind(agent.0)
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().map(QueueId).collect())
    }

    async fn create_agent_session(
        &self,
        token_hash: &str,
        agent: AgentId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "insert into agent_session (token_hash, agent_id, expires_at, created_at) values ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(agent.0)
        .bind(expires_at.0)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn agent_for_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<Agent>> {
        let cols = qualified(AGENT_COLS, "a");
        sqlx::query(&format!(
            "select {cols} from agent_session s join agent a on a.agent_id = s.agent_id
             where s.token_hash = $1 and s.expires_at > $2 and a.disabled_at is null"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| agent_row(&r))
        .transpose()
    }

    async fn delete_agent_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("delete from agent_session where token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn sign_in_blocked_until(&self, email: &str, now: Timestamp) -> Result<Option<Timestamp>> {
        let until: Option<Option<i64>> = sqlx::query_scalar(
            "select blocked_until from sign_in_throttle where email = $1 and blocked_until > $2",
        )
        .bind(email.trim().to_lowercase())
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(until.flatten().map(Timestamp))
    }

    async fn record_sign_in_failure(
        &self,
        email: &str,
        forget_before: Timestamp,
        now: Timestamp,
    ) -> Result<u32> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from sign_in_throttle where updated_at < $1")
            .bind(forget_before.0)
            .execute(&mut *tx)
            .await?;
        let failures: i64 = sqlx::query_scalar(
            "insert into sign_in_throttle (email, failures, updated_at, created_at) values ($1, 1, $2, $2)
             on conflict (email) do update
                 set failures = sign_in_throttle.failures + 1, updated_at = excluded.updated_at
             returning failures",
        )
        .bind(email.trim().to_lowercase())
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(u32::try_from(failures).unwrap_or(u32::MAX))
    }

    async fn block_sign_in(&self, email: &str, until: Timestamp) -> Result<()> {
        sqlx::query("update sign_in_throttle set blocked_until = $1 where email = $2")
            .bind(until.0)
            .bind(email.trim().to_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn clear_sign_in_failures(&self, email: &str) -> Result<()> {
        sqlx::query("delete from sign_in_throttle where email = $1")
            .bind(email.trim().to_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_agent_disabled(&self, id: AgentId, disabled: bool, now: Timestamp) -> Result<Option<Agent>> {
        let mut tx = self.pool.begin().await?;
        let agent = sqlx::query(&format!(
            "update agent set disabled_at = case when $1 then coalesce(disabled_at, $2) end
             where agent_id = $3 returning {AGENT_COLS}"
        ))
        .bind(disabled)
        .bind(now.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| agent_row(&r))
        .transpose()?;
        if disabled {
            sqlx::query("delete from agent_session where agent_id = $1").bind(id.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(agent)
    }

    async fn set_agent_password(&self, id: AgentId, password_hash: &str, keep: Option<&str>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("update agent set password_hash = $1 where agent_id = $2")
            .bind(password_hash)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from agent_session where agent_id = $1 and token_hash is distinct from $2")
            .bind(id.0)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_visitor(&self, v: NewVisitor, now: Timestamp) -> Result<(Visitor, Visit)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into visitor (visitor_id, widget_id, token_hash, last_seen_at, created_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(v.id.0)
        .bind(v.widget_id.0)
        .bind(&v.token_hash)
        .bind(now.0)
        .bind(v.arrived_at.0)
        .execute(&mut *tx)
        .await
        .map_err(conflict_on_unique("visitor id or token taken"))?;
        let m = &v.meta;
        let visit_id: i64 = sqlx::query_scalar(
            "insert into visit (visitor_id, number, started_at, last_activity_at, created_at,
                                browser, os, device, language, country, city, ip)
             values ($1, 1, $2, $3, $2, $4, $5, $6, $7, $8, $9, $10) returning visit_id",
        )
        .bind(v.id.0)
        .bind(v.arrived_at.0)
        .bind(now.0)
        .bind(m.browser.as_deref())
        .bind(m.os.as_deref())
        .bind(m.device.as_deref())
        .bind(m.language.as_deref())
        .bind(m.country.as_deref())
        .bind(m.city.as_deref())
        .bind(m.ip.as_deref())
        .fetch_one(&mut *tx)
        .await?;
        if let Some(page) = &v.first_page {
            sqlx::query(
                "insert into page_view (visit_id, visitor_id, url, title, referrer, created_at)
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(visit_id)
            .bind(v.id.0)
            .bind(&page.url)
            .bind(&page.title)
            .bind(&page.referrer)
            .bind(v.arrived_at.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let visitor =
            Visitor { id: v.id, widget_id: v.widget_id, created_at: v.arrived_at, last_seen_at: now };
        let visit = Visit {
            id: VisitId(visit_id),
            visitor_id: v.id,
            number: 1,
            started_at: v.arrived_at,
            last_activity_at: now,
            meta: v.meta,
        };
        Ok((visitor, visit))
    }

    async fn visitor_by_token(&self, token_hash: &str) -> Result<Option<Visitor>> {
        sqlx::query(
            "select visitor_id, widget_id, created_at, last_seen_at from visitor where token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| visitor_row(&r))
        .transpose()
    }

    async fn set_visitor_auth_sub(&self, visitor: VisitorId, iss: &str, sub: &str) -> Result<()> {
        sqlx::query("update visitor set auth_sub = $1, auth_iss = $2 where visitor_id = $3")
            .bind(sub)
            .bind(iss)
            .bind(visitor.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn touch_visit(&self, visitor: VisitorId, inactivity_ms: i64, now: Timestamp) -> Result<Visit> {
        let mut tx = self.pool.begin().await?;
        // Marking the visitor as seen locks its row first, so two touches of one visitor (from two
        // tabs, maybe on two nodes) run one after the other and never both start a visit.
        sqlx::query("update visitor set last_seen_at = $1 where visitor_id = $2")
            .bind(now.0)
            .bind(visitor.0)
            .execute(&mut *tx)
            .await?;
        let last = sqlx::query(&format!(
            "select {VISIT_COLS} from visit where visitor_id = $1 order by number desc limit 1"
        ))
        .bind(visitor.0)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| visit_row(&r))
        .transpose()?;
        let visit = match last {
            Some(v) if now.since(v.last_activity_at) <= inactivity_ms => {
                sqlx::query("update visit set last_activity_at = $1 where visit_id = $2")
                    .bind(now.0)
                    .bind(v.id.0)
                    .execute(&mut *tx)
                    .await?;
                Visit { last_activity_at: now, ..v }
            }
            last => {
                let number = last.map_or(1, |v| v.number + 1);
                let id: i64 = sqlx::query_scalar(
                    "insert into visit (visitor_id, number, started_at, last_activity_at, created_at)
                     values ($1, $2, $3, $3, $3) returning visit_id",
                )
                .bind(visitor.0)
                .bind(number)
                .bind(now.0)
                .fetch_one(&mut *tx)
                .await?;
                Visit {
                    id: VisitId(id),
                    visitor_id: visitor,
                    number,
                    started_at: now,
                    last_activity_at: now,
                    meta: VisitMeta::default(),
                }
            }
        };
        tx.commit().await?;
        Ok(visit)
    }

    async fn record_page_view(&self, pv: NewPageView, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into page_view (visit_id, visitor_id, url, title, referrer, created_at)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(pv.visit_id.0)
        .bind(pv.visitor_id.0)
        .bind(&pv.url)
        .bind(&pv.title)
        .bind(&pv.referrer)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_visit_meta(&self, visit: VisitId, meta: &VisitMeta) -> Result<()> {
        sqlx::query(
            "update visit set browser = $1, os = $2, device = $3, language = $4, country = $5, city = $6, ip = $7
             where visit_id = $8",
        )
        .bind(meta.browser.as_deref())
        .bind(meta.os.as_deref())
        .bind(meta.device.as_deref())
        .bind(meta.language.as_deref())
        .bind(meta.country.as_deref())
        .bind(meta.city.as_deref())
        .bind(meta.ip.as_deref())
        .bind(visit.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn latest_visit(&self, visitor: VisitorId) -> Result<Option<Visit>> {
        sqlx::query(&format!(
            "select {VISIT_COLS} from visit where visitor_id = $1 order by number desc limit 1"
        ))
        .bind(visitor.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| visit_row(&r))
        .transpose()
    }

    async fn page_views(&self, visit: VisitId, limit: u32) -> Result<Vec<PageView>> {
        let mut views = sqlx::query(
            "select url, title, referrer, created_at from page_view where visit_id = $1
             order by page_view_id desc limit $2",
        )
        .bind(visit.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(PageView {
                url: r.try_get("url")?,
                title: r.try_get("title")?,
                referrer: r.try_get("referrer")?,
                at: Timestamp(r.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        views.reverse();
        Ok(views)
    }

    async fn visitor_summary(&self, visitor: VisitorId) -> Result<Option<VisitorSummary>> {
        let row = sqlx::query(
            "select v.visitor_id, v.created_at, v.last_seen_at,
                    (select count(*) from visit where visitor_id = v.visitor_id) as visits,
                    (select count(*) from page_view where visitor_id = v.visitor_id) as page_views,
                    (select count(*) from conversation where visitor_id = v.visitor_id) as conversations
             from visitor v where v.visitor_id = $1",
        )
        .bind(visitor.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(VisitorSummary {
                visitor_id: VisitorId(r.try_get("visitor_id")?),
                first_seen_at: Timestamp(r.try_get("created_at")?),
                last_seen_at: Timestamp(r.try_get("last_seen_at")?),
                visits: r.try_get("visits")?,
                page_views: r.try_get("page_views")?,
                conversations: r.try_get("conversations")?,
            })
        })
        .transpose()
    }

    async fn conversations_of_visitor(&self, visitor: VisitorId, limit: u32) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation where visitor_id = $1
             order by conversation_id desc limit $2"
        ))
        .bind(visitor.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn record_invite_event(&self, ev: NewInviteEvent, now: Timestamp) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let is_final = ev.outcome.is_final();
        if is_final {
            // "One final outcome per invite" reads before it writes: two final outcomes of one
            // visitor's invite (from two nodes) take turns, the second seeing the first.
            sqlx::query("select 1 from visitor where visitor_id = $1 for no key update")
                .bind(ev.visitor_id.0)
                .execute(&mut *tx)
                .await?;
        }
        let r = sqlx::query(
            "insert into invite_event (widget_id, visitor_id, invite_id, source, outcome, reason, message, created_at, queue_id)
             select $1, $2, $3, $4, $5, $6, $7, $8, $9
             where not $10
                or (exists (select 1 from invite_event where visitor_id = $2 and invite_id = $3
                            and outcome in ('offered', 'shown'))
                    and not exists (select 1 from invite_event where visitor_id = $2 and invite_id = $3
                                    and outcome in ('accepted', 'declined', 'expired')))
             on conflict (visitor_id, invite_id, outcome) do nothing",
        )
        .bind(ev.widget_id.0)
        .bind(ev.visitor_id.0)
        .bind(&ev.invite_id)
        .bind(&ev.source)
        .bind(ev.outcome.as_str())
        .bind(ev.reason.as_deref())
        .bind(&ev.message)
        .bind(now.0)
        .bind(ev.queue_id.map(|q| q.0))
        .bind(is_final)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    async fn invite_events(&self, widget: WidgetId) -> Result<Vec<InviteEvent>> {
        sqlx::query(
            "select visitor_id, invite_id, source, outcome, reason, message, created_at from invite_event
             where widget_id = $1 order by invite_event_id",
        )
        .bind(widget.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(InviteEvent {
                visitor_id: VisitorId(r.try_get("visitor_id")?),
                invite_id: r.try_get("invite_id")?,
                source: r.try_get("source")?,
                outcome: invite_outcome(r.try_get("outcome")?)?,
                reason: r.try_get("reason")?,
                message: r.try_get("message")?,
                created_at: Timestamp(r.try_get("created_at")?),
            })
        })
        .collect()
    }

    async fn invite_funnel(
        &self,
        org: OrgId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<InviteFunnelRow>> {
        use std::collections::BTreeMap;
        let mut rows: BTreeMap<(String, String), InviteFunnelRow> = BTreeMap::new();
        // The UTC day of a millisecond timestamp, as SQLite's date(ms / 1000, 'unixepoch').
        const DAY: &str =
            "to_char(to_timestamp(({t}.created_at / 1000)::float8) at time zone 'UTC', 'YYYY-MM-DD')";
        let events = sqlx::query(&format!(
            "select {day} as day, e.source, e.outcome, coalesce(e.reason, '') as reason, count(*) as n
             from invite_event e join widget w on w.widget_id = e.widget_id
             where w.org_id = $1 and e.created_at >= $2 and e.created_at < $3
             group by 1, 2, 3, 4",
            day = DAY.replace("{t}", "e")
        ))
        .bind(org.0)
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&self.pool)
        .await?;
        for r in &events {
            let (day, source): (String, String) = (r.try_get("day")?, r.try_get("source")?);
            let n: i64 = r.try_get("n")?;
            let row = rows.entry((day.clone(), source.clone())).or_insert_with(|| InviteFunnelRow {
                day,
                source,
                ..Default::default()
            });
            match r.try_get::<String, _>("outcome")?.as_str() {
                "offered" => row.offered += n,
                "shown" => row.shown += n,
                "accepted" => row.accepted += n,
                "declined" => row.declined += n,
                "expired" => row.expired += n,
                "suppressed" => *row.suppressed.entry(r.try_get("reason")?).or_default() += n,
                _ => {}
            }
        }
        // Conversations started from invites: the source is the one the invite was recorded with.
        let convs = sqlx::query(&format!(
            "select {day} as day,
                    (select e.source from invite_event e where e.visitor_id = c.visitor_id
                       and e.invite_id = c.invite_id order by e.invite_event_id limit 1) as source,
                    count(*) as n, count(c.accepted_at) as answered
             from conversation c
             where c.org_id = $1 and c.invite_id is not null and c.created_at >= $2 and c.created_at < $3
             group by 1, 2",
            day = DAY.replace("{t}", "c")
        ))
        .bind(org.0)
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&self.pool)
        .await?;
        for r in &convs {
            let day: String = r.try_get("day")?;
            let source: String = r.try_get::<Option<String>, _>("source")?.unwrap_or_else(|| "sdk".into());
            let row = rows.entry((day.clone(), source.clone())).or_insert_with(|| InviteFunnelRow {
                day,
                source,
                ..Default::default()
            });
            row.conversations += r.try_get::<i64, _>("n")?;
            row.answered += r.try_get::<i64, _>("answered")?;
        }
        Ok(rows.into_values().collect())
    }

    async fn create_conversation(&self, c: NewConversation, now: Timestamp) -> Result<Conversation> {
        let context = serde_json::to_string(&c.context).expect("context serialises");
        let row = sqlx::query(&format!(
            "insert into conversation (org_id, widget_id, visitor_id, queue_id, state, proactive, invite_id,
                                       context, auth_sub, auth_iss, created_at, reply_email, leave_message_at, language, visitor_name)
             values ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) returning {CONVERSATION_COLS}"
        ))
        .bind(c.org_id.0)
        .bind(c.widget_id.0)
        .bind(c.visitor_id.0)
        .bind(c.queue_id.map(|q| q.0))
        .bind(c.proactive)
        .bind(c.invite_id.as_deref())
        .bind(&context)
        .bind(c.auth_sub.as_deref())
        .bind(c.auth_iss.as_deref())
        .bind(now.0)
        .bind(c.reply_email.as_deref())
        .bind(c.leave_message_at.map(|t| t.0))
        .bind(&c.language)
        .bind(c.visitor_name.as_deref().map(str::to_lowercase))
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_on_unique("the visitor already has an open conversation"))?;
        conversation_row(&row)
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>> {
        sqlx::query(&format!("select {CONVERSATION_COLS} from conversation where conversation_id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| conversation_row(&r))
            .transpose()
    }

    async fn open_conversation_of_visitor(&self, visitor: VisitorId) -> Result<Option<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where visitor_id = $1 and state in ('queued', 'active', 'transferred')"
        ))
        .bind(visitor.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn open_conversations_of_agent(&self, agent: AgentId) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where (agent_id = $1 or offered_agent_id = $1) and state in ('queued', 'active', 'transferred')
             order by conversation_id"
        ))
        .bind(agent.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn waiting_in_queue(&self, queue: QueueId, limit: u32) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where queue_id = $1 and state in ('queued', 'transferred')
             order by created_at, conversation_id limit $2"
        ))
        .bind(queue.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn unoffered_waiting(&self, queue: QueueId) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where queue_id = $1 and state in ('queued', 'transferred') and offered_agent_id is null
               and reply_email is null
             order by created_at, conversation_id"
        ))
        .bind(queue.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn queue_position(&self, id: ConversationId) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "select 1 + (select count(*) from conversation o
                         where o.queue_id = c.queue_id and o.state in ('queued', 'transferred')
                           and o.reply_email is null
                           and (o.created_at, o.conversation_id) < (c.created_at, c.conversation_id))
             from conversation c where c.conversation_id = $1 and c.state in ('queued', 'transferred')
               and c.reply_email is null",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn average_wait_ms(&self, queue: QueueId, since: Timestamp) -> Result<Option<i64>> {
        let avg: Option<f64> = sqlx::query_scalar(
            "select avg(accepted_at - created_at)::float8 from conversation
             where queue_id = $1 and accepted_at is not null and accepted_at >= $2",
        )
        .bind(queue.0)
        .bind(since.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(avg.map(|a| a.round() as i64))
    }

    async fn offer_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        capacity: u32,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Offers to one agent take turns (the agent's row lock), so the count below sees every
        // offer committed before it and two nodes can never both fill the last slot.
        let locked = sqlx::query("select 1 from agent where agent_id = $1 for no key update")
            .bind(agent.0)
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_none() {
            return Ok(false);
        }
        let r = sqlx::query(
            "update conversation set offered_agent_id = $1, offer_expires_at = $2
             where conversation_id = $3 and state in ('queued', 'transferred') and offered_agent_id is null
               and (select count(*) from conversation
                    where (agent_id = $1 and state = 'active')
                       or (offered_agent_id = $1 and state in ('queued', 'transferred'))) < $4",
        )
        .bind(agent.0)
        .bind(expires_at.0)
        .bind(id.0)
        .bind(i64::from(capacity))
        .execute(&mut *tx)
        .await?;
        let offered = r.rows_affected() == 1;
        if offered {
            sqlx::query("update agent set idle_since = $1 where agent_id = $2")
                .bind(now.0)
                .bind(agent.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(offered)
    }

    async fn withdraw_offer(&self, id: ConversationId, agent: AgentId) -> Result<bool> {
        let r = sqlx::query(
            "update conversation set offered_agent_id = null, offer_expires_at = null
             where conversation_id = $1 and offered_agent_id = $2",
        )
        .bind(id.0)
        .bind(agent.0)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn take_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        assign_waiting(&self.pool, id, agent, now, false).await
    }

    async fn accept_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        assign_waiting(&self.pool, id, agent, now, true).await
    }

    async fn transfer_conversation(
        &self,
        id: ConversationId,
        from: AgentId,
        queue: Option<QueueId>,
        to_agent: Option<(AgentId, Timestamp)>,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(&format!(
            "update conversation set state = 'transferred', agent_id = null, offered_agent_id = $1,
                 offer_expires_at = $2, queue_id = coalesce($3, queue_id)
             where conversation_id = $4 and agent_id = $5 and state = 'active'
             returning {CONVERSATION_COLS}"
        ))
        .bind(to_agent.map(|(a, _)| a.0))
        .bind(to_agent.map(|(_, until)| until.0))
        .bind(queue.map(|q| q.0))
        .bind(id.0)
        .bind(from.0)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()?;
        if moved.is_some() {
            // A new start: earlier declines are forgotten, and the agent handing it on is not
            // offered it back.
            sqlx::query("delete from conversation_decline where conversation_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "insert into conversation_decline (conversation_id, agent_id, created_at) values ($1, $2, $3)
                 on conflict do nothing",
            )
            .bind(id.0)
            .bind(from.0)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn decline_offer(&self, id: ConversationId, agent: AgentId, now: Timestamp) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "update conversation set offered_agent_id = null, offer_expires_at = null
             where conversation_id = $1 and offered_agent_id = $2",
        )
        .bind(id.0)
        .bind(agent.0)
        .execute(&mut *tx)
        .await?;
        let declined = r.rows_affected() == 1;
        if declined {
            sqlx::query(
                "insert into conversation_decline (conversation_id, agent_id, created_at) values ($1, $2, $3)
                 on conflict do nothing",
            )
            .bind(id.0)
            .bind(agent.0)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(declined)
    }

    async fn declined_agents(&self, id: ConversationId) -> Result<Vec<AgentId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "select agent_id from conversation_decline where conversation_id = $1 order by created_at, agent_id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(AgentId).collect())
    }

    async fn expire_offers(&self, now: Timestamp) -> Result<Vec<(Conversation, AgentId)>> {
        let mut tx = self.pool.begin().await?;
        // Claimed and cleared in one statement: a sweeper on another node skips the rows this one
        // holds, or waits and then finds them no longer due, so each offer expires once.
        let rows = sqlx::query(&format!(
            "with due as (
                 select conversation_id, offered_agent_id as expired_agent, offer_expires_at as due_at
                 from conversation
                 where offer_expires_at <= $1 and offered_agent_id is not null
                 for no key update skip locked)
             update conversation c set offered_agent_id = null, offer_expires_at = null
             from due where c.conversation_id = due.conversation_id
             returning {}, due.expired_agent, due.due_at",
            qualified(CONVERSATION_COLS, "c")
        ))
        .bind(now.0)
        .fetch_all(&mut *tx)
        .await?;
        let mut expired = Vec::with_capacity(rows.len());
        for r in &rows {
            let due_at: i64 = r.try_get("due_at")?;
            expired.push((due_at, conversation_row(r)?, AgentId(r.try_get("expired_agent")?)));
        }
        expired.sort_by_key(|(due_at, c, _)| (*due_at, c.id));
        let (conv, agent): (Vec<i64>, Vec<i64>) = expired.iter().map(|(_, c, a)| (c.id.0, a.0)).unzip();
        sqlx::query(
            "insert into conversation_decline (conversation_id, agent_id, created_at)
             select c, a, $3 from unnest($1::int8[], $2::int8[]) as v(c, a) on conflict do nothing",
        )
        .bind(&conv)
        .bind(&agent)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(expired.into_iter().map(|(_, c, a)| (c, a)).collect())
    }

    async fn set_announced_position(&self, id: ConversationId, position: i64) -> Result<Option<bool>> {
        let mut tx = self.pool.begin().await?;
        // Read under the row's lock, so two nodes announcing the same change cannot both see the
        // old position.
        let before: Option<Option<i64>> = sqlx::query_scalar(
            "select announced_position from conversation where conversation_id = $1 for no key update",
        )
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = before.filter(|b| *b != Some(position)) else { return Ok(None) };
        sqlx::query("update conversation set announced_position = $1 where conversation_id = $2")
            .bind(position)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(before.is_none()))
    }

    async fn live_nodes(&self, now: Timestamp) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("select node_id from node where expires_at > $1 order by node_id")
            .bind(now.0)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn node_heartbeat(&self, node: &str, expires_at: Timestamp, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into node (node_id, started_at, expires_at) values ($1, $2, $3)
             on conflict (node_id) do update set expires_at = excluded.expires_at",
        )
        .bind(node)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn expire_nodes(&self, now: Timestamp) -> Result<Vec<String>> {
        // Deleting the dead nodes claims them: a sweeper on another node deleting at the same
        // time gets none of these, so each dead node is reported (and its consoles closed) once.
        Ok(sqlx::query_scalar(
            "with dead as (delete from node where expires_at < $1 returning node_id, expires_at),
                  closed as (update agent_console c set closed_at = dead.expires_at from dead
                             where c.node_id = dead.node_id and c.closed_at is null)
             select node_id from dead order by node_id",
        )
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn node_stopped(&self, node: &str, now: Timestamp) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("update agent_console set closed_at = $1 where node_id = $2 and closed_at is null")
            .bind(now.0)
            .bind(node)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from node where node_id = $1").bind(node).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_console(&self, console: &str, agent: AgentId, node: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into agent_console (console_id, agent_id, node_id, created_at) values ($1, $2, $3, $4)",
        )
        .bind(console)
        .bind(agent.0)
        .bind(node)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn close_console(&self, console: &str, now: Timestamp) -> Result<()> {
        sqlx::query("update agent_console set closed_at = $1 where console_id = $2 and closed_at is null")
            .bind(now.0)
            .bind(console)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn drop_closed_consoles(&self, closed_before: Timestamp) -> Result<Vec<AgentId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "delete from agent_console where closed_at is not null and closed_at <= $1 returning agent_id",
        )
        .bind(closed_before.0)
        .fetch_all(&self.pool)
        .await?;
        let mut agents: Vec<AgentId> = ids.into_iter().map(AgentId).collect();
        agents.sort();
        agents.dedup();
        Ok(agents)
    }

    async fn agent_presences(
        &self,
        agents: &[AgentId],
        lingering_after: Timestamp,
    ) -> Result<HashMap<AgentId, AgentPresence>> {
        if agents.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = agents.iter().map(|a| a.0).collect();
        sqlx::query(
            "select a.agent_id, a.presence, a.idle_since,
                    exists (select 1 from agent_console c where c.agent_id = a.agent_id
                            and (c.closed_at is null or c.closed_at > $1)) as online
             from agent a where a.agent_id = any($2)",
        )
        .bind(lingering_after.0)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let presence: String = r.try_get("presence")?;
            Ok((
                AgentId(r.try_get("agent_id")?),
                AgentPresence {
                    chosen: Presence::parse(&presence).ok_or_else(|| corrupt("agent.presence"))?,
                    online: r.try_get("online")?,
                    idle_since: Timestamp(r.try_get("idle_since")?),
                },
            ))
        })
        .collect()
    }

    async fn next_deadline(&self, grace_ms: i64, mail: bool) -> Result<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(
            "select min(t) from (
                 select min(offer_expires_at) as t from conversation where offer_expires_at is not null
                 union all select min(expires_at) from node
                 union all select min(closed_at) + $1 from agent_console where closed_at is not null
                 union all select min(coalesce(mail_lease_until, 0)) from conversation
                     where $2 and reply_email is not null and mailed_seq < last_seq
                 union all select min(leave_message_at) from conversation where leave_message_at is not null
                 union all select min(due_at) from mail_out where $2 and due_at is not null
             ) as deadlines",
        )
        .bind(grace_ms)
        .bind(mail)
        .fetch_one(&self.pool)
        .await?;
        Ok(at.map(Timestamp))
    }

    async fn set_reply_email(&self, id: ConversationId, email: &str) -> Result<Option<Conversation>> {
        sqlx::query(&format!(
            "update conversation set reply_email = $1, mailed_seq = last_seq, mail_lease_until = null
             where conversation_id = $2 and state in ('queued', 'transferred') and agent_id is null
             returning {CONVERSATION_COLS}"
        ))
        .bind(email)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn claim_mail(&self, now: Timestamp, lease_until: Timestamp, limit: u32) -> Result<Vec<MailDue>> {
        sqlx::query(&format!(
            "update conversation set mail_lease_until = $1
             where conversation_id in (
                 select conversation_id from conversation
                 where reply_email is not null and mailed_seq < last_seq
                   and (mail_lease_until is null or mail_lease_until <= $2)
                 order by conversation_id limit $3
                 for update skip locked)
             returning {CONVERSATION_COLS}, mailed_seq"
        ))
        .bind(lease_until.0)
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(MailDue { conversation: conversation_row(r)?, mailed_seq: r.try_get("mailed_seq")? }))
        .collect()
    }

    async fn take_due_leave_message_offers(&self, now: Timestamp) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "update conversation set leave_message_at = null
             where conversation_id in (
                 select conversation_id from conversation
                 where leave_message_at is not null and leave_message_at <= $1
                 for update skip locked)
             returning {CONVERSATION_COLS}"
        ))
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn mail_done(&self, id: ConversationId, through_seq: i64) -> Result<()> {
        sqlx::query(
            "update conversation set mailed_seq = greatest(mailed_seq, $1), mail_lease_until = null
             where conversation_id = $2",
        )
        .bind(through_seq)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn agents_of_org(&self, org: OrgId) -> Result<Vec<Agent>> {
        sqlx::query(&format!("select {AGENT_COLS} from agent where org_id = $1 order by name, agent_id"))
            .bind(org.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(agent_row)
            .collect()
    }

    async fn queues_of_org(&self, org: OrgId) -> Result<Vec<Queue>> {
        sqlx::query(&format!("select {QUEUE_COLS} from queue where org_id = $1 order by name"))
            .bind(org.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(queue_row)
            .collect()
    }

    async fn close_conversation(
        &self,
        id: ConversationId,
        to: ConversationState,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        debug_assert!(!to.is_open());
        sqlx::query(&format!(
            "update conversation set state = $1, offered_agent_id = null, offer_expires_at = null, ended_at = $2
             where conversation_id = $3 and state in ('queued', 'active', 'transferred')
             returning {CONVERSATION_COLS}"
        ))
        .bind(to.as_str())
        .bind(now.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn authenticate_conversation(
        &self,
        id: ConversationId,
        iss: &str,
        sub: &str,
        context: &Context,
    ) -> Result<Option<Conversation>> {
        let context = serde_json::to_string(context).expect("context serialises");
        sqlx::query(&format!(
            "update conversation set auth_sub = $1, auth_iss = $2, context = $3
             where conversation_id = $4 and state in ('queued', 'active', 'transferred')
             returning {CONVERSATION_COLS}"
        ))
        .bind(sub)
        .bind(iss)
        .bind(&context)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn conversations_of_identity(
        &self,
        org: OrgId,
        iss: Option<&str>,
        sub: &str,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where org_id = $1 and auth_sub = $2 and auth_iss is not distinct from $3
             order by conversation_id desc limit $4"
        ))
        .bind(org.0)
        .bind(sub)
        .bind(iss)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    /// Text search: a message matches when every word typed appears in it, each word as a phrase
    /// of the words PostgreSQL's parser finds in it (`phraseto_tsquery('simple', …)`), like the
    /// quoted words of SQLite's FTS5 query. The two tokenisers differ at the edges: PostgreSQL
    /// keeps an email address, URL or host name as one word as well as its parts (so
    /// `alice@example.com` matches only whole, where FTS5 also matches `alice`), and it does not
    /// fold accents (`cafe` does not find `café`).
    async fn search_conversations(&self, q: &ConversationSearch) -> Result<Vec<ConversationSummary>> {
        let words = match q.text.as_deref().map(search_words) {
            Some(None) => return Ok(Vec::new()),
            Some(Some(words)) => words,
            None => Vec::new(),
        };
        let text_filter = if words.is_empty() {
            String::new()
        } else {
            let query = (0..words.len())
                .map(|i| format!("phraseto_tsquery('simple', ${})", 10 + i))
                .collect::<Vec<_>>()
                .join(" && ");
            format!(
                "and c.conversation_id in (select m.conversation_id from message m where m.search @@ ({query}))"
            )
        };
        let sql = format!(
            "select {cols}, a.name as agent_name,
                    (select m.text from message m where m.conversation_id = c.conversation_id
                       and m.tags not like '%\"internal\"%' order by m.seq desc limit 1) as last_message
             from conversation c left join agent a on a.agent_id = c.agent_id
             where ($1::int8 is null or c.org_id = $1)
               and ($2::int8 is null or c.visitor_id = $2)
               and ($3::text is null or c.auth_sub = $3
                    or strpos(coalesce(c.visitor_name, ''), lower($3)) > 0)
               and ($4::int8 is null or c.agent_id = $4)
               and ($5::text is null or c.state = $5)
               and ($6::int8 is null or c.created_at >= $6)
               and ($7::int8 is null or c.created_at < $7)
               and ($8::int8 is null or c.conversation_id < $8)
               {text_filter}
             order by c.conversation_id desc limit $9",
            cols = qualified(CONVERSATION_COLS, "c"),
        );
        let mut query = sqlx::query(&sql)
            .bind(q.org_id.map(|o| o.0))
            .bind(q.visitor_id.map(|v| v.0))
            .bind(q.auth_sub.as_deref())
            .bind(q.agent_id.map(|a| a.0))
            .bind(q.state.map(|s| s.as_str()))
            .bind(q.created_from.map(|t| t.0))
            .bind(q.created_to.map(|t| t.0))
            .bind(q.before_id.map(|c| c.0))
            .bind(i64::from(q.limit.clamp(1, 200)));
        for w in &words {
            query = query.bind(*w);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(ConversationSummary {
                    conversation: conversation_row(r)?,
                    agent_name: r.try_get("agent_name")?,
                    last_message: r.try_get("last_message")?,
                })
            })
            .collect()
    }

    async fn agent_loads(&self, agents: &[AgentId]) -> Result<HashMap<AgentId, u32>> {
        if agents.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = agents.iter().map(|a| a.0).collect();
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "select a, count(*) from (
                 select agent_id as a from conversation where state = 'active' and agent_id = any($1)
                 union all
                 select offered_agent_id from conversation
                 where state in ('queued', 'transferred') and offered_agent_id = any($1)
             ) as load group by a",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(a, n)| (AgentId(a), u32::try_from(n).unwrap_or(u32::MAX))).collect())
    }

    async fn append_message(&self, m: NewMessage, now: Timestamp) -> Result<Appended> {
        let (reply, rx) = oneshot::channel();
        let writer = &self.appends[m.conversation_id.0.rem_euclid(WRITERS as i64) as usize];
        writer.send(AppendRequest { message: m, now, reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn messages_after(&self, c: ConversationId, after_seq: i64, limit: u32) -> Result<Vec<Message>> {
        sqlx::query(&format!(
            "select {MESSAGE_COLS} from message where conversation_id = $1 and seq > $2 order by seq limit $3"
        ))
        .bind(c.0)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(message_row)
        .collect()
    }

    async fn widgets_of_org(&self, org: OrgId) -> Result<Vec<Widget>> {
        sqlx::query(&format!("select {WIDGET_COLS} from widget where org_id = $1 order by widget_id"))
            .bind(org.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(widget_row)
            .collect()
    }

    async fn update_widget(
        &self,
        id: WidgetId,
        name: &str,
        allowed_origins: &[String],
        default_queue_id: Option<QueueId>,
        settings: &WidgetSettings,
    ) -> Result<Option<Widget>> {
        let origins = serde_json::to_string(allowed_origins).expect("origins serialise");
        let settings = serde_json::to_string(settings).expect("settings serialise");
        sqlx::query(&format!(
            "update widget set name = $1, allowed_origins = $2, default_queue_id = $3, settings = $4
             where widget_id = $5 returning {WIDGET_COLS}"
        ))
        .bind(name)
        .bind(&origins)
        .bind(default_queue_id.map(|q| q.0))
        .bind(&settings)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| widget_row(&r))
        .transpose()
    }

    async fn update_agent(
        &self,
        id: AgentId,
        name: &str,
        role: Role,
        capacity: u32,
    ) -> Result<Option<Agent>> {
        sqlx::query(&format!(
            "update agent set name = $1, role = $2, capacity = $3 where agent_id = $4 returning {AGENT_COLS}"
        ))
        .bind(name)
        .bind(role.as_str())
        .bind(i64::from(capacity))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| agent_row(&r))
        .transpose()
    }

    async fn queue_mail(
        &self,
        org: OrgId,
        conversation: Option<ConversationId>,
        to: &str,
        subject: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "insert into mail_out (org_id, conversation_id, to_addr, subject, body, created_at, due_at)
             values ($1, $2, $3, $4, $5, $6, $6) returning mail_id",
        )
        .bind(org.0)
        .bind(conversation.map(|c| c.0))
        .bind(to)
        .bind(subject)
        .bind(body)
        .bind(now.0)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn mail_count_of_conversation(&self, conversation: ConversationId) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from mail_out where conversation_id = $1")
            .bind(conversation.0)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn claim_outgoing_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutgoingMail>> {
        let rows = sqlx::query(
            "update mail_out set due_at = $1
             where mail_id in (select mail_id from mail_out where due_at is not null and due_at <= $2
                               order by due_at limit $3 for update skip locked)
             returning mail_id, to_addr, subject, body",
        )
        .bind(lease_until.0)
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutgoingMail {
                    id: r.try_get("mail_id")?,
                    to: r.try_get("to_addr")?,
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }

    async fn outgoing_mail_done(&self, id: i64, now: Timestamp, error: Option<&str>) -> Result<()> {
        sqlx::query(
            "update mail_out set due_at = null, sent_at = case when $1 is null then $2 else null end, error = $1
             where mail_id = $3",
        )
        .bind(error)
        .bind(now.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rate_conversation(
        &self,
        id: ConversationId,
        visitor: VisitorId,
        score: i64,
        comment: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        sqlx::query(&format!(
            "update conversation set rating = $1, rating_comment = $2, rated_at = $3
             where conversation_id = $4 and visitor_id = $5 and state = 'ended' and accepted_at is not null
             returning {CONVERSATION_COLS}"
        ))
        .bind(score)
        .bind(comment)
        .bind(now.0)
        .bind(id.0)
        .bind(visitor.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn ratings(&self, org: OrgId, since: Timestamp, limit: u32) -> Result<Vec<Rating>> {
        let rows = sqlx::query(
            "select c.conversation_id, c.agent_id, a.name as agent_name, c.rating, c.rating_comment, c.rated_at
             from conversation c left join agent a on a.agent_id = c.agent_id
             where c.org_id = $1 and c.rating is not null and c.rated_at >= $2
             order by c.rated_at desc, c.conversation_id desc limit $3",
        )
        .bind(org.0)
        .bind(since.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Rating {
                    conversation_id: ConversationId(r.try_get("conversation_id")?),
                    agent_id: r.try_get::<Option<i64>, _>("agent_id")?.map(AgentId),
                    agent_name: r.try_get("agent_name")?,
                    score: r.try_get("rating")?,
                    comment: r.try_get("rating_comment")?,
                    rated_at: Timestamp(r.try_get("rated_at")?),
                })
            })
            .collect()
    }

    async fn canned_replies(&self, org: OrgId, agent: AgentId) -> Result<Vec<CannedReply>> {
        sqlx::query(&format!(
            "select {CANNED_COLS} from canned_reply
             where org_id = $1 and (agent_id is null or agent_id = $2)
             order by shortcut, agent_id nulls first"
        ))
        .bind(org.0)
        .bind(agent.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(canned_row)
        .collect()
    }

    async fn count_canned_replies(&self, org: OrgId, owner: Option<AgentId>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "select count(*) from canned_reply where org_id = $1 and coalesce(agent_id, 0) = $2",
        )
        .bind(org.0)
        .bind(owner.map_or(0, |a| a.0))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn canned_reply(&self, id: i64) -> Result<Option<CannedReply>> {
        sqlx::query(&format!("select {CANNED_COLS} from canned_reply where canned_reply_id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| canned_row(&r))
            .transpose()
    }

    async fn create_canned_reply(
        &self,
        org: OrgId,
        owner: Option<AgentId>,
        shortcut: &str,
        text: &str,
        now: Timestamp,
    ) -> Result<CannedReply> {
        let row = sqlx::query(&format!(
            "insert into canned_reply (org_id, agent_id, shortcut, text, created_at)
             values ($1, $2, $3, $4, $5) returning {CANNED_COLS}"
        ))
        .bind(org.0)
        .bind(owner.map(|a| a.0))
        .bind(shortcut)
        .bind(text)
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict("the shortcut is taken")
            } else {
                e.into()
            }
        })?;
        canned_row(&row)
    }

    async fn update_canned_reply(&self, id: i64, shortcut: &str, text: &str) -> Result<Option<CannedReply>> {
        sqlx::query(&format!(
            "update canned_reply set shortcut = $1, text = $2 where canned_reply_id = $3
             returning {CANNED_COLS}"
        ))
        .bind(shortcut)
        .bind(text)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict("the shortcut is taken")
            } else {
                e.into()
            }
        })?
        .map(|r| canned_row(&r))
        .transpose()
    }

    async fn delete_canned_reply(&self, id: i64) -> Result<bool> {
        let r = sqlx::query("delete from canned_reply where canned_reply_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn conversation_invite(&self, id: ConversationId) -> Result<Option<(String, String, String)>> {
        Ok(sqlx::query_as(
            "select e.invite_id, e.source, e.message from conversation c
             join invite_event e on e.visitor_id = c.visitor_id and e.invite_id = c.invite_id
             where c.conversation_id = $1 order by e.invite_event_id limit 1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn add_attachment(
        &self,
        conversation: ConversationId,
        sender: SenderKind,
        a: &Attachment,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        PgBlobs(self.pool.clone()).put(&a.id, bytes).await?;
        sqlx::query(
            "insert into attachment (attachment_id, conversation_id, name, content_type, size, sender_kind, created_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.id)
        .bind(conversation.0)
        .bind(&a.name)
        .bind(&a.content_type)
        .bind(i64::try_from(a.size).unwrap_or(i64::MAX))
        .bind(sender.as_str())
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn attachment(&self, id: &str) -> Result<Option<(ConversationId, Attachment)>> {
        sqlx::query(
            "select attachment_id, conversation_id, name, content_type, size from attachment where attachment_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| {
            Ok((
                ConversationId(r.try_get("conversation_id")?),
                Attachment {
                    id: r.try_get("attachment_id")?,
                    name: r.try_get("name")?,
                    content_type: r.try_get("content_type")?,
                    size: u64::try_from(r.try_get::<i64, _>("size")?).map_err(|_| corrupt("attachment.size"))?,
                },
            ))
        })
        .transpose()
    }

    async fn attachment_bytes(&self, id: &str) -> Result<Option<Vec<u8>>> {
        PgBlobs(self.pool.clone()).get(id).await
    }

    async fn attachment_count(&self, conversation: ConversationId, sender: SenderKind) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from attachment where conversation_id = $1 and sender_kind = $2",
        )
        .bind(conversation.0)
        .bind(sender.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Attachments' bytes in the database (`attachment_blob`), where every node of a cluster finds
/// them.
struct PgBlobs(PgPool);

#[async_trait]
impl Blobs for PgBlobs {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        sqlx::query(
            "insert into attachment_blob (blob_key, bytes) values ($1, $2)
             on conflict (blob_key) do update set bytes = excluded.bytes",
        )
        .bind(key)
        .bind(bytes)
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("select bytes from attachment_blob where blob_key = $1")
            .bind(key)
            .fetch_optional(&self.0)
            .await?)
    }
}

/// Waiting → active and assigned to `agent` (an accept when `offered_only`, which needs the
/// conversation offered to `agent`; else a take from the waiting list), in one statement.
async fn assign_waiting(
    db: &sqlx::PgPool,
    id: ConversationId,
    agent: AgentId,
    now: Timestamp,
    offered_only: bool,
) -> Result<Option<Conversation>> {
    sqlx::query(&format!(
        "update conversation set state = 'active', agent_id = $1, offered_agent_id = null,
             offer_expires_at = null, accepted_at = coalesce(accepted_at, $3)
         where conversation_id = $2 and state in ('queued', 'transferred')
           and (offered_agent_id = $1 or not $4)
         returning {CONVERSATION_COLS}"
    ))
    .bind(agent.0)
    .bind(id.0)
    .bind(now.0)
    .bind(offered_only)
    .fetch_optional(db)
    .await?
    .map(|r| conversation_row(&r))
    .transpose()
}

const CANNED_COLS: &str = "canned_reply_id, org_id, agent_id, shortcut, text, created_at";

fn canned_row(r: &sqlx::postgres::PgRow) -> Result<CannedReply> {
    Ok(CannedReply {
        id: r.try_get("canned_reply_id")?,
        org_id: OrgId(r.try_get("org_id")?),
        agent_id: r.try_get::<Option<i64>, _>("agent_id")?.map(AgentId),
        shortcut: r.try_get("shortcut")?,
        text: r.try_get("text")?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}
