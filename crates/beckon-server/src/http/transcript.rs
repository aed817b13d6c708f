//! A conversation's transcript as a text file, for the agents who may read it: who, when, the
//! invite that led to it, the pre-chat answers in the survey's order, the rating, then every
//! message (agents' notes marked as such). Times are in the time zone the console asks for
//! (the agent's), UTC otherwise. Plain text: it opens anywhere, and nothing in it can run.

use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::http::agent::{CurrentAgent, invite_origin, readable};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use beckon_domain::message::Message;
use beckon_domain::{SenderKind, Timestamp};
use serde::Deserialize;
use std::fmt::Write as _;

/// The most messages one transcript holds.
const MAX_MESSAGES: u32 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/agent/conversations/{id}/transcript", get(transcript))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Zone {
    /// An IANA time zone for the times (e.g. `Europe/Paris`); default UTC.
    tz: Option<String>,
}

fn when(at: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(at.0) {
        Ok(t) => t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
        Err(_) => at.0.to_string(),
    }
}

/// The conversation as a text file (`conversation-<id>.txt`).
#[utoipa::path(
    get,
    path = "/v1/agent/conversations/{id}/transcript",
    tag = "agent",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Conversation id"), Zone),
    responses(
        (status = 200, description = "The transcript", content_type = "text/plain", body = String),
        (status = 400, description = "The id is malformed, or `tz` is not a time zone (`bad_request`, `invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 404, description = "No such conversation, or not one this agent may read (`not_found`)", body = ErrorBody),
    )
)]
pub(crate) async fn transcript(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(zone): ApiQuery<Zone>,
) -> Result<Response, ApiError> {
    let tz = match zone.tz.as_deref() {
        None | Some("") => jiff::tz::TimeZone::UTC,
        Some(name) => beckon_domain::time_zone::TimeZoneName::parse(name)
            .map(|z| z.time_zone().clone())
            .map_err(|e| ApiError::bad_request("invalid_field", format!("tz: {e}")))?,
    };
    let c = readable(&app, &agent, id).await?;
    let messages = app.store.messages_after(c.id, 0, MAX_MESSAGES).await?;
    let agent_name = match c.agent_id {
        Some(a) => app.store.agent(a).await?.map(|a| a.name),
        None => None,
    };
    let widget = app.store.widget(c.widget_id).await?;
    let invite = invite_origin(&app, &c).await?;

    let mut out = String::new();
    let visitor = c.context.visitor_name().unwrap_or_else(|| format!("Visitor {}", c.visitor_id));
    let _ = writeln!(out, "Conversation #{}", c.id);
    let _ = writeln!(out, "Visitor: {visitor} (visitor {})", c.visitor_id);
    if let Some(sub) = &c.auth_sub {
        let _ = writeln!(out, "Signed in as: {sub}");
    }
    if let Some(email) = &c.reply_email {
        let _ = writeln!(out, "Answers by email to: {email}");
    }
    let _ = writeln!(out, "Agent: {}", agent_name.as_deref().unwrap_or("none"));
    let _ = writeln!(out, "State: {}", c.state.as_str());
    let _ = writeln!(out, "Started: {}", when(c.created_at, &tz));
    if let Some(at) = c.ended_at {
        let _ = writeln!(out, "Ended: {}", when(at, &tz));
    }
    if let Some(score) = c.rating {
        let comment =
            c.rating_comment.as_deref().map(|t| format!(" — \u{201c}{t}\u{201d}")).unwrap_or_default();
        let _ = writeln!(out, "Rating: {score} out of 5{comment}");
    }
    if let Some(i) = &invite {
        let from = match (&i.agent_name, &i.rule_name) {
            (Some(a), _) => format!("agent {a}"),
            (_, Some(r)) => format!("rule \u{201c}{r}\u{201d}"),
            _ => i.source.clone(),
        };
        let _ = writeln!(out, "Invited by {from}: \u{201c}{}\u{201d}", i.message);
    }
    // Pre-chat answers in the survey's order, then any other variable the page shared.
    let shown: Vec<(String, String)> = c
        .context
        .iter()
        .filter(|(_, v)| v.displayable)
        .map(|(k, v)| (k.clone(), v.value.display()))
        .collect();
    if !shown.is_empty() {
        let order: Vec<&str> = widget
            .as_ref()
            .map_or(Vec::new(), |w| w.settings.prechat.iter().map(|q| q.label.as_str()).collect());
        let rank = |k: &str| order.iter().position(|l| *l == k).unwrap_or(usize::MAX);
        let mut shown = shown;
        shown.sort_by_key(|(k, _)| rank(k));
        let _ = writeln!(out, "\nPre-chat answers and details");
        for (k, v) in &shown {
            let _ = writeln!(out, "  {k}: {v}");
        }
    }
    let _ = writeln!(out, "\nMessages");
    for m in &messages {
        let _ = writeln!(out, "{}", line(m, &visitor, &tz));
    }
    if messages.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let file = format!("attachment; filename=\"conversation-{}.txt\"", c.id);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, file)],
        out,
    )
        .into_response())
}

fn line(m: &Message, visitor: &str, tz: &jiff::tz::TimeZone) -> String {
    let at = when(m.created_at, tz);
    let text = m.plain_text().replace('\n', "\n    ");
    match m.sender.kind {
        SenderKind::Visitor => format!("[{at}] {visitor}: {text}"),
        SenderKind::Agent if m.is_internal() => {
            format!("[{at}] {} (note for agents): {text}", m.sender.name.as_deref().unwrap_or("Agent"))
        }
        SenderKind::Agent => format!("[{at}] {}: {text}", m.sender.name.as_deref().unwrap_or("Agent")),
        SenderKind::System if m.is_internal() => format!("[{at}] (for agents) {text}"),
        SenderKind::System => format!("[{at}] \u{2014} {text}"),
    }
}
