//! Group commit for PostgreSQL: message appends, the hot path, go through a few writer tasks per
//! store (each conversation always through the same one, so its appends are numbered in the order
//! they came), each writing whatever appends are waiting (up to [`MAX_BATCH`]) in one transaction,
//! so one commit (one WAL flush, `synchronous_commit` left on) acknowledges many messages, and
//! each append still returns only after its own commit. The writers' batches touch disjoint
//! conversations, so they never wait for each other's locks; one's statements run while
//! another's commit waits for its flush.
//!
//! A batch takes the same number of statements whatever its size: it locks its conversations,
//! looks up retried `client_msg_id`s, moves every conversation's `last_seq` and inserts every
//! message, each in one statement over arrays (`unnest`). Several nodes append to one database,
//! so a batch first locks its conversations in id order (`for no key update`): batches of two
//! nodes touching the same conversations wait for each other instead of deadlocking, and while a
//! batch holds them no other node can change a conversation's state, agent or `last_seq`. That
//! makes the checks in Rust (open? this agent's?) as safe as in SQL, so unlike SQLite's writer
//! there is no slow path for a conversation written by several senders in one batch; and a retry
//! racing its original on another node finds it committed (the lookup runs after the lock), so a
//! sequence number is never taken without its message.

use super::rows::{MESSAGE_COLS, message_row};
use crate::*;
use beckon_domain::message::{Message, NewMessage};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use tokio::sync::{mpsc, oneshot};

/// Most appends committed in one transaction.
pub(super) const MAX_BATCH: usize = 2048;

pub(super) struct AppendRequest {
    pub message: NewMessage,
    pub now: Timestamp,
    pub reply: oneshot::Sender<Result<Appended>>,
}

/// The group-commit loop: take whatever appends are waiting, write them in one transaction,
/// commit, then answer each. A refused append is answered with its error; the others in the batch
/// are unaffected. A database failure fails the whole batch, which is rolled back.
pub(super) async fn group_commit(pool: PgPool, mut rx: mpsc::Receiver<AppendRequest>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = match write_batch(&pool, &batch).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!(error = %e, n = batch.len(), "message batch failed to commit");
                batch.iter().map(|_| Err(e.clone_refusal())).collect()
            }
        };
        for (req, result) in batch.drain(..).zip(results) {
            let _ = req.reply.send(result);
        }
    }
}

async fn write_batch(pool: &PgPool, batch: &[AppendRequest]) -> Result<Vec<Result<Appended>>> {
    let mut tx = pool.begin().await?;
    let results = append_batch(&mut tx, batch).await?;
    tx.commit().await?;
    Ok(results)
}

/// What a batch needs to know of a conversation it writes to (read under its row lock).
struct Target {
    open: bool,
    agent_id: Option<i64>,
    last_seq: i64,
}

