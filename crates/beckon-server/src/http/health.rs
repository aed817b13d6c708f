//! `/healthz`: is the server up and does its database answer? For load balancers and `beckon`'s
//! own start-up checks.

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Whether the server is up and its database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Up, and the database answers", body = Health),
        (status = 503, description = "The database does not answer (`unavailable`)", body = ErrorBody),
    )
)]
pub(crate) async fn health(State(app): State<AppState>) -> Result<Json<Health>, ApiError> {
    match app.store.ping().await {
        // Nothing more: anyone may ask, and how busy the server is is nobody's business.
        Ok(()) => Ok(Json(Health { status: "ok" })),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unavailable");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database does not answer"))
        }
    }
}
