//! Typed, layered configuration: defaults < config file < `BECKON_*` environment < flags.
//!
//! Nested settings use `__` in environment names (`BECKON_WS__PING_INTERVAL_SECS=10`). Nothing
//! here is secret yet; when secrets arrive they get a redacting `Debug`.
//!
//! A key the configuration file does not know is an error (a typo there is certainly a mistake),
//! but a `BECKON_*` environment variable that names no setting is left out and reported by
//! [`Settings::unknown_env_vars`]: the environment belongs to everyone (a script's `BECKON_BIN`,
//! a container's defaults), and a stray variable must not stop the server.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The URL visitors' browsers and agents reach the server at (used in the printed embed
    /// snippet and to decide whether cookies are `Secure`). Default: `http://{bind}`.
    pub public_url: Option<String>,
    /// `sqlite://FILE` (created with its schema on first start), or `postgres://…` for several
    /// nodes sharing one database.
    pub database_url: String,
    /// `nats://host:4222`: the bus between nodes (none: this node is alone).
    pub nats_url: Option<String>,
    /// Every NATS subject this cluster uses starts with this (several clusters, or test runs, may
    /// share one NATS server).
    pub nats_subject_prefix: String,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// A visit ends after this long without activity; the next page view starts a new one.
    pub visit_inactivity_minutes: u32,
    /// How long an agent's sign-in lasts.
    pub session_ttl_hours: u32,
    /// Serve the demo site at `/demo/` (set by `beckon demo`).
    pub demo: bool,
    /// A MaxMind-format `.mmdb` database resolving visitors' countries (none: countries unknown).
    pub geoip_database: Option<std::path::PathBuf>,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Store each visit's IP address (for agents and exports). Off: only the country and city
    /// resolved from it are kept.
    pub retain_visitor_ip: bool,
    /// An offer not accepted within this time goes to the next agent.
    pub offer_timeout_secs: u32,
    /// An agent whose consoles all closed stays available this long (a reload, a network blip).
    pub presence_grace_secs: u32,
    /// Least time between two fetches of a widget's JWKS (visitor authentication keys).
    pub jwks_min_refresh_secs: u64,
    pub ws: WsSettings,
    /// Bounds on what one visitor, one address or one account may make the server do or keep
    /// (docs/security.md lists each with the reason for its default).
    pub limits: LimitSettings,
    /// The proactive triggers' visitor-wide attention budget (caps, cooldown, pacing).
    pub triggers: beckon_triggers::EngineSettings,
    /// Email: agents' answers to messages visitors left (none configured: nothing is mailed, and
    /// the answer waits in the visitor's widget).
    pub mail: MailSettings,
}

/// Where and as whom email is sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// `smtp://host:25` (STARTTLS when offered), `smtp://host:587?tls=required`,
    /// `smtps://user:password@host:465`; none: no email is sent.
    pub smtp_url: Option<String>,
    /// The sender: `Support <support@example.com>` or `support@example.com`.
    pub from: Option<String>,
}

