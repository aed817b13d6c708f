//! The HTTP surface: one router per area, merged here with the WebSocket gateways.

pub mod admin;
pub mod agent;
pub mod assets;
pub mod health;
pub mod triggers;

use crate::state::AppState;
use axum::Router;
use tower_http::trace::TraceLayer;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(agent::router())
        .merge(admin::router())
        .merge(triggers::router())
        .merge(assets::router())
        .merge(crate::ws::router())
        .fallback(|| async { crate::error::ApiError::not_found("route") })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
