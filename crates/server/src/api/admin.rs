//! The administrator's API (`/v1/admin/…`, DESIGN.md "Administration"):
//! users, teams, grants, devices, the audit log and health, for admins
//! only. Every change is written to the audit log.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_protocol::admin::{
    AccessPreview, AdminDevice, AdminDevicesResponse, AdminHealth, AdminTeam, AdminUser, AuditPage,
    CollectionCount, CollectionSpec, CollectionsResponse, ConsoleSession, ConsoleSignIn,
    FieldMigration, FieldUsage, GrantAccess, GrantChange, GrantsResponse, MigrationJob,
    MigrationPlan, MigrationsResponse, NewTeam, NewUser, PushMinute, RecordChange,
    RecordChangesPage, RevokeDevice, Role, Subject, TeamsResponse, UserChange, UsersResponse,
};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{Json, check_len};
use crate::AppState;
use crate::auth::{self, Admin};
use crate::error::{ApiError, ApiResult};
use crate::rules::Right;
use crate::schema_file::CollectionDef;
use crate::store::{AuditFilter, DeviceRow, GrantSubject, NewAudit, RuleChange, StoreError};

/// Shortest password an admin may set.
pub const MIN_PASSWORD: usize = 8;

/// Notes an admin's action in the audit log. The action is done by then:
/// a failure to note it is logged, not answered.
async fn audit(
    state: &AppState,
    admin: &Admin,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) {
    let entry = NewAudit {
        actor: admin.session.username.clone(),
        device_id: Some(admin.session.device_id),
        ip: admin.ip.clone(),
        action: action.to_string(),
        target: target.to_string(),
        detail,
    };
    if let Err(e) = state.store.add_audit(entry).await {
        tracing::error!(error = %e, action, target, "cannot write the audit log");
    }
}

/// A store error of an admin request: names taken answer 409, missing ones 404.
fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Exists(m) => ApiError::Exists(m),
        StoreError::NotFound(m) => ApiError::NotFound(m),
        e => e.into(),
    }
}

const FORBIDDEN: &str = "Signed in, but not as an administrator";

// --- The console's session ---------------------------------------------------

/// The console's signed-in administrator.
#[utoipa::path(get, path = "/v1/admin/session", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = ConsoleSession, example = json!({"username": "ann"})),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn session(admin: Admin) -> ApiResult<ConsoleSession> {
    Ok(Json(ConsoleSession {
        username: admin.session.username,
    }))
}

/// Signs an administrator in to the console: the answer sets the session
/// cookie (`HttpOnly`, `SameSite=Strict`), which the console sends with
/// the `X-Ferry-CSRF` header on every request. The sign-in is a device
/// ("Admin console"), listed and revoked like any other.
#[utoipa::path(post, path = "/v1/admin/session", tag = "admin",
    request_body(content = ConsoleSignIn, example = json!({"username": "ann", "password": "…"})),
    responses(
        (status = 200, body = ConsoleSession, headers(("set-cookie" = String, description = "ferry_console=…; Path=/; HttpOnly; SameSite=Strict"))),
        (status = 400, description = "Malformed request", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Wrong username or password", body = ferry_protocol::ErrorResponse),
        (status = 408, description = "The body did not arrive within the header timeout", body = ferry_protocol::ErrorResponse),
        (status = 413, description = "Too large a body (8 KiB at most)", body = ferry_protocol::ErrorResponse),
        (status = 415, description = "The body is not sent as JSON", body = ferry_protocol::ErrorResponse),
        (status = 403, description = "Not an administrator, or disabled", body = ferry_protocol::ErrorResponse),
        (status = 429, description = "Too many failed logins; see Retry-After", body = ferry_protocol::ErrorResponse),
        (status = 503, description = "Too many logins at once (`busy`); see Retry-After", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let ip = super::client_ip(request.extensions());
    let agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    // Anyone may send one: a body sent a byte at a time must not hold the connection.
    let Json(req) = tokio::time::timeout(
        state.limits.header_timeout,
        <Json<ConsoleSignIn> as axum::extract::FromRequest<AppState>>::from_request(
            request, &state,
        ),
    )
    .await
    .map_err(|_| ApiError::Timeout)??;
    let user = super::auth::check_credentials(&state, &req.username, &req.password, ip).await?;
    if user.role != Role::Admin {
        tracing::info!(username = ?user.username, "refused a member's console sign-in");
        return Err(ApiError::Forbidden(
            "this account is not an administrator".into(),
        ));
    }
    let token = auth::new_token();
    let device = crate::store::NewDevice {
        name: "Admin console".into(),
        platform: "web".into(),
        app_version: agent,
        ip: ip.map(|ip| ip.to_string()),
    };
    let device_id = state
        .store
        .create_session(user.id, &device, &auth::token_hash(&token))
        .await?;
    tracing::info!(username = ?user.username, %device_id, "console sign-in");
    let admin = Admin {
        session: crate::store::Session {
            user_id: user.id,
            username: user.username.clone(),
            device_id,
        },
        token: auth::token_hash(&token),
        ip: ip.map(|ip| ip.to_string()),
    };
    audit(&state, &admin, "console.sign_in", &user.username, json!({})).await;
    let cookie = auth::console_set_cookie(Some(&token), state.limits.https);
    let mut response = Json(ConsoleSession {
        username: user.username,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| ApiError::Internal)?,
    );
    Ok(response)
}

/// Signs the console out: its session ends and the cookie is cleared.
#[utoipa::path(delete, path = "/v1/admin/session", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn sign_out(State(state): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    state.store.revoke_session(&admin.token).await?;
    let cookie = auth::console_set_cookie(None, state.limits.https);
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| ApiError::Internal)?,
    );
    Ok(response)
}

