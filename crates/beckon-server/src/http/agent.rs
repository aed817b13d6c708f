//! Agent sign-in and the agent's HTTP API.
//!
//! Sign-in sets a `beckon_session` cookie (HttpOnly, SameSite=Lax, Secure when the public URL is
//! https) holding a random token; the database keeps only its hash. [`CurrentAgent`] is the
//! extractor every agent endpoint (and the agent WebSocket) uses to require a valid session.

use crate::auth::{dummy_hash, new_token, token_hash, verify_password};
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::ws::frames::AgentInfo;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use beckon_domain::ConversationId;
use beckon_domain::model::{Agent, Conversation, Role};
use serde::Deserialize;
use serde_json::json;

pub const SESSION_COOKIE: &str = "beckon_session";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agent/login", post(login))
        .route("/v1/agent/logout", post(logout))
        .route("/v1/agent/me", get(me))
        .route("/v1/agent/conversations/{id}/messages", get(messages))
        .route("/v1/agent/conversations/{id}/visitor", get(visitor))
        .route("/v1/agent/visitors", get(live_visitors))
        .route("/v1/agent/directory", get(directory))
        .route("/v1/agent/conversations", get(search))
}

/// The signed-in agent; rejects with 401 `unauthenticated` otherwise.
pub struct CurrentAgent(pub Agent);

impl FromRequestParts<AppState> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(SESSION_COOKIE).ok_or_else(ApiError::unauthenticated)?;
        let agent = app.store.agent_for_session(&token_hash(token.value()), app.clock.now()).await?;
        agent.map(CurrentAgent).ok_or_else(ApiError::unauthenticated)
    }
}

fn info(a: &Agent) -> AgentInfo {
    AgentInfo { id: a.id, name: a.name.clone(), email: a.email.clone(), role: a.role, capacity: a.capacity }
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
}

async fn login(
    State(app): State<AppState>,
    jar: CookieJar,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let found = app.store.agent_credentials(&body.email).await?;
    // Verify against a dummy hash when the email is unknown, so timing does not reveal it.
    let (agent, hash) = match &found {
        Some((a, h)) => (Some(a), h.as_str()),
        None => (None, dummy_hash()),
    };
    let password = body.password.clone();
    let hash_owned = hash.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash_owned))
        .await
        .map_err(ApiError::internal)?;
    let Some(agent) = agent.filter(|_| ok) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong email or password",
        ));
    };
    let token = new_token();
    let now = app.clock.now();
    let ttl_ms = i64::from(app.settings.session_ttl_hours) * 3_600_000;
    app.store.create_agent_session(&token_hash(&token), agent.id, now.plus_millis(ttl_ms), now).await?;
    tracing::info!(agent = %agent.id, "agent signed in");
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.public_url.starts_with("https://"))
        .path("/")
        .max_age(time_max_age(ttl_ms))
        .build();
    Ok((jar.add(cookie), Json(json!({ "agent": info(agent) }))).into_response())
}

fn time_max_age(ms: i64) -> time::Duration {
    time::Duration::milliseconds(ms)
}

async fn logout(State(app): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        app.store.delete_agent_session(&token_hash(c.value())).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, StatusCode::NO_CONTENT).into_response())
}

async fn me(CurrentAgent(agent): CurrentAgent) -> Json<serde_json::Value> {
    Json(json!({ "agent": info(&agent) }))
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    after_seq: i64,
    limit: Option<u32>,
}

