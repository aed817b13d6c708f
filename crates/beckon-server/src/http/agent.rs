//! Agent sign-in and the agent's HTTP API.
//!
//! Sign-in sets a `beckon_session` cookie (HttpOnly, SameSite=Lax, Secure when the public URL is
//! https) holding a random token; the database keeps only its hash. [`CurrentAgent`] is the
//! extractor every agent endpoint (and the agent WebSocket) uses to require a valid session.

use crate::auth::{dummy_hash, new_token, token_hash, verify_password};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::limits::{retry_after_secs, sign_in_backoff};
use crate::state::AppState;
use crate::ws::frames::AgentInfo;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use beckon_domain::model::{Agent, Conversation, Role};
use beckon_domain::{ConversationId, Timestamp};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

pub const SESSION_COOKIE: &str = "beckon_session";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agent/login", post(login))
        .route("/v1/agent/logout", post(logout))
        .route("/v1/agent/me", get(me))
        .route("/v1/agent/password", post(change_password))
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

/// The signed-in agent.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgentEnvelope {
    agent: AgentInfo,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Login {
    email: String,
    password: String,
}

/// Signs an agent in: sets the `beckon_session` cookie every other agent and admin endpoint
/// needs. Throttled per address and, after failures, per email with a growing back-off.
#[utoipa::path(
    post,
    path = "/v1/agent/login",
    tag = "agent",
    security(()),
    request_body = Login,
    responses(
        (status = 200, description = "Signed in", body = AgentEnvelope,
            headers(("Set-Cookie" = String, description = "`beckon_session=…; HttpOnly; SameSite=Lax; Path=/` (and `Secure` behind https)"))),
        (status = 400, description = "The body is not JSON (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = ErrorBody),
        (status = 403, description = "The account is disabled (`account_disabled`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address (`too_many_attempts`), sign-in blocked for this email for a while (`sign_in_blocked`), or the server is busy hashing (`busy`)",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let limits = &app.limits;
    let ip = crate::geoip::client_ip(peer.ip(), &headers, &app.settings.trusted_proxies);
    if let Err(wait) = limits.sign_in_by_address.check(&ip.into()) {
        let secs = retry_after_secs(wait);
        return Err(ApiError::too_many(
            "too_many_attempts",
            format!("Too many sign-in attempts from your network; try again in {secs} s."),
            secs,
        ));
    }
    if body.email.len() > 254 || body.password.len() > 1_000 {
        return Err(wrong_credentials());
    }
    let now = app.clock.now();
    // A blocked email is refused before any hashing, whether or not an agent has it.
    if let Some(until) = app.store.sign_in_blocked_until(&body.email, now).await? {
        let secs = retry_after_secs(Duration::from_millis(until.since(now).max(1) as u64));
        return Err(ApiError::too_many(
            "sign_in_blocked",
            format!("Too many failed sign-ins for this account; try again in {secs} s."),
            secs,
        ));
    }
    let found = app.store.agent_credentials(&body.email).await?;
    // Verify against a dummy hash when the email is unknown, so timing does not reveal it.
    let (agent, hash) = match &found {
        Some((a, h)) => (Some(a), h.as_str()),
        None => (None, dummy_hash()),
    };
    let Some(permit) = limits.hashing.enter().await else {
        return Err(ApiError::too_many(
            "busy",
            "The server is busy signing people in; try again in a second.",
            1,
        ));
    };
    let password = body.password.clone();
    let hash_owned = hash.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash_owned))
        .await
        .map_err(ApiError::internal)?;
    drop(permit);
    let Some(agent) = agent.filter(|_| ok) else {
        let forget_before = Timestamp(now.0 - FAILURES_REMEMBERED_MS);
        let failures = app.store.record_sign_in_failure(&body.email, forget_before, now).await?;
        let max = Duration::from_secs(app.settings.limits.sign_in_max_backoff_secs);
        if let Some(wait) = sign_in_backoff(failures, app.settings.limits.sign_in_free_failures, max) {
            app.store.block_sign_in(&body.email, now.plus_millis(wait.as_millis() as i64)).await?;
            tracing::warn!(failures, "failed sign-ins in a row for one email; sign-in blocked for a while");
        }
        return Err(wrong_credentials());
    };
    app.store.clear_sign_in_failures(&body.email).await?;
    if agent.disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled; ask an administrator",
        ));
    }
    let token = new_token();
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
    Ok((jar.add(cookie), Json(AgentEnvelope { agent: info(agent) })).into_response())
}

