//! Every request has an id: the client's `X-Request-Id` when it is sane
//! (1 to 64 printable ASCII characters), else a new one. The answer carries
//! it back in `X-Request-Id` and, for an error, in the body's `request_id`;
//! every log line of the request carries it in the `request` span, so an
//! id a user quotes leads the operator to the request's log lines.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id kept; a longer one is replaced.
const MAX_LEN: usize = 64;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered, if there is one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The client's id if it is short printable ASCII (no spaces: it goes into logs).
fn sane(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    ((1..=MAX_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_string())
}

fn generate() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Middleware of the API router: takes or makes the id, runs the request
/// in its span, and echoes the id on the response.
pub async fn with_request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(sane)
        .unwrap_or_else(generate);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(crate::metrics::UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route,
    );
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_short_printable_ids() {
        let keep = |s: &str| sane(&HeaderValue::from_str(s).expect("a header value"));
        assert_eq!(keep("abc-123_X").as_deref(), Some("abc-123_X"));
        assert_eq!(keep(""), None);
        assert_eq!(keep("has space"), None);
        assert_eq!(keep(&"x".repeat(65)), None);
        assert_eq!(keep(&"x".repeat(64)).map(|s| s.len()), Some(64));
        let bytes = HeaderValue::from_bytes(b"caf\xc3\xa9").expect("opaque bytes");
        assert_eq!(sane(&bytes), None);
        assert_eq!(generate().len(), 32);
    }
}
