//! The HTTP API's OpenAPI 3.1 description, served at `GET /v1/openapi.json`.
//!
//! It is derived from the code: each handler carries a `#[utoipa::path]` naming its route, its
//! parameters, its request body and every answer it can give (errors included, in the one
//! `{error: {code, message}}` shape), and the types it reads and writes derive `ToSchema`. A test
//! (`tests/openapi.rs`) checks that every route the routers declare is described, and
//! `scripts/api-fuzz` runs schemathesis against the served document (docs/api.md).
//!
//! Not described: the WebSocket upgrades (`/v1/visitor/ws`, `/v1/agent/ws`; docs/protocol.md)
//! and the static front ends (`/widget.js`, `/console`, `/demo/…`), which are not JSON.

use crate::error::ErrorBody;
use crate::http::{admin, agent, attachments, canned, health, satisfaction, transcript, triggers};
use crate::state::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The routes that are on purpose not in the description (not JSON APIs).
pub const UNDESCRIBED_API_ROUTES: &[&str] = &["/v1/visitor/ws", "/v1/agent/ws"];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Beckon HTTP API",
        description = "Agent sign-in, the agent's API, administration, and files in visitors' chats. Every answer is JSON \
            (except the invite funnel as CSV) and is never cached (`Cache-Control: no-store`); an \
            error is `{\"error\": {\"code\": …, \"message\": …}}`. Agents authenticate with the \
            `beckon_session` cookie that `POST /v1/agent/login` sets. The WebSocket protocols \
            are in docs/protocol.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::health,
        openapi_json,
        agent::login,
        agent::logout,
        agent::me,
        agent::change_password,
        agent::messages,
        transcript::transcript,
        attachments::agent_upload,
        attachments::agent_download,
        attachments::visitor_upload,
        attachments::visitor_download,
        agent::visitor,
        agent::live_visitors,
        agent::directory,
        agent::search,
        canned::list,
        canned::create,
        canned::update,
        canned::remove,
        triggers::why,
        admin::invite_funnel,
        satisfaction::report,
        admin::list_queues,
        admin::create_queue,
        admin::put_queue_hours,
        admin::put_queue_fallback,
        admin::put_queue_leave_message_after,
        admin::get_rules,
        admin::put_rules,
        admin::put_agent_queues,
        admin::list_agents,
        admin::create_agent,
        admin::patch_agent,
        admin::list_widgets,
        admin::patch_widget,
        triggers::get_rules,
        triggers::put_rules,
        triggers::preview,
    ),
    components(schemas(ErrorBody)),
    modifiers(&SessionCookie, &StoreOutage),
    tags(
        (name = "health", description = "Is the server up"),
        (name = "agent", description = "Sign-in and what every agent may do"),
        (name = "admin", description = "Administration (admin role)"),
        (name = "triggers", description = "No-code trigger rules (docs/triggers.md)"),
        (name = "visitor", description = "Files in a visitor's chat, with the visitor token of the widget's `welcome` (`Authorization: Bearer …`)"),
        (name = "meta", description = "This description"),
    )
)]
struct ApiDoc;

/// The `session` security scheme: the cookie sign-in sets.
struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::http::agent::SESSION_COOKIE,
                "Set by `POST /v1/agent/login` (HttpOnly, SameSite=Lax); ended by `POST /v1/agent/logout`",
            ))),
        );
        components.add_security_scheme(
            "visitor_token",
            SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::new()
                    .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                    .description(Some(
                        "The visitor token the visitor WebSocket's `welcome` gives the widget (docs/protocol.md)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every operation that reads or writes the database may answer 503 `store_unavailable` with
/// `Retry-After` while the database does not answer (a restart, a failover): nothing was done,
/// and the same request can be sent again. Added here once rather than on each handler.
struct StoreOutage;

impl Modify for StoreOutage {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder, Type, schema::ObjectBuilder};
        let response = ResponseBuilder::new()
            .description(
                "The database does not answer (`store_unavailable`); nothing was done — send the \
                 same request again after `Retry-After` seconds",
            )
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                    .description(Some("Seconds to wait"))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/v1/openapi.json" {
                continue;
            }
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
                .into_iter()
                .flatten()
            {
                operation.responses.responses.entry("503".into()).or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// The description as a value (built once).
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi_json))
}

/// This description.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json", body = Object))
)]
pub(crate) async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_pretty_json().expect("the description serialises"));
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}