/// Failed sign-ins older than this are forgotten (the back-off starts again from nothing).
const FAILURES_REMEMBERED_MS: i64 = 24 * 3_600_000;

fn wrong_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong email or password")
}

fn time_max_age(ms: i64) -> time::Duration {
    time::Duration::milliseconds(ms)
}

/// Signs out: ends the session (its consoles close) and clears the cookie. Answers 204 with or
/// without a valid session.
#[utoipa::path(
    post,
    path = "/v1/agent/logout",
    tag = "agent",
    security((), ("session" = [])),
    responses(
        (status = 204, description = "Signed out (the cookie is cleared)"),
    )
)]
pub(crate) async fn logout(State(app): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let hash = token_hash(c.value());
        let agent = app.store.agent_for_session(&hash, app.clock.now()).await?;
        app.store.delete_agent_session(&hash).await?;
        // Consoles open under this session close now, not at their next check.
        if let Some(agent) = agent {
            app.chat.agent_changed(agent.id).await;
        }
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, StatusCode::NO_CONTENT).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// The agent changes their own password: the current one is checked (and counts towards the
/// sign-in back-off like a sign-in), and every other session of the agent ends.
#[utoipa::path(
    post,
    path = "/v1/agent/password",
    tag = "agent",
    security(("session" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the agent ended"),
        (status = 400, description = "Not JSON, a new password that is too weak or long, or a wrong current password (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords (`sign_in_blocked`) or the server is busy (`busy`)",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn change_password(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    jar: CookieJar,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let new = crate::http::admin::check_password("new_password", &body.new_password)?;
    let now = app.clock.now();
    if let Some(until) = app.store.sign_in_blocked_until(&agent.email, now).await? {
        let secs = retry_after_secs(Duration::from_millis(until.since(now).max(1) as u64));
        return Err(ApiError::too_many(
            "sign_in_blocked",
            format!("Too many wrong passwords for this account; try again in {secs} s."),
            secs,
        ));
    }
    let (_, hash) = app.store.agent_credentials(&agent.email).await?.ok_or_else(ApiError::unauthenticated)?;
    let Some(permit) = app.limits.hashing.enter().await else {
        return Err(ApiError::too_many("busy", "The server is busy; try again in a second.", 1));
    };
    let current = body.current_password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&current, &hash))
        .await
        .map_err(ApiError::internal)?;
    drop(permit);
    if !ok {
        let failures = app
            .store
            .record_sign_in_failure(&agent.email, Timestamp(now.0 - FAILURES_REMEMBERED_MS), now)
            .await?;
        let max = Duration::from_secs(app.settings.limits.sign_in_max_backoff_secs);
        if let Some(wait) = sign_in_backoff(failures, app.settings.limits.sign_in_free_failures, max) {
            app.store.block_sign_in(&agent.email, now.plus_millis(wait.as_millis() as i64)).await?;
        }
        return Err(ApiError::bad_request(
            "invalid_field",
            "current_password: this is not your current password",
        ));
    }
    let hash = crate::http::admin::hash_new_password(&app, new).await?;
    let keep = jar.get(SESSION_COOKIE).map(|c| token_hash(c.value()));
    app.store.set_agent_password(agent.id, &hash, keep.as_deref()).await?;
    tracing::info!(agent = %agent.id, "agent changed their password; other sessions ended");
    app.chat.agent_changed(agent.id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in agent.
#[utoipa::path(
    get,
    path = "/v1/agent/me",
    tag = "agent",
    security(("session" = [])),
    responses(
        (status = 200, description = "The signed-in agent", body = AgentEnvelope),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
    )
)]
pub(crate) async fn me(CurrentAgent(agent): CurrentAgent) -> Json<AgentEnvelope> {
    Json(AgentEnvelope { agent: info(&agent) })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Messages after this sequence number (default 0: from the start).
    #[serde(default)]
    after_seq: i64,
    /// At most this many (1–1,000; default 500).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Messages {
    /// In `seq` order.
    messages: Vec<beckon_domain::message::Message>,
}

/// A conversation the agent may read: assigned or offered to them, or (admins) any of their
/// organisation. Anything else answers like a missing one, so ids are not revealed.
pub(crate) async fn readable(app: &AppState, agent: &Agent, id: i64) -> Result<Conversation, ApiError> {
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

/// A conversation's messages (agent-only notes included), for an agent it is assigned or
/// offered to, or an admin of its organisation.
#[utoipa::path(
    get,
    path = "/v1/agent/conversations/{id}/messages",
    tag = "agent",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Conversation id"), Page),
    responses(
        (status = 200, description = "The messages", body = Messages),
        (status = 400, description = "The id or a query parameter is malformed (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 404, description = "No such conversation, or not one this agent may read (`not_found`)", body = ErrorBody),
    )
)]
pub(crate) async fn messages(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Messages>, ApiError> {
    let c = readable(&app, &agent, id).await?;
    let limit = page.limit.unwrap_or(500).clamp(1, 1_000);
    let messages = app.store.messages_after(c.id, page.after_seq, limit).await?;
    Ok(Json(Messages { messages }))
}

/// Pages the panel shows from the current visit.
const PANEL_PAGES: u32 = 50;

/// The visitor panel of a conversation.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VisitorPanel {
    /// The invite that led to a proactive chat, if one did.
    invite: Option<InviteOrigin>,
    visitor: beckon_domain::model::VisitorSummary,
    /// The verified `sub` of an authenticated visitor.
    authenticated_as: Option<String>,
    /// The visitor's latest visit.
    visit: Option<beckon_domain::model::Visit>,
    /// Pages of that visit (at most 50), oldest first.
    pages: Vec<beckon_domain::model::PageView>,
    current_page: Option<beckon_domain::model::PageView>,
    /// The person's (or this browser's) other conversations, newest first.
    earlier_conversations: Vec<EarlierConversation>,
    /// The pre-chat answers in the survey's order, with the questions as the survey asks them.
    prechat: Vec<PrechatAnswer>,
    /// The visitor's first message in this conversation, if they wrote one yet.
    first_message: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PrechatAnswer {
    question: String,
    answer: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InviteOrigin {
    invite_id: String,
    /// `sdk`, `agent:<id>` or `rule:<id>`.
    pub(crate) source: String,
    pub(crate) message: String,
    /// The inviting agent's name (source `agent:<id>`).
    pub(crate) agent_name: Option<String>,
    /// The trigger rule's name (source `rule:<id>`), unless it was deleted since.
    pub(crate) rule_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EarlierConversation {
    id: ConversationId,
    state: beckon_domain::ConversationState,
    proactive: bool,
    created_at: Timestamp,
    ended_at: Option<Timestamp>,
}

/// The visitor panel: who is this, what are they doing, have we talked before.
#[utoipa::path(
    get,
    path = "/v1/agent/conversations/{id}/visitor",
    tag = "agent",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The visitor panel", body = VisitorPanel),
        (status = 400, description = "The id is malformed (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 404, description = "No such conversation (or not readable by this agent) or visitor (`not_found`)", body = ErrorBody),
    )
)]
pub(crate) async fn visitor(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<VisitorPanel>, ApiError> {
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
        Some(sub) => app.store.conversations_of_identity(c.org_id, c.auth_iss.as_deref(), sub, 20).await?,
        None => app.store.conversations_of_visitor(c.visitor_id, 20).await?,
    };
    let earlier: Vec<_> = history
        .into_iter()
        .filter(|o| o.id != c.id)
        .map(|o| EarlierConversation {
            id: o.id,
            state: o.state,
            proactive: o.proactive,
            created_at: o.created_at,
            ended_at: o.ended_at,
        })
        .collect();
    let invite = invite_origin(&app, &c).await?;
    let current_page = pages.last().cloned();
    // Answers are stored under the questions' own labels (whatever language the visitor read).
    let prechat = match app.store.widget(c.widget_id).await? {
        Some(w) => w
            .settings
            .prechat
            .iter()
            .filter_map(|q| {
                let v = c.context.get(&q.label).filter(|v| v.displayable)?;
                let answer = match (q.kind, v.value.display().as_str()) {
                    (beckon_domain::model::PrechatKind::Consent, "true") => "Yes".to_owned(),
                    (beckon_domain::model::PrechatKind::Consent, _) => "No".to_owned(),
                    (_, other) => other.to_owned(),
                };
                Some(PrechatAnswer { question: q.label.clone(), answer })
            })
            .collect(),
        None => Vec::new(),
    };
    let first_message = app
        .store
        .messages_after(c.id, 0, 50)
        .await?
        .into_iter()
        .find(|m| m.sender.kind == beckon_domain::SenderKind::Visitor)
        .map(|m| m.text);
    Ok(Json(VisitorPanel {
        invite,
        visitor: summary,
        authenticated_as: c.auth_sub,
        visit,
        pages,
        current_page,
        earlier_conversations: earlier,
        prechat,
        first_message,
    }))
}

/// Which invite (a trigger rule, the page's SDK call, an agent) led to a proactive chat.
pub(crate) async fn invite_origin(
    app: &AppState,
    c: &Conversation,
) -> Result<Option<InviteOrigin>, ApiError> {
    let Some((invite_id, source, message)) = app.store.conversation_invite(c.id).await? else {
        return Ok(None);
    };
    let agent_name = match source.strip_prefix("agent:").and_then(|id| id.parse().ok()) {
        Some(id) => app.store.agent(beckon_domain::AgentId(id)).await?.map(|a| a.name),
        None => None,
    };
    let rule_name = match source.strip_prefix("rule:").and_then(|id| id.parse::<i64>().ok()) {
        Some(id) => trigger_rule_name(app, c.org_id, id).await?,
        None => None,
    };
    Ok(Some(InviteOrigin { invite_id, source, message, agent_name, rule_name }))
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

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LiveVisitors {
    visitors: Vec<beckon_domain::events::LiveVisitor>,
}

/// Who is on the organisation's sites right now (live updates follow on the agent socket as
/// `visitor` / `visitor_left` frames).
#[utoipa::path(
    get,
    path = "/v1/agent/visitors",
    tag = "agent",
    security(("session" = [])),
    responses(
        (status = 200, description = "The visitors on the site now", body = LiveVisitors),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
    )
)]
pub(crate) async fn live_visitors(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Json<LiveVisitors> {
    Json(LiveVisitors { visitors: app.cluster.live_list(agent.org_id).await })
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Directory {
    queues: Vec<QueueRef>,
    agents: Vec<DirectoryAgent>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueRef {
    id: beckon_domain::QueueId,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DirectoryAgent {
    id: beckon_domain::AgentId,
    name: String,
    role: Role,
    /// Effective presence (`offline` when no console is open).
    presence: beckon_domain::Presence,
}

/// The organisation's queues and agents (with live presence), e.g. for choosing a transfer target.
#[utoipa::path(
    get,
    path = "/v1/agent/directory",
    tag = "agent",
    security(("session" = [])),
    responses(
        (status = 200, description = "Queues and agents", body = Directory),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
    )
)]
pub(crate) async fn directory(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<Directory>, ApiError> {
    let queues = app.store.queues_of_org(agent.org_id).await?;
    let agents = app.store.agents_of_org(agent.org_id).await?;
    let ids: Vec<_> = agents.iter().map(|a| a.id).collect();
    let presences = app.chat.presences(&ids).await.map_err(crate::http::chat_error)?;
    let presence = |a: beckon_domain::AgentId| {
        presences.get(&a).map_or(beckon_domain::Presence::Offline, |p| p.effective())
    };
    let agents: Vec<_> = agents
        .iter()
        .map(|a| DirectoryAgent { id: a.id, name: a.name.clone(), role: a.role, presence: presence(a.id) })
        .collect();
    let queues: Vec<_> = queues.iter().map(|q| QueueRef { id: q.id, name: q.name.clone() }).collect();
    Ok(Json(Directory { queues, agents }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Words that must all appear in the messages.
    q: Option<String>,
    /// A visitor id, an authenticated person's `sub`, or part of the name the visitor gave (any
    /// case).
    visitor: Option<String>,
    agent_id: Option<i64>,
    /// `queued`, `active`, `transferred`, `ended` or `abandoned`.
    state: Option<String>,
    /// Unix milliseconds, inclusive.
    from: Option<i64>,
    /// Unix milliseconds, exclusive.
    to: Option<i64>,
    /// The last id of the previous page.
    before: Option<i64>,
    /// At most this many (1–200; default 50).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchResults {
    /// Newest first.
    conversations: Vec<beckon_store::ConversationSummary>,
}

/// Conversation history: agents see the conversations they handled, admins their whole
/// organisation's. Newest first; page with `before` (the last id of the previous page).
#[utoipa::path(
    get,
    path = "/v1/agent/conversations",
    tag = "agent",
    security(("session" = [])),
    params(SearchParams),
    responses(
        (status = 200, description = "Matching conversations", body = SearchResults),
        (status = 400, description = "A malformed parameter (`bad_request`, `invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
    )
)]
pub(crate) async fn search(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>, ApiError> {
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
    // A NUL or another control character is no search anyone typed (and SQLite's full-text
    // query parser fails on NUL).
    let control = |s: &Option<String>| s.as_deref().is_some_and(|s| s.chars().any(char::is_control));
    if control(&p.q) || control(&p.visitor) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "q and visitor must not contain control characters",
        ));
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
    Ok(Json(SearchResults { conversations: found }))
}
