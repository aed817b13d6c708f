//! Administration over HTTP (admin role only): queues and their hours, routing rules, agents,
//! widgets, invite analytics. The console's administration pages are built on these endpoints.
//!
//! Every write is validated before anything is stored, and a refusal is a 400 whose message
//! starts with the offending field (`capacity: …`, `prechat[2].choices: …`), so a form can show
//! it next to that field. Names and emails that must be unique answer 409 `conflict`.

use crate::error::ApiError;
use crate::error::ApiJson;
use crate::http::agent::CurrentAgent;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};
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
        .route("/v1/admin/agents", get(list_agents).post(create_agent))
        .route("/v1/admin/agents/{id}", patch(patch_agent))
        .route("/v1/admin/widgets", get(list_widgets))
        .route("/v1/admin/widgets/{id}", patch(patch_widget))
}

async fn list_queues(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<Value>, ApiError> {
    let queues = app.store.queues_of_org(admin.org_id).await?;
    // `open_now` / `opens_at`: where the queue stands at this moment (the console shows it).
    let now = app.clock.now();
    let queues: Vec<_> = queues
        .iter()
        .map(|q| {
            let status = q.hours.as_ref().map(|h| h.status(now));
            json!({"id": q.id, "name": q.name, "hours": q.hours,
                   "open_now": status.is_none_or(|s| s.open), "opens_at": status.and_then(|s| s.opens_at)})
        })
        .collect();
    Ok(Json(json!({ "queues": queues })))
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
                    v["eligible"] = json!(eligible(r));
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
async fn agent_json(app: &AppState, a: &Agent) -> Result<Value, ApiError> {
    let queue_ids = app.store.agent_queues(a.id).await?;
    Ok(json!({
        "id": a.id, "name": a.name, "email": a.email, "role": a.role, "capacity": a.capacity,
        "presence": app.chat.presence.effective(a.id), "queue_ids": queue_ids,
    }))
}

async fn list_agents(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<Value>, ApiError> {
    let mut agents = Vec::new();
    for a in app.store.agents_of_org(admin.org_id).await? {
        agents.push(agent_json(&app, &a).await?);
    }
    Ok(Json(json!({ "agents": agents })))
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

fn check_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty()
                && host.contains('.')
                && !host.starts_with('.')
                && !host.ends_with('.')
                && !host.contains('@')
        });
    if !valid {
        return Err(ApiError::bad_request("invalid_field", "email: not an email address (name@example.com)"));
    }
    Ok(email)
}

#[derive(Deserialize)]
struct NewAgentBody {
    name: String,
    email: String,
    password: String,
    role: Role,
    capacity: u32,
    #[serde(default)]
    queue_ids: Vec<QueueId>,
}

/// Creates an agent account with an initial password the admin hands over.
async fn create_agent(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<NewAgentBody>,
) -> Result<Response, ApiError> {
    let name = check_name("name", &body.name)?;
    let email = check_email(&body.email)?;
    let len = body.password.chars().count();
    if !(10..=200).contains(&len) {
        return Err(ApiError::bad_request("invalid_field", "password: 10–200 characters"));
    }
    let capacity = check_capacity(body.capacity)?;
    check_queues(&app, &admin, body.queue_ids.iter().copied()).await?;
    let password = body.password;
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
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
    Ok((StatusCode::CREATED, Json(json!({ "agent": agent_json(&app, &agent).await? }))).into_response())
}

#[derive(Deserialize)]
struct AgentPatch {
    name: Option<String>,
    role: Option<Role>,
    capacity: Option<u32>,
    queue_ids: Option<Vec<QueueId>>,
}

/// Changes an agent's name, role, capacity and queues (absent fields are left as they are).
/// The organisation always keeps an admin: demoting the last one is a 409.
async fn patch_agent(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AgentPatch>,
) -> Result<Json<Value>, ApiError> {
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
    if agent.role == Role::Admin && role != Role::Admin {
        let admins =
            app.store.agents_of_org(admin.org_id).await?.iter().filter(|a| a.role == Role::Admin).count();
        if admins <= 1 {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "role: this is the organisation's only admin; make someone else admin first",
            ));
        }
    }
    let updated = app.store.update_agent(agent.id, &name, role, capacity).await?;
    let updated = updated.ok_or_else(|| ApiError::not_found("agent"))?;
    if let Some(q) = &body.queue_ids {
        app.store.set_agent_queues(agent.id, q, app.clock.now()).await?;
    }
    // More capacity or new queues may let the agent take conversations that are waiting.
    for q in app.store.agent_queues(agent.id).await? {
        app.chat.route_queue(q).await;
    }
    Ok(Json(json!({ "agent": agent_json(&app, &updated).await? })))
}

// --- widgets -------------------------------------------------------------------------------

fn widget_json(w: &beckon_domain::model::Widget) -> Value {
    let s = &w.settings;
    json!({
        "id": w.id, "widget_id": w.key.as_str(), "name": w.name, "allowed_origins": w.allowed_origins,
        "default_queue_id": w.default_queue_id, "color": s.color, "font_family": s.font_family,
        "title": s.title, "greeting": s.greeting, "invite_expiry_ms": s.invite_expiry_ms,
        "out_of_hours": s.out_of_hours, "offline_message": s.offline_message, "prechat": s.prechat,
        "authenticated_visitors": w.auth.as_ref().map(|a| if a.required { "required" } else { "optional" }),
    })
}

async fn list_widgets(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<Value>, ApiError> {
    let widgets = app.store.widgets_of_org(admin.org_id).await?;
    Ok(Json(json!({ "widgets": widgets.iter().map(widget_json).collect::<Vec<_>>() })))
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct WidgetPatch {
    name: Option<String>,
    allowed_origins: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    default_queue_id: Option<Option<QueueId>>,
    color: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    font_family: Option<Option<String>>,
    title: Option<String>,
    greeting: Option<String>,
    invite_expiry_ms: Option<i64>,
    out_of_hours: Option<String>,
    offline_message: Option<String>,
    prechat: Option<Vec<beckon_domain::model::PrechatQuestion>>,
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
        let (host, port) = r.rsplit_once(':').map_or((r, None), |(h, p)| (h, Some(p)));
        !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()))
    });
    if !ok || o.len() > 300 {
        return Err(invalid(format!(
            "allowed_origins[{i}]: {origin:?} is not an origin such as https://shop.example (no path), or *"
        )));
    }
    Ok(o.to_ascii_lowercase())
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
async fn patch_widget(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<WidgetPatch>,
) -> Result<Json<Value>, ApiError> {
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
    let updated = app.store.update_widget(widget.id, &name, &origins, queue, &s).await?;
    let updated = updated.ok_or_else(|| ApiError::not_found("widget"))?;
    tracing::info!(widget = %widget.id, by = %admin.id, "widget updated");
    Ok(Json(json!({ "widget": widget_json(&updated) })))
}
