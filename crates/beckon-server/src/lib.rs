//! The Beckon server: HTTP API, visitor and agent WebSocket gateways, conversations and routing.
//!
//! [`Application::build`] does everything the binary does — open the store, start the event
//! dispatcher, bind the listener (port 0 allowed) — so integration tests start the real server
//! exactly as production does. One cancellation token (`AppState::shutdown`) reaches every socket
//! and background task; [`Application::stop`] fires it and waits.
//!
//! Layout: `http/` (one router per area), `ws/` (gateways, socket loop, frames), `chat` (the
//! conversation service, routing and presence), `sweeper` (stored deadlines), `hub` (this node's
//! sockets and delivery), `auth` (passwords, tokens), `limits`, `config`, `demo`.

pub mod auth;
pub mod chat;
pub mod client_info;
pub mod cluster_view;
pub mod config;
pub mod demo;
pub mod error;
pub mod geoip;
pub mod http;
pub mod hub;
pub mod limits;
pub mod live;
pub mod logging;
pub mod mail;
pub mod new_visitors;
pub mod state;
pub mod sweeper;
pub mod timers;
pub mod triggers;
pub mod visitor_auth;
pub mod ws;

use anyhow::Context as _;
use beckon_bus::{Bus, InProcessBus};
use beckon_domain::{Clock, SystemClock};
use chat::Chat;
use config::Settings;
use hub::Hub;
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::Settings as BeckonSettings;
// Re-exported for the `beckon` command's admin subcommands.
pub use beckon_domain;
pub use beckon_store;

pub struct Application {
    addr: SocketAddr,
    state: AppState,
    server: JoinHandle<std::io::Result<()>>,
    dispatcher: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`build`](Self::build), with an injected clock (tests control time with it).
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = beckon_store::connect(&settings.database_url).await.with_context(|| {
            format!("opening the database {}", beckon_store::redacted(&settings.database_url))
        })?;
        let bus: Arc<dyn Bus> = match &settings.nats_url {
            Some(url) => {
                let nats = beckon_bus::NatsSettings {
                    url: url.clone(),
                    prefix: settings.nats_subject_prefix.clone(),
                };
                beckon_bus::NatsBus::connect(nats).await.context("connecting to the cluster bus")?
            }
            None => Arc::new(InProcessBus::new()),
        };
        let hub = Hub::new(bus.clone());
        let shutdown = CancellationToken::new();
        // Subscribe before anything can publish.
        let dispatcher = tokio::spawn(hub.clone().run_dispatcher(shutdown.clone()));
        let listener = tokio::net::TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("listening on {}", settings.bind))?;
        let addr = listener.local_addr()?;
        let public_url: Arc<str> = settings.public_url_for(addr).into();
        let timers = Arc::new(timers::Timers::new(clock.clone()));
        let offer_timeout_ms = i64::from(settings.offer_timeout_secs) * 1_000;
        let presence_grace_ms = i64::from(settings.presence_grace_secs) * 1_000;
        let store_after_ms =
            i64::try_from(settings.limits.store_visitor_after_secs).unwrap_or(i64::MAX / 2) * 1_000;
        let new_visitors = Arc::new(new_visitors::NewVisitors::new(store_after_ms));
        let node_id: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
        let deadlines = Arc::new(tokio::sync::Notify::new());
        let chat = Chat::new(
            store.clone(),
            new_visitors.clone(),
            bus.clone(),
            timers.clone(),
            deadlines.clone(),
            chat::ChatSettings { node_id: node_id.clone(), offer_timeout_ms, presence_grace_ms },
        );
        let mailer =
            mail::Mailer::from_settings(&settings.mail).map_err(|e| anyhow::anyhow!(e))?.map(Arc::new);
        if mailer.is_none() {
            tracing::info!(
                "no SMTP server configured (BECKON_MAIL__SMTP_URL): answers to left messages are not mailed"
            );
        }
        let sweeper = sweeper::Sweeper::new(store.clone(), chat.clone(), timers.clone(), deadlines, mailer);
        sweeper.register().await.context("registering this node in the database")?;
        tracing::info!(node = %node_id, "this node's id");
        let sweeper = tokio::spawn(sweeper.run(shutdown.clone()));
        let triggers = triggers::Triggers::new(
            store.clone(),
            chat.clone(),
            timers.clone(),
            settings.triggers.clone(),
            settings.limits.clone(),
        );
        tokio::spawn(triggers.clone().run_timers(shutdown.clone()));
        // Rules saved on any node apply on this one at once.
        let cluster = hub.register_listener(triggers::CLUSTER_INBOX);
        hub.subscribe(cluster.id, beckon_domain::events::Topic::Cluster).await;
        tokio::spawn(triggers.clone().follow_cluster(hub.clone(), cluster, shutdown.clone()));
        let evaluate = {
            let triggers = triggers.clone();
            move |visitor| {
                let triggers = triggers.clone();
                async move { triggers.evaluate(visitor).await }
            }
        };
        tokio::spawn(new_visitors.clone().run(store.clone(), timers.clone(), evaluate, shutdown.clone()));
        tokio::spawn(logging::report_suppressed(shutdown.clone()));
        let live = Arc::new(live::LiveVisitors::new(bus.clone()));
        let cluster = Arc::new(cluster_view::ClusterView::new(
            bus,
            store.clone(),
            clock.clone(),
            live.clone(),
            triggers.clone(),
        ));
        let geoip = match &settings.geoip_database {
            Some(path) => geoip::GeoIp::open(path)?,
            None => match settings.demo.then(geoip::GeoIp::built_in).flatten() {
                Some(built_in) => built_in,
                None => {
                    tracing::info!("no GeoIP database configured: visitors' countries are unknown");
                    geoip::GeoIp::disabled()
                }
            },
        };
        let jwks_min_refresh_secs = settings.jwks_min_refresh_secs;
        let limits = Arc::new(limits::Limits::new(settings.limits.clone(), clock.clone()));
        let state = AppState {
            demo_mode: settings.demo,
            settings: Arc::new(settings),
            store,
            clock,
            hub,
            chat,
            timers,
            triggers,
            live,
            cluster,
            geoip: Arc::new(geoip),
            visitor_auth: Arc::new(visitor_auth::VisitorAuth::new(std::time::Duration::from_secs(
                jwks_min_refresh_secs,
            ))),
            widgets: Arc::default(),
            limits,
            new_visitors,
            shutdown: shutdown.clone(),
            public_url,
        };
        let app = http::router(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
        });
        tracing::info!(%addr, "beckon listening");
        Ok(Self { addr, state, server, dispatcher, sweeper })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A token that stops the server when cancelled (e.g. on Ctrl-C).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await.context("server task panicked")?;
        let _ = self.dispatcher.await;
        // It records that this node stopped, so its agents' consoles close now.
        let _ = self.sweeper.await;
        result.context("server failed")
    }

    /// Closes every socket (clients are told to reconnect) and waits for the server to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.shutdown.cancel();
        self.run_until_stopped().await
    }
}
