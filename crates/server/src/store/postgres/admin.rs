//! Users' roles, the audit log and the counts the console shows.

use deadpool_postgres::GenericClient;
use ferry_protocol::admin::{AdminUser, AuditEntry, Grant, Role};
use uuid::Uuid;

use super::pg_err;
use crate::store::{
    ADMIN_USERS_SQL, AUDIT_SQL, AuditFilter, GRANTS_SQL, NewAudit, StoreError, audit_entry,
    grants_from, last_admin, no_such_user, now,
};

pub(super) async fn admin_users(c: &impl GenericClient) -> Result<Vec<AdminUser>, StoreError> {
    let rows = c.query(ADMIN_USERS_SQL, &[]).await.map_err(pg_err)?;
    Ok(rows
        .iter()
        .map(|r| AdminUser {
            id: r.get(0),
            username: r.get(1),
            role: Role::parse(r.get(2)),
            disabled: r.get(3),
            created_at: r.get(4),
            devices: u32::try_from(r.get::<_, i64>(5)).unwrap_or(u32::MAX),
            last_seen: r.get(6),
        })
        .collect())
}

pub(super) async fn update_user(
    client: &mut deadpool_postgres::Object,
    username: &str,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<usize, StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    // Serialises role changes, so two admins cannot each demote the other.
    tx.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", &[])
        .await
        .map_err(pg_err)?;
    let Some(row) = tx
        .query_opt(
            "SELECT id, role = 'admin' AND NOT disabled FROM users WHERE username = $1",
            &[&username],
        )
        .await
        .map_err(pg_err)?
    else {
        return Err(no_such_user(username));
    };
    let (id, was_admin): (Uuid, bool) = (row.get(0), row.get(1));
    tx.execute(
        "UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled) WHERE id = $1",
        &[&id, &role.map(Role::name), &disabled],
    )
    .await
    .map_err(pg_err)?;
    if was_admin {
        let admins: i64 = tx
            .query_one(
                "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled",
                &[],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        if admins == 0 {
            return Err(last_admin(username));
        }
    }
    let signed_out = if disabled == Some(true) {
        tx.execute(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            &[&id, &now()],
        )
        .await
        .map_err(pg_err)?
    } else {
        0
    };
    tx.commit().await.map_err(pg_err)?;
    Ok(usize::try_from(signed_out).unwrap_or(usize::MAX))
}

pub(super) async fn add_audit(c: &impl GenericClient, e: &NewAudit) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit (at, actor, device_id, ip, action, target, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &now(),
            &e.actor,
            &e.device_id,
            &e.ip,
            &e.action,
            &e.target,
            &e.detail.to_string(),
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn audit(
    c: &impl GenericClient,
    f: &AuditFilter,
) -> Result<Vec<AuditEntry>, StoreError> {
    let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
    let rows = c
        .query(
            AUDIT_SQL,
            &[&f.actor, &f.action, &f.target, &f.before, &limit],
        )
        .await
        .map_err(pg_err)?;
    Ok(rows
        .iter()
        .map(|r| {
            audit_entry(
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                (r.get(5), r.get(6), r.get(7)),
            )
        })
        .collect())
}

pub(super) async fn all_grants(c: &impl GenericClient) -> Result<Vec<Grant>, StoreError> {
    let rows = c.query(GRANTS_SQL, &[]).await.map_err(pg_err)?;
    Ok(grants_from(rows.iter().map(|r| {
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
    })))
}

pub(super) async fn count_records(
    c: &impl GenericClient,
    collection: &str,
    values: Option<&[String]>,
) -> Result<u64, StoreError> {
    let row = match values {
        None => c
            .query_one(
                "SELECT count(*) FROM records r JOIN history h ON h.seq = r.seq
                 WHERE r.collection = $1 AND NOT h.deleted",
                &[&collection],
            )
            .await
            .map_err(pg_err)?,
        Some(values) => c
            .query_one(
                "SELECT count(DISTINCT p.id) FROM record_parts p
                 JOIN records r ON r.collection = p.collection AND r.id = p.id
                 JOIN history h ON h.seq = r.seq
                 WHERE p.collection = $1 AND p.present AND NOT h.deleted AND p.value = ANY($2)",
                &[&collection, &values],
            )
            .await
            .map_err(pg_err)?,
    };
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

pub(super) async fn field_usage(
    c: &impl GenericClient,
    collection: &str,
    field: &str,
    choice: bool,
) -> Result<ferry_protocol::admin::FieldUsage, StoreError> {
    let field = crate::store::checked_field(field)?;
    let row = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE jsonb_typeof(h.fields::jsonb -> $2) <> 'null'
                    AND (h.fields::jsonb -> $2) NOT IN ('\"\"'::jsonb, '[]'::jsonb))
             FROM records r JOIN history h ON h.seq = r.seq
             WHERE r.collection = $1 AND NOT h.deleted",
            &[&collection, &field],
        )
        .await
        .map_err(pg_err)?;
    let mut options = Vec::new();
    if choice {
        let rows = c
            .query(
                "SELECT h.fields::jsonb ->> $2, count(*)
                 FROM records r JOIN history h ON h.seq = r.seq
                 WHERE r.collection = $1 AND NOT h.deleted
                   AND jsonb_typeof(h.fields::jsonb -> $2) = 'string'
                 GROUP BY 1",
                &[&collection, &field],
            )
            .await
            .map_err(pg_err)?;
        options = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }
    Ok(crate::store::field_usage_from(
        collection,
        field,
        row.get(0),
        row.get(1),
        options,
    ))
}

pub(super) async fn recent_changes(
    c: &impl GenericClient,
    f: &crate::store::ChangesFilter,
) -> Result<Vec<(ferry_protocol::admin::RecordChange, String)>, StoreError> {
    let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
    let rows = c
        .query(
            crate::store::RECENT_CHANGES_SQL,
            &[&f.collection, &f.user, &f.before, &limit],
        )
        .await
        .map_err(pg_err)?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                ferry_protocol::admin::RecordChange {
                    seq: r.get(0),
                    collection: r.get(1),
                    id: r.get(2),
                    version: r.get(3),
                    title: String::new(),
                    deleted: r.get(4),
                    updated_by: r.get(5),
                    updated_at: r.get(6),
                },
                r.get(7),
            )
        })
        .collect())
}
