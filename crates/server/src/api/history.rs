use axum::extract::{Path, Query, State};
use ferry_protocol::{
    HISTORY_DEFAULT_LIMIT, HISTORY_MAX_BYTES, HISTORY_MAX_LIMIT, HistoryResponse,
};
use serde::Deserialize;
use uuid::Uuid;

use super::Json;
use crate::AppState;
use crate::auth::{Admin, Authenticated};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The last version of the page before; omitted: from the first version.
    after_version: Option<i64>,
    /// Most versions in the page, 1 to 1000 (larger values are capped);
    /// default 100. A page also stops before 4 MiB of records, but always
    /// holds at least one version.
    limit: Option<usize>,
}

/// A page of a record's versions, oldest first; `has_more` says whether
/// later ones exist (ask again with `after_version`).
#[utoipa::path(get, path = "/v1/records/{collection}/{id}/history", tag = "sync", security(("bearer" = [])),
    params(("collection" = String, Path, description = "Collection name"), ("id" = Uuid, Path, description = "Record id"), HistoryQuery),
    responses(
        (status = 200, body = HistoryResponse),
        (status = 400, description = "Malformed id, after_version or limit", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
        (status = 403, description = "No read access to the collection", body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such collection or record", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn history(
    State(state): State<AppState>,
    auth: Authenticated,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<HistoryResponse> {
    let (collection, id, after, limit) = checked(&state, path, query).await?;
    let view = state.view(&auth.session).await?;
    let Some(cv) = view.get(&collection) else {
        return Err(ApiError::Forbidden(format!(
            "you may not read collection {collection:?}"
        )));
    };
    // Some rows only: a record outside them is answered as one that does not exist.
    if cv.read != crate::rules::Scope::All {
        let defs = state.store.collections().await?;
        let def = defs.iter().find(|d| d.name == collection);
        let latest = state.store.history(&collection, id).await?;
        let visible = latest
            .last()
            .is_some_and(|r| cv.read.admits(&crate::rules::parts_of(def, &r.fields)));
        if !visible {
            return Err(ApiError::NotFound(format!(
                "there is no record {id} in {collection:?}"
            )));
        }
    }
    read_page(&state, &collection, id, after, limit).await
}

/// The path and query of a history request, checked: the collection
/// exists, the id is a UUID, the numbers make sense.
async fn checked(
    state: &AppState,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<(String, Uuid, i64, usize), ApiError> {
    let Path((collection, id)) = path?;
    let Query(q) = query?;
    let after = q.after_version.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::Malformed(
            "after_version must be 0 or more".into(),
        ));
    }
    let limit = q.limit.unwrap_or(HISTORY_DEFAULT_LIMIT);
    if limit == 0 {
        return Err(ApiError::Malformed("limit must be at least 1".into()));
    }
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::Malformed(format!("{id:?} is not a record id (a UUID)")))?;
    let known = state
        .store
        .collections()
        .await?
        .iter()
        .any(|c| c.name == collection);
    if !known {
        return Err(ApiError::NotFound(format!(
            "there is no collection {collection:?}"
        )));
    }
    Ok((collection, id, after, limit))
}

/// A page of a record's versions; 404 for a record that never existed.
async fn read_page(
    state: &AppState,
    collection: &str,
    id: Uuid,
    after: i64,
    limit: usize,
) -> ApiResult<HistoryResponse> {
    let page = state
        .store
        .history_page(
            collection,
            id,
            after,
            limit.min(HISTORY_MAX_LIMIT),
            HISTORY_MAX_BYTES,
        )
        .await?;
    // Past the last version a page is empty; a record that never existed is not found.
    if page.versions.is_empty()
        && (after == 0
            || state
                .store
                .history_page(collection, id, 0, 1, 0)
                .await?
                .versions
                .is_empty())
    {
        return Err(ApiError::NotFound(format!(
            "there is no record {id} in {collection:?}"
        )));
    }
    Ok(Json(HistoryResponse {
        versions: page.versions,
        has_more: page.has_more,
    }))
}

/// A page of any record's versions, for administrators (the console's
/// record history); as `GET /v1/records/{collection}/{id}/history` without
/// the reader's grants.
#[utoipa::path(get, path = "/v1/admin/records/{collection}/{id}/history", tag = "admin", security(("bearer" = [])),
    params(("collection" = String, Path, description = "Collection name"), ("id" = Uuid, Path, description = "Record id"), HistoryQuery),
    responses(
        (status = 200, body = HistoryResponse),
        (status = 400, description = "Malformed id, after_version or limit", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = "Signed in, but not as an administrator", body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such collection or record", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn admin_history(
    State(state): State<AppState>,
    _admin: Admin,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<HistoryResponse> {
    let (collection, id, after, limit) = checked(&state, path, query).await?;
    read_page(&state, &collection, id, after, limit).await
}
