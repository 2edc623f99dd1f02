//! A user's devices (DESIGN.md, "Devices"): each sign-in is one, listed
//! with where and when it was last seen and when its session ends; a user
//! signs out any of theirs from another.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_protocol::{Device, DevicesResponse};
use uuid::Uuid;

use super::Json;
use crate::AppState;
use crate::auth::{Authenticated, expires_at};
use crate::error::{ApiError, ApiResult};
use crate::store::DeviceRow;

/// A device as its user sees it.
pub fn device(row: DeviceRow, current: Uuid, lifetime: std::time::Duration) -> Device {
    Device {
        expires_at: expires_at(&row.last_seen, lifetime),
        current: row.id == current,
        id: row.id,
        name: row.name,
        platform: row.platform,
        app_version: row.app_version,
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        last_ip: row.last_ip,
    }
}

/// Your devices that are signed in, most recently seen first.
#[utoipa::path(get, path = "/v1/devices", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Your signed-in devices; `current` is the one asking", body = DevicesResponse,
         example = json!({"devices": [{"id": "0193a1b2-0000-7000-8000-000000000001", "name": "alice-laptop",
            "platform": "linux", "app_version": "ferry-desktop 0.4.0", "first_seen": "2026-12-01T09:00:00.000Z",
            "last_seen": "2026-12-05T10:12:00.000Z", "last_ip": "192.0.2.7", "expires_at": "2027-01-04T10:12:00Z",
            "current": true}]})),
        (status = 401, description = "Missing, expired or revoked token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn devices(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<DevicesResponse> {
    let lifetime = state.limits.session_lifetime;
    let devices = state
        .store
        .devices(Some(auth.session.user_id))
        .await?
        .into_iter()
        .filter(|d| !d.revoked)
        .map(|d| device(d, auth.session.device_id, lifetime))
        .collect();
    Ok(Json(DevicesResponse { devices }))
}

/// Signs one of your devices out: its token stops working at once and its
/// open event streams end. Signing out the asking device is a logout.
#[utoipa::path(delete, path = "/v1/devices/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The device's id")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "Not a device id (a UUID)", body = ferry_protocol::ErrorResponse),
        (status = 404, description = "No device of yours has this id", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Missing, expired or revoked token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn sign_out_device(
    State(state): State<AppState>,
    auth: Authenticated,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) =
        id.map_err(|_| ApiError::Malformed("a device is named by its id, a UUID".into()))?;
    let mine = state
        .store
        .devices(Some(auth.session.user_id))
        .await?
        .into_iter()
        .any(|d| d.id == id && !d.revoked);
    if !mine {
        return Err(ApiError::NotFound(
            "you have no signed-in device with this id".into(),
        ));
    }
    if id == auth.session.device_id {
        state.store.revoke_session(&auth.token).await?;
    } else {
        state.store.revoke_device(id, false).await?;
    }
    tracing::info!(username = ?auth.session.username, device_id = %id, "device signed out by its user");
    Ok(StatusCode::NO_CONTENT)
}
