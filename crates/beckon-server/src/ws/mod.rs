//! The WebSocket gateways: the upgrade endpoints, the shared socket loop, and the frames.
//!
//! Socket limits are set deliberately (see `WsSettings`): every visitor on a customer's site
//! holds one of these, so an idle socket must cost little.

pub mod agent;
pub mod frames;
pub mod session;
pub mod visitor;

use crate::client_info::ClientInfo;
use crate::config::WsSettings;
use crate::error::ApiError;
use crate::http::agent::CurrentAgent;
use crate::limits::AddrKey;
use crate::state::AppState;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use std::net::SocketAddr;
use tracing::Instrument;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/visitor/ws", get(visitor_ws)).route("/v1/agent/ws", get(agent_ws))
}

fn configure(ws: WebSocketUpgrade, cfg: &WsSettings) -> WebSocketUpgrade {
    ws.read_buffer_size(cfg.read_buffer_bytes)
        .write_buffer_size(cfg.write_buffer_bytes)
        .max_write_buffer_size(cfg.write_buffer_bytes + cfg.max_frame_bytes * 2)
        .max_message_size(cfg.max_frame_bytes)
        .max_frame_size(cfg.max_frame_bytes)
}

async fn visitor_ws(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let mut client = ClientInfo::from_headers(&headers);
    let ip = crate::geoip::client_ip(peer.ip(), &headers, &app.settings.trusted_proxies);
    // The demo lets a visitor on the server's own machine borrow a sample address (demo/visit_from.rs).
    let placed_by = app.demo_mode.then(|| crate::demo::visit_from::borrowed_address(ip, &headers)).flatten();
    let place = app.geoip.lookup(placed_by.unwrap_or(ip));
    client.meta.country = place.country;
    client.meta.city = place.city;
    // The address itself is kept only if the admin asked for it; the place is enough otherwise.
    client.meta.ip = app.settings.retain_visitor_ip.then(|| ip.to_string());
    // Everything the socket's task needs is made here and moved in once: a value the task
    // moved on again (into the session) would keep a second slot in the task's future, and one
    // such task lives as long as each visitor's page.
    let addr = AddrKey::from(ip);
    let per_address = app.settings.limits.sockets_per_address;
    let Some(socket_slot) = app.limits.sockets_by_address.try_hold(addr, per_address) else {
        return ApiError::too_many(
            "too_many_connections",
            "too many connections from your network; try again later",
            10,
        )
        .into_response();
    };
    let settings = app.settings.clone();
    let shutdown = app.shutdown.clone();
    let reg = app.hub.register(settings.ws.outbox_frames);
    let mut handler = visitor::VisitorSession::new(app, reg.id, client, addr, socket_slot);
    configure(ws, &settings.ws).on_upgrade(move |mut socket| async move {
        let span = tracing::info_span!("visitor_ws", session = reg.id);
        let ended = session::run(&mut socket, reg, &mut handler, &settings.ws, shutdown)
            .instrument(span.clone())
            .await;
        span.in_scope(|| tracing::debug!(?ended, "visitor socket closed"));
    })
}

async fn agent_ws(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A page of another site must not open a console with the agent's cookie (cross-site
    // WebSocket hijacking): browsers always send `Origin`, and it must be this server's.
    if let Some(origin) = headers.get(header::ORIGIN)
        && !same_origin(origin.to_str().unwrap_or(""), &app, &headers)
    {
        tracing::warn!(origin = ?origin, "agent socket from a foreign origin refused");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "open the console from this server",
        )
        .into_response();
    }
    let Some(session_hash) = session_hash(&headers) else {
        return ApiError::unauthenticated().into_response();
    };
    configure(ws, &app.settings.ws).on_upgrade(move |mut socket| async move {
        let reg = app.hub.register(app.settings.ws.agent_outbox_frames);
        let span = tracing::info_span!("agent_ws", session = reg.id, agent = %agent.id);
        let mut handler = agent::AgentSession::new(app.clone(), reg.id, agent, session_hash);
        let ended = session::run(&mut socket, reg, &mut handler, &app.settings.ws, app.shutdown.clone())
            .instrument(span.clone())
            .await;
        span.in_scope(|| tracing::info!(?ended, "agent socket closed"));
    })
}

/// The console's origin is the server's public URL; without a configured one, the origin the
/// browser used to reach this server (its `Host`), as a same-origin check.
pub(crate) fn same_origin(origin: &str, app: &AppState, headers: &HeaderMap) -> bool {
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(&app.public_url) {
        return true;
    }
    if app.settings.public_url.is_some() {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

fn session_hash(headers: &HeaderMap) -> Option<String> {
    let jar = axum_extra::extract::cookie::CookieJar::from_headers(headers);
    jar.get(crate::http::agent::SESSION_COOKIE).map(|c| crate::auth::token_hash(c.value()))
}
