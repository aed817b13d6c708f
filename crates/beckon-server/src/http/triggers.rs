//! Trigger rules over HTTP: the admin's rule list (read, replaced whole, previewed against the
//! visitors on the site now) and, for every agent, the "why" view of one live visitor — which
//! rules hold for them, which conditions do not, and what limit held an invite back.
//!
//! Rules travel in `beckon-triggers`' JSON form; a refusal is a 400 `invalid_rule` whose message
//! starts with the path of the offending field (`rules[2].conditions.all[0].page_url: …`).

use crate::error::{ApiError, ApiJson};
use crate::http::admin::CurrentAdmin;
use crate::http::agent::CurrentAgent;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use beckon_domain::model::Agent;
use beckon_domain::{QueueId, VisitorId};
use beckon_triggers::{Rule, Verdict};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;

/// More would make every visitor event slower than the evaluation budget allows.
const MAX_RULES: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/trigger-rules", get(get_rules).put(put_rules))
        .route("/v1/admin/trigger-rules/preview", post(preview))
        .route("/v1/agent/visitors/{id}/why", get(why))
}

async fn get_rules(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
) -> Result<Json<Value>, ApiError> {
    let rules = app.triggers.rules_of(admin.org_id).await?;
    let mut list: Vec<&Rule> = rules.rules().iter().collect();
    list.sort_by_key(|r| r.id);
    // Without a GeoIP database every country is unknown: the editor warns on country conditions.
    Ok(Json(json!({ "rules": list, "geoip_enabled": app.geoip.is_enabled() })))
}

#[derive(Deserialize)]
struct RulesBody {
    rules: Value,
}

/// Replaces the organisation's rules; live visitors are evaluated against the new ones at once.
async fn put_rules(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<RulesBody>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "rules": rules })))
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

#[derive(Deserialize)]
struct PreviewBody {
    rule: Value,
}

/// Which visitors on the site now a (possibly unsaved) rule matches, and what it would do.
async fn preview(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<Value>, ApiError> {
    let rule = Rule::from_json_value(&body.rule)
        .map_err(|e| ApiError::bad_request("invalid_rule", e.to_string()))?;
    check_queues(&app, &admin, std::slice::from_ref(&rule)).await?;
    let traces = app.triggers.preview(admin.org_id, rule).await;
    let matching = traces.iter().filter(|(_, t)| t.matches).count();
    let would_fire = traces.iter().filter(|(_, t)| matches!(t.verdict, Verdict::WouldFire)).count();
    let visitors: Vec<Value> =
        traces.into_iter().map(|(v, trace)| json!({ "visitor_id": v, "trace": trace })).collect();
    Ok(Json(json!({
        "live_visitors": visitors.len(),
        "matching": matching,
        "would_fire": would_fire,
        "visitors": visitors,
    })))
}

/// The "why" view: every rule for one live visitor of the agent's organisation.
async fn why(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let visitor = VisitorId(id);
    let live = app.live.get(visitor).filter(|v| v.org_id == agent.org_id);
    if live.is_none() {
        return Err(ApiError::not_found("visitor on the site now"));
    }
    let rules =
        app.triggers.explain(visitor).await.ok_or_else(|| ApiError::not_found("visitor on the site now"))?;
    Ok(Json(json!({ "visitor_id": visitor, "rules": rules })))
}
