//! The SQLite backend: one file, WAL journal, `synchronous=FULL`, nothing to install.
//!
//! SQLite allows one writer at a time, so this backend makes that explicit instead of fighting it:
//! every write goes through a one-connection *write pool*, reads use a separate pool. Message
//! appends, the hot path, go through a *group-commit* task: appends that arrive while a commit is
//! in flight are written together in the next transaction, so one fsync acknowledges many
//! messages, and each append still returns only after its own commit.

use crate::*;
use beckon_domain::attachment::Attachment;
use beckon_domain::message::{Message, NewMessage, Sender};
use beckon_domain::model::{PageView, Role, VisitMeta, VisitorSummary, WidgetAuth, WidgetSettings};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most appends committed in one transaction.
const MAX_BATCH: usize = 2048;

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    appends: mpsc::Sender<AppendRequest>,
    /// Attachments' bytes: a directory beside the database file.
    blobs: crate::DirBlobs,
    /// How many times the checkpointer has found the whole WAL copied into the database.
    #[cfg_attr(not(test), allow(dead_code))]
    caught_up: tokio::sync::watch::Receiver<u64>,
}

struct AppendRequest {
    message: NewMessage,
    now: Timestamp,
    reply: oneshot::Sender<Result<Appended>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let url = if url.starts_with("sqlite:") { url.to_owned() } else { format!("sqlite://{url}") };
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let blobs = crate::DirBlobs::beside(options.get_filename());
        // The writer never checkpoints: a checkpoint in the commit that crosses the threshold
        // held that commit (and every append queued behind it) for 7–8 ms on this disk. The
        // checkpointer below does it on its own connection instead.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read =
            SqlitePoolOptions::new().max_connections(4).connect_with(options.clone().read_only(true)).await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.pragma("wal_autocheckpoint", "0"))
            .await?;
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(write.clone(), rx));
        let (caught_up_tx, caught_up) = tokio::sync::watch::channel(0);
        tokio::spawn(checkpoint(checkpointer, tx.downgrade(), caught_up_tx));
        Ok(Self { read, write, appends: tx, blobs, caught_up })
    }
}

/// How often the checkpointer looks at the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL pages (4 KiB) past which the checkpointer, when passive checkpoints cannot catch up with a
/// writer that never pauses, makes the writer wait once while it restarts the WAL: a WAL that
/// only grows makes every read slower (an experiment with no checkpoints at all gave p99 550 ms).
const WAL_PAGES_LIMIT: i64 = 32_768;

/// Copies the WAL into the database off the write path: every [`CHECKPOINT_EVERY`] a passive
/// checkpoint (it never blocks the writer or readers; it copies what the readers no longer need,
/// and once everything is copied the writer starts the WAL from its beginning again). Ends when
/// the store is dropped.
async fn checkpoint(
    pool: SqlitePool,
    alive: mpsc::WeakSender<AppendRequest>,
    caught_up: tokio::sync::watch::Sender<u64>,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        let passive: std::result::Result<(i64, i64, i64), _> =
            sqlx::query_as("pragma wal_checkpoint(passive)").fetch_one(&pool).await;
        match passive {
            Ok((_, wal_pages, copied)) if wal_pages > WAL_PAGES_LIMIT && copied < wal_pages => {
                tracing::warn!(wal_pages, "the WAL is not being emptied; restarting it (writes wait)");
                if let Err(e) = sqlx::query("pragma wal_checkpoint(restart)").execute(&pool).await {
                    tracing::warn!(error = %e, "WAL checkpoint (restart) failed");
                }
            }
            Ok((_, wal_pages, copied)) => {
                if copied == wal_pages {
                    caught_up.send_modify(|n| *n += 1);
                }
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// The group-commit loop: take whatever appends are waiting (up to `MAX_BATCH`), write them in one
/// transaction with a few statements (see [`append_batch`]), commit (one fsync), then answer each.
/// A refused append is answered with its error; the others in the batch are unaffected.
async fn group_commit(pool: SqlitePool, mut rx: mpsc::Receiver<AppendRequest>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = match write_batch(&pool, &batch).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!(error = %e, n = batch.len(), "message batch failed to commit");
                batch.iter().map(|_| Err(StoreError::Corrupt(format!("batch failed: {e}")))).collect()
            }
        };
        for (req, result) in batch.drain(..).zip(results) {
            let _ = req.reply.send(result);
        }
    }
}

async fn write_batch(pool: &SqlitePool, batch: &[AppendRequest]) -> Result<Vec<Result<Appended>>> {
    let mut conn = pool.acquire().await?;
    sqlx::query("begin immediate").execute(&mut *conn).await?;
    let results = match append_batch(&mut conn, batch).await {
        Ok(results) => results,
        Err(e) => {
            let _ = sqlx::query("rollback").execute(&mut *conn).await;
            return Err(e);
        }
    };
    if let Err(e) = sqlx::query("commit").execute(&mut *conn).await {
        let _ = sqlx::query("rollback").execute(&mut *conn).await;
        return Err(e.into());
    }
    Ok(results)
}

/// Most rows per multi-row statement (SQLite allows 32,766 bound values; an insert row binds 9).
const ROWS_PER_STATEMENT: usize = 256;

/// Splits `items` into chunks whose sizes are powers of two (256, then the binary digits of the
/// rest), so the multi-row statements come in at most nine shapes per kind, each prepared once and
/// reused from the connection's statement cache instead of parsed afresh for every batch size.
fn statement_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size =
            if rest.len() >= ROWS_PER_STATEMENT { ROWS_PER_STATEMENT } else { 1 << rest.len().ilog2() };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// Appends a whole batch in a handful of statements, whatever its size: one lookup of retried