/// A conversation the agent may read: assigned or offered to them, or (admins) any of their
/// organisation. Anything else answers like a missing one, so ids are not revealed.
async fn readable(app: &AppState, agent: &Agent, id: i64) -> Result<Conversation, ApiError> {
    let c = app
        .store
        .conversation(ConversationId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let me = Some(agent.id);
    let allowed = c.agent_id == me
        || c.offered_agent_id == me
        || (agent.role == Role::Admin && c.org_id == agent.org_id);
    if allowed { Ok(c) } else { Err(ApiError::not_found("conversation")) }
}

async fn messages(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(id): Path<i64>,
    Query(page): Query<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = readable(&app, &agent, id).await?;
    let limit = page.limit.unwrap_or(500).clamp(1, 1_000);
    let messages = app.store.messages_after(c.id, page.after_seq, limit).await?;
    Ok(Json(json!({ "messages": messages })))
}

/// Pages the panel shows from the current visit.
const PANEL_PAGES: u32 = 50;

/// The visitor panel: who is this, what are they doing, have we talked before.
async fn visitor(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = readable(&app, &agent, id).await?;
    let summary =
        app.store.visitor_summary(c.visitor_id).await?.ok_or_else(|| ApiError::not_found("visitor"))?;
    let visit = app.store.latest_visit(c.visitor_id).await?;
    let pages = match &visit {
        Some(v) => app.store.page_views(v.id, PANEL_PAGES).await?,
        None => Vec::new(),
    };
    // A signed-in person is recognised across browsers and devices; otherwise, this browser.
    let history = match &c.auth_sub {
        Some(sub) => app.store.conversations_of_identity(c.org_id, sub, 20).await?,
        None => app.store.conversations_of_visitor(c.visitor_id, 20).await?,
    };
    let earlier: Vec<_> = history
        .into_iter()
        .filter(|o| o.id != c.id)
        .map(|o| json!({"id": o.id, "state": o.state, "proactive": o.proactive, "created_at": o.created_at, "ended_at": o.ended_at}))
        .collect();
    // Which invite (a trigger rule, the page's SDK call, an agent) led to a proactive chat.
    let invite = match app.store.conversation_invite(c.id).await? {
        Some((invite_id, source, message)) => {
            let agent_name = match source.strip_prefix("agent:").and_then(|id| id.parse().ok()) {
                Some(id) => app.store.agent(beckon_domain::AgentId(id)).await?.map(|a| a.name),
                None => None,
            };
            let rule_name = match source.strip_prefix("rule:").and_then(|id| id.parse::<i64>().ok()) {
                Some(id) => trigger_rule_name(&app, c.org_id, id).await?,
                None => None,
            };
            json!({"invite_id": invite_id, "source": source, "message": message,
                   "agent_name": agent_name, "rule_name": rule_name})
        }
        None => serde_json::Value::Null,
    };
    Ok(Json(json!({
        "invite": invite,
        "visitor": summary,
        "authenticated_as": c.auth_sub,
        "visit": visit,
        "pages": pages,
        "current_page": pages.last(),
        "earlier_conversations": earlier,
    })))
}

/// The name of a trigger rule (it may have been deleted since it invited someone).
async fn trigger_rule_name(
    app: &AppState,
    org: beckon_domain::OrgId,
    id: i64,
) -> Result<Option<String>, ApiError> {
    let Some(json) = app.store.trigger_rules(org).await? else { return Ok(None) };
    let rules: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap_or_default();
    Ok(rules
        .iter()
        .find(|r| r["id"].as_i64() == Some(id))
        .and_then(|r| r["name"].as_str())
        .map(str::to_owned))
}

/// Who is on the organisation's sites right now (live updates follow on the agent socket as
/// `visitor` / `visitor_left` frames).
async fn live_visitors(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Json<serde_json::Value> {
    Json(json!({ "visitors": app.live.list(agent.org_id) }))
}

/// The organisation's queues and agents (with live presence), e.g. for choosing a transfer target.
async fn directory(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<serde_json::Value>, ApiError> {
    let queues = app.store.queues_of_org(agent.org_id).await?;
    let agents = app.store.agents_of_org(agent.org_id).await?;
    let agents: Vec<_> = agents
        .iter()
        .map(|a| json!({"id": a.id, "name": a.name, "role": a.role, "presence": app.chat.presence.effective(a.id)}))
        .collect();
    let queues: Vec<_> = queues.iter().map(|q| json!({"id": q.id, "name": q.name})).collect();
    Ok(Json(json!({ "queues": queues, "agents": agents })))
}

#[derive(Deserialize)]
struct SearchParams {
    /// Words that must all appear in the messages.
    q: Option<String>,
    /// A visitor id, or an authenticated person's `sub`.
    visitor: Option<String>,
    agent_id: Option<i64>,
    state: Option<String>,
    /// Unix milliseconds, inclusive.
    from: Option<i64>,
    /// Unix milliseconds, exclusive.
    to: Option<i64>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// Conversation history: agents see the conversations they handled, admins their whole
/// organisation's. Newest first; page with `before` (the last id of the previous page).
async fn search(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(p): Query<SearchParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    use beckon_domain::*;
    let state = match p.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(ConversationState::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field",
                "state must be queued, active, transferred, ended or abandoned",
            )
        })?),
    };
    let (visitor_id, auth_sub) = match p.visitor.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => (None, None),
        Some(v) => match v.parse::<i64>() {
            Ok(id) => (Some(VisitorId(id)), None),
            Err(_) => (None, Some(v.to_owned())),
        },
    };
    if p.q.as_deref().is_some_and(|q| q.len() > 500) {
        return Err(ApiError::bad_request("invalid_field", "q must be at most 500 characters"));
    }
    let agent_filter = if agent.role == Role::Admin { p.agent_id.map(AgentId) } else { Some(agent.id) };
    let search = beckon_store::ConversationSearch {
        org_id: Some(agent.org_id),
        text: p.q,
        visitor_id,
        auth_sub,
        agent_id: agent_filter,
        state,
        created_from: p.from.map(Timestamp),
        created_to: p.to.map(Timestamp),
        before_id: p.before.map(ConversationId),
        limit: p.limit.unwrap_or(50).clamp(1, 200),
    };
    let found = app.store.search_conversations(&search).await?;
    Ok(Json(json!({ "conversations": found })))
}
