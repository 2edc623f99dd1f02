//! Core errors as the desktop shows them: a kind for placing the message and
//! a sentence that speaks of the app, not of the command line.

use ferry_core::Error;

use crate::types::{CommandError, ErrorKind};

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CommandError {
            kind,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::Internal, message)
    }
}

/// Whether a transport failure came from TLS (an untrusted or wrong certificate).
fn is_tls(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "invalid peer",
    ]
    .iter()
    .any(|w| d.contains(w))
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        use ErrorKind as K;
        let (kind, message) = match &e {
            Error::Corrupt { path, .. } => (
                K::Damaged,
                format!(
                    "The local database {} is damaged. Ferry can set it aside and rebuild it from the server; unsent changes are saved first.",
                    path.display()
                ),
            ),
            Error::Locked { path } => (
                K::Locked,
                format!(
                    "The local database {} is in use by another Ferry. Close it and try again.",
                    path.display()
                ),
            ),
            Error::DiskFull { path } => (
                K::DiskFull,
                format!(
                    "The disk holding {} is full. Free some space and try again; nothing was lost.",
                    path.display()
                ),
            ),
            Error::TooNew { .. } => (
                K::Damaged,
                "This profile was written by a newer Ferry. Update Ferry to open it.".into(),
            ),
            Error::NotLoggedIn => (K::NotSignedIn, "You are not signed in.".into()),
            Error::WorkingOffline => (
                K::Offline,
                "You are working offline. Go online to reach the server.".into(),
            ),
            Error::AuthFailed => (
                K::SessionExpired,
                "The server no longer accepts this sign-in. Sign in again; your unsent changes are kept."
                    .into(),
            ),
            Error::BadCredentials => (K::BadCredentials, "Wrong username or password.".into()),
            Error::Unreachable { url, detail } if is_tls(detail) => (
                K::Tls,
                format!(
                    "The secure connection to {url} failed: its certificate is not trusted or does not match ({detail})."
                ),
            ),
            Error::Unreachable { url, .. } => (
                K::Unreachable,
                format!("Cannot reach the server at {url}. Check the address and your network."),
            ),
            Error::Incompatible { url, .. } => (
                K::Incompatible,
                format!(
                    "{url} is not a Ferry server this app can talk to (it does not speak protocol v1)."
                ),
            ),
            Error::Server { status, body } => (
                K::Server,
                format!("The server could not do this ({status}): {}", body.message),
            ),
            Error::BadUrl(url) => (
                K::Invalid,
                format!("\"{url}\" is not a server address. Use one like http://127.0.0.1:8787."),
            ),
            Error::UnknownCollection(name) => {
                (K::NotFound, format!("There is no collection \"{name}\"."))
            }
            Error::ReadOnly(name) => (
                K::ReadOnly,
                format!("You may only read \"{name}\"; ask an administrator for write access."),
            ),
            Error::UnknownRecord { .. } => (K::NotFound, "This record no longer exists.".into()),
            Error::RecordDeleted { .. } => (K::NotFound, "This record was deleted.".into()),
            Error::InConflict { .. } => (
                K::InConflict,
                "This record has a conflict. Resolve it before editing.".into(),
            ),
            Error::NoConflict { .. } => (
                K::NotFound,
                "This conflict was already resolved.".into(),
            ),
            Error::InvalidValue(m) | Error::InvalidResolution(m) => (K::Invalid, capitalise(m)),
            _ => (K::Internal, capitalise(&e.to_string())),
        };
        CommandError { kind, message }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_told_apart_from_an_unreachable_server() {
        let tls: CommandError = Error::Unreachable {
            url: "https://x".into(),
            detail: "error sending request: invalid peer certificate: UnknownIssuer".into(),
        }
        .into();
        assert_eq!(tls.kind, ErrorKind::Tls);
        let down: CommandError = Error::Unreachable {
            url: "http://x".into(),
            detail: "connection refused".into(),
        }
        .into();
        assert_eq!(down.kind, ErrorKind::Unreachable);
        assert!(down.message.starts_with("Cannot reach"));
    }

    #[test]
    fn messages_speak_of_the_app_not_the_cli() {
        for e in [Error::NotLoggedIn, Error::WorkingOffline, Error::AuthFailed] {
            let m = CommandError::from(e).message;
            assert!(!m.contains("ferry "), "{m}");
        }
        let m = CommandError::from(Error::InvalidValue("field \"due\" must be a date".into()));
        assert_eq!(m.kind, ErrorKind::Invalid);
        assert!(m.message.starts_with("Field"));
    }
}
