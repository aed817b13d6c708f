//! Administration over HTTP (admin role only): queues and their hours, routing rules, agents,
//! widgets, invite analytics. The console's administration pages are built on these endpoints.
//!
//! Every write is validated before anything is stored, and a refusal is a 400 whose message
//! starts with the offending field (`capacity: …`, `prechat[2].choices: …`), so a form can show
//! it next to that field. Names and emails that must be unique answer 409 `conflict`.

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::http::agent::CurrentAgent;
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};
use axum::{Json, Router};
use beckon_domain::hours::OperatingHours;
use beckon_domain::model::{Agent, Role};
use beckon_domain::routing::{self, RoutingRule};
use beckon_domain::{AgentId, NewPassword, QueueId, Timestamp};
use beckon_store::InviteFunnelRow;
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/analytics/invites", get(invite_funnel))
        .route("/v1/admin/queues", get(list_queues).post(create_queue))
        .route("/v1/admin/queues/{id}/hours", put(put_queue_hours))
        .route("/v1/admin/queues/{id}/fallback", put(put_queue_fallback))
        .route("/v1/admin/queues/{id}/leave-message-after", put(put_queue_leave_message_after))
        .route("/v1/admin/routing-rules", get(get_rules).put(put_rules))
        .route("/v1/admin/agents/{id}/queues", put(put_agent_queues))
        .route("/v1/admin/agents", get(list_agents).post(create_agent))
        .route("/v1/admin/agents/{id}", patch(patch_agent))
        .route("/v1/admin/widgets", get(list_widgets))
        .route("/v1/admin/widgets/{id}", patch(patch_widget))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueList {
    queues: Vec<QueueStatus>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueStatus {
    id: QueueId,
    name: String,
    /// `null`: always open.
    hours: Option<OperatingHours>,
    /// Open at this moment.
    open_now: bool,
    /// When it next opens, while closed (Unix milliseconds).
    opens_at: Option<Timestamp>,
    /// Where its chats go while it is closed or nobody of it is at work.
    fallback_queue_id: Option<QueueId>,
    /// After this many seconds without an agent, a waiting visitor is offered to leave a
    /// message instead (`null`: never).
    leave_message_after_secs: Option<u32>,
}

/// The organisation's queues, with their operating hours and whether each is open now.
#[utoipa::path(
    get,
    path = "/v1/admin/queues",
    tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "The queues", body = QueueList),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