impl MailSettings {
    /// An SMTP server is set: email is sent.
    pub fn enabled(&self) -> bool {
        self.smtp_url.as_deref().is_some_and(|u| !u.trim().is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Limits against abuse. The defaults suit a real site whose visitors may share an address
/// (an office, a mobile carrier's NAT) as long as `trusted_proxies` names the site's proxy, so
/// that each visitor's own address is the one counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// The page context the trigger rules keep per visitor (`set_context`), in bytes of names
    /// and values; a larger context is refused with `invalid_context`.
    pub trigger_context_bytes: usize,
    /// Distinct `track()` event names counted per visit; more are refused.
    pub tracked_event_names: usize,
    /// Sign-in attempts per client address per minute (also the burst): an office of this many
    /// agents can all sign in at once.
    pub sign_ins_per_address_per_minute: u32,
    /// Failed sign-ins in a row for one email before each further one makes it wait (1 s,
    /// doubling, up to `sign_in_max_backoff_secs`).
    pub sign_in_free_failures: u32,
    pub sign_in_max_backoff_secs: u64,
    /// Password hashes computed at once (argon2 takes ~19 MiB each); more wait in a queue of
    /// `password_hash_queue`, and beyond it are refused with 429.
    pub concurrent_password_hashes: usize,
    pub password_hash_queue: usize,
    /// A visitor socket that has not said `hello` within this time is closed.
    pub hello_timeout_secs: u64,
    /// A new visitor is stored once it does something: sends a frame after `hello`, is sent an
    /// invite, or stays connected this long.
    pub store_visitor_after_secs: u64,
    /// Visitor sockets open at once from one address (IPv6: one /64).
    pub sockets_per_address: u32,
    /// Sockets (tabs) open at once for one visitor.
    pub sockets_per_visitor: u32,
    /// New visitors (a `hello` without a known token) per address per minute (also the burst).
    pub new_visitors_per_address_per_minute: u32,
    /// Chat messages per visitor per minute, all their tabs together; a burst of a third of it.
    pub messages_per_visitor_per_minute: u32,
    /// Chat messages per address per minute, all its visitors together (also the burst).
    pub messages_per_address_per_minute: u32,
    /// Page views per visitor per minute (single-page apps change routes often), burst half of it.
    pub page_views_per_visitor_per_minute: u32,
    /// Page views per address per minute (also the burst).
    pub page_views_per_address_per_minute: u32,
    /// Typing notifications per visitor per minute; the rest are dropped without an error.
    pub typing_per_visitor_per_minute: u32,
    /// The largest file a visitor or an agent may send in a chat, in bytes.
    pub attachment_max_bytes: usize,
    /// Files the visitor may send in one conversation (and, separately, its agents).
    pub attachments_per_conversation: u32,
    /// Files per visitor per minute (a burst of a third of it).
    pub attachments_per_visitor_per_minute: u32,
    /// Files per address per minute, all its visitors together (also the burst).
    pub attachments_per_address_per_minute: u32,
    /// Log lines per place in the code per second (a burst of ten times that); the rest are
    /// counted and reported in one line, so a flood cannot fill the disk with logs.
    pub log_lines_per_second: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            trigger_context_bytes: 16 * 1024,
            tracked_event_names: 50,
            sign_ins_per_address_per_minute: 30,
            sign_in_free_failures: 5,
            sign_in_max_backoff_secs: 900,
            concurrent_password_hashes: 2,
            password_hash_queue: 16,
            hello_timeout_secs: 10,
            store_visitor_after_secs: 5,
            sockets_per_address: 500,
            sockets_per_visitor: 20,
            new_visitors_per_address_per_minute: 60,
            messages_per_visitor_per_minute: 30,
            messages_per_address_per_minute: 300,
            page_views_per_visitor_per_minute: 60,
            page_views_per_address_per_minute: 600,
            typing_per_visitor_per_minute: 120,
            attachment_max_bytes: 10 * 1024 * 1024,
            attachments_per_conversation: 50,
            attachments_per_visitor_per_minute: 12,
            attachments_per_address_per_minute: 60,
            log_lines_per_second: 20,
        }
    }
}

