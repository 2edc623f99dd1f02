use axum::extract::State;
use ferry_protocol::Health;

use super::Json;
use crate::AppState;
use crate::error::ApiResult;

/// Liveness and readiness: 503 when the database cannot be reached.
#[utoipa::path(get, path = "/v1/health", tag = "health",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The database is unreachable", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn health(State(state): State<AppState>) -> ApiResult<Health> {
    state.store.ping().await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}
