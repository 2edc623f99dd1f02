use axum::extract::State;
use std::collections::HashMap;

use ferry_protocol::{
    PUSH_MAX_MUTATIONS, PUSH_MAX_PER_RECORD, PushRequest, PushResponse, PushWritten,
};

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::events::Commit;
use crate::store::PushContext;

/// Applies mutations, each on its own; one result per mutation, in order.
///
/// A `rejected` result's `error.code` is `invalid_collection` (not a
/// collection name; the name is not repeated), `unknown_collection`,
/// `forbidden`, `invalid_base_version` (a negative one), `invalid_field`,
/// `unknown_record` (a deletion, without a base version, of a record the
/// server does not hold) or
/// `missing_file` (it attaches a file not uploaded first). The first three
/// and `missing_file` are not remembered: a replay is decided again. Every
/// other result is remembered for the mutation horizon (400 days by default).
/// An edit of a record the server no longer holds (its deletion was
/// forgotten, see DESIGN.md "Retention") is a `conflict` of kind
/// `edit_delete` with the record as a deletion at version 0; a base version
/// past the record's (after a restore, or a forgotten record made again)
/// merges from the base values it carries.
/// An `hlc` more than the maximum clock drift (5 minutes by default) ahead
/// of the server's clock is taken as that far ahead, never refused.
#[utoipa::path(post, path = "/v1/push", tag = "sync", request_body = PushRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = PushResponse),
        (status = 400, description = "Malformed request", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
        (status = 413, description = "More than 1000 mutations (`too_large`), more than 16 of one record (`too_many_versions`), or too large a body", body = ferry_protocol::ErrorResponse),
        (status = 410, description = "`epoch_changed`: the `X-Ferry-Epoch` sent is not the server's; it was restored from a backup since (DESIGN.md, \"Backups and restore\"); nothing was applied", body = ferry_protocol::ErrorResponse),
        (status = 415, description = "The body is not sent as JSON", body = ferry_protocol::ErrorResponse),
    ),
    params(("X-Ferry-Epoch" = Option<String>, Header, description = "The epoch of the server as the client last saw it (an addition): a different one answers 410 `epoch_changed`")))]
pub async fn push(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: axum::http::HeaderMap,
    Json(mut req): Json<PushRequest>,
) -> ApiResult<PushResponse> {
    state.check_epoch(&headers)?;
    if req.mutations.len() > PUSH_MAX_MUTATIONS {
        return Err(ApiError::TooLarge(format!(
            "a push carries at most {PUSH_MAX_MUTATIONS} mutations; send the rest in another push"
        )));
    }
    // A stamp too far ahead is capped, not refused: the edit is kept, and
    // neither the server's clock nor `newest_wins` can be pinned by it.
    let cap = state.clock.cap_ms();
    for m in &mut req.mutations {
        if m.hlc.wall_ms() > cap {
            m.hlc = m.hlc.capped(cap);
        }
    }
    state.prune_mutations_now_and_then().await;
    // Each accepted mutation is a stored version and a record in the answer:
    // bound them per record. Refused whole, so no client loses an edit.
    let mut per_record: HashMap<(&str, uuid::Uuid), usize> = HashMap::new();
    for m in &req.mutations {
        let n = per_record
            .entry((m.collection.as_str(), m.record_id))
            .or_default();
        *n += 1;
        if *n > PUSH_MAX_PER_RECORD {
            return Err(ApiError::TooManyVersions(format!(
                "a push carries at most {PUSH_MAX_PER_RECORD} mutations of one record; record {} in {:?} has more: send the rest in another push",
                m.record_id, m.collection
            )));
        }
    }
    let (view, defs) = state.view_and_collections(&auth.session).await?;
    // Edits made before a migration of their collection land as it left it.
    let mut outdated = Vec::with_capacity(req.mutations.len());
    for m in &mut req.mutations {
        let def = defs.iter().find(|d| d.name == m.collection);
        outdated.push(def.and_then(|d| crate::migration::upgrade(d, m).err()));
    }
    let mut refused =
        super::files::refusals(&state, auth.session.user_id, &defs, &req.mutations).await?;
    for ((r, error), m) in refused.iter_mut().zip(outdated).zip(&req.mutations) {
        if let Some(error) = error
            && r.is_none()
        {
            *r = Some(ferry_protocol::MutationResult {
                mutation_id: m.mutation_id,
                status: ferry_protocol::Status::Rejected,
                record: None,
                conflict: None,
                error: Some(error),
            });
        }
    }
    let refused_any = refused.iter().any(Option::is_some);
    if refused_any {
        req.mutations = req
            .mutations
            .into_iter()
            .zip(&refused)
            .filter_map(|(m, r)| r.is_none().then_some(m))
            .collect();
    }
    let ctx = PushContext {
        session: auth.session,
        view: std::sync::Arc::new(view),
        clock: state.clock.clone(),
    };
    let count = req.mutations.len();
    let mut outcome = state.store.push(ctx, req.mutations).await?;
    if refused_any {
        // Back in the order they came, the refused among the applied.
        let mut applied = std::mem::take(&mut outcome.results).into_iter();
        outcome.results = refused
            .into_iter()
            .filter_map(|r| r.or_else(|| applied.next()))
            .collect();
    }
    for result in &outcome.results {
        state.metrics.mutation(result.status);
    }
    if let Some(cursor) = outcome.last_write {
        tracing::debug!(count, %cursor, "push committed");
    }
    if let Some(cursor) = outcome.last_write
        && !state.store_relays_commits
    {
        state.events.publish(Commit {
            cursor,
            collections: outcome.touched,
            parts: outcome.touched_parts,
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