/// WebSocket tuning. Every visitor on a customer's site holds a socket, so the defaults are
/// chosen for many idle connections: small buffers (tungstenite's defaults are 128 KiB read and
/// 128 KiB write per connection), a bounded outgoing queue, and server pings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsSettings {
    pub ping_interval_secs: u64,
    /// Close a socket that has sent nothing (not even a pong) for this long.
    pub idle_timeout_secs: u64,
    /// Frames waiting to be written to one visitor socket; a client that lets it fill is
    /// disconnected.
    pub outbox_frames: usize,
    /// The same for an agent's console, which hears every visitor of the organisation (live
    /// visitors) and all its chats: larger, so that busy visitors never cost an agent the socket.
    pub agent_outbox_frames: usize,
    /// Give up on a socket whose write has not completed within this time.
    pub write_timeout_secs: u64,
    /// Largest frame or message accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Initial read buffer per socket (grows for a large frame, up to `max_frame_bytes`). Small
    /// on purpose: an idle socket keeps it, and visitors send small frames.
    pub read_buffer_bytes: usize,
    /// Bytes buffered before a write is flushed to the socket.
    pub write_buffer_bytes: usize,
    /// Sustained frames per second a client may send; more get `rate_limited` errors.
    pub frames_per_second: u32,
    /// Frames a client may send in a burst above the sustained rate.
    pub frame_burst: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".parse().expect("valid default address"),
            public_url: None,
            database_url: "sqlite://beckon.db".into(),
            log_format: LogFormat::Pretty,
            visit_inactivity_minutes: 30,
            session_ttl_hours: 24 * 7,
            demo: false,
            jwks_min_refresh_secs: 30,
            offer_timeout_secs: 30,
            presence_grace_secs: 15,
            geoip_database: None,
            trusted_proxies: Vec::new(),
            retain_visitor_ip: false,
            ws: WsSettings::default(),
            nats_url: None,
            nats_subject_prefix: "beckon".into(),
            limits: LimitSettings::default(),
            triggers: beckon_triggers::EngineSettings::default(),
            mail: MailSettings::default(),
        }
    }
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            ping_interval_secs: 25,
            idle_timeout_secs: 60,
            outbox_frames: 256,
            agent_outbox_frames: 4_096,
            write_timeout_secs: 10,
            max_frame_bytes: 1 << 20,
            read_buffer_bytes: 512,
            write_buffer_bytes: 0,
            frames_per_second: 20,
            frame_burst: 100,
        }
    }
}

impl Settings {
    /// Layers the sources in order; `overrides` holds only the flags the user actually gave.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, Box<figment::Error>> {
        Self::load_over(Settings::default(), file, overrides)
    }

    /// As [`load`](Self::load), with other defaults at the bottom (`beckon demo` uses its own
    /// database file).
    pub fn load_over(
        base: Settings,
        file: Option<&Path>,
        overrides: impl Serialize,
    ) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(base));
        match file {
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None => fig = fig.merge(Toml::file("beckon.toml")),
        }
        let known = setting_paths();
        fig.merge(env().filter(move |key| known.contains(&key.as_str().to_ascii_lowercase())))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)
    }

    /// The `BECKON_*` environment variables that name no setting and were therefore left out of
    /// the configuration (the caller warns about them), sorted.
    pub fn unknown_env_vars() -> Vec<String> {
        let known = setting_paths();
        let mut unknown: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| {
                name.strip_prefix("BECKON_").is_some_and(|rest| {
                    !rest.eq_ignore_ascii_case(NEW_AGENT_PASSWORD)
                        && !known.contains(&rest.to_ascii_lowercase().replace("__", "."))
                })
            })
            .collect();
        unknown.sort();
        unknown
    }

    /// The public URL, or one derived from the bound address.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    /// The configuration file that `beckon config` prints: every setting with its default.
    pub fn defaults_toml() -> String {
        toml_like(&Settings::default())
    }
}

/// A configuration error as one line that names what the user wrote: the environment variable
/// (`BECKON_WS__PING_INTERVAL_SECS: invalid type: …`) or figment's own description (which names
/// the file and key).
pub fn describe(e: &figment::Error) -> String {
    let from_env = e.metadata.as_ref().is_some_and(|m| m.name.contains("environment"));
    let line = if from_env && !e.path.is_empty() {
        format!("BECKON_{}: {}", e.path.join("__").to_ascii_uppercase(), e.kind)
    } else {
        e.to_string()
    };
    line.replace('\n', " ")
}

/// Read by `beckon agent-add`, not a setting.
const NEW_AGENT_PASSWORD: &str = "NEW_AGENT_PASSWORD";

fn env() -> Env {
    Env::prefixed("BECKON_").ignore(&[NEW_AGENT_PASSWORD]).split("__")
}

/// Every setting's path as the environment provider spells it (`ws.ping_interval_secs`), and
/// every table's (`ws`), lower case.
fn setting_paths() -> std::collections::HashSet<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut std::collections::HashSet<String>) {
        if let serde_json::Value::Object(map) = v {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                walk(&path, v, out);
                out.insert(path.to_ascii_lowercase());
            }
        }
    }
    let mut out = std::collections::HashSet::new();
    walk("", &serde_json::to_value(Settings::default()).expect("settings serialise"), &mut out);
    out
}

