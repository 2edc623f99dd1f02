//! The HTTP API: one module per resource, assembled into one router whose
//! OpenAPI document is generated from the same handler annotations.

mod admin;
mod app_update;
mod auth;
mod blobs;
mod changes;
mod devices;
mod events;
mod files;
mod health;
mod history;
mod push;
mod schema;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferry sync API",
        description = "Wire protocol v1 of Ferry, the offline-first shared-records app. \
                       Every error is {\"error\":{\"code\",\"message\"}}, with the \
                       request's id in `request_id` (also in the X-Request-Id header of every answer).",
        license(name = "MIT")
    ),
    modifiers(&BearerAuth),
    components(schemas(ferry_protocol::ErrorResponse, ferry_protocol::FileRef))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "The token from /v1/auth/login. With it a client may send \
                             `Ferry-Unsent-Edits: N`, how many edits wait unsent on the device, \
                             for the audit line of a wipe (DESIGN.md, \"Devices\").",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// The API; `login_body_bytes` bounds the login body, which needs little.
fn api(login_body_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(auth::login))
                .layer(DefaultBodyLimit::max(login_body_bytes)),
        )
        .routes(routes!(auth::logout))
        .routes(routes!(devices::devices))
        .routes(routes!(devices::sign_out_device))
        .routes(routes!(schema::schema))
        .routes(routes!(changes::changes))
        .routes(routes!(push::push))
        .routes(routes!(events::events))
        .routes(routes!(history::history))
        .routes(routes!(app_update::app_update))
        .routes(routes!(blobs::head_blob, blobs::get_blob, blobs::put_blob))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(admin::sign_in))
                .layer(DefaultBodyLimit::max(login_body_bytes)),
        )
        .routes(routes!(admin::session, admin::sign_out))
        .routes(routes!(admin::users, admin::add_user))
        .routes(routes!(admin::change_user))
        .routes(routes!(admin::devices))
        .routes(routes!(admin::revoke_device))
        .routes(routes!(admin::teams, admin::add_team))
        .routes(routes!(admin::remove_team))
        .routes(routes!(admin::add_member, admin::remove_member))
        .routes(routes!(admin::grants, admin::change_grant))
        .routes(routes!(admin::preview))
        .routes(routes!(admin::collections, admin::add_collection))
        .routes(routes!(admin::edit_collection))
        .routes(routes!(admin::field_usage))
        .routes(routes!(admin::migrate))
        .routes(routes!(admin::migrations))
        .routes(routes!(admin::changes))
        .routes(routes!(history::admin_history))
        .routes(routes!(admin::audit_log))
        .routes(routes!(admin::health))
}

pub use auth::client_ip;
pub use blobs::UPLOAD_OFFSET;

/// The OpenAPI 3 document of the API, as served at `/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api(crate::Limits::default().login_body_bytes)
        .split_for_parts()
        .1
}

/// The whole application, ready to serve.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = api(state.limits.login_body_bytes).split_for_parts();
    let doc_json = doc.to_pretty_json().unwrap_or_default();
    let max_body = state.limits.max_body_bytes;
    routes
        .route(
            "/v1/openapi.json",
            get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    doc_json,
                )
            }),
        )
        .merge(crate::console::router())
        .fallback(|| async { ApiError::NotFound("no such endpoint; see /v1/openapi.json".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this endpoint does not take that method".into())
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            axum::response::IntoResponse::into_response(ApiError::Internal)
        }))
        // API answers are per user and never content to sniff or to keep in a shared cache.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static(crate::EPOCH_HEADER),
            HeaderValue::from_str(&state.epoch.id).unwrap_or(HeaderValue::from_static("")),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::count_requests,
        ))
        // Outermost: every answer, the fallback's and a panic's too, carries the id.
        .layer(axum::middleware::from_fn(
            crate::request_id::with_request_id,
        ))
        .with_state(state)
}

/// Rejects over-long strings in requests before they reach the store.
fn check_len(what: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(ApiError::Malformed(format!(
            "{what} is longer than {max} bytes"
        )));
    }
    Ok(())
}

use crate::error::AppJson as Json;