async fn append_batch(conn: &mut PgConnection, batch: &[AppendRequest]) -> Result<Vec<Result<Appended>>> {
    let n = batch.len();
    let mut ids: Vec<i64> = batch.iter().map(|r| r.message.conversation_id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let locked: Vec<(i64, String, Option<i64>, i64)> = sqlx::query_as(
        "select conversation_id, state, agent_id, last_seq from conversation
         where conversation_id = any($1) order by conversation_id for no key update",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut targets: HashMap<i64, Target> = locked
        .into_iter()
        .map(|(id, state, agent_id, last_seq)| {
            let open = ConversationState::parse(&state).is_some_and(|s| s.is_open());
            (id, Target { open, agent_id, last_seq })
        })
        .collect();
    let stored = stored_by_client_id(conn, batch).await?;

    let mut out: Vec<Option<Result<Appended>>> = (0..n).map(|_| None).collect();
    let mut repeat_of: Vec<Option<usize>> = vec![None; n];
    let mut first_of: HashMap<(i64, &str), usize> = HashMap::new();
    let mut rows: Vec<(usize, i64)> = Vec::new();
    for (i, req) in batch.iter().enumerate() {
        let m = &req.message;
        let c = m.conversation_id.0;
        if let Some(cid) = m.client_msg_id.as_ref().map(|c| c.as_str()) {
            if let Some(found) = stored.get(&(c, cid.to_owned())) {
                out[i] = Some(Ok(Appended { message: found.clone(), duplicate: true }));
                continue;
            }
            match first_of.entry((c, cid)) {
                Entry::Occupied(first) => {
                    repeat_of[i] = Some(*first.get());
                    continue;
                }
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
        // Visitors and agents write only to open conversations, agents only to their own;
        // system messages (e.g. "the chat has ended") may follow the close.
        let Some(t) = targets.get_mut(&c) else {
            out[i] = Some(Err(StoreError::NotFound("conversation")));
            continue;
        };
        let refused = match m.sender.kind {
            SenderKind::System => None,
            _ if !t.open => Some(StoreError::ConversationClosed),
            SenderKind::Agent if t.agent_id.is_none() || t.agent_id != m.sender.agent_id.map(|a| a.0) => {
                Some(StoreError::NotAssigned)
            }
            _ => None,
        };
        if let Some(e) = refused {
            out[i] = Some(Err(e));
            continue;
        }
        t.last_seq += 1;
        rows.push((i, t.last_seq));
    }

    if !rows.is_empty() {
        let (conv, last): (Vec<i64>, Vec<i64>) = targets.iter().map(|(c, t)| (*c, t.last_seq)).unzip();
        sqlx::query(
            "update conversation set last_seq = v.last_seq
             from unnest($1::int8[], $2::int8[]) as v(conversation_id, last_seq)
             where conversation.conversation_id = v.conversation_id and conversation.last_seq <> v.last_seq",
        )
        .bind(&conv)
        .bind(&last)
        .execute(&mut *conn)
        .await?;
        insert_messages(conn, batch, &rows).await?;
        for &(i, seq) in &rows {
            out[i] = Some(Ok(Appended {
                message: stored_message(&batch[i].message, seq, batch[i].now),
                duplicate: false,
            }));
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
    conn: &mut PgConnection,
    batch: &[AppendRequest],
) -> Result<HashMap<(i64, String), Message>> {
    let (conv, cid): (Vec<i64>, Vec<&str>) = batch
        .iter()
        .filter_map(|r| Some((r.message.conversation_id.0, r.message.client_msg_id.as_ref()?.as_str())))
        .unzip();
    if conv.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(&format!(
        "select {MESSAGE_COLS} from unnest($1::int8[], $2::text[]) as v(c, k)
         join message on message.conversation_id = v.c and message.client_msg_id = v.k"
    ))
    .bind(&conv)
    .bind(&cid)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let m = message_row(row)?;
        found.insert((m.conversation_id.0, m.client_msg_id.clone().unwrap_or_default()), m);
    }
    Ok(found)
}

/// One insert for every new message of the batch, its columns bound as arrays.
async fn insert_messages(
    conn: &mut PgConnection,
    batch: &[AppendRequest],
    rows: &[(usize, i64)],
) -> Result<()> {
    let k = rows.len();
    let (mut conv, mut seq, mut kind, mut agent) =
        (Vec::with_capacity(k), Vec::with_capacity(k), Vec::with_capacity(k), Vec::with_capacity(k));
    let (mut name, mut text, mut tags, mut cid, mut file, mut at) = (
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
    );
    for &(i, s) in rows {
        let m = &batch[i].message;
        conv.push(m.conversation_id.0);
        seq.push(s);
        kind.push(m.sender.kind.as_str());
        agent.push(m.sender.agent_id.map(|a| a.0));
        name.push(m.sender.name.as_deref());
        text.push(m.text.as_str());
        tags.push(serde_json::to_string(&m.tags).expect("tags serialise"));
        cid.push(m.client_msg_id.as_ref().map(|c| c.as_str()));
        file.push(attachment_json(m));
        at.push(batch[i].now.0);
    }
    sqlx::query(
        "insert into message (conversation_id, seq, sender_kind, sender_agent_id, sender_name, text, tags, client_msg_id, attachment, created_at)
         select * from unnest($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[])",
    )
    .bind(&conv)
    .bind(&seq)
    .bind(&kind)
    .bind(&agent)
    .bind(&name)
    .bind(&text)
    .bind(&tags)
    .bind(&cid)
    .bind(&file)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