/// `client_msg_id`s, one sequence-number update for every conversation in the batch (checked
/// against each conversation's state and agent in the same statement, as for a single append),
/// one multi-row insert. A statement costs far more than the row it writes, so this is what makes
/// group commit pay. A conversation written by different senders within one batch (rare) takes
/// the one-message-at-a-time path. A refused append (ended conversation, someone else's) changes
/// nothing and is answered with its error; a database failure fails the whole batch, which is
/// rolled back, so no sequence number is ever taken without its message.
async fn append_batch(conn: &mut SqliteConnection, batch: &[AppendRequest]) -> Result<Vec<Result<Appended>>> {
    let n = batch.len();
    let mut out: Vec<Option<Result<Appended>>> = (0..n).map(|_| None).collect();

    // Retries of messages already stored, and repeats within this very batch.
    let stored = stored_by_client_id(conn, batch).await?;
    let mut first_of: HashMap<(i64, &str), usize> = HashMap::new();
    let mut repeat_of: Vec<Option<usize>> = vec![None; n];
    for (i, req) in batch.iter().enumerate() {
        let Some(cid) = req.message.client_msg_id.as_ref().map(|c| c.as_str()) else { continue };
        let key = (req.message.conversation_id.0, cid);
        if let Some(m) = stored.get(&(key.0, cid.to_owned())) {
            out[i] = Some(Ok(Appended { message: m.clone(), duplicate: true }));
        } else if let Some(&first) = first_of.get(&key) {
            repeat_of[i] = Some(first);
        } else {
            first_of.insert(key, i);
        }
    }

    // The new messages, by conversation, in batch order.
    let mut groups: Vec<(ConversationId, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<ConversationId, usize> = HashMap::new();
    for i in (0..n).filter(|&i| out[i].is_none() && repeat_of[i].is_none()) {
        let c = batch[i].message.conversation_id;
        let g = *group_of.entry(c).or_insert_with(|| {
            groups.push((c, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let same_sender = |ids: &[usize]| {
        let s = &batch[ids[0]].message.sender;
        ids.iter().all(|&i| {
            batch[i].message.sender.kind == s.kind && batch[i].message.sender.agent_id == s.agent_id
        })
    };
    let (fast, slow): (Vec<_>, Vec<_>) = groups.into_iter().partition(|(_, ids)| same_sender(ids));

    // Sequence numbers for every fast conversation at once.
    let mut last_seq: HashMap<ConversationId, i64> = HashMap::new();
    for chunk in statement_chunks(&fast) {
        let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "update conversation set last_seq = last_seq + v.column2
             from (values {values}) as v
             where conversation.conversation_id = v.column1
               and (v.column3 = 'system' or conversation.state in ('queued', 'active', 'transferred'))
               and (v.column3 != 'agent' or conversation.agent_id = v.column4)
             returning conversation_id, last_seq"
        );
        let mut q = sqlx::query_as::<_, (i64, i64)>(&sql);
        for (c, ids) in chunk {
            let sender = &batch[ids[0]].message.sender;
            q = q
                .bind(c.0)
                .bind(ids.len() as i64)
                .bind(sender.kind.as_str())
                .bind(sender.agent_id.map(|a| a.0));
        }
        for (c, last) in q.fetch_all(&mut *conn).await? {
            last_seq.insert(ConversationId(c), last);
        }
    }
    let mut rows: Vec<(usize, i64)> = Vec::new();
    for (c, ids) in &fast {
        match last_seq.get(c) {
            Some(&last) => {
                let first = last - ids.len() as i64 + 1;
                rows.extend(ids.iter().enumerate().map(|(k, &i)| (i, first + k as i64)));
            }
            None => {
                let refused = refusal(conn, *c).await?;
                for &i in ids {
                    out[i] = Some(Err(refused.clone_refusal()));
                }
            }
        }
    }
    for chunk in statement_chunks(&rows) {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "insert into message (conversation_id, seq, sender_kind, sender_agent_id, sender_name, text, tags, client_msg_id, attachment, created_at)
             values {values}"
        );
        let mut q = sqlx::query(&sql);
        for &(i, seq) in chunk {
            let (m, now) = (&batch[i].message, batch[i].now);
            q = q
                .bind(m.conversation_id.0)
                .bind(seq)
                .bind(m.sender.kind.as_str())
                .bind(m.sender.agent_id.map(|a| a.0))
                .bind(m.sender.name.as_deref())
                .bind(m.text.as_str())
                .bind(serde_json::to_string(&m.tags).expect("tags serialise"))
                .bind(m.client_msg_id.as_ref().map(|c| c.as_str()))
                .bind(attachment_json(m))
                .bind(now.0);
        }
        q.execute(&mut *conn).await?;
        for &(i, seq) in chunk {
            out[i] = Some(Ok(Appended {
                message: stored_message(&batch[i].message, seq, batch[i].now),
                duplicate: false,
            }));
        }
    }

    // Conversations with mixed senders in this batch: one message at a time.
    for (_, ids) in &slow {
        for &i in ids {
            out[i] = Some(match append_one(conn, &batch[i].message, batch[i].now).await {
                Err(StoreError::Database(e)) => return Err(StoreError::Database(e)),
                r => r,
            });
        }
    }

    // A repeat within the batch gets what its first copy got.
    for i in 0..n {
        if let Some(first) = repeat_of[i] {
            out[i] = Some(match &out[first] {
                Some(Ok(a)) => Ok(Appended { message: a.message.clone(), duplicate: true }),
                Some(Err(e)) => Err(e.clone_refusal()),
                None => Err(StoreError::Corrupt("append lost in its batch".into())),
            });
        }
    }
    Ok(out
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Corrupt("append lost in its batch".into()))))
        .collect())
}

/// The stored messages that some appends of the batch are retries of, by (conversation, client id).
async fn stored_by_client_id(
    conn: &mut SqliteConnection,
    batch: &[AppendRequest],
) -> Result<HashMap<(i64, String), Message>> {
    let keyed: Vec<&NewMessage> =
        batch.iter().map(|r| &r.message).filter(|m| m.client_msg_id.is_some()).collect();
    let mut found = HashMap::new();
    for chunk in statement_chunks(&keyed) {
        let sql = stored_by_client_id_sql(chunk.len());
        let mut q = sqlx::query(&sql);
        for m in chunk {
            q = q.bind(m.conversation_id.0).bind(m.client_msg_id.as_ref().map(|c| c.as_str()));
        }
        for row in q.fetch_all(&mut *conn).await? {
            let m = message_row(&row)?;
            let key = (m.conversation_id.0, m.client_msg_id.clone().unwrap_or_default());
            found.insert(key, m);
        }
    }
    Ok(found)
}

/// The lookup of `rows` (conversation, client message id) pairs. Written as a join driven by the
/// pairs, so that each is one search of the `message_client_msg_id` index: the same lookup written
/// `where (conversation_id, client_msg_id) in (values …)` made SQLite scan the whole message table
/// for every batch, and appends slowed down as the table grew.
fn stored_by_client_id_sql(rows: usize) -> String {
    let values = vec!["(?, ?)"; rows].join(", ");
    format!(
        "select {MESSAGE_COLS} from (values {values}) as v cross join message \
         on message.conversation_id = v.column1 and message.client_msg_id = v.column2"
    )
}

/// Why a conversation took no message: it does not exist, has ended, or is someone else's.
async fn refusal(conn: &mut SqliteConnection, c: ConversationId) -> Result<StoreError> {
    let row: Option<(String, Option<i64>)> =
        sqlx::query_as("select state, agent_id from conversation where conversation_id = ?")
            .bind(c.0)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match row {
        None => StoreError::NotFound("conversation"),
        Some((state, _)) if !ConversationState::parse(&state).is_some_and(|s| s.is_open()) => {
            StoreError::ConversationClosed
        }
        Some(_) => StoreError::NotAssigned,
    })
}