// --- Users ---------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
pub struct UsersQuery {
    /// Only users whose name holds this text.
    q: Option<String>,
}

/// Every user, by name, with role, state and signed-in devices.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])),
    params(UsersQuery),
    responses(
        (status = 200, body = UsersResponse, example = json!({"users": [{"id": "0193a1b2-0000-7000-8000-000000000001",
            "username": "dana", "role": "member", "disabled": false, "created_at": "2026-12-01T09:00:00.000Z",
            "devices": 2, "last_seen": "2026-12-05T10:12:00.000Z"}]})),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn users(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<UsersQuery>, QueryRejection>,
) -> ApiResult<UsersResponse> {
    let Query(q) = query?;
    let needle = q.q.unwrap_or_default().to_lowercase();
    let users = state
        .store
        .admin_users()
        .await?
        .into_iter()
        .filter(|u| u.username.to_lowercase().contains(&needle))
        .collect();
    Ok(Json(UsersResponse { users }))
}

async fn admin_user(state: &AppState, username: &str) -> Result<AdminUser, ApiError> {
    state
        .store
        .admin_users()
        .await?
        .into_iter()
        .find(|u| u.username == username)
        .ok_or_else(|| ApiError::NotFound(format!("there is no user \"{username}\"")))
}

fn check_password(password: &str) -> Result<(), ApiError> {
    check_len("password", password, 1024)?;
    if password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::Invalid(format!(
            "a password has at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

/// Creates a user (a member unless `role` says).
#[utoipa::path(post, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])),
    request_body(content = NewUser, example = json!({"username": "dana", "password": "correct horse", "role": "member"})),
    responses(
        (status = 201, body = AdminUser),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 409, description = "The name is taken (`exists`)", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "A name or password that will not do (`invalid`)", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn add_user(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<NewUser>,
) -> Result<(StatusCode, Json<AdminUser>), ApiError> {
    if !auth::valid_username(&req.username) {
        return Err(ApiError::Invalid(auth::USERNAME_RULE.into()));
    }
    check_password(&req.password)?;
    let hash = auth::hash_password(&req.password).map_err(|_| ApiError::Internal)?;
    state
        .store
        .create_user(&req.username, &hash)
        .await
        .map_err(store_err)?;
    let role = req.role.unwrap_or_default();
    if role != Role::Member {
        state
            .store
            .update_user(&req.username, Some(role), None)
            .await
            .map_err(store_err)?;
    }
    audit(
        &state,
        &admin,
        "user.add",
        &req.username,
        json!({"role": role}),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(admin_user(&state, &req.username).await?),
    ))
}

/// Changes a user's role, state or password. Disabling signs out every
/// device of theirs, and so does a new password.
#[utoipa::path(patch, path = "/v1/admin/users/{username}", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    request_body(content = UserChange, example = json!({"disabled": true})),
    responses(
        (status = 200, body = AdminUser),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such user", body = ferry_protocol::ErrorResponse),
        (status = 409, description = "It would leave no enabled administrator (`last_admin`)", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "A password that will not do (`invalid`)", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn change_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
    Json(req): Json<UserChange>,
) -> ApiResult<AdminUser> {
    if let Some(p) = &req.password {
        check_password(p)?;
    }
    admin_user(&state, &username).await?;
    if req.role.is_some() || req.disabled.is_some() {
        let signed_out = state
            .store
            .update_user(&username, req.role, req.disabled)
            .await
            .map_err(store_err)?;
        if let Some(role) = req.role {
            audit(
                &state,
                &admin,
                "user.role",
                &username,
                json!({"role": role}),
            )
            .await;
        }
        match req.disabled {
            Some(true) => {
                let detail = json!({"devices_signed_out": signed_out});
                audit(&state, &admin, "user.disable", &username, detail).await;
            }
            Some(false) => audit(&state, &admin, "user.enable", &username, json!({})).await,
            None => {}
        }
    }
    if let Some(p) = &req.password {
        let hash = auth::hash_password(p).map_err(|_| ApiError::Internal)?;
        state
            .store
            .set_password(&username, &hash)
            .await
            .map_err(store_err)?;
        audit(&state, &admin, "user.password", &username, json!({})).await;
    }
    Ok(Json(admin_user(&state, &username).await?))
}

// --- Devices -------------------------------------------------------------------

fn admin_device(d: DeviceRow) -> AdminDevice {
    AdminDevice {
        id: d.id,
        username: d.username,
        name: d.name,
        platform: d.platform,
        app_version: d.app_version,
        first_seen: d.first_seen,
        last_seen: d.last_seen,
        last_ip: d.last_ip,
        revoked: d.revoked,
        wipe: d.wipe,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DevicesQuery {
    /// Only this user's devices.
    username: Option<String>,
}

/// Devices of every user (or one), revoked ones too, most recently seen first.
#[utoipa::path(get, path = "/v1/admin/devices", tag = "admin", security(("bearer" = [])),
    params(DevicesQuery),
    responses(
        (status = 200, body = AdminDevicesResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such user", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn devices(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<DevicesQuery>, QueryRejection>,
) -> ApiResult<AdminDevicesResponse> {
    let Query(q) = query?;
    let user = match &q.username {
        Some(name) => Some(
            state
                .store
                .user_by_name(name)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("there is no user \"{name}\"")))?
                .id,
        ),
        None => None,
    };
    let devices = state.store.devices(user).await?;
    Ok(Json(AdminDevicesResponse {
        devices: devices.into_iter().map(admin_device).collect(),
    }))
}

/// Signs a device out at once; with `wipe` it is also told, at its next
/// contact, to delete its local data (edits it has not sent are lost).
#[utoipa::path(post, path = "/v1/admin/devices/{id}/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The device's id")),
    request_body(content = RevokeDevice, example = json!({"wipe": false})),
    responses(
        (status = 200, description = "The device, now revoked", body = AdminDevice),
        (status = 400, description = "Not a device id (a UUID)", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such device", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn revoke_device(
    State(state): State<AppState>,
    admin: Admin,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
    Json(req): Json<RevokeDevice>,
) -> ApiResult<AdminDevice> {
    let Path(id) =
        id.map_err(|_| ApiError::Malformed("a device is named by its id, a UUID".into()))?;
    let wipe = req.wipe.unwrap_or(false);
    let Some(before) = state.store.revoke_device(id, wipe).await? else {
        return Err(ApiError::NotFound("there is no device with this id".into()));
    };
    let action = if wipe { "device.wipe" } else { "device.revoke" };
    let detail = json!({"username": before.username, "name": before.name});
    audit(&state, &admin, action, &id.to_string(), detail).await;
    let after = state
        .store
        .devices(Some(before.user_id))
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or(ApiError::Internal)?;
    Ok(Json(admin_device(after)))
}

// --- Teams and grants ----------------------------------------------------------

/// Teams and their members, by name.
#[utoipa::path(get, path = "/v1/admin/teams", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = TeamsResponse, example = json!({"teams": [{"name": "north", "members": ["carol", "dana"]}]})),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn teams(State(state): State<AppState>, _admin: Admin) -> ApiResult<TeamsResponse> {
    Ok(Json(TeamsResponse {
        teams: all_teams(&state).await?,
    }))
}

async fn all_teams(state: &AppState) -> Result<Vec<AdminTeam>, ApiError> {
    Ok(state
        .store
        .teams()
        .await?
        .into_iter()
        .map(|t| AdminTeam {
            name: t.name,
            members: t.members,
        })
        .collect())
}

async fn team(state: &AppState, name: &str) -> Result<AdminTeam, ApiError> {
    all_teams(state)
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("there is no team \"{name}\"")))
}

/// Creates a team.
#[utoipa::path(post, path = "/v1/admin/teams", tag = "admin", security(("bearer" = [])),
    request_body(content = NewTeam, example = json!({"name": "north"})),
    responses(
        (status = 201, body = AdminTeam),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 409, description = "The name is taken (`exists`)", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "A name that will not do (`invalid`)", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn add_team(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<NewTeam>,
) -> Result<(StatusCode, Json<AdminTeam>), ApiError> {
    check_len("name", &req.name, 64)?;
    state
        .store
        .change_rules(RuleChange::TeamAdd(req.name.clone()))
        .await
        .map_err(store_err)?;
    audit(&state, &admin, "team.add", &req.name, json!({})).await;
    Ok((StatusCode::CREATED, Json(team(&state, &req.name).await?)))
}

/// Deletes a team and its grants; its members keep their own.
#[utoipa::path(delete, path = "/v1/admin/teams/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such team", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn remove_team(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    team(&state, &name).await?;
    state
        .store
        .change_rules(RuleChange::TeamRemove(name.clone()))
        .await
        .map_err(store_err)?;
    audit(&state, &admin, "team.remove", &name, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn member(
    state: &AppState,
    admin: &Admin,
    name: String,
    username: String,
    add: bool,
) -> ApiResult<AdminTeam> {
    team(state, &name).await?;
    if state.store.user_by_name(&username).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "there is no user \"{username}\""
        )));
    }
    state
        .store
        .change_rules(RuleChange::Member {
            team: name.clone(),
            username: username.clone(),
            add,
        })
        .await
        .map_err(store_err)?;
    let action = if add {
        "team.member_add"
    } else {
        "team.member_remove"
    };
    audit(state, admin, action, &name, json!({"username": username})).await;
    Ok(Json(team(state, &name).await?))
}

/// Adds a user to a team: the team's grants apply to them at once.
#[utoipa::path(put, path = "/v1/admin/teams/{name}/members/{username}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path), ("username" = String, Path)),
    responses(
        (status = 200, body = AdminTeam),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such team or user", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    admin: Admin,
    Path((name, username)): Path<(String, String)>,
) -> ApiResult<AdminTeam> {
    member(&state, &admin, name, username, true).await
}

/// Takes a user out of a team.
#[utoipa::path(delete, path = "/v1/admin/teams/{name}/members/{username}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path), ("username" = String, Path)),
    responses(
        (status = 200, body = AdminTeam),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such team or user", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn remove_member(
    State(state): State<AppState>,
    admin: Admin,
    Path((name, username)): Path<(String, String)>,
) -> ApiResult<AdminTeam> {
    member(&state, &admin, name, username, false).await
}

/// Every grant: users', teams' and everyone's, by collection and subject.
#[utoipa::path(get, path = "/v1/admin/grants", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = GrantsResponse, example = json!({"grants": [
            {"subject": {"kind": "team", "name": "north"}, "collection": "contacts", "access": "write", "values": ["north"]},
            {"subject": {"kind": "user", "name": "dana"}, "collection": "tasks", "access": "read", "values": []}]})),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn grants(State(state): State<AppState>, _admin: Admin) -> ApiResult<GrantsResponse> {
    Ok(Json(GrantsResponse {
        grants: state.store.all_grants().await?,
    }))
}

