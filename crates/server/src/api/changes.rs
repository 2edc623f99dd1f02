use axum::extract::{Query, State};
use ferry_protocol::{CHANGES_DEFAULT_LIMIT, CHANGES_MAX_LIMIT, ChangesResponse};
use serde::Deserialize;

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::store::{Cursor, RawFields, Reader, Walk};

/// Removals gathered into one answer at most, when pages hold nothing else.
const MAX_REMOVALS: usize = 50_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// A cursor from an earlier page, sent back as it came (opaque: in the
    /// middle of a walk through the pages it also says where the walk
    /// began, e.g. `5120~0~1000400`); omitted: from the start.
    since: Option<String>,
    /// Page size, 1 to 5000 (larger values are capped); default 500.
    limit: Option<usize>,
}

/// Records changed after the cursor, in change order, each at most once per
/// page; tombstones included; only records the user may read. Where row
/// rules limit what the user sees, `removed` names records that left their
/// view (moved to a partition value outside it, or their grants changed),
/// and records that came into it after a grant change follow on the next
/// pages.
#[utoipa::path(get, path = "/v1/changes", tag = "sync", params(ChangesQuery, ("X-Ferry-Epoch" = Option<String>, Header, description = "The epoch of the server as the client last saw it (an addition): a different one answers 410 `epoch_changed`")), security(("bearer" = [])),
    responses(
        (status = 200, body = ChangesResponse),
        (status = 400, description = "Malformed cursor or limit", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
        (status = 410, description = "`cursor_expired`: the cursor is older than the history the server keeps (DESIGN.md, \"Retention\"), pull again without `since`; or `epoch_changed`: the `X-Ferry-Epoch` sent is not the server's (DESIGN.md, \"Backups and restore\")", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn changes(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: axum::http::HeaderMap,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<ChangesResponse<RawFields>> {
    state.check_epoch(&headers)?;
    let Query(q) = query?;
    let (since, walk) = match q.since.as_deref() {
        None | Some("") => (Cursor::default(), None),
        Some(s) => Cursor::parse_with_walk(s)
            .ok_or_else(|| ApiError::Malformed(format!("invalid cursor {s:?}")))?,
    };
    let limit = q.limit.unwrap_or(CHANGES_DEFAULT_LIMIT);
    if limit == 0 {
        return Err(ApiError::Malformed("limit must be at least 1".into()));
    }
    // Read before the rules: where a walk beginning here may begin (Walk::after).
    let before_view = match walk {
        None => state.store.high_water().await?,
        Some(_) => 0,
    };
    let mut reader = Reader {
        user_id: auth.session.user_id,
        view: state.view(&auth.session).await?,
        walk,
    };
    let limit = limit.min(CHANGES_MAX_LIMIT);
    let mut page = state.store.changes(since, limit, reader.clone()).await?;
    reader.walk = Walk::after(walk, since, before_view, &page);
    // A client older than removals takes a page without changes that claims
    // more for a broken server: read on, carrying the removals, until a page
    // has a change or is the last.
    let mut removed = std::mem::take(&mut page.removed);
    while page.changes.is_empty() && page.has_more && removed.len() < MAX_REMOVALS {
        page = state
            .store
            .changes(page.cursor, limit, reader.clone())
            .await?;
        removed.append(&mut page.removed);
    }
    let mut seen: std::collections::HashSet<(String, uuid::Uuid)> = page
        .changes
        .iter()
        .map(|r| (r.collection.clone(), r.id))
        .collect();
    removed.retain(|r| seen.insert((r.collection.clone(), r.id)));
    page.removed = removed;
    // The walk began at the first page read, whatever pages followed here.
    let cursor = page.cursor.with_walk(reader.walk.filter(|_| page.has_more));
    let mut response: ChangesResponse<RawFields> = page.into();
    response.cursor = cursor;
    Ok(Json(response))
}