async fn append_one(conn: &mut SqliteConnection, m: &NewMessage, now: Timestamp) -> Result<Appended> {
    if let Some(cid) = &m.client_msg_id {
        let existing = sqlx::query(&format!(
            "select {MESSAGE_COLS} from message where conversation_id = ? and client_msg_id = ?"
        ))
        .bind(m.conversation_id.0)
        .bind(cid.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = existing {
            return Ok(Appended { message: message_row(&row)?, duplicate: true });
        }
    }
    // Visitors and agents write only to open conversations, agents only to their own; system
    // messages (e.g. "the chat has ended") may follow the close. Checked in the same statement
    // that takes the sequence number, so no state change can slip in between.
    let seq: Option<i64> = sqlx::query_scalar(
        "update conversation set last_seq = last_seq + 1
         where conversation_id = ?1
           and (?2 = 'system' or state in ('queued', 'active', 'transferred'))
           and (?2 != 'agent' or agent_id = ?3)
         returning last_seq",
    )
    .bind(m.conversation_id.0)
    .bind(m.sender.kind.as_str())
    .bind(m.sender.agent_id.map(|a| a.0))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = seq else {
        return Err(refusal(conn, m.conversation_id).await?);
    };
    let tags = serde_json::to_string(&m.tags).expect("tags serialise");
    sqlx::query(
        "insert into message (conversation_id, seq, sender_kind, sender_agent_id, sender_name, text, tags, client_msg_id, attachment, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(m.conversation_id.0)
    .bind(seq)
    .bind(m.sender.kind.as_str())
    .bind(m.sender.agent_id.map(|a| a.0))
    .bind(m.sender.name.as_deref())
    .bind(m.text.as_str())
    .bind(&tags)
    .bind(m.client_msg_id.as_ref().map(|c| c.as_str()))
    .bind(attachment_json(m))
    .bind(now.0)
    .execute(&mut *conn)
    .await?;
    Ok(Appended { message: stored_message(m, seq, now), duplicate: false })
}

/// A person's search words as an FTS5 query: every word must appear, each taken literally
/// (quoted, so FTS operators and punctuation in the input cannot change the query).
fn fts_query(input: &str) -> String {
    input
        .split_whitespace()
        .take(16)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

// --- row mapping ---------------------------------------------------------------------------

const MESSAGE_COLS: &str = "conversation_id, seq, sender_kind, sender_agent_id, sender_name, text, tags, client_msg_id, \
     attachment, created_at";
const CONVERSATION_COLS: &str = "conversation_id, org_id, widget_id, visitor_id, queue_id, state, proactive, \
     agent_id, offered_agent_id, context, last_seq, created_at, accepted_at, ended_at, auth_sub, auth_iss, reply_email, offer_expires_at, language, rating, rating_comment";
const AGENT_COLS: &str = "agent_id, org_id, email, name, role, capacity, presence, disabled_at, created_at";
const WIDGET_COLS: &str =
    "widget_id, org_id, widget_key, name, allowed_origins, default_queue_id, settings, auth, created_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn message_row(r: &SqliteRow) -> Result<Message> {
    let kind: String = r.try_get("sender_kind")?;
    let tags: String = r.try_get("tags")?;
    Ok(Message {
        conversation_id: ConversationId(r.try_get("conversation_id")?),
        seq: r.try_get("seq")?,
        sender: Sender {
            kind: SenderKind::parse(&kind).ok_or_else(|| corrupt("message.sender_kind"))?,
            agent_id: r.try_get::<Option<i64>, _>("sender_agent_id")?.map(AgentId),
            name: r.try_get("sender_name")?,
        },
        text: r.try_get("text")?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("message.tags"))?,
        client_msg_id: r.try_get("client_msg_id")?,
        attachment: attachment_from_json(r.try_get("attachment")?)?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

fn conversation_row(r: &SqliteRow) -> Result<Conversation> {
    let state: String = r.try_get("state")?;
    let context: String = r.try_get("context")?;
    let context: serde_json::Value =
        serde_json::from_str(&context).map_err(|_| corrupt("conversation.context"))?;
    Ok(Conversation {
        id: ConversationId(r.try_get("conversation_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        widget_id: WidgetId(r.try_get("widget_id")?),
        visitor_id: VisitorId(r.try_get("visitor_id")?),
        queue_id: r.try_get::<Option<i64>, _>("queue_id")?.map(QueueId),
        state: ConversationState::parse(&state).ok_or_else(|| corrupt("conversation.state"))?,
        proactive: r.try_get("proactive")?,
        agent_id: r.try_get::<Option<i64>, _>("agent_id")?.map(AgentId),
        offered_agent_id: r.try_get::<Option<i64>, _>("offered_agent_id")?.map(AgentId),
        offer_expires_at: r.try_get::<Option<i64>, _>("offer_expires_at")?.map(Timestamp),
        context: Context::parse(&context).map_err(|_| corrupt("conversation.context"))?,
        last_seq: r.try_get("last_seq")?,
        auth_sub: r.try_get("auth_sub")?,
        auth_iss: r.try_get("auth_iss")?,
        reply_email: r.try_get("reply_email")?,
        language: r.try_get("language")?,
        rating: r.try_get::<Option<i64>, _>("rating")?,
        rating_comment: r.try_get("rating_comment")?,
        created_at: Timestamp(r.try_get("created_at")?),
        accepted_at: r.try_get::<Option<i64>, _>("accepted_at")?.map(Timestamp),
        ended_at: r.try_get::<Option<i64>, _>("ended_at")?.map(Timestamp),
    })
}

fn agent_row(r: &SqliteRow) -> Result<Agent> {
    let role: String = r.try_get("role")?;
    let presence: String = r.try_get("presence")?;
    Ok(Agent {
        id: AgentId(r.try_get("agent_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("agent.role"))?,
        capacity: r.try_get::<i64, _>("capacity")?.try_into().map_err(|_| corrupt("agent.capacity"))?,
        presence: Presence::parse(&presence).ok_or_else(|| corrupt("agent.presence"))?,
        disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

fn widget_row(r: &SqliteRow) -> Result<Widget> {
    let key: String = r.try_get("widget_key")?;
    let origins: String = r.try_get("allowed_origins")?;
    let settings: String = r.try_get("settings")?;
    let auth: Option<String> = r.try_get("auth")?;
    Ok(Widget {
        id: WidgetId(r.try_get("widget_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        key: WidgetKey::parse(&key).ok_or_else(|| corrupt("widget.widget_key"))?,
        name: r.try_get("name")?,
        allowed_origins: serde_json::from_str(&origins).map_err(|_| corrupt("widget.allowed_origins"))?,
        default_queue_id: r.try_get::<Option<i64>, _>("default_queue_id")?.map(QueueId),
        settings: serde_json::from_str::<WidgetSettings>(&settings)
            .map_err(|_| corrupt("widget.settings"))?,
        auth: auth
            .map(|a| serde_json::from_str::<WidgetAuth>(&a).map_err(|_| corrupt("widget.auth")))
            .transpose()?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

fn queue_row(r: &SqliteRow) -> Result<Queue> {
    let hours: Option<String> = r.try_get("hours")?;
    Ok(Queue {
        id: QueueId(r.try_get("queue_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        name: r.try_get("name")?,
        hours: hours.map(|h| serde_json::from_str(&h).map_err(|_| corrupt("queue.hours"))).transpose()?,
        fallback_queue_id: r.try_get::<Option<i64>, _>("fallback_queue_id")?.map(QueueId),
        leave_message_after_secs: r
            .try_get::<Option<i64>, _>("leave_message_after_secs")?
            .map(|s| u32::try_from(s).map_err(|_| corrupt("queue.leave_message_after_secs")))
            .transpose()?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

fn visitor_row(r: &SqliteRow) -> Result<Visitor> {
    Ok(Visitor {
        id: VisitorId(r.try_get("visitor_id")?),
        widget_id: WidgetId(r.try_get("widget_id")?),
        created_at: Timestamp(r.try_get("created_at")?),
        last_seen_at: Timestamp(r.try_get("last_seen_at")?),
    })
}

const VISIT_COLS: &str = "visit_id, visitor_id, number, started_at, last_activity_at, browser, os, device, language, country, city, ip";

fn visit_row(r: &SqliteRow) -> Result<Visit> {
    Ok(Visit {
        id: VisitId(r.try_get("visit_id")?),
        visitor_id: VisitorId(r.try_get("visitor_id")?),
        number: r.try_get("number")?,
        started_at: Timestamp(r.try_get("started_at")?),
        last_activity_at: Timestamp(r.try_get("last_activity_at")?),
        meta: VisitMeta {
            browser: r.try_get("browser")?,
            os: r.try_get("os")?,
            device: r.try_get("device")?,
            language: r.try_get("language")?,
            country: r.try_get("country")?,
            city: r.try_get("city")?,
            ip: r.try_get("ip")?,
        },
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_org(&self, name: &str, now: Timestamp) -> Result<Org> {
        let id: i64 = sqlx::query_scalar("insert into org (name, created_at) values (?, ?) returning org_id")
            .bind(name)
            .bind(now.0)
            .fetch_one(&self.write)
            .await?;
        Ok(Org { id: OrgId(id), name: name.to_owned(), created_at: now })
    }

    async fn create_queue(&self, org: OrgId, name: &str, now: Timestamp) -> Result<Queue> {
        let id: i64 = sqlx::query_scalar(
            "insert into queue (org_id, name, created_at) values (?, ?, ?) returning queue_id",
        )
        .bind(org.0)
        .bind(name)
        .bind(now.0)
        .fetch_one(&self.write)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict("queue name taken")
            } else {
                e.into()
            }
        })?;
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
        sqlx::query("select queue_id, org_id, name, hours, fallback_queue_id, leave_message_after_secs, created_at from queue where queue_id = ?")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .map(|r| queue_row(&r))
            .transpose()
    }

    async fn set_queue_leave_message_after(&self, id: QueueId, secs: Option<u32>) -> Result<()> {
        let r = sqlx::query("update queue set leave_message_after_secs = ? where queue_id = ?")
            .bind(secs.map(i64::from))
            .bind(id.0)
            .execute(&self.write)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("queue"));
        }
        Ok(())
    }

    async fn set_queue_fallback(&self, id: QueueId, fallback: Option<QueueId>) -> Result<()> {
        let r = sqlx::query("update queue set fallback_queue_id = ? where queue_id = ?")
            .bind(fallback.map(|q| q.0))
            .bind(id.0)
            .execute(&self.write)
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
        let r = sqlx::query("update queue set hours = ? where queue_id = ?")
            .bind(hours.map(|h| serde_json::to_string(h).expect("hours serialise")))
            .bind(id.0)
            .execute(&self.write)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("queue"));
        }
        Ok(())
    }

    async fn routing_rules(&self, org: OrgId) -> Result<Vec<beckon_domain::routing::RoutingRule>> {
        let text: Option<String> = sqlx::query_scalar("select rules from routing_rules where org_id = ?")
            .bind(org.0)
            .fetch_optional(&self.read)
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
            "insert into routing_rules (org_id, rules, updated_at, created_at) values (?1, ?2, ?3, ?3)
             on conflict (org_id) do update set rules = excluded.rules, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(&text)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn trigger_rules(&self, org: OrgId) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("select rules from trigger_rules where org_id = ?")
            .bind(org.0)
            .fetch_optional(&self.read)
            .await?)
    }

    async fn set_trigger_rules(&self, org: OrgId, rules_json: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into trigger_rules (org_id, rules, updated_at, created_at) values (?1, ?2, ?3, ?3)
             on conflict (org_id) do update set rules = excluded.rules, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(rules_json)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn trigger_history(&self, visitor_key: &str) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as("select history, version from trigger_history where visitor_key = ?")
            .bind(visitor_key)
            .fetch_optional(&self.read)
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
            None => sqlx::query(
                "insert or ignore into trigger_history (visitor_key, history, updated_at, version) values (?, ?, ?, 1)",
            )
            .bind(visitor_key)
            .bind(history_json)
            .bind(now.0)
            .execute(&self.write)
            .await?,
            Some(v) => sqlx::query(
                "update trigger_history set history = ?, updated_at = ?, version = version + 1
                 where visitor_key = ? and version = ?",
            )
            .bind(history_json)
            .bind(now.0)
            .bind(visitor_key)
            .bind(v)
            .execute(&self.write)
            .await?,
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
            "update visitor set invite_id = ?, invite_until = ?
             where visitor_id = ? and (invite_until is null or invite_until <= ? or invite_id = ?)",
        )
        .bind(invite_id)
        .bind(until.0)
        .bind(visitor.0)
        .bind(now.0)
        .bind(invite_id)
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_invite(&self, visitor: VisitorId, invite_id: Option<&str>) -> Result<()> {
        sqlx::query(
            "update visitor set invite_id = null, invite_until = null
             where visitor_id = ?1 and invite_id is not null and (?2 is null or invite_id = ?2)",
        )
        .bind(visitor.0)
        .bind(invite_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn offered_invite(
        &self,
        visitor: VisitorId,
        invite_id: &str,
    ) -> Result<Option<(Option<QueueId>, String)>> {
        let row: Option<(Option<i64>, String)> = sqlx::query_as(
            "select queue_id, source from invite_event where visitor_id = ? and invite_id = ? and outcome = 'offered'",
        )
        .bind(visitor.0)
        .bind(invite_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|(q, source)| (q.map(QueueId), source)))
    }

    async fn rule_invites_since(&self, queue: QueueId, since: Timestamp) -> Result<u32> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from invite_event
             where queue_id = ? and outcome = 'offered' and created_at >= ? and source like 'rule:%'",
        )
        .bind(queue.0)
        .bind(since.0)
        .fetch_one(&self.read)
        .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn live_nodes(&self, now: Timestamp) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("select node_id from node where expires_at > ? order by node_id")
            .bind(now.0)
            .fetch_all(&self.read)
            .await?)
    }

    async fn page_view_counts(&self, visitor: VisitorId, url: &str) -> Result<(u32, u32)> {
        let row = sqlx::query(
            "select (select count(*) from page_view where visitor_id = ?1 and url = ?2) as of_page,
                    (select count(*) from page_view where visitor_id = ?1) as total",
        )
        .bind(visitor.0)
        .bind(url)
        .fetch_one(&self.read)
        .await?;
        let of_page: i64 = row.try_get("of_page")?;
        let total: i64 = row.try_get("total")?;
        Ok((of_page.try_into().unwrap_or(u32::MAX), total.try_into().unwrap_or(u32::MAX)))
    }

    async fn set_agent_queues(&self, agent: AgentId, queues: &[QueueId], now: Timestamp) -> Result<()> {
        let mut conn = self.write.acquire().await?;
        sqlx::query("begin immediate").execute(&mut *conn).await?;
        let result = async {
            sqlx::query("delete from agent_queue where agent_id = ?")
                .bind(agent.0)
                .execute(&mut *conn)
                .await?;
            for q in queues {
                sqlx::query(
                    "insert or ignore into agent_queue (agent_id, queue_id, created_at) values (?, ?, ?)",
                )
                .bind(agent.0)
                .bind(q.0)
                .bind(now.0)
                .execute(&mut *conn)
                .await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        let end = if result.is_ok() { "commit" } else { "rollback" };
        sqlx::query(end).execute(&mut *conn).await?;
        result
    }

    async fn create_widget(&self, w: NewWidget, now: Timestamp) -> Result<Widget> {
        let origins = serde_json::to_string(&w.allowed_origins).expect("origins serialise");
        let settings = serde_json::to_string(&w.settings).expect("settings serialise");
        let id: i64 = sqlx::query_scalar(
            "insert into widget (org_id, widget_key, name, allowed_origins, default_queue_id, settings, auth, created_at)
             values (?, ?, ?, ?, ?, ?, ?, ?) returning widget_id",
        )
        .bind(w.org_id.0)
        .bind(w.key.as_str())
        .bind(&w.name)
        .bind(&origins)
        .bind(w.default_queue_id.map(|q| q.0))
        .bind(&settings)
        .bind(w.auth.as_ref().map(|a| serde_json::to_string(a).expect("auth serialises")))
        .bind(now.0)
        .fetch_one(&self.write)
        .await
        .map_err(|e| if StoreError::is_unique_violation(&e) { StoreError::Conflict("widget key taken") } else { e.into() })?;
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
        sqlx::query(&format!("select {WIDGET_COLS} from widget where widget_id = ?"))
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .map(|r| widget_row(&r))
            .transpose()
    }

    async fn widget_by_key(&self, key: &WidgetKey) -> Result<Option<Widget>> {
        sqlx::query(&format!("select {WIDGET_COLS} from widget where widget_key = ?"))
            .bind(key.as_str())
            .fetch_optional(&self.read)
            .await?
            .map(|r| widget_row(&r))
            .transpose()
    }

    async fn set_widget_auth(&self, widget: WidgetId, auth: Option<&WidgetAuth>) -> Result<()> {
        let r = sqlx::query("update widget set auth = ? where widget_id = ?")
            .bind(auth.map(|a| serde_json::to_string(a).expect("auth serialises")))
            .bind(widget.0)
            .execute(&self.write)
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
             values (?, ?, ?, ?, ?, ?, 'offline', ?) returning agent_id",
        )
        .bind(a.org_id.0)
        .bind(&email)
        .bind(&a.name)
        .bind(&a.password_hash)
        .bind(a.role.as_str())
        .bind(i64::from(a.capacity))
        .bind(now.0)
        .fetch_one(&self.write)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) { StoreError::Conflict("email taken") } else { e.into() }
        })?;
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
        sqlx::query(&format!("select {AGENT_COLS} from agent where agent_id = ?"))
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .map(|r| agent_row(&r))
            .transpose()
    }

    async fn agent_credentials(&self, email: &str) -> Result<Option<(Agent, String)>> {
        let row = sqlx::query(&format!("select {AGENT_COLS}, password_hash from agent where email = ?"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((agent_row(&r)?, r.try_get("password_hash")?))).transpose()
    }

    async fn set_agent_presence(&self, id: AgentId, presence: Presence, now: Timestamp) -> Result<()> {
        sqlx::query(
            "update agent set presence = ?1,
                 idle_since = case when ?1 = 'available' and presence <> 'available' then ?2 else idle_since end
             where agent_id = ?3",
        )
        .bind(presence.as_str())
        .bind(now.0)
        .bind(id.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn add_agent_to_queue(&self, agent: AgentId, queue: QueueId, now: Timestamp) -> Result<()> {
        sqlx::query("insert or ignore into agent_queue (agent_id, queue_id, created_at) values (?, ?, ?)")
            .bind(agent.0)
            .bind(queue.0)
            .bind(now.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn queue_agents(&self, queue: QueueId) -> Result<Vec<Agent>> {
        let cols = AGENT_COLS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        sqlx::query(&format!(
            "select {cols} from agent a join agent_queue aq on aq.agent_id = a.agent_id
             where aq.queue_id = ? and a.disabled_at is null order by a.agent_id"
        ))
        .bind(queue.0)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(agent_row)
        .collect()
    }

    async fn agent_queues(&self, agent: AgentId) -> Result<Vec<QueueId>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("select queue_id from agent_queue where agent_id = ? order by queue_id")
                .bind(agent.0)
                .fetch_all(&self.read)
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
            "insert into agent_session (token_hash, agent_id, expires_at, created_at) values (?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(agent.0)
        .bind(expires_at.0)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn agent_for_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<Agent>> {
        let cols = AGENT_COLS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        sqlx::query(&format!(
            "select {cols} from agent_session s join agent a on a.agent_id = s.agent_id
             where s.token_hash = ? and s.expires_at > ? and a.disabled_at is null"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(&self.read)
        .await?
        .map(|r| agent_row(&r))
        .transpose()
    }

    async fn delete_agent_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("delete from agent_session where token_hash = ?")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn sign_in_blocked_until(&self, email: &str, now: Timestamp) -> Result<Option<Timestamp>> {
        let until: Option<Option<i64>> = sqlx::query_scalar(
            "select blocked_until from sign_in_throttle where email = ? and blocked_until > ?",
        )
        .bind(email.trim().to_lowercase())
        .bind(now.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(until.flatten().map(Timestamp))
    }

    async fn record_sign_in_failure(
        &self,
        email: &str,
        forget_before: Timestamp,
        now: Timestamp,
    ) -> Result<u32> {
        let mut tx = self.write.begin().await?;
        sqlx::query("delete from sign_in_throttle where updated_at < ?")
            .bind(forget_before.0)
            .execute(&mut *tx)
            .await?;
        let failures: i64 = sqlx::query_scalar(
            "insert into sign_in_throttle (email, failures, updated_at, created_at) values (?, 1, ?, ?)
             on conflict (email) do update set failures = failures + 1, updated_at = excluded.updated_at
             returning failures",
        )
        .bind(email.trim().to_lowercase())
        .bind(now.0)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(u32::try_from(failures).unwrap_or(u32::MAX))
    }

    async fn block_sign_in(&self, email: &str, until: Timestamp) -> Result<()> {
        sqlx::query("update sign_in_throttle set blocked_until = ? where email = ?")
            .bind(until.0)
            .bind(email.trim().to_lowercase())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn clear_sign_in_failures(&self, email: &str) -> Result<()> {
        sqlx::query("delete from sign_in_throttle where email = ?")
            .bind(email.trim().to_lowercase())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn set_agent_disabled(&self, id: AgentId, disabled: bool, now: Timestamp) -> Result<Option<Agent>> {
        let mut tx = self.write.begin().await?;
        let agent = sqlx::query(&format!(
            "update agent set disabled_at = case when ? then coalesce(disabled_at, ?) end
             where agent_id = ? returning {AGENT_COLS}"
        ))
        .bind(disabled)
        .bind(now.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| agent_row(&r))
        .transpose()?;
        if disabled {
            sqlx::query("delete from agent_session where agent_id = ?").bind(id.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(agent)
    }

    async fn set_agent_password(&self, id: AgentId, password_hash: &str, keep: Option<&str>) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("update agent set password_hash = ? where agent_id = ?")
            .bind(password_hash)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from agent_session where agent_id = ? and token_hash is not ?")
            .bind(id.0)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_visitor(&self, v: NewVisitor, now: Timestamp) -> Result<(Visitor, Visit)> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "insert into visitor (visitor_id, widget_id, token_hash, last_seen_at, created_at) values (?, ?, ?, ?, ?)",
        )
        .bind(v.id.0)
        .bind(v.widget_id.0)
        .bind(&v.token_hash)
        .bind(now.0)
        .bind(v.arrived_at.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) { StoreError::Conflict("visitor id or token taken") } else { e.into() }
        })?;
        let m = &v.meta;
        let visit_id: i64 = sqlx::query_scalar(
            "insert into visit (visitor_id, number, started_at, last_activity_at, created_at,
                                browser, os, device, language, country, city, ip)
             values (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning visit_id",
        )
        .bind(v.id.0)
        .bind(v.arrived_at.0)
        .bind(now.0)
        .bind(v.arrived_at.0)
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
                "insert into page_view (visit_id, visitor_id, url, title, referrer, created_at) values (?, ?, ?, ?, ?, ?)",
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
            "select visitor_id, widget_id, created_at, last_seen_at from visitor where token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?
        .map(|r| visitor_row(&r))
        .transpose()
    }

    async fn set_visitor_auth_sub(&self, visitor: VisitorId, iss: &str, sub: &str) -> Result<()> {
        sqlx::query("update visitor set auth_sub = ?, auth_iss = ? where visitor_id = ?")
            .bind(sub)
            .bind(iss)
            .bind(visitor.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn touch_visit(&self, visitor: VisitorId, inactivity_ms: i64, now: Timestamp) -> Result<Visit> {
        // The write pool has one connection, so this read-then-write cannot interleave with
        // another writer.
        let mut conn = self.write.acquire().await?;
        sqlx::query("begin immediate").execute(&mut *conn).await?;
        let result = async {
            let last = sqlx::query(&format!(
                "select {VISIT_COLS} from visit where visitor_id = ? order by number desc limit 1"
            ))
            .bind(visitor.0)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| visit_row(&r))
            .transpose()?;
            let visit = match last {
                Some(v) if now.since(v.last_activity_at) <= inactivity_ms => {
                    sqlx::query("update visit set last_activity_at = ? where visit_id = ?")
                        .bind(now.0)
                        .bind(v.id.0)
                        .execute(&mut *conn)
                        .await?;
                    Visit { last_activity_at: now, ..v }
                }
                last => {
                    let number = last.map_or(1, |v| v.number + 1);
                    let id: i64 = sqlx::query_scalar(
                        "insert into visit (visitor_id, number, started_at, last_activity_at, created_at)
                         values (?, ?, ?, ?, ?) returning visit_id",
                    )
                    .bind(visitor.0)
                    .bind(number)
                    .bind(now.0)
                    .bind(now.0)
                    .bind(now.0)
                    .fetch_one(&mut *conn)
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
            sqlx::query("update visitor set last_seen_at = ? where visitor_id = ?")
                .bind(now.0)
                .bind(visitor.0)
                .execute(&mut *conn)
                .await?;
            Ok::<_, StoreError>(visit)
        }
        .await;
        let end = if result.is_ok() { "commit" } else { "rollback" };
        sqlx::query(end).execute(&mut *conn).await?;
        result
    }

    async fn record_page_view(&self, pv: NewPageView, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into page_view (visit_id, visitor_id, url, title, referrer, created_at) values (?, ?, ?, ?, ?, ?)",
        )
        .bind(pv.visit_id.0)
        .bind(pv.visitor_id.0)
        .bind(&pv.url)
        .bind(&pv.title)
        .bind(&pv.referrer)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn set_visit_meta(&self, visit: VisitId, meta: &VisitMeta) -> Result<()> {
        sqlx::query(
            "update visit set browser = ?, os = ?, device = ?, language = ?, country = ?, city = ?, ip = ?
             where visit_id = ?",
        )
        .bind(meta.browser.as_deref())
        .bind(meta.os.as_deref())
        .bind(meta.device.as_deref())
        .bind(meta.language.as_deref())
        .bind(meta.country.as_deref())
        .bind(meta.city.as_deref())
        .bind(meta.ip.as_deref())
        .bind(visit.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn latest_visit(&self, visitor: VisitorId) -> Result<Option<Visit>> {
        sqlx::query(&format!(
            "select {VISIT_COLS} from visit where visitor_id = ? order by number desc limit 1"
        ))
        .bind(visitor.0)
        .fetch_optional(&self.read)
        .await?
        .map(|r| visit_row(&r))
        .transpose()
    }

    async fn page_views(&self, visit: VisitId, limit: u32) -> Result<Vec<PageView>> {
        let mut views = sqlx::query(
            "select url, title, referrer, created_at from page_view where visit_id = ?
             order by page_view_id desc limit ?",
        )
        .bind(visit.0)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
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
             from visitor v where v.visitor_id = ?",
        )
        .bind(visitor.0)
        .fetch_optional(&self.read)
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
            "select {CONVERSATION_COLS} from conversation where visitor_id = ? order by conversation_id desc limit ?"
        ))
        .bind(visitor.0)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn record_invite_event(&self, ev: NewInviteEvent, now: Timestamp) -> Result<bool> {
        let r = sqlx::query(
            "insert or ignore into invite_event (widget_id, visitor_id, invite_id, source, outcome, reason, message, created_at, queue_id)
             select ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
             where ?5 not in ('accepted', 'declined', 'expired')
                or (exists (select 1 from invite_event where visitor_id = ?2 and invite_id = ?3 and outcome in ('offered', 'shown'))
                    and not exists (select 1 from invite_event where visitor_id = ?2 and invite_id = ?3
                                    and outcome in ('accepted', 'declined', 'expired')))",
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
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn invite_events(&self, widget: WidgetId) -> Result<Vec<InviteEvent>> {
        sqlx::query(
            "select visitor_id, invite_id, source, outcome, reason, message, created_at from invite_event
             where widget_id = ? order by invite_event_id",
        )
        .bind(widget.0)
        .fetch_all(&self.read)
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
        let events = sqlx::query(
            "select date(e.created_at / 1000, 'unixepoch') as day, e.source, e.outcome,
                    coalesce(e.reason, '') as reason, count(*) as n
             from invite_event e join widget w on w.widget_id = e.widget_id
             where w.org_id = ? and e.created_at >= ? and e.created_at < ?
             group by day, e.source, e.outcome, reason",
        )
        .bind(org.0)
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&self.read)
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
        let convs = sqlx::query(
            "select date(c.created_at / 1000, 'unixepoch') as day,
                    (select e.source from invite_event e where e.visitor_id = c.visitor_id and e.invite_id = c.invite_id limit 1) as source,
                    count(*) as n, sum(case when c.accepted_at is not null then 1 else 0 end) as answered
             from conversation c
             where c.org_id = ? and c.invite_id is not null and c.created_at >= ? and c.created_at < ?
             group by day, source",
        )
        .bind(org.0)
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&self.read)
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
            "insert into conversation (org_id, widget_id, visitor_id, queue_id, state, proactive, invite_id, context, auth_sub, auth_iss, created_at, reply_email, leave_message_at, language, visitor_name)
             values (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning {CONVERSATION_COLS}"
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
        .fetch_one(&self.write)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict("the visitor already has an open conversation")
            } else {
                e.into()
            }
        })?;
        conversation_row(&row)
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>> {
        sqlx::query(&format!("select {CONVERSATION_COLS} from conversation where conversation_id = ?"))
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .map(|r| conversation_row(&r))
            .transpose()
    }

    async fn open_conversation_of_visitor(&self, visitor: VisitorId) -> Result<Option<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where visitor_id = ? and state in ('queued', 'active', 'transferred')"
        ))
        .bind(visitor.0)
        .fetch_optional(&self.read)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn open_conversations_of_agent(&self, agent: AgentId) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where (agent_id = ?1 or offered_agent_id = ?1) and state in ('queued', 'active', 'transferred')
             order by conversation_id"
        ))
        .bind(agent.0)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn waiting_in_queue(&self, queue: QueueId, limit: u32) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where queue_id = ?1 and state in ('queued', 'transferred')
             order by created_at, conversation_id limit ?2"
        ))
        .bind(queue.0)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn unoffered_waiting(&self, queue: QueueId) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "select {CONVERSATION_COLS} from conversation
             where queue_id = ? and state in ('queued', 'transferred') and offered_agent_id is null
               and reply_email is null
             order by created_at, conversation_id"
        ))
        .bind(queue.0)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn queue_position(&self, id: ConversationId) -> Result<Option<i64>> {
        let pos: Option<i64> = sqlx::query_scalar(
            "select 1 + (select count(*) from conversation o
                         where o.queue_id = c.queue_id and o.state in ('queued', 'transferred')
                           and o.reply_email is null
                           and (o.created_at, o.conversation_id) < (c.created_at, c.conversation_id))
             from conversation c where c.conversation_id = ? and c.state in ('queued', 'transferred')
               and c.reply_email is null",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(pos)
    }

    async fn average_wait_ms(&self, queue: QueueId, since: Timestamp) -> Result<Option<i64>> {
        let avg: Option<f64> = sqlx::query_scalar(
            "select avg(accepted_at - created_at) from conversation
             where queue_id = ? and accepted_at is not null and accepted_at >= ?",
        )
        .bind(queue.0)
        .bind(since.0)
        .fetch_one(&self.read)
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
        // One writer connection: the load check and the offer cannot interleave with another.
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "update conversation set offered_agent_id = ?1, offer_expires_at = ?2
             where conversation_id = ?3 and state in ('queued', 'transferred') and offered_agent_id is null
               and (select count(*) from conversation
                    where (agent_id = ?1 and state = 'active')
                       or (offered_agent_id = ?1 and state in ('queued', 'transferred'))) < ?4",
        )
        .bind(agent.0)
        .bind(expires_at.0)
        .bind(id.0)
        .bind(i64::from(capacity))
        .execute(&mut *tx)
        .await?;
        let offered = r.rows_affected() == 1;
        if offered {
            sqlx::query("update agent set idle_since = ? where agent_id = ?")
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
             where conversation_id = ? and offered_agent_id = ?",
        )
        .bind(id.0)
        .bind(agent.0)
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn decline_offer(&self, id: ConversationId, agent: AgentId, now: Timestamp) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "update conversation set offered_agent_id = null, offer_expires_at = null
             where conversation_id = ? and offered_agent_id = ?",
        )
        .bind(id.0)
        .bind(agent.0)
        .execute(&mut *tx)
        .await?;
        let declined = r.rows_affected() == 1;
        if declined {
            sqlx::query(
                "insert or ignore into conversation_decline (conversation_id, agent_id, created_at) values (?, ?, ?)",
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
            "select agent_id from conversation_decline where conversation_id = ? order by created_at, agent_id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(AgentId).collect())
    }

    async fn expire_offers(&self, now: Timestamp) -> Result<Vec<(Conversation, AgentId)>> {
        let mut tx = self.write.begin().await?;
        let due: Vec<(i64, i64)> = sqlx::query_as(
            "select conversation_id, offered_agent_id from conversation
             where offer_expires_at <= ? and offered_agent_id is not null
             order by offer_expires_at, conversation_id",
        )
        .bind(now.0)
        .fetch_all(&mut *tx)
        .await?;
        let mut expired = Vec::with_capacity(due.len());
        for (id, agent) in due {
            sqlx::query(
                "insert or ignore into conversation_decline (conversation_id, agent_id, created_at) values (?, ?, ?)",
            )
            .bind(id)
            .bind(agent)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            let c = sqlx::query(&format!(
                "update conversation set offered_agent_id = null, offer_expires_at = null
                 where conversation_id = ? returning {CONVERSATION_COLS}"
            ))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            expired.push((conversation_row(&c)?, AgentId(agent)));
        }
        tx.commit().await?;
        Ok(expired)
    }

    async fn set_announced_position(&self, id: ConversationId, position: i64) -> Result<Option<bool>> {
        let mut tx = self.write.begin().await?;
        let before: Option<Option<i64>> =
            sqlx::query_scalar("select announced_position from conversation where conversation_id = ?")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(before) = before.filter(|b| *b != Some(position)) else { return Ok(None) };
        sqlx::query("update conversation set announced_position = ? where conversation_id = ?")
            .bind(position)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(before.is_none()))
    }

    async fn node_heartbeat(&self, node: &str, expires_at: Timestamp, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into node (node_id, started_at, expires_at) values (?, ?, ?)
             on conflict (node_id) do update set expires_at = excluded.expires_at",
        )
        .bind(node)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn expire_nodes(&self, now: Timestamp) -> Result<Vec<String>> {
        let mut tx = self.write.begin().await?;
        let dead: Vec<(String, i64)> =
            sqlx::query_as("select node_id, expires_at from node where expires_at < ?")
                .bind(now.0)
                .fetch_all(&mut *tx)
                .await?;
        for (node, ended) in &dead {
            sqlx::query("update agent_console set closed_at = ? where node_id = ? and closed_at is null")
                .bind(ended)
                .bind(node)
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from node where node_id = ?").bind(node).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(dead.into_iter().map(|(n, _)| n).collect())
    }

    async fn node_stopped(&self, node: &str, now: Timestamp) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("update agent_console set closed_at = ? where node_id = ? and closed_at is null")
            .bind(now.0)
            .bind(node)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from node where node_id = ?").bind(node).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_console(&self, console: &str, agent: AgentId, node: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "insert into agent_console (console_id, agent_id, node_id, created_at) values (?, ?, ?, ?)",
        )
        .bind(console)
        .bind(agent.0)
        .bind(node)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn close_console(&self, console: &str, now: Timestamp) -> Result<()> {
        sqlx::query("update agent_console set closed_at = ? where console_id = ? and closed_at is null")
            .bind(now.0)
            .bind(console)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn drop_closed_consoles(&self, closed_before: Timestamp) -> Result<Vec<AgentId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "delete from agent_console where closed_at is not null and closed_at <= ? returning agent_id",
        )
        .bind(closed_before.0)
        .fetch_all(&self.write)
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
        let marks = vec!["?"; agents.len()].join(", ");
        let sql = format!(
            "select a.agent_id, a.presence, a.idle_since,
                    exists (select 1 from agent_console c where c.agent_id = a.agent_id
                            and (c.closed_at is null or c.closed_at > ?)) as online
             from agent a where a.agent_id in ({marks})"
        );
        let mut q = sqlx::query(&sql).bind(lingering_after.0);
        for a in agents {
            q = q.bind(a.0);
        }
        q.fetch_all(&self.read)
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
                 union all select min(closed_at) + ?1 from agent_console where closed_at is not null
                 union all select min(coalesce(mail_lease_until, 0)) from conversation
                     where ?2 and reply_email is not null and mailed_seq < last_seq
                 union all select min(leave_message_at) from conversation where leave_message_at is not null
                 union all select min(due_at) from mail_out where ?2 and due_at is not null
             )",
        )
        .bind(grace_ms)
        .bind(mail)
        .fetch_one(&self.read)
        .await?;
        Ok(at.map(Timestamp))
    }

    async fn set_reply_email(&self, id: ConversationId, email: &str) -> Result<Option<Conversation>> {
        sqlx::query(&format!(
            "update conversation set reply_email = ?, mailed_seq = last_seq, mail_lease_until = null
             where conversation_id = ? and state in ('queued', 'transferred') and agent_id is null
             returning {CONVERSATION_COLS}"
        ))
        .bind(email)
        .bind(id.0)
        .fetch_optional(&self.write)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn claim_mail(&self, now: Timestamp, lease_until: Timestamp, limit: u32) -> Result<Vec<MailDue>> {
        sqlx::query(&format!(
            "update conversation set mail_lease_until = ?1
             where conversation_id in (
                 select conversation_id from conversation
                 where reply_email is not null and mailed_seq < last_seq
                   and (mail_lease_until is null or mail_lease_until <= ?2)
                 order by conversation_id limit ?3)
             returning {CONVERSATION_COLS}, mailed_seq"
        ))
        .bind(lease_until.0)
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&self.write)
        .await?
        .iter()
        .map(|r| Ok(MailDue { conversation: conversation_row(r)?, mailed_seq: r.try_get("mailed_seq")? }))
        .collect()
    }

    async fn take_due_leave_message_offers(&self, now: Timestamp) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "update conversation set leave_message_at = null
             where leave_message_at is not null and leave_message_at <= ?
             returning {CONVERSATION_COLS}"
        ))
        .bind(now.0)
        .fetch_all(&self.write)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn mail_done(&self, id: ConversationId, through_seq: i64) -> Result<()> {
        sqlx::query(
            "update conversation set mailed_seq = max(mailed_seq, ?), mail_lease_until = null
             where conversation_id = ?",
        )
        .bind(through_seq)
        .bind(id.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn take_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        assign_waiting(&self.write, id, agent, now, false).await
    }

    async fn accept_conversation(
        &self,
        id: ConversationId,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        assign_waiting(&self.write, id, agent, now, true).await
    }

    async fn transfer_conversation(
        &self,
        id: ConversationId,
        from: AgentId,
        queue: Option<QueueId>,
        to_agent: Option<(AgentId, Timestamp)>,
        now: Timestamp,
    ) -> Result<Option<Conversation>> {
        let mut tx = self.write.begin().await?;
        let moved = sqlx::query(&format!(
            "update conversation set state = 'transferred', agent_id = null, offered_agent_id = ?,
                 offer_expires_at = ?, queue_id = coalesce(?, queue_id)
             where conversation_id = ? and agent_id = ? and state = 'active'
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
            sqlx::query("delete from conversation_decline where conversation_id = ?")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "insert or ignore into conversation_decline (conversation_id, agent_id, created_at) values (?, ?, ?)",
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

    async fn agents_of_org(&self, org: OrgId) -> Result<Vec<Agent>> {
        sqlx::query(&format!("select {AGENT_COLS} from agent where org_id = ? order by name, agent_id"))
            .bind(org.0)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(agent_row)
            .collect()
    }

    async fn queues_of_org(&self, org: OrgId) -> Result<Vec<Queue>> {
        sqlx::query(
            "select queue_id, org_id, name, hours, fallback_queue_id, leave_message_after_secs, created_at from queue where org_id = ? order by name",
        )
        .bind(org.0)
        .fetch_all(&self.read)
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
            "update conversation set state = ?, offered_agent_id = null, offer_expires_at = null, ended_at = ?
             where conversation_id = ? and state in ('queued', 'active', 'transferred')
             returning {CONVERSATION_COLS}"
        ))
        .bind(to.as_str())
        .bind(now.0)
        .bind(id.0)
        .fetch_optional(&self.write)
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
            "update conversation set auth_sub = ?, auth_iss = ?, context = ?
             where conversation_id = ? and state in ('queued', 'active', 'transferred')
             returning {CONVERSATION_COLS}"
        ))
        .bind(sub)
        .bind(iss)
        .bind(&context)
        .bind(id.0)
        .fetch_optional(&self.write)
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
            "select {CONVERSATION_COLS} from conversation where org_id = ? and auth_sub = ? and auth_iss is ?
             order by conversation_id desc limit ?"
        ))
        .bind(org.0)
        .bind(sub)
        .bind(iss)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
    }

    async fn search_conversations(&self, q: &ConversationSearch) -> Result<Vec<ConversationSummary>> {
        let cols = CONVERSATION_COLS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
        let text = q.text.as_deref().map(fts_query).filter(|t| !t.is_empty());
        let sql = format!(
            "select {cols}, a.name as agent_name,
                    (select m.text from message m where m.conversation_id = c.conversation_id
                       and m.tags not like '%\"internal\"%' order by m.seq desc limit 1) as last_message
             from conversation c left join agent a on a.agent_id = c.agent_id
             where (?1 is null or c.org_id = ?1)
               and (?2 is null or c.conversation_id in (
                     select m.conversation_id from message_fts f join message m on m.message_id = f.rowid
                     where message_fts match ?2))
               and (?3 is null or c.visitor_id = ?3)
               and (?4 is null or c.auth_sub = ?4
                    or instr(coalesce(c.visitor_name, ''), ?11) > 0)
               and (?5 is null or c.agent_id = ?5)
               and (?6 is null or c.state = ?6)
               and (?7 is null or c.created_at >= ?7)
               and (?8 is null or c.created_at < ?8)
               and (?9 is null or c.conversation_id < ?9)
             order by c.conversation_id desc limit ?10"
        );
        sqlx::query(&sql)
            .bind(q.org_id.map(|o| o.0))
            .bind(text)
            .bind(q.visitor_id.map(|v| v.0))
            .bind(q.auth_sub.as_deref())
            .bind(q.agent_id.map(|a| a.0))
            .bind(q.state.map(|s| s.as_str()))
            .bind(q.created_from.map(|t| t.0))
            .bind(q.created_to.map(|t| t.0))
            .bind(q.before_id.map(|c| c.0))
            .bind(i64::from(q.limit.clamp(1, 200)))
            .bind(q.auth_sub.as_deref().map(str::to_lowercase))
            .fetch_all(&self.read)
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
        let marks = vec!["?"; agents.len()].join(", ");
        let sql = format!(
            "select a, count(*) as n from (
                 select agent_id as a from conversation where state = 'active' and agent_id in ({marks})
                 union all
                 select offered_agent_id as a from conversation
                 where state in ('queued', 'transferred') and offered_agent_id in ({marks})
             ) group by a"
        );
        let mut q = sqlx::query(&sql);
        for _ in 0..2 {
            for a in agents {
                q = q.bind(a.0);
            }
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(|r| Ok((AgentId(r.try_get("a")?), r.try_get::<i64, _>("n")? as u32))).collect()
    }

    async fn append_message(&self, m: NewMessage, now: Timestamp) -> Result<Appended> {
        let (reply, rx) = oneshot::channel();
        self.appends.send(AppendRequest { message: m, now, reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn messages_after(&self, c: ConversationId, after_seq: i64, limit: u32) -> Result<Vec<Message>> {
        sqlx::query(&format!(
            "select {MESSAGE_COLS} from message where conversation_id = ? and seq > ? order by seq limit ?"
        ))
        .bind(c.0)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(message_row)
        .collect()
    }

    async fn widgets_of_org(&self, org: OrgId) -> Result<Vec<Widget>> {
        sqlx::query(&format!("select {WIDGET_COLS} from widget where org_id = ? order by widget_id"))
            .bind(org.0)
            .fetch_all(&self.read)
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
            "update widget set name = ?, allowed_origins = ?, default_queue_id = ?, settings = ?
             where widget_id = ? returning {WIDGET_COLS}"
        ))
        .bind(name)
        .bind(&origins)
        .bind(default_queue_id.map(|q| q.0))
        .bind(&settings)
        .bind(id.0)
        .fetch_optional(&self.write)
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
            "update agent set name = ?, role = ?, capacity = ? where agent_id = ? returning {AGENT_COLS}"
        ))
        .bind(name)
        .bind(role.as_str())
        .bind(i64::from(capacity))
        .bind(id.0)
        .fetch_optional(&self.write)
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
             values (?1, ?2, ?3, ?4, ?5, ?6, ?6) returning mail_id",
        )
        .bind(org.0)
        .bind(conversation.map(|c| c.0))
        .bind(to)
        .bind(subject)
        .bind(body)
        .bind(now.0)
        .fetch_one(&self.write)
        .await?)
    }

    async fn mail_count_of_conversation(&self, conversation: ConversationId) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from mail_out where conversation_id = ?1")
            .bind(conversation.0)
            .fetch_one(&self.read)
            .await?)
    }

    async fn claim_outgoing_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutgoingMail>> {
        let rows = sqlx::query(
            "update mail_out set due_at = ?1
             where mail_id in (select mail_id from mail_out where due_at is not null and due_at <= ?2
                               order by due_at limit ?3)
             returning mail_id, to_addr, subject, body",
        )
        .bind(lease_until.0)
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&self.write)
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
            "update mail_out set due_at = null, sent_at = case when ?1 is null then ?2 else null end, error = ?1
             where mail_id = ?3",
        )
        .bind(error)
        .bind(now.0)
        .bind(id)
        .execute(&self.write)
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
            "update conversation set rating = ?, rating_comment = ?, rated_at = ?
             where conversation_id = ? and visitor_id = ? and state = 'ended' and accepted_at is not null
             returning {CONVERSATION_COLS}"
        ))
        .bind(score)
        .bind(comment)
        .bind(now.0)
        .bind(id.0)
        .bind(visitor.0)
        .fetch_optional(&self.write)
        .await?
        .map(|r| conversation_row(&r))
        .transpose()
    }

    async fn ratings(&self, org: OrgId, since: Timestamp, limit: u32) -> Result<Vec<Rating>> {
        let rows = sqlx::query(
            "select c.conversation_id, c.agent_id, a.name as agent_name, c.rating, c.rating_comment, c.rated_at
             from conversation c left join agent a on a.agent_id = c.agent_id
             where c.org_id = ? and c.rating is not null and c.rated_at >= ?
             order by c.rated_at desc, c.conversation_id desc limit ?",
        )
        .bind(org.0)
        .bind(since.0)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
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
             where org_id = ? and (agent_id is null or agent_id = ?)
             order by shortcut, agent_id nulls first"
        ))
        .bind(org.0)
        .bind(agent.0)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(canned_row)
        .collect()
    }

    async fn count_canned_replies(&self, org: OrgId, owner: Option<AgentId>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "select count(*) from canned_reply where org_id = ? and coalesce(agent_id, 0) = ?",
        )
        .bind(org.0)
        .bind(owner.map_or(0, |a| a.0))
        .fetch_one(&self.read)
        .await?)
    }

    async fn canned_reply(&self, id: i64) -> Result<Option<CannedReply>> {
        sqlx::query(&format!("select {CANNED_COLS} from canned_reply where canned_reply_id = ?"))
            .bind(id)
            .fetch_optional(&self.read)
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
             values (?, ?, ?, ?, ?) returning {CANNED_COLS}"
        ))
        .bind(org.0)
        .bind(owner.map(|a| a.0))
        .bind(shortcut)
        .bind(text)
        .bind(now.0)
        .fetch_one(&self.write)
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
            "update canned_reply set shortcut = ?, text = ? where canned_reply_id = ?
             returning {CANNED_COLS}"
        ))
        .bind(shortcut)
        .bind(text)
        .bind(id)
        .fetch_optional(&self.write)
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
        let r = sqlx::query("delete from canned_reply where canned_reply_id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn conversation_invite(&self, id: ConversationId) -> Result<Option<(String, String, String)>> {
        let row = sqlx::query(
            "select e.invite_id, e.source, e.message from conversation c
             join invite_event e on e.visitor_id = c.visitor_id and e.invite_id = c.invite_id
             where c.conversation_id = ? order by e.invite_event_id limit 1",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| Ok((r.try_get("invite_id")?, r.try_get("source")?, r.try_get("message")?))).transpose()
    }

    async fn add_attachment(
        &self,
        conversation: ConversationId,
        sender: SenderKind,
        a: &Attachment,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        self.blobs.put(&a.id, bytes).await?;
        sqlx::query(
            "insert into attachment (attachment_id, conversation_id, name, content_type, size, sender_kind, created_at)
             values (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&a.id)
        .bind(conversation.0)
        .bind(&a.name)
        .bind(&a.content_type)
        .bind(i64::try_from(a.size).unwrap_or(i64::MAX))
        .bind(sender.as_str())
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn attachment(&self, id: &str) -> Result<Option<(ConversationId, Attachment)>> {
        sqlx::query(
            "select attachment_id, conversation_id, name, content_type, size from attachment where attachment_id = ?",
        )
        .bind(id)
        .fetch_optional(&self.read)
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
        self.blobs.get(id).await
    }

    async fn attachment_count(&self, conversation: ConversationId, sender: SenderKind) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from attachment where conversation_id = ? and sender_kind = ?",
        )
        .bind(conversation.0)
        .bind(sender.as_str())
        .fetch_one(&self.read)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Waiting → active and assigned to `agent` (an accept when `offered_only`, which needs the
/// conversation offered to `agent`; else a take from the waiting list), in one statement.
async fn assign_waiting(
    db: &sqlx::SqlitePool,
    id: ConversationId,
    agent: AgentId,
    now: Timestamp,
    offered_only: bool,
) -> Result<Option<Conversation>> {
    sqlx::query(&format!(
        "update conversation set state = 'active', agent_id = ?1, offered_agent_id = null,
             offer_expires_at = null, accepted_at = coalesce(accepted_at, ?3)
         where conversation_id = ?2 and state in ('queued', 'transferred')
           and (offered_agent_id = ?1 or not ?4)
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

#[cfg(test)]
mod plan_tests {
    use super::*;

    /// The plan SQLite chooses for `sql` (with every parameter bound to null), one line per step.
    async fn plan(store: &SqliteStore, sql: &str, params: usize) -> String {
        let explain = format!("explain query plan {sql}");
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for _ in 0..params {
            q = q.bind(None::<i64>);
        }
        let rows = q.fetch_all(&store.read).await.unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
    }

    #[tokio::test]
    async fn the_retry_lookup_of_a_batch_searches_the_index_instead_of_scanning_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("plan.db").to_str().unwrap()).await.unwrap();
        for rows in [1, 2, 256] {
            let p = plan(&store, &stored_by_client_id_sql(rows), 2 * rows).await;
            assert!(p.contains("SEARCH message USING INDEX message_client_msg_id"), "{rows} rows:\n{p}");
            assert!(!p.contains("SCAN message"), "{rows} rows:\n{p}");
        }
    }
}

#[cfg(test)]
mod chunk_tests {
    #[test]
    fn statement_chunks_are_powers_of_two_covering_everything_in_order() {
        let items: Vec<usize> = (0..700).collect();
        let sizes: Vec<usize> = super::statement_chunks(&items).map(|c| c.len()).collect();
        assert_eq!(sizes, [256, 256, 128, 32, 16, 8, 4]);
        let flat: Vec<usize> = super::statement_chunks(&items).flatten().copied().collect();
        assert_eq!(flat, items);
        assert_eq!(super::statement_chunks::<u8>(&[]).count(), 0);
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    /// What 2,000 messages of 4 KB write, on the writer's connection (as a batch would).
    async fn write_a_lot(store: &SqliteStore) {
        let mut conn = store.write.acquire().await.unwrap();
        sqlx::query("begin immediate").execute(&mut *conn).await.unwrap();
        for _ in 0..2_000 {
            sqlx::query("insert into filler (x) values (randomblob(4000))")
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        sqlx::query("commit").execute(&mut *conn).await.unwrap();
    }

    fn wal_bytes(db: &std::path::Path) -> u64 {
        std::fs::metadata(db.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0)
    }

    /// The writer's commits never copy the WAL into the database (that cost a commit 7–8 ms),
    /// and the checkpointer beside it does: the WAL is reused from its start instead of growing
    /// with every write (with neither, ten rounds would leave a WAL ten times as large).
    #[tokio::test]
    async fn the_writer_never_checkpoints_and_the_wal_stays_short_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("wal.db");
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        let (auto,): (i64,) =
            sqlx::query_as("pragma wal_autocheckpoint").fetch_one(&store.write).await.unwrap();
        assert_eq!(auto, 0, "the writer checkpoints in its commits");
        sqlx::query("create table filler (x blob)").execute(&store.write).await.unwrap();
        let mut caught_up = store.caught_up.clone();
        write_a_lot(&store).await;
        let after_one = wal_bytes(&db);
        assert!(after_one > 8_000_000, "{after_one}");
        for _ in 0..9 {
            // Until the checkpointer has copied everything written so far (it looks every 250 ms):
            // twice, since a checkpoint that began before the write may end after this point.
            caught_up.borrow_and_update();
            for _ in 0..2 {
                tokio::time::timeout(Duration::from_secs(10), caught_up.changed()).await.unwrap().unwrap();
            }
            write_a_lot(&store).await;
        }
        let after_ten = wal_bytes(&db);
        assert!(after_ten < 2 * after_one, "the WAL grew from {after_one} to {after_ten} bytes");
    }
}

const CANNED_COLS: &str = "canned_reply_id, org_id, agent_id, shortcut, text, created_at";

fn canned_row(r: &SqliteRow) -> Result<CannedReply> {
    Ok(CannedReply {
        id: r.try_get("canned_reply_id")?,
        org_id: OrgId(r.try_get("org_id")?),
        agent_id: r.try_get::<Option<i64>, _>("agent_id")?.map(AgentId),
        shortcut: r.try_get("shortcut")?,
        text: r.try_get("text")?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}
