use axum::extract::State;
use ferry_protocol::SchemaResponse;

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::ApiResult;

/// The collections the user may read, with the access they have; for a
/// partitioned collection whose rows are limited for them, `rows` names the
/// values they may read and write.
#[utoipa::path(get, path = "/v1/schema", tag = "sync", security(("bearer" = [])),
    responses(
        (status = 200, body = SchemaResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn schema(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<SchemaResponse> {
    let defs = state.store.collections().await?;
    let view = crate::rules::View::new(
        &auth.session.username,
        &state.store.rules_for(auth.session.user_id).await?,
        &defs,
    );
    let collections = defs
        .into_iter()
        .filter_map(|def| {
            let cv = view.get(&def.name)?;
            let rows = cv.rows();
            let mut c = def.into_collection(cv.access());
            c.rows = rows;
            Some(c)
        })
        .collect();
    Ok(Json(SchemaResponse { collections }))
}
