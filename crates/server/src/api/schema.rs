use axum::extract::State;
use ferry_protocol::SchemaResponse;

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::ApiResult;

/// The collections the user may read, with the access they have.
#[utoipa::path(get, path = "/v1/schema", tag = "sync", security(("bearer" = [])),
    responses(
        (status = 200, body = SchemaResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn schema(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<SchemaResponse> {
    let grants = state.store.grants(auth.session.user_id).await?;
    let collections = state
        .store
        .collections()
        .await?
        .into_iter()
        .filter_map(|def| {
            let access = *grants.get(&def.name)?;
            Some(def.into_collection(access))
        })
        .collect();
    Ok(Json(SchemaResponse { collections }))
}
