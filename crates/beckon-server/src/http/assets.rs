//! The web front ends, compiled into the binary (see `build.rs`): the widget every customer page
//! loads (`/widget.js`, `/widget/*`), the agent console (`/console`, `/console/*`), and the demo
//! site (`/demo/*`, only under `beckon demo`).
//!
//! Responses carry an ETag and are gzip-compressed when the browser accepts it. The widget script
//! may be loaded by any site (what it may then do is decided per widget origin, on the socket);
//! console pages get a strict Content-Security-Policy as a second line of defence against
//! injected markup.

use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::OnceLock;
use tower_http::compression::CompressionLayer;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// The console's policy; `{connect}` is where it may open connections: this server only (its
/// WebSocket spelled out, as some browsers do not count `ws:` as `'self'`).
const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src {connect}; media-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `'self'` plus this host's WebSocket origins, from the request's `Host` (a well-formed one only).
fn console_csp(headers: &HeaderMap) -> HeaderValue {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let plain = !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    let connect = if plain { format!("'self' ws://{host} wss://{host}") } else { "'self'".to_owned() };
    HeaderValue::from_str(&CONSOLE_CSP.replace("{connect}", &connect)).expect("ASCII policy")
}

struct Asset {
    body: &'static [u8],
    etag: String,
    content_type: &'static str,
}

fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        generated::FILES
            .iter()
            .map(|(path, body)| {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(body);
                let etag =
                    format!("\"{}\"", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>());
                (*path, Asset { body, etag, content_type: content_type(path) })
            })
            .collect()
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/widget.js", get(|h: HeaderMap| async move { serve(&h, "widget/widget.js") }))
        .route(
            "/widget/{*file}",
            get(|Path(file): Path<String>, h: HeaderMap| async move { serve(&h, &format!("widget/{file}")) }),
        )
        .route("/console", get(|h: HeaderMap| async move { serve(&h, "console/index.html") }))
        .route("/console/", get(|| async { Redirect::permanent("/console") }))
        .route(
            "/console/{*file}",
            get(
                |Path(file): Path<String>, h: HeaderMap| async move { serve(&h, &format!("console/{file}")) },
            ),
        )
        .route("/demo", get(|| async { Redirect::temporary("/demo/") }))
        .route("/demo/", get(demo_index))
        .route("/demo/{*file}", get(demo_file))
        .layer(CompressionLayer::new())
}

/// The front door: the demo site under `beckon demo`, the agent console otherwise.
async fn home(State(app): State<AppState>) -> Redirect {
    Redirect::temporary(if app.demo_mode { "/demo/" } else { "/console" })
}

async fn demo_index(State(app): State<AppState>, h: HeaderMap) -> Response {
    demo_file(State(app), Path("index.html".into()), h).await
}

async fn demo_file(State(app): State<AppState>, Path(file): Path<String>, h: HeaderMap) -> Response {
    if !app.demo_mode {
        return crate::error::ApiError::not_found("page").into_response();
    }
    serve(&h, &format!("demo/{file}"))
}

fn serve(headers: &HeaderMap, path: &str) -> Response {
    let Some(asset) = assets().get(path) else {
        return crate::error::ApiError::not_found("file").into_response();
    };
    let etag = HeaderValue::from_str(&asset.etag).expect("hex etag");
    let cache = HeaderValue::from_static("public, max-age=300, must-revalidate");
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == asset.etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)])
            .into_response();
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.body,
    )
        .into_response();
    let h = response.headers_mut();
    if path.starts_with("widget/") {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    } else if path.starts_with("console/") {
        h.insert(header::CONTENT_SECURITY_POLICY, console_csp(headers));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    response
}