/// Gives or takes away access, as `ferry-server grant` does; what comes
/// into or leaves each user's view reaches their devices at their next pull.
#[utoipa::path(post, path = "/v1/admin/grants", tag = "admin", security(("bearer" = [])),
    request_body(content = GrantChange, example = json!({"subject": {"kind": "user", "name": "dana"},
        "collection": "contacts", "access": "read", "values": ["north"]})),
    responses(
        (status = 200, description = "Every grant after the change", body = GrantsResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such user, team or collection", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "A grant that cannot be (`invalid`): values of a collection that is not partitioned, write-only without values", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn change_grant(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<GrantChange>,
) -> ApiResult<GrantsResponse> {
    check_len("collection", &req.collection, 64)?;
    for v in &req.values {
        check_len("a value", v, 256)?;
    }
    let subject = match &req.subject {
        Subject::User { name } => {
            if state.store.user_by_name(name).await?.is_none() {
                return Err(ApiError::NotFound(format!("there is no user \"{name}\"")));
            }
            GrantSubject::User(name.clone())
        }
        Subject::Team { name } => {
            team(&state, name).await?;
            GrantSubject::Team(name.clone())
        }
        Subject::Everyone => GrantSubject::Everyone,
    };
    let access = req.access.map(|a| match a {
        GrantAccess::Read => Right::Read,
        GrantAccess::Write => Right::Write,
        GrantAccess::WriteOnly => Right::WriteOnly,
    });
    state
        .store
        .change_rules(RuleChange::Grant {
            subject,
            collection: req.collection.clone(),
            access,
            values: req.values.clone(),
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound(m) => ApiError::NotFound(m),
            e => e.into(),
        })?;
    let action = if req.access.is_some() {
        "grant.give"
    } else {
        "grant.take"
    };
    let detail = json!({"subject": req.subject, "access": req.access, "values": req.values});
    audit(&state, &admin, action, &req.collection, detail).await;
    Ok(Json(GrantsResponse {
        grants: state.store.all_grants().await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PreviewQuery {
    username: String,
    collection: String,
}

/// How many of a collection's live records a user's grants let them see,
/// as the grants stand now: "dana will see 2,314 of 61,002 records".
#[utoipa::path(get, path = "/v1/admin/preview", tag = "admin", security(("bearer" = [])),
    params(PreviewQuery),
    responses(
        (status = 200, body = AccessPreview, example = json!({"username": "dana", "collection": "contacts", "visible": 2314, "total": 61002})),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such user or collection", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn preview(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<PreviewQuery>, QueryRejection>,
) -> ApiResult<AccessPreview> {
    let Query(q) = query?;
    let user = state
        .store
        .user_by_name(&q.username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no user \"{}\"", q.username)))?;
    let (view, defs) = state
        .view_and_collections(&crate::store::Session {
            user_id: user.id,
            username: user.username.clone(),
            device_id: Uuid::nil(),
        })
        .await?;
    if !defs.iter().any(|d| d.name == q.collection) {
        return Err(ApiError::NotFound(format!(
            "there is no collection \"{}\"",
            q.collection
        )));
    }
    let total = state.store.count_records(&q.collection, None).await?;
    let visible = match view.get(&q.collection).map(|v| v.read.values()) {
        None => 0,
        Some(None) => total,
        Some(Some(values)) => {
            let values = values.iter().cloned().collect();
            state
                .store
                .count_records(&q.collection, Some(values))
                .await?
        }
    };
    Ok(Json(AccessPreview {
        username: q.username,
        collection: q.collection,
        visible,
        total,
    }))
}

/// Every collection and its fields, in definition order.
#[utoipa::path(get, path = "/v1/admin/collections", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = CollectionsResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn collections(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<CollectionsResponse> {
    let collections = state
        .store
        .collections()
        .await?
        .into_iter()
        .map(CollectionDef::into_spec)
        .collect();
    Ok(Json(CollectionsResponse { collections }))
}

/// What an edit of a collection changed, for its audit line: fields added,
/// and fields whose definition changed.
fn edit_summary(old: &CollectionDef, new: &CollectionDef) -> serde_json::Value {
    let added: Vec<&str> = new
        .fields
        .iter()
        .filter(|f| old.field(&f.name).is_none())
        .map(|f| f.name.as_str())
        .collect();
    let changed: Vec<&str> = new
        .fields
        .iter()
        .filter(|f| old.field(&f.name).is_some_and(|o| o != *f))
        .map(|f| f.name.as_str())
        .collect();
    let order = old.fields.iter().map(|f| &f.name).ne(new
        .fields
        .iter()
        .filter(|f| old.field(&f.name).is_some())
        .map(|f| &f.name));
    json!({"added_fields": added, "changed_fields": changed, "reordered": order,
           "label": old.label != new.label, "policy": old.policy != new.policy})
}

/// Tells the devices that read `collection` that it changed, so they sync
/// and take up its new definition at once.
async fn announce(state: &AppState, collection: &str) {
    match state.store.high_water().await {
        Ok(seq) => state.events.publish(crate::events::Commit {
            cursor: crate::store::Cursor(seq),
            collections: vec![collection.to_string()],
            parts: Default::default(),
        }),
        Err(e) => tracing::warn!(error = %e, "cannot announce a schema change"),
    }
}

/// Creates a collection. Give users access to it with a grant.
#[utoipa::path(post, path = "/v1/admin/collections", tag = "admin", security(("bearer" = [])),
    request_body(content = CollectionSpec, example = json!({"name": "visits", "label": "Visits", "title_field": "place",
        "policy": "manual", "fields": [{"name": "place", "label": "Place", "type": "text", "required": true}]})),
    responses(
        (status = 201, body = CollectionSpec),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 409, description = "The name is taken (`exists`)", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "A definition that will not do (`invalid`); the message says what to fix", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn add_collection(
    State(state): State<AppState>,
    admin: Admin,
    Json(spec): Json<CollectionSpec>,
) -> Result<(StatusCode, Json<CollectionSpec>), ApiError> {
    let def = CollectionDef::from(spec);
    def.validate().map_err(ApiError::Invalid)?;
    if state
        .store
        .collections()
        .await?
        .iter()
        .any(|d| d.name == def.name)
    {
        return Err(ApiError::Exists(format!(
            "there is already a collection \"{}\"",
            def.name
        )));
    }
    crate::schema_change::apply(&state.store, std::slice::from_ref(&def))
        .await
        .map_err(store_err)?;
    let fields: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
    audit(
        &state,
        &admin,
        "collection.add",
        &def.name,
        json!({"fields": fields}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(def.into_spec())))
}

/// Changes a collection in place: labels, field order, new fields, new
/// choice options, the policy, a field made required (when every record has
/// a value), options dropped (when no record holds them). Removing a field
/// or changing its type is refused here: those are migrations. The devices
/// that read the collection hear of the change at once.
#[utoipa::path(put, path = "/v1/admin/collections/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)),
    request_body(content = CollectionSpec),
    responses(
        (status = 200, body = CollectionSpec),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such collection", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "A change that would lose or break values (`invalid`): the message says how many records and what to do", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn edit_collection(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    Json(spec): Json<CollectionSpec>,
) -> ApiResult<CollectionSpec> {
    let mut def = CollectionDef::from(spec);
    if def.name != name {
        return Err(ApiError::Invalid(
            "a collection keeps its name; create a new one instead".into(),
        ));
    }
    let old = collection_def(&state, &name).await?;
    // A client that knows nothing of retention leaves it as it is.
    if def.history.is_none() {
        def.history = old.history;
    }
    crate::schema_change::apply(&state.store, std::slice::from_ref(&def))
        .await
        .map_err(store_err)?;
    if old != def {
        audit(
            &state,
            &admin,
            "collection.edit",
            &name,
            edit_summary(&old, &def),
        )
        .await;
        announce(&state, &name).await;
    }
    Ok(Json(def.into_spec()))
}

async fn collection_def(state: &AppState, name: &str) -> Result<CollectionDef, ApiError> {
    state
        .store
        .collections()
        .await?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("there is no collection \"{name}\"")))
}

/// How many live records hold a value for a field, and (choice fields) each
/// value: what making it required, dropping an option or removing it would touch.
#[utoipa::path(get, path = "/v1/admin/collections/{name}/fields/{field}/usage", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path), ("field" = String, Path)),
    responses(
        (status = 200, body = FieldUsage),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such collection or field", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn field_usage(
    State(state): State<AppState>,
    _admin: Admin,
    Path((name, field)): Path<(String, String)>,
) -> ApiResult<FieldUsage> {
    let def = collection_def(&state, &name).await?;
    let Some(f) = def.field(&field) else {
        return Err(ApiError::NotFound(format!(
            "collection \"{name}\" has no field \"{field}\""
        )));
    };
    let choice = f.field_type == ferry_protocol::FieldType::Choice;
    Ok(Json(state.store.field_usage(&name, &field, choice).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MigrateQuery {
    /// Say what the migration would do; change nothing.
    #[serde(default)]
    dry_run: bool,
}

/// Renames a field, removes one, or changes its type: the definition
/// changes at once, and every record holding a value gets a new version in
/// the background (its old value stays in history); follow it at
/// `GET /v1/admin/migrations`. Refused when a value would not convert, or
/// while another migration of the collection runs. With `dry_run`, says
/// how many records it would rewrite and which would not convert.
#[utoipa::path(post, path = "/v1/admin/collections/{name}/migrations", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path), MigrateQuery),
    request_body(content = FieldMigration, example = json!({"kind": "rename_field", "field": "notes", "to": "details"})),
    responses(
        (status = 200, description = "With dry_run: what it would do", body = MigrationPlan,
         example = json!({"records": 152, "unconvertible": 1, "examples": [{"id": "0193a1b2-0000-7000-8000-000000000001", "title": "Call the plumber", "value": "soon"}]})),
        (status = 202, description = "Started", body = MigrationJob),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No such collection", body = ferry_protocol::ErrorResponse),
        (status = 409, description = "A migration of the collection runs (`migration_running`)", body = ferry_protocol::ErrorResponse),
        (status = 422, description = "A migration that cannot run (`invalid`): the message says why", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn migrate(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    query: Result<Query<MigrateQuery>, QueryRejection>,
    Json(m): Json<FieldMigration>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let def = collection_def(&state, &name).await?;
    if q.dry_run {
        crate::migration::migrated(&def, &m).map_err(ApiError::Invalid)?;
        let plan = crate::migration::plan(&state, &def, &m).await?;
        return Ok(Json(plan).into_response());
    }
    use crate::migration::StartError;
    let job = crate::migration::start(&state, &name, m.clone(), &admin.session.username)
        .await
        .map_err(|e| match e {
            StartError::NotFound(msg) => ApiError::NotFound(msg),
            StartError::Refused(msg) => ApiError::Invalid(msg),
            StartError::Busy(job) => ApiError::MigrationRunning(format!(
                "a migration of \"{}\" is running ({} of {} records): wait for it to finish",
                job.collection, job.done, job.total
            )),
            StartError::Store(e) => e.into(),
        })?;
    audit(&state, &admin, "collection.migrate", &name, json!(m)).await;
    announce(&state, &name).await;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

/// The migrations this server process started or resumed, newest first,
/// with their progress.
#[utoipa::path(get, path = "/v1/admin/migrations", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = MigrationsResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn migrations(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<MigrationsResponse> {
    Ok(Json(MigrationsResponse {
        migrations: state.migrations.list(),
    }))
}

// --- The audit log and health ----------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this admin's actions (`cli:…` for the server's subcommands).
    actor: Option<String>,
    /// Only actions that start so (`user.` for every action on users).
    action: Option<String>,
    /// Only actions on this user, team, collection or device id.
    target: Option<String>,
    /// Only lines older than this `seq` (the `next` of the previous page).
    before: Option<i64>,
    /// Lines per page, 1 to 500 (default 50).
    limit: Option<usize>,
}

/// The audit log, newest first: who did what, when, from which device and address.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage, example = json!({"entries": [{"seq": 42, "at": "2026-12-05T10:12:00.000Z",
            "actor": "ann", "device_id": "0193a1b2-0000-7000-8000-000000000001", "ip": "192.0.2.7",
            "action": "user.disable", "target": "dana", "detail": {"devices_signed_out": 2}}], "next": 42})),
        (status = 400, description = "A malformed filter", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn audit_log(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<AuditPage> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Malformed("limit is 1 to 500".into()));
    }
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let entries = state
        .store
        .audit(AuditFilter {
            actor: nonempty(q.actor),
            action: nonempty(q.action),
            target: nonempty(q.target),
            before: q.before,
            limit: limit + 1,
        })
        .await?;
    let more = entries.len() > limit;
    let entries: Vec<_> = entries.into_iter().take(limit).collect();
    let next = if more {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(AuditPage { entries, next }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ChangesQuery {
    /// Only versions of this collection.
    collection: Option<String>,
    /// Only versions this user wrote.
    user: Option<String>,
    /// Only versions older than this `seq` (the `next` of the previous page).
    before: Option<i64>,
    /// Versions per page, 1 to 500 (default 50).
    limit: Option<usize>,
}

/// Recent writes, newest first: who changed which record when, with the
/// record's title now; its versions are at
/// `/v1/admin/records/{collection}/{id}/history`.
#[utoipa::path(get, path = "/v1/admin/changes", tag = "admin", security(("bearer" = [])),
    params(ChangesQuery),
    responses(
        (status = 200, body = RecordChangesPage),
        (status = 400, description = "A malformed filter", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn changes(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> ApiResult<RecordChangesPage> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Malformed("limit is 1 to 500".into()));
    }
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let rows = state
        .store
        .recent_changes(crate::store::ChangesFilter {
            collection: nonempty(q.collection),
            user: nonempty(q.user),
            before: q.before,
            limit: limit + 1,
        })
        .await?;
    let defs = state.store.collections().await?;
    let more = rows.len() > limit;
    let changes: Vec<RecordChange> = rows
        .into_iter()
        .take(limit)
        .map(|(mut change, fields)| {
            let title_field = defs
                .iter()
                .find(|d| d.name == change.collection)
                .map(|d| d.title_field.as_str())
                .unwrap_or_default();
            change.title = serde_json::from_str::<ferry_protocol::Fields>(&fields)
                .ok()
                .and_then(|f| {
                    f.get(title_field).map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                })
                .unwrap_or_default();
            change
        })
        .collect();
    let next = if more {
        changes.last().map(|c| c.seq)
    } else {
        None
    };
    Ok(Json(RecordChangesPage { changes, next }))
}

/// The server's version and database, rows per collection, connected
/// clients and the pushes of the last minutes (of this process).
#[utoipa::path(get, path = "/v1/admin/health", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = AdminHealth),
        (status = 401, description = "No valid session", body = ferry_protocol::ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ferry_protocol::ErrorResponse),
    ))]
pub async fn health(State(state): State<AppState>, _admin: Admin) -> ApiResult<AdminHealth> {
    let collections = state
        .store
        .collection_sizes()
        .await?
        .into_iter()
        .map(|c| CollectionCount {
            collection: c.collection,
            records: c.records,
            history_rows: c.history_rows,
        })
        .collect();
    let now_minute = chrono::Utc::now().timestamp().div_euclid(60);
    let pushes = state
        .metrics
        .recent_pushes(now_minute)
        .into_iter()
        .map(|m| PushMinute {
            minute: chrono::DateTime::from_timestamp(m.minute * 60, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            pushes: m.pushes,
            max_ms: m.max_ms,
            mean_ms: if m.pushes == 0 {
                0.0
            } else {
                m.total_ms / m.pushes as f64
            },
        })
        .collect();
    Ok(Json(AdminHealth {
        version: env!("CARGO_PKG_VERSION").to_string(),
        database: state.store.kind().to_string(),
        collections,
        event_streams: u64::try_from(state.metrics.open_streams()).unwrap_or(0),
        pushes,
    }))
}
