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
use crate::http::agent::CurrentAgent;
use crate::state::AppState;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
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
    let place = app.geoip.lookup(ip);
    client.meta.country = place.country;
    client.meta.city = place.city;
    // The address itself is kept only if the admin asked for it; the place is enough otherwise.
    client.meta.ip = app.settings.retain_visitor_ip.then(|| ip.to_string());
    // Everything the socket's task needs is made here and moved in once: a value the task
    // moved on again (into the session) would keep a second slot in the task's future, and one
    // such task lives as long as each visitor's page.
    let settings = app.settings.clone();
    let shutdown = app.shutdown.clone();
    let reg = app.hub.register(settings.ws.outbox_frames);
    let mut handler = visitor::VisitorSession::new(app, reg.id, client);
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
    ws: WebSocketUpgrade,
) -> Response {
    configure(ws, &app.settings.ws).on_upgrade(move |mut socket| async move {
        let reg = app.hub.register(app.settings.ws.outbox_frames);
        let span = tracing::info_span!("agent_ws", session = reg.id, agent = %agent.id);
        let mut handler = agent::AgentSession::new(app.clone(), reg.id, agent);
        let ended = session::run(&mut socket, reg, &mut handler, &app.settings.ws, app.shutdown.clone())
            .instrument(span.clone())
            .await;
        span.in_scope(|| tracing::info!(?ended, "agent socket closed"));
    })
}
