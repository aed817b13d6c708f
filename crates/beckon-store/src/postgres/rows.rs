//! PostgreSQL rows → domain records: the column lists every query selects, and one function per
//! record that reads them back (a stored value the domain refuses is `StoreError::Corrupt`).

use crate::*;
use beckon_domain::message::{Message, Sender};
use beckon_domain::model::{Role, VisitMeta, WidgetAuth, WidgetSettings};
use sqlx::Row;
use sqlx::postgres::PgRow;

pub(super) const MESSAGE_COLS: &str = "conversation_id, seq, sender_kind, sender_agent_id, sender_name, text, tags, \
     client_msg_id, attachment, created_at";
pub(super) const CONVERSATION_COLS: &str = "conversation_id, org_id, widget_id, visitor_id, queue_id, state, \
     proactive, agent_id, offered_agent_id, context, last_seq, created_at, accepted_at, ended_at, auth_sub, auth_iss, reply_email, offer_expires_at, language, rating, rating_comment";
pub(super) const AGENT_COLS: &str =
    "agent_id, org_id, email, name, role, capacity, presence, disabled_at, created_at";
pub(super) const WIDGET_COLS: &str =
    "widget_id, org_id, widget_key, name, allowed_origins, default_queue_id, settings, auth, created_at";
pub(super) const QUEUE_COLS: &str =
    "queue_id, org_id, name, hours, fallback_queue_id, leave_message_after_secs, created_at";
pub(super) const VISIT_COLS: &str = "visit_id, visitor_id, number, started_at, last_activity_at, \
     browser, os, device, language, country, city, ip";

/// `cols` with every column prefixed by the table alias `t` (for joins).
pub(super) fn qualified(cols: &str, t: &str) -> String {
    cols.split(", ").map(|c| format!("{t}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn message_row(r: &PgRow) -> Result<Message> {
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

pub(super) fn conversation_row(r: &PgRow) -> Result<Conversation> {
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

pub(super) fn agent_row(r: &PgRow) -> Result<Agent> {
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

pub(super) fn widget_row(r: &PgRow) -> Result<Widget> {
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

pub(super) fn queue_row(r: &PgRow) -> Result<Queue> {
    let hours: Option<String> = r.try_get("hours")?;
    Ok(Queue {
        id: QueueId(r.try_get("queue_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        name: r.try_get("name")?,
        hours: hours.map(|h| serde_json::from_str(&h).map_err(|_| corrupt("queue.hours"))).transpose()?,
        fallback_queue_id: r.try_get::<Option<i64>, _>("fallback_queue_id")?.map(QueueId),
        leave_message_after_secs: r
            .try_get::<Option<i32>, _>("leave_message_after_secs")?
            .map(|s| u32::try_from(s).map_err(|_| corrupt("queue.leave_message_after_secs")))
            .transpose()?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

pub(super) fn visitor_row(r: &PgRow) -> Result<Visitor> {
    Ok(Visitor {
        id: VisitorId(r.try_get("visitor_id")?),
        widget_id: WidgetId(r.try_get("widget_id")?),
        created_at: Timestamp(r.try_get("created_at")?),
        last_seen_at: Timestamp(r.try_get("last_seen_at")?),
    })
}

pub(super) fn visit_row(r: &PgRow) -> Result<Visit> {
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
