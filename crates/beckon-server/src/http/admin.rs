//! Administration over HTTP (admin role only): queues, routing rules, agents' queues, invite
//! analytics. Every write is validated with errors that name the offending field; widgets and
//! agents' other settings follow with the administration pages.

use crate::error::ApiError;
use crate::error::ApiJson;
use crate::http::agent::CurrentAgent;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use beckon_domain::hours::OperatingHours;
use beckon_domain::model::{Agent, Role};
use beckon_domain::routing::{self, RoutingRule};
use beckon_domain::{AgentId, QueueId, Timestamp};
use beckon_store::InviteFunnelRow;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/analytics/invites", get(invite_funnel))
        .route("/v1/admin/queues", get(list_queues).post(create_queue))
        .route("/v1/admin/queues/{id}/hours", put(put_queue_hours))
        .route("/v1/admin/routing-rules", get(get_rules).put(put_rules))
        .route("/v1/admin/agents/{id}/queues", put(put_agent_queues))
}

async fn list_queues(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<Value>, ApiError> {
    let queues = app.store.queues_of_org(admin.org_id).await?;
    Ok(Json(
        json!({ "queues": queues.iter().map(|q| json!({"id": q.id, "name": q.name})).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
struct NewQueue {
    name: String,
}

async fn create_queue(
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
    Ok((StatusCode::CREATED, Json(json!({"queue": {"id": q.id, "name": q.name}}))).into_response())
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

#[derive(Deserialize)]
struct QueueHours {
    /// `null` (or absent): always open.
    hours: Option<OperatingHours>,
}

async fn put_queue_hours(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<QueueHours>,
) -> Result<Json<Value>, ApiError> {
    let queue = app.store.queue(QueueId(id)).await?.filter(|q| q.org_id == admin.org_id);
    let queue = queue.ok_or_else(|| ApiError::not_found("queue"))?;
    if let Some(h) = &body.hours {
        h.validate().map_err(|e| ApiError::bad_request("invalid_field", format!("hours: {e}")))?;
    }
    app.store.set_queue_hours(queue.id, body.hours.as_ref()).await?;
    Ok(Json(json!({ "queue": {"id": queue.id, "name": queue.name, "hours": body.hours} })))
}

async fn get_rules(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "rules": app.store.routing_rules(admin.org_id).await? })))
}

#[derive(Deserialize)]
struct Rules {
    rules: Vec<RoutingRule>,
}

/// Replaces the ordered rule list (first match wins).
async fn put_rules(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<Rules>,
) -> Result<Json<Value>, ApiError> {
    if body.rules.len() > 200 {
        return Err(ApiError::bad_request("invalid_field", "at most 200 routing rules"));
    }
    routing::validate(&body.rules).map_err(|e| ApiError::bad_request("invalid_rule", e.to_string()))?;
    check_queues(&app, &admin, body.rules.iter().map(|r| r.queue_id)).await?;
    app.store.set_routing_rules(admin.org_id, &body.rules, app.clock.now()).await?;
    Ok(Json(json!({ "rules": body.rules })))
}

#[derive(Deserialize)]
struct AgentQueues {
    queue_ids: Vec<QueueId>,
}

async fn put_agent_queues(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AgentQueues>,
) -> Result<Json<Value>, ApiError> {
    let agent = app.store.agent(AgentId(id)).await?.filter(|a| a.org_id == admin.org_id);
    let agent = agent.ok_or_else(|| ApiError::not_found("agent"))?;
    check_queues(&app, &admin, body.queue_ids.iter().copied()).await?;
    app.store.set_agent_queues(agent.id, &body.queue_ids, app.clock.now()).await?;
    // The agent may now take waiting conversations of the new queues.
    for q in &body.queue_ids {
        app.chat.route_queue(*q).await;
    }
    Ok(Json(json!({ "agent_id": agent.id, "queue_ids": body.queue_ids })))
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

#[derive(Deserialize)]
struct Range {
    /// Unix milliseconds, inclusive (default: 30 days before `to`).
    from: Option<i64>,
    /// Unix milliseconds, exclusive (default: now).
    to: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

/// The invite funnel per UTC day and source (`sdk`, `agent:<id>`, `rule:<id>`): offered, shown,
/// accepted, declined, expired, suppressed by reason, conversations started and answered.
async fn invite_funnel(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    Query(range): Query<Range>,
) -> Result<Response, ApiError> {
    let to = Timestamp(range.to.unwrap_or_else(|| app.clock.now().0 + 1));
    let from = Timestamp(range.from.unwrap_or(to.0 - 30 * DAY_MS));
    if from > to || to.0 - from.0 > 400 * DAY_MS {
        return Err(ApiError::bad_request("invalid_field", "from must be before to, at most 400 days apart"));
    }
    let rows = app.store.invite_funnel(admin.org_id, from, to).await?;
    match range.format.as_deref() {
        None | Some("json") => {
            let rows: Vec<_> = rows
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).expect("rows serialise");
                    v["acceptance_rate"] = json!(rate(r.accepted, r.shown));
                    v["conversion_rate"] = json!(rate(r.conversations, r.shown));
                    v
                })
                .collect();
            Ok(Json(json!({ "from": from, "to": to, "rows": rows })).into_response())
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

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1_000.0).round() / 1_000.0)
}

fn csv(rows: &[InviteFunnelRow]) -> String {
    let mut out = String::from(
        "day,source,offered,shown,accepted,declined,expired,suppressed,conversations,answered\n",
    );
    for r in rows {
        let suppressed: i64 = r.suppressed.values().sum();
        // Sources are `sdk`, `agent:N` or `rule:N`: no commas or quotes to escape.
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.day,
            r.source,
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