fn toml_like(s: &Settings) -> String {
    // figment does not write TOML; serde_json → a small hand-written TOML printer keeps the
    // dependency list short and the output stable.
    let v = serde_json::to_value(s).expect("settings serialise");
    let mut top = String::new();
    let mut tables = String::new();
    if let serde_json::Value::Object(map) = v {
        for (k, v) in map {
            match v {
                serde_json::Value::Object(inner) => {
                    tables.push_str(&format!("\n[{k}]\n"));
                    for (ik, iv) in inner {
                        match iv {
                            serde_json::Value::Null => tables.push_str(&format!("# {ik} = (not set)\n")),
                            iv => tables.push_str(&format!("{ik} = {iv}\n")),
                        }
                    }
                }
                serde_json::Value::Null => top.push_str(&format!("# {k} = \"…\"\n")),
                v => top.push_str(&format!("{k} = {v}\n")),
            }
        }
    }
    top + &tables
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error.
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        bind: Option<SocketAddr>,
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "b.toml",
                "database_url = \"sqlite://file.db\"\nbind = \"127.0.0.1:1111\"\n[ws]\nping_interval_secs = 5\n",
            )?;
            jail.set_env("BECKON_BIND", "127.0.0.1:2222");
            jail.set_env("BECKON_WS__OUTBOX_FRAMES", "9");
            let s = Settings::load(Some(Path::new("b.toml")), Flags { bind: None }).unwrap();
            assert_eq!(s.database_url, "sqlite://file.db"); // file beats default
            assert_eq!(s.bind.port(), 2222); // env beats file
            assert_eq!((s.ws.ping_interval_secs, s.ws.outbox_frames), (5, 9));
            let s = Settings::load(
                Some(Path::new("b.toml")),
                Flags { bind: Some("127.0.0.1:3333".parse().unwrap()) },
            )
            .unwrap();
            assert_eq!(s.bind.port(), 3333); // flag beats env
            Ok(())
        });
    }

    #[test]
    fn unknown_environment_variables_are_left_out_and_reported() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BECKON_BIN", "/usr/local/bin/beckon");
            jail.set_env("BECKON_WS__NOT_A_SETTING", "1");
            jail.set_env("BECKON_NEW_AGENT_PASSWORD", "read by agent-add");
            jail.set_env("BECKON_WS__OUTBOX_FRAMES", "9");
            jail.set_env("BECKON_LIMITS__TRIGGER_CONTEXT_BYTES", "1000");
            let s = Settings::load(None, Flags { bind: None }).unwrap();
            assert_eq!(s.ws.outbox_frames, 9, "known variables still apply");
            assert_eq!(s.limits.trigger_context_bytes, 1000);
            let unknown = Settings::unknown_env_vars();
            assert!(unknown.contains(&"BECKON_BIN".to_owned()), "{unknown:?}");
            assert!(unknown.contains(&"BECKON_WS__NOT_A_SETTING".to_owned()), "{unknown:?}");
            assert!(!unknown.iter().any(|v| v.contains("OUTBOX") || v.contains("CONTEXT_BYTES")));
            assert!(!unknown.iter().any(|v| v.contains("NEW_AGENT_PASSWORD")));
            // A known variable with a bad value is still an error, and names the variable's key.
            jail.set_env("BECKON_WS__OUTBOX_FRAMES", "many");
            let e = describe(&Settings::load(None, Flags { bind: None }).unwrap_err());
            assert!(e.starts_with("BECKON_WS__OUTBOX_FRAMES: ") && e.contains("many"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors_and_defaults_round_trip() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "bnid = \"127.0.0.1:1\"\n")?;
            assert!(Settings::load(Some(Path::new("bad.toml")), Flags { bind: None }).is_err());
            jail.create_file("defaults.toml", &Settings::defaults_toml())?;
            let s = Settings::load(Some(Path::new("defaults.toml")), Flags { bind: None }).unwrap();
            assert_eq!(s, Settings::default());
            Ok(())
        });
    }
}
