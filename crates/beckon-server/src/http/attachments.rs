//! Files in chats over HTTP: visitors and agents upload one as the raw request body, and fetch
//! the ones of their own conversations.
//!
//! Sockets carry the chat, but a file is no frame: it is uploaded here, and reaches everyone in
//! the conversation as the message it becomes (docs/protocol.md). Who may fetch a file is
//! decided at every request from the conversation it was sent in: the visitor whose chat it is
//! (by their visitor token, from the widget's page — another origin, hence CORS), and the agents
//! who may read that conversation (by their session). A file is served with the type its bytes
//! were found to be, as a download unless it is an image, in a sandbox, never sniffed — so
//! nothing uploaded can run in the browser that opens it.

use crate::auth::token_hash;
use crate::chat::{ChatError, FileRefusal};
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::http::agent::{CurrentAgent, readable};
use crate::http::chat_error;
use crate::limits::retry_after_secs;
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use beckon_domain::attachment::{Attachment, human_size, valid_id};
use beckon_domain::message::{Message, Sender};
use beckon_domain::model::Visitor;
use beckon_domain::{ClientMsgId, ConversationId};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agent/conversations/{id}/attachments", post(agent_upload))
        .route("/v1/agent/attachments/{id}", get(agent_download))
        .route("/v1/visitor/attachments", post(visitor_upload).options(preflight))
        .route("/v1/visitor/attachments/{id}", get(visitor_download).options(preflight))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Upload {
    /// The file's name on the sender's device (cleaned and shortened; the extension of what the
    /// file really is is added when missing).
    name: String,
    /// Makes a retry harmless: the same id answers the message already sent.
    client_msg_id: String,
}

/// The message a file became.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Sent {
    message: Message,
    /// The upload was a retry of one already sent.
    duplicate: bool,
}

/// The body, read up to one byte more than the limit (so an oversized one is recognised without
/// holding it all), or the refusal.
async fn read_body(app: &AppState, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let max = app.settings.limits.attachment_max_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
            format!("files of at most {} are accepted", human_size(max as u64)),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, max + 1).await {
        Ok(b) if b.len() > max => Err(too_large()),
        Ok(b) => Ok(b.to_vec()),
        Err(_) => Err(too_large()),
    }
}

fn refused(r: FileRefusal) -> ApiError {
    match r {
        FileRefusal::Empty => ApiError::bad_request("empty_file", "the file is empty"),
        FileRefusal::TooLarge { max } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
            format!("files of at most {} are accepted", human_size(max as u64)),
        ),
        FileRefusal::Unsupported => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_file_type",
            "this kind of file cannot be sent; images, PDF, office documents and plain text can",
        ),
        FileRefusal::TooMany { max } => ApiError::new(
            StatusCode::CONFLICT,
            "too_many_files",
            format!("at most {max} files can be sent in one chat"),
        ),
    }
}

fn client_msg_id(raw: &str) -> Result<ClientMsgId, ApiError> {
    ClientMsgId::parse(raw).map_err(|e| ApiError::bad_request("invalid_field", format!("client_msg_id: {e}")))
}

/// A file to an agent's own conversation (the agent it is assigned to, while it is open).
#[utoipa::path(
    post,
    path = "/v1/agent/conversations/{id}/attachments",
    tag = "agent",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Conversation id"), Upload),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "Sent: the message that carries the file", body = Sent),
        (status = 400, description = "Empty file (`empty_file`), a bad parameter (`invalid_field`, `bad_request`), or the chat has ended (`conversation_closed`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "From another site (`origin_not_allowed`)", body = ErrorBody),
        (status = 404, description = "No such conversation, or not this agent's (`not_found`)", body = ErrorBody),
        (status = 409, description = "The chat holds the most files it takes (`too_many_files`)", body = ErrorBody),
        (status = 413, description = "The file is too large (`file_too_large`)", body = ErrorBody),
        (status = 415, description = "Not a kind of file a chat takes, by its content (`unsupported_file_type`)", body = ErrorBody),
    )
)]
pub(crate) async fn agent_upload(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<Upload>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // A cookie rides along on any request to this server: only the console's own pages may
    // upload with it (a browser always says where a POST comes from).
    if let Some(origin) = headers.get(header::ORIGIN)
        && !crate::ws::same_origin(origin.to_str().unwrap_or(""), &app, &headers)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "uploads come from the console",
        ));
    }
    let cid = client_msg_id(&q.client_msg_id)?;
    let c = app
        .store
        .conversation(ConversationId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    if c.agent_id != Some(agent.id) {
        return Err(ApiError::not_found("conversation"));
    }
    if !c.state.is_open() {
        return Err(chat_error(ChatError::Closed));
    }
    let bytes = read_body(&app, &headers, body).await?;
    let sender = Sender::agent(agent.id, agent.name.clone());
    let sent = app
        .chat
        .send_file(c.id, sender, &q.name, &bytes, cid, &app.settings.limits)
        .await
        .map_err(|e| match e {
            ChatError::NotYours => ApiError::not_found("conversation"),
            e => chat_error(e),
        })?
        .map_err(refused)?;
    Ok((StatusCode::CREATED, axum::Json(Sent { message: sent.message, duplicate: sent.duplicate }))
        .into_response())
}

