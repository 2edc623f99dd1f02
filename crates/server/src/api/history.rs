use axum::extract::{Path, State};
use ferry_protocol::HistoryResponse;
use uuid::Uuid;

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};

/// Every version of a record, oldest first.
#[utoipa::path(get, path = "/v1/records/{collection}/{id}/history", tag = "sync", security(("bearer" = [])),
    params(("collection" = String, Path, description = "Collection name"), ("id" = Uuid, Path, description = "Record id")),
    responses(
        (status = 200, body = HistoryResponse),
        (status = 400, description = "Malformed id", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
        (status = 403, description = "No read access to the collection", body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such collection or record", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn history(
    State(state): State<AppState>,
    auth: Authenticated,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> ApiResult<HistoryResponse> {
    let Path((collection, id)) = path?;
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
    let grants = state.store.grants(auth.session.user_id).await?;
    if !grants.contains_key(&collection) {
        return Err(ApiError::Forbidden(format!(
            "you may not read collection {collection:?}"
        )));
    }
    let versions = state.store.history(&collection, id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "there is no record {id} in {collection:?}"
        )));
    }
    Ok(Json(HistoryResponse { versions }))
}
