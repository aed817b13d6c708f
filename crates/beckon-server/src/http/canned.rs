//! Canned replies: saved answers an agent inserts by typing `/shortcut` in a chat's composer.
//!
//! Shared replies belong to the organisation (admins write them, every agent uses them);
//! personal ones to one agent, who alone sees and edits them. Each owner's shortcuts are unique,
//! and each owner's list is bounded. Replies are plain text: the console inserts them into the
//! composer as text, and the agent may edit before sending.

use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::http::agent::CurrentAgent;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use beckon_domain::model::{Agent, Role};
use beckon_store::CannedReply;
use serde::{Deserialize, Serialize};

/// The most shared replies an organisation keeps, and personal ones an agent keeps.
pub const MAX_SHARED: i64 = 500;
pub const MAX_PERSONAL: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agent/canned-replies", get(list).post(create))
        .route("/v1/agent/canned-replies/{id}", put(update).delete(remove))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CannedReplyView {
    id: i64,
    /// Typed after `/` in the composer: 1–32 lowercase letters, digits, `-` or `_`.
    shortcut: String,
    text: String,
    /// The organisation's (else the agent's own).
    shared: bool,
    /// Whether this agent may change or delete it (their own; shared ones for admins).
    editable: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CannedReplyList {
    canned_replies: Vec<CannedReplyView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CannedReplyEnvelope {
    canned_reply: CannedReplyView,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CannedReplyBody {
    /// A leading `/` is dropped and letters are lowercased.
    shortcut: String,
    /// 1–4,000 characters.
    text: String,
    /// Only when creating: shared with the organisation (admins only).
    #[serde(default)]
    shared: bool,
}

fn view(c: CannedReply, me: &Agent) -> CannedReplyView {
    let shared = c.agent_id.is_none();
    let editable = if shared { me.role == Role::Admin } else { c.agent_id == Some(me.id) };
    CannedReplyView { id: c.id, shortcut: c.shortcut, text: c.text, shared, editable }
}

fn invalid(msg: String) -> ApiError {
    ApiError::bad_request("invalid_field", msg)
}

/// The shortcut as stored, or why it cannot be one.
fn shortcut(raw: &str) -> Result<String, ApiError> {
    let s = raw.trim().trim_start_matches('/').to_lowercase();
    let ok = (1..=32).contains(&s.chars().count())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(invalid("shortcut: 1–32 letters, digits, - or _ (no spaces)".into()));
    }
    Ok(s)
}

fn text(raw: &str) -> Result<String, ApiError> {
    let n = raw.trim().chars().count();
    if n == 0 || n > 4_000 {
        return Err(invalid("text: 1–4000 characters".into()));
    }
    Ok(raw.trim().to_owned())
}

/// A reply this agent may change: of their organisation, and theirs (or shared, for an admin).
/// Another agent's personal reply answers exactly like a missing one.
async fn editable(app: &AppState, me: &Agent, id: i64) -> Result<CannedReply, ApiError> {
    let found = app.store.canned_reply(id).await?.filter(|c| c.org_id == me.org_id);
    let found = found.filter(|c| c.agent_id.is_none() || c.agent_id == Some(me.id));
    let found = found.ok_or_else(|| ApiError::not_found("canned reply"))?;
    if found.agent_id.is_none() && me.role != Role::Admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only admins change shared replies"));
    }
    Ok(found)
}

/// The organisation's shared replies and the agent's own, by shortcut.
#[utoipa::path(
    get,
    path = "/v1/agent/canned-replies",
    tag = "agent",
    security(("session" = [])),
    responses(
        (status = 200, description = "The replies this agent can use", body = CannedReplyList),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(app): State<AppState>,
    CurrentAgent(me): CurrentAgent,
) -> Result<Json<CannedReplyList>, ApiError> {
    let all = app.store.canned_replies(me.org_id, me.id).await?;
    Ok(Json(CannedReplyList { canned_replies: all.into_iter().map(|c| view(c, &me)).collect() }))
}

/// Saves a reply: the agent's own, or (`shared`, admins only) the organisation's.
#[utoipa::path(
    post,
    path = "/v1/agent/canned-replies",
    tag = "agent",
    security(("session" = [])),
    request_body = CannedReplyBody,
    responses(
        (status = 201, description = "Saved", body = CannedReplyEnvelope),
        (status = 400, description = "A shortcut or text that breaks its rule (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "`shared` by an agent who is not an admin (`forbidden`)", body = ErrorBody),
        (status = 409, description = "The owner already has this shortcut (`conflict`), or as many replies as allowed (`limit_reached`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(app): State<AppState>,
    CurrentAgent(me): CurrentAgent,
    ApiJson(body): ApiJson<CannedReplyBody>,
) -> Result<(StatusCode, Json<CannedReplyEnvelope>), ApiError> {
    let (short, text) = (shortcut(&body.shortcut)?, text(&body.text)?);
    if body.shared && me.role != Role::Admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only admins save shared replies"));
    }
    let owner = (!body.shared).then_some(me.id);
    let max = if body.shared { MAX_SHARED } else { MAX_PERSONAL };
    if app.store.count_canned_replies(me.org_id, owner).await? >= max {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "limit_reached",
            format!(
                "at most {max} {} replies; delete one first",
                if body.shared { "shared" } else { "personal" }
            ),
        ));
    }
    let saved = app.store.create_canned_reply(me.org_id, owner, &short, &text, app.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(CannedReplyEnvelope { canned_reply: view(saved, &me) })))
}

/// Changes a reply's shortcut and text (its owner stays).
#[utoipa::path(
    put,
    path = "/v1/agent/canned-replies/{id}",
    tag = "agent",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Canned reply id")),
    request_body = CannedReplyBody,
    responses(
        (status = 200, description = "Saved", body = CannedReplyEnvelope),
        (status = 400, description = "A malformed id, or a shortcut or text that breaks its rule (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "A shared reply, by an agent who is not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such reply of this agent or organisation (`not_found`)", body = ErrorBody),
        (status = 409, description = "The owner already has this shortcut (`conflict`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn update(
    State(app): State<AppState>,
    CurrentAgent(me): CurrentAgent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CannedReplyBody>,
) -> Result<Json<CannedReplyEnvelope>, ApiError> {
    let (short, text) = (shortcut(&body.shortcut)?, text(&body.text)?);
    editable(&app, &me, id).await?;
    let saved = app.store.update_canned_reply(id, &short, &text).await?;
    let saved = saved.ok_or_else(|| ApiError::not_found("canned reply"))?;
    Ok(Json(CannedReplyEnvelope { canned_reply: view(saved, &me) }))
}

/// Deletes a reply.
#[utoipa::path(
    delete,
    path = "/v1/agent/canned-replies/{id}",
    tag = "agent",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Canned reply id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A malformed id (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "A shared reply, by an agent who is not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such reply of this agent or organisation (`not_found`)", body = ErrorBody),
    )
)]
pub(crate) async fn remove(
    State(app): State<AppState>,
    CurrentAgent(me): CurrentAgent,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    editable(&app, &me, id).await?;
    app.store.delete_canned_reply(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_tidied_or_refused() {
        assert_eq!(shortcut(" /Hello-1 ").unwrap(), "hello-1");
        assert_eq!(shortcut("ship_eu").unwrap(), "ship_eu");
        for bad in ["", "/", "two words", "é", &"x".repeat(33)] {
            assert!(shortcut(bad).is_err(), "{bad:?}");
        }
        assert!(text("  ").is_err());
        assert_eq!(text(" Hi ").unwrap(), "Hi");
    }
}
