//! The HTTP surface: one router per area, merged here with the WebSocket gateways.

pub mod admin;
pub mod agent;
pub mod assets;
pub mod attachments;
pub mod canned;
pub mod health;
pub mod openapi;
pub mod satisfaction;
pub mod transcript;
pub mod triggers;

use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub fn router(state: AppState) -> Router {
    // API answers are about one signed-in person and change all the time: never cached (by the
    // browser or a proxy), never sniffed as anything but what they say they are.
    let api = Router::new()
        .merge(health::router())
        .merge(agent::router())
        .merge(canned::router())
        .merge(satisfaction::router())
        .merge(transcript::router())
        .merge(admin::router())
        .merge(triggers::router())
        .merge(openapi::router())
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    Router::new()
        .merge(api)
        // Files carry their own caching and content headers (and CORS for the widget's pages).
        .merge(attachments::router())
        .merge(assets::router())
        .merge(crate::ws::router())
        .fallback(|| async { crate::error::ApiError::not_found("route") })
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A conversation-service failure at the HTTP edge: a store failure is a 500 (logged), anything
/// else a 400 with its protocol code.
pub(crate) fn chat_error(e: crate::chat::ChatError) -> crate::error::ApiError {
    match e {
        crate::chat::ChatError::Store(e) => e.into(),
        e => crate::error::ApiError::bad_request(e.code(), e.to_string()),
    }
}
