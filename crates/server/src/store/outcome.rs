//! What a push answers for one mutation, and how that answer is kept so a
//! replay gets it back. Written once for every backend: the stores only
//! read and write rows.

use ferry_protocol::{Conflict, Fields, Mutation, MutationResult, Record, Status};
use uuid::Uuid;

use super::{StoreError, json_err};
use crate::merge::Decision;

/// A version a decision writes.
pub(super) struct NewVersion {
    pub version: i64,
    pub fields: Fields,
    pub deleted: bool,
    /// For a merged write, the version the edit was made from.
    pub merged_from: Option<i64>,
}

/// The result of `decision` for `m`. `write` stores the new version (the
/// one after `current_version`, or 1) and returns it; `current` gives the
/// record as stored, the answer of a decision that writes nothing.
pub(super) fn result_of(
    m: &Mutation,
    decision: Decision,
    current_version: Option<i64>,
    current: impl FnOnce() -> Result<Option<Record>, StoreError>,
    write: impl FnOnce(NewVersion) -> Result<Record, StoreError>,
) -> Result<MutationResult, StoreError> {
    let (status, record, conflict, error) = match decision {
        Decision::Write {
            status,
            fields,
            deleted,
        } => {
            let version = current_version.map_or(1, |v| v + 1);
            let merged_from = (status == Status::Merged).then(|| m.base_version.unwrap_or(0));
            let record = write(NewVersion {
                version,
                fields,
                deleted,
                merged_from,
            })?;
            (status, Some(record), None, None)
        }
        Decision::Unchanged { status } => (status, current()?, None, None),
        Decision::Conflict {
            kind,
            fields,
            parts,
        } => (
            Status::Conflict,
            Some(current()?.unwrap_or_else(|| forgotten(m))),
            Some(Conflict {
                kind,
                fields,
                parts,
            }),
            None,
        ),
        Decision::Reject(error) => (Status::Rejected, None, None, Some(error)),
    };
    Ok(MutationResult {
        mutation_id: m.mutation_id,
        status,
        record,
        conflict,
        error,
    })
}

/// What a conflict answers for a record the server no longer holds (its
/// deletion was forgotten, DESIGN.md "Retention"): a deletion at version 0
/// with no fields. Restoring it is an edit from version 0, a create.
pub(super) fn forgotten(m: &Mutation) -> Record {
    Record {
        collection: m.collection.clone(),
        id: m.record_id,
        version: 0,
        fields: Fields::new(),
        deleted: true,
        updated_at: m.hlc.clone(),
        updated_by: String::new(),
        merged_from: None,
    }
}

/// The name a status is stored under: its name on the wire.
fn status_name(s: Status) -> &'static str {
    match s {
        Status::Applied => "applied",
        Status::Merged => "merged",
        Status::Conflict => "conflict",
        Status::Rejected => "rejected",
    }
}

/// A result as its row in `mutations` holds it (besides the user, the
/// mutation id and the record, which the mutation gives).
pub(super) struct OutcomeColumns {
    pub status: &'static str,
    /// The version the result answered with.
    pub version: Option<i64>,
    pub conflict: Option<String>,
    pub error: Option<String>,
}

impl OutcomeColumns {
    pub fn of(r: &MutationResult) -> Result<OutcomeColumns, StoreError> {
        Ok(OutcomeColumns {
            status: status_name(r.status),
            version: r.record.as_ref().map(|rec| rec.version),
            conflict: r
                .conflict
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(json_err)?,
            error: r
                .error
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(json_err)?,
        })
    }
}

/// A mutation's stored outcome, as read back.
pub(super) struct Remembered {
    pub status: String,
    pub collection: String,
    pub record_id: Uuid,
    pub version: Option<i64>,
    pub conflict: Option<String>,
    pub error: Option<String>,
}

impl Remembered {
    /// The first result again; `record` is the stored version at `self.version`.
    pub fn result(
        &self,
        m: &Mutation,
        record: Option<Record>,
    ) -> Result<MutationResult, StoreError> {
        let mutation_id = m.mutation_id;
        let status: Status = serde_json::from_value(serde_json::Value::String(self.status.clone()))
            .map_err(json_err)?;
        let record = match (status, record) {
            (Status::Conflict, None) => Some(forgotten(m)),
            (_, record) => record,
        };
        Ok(MutationResult {
            mutation_id,
            status,
            record,
            conflict: self
                .conflict
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(json_err)?,
            error: self
                .error
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(json_err)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_status_names_are_the_wire_names() {
        for s in [
            Status::Applied,
            Status::Merged,
            Status::Conflict,
            Status::Rejected,
        ] {
            let wire = serde_json::to_value(s).expect("status");
            assert_eq!(wire.as_str(), Some(status_name(s)));
        }
    }
}
