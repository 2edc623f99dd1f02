//! The one error type of the HTTP API: each case knows its status and code,
//! and answers in the protocol's `{"error":{"code","message"}}` shape.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_protocol::{ErrorBody, ErrorResponse};
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Malformed(String),
    #[error("missing or invalid bearer token; log in again")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    /// A session unused for longer than the server keeps them.
    #[error("your session has expired; sign in again (what waits on this device is kept)")]
    SessionExpired,
    /// A device signed out from another, or by an administrator.
    #[error("this device was signed out; sign in again")]
    DeviceRevoked,
    /// A device an administrator asked to delete its local data.
    #[error("an administrator signed this device out and asked it to delete its local data")]
    Wipe,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the request body did not arrive in time")]
    Timeout,
    #[error("{0}")]
    TooLarge(String),
    /// A push with more mutations of one record than the protocol allows.
    #[error("{0}")]
    TooManyVersions(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Invalid(String),
    /// The name is taken (a user, a team).
    #[error("{0}")]
    Exists(String),
    /// The change would leave no administrator who can sign in.
    #[error("{0}")]
    LastAdmin(String),
    /// A migration of the collection runs already.
    #[error("{0}")]
    MigrationRunning(String),
    /// A cookie-authenticated request without the console's `X-Ferry-CSRF` header.
    #[error("{0}")]
    Csrf(String),
    /// An upload chunk that does not start where the stored part ends.
    #[error("this upload continues at byte {offset}")]
    UploadOffset { offset: u64 },
    #[error("{0}")]
    HashMismatch(String),
    #[error("{0}")]
    BadRange(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("too many failed logins; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("too many logins at once; try again in {retry_after_s} s")]
    Busy { retry_after_s: u64 },
    /// A pull from a cursor older than the history the server keeps.
    #[error("{0}")]
    CursorExpired(String),
    /// A request made against an earlier epoch: the server was restored
    /// from a backup since (the message says when it was taken).
    #[error("{0}")]
    EpochChanged(String),
    #[error("the server's database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal server error")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated
            | ApiError::BadCredentials
            | ApiError::SessionExpired
            | ApiError::DeviceRevoked
            | ApiError::Wipe => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Csrf(_) => StatusCode::FORBIDDEN,
            ApiError::Exists(_) | ApiError::LastAdmin(_) | ApiError::MigrationRunning(_) => {
                StatusCode::CONFLICT
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge(_) | ApiError::TooManyVersions(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) | ApiError::HashMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UploadOffset { .. } => StatusCode::CONFLICT,
            ApiError::BadRange(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy { .. } | ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::CursorExpired(_) | ApiError::EpochChanged(_) => StatusCode::GONE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed_request",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::SessionExpired => "session_expired",
            ApiError::DeviceRevoked => "device_revoked",
            ApiError::Wipe => "wipe",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Timeout => "timeout",
            ApiError::TooLarge(_) => "too_large",
            ApiError::TooManyVersions(_) => "too_many_versions",
            ApiError::CursorExpired(_) => "cursor_expired",
            ApiError::EpochChanged(_) => "epoch_changed",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Invalid(_) => "invalid",
            ApiError::Exists(_) => "exists",
            ApiError::LastAdmin(_) => "last_admin",
            ApiError::Csrf(_) => "csrf",
            ApiError::MigrationRunning(_) => "migration_running",
            ApiError::UploadOffset { .. } => "upload_offset",
            ApiError::HashMismatch(_) => "hash_mismatch",
            ApiError::BadRange(_) => "range_not_satisfiable",
            ApiError::QuotaExceeded(_) => "quota_exceeded",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Busy { .. } => "busy",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
        }
    }

    pub fn body(&self) -> ErrorResponse {
        ErrorResponse {
            error: ErrorBody {
                request_id: crate::request_id::current(),
                ..ErrorBody::new(self.code(), self.to_string())
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        match self {
            ApiError::RateLimited { retry_after_s } | ApiError::Busy { retry_after_s } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            }
            ApiError::UploadOffset { offset } => {
                response
                    .headers_mut()
                    .insert(crate::api::UPLOAD_OFFSET, HeaderValue::from(offset));
            }
            ApiError::Unauthenticated
            | ApiError::BadCredentials
            | ApiError::SessionExpired
            | ApiError::DeviceRevoked
            | ApiError::Wipe => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(msg) => {
                tracing::warn!(error = ?msg, "database unavailable");
                ApiError::Unavailable
            }
            StoreError::Exists(msg) | StoreError::NotFound(msg) | StoreError::Invalid(msg) => {
                ApiError::Invalid(msg)
            }
            StoreError::LastAdmin(msg) => ApiError::LastAdmin(msg),
            e @ StoreError::CursorExpired(_) => ApiError::CursorExpired(e.to_string()),
            StoreError::Internal(msg) => {
                tracing::error!(error = ?msg, "store error");
                ApiError::Internal
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge("request body is too large".into()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ),
            _ => ApiError::Malformed(r.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::Malformed(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::Malformed(r.body_text())
    }
}

/// `Json` whose rejections answer in the protocol's error shape.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

pub type ApiResult<T> = Result<AppJson<T>, ApiError>;
