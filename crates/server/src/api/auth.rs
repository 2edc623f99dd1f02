use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{Extensions, StatusCode};
use ferry_protocol::{LoginRequest, LoginResponse, User};

use super::{Json, check_len};
use crate::AppState;
use crate::auth::{self, Authenticated};
use crate::error::{ApiError, ApiResult};
use crate::store::NewDevice;

/// The address of the request's client.
pub fn client_ip(ext: &Extensions) -> Option<std::net::IpAddr> {
    ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Exchanges a username and password for a bearer token for one device.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "Malformed request", body = ferry_protocol::ErrorResponse),
        (status = 401, description = "Wrong username or password", body = ferry_protocol::ErrorResponse),
        (status = 403, description = "The account is disabled", body = ferry_protocol::ErrorResponse),
        (status = 408, description = "The body did not arrive within the header timeout (10 s by default)", body = ferry_protocol::ErrorResponse),
        (status = 413, description = "Too large a body (8 KiB at most)", body = ferry_protocol::ErrorResponse),
        (status = 415, description = "The body is not sent as JSON", body = ferry_protocol::ErrorResponse),
        (status = 429, description = "Too many failed logins; see Retry-After", body = ferry_protocol::ErrorResponse),
        (status = 503, description = "Too many logins at once (`busy`); see Retry-After", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn login(State(state): State<AppState>, request: Request) -> ApiResult<LoginResponse> {
    let ip = client_ip(request.extensions());
    // Anyone may send one: a body sent a byte at a time must not hold the connection for hours.
    let Json(req) = tokio::time::timeout(
        state.limits.header_timeout,
        Json::<LoginRequest>::from_request(request, &state),
    )
    .await
    .map_err(|_| ApiError::Timeout)??;
    check_len("device_name", &req.device_name, 128)?;
    check_len("platform", req.platform.as_deref().unwrap_or(""), 32)?;
    check_len("app_version", req.app_version.as_deref().unwrap_or(""), 64)?;
    let user = check_credentials(&state, &req.username, &req.password, ip).await?;
    let token = auth::new_token();
    let device_name = if req.device_name.trim().is_empty() {
        "unnamed device"
    } else {
        req.device_name.trim()
    };
    let device = NewDevice {
        name: device_name.to_string(),
        platform: req.platform.unwrap_or_default(),
        app_version: req.app_version.unwrap_or_default(),
        ip: ip.map(|ip| ip.to_string()),
    };
    let device_id = state
        .store
        .create_session(user.id, &device, &auth::token_hash(&token))
        .await?;
    tracing::info!(username = ?user.username, %device_id, "login");
    Ok(Json(LoginResponse {
        token,
        device_id,
        user: User {
            id: user.id,
            username: user.username,
        },
    }))
}

/// The user `username` names when `password` is theirs, counting failures
/// against the login throttle; a disabled user is refused (403).
pub(super) async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<crate::store::UserRow, ApiError> {
    check_len("username", username, 64)?;
    check_len("password", password, 1024)?;
    // Counted before the password check, so that concurrent attempts cannot pass the limit.
    let attempt = state
        .throttle
        .begin(username, ip)
        .map_err(|retry_after_s| {
            state.metrics.login_failed("rate_limited");
            ApiError::RateLimited { retry_after_s }
        })?;
    // Each check takes about 19 MiB: only so many at once, or 503 (the attempt is uncounted).
    let permit = tokio::time::timeout(
        state.limits.login_wait,
        state.password_checks.clone().acquire_owned(),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .ok_or(ApiError::Busy { retry_after_s: 1 })?;
    let user = state.store.user_by_name(username).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = state
        .password_checker
        .check(password.to_string(), hash, Some(permit))
        .await?;
    let Some(user) = user.filter(|_| ok) else {
        attempt.failed();
        state.metrics.login_failed("bad_credentials");
        // Debug formatting escapes newlines and terminal codes (no log injection).
        tracing::info!(username = ?username, "failed login");
        return Err(ApiError::BadCredentials);
    };
    attempt.succeeded();
    if user.disabled {
        tracing::info!(username = ?username, "refused the login of a disabled user");
        return Err(ApiError::Forbidden(
            "this account is disabled; ask your administrator".into(),
        ));
    }
    Ok(user)
}

/// Revokes the token the request carries.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Token revoked"),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    state.store.revoke_session(&auth.token).await?;
    tracing::info!(username = ?auth.session.username, device_id = %auth.session.device_id, "logout");
    Ok(StatusCode::NO_CONTENT)
}
