//! History rows as both stores keep them.
//!
//! A record's latest version holds its whole fields, so pulls read one row
//! as before. When a newer version is written, the row of the one before is
//! rewritten to hold only its fields that differ from the newer version (a
//! reverse delta, flagged `delta`): storage grows with what changed, not
//! with the record's size. An older version is rebuilt by walking back from
//! the first whole row after it. Rows written before deltas existed are
//! whole, and read as such.

use ferry_protocol::{Fields, Record, json_len};
use serde_json::Value;

/// One history row as stored: `record.fields` are whole, or a reverse delta.
pub struct StoredVersion {
    pub record: Record,
    pub delta: bool,
}

/// What `old` has that `new` does not: `old`'s values of the fields that
/// differ, and `null` for fields `old` lacks. Exact JSON equality, so a
/// rebuilt version is exactly what was stored.
pub fn reverse_delta(old: &Fields, new: &Fields) -> Fields {
    let mut d = Fields::new();
    for (k, v) in old {
        if new.get(k) != Some(v) {
            d.insert(k.clone(), v.clone());
        }
    }
    for k in new.keys() {
        if !old.contains_key(k) {
            d.insert(k.clone(), Value::Null);
        }
    }
    d
}

/// Turns the fields of a version into those of the version before it.
fn apply_delta(fields: &mut Fields, delta: &Fields) {
    for (k, v) in delta {
        if v.is_null() {
            fields.remove(k);
        } else {
            fields.insert(k.clone(), v.clone());
        }
    }
}

/// A JSON object's length, kept up to date as fields change.
struct Size {
    entries: usize,
    count: usize,
}

impl Size {
    fn of(fields: &Fields) -> Size {
        Size {
            entries: fields.iter().map(|(k, v)| entry_len(k, v)).sum(),
            count: fields.len(),
        }
    }

    fn bytes(&self) -> usize {
        2 + self.entries + self.count.saturating_sub(1)
    }
}

fn entry_len(k: &str, v: &Value) -> usize {
    json_len(&k) + 1 + json_len(v)
}

/// A record's JSON around its fields, roughly: ids, stamp, names.
const RECORD_OVERHEAD: usize = 256;

/// Collects the rows of a history page, oldest first, and rebuilds their
/// versions.
pub struct PageReader {
    rows: Vec<StoredVersion>,
    limit: usize,
    max_bytes: usize,
    stored_bytes: usize,
}

impl PageReader {
    pub fn new(limit: usize, max_bytes: usize) -> PageReader {
        PageReader {
            rows: Vec::new(),
            limit: limit.max(1),
            max_bytes,
            stored_bytes: 0,
        }
    }

    /// Takes the next row (in version order); `false` once the rows read
    /// are enough to rebuild the page: it ends on a whole row.
    pub fn push(&mut self, row: StoredVersion, stored_len: usize) -> bool {
        let whole = !row.delta;
        self.stored_bytes += stored_len;
        self.rows.push(row);
        let enough = self.rows.len() >= self.limit || self.stored_bytes > self.max_bytes;
        !(enough && whole)
    }

    /// The version `version` of a record, from a reader made with a limit
    /// of one that read from just before it; `None` if there is none.
    pub fn finish_at(self, version: i64) -> Result<Option<Record>, String> {
        let first = self.finish()?.into_iter().next();
        Ok(first.filter(|r| r.version == version))
    }