/// A file of a conversation this agent may read (assigned or offered to them; any of the
/// organisation's, for an admin).
#[utoipa::path(
    get,
    path = "/v1/agent/attachments/{id}",
    tag = "agent",
    security(("session" = [])),
    params(("id" = String, Path, description = "Attachment id (32 hex digits)")),
    responses(
        (status = 200, description = "The file, with the type its content was found to be", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"),
            (Vec<u8> = "application/pdf"), (String = "text/plain"), (Vec<u8> = "application/octet-stream"))),
        (status = 400, description = "The id is malformed (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`)", body = ErrorBody),
        (status = 404, description = "No such file, or not in a conversation this agent may read (`not_found`)", body = ErrorBody),
    )
)]
pub(crate) async fn agent_download(
    State(app): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (conversation, attachment) = record(&app, &id).await?;
    readable(&app, &agent, conversation.0).await.map_err(|_| ApiError::not_found("attachment"))?;
    serve(&app, attachment, None).await
}

async fn record(app: &AppState, id: &str) -> Result<(ConversationId, Attachment), ApiError> {
    if !valid_id(id) {
        return Err(ApiError::not_found("attachment"));
    }
    app.store.attachment(id).await?.ok_or_else(|| ApiError::not_found("attachment"))
}

/// The file's bytes with headers that keep it inert: its own type, never sniffed, an image
/// inline and anything else as a download, sandboxed even when opened directly.
async fn serve(app: &AppState, a: Attachment, cors: Option<HeaderValue>) -> Result<Response, ApiError> {
    let bytes = app.store.attachment_bytes(&a.id).await?.ok_or_else(|| ApiError::not_found("attachment"))?;
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if a.is_image() { "inline" } else { "attachment" },
        percent_encoded(&a.name)
    );
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    let typed = HeaderValue::from_str(&a.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, typed);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400, immutable"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(origin) = cors {
        cors_headers(h, origin);
    }
    Ok(response)
}

/// RFC 5987: every byte but letters, digits and `!#$&+-.^_`|~` as `%XX`.
fn percent_encoded(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// --- visitors -----------------------------------------------------------------------------------

/// The visitor a request's `Authorization: Bearer <visitor token>` names, and their widget, if the
/// page it comes from may use that widget; with the `Origin` to allow in the answer.
async fn visitor(app: &AppState, headers: &HeaderMap) -> Result<(Visitor, Option<HeaderValue>), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or_else(ApiError::unauthenticated)?;
    let visitor =
        app.store.visitor_by_token(&token_hash(token)).await?.ok_or_else(ApiError::unauthenticated)?;
    let widget = app.store.widget(visitor.widget_id).await?.ok_or_else(ApiError::unauthenticated)?;
    let origin = headers.get(header::ORIGIN).cloned();
    if !widget.allows_origin(origin.as_ref().and_then(|o| o.to_str().ok())) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this site is not allowed to use this widget",
        ));
    }
    Ok((visitor, origin))
}

fn cors_headers(h: &mut HeaderMap, origin: HeaderValue) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// A CORS error answer: the page's script must be able to read why.
fn with_cors(mut e: Response, origin: Option<&HeaderValue>) -> Response {
    if let Some(o) = origin {
        cors_headers(e.headers_mut(), o.clone());
    }
    e
}

