//! One error type for the client core; every variant reads as a sentence a
//! user can act on.

use std::path::PathBuf;

use ferry_protocol::ErrorBody;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the local database {path} is damaged ({detail}); run `ferry sync --recover` to set it aside, save its unsent \
         edits to a file and rebuild it from the server"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the local database {path} is locked: another Ferry (the app or a `ferry` command) is using this profile; \
         close it or let it finish, then try again"
    )]
    Locked { path: PathBuf },
    #[error(
        "the disk holding the local database {path} is full; free some space and try again \
         (the change that failed was not saved)"
    )]
    DiskFull { path: PathBuf },
    #[error(
        "the local database {path} cannot be written (a read-only file, folder or disk); \
         give your user write access to it and its folder, then try again \
         (your unsent changes are still in it)"
    )]
    ReadOnlyDatabase { path: PathBuf },
    #[error(
        "the local database {path} was written by a newer Ferry (schema version {found}, this one knows {known}); update Ferry"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("local database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not logged in; run `ferry login SERVER_URL USERNAME` first")]
    NotLoggedIn,
    #[error("working offline; run `ferry online` to allow network traffic again")]
    WorkingOffline,
    #[error(
        "the server rejected the saved login (token expired or revoked); run `ferry login` again"
    )]
    AuthFailed,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("cannot reach the server at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the server at {url} does not speak Ferry protocol v1: {detail}")]
    Incompatible { url: String, detail: String },
    #[error("the server answered {status}: {body}")]
    Server { status: u16, body: ErrorBody },
    #[error("invalid server URL {0:?}: give e.g. http://127.0.0.1:8787")]
    BadUrl(String),
    #[error("there is no collection \"{0}\" (run `ferry sync` to refresh the schema)")]
    UnknownCollection(String),
    #[error("you may only read collection \"{0}\"")]
    ReadOnly(String),
    #[error("no record {id} in collection \"{collection}\"")]
    UnknownRecord { collection: String, id: String },
    #[error("record {id} in \"{collection}\" was deleted")]
    RecordDeleted { collection: String, id: String },
    #[error(
        "record {id} in \"{collection}\" has a conflict; resolve it first with `ferry resolve`"
    )]
    InConflict { collection: String, id: String },
    #[error("no conflict for record {id} in \"{collection}\"")]
    NoConflict { collection: String, id: String },
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    InvalidResolution(String),
    #[error("{path} is not an outbox export: {detail}")]
    BadExport { path: PathBuf, detail: String },
    #[error("the local data is inconsistent: {0}")]
    Inconsistent(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying later may help (network trouble), as opposed to an
    /// error the user must fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
            || matches!(self, Error::Server { status, .. } if *status >= 500 || *status == 429)
    }
}

/// Turns SQLite's low-level failures into the errors that name the file and the way out.
pub(crate) fn classify(path: &std::path::Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Error::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Locked { path },
        Some(ErrorCode::DiskFull) => Error::DiskFull { path },
        Some(ErrorCode::ReadOnly) => Error::ReadOnlyDatabase { path },
        _ => Error::Database(e),
    }
}
