//! The one state struct every handler receives (cheap to clone: everything is behind `Arc`).

use crate::chat::Chat;
use crate::config::Settings;
use crate::hub::Hub;
use beckon_domain::Clock;
use beckon_store::Store;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub hub: Arc<Hub>,
    pub chat: Arc<Chat>,
    pub timers: Arc<crate::timers::Timers>,
    pub live: Arc<crate::live::LiveVisitors>,
    pub triggers: Arc<crate::triggers::Triggers>,
    pub geoip: Arc<crate::geoip::GeoIp>,
    pub visitor_auth: Arc<crate::visitor_auth::VisitorAuth>,
    /// Cancelled when the server shuts down; every socket and background task watches it.
    pub shutdown: CancellationToken,
    /// Serving the demo site (`beckon demo`).
    pub demo_mode: bool,
    /// The URL this server is reached at (from settings, or derived from the bound address).
    pub public_url: Arc<str>,
}