/// The browser's question before a cross-origin upload or fetch with a token: which origin,
/// method and headers may come. Any origin may ask; the request itself is checked against the
/// widget's allowed origins.
async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    if let Some(origin) = headers.get(header::ORIGIN) {
        cors_headers(h, origin.clone());
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

/// A file from a visitor to their open chat (from the widget: `Authorization: Bearer` with the
/// visitor token of `welcome`). Limited per visitor and per address, besides the size and the
/// number of files per chat.
#[utoipa::path(
    post,
    path = "/v1/visitor/attachments",
    tag = "visitor",
    security(("visitor_token" = [])),
    params(Upload),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "Sent: the message that carries the file (it also reaches the visitor's sockets)", body = Sent),
        (status = 400, description = "Empty file (`empty_file`), or a bad parameter (`invalid_field`, `bad_request`)", body = ErrorBody),
        (status = 401, description = "No visitor token, or one this server does not know (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "The page's origin may not use the visitor's widget (`origin_not_allowed`)", body = ErrorBody),
        (status = 409, description = "No open chat (`no_open_conversation`), or it holds the most files it takes (`too_many_files`)", body = ErrorBody),
        (status = 413, description = "The file is too large (`file_too_large`)", body = ErrorBody),
        (status = 415, description = "Not a kind of file a chat takes, by its content (`unsupported_file_type`)", body = ErrorBody),
        (status = 429, description = "Too many files from this visitor or address for now (`rate_limited`)",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn visitor_upload(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiQuery(q): ApiQuery<Upload>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = headers.get(header::ORIGIN).cloned();
    let answer = async {
        let (visitor, _) = self::visitor(&app, &headers).await?;
        let ip = crate::geoip::client_ip(peer.ip(), &headers, &app.settings.trusted_proxies);
        let limits = &app.limits;
        if let Err(wait) = limits.attachments_by_visitor.check(&visitor.id) {
            return Err(rate_limited(wait));
        }
        if let Err(wait) = limits.attachments_by_address.check(&ip.into()) {
            return Err(rate_limited(wait));
        }
        let cid = client_msg_id(&q.client_msg_id)?;
        let Some(c) = app.store.open_conversation_of_visitor(visitor.id).await? else {
            return Err(ApiError::new(StatusCode::CONFLICT, "no_open_conversation", "there is no open chat"));
        };
        let bytes = read_body(&app, &headers, body).await?;
        let sent = app
            .chat
            .send_file(c.id, Sender::visitor(), &q.name, &bytes, cid, &app.settings.limits)
            .await
            .map_err(|e| match e {
                ChatError::Closed | ChatError::NoOpenConversation => {
                    ApiError::new(StatusCode::CONFLICT, "no_open_conversation", "there is no open chat")
                }
                e => chat_error(e),
            })?
            .map_err(refused)?;
        Ok::<_, ApiError>(
            (StatusCode::CREATED, axum::Json(Sent { message: sent.message, duplicate: sent.duplicate }))
                .into_response(),
        )
    }
    .await;
    with_cors(answer.unwrap_or_else(IntoResponse::into_response), origin.as_ref())
}

fn rate_limited(wait: std::time::Duration) -> ApiError {
    let secs = retry_after_secs(wait);
    ApiError::too_many("rate_limited", format!("Too many files for now; try again in {secs} s."), secs)
}

/// A file of one of the visitor's own chats (the same token as for uploads).
#[utoipa::path(
    get,
    path = "/v1/visitor/attachments/{id}",
    tag = "visitor",
    security(("visitor_token" = [])),
    params(("id" = String, Path, description = "Attachment id (32 hex digits)")),
    responses(
        (status = 200, description = "The file, with the type its content was found to be", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"),
            (Vec<u8> = "application/pdf"), (String = "text/plain"), (Vec<u8> = "application/octet-stream"))),
        (status = 400, description = "The id is malformed (`bad_request`)", body = ErrorBody),
        (status = 401, description = "No visitor token, or one this server does not know (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "The page's origin may not use the visitor's widget (`origin_not_allowed`)", body = ErrorBody),
        (status = 404, description = "No such file, or not in one of this visitor's chats (`not_found`)", body = ErrorBody),
    )
)]
pub(crate) async fn visitor_download(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    let origin = headers.get(header::ORIGIN).cloned();
    let answer = async {
        let (visitor, allowed) = self::visitor(&app, &headers).await?;
        let (conversation, attachment) = record(&app, &id).await?;
        let c =
            app.store.conversation(conversation).await?.ok_or_else(|| ApiError::not_found("attachment"))?;
        if c.visitor_id != visitor.id {
            return Err(ApiError::not_found("attachment"));
        }
        serve(&app, attachment, allowed).await
    }
    .await;
    with_cors(answer.unwrap_or_else(IntoResponse::into_response), origin.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_headers_are_encoded() {
        assert_eq!(percent_encoded("reçu 1.pdf"), "re%C3%A7u%201.pdf");
        assert_eq!(percent_encoded("a\"b;c.txt"), "a%22b%3Bc.txt");
    }
}