pub(crate) async fn list_queues(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<QueueList>, ApiError> {
    let queues = app.store.queues_of_org(admin.org_id).await?;
    // `open_now` / `opens_at`: where the queue stands at this moment (the console shows it).
    let now = app.clock.now();
    let queues: Vec<_> = queues
        .iter()
        .map(|q| {
            let status = q.hours.as_ref().map(|h| h.status(now));
            QueueStatus {
                id: q.id,
                name: q.name.clone(),
                hours: q.hours.clone(),
                open_now: status.is_none_or(|s| s.open),
                opens_at: status.and_then(|s| s.opens_at),
                fallback_queue_id: q.fallback_queue_id,
                leave_message_after_secs: q.leave_message_after_secs,
            }
        })
        .collect();
    Ok(Json(QueueList { queues }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewQueue {
    /// 1–100 characters, unique in the organisation.
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueEnvelope {
    queue: QueueRef,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueRef {
    id: QueueId,
    name: String,
}

#[utoipa::path(
    post,
    path = "/v1/admin/queues",
    tag = "admin",
    security(("session" = [])),
    request_body = NewQueue,
    responses(
        (status = 201, description = "Created", body = QueueEnvelope),
        (status = 400, description = "Not JSON, or a name that is empty or too long (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 409, description = "A queue has this name (`conflict`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn create_queue(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<NewQueue>,
) -> Result<Response, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("invalid_field", "name: 1–100 characters"));
    }
    let q = app.store.create_queue(admin.org_id, name, app.clock.now()).await.map_err(|e| match e {
        beckon_store::StoreError::Conflict(_) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", format!("a queue named {name:?} exists"))
        }
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, Json(QueueEnvelope { queue: QueueRef { id: q.id, name: q.name } }))
        .into_response())
}

/// Queue ids that are not the organisation's, as an error naming the first.
async fn check_queues(
    app: &AppState,
    admin: &Agent,
    ids: impl IntoIterator<Item = QueueId>,
) -> Result<(), ApiError> {
    let mine: Vec<QueueId> = app.store.queues_of_org(admin.org_id).await?.iter().map(|q| q.id).collect();
    match ids.into_iter().find(|q| !mine.contains(q)) {
        Some(q) => Err(ApiError::bad_request("invalid_field", format!("there is no queue {q}"))),
        None => Ok(()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct QueueHours {
    /// `null` (or absent): always open.
    hours: Option<OperatingHours>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueHoursEnvelope {
    queue: QueueWithHours,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueWithHours {
    id: QueueId,
    name: String,
    hours: Option<OperatingHours>,
}

/// Sets (or, with `null`, clears) a queue's operating hours.
#[utoipa::path(
    put,
    path = "/v1/admin/queues/{id}/hours",
    tag = "admin",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Queue id")),
    request_body = QueueHours,
    responses(
        (status = 200, description = "Set", body = QueueHoursEnvelope),
        (status = 400, description = "Not JSON, a malformed id, or invalid hours (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such queue in the organisation (`not_found`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn put_queue_hours(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<QueueHours>,
) -> Result<Json<QueueHoursEnvelope>, ApiError> {
    let queue = app.store.queue(QueueId(id)).await?.filter(|q| q.org_id == admin.org_id);
    let queue = queue.ok_or_else(|| ApiError::not_found("queue"))?;
    if let Some(h) = &body.hours {
        h.validate().map_err(|e| ApiError::bad_request("invalid_field", format!("hours: {e}")))?;
    }
    app.store.set_queue_hours(queue.id, body.hours.as_ref()).await?;
    Ok(Json(QueueHoursEnvelope {
        queue: QueueWithHours { id: queue.id, name: queue.name, hours: body.hours },
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct QueueFallback {
    /// Another queue of the organisation, or `null` (or absent): none.
    fallback_queue_id: Option<QueueId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QueueFallbackSet {
    queue_id: QueueId,
    fallback_queue_id: Option<QueueId>,
}

/// Sets (or, with `null`, clears) where a queue's new chats go while it is closed or nobody of
/// it is Available or Busy: a chat routed to it goes to the fallback instead when that one is
/// open (and, following its own fallback, staffed).
#[utoipa::path(
    put,
    path = "/v1/admin/queues/{id}/fallback",
    tag = "admin",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Queue id")),
    request_body = QueueFallback,
    responses(
        (status = 200, description = "Set", body = QueueFallbackSet),
        (status = 400, description = "Not JSON, a malformed id, the queue itself or another organisation's queue (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such queue in the organisation (`not_found`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn put_queue_fallback(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<QueueFallback>,
) -> Result<Json<QueueFallbackSet>, ApiError> {
    let queue = app.store.queue(QueueId(id)).await?.filter(|q| q.org_id == admin.org_id);
    let queue = queue.ok_or_else(|| ApiError::not_found("queue"))?;
    if let Some(to) = body.fallback_queue_id {
        if to == queue.id {
            return Err(ApiError::bad_request(
                "invalid_field",
                "fallback_queue_id: a queue cannot fall back on itself",
            ));
        }
        check_queues(&app, &admin, [to]).await.map_err(|_| {
            ApiError::bad_request("invalid_field", format!("fallback_queue_id: there is no queue {to}"))
        })?;
    }
    app.store.set_queue_fallback(queue.id, body.fallback_queue_id).await?;
    Ok(Json(QueueFallbackSet { queue_id: queue.id, fallback_queue_id: body.fallback_queue_id }))
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct QueueLeaveMessageAfter {
    /// Seconds a visitor waits without an agent before being offered to leave a message
    /// instead: 10–86,400, or `null` (or absent) for never.
    leave_message_after_secs: Option<u32>,
}

/// Sets (or, with `null`, clears) how long a visitor of the queue waits without an agent before
/// the chat offers to leave a message instead (answered later, by email when it is configured).
/// Applies to chats that start from now on.
#[utoipa::path(
    put,
    path = "/v1/admin/queues/{id}/leave-message-after",
    tag = "admin",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Queue id")),
    request_body = QueueLeaveMessageAfter,
    responses(
        (status = 200, description = "Set", body = QueueLeaveMessageAfter),
        (status = 400, description = "Not JSON, a malformed id, or seconds out of range (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such queue in the organisation (`not_found`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn put_queue_leave_message_after(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<QueueLeaveMessageAfter>,
) -> Result<Json<QueueLeaveMessageAfter>, ApiError> {
    let queue = app.store.queue(QueueId(id)).await?.filter(|q| q.org_id == admin.org_id);
    let queue = queue.ok_or_else(|| ApiError::not_found("queue"))?;
    if body.leave_message_after_secs.is_some_and(|s| !(10..=86_400).contains(&s)) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "leave_message_after_secs: between 10 and 86400 seconds, or null for never",
        ));
    }
    app.store.set_queue_leave_message_after(queue.id, body.leave_message_after_secs).await?;
    Ok(Json(body))
}

/// The routing rules, in order (first match wins).
#[utoipa::path(
    get,
    path = "/v1/admin/routing-rules",
    tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "The rules", body = Rules),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
pub(crate) async fn get_rules(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<Rules>, ApiError> {
    Ok(Json(Rules { rules: app.store.routing_rules(admin.org_id).await? }))
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct Rules {
    /// At most 200.
    rules: Vec<RoutingRule>,
}

/// Replaces the ordered rule list (first match wins).
#[utoipa::path(
    put,
    path = "/v1/admin/routing-rules",
    tag = "admin",
    security(("session" = [])),
    request_body = Rules,
    responses(
        (status = 200, description = "Replaced", body = Rules),
        (status = 400, description = "Not JSON, too many rules (`invalid_field`), an invalid rule (`invalid_rule`) or a queue that is not the organisation's (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn put_rules(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<Rules>,
) -> Result<Json<Rules>, ApiError> {
    if body.rules.len() > 200 {
        return Err(ApiError::bad_request("invalid_field", "at most 200 routing rules"));
    }
    routing::validate(&body.rules).map_err(|e| ApiError::bad_request("invalid_rule", e.to_string()))?;
    check_queues(&app, &admin, body.rules.iter().map(|r| r.queue_id)).await?;
    app.store.set_routing_rules(admin.org_id, &body.rules, app.clock.now()).await?;
    Ok(Json(body))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct AgentQueues {
    queue_ids: Vec<QueueId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgentQueuesSet {
    agent_id: AgentId,
    queue_ids: Vec<QueueId>,
}

/// Replaces the queues an agent takes conversations from.
#[utoipa::path(
    put,
    path = "/v1/admin/agents/{id}/queues",
    tag = "admin",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Agent id")),
    request_body = AgentQueues,
    responses(
        (status = 200, description = "Set", body = AgentQueuesSet),
        (status = 400, description = "Not JSON, a malformed id, or a queue that is not the organisation's (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such agent in the organisation (`not_found`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn put_agent_queues(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AgentQueues>,
) -> Result<Json<AgentQueuesSet>, ApiError> {
    let agent = app.store.agent(AgentId(id)).await?.filter(|a| a.org_id == admin.org_id);
    let agent = agent.ok_or_else(|| ApiError::not_found("agent"))?;
    check_queues(&app, &admin, body.queue_ids.iter().copied()).await?;
    app.store.set_agent_queues(agent.id, &body.queue_ids, app.clock.now()).await?;
    // Open consoles read the agent's queues again (their waiting list follows).
    app.chat.agent_changed(agent.id).await;
    // The agent may now take waiting conversations of the new queues.
    for q in &body.queue_ids {
        app.chat.route_queue(*q).await;
    }
    Ok(Json(AgentQueuesSet { agent_id: agent.id, queue_ids: body.queue_ids }))
}

/// A signed-in admin; 401 without a session, 403 for other roles.
pub struct CurrentAdmin(pub Agent);

impl FromRequestParts<AppState> for CurrentAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let CurrentAgent(agent) = CurrentAgent::from_request_parts(parts, app).await?;
        if agent.role != Role::Admin {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs the admin role"));
        }
        Ok(CurrentAdmin(agent))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Range {
    /// Unix milliseconds, inclusive (default: 30 days before `to`).
    from: Option<i64>,
    /// Unix milliseconds, exclusive (default: now).
    to: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Funnel {
    from: Timestamp,
    to: Timestamp,
    rows: Vec<FunnelRow>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FunnelRow {
    #[serde(flatten)]
    row: InviteFunnelRow,
    /// Invites that were due: sent or held back by a limit.
    eligible: i64,
    /// accepted / shown, to 3 decimals (`null` when none was shown).
    acceptance_rate: Option<f64>,
    /// conversations / shown, to 3 decimals (`null` when none was shown).
    conversion_rate: Option<f64>,
}

/// The invite funnel per UTC day and source (`sdk`, `agent:<id>`, `rule:<id>`): offered, shown,
/// accepted, declined, expired, suppressed by reason, conversations started and answered.
#[utoipa::path(
    get,
    path = "/v1/admin/analytics/invites",
    tag = "admin",
    security(("session" = [])),
    params(Range),
    responses(
        (status = 200, description = "The funnel, as JSON or (`format=csv`) as a CSV file", content(
            (Funnel = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A malformed parameter or range (`bad_request`, `invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
pub(crate) async fn invite_funnel(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Response, ApiError> {
    // Any i64 may arrive: the checks use no arithmetic that could overflow.
    let sane = |t: i64| (0..=MAX_TIME_MS).contains(&t);
    let to = range.to.unwrap_or_else(|| app.clock.now().0 + 1);
    let from = range.from.unwrap_or(to.saturating_sub(30 * DAY_MS));
    if !sane(from) || !sane(to) || from > to || to - from > 400 * DAY_MS {
        return Err(ApiError::bad_request(
            "invalid_field",
            "from and to are Unix milliseconds, from before to, at most 400 days apart",
        ));
    }
    let (from, to) = (Timestamp(from), Timestamp(to));
    let rows = app.store.invite_funnel(admin.org_id, from, to).await?;
    match range.format.as_deref() {
        None | Some("json") => {
            let rows: Vec<_> = rows
                .into_iter()
                .map(|r| FunnelRow {
                    eligible: eligible(&r),
                    acceptance_rate: rate(r.accepted, r.shown),
                    conversion_rate: rate(r.conversations, r.shown),
                    row: r,
                })
                .collect();
            Ok(Json(Funnel { from, to, rows }).into_response())
        }
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"beckon-invites.csv\""),
            ],
            csv(&rows),
        )
            .into_response()),
        Some(_) => Err(ApiError::bad_request("invalid_field", "format must be json or csv")),
    }
}

/// 9999-12-31T23:59:59.999Z: later times are no real date.
const MAX_TIME_MS: i64 = 253_402_300_799_999;

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1_000.0).round() / 1_000.0)
}

/// Invites that were due: sent (the page's own SDK invites are only reported once shown) or held
/// back by a limit — the top of the funnel.
fn eligible(r: &InviteFunnelRow) -> i64 {
    r.offered.max(r.shown) + r.suppressed.values().sum::<i64>()
}

fn csv(rows: &[InviteFunnelRow]) -> String {
    let mut out = String::from(
        "day,source,eligible,offered,shown,accepted,declined,expired,suppressed,conversations,answered\n",
    );
    for r in rows {
        let suppressed: i64 = r.suppressed.values().sum();
        // Sources are `sdk`, `agent:N` or `rule:N`: no commas or quotes to escape.
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            r.day,
            r.source,
            eligible(r),
            r.offered,
            r.shown,
            r.accepted,
            r.declined,
            r.expired,
            suppressed,
            r.conversations,
            r.answered
        ));
    }
    out
}

// --- agents --------------------------------------------------------------------------------

/// An agent as the administration pages show it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminAgent {
    id: AgentId,
    name: String,
    email: String,
    role: Role,
    capacity: u32,
    /// Effective presence (`offline` when no console is open).
    presence: beckon_domain::Presence,
    queue_ids: Vec<QueueId>,
    disabled: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminAgentEnvelope {
    agent: AdminAgent,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminAgentList {
    agents: Vec<AdminAgent>,
}

async fn agent_json(app: &AppState, a: &Agent) -> Result<AdminAgent, ApiError> {
    let queue_ids = app.store.agent_queues(a.id).await?;
    Ok(AdminAgent {
        id: a.id,
        name: a.name.clone(),
        email: a.email.clone(),
        role: a.role,
        capacity: a.capacity,
        presence: app.chat.effective_presence(a.id).await.map_err(crate::http::chat_error)?,
        queue_ids,
        disabled: a.disabled,
    })
}

/// The organisation's agents.
#[utoipa::path(
    get,
    path = "/v1/admin/agents",
    tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "The agents", body = AdminAgentList),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
pub(crate) async fn list_agents(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<AdminAgentList>, ApiError> {
    let mut agents = Vec::new();
    for a in app.store.agents_of_org(admin.org_id).await? {
        agents.push(agent_json(&app, &a).await?);
    }
    Ok(Json(AdminAgentList { agents }))
}

const MAX_CAPACITY: u32 = 50;

fn check_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("invalid_field", format!("{field}: 1–100 characters")));
    }
    Ok(name.to_owned())
}

fn check_capacity(capacity: u32) -> Result<u32, ApiError> {
    if capacity > MAX_CAPACITY {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("capacity: 0–{MAX_CAPACITY} conversations"),
        ));
    }
    Ok(capacity)
}

pub(crate) fn check_password(field: &str, password: &str) -> Result<NewPassword, ApiError> {
    NewPassword::parse(password).map_err(|e| ApiError::bad_request("invalid_field", format!("{field}: {e}")))
}

/// Hashes a new password off the async threads, through the same bound on concurrent hashing
/// as sign-in.
pub(crate) async fn hash_new_password(app: &AppState, password: NewPassword) -> Result<String, ApiError> {
    let Some(_permit) = app.limits.hashing.enter().await else {
        return Err(ApiError::too_many("busy", "The server is busy; try again in a second.", 1));
    };
    tokio::task::spawn_blocking(move || crate::auth::hash_password(password.as_str()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn check_email(email: &str) -> Result<String, ApiError> {
    beckon_domain::EmailAddress::parse(email)
        .map(|e| e.lowercased().into_string())
        .map_err(|e| ApiError::bad_request("invalid_field", format!("email: {e}")))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewAgentBody {
    /// 1–100 characters.
    name: String,
    /// Unique across the server.
    email: String,
    /// The initial password (see the password rules in docs/operations.md).
    password: String,
    role: Role,
    /// Conversations at once, 0–50.
    capacity: u32,
    #[serde(default)]
    queue_ids: Vec<QueueId>,
}

/// Creates an agent account with an initial password the admin hands over.
#[utoipa::path(
    post,
    path = "/v1/admin/agents",
    tag = "admin",
    security(("session" = [])),
    request_body = NewAgentBody,
    responses(
        (status = 201, description = "Created", body = AdminAgentEnvelope),
        (status = 400, description = "Not JSON, or an invalid field (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 409, description = "An agent has this email (`conflict`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
        (status = 429, description = "The server is busy hashing passwords (`busy`)",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn create_agent(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<NewAgentBody>,
) -> Result<Response, ApiError> {
    let name = check_name("name", &body.name)?;
    let email = check_email(&body.email)?;
    let password = check_password("password", &body.password)?;
    let capacity = check_capacity(body.capacity)?;
    check_queues(&app, &admin, body.queue_ids.iter().copied()).await?;
    let hash = hash_new_password(&app, password).await?;
    let now = app.clock.now();
    let new = beckon_store::NewAgent {
        org_id: admin.org_id,
        email,
        name,
        password_hash: hash,
        role: body.role,
        capacity,
    };
    let agent = app.store.create_agent(new, now).await.map_err(|e| match e {
        beckon_store::StoreError::Conflict(_) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", "email: an agent with this email exists")
        }
        e => e.into(),
    })?;
    app.store.set_agent_queues(agent.id, &body.queue_ids, now).await?;
    tracing::info!(agent = %agent.id, by = %admin.id, "agent created");
    Ok((StatusCode::CREATED, Json(AdminAgentEnvelope { agent: agent_json(&app, &agent).await? }))
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct AgentPatch {
    name: Option<String>,
    role: Option<Role>,
    capacity: Option<u32>,
    queue_ids: Option<Vec<QueueId>>,
    /// Disable (the agent's consoles close and it cannot sign in) or enable the account.
    disabled: Option<bool>,
    /// A new password set by the admin: every session of the agent ends.
    password: Option<String>,
}

/// Changes an agent's name, role, capacity and queues (absent fields are left as they are).
/// The organisation always keeps an admin: demoting the last one is a 409.
#[utoipa::path(
    patch,
    path = "/v1/admin/agents/{id}",
    tag = "admin",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Agent id")),
    request_body = AgentPatch,
    responses(
        (status = 200, description = "Changed", body = AdminAgentEnvelope),
        (status = 400, description = "Not JSON, a malformed id, or an invalid field (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such agent in the organisation (`not_found`)", body = ErrorBody),
        (status = 409, description = "Disabling yourself, or demoting or disabling the last admin (`conflict`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
        (status = 429, description = "The server is busy hashing passwords (`busy`)",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn patch_agent(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AgentPatch>,
) -> Result<Json<AdminAgentEnvelope>, ApiError> {
    let agent = app.store.agent(AgentId(id)).await?.filter(|a| a.org_id == admin.org_id);
    let agent = agent.ok_or_else(|| ApiError::not_found("agent"))?;
    let name = match &body.name {
        Some(n) => check_name("name", n)?,
        None => agent.name.clone(),
    };
    let capacity = check_capacity(body.capacity.unwrap_or(agent.capacity))?;
    let role = body.role.unwrap_or(agent.role);
    if let Some(q) = &body.queue_ids {
        check_queues(&app, &admin, q.iter().copied()).await?;
    }
    let disable = body.disabled.filter(|d| *d != agent.disabled);
    let password = match &body.password {
        Some(p) => Some(check_password("password", p)?),
        None => None,
    };
    if disable == Some(true) && agent.id == admin.id {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "disabled: you cannot disable yourself"));
    }
    let stops_being_admin = role != Role::Admin || disable == Some(true);
    if agent.role == Role::Admin && !agent.disabled && stops_being_admin {
        let admins = app.store.agents_of_org(admin.org_id).await?;
        if admins.iter().filter(|a| a.role == Role::Admin && !a.disabled).count() <= 1 {
            let field = if role != Role::Admin { "role" } else { "disabled" };
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{field}: this is the organisation's only admin; make someone else admin first"),
            ));
        }
    }
    let mut updated = app.store.update_agent(agent.id, &name, role, capacity).await?;
    if let Some(disabled) = disable {
        updated = app.store.set_agent_disabled(agent.id, disabled, app.clock.now()).await?;
        tracing::info!(agent = %agent.id, by = %admin.id, disabled, "agent account (en|dis)abled");
    }
    if let Some(password) = password {
        let hash = hash_new_password(&app, password).await?;
        app.store.set_agent_password(agent.id, &hash, None).await?;
        tracing::info!(agent = %agent.id, by = %admin.id, "agent password reset by an admin");
    }
    let updated = updated.ok_or_else(|| ApiError::not_found("agent"))?;
    if let Some(q) = &body.queue_ids {
        app.store.set_agent_queues(agent.id, q, app.clock.now()).await?;
    }
    // Open consoles check their session and role at once (closed when signed out or demoted),
    // and read the agent's queues again for their waiting list.
    app.chat.agent_changed(agent.id).await;
    if disable == Some(true) {
        app.chat.release_agent(&updated).await;
    }
    // More capacity or new queues may let the agent take conversations that are waiting.
    for q in app.store.agent_queues(agent.id).await? {
        app.chat.route_queue(q).await;
    }
    Ok(Json(AdminAgentEnvelope { agent: agent_json(&app, &updated).await? }))
}

// --- widgets -------------------------------------------------------------------------------

/// A widget as the administration pages show it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminWidget {
    id: beckon_domain::WidgetId,
    /// The public key pasted into pages (`data-app-id`).
    widget_id: String,
    name: String,
    allowed_origins: Vec<String>,
    default_queue_id: Option<QueueId>,
    color: String,
    font_family: Option<String>,
    title: String,
    greeting: String,
    invite_expiry_ms: i64,
    /// `message` or `hide`.
    out_of_hours: String,
    offline_message: String,
    prechat: Vec<beckon_domain::model::PrechatQuestion>,
    /// The language of the widget's own words: `auto` (the page's, else the browser's), `en`, `fr`.
    language: String,
    /// The texts above in other languages, by language code.
    translations: std::collections::BTreeMap<String, beckon_domain::model::WidgetTexts>,
    /// `required`, `optional`, or `null` (anonymous visitors only).
    authenticated_visitors: Option<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminWidgetEnvelope {
    widget: AdminWidget,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminWidgetList {
    widgets: Vec<AdminWidget>,
}

fn widget_json(w: &beckon_domain::model::Widget) -> AdminWidget {
    let s = w.settings.clone();
    AdminWidget {
        id: w.id,
        widget_id: w.key.as_str().to_owned(),
        name: w.name.clone(),
        allowed_origins: w.allowed_origins.clone(),
        default_queue_id: w.default_queue_id,
        color: s.color,
        font_family: s.font_family,
        title: s.title,
        greeting: s.greeting,
        invite_expiry_ms: s.invite_expiry_ms,
        out_of_hours: s.out_of_hours,
        offline_message: s.offline_message,
        prechat: s.prechat,
        language: s.language,
        translations: s.translations,
        authenticated_visitors: w.auth.as_ref().map(|a| if a.required { "required" } else { "optional" }),
    }
}

/// The organisation's widgets.
#[utoipa::path(
    get,
    path = "/v1/admin/widgets",
    tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "The widgets", body = AdminWidgetList),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
pub(crate) async fn list_widgets(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<AdminWidgetList>, ApiError> {
    let widgets = app.store.widgets_of_org(admin.org_id).await?;
    Ok(Json(AdminWidgetList { widgets: widgets.iter().map(widget_json).collect() }))
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct WidgetPatch {
    name: Option<String>,
    /// 1–50 origins such as `https://shop.example`, or `*` for any page.
    allowed_origins: Option<Vec<String>>,
    /// `null`: none.
    #[serde(default, deserialize_with = "nullable")]
    default_queue_id: Option<Option<QueueId>>,
    /// `#rrggbb`.
    color: Option<String>,
    /// `null` or empty: the host page's font.
    #[serde(default, deserialize_with = "nullable")]
    font_family: Option<Option<String>>,
    title: Option<String>,
    greeting: Option<String>,
    /// 5,000–600,000.
    invite_expiry_ms: Option<i64>,
    /// `message` or `hide`.
    out_of_hours: Option<String>,
    offline_message: Option<String>,
    prechat: Option<Vec<beckon_domain::model::PrechatQuestion>>,
    /// `auto`, `en` or `fr`.
    language: Option<String>,
    /// Replaces every translation: language code (`en`, `fr`) → texts; a language with no
    /// text left is dropped.
    translations: Option<std::collections::BTreeMap<String, beckon_domain::model::WidgetTexts>>,
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_field", message)
}

/// `https://shop.example` or `http://localhost:8080` (scheme, host, optional port; nothing
/// else), or `*` for any page.
fn check_origin(i: usize, origin: &str) -> Result<String, ApiError> {
    let o = origin.trim().trim_end_matches('/');
    if o == "*" {
        return Ok(o.to_owned());
    }
    let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let (host_ok, port) = match r.strip_prefix('[') {
            // [IPv6] or [IPv6]:port
            Some(v6) => {
                let Some((addr, tail)) = v6.split_once(']') else { return false };
                let port = match tail {
                    "" => None,
                    t => match t.strip_prefix(':') {
                        Some(p) => Some(p),
                        None => return false,
                    },
                };
                (addr.parse::<std::net::Ipv6Addr>().is_ok(), port)
            }
            None => {
                let (h, p) = r.rsplit_once(':').map_or((r, None), |(h, p)| (h, Some(p)));
                (valid_host(h), p)
            }
        };
        host_ok
            && port.is_none_or(|p| {
                p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|p| p > 0)
            })
    });
    if !ok || o.len() > 300 {
        return Err(invalid(format!(
            "allowed_origins[{i}]: {origin:?} is not an origin such as https://shop.example (no path), or *"
        )));
    }
    Ok(o.to_ascii_lowercase())
}

/// A DNS name (labels of letters, digits and inner hyphens, 1–63 characters each, 253 in all) or
/// an IPv4 address.
fn valid_host(host: &str) -> bool {
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (1..=253).contains(&host.len())
        && host.split('.').all(label)
        // The last label of a name is never all digits (that would be a malformed address).
        && !host.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let n = value.trim().chars().count();
    if n < min || n > max {
        return Err(invalid(if min == 0 {
            format!("{field}: at most {max} characters")
        } else {
            format!("{field}: {min}–{max} characters")
        }));
    }
    Ok(value.trim().to_owned())
}

/// Widget texts per language: known languages, the same length rules as the texts themselves,
/// and translations only of questions the survey has (with as many choices). Empty texts are
/// dropped, and so is a language left with none.
fn check_translations(
    all: &std::collections::BTreeMap<String, beckon_domain::model::WidgetTexts>,
    prechat: &[beckon_domain::model::PrechatQuestion],
) -> Result<std::collections::BTreeMap<String, beckon_domain::model::WidgetTexts>, ApiError> {
    use beckon_domain::model::{QuestionText, WidgetTexts};
    let mut out = std::collections::BTreeMap::new();
    for (lang, t) in all {
        if !beckon_domain::model::LANGUAGES.contains(&lang.as_str()) {
            return Err(invalid(format!(
                "translations: {lang:?} is not a language the widget speaks ({})",
                beckon_domain::model::LANGUAGES.join(", ")
            )));
        }
        let text = |field: &str, v: &Option<String>, max: usize| -> Result<Option<String>, ApiError> {
            match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => check_len(&format!("translations.{lang}.{field}"), v, 1, max).map(Some),
            }
        };
        let mut kept = WidgetTexts {
            title: text("title", &t.title, 100)?,
            greeting: text("greeting", &t.greeting, 500)?,
            offline_message: text("offline_message", &t.offline_message, 1_000)?,
            prechat: Default::default(),
        };
        for (id, q) in &t.prechat {
            let Some(question) = prechat.iter().find(|p| &p.id == id) else {
                return Err(invalid(format!(
                    "translations.{lang}.prechat: the survey has no question {id:?}"
                )));
            };
            let label = q.label.trim();
            if label.is_empty() {
                continue;
            }
            let label = check_len(&format!("translations.{lang}.prechat.{id}.label"), label, 1, 200)?;
            if !q.choices.is_empty() && q.choices.len() != question.choices.len() {
                return Err(invalid(format!(
                    "translations.{lang}.prechat.{id}.choices: {} choices, as in the question",
                    question.choices.len()
                )));
            }
            let choices = q
                .choices
                .iter()
                .map(|c| check_len(&format!("translations.{lang}.prechat.{id}.choices"), c, 1, 200))
                .collect::<Result<_, _>>()?;
            kept.prechat.insert(id.clone(), QuestionText { label, choices });
        }
        if kept != WidgetTexts::default() {
            out.insert(lang.clone(), kept);
        }
    }
    Ok(out)
}

fn check_prechat(questions: &[beckon_domain::model::PrechatQuestion]) -> Result<(), ApiError> {
    use beckon_domain::model::PrechatKind;
    if questions.len() > 10 {
        return Err(invalid("prechat: at most 10 questions".into()));
    }
    for (i, q) in questions.iter().enumerate() {
        let ok_id = !q.id.is_empty()
            && q.id.len() <= 64
            && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok_id {
            return Err(invalid(format!("prechat[{i}].id: 1–64 letters, digits, _ or -")));
        }
        check_len(&format!("prechat[{i}].label"), &q.label, 1, 200)?;
        if questions[..i].iter().any(|o| o.id == q.id) {
            return Err(invalid(format!("prechat[{i}].id: {:?} is used by another question", q.id)));
        }
        if questions[..i].iter().any(|o| o.label.trim() == q.label.trim()) {
            return Err(invalid(format!("prechat[{i}].label: another question has this label")));
        }
        match q.kind {
            PrechatKind::OptionSet => {
                if q.choices.is_empty() || q.choices.len() > 20 {
                    return Err(invalid(format!("prechat[{i}].choices: 1–20 choices")));
                }
                for c in &q.choices {
                    check_len(&format!("prechat[{i}].choices"), c, 1, 100)?;
                }
            }
            _ if !q.choices.is_empty() => {
                return Err(invalid(format!("prechat[{i}].choices: only option_set questions have choices")));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Changes a widget's settings (absent fields are left as they are). Takes effect for every
/// page that connects from then on.
#[utoipa::path(
    patch,
    path = "/v1/admin/widgets/{id}",
    tag = "admin",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Widget id (the number, not the public key)")),
    request_body = WidgetPatch,
    responses(
        (status = 200, description = "Changed", body = AdminWidgetEnvelope),
        (status = 400, description = "Not JSON, a malformed id, or an invalid field (`invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such widget in the organisation (`not_found`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn patch_widget(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<WidgetPatch>,
) -> Result<Json<AdminWidgetEnvelope>, ApiError> {
    let widget = app.store.widget(beckon_domain::WidgetId(id)).await?.filter(|w| w.org_id == admin.org_id);
    let widget = widget.ok_or_else(|| ApiError::not_found("widget"))?;
    let mut s = widget.settings.clone();
    let name = match &body.name {
        Some(n) => check_name("name", n)?,
        None => widget.name.clone(),
    };
    let origins = match &body.allowed_origins {
        Some(list) => {
            if list.is_empty() || list.len() > 50 {
                return Err(invalid("allowed_origins: 1–50 origins (or * for any page)".into()));
            }
            list.iter().enumerate().map(|(i, o)| check_origin(i, o)).collect::<Result<Vec<_>, _>>()?
        }
        None => widget.allowed_origins.clone(),
    };
    let queue = match body.default_queue_id {
        Some(q) => {
            check_queues(&app, &admin, q)
                .await
                .map_err(|_| invalid("default_queue_id: not one of your queues".into()))?;
            q
        }
        None => widget.default_queue_id,
    };
    if let Some(c) = &body.color {
        let c = c.trim();
        let hex = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit());
        if !hex {
            return Err(invalid("color: a hex colour such as #2151c4".into()));
        }
        s.color = c.to_ascii_lowercase();
    }
    if let Some(f) = &body.font_family {
        s.font_family = match f.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            // The widget puts this in a CSS declaration: no characters that could end it.
            Some(f) if f.len() <= 200 && !f.chars().any(|c| ";{}<>\\:()".contains(c) || c.is_control()) => {
                Some(f.to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    "font_family: at most 200 characters, font names and commas only (e.g. Georgia, serif)"
                        .into(),
                ));
            }
        };
    }
    if let Some(t) = &body.title {
        s.title = check_len("title", t, 1, 100)?;
    }
    if let Some(g) = &body.greeting {
        s.greeting = check_len("greeting", g, 0, 500)?;
    }
    if let Some(ms) = body.invite_expiry_ms {
        if !(5_000..=600_000).contains(&ms) {
            return Err(invalid("invite_expiry_ms: 5,000–600,000 (5 seconds to 10 minutes)".into()));
        }
        s.invite_expiry_ms = ms;
    }
    if let Some(o) = &body.out_of_hours {
        if o != "message" && o != "hide" {
            return Err(invalid("out_of_hours: message or hide".into()));
        }
        s.out_of_hours = o.clone();
    }
    if let Some(m) = &body.offline_message {
        s.offline_message = check_len("offline_message", m, 1, 1_000)?;
    }
    if let Some(p) = &body.prechat {
        check_prechat(p)?;
        s.prechat = p.clone();
    }
    if let Some(l) = &body.language {
        if l != "auto" && !beckon_domain::model::LANGUAGES.contains(&l.as_str()) {
            return Err(invalid(format!(
                "language: auto or one of {}",
                beckon_domain::model::LANGUAGES.join(", ")
            )));
        }
        s.language = l.clone();
    }
    if let Some(t) = &body.translations {
        s.translations = check_translations(t, &s.prechat)?;
    }
    let updated = app.store.update_widget(widget.id, &name, &origins, queue, &s).await?;
    let updated = updated.ok_or_else(|| ApiError::not_found("widget"))?;
    tracing::info!(widget = %widget.id, by = %admin.id, "widget updated");
    Ok(Json(AdminWidgetEnvelope { widget: widget_json(&updated) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_real_origins() {
        for good in [
            "https://shop.example",
            "http://localhost:8080",
            "https://127.0.0.1:443",
            "http://[::1]:3000",
            "https://xn--bcher-kva.example",
            "*",
        ] {
            assert!(check_origin(0, good).is_ok(), "{good}");
        }
        for bad in [
            "http://-",
            "http://shop.example:99999",
            "http://shop.example:0",
            "http://shop.example:+80",
            "https://shop..example",
            "https://-shop.example",
            "http://1.2.3.999",
            "https://shop.example/path",
            "ftp://shop.example",
            "http://[::1",
            "http://[nope]:80",
            "http://a_b.example",
            "https://shop.example:",
        ] {
            assert!(check_origin(0, bad).is_err(), "{bad}");
        }
    }
}
