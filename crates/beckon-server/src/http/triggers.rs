//! Trigger rules over HTTP: the admin's rule list (read, replaced whole, previewed against the
//! visitors on the site now) and, for every agent, the "why" view of one live visitor — which
//! rules hold for them, which conditions do not, and what limit held an invite back.
//!
//! Rules travel in `beckon-triggers`' JSON form; a refusal is a 400 `invalid_rule` whose message
//! starts with the path of the offending field (`rules[2].conditions.all[0].page_url: …`).

use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::http::admin::CurrentAdmin;
use crate::http::agent::CurrentAgent;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use beckon_domain::model::Agent;
use beckon_domain::{QueueId, VisitorId};
use beckon_triggers::{Rule, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// More would make every visitor event slower than the evaluation budget allows.
const MAX_RULES: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/trigger-rules", get(get_rules).put(put_rules))
        .route("/v1/admin/trigger-rules/preview", post(preview))
        .route("/v1/agent/visitors/{id}/why", get(why))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RuleList {
    /// By id; each in `beckon-triggers`' JSON form (docs/triggers.md).
    #[schema(value_type = Vec<Object>)]
    rules: Vec<Rule>,
    /// Whether a GeoIP database is loaded (without one every country is unknown).
    geoip_enabled: bool,
}

/// The organisation's trigger rules.
#[utoipa::path(
    get,
    path = "/v1/admin/trigger-rules",
    tag = "triggers",
    security(("session" = [])),
    responses(
        (status = 200, description = "The rules", body = RuleList),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
pub(crate) async fn get_rules(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<RuleList>, ApiError> {
    let rules = app.triggers.rules_of(admin.org_id).await?;
    let mut list: Vec<&Rule> = rules.rules().iter().collect();
    list.sort_by_key(|r| r.id);
    // Without a GeoIP database every country is unknown: the editor warns on country conditions.
    Ok(Json(RuleList { rules: list.into_iter().cloned().collect(), geoip_enabled: app.geoip.is_enabled() }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RulesBody {
    /// At most 200, ids unique; each in `beckon-triggers`' JSON form (docs/triggers.md).
    #[schema(value_type = Vec<Object>)]
    rules: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SavedRules {
    /// As stored (defaults filled in).
    #[schema(value_type = Vec<Object>)]
    rules: Vec<Rule>,
}

/// Replaces the organisation's rules; live visitors are evaluated against the new ones at once.
#[utoipa::path(
    put,
    path = "/v1/admin/trigger-rules",
    tag = "triggers",
    security(("session" = [])),
    request_body = RulesBody,
    responses(
        (status = 200, description = "Replaced", body = SavedRules),
        (status = 400, description = "Not JSON, or an invalid rule (`invalid_rule`, the message starts with the field's path)", body = ErrorBody),
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
    ApiJson(body): ApiJson<RulesBody>,
) -> Result<Json<SavedRules>, ApiError> {
    let rules = beckon_triggers::rules_from_json(&body.rules.to_string()).map_err(|e| {
        let message = e.to_string();
        // The list is the body's `rules` field: name it in the path.
        let message = if message.starts_with('[') { format!("rules{message}") } else { message };
        ApiError::bad_request("invalid_rule", message)
    })?;
    if rules.len() > MAX_RULES {
        return Err(ApiError::bad_request("invalid_rule", format!("rules: at most {MAX_RULES} rules")));
    }
    let mut ids = HashSet::new();
    if let Some((i, r)) = rules.iter().enumerate().find(|(_, r)| !ids.insert(r.id)) {
        return Err(ApiError::bad_request("invalid_rule", format!("rules[{i}].id: {} is used twice", r.id)));
    }
    check_queues(&app, &admin, &rules).await?;
    app.triggers.set_rules(admin.org_id, rules.clone()).await?;
    Ok(Json(SavedRules { rules }))
}

async fn check_queues(app: &AppState, admin: &Agent, rules: &[Rule]) -> Result<(), ApiError> {
    let mine: Vec<QueueId> = app.store.queues_of_org(admin.org_id).await?.iter().map(|q| q.id).collect();
    for (i, r) in rules.iter().enumerate() {
        if let Some(q) = r.invite.queue_id.filter(|q| !mine.contains(q)) {
            return Err(ApiError::bad_request(
                "invalid_rule",
                format!("rules[{i}].invite.queue_id: there is no queue {q}"),
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PreviewBody {
    /// One rule in `beckon-triggers`' JSON form (docs/triggers.md).
    #[schema(value_type = Object)]
    rule: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Preview {
    /// Visitors on the site now.
    live_visitors: usize,
    /// …whose facts match the rule's conditions.
    matching: usize,
    /// …to whom the rule would send an invite now.
    would_fire: usize,
    visitors: Vec<PreviewVisitor>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PreviewVisitor {
    visitor_id: VisitorId,
    /// How the rule evaluates for this visitor: each condition, and the verdict.
    #[schema(value_type = Object)]
    trace: beckon_triggers::RuleTrace,
}

/// Which visitors on the site now a (possibly unsaved) rule matches, and what it would do.
#[utoipa::path(
    post,
    path = "/v1/admin/trigger-rules/preview",
    tag = "triggers",
    security(("session" = [])),
    request_body = PreviewBody,
    responses(
        (status = 200, description = "The rule against every live visitor", body = Preview),
        (status = 400, description = "Not JSON, or an invalid rule (`invalid_rule`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 413, description = "The body is too large (`bad_request`)", body = ErrorBody),
        (status = 415, description = "The body is not `application/json` (`bad_request`)", body = ErrorBody),
        (status = 422, description = "The JSON is not of this shape (`bad_request`)", body = ErrorBody),
    )
)]
pub(crate) async fn preview(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<Preview>, ApiError> {
    let rule = Rule::from_json_value(&body.rule)
        .map_err(|e| ApiError::bad_request("invalid_rule", e.to_string()))?;
    check_queues(&app, &admin, std::slice::from_ref(&rule)).await?;
    let traces = app.cluster.preview(admin.org_id, &rule).await;
    let matching = traces.iter().filter(|(_, t)| t.matches).count();
    let would_fire = traces.iter().filter(|(_, t)| matches!(t.verdict, Verdict::WouldFire)).count();
    let visitors: Vec<PreviewVisitor> =
        traces.into_iter().map(|(visitor_id, trace)| PreviewVisitor { visitor_id, trace }).collect();
    Ok(Json(Preview { live_visitors: visitors.len(), matching, would_fire, visitors }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Why {
    visitor_id: VisitorId,
    /// Every rule of the organisation, explained for this visitor (docs/triggers.md).
    #[schema(value_type = Vec<Object>)]
    rules: Vec<beckon_triggers::RuleTrace>,
}

/// The "why" view: every rule for one live visitor of the agent's organisation.
#[utoipa::path(
    get,
    path = "/v1/agent/visitors/{id}/why",
    tag = "triggers",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Visitor id")),
    responses(
        (status = 200, description = "The rules, explained", body = Why),
        (status = 400, description = "The id is malformed (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 404, description = "No visitor of the organisation with this id is on the site now (`not_found`)", body = ErrorBody),
    )
)]
pub(crate) async fn why(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Why>, ApiError> {
    let visitor = VisitorId(id);
    let rules = app
        .cluster
        .why(agent.org_id, visitor)
        .await
        .ok_or_else(|| ApiError::not_found("visitor on the site now"))?;
    Ok(Json(Why { visitor_id: visitor, rules }))
}
