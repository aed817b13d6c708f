//! Customer satisfaction (CSAT): what visitors said when they rated their chats (1–5 and a
//! comment), for admins — the average, how the scores spread, each agent's, and the latest
//! comments. Computed from the ratings themselves, so it needs no summary table to keep in step.

use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::http::admin::CurrentAdmin;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use beckon_domain::{AgentId, ConversationId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most ratings one report reads (the newest); more would be a report for another tool.
const READ_AT_MOST: u32 = 20_000;
/// The latest comments shown.
const COMMENTS: usize = 20;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/analytics/satisfaction", get(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Days {
    /// The last this many days (1–400, default 30).
    days: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Satisfaction {
    days: i64,
    /// Chats rated in the period.
    rated: i64,
    /// The mean score, to 2 decimals (`null` when none was rated).
    average: Option<f64>,
    /// Share of 4 and 5 scores, to 3 decimals (the usual CSAT figure; `null` when none).
    satisfied: Option<f64>,
    /// How many chats got 1, 2, 3, 4 and 5.
    by_score: [i64; 5],
    /// Per agent who ended or held the chat, best average first.
    agents: Vec<AgentSatisfaction>,
    /// The latest comments, newest first.
    comments: Vec<RatingComment>,
    /// True when the period had more ratings than one report reads (the newest were used).
    truncated: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgentSatisfaction {
    agent_id: AgentId,
    name: String,
    rated: i64,
    average: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RatingComment {
    conversation_id: ConversationId,
    score: i64,
    comment: String,
    agent_name: Option<String>,
    rated_at: Timestamp,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// The satisfaction report for the last `days` days.
#[utoipa::path(
    get,
    path = "/v1/admin/analytics/satisfaction",
    tag = "admin",
    security(("session" = [])),
    params(Days),
    responses(
        (status = 200, description = "The report", body = Satisfaction),
        (status = 400, description = "A malformed or out-of-range `days` (`bad_request`, `invalid_field`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
pub(crate) async fn report(
    State(app): State<AppState>,
    CurrentAdmin(admin): CurrentAdmin,
    ApiQuery(q): ApiQuery<Days>,
) -> Result<Json<Satisfaction>, ApiError> {
    let days = q.days.unwrap_or(30);
    if !(1..=400).contains(&days) {
        return Err(ApiError::bad_request("invalid_field", "days: 1 to 400"));
    }
    let since = Timestamp(app.clock.now().0 - days * 86_400_000);
    let ratings = app.store.ratings(admin.org_id, since, READ_AT_MOST).await?;
    let truncated = ratings.len() == READ_AT_MOST as usize;
    let mut by_score = [0i64; 5];
    let mut per_agent: BTreeMap<AgentId, (String, i64, i64)> = BTreeMap::new();
    for r in &ratings {
        if let Some(slot) = usize::try_from(r.score - 1).ok().and_then(|i| by_score.get_mut(i)) {
            *slot += 1;
        }
        if let Some(a) = r.agent_id {
            let e = per_agent.entry(a).or_insert_with(|| (r.agent_name.clone().unwrap_or_default(), 0, 0));
            e.1 += 1;
            e.2 += r.score;
        }
    }
    let rated = ratings.len() as i64;
    let sum: i64 = ratings.iter().map(|r| r.score).sum();
    let mut agents: Vec<_> = per_agent
        .into_iter()
        .map(|(agent_id, (name, n, sum))| AgentSatisfaction {
            agent_id,
            name,
            rated: n,
            average: round(sum as f64 / n as f64, 2),
        })
        .collect();
    agents.sort_by(|a, b| b.average.total_cmp(&a.average).then(b.rated.cmp(&a.rated)));
    let comments = ratings
        .iter()
        .filter_map(|r| {
            Some(RatingComment {
                conversation_id: r.conversation_id,
                score: r.score,
                comment: r.comment.clone()?,
                agent_name: r.agent_name.clone(),
                rated_at: r.rated_at,
            })
        })
        .take(COMMENTS)
        .collect();
    Ok(Json(Satisfaction {
        days,
        rated,
        average: (rated > 0).then(|| round(sum as f64 / rated as f64, 2)),
        satisfied: (rated > 0).then(|| round((by_score[3] + by_score[4]) as f64 / rated as f64, 3)),
        by_score,
        agents,
        comments,
        truncated,
    }))
}
