//! The administrator's console at `/admin`: the web app built from
//! `ui/admin` (`npm run build` in `ui/`), inside the server binary, so an
//! installed server needs nothing more. It signs in through
//! `/v1/admin/session` and calls the `/v1/admin` API.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;

#[derive(rust_embed::Embed)]
#[folder = "../../ui/dist-admin"]
#[allow_missing = true]
struct Assets;

/// The console's Content-Security-Policy: its own scripts, styles and API
/// only; never framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(|| async { page("index.html") }))
        .route(
            "/admin/{*path}",
            get(|Path(path): Path<String>| async move { page(&path) }),
        )
}

/// A file of the console; a path without one (a page of the app) is its
/// `index.html`.
fn page(path: &str) -> Response {
    let (name, file) = match Assets::get(path) {
        Some(file) => (path, file),
        None if !path.rsplit('/').next().unwrap_or_default().contains('.') => {
            match Assets::get("index.html") {
                Some(file) => ("index.html", file),
                None => return not_built(),
            }
        }
        None => return (StatusCode::NOT_FOUND, "no such file of the console").into_response(),
    };
    let mime = file.metadata.mimetype().to_string();
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Built files carry their content's hash in their name; the page itself does not.
    if name.starts_with("assets/") {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "This ferry-server was built without its admin console: run `npm run build` in ui/ and build \
         the server again. The /v1/admin API works without it.",
    )
        .into_response()
}