    /// The versions of the page: at most `limit`, and no more than
    /// `max_bytes` of them unless the first alone is larger. The rows must
    /// end on a whole row (the latest version always is one).
    pub fn finish(self) -> Result<Vec<Record>, String> {
        let rows = self.rows;
        let Some(last) = rows.last() else {
            return Ok(Vec::new());
        };
        if last.delta {
            return Err(format!(
                "version {} of record {} is stored as a change but no later version is",
                last.record.version, last.record.id
            ));
        }
        // First pass: each version's size, walking back without keeping them.
        let mut sizes = vec![0; rows.len()];
        let mut working = last.record.fields.clone();
        let mut size = Size::of(&working);
        sizes[rows.len() - 1] = size.bytes();
        for j in (0..rows.len() - 1).rev() {
            let row = &rows[j];
            if row.delta {
                for (k, v) in &row.record.fields {
                    if let Some(old) = working.get(k) {
                        size.entries -= entry_len(k, old);
                        size.count -= 1;
                    }
                    if !v.is_null() {
                        size.entries += entry_len(k, v);
                        size.count += 1;
                    }
                }
                apply_delta(&mut working, &row.record.fields);
            } else {
                working = row.record.fields.clone();
                size = Size::of(&working);
            }
            sizes[j] = size.bytes();
        }
        let mut take = 0;
        let mut bytes = 0;
        for s in &sizes {
            bytes += s + RECORD_OVERHEAD;
            if take > 0 && (bytes > self.max_bytes || take == self.limit) {
                break;
            }
            take += 1;
        }
        // Second pass: the same walk, keeping the versions of the page.
        let mut out: Vec<Option<Record>> = (0..take).map(|_| None).collect();
        let mut working = last.record.fields.clone();
        for j in (0..rows.len()).rev() {
            let row = &rows[j];
            if j + 1 < rows.len() {
                if row.delta {
                    apply_delta(&mut working, &row.record.fields);
                } else {
                    working = row.record.fields.clone();
                }
            }
            if j < take {
                out[j] = Some(Record {
                    fields: working.clone(),
                    ..row.record.clone_meta()
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

trait CloneMeta {
    fn clone_meta(&self) -> Record;
}

impl CloneMeta for Record {
    /// A copy without the fields, which may be large.
    fn clone_meta(&self) -> Record {
        Record {
            collection: self.collection.clone(),
            id: self.id,
            version: self.version,
            fields: Fields::new(),
            deleted: self.deleted,
            updated_at: self.updated_at.clone(),
            updated_by: self.updated_by.clone(),
            merged_from: self.merged_from,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Fields {
        match v {
            Value::Object(m) => m,
            _ => Fields::new(),
        }
    }

    fn record(version: i64, fields: Fields) -> Record {
        Record {
            collection: "a".into(),
            id: uuid::Uuid::nil(),
            version,
            fields,
            deleted: false,
            updated_at: "2026-11-26T09:30:00.000Z-0000-srv".parse().expect("stamp"),
            updated_by: "alice".into(),
            merged_from: None,
        }
    }

    /// Stores versions as the stores do: every row but the last a delta.
    fn stored(versions: &[Fields]) -> Vec<StoredVersion> {
        versions
            .iter()
            .enumerate()
            .map(|(i, f)| match versions.get(i + 1) {
                Some(next) => StoredVersion {
                    record: record(i as i64 + 1, reverse_delta(f, next)),
                    delta: true,
                },
                None => StoredVersion {
                    record: record(i as i64 + 1, f.clone()),
                    delta: false,
                },
            })
            .collect()
    }

    #[test]
    fn pages_rebuild_every_version_and_respect_count_and_bytes() {
        let versions = vec![
            obj(json!({"a": 1})),
            obj(json!({"a": 1, "b": "x"})),
            obj(json!({"a": 2.0, "b": "x"})),
            obj(json!({"b": "y"})),
            obj(json!({"b": "y", "c": [1, 2]})),
        ];
        for limit in 1..=6 {
            for skip in 0..versions.len() {
                let mut reader = PageReader::new(limit, usize::MAX);
                for row in stored(&versions).into_iter().skip(skip) {
                    if !reader.push(row, 10) {
                        break;
                    }
                }
                let page = reader.finish().expect("page");
                let want: Vec<&Fields> = versions.iter().skip(skip).take(limit).collect();
                assert_eq!(page.iter().map(|r| &r.fields).collect::<Vec<_>>(), want);
                assert_eq!(page[0].version, skip as i64 + 1);
            }
        }
        let mut reader = PageReader::new(100, 1);
        for row in stored(&versions) {
            reader.push(row, 10);
        }
        assert_eq!(
            reader.finish().expect("page").len(),
            1,
            "bytes bound the page"
        );
    }

    #[test]
    fn a_trailing_delta_is_an_error() {
        let mut reader = PageReader::new(1, usize::MAX);
        reader.push(
            StoredVersion {
                record: record(1, Fields::new()),
                delta: true,
            },
            2,
        );
        assert!(reader.finish().is_err());
    }
}
