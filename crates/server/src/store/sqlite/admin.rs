//! Users' roles, the audit log and the counts the console shows.

use ferry_protocol::admin::{AdminUser, AuditEntry, Grant, Role};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::db_err;
use super::read::parse_uuid;
use crate::store::{
    ADMIN_USERS_SQL, AUDIT_SQL, AuditFilter, GRANTS_SQL, NewAudit, StoreError, audit_entry,
    grants_from, last_admin, no_such_user, now,
};

pub(super) fn admin_users(c: &Connection) -> Result<Vec<AdminUser>, StoreError> {
    let mut stmt = c.prepare_cached(ADMIN_USERS_SQL).map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    rows.into_iter()
        .map(
            |(id, username, role, disabled, created_at, devices, last_seen)| {
                Ok(AdminUser {
                    id: parse_uuid(&id)?,
                    username,
                    role: Role::parse(&role),
                    disabled,
                    created_at,
                    devices: u32::try_from(devices).unwrap_or(u32::MAX),
                    last_seen,
                })
            },
        )
        .collect()
}

pub(super) fn update_user(
    tx: &Transaction<'_>,
    username: &str,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<usize, StoreError> {
    let Some((id, was_admin)) = tx
        .query_row(
            "SELECT id, role = 'admin' AND NOT disabled FROM users WHERE username = ?1",
            params![username],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)),
        )
        .optional()
        .map_err(db_err)?
    else {
        return Err(no_such_user(username));
    };
    tx.execute(
        "UPDATE users SET role = coalesce(?2, role), disabled = coalesce(?3, disabled) WHERE id = ?1",
        params![id, role.map(Role::name), disabled],
    )
    .map_err(db_err)?;
    if was_admin {
        let admins: i64 = tx
            .query_row(
                "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        if admins == 0 {
            return Err(last_admin(username));
        }
    }
    if disabled != Some(true) {
        return Ok(0);
    }
    tx.execute(
        "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![id, now()],
    )
    .map_err(db_err)
}

pub(super) fn add_audit(tx: &Transaction<'_>, e: &NewAudit) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit (at, actor, device_id, ip, action, target, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            now(),
            e.actor,
            e.device_id.map(|d| d.to_string()),
            e.ip,
            e.action,
            e.target,
            e.detail.to_string()
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn audit(c: &Connection, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
    let sql = AUDIT_SQL.replace('$', "?");
    let mut stmt = c.prepare_cached(&sql).map_err(db_err)?;
    let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![f.actor, f.action, f.target, f.before, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                (r.get(5)?, r.get(6)?, r.get(7)?),
            ))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(seq, at, actor, device, ip, rest)| {
            let device = device.as_deref().map(parse_uuid).transpose()?;
            Ok(audit_entry(seq, at, actor, device, ip, rest))
        })
        .collect()
}

pub(super) fn all_grants(c: &Connection) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = c.prepare_cached(GRANTS_SQL).map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    Ok(grants_from(rows))
}

pub(super) fn count_records(
    c: &Connection,
    collection: &str,
    values: Option<&[String]>,
) -> Result<u64, StoreError> {
    let n: i64 = match values {
        None => c
            .query_row(
                "SELECT count(*) FROM records r JOIN history h ON h.seq = r.seq
                 WHERE r.collection = ?1 AND NOT h.deleted",
                params![collection],
                |r| r.get(0),
            )
            .map_err(db_err)?,
        Some(values) => {
            let values = serde_json::to_string(values).map_err(crate::store::json_err)?;
            c.query_row(
                "SELECT count(DISTINCT p.id) FROM record_parts p
                 JOIN records r ON r.collection = p.collection AND r.id = p.id
                 JOIN history h ON h.seq = r.seq
                 WHERE p.collection = ?1 AND p.present AND NOT h.deleted
                   AND p.value IN (SELECT value FROM json_each(?2))",
                params![collection, values],
                |r| r.get(0),
            )
            .map_err(db_err)?
        }
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(super) fn field_usage(
    c: &Connection,
    collection: &str,
    field: &str,
    choice: bool,
) -> Result<ferry_protocol::admin::FieldUsage, StoreError> {
    let path = format!("$.{}", crate::store::checked_field(field)?);
    let (live, with_value): (i64, i64) = c
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE json_type(h.fields, ?2) <> 'null'
                    AND json_extract(h.fields, ?2) NOT IN ('', '[]'))
             FROM records r JOIN history h ON h.seq = r.seq
             WHERE r.collection = ?1 AND NOT h.deleted",
            params![collection, path],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_err)?;
    let mut options = Vec::new();
    if choice {
        let mut stmt = c
            .prepare_cached(
                "SELECT json_extract(h.fields, ?2), count(*)
                 FROM records r JOIN history h ON h.seq = r.seq
                 WHERE r.collection = ?1 AND NOT h.deleted AND json_type(h.fields, ?2) = 'text'
                 GROUP BY 1",
            )
            .map_err(db_err)?;
        options = stmt
            .query_map(params![collection, path], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
    }
    Ok(crate::store::field_usage_from(
        collection, field, live, with_value, options,
    ))
}

pub(super) fn recent_changes(
    c: &Connection,
    f: &crate::store::ChangesFilter,
) -> Result<Vec<(ferry_protocol::admin::RecordChange, String)>, StoreError> {
    let sql = crate::store::RECENT_CHANGES_SQL.replace('$', "?");
    let mut stmt = c.prepare_cached(&sql).map_err(db_err)?;
    let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![f.collection, f.user, f.before, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    rows.into_iter()
        .map(
            |(seq, collection, id, version, deleted, updated_by, updated_at, fields)| {
                Ok((
                    ferry_protocol::admin::RecordChange {
                        seq,
                        collection,
                        id: parse_uuid(&id)?,
                        version,
                        title: String::new(),
                        deleted,
                        updated_by,
                        updated_at,
                    },
                    fields,
                ))
            },
        )
        .collect()
}
