//! Files on records: who may name a blob in a push, and who may read one
//! through the record that names it (DESIGN.md, "Files").

use ferry_protocol::{ErrorBody, FieldType, FileRef, Mutation, MutationResult, Status};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::rules::{View, parts_of};
use crate::schema_file::CollectionDef;

/// The blobs a record's file fields name.
pub fn named(def: &CollectionDef, fields: &ferry_protocol::Fields) -> Vec<FileRef> {
    def.fields
        .iter()
        .filter(|f| f.field_type == FieldType::File)
        .flat_map(|f| FileRef::list(fields.get(&f.name)))
        .collect()
}

/// Whether `sha256` is named by the current version of record `id` of
/// `collection`, which the user's `view` may read.
pub async fn readable_through(
    state: &AppState,
    view: &View,
    defs: &[CollectionDef],
    collection: &str,
    id: Uuid,
    sha256: &str,
) -> Result<bool, ApiError> {
    let Some(def) = defs.iter().find(|d| d.name == collection) else {
        return Ok(false);
    };
    let Some(record) = state.store.current(collection, id).await? else {
        return Ok(false);
    };
    Ok(!record.deleted
        && view.reads(collection, &parts_of(Some(def), &record.fields))
        && named(def, &record.fields)
            .iter()
            .any(|f| f.sha256 == sha256))
}

/// Refusals of mutations naming a file the pusher may not name: one they
/// did not upload that the record does not already hold (the server lacks
/// it, or it is someone else's). `None` for the mutations that may go on.
pub async fn refusals(
    state: &AppState,
    user_id: Uuid,
    defs: &[CollectionDef],
    mutations: &[Mutation],
) -> Result<Vec<Option<MutationResult>>, ApiError> {
    let mut out = Vec::with_capacity(mutations.len());
    for m in mutations {
        let def = defs.iter().find(|d| d.name == m.collection);
        let files = def.map(|d| named(d, &m.fields)).unwrap_or_default();
        let mut missing = None;
        let mut held: Option<Vec<FileRef>> = None;
        for file in &files {
            if state.store.blob_readable(&file.sha256, user_id).await? {
                continue;
            }
            if held.is_none() {
                let current = state.store.current(&m.collection, m.record_id).await?;
                held = Some(match (def, current) {
                    (Some(d), Some(r)) => named(d, &r.fields),
                    _ => Vec::new(),
                });
            }
            if held
                .as_ref()
                .is_some_and(|h| h.iter().any(|f| f.sha256 == file.sha256))
            {
                continue;
            }
            missing = Some(file);
            break;
        }
        out.push(missing.map(|file| MutationResult {
            mutation_id: m.mutation_id,
            status: Status::Rejected,
            record: None,
            conflict: None,
            error: Some(ErrorBody {
                code: "missing_file".into(),
                message: format!(
                    "file \"{}\" ({}) is not on the server: upload it (PUT /v1/blobs/{}) before the change that attaches it",
                    file.name, file.sha256, file.sha256
                ),
                request_id: None,
            }),
        }));
    }
    Ok(out)
}
