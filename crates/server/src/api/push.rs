use axum::extract::State;
use ferry_protocol::{PUSH_MAX_MUTATIONS, PushRequest, PushResponse, PushWritten};

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::events::Commit;
use crate::store::PushContext;

/// Applies mutations, each on its own; one result per mutation, in order.
#[utoipa::path(post, path = "/v1/push", tag = "sync", request_body = PushRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = PushResponse),
        (status = 400, description = "Malformed request", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
        (status = 413, description = "More than 1000 mutations, or too large a body", body = ferry_protocol::ErrorResponse),
        (status = 415, description = "The body is not sent as JSON", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn push(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<PushRequest>,
) -> ApiResult<PushResponse> {
    if req.mutations.len() > PUSH_MAX_MUTATIONS {
        return Err(ApiError::TooLarge(format!(
            "a push carries at most {PUSH_MAX_MUTATIONS} mutations; send the rest in another push"
        )));
    }
    let grants = state.store.grants(auth.session.user_id).await?;
    let ctx = PushContext {
        session: auth.session,
        grants,
        clock: state.clock.clone(),
    };
    let count = req.mutations.len();
    let outcome = state.store.push(ctx, req.mutations).await?;
    if let Some(cursor) = outcome.last_write {
        tracing::debug!(count, %cursor, "push committed");
    }
    if let Some(cursor) = outcome.last_write
        && !state.store_relays_commits
    {
        state.events.publish(Commit {
            cursor: cursor.to_string(),
            collections: outcome.touched,
        });
    }
    let written = outcome.last_write.map(|cursor| PushWritten {
        after: outcome.written_after.to_string(),
        cursor: cursor.to_string(),
    });
    Ok(Json(PushResponse {
        results: outcome.results,
        written,
    }))
}
