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
    #[error(
        "{}: set FERRY_PASSPHRASE, or run ferry in a terminal to type it",
        if *.new { "no OS keyring answers here to keep this profile's key, so its data is to be encrypted with a passphrase you choose" }
        else { "this profile's data is encrypted with a passphrase" }
    )]
    PassphraseNeeded {
        /// No key exists yet: the passphrase is being chosen.
        new: bool,
    },
    #[error("that passphrase does not open this profile (nothing was changed); try again")]
    WrongPassphrase,
    #[error(
        "the key of this profile's data is kept in the OS keyring, which {detail}; unlock the keyring \
         (sign in to your desktop session) and try again — nothing was changed"
    )]
    KeyUnavailable { detail: String },
    #[error(
        "this profile belongs to {username} on {server}, and its unsent edits are theirs; \
         use another profile for {wanted} (ferry --profile DIR, or FERRY_PROFILE)"
    )]
    OtherAccount {
        username: String,
        server: String,
        wanted: String,
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
    #[error("{}", .why.message())]
    AuthFailed { why: AuthFailure },
    #[error("wrong username or password")]
    BadCredentials,
    #[error("cannot reach the server at {url}: {detail}")]
    Unreachable {
        url: String,
        detail: String,
        /// What failed, so a caller can place the message without reading it.
        kind: ConnectionFailure,
    },
    #[error("the server at {url} does not speak Ferry protocol v1: {detail}")]
    Incompatible { url: String, detail: String },
    #[error("the server answered {status}: {body}")]
    Server { status: u16, body: ErrorBody },
    /// The cursor is older than the history the server keeps: pull
    /// everything again (the sync engine does, keeping unsent edits).
    #[error(
        "the server no longer keeps the history since this device's last sync; everything is pulled again"
    )]
    CursorExpired,
    /// The server was restored from a backup since this device last saw it
    /// (a new epoch): what it acknowledged since is sent again.
    #[error(
        "the server was restored from a backup; this device sends again what the restore lost and pulls everything again"
    )]
    EpochChanged { epoch: Option<String> },
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
    /// An invalid value of one field (a local edit the schema refuses).
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error("{0}")]
    InvalidResolution(String),
    #[error("{path} is not an outbox export: {detail}")]
    BadExport { path: PathBuf, detail: String },
    /// A file to import that cannot be read as its format.
    #[error("{path}: {detail}")]
    BadFile { path: PathBuf, detail: String },
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

    /// The field an invalid value belongs to, when one is known.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// What failed on the way to the server, for an unreachable one.
    pub fn connection_failure(&self) -> Option<ConnectionFailure> {
        match self {
            Error::Unreachable { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether retrying later may help (network trouble), as opposed to an
    /// error the user must fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
            || matches!(self, Error::Server { status, .. } if *status >= 500 || *status == 429)
    }
}

/// Why a server could not be reached.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionFailure {
    /// The secure connection failed: an untrusted or mismatched certificate.
    Tls,
    /// Nothing listens at the address.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// No answer in time (or a silent event stream).
    Timeout,
    /// Anything else on the way (a reset connection, a broken body).
    Other,
}

impl ConnectionFailure {
    /// Classifies a transport error by the errors it wraps, not by its text.
    pub(crate) fn of(e: &reqwest::Error) -> ConnectionFailure {
        if e.is_timeout() {
            return ConnectionFailure::Timeout;
        }
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = next {
            if let Some(kind) = Self::of_one(err) {
                return kind;
            }
            next = err.source();
        }
        ConnectionFailure::Other
    }

    fn of_one(err: &(dyn std::error::Error + 'static)) -> Option<ConnectionFailure> {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return Some(ConnectionFailure::Tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // hyper-rustls wraps the TLS error in io::Errors whose `source`
            // skips it: look inside.
            if let Some(kind) = io.get_ref().and_then(|inner| Self::of_one(inner)) {
                return Some(kind);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Some(ConnectionFailure::Refused),
                std::io::ErrorKind::TimedOut => return Some(ConnectionFailure::Timeout),
                _ => {}
            }
        }
        // hyper-util's resolver error is a private type; its text is a
        // fixed constant ("dns error"), not a message for people.
        (err.to_string() == "dns error").then_some(ConnectionFailure::Dns)
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

/// Why the server no longer takes the saved sign-in (its 401's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// The token is unknown (signed out, or a new password).
    Rejected,
    /// `session_expired`: unused for longer than the server keeps sessions.
    Expired,
    /// `device_revoked`: signed out from another device or by an administrator.
    Revoked,
    /// `wipe`: an administrator asked this device to delete its local data.
    Wipe,
}

impl AuthFailure {
    /// From a 401's error code.
    pub fn of_code(code: &str) -> AuthFailure {
        match code {
            "session_expired" => AuthFailure::Expired,
            "device_revoked" => AuthFailure::Revoked,
            "wipe" => AuthFailure::Wipe,
            _ => AuthFailure::Rejected,
        }
    }

    /// The same for an app's window, which has no `ferry login`.
    pub fn in_app(self) -> &'static str {
        match self {
            AuthFailure::Rejected => {
                "The server no longer accepts this sign-in. Sign in again; your unsent changes are kept."
            }
            AuthFailure::Expired => {
                "Your session has expired. Sign in again; your unsent changes are kept and sent after."
            }
            AuthFailure::Revoked => {
                "This device was signed out, from another of your devices or by an administrator. Sign in again; your unsent changes are kept."
            }
            AuthFailure::Wipe => {
                "An administrator signed this device out and asked it to delete its local data."
            }
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Rejected => {
                "the server rejected the saved login (signed out or a new password); run `ferry login` again"
            }
            AuthFailure::Expired => {
                "the session expired (unused too long); run `ferry login` again: everything waiting here is kept and sent after"
            }
            AuthFailure::Revoked => {
                "this device was signed out (from another of your devices or by an administrator); run `ferry login` again: everything waiting here is kept"
            }
            AuthFailure::Wipe => {
                "an administrator signed this device out and asked it to delete its local data"
            }
        }
    }
}
